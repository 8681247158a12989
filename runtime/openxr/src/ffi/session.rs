//! Session entry points: lifecycle, the frame loop, and swapchains (which a
//! headless session has none of).

use super::instance::instance;
use super::{guard, input, out_ptr, output, slice, to_pose, Ctx};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_compositor::vk::AppBinding;
use parallax_compositor::{Blend, Depth, Eyes, Layer, LayerKind, ProjectionView, SubImage};
use parallax_runtime::session::{self as sess, GraphicsBinding, Session, MAX_LAYERS};
use parallax_runtime::space::{check_pose, Space};
use parallax_runtime::swapchain::{self, Swapchain, SwapchainCreate};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use parallax_sdk::types::Fov;
use parallax_sdk::types::Time;
use std::ffi::c_void;
use std::sync::Arc;

/// Looks up a session handle and records it (and its instance) for reports.
pub fn session(ctx: &mut Ctx, h: xr::Session) -> Result<Arc<Session>> {
    let s = handles::get::<Session>(Kind::Session, h.into_raw())?;
    ctx.instance = Some(s.instance.clone());
    ctx.objects.push((xr::ObjectType::SESSION, h.into_raw()));
    Ok(s)
}

/// The graphics binding in a `next` chain, if any.
///
/// # Safety
/// `next` is null or the head of a valid OpenXR structure chain.
unsafe fn graphics_binding(
    inst: &parallax_runtime::instance::Instance,
    mut next: *const c_void,
) -> GraphicsBinding {
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseInStructure.
        let base = unsafe { &*(next as *const xr::BaseInStructure) };
        if base.ty == xr::GraphicsBindingVulkanKHR::TYPE && inst.has_vulkan() {
            // SAFETY: the type says it is a Vulkan binding.
            let b = unsafe { &*(next as *const xr::GraphicsBindingVulkanKHR) };
            return GraphicsBinding::Vulkan(AppBinding {
                instance: b.instance as u64,
                physical_device: b.physical_device as u64,
                device: b.device as u64,
                queue_family: b.queue_family_index,
                queue_index: b.queue_index,
            });
        }
        // SAFETY: `next` heads a structure of the type it names.
        if let Some(gl) = unsafe { super::opengl::binding(inst, base) } {
            return GraphicsBinding::OpenGl(gl);
        }
        let name = format!("{:?}", base.ty);
        if name.starts_with("GRAPHICS_BINDING") && base.ty != xr::GraphicsBindingVulkanKHR::TYPE {
            return GraphicsBinding::Other(name);
        }
        next = base.next as *const c_void;
    }
    GraphicsBinding::None
}

/// [xrCreateSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateSession)
pub unsafe extern "system" fn xrCreateSession(
    h: xr::Instance,
    info: *const xr::SessionCreateInfo,
    out: *mut xr::Session,
) -> xr::Result {
    guard("xrCreateSession", |ctx| {
        let i = instance(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SessionCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "session")? };
        if info.create_flags != xr::SessionCreateFlags::EMPTY {
            return Err(Error::validation("createFlags must be 0"));
        }
        // SAFETY: the next chain of a valid create info.
        let binding = unsafe { graphics_binding(&i, info.next) };
        let raw = sess::create(&i, info.system_id.into_raw(), binding)?;
        *out = xr::Session::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroySession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroySession)
pub unsafe extern "system" fn xrDestroySession(h: xr::Session) -> xr::Result {
    guard("xrDestroySession", |_| {
        sess::destroy(h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

fn loss_or(s: &Session, ok: xr::Result) -> xr::Result {
    if s.state() == xr::SessionState::LOSS_PENDING {
        xr::Result::SESSION_LOSS_PENDING
    } else {
        ok
    }
}

/// [xrBeginSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrBeginSession)
pub unsafe extern "system" fn xrBeginSession(
    h: xr::Session,
    info: *const xr::SessionBeginInfo,
) -> xr::Result {
    guard("xrBeginSession", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SessionBeginInfo::TYPE, "beginInfo")? };
        let v = info.primary_view_configuration_type;
        if !matches!(v.into_raw(), 1..=3 | 1_000_037_000 | 1_000_054_000) {
            return Err(Error::validation(format!(
                "{v:?} is not a valid XrViewConfigurationType"
            )));
        }
        s.begin(v)?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrEndSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEndSession)
pub unsafe extern "system" fn xrEndSession(h: xr::Session) -> xr::Result {
    guard("xrEndSession", |ctx| {
        let s = session(ctx, h)?;
        s.end()?;
        Ok(loss_or(&s, xr::Result::SUCCESS))
    })
}

/// [xrRequestExitSession](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrRequestExitSession)
pub unsafe extern "system" fn xrRequestExitSession(h: xr::Session) -> xr::Result {
    guard("xrRequestExitSession", |ctx| {
        let s = session(ctx, h)?;
        s.request_exit()?;
        Ok(loss_or(&s, xr::Result::SUCCESS))
    })
}

/// [xrWaitFrame](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrWaitFrame):
/// blocks until the app should start its frame.
pub unsafe extern "system" fn xrWaitFrame(
    h: xr::Session,
    info: *const xr::FrameWaitInfo,
    state: *mut xr::FrameState,
) -> xr::Result {
    guard("xrWaitFrame", |ctx| {
        let s = session(ctx, h)?;
        if !info.is_null() {
            // SAFETY: non-null, a structure by contract.
            unsafe { input(info, xr::FrameWaitInfo::TYPE, "frameWaitInfo")? };
        }
        // SAFETY: contract of this function.
        let out = unsafe { output(state, xr::FrameState::TYPE, "frameState")? };
        let f = s.wait_frame()?;
        out.predicted_display_time = xr::Time::from_nanos(f.predicted_display_time.0);
        out.predicted_display_period = xr::Duration::from_nanos(f.predicted_display_period.0);
        out.should_render = f.should_render.into();
        Ok(if f.loss_pending {
            xr::Result::SESSION_LOSS_PENDING
        } else {
            xr::Result::SUCCESS
        })
    })
}

/// [xrBeginFrame](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrBeginFrame)
pub unsafe extern "system" fn xrBeginFrame(
    h: xr::Session,
    info: *const xr::FrameBeginInfo,
) -> xr::Result {
    guard("xrBeginFrame", |ctx| {
        let s = session(ctx, h)?;
        if !info.is_null() {
            // SAFETY: non-null, a structure by contract.
            unsafe { input(info, xr::FrameBeginInfo::TYPE, "frameBeginInfo")? };
        }
        let discarded = s.begin_frame()?;
        Ok(if discarded {
            xr::Result::FRAME_DISCARDED
        } else {
            loss_or(&s, xr::Result::SUCCESS)
        })
    })
}

fn space_of(s: &Arc<Session>, h: xr::Space) -> Result<Arc<Space>> {
    let sp = handles::get::<Space>(Kind::Space, h.into_raw())?;
    if !Arc::ptr_eq(&sp.session, s) {
        return Err(Error::handle_invalid(
            "the layer's space belongs to another session",
        ));
    }
    Ok(sp)
}

fn swapchain_of(s: &Arc<Session>, h: xr::Swapchain) -> Result<Arc<Swapchain>> {
    let chain = handles::get::<Swapchain>(Kind::Swapchain, h.into_raw())?;
    if !Arc::ptr_eq(&chain.session, s) {
        return Err(Error::handle_invalid(
            "the swapchain belongs to another session",
        ));
    }
    Ok(chain)
}

fn sub_image(s: &Arc<Session>, sub: &xr::SwapchainSubImage) -> Result<SubImage> {
    let chain = swapchain_of(s, sub.swapchain)?;
    let r = sub.image_rect;
    chain.sub_image(
        [r.offset.x, r.offset.y, r.extent.width, r.extent.height],
        sub.image_array_index,
    )
}

fn eyes(v: xr::EyeVisibility) -> Result<Eyes> {
    match v {
        xr::EyeVisibility::BOTH => Ok(Eyes::Both),
        xr::EyeVisibility::LEFT => Ok(Eyes::Left),
        xr::EyeVisibility::RIGHT => Ok(Eyes::Right),
        other => Err(Error::validation(format!(
            "{other:?} is not a valid XrEyeVisibility"
        ))),
    }
}

/// A layer size: finite and non-negative (a zero size is valid and shows
/// nothing; the CTS submits 0x0 quads).
fn finite_non_negative(v: f32, what: &str) -> Result<f32> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::validation(format!(
            "{what} must be finite and non-negative, got {v}"
        )))
    }
}

/// A cylinder's or sphere's radius: zero and +infinity both mean infinitely
/// far (the spec's words for cylinder and equirect layers); returned as 0,
/// which is how the compositor takes "at infinity".
fn layer_radius(v: f32) -> Result<f32> {
    if v == f32::INFINITY {
        Ok(0.0)
    } else {
        finite_non_negative(v, "radius")
    }
}

fn finite_positive(v: f32, what: &str) -> Result<f32> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::validation(format!(
            "{what} must be finite and positive, got {v}"
        )))
    }
}

/// The `XrCompositionLayerDepthInfoKHR` chained to a projection view, when
/// `XR_KHR_composition_layer_depth` is enabled, validated.
///
/// # Safety
/// `next` is null or the head of a valid input structure chain.
unsafe fn depth_info(s: &Arc<Session>, mut next: *const c_void) -> Result<Option<Depth>> {
    if !s.instance.has_extension("XR_KHR_composition_layer_depth") {
        return Ok(None);
    }
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseInStructure.
        let base = unsafe { &*(next as *const xr::BaseInStructure) };
        if base.ty == xr::CompositionLayerDepthInfoKHR::TYPE {
            // SAFETY: the type says what it is.
            let d = unsafe { &*(next as *const xr::CompositionLayerDepthInfoKHR) };
            let unit = 0.0..=1.0;
            if !(unit.contains(&d.min_depth)
                && unit.contains(&d.max_depth)
                && d.min_depth <= d.max_depth)
            {
                return Err(Error::validation(format!(
                    "minDepth {} and maxDepth {} must satisfy 0 <= min <= max <= 1",
                    d.min_depth, d.max_depth
                )));
            }
            let positive = |z: f32| z > 0.0 && !z.is_nan();
            if !(positive(d.near_z) && positive(d.far_z)) || d.near_z == d.far_z {
                return Err(Error::validation(format!(
                    "nearZ {} and farZ {} must be positive and different",
                    d.near_z, d.far_z
                )));
            }
            let chain = swapchain_of(s, d.sub_image.swapchain)?;
            if !chain.is_depth() {
                return Err(Error::validation(
                    "the depth sub-image's swapchain does not have a depth format",
                ));
            }
            let r = d.sub_image.image_rect;
            let image = chain.sub_image(
                [r.offset.x, r.offset.y, r.extent.width, r.extent.height],
                d.sub_image.image_array_index,
            )?;
            return Ok(Some(Depth {
                image,
                min_depth: d.min_depth,
                max_depth: d.max_depth,
                near_z: d.near_z,
                far_z: d.far_z,
            }));
        }
        next = base.next as *const c_void;
    }
    Ok(None)
}

/// Validates one submitted layer and resolves it for the compositor.
///
/// # Safety
/// `layer` is null or points to a composition layer structure.
unsafe fn check_layer(
    s: &Arc<Session>,
    layer: *const xr::CompositionLayerBaseHeader,
    t: Time,
) -> Result<Layer> {
    if layer.is_null() {
        return Err(Error::layer_invalid("a layer pointer is NULL"));
    }
    // SAFETY: non-null; every layer starts with the base header.
    let base = unsafe { &*layer };
    let known_flags = xr::CompositionLayerFlags::CORRECT_CHROMATIC_ABERRATION
        | xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA
        | xr::CompositionLayerFlags::UNPREMULTIPLIED_ALPHA
        | xr::CompositionLayerFlags::INVERTED_ALPHA;
    if !known_flags.contains(base.layer_flags) {
        return Err(Error::validation("layerFlags has unknown bits"));
    }
    let blend = Blend {
        source_alpha: base
            .layer_flags
            .contains(xr::CompositionLayerFlags::BLEND_TEXTURE_SOURCE_ALPHA),
        unpremultiplied: base
            .layer_flags
            .contains(xr::CompositionLayerFlags::UNPREMULTIPLIED_ALPHA),
    };
    let inst = &s.instance;
    let space = space_of(s, base.space)?;
    let stage_from_space = space.stage_pose(t);
    let pose_of = |p: &xr::Posef| -> Result<parallax_sdk::types::Pose> {
        let pose = to_pose(p);
        check_pose(&pose)?;
        Ok(pose)
    };
    let (eyes, kind) = match base.ty {
        xr::StructureType::COMPOSITION_LAYER_PROJECTION => {
            // SAFETY: the type says it is a projection layer.
            let p = unsafe { &*(layer as *const xr::CompositionLayerProjection) };
            if p.view_count != 2 {
                return Err(Error::validation(format!(
                    "a projection layer needs 2 views for PRIMARY_STEREO, got {}",
                    p.view_count
                )));
            }
            let mut views = Vec::with_capacity(2);
            // SAFETY: view_count views by contract.
            for v in unsafe { slice(p.views, p.view_count, "views")? } {
                if v.ty != xr::StructureType::COMPOSITION_LAYER_PROJECTION_VIEW {
                    return Err(Error::validation("a projection view has the wrong type"));
                }
                let f = v.fov;
                if !(f.angle_left < f.angle_right && f.angle_down < f.angle_up) {
                    return Err(Error::validation(format!(
                        "projection view fov {f:?} is empty or inverted"
                    )));
                }
                views.push(ProjectionView {
                    pose: pose_of(&v.pose)?,
                    fov: Fov {
                        left: f.angle_left,
                        right: f.angle_right,
                        up: f.angle_up,
                        down: f.angle_down,
                    },
                    image: Some(sub_image(s, &v.sub_image)?),
                    // SAFETY: the view's next chain by contract.
                    depth: unsafe { depth_info(s, v.next)? },
                });
            }
            (Eyes::Both, LayerKind::Projection { views })
        }
        xr::StructureType::COMPOSITION_LAYER_QUAD => {
            // SAFETY: the type says it is a quad layer.
            let q = unsafe { &*(layer as *const xr::CompositionLayerQuad) };
            let size = [
                finite_non_negative(q.size.width, "size.width")?,
                finite_non_negative(q.size.height, "size.height")?,
            ];
            (
                eyes(q.eye_visibility)?,
                LayerKind::Quad {
                    pose: pose_of(&q.pose)?,
                    size,
                    image: Some(sub_image(s, &q.sub_image)?),
                },
            )
        }
        xr::StructureType::COMPOSITION_LAYER_CYLINDER_KHR
            if inst.has_extension("XR_KHR_composition_layer_cylinder") =>
        {
            // SAFETY: the type says it is a cylinder layer.
            let c = unsafe { &*(layer as *const xr::CompositionLayerCylinderKHR) };
            let central_angle = c.central_angle;
            if !(0.0..=2.0 * std::f32::consts::PI).contains(&central_angle) {
                return Err(Error::validation("centralAngle must be within [0, 2pi]"));
            }
            (
                eyes(c.eye_visibility)?,
                LayerKind::Cylinder {
                    pose: pose_of(&c.pose)?,
                    radius: layer_radius(c.radius)?,
                    central_angle,
                    aspect_ratio: finite_positive(c.aspect_ratio, "aspectRatio")?,
                    image: Some(sub_image(s, &c.sub_image)?),
                },
            )
        }
        xr::StructureType::COMPOSITION_LAYER_EQUIRECT2_KHR
            if inst.has_extension("XR_KHR_composition_layer_equirect2") =>
        {
            // SAFETY: the type says it is an equirect2 layer.
            let e = unsafe { &*(layer as *const xr::CompositionLayerEquirect2KHR) };
            let radius = layer_radius(e.radius)?;
            if !(e.central_horizontal_angle.is_finite()
                && e.central_horizontal_angle > 0.0
                && e.upper_vertical_angle > e.lower_vertical_angle)
            {
                return Err(Error::validation(
                    "the equirect angles describe an empty region",
                ));
            }
            (
                eyes(e.eye_visibility)?,
                LayerKind::Equirect {
                    pose: pose_of(&e.pose)?,
                    radius,
                    central_horizontal_angle: e.central_horizontal_angle,
                    upper_vertical_angle: e.upper_vertical_angle,
                    lower_vertical_angle: e.lower_vertical_angle,
                    image: Some(sub_image(s, &e.sub_image)?),
                },
            )
        }
        xr::StructureType::COMPOSITION_LAYER_CUBE_KHR
            if inst.has_extension("XR_KHR_composition_layer_cube") =>
        {
            // SAFETY: the type says it is a cube layer.
            let c = unsafe { &*(layer as *const xr::CompositionLayerCubeKHR) };
            let pose = pose_of(&xr::Posef {
                orientation: c.orientation,
                position: xr::Vector3f::default(),
            })?;
            let chain = swapchain_of(s, c.swapchain)?;
            (
                eyes(c.eye_visibility)?,
                LayerKind::Cube {
                    orientation: pose.orientation,
                    image: Some(chain.cube_image(c.image_array_index)?),
                },
            )
        }
        other => {
            return Err(Error::layer_invalid(format!(
                "{other:?} is not a layer type this session can take"
            )))
        }
    };
    Ok(Layer {
        stage_from_space,
        blend,
        eyes,
        kind,
    })
}

/// [xrEndFrame](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEndFrame)
pub unsafe extern "system" fn xrEndFrame(
    h: xr::Session,
    info: *const xr::FrameEndInfo,
) -> xr::Result {
    guard("xrEndFrame", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::FrameEndInfo::TYPE, "frameEndInfo")? };
        s.check_can_end_frame()?;
        let mode = info.environment_blend_mode;
        if !matches!(mode.into_raw(), 1..=3) {
            return Err(Error::validation(format!(
                "{mode:?} is not a valid XrEnvironmentBlendMode"
            )));
        }
        if info.layer_count > MAX_LAYERS {
            return Err(Error::layer_limit_exceeded(format!(
                "{} layers; at most {MAX_LAYERS}",
                info.layer_count
            )));
        }
        if info.layer_count > 0 && info.layers.is_null() {
            return Err(Error::layer_invalid(
                "layers is NULL with a non-zero layerCount",
            ));
        }
        let t = Time(info.display_time.as_nanos());
        let mut layers = Vec::with_capacity(info.layer_count as usize);
        // A headless session (XR_MND_headless) shows nothing and has no
        // swapchains, so its layers cannot be composed: they are ignored
        // unread, as in other runtimes (the CTS submits a projection layer
        // without views there).
        let submitted = if s.headless { 0 } else { info.layer_count };
        // SAFETY: layer_count pointers by contract.
        for &l in unsafe { slice(info.layers, submitted, "layers")? } {
            // SAFETY: each null or a layer structure by contract.
            layers.push(unsafe { check_layer(&s, l, t)? });
        }
        s.end_frame(t, mode, layers)?;
        Ok(loss_or(&s, xr::Result::SUCCESS))
    })
}

/// [xrEnumerateSwapchainFormats](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateSwapchainFormats):
/// sRGB colour formats first, then linear and float colour, then depth;
/// none for a headless session.
pub unsafe extern "system" fn xrEnumerateSwapchainFormats(
    h: xr::Session,
    capacity: u32,
    count: *mut u32,
    formats: *mut i64,
) -> xr::Result {
    guard("xrEnumerateSwapchainFormats", |ctx| {
        let s = session(ctx, h)?;
        let list = swapchain::formats(&s);
        // SAFETY: two-call contract of this function.
        unsafe {
            super::two_call(capacity, count, formats, list.len(), |f, i| {
                *f = list[i];
                Ok(())
            })
        }
    })
}

/// [xrCreateSwapchain](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateSwapchain)
pub unsafe extern "system" fn xrCreateSwapchain(
    h: xr::Session,
    info: *const xr::SwapchainCreateInfo,
    out: *mut xr::Swapchain,
) -> xr::Result {
    guard("xrCreateSwapchain", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SwapchainCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "swapchain")? };
        let raw = swapchain::create(
            &s,
            SwapchainCreate {
                create_flags: info.create_flags,
                usage: info.usage_flags,
                format: info.format,
                sample_count: info.sample_count,
                width: info.width,
                height: info.height,
                face_count: info.face_count,
                array_size: info.array_size,
                mip_count: info.mip_count,
            },
        )?;
        *out = xr::Swapchain::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

fn chain(ctx: &mut Ctx, h: xr::Swapchain) -> Result<Arc<Swapchain>> {
    let c = handles::get::<Swapchain>(Kind::Swapchain, h.into_raw())?;
    ctx.instance = Some(c.session.instance.clone());
    ctx.objects.push((xr::ObjectType::SWAPCHAIN, h.into_raw()));
    Ok(c)
}

/// [xrDestroySwapchain](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroySwapchain)
pub unsafe extern "system" fn xrDestroySwapchain(h: xr::Swapchain) -> xr::Result {
    guard("xrDestroySwapchain", |_| {
        swapchain::destroy(h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrEnumerateSwapchainImages](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateSwapchainImages):
/// fills `XrSwapchainImageVulkanKHR` or `XrSwapchainImageOpenGLKHR` structures.
pub unsafe extern "system" fn xrEnumerateSwapchainImages(
    h: xr::Swapchain,
    capacity: u32,
    count: *mut u32,
    images: *mut xr::SwapchainImageBaseHeader,
) -> xr::Result {
    guard("xrEnumerateSwapchainImages", |ctx| {
        let c = chain(ctx, h)?;
        let list = c.images();
        if c.is_opengl() {
            let out = images as *mut xr::SwapchainImageOpenGLKHR;
            // SAFETY: two-call contract; for an OpenGL session the array is
            // of XrSwapchainImageOpenGLKHR (checked by type before writing).
            return unsafe {
                super::two_call_typed(
                    capacity,
                    count,
                    out,
                    list.len(),
                    xr::SwapchainImageOpenGLKHR::TYPE,
                    |img, i| {
                        img.image = list[i] as u32;
                        Ok(())
                    },
                )
            };
        }
        let out = images as *mut xr::SwapchainImageVulkanKHR;
        // SAFETY: two-call contract; for a Vulkan session the array is of
        // XrSwapchainImageVulkanKHR (checked by type before writing).
        unsafe {
            super::two_call_typed(
                capacity,
                count,
                out,
                list.len(),
                xr::SwapchainImageVulkanKHR::TYPE,
                |img, i| {
                    img.image = list[i];
                    Ok(())
                },
            )
        }
    })
}

/// [xrAcquireSwapchainImage](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrAcquireSwapchainImage)
pub unsafe extern "system" fn xrAcquireSwapchainImage(
    h: xr::Swapchain,
    info: *const xr::SwapchainImageAcquireInfo,
    index: *mut u32,
) -> xr::Result {
    guard("xrAcquireSwapchainImage", |ctx| {
        let c = chain(ctx, h)?;
        if !info.is_null() {
            // SAFETY: non-null, a structure by contract.
            unsafe { input(info, xr::SwapchainImageAcquireInfo::TYPE, "acquireInfo")? };
        }
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(index, "index")? };
        *out = c.acquire()?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrWaitSwapchainImage](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrWaitSwapchainImage)
pub unsafe extern "system" fn xrWaitSwapchainImage(
    h: xr::Swapchain,
    info: *const xr::SwapchainImageWaitInfo,
) -> xr::Result {
    guard("xrWaitSwapchainImage", |ctx| {
        let c = chain(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SwapchainImageWaitInfo::TYPE, "waitInfo")? };
        Ok(if c.wait(info.timeout.as_nanos())? {
            xr::Result::SUCCESS
        } else {
            xr::Result::TIMEOUT_EXPIRED
        })
    })
}

/// [xrReleaseSwapchainImage](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrReleaseSwapchainImage)
pub unsafe extern "system" fn xrReleaseSwapchainImage(
    h: xr::Swapchain,
    info: *const xr::SwapchainImageReleaseInfo,
) -> xr::Result {
    guard("xrReleaseSwapchainImage", |ctx| {
        let c = chain(ctx, h)?;
        if !info.is_null() {
            // SAFETY: non-null, a structure by contract.
            unsafe { input(info, xr::SwapchainImageReleaseInfo::TYPE, "releaseInfo")? };
        }
        c.release()?;
        Ok(xr::Result::SUCCESS)
    })
}
