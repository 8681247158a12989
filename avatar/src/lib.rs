//! Codec avatars (issue 15, in progress): the open face model they are
//! built on ([`face_model`]), the learned expression codec ([`codec`],
//! trained by [`train`] on [`expressions`], measured by [`eval`]) and the
//! packet that carries one frame of a participant ([`packet`]); the
//! compositor's avatar layer comes next.

pub mod body;
pub mod codec;
pub mod eval;
pub mod expressions;
pub mod face_model;
pub mod packet;
pub mod shading;
pub mod sheet;
pub mod train;
pub use codec::{AvatarDecoder, Codec, CodecError};
pub use face_model::{ArkitMap, FaceModel, FormatError, Lod, Part, Shape, ShapeKind};
