//! Sentence embeddings with all-MiniLM-L6-v2 (a 6-layer BERT, 384
//! numbers per text) in candle: the mean of the token states under the
//! attention mask, unit length, as sentence-transformers computes them.
//! Cosine similarity is then a dot product.

use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::Path;

/// Tokens per text at most (longer texts are cut; chunks stay below it).
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass.
const BATCH: usize = 16;

/// A loaded embedding model.
pub struct Embedder {
    model: BertModel,
    tokenizer: tokenizers::Tokenizer,
    device: Device,
    /// Numbers per embedding.
    pub dim: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model from its folder (`config.json`, `tokenizer.json`,
    /// `model.safetensors`).
    pub fn load(dir: &Path, device: &Device) -> Result<Embedder> {
        let err = |msg: String| Error::Model {
            path: dir.display().to_string(),
            msg,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                err(format!(
                    "{name}: {e} (run scripts/fetch-assistant-models.sh)"
                ))
            })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| err(format!("config.json: {e}")))?;
        let mut tokenizer = tokenizers::Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| err(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| err(format!("tokenizer: {e}")))?;
        tokenizer.with_padding(Some(tokenizers::PaddingParams {
            strategy: tokenizers::PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let vb =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, device)
                .map_err(|e| err(format!("model.safetensors: {e}")))?;
        let dim = config.hidden_size;
        let model = BertModel::load(vb, &config).map_err(|e| err(e.to_string()))?;
        Ok(Embedder {
            model,
            tokenizer,
            device: device.clone(),
            dim,
        })
    }

    /// One unit-length embedding per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            let enc = self
                .tokenizer
                .encode_batch(batch.to_vec(), true)
                .map_err(|e| Error::Tokenizer(e.to_string()))?;
            let ids: Vec<Tensor> = enc
                .iter()
                .map(|e| Tensor::new(e.get_ids(), &self.device))
                .collect::<candle_core::Result<_>>()?;
            let masks: Vec<Tensor> = enc
                .iter()
                .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
                .collect::<candle_core::Result<_>>()?;
            let ids = Tensor::stack(&ids, 0)?;
            let mask = Tensor::stack(&masks, 0)?;
            let types = ids.zeros_like()?;
            let states = self.model.forward(&ids, &types, Some(&mask))?;
            // Mean over the tokens the mask keeps.
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let sum = states.broadcast_mul(&m)?.sum(1)?;
            let count = m.sum(1)?.clamp(1.0, f64::MAX)?;
            let mean = sum.broadcast_div(&count)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            let unit = mean.broadcast_div(&norm)?;
            out.extend(unit.to_vec2::<f32>()?);
        }
        Ok(out)
    }

    /// The embedding of one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.embed(&[text])?.remove(0))
    }
}

/// Cosine similarity of two unit vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
