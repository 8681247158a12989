//! An OpenXR app, written with the `openxr` crate and `ash`, that submits
//! every layer type Parallax composes, each with known content at a known
//! pose, and runs a clean frame loop until the runtime ends the session.
//! Copy it as a template: Vulkan set-up through `XR_KHR_vulkan_enable2`,
//! swapchains, static-image swapchains, and the four layer types.
//!
//! The scene, in LOCAL space (the head's start pose):
//! - a projection layer: one dark-blue image per eye, re-submitted each frame;
//! - a red 1 m quad 2 m straight ahead;
//! - a green cylinder strip 3 m away, 20 to 50 degrees to the left;
//! - a yellow equirect band at infinity, 40 to 80 degrees above the horizon;
//! - for the right eye only, an environment cube (faces +X red, -X green,
//!   +Y blue, -Y yellow, +Z white, -Z magenta) over everything.
//!
//! With `--showcase` it draws the demo scene instead (what `parallax demo`
//! runs): a sky panorama (equirect), a floor seen from each eye (projection,
//! transparent where the sky shows), a title panel (quad) and a curved menu
//! (cylinder); `--timing FILE` writes per-frame timing as CSV.
//!
//! Run it on Parallax: `parallax run -- parallax-example-layers`.
#![deny(unsafe_code)]

mod showcase;

use ash::vk;
use ash::vk::Handle;
use clap::Parser;
use openxr as xr;
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Submits every layer type with known content")]
struct Args {
    /// Frames to run before asking to exit (the runtime may end it sooner).
    #[arg(long, default_value_t = 600)]
    frames: u32,
    /// Also submit frames the runtime must refuse (bad depth info) and
    /// check the error codes.
    #[arg(long)]
    check_errors: bool,
    /// Draw the showcase scene (sky, floor, title, menu) instead of the
    /// flat test colours.
    #[arg(long)]
    showcase: bool,
    /// Write one CSV line per frame: frame, xrWaitFrame wake-up error (ns),
    /// app frame time from wake-up to xrEndFrame's return (ns).
    #[arg(long)]
    timing: Option<std::path::PathBuf>,
    /// Print the head position (STAGE space) every 10 frames.
    #[arg(long)]
    report_head: bool,
    /// Ask to exit once this file exists (for scripted runs).
    #[arg(long)]
    exit_when: Option<std::path::PathBuf>,
}

/// CLOCK_MONOTONIC in nanoseconds, the clock of XrTime on Linux runtimes.
fn monotonic_ns() -> i64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

const FORMAT: vk::Format = vk::Format::R8G8B8A8_SRGB;

/// Vulkan objects of the app.
struct Gpu {
    instance: ash::Instance,
    device: ash::Device,
    queue: vk::Queue,
    pool: vk::CommandPool,
    memory: vk::PhysicalDeviceMemoryProperties,
}

impl Gpu {
    /// Fills every layer of `image` with one sRGB colour.
    fn fill(&self, image: vk::Image, layers: u32, rgba: [u8; 4]) -> Result<(), String> {
        self.fill_layers(image, 0, layers, rgba)
    }

    /// Fills array layers `first..first + count` of `image` with one sRGB colour.
    fn fill_layers(
        &self,
        image: vk::Image,
        first: u32,
        layers: u32,
        rgba: [u8; 4],
    ) -> Result<(), String> {
        let c = |v: u8| {
            // The clear value is linear; convert from the sRGB byte.
            let x = v as f32 / 255.0;
            if x <= 0.04045 {
                x / 12.92
            } else {
                ((x + 0.055) / 1.055).powf(2.4)
            }
        };
        let color = vk::ClearColorValue {
            float32: [c(rgba[0]), c(rgba[1]), c(rgba[2]), rgba[3] as f32 / 255.0],
        };
        let range = color_range(first, layers);
        self.transfer(image, range, |d, cb| {
            #[allow(unsafe_code)]
            // SAFETY: recording into the open command buffer `transfer` made;
            // the image is in TRANSFER_DST_OPTIMAL there.
            unsafe {
                d.cmd_clear_color_image(
                    cb,
                    image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    &color,
                    &[range],
                )
            }
        })
    }

    /// Copies texels (RGBA8, or D32 floats for a depth image) into array
    /// layer `layer` of `image`, through a host-visible staging buffer.
    fn upload(
        &self,
        image: vk::Image,
        layer: u32,
        width: u32,
        height: u32,
        rgba: &[u8],
        depth: bool,
    ) -> Result<(), String> {
        let (aspect, handover) = if depth {
            (
                vk::ImageAspectFlags::DEPTH,
                vk::ImageLayout::DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
            )
        } else {
            (
                vk::ImageAspectFlags::COLOR,
                vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
            )
        };
        let size = rgba.len() as u64;
        let d = &self.device;
        #[allow(unsafe_code)]
        // SAFETY: a buffer and memory made here on our own device, mapped
        // for `size` bytes, filled, and freed below after the copy finished.
        let (buffer, memory) = unsafe {
            let buffer = d
                .create_buffer(
                    &vk::BufferCreateInfo::default()
                        .size(size)
                        .usage(vk::BufferUsageFlags::TRANSFER_SRC),
                    None,
                )
                .map_err(|e| e.to_string())?;
            let req = d.get_buffer_memory_requirements(buffer);
            let want =
                vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
            let kind = (0..self.memory.memory_type_count)
                .find(|&i| {
                    req.memory_type_bits & (1 << i) != 0
                        && self.memory.memory_types[i as usize]
                            .property_flags
                            .contains(want)
                })
                .ok_or("no host-visible memory")?;
            let memory = d
                .allocate_memory(
                    &vk::MemoryAllocateInfo::default()
                        .allocation_size(req.size)
                        .memory_type_index(kind),
                    None,
                )
                .map_err(|e| e.to_string())?;
            d.bind_buffer_memory(buffer, memory, 0)
                .map_err(|e| e.to_string())?;
            let ptr = d
                .map_memory(memory, 0, size, vk::MemoryMapFlags::empty())
                .map_err(|e| e.to_string())? as *mut u8;
            std::ptr::copy_nonoverlapping(rgba.as_ptr(), ptr, rgba.len());
            d.unmap_memory(memory);
            (buffer, memory)
        };
        let range = vk::ImageSubresourceRange {
            aspect_mask: aspect,
            ..color_range(layer, 1)
        };
        let result = self.transfer_from(image, range, handover, |d, cb| {
            #[allow(unsafe_code)]
            // SAFETY: recording into the open command buffer `transfer` made;
            // the buffer holds width x height texels of the image's format.
            unsafe {
                d.cmd_copy_buffer_to_image(
                    cb,
                    buffer,
                    image,
                    vk::ImageLayout::TRANSFER_DST_OPTIMAL,
                    &[vk::BufferImageCopy::default()
                        .image_subresource(vk::ImageSubresourceLayers {
                            aspect_mask: aspect,
                            mip_level: 0,
                            base_array_layer: layer,
                            layer_count: 1,
                        })
                        .image_extent(vk::Extent3D {
                            width,
                            height,
                            depth: 1,
                        })],
                )
            }
        });
        #[allow(unsafe_code)]
        // SAFETY: `transfer` waited for the queue, so the copy is done.
        unsafe {
            d.destroy_buffer(buffer, None);
            d.free_memory(memory, None);
        }
        result
    }

    /// Records `work` between barriers that take `range` of a swapchain
    /// image from COLOR_ATTACHMENT_OPTIMAL (how the runtime hands images
    /// over) to TRANSFER_DST_OPTIMAL and back, submits it and waits.
    fn transfer(
        &self,
        image: vk::Image,
        range: vk::ImageSubresourceRange,
        work: impl FnOnce(&ash::Device, vk::CommandBuffer),
    ) -> Result<(), String> {
        self.transfer_from(
            image,
            range,
            vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
            work,
        )
    }

    /// [`Self::transfer`] for an image handed over in `handover` (depth
    /// swapchains come in DEPTH_STENCIL_ATTACHMENT_OPTIMAL).
    fn transfer_from(
        &self,
        image: vk::Image,
        range: vk::ImageSubresourceRange,
        handover: vk::ImageLayout,
        work: impl FnOnce(&ash::Device, vk::CommandBuffer),
    ) -> Result<(), String> {
        let barrier = |old, new| {
            vk::ImageMemoryBarrier::default()
                .image(image)
                .old_layout(old)
                .new_layout(new)
                .src_access_mask(vk::AccessFlags::MEMORY_WRITE)
                .dst_access_mask(vk::AccessFlags::MEMORY_WRITE | vk::AccessFlags::MEMORY_READ)
                .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
                .subresource_range(range)
        };
        let _ = &self.instance;
        #[allow(unsafe_code)]
        // SAFETY: a one-time command buffer on our own device and queue; the
        // image is acquired and waited, so the runtime does not read it now.
        unsafe {
            let d = &self.device;
            let cb = d
                .allocate_command_buffers(
                    &vk::CommandBufferAllocateInfo::default()
                        .command_pool(self.pool)
                        .level(vk::CommandBufferLevel::PRIMARY)
                        .command_buffer_count(1),
                )
                .map_err(|e| e.to_string())?[0];
            d.begin_command_buffer(
                cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .map_err(|e| e.to_string())?;
            d.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::ALL_COMMANDS,
                vk::PipelineStageFlags::TRANSFER,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &[barrier(handover, vk::ImageLayout::TRANSFER_DST_OPTIMAL)],
            );
            work(d, cb);
            d.cmd_pipeline_barrier(
                cb,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::ALL_COMMANDS,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &[barrier(vk::ImageLayout::TRANSFER_DST_OPTIMAL, handover)],
            );
            d.end_command_buffer(cb).map_err(|e| e.to_string())?;
            let cbs = [cb];
            d.queue_submit(
                self.queue,
                &[vk::SubmitInfo::default().command_buffers(&cbs)],
                vk::Fence::null(),
            )
            .map_err(|e| e.to_string())?;
            d.queue_wait_idle(self.queue).map_err(|e| e.to_string())?;
            d.free_command_buffers(self.pool, &cbs);
        }
        Ok(())
    }
}

/// Colour array layers `first..first + count`, mip 0.
fn color_range(first: u32, count: u32) -> vk::ImageSubresourceRange {
    vk::ImageSubresourceRange {
        aspect_mask: vk::ImageAspectFlags::COLOR,
        base_mip_level: 0,
        level_count: 1,
        base_array_layer: first,
        layer_count: count,
    }
}

/// Acquires one image of a chain, uploads one image per array layer, releases.
fn upload(gpu: &Gpu, c: &mut Chain, layers: &[&showcase::Image]) -> Result<(), String> {
    let i = c
        .swapchain
        .acquire_image()
        .map_err(|e| format!("xrAcquireSwapchainImage: {e}"))?;
    c.swapchain
        .wait_image(xr::Duration::INFINITE)
        .map_err(|e| format!("xrWaitSwapchainImage: {e}"))?;
    for (l, img) in layers.iter().enumerate() {
        gpu.upload(
            c.images[i as usize],
            l as u32,
            img.width,
            img.height,
            &img.rgba,
            false,
        )?;
    }
    c.swapchain
        .release_image()
        .map_err(|e| format!("xrReleaseSwapchainImage: {e}"))
}

/// A swapchain and its images.
struct Chain {
    swapchain: xr::Swapchain<xr::Vulkan>,
    images: Vec<vk::Image>,
    width: u32,
    height: u32,
}

fn chain(
    session: &xr::Session<xr::Vulkan>,
    w: u32,
    h: u32,
    array: u32,
    static_image: bool,
) -> Result<Chain, String> {
    chain_faces(session, w, h, array, 1, static_image)
}

fn chain_faces(
    session: &xr::Session<xr::Vulkan>,
    w: u32,
    h: u32,
    array: u32,
    faces: u32,
    static_image: bool,
) -> Result<Chain, String> {
    let swapchain = session
        .create_swapchain(&xr::SwapchainCreateInfo {
            create_flags: if static_image {
                xr::SwapchainCreateFlags::STATIC_IMAGE
            } else {
                xr::SwapchainCreateFlags::EMPTY
            },
            usage_flags: xr::SwapchainUsageFlags::COLOR_ATTACHMENT
                | xr::SwapchainUsageFlags::TRANSFER_DST,
            format: FORMAT.as_raw() as u32,
            sample_count: 1,
            width: w,
            height: h,
            face_count: faces,
            array_size: array,
            mip_count: 1,
        })
        .map_err(|e| format!("xrCreateSwapchain: {e}"))?;
    let images = swapchain
        .enumerate_images()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(vk::Image::from_raw)
        .collect();
    Ok(Chain {
        swapchain,
        images,
        width: w,
        height: h,
    })
}

/// The projection layer's depth swapchain (one static image).
struct DepthChain {
    swapchain: xr::Swapchain<xr::Vulkan>,
    images: Vec<vk::Image>,
    written: bool,
}

/// The projection layer's depth (near 0.1 m, far 100 m, 0..1): a wall
/// 1.6 m ahead on the left of the view, up to the direction 0.38 right of
/// straight ahead (21°), and nothing (the far plane) to its right, in both
/// eyes' images. Avatars the compositor shows are hidden behind the wall.
fn write_depth(
    gpu: &Gpu,
    depth: &mut DepthChain,
    w: u32,
    h: u32,
    fov: [xr::Fovf; 2],
) -> Result<(), String> {
    let (near, far, wall) = (0.1f32, 100.0f32, 1.6f32);
    let d01 = far * (near - wall) / (wall * (near - far));
    let i = depth
        .swapchain
        .acquire_image()
        .map_err(|e| format!("xrAcquireSwapchainImage (depth): {e}"))?;
    depth
        .swapchain
        .wait_image(xr::Duration::INFINITE)
        .map_err(|e| e.to_string())?;
    for (eye, f) in fov.iter().enumerate() {
        let (l, r) = (f.angle_left.tan(), f.angle_right.tan());
        let row: Vec<u8> = (0..w)
            .flat_map(|x| {
                let t = l + (x as f32 + 0.5) / w as f32 * (r - l);
                (if t < 0.38 { d01 } else { 1.0 }).to_le_bytes()
            })
            .collect();
        let texels = row.repeat(h as usize);
        gpu.upload(depth.images[i as usize], eye as u32, w, h, &texels, true)?;
    }
    depth.swapchain.release_image().map_err(|e| e.to_string())?;
    depth.written = true;
    Ok(())
}

/// Acquires, fills and releases one image of a chain.
fn draw(gpu: &Gpu, c: &mut Chain, layers: u32, rgba: [u8; 4]) -> Result<(), String> {
    let i = c
        .swapchain
        .acquire_image()
        .map_err(|e| format!("xrAcquireSwapchainImage: {e}"))?;
    c.swapchain
        .wait_image(xr::Duration::INFINITE)
        .map_err(|e| format!("xrWaitSwapchainImage: {e}"))?;
    gpu.fill(c.images[i as usize], layers, rgba)?;
    c.swapchain
        .release_image()
        .map_err(|e| format!("xrReleaseSwapchainImage: {e}"))
}

fn rect(c: &Chain) -> xr::Rect2Di {
    xr::Rect2Di {
        offset: xr::Offset2Di { x: 0, y: 0 },
        extent: xr::Extent2Di {
            width: c.width as i32,
            height: c.height as i32,
        },
    }
}

fn yaw(angle: f32) -> xr::Quaternionf {
    let (s, c) = (angle / 2.0).sin_cos();
    xr::Quaternionf {
        x: 0.0,
        y: s,
        z: 0.0,
        w: c,
    }
}

#[allow(unsafe_code)]
fn run(args: Args) -> Result<(), String> {
    // SAFETY: the system's OpenXR loader is trusted to be conformant.
    let entry = unsafe { xr::Entry::load(&()) }
        .map_err(|e| format!("cannot load the OpenXR loader: {e}"))?;
    let mut exts = xr::ExtensionSet::default();
    exts.khr_vulkan_enable2 = true;
    exts.khr_composition_layer_cylinder = true;
    exts.khr_composition_layer_equirect2 = true;
    exts.khr_composition_layer_cube = true;
    exts.khr_composition_layer_depth = true;
    let instance = entry
        .create_instance(
            &xr::ApplicationInfo {
                application_name: "parallax-layers",
                application_version: 1,
                engine_name: "none",
                engine_version: 0,
                api_version: xr::Version::new(1, 0, 0),
            },
            &exts,
            &[],
            &(),
        )
        .map_err(|e| format!("xrCreateInstance: {e}"))?;
    let system = instance
        .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .map_err(|e| format!("xrGetSystem: {e}"))?;
    let _req = instance
        .graphics_requirements::<xr::Vulkan>(system)
        .map_err(|e| e.to_string())?;
    // SAFETY: loading the system's Vulkan loader.
    let vk_entry = unsafe { ash::Entry::load() }.map_err(|e| format!("cannot load Vulkan: {e}"))?;
    let app_info = vk::ApplicationInfo::default().api_version(vk::make_api_version(0, 1, 1, 0));
    let ici = vk::InstanceCreateInfo::default().application_info(&app_info);
    let gipa = vk_entry.static_fn().get_instance_proc_addr;
    // SAFETY: the create info outlives the call; the function pointer types match.
    let raw_instance = unsafe {
        instance.create_vulkan_instance(
            system,
            std::mem::transmute::<
                vk::PFN_vkGetInstanceProcAddr,
                xr::sys::platform::VkGetInstanceProcAddr,
            >(gipa),
            &ici as *const _ as *const _,
        )
    }
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("vkCreateInstance: {e}"))?;
    // SAFETY: a live instance created through this loader.
    let vk_instance = unsafe {
        ash::Instance::load(
            vk_entry.static_fn(),
            vk::Instance::from_raw(raw_instance as u64),
        )
    };
    // SAFETY: a live instance.
    let physical = vk::PhysicalDevice::from_raw(
        unsafe { instance.vulkan_graphics_device(system, raw_instance) }
            .map_err(|e| e.to_string())? as u64,
    );
    // SAFETY: a physical device of that instance.
    let family = unsafe { vk_instance.get_physical_device_queue_family_properties(physical) }
        .iter()
        .position(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS))
        .ok_or("no graphics queue")? as u32;
    let prio = [1.0];
    let qci = [vk::DeviceQueueCreateInfo::default()
        .queue_family_index(family)
        .queue_priorities(&prio)];
    let dci = vk::DeviceCreateInfo::default().queue_create_infos(&qci);
    // SAFETY: as for the instance.
    let raw_device = unsafe {
        instance.create_vulkan_device(
            system,
            std::mem::transmute::<
                vk::PFN_vkGetInstanceProcAddr,
                xr::sys::platform::VkGetInstanceProcAddr,
            >(gipa),
            physical.as_raw() as _,
            &dci as *const _ as *const _,
        )
    }
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("vkCreateDevice: {e}"))?;
    // SAFETY: a live device of that instance.
    let device = unsafe {
        ash::Device::load(
            vk_instance.fp_v1_0(),
            vk::Device::from_raw(raw_device as u64),
        )
    };
    // SAFETY: valid device objects.
    let (queue, pool, memory) = unsafe {
        (
            device.get_device_queue(family, 0),
            device
                .create_command_pool(
                    &vk::CommandPoolCreateInfo::default().queue_family_index(family),
                    None,
                )
                .map_err(|e| e.to_string())?,
            vk_instance.get_physical_device_memory_properties(physical),
        )
    };
    let gpu = Gpu {
        instance: vk_instance,
        device,
        queue,
        pool,
        memory,
    };
    // SAFETY: the binding's handles are the live objects made above.
    let (session, mut waiter, mut stream) = unsafe {
        instance.create_session::<xr::Vulkan>(
            system,
            &xr::vulkan::SessionCreateInfo {
                instance: raw_instance,
                physical_device: physical.as_raw() as _,
                device: raw_device,
                queue_family_index: family,
                queue_index: 0,
            },
        )
    }
    .map_err(|e| format!("xrCreateSession: {e}"))?;
    let local = session
        .create_reference_space(xr::ReferenceSpaceType::LOCAL, xr::Posef::IDENTITY)
        .map_err(|e| e.to_string())?;
    let views = instance
        .enumerate_view_configuration_views(system, xr::ViewConfigurationType::PRIMARY_STEREO)
        .map_err(|e| e.to_string())?;
    let stage = session
        .create_reference_space(xr::ReferenceSpaceType::STAGE, xr::Posef::IDENTITY)
        .map_err(|e| e.to_string())?;
    // Half the recommended size keeps a software renderer quick (a quarter
    // for the showcase, drawn on the CPU); any size works.
    let div = if args.showcase { 4 } else { 2 };
    let (pw, ph) = (
        views[0].recommended_image_rect_width / div,
        views[0].recommended_image_rect_height / div,
    );
    let mut proj = chain(&session, pw, ph, 2, false)?;
    let (qs, cs, es) = if args.showcase {
        ((512, 128), (512, 128), (1024, 512))
    } else {
        ((256, 256), (256, 128), (512, 128))
    };
    let mut quad = chain(&session, qs.0, qs.1, 1, true)?;
    let mut cyl = chain(&session, cs.0, cs.1, 1, true)?;
    let mut eq = chain(&session, es.0, es.1, 1, true)?;
    let mut eyes = [
        showcase::Image::new(pw, ph, [0, 0, 0, 0]),
        showcase::Image::new(pw, ph, [0, 0, 0, 0]),
    ];
    let mut timing = match &args.timing {
        Some(p) => {
            use std::io::Write;
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
            );
            writeln!(f, "frame,wake_error_ns,app_frame_ns").map_err(|e| e.to_string())?;
            Some(f)
        }
        None => None,
    };
    let mut cube = chain_faces(&session, 64, 64, 1, 6, true)?;
    // Depth for the projection layer (the runtime reprojects with it and
    // tests avatars against it): written once, on the first frame.
    let depth = session
        .create_swapchain(&xr::SwapchainCreateInfo {
            create_flags: xr::SwapchainCreateFlags::STATIC_IMAGE,
            usage_flags: xr::SwapchainUsageFlags::DEPTH_STENCIL_ATTACHMENT
                | xr::SwapchainUsageFlags::TRANSFER_DST,
            format: vk::Format::D32_SFLOAT.as_raw() as u32,
            sample_count: 1,
            width: pw,
            height: ph,
            face_count: 1,
            array_size: 2,
            mip_count: 1,
        })
        .map_err(|e| format!("xrCreateSwapchain (depth): {e}"))?;
    let depth_images = depth
        .enumerate_images()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(vk::Image::from_raw)
        .collect();
    let mut depth = DepthChain {
        swapchain: depth,
        images: depth_images,
        written: false,
    };
    let mut errors_checked = !args.check_errors;
    let mut buf = xr::EventDataBuffer::new();
    let mut running = false;
    let mut frames = 0u32;
    let mut exit_asked = false;
    'main: loop {
        while let Some(ev) = instance.poll_event(&mut buf).map_err(|e| e.to_string())? {
            if let xr::Event::SessionStateChanged(s) = ev {
                match s.state() {
                    xr::SessionState::READY => {
                        session
                            .begin(xr::ViewConfigurationType::PRIMARY_STEREO)
                            .map_err(|e| e.to_string())?;
                        running = true;
                        if args.showcase {
                            upload(&gpu, &mut quad, &[&showcase::title(qs.0, qs.1)])?;
                            upload(&gpu, &mut cyl, &[&showcase::menu(cs.0, cs.1)])?;
                            upload(&gpu, &mut eq, &[&showcase::sky(es.0, es.1)])?;
                            continue;
                        }
                        // Static images are drawn once.
                        draw(&gpu, &mut quad, 1, [255, 0, 0, 255])?;
                        draw(&gpu, &mut cyl, 1, [0, 255, 0, 255])?;
                        draw(&gpu, &mut eq, 1, [255, 255, 0, 255])?;
                        // Cube faces +X, -X, +Y, -Y, +Z, -Z.
                        let i = cube.swapchain.acquire_image().map_err(|e| e.to_string())?;
                        cube.swapchain
                            .wait_image(xr::Duration::INFINITE)
                            .map_err(|e| e.to_string())?;
                        let faces = [
                            [255, 0, 0, 255],
                            [0, 255, 0, 255],
                            [0, 0, 255, 255],
                            [255, 255, 0, 255],
                            [255, 255, 255, 255],
                            [255, 0, 255, 255],
                        ];
                        for (f, c) in faces.iter().enumerate() {
                            gpu.fill_layers(cube.images[i as usize], f as u32, 1, *c)?;
                        }
                        cube.swapchain.release_image().map_err(|e| e.to_string())?;
                    }
                    xr::SessionState::STOPPING => {
                        session.end().map_err(|e| e.to_string())?;
                        running = false;
                    }
                    xr::SessionState::EXITING | xr::SessionState::LOSS_PENDING => break 'main,
                    _ => {}
                }
            }
        }
        if !running {
            std::thread::sleep(std::time::Duration::from_millis(5));
            continue;
        }
        let st = waiter.wait().map_err(|e| format!("xrWaitFrame: {e}"))?;
        let woke = monotonic_ns();
        stream.begin().map_err(|e| format!("xrBeginFrame: {e}"))?;
        if !st.should_render {
            stream
                .end(
                    st.predicted_display_time,
                    xr::EnvironmentBlendMode::OPAQUE,
                    &[],
                )
                .map_err(|e| e.to_string())?;
            continue;
        }
        if args.report_head && frames.is_multiple_of(10) {
            let (_, v) = session
                .locate_views(
                    xr::ViewConfigurationType::PRIMARY_STEREO,
                    st.predicted_display_time,
                    &stage,
                )
                .map_err(|e| e.to_string())?;
            let p = |i: usize| v[i].pose.position;
            println!(
                "frame {frames} head {:.3} {:.3} {:.3}",
                (p(0).x + p(1).x) / 2.0,
                (p(0).y + p(1).y) / 2.0,
                (p(0).z + p(1).z) / 2.0
            );
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
        if args.showcase {
            showcase_frame(
                &session,
                &stage,
                &st,
                &gpu,
                &mut proj,
                &mut eyes,
                [&quad, &cyl, &eq],
                &mut stream,
            )?;
        } else {
            test_frame(
                &instance,
                &session,
                &local,
                &st,
                &gpu,
                &mut proj,
                [&quad, &cyl, &eq, &cube],
                &mut depth,
                &mut errors_checked,
                &mut stream,
            )?;
        }
        if let Some(f) = &mut timing {
            use std::io::Write;
            let promised =
                st.predicted_display_time.as_nanos() - st.predicted_display_period.as_nanos();
            writeln!(f, "{frames},{},{}", woke - promised, monotonic_ns() - woke)
                .map_err(|e| e.to_string())?;
        }
        frames += 1;
        let flagged = !exit_asked && args.exit_when.as_ref().is_some_and(|p| p.exists());
        if frames == args.frames || flagged {
            session.request_exit().map_err(|e| e.to_string())?;
            exit_asked = true;
        }
    }
    if let Some(f) = &mut timing {
        use std::io::Write;
        f.flush().map_err(|e| e.to_string())?;
    }
    println!("parallax-example-layers: {frames} frames");
    drop((
        proj, quad, cyl, eq, cube, depth, local, stage, stream, waiter,
    ));
    drop(session);
    // SAFETY: every object of the device and instance is gone.
    unsafe {
        gpu.device.destroy_command_pool(gpu.pool, None);
        gpu.device.destroy_device(None);
        gpu.instance.destroy_instance(None);
    }
    Ok(())
}

/// One frame of the showcase: the floor drawn for each eye's predicted
/// view, over the sky, with the title and the menu.
#[allow(clippy::too_many_arguments)]
fn showcase_frame(
    session: &xr::Session<xr::Vulkan>,
    stage: &xr::Space,
    st: &xr::FrameState,
    gpu: &Gpu,
    proj: &mut Chain,
    eyes: &mut [showcase::Image; 2],
    [quad, cyl, eq]: [&Chain; 3],
    stream: &mut xr::FrameStream<xr::Vulkan>,
) -> Result<(), String> {
    let (_, located) = session
        .locate_views(
            xr::ViewConfigurationType::PRIMARY_STEREO,
            st.predicted_display_time,
            stage,
        )
        .map_err(|e| e.to_string())?;
    for (img, v) in eyes.iter_mut().zip(&located) {
        let q = v.pose.orientation;
        let rot = |x: f32, y: f32, z: f32| {
            // q * (x, y, z) for a unit quaternion.
            let (qx, qy, qz, qw) = (q.x, q.y, q.z, q.w);
            let tx = 2.0 * (qy * z - qz * y);
            let ty = 2.0 * (qz * x - qx * z);
            let tz = 2.0 * (qx * y - qy * x);
            [
                x + qw * tx + (qy * tz - qz * ty),
                y + qw * ty + (qz * tx - qx * tz),
                z + qw * tz + (qx * ty - qy * tx),
            ]
        };
        let view = showcase::View {
            right: rot(1.0, 0.0, 0.0),
            up: rot(0.0, 1.0, 0.0),
            back: rot(0.0, 0.0, 1.0),
            position: [v.pose.position.x, v.pose.position.y, v.pose.position.z],
            tan_left: v.fov.angle_left.tan(),
            tan_right: v.fov.angle_right.tan(),
            tan_up: v.fov.angle_up.tan(),
            tan_down: v.fov.angle_down.tan(),
        };
        showcase::floor(&view, 0.0, img);
    }
    upload(gpu, proj, &[&eyes[0], &eyes[1]])?;
    let pviews: Vec<xr::CompositionLayerProjectionView<xr::Vulkan>> = (0..2)
        .map(|i| {
            xr::CompositionLayerProjectionView::new()
                .pose(located[i].pose)
                .fov(located[i].fov)
                .sub_image(
                    xr::SwapchainSubImage::new()
                        .swapchain(&proj.swapchain)
                        .image_array_index(i as u32)
                        .image_rect(rect(proj)),
                )
        })
        .collect();
    let sky = xr::CompositionLayerEquirect2KHR::new()
        .space(stage)
        .eye_visibility(xr::EyeVisibility::BOTH)
        .sub_image(
            xr::SwapchainSubImage::new()
                .swapchain(&eq.swapchain)
                .image_rect(rect(eq)),
        )
        .pose(xr::Posef::IDENTITY)
        .radius(0.0)
        .central_horizontal_angle(std::f32::consts::TAU)
        .upper_vertical_angle(std::f32::consts::FRAC_PI_2)
        .lower_vertical_angle(-std::f32::consts::FRAC_PI_2);
    let floor = xr::CompositionLayerProjection::new()
        .layer_flags(xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA)
        .space(stage)
        .views(&pviews);
    let title = xr::CompositionLayerQuad::new()
        .layer_flags(xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA)
        .space(stage)
        .eye_visibility(xr::EyeVisibility::BOTH)
        .sub_image(
            xr::SwapchainSubImage::new()
                .swapchain(&quad.swapchain)
                .image_rect(rect(quad)),
        )
        .pose(xr::Posef {
            orientation: xr::Quaternionf::IDENTITY,
            position: xr::Vector3f {
                x: 0.0,
                y: 1.9,
                z: -2.5,
            },
        })
        .size(xr::Extent2Df {
            width: 1.6,
            height: 0.4,
        });
    let menu = xr::CompositionLayerCylinderKHR::new()
        .layer_flags(xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA)
        .space(stage)
        .eye_visibility(xr::EyeVisibility::BOTH)
        .sub_image(
            xr::SwapchainSubImage::new()
                .swapchain(&cyl.swapchain)
                .image_rect(rect(cyl)),
        )
        .pose(xr::Posef {
            orientation: xr::Quaternionf::IDENTITY,
            position: xr::Vector3f {
                x: 0.0,
                y: 1.2,
                z: 0.0,
            },
        })
        .radius(1.5)
        .central_angle(70f32.to_radians())
        .aspect_ratio(4.0);
    stream
        .end(
            st.predicted_display_time,
            xr::EnvironmentBlendMode::OPAQUE,
            &[&sky, &floor, &title, &menu],
        )
        .map_err(|e| format!("xrEndFrame: {e}"))
}

/// One frame of the flat test scene (each layer type in a known colour).
#[allow(clippy::too_many_arguments, unsafe_code)]
fn test_frame(
    instance: &xr::Instance,
    session: &xr::Session<xr::Vulkan>,
    local: &xr::Space,
    st: &xr::FrameState,
    gpu: &Gpu,
    proj: &mut Chain,
    [quad, cyl, eq, cube]: [&Chain; 4],
    depth: &mut DepthChain,
    errors_checked: &mut bool,
    stream: &mut xr::FrameStream<xr::Vulkan>,
) -> Result<(), String> {
    let (pw, ph) = (proj.width, proj.height);
    let (_, located) = session
        .locate_views(
            xr::ViewConfigurationType::PRIMARY_STEREO,
            st.predicted_display_time,
            local,
        )
        .map_err(|e| e.to_string())?;
    draw(gpu, proj, 2, [10, 10, 60, 255])?;
    if !depth.written {
        write_depth(gpu, depth, pw, ph, [located[0].fov, located[1].fov])?;
    }
    let depth_rect = xr::Rect2Di {
        offset: xr::Offset2Di { x: 0, y: 0 },
        extent: xr::Extent2Di {
            width: pw as i32,
            height: ph as i32,
        },
    };
    let depth_infos: Vec<xr::sys::CompositionLayerDepthInfoKHR> = (0..2)
        .map(|i| xr::sys::CompositionLayerDepthInfoKHR {
            ty: xr::sys::CompositionLayerDepthInfoKHR::TYPE,
            next: std::ptr::null(),
            sub_image: xr::sys::SwapchainSubImage {
                swapchain: depth.swapchain.as_raw(),
                image_rect: depth_rect,
                image_array_index: i,
            },
            min_depth: 0.0,
            max_depth: 1.0,
            near_z: 0.1,
            far_z: 100.0,
        })
        .collect();
    let pviews: Vec<xr::CompositionLayerProjectionView<xr::Vulkan>> = (0..2)
        .map(|i| {
            let view = xr::CompositionLayerProjectionView::new()
                .pose(located[i].pose)
                .fov(located[i].fov)
                .sub_image(
                    xr::SwapchainSubImage::new()
                        .swapchain(&proj.swapchain)
                        .image_array_index(i as u32)
                        .image_rect(rect(proj)),
                );
            let mut raw = view.into_raw();
            raw.next = &depth_infos[i] as *const _ as *const std::ffi::c_void;
            // SAFETY: the same view with a depth structure chained; both
            // outlive xrEndFrame below.
            unsafe { xr::CompositionLayerProjectionView::from_raw(raw) }
        })
        .collect();
    let projection = xr::CompositionLayerProjection::new()
        .space(local)
        .views(&pviews);
    let quad_layer = xr::CompositionLayerQuad::new()
        .space(local)
        .eye_visibility(xr::EyeVisibility::BOTH)
        .sub_image(
            xr::SwapchainSubImage::new()
                .swapchain(&quad.swapchain)
                .image_rect(rect(quad)),
        )
        .pose(xr::Posef {
            orientation: xr::Quaternionf::IDENTITY,
            position: xr::Vector3f {
                x: 0.0,
                y: 0.0,
                z: -2.0,
            },
        })
        .size(xr::Extent2Df {
            width: 1.0,
            height: 1.0,
        });
    let cylinder = xr::CompositionLayerCylinderKHR::new()
        .space(local)
        .eye_visibility(xr::EyeVisibility::BOTH)
        .sub_image(
            xr::SwapchainSubImage::new()
                .swapchain(&cyl.swapchain)
                .image_rect(rect(cyl)),
        )
        .pose(xr::Posef {
            orientation: yaw(35f32.to_radians()),
            position: xr::Vector3f::default(),
        })
        .radius(3.0)
        .central_angle(30f32.to_radians())
        .aspect_ratio(2.0);
    let equirect = xr::CompositionLayerEquirect2KHR::new()
        .space(local)
        .eye_visibility(xr::EyeVisibility::BOTH)
        .sub_image(
            xr::SwapchainSubImage::new()
                .swapchain(&eq.swapchain)
                .image_rect(rect(eq)),
        )
        .pose(xr::Posef::IDENTITY)
        .radius(0.0)
        .central_horizontal_angle(std::f32::consts::TAU)
        .upper_vertical_angle(80f32.to_radians())
        .lower_vertical_angle(40f32.to_radians());
    if !*errors_checked {
        // A depth range outside [0, 1] must be refused, and the frame stay begun.
        let mut bad = depth_infos.clone();
        bad[0].min_depth = 2.0;
        let bad_views: Vec<xr::sys::CompositionLayerProjectionView> = pviews
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut r = *v.as_raw();
                r.next = &bad[i] as *const _ as *const std::ffi::c_void;
                r
            })
            .collect();
        let layer = xr::sys::CompositionLayerProjection {
            ty: xr::sys::CompositionLayerProjection::TYPE,
            next: std::ptr::null(),
            layer_flags: xr::CompositionLayerFlags::EMPTY,
            space: local.as_raw(),
            view_count: 2,
            views: bad_views.as_ptr(),
        };
        let layers = [&layer as *const _ as *const xr::sys::CompositionLayerBaseHeader];
        let info = xr::sys::FrameEndInfo {
            ty: xr::sys::FrameEndInfo::TYPE,
            next: std::ptr::null(),
            display_time: st.predicted_display_time,
            environment_blend_mode: xr::EnvironmentBlendMode::OPAQUE,
            layer_count: 1,
            layers: layers.as_ptr(),
        };
        // SAFETY: every pointer refers to locals alive for the call.
        let r = unsafe { (instance.fp().end_frame)(session.as_raw(), &info) };
        if r != xr::sys::Result::ERROR_VALIDATION_FAILURE {
            return Err(format!(
                "a bad depth range gave {r:?}, not XR_ERROR_VALIDATION_FAILURE"
            ));
        }
        println!("bad depth range refused with {r:?}");
        *errors_checked = true;
    }
    // The right eye sees only the environment cube, drawn last.
    let cube_layer = xr::CompositionLayerCubeKHR::new()
        .space(local)
        .eye_visibility(xr::EyeVisibility::RIGHT)
        .swapchain(&cube.swapchain)
        .image_array_index(0)
        .orientation(xr::Quaternionf::IDENTITY);
    stream
        .end(
            st.predicted_display_time,
            xr::EnvironmentBlendMode::OPAQUE,
            &[&projection, &quad_layer, &cylinder, &equirect, &cube_layer],
        )
        .map_err(|e| format!("xrEndFrame: {e}"))
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parallax-example-layers: {e}");
            ExitCode::FAILURE
        }
    }
}
