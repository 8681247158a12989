//! Sanitising of everything a driver hands to the runtime: NaN or infinite
//! values, non-unit quaternions and timestamps that go backwards are caught
//! here, once, at the SDK boundary.

use crate::{DriverError, InputValue};
use parallax_sdk_types::{Pose, Time, TrackedPose};

/// Tolerance on `|q| - 1` above which a quaternion is renormalised (and
/// beyond `MAX_QUAT_NORM_ERROR` rejected as garbage).
const QUAT_RENORMALISE: f32 = 1e-4;
const MAX_QUAT_NORM_ERROR: f32 = 0.1;

/// Checks a tracked pose; renormalises slightly off quaternions, rejects
/// non-finite values and wildly non-unit quaternions.
pub fn tracked_pose(
    mut p: TrackedPose,
    last_time: Option<Time>,
) -> Result<TrackedPose, DriverError> {
    if !p.pose.is_finite() || !p.velocity.linear.is_finite() || !p.velocity.angular.is_finite() {
        return Err(DriverError::InvalidData(
            "non-finite pose or velocity".into(),
        ));
    }
    p.pose = pose(p.pose)?;
    if let Some(last) = last_time {
        if p.time < last {
            return Err(DriverError::InvalidData(format!(
                "timestamp went backwards ({} < {})",
                p.time.0, last.0
            )));
        }
    }
    Ok(p)
}

/// Checks and normalises a pose.
pub fn pose(mut p: Pose) -> Result<Pose, DriverError> {
    if !p.is_finite() {
        return Err(DriverError::InvalidData("non-finite pose".into()));
    }
    let err = (p.orientation.length() - 1.0).abs();
    if err > MAX_QUAT_NORM_ERROR {
        return Err(DriverError::InvalidData(format!(
            "quaternion far from unit length (|q| = {})",
            p.orientation.length()
        )));
    }
    if err > QUAT_RENORMALISE {
        p.orientation = p.orientation.normalize();
    }
    Ok(p)
}

/// Clamps an input value into its legal range; rejects non-finite values.
pub fn input(v: InputValue) -> Result<InputValue, DriverError> {
    match v {
        InputValue::Boolean(_) => Ok(v),
        InputValue::Float(f) if f.is_finite() => Ok(InputValue::Float(f.clamp(-1.0, 1.0))),
        InputValue::Vector2(xy) if xy.is_finite() => Ok(InputValue::Vector2(
            xy.clamp(glam::Vec2::splat(-1.0), glam::Vec2::splat(1.0)),
        )),
        _ => Err(DriverError::InvalidData("non-finite input value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::{Quat, Vec3};

    #[test]
    fn rejects_nan_and_renormalises() {
        let bad = Pose::new(Quat::from_xyzw(f32::NAN, 0.0, 0.0, 1.0), Vec3::ZERO);
        assert!(pose(bad).is_err());
        let off = Pose::new(Quat::from_xyzw(0.0, 0.0, 0.0, 1.01), Vec3::ZERO);
        let fixed = pose(off).unwrap();
        assert!((fixed.orientation.length() - 1.0).abs() < 1e-6);
        let garbage = Pose::new(Quat::from_xyzw(0.0, 0.0, 0.0, 3.0), Vec3::ZERO);
        assert!(pose(garbage).is_err());
    }

    #[test]
    fn rejects_backwards_time_and_clamps_inputs() {
        let p = TrackedPose {
            time: Time(5),
            ..Default::default()
        };
        assert!(tracked_pose(p, Some(Time(6))).is_err());
        assert!(tracked_pose(p, Some(Time(5))).is_ok());
        assert_eq!(
            input(InputValue::Float(3.0)).unwrap(),
            InputValue::Float(1.0)
        );
        assert!(input(InputValue::Float(f32::INFINITY)).is_err());
    }
}
