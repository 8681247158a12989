//! What the assistant's tests share: the sample agent in a folder of its
//! own, opened with the shipped models and short, greedy answers.

#![allow(dead_code)] // each test file uses its own part

use parallax_assistant::llm::Params;
use parallax_assistant::{models_dir, Agent, Assistant};
use std::path::{Path, PathBuf};

/// A copy of the sample agent (its file, catalogue and content) in a
/// fresh folder; returns the agent file.
pub fn sample(tag: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/nova");
    let dir = std::env::temp_dir().join(format!("px-assistant-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("content")).unwrap();
    for f in ["nova.toml", "products.toml"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    for e in std::fs::read_dir(src.join("content")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join("content").join(p.file_name().unwrap())).unwrap();
    }
    dir.join("nova.toml")
}

/// The agent with the shipped models, answers of at most `max_tokens`
/// (short answers keep the tests quick; greedy decoding keeps them
/// stable).
pub fn open(agent: &Path, max_tokens: usize) -> Assistant {
    let mut a = Assistant::open(Agent::read(agent).unwrap(), &models_dir(), None)
        .expect("run ./scripts/fetch-assistant-models.sh");
    a.params = Params {
        max_tokens,
        ..Params::default()
    };
    a
}
