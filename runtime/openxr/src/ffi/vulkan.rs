//! `XR_KHR_vulkan_enable` and `XR_KHR_vulkan_enable2`.

use super::instance::instance;
use super::{guard, input, out_ptr, output, two_call_string};
use openxr_sys as xr;
use parallax_compositor::vk as pvk;
use parallax_runtime::Error;
use std::ffi::c_char;

fn xr_version(vk_version: u32) -> xr::Version {
    xr::Version::new(
        (vk_version >> 22) as u16 & 0x7f,
        ((vk_version >> 12) & 0x3ff) as u16,
        vk_version & 0xfff,
    )
}

/// [xrGetVulkanGraphicsRequirementsKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetVulkanGraphicsRequirementsKHR)
/// (also `xrGetVulkanGraphicsRequirements2KHR`).
pub unsafe extern "system" fn xrGetVulkanGraphicsRequirementsKHR(
    h: xr::Instance,
    system: xr::SystemId,
    req: *mut xr::GraphicsRequirementsVulkanKHR,
) -> xr::Result {
    guard("xrGetVulkanGraphicsRequirementsKHR", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe {
            output(
                req,
                xr::GraphicsRequirementsVulkanKHR::TYPE,
                "graphicsRequirements",
            )?
        };
        let (min, max) = i.vulkan_requirements(system.into_raw())?;
        out.min_api_version_supported = xr_version(min);
        out.max_api_version_supported = xr_version(max);
        Ok(xr::Result::SUCCESS)
    })
}

fn names(list: &[&std::ffi::CStr]) -> String {
    list.iter()
        .map(|c| c.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// [xrGetVulkanInstanceExtensionsKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetVulkanInstanceExtensionsKHR)
pub unsafe extern "system" fn xrGetVulkanInstanceExtensionsKHR(
    h: xr::Instance,
    system: xr::SystemId,
    capacity: u32,
    count: *mut u32,
    buffer: *mut c_char,
) -> xr::Result {
    guard("xrGetVulkanInstanceExtensionsKHR", |ctx| {
        let i = instance(ctx, h)?;
        i.check_system(system.into_raw())?;
        // SAFETY: two-call contract of this function.
        unsafe { two_call_string(capacity, count, buffer, &names(pvk::INSTANCE_EXTENSIONS)) }
    })
}

/// [xrGetVulkanDeviceExtensionsKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetVulkanDeviceExtensionsKHR)
pub unsafe extern "system" fn xrGetVulkanDeviceExtensionsKHR(
    h: xr::Instance,
    system: xr::SystemId,
    capacity: u32,
    count: *mut u32,
    buffer: *mut c_char,
) -> xr::Result {
    guard("xrGetVulkanDeviceExtensionsKHR", |ctx| {
        let i = instance(ctx, h)?;
        i.check_system(system.into_raw())?;
        // SAFETY: two-call contract of this function.
        unsafe { two_call_string(capacity, count, buffer, &names(pvk::DEVICE_EXTENSIONS)) }
    })
}

/// [xrGetVulkanGraphicsDeviceKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetVulkanGraphicsDeviceKHR)
pub unsafe extern "system" fn xrGetVulkanGraphicsDeviceKHR(
    h: xr::Instance,
    system: xr::SystemId,
    vk_instance: xr::platform::VkInstance,
    out: *mut xr::platform::VkPhysicalDevice,
) -> xr::Result {
    guard("xrGetVulkanGraphicsDeviceKHR", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "vkPhysicalDevice")? };
        *out = i.vulkan_physical_device(system.into_raw(), vk_instance as u64)?
            as xr::platform::VkPhysicalDevice;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetVulkanGraphicsDevice2KHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetVulkanGraphicsDevice2KHR)
pub unsafe extern "system" fn xrGetVulkanGraphicsDevice2KHR(
    h: xr::Instance,
    info: *const xr::VulkanGraphicsDeviceGetInfoKHR,
    out: *mut xr::platform::VkPhysicalDevice,
) -> xr::Result {
    guard("xrGetVulkanGraphicsDevice2KHR", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::VulkanGraphicsDeviceGetInfoKHR::TYPE, "getInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "vulkanPhysicalDevice")? };
        *out = i.vulkan_physical_device(info.system_id.into_raw(), info.vulkan_instance as u64)?
            as xr::platform::VkPhysicalDevice;
        Ok(xr::Result::SUCCESS)
    })
}

/// The checks shared by `xrCreateVulkanInstanceKHR` and
/// `xrCreateVulkanDeviceKHR`: the system, zero flags, a non-null
/// `vkGetInstanceProcAddr` (returned as ash's type) and create info.
fn create_checks(
    i: &parallax_runtime::instance::Instance,
    system: xr::SystemId,
    flags_empty: bool,
    gipa: Option<xr::platform::VkGetInstanceProcAddr>,
    create_info: *const std::ffi::c_void,
) -> parallax_runtime::Result<ash::vk::PFN_vkGetInstanceProcAddr> {
    i.check_system(system.into_raw())?;
    if !flags_empty {
        return Err(Error::validation("createFlags must be 0"));
    }
    let gipa = gipa.ok_or_else(|| Error::validation("pfnGetInstanceProcAddr is NULL"))?;
    if create_info.is_null() {
        return Err(Error::validation("vulkanCreateInfo is NULL"));
    }
    // SAFETY: the app's vkGetInstanceProcAddr, the same C signature.
    Ok(unsafe {
        std::mem::transmute::<xr::platform::VkGetInstanceProcAddr, ash::vk::PFN_vkGetInstanceProcAddr>(
            gipa,
        )
    })
}

/// [xrCreateVulkanInstanceKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateVulkanInstanceKHR)
pub unsafe extern "system" fn xrCreateVulkanInstanceKHR(
    h: xr::Instance,
    info: *const xr::VulkanInstanceCreateInfoKHR,
    out: *mut xr::platform::VkInstance,
    vk_result: *mut xr::platform::VkResult,
) -> xr::Result {
    guard("xrCreateVulkanInstanceKHR", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::VulkanInstanceCreateInfoKHR::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let (out, vk_result) = unsafe {
            (
                out_ptr(out, "vulkanInstance")?,
                out_ptr(vk_result, "vulkanResult")?,
            )
        };
        let gipa = create_checks(
            &i,
            info.system_id,
            info.create_flags == xr::VulkanInstanceCreateFlagsKHR::EMPTY,
            info.pfn_get_instance_proc_addr,
            info.vulkan_create_info,
        )?;
        // SAFETY: valid create info and allocator per the OpenXR contract.
        let (r, handle) = unsafe {
            pvk::create_app_instance(
                gipa,
                info.vulkan_create_info as *const ash::vk::InstanceCreateInfo,
                info.vulkan_allocator as *const ash::vk::AllocationCallbacks,
            )
        };
        *vk_result = r.as_raw();
        *out = handle as xr::platform::VkInstance;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrCreateVulkanDeviceKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateVulkanDeviceKHR)
pub unsafe extern "system" fn xrCreateVulkanDeviceKHR(
    h: xr::Instance,
    info: *const xr::VulkanDeviceCreateInfoKHR,
    out: *mut xr::platform::VkDevice,
    vk_result: *mut xr::platform::VkResult,
) -> xr::Result {
    guard("xrCreateVulkanDeviceKHR", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::VulkanDeviceCreateInfoKHR::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let (out, vk_result) = unsafe {
            (
                out_ptr(out, "vulkanDevice")?,
                out_ptr(vk_result, "vulkanResult")?,
            )
        };
        let gipa = create_checks(
            &i,
            info.system_id,
            info.create_flags == xr::VulkanDeviceCreateFlagsKHR::EMPTY,
            info.pfn_get_instance_proc_addr,
            info.vulkan_create_info,
        )?;
        let state = i.vulkan_state();
        let (Some(vk_instance), Some(pd)) = (state.vk_instance, state.physical_device) else {
            return Err(Error::validation(
                "call xrGetVulkanGraphicsDevice2KHR before xrCreateVulkanDeviceKHR",
            ));
        };
        if info.vulkan_physical_device as u64 != pd {
            return Err(Error::handle_invalid(
                "vulkanPhysicalDevice is not the one xrGetVulkanGraphicsDevice2KHR returned",
            ));
        }
        // SAFETY: live instance and physical device; valid create info.
        let (r, handle) = unsafe {
            pvk::create_app_device(
                gipa,
                vk_instance,
                pd,
                info.vulkan_create_info as *const ash::vk::DeviceCreateInfo,
                info.vulkan_allocator as *const ash::vk::AllocationCallbacks,
            )
        };
        *vk_result = r.as_raw();
        *out = handle as xr::platform::VkDevice;
        Ok(xr::Result::SUCCESS)
    })
}
