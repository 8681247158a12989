//! The body under a codec avatar's face: a simple figure of capsules (neck,
//! torso, upper arms, forearms, hands) posed from what the packet carries,
//! the head and hand poses. No open body model is at hand, and a figure
//! that follows the participant's real head and hands already says who is
//! talking to whom and who points where.
//!
//! The joints are the SDK's upper-body estimate from head and hands (the
//! body the simulated headset reports to apps): the torso hangs below the
//! head, turned with the head's yaw only (a head tilt does not tilt the
//! chest); the arms reach the hands with two-bone inverse kinematics
//! (upper arm 0.30 m, forearm 0.28 m), elbows bending down and out; an
//! untracked hand hangs at the side. Vertices are in the stage (the
//! figure's pose is the identity), normals analytic.

use crate::packet::Pose;
use crate::shading::ShadedVertex;
#[cfg(test)]
use glam::Quat;
use glam::Vec3;
#[cfg(test)]
use parallax_sdk::body::{FOREARM, UPPER_ARM};
/// Segments around each capsule and rings per hemisphere.
const AROUND: usize = 12;
const CAP_RINGS: usize = 3;
const SHIRT: [u8; 4] = [28, 52, 96, 255];
const SKIN: [u8; 4] = [171, 102, 77, 255];

/// The capsules, in build order: (name, colour, start radius, end radius).
const PARTS: [(&str, [u8; 4], f32, f32); 8] = [
    ("neck", SKIN, 0.055, 0.06),
    ("torso", SHIRT, 0.17, 0.14),
    ("upper_arm_left", SHIRT, 0.055, 0.048),
    ("forearm_left", SKIN, 0.042, 0.034),
    ("hand_left", SKIN, 0.045, 0.04),
    ("upper_arm_right", SHIRT, 0.055, 0.048),
    ("forearm_right", SKIN, 0.042, 0.034),
    ("hand_right", SKIN, 0.045, 0.04),
];

/// The joint positions of a posed figure (stage, metres).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Skeleton {
    pub neck: Vec3,
    pub chest: Vec3,
    pub hips: Vec3,
    /// Left, right.
    pub shoulders: [Vec3; 2],
    pub elbows: [Vec3; 2],
    pub wrists: [Vec3; 2],
    pub hand_tips: [Vec3; 2],
}

/// Where the body's joints are for a head (`stage_from_head`, OpenXR's
/// convention: looking down -Z) and hand grip poses: the SDK's upper-body
/// estimate ([`parallax_sdk::body::upper_body`], the body the simulated
/// headset reports for its wearer), with each wrist 6 cm behind its grip
/// and the hand's tip 5 cm ahead of it (hanging 11 cm below an untracked
/// wrist).
pub fn skeleton(head: &Pose, hands: &[Option<Pose>; 2]) -> Skeleton {
    use parallax_sdk::body::{joint, upper_body};
    let hands = hands.map(|h| h.filter(|h| h.position.is_finite() && h.orientation.is_finite()));
    let wrists = hands
        .map(|h| h.map(|h| h.position + h.orientation.normalize() * Vec3::new(0.0, 0.0, 0.06)));
    let body = upper_body(
        parallax_sdk::types::Time(0),
        &parallax_sdk::types::Pose::new(head.orientation, head.position),
        true,
        &wrists,
    );
    let at = |j: usize| body.joints[j].pose.position;
    let arm = |k: usize| [0, 1].map(|i| at(joint::ARM[i] + k));
    let wrist = arm(joint::WRIST_TWIST);
    Skeleton {
        neck: at(joint::NECK),
        chest: at(joint::CHEST),
        hips: at(joint::HIPS),
        shoulders: arm(joint::ARM_UPPER),
        elbows: arm(joint::ARM_LOWER),
        wrists: wrist,
        hand_tips: [0, 1].map(|i| match hands[i] {
            Some(h) => h.position + h.orientation.normalize() * Vec3::new(0.0, 0.0, -0.05),
            None => wrist[i] + Vec3::new(0.0, -0.11, 0.0),
        }),
    }
}

/// The figure's fixed triangles and its vertices for a pose.
pub struct BodyFigure {
    pub triangles: Vec<[u32; 3]>,
    pub vertex_count: usize,
}

impl Default for BodyFigure {
    fn default() -> Self {
        Self::new()
    }
}

/// Vertices of one capsule.
fn capsule_len() -> usize {
    AROUND * (2 * CAP_RINGS + 2)
}

impl BodyFigure {
    pub fn new() -> BodyFigure {
        let per = capsule_len();
        let rings = 2 * CAP_RINGS + 2;
        let mut triangles = Vec::new();
        for part in 0..PARTS.len() {
            let base = (part * per) as u32;
            for r in 0..rings - 1 {
                for k in 0..AROUND {
                    let a = base + (r * AROUND + k) as u32;
                    let b = base + (r * AROUND + (k + 1) % AROUND) as u32;
                    let c = a + AROUND as u32;
                    let d = b + AROUND as u32;
                    triangles.push([a, b, d]);
                    triangles.push([a, d, c]);
                }
            }
        }
        BodyFigure {
            triangles,
            vertex_count: per * PARTS.len(),
        }
    }

    /// The posed figure's vertices (stage coordinates) into `out`.
    pub fn pose(&self, s: &Skeleton, out: &mut Vec<ShadedVertex>) {
        out.clear();
        let segments = [
            (s.neck + Vec3::new(0.0, 0.08, 0.0), s.chest),
            (s.chest, s.hips),
            (s.shoulders[0], s.elbows[0]),
            (s.elbows[0], s.wrists[0]),
            (s.wrists[0], s.hand_tips[0]),
            (s.shoulders[1], s.elbows[1]),
            (s.elbows[1], s.wrists[1]),
            (s.wrists[1], s.hand_tips[1]),
        ];
        for ((a, b), (_, color, ra, rb)) in segments.into_iter().zip(PARTS) {
            capsule(a, b, ra, rb, color, out);
        }
    }
}

/// A capsule from `a` to `b`: a hemisphere at each end and the tapered
/// side between them, as rings of `AROUND` vertices from `a` to `b`.
fn capsule(a: Vec3, b: Vec3, ra: f32, rb: f32, color: [u8; 4], out: &mut Vec<ShadedVertex>) {
    let axis = (b - a).normalize_or(Vec3::Y);
    let side = axis.any_orthonormal_vector();
    let up = axis.cross(side);
    let mut ring = |centre: Vec3, radius: f32, along: f32| {
        // `along`: the normal's component along the axis (-1 at a's tip).
        let across = (1.0 - along * along).max(0.0).sqrt();
        for k in 0..AROUND {
            let t = k as f32 / AROUND as f32 * std::f32::consts::TAU;
            let radial = side * t.cos() + up * t.sin();
            let n = (radial * across + axis * along).normalize_or(radial);
            out.push(ShadedVertex {
                position: (centre + n * radius).to_array(),
                normal: n.to_array(),
                color,
            });
        }
    };
    // From the tip at a (normal -axis) round to the side, along, and round
    // to the tip at b.
    for r in 0..=CAP_RINGS {
        let phi = (1.0 - r as f32 / CAP_RINGS as f32) * std::f32::consts::FRAC_PI_2;
        ring(a, ra, -phi.sin());
    }
    for r in 0..=CAP_RINGS {
        let phi = r as f32 / CAP_RINGS as f32 * std::f32::consts::FRAC_PI_2;
        ring(b, rb, phi.sin());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> Pose {
        Pose {
            position: Vec3::new(0.3, 1.6, -1.0),
            orientation: Quat::from_rotation_y(0.4),
        }
    }

    #[test]
    fn arms_keep_their_length_and_reach_the_hands() {
        let hand = |x: f32| Pose {
            position: Vec3::new(x, 1.2, -0.7),
            orientation: Quat::IDENTITY,
        };
        for hands in [[None, None], [Some(hand(0.1)), Some(hand(0.5))]] {
            let s = skeleton(&head(), &hands);
            for (i, hand) in hands.iter().enumerate() {
                let up = (s.elbows[i] - s.shoulders[i]).length();
                let fore = (s.wrists[i] - s.elbows[i]).length();
                assert!((up - UPPER_ARM).abs() < 1e-4, "upper arm {up}");
                assert!((fore - FOREARM).abs() < 1e-4, "forearm {fore}");
                // Elbows bend down, not up.
                assert!(s.elbows[i].y < s.shoulders[i].y);
                if let Some(h) = hand {
                    // Within reach, the wrist is 6 cm behind the grip.
                    let want = h.position + Vec3::new(0.0, 0.0, 0.06);
                    assert!((s.wrists[i] - want).length() < 1e-4);
                }
            }
            // The left shoulder is on the figure's left (its -X turned by
            // the head's yaw).
            let right = Quat::from_rotation_y(0.4) * Vec3::X;
            assert!((s.shoulders[1] - s.shoulders[0]).dot(right) > 0.3);
        }
        // Out of reach: the arm is straight towards the hand.
        let far = [None, Some(hand(3.0))];
        let s = skeleton(&head(), &far);
        let d = (s.wrists[1] - s.shoulders[1]).length();
        assert!((d - (UPPER_ARM + FOREARM) * 0.999).abs() < 1e-3);
    }

    #[test]
    fn the_figure_is_closed_capsules_with_outward_normals() {
        let f = BodyFigure::new();
        let s = skeleton(&head(), &[None, None]);
        let mut v = Vec::new();
        f.pose(&s, &mut v);
        assert_eq!(v.len(), f.vertex_count);
        assert!(f
            .triangles
            .iter()
            .flatten()
            .all(|&i| (i as usize) < v.len()));
        assert!(v.iter().all(|x| Vec3::from_array(x.position).is_finite()));
        // Normals point away from the torso's axis on its side.
        let torso = capsule_len();
        let mid = &v[torso + (CAP_RINGS + 1) * AROUND];
        let p = Vec3::from_array(mid.position);
        let n = Vec3::from_array(mid.normal);
        let axis_point = Vec3::new(s.chest.x, p.y, s.chest.z);
        assert!(n.dot(p - axis_point) > 0.0);
    }
}
