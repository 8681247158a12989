//! The stable C ABI between Parallax and vendor drivers.
//!
//! - [`ffi`]: the `#[repr(C)]` types and function table, the one source of
//!   `include/parallax_driver.h` (generated with cbindgen, committed, and
//!   checked by this crate's tests).
//! - [`guest`]: [`export_driver!`] for Rust vendors: any
//!   [`parallax_sdk::Builder`] becomes a loadable driver library.
//! - `host` (feature `host`): loads a vendor library, negotiates, and wraps
//!   it as an ordinary `Builder`; `discovery` finds libraries through JSON
//!   manifests.
//!
//! Unsafe code lives only in `guest` (the exported entry points) and `host`
//! (the calls into a library), each block with its `// SAFETY:` reasoning.

pub mod conv;
pub mod ffi;
pub mod guest;

#[cfg(feature = "host")]
pub mod discovery;
#[cfg(feature = "host")]
pub mod host;

pub use ffi::{PxResult, PX_ABI_VERSION, PX_ABI_VERSION_MAJOR, PX_ABI_VERSION_MINOR};
