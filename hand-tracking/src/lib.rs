//! Hand tracking from the headset's cameras.
//!
//! MediaPipe's palm detector and 21-landmark hand model (Apache-2.0, from
//! the pinned PyPI wheel `mediapipe==0.10.14`, fetched and converted by
//! `scripts/fetch-hand-models.sh`) run here with candle, on the CPU or on a
//! CUDA device. [`graph::Graph`] executes the converted TFLite graphs;
//! [`models_dir`] says where the converted files are.
//!
//! [`palm`] decodes the detector's output (anchors, boxes, keypoints,
//! weighted NMS) into rotated hand regions; [`landmark`] cuts such a region
//! out of an image for the landmark model and maps its landmarks back.
//!
//! [`tracker::StereoHandTracker`] turns simultaneous images of two or more
//! calibrated cameras ([`stereo::Camera`]) into both hands' 26 joints:
//! regions followed from the previous landmarks, a camera that loses a
//! hand looking where its last 3D landmarks project, the detector only
//! where a hand is missing, landmarks triangulated ([`stereo`]), filtered
//! ([`filter::OneEuro`]) and fitted to the user's skeleton with constant
//! bone lengths ([`skeleton::SkeletonFit`]).
//!
//! On the CPU, [`graph::Graph`] runs a compiled plan of fused kernels
//! (`cpu.rs`, `kernels.rs`); on other devices candle's ops.
//!
//! Status: the models run and match the TFLite runtime (see
//! `tests/reference.rs`), at 0.8-1.0× TFLite's time on the CPU; the tracker
//! is measured on rendered simulated sequences (`parallax hands eval`,
//! `tests/tracker.rs`) and feeds the runtime's `XR_EXT_hand_tracking`.

mod cpu;
pub mod face;
pub mod filter;
pub mod graph;
mod kernels;
pub mod landmark;
pub mod palm;
pub mod skeleton;
pub mod stereo;
pub mod tracker;

pub use graph::{Graph, GraphError, OpProfile};

use std::path::PathBuf;

/// The models taken from the wheel: the hand models, and the face
/// landmark model ([`face`]).
pub const MODELS: [&str; 5] = [
    "palm_detection_lite",
    "palm_detection_full",
    "hand_landmark_lite",
    "hand_landmark_full",
    "face_landmark",
];

/// Where the converted models are: `PARALLAX_HAND_MODELS`, else
/// `hand-tracking/models` of this source tree (where the fetch script puts
/// them).
pub fn models_dir() -> PathBuf {
    std::env::var_os("PARALLAX_HAND_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")))
}

/// Runs `f` on a thread of rayon's pool. Called from outside the pool,
/// every parallel step inside `f` (each op of a model) would hand its work
/// to the pool and put the calling thread to sleep until it is done: a
/// wake-up per step, measured at 8 to 15 % of a model's run.
pub(crate) fn in_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        f()
    } else {
        rayon::scope(|_| f())
    }
}

use candle_core::{Device, Tensor};
use glam::Vec2;
use landmark::{HandLandmarks, Image, CROP};
use palm::{Anchor, Palm, Roi};
use std::time::{Duration, Instant};

/// Which variant of the models to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Faster, a little less accurate.
    Lite,
    Full,
}

/// Time spent in each stage of the last [`HandLandmarker::process`] call.
#[derive(Clone, Copy, Debug, Default)]
pub struct StageTimes {
    pub detect: Duration,
    pub landmarks: Duration,
}

/// Palm detection, then landmarks in each palm's region: MediaPipe's hand
/// landmarker, on one camera image.
#[derive(Debug)]
pub struct HandLandmarker {
    palm: Graph,
    landmark: Graph,
    anchors: Vec<Anchor>,
    device: Device,
    /// Palms scoring below this are dropped (MediaPipe: 0.5).
    pub min_palm_score: f32,
    /// Regions whose hand presence is below this hold no hand.
    pub min_presence: f32,
    /// At most this many hands.
    pub max_hands: usize,
    pub times: StageTimes,
}

impl HandLandmarker {
    /// Loads both models from `dir` (see [`models_dir`]).
    pub fn load(
        dir: &std::path::Path,
        variant: Variant,
        device: &Device,
    ) -> Result<Self, GraphError> {
        let v = match variant {
            Variant::Lite => "lite",
            Variant::Full => "full",
        };
        Ok(Self {
            palm: Graph::load(dir, &format!("palm_detection_{v}"), device)?,
            landmark: Graph::load(dir, &format!("hand_landmark_{v}"), device)?,
            anchors: palm::anchors(),
            device: device.clone(),
            min_palm_score: 0.5,
            min_presence: 0.5,
            max_hands: 2,
            times: StageTimes::default(),
        })
    }

    fn input(&self, data: Vec<f32>, size: usize) -> Result<Tensor, GraphError> {
        Ok(Tensor::from_vec(data, (1, size, size, 3), &self.device)?)
    }

    /// Palms in `image`, in normalised image coordinates, best first. The
    /// image is letterboxed into the detector's square input.
    pub fn detect_palms(&self, image: &Image) -> Result<Vec<Palm>, GraphError> {
        in_pool(|| self.detect_palms_here(image))
    }

    fn detect_palms_here(&self, image: &Image) -> Result<Vec<Palm>, GraphError> {
        let side = image.width().max(image.height()) as f32;
        let square = Roi {
            center: Vec2::splat(0.5),
            size: Vec2::new(side / image.width() as f32, side / image.height() as f32),
            rotation: 0.0,
        };
        let n = palm::INPUT_SIZE as usize;
        let out = self
            .palm
            .run(&self.input(landmark::crop(image, &square, n), n)?)?;
        let boxes = out[0].flatten_all()?.to_vec1::<f32>()?;
        let scores = out[1].flatten_all()?.to_vec1::<f32>()?;
        let palms = palm::weighted_nms(
            palm::decode(&boxes, &scores, &self.anchors, self.min_palm_score),
            0.3,
        );
        // From the letterboxed square back to the image.
        let (w, h) = (image.width() as f32, image.height() as f32);
        let back = |p: Vec2| {
            let q = landmark::crop_to_image(
                &square,
                image.width(),
                image.height(),
                n,
                p.x * n as f32,
                p.y * n as f32,
            );
            Vec2::new(q.x / w, q.y / h)
        };
        Ok(palms
            .into_iter()
            .map(|p| Palm {
                center: back(p.center),
                size: Vec2::new(p.size.x * side / w, p.size.y * side / h),
                keypoints: p.keypoints.map(back),
                ..p
            })
            .collect())
    }

    /// The 21 landmarks of the hand in `roi`.
    pub fn landmarks(&self, image: &Image, roi: &Roi) -> Result<HandLandmarks, GraphError> {
        in_pool(|| self.landmarks_here(image, roi))
    }

    fn landmarks_here(&self, image: &Image, roi: &Roi) -> Result<HandLandmarks, GraphError> {
        let out = self
            .landmark
            .run(&self.input(landmark::crop(image, roi, CROP), CROP)?)?;
        let v = |i: usize| -> Result<Vec<f32>, GraphError> {
            Ok(out[i].flatten_all()?.to_vec1::<f32>()?)
        };
        let (points, presence, right, world) = (v(0)?, v(1)?[0], v(2)?[0], v(3)?);
        Ok(landmark::decode(
            &points,
            &world,
            presence,
            right,
            roi,
            image.width(),
            image.height(),
        ))
    }

    /// Detects palms and returns the landmarks of each hand present.
    pub fn process(&mut self, image: &Image) -> Result<Vec<HandLandmarks>, GraphError> {
        let t = Instant::now();
        let palms = self.detect_palms(image)?;
        self.times.detect = t.elapsed();
        let t = Instant::now();
        let mut hands = Vec::new();
        for p in palms.iter().take(self.max_hands) {
            let roi = palm::hand_roi(p, image.width() as f32, image.height() as f32);
            let h = self.landmarks(image, &roi)?;
            if h.presence >= self.min_presence {
                hands.push(h);
            }
        }
        self.times.landmarks = t.elapsed();
        Ok(hands)
    }
}
