//! The desktop window target: a winit window on the compositor's thread
//! that shows the panel image (both eyes after distortion) at each
//! composition, through a Vulkan swapchain on the compositor's device.
//!
//! winit's event loop lives on the compositor thread (X11 and Wayland allow
//! that) and is pumped without blocking once per composition; closing the
//! window stops presenting, while composition (and captures) go on.

use super::{call, Gpu, VkError};
use ash::vk;
use parallax_sdk_types::{DesktopControls, DesktopInput, Time};
use raw_window_handle::{HasDisplayHandle, HasWindowHandle};
use std::sync::Arc;
use winit::application::ApplicationHandler;
use winit::event::{ElementState, MouseButton, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::keyboard::{Key, NamedKey};
use winit::platform::pump_events::EventLoopExtPumpEvents;
use winit::window::{Window, WindowId};

#[derive(Default)]
struct App {
    window: Option<Window>,
    closed: bool,
    resized: bool,
    size: (u32, u32),
    /// Where keyboard and mouse go (the desktop simulator), with its legend.
    desktop: Option<DesktopControls>,
    cursor: Option<(f64, f64)>,
}

impl App {
    fn send(&self, ev: DesktopInput) {
        if let Some(d) = &self.desktop {
            (d.sink)(&ev);
        }
    }
}

/// The name a desktop driver receives for a key.
fn key_name(key: &Key) -> Option<String> {
    match key {
        Key::Character(c) => Some(c.to_lowercase()),
        Key::Named(NamedKey::Space) => Some("space".into()),
        Key::Named(NamedKey::Shift) => Some("shift".into()),
        Key::Named(NamedKey::Tab) => Some("tab".into()),
        Key::Named(NamedKey::Escape) => Some("escape".into()),
        Key::Named(NamedKey::Enter) => Some("enter".into()),
        Key::Named(NamedKey::ArrowUp) => Some("up".into()),
        Key::Named(NamedKey::ArrowDown) => Some("down".into()),
        Key::Named(NamedKey::ArrowLeft) => Some("left".into()),
        Key::Named(NamedKey::ArrowRight) => Some("right".into()),
        _ => None,
    }
}

impl ApplicationHandler for App {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        if self.window.is_none() && !self.closed {
            let title = match &self.desktop {
                Some(d) => d.legend.clone(),
                None => "Parallax (headset panel)".into(),
            };
            let attrs = Window::default_attributes()
                .with_title(title)
                .with_inner_size(winit::dpi::PhysicalSize::new(self.size.0, self.size.1));
            match event_loop.create_window(attrs) {
                Ok(w) => self.window = Some(w),
                Err(e) => {
                    tracing::error!("cannot open the desktop window: {e}");
                    self.closed = true;
                }
            }
        }
    }

    fn window_event(&mut self, _: &ActiveEventLoop, _: WindowId, event: WindowEvent) {
        match event {
            WindowEvent::CloseRequested => self.closed = true,
            WindowEvent::Resized(s) => {
                self.size = (s.width, s.height);
                self.resized = true;
            }
            WindowEvent::KeyboardInput { event, .. } => {
                if let Some(name) = key_name(&event.logical_key) {
                    self.send(DesktopInput::Key {
                        name,
                        pressed: event.state == ElementState::Pressed,
                        repeat: event.repeat,
                    });
                }
            }
            WindowEvent::MouseInput { state, button, .. } => {
                let button = match button {
                    MouseButton::Left => 0,
                    MouseButton::Right => 1,
                    MouseButton::Middle => 2,
                    _ => return,
                };
                self.send(DesktopInput::MouseButton {
                    button,
                    pressed: state == ElementState::Pressed,
                });
            }
            WindowEvent::CursorMoved { position, .. } => {
                if let Some((x, y)) = self.cursor {
                    self.send(DesktopInput::CursorMoved {
                        dx: (position.x - x) as f32,
                        dy: (position.y - y) as f32,
                    });
                }
                self.cursor = Some((position.x, position.y));
            }
            WindowEvent::CursorLeft { .. } => self.cursor = None,
            WindowEvent::Focused(false) => self.send(DesktopInput::FocusLost),
            _ => {}
        }
    }
}

struct Chain {
    swapchain: vk::SwapchainKHR,
    images: Vec<vk::Image>,
    extent: vk::Extent2D,
}

/// A window showing the panel.
pub struct WindowTarget {
    gpu: Arc<Gpu>,
    event_loop: EventLoop<()>,
    app: App,
    surface_fn: ash::khr::surface::Instance,
    swapchain_fn: ash::khr::swapchain::Device,
    surface: vk::SurfaceKHR,
    chain: Option<Chain>,
    pool: vk::CommandPool,
    cb: vk::CommandBuffer,
    acquired: vk::Semaphore,
    rendered: vk::Semaphore,
    fence: vk::Fence,
    /// Panel images shown so far.
    pub presented: u64,
}

impl WindowTarget {
    /// Opens a window of `width` x `height` pixels; call on the thread that
    /// will present. `gpu` must have been opened with presentation.
    pub fn new(
        gpu: Arc<Gpu>,
        width: u32,
        height: u32,
        desktop: Option<DesktopControls>,
    ) -> Result<WindowTarget, VkError> {
        if !gpu.can_present {
            return Err(VkError::Unsupported(
                "the Vulkan device cannot present to windows".into(),
            ));
        }
        let mut builder = EventLoop::builder();
        #[cfg(target_os = "linux")]
        {
            use winit::platform::wayland::EventLoopBuilderExtWayland;
            use winit::platform::x11::EventLoopBuilderExtX11;
            EventLoopBuilderExtX11::with_any_thread(&mut builder, true);
            EventLoopBuilderExtWayland::with_any_thread(&mut builder, true);
        }
        let mut event_loop = builder
            .build()
            .map_err(|e| VkError::Unsupported(format!("no display: {e}")))?;
        if let Some(d) = &desktop {
            tracing::info!("desktop simulator: {}", d.legend);
        }
        let mut app = App {
            size: (width, height),
            desktop,
            ..Default::default()
        };
        // Let winit deliver `resumed`, which opens the window.
        for _ in 0..10 {
            let _ =
                event_loop.pump_app_events(Some(std::time::Duration::from_millis(10)), &mut app);
            if app.window.is_some() || app.closed {
                break;
            }
        }
        let window = app
            .window
            .as_ref()
            .ok_or_else(|| VkError::Unsupported("the window did not open".into()))?;
        let display = window
            .display_handle()
            .map_err(|e| VkError::Unsupported(e.to_string()))?
            .as_raw();
        let handle = window
            .window_handle()
            .map_err(|e| VkError::Unsupported(e.to_string()))?
            .as_raw();
        let entry = super::entry()?;
        // SAFETY: live display and window handles of a window this struct
        // owns (it outlives the surface: see Drop).
        let surface =
            unsafe { ash_window::create_surface(entry, &gpu.instance, display, handle, None) }
                .map_err(call("vkCreate*SurfaceKHR"))?;
        let surface_fn = ash::khr::surface::Instance::new(entry, &gpu.instance);
        // SAFETY: valid physical device, queue family and surface.
        let supported = unsafe {
            surface_fn.get_physical_device_surface_support(gpu.physical, gpu.queue_family, surface)
        }
        .unwrap_or(false);
        if !supported {
            // SAFETY: the surface was just made and is unused.
            unsafe { surface_fn.destroy_surface(surface, None) };
            return Err(VkError::Unsupported(
                "the compositor's queue cannot present to this window".into(),
            ));
        }
        let swapchain_fn = ash::khr::swapchain::Device::new(&gpu.instance, &gpu.device);
        let d = &gpu.device;
        // SAFETY: plain object creation on the compositor's device.
        let (pool, cb, acquired, rendered, fence) = unsafe {
            let (pool, cb) = super::command_buffer(d, gpu.queue_family)?;
            (
                pool,
                cb,
                d.create_semaphore(&vk::SemaphoreCreateInfo::default(), None)
                    .map_err(call("vkCreateSemaphore"))?,
                d.create_semaphore(&vk::SemaphoreCreateInfo::default(), None)
                    .map_err(call("vkCreateSemaphore"))?,
                d.create_fence(&vk::FenceCreateInfo::default(), None)
                    .map_err(call("vkCreateFence"))?,
            )
        };
        tracing::info!(width, height, "desktop window target open");
        Ok(WindowTarget {
            gpu,
            event_loop,
            app,
            surface_fn,
            swapchain_fn,
            surface,
            chain: None,
            pool,
            cb,
            acquired,
            rendered,
            fence,
            presented: 0,
        })
    }

    /// Whether the user closed the window.
    pub fn closed(&self) -> bool {
        self.app.closed
    }

    fn destroy_chain(&mut self) {
        if let Some(c) = self.chain.take() {
            // SAFETY: the device is idle for the chain (each present's work is
            // fenced before the next).
            unsafe {
                let _ = self.gpu.device.device_wait_idle();
                self.swapchain_fn.destroy_swapchain(c.swapchain, None);
            }
        }
    }

    fn make_chain(&mut self) -> Result<(), VkError> {
        self.destroy_chain();
        let g = &self.gpu;
        // SAFETY: valid physical device and surface.
        let (caps, formats, modes) = unsafe {
            (
                self.surface_fn
                    .get_physical_device_surface_capabilities(g.physical, self.surface)
                    .map_err(call("vkGetPhysicalDeviceSurfaceCapabilitiesKHR"))?,
                self.surface_fn
                    .get_physical_device_surface_formats(g.physical, self.surface)
                    .map_err(call("vkGetPhysicalDeviceSurfaceFormatsKHR"))?,
                self.surface_fn
                    .get_physical_device_surface_present_modes(g.physical, self.surface)
                    .map_err(call("vkGetPhysicalDeviceSurfacePresentModesKHR"))?,
            )
        };
        let format = formats
            .iter()
            .find(|f| {
                matches!(
                    f.format,
                    vk::Format::B8G8R8A8_SRGB | vk::Format::R8G8B8A8_SRGB
                )
            })
            .or(formats.first())
            .copied()
            .ok_or_else(|| VkError::Unsupported("the window offers no surface format".into()))?;
        // Never block the compositor on the window: mailbox or immediate if offered.
        let mode = [vk::PresentModeKHR::MAILBOX, vk::PresentModeKHR::IMMEDIATE]
            .into_iter()
            .find(|m| modes.contains(m))
            .unwrap_or(vk::PresentModeKHR::FIFO);
        let extent = if caps.current_extent.width != u32::MAX {
            caps.current_extent
        } else {
            vk::Extent2D {
                width: self
                    .app
                    .size
                    .0
                    .clamp(caps.min_image_extent.width, caps.max_image_extent.width),
                height: self
                    .app
                    .size
                    .1
                    .clamp(caps.min_image_extent.height, caps.max_image_extent.height),
            }
        };
        if extent.width == 0 || extent.height == 0 {
            return Ok(()); // minimised: nothing to show
        }
        let count = (caps.min_image_count + 1).min(if caps.max_image_count == 0 {
            u32::MAX
        } else {
            caps.max_image_count
        });
        let info = vk::SwapchainCreateInfoKHR::default()
            .surface(self.surface)
            .min_image_count(count)
            .image_format(format.format)
            .image_color_space(format.color_space)
            .image_extent(extent)
            .image_array_layers(1)
            .image_usage(vk::ImageUsageFlags::TRANSFER_DST | vk::ImageUsageFlags::COLOR_ATTACHMENT)
            .image_sharing_mode(vk::SharingMode::EXCLUSIVE)
            .pre_transform(caps.current_transform)
            .composite_alpha(vk::CompositeAlphaFlagsKHR::OPAQUE)
            .present_mode(mode)
            .clipped(true);
        // SAFETY: valid create info for this device's surface.
        let swapchain = unsafe { self.swapchain_fn.create_swapchain(&info, None) }
            .map_err(call("vkCreateSwapchainKHR"))?;
        // SAFETY: the swapchain just made.
        let images = unsafe { self.swapchain_fn.get_swapchain_images(swapchain) }
            .map_err(call("vkGetSwapchainImagesKHR"))?;
        self.chain = Some(Chain {
            swapchain,
            images,
            extent,
        });
        Ok(())
    }

    /// Handles window events and shows `panel` (in TRANSFER_SRC_OPTIMAL,
    /// `width` x `height`), scaled to the window.
    pub fn present(&mut self, panel: vk::Image, width: u32, height: u32) -> Result<(), VkError> {
        let _ = self
            .event_loop
            .pump_app_events(Some(std::time::Duration::ZERO), &mut self.app);
        self.app.send(DesktopInput::Tick(Time::now()));
        if self.app.closed {
            self.destroy_chain();
            return Ok(());
        }
        if self.chain.is_none() || self.app.resized {
            self.app.resized = false;
            self.make_chain()?;
        }
        let Some(chain) = &self.chain else {
            return Ok(());
        };
        let d = &self.gpu.device;
        // SAFETY: a live swapchain; a zero timeout never blocks composition.
        let index = match unsafe {
            self.swapchain_fn.acquire_next_image(
                chain.swapchain,
                0,
                self.acquired,
                vk::Fence::null(),
            )
        } {
            Ok((i, _)) => i,
            Err(vk::Result::NOT_READY) | Err(vk::Result::TIMEOUT) => return Ok(()),
            Err(vk::Result::ERROR_OUT_OF_DATE_KHR) => {
                self.app.resized = true;
                return Ok(());
            }
            Err(e) => return Err(call("vkAcquireNextImageKHR")(e)),
        };
        let target = chain.images[index as usize];
        let extent = chain.extent;
        let range = vk::ImageSubresourceRange {
            aspect_mask: vk::ImageAspectFlags::COLOR,
            base_mip_level: 0,
            level_count: 1,
            base_array_layer: 0,
            layer_count: 1,
        };
        let barrier = |old, new, src, dst| super::barrier(target, range, old, new, src, dst);
        // SAFETY: this struct's command buffer, semaphores and fence; the
        // panel image is idle (composition was waited for).
        unsafe {
            d.reset_command_buffer(self.cb, vk::CommandBufferResetFlags::empty())
                .map_err(call("vkResetCommandBuffer"))?;
            d.begin_command_buffer(
                self.cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .map_err(call("vkBeginCommandBuffer"))?;
            d.cmd_pipeline_barrier(
                self.cb,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::TRANSFER,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &[barrier(
                    vk::ImageLayout::UNDEFINED,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    vk::AccessFlags::empty(),
                    vk::AccessFlags::TRANSFER_WRITE,
                )],
            );
            let layers = vk::ImageSubresourceLayers {
                aspect_mask: vk::ImageAspectFlags::COLOR,
                mip_level: 0,
                base_array_layer: 0,
                layer_count: 1,
            };
            let blit = vk::ImageBlit {
                src_subresource: layers,
                src_offsets: [
                    vk::Offset3D::default(),
                    vk::Offset3D {
                        x: width as i32,
                        y: height as i32,
                        z: 1,
                    },
                ],
                dst_subresource: layers,
                dst_offsets: [
                    vk::Offset3D::default(),
                    vk::Offset3D {
                        x: extent.width as i32,
                        y: extent.height as i32,
                        z: 1,
                    },
                ],
            };
            d.cmd_blit_image(
                self.cb,
                panel,
                vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                target,
                vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                &[blit],
                vk::Filter::LINEAR,
            );
            d.cmd_pipeline_barrier(
                self.cb,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &[barrier(
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    vk::ImageLayout::PRESENT_SRC_KHR,
                    vk::AccessFlags::TRANSFER_WRITE,
                    vk::AccessFlags::empty(),
                )],
            );
            d.end_command_buffer(self.cb)
                .map_err(call("vkEndCommandBuffer"))?;
            let waits = [self.acquired];
            let stages = [vk::PipelineStageFlags::TRANSFER];
            let cbs = [self.cb];
            let signals = [self.rendered];
            let submit = vk::SubmitInfo::default()
                .wait_semaphores(&waits)
                .wait_dst_stage_mask(&stages)
                .command_buffers(&cbs)
                .signal_semaphores(&signals);
            d.queue_submit(self.gpu.queue, &[submit], self.fence)
                .map_err(call("vkQueueSubmit"))?;
            let swapchains = [chain.swapchain];
            let indices = [index];
            let present = vk::PresentInfoKHR::default()
                .wait_semaphores(&signals)
                .swapchains(&swapchains)
                .image_indices(&indices);
            match self.swapchain_fn.queue_present(self.gpu.queue, &present) {
                Ok(false) => {}
                Ok(true) | Err(vk::Result::ERROR_OUT_OF_DATE_KHR) => self.app.resized = true,
                Err(e) => return Err(call("vkQueuePresentKHR")(e)),
            }
            d.wait_for_fences(&[self.fence], true, u64::MAX)
                .map_err(call("vkWaitForFences"))?;
            d.reset_fences(&[self.fence])
                .map_err(call("vkResetFences"))?;
        }
        self.presented += 1;
        Ok(())
    }
}

impl Drop for WindowTarget {
    fn drop(&mut self) {
        self.destroy_chain();
        let d = &self.gpu.device;
        // SAFETY: the device is idle (destroy_chain waited); the window
        // (in `app`) is dropped after the surface.
        unsafe {
            let _ = d.device_wait_idle();
            d.destroy_fence(self.fence, None);
            d.destroy_semaphore(self.acquired, None);
            d.destroy_semaphore(self.rendered, None);
            d.destroy_command_pool(self.pool, None);
            self.surface_fn.destroy_surface(self.surface, None);
        }
        tracing::info!(presented = self.presented, "desktop window target closed");
    }
}
