//! All Vulkan (`ash`) code of Parallax.
//!
//! Two devices meet here. The compositor has its own `VkDevice` on the
//! app's physical device ([`Gpu`]); the app's device is reached through the
//! handles of its graphics binding ([`AppDevice`]). Swapchain images are
//! allocated by the compositor with exportable memory (opaque fd), and
//! imported into the app's device ([`swapchain`]), so the out-of-process
//! service of phase 2 changes only who holds the fd. App rendering is
//! fenced on the app's queue at `xrEndFrame`; the compositor polls the fence
//! and never waits on it.
#![allow(unsafe_code)]

pub mod compositor;
pub mod features;
pub mod harness;
pub mod swapchain;
pub mod window;

use ash::vk;
use ash::vk::Handle;
use std::ffi::{c_char, CStr};
use std::sync::Arc;

/// What can go wrong in the Vulkan layer (only what a caller cannot
/// anticipate, plus the checks of the graphics binding).
#[derive(Debug, thiserror::Error)]
pub enum VkError {
    #[error("the Vulkan loader could not be loaded: {0}")]
    Loader(String),
    #[error("Vulkan call {call} failed: {result}")]
    Call {
        call: &'static str,
        result: vk::Result,
    },
    #[error("no suitable Vulkan device: {0}")]
    NoDevice(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Maps a Vulkan result of a named call.
pub(crate) fn call(name: &'static str) -> impl FnOnce(vk::Result) -> VkError {
    move |result| VkError::Call { call: name, result }
}

/// The process-wide Vulkan loader.
pub fn entry() -> Result<&'static ash::Entry, VkError> {
    static ENTRY: std::sync::OnceLock<Result<ash::Entry, String>> = std::sync::OnceLock::new();
    ENTRY
        .get_or_init(|| {
            // SAFETY: loading the system's Vulkan loader library, which is
            // trusted to follow the Vulkan specification.
            unsafe { ash::Entry::load() }.map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| VkError::Loader(e.clone()))
}

/// Vulkan API versions apps may use with this runtime.
pub const MIN_API: u32 = vk::make_api_version(0, 1, 0, 0);
pub const MAX_API: u32 = vk::make_api_version(0, 1, 3, 0);

/// Instance extensions the runtime needs from an app's Vulkan 1.0 instance
/// (core from 1.1 on).
pub const INSTANCE_EXTENSIONS: &[&CStr] = &[
    c"VK_KHR_external_memory_capabilities",
    c"VK_KHR_get_physical_device_properties2",
];
/// Device extensions the runtime needs on the app's device.
pub const DEVICE_EXTENSIONS: &[&CStr] = &[c"VK_KHR_external_memory", c"VK_KHR_external_memory_fd"];

/// Vulkan image usage flags (for callers that do not depend on `ash`).
pub type ImageUsage = vk::ImageUsageFlags;
/// A Vulkan format.
pub type Format = vk::Format;

/// A `VkFormat` from the `int64_t` OpenXR uses for it.
pub fn format_from_raw(f: i64) -> vk::Format {
    vk::Format::from_raw(f as i32)
}

/// The graphics binding an app gave `xrCreateSession`, as raw handles.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AppBinding {
    pub instance: u64,
    pub physical_device: u64,
    pub device: u64,
    pub queue_family: u32,
    pub queue_index: u32,
}

/// Picks the physical device the runtime wants apps to use on a Vulkan
/// instance: a discrete GPU if any, else an integrated one, else the first
/// (lavapipe).
pub fn choose_physical_device(instance_raw: u64) -> Result<u64, VkError> {
    let entry = entry()?;
    // SAFETY: `instance_raw` is a live VkInstance the app created through
    // the same loader (checked non-null by the caller).
    let instance =
        unsafe { ash::Instance::load(entry.static_fn(), vk::Instance::from_raw(instance_raw)) };
    // SAFETY: valid instance.
    let devices = unsafe { instance.enumerate_physical_devices() }
        .map_err(call("vkEnumeratePhysicalDevices"))?;
    let rank = |d: &vk::PhysicalDevice| {
        // SAFETY: a physical device of this instance.
        let p = unsafe { instance.get_physical_device_properties(*d) };
        match p.device_type {
            vk::PhysicalDeviceType::DISCRETE_GPU => 0,
            vk::PhysicalDeviceType::INTEGRATED_GPU => 1,
            vk::PhysicalDeviceType::VIRTUAL_GPU => 2,
            _ => 3,
        }
    };
    devices
        .iter()
        .min_by_key(|d| rank(d))
        .map(|d| d.as_raw())
        .ok_or_else(|| VkError::NoDevice("the Vulkan instance has no physical device".into()))
}

/// Device UUID of a physical device of an app's instance.
fn device_uuid(instance: &ash::Instance, physical: vk::PhysicalDevice) -> [u8; 16] {
    device_ids(instance, physical).0
}

/// Device and driver UUIDs of a physical device.
fn device_ids(instance: &ash::Instance, physical: vk::PhysicalDevice) -> ([u8; 16], [u8; 16]) {
    let mut id = vk::PhysicalDeviceIDProperties::default();
    let mut props = vk::PhysicalDeviceProperties2::default().push_next(&mut id);
    // SAFETY: valid physical device; the chain is well formed.
    unsafe { instance.get_physical_device_properties2(physical, &mut props) };
    (id.device_uuid, id.driver_uuid)
}

/// The compositor's own Vulkan instance and device.
pub struct Gpu {
    pub instance: ash::Instance,
    pub physical: vk::PhysicalDevice,
    pub device: ash::Device,
    pub queue: vk::Queue,
    pub queue_family: u32,
    pub memory: vk::PhysicalDeviceMemoryProperties,
    pub external_memory_fd: ash::khr::external_memory_fd::Device,
    pub name: String,
    /// `VkPhysicalDeviceIDProperties::driverUUID`: memory is shared by
    /// opaque fd only with a driver of the same UUID (GL interop checks it).
    pub driver_uuid: [u8; 16],
    /// The surface and swapchain extensions are enabled.
    pub can_present: bool,
}

impl Gpu {
    /// Opens a device on the physical device whose UUID is `uuid`.
    pub fn open(uuid: [u8; 16]) -> Result<Arc<Gpu>, VkError> {
        Self::open_with(uuid, false)
    }

    /// Opens the device; with `present`, also the surface and swapchain
    /// extensions a window target needs (those the system offers).
    pub fn open_with(uuid: [u8; 16], present: bool) -> Result<Arc<Gpu>, VkError> {
        let entry = entry()?;
        let app = vk::ApplicationInfo::default()
            .application_name(c"parallax-compositor")
            .api_version(vk::make_api_version(0, 1, 1, 0));
        let mut inst_exts: Vec<*const c_char> = Vec::new();
        if present {
            // SAFETY: a global query.
            let available =
                unsafe { entry.enumerate_instance_extension_properties(None) }.unwrap_or_default();
            for want in [
                c"VK_KHR_surface",
                c"VK_KHR_xlib_surface",
                c"VK_KHR_xcb_surface",
                c"VK_KHR_wayland_surface",
            ] {
                if available
                    .iter()
                    .any(|e| e.extension_name_as_c_str() == Ok(want))
                {
                    inst_exts.push(want.as_ptr());
                }
            }
        }
        let ci = vk::InstanceCreateInfo::default()
            .application_info(&app)
            .enabled_extension_names(&inst_exts);
        // SAFETY: valid create info.
        let instance =
            unsafe { entry.create_instance(&ci, None) }.map_err(call("vkCreateInstance"))?;
        // SAFETY: valid instance.
        let physical = unsafe { instance.enumerate_physical_devices() }
            .map_err(call("vkEnumeratePhysicalDevices"))?
            .into_iter()
            .find(|p| device_uuid(&instance, *p) == uuid)
            .ok_or_else(|| {
                VkError::NoDevice(
                    "the app's physical device is not visible to the compositor".into(),
                )
            })?;
        // SAFETY: valid physical device.
        let families = unsafe { instance.get_physical_device_queue_family_properties(physical) };
        let queue_family = families
            .iter()
            .position(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS))
            .ok_or_else(|| VkError::NoDevice("no graphics queue".into()))?
            as u32;
        let prio = [1.0f32];
        let qci = [vk::DeviceQueueCreateInfo::default()
            .queue_family_index(queue_family)
            .queue_priorities(&prio)];
        let mut exts: Vec<*const c_char> = DEVICE_EXTENSIONS.iter().map(|e| e.as_ptr()).collect();
        // SAFETY: valid physical device.
        let dev_available =
            unsafe { instance.enumerate_device_extension_properties(physical) }.unwrap_or_default();
        let can_present = present
            && !inst_exts.is_empty()
            && dev_available
                .iter()
                .any(|e| e.extension_name_as_c_str() == Ok(c"VK_KHR_swapchain"));
        if can_present {
            exts.push(c"VK_KHR_swapchain".as_ptr());
        }
        let dci = vk::DeviceCreateInfo::default()
            .queue_create_infos(&qci)
            .enabled_extension_names(&exts);
        // SAFETY: valid physical device and create info.
        let device = unsafe { instance.create_device(physical, &dci, None) }
            .map_err(call("vkCreateDevice"))?;
        // SAFETY: the queue was requested above.
        let queue = unsafe { device.get_device_queue(queue_family, 0) };
        // SAFETY: valid physical device.
        let memory = unsafe { instance.get_physical_device_memory_properties(physical) };
        // SAFETY: valid physical device.
        let props = unsafe { instance.get_physical_device_properties(physical) };
        let name = props
            .device_name_as_c_str()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        let external_memory_fd = ash::khr::external_memory_fd::Device::new(&instance, &device);
        tracing::info!(device = %name, "compositor Vulkan device opened");
        let driver_uuid = device_ids(&instance, physical).1;
        Ok(Arc::new(Gpu {
            instance,
            physical,
            device,
            queue,
            queue_family,
            memory,
            external_memory_fd,
            name,
            driver_uuid,
            can_present,
        }))
    }

    /// A memory type index with `bits` allowed and `flags` set.
    pub fn memory_type(&self, bits: u32, flags: vk::MemoryPropertyFlags) -> Option<u32> {
        memory_type(&self.memory, bits, flags)
    }

    /// Runs a one-time command buffer on the compositor queue and waits.
    pub fn one_time(
        &self,
        pool: vk::CommandPool,
        record: impl FnOnce(vk::CommandBuffer),
    ) -> Result<(), VkError> {
        one_time(&self.device, self.queue, pool, record)
    }
}

impl Drop for Gpu {
    fn drop(&mut self) {
        // SAFETY: every object made from the device is destroyed by its
        // owner first (they hold an Arc<Gpu>).
        unsafe {
            let _ = self.device.device_wait_idle();
            self.device.destroy_device(None);
            self.instance.destroy_instance(None);
        }
    }
}

/// A memory type index of `props` with `bits` allowed and `flags` set.
pub(crate) fn memory_type(
    props: &vk::PhysicalDeviceMemoryProperties,
    bits: u32,
    flags: vk::MemoryPropertyFlags,
) -> Option<u32> {
    (0..props.memory_type_count).find(|&i| {
        bits & (1 << i) != 0
            && props.memory_types[i as usize]
                .property_flags
                .contains(flags)
    })
}

/// Allocates memory meeting `req` with `flags`.
pub(crate) fn allocate(
    device: &ash::Device,
    props: &vk::PhysicalDeviceMemoryProperties,
    req: vk::MemoryRequirements,
    flags: vk::MemoryPropertyFlags,
) -> Result<vk::DeviceMemory, VkError> {
    let ty = memory_type(props, req.memory_type_bits, flags)
        .ok_or_else(|| VkError::Unsupported(format!("no memory type with {flags:?}")))?;
    // SAFETY: a valid device and a memory type index it offers.
    unsafe {
        device.allocate_memory(
            &vk::MemoryAllocateInfo::default()
                .allocation_size(req.size)
                .memory_type_index(ty),
            None,
        )
    }
    .map_err(call("vkAllocateMemory"))
}

/// A host-visible, coherent buffer bound to its own memory.
pub(crate) fn host_buffer(
    device: &ash::Device,
    props: &vk::PhysicalDeviceMemoryProperties,
    size: u64,
    usage: vk::BufferUsageFlags,
) -> Result<(vk::Buffer, vk::DeviceMemory), VkError> {
    // SAFETY: plain object creation; on failure what was made is destroyed.
    unsafe {
        let buffer = device
            .create_buffer(
                &vk::BufferCreateInfo::default().size(size).usage(usage),
                None,
            )
            .map_err(call("vkCreateBuffer"))?;
        let req = device.get_buffer_memory_requirements(buffer);
        let memory = match allocate(
            device,
            props,
            req,
            vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT,
        ) {
            Ok(m) => m,
            Err(e) => {
                device.destroy_buffer(buffer, None);
                return Err(e);
            }
        };
        if let Err(e) = device.bind_buffer_memory(buffer, memory, 0) {
            device.destroy_buffer(buffer, None);
            device.free_memory(memory, None);
            return Err(call("vkBindBufferMemory")(e));
        }
        Ok((buffer, memory))
    }
}

/// An image layout transition (no queue family transfer).
pub(crate) fn barrier(
    image: vk::Image,
    range: vk::ImageSubresourceRange,
    old: vk::ImageLayout,
    new: vk::ImageLayout,
    src: vk::AccessFlags,
    dst: vk::AccessFlags,
) -> vk::ImageMemoryBarrier<'static> {
    vk::ImageMemoryBarrier::default()
        .image(image)
        .old_layout(old)
        .new_layout(new)
        .src_access_mask(src)
        .dst_access_mask(dst)
        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .subresource_range(range)
}

/// A resettable command pool on `family` with one primary command buffer.
pub(crate) fn command_buffer(
    device: &ash::Device,
    family: u32,
) -> Result<(vk::CommandPool, vk::CommandBuffer), VkError> {
    // SAFETY: plain object creation; the pool is destroyed if allocation fails.
    unsafe {
        let pool = device
            .create_command_pool(
                &vk::CommandPoolCreateInfo::default()
                    .queue_family_index(family)
                    .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER),
                None,
            )
            .map_err(call("vkCreateCommandPool"))?;
        match device.allocate_command_buffers(
            &vk::CommandBufferAllocateInfo::default()
                .command_pool(pool)
                .level(vk::CommandBufferLevel::PRIMARY)
                .command_buffer_count(1),
        ) {
            Ok(cbs) => Ok((pool, cbs[0])),
            Err(e) => {
                device.destroy_command_pool(pool, None);
                Err(call("vkAllocateCommandBuffers")(e))
            }
        }
    }
}

/// Records and submits a one-time command buffer, then waits for it.
pub(crate) fn one_time(
    device: &ash::Device,
    queue: vk::Queue,
    pool: vk::CommandPool,
    record: impl FnOnce(vk::CommandBuffer),
) -> Result<(), VkError> {
    let ai = vk::CommandBufferAllocateInfo::default()
        .command_pool(pool)
        .level(vk::CommandBufferLevel::PRIMARY)
        .command_buffer_count(1);
    // SAFETY: valid pool; the buffer is freed below after the fence wait.
    unsafe {
        let cb = device
            .allocate_command_buffers(&ai)
            .map_err(call("vkAllocateCommandBuffers"))?[0];
        device
            .begin_command_buffer(
                cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .map_err(call("vkBeginCommandBuffer"))?;
        record(cb);
        device
            .end_command_buffer(cb)
            .map_err(call("vkEndCommandBuffer"))?;
        let fence = device
            .create_fence(&vk::FenceCreateInfo::default(), None)
            .map_err(call("vkCreateFence"))?;
        let cbs = [cb];
        let submit = [vk::SubmitInfo::default().command_buffers(&cbs)];
        let r = device
            .queue_submit(queue, &submit, fence)
            .map_err(call("vkQueueSubmit"));
        if r.is_ok() {
            device
                .wait_for_fences(&[fence], true, u64::MAX)
                .map_err(call("vkWaitForFences"))?;
        }
        device.destroy_fence(fence, None);
        device.free_command_buffers(pool, &cbs);
        r
    }
}

/// The app's Vulkan device, reached through its graphics binding.
pub struct AppDevice {
    pub binding: AppBinding,
    pub instance: ash::Instance,
    pub device: ash::Device,
    pub queue: vk::Queue,
    pub pool: vk::CommandPool,
    pub uuid: [u8; 16],
    pub memory: vk::PhysicalDeviceMemoryProperties,
}

impl AppDevice {
    /// Wraps the app's handles.
    ///
    /// The binding's handles must be live objects the app created through
    /// this process's Vulkan loader; the FFI layer checks them against what
    /// `xrGetVulkanGraphicsDevice*KHR` returned.
    pub fn new(binding: AppBinding) -> Result<Arc<AppDevice>, VkError> {
        if binding.instance == 0 || binding.device == 0 || binding.physical_device == 0 {
            return Err(VkError::NoDevice(
                "null handle in the graphics binding".into(),
            ));
        }
        let entry = entry()?;
        // SAFETY: live app instance (see above).
        let instance = unsafe {
            ash::Instance::load(entry.static_fn(), vk::Instance::from_raw(binding.instance))
        };
        let physical = vk::PhysicalDevice::from_raw(binding.physical_device);
        // SAFETY: live app device of that instance.
        let device =
            unsafe { ash::Device::load(instance.fp_v1_0(), vk::Device::from_raw(binding.device)) };
        // SAFETY: valid physical device.
        let families = unsafe { instance.get_physical_device_queue_family_properties(physical) };
        let family = families.get(binding.queue_family as usize).ok_or_else(|| {
            VkError::NoDevice(format!(
                "queue family {} does not exist",
                binding.queue_family
            ))
        })?;
        if binding.queue_index >= family.queue_count {
            return Err(VkError::NoDevice(format!(
                "queue index {} does not exist",
                binding.queue_index
            )));
        }
        // SAFETY: the app created this queue with its device (binding contract).
        let queue = unsafe { device.get_device_queue(binding.queue_family, binding.queue_index) };
        let pci = vk::CommandPoolCreateInfo::default()
            .queue_family_index(binding.queue_family)
            .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER);
        // SAFETY: valid device.
        let pool = unsafe { device.create_command_pool(&pci, None) }
            .map_err(call("vkCreateCommandPool"))?;
        let uuid = device_uuid(&instance, physical);
        // SAFETY: valid physical device.
        let memory = unsafe { instance.get_physical_device_memory_properties(physical) };
        Ok(Arc::new(AppDevice {
            binding,
            instance,
            device,
            queue,
            pool,
            uuid,
            memory,
        }))
    }

    pub fn memory_type(&self, bits: u32, flags: vk::MemoryPropertyFlags) -> Option<u32> {
        memory_type(&self.memory, bits, flags)
    }

    /// Submits an empty batch with a new fence on the app's queue: it
    /// signals when everything the app submitted before is done.
    pub fn fence_queue(self: &Arc<Self>) -> Result<AppFence, VkError> {
        // SAFETY: valid device; the queue may be used by the runtime during
        // xrEndFrame (OpenXR Vulkan binding rules).
        unsafe {
            let fence = self
                .device
                .create_fence(&vk::FenceCreateInfo::default(), None)
                .map_err(call("vkCreateFence"))?;
            if let Err(e) = self.device.queue_submit(self.queue, &[], fence) {
                self.device.destroy_fence(fence, None);
                return Err(call("vkQueueSubmit")(e));
            }
            Ok(AppFence {
                device: self.clone(),
                fence,
            })
        }
    }
}

impl Drop for AppDevice {
    fn drop(&mut self) {
        // SAFETY: the pool is ours; the app's device outlives its session.
        unsafe { self.device.destroy_command_pool(self.pool, None) };
    }
}

/// A fence on the app's queue marking the end of one frame's rendering.
pub struct AppFence {
    device: Arc<AppDevice>,
    fence: vk::Fence,
}

impl AppFence {
    /// Whether the app's rendering before the fence has finished (never blocks).
    pub fn is_signaled(&self) -> bool {
        // SAFETY: valid fence of this device.
        let status = unsafe { self.device.device.get_fence_status(self.fence) };
        matches!(status, Ok(true))
    }

    /// Waits up to `timeout_ns` (used only off the app's thread, and at teardown).
    pub fn wait(&self, timeout_ns: u64) -> bool {
        // SAFETY: valid fence of this device.
        unsafe {
            self.device
                .device
                .wait_for_fences(&[self.fence], true, timeout_ns)
        }
        .is_ok()
    }
}

impl Drop for AppFence {
    fn drop(&mut self) {
        self.wait(1_000_000_000);
        // SAFETY: the fence is ours and no longer pending (waited above, or
        // the device is lost).
        unsafe { self.device.device.destroy_fence(self.fence, None) };
    }
}

/// Extension name list of a create info, plus the ones in `needed` that are
/// missing (as C strings owned by the caller's statics).
///
/// # Safety
/// `names` points to `count` NUL-terminated strings (or `count` is 0).
unsafe fn with_extensions(
    names: *const *const c_char,
    count: u32,
    needed: &[&'static CStr],
) -> Vec<*const c_char> {
    let mut out: Vec<*const c_char> = if count == 0 || names.is_null() {
        Vec::new()
    } else {
        // SAFETY: caller's contract.
        unsafe { std::slice::from_raw_parts(names, count as usize) }.to_vec()
    };
    for n in needed {
        // SAFETY: every entry is a NUL-terminated string.
        if !out.iter().any(|&p| unsafe { CStr::from_ptr(p) } == *n) {
            out.push(n.as_ptr());
        }
    }
    out
}

/// `xrCreateVulkanInstanceKHR`: creates the app's instance through the app's
/// `vkGetInstanceProcAddr`, adding the instance extensions the runtime
/// needs from a Vulkan 1.0 instance. Returns the Vulkan result and handle.
///
/// # Safety
/// `gipa` is a valid `vkGetInstanceProcAddr`; `create_info` points to a
/// valid `VkInstanceCreateInfo`; `allocator` is null or valid.
pub unsafe fn create_app_instance(
    gipa: vk::PFN_vkGetInstanceProcAddr,
    create_info: *const vk::InstanceCreateInfo<'_>,
    allocator: *const vk::AllocationCallbacks<'_>,
) -> (vk::Result, u64) {
    // SAFETY: caller's contract.
    let ci = unsafe { *create_info };
    let api = if ci.p_application_info.is_null() {
        vk::API_VERSION_1_0
    } else {
        // SAFETY: non-null, valid by contract.
        unsafe { (*ci.p_application_info).api_version }
    };
    let needed: &[&CStr] = if vk::api_version_minor(api) == 0 && vk::api_version_major(api) <= 1 {
        INSTANCE_EXTENSIONS
    } else {
        &[]
    };
    // SAFETY: the app's extension list.
    let exts = unsafe {
        with_extensions(
            ci.pp_enabled_extension_names,
            ci.enabled_extension_count,
            needed,
        )
    };
    let mut ci2 = ci;
    ci2.enabled_extension_count = exts.len() as u32;
    ci2.pp_enabled_extension_names = exts.as_ptr();
    // SAFETY: global command lookup with a null instance.
    let Some(f) = (unsafe { gipa(vk::Instance::null(), c"vkCreateInstance".as_ptr()) }) else {
        return (vk::Result::ERROR_INITIALIZATION_FAILED, 0);
    };
    // SAFETY: the loader returned vkCreateInstance for that name.
    let create: vk::PFN_vkCreateInstance =
        unsafe { std::mem::transmute::<unsafe extern "system" fn(), vk::PFN_vkCreateInstance>(f) };
    let mut out = vk::Instance::null();
    // SAFETY: valid create info (the app's, with a longer extension list
    // that outlives the call); allocator per contract.
    let r = unsafe {
        create(
            &ci2,
            allocator.as_ref().map_or(std::ptr::null(), |a| a),
            &mut out,
        )
    };
    (r, out.as_raw())
}

/// `xrCreateVulkanDeviceKHR`: creates the app's device through its
/// `vkGetInstanceProcAddr`, adding the device extensions the runtime needs.
///
/// # Safety
/// As [`create_app_instance`]; `instance` and `physical` are live handles of
/// that loader, `create_info` a valid `VkDeviceCreateInfo`.
pub unsafe fn create_app_device(
    gipa: vk::PFN_vkGetInstanceProcAddr,
    instance: u64,
    physical: u64,
    create_info: *const vk::DeviceCreateInfo<'_>,
    allocator: *const vk::AllocationCallbacks<'_>,
) -> (vk::Result, u64) {
    // SAFETY: caller's contract.
    let ci = unsafe { *create_info };
    // SAFETY: the app's extension list.
    let exts = unsafe {
        with_extensions(
            ci.pp_enabled_extension_names,
            ci.enabled_extension_count,
            DEVICE_EXTENSIONS,
        )
    };
    let mut ci2 = ci;
    ci2.enabled_extension_count = exts.len() as u32;
    ci2.pp_enabled_extension_names = exts.as_ptr();
    // SAFETY: the app's pNext chain, valid per contract.
    let merged = unsafe { features::merge_duplicates(ci.p_next) };
    if let Some(m) = &merged {
        tracing::warn!(
            structures = ?m.merged,
            "the app's VkDeviceCreateInfo chains the same feature structure twice \
             (VUID-VkDeviceCreateInfo-sType-unique); merged them"
        );
        ci2.p_next = m.head();
    }
    // SAFETY: instance-level lookup on a live instance.
    let Some(f) = (unsafe { gipa(vk::Instance::from_raw(instance), c"vkCreateDevice".as_ptr()) })
    else {
        return (vk::Result::ERROR_INITIALIZATION_FAILED, 0);
    };
    // SAFETY: the loader returned vkCreateDevice for that name.
    let create: vk::PFN_vkCreateDevice =
        unsafe { std::mem::transmute::<unsafe extern "system" fn(), vk::PFN_vkCreateDevice>(f) };
    let mut out = vk::Device::null();
    // SAFETY: valid create info and handles per contract.
    let r = unsafe {
        create(
            vk::PhysicalDevice::from_raw(physical),
            &ci2,
            allocator.as_ref().map_or(std::ptr::null(), |a| a),
            &mut out,
        )
    };
    (r, out.as_raw())
}
