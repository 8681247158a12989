//! The agent definition a creator writes: a TOML file beside (or above)
//! its content folder.
//!
//! ```toml
//! name = "Nova"
//! persona = "You are Nova, the assistant of Nova Outfitters, an outdoor gear shop in Bergen."
//! greeting = "Hi, I'm Nova. Ask me about our gear, rentals and trips."
//! content = "content"        # folder, relative to this file
//!
//! [rules]
//! tone = "friendly and brief"
//! avoid_topics = ["politics and elections", "medical diagnoses and treatment"]
//! never_say = ["guaranteed", "lifetime warranty"]
//! refusal = "Sorry, I can't help with that. I'm happy to answer questions about Nova Outfitters."
//!
//! [tools]                    # optional: see crate::tools
//! products = "products.toml"
//! ```
//!
//! Every field is checked when the file is read: an agent with an unknown
//! key, an empty persona or a content folder that does not exist is
//! refused with the field named.

use crate::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The creator's rules.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// How the agent speaks.
    #[serde(default)]
    pub tone: String,
    /// Topics the agent declines, each described in a few words (matched
    /// by meaning, not only by word).
    #[serde(default)]
    pub avoid_topics: Vec<String>,
    /// Words or phrases that must never appear in an answer.
    #[serde(default)]
    pub never_say: Vec<String>,
    /// What the agent says when it declines.
    #[serde(default)]
    pub refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    persona: String,
    #[serde(default)]
    greeting: String,
    #[serde(default = "default_content")]
    content: PathBuf,
    #[serde(default)]
    rules: Rules,
    #[serde(default)]
    tools: crate::tools::ToolsSpec,
}

fn default_content() -> PathBuf {
    PathBuf::from("content")
}

/// A checked agent definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Agent {
    pub name: String,
    pub persona: String,
    pub greeting: String,
    /// The content folder (absolute, or relative to the working folder).
    pub content: PathBuf,
    pub rules: Rules,
    /// The tools it may call (paths relative to [`Agent::dir`]).
    pub tools: crate::tools::ToolsSpec,
    /// The agent file's folder.
    pub dir: PathBuf,
    /// Where the agent's store lives: `<agent file stem>.db` beside it.
    pub store: PathBuf,
}

/// The refusal used when the creator wrote none.
pub const DEFAULT_REFUSAL: &str = "Sorry, I can't help with that.";

impl Agent {
    /// Reads and checks an agent file.
    pub fn read(path: &Path) -> Result<Agent> {
        let err = |msg: String| Error::Agent {
            path: path.display().to_string(),
            msg,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let f: File = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        if f.name.trim().is_empty() {
            return Err(err("name is empty".into()));
        }
        if f.persona.trim().is_empty() {
            return Err(err("persona is empty: say who the agent is".into()));
        }
        let too_long = |what: &str, s: &str| {
            (s.len() > 4000).then(|| err(format!("{what} is over 4000 characters")))
        };
        if let Some(e) = too_long("persona", &f.persona).or(too_long("greeting", &f.greeting)) {
            return Err(e);
        }
        for (what, list) in [
            ("rules.avoid_topics", &f.rules.avoid_topics),
            ("rules.never_say", &f.rules.never_say),
        ] {
            if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
                return Err(err(format!("{what}[{i}] is empty")));
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let content = dir.join(&f.content);
        if !content.is_dir() {
            return Err(err(format!(
                "content folder {} does not exist",
                content.display()
            )));
        }
        for (i, l) in f.tools.links.iter().enumerate() {
            if l.title.trim().is_empty() || l.url.trim().is_empty() || l.about.is_empty() {
                return Err(err(format!(
                    "tools.links[{i}] needs a title, a url and what it is about"
                )));
            }
        }
        if let Some(p) = &f.tools.products {
            crate::tools::read_catalogue(&dir.join(p)).map_err(|e| err(e.to_string()))?;
        }
        let stem = path
            .file_stem()
            .map_or_else(|| "agent".into(), |s| s.to_string_lossy().into_owned());
        Ok(Agent {
            name: f.name,
            persona: f.persona,
            greeting: f.greeting,
            content,
            rules: f.rules,
            tools: f.tools,
            dir: dir.to_path_buf(),
            store: dir.join(format!("{stem}.db")),
        })
    }

    /// What the agent says when it declines.
    pub fn refusal(&self) -> &str {
        self.rules.refusal.as_deref().unwrap_or(DEFAULT_REFUSAL)
    }

    /// A new agent's file and an example content folder, for
    /// `parallax assistant new` (refuses to overwrite anything).
    pub fn scaffold(path: &Path, name: &str) -> Result<()> {
        let err = |msg: String| Error::Agent {
            path: path.display().to_string(),
            msg,
        };
        if path.exists() {
            return Err(err("already exists".into()));
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let content = dir.join("content");
        std::fs::create_dir_all(&content).map_err(|e| err(e.to_string()))?;
        let about = content.join("about.md");
        if !about.exists() {
            std::fs::write(
                &about,
                format!(
                    "# About {name}\n\nWrite what your agent should know here: products, \
                     opening hours, prices, how to reach you. Markdown, text, HTML and \
                     PDF files in this folder are read by `parallax assistant ingest`.\n"
                ),
            )
            .map_err(|e| err(e.to_string()))?;
        }
        let file = format!(
            "name = {name:?}\n\
             persona = \"You are {name}, a friendly assistant. Answer from the content you are given.\"\n\
             greeting = \"Hi, I'm {name}. What would you like to know?\"\n\
             content = \"content\"\n\
             \n\
             [rules]\n\
             tone = \"friendly and brief\"\n\
             avoid_topics = [\"politics and elections\", \"medical diagnoses and treatment\"]\n\
             never_say = []\n\
             refusal = \"Sorry, I can't help with that.\"\n"
        );
        std::fs::write(path, file).map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}
