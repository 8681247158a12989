//! The camera path's last step: the face model fitted to the 468 face
//! landmarks of MediaPipe's face mesh, giving expression weights (and so
//! the ARKit weights the codec encodes) from a face camera or a webcam.
//!
//! [`LandmarkMap`] says where each landmark lies on the face model (three
//! vertices and weights). It is made once by [`calibrate`]: the neutral
//! face is drawn by the simulated face camera, the landmark model finds its
//! landmarks, and each is taken as the surface point under it. The
//! repository commits the result (`data/face-landmarks.json`, remade by
//! `parallax avatar map-landmarks`).
//!
//! [`FaceFitter`] then fits, per frame, the head's pose and the
//! expression weights so that the model's landmarks, seen through the
//! camera (a pinhole: perspective matters at face-camera and webcam
//! distances, where the nose is a third nearer than the ears), land on the
//! observed ones: it alternates Gauss–Newton steps on the pose with the
//! weights in 0..=1 that best explain the images at that pose (the
//! projection linearised about the current weights, a ridge-regularised
//! problem solved by coordinate descent within the bounds), warm started
//! from the previous frame. The landmark model's depths are not used (a
//! relative guess in an unstated scale); the model's mean identity is
//! fitted: a person's own face shape is not estimated yet.

use crate::face_camera::{Coverage, FaceCamera};
use crate::face_model::{ArkitMap, FaceModel, ShapeKind};
use crate::sheet::Image;
use glam::{Quat, Vec3};
use parallax_sdk_types::FACE_EXPRESSION_COUNT;

/// Landmarks of the face mesh.
pub const LANDMARKS: usize = 468;

/// Why a landmark map or a fit was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("landmark map: {0}")]
    Map(String),
    #[error("{0} landmarks, the face mesh has {LANDMARKS}")]
    Count(usize),
    #[error("landmark {0} is not finite")]
    NotFinite(usize),
    #[error("the landmarks are degenerate (all in one place)")]
    Degenerate,
}

/// Where one landmark lies on the model: a point of a triangle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LandmarkPoint {
    pub vertices: [u32; 3],
    pub weights: [f32; 3],
}

/// Where each of the 468 landmarks lies on the face model.
#[derive(Clone, Debug, PartialEq)]
pub struct LandmarkMap {
    pub points: Vec<LandmarkPoint>,
}

const MAP_FORMAT: &str = "parallax-face-landmarks";

impl LandmarkMap {
    /// The committed map for ICT-FaceKit (`data/face-landmarks.json`).
    pub fn ict_facekit(model: &FaceModel) -> LandmarkMap {
        LandmarkMap::read(include_str!("../data/face-landmarks.json"), model)
            .expect("the committed landmark map is valid (checked by its tests)")
    }

    /// The map as JSON: `{"format":…,"version":1,"vertices":N,"points":[[v0,v1,v2,w0,w1,w2],…]}`.
    pub fn write(&self, model: &FaceModel) -> String {
        let points: Vec<String> = self
            .points
            .iter()
            .map(|p| {
                format!(
                    "[{},{},{},{},{},{}]",
                    p.vertices[0],
                    p.vertices[1],
                    p.vertices[2],
                    p.weights[0],
                    p.weights[1],
                    p.weights[2]
                )
            })
            .collect();
        format!(
            "{{\"format\":\"{MAP_FORMAT}\",\"version\":1,\"vertices\":{},\"points\":[\n{}\n]}}\n",
            model.neutral.len(),
            points.join(",\n")
        )
    }

    /// Reads a map written by [`LandmarkMap::write`] for `model`: every
    /// field checked (468 points, vertices of this model, weights in 0..=1
    /// summing to 1).
    pub fn read(text: &str, model: &FaceModel) -> Result<LandmarkMap, FitError> {
        let bad = |m: String| FitError::Map(m);
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(MAP_FORMAT) {
            return Err(bad(format!("not a {MAP_FORMAT} file")));
        }
        if v.get("version").and_then(|f| f.as_u64()) != Some(1) {
            return Err(bad("version is not 1".into()));
        }
        let n = model.neutral.len();
        if v.get("vertices").and_then(|f| f.as_u64()) != Some(n as u64) {
            return Err(bad(format!(
                "made for another model (this one has {n} vertices)"
            )));
        }
        let points = v
            .get("points")
            .and_then(|p| p.as_array())
            .ok_or_else(|| bad("no points".into()))?;
        if points.len() != LANDMARKS {
            return Err(bad(format!("{} points, not {LANDMARKS}", points.len())));
        }
        let mut out = Vec::with_capacity(LANDMARKS);
        for (i, p) in points.iter().enumerate() {
            let nums: Vec<f64> = p
                .as_array()
                .filter(|a| a.len() == 6)
                .and_then(|a| a.iter().map(|x| x.as_f64()).collect())
                .ok_or_else(|| bad(format!("point {i} is not six numbers")))?;
            let vertices = [0, 1, 2].map(|k| nums[k] as u32);
            let weights = [3, 4, 5].map(|k| nums[k] as f32);
            if nums[..3]
                .iter()
                .any(|&x| x < 0.0 || x.fract() != 0.0 || x as usize >= n)
            {
                return Err(bad(format!("point {i}: a vertex outside the model")));
            }
            if weights.iter().any(|w| !(0.0..=1.0).contains(w))
                || (weights.iter().sum::<f32>() - 1.0).abs() > 1e-3
            {
                return Err(bad(format!(
                    "point {i}: weights {weights:?} do not sum to 1"
                )));
            }
            out.push(LandmarkPoint { vertices, weights });
        }
        Ok(LandmarkMap { points: out })
    }

    /// The landmarks' positions on a mesh of the model.
    pub fn positions(&self, mesh: &[Vec3]) -> Vec<Vec3> {
        self.points
            .iter()
            .map(|p| {
                (0..3)
                    .map(|k| mesh[p.vertices[k] as usize] * p.weights[k])
                    .sum()
            })
            .collect()
    }
}

/// Makes the landmark map: draws the neutral face with `camera` (no turn),
/// hands the image to `landmarks` (which returns the 468 landmarks in its
/// pixels), and takes for each landmark the surface point under it (the
/// nearest covered pixel within 12 pixels, for landmarks on the outline).
pub fn calibrate<E: std::fmt::Display>(
    model: &FaceModel,
    camera: &FaceCamera,
    landmarks: impl FnOnce(&Image) -> Result<Vec<Vec3>, E>,
) -> Result<LandmarkMap, FitError> {
    let mut shading = crate::shading::FaceShading::new(model);
    let mut shaded = Vec::new();
    shading.shade(&model.neutral, None, &mut shaded);
    let triangles = shading.lods[0].clone();
    let (image, cover) = camera.render(model, &shaded, &triangles, Quat::IDENTITY);
    let found = landmarks(&image).map_err(|e| FitError::Map(format!("landmarks: {e}")))?;
    if found.len() != LANDMARKS {
        return Err(FitError::Count(found.len()));
    }
    let mut points = Vec::with_capacity(LANDMARKS);
    for (i, l) in found.iter().enumerate() {
        // Landmarks are continuous pixel coordinates (pixel k spans k..k+1);
        // the rasteriser samples pixel k at k.
        let (tri, bary) = under(&cover, l.x - 0.5, l.y - 0.5, 12)
            .ok_or_else(|| FitError::Map(format!("landmark {i} is off the face")))?;
        points.push(LandmarkPoint {
            vertices: triangles[tri as usize],
            weights: bary,
        });
    }
    Ok(LandmarkMap { points })
}

/// The surface under pixel (x, y), or under the nearest covered pixel
/// within `reach`.
fn under(cover: &Coverage, x: f32, y: f32, reach: i64) -> Option<(u32, [f32; 3])> {
    let (cx, cy) = (x.round() as i64, y.round() as i64);
    let mut best: Option<(i64, (u32, [f32; 3]))> = None;
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let (px, py) = (cx + dx, cy + dy);
            if px < 0 || py < 0 || px >= cover.width as i64 || py >= cover.height as i64 {
                continue;
            }
            if let Some(hit) = cover.pixels[py as usize * cover.width + px as usize] {
                let d = dx * dx + dy * dy;
                if best.is_none_or(|(b, _)| d < b) {
                    best = Some((d, hit));
                }
            }
        }
    }
    best.map(|(_, h)| h)
}

/// A pinhole camera: focal length and principal point in pixels (x right,
/// y down), looking down its +z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Intrinsics {
    pub focal: f32,
    pub cx: f32,
    pub cy: f32,
}

impl Intrinsics {
    /// A camera of `width` × `height` pixels with a horizontal field of
    /// view of `fov` radians, centred (what a webcam is taken to be when
    /// nothing better is known: 60°).
    pub fn from_fov(width: usize, height: usize, fov: f32) -> Intrinsics {
        Intrinsics {
            focal: width as f32 / 2.0 / (fov / 2.0).tan(),
            cx: width as f32 / 2.0,
            cy: height as f32 / 2.0,
        }
    }

    fn project(&self, q: Vec3) -> glam::Vec2 {
        glam::Vec2::new(
            self.cx + self.focal * q.x / q.z,
            self.cy + self.focal * q.y / q.z,
        )
    }
}

/// One frame's fit.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceFit {
    /// ARKit-order weights for the codec.
    pub arkit: [f32; FACE_EXPRESSION_COUNT],
    /// The model's shape weights (file order; identities at 0).
    pub shape_weights: Vec<f32>,
    /// `camera_from_model`: the head in the camera's frame (x right, y
    /// down, z forward; metres).
    pub rotation: Quat,
    pub translation: Vec3,
    /// Root mean square distance of the fitted landmarks' images from the
    /// observed, pixels.
    pub rms_px: f32,
}

/// Fits the face model to landmarks, frame after frame.
#[derive(Clone, Debug)]
pub struct FaceFitter {
    /// The model's shapes that are fitted (expressions the landmarks can
    /// show: all but the pupils'), by index.
    shapes: Vec<usize>,
    model_shapes: usize,
    /// The landmarks on the neutral model.
    neutral: Vec<Vec3>,
    /// Per fitted shape, the landmarks' deltas.
    basis: Vec<Vec<Vec3>>,
    weights: Vec<f32>,
    /// The previous frame's pose, `camera_from_model`.
    pose: Option<(Quat, Vec3)>,
    map: ArkitMap,
    camera: Intrinsics,
    /// Pose–expression alternations per frame.
    pub iterations: usize,
}

/// The ridge term, relative to the mean squared norm of a shape's
/// effect on the landmarks' images: keeps shapes that move the landmarks
/// alike from trading off against each other.
const RIDGE: f32 = 0.05;

impl FaceFitter {
    /// A fitter for landmarks seen by `camera`.
    pub fn new(model: &FaceModel, map: &LandmarkMap, camera: Intrinsics) -> FaceFitter {
        let neutral = map.positions(&model.neutral);
        let shapes: Vec<usize> = model
            .shapes_of(ShapeKind::Expression)
            .filter(|(_, s)| !s.name.starts_with("PupilDilate"))
            .map(|(i, _)| i)
            .collect();
        // Each shape's delta at every landmark.
        let basis: Vec<Vec<Vec3>> = shapes
            .iter()
            .map(|&si| {
                let mut w = vec![0.0; model.shapes.len()];
                w[si] = 1.0;
                let mesh = model.evaluate(&w);
                map.positions(&mesh)
                    .iter()
                    .zip(&neutral)
                    .map(|(a, b)| *a - *b)
                    .collect()
            })
            .collect();
        FaceFitter {
            weights: vec![0.0; shapes.len()],
            shapes,
            model_shapes: model.shapes.len(),
            neutral,
            basis,
            pose: None,
            map: model.arkit_map(),
            camera,
            iterations: 6,
        }
    }

    /// Forgets the previous frame (a new face, or one found again).
    pub fn reset(&mut self) {
        self.weights.fill(0.0);
        self.pose = None;
    }

    /// A first pose: the face upright, facing the camera, as far away as
    /// its landmarks' spread says, where their centre is.
    fn initial_pose(&self, observed: &[glam::Vec2]) -> (Quat, Vec3) {
        let n = observed.len() as f32;
        let centre = observed.iter().sum::<glam::Vec2>() / n;
        let spread = (observed
            .iter()
            .map(|o| (*o - centre).length_squared())
            .sum::<f32>()
            / n)
            .sqrt();
        let m = self.neutral.iter().sum::<Vec3>() / n;
        let model_spread = (self
            .neutral
            .iter()
            .map(|p| (*p - m).truncate().length_squared())
            .sum::<f32>()
            / n)
            .sqrt();
        let z = self.camera.focal * model_spread / spread.max(1e-3);
        // Model +Y up, +Z out of the face; camera y down, z forward.
        let rot = Quat::from_rotation_x(std::f32::consts::PI);
        let c = &self.camera;
        let at = Vec3::new(
            (centre.x - c.cx) * z / c.focal,
            (centre.y - c.cy) * z / c.focal,
            z,
        );
        (rot, at - rot * m)
    }

    /// The fit for landmarks in image pixels (x right, y down, as
    /// [`parallax_hand_tracking::face`] gives them; their depth is not
    /// used: the camera's projection is).
    pub fn fit(&mut self, landmarks: &[Vec3]) -> Result<FaceFit, FitError> {
        if landmarks.len() != LANDMARKS {
            return Err(FitError::Count(landmarks.len()));
        }
        if let Some(i) = landmarks.iter().position(|l| !l.is_finite()) {
            return Err(FitError::NotFinite(i));
        }
        let observed: Vec<glam::Vec2> = landmarks.iter().map(|l| l.truncate()).collect();
        let centre = observed.iter().sum::<glam::Vec2>() / LANDMARKS as f32;
        if observed.iter().all(|o| (*o - centre).length() < 1e-3) {
            return Err(FitError::Degenerate);
        }
        let (mut rot, mut t) = self.pose.unwrap_or_else(|| self.initial_pose(&observed));
        let mut points = self.neutral.clone();
        if self.pose.is_none() {
            // The pose alone first, from the upright guess.
            for _ in 0..6 {
                (rot, t) = self.step(&observed, rot, t, false);
            }
        }
        for _ in 0..self.iterations.max(1) {
            (rot, t) = self.step(&observed, rot, t, true);
        }
        self.current(&mut points);
        if !(rot.is_finite() && t.is_finite() && t.z > 0.0) {
            self.reset();
            return Err(FitError::Degenerate);
        }
        self.pose = Some((rot, t));
        let rms_px = (points
            .iter()
            .zip(&observed)
            .map(|(p, o)| (self.camera.project(rot * *p + t) - *o).length_squared())
            .sum::<f32>()
            / LANDMARKS as f32)
            .sqrt();
        let mut shape_weights = vec![0.0; self.model_shapes];
        for (&si, &w) in self.shapes.iter().zip(&self.weights) {
            shape_weights[si] = w;
        }
        Ok(FaceFit {
            arkit: self.map.arkit_from(&shape_weights),
            shape_weights,
            rotation: rot,
            translation: t,
            rms_px,
        })
    }

    /// How a landmark's image moves with its camera-frame position `q`:
    /// the rows d(u, v)/dq.
    fn image_jacobian(&self, q: Vec3) -> [Vec3; 2] {
        let f = self.camera.focal / q.z;
        [
            Vec3::new(f, 0.0, -f * q.x / q.z),
            Vec3::new(0.0, f, -f * q.y / q.z),
        ]
    }

    /// One Gauss–Newton step on the pose (a small turn about the camera's
    /// axes and a move) and, with `expressions`, the weights too, all at
    /// once (they trade off: a slightly wrong pose looks like a raised
    /// brow). The weights stay in 0..=1: a weight the step would push out
    /// is held at its bound and the rest solved again. Returns the new
    /// pose; the weights are updated in place.
    fn step(
        &mut self,
        observed: &[glam::Vec2],
        rot: Quat,
        t: Vec3,
        expressions: bool,
    ) -> (Quat, Vec3) {
        let k = if expressions { self.shapes.len() } else { 0 };
        let n = 6 + k;
        let mut points = self.neutral.clone();
        self.current(&mut points);
        let mut h = nalgebra::DMatrix::<f64>::zeros(n, n);
        let mut g = nalgebra::DVector::<f64>::zeros(n);
        let mut j = vec![0.0f64; n];
        for (i, (p, o)) in points.iter().zip(observed).enumerate() {
            let rp = rot * *p;
            let q = rp + t;
            if q.z <= 1e-3 {
                continue;
            }
            let r = self.camera.project(q) - *o;
            for (axis, row) in self.image_jacobian(q).iter().enumerate() {
                // d(rp)/dω = ω × rp = -rp × ω: the row times that.
                let dw = rp.cross(*row);
                j[..6].copy_from_slice(&[
                    dw.x as f64,
                    dw.y as f64,
                    dw.z as f64,
                    row.x as f64,
                    row.y as f64,
                    row.z as f64,
                ]);
                for (s, b) in self.basis.iter().take(k).enumerate() {
                    j[6 + s] = row.dot(rot * b[i]) as f64;
                }
                let ri = r[axis] as f64;
                for a in 0..n {
                    if j[a] == 0.0 {
                        continue;
                    }
                    g[a] += j[a] * ri;
                    for b in a..n {
                        h[(a, b)] += j[a] * j[b];
                    }
                }
            }
        }
        for a in 0..n {
            for b in 0..a {
                h[(a, b)] = h[(b, a)];
            }
        }
        // The ridge on the weights (towards 0), and a little damping.
        let mean_diag = (6..n).map(|a| h[(a, a)]).sum::<f64>() / k.max(1) as f64;
        for s in 0..k {
            let a = 6 + s;
            h[(a, a)] += RIDGE as f64 * mean_diag;
            g[a] += RIDGE as f64 * mean_diag * self.weights[s] as f64;
        }
        for a in 0..n {
            h[(a, a)] += 1e-9 * h[(a, a)].max(1e-12);
        }
        // Solve H δ = -g with the weights' bounds: variables pushed past a
        // bound are pinned there and the others solved again.
        let mut pinned: Vec<Option<f64>> = vec![None; n];
        let mut delta = nalgebra::DVector::<f64>::zeros(n);
        for _ in 0..=k {
            let free: Vec<usize> = (0..n).filter(|&a| pinned[a].is_none()).collect();
            let mut hf = nalgebra::DMatrix::<f64>::zeros(free.len(), free.len());
            let mut gf = nalgebra::DVector::<f64>::zeros(free.len());
            for (x, &a) in free.iter().enumerate() {
                gf[x] = -g[a];
                for (pa, d) in pinned.iter().enumerate() {
                    if let Some(d) = d {
                        gf[x] -= h[(a, pa)] * d;
                    }
                }
                for (y, &b) in free.iter().enumerate() {
                    hf[(x, y)] = h[(a, b)];
                }
            }
            let Some(sol) = hf.cholesky().map(|c| c.solve(&gf)) else {
                return (rot, t);
            };
            for (x, &a) in free.iter().enumerate() {
                delta[a] = sol[x];
            }
            for (a, d) in pinned.iter().enumerate() {
                if let Some(d) = d {
                    delta[a] = *d;
                }
            }
            let mut moved = false;
            for s in 0..k {
                let a = 6 + s;
                let w = self.weights[s] as f64 + delta[a];
                if pinned[a].is_none() && !(0.0..=1.0).contains(&w) {
                    pinned[a] = Some(w.clamp(0.0, 1.0) - self.weights[s] as f64);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        for s in 0..k {
            self.weights[s] = (self.weights[s] + delta[6 + s] as f32).clamp(0.0, 1.0);
        }
        let omega = Vec3::new(delta[0] as f32, delta[1] as f32, delta[2] as f32);
        (
            (Quat::from_scaled_axis(omega) * rot).normalize(),
            t + Vec3::new(delta[3] as f32, delta[4] as f32, delta[5] as f32),
        )
    }

    /// The landmarks of the model with the current weights.
    fn current(&self, out: &mut [Vec3]) {
        out.copy_from_slice(&self.neutral);
        for (b, &w) in self.basis.iter().zip(&self.weights) {
            if w != 0.0 {
                for (o, d) in out.iter_mut().zip(b) {
                    *o += *d * w;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_face_seen_through_the_camera_is_fitted_back() {
        let model = FaceModel::ict_facekit();
        // Any map will do for this: the landmarks at 468 spread vertices.
        let face = model.part("face").unwrap().vertices.clone();
        let step = (face.end - face.start) / LANDMARKS as u32;
        let map = LandmarkMap {
            points: (0..LANDMARKS as u32)
                .map(|i| LandmarkPoint {
                    vertices: [face.start + i * step; 3],
                    weights: [1.0, 0.0, 0.0],
                })
                .collect(),
        };
        let camera = Intrinsics::from_fov(320, 320, 1.0);
        let mut fitter = FaceFitter::new(&model, &map, camera);
        let mut truth = vec![0.0; model.shapes.len()];
        for (name, w) in [("jawOpen", 0.6), ("mouthSmile_L", 0.5), ("eyeBlink_R", 0.8)] {
            truth[model.shape(name).unwrap()] = w;
        }
        let mesh = model.evaluate(&truth);
        let rot = Quat::from_euler(glam::EulerRot::YXZ, 0.3, -0.15, 0.05)
            * Quat::from_rotation_x(std::f32::consts::PI);
        let t = Vec3::new(0.02, -0.01, 0.35) - rot * super::super::face_camera::face_centre(&model);
        let seen: Vec<Vec3> = map
            .positions(&mesh)
            .iter()
            .map(|p| camera.project(rot * *p + t).extend(0.0))
            .collect();
        let fit = fitter.fit(&seen).unwrap();
        // Exact landmarks: what is left is the ridge's pull towards 0.
        assert!(fit.rms_px < 0.25, "rms {} px", fit.rms_px);
        assert!(fit.rotation.dot(rot).abs() > 0.9999);
        assert!((fit.translation - t).length() < 1e-3);
        // The ridge pulls each weight towards 0 by up to a fifth.
        let got = |name: &str| fit.shape_weights[model.shape(name).unwrap()];
        assert!(
            (got("jawOpen") - 0.6).abs() < 0.06,
            "jawOpen {}",
            got("jawOpen")
        );
        assert!(
            (got("mouthSmile_L") - 0.5).abs() < 0.1,
            "smile {}",
            got("mouthSmile_L")
        );
        // A closing lid: the blink and the look down both lower it, and
        // the ridge shares it between them.
        assert!(got("eyeBlink_R") > 0.3, "blink {}", got("eyeBlink_R"));
        assert!(got("eyeBlink_L") < 0.05 && got("mouthSmile_R") < 0.1);
        // ARKit names carry them.
        let jaw = parallax_sdk_types::face_expression("jawOpen").unwrap();
        assert!((fit.arkit[jaw] - 0.6).abs() < 0.06);
        // A second frame starts from this one and stays.
        let again = fitter.fit(&seen).unwrap();
        assert!(again.rms_px < 0.25);
        // Bad input is an error, not a garbage face.
        assert_eq!(fitter.fit(&seen[..10]), Err(FitError::Count(10)));
        let mut nan = seen.clone();
        nan[3].x = f32::NAN;
        assert_eq!(fitter.fit(&nan), Err(FitError::NotFinite(3)));
        assert_eq!(
            fitter.fit(&vec![Vec3::ONE; LANDMARKS]),
            Err(FitError::Degenerate)
        );
    }
}
