//! Space entry points: reference and action spaces, locating spaces and views.

use super::session::session;
use super::{
    from_fov, from_pose, from_vec3, guard, input, out_ptr, output, slice, to_pose, two_call,
    two_call_typed, Ctx,
};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::action::Action;
use parallax_runtime::space::{self, Location, Space};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use parallax_sdk::types::Time;
use std::ffi::c_void;
use std::sync::Arc;

pub(super) fn get_space(ctx: &mut Ctx, h: xr::Space) -> Result<Arc<Space>> {
    let s = handles::get::<Space>(Kind::Space, h.into_raw())?;
    ctx.instance = Some(s.session.instance.clone());
    ctx.objects.push((xr::ObjectType::SPACE, h.into_raw()));
    Ok(s)
}

/// A value outside the enum (an app built against a newer header, or
/// garbage) is a space type this runtime does not support: the CTS expects
/// `XR_ERROR_REFERENCE_SPACE_UNSUPPORTED` for it, which apps can act on.
fn check_reference_type(t: xr::ReferenceSpaceType) -> Result<()> {
    match t.into_raw() {
        1..=3 | 1_000_426_000 | 1_000_038_000 | 1_000_121_000 | 1_000_139_000 => Ok(()),
        _ => Err(Error::reference_space_unsupported(format!(
            "{t:?} is not a reference space type this runtime knows"
        ))),
    }
}

/// [xrEnumerateReferenceSpaces](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrEnumerateReferenceSpaces)
pub unsafe extern "system" fn xrEnumerateReferenceSpaces(
    h: xr::Session,
    capacity: u32,
    count: *mut u32,
    out: *mut xr::ReferenceSpaceType,
) -> xr::Result {
    guard("xrEnumerateReferenceSpaces", |ctx| {
        let s = session(ctx, h)?;
        let types = space::reference_space_types(&s);
        // SAFETY: two-call contract of this function.
        unsafe {
            two_call(capacity, count, out, types.len(), |t, i| {
                *t = types[i];
                Ok(())
            })
        }
    })
}

/// [xrCreateReferenceSpace](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateReferenceSpace)
pub unsafe extern "system" fn xrCreateReferenceSpace(
    h: xr::Session,
    info: *const xr::ReferenceSpaceCreateInfo,
    out: *mut xr::Space,
) -> xr::Result {
    guard("xrCreateReferenceSpace", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::ReferenceSpaceCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "space")? };
        check_reference_type(info.reference_space_type)?;
        let raw = space::create_reference(
            &s,
            info.reference_space_type,
            to_pose(&info.pose_in_reference_space),
        )?;
        *out = xr::Space::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetReferenceSpaceBoundsRect](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetReferenceSpaceBoundsRect)
pub unsafe extern "system" fn xrGetReferenceSpaceBoundsRect(
    h: xr::Session,
    ty: xr::ReferenceSpaceType,
    bounds: *mut xr::Extent2Df,
) -> xr::Result {
    guard("xrGetReferenceSpaceBoundsRect", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(bounds, "bounds")? };
        check_reference_type(ty)?;
        match space::bounds(&s, ty)? {
            Some((w, d)) => {
                *out = xr::Extent2Df {
                    width: w,
                    height: d,
                };
                Ok(xr::Result::SUCCESS)
            }
            None => {
                *out = xr::Extent2Df {
                    width: 0.0,
                    height: 0.0,
                };
                Ok(xr::Result::SPACE_BOUNDS_UNAVAILABLE)
            }
        }
    })
}

/// [xrCreateActionSpace](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateActionSpace)
pub unsafe extern "system" fn xrCreateActionSpace(
    h: xr::Session,
    info: *const xr::ActionSpaceCreateInfo,
    out: *mut xr::Space,
) -> xr::Result {
    guard("xrCreateActionSpace", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::ActionSpaceCreateInfo::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "space")? };
        let action = handles::get::<Action>(Kind::Action, info.action.into_raw())?;
        if !Arc::ptr_eq(&action.set.instance, &s.instance) {
            return Err(Error::handle_invalid(
                "the action belongs to another instance",
            ));
        }
        if action.ty != xr::ActionType::POSE_INPUT {
            return Err(Error::action_type_mismatch(format!(
                "action {} is not a pose action",
                action.name
            )));
        }
        let sub = info.subaction_path.into_raw();
        if sub != 0 {
            let p = s.instance.path_to_string(sub)?;
            if !action.subaction_paths.contains(&sub) {
                return Err(Error::path_unsupported(format!(
                    "{p} is not a subaction path of action {}",
                    action.name
                )));
            }
        }
        let raw = space::create_action_space(
            &s,
            info.action.into_raw(),
            sub,
            to_pose(&info.pose_in_action_space),
        )?;
        *out = xr::Space::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroySpace](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroySpace)
pub unsafe extern "system" fn xrDestroySpace(h: xr::Space) -> xr::Result {
    guard("xrDestroySpace", |_| {
        handles::remove(Kind::Space, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// Fills the chained `XrSpaceVelocity` of an `XrSpaceLocation`, if any.
///
/// # Safety
/// `next` is null or the head of a valid output structure chain.
unsafe fn write_velocity(mut next: *mut c_void, loc: &Location) {
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseOutStructure.
        let base = unsafe { &mut *(next as *mut xr::BaseOutStructure) };
        if base.ty == xr::SpaceVelocity::TYPE {
            // SAFETY: the type says it is an XrSpaceVelocity.
            let v = unsafe { &mut *(next as *mut xr::SpaceVelocity) };
            v.velocity_flags = loc.velocity_flags;
            v.linear_velocity = from_vec3(loc.velocity.linear);
            v.angular_velocity = from_vec3(loc.velocity.angular);
        }
        next = base.next as *mut c_void;
    }
}

/// [xrLocateSpace](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrLocateSpace)
pub unsafe extern "system" fn xrLocateSpace(
    h: xr::Space,
    base: xr::Space,
    time: xr::Time,
    location: *mut xr::SpaceLocation,
) -> xr::Result {
    guard("xrLocateSpace", |ctx| {
        let sp = get_space(ctx, h)?;
        let b = get_space(ctx, base)?;
        // SAFETY: contract of this function.
        let out = unsafe { output(location, xr::SpaceLocation::TYPE, "location")? };
        let loc = space::locate(&sp, &b, Time(time.as_nanos()))?;
        out.location_flags = loc.flags;
        out.pose = from_pose(&loc.pose);
        // SAFETY: the output's next chain by contract.
        unsafe { write_velocity(out.next, &loc) };
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrLocateSpaces](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrLocateSpaces)
/// (also `xrLocateSpacesKHR`).
pub unsafe extern "system" fn xrLocateSpaces(
    h: xr::Session,
    info: *const xr::SpacesLocateInfo,
    locations: *mut xr::SpaceLocations,
) -> xr::Result {
    guard("xrLocateSpaces", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::SpacesLocateInfo::TYPE, "locateInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { output(locations, xr::SpaceLocations::TYPE, "spaceLocations")? };
        if info.space_count == 0 {
            return Err(Error::validation("spaceCount must be greater than 0"));
        }
        if out.location_count != info.space_count {
            return Err(Error::validation(format!(
                "locationCount {} != spaceCount {}",
                out.location_count, info.space_count
            )));
        }
        let base = get_space(ctx, info.base_space)?;
        if !Arc::ptr_eq(&base.session, &s) {
            return Err(Error::validation("baseSpace belongs to another session"));
        }
        // SAFETY: space_count handles by contract.
        let spaces = unsafe { slice(info.spaces, info.space_count, "spaces")? };
        let t = Time(info.time.as_nanos());
        if t.0 <= 0 {
            return Err(Error::time_invalid(format!(
                "time {} is not a valid XrTime",
                t.0
            )));
        }
        let mut locs = Vec::with_capacity(spaces.len());
        for &h in spaces {
            let sp = handles::get::<Space>(Kind::Space, h.into_raw())?;
            if !Arc::ptr_eq(&sp.session, &s) {
                return Err(Error::validation("a space belongs to another session"));
            }
            locs.push(space::locate(&sp, &base, t)?);
        }
        // Velocities are chained as XrSpaceVelocities.
        let mut velocities: Option<&mut xr::SpaceVelocities> = None;
        let mut next = out.next;
        while !next.is_null() {
            // SAFETY: each chain element starts with XrBaseOutStructure.
            let b = unsafe { &mut *(next as *mut xr::BaseOutStructure) };
            if b.ty == xr::SpaceVelocities::TYPE {
                // SAFETY: the type says it is an XrSpaceVelocities.
                let v = unsafe { &mut *(next as *mut xr::SpaceVelocities) };
                if v.velocity_count != info.space_count {
                    return Err(Error::validation("velocityCount != spaceCount"));
                }
                velocities = Some(v);
                break;
            }
            next = b.next as *mut c_void;
        }
        if out.locations.is_null() {
            return Err(Error::validation("locations is NULL"));
        }
        for (i, l) in locs.iter().enumerate() {
            // SAFETY: location_count (== space_count) elements by contract.
            let d = unsafe { &mut *out.locations.add(i) };
            d.location_flags = l.flags;
            d.pose = from_pose(&l.pose);
            if let Some(v) = velocities.as_deref_mut() {
                if v.velocities.is_null() {
                    return Err(Error::validation("velocities is NULL"));
                }
                // SAFETY: velocity_count (== space_count) elements by contract.
                let dv = unsafe { &mut *v.velocities.add(i) };
                dv.velocity_flags = l.velocity_flags;
                dv.linear_velocity = from_vec3(l.velocity.linear);
                dv.angular_velocity = from_vec3(l.velocity.angular);
            }
        }
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrLocateViews](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrLocateViews)
pub unsafe extern "system" fn xrLocateViews(
    h: xr::Session,
    info: *const xr::ViewLocateInfo,
    state: *mut xr::ViewState,
    capacity: u32,
    count: *mut u32,
    views: *mut xr::View,
) -> xr::Result {
    guard("xrLocateViews", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::ViewLocateInfo::TYPE, "viewLocateInfo")? };
        // SAFETY: contract of this function.
        let st = unsafe { output(state, xr::ViewState::TYPE, "viewState")? };
        let base = get_space(ctx, info.space)?;
        let vc = info.view_configuration_type;
        if !matches!(vc.into_raw(), 1..=3 | 1_000_037_000 | 1_000_054_000) {
            return Err(Error::validation(format!(
                "{vc:?} is not a valid XrViewConfigurationType"
            )));
        }
        let (flags, located) =
            space::locate_views(&s, vc, &base, Time(info.display_time.as_nanos()))?;
        // SAFETY: two-call contract of this function.
        let r = unsafe {
            two_call_typed(
                capacity,
                count,
                views,
                located.len(),
                xr::View::TYPE,
                |v, i| {
                    v.pose = from_pose(&located[i].pose);
                    v.fov = from_fov(&located[i].fov);
                    Ok(())
                },
            )?
        };
        st.view_state_flags = flags;
        Ok(r)
    })
}

/// [xrGetVisibilityMaskKHR](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetVisibilityMaskKHR):
/// both arrays follow the two-call idiom together.
pub unsafe extern "system" fn xrGetVisibilityMaskKHR(
    h: xr::Session,
    view_configuration: xr::ViewConfigurationType,
    view_index: u32,
    kind: xr::VisibilityMaskTypeKHR,
    mask: *mut xr::VisibilityMaskKHR,
) -> xr::Result {
    guard("xrGetVisibilityMaskKHR", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let m = unsafe { output(mask, xr::VisibilityMaskKHR::TYPE, "visibilityMask")? };
        let (vertices, indices) = space::visibility_mask(&s, view_configuration, view_index, kind)?;
        m.vertex_count_output = vertices.len() as u32;
        m.index_count_output = indices.len() as u32;
        if m.vertex_capacity_input == 0 || m.index_capacity_input == 0 {
            return Ok(xr::Result::SUCCESS);
        }
        if (m.vertex_capacity_input as usize) < vertices.len()
            || (m.index_capacity_input as usize) < indices.len()
        {
            return Err(Error::size_insufficient(
                "vertex or index capacity too small",
            ));
        }
        if m.vertices.is_null() || m.indices.is_null() {
            return Err(Error::validation(
                "vertices or indices is NULL with a non-zero capacity",
            ));
        }
        for (i, v) in vertices.iter().enumerate() {
            // SAFETY: i < vertex_capacity_input elements by contract.
            unsafe { *m.vertices.add(i) = xr::Vector2f { x: v.x, y: v.y } };
        }
        for (i, v) in indices.iter().enumerate() {
            // SAFETY: i < index_capacity_input elements by contract.
            unsafe { *m.indices.add(i) = *v };
        }
        Ok(xr::Result::SUCCESS)
    })
}
