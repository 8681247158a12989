//! The meeting protocol (version 2), over one QUIC connection per
//! participant (ALPN `parallax-meeting/1`):
//!
//! - **Control**: the client opens one bidirectional stream; each message
//!   is a little-endian `u32` length and that many bytes of JSON
//!   ([`ClientMsg`] up, [`ServerMsg`] down), at most [`MAX_CONTROL`] bytes.
//!   The first message is `hello` with the room and the token; the answer
//!   is `welcome` (the participant's id, its seat and who is there) or
//!   `refused`
//!   (why), after which the server closes the connection.
//! - **Media**: QUIC datagrams (unreliable, unordered: a late avatar frame
//!   is worth nothing). Up: `[kind][payload]`; down: `[kind][sender id,
//!   u32 LE][payload]`. The server forwards payloads without reading them
//!   (they are end-to-end encrypted by the clients); it checks only the
//!   kind and the size.

use crate::token::Role;
use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
/// Version 2: participants have seats ([`crate::seats`]).
pub const VERSION: u32 = 2;
/// QUIC's application protocol name.
pub const ALPN: &[u8] = b"parallax-meeting/1";
/// Largest control message, bytes (an MLS welcome into a room of a few
/// hundred carries the whole ratchet tree).
pub const MAX_CONTROL: usize = 1024 * 1024;
/// Largest chat message (its base64), bytes.
pub const MAX_CHAT: usize = 16 * 1024;
/// Of a far participant's avatar packets, one in this many is forwarded
/// (interest management: 30 Hz becomes 10 Hz).
pub const FAR_DIVISOR: u64 = 3;
/// Beyond this distance (metres) a participant is far (what clients ask
/// for by default).
pub const FAR_DISTANCE: f32 = 4.0;
/// Largest media payload a client may send (fits one datagram on any
/// Internet path with the 5-byte forwarding header).
pub const MAX_MEDIA: usize = 1100;

/// Media kinds.
pub const AVATAR: u8 = 1;
pub const VOICE: u8 = 2;

/// A participant as others see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: u32,
    pub name: String,
    pub role: Role,
    /// Where the participant's stage is in the room ([`crate::seats`]):
    /// the lowest seat free when it joined.
    pub seat: u32,
}

/// Client to server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Hello {
        version: u32,
        room: String,
        token: String,
    },
    Leave,
    /// Hosts only: removes a participant and bars their name from the
    /// room.
    Kick {
        id: u32,
    },
    /// Hosts only: stops (or restarts) forwarding a participant's voice.
    Mute {
        id: u32,
        muted: bool,
    },
    /// Text for everyone else (base64 of the end-to-end ciphertext).
    Chat {
        data: String,
    },
    /// An end-to-end encryption message (base64; opaque to the server)
    /// for the listed participants, or everyone else when `to` is empty.
    Mls {
        #[serde(default)]
        to: Vec<u32>,
        data: String,
    },
    /// Interest management: the participants this one sees from afar
    /// (it knows where they are; the server does not). Their avatar
    /// packets reach it at a third of their rate; everyone else's, and
    /// all voice, at the full rate. Replaces the previous list.
    Interest {
        far: Vec<u32>,
    },
    /// Takes hold of a shared object (refused while someone else holds it).
    Grab {
        object: u32,
    },
    /// Where the holder's hand has the object now (stage metres; x, y, z,
    /// w).
    Hold {
        object: u32,
        position: [f32; 3],
        orientation: [f32; 4],
    },
    /// Lets go of the object with the hand's velocity (m/s, rad/s).
    Release {
        object: u32,
        linvel: [f32; 3],
        angvel: [f32; 3],
    },
}

/// Server to client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMsg {
    Welcome {
        id: u32,
        /// This participant's seat.
        seat: u32,
        room: String,
        participants: Vec<Peer>,
    },
    Refused {
        reason: String,
    },
    Joined {
        peer: Peer,
    },
    Left {
        id: u32,
    },
    Muted {
        id: u32,
        muted: bool,
    },
    Kicked {
        reason: String,
    },
    Chat {
        from: u32,
        data: String,
    },
    Mls {
        from: u32,
        data: String,
    },
    /// A request that could not be done (the connection stays).
    Error {
        reason: String,
    },
    /// The shared objects as the server simulates them, at simulation
    /// step `tick` (sent on joining, and at 20 Hz while any moves or is
    /// held).
    Objects {
        tick: u64,
        objects: Vec<crate::objects::ObjectState>,
    },
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("a control message of {0} bytes (at most {MAX_CONTROL})")]
    TooLarge(usize),
    #[error("a malformed control message: {0}")]
    Malformed(String),
    #[error("stream: {0}")]
    Read(#[from] quinn::ReadExactError),
    #[error("stream: {0}")]
    Write(#[from] quinn::WriteError),
}

/// Writes one control message.
pub async fn send<T: Serialize>(s: &mut quinn::SendStream, msg: &T) -> Result<(), ProtocolError> {
    let body = serde_json::to_vec(msg).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    if body.len() > MAX_CONTROL {
        return Err(ProtocolError::TooLarge(body.len()));
    }
    s.write_all(&(body.len() as u32).to_le_bytes()).await?;
    s.write_all(&body).await?;
    Ok(())
}

/// Reads one control message; `None` at the end of the stream.
pub async fn recv<T: for<'de> Deserialize<'de>>(
    s: &mut quinn::RecvStream,
) -> Result<Option<T>, ProtocolError> {
    let mut len = [0u8; 4];
    match s.read_exact(&mut len).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let n = u32::from_le_bytes(len) as usize;
    if n > MAX_CONTROL {
        return Err(ProtocolError::TooLarge(n));
    }
    let mut body = vec![0u8; n];
    s.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// A forwarded datagram: `[kind][sender][payload]`.
pub fn forwarded(kind: u8, sender: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&sender.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads a forwarded datagram: `(kind, sender, payload)`.
pub fn parse_forwarded(d: &[u8]) -> Option<(u8, u32, &[u8])> {
    if d.len() < 5 {
        return None;
    }
    Some((d[0], u32::from_le_bytes([d[1], d[2], d[3], d[4]]), &d[5..]))
}
