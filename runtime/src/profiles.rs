//! Interaction profiles: which input and output components each profile
//! has under which top-level user paths, which extension (if any) gates a
//! profile or a component, and how a component is fed from the components
//! a device really has (so a Touch controller can drive an app that only
//! suggested bindings for the Index or Vive profile).

use parallax_sdk::types::Pose;
use parallax_sdk::InputKind;

/// The type of a profile component.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    Input(InputKind),
    Haptic,
}

/// One component a profile offers under a user path.
#[derive(Clone, Debug)]
pub struct Component {
    pub user_path: &'static str,
    /// Relative to the user path: `input/trigger/value`.
    pub path: String,
    pub kind: ComponentKind,
    /// The extension that must be enabled to bind it (`None`: core).
    pub extension: Option<&'static str>,
}

/// One interaction profile.
#[derive(Clone, Debug)]
pub struct Profile {
    pub path: &'static str,
    pub localized_name: &'static str,
    pub extension: Option<&'static str>,
    pub user_paths: &'static [&'static str],
    pub components: Vec<Component>,
}

const HANDS: &[&str] = &["/user/hand/left", "/user/hand/right"];

/// Components that derive a pose from the grip and are gated by an
/// extension: every hand profile has them when the extension is enabled.
const EXTRA_POSES: &[(&str, &str)] = &[
    ("input/palm_ext/pose", "XR_EXT_palm_pose"),
    ("input/grip_surface/pose", "XR_KHR_maintenance1"),
    ("input/pinch_ext/pose", HAND_INTERACTION),
    ("input/poke_ext/pose", HAND_INTERACTION),
];

/// The extension of the hand interaction profile and the pinch and poke poses.
pub const HAND_INTERACTION: &str = "XR_EXT_hand_interaction";

/// The interaction profile for tracked hands (`XR_EXT_hand_interaction`).
pub const HAND_INTERACTION_PROFILE: &str = "/interaction_profiles/ext/hand_interaction_ext";

struct Spec {
    path: &'static str,
    name: &'static str,
    /// The extension that must be enabled to use the profile.
    extension: Option<&'static str>,
    both: &'static [(&'static str, Ty)],
    left: &'static [(&'static str, Ty)],
    right: &'static [(&'static str, Ty)],
}

#[derive(Copy, Clone)]
enum Ty {
    B,
    F,
    /// A 2D axis: the parent path is a vector2, `/x` and `/y` floats.
    V2,
    P,
    H,
}

use Ty::*;

const SPECS: &[Spec] = &[
    Spec {
        path: "/interaction_profiles/khr/simple_controller",
        name: "Simple Controller",
        extension: None,
        both: &[
            ("input/select/click", B),
            ("input/menu/click", B),
            ("input/grip/pose", P),
            ("input/aim/pose", P),
            ("output/haptic", H),
        ],
        left: &[],
        right: &[],
    },
    Spec {
        path: "/interaction_profiles/oculus/touch_controller",
        name: "Oculus Touch Controller",
        extension: None,
        both: &[
            ("input/squeeze/value", F),
            ("input/trigger/value", F),
            ("input/trigger/touch", B),
            ("input/thumbstick", V2),
            ("input/thumbstick/click", B),
            ("input/thumbstick/touch", B),
            ("input/thumbrest/touch", B),
            ("input/grip/pose", P),
            ("input/aim/pose", P),
            ("output/haptic", H),
        ],
        left: &[
            ("input/x/click", B),
            ("input/x/touch", B),
            ("input/y/click", B),
            ("input/y/touch", B),
            ("input/menu/click", B),
        ],
        right: &[
            ("input/a/click", B),
            ("input/a/touch", B),
            ("input/b/click", B),
            ("input/b/touch", B),
            ("input/system/click", B),
        ],
    },
    Spec {
        path: "/interaction_profiles/valve/index_controller",
        name: "Valve Index Controller",
        extension: None,
        both: &[
            ("input/system/click", B),
            ("input/system/touch", B),
            ("input/a/click", B),
            ("input/a/touch", B),
            ("input/b/click", B),
            ("input/b/touch", B),
            ("input/squeeze/value", F),
            ("input/squeeze/force", F),
            ("input/trigger/click", B),
            ("input/trigger/value", F),
            ("input/trigger/touch", B),
            ("input/thumbstick", V2),
            ("input/thumbstick/click", B),
            ("input/thumbstick/touch", B),
            ("input/trackpad", V2),
            ("input/trackpad/force", F),
            ("input/trackpad/touch", B),
            ("input/grip/pose", P),
            ("input/aim/pose", P),
            ("output/haptic", H),
        ],
        left: &[],
        right: &[],
    },
    Spec {
        path: "/interaction_profiles/htc/vive_controller",
        name: "HTC Vive Controller",
        extension: None,
        both: &[
            ("input/system/click", B),
            ("input/squeeze/click", B),
            ("input/menu/click", B),
            ("input/trigger/click", B),
            ("input/trigger/value", F),
            ("input/trackpad", V2),
            ("input/trackpad/click", B),
            ("input/trackpad/touch", B),
            ("input/grip/pose", P),
            ("input/aim/pose", P),
            ("output/haptic", H),
        ],
        left: &[],
        right: &[],
    },
    Spec {
        path: "/interaction_profiles/microsoft/motion_controller",
        name: "Microsoft Mixed Reality Motion Controller",
        extension: None,
        both: &[
            ("input/menu/click", B),
            ("input/squeeze/click", B),
            ("input/trigger/value", F),
            ("input/thumbstick", V2),
            ("input/thumbstick/click", B),
            ("input/trackpad", V2),
            ("input/trackpad/click", B),
            ("input/trackpad/touch", B),
            ("input/grip/pose", P),
            ("input/aim/pose", P),
            ("output/haptic", H),
        ],
        left: &[],
        right: &[],
    },
    Spec {
        path: HAND_INTERACTION_PROFILE,
        name: "Hand Interaction",
        extension: Some(HAND_INTERACTION),
        both: &[
            ("input/aim/pose", P),
            ("input/grip/pose", P),
            ("input/pinch_ext/value", F),
            ("input/pinch_ext/ready_ext", B),
            ("input/aim_activate_ext/value", F),
            ("input/aim_activate_ext/ready_ext", B),
            ("input/grasp_ext/value", F),
            ("input/grasp_ext/ready_ext", B),
        ],
        left: &[],
        right: &[],
    },
];

fn push(out: &mut Vec<Component>, user_path: &'static str, path: &str, ty: Ty) {
    let mut add = |p: String, kind| {
        out.push(Component {
            user_path,
            path: p,
            kind,
            extension: None,
        })
    };
    match ty {
        B => add(path.into(), ComponentKind::Input(InputKind::Boolean)),
        F => add(path.into(), ComponentKind::Input(InputKind::Float)),
        P => add(path.into(), ComponentKind::Input(InputKind::Pose)),
        H => add(path.into(), ComponentKind::Haptic),
        V2 => {
            add(path.into(), ComponentKind::Input(InputKind::Vector2));
            add(format!("{path}/x"), ComponentKind::Input(InputKind::Float));
            add(format!("{path}/y"), ComponentKind::Input(InputKind::Float));
        }
    }
}

/// Every interaction profile the runtime knows.
pub fn all() -> Vec<Profile> {
    SPECS
        .iter()
        .map(|s| {
            let mut components = Vec::new();
            for &user in HANDS {
                for &(p, ty) in s.both {
                    push(&mut components, user, p, ty);
                }
                let own = if user.ends_with("left") {
                    s.left
                } else {
                    s.right
                };
                for &(p, ty) in own {
                    push(&mut components, user, p, ty);
                }
                for &(p, ext) in EXTRA_POSES {
                    components.push(Component {
                        user_path: user,
                        path: p.into(),
                        kind: ComponentKind::Input(InputKind::Pose),
                        // The hand profile's own poses need no more than
                        // the profile's extension.
                        extension: (Some(ext) != s.extension).then_some(ext),
                    });
                }
            }
            Profile {
                path: s.path,
                localized_name: s.name,
                extension: s.extension,
                user_paths: HANDS,
                components,
            }
        })
        .collect()
}

/// Profiles the runtime recognises only as belonging to extensions it does
/// not offer: binding to them gives `XR_ERROR_PATH_UNSUPPORTED` (not
/// `XR_ERROR_PATH_INVALID`), since they are valid profile paths.
pub const EXTENSION_PROFILES: &[(&str, &str)] = &[
    (
        "/interaction_profiles/bytedance/pico4_controller",
        "XR_BD_controller_interaction",
    ),
    (
        "/interaction_profiles/htc/vive_cosmos_controller",
        "XR_HTC_vive_cosmos_controller_interaction",
    ),
    (
        "/interaction_profiles/hp/mixed_reality_controller",
        "XR_EXT_hp_mixed_reality_controller",
    ),
    (
        "/interaction_profiles/samsung/odyssey_controller",
        "XR_EXT_samsung_odyssey_controller",
    ),
    (
        "/interaction_profiles/ml/ml2_controller",
        "XR_ML_ml2_controller_interaction",
    ),
    (
        "/interaction_profiles/microsoft/hand_interaction",
        "XR_MSFT_hand_interaction",
    ),
];

/// How a profile component's value is made from a device's components.
#[derive(Clone, Debug, PartialEq)]
pub enum Derivation {
    /// The device component of the same kind.
    Same,
    /// A float source read as a boolean (with hysteresis).
    Threshold,
    /// A boolean source read as 0.0 / 1.0.
    BoolToFloat,
    /// One axis of a vector2 source (0 = x, 1 = y).
    Axis(usize),
    /// A pose source with an offset applied (`source_from_component`).
    PoseOffset(Pose),
    /// `XR_TRUE` whenever the source has a value: a controller's trigger or
    /// grip is always ready for the hand profile's gestures (`*/ready_ext`).
    Ready,
}

/// `grip_from_pinch` of a controller: in front of the controller, where
/// the index finger and thumb meet on a small object (`XR_EXT_hand_interaction`
/// places it at a fixed offset from the grip, clear of the controller). In
/// the grip's axes forward is -Y and up is -Z; the pinch pose's +Z points
/// back at the user and +Y up, a quarter turn about the grip's X axis.
pub fn pinch_from_grip() -> Pose {
    Pose::new(
        glam::Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2),
        glam::Vec3::new(0.0, -0.07, -0.02),
    )
}

/// `grip_from_poke` of a controller: a fingertip's place a little further
/// forward than the pinch, same axes.
pub fn poke_from_grip() -> Pose {
    Pose::new(
        glam::Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2),
        glam::Vec3::new(0.0, -0.09, -0.02),
    )
}

/// Candidate device components for a profile component, best first.
pub fn source_candidates(component: &str) -> Vec<(String, Derivation)> {
    let mut c = vec![(component.to_owned(), Derivation::Same)];
    let mut add = |p: &str, d: Derivation| c.push((p.to_owned(), d));
    match component {
        "input/select/click" => {
            add("input/trigger/value", Derivation::Threshold);
            add("input/trigger/click", Derivation::Same);
        }
        "input/trigger/click" => add("input/trigger/value", Derivation::Threshold),
        "input/trigger/value" => add("input/trigger/click", Derivation::BoolToFloat),
        "input/squeeze/click" => add("input/squeeze/value", Derivation::Threshold),
        "input/squeeze/value" | "input/squeeze/force" => {
            add("input/squeeze/value", Derivation::Same);
            add("input/squeeze/click", Derivation::BoolToFloat);
        }
        "input/system/click" | "input/menu/click" => {
            add("input/menu/click", Derivation::Same);
            add("input/system/click", Derivation::Same);
        }
        "input/a/click" => add("input/x/click", Derivation::Same),
        "input/a/touch" => add("input/x/touch", Derivation::Same),
        "input/b/click" => add("input/y/click", Derivation::Same),
        "input/b/touch" => add("input/y/touch", Derivation::Same),
        "input/trackpad" => add("input/thumbstick", Derivation::Same),
        "input/trackpad/click" => add("input/thumbstick/click", Derivation::Same),
        "input/trackpad/touch" => add("input/thumbstick/touch", Derivation::Same),
        "input/thumbstick/x" | "input/trackpad/x" => add("input/thumbstick", Derivation::Axis(0)),
        "input/thumbstick/y" | "input/trackpad/y" => add("input/thumbstick", Derivation::Axis(1)),
        "input/palm_ext/pose" | "input/grip_surface/pose" => add(
            "input/grip/pose",
            Derivation::PoseOffset(Pose::from_position(glam::Vec3::new(0.0, 0.0, 0.04))),
        ),
        "input/pinch_ext/pose" => add("input/grip/pose", Derivation::PoseOffset(pinch_from_grip())),
        "input/poke_ext/pose" => add("input/grip/pose", Derivation::PoseOffset(poke_from_grip())),
        // The hand profile on a controller: pinch and aim-activate are the
        // index finger's trigger, grasp the grip.
        "input/pinch_ext/value" | "input/aim_activate_ext/value" => {
            add("input/trigger/value", Derivation::Same);
            add("input/trigger/click", Derivation::BoolToFloat);
            add("input/select/click", Derivation::BoolToFloat);
        }
        "input/grasp_ext/value" => {
            add("input/squeeze/value", Derivation::Same);
            add("input/squeeze/click", Derivation::BoolToFloat);
        }
        "input/pinch_ext/ready_ext" | "input/aim_activate_ext/ready_ext" => {
            add("input/trigger/value", Derivation::Ready);
            add("input/trigger/click", Derivation::Ready);
            add("input/select/click", Derivation::Ready);
        }
        "input/grasp_ext/ready_ext" => {
            add("input/squeeze/value", Derivation::Ready);
            add("input/squeeze/click", Derivation::Ready);
        }
        _ => {}
    }
    if component.starts_with("input/trackpad/") && component.len() > 15 {
        let rest = &component[15..];
        if rest == "x" || rest == "y" {
            let axis = usize::from(rest == "y");
            c.push(("input/trackpad".into(), Derivation::Axis(axis)));
        }
    }
    c
}

/// Resolves a binding's component for a profile: a full component path, or
/// an identifier path (`input/trigger`) that the runtime completes by the
/// action's needs, as the spec allows.
pub fn resolve_identifier<'a>(
    profile: &'a Profile,
    user_path: &str,
    component: &str,
    want: ComponentKind,
) -> Option<&'a Component> {
    let mut candidates = profile.components.iter().filter(|c| {
        c.user_path == user_path
            && (c.path == component || c.path.starts_with(&format!("{component}/")))
    });
    let exact = profile
        .components
        .iter()
        .find(|c| c.user_path == user_path && c.path == component);
    if let Some(e) = exact {
        return Some(e);
    }
    let order: &[&str] = match want {
        ComponentKind::Input(InputKind::Boolean) => &["click", "value", "touch"],
        ComponentKind::Input(InputKind::Float) => &["value", "click", "force"],
        ComponentKind::Input(InputKind::Pose) => &["pose"],
        ComponentKind::Input(InputKind::Vector2) => &[],
        ComponentKind::Haptic => &[],
    };
    let list: Vec<&Component> = candidates.by_ref().collect();
    for suffix in order {
        if let Some(c) = list
            .iter()
            .find(|c| c.path == format!("{component}/{suffix}"))
        {
            return Some(c);
        }
    }
    list.into_iter()
        .find(|c| !c.path.ends_with("/x") && !c.path.ends_with("/y"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_profile_has_per_hand_buttons() {
        let all = all();
        let touch = all
            .iter()
            .find(|p| p.path.ends_with("touch_controller"))
            .unwrap();
        let has = |u: &str, p: &str| {
            touch
                .components
                .iter()
                .any(|c| c.user_path == u && c.path == p)
        };
        assert!(has("/user/hand/left", "input/x/click"));
        assert!(!has("/user/hand/right", "input/x/click"));
        assert!(has("/user/hand/right", "input/thumbstick/y"));
        let trig = resolve_identifier(
            touch,
            "/user/hand/left",
            "input/trigger",
            ComponentKind::Input(InputKind::Boolean),
        )
        .unwrap();
        assert_eq!(trig.path, "input/trigger/value");
    }
}
