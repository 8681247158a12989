//! `XR_EXT_hand_interaction` from tracked hand joints: the aim, grip, pinch
//! and poke poses and the pinch, aim-activate and grasp gestures, computed
//! from the 26 joints of `XR_EXT_hand_tracking` (whatever tracks them: a
//! driver, a glove, the camera tracker). Pure functions; the action system
//! (`action.rs`) binds them as sources of the hand interaction profile.
//!
//! Joint frames follow `XR_EXT_hand_tracking`: -Z along the bone towards the
//! fingertip, +Y out of the back of the hand.

use glam::{Mat3, Quat, Vec3};
use parallax_sdk::types::{Hand, HandJoints, Pose, Velocity};

/// The parts of the hand interaction profile a tracked hand feeds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HandPart {
    AimPose,
    GripPose,
    PinchPose,
    PokePose,
    /// Also the palm pose (`XR_EXT_palm_pose`) and grip surface pose.
    PalmPose,
    PinchValue,
    PinchReady,
    AimActivateValue,
    AimActivateReady,
    GraspValue,
    GraspReady,
}

impl HandPart {
    /// The part behind a component of the hand interaction profile.
    pub fn of_component(component: &str) -> Option<HandPart> {
        Some(match component {
            "input/aim/pose" => HandPart::AimPose,
            "input/grip/pose" => HandPart::GripPose,
            "input/pinch_ext/pose" => HandPart::PinchPose,
            "input/poke_ext/pose" => HandPart::PokePose,
            "input/palm_ext/pose" | "input/grip_surface/pose" => HandPart::PalmPose,
            "input/pinch_ext/value" => HandPart::PinchValue,
            "input/pinch_ext/ready_ext" => HandPart::PinchReady,
            "input/aim_activate_ext/value" => HandPart::AimActivateValue,
            "input/aim_activate_ext/ready_ext" => HandPart::AimActivateReady,
            "input/grasp_ext/value" => HandPart::GraspValue,
            "input/grasp_ext/ready_ext" => HandPart::GraspReady,
            _ => return None,
        })
    }

    pub fn is_pose(self) -> bool {
        matches!(
            self,
            HandPart::AimPose
                | HandPart::GripPose
                | HandPart::PinchPose
                | HandPart::PokePose
                | HandPart::PalmPose
        )
    }
}

// Joint indices (`XrHandJointEXT`).
const PALM: usize = 0;
const THUMB_PROXIMAL: usize = 3;
const THUMB_TIP: usize = 5;
const INDEX_PROXIMAL: usize = 7;
const INDEX_TIP: usize = 10;
/// First joint (metacarpal) of the middle, ring and little fingers.
const CURLING_FINGERS: [usize; 3] = [11, 16, 21];

/// Surface gap between thumb and index tips at which the pinch is full
/// (tracking noise keeps real tips from reaching 0).
const PINCH_CLOSED: f32 = 0.005;
/// Gap from which the pinch value is 0: a relaxed open hand's thumb and
/// index tips are further apart than this.
const PINCH_OPEN: f32 = 0.04;
/// Flexion (radians, summed over a finger's three joints) below which a
/// finger counts as relaxed (grasp 0) and from which it counts as a closed
/// fist (grasp 1). A relaxed hand's fingers bend ~1-1.5 rad in all.
const GRASP_RELAXED: f32 = 1.8;
const GRASP_CLOSED: f32 = 3.8;
/// `palm_from_grip` position: the centre of a tube held in the fist, in
/// front of the palm (palm side, -Y) and towards the knuckles.
const GRIP_FROM_PALM: Vec3 = Vec3::new(0.0, -0.03, -0.015);
/// From the palm joint (inside the hand) to the palm's surface.
const PALM_HALF_THICKNESS: f32 = 0.015;
/// The shoulder relative to the head, in the head's yaw frame (x towards the
/// hand's side): the aim ray goes from here through the hand, which keeps it
/// steady while the fingers pinch.
const SHOULDER_FROM_HEAD: Vec3 = Vec3::new(0.17, -0.22, 0.05);

/// The gesture values of one hand at one time.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Gestures {
    pub pinch: f32,
    pub pinch_ready: bool,
    pub grasp: f32,
    pub grasp_ready: bool,
}

impl Gestures {
    /// The value of a value or ready part (`None` for poses). The aim
    /// activation is the index pinch, made while the aim ray (which comes
    /// from the shoulder, not the fingers) stays put.
    pub fn value(&self, part: HandPart) -> Option<f32> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        Some(match part {
            HandPart::PinchValue | HandPart::AimActivateValue => self.pinch,
            HandPart::PinchReady | HandPart::AimActivateReady => b(self.pinch_ready),
            HandPart::GraspValue => self.grasp,
            HandPart::GraspReady => b(self.grasp_ready),
            _ => return None,
        })
    }
}

fn tracked(j: &HandJoints, ids: &[usize]) -> bool {
    j.active
        && ids
            .iter()
            .all(|&i| j.joints[i].pose_valid && j.joints[i].pose_tracked)
}

fn position(j: &HandJoints, i: usize) -> Vec3 {
    j.joints[i].pose.position
}

/// Flexion of a finger: the angles between its consecutive bones, summed.
fn flexion(j: &HandJoints, first: usize) -> f32 {
    let p: [Vec3; 5] = std::array::from_fn(|k| position(j, first + k));
    (0..3)
        .map(|k| {
            let a = (p[k + 1] - p[k]).normalize_or_zero();
            let b = (p[k + 2] - p[k + 1]).normalize_or_zero();
            a.dot(b).clamp(-1.0, 1.0).acos()
        })
        .sum()
}

/// The gestures of a hand (all zero and not ready when it is not tracked).
pub fn gestures(j: &HandJoints) -> Gestures {
    let mut g = Gestures::default();
    let finger = |f: usize| [f, f + 1, f + 2, f + 3, f + 4];
    if CURLING_FINGERS.iter().all(|&f| tracked(j, &finger(f))) {
        let mean = CURLING_FINGERS.iter().map(|&f| flexion(j, f)).sum::<f32>()
            / CURLING_FINGERS.len() as f32;
        g.grasp = ((mean - GRASP_RELAXED) / (GRASP_CLOSED - GRASP_RELAXED)).clamp(0.0, 1.0);
        g.grasp_ready = true;
    }
    // Ready to pinch: thumb and index tracked and the hand not closed in a
    // fist (where the thumb rests on the index finger without pinching).
    if tracked(j, &[THUMB_PROXIMAL, THUMB_TIP, INDEX_PROXIMAL, INDEX_TIP]) && g.grasp < 0.9 {
        let (t, i) = (&j.joints[THUMB_TIP], &j.joints[INDEX_TIP]);
        let gap = (t.pose.position - i.pose.position).length() - t.radius - i.radius;
        // Linear in the distance between the tips, as the extension asks.
        g.pinch = ((PINCH_OPEN - gap) / (PINCH_OPEN - PINCH_CLOSED)).clamp(0.0, 1.0);
        g.pinch_ready = true;
    }
    g
}

/// A rotation whose -Z is `forward` and whose +Y is as close to `up` as
/// possible (`None` when they are parallel or degenerate).
fn look(forward: Vec3, up: Vec3) -> Option<Quat> {
    let z = (-forward).try_normalize()?;
    let x = up.cross(z).try_normalize()?;
    let y = z.cross(x);
    Some(Quat::from_mat3(&Mat3::from_cols(x, y, z)).normalize())
}

/// A pose of the hand interaction profile from a hand's joints, all in the
/// joints' space, with `head` (`space_from_head`) for the aim ray; `None`
/// when the joints it needs are not located. The flag says whether every
/// joint it comes from is tracked (not inferred).
pub fn pose(
    j: &HandJoints,
    hand: Hand,
    part: HandPart,
    head: Option<Pose>,
) -> Option<(Pose, Velocity, bool)> {
    if !j.active {
        return None;
    }
    let joint = |i: usize| &j.joints[i];
    let valid = |ids: &[usize]| ids.iter().all(|&i| joint(i).pose_valid);
    let tracked_all = |ids: &[usize]| ids.iter().all(|&i| joint(i).pose_tracked);
    let velocity = |i: usize| {
        if joint(i).velocity_valid {
            joint(i).velocity
        } else {
            Velocity::default()
        }
    };
    let palm = joint(PALM).pose;
    // The palm's axes: +X towards the little finger for the right hand and
    // towards the thumb for the left (the extension's joint frames).
    let (px, py, pz) = (
        palm.orientation * Vec3::X,
        palm.orientation * Vec3::Y,
        palm.orientation * Vec3::Z,
    );
    let side = if hand == Hand::Right { 1.0 } else { -1.0 };
    match part {
        HandPart::GripPose => {
            let ids = [PALM];
            if !valid(&ids) {
                return None;
            }
            // Grip axes: +X out of the left palm and into the right one,
            // -Z from the little finger to the index, +Y = Z x X.
            let x = side * py;
            let z = side * px;
            let rot = Quat::from_mat3(&Mat3::from_cols(x, z.cross(x), z)).normalize();
            let at = palm.position + palm.orientation * GRIP_FROM_PALM;
            let v = velocity(PALM);
            let linear = v.linear + v.angular.cross(at - palm.position);
            Some((
                Pose::new(rot, at),
                Velocity {
                    linear,
                    angular: v.angular,
                },
                tracked_all(&ids),
            ))
        }
        HandPart::PalmPose => {
            let ids = [PALM];
            if !valid(&ids) {
                return None;
            }
            // `XR_EXT_palm_pose` (and the grip surface pose): on the palm's
            // surface, +X as the grip's, -Z along the fingers.
            let x = side * py;
            let rot = Quat::from_mat3(&Mat3::from_cols(x, pz.cross(x), pz)).normalize();
            let at = palm.position - py * PALM_HALF_THICKNESS;
            let v = velocity(PALM);
            Some((
                Pose::new(rot, at),
                Velocity {
                    linear: v.linear + v.angular.cross(at - palm.position),
                    angular: v.angular,
                },
                tracked_all(&ids),
            ))
        }
        HandPart::PokePose => {
            let ids = [INDEX_TIP];
            if !valid(&ids) {
                return None;
            }
            // On the surface of the fingertip, in the tip joint's axes (+Z
            // back along the distal bone, +Y out of the nail).
            let tip = joint(INDEX_TIP);
            let at = tip.pose.position + tip.pose.orientation * Vec3::new(0.0, 0.0, -tip.radius);
            Some((
                Pose::new(tip.pose.orientation, at),
                velocity(INDEX_TIP),
                tracked_all(&ids),
            ))
        }
        HandPart::PinchPose => {
            let ids = [THUMB_PROXIMAL, THUMB_TIP, INDEX_PROXIMAL, INDEX_TIP, PALM];
            if !valid(&ids) {
                return None;
            }
            // Where the tips meet; +Z back towards the thumb's and index's
            // proximal joints; +Y up when the palms face each other with
            // the fingers forward.
            let at = (position(j, THUMB_TIP) + position(j, INDEX_TIP)) / 2.0;
            let knuckles = (position(j, THUMB_PROXIMAL) + position(j, INDEX_PROXIMAL)) / 2.0;
            let rot = look(at - knuckles, -side * px).or_else(|| look(-pz, py))?;
            let (a, b) = (velocity(THUMB_TIP), velocity(INDEX_TIP));
            Some((
                Pose::new(rot, at),
                Velocity {
                    linear: (a.linear + b.linear) / 2.0,
                    angular: velocity(PALM).angular,
                },
                tracked_all(&ids),
            ))
        }
        HandPart::AimPose => {
            let ids = [THUMB_PROXIMAL, INDEX_PROXIMAL, PALM];
            if !valid(&ids) {
                return None;
            }
            // From the shoulder through the point between the thumb's and
            // index finger's knuckles: steady while the fingers pinch. With
            // no head pose, along the palm's forward axis.
            let at = (position(j, THUMB_PROXIMAL) + position(j, INDEX_PROXIMAL)) / 2.0;
            let ray = head.and_then(|h| {
                let fwd = h.orientation * Vec3::NEG_Z;
                let yaw = Quat::from_rotation_y(f32::atan2(-fwd.x, -fwd.z));
                let off = SHOULDER_FROM_HEAD * Vec3::new(side, 1.0, 1.0);
                let r = at - (h.position + yaw * off);
                (r.length() > 0.05).then_some(r)
            });
            let linear = velocity(PALM).linear;
            let (forward, angular) = match ray {
                // The ray turns as the hand moves across it: w = d x v / |r|.
                Some(r) => {
                    let d = r.normalize();
                    (d, d.cross(linear) / r.length())
                }
                None => (-pz, velocity(PALM).angular),
            };
            let rot = look(forward, Vec3::Y).or_else(|| look(forward, py))?;
            Some((
                Pose::new(rot, at),
                Velocity { linear, angular },
                tracked_all(&ids),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parallax_driver_simulated::hand::{joints, HandShape};
    use parallax_sdk::types::Time;

    /// A hand in front of the user at chest height, palms facing each other,
    /// fingers forward (the extension's reference posture), in `shape`.
    fn hand(which: Hand, shape: HandShape) -> HandJoints {
        let side = if which == Hand::Right { 1.0 } else { -1.0 };
        // Back of the hand outwards: the right hand's +Y to the right.
        let wrist = Pose::new(
            Quat::from_rotation_z(-side * std::f32::consts::FRAC_PI_2),
            Vec3::new(side * 0.15, 1.3, -0.3),
        );
        joints(which, Time(1_000_000_000), move |_| (wrist, shape))
    }

    const HEAD: Pose = Pose {
        orientation: Quat::IDENTITY,
        position: Vec3::new(0.0, 1.6, 0.0),
    };

    #[test]
    fn gestures_follow_the_hand_shape() {
        for which in [Hand::Left, Hand::Right] {
            let relaxed = gestures(&hand(which, HandShape::RELAXED));
            assert_eq!((relaxed.pinch, relaxed.grasp), (0.0, 0.0));
            assert!(relaxed.pinch_ready && relaxed.grasp_ready);
            let open = gestures(&hand(which, HandShape::OPEN));
            assert_eq!((open.pinch, open.grasp), (0.0, 0.0));
            let pinch = gestures(&hand(which, HandShape::PINCH));
            assert!(pinch.pinch > 0.95, "{pinch:?}");
            assert_eq!(pinch.grasp, 0.0);
            let fist = gestures(&hand(which, HandShape::FIST));
            assert!(fist.grasp > 0.95, "{fist:?}");
            // A fist is no pinch: the value must be 0 when not ready.
            assert!(!fist.pinch_ready);
            assert_eq!(fist.value(HandPart::PinchValue), Some(0.0));
            // Closing towards the pinch raises the value steadily.
            let mut last = -1.0;
            for k in 0..=10 {
                let s = HandShape::RELAXED.lerp(&HandShape::PINCH, k as f32 / 10.0);
                let g = gestures(&hand(which, s));
                assert!(g.pinch >= last, "step {k}");
                last = g.pinch;
            }
        }
        // An untracked hand gives nothing.
        let none = gestures(&HandJoints::default());
        assert_eq!(none, Gestures::default());
        assert_eq!(none.value(HandPart::GraspReady), Some(0.0));
    }

    #[test]
    fn poses_follow_the_extension_axes() {
        for which in [Hand::Left, Hand::Right] {
            let j = hand(which, HandShape::OPEN);
            let get = |part| pose(&j, which, part, Some(HEAD)).unwrap();
            let axes = |p: &Pose| {
                (
                    p.orientation * Vec3::X,
                    p.orientation * Vec3::Y,
                    p.orientation * Vec3::Z,
                )
            };
            // Grip: +X to the user's right for both hands; -Z from the
            // little finger to the index (up, thumbs up).
            let (grip, _, tracked) = get(HandPart::GripPose);
            assert!(tracked);
            let (x, _, z) = axes(&grip);
            assert!(x.dot(Vec3::X) > 0.99, "{which:?} grip x {x}");
            assert!(z.dot(Vec3::NEG_Y) > 0.99, "{which:?} grip z {z}");
            // Palm: on the palm's surface, +X as the grip's, -Z along the
            // fingers (forward).
            let (palm, _, _) = get(HandPart::PalmPose);
            let (px, _, pz) = axes(&palm);
            assert!(px.dot(x) > 0.99 && pz.dot(Vec3::Z) > 0.99, "{which:?} palm");
            let inward = (j.joints[PALM].pose.position - palm.position).length();
            assert!((inward - PALM_HALF_THICKNESS).abs() < 1e-5);
            // In front of the palm, inside the hand's reach.
            assert!((grip.position - j.joints[PALM].pose.position).length() < 0.05);
            // Poke: on the index tip's surface, +Z back along the finger.
            let (poke, _, _) = get(HandPart::PokePose);
            let tip = j.joints[INDEX_TIP];
            let d = (poke.position - tip.pose.position).length();
            assert!((d - tip.radius).abs() < 1e-4);
            assert!(axes(&poke).2.dot(Vec3::Z) > 0.99);
            assert!(poke.position.z < tip.pose.position.z);
            // Pinch: between the tips; +Z back towards the knuckles, +Y up.
            let (pinch, _, _) = get(HandPart::PinchPose);
            let mid = (j.joints[THUMB_TIP].pose.position + tip.pose.position) / 2.0;
            assert!((pinch.position - mid).length() < 1e-5);
            let (_, y, z) = axes(&pinch);
            assert!(y.dot(Vec3::Y) > 0.5, "{which:?} pinch y {y}");
            assert!(z.dot(Vec3::Z) > 0.5, "{which:?} pinch z {z}");
            // Aim: forward and a little down from the shoulder, +Y up-ish.
            let (aim, v, _) = get(HandPart::AimPose);
            let (_, y, z) = axes(&aim);
            assert!((-z).dot(Vec3::NEG_Z) > 0.7, "{which:?} aim -z {}", -z);
            assert!(y.dot(Vec3::Y) > 0.7);
            assert!(v.linear.length() < 1e-3);
        }
        // Not tracked: no pose.
        assert!(pose(&HandJoints::default(), Hand::Left, HandPart::AimPose, None).is_none());
    }

    #[test]
    fn aim_holds_still_while_pinching() {
        // The aim ray comes from the shoulder through the knuckles: closing
        // a pinch turns it by less than 3 degrees.
        let relaxed = hand(Hand::Right, HandShape::RELAXED);
        let pinched = hand(Hand::Right, HandShape::PINCH);
        let a = pose(&relaxed, Hand::Right, HandPart::AimPose, Some(HEAD))
            .unwrap()
            .0;
        let b = pose(&pinched, Hand::Right, HandPart::AimPose, Some(HEAD))
            .unwrap()
            .0;
        let turn = a.orientation.angle_between(b.orientation).to_degrees();
        assert!(turn < 3.0, "{turn}");
    }

    #[test]
    fn components_map_to_parts() {
        assert_eq!(
            HandPart::of_component("input/pinch_ext/ready_ext"),
            Some(HandPart::PinchReady)
        );
        assert!(HandPart::of_component("input/poke_ext/pose")
            .unwrap()
            .is_pose());
        assert!(!HandPart::GraspValue.is_pose());
        assert_eq!(HandPart::of_component("input/trigger/value"), None);
    }
}
