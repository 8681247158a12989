//! The avatar packet: one frame of a participant on the wire (30 per
//! second): the codec's latent code, quantised, with the head, hand and
//! gaze poses it is shown with. Meetings carry it end-to-end encrypted;
//! this layer still checks everything it reads, so a damaged, truncated or
//! future packet is an error, never a panic or a garbage mesh.
//!
//! # Format (version 1, little-endian)
//!
//! | field | bytes |
//! |---|---|
//! | magic `PA` | 2 |
//! | version (1) | 1 |
//! | flags: bit 0 left hand, bit 1 right hand, bit 2 gaze; others 0 | 1 |
//! | sequence (wrapping) | 2 |
//! | timestamp: sender's capture time, µs, wrapping | 4 |
//! | code length n (1 to 64) | 1 |
//! | code: n × i8, value × 127 (the codec's latents lie in [-1, 1]) | n |
//! | head pose | 13 |
//! | left, right hand pose (if flagged) | 13 each |
//! | gaze (if flagged): per eye a direction in the head frame (octahedral, 2 × i16) and a confidence (u8, /255) | 10 |
//! | CRC-32 of everything before | 4 |
//!
//! A pose is a position in millimetres in the stage (3 × i16: ±32 m) and an
//! orientation as its three smallest quaternion components (3 × i16, scaled
//! by 1/√2; the index of the dropped one in a byte): under 0.01° and 1 mm
//! of error. A 32-number code with head and gaze is 70 bytes (16.8 kbit/s
//! at 30 Hz); with both hands 96 bytes (23.0 kbit/s).

use glam::{Quat, Vec2, Vec3};

const MAGIC: [u8; 2] = *b"PA";
pub const VERSION: u8 = 1;
pub const MAX_CODE: usize = 64;
const POSE_BYTES: usize = 13;
const LEFT: u8 = 1;
const RIGHT: u8 = 2;
const GAZE: u8 = 4;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    #[error("not an avatar packet (bad magic)")]
    Magic,
    #[error("avatar packet version {0} is not supported (this build reads version {VERSION})")]
    Version(u8),
    #[error("the avatar packet is {got} bytes; its header says {want}")]
    Length { got: usize, want: usize },
    #[error("the avatar packet's checksum does not match: it is damaged")]
    Checksum,
    #[error("invalid avatar packet: {0}")]
    Invalid(&'static str),
}

/// A rigid pose in the stage: metres and a unit quaternion.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Pose {
    pub position: Vec3,
    pub orientation: Quat,
}

/// Where one eye looks, in the head's frame, and how sure the tracker is.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Gaze {
    pub direction: Vec3,
    pub confidence: f32,
}

/// One frame of one participant.
#[derive(Clone, Debug, PartialEq)]
pub struct AvatarFrame {
    pub sequence: u16,
    pub timestamp_us: u32,
    /// The codec's latent code, each value in [-1, 1] (clamped on encode).
    pub code: Vec<f32>,
    pub head: Pose,
    /// Left and right hands, when tracked.
    pub hands: [Option<Pose>; 2],
    /// Left and right eyes, when tracked.
    pub gaze: Option<[Gaze; 2]>,
}

impl AvatarFrame {
    /// The packet's size for a frame like this one.
    pub fn encoded_len(&self) -> usize {
        11 + self.code.len()
            + POSE_BYTES * (1 + self.hands.iter().flatten().count())
            + if self.gaze.is_some() { 10 } else { 0 }
            + 4
    }

    /// The packet. Fails only for a code of no or more than [`MAX_CODE`]
    /// numbers, or positions beyond ±32 m.
    pub fn encode(&self) -> Result<Vec<u8>, PacketError> {
        if self.code.is_empty() || self.code.len() > MAX_CODE {
            return Err(PacketError::Invalid("the code must have 1 to 64 numbers"));
        }
        let mut w = Vec::with_capacity(self.encoded_len());
        w.extend_from_slice(&MAGIC);
        w.push(VERSION);
        let mut flags = 0;
        for (present, bit) in [
            (self.hands[0].is_some(), LEFT),
            (self.hands[1].is_some(), RIGHT),
            (self.gaze.is_some(), GAZE),
        ] {
            if present {
                flags |= bit;
            }
        }
        w.push(flags);
        w.extend_from_slice(&self.sequence.to_le_bytes());
        w.extend_from_slice(&self.timestamp_us.to_le_bytes());
        w.push(self.code.len() as u8);
        for &c in &self.code {
            // NaN becomes 0: a code value is never left undefined.
            let q = if c.is_nan() {
                0.0
            } else {
                c.clamp(-1.0, 1.0) * 127.0
            };
            w.push((q.round() as i8) as u8);
        }
        for pose in std::iter::once(&self.head).chain(self.hands.iter().flatten()) {
            put_pose(&mut w, pose)?;
        }
        if let Some(gaze) = &self.gaze {
            for g in gaze {
                for c in octahedral(g.direction) {
                    w.extend_from_slice(&c.to_le_bytes());
                }
                w.push((g.confidence.clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
        let crc = crc32fast::hash(&w);
        w.extend_from_slice(&crc.to_le_bytes());
        Ok(w)
    }

    /// Reads and checks a packet.
    pub fn decode(bytes: &[u8]) -> Result<AvatarFrame, PacketError> {
        if bytes.len() < 3 || bytes[..2] != MAGIC {
            return Err(PacketError::Magic);
        }
        if bytes[2] != VERSION {
            return Err(PacketError::Version(bytes[2]));
        }
        if bytes.len() < 11 {
            return Err(PacketError::Length {
                got: bytes.len(),
                want: 11,
            });
        }
        let flags = bytes[3];
        if flags & !(LEFT | RIGHT | GAZE) != 0 {
            return Err(PacketError::Invalid("unknown flags"));
        }
        let n = bytes[10] as usize;
        if n == 0 || n > MAX_CODE {
            return Err(PacketError::Invalid("the code must have 1 to 64 numbers"));
        }
        let hands = [flags & LEFT != 0, flags & RIGHT != 0];
        let want = 11
            + n
            + POSE_BYTES * (1 + hands.iter().filter(|h| **h).count())
            + if flags & GAZE != 0 { 10 } else { 0 }
            + 4;
        if bytes.len() != want {
            return Err(PacketError::Length {
                got: bytes.len(),
                want,
            });
        }
        let (body, crc) = bytes.split_at(want - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(PacketError::Checksum);
        }
        let mut at = 11;
        let code = body[at..at + n]
            .iter()
            .map(|&b| f32::from(b as i8) / 127.0)
            .collect();
        at += n;
        let mut pose = || {
            let p = get_pose(&body[at..at + POSE_BYTES]);
            at += POSE_BYTES;
            p
        };
        let head = pose()?;
        let left = if hands[0] { Some(pose()?) } else { None };
        let right = if hands[1] { Some(pose()?) } else { None };
        let gaze = if flags & GAZE != 0 {
            let eye = |b: &[u8]| Gaze {
                direction: from_octahedral([
                    i16::from_le_bytes([b[0], b[1]]),
                    i16::from_le_bytes([b[2], b[3]]),
                ]),
                confidence: f32::from(b[4]) / 255.0,
            };
            Some([eye(&body[at..at + 5]), eye(&body[at + 5..at + 10])])
        } else {
            None
        };
        Ok(AvatarFrame {
            sequence: u16::from_le_bytes([bytes[4], bytes[5]]),
            timestamp_us: u32::from_le_bytes(bytes[6..10].try_into().expect("4 bytes")),
            code,
            head,
            hands: [left, right],
            gaze,
        })
    }
}

/// Whether sequence number `a` comes after `b` (wrapping: within half the
/// range ahead), so that a receiver drops late and repeated packets.
pub fn is_newer(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000
}

fn put_pose(w: &mut Vec<u8>, p: &Pose) -> Result<(), PacketError> {
    for c in p.position.to_array() {
        let mm = (c * 1000.0).round();
        if !(-32767.0..=32767.0).contains(&mm) {
            return Err(PacketError::Invalid(
                "a position is beyond ±32 m (or not finite)",
            ));
        }
        w.extend_from_slice(&(mm as i16).to_le_bytes());
    }
    let q = p.orientation.normalize();
    let q = if q.is_finite() { q } else { Quat::IDENTITY };
    let a = q.to_array();
    let largest = (0..4)
        .max_by(|&i, &j| a[i].abs().total_cmp(&a[j].abs()))
        .expect("four components");
    // The dropped component is made positive (q and -q are one rotation).
    let sign = if a[largest] < 0.0 { -1.0 } else { 1.0 };
    w.push(largest as u8);
    for (i, c) in a.iter().enumerate() {
        if i != largest {
            let v = (c * sign * std::f32::consts::SQRT_2).clamp(-1.0, 1.0) * 32767.0;
            w.extend_from_slice(&(v.round() as i16).to_le_bytes());
        }
    }
    Ok(())
}

fn get_pose(b: &[u8]) -> Result<Pose, PacketError> {
    let i16_at = |k: usize| f32::from(i16::from_le_bytes([b[k], b[k + 1]]));
    let position = Vec3::new(i16_at(0), i16_at(2), i16_at(4)) / 1000.0;
    let largest = b[6] as usize;
    if largest > 3 {
        return Err(PacketError::Invalid("a quaternion names a fifth component"));
    }
    let small = [i16_at(7), i16_at(9), i16_at(11)].map(|v| v / 32767.0 / std::f32::consts::SQRT_2);
    let sum: f32 = small.iter().map(|v| v * v).sum();
    // The three smallest of a unit quaternion have squares summing to 3/4 at
    // most; beyond that (plus rounding) the packet was not made by encode.
    if sum > 0.75 + 1e-3 {
        return Err(PacketError::Invalid(
            "a quaternion is not a unit quaternion",
        ));
    }
    let mut a = [0.0; 4];
    let mut k = 0;
    for (i, c) in a.iter_mut().enumerate() {
        if i == largest {
            *c = (1.0 - sum).max(0.0).sqrt();
        } else {
            *c = small[k];
            k += 1;
        }
    }
    Ok(Pose {
        position,
        orientation: Quat::from_array(a).normalize(),
    })
}

/// A unit vector as two numbers (octahedral mapping): even error over the
/// sphere, about 0.003° with 16 bits each.
fn octahedral(d: Vec3) -> [i16; 2] {
    let d = d.normalize_or(Vec3::Z);
    let p = Vec2::new(d.x, d.y) / (d.x.abs() + d.y.abs() + d.z.abs());
    let p = if d.z < 0.0 {
        (Vec2::ONE - Vec2::new(p.y.abs(), p.x.abs())) * Vec2::new(p.x.signum(), p.y.signum())
    } else {
        p
    };
    [p.x, p.y].map(|v| (v.clamp(-1.0, 1.0) * 32767.0).round() as i16)
}

fn from_octahedral(e: [i16; 2]) -> Vec3 {
    let p = Vec2::new(f32::from(e[0]), f32::from(e[1])) / 32767.0;
    let z = 1.0 - p.x.abs() - p.y.abs();
    let xy = if z < 0.0 {
        (Vec2::ONE - Vec2::new(p.y.abs(), p.x.abs())) * Vec2::new(p.x.signum(), p.y.signum())
    } else {
        p
    };
    Vec3::new(xy.x, xy.y, z).normalize_or(Vec3::Z)
}
