//! `XR_FB_body_tracking` entry points.

use super::session::session;
use super::space::get_space;
use super::{from_pose, guard, input, out_ptr, output, Ctx};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::body::{self, BodyTracker, JOINT_COUNT};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use parallax_sdk::types::Time;
use std::sync::Arc;

fn tracker(ctx: &mut Ctx, h: xr::BodyTrackerFB) -> Result<Arc<BodyTracker>> {
    super::session_child(
        ctx,
        Kind::BodyTracker,
        xr::ObjectType::BODY_TRACKER_FB,
        h.into_raw(),
        |t: &BodyTracker| &t.session,
    )
}

/// [xrCreateBodyTrackerFB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateBodyTrackerFB)
pub unsafe extern "system" fn xrCreateBodyTrackerFB(
    h: xr::Session,
    info: *const xr::BodyTrackerCreateInfoFB,
    out: *mut xr::BodyTrackerFB,
) -> xr::Result {
    guard("xrCreateBodyTrackerFB", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::BodyTrackerCreateInfoFB::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "bodyTracker")? };
        // Only the default set (the full-body set belongs to
        // XR_META_body_tracking_full_body, not offered here).
        if info.body_joint_set != xr::BodyJointSetFB::DEFAULT {
            return Err(Error::validation(format!(
                "{:?} is not a valid XrBodyJointSetFB here (only XR_BODY_JOINT_SET_DEFAULT_FB)",
                info.body_joint_set
            )));
        }
        *out = xr::BodyTrackerFB::from_raw(body::create(&s)?);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyBodyTrackerFB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyBodyTrackerFB)
pub unsafe extern "system" fn xrDestroyBodyTrackerFB(h: xr::BodyTrackerFB) -> xr::Result {
    guard("xrDestroyBodyTrackerFB", |_| {
        handles::remove(Kind::BodyTracker, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrLocateBodyJointsFB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrLocateBodyJointsFB)
pub unsafe extern "system" fn xrLocateBodyJointsFB(
    h: xr::BodyTrackerFB,
    info: *const xr::BodyJointsLocateInfoFB,
    locations: *mut xr::BodyJointLocationsFB,
) -> xr::Result {
    guard("xrLocateBodyJointsFB", |ctx| {
        let t = tracker(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::BodyJointsLocateInfoFB::TYPE, "locateInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { output(locations, xr::BodyJointLocationsFB::TYPE, "locations")? };
        let base = get_space(ctx, info.base_space)?;
        if out.joint_count as usize != JOINT_COUNT {
            return Err(Error::validation(format!(
                "jointCount is {}, XR_BODY_JOINT_SET_DEFAULT_FB has {JOINT_COUNT} joints",
                out.joint_count
            )));
        }
        if out.joint_locations.is_null() {
            return Err(Error::validation("jointLocations is NULL"));
        }
        let located = body::locate(&t, &base, Time(info.time.as_nanos()))?;
        out.is_active = located.active.into();
        out.confidence = located.confidence;
        out.skeleton_changed_count = located.skeleton_changed_count;
        out.time = xr::Time::from_nanos(located.time.0);
        // SAFETY: jointCount (checked: 70) elements by contract.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.joint_locations, JOINT_COUNT) };
        for (d, j) in dst.iter_mut().zip(&located.joints) {
            d.location_flags = j.flags;
            d.pose = from_pose(&j.pose);
        }
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetBodySkeletonFB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetBodySkeletonFB)
pub unsafe extern "system" fn xrGetBodySkeletonFB(
    h: xr::BodyTrackerFB,
    skeleton: *mut xr::BodySkeletonFB,
) -> xr::Result {
    guard("xrGetBodySkeletonFB", |ctx| {
        let t = tracker(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe { output(skeleton, xr::BodySkeletonFB::TYPE, "skeleton")? };
        if out.joint_count as usize != JOINT_COUNT {
            return Err(Error::validation(format!(
                "jointCount is {}, XR_BODY_JOINT_SET_DEFAULT_FB has {JOINT_COUNT} joints",
                out.joint_count
            )));
        }
        if out.joints.is_null() {
            return Err(Error::validation("joints is NULL"));
        }
        let joints = body::skeleton(&t);
        // SAFETY: jointCount (checked: 70) elements by contract.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.joints, JOINT_COUNT) };
        for (d, j) in dst.iter_mut().zip(&joints) {
            d.joint = j.joint as i32;
            // The root's parent: XR_BODY_JOINT_NONE_FB (-1).
            d.parent_joint = j.parent.map_or(-1, |p| p as i32);
            d.pose = from_pose(&j.pose);
        }
        Ok(xr::Result::SUCCESS)
    })
}
