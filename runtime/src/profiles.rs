//! Interaction profiles: which input and output components each profile
//! has under which top-level user paths, which extension (if any) gates a
//! profile or a component, and how a component is fed from the components
//! a device really has (so a Touch controller can drive an app that only
//! suggested bindings for the Index or Vive profile).

use parallax_sdk::types::Pose;
use parallax_sdk::InputKind;

mod registry;

/// When a profile or a component exists: any one of these conjunctions
/// holds. A term is `XR_VERSION_1_1` (the instance is 1.1) or an extension
/// name (enabled). Empty: always; `&[&[]]` too.
pub type Cond = &'static [&'static [&'static str]];

/// Whether a condition holds for an instance.
pub fn holds(cond: Cond, is_1_1: bool, enabled: impl Fn(&str) -> bool) -> bool {
    cond.is_empty()
        || cond.iter().any(|all| {
            all.iter().all(|t| match *t {
                "XR_VERSION_1_0" => true,
                "XR_VERSION_1_1" => is_1_1,
                ext => enabled(ext),
            })
        })
}

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
    /// When it can be bound (beyond the profile being available).
    pub when: Cond,
}

/// One interaction profile.
#[derive(Clone, Debug)]
pub struct Profile {
    pub path: &'static str,
    pub localized_name: &'static str,
    /// When an app may suggest bindings for it.
    pub when: Cond,
    pub user_paths: &'static [&'static str],
    pub components: Vec<Component>,
}

/// The extension of the hand interaction profile and the pinch and poke poses.
pub const HAND_INTERACTION: &str = "XR_EXT_hand_interaction";

/// The interaction profile for tracked hands (`XR_EXT_hand_interaction`).
pub const HAND_INTERACTION_PROFILE: &str = "/interaction_profiles/ext/hand_interaction_ext";

/// A profile as the registry describes it (`registry.rs`, generated from
/// the specification's xr.xml by `runtime/tools/gen_profiles.py`).
struct Def {
    path: &'static str,
    title: &'static str,
    user_paths: &'static [&'static str],
    when: Cond,
    parts: &'static [Part],
}

/// A component of a [`Def`]: `user_path` None is under every user path.
struct Part {
    user_path: Option<&'static str>,
    path: &'static str,
    ty: Ty,
    when: Cond,
}

#[derive(Copy, Clone)]
enum Ty {
    B,
    F,
    V2,
    P,
    H,
}

impl Ty {
    fn kind(self) -> ComponentKind {
        match self {
            Ty::B => ComponentKind::Input(InputKind::Boolean),
            Ty::F => ComponentKind::Input(InputKind::Float),
            Ty::V2 => ComponentKind::Input(InputKind::Vector2),
            Ty::P => ComponentKind::Input(InputKind::Pose),
            Ty::H => ComponentKind::Haptic,
        }
    }
}

/// Every interaction profile of the specification, with its components.
///
/// One addition to the registry: `XR_EXT_hand_interaction` gives every
/// controller held in a hand its pinch and poke poses (the extension's
/// text; the registry lists them for the 1.1 profiles only), so a hand
/// profile without them gains them, gated by that extension.
pub fn all() -> Vec<Profile> {
    const POSE_EXT: Cond = &[&[HAND_INTERACTION]];
    registry::PROFILES
        .iter()
        .map(|d| {
            let mut components = Vec::new();
            for part in d.parts {
                for &user in d.user_paths {
                    if part.user_path.is_none_or(|u| u == user) {
                        components.push(Component {
                            user_path: user,
                            path: part.path.to_owned(),
                            kind: part.ty.kind(),
                            when: part.when,
                        });
                    }
                }
            }
            let held = d.user_paths.iter().all(|u| u.starts_with("/user/hand/"));
            if held && d.path != HAND_INTERACTION_PROFILE {
                for &user in d.user_paths {
                    for pose in ["input/pinch_ext/pose", "input/poke_ext/pose"] {
                        if !components
                            .iter()
                            .any(|c| c.user_path == user && c.path == pose)
                        {
                            components.push(Component {
                                user_path: user,
                                path: pose.to_owned(),
                                kind: ComponentKind::Input(InputKind::Pose),
                                when: POSE_EXT,
                            });
                        }
                    }
                }
            }
            Profile {
                path: d.path,
                // The registry's title for it reads "EXT hand interaction
                // profile"; users see this name.
                localized_name: if d.path == HAND_INTERACTION_PROFILE {
                    "Hand Interaction"
                } else {
                    d.title
                },
                when: d.when,
                user_paths: d.user_paths,
                components,
            }
        })
        .collect()
}

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
    /// The thumbstick or trackpad under a `.../dpad_*` binding, read as a
    /// pad (`XR_EXT_dpad_binding`, [`crate::dpad`]).
    Dpad,
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
    if let Some((parent, _)) = crate::dpad::parse_component(component) {
        add(parent.component(), Derivation::Dpad);
        if parent == crate::dpad::Parent::Trackpad {
            add("input/thumbstick", Derivation::Dpad);
        }
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
    let exact = profile
        .components
        .iter()
        .find(|c| c.user_path == user_path && c.path == component);
    if let Some(e) = exact {
        return Some(e);
    }
    // Otherwise `component` must be an identifier path (`input/trigger`,
    // two segments) and the candidates its components, one segment more.
    let identifier = component.split('/').count() == 2
        && matches!(component.split('/').next(), Some("input" | "output"));
    if !identifier {
        return None;
    }
    let mut candidates = profile.components.iter().filter(|c| {
        c.user_path == user_path
            && c.path
                .strip_prefix(component)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|r| !r.is_empty() && !r.contains('/'))
    });
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
