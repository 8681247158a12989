//! The wgpu renderer: one compute dispatch per camera image, read back.

use crate::{camera_space, GpuCapsule, GrayImage, Rays, Scene};
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
    /// Finds each tile's capsules before `pipeline` marches its pixels.
    cull: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    /// Each camera's rays and tile cones on the GPU, made at its first
    /// render (cameras are few and their lenses fixed).
    rays: parking_lot::Mutex<Vec<(RaysKey, std::sync::Arc<CameraBuffers>)>>,
    /// The adapter's name (`llvmpipe ...` on lavapipe).
    pub adapter: String,
}

/// A camera's buffers: its rays then its tile cones (fixed), and the lists
/// of capsules per tile that each render's culling pass fills.
struct CameraBuffers {
    rays: wgpu::Buffer,
    tile_caps: wgpu::Buffer,
}

/// What a camera's rays depend on: its size and intrinsics, bit for bit.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RaysKey([u32; 11]);

impl RaysKey {
    fn of(camera: &Camera) -> Self {
        let k = &camera.intrinsics;
        let mut key = [camera.width, camera.height, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        for (slot, v) in key[2..]
            .iter_mut()
            .zip([k.fx, k.fy, k.cx, k.cy].into_iter().chain(k.distortion))
        {
            *slot = v.to_bits();
        }
        Self(key)
    }
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
                entry(3, storage(true)),
                entry(4, storage(false)),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: None,
            bind_group_layouts: &[&layout],
            push_constant_ranges: &[],
        });
        let pipeline = |label, entry_point| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry_point),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let cull = pipeline("hand tile culling", "cull");
        let pipeline = pipeline("hand ray march", "main");
        tracing::debug!(adapter = %name, "hand renderer ready");
        Ok(Self {
            device,
            queue,
            pipeline,
            cull,
            layout,
            rays: parking_lot::Mutex::new(Vec::new()),
            adapter: name,
        })
    }

    /// `camera`'s ray and tile-cone buffers, made on first use.
    fn rays(&self, camera: &Camera) -> std::sync::Arc<CameraBuffers> {
        let key = RaysKey::of(camera);
        let mut cache = self.rays.lock();
        if let Some((_, b)) = cache.iter().find(|(k, _)| *k == key) {
            return b.clone();
        }
        let rays = Rays::new(camera);
        let both: Vec<[f32; 4]> = rays.dirs.iter().chain(&rays.tiles).copied().collect();
        let b = std::sync::Arc::new(CameraBuffers {
            rays: self
                .device
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: None,
                    contents: bytemuck::cast_slice(&both),
                    usage: wgpu::BufferUsages::STORAGE,
                }),
            tile_caps: self.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: (rays.tiles.len() * crate::TILE_STRIDE * 4) as u64,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            }),
        });
        cache.push((key, b.clone()));
        b
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
        let rays = self.rays(camera);
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
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: rays.rays.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: rays.tile_caps.as_entire_binding(),
                },
            ],
        });
        let mut enc = d.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_bind_group(0, &bind, &[]);
            pass.set_pipeline(&self.cull);
            let tiles = w.div_ceil(crate::TILE) * h.div_ceil(crate::TILE);
            pass.dispatch_workgroups(tiles.div_ceil(64), 1, 1);
            pass.set_pipeline(&self.pipeline);
            pass.dispatch_workgroups(w.div_ceil(crate::TILE), h.div_ceil(crate::TILE), 1);
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
