//! Holographic meetings: a room server that forwards each participant's
//! avatar and voice packets to the others without reading them (they are
//! end-to-end encrypted with MLS group keys), over QUIC (TLS 1.3,
//! unreliable datagrams for media, a stream for control), with signed,
//! expiring, room-scoped join tokens, shared objects it simulates, and
//! room state that survives restarts; a directory that shards rooms over
//! several servers; and the client, with spatial voice.
//!
//! - [`token`]: join tokens (HMAC-SHA256).
//! - [`protocol`]: the control messages and the media datagrams.
//! - [`server`]: the room server.
//! - [`client`]: a participant's connection.
//! - [`e2ee`]: end-to-end encryption (MLS group keys, sealed media).
//! - [`secure`]: a participant with end-to-end encryption.
//! - [`store`]: the server's persistent state (SQLite).
//! - [`directory`]: rooms sharded over several servers.
//! - [`objects`]: shared objects the server simulates.
//! - [`voice`]: Opus voice, the jitter buffer, spatial audio, the mixer.
//! - [`audio`]: where the mix goes (a WAV file or the sound card), and
//!   the microphone.
//! - [`seats`]: where each participant's stage is in the room.
//! - [`invite`]: one string to join a room with.
//! - [`sim`]: simulated participants.
//!
//! Not here yet: relays for very large rooms (Media over QUIC).

pub mod audio;
pub mod client;
pub mod directory;
pub mod e2ee;
pub mod invite;
pub mod objects;
pub mod protocol;
pub mod seats;
pub mod secure;
pub mod server;
pub mod sim;
pub mod store;
pub mod token;
pub mod voice;

pub use client::Client;
pub use secure::{Event, SecureClient};
pub use server::Server;

/// The TLS provider: ring. rustls marks it deprecated because its key
/// exchange is not post-quantum; the alternative (aws-lc-rs) builds a large
/// C library. The media it protects in transit is end-to-end encrypted by
/// the clients as well (MLS, [`e2ee`]), so a harvested recording of the
/// transport alone does not expose a meeting.
#[allow(deprecated)]
pub(crate) fn crypto_provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
