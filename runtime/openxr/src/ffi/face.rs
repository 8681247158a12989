//! `XR_FB_face_tracking2` and `XR_HTC_facial_tracking` entry points.

use super::session::session;
use super::{guard, input, out_ptr, output, slice, Ctx};
use openxr_sys as xr;
use openxr_sys::Handle;
use parallax_runtime::face::{
    self, DataSource, FaceTracker, FacialTrackerHtc, HtcSet, FB2_CONFIDENCE_COUNT, FB2_COUNT,
};
use parallax_runtime::{handles, handles::Kind, Error, Result};
use parallax_sdk::types::Time;
use std::sync::Arc;

fn tracker(ctx: &mut Ctx, h: xr::FaceTracker2FB) -> Result<Arc<FaceTracker>> {
    super::session_child(
        ctx,
        Kind::FaceTracker2,
        xr::ObjectType::FACE_TRACKER2_FB,
        h.into_raw(),
        |t: &FaceTracker| &t.session,
    )
}

/// [xrCreateFaceTracker2FB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateFaceTracker2FB)
pub unsafe extern "system" fn xrCreateFaceTracker2FB(
    h: xr::Session,
    info: *const xr::FaceTrackerCreateInfo2FB,
    out: *mut xr::FaceTracker2FB,
) -> xr::Result {
    guard("xrCreateFaceTracker2FB", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::FaceTrackerCreateInfo2FB::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "faceTracker")? };
        if info.face_expression_set != xr::FaceExpressionSet2FB::DEFAULT {
            return Err(Error::validation(format!(
                "{:?} is not a valid XrFaceExpressionSet2FB",
                info.face_expression_set
            )));
        }
        // SAFETY: requestedDataSourceCount elements by contract.
        let requested = unsafe {
            slice(
                info.requested_data_sources as *const xr::FaceTrackingDataSource2FB,
                info.requested_data_source_count,
                "requestedDataSources",
            )?
        };
        let accepted = requested
            .iter()
            .map(|d| match *d {
                xr::FaceTrackingDataSource2FB::VISUAL => Ok(DataSource::Visual),
                xr::FaceTrackingDataSource2FB::AUDIO => Ok(DataSource::Audio),
                other => Err(Error::validation(format!(
                    "{other:?} is not a valid XrFaceTrackingDataSource2FB"
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        let raw = face::create(&s, &accepted)?;
        *out = xr::FaceTracker2FB::from_raw(raw);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyFaceTracker2FB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyFaceTracker2FB)
pub unsafe extern "system" fn xrDestroyFaceTracker2FB(h: xr::FaceTracker2FB) -> xr::Result {
    guard("xrDestroyFaceTracker2FB", |_| {
        handles::remove(Kind::FaceTracker2, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetFaceExpressionWeights2FB](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetFaceExpressionWeights2FB)
pub unsafe extern "system" fn xrGetFaceExpressionWeights2FB(
    h: xr::FaceTracker2FB,
    info: *const xr::FaceExpressionInfo2FB,
    weights: *mut xr::FaceExpressionWeights2FB,
) -> xr::Result {
    guard("xrGetFaceExpressionWeights2FB", |ctx| {
        let t = tracker(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::FaceExpressionInfo2FB::TYPE, "expressionInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe {
            output(
                weights,
                xr::FaceExpressionWeights2FB::TYPE,
                "expressionWeights",
            )?
        };
        if out.weight_count as usize != FB2_COUNT {
            return Err(Error::validation(format!(
                "weightCount is {}, XR_FACE_EXPRESSION_SET2_DEFAULT_FB has {FB2_COUNT} blend shapes",
                out.weight_count
            )));
        }
        if out.confidence_count as usize != FB2_CONFIDENCE_COUNT {
            return Err(Error::validation(format!(
                "confidenceCount is {}, XR_FACE_CONFIDENCE2_COUNT_FB is {FB2_CONFIDENCE_COUNT}",
                out.confidence_count
            )));
        }
        if out.weights.is_null() || out.confidences.is_null() {
            return Err(Error::validation("weights or confidences is NULL"));
        }
        let got = face::weights(&t, Time(info.time.as_nanos()))?;
        // SAFETY: weightCount (checked: 70) writable floats by contract.
        unsafe { std::slice::from_raw_parts_mut(out.weights, FB2_COUNT) }
            .copy_from_slice(&got.weights);
        // SAFETY: confidenceCount (checked: 2) writable floats by contract.
        unsafe { std::slice::from_raw_parts_mut(out.confidences, FB2_CONFIDENCE_COUNT) }
            .copy_from_slice(&got.confidences);
        out.is_valid = got.valid.into();
        out.is_eye_following_blendshapes_valid = got.eyes_valid.into();
        out.data_source = xr::FaceTrackingDataSource2FB::VISUAL;
        out.time = xr::Time::from_nanos(got.time.0);
        Ok(xr::Result::SUCCESS)
    })
}

fn htc_tracker(ctx: &mut Ctx, h: xr::FacialTrackerHTC) -> Result<Arc<FacialTrackerHtc>> {
    super::session_child(
        ctx,
        Kind::FacialTrackerHtc,
        xr::ObjectType::FACIAL_TRACKER_HTC,
        h.into_raw(),
        |t: &FacialTrackerHtc| &t.session,
    )
}

/// [xrCreateFacialTrackerHTC](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrCreateFacialTrackerHTC)
pub unsafe extern "system" fn xrCreateFacialTrackerHTC(
    h: xr::Session,
    info: *const xr::FacialTrackerCreateInfoHTC,
    out: *mut xr::FacialTrackerHTC,
) -> xr::Result {
    guard("xrCreateFacialTrackerHTC", |ctx| {
        let s = session(ctx, h)?;
        // SAFETY: contract of this function.
        let info = unsafe { input(info, xr::FacialTrackerCreateInfoHTC::TYPE, "createInfo")? };
        // SAFETY: contract of this function.
        let out = unsafe { out_ptr(out, "facialTracker")? };
        let set = match info.facial_tracking_type {
            xr::FacialTrackingTypeHTC::EYE_DEFAULT => HtcSet::Eye,
            xr::FacialTrackingTypeHTC::LIP_DEFAULT => HtcSet::Lip,
            other => {
                return Err(Error::validation(format!(
                    "{other:?} is not a valid XrFacialTrackingTypeHTC"
                )))
            }
        };
        *out = xr::FacialTrackerHTC::from_raw(face::create_htc(&s, set)?);
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrDestroyFacialTrackerHTC](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrDestroyFacialTrackerHTC)
pub unsafe extern "system" fn xrDestroyFacialTrackerHTC(h: xr::FacialTrackerHTC) -> xr::Result {
    guard("xrDestroyFacialTrackerHTC", |_| {
        handles::remove(Kind::FacialTrackerHtc, h.into_raw())?;
        Ok(xr::Result::SUCCESS)
    })
}

/// [xrGetFacialExpressionsHTC](https://registry.khronos.org/OpenXR/specs/1.1/html/xrspec.html#xrGetFacialExpressionsHTC)
pub unsafe extern "system" fn xrGetFacialExpressionsHTC(
    h: xr::FacialTrackerHTC,
    expressions: *mut xr::FacialExpressionsHTC,
) -> xr::Result {
    guard("xrGetFacialExpressionsHTC", |ctx| {
        let t = htc_tracker(ctx, h)?;
        // SAFETY: contract of this function.
        let out = unsafe {
            output(
                expressions,
                xr::FacialExpressionsHTC::TYPE,
                "facialExpressions",
            )?
        };
        let n = t.set.count();
        if (out.expression_count as usize) < n {
            return Err(Error::validation(format!(
                "expressionCount is {}, the {:?} set has {n} expressions",
                out.expression_count, t.set
            )));
        }
        if out.expression_weightings.is_null() {
            return Err(Error::validation("expressionWeightings is NULL"));
        }
        // SAFETY: at least expressionCount (checked: >= n) writable floats
        // by contract.
        let dst = unsafe { std::slice::from_raw_parts_mut(out.expression_weightings, n) };
        let (active, time) = face::htc_expressions(&t, dst);
        out.is_active = active.into();
        out.sample_time = xr::Time::from_nanos(time.0);
        Ok(xr::Result::SUCCESS)
    })
}
