//! The CPU executor of a loaded graph: the prepared steps compiled once into
//! a plan of kernel calls on plain `f32` buffers.
//!
//! Written here rather than left to candle's tensors because, on these small
//! models, the per-op costs dominated: a fresh tensor allocation per op, a
//! full pass over memory for every element-wise op, single-threaded matrix
//! products on the small maps. The plan
//! - keeps its activations in an arena of buffers reused from run to run,
//!   a buffer shared by tensors whose lifetimes do not overlap (so the
//!   working set stays in cache);
//! - fuses a depthwise convolution into the 1×1 convolution that reads it
//!   (row blocks: the depthwise rows go to a per-thread scratch that the
//!   matrix product reads while it is still in cache), and a residual ADD
//!   (with its activation or PReLU) into the convolution that feeds it (the
//!   output starts as bias + residual and the product accumulates on it);
//! - splits big maps by row blocks and small ones by output channels, so
//!   both cores work on every layer.
//!
//! The result equals the step-by-step execution up to float rounding; the
//! reference test (`tests/reference.rs`) holds it to the TFLite runtime.

use crate::graph::{Step, TensorId};
use crate::kernels::{self, Act, Geometry};
use rayon::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;

/// What runs after a convolution's bias (and residual).
#[derive(Clone, Debug)]
enum Post {
    Act(Act),
    Prelu(Vec<f32>),
}

impl Post {
    fn is_none(&self) -> bool {
        matches!(self, Post::Act(Act::None))
    }

    /// The matrix product's epilogue: bias, residual, then this.
    fn epilogue<'a>(
        &'a self,
        bias: &'a [f32],
        residual: Option<&'a [f32]>,
    ) -> kernels::Epilogue<'a> {
        let (act, alpha) = match self {
            Post::Act(a) => (*a, None),
            Post::Prelu(alpha) => (Act::None, Some(alpha.as_slice())),
        };
        kernels::Epilogue {
            bias,
            residual,
            act,
            alpha,
        }
    }
}

/// A 1×1 convolution fused before a depthwise one (the "expansion" of an
/// inverted residual block): its rows are made per row block, in cache,
/// instead of a whole expanded map written to memory and read back.
#[derive(Debug)]
struct Expand {
    /// [Cin, C], packed.
    panels: kernels::Packed,
    bias: Vec<f32>,
    post: Post,
}

/// Expanded maps at least this big (bytes) are worth fusing; smaller ones
/// stay in cache anyway, and their row blocks would recompute too much of
/// the halo.
const EXPAND_FUSE_BYTES: usize = 1024 * 1024;
/// Output rows per block of a fused expansion: the halo rows computed twice
/// stay a small share.
const EXPAND_BLOCK_ROWS: usize = 8;

/// A 1×1 convolution fused after a depthwise one.
#[derive(Debug)]
struct Pointwise {
    /// [C, Cout], packed.
    panels: kernels::Packed,
    bias: Vec<f32>,
}

#[derive(Debug)]
enum Op {
    /// A full convolution: 1×1 stride 1 straight from the input rows, else
    /// through im2col row blocks. `residual` is added before `post`.
    Conv {
        input: TensorId,
        g: Geometry,
        /// [k·k·Cin, Cout], packed.
        panels: kernels::Packed,
        bias: Vec<f32>,
        residual: Option<TensorId>,
        post: Post,
    },
    /// A depthwise convolution, optionally followed by a fused 1×1 one
    /// (then `residual`/`post` belong to that).
    Depthwise {
        input: TensorId,
        g: Geometry,
        weights: kernels::DwWeights,
        bias: Vec<f32>,
        act: Act,
        pointwise: Option<Pointwise>,
        residual: Option<TensorId>,
        post: Post,
        /// With an expansion, `input` is the expansion's input.
        expand: Option<Expand>,
    },
    Add {
        a: TensorId,
        b: TensorId,
        post: Post,
    },
    Mean {
        input: TensorId,
        channels: usize,
    },
    FullyConnected {
        input: TensorId,
        /// [in, out]
        weights: Vec<f32>,
        bias: Vec<f32>,
        act: Act,
    },
    Logistic {
        input: TensorId,
    },
    MaxPool {
        input: TensorId,
        g: Geometry,
    },
    Prelu {
        input: TensorId,
        alpha: Vec<f32>,
    },
    Pad {
        input: TensorId,
        /// NHWC input shape.
        shape: [usize; 4],
        pads: [(usize, usize); 4],
    },
    Resize {
        input: TensorId,
        /// Input (h, w, c).
        hwc: (usize, usize, usize),
        /// Per output row / column: (source, weight) pairs.
        taps_y: Vec<[(usize, f32); 2]>,
        taps_x: Vec<[(usize, f32); 2]>,
    },
    Copy {
        input: TensorId,
    },
    Concat {
        inputs: Vec<TensorId>,
        /// Elements per outer index of each input.
        inner: Vec<usize>,
        outer: usize,
    },
}

impl Op {
    fn reads(&self) -> Vec<TensorId> {
        match self {
            Op::Conv {
                input, residual, ..
            }
            | Op::Depthwise {
                input, residual, ..
            } => std::iter::once(*input).chain(*residual).collect(),
            Op::Add { a, b, .. } => vec![*a, *b],
            Op::Mean { input, .. }
            | Op::FullyConnected { input, .. }
            | Op::Logistic { input }
            | Op::MaxPool { input, .. }
            | Op::Prelu { input, .. }
            | Op::Pad { input, .. }
            | Op::Resize { input, .. }
            | Op::Copy { input } => vec![*input],
            Op::Concat { inputs, .. } => inputs.clone(),
        }
    }

    /// Shapes and fusions, and the multiply-adds (expansions counted
    /// once per input pixel, without the halo rows recomputed).
    fn detail(&self) -> (String, u64) {
        match self {
            Op::Conv { g, bias, .. } => {
                let n = bias.len();
                let macs = g.out_h * g.out_w * g.kernel * g.kernel * g.channels * n;
                let shape = format!("{}x{}x{}", g.in_h, g.in_w, g.channels);
                let k = format!("k{} s{}", g.kernel, g.stride);
                (
                    format!("{shape} {k} -> {}x{}x{n}", g.out_h, g.out_w),
                    macs as u64,
                )
            }
            Op::Depthwise {
                g,
                pointwise,
                expand,
                ..
            } => {
                let c = g.channels;
                let (ex_macs, ex) = match expand {
                    Some(e) => (
                        g.in_h * g.in_w * e.panels.k() * c,
                        format!("1x1 {} -> ", e.panels.k()),
                    ),
                    None => (0, String::new()),
                };
                let dw_macs = g.out_h * g.out_w * c * g.kernel * g.kernel;
                let (pw_macs, pw) = match pointwise {
                    Some(p) => (
                        g.out_h * g.out_w * c * p.bias.len(),
                        format!(" -> 1x1 {}", p.bias.len()),
                    ),
                    None => (0, String::new()),
                };
                let dw = format!(
                    "dw k{} s{} {}x{}x{c} -> {}x{}",
                    g.kernel, g.stride, g.in_h, g.in_w, g.out_h, g.out_w
                );
                (
                    format!("{ex}{dw}{pw}"),
                    (ex_macs + dw_macs + pw_macs) as u64,
                )
            }
            Op::FullyConnected { weights, bias, .. } => (
                format!("{} -> {}", weights.len() / bias.len().max(1), bias.len()),
                weights.len() as u64,
            ),
            _ => (String::new(), 0),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Op::Conv { g, .. } if g.kernel == 1 && g.stride == 1 => "conv1x1",
            Op::Conv { .. } => "conv",
            Op::Depthwise {
                pointwise: Some(_), ..
            } => "depthwise+conv1x1",
            Op::Depthwise { .. } => "depthwise",
            Op::Add { .. } => "add",
            Op::Mean { .. } => "mean",
            Op::FullyConnected { .. } => "fully_connected",
            Op::Logistic { .. } => "logistic",
            Op::MaxPool { .. } => "max_pool",
            Op::Prelu { .. } => "prelu",
            Op::Pad { .. } => "pad",
            Op::Resize { .. } => "resize",
            Op::Copy { .. } => "reshape",
            Op::Concat { .. } => "concat",
        }
    }
}

/// A compiled graph for the CPU.
pub(crate) struct Plan {
    ops: Vec<(Op, TensorId)>,
    /// Arena slot of each tensor the plan writes.
    slot: HashMap<TensorId, usize>,
    /// Element count of every tensor.
    len: Vec<usize>,
    consts: HashMap<TensorId, Vec<f32>>,
    /// Length of each slot: its longest tensor.
    slot_len: Vec<usize>,
    input: TensorId,
    /// Buffers kept between runs: a run takes a set and puts it back, so
    /// runs side by side (several crops at once) each have their own.
    arenas: parking_lot::Mutex<Vec<Vec<Vec<f32>>>>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("ops", &self.ops.len())
            .field("slots", &self.slot_len.len())
            .field(
                "arena_bytes",
                &(self.slot_len.iter().sum::<usize>() * std::mem::size_of::<f32>()),
            )
            .finish()
    }
}

/// Output pixels a row-block task aims for: enough work to amortise a
/// task's start and the tiles' edges, few enough that both cores get
/// blocks (512 measured best of 128 to 1024 on the landmark model).
const BLOCK_PIXELS: usize = 512;

/// The size of blocks of about `target` units (rows, pixels) over `total`,
/// their count a multiple of the cores: the cores take blocks by turns,
/// so 7 blocks on 2 cores would finish after 4 (a 56-row map in blocks of
/// 9 rows kept one core idle for a seventh of the layer).
fn balanced(total: usize, target: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let blocks = total
        .div_ceil(target.max(1))
        .next_multiple_of(threads)
        .min(total)
        .max(1);
    total.div_ceil(blocks)
}

/// Image rows per task for an `out_h` × `out_w` map: about
/// [`BLOCK_PIXELS`], balanced between the cores.
fn block_rows(out_h: usize, out_w: usize) -> usize {
    balanced(out_h, BLOCK_PIXELS / out_w.max(1))
}

thread_local! {
    /// Per-thread scratch of the fused kernels (im2col or depthwise rows).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len {
            s.resize(len, 0.0);
        }
        f(&mut s[..len])
    })
}

impl Plan {
    /// Compiles prepared steps; `None` when a step has no CPU kernel here
    /// (the graph then runs step by step with candle).
    pub(crate) fn build(
        steps: &[(Step, TensorId)],
        shapes: &[Vec<usize>],
        consts: &HashMap<TensorId, candle_core::Tensor>,
        input: TensorId,
        outputs: &[TensorId],
    ) -> Option<Plan> {
        let vec = |t: &candle_core::Tensor| -> Option<Vec<f32>> {
            t.flatten_all().ok()?.to_vec1::<f32>().ok()
        };
        let mut ops = Vec::with_capacity(steps.len());
        for (step, out) in steps {
            let op = match step {
                Step::Conv {
                    input,
                    weight_mat,
                    weight_dw,
                    bias_vec,
                    geometry,
                    depthwise,
                    act,
                    ..
                } => {
                    if *depthwise {
                        Op::Depthwise {
                            input: *input,
                            g: *geometry,
                            weights: kernels::DwWeights::new(
                                weight_dw,
                                geometry.kernel * geometry.kernel,
                                geometry.channels,
                            ),
                            bias: bias_vec.clone(),
                            act: *act,
                            pointwise: None,
                            residual: None,
                            post: Post::Act(Act::None),
                            expand: None,
                        }
                    } else {
                        Op::Conv {
                            input: *input,
                            g: *geometry,
                            panels: kernels::Packed::new(
                                &vec(weight_mat)?,
                                geometry.kernel * geometry.kernel * geometry.channels,
                                bias_vec.len(),
                            ),
                            bias: bias_vec.clone(),
                            residual: None,
                            post: Post::Act(*act),
                        }
                    }
                }
                Step::Add { a, b, act, prelu } => {
                    if shapes[*a] != shapes[*b] {
                        return None;
                    }
                    Op::Add {
                        a: *a,
                        b: *b,
                        post: match prelu {
                            Some(alpha) => Post::Prelu(vec(alpha)?),
                            None => Post::Act(*act),
                        },
                    }
                }
                Step::SpatialMean { input } => Op::Mean {
                    input: *input,
                    channels: *shapes[*input].last()?,
                },
                Step::FullyConnected {
                    input,
                    weight_t,
                    bias,
                    act,
                } => Op::FullyConnected {
                    input: *input,
                    weights: vec(weight_t)?,
                    bias: vec(bias)?,
                    act: *act,
                },
                Step::Logistic { input } => Op::Logistic { input: *input },
                Step::MaxPool {
                    input, geometry, ..
                } => Op::MaxPool {
                    input: *input,
                    g: *geometry,
                },
                Step::Prelu { input, alpha } => Op::Prelu {
                    input: *input,
                    alpha: vec(alpha)?,
                },
                Step::Pad { input, pads } => {
                    let s = &shapes[*input];
                    Op::Pad {
                        input: *input,
                        shape: [*s.first()?, *s.get(1)?, *s.get(2)?, *s.get(3)?],
                        pads: *pads,
                    }
                }
                Step::Resize { input, ry, rx } => {
                    let s = &shapes[*input];
                    if s.len() != 4 || s[0] != 1 {
                        return None;
                    }
                    let taps = |m: &candle_core::Tensor| -> Option<Vec<[(usize, f32); 2]>> {
                        let rows = m.to_vec2::<f32>().ok()?;
                        Some(
                            rows.iter()
                                .map(|r| {
                                    let mut t = [(0, 0.0); 2];
                                    let mut k = 0;
                                    for (i, &w) in r.iter().enumerate() {
                                        if w != 0.0 && k < 2 {
                                            t[k] = (i, w);
                                            k += 1;
                                        }
                                    }
                                    t
                                })
                                .collect(),
                        )
                    };
                    Op::Resize {
                        input: *input,
                        hwc: (s[1], s[2], s[3]),
                        taps_y: taps(ry)?,
                        taps_x: taps(rx)?,
                    }
                }
                Step::Reshape { input, .. } => Op::Copy { input: *input },
                Step::Concat { inputs, axis } => {
                    let out_shape = &shapes[*out];
                    let outer: usize = out_shape[..*axis].iter().product();
                    let inner = inputs
                        .iter()
                        .map(|&i| shapes[i][*axis..].iter().product())
                        .collect();
                    Op::Concat {
                        inputs: inputs.clone(),
                        inner,
                        outer,
                    }
                }
            };
            ops.push((op, *out));
        }
        let mut consts_f32 = HashMap::new();
        for (op, _) in &ops {
            for t in op.reads() {
                if let Some(c) = consts.get(&t) {
                    consts_f32.insert(t, vec(c)?);
                }
            }
        }
        let ops = fuse(ops, outputs);
        let len: Vec<usize> = shapes.iter().map(|s| s.iter().product()).collect();
        // Slots: a tensor's buffer is free again after its last reader.
        let mut last_read: HashMap<TensorId, usize> = HashMap::new();
        for (i, (op, _)) in ops.iter().enumerate() {
            for t in op.reads() {
                last_read.insert(t, i);
            }
        }
        let mut slot = HashMap::new();
        let mut free: Vec<usize> = Vec::new();
        let mut slots = 0;
        let mut take = |free: &mut Vec<usize>| {
            free.pop().unwrap_or_else(|| {
                slots += 1;
                slots - 1
            })
        };
        let mut slot_len: Vec<usize> = Vec::new();
        for (i, (op, out)) in ops.iter().enumerate() {
            let s = take(&mut free);
            slot.insert(*out, s);
            slot_len.resize(slot_len.len().max(s + 1), 0);
            slot_len[s] = slot_len[s].max(len[*out]);
            for t in op.reads() {
                if last_read.get(&t) == Some(&i) && !outputs.contains(&t) {
                    if let Some(&s) = slot.get(&t) {
                        if !free.contains(&s) {
                            free.push(s);
                        }
                    }
                }
            }
        }
        Some(Plan {
            ops,
            slot,
            len,
            consts: consts_f32,
            slot_len,
            input,
            arenas: parking_lot::Mutex::new(Vec::new()),
        })
    }

    /// Runs on one input (TFLite's NHWC order, already the right size) on
    /// the thread pool and returns each requested output's data (with
    /// `times`, each op's time appended).
    pub(crate) fn run(
        &self,
        input: &[f32],
        outputs: &[TensorId],
        times: Option<&mut Vec<std::time::Duration>>,
    ) -> Vec<Vec<f32>> {
        crate::in_pool(|| self.run_here(input, outputs, times))
    }

    /// [`Plan::run`] on the current thread (of the pool).
    fn run_here(
        &self,
        input: &[f32],
        outputs: &[TensorId],
        mut times: Option<&mut Vec<std::time::Duration>>,
    ) -> Vec<Vec<f32>> {
        assert_eq!(input.len(), self.len[self.input], "input size");
        let mut arena = self.arenas.lock().pop().unwrap_or_else(|| {
            self.slot_len
                .iter()
                .map(|&n| vec![0f32; n])
                .collect::<Vec<_>>()
        });
        for (op, out) in &self.ops {
            let started = times.as_ref().map(|_| std::time::Instant::now());
            let s = self.slot[out];
            // Each slot is as long as its longest tensor from the start: no
            // resizing (and zero-filling) between tensors sharing it.
            let mut dst = std::mem::take(&mut arena[s]);
            self.exec(op, &arena, input, &mut dst[..self.len[*out]]);
            arena[s] = dst;
            if let (Some(times), Some(started)) = (times.as_mut(), started) {
                times.push(started.elapsed());
            }
        }
        let result = outputs
            .iter()
            .map(|o| self.read(&arena, input, *o).to_vec())
            .collect();
        self.arenas.lock().push(arena);
        result
    }

    /// Each op's kind, shapes and multiply-adds, in the order they run.
    pub(crate) fn describe(&self) -> Vec<(&'static str, String, u64)> {
        self.ops
            .iter()
            .map(|(op, _)| {
                let (detail, macs) = op.detail();
                (op.kind(), detail, macs)
            })
            .collect()
    }

    /// A tensor's data: a constant, the caller's input (read in place),
    /// or an arena slot.
    fn read<'a>(&'a self, arena: &'a [Vec<f32>], input: &'a [f32], t: TensorId) -> &'a [f32] {
        if t == self.input {
            return input;
        }
        match self.consts.get(&t) {
            Some(c) => c,
            None => &arena[self.slot[&t]][..self.len[t]],
        }
    }

    fn exec(&self, op: &Op, arena: &[Vec<f32>], input: &[f32], dst: &mut [f32]) {
        let read = |t: TensorId| self.read(arena, input, t);
        match op {
            Op::Conv {
                input,
                g,
                panels,
                bias,
                residual,
                post,
            } => conv(
                read(*input),
                g,
                (panels, bias),
                residual.map(read),
                post,
                dst,
            ),
            Op::Depthwise {
                input,
                g,
                weights,
                bias,
                act,
                pointwise,
                residual,
                post,
                expand,
            } => match (pointwise, expand) {
                (None, None) => {
                    let rows = block_rows(g.out_h, g.out_w);
                    let x = read(*input);
                    dst.par_chunks_mut(rows * g.out_w * g.channels)
                        .enumerate()
                        .for_each(|(b, o)| {
                            kernels::depthwise_rows(x, weights, bias, g, *act, b * rows, o)
                        });
                }
                _ => depthwise_fused(
                    read(*input),
                    g,
                    (weights, bias, *act),
                    (expand.as_ref(), pointwise.as_ref()),
                    residual.map(read),
                    post,
                    dst,
                ),
            },
            Op::Add { a, b, post } => {
                let (a, b) = (read(*a), read(*b));
                // One pass: sum and post-op per chunk (whole pixels, for
                // PReLU's per-channel slopes).
                let c = match post {
                    Post::Prelu(alpha) => alpha.len(),
                    Post::Act(_) => 1,
                };
                let chunk = c * (16 * 1024 / c).max(1);
                dst.par_chunks_mut(chunk)
                    .zip(a.par_chunks(chunk).zip(b.par_chunks(chunk)))
                    .for_each(|(o, (a, b))| {
                        for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                            *o = a + b;
                        }
                        match post {
                            Post::Prelu(alpha) => kernels::prelu_in_place(o, alpha),
                            Post::Act(act) => kernels::activate(o, *act),
                        }
                    });
            }
            Op::Mean { input, channels } => {
                let x = read(*input);
                dst.fill(0.0);
                for px in x.chunks_exact(*channels) {
                    for (d, v) in dst.iter_mut().zip(px) {
                        *d += v;
                    }
                }
                let n = (x.len() / channels) as f32;
                dst.iter_mut().for_each(|d| *d /= n);
            }
            Op::FullyConnected {
                input,
                weights,
                bias,
                act,
            } => {
                let x = read(*input);
                let n = bias.len();
                dst.copy_from_slice(bias);
                for (xi, w) in x.iter().zip(weights.chunks_exact(n)) {
                    for (d, w) in dst.iter_mut().zip(w) {
                        *d += xi * w;
                    }
                }
                kernels::activate(dst, *act);
            }
            Op::Logistic { input } => {
                for (d, x) in dst.iter_mut().zip(read(*input)) {
                    *d = 1.0 / (1.0 + (-x).exp());
                }
            }
            Op::MaxPool { input, g } => kernels::max_pool_into(read(*input), g, dst),
            Op::Prelu { input, alpha } => {
                dst.copy_from_slice(read(*input));
                kernels::prelu_in_place(dst, alpha);
            }
            Op::Pad {
                input,
                shape: [n, h, w, c],
                pads,
            } => {
                let x = read(*input);
                let [(n0, _), (h0, h1), (w0, w1), (c0, c1)] = *pads;
                let (oh, ow, oc) = (h0 + h + h1, w0 + w + w1, c0 + c + c1);
                dst.fill(0.0);
                for i in 0..*n {
                    for y in 0..*h {
                        for xx in 0..*w {
                            let src = &x[((i * h + y) * w + xx) * c..][..*c];
                            let o = (((i + n0) * oh + y + h0) * ow + xx + w0) * oc + c0;
                            dst[o..o + c].copy_from_slice(src);
                        }
                    }
                }
            }
            Op::Resize {
                input,
                hwc: (_, w, c),
                taps_y,
                taps_x,
            } => {
                let x = read(*input);
                let ow = taps_x.len();
                dst.par_chunks_mut(ow * c)
                    .zip(taps_y.par_iter())
                    .for_each(|(row, ty)| {
                        row.fill(0.0);
                        for &(sy, wy) in ty.iter().filter(|t| t.1 != 0.0) {
                            for (px, tx) in row.chunks_exact_mut(*c).zip(taps_x) {
                                for &(sx, wx) in tx.iter().filter(|t| t.1 != 0.0) {
                                    let src = &x[(sy * w + sx) * c..][..*c];
                                    let k = wy * wx;
                                    for (d, s) in px.iter_mut().zip(src) {
                                        *d += k * s;
                                    }
                                }
                            }
                        }
                    });
            }
            Op::Copy { input } => dst.copy_from_slice(read(*input)),
            Op::Concat {
                inputs,
                inner,
                outer,
            } => {
                let total: usize = inner.iter().sum();
                for o in 0..*outer {
                    let mut at = o * total;
                    for (&t, &k) in inputs.iter().zip(inner) {
                        dst[at..at + k].copy_from_slice(&read(t)[o * k..(o + 1) * k]);
                        at += k;
                    }
                }
            }
        }
    }
}

/// Merges depthwise → 1×1 pairs and convolution → residual ADD pairs (and
/// a PReLU right after a convolution) where the intermediate has no other
/// reader.
fn fuse(ops: Vec<(Op, TensorId)>, outputs: &[TensorId]) -> Vec<(Op, TensorId)> {
    let mut readers: HashMap<TensorId, usize> = HashMap::new();
    for (op, _) in &ops {
        for t in op.reads() {
            *readers.entry(t).or_default() += 1;
        }
    }
    for &o in outputs {
        *readers.entry(o).or_default() += 1;
    }
    let only_reader = |t: TensorId| readers.get(&t) == Some(&1);
    let mut out: Vec<(Op, TensorId)> = Vec::with_capacity(ops.len());
    for (op, dst) in ops {
        // A 1×1 convolution, then (not necessarily next) a depthwise one of
        // its big output, which nothing else reads.
        if let Op::Depthwise {
            input,
            g: dg,
            expand: None,
            ..
        } = &op
        {
            let producer = out.iter().rposition(|(p, made)| {
                *made == *input
                    && matches!(p, Op::Conv { g, residual: None, .. } if g.kernel == 1 && g.stride == 1)
            });
            if let Some(at) = producer.filter(|_| {
                only_reader(*input) && dg.in_h * dg.in_w * dg.channels * 4 >= EXPAND_FUSE_BYTES
            }) {
                let (
                    Op::Conv {
                        input: x,
                        panels,
                        bias,
                        post,
                        ..
                    },
                    _,
                ) = out.remove(at)
                else {
                    unreachable!("matched above")
                };
                let mut op = op;
                if let Op::Depthwise { input, expand, .. } = &mut op {
                    *input = x;
                    *expand = Some(Expand { panels, bias, post });
                }
                out.push((op, dst));
                continue;
            }
        }
        let prev = out.last_mut();
        match (op, prev) {
            // depthwise, then a 1×1 convolution of its output.
            (
                Op::Conv {
                    input,
                    g,
                    panels,
                    bias,
                    residual: None,
                    post,
                },
                Some((
                    Op::Depthwise {
                        pointwise: pw @ None,
                        post: dw_post,
                        g: dg,
                        ..
                    },
                    made,
                )),
            ) if g.kernel == 1
                && g.stride == 1
                && *made == input
                && only_reader(input)
                && g.in_h == dg.out_h
                && g.in_w == dg.out_w =>
            {
                *pw = Some(Pointwise { panels, bias });
                *dw_post = post;
                *made = dst;
            }
            // A convolution (or fused pair) without activation, then an ADD
            // of its output and another tensor.
            (
                Op::Add { a, b, post },
                Some((
                    Op::Conv {
                        residual: res @ None,
                        post: conv_post,
                        ..
                    }
                    | Op::Depthwise {
                        pointwise: Some(_),
                        residual: res @ None,
                        post: conv_post,
                        ..
                    },
                    made,
                )),
            ) if conv_post.is_none() && (*made == a || *made == b) && only_reader(*made) => {
                *res = Some(if *made == a { b } else { a });
                *conv_post = post;
                *made = dst;
            }
            // A convolution without activation, then PReLU of its output.
            (
                Op::Prelu { input, alpha },
                Some((
                    Op::Conv {
                        post: conv_post, ..
                    }
                    | Op::Depthwise {
                        pointwise: Some(_),
                        post: conv_post,
                        ..
                    },
                    made,
                )),
            ) if conv_post.is_none() && *made == input && only_reader(input) => {
                *conv_post = Post::Prelu(alpha);
                *made = dst;
            }
            (op, _) => out.push((op, dst)),
        }
    }
    out
}

/// A full convolution with bias, residual and post-op, by row blocks.
fn conv(
    x: &[f32],
    g: &Geometry,
    (panels, bias): (&kernels::Packed, &[f32]),
    residual: Option<&[f32]>,
    post: &Post,
    dst: &mut [f32],
) {
    let n = bias.len();
    let k = panels.k();
    let direct = g.kernel == 1 && g.stride == 1;
    // A 1×1 convolution needs no whole rows: blocks of pixels balance
    // small maps better (7×7: 25 + 24 pixels instead of 4 + 3 rows).
    let px = if direct {
        balanced(g.out_h * g.out_w, BLOCK_PIXELS)
    } else {
        block_rows(g.out_h, g.out_w) * g.out_w
    };
    let e = post.epilogue(bias, residual);
    dst.par_chunks_mut(px * n).enumerate().for_each(|(b, d)| {
        let first = b * px;
        let m = d.len() / n;
        if direct {
            kernels::gemm_packed(d, &x[first * k..][..m * k], panels, m, &e, first);
        } else {
            with_scratch(m * k, |cols| {
                kernels::im2col_rows(x, g, first / g.out_w, cols);
                kernels::gemm_packed(d, cols, panels, m, &e, first);
            });
        }
    });
}

/// A depthwise convolution by row blocks through per-thread scratch, with
/// the 1×1 expansion before it and/or the 1×1 convolution after it fused.
fn depthwise_fused(
    x: &[f32],
    g: &Geometry,
    (dw_w, dw_b, dw_act): (&kernels::DwWeights, &[f32], Act),
    (expand, pw): (Option<&Expand>, Option<&Pointwise>),
    residual: Option<&[f32]>,
    post: &Post,
    dst: &mut [f32],
) {
    let c = g.channels;
    let n = pw.map_or(c, |p| p.bias.len());
    let target = BLOCK_PIXELS / g.out_w.max(1);
    let rows = match expand {
        Some(_) => balanced(g.out_h, target.max(EXPAND_BLOCK_ROWS)),
        None => balanced(g.out_h, target),
    };
    let px = rows * g.out_w;
    let e = pw.map(|p| post.epilogue(&p.bias, residual));
    dst.par_chunks_mut(px * n).enumerate().for_each(|(b, d)| {
        let m = d.len() / n;
        let (oy0, count) = (b * rows, m / g.out_w);
        // The input rows this block's windows reach.
        let (iy0, iy1) = match expand {
            Some(_) => {
                let first = (oy0 * g.stride) as isize - g.pad_top as isize;
                let last = ((oy0 + count - 1) * g.stride + (g.kernel - 1) * g.dilation) as isize
                    - g.pad_top as isize;
                (
                    first.max(0) as usize,
                    ((last + 1).max(0) as usize).min(g.in_h),
                )
            }
            None => (0, 0),
        };
        let expanded = (iy1 - iy0) * g.in_w * c;
        with_scratch(expanded + m * c, |scratch| {
            let (ex, mid) = scratch.split_at_mut(expanded);
            // Depthwise input: the expanded rows (the geometry shifted
            // to them), or the input itself.
            let (src, dg) = match expand {
                Some(ep) => {
                    let cin = ep.panels.k();
                    let rows_in = &x[iy0 * g.in_w * cin..iy1 * g.in_w * cin];
                    let ee = ep.post.epilogue(&ep.bias, None);
                    kernels::gemm_packed(ex, rows_in, &ep.panels, (iy1 - iy0) * g.in_w, &ee, 0);
                    let shifted = Geometry {
                        in_h: iy1 - iy0,
                        pad_top: g.pad_top + iy0,
                        ..*g
                    };
                    (&*ex, shifted)
                }
                None => (x, *g),
            };
            kernels::depthwise_rows(src, dw_w, dw_b, &dg, dw_act, oy0, mid);
            match (pw, &e) {
                (Some(p), Some(e)) => kernels::gemm_packed(d, mid, &p.panels, m, e, b * px),
                _ => d.copy_from_slice(mid),
            }
        });
    });
}
