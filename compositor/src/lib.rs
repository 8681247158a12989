//! The compositor side of Parallax: the [`Compositor`] interface the
//! runtime's state tracker talks to, the frame [`pacing`] that drives
//! `xrWaitFrame`, and [`NullCompositor`], which paces and accounts frames
//! without drawing (headless sessions, tests).
//!
//! Design choices: the interface speaks in our own types (no OpenXR
//! handles), and every call could be a message, so the out-of-process
//! service of phase 2 changes only the transport. The Vulkan compositor
//! arrives as another implementation of the same trait.
#![deny(unsafe_code)]

pub mod gl;
pub mod lens;
pub mod pacing;
pub mod vk;

pub use pacing::{FrameClock, FramePrediction};
use parallax_sdk_types::{Duration, Fov, Pose, Time};
use parking_lot::Mutex;

/// What the compositor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CompositorError {
    #[error("compositor lost its output")]
    Lost,
}

/// A rectangle of one array layer of a swapchain image, held so the app
/// cannot get the image back while the compositor reads it.
pub struct SubImage {
    pub hold: vk::swapchain::ImageHold,
    /// x, y, width, height in pixels.
    pub rect: [i32; 4],
    pub array_index: u32,
}

impl std::fmt::Debug for SubImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubImage")
            .field("index", &self.hold.index)
            .field("rect", &self.rect)
            .field("array_index", &self.array_index)
            .finish()
    }
}

/// One eye's view of a projection layer, in the layer's space.
#[derive(Debug)]
pub struct ProjectionView {
    /// `space_from_eye` the app rendered with.
    pub pose: Pose,
    pub fov: Fov,
    /// The pixels (none in sessions without graphics).
    pub image: Option<SubImage>,
    /// Depth submitted with `XR_KHR_composition_layer_depth`.
    pub depth: Option<Depth>,
}

/// A projection view's depth: the image and how its values map to metres.
#[derive(Debug)]
pub struct Depth {
    pub image: SubImage,
    pub min_depth: f32,
    pub max_depth: f32,
    /// Distances (metres) that `min_depth` and `max_depth` stand for; `far_z`
    /// may be infinite, and `near_z > far_z` for reversed depth.
    pub near_z: f32,
    pub far_z: f32,
}

/// Which eyes a layer is shown to.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Eyes {
    #[default]
    Both,
    Left,
    Right,
}

impl Eyes {
    pub fn shows(self, eye: usize) -> bool {
        match self {
            Eyes::Both => true,
            Eyes::Left => eye == 0,
            Eyes::Right => eye == 1,
        }
    }
}

/// What a layer is, as far as the compositor needs to know. Poses are in
/// the layer's space.
#[derive(Debug)]
pub enum LayerKind {
    /// One view per eye, rendered from `pose` with `fov`.
    Projection { views: Vec<ProjectionView> },
    /// A rectangle of `size` metres, facing +Z at `pose`.
    Quad {
        pose: Pose,
        size: [f32; 2],
        image: Option<SubImage>,
    },
    /// The inside of a cylinder around `pose`'s Y axis, centred on its -Z
    /// (radius 0: at infinity).
    Cylinder {
        pose: Pose,
        radius: f32,
        central_angle: f32,
        aspect_ratio: f32,
        image: Option<SubImage>,
    },
    /// An environment map around the viewer, turned by `orientation`.
    Cube {
        orientation: glam::Quat,
        image: Option<SubImage>,
    },
    /// An equirectangular image on a sphere (radius 0: at infinity).
    Equirect {
        pose: Pose,
        radius: f32,
        central_horizontal_angle: f32,
        upper_vertical_angle: f32,
        lower_vertical_angle: f32,
        image: Option<SubImage>,
    },
}

/// How a layer's colour is combined with what is under it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Blend {
    /// Use the texture's alpha (else the layer is opaque).
    pub source_alpha: bool,
    /// The texture's colour is not premultiplied by its alpha.
    pub unpremultiplied: bool,
}

/// One submitted layer, already resolved to the tracking origin.
#[derive(Debug)]
pub struct Layer {
    /// `stage_from_space` at the frame's display time.
    pub stage_from_space: Pose,
    pub blend: Blend,
    pub eyes: Eyes,
    pub kind: LayerKind,
}

/// One frame submitted by an app.
#[derive(Default)]
pub struct Frame {
    pub display_time: Time,
    pub layers: Vec<Layer>,
    /// Signals when the app's rendering of this frame is done.
    pub fence: Option<FrameFence>,
}

/// What tells the compositor that an app's rendering of a frame is done.
pub enum FrameFence {
    /// A fence on the app's Vulkan queue.
    Vulkan(vk::AppFence),
    /// Raised by the runtime once a GL fence of the app's context has
    /// signalled (only the app's context can query it; see [`gl`]).
    Flag(std::sync::Arc<std::sync::atomic::AtomicBool>),
}

impl FrameFence {
    /// Whether the rendering is done (never blocks).
    pub fn is_signaled(&self) -> bool {
        match self {
            FrameFence::Vulkan(f) => f.is_signaled(),
            FrameFence::Flag(f) => f.load(std::sync::atomic::Ordering::Acquire),
        }
    }
}

/// A face (or any) mesh the compositor draws as system content (meeting
/// participants' avatars): its triangles at each level of detail and the
/// distances that choose them. Shared by every instance of it; the
/// compositor uploads it once per model.
#[derive(Debug)]
pub struct AvatarModel {
    pub vertex_count: u32,
    /// Triangle lists over the same vertices, finest first.
    pub lods: Vec<Vec<[u32; 3]>>,
    /// Up to this distance (metres, eye to avatar origin) level `i` is
    /// used; beyond the last, the coarsest.
    pub lod_distances: Vec<f32>,
}

/// One vertex of an avatar mesh: position and normal in the avatar's frame
/// (metres), colour as linear RGB in 0..=1 (alpha unused).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct AvatarVertex {
    pub position: [f32; 3],
    pub normal: [f32; 3],
    pub color: [u8; 4],
}

/// One avatar to draw this refresh: a model, where it stands and its
/// current mesh (decoded by the avatar codec).
#[derive(Clone, Debug)]
pub struct AvatarInstance {
    pub model: std::sync::Arc<AvatarModel>,
    /// `stage_from_avatar`.
    pub pose: Pose,
    pub vertices: std::sync::Arc<Vec<AvatarVertex>>,
}

/// Counters of what the compositor did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames_submitted: u64,
    pub frames_with_layers: u64,
    /// Frames whose display time was already in the past when submitted.
    pub late_frames: u64,
    /// Refreshes composed (by compositors that draw).
    pub composed: u64,
    /// Refreshes where no new finished app frame was ready, so the last one
    /// was shown again.
    pub missed_frames: u64,
    /// How long the last composition took, in nanoseconds.
    pub last_compose_ns: i64,
    /// The user closed the desktop window: the runtime ends the session.
    pub window_closed: bool,
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
    /// The avatars shown from the next refresh on (system content, drawn
    /// after the app's last projection layer, depth-tested against the
    /// depth it submitted). A compositor that draws nothing ignores them.
    fn set_avatars(&self, _avatars: Vec<AvatarInstance>) {}
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
