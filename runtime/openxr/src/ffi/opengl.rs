//! `XR_KHR_opengl_enable` (Xlib/GLX) and `XR_MNDX_egl_enable`: the
//! requirements call and the two graphics bindings.

use super::instance::instance;
use super::{guard, output};
use openxr_sys as xr;
use parallax_compositor::gl::{Binding, Platform};
use parallax_runtime::instance::Instance;

/// [xrGetOpenGLGraphicsRequirementsKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetOpenGLGraphicsRequirementsKHR)
pub unsafe extern "system" fn xrGetOpenGLGraphicsRequirementsKHR(
    h: xr::Instance,
    system: xr::SystemId,
    req: *mut xr::GraphicsRequirementsOpenGLKHR,
) -> xr::Result {
    guard("xrGetOpenGLGraphicsRequirementsKHR", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe {
            output(
                req,
                xr::GraphicsRequirementsOpenGLKHR::TYPE,
                "graphicsRequirements",
            )?
        };
        let (min, max) = i.opengl_requirements(system.into_raw())?;
        out.min_api_version_supported = xr::Version::new(min.0, min.1, 0);
        out.max_api_version_supported = xr::Version::new(max.0, max.1, 0);
        Ok(xr::Result::SUCCESS)
    })
}

/// The OpenGL binding at `base`, if it is one this instance enabled.
///
/// # Safety
/// `base` points to a structure of the type it names, in the `next` chain
/// of the app's `XrSessionCreateInfo`.
pub unsafe fn binding(inst: &Instance, base: *const xr::BaseInStructure) -> Option<Binding> {
    // SAFETY: every chain element starts with XrBaseInStructure.
    let ty = unsafe { (*base).ty };
    let platform = if ty == xr::GraphicsBindingOpenGLXlibKHR::TYPE
        && inst.has_extension("XR_KHR_opengl_enable")
    {
        // SAFETY: the type says what the structure is.
        let b = unsafe { &*(base as *const xr::GraphicsBindingOpenGLXlibKHR) };
        Platform::Glx {
            display: b.x_display as usize,
            drawable: b.glx_drawable,
            context: b.glx_context as usize,
        }
    } else if ty == xr::GraphicsBindingEGLMNDX::TYPE && inst.has_extension("XR_MNDX_egl_enable") {
        // SAFETY: the type says what the structure is.
        let b = unsafe { &*(base as *const xr::GraphicsBindingEGLMNDX) };
        Platform::Egl {
            get_proc_address: b.get_proc_address.map_or(0, |f| f as usize),
            display: b.display as usize,
            context: b.context as usize,
        }
    } else {
        return None;
    };
    // SAFETY: the handles are the app's, passed to xrCreateSession, whose
    // contract makes them live and the context not current elsewhere while
    // the runtime may use it.
    Some(unsafe { Binding::new(platform) })
}
