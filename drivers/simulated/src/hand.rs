//! A kinematic hand for the simulated devices: the 26 joints of
//! `XR_EXT_hand_tracking` from a wrist pose and a hand shape, with constant
//! bone lengths. It is the ground truth that hand tracking is measured
//! against (and what the simulated controllers report as hand joints).
//!
//! Frames follow the extension: each joint's +Z points from the joint back
//! towards the wrist (along the bone it starts), +Y out of the back of the
//! hand; the palm and wrist joints use the hand's frame, in which the fingers
//! point along -Z.

use glam::{Quat, Vec3};
use parallax_sdk::types::{Hand, HandJoint, HandJoints, Pose, Time, Velocity, HAND_JOINT_COUNT};

/// How far each finger is curled, 0 (straight) to 1 (fist), thumb first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HandShape {
    pub curl: [f32; 5],
    /// Thumb opposition, 0 (beside the palm) to 1 (turned in front of the
    /// fingers, as for a pinch).
    pub oppose: f32,
}

impl HandShape {
    pub const OPEN: HandShape = HandShape {
        curl: [0.0; 5],
        oppose: 0.0,
    };
    pub const RELAXED: HandShape = HandShape {
        curl: [0.15, 0.2, 0.25, 0.3, 0.35],
        oppose: 0.0,
    };
    pub const FIST: HandShape = HandShape {
        curl: [0.8, 1.0, 1.0, 1.0, 1.0],
        oppose: 0.0,
    };
    /// Thumb and index fingertips touching (the others relaxed).
    pub const PINCH: HandShape = HandShape {
        curl: [0.2, 0.575, 0.3, 0.35, 0.4],
        oppose: 1.0,
    };
    pub const POINT: HandShape = HandShape {
        curl: [0.8, 0.0, 1.0, 1.0, 1.0],
        oppose: 0.0,
    };

    /// Shapes blended: `t` 0 gives `self`, 1 gives `other`.
    pub fn lerp(&self, other: &HandShape, t: f32) -> HandShape {
        let mut curl = [0.0; 5];
        for (i, c) in curl.iter_mut().enumerate() {
            *c = self.curl[i] + (other.curl[i] - self.curl[i]) * t;
        }
        HandShape {
            curl,
            oppose: self.oppose + (other.oppose - self.oppose) * t,
        }
    }
}

/// Bone lengths (metres) of an adult hand, per finger from the thumb:
/// metacarpal, proximal, intermediate, distal (the thumb has no
/// intermediate phalanx: its entry is 0 and its joints skip it).
pub const BONES: [[f32; 4]; 5] = [
    [0.045, 0.032, 0.0, 0.025],
    [0.068, 0.042, 0.025, 0.020],
    [0.065, 0.046, 0.028, 0.021],
    [0.060, 0.043, 0.027, 0.020],
    [0.055, 0.034, 0.020, 0.018],
];

/// Where each metacarpal starts in the right hand's frame (x towards the
/// little finger), and its sideways fan angle (radians about +Y).
const BASES: [(Vec3, f32); 5] = [
    (Vec3::new(-0.022, -0.008, -0.012), 0.75),
    (Vec3::new(-0.018, 0.0, -0.008), 0.1),
    (Vec3::new(0.0, 0.0, -0.008), 0.0),
    (Vec3::new(0.016, 0.0, -0.008), -0.1),
    (Vec3::new(0.030, -0.004, -0.006), -0.2),
];

/// Thumb opposition at full `oppose` (radians): towards the fingers about
/// +Y, then towards the palm about -X.
const OPPOSE: (f32, f32) = (0.8, 0.5);

/// Flexion (radians) at full curl for the joint at the start of each bone.
const FLEX: [[f32; 4]; 5] = [
    [0.4, 0.7, 0.0, 0.9],
    [0.0, 1.4, 1.75, 1.2],
    [0.0, 1.4, 1.75, 1.2],
    [0.0, 1.4, 1.75, 1.2],
    [0.0, 1.4, 1.75, 1.2],
];

/// Joint radii (metres) by kind: metacarpal, proximal, intermediate,
/// distal, tip; the little finger's are 85 % of these.
const RADII: [f32; 5] = [0.012, 0.010, 0.009, 0.008, 0.007];

/// Index of a finger's first joint (its metacarpal) in `XrHandJointEXT`.
fn first_joint(finger: usize) -> usize {
    if finger == 0 {
        2
    } else {
        6 + 5 * (finger - 1)
    }
}

/// Joint poses (no velocities) of a hand whose wrist is at `wrist` (the
/// hand's frame in the tracking space), in the tracking space.
pub fn joint_poses(hand: Hand, wrist: Pose, shape: &HandShape) -> [(Pose, f32); HAND_JOINT_COUNT] {
    // The left hand is the right one mirrored in x.
    let mirror = |v: Vec3| match hand {
        Hand::Right => v,
        Hand::Left => Vec3::new(-v.x, v.y, v.z),
    };
    let side = if hand == Hand::Right { 1.0 } else { -1.0 };
    let mut local = [(Pose::default(), 0f32); HAND_JOINT_COUNT];
    local[1] = (Pose::default(), 0.02); // wrist
    let mut middle_mcp = Vec3::ZERO;
    for finger in 0..5 {
        let (base, fan) = BASES[finger];
        let curl = shape.curl[finger].clamp(0.0, 1.0);
        let mut position = mirror(base);
        // The thumb's metacarpal also turns about its own axis so that it
        // flexes across the palm rather than into it.
        let oppose = shape.oppose.clamp(0.0, 1.0);
        let mut orientation = Quat::from_rotation_y(side * fan)
            * if finger == 0 {
                Quat::from_rotation_y(-side * OPPOSE.0 * oppose)
                    * Quat::from_rotation_x(-OPPOSE.1 * oppose)
                    * Quat::from_rotation_z(side * -0.9)
            } else {
                Quat::IDENTITY
            };
        let scale = if finger == 4 { 0.85 } else { 1.0 };
        let mut joint = first_joint(finger);
        for bone in 0..4 {
            let length = BONES[finger][bone];
            if length == 0.0 {
                continue; // the thumb's missing intermediate phalanx
            }
            // Curling bends each bone towards the palm (-Y): about -X.
            orientation *= Quat::from_rotation_x(-FLEX[finger][bone] * curl);
            let kind = if finger == 0 && bone == 3 { 3 } else { bone };
            local[joint] = (Pose::new(orientation, position), RADII[kind] * scale);
            if finger == 2 && bone == 1 {
                middle_mcp = position;
            }
            position += orientation * Vec3::new(0.0, 0.0, -length);
            joint += 1;
        }
        local[joint] = (Pose::new(orientation, position), RADII[4] * scale); // tip
    }
    // Palm: the middle of the middle finger's metacarpal (as the extension
    // defines it), in the hand's orientation.
    local[0] = (
        Pose::from_position((mirror(BASES[2].0) + middle_mcp) / 2.0),
        0.025,
    );
    local.map(|(p, r)| (wrist.mul(&p), r))
}

/// The 26 joints with velocities (from the shape and wrist at `at` and
/// 1 ms later), as a device reports them.
pub fn joints(hand: Hand, at: Time, pose_at: impl Fn(Time) -> (Pose, HandShape)) -> HandJoints {
    const DT: f32 = 1e-3;
    let (wrist0, shape0) = pose_at(at);
    let (wrist1, shape1) = pose_at(Time(at.0 + (DT * 1e9) as i64));
    let a = joint_poses(hand, wrist0, &shape0);
    let b = joint_poses(hand, wrist1, &shape1);
    let mut out = HandJoints {
        time: at,
        active: true,
        ..Default::default()
    };
    for (k, j) in out.joints.iter_mut().enumerate() {
        let (p0, radius) = a[k];
        let p1 = b[k].0;
        let dq = p1.orientation * p0.orientation.inverse();
        let (axis, angle) = dq.to_axis_angle();
        *j = HandJoint {
            pose: p0,
            radius,
            velocity: Velocity {
                linear: (p1.position - p0.position) / DT,
                angular: axis * angle / DT,
            },
            pose_valid: true,
            pose_tracked: true,
            velocity_valid: true,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_origin(hand: Hand, shape: &HandShape) -> [(Pose, f32); HAND_JOINT_COUNT] {
        joint_poses(hand, Pose::default(), shape)
    }

    #[test]
    fn bones_keep_their_lengths_whatever_the_shape() {
        for shape in [
            HandShape::OPEN,
            HandShape::RELAXED,
            HandShape::FIST,
            HandShape::POINT,
        ] {
            let j = at_origin(Hand::Right, &shape);
            for (finger, bones) in BONES.iter().enumerate() {
                let lengths: Vec<f32> = bones.iter().copied().filter(|l| *l > 0.0).collect();
                let first = first_joint(finger);
                for (b, len) in lengths.iter().enumerate() {
                    let d = j[first + b + 1]
                        .0
                        .position
                        .distance(j[first + b].0.position);
                    assert!(
                        (d - len).abs() < 1e-5,
                        "finger {finger} bone {b}: {d} vs {len}"
                    );
                }
            }
        }
    }

    #[test]
    fn joint_z_points_back_to_the_wrist_and_y_out_of_the_back_of_an_open_hand() {
        let j = at_origin(Hand::Right, &HandShape::OPEN);
        let wrist = j[1].0.position;
        for (k, (p, _)) in j.iter().enumerate().skip(2) {
            let z = p.orientation * Vec3::Z;
            assert!(
                z.dot(wrist - p.position) > 0.0,
                "joint {k}: +Z points away from the wrist"
            );
        }
        // Fingers (not the thumb) of an open hand: +Y is the back of the hand.
        for (k, (p, _)) in j.iter().enumerate().skip(6) {
            assert!((p.orientation * Vec3::Y).y > 0.9, "joint {k}");
        }
        // Palm between wrist and middle knuckle, fingers ahead (-Z).
        assert!(j[0].0.position.z < 0.0 && j[0].0.position.z > j[12].0.position.z);
        assert!(
            j[15].0.position.z < -0.15,
            "middle tip {:?}",
            j[15].0.position
        );
    }

    #[test]
    fn a_fist_brings_the_tips_in_and_left_mirrors_right() {
        let open = at_origin(Hand::Right, &HandShape::OPEN);
        let fist = at_origin(Hand::Right, &HandShape::FIST);
        for tip in [10, 15, 20, 25] {
            assert!(
                fist[tip].0.position.length() < open[tip].0.position.length() - 0.05,
                "tip {tip}"
            );
        }
        let left = at_origin(Hand::Left, &HandShape::RELAXED);
        let right = at_origin(Hand::Right, &HandShape::RELAXED);
        for k in 0..HAND_JOINT_COUNT {
            let (l, r) = (left[k].0.position, right[k].0.position);
            assert!((l - Vec3::new(-r.x, r.y, r.z)).length() < 1e-5, "joint {k}");
        }
        // The index finger is on the thumb's side: -x for the right hand.
        assert!(right[7].0.position.x < right[22].0.position.x);
    }

    #[test]
    fn velocities_follow_the_motion() {
        let moving = |t: Time| {
            let s = t.as_secs_f64() as f32;
            (
                Pose::new(Quat::from_rotation_y(0.5 * s), Vec3::new(0.2 * s, 1.0, 0.0)),
                HandShape::RELAXED,
            )
        };
        let j = joints(Hand::Left, Time(1_000_000_000), moving);
        assert!(j.active);
        // The wrist moves at 0.2 m/s along x and turns at 0.5 rad/s about y.
        let w = j.joints[1].velocity;
        assert!(
            (w.linear - Vec3::new(0.2, 0.0, 0.0)).length() < 1e-3,
            "{:?}",
            w.linear
        );
        assert!(
            (w.angular - Vec3::new(0.0, 0.5, 0.0)).length() < 1e-2,
            "{:?}",
            w.angular
        );
        assert!(j.joints.iter().all(|x| x.velocity_valid && x.radius > 0.0));
    }

    #[test]
    fn pinch_brings_thumb_and_index_tips_together() {
        // Surface gap between the thumb tip (5) and the index tip (10).
        let gap = |shape: &HandShape, hand| {
            let j = joint_poses(hand, Pose::default(), shape);
            (j[5].0.position - j[10].0.position).length() - j[5].1 - j[10].1
        };
        for hand in [Hand::Left, Hand::Right] {
            assert!(gap(&HandShape::PINCH, hand).abs() < 0.003);
            assert!(gap(&HandShape::RELAXED, hand) > 0.06);
            assert!(gap(&HandShape::OPEN, hand) > 0.06);
        }
        // Blending towards the pinch closes the gap steadily.
        let mut last = f32::MAX;
        for k in 0..=10 {
            let g = gap(
                &HandShape::RELAXED.lerp(&HandShape::PINCH, k as f32 / 10.0),
                Hand::Right,
            );
            assert!(g < last, "step {k}");
            last = g;
        }
    }
}
