//! CPU kernels written here because candle's make these models slow:
//! candle runs a depthwise convolution as one small convolution per
//! channel (the landmark model took ~700 ms per crop that way, against
//! ~5 ms in TFLite). In NHWC layout the channel loop is contiguous, so the
//! inner loops vectorise; `multiversion` compiles them for AVX2+FMA (and
//! AVX-512) with a run-time choice, and rayon splits output rows between
//! cores. 1×1 convolutions (most of the work) are plain matrix products and
//! go to candle's gemm.

use multiversion::multiversion;
use rayon::prelude::*;

/// Geometry of a spatial op on one NHWC image.
#[derive(Clone, Copy, Debug)]
pub struct Geometry {
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

/// Fused activation after a convolution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    None,
    Relu,
    Relu6,
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn depthwise_row(
    x: &[f32],
    weights: &[f32],
    bias: &[f32],
    g: &Geometry,
    act: Act,
    oy: usize,
    out: &mut [f32],
) {
    let c = g.channels;
    for acc in out.chunks_exact_mut(c) {
        acc.copy_from_slice(bias);
    }
    // Taps outermost: the bounds are worked out once per tap and row, and
    // the inner loops are plain multiply-adds over contiguous channels.
    for ky in 0..g.kernel {
        let iy = (oy * g.stride + ky * g.dilation) as isize - g.pad_top as isize;
        if iy < 0 || iy >= g.in_h as isize {
            continue;
        }
        let row = &x[iy as usize * g.in_w * c..][..g.in_w * c];
        for kx in 0..g.kernel {
            let w = &weights[(ky * g.kernel + kx) * c..][..c];
            let offset = (kx * g.dilation) as isize - g.pad_left as isize;
            // Output columns whose input column ox*stride + offset is inside.
            let first = if offset < 0 {
                (-offset as usize).div_ceil(g.stride)
            } else {
                0
            };
            let end = ((g.in_w as isize - offset + g.stride as isize - 1) / g.stride as isize)
                .clamp(0, g.out_w as isize) as usize;
            for ox in first..end {
                let ix = (ox * g.stride) as isize + offset;
                let src = &row[ix as usize * c..][..c];
                let acc = &mut out[ox * c..][..c];
                // A plain multiply-add vectorises in every version (mul_add
                // would call libm where the target has no FMA).
                for ((a, s), w) in acc.iter_mut().zip(src).zip(w) {
                    *a += s * w;
                }
            }
        }
    }
    activate(out, act);
}

/// Depthwise convolution of one NHWC image `x` ([in_h, in_w, C]) with
/// weights `[k, k, C]` (TFLite's layout without the leading 1) and bias `[C]`:
/// returns [out_h, out_w, C].
pub fn depthwise(x: &[f32], weights: &[f32], bias: &[f32], g: &Geometry, act: Act) -> Vec<f32> {
    let row = g.out_w * g.channels;
    let mut out = vec![0f32; g.out_h * row];
    out.par_chunks_mut(row)
        .enumerate()
        .for_each(|(oy, o)| depthwise_row(x, weights, bias, g, act, oy, o));
    out
}

/// im2col for a k×k convolution of one NHWC image: returns
/// [out_h * out_w, k * k * C], zero where the window leaves the image, in
/// the (ky, kx, c) order of TFLite's OHWI filters.
pub fn im2col(x: &[f32], g: &Geometry) -> Vec<f32> {
    let c = g.channels;
    let patch = g.kernel * g.kernel * c;
    let mut out = vec![0f32; g.out_h * g.out_w * patch];
    out.par_chunks_mut(g.out_w * patch)
        .enumerate()
        .for_each(|(oy, rows)| {
            for ox in 0..g.out_w {
                let dst = &mut rows[ox * patch..(ox + 1) * patch];
                for ky in 0..g.kernel {
                    let iy = (oy * g.stride + ky * g.dilation) as isize - g.pad_top as isize;
                    if iy < 0 || iy >= g.in_h as isize {
                        continue;
                    }
                    for kx in 0..g.kernel {
                        let ix = (ox * g.stride + kx * g.dilation) as isize - g.pad_left as isize;
                        if ix < 0 || ix >= g.in_w as isize {
                            continue;
                        }
                        let src = &x[(iy as usize * g.in_w + ix as usize) * c..][..c];
                        dst[(ky * g.kernel + kx) * c..][..c].copy_from_slice(src);
                    }
                }
            }
        });
    out
}

/// Element-wise `a + b` (same shape), then the activation.
pub fn add_act(a: &[f32], b: &[f32], act: Act) -> Vec<f32> {
    assert_eq!(a.len(), b.len(), "add: different sizes");
    let mut out = vec![0f32; a.len()];
    out.par_chunks_mut(16 * 1024)
        .zip(a.par_chunks(16 * 1024).zip(b.par_chunks(16 * 1024)))
        .for_each(|(o, (a, b))| {
            for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                *o = a + b;
            }
            activate(o, act);
        });
    out
}

/// PReLU over NHWC data: `x` where positive, `alpha[c] * x` elsewhere.
pub fn prelu(x: &[f32], alpha: &[f32]) -> Vec<f32> {
    let c = alpha.len();
    assert_eq!(
        x.len() % c,
        0,
        "prelu: data is not a multiple of the channels"
    );
    let mut out = vec![0f32; x.len()];
    let chunk = c * (16 * 1024 / c).max(1);
    out.par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk))
        .for_each(|(o, x)| {
            for (o, x) in o.chunks_exact_mut(c).zip(x.chunks_exact(c)) {
                for ((o, x), a) in o.iter_mut().zip(x).zip(alpha) {
                    *o = if *x >= 0.0 { *x } else { a * x };
                }
            }
        });
    out
}

/// `a + b` (same shape, NHWC), then PReLU with slopes `alpha` per channel.
pub fn add_prelu(a: &[f32], b: &[f32], alpha: &[f32]) -> Vec<f32> {
    let c = alpha.len();
    assert!(
        a.len() == b.len() && a.len().is_multiple_of(c),
        "add-prelu: sizes"
    );
    let mut out = vec![0f32; a.len()];
    let chunk = c * (16 * 1024 / c).max(1);
    out.par_chunks_mut(chunk)
        .zip(a.par_chunks(chunk).zip(b.par_chunks(chunk)))
        .for_each(|(o, (a, b))| {
            for ((o, a), b) in o
                .chunks_exact_mut(c)
                .zip(a.chunks_exact(c))
                .zip(b.chunks_exact(c))
            {
                for (((o, a), b), k) in o.iter_mut().zip(a).zip(b).zip(alpha) {
                    let x = a + b;
                    *o = if x >= 0.0 { x } else { k * x };
                }
            }
        });
    out
}

/// 2×2 (or k×k) max pooling of one NHWC image without padding.
pub fn max_pool(x: &[f32], g: &Geometry) -> Vec<f32> {
    let c = g.channels;
    let mut out = vec![f32::NEG_INFINITY; g.out_h * g.out_w * c];
    out.par_chunks_mut(g.out_w * c)
        .enumerate()
        .for_each(|(oy, row)| {
            for ky in 0..g.kernel {
                let iy = oy * g.stride + ky;
                if iy >= g.in_h {
                    continue;
                }
                for (ox, acc) in row.chunks_exact_mut(c).enumerate() {
                    for kx in 0..g.kernel {
                        let ix = ox * g.stride + kx;
                        if ix >= g.in_w {
                            continue;
                        }
                        let src = &x[(iy * g.in_w + ix) * c..][..c];
                        for (a, s) in acc.iter_mut().zip(src) {
                            *a = a.max(*s);
                        }
                    }
                }
            }
        });
    out
}

fn activate(v: &mut [f32], act: Act) {
    match act {
        Act::None => {}
        Act::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Act::Relu6 => v.iter_mut().for_each(|x| *x = x.clamp(0.0, 6.0)),
    }
}

/// Rows per task of [`matmul_bias_act`]: big enough that gemm's packing
/// pays off, small enough that both cores get work on a 56×56 map.
const ROWS_PER_TASK: usize = 256;

/// `a` `[m, k]` (row-major) times `b` `[k, n]` plus `bias` `[n]`, then the
/// activation: a 1×1 convolution over m pixels (or an im2col matrix). One
/// pass over the output: it is filled with the bias, gemm accumulates into
/// it, and the activation runs on it while it is in cache. Row blocks are
/// spread over the cores, each a single-threaded gemm (gemm's own threading
/// costs more than it gains on matrices this small).
pub fn matmul_bias_act(
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    m: usize,
    k: usize,
    act: Act,
) -> Vec<f32> {
    let n = bias.len();
    assert_eq!(a.len(), m * k, "lhs is not m x k");
    assert_eq!(b.len(), k * n, "rhs is not k x n");
    let mut out = vec![0f32; m * n];
    out.par_chunks_mut(ROWS_PER_TASK * n)
        .zip(a.par_chunks(ROWS_PER_TASK * k))
        .for_each(|(dst, lhs)| {
            let rows = dst.len() / n;
            for row in dst.chunks_exact_mut(n) {
                row.copy_from_slice(bias);
            }
            gemm_into(dst, lhs, b, rows, k, n);
            activate(dst, act);
        });
    out
}

/// dst [m, n] += lhs [m, k] · rhs [k, n], all row-major and contiguous.
#[allow(unsafe_code)]
fn gemm_into(dst: &mut [f32], lhs: &[f32], rhs: &[f32], m: usize, k: usize, n: usize) {
    assert!(dst.len() == m * n && lhs.len() == m * k && rhs.len() == k * n);
    // SAFETY: the three slices hold exactly m·n, m·k and k·n elements
    // (asserted above), the strides describe those row-major layouts, dst
    // is borrowed mutably so it aliases neither input, and gemm reads and
    // writes only inside these bounds.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            true,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward reference: every output as a sum over its window.
    fn naive(x: &[f32], w: &[f32], b: &[f32], g: &Geometry) -> Vec<f32> {
        let c = g.channels;
        let mut out = vec![0f32; g.out_h * g.out_w * c];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for ch in 0..c {
                    let mut s = b[ch];
                    for ky in 0..g.kernel {
                        for kx in 0..g.kernel {
                            let iy = (oy * g.stride + ky) as isize - g.pad_top as isize;
                            let ix = (ox * g.stride + kx) as isize - g.pad_left as isize;
                            if iy >= 0
                                && ix >= 0
                                && (iy as usize) < g.in_h
                                && (ix as usize) < g.in_w
                            {
                                s += x[(iy as usize * g.in_w + ix as usize) * c + ch]
                                    * w[(ky * g.kernel + kx) * c + ch];
                            }
                        }
                    }
                    out[(oy * g.out_w + ox) * c + ch] = s;
                }
            }
        }
        out
    }

    #[test]
    fn depthwise_matches_the_definition_with_asymmetric_padding() {
        // 9x7 image, 5 channels, 3x3 stride 2, TFLite SAME: pad 0 before, 1 after... and 1/1.
        let g = Geometry {
            in_h: 9,
            in_w: 7,
            channels: 5,
            out_h: 5,
            out_w: 4,
            kernel: 3,
            stride: 2,
            dilation: 1,
            pad_top: 1,
            pad_left: 1,
        };
        let x: Vec<f32> = (0..9 * 7 * 5)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect();
        let w: Vec<f32> = (0..9 * 5)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0)
            .collect();
        let b: Vec<f32> = (0..5).map(|i| i as f32 * 0.1).collect();
        let got = depthwise(&x, &w, &b, &g, Act::None);
        let want = naive(&x, &w, &b, &g);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        let relu6 = depthwise(&x, &w, &b, &g, Act::Relu6);
        assert!(relu6.iter().all(|v| (0.0..=6.0).contains(v)));
    }

    #[test]
    fn matmul_bias_act_matches_the_definition() {
        let (m, k, n) = (600, 7, 5);
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) / 13.0)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) / 5.0)
            .collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 - 2.0).collect();
        let got = matmul_bias_act(&a, &b, &bias, m, k, Act::Relu6);
        for r in 0..m {
            for c in 0..n {
                let s: f32 = (0..k).map(|i| a[r * k + i] * b[i * n + c]).sum::<f32>() + bias[c];
                let want = s.clamp(0.0, 6.0);
                assert!(
                    (got[r * n + c] - want).abs() < 1e-4,
                    "({r}, {c}): {} vs {want}",
                    got[r * n + c]
                );
            }
        }
    }

    #[test]
    fn add_and_prelu_are_element_wise() {
        let a: Vec<f32> = (0..40_000).map(|i| (i % 13) as f32 - 6.0).collect();
        let b: Vec<f32> = (0..40_000).map(|i| (i % 7) as f32 - 3.0).collect();
        let sum = add_act(&a, &b, Act::Relu);
        for i in [0, 1, 16_383, 16_384, 39_999] {
            assert_eq!(sum[i], (a[i] + b[i]).max(0.0));
        }
        let alpha = [0.5, 0.25, 2.0, 0.0, 1.0];
        let p = prelu(&a, &alpha);
        for i in [0, 3, 6, 16_387, 39_998] {
            let want = if a[i] >= 0.0 {
                a[i]
            } else {
                alpha[i % 5] * a[i]
            };
            assert_eq!(p[i], want, "{i}");
        }
    }

    #[test]
    fn im2col_rows_are_the_windows() {
        let g = Geometry {
            in_h: 4,
            in_w: 4,
            channels: 2,
            out_h: 2,
            out_w: 2,
            kernel: 3,
            stride: 2,
            dilation: 1,
            pad_top: 0,
            pad_left: 0,
        };
        let x: Vec<f32> = (0..32).map(|i| i as f32).collect();
        let cols = im2col(&x, &g);
        // Output (0, 0): rows 0..3, columns 0..3 of the image.
        assert_eq!(&cols[..6], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // Output (1, 1) starts at pixel (2, 2); its window leaves the image at row/col 4.
        let last = &cols[3 * 18..];
        assert_eq!(&last[..2], &[20.0, 21.0]);
        assert_eq!(&last[4..6], &[0.0, 0.0]);
    }
}
