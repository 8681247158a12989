//! Swapchain images shared between the compositor's device and the app's:
//! allocated by the compositor with exportable memory (opaque fd) and
//! imported into the app's device with identical create parameters.

use super::{call, AppDevice, Gpu, VkError};
use ash::vk;
use ash::vk::Handle;
use parking_lot::{Condvar, Mutex};
use std::sync::Arc;

/// What the app asked `xrCreateSwapchain` for, in Vulkan terms.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SwapchainDesc {
    pub format: vk::Format,
    pub usage: vk::ImageUsageFlags,
    pub mutable_format: bool,
    pub width: u32,
    pub height: u32,
    pub array_size: u32,
    pub mip_count: u32,
    /// 1, or 6 for a cube.
    pub face_count: u32,
    pub sample_count: u32,
    pub image_count: u32,
}

/// Formats offered to apps, best first: sRGB colour, linear colour, float
/// colour, then depth.
const CANDIDATES: &[vk::Format] = &[
    vk::Format::R8G8B8A8_SRGB,
    vk::Format::B8G8R8A8_SRGB,
    vk::Format::R8G8B8A8_UNORM,
    vk::Format::B8G8R8A8_UNORM,
    vk::Format::R16G16B16A16_SFLOAT,
    vk::Format::A2B10G10R10_UNORM_PACK32,
    vk::Format::D32_SFLOAT,
    vk::Format::D24_UNORM_S8_UINT,
    vk::Format::D16_UNORM,
    vk::Format::D32_SFLOAT_S8_UINT,
];

pub fn is_depth(f: vk::Format) -> bool {
    matches!(
        f,
        vk::Format::D32_SFLOAT
            | vk::Format::D24_UNORM_S8_UINT
            | vk::Format::D16_UNORM
            | vk::Format::D32_SFLOAT_S8_UINT
            | vk::Format::X8_D24_UNORM_PACK32
            | vk::Format::D16_UNORM_S8_UINT
    )
}

fn aspect(f: vk::Format) -> vk::ImageAspectFlags {
    match f {
        vk::Format::D24_UNORM_S8_UINT
        | vk::Format::D32_SFLOAT_S8_UINT
        | vk::Format::D16_UNORM_S8_UINT => {
            vk::ImageAspectFlags::DEPTH | vk::ImageAspectFlags::STENCIL
        }
        f if is_depth(f) => vk::ImageAspectFlags::DEPTH,
        _ => vk::ImageAspectFlags::COLOR,
    }
}

/// The layout images are in whenever the app holds them.
pub fn app_layout(desc: &SwapchainDesc) -> vk::ImageLayout {
    if desc.usage.contains(vk::ImageUsageFlags::COLOR_ATTACHMENT) {
        vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL
    } else if desc
        .usage
        .contains(vk::ImageUsageFlags::DEPTH_STENCIL_ATTACHMENT)
    {
        vk::ImageLayout::DEPTH_STENCIL_ATTACHMENT_OPTIMAL
    } else {
        vk::ImageLayout::GENERAL
    }
}

fn image_info<'a>(
    desc: &SwapchainDesc,
    external: &'a mut vk::ExternalMemoryImageCreateInfo<'static>,
) -> vk::ImageCreateInfo<'a> {
    let mut flags = vk::ImageCreateFlags::empty();
    if desc.face_count == 6 {
        flags |= vk::ImageCreateFlags::CUBE_COMPATIBLE;
    }
    if desc.mutable_format {
        flags |= vk::ImageCreateFlags::MUTABLE_FORMAT;
    }
    vk::ImageCreateInfo::default()
        .push_next(external)
        .flags(flags)
        .image_type(vk::ImageType::TYPE_2D)
        .format(desc.format)
        .extent(vk::Extent3D {
            width: desc.width,
            height: desc.height,
            depth: 1,
        })
        .mip_levels(desc.mip_count)
        .array_layers(desc.array_size * desc.face_count)
        .samples(vk::SampleCountFlags::from_raw(desc.sample_count))
        .tiling(vk::ImageTiling::OPTIMAL)
        .usage(desc.usage | compositor_usage(desc.format))
        .sharing_mode(vk::SharingMode::EXCLUSIVE)
        .initial_layout(vk::ImageLayout::UNDEFINED)
}

/// What the compositor itself needs of every image it reads.
fn compositor_usage(f: vk::Format) -> vk::ImageUsageFlags {
    if is_depth(f) {
        vk::ImageUsageFlags::SAMPLED
    } else {
        vk::ImageUsageFlags::SAMPLED | vk::ImageUsageFlags::TRANSFER_SRC
    }
}

/// Formats the device can share for swapchains, in preference order.
pub fn supported_formats(gpu: &Gpu) -> Vec<vk::Format> {
    CANDIDATES
        .iter()
        .copied()
        .filter(|&f| {
            let usage = if is_depth(f) {
                vk::ImageUsageFlags::DEPTH_STENCIL_ATTACHMENT
            } else {
                vk::ImageUsageFlags::COLOR_ATTACHMENT
            } | compositor_usage(f);
            let mut ext_info = vk::PhysicalDeviceExternalImageFormatInfo::default()
                .handle_type(vk::ExternalMemoryHandleTypeFlags::OPAQUE_FD);
            let info = vk::PhysicalDeviceImageFormatInfo2::default()
                .format(f)
                .ty(vk::ImageType::TYPE_2D)
                .tiling(vk::ImageTiling::OPTIMAL)
                .usage(usage)
                .push_next(&mut ext_info);
            let mut ext_props = vk::ExternalImageFormatProperties::default();
            let mut props = vk::ImageFormatProperties2::default().push_next(&mut ext_props);
            // SAFETY: valid physical device; well-formed chains.
            let ok = unsafe {
                gpu.instance.get_physical_device_image_format_properties2(
                    gpu.physical,
                    &info,
                    &mut props,
                )
            }
            .is_ok();
            ok && ext_props
                .external_memory_properties
                .external_memory_features
                .contains(
                    vk::ExternalMemoryFeatureFlags::EXPORTABLE
                        | vk::ExternalMemoryFeatureFlags::IMPORTABLE,
                )
        })
        .collect()
}

/// Largest sample count the device supports for a format's attachments.
pub fn max_samples(gpu: &Gpu) -> u32 {
    // SAFETY: valid physical device.
    let limits = unsafe { gpu.instance.get_physical_device_properties(gpu.physical) }.limits;
    let counts = limits.framebuffer_color_sample_counts & limits.framebuffer_depth_sample_counts;
    [64, 32, 16, 8, 4, 2, 1]
        .into_iter()
        .find(|&n| counts.contains(vk::SampleCountFlags::from_raw(n)))
        .unwrap_or(1)
}

struct Shared {
    comp_image: vk::Image,
    comp_memory: vk::DeviceMemory,
    /// The allocation's size (what an importer of the memory must name).
    size: u64,
    /// Null when the app is not on Vulkan.
    app_image: vk::Image,
    app_memory: vk::DeviceMemory,
}

/// A swapchain's images, on both devices, and which of them the compositor
/// still reads.
pub struct SharedSwapchain {
    pub gpu: Arc<Gpu>,
    /// The app's Vulkan device; `None` when the app renders with another
    /// API, which imports the memory itself ([`SharedSwapchain::export_memory`]).
    pub app: Option<Arc<AppDevice>>,
    pub desc: SwapchainDesc,
    /// The app's API puts the image origin at the bottom left (OpenGL): the
    /// compositor flips sub-image rectangles vertically.
    pub bottom_left_origin: bool,
    images: Vec<Shared>,
    in_use: Mutex<Vec<u32>>,
    freed: Condvar,
}

impl SharedSwapchain {
    /// Allocates `desc.image_count` images on the compositor's device with
    /// exportable memory. With an app device, imports the memory there and
    /// puts the app's images in their hand-over layout; without one, the
    /// app's API imports it ([`Self::export_memory`]) and its origin is at
    /// the bottom left.
    pub fn new(
        gpu: Arc<Gpu>,
        app: Option<Arc<AppDevice>>,
        desc: SwapchainDesc,
    ) -> Result<Arc<Self>, VkError> {
        let mut images = Vec::new();
        let mut chain = SharedSwapchain {
            gpu: gpu.clone(),
            app: app.clone(),
            desc,
            bottom_left_origin: app.is_none(),
            images: Vec::new(),
            in_use: Mutex::new(vec![0; desc.image_count as usize]),
            freed: Condvar::new(),
        };
        for _ in 0..desc.image_count {
            match Self::make_image(&gpu, app.as_deref(), &desc) {
                Ok(s) => images.push(s),
                Err(e) => {
                    chain.images = images;
                    drop(chain); // frees what was made
                    return Err(e);
                }
            }
        }
        chain.images = images;
        let Some(app) = app else {
            return Ok(Arc::new(chain));
        };
        let layout = app_layout(&desc);
        let aspect = aspect(desc.format);
        let app_images: Vec<vk::Image> = chain.images.iter().map(|s| s.app_image).collect();
        super::one_time(&app.device, app.queue, app.pool, |cb| {
            let barriers: Vec<vk::ImageMemoryBarrier> = app_images
                .iter()
                .map(|&image| {
                    vk::ImageMemoryBarrier::default()
                        .image(image)
                        .old_layout(vk::ImageLayout::UNDEFINED)
                        .new_layout(layout)
                        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                        .dst_access_mask(
                            vk::AccessFlags::MEMORY_READ | vk::AccessFlags::MEMORY_WRITE,
                        )
                        .subresource_range(vk::ImageSubresourceRange {
                            aspect_mask: aspect,
                            base_mip_level: 0,
                            level_count: vk::REMAINING_MIP_LEVELS,
                            base_array_layer: 0,
                            layer_count: vk::REMAINING_ARRAY_LAYERS,
                        })
                })
                .collect();
            // SAFETY: recording into a fresh command buffer of the app's device.
            unsafe {
                app.device.cmd_pipeline_barrier(
                    cb,
                    vk::PipelineStageFlags::TOP_OF_PIPE,
                    vk::PipelineStageFlags::ALL_COMMANDS,
                    vk::DependencyFlags::empty(),
                    &[],
                    &[],
                    &barriers,
                )
            };
        })?;
        Ok(Arc::new(chain))
    }

    /// The layout the compositor finds images in when it takes them and
    /// leaves them in when it is done: the app's attachment layout for a
    /// Vulkan app; GENERAL for another API (without shared semaphores there
    /// is no layout hand-over, and GENERAL keeps the contents).
    pub fn hand_over_layout(&self) -> vk::ImageLayout {
        if self.app.is_some() {
            app_layout(&self.desc)
        } else {
            vk::ImageLayout::GENERAL
        }
    }

    /// New fds of every image's memory, with the allocation size, for the
    /// app's API to import (each fd is the importer's to own or close).
    pub fn export_memory(&self) -> Result<Vec<(std::os::fd::OwnedFd, u64)>, VkError> {
        self.images
            .iter()
            .map(|s| {
                // SAFETY: exportable memory of our device; the new fd is ours.
                let fd = unsafe {
                    self.gpu.external_memory_fd.get_memory_fd(
                        &vk::MemoryGetFdInfoKHR::default()
                            .memory(s.comp_memory)
                            .handle_type(vk::ExternalMemoryHandleTypeFlags::OPAQUE_FD),
                    )
                }
                .map_err(call("vkGetMemoryFdKHR"))?;
                Ok((unsafe_fd(fd), s.size))
            })
            .collect()
    }

    fn make_image(
        gpu: &Gpu,
        app: Option<&AppDevice>,
        desc: &SwapchainDesc,
    ) -> Result<Shared, VkError> {
        let handle = vk::ExternalMemoryHandleTypeFlags::OPAQUE_FD;
        let mut ext = vk::ExternalMemoryImageCreateInfo::default().handle_types(handle);
        let info = image_info(desc, &mut ext);
        // SAFETY: objects are created and, on any error, destroyed in order;
        // the fd is handed to Vulkan by the import (which then owns it).
        unsafe {
            let comp_image = gpu
                .device
                .create_image(&info, None)
                .map_err(call("vkCreateImage"))?;
            let req = gpu.device.get_image_memory_requirements(comp_image);
            let Some(ty) =
                gpu.memory_type(req.memory_type_bits, vk::MemoryPropertyFlags::DEVICE_LOCAL)
            else {
                gpu.device.destroy_image(comp_image, None);
                return Err(VkError::Unsupported(
                    "no device-local memory for swapchain images".into(),
                ));
            };
            let mut export = vk::ExportMemoryAllocateInfo::default().handle_types(handle);
            let mut dedicated = vk::MemoryDedicatedAllocateInfo::default().image(comp_image);
            let ai = vk::MemoryAllocateInfo::default()
                .allocation_size(req.size)
                .memory_type_index(ty)
                .push_next(&mut export)
                .push_next(&mut dedicated);
            let comp_memory = match gpu.device.allocate_memory(&ai, None) {
                Ok(m) => m,
                Err(e) => {
                    gpu.device.destroy_image(comp_image, None);
                    return Err(call("vkAllocateMemory")(e));
                }
            };
            let cleanup_comp = || {
                gpu.device.destroy_image(comp_image, None);
                gpu.device.free_memory(comp_memory, None);
            };
            if let Err(e) = gpu.device.bind_image_memory(comp_image, comp_memory, 0) {
                cleanup_comp();
                return Err(call("vkBindImageMemory")(e));
            }
            let Some(app) = app else {
                return Ok(Shared {
                    comp_image,
                    comp_memory,
                    size: req.size,
                    app_image: vk::Image::null(),
                    app_memory: vk::DeviceMemory::null(),
                });
            };
            let fd = match gpu.external_memory_fd.get_memory_fd(
                &vk::MemoryGetFdInfoKHR::default()
                    .memory(comp_memory)
                    .handle_type(handle),
            ) {
                Ok(fd) => fd,
                Err(e) => {
                    cleanup_comp();
                    return Err(call("vkGetMemoryFdKHR")(e));
                }
            };
            let mut ext2 = vk::ExternalMemoryImageCreateInfo::default().handle_types(handle);
            let info2 = image_info(desc, &mut ext2);
            let app_image = match app.device.create_image(&info2, None) {
                Ok(i) => i,
                Err(e) => {
                    libc_close(fd);
                    cleanup_comp();
                    return Err(call("vkCreateImage (app)")(e));
                }
            };
            let req2 = app.device.get_image_memory_requirements(app_image);
            let ty2 = app
                .memory_type(req2.memory_type_bits, vk::MemoryPropertyFlags::DEVICE_LOCAL)
                .unwrap_or(ty);
            let mut import = vk::ImportMemoryFdInfoKHR::default()
                .handle_type(handle)
                .fd(fd);
            let mut dedicated2 = vk::MemoryDedicatedAllocateInfo::default().image(app_image);
            let ai2 = vk::MemoryAllocateInfo::default()
                .allocation_size(req2.size.max(req.size))
                .memory_type_index(ty2)
                .push_next(&mut import)
                .push_next(&mut dedicated2);
            let app_memory = match app.device.allocate_memory(&ai2, None) {
                Ok(m) => m,
                Err(e) => {
                    libc_close(fd);
                    app.device.destroy_image(app_image, None);
                    cleanup_comp();
                    return Err(call("vkAllocateMemory (import)")(e));
                }
            };
            if let Err(e) = app.device.bind_image_memory(app_image, app_memory, 0) {
                app.device.destroy_image(app_image, None);
                app.device.free_memory(app_memory, None);
                cleanup_comp();
                return Err(call("vkBindImageMemory (app)")(e));
            }
            Ok(Shared {
                comp_image,
                comp_memory,
                size: req.size,
                app_image,
                app_memory,
            })
        }
    }

    /// The app's `VkImage` handles, for `xrEnumerateSwapchainImages`
    /// (empty when the app is not on Vulkan).
    pub fn app_images(&self) -> Vec<u64> {
        if self.app.is_none() {
            return Vec::new();
        }
        self.images.iter().map(|s| s.app_image.as_raw()).collect()
    }

    pub(crate) fn comp_image(&self, index: u32) -> vk::Image {
        self.images[index as usize].comp_image
    }

    pub fn aspect(&self) -> vk::ImageAspectFlags {
        aspect(self.desc.format)
    }

    /// Marks an image as read by the compositor until the guard drops.
    pub fn hold(self: &Arc<Self>, index: u32) -> ImageHold {
        self.in_use.lock()[index as usize] += 1;
        ImageHold {
            chain: self.clone(),
            index,
        }
    }

    /// Waits until the compositor no longer reads `index`; false on timeout.
    pub fn wait_free(&self, index: u32, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut u = self.in_use.lock();
        while u[index as usize] > 0 {
            if self.freed.wait_until(&mut u, deadline).timed_out() {
                return u[index as usize] == 0;
            }
        }
        true
    }
}

/// Keeps a swapchain image from being handed back to the app.
pub struct ImageHold {
    pub chain: Arc<SharedSwapchain>,
    pub index: u32,
}

impl Drop for ImageHold {
    fn drop(&mut self) {
        let mut u = self.chain.in_use.lock();
        u[self.index as usize] -= 1;
        self.chain.freed.notify_all();
    }
}

fn libc_close(fd: i32) {
    // An fd Vulkan did not take is ours to close.
    drop(std::fs::File::from(unsafe_fd(fd)));
}

fn unsafe_fd(fd: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` was returned by vkGetMemoryFdKHR and not consumed.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

impl Drop for SharedSwapchain {
    fn drop(&mut self) {
        // SAFETY: the compositor holds no image (holds keep an Arc to the
        // chain), and the app's device is idle for these images once the
        // app destroys the swapchain (OpenXR contract).
        unsafe {
            let _ = self.gpu.device.queue_wait_idle(self.gpu.queue);
            for s in &self.images {
                if let Some(app) = &self.app {
                    app.device.destroy_image(s.app_image, None);
                    app.device.free_memory(s.app_memory, None);
                }
                self.gpu.device.destroy_image(s.comp_image, None);
                self.gpu.device.free_memory(s.comp_memory, None);
            }
        }
    }
}
