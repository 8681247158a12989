//! A stand-in for an app's Vulkan device, so the compositor can be driven
//! without an OpenXR app: benchmarks and golden-image tests create shared
//! swapchains on it and fill their images with known pixels.

use super::swapchain::{SharedSwapchain, SwapchainDesc};
use super::{call, entry, AppBinding, AppDevice, Gpu, VkError, DEVICE_EXTENSIONS};
use ash::vk;
use ash::vk::Handle;
use std::ffi::c_char;
use std::sync::Arc;

/// An "app" Vulkan instance and device, and the compositor's device next to it.
pub struct Harness {
    instance: ash::Instance,
    device: ash::Device,
    app: Option<Arc<AppDevice>>,
    gpu: Option<Arc<Gpu>>,
}

impl Harness {
    /// `None` when the machine has no Vulkan device at all.
    pub fn new() -> Result<Option<Harness>, VkError> {
        let entry = entry()?;
        let app_info = vk::ApplicationInfo::default()
            .application_name(c"parallax-harness")
            .api_version(vk::make_api_version(0, 1, 1, 0));
        // SAFETY: valid create infos; the objects are destroyed in Drop.
        unsafe {
            let instance = entry
                .create_instance(
                    &vk::InstanceCreateInfo::default().application_info(&app_info),
                    None,
                )
                .map_err(call("vkCreateInstance"))?;
            let Some(physical) = instance
                .enumerate_physical_devices()
                .map_err(call("vkEnumeratePhysicalDevices"))?
                .into_iter()
                .next()
            else {
                instance.destroy_instance(None);
                return Ok(None);
            };
            let family = instance
                .get_physical_device_queue_family_properties(physical)
                .iter()
                .position(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS))
                .ok_or_else(|| VkError::NoDevice("no graphics queue".into()))?
                as u32;
            let prio = [1.0f32];
            let qci = [vk::DeviceQueueCreateInfo::default()
                .queue_family_index(family)
                .queue_priorities(&prio)];
            let exts: Vec<*const c_char> = DEVICE_EXTENSIONS.iter().map(|e| e.as_ptr()).collect();
            let device = instance
                .create_device(
                    physical,
                    &vk::DeviceCreateInfo::default()
                        .queue_create_infos(&qci)
                        .enabled_extension_names(&exts),
                    None,
                )
                .map_err(call("vkCreateDevice"))?;
            let app = AppDevice::new(AppBinding {
                instance: instance.handle().as_raw(),
                physical_device: physical.as_raw(),
                device: device.handle().as_raw(),
                queue_family: family,
                queue_index: 0,
            })?;
            let gpu = Gpu::open(app.uuid)?;
            Ok(Some(Harness {
                instance,
                device,
                app: Some(app),
                gpu: Some(gpu),
            }))
        }
    }

    pub fn app(&self) -> &Arc<AppDevice> {
        self.app.as_ref().expect("alive until drop")
    }

    pub fn gpu(&self) -> &Arc<Gpu> {
        self.gpu.as_ref().expect("alive until drop")
    }

    /// A colour swapchain with one image, which the harness can write.
    pub fn swapchain(
        &self,
        width: u32,
        height: u32,
        array_size: u32,
        format: vk::Format,
    ) -> Result<Arc<SharedSwapchain>, VkError> {
        self.chain(width, height, array_size, 1, format)
    }

    /// A depth swapchain (D32_SFLOAT) the harness can write with `fill`
    /// (pixels are f32 depth values, little-endian).
    pub fn depth_swapchain(
        &self,
        width: u32,
        height: u32,
        array_size: u32,
    ) -> Result<Arc<SharedSwapchain>, VkError> {
        SharedSwapchain::new(
            self.gpu().clone(),
            Some(self.app().clone()),
            SwapchainDesc {
                format: vk::Format::D32_SFLOAT,
                usage: vk::ImageUsageFlags::DEPTH_STENCIL_ATTACHMENT
                    | vk::ImageUsageFlags::TRANSFER_DST,
                mutable_format: false,
                width,
                height,
                array_size,
                mip_count: 1,
                face_count: 1,
                sample_count: 1,
                image_count: 1,
            },
        )
    }

    /// A cube swapchain (six faces, array layer `face` of `fill`).
    pub fn cube_swapchain(
        &self,
        size: u32,
        format: vk::Format,
    ) -> Result<Arc<SharedSwapchain>, VkError> {
        self.chain(size, size, 1, 6, format)
    }

    fn chain(
        &self,
        width: u32,
        height: u32,
        array_size: u32,
        face_count: u32,
        format: vk::Format,
    ) -> Result<Arc<SharedSwapchain>, VkError> {
        SharedSwapchain::new(
            self.gpu().clone(),
            Some(self.app().clone()),
            SwapchainDesc {
                format,
                usage: vk::ImageUsageFlags::COLOR_ATTACHMENT | vk::ImageUsageFlags::TRANSFER_DST,
                mutable_format: false,
                width,
                height,
                array_size,
                mip_count: 1,
                face_count,
                sample_count: 1,
                image_count: 1,
            },
        )
    }

    /// Writes rectangles `[x, y, w, h]` of one array layer of image 0 with
    /// raw 4-byte pixels (in the image format's byte order and encoding),
    /// in order, the way an app would render them.
    pub fn fill(
        &self,
        chain: &SharedSwapchain,
        array_index: u32,
        rects: &[([u32; 4], [u8; 4])],
    ) -> Result<(), VkError> {
        let app = self.app();
        let total: u64 = rects
            .iter()
            .map(|(r, _)| r[2] as u64 * r[3] as u64 * 4)
            .sum();
        if total == 0 {
            return Ok(());
        }
        let image = vk::Image::from_raw(chain.app_images()[0]);
        let layout = chain.hand_over_layout();
        let aspect = chain.aspect();
        let range = vk::ImageSubresourceRange {
            aspect_mask: aspect,
            base_mip_level: 0,
            level_count: 1,
            base_array_layer: array_index,
            layer_count: 1,
        };
        let d = &app.device;
        // SAFETY: a staging buffer on the app device, written through a
        // coherent mapping, copied, then destroyed after the wait.
        unsafe {
            let (buffer, memory) =
                super::host_buffer(d, &app.memory, total, vk::BufferUsageFlags::TRANSFER_SRC)?;
            let p = d
                .map_memory(memory, 0, total, vk::MemoryMapFlags::empty())
                .map_err(call("vkMapMemory"))? as *mut u8;
            let mut offset = 0u64;
            let mut regions = Vec::new();
            for ([x, y, w, h], px) in rects {
                let n = (*w as usize) * (*h as usize);
                let dst = std::slice::from_raw_parts_mut(p.add(offset as usize), n * 4);
                for c in dst.chunks_exact_mut(4) {
                    c.copy_from_slice(px);
                }
                regions.push(vk::BufferImageCopy {
                    buffer_offset: offset,
                    buffer_row_length: 0,
                    buffer_image_height: 0,
                    image_subresource: vk::ImageSubresourceLayers {
                        aspect_mask: aspect,
                        mip_level: 0,
                        base_array_layer: array_index,
                        layer_count: 1,
                    },
                    image_offset: vk::Offset3D {
                        x: *x as i32,
                        y: *y as i32,
                        z: 0,
                    },
                    image_extent: vk::Extent3D {
                        width: *w,
                        height: *h,
                        depth: 1,
                    },
                });
                offset += (n * 4) as u64;
            }
            d.unmap_memory(memory);
            let r = super::one_time(d, app.queue, app.pool, |cb| {
                let barrier = |old, new| {
                    super::barrier(
                        image,
                        range,
                        old,
                        new,
                        vk::AccessFlags::MEMORY_WRITE,
                        vk::AccessFlags::MEMORY_WRITE | vk::AccessFlags::MEMORY_READ,
                    )
                };
                d.cmd_pipeline_barrier(
                    cb,
                    vk::PipelineStageFlags::ALL_COMMANDS,
                    vk::PipelineStageFlags::TRANSFER,
                    vk::DependencyFlags::empty(),
                    &[],
                    &[],
                    &[barrier(layout, vk::ImageLayout::TRANSFER_DST_OPTIMAL)],
                );
                d.cmd_copy_buffer_to_image(
                    cb,
                    buffer,
                    image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    &regions,
                );
                d.cmd_pipeline_barrier(
                    cb,
                    vk::PipelineStageFlags::TRANSFER,
                    vk::PipelineStageFlags::ALL_COMMANDS,
                    vk::DependencyFlags::empty(),
                    &[],
                    &[],
                    &[barrier(vk::ImageLayout::TRANSFER_DST_OPTIMAL, layout)],
                );
            });
            d.destroy_buffer(buffer, None);
            d.free_memory(memory, None);
            r
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let app = self.app.take();
        let gpu = self.gpu.take();
        // Only destroy the device if nothing made on it is still alive.
        let sole = app.as_ref().is_some_and(|a| Arc::strong_count(a) == 1);
        drop(gpu);
        drop(app);
        if sole {
            // SAFETY: the app device wrapper (with its command pool) is gone
            // and nothing else holds objects of this device.
            unsafe {
                let _ = self.device.device_wait_idle();
                self.device.destroy_device(None);
                self.instance.destroy_instance(None);
            }
        }
    }
}
