//! Codec avatars (issue 15, in progress): so far the open face model they
//! are built on ([`face_model`]); the codec, its packets and the
//! compositor's avatar layer come next.

pub mod face_model;
pub use face_model::{FaceModel, FormatError, Lod, Part, Shape, ShapeKind};
