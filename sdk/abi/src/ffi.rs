//! The `#[repr(C)]` ABI, the single source of `include/parallax_driver.h`.
//!
//! Rules that keep it stable (see docs/writing-a-driver.md):
//! - A driver library exports one symbol, `parallax_driver_negotiate`.
//!   The host passes a [`PxHostInfo`]; the driver fills a [`PxDriverInfo`]
//!   that points at its [`PxDriverVtable`].
//! - Every extensible struct starts with `struct_type`, `struct_size`
//!   and (for the negotiation structs) `abi_version`. Fields are only ever
//!   appended; a reader uses the fields that both sides know (the smaller
//!   `struct_size`) and treats the rest as absent (zero / NULL).
//! - Functions return a [`PxResultCode`], one of the [`PxResult`] values.
//!   It is declared as a plain `int32_t` in function signatures so that a
//!   driver returning a value this version does not know cannot cause
//!   undefined behaviour on the host (a Rust enum must hold a valid variant).
//! - Booleans are `uint32_t` (0 or 1) and enumerations are `uint32_t`
//!   constants for the same reason.
//! - Strings in structs are fixed-size, NUL-terminated UTF-8 arrays owned by
//!   the caller, so no memory crosses the boundary.
//! - All driver functions may be called from any thread, concurrently,
//!   except `open`, `close` and `destroy`, which the host serialises.
#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void};

/// ABI major version: bumped only for incompatible changes (never so far).
pub const PX_ABI_VERSION_MAJOR: u32 = 1;
/// ABI minor version: bumped when fields or functions are appended.
/// 1.1 appended `get_body_joints` to the vtable.
pub const PX_ABI_VERSION_MINOR: u32 = 1;
/// `(major << 16) | minor` of this header.
pub const PX_ABI_VERSION: u32 = (PX_ABI_VERSION_MAJOR << 16) | PX_ABI_VERSION_MINOR;

/// Structure type tags (the `struct_type` field).
pub const PX_STRUCT_HOST_INFO: u32 = 0x5058_0001;
pub const PX_STRUCT_DRIVER_INFO: u32 = 0x5058_0002;
pub const PX_STRUCT_DRIVER_VTABLE: u32 = 0x5058_0003;

/// Bytes of the fixed string fields, including the terminating NUL.
pub const PX_MAX_NAME: usize = 128;
pub const PX_MAX_PATH: usize = 256;
pub const PX_MAX_REFRESH_RATES: usize = 16;
pub const PX_HAND_JOINT_COUNT: usize = 26;
pub const PX_FACE_EXPRESSION_COUNT: usize = 52;
/// Upper-body joints (`get_body_joints`), in `XrBodyJointFB` order: root,
/// hips, spine lower/middle/upper, chest, neck, head, then per arm (left,
/// right) shoulder, scapula, upper arm, lower arm, wrist twist.
pub const PX_BODY_JOINT_COUNT: usize = 18;

/// The result of every driver function.
#[repr(i32)]
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PxResult {
    Success = 0,
    /// The device is not connected now (poses and inputs are unavailable).
    ErrorDisconnected = -1,
    /// The device or system failed for good; the session ends.
    ErrorLost = -2,
    /// The device does not offer this (optional feature, refresh rate, ...).
    ErrorUnsupported = -3,
    /// An argument was out of range (device index, NULL pointer, ...).
    ErrorInvalidArgument = -4,
    /// No component (pose, input or output) of that name or index.
    ErrorNoSuchComponent = -5,
    /// Opening the system failed.
    ErrorOpenFailed = -6,
    /// The host's ABI version is not one this driver supports.
    ErrorIncompatibleVersion = -7,
    /// The driver failed inside (a Rust driver's panic is reported so).
    ErrorInternal = -8,
    /// A caller-provided buffer was too small (camera frames).
    ErrorBufferTooSmall = -9,
}

/// A [`PxResult`] value carried as a plain integer.
pub type PxResultCode = i32;

impl PxResult {
    /// The result for a code, `None` for a value this version does not know.
    pub fn from_code(code: PxResultCode) -> Option<PxResult> {
        use PxResult::*;
        Some(match code {
            0 => Success,
            -1 => ErrorDisconnected,
            -2 => ErrorLost,
            -3 => ErrorUnsupported,
            -4 => ErrorInvalidArgument,
            -5 => ErrorNoSuchComponent,
            -6 => ErrorOpenFailed,
            -7 => ErrorIncompatibleVersion,
            -8 => ErrorInternal,
            -9 => ErrorBufferTooSmall,
            _ => return None,
        })
    }
}

/// Device roles (`PxDeviceInfo::role`).
pub const PX_ROLE_HEAD: u32 = 0;
pub const PX_ROLE_LEFT_HAND: u32 = 1;
pub const PX_ROLE_RIGHT_HAND: u32 = 2;
pub const PX_ROLE_TRACKER: u32 = 3;

/// Input kinds (`PxComponent::kind`, `PxInputValue::kind`).
pub const PX_INPUT_BOOLEAN: u32 = 0;
pub const PX_INPUT_FLOAT: u32 = 1;
pub const PX_INPUT_VECTOR2: u32 = 2;
pub const PX_INPUT_POSE: u32 = 3;

/// `PxTrackedPose::flags` and `PxHandJoint::flags` bits.
pub const PX_POSE_ORIENTATION_VALID: u32 = 1;
pub const PX_POSE_POSITION_VALID: u32 = 2;
pub const PX_POSE_ORIENTATION_TRACKED: u32 = 4;
pub const PX_POSE_POSITION_TRACKED: u32 = 8;
pub const PX_POSE_VELOCITY_VALID: u32 = 16;

/// `PxDeviceInfo::capabilities` bits.
pub const PX_CAP_HAND_TRACKING: u32 = 1;
pub const PX_CAP_EYE_GAZE: u32 = 2;
pub const PX_CAP_FACE_EXPRESSIONS: u32 = 4;
pub const PX_CAP_BATTERY: u32 = 8;
/// ABI 1.1: `get_body_joints` works for this device.
pub const PX_CAP_BODY_TRACKING: u32 = 16;

/// Hands (`get_hand_joints`).
pub const PX_HAND_LEFT: u32 = 0;
pub const PX_HAND_RIGHT: u32 = 1;

/// Pixel formats (`PxCameraInfo::format`).
pub const PX_FORMAT_GRAY8: u32 = 0;
pub const PX_FORMAT_RGB8: u32 = 1;
pub const PX_FORMAT_RGBA8: u32 = 2;

/// Log levels of `PxHostInfo::log`.
pub const PX_LOG_ERROR: i32 = 0;
pub const PX_LOG_WARN: i32 = 1;
pub const PX_LOG_INFO: i32 = 2;
pub const PX_LOG_DEBUG: i32 = 3;

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxVec3 {
    pub x: f32,
    pub y: f32,
    pub z: f32,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxQuat {
    pub x: f32,
    pub y: f32,
    pub z: f32,
    pub w: f32,
}

/// A rigid transform: rotate by `orientation`, then translate by `position`.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxPose {
    pub orientation: PxQuat,
    pub position: PxVec3,
}

/// A pose of a device component, predicted to the time asked for.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxTrackedPose {
    /// `tracking_from_component`.
    pub pose: PxPose,
    /// Metres per second, in the tracking space.
    pub linear_velocity: PxVec3,
    /// Radians per second, in the tracking space.
    pub angular_velocity: PxVec3,
    /// Time (ns, CLOCK_MONOTONIC) of the newest sample the pose is based
    /// on; never decreasing between calls for one component.
    pub sample_time_ns: i64,
    /// `PX_POSE_*` bits.
    pub flags: u32,
}

/// Field of view in radians (left and down negative for a centred view).
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxFov {
    pub left: f32,
    pub right: f32,
    pub up: f32,
    pub down: f32,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxEye {
    pub head_from_eye: PxPose,
    pub fov: PxFov,
}

/// Radial distortion per colour channel, `r_d = r (1 + k1 r^2 + k2 r^4 +
/// k3 r^6)` in tangent space; `aperture` is the tangent radius of the
/// lens's visible circle (0: none). The runtime builds the distortion mesh,
/// chromatic-aberration correction and visibility mask from it.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxLens {
    pub red: [f32; 3],
    pub green: [f32; 3],
    pub blue: [f32; 3],
    pub aperture: f32,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxDisplayInfo {
    pub width_per_eye: u32,
    pub height_per_eye: u32,
    pub refresh_rate_count: u32,
    /// The first is the default.
    pub refresh_rates_hz: [f32; PX_MAX_REFRESH_RATES],
    /// Left, right.
    pub eyes: [PxEye; 2],
    pub lens: PxLens,
}

/// What `open` reports about the opened system.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxSystemInfo {
    pub name: [c_char; PX_MAX_NAME],
    pub vendor_id: u32,
    /// Devices, including the headset at index 0.
    pub device_count: u32,
    pub has_play_area: u32,
    pub play_area_width: f32,
    pub play_area_depth: f32,
}

/// What `estimate` says opening would give, without opening anything.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default)]
pub struct PxEstimate {
    pub has_hmd: u32,
    pub controllers: u32,
    /// Higher wins when several drivers could serve (the built-in simulated
    /// headset scores 1).
    pub score: u32,
}

/// One device. Index 0 is always the headset.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxDeviceInfo {
    pub name: [c_char; PX_MAX_NAME],
    pub serial: [c_char; PX_MAX_NAME],
    /// `PX_ROLE_*`.
    pub role: u32,
    /// The interaction profile the device natively is
    /// (`/interaction_profiles/khr/simple_controller`), or empty.
    pub interaction_profile: [c_char; PX_MAX_PATH],
    pub input_count: u32,
    pub output_count: u32,
    /// `PX_CAP_*` bits.
    pub capabilities: u32,
    /// Camera streams of this device (`get_camera`, `get_camera_frame`).
    pub camera_count: u32,
}

/// An input or output component, named by its OpenXR path relative to the
/// device's user path (`input/trigger/value`, `output/haptic`); the
/// headset's pose is the component `head`.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxComponent {
    pub path: [c_char; PX_MAX_PATH],
    /// `PX_INPUT_*` (0 for outputs).
    pub kind: u32,
}

/// The value of one non-pose input.
#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxInputValue {
    /// 0: no value now; 1: `x` (and `y` for vector2) hold it.
    pub valid: u32,
    /// Boolean: 0 or 1; float: -1..=1 (triggers 0..=1).
    pub x: f32,
    pub y: f32,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxVibration {
    pub duration_ns: i64,
    /// 0: the device's default frequency.
    pub frequency_hz: f32,
    /// 0..=1.
    pub amplitude: f32,
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxHandJoint {
    pub pose: PxPose,
    pub radius: f32,
    pub linear_velocity: PxVec3,
    pub angular_velocity: PxVec3,
    /// `PX_POSE_*` bits.
    pub flags: u32,
}

/// The joints of one hand, in `XrHandJointEXT` order.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxHandJoints {
    pub sample_time_ns: i64,
    pub active: u32,
    pub joints: [PxHandJoint; PX_HAND_JOINT_COUNT],
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxBodyJoint {
    /// In the tracking origin. +Y runs along the bone towards the joint's
    /// child, -Z as close to the body's forward as that allows.
    pub pose: PxPose,
    /// `PX_POSE_*` bits (velocity bits are ignored).
    pub flags: u32,
}

/// The upper body (ABI 1.1).
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxBodyJoints {
    pub sample_time_ns: i64,
    pub active: u32,
    /// 0..=1.
    pub confidence: f32,
    pub joints: [PxBodyJoint; PX_BODY_JOINT_COUNT],
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxBattery {
    pub charge: f32,
    pub charging: u32,
}

/// ARKit's 52 blend-shape weights, 0..=1.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxFaceExpressions {
    pub sample_time_ns: i64,
    pub valid: u32,
    pub weights: [f32; PX_FACE_EXPRESSION_COUNT],
}

#[repr(C)]
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct PxEyeGaze {
    pub sample_time_ns: i64,
    pub valid: u32,
    /// `head_from_gaze`, looking down -Z.
    pub gaze: PxPose,
    pub openness: [f32; 2],
}

#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxCameraInfo {
    pub name: [c_char; PX_MAX_NAME],
    pub width: u32,
    pub height: u32,
    /// `PX_FORMAT_*`.
    pub format: u32,
    pub fps: f32,
    pub fx: f32,
    pub fy: f32,
    pub cx: f32,
    pub cy: f32,
    /// Brown-Conrady `k1 k2 p1 p2 k3`.
    pub distortion: [f32; 5],
    pub head_from_camera: PxPose,
}

/// A camera image copied into a buffer the host provides.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxCameraFrame {
    /// In: bytes at `data`. Out: unchanged.
    pub capacity: u32,
    /// Out: bytes written.
    pub size: u32,
    pub data: *mut u8,
    /// In: the sequence of the frame the host already has (0: none).
    /// Out: the sequence of the frame written.
    pub sequence: u64,
    pub sample_time_ns: i64,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub format: u32,
}

/// How the driver logs through the host (may be NULL).
pub type PxLogFn = Option<unsafe extern "C" fn(level: i32, message: *const c_char)>;

/// What the host tells the driver at negotiation.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxHostInfo {
    /// `PX_STRUCT_HOST_INFO`.
    pub struct_type: u32,
    pub struct_size: u32,
    /// The host's `PX_ABI_VERSION`.
    pub abi_version: u32,
    /// "parallax <version>", NUL-terminated.
    pub host_name: *const c_char,
    /// The `config` object of the driver's manifest as JSON, or NULL.
    pub config_json: *const c_char,
    pub log: PxLogFn,
}

/// What the driver tells the host at negotiation. The host sets
/// `struct_type` and `struct_size`; the driver fills the rest.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxDriverInfo {
    /// `PX_STRUCT_DRIVER_INFO`.
    pub struct_type: u32,
    pub struct_size: u32,
    /// The driver's `PX_ABI_VERSION`.
    pub abi_version: u32,
    /// The driver's name (`[a-z0-9_-]`), NUL-terminated.
    pub name: [c_char; 64],
    /// Passed back as the first argument of every vtable function.
    pub context: *mut c_void,
    /// The driver's function table; must stay valid until `destroy`.
    pub vtable: *const PxDriverVtable,
}

/// The driver's functions. Those up to `set_refresh_rate` are required;
/// the optional ones after it may be NULL (the feature is then absent).
/// Device indices run from 0 (the headset) to `device_count - 1`.
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PxDriverVtable {
    /// `PX_STRUCT_DRIVER_VTABLE`.
    pub struct_type: u32,
    /// `sizeof(PxDriverVtable)` as the driver was built.
    pub struct_size: u32,
    /// Releases the context; nothing is called after it.
    pub destroy: Option<unsafe extern "C" fn(context: *mut c_void)>,
    /// What opening would give, without opening anything.
    pub estimate:
        Option<unsafe extern "C" fn(context: *mut c_void, out: *mut PxEstimate) -> PxResultCode>,
    /// Opens the devices.
    pub open:
        Option<unsafe extern "C" fn(context: *mut c_void, out: *mut PxSystemInfo) -> PxResultCode>,
    /// Closes what `open` opened; `open` may be called again after it.
    pub close: Option<unsafe extern "C" fn(context: *mut c_void)>,
    pub get_display:
        Option<unsafe extern "C" fn(context: *mut c_void, out: *mut PxDisplayInfo) -> PxResultCode>,
    pub get_device: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            out: *mut PxDeviceInfo,
        ) -> PxResultCode,
    >,
    pub get_input: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            index: u32,
            out: *mut PxComponent,
        ) -> PxResultCode,
    >,
    pub get_output: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            index: u32,
            out: *mut PxComponent,
        ) -> PxResultCode,
    >,
    /// The pose of a pose component (`head`, `input/grip/pose`) predicted
    /// to `at_ns`.
    pub get_pose: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            component: *const c_char,
            at_ns: i64,
            out: *mut PxTrackedPose,
        ) -> PxResultCode,
    >,
    /// Fills `values[0..count]`, one per input of the device in
    /// `get_input` order (pose inputs are left invalid).
    pub read_inputs: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            values: *mut PxInputValue,
            count: u32,
        ) -> PxResultCode,
    >,
    /// Starts a vibration, or stops it when `vibration` is NULL.
    pub set_vibration: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            output: u32,
            vibration: *const PxVibration,
        ) -> PxResultCode,
    >,
    /// `PX_RESULT_SUCCESS` when connected, `PX_RESULT_ERROR_DISCONNECTED`
    /// when not.
    pub is_connected:
        Option<unsafe extern "C" fn(context: *mut c_void, device: u32) -> PxResultCode>,
    pub get_refresh_rate:
        Option<unsafe extern "C" fn(context: *mut c_void, out_hz: *mut f32) -> PxResultCode>,
    pub set_refresh_rate:
        Option<unsafe extern "C" fn(context: *mut c_void, hz: f32) -> PxResultCode>,
    // ---- optional (may be NULL) ----
    pub get_hand_joints: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            hand: u32,
            at_ns: i64,
            out: *mut PxHandJoints,
        ) -> PxResultCode,
    >,
    pub get_eye_gaze: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            at_ns: i64,
            out: *mut PxEyeGaze,
        ) -> PxResultCode,
    >,
    pub get_face_expressions: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            at_ns: i64,
            out: *mut PxFaceExpressions,
        ) -> PxResultCode,
    >,
    pub get_battery: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            out: *mut PxBattery,
        ) -> PxResultCode,
    >,
    pub get_camera: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            index: u32,
            out: *mut PxCameraInfo,
        ) -> PxResultCode,
    >,
    /// Copies the newest frame newer than `frame->sequence` into
    /// `frame->data`. `PX_RESULT_SUCCESS` with `size` 0 when there is no
    /// newer frame; `PX_RESULT_ERROR_BUFFER_TOO_SMALL` (with the needed
    /// `size`) when `capacity` is too small.
    pub get_camera_frame: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            index: u32,
            frame: *mut PxCameraFrame,
        ) -> PxResultCode,
    >,
    /// ABI 1.1: the upper body predicted to `at_ns` (devices with
    /// `PX_CAP_BODY_TRACKING`).
    pub get_body_joints: Option<
        unsafe extern "C" fn(
            context: *mut c_void,
            device: u32,
            at_ns: i64,
            out: *mut PxBodyJoints,
        ) -> PxResultCode,
    >,
}

/// `struct_size` of a 1.0 vtable: everything up to and including
/// `set_refresh_rate`. A smaller vtable is rejected.
pub const PX_DRIVER_VTABLE_MIN_SIZE: u32 = 120;

/// `struct_size` of a complete 1.0 vtable (through `get_camera_frame`):
/// what a driver built against the 1.0 header passes.
pub const PX_DRIVER_VTABLE_SIZE_1_0: u32 = 168;

/// The one symbol a driver library exports.
pub const PX_NEGOTIATE_SYMBOL: &str = "parallax_driver_negotiate";

/// The signature of `parallax_driver_negotiate`.
pub type PxNegotiateFn =
    unsafe extern "C" fn(host: *const PxHostInfo, info: *mut PxDriverInfo) -> PxResultCode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_vtable_size_is_the_required_prefix() {
        assert_eq!(
            PX_DRIVER_VTABLE_MIN_SIZE as usize,
            std::mem::offset_of!(PxDriverVtable, get_hand_joints)
        );
    }

    #[test]
    fn the_1_0_vtable_ends_where_1_1_appended() {
        assert_eq!(
            PX_DRIVER_VTABLE_SIZE_1_0 as usize,
            std::mem::offset_of!(PxDriverVtable, get_body_joints)
        );
    }

    #[test]
    fn result_codes_round_trip() {
        for code in -9..=0 {
            assert_eq!(PxResult::from_code(code).unwrap() as i32, code);
        }
        assert_eq!(PxResult::from_code(42), None);
    }
}
