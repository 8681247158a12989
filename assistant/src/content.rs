//! A creator's content, read and cut into chunks for retrieval.
//!
//! Markdown (`.md`), text (`.txt`) and HTML (`.html`, `.htm`) files of the
//! content folder and its subfolders are read (other files are listed as
//! skipped). HTML is reduced to its text, its headings kept as Markdown
//! headings. Each section (the text under a heading) is cut into chunks of
//! whole paragraphs, at most [`MAX_WORDS`] words each (a longer paragraph
//! is cut between sentences), and every chunk keeps its heading: a chunk
//! says where it comes from, and a citation can name it.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Words per chunk at most (about 200 tokens: within what the embedding
/// model reads, and small enough to cite precisely).
pub const MAX_WORDS: usize = 140;
/// Files larger than this are refused (a content folder holds documents,
/// not data dumps).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// One piece of content.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// The headings above it, outermost first, joined by " > ".
    pub heading: String,
    pub text: String,
}

/// A content file: its path relative to the folder, and on disk.
pub type ContentFile = (String, PathBuf);

/// The files of a content folder, sorted, of every readable kind; and
/// those skipped.
pub fn files(dir: &Path) -> Result<(Vec<ContentFile>, Vec<PathBuf>)> {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::Io {
            path: d.display().to_string(),
            source: e,
        })?;
        for e in entries {
            let p = e
                .map_err(|e| Error::Io {
                    path: d.display().to_string(),
                    source: e,
                })?
                .path();
            if p.is_dir() {
                stack.push(p);
            } else if kind(&p).is_some() {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                found.push((rel, p));
            } else {
                skipped.push(p);
            }
        }
    }
    found.sort();
    skipped.sort();
    Ok((found, skipped))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Markdown,
    Html,
    Pdf,
}

fn kind(p: &Path) -> Option<Kind> {
    match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "md" | "markdown" | "txt" => Some(Kind::Markdown),
        "html" | "htm" => Some(Kind::Html),
        "pdf" => Some(Kind::Pdf),
        _ => None,
    }
}

/// Reads a content file: its text, refused when empty, binary, not UTF-8
/// or too large.
pub fn read(path: &Path) -> Result<String> {
    let err = |msg: String| Error::Content {
        path: path.display().to_string(),
        msg,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(err(format!(
            "{} bytes: larger than the {} MiB a content file may be",
            meta.len(),
            MAX_FILE_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if kind(path) == Some(Kind::Pdf) {
        return pdf_to_markdown(&bytes).map_err(err);
    }
    if bytes.contains(&0) {
        return Err(err("binary data (NUL bytes), not text".into()));
    }
    let text = String::from_utf8(bytes).map_err(|_| err("not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(err("empty".into()));
    }
    Ok(match kind(path) {
        Some(Kind::Html) => html_to_markdown(&text),
        _ => text,
    })
}

/// A PDF's text, a `## Page N` section per page (the chunks then cite the
/// page). `pdf-extract` reads the text with each font's encoding; it
/// panics on some malformed files, so a panic is caught and reported as
/// the file's error (nothing else of the store is touched).
fn pdf_to_markdown(bytes: &[u8]) -> std::result::Result<String, String> {
    if !bytes.starts_with(b"%PDF-") {
        return Err("not a PDF (no %PDF- header)".into());
    }
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| "the PDF could not be read (malformed)".to_string())?
        .map_err(|e| format!("the PDF could not be read: {e}"))?;
    let mut out = String::new();
    for (i, page) in pages.iter().enumerate() {
        // Lines as the PDF laid them out; paragraphs where it left blank
        // lines.
        let text = page.lines().map(str::trim).collect::<Vec<_>>().join("\n");
        if text.trim().is_empty() {
            continue;
        }
        out.push_str(&format!("## Page {}\n\n{}\n\n", i + 1, text.trim()));
    }
    if out.is_empty() {
        return Err("no text in the PDF (scanned pages need OCR, which is not here)".into());
    }
    Ok(out)
}

/// The chunks of a text (Markdown, or HTML already reduced to it).
pub fn chunks(text: &str) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut section = String::new();
    let flush = |section: &mut String, headings: &[(usize, String)], out: &mut Vec<Chunk>| {
        let heading = headings
            .iter()
            .map(|(_, h)| h.as_str())
            .collect::<Vec<_>>()
            .join(" > ");
        for text in split_section(section) {
            out.push(Chunk {
                heading: heading.clone(),
                text,
            });
        }
        section.clear();
    };
    for line in text.lines() {
        let t = line.trim_start();
        let level = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) && t[level..].starts_with(' ') {
            flush(&mut section, &headings, &mut out);
            headings.retain(|(l, _)| *l < level);
            headings.push((level, t[level..].trim().to_string()));
        } else {
            section.push_str(line);
            section.push('\n');
        }
    }
    flush(&mut section, &headings, &mut out);
    out
}

/// Whole paragraphs, gathered up to [`MAX_WORDS`] words; a longer
/// paragraph is cut between sentences (and a sentence longer than that
/// between words).
fn split_section(section: &str) -> Vec<String> {
    let paragraphs: Vec<String> = section
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect();
    let mut pieces = Vec::new();
    for p in paragraphs {
        if words(&p) <= MAX_WORDS {
            pieces.push(p);
            continue;
        }
        let mut cur = String::new();
        for s in sentences(&p) {
            let mut s = s.to_string();
            while words(&s) > MAX_WORDS {
                let head: Vec<&str> = s.split_whitespace().take(MAX_WORDS).collect();
                let head = head.join(" ");
                let rest = s
                    .split_whitespace()
                    .skip(MAX_WORDS)
                    .collect::<Vec<_>>()
                    .join(" ");
                if !cur.is_empty() {
                    pieces.push(std::mem::take(&mut cur));
                }
                pieces.push(head);
                s = rest;
            }
            if words(&cur) + words(&s) > MAX_WORDS && !cur.is_empty() {
                pieces.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(&s);
        }
        if !cur.is_empty() {
            pieces.push(cur);
        }
    }
    // Gather short paragraphs.
    let mut out: Vec<String> = Vec::new();
    for p in pieces {
        match out.last_mut() {
            Some(last) if words(last) + words(&p) <= MAX_WORDS => {
                last.push_str("\n\n");
                last.push_str(&p);
            }
            _ => out.push(p),
        }
    }
    out
}

fn words(s: &str) -> usize {
    s.split_whitespace().count()
}

/// The sentences of a paragraph (cut after `.`, `!` or `?` and a space).
pub fn sentences(p: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = p.as_bytes();
    for i in 0..b.len() {
        if matches!(b[i], b'.' | b'!' | b'?') && b.get(i + 1).is_none_or(|c| *c == b' ') {
            let s = p[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let s = p[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// HTML reduced to Markdown-ish text: scripts, styles and comments
/// dropped, headings as `#` lines, block elements as paragraph breaks,
/// other tags removed, the common entities decoded.
pub fn html_to_markdown(html: &str) -> String {
    use std::sync::OnceLock;
    static RE: OnceLock<[regex::Regex; 5]> = OnceLock::new();
    let [drop, heading, block, tag, space] = RE.get_or_init(|| {
        [
            regex::Regex::new(r"(?is)<!--.*?-->|<(script|style|noscript|template)\b.*?</(script|style|noscript|template)\s*>")
                .expect("a valid pattern"),
            regex::Regex::new(r"(?is)<h([1-6])\b[^>]*>(.*?)</h[1-6]\s*>").expect("a valid pattern"),
            regex::Regex::new(r"(?i)</?(p|div|section|article|li|ul|ol|br|tr|table|header|footer|main|nav|blockquote|pre)\b[^>]*>")
                .expect("a valid pattern"),
            regex::Regex::new(r"(?s)<[^>]*>").expect("a valid pattern"),
            regex::Regex::new(r"\n\s*\n[\s\n]*").expect("a valid pattern"),
        ]
    });
    let s = drop.replace_all(html, " ");
    let s = heading.replace_all(&s, |c: &regex::Captures| {
        let level: usize = c[1].parse().unwrap_or(1);
        let text = tag.replace_all(&c[2], " ");
        format!(
            "\n\n{} {}\n\n",
            "#".repeat(level),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    });
    let s = block.replace_all(&s, "\n\n");
    let s = tag.replace_all(&s, " ");
    let s = s
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    let lines: Vec<String> = s
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    space
        .replace_all(&lines.join("\n"), "\n\n")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_their_headings_and_size() {
        let long: String = (0..60)
            .map(|i| format!("Sentence number {i} is here. "))
            .collect();
        let md = format!("# Shop\n\nWe sell tents.\n\n## Hours\n\nOpen 9 to 5.\n\nClosed Sundays.\n\n## Long\n\n{long}\n");
        let c = chunks(&md);
        assert_eq!(c[0].heading, "Shop");
        assert_eq!(c[0].text, "We sell tents.");
        assert_eq!(c[1].heading, "Shop > Hours");
        assert_eq!(c[1].text, "Open 9 to 5.\n\nClosed Sundays.");
        let long_chunks: Vec<_> = c.iter().filter(|c| c.heading == "Shop > Long").collect();
        assert!(long_chunks.len() >= 2);
        assert!(long_chunks.iter().all(|c| words(&c.text) <= MAX_WORDS));
        assert!(
            long_chunks.iter().all(|c| c.text.ends_with('.')),
            "cut between sentences"
        );
    }

    #[test]
    fn html_becomes_text_with_headings() {
        let html = "<html><head><style>p{color:red}</style><script>alert(1)</script></head>\
                    <body><h1>Rentals</h1><p>Kayaks cost 40&nbsp;EUR a day.</p><!-- hidden --><ul><li>Life vests &amp; paddles included</li></ul></body></html>";
        let md = html_to_markdown(html);
        assert!(md.starts_with("# Rentals"), "{md}");
        assert!(md.contains("Kayaks cost 40 EUR a day."));
        assert!(md.contains("Life vests & paddles included"));
        assert!(!md.contains("alert") && !md.contains("color") && !md.contains("hidden"));
        let c = chunks(&md);
        assert_eq!(c[0].heading, "Rentals");
    }

    #[test]
    fn pdf_pages_become_sections_and_bad_pdfs_are_refused() {
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample/nova/content/club.pdf");
        let md = read(Path::new(sample)).unwrap();
        let c = chunks(&md);
        assert_eq!(c[0].heading, "Page 1");
        assert!(c[0].text.contains("300 NOK a year"), "{md}");
        assert!(c
            .iter()
            .any(|c| c.heading == "Page 2" && c.text.contains("Saturdays in June")));
        let dir = std::env::temp_dir().join(format!("px-pdf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = std::fs::read(sample).unwrap();
        for (name, data) in [
            ("cut.pdf", bytes[..bytes.len() / 2].to_vec()),
            ("junk.pdf", b"%PDF-1.4\n\x00\x01 garbage".to_vec()),
            ("fake.pdf", b"hello".to_vec()),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            let e = read(&p).unwrap_err().to_string();
            assert!(e.contains(name) && e.contains("PDF"), "{name}: {e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn empty_and_binary_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("px-content-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.md");
        std::fs::write(&empty, "  \n").unwrap();
        assert!(read(&empty).unwrap_err().to_string().contains("empty"));
        let bin = dir.join("bin.txt");
        std::fs::write(&bin, [0x50u8, 0x4b, 0, 3, 0xff]).unwrap();
        assert!(read(&bin).unwrap_err().to_string().contains("binary"));
        let latin = dir.join("latin.txt");
        std::fs::write(&latin, [b'c', b'a', b'f', 0xe9]).unwrap();
        assert!(read(&latin).unwrap_err().to_string().contains("UTF-8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
