//! `parallax assistant bench`: the generation model's speed on a fixed
//! prompt, ours beside candle's own quantised llama on the same file (and,
//! from the CLI, llama.cpp on it), and the embedder's chunks per second.

use crate::llm::{Llm, Params};
use crate::Result;
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::models::quantized_llama::ModelWeights;
use std::path::Path;
use std::time::Instant;

/// One engine's speed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Speed {
    /// Prompt tokens read per second.
    pub prompt_per_s: f64,
    /// Tokens generated per second, after the first.
    pub generate_per_s: f64,
    /// From the call to the first generated token, ms.
    pub first_token_ms: f64,
}

/// A prompt of about `tokens` tokens of plain English (the sample agent's
/// content, repeated), as the model's tokens.
pub fn prompt_tokens(llm: &Llm, tokens: usize) -> Result<Vec<u32>> {
    let text = include_str!("../sample/nova/content/trips.md").to_string()
        + include_str!("../sample/nova/content/rentals.md")
        + include_str!("../sample/nova/content/shop.md");
    let mut t = llm.tokens(&text)?;
    while t.len() < tokens {
        t.extend(t.clone());
    }
    t.truncate(tokens);
    Ok(t)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Our model: `runs` generations of `generate` tokens after `prompt`.
pub fn ours(llm: &mut Llm, prompt: &[u32], generate: usize, runs: usize) -> Result<Speed> {
    let text = llm.text(prompt)?;
    let params = Params {
        max_tokens: generate,
        repeat_penalty: 1.0,
        ..Params::default()
    };
    let mut s = Vec::new();
    for _ in 0..runs.max(1) {
        let (_, st) = llm.generate_exactly(&text, &params)?;
        s.push(st);
    }
    Ok(Speed {
        prompt_per_s: median(s.iter().map(|x| x.prompt_rate()).collect()),
        generate_per_s: median(s.iter().map(|x| x.generation_rate()).collect()),
        first_token_ms: median(
            s.iter()
                .map(|x| x.first_token.as_secs_f64() * 1e3)
                .collect(),
        ),
    })
}

/// candle's `quantized_llama` on the same file and prompt (greedy, no
/// stop token: exactly `generate` tokens).
pub fn candle_reference(
    path: &Path,
    prompt: &[u32],
    generate: usize,
    runs: usize,
) -> Result<Speed> {
    let dev = Device::Cpu;
    let mut f = std::fs::File::open(path).map_err(|e| crate::Error::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let c = gguf_file::Content::read(&mut f)?;
    let mut model = ModelWeights::from_gguf(c, &mut f, &dev)?;
    let mut out = Vec::new();
    for _ in 0..runs.max(1) {
        let mut sampler = LogitsProcessor::from_sampling(1, Sampling::ArgMax);
        let start = Instant::now();
        let input = Tensor::new(prompt, &dev)?.unsqueeze(0)?;
        let logits = model.forward(&input, 0)?.squeeze(0)?;
        let prompt_s = start.elapsed().as_secs_f64();
        let mut next = sampler.sample(&logits)?;
        let first = start.elapsed().as_secs_f64();
        let gen_start = Instant::now();
        for i in 0..generate.saturating_sub(1) {
            let input = Tensor::new(&[next], &dev)?.unsqueeze(0)?;
            let logits = model.forward(&input, prompt.len() + i)?.squeeze(0)?;
            next = sampler.sample(&logits)?;
        }
        out.push(Speed {
            prompt_per_s: prompt.len() as f64 / prompt_s,
            generate_per_s: generate.saturating_sub(1) as f64 / gen_start.elapsed().as_secs_f64(),
            first_token_ms: first * 1e3,
        });
    }
    Ok(Speed {
        prompt_per_s: median(out.iter().map(|s| s.prompt_per_s).collect()),
        generate_per_s: median(out.iter().map(|s| s.generate_per_s).collect()),
        first_token_ms: median(out.iter().map(|s| s.first_token_ms).collect()),
    })
}

/// Chunks embedded per second (batches of the sample content's chunks).
pub fn embedding_rate(embedder: &crate::embed::Embedder, runs: usize) -> Result<f64> {
    let text = include_str!("../sample/nova/content/trips.md").to_string()
        + include_str!("../sample/nova/content/rentals.md")
        + include_str!("../sample/nova/content/shop.md");
    let chunks: Vec<String> = crate::content::chunks(&text)
        .into_iter()
        .map(|c| c.text)
        .collect();
    let refs: Vec<&str> = chunks.iter().map(|s| s.as_str()).collect();
    let mut rates = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        embedder.embed(&refs)?;
        rates.push(refs.len() as f64 / t.elapsed().as_secs_f64());
    }
    Ok(median(rates))
}
