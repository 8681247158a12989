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
//! Status: the models run and match the TFLite runtime (see
//! `tests/reference.rs`); the tracker (region-of-interest following, stereo
//! triangulation, skeleton fit, filtering), the simulated cameras with
//! ground truth and the OpenXR side (`XR_EXT_hand_tracking`) are the next
//! steps.

pub mod graph;
pub mod kernels;
pub mod landmark;
pub mod palm;

pub use graph::{Graph, GraphError};

use std::path::PathBuf;

/// The four models the wheel ships.
pub const MODELS: [&str; 4] = [
    "palm_detection_lite",
    "palm_detection_full",
    "hand_landmark_lite",
    "hand_landmark_full",
];

/// Where the converted models are: `PARALLAX_HAND_MODELS`, else
/// `hand-tracking/models` of this source tree (where the fetch script puts
/// them).
pub fn models_dir() -> PathBuf {
    std::env::var_os("PARALLAX_HAND_MODELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")))
}
