//! Action entry points: action sets, actions, bindings, sync, state,
//! haptics, and `XR_EXT_conformance_automation`.

use super::instance::instance;
use super::session::session;
use super::{fixed_str, guard, input, out_ptr, output, slice, to_pose, two_call, two_call_string};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::action::{self as act, Value};
use parallax_runtime::{handles, handles::Kind, Error};
use parallax_sdk::types::Duration;
use parallax_sdk::{InputValue, Vibration};
use std::ffi::c_char;

/// [xrCreateActionSet](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateActionSet)
pub unsafe extern "system" fn xrCreateActionSet(
    h: xr::Instance,
    info: *const xr::ActionSetCreateInfo,
    out: *mut xr::ActionSet,
) -> xr::Result {
    guard("xrCreateActionSet", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::ActionSetCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "actionSet")? };
        let name = fixed_str(&info.action_set_name, "actionSetName")?;
        let localized = fixed_str(&info.localized_action_set_name, "localizedActionSetName")?;
        let raw = act::create_action_set(&i, name, localized, info.priority)?;
        *out = xr::ActionSet::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyActionSet](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyActionSet)
pub unsafe extern "system" fn xrDestroyActionSet(h: xr::ActionSet) -> xr::Result {
    guard("xrDestroyActionSet", |_| {
        handles::remove(Kind::ActionSet, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrCreateAction](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateAction)
pub unsafe extern "system" fn xrCreateAction(
    h: xr::ActionSet,
    info: *const xr::ActionCreateInfo,
    out: *mut xr::Action,
) -> xr::Result {
    guard("xrCreateAction", |ctx| {
        let set = handles::get::<act::ActionSet>(Kind::ActionSet, h.into_raw())?;
        ctx.instance = Some(set.instance.clone());
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::ActionCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "action")? };
        let name = fixed_str(&info.action_name, "actionName")?;
        let localized = fixed_str(&info.localized_action_name, "localizedActionName")?;
        // SAFETY: count_subaction_paths paths by contract.
        let subs: Vec<u64> = unsafe {
            slice(
                info.subaction_paths,
                info.count_subaction_paths,
                "subactionPaths",
            )?
        }
        .iter()
        .map(|p| p.into_raw())
        .collect();
        let raw = act::create_action(h.into_raw(), name, localized, info.action_type, &subs)?;
        *out = xr::Action::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyAction](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyAction)
pub unsafe extern "system" fn xrDestroyAction(h: xr::Action) -> xr::Result {
    guard("xrDestroyAction", |_| {
        handles::remove(Kind::Action, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSuggestInteractionProfileBindings](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSuggestInteractionProfileBindings)
pub unsafe extern "system" fn xrSuggestInteractionProfileBindings(
    h: xr::Instance,
    info: *const xr::InteractionProfileSuggestedBinding,
) -> xr::Result {
    guard("xrSuggestInteractionProfileBindings", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe {
            input(
                info,
                xr::InteractionProfileSuggestedBinding::TYPE,
                "suggestedBindings",
            )?
        };
        // SAFETY: count_suggested_bindings elements by contract.
        let b: Vec<(u64, u64)> = unsafe {
            slice(
                info.suggested_bindings,
                info.count_suggested_bindings,
                "suggestedBindings",
            )?
        }
        .iter()
        .map(|b| (b.action.into_raw(), b.binding.into_raw()))
        .collect();
        // SAFETY: the chain of this function's input, by contract.
        let dpads = unsafe { dpad_modifications(&i, info.next)? };
        act::suggest_bindings(&i, info.interaction_profile.into_raw(), &b, &dpads)?;
        Ok(xr::Result::SUCCESS)
    })
}

/// The `XrInteractionProfileDpadBindingEXT`s in an `XrBindingModificationsKHR`
/// of a suggestion's chain (when both extensions are enabled; otherwise the
/// chain is not read, as for any structure of an extension not enabled).
///
/// # Safety
/// `next` is a valid input chain.
unsafe fn dpad_modifications(
    i: &parallax_runtime::instance::Instance,
    mut next: *const std::ffi::c_void,
) -> parallax_runtime::Result<Vec<act::DpadSuggestion>> {
    let mut out = Vec::new();
    if !(i.has_extension("XR_KHR_binding_modification") && i.has_extension("XR_EXT_dpad_binding")) {
        return Ok(out);
    }
    while !next.is_null() {
        // SAFETY: every chain element starts with XrBaseInStructure.
        let base = unsafe { &*(next as *const xr::BaseInStructure) };
        if base.ty == xr::BindingModificationsKHR::TYPE {
            // SAFETY: the type says it is an XrBindingModificationsKHR.
            let m = unsafe { &*(next as *const xr::BindingModificationsKHR) };
            // SAFETY: binding_modification_count pointers by contract.
            let list = unsafe {
                slice(
                    m.binding_modifications,
                    m.binding_modification_count,
                    "bindingModifications",
                )?
            };
            for &p in list {
                if p.is_null() {
                    return Err(Error::validation("a bindingModifications entry is NULL"));
                }
                // SAFETY: each a binding modification structure by contract.
                let ty = unsafe { (*p).ty };
                if ty != xr::InteractionProfileDpadBindingEXT::TYPE {
                    continue;
                }
                // SAFETY: the type says it is an XrInteractionProfileDpadBindingEXT.
                let d = unsafe { &*(p as *const xr::InteractionProfileDpadBindingEXT) };
                let haptic = |h: *const xr::HapticBaseHeader,
                              what: &str|
                 -> parallax_runtime::Result<_> {
                    if h.is_null() {
                        return Ok(None);
                    }
                    // SAFETY: a haptic structure by contract; its type is checked.
                    let v = unsafe {
                        input(
                            h as *const xr::HapticVibration,
                            xr::HapticVibration::TYPE,
                            what,
                        )?
                    };
                    if !(v.amplitude.is_finite() && v.frequency.is_finite()) || v.frequency < 0.0 {
                        return Err(Error::validation(format!(
                            "{what}: amplitude and frequency must be finite, frequency non-negative"
                        )));
                    }
                    Ok(Some(Vibration {
                        duration: Duration::from_nanos(v.duration.as_nanos().max(0)),
                        frequency: v.frequency,
                        amplitude: v.amplitude.clamp(0.0, 1.0),
                    }))
                };
                out.push(act::DpadSuggestion {
                    binding: d.binding.into_raw(),
                    action_set: d.action_set.into_raw(),
                    params: parallax_runtime::dpad::Params {
                        force_threshold: d.force_threshold,
                        force_threshold_released: d.force_threshold_released,
                        center_region: d.center_region,
                        wedge_angle: d.wedge_angle,
                        is_sticky: d.is_sticky.into(),
                        on_haptic: haptic(d.on_haptic, "onHaptic")?,
                        off_haptic: haptic(d.off_haptic, "offHaptic")?,
                    },
                });
            }
        }
        next = base.next as *const std::ffi::c_void;
    }
    Ok(out)
}

/// [xrAttachSessionActionSets](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrAttachSessionActionSets)
pub unsafe extern "system" fn xrAttachSessionActionSets(
    h: xr::Session,
    info: *const xr::SessionActionSetsAttachInfo,
) -> xr::Result {
    guard("xrAttachSessionActionSets", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SessionActionSetsAttachInfo::TYPE, "attachInfo")? };
        // SAFETY: count_action_sets handles by contract.
        let sets: Vec<u64> =
            unsafe { slice(info.action_sets, info.count_action_sets, "actionSets")? }
                .iter()
                .map(|a| a.into_raw())
                .collect();
        s.attach(&sets)?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetCurrentInteractionProfile](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetCurrentInteractionProfile)
pub unsafe extern "system" fn xrGetCurrentInteractionProfile(
    h: xr::Session,
    top: xr::Path,
    state: *mut xr::InteractionProfileState,
) -> xr::Result {
    guard("xrGetCurrentInteractionProfile", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe {
            output(
                state,
                xr::InteractionProfileState::TYPE,
                "interactionProfile",
            )?
        };
        out.interaction_profile =
            xr::Path::from_raw(s.current_interaction_profile(top.into_raw())?);
        Ok(xr::Result::SUCCESS)
    })
}

macro_rules! state_getter {
    ($name:ident, $out:ty, $ty:expr, |$o:ident, $st:ident| $fill:block) => {
        #[doc = concat!("[", stringify!($name), "](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#", stringify!($name), ")")]
        pub unsafe extern "system" fn $name(h: xr::Session, info: *const xr::ActionStateGetInfo, state: *mut $out) -> xr::Result {
            guard(stringify!($name), |ctx| {
                let s = session(ctx, h)?;
                // SAFETY: contract of this function.
                let info = unsafe { input(info, xr::ActionStateGetInfo::TYPE, "getInfo")? };
                // SAFETY: contract of this function.
                let $o = unsafe { output(state, <$out>::TYPE, "state")? };
                let $st = s.action_state(info.action.into_raw(), info.subaction_path.into_raw(), $ty)?;
                $fill
                Ok(xr::Result::SUCCESS)
            })
        }
    };
}

state_getter!(
    xrGetActionStateBoolean,
    xr::ActionStateBoolean,
    xr::ActionType::BOOLEAN_INPUT,
    |o, st| {
        o.current_state = (st.value == Value::Boolean(true)).into();
        o.changed_since_last_sync = st.changed.into();
        o.last_change_time = xr::Time::from_nanos(st.last_change.0);
        o.is_active = st.active.into();
    }
);

state_getter!(
    xrGetActionStateFloat,
    xr::ActionStateFloat,
    xr::ActionType::FLOAT_INPUT,
    |o, st| {
        o.current_state = if let Value::Float(f) = st.value {
            f
        } else {
            0.0
        };
        o.changed_since_last_sync = st.changed.into();
        o.last_change_time = xr::Time::from_nanos(st.last_change.0);
        o.is_active = st.active.into();
    }
);

state_getter!(
    xrGetActionStateVector2f,
    xr::ActionStateVector2f,
    xr::ActionType::VECTOR2F_INPUT,
    |o, st| {
        let v = if let Value::Vector2(v) = st.value {
            v
        } else {
            glam::Vec2::ZERO
        };
        o.current_state = xr::Vector2f { x: v.x, y: v.y };
        o.changed_since_last_sync = st.changed.into();
        o.last_change_time = xr::Time::from_nanos(st.last_change.0);
        o.is_active = st.active.into();
    }
);

state_getter!(
    xrGetActionStatePose,
    xr::ActionStatePose,
    xr::ActionType::POSE_INPUT,
    |o, st| {
        o.is_active = st.active.into();
    }
);

/// [xrSyncActions](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSyncActions)
pub unsafe extern "system" fn xrSyncActions(
    h: xr::Session,
    info: *const xr::ActionsSyncInfo,
) -> xr::Result {
    guard("xrSyncActions", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::ActionsSyncInfo::TYPE, "syncInfo")? };
        // SAFETY: count_active_action_sets elements by contract.
        let active: Vec<(u64, u64)> = unsafe {
            slice(
                info.active_action_sets,
                info.count_active_action_sets,
                "activeActionSets",
            )?
        }
        .iter()
        .map(|a| (a.action_set.into_raw(), a.subaction_path.into_raw()))
        .collect();
        let focused = s.sync_actions(&active)?;
        if s.state() == xr::SessionState::LOSS_PENDING {
            return Ok(xr::Result::SESSION_LOSS_PENDING);
        }
        Ok(if focused {
            xr::Result::SUCCESS
        } else {
            xr::Result::SESSION_NOT_FOCUSED
        })
    })
}

/// [xrEnumerateBoundSourcesForAction](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateBoundSourcesForAction)
pub unsafe extern "system" fn xrEnumerateBoundSourcesForAction(
    h: xr::Session,
    info: *const xr::BoundSourcesForActionEnumerateInfo,
    capacity: u32,
    count: *mut u32,
    sources: *mut xr::Path,
) -> xr::Result {
    guard("xrEnumerateBoundSourcesForAction", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe {
            input(
                info,
                xr::BoundSourcesForActionEnumerateInfo::TYPE,
                "enumerateInfo",
            )?
        };
        let list = s.bound_sources(info.action.into_raw())?;
        // SAFETY: two-call contract of this function.
        unsafe {
            two_call(capacity, count, sources, list.len(), |p, i| {
                *p = xr::Path::from_raw(list[i]);
                Ok(())
            })
        }
    })
}

/// [xrGetInputSourceLocalizedName](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetInputSourceLocalizedName)
pub unsafe extern "system" fn xrGetInputSourceLocalizedName(
    h: xr::Session,
    info: *const xr::InputSourceLocalizedNameGetInfo,
    capacity: u32,
    count: *mut u32,
    buffer: *mut c_char,
) -> xr::Result {
    guard("xrGetInputSourceLocalizedName", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::InputSourceLocalizedNameGetInfo::TYPE, "getInfo")? };
        let all = xr::InputSourceLocalizedNameFlags::USER_PATH
            | xr::InputSourceLocalizedNameFlags::INTERACTION_PROFILE
            | xr::InputSourceLocalizedNameFlags::COMPONENT;
        if !all.contains(info.which_components) {
            return Err(Error::validation("whichComponents has unknown bits"));
        }
        let name = s.localized_source_name(info.source_path.into_raw(), info.which_components)?;
        // SAFETY: two-call contract of this function.
        unsafe { two_call_string(capacity, count, buffer, &name) }
    })
}

/// [xrApplyHapticFeedback](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrApplyHapticFeedback)
pub unsafe extern "system" fn xrApplyHapticFeedback(
    h: xr::Session,
    info: *const xr::HapticActionInfo,
    feedback: *const xr::HapticBaseHeader,
) -> xr::Result {
    guard("xrApplyHapticFeedback", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::HapticActionInfo::TYPE, "hapticActionInfo")? };
        // SAFETY: contract of this function; the type is checked before the cast.
        let v = unsafe {
            input(
                feedback as *const xr::HapticVibration,
                xr::HapticVibration::TYPE,
                "hapticFeedback",
            )?
        };
        if !(v.amplitude.is_finite() && v.frequency.is_finite()) || v.frequency < 0.0 {
            return Err(Error::validation(
                "haptic amplitude and frequency must be finite, frequency non-negative",
            ));
        }
        let vib = Vibration {
            duration: Duration::from_nanos(v.duration.as_nanos()),
            frequency: v.frequency,
            amplitude: v.amplitude.clamp(0.0, 1.0),
        };
        let played = s.haptic(
            info.action.into_raw(),
            info.subaction_path.into_raw(),
            Some(vib),
        )?;
        Ok(if played {
            xr::Result::SUCCESS
        } else {
            xr::Result::SESSION_NOT_FOCUSED
        })
    })
}

/// [xrStopHapticFeedback](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrStopHapticFeedback)
pub unsafe extern "system" fn xrStopHapticFeedback(
    h: xr::Session,
    info: *const xr::HapticActionInfo,
) -> xr::Result {
    guard("xrStopHapticFeedback", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::HapticActionInfo::TYPE, "hapticActionInfo")? };
        s.haptic(info.action.into_raw(), info.subaction_path.into_raw(), None)?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSetInputDeviceActiveEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSetInputDeviceActiveEXT)
pub unsafe extern "system" fn xrSetInputDeviceActiveEXT(
    h: xr::Session,
    profile: xr::Path,
    top: xr::Path,
    active: xr::Bool32,
) -> xr::Result {
    guard("xrSetInputDeviceActiveEXT", |ctx| {
        let s = session(ctx, h)?;
        s.automation_set_active(profile.into_raw(), top.into_raw(), active.into())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSetInputDeviceStateBoolEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSetInputDeviceStateBoolEXT)
pub unsafe extern "system" fn xrSetInputDeviceStateBoolEXT(
    h: xr::Session,
    top: xr::Path,
    source: xr::Path,
    state: xr::Bool32,
) -> xr::Result {
    guard("xrSetInputDeviceStateBoolEXT", |ctx| {
        let s = session(ctx, h)?;
        s.automation_set_value(
            top.into_raw(),
            source.into_raw(),
            InputValue::Boolean(state.into()),
        )?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSetInputDeviceStateFloatEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSetInputDeviceStateFloatEXT)
pub unsafe extern "system" fn xrSetInputDeviceStateFloatEXT(
    h: xr::Session,
    top: xr::Path,
    source: xr::Path,
    state: f32,
) -> xr::Result {
    guard("xrSetInputDeviceStateFloatEXT", |ctx| {
        let s = session(ctx, h)?;
        if !state.is_finite() {
            return Err(Error::validation("state must be finite"));
        }
        s.automation_set_value(top.into_raw(), source.into_raw(), InputValue::Float(state))?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSetInputDeviceStateVector2fEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSetInputDeviceStateVector2fEXT)
pub unsafe extern "system" fn xrSetInputDeviceStateVector2fEXT(
    h: xr::Session,
    top: xr::Path,
    source: xr::Path,
    state: xr::Vector2f,
) -> xr::Result {
    guard("xrSetInputDeviceStateVector2fEXT", |ctx| {
        let s = session(ctx, h)?;
        let v = glam::Vec2::new(state.x, state.y);
        if !v.is_finite() {
            return Err(Error::validation("state must be finite"));
        }
        s.automation_set_value(top.into_raw(), source.into_raw(), InputValue::Vector2(v))?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSetInputDeviceLocationEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSetInputDeviceLocationEXT)
pub unsafe extern "system" fn xrSetInputDeviceLocationEXT(
    h: xr::Session,
    top: xr::Path,
    source: xr::Path,
    space: xr::Space,
    pose: xr::Posef,
) -> xr::Result {
    guard("xrSetInputDeviceLocationEXT", |ctx| {
        let s = session(ctx, h)?;
        let sp = handles::get::<parallax_runtime::space::Space>(Kind::Space, space.into_raw())?;
        if !std::sync::Arc::ptr_eq(&sp.session, &s) {
            return Err(Error::validation("space belongs to another session"));
        }
        s.automation_set_location(
            top.into_raw(),
            source.into_raw(),
            space.into_raw(),
            to_pose(&pose),
        )?;
        Ok(xr::Result::SUCCESS)
    })
}
