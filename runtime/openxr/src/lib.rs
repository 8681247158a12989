//! `libparallax_openxr.so`: the OpenXR runtime library the Khronos loader
//! loads into any OpenXR app.
//!
//! It exports exactly one symbol, `xrNegotiateLoaderRuntimeInterface`;
//! every other entry point is reached through `xrGetInstanceProcAddr` and
//! one dispatch table ([`ffi::dispatch`]). All unsafe code (raw pointers,
//! `next` chains, C strings) lives in [`ffi`]; each thunk checks its
//! arguments, calls the safe state tracker in `parallax-runtime`, and maps
//! the result to an `XrResult`, never unwinding across the boundary.

#[allow(unsafe_code)]
pub mod ffi;

pub use ffi::negotiate::xrNegotiateLoaderRuntimeInterface;
