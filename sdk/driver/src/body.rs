//! An upper body estimated from the head and the hands, for drivers of
//! headsets that track no more than those (as inside-out headsets estimate
//! the body they report): the torso hangs below the head, turned with the
//! head's yaw only (a nod does not tilt the chest), and each arm reaches its
//! hand with two-bone inverse kinematics (upper arm 0.30 m, forearm 0.28 m),
//! the elbow bending down and out; an untracked hand hangs at the side.
//! Shared by the simulated headset (its wearer's body, exact by
//! construction) and the avatar renderer (the body of a participant whose
//! packet carries head and hands).
//!
//! The tracking origin is taken to be on the floor (y = 0), as the stage
//! is: the root joint is there, under the hips.

use glam::{Mat3, Quat, Vec3};
use parallax_sdk_types::{BodyJoint, BodyJoints, Pose, Time, BODY_JOINT_COUNT};

/// Upper arm length (shoulder to elbow), metres.
pub const UPPER_ARM: f32 = 0.30;
/// Forearm length (elbow to wrist), metres.
pub const FOREARM: f32 = 0.28;

/// Indices of [`parallax_sdk_types::BODY_JOINT_NAMES`].
pub mod joint {
    pub const ROOT: usize = 0;
    pub const HIPS: usize = 1;
    pub const SPINE_LOWER: usize = 2;
    pub const SPINE_MIDDLE: usize = 3;
    pub const SPINE_UPPER: usize = 4;
    pub const CHEST: usize = 5;
    pub const NECK: usize = 6;
    pub const HEAD: usize = 7;
    /// The first joint of each arm: shoulder, scapula, upper arm (the
    /// shoulder's ball joint), lower arm (the elbow), wrist twist; left
    /// then right.
    pub const ARM: [usize; 2] = [8, 13];
    pub const SHOULDER: usize = 0;
    pub const SCAPULA: usize = 1;
    pub const ARM_UPPER: usize = 2;
    pub const ARM_LOWER: usize = 3;
    pub const WRIST_TWIST: usize = 4;
}

/// The body for `head` (`stage_from_head`, looking down -Z) and the
/// positions of the left and right wrists (`None`: that hand is not
/// tracked). `head_tracked` and each wrist's presence set the joints'
/// tracked flags; every joint is valid. The result is active, with
/// confidence 1 when the head is tracked and 0.5 otherwise.
pub fn upper_body(
    time: Time,
    head: &Pose,
    head_tracked: bool,
    wrists: &[Option<Vec3>; 2],
) -> BodyJoints {
    let (yaw, _, _) = head.orientation.to_euler(glam::EulerRot::YXZ);
    let body = Quat::from_rotation_y(yaw);
    let right = body * Vec3::X;
    let back = body * Vec3::Z;
    let forward = -back;
    let neck = head.position + Vec3::new(0.0, -0.13, 0.0) + back * 0.03;
    let chest = neck + Vec3::new(0.0, -0.12, 0.0);
    let hips = neck + Vec3::new(0.0, -0.55, 0.0);
    let root = Vec3::new(hips.x, 0.0, hips.z);
    let mut p = [Vec3::ZERO; BODY_JOINT_COUNT];
    p[joint::ROOT] = root;
    p[joint::HIPS] = hips;
    for (j, f) in [
        (joint::SPINE_LOWER, 0.2),
        (joint::SPINE_MIDDLE, 0.45),
        (joint::SPINE_UPPER, 0.7),
    ] {
        p[j] = hips.lerp(chest, f);
    }
    p[joint::CHEST] = chest;
    p[joint::NECK] = neck;
    p[joint::HEAD] = head.position;
    let mut tracked = [head_tracked; BODY_JOINT_COUNT];
    for (i, side) in [-1.0f32, 1.0].into_iter().enumerate() {
        let a = joint::ARM[i];
        let shoulder = neck + right * (0.19 * side) + Vec3::new(0.0, -0.06, 0.0);
        let wrist = match wrists[i] {
            Some(w) if w.is_finite() => w,
            _ => {
                shoulder
                    + Vec3::new(0.0, -(UPPER_ARM + FOREARM) * 0.97, 0.0)
                    + right * (0.03 * side)
            }
        };
        // Two-bone IK: the elbow on the circle of reach, towards the pole.
        let to = wrist - shoulder;
        let d = to.length().clamp(0.05, (UPPER_ARM + FOREARM) * 0.999);
        let u = to.normalize_or(-Vec3::Y);
        let wrist = shoulder + u * d;
        let along = (UPPER_ARM * UPPER_ARM - FOREARM * FOREARM + d * d) / (2.0 * d);
        let off = (UPPER_ARM * UPPER_ARM - along * along).max(0.0).sqrt();
        let pole = (Vec3::new(0.0, -1.0, 0.0) + right * (0.5 * side) + back * 0.3).normalize();
        let perp = (pole - u * pole.dot(u)).normalize_or(right * side);
        p[a + joint::SHOULDER] = neck + right * (0.04 * side) + Vec3::new(0.0, -0.05, 0.0);
        p[a + joint::SCAPULA] =
            neck + right * (0.11 * side) + Vec3::new(0.0, -0.05, 0.0) + back * 0.03;
        p[a + joint::ARM_UPPER] = shoulder;
        p[a + joint::ARM_LOWER] = shoulder + u * along + perp * off;
        p[a + joint::WRIST_TWIST] = wrist;
        let hand_tracked = head_tracked && wrists[i].is_some_and(|w| w.is_finite());
        for t in &mut tracked[a..a + 5] {
            *t = hand_tracked;
        }
    }
    let mut joints = [BodyJoint::default(); BODY_JOINT_COUNT];
    for (j, out) in joints.iter_mut().enumerate() {
        let orientation = match j {
            joint::ROOT => body,
            joint::HEAD => head.orientation.normalize(),
            _ => {
                // Along the bone to the child; the last joint of an arm
                // continues its forearm.
                let along = match child(j) {
                    Some(c) => p[c] - p[j],
                    None => p[j] - p[j - 1],
                };
                frame(along, forward, body * Vec3::Y)
            }
        };
        *out = BodyJoint {
            pose: Pose::new(orientation, p[j]),
            pose_valid: true,
            pose_tracked: tracked[j],
        };
    }
    BodyJoints {
        time,
        active: true,
        confidence: if head_tracked { 1.0 } else { 0.5 },
        joints,
    }
}

/// The joint a joint's bone runs to (the first child in joint order).
fn child(j: usize) -> Option<usize> {
    parallax_sdk_types::BODY_JOINT_PARENTS
        .iter()
        .position(|p| *p == Some(j))
}

/// The rotation whose +Y is `along` and whose -Z is as close to `forward`
/// as that allows (`up` stands in when `along` is parallel to `forward`).
fn frame(along: Vec3, forward: Vec3, up: Vec3) -> Quat {
    let y = along.normalize_or(up);
    let mut f = forward - y * forward.dot(y);
    if f.length_squared() < 1e-6 {
        f = up - y * up.dot(y);
    }
    let z = -f.normalize();
    let x = y.cross(z);
    Quat::from_mat3(&Mat3::from_cols(x, y, z)).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_sdk_types::BODY_JOINT_PARENTS;

    fn head() -> Pose {
        Pose::new(
            Quat::from_rotation_y(0.6) * Quat::from_rotation_x(-0.3),
            Vec3::new(0.2, 1.65, -0.1),
        )
    }

    #[test]
    fn arms_reach_the_hands_with_their_bone_lengths() {
        let h = head();
        let wrist = [Vec3::new(-0.1, 1.2, -0.4), Vec3::new(0.45, 1.3, -0.3)];
        let b = upper_body(Time(5), &h, true, &[Some(wrist[0]), Some(wrist[1])]);
        assert!(b.active && b.confidence == 1.0 && b.time == Time(5));
        for (i, a) in joint::ARM.into_iter().enumerate() {
            let s = b.joints[a + joint::ARM_UPPER].pose.position;
            let e = b.joints[a + joint::ARM_LOWER].pose.position;
            let w = b.joints[a + joint::WRIST_TWIST].pose.position;
            assert!(((e - s).length() - UPPER_ARM).abs() < 1e-4);
            assert!(((w - e).length() - FOREARM).abs() < 1e-4);
            // Within reach: the wrist is where the grip puts it.
            assert!((w - wrist[i]).length() < 1e-4);
            // Elbows below the line from shoulder to wrist.
            assert!(e.y < s.lerp(w, 0.5).y);
        }
        assert_eq!(b.joints[joint::HEAD].pose.position, h.position);
        assert!(b.joints.iter().all(|j| j.pose_valid && j.pose_tracked));
        assert_eq!(b.joints[joint::ROOT].pose.position.y, 0.0);
    }

    #[test]
    fn frames_follow_the_bones_and_face_forward() {
        let h = head();
        let b = upper_body(Time(1), &h, true, &[None, None]);
        let (yaw, _, _) = h.orientation.to_euler(glam::EulerRot::YXZ);
        let forward = Quat::from_rotation_y(yaw) * -Vec3::Z;
        for (j, joint) in b.joints.iter().enumerate() {
            let q = joint.pose.orientation;
            assert!((q.length() - 1.0).abs() < 1e-5, "joint {j}");
            if j == super::joint::HEAD {
                continue;
            }
            // -Z never points backwards.
            assert!((q * -Vec3::Z).dot(forward) > -1e-4, "joint {j}");
            if let Some(c) = child(j) {
                let along = (b.joints[c].pose.position - joint.pose.position).normalize();
                assert!((q * Vec3::Y).dot(along) > 0.9999, "joint {j}");
            }
        }
        // A nod does not tilt the chest.
        let chest = b.joints[joint::CHEST].pose.orientation * Vec3::Y;
        assert!(chest.dot(Vec3::Y) > 0.9999);
        // Untracked hands hang at the sides, estimated, not tracked.
        for i in 0..2 {
            let w = b.joints[joint::ARM[i] + joint::WRIST_TWIST];
            assert!(w.pose.position.y < b.joints[joint::CHEST].pose.position.y - 0.4);
            assert!(w.pose_valid && !w.pose_tracked);
        }
        assert!(b.joints[joint::HEAD].pose_tracked);
        // Every joint but the root has its parent's bone ending near it
        // (the skeleton is connected).
        for (j, parent) in BODY_JOINT_PARENTS.iter().enumerate() {
            if let Some(p) = parent {
                let d = (b.joints[j].pose.position - b.joints[*p].pose.position).length();
                assert!(d < 1.2, "joint {j} is {d} m from its parent");
            }
        }
    }
}
