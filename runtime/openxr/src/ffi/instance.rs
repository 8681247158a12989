//! Instance-level entry points: creation, properties, events, paths, the
//! system and its view configurations, time conversion.

use super::{
    c_str, fixed_str, guard, input, out_ptr, output, slice, two_call_string, two_call_typed,
    write_fixed, Ctx,
};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::instance::{
    self as inst, Event, Instance, InstanceInfo, EXTENSIONS, SYSTEM_ID,
};
use parallax_runtime::session::{BLEND_MODES, MAX_LAYERS};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use std::ffi::c_char;
use std::sync::Arc;

/// Looks up an instance handle and records it for failure reports.
pub fn instance(ctx: &mut Ctx, h: xr::Instance) -> Result<Arc<Instance>> {
    let i = handles::get::<Instance>(Kind::Instance, h.into_raw())?;
    ctx.instance = Some(i.clone());
    ctx.objects.push((xr::ObjectType::INSTANCE, h.into_raw()));
    Ok(i)
}

/// [xrEnumerateApiLayerProperties](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateApiLayerProperties):
/// the runtime itself provides no API layers (the loader lists its own).
pub unsafe extern "system" fn xrEnumerateApiLayerProperties(
    capacity: u32,
    count: *mut u32,
    props: *mut xr::ApiLayerProperties,
) -> xr::Result {
    guard("xrEnumerateApiLayerProperties", |_| {
        // SAFETY: two-call contract of this function.
        unsafe {
            two_call_typed(
                capacity,
                count,
                props,
                0,
                xr::StructureType::API_LAYER_PROPERTIES,
                |_, _| Ok(()),
            )
        }
    })
}

/// [xrEnumerateInstanceExtensionProperties](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateInstanceExtensionProperties)
pub unsafe extern "system" fn xrEnumerateInstanceExtensionProperties(
    layer_name: *const c_char,
    capacity: u32,
    count: *mut u32,
    props: *mut xr::ExtensionProperties,
) -> xr::Result {
    guard("xrEnumerateInstanceExtensionProperties", |_| {
        if !layer_name.is_null() {
            // SAFETY: non-null, NUL-terminated by contract.
            let layer = unsafe { c_str(layer_name, "layerName")? };
            return Err(Error::api_layer_not_present(format!(
                "API layer {layer} is not provided by the runtime"
            )));
        }
        // SAFETY: two-call contract of this function.
        unsafe {
            two_call_typed(
                capacity,
                count,
                props,
                EXTENSIONS.len(),
                xr::StructureType::EXTENSION_PROPERTIES,
                |p, i| {
                    write_fixed(&mut p.extension_name, EXTENSIONS[i].0);
                    p.extension_version = EXTENSIONS[i].1;
                    Ok(())
                },
            )
        }
    })
}

/// [xrCreateInstance](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateInstance)
pub unsafe extern "system" fn xrCreateInstance(
    create_info: *const xr::InstanceCreateInfo,
    out: *mut xr::Instance,
) -> xr::Result {
    guard("xrCreateInstance", |_| {
        // SAFETY: contract of this function.
        let ci = unsafe { input(create_info, xr::InstanceCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "instance")? };
        if ci.create_flags != xr::InstanceCreateFlags::EMPTY {
            return Err(Error::validation("createFlags must be 0"));
        }
        let app = &ci.application_info;
        let name = fixed_str(&app.application_name, "applicationName")?;
        if name.is_empty() {
            return Err(Error::name_invalid("applicationName is empty"));
        }
        let engine = fixed_str(&app.engine_name, "engineName")?;
        // API layers are resolved by the loader; the names must still be readable.
        // SAFETY: array of `enabled_api_layer_count` string pointers by contract.
        for &l in unsafe {
            slice(
                ci.enabled_api_layer_names,
                ci.enabled_api_layer_count,
                "enabledApiLayerNames",
            )?
        } {
            // SAFETY: each a NUL-terminated string by contract.
            unsafe { c_str(l, "enabledApiLayerNames[i]")? };
        }
        let mut extensions = Vec::new();
        // SAFETY: array of `enabled_extension_count` string pointers by contract.
        for &e in unsafe {
            slice(
                ci.enabled_extension_names,
                ci.enabled_extension_count,
                "enabledExtensionNames",
            )?
        } {
            // SAFETY: each a NUL-terminated string by contract.
            let e = unsafe { c_str(e, "enabledExtensionNames[i]")? };
            if !extensions.iter().any(|x: &String| x == e) {
                extensions.push(e.to_owned());
            }
        }
        let mut messengers = Vec::new();
        if extensions.iter().any(|e| e == "XR_EXT_debug_utils") {
            // SAFETY: the next chain of a valid create info.
            messengers = unsafe { super::debug::chained_messengers(ci.next)? };
        }
        let info = InstanceInfo {
            application_name: name.to_owned(),
            application_version: app.application_version,
            engine_name: engine.to_owned(),
            engine_version: app.engine_version,
            api_version: app.api_version,
            extensions,
        };
        let raw = inst::create(info, messengers)?;
        if let Ok(i) = handles::get::<Instance>(Kind::Instance, raw) {
            i.debug_message(
                xr::DebugUtilsMessageSeverityFlagsEXT::INFO,
                "xrCreateInstance",
                format!("Parallax instance created for {name}"),
                vec![(xr::ObjectType::INSTANCE, raw)],
                true,
            );
        }
        *out = xr::Instance::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyInstance](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyInstance)
pub unsafe extern "system" fn xrDestroyInstance(h: xr::Instance) -> xr::Result {
    guard("xrDestroyInstance", |_| {
        inst::destroy(h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetInstanceProperties](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetInstanceProperties)
pub unsafe extern "system" fn xrGetInstanceProperties(
    h: xr::Instance,
    props: *mut xr::InstanceProperties,
) -> xr::Result {
    guard("xrGetInstanceProperties", |ctx| {
        instance(ctx, h)?;
        // SAFETY: contract of this function.
        let p = unsafe { output(props, xr::InstanceProperties::TYPE, "instanceProperties")? };
        p.runtime_version = inst::runtime_version();
        write_fixed(&mut p.runtime_name, inst::RUNTIME_NAME);
        Ok(xr::Result::SUCCESS)
    })
}

/// Writes an event into the app's `XrEventDataBuffer`.
fn write_event(buf: &mut xr::EventDataBuffer, e: &Event) {
    fn put<T>(buf: &mut xr::EventDataBuffer, v: T) {
        const _: () = assert!(std::mem::size_of::<xr::EventDataBuffer>() >= 4016);
        assert!(std::mem::size_of::<T>() <= std::mem::size_of::<xr::EventDataBuffer>());
        // SAFETY: every event structure fits in the buffer (checked above),
        // and the buffer is suitably aligned for OpenXR event structures.
        unsafe { std::ptr::write_unaligned(buf as *mut xr::EventDataBuffer as *mut T, v) }
    }
    let null = std::ptr::null();
    match *e {
        Event::SessionStateChanged {
            session,
            state,
            time,
        } => put(
            buf,
            xr::EventDataSessionStateChanged {
                ty: xr::EventDataSessionStateChanged::TYPE,
                next: null,
                session: xr::Session::from_raw(session),
                state,
                time: xr::Time::from_nanos(time.0),
            },
        ),
        Event::UserPresenceChanged { session, present } => put(
            buf,
            xr::EventDataUserPresenceChangedEXT {
                ty: xr::EventDataUserPresenceChangedEXT::TYPE,
                next: null,
                session: xr::Session::from_raw(session),
                is_user_present: present.into(),
            },
        ),
        Event::InteractionProfileChanged { session } => put(
            buf,
            xr::EventDataInteractionProfileChanged {
                ty: xr::EventDataInteractionProfileChanged::TYPE,
                next: null,
                session: xr::Session::from_raw(session),
            },
        ),
        Event::ReferenceSpaceChangePending {
            session,
            space_type,
            change_time,
        } => put(
            buf,
            xr::EventDataReferenceSpaceChangePending {
                ty: xr::EventDataReferenceSpaceChangePending::TYPE,
                next: null,
                session: xr::Session::from_raw(session),
                reference_space_type: space_type,
                change_time: xr::Time::from_nanos(change_time.0),
                pose_valid: xr::FALSE,
                pose_in_previous_space: super::from_pose(&Default::default()),
            },
        ),
        Event::InstanceLossPending { loss_time } => put(
            buf,
            xr::EventDataInstanceLossPending {
                ty: xr::EventDataInstanceLossPending::TYPE,
                next: null,
                loss_time: xr::Time::from_nanos(loss_time.0),
            },
        ),
        Event::EventsLost { count } => put(
            buf,
            xr::EventDataEventsLost {
                ty: xr::EventDataEventsLost::TYPE,
                next: null,
                lost_event_count: count,
            },
        ),
    }
}

/// [xrPollEvent](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrPollEvent)
pub unsafe extern "system" fn xrPollEvent(
    h: xr::Instance,
    buffer: *mut xr::EventDataBuffer,
) -> xr::Result {
    guard("xrPollEvent", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let buf = unsafe { output(buffer, xr::EventDataBuffer::TYPE, "eventData")? };
        i.check_session_loss();
        match i.poll_event() {
            Some(e) => {
                write_event(buf, &e);
                Ok(xr::Result::SUCCESS)
            }
            None => Ok(xr::Result::EVENT_UNAVAILABLE),
        }
    })
}

fn result_name(r: xr::Result) -> String {
    let dbg = format!("{r:?}");
    if dbg.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("XR_{dbg}")
    } else if r.into_raw() >= 0 {
        format!("XR_UNKNOWN_SUCCESS_{}", r.into_raw())
    } else {
        format!("XR_UNKNOWN_FAILURE_{}", r.into_raw())
    }
}

fn structure_name(t: xr::StructureType) -> String {
    let dbg = format!("{t:?}");
    if dbg.starts_with(|c: char| c.is_ascii_alphabetic()) {
        format!("XR_TYPE_{dbg}")
    } else {
        format!("XR_UNKNOWN_STRUCTURE_TYPE_{}", t.into_raw())
    }
}

/// [xrResultToString](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrResultToString)
pub unsafe extern "system" fn xrResultToString(
    h: xr::Instance,
    value: xr::Result,
    buffer: *mut c_char,
) -> xr::Result {
    guard("xrResultToString", |ctx| {
        instance(ctx, h)?;
        // SAFETY: contract: a buffer of XR_MAX_RESULT_STRING_SIZE chars.
        let out = unsafe {
            out_ptr(
                buffer as *mut [c_char; xr::MAX_RESULT_STRING_SIZE],
                "buffer",
            )?
        };
        write_fixed(out, &result_name(value));
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrStructureTypeToString](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrStructureTypeToString)
pub unsafe extern "system" fn xrStructureTypeToString(
    h: xr::Instance,
    value: xr::StructureType,
    buffer: *mut c_char,
) -> xr::Result {
    guard("xrStructureTypeToString", |ctx| {
        instance(ctx, h)?;
        // SAFETY: contract: a buffer of XR_MAX_STRUCTURE_NAME_SIZE chars.
        let out = unsafe {
            out_ptr(
                buffer as *mut [c_char; xr::MAX_STRUCTURE_NAME_SIZE],
                "buffer",
            )?
        };
        write_fixed(out, &structure_name(value));
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrStringToPath](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrStringToPath)
pub unsafe extern "system" fn xrStringToPath(
    h: xr::Instance,
    s: *const c_char,
    path: *mut xr::Path,
) -> xr::Result {
    guard("xrStringToPath", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let s = unsafe { c_str(s, "pathString")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(path, "path")? };
        *out = xr::Path::from_raw(i.string_to_path(s)?);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrPathToString](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrPathToString)
pub unsafe extern "system" fn xrPathToString(
    h: xr::Instance,
    path: xr::Path,
    capacity: u32,
    count: *mut u32,
    buffer: *mut c_char,
) -> xr::Result {
    guard("xrPathToString", |ctx| {
        let i = instance(ctx, h)?;
        let s = i.path_to_string(path.into_raw())?;
        // SAFETY: two-call contract of this function.
        unsafe { two_call_string(capacity, count, buffer, &s) }
    })
}

/// [xrGetSystem](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetSystem)
pub unsafe extern "system" fn xrGetSystem(
    h: xr::Instance,
    info: *const xr::SystemGetInfo,
    system: *mut xr::SystemId,
) -> xr::Result {
    guard("xrGetSystem", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SystemGetInfo::TYPE, "getInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(system, "systemId")? };
        *out = xr::SystemId::from_raw(i.get_system(info.form_factor)?);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetSystemProperties](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetSystemProperties)
pub unsafe extern "system" fn xrGetSystemProperties(
    h: xr::Instance,
    system: xr::SystemId,
    props: *mut xr::SystemProperties,
) -> xr::Result {
    guard("xrGetSystemProperties", |ctx| {
        let i = instance(ctx, h)?;
        let hub = i.check_system(system.into_raw())?;
        // SAFETY: contract of this function.
        let p = unsafe { output(props, xr::SystemProperties::TYPE, "properties")? };
        p.system_id = xr::SystemId::from_raw(SYSTEM_ID);
        p.vendor_id = hub.vendor_id();
        write_fixed(&mut p.system_name, hub.system_name());
        p.graphics_properties = xr::SystemGraphicsProperties {
            max_swapchain_image_height: 8192,
            max_swapchain_image_width: 8192,
            max_layer_count: MAX_LAYERS,
        };
        p.tracking_properties = xr::SystemTrackingProperties {
            orientation_tracking: xr::TRUE,
            position_tracking: xr::TRUE,
        };
        // Chained properties of enabled extensions; unknown ones are skipped.
        let mut next = p.next;
        while !next.is_null() {
            // SAFETY: each chain element starts with XrBaseOutStructure.
            let base = unsafe { &mut *(next as *mut xr::BaseOutStructure) };
            if base.ty == xr::SystemHandTrackingPropertiesEXT::TYPE
                && i.has_extension("XR_EXT_hand_tracking")
            {
                // SAFETY: the type says it is an XrSystemHandTrackingPropertiesEXT.
                let h = unsafe { &mut *(next as *mut xr::SystemHandTrackingPropertiesEXT) };
                h.supports_hand_tracking = hub.supports_hand_tracking().into();
            } else if base.ty == xr::SystemEyeGazeInteractionPropertiesEXT::TYPE
                && i.has_extension("XR_EXT_eye_gaze_interaction")
            {
                // SAFETY: the type says it is an XrSystemEyeGazeInteractionPropertiesEXT.
                let e = unsafe { &mut *(next as *mut xr::SystemEyeGazeInteractionPropertiesEXT) };
                e.supports_eye_gaze_interaction = hub.supports_eye_gaze().into();
            } else if base.ty == xr::SystemFaceTrackingProperties2FB::TYPE
                && i.has_extension("XR_FB_face_tracking2")
            {
                // SAFETY: the type says it is an XrSystemFaceTrackingProperties2FB.
                let f = unsafe { &mut *(next as *mut xr::SystemFaceTrackingProperties2FB) };
                f.supports_visual_face_tracking = hub.supports_face_tracking().into();
                f.supports_audio_face_tracking = false.into();
            } else if base.ty == xr::SystemFacialTrackingPropertiesHTC::TYPE
                && i.has_extension("XR_HTC_facial_tracking")
            {
                // SAFETY: the type says it is an XrSystemFacialTrackingPropertiesHTC.
                let f = unsafe { &mut *(next as *mut xr::SystemFacialTrackingPropertiesHTC) };
                let face = hub.supports_face_tracking();
                f.support_eye_facial_tracking = face.into();
                f.support_lip_facial_tracking = face.into();
            } else if base.ty == xr::SystemBodyTrackingPropertiesFB::TYPE
                && i.has_extension("XR_FB_body_tracking")
            {
                // SAFETY: the type says it is an XrSystemBodyTrackingPropertiesFB.
                let b = unsafe { &mut *(next as *mut xr::SystemBodyTrackingPropertiesFB) };
                b.supports_body_tracking = hub.supports_body_tracking().into();
            } else if base.ty == xr::SystemUserPresencePropertiesEXT::TYPE
                && i.has_extension("XR_EXT_user_presence")
            {
                // SAFETY: the type says it is an XrSystemUserPresencePropertiesEXT.
                let u = unsafe { &mut *(next as *mut xr::SystemUserPresencePropertiesEXT) };
                u.supports_user_presence = hub.user_present().is_some().into();
            }
            next = base.next as *mut std::ffi::c_void;
        }
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrEnumerateViewConfigurations](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateViewConfigurations)
pub unsafe extern "system" fn xrEnumerateViewConfigurations(
    h: xr::Instance,
    system: xr::SystemId,
    capacity: u32,
    count: *mut u32,
    out: *mut xr::ViewConfigurationType,
) -> xr::Result {
    guard("xrEnumerateViewConfigurations", |ctx| {
        let i = instance(ctx, h)?;
        i.check_system(system.into_raw())?;
        // SAFETY: two-call contract of this function.
        unsafe {
            super::two_call(capacity, count, out, 1, |v, _| {
                *v = xr::ViewConfigurationType::PRIMARY_STEREO;
                Ok(())
            })
        }
    })
}

/// [xrGetViewConfigurationProperties](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetViewConfigurationProperties)
pub unsafe extern "system" fn xrGetViewConfigurationProperties(
    h: xr::Instance,
    system: xr::SystemId,
    ty: xr::ViewConfigurationType,
    props: *mut xr::ViewConfigurationProperties,
) -> xr::Result {
    guard("xrGetViewConfigurationProperties", |ctx| {
        let i = instance(ctx, h)?;
        i.check_system(system.into_raw())?;
        // SAFETY: contract of this function.
        let p = unsafe {
            output(
                props,
                xr::ViewConfigurationProperties::TYPE,
                "configurationProperties",
            )?
        };
        i.check_view_configuration(ty)?;
        p.view_configuration_type = ty;
        p.fov_mutable = xr::TRUE;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrEnumerateViewConfigurationViews](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateViewConfigurationViews)
pub unsafe extern "system" fn xrEnumerateViewConfigurationViews(
    h: xr::Instance,
    system: xr::SystemId,
    ty: xr::ViewConfigurationType,
    capacity: u32,
    count: *mut u32,
    views: *mut xr::ViewConfigurationView,
) -> xr::Result {
    guard("xrEnumerateViewConfigurationViews", |ctx| {
        let i = instance(ctx, h)?;
        let hub = i.check_system(system.into_raw())?;
        i.check_view_configuration(ty)?;
        let d = hub.display();
        let (max_w, max_h) = (
            (d.width_per_eye * 2).min(8192),
            (d.height_per_eye * 2).min(8192),
        );
        let scale = i.config.render_scale;
        let scaled = |n: u32, max: u32| ((n as f32 * scale).round() as u32).clamp(1, max);
        // SAFETY: two-call contract of this function.
        unsafe {
            two_call_typed(
                capacity,
                count,
                views,
                2,
                xr::ViewConfigurationView::TYPE,
                |v, _| {
                    v.recommended_image_rect_width = scaled(d.width_per_eye, max_w);
                    v.recommended_image_rect_height = scaled(d.height_per_eye, max_h);
                    v.max_image_rect_width = max_w;
                    v.max_image_rect_height = max_h;
                    v.recommended_swapchain_sample_count = 1;
                    v.max_swapchain_sample_count = 4;
                    Ok(())
                },
            )
        }
    })
}

/// [xrEnumerateEnvironmentBlendModes](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateEnvironmentBlendModes)
pub unsafe extern "system" fn xrEnumerateEnvironmentBlendModes(
    h: xr::Instance,
    system: xr::SystemId,
    ty: xr::ViewConfigurationType,
    capacity: u32,
    count: *mut u32,
    modes: *mut xr::EnvironmentBlendMode,
) -> xr::Result {
    guard("xrEnumerateEnvironmentBlendModes", |ctx| {
        let i = instance(ctx, h)?;
        i.check_system(system.into_raw())?;
        i.check_view_configuration(ty)?;
        // SAFETY: two-call contract of this function.
        unsafe {
            super::two_call(capacity, count, modes, BLEND_MODES.len(), |m, k| {
                *m = BLEND_MODES[k];
                Ok(())
            })
        }
    })
}

/// [xrConvertTimespecTimeToTimeKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrConvertTimespecTimeToTimeKHR):
/// `XrTime` is `CLOCK_MONOTONIC` in nanoseconds.
pub unsafe extern "system" fn xrConvertTimespecTimeToTimeKHR(
    h: xr::Instance,
    ts: *const libc::timespec,
    time: *mut xr::Time,
) -> xr::Result {
    guard("xrConvertTimespecTimeToTimeKHR", |ctx| {
        instance(ctx, h)?;
        if ts.is_null() {
            return Err(Error::validation("timespecTime is NULL"));
        }
        // SAFETY: non-null, readable by contract.
        let ts = unsafe { *ts };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(time, "time")? };
        let ns = ts
            .tv_sec
            .checked_mul(1_000_000_000)
            .and_then(|s| s.checked_add(ts.tv_nsec));
        match ns {
            Some(ns) if ns > 0 && (0..1_000_000_000).contains(&(ts.tv_nsec)) => {
                *out = xr::Time::from_nanos(ns);
                Ok(xr::Result::SUCCESS)
            }
            _ => Err(Error::time_invalid(
                "timespec is not a valid positive monotonic time",
            )),
        }
    })
}

/// [xrConvertTimeToTimespecTimeKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrConvertTimeToTimespecTimeKHR)
pub unsafe extern "system" fn xrConvertTimeToTimespecTimeKHR(
    h: xr::Instance,
    time: xr::Time,
    ts: *mut libc::timespec,
) -> xr::Result {
    guard("xrConvertTimeToTimespecTimeKHR", |ctx| {
        instance(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(ts, "timespecTime")? };
        let ns = time.as_nanos();
        if ns <= 0 {
            return Err(Error::time_invalid(format!("{ns} is not a valid XrTime")));
        }
        out.tv_sec = (ns / 1_000_000_000) as libc::time_t;
        out.tv_nsec = (ns % 1_000_000_000) as libc::c_long;
        Ok(xr::Result::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_results_and_types() {
        assert_eq!(
            result_name(xr::Result::ERROR_HANDLE_INVALID),
            "XR_ERROR_HANDLE_INVALID"
        );
        assert_eq!(
            result_name(xr::Result::from_raw(-999_999)),
            "XR_UNKNOWN_FAILURE_-999999"
        );
        assert_eq!(
            result_name(xr::Result::from_raw(999_999)),
            "XR_UNKNOWN_SUCCESS_999999"
        );
        assert_eq!(
            structure_name(xr::StructureType::INSTANCE_CREATE_INFO),
            "XR_TYPE_INSTANCE_CREATE_INFO"
        );
        assert_eq!(
            structure_name(xr::StructureType::from_raw(999_999_999)),
            "XR_UNKNOWN_STRUCTURE_TYPE_999999999"
        );
    }
}
