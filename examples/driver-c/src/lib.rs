//! The C sample driver. The driver itself is `driver.c`; this crate builds
//! it (see build.rs) and tells Rust tests where the library is.
#![forbid(unsafe_code)]

/// Path of the built `libparallax_driver_c.so`.
pub const LIBRARY: &str = env!("PARALLAX_DRIVER_C_LIB");
