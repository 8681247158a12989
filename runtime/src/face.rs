//! Face tracking for apps (`XR_FB_face_tracking2`, `XR_HTC_facial_tracking`):
//! the devices' ARKit-named expression weights, in each extension's own set
//! of blend shapes (70 for FB2; 14 eye and 37 lip expressions for HTC).
//!
//! The SDK carries ARKit's 52 weights (the vocabulary face-tracking vendors
//! share); `XR_FACE_EXPRESSION_SET2_DEFAULT_FB` names FACS-like action
//! units. [`FB2_FROM_ARKIT`] says which ARKit weight each one is: most are
//! one-to-one (`JAW_DROP` is `jawOpen`, `LIP_CORNER_PULLER_L` is
//! `mouthSmileLeft`), the split ones share their source (the four
//! `LIP_FUNNELER_*` are `mouthFunnel`, both `INNER_BROW_RAISER_*` are
//! `browInnerUp`), and the ones ARKit has no weight for (cheek suck, lip
//! tightener, tongue positions but `TONGUE_OUT`) are 0.

use crate::handles::{self, Kind, Raw};
use crate::session::Session;
use crate::{Error, Result};
use parallax_sdk::types::{face_expression, Time, FACE_EXPRESSION_COUNT};
use std::sync::Arc;

/// `XR_FACE_EXPRESSION2_COUNT_FB`.
pub const FB2_COUNT: usize = 70;
/// `XR_FACE_CONFIDENCE2_COUNT_FB`: lower and upper face.
pub const FB2_CONFIDENCE_COUNT: usize = 2;

/// For each `XrFaceExpression2FB`, in enum order, the ARKit weight it is.
pub const FB2_FROM_ARKIT: [Option<&str>; FB2_COUNT] = [
    Some("browDownLeft"),        // BROW_LOWERER_L
    Some("browDownRight"),       // BROW_LOWERER_R
    Some("cheekPuff"),           // CHEEK_PUFF_L
    Some("cheekPuff"),           // CHEEK_PUFF_R
    Some("cheekSquintLeft"),     // CHEEK_RAISER_L
    Some("cheekSquintRight"),    // CHEEK_RAISER_R
    None,                        // CHEEK_SUCK_L
    None,                        // CHEEK_SUCK_R
    Some("mouthShrugLower"),     // CHIN_RAISER_B
    Some("mouthShrugUpper"),     // CHIN_RAISER_T
    Some("mouthDimpleLeft"),     // DIMPLER_L
    Some("mouthDimpleRight"),    // DIMPLER_R
    Some("eyeBlinkLeft"),        // EYES_CLOSED_L
    Some("eyeBlinkRight"),       // EYES_CLOSED_R
    Some("eyeLookDownLeft"),     // EYES_LOOK_DOWN_L
    Some("eyeLookDownRight"),    // EYES_LOOK_DOWN_R
    Some("eyeLookOutLeft"),      // EYES_LOOK_LEFT_L: the left eye turns out
    Some("eyeLookInRight"),      // EYES_LOOK_LEFT_R: the right eye turns in
    Some("eyeLookInLeft"),       // EYES_LOOK_RIGHT_L
    Some("eyeLookOutRight"),     // EYES_LOOK_RIGHT_R
    Some("eyeLookUpLeft"),       // EYES_LOOK_UP_L
    Some("eyeLookUpRight"),      // EYES_LOOK_UP_R
    Some("browInnerUp"),         // INNER_BROW_RAISER_L
    Some("browInnerUp"),         // INNER_BROW_RAISER_R
    Some("jawOpen"),             // JAW_DROP
    Some("jawLeft"),             // JAW_SIDEWAYS_LEFT
    Some("jawRight"),            // JAW_SIDEWAYS_RIGHT
    Some("jawForward"),          // JAW_THRUST
    Some("eyeSquintLeft"),       // LID_TIGHTENER_L
    Some("eyeSquintRight"),      // LID_TIGHTENER_R
    Some("mouthFrownLeft"),      // LIP_CORNER_DEPRESSOR_L
    Some("mouthFrownRight"),     // LIP_CORNER_DEPRESSOR_R
    Some("mouthSmileLeft"),      // LIP_CORNER_PULLER_L
    Some("mouthSmileRight"),     // LIP_CORNER_PULLER_R
    Some("mouthFunnel"),         // LIP_FUNNELER_LB
    Some("mouthFunnel"),         // LIP_FUNNELER_LT
    Some("mouthFunnel"),         // LIP_FUNNELER_RB
    Some("mouthFunnel"),         // LIP_FUNNELER_RT
    Some("mouthPressLeft"),      // LIP_PRESSOR_L
    Some("mouthPressRight"),     // LIP_PRESSOR_R
    Some("mouthPucker"),         // LIP_PUCKER_L
    Some("mouthPucker"),         // LIP_PUCKER_R
    Some("mouthStretchLeft"),    // LIP_STRETCHER_L
    Some("mouthStretchRight"),   // LIP_STRETCHER_R
    Some("mouthRollLower"),      // LIP_SUCK_LB
    Some("mouthRollUpper"),      // LIP_SUCK_LT
    Some("mouthRollLower"),      // LIP_SUCK_RB
    Some("mouthRollUpper"),      // LIP_SUCK_RT
    None,                        // LIP_TIGHTENER_L
    None,                        // LIP_TIGHTENER_R
    Some("mouthClose"),          // LIPS_TOWARD
    Some("mouthLowerDownLeft"),  // LOWER_LIP_DEPRESSOR_L
    Some("mouthLowerDownRight"), // LOWER_LIP_DEPRESSOR_R
    Some("mouthLeft"),           // MOUTH_LEFT
    Some("mouthRight"),          // MOUTH_RIGHT
    Some("noseSneerLeft"),       // NOSE_WRINKLER_L
    Some("noseSneerRight"),      // NOSE_WRINKLER_R
    Some("browOuterUpLeft"),     // OUTER_BROW_RAISER_L
    Some("browOuterUpRight"),    // OUTER_BROW_RAISER_R
    Some("eyeWideLeft"),         // UPPER_LID_RAISER_L
    Some("eyeWideRight"),        // UPPER_LID_RAISER_R
    Some("mouthUpperUpLeft"),    // UPPER_LIP_RAISER_L
    Some("mouthUpperUpRight"),   // UPPER_LIP_RAISER_R
    None,                        // TONGUE_TIP_INTERDENTAL
    None,                        // TONGUE_TIP_ALVEOLAR
    None,                        // TONGUE_FRONT_DORSAL_PALATE
    None,                        // TONGUE_MID_DORSAL_PALATE
    None,                        // TONGUE_BACK_DORSAL_VELAR
    Some("tongueOut"),           // TONGUE_OUT
    None,                        // TONGUE_RETREAT
];

/// A correspondence table as ARKit indices, resolved by name once (the
/// tables name their sources for the reader; a frame only indexes).
fn resolve<const N: usize>(
    table: &[Option<&str>; N],
    cache: &'static std::sync::OnceLock<[Option<usize>; N]>,
) -> &'static [Option<usize>; N] {
    cache.get_or_init(|| table.map(|n| n.and_then(face_expression)))
}

/// Copies the ARKit weights each entry of `indices` names into `out` (0
/// where it names none).
fn pick(indices: &[Option<usize>], arkit: &[f32; FACE_EXPRESSION_COUNT], out: &mut [f32]) {
    for (o, i) in out.iter_mut().zip(indices) {
        *o = i.map_or(0.0, |i| arkit[i]);
    }
}

/// The FB2 weights for ARKit-order weights.
pub fn fb2_from_arkit(arkit: &[f32; FACE_EXPRESSION_COUNT]) -> [f32; FB2_COUNT] {
    static INDICES: std::sync::OnceLock<[Option<usize>; FB2_COUNT]> = std::sync::OnceLock::new();
    let mut out = [0.0; FB2_COUNT];
    pick(resolve(&FB2_FROM_ARKIT, &INDICES), arkit, &mut out);
    out
}

/// `XR_FACIAL_EXPRESSION_EYE_COUNT_HTC`.
pub const HTC_EYE_COUNT: usize = 14;
/// `XR_FACIAL_EXPRESSION_LIP_COUNT_HTC`.
pub const HTC_LIP_COUNT: usize = 37;

/// For each `XrEyeExpressionHTC`, in enum order, the ARKit weight it is
/// (HTC's squeeze is ARKit's squint; left and right are the wearer's).
pub const HTC_EYE_FROM_ARKIT: [&str; HTC_EYE_COUNT] = [
    "eyeBlinkLeft",     // LEFT_BLINK
    "eyeWideLeft",      // LEFT_WIDE
    "eyeBlinkRight",    // RIGHT_BLINK
    "eyeWideRight",     // RIGHT_WIDE
    "eyeSquintLeft",    // LEFT_SQUEEZE
    "eyeSquintRight",   // RIGHT_SQUEEZE
    "eyeLookDownLeft",  // LEFT_DOWN
    "eyeLookDownRight", // RIGHT_DOWN
    "eyeLookOutLeft",   // LEFT_OUT
    "eyeLookInRight",   // RIGHT_IN
    "eyeLookInLeft",    // LEFT_IN
    "eyeLookOutRight",  // RIGHT_OUT
    "eyeLookUpLeft",    // LEFT_UP
    "eyeLookUpRight",   // RIGHT_UP
];

/// For each `XrLipExpressionHTC`, in enum order, the ARKit weight it is:
/// the sideways lip moves are ARKit's mouthLeft/Right for both lips, the
/// overturns its funnel, the ape shape its mouthClose (jaw open, lips
/// shut), raiser and stretcher (HTC's smile and sad aliases) its smile and
/// frown, inside its rolls, the lower overlay its lower shrug; cheek suck
/// and tongue positions but the first step out have no ARKit weight (0).
pub const HTC_LIP_FROM_ARKIT: [Option<&str>; HTC_LIP_COUNT] = [
    Some("jawRight"),            // JAW_RIGHT
    Some("jawLeft"),             // JAW_LEFT
    Some("jawForward"),          // JAW_FORWARD
    Some("jawOpen"),             // JAW_OPEN
    Some("mouthClose"),          // MOUTH_APE_SHAPE
    Some("mouthRight"),          // MOUTH_UPPER_RIGHT
    Some("mouthLeft"),           // MOUTH_UPPER_LEFT
    Some("mouthRight"),          // MOUTH_LOWER_RIGHT
    Some("mouthLeft"),           // MOUTH_LOWER_LEFT
    Some("mouthFunnel"),         // MOUTH_UPPER_OVERTURN
    Some("mouthFunnel"),         // MOUTH_LOWER_OVERTURN
    Some("mouthPucker"),         // MOUTH_POUT
    Some("mouthSmileRight"),     // MOUTH_RAISER_RIGHT (SMILE_RIGHT)
    Some("mouthSmileLeft"),      // MOUTH_RAISER_LEFT (SMILE_LEFT)
    Some("mouthFrownRight"),     // MOUTH_STRETCHER_RIGHT (SAD_RIGHT)
    Some("mouthFrownLeft"),      // MOUTH_STRETCHER_LEFT (SAD_LEFT)
    Some("cheekPuff"),           // CHEEK_PUFF_RIGHT
    Some("cheekPuff"),           // CHEEK_PUFF_LEFT
    None,                        // CHEEK_SUCK
    Some("mouthUpperUpRight"),   // MOUTH_UPPER_UPRIGHT
    Some("mouthUpperUpLeft"),    // MOUTH_UPPER_UPLEFT
    Some("mouthLowerDownRight"), // MOUTH_LOWER_DOWNRIGHT
    Some("mouthLowerDownLeft"),  // MOUTH_LOWER_DOWNLEFT
    Some("mouthRollUpper"),      // MOUTH_UPPER_INSIDE
    Some("mouthRollLower"),      // MOUTH_LOWER_INSIDE
    Some("mouthShrugLower"),     // MOUTH_LOWER_OVERLAY
    Some("tongueOut"),           // TONGUE_LONGSTEP1
    None,                        // TONGUE_LEFT
    None,                        // TONGUE_RIGHT
    None,                        // TONGUE_UP
    None,                        // TONGUE_DOWN
    None,                        // TONGUE_ROLL
    None,                        // TONGUE_LONGSTEP2
    None,                        // TONGUE_UPRIGHT_MORPH
    None,                        // TONGUE_UPLEFT_MORPH
    None,                        // TONGUE_DOWNRIGHT_MORPH
    None,                        // TONGUE_DOWNLEFT_MORPH
];

/// Which expressions an `XrFacialTrackerHTC` reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HtcSet {
    Eye,
    Lip,
}

impl HtcSet {
    pub fn count(self) -> usize {
        match self {
            HtcSet::Eye => HTC_EYE_COUNT,
            HtcSet::Lip => HTC_LIP_COUNT,
        }
    }
}

/// The HTC weights of `set` for ARKit-order weights, into `out` (its first
/// `set.count()` values).
pub fn htc_from_arkit(set: HtcSet, arkit: &[f32; FACE_EXPRESSION_COUNT], out: &mut [f32]) {
    static EYE: std::sync::OnceLock<[Option<usize>; HTC_EYE_COUNT]> = std::sync::OnceLock::new();
    static LIP: std::sync::OnceLock<[Option<usize>; HTC_LIP_COUNT]> = std::sync::OnceLock::new();
    match set {
        HtcSet::Eye => pick(resolve(&HTC_EYE_FROM_ARKIT.map(Some), &EYE), arkit, out),
        HtcSet::Lip => pick(resolve(&HTC_LIP_FROM_ARKIT, &LIP), arkit, out),
    }
}

/// An `XrFacialTrackerHTC`.
pub struct FacialTrackerHtc {
    pub session: Arc<Session>,
    pub set: HtcSet,
}

/// `xrCreateFacialTrackerHTC`: eye and lip expressions both come from the
/// device that tracks the face.
pub fn create_htc(session: &Arc<Session>, set: HtcSet) -> Result<Raw> {
    if !session.hub.supports_face_tracking() {
        return Err(Error::feature_unsupported(format!(
            "no device of this system tracks the face (support{}FacialTracking is false)",
            if set == HtcSet::Eye { "Eye" } else { "Lip" }
        )));
    }
    Ok(handles::insert(
        Kind::FacialTrackerHtc,
        session.handle(),
        Arc::new(FacialTrackerHtc {
            session: session.clone(),
            set,
        }),
    ))
}

/// `xrGetFacialExpressionsHTC`: the newest expressions (the call names no
/// time), into `out`; whether they are active (a face tracked and the
/// session focused) and when they were sampled.
pub fn htc_expressions(tracker: &FacialTrackerHtc, out: &mut [f32]) -> (bool, Time) {
    let now = Time::now();
    let face = if tracker.session.is_focused() {
        tracker.session.hub.face_expressions(now)
    } else {
        None
    };
    match face {
        Some(f) if f.valid => {
            htc_from_arkit(tracker.set, &f.weights, out);
            (true, if f.time.0 > 0 { f.time } else { now })
        }
        _ => {
            out.fill(0.0);
            (false, now)
        }
    }
}

/// An `XrFaceTracker2FB`.
pub struct FaceTracker {
    pub session: Arc<Session>,
}

/// What `xrGetFaceExpressionWeights2FB` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceWeights {
    pub weights: [f32; FB2_COUNT],
    /// Lower face, upper face.
    pub confidences: [f32; FB2_CONFIDENCE_COUNT],
    pub valid: bool,
    pub eyes_valid: bool,
    pub time: Time,
}

/// The data sources an app may accept (`XrFaceTrackingDataSource2FB`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    Visual,
    Audio,
}

/// `xrCreateFaceTracker2FB`: a tracker when the system tracks faces and
/// the app accepts a source it has (visual: the headset's face cameras;
/// no audio-driven expressions here).
pub fn create(session: &Arc<Session>, accepted: &[DataSource]) -> Result<Raw> {
    if !session.hub.supports_face_tracking() {
        return Err(Error::feature_unsupported(
            "no device of this system tracks the face (supportsVisualFaceTracking is false)",
        ));
    }
    if !accepted.contains(&DataSource::Visual) {
        return Err(Error::feature_unsupported(
            "only the visual face-tracking data source is supported (supportsAudioFaceTracking is false)",
        ));
    }
    Ok(handles::insert(
        Kind::FaceTracker2,
        session.handle(),
        Arc::new(FaceTracker {
            session: session.clone(),
        }),
    ))
}

/// `xrGetFaceExpressionWeights2FB`: the weights at `t`; not valid (all 0)
/// when no face is tracked now or the session does not have input focus.
pub fn weights(tracker: &FaceTracker, t: Time) -> Result<FaceWeights> {
    if t.0 <= 0 {
        return Err(Error::time_invalid(format!(
            "time {} is not a valid XrTime",
            t.0
        )));
    }
    let invalid = FaceWeights {
        weights: [0.0; FB2_COUNT],
        confidences: [0.0; FB2_CONFIDENCE_COUNT],
        valid: false,
        eyes_valid: false,
        time: t,
    };
    if !tracker.session.is_focused() {
        return Ok(invalid);
    }
    match tracker.session.hub.face_expressions(t) {
        Some(f) if f.valid => Ok(FaceWeights {
            weights: fb2_from_arkit(&f.weights),
            confidences: [1.0; FB2_CONFIDENCE_COUNT],
            valid: true,
            eyes_valid: true,
            time: if f.time.0 > 0 { f.time } else { t },
        }),
        _ => Ok(invalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htc_sources_are_arkit_names() {
        for n in HTC_EYE_FROM_ARKIT
            .iter()
            .chain(HTC_LIP_FROM_ARKIT.iter().flatten())
        {
            assert!(face_expression(n).is_some(), "{n}");
        }
        let mut a = [0.0; FACE_EXPRESSION_COUNT];
        a[face_expression("mouthSmileLeft").unwrap()] = 0.6;
        a[face_expression("eyeBlinkRight").unwrap()] = 0.9;
        let mut lip = [0.0; HTC_LIP_COUNT];
        htc_from_arkit(HtcSet::Lip, &a, &mut lip);
        assert_eq!(lip[13], 0.6); // MOUTH_RAISER_LEFT
        assert_eq!(lip.iter().filter(|w| **w != 0.0).count(), 1);
        let mut eye = [0.0; HTC_EYE_COUNT];
        htc_from_arkit(HtcSet::Eye, &a, &mut eye);
        assert_eq!(eye[2], 0.9); // RIGHT_BLINK
        assert_eq!(eye.iter().filter(|w| **w != 0.0).count(), 1);
    }

    #[test]
    fn every_source_is_an_arkit_name_and_most_fb_shapes_have_one() {
        let mapped = FB2_FROM_ARKIT.iter().flatten().count();
        assert_eq!(mapped, 70 - 10);
        for n in FB2_FROM_ARKIT.iter().flatten() {
            assert!(face_expression(n).is_some(), "{n}");
        }
        // Every ARKit weight reaches some FB2 shape.
        for n in parallax_sdk::types::FACE_EXPRESSION_NAMES {
            assert!(FB2_FROM_ARKIT.contains(&Some(n)), "{n} is lost");
        }
        let mut a = [0.0; FACE_EXPRESSION_COUNT];
        a[face_expression("jawOpen").unwrap()] = 0.7;
        let fb = fb2_from_arkit(&a);
        assert_eq!(fb[24], 0.7);
        assert_eq!(fb.iter().filter(|w| **w != 0.0).count(), 1);
    }
}
