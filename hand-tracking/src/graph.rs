//! Loads a converted TFLite graph (see `tools/convert_tflite.py`) and runs
//! it.
//!
//! The converter keeps TFLite's op list and options; this module prepares
//! each op once at load (weights transposed and packed, SAME padding turned
//! into explicit pads, resize matrices built). On the CPU the prepared ops
//! are compiled into a plan of fused kernels on reused buffers (`cpu.rs`,
//! kernels in `kernels.rs`); on other devices (CUDA) they run in order with
//! candle's ops (`conv2d` in NCHW, transposed around the op), in TFLite's
//! NHWC layout otherwise.
//!
//! The op set is what MediaPipe's hand models use: CONV_2D,
//! DEPTHWISE_CONV_2D, ADD, MEAN, FULLY_CONNECTED, LOGISTIC, MAX_POOL_2D,
//! PRELU, PAD, RESIZE_BILINEAR, RESHAPE, CONCATENATION (DEQUANTIZE of FP16
//! weights is folded by the converter). Anything else is refused at load.

use crate::cpu::Plan;
use crate::kernels::{Act, Geometry};
use candle_core::{DType, Device, Tensor};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// Errors loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a graph description: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    #[error("op {index} ({op}): {why}")]
    Unsupported {
        index: usize,
        op: String,
        why: String,
    },
    #[error("the model wants input {want:?} (NHWC), got {got:?}")]
    InputShape { want: Vec<usize>, got: Vec<usize> },
    #[error("tensor {0} is read before it is written")]
    Missing(usize),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

type Result<T> = std::result::Result<T, GraphError>;

#[derive(Deserialize)]
struct GraphFile {
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    tensors: Vec<TensorDesc>,
    ops: Vec<OpDesc>,
}

#[derive(Deserialize)]
struct TensorDesc {
    shape: Vec<usize>,
}

#[derive(Deserialize)]
struct OpDesc {
    op: String,
    inputs: Vec<i64>,
    outputs: Vec<usize>,
    padding: Option<String>,
    stride: Option<[usize; 2]>,
    dilation: Option<[usize; 2]>,
    depth_multiplier: Option<usize>,
    activation: Option<String>,
    filter: Option<[usize; 2]>,
    axis: Option<i64>,
    align_corners: Option<bool>,
    half_pixel_centers: Option<bool>,
    keep_dims: Option<bool>,
}

/// Explicit zero padding (top, bottom, left, right) of a spatial op.
type Pads = [usize; 4];

/// Index of a tensor in the converted graph.
pub(crate) type TensorId = usize;

/// One prepared op.
pub(crate) enum Step {
    Conv {
        input: usize,
        /// candle layout (OIHW) for the generic path.
        weight: Tensor,
        /// [k*k*Cin, Cout] for the matrix-product path (not depthwise).
        weight_mat: Tensor,
        /// [k, k, C] for the depthwise kernel.
        weight_dw: Vec<f32>,
        bias: Tensor,
        bias_vec: Vec<f32>,
        geometry: Geometry,
        pads: Pads,
        depthwise: bool,
        act: Act,
    },
    Add {
        a: usize,
        b: usize,
        act: Act,
        /// A PReLU that followed this sum and read nothing else, fused in.
        prelu: Option<Tensor>,
    },
    SpatialMean {
        input: usize,
    },
    FullyConnected {
        input: usize,
        weight_t: Tensor,
        bias: Tensor,
        act: Act,
    },
    Logistic {
        input: usize,
    },
    MaxPool {
        input: usize,
        kernel: usize,
        stride: usize,
        geometry: Geometry,
    },
    Prelu {
        input: usize,
        alpha: Tensor,
    },
    Pad {
        input: usize,
        /// (before, after) per NHWC dimension.
        pads: [(usize, usize); 4],
    },
    Resize {
        input: usize,
        /// [out_h, in_h] and [out_w, in_w] interpolation matrices.
        ry: Tensor,
        rx: Tensor,
    },
    Reshape {
        input: usize,
        shape: Vec<usize>,
    },
    Concat {
        inputs: Vec<usize>,
        axis: usize,
    },
}

impl Step {
    /// Tensors this step reads.
    fn inputs(&self) -> Vec<usize> {
        match self {
            Step::Conv { input, .. }
            | Step::SpatialMean { input }
            | Step::FullyConnected { input, .. }
            | Step::Logistic { input }
            | Step::MaxPool { input, .. }
            | Step::Prelu { input, .. }
            | Step::Pad { input, .. }
            | Step::Resize { input, .. }
            | Step::Reshape { input, .. } => vec![*input],
            Step::Add { a, b, .. } => vec![*a, *b],
            Step::Concat { inputs, .. } => inputs.clone(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Step::Conv {
                depthwise: true, ..
            } => "depthwise",
            Step::Conv { geometry, .. } if geometry.kernel == 1 && geometry.stride == 1 => {
                "conv1x1"
            }
            Step::Conv { .. } => "conv",
            Step::Add { prelu: Some(_), .. } => "add+prelu",
            Step::Add { .. } => "add",
            Step::SpatialMean { .. } => "mean",
            Step::FullyConnected { .. } => "fully_connected",
            Step::Logistic { .. } => "logistic",
            Step::MaxPool { .. } => "max_pool",
            Step::Prelu { .. } => "prelu",
            Step::Pad { .. } => "pad",
            Step::Resize { .. } => "resize",
            Step::Reshape { .. } => "reshape",
            Step::Concat { .. } => "concat",
        }
    }
}

/// One op's time in [`Graph::profile_ops`].
#[derive(Clone, Debug)]
pub struct OpProfile {
    /// "conv", "depthwise+conv1x1", ...
    pub kind: &'static str,
    /// Shapes and fusions, on the CPU plan (empty elsewhere).
    pub detail: String,
    /// Multiply-adds of the op (0 where not counted).
    pub macs: u64,
    pub time: std::time::Duration,
}

/// A loaded model, ready to run.
pub struct Graph {
    steps: Vec<(Step, usize)>,
    inputs: Vec<usize>,
    outputs: Vec<usize>,
    /// TFLite (NHWC) shapes of every tensor.
    shapes: Vec<Vec<usize>>,
    consts: HashMap<usize, Tensor>,
    device: Device,
    /// The compiled CPU executor (on the CPU).
    plan: Option<Plan>,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("ops", &self.steps.len())
            .field("input", &self.input_shape())
            .finish()
    }
}

fn act(a: &Option<String>, index: usize, op: &str) -> Result<Act> {
    match a.as_deref() {
        None | Some("NONE") => Ok(Act::None),
        Some("RELU") => Ok(Act::Relu),
        Some("RELU6") => Ok(Act::Relu6),
        Some(other) => Err(GraphError::Unsupported {
            index,
            op: op.into(),
            why: format!("fused activation {other}"),
        }),
    }
}

fn apply(x: Tensor, a: Act) -> Result<Tensor> {
    Ok(match a {
        Act::None => x,
        Act::Relu => x.relu()?,
        Act::Relu6 => x.clamp(0f32, 6f32)?,
    })
}

/// TFLite's SAME padding: the total is split with the extra pixel after
/// (bottom/right), which differs from a symmetric pad for stride 2.
fn same_pads(
    input: usize,
    output: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> (usize, usize) {
    let effective = (kernel - 1) * dilation + 1;
    let total = ((output - 1) * stride + effective).saturating_sub(input);
    (total / 2, total - total / 2)
}

/// Bilinear interpolation matrix [out, in] as TFLite's RESIZE_BILINEAR
/// computes it.
fn resize_matrix(input: usize, output: usize, align_corners: bool, half_pixel: bool) -> Vec<f32> {
    let scale = if align_corners && output > 1 {
        (input - 1) as f32 / (output - 1) as f32
    } else {
        input as f32 / output as f32
    };
    let mut m = vec![0f32; output * input];
    for o in 0..output {
        let src = if half_pixel {
            ((o as f32 + 0.5) * scale - 0.5).max(0.0)
        } else {
            o as f32 * scale
        };
        let lo = (src.floor() as usize).min(input - 1);
        let hi = (lo + 1).min(input - 1);
        let t = src - lo as f32;
        m[o * input + lo] += 1.0 - t;
        m[o * input + hi] += t;
    }
    m
}

impl Graph {
    /// Loads `DIR/NAME.json` and `DIR/NAME.safetensors`.
    pub fn load(dir: &Path, name: &str, device: &Device) -> Result<Self> {
        let json_path = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&json_path).map_err(|source| GraphError::Io {
            path: json_path.display().to_string(),
            source,
        })?;
        let file: GraphFile = serde_json::from_str(&text).map_err(|source| GraphError::Json {
            path: json_path.display().to_string(),
            source,
        })?;
        let weights_path = dir.join(format!("{name}.safetensors"));
        if !weights_path.exists() {
            return Err(GraphError::Io {
                path: weights_path.display().to_string(),
                source: std::io::ErrorKind::NotFound.into(),
            });
        }
        let raw = candle_core::safetensors::load(&weights_path, device)?;
        let mut consts = HashMap::new();
        for (k, t) in raw {
            let Some(i) = k.strip_prefix('t').and_then(|i| i.parse::<usize>().ok()) else {
                continue;
            };
            // FP16 weights (behind DEQUANTIZE in the TFLite file) run as f32.
            let t = match t.dtype() {
                DType::F16 | DType::BF16 | DType::F64 => t.to_dtype(DType::F32)?,
                _ => t,
            };
            consts.insert(i, t);
        }
        let shapes: Vec<Vec<usize>> = file.tensors.iter().map(|t| t.shape.clone()).collect();
        let mut g = Graph {
            steps: Vec::new(),
            inputs: file.inputs,
            outputs: file.outputs,
            shapes,
            consts,
            device: device.clone(),
            plan: None,
        };
        for (index, op) in file.ops.iter().enumerate() {
            let step = g.prepare(index, op)?;
            g.steps.push((step, op.outputs[0]));
        }
        g.fuse_add_prelu();
        if device.is_cpu() {
            g.plan = Plan::build(&g.steps, &g.shapes, &g.consts, g.inputs[0], &g.outputs);
            if g.plan.is_none() {
                tracing::warn!("{name}: no CPU plan for this graph; running op by op with candle");
            }
        }
        Ok(g)
    }

    /// ADD (no activation) then PRELU of its result, where nothing else
    /// reads the sum, become one pass over the data (the palm models' residual
    /// blocks end that way).
    fn fuse_add_prelu(&mut self) {
        let mut readers = vec![0usize; self.shapes.len()];
        for (step, _) in &self.steps {
            for i in step.inputs() {
                readers[i] += 1;
            }
        }
        for &o in &self.outputs {
            readers[o] += 1;
        }
        let steps = std::mem::take(&mut self.steps);
        let mut out: Vec<(Step, usize)> = Vec::with_capacity(steps.len());
        for (step, dst) in steps {
            if let Step::Prelu { input, alpha } = &step {
                if let Some((
                    Step::Add {
                        act: Act::None,
                        prelu: prelu @ None,
                        ..
                    },
                    sum,
                )) = out.last_mut()
                {
                    if *sum == *input && readers[*input] == 1 {
                        *prelu = Some(alpha.clone());
                        *sum = dst;
                        continue;
                    }
                }
            }
            out.push((step, dst));
        }
        self.steps = out;
    }

    /// NHWC shape of the model's input.
    pub fn input_shape(&self) -> &[usize] {
        &self.shapes[self.inputs[0]]
    }

    fn constant(&self, index: usize, op: &OpDesc, i: i64) -> Result<Tensor> {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.consts.get(&i).cloned())
            .ok_or_else(|| GraphError::Unsupported {
                index,
                op: op.op.clone(),
                why: format!("input {i} must be a constant"),
            })
    }

    fn constant_ints(&self, index: usize, op: &OpDesc, i: i64) -> Result<Vec<i64>> {
        let t = self.constant(index, op, i)?;
        Ok(t.to_dtype(DType::I64)?.flatten_all()?.to_vec1::<i64>()?)
    }

    fn prepare(&self, index: usize, op: &OpDesc) -> Result<Step> {
        let unsupported = |why: String| GraphError::Unsupported {
            index,
            op: op.op.clone(),
            why,
        };
        let input = usize::try_from(op.inputs[0]).map_err(|_| unsupported("no input".into()))?;
        let in_shape = &self.shapes[input];
        let out_shape = &self.shapes[op.outputs[0]];
        Ok(match op.op.as_str() {
            "CONV_2D" | "DEPTHWISE_CONV_2D" => {
                let w = self.constant(index, op, op.inputs[1])?;
                let depthwise = op.op == "DEPTHWISE_CONV_2D";
                // TFLite: conv OHWI, depthwise 1HW(C*M). candle: OIHW.
                let weight = if depthwise {
                    if op.depth_multiplier.unwrap_or(1) != 1 || w.dim(3)? != in_shape[3] {
                        return Err(unsupported("depth multiplier other than 1".into()));
                    }
                    w.permute((3, 0, 1, 2))?.contiguous()?
                } else {
                    w.permute((0, 3, 1, 2))?.contiguous()?
                };
                let o = weight.dim(0)?;
                let bias = match op.inputs.get(2).copied().filter(|&b| b >= 0) {
                    Some(b) => self.constant(index, op, b)?,
                    None => Tensor::zeros(o, DType::F32, &self.device)?,
                };
                let bias_vec = bias.to_vec1::<f32>()?;
                let [sh, sw] = op.stride.unwrap_or([1, 1]);
                let [dh, dw] = op.dilation.unwrap_or([1, 1]);
                let (kh, kw) = (weight.dim(2)?, weight.dim(3)?);
                if sh != sw || dh != dw || kh != kw {
                    return Err(unsupported(
                        "different kernel sizes, strides or dilations per axis".into(),
                    ));
                }
                let pads = match op.padding.as_deref() {
                    Some("SAME") => {
                        let (t, b) = same_pads(in_shape[1], out_shape[1], kh, sh, dh);
                        let (l, r) = same_pads(in_shape[2], out_shape[2], kw, sw, dw);
                        [t, b, l, r]
                    }
                    Some("VALID") | None => [0; 4],
                    Some(p) => return Err(unsupported(format!("padding {p}"))),
                };
                let geometry = Geometry {
                    in_h: in_shape[1],
                    in_w: in_shape[2],
                    channels: in_shape[3],
                    out_h: out_shape[1],
                    out_w: out_shape[2],
                    kernel: kh,
                    stride: sh,
                    dilation: dh,
                    pad_top: pads[0],
                    pad_left: pads[2],
                };
                // [k, k, C] for the depthwise kernel; [k*k*Cin, Cout] for the
                // matrix product (OHWI rows become columns).
                let weight_dw = if depthwise {
                    w.flatten_all()?.to_vec1::<f32>()?
                } else {
                    Vec::new()
                };
                let weight_mat = if depthwise {
                    Tensor::zeros(1, DType::F32, &self.device)?
                } else {
                    w.reshape((o, kh * kw * in_shape[3]))?.t()?.contiguous()?
                };
                Step::Conv {
                    input,
                    weight,
                    weight_mat,
                    weight_dw,
                    bias: bias.reshape((1, o, 1, 1))?,
                    bias_vec,
                    geometry,
                    pads,
                    depthwise,
                    act: act(&op.activation, index, &op.op)?,
                }
            }
            "ADD" => Step::Add {
                a: input,
                b: usize::try_from(op.inputs[1])
                    .map_err(|_| unsupported("no second input".into()))?,
                act: act(&op.activation, index, &op.op)?,
                prelu: None,
            },
            "MEAN" => {
                let axes = self.constant_ints(index, op, op.inputs[1])?;
                if in_shape.len() != 4 || axes != [1, 2] || op.keep_dims == Some(true) {
                    return Err(unsupported(format!("mean over {axes:?}")));
                }
                Step::SpatialMean { input }
            }
            "FULLY_CONNECTED" => {
                let w = self.constant(index, op, op.inputs[1])?;
                let out = w.dim(0)?;
                let bias = match op.inputs.get(2).copied().filter(|&b| b >= 0) {
                    Some(b) => self.constant(index, op, b)?,
                    None => Tensor::zeros(out, DType::F32, &self.device)?,
                };
                Step::FullyConnected {
                    input,
                    weight_t: w.t()?.contiguous()?,
                    bias,
                    act: act(&op.activation, index, &op.op)?,
                }
            }
            "LOGISTIC" => Step::Logistic { input },
            "MAX_POOL_2D" => {
                let [fh, fw] = op.filter.unwrap_or([1, 1]);
                let [sh, sw] = op.stride.unwrap_or([1, 1]);
                if fh != fw || sh != sw {
                    return Err(unsupported("non-square pooling".into()));
                }
                let (t, b) = same_pads(in_shape[1], out_shape[1], fh, sh, 1);
                if op.padding.as_deref() == Some("SAME") && t + b > 0 {
                    return Err(unsupported("max pooling that needs padding".into()));
                }
                act(&op.activation, index, &op.op)?;
                Step::MaxPool {
                    input,
                    kernel: fh,
                    stride: sh,
                    geometry: Geometry {
                        in_h: in_shape[1],
                        in_w: in_shape[2],
                        channels: in_shape[3],
                        out_h: out_shape[1],
                        out_w: out_shape[2],
                        kernel: fh,
                        stride: sh,
                        dilation: 1,
                        pad_top: 0,
                        pad_left: 0,
                    },
                }
            }
            "PRELU" => {
                let a = self.constant(index, op, op.inputs[1])?;
                let c = a.elem_count();
                if c != *in_shape.last().unwrap_or(&0) {
                    return Err(unsupported("alpha is not per channel".into()));
                }
                Step::Prelu {
                    input,
                    alpha: a.reshape(c)?,
                }
            }
            "PAD" => {
                let p = self.constant_ints(index, op, op.inputs[1])?;
                if in_shape.len() != 4 || p.len() != 8 || p.iter().any(|&v| v < 0) {
                    return Err(unsupported(format!("paddings {p:?}")));
                }
                let mut pads = [(0, 0); 4];
                for (a, pad) in pads.iter_mut().enumerate() {
                    *pad = (p[2 * a] as usize, p[2 * a + 1] as usize);
                }
                Step::Pad { input, pads }
            }
            "RESIZE_BILINEAR" => {
                let ac = op.align_corners.unwrap_or(false);
                let hp = op.half_pixel_centers.unwrap_or(false);
                let (ih, iw, oh, ow) = (in_shape[1], in_shape[2], out_shape[1], out_shape[2]);
                let ry = Tensor::from_vec(resize_matrix(ih, oh, ac, hp), (oh, ih), &self.device)?;
                let rx = Tensor::from_vec(resize_matrix(iw, ow, ac, hp), (ow, iw), &self.device)?;
                Step::Resize { input, ry, rx }
            }
            "RESHAPE" => Step::Reshape {
                input,
                shape: out_shape.clone(),
            },
            "CONCATENATION" => {
                let rank = out_shape.len() as i64;
                let axis = op.axis.unwrap_or(0);
                let axis = if axis < 0 { axis + rank } else { axis } as usize;
                act(&op.activation, index, &op.op)?;
                let inputs = op
                    .inputs
                    .iter()
                    .map(|&i| usize::try_from(i).map_err(|_| unsupported("missing input".into())))
                    .collect::<Result<Vec<_>>>()?;
                Step::Concat { inputs, axis }
            }
            other => return Err(unsupported(format!("{other} is not implemented"))),
        })
    }

    /// Runs the model on one NHWC image `[1, H, W, 3]` (f32) and returns its
    /// outputs in TFLite's order and shapes.
    pub fn run(&self, input: &Tensor) -> Result<Vec<Tensor>> {
        self.run_timed(input, None)
    }

    /// Like [`Graph::run`], adding each op's time to `times` by op kind
    /// (for profiling).
    pub fn run_profiled(
        &self,
        input: &Tensor,
        times: &mut HashMap<&'static str, std::time::Duration>,
    ) -> Result<Vec<Tensor>> {
        let (out, ops) = self.profile_ops(input)?;
        for op in ops {
            *times.entry(op.kind).or_default() += op.time;
        }
        Ok(out)
    }

    /// Runs once, timing each op (on the CPU, each op of the compiled
    /// plan, fused ones as one): the outputs and the ops in order.
    pub fn profile_ops(&self, input: &Tensor) -> Result<(Vec<Tensor>, Vec<OpProfile>)> {
        let mut times = Vec::new();
        let out = self.run_timed(input, Some(&mut times))?;
        let ops = match &self.plan {
            Some(plan) => plan.describe(),
            None => self
                .steps
                .iter()
                .map(|(step, _)| (step.kind(), String::new(), 0))
                .collect(),
        };
        Ok((
            out,
            ops.into_iter()
                .zip(times)
                .map(|((kind, detail, macs), time)| OpProfile {
                    kind,
                    detail,
                    macs,
                    time,
                })
                .collect(),
        ))
    }

    /// Runs, appending each op's time to `times` when given.
    fn run_timed(
        &self,
        input: &Tensor,
        mut times: Option<&mut Vec<std::time::Duration>>,
    ) -> Result<Vec<Tensor>> {
        let want = self.input_shape();
        if input.dims() != want {
            return Err(GraphError::InputShape {
                want: want.to_vec(),
                got: input.dims().to_vec(),
            });
        }
        if let Some(plan) = &self.plan {
            // The input's own f32 buffer when it is a contiguous CPU tensor
            // (the usual case: no copy per inference), else a copy.
            let (storage, layout) = input.storage_and_layout();
            let copied;
            let x: &[f32] = match (&*storage, layout.contiguous_offsets()) {
                (candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)), Some((a, b))) => {
                    &v[a..b]
                }
                _ => {
                    copied = input.flatten_all()?.to_vec1::<f32>()?;
                    &copied
                }
            };
            return plan
                .run(x, &self.outputs, times)
                .into_iter()
                .zip(&self.outputs)
                .map(|(v, &o)| {
                    Ok(Tensor::from_vec(
                        v,
                        self.shapes[o].as_slice(),
                        &Device::Cpu,
                    )?)
                })
                .collect();
        }
        // Op by op with candle's tensors (other devices).
        let mut values: Vec<Option<Tensor>> = vec![None; self.shapes.len()];
        values[self.inputs[0]] = Some(input.contiguous()?);
        let get = |values: &Vec<Option<Tensor>>, i: usize| -> Result<Tensor> {
            values[i]
                .clone()
                .or_else(|| self.consts.get(&i).cloned())
                .ok_or(GraphError::Missing(i))
        };
        for (step, out) in &self.steps {
            let started = times.as_ref().map(|_| std::time::Instant::now());
            let y = match step {
                Step::Conv {
                    input,
                    weight,
                    bias,
                    geometry,
                    pads,
                    depthwise,
                    act,
                    ..
                } => {
                    let x = get(&values, *input)?;
                    let g = geometry;
                    // candle's conv2d in NCHW.
                    let mut x = x.permute((0, 3, 1, 2))?;
                    if pads.iter().any(|&p| p > 0) {
                        x = x
                            .pad_with_zeros(2, pads[0], pads[1])?
                            .pad_with_zeros(3, pads[2], pads[3])?;
                    }
                    let groups = if *depthwise { g.channels } else { 1 };
                    let y = x.conv2d(weight, 0, g.stride, g.dilation, groups)?;
                    apply(y.broadcast_add(bias)?, *act)?
                        .permute((0, 2, 3, 1))?
                        .contiguous()?
                }
                Step::Add { a, b, act, prelu } => {
                    let sum = get(&values, *a)?.broadcast_add(&get(&values, *b)?)?;
                    match prelu {
                        Some(alpha) => {
                            let neg = sum.minimum(0f32)?.broadcast_mul(alpha)?;
                            (sum.relu()? + neg)?
                        }
                        None => apply(sum, *act)?,
                    }
                }
                Step::SpatialMean { input } => get(&values, *input)?.mean((1, 2))?,
                Step::FullyConnected {
                    input,
                    weight_t,
                    bias,
                    act,
                } => {
                    let x = get(&values, *input)?;
                    let x = x.flatten_from(1)?;
                    apply(x.matmul(weight_t)?.broadcast_add(bias)?, *act)?
                }
                Step::Logistic { input } => {
                    candle_core::Tensor::exp(&get(&values, *input)?.neg()?)?
                        .affine(1.0, 1.0)?
                        .recip()?
                }
                Step::MaxPool {
                    input,
                    kernel,
                    stride,
                    ..
                } => {
                    // candle pools NCHW.
                    get(&values, *input)?
                        .permute((0, 3, 1, 2))?
                        .max_pool2d_with_stride(*kernel, *stride)?
                        .permute((0, 2, 3, 1))?
                        .contiguous()?
                }
                Step::Prelu { input, alpha } => {
                    let x = get(&values, *input)?;
                    let pos = x.relu()?;
                    let neg = x.minimum(0f32)?.broadcast_mul(alpha)?;
                    (pos + neg)?
                }
                Step::Pad { input, pads } => {
                    let mut x = get(&values, *input)?;
                    for (d, &(before, after)) in pads.iter().enumerate() {
                        if before + after > 0 {
                            x = x.pad_with_zeros(d, before, after)?;
                        }
                    }
                    x
                }
                Step::Resize { input, ry, rx } => {
                    let x = get(&values, *input)?;
                    let (n, h, w, c) = x.dims4()?;
                    let (oh, ow) = (ry.dim(0)?, rx.dim(0)?);
                    // Along H: [oh, h] x [h, w*c] per image; along W: [ow, w] x [w, c] per row.
                    let mut out = Vec::with_capacity(n);
                    for i in 0..n {
                        let xi = x.get(i)?.reshape((h, w * c))?;
                        let y = ry.matmul(&xi)?.reshape((oh, w, c))?;
                        let rxb = rx.unsqueeze(0)?.broadcast_as((oh, ow, w))?.contiguous()?;
                        out.push(rxb.matmul(&y)?);
                    }
                    Tensor::stack(&out, 0)?
                }
                Step::Reshape { input, shape } => {
                    get(&values, *input)?.reshape(shape.as_slice())?
                }
                Step::Concat { inputs, axis } => {
                    let xs = inputs
                        .iter()
                        .map(|&i| get(&values, i))
                        .collect::<Result<Vec<_>>>()?;
                    Tensor::cat(&xs, *axis)?
                }
            };
            if let (Some(times), Some(started)) = (times.as_mut(), started) {
                times.push(started.elapsed());
            }
            values[*out] = Some(y);
        }
        self.outputs.iter().map(|&o| get(&values, o)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_puts_the_extra_pixel_after() {
        // 224 -> 112 with a 3x3 kernel, stride 2: one pixel, at the end.
        assert_eq!(same_pads(224, 112, 3, 2, 1), (0, 1));
        // Stride 1, 5x5: two each side.
        assert_eq!(same_pads(56, 56, 5, 1, 1), (2, 2));
        assert_eq!(same_pads(56, 28, 5, 2, 1), (1, 2));
    }

    #[test]
    fn resize_matrix_matches_tflite_half_pixel() {
        // 2 -> 4, half-pixel centres: sources -0.25 (clamped 0), 0.25, 0.75, 1.25.
        let m = resize_matrix(2, 4, false, true);
        let rows: Vec<&[f32]> = m.chunks(2).collect();
        assert_eq!(rows[0], [1.0, 0.0]);
        assert_eq!(rows[1], [0.75, 0.25]);
        assert_eq!(rows[2], [0.25, 0.75]);
        assert_eq!(rows[3], [0.0, 1.0]);
        for r in rows {
            assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }
}
