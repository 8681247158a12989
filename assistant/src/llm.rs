//! Text generation with a llama-family GGUF model in candle: the model's
//! quantised weights (`candle_transformers::models::quantized_llama`), its
//! tokenizer from the same file, ChatML prompts, and token-by-token
//! streaming with temperature / top-p sampling and a repeat penalty.

use crate::llama::Llama;
use crate::tokenizer;
use crate::{Error, Result};
use candle_core::quantized::gguf_file;
use candle_core::Device;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use std::path::Path;
use std::time::{Duration, Instant};

/// Who says a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One message of a conversation.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
}

/// How to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    pub max_tokens: usize,
    /// 0: always the likeliest token (reproducible).
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    /// Penalty on tokens among the last `repeat_last_n` (1: none).
    pub repeat_penalty: f32,
    pub repeat_last_n: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            max_tokens: 200,
            temperature: 0.0,
            top_p: 0.9,
            seed: 1,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
        }
    }
}

/// Why generation stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The model ended its turn.
    EndOfTurn,
    MaxTokens,
    /// The caller's callback asked to stop.
    Caller,
}

/// What a generation cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Reading the prompt (one batched forward pass).
    pub prompt_time: Duration,
    /// From the call to the first generated token's text.
    pub first_token: Duration,
    /// Generating the tokens after the first.
    pub generation_time: Duration,
    pub stop: Stop,
}

impl Stats {
    /// Prompt tokens read per second.
    pub fn prompt_rate(&self) -> f64 {
        self.prompt_tokens as f64 / self.prompt_time.as_secs_f64().max(1e-9)
    }

    /// Tokens generated per second, after the first.
    pub fn generation_rate(&self) -> f64 {
        self.generated_tokens.saturating_sub(1) as f64
            / self.generation_time.as_secs_f64().max(1e-9)
    }
}

/// A loaded model.
pub struct Llm {
    model: Llama,
    tokenizer: tokenizers::Tokenizer,
    eos: Vec<u32>,
    /// Tokens of prompt and answer together at most.
    pub context: usize,
    /// The model's name in its metadata (or the file's).
    pub name: String,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm")
            .field("name", &self.name)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

/// The context used: the model's own, at most this (memory for the cache).
const MAX_CONTEXT: usize = 4096;

impl Llm {
    /// Loads a llama-family GGUF (SmolLM2, Llama, Mistral, TinyLlama ...).
    pub fn load(path: &Path, device: &Device) -> Result<Llm> {
        let model_err = |msg: String| Error::Model {
            path: path.display().to_string(),
            msg,
        };
        let mut file = std::fs::File::open(path).map_err(|e| {
            model_err(format!(
                "{e} (run scripts/fetch-assistant-models.sh, or point to a GGUF file)"
            ))
        })?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| model_err(format!("not a GGUF file: {e}")))?;
        let arch = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_default();
        if arch != "llama" {
            return Err(model_err(format!(
                "architecture {arch:?}: this loads llama-family models"
            )));
        }
        let name = content
            .metadata
            .get("general.name")
            .and_then(|v| v.to_string().ok().cloned())
            .unwrap_or_else(|| {
                path.file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
            });
        let context = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(2048, |c| c as usize)
            .min(MAX_CONTEXT);
        let tok = tokenizer::from_gguf(&content)?;
        let model = Llama::from_gguf(&content, &mut file, device, context)
            .map_err(|e| model_err(e.to_string()))?;
        Ok(Llm {
            model,
            tokenizer: tok.tokenizer,
            eos: tok.eos,
            context,
            name,
        })
    }

    /// The tokens of `text` (special tokens written in it, such as
    /// `<|im_start|>`, are read as such).
    pub fn tokens(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    /// The text of `tokens`.
    pub fn text(&self, tokens: &[u32]) -> Result<String> {
        self.tokenizer
            .decode(tokens, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// A conversation in ChatML (SmolLM2's chat format), ending with the
    /// assistant's turn opened.
    pub fn chat_prompt(messages: &[Message]) -> String {
        let mut p = String::new();
        for m in messages {
            let role = match m.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            p.push_str("<|im_start|>");
            p.push_str(role);
            p.push('\n');
            // A message cannot close its own turn or open another.
            p.push_str(
                &m.content
                    .replace("<|im_start|>", "")
                    .replace("<|im_end|>", ""),
            );
            p.push_str("<|im_end|>\n");
        }
        p.push_str("<|im_start|>assistant\n");
        p
    }

    /// Generates exactly `params.max_tokens` tokens after `prompt`, through
    /// the end of turn (for benchmarks: every engine does the same work).
    pub fn generate_exactly(&mut self, prompt: &str, params: &Params) -> Result<(String, Stats)> {
        let eos = std::mem::take(&mut self.eos);
        let r = self.generate(prompt, params, |_| true);
        self.eos = eos;
        r
    }

    /// Generates after `prompt`, handing each new piece of text to
    /// `on_text` as soon as it is whole UTF-8 (return `false` to stop).
    /// Returns the text and what it cost.
    pub fn generate(
        &mut self,
        prompt: &str,
        params: &Params,
        mut on_text: impl FnMut(&str) -> bool,
    ) -> Result<(String, Stats)> {
        let start = Instant::now();
        let prompt_tokens = self.tokens(prompt)?;
        if prompt_tokens.is_empty() {
            return Err(Error::Tokenizer("the prompt is empty".into()));
        }
        let limit = self
            .context
            .saturating_sub(params.max_tokens.min(self.context / 2));
        if prompt_tokens.len() > limit {
            return Err(Error::PromptTooLong {
                tokens: prompt_tokens.len(),
                limit,
            });
        }
        let mut sampler = LogitsProcessor::from_sampling(
            params.seed,
            if params.temperature <= 0.0 {
                Sampling::ArgMax
            } else {
                Sampling::TopP {
                    p: params.top_p,
                    temperature: params.temperature,
                }
            },
        );
        let mut logits = self.model.forward(&prompt_tokens, 0)?;
        let prompt_time = start.elapsed();
        let mut all = prompt_tokens.clone();
        let mut out: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut shown = 0usize;
        let mut first_at: Option<Instant> = None;
        let mut stop = Stop::MaxTokens;
        for _ in 0..params.max_tokens {
            if all.len() >= self.context {
                break;
            }
            let l = if params.repeat_penalty != 1.0 {
                let from = all.len().saturating_sub(params.repeat_last_n);
                candle_transformers::utils::apply_repeat_penalty(
                    &logits,
                    params.repeat_penalty,
                    &all[from..],
                )?
            } else {
                logits.clone()
            };
            let next = sampler.sample(&l)?;
            if self.eos.contains(&next) {
                stop = Stop::EndOfTurn;
                break;
            }
            all.push(next);
            out.push(next);
            first_at.get_or_insert_with(Instant::now);
            // Text so far; hand over what is new once it is whole.
            let decoded = self.text(&out)?;
            if decoded.len() > shown && !decoded.ends_with('\u{fffd}') {
                let piece = &decoded[shown..];
                let go_on = on_text(piece);
                shown = decoded.len();
                text = decoded;
                if !go_on {
                    stop = Stop::Caller;
                    break;
                }
            }
            logits = self.model.forward(&[next], all.len() - 1)?;
        }
        if text.len() < self.text(&out)?.len() {
            text = self.text(&out)?;
            let rest = text[shown..].to_string();
            if !rest.is_empty() {
                on_text(&rest);
            }
        }
        let first_at = first_at.unwrap_or_else(Instant::now);
        Ok((
            text,
            Stats {
                prompt_tokens: prompt_tokens.len(),
                generated_tokens: out.len(),
                prompt_time,
                first_token: first_at - start,
                generation_time: first_at.elapsed(),
                stop,
            },
        ))
    }
}
