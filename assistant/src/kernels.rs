//! Our own matrix–vector products for generation: one token at a time,
//! each weight matrix times one vector, straight from the GGUF's quantised
//! blocks (Q4_1: 32 weights in 20 bytes, `w = d·q + m`; Q8_0: 32 in 34
//! bytes, `w = d·q`).
//!
//! Written here because generation is bound by reading the weights: f32
//! copies of SmolLM2-135M are 540 MB a token (33 tokens/s on the 2-core
//! machine), its Q4_1 blocks 85 MB; and candle's quantised product first
//! quantises the vector and dots it block by block without spreading rows
//! over threads (32 tokens/s). Here the vector stays f32: each block's 32
//! weights are widened to f32 (AVX-512: 16 at a time) and multiplied into
//! per-row accumulators, the block's scale folded in; a Q4_1 block's
//! offset is `m · Σx` over its 32 inputs, summed once per vector. Rows are
//! split between threads. A portable loop serves machines without
//! AVX-512 (and checks the fast one in the tests).

use half::f16;
use rayon::prelude::*;

/// Weights per block in both formats.
pub const BLOCK: usize = 32;

/// The block formats read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Q4_1,
    Q8_0,
}

/// A quantised matrix, rows of `cols` weights, repacked for the kernels:
/// per block its scale (and offset) as f32 and its quantised weights.
#[derive(Clone, Debug)]
pub struct QMatrix {
    pub rows: usize,
    pub cols: usize,
    pub format: Format,
    scales: Vec<f32>,
    /// Q4_1 only: each block's offset `m`.
    mins: Vec<f32>,
    /// Q4_1: 16 bytes a block (weight i in the low nibble of byte i, weight
    /// i + 16 in its high nibble); Q8_0: 32 signed bytes a block.
    quants: Vec<u8>,
}

/// Why a matrix cannot be repacked.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RepackError {
    #[error("{cols} columns are not a whole number of {BLOCK}-weight blocks")]
    Columns { cols: usize },
    #[error("{got} bytes for a {rows}×{cols} {format:?} matrix, not {want}")]
    Size {
        rows: usize,
        cols: usize,
        format: Format,
        got: usize,
        want: usize,
    },
}

impl QMatrix {
    /// Repacks GGML blocks (`data`: rows of `cols / 32` blocks each).
    pub fn from_ggml(
        format: Format,
        rows: usize,
        cols: usize,
        data: &[u8],
    ) -> Result<QMatrix, RepackError> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(RepackError::Columns { cols });
        }
        let blocks = rows * cols / BLOCK;
        let size = match format {
            Format::Q4_1 => 20,
            Format::Q8_0 => 34,
        };
        if data.len() != blocks * size {
            return Err(RepackError::Size {
                rows,
                cols,
                format,
                got: data.len(),
                want: blocks * size,
            });
        }
        let f = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
        let mut m = QMatrix {
            rows,
            cols,
            format,
            scales: Vec::with_capacity(blocks),
            mins: Vec::new(),
            quants: Vec::with_capacity(blocks * (size - 4)),
        };
        for b in data.chunks_exact(size) {
            m.scales.push(f(&b[0..2]));
            match format {
                Format::Q4_1 => {
                    m.mins.push(f(&b[2..4]));
                    m.quants.extend_from_slice(&b[4..20]);
                }
                Format::Q8_0 => m.quants.extend_from_slice(&b[2..34]),
            }
        }
        Ok(m)
    }

    /// `out = W · x` (`x`: `cols` numbers; `out`: `rows`).
    #[allow(unsafe_code)] // The one call into the AVX-512 row kernel.
    pub fn matvec(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), self.cols, "input length");
        assert_eq!(out.len(), self.rows, "output length");
        let nb = self.cols / BLOCK;
        // Each Q4_1 block's offset multiplies the sum of its inputs.
        let xsum: Vec<f32> = match self.format {
            Format::Q4_1 => x.chunks_exact(BLOCK).map(|c| c.iter().sum()).collect(),
            Format::Q8_0 => Vec::new(),
        };
        let fast = avx512();
        // Enough rows per task to amortise the hand-over, few enough to
        // share the work between the threads.
        let per = (self.rows / (4 * rayon::current_num_threads())).clamp(16, 1024);
        out.par_chunks_mut(per).enumerate().for_each(|(k, chunk)| {
            let first = k * per;
            for (i, o) in chunk.iter_mut().enumerate() {
                let r = first + i;
                *o = if fast {
                    // SAFETY: AVX-512F/BW is present (checked by `avx512`);
                    // the row's blocks are in range (r < rows).
                    unsafe { self.row_avx512(r, nb, x, &xsum) }
                } else {
                    self.row_portable(r, nb, x, &xsum)
                };
            }
        });
    }

    fn row_portable(&self, r: usize, nb: usize, x: &[f32], xsum: &[f32]) -> f32 {
        let mut acc = 0.0f32;
        for b in 0..nb {
            let blk = r * nb + b;
            let xs = &x[b * BLOCK..(b + 1) * BLOCK];
            let d = self.scales[blk];
            match self.format {
                Format::Q4_1 => {
                    let q = &self.quants[blk * 16..blk * 16 + 16];
                    let mut s = 0.0f32;
                    for i in 0..16 {
                        s += (q[i] & 0x0f) as f32 * xs[i] + (q[i] >> 4) as f32 * xs[i + 16];
                    }
                    acc += d * s + self.mins[blk] * xsum[b];
                }
                Format::Q8_0 => {
                    let q = &self.quants[blk * 32..blk * 32 + 32];
                    let s: f32 = q.iter().zip(xs).map(|(q, x)| (*q as i8) as f32 * x).sum();
                    acc += d * s;
                }
            }
        }
        acc
    }

    /// One row with AVX-512.
    ///
    /// # Safety
    /// The CPU has AVX-512F and AVX-512BW; `r < rows`, `nb` is the row's
    /// block count and `x` (and `xsum` for Q4_1) are the vector's.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw")]
    #[allow(unsafe_code)]
    unsafe fn row_avx512(&self, r: usize, nb: usize, x: &[f32], xsum: &[f32]) -> f32 {
        use std::arch::x86_64::*;
        let mut acc = _mm512_setzero_ps();
        let mut offsets = 0.0f32;
        let base = r * nb;
        let xp = x.as_ptr();
        match self.format {
            Format::Q4_1 => {
                let low = _mm_set1_epi8(0x0f);
                let qp = self.quants.as_ptr().add(base * 16);
                for b in 0..nb {
                    // SAFETY (all below): block `base + b` is within the
                    // matrix (16 bytes at `qp + 16 b`), and inputs
                    // `32 b .. 32 b + 32` within `x`.
                    let bytes = _mm_loadu_si128(qp.add(b * 16) as *const __m128i);
                    let lo = _mm_and_si128(bytes, low);
                    let hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low);
                    let d = _mm512_set1_ps(*self.scales.get_unchecked(base + b));
                    let wl = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo)), d);
                    let wh = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi)), d);
                    acc = _mm512_fmadd_ps(wl, _mm512_loadu_ps(xp.add(b * 32)), acc);
                    acc = _mm512_fmadd_ps(wh, _mm512_loadu_ps(xp.add(b * 32 + 16)), acc);
                    offsets += *self.mins.get_unchecked(base + b) * *xsum.get_unchecked(b);
                }
            }
            Format::Q8_0 => {
                let qp = self.quants.as_ptr().add(base * 32);
                for b in 0..nb {
                    let q = _mm256_loadu_si256(qp.add(b * 32) as *const __m256i);
                    let d = _mm512_set1_ps(*self.scales.get_unchecked(base + b));
                    let w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_castsi256_si128(q)));
                    let w1 =
                        _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm256_extracti128_si256(q, 1)));
                    acc =
                        _mm512_fmadd_ps(_mm512_mul_ps(w0, d), _mm512_loadu_ps(xp.add(b * 32)), acc);
                    acc = _mm512_fmadd_ps(
                        _mm512_mul_ps(w1, d),
                        _mm512_loadu_ps(xp.add(b * 32 + 16)),
                        acc,
                    );
                }
            }
        }
        _mm512_reduce_add_ps(acc) + offsets
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[allow(unsafe_code)]
    unsafe fn row_avx512(&self, r: usize, nb: usize, x: &[f32], xsum: &[f32]) -> f32 {
        self.row_portable(r, nb, x, xsum)
    }

    /// Row `r` dequantised (the tests' reference).
    #[cfg(test)]
    fn row(&self, r: usize) -> Vec<f32> {
        let nb = self.cols / BLOCK;
        let mut out = Vec::with_capacity(self.cols);
        for b in 0..nb {
            let blk = r * nb + b;
            let d = self.scales[blk];
            match self.format {
                Format::Q4_1 => {
                    let q = &self.quants[blk * 16..blk * 16 + 16];
                    let m = self.mins[blk];
                    out.extend(q.iter().map(|v| d * (v & 0x0f) as f32 + m));
                    out.extend(q.iter().map(|v| d * (v >> 4) as f32 + m));
                }
                Format::Q8_0 => {
                    out.extend(
                        self.quants[blk * 32..blk * 32 + 32]
                            .iter()
                            .map(|v| d * (*v as i8) as f32),
                    );
                }
            }
        }
        out
    }
}

/// Whether the AVX-512 kernels can run here.
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random GGML blocks of a format (a fixed pseudo-random sequence).
    fn blocks(format: Format, rows: usize, cols: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        let mut next = || {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as u8
        };
        let n = rows * cols / BLOCK;
        let mut out = Vec::new();
        for _ in 0..n {
            let d = f16::from_f32(0.001 + next() as f32 / 255.0 * 0.02);
            out.extend_from_slice(&d.to_le_bytes());
            match format {
                Format::Q4_1 => {
                    let m = f16::from_f32(-0.1 + next() as f32 / 255.0 * 0.05);
                    out.extend_from_slice(&m.to_le_bytes());
                    out.extend((0..16).map(|_| next()));
                }
                Format::Q8_0 => out.extend((0..32).map(|_| next())),
            }
        }
        out
    }

    #[test]
    fn both_kernels_compute_the_product_of_the_dequantised_matrix() {
        for format in [Format::Q4_1, Format::Q8_0] {
            let (rows, cols) = (67, 96);
            let m = QMatrix::from_ggml(format, rows, cols, &blocks(format, rows, cols, 7)).unwrap();
            let x: Vec<f32> = (0..cols)
                .map(|i| ((i * 37) % 19) as f32 / 9.0 - 1.0)
                .collect();
            // The reference: every row dequantised, dotted in f64.
            let want: Vec<f64> = (0..rows)
                .map(|r| {
                    m.row(r)
                        .iter()
                        .zip(&x)
                        .map(|(w, x)| *w as f64 * *x as f64)
                        .sum()
                })
                .collect();
            let mut got = vec![0.0; rows];
            m.matvec(&x, &mut got);
            let mut portable = vec![0.0; rows];
            let nb = cols / BLOCK;
            let xsum: Vec<f32> = x.chunks_exact(BLOCK).map(|c| c.iter().sum()).collect();
            for (r, o) in portable.iter_mut().enumerate() {
                *o = m.row_portable(r, nb, &x, &xsum);
            }
            for r in 0..rows {
                let tol = 1e-4 * want[r].abs().max(1.0);
                assert!(
                    (got[r] as f64 - want[r]).abs() < tol,
                    "{format:?} row {r}: {} vs {}",
                    got[r],
                    want[r]
                );
                assert!(
                    (portable[r] as f64 - want[r]).abs() < tol,
                    "{format:?} row {r} (portable)"
                );
            }
        }
    }

    #[test]
    fn wrong_sizes_are_refused() {
        assert_eq!(
            QMatrix::from_ggml(Format::Q8_0, 2, 40, &[0; 10]).unwrap_err(),
            RepackError::Columns { cols: 40 }
        );
        assert!(matches!(
            QMatrix::from_ggml(Format::Q4_1, 2, 64, &[0; 79]),
            Err(RepackError::Size { want: 80, .. })
        ));
    }
}
