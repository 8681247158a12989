//! `XR_EXT_hand_tracking` entry points (with the motion range of
//! `XR_EXT_hand_joints_motion_range` read from the locate info's chain).

use super::session::session;
use super::space::get_space;
use super::{from_pose, from_vec3, guard, input, out_ptr, output, Ctx};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::hand::{self, HandTracker, MotionRange};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use parallax_sdk::types::{Hand, Time, HAND_JOINT_COUNT};
use std::ffi::c_void;
use std::sync::Arc;

fn tracker(ctx: &mut Ctx, h: xr::HandTrackerEXT) -> Result<Arc<HandTracker>> {
    super::session_child(
        ctx,
        Kind::HandTracker,
        xr::ObjectType::HAND_TRACKER_EXT,
        h.into_raw(),
        |t: &HandTracker| &t.session,
    )
}

/// [xrCreateHandTrackerEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateHandTrackerEXT)
pub unsafe extern "system" fn xrCreateHandTrackerEXT(
    h: xr::Session,
    info: *const xr::HandTrackerCreateInfoEXT,
    out: *mut xr::HandTrackerEXT,
) -> xr::Result {
    guard("xrCreateHandTrackerEXT", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::HandTrackerCreateInfoEXT::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "handTracker")? };
        let hand = match info.hand {
            xr::HandEXT::LEFT => Hand::Left,
            xr::HandEXT::RIGHT => Hand::Right,
            other => {
                return Err(Error::validation(format!(
                    "{other:?} is not a valid XrHandEXT"
                )))
            }
        };
        // Only the default set is offered (HAND_WITH_FOREARM_ULTRA belongs
        // to an extension this runtime does not have).
        if info.hand_joint_set != xr::HandJointSetEXT::DEFAULT {
            return Err(Error::validation(format!(
                "{:?} is not a valid XrHandJointSetEXT here (only XR_HAND_JOINT_SET_DEFAULT_EXT)",
                info.hand_joint_set
            )));
        }
        let raw = hand::create(&s, hand)?;
        *out = xr::HandTrackerEXT::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyHandTrackerEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyHandTrackerEXT)
pub unsafe extern "system" fn xrDestroyHandTrackerEXT(h: xr::HandTrackerEXT) -> xr::Result {
    guard("xrDestroyHandTrackerEXT", |_| {
        handles::remove(Kind::HandTracker, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// The motion range chained to the locate info (when the app enabled
/// `XR_EXT_hand_joints_motion_range`; otherwise the structure is unknown
/// and skipped, as every unknown structure is).
///
/// # Safety
/// `next` is null or the head of a valid input structure chain.
unsafe fn motion_range(mut next: *const c_void, enabled: bool) -> Result<MotionRange> {
    let mut range = MotionRange::Unobstructed;
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseInStructure.
        let base = unsafe { &*(next as *const xr::BaseInStructure) };
        if enabled && base.ty == xr::HandJointsMotionRangeInfoEXT::TYPE {
            // SAFETY: the type says it is an XrHandJointsMotionRangeInfoEXT.
            let m = unsafe { &*(next as *const xr::HandJointsMotionRangeInfoEXT) };
            range = match m.hand_joints_motion_range {
                xr::HandJointsMotionRangeEXT::UNOBSTRUCTED => MotionRange::Unobstructed,
                xr::HandJointsMotionRangeEXT::CONFORMING_TO_CONTROLLER => {
                    MotionRange::ConformingToController
                }
                other => {
                    return Err(Error::validation(format!(
                        "{other:?} is not a valid XrHandJointsMotionRangeEXT"
                    )))
                }
            };
        }
        next = base.next as *const c_void;
    }
    Ok(range)
}

/// The `XrHandJointVelocitiesEXT` chained to the locations, if any.
///
/// # Safety
/// `next` is null or the head of a valid output structure chain.
unsafe fn velocities<'a>(
    mut next: *mut c_void,
) -> Result<Option<&'a mut xr::HandJointVelocitiesEXT>> {
    while !next.is_null() {
        // SAFETY: each chain element starts with XrBaseOutStructure.
        let base = unsafe { &mut *(next as *mut xr::BaseOutStructure) };
        if base.ty == xr::HandJointVelocitiesEXT::TYPE {
            // SAFETY: the type says it is an XrHandJointVelocitiesEXT.
            let v = unsafe { &mut *(next as *mut xr::HandJointVelocitiesEXT) };
            if v.joint_count as usize != HAND_JOINT_COUNT {
                return Err(Error::validation(format!(
                    "XrHandJointVelocitiesEXT::jointCount is {}, the default joint set has {HAND_JOINT_COUNT}",
                    v.joint_count
                )));
            }
            if v.joint_velocities.is_null() {
                return Err(Error::validation("jointVelocities is NULL"));
            }
            return Ok(Some(v));
        }
        next = base.next as *mut c_void;
    }
    Ok(None)
}

/// [xrLocateHandJointsEXT](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrLocateHandJointsEXT)
pub unsafe extern "system" fn xrLocateHandJointsEXT(
    h: xr::HandTrackerEXT,
    info: *const xr::HandJointsLocateInfoEXT,
    locations: *mut xr::HandJointLocationsEXT,
) -> xr::Result {
    guard("xrLocateHandJointsEXT", |ctx| {
        let t = tracker(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::HandJointsLocateInfoEXT::TYPE, "locateInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { output(locations, xr::HandJointLocationsEXT::TYPE, "locations")? };
        let base = get_space(ctx, info.base_space)?;
        let enabled = t
            .session
            .instance
            .has_extension("XR_EXT_hand_joints_motion_range");
        // SAFETY: the input's next chain by contract.
        let range = unsafe { motion_range(info.next, enabled)? };
        if out.joint_count as usize != HAND_JOINT_COUNT {
            return Err(Error::validation(format!(
                "jointCount is {}, the default joint set has {HAND_JOINT_COUNT}",
                out.joint_count
            )));
        }
        if out.joint_locations.is_null() {
            return Err(Error::validation("jointLocations is NULL"));
        }
        // SAFETY: the output's next chain by contract.
        let vel = unsafe { velocities(out.next)? };
        let located = hand::locate(&t, &base, Time(info.time.as_nanos()), range)?;
        out.is_active = located.active.into();
        // SAFETY: jointCount (checked: 26) elements by contract.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.joint_locations, HAND_JOINT_COUNT) };
        for (d, j) in dst.iter_mut().zip(&located.joints) {
            d.location_flags = j.flags;
            d.pose = from_pose(&j.pose);
            d.radius = j.radius;
        }
        if let Some(v) = vel {
            // SAFETY: jointCount (checked: 26) elements by contract.
            let dst =
                unsafe { std::slice::from_raw_parts_mut(v.joint_velocities, HAND_JOINT_COUNT) };
            for (d, j) in dst.iter_mut().zip(&located.joints) {
                d.velocity_flags = j.velocity_flags;
                d.linear_velocity = from_vec3(j.velocity.linear);
                d.angular_velocity = from_vec3(j.velocity.angular);
            }
        }
        Ok(xr::Result::SUCCESS)
    })
}
