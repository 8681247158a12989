//! The Parallax OpenXR state tracker, in safe Rust.
//!
//! Every OpenXR object lives here as an ordinary Rust type behind a
//! generational handle ([`handles`]): instance, session, space, action set,
//! action, debug messenger. The FFI layer (`runtime/openxr`) converts raw
//! structures into these calls and maps [`Error`] to `XrResult`.
//!
//! Design choices: the tracker uses `openxr-sys` only for plain value types
//! (enums, flags, versions) so that names match the specification; raw
//! pointers and `next` chains never reach it. It talks to hardware only
//! through [`hub::DeviceHub`] and to the display only through
//! [`parallax_compositor::Compositor`], both narrow enough to become IPC.
#![forbid(unsafe_code)]

pub mod action;
pub mod body;
pub mod camera_hands;
pub mod config;
pub mod dpad;
pub mod error;
pub mod face;
pub mod graphics;
pub mod hand;
pub mod hand_interaction;
pub mod handles;
pub mod hub;
pub mod instance;
pub mod keyscript;
pub mod meeting;
pub mod participants;
pub mod paths;
pub mod profiles;
pub mod room_objects;
pub mod session;
pub mod space;
pub mod swapchain;

pub use error::{Error, Result};
