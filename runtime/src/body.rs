//! `XR_FB_body_tracking`: body trackers, the 70 joints of
//! `XR_BODY_JOINT_SET_DEFAULT_FB` in any space, and the body's skeleton in
//! its default pose.
//!
//! The set is the SDK's 18 upper-body joints (the driver's body stream,
//! in the same order) followed by the 26 joints of each hand, left then
//! right, from wherever `XR_EXT_hand_tracking` takes that hand (the two
//! sets share their order). A hand nothing tracks now is reported without
//! location flags; the body stays active.
//!
//! Each tracker keeps the proportions (bone lengths) of the body it last
//! located. `skeletonChangedCount` starts at 1 with the first body and
//! grows by one whenever a bone's length moves by more than
//! [`SKELETON_CHANGE`] (the hips' height over the floor is a posture, not a
//! bone: the first one seen is kept); `xrGetBodySkeletonFB` gives the
//! T-pose of those proportions (arms out along ±X, palms down, fingers
//! straight, facing -Z, root on the floor at the origin).

use crate::error::{Error, Result};
use crate::handles::{self, Kind, Raw};
use crate::session::Session;
use crate::space::{relate, Space, StagePose};
use glam::{Mat3, Quat, Vec3};
use openxr_sys as xr;
use parallax_sdk::types::{
    BodyJoints, Hand, HandJoints, Pose, Time, Velocity, BODY_JOINT_COUNT, BODY_JOINT_PARENTS,
    HAND_JOINT_COUNT,
};
use parking_lot::Mutex;
use std::sync::Arc;

/// `XR_BODY_JOINT_COUNT_FB`.
pub const JOINT_COUNT: usize = BODY_JOINT_COUNT + 2 * HAND_JOINT_COUNT;

/// A bone whose length moves by more than this (metres) changes the
/// skeleton.
pub const SKELETON_CHANGE: f32 = 0.005;

/// The first joint of each hand (left, right) in the FB set.
const HAND_BASE: [usize; 2] = [BODY_JOINT_COUNT, BODY_JOINT_COUNT + HAND_JOINT_COUNT];
/// The arm joint each hand's wrist hangs from (left, right wrist twist).
const WRIST_TWIST: [usize; 2] = [12, 17];

/// Each joint's parent in the FB set (`None` for the root): the body's,
/// then for each hand the palm and the metacarpals from the wrist, the
/// wrist from the arm's wrist twist, and each finger joint from the one
/// before it.
pub fn parent(joint: usize) -> Option<usize> {
    if joint < BODY_JOINT_COUNT {
        return BODY_JOINT_PARENTS[joint];
    }
    if joint >= JOINT_COUNT {
        return None;
    }
    let side = usize::from(joint >= HAND_BASE[1]);
    let base = HAND_BASE[side];
    Some(match joint - base {
        1 => WRIST_TWIST[side],
        // The palm and the first bone of each digit.
        0 | 2 | 6 | 11 | 16 | 21 => base + 1,
        _ => joint - 1,
    })
}

/// An `XrBodyTrackerFB`.
pub struct BodyTracker {
    pub session: Arc<Session>,
    /// The proportions the skeleton was last given for, and its count.
    skeleton: Mutex<Option<([f32; JOINT_COUNT], u32)>>,
}

/// One located joint (`XrBodyJointLocationFB`).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct JointLocation {
    pub pose: Pose,
    pub flags: xr::SpaceLocationFlags,
}

/// What `xrLocateBodyJointsFB` returns.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct BodyLocation {
    pub active: bool,
    pub confidence: f32,
    pub joints: [JointLocation; JOINT_COUNT],
    pub skeleton_changed_count: u32,
    pub time: Time,
}

/// `xrCreateBodyTrackerFB` (the joint set is checked by the caller).
pub fn create(session: &Arc<Session>) -> Result<Raw> {
    if !session.hub.supports_body_tracking() {
        return Err(Error::feature_unsupported(
            "no device of this system tracks the body (supportsBodyTracking is false)",
        ));
    }
    Ok(handles::insert(
        Kind::BodyTracker,
        session.handle(),
        Arc::new(BodyTracker {
            session: session.clone(),
            skeleton: Mutex::new(None),
        }),
    ))
}

/// The FB set's joints in the stage: the body's, then each hand's
/// (`None` where that hand is not tracked now).
fn stage_joints(
    body: &BodyJoints,
    hands: [Option<HandJoints>; 2],
) -> [Option<StagePose>; JOINT_COUNT] {
    let mut out = [None; JOINT_COUNT];
    for (o, j) in out.iter_mut().zip(&body.joints) {
        *o = j.pose_valid.then_some(StagePose {
            pose: j.pose,
            velocity: Velocity::default(),
            tracked: j.pose_tracked,
        });
    }
    for (side, hand) in hands.iter().enumerate() {
        let Some(hand) = hand.filter(|h| h.active) else {
            continue;
        };
        for (k, j) in hand.joints.iter().enumerate() {
            out[HAND_BASE[side] + k] = j.pose_valid.then_some(StagePose {
                pose: j.pose,
                velocity: if j.velocity_valid {
                    j.velocity
                } else {
                    Velocity::default()
                },
                tracked: j.pose_tracked,
            });
        }
    }
    out
}

/// Every bone's length (0 where a joint or its parent is missing, and for
/// the root).
fn bone_lengths(joints: &[Option<StagePose>; JOINT_COUNT]) -> [f32; JOINT_COUNT] {
    std::array::from_fn(|j| match (joints[j], parent(j).and_then(|p| joints[p])) {
        (Some(a), Some(b)) => (a.pose.position - b.pose.position).length(),
        _ => 0.0,
    })
}

/// `xrLocateBodyJointsFB`: the joints in `base` at `t`. Inactive (nothing
/// located) when no device tracks the body now, when the session does not
/// have input focus, or when `base` cannot be located.
pub fn locate(tracker: &BodyTracker, base: &Space, t: Time) -> Result<BodyLocation> {
    if t.0 <= 0 {
        return Err(Error::time_invalid(format!(
            "time {} is not a valid XrTime",
            t.0
        )));
    }
    if !Arc::ptr_eq(&tracker.session, &base.session) {
        return Err(Error::validation(
            "bodyTracker and baseSpace belong to different sessions",
        ));
    }
    let count = tracker.skeleton.lock().map_or(0, |(_, n)| n);
    let mut out = BodyLocation {
        active: false,
        confidence: 0.0,
        joints: [JointLocation::default(); JOINT_COUNT],
        skeleton_changed_count: count,
        time: t,
    };
    if !tracker.session.is_focused() {
        return Ok(out);
    }
    let hub = &tracker.session.hub;
    let Some(body) = hub.body_joints(t).filter(|b| b.active) else {
        return Ok(out);
    };
    let Some(base) = base.in_stage(t) else {
        return Ok(out);
    };
    let hands = [Hand::Left, Hand::Right].map(|h| hub.hand_joints(h, t).map(|s| s.joints));
    let joints = stage_joints(&body, hands);
    out.skeleton_changed_count = update_skeleton(tracker, &bone_lengths(&joints));
    out.active = true;
    out.confidence = body.confidence;
    for (o, j) in out.joints.iter_mut().zip(&joints) {
        if let Some(j) = j {
            let l = relate(&base, j);
            *o = JointLocation {
                pose: l.pose,
                flags: l.flags,
            };
        }
    }
    Ok(out)
}

/// Takes the proportions of a located body: the first ones start the
/// count at 1; a bone that moved by more than [`SKELETON_CHANGE`] (or
/// appeared, or went) bumps it. Returns the count.
fn update_skeleton(tracker: &BodyTracker, lengths: &[f32; JOINT_COUNT]) -> u32 {
    let mut s = tracker.skeleton.lock();
    match &mut *s {
        None => {
            *s = Some((*lengths, 1));
            1
        }
        Some((known, count)) => {
            // The hips' height over the floor is a posture, not a bone (it
            // drops when the wearer crouches): the skeleton keeps the first.
            let changed = known
                .iter()
                .zip(lengths)
                .skip(2)
                .any(|(a, b)| (a - b).abs() > SKELETON_CHANGE);
            if changed {
                let hips = known[1];
                *known = *lengths;
                known[1] = hips;
                *count += 1;
            }
            *count
        }
    }
}

/// One joint of the skeleton (`XrBodySkeletonJointFB`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SkeletonJoint {
    pub joint: usize,
    pub parent: Option<usize>,
    pub pose: Pose,
}

/// `xrGetBodySkeletonFB`: the T-pose of the proportions the tracker last
/// located (a body located now when it has located none yet; the SDK's
/// estimate for a 1.65 m head height when no body is tracked at all).
pub fn skeleton(tracker: &BodyTracker) -> [SkeletonJoint; JOINT_COUNT] {
    let known = tracker.skeleton.lock().map(|(l, _)| l);
    let lengths = known.unwrap_or_else(|| {
        let hub = &tracker.session.hub;
        let t = Time::now();
        let body = hub.body_joints(t).filter(|b| b.active).unwrap_or_else(|| {
            parallax_sdk::body::upper_body(
                t,
                &Pose::from_position(Vec3::new(0.0, 1.65, 0.0)),
                false,
                &[None, None],
            )
        });
        let hands = [Hand::Left, Hand::Right].map(|h| hub.hand_joints(h, t).map(|s| s.joints));
        bone_lengths(&stage_joints(&body, hands))
    });
    t_pose(&lengths)
}

/// Default hand bone lengths (metres) where no hand was seen: each hand
/// joint's distance from its parent, in `XrHandJointEXT` order.
const HAND_BONES: [f32; HAND_JOINT_COUNT] = [
    0.045, 0.0, // palm, wrist
    0.035, 0.045, 0.033, 0.025, // thumb
    0.07, 0.043, 0.025, 0.022, 0.02, // index
    0.068, 0.047, 0.029, 0.023, 0.02, // middle
    0.065, 0.044, 0.027, 0.022, 0.02, // ring
    0.06, 0.034, 0.02, 0.02, 0.018, // little
];

/// Where each digit's metacarpal starts, across the palm from the wrist
/// (metres along the hand's side axis, thumb first; + towards the thumb).
const DIGIT_SPREAD: [f32; 5] = [0.025, 0.012, 0.0, -0.012, -0.024];

/// The skeleton in T-pose for bone lengths: the spine straight up from the
/// root, the shoulders and scapulae out to the sides at the heights their
/// bones allow, the arms straight out along ±X, palms down, the fingers
/// straight along the arm.
fn t_pose(lengths: &[f32; JOINT_COUNT]) -> [SkeletonJoint; JOINT_COUNT] {
    let mut p = [Vec3::ZERO; JOINT_COUNT];
    let mut q = [Quat::IDENTITY; JOINT_COUNT];
    // Root, hips, spine, chest, neck, head: straight up.
    for j in 1..=7 {
        p[j] = p[j - 1] + Vec3::Y * lengths[j];
    }
    for side in 0..2 {
        let out = if side == 0 { -Vec3::X } else { Vec3::X };
        let arm = [8, 13][side];
        // Shoulder (clavicle) and scapula: out and a little up from the
        // chest; the arm from there along the side.
        let chest = p[5];
        p[arm] = chest + (out + Vec3::Y).normalize() * lengths[arm];
        p[arm + 1] = p[arm] + out * lengths[arm + 1];
        for k in 2..5 {
            p[arm + k] = p[arm + k - 1] + out * lengths[arm + k];
        }
        // Bone frames: +Y along the bone, -Z forward.
        for k in 0..5 {
            q[arm + k] = bone_frame(out);
        }
        // The hand: palm down, fingers along `out`. In the hand's own frame
        // (XR_EXT_hand_tracking: -Z along the fingers, +Y out of the back),
        // that is -Z = out, +Y = up.
        let hand_q = {
            let z = -out;
            let y = Vec3::Y;
            Quat::from_mat3(&Mat3::from_cols(y.cross(z), y, z))
        };
        let side_axis = hand_q * Vec3::X * if side == 0 { 1.0 } else { -1.0 };
        let base = HAND_BASE[side];
        let len = |k: usize| {
            let l = lengths[base + k];
            if l > 0.0 {
                l
            } else {
                HAND_BONES[k]
            }
        };
        let wrist = p[arm + 4] + out * len(1);
        p[base + 1] = wrist;
        p[base] = wrist + out * len(0);
        for (digit, spread) in DIGIT_SPREAD.iter().enumerate() {
            let (first, n) = if digit == 0 {
                (2, 4)
            } else {
                (6 + 5 * (digit - 1), 5)
            };
            let mut at = wrist + side_axis * *spread;
            for k in first..first + n {
                at += out * len(k);
                p[base + k] = at;
            }
        }
        for k in 0..HAND_JOINT_COUNT {
            q[base + k] = hand_q;
        }
    }
    // Spine frames: +Y up, -Z forward (identity).
    std::array::from_fn(|j| SkeletonJoint {
        joint: j,
        parent: parent(j),
        pose: Pose::new(q[j], p[j]),
    })
}

/// A bone frame with +Y along `along` (horizontal) and -Z forward.
fn bone_frame(along: Vec3) -> Quat {
    let y = along.normalize();
    let z = Vec3::Z;
    Quat::from_mat3(&Mat3::from_cols(y.cross(z), y, z))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_form_one_tree_rooted_at_the_root() {
        for j in 0..JOINT_COUNT {
            let mut k = j;
            let mut steps = 0;
            while let Some(p) = parent(k) {
                assert!(p < JOINT_COUNT);
                k = p;
                steps += 1;
                assert!(steps < JOINT_COUNT, "joint {j} is in a cycle");
            }
            assert_eq!(k, 0, "joint {j} does not reach the root");
        }
        // Wrists hang from the wrist twists; fingertips from their distal.
        assert_eq!(parent(19), Some(12));
        assert_eq!(parent(45), Some(17));
        assert_eq!(parent(43), Some(42));
        assert_eq!(parent(24), Some(19)); // left index metacarpal
        assert_eq!(parent(JOINT_COUNT), None);
    }

    #[test]
    fn the_t_pose_keeps_the_bone_lengths() {
        let body = parallax_sdk::body::upper_body(
            Time(1),
            &Pose::from_position(Vec3::new(0.0, 1.7, 0.0)),
            true,
            &[Some(Vec3::new(-0.3, 1.1, -0.3)), None],
        );
        let lengths = bone_lengths(&stage_joints(&body, [None, None]));
        let s = t_pose(&lengths);
        for j in 1..BODY_JOINT_COUNT {
            let p = parent(j).unwrap();
            let d = (s[j].pose.position - s[p].pose.position).length();
            assert!(
                (d - lengths[j]).abs() < 1e-5,
                "joint {j}: {d} vs {}",
                lengths[j]
            );
        }
        // Arms out to the sides at one height, the left along -X.
        let (lw, rw) = (s[12].pose.position, s[17].pose.position);
        assert!(lw.x < -0.6 && rw.x > 0.6 && (lw.y - rw.y).abs() < 1e-5);
        // Default hands where none was seen: fingertips beyond the wrists.
        assert!(s[HAND_BASE[0] + 10].pose.position.x < lw.x - 0.1);
        assert!(s[HAND_BASE[1] + 25].pose.position.x > rw.x + 0.1);
        for j in s.iter() {
            assert!((j.pose.orientation.length() - 1.0).abs() < 1e-5);
        }
        // The left thumb is on the forward side (palm down, arm along -X:
        // the thumb points to -Z).
        assert!(s[HAND_BASE[0] + 5].pose.position.z < s[HAND_BASE[0] + 25].pose.position.z);
        assert!(s[HAND_BASE[1] + 5].pose.position.z < s[HAND_BASE[1] + 25].pose.position.z);
    }
}
