//! The simulated wearer's face: scripted expressions with exact ground
//! truth (the weights are a closed form of time), for the avatar codec and
//! face-tracking extensions to be tested against.
//!
//! Scripted motion plays a 12 s cycle: talking for the first 6 s (the jaw
//! and lips move with syllables at about 4 Hz), a smile rising from 5 s to
//! its top at 7 s and gone by 9.5 s, a frown-and-brow-raise from 9.5 s to
//! 11.5 s, and a blink (both eyes, 150 ms) every 3.7 s. The eyes look
//! around with the same slow yaw and pitch as the scripted gaze would
//! (eyeLook* weights, and the eye-gaze stream: [`gaze`]). Static motion
//! keeps a neutral face with open eyes looking straight ahead.

use crate::{Motion, MotionKind};
use parallax_sdk::types::{
    face_expression, EyeGaze, FaceExpressions, Pose, Time, FACE_EXPRESSION_COUNT,
};

/// How far the eyes look right (yaw, + to the wearer's left) and up (pitch),
/// in radians, at `t` seconds.
pub fn eye_angles(motion: &Motion, t: f64) -> (f32, f32) {
    match motion.kind {
        MotionKind::Scripted { .. } => {
            let tau = std::f64::consts::TAU;
            (
                (0.35 * (tau * t / 5.0).sin()) as f32,
                (0.15 * (tau * t / 7.0).sin()) as f32,
            )
        }
        _ => (0.0, 0.0),
    }
}

/// How closed the eyes are at `t` seconds (0 open, 1 closed).
pub fn blink(motion: &Motion, t: f64) -> f32 {
    if !matches!(motion.kind, MotionKind::Scripted { .. }) {
        return 0.0;
    }
    // A triangle pulse of 150 ms at the start of every 3.7 s.
    let x = t.rem_euclid(3.7);
    if x < 0.15 {
        (1.0 - (x - 0.075).abs() / 0.075) as f32
    } else {
        0.0
    }
}

/// The combined gaze at `at`: `head_from_gaze` from between the eyes (the
/// head pose's origin), turned by [`eye_angles`] (yaw about +Y, then pitch
/// about +X; looking down -Z when both are 0), and each eye's openness.
pub fn gaze(motion: &Motion, at: Time) -> EyeGaze {
    let t = at.0 as f64 * 1e-9;
    let (yaw, pitch) = eye_angles(motion, t);
    let open = 1.0 - blink(motion, t);
    EyeGaze {
        time: at,
        valid: true,
        gaze: Pose::new(
            glam::Quat::from_euler(glam::EulerRot::YXZ, yaw, pitch, 0.0),
            glam::Vec3::ZERO,
        ),
        openness: [open, open],
    }
}

fn smooth(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// The face expression weights at `at`.
pub fn expressions(motion: &Motion, at: Time) -> FaceExpressions {
    let mut w = [0.0f32; FACE_EXPRESSION_COUNT];
    let t = at.0 as f64 * 1e-9;
    let mut set = |name: &str, v: f64| {
        let i = face_expression(name).expect("an ARKit name");
        w[i] = v.clamp(0.0, 1.0) as f32;
    };
    if matches!(motion.kind, MotionKind::Scripted { .. }) {
        let c = t.rem_euclid(12.0);
        let tau = std::f64::consts::TAU;
        // Talking: syllables at ~4 Hz under a phrase envelope.
        let talk = smooth(0.0, 0.3, c) * (1.0 - smooth(5.7, 6.0, c));
        let syllable = 0.5 + 0.5 * (tau * 4.1 * t).sin();
        let lips = 0.5 + 0.5 * (tau * 2.7 * t + 1.0).sin();
        set("jawOpen", talk * 0.45 * syllable);
        set("mouthFunnel", talk * 0.3 * lips * (1.0 - syllable));
        set("mouthClose", talk * 0.2 * (1.0 - syllable));
        set("mouthLowerDownLeft", talk * 0.25 * syllable);
        set("mouthLowerDownRight", talk * 0.25 * syllable);
        // A smile.
        let smile = smooth(5.0, 7.0, c) * (1.0 - smooth(7.5, 9.5, c));
        set("mouthSmileLeft", 0.8 * smile);
        set("mouthSmileRight", 0.75 * smile);
        set("cheekSquintLeft", 0.4 * smile);
        set("cheekSquintRight", 0.4 * smile);
        // A frown with raised brows.
        let frown = smooth(9.5, 10.3, c) * (1.0 - smooth(10.8, 11.5, c));
        set("mouthFrownLeft", 0.6 * frown);
        set("mouthFrownRight", 0.6 * frown);
        set("browInnerUp", 0.7 * frown);
        // Blinks and gaze.
        let b = f64::from(blink(motion, t));
        set("eyeBlinkLeft", b);
        set("eyeBlinkRight", b);
        let (yaw, pitch) = eye_angles(motion, t);
        // Looking to the wearer's left: the left eye looks out, the right in.
        let side = f64::from(yaw / 0.5);
        set("eyeLookOutLeft", side);
        set("eyeLookInRight", side);
        set("eyeLookInLeft", -side);
        set("eyeLookOutRight", -side);
        let up = f64::from(pitch / 0.5);
        set("eyeLookUpLeft", up);
        set("eyeLookUpRight", up);
        set("eyeLookDownLeft", -up);
        set("eyeLookDownRight", -up);
    }
    FaceExpressions {
        time: at,
        valid: true,
        weights: w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripted() -> Motion {
        Motion {
            kind: MotionKind::Scripted { seed: 1 },
        }
    }

    fn at(s: f64) -> Time {
        Time((s * 1e9) as i64)
    }

    fn weight(f: &FaceExpressions, name: &str) -> f32 {
        f.weights[face_expression(name).unwrap()]
    }

    #[test]
    fn the_script_talks_smiles_frowns_and_blinks() {
        let m = scripted();
        let f = |s| expressions(&m, at(1200.0 + s));
        // Every weight in [0, 1], always.
        for k in 0..1200 {
            let e = f(k as f64 * 0.01);
            assert!(e.valid && e.weights.iter().all(|w| (0.0..=1.0).contains(w)));
        }
        let jaw: Vec<f32> = (0..100)
            .map(|k| weight(&f(1.0 + k as f64 * 0.01), "jawOpen"))
            .collect();
        let (lo, hi) = jaw
            .iter()
            .fold((1f32, 0f32), |(l, h), w| (l.min(*w), h.max(*w)));
        assert!(
            lo < 0.05 && hi > 0.4,
            "talking opens and closes the jaw: {lo}..{hi}"
        );
        assert!(weight(&f(7.0), "mouthSmileLeft") > 0.7);
        assert_eq!(weight(&f(2.0), "mouthSmileLeft"), 0.0);
        assert!(weight(&f(10.5), "mouthFrownRight") > 0.5);
        assert_eq!(
            weight(&f(8.0), "jawOpen"),
            0.0,
            "silent while smiling at 8 s"
        );
        // A blink at the start of every 3.7 s cycle, closed at its middle.
        let b = expressions(&m, at(3.7 * 100.0 + 0.075));
        assert!(weight(&b, "eyeBlinkLeft") > 0.99 && weight(&b, "eyeBlinkRight") > 0.99);
        assert_eq!(
            weight(&expressions(&m, at(3.7 * 100.0 + 1.0)), "eyeBlinkLeft"),
            0.0
        );
        // Deterministic: the same time gives the same face.
        assert_eq!(f(3.3), f(3.3));
    }

    #[test]
    fn static_motion_is_a_neutral_face() {
        let m = Motion {
            kind: MotionKind::Static,
        };
        let e = expressions(&m, at(1234.5));
        assert!(e.valid && e.weights.iter().all(|w| *w == 0.0));
    }
}
