//! `XrSwapchain`: images shared with the compositor, and the
//! acquire / wait / release protocol with the spec's ordering errors.

use crate::error::{Error, Result};
use crate::handles::{self, Kind, Raw};
use crate::session::Session;
use openxr_sys as xr;
use parallax_compositor::gl::{self, GlContext, Texture, TextureDesc};
use parallax_compositor::vk::swapchain::{self as vks, SharedSwapchain, SwapchainDesc};
use parallax_compositor::SubImage;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;

/// Images per swapchain (one for static swapchains).
pub const IMAGE_COUNT: u32 = 3;
/// Largest image side offered.
pub const MAX_SIZE: u32 = 8192;

/// What the app asked for, in OpenXR terms.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SwapchainCreate {
    pub create_flags: xr::SwapchainCreateFlags,
    pub usage: xr::SwapchainUsageFlags,
    pub format: i64,
    pub sample_count: u32,
    pub width: u32,
    pub height: u32,
    pub face_count: u32,
    pub array_size: u32,
    pub mip_count: u32,
}

#[derive(Debug, Default)]
struct State {
    /// Acquired, in acquisition order, not yet waited.
    acquired: VecDeque<u32>,
    /// Waited and not yet released.
    waited: Option<u32>,
    /// Acquired or waited, not released, in order (for the count check).
    outstanding: u32,
    next: u32,
    /// The last image released (what a layer shows).
    last_released: Option<u32>,
    /// Static swapchains may be acquired once.
    acquired_ever: bool,
}

/// The OpenGL textures of a swapchain in an OpenGL session.
struct GlImages {
    context: Arc<GlContext>,
    /// `None` once deleted.
    textures: Mutex<Option<Vec<Texture>>>,
}

/// An `XrSwapchain`.
pub struct Swapchain {
    pub session: Arc<Session>,
    pub shared: Arc<SharedSwapchain>,
    pub create: SwapchainCreate,
    gl: Option<GlImages>,
    state: Mutex<State>,
}

/// Formats this session's swapchains may use, best first: `VkFormat`
/// values in a Vulkan session, GL internal formats in an OpenGL one.
pub fn formats(session: &Session) -> Vec<i64> {
    let Some(compositor) = session.graphics.compositor() else {
        return Vec::new();
    };
    let vk = compositor.formats();
    if session.graphics.gl().is_some() {
        vk.into_iter()
            .filter_map(|f| gl::gl_format(parallax_compositor::vk::format_from_raw(f)))
            .map(i64::from)
            .collect()
    } else {
        vk
    }
}

/// Deletes the OpenGL textures of the swapchains among destroyed handles
/// (from xrDestroySwapchain and xrDestroySession, where the spec lets the
/// runtime use the app's context).
pub fn release_removed(removed: &[handles::Removed]) {
    for (kind, _, object) in removed {
        if *kind == Kind::Swapchain {
            if let Ok(chain) = object.clone().downcast::<Swapchain>() {
                chain.delete_gl();
            }
        }
    }
}

/// `xrDestroySwapchain`.
pub fn destroy(raw: Raw) -> Result<()> {
    let removed = handles::remove(Kind::Swapchain, raw)?;
    release_removed(&removed);
    Ok(())
}

fn vk_usage(u: xr::SwapchainUsageFlags) -> ash_usage::Flags {
    let mut v = ash_usage::Flags::empty();
    let map = [
        (
            xr::SwapchainUsageFlags::COLOR_ATTACHMENT,
            ash_usage::Flags::COLOR_ATTACHMENT,
        ),
        (
            xr::SwapchainUsageFlags::DEPTH_STENCIL_ATTACHMENT,
            ash_usage::Flags::DEPTH_STENCIL_ATTACHMENT,
        ),
        (
            xr::SwapchainUsageFlags::UNORDERED_ACCESS,
            ash_usage::Flags::STORAGE,
        ),
        (
            xr::SwapchainUsageFlags::TRANSFER_SRC,
            ash_usage::Flags::TRANSFER_SRC,
        ),
        (
            xr::SwapchainUsageFlags::TRANSFER_DST,
            ash_usage::Flags::TRANSFER_DST,
        ),
        (xr::SwapchainUsageFlags::SAMPLED, ash_usage::Flags::SAMPLED),
        (
            xr::SwapchainUsageFlags::INPUT_ATTACHMENT,
            ash_usage::Flags::INPUT_ATTACHMENT,
        ),
    ];
    for (x, f) in map {
        if u.contains(x) {
            v |= f;
        }
    }
    v
}

/// The Vulkan usage flags type, re-exported by the compositor.
mod ash_usage {
    pub type Flags = parallax_compositor::vk::ImageUsage;
}

/// `xrCreateSwapchain`.
pub fn create(session: &Arc<Session>, c: SwapchainCreate) -> Result<Raw> {
    let Some(compositor) = session.graphics.compositor() else {
        return Err(Error::swapchain_format_unsupported(format!(
            "format {} cannot be used: a headless session has no graphics and no swapchain formats",
            c.format
        )));
    };
    let known_flags =
        xr::SwapchainCreateFlags::PROTECTED_CONTENT | xr::SwapchainCreateFlags::STATIC_IMAGE;
    if !known_flags.contains(c.create_flags) {
        return Err(Error::validation("createFlags has unknown bits"));
    }
    if c.create_flags
        .contains(xr::SwapchainCreateFlags::PROTECTED_CONTENT)
    {
        return Err(Error::feature_unsupported(
            "protected-content swapchains are not supported",
        ));
    }
    if !formats(session).contains(&c.format) {
        return Err(Error::swapchain_format_unsupported(format!(
            "format {} is not offered",
            c.format
        )));
    }
    if c.width == 0 || c.height == 0 || c.array_size == 0 || c.mip_count == 0 {
        return Err(Error::validation(
            "width, height, arraySize and mipCount must be at least 1",
        ));
    }
    if c.width > MAX_SIZE || c.height > MAX_SIZE {
        return Err(Error::validation(format!(
            "images are at most {MAX_SIZE}x{MAX_SIZE}"
        )));
    }
    let max_mips = 32 - c.width.max(c.height).leading_zeros();
    if c.mip_count > max_mips {
        return Err(Error::validation(format!(
            "mipCount {} > {max_mips} for {}x{}",
            c.mip_count, c.width, c.height
        )));
    }
    if c.face_count != 1 && c.face_count != 6 {
        return Err(Error::validation("faceCount must be 1 or 6"));
    }
    if c.face_count == 6 && c.width != c.height {
        return Err(Error::validation("cube swapchains must be square"));
    }
    let max_samples = vks::max_samples(&compositor.gpu);
    if c.sample_count == 0 || !c.sample_count.is_power_of_two() || c.sample_count > max_samples {
        return Err(Error::feature_unsupported(format!(
            "sampleCount {} (this device supports up to {max_samples})",
            c.sample_count
        )));
    }
    let context = session.graphics.gl();
    let vk_format = match context {
        Some(_) => gl::vk_format(c.format).expect("offered GL formats have a Vulkan twin"),
        None => parallax_compositor::vk::format_from_raw(c.format),
    };
    let depth = vks::is_depth(vk_format);
    if depth && c.usage.contains(xr::SwapchainUsageFlags::COLOR_ATTACHMENT) {
        return Err(Error::feature_unsupported(
            "a depth format cannot be a colour attachment",
        ));
    }
    if !depth
        && c.usage
            .contains(xr::SwapchainUsageFlags::DEPTH_STENCIL_ATTACHMENT)
    {
        return Err(Error::feature_unsupported(
            "a colour format cannot be a depth attachment",
        ));
    }
    let is_static = c
        .create_flags
        .contains(xr::SwapchainCreateFlags::STATIC_IMAGE);
    let desc = SwapchainDesc {
        format: vk_format,
        usage: vk_usage(c.usage),
        mutable_format: c.usage.contains(xr::SwapchainUsageFlags::MUTABLE_FORMAT),
        width: c.width,
        height: c.height,
        array_size: c.array_size,
        mip_count: c.mip_count,
        face_count: c.face_count,
        sample_count: c.sample_count,
        // An OpenGL frame is taken by the compositor only once a later call
        // of the app has seen its GL fence signal (see parallax_compositor::
        // gl), up to a period after a Vulkan frame would be: one image more
        // keeps the app from waiting for images the compositor still holds.
        image_count: match (is_static, context.is_some()) {
            (true, _) => 1,
            (false, true) => IMAGE_COUNT + 1,
            (false, false) => IMAGE_COUNT,
        },
    };
    let shared = SharedSwapchain::new(compositor.gpu.clone(), compositor.app.clone(), desc)
        .map_err(|e| Error::runtime_failure(format!("cannot allocate swapchain images: {e}")))?;
    let gl = match context {
        Some(context) => {
            let memories = shared
                .export_memory()
                .map_err(|e| Error::runtime_failure(format!("cannot export image memory: {e}")))?;
            let textures = context
                .import(
                    memories,
                    &TextureDesc {
                        internal_format: c.format as u32,
                        width: c.width,
                        height: c.height,
                        array_size: c.array_size,
                        face_count: c.face_count,
                        mip_count: c.mip_count,
                        sample_count: c.sample_count,
                    },
                )
                .map_err(|e| {
                    Error::runtime_failure(format!("cannot import the images into OpenGL: {e}"))
                })?;
            Some(GlImages {
                context: context.clone(),
                textures: Mutex::new(Some(textures)),
            })
        }
        None => None,
    };
    let chain = Arc::new(Swapchain {
        session: session.clone(),
        shared,
        create: c,
        gl,
        state: Mutex::new(State::default()),
    });
    Ok(handles::insert(Kind::Swapchain, session.handle(), chain))
}

impl Swapchain {
    pub fn image_count(&self) -> u32 {
        self.shared.desc.image_count
    }

    /// The app's images: `VkImage` handles, or OpenGL texture names.
    pub fn images(&self) -> Vec<u64> {
        match &self.gl {
            Some(g) => g
                .textures
                .lock()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|t| u64::from(t.name))
                .collect(),
            None => self.shared.app_images(),
        }
    }

    /// Whether the images are OpenGL textures.
    pub fn is_opengl(&self) -> bool {
        self.gl.is_some()
    }

    /// The texture target of OpenGL images (`GL_TEXTURE_2D` ...).
    pub fn gl_target(&self) -> u32 {
        gl::target(
            self.create.array_size,
            self.create.face_count,
            self.create.sample_count,
        )
    }

    fn delete_gl(&self) {
        let Some(g) = &self.gl else { return };
        if let Some(textures) = g.textures.lock().take() {
            if let Err(e) = g.context.delete(&textures) {
                tracing::warn!("cannot delete the swapchain's GL textures: {e}");
            }
        }
    }

    fn is_static(&self) -> bool {
        self.create
            .create_flags
            .contains(xr::SwapchainCreateFlags::STATIC_IMAGE)
    }

    /// `xrAcquireSwapchainImage`.
    pub fn acquire(&self) -> Result<u32> {
        if let Some(g) = &self.gl {
            g.context.poll(); // the swapchain calls may use the context
        }
        let mut s = self.state.lock();
        if self.is_static() && s.acquired_ever {
            return Err(Error::call_order_invalid(
                "a static swapchain can be acquired only once",
            ));
        }
        if s.outstanding >= self.image_count() {
            return Err(Error::call_order_invalid("every image is already acquired"));
        }
        let i = s.next;
        s.next = (s.next + 1) % self.image_count();
        s.acquired.push_back(i);
        s.outstanding += 1;
        s.acquired_ever = true;
        Ok(i)
    }

    /// `xrWaitSwapchainImage`: `Ok(false)` is `XR_TIMEOUT_EXPIRED`.
    pub fn wait(&self, timeout_ns: i64) -> Result<bool> {
        let i = {
            let s = self.state.lock();
            if s.waited.is_some() {
                return Err(Error::call_order_invalid(
                    "an image is already waited and not released",
                ));
            }
            *s.acquired
                .front()
                .ok_or_else(|| Error::call_order_invalid("no acquired image to wait for"))?
        };
        let timeout = std::time::Duration::from_nanos(timeout_ns.max(0) as u64);
        let free = match &self.gl {
            None => self.shared.wait_free(i, timeout),
            // A pending frame's flag rises only when the app's context is
            // polled: poll while waiting, in slices.
            Some(g) => {
                let start = std::time::Instant::now();
                loop {
                    g.context.poll();
                    let left = timeout.saturating_sub(start.elapsed());
                    let slice = left.min(std::time::Duration::from_millis(2));
                    if self.shared.wait_free(i, slice) {
                        break true;
                    }
                    if start.elapsed() >= timeout {
                        break false;
                    }
                }
            }
        };
        if !free {
            return Ok(false);
        }
        let mut s = self.state.lock();
        s.acquired.pop_front();
        s.waited = Some(i);
        Ok(true)
    }

    /// `xrReleaseSwapchainImage`.
    pub fn release(&self) -> Result<()> {
        let mut s = self.state.lock();
        if s.waited.is_none() {
            return Err(Error::call_order_invalid("no waited image to release"));
        }
        if let Some(g) = &self.gl {
            // Without shared semaphores: a fence after the image's rendering,
            // waited for at xrEndFrame before the compositor may read it.
            g.context
                .fence_released()
                .map_err(|e| Error::runtime_failure(format!("fencing the app's GL work: {e}")))?;
        }
        let i = s.waited.take().expect("checked above");
        s.outstanding -= 1;
        s.last_released = Some(i);
        Ok(())
    }

    /// Whether the images have a depth format.
    pub fn is_depth(&self) -> bool {
        vks::is_depth(self.shared.desc.format)
    }

    /// The released image a cube layer shows.
    pub fn cube_image(self: &Arc<Self>, array_index: u32) -> Result<SubImage> {
        if self.create.face_count != 6 {
            return Err(Error::validation(
                "a cube layer's swapchain must have faceCount 6",
            ));
        }
        let side = self.create.width as i32;
        self.sub_image([0, 0, side, side], array_index)
    }

    /// The released image a layer shows, checked against the sub-image.
    pub fn sub_image(self: &Arc<Self>, rect: [i32; 4], array_index: u32) -> Result<SubImage> {
        let i =
            self.state.lock().last_released.ok_or_else(|| {
                Error::layer_invalid("the layer's swapchain has no released image")
            })?;
        let [x, y, w, h] = rect;
        if x < 0
            || y < 0
            || w <= 0
            || h <= 0
            || (x + w) as u32 > self.create.width
            || (y + h) as u32 > self.create.height
        {
            return Err(Error::swapchain_rect_invalid(format!(
                "imageRect {rect:?} is not inside the {}x{} image",
                self.create.width, self.create.height
            )));
        }
        if array_index >= self.create.array_size {
            return Err(Error::validation(format!(
                "imageArrayIndex {array_index} >= arraySize {}",
                self.create.array_size
            )));
        }
        Ok(SubImage {
            hold: self.shared.hold(i),
            rect,
            array_index,
        })
    }
}

impl Drop for Swapchain {
    fn drop(&mut self) {
        if let Some(g) = &self.gl {
            if g.textures.lock().is_some() {
                // Destroyed with its instance: the spec gives the runtime no
                // access to the context there; the app's context owns them.
                tracing::debug!("swapchain GL textures left to the app's context");
            }
        }
    }
}
