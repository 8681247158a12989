//! The Vulkan compositor: a thread that wakes a fixed margin before each
//! refresh of its target, takes the newest app frame whose rendering has
//! finished (polling the app's fence, never waiting on it), and draws:
//!
//! 1. the **layer pass**, per eye: every layer in submission order as a
//!    full-screen triangle whose fragment shader intersects the pixel's view
//!    ray (from the newest predicted eye pose) with the layer, so projection
//!    layers are reprojected rotationally from the pose they were rendered
//!    with, and quads, cylinders and equirects sit where they belong;
//! 2. the **distortion pass**: a mesh per eye over its half of the panel,
//!    built from the lens model, sampling red, green and blue at their own
//!    places (chromatic-aberration correction);
//!
//! and writes captures (eyes before distortion, the panel after) when asked.

use super::{call, AppDevice, Gpu, VkError};
use crate::lens::{factor, tans};
use crate::{
    AvatarInstance, AvatarModel, AvatarVertex, Compositor, CompositorError, Frame, FrameClock,
    Layer, LayerKind, Stats, SubImage,
};
use ash::vk;
use parallax_sdk_types::{Duration, Fov, LensModel, Pose, Time};
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

/// The newest prediction of `stage_from_eye` for both eyes at a time.
pub type EyePoses = Arc<dyn Fn(Time) -> Option<[Pose; 2]> + Send + Sync>;

/// The target's configuration.
#[derive(Clone)]
pub struct TargetConfig {
    pub eye_width: u32,
    pub eye_height: u32,
    pub fov: [Fov; 2],
    pub lens: LensModel,
    pub eye_poses: EyePoses,
    pub capture: Option<Capture>,
    /// Also show the panel in a desktop window (when a display is there).
    pub window: bool,
    /// Keyboard and mouse of the window go to the (simulating) driver.
    pub desktop: Option<parallax_sdk_types::DesktopControls>,
    /// Appends one CSV line per composition: target vsync, compose time,
    /// whether the app's frame was new, the app frame number.
    pub timing_log: Option<std::path::PathBuf>,
}

struct SharedState {
    pending: Mutex<Option<Frame>>,
    /// Avatars set since the compositor last looked.
    avatars: Mutex<Option<Vec<AvatarInstance>>>,
    stats: Mutex<Stats>,
    stop: AtomicBool,
    submitted_any: AtomicBool,
}

/// The compositor of a session with a Vulkan or OpenGL graphics binding.
pub struct VkCompositor {
    pub gpu: Arc<Gpu>,
    /// The app's Vulkan device (none for an OpenGL app).
    pub app: Option<Arc<AppDevice>>,
    clock: Arc<FrameClock>,
    state: Arc<SharedState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl VkCompositor {
    /// Opens the compositor's device on the app's physical device and
    /// starts composing.
    pub fn new(
        app: Arc<AppDevice>,
        period: Duration,
        config: TargetConfig,
    ) -> Result<Arc<Self>, VkError> {
        Self::open(app.uuid, Some(app), period, config)
    }

    /// Opens the compositor's device on the physical device with UUID
    /// `uuid` (the one the app renders on), for an app on Vulkan (`app`) or
    /// on another API (`None`), and starts composing.
    pub fn open(
        uuid: [u8; 16],
        app: Option<Arc<AppDevice>>,
        period: Duration,
        config: TargetConfig,
    ) -> Result<Arc<Self>, VkError> {
        let gpu = Gpu::open_with(uuid, config.window)?;
        let renderer = Renderer::new(gpu.clone(), config)?;
        let clock = Arc::new(FrameClock::new(Time::now(), period));
        let state = Arc::new(SharedState {
            pending: Mutex::new(None),
            avatars: Mutex::new(None),
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

    fn set_avatars(&self, avatars: Vec<AvatarInstance>) {
        *self.state.avatars.lock() = Some(avatars);
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

const TARGET_FORMAT: vk::Format = vk::Format::R8G8B8A8_SRGB;
/// The eyes' depth: reversed and infinite (1 near, 0 at infinity).
const DEPTH_FORMAT: vk::Format = vk::Format::D32_SFLOAT;
/// The near distance of that depth (`AVATAR_NEAR` in the shaders).
const AVATAR_NEAR: f32 = 0.05;

/// What a pipeline reads per vertex.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Vertices {
    /// Nothing: the full-screen triangle from the vertex index.
    None,
    /// The distortion mesh.
    Distortion,
    /// [`AvatarVertex`].
    Avatar,
}

/// How a pipeline in the eye pass uses its depth attachment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DepthUse {
    Ignore,
    /// Writes its depth (the app's projection with depth).
    Write,
    /// Tests and writes (avatars).
    TestAndWrite,
}
/// Grid cells per side of each eye's distortion mesh.
const MESH_CELLS: u32 = 32;
/// Most layer draws one composition can hold (16 layers x 2 eyes).
const MAX_DRAWS: u32 = 32;
/// Most avatars one composition draws: a meeting's participants (a face
/// and a body each) and its shared objects.
const MAX_AVATARS: usize = 64;

static LAYER_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/layer.spv"));
static CUBE_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/cube.spv"));
static DEPTH_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/depth.spv"));
/// `misc.z` flag: the projection view's depth is bound and used.
const FLAG_DEPTH: u32 = 4;
static DISTORT_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/distort.spv"));
static AVATAR_SPV: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/avatar.spv"));

struct Target {
    image: vk::Image,
    memory: vk::DeviceMemory,
    view: vk::ImageView,
    framebuffer: vk::Framebuffer,
    /// The eyes' depth attachment (the app's depth, then the avatars').
    depth: Option<(vk::Image, vk::DeviceMemory, vk::ImageView)>,
}

/// The avatar shader's push constants (`avatar.wgsl`, 80 bytes).
#[repr(C)]
#[derive(Copy, Clone, Default)]
struct AvatarParams {
    clip_from_avatar: [[f32; 4]; 4],
    light: [f32; 4],
}

/// One avatar draw: eye, push constants, base vertex, first index, index
/// count, model (index into the renderer's models).
type AvatarDraw = (usize, AvatarParams, i32, u32, u32, usize);

/// An avatar model's triangles on the GPU: every level of detail in one
/// index buffer, (first index, count) per level.
struct GpuModel {
    model: std::sync::Weak<AvatarModel>,
    buffer: Buffer,
    lods: Vec<(u32, u32)>,
    lod_distances: Vec<f32>,
}

/// Where an uploaded avatar's vertices are, and where it stands.
struct UploadedAvatar {
    model: usize,
    base: i32,
    pose: Pose,
}

struct Buffer {
    buffer: vk::Buffer,
    memory: vk::DeviceMemory,
}

/// The push constants of the layer shaders (`common.wgsl`, 128 bytes).
#[repr(C)]
#[derive(Copy, Clone, Default)]
struct LayerParams {
    rows: [[f32; 4]; 3],
    eye_tan: [f32; 4],
    shape: [f32; 4],
    rect: [f32; 4],
    misc: [u32; 4],
    depth: [f32; 4],
}

impl AvatarParams {
    fn bytes(&self) -> &[u8] {
        // SAFETY: plain `repr(C)` data of f32 without padding.
        unsafe {
            std::slice::from_raw_parts(
                self as *const Self as *const u8,
                std::mem::size_of::<Self>(),
            )
        }
    }
}

impl LayerParams {
    fn bytes(&self) -> &[u8] {
        // SAFETY: plain `repr(C)` data of f32/u32 without padding.
        unsafe {
            std::slice::from_raw_parts(
                self as *const Self as *const u8,
                std::mem::size_of::<Self>(),
            )
        }
    }
}

/// Everything the composing thread owns.
struct Renderer {
    gpu: Arc<Gpu>,
    pool: vk::CommandPool,
    cb: vk::CommandBuffer,
    fence: vk::Fence,
    sampler: vk::Sampler,
    set_layout: vk::DescriptorSetLayout,
    layer_layout: vk::PipelineLayout,
    distort_layout: vk::PipelineLayout,
    eye_pass: vk::RenderPass,
    panel_pass: vk::RenderPass,
    layer_pipeline: vk::Pipeline,
    cube_pipeline: vk::Pipeline,
    depth_pipeline: vk::Pipeline,
    distort_pipeline: vk::Pipeline,
    avatar_layout: vk::PipelineLayout,
    avatar_pipeline: vk::Pipeline,
    /// The avatars shown, their models on the GPU, and a host-visible
    /// vertex buffer (with its capacity in bytes) refilled every refresh.
    avatars: Vec<AvatarInstance>,
    /// The set changed since it was last uploaded.
    avatars_changed: bool,
    uploaded: Vec<UploadedAvatar>,
    /// Reused every composition.
    avatar_draws: Vec<AvatarDraw>,
    models: Vec<GpuModel>,
    avatar_vertices: Option<(Buffer, u64)>,
    frame_pool: vk::DescriptorPool,
    static_pool: vk::DescriptorPool,
    eye_sets: [vk::DescriptorSet; 2],
    eyes: [Target; 2],
    panel: Target,
    mesh: Buffer,
    mesh_index_count: u32,
    readback: Buffer,
    /// Views of app images made for the last composition.
    frame_views: Vec<vk::ImageView>,
    /// Timestamps around the two passes, when the queue supports them.
    queries: Option<(vk::QueryPool, f64)>,
    config: TargetConfig,
}

/// How long one composition took.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Timings {
    /// GPU time of the layer pass (both eyes), when timestamps are available.
    pub layer_ms: Option<f64>,
    /// GPU time of the distortion pass.
    pub distortion_ms: Option<f64>,
    /// CPU wall time from start of recording to the end of the GPU work.
    pub total_ms: f64,
}

/// Rows of `target_from_eye` (rotation, translation in .w).
/// Clip space of an eye with field of view `fov`, reversed infinite depth
/// (`z_ndc = AVATAR_NEAR / distance`) and Vulkan's y down, as the layer
/// shaders map the eye image (its top row at the upper tangent).
fn clip_from_eye(fov: &Fov) -> glam::Mat4 {
    let [l, r, u, d] = tans(fov);
    glam::Mat4::from_cols_array_2d(&[
        [2.0 / (r - l), 0.0, (r + l) / (r - l), 0.0],
        [0.0, -2.0 / (u - d), -(u + d) / (u - d), 0.0],
        [0.0, 0.0, 0.0, AVATAR_NEAR],
        [0.0, 0.0, -1.0, 0.0],
    ])
    .transpose()
}

fn rows(target_from_eye: &Pose) -> [[f32; 4]; 3] {
    let m = glam::Mat3::from_quat(target_from_eye.orientation);
    let t = target_from_eye.position;
    [
        [m.x_axis.x, m.y_axis.x, m.z_axis.x, t.x],
        [m.x_axis.y, m.y_axis.y, m.z_axis.y, t.y],
        [m.x_axis.z, m.y_axis.z, m.z_axis.z, t.z],
    ]
}

/// One eye's distortion mesh: per vertex the panel position (NDC of the
/// eye's viewport) and where red, green and blue are read in the eye image.
///
/// The panel shows the eye image's tangent rectangle shrunk by the green
/// channel's factor at the nearer horizontal edge, so green reaches that
/// edge exactly; each channel then reads at `q * factor_c(|q|) / norm`.
pub fn distortion_mesh(fov: &Fov, lens: &LensModel, cells: u32) -> (Vec<[f32; 8]>, Vec<u32>) {
    let t = tans(fov);
    let norm = crate::lens::norm(fov, lens);
    let to_uv = |q: glam::Vec2| [(q.x - t[0]) / (t[1] - t[0]), (t[2] - q.y) / (t[2] - t[3])];
    let mut vertices = Vec::new();
    for j in 0..=cells {
        for i in 0..=cells {
            let s = glam::Vec2::new(i as f32 / cells as f32, j as f32 / cells as f32);
            let q = glam::Vec2::new(t[0] + s.x * (t[1] - t[0]), t[2] + s.y * (t[3] - t[2]));
            let r = q.length();
            let [ur, vr] = to_uv(q * factor(&lens.red, r) / norm);
            let [ug, vg] = to_uv(q * factor(&lens.green, r) / norm);
            let [ub, vb] = to_uv(q * factor(&lens.blue, r) / norm);
            vertices.push([s.x * 2.0 - 1.0, s.y * 2.0 - 1.0, ur, vr, ug, vg, ub, vb]);
        }
    }
    let mut indices = Vec::new();
    let w = cells + 1;
    for j in 0..cells {
        for i in 0..cells {
            let a = j * w + i;
            indices.extend_from_slice(&[a, a + 1, a + w, a + 1, a + w + 1, a + w]);
        }
    }
    (vertices, indices)
}

fn shader(d: &ash::Device, spv: &[u8]) -> Result<vk::ShaderModule, VkError> {
    let words: Vec<u32> = spv
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // SAFETY: valid SPIR-V produced and validated by naga at build time.
    unsafe { d.create_shader_module(&vk::ShaderModuleCreateInfo::default().code(&words), None) }
        .map_err(call("vkCreateShaderModule"))
}

impl Renderer {
    /// A colour target image (TARGET_FORMAT) with its view.
    fn image(
        gpu: &Gpu,
        w: u32,
        h: u32,
        usage: vk::ImageUsageFlags,
    ) -> Result<(vk::Image, vk::DeviceMemory, vk::ImageView), VkError> {
        Self::image_of(gpu, w, h, TARGET_FORMAT, usage, vk::ImageAspectFlags::COLOR)
    }

    /// A depth attachment (DEPTH_FORMAT) with its view.
    fn depth_image(
        gpu: &Gpu,
        w: u32,
        h: u32,
    ) -> Result<(vk::Image, vk::DeviceMemory, vk::ImageView), VkError> {
        Self::image_of(
            gpu,
            w,
            h,
            DEPTH_FORMAT,
            vk::ImageUsageFlags::DEPTH_STENCIL_ATTACHMENT,
            vk::ImageAspectFlags::DEPTH,
        )
    }

    fn image_of(
        gpu: &Gpu,
        w: u32,
        h: u32,
        format: vk::Format,
        usage: vk::ImageUsageFlags,
        aspect: vk::ImageAspectFlags,
    ) -> Result<(vk::Image, vk::DeviceMemory, vk::ImageView), VkError> {
        let d = &gpu.device;
        let info = vk::ImageCreateInfo::default()
            .image_type(vk::ImageType::TYPE_2D)
            .format(format)
            .extent(vk::Extent3D {
                width: w,
                height: h,
                depth: 1,
            })
            .mip_levels(1)
            .array_layers(1)
            .samples(vk::SampleCountFlags::TYPE_1)
            .tiling(vk::ImageTiling::OPTIMAL)
            .usage(usage)
            .initial_layout(vk::ImageLayout::UNDEFINED);
        // SAFETY: plain object creation on our own device.
        unsafe {
            let image = d.create_image(&info, None).map_err(call("vkCreateImage"))?;
            let req = d.get_image_memory_requirements(image);
            let memory =
                super::allocate(d, &gpu.memory, req, vk::MemoryPropertyFlags::DEVICE_LOCAL)?;
            d.bind_image_memory(image, memory, 0)
                .map_err(call("vkBindImageMemory"))?;
            let view = d
                .create_image_view(
                    &vk::ImageViewCreateInfo::default()
                        .image(image)
                        .view_type(vk::ImageViewType::TYPE_2D)
                        .format(format)
                        .subresource_range(vk::ImageSubresourceRange {
                            aspect_mask: aspect,
                            ..color_range(0, 1)
                        }),
                    None,
                )
                .map_err(call("vkCreateImageView"))?;
            Ok((image, memory, view))
        }
    }

    /// Uploads the avatars set since the last composition: models once per
    /// `Arc`, every avatar's vertices into one buffer, and remembers where
    /// each landed. Models no longer used are freed. Called only when the
    /// set changed (meshes change at the packet rate, not every refresh).
    fn upload_avatars(&mut self) -> Result<(), VkError> {
        self.uploaded.clear();
        let d = self.gpu.device.clone();
        // SAFETY: the previous composition was waited for, so no buffer of
        // a dropped model is in use.
        unsafe {
            self.models.retain(|m| {
                let alive = m.model.strong_count() > 0;
                if !alive {
                    d.destroy_buffer(m.buffer.buffer, None);
                    d.free_memory(m.buffer.memory, None);
                }
                alive
            });
        }
        let avatars: Vec<AvatarInstance> = self
            .avatars
            .iter()
            .filter(|a| {
                a.vertices.len() == a.model.vertex_count as usize
                    && !a.model.lods.is_empty()
                    && a.pose.position.is_finite()
                    && a.pose.orientation.is_finite()
            })
            .take(MAX_AVATARS)
            .cloned()
            .collect();
        if avatars.is_empty() {
            return Ok(());
        }
        let mut model_index = Vec::new();
        for a in &avatars {
            let found = self
                .models
                .iter()
                .position(|m| m.model.upgrade().is_some_and(|m| Arc::ptr_eq(&m, &a.model)));
            let i = match found {
                Some(i) => i,
                None => {
                    let mut indices: Vec<u32> = Vec::new();
                    let mut lods = Vec::new();
                    for lod in &a.model.lods {
                        let first = indices.len() as u32;
                        indices.extend(
                            lod.iter()
                                .flatten()
                                .map(|&i| i.min(a.model.vertex_count.saturating_sub(1))),
                        );
                        lods.push((first, indices.len() as u32 - first));
                    }
                    let bytes = (indices.len() * 4).max(4) as u64;
                    let buffer =
                        Self::buffer(&self.gpu, bytes, vk::BufferUsageFlags::INDEX_BUFFER)?;
                    // SAFETY: host-visible memory of `bytes` bytes, not in use.
                    unsafe {
                        let p = d
                            .map_memory(buffer.memory, 0, bytes, vk::MemoryMapFlags::empty())
                            .map_err(call("vkMapMemory"))?
                            as *mut u8;
                        std::ptr::copy_nonoverlapping(
                            indices.as_ptr() as *const u8,
                            p,
                            indices.len() * 4,
                        );
                        d.unmap_memory(buffer.memory);
                    }
                    self.models.push(GpuModel {
                        model: Arc::downgrade(&a.model),
                        buffer,
                        lods,
                        lod_distances: a.model.lod_distances.clone(),
                    });
                    self.models.len() - 1
                }
            };
            model_index.push(i);
        }
        // Every avatar's vertices, one after the other.
        let stride = std::mem::size_of::<AvatarVertex>();
        let total: usize = avatars.iter().map(|a| a.vertices.len() * stride).sum();
        let need = total as u64;
        if self
            .avatar_vertices
            .as_ref()
            .is_none_or(|(_, cap)| *cap < need)
        {
            if let Some((b, _)) = self.avatar_vertices.take() {
                // SAFETY: not in use (previous composition waited for).
                unsafe {
                    d.destroy_buffer(b.buffer, None);
                    d.free_memory(b.memory, None);
                }
            }
            let cap = need.next_power_of_two();
            let b = Self::buffer(&self.gpu, cap, vk::BufferUsageFlags::VERTEX_BUFFER)?;
            self.avatar_vertices = Some((b, cap));
        }
        let (vb, _) = self.avatar_vertices.as_ref().expect("just made");
        // SAFETY: host-visible memory of at least `need` bytes, not in use;
        // AvatarVertex is plain `repr(C)` data.
        unsafe {
            let p = d
                .map_memory(vb.memory, 0, need, vk::MemoryMapFlags::empty())
                .map_err(call("vkMapMemory"))? as *mut u8;
            let mut at = 0usize;
            for (a, &model) in avatars.iter().zip(&model_index) {
                self.uploaded.push(UploadedAvatar {
                    model,
                    base: (at / stride) as i32,
                    pose: a.pose,
                });
                let n = a.vertices.len() * stride;
                std::ptr::copy_nonoverlapping(a.vertices.as_ptr() as *const u8, p.add(at), n);
                at += n;
            }
            d.unmap_memory(vb.memory);
        }
        Ok(())
    }

    /// The avatar draws of one composition into `draws`: per eye and
    /// avatar (eye, push constants, base vertex, first index, index count,
    /// model), the level of detail by distance.
    fn avatar_draws(&self, poses: &[Pose; 2], draws: &mut Vec<AvatarDraw>) {
        draws.clear();
        for (eye, (stage_from_eye, fov)) in poses.iter().zip(self.config.fov).enumerate() {
            let clip_from_eye = clip_from_eye(&fov);
            let eye_from_stage = stage_from_eye.inverse();
            for a in &self.uploaded {
                let (m, base) = (a.model, a.base);
                let eye_from_avatar = eye_from_stage.mul(&a.pose);
                let distance = eye_from_avatar.position.length();
                let model = &self.models[m];
                let lod = model
                    .lod_distances
                    .iter()
                    .position(|&d| distance <= d)
                    .unwrap_or(model.lods.len() - 1)
                    .min(model.lods.len() - 1);
                let (first, count) = model.lods[lod];
                let m4 = clip_from_eye
                    * glam::Mat4::from_rotation_translation(
                        eye_from_avatar.orientation,
                        eye_from_avatar.position,
                    );
                let params = AvatarParams {
                    clip_from_avatar: m4.to_cols_array_2d(),
                    light: [0.35, 0.6, 1.0, 0.35],
                };
                draws.push((eye, params, base, first, count, m));
            }
        }
    }

    fn buffer(gpu: &Gpu, size: u64, usage: vk::BufferUsageFlags) -> Result<Buffer, VkError> {
        let (buffer, memory) = super::host_buffer(&gpu.device, &gpu.memory, size, usage)?;
        Ok(Buffer { buffer, memory })
    }

    fn render_pass(
        d: &ash::Device,
        final_layout: vk::ImageLayout,
        depth: bool,
    ) -> Result<vk::RenderPass, VkError> {
        let att = [
            vk::AttachmentDescription::default()
                .format(TARGET_FORMAT)
                .samples(vk::SampleCountFlags::TYPE_1)
                .load_op(vk::AttachmentLoadOp::CLEAR)
                .store_op(vk::AttachmentStoreOp::STORE)
                .stencil_load_op(vk::AttachmentLoadOp::DONT_CARE)
                .stencil_store_op(vk::AttachmentStoreOp::DONT_CARE)
                .initial_layout(vk::ImageLayout::UNDEFINED)
                .final_layout(final_layout),
            vk::AttachmentDescription::default()
                .format(DEPTH_FORMAT)
                .samples(vk::SampleCountFlags::TYPE_1)
                .load_op(vk::AttachmentLoadOp::CLEAR)
                .store_op(vk::AttachmentStoreOp::DONT_CARE)
                .stencil_load_op(vk::AttachmentLoadOp::DONT_CARE)
                .stencil_store_op(vk::AttachmentStoreOp::DONT_CARE)
                .initial_layout(vk::ImageLayout::UNDEFINED)
                .final_layout(vk::ImageLayout::DEPTH_STENCIL_ATTACHMENT_OPTIMAL),
        ];
        let att = if depth { &att[..] } else { &att[..1] };
        let refs = [vk::AttachmentReference {
            attachment: 0,
            layout: vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL,
        }];
        let depth_ref = vk::AttachmentReference {
            attachment: 1,
            layout: vk::ImageLayout::DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
        };
        let sub = vk::SubpassDescription::default()
            .pipeline_bind_point(vk::PipelineBindPoint::GRAPHICS)
            .color_attachments(&refs);
        let sub = [if depth {
            sub.depth_stencil_attachment(&depth_ref)
        } else {
            sub
        }];
        let dep = [vk::SubpassDependency::default()
            .src_subpass(0)
            .dst_subpass(vk::SUBPASS_EXTERNAL)
            .src_stage_mask(vk::PipelineStageFlags::COLOR_ATTACHMENT_OUTPUT)
            .dst_stage_mask(
                vk::PipelineStageFlags::FRAGMENT_SHADER | vk::PipelineStageFlags::TRANSFER,
            )
            .src_access_mask(vk::AccessFlags::COLOR_ATTACHMENT_WRITE)
            .dst_access_mask(vk::AccessFlags::SHADER_READ | vk::AccessFlags::TRANSFER_READ)];
        // SAFETY: well-formed create info.
        unsafe {
            d.create_render_pass(
                &vk::RenderPassCreateInfo::default()
                    .attachments(att)
                    .subpasses(&sub)
                    .dependencies(&dep),
                None,
            )
        }
        .map_err(call("vkCreateRenderPass"))
    }

    fn pipeline(
        d: &ash::Device,
        layout: vk::PipelineLayout,
        pass: vk::RenderPass,
        spv: &[u8],
        vertex: Vertices,
        blend: bool,
        depth: Option<DepthUse>,
    ) -> Result<vk::Pipeline, VkError> {
        let module = shader(d, spv)?;
        let stages = [
            vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::VERTEX)
                .module(module)
                .name(c"vs_main"),
            vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::FRAGMENT)
                .module(module)
                .name(c"fs_main"),
        ];
        let bindings = [vk::VertexInputBindingDescription {
            binding: 0,
            stride: 32,
            input_rate: vk::VertexInputRate::VERTEX,
        }];
        let attrs: Vec<vk::VertexInputAttributeDescription> = (0..4)
            .map(|i| vk::VertexInputAttributeDescription {
                location: i,
                binding: 0,
                format: vk::Format::R32G32_SFLOAT,
                offset: i * 8,
            })
            .collect();
        let avatar_bindings = [vk::VertexInputBindingDescription {
            binding: 0,
            stride: std::mem::size_of::<AvatarVertex>() as u32,
            input_rate: vk::VertexInputRate::VERTEX,
        }];
        let avatar_attrs = [
            vk::VertexInputAttributeDescription {
                location: 0,
                binding: 0,
                format: vk::Format::R32G32B32_SFLOAT,
                offset: 0,
            },
            vk::VertexInputAttributeDescription {
                location: 1,
                binding: 0,
                format: vk::Format::R32G32B32_SFLOAT,
                offset: 12,
            },
            vk::VertexInputAttributeDescription {
                location: 2,
                binding: 0,
                format: vk::Format::R8G8B8A8_UNORM,
                offset: 24,
            },
        ];
        let vi = match vertex {
            Vertices::Distortion => vk::PipelineVertexInputStateCreateInfo::default()
                .vertex_binding_descriptions(&bindings)
                .vertex_attribute_descriptions(&attrs),
            Vertices::Avatar => vk::PipelineVertexInputStateCreateInfo::default()
                .vertex_binding_descriptions(&avatar_bindings)
                .vertex_attribute_descriptions(&avatar_attrs),
            Vertices::None => vk::PipelineVertexInputStateCreateInfo::default(),
        };
        let ia = vk::PipelineInputAssemblyStateCreateInfo::default()
            .topology(vk::PrimitiveTopology::TRIANGLE_LIST);
        let vp = vk::PipelineViewportStateCreateInfo::default()
            .viewport_count(1)
            .scissor_count(1);
        let rs = vk::PipelineRasterizationStateCreateInfo::default()
            .polygon_mode(vk::PolygonMode::FILL)
            .cull_mode(vk::CullModeFlags::NONE)
            .line_width(1.0);
        let ms = vk::PipelineMultisampleStateCreateInfo::default()
            .rasterization_samples(vk::SampleCountFlags::TYPE_1);
        let att = [vk::PipelineColorBlendAttachmentState::default()
            .blend_enable(blend)
            .src_color_blend_factor(vk::BlendFactor::ONE)
            .dst_color_blend_factor(vk::BlendFactor::ONE_MINUS_SRC_ALPHA)
            .color_blend_op(vk::BlendOp::ADD)
            .src_alpha_blend_factor(vk::BlendFactor::ONE)
            .dst_alpha_blend_factor(vk::BlendFactor::ONE_MINUS_SRC_ALPHA)
            .alpha_blend_op(vk::BlendOp::ADD)
            .color_write_mask(vk::ColorComponentFlags::RGBA)];
        let cb = vk::PipelineColorBlendStateCreateInfo::default().attachments(&att);
        let dynamic = [vk::DynamicState::VIEWPORT, vk::DynamicState::SCISSOR];
        let ds = vk::PipelineDynamicStateCreateInfo::default().dynamic_states(&dynamic);
        let (test, write, op) = match depth {
            None | Some(DepthUse::Ignore) => (false, false, vk::CompareOp::ALWAYS),
            Some(DepthUse::Write) => (true, true, vk::CompareOp::ALWAYS),
            Some(DepthUse::TestAndWrite) => (true, true, vk::CompareOp::GREATER),
        };
        let dss = vk::PipelineDepthStencilStateCreateInfo::default()
            .depth_test_enable(test)
            .depth_write_enable(write)
            .depth_compare_op(op);
        let info = vk::GraphicsPipelineCreateInfo::default()
            .stages(&stages)
            .vertex_input_state(&vi)
            .input_assembly_state(&ia)
            .viewport_state(&vp)
            .rasterization_state(&rs)
            .multisample_state(&ms)
            .color_blend_state(&cb)
            .dynamic_state(&ds)
            .layout(layout)
            .render_pass(pass)
            .subpass(0);
        let info = if depth.is_some() {
            info.depth_stencil_state(&dss)
        } else {
            info
        };
        // SAFETY: well-formed create info; the module is destroyed after use.
        let r = unsafe { d.create_graphics_pipelines(vk::PipelineCache::null(), &[info], None) };
        // SAFETY: the pipeline no longer needs the module once created.
        unsafe { d.destroy_shader_module(module, None) };
        r.map(|p| p[0])
            .map_err(|(_, e)| call("vkCreateGraphicsPipelines")(e))
    }

    fn new(gpu: Arc<Gpu>, config: TargetConfig) -> Result<Renderer, VkError> {
        let d = &gpu.device;
        let (w, h) = (config.eye_width, config.eye_height);
        // SAFETY: plain object creation on our own device. A failure part
        // way leaks the objects made so far, only on a failing device.
        unsafe {
            let (pool, cb) = super::command_buffer(d, gpu.queue_family)?;
            let fence = d
                .create_fence(&vk::FenceCreateInfo::default(), None)
                .map_err(call("vkCreateFence"))?;
            let sampler = d
                .create_sampler(
                    &vk::SamplerCreateInfo::default()
                        .mag_filter(vk::Filter::LINEAR)
                        .min_filter(vk::Filter::LINEAR)
                        .mipmap_mode(vk::SamplerMipmapMode::LINEAR)
                        .address_mode_u(vk::SamplerAddressMode::CLAMP_TO_EDGE)
                        .address_mode_v(vk::SamplerAddressMode::CLAMP_TO_EDGE)
                        .address_mode_w(vk::SamplerAddressMode::CLAMP_TO_EDGE)
                        .max_lod(vk::LOD_CLAMP_NONE),
                    None,
                )
                .map_err(call("vkCreateSampler"))?;
            let bindings = [
                vk::DescriptorSetLayoutBinding::default()
                    .binding(0)
                    .descriptor_type(vk::DescriptorType::SAMPLER)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::FRAGMENT),
                vk::DescriptorSetLayoutBinding::default()
                    .binding(1)
                    .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::FRAGMENT),
                // Depth of a projection view (only the depth shader reads it).
                vk::DescriptorSetLayoutBinding::default()
                    .binding(2)
                    .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
                    .descriptor_count(1)
                    .stage_flags(vk::ShaderStageFlags::FRAGMENT),
            ];
            let set_layout = d
                .create_descriptor_set_layout(
                    &vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings),
                    None,
                )
                .map_err(call("vkCreateDescriptorSetLayout"))?;
            let set_layouts = [set_layout];
            let ranges = [vk::PushConstantRange {
                stage_flags: vk::ShaderStageFlags::FRAGMENT,
                offset: 0,
                size: std::mem::size_of::<LayerParams>() as u32,
            }];
            let layer_layout = d
                .create_pipeline_layout(
                    &vk::PipelineLayoutCreateInfo::default()
                        .set_layouts(&set_layouts)
                        .push_constant_ranges(&ranges),
                    None,
                )
                .map_err(call("vkCreatePipelineLayout"))?;
            // The distortion pass gets the eye's tangents and the lens aperture.
            let distort_ranges = [vk::PushConstantRange {
                stage_flags: vk::ShaderStageFlags::FRAGMENT,
                offset: 0,
                size: 32,
            }];
            let distort_layout = d
                .create_pipeline_layout(
                    &vk::PipelineLayoutCreateInfo::default()
                        .set_layouts(&set_layouts)
                        .push_constant_ranges(&distort_ranges),
                    None,
                )
                .map_err(call("vkCreatePipelineLayout"))?;
            let avatar_ranges = [vk::PushConstantRange {
                stage_flags: vk::ShaderStageFlags::VERTEX | vk::ShaderStageFlags::FRAGMENT,
                offset: 0,
                size: std::mem::size_of::<AvatarParams>() as u32,
            }];
            let avatar_layout = d
                .create_pipeline_layout(
                    &vk::PipelineLayoutCreateInfo::default().push_constant_ranges(&avatar_ranges),
                    None,
                )
                .map_err(call("vkCreatePipelineLayout"))?;
            let eye_pass = Self::render_pass(d, vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL, true)?;
            let panel_pass = Self::render_pass(d, vk::ImageLayout::TRANSFER_SRC_OPTIMAL, false)?;
            let ignore = Some(DepthUse::Ignore);
            let none = Vertices::None;
            let layer_pipeline =
                Self::pipeline(d, layer_layout, eye_pass, LAYER_SPV, none, true, ignore)?;
            let cube_pipeline =
                Self::pipeline(d, layer_layout, eye_pass, CUBE_SPV, none, true, ignore)?;
            let depth_pipeline = Self::pipeline(
                d,
                layer_layout,
                eye_pass,
                DEPTH_SPV,
                none,
                true,
                Some(DepthUse::Write),
            )?;
            let avatar_pipeline = Self::pipeline(
                d,
                avatar_layout,
                eye_pass,
                AVATAR_SPV,
                Vertices::Avatar,
                false,
                Some(DepthUse::TestAndWrite),
            )?;
            let distort_pipeline = Self::pipeline(
                d,
                distort_layout,
                panel_pass,
                DISTORT_SPV,
                Vertices::Distortion,
                false,
                None,
            )?;
            let sizes = [
                vk::DescriptorPoolSize {
                    ty: vk::DescriptorType::SAMPLER,
                    descriptor_count: MAX_DRAWS,
                },
                vk::DescriptorPoolSize {
                    ty: vk::DescriptorType::SAMPLED_IMAGE,
                    descriptor_count: 2 * MAX_DRAWS,
                },
            ];
            let frame_pool = d
                .create_descriptor_pool(
                    &vk::DescriptorPoolCreateInfo::default()
                        .max_sets(MAX_DRAWS)
                        .pool_sizes(&sizes),
                    None,
                )
                .map_err(call("vkCreateDescriptorPool"))?;
            let static_pool = d
                .create_descriptor_pool(
                    &vk::DescriptorPoolCreateInfo::default()
                        .max_sets(2)
                        .pool_sizes(&sizes),
                    None,
                )
                .map_err(call("vkCreateDescriptorPool"))?;
            let mk_target = |w: u32,
                             h: u32,
                             pass: vk::RenderPass,
                             usage: vk::ImageUsageFlags,
                             with_depth: bool|
             -> Result<Target, VkError> {
                let (image, memory, view) = Self::image(&gpu, w, h, usage)?;
                let depth = if with_depth {
                    Some(Self::depth_image(&gpu, w, h)?)
                } else {
                    None
                };
                let views: Vec<vk::ImageView> =
                    std::iter::once(view).chain(depth.map(|d| d.2)).collect();
                let framebuffer = d
                    .create_framebuffer(
                        &vk::FramebufferCreateInfo::default()
                            .render_pass(pass)
                            .attachments(&views)
                            .width(w)
                            .height(h)
                            .layers(1),
                        None,
                    )
                    .map_err(call("vkCreateFramebuffer"))?;
                Ok(Target {
                    image,
                    memory,
                    view,
                    framebuffer,
                    depth,
                })
            };
            let usage = vk::ImageUsageFlags::COLOR_ATTACHMENT | vk::ImageUsageFlags::TRANSFER_SRC;
            let eyes = [
                mk_target(w, h, eye_pass, usage | vk::ImageUsageFlags::SAMPLED, true)?,
                mk_target(w, h, eye_pass, usage | vk::ImageUsageFlags::SAMPLED, true)?,
            ];
            let panel = mk_target(w * 2, h, panel_pass, usage, false)?;
            let layouts = [set_layout, set_layout];
            let sets = d
                .allocate_descriptor_sets(
                    &vk::DescriptorSetAllocateInfo::default()
                        .descriptor_pool(static_pool)
                        .set_layouts(&layouts),
                )
                .map_err(call("vkAllocateDescriptorSets"))?;
            let eye_sets = [sets[0], sets[1]];
            for (set, eye) in eye_sets.iter().zip(&eyes) {
                Self::write_set(
                    d,
                    *set,
                    sampler,
                    eye.view,
                    vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                    None,
                );
            }
            // Both eyes' meshes in one vertex buffer, then both index lists.
            let (mut verts, mut idx) = (Vec::new(), Vec::new());
            for eye in 0..2 {
                let (v, i) = distortion_mesh(&config.fov[eye], &config.lens, MESH_CELLS);
                let base = verts.len() as u32;
                verts.extend(v);
                idx.extend(i.into_iter().map(|i| i + base));
            }
            let vbytes = verts.len() * 32;
            let ibytes = idx.len() * 4;
            let mesh = Self::buffer(
                &gpu,
                (vbytes + ibytes) as u64,
                vk::BufferUsageFlags::VERTEX_BUFFER | vk::BufferUsageFlags::INDEX_BUFFER,
            )?;
            let p = d
                .map_memory(
                    mesh.memory,
                    0,
                    (vbytes + ibytes) as u64,
                    vk::MemoryMapFlags::empty(),
                )
                .map_err(call("vkMapMemory"))? as *mut u8;
            std::ptr::copy_nonoverlapping(verts.as_ptr() as *const u8, p, vbytes);
            std::ptr::copy_nonoverlapping(idx.as_ptr() as *const u8, p.add(vbytes), ibytes);
            d.unmap_memory(mesh.memory);
            let readback = Self::buffer(
                &gpu,
                w as u64 * h as u64 * 4 * 4,
                vk::BufferUsageFlags::TRANSFER_DST,
            )?;
            let props = gpu.instance.get_physical_device_properties(gpu.physical);
            let families = gpu
                .instance
                .get_physical_device_queue_family_properties(gpu.physical);
            let valid_bits = families[gpu.queue_family as usize].timestamp_valid_bits;
            let queries = if valid_bits > 0 && props.limits.timestamp_period > 0.0 {
                let pool = d
                    .create_query_pool(
                        &vk::QueryPoolCreateInfo::default()
                            .query_type(vk::QueryType::TIMESTAMP)
                            .query_count(3),
                        None,
                    )
                    .map_err(call("vkCreateQueryPool"))?;
                Some((pool, props.limits.timestamp_period as f64))
            } else {
                None
            };
            Ok(Renderer {
                gpu: gpu.clone(),
                pool,
                cb,
                fence,
                sampler,
                set_layout,
                layer_layout,
                distort_layout,
                eye_pass,
                panel_pass,
                layer_pipeline,
                cube_pipeline,
                depth_pipeline,
                distort_pipeline,
                avatar_layout,
                avatar_pipeline,
                avatars: Vec::new(),
                avatars_changed: false,
                uploaded: Vec::new(),
                avatar_draws: Vec::new(),
                models: Vec::new(),
                avatar_vertices: None,
                frame_pool,
                static_pool,
                eye_sets,
                eyes,
                panel,
                mesh,
                mesh_index_count: idx.len() as u32 / 2,
                readback,
                frame_views: Vec::new(),
                queries,
                config,
            })
        }
    }

    fn write_set(
        d: &ash::Device,
        set: vk::DescriptorSet,
        sampler: vk::Sampler,
        view: vk::ImageView,
        layout: vk::ImageLayout,
        depth: Option<vk::ImageView>,
    ) {
        let s = [vk::DescriptorImageInfo {
            sampler,
            image_view: vk::ImageView::null(),
            image_layout: vk::ImageLayout::UNDEFINED,
        }];
        let i = [vk::DescriptorImageInfo {
            sampler: vk::Sampler::null(),
            image_view: view,
            image_layout: layout,
        }];
        let z = [vk::DescriptorImageInfo {
            sampler: vk::Sampler::null(),
            image_view: depth.unwrap_or_default(),
            image_layout: vk::ImageLayout::DEPTH_STENCIL_READ_ONLY_OPTIMAL,
        }];
        let mut writes = vec![
            vk::WriteDescriptorSet::default()
                .dst_set(set)
                .dst_binding(0)
                .descriptor_type(vk::DescriptorType::SAMPLER)
                .image_info(&s),
            vk::WriteDescriptorSet::default()
                .dst_set(set)
                .dst_binding(1)
                .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
                .image_info(&i),
        ];
        // Binding 2 is written only for the depth shader, the only one that reads it.
        if depth.is_some() {
            writes.push(
                vk::WriteDescriptorSet::default()
                    .dst_set(set)
                    .dst_binding(2)
                    .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
                    .image_info(&z),
            );
        }
        // SAFETY: valid set, sampler and views of this device.
        unsafe { d.update_descriptor_sets(&writes, &[]) };
    }

    fn run(mut self, clock: &FrameClock, state: &SharedState) {
        let mut current: Option<Frame> = None;
        // App frames taken so far (the number of the current one is taken - 1).
        let mut taken: u64 = 0;
        let (w, h) = (self.config.eye_width, self.config.eye_height);
        // The window belongs to this thread (winit's event loop is pumped here).
        let mut window = if self.config.window {
            match super::window::WindowTarget::new(
                self.gpu.clone(),
                (w * 2 / 4).max(64),
                (h / 4).max(64),
                self.config.desktop.clone(),
            ) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!("desktop window target unavailable, composing headless: {e}");
                    None
                }
            }
        } else {
            None
        };
        let mut timing = self.config.timing_log.as_ref().and_then(|p| {
            let f = std::fs::File::create(p)
                .map_err(|e| tracing::error!("PARALLAX_TIMING_LOG {}: {e}", p.display()))
                .ok()?;
            let mut w = std::io::BufWriter::new(f);
            use std::io::Write;
            writeln!(
                w,
                "vsync_ns,compose_ns,new_app_frame,app_frame,missed_total"
            )
            .ok()?;
            Some(w)
        });
        let mut missed_total = 0u64;
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
            let missed = !fresh && state.submitted_any.load(Ordering::Acquire);
            let number = taken.wrapping_sub(1);
            let capture = self
                .config
                .capture
                .as_ref()
                .filter(|c| fresh && c.frames.contains(&number))
                .cloned();
            // Without a window, a composition is read only when it is
            // captured or timed; the others are latched and counted but not
            // drawn. (On a software Vulkan device a full-resolution
            // composition costs about half a second of the CPU the app needs.)
            if let Some(a) = state.avatars.lock().take() {
                self.avatars = a;
                self.avatars_changed = true;
            }
            let drawn = window.is_some() || capture.is_some() || timing.is_some();
            let result = if drawn {
                self.compose(current.as_ref(), vsync, capture.is_some())
                    .map(|_| ())
            } else {
                Ok(())
            };
            if result.is_ok() {
                if let Some(t) = &mut window {
                    if let Err(e) = t.present(self.panel.image, w * 2, h) {
                        // The window is gone (destroyed from outside, its
                        // display lost): as if the user closed it.
                        tracing::error!("desktop window: {e}; closing it and ending the session");
                        window = None;
                        state.stats.lock().window_closed = true;
                    } else if t.closed() {
                        tracing::info!("the desktop window was closed: ending the session");
                        window = None;
                        state.stats.lock().window_closed = true;
                    }
                }
            }
            if let Err(e) = &result {
                tracing::error!("compositor: {e}");
            } else if let Some(c) = capture {
                if let Err(e) = self.write_capture(&c, number) {
                    tracing::error!("capture of frame {number}: {e}");
                }
            }
            let took = Time::now() - started;
            clock.report_compose(took);
            missed_total += u64::from(missed);
            if let Some(w) = &mut timing {
                use std::io::Write;
                let ok = writeln!(
                    w,
                    "{},{},{},{},{missed_total}",
                    vsync.0, took.0, fresh as u8, number as i64
                )
                .and_then(|_| w.flush());
                if let Err(e) = ok {
                    tracing::error!("timing log: {e}; stopping it");
                    timing = None;
                }
            }
            // Both counters move together, so a reader never sees a miss
            // without its composition.
            let mut s = state.stats.lock();
            s.composed += 1;
            s.missed_frames += u64::from(missed);
            s.last_compose_ns = took.0;
            drop(s);
            tracing::trace!(compose_ms = took.as_secs_f64() * 1e3, fresh, "composed");
        }
    }

    /// A view of one array layer of a swapchain image, kept until the next
    /// composition.
    fn layer_view(&mut self, sub: &SubImage, cube: bool) -> Result<vk::ImageView, VkError> {
        let chain = &sub.hold.chain;
        // A cube view of one array element's six faces, or a 2D-array view
        // of every layer (the shader picks the array index).
        let (view_type, base_array_layer, layer_count) = if cube {
            (vk::ImageViewType::CUBE, sub.array_index * 6, 6)
        } else {
            (
                vk::ImageViewType::TYPE_2D_ARRAY,
                0,
                chain.desc.array_size * chain.desc.face_count,
            )
        };
        let info = vk::ImageViewCreateInfo::default()
            .image(chain.comp_image(sub.hold.index))
            .view_type(view_type)
            .format(chain.desc.format)
            .subresource_range(vk::ImageSubresourceRange {
                aspect_mask: vk::ImageAspectFlags::COLOR,
                base_mip_level: 0,
                level_count: chain.desc.mip_count,
                base_array_layer,
                layer_count,
            });
        // SAFETY: the image is alive while the frame holds it.
        let view = unsafe { self.gpu.device.create_image_view(&info, None) }
            .map_err(call("vkCreateImageView"))?;
        self.frame_views.push(view);
        Ok(view)
    }

    /// Push constants for one layer seen from one eye; `None` if the layer
    /// has nothing for this eye.
    /// A view of a depth swapchain image's depth aspect, kept until the next
    /// composition.
    fn depth_view(&mut self, sub: &SubImage) -> Result<vk::ImageView, VkError> {
        let chain = &sub.hold.chain;
        let info = vk::ImageViewCreateInfo::default()
            .image(chain.comp_image(sub.hold.index))
            .view_type(vk::ImageViewType::TYPE_2D_ARRAY)
            .format(chain.desc.format)
            .subresource_range(vk::ImageSubresourceRange {
                aspect_mask: vk::ImageAspectFlags::DEPTH,
                base_mip_level: 0,
                level_count: 1,
                base_array_layer: 0,
                layer_count: chain.desc.array_size,
            });
        // SAFETY: the image is alive while the frame holds it.
        let view = unsafe { self.gpu.device.create_image_view(&info, None) }
            .map_err(call("vkCreateImageView"))?;
        self.frame_views.push(view);
        Ok(view)
    }

    /// Where a layer can appear on one eye's image, in normalized image
    /// coordinates (x0, y0, x1, y1): `Some(None)` for the whole image,
    /// `None` when it cannot appear at all. Quads are bounded by their
    /// projected corners (when all are in front of the eye); the other
    /// layer kinds cover the whole image.
    fn screen_bounds(layer: &Layer, stage_from_eye: &Pose, fov: &Fov) -> Option<Option<[f32; 4]>> {
        let LayerKind::Quad { pose, size, .. } = &layer.kind else {
            return Some(None);
        };
        let eye_from_quad = stage_from_eye
            .inverse()
            .mul(&layer.stage_from_space.mul(pose));
        let t = tans(fov);
        let (mut lo, mut hi) = (
            glam::Vec2::splat(f32::INFINITY),
            glam::Vec2::splat(f32::NEG_INFINITY),
        );
        for (sx, sy) in [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)] {
            let c = eye_from_quad.transform_point(glam::Vec3::new(sx * size[0], sy * size[1], 0.0));
            if c.z > -1e-3 {
                return Some(None); // a corner at or behind the eye: no simple bound
            }
            let uv = glam::Vec2::new(
                (c.x / -c.z - t[0]) / (t[1] - t[0]),
                (t[2] - c.y / -c.z) / (t[2] - t[3]),
            );
            lo = lo.min(uv);
            hi = hi.max(uv);
        }
        if hi.x < 0.0 || hi.y < 0.0 || lo.x > 1.0 || lo.y > 1.0 {
            return None;
        }
        Some(Some([
            lo.x.max(0.0),
            lo.y.max(0.0),
            hi.x.min(1.0),
            hi.y.min(1.0),
        ]))
    }

    fn params<'a>(
        layer: &'a Layer,
        eye: usize,
        stage_from_eye: &Pose,
        fov: &Fov,
    ) -> Option<(LayerParams, &'a SubImage, Option<&'a SubImage>)> {
        let mut p = LayerParams {
            eye_tan: tans(fov),
            ..Default::default()
        };
        let stage_from_layer = layer.stage_from_space;
        let mut depth_sub = None;
        let (target, sub, kind) = match &layer.kind {
            LayerKind::Projection { views } => {
                let v = views.get(eye)?;
                let t = tans(&v.fov);
                p.shape = t;
                // Depth is used when it covers the same pixels as the colour
                // (same image size and rectangle); otherwise reprojection
                // stays rotational.
                if let (Some(dep), Some(col)) = (&v.depth, &v.image) {
                    let (dc, cc) = (&dep.image.hold.chain.desc, &col.hold.chain.desc);
                    if dep.image.rect == col.rect && (dc.width, dc.height) == (cc.width, cc.height)
                    {
                        p.depth = [dep.min_depth, dep.max_depth, dep.near_z, dep.far_z];
                        depth_sub = Some(&dep.image);
                    }
                }
                (stage_from_layer.mul(&v.pose), v.image.as_ref()?, 0)
            }
            LayerKind::Quad { pose, size, image } => {
                p.shape = [size[0], size[1], 0.0, 0.0];
                (stage_from_layer.mul(pose), image.as_ref()?, 1)
            }
            LayerKind::Cylinder {
                pose,
                radius,
                central_angle,
                aspect_ratio,
                image,
            } => {
                p.shape = [*radius, *central_angle, *aspect_ratio, 0.0];
                (stage_from_layer.mul(pose), image.as_ref()?, 2)
            }
            LayerKind::Cube { orientation, image } => (
                stage_from_layer.mul(&Pose::new(*orientation, glam::Vec3::ZERO)),
                image.as_ref()?,
                4,
            ),
            LayerKind::Equirect {
                pose,
                radius,
                central_horizontal_angle,
                upper_vertical_angle,
                lower_vertical_angle,
                image,
            } => {
                p.shape = [
                    *radius,
                    *central_horizontal_angle,
                    *upper_vertical_angle,
                    *lower_vertical_angle,
                ];
                (stage_from_layer.mul(pose), image.as_ref()?, 3)
            }
        };
        if !layer.eyes.shows(eye) {
            return None;
        }
        p.rows = rows(&target.inverse().mul(stage_from_eye));
        let (iw, ih) = (
            sub.hold.chain.desc.width as f32,
            sub.hold.chain.desc.height as f32,
        );
        let [x, y, w, h] = sub.rect;
        p.rect = [x as f32 / iw, y as f32 / ih, w as f32 / iw, h as f32 / ih];
        // OpenGL images have their origin at the bottom left: row y of the
        // rectangle counts from the bottom, and the picture's top is the
        // rectangle's last row in memory. Cube faces are addressed the same
        // way in both APIs and are not flipped.
        if sub.hold.chain.bottom_left_origin && kind != 4 {
            p.rect[1] = (y + h) as f32 / ih;
            p.rect[3] = -(h as f32) / ih;
        }
        let flags =
            u32::from(layer.blend.source_alpha) | (u32::from(layer.blend.unpremultiplied) << 1);
        let flags = flags | if depth_sub.is_some() { FLAG_DEPTH } else { 0 };
        p.misc = [kind, sub.array_index, flags, 0];
        Some((p, sub, depth_sub))
    }

    fn compose(
        &mut self,
        frame: Option<&Frame>,
        display: Time,
        readback: bool,
    ) -> Result<Timings, VkError> {
        let started = std::time::Instant::now();
        let d = self.gpu.device.clone();
        let d = &d;
        let (w, h) = (self.config.eye_width, self.config.eye_height);
        // SAFETY: the previous composition's fence was waited, so its views
        // and descriptor sets are no longer in use.
        unsafe {
            for v in self.frame_views.drain(..) {
                d.destroy_image_view(v, None);
            }
            d.reset_descriptor_pool(self.frame_pool, vk::DescriptorPoolResetFlags::empty())
                .map_err(call("vkResetDescriptorPool"))?;
        }
        let poses = (self.config.eye_poses)(display);
        let layers: &[Layer] = frame.map(|f| f.layers.as_slice()).unwrap_or_default();
        // Draws: (eye, params, view), and the app images to hand over.
        let mut draws = Vec::new();
        // (image, hand-over layout, layer count, aspect, layout while read)
        let mut images: Vec<(
            vk::Image,
            vk::ImageLayout,
            u32,
            vk::ImageAspectFlags,
            vk::ImageLayout,
        )> = Vec::new();
        // Avatars are drawn after the app's last projection layer (its
        // scene), before the layers it puts over the scene.
        let avatars_after = layers
            .iter()
            .rposition(|l| matches!(l.kind, LayerKind::Projection { .. }))
            .unwrap_or(layers.len().saturating_sub(1));
        if self.avatars_changed {
            self.upload_avatars()?;
            self.avatars_changed = false;
        }
        let mut avatar_draws = std::mem::take(&mut self.avatar_draws);
        match &poses {
            Some(p) => self.avatar_draws(p, &mut avatar_draws),
            None => avatar_draws.clear(),
        }
        if let Some(poses) = poses {
            for (eye, (pose, fov)) in poses.iter().zip(self.config.fov).enumerate() {
                for (li, layer) in layers.iter().enumerate() {
                    let Some(bounds) = Self::screen_bounds(layer, pose, &fov) else {
                        continue;
                    };
                    let scissor = match bounds {
                        None => vk::Rect2D {
                            offset: vk::Offset2D::default(),
                            extent: vk::Extent2D {
                                width: w,
                                height: h,
                            },
                        },
                        Some([x0, y0, x1, y1]) => {
                            // Whole pixels, one pixel of margin for filtering.
                            let px = |v: f32, n: u32| {
                                ((v * n as f32).floor() as i64 - 1).clamp(0, n as i64) as u32
                            };
                            let qx = |v: f32, n: u32| {
                                ((v * n as f32).ceil() as i64 + 1).clamp(0, n as i64) as u32
                            };
                            let (ax, ay, bx, by) = (px(x0, w), px(y0, h), qx(x1, w), qx(y1, h));
                            vk::Rect2D {
                                offset: vk::Offset2D {
                                    x: ax as i32,
                                    y: ay as i32,
                                },
                                extent: vk::Extent2D {
                                    width: bx.saturating_sub(ax),
                                    height: by.saturating_sub(ay),
                                },
                            }
                        }
                    };
                    if scissor.extent.width == 0 || scissor.extent.height == 0 {
                        continue;
                    }
                    let Some((p, sub, depth_sub)) = Self::params(layer, eye, pose, &fov) else {
                        continue;
                    };
                    if draws.len() as u32 >= MAX_DRAWS {
                        break;
                    }
                    let view = self.layer_view(sub, p.misc[0] == 4)?;
                    let chain = &sub.hold.chain;
                    let img = chain.comp_image(sub.hold.index);
                    if !images.iter().any(|e| e.0 == img) {
                        images.push((
                            img,
                            chain.hand_over_layout(),
                            chain.desc.array_size * chain.desc.face_count,
                            vk::ImageAspectFlags::COLOR,
                            vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                        ));
                    }
                    let depth_view = match depth_sub {
                        Some(ds) => {
                            let dc = &ds.hold.chain;
                            let dimg = dc.comp_image(ds.hold.index);
                            if !images.iter().any(|e| e.0 == dimg) {
                                images.push((
                                    dimg,
                                    dc.hand_over_layout(),
                                    dc.desc.array_size,
                                    vk::ImageAspectFlags::DEPTH,
                                    vk::ImageLayout::DEPTH_STENCIL_READ_ONLY_OPTIMAL,
                                ));
                            }
                            Some(self.depth_view(ds)?)
                        }
                        None => None,
                    };
                    draws.push((eye, p, view, scissor, depth_view, li));
                }
            }
        }
        let sets = if draws.is_empty() {
            Vec::new()
        } else {
            let layouts = vec![self.set_layout; draws.len()];
            // SAFETY: the pool was sized for MAX_DRAWS sets.
            unsafe {
                d.allocate_descriptor_sets(
                    &vk::DescriptorSetAllocateInfo::default()
                        .descriptor_pool(self.frame_pool)
                        .set_layouts(&layouts),
                )
            }
            .map_err(call("vkAllocateDescriptorSets"))?
        };
        for (set, (_, _, view, _, depth, _)) in sets.iter().zip(&draws) {
            Self::write_set(
                d,
                *set,
                self.sampler,
                *view,
                vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                *depth,
            );
        }
        // Hand app images to the shaders (`to_read`) or back to the app.
        let hand = |to_read: bool, src, dst| -> Vec<vk::ImageMemoryBarrier> {
            images
                .iter()
                .map(|&(image, layout, layers, aspect, read)| {
                    let (o, n) = if to_read {
                        (layout, read)
                    } else {
                        (read, layout)
                    };
                    super::barrier(
                        image,
                        vk::ImageSubresourceRange {
                            aspect_mask: aspect,
                            base_mip_level: 0,
                            level_count: vk::REMAINING_MIP_LEVELS,
                            base_array_layer: 0,
                            layer_count: layers,
                        },
                        o,
                        n,
                        src,
                        dst,
                    )
                })
                .collect()
        };
        let clear = [
            vk::ClearValue {
                color: vk::ClearColorValue {
                    float32: [0.0, 0.0, 0.0, 1.0],
                },
            },
            // Reversed depth: 0 is infinitely far.
            vk::ClearValue {
                depth_stencil: vk::ClearDepthStencilValue {
                    depth: 0.0,
                    stencil: 0,
                },
            },
        ];
        let panel_clear = [clear[0]];
        // SAFETY: the command buffer and fence are this thread's alone; all
        // images used are alive (ours, or held by the frame).
        unsafe {
            d.reset_command_buffer(self.cb, vk::CommandBufferResetFlags::empty())
                .map_err(call("vkResetCommandBuffer"))?;
            d.begin_command_buffer(
                self.cb,
                &vk::CommandBufferBeginInfo::default()
                    .flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT),
            )
            .map_err(call("vkBeginCommandBuffer"))?;
            if let Some((pool, _)) = self.queries {
                d.cmd_reset_query_pool(self.cb, pool, 0, 3);
                d.cmd_write_timestamp(self.cb, vk::PipelineStageFlags::TOP_OF_PIPE, pool, 0);
            }
            // App images: from the hand-over layout to shader reads.
            let to_read = hand(
                true,
                vk::AccessFlags::MEMORY_WRITE,
                vk::AccessFlags::SHADER_READ,
            );
            if !to_read.is_empty() {
                d.cmd_pipeline_barrier(
                    self.cb,
                    vk::PipelineStageFlags::ALL_COMMANDS,
                    vk::PipelineStageFlags::FRAGMENT_SHADER,
                    vk::DependencyFlags::empty(),
                    &[],
                    &[],
                    &to_read,
                );
            }
            let full = vk::Rect2D {
                offset: vk::Offset2D::default(),
                extent: vk::Extent2D {
                    width: w,
                    height: h,
                },
            };
            let viewport = |x: f32| vk::Viewport {
                x,
                y: 0.0,
                width: w as f32,
                height: h as f32,
                min_depth: 0.0,
                max_depth: 1.0,
            };
            for eye in 0..2 {
                d.cmd_begin_render_pass(
                    self.cb,
                    &vk::RenderPassBeginInfo::default()
                        .render_pass(self.eye_pass)
                        .framebuffer(self.eyes[eye].framebuffer)
                        .render_area(full)
                        .clear_values(&clear),
                    vk::SubpassContents::INLINE,
                );
                d.cmd_bind_pipeline(
                    self.cb,
                    vk::PipelineBindPoint::GRAPHICS,
                    self.layer_pipeline,
                );
                d.cmd_set_viewport(self.cb, 0, &[viewport(0.0)]);
                d.cmd_set_scissor(self.cb, 0, &[full]);
                let mut avatars_drawn = false;
                let mut draw_avatars = |d: &ash::Device| {
                    if avatars_drawn {
                        return;
                    }
                    avatars_drawn = true;
                    let mine: Vec<_> = avatar_draws.iter().filter(|a| a.0 == eye).collect();
                    let Some((vb, _)) = &self.avatar_vertices else {
                        return;
                    };
                    if mine.is_empty() {
                        return;
                    }
                    d.cmd_bind_pipeline(
                        self.cb,
                        vk::PipelineBindPoint::GRAPHICS,
                        self.avatar_pipeline,
                    );
                    d.cmd_set_scissor(self.cb, 0, &[full]);
                    d.cmd_bind_vertex_buffers(self.cb, 0, &[vb.buffer], &[0]);
                    for (_, params, base, first, count, m) in mine {
                        let model = &self.models[*m];
                        d.cmd_bind_index_buffer(
                            self.cb,
                            model.buffer.buffer,
                            0,
                            vk::IndexType::UINT32,
                        );
                        d.cmd_push_constants(
                            self.cb,
                            self.avatar_layout,
                            vk::ShaderStageFlags::VERTEX | vk::ShaderStageFlags::FRAGMENT,
                            0,
                            params.bytes(),
                        );
                        d.cmd_draw_indexed(self.cb, *count, 1, *first, *base, 0);
                    }
                };
                for ((e, p, _, scissor, _, li), set) in draws.iter().zip(&sets) {
                    if *e != eye {
                        continue;
                    }
                    if *li > avatars_after {
                        draw_avatars(d);
                    }
                    let pipeline = if p.misc[0] == 4 {
                        self.cube_pipeline
                    } else if p.misc[2] & FLAG_DEPTH != 0 {
                        self.depth_pipeline
                    } else {
                        self.layer_pipeline
                    };
                    d.cmd_bind_pipeline(self.cb, vk::PipelineBindPoint::GRAPHICS, pipeline);
                    d.cmd_bind_descriptor_sets(
                        self.cb,
                        vk::PipelineBindPoint::GRAPHICS,
                        self.layer_layout,
                        0,
                        &[*set],
                        &[],
                    );
                    d.cmd_push_constants(
                        self.cb,
                        self.layer_layout,
                        vk::ShaderStageFlags::FRAGMENT,
                        0,
                        p.bytes(),
                    );
                    d.cmd_set_scissor(self.cb, 0, &[*scissor]);
                    d.cmd_draw(self.cb, 3, 1, 0, 0);
                }
                draw_avatars(d);
                d.cmd_end_render_pass(self.cb);
            }
            let back = hand(
                false,
                vk::AccessFlags::SHADER_READ,
                vk::AccessFlags::empty(),
            );
            if !back.is_empty() {
                d.cmd_pipeline_barrier(
                    self.cb,
                    vk::PipelineStageFlags::FRAGMENT_SHADER,
                    vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                    vk::DependencyFlags::empty(),
                    &[],
                    &[],
                    &back,
                );
            }
            if let Some((pool, _)) = self.queries {
                d.cmd_write_timestamp(self.cb, vk::PipelineStageFlags::BOTTOM_OF_PIPE, pool, 1);
            }
            // Distortion into the panel, one viewport per eye.
            let panel_area = vk::Rect2D {
                offset: vk::Offset2D::default(),
                extent: vk::Extent2D {
                    width: w * 2,
                    height: h,
                },
            };
            d.cmd_begin_render_pass(
                self.cb,
                &vk::RenderPassBeginInfo::default()
                    .render_pass(self.panel_pass)
                    .framebuffer(self.panel.framebuffer)
                    .render_area(panel_area)
                    .clear_values(&panel_clear),
                vk::SubpassContents::INLINE,
            );
            d.cmd_bind_pipeline(
                self.cb,
                vk::PipelineBindPoint::GRAPHICS,
                self.distort_pipeline,
            );
            d.cmd_set_scissor(self.cb, 0, &[panel_area]);
            d.cmd_bind_vertex_buffers(self.cb, 0, &[self.mesh.buffer], &[0]);
            let vbytes = (MESH_CELLS as u64 + 1) * (MESH_CELLS as u64 + 1) * 32 * 2;
            d.cmd_bind_index_buffer(self.cb, self.mesh.buffer, vbytes, vk::IndexType::UINT32);
            for eye in 0..2 {
                d.cmd_set_viewport(self.cb, 0, &[viewport((eye as u32 * w) as f32)]);
                d.cmd_bind_descriptor_sets(
                    self.cb,
                    vk::PipelineBindPoint::GRAPHICS,
                    self.distort_layout,
                    0,
                    &[self.eye_sets[eye]],
                    &[],
                );
                let t = tans(&self.config.fov[eye]);
                let pc: [f32; 8] = [
                    t[0],
                    t[1],
                    t[2],
                    t[3],
                    self.config.lens.aperture,
                    0.0,
                    0.0,
                    0.0,
                ];
                let bytes: Vec<u8> = pc.iter().flat_map(|f| f.to_le_bytes()).collect();
                d.cmd_push_constants(
                    self.cb,
                    self.distort_layout,
                    vk::ShaderStageFlags::FRAGMENT,
                    0,
                    &bytes,
                );
                d.cmd_draw_indexed(
                    self.cb,
                    self.mesh_index_count,
                    1,
                    self.mesh_index_count * eye as u32,
                    0,
                    0,
                );
            }
            d.cmd_end_render_pass(self.cb);
            if let Some((pool, _)) = self.queries {
                d.cmd_write_timestamp(self.cb, vk::PipelineStageFlags::BOTTOM_OF_PIPE, pool, 2);
            }
            if readback {
                let eye_bytes = w as u64 * h as u64 * 4;
                let to_src: Vec<_> = self
                    .eyes
                    .iter()
                    .map(|e| {
                        super::barrier(
                            e.image,
                            color_range(0, 1),
                            vk::ImageLayout::SHADER_READ_ONLY_OPTIMAL,
                            vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                            vk::AccessFlags::SHADER_READ,
                            vk::AccessFlags::TRANSFER_READ,
                        )
                    })
                    .collect();
                d.cmd_pipeline_barrier(
                    self.cb,
                    vk::PipelineStageFlags::FRAGMENT_SHADER,
                    vk::PipelineStageFlags::TRANSFER,
                    vk::DependencyFlags::empty(),
                    &[],
                    &[],
                    &to_src,
                );
                let copy = |offset: u64, width: u32| vk::BufferImageCopy {
                    buffer_offset: offset,
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
                        width,
                        height: h,
                        depth: 1,
                    },
                };
                for (i, e) in self.eyes.iter().enumerate() {
                    d.cmd_copy_image_to_buffer(
                        self.cb,
                        e.image,
                        vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                        self.readback.buffer,
                        &[copy(eye_bytes * i as u64, w)],
                    );
                }
                d.cmd_copy_image_to_buffer(
                    self.cb,
                    self.panel.image,
                    vk::ImageLayout::TRANSFER_SRC_OPTIMAL,
                    self.readback.buffer,
                    &[copy(eye_bytes * 2, w * 2)],
                );
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
        self.avatar_draws = avatar_draws;
        let mut t = Timings {
            total_ms: started.elapsed().as_secs_f64() * 1e3,
            ..Default::default()
        };
        if let Some((pool, period)) = self.queries {
            let mut ts = [0u64; 3];
            // SAFETY: the three queries were written by the submission just
            // waited for.
            if unsafe { d.get_query_pool_results(pool, 0, &mut ts, vk::QueryResultFlags::TYPE_64) }
                .is_ok()
            {
                t.layer_ms = Some(ts[1].wrapping_sub(ts[0]) as f64 * period * 1e-6);
                t.distortion_ms = Some(ts[2].wrapping_sub(ts[1]) as f64 * period * 1e-6);
            }
        }
        Ok(t)
    }

    /// The eyes and the panel as read back by the last composition.
    fn read_back(&self) -> Result<Vec<u8>, VkError> {
        let eye_bytes = (self.config.eye_width * self.config.eye_height * 4) as usize;
        // SAFETY: host-visible, coherent memory of the size mapped; the copy
        // into it completed (fence waited in compose).
        unsafe {
            let p = self
                .gpu
                .device
                .map_memory(
                    self.readback.memory,
                    0,
                    (eye_bytes * 4) as u64,
                    vk::MemoryMapFlags::empty(),
                )
                .map_err(call("vkMapMemory"))?;
            let v = std::slice::from_raw_parts(p as *const u8, eye_bytes * 4).to_vec();
            self.gpu.device.unmap_memory(self.readback.memory);
            Ok(v)
        }
    }

    fn write_capture(&self, c: &Capture, number: u64) -> Result<(), VkError> {
        let (w, h) = (self.config.eye_width, self.config.eye_height);
        let eye_bytes = (w * h * 4) as usize;
        std::fs::create_dir_all(&c.dir)
            .map_err(|e| VkError::Unsupported(format!("cannot create {}: {e}", c.dir.display())))?;
        let bytes = self.read_back()?;
        let files = [
            (
                format!("frame-{number:05}-eye0.png"),
                w,
                &bytes[..eye_bytes],
            ),
            (
                format!("frame-{number:05}-eye1.png"),
                w,
                &bytes[eye_bytes..eye_bytes * 2],
            ),
            (
                format!("frame-{number:05}-panel.png"),
                w * 2,
                &bytes[eye_bytes * 2..],
            ),
        ];
        for (name, width, data) in files {
            write_png(&c.dir.join(name), width, h, data)?;
        }
        Ok(())
    }
}

/// Writes 8-bit sRGB RGBA pixels as PNG.
pub fn write_png(path: &std::path::Path, w: u32, h: u32, rgba: &[u8]) -> Result<(), VkError> {
    let file = std::fs::File::create(path)
        .map_err(|e| VkError::Unsupported(format!("cannot write {}: {e}", path.display())))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_source_srgb(png::SrgbRenderingIntent::Perceptual);
    let mut writer = enc
        .write_header()
        .map_err(|e| VkError::Unsupported(format!("png: {e}")))?;
    writer
        .write_image_data(rgba)
        .map_err(|e| VkError::Unsupported(format!("png: {e}")))?;
    tracing::info!(path = %path.display(), "captured");
    Ok(())
}

fn color_range(base: u32, count: u32) -> vk::ImageSubresourceRange {
    vk::ImageSubresourceRange {
        aspect_mask: vk::ImageAspectFlags::COLOR,
        base_mip_level: 0,
        level_count: vk::REMAINING_MIP_LEVELS,
        base_array_layer: base,
        layer_count: count,
    }
}

impl Drop for Renderer {
    fn drop(&mut self) {
        let d = &self.gpu.device;
        // SAFETY: the thread that used these objects has finished; the last
        // submission was waited for.
        unsafe {
            let _ = d.queue_wait_idle(self.gpu.queue);
            for v in self.frame_views.drain(..) {
                d.destroy_image_view(v, None);
            }
            for b in [&self.readback, &self.mesh] {
                d.destroy_buffer(b.buffer, None);
                d.free_memory(b.memory, None);
            }
            for t in self.eyes.iter().chain(std::iter::once(&self.panel)) {
                d.destroy_framebuffer(t.framebuffer, None);
                d.destroy_image_view(t.view, None);
                d.destroy_image(t.image, None);
                d.free_memory(t.memory, None);
                if let Some((image, memory, view)) = t.depth {
                    d.destroy_image_view(view, None);
                    d.destroy_image(image, None);
                    d.free_memory(memory, None);
                }
            }
            for b in self
                .models
                .iter()
                .map(|m| &m.buffer)
                .chain(self.avatar_vertices.as_ref().map(|v| &v.0))
            {
                d.destroy_buffer(b.buffer, None);
                d.free_memory(b.memory, None);
            }
            d.destroy_pipeline(self.avatar_pipeline, None);
            d.destroy_pipeline_layout(self.avatar_layout, None);
            d.destroy_descriptor_pool(self.frame_pool, None);
            d.destroy_descriptor_pool(self.static_pool, None);
            d.destroy_pipeline(self.layer_pipeline, None);
            d.destroy_pipeline(self.cube_pipeline, None);
            d.destroy_pipeline(self.depth_pipeline, None);
            d.destroy_pipeline(self.distort_pipeline, None);
            d.destroy_render_pass(self.eye_pass, None);
            d.destroy_render_pass(self.panel_pass, None);
            d.destroy_pipeline_layout(self.layer_layout, None);
            d.destroy_pipeline_layout(self.distort_layout, None);
            d.destroy_descriptor_set_layout(self.set_layout, None);
            d.destroy_sampler(self.sampler, None);
            if let Some((pool, _)) = self.queries {
                d.destroy_query_pool(pool, None);
            }
            d.destroy_fence(self.fence, None);
            d.destroy_command_pool(self.pool, None);
        }
    }
}

/// The compositor's drawing without its thread: composes on demand (for
/// benchmarks and tests that drive time themselves).
pub struct OfflineCompositor {
    renderer: Renderer,
}

impl OfflineCompositor {
    pub fn new(gpu: Arc<Gpu>, config: TargetConfig) -> Result<Self, VkError> {
        Ok(Self {
            renderer: Renderer::new(gpu, config)?,
        })
    }

    /// The avatars drawn by the next compositions.
    pub fn set_avatars(&mut self, avatars: Vec<AvatarInstance>) {
        self.renderer.avatars = avatars;
        self.renderer.avatars_changed = true;
    }

    /// Composes one frame for display at `display`; with `capture`, also
    /// writes the eyes and the panel as PNG under that frame number.
    pub fn compose(
        &mut self,
        frame: Option<&Frame>,
        display: Time,
        capture: Option<(&Capture, u64)>,
    ) -> Result<Timings, VkError> {
        let t = self.renderer.compose(frame, display, capture.is_some())?;
        if let Some((c, n)) = capture {
            self.renderer.write_capture(c, n)?;
        }
        Ok(t)
    }

    /// Composes one frame and returns the pixels (8-bit sRGB RGBA, rows top
    /// to bottom) of both eyes before distortion and of the panel after.
    pub fn compose_and_read(
        &mut self,
        frame: Option<&Frame>,
        display: Time,
    ) -> Result<Images, VkError> {
        self.renderer.compose(frame, display, true)?;
        let bytes = self.renderer.read_back()?;
        let eye = (self.renderer.config.eye_width * self.renderer.config.eye_height * 4) as usize;
        Ok(Images {
            eyes: [bytes[..eye].to_vec(), bytes[eye..2 * eye].to_vec()],
            panel: bytes[2 * eye..].to_vec(),
        })
    }
}

/// What one composition showed.
pub struct Images {
    pub eyes: [Vec<u8>; 2],
    pub panel: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_centre_is_undistorted_and_channels_spread_outward() {
        let fov = Fov::from_degrees(-45.0, 45.0, 45.0, -45.0);
        let lens = LensModel {
            red: [0.20, 0.0, 0.0],
            green: [0.22, 0.0, 0.0],
            blue: [0.24, 0.0, 0.0],
            aperture: 0.0,
        };
        let (v, i) = distortion_mesh(&fov, &lens, 2);
        assert_eq!(v.len(), 9);
        assert_eq!(i.len(), 2 * 2 * 6);
        // Centre vertex: all channels read the centre of the eye image.
        let c = v[4];
        for k in [2, 4, 6] {
            assert!((c[k] - 0.5).abs() < 1e-6 && (c[k + 1] - 0.5).abs() < 1e-6);
        }
        // Right-edge middle vertex: green reaches the edge exactly; blue
        // (stronger) reads further out than red.
        let e = v[5];
        assert!((e[4] - 1.0).abs() < 1e-5, "{e:?}");
        assert!(e[6] > e[4] && e[4] > e[2]);
    }
}
