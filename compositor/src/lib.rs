//! The compositor side of Parallax: the [`Compositor`] interface the
//! runtime's state tracker talks to, the frame [`pacing`] that drives
//! `xrWaitFrame`, and [`NullCompositor`], which paces and accounts frames
//! without drawing (headless sessions, tests).
//!
//! Design choices: the interface speaks in our own types (no OpenXR
//! handles), and every call could be a message, so the out-of-process
//! service of phase 2 changes only the transport. The Vulkan compositor
//! arrives as another implementation of the same trait.
#![forbid(unsafe_code)]

pub mod pacing;

pub use pacing::{FrameClock, FramePrediction};
use parallax_sdk_types::{Duration, Fov, Pose, Time};
use parking_lot::Mutex;

/// What the compositor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CompositorError {
    #[error("compositor lost its output")]
    Lost,
}

/// One eye's view of a projection layer, in the layer's space.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct ProjectionView {
    /// `space_from_eye` the app rendered with.
    pub pose: Pose,
    pub fov: Fov,
}

/// What a layer is, as far as the compositor needs to know.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerKind {
    Projection { views: Vec<ProjectionView> },
    Quad { pose: Pose, size: [f32; 2] },
}

/// One submitted layer, already resolved to the tracking origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// `stage_from_space` at the frame's display time.
    pub stage_from_space: Pose,
    pub kind: LayerKind,
}

/// One frame submitted by an app.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub display_time: Time,
    pub layers: Vec<Layer>,
}

/// Counters of what the compositor did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames_submitted: u64,
    pub frames_with_layers: u64,
    /// Frames whose display time was already in the past when submitted.
    pub late_frames: u64,
}

/// What the state tracker needs from a compositor.
pub trait Compositor: Send + Sync {
    /// The clock of the compositor's target; `xrWaitFrame` paces on it.
    fn clock(&self) -> &FrameClock;
    /// Takes an app's frame (called from `xrEndFrame`; never blocks on the GPU).
    fn submit(&self, frame: Frame) -> Result<(), CompositorError>;
    /// Switches the target's refresh period.
    fn set_period(&self, period: Duration);
    fn stats(&self) -> Stats;
}

/// A compositor that draws nothing: paces frames to a virtual display and
/// counts what it is given.
pub struct NullCompositor {
    clock: FrameClock,
    stats: Mutex<Stats>,
}

impl NullCompositor {
    pub fn new(period: Duration) -> Self {
        Self {
            clock: FrameClock::new(Time::now(), period),
            stats: Mutex::new(Stats::default()),
        }
    }
}

impl Compositor for NullCompositor {
    fn clock(&self) -> &FrameClock {
        &self.clock
    }

    fn submit(&self, frame: Frame) -> Result<(), CompositorError> {
        let mut s = self.stats.lock();
        s.frames_submitted += 1;
        if !frame.layers.is_empty() {
            s.frames_with_layers += 1;
        }
        if frame.display_time < Time::now() {
            s.late_frames += 1;
        }
        Ok(())
    }

    fn set_period(&self, period: Duration) {
        self.clock.set_period(period);
    }

    fn stats(&self) -> Stats {
        *self.stats.lock()
    }
}
