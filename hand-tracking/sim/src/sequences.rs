//! The fixed evaluation sequences: scripted hand motions in front of the
//! simulated headset's cameras (30 Hz), with exact ground truth. They vary
//! hand shapes (open, relaxed, point, fist, and the blends between),
//! palm and back views, skin tone, lighting, background, one or two hands,
//! a hand entering and leaving the view, and partial occlusion by a bar.

use crate::{hand_capsules, Background, Capsule, Scene};
use glam::{Quat, Vec3};
use parallax_driver_simulated::hand::{joint_poses, HandShape};
use parallax_sdk_types::{Hand, Pose, HAND_JOINT_COUNT};
use std::f32::consts::{FRAC_PI_2, PI, TAU};

/// Ground-truth joints of one hand (headset frame) with radii.
pub type Joints = [(Pose, f32); HAND_JOINT_COUNT];

/// One frame of a sequence.
#[derive(Clone, Debug)]
pub struct SeqFrame {
    /// Seconds from the start.
    pub time: f64,
    /// Left, right (`None`: not in the scene).
    pub hands: [Option<Joints>; 2],
    pub scene: Scene,
}

/// A named sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sequence {
    pub name: &'static str,
    pub description: &'static str,
    pub frames: usize,
}

/// Frames per second of the simulated cameras.
pub const RATE: f64 = 30.0;

/// Every sequence, in a fixed order.
pub const SEQUENCES: [Sequence; 4] = [
    Sequence {
        name: "palm-wave",
        description:
            "right palm to the cameras, light skin, waving through open, relaxed and pointing",
        frames: 90,
    },
    Sequence {
        name: "two-backs",
        description:
            "both hands, backs to the cameras, dark skin, checker background, light from above",
        frames: 90,
    },
    Sequence {
        name: "fist-turn",
        description:
            "right hand turning from palm to back while closing to a fist and opening, side light",
        frames: 90,
    },
    Sequence {
        name: "enter-occluded",
        description: "left hand enters from the side, passes behind a bar, leaves the view",
        frames: 90,
    },
];

/// Palm to the cameras, fingers up (`roll` turns it about the view axis).
fn palm_view(at: Vec3, roll: f32) -> Pose {
    Pose::new(
        Quat::from_rotation_z(PI + roll) * Quat::from_rotation_x(-FRAC_PI_2),
        at,
    )
}

/// Back of the hand to the cameras, fingers up and a little forward.
fn back_view(at: Vec3, roll: f32) -> Pose {
    Pose::new(
        Quat::from_rotation_z(roll) * Quat::from_rotation_x(FRAC_PI_2 - 0.3),
        at,
    )
}

/// Cycles open -> relaxed -> point -> relaxed with smooth blends.
fn cycle(t: f32, period: f32) -> HandShape {
    let shapes = [
        HandShape::OPEN,
        HandShape::RELAXED,
        HandShape::POINT,
        HandShape::RELAXED,
    ];
    let u = (t / period).rem_euclid(1.0) * 4.0;
    let i = u.floor() as usize % 4;
    let f = u - u.floor();
    let s = f * f * (3.0 - 2.0 * f);
    shapes[i].lerp(&shapes[(i + 1) % 4], s)
}

/// Frame `i` of `seq`.
pub fn frame(seq: &Sequence, i: usize) -> SeqFrame {
    let t = i as f32 / RATE as f32;
    let mut hands: [Option<Joints>; 2] = [None, None];
    let mut capsules: Vec<Capsule> = Vec::new();
    let (light, ambient, background, skin) = match seq.name {
        "palm-wave" => {
            let w = palm_view(
                Vec3::new(0.03 + 0.06 * (TAU * 0.4 * t).sin(), -0.07, -0.36),
                0.25 * (TAU * 0.4 * t).sin(),
            );
            hands[1] = Some(joint_poses(Hand::Right, w, &cycle(t, 3.0)));
            (
                Vec3::new(0.2, 0.5, 1.0),
                0.35,
                Background::Gradient {
                    top: 0.35,
                    bottom: 0.12,
                },
                [0.78, 0.78],
            )
        }
        "two-backs" => {
            let l = back_view(
                Vec3::new(-0.09 + 0.02 * (TAU * 0.3 * t).sin(), -0.1, -0.38),
                0.3,
            );
            let r = back_view(
                Vec3::new(0.09, -0.1 + 0.02 * (TAU * 0.35 * t).cos(), -0.38),
                -0.3,
            );
            hands[0] = Some(joint_poses(Hand::Left, l, &cycle(t + 1.0, 4.0)));
            hands[1] = Some(joint_poses(Hand::Right, r, &cycle(t, 4.0)));
            (
                Vec3::new(-0.3, 1.0, 0.4),
                0.3,
                Background::Checker {
                    a: 0.12,
                    b: 0.22,
                    size: 0.12,
                },
                [0.42, 0.42],
            )
        }
        "fist-turn" => {
            // Turn about the forearm (the hand's up axis) from palm to back.
            let turn = PI * (0.5 - 0.5 * (TAU * t / 3.0).cos());
            let base = palm_view(Vec3::new(0.04, -0.08, -0.36), 0.0);
            let w = Pose::new(
                base.orientation * Quat::from_rotation_z(turn),
                base.position,
            );
            let close = 0.5 - 0.5 * (TAU * t / 2.0).cos();
            hands[1] = Some(joint_poses(
                Hand::Right,
                w,
                &HandShape::OPEN.lerp(&HandShape::FIST, close),
            ));
            (
                Vec3::new(1.0, 0.3, 0.5),
                0.25,
                Background::Plain(0.16),
                [0.6, 0.6],
            )
        }
        _ => {
            // enter-occluded: from far left (out of view) to far right.
            let x = -0.45 + 0.9 * t / 3.0;
            let w = back_view(Vec3::new(x, -0.09, -0.4), 0.1);
            hands[0] = Some(joint_poses(Hand::Left, w, &HandShape::RELAXED));
            capsules.push(Capsule {
                a: Vec3::new(0.06, -0.4, -0.3),
                ra: 0.012,
                b: Vec3::new(0.06, 0.3, -0.3),
                rb: 0.012,
                albedo: 0.5,
                group: 9,
            });
            (
                Vec3::new(0.2, 0.8, 0.6),
                0.3,
                Background::Gradient {
                    top: 0.3,
                    bottom: 0.1,
                },
                [0.66, 0.66],
            )
        }
    };
    let mut all = Vec::new();
    for (slot, h) in hands.iter().enumerate() {
        if let Some(j) = h {
            all.extend(hand_capsules(j, skin[slot], slot as u32));
        }
    }
    all.extend(capsules);
    SeqFrame {
        time: i as f64 / RATE,
        hands,
        scene: Scene {
            capsules: all,
            light,
            ambient,
            background,
            noise: 0.03,
            seed: i as u32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_deterministic_and_named_uniquely() {
        let mut names: Vec<_> = SEQUENCES.iter().map(|s| s.name).collect();
        names.dedup();
        assert_eq!(names.len(), SEQUENCES.len());
        for s in &SEQUENCES {
            let a = frame(s, 17);
            let b = frame(s, 17);
            assert_eq!(a.scene, b.scene);
            assert!(a.hands.iter().any(Option::is_some), "{}", s.name);
        }
    }
}
