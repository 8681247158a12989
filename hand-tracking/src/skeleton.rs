//! From MediaPipe's 21 landmarks (triangulated to 3D) to the 26 joints of
//! `XR_EXT_hand_tracking`: a skeleton with constant bone lengths per user,
//! the joints MediaPipe does not output (palm, the four finger metacarpal
//! bases) derived from the hand's frame, joint orientations by the
//! extension's conventions (+Z from the joint back towards the wrist, +Y out
//! of the back of the hand) and radii scaled to the hand's size.

use glam::{Mat3, Quat, Vec3};
use parallax_sdk_types::{Hand, Pose, HAND_JOINT_COUNT};

/// MediaPipe's landmarks: wrist, then thumb CMC, MCP, IP, tip, then per
/// finger MCP, PIP, DIP, tip.
pub const NUM_LANDMARKS: usize = 21;

/// The landmark each `XrHandJointEXT` is measured by (`None`: derived).
pub const LANDMARK_OF_JOINT: [Option<usize>; HAND_JOINT_COUNT] = {
    let mut m = [None; HAND_JOINT_COUNT];
    m[1] = Some(0); // wrist
    let mut k = 0;
    while k < 4 {
        m[2 + k] = Some(1 + k); // thumb metacarpal (CMC) .. tip
        k += 1;
    }
    let mut f = 0;
    while f < 4 {
        let mut k = 0;
        while k < 4 {
            // proximal (MCP), intermediate (PIP), distal (DIP), tip
            m[7 + 5 * f + k] = Some(5 + 4 * f + k);
            k += 1;
        }
        f += 1;
    }
    m
};

/// Bones: (parent joint, child joint), parents before children. The four
/// finger metacarpal bases hang off the wrist through the hand's frame.
const BONES: [(usize, usize); 24] = [
    (1, 2),
    (2, 3),
    (3, 4),
    (4, 5),
    (6, 7),
    (7, 8),
    (8, 9),
    (9, 10),
    (11, 12),
    (12, 13),
    (13, 14),
    (14, 15),
    (16, 17),
    (17, 18),
    (18, 19),
    (19, 20),
    (21, 22),
    (22, 23),
    (23, 24),
    (24, 25),
    // Metacarpal bases from the wrist (derived, kept for constant lengths).
    (1, 6),
    (1, 11),
    (1, 16),
    (1, 21),
];

/// Where a finger's metacarpal base sits, as fractions of its knuckle's
/// position in the hand's frame (sideways, up, along): the carpometacarpal
/// joints are bunched at the wrist, about half as far apart as the knuckles
/// and a tenth of the way to them (adult anatomy).
const BASE_FROM_KNUCKLE: Vec3 = Vec3::new(0.55, 0.55, 0.11);

/// Joint radii (metres) of an adult hand whose wrist-to-middle-knuckle
/// distance is [`REFERENCE_PALM`]: metacarpal, proximal, intermediate,
/// distal, tip; palm and wrist.
const RADII: [f32; 5] = [0.012, 0.010, 0.009, 0.008, 0.007];
const REFERENCE_PALM: f32 = 0.073;

/// Frames whose bone lengths are averaged before the lengths are frozen.
pub const CALIBRATION_FRAMES: u32 = 30;

/// Which hand 21 landmarks (metres) are, from their shape alone: fingers
/// and thumb bend towards the palm, and the palm is on opposite sides of
/// the knuckle line for the two hands. Positive for a right hand, negative
/// for a left, near zero for a flat hand (whose mirror image is the other
/// hand seen from the other side; nothing in the geometry tells them apart).
/// The value is the mean curl of the five tips towards the palm, metres.
pub fn chirality(p: &[Vec3; NUM_LANDMARKS]) -> f32 {
    let z = (p[0] - p[9]).normalize_or(Vec3::Z);
    let across = p[17] - p[5];
    let x = (across - z * across.dot(z)).normalize_or(Vec3::X);
    // For a right hand y is the back of the hand, for a left the palm.
    let y = z.cross(x);
    let tips = [(4, 2), (8, 5), (12, 9), (16, 13), (20, 17)];
    -tips
        .iter()
        .map(|(t, b)| (p[*t] - p[*b]).dot(y))
        .sum::<f32>()
        / 5.0
}

/// One fitted joint.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FittedJoint {
    pub pose: Pose,
    pub radius: f32,
}

/// Fits landmarks to a skeleton whose bone lengths are learnt over the
/// first [`CALIBRATION_FRAMES`] frames of a user's hand and then held.
#[derive(Clone, Debug)]
pub struct SkeletonFit {
    pub hand: Hand,
    sums: [f32; BONES.len()],
    frames: u32,
}

impl SkeletonFit {
    pub fn new(hand: Hand) -> Self {
        Self {
            hand,
            sums: [0.0; BONES.len()],
            frames: 0,
        }
    }

    /// Whether the bone lengths are frozen.
    pub fn calibrated(&self) -> bool {
        self.frames >= CALIBRATION_FRAMES
    }

    /// The bone lengths in use (the running mean while calibrating).
    pub fn lengths(&self) -> [f32; BONES.len()] {
        let n = self.frames.clamp(1, CALIBRATION_FRAMES) as f32;
        self.sums.map(|s| s / n)
    }

    /// The hand's frame (wrist origin, fingers along -Z, +Y out of the back
    /// of the hand) from the wrist and the index and little knuckles.
    fn hand_frame(&self, p: &[Vec3; NUM_LANDMARKS]) -> Quat {
        let side = if self.hand == Hand::Right { 1.0 } else { -1.0 };
        let z = (p[0] - p[9]).normalize_or(Vec3::Z);
        let across = (p[17] - p[5]) * side;
        let x = (across - z * across.dot(z)).normalize_or(Vec3::X);
        let y = z.cross(x);
        Quat::from_mat3(&Mat3::from_cols(x, y, z)).normalize()
    }

    /// The 26 joints for 21 landmarks (metres, any frame). Lengths learnt so
    /// far are used; each bone keeps its observed direction.
    pub fn fit(&mut self, landmarks: &[Vec3; NUM_LANDMARKS]) -> [FittedJoint; HAND_JOINT_COUNT] {
        let frame = self.hand_frame(landmarks);
        let wrist = landmarks[0];
        // Observed (and derived) positions.
        let mut obs = [Vec3::ZERO; HAND_JOINT_COUNT];
        for (j, l) in LANDMARK_OF_JOINT.iter().enumerate() {
            if let Some(l) = l {
                obs[j] = landmarks[*l];
            }
        }
        for m in [6, 11, 16, 21] {
            let knuckle = frame.inverse() * (obs[m + 1] - wrist);
            obs[m] = wrist + frame * (knuckle * BASE_FROM_KNUCKLE);
        }
        if !self.calibrated() {
            for (s, (a, b)) in self.sums.iter_mut().zip(BONES) {
                *s += (obs[b] - obs[a]).length();
            }
            self.frames += 1;
        }
        let lengths = self.lengths();
        // Re-place each child at its bone's length along the observed direction.
        let mut pos = obs;
        // Metacarpal bases first (they parent the fingers).
        for (i, (a, b)) in BONES.iter().enumerate().rev().take(4) {
            pos[*b] = pos[*a] + (obs[*b] - obs[*a]).normalize_or(Vec3::NEG_Z) * lengths[i];
        }
        for (i, (a, b)) in BONES.iter().enumerate().take(20) {
            pos[*b] = pos[*a] + (obs[*b] - obs[*a]).normalize_or(Vec3::NEG_Z) * lengths[i];
        }
        // Palm: the middle of the middle finger's metacarpal.
        pos[0] = (pos[11] + pos[12]) / 2.0;

        let side = if self.hand == Hand::Right { 1.0 } else { -1.0 };
        let hand_x = frame * Vec3::X;
        // The thumb flexes about an axis turned across the palm.
        let thumb_x = frame
            * (Quat::from_rotation_y(side * 0.75) * Quat::from_rotation_z(side * -0.9))
            * Vec3::X;
        // Radii scale with the hand: wrist to middle knuckle.
        let scale = (pos[12] - pos[1]).length() / REFERENCE_PALM;
        let mut out = [FittedJoint::default(); HAND_JOINT_COUNT];
        out[0] = FittedJoint {
            pose: Pose::new(frame, pos[0]),
            radius: 0.025 * scale,
        };
        out[1] = FittedJoint {
            pose: Pose::new(frame, pos[1]),
            radius: 0.02 * scale,
        };
        for finger in 0..5 {
            let first = if finger == 0 { 2 } else { 6 + 5 * (finger - 1) };
            let count = if finger == 0 { 4 } else { 5 };
            let lateral = if finger == 0 { thumb_x } else { hand_x };
            let little = if finger == 4 { 0.85 } else { 1.0 };
            for k in 0..count {
                let j = first + k;
                // The tip takes its bone's direction (the distal's).
                let (from, to) = if k + 1 < count {
                    (j, j + 1)
                } else {
                    (j - 1, j)
                };
                let z = (pos[from] - pos[to]).normalize_or(frame * Vec3::Z);
                let x = (lateral - z * lateral.dot(z)).normalize_or(hand_x);
                let y = z.cross(x);
                let kind = if finger == 0 { [0, 1, 3, 4][k] } else { k };
                out[j] = FittedJoint {
                    pose: Pose::new(
                        Quat::from_mat3(&Mat3::from_cols(x, y, z)).normalize(),
                        pos[j],
                    ),
                    radius: RADII[kind] * little * scale,
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stereo::{triangulate_pixels, Camera};
    use glam::Vec2;
    use parallax_driver_simulated::camera_infos;
    use parallax_driver_simulated::hand::{joint_poses, HandShape};

    fn noise(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    /// Ground truth landmarks of the simulated hand seen by both simulated
    /// cameras with `px` pixels of noise, triangulated back to 3D.
    fn observe(truth: &[(Pose, f32); HAND_JOINT_COUNT], px: f32, seed: &mut u64) -> [Vec3; 21] {
        let cams: Vec<Camera> = camera_infos().iter().map(Camera::from).collect();
        let refs: Vec<&Camera> = cams.iter().collect();
        let mut out = [Vec3::ZERO; 21];
        for (j, l) in LANDMARK_OF_JOINT.iter().enumerate() {
            if let Some(l) = l {
                let pixels: Vec<Vec2> = cams
                    .iter()
                    .map(|c| {
                        c.project(truth[j].0.position).unwrap()
                            + Vec2::new(noise(seed), noise(seed)) * px
                    })
                    .collect();
                out[*l] = triangulate_pixels(&refs, &pixels).unwrap().0;
            }
        }
        out
    }

    #[test]
    fn curled_hands_show_which_hand_they_are() {
        let wrist = Pose::new(
            Quat::from_rotation_x(0.7) * Quat::from_rotation_z(2.0),
            Vec3::new(0.1, -0.2, -0.3),
        );
        let landmarks = |h: Hand, s: &HandShape| {
            let j = joint_poses(h, wrist, s);
            let mut out = [Vec3::ZERO; NUM_LANDMARKS];
            for (i, l) in LANDMARK_OF_JOINT.iter().enumerate() {
                if let Some(l) = l {
                    out[*l] = j[i].0.position;
                }
            }
            out
        };
        for shape in [HandShape::RELAXED, HandShape::POINT, HandShape::FIST] {
            assert!(
                chirality(&landmarks(Hand::Right, &shape)) > 0.01,
                "{shape:?}"
            );
            assert!(
                chirality(&landmarks(Hand::Left, &shape)) < -0.01,
                "{shape:?}"
            );
        }
        assert!(chirality(&landmarks(Hand::Right, &HandShape::OPEN)).abs() < 0.005);
    }

    #[test]
    fn stereo_landmarks_fit_the_simulated_hand() {
        let mut seed = 0x2545_F491_4F6C_DD1D;
        for hand in [Hand::Left, Hand::Right] {
            let side = if hand == Hand::Right { 1.0 } else { -1.0 };
            let mut fit = SkeletonFit::new(hand);
            // A hand 35 cm in front of the cameras, palm down, turning a little.
            let wrist_at = |i: usize| {
                Pose::new(
                    Quat::from_rotation_y(0.2 * (i as f32 * 0.1).sin())
                        * Quat::from_rotation_x(-0.4),
                    Vec3::new(side * 0.08, -0.12, -0.25),
                )
            };
            // Calibrate on open hands.
            for i in 0..CALIBRATION_FRAMES as usize {
                let truth = joint_poses(hand, wrist_at(i), &HandShape::OPEN);
                fit.fit(&observe(&truth, 0.5, &mut seed));
            }
            assert!(fit.calibrated());
            let frozen = fit.lengths();
            for shape in [
                HandShape::OPEN,
                HandShape::RELAXED,
                HandShape::POINT,
                HandShape::FIST,
            ] {
                let truth = joint_poses(hand, wrist_at(7), &shape);
                let got = fit.fit(&observe(&truth, 0.5, &mut seed));
                let (mut measured, mut derived, mut worst_angle) = (0.0f32, 0.0f32, 0.0f32);
                for j in 0..HAND_JOINT_COUNT {
                    let e = (got[j].pose.position - truth[j].0.position).length();
                    if LANDMARK_OF_JOINT[j].is_some() {
                        measured = measured.max(e);
                    } else {
                        derived = derived.max(e);
                    }
                    let a = got[j]
                        .pose
                        .orientation
                        .angle_between(truth[j].0.orientation);
                    worst_angle = worst_angle.max(a);
                    assert!(
                        (got[j].radius - truth[j].1).abs() < 0.004,
                        "joint {j} radius"
                    );
                }
                eprintln!(
                    "{hand:?} {shape:?}: measured joints within {:.1} mm, derived within {:.1} mm, orientation within {:.1} deg",
                    measured * 1e3,
                    derived * 1e3,
                    worst_angle.to_degrees()
                );
                assert!(measured < 0.004, "{hand:?} {shape:?}: {measured}");
                assert!(derived < 0.010, "{hand:?} {shape:?}: {derived}");
                assert!(worst_angle < 0.35, "{hand:?} {shape:?}: {worst_angle}");
                // Bones keep their calibrated lengths.
                for (i, (a, b)) in BONES.iter().enumerate() {
                    let l = (got[*b].pose.position - got[*a].pose.position).length();
                    assert!((l - frozen[i]).abs() < 1e-5, "bone {a}-{b}");
                }
            }
            assert_eq!(fit.lengths(), frozen);
        }
    }
}
