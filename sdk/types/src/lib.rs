//! Plain data shared by every Parallax crate: time, poses, fields of view,
//! display descriptions.
//!
//! Design choices: everything here is `Copy` plain data with no behaviour
//! beyond arithmetic, so that drivers, the runtime and (later) the C ABI can
//! agree on it. Math is `glam`; transforms are named `a_from_b`.
#![forbid(unsafe_code)]

use glam::{Quat, Vec3};
use std::ops::{Add, Sub};

/// A point in time in nanoseconds on `CLOCK_MONOTONIC`, the clock OpenXR's
/// `XrTime` is defined on for this runtime.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Time(pub i64);

impl Time {
    /// The current monotonic time.
    pub fn now() -> Self {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        Self(ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
    }

    pub fn from_nanos(ns: i64) -> Self {
        Self(ns)
    }

    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Seconds since the clock's epoch, for scripted motion.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-9
    }

    /// Blocks the calling thread until this time (absolute sleep on the
    /// monotonic clock, so early wake-ups and drift do not accumulate).
    pub fn sleep_until(self) {
        let request = rustix::time::Timespec {
            tv_sec: self.0.div_euclid(1_000_000_000),
            tv_nsec: self.0.rem_euclid(1_000_000_000),
        };
        // An absolute sleep wakes once, at the deadline; it is resumed after
        // a signal (EINTR) until the deadline has passed.
        while Self::now() < self {
            if rustix::thread::clock_nanosleep_absolute(
                rustix::thread::ClockId::Monotonic,
                &request,
            )
            .is_ok()
            {
                return;
            }
        }
    }
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(d.0))
    }
}

impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, t: Time) -> Duration {
        Duration(self.0.saturating_sub(t.0))
    }
}

/// A span of time in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Duration(pub i64);

impl Duration {
    pub fn from_nanos(ns: i64) -> Self {
        Self(ns)
    }
    pub fn from_secs_f64(s: f64) -> Self {
        Self((s * 1e9).round() as i64)
    }
    pub fn as_nanos(self) -> i64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 * 1e-9
    }
}

/// A rigid transform: rotate by `orientation`, then translate by `position`.
#[derive(Copy, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pose {
    pub orientation: Quat,
    pub position: Vec3,
}

impl Default for Pose {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Pose {
    pub const IDENTITY: Pose = Pose {
        orientation: Quat::IDENTITY,
        position: Vec3::ZERO,
    };

    pub fn new(orientation: Quat, position: Vec3) -> Self {
        Self {
            orientation,
            position,
        }
    }

    pub fn from_position(position: Vec3) -> Self {
        Self {
            orientation: Quat::IDENTITY,
            position,
        }
    }

    /// `a_from_c = a_from_b * b_from_c`.
    pub fn mul(&self, rhs: &Pose) -> Pose {
        Pose {
            orientation: (self.orientation * rhs.orientation).normalize(),
            position: self.position + self.orientation * rhs.position,
        }
    }

    pub fn inverse(&self) -> Pose {
        let inv = self.orientation.conjugate();
        Pose {
            orientation: inv,
            position: -(inv * self.position),
        }
    }

    pub fn transform_point(&self, p: Vec3) -> Vec3 {
        self.position + self.orientation * p
    }

    pub fn is_finite(&self) -> bool {
        self.orientation.is_finite() && self.position.is_finite()
    }
}

/// Linear and angular velocity, expressed in the base space.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Velocity {
    pub linear: Vec3,
    pub angular: Vec3,
}

/// A tracked pose at a time, with what is known about it.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TrackedPose {
    /// `tracking_from_device` at the time the pose was asked for.
    pub pose: Pose,
    pub velocity: Velocity,
    /// Time of the newest tracking sample the pose is based on. Successive
    /// results for one device component never go backwards (the boundary
    /// rejects those that do).
    pub time: Time,
    pub orientation_valid: bool,
    pub position_valid: bool,
    pub orientation_tracked: bool,
    pub position_tracked: bool,
}

/// Field of view as four angles in radians (left and down are negative for
/// a symmetric view), the OpenXR convention.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Fov {
    pub left: f32,
    pub right: f32,
    pub up: f32,
    pub down: f32,
}

impl Fov {
    pub fn from_degrees(left: f32, right: f32, up: f32, down: f32) -> Self {
        Self {
            left: left.to_radians(),
            right: right.to_radians(),
            up: up.to_radians(),
            down: down.to_radians(),
        }
    }
}

/// One eye of a head-mounted display.
#[derive(Copy, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EyeInfo {
    /// `head_from_eye`.
    pub head_from_eye: Pose,
    pub fov: Fov,
}

/// Distortion model of a lens, radial polynomial per colour channel
/// (`r_d = r (1 + k1 r^2 + k2 r^4 + k3 r^6)`), in tangent-angle space.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LensModel {
    pub red: [f32; 3],
    pub green: [f32; 3],
    pub blue: [f32; 3],
    /// Tangent radius of the lens's circular field: directions beyond it
    /// are never seen (0: no limit).
    pub aperture: f32,
}

/// The display panel of a head-mounted display.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DisplayInfo {
    /// Pixels per eye the panel shows.
    pub width_per_eye: u32,
    pub height_per_eye: u32,
    /// Refresh rates the panel supports, in Hz; the first is the default.
    pub refresh_rates_hz: Vec<f32>,
    pub eyes: [EyeInfo; 2],
    pub lens: LensModel,
}

impl DisplayInfo {
    /// Inter-pupillary distance in metres, derived from the eye poses.
    pub fn ipd(&self) -> f32 {
        (self.eyes[1].head_from_eye.position - self.eyes[0].head_from_eye.position).length()
    }
}

/// Play area bounds (rectangle on the floor, metres).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PlayArea {
    pub width: f32,
    pub depth: f32,
}

/// Which hand.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Hand {
    Left,
    Right,
}

/// Joints per hand, in the order of `XrHandJointEXT` (palm, wrist, then
/// thumb metacarpal to little tip).
pub const HAND_JOINT_COUNT: usize = 26;

/// One joint of a tracked hand.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HandJoint {
    /// `tracking_from_joint`; +Z points from the joint towards the wrist,
    /// +Y out of the back of the hand, as `XR_EXT_hand_tracking` defines.
    pub pose: Pose,
    /// Radius of the joint's sphere, metres.
    pub radius: f32,
    pub velocity: Velocity,
    pub pose_valid: bool,
    pub pose_tracked: bool,
    pub velocity_valid: bool,
}

/// All joints of one hand at a time.
#[derive(Copy, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct HandJoints {
    pub time: Time,
    /// Whether the hand is tracked at all; when false the joints are meaningless.
    pub active: bool,
    pub joints: [HandJoint; HAND_JOINT_COUNT],
}

impl Default for HandJoints {
    fn default() -> Self {
        Self {
            time: Time::default(),
            active: false,
            joints: [HandJoint::default(); HAND_JOINT_COUNT],
        }
    }
}

/// Pixel layout of a camera stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PixelFormat {
    /// 8-bit luminance, one byte per pixel.
    Gray8,
    /// 8-bit RGB, three bytes per pixel.
    Rgb8,
    /// 8-bit RGBA, four bytes per pixel.
    Rgba8,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            PixelFormat::Gray8 => 1,
            PixelFormat::Rgb8 => 3,
            PixelFormat::Rgba8 => 4,
        }
    }
}

/// Pinhole intrinsics with Brown-Conrady distortion (`k1 k2 p1 p2 k3`),
/// in pixels of the stream's resolution.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CameraIntrinsics {
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    pub distortion: [f32; 5],
}

/// One camera stream a device offers.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CameraInfo {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub fps: f32,
    pub intrinsics: CameraIntrinsics,
    /// `head_from_camera` (extrinsics); the camera looks down its -Z axis
    /// with +Y up, like an OpenXR view.
    pub head_from_camera: Pose,
}

/// One image of a camera stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraFrame {
    /// Mid-exposure time.
    pub time: Time,
    /// Increases by one per frame the camera produced (gaps are drops).
    pub sequence: u64,
    pub width: u32,
    pub height: u32,
    /// Bytes per row.
    pub stride: u32,
    pub format: Option<PixelFormat>,
    pub data: Vec<u8>,
}

/// Face expression weights, 0..=1, in the order of ARKit's 52 blend shapes
/// (`eyeBlinkLeft` ... `tongueOut`: [`FACE_EXPRESSION_NAMES`]), the
/// vocabulary face-tracking vendors share.
pub const FACE_EXPRESSION_COUNT: usize = 52;

/// The names of the face expression weights, in their order (ARKit's
/// `ARFaceAnchor.BlendShapeLocation` order).
pub const FACE_EXPRESSION_NAMES: [&str; FACE_EXPRESSION_COUNT] = [
    "eyeBlinkLeft",
    "eyeLookDownLeft",
    "eyeLookInLeft",
    "eyeLookOutLeft",
    "eyeLookUpLeft",
    "eyeSquintLeft",
    "eyeWideLeft",
    "eyeBlinkRight",
    "eyeLookDownRight",
    "eyeLookInRight",
    "eyeLookOutRight",
    "eyeLookUpRight",
    "eyeSquintRight",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawRight",
    "jawOpen",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "noseSneerLeft",
    "noseSneerRight",
    "tongueOut",
];

/// The index of a face expression by its ARKit name.
pub fn face_expression(name: &str) -> Option<usize> {
    FACE_EXPRESSION_NAMES.iter().position(|n| *n == name)
}

#[derive(Copy, Clone, Debug, PartialEq)]
pub struct FaceExpressions {
    pub time: Time,
    pub valid: bool,
    pub weights: [f32; FACE_EXPRESSION_COUNT],
}

impl Default for FaceExpressions {
    fn default() -> Self {
        Self {
            time: Time::default(),
            valid: false,
            weights: [0.0; FACE_EXPRESSION_COUNT],
        }
    }
}

/// Combined eye gaze.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct EyeGaze {
    pub time: Time,
    pub valid: bool,
    /// `head_from_gaze`: origin between the eyes, looking down -Z.
    pub gaze: Pose,
    /// Openness of the left and right eye, 0 (closed) ..= 1.
    pub openness: [f32; 2],
}

/// Upper-body joints, in the order of `XrBodyJointFB` (the first 18 of
/// `XR_BODY_JOINT_SET_DEFAULT_FB`; its hands are the hand-tracking joints):
/// [`BODY_JOINT_NAMES`]. Legs are not part of this set.
pub const BODY_JOINT_COUNT: usize = 18;

/// The body joints' names, in their order.
pub const BODY_JOINT_NAMES: [&str; BODY_JOINT_COUNT] = [
    "root",
    "hips",
    "spine_lower",
    "spine_middle",
    "spine_upper",
    "chest",
    "neck",
    "head",
    "left_shoulder",
    "left_scapula",
    "left_arm_upper",
    "left_arm_lower",
    "left_hand_wrist_twist",
    "right_shoulder",
    "right_scapula",
    "right_arm_upper",
    "right_arm_lower",
    "right_hand_wrist_twist",
];

/// Each body joint's parent (`None` for the root), in the same order.
pub const BODY_JOINT_PARENTS: [Option<usize>; BODY_JOINT_COUNT] = [
    None,
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
    Some(5),
    Some(8),
    Some(9),
    Some(10),
    Some(11),
    Some(5),
    Some(13),
    Some(14),
    Some(15),
    Some(16),
];

/// One body joint in the stage. Its frame: +Y runs along the bone towards
/// the joint's child (up the spine, out along the arms), -Z is as close to
/// the body's forward as that allows (the root: on the floor under the
/// hips, +Y up, -Z forward; the head: the head's pose, as the headset's).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BodyJoint {
    pub pose: Pose,
    pub pose_valid: bool,
    pub pose_tracked: bool,
}

/// The upper body at a time.
#[derive(Copy, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BodyJoints {
    pub time: Time,
    /// Whether the body is tracked at all; when false the joints are
    /// meaningless.
    pub active: bool,
    /// 0 (no confidence) ..= 1.
    pub confidence: f32,
    pub joints: [BodyJoint; BODY_JOINT_COUNT],
}

impl Default for BodyJoints {
    fn default() -> Self {
        Self {
            time: Time::default(),
            active: false,
            confidence: 0.0,
            joints: [BodyJoint::default(); BODY_JOINT_COUNT],
        }
    }
}

/// Battery state of a device.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Battery {
    /// 0..=1.
    pub charge: f32,
    pub charging: bool,
}

/// Keyboard and mouse input from the desktop window, for drivers that
/// simulate devices (the desktop simulator).
#[derive(Clone, Debug, PartialEq)]
pub enum DesktopInput {
    /// A key by name: a lowercase character (`"w"`) or a named key
    /// (`"space"`, `"shift"`, `"tab"`, `"escape"`). `repeat` is a key
    /// held down long enough for the system to repeat it.
    Key {
        name: String,
        pressed: bool,
        repeat: bool,
    },
    /// The cursor moved by (dx, dy) pixels.
    CursorMoved { dx: f32, dy: f32 },
    /// A mouse button (0 left, 1 right, 2 middle).
    MouseButton { button: u8, pressed: bool },
    /// Sent once per window update, so held keys can be integrated over time.
    Tick(Time),
    /// The window lost focus: release everything held.
    FocusLost,
}

/// Where a window sends [`DesktopInput`].
pub type DesktopInputSink = std::sync::Arc<dyn Fn(&DesktopInput) + Send + Sync>;

/// Desktop controls a simulating driver offers: where input goes, and the
/// legend the window shows.
#[derive(Clone)]
pub struct DesktopControls {
    pub legend: String,
    pub sink: DesktopInputSink,
}

impl std::fmt::Debug for DesktopControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopControls")
            .field("legend", &self.legend)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_inverse_and_compose() {
        let a = Pose::new(Quat::from_rotation_y(0.7), Vec3::new(1.0, 2.0, 3.0));
        let b = Pose::new(Quat::from_rotation_x(-0.3), Vec3::new(-0.5, 0.0, 0.25));
        let ab = a.mul(&b);
        let back = a.inverse().mul(&ab);
        assert!((back.position - b.position).length() < 1e-5);
        assert!(back.orientation.dot(b.orientation).abs() > 0.99999);
        let p = Vec3::new(0.3, -0.2, 0.9);
        assert!((ab.transform_point(p) - a.transform_point(b.transform_point(p))).length() < 1e-5);
    }

    #[test]
    fn time_is_monotonic() {
        let a = Time::now();
        let b = Time::now();
        assert!(b >= a);
        assert!(a.0 > 0);
    }
}
