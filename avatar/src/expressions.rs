//! The expressions the codec learns from and is measured on: random but
//! plausible ARKit weight sets (the SDK's 52, in its order), drawn from a
//! seeded generator so that training and evaluation are reproducible.
//!
//! A face does not set 52 independent numbers: the two eyes look the same
//! way, the sides of a smile move together, the jaw cannot go left and
//! right at once, and most muscles rest most of the time. The generator
//! draws from a mixture that respects this:
//!
//! - **sparse** (35 %): each weight active with probability 0.15, its value
//!   uniform; paired sides mirrored (with a little asymmetry) in 60 % of
//!   faces;
//! - **presets** (30 %): one or two of the named expressions below (smile,
//!   talk shapes, surprise, anger, ...) at random intensity, plus sparse
//!   noise;
//! - **scripted** (15 %): the simulated headset's scripted face at a random
//!   time of its 12 s cycle;
//! - **dense** (20 %): every weight active with a small value (cubed
//!   uniform), so the whole space is covered.
//!
//! In every draw the gaze weights come from one yaw and pitch for both eyes
//! (80 %) or independent ones, mutually exclusive weights (jaw and mouth
//! left/right, each eye's in/out and up/down) keep only the larger, and
//! values are clamped to 0..=1.

use parallax_sdk_types::{face_expression, FACE_EXPRESSION_COUNT, FACE_EXPRESSION_NAMES};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub type Weights = [f32; FACE_EXPRESSION_COUNT];

/// Named expressions: (name, weights by ARKit name).
pub const PRESETS: &[(&str, &[(&str, f32)])] = &[
    (
        "smile",
        &[
            ("mouthSmileLeft", 0.9),
            ("mouthSmileRight", 0.9),
            ("cheekSquintLeft", 0.5),
            ("cheekSquintRight", 0.5),
            ("eyeSquintLeft", 0.3),
            ("eyeSquintRight", 0.3),
        ],
    ),
    (
        "grin",
        &[
            ("mouthSmileLeft", 1.0),
            ("mouthSmileRight", 1.0),
            ("jawOpen", 0.25),
            ("mouthUpperUpLeft", 0.4),
            ("mouthUpperUpRight", 0.4),
            ("mouthStretchLeft", 0.3),
            ("mouthStretchRight", 0.3),
        ],
    ),
    (
        "talk-a",
        &[
            ("jawOpen", 0.5),
            ("mouthLowerDownLeft", 0.3),
            ("mouthLowerDownRight", 0.3),
        ],
    ),
    (
        "talk-o",
        &[("jawOpen", 0.3), ("mouthFunnel", 0.6), ("mouthPucker", 0.3)],
    ),
    (
        "talk-m",
        &[
            ("mouthClose", 0.3),
            ("mouthPressLeft", 0.5),
            ("mouthPressRight", 0.5),
            ("mouthRollLower", 0.2),
        ],
    ),
    (
        "talk-f",
        &[
            ("mouthRollLower", 0.6),
            ("mouthUpperUpLeft", 0.3),
            ("mouthUpperUpRight", 0.3),
            ("jawOpen", 0.1),
        ],
    ),
    (
        "surprise",
        &[
            ("browInnerUp", 0.9),
            ("browOuterUpLeft", 0.9),
            ("browOuterUpRight", 0.9),
            ("eyeWideLeft", 0.8),
            ("eyeWideRight", 0.8),
            ("jawOpen", 0.6),
        ],
    ),
    (
        "anger",
        &[
            ("browDownLeft", 0.9),
            ("browDownRight", 0.9),
            ("eyeSquintLeft", 0.5),
            ("eyeSquintRight", 0.5),
            ("noseSneerLeft", 0.4),
            ("noseSneerRight", 0.4),
            ("mouthPressLeft", 0.5),
            ("mouthPressRight", 0.5),
        ],
    ),
    (
        "sad",
        &[
            ("browInnerUp", 0.7),
            ("mouthFrownLeft", 0.8),
            ("mouthFrownRight", 0.8),
            ("mouthShrugLower", 0.4),
        ],
    ),
    (
        "disgust",
        &[
            ("noseSneerLeft", 0.9),
            ("noseSneerRight", 0.9),
            ("mouthUpperUpLeft", 0.7),
            ("mouthUpperUpRight", 0.7),
            ("browDownLeft", 0.4),
            ("browDownRight", 0.4),
        ],
    ),
    (
        "kiss",
        &[
            ("mouthPucker", 1.0),
            ("mouthFunnel", 0.3),
            ("cheekPuff", 0.1),
        ],
    ),
    ("puff", &[("cheekPuff", 1.0), ("mouthClose", 0.2)]),
    (
        "smirk",
        &[
            ("mouthSmileLeft", 0.8),
            ("mouthLeft", 0.4),
            ("cheekSquintLeft", 0.4),
            ("eyeSquintLeft", 0.2),
        ],
    ),
    (
        "wink",
        &[
            ("eyeBlinkRight", 1.0),
            ("mouthSmileRight", 0.5),
            ("cheekSquintRight", 0.5),
        ],
    ),
    (
        "yawn",
        &[
            ("jawOpen", 1.0),
            ("eyeSquintLeft", 0.6),
            ("eyeSquintRight", 0.6),
            ("mouthStretchLeft", 0.4),
            ("mouthStretchRight", 0.4),
        ],
    ),
];

/// (left, right) index pairs of the weights that have sides.
fn sides() -> Vec<(usize, usize)> {
    FACE_EXPRESSION_NAMES
        .iter()
        .enumerate()
        .filter_map(|(i, n)| {
            let base = n.strip_suffix("Left")?;
            face_expression(&format!("{base}Right")).map(|j| (i, j))
        })
        .collect()
}

fn idx(name: &str) -> usize {
    face_expression(name).expect("an ARKit name")
}

/// The weights of a preset at full intensity.
pub fn preset(name: &str) -> Option<Weights> {
    let (_, ws) = PRESETS.iter().find(|(n, _)| *n == name)?;
    let mut w = [0.0; FACE_EXPRESSION_COUNT];
    for &(n, v) in ws.iter() {
        w[idx(n)] = v;
    }
    Some(w)
}

/// The seeded generator of plausible expressions (see the module docs).
pub struct ExpressionSource {
    rng: ChaCha8Rng,
    sides: Vec<(usize, usize)>,
    motion: parallax_driver_simulated::Motion,
}

impl ExpressionSource {
    pub fn new(seed: u64) -> ExpressionSource {
        ExpressionSource {
            rng: ChaCha8Rng::seed_from_u64(seed),
            sides: sides(),
            motion: parallax_driver_simulated::Motion {
                kind: parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
            },
        }
    }

    /// The next draw.
    pub fn next_weights(&mut self) -> Weights {
        let mut w = [0.0f32; FACE_EXPRESSION_COUNT];
        let kind: f32 = self.rng.random();
        if kind < 0.35 {
            for v in w.iter_mut() {
                if self.rng.random::<f32>() < 0.15 {
                    *v = self.rng.random();
                }
            }
            self.maybe_mirror(&mut w, 0.6);
        } else if kind < 0.65 {
            let n = 1 + usize::from(self.rng.random::<f32>() < 0.4);
            for _ in 0..n {
                let (_, ws) = PRESETS[self.rng.random_range(0..PRESETS.len())];
                let k: f32 = self.rng.random_range(0.2..1.1);
                for &(name, v) in ws {
                    let i = idx(name);
                    w[i] = (w[i] + k * v).min(1.0);
                }
            }
            for v in w.iter_mut() {
                if self.rng.random::<f32>() < 0.05 {
                    *v = (*v + 0.4 * self.rng.random::<f32>()).min(1.0);
                }
            }
        } else if kind < 0.80 {
            let t = self.rng.random_range(0.0..12.0);
            let at = parallax_sdk_types::Time((t * 1e9) as i64);
            return parallax_driver_simulated::face::expressions(&self.motion, at).weights;
        } else {
            for v in w.iter_mut() {
                *v = self.rng.random::<f32>().powi(3);
            }
            self.maybe_mirror(&mut w, 0.5);
        }
        self.gaze(&mut w);
        self.exclusive(&mut w);
        for v in w.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
        w
    }

    fn maybe_mirror(&mut self, w: &mut Weights, p: f32) {
        if self.rng.random::<f32>() < p {
            for &(l, r) in &self.sides {
                w[r] = w[l] + 0.1 * (self.rng.random::<f32>() - 0.5);
            }
        }
    }

    /// The eyeLook weights from a yaw and pitch (both eyes, or each its
    /// own), in the simulated face's convention.
    fn gaze(&mut self, w: &mut Weights) {
        let both = self.rng.random::<f32>() < 0.8;
        let left = self.angles();
        let right = if both { left } else { self.angles() };
        for (eye, (yaw, pitch)) in [("Left", left), ("Right", right)] {
            // Looking to the wearer's left: the left eye looks out.
            let out = if eye == "Left" { yaw } else { -yaw };
            w[idx(&format!("eyeLookOut{eye}"))] = out.max(0.0);
            w[idx(&format!("eyeLookIn{eye}"))] = (-out).max(0.0);
            w[idx(&format!("eyeLookUp{eye}"))] = pitch.max(0.0);
            w[idx(&format!("eyeLookDown{eye}"))] = (-pitch).max(0.0);
        }
    }

    /// A gaze yaw and pitch in eyeLook units (straight ahead 30 % of the time).
    fn angles(&mut self) -> (f32, f32) {
        if self.rng.random::<f32>() < 0.3 {
            (0.0, 0.0)
        } else {
            (
                self.rng.random_range(-1.0..1.0),
                self.rng.random_range(-1.0..1.0),
            )
        }
    }

    fn exclusive(&mut self, w: &mut Weights) {
        for (a, b) in [("jawLeft", "jawRight"), ("mouthLeft", "mouthRight")] {
            let (a, b) = (idx(a), idx(b));
            if w[a] >= w[b] {
                w[b] = 0.0;
            } else {
                w[a] = 0.0;
            }
        }
    }
}

/// The simulated headset's scripted face at 30 Hz over its 12 s cycle
/// (360 frames): the held-out sequence the codec is judged on.
pub fn scripted_cycle() -> Vec<Weights> {
    let motion = parallax_driver_simulated::Motion {
        kind: parallax_driver_simulated::MotionKind::Scripted { seed: 1 },
    };
    (0..360)
        .map(|k| {
            let at = parallax_sdk_types::Time((k as f64 / 30.0 * 1e9) as i64);
            parallax_driver_simulated::face::expressions(&motion, at).weights
        })
        .collect()
}
