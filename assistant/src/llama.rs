//! A llama-family transformer read from a GGUF file, in candle: token
//! embedding, then per block RMS norm, grouped-query attention with rotary
//! positions and a key/value cache, RMS norm and a SwiGLU feed-forward,
//! then the final norm and the output projection.
//!
//! Written here rather than taken from `candle_transformers` for one
//! reason: how each weight is multiplied. candle's quantised matrix
//! product on the CPU dots every row of the input with every row of the
//! weight in the quantised format, so reading a prompt costs as much per
//! token as generating (measured: 40 prompt tokens/s for SmolLM2-135M on
//! the 2-core machine), and generating reads the blocks slowly (32
//! tokens/s). Here a product of one row (generation) runs our kernels on
//! the GGUF's own Q4_1 / Q8_0 blocks ([`crate::kernels`]); a product of
//! several (a prompt) runs candle's GEMM on an f32 copy, kept when the
//! model's f32 matrices fit [`F32_BUDGET`] (135M parameters: 540 MB).

use crate::kernels::{Format, QMatrix};
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, IndexOp, Module, Tensor};
use std::io::{Read, Seek};

/// The largest f32 copy of a model's matrices that is made (bytes).
pub const F32_BUDGET: usize = 2 << 30;

/// One weight matrix, `[out, in]`, kept as what serves each product
/// best: our kernels' blocks for one row at a time (generation), f32 for
/// several (prompts), candle's quantised product otherwise.
#[derive(Debug)]
struct Linear {
    blocks: Option<QMatrix>,
    matmul: QMatMul,
}

impl Linear {
    /// From a GGUF tensor; `dense` keeps an f32 copy for prompts.
    fn new(q: QTensor, dense: bool, device: &Device) -> candle_core::Result<Linear> {
        let blocks = match q.dtype() {
            GgmlDType::Q4_1 | GgmlDType::Q8_0 if device.is_cpu() => {
                let (rows, cols) = q.shape().dims2()?;
                let format = if q.dtype() == GgmlDType::Q4_1 {
                    Format::Q4_1
                } else {
                    Format::Q8_0
                };
                Some(
                    QMatrix::from_ggml(format, rows, cols, &q.data()?)
                        .map_err(|e| candle_core::Error::Msg(e.to_string()))?,
                )
            }
            _ => None,
        };
        let matmul = if dense {
            QMatMul::Tensor(q.dequantize(device)?)
        } else {
            QMatMul::from_qtensor(q)?
        };
        Ok(Linear { blocks, matmul })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match &self.blocks {
            Some(b) if x.dims().iter().rev().skip(1).product::<usize>() == 1 => {
                let v = x.flatten_all()?.to_vec1::<f32>()?;
                let mut out = vec![0.0f32; b.rows];
                b.matvec(&v, &mut out);
                let mut shape = x.dims().to_vec();
                *shape.last_mut().expect("a vector has a dimension") = b.rows;
                Tensor::from_vec(out, shape, x.device())
            }
            _ => self.matmul.forward(x),
        }
    }
}

#[derive(Debug)]
struct Block {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Tensor,
    gate: Linear,
    up: Linear,
    down: Linear,
    /// The cached keys and values, `[1, kv_heads, positions, head_dim]`,
    /// in storage that grows by blocks (no copy of the whole cache per
    /// token).
    cache: candle_nn::kv_cache::KvCache,
}

/// The model.
#[derive(Debug)]
pub struct Llama {
    embedding: Tensor,
    blocks: Vec<Block>,
    norm: Tensor,
    output: Linear,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    cos: Tensor,
    sin: Tensor,
    /// Whether the matrices were kept as f32.
    pub f32_weights: bool,
}

fn meta_u32(c: &Content, key: &str) -> candle_core::Result<usize> {
    c.metadata
        .get(key)
        .ok_or_else(|| candle_core::Error::Msg(format!("the GGUF has no {key}")))?
        .to_u32()
        .map(|v| v as usize)
}

fn meta_f32(c: &Content, key: &str) -> Option<f32> {
    c.metadata.get(key).and_then(|v| v.to_f32().ok())
}

impl Llama {
    /// Reads the model from a GGUF whose metadata is `c` (architecture
    /// `llama`), with positions up to `context`.
    pub fn from_gguf<R: Read + Seek>(
        c: &Content,
        r: &mut R,
        device: &Device,
        context: usize,
    ) -> candle_core::Result<Llama> {
        let heads = meta_u32(c, "llama.attention.head_count")?;
        let kv_heads = meta_u32(c, "llama.attention.head_count_kv").unwrap_or(heads);
        let layers = meta_u32(c, "llama.block_count")?;
        let dim = meta_u32(c, "llama.embedding_length")?;
        let head_dim = meta_u32(c, "llama.rope.dimension_count").unwrap_or(dim / heads);
        let eps = meta_f32(c, "llama.attention.layer_norm_rms_epsilon").unwrap_or(1e-5);
        let base = meta_f32(c, "llama.rope.freq_base").unwrap_or(10_000.0);
        if heads == 0
            || kv_heads == 0
            || !heads.is_multiple_of(kv_heads)
            || !head_dim.is_multiple_of(2)
        {
            candle_core::bail!("implausible attention shape: {heads} heads, {kv_heads} key/value heads, {head_dim} per head");
        }
        // Keep f32 copies when they fit the budget.
        let params: usize = c.tensor_infos.values().map(|t| t.shape.elem_count()).sum();
        let f32_weights = params * 4 <= F32_BUDGET;
        let mut linear = |name: &str| -> candle_core::Result<Linear> {
            Linear::new(c.tensor(r, name, device)?, f32_weights, device)
        };
        let mut blocks = Vec::with_capacity(layers);
        for i in 0..layers {
            let p = |n: &str| format!("blk.{i}.{n}.weight");
            blocks.push(Block {
                q: linear(&p("attn_q"))?,
                k: linear(&p("attn_k"))?,
                v: linear(&p("attn_v"))?,
                o: linear(&p("attn_output"))?,
                gate: linear(&p("ffn_gate"))?,
                up: linear(&p("ffn_up"))?,
                down: linear(&p("ffn_down"))?,
                attn_norm: Tensor::zeros(1, DType::F32, device)?,
                ffn_norm: Tensor::zeros(1, DType::F32, device)?,
                cache: candle_nn::kv_cache::KvCache::new(2, 512),
            });
        }
        let vector = |r: &mut R, name: &str| -> candle_core::Result<Tensor> {
            c.tensor(r, name, device)?.dequantize(device)
        };
        for (i, b) in blocks.iter_mut().enumerate() {
            b.attn_norm = vector(r, &format!("blk.{i}.attn_norm.weight"))?;
            b.ffn_norm = vector(r, &format!("blk.{i}.ffn_norm.weight"))?;
        }
        let embedding = vector(r, "token_embd.weight")?;
        let norm = vector(r, "output_norm.weight")?;
        // Models with tied embeddings have no output matrix. The output
        // only ever multiplies one row (the last token's).
        let output = if c.tensor_infos.contains_key("output.weight") {
            Linear::new(c.tensor(r, "output.weight", device)?, false, device)?
        } else {
            Linear::new(c.tensor(r, "token_embd.weight", device)?, false, device)?
        };
        // Rotary angles for every position.
        let inv: Vec<f32> = (0..head_dim / 2)
            .map(|k| 1.0 / base.powf(2.0 * k as f32 / head_dim as f32))
            .collect();
        let inv = Tensor::new(inv.as_slice(), device)?;
        let pos = Tensor::arange(0u32, context as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((context, 1))?;
        let angles = pos.broadcast_mul(&inv.reshape((1, head_dim / 2))?)?;
        Ok(Llama {
            embedding,
            blocks,
            norm,
            output,
            heads,
            kv_heads,
            head_dim,
            eps,
            cos: angles.cos()?,
            sin: angles.sin()?,
            f32_weights,
        })
    }

    /// Positions the rotary tables cover.
    pub fn context(&self) -> usize {
        self.cos.dim(0).unwrap_or(0)
    }

    /// The logits of the token after `tokens` (`[vocab]`), those tokens
    /// standing at positions `start..`: `start` 0 forgets the cache, any
    /// other must follow the tokens already read.
    pub fn forward(&mut self, tokens: &[u32], start: usize) -> candle_core::Result<Tensor> {
        let n = tokens.len();
        if n == 0 || start + n > self.context() {
            candle_core::bail!(
                "positions {start}..{} outside 0..{}",
                start + n,
                self.context()
            );
        }
        let device = self.embedding.device().clone();
        let ids = Tensor::new(tokens, &device)?;
        let mut x = self.embedding.index_select(&ids, 0)?.unsqueeze(0)?;
        let cos = self.cos.narrow(0, start, n)?;
        let sin = self.sin.narrow(0, start, n)?;
        // Each new token sees every cached position and the new ones up to
        // itself.
        let mask = if n > 1 {
            let m: Vec<f32> = (0..n)
                .flat_map(|i| {
                    (0..start + n).map(move |j| {
                        if j > start + i {
                            f32::NEG_INFINITY
                        } else {
                            0.0
                        }
                    })
                })
                .collect();
            Some(Tensor::from_vec(m, (1, 1, n, start + n), &device)?)
        } else {
            None
        };
        let (heads, kv_heads, hd) = (self.heads, self.kv_heads, self.head_dim);
        let scale = 1.0 / (hd as f64).sqrt();
        for b in &mut self.blocks {
            let h = candle_nn::ops::rms_norm(&x, &b.attn_norm, self.eps)?;
            let split = |t: Tensor, k: usize| -> candle_core::Result<Tensor> {
                t.reshape((1, n, k, hd))?.transpose(1, 2)?.contiguous()
            };
            let q = split(b.q.forward(&h)?, heads)?;
            let k = split(b.k.forward(&h)?, kv_heads)?;
            let v = split(b.v.forward(&h)?, kv_heads)?;
            let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
            let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
            if start == 0 {
                b.cache.reset();
            } else if b.cache.current_seq_len() != start {
                candle_core::bail!(
                    "position {start} does not follow the {} cached",
                    b.cache.current_seq_len()
                );
            }
            let (k, v) = b.cache.append(&k, &v)?;
            // Grouped-query attention: each key/value head serves
            // `heads / kv_heads` query heads.
            let group = heads / kv_heads;
            let q = q.reshape((1, kv_heads, group * n, hd))?;
            let mut att = (q.matmul(&k.t()?)? * scale)?;
            if let Some(m) = &mask {
                att = att
                    .reshape((1, kv_heads * group, n, start + n))?
                    .broadcast_add(m)?
                    .reshape((1, kv_heads, group * n, start + n))?;
            }
            let att = candle_nn::ops::softmax_last_dim(&att)?;
            let y = att
                .matmul(&v)?
                .reshape((1, heads, n, hd))?
                .transpose(1, 2)?
                .reshape((1, n, heads * hd))?;
            x = (x + b.o.forward(&y)?)?;
            let h = candle_nn::ops::rms_norm(&x, &b.ffn_norm, self.eps)?;
            let f = (candle_nn::ops::silu(&b.gate.forward(&h)?)? * b.up.forward(&h)?)?;
            x = (x + b.down.forward(&f)?)?;
        }
        let last = x.i((0, n - 1))?.unsqueeze(0)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, self.eps)?;
        self.output.forward(&last)?.squeeze(0)
    }
}
