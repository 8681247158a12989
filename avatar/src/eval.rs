//! How well a codec reproduces faces: the vertex error of decoded meshes
//! against the face model's own, in millimetres, over every vertex that an
//! expression moves (the rest of the head is exact and would only dilute
//! the mean), with the code quantised as the packet sends it.

use crate::codec::{Codec, Scratch};
use crate::expressions::Weights;
use crate::face_model::FaceModel;
use crate::train::Targets;
use glam::Vec3;

/// Vertex error statistics over frames × vertices, in mm.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorStats {
    pub frames: usize,
    pub vertices: usize,
    pub mean_mm: f64,
    pub p99_mm: f64,
    pub max_mm: f64,
    /// The worst frame's mean error.
    pub worst_frame_mean_mm: f64,
}

/// The code as the packet carries it: `round(v × 127) / 127`.
pub fn quantise(code: &mut [f32]) {
    for c in code {
        *c = (c.clamp(-1.0, 1.0) * 127.0).round() / 127.0;
    }
}

/// Encodes, quantises and decodes every frame and measures the mesh error.
pub fn mesh_error(model: &FaceModel, codec: &Codec, frames: &[Weights]) -> ErrorStats {
    let mut scratch = Scratch::default();
    let mut code = vec![0.0f32; codec.code_len()];
    mesh_error_of(model, &codec.shapes, frames, |f, got| {
        codec.encode(f, &mut scratch, &mut code);
        quantise(&mut code);
        codec.decode(&code, &mut scratch, got);
    })
}

/// The mesh error of any way of sending expressions: `decode` turns a
/// frame's ARKit weights into the weights of `shapes` the receiver applies.
pub fn mesh_error_of(
    model: &FaceModel,
    shapes: &[String],
    frames: &[Weights],
    mut decode: impl FnMut(&Weights, &mut [f32]),
) -> ErrorStats {
    let k = shapes.len();
    let basis: Vec<(Vec<u32>, Vec<Vec3>)> = shapes
        .iter()
        .map(|n| {
            let s = &model.shapes[model.shape(n).expect("the codec's shapes are the model's")];
            let d = s
                .deltas
                .iter()
                .map(|d| Vec3::new(d[0].to_f32(), d[1].to_f32(), d[2].to_f32()) * 1e3)
                .collect();
            (s.indices.clone(), d)
        })
        .collect();
    let n = model.neutral.len();
    let mut moved = vec![false; n];
    for (ix, _) in &basis {
        for &i in ix {
            moved[i as usize] = true;
        }
    }
    let moved: Vec<usize> = (0..n).filter(|&i| moved[i]).collect();
    let mut targets = Targets::new(model, shapes);
    let (mut truth, mut got) = (vec![0.0f32; k], vec![0.0f32; k]);
    let mut err = vec![Vec3::ZERO; n];
    // 1 µm bins up to 100 mm; the rest in the last.
    const BINS: usize = 100_000;
    let mut hist = vec![0u64; BINS + 1];
    let (mut sum, mut max, mut worst) = (0.0f64, 0.0f64, 0.0f64);
    for f in frames {
        targets.of(f, &mut truth);
        decode(f, &mut got);
        err.fill(Vec3::ZERO);
        for ((ix, d), (g, t)) in basis.iter().zip(got.iter().zip(&truth)) {
            let e = g - t;
            if e != 0.0 {
                for (&i, d) in ix.iter().zip(d) {
                    err[i as usize] += e * *d;
                }
            }
        }
        let mut frame = 0.0f64;
        for &v in &moved {
            let e = f64::from(err[v].length());
            frame += e;
            max = max.max(e);
            hist[((e * 1e3) as usize).min(BINS)] += 1;
        }
        sum += frame;
        worst = worst.max(frame / moved.len().max(1) as f64);
    }
    let total = (frames.len() * moved.len()).max(1) as u64;
    let mut seen = 0u64;
    let mut p99 = max;
    for (b, &c) in hist.iter().enumerate() {
        seen += c;
        if seen * 100 >= total * 99 {
            p99 = (b as f64 + 1.0) * 1e-3;
            break;
        }
    }
    ErrorStats {
        frames: frames.len(),
        vertices: moved.len(),
        mean_mm: sum / total as f64,
        p99_mm: p99.min(max),
        max_mm: max,
        worst_frame_mean_mm: worst,
    }
}
