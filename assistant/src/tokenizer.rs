//! The tokenizer of a GGUF model, rebuilt from its metadata: GGUF files
//! carry the vocabulary, merges and special tokens
//! (`tokenizer.ggml.*`), so no separate tokenizer file is needed. The
//! metadata is written out as a `tokenizers` JSON description (byte-level
//! BPE, digits split one by one as SmolLM2's tokenizer does) and loaded by
//! the `tokenizers` crate, which does the encoding.

use crate::{Error, Result};
use candle_core::quantized::gguf_file::{Content, Value};

/// The parts of a GGUF tokenizer the model needs besides the encoder.
pub struct GgufTokenizer {
    pub tokenizer: tokenizers::Tokenizer,
    /// Tokens that end a turn or the text.
    pub eos: Vec<u32>,
}

fn strings(c: &Content, key: &str) -> Result<Vec<String>> {
    match c.metadata.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(Error::Tokenizer(format!("{key} holds a non-string"))),
            })
            .collect(),
        _ => Err(Error::Tokenizer(format!("the GGUF has no {key}"))),
    }
}

fn u32_of(c: &Content, key: &str) -> Option<u32> {
    c.metadata.get(key).and_then(|v| v.to_u32().ok())
}

/// The tokenizer of a GGUF model (byte-level BPE models: `gpt2`).
pub fn from_gguf(c: &Content) -> Result<GgufTokenizer> {
    let model = c
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok().cloned())
        .unwrap_or_default();
    if model != "gpt2" {
        return Err(Error::Tokenizer(format!(
            "tokenizer model {model:?}: only byte-level BPE (gpt2) GGUF tokenizers are read"
        )));
    }
    let tokens = strings(c, "tokenizer.ggml.tokens")?;
    let merges = strings(c, "tokenizer.ggml.merges")?;
    let types: Vec<i32> = match c.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(a)) => a.iter().map(|v| v.to_i32().unwrap_or(1)).collect(),
        _ => vec![1; tokens.len()],
    };
    // Control tokens (type 3) and user-defined ones (4) are matched whole.
    let added: Vec<serde_json::Value> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| matches!(types.get(*i), Some(3) | Some(4)))
        .map(|(i, t)| {
            serde_json::json!({
                "id": i, "content": t, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true
            })
        })
        .collect();
    let vocab: serde_json::Map<String, serde_json::Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), serde_json::Value::from(i)))
        .collect();
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": true},
                {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
            ]
        },
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null,
            "continuing_subword_prefix": null, "end_of_word_suffix": null,
            "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
            "vocab": vocab, "merges": merges
        }
    });
    let tokenizer: tokenizers::Tokenizer = json
        .to_string()
        .parse()
        .map_err(|e: tokenizers::Error| Error::Tokenizer(e.to_string()))?;
    let mut eos = Vec::new();
    for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
        if let Some(id) = u32_of(c, key) {
            eos.push(id);
        }
    }
    for t in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>"] {
        if let Some(id) = tokens.iter().position(|x| x == t) {
            eos.push(id as u32);
        }
    }
    eos.sort_unstable();
    eos.dedup();
    Ok(GgufTokenizer { tokenizer, eos })
}
