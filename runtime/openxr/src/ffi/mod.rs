//! The FFI boundary: every OpenXR entry point and the helpers they share.
//!
//! Helpers here are the only code that reads or writes app memory. Each
//! `unsafe fn` documents what its caller guarantees; the thunks' guarantee
//! is the OpenXR valid-usage contract, checked as far as a runtime can
//! (null pointers, structure types, handles, counts).
#![allow(non_snake_case)]
// Every thunk has one safety contract, the OpenXR valid-usage rules for its
// arguments (module docs above); repeating it on ~70 functions adds nothing.
#![allow(clippy::missing_safety_doc)]

pub mod action;
pub mod body;
pub mod debug;
pub mod dispatch;
pub mod face;
pub mod hand;
pub mod instance;
pub mod negotiate;
pub mod opengl;
pub mod session;
pub mod space;
pub mod vulkan;

use openxr_sys as xr;
use parallax_runtime::instance::Instance;
use parallax_runtime::{Error, Result};
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Context a thunk fills in so that failures reach the right messengers.
#[derive(Default)]
pub struct Ctx {
    pub instance: Option<Arc<Instance>>,
    pub objects: Vec<(xr::ObjectType, u64)>,
}

/// A session's child object (tracker, ...) by handle, noted in `ctx` for
/// error reports (its instance and the object).
pub fn session_child<T: Send + Sync + 'static>(
    ctx: &mut Ctx,
    kind: parallax_runtime::handles::Kind,
    ty: xr::ObjectType,
    raw: u64,
    session: impl Fn(&T) -> &Arc<parallax_runtime::session::Session>,
) -> Result<Arc<T>> {
    let t = parallax_runtime::handles::get::<T>(kind, raw)?;
    ctx.instance = Some(session(&t).instance.clone());
    ctx.objects.push((ty, raw));
    Ok(t)
}

/// Runs a thunk body: catches panics (`XR_ERROR_RUNTIME_FAILURE`, logged with
/// the function name), maps errors, and reports failures to `tracing` and to
/// the instance's debug messengers.
pub fn guard(
    function: &'static str,
    body: impl FnOnce(&mut Ctx) -> Result<xr::Result>,
) -> xr::Result {
    let mut ctx = Ctx::default();
    let outcome = catch_unwind(AssertUnwindSafe(|| body(&mut ctx)));
    match outcome {
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            report(&ctx, function, &e);
            e.code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(function, "panic inside the runtime: {what}");
            let e = Error::runtime_failure(format!("internal error: {what}"));
            report(&ctx, function, &e);
            xr::Result::ERROR_RUNTIME_FAILURE
        }
    }
}

fn report(ctx: &Ctx, function: &'static str, e: &Error) {
    tracing::debug!(function, code = ?e.code, "{}", e.message);
    if let Some(inst) = &ctx.instance {
        let severity = if e.code == xr::Result::ERROR_RUNTIME_FAILURE {
            xr::DebugUtilsMessageSeverityFlagsEXT::ERROR
        } else {
            xr::DebugUtilsMessageSeverityFlagsEXT::WARNING
        };
        inst.debug_message(
            severity,
            function,
            format!("{function}: {}", e),
            ctx.objects.clone(),
            false,
        );
    }
}

/// Reads an input structure after checking the pointer and its `type`.
///
/// # Safety
/// `p` is null or points to a readable `T` whose first field is an
/// `XrStructureType` (every OpenXR input structure), valid for `'a`.
pub unsafe fn input<'a, T>(p: *const T, ty: xr::StructureType, what: &str) -> Result<&'a T> {
    if p.is_null() {
        return Err(Error::validation(format!("{what} is NULL")));
    }
    // SAFETY: non-null and, by the caller's contract, an OpenXR structure
    // that starts with its structure type.
    let actual = unsafe { *(p as *const xr::StructureType) };
    if actual != ty {
        return Err(Error::validation(format!(
            "{what}->type is {actual:?}, expected {ty:?}"
        )));
    }
    // SAFETY: as above; the app keeps it alive for the call.
    Ok(unsafe { &*p })
}

/// Checks an output structure (pointer and `type`) and returns it.
///
/// # Safety
/// As [`input`], and the structure is writable.
pub unsafe fn output<'a, T>(p: *mut T, ty: xr::StructureType, what: &str) -> Result<&'a mut T> {
    // SAFETY: forwarded contract.
    unsafe { input(p as *const T, ty, what)? };
    // SAFETY: checked non-null; writable by contract.
    Ok(unsafe { &mut *p })
}

/// Checks a plain output pointer.
///
/// # Safety
/// `p` is null or points to writable memory for a `T` valid for `'a`.
pub unsafe fn out_ptr<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T> {
    if p.is_null() {
        return Err(Error::validation(format!("{what} is NULL")));
    }
    // SAFETY: non-null and writable by contract.
    Ok(unsafe { &mut *p })
}

/// A NUL-terminated UTF-8 string from a pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string.
pub unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::validation(format!("{what} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated by contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::validation(format!("{what} is not valid UTF-8")))
}

/// A string from a fixed-size `char` array, which must hold a NUL.
pub fn fixed_str<'a>(a: &'a [c_char], what: &str) -> Result<&'a str> {
    // SAFETY: reinterpreting c_char (i8 or u8) as u8 of the same size.
    let bytes: &[u8] = unsafe { std::slice::from_raw_parts(a.as_ptr() as *const u8, a.len()) };
    let end = bytes.iter().position(|&b| b == 0).ok_or_else(|| {
        Error::validation(format!(
            "{what} is not NUL-terminated within its {} bytes",
            a.len()
        ))
    })?;
    std::str::from_utf8(&bytes[..end])
        .map_err(|_| Error::validation(format!("{what} is not valid UTF-8")))
}

/// Writes a string into a fixed-size `char` array, truncating and terminating.
pub fn write_fixed(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    if let Some(end) = dst.get_mut(n) {
        *end = 0;
    }
}

/// A slice from a pointer and a count.
///
/// # Safety
/// `p` is null or points to `count` readable `T`s.
pub unsafe fn slice<'a, T>(p: *const T, count: u32, what: &str) -> Result<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::validation(format!(
            "{what} is NULL with a count of {count}"
        )));
    }
    // SAFETY: non-null, `count` elements readable by contract.
    Ok(unsafe { std::slice::from_raw_parts(p, count as usize) })
}

/// The two-call idiom: writes `len` to `count_out`; with capacity 0 stops
/// there; with too small a capacity returns `XR_ERROR_SIZE_INSUFFICIENT`;
/// otherwise fills `out[..len]` through `write`.
///
/// # Safety
/// `count_out` null or writable; `out` null or `capacity` writable `T`s.
pub unsafe fn two_call<T>(
    capacity: u32,
    count_out: *mut u32,
    out: *mut T,
    len: usize,
    mut write: impl FnMut(&mut T, usize) -> Result<()>,
) -> Result<xr::Result> {
    // SAFETY: forwarded contract.
    let count = unsafe { out_ptr(count_out, "count output")? };
    *count = len as u32;
    if capacity == 0 {
        return Ok(xr::Result::SUCCESS);
    }
    if out.is_null() {
        return Err(Error::validation("array is NULL with a non-zero capacity"));
    }
    if (capacity as usize) < len {
        return Err(Error::size_insufficient(format!(
            "capacity {capacity} < {len} needed"
        )));
    }
    for i in 0..len {
        // SAFETY: i < len <= capacity elements, writable by contract.
        write(unsafe { &mut *out.add(i) }, i)?;
    }
    Ok(xr::Result::SUCCESS)
}

/// The two-call idiom for output structures: each element's `type` must be
/// `ty` (checked before anything is written).
///
/// # Safety
/// As [`two_call`], and each `T` starts with an `XrStructureType`.
pub unsafe fn two_call_typed<T>(
    capacity: u32,
    count_out: *mut u32,
    out: *mut T,
    len: usize,
    ty: xr::StructureType,
    write: impl FnMut(&mut T, usize) -> Result<()>,
) -> Result<xr::Result> {
    if capacity as usize >= len && !out.is_null() {
        for i in 0..len {
            // SAFETY: i < len <= capacity elements, each a typed structure.
            let actual = unsafe { *(out.add(i) as *const xr::StructureType) };
            if actual != ty {
                return Err(Error::validation(format!(
                    "element {i} has type {actual:?}, expected {ty:?}"
                )));
            }
        }
    }
    // SAFETY: forwarded contract.
    unsafe { two_call(capacity, count_out, out, len, write) }
}

/// The two-call idiom for strings (count includes the NUL).
///
/// # Safety
/// As [`two_call`] with `c_char` elements.
pub unsafe fn two_call_string(
    capacity: u32,
    count_out: *mut u32,
    buffer: *mut c_char,
    s: &str,
) -> Result<xr::Result> {
    let bytes = s.as_bytes();
    // SAFETY: forwarded contract.
    unsafe {
        two_call(capacity, count_out, buffer, bytes.len() + 1, |d, i| {
            *d = bytes.get(i).copied().unwrap_or(0) as c_char;
            Ok(())
        })
    }
}

pub fn to_pose(p: &xr::Posef) -> parallax_sdk::types::Pose {
    parallax_sdk::types::Pose::new(
        glam::Quat::from_xyzw(
            p.orientation.x,
            p.orientation.y,
            p.orientation.z,
            p.orientation.w,
        ),
        glam::Vec3::new(p.position.x, p.position.y, p.position.z),
    )
}

pub fn from_pose(p: &parallax_sdk::types::Pose) -> xr::Posef {
    xr::Posef {
        orientation: xr::Quaternionf {
            x: p.orientation.x,
            y: p.orientation.y,
            z: p.orientation.z,
            w: p.orientation.w,
        },
        position: xr::Vector3f {
            x: p.position.x,
            y: p.position.y,
            z: p.position.z,
        },
    }
}

pub fn from_vec3(v: glam::Vec3) -> xr::Vector3f {
    xr::Vector3f {
        x: v.x,
        y: v.y,
        z: v.z,
    }
}

pub fn from_fov(f: &parallax_sdk::types::Fov) -> xr::Fovf {
    xr::Fovf {
        angle_left: f.left,
        angle_right: f.right,
        angle_up: f.up,
        angle_down: f.down,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_runtime_failure() {
        let r = guard("xrTestPanic", |_| panic!("planted"));
        assert_eq!(r, xr::Result::ERROR_RUNTIME_FAILURE);
        let r = guard("xrTestError", |_| Err(Error::path_invalid("x")));
        assert_eq!(r, xr::Result::ERROR_PATH_INVALID);
        let r = guard("xrTestSuccessCode", |_| Ok(xr::Result::EVENT_UNAVAILABLE));
        assert_eq!(r, xr::Result::EVENT_UNAVAILABLE);
    }

    #[test]
    fn two_call_idiom() {
        let items = [1u32, 2, 3];
        let mut count = 0;
        let mut out = [0u32; 3];
        // SAFETY: pointers to locals with the stated capacities.
        unsafe {
            assert_eq!(
                two_call(0, &mut count, std::ptr::null_mut::<u32>(), 3, |_, _| Ok(())).unwrap(),
                xr::Result::SUCCESS
            );
            assert_eq!(count, 3);
            let e = two_call(2, &mut count, out.as_mut_ptr(), 3, |d, i| {
                *d = items[i];
                Ok(())
            });
            assert_eq!(e.unwrap_err().code, xr::Result::ERROR_SIZE_INSUFFICIENT);
            assert_eq!(count, 3);
            two_call(3, &mut count, out.as_mut_ptr(), 3, |d, i| {
                *d = items[i];
                Ok(())
            })
            .unwrap();
            assert_eq!(out, items);
            assert_eq!(
                two_call(1, std::ptr::null_mut(), out.as_mut_ptr(), 3, |_, _| Ok(()))
                    .unwrap_err()
                    .code,
                xr::Result::ERROR_VALIDATION_FAILURE
            );
        }
    }
}
