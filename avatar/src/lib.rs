//! Codec avatars (issue 15, in progress): so far the open face model they
//! are built on ([`face_model`]) and the packet that carries one frame of
//! a participant ([`packet`]); the codec and the compositor's avatar layer
//! come next.

pub mod face_model;
pub mod packet;
pub use face_model::{ArkitMap, FaceModel, FormatError, Lod, Part, Shape, ShapeKind};
