//! `XR_EXT_hand_tracking`: hand trackers and the 26 joints of each hand,
//! from whichever device tracks that hand (a controller or glove held in it,
//! else the headset's cameras), in any space; and the two ranges of motion
//! of `XR_EXT_hand_joints_motion_range`.
//!
//! Drivers report the unobstructed hand (what the extension requires by
//! default). When the hand holds a controller and the app asks for the range
//! that conforms to it, the runtime opens each finger just enough to wrap a
//! controller's handle instead of closing through it ([`conform_to_handle`]).

use crate::error::{Error, Result};
use crate::handles::{self, Kind, Raw};
use crate::session::Session;
use crate::space::{relate, Space, StagePose};
use glam::{Quat, Vec3};
use openxr_sys as xr;
use parallax_sdk::types::{Hand, HandJoint, Pose, Time, Velocity, HAND_JOINT_COUNT};
use std::sync::Arc;

/// An `XrHandTrackerEXT`.
pub struct HandTracker {
    pub session: Arc<Session>,
    pub hand: Hand,
}

/// `XrHandJointsMotionRangeEXT`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum MotionRange {
    /// The hand as it would move with nothing in it (the default).
    #[default]
    Unobstructed,
    /// The hand around the controller it holds.
    ConformingToController,
}

/// One located joint (`XrHandJointLocationEXT` + `XrHandJointVelocityEXT`).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct JointLocation {
    pub pose: Pose,
    pub radius: f32,
    pub flags: xr::SpaceLocationFlags,
    pub velocity: Velocity,
    pub velocity_flags: xr::SpaceVelocityFlags,
}

/// What `xrLocateHandJointsEXT` returns.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct HandLocation {
    pub active: bool,
    pub joints: [JointLocation; HAND_JOINT_COUNT],
}

impl HandLocation {
    fn inactive() -> Self {
        Self {
            active: false,
            joints: [JointLocation::default(); HAND_JOINT_COUNT],
        }
    }
}

/// `xrCreateHandTrackerEXT` (the enums are checked by the caller).
pub fn create(session: &Arc<Session>, hand: Hand) -> Result<Raw> {
    if !session.hub.supports_hand_tracking() {
        return Err(Error::feature_unsupported(
            "no device of this system tracks hands (supportsHandTracking is false)",
        ));
    }
    let tracker = Arc::new(HandTracker {
        session: session.clone(),
        hand,
    });
    Ok(handles::insert(
        Kind::HandTracker,
        session.handle(),
        tracker,
    ))
}

/// `xrLocateHandJointsEXT`: the joints in `base` at `t`. The hand is
/// inactive (no joint located) when no device tracks it, when the session
/// does not have input focus, or when `base` cannot be located.
pub fn locate(
    tracker: &HandTracker,
    base: &Space,
    t: Time,
    range: MotionRange,
) -> Result<HandLocation> {
    if t.0 <= 0 {
        return Err(Error::time_invalid(format!(
            "time {} is not a valid XrTime",
            t.0
        )));
    }
    if !Arc::ptr_eq(&tracker.session, &base.session) {
        return Err(Error::validation(
            "handTracker and baseSpace belong to different sessions",
        ));
    }
    if !tracker.session.is_focused() {
        return Ok(HandLocation::inactive());
    }
    let Some(sample) = tracker.session.hub.hand_joints(tracker.hand, t) else {
        return Ok(HandLocation::inactive());
    };
    let Some(base) = base.in_stage(t) else {
        return Ok(HandLocation::inactive());
    };
    let mut joints = sample.joints.joints;
    if range == MotionRange::ConformingToController && sample.held_controller {
        conform_to_handle(&mut joints);
    }
    let mut out = HandLocation {
        active: true,
        joints: [JointLocation::default(); HAND_JOINT_COUNT],
    };
    for (o, j) in out.joints.iter_mut().zip(&joints) {
        let l = relate(
            &base,
            &StagePose {
                pose: j.pose,
                velocity: j.velocity,
                tracked: j.pose_tracked,
            },
        );
        *o = JointLocation {
            pose: l.pose,
            radius: j.radius,
            flags: l.flags,
            velocity: l.velocity,
            velocity_flags: if j.velocity_valid {
                l.velocity_flags
            } else {
                xr::SpaceVelocityFlags::EMPTY
            },
        };
    }
    Ok(out)
}

/// Radius of the handle a conforming hand wraps (a 3.6 cm grip, the size of
/// common VR controllers' handles).
pub const HANDLE_RADIUS: f32 = 0.018;
/// Thickness of the palm's soft tissue between the metacarpals and the
/// handle.
const PALM_PAD: f32 = 0.015;

/// Where the handle's axis is in the wrist's frame (fingers along -Z, +Y
/// out of the back of the hand): across the palm (along X), in front of it,
/// level with the outer part of the metacarpals.
fn handle_in_wrist(joints: &[HandJoint; HAND_JOINT_COUNT]) -> Vec3 {
    let wrist = joints[1].pose;
    let metacarpal = (joints[12].pose.position - wrist.position).length();
    Vec3::new(0.0, -(PALM_PAD + HANDLE_RADIUS), -0.8 * metacarpal)
}

/// Opens the four fingers of an unobstructed hand just enough that no
/// finger joint enters the handle of a held controller: each finger's
/// flexion (at the knuckle and both finger joints, scaled together) is the
/// largest fraction of the driver's that keeps every joint's sphere outside
/// the handle. Bone lengths stay as they were. The thumb rests on the
/// controller's face, not around the handle, and is left as reported.
/// The moved joints get the hand's rigid motion as their velocity.
pub fn conform_to_handle(joints: &mut [HandJoint; HAND_JOINT_COUNT]) {
    let wrist = joints[1].pose;
    let axis_point = wrist.transform_point(handle_in_wrist(joints));
    let axis_dir = wrist.orientation * Vec3::X;
    let inside = |p: Vec3, r: f32| {
        let d = p - axis_point;
        (d - axis_dir * d.dot(axis_dir)).length() < HANDLE_RADIUS + r
    };
    for finger in 0..4 {
        let m = 6 + 5 * finger; // metacarpal; m+1 proximal .. m+4 tip
        let q: [Quat; 5] = std::array::from_fn(|k| joints[m + k].pose.orientation);
        let p: [Vec3; 5] = std::array::from_fn(|k| joints[m + k].pose.position);
        // Each joint's turn from its parent, and each bone in its joint's frame.
        let rel: [Quat; 5] = std::array::from_fn(|k| {
            if k == 0 {
                Quat::IDENTITY
            } else {
                q[k - 1].inverse() * q[k]
            }
        });
        let bone: [Vec3; 4] = std::array::from_fn(|k| q[k].inverse() * (p[k + 1] - p[k]));
        let pose_at = |s: f32| -> [(Quat, Vec3); 5] {
            let mut out = [(q[0], p[0]); 5];
            out[1].1 = p[1];
            for k in 1..5 {
                let turn = if k == 4 {
                    rel[4] // the tip has no joint of its own
                } else {
                    Quat::IDENTITY.slerp(rel[k], s)
                };
                out[k].0 = out[k - 1].0 * turn;
                if k > 1 {
                    out[k].1 = out[k - 1].1 + out[k - 1].0 * bone[k - 1];
                }
            }
            out
        };
        let clear = |s: f32| {
            pose_at(s)
                .iter()
                .enumerate()
                .skip(2)
                .all(|(k, (_, pos))| !inside(*pos, joints[m + k].radius))
        };
        if clear(1.0) {
            continue;
        }
        // Bisection on the flexion fraction: opening the finger moves it
        // out of the handle (a straight finger passes in front of it).
        let (mut lo, mut hi) = (0.0f32, 1.0f32);
        for _ in 0..24 {
            let mid = 0.5 * (lo + hi);
            if clear(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let posed = pose_at(lo);
        let hand_v = joints[m].velocity;
        for (k, (o, pos)) in posed.iter().enumerate().skip(1) {
            let j = &mut joints[m + k];
            j.pose = Pose::new(o.normalize(), *pos);
            j.velocity = Velocity {
                linear: hand_v.linear + hand_v.angular.cross(*pos - p[0]),
                angular: hand_v.angular,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_driver_simulated::hand::{joint_poses, HandShape};

    fn hand(shape: &HandShape, h: Hand) -> [HandJoint; HAND_JOINT_COUNT] {
        let wrist = Pose::new(
            Quat::from_rotation_y(0.4) * Quat::from_rotation_x(-0.3),
            Vec3::new(0.1, 1.2, -0.3),
        );
        joint_poses(h, wrist, shape).map(|(pose, radius)| HandJoint {
            pose,
            radius,
            pose_valid: true,
            pose_tracked: true,
            ..Default::default()
        })
    }

    fn handle_distance(j: &[HandJoint; HAND_JOINT_COUNT], i: usize) -> f32 {
        let wrist = j[1].pose;
        let local = wrist.inverse().transform_point(j[i].pose.position);
        let c = handle_in_wrist(j);
        Vec3::new(0.0, local.y - c.y, local.z - c.z).length()
    }

    #[test]
    fn an_open_hand_is_left_alone() {
        let open = hand(&HandShape::OPEN, Hand::Right);
        let mut conformed = open;
        conform_to_handle(&mut conformed);
        assert_eq!(open, conformed);
    }

    #[test]
    fn a_fist_wraps_the_handle_with_constant_bones() {
        for h in [Hand::Left, Hand::Right] {
            let fist = hand(&HandShape::FIST, h);
            let mut conformed = fist;
            conform_to_handle(&mut conformed);
            for finger in 0..4 {
                let tip = 10 + 5 * finger;
                // The fist closes through the handle; the conformed hand does not.
                assert!(
                    handle_distance(&fist, tip) < HANDLE_RADIUS + fist[tip].radius,
                    "{h:?} finger {finger}: fist tip {}",
                    handle_distance(&fist, tip)
                );
                for i in tip - 2..=tip {
                    let d = handle_distance(&conformed, i);
                    assert!(
                        d >= HANDLE_RADIUS + conformed[i].radius - 1e-4,
                        "{h:?} joint {i} at {d}"
                    );
                }
                // ... but it still wraps it: the tip is within 2 cm of its surface.
                let d = handle_distance(&conformed, tip) - HANDLE_RADIUS;
                assert!(d < 0.02, "{h:?} finger {finger}: tip {d} m off the handle");
                for k in tip - 3..tip {
                    let before = (fist[k + 1].pose.position - fist[k].pose.position).length();
                    let after =
                        (conformed[k + 1].pose.position - conformed[k].pose.position).length();
                    assert!(
                        (before - after).abs() < 1e-5,
                        "bone {k}: {before} -> {after}"
                    );
                }
            }
            // Palm, wrist and thumb are untouched.
            assert_eq!(&fist[..6], &conformed[..6]);
        }
    }
}
