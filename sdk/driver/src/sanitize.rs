//! Sanitising of everything a driver hands to the runtime: NaN or infinite
//! values, non-unit quaternions, timestamps that go backwards and inputs out
//! of range are caught here, once, at the SDK boundary. Each rejection has a
//! [`Cause`], so callers can log once per cause rather than once per frame.

use crate::{DriverError, InputValue};
use parallax_sdk_types::{BodyJoints, FaceExpressions, HandJoints, Pose, Time, TrackedPose};

/// Tolerance on `|q| - 1` above which a quaternion is renormalised (and
/// beyond `MAX_QUAT_NORM_ERROR` rejected as garbage).
const QUAT_RENORMALISE: f32 = 1e-4;
const MAX_QUAT_NORM_ERROR: f32 = 0.1;
/// Inputs this far outside their range are rounding and get clamped;
/// beyond it they are rejected.
const INPUT_SLACK: f32 = 1e-3;

/// Why a value was rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    NonFinite,
    NonUnitQuaternion,
    TimeBackwards,
    OutOfRange,
}

/// A rejected value: the cause, and the details for the log.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct Rejected {
    pub cause: Cause,
    pub detail: String,
}

impl From<Rejected> for DriverError {
    fn from(r: Rejected) -> Self {
        DriverError::InvalidData(r.detail)
    }
}

fn reject(cause: Cause, detail: String) -> Rejected {
    Rejected { cause, detail }
}

/// Checks a tracked pose; renormalises slightly off quaternions, rejects
/// non-finite values, wildly non-unit quaternions and a sample time earlier
/// than `last_time` (the previous sample of the same component).
pub fn tracked_pose(mut p: TrackedPose, last_time: Option<Time>) -> Result<TrackedPose, Rejected> {
    if !p.pose.is_finite() || !p.velocity.linear.is_finite() || !p.velocity.angular.is_finite() {
        return Err(reject(
            Cause::NonFinite,
            "non-finite pose or velocity".into(),
        ));
    }
    p.pose = pose(p.pose)?;
    if let Some(last) = last_time {
        if p.time < last {
            return Err(reject(
                Cause::TimeBackwards,
                format!(
                    "sample timestamp went backwards ({} < {} ns)",
                    p.time.0, last.0
                ),
            ));
        }
    }
    Ok(p)
}

/// Checks and normalises a pose.
pub fn pose(mut p: Pose) -> Result<Pose, Rejected> {
    if !p.is_finite() {
        return Err(reject(Cause::NonFinite, "non-finite pose".into()));
    }
    let err = (p.orientation.length() - 1.0).abs();
    if err > MAX_QUAT_NORM_ERROR {
        return Err(reject(
            Cause::NonUnitQuaternion,
            format!(
                "quaternion far from unit length (|q| = {})",
                p.orientation.length()
            ),
        ));
    }
    if err > QUAT_RENORMALISE {
        p.orientation = p.orientation.normalize();
    }
    Ok(p)
}

/// Checks a hand's joints: an active hand needs every joint located, each
/// with a finite pose, a (renormalised) unit quaternion and a finite radius
/// above zero, and every valid velocity finite. An inactive hand passes as it is (its joints are
/// not used). One bad joint rejects the whole hand: a skeleton with a
/// garbage joint would give an app a hand that is not a hand.
pub fn hand_joints(mut h: HandJoints) -> Result<HandJoints, Rejected> {
    if !h.active {
        return Ok(h);
    }
    for (i, j) in h.joints.iter_mut().enumerate() {
        if !j.pose_valid {
            // XR_EXT_hand_tracking: an active hand has every joint located.
            return Err(reject(
                Cause::OutOfRange,
                format!("joint {i} has no pose in an active hand"),
            ));
        }
        j.pose = pose(j.pose).map_err(|r| reject(r.cause, format!("joint {i}: {r}")))?;
        if !j.radius.is_finite() || j.radius <= 0.0 {
            return Err(reject(
                Cause::OutOfRange,
                format!("joint {i}: radius {} is not a positive length", j.radius),
            ));
        }
        if j.velocity_valid && !(j.velocity.linear.is_finite() && j.velocity.angular.is_finite()) {
            return Err(reject(
                Cause::NonFinite,
                format!("joint {i}: non-finite velocity"),
            ));
        }
    }
    Ok(h)
}

/// Checks an upper body: an active body needs a confidence in 0..=1 and
/// every valid joint's pose finite with a (renormalised) unit quaternion;
/// one bad joint rejects the whole body. An inactive body passes as it is.
pub fn body_joints(mut b: BodyJoints) -> Result<BodyJoints, Rejected> {
    if !b.active {
        return Ok(b);
    }
    if !b.confidence.is_finite() || !(0.0..=1.0).contains(&b.confidence) {
        return Err(reject(
            Cause::OutOfRange,
            format!("body confidence {} is outside 0..=1", b.confidence),
        ));
    }
    for (i, j) in b.joints.iter_mut().enumerate() {
        if j.pose_valid {
            j.pose = pose(j.pose).map_err(|r| reject(r.cause, format!("body joint {i}: {r}")))?;
        }
    }
    Ok(b)
}

/// Checks face expression weights (0..=1 each): rounding slack is clamped;
/// a non-finite weight or one further out rejects the whole face (a face
/// with one garbage weight is not the wearer's). Invalid faces pass as
/// they are (their weights are not used).
pub fn face_expressions(mut f: FaceExpressions) -> Result<FaceExpressions, Rejected> {
    if !f.valid {
        return Ok(f);
    }
    for (i, w) in f.weights.iter_mut().enumerate() {
        if !w.is_finite() {
            return Err(reject(
                Cause::NonFinite,
                format!("face expression weight {i} is not finite"),
            ));
        }
        if *w < -INPUT_SLACK || *w > 1.0 + INPUT_SLACK {
            return Err(reject(
                Cause::OutOfRange,
                format!("face expression weight {i} is {w}, outside 0..=1"),
            ));
        }
        *w = w.clamp(0.0, 1.0);
    }
    Ok(f)
}

/// Checks an input value against its legal range (-1..=1 per axis):
/// rounding slack is clamped, anything further out or non-finite is
/// rejected.
pub fn input(v: InputValue) -> Result<InputValue, Rejected> {
    let check = |f: f32| -> Result<f32, Rejected> {
        if !f.is_finite() {
            return Err(reject(Cause::NonFinite, "non-finite input value".into()));
        }
        if f.abs() > 1.0 + INPUT_SLACK {
            return Err(reject(
                Cause::OutOfRange,
                format!("input value {f} outside -1..=1"),
            ));
        }
        Ok(f.clamp(-1.0, 1.0))
    };
    match v {
        InputValue::Boolean(_) => Ok(v),
        InputValue::Float(f) => Ok(InputValue::Float(check(f)?)),
        InputValue::Vector2(xy) => Ok(InputValue::Vector2(glam::Vec2::new(
            check(xy.x)?,
            check(xy.y)?,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::{Quat, Vec3};

    #[test]
    fn rejects_nan_and_renormalises() {
        let bad = Pose::new(Quat::from_xyzw(f32::NAN, 0.0, 0.0, 1.0), Vec3::ZERO);
        assert_eq!(pose(bad).unwrap_err().cause, Cause::NonFinite);
        let off = Pose::new(Quat::from_xyzw(0.0, 0.0, 0.0, 1.01), Vec3::ZERO);
        let fixed = pose(off).unwrap();
        assert!((fixed.orientation.length() - 1.0).abs() < 1e-6);
        let garbage = Pose::new(Quat::from_xyzw(0.0, 0.0, 0.0, 3.0), Vec3::ZERO);
        assert_eq!(pose(garbage).unwrap_err().cause, Cause::NonUnitQuaternion);
    }

    #[test]
    fn rejects_backwards_time_and_out_of_range_inputs() {
        let p = TrackedPose {
            time: Time(5),
            ..Default::default()
        };
        assert_eq!(
            tracked_pose(p, Some(Time(6))).unwrap_err().cause,
            Cause::TimeBackwards
        );
        assert!(tracked_pose(p, Some(Time(5))).is_ok());
        assert_eq!(
            input(InputValue::Float(1.0005)).unwrap(),
            InputValue::Float(1.0)
        );
        assert_eq!(
            input(InputValue::Float(3.0)).unwrap_err().cause,
            Cause::OutOfRange
        );
        assert_eq!(
            input(InputValue::Vector2(glam::Vec2::new(0.0, f32::INFINITY)))
                .unwrap_err()
                .cause,
            Cause::NonFinite
        );
    }

    #[test]
    fn bodies_with_a_garbage_joint_or_confidence_are_refused() {
        let mut b = crate::body::upper_body(
            Time(1),
            &Pose::from_position(glam::Vec3::new(0.0, 1.6, 0.0)),
            true,
            &[None, None],
        );
        assert_eq!(body_joints(b), Ok(b));
        b.joints[3].pose.orientation *= 1.00005;
        assert!((body_joints(b).unwrap().joints[3].pose.orientation.length() - 1.0).abs() < 1e-4);
        b.joints[3].pose.orientation *= 2.0;
        assert_eq!(body_joints(b).unwrap_err().cause, Cause::NonUnitQuaternion);
        b.joints[3].pose.orientation = glam::Quat::IDENTITY;
        b.joints[9].pose.position.y = f32::INFINITY;
        assert_eq!(body_joints(b).unwrap_err().cause, Cause::NonFinite);
        // An invalid joint is not looked at; neither is an inactive body.
        b.joints[9].pose_valid = false;
        assert!(body_joints(b).is_ok());
        b.confidence = 1.5;
        assert_eq!(body_joints(b).unwrap_err().cause, Cause::OutOfRange);
        b.active = false;
        assert!(body_joints(b).is_ok());
    }

    #[test]
    fn face_weights_are_clamped_within_slack_and_refused_beyond() {
        let mut f = FaceExpressions {
            valid: true,
            ..Default::default()
        };
        f.weights[0] = 1.0005;
        f.weights[1] = -0.0005;
        let ok = face_expressions(f).unwrap();
        assert_eq!((ok.weights[0], ok.weights[1]), (1.0, 0.0));
        f.weights[2] = 1.5;
        assert_eq!(face_expressions(f).unwrap_err().cause, Cause::OutOfRange);
        f.weights[2] = f32::NAN;
        assert_eq!(face_expressions(f).unwrap_err().cause, Cause::NonFinite);
        // An invalid face is not looked at.
        f.valid = false;
        assert!(face_expressions(f).is_ok());
    }

    #[test]
    fn hand_joints_need_finite_poses_and_positive_radii() {
        let mut h = HandJoints {
            active: true,
            ..Default::default()
        };
        for j in h.joints.iter_mut() {
            j.pose_valid = true;
            j.radius = 0.01;
        }
        assert!(hand_joints(h).is_ok());
        let mut bad = h;
        bad.joints[25].pose_valid = false;
        assert_eq!(hand_joints(bad).unwrap_err().cause, Cause::OutOfRange);
        let mut bad = h;
        bad.joints[7].radius = 0.0;
        assert_eq!(hand_joints(bad).unwrap_err().cause, Cause::OutOfRange);
        let mut bad = h;
        bad.joints[3].pose.position.x = f32::NAN;
        let e = hand_joints(bad).unwrap_err();
        assert_eq!(e.cause, Cause::NonFinite);
        assert!(e.detail.contains("joint 3"), "{e}");
        let mut bad = h;
        bad.joints[0].velocity_valid = true;
        bad.joints[0].velocity.angular.y = f32::INFINITY;
        assert_eq!(hand_joints(bad).unwrap_err().cause, Cause::NonFinite);
        // An inactive hand is not looked at.
        bad.active = false;
        assert!(hand_joints(bad).is_ok());
    }
}
