//! An OpenGL app on EGL (XR_MNDX_egl_enable) through the real loader: a
//! surfaceless Mesa EGL context (llvmpipe), no X server. The app clears its
//! swapchain images with GL (red above, another colour below, in GL's
//! bottom-left origin, the eyes stacked in one image); the composed eye
//! images must show red on top and each eye its own part. Also the error
//! codes of xrCreateSession for OpenGL bindings.
//!
//! The EGL and GL entry points are loaded by hand (libEGL.so.1 and
//! eglGetProcAddress): no crate in the registry offers surfaceless EGL with
//! only the dozen calls a test needs.
#![allow(unsafe_code)]

mod common;
use openxr as xr;
use std::ffi::{c_char, c_void, CStr};
use std::time::{Duration, Instant};
use xr::sys::Handle;

type Ptr = *mut c_void;
const EGL_PLATFORM_SURFACELESS_MESA: u32 = 0x31DD;
const EGL_OPENGL_API: u32 = 0x30A2;
const EGL_RENDERABLE_TYPE: i32 = 0x3040;
const EGL_OPENGL_BIT: i32 = 0x0008;
const EGL_NONE: i32 = 0x3038;
const EGL_SURFACE_TYPE: i32 = 0x3033;
const EGL_PBUFFER_BIT: i32 = 0x0001;
const EGL_CONTEXT_MAJOR_VERSION: i32 = 0x3098;
const EGL_CONTEXT_MINOR_VERSION: i32 = 0x30FB;
const EGL_CONTEXT_OPENGL_PROFILE_MASK: i32 = 0x30FD;
const EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT: i32 = 1;
const GL_FRAMEBUFFER: u32 = 0x8D40;
const GL_COLOR_ATTACHMENT0: u32 = 0x8CE0;
const GL_TEXTURE_2D: u32 = 0x0DE1;
const GL_FRAMEBUFFER_COMPLETE: u32 = 0x8CD5;
const GL_COLOR_BUFFER_BIT: u32 = 0x4000;
const GL_SCISSOR_TEST: u32 = 0x0C11;
const GL_RGBA8: u32 = 0x8058;
const GL_SRGB8_ALPHA8: u32 = 0x8C43;

type GetProcAddress = unsafe extern "C" fn(*const c_char) -> Option<unsafe extern "C" fn()>;

/// A surfaceless EGL display with an OpenGL 3.3 core context, current on
/// the creating thread.
struct Egl {
    _lib: libloading::Library,
    get_proc_address: GetProcAddress,
    display: Ptr,
    config: Ptr,
    context: Ptr,
    make_current: unsafe extern "C" fn(Ptr, Ptr, Ptr, Ptr) -> u32,
    destroy_context: unsafe extern "C" fn(Ptr, Ptr) -> u32,
    terminate: unsafe extern "C" fn(Ptr) -> u32,
}

impl Egl {
    fn new() -> Egl {
        // SAFETY: Mesa's libEGL; every symbol is cast to its EGL 1.5
        // signature, and each call follows the EGL specification.
        unsafe {
            let lib = libloading::Library::new("libEGL.so.1")
                .expect("libEGL.so.1 (Debian libegl1, libegl-mesa0) must be installed");
            let get_proc_address: GetProcAddress = *lib.get(b"eglGetProcAddress\0").unwrap();
            let get_platform_display: unsafe extern "C" fn(u32, Ptr, *const isize) -> Ptr =
                *lib.get(b"eglGetPlatformDisplay\0").unwrap();
            let initialize: unsafe extern "C" fn(Ptr, *mut i32, *mut i32) -> u32 =
                *lib.get(b"eglInitialize\0").unwrap();
            let bind_api: unsafe extern "C" fn(u32) -> u32 = *lib.get(b"eglBindAPI\0").unwrap();
            let choose_config: unsafe extern "C" fn(
                Ptr,
                *const i32,
                *mut Ptr,
                i32,
                *mut i32,
            ) -> u32 = *lib.get(b"eglChooseConfig\0").unwrap();
            let create_context: unsafe extern "C" fn(Ptr, Ptr, Ptr, *const i32) -> Ptr =
                *lib.get(b"eglCreateContext\0").unwrap();
            let make_current: unsafe extern "C" fn(Ptr, Ptr, Ptr, Ptr) -> u32 =
                *lib.get(b"eglMakeCurrent\0").unwrap();
            let destroy_context = *lib.get(b"eglDestroyContext\0").unwrap();
            let terminate = *lib.get(b"eglTerminate\0").unwrap();

            let display = get_platform_display(
                EGL_PLATFORM_SURFACELESS_MESA,
                std::ptr::null_mut(),
                std::ptr::null(),
            );
            assert!(!display.is_null(), "no surfaceless EGL display");
            let (mut major, mut minor) = (0, 0);
            assert_eq!(
                initialize(display, &mut major, &mut minor),
                1,
                "eglInitialize"
            );
            assert_eq!(bind_api(EGL_OPENGL_API), 1, "eglBindAPI(EGL_OPENGL_API)");
            // Surfaceless displays have no window configs (the default).
            let attribs = [
                EGL_RENDERABLE_TYPE,
                EGL_OPENGL_BIT,
                EGL_SURFACE_TYPE,
                EGL_PBUFFER_BIT,
                EGL_NONE,
            ];
            let mut config = std::ptr::null_mut();
            let mut n = 0;
            assert_eq!(
                choose_config(display, attribs.as_ptr(), &mut config, 1, &mut n),
                1
            );
            assert_eq!(n, 1, "no EGL config renders OpenGL");
            let attribs = [
                EGL_CONTEXT_MAJOR_VERSION,
                3,
                EGL_CONTEXT_MINOR_VERSION,
                3,
                EGL_CONTEXT_OPENGL_PROFILE_MASK,
                EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT,
                EGL_NONE,
            ];
            let context = create_context(display, config, std::ptr::null_mut(), attribs.as_ptr());
            assert!(!context.is_null(), "eglCreateContext (OpenGL 3.3 core)");
            let none = std::ptr::null_mut();
            assert_eq!(
                make_current(display, none, none, context),
                1,
                "eglMakeCurrent"
            );
            Egl {
                _lib: lib,
                get_proc_address,
                display,
                config,
                context,
                make_current,
                destroy_context,
                terminate,
            }
        }
    }

    /// A GL entry point, cast to the type the caller names.
    ///
    /// # Safety
    /// `F` must be the function's signature.
    unsafe fn gl<F: Copy>(&self, name: &CStr) -> F {
        // SAFETY: eglGetProcAddress with a NUL-terminated name.
        let f = unsafe { (self.get_proc_address)(name.as_ptr()) }
            .unwrap_or_else(|| panic!("no GL function {name:?}"));
        assert_eq!(std::mem::size_of::<F>(), std::mem::size_of_val(&f));
        // SAFETY: the caller names the function's signature.
        unsafe { std::mem::transmute_copy(&f) }
    }

    fn binding(&self) -> xr::sys::GraphicsBindingEGLMNDX {
        xr::sys::GraphicsBindingEGLMNDX {
            ty: xr::sys::GraphicsBindingEGLMNDX::TYPE,
            next: std::ptr::null(),
            // SAFETY: eglGetProcAddress has the PFN's C signature.
            get_proc_address: Some(unsafe {
                std::mem::transmute::<GetProcAddress, xr::sys::pfn::EglGetProcAddressMNDX>(
                    self.get_proc_address,
                )
            }),
            display: self.display,
            config: self.config,
            context: self.context,
        }
    }
}

impl Drop for Egl {
    fn drop(&mut self) {
        let none = std::ptr::null_mut();
        // SAFETY: this thread's display and context, released then freed.
        unsafe {
            (self.make_current)(self.display, none, none, none);
            (self.destroy_context)(self.display, self.context);
            (self.terminate)(self.display);
        }
    }
}

fn gl_instance(egl: bool, khr: bool) -> (xr::Instance, xr::SystemId) {
    let entry = common::entry();
    let mut exts = xr::ExtensionSet::default();
    exts.mndx_egl_enable = egl;
    exts.khr_opengl_enable = khr;
    let instance = common::instance_with(&entry, &exts, xr::Version::new(1, 0, 0)).unwrap();
    let system = instance
        .system(xr::FormFactor::HEAD_MOUNTED_DISPLAY)
        .unwrap();
    (instance, system)
}

fn create_session(
    instance: &xr::Instance,
    system: xr::SystemId,
    binding: &xr::sys::GraphicsBindingEGLMNDX,
) -> Result<xr::sys::Session, xr::sys::Result> {
    let info = xr::sys::SessionCreateInfo {
        ty: xr::sys::SessionCreateInfo::TYPE,
        next: binding as *const _ as *const c_void,
        create_flags: Default::default(),
        system_id: system,
    };
    let mut session = xr::sys::Session::NULL;
    // SAFETY: a valid create info whose chain is the EGL binding.
    let r = unsafe { (instance.fp().create_session)(instance.as_raw(), &info, &mut session) };
    if r == xr::sys::Result::SUCCESS {
        Ok(session)
    } else {
        Err(r)
    }
}

#[test]
fn egl_session_error_codes() {
    common::on_loader_thread(|| {
        let _g = common::serial();
        let egl = Egl::new();
        let (instance, system) = gl_instance(true, true);
        // The requirements call comes first.
        assert_eq!(
            create_session(&instance, system, &egl.binding()),
            Err(xr::sys::Result::ERROR_GRAPHICS_REQUIREMENTS_CALL_MISSING)
        );
        let req = instance
            .graphics_requirements::<xr::OpenGL>(system)
            .unwrap();
        assert!(req.min_api_version_supported <= xr::Version::new(3, 3, 0));
        assert!(req.max_api_version_supported >= xr::Version::new(4, 5, 0));
        // A null context or display is not a device.
        let mut b = egl.binding();
        b.context = std::ptr::null_mut();
        assert_eq!(
            create_session(&instance, system, &b),
            Err(xr::sys::Result::ERROR_GRAPHICS_DEVICE_INVALID)
        );
        let mut b = egl.binding();
        b.display = std::ptr::null_mut();
        assert_eq!(
            create_session(&instance, system, &b),
            Err(xr::sys::Result::ERROR_GRAPHICS_DEVICE_INVALID)
        );
        // Two sessions at once on one instance are refused.
        let s = create_session(&instance, system, &egl.binding()).unwrap();
        assert_eq!(
            create_session(&instance, system, &egl.binding()),
            Err(xr::sys::Result::ERROR_LIMIT_REACHED)
        );
        // SAFETY: the session just created, not used afterwards.
        let r = unsafe { (instance.fp().destroy_session)(s) };
        assert_eq!(r, xr::sys::Result::SUCCESS);
        drop(instance);

        // Without XR_MNDX_egl_enable the EGL binding is not a binding.
        let (instance, system) = gl_instance(false, true);
        instance
            .graphics_requirements::<xr::OpenGL>(system)
            .unwrap();
        assert_eq!(
            create_session(&instance, system, &egl.binding()),
            Err(xr::sys::Result::ERROR_GRAPHICS_DEVICE_INVALID)
        );
    });
}

#[test]
fn egl_app_renders_right_side_up() {
    common::on_loader_thread(|| {
        let _g = common::serial();
        let capture = common::target_dir().join("egl_capture");
        let _ = std::fs::remove_dir_all(&capture);
        std::env::set_var("PARALLAX_CAPTURE", &capture);
        std::env::set_var("PARALLAX_CAPTURE_FRAMES", "4");
        let egl = Egl::new();
        // XR_MNDX_egl_enable alone: no requirements call is needed.
        let (instance, system) = gl_instance(true, false);
        std::env::remove_var("PARALLAX_CAPTURE");
        std::env::remove_var("PARALLAX_CAPTURE_FRAMES");
        let raw = create_session(&instance, system, &egl.binding()).unwrap();
        // SAFETY: a new OpenGL session of this instance, outside any frame.
        let (session, mut waiter, mut stream) =
            unsafe { xr::Session::<xr::OpenGL>::from_raw(instance.clone(), raw, Box::new(())) };
        let views = instance
            .enumerate_view_configuration_views(system, xr::ViewConfigurationType::PRIMARY_STEREO)
            .unwrap();
        let (w, h) = (
            views[0].recommended_image_rect_width,
            views[0].recommended_image_rect_height,
        );
        let formats = session.enumerate_swapchain_formats().unwrap();
        let format = [GL_SRGB8_ALPHA8, GL_RGBA8]
            .into_iter()
            .find(|f| formats.contains(f))
            .unwrap_or_else(|| panic!("neither GL_SRGB8_ALPHA8 nor GL_RGBA8 in {formats:?}"));
        // Both eyes in one image, eye 0 in the lower half (GL's rows from 0)
        // and eye 1 above it: imageRect offsets count from the bottom.
        let mut swapchain = session
            .create_swapchain(&xr::SwapchainCreateInfo {
                create_flags: xr::SwapchainCreateFlags::EMPTY,
                usage_flags: xr::SwapchainUsageFlags::COLOR_ATTACHMENT,
                format,
                sample_count: 1,
                width: w,
                height: 2 * h,
                face_count: 1,
                array_size: 1,
                mip_count: 1,
            })
            .unwrap();
        let textures = swapchain.enumerate_images().unwrap();
        assert!(!textures.is_empty());

        // SAFETY: GL 3.3 core functions with their signatures; the context
        // is current on this thread.
        let (gen_fbs, bind_fb, fb_tex, fb_status, viewport, scissor, enable, disable, color, clear) = unsafe {
            (
                egl.gl::<unsafe extern "C" fn(i32, *mut u32)>(c"glGenFramebuffers"),
                egl.gl::<unsafe extern "C" fn(u32, u32)>(c"glBindFramebuffer"),
                egl.gl::<unsafe extern "C" fn(u32, u32, u32, u32, i32)>(c"glFramebufferTexture2D"),
                egl.gl::<unsafe extern "C" fn(u32) -> u32>(c"glCheckFramebufferStatus"),
                egl.gl::<unsafe extern "C" fn(i32, i32, i32, i32)>(c"glViewport"),
                egl.gl::<unsafe extern "C" fn(i32, i32, i32, i32)>(c"glScissor"),
                egl.gl::<unsafe extern "C" fn(u32)>(c"glEnable"),
                egl.gl::<unsafe extern "C" fn(u32)>(c"glDisable"),
                egl.gl::<unsafe extern "C" fn(f32, f32, f32, f32)>(c"glClearColor"),
                egl.gl::<unsafe extern "C" fn(u32)>(c"glClear"),
            )
        };
        let mut fb = 0;
        // SAFETY: one framebuffer name into a local.
        unsafe { gen_fbs(1, &mut fb) };

        let space = session
            .create_reference_space(xr::ReferenceSpaceType::LOCAL, xr::Posef::IDENTITY)
            .unwrap();
        let start = Instant::now();
        let mut running = false;
        let mut frames = 0;
        let mut buffer = xr::EventDataBuffer::new();
        // Until the compositor has shown (and captured) its fifth frame:
        // frames whose GL work is late are replaced by newer ones.
        let captured = capture.join("frame-00004-panel.png");
        while frames < 8 || !captured.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "frame 4 not captured after {frames} frames"
            );
            while let Some(event) = instance.poll_event(&mut buffer).unwrap() {
                if let xr::Event::SessionStateChanged(e) = event {
                    if e.state() == xr::SessionState::READY {
                        session
                            .begin(xr::ViewConfigurationType::PRIMARY_STEREO)
                            .unwrap();
                        running = true;
                    }
                }
            }
            if !running {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let state = waiter.wait().unwrap();
            stream.begin().unwrap();
            let (_, located) = session
                .locate_views(
                    xr::ViewConfigurationType::PRIMARY_STEREO,
                    state.predicted_display_time,
                    &space,
                )
                .unwrap();
            let i = swapchain.acquire_image().unwrap() as usize;
            swapchain.wait_image(xr::Duration::INFINITE).unwrap();
            let (wi, hi) = (w as i32, h as i32);
            // SAFETY: GL calls on this thread's current context, drawing
            // into the acquired swapchain texture.
            unsafe {
                bind_fb(GL_FRAMEBUFFER, fb);
                fb_tex(
                    GL_FRAMEBUFFER,
                    GL_COLOR_ATTACHMENT0,
                    GL_TEXTURE_2D,
                    textures[i],
                    0,
                );
                assert_eq!(fb_status(GL_FRAMEBUFFER), GL_FRAMEBUFFER_COMPLETE);
                viewport(0, 0, wi, 2 * hi);
                enable(GL_SCISSOR_TEST);
                // Each eye's view: red in its upper half, below it blue for
                // eye 0 and green for eye 1. GL's rows count from the bottom.
                for (eye, below) in [(0, [0.0, 0.0, 1.0]), (1, [0.0, 1.0, 0.0])] {
                    let base = eye * hi;
                    scissor(0, base, wi, hi / 2);
                    color(below[0], below[1], below[2], 1.0);
                    clear(GL_COLOR_BUFFER_BIT);
                    scissor(0, base + hi / 2, wi, hi - hi / 2);
                    color(1.0, 0.0, 0.0, 1.0);
                    clear(GL_COLOR_BUFFER_BIT);
                }
                disable(GL_SCISSOR_TEST);
                bind_fb(GL_FRAMEBUFFER, 0);
            }
            swapchain.release_image().unwrap();
            let views: Vec<_> = (0..2)
                .map(|eye| {
                    xr::CompositionLayerProjectionView::new()
                        .pose(located[eye].pose)
                        .fov(located[eye].fov)
                        .sub_image(
                            xr::SwapchainSubImage::new()
                                .swapchain(&swapchain)
                                .image_rect(xr::Rect2Di {
                                    offset: xr::Offset2Di {
                                        x: 0,
                                        y: eye as i32 * hi,
                                    },
                                    extent: xr::Extent2Di {
                                        width: wi,
                                        height: hi,
                                    },
                                }),
                        )
                })
                .collect();
            let layer = xr::CompositionLayerProjection::new()
                .space(&space)
                .views(&views);
            stream
                .end(
                    state.predicted_display_time,
                    xr::EnvironmentBlendMode::OPAQUE,
                    &[&layer],
                )
                .unwrap();
            frames += 1;
        }
        session.request_exit().unwrap();
        drop((swapchain, space, stream, waiter, session));
        drop(instance);

        // The session is gone and its compositor with it: the files are
        // complete.
        for eye in 0..2 {
            let path = capture.join(format!("frame-00004-eye{eye}.png"));
            let (cw, ch, rgba) = common::read_png(&path);
            let px = |x: u32, y: u32| {
                let i = ((y * cw + x) * 4) as usize;
                [rgba[i], rgba[i + 1], rgba[i + 2]]
            };
            // Red on top, blue (eye 0) or green (eye 1) below, away from
            // the seam: within 8 levels.
            let below = [[0, 0, 255], [0, 255, 0]][eye];
            for (x, y, want) in [
                (cw / 4, ch / 4, [255, 0, 0]),
                (cw / 2, ch / 5, [255, 0, 0]),
                (3 * cw / 4, ch / 3, [255, 0, 0]),
                (cw / 4, 3 * ch / 4, below),
                (cw / 2, 4 * ch / 5, below),
                (3 * cw / 4, 2 * ch / 3, below),
            ] {
                let got = px(x, y);
                assert!(
                    got.iter()
                        .zip(want)
                        .all(|(g, w)| (*g as i32 - w).abs() <= 8),
                    "eye {eye} pixel ({x}, {y}) is {got:?}, not {want:?}"
                );
            }
        }
    });
}
