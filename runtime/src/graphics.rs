//! Graphics bindings: what `XR_KHR_vulkan_enable`/`_enable2` and
//! `XR_KHR_opengl_enable` record on the instance, and opening a session's
//! compositor for a Vulkan or an OpenGL (GLX or EGL) app.

use crate::error::{Error, Result};
use crate::hub::DeviceHub;
use crate::instance::Instance;
use parallax_compositor::gl::{Binding, GlContext, Platform};
use parallax_compositor::vk::compositor::{Capture, EyePoses, TargetConfig, VkCompositor};
use parallax_compositor::vk::{self, AppBinding, AppDevice};
use parallax_sdk::types::{DesktopControls, Duration};
use std::sync::Arc;

/// What an instance learned from the app's Vulkan set-up calls.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VulkanState {
    /// `xrGetVulkanGraphicsRequirements(2)KHR` was called.
    pub requirements_queried: bool,
    /// The VkInstance given to `xrGetVulkanGraphicsDevice(2)KHR`.
    pub vk_instance: Option<u64>,
    /// The VkPhysicalDevice it returned.
    pub physical_device: Option<u64>,
}

/// The Vulkan side of a session.
pub struct VulkanSession {
    pub app: Arc<AppDevice>,
    pub compositor: Arc<VkCompositor>,
}

/// The OpenGL side of a session: the app's context and the compositor
/// (on the Vulkan device that shares memory with it).
pub struct GlSession {
    pub context: Arc<GlContext>,
    pub compositor: Arc<VkCompositor>,
}

/// OpenGL versions apps may use: texture storage from memory objects
/// (`GL_EXT_memory_object`) needs immutable texture storage (GL 4.2 core,
/// or ARB_texture_storage on 3.3); tested up to 4.6.
pub const GL_MIN: (u16, u16) = (3, 3);
pub const GL_MAX: (u16, u16) = (4, 6);

impl Instance {
    /// Whether either Vulkan extension is enabled.
    pub fn has_vulkan(&self) -> bool {
        self.has_extension("XR_KHR_vulkan_enable") || self.has_extension("XR_KHR_vulkan_enable2")
    }

    /// Records `xrGetVulkanGraphicsRequirements(2)KHR`.
    pub fn vulkan_requirements(&self, system: u64) -> Result<(u32, u32)> {
        self.check_system(system)?;
        self.vulkan.lock().requirements_queried = true;
        Ok((vk::MIN_API, vk::MAX_API))
    }

    /// `xrGetVulkanGraphicsDevice(2)KHR`: the physical device to use.
    pub fn vulkan_physical_device(&self, system: u64, vk_instance: u64) -> Result<u64> {
        self.check_system(system)?;
        if vk_instance == 0 {
            return Err(Error::validation("vulkanInstance is VK_NULL_HANDLE"));
        }
        let pd = vk::choose_physical_device(vk_instance)
            .map_err(|e| Error::runtime_failure(e.to_string()))?;
        let mut v = self.vulkan.lock();
        v.vk_instance = Some(vk_instance);
        v.physical_device = Some(pd);
        Ok(pd)
    }

    pub fn vulkan_state(&self) -> VulkanState {
        self.vulkan.lock().clone()
    }

    /// Records `xrGetOpenGLGraphicsRequirementsKHR`: (min, max) versions.
    pub fn opengl_requirements(&self, system: u64) -> Result<((u16, u16), (u16, u16))> {
        self.check_system(system)?;
        *self.opengl_queried.lock() = true;
        Ok((GL_MIN, GL_MAX))
    }
}

/// Checks an OpenGL binding, and opens the session's compositor on the
/// Vulkan device that can share memory with the app's context.
pub fn open_opengl(
    instance: &Instance,
    hub: &DeviceHub,
    binding: Binding,
    period: Duration,
    desktop: Option<DesktopControls>,
) -> Result<GlSession> {
    let platform = binding.platform();
    // An EGL app may enable XR_MNDX_egl_enable alone: the requirements
    // call exists only with XR_KHR_opengl_enable.
    if instance.has_extension("XR_KHR_opengl_enable") && !*instance.opengl_queried.lock() {
        return Err(Error::new(
            openxr_sys::Result::ERROR_GRAPHICS_REQUIREMENTS_CALL_MISSING,
            "xrGetOpenGLGraphicsRequirementsKHR must be called before xrCreateSession",
        ));
    }
    let (display, context) = match platform {
        Platform::Glx {
            display, context, ..
        } => (display, context),
        Platform::Egl {
            display, context, ..
        } => (display, context),
    };
    if display == 0 || context == 0 {
        return Err(Error::graphics_device_invalid(
            "the OpenGL binding has a null display or context",
        ));
    }
    let gl = GlContext::open(binding)
        .map_err(|e| Error::graphics_device_invalid(format!("the app's OpenGL context: {e}")))?;
    let (major, minor) = gl.version;
    if (major, minor) < (GL_MIN.0 as u32, GL_MIN.1 as u32) {
        return Err(Error::graphics_device_invalid(format!(
            "the app's context is OpenGL {major}.{minor}; {}.{} or newer is needed",
            GL_MIN.0, GL_MIN.1
        )));
    }
    let config = target_config(instance, hub, desktop)?;
    let compositor = VkCompositor::open(gl.device_uuid, None, period, config).map_err(|e| {
        Error::graphics_device_invalid(format!(
            "no Vulkan device shares memory with the app's OpenGL context ({}): {e}",
            gl.renderer
        ))
    })?;
    if compositor.gpu.driver_uuid != gl.driver_uuid {
        return Err(Error::graphics_device_invalid(format!(
            "the OpenGL driver of {} is not the Vulkan driver of {}: their memory cannot be shared",
            gl.renderer, compositor.gpu.name
        )));
    }
    tracing::info!(renderer = %gl.renderer, version = ?gl.version, "OpenGL session");
    Ok(GlSession {
        context: Arc::new(gl),
        compositor,
    })
}

/// The compositor's target for a session: the headset's panel, lens and
/// eye poses, and the capture, window and timing options.
/// The compositor's target; `desktop`: the desktop window's controls.
fn target_config(
    instance: &Instance,
    hub: &DeviceHub,
    desktop: Option<DesktopControls>,
) -> Result<TargetConfig> {
    let d = hub.display();
    let capture = instance.config.capture.as_ref().map(|dir| Capture {
        dir: dir.clone(),
        frames: instance.config.capture_frames.clone(),
    });
    let eyes = d.eyes;
    let pose_hub = instance.hub()?;
    let eye_poses: EyePoses = Arc::new(move |t| {
        let head = pose_hub.head(t)?.pose;
        Some([
            head.mul(&eyes[0].head_from_eye),
            head.mul(&eyes[1].head_from_eye),
        ])
    });
    Ok(TargetConfig {
        eye_width: d.width_per_eye,
        eye_height: d.height_per_eye,
        fov: [eyes[0].fov, eyes[1].fov],
        lens: d.lens,
        eye_poses,
        capture,
        window: instance.config.window,
        desktop,
        timing_log: instance.config.timing_log.clone(),
    })
}

/// Checks a Vulkan binding and opens the session's compositor on it.
pub fn open_vulkan(
    instance: &Instance,
    hub: &DeviceHub,
    binding: AppBinding,
    period: Duration,
    desktop: Option<DesktopControls>,
) -> Result<VulkanSession> {
    let state = instance.vulkan_state();
    if !state.requirements_queried {
        return Err(Error::new(
            openxr_sys::Result::ERROR_GRAPHICS_REQUIREMENTS_CALL_MISSING,
            "xrGetVulkanGraphicsRequirements(2)KHR must be called before xrCreateSession",
        ));
    }
    if binding.instance == 0 || binding.device == 0 || binding.physical_device == 0 {
        return Err(Error::graphics_device_invalid(
            "the Vulkan binding has a null handle",
        ));
    }
    let expected = match state.physical_device {
        Some(pd) => pd,
        None => vk::choose_physical_device(binding.instance)
            .map_err(|e| Error::graphics_device_invalid(e.to_string()))?,
    };
    if binding.physical_device != expected {
        return Err(Error::graphics_device_invalid(
            "the binding's physicalDevice is not the one xrGetVulkanGraphicsDevice(2)KHR returned",
        ));
    }
    let app = AppDevice::new(binding).map_err(|e| Error::graphics_device_invalid(e.to_string()))?;
    let config = target_config(instance, hub, desktop)?;
    let compositor = VkCompositor::new(app.clone(), period, config)
        .map_err(|e| Error::runtime_failure(format!("cannot start the compositor: {e}")))?;
    Ok(VulkanSession { app, compositor })
}
