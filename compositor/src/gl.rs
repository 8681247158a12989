//! All OpenGL code of Parallax: the app's GL context, reached through its
//! graphics binding (GLX for `XR_KHR_opengl_enable` on Xlib, EGL for
//! `XR_MNDX_egl_enable`), and swapchain images imported into it.
//!
//! The compositor allocates every swapchain image on its own Vulkan device
//! with exportable memory ([`crate::vk::swapchain`]); here that memory is
//! imported into the app's context with `GL_EXT_memory_object_fd` and a
//! texture is given immutable storage in it, so GL and the compositor see
//! the same bytes without a copy.
//!
//! Synchronisation: Mesa's llvmpipe offers `GL_EXT_memory_object_fd` but
//! not `GL_EXT_semaphore_fd`, so the hand-over is a GL fence, which only
//! the app's context can query. `xrReleaseSwapchainImage` inserts one after
//! the app's commands and flushes, without waiting
//! ([`GlContext::fence_released`]); `xrEndFrame` gives the frame the newest
//! fence (GL runs one context's commands in order, so it covers every
//! release before it) as a [`crate::FrameFence::Flag`] that the compositor
//! reads ([`GlContext::end_frame`]). `xrEndFrame` waits for that fence
//! only until the compositor takes frames for the frame's display time (a
//! frame that finishes in time is shown in time; a late one does not hold
//! the app up further). Every later call that may use the context polls the
//! fences and raises the flags of finished ones ([`GlContext::poll`]), and
//! an `xrEndFrame` first waits for the frames ended before it, so at most
//! one frame's GL work is in flight. The compositor's reads end before
//! `xrWaitSwapchainImage` returns the image again.
//!
//! Contexts: OpenXR lets the runtime use the app's context only inside a
//! few calls (xrCreateSession, xrDestroySession, xrBeginFrame, xrEndFrame,
//! the swapchain calls), and there the context may or may not be current on
//! the calling thread. [`GlContext::with_current`] makes it current if it
//! is not, and restores what was current afterwards.
//!
//! Why hand-written entry points: only about twenty functions are used
//! (texture storage from memory objects, a few queries, fences); a
//! generated binding of all of GL would be thousands of lines for that.
#![allow(unsafe_code)]

use ash::vk;
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::os::fd::{IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// An app's graphics binding, vouched for: only the thunk of
/// `xrCreateSession` makes one, from the handles the app passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    platform: Platform,
}

impl Binding {
    /// # Safety
    /// The handles of `platform` must be the live display and context (and
    /// for EGL, `eglGetProcAddress`) the app created, and the context not
    /// current on another thread while [`GlContext::open`] runs or, later,
    /// while the OpenXR calls that may use it run (the spec's contract).
    pub unsafe fn new(platform: Platform) -> Binding {
        Binding { platform }
    }

    pub fn platform(&self) -> Platform {
        self.platform
    }
}

/// What can go wrong talking to the app's GL context.
#[derive(Debug, thiserror::Error)]
pub enum GlError {
    #[error("cannot load {0}: {1}")]
    Library(&'static str, String),
    #[error("the GL entry point {0} is missing")]
    Missing(&'static str),
    #[error("the app's GL context cannot be made current on this thread")]
    MakeCurrent,
    #[error("the app's GL context lacks {0}")]
    Unsupported(String),
    #[error("{call} failed with GL error 0x{code:04x}")]
    Call { call: &'static str, code: u32 },
    #[error("the app's GL commands did not complete within {0} s")]
    Timeout(u64),
}

/// The app's context, as its graphics binding names it. Handles are kept
/// as integers: they are only ever used on the app's threads, inside the
/// OpenXR calls the spec allows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Platform {
    /// `XrGraphicsBindingOpenGLXlibKHR`.
    Glx {
        display: usize,
        drawable: u64,
        context: usize,
    },
    /// `XrGraphicsBindingEGLMNDX` (`get_proc_address` is the app's
    /// `eglGetProcAddress`).
    Egl {
        get_proc_address: usize,
        display: usize,
        context: usize,
    },
}

// GL enums (from the GL registry).
const GL_NO_ERROR: u32 = 0;
const GL_SYNC_GPU_COMMANDS_COMPLETE: u32 = 0x9117;
const GL_SYNC_FLUSH_COMMANDS_BIT: u32 = 0x0000_0001;
const GL_ALREADY_SIGNALED: u32 = 0x911A;
const GL_TIMEOUT_EXPIRED: u32 = 0x911B;
const GL_CONDITION_SATISFIED: u32 = 0x911C;
const GL_WAIT_FAILED: u32 = 0x911D;
const GL_EXTENSIONS: u32 = 0x1F03;
const GL_RENDERER: u32 = 0x1F01;
const GL_NUM_EXTENSIONS: u32 = 0x821D;
const GL_MAJOR_VERSION: u32 = 0x821B;
const GL_MINOR_VERSION: u32 = 0x821C;
const GL_TEXTURE_2D: u32 = 0x0DE1;
const GL_TEXTURE_2D_ARRAY: u32 = 0x8C1A;
const GL_TEXTURE_CUBE_MAP: u32 = 0x8513;
const GL_TEXTURE_CUBE_MAP_ARRAY: u32 = 0x9009;
const GL_TEXTURE_2D_MULTISAMPLE: u32 = 0x9100;
const GL_TEXTURE_2D_MULTISAMPLE_ARRAY: u32 = 0x9102;
const GL_TEXTURE_BINDING_2D: u32 = 0x8069;
const GL_TEXTURE_BINDING_2D_ARRAY: u32 = 0x8C1D;
const GL_TEXTURE_BINDING_CUBE_MAP: u32 = 0x8514;
const GL_TEXTURE_BINDING_CUBE_MAP_ARRAY: u32 = 0x900A;
const GL_TEXTURE_BINDING_2D_MULTISAMPLE: u32 = 0x9104;
const GL_TEXTURE_BINDING_2D_MULTISAMPLE_ARRAY: u32 = 0x9105;
const GL_TEXTURE_TILING_EXT: u32 = 0x9580;
const GL_OPTIMAL_TILING_EXT: c_int = 0x9584;
const GL_DEDICATED_MEMORY_OBJECT_EXT: u32 = 0x9581;
const GL_HANDLE_TYPE_OPAQUE_FD_EXT: u32 = 0x9586;
const GL_DEVICE_UUID_EXT: u32 = 0x9597;
const GL_DRIVER_UUID_EXT: u32 = 0x9598;
const GL_TRUE: u8 = 1;

// EGL and GLX values.
const EGL_DRAW: c_int = 0x3059;
const EGL_READ: c_int = 0x305A;

/// Swapchain formats: GL sized internal format and the Vulkan format of the
/// same bytes. BGRA orders have no GL internal format and are not offered.
const FORMATS: &[(u32, vk::Format)] = &[
    (0x8C43, vk::Format::R8G8B8A8_SRGB),            // GL_SRGB8_ALPHA8
    (0x8058, vk::Format::R8G8B8A8_UNORM),           // GL_RGBA8
    (0x881A, vk::Format::R16G16B16A16_SFLOAT),      // GL_RGBA16F
    (0x8059, vk::Format::A2B10G10R10_UNORM_PACK32), // GL_RGB10_A2
    (0x8CAC, vk::Format::D32_SFLOAT),               // GL_DEPTH_COMPONENT32F
    (0x88F0, vk::Format::D24_UNORM_S8_UINT),        // GL_DEPTH24_STENCIL8
    (0x81A5, vk::Format::D16_UNORM),                // GL_DEPTH_COMPONENT16
    (0x8CAD, vk::Format::D32_SFLOAT_S8_UINT),       // GL_DEPTH32F_STENCIL8
];

/// The Vulkan format holding a GL internal format's texels.
pub fn vk_format(gl: i64) -> Option<vk::Format> {
    FORMATS
        .iter()
        .find(|(g, _)| i64::from(*g) == gl)
        .map(|(_, v)| *v)
}

/// The GL internal format of a Vulkan format, where GL has one.
pub fn gl_format(f: vk::Format) -> Option<u32> {
    FORMATS.iter().find(|(_, v)| *v == f).map(|(g, _)| *g)
}

/// The texture target of a swapchain's images (the OpenXR convention:
/// arrays only for more than one layer).
pub fn target(array_size: u32, face_count: u32, sample_count: u32) -> u32 {
    match (face_count == 6, array_size > 1, sample_count > 1) {
        (true, false, _) => GL_TEXTURE_CUBE_MAP,
        (true, true, _) => GL_TEXTURE_CUBE_MAP_ARRAY,
        (false, false, false) => GL_TEXTURE_2D,
        (false, true, false) => GL_TEXTURE_2D_ARRAY,
        (false, false, true) => GL_TEXTURE_2D_MULTISAMPLE,
        (false, true, true) => GL_TEXTURE_2D_MULTISAMPLE_ARRAY,
    }
}

fn binding_query(target: u32) -> u32 {
    match target {
        GL_TEXTURE_CUBE_MAP => GL_TEXTURE_BINDING_CUBE_MAP,
        GL_TEXTURE_CUBE_MAP_ARRAY => GL_TEXTURE_BINDING_CUBE_MAP_ARRAY,
        GL_TEXTURE_2D_ARRAY => GL_TEXTURE_BINDING_2D_ARRAY,
        GL_TEXTURE_2D_MULTISAMPLE => GL_TEXTURE_BINDING_2D_MULTISAMPLE,
        GL_TEXTURE_2D_MULTISAMPLE_ARRAY => GL_TEXTURE_BINDING_2D_MULTISAMPLE_ARRAY,
        _ => GL_TEXTURE_BINDING_2D,
    }
}

/// The shape of a swapchain's textures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TextureDesc {
    pub internal_format: u32,
    pub width: u32,
    pub height: u32,
    pub array_size: u32,
    pub face_count: u32,
    pub mip_count: u32,
    pub sample_count: u32,
}

/// One imported image: the app's texture name and the memory object under it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Texture {
    pub name: u32,
    memory: u32,
}

type GetProc = unsafe extern "C" fn(*const c_char) -> *const c_void;

/// Entry points, resolved once per context.
struct Fns {
    get_error: unsafe extern "system" fn() -> u32,
    get_string: unsafe extern "system" fn(u32) -> *const u8,
    get_stringi: Option<unsafe extern "system" fn(u32, u32) -> *const u8>,
    get_integerv: unsafe extern "system" fn(u32, *mut c_int),
    flush: unsafe extern "system" fn(),
    finish: unsafe extern "system" fn(),
    fence_sync: unsafe extern "system" fn(u32, u32) -> *mut c_void,
    client_wait_sync: unsafe extern "system" fn(*mut c_void, u32, u64) -> u32,
    delete_sync: unsafe extern "system" fn(*mut c_void),
    gen_textures: unsafe extern "system" fn(c_int, *mut u32),
    delete_textures: unsafe extern "system" fn(c_int, *const u32),
    bind_texture: unsafe extern "system" fn(u32, u32),
    tex_parameteri: unsafe extern "system" fn(u32, u32, c_int),
    get_unsigned_bytev: unsafe extern "system" fn(u32, *mut u8),
    create_memory_objects: unsafe extern "system" fn(c_int, *mut u32),
    delete_memory_objects: unsafe extern "system" fn(c_int, *const u32),
    memory_object_parameteriv: unsafe extern "system" fn(u32, u32, *const c_int),
    import_memory_fd: unsafe extern "system" fn(u32, u64, u32, c_int),
    tex_storage_mem_2d: unsafe extern "system" fn(u32, c_int, u32, c_int, c_int, u32, u64),
    tex_storage_mem_3d: unsafe extern "system" fn(u32, c_int, u32, c_int, c_int, c_int, u32, u64),
    tex_storage_mem_2d_ms: unsafe extern "system" fn(u32, c_int, u32, c_int, c_int, u8, u32, u64),
    tex_storage_mem_3d_ms:
        unsafe extern "system" fn(u32, c_int, u32, c_int, c_int, c_int, u8, u32, u64),
}

/// The window-system calls that find and switch the current context.
enum Ws {
    Glx {
        get_current_context: unsafe extern "C" fn() -> *mut c_void,
        get_current_display: unsafe extern "C" fn() -> *mut c_void,
        get_current_drawable: unsafe extern "C" fn() -> u64,
        get_current_read_drawable: unsafe extern "C" fn() -> u64,
        make_context_current: unsafe extern "C" fn(*mut c_void, u64, u64, *mut c_void) -> c_int,
    },
    Egl {
        get_current_context: unsafe extern "C" fn() -> *mut c_void,
        get_current_display: unsafe extern "C" fn() -> *mut c_void,
        get_current_surface: unsafe extern "C" fn(c_int) -> *mut c_void,
        make_current:
            unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void, *mut c_void) -> c_uint,
    },
}

/// `GLsync` objects (as integers: they are only used inside the calls
/// that may use the context).
#[derive(Default)]
struct Fences {
    /// After the newest `xrReleaseSwapchainImage`, not yet given to a frame.
    released: Option<usize>,
    /// Ended frames' fences, oldest first, with the flags they raise.
    frames: VecDeque<(usize, Arc<AtomicBool>)>,
}

/// The app's GL context with the entry points the runtime uses.
pub struct GlContext {
    pub platform: Platform,
    ws: Ws,
    fns: Fns,
    /// `GL_DEVICE_UUID_EXT` and `GL_DRIVER_UUID_EXT`: the Vulkan device
    /// that shares memory with this context must have the same.
    pub device_uuid: [u8; 16],
    pub driver_uuid: [u8; 16],
    pub version: (u32, u32),
    pub renderer: String,
    fences: parking_lot::Mutex<Fences>,
    _library: Option<libloading::Library>,
}

/// Resolves `name` through `get`, as a function pointer of type `T`.
///
/// # Safety
/// `T` must be the C signature of `name`.
unsafe fn resolve<T: Copy>(get: GetProc, name: &'static CStr) -> Result<T, GlError> {
    // SAFETY: `get` is a GetProcAddress of the app's GL implementation.
    let p = unsafe { get(name.as_ptr()) };
    if p.is_null() {
        return Err(GlError::Missing(name.to_str().unwrap_or("?")));
    }
    debug_assert_eq!(
        std::mem::size_of::<T>(),
        std::mem::size_of::<*const c_void>()
    );
    // SAFETY: a non-null entry point of the signature the caller names.
    Ok(unsafe { std::mem::transmute_copy::<*const c_void, T>(&p) })
}

fn lib_symbol<T: Copy>(lib: &libloading::Library, name: &'static CStr) -> Result<T, GlError> {
    // SAFETY: the caller names the symbol's C signature as `T`.
    unsafe { lib.get::<T>(name.to_bytes_with_nul()) }
        .map(|s| *s)
        .map_err(|_| GlError::Missing(name.to_str().unwrap_or("?")))
}

impl GlContext {
    /// Loads the window-system and GL entry points for the app's context,
    /// makes it current (if it is not) to check what it offers, and
    /// restores the thread's context.
    pub fn open(binding: Binding) -> Result<GlContext, GlError> {
        let platform = binding.platform;
        let (ws, get, library): (Ws, GetProc, Option<libloading::Library>) = match platform {
            Platform::Glx { .. } => {
                // SAFETY: libGL is the system's GL library (already loaded
                // by the app); loading it runs no untrusted initialisers.
                let lib = unsafe { libloading::Library::new("libGL.so.1") }
                    .map_err(|e| GlError::Library("libGL.so.1", e.to_string()))?;
                let get: GetProc = lib_symbol(&lib, c"glXGetProcAddressARB")?;
                let ws = Ws::Glx {
                    get_current_context: lib_symbol(&lib, c"glXGetCurrentContext")?,
                    get_current_display: lib_symbol(&lib, c"glXGetCurrentDisplay")?,
                    get_current_drawable: lib_symbol(&lib, c"glXGetCurrentDrawable")?,
                    get_current_read_drawable: lib_symbol(&lib, c"glXGetCurrentReadDrawable")?,
                    make_context_current: lib_symbol(&lib, c"glXMakeContextCurrent")?,
                };
                (ws, get, Some(lib))
            }
            Platform::Egl {
                get_proc_address, ..
            } => {
                if get_proc_address == 0 {
                    return Err(GlError::Missing("getProcAddress"));
                }
                // SAFETY: the binding's getProcAddress is eglGetProcAddress
                // (PFN_eglGetProcAddress), non-null.
                let get: GetProc =
                    unsafe { std::mem::transmute::<usize, GetProc>(get_proc_address) };
                // SAFETY: EGL 1.5 (and EGL_KHR_get_all_proc_addresses, which
                // Mesa and the GL vendor library offer) return core EGL
                // entry points too; the signatures are EGL's.
                let ws = unsafe {
                    Ws::Egl {
                        get_current_context: resolve(get, c"eglGetCurrentContext")?,
                        get_current_display: resolve(get, c"eglGetCurrentDisplay")?,
                        get_current_surface: resolve(get, c"eglGetCurrentSurface")?,
                        make_current: resolve(get, c"eglMakeCurrent")?,
                    }
                };
                (ws, get, None)
            }
        };
        // SAFETY: each name is resolved as its GL signature.
        let fns = unsafe {
            Fns {
                get_error: resolve(get, c"glGetError")?,
                get_string: resolve(get, c"glGetString")?,
                get_stringi: resolve(get, c"glGetStringi").ok(),
                get_integerv: resolve(get, c"glGetIntegerv")?,
                flush: resolve(get, c"glFlush")?,
                finish: resolve(get, c"glFinish")?,
                fence_sync: resolve(get, c"glFenceSync")?,
                client_wait_sync: resolve(get, c"glClientWaitSync")?,
                delete_sync: resolve(get, c"glDeleteSync")?,
                gen_textures: resolve(get, c"glGenTextures")?,
                delete_textures: resolve(get, c"glDeleteTextures")?,
                bind_texture: resolve(get, c"glBindTexture")?,
                tex_parameteri: resolve(get, c"glTexParameteri")?,
                get_unsigned_bytev: resolve(get, c"glGetUnsignedBytevEXT")?,
                create_memory_objects: resolve(get, c"glCreateMemoryObjectsEXT")?,
                delete_memory_objects: resolve(get, c"glDeleteMemoryObjectsEXT")?,
                memory_object_parameteriv: resolve(get, c"glMemoryObjectParameterivEXT")?,
                import_memory_fd: resolve(get, c"glImportMemoryFdEXT")?,
                tex_storage_mem_2d: resolve(get, c"glTexStorageMem2DEXT")?,
                tex_storage_mem_3d: resolve(get, c"glTexStorageMem3DEXT")?,
                tex_storage_mem_2d_ms: resolve(get, c"glTexStorageMem2DMultisampleEXT")?,
                tex_storage_mem_3d_ms: resolve(get, c"glTexStorageMem3DMultisampleEXT")?,
            }
        };
        let mut ctx = GlContext {
            platform,
            ws,
            fns,
            device_uuid: [0; 16],
            driver_uuid: [0; 16],
            version: (0, 0),
            renderer: String::new(),
            fences: parking_lot::Mutex::new(Fences::default()),
            _library: library,
        };
        ctx.with_current(|c| {
            // glXGetProcAddress returns addresses even for functions the
            // context lacks: the extension strings decide.
            let exts = c.extensions();
            for need in ["GL_EXT_memory_object", "GL_EXT_memory_object_fd"] {
                if !exts.iter().any(|e| e == need) {
                    return Err(GlError::Unsupported(need.into()));
                }
            }
            Ok(())
        })??;
        let (device_uuid, driver_uuid, version, renderer) = ctx.with_current(|c| {
            let mut dev = [0u8; 16];
            let mut drv = [0u8; 16];
            let (mut major, mut minor) = (0, 0);
            // SAFETY: the context is current; 16-byte UUID buffers
            // (GL_UUID_SIZE_EXT) and single-integer queries.
            unsafe {
                (c.fns.get_unsigned_bytev)(GL_DEVICE_UUID_EXT, dev.as_mut_ptr());
                (c.fns.get_unsigned_bytev)(GL_DRIVER_UUID_EXT, drv.as_mut_ptr());
                (c.fns.get_integerv)(GL_MAJOR_VERSION, &mut major);
                (c.fns.get_integerv)(GL_MINOR_VERSION, &mut minor);
            }
            (
                dev,
                drv,
                (major.max(0) as u32, minor.max(0) as u32),
                c.string(GL_RENDERER),
            )
        })?;
        ctx.device_uuid = device_uuid;
        ctx.driver_uuid = driver_uuid;
        ctx.version = version;
        ctx.renderer = renderer;
        Ok(ctx)
    }

    fn string(&self, name: u32) -> String {
        // SAFETY: the context is current (callers run inside with_current);
        // GL returns a static NUL-terminated string or null.
        let p = unsafe { (self.fns.get_string)(name) };
        if p.is_null() {
            return String::new();
        }
        // SAFETY: non-null, NUL-terminated (GL contract).
        unsafe { CStr::from_ptr(p as *const c_char) }
            .to_string_lossy()
            .into_owned()
    }

    fn extensions(&self) -> Vec<String> {
        let mut n = 0;
        // SAFETY: the context is current; a single-integer query.
        unsafe { (self.fns.get_integerv)(GL_NUM_EXTENSIONS, &mut n) };
        self.clear_errors(); // GL_NUM_EXTENSIONS is an error before GL 3.0
        match self.fns.get_stringi {
            Some(get_stringi) if n > 0 => (0..n as u32)
                .filter_map(|i| {
                    // SAFETY: i < GL_NUM_EXTENSIONS; a static string or null.
                    let p = unsafe { get_stringi(GL_EXTENSIONS, i) };
                    (!p.is_null()).then(|| {
                        // SAFETY: non-null, NUL-terminated.
                        unsafe { CStr::from_ptr(p as *const c_char) }
                            .to_string_lossy()
                            .into_owned()
                    })
                })
                .collect(),
            _ => self
                .string(GL_EXTENSIONS)
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Drains GL's error flags; returns how many were set.
    fn clear_errors(&self) -> usize {
        let mut n = 0;
        // SAFETY: the context is current. GL has a bounded number of flags.
        while unsafe { (self.fns.get_error)() } != GL_NO_ERROR && n < 64 {
            n += 1;
        }
        n
    }

    fn check(&self, call: &'static str) -> Result<(), GlError> {
        // SAFETY: the context is current.
        match unsafe { (self.fns.get_error)() } {
            GL_NO_ERROR => Ok(()),
            code => {
                self.clear_errors();
                Err(GlError::Call { call, code })
            }
        }
    }

    /// Runs `f` with the app's context current on this thread: as it is if
    /// it already is, else made current and the previous binding restored.
    pub fn with_current<R>(&self, f: impl FnOnce(&Self) -> R) -> Result<R, GlError> {
        match (&self.ws, self.platform) {
            (
                Ws::Glx {
                    get_current_context,
                    get_current_display,
                    get_current_drawable,
                    get_current_read_drawable,
                    make_context_current,
                },
                Platform::Glx {
                    display,
                    drawable,
                    context,
                },
            ) => {
                // SAFETY: GLX queries of this thread's binding.
                let (cur, cur_dpy, draw, read) = unsafe {
                    (
                        get_current_context(),
                        get_current_display(),
                        get_current_drawable(),
                        get_current_read_drawable(),
                    )
                };
                if cur as usize == context {
                    return Ok(f(self));
                }
                let dpy = display as *mut c_void;
                // SAFETY: the app's display, drawable and context (binding
                // contract); the spec forbids the app to have the context
                // current on another thread during this call.
                if unsafe { make_context_current(dpy, drawable, drawable, context as *mut c_void) }
                    == 0
                {
                    return Err(GlError::MakeCurrent);
                }
                let r = f(self);
                // SAFETY: restores this thread's previous binding (or none).
                unsafe {
                    if cur.is_null() {
                        make_context_current(dpy, 0, 0, std::ptr::null_mut());
                    } else {
                        make_context_current(cur_dpy, draw, read, cur);
                    }
                }
                Ok(r)
            }
            (
                Ws::Egl {
                    get_current_context,
                    get_current_display,
                    get_current_surface,
                    make_current,
                },
                Platform::Egl {
                    display, context, ..
                },
            ) => {
                // SAFETY: EGL queries of this thread's binding.
                let (cur, cur_dpy, draw, read) = unsafe {
                    (
                        get_current_context(),
                        get_current_display(),
                        get_current_surface(EGL_DRAW),
                        get_current_surface(EGL_READ),
                    )
                };
                if cur as usize == context {
                    return Ok(f(self));
                }
                let dpy = display as *mut c_void;
                let none = std::ptr::null_mut();
                // SAFETY: the app's display and context, without a surface
                // (EGL_KHR_surfaceless_context: the runtime never draws to
                // the default framebuffer).
                if unsafe { make_current(dpy, none, none, context as *mut c_void) } == 0 {
                    return Err(GlError::MakeCurrent);
                }
                let r = f(self);
                // SAFETY: restores this thread's previous binding (or none).
                unsafe {
                    if cur.is_null() {
                        make_current(dpy, none, none, none);
                    } else {
                        make_current(cur_dpy, draw, read, cur);
                    }
                }
                Ok(r)
            }
            _ => unreachable!("the window system matches the platform"),
        }
    }

    /// Imports one image per memory fd (each `(fd, allocation size)`) as a
    /// texture of `desc`. On error, nothing stays allocated in the context
    /// and every fd not taken by GL is closed.
    pub fn import(
        &self,
        memories: Vec<(OwnedFd, u64)>,
        desc: &TextureDesc,
    ) -> Result<Vec<Texture>, GlError> {
        self.with_current(|c| {
            let pending = c.clear_errors();
            if pending > 0 {
                tracing::debug!("{pending} GL errors were pending in the app's context");
            }
            let target = target(desc.array_size, desc.face_count, desc.sample_count);
            let mut previous = 0;
            // SAFETY: current context; a single-integer query.
            unsafe { (c.fns.get_integerv)(binding_query(target), &mut previous) };
            let mut made = Vec::new();
            let mut result = Ok(());
            for (fd, size) in memories {
                match c.import_one(fd, size, target, desc) {
                    Ok(t) => made.push(t),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            // SAFETY: rebinds the app's texture (a name it created, or 0).
            unsafe { (c.fns.bind_texture)(target, previous.max(0) as u32) };
            match result {
                Ok(()) => Ok(made),
                Err(e) => {
                    c.delete_current(&made);
                    Err(e)
                }
            }
        })?
    }

    fn import_one(
        &self,
        fd: OwnedFd,
        size: u64,
        target: u32,
        d: &TextureDesc,
    ) -> Result<Texture, GlError> {
        let f = &self.fns;
        let mut memory = 0;
        // SAFETY: current context; one name out.
        unsafe { (f.create_memory_objects)(1, &mut memory) };
        self.check("glCreateMemoryObjectsEXT")?;
        let dedicated: c_int = 1;
        let raw = fd.into_raw_fd();
        // SAFETY: a memory object just created; the parameter must be set
        // before the import. A successful import takes ownership of `raw`.
        unsafe {
            (f.memory_object_parameteriv)(memory, GL_DEDICATED_MEMORY_OBJECT_EXT, &dedicated);
            (f.import_memory_fd)(memory, size, GL_HANDLE_TYPE_OPAQUE_FD_EXT, raw);
        }
        if let Err(e) = self.check("glImportMemoryFdEXT") {
            // SAFETY: the failed import did not take the fd; the object is ours.
            unsafe {
                drop(<OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw));
                (f.delete_memory_objects)(1, &memory);
            }
            return Err(e);
        }
        let mut name = 0;
        let (w, h) = (d.width as c_int, d.height as c_int);
        let (levels, samples) = (d.mip_count as c_int, d.sample_count as c_int);
        let layers = (d.array_size * d.face_count) as c_int;
        let ifmt = d.internal_format;
        // SAFETY: current context; a fresh texture bound to `target` gets
        // immutable storage at offset 0 of the imported memory, which the
        // compositor allocated for an image of exactly this shape.
        unsafe {
            (f.gen_textures)(1, &mut name);
            (f.bind_texture)(target, name);
            if samples == 1 {
                (f.tex_parameteri)(target, GL_TEXTURE_TILING_EXT, GL_OPTIMAL_TILING_EXT);
            }
            match target {
                GL_TEXTURE_2D | GL_TEXTURE_CUBE_MAP => {
                    (f.tex_storage_mem_2d)(target, levels, ifmt, w, h, memory, 0)
                }
                GL_TEXTURE_2D_ARRAY | GL_TEXTURE_CUBE_MAP_ARRAY => {
                    (f.tex_storage_mem_3d)(target, levels, ifmt, w, h, layers, memory, 0)
                }
                GL_TEXTURE_2D_MULTISAMPLE => {
                    (f.tex_storage_mem_2d_ms)(target, samples, ifmt, w, h, GL_TRUE, memory, 0)
                }
                _ => (f.tex_storage_mem_3d_ms)(
                    target, samples, ifmt, w, h, layers, GL_TRUE, memory, 0,
                ),
            }
        }
        let t = Texture { name, memory };
        if let Err(e) = self.check("glTexStorageMem*EXT") {
            self.delete_current(&[t]);
            return Err(e);
        }
        Ok(t)
    }

    fn delete_current(&self, textures: &[Texture]) {
        for t in textures {
            // SAFETY: current context; names this module created.
            unsafe {
                (self.fns.delete_textures)(1, &t.name);
                (self.fns.delete_memory_objects)(1, &t.memory);
            }
        }
    }

    /// Deletes imported textures and their memory objects, once the app's
    /// commands are done: a released image may still be being drawn (the
    /// fence is waited for only at xrEndFrame), and drivers such as
    /// llvmpipe unmap a memory object's storage when it is deleted.
    pub fn delete(&self, textures: &[Texture]) -> Result<(), GlError> {
        self.with_current(|c| {
            // SAFETY: current context.
            unsafe { (c.fns.finish)() };
            c.delete_current(textures)
        })
    }

    /// At `xrReleaseSwapchainImage`: a fence after the app's commands so
    /// far, flushed so that it signals without another call; it replaces
    /// (and deletes) the previous release's, which it covers.
    pub fn fence_released(&self) -> Result<(), GlError> {
        self.with_current(|c| {
            // SAFETY: current context; glFenceSync's only valid arguments.
            let sync = unsafe { (c.fns.fence_sync)(GL_SYNC_GPU_COMMANDS_COMPLETE, 0) };
            if sync.is_null() {
                return c.check("glFenceSync").and(Err(GlError::Call {
                    call: "glFenceSync",
                    code: 0,
                }));
            }
            // SAFETY: current context.
            unsafe { (c.fns.flush)() };
            let mut f = c.fences.lock();
            if let Some(old) = f.released.replace(sync as usize) {
                // SAFETY: a sync this context created that nobody waits on
                // (deleting one not yet signalled defers the deletion).
                unsafe { (c.fns.delete_sync)(old as *mut c_void) };
            }
            c.poll_current(&mut f);
            Ok(())
        })?
    }

    /// At `xrEndFrame`: waits (at most `limit_s` seconds) for the frames
    /// ended before, then up to `in_time_ns` (until the compositor takes
    /// the frame for its display time) for the work before the newest
    /// release. `None` when that work is done (it finished in time, or
    /// nothing was released since the last frame); else the flag a later
    /// [`GlContext::poll`] raises when it is (the frame is late either way;
    /// the app does not wait for it).
    pub fn end_frame(
        &self,
        limit_s: u64,
        in_time_ns: u64,
    ) -> Result<Option<Arc<AtomicBool>>, GlError> {
        self.with_current(|c| {
            let mut f = c.fences.lock();
            while let Some((sync, flag)) = f.frames.pop_front() {
                let r = c.wait_sync(sync, limit_s);
                // SAFETY: current context; a sync popped from `frames`.
                unsafe { (c.fns.delete_sync)(sync as *mut c_void) };
                r?;
                flag.store(true, Ordering::Release);
            }
            let Some(sync) = f.released.take() else {
                return Ok(None);
            };
            // SAFETY: current context; the live sync just taken.
            let r = unsafe {
                (c.fns.client_wait_sync)(
                    sync as *mut c_void,
                    GL_SYNC_FLUSH_COMMANDS_BIT,
                    in_time_ns,
                )
            };
            if r == GL_ALREADY_SIGNALED || r == GL_CONDITION_SATISFIED {
                // Done in time (the usual case): no flag to allocate, the
                // frame is ready as it is handed over.
                // SAFETY: current context; the sync is not kept.
                unsafe { (c.fns.delete_sync)(sync as *mut c_void) };
                return Ok(None);
            }
            if r == GL_WAIT_FAILED {
                c.clear_errors();
            }
            let flag = Arc::new(AtomicBool::new(false));
            f.frames.push_back((sync, flag.clone()));
            Ok(Some(flag))
        })?
    }

    /// Raises the flags of ended frames whose work is done (never blocks);
    /// called from every OpenXR call that may use the context.
    pub fn poll(&self) {
        if self.fences.lock().frames.is_empty() {
            return; // nothing to ask the context
        }
        let r = self.with_current(|c| c.poll_current(&mut c.fences.lock()));
        if let Err(e) = r {
            tracing::debug!("polling the app's GL fences: {e}");
        }
    }

    fn poll_current(&self, f: &mut Fences) {
        while let Some((sync, flag)) = f.frames.front() {
            // SAFETY: current context; a live sync of this context.
            let r = unsafe { (self.fns.client_wait_sync)(*sync as *mut c_void, 0, 0) };
            if r != GL_ALREADY_SIGNALED && r != GL_CONDITION_SATISFIED {
                if r == GL_WAIT_FAILED {
                    self.clear_errors();
                }
                return;
            }
            flag.store(true, Ordering::Release);
            // SAFETY: current context; removed from the queue right after.
            unsafe { (self.fns.delete_sync)(*sync as *mut c_void) };
            f.frames.pop_front();
        }
    }

    /// Waits on the CPU for `sync` (the context is current), in slices, up
    /// to `limit_s` seconds.
    fn wait_sync(&self, sync: usize, limit_s: u64) -> Result<(), GlError> {
        let start = std::time::Instant::now();
        loop {
            // SAFETY: current context; a live sync of this context.
            let r = unsafe {
                (self.fns.client_wait_sync)(
                    sync as *mut c_void,
                    GL_SYNC_FLUSH_COMMANDS_BIT,
                    100_000_000,
                )
            };
            match r {
                GL_TIMEOUT_EXPIRED if start.elapsed().as_secs() < limit_s => continue,
                GL_TIMEOUT_EXPIRED => return Err(GlError::Timeout(limit_s)),
                GL_WAIT_FAILED => {
                    return self.check("glClientWaitSync").and(Err(GlError::Call {
                        call: "glClientWaitSync",
                        code: 0,
                    }))
                }
                _ => return Ok(()), // already signalled, or satisfied
            }
        }
    }

    /// At `xrDestroySession`: deletes the fences left (their frames are
    /// not composed any more).
    pub fn drop_fences(&self) -> Result<(), GlError> {
        {
            let f = self.fences.lock();
            if f.released.is_none() && f.frames.is_empty() {
                return Ok(()); // the context is not touched
            }
        }
        self.with_current(|c| {
            let mut f = c.fences.lock();
            let syncs = f
                .released
                .take()
                .into_iter()
                .chain(f.frames.drain(..).map(|(s, _)| s));
            for sync in syncs {
                // SAFETY: current context; syncs taken out of `fences`.
                unsafe { (c.fns.delete_sync)(sync as *mut c_void) };
            }
        })
    }
}
