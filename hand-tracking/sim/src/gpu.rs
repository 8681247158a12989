//! The wgpu renderer: one compute dispatch per camera image, read back.

use crate::{camera_space, GpuCapsule, GrayImage, Scene};
use parallax_hand_tracking::stereo::Camera;
use wgpu::util::DeviceExt;

/// Why the renderer could not start or render.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("no GPU adapter (Vulkan; lavapipe counts): {0}")]
    Adapter(#[from] wgpu::RequestAdapterError),
    #[error("could not open the GPU device: {0}")]
    Device(#[from] wgpu::RequestDeviceError),
    #[error("reading the image back failed: {0}")]
    Readback(String),
}

/// An off-screen renderer of hand scenes.
pub struct Renderer {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    /// The adapter's name (`llvmpipe ...` on lavapipe).
    pub adapter: String,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("adapter", &self.adapter)
            .finish()
    }
}

impl Renderer {
    /// Opens the first Vulkan adapter (a real GPU, else lavapipe).
    pub fn new() -> Result<Self, RenderError> {
        // No validation layers unless asked for (WGPU_VALIDATION=1): Debian's
        // layers predate WGSL's SPIR-V source-language tag and report it.
        let instance = wgpu::Instance::new(&wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN,
            flags: wgpu::InstanceFlags::empty().with_env(),
            ..Default::default()
        });
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            force_fallback_adapter: false,
            compatible_surface: None,
        }))?;
        let name = adapter.get_info().name;
        let (device, queue) =
            pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
                label: Some("parallax-hand-sim"),
                required_features: wgpu::Features::empty(),
                required_limits: wgpu::Limits::downlevel_defaults(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            }))?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("hand.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("hand.wgsl").into()),
        });
        let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty,
            count: None,
        };
        let storage = |read_only| wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: None,
            entries: &[
                entry(
                    0,
                    wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                ),
                entry(1, storage(true)),
                entry(2, storage(false)),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[&layout],
            push_constant_ranges: &[],
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("hand ray march"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        tracing::debug!(adapter = %name, "hand renderer ready");
        Ok(Self {
            device,
            queue,
            pipeline,
            layout,
            adapter: name,
        })
    }

    /// Renders what `camera` sees of `scene`.
    pub fn render(&self, scene: &Scene, camera: &Camera) -> Result<GrayImage, RenderError> {
        let (params, mut caps) = camera_space(scene, camera);
        if caps.is_empty() {
            // Storage buffers cannot be empty; a capsule far behind the camera.
            caps.push(GpuCapsule {
                a: [0.0, 0.0, 100.0, 0.0],
                b: [0.0, 0.0, 100.0, 0.0],
                material: [0.0, -2.0, 1.0, 0.0],
                bound: [0.0, 0.0, 100.0, 0.0],
            });
        }
        let (w, h) = (camera.width, camera.height);
        let d = &self.device;
        let uniform = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::bytes_of(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let capsules = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&caps),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let size = (w * h * 4) as u64;
        let out = d.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let readback = d.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: uniform.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: capsules.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: out.as_entire_binding(),
                },
            ],
        });
        let mut enc = d.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(w.div_ceil(8), h.div_ceil(8), 1);
        }
        enc.copy_buffer_to_buffer(&out, 0, &readback, 0, size);
        self.queue.submit([enc.finish()]);
        let slice = readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        d.poll(wgpu::PollType::Wait)
            .map_err(|e| RenderError::Readback(format!("{e:?}")))?;
        rx.recv()
            .map_err(|e| RenderError::Readback(e.to_string()))?
            .map_err(|e| RenderError::Readback(e.to_string()))?;
        let pixels = {
            let data = slice.get_mapped_range();
            let words: &[u32] = bytemuck::cast_slice(&data);
            words.iter().map(|v| *v as u8).collect()
        };
        readback.unmap();
        Ok(GrayImage {
            width: w,
            height: h,
            pixels,
        })
    }
}
