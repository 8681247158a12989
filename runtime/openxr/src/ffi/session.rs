//! Session entry points: lifecycle, the frame loop, and swapchains (which a
//! headless session has none of).

use super::instance::instance;
use super::{guard, input, out_ptr, output, slice, to_pose, Ctx};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::session::{self as sess, Session, MAX_LAYERS};
use parallax_runtime::space::{check_pose, Space};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use parallax_sdk::types::Time;
use std::ffi::c_void;
use std::sync::Arc;

/// Looks up a session handle and records it (and its instance) for reports.
pub fn session(ctx: &mut Ctx, h: xr::Session) -> Result<Arc<Session>> {
    let s = handles::get::<Session>(Kind::Session, h.into_raw())?;
    ctx.instance = Some(s.instance.clone());
    ctx.objects.push((xr::ObjectType::SESSION, h.into_raw()));
    Ok(s)
}

/// Whether a `next` chain holds a graphics binding structure.
///
/// # Safety
/// `next` is null or the head of a valid OpenXR structure chain.
unsafe fn has_graphics_binding(mut next: *const c_void) -> bool {
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseInStructure.
        let base = unsafe { &*(next as *const xr::BaseInStructure) };
        if format!("{:?}", base.ty).starts_with("GRAPHICS_BINDING") {
            return true;
        }
        next = base.next as *const c_void;
    }
    false
}

/// [xrCreateSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateSession)
pub unsafe extern "system" fn xrCreateSession(
    h: xr::Instance,
    info: *const xr::SessionCreateInfo,
    out: *mut xr::Session,
) -> xr::Result {
    guard("xrCreateSession", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SessionCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "session")? };
        if info.create_flags != xr::SessionCreateFlags::EMPTY {
            return Err(Error::validation("createFlags must be 0"));
        }
        // SAFETY: the next chain of a valid create info.
        let graphics = unsafe { has_graphics_binding(info.next) };
        let raw = sess::create(&i, info.system_id.into_raw(), graphics)?;
        *out = xr::Session::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroySession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroySession)
pub unsafe extern "system" fn xrDestroySession(h: xr::Session) -> xr::Result {
    guard("xrDestroySession", |_| {
        sess::destroy(h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

fn loss_or(s: &Session, ok: xr::Result) -> xr::Result {
    if s.state() == xr::SessionState::LOSS_PENDING {
        xr::Result::SESSION_LOSS_PENDING
    } else {
        ok
    }
}

/// [xrBeginSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrBeginSession)
pub unsafe extern "system" fn xrBeginSession(
    h: xr::Session,
    info: *const xr::SessionBeginInfo,
) -> xr::Result {
    guard("xrBeginSession", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SessionBeginInfo::TYPE, "beginInfo")? };
        let v = info.primary_view_configuration_type;
        if !matches!(v.into_raw(), 1..=3 | 1_000_037_000 | 1_000_054_000) {
            return Err(Error::validation(format!(
                "{v:?} is not a valid XrViewConfigurationType"
            )));
        }
        s.begin(v)?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrEndSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEndSession)
pub unsafe extern "system" fn xrEndSession(h: xr::Session) -> xr::Result {
    guard("xrEndSession", |ctx| {
        let s = session(ctx, h)?;
        s.end()?;
        Ok(loss_or(&s, xr::Result::SUCCESS))
    })
}

/// [xrRequestExitSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrRequestExitSession)
pub unsafe extern "system" fn xrRequestExitSession(h: xr::Session) -> xr::Result {
    guard("xrRequestExitSession", |ctx| {
        let s = session(ctx, h)?;
        s.request_exit()?;
        Ok(loss_or(&s, xr::Result::SUCCESS))
    })
}

/// [xrWaitFrame](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrWaitFrame):
/// blocks until the app should start its frame.
pub unsafe extern "system" fn xrWaitFrame(
    h: xr::Session,
    info: *const xr::FrameWaitInfo,
    state: *mut xr::FrameState,
) -> xr::Result {
    guard("xrWaitFrame", |ctx| {
        let s = session(ctx, h)?;
        if !info.is_null() {
            // SAFETY: non-null, a structure by contract.
            unsafe { input(info, xr::FrameWaitInfo::TYPE, "frameWaitInfo")? };
        }
        // SAFETY: contract of this function.
        let out = unsafe { output(state, xr::FrameState::TYPE, "frameState")? };
        let f = s.wait_frame()?;
        out.predicted_display_time = xr::Time::from_nanos(f.predicted_display_time.0);
        out.predicted_display_period = xr::Duration::from_nanos(f.predicted_display_period.0);
        out.should_render = f.should_render.into();
        Ok(if f.loss_pending {
            xr::Result::SESSION_LOSS_PENDING
        } else {
            xr::Result::SUCCESS
        })
    })
}

/// [xrBeginFrame](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrBeginFrame)
pub unsafe extern "system" fn xrBeginFrame(
    h: xr::Session,
    info: *const xr::FrameBeginInfo,
) -> xr::Result {
    guard("xrBeginFrame", |ctx| {
        let s = session(ctx, h)?;
        if !info.is_null() {
            // SAFETY: non-null, a structure by contract.
            unsafe { input(info, xr::FrameBeginInfo::TYPE, "frameBeginInfo")? };
        }
        let discarded = s.begin_frame()?;
        Ok(if discarded {
            xr::Result::FRAME_DISCARDED
        } else {
            loss_or(&s, xr::Result::SUCCESS)
        })
    })
}

fn space_of(s: &Arc<Session>, h: xr::Space) -> Result<Arc<Space>> {
    let sp = handles::get::<Space>(Kind::Space, h.into_raw())?;
    if !Arc::ptr_eq(&sp.session, s) {
        return Err(Error::handle_invalid(
            "the layer's space belongs to another session",
        ));
    }
    Ok(sp)
}

fn swapchain_of(h: xr::Swapchain) -> Result<()> {
    // No swapchain can exist in a session without graphics; the lookup
    // reports the handle as invalid.
    handles::get::<()>(Kind::Swapchain, h.into_raw()).map(|_| ())
}

/// The swapchain entry points of a runtime whose sessions are all
/// headless: any handle is invalid, because none can be created.
fn no_swapchain(h: xr::Swapchain) -> Result<xr::Result> {
    swapchain_of(h)?;
    Err(Error::runtime_failure(
        "swapchains are not available in headless sessions",
    ))
}

/// Validates one submitted layer.
///
/// # Safety
/// `layer` is null or points to a composition layer structure.
unsafe fn check_layer(
    s: &Arc<Session>,
    layer: *const xr::CompositionLayerBaseHeader,
) -> Result<()> {
    if layer.is_null() {
        return Err(Error::layer_invalid("a layer pointer is NULL"));
    }
    // SAFETY: non-null; every layer starts with the base header.
    let base = unsafe { &*layer };
    let known_flags = xr::CompositionLayerFlags::CORRECT_CHROMATIC_ABERRATION
        | xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA
        | xr::CompositionLayerFlags::UNPREMULTIPLIED_ALPHA
        | xr::CompositionLayerFlags::INVERTED_ALPHA;
    if !known_flags.contains(base.layer_flags) {
        return Err(Error::validation("layerFlags has unknown bits"));
    }
    match base.ty {
        xr::StructureType::COMPOSITION_LAYER_PROJECTION => {
            // SAFETY: the type says it is a projection layer.
            let p = unsafe { &*(layer as *const xr::CompositionLayerProjection) };
            space_of(s, p.space)?;
            if p.view_count != 2 {
                return Err(Error::validation(format!(
                    "a projection layer needs 2 views for PRIMARY_STEREO, got {}",
                    p.view_count
                )));
            }
            // SAFETY: view_count views by contract.
            for v in unsafe { slice(p.views, p.view_count, "views")? } {
                if v.ty != xr::StructureType::COMPOSITION_LAYER_PROJECTION_VIEW {
                    return Err(Error::validation("a projection view has the wrong type"));
                }
                check_pose(&to_pose(&v.pose))?;
                swapchain_of(v.sub_image.swapchain)?;
            }
            Ok(())
        }
        xr::StructureType::COMPOSITION_LAYER_QUAD => {
            // SAFETY: the type says it is a quad layer.
            let q = unsafe { &*(layer as *const xr::CompositionLayerQuad) };
            space_of(s, q.space)?;
            if !matches!(q.eye_visibility.into_raw(), 0..=2) {
                return Err(Error::validation(
                    "eyeVisibility is not a valid XrEyeVisibility",
                ));
            }
            check_pose(&to_pose(&q.pose))?;
            swapchain_of(q.sub_image.swapchain)
        }
        other => Err(Error::layer_invalid(format!(
            "{other:?} is not a layer type this session can take"
        ))),
    }
}

/// [xrEndFrame](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEndFrame)
pub unsafe extern "system" fn xrEndFrame(
    h: xr::Session,
    info: *const xr::FrameEndInfo,
) -> xr::Result {
    guard("xrEndFrame", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::FrameEndInfo::TYPE, "frameEndInfo")? };
        s.check_can_end_frame()?;
        let mode = info.environment_blend_mode;
        if !matches!(mode.into_raw(), 1..=3) {
            return Err(Error::validation(format!(
                "{mode:?} is not a valid XrEnvironmentBlendMode"
            )));
        }
        if info.layer_count > MAX_LAYERS {
            return Err(Error::layer_limit_exceeded(format!(
                "{} layers; at most {MAX_LAYERS}",
                info.layer_count
            )));
        }
        if info.layer_count > 0 && info.layers.is_null() {
            return Err(Error::layer_invalid(
                "layers is NULL with a non-zero layerCount",
            ));
        }
        // SAFETY: layer_count pointers by contract.
        for &l in unsafe { slice(info.layers, info.layer_count, "layers")? } {
            // SAFETY: each null or a layer structure by contract.
            unsafe { check_layer(&s, l)? };
        }
        s.end_frame(Time(info.display_time.as_nanos()), mode, Vec::new())?;
        Ok(loss_or(&s, xr::Result::SUCCESS))
    })
}

/// [xrEnumerateSwapchainFormats](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateSwapchainFormats):
/// a session without graphics has no formats.
pub unsafe extern "system" fn xrEnumerateSwapchainFormats(
    h: xr::Session,
    capacity: u32,
    count: *mut u32,
    formats: *mut i64,
) -> xr::Result {
    guard("xrEnumerateSwapchainFormats", |ctx| {
        session(ctx, h)?;
        // Sessions are headless until graphics bindings arrive: no formats.
        // SAFETY: two-call contract of this function.
        unsafe { super::two_call(capacity, count, formats, 0, |_, _| Ok(())) }
    })
}

/// [xrCreateSwapchain](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateSwapchain)
pub unsafe extern "system" fn xrCreateSwapchain(
    h: xr::Session,
    info: *const xr::SwapchainCreateInfo,
    out: *mut xr::Swapchain,
) -> xr::Result {
    guard("xrCreateSwapchain", |ctx| {
        session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SwapchainCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        unsafe { out_ptr(out, "swapchain")? };
        Err(Error::swapchain_format_unsupported(format!(
            "format {} cannot be used: a headless session has no graphics and no swapchain formats",
            info.format
        )))
    })
}

/// [xrDestroySwapchain](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroySwapchain)
pub unsafe extern "system" fn xrDestroySwapchain(h: xr::Swapchain) -> xr::Result {
    guard("xrDestroySwapchain", |_| no_swapchain(h))
}

/// [xrEnumerateSwapchainImages](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateSwapchainImages)
pub unsafe extern "system" fn xrEnumerateSwapchainImages(
    h: xr::Swapchain,
    _capacity: u32,
    _count: *mut u32,
    _images: *mut xr::SwapchainImageBaseHeader,
) -> xr::Result {
    guard("xrEnumerateSwapchainImages", |_| no_swapchain(h))
}

/// [xrAcquireSwapchainImage](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrAcquireSwapchainImage)
pub unsafe extern "system" fn xrAcquireSwapchainImage(
    h: xr::Swapchain,
    _info: *const xr::SwapchainImageAcquireInfo,
    _index: *mut u32,
) -> xr::Result {
    guard("xrAcquireSwapchainImage", |_| no_swapchain(h))
}

/// [xrWaitSwapchainImage](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrWaitSwapchainImage)
pub unsafe extern "system" fn xrWaitSwapchainImage(
    h: xr::Swapchain,
    _info: *const xr::SwapchainImageWaitInfo,
) -> xr::Result {
    guard("xrWaitSwapchainImage", |_| no_swapchain(h))
}

/// [xrReleaseSwapchainImage](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrReleaseSwapchainImage)
pub unsafe extern "system" fn xrReleaseSwapchainImage(
    h: xr::Swapchain,
    _info: *const xr::SwapchainImageReleaseInfo,
) -> xr::Result {
    guard("xrReleaseSwapchainImage", |_| no_swapchain(h))
}
