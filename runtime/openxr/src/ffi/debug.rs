//! `XR_EXT_debug_utils`: messengers (which also receive the runtime's own
//! warnings about invalid calls), object names, session labels, and
//! app-submitted messages.

use super::instance::instance;
use super::session::session;
use super::{c_str, guard, input, out_ptr, slice};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::instance::{DebugMessage, Messenger};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use std::ffi::{c_void, CString};
use std::sync::Arc;

const ALL_SEVERITIES: u64 = 0x1111;
const ALL_TYPES: u64 = 0xF;

/// Builds a messenger from its create info.
fn messenger(ci: &xr::DebugUtilsMessengerCreateInfoEXT) -> Result<Arc<Messenger>> {
    let callback = ci
        .user_callback
        .ok_or_else(|| Error::validation("userCallback is NULL"))?;
    let sev = ci.message_severities.into_raw();
    let types = ci.message_types.into_raw();
    if sev == 0 || sev & !ALL_SEVERITIES != 0 {
        return Err(Error::validation(
            "messageSeverities must be a non-zero set of valid bits",
        ));
    }
    if types == 0 || types & !ALL_TYPES != 0 {
        return Err(Error::validation(
            "messageTypes must be a non-zero set of valid bits",
        ));
    }
    // Kept as an integer so the closure is Send + Sync; it is only handed back to the app.
    let user_data = ci.user_data as usize;
    Ok(Arc::new(Messenger::new(
        ci.message_severities,
        ci.message_types,
        Box::new(move |m: &DebugMessage| {
            let cs = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
            let id = cs(&m.message_id);
            let func = cs(&m.function_name);
            let msg = cs(&m.message);
            let names: Vec<Option<CString>> =
                m.objects.iter().map(|o| o.2.as_deref().map(cs)).collect();
            let mut objects: Vec<xr::DebugUtilsObjectNameInfoEXT> = m
                .objects
                .iter()
                .zip(&names)
                .map(|(o, n)| xr::DebugUtilsObjectNameInfoEXT {
                    ty: xr::DebugUtilsObjectNameInfoEXT::TYPE,
                    next: std::ptr::null(),
                    object_type: o.0,
                    object_handle: o.1,
                    object_name: n.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
                })
                .collect();
            let label_strings: Vec<CString> = m.session_labels.iter().map(|l| cs(l)).collect();
            let mut labels: Vec<xr::DebugUtilsLabelEXT> = label_strings
                .iter()
                .map(|l| xr::DebugUtilsLabelEXT {
                    ty: xr::DebugUtilsLabelEXT::TYPE,
                    next: std::ptr::null(),
                    label_name: l.as_ptr(),
                })
                .collect();
            let data = xr::DebugUtilsMessengerCallbackDataEXT {
                ty: xr::DebugUtilsMessengerCallbackDataEXT::TYPE,
                next: std::ptr::null(),
                message_id: id.as_ptr(),
                function_name: func.as_ptr(),
                message: msg.as_ptr(),
                object_count: objects.len() as u32,
                objects: objects.as_mut_ptr(),
                session_label_count: labels.len() as u32,
                session_labels: labels.as_mut_ptr(),
            };
            // SAFETY: the app's callback, called with the contract of
            // PFN_xrDebugUtilsMessengerCallbackEXT; every pointer in `data`
            // outlives the call.
            let r = unsafe { callback(m.severity, m.types, &data, user_data as *mut c_void) };
            r != xr::FALSE
        }),
    )))
}

/// Messengers chained to `XrInstanceCreateInfo`.
///
/// # Safety
/// `next` is null or the head of a valid input structure chain.
pub unsafe fn chained_messengers(mut next: *const c_void) -> Result<Vec<Arc<Messenger>>> {
    let mut out = Vec::new();
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseInStructure.
        let base = unsafe { &*(next as *const xr::BaseInStructure) };
        if base.ty == xr::DebugUtilsMessengerCreateInfoEXT::TYPE {
            // SAFETY: the type says what it is.
            out.push(messenger(unsafe {
                &*(next as *const xr::DebugUtilsMessengerCreateInfoEXT)
            })?);
        }
        next = base.next as *const c_void;
    }
    Ok(out)
}

/// [xrCreateDebugUtilsMessengerEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateDebugUtilsMessengerEXT)
pub unsafe extern "system" fn xrCreateDebugUtilsMessengerEXT(
    h: xr::Instance,
    info: *const xr::DebugUtilsMessengerCreateInfoEXT,
    out: *mut xr::DebugUtilsMessengerEXT,
) -> xr::Result {
    guard("xrCreateDebugUtilsMessengerEXT", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe {
            input(
                info,
                xr::DebugUtilsMessengerCreateInfoEXT::TYPE,
                "createInfo",
            )?
        };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "messenger")? };
        let m = messenger(info)?;
        *out =
            xr::DebugUtilsMessengerEXT::from_raw(handles::insert(Kind::Messenger, i.handle(), m));
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyDebugUtilsMessengerEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyDebugUtilsMessengerEXT)
pub unsafe extern "system" fn xrDestroyDebugUtilsMessengerEXT(
    h: xr::DebugUtilsMessengerEXT,
) -> xr::Result {
    guard("xrDestroyDebugUtilsMessengerEXT", |_| {
        let removed = handles::remove(Kind::Messenger, h.into_raw())?;
        // After this returns the app may free its userData: no callback on
        // any thread may still be running or start later.
        parallax_runtime::instance::retire_messengers(&removed);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSubmitDebugUtilsMessageEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSubmitDebugUtilsMessageEXT)
pub unsafe extern "system" fn xrSubmitDebugUtilsMessageEXT(
    h: xr::Instance,
    severity: xr::DebugUtilsMessageSeverityFlagsEXT,
    types: xr::DebugUtilsMessageTypeFlagsEXT,
    data: *const xr::DebugUtilsMessengerCallbackDataEXT,
) -> xr::Result {
    guard("xrSubmitDebugUtilsMessageEXT", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let d = unsafe {
            input(
                data,
                xr::DebugUtilsMessengerCallbackDataEXT::TYPE,
                "callbackData",
            )?
        };
        let sev = severity.into_raw();
        if sev == 0
            || sev & !ALL_SEVERITIES != 0
            || types.into_raw() == 0
            || types.into_raw() & !ALL_TYPES != 0
        {
            return Err(Error::validation(
                "messageSeverity and messageTypes must be non-zero sets of valid bits",
            ));
        }
        let opt = |p: *const std::ffi::c_char, what| -> Result<String> {
            if p.is_null() {
                Ok(String::new())
            } else {
                // SAFETY: non-null, NUL-terminated by contract.
                unsafe { c_str(p, what).map(str::to_owned) }
            }
        };
        // SAFETY: contract of this function.
        let message = unsafe { c_str(d.message, "message")? }.to_owned();
        let mut objects = Vec::new();
        // SAFETY: object_count elements by contract.
        for o in unsafe { slice(d.objects, d.object_count, "objects")? } {
            let name = if o.object_name.is_null() {
                None
            } else {
                Some(opt(o.object_name, "objectName")?)
            };
            objects.push((o.object_type, o.object_handle, name));
        }
        i.send(
            DebugMessage {
                severity,
                types,
                message_id: opt(d.message_id, "messageId")?,
                function_name: opt(d.function_name, "functionName")?,
                message,
                objects,
                session_labels: vec![],
            },
            false,
        );
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSetDebugUtilsObjectNameEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSetDebugUtilsObjectNameEXT)
pub unsafe extern "system" fn xrSetDebugUtilsObjectNameEXT(
    h: xr::Instance,
    info: *const xr::DebugUtilsObjectNameInfoEXT,
) -> xr::Result {
    guard("xrSetDebugUtilsObjectNameEXT", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::DebugUtilsObjectNameInfoEXT::TYPE, "nameInfo")? };
        if info.object_type == xr::ObjectType::UNKNOWN {
            return Err(Error::validation(
                "objectType must not be XR_OBJECT_TYPE_UNKNOWN",
            ));
        }
        let name = if info.object_name.is_null() {
            None
        } else {
            // SAFETY: non-null, NUL-terminated by contract.
            Some(unsafe { c_str(info.object_name, "objectName")? }.to_owned())
        };
        i.set_object_name(info.object_type, info.object_handle, name);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSessionBeginDebugUtilsLabelRegionEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSessionBeginDebugUtilsLabelRegionEXT)
pub unsafe extern "system" fn xrSessionBeginDebugUtilsLabelRegionEXT(
    h: xr::Session,
    label: *const xr::DebugUtilsLabelEXT,
) -> xr::Result {
    guard("xrSessionBeginDebugUtilsLabelRegionEXT", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let l = unsafe { input(label, xr::DebugUtilsLabelEXT::TYPE, "labelInfo")? };
        // SAFETY: contract of this function.
        let name = unsafe { c_str(l.label_name, "labelName")? };
        s.instance.begin_label(s.handle(), name.to_owned());
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSessionEndDebugUtilsLabelRegionEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSessionEndDebugUtilsLabelRegionEXT)
pub unsafe extern "system" fn xrSessionEndDebugUtilsLabelRegionEXT(h: xr::Session) -> xr::Result {
    guard("xrSessionEndDebugUtilsLabelRegionEXT", |ctx| {
        let s = session(ctx, h)?;
        // Ending with no region open breaks a valid-usage rule, but the
        // Khronos loader (which sees the call first) answers XR_SUCCESS for
        // it and the CTS expects the runtime to agree: warn only.
        if !s.instance.end_label(s.handle()) {
            tracing::warn!("xrSessionEndDebugUtilsLabelRegionEXT: no label region is open");
        }
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrSessionInsertDebugUtilsLabelEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrSessionInsertDebugUtilsLabelEXT)
pub unsafe extern "system" fn xrSessionInsertDebugUtilsLabelEXT(
    h: xr::Session,
    label: *const xr::DebugUtilsLabelEXT,
) -> xr::Result {
    guard("xrSessionInsertDebugUtilsLabelEXT", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let l = unsafe { input(label, xr::DebugUtilsLabelEXT::TYPE, "labelInfo")? };
        // SAFETY: contract of this function.
        let name = unsafe { c_str(l.label_name, "labelName")? };
        s.instance.insert_label(s.handle(), name.to_owned());
        Ok(xr::Result::SUCCESS)
    })
}
