//! The Rust driver contract of Parallax.
//!
//! A hardware maker implements [`Builder`] (estimate without opening, then
//! open) and returns a [`SystemDevices`]: one [`Hmd`] and any number of other
//! [`Device`]s (controllers, trackers). The runtime only ever talks to
//! hardware through these traits, and everything a driver hands back passes
//! [`sanitize`] at this boundary.
//!
//! Design choices:
//! - Methods take `&self`; drivers keep their own interior locking, so the
//!   runtime can query poses from any thread without a global lock.
//! - Inputs are named by the OpenXR component path they feed under the
//!   device's top-level path (`input/trigger/value`), the vocabulary app
//!   developers already know; the runtime maps them onto interaction
//!   profiles.
#![forbid(unsafe_code)]

pub mod body;
pub mod sanitize;

pub use parallax_sdk_types as types;
use parallax_sdk_types::{
    Battery, BodyJoints, CameraFrame, CameraInfo, DisplayInfo, Duration, EyeGaze, FaceExpressions,
    Hand, HandJoints, PlayArea, Time, TrackedPose,
};
use std::sync::Arc;

/// What a driver can fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    #[error("device disconnected")]
    Disconnected,
    #[error("device lost: {0}")]
    Lost(String),
    #[error("not supported by this device")]
    Unsupported,
    #[error("driver returned invalid data: {0}")]
    InvalidData(String),
    #[error("no such component: {0}")]
    NoSuchComponent(String),
    #[error("failed to open: {0}")]
    OpenFailed(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The driver failed inside (e.g. a callback panicked and was contained).
    #[error("internal driver error: {0}")]
    Internal(String),
}

/// The role a device plays for the user.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeviceRole {
    Head,
    LeftHand,
    RightHand,
    Tracker,
}

impl DeviceRole {
    /// The OpenXR top-level user path this role feeds.
    pub fn user_path(self) -> Option<&'static str> {
        match self {
            DeviceRole::Head => Some("/user/head"),
            DeviceRole::LeftHand => Some("/user/hand/left"),
            DeviceRole::RightHand => Some("/user/hand/right"),
            DeviceRole::Tracker => None,
        }
    }
}

/// The value type of an input component.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    Boolean,
    Float,
    Vector2,
    Pose,
}

/// One input of a device, named by its OpenXR component path relative to
/// the top-level user path (`input/trigger/value`, `input/grip/pose`).
#[derive(Clone, Debug, PartialEq)]
pub struct InputComponent {
    pub path: String,
    pub kind: InputKind,
}

/// One output (haptic actuator), e.g. `output/haptic`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputComponent {
    pub path: String,
}

/// The current value of a non-pose input.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum InputValue {
    Boolean(bool),
    Float(f32),
    Vector2(glam::Vec2),
}

impl InputValue {
    /// The neutral value for an input kind (pose inputs have none).
    pub fn neutral(kind: InputKind) -> Option<InputValue> {
        match kind {
            InputKind::Boolean => Some(InputValue::Boolean(false)),
            InputKind::Float => Some(InputValue::Float(0.0)),
            InputKind::Vector2 => Some(InputValue::Vector2(glam::Vec2::ZERO)),
            InputKind::Pose => None,
        }
    }
}

/// A haptic vibration request.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Vibration {
    pub duration: Duration,
    /// Hz; 0 lets the device choose.
    pub frequency: f32,
    /// 0..=1.
    pub amplitude: f32,
}

/// Optional things a device can report beyond poses and inputs.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// [`Device::hand_joints`] works.
    pub hand_tracking: bool,
    /// [`Device::eye_gaze`] works.
    pub eye_gaze: bool,
    /// [`Device::face_expressions`] works.
    pub face_expressions: bool,
    /// [`Device::battery`] works.
    pub battery: bool,
    /// [`Device::body_joints`] works.
    pub body_tracking: bool,
}

/// What a device is.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceDescription {
    pub name: String,
    pub serial: String,
    pub role: DeviceRole,
    /// The interaction profile this device natively is, if any
    /// (`/interaction_profiles/oculus/touch_controller`).
    pub interaction_profile: Option<String>,
    pub inputs: Vec<InputComponent>,
    pub outputs: Vec<OutputComponent>,
    pub capabilities: Capabilities,
    /// Camera streams this device carries (headset cameras for hand
    /// tracking and passthrough), read with [`Device::camera_frame`].
    pub cameras: Vec<CameraInfo>,
}

/// A tracked device.
pub trait Device: Send + Sync {
    fn description(&self) -> &DeviceDescription;

    /// The pose of a pose input (`input/grip/pose`, or `head` for an HMD)
    /// in the tracking origin, predicted to `at`.
    fn pose(&self, component: &str, at: Time) -> Result<TrackedPose, DriverError>;

    /// The current values of the device's non-pose inputs, in the order of
    /// `description().inputs` (pose inputs are left untouched).
    fn read_inputs(&self, values: &mut [Option<InputValue>]) -> Result<(), DriverError>;

    /// Starts (`Some`) or stops (`None`) a vibration on an output.
    fn set_vibration(&self, output: &str, vibration: Option<Vibration>) -> Result<(), DriverError>;

    /// Whether the device is connected now.
    fn is_connected(&self) -> bool {
        true
    }

    /// The 26 joints of a hand predicted to `at` (devices with
    /// `capabilities.hand_tracking`).
    fn hand_joints(&self, _hand: Hand, _at: Time) -> Result<HandJoints, DriverError> {
        Err(DriverError::Unsupported)
    }

    /// Combined eye gaze (devices with `capabilities.eye_gaze`).
    fn eye_gaze(&self, _at: Time) -> Result<EyeGaze, DriverError> {
        Err(DriverError::Unsupported)
    }

    /// Face expression weights (devices with `capabilities.face_expressions`).
    fn face_expressions(&self, _at: Time) -> Result<FaceExpressions, DriverError> {
        Err(DriverError::Unsupported)
    }

    /// The upper body predicted to `at` (devices with
    /// `capabilities.body_tracking`).
    fn body_joints(&self, _at: Time) -> Result<BodyJoints, DriverError> {
        Err(DriverError::Unsupported)
    }

    /// Battery state (devices with `capabilities.battery`).
    fn battery(&self) -> Result<Battery, DriverError> {
        Err(DriverError::Unsupported)
    }

    /// Copies the newest frame of camera `index` (of `description().cameras`)
    /// into `frame`, reusing its buffer. Returns `false` when there is no
    /// frame newer than the one `frame` holds (by `sequence`).
    fn camera_frame(&self, _index: usize, _frame: &mut CameraFrame) -> Result<bool, DriverError> {
        Err(DriverError::Unsupported)
    }
}

/// A head-mounted display.
pub trait Hmd: Device {
    fn display(&self) -> &DisplayInfo;

    /// Switches the panel's refresh rate to one of `display().refresh_rates_hz`.
    fn set_refresh_rate(&self, hz: f32) -> Result<(), DriverError>;

    /// The refresh rate in use.
    fn refresh_rate(&self) -> f32;
}

/// Everything one driver opened.
#[derive(Clone)]
pub struct SystemDevices {
    pub system_name: String,
    pub vendor_id: u32,
    pub hmd: Arc<dyn Hmd>,
    pub devices: Vec<Arc<dyn Device>>,
    pub play_area: Option<PlayArea>,
    /// Keyboard and mouse input from the desktop window, for drivers that
    /// simulate devices (`None` for real hardware).
    pub desktop_input: Option<parallax_sdk_types::DesktopControls>,
}

/// What a builder expects to find, computed without opening anything.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    pub hmd: bool,
    pub controllers: u32,
    /// Higher is preferred when several builders could serve.
    pub score: u32,
}

/// Finds and opens a driver's devices, in two phases.
pub trait Builder: Send + Sync {
    fn name(&self) -> &str;
    /// What opening would give, without opening anything.
    fn estimate(&self) -> Estimate;
    fn open(&self) -> Result<SystemDevices, DriverError>;
}
