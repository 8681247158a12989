//! Actions: action sets and actions, suggested bindings, attaching to a
//! session, `xrSyncActions` (active sets, subaction paths, priorities), the
//! action state queries, bound sources, haptics, and the conformance
//! automation overrides (`XR_EXT_conformance_automation`).

use crate::dpad;
use crate::error::{Error, Result};
use crate::hand_interaction::{self, Gestures, HandPart};
use crate::handles::{self, Kind, Raw};
use crate::hub::DeviceIndex;
use crate::instance::{Event, Instance};
use crate::paths::{self, PathId};
use crate::profiles::{self, ComponentKind, Derivation};
use crate::session::Session;
use crate::space::StagePose;
use glam::Vec2;
use openxr_sys as xr;
use parallax_sdk::types::{Duration, Hand, Pose, Time, Velocity};
use parallax_sdk::{InputKind, InputValue, Vibration};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Top-level user paths the spec defines.
pub const TOP_LEVEL_PATHS: &[&str] = &[
    "/user/hand/left",
    "/user/hand/right",
    "/user/head",
    "/user/gamepad",
    "/user/treadmill",
    EYES,
];

/// The eyes' top-level path (`XR_EXT_eye_gaze_interaction`).
pub const EYES: &str = "/user/eyes_ext";
/// The extension of the eye gaze profile.
pub const EYE_GAZE: &str = "XR_EXT_eye_gaze_interaction";
/// The eye gaze interaction profile.
pub const EYE_GAZE_PROFILE: &str = "/interaction_profiles/ext/eye_gaze_interaction";

/// A top-level user path this instance knows (`/user/eyes_ext` only with
/// its extension).
fn top_level(instance: &Instance, s: &str) -> Option<&'static str> {
    TOP_LEVEL_PATHS
        .iter()
        .find(|t| **t == s)
        .copied()
        .filter(|t| *t != EYES || instance.has_extension(EYE_GAZE))
}

/// An `XrActionSet`.
pub struct ActionSet {
    pub instance: Arc<Instance>,
    pub name: String,
    pub localized_name: String,
    pub priority: u32,
    pub attached: AtomicBool,
}

/// An `XrAction`.
pub struct Action {
    pub set: Arc<ActionSet>,
    pub set_handle: Raw,
    pub name: String,
    pub localized_name: String,
    pub ty: xr::ActionType,
    pub subaction_paths: Vec<PathId>,
}

fn check_localized(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::localized_name_invalid("the localized name is empty"));
    }
    Ok(())
}

/// `xrCreateActionSet`.
pub fn create_action_set(
    instance: &Arc<Instance>,
    name: &str,
    localized_name: &str,
    priority: u32,
) -> Result<Raw> {
    paths::validate_name(name)?;
    check_localized(localized_name)?;
    for h in handles::children(instance.handle(), Kind::ActionSet) {
        if let Ok(s) = handles::get::<ActionSet>(Kind::ActionSet, h) {
            if s.name == name {
                return Err(Error::name_duplicated(format!(
                    "an action set named {name} exists"
                )));
            }
            if s.localized_name == localized_name {
                return Err(Error::localized_name_duplicated(format!(
                    "an action set localized as {localized_name:?} exists"
                )));
            }
        }
    }
    let set = Arc::new(ActionSet {
        instance: instance.clone(),
        name: name.into(),
        localized_name: localized_name.into(),
        priority,
        attached: AtomicBool::new(false),
    });
    Ok(handles::insert(Kind::ActionSet, instance.handle(), set))
}

/// `xrCreateAction`.
pub fn create_action(
    set_handle: Raw,
    name: &str,
    localized_name: &str,
    ty: xr::ActionType,
    subaction_paths: &[PathId],
) -> Result<Raw> {
    let set = handles::get::<ActionSet>(Kind::ActionSet, set_handle)?;
    match ty {
        xr::ActionType::BOOLEAN_INPUT
        | xr::ActionType::FLOAT_INPUT
        | xr::ActionType::VECTOR2F_INPUT
        | xr::ActionType::POSE_INPUT
        | xr::ActionType::VIBRATION_OUTPUT => {}
        other => {
            return Err(Error::validation(format!(
                "{other:?} is not a valid XrActionType"
            )))
        }
    }
    paths::validate_name(name)?;
    check_localized(localized_name)?;
    if set.attached.load(Ordering::Acquire) {
        return Err(Error::actionsets_already_attached(
            "the action set is attached to a session",
        ));
    }
    let mut seen = HashSet::new();
    for &p in subaction_paths {
        let s = set.instance.path_to_string(p)?;
        if top_level(&set.instance, &s).is_none() {
            return Err(Error::path_unsupported(format!(
                "{s} is not a top-level user path"
            )));
        }
        if !seen.insert(p) {
            return Err(Error::path_unsupported(format!(
                "subaction path {s} is listed twice"
            )));
        }
    }
    for h in handles::children(set_handle, Kind::Action) {
        if let Ok(a) = handles::get::<Action>(Kind::Action, h) {
            if a.name == name {
                return Err(Error::name_duplicated(format!(
                    "an action named {name} exists in this set"
                )));
            }
            if a.localized_name == localized_name {
                return Err(Error::localized_name_duplicated(format!(
                    "an action localized as {localized_name:?} exists"
                )));
            }
        }
    }
    let action = Arc::new(Action {
        set,
        set_handle,
        name: name.into(),
        localized_name: localized_name.into(),
        ty,
        subaction_paths: subaction_paths.to_vec(),
    });
    Ok(handles::insert(Kind::Action, set_handle, action))
}

fn component_kind(ty: xr::ActionType) -> ComponentKind {
    match ty {
        xr::ActionType::BOOLEAN_INPUT => ComponentKind::Input(InputKind::Boolean),
        xr::ActionType::FLOAT_INPUT => ComponentKind::Input(InputKind::Float),
        xr::ActionType::VECTOR2F_INPUT => ComponentKind::Input(InputKind::Vector2),
        xr::ActionType::POSE_INPUT => ComponentKind::Input(InputKind::Pose),
        _ => ComponentKind::Haptic,
    }
}

/// Splits `/user/hand/left/input/trigger/value` into the top-level path and
/// the component.
fn split_binding(path: &str) -> Option<(&'static str, &str)> {
    TOP_LEVEL_PATHS
        .iter()
        .find(|t| {
            path.len() > t.len() + 1 && path.starts_with(**t) && path.as_bytes()[t.len()] == b'/'
        })
        .map(|t| (*t, &path[t.len() + 1..]))
}

/// A pad's parameters as an app chained them (`XrInteractionProfileDpadBindingEXT`).
#[derive(Copy, Clone, Debug)]
pub struct DpadSuggestion {
    /// The thumbstick or trackpad (`/user/hand/left/input/thumbstick`).
    pub binding: PathId,
    pub action_set: Raw,
    pub params: dpad::Params,
}

/// Checks an app's pad parameters against a profile.
fn check_dpads(
    instance: &Arc<Instance>,
    prof: &profiles::Profile,
    dpads: &[DpadSuggestion],
) -> Result<Vec<dpad::Modification>> {
    let mut out: Vec<dpad::Modification> = Vec::with_capacity(dpads.len());
    for d in dpads {
        let path = instance.path_to_string(d.binding)?;
        let parent = split_binding(&path)
            .filter(|(u, _)| prof.user_paths.contains(u))
            .and_then(|(u, c)| Some((u, dpad::Parent::of(c)?)))
            .filter(|(u, p)| {
                let up = format!("{}/dpad_up", p.component());
                prof.components
                    .iter()
                    .any(|c| c.user_path == *u && c.path == up && instance.holds(c.when))
            });
        let Some((user, parent)) = parent else {
            return Err(Error::path_unsupported(format!(
                "{path} is not a thumbstick or trackpad with a dpad in {}",
                prof.path
            )));
        };
        let set = handles::get::<ActionSet>(Kind::ActionSet, d.action_set)?;
        if !Arc::ptr_eq(&set.instance, instance) {
            return Err(Error::handle_invalid(
                "the dpad's action set belongs to another instance",
            ));
        }
        d.params.validate()?;
        let m = dpad::Modification {
            user,
            parent,
            action_set: d.action_set,
            params: d.params,
        };
        if out
            .iter()
            .any(|o| o.user == user && o.parent == parent && o.action_set == d.action_set)
        {
            return Err(Error::validation(format!(
                "{path} has two dpad modifications for action set {}",
                set.name
            )));
        }
        out.push(m);
    }
    Ok(out)
}

/// `xrSuggestInteractionProfileBindings`.
pub fn suggest_bindings(
    instance: &Arc<Instance>,
    profile: PathId,
    bindings: &[(Raw, PathId)],
    dpads: &[DpadSuggestion],
) -> Result<()> {
    let profile_str = instance.path_to_string(profile)?;
    let prof = instance.profile(&profile_str)?;
    if bindings.is_empty() {
        return Err(Error::validation(
            "countSuggestedBindings must be greater than 0",
        ));
    }
    for &(action_raw, binding) in bindings {
        let action = handles::get::<Action>(Kind::Action, action_raw)?;
        if !Arc::ptr_eq(&action.set.instance, instance) {
            return Err(Error::handle_invalid(
                "the action belongs to another instance",
            ));
        }
        if action.set.attached.load(Ordering::Acquire) {
            return Err(Error::actionsets_already_attached(format!(
                "action set {} is already attached",
                action.set.name
            )));
        }
        let path = instance.path_to_string(binding)?;
        let Some((user, comp)) = split_binding(&path) else {
            return Err(Error::path_unsupported(format!(
                "{path} is not under a top-level user path"
            )));
        };
        if !prof.user_paths.contains(&user) {
            return Err(Error::path_unsupported(format!(
                "{profile_str} has no {user}"
            )));
        }
        let want = component_kind(action.ty);
        let Some(c) = profiles::resolve_identifier(prof, user, comp, want) else {
            return Err(Error::path_unsupported(format!(
                "{path} is not a binding of {profile_str}"
            )));
        };
        if !instance.holds(c.when) {
            return Err(Error::path_unsupported(format!(
                "{path} needs one of {:?}, which this instance has not enabled",
                c.when
            )));
        }
        if !action.subaction_paths.is_empty()
            && !action.subaction_paths.contains(&instance.path(user))
        {
            return Err(Error::path_unsupported(format!(
                "{path} is not under one of the subaction paths of action {}",
                action.name
            )));
        }
    }
    let dpads = check_dpads(instance, prof, dpads)?;
    instance.set_bindings(profile, bindings.to_vec(), dpads);
    Ok(())
}

/// A value of an action.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Value {
    Boolean(bool),
    Float(f32),
    Vector2(Vec2),
    /// Pose and vibration actions: only activity matters.
    None,
}

/// The state of one action for one subaction path (or all, key 0).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct State {
    pub value: Value,
    pub changed: bool,
    pub last_change: Time,
    pub active: bool,
}

/// Where a bound source's value comes from.
#[derive(Clone, Debug)]
enum Source {
    Device {
        index: DeviceIndex,
        component: String,
        /// Position among the device's inputs (None for outputs).
        input: Option<usize>,
        derivation: Derivation,
    },
    /// A tracked hand (no device held in it): poses and gestures computed
    /// from its joints (`XR_EXT_hand_interaction`).
    Hand { hand: Hand, part: HandPart },
    /// The eye tracker's combined gaze (`/user/eyes_ext/input/gaze_ext/pose`).
    EyeGaze,
    /// Nothing on the device feeds it; only automation can.
    Unfed,
}

/// Whose float a boolean action reads (for its hysteresis memory).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum ThresholdKey {
    Input(DeviceIndex, usize),
    Hand(Hand, HandPart),
}

#[derive(Clone, Debug)]
struct Bound {
    user: &'static str,
    user_path: PathId,
    /// Profile component, relative to `user`.
    component: String,
    /// The full source path apps see in `xrEnumerateBoundSourcesForAction`.
    source_path: PathId,
    profile: PathId,
    source: Source,
    /// The pad a `.../dpad_*` binding reads (`XR_EXT_dpad_binding`).
    dpad: Option<DpadBound>,
}

#[derive(Clone, Debug)]
struct DpadBound {
    key: dpad::Key,
    direction: dpad::Direction,
    params: dpad::Params,
    /// The device input of a trackpad's force (or click), if it has one.
    force_input: Option<usize>,
    /// Where the pad's on/off haptics play.
    haptic: Option<(DeviceIndex, String)>,
}

/// What a sync remembers between syncs about derived inputs.
#[derive(Default)]
struct Memory {
    /// Bool-from-float hysteresis per source.
    thresholds: HashMap<ThresholdKey, bool>,
    /// Each pad's pressed state and directions.
    dpads: HashMap<dpad::Key, dpad::State>,
    /// Pad haptics this sync triggered, played once the sync is done.
    haptics: Vec<(DeviceIndex, String, Vibration)>,
}

struct AttachedAction {
    action: Arc<Action>,
    bound: Vec<Bound>,
    states: HashMap<PathId, State>,
}

/// Automation overrides of one top-level path.
#[derive(Default, Clone)]
struct AutomatedDevice {
    active: Option<(bool, PathId)>,
    values: HashMap<String, InputValue>,
    locations: HashMap<String, (Raw, Pose)>,
}

/// Per-session input state.
#[derive(Default)]
pub struct InputState {
    attached: Option<Vec<Raw>>,
    actions: HashMap<Raw, AttachedAction>,
    current_profile: HashMap<&'static str, PathId>,
    automation: HashMap<&'static str, AutomatedDevice>,
    /// Hysteresis and pad memory.
    memory: Memory,
    /// Buffers `xrSyncActions` reuses from frame to frame, so the frame
    /// loop does not allocate.
    scratch: SyncScratch,
    /// Profile changes to announce at the next sync.
    rebind_needed: bool,
    /// A current profile changed outside `xrSyncActions` (at attach): the
    /// event waits for the next sync, the only place the spec lets the
    /// runtime queue `XrEventDataInteractionProfileChanged`.
    profile_event_pending: bool,
}

/// Per-sync working memory, kept between syncs.
#[derive(Default)]
struct SyncScratch {
    /// Input values read at the last sync, per device.
    device_values: Vec<(DeviceIndex, Vec<Option<InputValue>>)>,
    /// Active sets of this sync: (set, priority, subaction path).
    active: Vec<(Raw, u32, PathId)>,
    /// Highest active priority per bound source.
    priority: HashMap<PathId, u32>,
    /// Values of one action's sources.
    values: Vec<(PathId, Value)>,
    /// Gestures of each tracked hand (left, right) at this sync; `None`
    /// when the hand is not tracked.
    hands: [Option<Gestures>; 2],
}

const PROFILE_PREFERENCE: &[&str] = &[
    "/interaction_profiles/oculus/touch_controller",
    "/interaction_profiles/valve/index_controller",
    "/interaction_profiles/microsoft/motion_controller",
    "/interaction_profiles/htc/vive_controller",
    "/interaction_profiles/khr/simple_controller",
];

impl Session {
    fn attached_action(&self, input: &InputState, action: Raw) -> Result<()> {
        if input.actions.contains_key(&action) {
            Ok(())
        } else {
            Err(Error::actionset_not_attached(
                "the action's set is not attached to this session",
            ))
        }
    }

    /// `xrAttachSessionActionSets`.
    pub fn attach(&self, sets: &[Raw]) -> Result<()> {
        if sets.is_empty() {
            return Err(Error::validation("countActionSets must be greater than 0"));
        }
        let mut arcs = Vec::new();
        for &s in sets {
            let set = handles::get::<ActionSet>(Kind::ActionSet, s)?;
            if !Arc::ptr_eq(&set.instance, &self.instance) {
                return Err(Error::handle_invalid(
                    "the action set belongs to another instance",
                ));
            }
            arcs.push((s, set));
        }
        let mut input = self.input.lock();
        if input.attached.is_some() {
            return Err(Error::actionsets_already_attached(
                "action sets were already attached to this session",
            ));
        }
        for (s, set) in &arcs {
            set.attached.store(true, Ordering::Release);
            for a in handles::children(*s, Kind::Action) {
                if let Ok(action) = handles::get::<Action>(Kind::Action, a) {
                    input.actions.insert(
                        a,
                        AttachedAction {
                            action,
                            bound: vec![],
                            states: HashMap::new(),
                        },
                    );
                }
            }
        }
        input.attached = Some(sets.to_vec());
        self.rebind(&mut input);
        Ok(())
    }

    /// Chooses the current profile per hand and binds every attached action.
    fn rebind(&self, input: &mut InputState) {
        let suggested = self.instance.bindings();
        let inst = &self.instance;
        let mut changed = false;
        let eyes = inst.has_extension(EYE_GAZE).then_some(EYES);
        for user in TOP_LEVEL_PATHS[..2].iter().copied().chain(eyes) {
            let automated = input.automation.get(user).and_then(|a| a.active);
            let device = self.hub.device_for_user_path(user);
            let native = device
                .and_then(|d| self.hub.description(d))
                .and_then(|d| d.interaction_profile.clone());
            // A hand with no controller in it is there through hand
            // tracking, for apps that bind the hand interaction profile.
            let hand_profile = inst.has_extension(profiles::HAND_INTERACTION);
            let bare_hand = device.is_none() && hand_profile && self.hub.supports_hand_tracking();
            let connected = match automated {
                Some((active, _)) => active,
                None if user == EYES => self.hub.supports_eye_gaze(),
                None => device.is_some() || bare_hand,
            };
            let candidates: Vec<String> = match automated {
                Some((_, p)) if p != 0 => inst.path_to_string(p).into_iter().collect(),
                _ if user == EYES => vec![EYE_GAZE_PROFILE.to_string()],
                _ if bare_hand => vec![profiles::HAND_INTERACTION_PROFILE.to_string()],
                // Controllers also serve the hand profile (trigger for the
                // pinch, grip for the grasp), after their own profiles.
                _ => native
                    .into_iter()
                    .chain(PROFILE_PREFERENCE.iter().map(|s| s.to_string()))
                    .chain(hand_profile.then(|| profiles::HAND_INTERACTION_PROFILE.to_string()))
                    .collect(),
            };
            let chosen = if connected {
                candidates
                    .iter()
                    .filter_map(|c| inst.string_to_path(c).ok())
                    .find(|p| suggested.get(p).is_some_and(|b| self.binds_user(b, user)))
            } else {
                None
            };
            let old = input.current_profile.get(user).copied();
            if old != chosen {
                changed = true;
                match chosen {
                    Some(p) => input.current_profile.insert(user, p),
                    None => input.current_profile.remove(user),
                };
            }
        }
        for aa in input.actions.values_mut() {
            aa.bound.clear();
        }
        let current: Vec<(&'static str, PathId)> = input
            .current_profile
            .iter()
            .map(|(u, p)| (*u, *p))
            .collect();
        for (user, profile) in current {
            let Ok(prof_str) = inst.path_to_string(profile) else {
                continue;
            };
            let Ok(prof) = inst.profile(&prof_str) else {
                continue;
            };
            for &(action_raw, binding) in suggested.get(&profile).into_iter().flatten() {
                let Some(aa) = input.actions.get_mut(&action_raw) else {
                    continue;
                };
                let Ok(path) = inst.path_to_string(binding) else {
                    continue;
                };
                let Some((u, comp)) = split_binding(&path) else {
                    continue;
                };
                if u != user {
                    continue;
                }
                let Some(c) =
                    profiles::resolve_identifier(prof, user, comp, component_kind(aa.action.ty))
                else {
                    continue;
                };
                let source_path = inst.path(&format!("{user}/{}", c.path));
                let source = self.find_source(user, &c.path);
                let dpad = dpad::parse_component(&c.path).map(|(parent, direction)| {
                    let key = dpad::Key {
                        user,
                        parent,
                        action_set: aa.action.set_handle,
                    };
                    self.dpad_bound(profile, key, direction, &source)
                });
                aa.bound.push(Bound {
                    user,
                    user_path: inst.path(user),
                    component: c.path.clone(),
                    source_path,
                    profile,
                    source,
                    dpad,
                });
            }
        }
        input.profile_event_pending |= changed;
        input.rebind_needed = false;
    }

    fn dpad_bound(
        &self,
        profile: PathId,
        key: dpad::Key,
        direction: dpad::Direction,
        source: &Source,
    ) -> DpadBound {
        let mut force_input = None;
        let mut haptic = None;
        if let Source::Device { index, .. } = source {
            if let Some(desc) = self.hub.description(*index) {
                if key.parent == dpad::Parent::Trackpad {
                    force_input = ["input/trackpad/force", "input/trackpad/click"]
                        .iter()
                        .find_map(|p| desc.inputs.iter().position(|i| i.path == *p));
                }
                haptic = desc.outputs.first().map(|o| (*index, o.path.clone()));
            }
        }
        DpadBound {
            key,
            direction,
            params: self.instance.dpad_params(profile, &key),
            force_input,
            haptic,
        }
    }

    fn binds_user(&self, bindings: &[(Raw, PathId)], user: &str) -> bool {
        bindings.iter().any(|&(_, b)| {
            self.instance
                .path_to_string(b)
                .ok()
                .and_then(|p| split_binding(&p).map(|(u, _)| u == user))
                .unwrap_or(false)
        })
    }

    fn find_source(&self, user: &str, component: &str) -> Source {
        if user == EYES {
            return if component == "input/gaze_ext/pose" && self.hub.supports_eye_gaze() {
                Source::EyeGaze
            } else {
                Source::Unfed
            };
        }
        let Some(index) = self.hub.device_for_user_path(user) else {
            let hand = match user {
                "/user/hand/left" => Hand::Left,
                "/user/hand/right" => Hand::Right,
                _ => return Source::Unfed,
            };
            return match HandPart::of_component(component) {
                Some(part) if self.hub.supports_hand_tracking() => Source::Hand { hand, part },
                _ => Source::Unfed,
            };
        };
        let Some(desc) = self.hub.description(index) else {
            return Source::Unfed;
        };
        let is_haptic = component.starts_with("output/");
        for (path, derivation) in profiles::source_candidates(component) {
            let present = if is_haptic {
                desc.outputs.iter().any(|o| o.path == path)
            } else {
                desc.inputs.iter().any(|i| i.path == path)
            };
            if present {
                let input = desc.inputs.iter().position(|i| i.path == path);
                return Source::Device {
                    index,
                    component: path,
                    input,
                    derivation,
                };
            }
        }
        Source::Unfed
    }

    /// `xrGetCurrentInteractionProfile`.
    pub fn current_interaction_profile(&self, top_level: PathId) -> Result<PathId> {
        let s = self.instance.path_to_string(top_level)?;
        let Some(user) = self::top_level(&self.instance, &s) else {
            return Err(Error::path_unsupported(format!(
                "{s} is not a top-level user path"
            )));
        };
        let input = self.input.lock();
        if input.attached.is_none() {
            return Err(Error::actionset_not_attached(
                "no action sets are attached to this session",
            ));
        }
        Ok(input.current_profile.get(&user).copied().unwrap_or(0))
    }

    /// `xrSyncActions`; `Ok(false)` means `XR_SESSION_NOT_FOCUSED`.
    pub fn sync_actions(&self, active: &[(Raw, PathId)]) -> Result<bool> {
        let mut input = self.input.lock();
        let mut scratch = std::mem::take(&mut input.scratch);
        let Some(attached) = input.attached.as_ref() else {
            return Err(Error::actionset_not_attached(
                "no action sets are attached to this session",
            ));
        };
        let active_sets = &mut scratch.active;
        active_sets.clear();
        for &(set_raw, sub) in active {
            let set = handles::get::<ActionSet>(Kind::ActionSet, set_raw)?;
            if !attached.contains(&set_raw) {
                return Err(Error::actionset_not_attached(format!(
                    "action set {} is not attached",
                    set.name
                )));
            }
            if sub != 0 {
                let s = self.instance.path_to_string(sub)?;
                let used = input.actions.values().any(|a| {
                    a.action.set_handle == set_raw && a.action.subaction_paths.contains(&sub)
                });
                if !used {
                    return Err(Error::path_unsupported(format!(
                        "no action of set {} has subaction path {s}",
                        set.name
                    )));
                }
            }
            active_sets.push((set_raw, set.priority, sub));
        }
        if input.rebind_needed {
            self.rebind(&mut input);
        }
        if std::mem::take(&mut input.profile_event_pending) {
            self.instance.push_event(Event::InteractionProfileChanged {
                session: self.handle(),
            });
        }
        let focused = self.is_focused();
        let now = Time::now();
        // Read each device once, into buffers kept between syncs.
        let device_values = &mut scratch.device_values;
        for &user in &TOP_LEVEL_PATHS[..2] {
            if let Some(i) = self.hub.device_for_user_path(user) {
                let pos = match device_values.iter().position(|(d, _)| *d == i) {
                    Some(p) => p,
                    None => {
                        device_values.push((i, Vec::new()));
                        device_values.len() - 1
                    }
                };
                self.hub.read_inputs(i, &mut device_values[pos].1);
            }
        }
        // Gestures of the tracked hands, once per sync, when bound.
        scratch.hands = [None; 2];
        let hands_bound = input.actions.values().any(|a| {
            a.bound
                .iter()
                .any(|b| matches!(b.source, Source::Hand { .. }))
        });
        if hands_bound {
            for (slot, hand) in scratch.hands.iter_mut().zip([Hand::Left, Hand::Right]) {
                *slot = self
                    .hub
                    .hand_joints(hand, now)
                    .map(|s| hand_interaction::gestures(&s.joints));
            }
        }
        // Highest priority among active sets for each bound source.
        let set_active = |set: Raw, b: &Bound| {
            active_sets
                .iter()
                .any(|&(s, _, sub)| s == set && (sub == 0 || sub == b.user_path))
        };
        let top_priority = &mut scratch.priority;
        top_priority.clear();
        for aa in input.actions.values() {
            let set = aa.action.set_handle;
            let prio = aa.action.set.priority;
            for b in &aa.bound {
                if set_active(set, b) {
                    let e = top_priority.entry(b.source_path).or_insert(prio);
                    *e = (*e).max(prio);
                }
            }
        }
        let InputState {
            actions,
            automation,
            memory,
            ..
        } = &mut *input;
        let values = &mut scratch.values;
        for aa in actions.values_mut() {
            let set = aa.action.set_handle;
            let prio = aa.action.set.priority;
            values.clear();
            for b in &aa.bound {
                if !focused
                    || !set_active(set, b)
                    || top_priority.get(&b.source_path).copied() != Some(prio)
                {
                    continue;
                }
                let auto = automation.get(b.user);
                if auto.and_then(|a| a.active).is_some_and(|(on, _)| !on) {
                    continue;
                }
                let v = source_value(aa.action.ty, b, auto, device_values, &scratch.hands, memory);
                if let Some(v) = v {
                    values.push((b.user_path, v));
                }
            }
            for key in std::iter::once(0).chain(aa.action.subaction_paths.iter().copied()) {
                let vs = values
                    .iter()
                    .filter(|(u, _)| key == 0 || *u == key)
                    .map(|(_, v)| *v);
                let new_active = vs.clone().next().is_some();
                let new_value = combine(aa.action.ty, vs);
                let prev = aa.states.get(&key).copied();
                let changed = new_active && prev.is_some_and(|p| p.active && p.value != new_value);
                // An inactive action reports lastChangeTime 0 (spec:
                // XrActionStateBoolean and the CTS's conformance layer).
                let last_change = match prev {
                    _ if !new_active => Time(0),
                    Some(p) if !changed && p.active => p.last_change,
                    _ => now,
                };
                aa.states.insert(
                    key,
                    State {
                        value: new_value,
                        changed,
                        last_change,
                        active: new_active,
                    },
                );
            }
        }
        for (index, output, v) in input.memory.haptics.drain(..) {
            self.hub.vibrate(index, &output, Some(v));
        }
        input.scratch = scratch;
        Ok(focused)
    }

    /// The state of an action for `xrGetActionState*`.
    pub fn action_state(
        &self,
        action: Raw,
        subaction: PathId,
        ty: xr::ActionType,
    ) -> Result<State> {
        let a = handles::get::<Action>(Kind::Action, action)?;
        if a.ty != ty {
            return Err(Error::action_type_mismatch(format!(
                "action {} is {:?}, not {ty:?}",
                a.name, a.ty
            )));
        }
        let input = self.input.lock();
        self.attached_action(&input, action)?;
        check_subaction(&self.instance, &a, subaction)?;
        Ok(input.actions[&action]
            .states
            .get(&subaction)
            .copied()
            .unwrap_or(State {
                value: combine(ty, []),
                changed: false,
                last_change: Time(0),
                active: false,
            }))
    }

    /// `xrEnumerateBoundSourcesForAction`.
    pub fn bound_sources(&self, action: Raw) -> Result<Vec<PathId>> {
        handles::get::<Action>(Kind::Action, action)?;
        let input = self.input.lock();
        self.attached_action(&input, action)?;
        let mut out = Vec::new();
        for b in &input.actions[&action].bound {
            if !out.contains(&b.source_path) {
                out.push(b.source_path);
            }
        }
        Ok(out)
    }

    /// `xrGetInputSourceLocalizedName`.
    pub fn localized_source_name(
        &self,
        source: PathId,
        which: xr::InputSourceLocalizedNameFlags,
    ) -> Result<String> {
        if which.is_empty() {
            return Err(Error::validation("whichComponents must not be 0"));
        }
        let path = self.instance.path_to_string(source)?;
        let input = self.input.lock();
        if input.attached.is_none() {
            return Err(Error::actionset_not_attached(
                "no action sets are attached to this session",
            ));
        }
        let bound = input
            .actions
            .values()
            .flat_map(|a| a.bound.iter())
            .find(|b| b.source_path == source)
            .ok_or_else(|| Error::path_unsupported(format!("{path} is not a bound source")))?;
        let mut parts = Vec::new();
        if which.contains(xr::InputSourceLocalizedNameFlags::USER_PATH) {
            parts.push(match bound.user {
                "/user/hand/left" => "Left Hand".to_string(),
                "/user/hand/right" => "Right Hand".to_string(),
                EYES => "Eyes".to_string(),
                other => title(other.rsplit('/').next().unwrap_or(other)),
            });
        }
        if which.contains(xr::InputSourceLocalizedNameFlags::INTERACTION_PROFILE) {
            let p = self.instance.path_to_string(bound.profile)?;
            parts.push(
                self.instance
                    .profile(&p)
                    .map(|p| p.localized_name.to_string())
                    .unwrap_or(p),
            );
        }
        if which.contains(xr::InputSourceLocalizedNameFlags::COMPONENT) {
            let comp = bound
                .component
                .trim_start_matches("input/")
                .trim_start_matches("output/");
            // `pinch_ext/ready_ext` reads "Pinch Ready".
            let words = comp.replace("_ext", "");
            parts.push(words.split('/').map(title).collect::<Vec<_>>().join(" "));
        }
        Ok(parts.join(" "))
    }

    /// `xrApplyHapticFeedback` / `xrStopHapticFeedback` (`None`); `Ok(false)`
    /// means `XR_SESSION_NOT_FOCUSED` (nothing played).
    pub fn haptic(
        &self,
        action: Raw,
        subaction: PathId,
        vibration: Option<Vibration>,
    ) -> Result<bool> {
        let a = handles::get::<Action>(Kind::Action, action)?;
        if a.ty != xr::ActionType::VIBRATION_OUTPUT {
            return Err(Error::action_type_mismatch(format!(
                "action {} is not a vibration output",
                a.name
            )));
        }
        let input = self.input.lock();
        self.attached_action(&input, action)?;
        check_subaction(&self.instance, &a, subaction)?;
        if !self.is_focused() && vibration.is_some() {
            return Ok(false);
        }
        for b in &input.actions[&action].bound {
            if subaction != 0 && b.user_path != subaction {
                continue;
            }
            if let Source::Device {
                index, component, ..
            } = &b.source
            {
                let v = vibration.map(|mut v| {
                    if v.duration.0 <= 0 {
                        v.duration = Duration::from_nanos(10_000_000);
                    }
                    v
                });
                self.hub.vibrate(*index, component, v);
            }
        }
        Ok(true)
    }

    /// `stage_from_pose` of a pose action for an action space at `t`.
    pub(crate) fn action_pose_in_stage(
        &self,
        action: Raw,
        subaction: PathId,
        t: Time,
    ) -> Option<StagePose> {
        let input = self.input.lock();
        let aa = input.actions.get(&action)?;
        let active_state = aa.states.get(&subaction).copied()?;
        if !active_state.active {
            return None;
        }
        let b = aa
            .bound
            .iter()
            .find(|b| subaction == 0 || b.user_path == subaction)?
            .clone();
        let auto = input
            .automation
            .get(b.user)
            .and_then(|a| a.locations.get(&b.component))
            .copied();
        drop(input);
        if let Some((space_raw, pose)) = auto {
            let space = handles::get::<crate::space::Space>(Kind::Space, space_raw).ok()?;
            let s = space.in_stage(t)?;
            return Some(StagePose {
                pose: s.pose.mul(&pose),
                velocity: Velocity::default(),
                tracked: true,
            });
        }
        if let Source::EyeGaze = b.source {
            let (pose, tracked) = self.hub.eye_gaze(t)?;
            return Some(StagePose {
                pose,
                velocity: Velocity::default(),
                tracked,
            });
        }
        if let Source::Hand { hand, part } = b.source {
            let joints = self.hub.hand_joints(hand, t)?.joints;
            let head = self.hub.head(t).map(|h| h.pose);
            let (pose, velocity, tracked) = hand_interaction::pose(&joints, hand, part, head)?;
            return Some(StagePose {
                pose,
                velocity,
                tracked,
            });
        }
        let Source::Device {
            index,
            component,
            derivation,
            ..
        } = &b.source
        else {
            return None;
        };
        let p = self.hub.pose(*index, component, t)?;
        let pose = match derivation {
            Derivation::PoseOffset(off) => p.pose.mul(off),
            _ => p.pose,
        };
        Some(StagePose {
            pose,
            velocity: p.velocity,
            tracked: p.position_tracked && p.orientation_tracked,
        })
    }

    /// `xrSetInputDeviceActiveEXT`.
    pub fn automation_set_active(
        &self,
        profile: PathId,
        top_level: PathId,
        active: bool,
    ) -> Result<()> {
        let user = self.automation_user(top_level)?;
        let p = self.instance.path_to_string(profile)?;
        self.instance.profile(&p)?;
        let mut input = self.input.lock();
        input.automation.entry(user).or_default().active = Some((active, profile));
        input.rebind_needed = true;
        Ok(())
    }

    fn automation_user(&self, top_level: PathId) -> Result<&'static str> {
        let s = self.instance.path_to_string(top_level)?;
        self::top_level(&self.instance, &s)
            .ok_or_else(|| Error::path_unsupported(format!("{s} is not a top-level user path")))
    }

    fn automation_component(&self, user: &str, source: PathId, kind: InputKind) -> Result<String> {
        let s = self.instance.path_to_string(source)?;
        let comp = s
            .strip_prefix(user)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| Error::path_unsupported(format!("{s} is not under {user}")))?;
        let known = self
            .instance
            .profiles()
            .iter()
            .flat_map(|p| p.components.iter())
            .any(|c| c.user_path == user && c.path == comp && c.kind == ComponentKind::Input(kind));
        if !known {
            return Err(Error::path_unsupported(format!(
                "{s} is not a {kind:?} input of any profile"
            )));
        }
        Ok(comp.to_owned())
    }

    /// `xrSetInputDeviceState*EXT`.
    pub fn automation_set_value(
        &self,
        top_level: PathId,
        source: PathId,
        value: InputValue,
    ) -> Result<()> {
        let user = self.automation_user(top_level)?;
        let kind = match value {
            InputValue::Boolean(_) => InputKind::Boolean,
            InputValue::Float(_) => InputKind::Float,
            InputValue::Vector2(_) => InputKind::Vector2,
        };
        let comp = self.automation_component(user, source, kind)?;
        self.input
            .lock()
            .automation
            .entry(user)
            .or_default()
            .values
            .insert(comp, value);
        Ok(())
    }

    /// `xrSetInputDeviceLocationEXT`.
    pub fn automation_set_location(
        &self,
        top_level: PathId,
        source: PathId,
        space: Raw,
        pose: Pose,
    ) -> Result<()> {
        let user = self.automation_user(top_level)?;
        let comp = self.automation_component(user, source, InputKind::Pose)?;
        crate::space::check_pose(&pose)?;
        self.input
            .lock()
            .automation
            .entry(user)
            .or_default()
            .locations
            .insert(comp, (space, pose));
        Ok(())
    }
}

fn check_subaction(instance: &Instance, a: &Action, subaction: PathId) -> Result<()> {
    if subaction == 0 {
        return Ok(());
    }
    let s = instance.path_to_string(subaction)?;
    if !a.subaction_paths.contains(&subaction) {
        return Err(Error::path_unsupported(format!(
            "{s} is not a subaction path of action {}",
            a.name
        )));
    }
    Ok(())
}

fn title(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c)
            .collect::<String>()
            .replace('_', " "),
        None => String::new(),
    }
}

/// The hysteresis of a float read as a boolean: on at `on`, off below `off`.
fn threshold(
    thresholds: &mut HashMap<ThresholdKey, bool>,
    key: ThresholdKey,
    f: f32,
    (on, off): (f32, f32),
) -> bool {
    let was = thresholds.get(&key).copied().unwrap_or(false);
    let now = if was { f > off } else { f >= on };
    thresholds.insert(key, now);
    now
}

/// A controller's analog input as a click.
const INPUT_CLICK: (f32, f32) = (0.55, 0.45);
/// A hand gesture as a click: a pinch clicks when the tips (nearly) touch,
/// and lets go when they part by about a centimetre.
const GESTURE_CLICK: (f32, f32) = (0.9, 0.75);

/// Reads one bound source and converts it to the action's type.
fn source_value(
    ty: xr::ActionType,
    b: &Bound,
    auto: Option<&AutomatedDevice>,
    device_values: &[(DeviceIndex, Vec<Option<InputValue>>)],
    hands: &[Option<Gestures>; 2],
    memory: &mut Memory,
) -> Option<Value> {
    let thresholds = &mut memory.thresholds;
    let hand_gestures = |hand: Hand| hands[usize::from(hand == Hand::Right)];
    if matches!(
        ty,
        xr::ActionType::POSE_INPUT | xr::ActionType::VIBRATION_OUTPUT
    ) {
        let fed = auto.is_some_and(|a| {
            a.active.is_some_and(|(on, _)| on) || a.locations.contains_key(&b.component)
        }) || match b.source {
            Source::Device { .. } | Source::EyeGaze => true,
            // A bare hand's pose is there while the hand is tracked.
            Source::Hand { hand, .. } => hand_gestures(hand).is_some(),
            Source::Unfed => false,
        };
        return fed.then_some(Value::None);
    }
    let mut key = None;
    let mut click = INPUT_CLICK;
    let raw = if let Some(v) = auto.and_then(|a| a.values.get(&b.component)) {
        *v
    } else if let Some(d) = &b.dpad {
        let on = dpad_value(
            d,
            &b.source,
            auto,
            device_values,
            &mut memory.dpads,
            &mut memory.haptics,
        )?;
        InputValue::Boolean(on)
    } else if auto.is_some_and(|a| a.active.is_some_and(|(on, _)| on))
        && !matches!(b.source, Source::Device { .. })
    {
        InputValue::neutral(match ty {
            xr::ActionType::BOOLEAN_INPUT => InputKind::Boolean,
            xr::ActionType::FLOAT_INPUT => InputKind::Float,
            _ => InputKind::Vector2,
        })?
    } else if let Source::Hand { hand, part } = b.source {
        key = Some(ThresholdKey::Hand(hand, part));
        click = GESTURE_CLICK;
        InputValue::Float(hand_gestures(hand)?.value(part)?)
    } else {
        let Source::Device {
            index,
            input: Some(input),
            derivation,
            ..
        } = &b.source
        else {
            return None;
        };
        let values = &device_values.iter().find(|(d, _)| d == index)?.1;
        let v = (*values.get(*input)?)?;
        key = Some(ThresholdKey::Input(*index, *input));
        match (derivation, v) {
            (Derivation::Axis(i), InputValue::Vector2(xy)) => InputValue::Float(xy[*i]),
            (Derivation::Threshold, InputValue::Float(f)) => {
                InputValue::Boolean(threshold(thresholds, key?, f, INPUT_CLICK))
            }
            (Derivation::BoolToFloat, InputValue::Boolean(x)) => {
                InputValue::Float(if x { 1.0 } else { 0.0 })
            }
            (Derivation::Ready, _) => InputValue::Boolean(true),
            (_, v) => v,
        }
    };
    Some(match (ty, raw) {
        (xr::ActionType::BOOLEAN_INPUT, InputValue::Boolean(x)) => Value::Boolean(x),
        (xr::ActionType::BOOLEAN_INPUT, InputValue::Float(f)) => Value::Boolean(match key {
            Some(k) => threshold(thresholds, k, f, click),
            None => f >= 0.5,
        }),
        (xr::ActionType::FLOAT_INPUT, InputValue::Float(f)) => Value::Float(f),
        (xr::ActionType::FLOAT_INPUT, InputValue::Boolean(x)) => {
            Value::Float(if x { 1.0 } else { 0.0 })
        }
        (xr::ActionType::VECTOR2F_INPUT, InputValue::Vector2(v)) => Value::Vector2(v),
        _ => return None,
    })
}

/// A direction of a pad, read from its thumbstick or trackpad (automated
/// or on the device) and the pad's memory.
fn dpad_value(
    d: &DpadBound,
    source: &Source,
    auto: Option<&AutomatedDevice>,
    device_values: &[(DeviceIndex, Vec<Option<InputValue>>)],
    dpads: &mut HashMap<dpad::Key, dpad::State>,
    haptics: &mut Vec<(DeviceIndex, String, Vibration)>,
) -> Option<bool> {
    let parent = d.key.parent;
    let automated = auto.is_some_and(|a| a.active.is_some_and(|(on, _)| on));
    let auto_value = |c: &str| auto.and_then(|a| a.values.get(c)).copied();
    let device = match source {
        Source::Device {
            index,
            input: Some(input),
            ..
        } => device_values
            .iter()
            .find(|(i, _)| i == index)
            .map(|(_, v)| (v, *input)),
        _ => None,
    };
    let xy = match auto_value(parent.component()) {
        Some(InputValue::Vector2(v)) => v,
        _ => match device.and_then(|(v, i)| *v.get(i)?) {
            Some(InputValue::Vector2(v)) => v,
            _ if automated => Vec2::ZERO,
            _ => return None,
        },
    };
    let as_force = |v: InputValue| match v {
        InputValue::Float(f) => Some(f),
        InputValue::Boolean(b) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    };
    // A thumbstick presses by how far it is pushed; a trackpad by its force
    // or click, where it has one, else (touch-only pads) by the position.
    let force = match parent {
        dpad::Parent::Thumbstick => xy.length(),
        dpad::Parent::Trackpad => auto_value("input/trackpad/force")
            .or_else(|| auto_value("input/trackpad/click"))
            .or_else(|| {
                let (values, _) = device?;
                (*values.get(d.force_input?)?).filter(|_| !automated)
            })
            .and_then(as_force)
            .unwrap_or(if automated { 0.0 } else { xy.length() }),
    };
    let state = dpads.entry(d.key).or_default();
    let t = state.update(&d.params, xy, force, parent);
    if let Some((index, output)) = &d.haptic {
        for (happened, v) in [
            (t.turned_on, d.params.on_haptic),
            (t.turned_off, d.params.off_haptic),
        ] {
            if let (true, Some(v)) = (happened, v) {
                haptics.push((*index, output.clone(), v));
            }
        }
    }
    Some(state.is_on(d.direction))
}

/// Combines the values of several sources as the spec says: OR for
/// booleans, the largest magnitude for floats and vectors.
fn combine(ty: xr::ActionType, vs: impl IntoIterator<Item = Value>) -> Value {
    let mut vs = vs.into_iter();
    match ty {
        xr::ActionType::BOOLEAN_INPUT => Value::Boolean(vs.any(|v| v == Value::Boolean(true))),
        xr::ActionType::FLOAT_INPUT => Value::Float(vs.fold(0.0f32, |a, v| match v {
            Value::Float(f) if f.abs() > a.abs() => f,
            _ => a,
        })),
        xr::ActionType::VECTOR2F_INPUT => Value::Vector2(vs.fold(Vec2::ZERO, |a, v| match v {
            Value::Vector2(x) if x.length() > a.length() => x,
            _ => a,
        })),
        _ => Value::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_rules() {
        assert_eq!(
            combine(
                xr::ActionType::BOOLEAN_INPUT,
                [Value::Boolean(false), Value::Boolean(true)]
            ),
            Value::Boolean(true)
        );
        assert_eq!(
            combine(
                xr::ActionType::FLOAT_INPUT,
                [Value::Float(0.3), Value::Float(-0.7)]
            ),
            Value::Float(-0.7)
        );
        assert_eq!(
            combine(
                xr::ActionType::VECTOR2F_INPUT,
                [
                    Value::Vector2(Vec2::new(0.1, 0.0)),
                    Value::Vector2(Vec2::new(0.0, 0.5))
                ]
            ),
            Value::Vector2(Vec2::new(0.0, 0.5))
        );
        assert_eq!(
            split_binding("/user/hand/left/input/x/click"),
            Some(("/user/hand/left", "input/x/click"))
        );
        assert_eq!(split_binding("/user/hand/left"), None);
        assert_eq!(split_binding("/user/hand/leftx/input"), None);
    }
}
