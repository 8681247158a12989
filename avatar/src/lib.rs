//! Codec avatars: the open face model they are built on ([`face_model`]),
//! the learned expression codec ([`codec`], trained by [`train`] on
//! [`expressions`], measured by [`eval`]), the packet that carries one
//! frame of a participant ([`packet`]), what the compositor's avatar pass
//! draws ([`shading`], [`body`]), and the camera path that drives the codec
//! from a face camera or a webcam ([`face_tracker`]: face landmarks, then
//! [`face_fit`]; [`face_camera`] simulates the camera).

pub mod body;
pub mod codec;
pub mod eval;
pub mod expressions;
pub mod face_camera;
pub mod face_fit;
pub mod face_model;
pub mod face_tracker;
pub mod packet;
pub mod shading;
pub mod sheet;
pub mod train;
pub use codec::{AvatarDecoder, Codec, CodecError};
pub use face_model::{ArkitMap, FaceModel, FormatError, Lod, Part, Shape, ShapeKind};
