//! The Vulkan compositor: a thread that wakes a fixed margin before each
//! refresh of its target, takes the newest app frame whose rendering has
//! finished (polling the app's fence, never waiting on it), composes it
//! into one image per eye, and writes captures when asked.
//!
//! This first version composes projection layers by scaled blits; quads and
//! the other layer types, lens distortion, chromatic-aberration correction
//! and reprojection come with the shader pipeline.

use super::swapchain::app_layout;
use super::{call, AppDevice, Gpu, VkError};
use crate::{Compositor, CompositorError, Frame, FrameClock, LayerKind, Stats};
use ash::vk;
use parallax_sdk_types::{Duration, Time};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Where and which composed frames to write as PNG.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Capture {
    pub dir: PathBuf,
    /// Which app frames to write, numbered in the order the compositor took
    /// them (0 is the first app frame shown); empty: none.
    pub frames: Vec<u64>,
}

/// The target's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetConfig {
    pub eye_width: u32,
    pub eye_height: u32,
    pub capture: Option<Capture>,
}

struct SharedState {
    pending: Mutex<Option<Frame>>,
    stats: Mutex<Stats>,
    stop: AtomicBool,
    submitted_any: AtomicBool,
}

/// The compositor of a session with a Vulkan graphics binding.
pub struct VkCompositor {
    pub gpu: Arc<Gpu>,
    pub app: Arc<AppDevice>,
    clock: Arc<FrameClock>,
    state: Arc<SharedState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Eye {
    image: vk::Image,
    memory: vk::DeviceMemory,
}

/// What the composing thread owns.
struct Renderer {
    gpu: Arc<Gpu>,
    pool: vk::CommandPool,
    cb: vk::CommandBuffer,
    fence: vk::Fence,
    eyes: [Eye; 2],
    readback: vk::Buffer,
    readback_memory: vk::DeviceMemory,
    config: TargetConfig,
}

const EYE_FORMAT: vk::Format = vk::Format::R8G8B8A8_SRGB;

impl VkCompositor {
    /// Opens the compositor's device on the app's physical device and
    /// starts composing.
    pub fn new(
        app: Arc<AppDevice>,
        period: Duration,
        config: TargetConfig,
    ) -> Result<Arc<Self>, VkError> {
        let gpu = Gpu::open(app.uuid)?;
        let renderer = Renderer::new(gpu.clone(), config)?;
        let clock = Arc::new(FrameClock::new(Time::now(), period));
        let state = Arc::new(SharedState {
            pending: Mutex::new(None),
            stats: Mutex::new(Stats::default()),
            stop: AtomicBool::new(false),
            submitted_any: AtomicBool::new(false),
        });
        let thread = {
            let (clock, state) = (clock.clone(), state.clone());
            std::thread::Builder::new()
                .name("parallax-compositor".into())
                .spawn(move || renderer.run(&clock, &state))
                .map_err(|e| {
                    VkError::Unsupported(format!("cannot start the compositor thread: {e}"))
                })?
        };
        Ok(Arc::new(VkCompositor {
            gpu,
            app,
            clock,
            state,
            thread: Some(thread),
        }))
    }

    /// Formats apps may create swapchains with, as `VkFormat` values.
    pub fn formats(&self) -> Vec<i64> {
        super::swapchain::supported_formats(&self.gpu)
            .into_iter()
            .map(|f| f.as_raw() as i64)
            .collect()
    }
}

impl Compositor for VkCompositor {
    fn clock(&self) -> &FrameClock {
        &self.clock
    }

    fn submit(&self, frame: Frame) -> Result<(), CompositorError> {
        let mut s = self.state.stats.lock();
        s.frames_submitted += 1;
        if !frame.layers.is_empty() {
            s.frames_with_layers += 1;
        }
        if frame.display_time < Time::now() {
            s.late_frames += 1;
        }
        drop(s);
        self.state.submitted_any.store(true, Ordering::Release);
        // A newer frame replaces one the compositor has not taken yet (its
        // images are released by dropping it).
        *self.state.pending.lock() = Some(frame);
        Ok(())
    }

    fn set_period(&self, period: Duration) {
        self.clock.set_period(period);
    }

    fn stats(&self) -> Stats {
        *self.state.stats.lock()
    }
}

impl Drop for VkCompositor {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.state.pending.lock().take();
    }
}

impl Renderer {
    fn new(gpu: Arc<Gpu>, config: TargetConfig) -> Result<Renderer, VkError> {
        let d = &gpu.device;
        // SAFETY: plain object creation on the compositor's own device; on
        // error the Drop of the partially built Renderer is not run, so the
        // few objects made so far leak only on a failing device.
        unsafe {
            let pool = d
                .create_command_pool(
                    &vk::CommandPoolCreateInfo::default()
                        .queue_family_index(gpu.queue_family)
                        .flags(vk::CommandPoolCreateFlags::RESET_COMMAND_BUFFER),
                    None,
                )
                .map_err(call("vkCreateCommandPool"))?;
            let cb = d
                .allocate_command_buffers(
                    &vk::CommandBufferAllocateInfo::default()
                        .command_pool(pool)
                        .level(vk::CommandBufferLevel::PRIMARY)
                        .command_buffer_count(1),
                )
                .map_err(call("vkAllocateCommandBuffers"))?[0];
            let fence = d
                .create_fence(&vk::FenceCreateInfo::default(), None)
                .map_err(call("vkCreateFence"))?;
            let mk_eye = || -> Result<Eye, VkError> {
                let info = vk::ImageCreateInfo::default()
                    .image_type(vk::ImageType::TYPE_2D)
                    .format(EYE_FORMAT)
                    .extent(vk::Extent3D {
                        width: config.eye_width,
                        height: config.eye_height,
                        depth: 1,
                    })
                    .mip_levels(1)
                    .array_layers(1)
                    .samples(vk::SampleCountFlags::TYPE_1)
                    .tiling(vk::ImageTiling::OPTIMAL)
                    .usage(
                        vk::ImageUsageFlags::TRANSFER_DST
                            | vk::ImageUsageFlags::TRANSFER_SRC
                            | vk::ImageUsageFlags::SAMPLED,
                    )
                    .initial_layout(vk::ImageLayout::UNDEFINED);
                let image = d.create_image(&info, None).map_err(call("vkCreateImage"))?;
                let req = d.get_image_memory_requirements(image);
                let ty = gpu
                    .memory_type(req.memory_type_bits, vk::MemoryPropertyFlags::DEVICE_LOCAL)
                    .ok_or_else(|| VkError::Unsupported("no device-local memory".into()))?;
                let memory = d
                    .allocate_memory(
                        &vk::MemoryAllocateInfo::default()
                            .allocation_size(req.size)
                            .memory_type_index(ty),
                        None,
                    )
                    .map_err(call("vkAllocateMemory"))?;
                d.bind_image_memory(image, memory, 0)
                    .map_err(call("vkBindImageMemory"))?;
                Ok(Eye { image, memory })
            };
            let eyes = [mk_eye()?, mk_eye()?];
            let size = config.eye_width as u64 * config.eye_height as u64 * 4 * 2;
            let readback = d
                .create_buffer(
                    &vk::BufferCreateInfo::default()
                        .size(size)
                        .usage(vk::BufferUsageFlags::TRANSFER_DST),
                    None,
                )
                .map_err(call("vkCreateBuffer"))?;
            let req = d.get_buffer_memory_requirements(readback);
            let ty = gpu
                .memory_type(
                    req.memory_type_bits,
                    vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT,
                )
                .ok_or_else(|| VkError::Unsupported("no host-visible memory".into()))?;
            let readback_memory = d
                .allocate_memory(
                    &vk::MemoryAllocateInfo::default()
                        .allocation_size(req.size)
                        .memory_type_index(ty),
                    None,
                )
                .map_err(call("vkAllocateMemory"))?;
            d.bind_buffer_memory(readback, readback_memory, 0)
                .map_err(call("vkBindBufferMemory"))?;
            Ok(Renderer {
                gpu,
                pool,
                cb,
                fence,
                eyes,
                readback,
                readback_memory,
                config,
            })
        }
    }

    fn run(self, clock: &FrameClock, state: &SharedState) {
        let mut current: Option<Frame> = None;
        // App frames taken so far (the number of the current one is taken - 1).
        let mut taken: u64 = 0;
        while !state.stop.load(Ordering::Acquire) {
            let margin = clock.compose_margin();
            let vsync = clock.next_vsync(Time::now() + margin + Duration(1));
            (vsync - margin).sleep_until();
            if state.stop.load(Ordering::Acquire) {
                break;
            }
            let started = Time::now();
            let fresh = {
                let mut p = state.pending.lock();
                let ready = p
                    .as_ref()
                    .is_some_and(|f| f.fence.as_ref().is_none_or(|x| x.is_signaled()));
                if ready {
                    current = p.take();
                    taken += 1;
                }
                ready
            };
            if !fresh && state.submitted_any.load(Ordering::Acquire) {
                state.stats.lock().missed_frames += 1;
            }
            let number = taken.wrapping_sub(1);
            let capture = self
                .config
                .capture
                .as_ref()
                .filter(|c| fresh && c.frames.contains(&number))
                .cloned();
            if let Err(e) = self.compose(current.as_ref(), capture.is_some()) {
                tracing::error!("compositor: {e}");
            } else if let Some(c) = capture {
                if let Err(e) = self.write_capture(&c, number) {
                    tracing::error!("capture of frame {number}: {e}");
                }
            }
            let took = Time::now() - started;
            let mut s = state.stats.lock();
            s.composed += 1;
            s.last_compose_ns = took.0;
            drop(s);
            tracing::trace!(compose_ms = took.as_secs_f64() * 1e3, fresh, "composed");
        }
    }

    fn compose(&self, frame: Option<&Frame>, readback: bool) -> Result<(), VkError> {
        let d = &self.gpu.device;
        let full = vk::ImageSubresourceRange {
            aspect_mask: vk::ImageAspectFlags::COLOR,
            base_mip_level: 0,
            level_count: 1,
            base_array_layer: 0,
            layer_count: 1,
        };
        let eye_barrier = |image, old, new, src: vk::AccessFlags, dst: vk::AccessFlags| {
            vk::ImageMemoryBarrier::default()
                .image(image)
                .old_layout(old)
                .new_layout(new)
                .src_access_mask(src)
                .dst_access_mask(dst)
                .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                .subresource_range(full)
        };
        // SAFETY: the command buffer and fence are this thread's alone; every
        // image used is alive (eyes are ours, app images are held by the frame).
        unsafe {
            d.reset_command_buffer(self.cb, vk::CommandBufferResetFlags::empty())
                .map_err(call("vkResetCommandBuffer"))?;
            d.begin_command_buffer(
                self.cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .map_err(call("vkBeginCommandBuffer"))?;
            let to_dst: Vec<_> = self
                .eyes
                .iter()
                .map(|e| {
                    eye_barrier(
                        e.image,
                        vk::ImageLayout::UNDEFINED,
                        vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                        vk::AccessFlags::empty(),
                        vk::AccessFlags::TRANSFER_WRITE,
                    )
                })
                .collect();
            d.cmd_pipeline_barrier(
                self.cb,
                vk::PipelineStageFlags::TOP_OF_PIPE,
                vk::PipelineStageFlags::TRANSFER,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &to_dst,
            );
            let black = vk::ClearColorValue {
                float32: [0.0, 0.0, 0.0, 1.0],
            };
            for e in &self.eyes {
                d.cmd_clear_color_image(
                    self.cb,
                    e.image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    &black,
                    &[full],
                );
            }
            for layer in frame.map(|f| f.layers.as_slice()).unwrap_or_default() {
                let LayerKind::Projection { views } = &layer.kind else {
                    continue;
                };
                for (eye, view) in self.eyes.iter().zip(views) {
                    let Some(sub) = &view.image else { continue };
                    let chain = &sub.hold.chain;
                    let src = chain.comp_image(sub.hold.index);
                    let layout = app_layout(&chain.desc);
                    let range = vk::ImageSubresourceRange {
                        aspect_mask: vk::ImageAspectFlags::COLOR,
                        base_mip_level: 0,
                        level_count: 1,
                        base_array_layer: sub.array_index,
                        layer_count: 1,
                    };
                    let acquire = vk::ImageMemoryBarrier::default()
                        .image(src)
                        .old_layout(layout)
                        .new_layout(vk::ImageLayout::TRANSFER_SRC_OPTIMAL)
                        .src_access_mask(vk::AccessFlags::MEMORY_WRITE)
                        .dst_access_mask(vk::AccessFlags::TRANSFER_READ)
                        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                        .subresource_range(range);
                    d.cmd_pipeline_barrier(
                        self.cb,
                        vk::PipelineStageFlags::ALL_COMMANDS,
                        vk::PipelineStageFlags::TRANSFER,
                        vk::DependencyFlags::empty(),
                        &[],
                        &[],
                        &[acquire],
                    );
                    let [x, y, w, h] = sub.rect;
                    let blit = vk::ImageBlit {
                        src_subresource: vk::ImageSubresourceLayers {
                            aspect_mask: vk::ImageAspectFlags::COLOR,
                            mip_level: 0,
                            base_array_layer: sub.array_index,
                            layer_count: 1,
                        },
                        src_offsets: [
                            vk::Offset3D { x, y, z: 0 },
                            vk::Offset3D {
                                x: x + w,
                                y: y + h,
                                z: 1,
                            },
                        ],
                        dst_subresource: vk::ImageSubresourceLayers {
                            aspect_mask: vk::ImageAspectFlags::COLOR,
                            mip_level: 0,
                            base_array_layer: 0,
                            layer_count: 1,
                        },
                        dst_offsets: [
                            vk::Offset3D { x: 0, y: 0, z: 0 },
                            vk::Offset3D {
                                x: self.config.eye_width as i32,
                                y: self.config.eye_height as i32,
                                z: 1,
                            },
                        ],
                    };
                    d.cmd_blit_image(
                        self.cb,
                        src,
                        vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                        eye.image,
                        vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                        &[blit],
                        vk::Filter::LINEAR,
                    );
                    let back = vk::ImageMemoryBarrier::default()
                        .image(src)
                        .old_layout(vk::ImageLayout::TRANSFER_SRC_OPTIMAL)
                        .new_layout(layout)
                        .src_access_mask(vk::AccessFlags::TRANSFER_READ)
                        .dst_access_mask(vk::AccessFlags::empty())
                        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                        .subresource_range(range);
                    d.cmd_pipeline_barrier(
                        self.cb,
                        vk::PipelineStageFlags::TRANSFER,
                        vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                        vk::DependencyFlags::empty(),
                        &[],
                        &[],
                        &[back],
                    );
                }
            }
            let to_src: Vec<_> = self
                .eyes
                .iter()
                .map(|e| {
                    eye_barrier(
                        e.image,
                        vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                        vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                        vk::AccessFlags::TRANSFER_WRITE,
                        vk::AccessFlags::TRANSFER_READ,
                    )
                })
                .collect();
            d.cmd_pipeline_barrier(
                self.cb,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::TRANSFER,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &to_src,
            );
            if readback {
                let eye_bytes = self.config.eye_width as u64 * self.config.eye_height as u64 * 4;
                for (i, e) in self.eyes.iter().enumerate() {
                    let region = vk::BufferImageCopy {
                        buffer_offset: eye_bytes * i as u64,
                        buffer_row_length: 0,
                        buffer_image_height: 0,
                        image_subresource: vk::ImageSubresourceLayers {
                            aspect_mask: vk::ImageAspectFlags::COLOR,
                            mip_level: 0,
                            base_array_layer: 0,
                            layer_count: 1,
                        },
                        image_offset: vk::Offset3D::default(),
                        image_extent: vk::Extent3D {
                            width: self.config.eye_width,
                            height: self.config.eye_height,
                            depth: 1,
                        },
                    };
                    d.cmd_copy_image_to_buffer(
                        self.cb,
                        e.image,
                        vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                        self.readback,
                        &[region],
                    );
                }
            }
            d.end_command_buffer(self.cb)
                .map_err(call("vkEndCommandBuffer"))?;
            let cbs = [self.cb];
            d.queue_submit(
                self.gpu.queue,
                &[vk::SubmitInfo::default().command_buffers(&cbs)],
                self.fence,
            )
            .map_err(call("vkQueueSubmit"))?;
            d.wait_for_fences(&[self.fence], true, u64::MAX)
                .map_err(call("vkWaitForFences"))?;
            d.reset_fences(&[self.fence])
                .map_err(call("vkResetFences"))?;
        }
        Ok(())
    }

    fn write_capture(&self, c: &Capture, output: u64) -> Result<(), VkError> {
        let (w, h) = (self.config.eye_width, self.config.eye_height);
        let eye_bytes = (w * h * 4) as usize;
        std::fs::create_dir_all(&c.dir)
            .map_err(|e| VkError::Unsupported(format!("cannot create {}: {e}", c.dir.display())))?;
        // SAFETY: host-visible, coherent memory of the size mapped; the copy
        // into it completed (fence waited in compose).
        let bytes: Vec<u8> = unsafe {
            let p = self
                .gpu
                .device
                .map_memory(
                    self.readback_memory,
                    0,
                    (eye_bytes * 2) as u64,
                    vk::MemoryMapFlags::empty(),
                )
                .map_err(call("vkMapMemory"))?;
            let v = std::slice::from_raw_parts(p as *const u8, eye_bytes * 2).to_vec();
            self.gpu.device.unmap_memory(self.readback_memory);
            v
        };
        for eye in 0..2 {
            let path = c.dir.join(format!("frame-{output:05}-eye{eye}.png"));
            let file = std::fs::File::create(&path).map_err(|e| {
                VkError::Unsupported(format!("cannot write {}: {e}", path.display()))
            })?;
            let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
            let mut writer = enc
                .write_header()
                .map_err(|e| VkError::Unsupported(format!("png: {e}")))?;
            writer
                .write_image_data(&bytes[eye * eye_bytes..(eye + 1) * eye_bytes])
                .map_err(|e| VkError::Unsupported(format!("png: {e}")))?;
            tracing::info!(path = %path.display(), "captured");
        }
        Ok(())
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        let d = &self.gpu.device;
        // SAFETY: the thread that used these objects has finished; the last
        // submission was waited for.
        unsafe {
            let _ = d.queue_wait_idle(self.gpu.queue);
            d.destroy_buffer(self.readback, None);
            d.free_memory(self.readback_memory, None);
            for e in &self.eyes {
                d.destroy_image(e.image, None);
                d.free_memory(e.memory, None);
            }
            d.destroy_fence(self.fence, None);
            d.destroy_command_pool(self.pool, None);
        }
    }
}
