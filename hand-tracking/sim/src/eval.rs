//! Evaluation of the camera hand tracker on the fixed simulated sequences:
//! both simulated cameras render each frame, the tracker (the models, region
//! following, triangulation, filter, skeleton fit) runs on the images, and
//! its joints are compared with the ground truth. The numbers behind
//! `parallax hands eval`.

use crate::gpu::{RenderError, Renderer};
use crate::sequences::{frame, Joints, Sequence};
use glam::{Vec2, Vec3};
use parallax_driver_simulated::camera_infos;
use parallax_hand_tracking::landmark::Image;
use parallax_hand_tracking::stereo::Camera;
use parallax_hand_tracking::tracker::{HandTracker, StereoHandTracker, TrackedHand};
use parallax_hand_tracking::{GraphError, HandLandmarker, Variant};
use parallax_sdk_types::HAND_JOINT_COUNT;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("rendering: {0}")]
    Render(#[from] RenderError),
    #[error("the hand models: {0}")]
    Model(#[from] GraphError),
}

/// A tracked hand counts as finding a true one when their wrists are this close.
pub const MATCH_RADIUS: f32 = 0.05;

/// One true hand in one frame.
#[derive(Clone, Debug)]
pub struct HandResult {
    pub sequence: &'static str,
    pub frame: usize,
    /// 0 left, 1 right (the truth).
    pub hand: usize,
    /// In both cameras' view (all 21 landmark joints inside both images).
    pub visible: bool,
    /// A tracked hand matched it.
    pub detected: bool,
    /// The matched hand had the right label.
    pub handedness_ok: bool,
    /// Per joint position error (metres) of the matched hand.
    pub errors: Option<[f32; HAND_JOINT_COUNT]>,
    /// The same after the best similarity transform (Procrustes).
    pub pa_errors: Option<[f32; HAND_JOINT_COUNT]>,
}

/// Per-frame stage times.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameTimes {
    pub render: Duration,
    pub detect: Duration,
    pub landmarks: Duration,
    pub fuse: Duration,
    /// The tracker's whole `track` call.
    pub track: Duration,
}

/// Camera 0's image of one frame with the truth and the tracked joints projected.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub sequence: &'static str,
    pub frame: usize,
    pub image: crate::GrayImage,
    pub truth: Vec<Vec<Vec2>>,
    pub tracked: Vec<Vec<Vec2>>,
}

/// Everything measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub adapter: String,
    pub results: Vec<HandResult>,
    pub times: Vec<FrameTimes>,
    pub snapshots: Vec<Snapshot>,
}

impl Report {
    fn matched(&self) -> impl Iterator<Item = &HandResult> {
        self.results
            .iter()
            .filter(|r| r.visible && r.errors.is_some())
    }

    /// Visible true hands that were found.
    pub fn detection_rate(&self) -> f32 {
        let visible = self.results.iter().filter(|r| r.visible).count();
        let found = self
            .results
            .iter()
            .filter(|r| r.visible && r.detected)
            .count();
        found as f32 / visible.max(1) as f32
    }

    /// Found hands with the right label.
    pub fn handedness_accuracy(&self) -> f32 {
        let found: Vec<_> = self.matched().collect();
        found.iter().filter(|r| r.handedness_ok).count() as f32 / found.len().max(1) as f32
    }

    /// Mean per-joint position error (metres) over found hands.
    pub fn mpjpe(&self) -> f32 {
        mean(self.matched().flat_map(|r| r.errors.unwrap()))
    }

    /// The same after Procrustes alignment.
    pub fn pa_mpjpe(&self) -> f32 {
        mean(self.matched().flat_map(|r| r.pa_errors.unwrap()))
    }

    /// Share of joints of found hands within `metres`.
    pub fn pck(&self, metres: f32) -> f32 {
        let all: Vec<f32> = self.matched().flat_map(|r| r.errors.unwrap()).collect();
        all.iter().filter(|e| **e <= metres).count() as f32 / all.len().max(1) as f32
    }

    /// Mean error per joint (`XrHandJointEXT` order).
    pub fn per_joint(&self) -> [f32; HAND_JOINT_COUNT] {
        std::array::from_fn(|j| mean(self.matched().map(|r| r.errors.unwrap()[j])))
    }
}

fn mean(v: impl Iterator<Item = f32>) -> f32 {
    let (s, n) = v.fold((0.0f64, 0usize), |(s, n), x| (s + x as f64, n + 1));
    (s / n.max(1) as f64) as f32
}

/// Median and 99th percentile.
pub fn median_p99(mut v: Vec<Duration>) -> (Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Per-joint distances after the similarity transform (rotation, uniform
/// scale, translation) that best maps `got` onto `want` (Umeyama).
pub fn procrustes_errors(got: &[Vec3], want: &[Vec3]) -> Vec<f32> {
    use nalgebra::{Matrix3, Vector3};
    let n = got.len() as f32;
    let cg = got.iter().copied().sum::<Vec3>() / n;
    let cw = want.iter().copied().sum::<Vec3>() / n;
    let v = |p: Vec3| Vector3::new(p.x, p.y, p.z);
    let mut cov = Matrix3::<f32>::zeros();
    let mut var = 0.0;
    for (g, w) in got.iter().zip(want) {
        cov += v(*w - cw) * v(*g - cg).transpose();
        var += (*g - cg).length_squared();
    }
    let svd = cov.svd(true, true);
    let (u, vt) = (svd.u.unwrap(), svd.v_t.unwrap());
    let mut s = Matrix3::<f32>::identity();
    if (u * vt).determinant() < 0.0 {
        s[(2, 2)] = -1.0;
    }
    let r = u * s * vt;
    let scale = (svd.singular_values.component_mul(&s.diagonal())).sum() / var.max(1e-12);
    got.iter()
        .zip(want)
        .map(|(g, w)| {
            let a = r * v(*g - cg) * scale + v(cw);
            (a - v(*w)).norm()
        })
        .collect()
}

/// Whether every landmark joint of a hand is inside every camera's image.
fn visible(j: &Joints, cams: &[Camera]) -> bool {
    cams.iter().all(|c| {
        parallax_hand_tracking::skeleton::LANDMARK_OF_JOINT
            .iter()
            .enumerate()
            .filter(|(_, l)| l.is_some())
            .all(|(i, _)| {
                c.project(j[i].0.position).is_some_and(|p| {
                    p.x >= 0.0 && p.y >= 0.0 && p.x < c.width as f32 && p.y < c.height as f32
                })
            })
    })
}

/// Compares the tracked hands of a frame with the truth.
fn score(
    seq: &Sequence,
    i: usize,
    truth: &[Option<Joints>; 2],
    tracked: &[Option<TrackedHand>; 2],
    cams: &[Camera],
) -> Vec<HandResult> {
    let mut out = Vec::new();
    for (hand, t) in truth.iter().enumerate() {
        let Some(t) = t else { continue };
        let m = tracked
            .iter()
            .flatten()
            .map(|h| (h, (h.joints[1].pose.position - t[1].0.position).length()))
            .filter(|(_, d)| *d < MATCH_RADIUS)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(h, _)| h);
        let (errors, pa_errors) = match m {
            Some(h) => {
                let got: Vec<Vec3> = h.joints.iter().map(|j| j.pose.position).collect();
                let want: Vec<Vec3> = t.iter().map(|j| j.0.position).collect();
                let e: Vec<f32> = got
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (*a - *b).length())
                    .collect();
                let pa = procrustes_errors(&got, &want);
                (
                    Some(std::array::from_fn(|k| e[k])),
                    Some(std::array::from_fn(|k| pa[k])),
                )
            }
            None => (None, None),
        };
        out.push(HandResult {
            sequence: seq.name,
            frame: i,
            hand,
            visible: visible(t, cams),
            detected: m.is_some(),
            handedness_ok: m
                .is_some_and(|h| (h.hand == parallax_sdk_types::Hand::Right) == (hand == 1)),
            errors,
            pa_errors,
        });
    }
    out
}

/// Runs the tracker over `sequences` (the first `max_frames` frames of each
/// when given); `progress` is called after every frame.
pub fn evaluate(
    models: &Path,
    variant: Variant,
    sequences: &[Sequence],
    max_frames: Option<usize>,
    mut progress: impl FnMut(&Sequence, usize),
) -> Result<Report, EvalError> {
    let renderer = Renderer::new()?;
    let cams: Vec<Camera> = camera_infos().iter().map(Camera::from).collect();
    let device = candle_core::Device::Cpu;
    let mut report = Report {
        adapter: renderer.adapter.clone(),
        ..Default::default()
    };
    for seq in sequences {
        // A new tracker per sequence: a new user, bone lengths learnt afresh.
        let landmarker = HandLandmarker::load(models, variant, &device)?;
        let mut tracker = StereoHandTracker::new(landmarker, cams.clone());
        let n = max_frames.map_or(seq.frames, |m| m.min(seq.frames));
        for i in 0..n {
            let f = frame(seq, i);
            let t = Instant::now();
            let images: Vec<crate::GrayImage> = cams
                .iter()
                .map(|c| renderer.render(&f.scene, c))
                .collect::<Result<_, _>>()?;
            let render = t.elapsed();
            let views: Vec<Image> = images.iter().map(|im| im.as_image()).collect();
            let t = Instant::now();
            let tracked = tracker.track(&views, f.time)?;
            let track = t.elapsed();
            report.times.push(FrameTimes {
                render,
                detect: tracker.stats.detect,
                landmarks: tracker.stats.landmarks,
                fuse: tracker.stats.fuse,
                track,
            });
            report
                .results
                .extend(score(seq, i, &f.hands, &tracked, &cams));
            if i == n * 2 / 3 {
                let project = |joints: Vec<Vec3>| -> Vec<Vec2> {
                    joints.iter().filter_map(|p| cams[0].project(*p)).collect()
                };
                report.snapshots.push(Snapshot {
                    sequence: seq.name,
                    frame: i,
                    image: images[0].clone(),
                    truth: f
                        .hands
                        .iter()
                        .flatten()
                        .map(|j| project(j.iter().map(|x| x.0.position).collect()))
                        .collect(),
                    tracked: tracked
                        .iter()
                        .flatten()
                        .map(|h| project(h.joints.iter().map(|x| x.pose.position).collect()))
                        .collect(),
                });
            }
            progress(seq, i);
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::Quat;

    #[test]
    fn procrustes_removes_rotation_scale_and_translation() {
        let want: Vec<Vec3> = (0..26)
            .map(|i| {
                Vec3::new(
                    (i as f32 * 0.37).sin(),
                    (i as f32 * 0.11).cos(),
                    i as f32 * 0.01,
                )
            })
            .collect();
        let q = Quat::from_rotation_y(0.7) * Quat::from_rotation_x(-0.3);
        let got: Vec<Vec3> = want
            .iter()
            .map(|p| q * *p * 1.3 + Vec3::new(0.2, -1.0, 3.0))
            .collect();
        let e = procrustes_errors(&got, &want);
        assert!(e.iter().all(|e| *e < 1e-4), "{e:?}");
        // A mirror is not a rotation: it leaves an error.
        let mirrored: Vec<Vec3> = want.iter().map(|p| Vec3::new(-p.x, p.y, p.z)).collect();
        assert!(procrustes_errors(&mirrored, &want)
            .iter()
            .any(|e| *e > 1e-2));
    }

    #[test]
    fn percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(
            median_p99(v),
            (Duration::from_millis(51), Duration::from_millis(99))
        );
    }
}
