//! Training the expression [codec](crate::codec) with candle, on the CPU,
//! from expressions the seeded generator draws ([`crate::expressions`]).
//!
//! The loss is measured on the mesh. The face model is linear, so the
//! squared vertex error of decoded shape weights `ŵ` against the truth `w`
//! is `eᵀ G e` with `e = ŵ - w` and `G` the Gram matrix of the expression
//! deltas (`G[i][j] = Σ_v d_i(v)·d_j(v)`): exact, and a 57 × 57 product
//! instead of a pass over 20 000 vertices. `G` is in mm² and divided by the
//! number of vertices the expressions move, so the loss is the mean squared
//! vertex error in mm² over those vertices.
//!
//! The code is trained as it will be sent: uniform noise of half an 8-bit
//! step is added to it, so the decoder learns to read quantised codes.
//!
//! Everything is seeded (weight initialisation, the expressions, the
//! noise), so one seed gives the same codec on every run.

use crate::codec::{expression_shapes, Codec, Dense, Mlp};
use crate::expressions::{ExpressionSource, Weights};
use crate::face_model::{ArkitMap, FaceModel};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::Optimizer;
use parallax_sdk_types::FACE_EXPRESSION_COUNT;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    /// Latent code length.
    pub code: usize,
    /// Hidden layer width of both networks.
    pub hidden: usize,
    /// Peak learning rate (AdamW; linear warm-up, cosine decay).
    pub learning_rate: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 1,
            steps: 8000,
            batch: 256,
            code: 16,
            hidden: 128,
            learning_rate: 3e-3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("invalid training setup: {0}")]
    Config(String),
}

/// The Gram matrix of the model's expression deltas in mm², divided by the
/// number of vertices they move (row-major, `shapes × shapes`), and that
/// number.
pub fn gram(model: &FaceModel, shapes: &[String]) -> (Vec<f32>, usize) {
    let n = model.neutral.len();
    let dense: Vec<Vec<[f32; 3]>> = shapes
        .iter()
        .map(|name| {
            let s = &model.shapes[model.shape(name).expect("a shape of the model")];
            let mut d = vec![[0.0f32; 3]; n];
            for (&i, v) in s.indices.iter().zip(&s.deltas) {
                d[i as usize] = [
                    v[0].to_f32() * 1e3,
                    v[1].to_f32() * 1e3,
                    v[2].to_f32() * 1e3,
                ];
            }
            d
        })
        .collect();
    let moved = (0..n)
        .filter(|&v| dense.iter().any(|d| d[v] != [0.0; 3]))
        .count();
    let k = shapes.len();
    let mut g = vec![0.0f32; k * k];
    for i in 0..k {
        for j in i..k {
            let s: f64 = dense[i]
                .iter()
                .zip(&dense[j])
                .map(|(a, b)| f64::from(a[0] * b[0] + a[1] * b[1] + a[2] * b[2]))
                .sum();
            let v = (s / moved.max(1) as f64) as f32;
            g[i * k + j] = v;
            g[j * k + i] = v;
        }
    }
    (g, moved)
}

/// Maps ARKit weights to the codec's target: the model's expression shape
/// weights, in `shapes` order.
pub struct Targets {
    map: ArkitMap,
    pick: Vec<usize>,
    all: Vec<f32>,
}

impl Targets {
    pub fn new(model: &FaceModel, shapes: &[String]) -> Targets {
        Targets {
            map: model.arkit_map(),
            pick: shapes
                .iter()
                .map(|s| model.shape(s).expect("a shape of the model"))
                .collect(),
            all: Vec::new(),
        }
    }

    pub fn of(&mut self, arkit: &Weights, out: &mut [f32]) {
        self.map.weights_into(arkit, &mut self.all);
        for (o, &i) in out.iter_mut().zip(&self.pick) {
            *o = self.all[i];
        }
    }
}

struct Layer {
    w: Var,
    b: Var,
}

fn layer(rng: &mut ChaCha8Rng, inputs: usize, outputs: usize) -> candle_core::Result<Layer> {
    // PyTorch's default: uniform in ±1/√inputs.
    let bound = 1.0 / (inputs as f32).sqrt();
    let mut u =
        |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
    let w = Tensor::from_vec(u(inputs * outputs), (outputs, inputs), &Device::Cpu)?;
    let b = Tensor::from_vec(u(outputs), outputs, &Device::Cpu)?;
    Ok(Layer {
        w: Var::from_tensor(&w)?,
        b: Var::from_tensor(&b)?,
    })
}

fn forward(layers: &[Layer], x: &Tensor) -> candle_core::Result<Tensor> {
    let mut h = x.clone();
    for (i, l) in layers.iter().enumerate() {
        h = h
            .matmul(&l.w.as_tensor().t()?)?
            .broadcast_add(l.b.as_tensor())?;
        if i + 1 < layers.len() {
            h = h.silu()?;
        }
    }
    Ok(h)
}

fn to_dense(l: &Layer) -> candle_core::Result<Dense> {
    let (outputs, inputs) = l.w.as_tensor().dims2()?;
    Ok(Dense {
        inputs,
        outputs,
        weight: l.w.as_tensor().flatten_all()?.to_vec1()?,
        bias: l.b.as_tensor().to_vec1()?,
    })
}

fn to_mlp(layers: &[Layer]) -> candle_core::Result<Mlp> {
    Ok(Mlp {
        layers: [
            to_dense(&layers[0])?,
            to_dense(&layers[1])?,
            to_dense(&layers[2])?,
        ],
    })
}

/// Trains a codec; `progress(step, loss)` is called after every step with
/// the batch's mean squared vertex error in mm².
pub fn train(
    model: &FaceModel,
    cfg: &TrainConfig,
    mut progress: impl FnMut(usize, f32),
) -> Result<Codec, TrainError> {
    if cfg.code == 0 || cfg.code > crate::codec::MAX_CODE {
        return Err(TrainError::Config(format!(
            "a code of {} values (1 to {})",
            cfg.code,
            crate::codec::MAX_CODE
        )));
    }
    if cfg.hidden == 0 || cfg.batch == 0 || cfg.steps == 0 {
        return Err(TrainError::Config(
            "steps, batch and hidden width must be positive".into(),
        ));
    }
    let dev = Device::Cpu;
    let shapes = expression_shapes(model);
    let k = shapes.len();
    let (g, _) = gram(model, &shapes);
    let g = Tensor::from_vec(g, (k, k), &dev)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let h = cfg.hidden;
    let enc = [
        layer(&mut rng, FACE_EXPRESSION_COUNT, h)?,
        layer(&mut rng, h, h)?,
        layer(&mut rng, h, cfg.code)?,
    ];
    let dec = [
        layer(&mut rng, cfg.code, h)?,
        layer(&mut rng, h, h)?,
        layer(&mut rng, h, k)?,
    ];
    let vars: Vec<Var> = enc
        .iter()
        .chain(&dec)
        .flat_map(|l| [l.w.clone(), l.b.clone()])
        .collect();
    let mut opt = candle_nn::AdamW::new(
        vars,
        candle_nn::ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut source = ExpressionSource::new(cfg.seed ^ 0x005e_ed0f_face);
    let mut targets = Targets::new(model, &shapes);
    let mut x = vec![0.0f32; cfg.batch * FACE_EXPRESSION_COUNT];
    let mut y = vec![0.0f32; cfg.batch * k];
    let mut noise = vec![0.0f32; cfg.batch * cfg.code];
    let warmup = (cfg.steps / 20).max(1);
    for step in 0..cfg.steps {
        for b in 0..cfg.batch {
            let w = source.next_weights();
            x[b * FACE_EXPRESSION_COUNT..(b + 1) * FACE_EXPRESSION_COUNT].copy_from_slice(&w);
            targets.of(&w, &mut y[b * k..(b + 1) * k]);
        }
        for n in noise.iter_mut() {
            *n = (rng.random::<f32>() - 0.5) / 127.0;
        }
        let lr = if step < warmup {
            cfg.learning_rate * (step + 1) as f64 / warmup as f64
        } else {
            let p = (step - warmup) as f64 / (cfg.steps - warmup).max(1) as f64;
            cfg.learning_rate * (0.02 + 0.98 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
        };
        opt.set_learning_rate(lr);
        let xt = Tensor::from_slice(&x, (cfg.batch, FACE_EXPRESSION_COUNT), &dev)?;
        let yt = Tensor::from_slice(&y, (cfg.batch, k), &dev)?;
        let nt = Tensor::from_slice(&noise, (cfg.batch, cfg.code), &dev)?;
        let code = forward(&enc, &xt)?.tanh()?;
        let code = (code + nt)?;
        let e = (forward(&dec, &code)? - yt)?;
        let loss = (e.matmul(&g)? * &e)?
            .sum_all()?
            .affine(1.0 / cfg.batch as f64, 0.0)?;
        opt.backward_step(&loss)?;
        progress(step, loss.to_dtype(DType::F32)?.to_scalar::<f32>()?);
    }
    let mut provenance = vec![
        ("seed".into(), cfg.seed.to_string()),
        ("steps".into(), cfg.steps.to_string()),
        ("batch".into(), cfg.batch.to_string()),
        ("hidden".into(), cfg.hidden.to_string()),
        ("learning_rate".into(), cfg.learning_rate.to_string()),
        (
            "trainer".into(),
            "parallax avatar train (candle, CPU)".into(),
        ),
    ];
    provenance.sort();
    Ok(Codec {
        encoder: to_mlp(&enc)?,
        decoder: to_mlp(&dec)?,
        shapes,
        provenance,
    })
}

/// Candle's forward pass of a codec, encode then decode (without
/// quantisation), for checking the plain one against.
pub fn reference_roundtrip(codec: &Codec, arkit: &[Weights]) -> Result<Vec<Vec<f32>>, TrainError> {
    let dev = Device::Cpu;
    let to_layers = |m: &Mlp| -> candle_core::Result<Vec<(Tensor, Tensor)>> {
        m.layers
            .iter()
            .map(|l| {
                Ok((
                    Tensor::from_slice(&l.weight, (l.outputs, l.inputs), &dev)?,
                    Tensor::from_slice(&l.bias, l.outputs, &dev)?,
                ))
            })
            .collect()
    };
    let run = |ls: &[(Tensor, Tensor)], x: &Tensor| -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, (w, b)) in ls.iter().enumerate() {
            h = h.matmul(&w.t()?)?.broadcast_add(b)?;
            if i + 1 < ls.len() {
                h = h.silu()?;
            }
        }
        Ok(h)
    };
    let flat: Vec<f32> = arkit.iter().flatten().copied().collect();
    let x = Tensor::from_vec(flat, (arkit.len(), FACE_EXPRESSION_COUNT), &dev)?;
    let code = run(&to_layers(&codec.encoder)?, &x)?.tanh()?;
    let out = run(&to_layers(&codec.decoder)?, &code)?;
    Ok(out.to_vec2()?)
}
