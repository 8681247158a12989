//! CPU kernels written here because candle's make these models slow:
//! candle runs a depthwise convolution as one small convolution per
//! channel (the landmark model took ~700 ms per crop that way, against
//! ~5 ms in TFLite). In NHWC layout the channel loop is contiguous, so the
//! inner loops vectorise; `multiversion` compiles them for AVX2+FMA (and
//! AVX-512) with a run-time choice. 1×1 convolutions (most of the work) are
//! matrix products on weights packed once into 32-column panels, with the
//! bias, residual and activation applied in registers; on AVX-512 the
//! product's inner loop is written with intrinsics (6×32 tiles), elsewhere
//! the compiler vectorises a portable one. (The gemm crate, candle's own,
//! was used before: it packs the weights on every call and cannot fuse the
//! epilogue, which cost a third of the time on these small matrices.)
//! The CPU plan (`cpu.rs`) strings these together into fused row-block
//! passes.

use multiversion::multiversion;
use multiversion::target::target_cfg_f;
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

/// Depthwise weights in two layouts, made once at load: TFLite's
/// `[k, k, C]` (the portable loop reads whole pixels of channels) and
/// per block of 16 channels `[C/16][k·k][16]`, zero-padded (the AVX-512
/// rows load a block's tap weights from one contiguous run instead of
/// k·k strided ones).
#[derive(Clone, Debug)]
pub struct DwWeights {
    taps_c: Vec<f32>,
    blocks: Vec<f32>,
}

impl DwWeights {
    pub fn new(w: &[f32], taps: usize, c: usize) -> DwWeights {
        assert_eq!(w.len(), taps * c, "weights are not k x k x C");
        let nb = c.div_ceil(16);
        let mut blocks = vec![0f32; nb * taps * 16];
        for t in 0..taps {
            for ch in 0..c {
                blocks[((ch / 16) * taps + t) * 16 + ch % 16] = w[t * c + ch];
            }
        }
        DwWeights {
            taps_c: w.to_vec(),
            blocks,
        }
    }
}

/// Output rows `oy0..` (as many as `out` holds, [rows, out_w, C]) of a
/// depthwise convolution of the NHWC image `x` ([in_h, in_w, C]) with
/// weights `[k, k, C]` and bias `[C]`: on AVX-512 with the sums in
/// registers, elsewhere the portable loop.
pub(crate) fn depthwise_rows(
    x: &[f32],
    weights: &DwWeights,
    bias: &[f32],
    g: &Geometry,
    act: Act,
    oy0: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if g.kernel <= MAX_DW_KERNEL && std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F (checked just above), the only
        // requirement of depthwise_rows_avx512 beyond its asserted bounds.
        #[allow(unsafe_code)]
        unsafe {
            depthwise_rows_avx512(x, &weights.blocks, bias, g, act, oy0, out)
        };
        return;
    }
    for (r, o) in out.chunks_exact_mut(g.out_w * g.channels).enumerate() {
        depthwise_row_portable(x, &weights.taps_c, bias, g, act, oy0 + r, o);
    }
}

/// Largest depthwise kernel the AVX-512 version keeps in registers (the
/// palm models use 5×5).
const MAX_DW_KERNEL: usize = 5;
/// Output pixels the AVX-512 depthwise row sums side by side.
const DW_PIXELS: usize = 8;

/// The AVX-512 depthwise rows (`blocks`: [`DwWeights`]' per-block layout):
/// per block of 16 channels, the k·k tap weights come from one contiguous
/// run for all rows, and output pixels go
/// [`DW_PIXELS`] at a time (then 4, 2, 1 for the rest), their sums in
/// registers over all taps: independent chains keep the FMA pipes full, and
/// each pixel is stored once instead of once per tap.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
fn depthwise_rows_avx512(
    x: &[f32],
    blocks: &[f32],
    bias: &[f32],
    g: &Geometry,
    act: Act,
    oy0: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let c = g.channels;
    let taps = g.kernel * g.kernel;
    assert!(g.kernel <= MAX_DW_KERNEL && blocks.len() >= c.div_ceil(16) * taps * 16);
    assert!(bias.len() == c);
    assert!(x.len() >= g.in_h * g.in_w * c && out.len().is_multiple_of(g.out_w * c));
    let count = out.len() / (g.out_w * c);
    // Per output row, the input rows of its windows that are inside the
    // image.
    let rows_of = |oy: usize| {
        let mut rows = [None; MAX_DW_KERNEL];
        for (ky, row) in rows.iter_mut().enumerate().take(g.kernel) {
            let iy = (oy * g.stride + ky * g.dilation) as isize - g.pad_top as isize;
            if iy >= 0 && (iy as usize) < g.in_h {
                *row = Some(iy as usize * g.in_w);
            }
        }
        rows
    };
    // Output columns whose whole window lies inside the image's columns.
    let reach = ((g.kernel - 1) * g.dilation) as isize;
    let (s_, pl) = (g.stride as isize, g.pad_left as isize);
    let lo = (pl + s_ - 1).div_euclid(s_).clamp(0, g.out_w as isize) as usize;
    let hi =
        ((g.in_w as isize - 1 - reach + pl).div_euclid(s_) + 1).clamp(0, g.out_w as isize) as usize;
    let step = |left: usize| match left {
        r if r >= DW_PIXELS => DW_PIXELS,
        r if r >= 4 => 4,
        r if r >= 2 => 2,
        _ => 1,
    };
    let slide =
        g.dilation == 1 && matches!((g.kernel, g.stride), (3, 1) | (3, 2) | (5, 1) | (5, 2));
    // Rows outside, channel blocks inside: a row's window rows stay in
    // cache while every block reads them (a block's weights are a small
    // contiguous run).
    for (r, out) in out.chunks_exact_mut(g.out_w * c).enumerate().take(count) {
        let rows = rows_of(oy0 + r);
        for c0 in (0..c).step_by(16) {
            let mask = ((1u32 << (c - c0).min(16)) - 1) as u16;
            let w = &blocks[(c0 / 16) * taps * 16..][..taps * 16];
            // SAFETY: channels c0 .. min(c0 + 16, c) of the c biases.
            let b = unsafe { _mm512_maskz_loadu_ps(mask, bias.as_ptr().add(c0)) };
            let tile = DwTile {
                x,
                g,
                rows: &rows,
                w,
                b,
                mask,
                c0,
                act,
                interior: (lo, hi),
            };
            if slide {
                // The sliding window along the whole row, blocks that
                // reach over the image's edge checking their columns.
                let mut ox = 0;
                while ox < g.out_w {
                    let p = step(g.out_w - ox);
                    let inside = ox >= lo && ox + p <= hi;
                    match p {
                        DW_PIXELS => dw_slide_any::<DW_PIXELS>(&tile, ox, out, inside),
                        4 => dw_slide_any::<4>(&tile, ox, out, inside),
                        2 => dw_slide_any::<2>(&tile, ox, out, inside),
                        _ => dw_slide_any::<1>(&tile, ox, out, inside),
                    }
                    ox += p;
                }
                continue;
            }
            // Other kernels: the left border, the interior (no column
            // checks), the right border, each pixel over its own window.
            let lo = lo.min(hi);
            for (from, to) in [(0, lo), (lo, hi), (hi, g.out_w)] {
                let mut ox = from;
                while ox < to {
                    let p = step(to - ox);
                    match p {
                        DW_PIXELS => dw_pixels::<DW_PIXELS>(&tile, ox, out),
                        4 => dw_pixels::<4>(&tile, ox, out),
                        2 => dw_pixels::<2>(&tile, ox, out),
                        _ => dw_pixels::<1>(&tile, ox, out),
                    }
                    ox += p;
                }
            }
        }
    }
}

/// What [`dw_pixels`] needs of one channel block of one output row.
#[cfg(target_arch = "x86_64")]
struct DwTile<'a> {
    x: &'a [f32],
    g: &'a Geometry,
    rows: &'a [Option<usize>; MAX_DW_KERNEL],
    /// The channel block's tap weights, 16 per tap.
    w: &'a [f32],
    b: std::arch::x86_64::__m512,
    mask: u16,
    c0: usize,
    act: Act,
    /// Output columns lo..hi whose windows need no column checks.
    interior: (usize, usize),
}

#[cfg(target_arch = "x86_64")]
impl DwTile<'_> {
    /// Tap `t`'s weights for the block's 16 channels.
    #[target_feature(enable = "avx512f")]
    #[allow(unsafe_code)]
    #[inline]
    fn weight(&self, t: usize) -> std::arch::x86_64::__m512 {
        let w = &self.w[t * 16..t * 16 + 16];
        // SAFETY: the 16 floats of the slice just taken (bounds-checked).
        unsafe { std::arch::x86_64::_mm512_loadu_ps(w.as_ptr()) }
    }
}

/// P output pixels from `ox` of one channel block, each tap checked
/// against the image's columns (the checks are predictable branches).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
#[inline]
fn dw_pixels<const P: usize>(t: &DwTile, ox: usize, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let g = t.g;
    let c = g.channels;
    assert!(ox + P <= g.out_w && out.len() >= g.out_w * c);
    assert!(t.x.len() >= g.in_h * g.in_w * c && t.c0 < c);
    let mut acc = [t.b; P];
    let inside = ox >= t.interior.0 && ox + P <= t.interior.1;
    for (ky, row) in t.rows.iter().enumerate().take(g.kernel) {
        let Some(row) = *row else { continue };
        for kx in 0..g.kernel {
            let wv = t.weight(ky * g.kernel + kx);
            if inside {
                // Every window of these P pixels is inside the image: the
                // first pixel's address, then steps of stride·c.
                let first = (row + ox * g.stride + kx * g.dilation - g.pad_left) * c + t.c0;
                let step = g.stride * c;
                assert!(first + (P - 1) * step < t.x.len());
                for (p, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: pixel (row, (ox + p)·stride + kx·dil - pad)
                    // is inside the image (ox..ox+P within the interior
                    // columns) and x holds the image (asserted); the mask
                    // keeps to channels c0 .. min(c0 + 16, c).
                    let v = unsafe {
                        _mm512_maskz_loadu_ps(t.mask, t.x.as_ptr().add(first + p * step))
                    };
                    *acc = _mm512_fmadd_ps(v, wv, *acc);
                }
                continue;
            }
            for (p, acc) in acc.iter_mut().enumerate() {
                let ix = ((ox + p) * g.stride + kx * g.dilation) as isize - g.pad_left as isize;
                if ix < 0 || ix as usize >= g.in_w {
                    continue;
                }
                let at = (row + ix as usize) * c + t.c0;
                // SAFETY: pixel (row, ix) is inside the image (row from
                // `rows`, ix checked just above) and x holds the whole
                // image (asserted); the mask keeps to channels c0 ..
                // min(c0 + 16, c) of that pixel.
                let v = unsafe { _mm512_maskz_loadu_ps(t.mask, t.x.as_ptr().add(at)) };
                *acc = _mm512_fmadd_ps(v, wv, *acc);
            }
        }
    }
    dw_store(t, ox, acc, out);
}

/// Activation and masked store of P output pixels from `ox` of one
/// channel block.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
#[inline]
fn dw_store<const P: usize>(
    t: &DwTile,
    ox: usize,
    acc: [std::arch::x86_64::__m512; P],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let c = t.g.channels;
    assert!(ox + P <= t.g.out_w && out.len() >= t.g.out_w * c && t.c0 < c);
    let zero = _mm512_setzero_ps();
    for (p, mut acc) in acc.into_iter().enumerate() {
        acc = match t.act {
            Act::None => acc,
            Act::Relu => _mm512_max_ps(acc, zero),
            Act::Relu6 => _mm512_min_ps(_mm512_max_ps(acc, zero), _mm512_set1_ps(6.0)),
        };
        // SAFETY: pixel ox + p < out_w of out's row (asserted), channels
        // c0 .. min(c0 + 16, c) by the mask.
        unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add((ox + p) * c + t.c0), t.mask, acc) };
    }
}

/// [`dw_slide`] for the tile's kernel and stride (3 or 5, 1 or 2, without
/// dilation: the caller checks), column checks unless `inside`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
fn dw_slide_any<const P: usize>(t: &DwTile, ox: usize, out: &mut [f32], inside: bool) {
    match (t.g.kernel, t.g.stride, inside) {
        (3, 1, true) => dw_slide::<3, 1, P, false>(t, ox, out),
        (3, 1, false) => dw_slide::<3, 1, P, true>(t, ox, out),
        (3, _, true) => dw_slide::<3, 2, P, false>(t, ox, out),
        (3, _, false) => dw_slide::<3, 2, P, true>(t, ox, out),
        (_, 1, true) => dw_slide::<5, 1, P, false>(t, ox, out),
        (_, 1, false) => dw_slide::<5, 1, P, true>(t, ox, out),
        (_, _, true) => dw_slide::<5, 2, P, false>(t, ox, out),
        (_, _, false) => dw_slide::<5, 2, P, true>(t, ox, out),
    }
}

/// P output pixels from `ox` of one channel block, K×K taps at stride S,
/// as a sliding window: each input pixel of a window row is loaded once
/// and multiplied into every output whose window holds it, instead of once
/// per output and tap. That takes the loads per multiply-add from over 1
/// (with the 25 tap weights of a 5×5 kernel spilled out of the registers)
/// to 0.4 (K = 5, S = 1, P = 8); the loads are what bounds the depthwise
/// layers. With CHECK, input columns outside the image are skipped (the
/// blocks at the row's ends); without, all windows must be inside.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
#[inline]
fn dw_slide<const K: usize, const S: usize, const P: usize, const CHECK: bool>(
    t: &DwTile,
    ox: usize,
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let g = t.g;
    let c = g.channels;
    assert!(g.kernel == K && g.stride == S && g.dilation == 1 && t.c0 < c);
    assert!(CHECK || (ox >= t.interior.0 && ox + P <= t.interior.1));
    assert!(ox + P <= g.out_w && t.x.len() >= g.in_h * g.in_w * c);
    // The block's first input column (before the image with padding).
    let x0 = (ox * S) as isize - g.pad_left as isize;
    let mut acc = [t.b; P];
    for (ky, row) in t.rows.iter().enumerate().take(K) {
        let Some(row) = *row else { continue };
        let w: [__m512; K] = std::array::from_fn(|kx| t.weight(ky * K + kx));
        // Without CHECK, the interior columns keep all (P - 1)·S + K input
        // pixels of the window row inside the image's row.
        assert!(CHECK || x0 >= 0 && x0 as usize + (P - 1) * S + K <= g.in_w);
        // The window row's pixels, each loaded once (zero outside the
        // image). Plain loops over constants, which the compiler unrolls
        // with `v` and `acc` in registers.
        let mut v = [_mm512_setzero_ps(); 24];
        for (j, v) in v.iter_mut().enumerate().take((P - 1) * S + K) {
            let ix = x0 + j as isize;
            if CHECK && (ix < 0 || ix as usize >= g.in_w) {
                continue;
            }
            let at = (row + ix as usize) * c + t.c0;
            // SAFETY: input pixel (row, ix) is inside the image (ix
            // checked just above, or asserted for the whole block; `row`
            // from `rows`), which x holds (asserted); the mask keeps to
            // channels c0 .. min(c0 + 16, c).
            *v = unsafe { _mm512_maskz_loadu_ps(t.mask, t.x.as_ptr().add(at)) };
        }
        for (p, acc) in acc.iter_mut().enumerate() {
            for (kx, w) in w.iter().enumerate() {
                *acc = _mm512_fmadd_ps(v[p * S + kx], *w, *acc);
            }
        }
    }
    dw_store(t, ox, acc, out);
}

#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn depthwise_row_portable(
    x: &[f32],
    weights: &[f32],
    bias: &[f32],
    g: &Geometry,
    act: Act,
    oy: usize,
    out: &mut [f32],
) {
    // A fused multiply-add where the target has one (libm's fmaf otherwise).
    let fma = target_cfg_f!(target_feature = "fma");
    let madd = |x: f32, y: f32, z: f32| if fma { x.mul_add(y, z) } else { x * y + z };
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
                for ((a, s), w) in acc.iter_mut().zip(src).zip(w) {
                    *a = madd(*s, *w, *a);
                }
            }
        }
    }
    activate(out, act);
}

/// im2col rows for a k×k convolution of one NHWC image: output pixels from
/// image row `first_row` on, as many as `cols` holds ([m, k·k·C]), zero
/// where the window leaves the image, in the (ky, kx, c) order of TFLite's
/// OHWI filters.
pub(crate) fn im2col_rows(x: &[f32], g: &Geometry, first_row: usize, cols: &mut [f32]) {
    let c = g.channels;
    let patch = g.kernel * g.kernel * c;
    // A window row is k·c contiguous floats when the taps are adjacent.
    let span = g.kernel * c;
    for (p, dst) in cols.chunks_exact_mut(patch).enumerate() {
        let (oy, ox) = (first_row + p / g.out_w, p % g.out_w);
        let iy0 = (oy * g.stride) as isize - g.pad_top as isize;
        let ix0 = (ox * g.stride) as isize - g.pad_left as isize;
        let reach = ((g.kernel - 1) * g.dilation) as isize;
        let inside =
            iy0 >= 0 && ix0 >= 0 && iy0 + reach < g.in_h as isize && ix0 + reach < g.in_w as isize;
        if inside && g.dilation == 1 {
            // The whole window is in the image: k row segments (of fixed
            // length for the first layers' 3-channel windows, which a
            // memcpy call per segment would dominate).
            let rows = (0..g.kernel).map(|ky| ((iy0 as usize + ky) * g.in_w + ix0 as usize) * c);
            match span {
                9 => copy_rows::<9>(x, rows, dst),
                15 => copy_rows::<15>(x, rows, dst),
                _ => {
                    for (ky, start) in rows.enumerate() {
                        dst[ky * span..(ky + 1) * span].copy_from_slice(&x[start..start + span]);
                    }
                }
            }
            continue;
        }
        dst.fill(0.0);
        for ky in 0..g.kernel {
            let iy = iy0 + (ky * g.dilation) as isize;
            if iy < 0 || iy >= g.in_h as isize {
                continue;
            }
            for kx in 0..g.kernel {
                let ix = ix0 + (kx * g.dilation) as isize;
                if ix < 0 || ix >= g.in_w as isize {
                    continue;
                }
                let src = &x[(iy as usize * g.in_w + ix as usize) * c..][..c];
                dst[(ky * g.kernel + kx) * c..][..c].copy_from_slice(src);
            }
        }
    }
}

/// Copies `N` floats from each start in `x` to consecutive runs of `dst`.
#[inline]
fn copy_rows<const N: usize>(x: &[f32], starts: impl Iterator<Item = usize>, dst: &mut [f32]) {
    for (d, start) in dst.chunks_exact_mut(N).zip(starts) {
        let src: &[f32; N] = x[start..start + N].try_into().expect("N floats");
        let d: &mut [f32; N] = d.try_into().expect("N floats");
        *d = *src;
    }
}

/// PReLU in place over NHWC data: `alpha[c] * x` where negative.
pub(crate) fn prelu_in_place(x: &mut [f32], alpha: &[f32]) {
    for px in x.chunks_exact_mut(alpha.len()) {
        for (v, a) in px.iter_mut().zip(alpha) {
            // Branch-free (a sign test mispredicts on real activations)
            // and vectorisable.
            *v = v.max(0.0) + a * v.min(0.0);
        }
    }
}

/// 2×2 (or k×k) max pooling of one NHWC image without padding, into `out`.
pub(crate) fn max_pool_into(x: &[f32], g: &Geometry, out: &mut [f32]) {
    let c = g.channels;
    out.fill(f32::NEG_INFINITY);
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
}

/// The activation in place.
pub(crate) fn activate(v: &mut [f32], act: Act) {
    match act {
        Act::None => {}
        Act::Relu => v.iter_mut().for_each(|x| *x = x.max(0.0)),
        Act::Relu6 => v.iter_mut().for_each(|x| *x = x.clamp(0.0, 6.0)),
    }
}

/// Weights `[k, n]` repacked for [`gemm_packed`]: panels of 32 columns
/// (16 for a remainder of 16 or less), each `[k][width]` contiguous and
/// zero-padded, so the product streams them. Done once at load.
#[derive(Clone, Debug)]
pub struct Packed {
    k: usize,
    n: usize,
    /// (first column, columns, width, offset in `data`) of each panel.
    panels: Vec<(usize, usize, usize, usize)>,
    data: Vec<f32>,
}

impl Packed {
    pub fn new(w: &[f32], k: usize, n: usize) -> Packed {
        assert_eq!(w.len(), k * n, "weights are not k x n");
        let mut panels = Vec::new();
        let mut data = Vec::new();
        let mut j0 = 0;
        while j0 < n {
            let rest = n - j0;
            let width = if rest <= 16 { 16 } else { 32 };
            let cols = width.min(rest);
            let offset = data.len();
            data.resize(offset + k * width, 0.0);
            for kk in 0..k {
                data[offset + kk * width..][..cols].copy_from_slice(&w[kk * n + j0..][..cols]);
            }
            panels.push((j0, cols, width, offset));
            j0 += cols;
        }
        Packed { k, n, panels, data }
    }

    pub fn k(&self) -> usize {
        self.k
    }
}

/// What a product adds before and applies after: the output starts as
/// `bias` (+ `residual`), and `act` or, with `alpha`, PReLU runs on it
/// before it is stored.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    pub bias: &'a [f32],
    /// Rows aligned with the output's (stride n).
    pub residual: Option<&'a [f32]>,
    pub act: Act,
    pub alpha: Option<&'a [f32]>,
}

/// `[f32; W]` from up to W values, zero-filled.
fn padded<const W: usize>(src: &[f32]) -> [f32; W] {
    match <[f32; W]>::try_from(src) {
        Ok(full) => full,
        Err(_) => {
            let mut t = [0f32; W];
            t[..src.len()].copy_from_slice(src);
            t
        }
    }
}

/// `acc` += the R rows of `a` (each at least k long) · one W-wide panel
/// (k rows of W): the portable version, vectorised by the compiler for
/// the CPU found at run time.
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx"))]
fn product_portable<const R: usize, const W: usize>(
    acc: &mut [[f32; W]; R],
    rows: &[&[f32]; R],
    panel: &[f32],
    k: usize,
) {
    // A fused multiply-add where the target has one; a plain one (which
    // still vectorises) where it has not, instead of libm's fmaf.
    let fma = target_cfg_f!(target_feature = "fma");
    let madd = |x: f32, y: f32, z: f32| if fma { x.mul_add(y, z) } else { x * y + z };
    for (kk, b) in panel.chunks_exact(W).take(k).enumerate() {
        let b: &[f32; W] = b.try_into().expect("panel rows are W wide");
        for r in 0..R {
            let x = rows[r][kk];
            for j in 0..W {
                acc[r][j] = madd(x, b[j], acc[r][j]);
            }
        }
    }
}

/// A whole R×W tile with AVX-512 intrinsics, V vectors of 16 per row
/// (W = 16·V): bias and residual loaded into the accumulators, the product,
/// the activation or PReLU, and masked stores of the valid columns, all in
/// registers. Written by hand because the compiler splits these tiles into
/// odd vector widths and round-trips the accumulators through memory; this
/// keeps all R·V accumulators in registers, loads each panel row once and
/// broadcasts each input value once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(unsafe_code)]
// Indices name registers (row r, vector q) as in the tile's layout.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
fn tile_avx512<const R: usize, const W: usize, const V: usize>(
    dst: &mut [f32],
    n: usize,
    (j0, cols): (usize, usize),
    a: &[f32],
    k: usize,
    panel: &[f32],
    e: &Epilogue,
    first_row: usize,
) {
    use std::arch::x86_64::*;
    // Every vector holds at least one real column (Packed makes 32-wide
    // panels only for more than 16 columns).
    assert!(W == 16 * V && cols <= W && cols > 16 * (V - 1) && j0 + cols <= n);
    assert!(dst.len() >= R * n && a.len() >= R * k && panel.len() >= k * W);
    assert!(e.bias.len() == n && e.alpha.is_none_or(|al| al.len() == n));
    assert!(e
        .residual
        .is_none_or(|res| res.len() >= (first_row + R) * n));
    // Lanes of each vector that hold real columns.
    let mut mask = [0u16; V];
    for q in 0..V {
        let valid = cols.saturating_sub(16 * q).min(16);
        mask[q] = ((1u32 << valid) - 1) as u16;
    }
    // SAFETY (every masked load and store below): the base pointer is
    // column j0 + 16q < j0 + cols <= n of a row of n values (asserted), so
    // it stays inside the slice, and the mask covers
    // only the valid columns j0 + 16q .. j0 + cols, all inside the row;
    // masked-off lanes are neither read nor written.
    let mut v = [[_mm512_setzero_ps(); V]; R];
    for q in 0..V {
        // SAFETY: masked bias load, as above.
        let b = unsafe { _mm512_maskz_loadu_ps(mask[q], e.bias.as_ptr().add(j0 + 16 * q)) };
        for r in 0..R {
            v[r][q] = b;
            if let Some(res) = e.residual {
                let at = (first_row + r) * n + j0 + 16 * q;
                // SAFETY: masked residual load, as above (row first_row + r
                // of the residual, inside it: asserted).
                let x = unsafe { _mm512_maskz_loadu_ps(mask[q], res.as_ptr().add(at)) };
                v[r][q] = _mm512_add_ps(v[r][q], x);
            }
        }
    }
    for kk in 0..k {
        let mut b = [_mm512_setzero_ps(); V];
        for (q, b) in b.iter_mut().enumerate() {
            // SAFETY: kk·W + 16·q + 16 <= k·W <= panel.len() (asserted).
            *b = unsafe { _mm512_loadu_ps(panel.as_ptr().add(kk * W + 16 * q)) };
        }
        for r in 0..R {
            let x = _mm512_set1_ps(a[r * k + kk]);
            for q in 0..V {
                v[r][q] = _mm512_fmadd_ps(x, b[q], v[r][q]);
            }
        }
    }
    let zero = _mm512_setzero_ps();
    let six = _mm512_set1_ps(6.0);
    for q in 0..V {
        // SAFETY: masked slope load, as above.
        let alpha = e
            .alpha
            .map(|al| unsafe { _mm512_maskz_loadu_ps(mask[q], al.as_ptr().add(j0 + 16 * q)) });
        for r in 0..R {
            let mut y = v[r][q];
            y = match (alpha, e.act) {
                (Some(al), _) => {
                    let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(y, zero);
                    _mm512_mask_mul_ps(y, neg, y, al)
                }
                (None, Act::None) => y,
                (None, Act::Relu) => _mm512_max_ps(y, zero),
                (None, Act::Relu6) => _mm512_min_ps(_mm512_max_ps(y, zero), six),
            };
            // SAFETY: masked store into row r of dst, as above.
            unsafe { _mm512_mask_storeu_ps(dst.as_mut_ptr().add(r * n + j0 + 16 * q), mask[q], y) };
        }
    }
}

/// One R×W tile: `dst` rows (stride n, columns j0..j0+cols) = epilogue(
/// bias + residual + `a` rows (stride k) · one panel).
#[allow(clippy::too_many_arguments)]
fn tile<const R: usize, const W: usize>(
    dst: &mut [f32],
    n: usize,
    (j0, cols): (usize, usize),
    a: &[f32],
    k: usize,
    panel: &[f32],
    e: &Epilogue,
    first_row: usize,
    avx512: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if avx512 {
        // SAFETY: `avx512` is only true where the CPU has AVX-512F (see
        // `gemm_packed`), the only requirement of tile_avx512 beyond its
        // asserted bounds.
        #[allow(unsafe_code)]
        unsafe {
            match W {
                32 => tile_avx512::<R, W, 2>(dst, n, (j0, cols), a, k, panel, e, first_row),
                _ => tile_avx512::<R, W, 1>(dst, n, (j0, cols), a, k, panel, e, first_row),
            }
        }
        return;
    }
    let bias: [f32; W] = padded(&e.bias[j0..j0 + cols]);
    let mut acc: [[f32; W]; R] = [bias; R];
    if let Some(res) = e.residual {
        for (r, acc) in acc.iter_mut().enumerate() {
            let rr: [f32; W] = padded(&res[(first_row + r) * n + j0..][..cols]);
            for j in 0..W {
                acc[j] += rr[j];
            }
        }
    }
    let rows: [&[f32]; R] = std::array::from_fn(|r| &a[r * k..][..k]);
    product_portable::<R, W>(&mut acc, &rows, panel, k);
    let alpha: Option<[f32; W]> = e.alpha.map(|a| padded(&a[j0..j0 + cols]));
    for (r, mut out) in acc.into_iter().enumerate() {
        match (alpha, e.act) {
            (Some(al), _) => {
                for j in 0..W {
                    if out[j] < 0.0 {
                        out[j] *= al[j];
                    }
                }
            }
            (None, Act::None) => {}
            (None, Act::Relu) => out.iter_mut().for_each(|v| *v = v.max(0.0)),
            (None, Act::Relu6) => out.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
        }
        dst[r * n + j0..][..cols].copy_from_slice(&out[..cols]);
    }
}

/// `dst` [m, n] = epilogue(`a` [m, k] · `b`), `b` packed: the 1×1
/// convolutions (and k×k ones after im2col). Single-threaded: the callers
/// split rows between cores. `first_row` is where `dst`'s rows start in
/// the residual.
pub fn gemm_packed(
    dst: &mut [f32],
    a: &[f32],
    b: &Packed,
    m: usize,
    e: &Epilogue,
    first_row: usize,
) {
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    gemm_packed_on(dst, a, b, m, e, first_row, avx512);
}

/// [`gemm_packed`] on the AVX-512 kernel or the portable one (`avx512`
/// true only where the CPU has it).
fn gemm_packed_on(
    dst: &mut [f32],
    a: &[f32],
    b: &Packed,
    m: usize,
    e: &Epilogue,
    first_row: usize,
    avx512: bool,
) {
    let (k, n) = (b.k, b.n);
    assert!(dst.len() == m * n && a.len() == m * k && e.bias.len() == n);
    for &(j0, cols, width, offset) in &b.panels {
        let p = &b.data[offset..offset + k * width];
        let c = (j0, cols);
        // Row tiles: 6 rows of 32 columns, or 12 of 16, so that a tile
        // always has 12 independent accumulators (FMA latency × pipes).
        let mr = if width == 32 { 6 } else { 12 };
        for r0 in (0..m).step_by(mr) {
            let rows = mr.min(m - r0);
            let d = &mut dst[r0 * n..(r0 + rows) * n];
            let x = &a[r0 * k..(r0 + rows) * k];
            let fr = first_row + r0;
            match (rows, width) {
                (6, 32) => tile::<6, 32>(d, n, c, x, k, p, e, fr, avx512),
                (5, 32) => tile::<5, 32>(d, n, c, x, k, p, e, fr, avx512),
                (4, 32) => tile::<4, 32>(d, n, c, x, k, p, e, fr, avx512),
                (3, 32) => tile::<3, 32>(d, n, c, x, k, p, e, fr, avx512),
                (2, 32) => tile::<2, 32>(d, n, c, x, k, p, e, fr, avx512),
                (_, 32) => tile::<1, 32>(d, n, c, x, k, p, e, fr, avx512),
                (12, _) => tile::<12, 16>(d, n, c, x, k, p, e, fr, avx512),
                (9..=11, _) => {
                    let (d0, d1) = d.split_at_mut(8 * n);
                    tile::<8, 16>(d0, n, c, &x[..8 * k], k, p, e, fr, avx512);
                    gemm_rest16(d1, n, c, &x[8 * k..], k, p, e, (fr + 8, avx512));
                }
                _ => gemm_rest16(d, n, c, x, k, p, e, (fr, avx512)),
            }
        }
    }
}

/// Up to 8 remaining rows of a 16-wide panel.
#[allow(clippy::too_many_arguments)]
fn gemm_rest16(
    d: &mut [f32],
    n: usize,
    c: (usize, usize),
    x: &[f32],
    k: usize,
    p: &[f32],
    e: &Epilogue,
    (fr, avx512): (usize, bool),
) {
    match d.len() / n {
        8 => tile::<8, 16>(d, n, c, x, k, p, e, fr, avx512),
        7 => tile::<7, 16>(d, n, c, x, k, p, e, fr, avx512),
        6 => tile::<6, 16>(d, n, c, x, k, p, e, fr, avx512),
        5 => tile::<5, 16>(d, n, c, x, k, p, e, fr, avx512),
        4 => tile::<4, 16>(d, n, c, x, k, p, e, fr, avx512),
        3 => tile::<3, 16>(d, n, c, x, k, p, e, fr, avx512),
        2 => tile::<2, 16>(d, n, c, x, k, p, e, fr, avx512),
        _ => tile::<1, 16>(d, n, c, x, k, p, e, fr, avx512),
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

    fn depthwise(
        x: &[f32],
        w: &[f32],
        b: &[f32],
        g: &Geometry,
        act: Act,
        portable: bool,
    ) -> Vec<f32> {
        let row = g.out_w * g.channels;
        let mut out = vec![0f32; g.out_h * row];
        if portable {
            for (oy, o) in out.chunks_exact_mut(row).enumerate() {
                depthwise_row_portable(x, w, b, g, act, oy, o);
            }
        } else {
            // Blocks of two rows (and a last one of one where odd).
            let packed = DwWeights::new(w, g.kernel * g.kernel, g.channels);
            for (i, o) in out.chunks_mut(2 * row).enumerate() {
                depthwise_rows(x, &packed, b, g, act, 2 * i, o);
            }
        }
        out
    }

    #[test]
    fn depthwise_matches_the_definition_with_asymmetric_padding() {
        // 9x7 image, 3x3 stride 2 with TFLite SAME's 1/1 padding, 5
        // channels; and 5x5 stride 1 with 40 channels (two full vectors and
        // a partial one).
        let geometries = [
            Geometry {
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
            },
            Geometry {
                in_h: 6,
                in_w: 8,
                channels: 40,
                out_h: 6,
                out_w: 8,
                kernel: 5,
                stride: 1,
                dilation: 1,
                pad_top: 2,
                pad_left: 2,
            },
            // Wide rows: blocks of 8 pixels whose windows are all inside.
            Geometry {
                in_h: 5,
                in_w: 40,
                channels: 24,
                out_h: 5,
                out_w: 40,
                kernel: 3,
                stride: 1,
                dilation: 1,
                pad_top: 1,
                pad_left: 1,
            },
            Geometry {
                in_h: 9,
                in_w: 44,
                channels: 36,
                out_h: 5,
                out_w: 22,
                kernel: 5,
                stride: 2,
                dilation: 1,
                pad_top: 1,
                pad_left: 1,
            },
            Geometry {
                in_h: 7,
                in_w: 41,
                channels: 20,
                out_h: 3,
                out_w: 20,
                kernel: 3,
                stride: 2,
                dilation: 1,
                pad_top: 0,
                pad_left: 0,
            },
        ];
        for g in geometries {
            let c = g.channels;
            let x: Vec<f32> = (0..g.in_h * g.in_w * c)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
                .collect();
            let w: Vec<f32> = (0..g.kernel * g.kernel * c)
                .map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0)
                .collect();
            let b: Vec<f32> = (0..c).map(|i| i as f32 * 0.1).collect();
            let want = naive(&x, &w, &b, &g);
            for portable in [true, false] {
                let got = depthwise(&x, &w, &b, &g, Act::None, portable);
                for (a, b) in got.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-4, "{a} vs {b} (portable {portable})");
                }
                let relu6 = depthwise(&x, &w, &b, &g, Act::Relu6, portable);
                for (a, b) in relu6.iter().zip(&want) {
                    assert!((a - b.clamp(0.0, 6.0)).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn packed_product_matches_the_definition() {
        // Sizes that leave partial tiles and 32- and 16-wide panels.
        for (m, k, n) in [
            (61, 7, 37),
            (6, 27, 24),
            (1, 1, 1),
            (13, 40, 64),
            (8, 5, 80),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31 % 97) as f32 - 48.0) / 13.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 7 % 23) as f32 - 11.0) / 5.0)
                .collect();
            let bias: Vec<f32> = (0..n).map(|i| (i % 3) as f32 - 1.0).collect();
            let residual: Vec<f32> = (0..m * n).map(|i| (i % 5) as f32).collect();
            let alpha: Vec<f32> = (0..n).map(|i| 0.1 * (i % 4) as f32).collect();
            let packed = Packed::new(&b, k, n);
            let def = |r: usize, c: usize| -> f32 {
                bias[c] + (0..k).map(|i| a[r * k + i] * b[i * n + c]).sum::<f32>()
            };
            // Bias and ReLU6.
            let e = Epilogue {
                bias: &bias,
                residual: None,
                act: Act::Relu6,
                alpha: None,
            };
            let avx512 = {
                #[cfg(target_arch = "x86_64")]
                {
                    std::arch::is_x86_feature_detected!("avx512f")
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    false
                }
            };
            for kernel in [false, avx512] {
                let mut got = vec![f32::NAN; m * n];
                gemm_packed_on(&mut got, &a, &packed, m, &e, 0, kernel);
                // Rows 2.. with the residual and PReLU (first_row offsets it).
                let sub = m.saturating_sub(2);
                let mut got2 = vec![f32::NAN; sub * n];
                let e2 = Epilogue {
                    residual: Some(&residual),
                    act: Act::None,
                    alpha: Some(&alpha),
                    ..e
                };
                gemm_packed_on(&mut got2, &a[2.min(m) * k..], &packed, sub, &e2, 2, kernel);
                for r in 0..m {
                    for c in 0..n {
                        let want = def(r, c).clamp(0.0, 6.0);
                        assert!(
                            (got[r * n + c] - want).abs() < 1e-3,
                            "{m}x{k}x{n} ({r}, {c})"
                        );
                        if r >= 2 {
                            let x = def(r, c) + residual[r * n + c];
                            let want = if x < 0.0 { alpha[c] * x } else { x };
                            let g = got2[(r - 2) * n + c];
                            assert!((g - want).abs() < 1e-3, "{m}x{k}x{n} residual ({r}, {c})");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn prelu_and_activations_are_element_wise() {
        let a: Vec<f32> = (0..40).map(|i| (i % 13) as f32 - 6.0).collect();
        let alpha = [0.5, 0.25, 2.0, 0.0, 1.0];
        let mut p = a.clone();
        prelu_in_place(&mut p, &alpha);
        for i in 0..40 {
            let want = if a[i] >= 0.0 {
                a[i]
            } else {
                alpha[i % 5] * a[i]
            };
            assert_eq!(p[i], want, "{i}");
        }
        let mut r = a.clone();
        activate(&mut r, Act::Relu6);
        assert!(r.iter().all(|v| (0.0..=6.0).contains(v)));
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
        let mut cols = vec![7.0; 4 * 18];
        im2col_rows(&x, &g, 0, &mut cols);
        // Output (0, 0): rows 0..3, columns 0..3 of the image.
        assert_eq!(&cols[..6], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        // Output (1, 1) starts at pixel (2, 2); its window leaves the image at row/col 4.
        let last = &cols[3 * 18..];
        assert_eq!(&last[..2], &[20.0, 21.0]);
        assert_eq!(&last[4..6], &[0.0, 0.0]);
        // The second output row alone.
        let mut second = vec![0.0; 2 * 18];
        im2col_rows(&x, &g, 1, &mut second);
        assert_eq!(&second[..], &cols[2 * 18..]);
    }
}
