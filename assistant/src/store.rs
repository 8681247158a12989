//! The agent's store: one SQLite database (beside the agent file) with its
//! content's chunks and their embeddings, what each user asked it to
//! remember, and the log of refusals.
//!
//! Ingestion is incremental: a document is stored with its content's
//! SHA-256, and re-read only when that changes; replacing a document's
//! chunks is one transaction, so an interrupted ingest leaves the old
//! chunks or the new ones, never a mix. Retrieval scores every chunk (a
//! dot product of unit vectors): a creator's content is thousands of
//! chunks at most, a few milliseconds of arithmetic, with no index to keep
//! in step.

use crate::content::Chunk;
use crate::embed::similarity;
use crate::Result;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const SCHEMA_VERSION: &str = "1";

/// A stored chunk.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredChunk {
    pub id: i64,
    /// The document's path in the content folder.
    pub document: String,
    pub heading: String,
    pub text: String,
}

/// A remembered fact about a user.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    pub id: i64,
    pub text: String,
}

/// A logged refusal.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    pub at: i64,
    pub user: String,
    pub question: String,
    pub reason: String,
}

/// An open store.
pub struct Store {
    conn: Connection,
    dim: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dim", &self.dim).finish()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_blob(b: &[u8], dim: usize) -> rusqlite::Result<Vec<f32>> {
    if b.len() != dim * 4 {
        return Err(rusqlite::Error::InvalidColumnType(
            0,
            format!("an embedding of {} bytes, not {}", b.len(), dim * 4),
            rusqlite::types::Type::Blob,
        ));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Store {
    /// Opens (or makes) the store at `path` for embeddings of `embedder`
    /// with `dim` numbers; a store made with another embedder is refused
    /// (its vectors would not compare).
    pub fn open(path: &Path, embedder: &str, dim: usize) -> Result<Store> {
        let conn = Connection::open(path)?;
        Self::init(conn, embedder, dim)
    }

    /// A store in memory (tests, one-off use).
    pub fn in_memory(embedder: &str, dim: usize) -> Result<Store> {
        Self::init(Connection::open_in_memory()?, embedder, dim)
    }

    fn init(conn: Connection, embedder: &str, dim: usize) -> Result<Store> {
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS documents(
                 id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE,
                 sha256 TEXT NOT NULL, ingested_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS chunks(
                 id INTEGER PRIMARY KEY,
                 document INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
                 ord INTEGER NOT NULL, heading TEXT NOT NULL, text TEXT NOT NULL,
                 embedding BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS memories(
                 id INTEGER PRIMARY KEY, user TEXT NOT NULL, at INTEGER NOT NULL,
                 text TEXT NOT NULL, embedding BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS refusals(
                 id INTEGER PRIMARY KEY, at INTEGER NOT NULL, user TEXT NOT NULL,
                 question TEXT NOT NULL, reason TEXT NOT NULL);",
        )?;
        let get = |k: &str| -> rusqlite::Result<Option<String>> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [k], |r| r.get(0))
                .optional()
        };
        let want = [
            ("schema", SCHEMA_VERSION.to_string()),
            ("embedder", embedder.to_string()),
            ("dim", dim.to_string()),
        ];
        for (k, v) in &want {
            match get(k)? {
                None => {
                    conn.execute(
                        "INSERT INTO meta(key, value) VALUES (?1, ?2)",
                        params![k, v],
                    )?;
                }
                Some(have) if have != *v => {
                    return Err(crate::Error::Content {
                        path: conn.path().unwrap_or("(memory)").to_string(),
                        msg: format!(
                            "the store was made with {k} {have}, not {v}: remove it and ingest again"
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(Store { conn, dim })
    }

    /// The SHA-256 a document was stored with, if it is stored.
    pub fn document_hash(&self, path: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT sha256 FROM documents WHERE path = ?1",
                [path],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Replaces a document's chunks (one transaction).
    pub fn replace_document(
        &mut self,
        path: &str,
        sha256: &str,
        chunks: &[(Chunk, Vec<f32>)],
    ) -> Result<()> {
        if let Some((_, e)) = chunks.iter().find(|(_, e)| e.len() != self.dim) {
            return Err(crate::Error::Content {
                path: path.into(),
                msg: format!("an embedding of {} numbers, not {}", e.len(), self.dim),
            });
        }
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM documents WHERE path = ?1", [path])?;
        tx.execute(
            "INSERT INTO documents(path, sha256, ingested_at) VALUES (?1, ?2, ?3)",
            params![path, sha256, now()],
        )?;
        let doc = tx.last_insert_rowid();
        {
            let mut ins = tx.prepare(
                "INSERT INTO chunks(document, ord, heading, text, embedding) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (i, (c, e)) in chunks.iter().enumerate() {
                ins.execute(params![doc, i as i64, c.heading, c.text, to_blob(e)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes the documents not in `keep` (deleted from the content
    /// folder); returns how many.
    pub fn remove_other_documents(&mut self, keep: &[String]) -> Result<usize> {
        let stored: Vec<String> = {
            let mut q = self.conn.prepare("SELECT path FROM documents")?;
            let rows = q.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for p in stored.iter().filter(|p| !keep.contains(p)) {
            n += tx.execute("DELETE FROM documents WHERE path = ?1", [p])?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Documents and chunks stored.
    pub fn counts(&self) -> Result<(usize, usize)> {
        let d: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))?;
        let c: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM chunks", [], |r| r.get(0))?;
        Ok((d as usize, c as usize))
    }

    /// The `k` chunks most like `query`, best first, with their cosine
    /// similarity.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<(StoredChunk, f32)>> {
        let mut q = self.conn.prepare(
            "SELECT c.id, d.path, c.heading, c.text, c.embedding
             FROM chunks c JOIN documents d ON d.id = c.document",
        )?;
        let dim = self.dim;
        let rows = q.query_map([], |r| {
            let e: Vec<u8> = r.get(4)?;
            Ok((
                StoredChunk {
                    id: r.get(0)?,
                    document: r.get(1)?,
                    heading: r.get(2)?,
                    text: r.get(3)?,
                },
                from_blob(&e, dim)?,
            ))
        })?;
        let mut scored = Vec::new();
        for row in rows {
            let (c, e) = row?;
            scored.push((c, similarity(query, &e)));
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.id.cmp(&b.0.id)));
        scored.truncate(k);
        Ok(scored)
    }

    /// Remembers a fact about `user`.
    pub fn remember(&mut self, user: &str, text: &str, embedding: &[f32]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO memories(user, at, text, embedding) VALUES (?1, ?2, ?3, ?4)",
            params![user, now(), text, to_blob(embedding)],
        )?;
        Ok(())
    }

    /// The `k` memories of `user` most like `query`, with their similarity.
    pub fn recall(&self, user: &str, query: &[f32], k: usize) -> Result<Vec<(Memory, f32)>> {
        let mut q = self
            .conn
            .prepare("SELECT id, text, embedding FROM memories WHERE user = ?1")?;
        let dim = self.dim;
        let rows = q.query_map([user], |r| {
            let e: Vec<u8> = r.get(2)?;
            Ok((
                Memory {
                    id: r.get(0)?,
                    text: r.get(1)?,
                },
                from_blob(&e, dim)?,
            ))
        })?;
        let mut scored = Vec::new();
        for row in rows {
            let (m, e) = row?;
            scored.push((m, similarity(query, &e)));
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.id.cmp(&a.0.id)));
        scored.truncate(k);
        Ok(scored)
    }

    /// Forgets everything about `user`; returns how many memories went.
    pub fn forget(&mut self, user: &str) -> Result<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM memories WHERE user = ?1", [user])?)
    }

    /// Logs a refusal with its reason.
    pub fn log_refusal(&mut self, user: &str, question: &str, reason: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO refusals(at, user, question, reason) VALUES (?1, ?2, ?3, ?4)",
            params![now(), user, question, reason],
        )?;
        Ok(())
    }

    /// The refusals logged, oldest first.
    pub fn refusals(&self) -> Result<Vec<Refusal>> {
        let mut q = self
            .conn
            .prepare("SELECT at, user, question, reason FROM refusals ORDER BY id")?;
        let rows = q.query_map([], |r| {
            Ok(Refusal {
                at: r.get(0)?,
                user: r.get(1)?,
                question: r.get(2)?,
                reason: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
