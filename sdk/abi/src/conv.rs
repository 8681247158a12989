//! Conversions between the ABI structs and the SDK's Rust types, used by
//! both sides. Reading from the ABI validates what safe Rust cannot take on
//! trust: NUL termination, UTF-8, enumeration values, counts.

use crate::ffi::*;
use glam::{Quat, Vec3};
use parallax_sdk::types::{
    BodyJoint, BodyJoints, CameraInfo, CameraIntrinsics, DisplayInfo, EyeInfo, Fov, HandJoint,
    HandJoints, LensModel, PixelFormat, Pose, Time, TrackedPose, Velocity, BODY_JOINT_COUNT,
    HAND_JOINT_COUNT,
};
use parallax_sdk::{DeviceRole, DriverError, InputKind, InputValue, Vibration};
use std::ffi::c_char;

/// Writes `s` into a fixed string field, truncating at a character
/// boundary so the result stays UTF-8 and NUL-terminated.
pub fn write_str(dst: &mut [c_char], s: &str) {
    let max = dst.len().saturating_sub(1);
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    for (d, b) in dst.iter_mut().zip(s.as_bytes()[..end].iter()) {
        *d = *b as c_char;
    }
    for d in dst.iter_mut().skip(end) {
        *d = 0;
    }
}

/// Reads a fixed string field; it must be NUL-terminated UTF-8.
pub fn read_str(src: &[c_char], field: &str) -> Result<String, DriverError> {
    let bytes: Vec<u8> = src.iter().map(|c| *c as u8).collect();
    let end = bytes
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| DriverError::InvalidData(format!("{field} is not NUL-terminated")))?;
    String::from_utf8(bytes[..end].to_vec())
        .map_err(|_| DriverError::InvalidData(format!("{field} is not UTF-8")))
}

pub fn vec3_to(v: Vec3) -> PxVec3 {
    PxVec3 {
        x: v.x,
        y: v.y,
        z: v.z,
    }
}

pub fn vec3_from(v: PxVec3) -> Vec3 {
    Vec3::new(v.x, v.y, v.z)
}

pub fn pose_to(p: Pose) -> PxPose {
    PxPose {
        orientation: PxQuat {
            x: p.orientation.x,
            y: p.orientation.y,
            z: p.orientation.z,
            w: p.orientation.w,
        },
        position: vec3_to(p.position),
    }
}

/// The quaternion is taken as given (not normalised): judging it is the
/// sanitiser's job, and normalising here would hide a bad driver.
pub fn pose_from(p: PxPose) -> Pose {
    let q = p.orientation;
    Pose::new(Quat::from_xyzw(q.x, q.y, q.z, q.w), vec3_from(p.position))
}

fn flags_to(ov: bool, pv: bool, ot: bool, pt: bool, vv: bool) -> u32 {
    let mut f = 0;
    if ov {
        f |= PX_POSE_ORIENTATION_VALID;
    }
    if pv {
        f |= PX_POSE_POSITION_VALID;
    }
    if ot {
        f |= PX_POSE_ORIENTATION_TRACKED;
    }
    if pt {
        f |= PX_POSE_POSITION_TRACKED;
    }
    if vv {
        f |= PX_POSE_VELOCITY_VALID;
    }
    f
}

pub fn tracked_pose_to(p: &TrackedPose) -> PxTrackedPose {
    PxTrackedPose {
        pose: pose_to(p.pose),
        linear_velocity: vec3_to(p.velocity.linear),
        angular_velocity: vec3_to(p.velocity.angular),
        sample_time_ns: p.time.0,
        flags: flags_to(
            p.orientation_valid,
            p.position_valid,
            p.orientation_tracked,
            p.position_tracked,
            true,
        ),
    }
}

pub fn tracked_pose_from(p: &PxTrackedPose) -> TrackedPose {
    let vel = p.flags & PX_POSE_VELOCITY_VALID != 0;
    TrackedPose {
        pose: pose_from(p.pose),
        velocity: if vel {
            Velocity {
                linear: vec3_from(p.linear_velocity),
                angular: vec3_from(p.angular_velocity),
            }
        } else {
            Velocity::default()
        },
        time: Time(p.sample_time_ns),
        orientation_valid: p.flags & PX_POSE_ORIENTATION_VALID != 0,
        position_valid: p.flags & PX_POSE_POSITION_VALID != 0,
        orientation_tracked: p.flags & PX_POSE_ORIENTATION_TRACKED != 0,
        position_tracked: p.flags & PX_POSE_POSITION_TRACKED != 0,
    }
}

pub fn hand_joints_to(h: &HandJoints) -> PxHandJoints {
    let mut out = PxHandJoints {
        sample_time_ns: h.time.0,
        active: h.active as u32,
        joints: [PxHandJoint::default(); PX_HAND_JOINT_COUNT],
    };
    for (o, j) in out.joints.iter_mut().zip(h.joints.iter()) {
        *o = PxHandJoint {
            pose: pose_to(j.pose),
            radius: j.radius,
            linear_velocity: vec3_to(j.velocity.linear),
            angular_velocity: vec3_to(j.velocity.angular),
            flags: flags_to(
                j.pose_valid,
                j.pose_valid,
                j.pose_tracked,
                j.pose_tracked,
                j.velocity_valid,
            ),
        };
    }
    out
}

pub fn hand_joints_from(h: &PxHandJoints) -> HandJoints {
    let mut out = HandJoints {
        time: Time(h.sample_time_ns),
        active: h.active != 0,
        ..Default::default()
    };
    for (o, j) in out
        .joints
        .iter_mut()
        .zip(h.joints.iter())
        .take(HAND_JOINT_COUNT)
    {
        *o = HandJoint {
            pose: pose_from(j.pose),
            radius: j.radius,
            velocity: Velocity {
                linear: vec3_from(j.linear_velocity),
                angular: vec3_from(j.angular_velocity),
            },
            pose_valid: j.flags & PX_POSE_POSITION_VALID != 0,
            pose_tracked: j.flags & PX_POSE_POSITION_TRACKED != 0,
            velocity_valid: j.flags & PX_POSE_VELOCITY_VALID != 0,
        };
    }
    out
}

pub fn body_joints_to(b: &BodyJoints) -> PxBodyJoints {
    let mut out = PxBodyJoints {
        sample_time_ns: b.time.0,
        active: b.active as u32,
        confidence: b.confidence,
        joints: [PxBodyJoint::default(); PX_BODY_JOINT_COUNT],
    };
    for (o, j) in out.joints.iter_mut().zip(b.joints.iter()) {
        *o = PxBodyJoint {
            pose: pose_to(j.pose),
            flags: flags_to(
                j.pose_valid,
                j.pose_valid,
                j.pose_tracked,
                j.pose_tracked,
                false,
            ),
        };
    }
    out
}

pub fn body_joints_from(b: &PxBodyJoints) -> BodyJoints {
    let mut out = BodyJoints {
        time: Time(b.sample_time_ns),
        active: b.active != 0,
        confidence: b.confidence,
        ..Default::default()
    };
    for (o, j) in out
        .joints
        .iter_mut()
        .zip(b.joints.iter())
        .take(BODY_JOINT_COUNT)
    {
        let valid = PX_POSE_POSITION_VALID | PX_POSE_ORIENTATION_VALID;
        let tracked = PX_POSE_POSITION_TRACKED | PX_POSE_ORIENTATION_TRACKED;
        *o = BodyJoint {
            pose: pose_from(j.pose),
            pose_valid: j.flags & valid == valid,
            pose_tracked: j.flags & tracked == tracked,
        };
    }
    out
}

fn fov_to(f: Fov) -> PxFov {
    PxFov {
        left: f.left,
        right: f.right,
        up: f.up,
        down: f.down,
    }
}

pub fn display_to(d: &DisplayInfo) -> PxDisplayInfo {
    let mut out = PxDisplayInfo {
        width_per_eye: d.width_per_eye,
        height_per_eye: d.height_per_eye,
        refresh_rate_count: d.refresh_rates_hz.len().min(PX_MAX_REFRESH_RATES) as u32,
        ..Default::default()
    };
    for (o, r) in out.refresh_rates_hz.iter_mut().zip(&d.refresh_rates_hz) {
        *o = *r;
    }
    for (o, e) in out.eyes.iter_mut().zip(&d.eyes) {
        *o = PxEye {
            head_from_eye: pose_to(e.head_from_eye),
            fov: fov_to(e.fov),
        };
    }
    out.lens = PxLens {
        red: d.lens.red,
        green: d.lens.green,
        blue: d.lens.blue,
        aperture: d.lens.aperture,
    };
    out
}

/// Reads and validates a display description.
pub fn display_from(d: &PxDisplayInfo) -> Result<DisplayInfo, DriverError> {
    let bad = |m: String| Err(DriverError::InvalidData(format!("display: {m}")));
    if d.width_per_eye == 0 || d.height_per_eye == 0 {
        return bad(format!(
            "empty panel {}x{}",
            d.width_per_eye, d.height_per_eye
        ));
    }
    if d.width_per_eye > 16384 || d.height_per_eye > 16384 {
        return bad(format!(
            "panel {}x{} larger than 16384",
            d.width_per_eye, d.height_per_eye
        ));
    }
    let n = d.refresh_rate_count as usize;
    if n == 0 || n > PX_MAX_REFRESH_RATES {
        return bad(format!("refresh_rate_count {n} not in 1..=16"));
    }
    let rates = d.refresh_rates_hz[..n].to_vec();
    if let Some(r) = rates
        .iter()
        .find(|r| !r.is_finite() || **r < 1.0 || **r > 1000.0)
    {
        return bad(format!("refresh rate {r} Hz"));
    }
    let mut eyes = [EyeInfo {
        head_from_eye: Pose::IDENTITY,
        fov: Fov::default(),
    }; 2];
    let half_pi = std::f32::consts::FRAC_PI_2;
    for (i, (o, e)) in eyes.iter_mut().zip(&d.eyes).enumerate() {
        let f = e.fov;
        let angles = [f.left, f.right, f.up, f.down];
        if angles.iter().any(|a| !a.is_finite() || a.abs() >= half_pi)
            || f.left >= f.right
            || f.down >= f.up
        {
            return bad(format!(
                "eye {i} field of view {f:?} (radians, left < right, down < up, each within ±90°)"
            ));
        }
        let pose = parallax_sdk::sanitize::pose(pose_from(e.head_from_eye))
            .map_err(|e| DriverError::InvalidData(format!("display: eye {i}: {e}")))?;
        *o = EyeInfo {
            head_from_eye: pose,
            fov: Fov {
                left: f.left,
                right: f.right,
                up: f.up,
                down: f.down,
            },
        };
    }
    let l = d.lens;
    if l.red
        .iter()
        .chain(&l.green)
        .chain(&l.blue)
        .chain(std::iter::once(&l.aperture))
        .any(|v| !v.is_finite())
        || l.aperture < 0.0
    {
        return bad("non-finite lens coefficients or negative aperture".into());
    }
    Ok(DisplayInfo {
        width_per_eye: d.width_per_eye,
        height_per_eye: d.height_per_eye,
        refresh_rates_hz: rates,
        eyes,
        lens: LensModel {
            red: l.red,
            green: l.green,
            blue: l.blue,
            aperture: l.aperture,
        },
    })
}

pub fn role_to(r: DeviceRole) -> u32 {
    match r {
        DeviceRole::Head => PX_ROLE_HEAD,
        DeviceRole::LeftHand => PX_ROLE_LEFT_HAND,
        DeviceRole::RightHand => PX_ROLE_RIGHT_HAND,
        DeviceRole::Tracker => PX_ROLE_TRACKER,
    }
}

pub fn role_from(r: u32) -> Result<DeviceRole, DriverError> {
    Ok(match r {
        PX_ROLE_HEAD => DeviceRole::Head,
        PX_ROLE_LEFT_HAND => DeviceRole::LeftHand,
        PX_ROLE_RIGHT_HAND => DeviceRole::RightHand,
        PX_ROLE_TRACKER => DeviceRole::Tracker,
        other => return Err(DriverError::InvalidData(format!("unknown role {other}"))),
    })
}

pub fn kind_to(k: InputKind) -> u32 {
    match k {
        InputKind::Boolean => PX_INPUT_BOOLEAN,
        InputKind::Float => PX_INPUT_FLOAT,
        InputKind::Vector2 => PX_INPUT_VECTOR2,
        InputKind::Pose => PX_INPUT_POSE,
    }
}

pub fn kind_from(k: u32) -> Result<InputKind, DriverError> {
    Ok(match k {
        PX_INPUT_BOOLEAN => InputKind::Boolean,
        PX_INPUT_FLOAT => InputKind::Float,
        PX_INPUT_VECTOR2 => InputKind::Vector2,
        PX_INPUT_POSE => InputKind::Pose,
        other => {
            return Err(DriverError::InvalidData(format!(
                "unknown input kind {other}"
            )))
        }
    })
}

pub fn input_to(v: Option<InputValue>) -> PxInputValue {
    match v {
        None => PxInputValue::default(),
        Some(InputValue::Boolean(b)) => PxInputValue {
            valid: 1,
            x: b as u32 as f32,
            y: 0.0,
        },
        Some(InputValue::Float(f)) => PxInputValue {
            valid: 1,
            x: f,
            y: 0.0,
        },
        Some(InputValue::Vector2(v)) => PxInputValue {
            valid: 1,
            x: v.x,
            y: v.y,
        },
    }
}

pub fn input_from(v: PxInputValue, kind: InputKind) -> Option<InputValue> {
    if v.valid == 0 {
        return None;
    }
    match kind {
        InputKind::Boolean => Some(InputValue::Boolean(v.x != 0.0)),
        InputKind::Float => Some(InputValue::Float(v.x)),
        InputKind::Vector2 => Some(InputValue::Vector2(glam::Vec2::new(v.x, v.y))),
        InputKind::Pose => None,
    }
}

pub fn vibration_to(v: &Vibration) -> PxVibration {
    PxVibration {
        duration_ns: v.duration.0,
        frequency_hz: v.frequency,
        amplitude: v.amplitude,
    }
}

pub fn vibration_from(v: &PxVibration) -> Vibration {
    Vibration {
        duration: parallax_sdk::types::Duration(v.duration_ns),
        frequency: v.frequency_hz,
        amplitude: v.amplitude,
    }
}

pub fn format_to(f: PixelFormat) -> u32 {
    match f {
        PixelFormat::Gray8 => PX_FORMAT_GRAY8,
        PixelFormat::Rgb8 => PX_FORMAT_RGB8,
        PixelFormat::Rgba8 => PX_FORMAT_RGBA8,
    }
}

pub fn format_from(f: u32) -> Result<PixelFormat, DriverError> {
    Ok(match f {
        PX_FORMAT_GRAY8 => PixelFormat::Gray8,
        PX_FORMAT_RGB8 => PixelFormat::Rgb8,
        PX_FORMAT_RGBA8 => PixelFormat::Rgba8,
        other => {
            return Err(DriverError::InvalidData(format!(
                "unknown pixel format {other}"
            )))
        }
    })
}

pub fn camera_to(c: &CameraInfo) -> PxCameraInfo {
    let mut out = PxCameraInfo {
        name: [0; PX_MAX_NAME],
        width: c.width,
        height: c.height,
        format: format_to(c.format),
        fps: c.fps,
        fx: c.intrinsics.fx,
        fy: c.intrinsics.fy,
        cx: c.intrinsics.cx,
        cy: c.intrinsics.cy,
        distortion: c.intrinsics.distortion,
        head_from_camera: pose_to(c.head_from_camera),
    };
    write_str(&mut out.name, &c.name);
    out
}

pub fn camera_from(c: &PxCameraInfo) -> Result<CameraInfo, DriverError> {
    let name = read_str(&c.name, "camera name")?;
    let intr = [c.fx, c.fy, c.cx, c.cy];
    if c.width == 0
        || c.height == 0
        || intr.iter().chain(&c.distortion).any(|v| !v.is_finite())
        || !c.fps.is_finite()
        || c.fps <= 0.0
    {
        return Err(DriverError::InvalidData(format!(
            "camera {name}: bad size, rate or intrinsics"
        )));
    }
    Ok(CameraInfo {
        name,
        width: c.width,
        height: c.height,
        format: format_from(c.format)?,
        fps: c.fps,
        intrinsics: CameraIntrinsics {
            fx: c.fx,
            fy: c.fy,
            cx: c.cx,
            cy: c.cy,
            distortion: c.distortion,
        },
        head_from_camera: parallax_sdk::sanitize::pose(pose_from(c.head_from_camera))?,
    })
}

/// The error a result code stands for (`None` for success).
pub fn error_from(code: PxResultCode, what: &str) -> Option<DriverError> {
    let r = PxResult::from_code(code);
    Some(match r {
        Some(PxResult::Success) => return None,
        Some(PxResult::ErrorDisconnected) => DriverError::Disconnected,
        Some(PxResult::ErrorLost) => DriverError::Lost(what.into()),
        Some(PxResult::ErrorUnsupported) => DriverError::Unsupported,
        Some(PxResult::ErrorInvalidArgument) => DriverError::InvalidArgument(what.into()),
        Some(PxResult::ErrorNoSuchComponent) => DriverError::NoSuchComponent(what.into()),
        Some(PxResult::ErrorOpenFailed) => DriverError::OpenFailed(what.into()),
        Some(PxResult::ErrorIncompatibleVersion) => {
            DriverError::OpenFailed(format!("{what}: incompatible ABI version"))
        }
        Some(PxResult::ErrorInternal) => DriverError::Internal(what.into()),
        Some(PxResult::ErrorBufferTooSmall) => {
            DriverError::InvalidArgument(format!("{what}: buffer too small"))
        }
        None => DriverError::InvalidData(format!("{what} returned unknown result {code}")),
    })
}

/// The result code for an error.
pub fn error_to(e: &DriverError) -> PxResultCode {
    (match e {
        DriverError::Disconnected => PxResult::ErrorDisconnected,
        DriverError::Lost(_) => PxResult::ErrorLost,
        DriverError::Unsupported => PxResult::ErrorUnsupported,
        DriverError::InvalidData(_) | DriverError::Internal(_) => PxResult::ErrorInternal,
        DriverError::NoSuchComponent(_) => PxResult::ErrorNoSuchComponent,
        DriverError::OpenFailed(_) => PxResult::ErrorOpenFailed,
        DriverError::InvalidArgument(_) => PxResult::ErrorInvalidArgument,
    }) as PxResultCode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_truncate_on_char_boundaries() {
        let mut buf = [1 as c_char; 6];
        write_str(&mut buf, "héllo!");
        // "héllo!" is 7 bytes; 5 fit, and the 5th ends inside nothing.
        assert_eq!(read_str(&buf, "t").unwrap(), "héll");
        let unterminated = [65 as c_char; 4];
        assert!(read_str(&unterminated, "t").is_err());
    }

    #[test]
    fn display_round_trips_and_is_validated() {
        let d = DisplayInfo {
            width_per_eye: 100,
            height_per_eye: 80,
            refresh_rates_hz: vec![90.0, 120.0],
            eyes: [
                EyeInfo {
                    head_from_eye: Pose::from_position(Vec3::new(-0.03, 0.0, 0.0)),
                    fov: Fov::from_degrees(-45.0, 40.0, 42.0, -44.0),
                },
                EyeInfo {
                    head_from_eye: Pose::from_position(Vec3::new(0.03, 0.0, 0.0)),
                    fov: Fov::from_degrees(-40.0, 45.0, 42.0, -44.0),
                },
            ],
            lens: LensModel {
                red: [0.1, 0.2, 0.0],
                green: [0.1, 0.2, 0.0],
                blue: [0.1, 0.2, 0.0],
                aperture: 1.2,
            },
        };
        assert_eq!(display_from(&display_to(&d)).unwrap(), d);
        let mut bad = display_to(&d);
        bad.eyes[0].fov.left = f32::NAN;
        assert!(display_from(&bad).is_err());
        let mut bad = display_to(&d);
        bad.refresh_rate_count = 0;
        assert!(display_from(&bad).is_err());
    }
}
