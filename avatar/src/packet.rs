//! The avatar packet: one frame of a participant on the wire (30 per
//! second): the codec's latent code, quantised, with the head, hand and
//! gaze poses it is shown with. Meetings carry it end-to-end encrypted;
//! this layer still checks everything it reads, so a damaged, truncated or
//! future packet is an error, never a panic or a garbage mesh.
//!
//! # Format (version 2, little-endian; bit fields least significant first)
//!
//! | field | bytes |
//! |---|---|
//! | magic `P` | 1 |
//! | version (2) | 1 |
//! | flags: bit 0 left hand, bit 1 right hand, bit 2 gaze; others 0 | 1 |
//! | sequence (wrapping) | 2 |
//! | timestamp: sender's capture time in 100 µs units, 24 bits, wrapping (27.9 min) | 3 |
//! | code length n (1 to 64) | 1 |
//! | code: n × i8, value × 127 (the codec's latents lie in [-1, 1]) | n |
//! | head pose in the stage: position 3 × i16 mm (±32 m), orientation as below with 3 × i16 | 13 |
//! | left, right hand (if flagged), relative to the head: position 3 × 12 bits mm (±2 m), orientation 2 + 3 × 10 bits, 4 zero bits | 9 each |
//! | gaze (if flagged): per eye a direction in the head frame (octahedral, 2 × 10 bits) and a confidence (4 bits, /15) | 3 each |
//! | CRC-32 of everything before | 4 |
//!
//! An orientation is its three smallest quaternion components (scaled by
//! √2 into [-1, 1]) and the index of the dropped one. Errors: the head
//! under 0.5 mm and 0.01°, the hands under 0.5 mm and 0.2°, the gaze under
//! 0.3°. Version 1 (fixed-width fields, 2-byte magic) never left the
//! development tree; version 2 packs the body poses so that face and body
//! fit 16 kbit/s: a 16-number code with head and gaze is 48 bytes
//! (11.5 kbit/s at 30 Hz); with both hands 66 bytes (15.8 kbit/s).

use glam::{Quat, Vec2, Vec3};

const MAGIC: u8 = b'P';
pub const VERSION: u8 = 2;
pub const MAX_CODE: usize = 64;
const HEADER: usize = 9;
const HEAD_BYTES: usize = 13;
const HAND_BYTES: usize = 9;
const GAZE_BYTES: usize = 6;
const LEFT: u8 = 1;
const RIGHT: u8 = 2;
const GAZE: u8 = 4;
/// Timestamps wrap at 2^24 units of 100 µs.
pub const TIMESTAMP_MASK: u32 = 0xFF_FFFF;

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
    /// Capture time in 100 µs units, wrapping at 2^24 ([`timestamp`]);
    /// higher bits are dropped on encode.
    pub timestamp: u32,
    /// The codec's latent code, each value in [-1, 1] (clamped on encode).
    pub code: Vec<f32>,
    pub head: Pose,
    /// Left and right hands, when tracked (within 2 m of the head).
    pub hands: [Option<Pose>; 2],
    /// Left and right eyes, when tracked.
    pub gaze: Option<[Gaze; 2]>,
}

/// The packet timestamp of a capture time in microseconds.
pub fn timestamp(us: u64) -> u32 {
    (us / 100) as u32 & TIMESTAMP_MASK
}

/// Bits written least significant first.
struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    fn put(&mut self, v: u32, bits: u32) {
        self.acc |= u64::from(v & ((1u32 << bits) - 1)) << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A signed value in two's complement of `bits` bits.
    fn put_signed(&mut self, v: i32, bits: u32) {
        self.put(v as u32, bits);
    }

    fn finish(mut self) {
        if self.n > 0 {
            let n = 8 - self.n;
            self.put(0, n);
        }
    }
}

struct ReadBits<'a> {
    bytes: &'a [u8],
    at: usize,
    acc: u64,
    n: u32,
}

impl ReadBits<'_> {
    /// `bits` bits; the caller has checked the length.
    fn get(&mut self, bits: u32) -> u32 {
        while self.n < bits {
            self.acc |= u64::from(self.bytes[self.at]) << self.n;
            self.at += 1;
            self.n += 8;
        }
        let v = (self.acc & ((1u64 << bits) - 1)) as u32;
        self.acc >>= bits;
        self.n -= bits;
        v
    }

    fn get_signed(&mut self, bits: u32) -> i32 {
        let v = self.get(bits);
        ((v << (32 - bits)) as i32) >> (32 - bits)
    }
}

impl AvatarFrame {
    /// The packet's size for a frame like this one.
    pub fn encoded_len(&self) -> usize {
        len_for(
            self.code.len(),
            self.hands.iter().flatten().count(),
            self.gaze.is_some(),
        )
    }

    /// The packet. Fails only for a code of no or more than [`MAX_CODE`]
    /// numbers, a head beyond ±32 m or a hand more than 2 m from the head
    /// (per axis), or positions that are not finite.
    pub fn encode(&self) -> Result<Vec<u8>, PacketError> {
        if self.code.is_empty() || self.code.len() > MAX_CODE {
            return Err(PacketError::Invalid("the code must have 1 to 64 numbers"));
        }
        let mut w = Vec::with_capacity(self.encoded_len());
        w.push(MAGIC);
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
        w.extend_from_slice(&(self.timestamp & TIMESTAMP_MASK).to_le_bytes()[..3]);
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
        // The hands are sent relative to the head as the receiver will read
        // it (quantised), so their error does not add the head's.
        let mut head_mm = [0i16; 3];
        for (q, c) in head_mm.iter_mut().zip(self.head.position.to_array()) {
            let mm = (c * 1000.0).round();
            if !(-32767.0..=32767.0).contains(&mm) {
                return Err(PacketError::Invalid(
                    "the head is beyond ±32 m (or its position is not finite)",
                ));
            }
            *q = mm as i16;
            w.extend_from_slice(&q.to_le_bytes());
        }
        let head_mm = head_mm.map(i32::from);
        let (largest, small) = smallest_three(self.head.orientation);
        w.push(largest as u8);
        for v in small {
            w.extend_from_slice(&(quantise(v, 16) as i16).to_le_bytes());
        }
        for hand in self.hands.iter().flatten() {
            let mut bits = Bits {
                out: &mut w,
                acc: 0,
                n: 0,
            };
            for (c, h) in hand.position.to_array().into_iter().zip(head_mm) {
                let mm = (c * 1000.0).round();
                let d = mm - h as f32;
                if !(-2047.0..=2047.0).contains(&d) {
                    return Err(PacketError::Invalid(
                        "a hand is more than 2 m from the head (or not finite)",
                    ));
                }
                bits.put_signed(d as i32, 12);
            }
            let (largest, small) = smallest_three(hand.orientation);
            bits.put(largest, 2);
            for v in small {
                bits.put_signed(quantise(v, 10), 10);
            }
            bits.finish();
        }
        if let Some(gaze) = &self.gaze {
            let mut bits = Bits {
                out: &mut w,
                acc: 0,
                n: 0,
            };
            for g in gaze {
                for c in octahedral(g.direction) {
                    bits.put_signed(quantise(c, 10), 10);
                }
                let conf = if g.confidence.is_nan() {
                    0.0
                } else {
                    g.confidence.clamp(0.0, 1.0)
                };
                bits.put((conf * 15.0).round() as u32, 4);
            }
            bits.finish();
        }
        let crc = crc32fast::hash(&w);
        w.extend_from_slice(&crc.to_le_bytes());
        Ok(w)
    }

    /// Reads and checks a packet.
    pub fn decode(bytes: &[u8]) -> Result<AvatarFrame, PacketError> {
        if bytes.len() < 2 || bytes[0] != MAGIC {
            return Err(PacketError::Magic);
        }
        if bytes[1] != VERSION {
            return Err(PacketError::Version(bytes[1]));
        }
        if bytes.len() < HEADER {
            return Err(PacketError::Length {
                got: bytes.len(),
                want: HEADER,
            });
        }
        let flags = bytes[2];
        if flags & !(LEFT | RIGHT | GAZE) != 0 {
            return Err(PacketError::Invalid("unknown flags"));
        }
        let n = bytes[8] as usize;
        if n == 0 || n > MAX_CODE {
            return Err(PacketError::Invalid("the code must have 1 to 64 numbers"));
        }
        let hands = [flags & LEFT != 0, flags & RIGHT != 0];
        let want = len_for(n, hands.iter().filter(|h| **h).count(), flags & GAZE != 0);
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
        let mut at = HEADER;
        let code = body[at..at + n]
            .iter()
            .map(|&b| f32::from(b as i8) / 127.0)
            .collect();
        at += n;
        let h = &body[at..at + HEAD_BYTES];
        let i16_at = |k: usize| f32::from(i16::from_le_bytes([h[k], h[k + 1]]));
        let position = Vec3::new(i16_at(0), i16_at(2), i16_at(4)) / 1000.0;
        let small = [i16_at(7), i16_at(9), i16_at(11)].map(|v| v / 32767.0);
        let head = Pose {
            position,
            orientation: from_smallest_three(u32::from(h[6]), small, 32767.0)?,
        };
        at += HEAD_BYTES;
        let mut hand_poses = [None, None];
        for (slot, present) in hand_poses.iter_mut().zip(hands) {
            if !present {
                continue;
            }
            let mut r = ReadBits {
                bytes: &body[at..at + HAND_BYTES],
                at: 0,
                acc: 0,
                n: 0,
            };
            let head_mm = [0, 2, 4].map(|k| i32::from(i16::from_le_bytes([h[k], h[k + 1]])));
            let d = head_mm.map(|h| (h + r.get_signed(12)) as f32 / 1000.0);
            let largest = r.get(2);
            let small = [0; 3].map(|_| r.get_signed(10) as f32 / 511.0);
            if r.get(4) != 0 {
                return Err(PacketError::Invalid("a hand's padding bits are set"));
            }
            *slot = Some(Pose {
                position: Vec3::from_array(d),
                orientation: from_smallest_three(largest, small, 511.0)?,
            });
            at += HAND_BYTES;
        }
        let gaze = if flags & GAZE != 0 {
            let mut r = ReadBits {
                bytes: &body[at..at + GAZE_BYTES],
                at: 0,
                acc: 0,
                n: 0,
            };
            let mut eye = || {
                let e = [0; 2].map(|_| r.get_signed(10) as f32 / 511.0);
                Gaze {
                    direction: from_octahedral(e),
                    confidence: r.get(4) as f32 / 15.0,
                }
            };
            let left = eye();
            Some([left, eye()])
        } else {
            None
        };
        Ok(AvatarFrame {
            sequence: u16::from_le_bytes([bytes[3], bytes[4]]),
            timestamp: u32::from_le_bytes([bytes[5], bytes[6], bytes[7], 0]),
            code,
            head,
            hands: hand_poses,
            gaze,
        })
    }
}

fn len_for(code: usize, hands: usize, gaze: bool) -> usize {
    HEADER + code + HEAD_BYTES + HAND_BYTES * hands + if gaze { GAZE_BYTES } else { 0 } + 4
}

/// `v` in [-1, 1] as a signed integer of `bits` bits (±(2^(bits-1) - 1)).
fn quantise(v: f32, bits: u32) -> i32 {
    let m = ((1i32 << (bits - 1)) - 1) as f32;
    let v = if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
    (v * m).round() as i32
}

/// Whether sequence number `a` comes after `b` (wrapping: within half the
/// range ahead), so that a receiver drops late and repeated packets.
pub fn is_newer(a: u16, b: u16) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000
}

/// The index of a quaternion's largest component and the other three,
/// scaled by √2 into [-1, 1], with the dropped one made positive (q and -q
/// are one rotation). A non-finite quaternion is sent as the identity.
fn smallest_three(q: Quat) -> (u32, [f32; 3]) {
    let q = q.normalize();
    let q = if q.is_finite() { q } else { Quat::IDENTITY };
    let a = q.to_array();
    let largest = (0..4)
        .max_by(|&i, &j| a[i].abs().total_cmp(&a[j].abs()))
        .expect("four components");
    let sign = if a[largest] < 0.0 { -1.0 } else { 1.0 };
    let mut small = [0.0; 3];
    let mut k = 0;
    for (i, c) in a.iter().enumerate() {
        if i != largest {
            small[k] = c * sign * std::f32::consts::SQRT_2;
            k += 1;
        }
    }
    (largest as u32, small)
}

/// The quaternion back from [`smallest_three`]'s parts (already divided
/// by their integer scale `scale`).
fn from_smallest_three(largest: u32, small: [f32; 3], scale: f32) -> Result<Quat, PacketError> {
    if largest > 3 {
        return Err(PacketError::Invalid("a quaternion names a fifth component"));
    }
    let small = small.map(|v| v / std::f32::consts::SQRT_2);
    let sum: f32 = small.iter().map(|v| v * v).sum();
    // The three smallest of a unit quaternion have squares summing to 3/4 at
    // most; beyond that (plus rounding) the packet was not made by encode.
    if sum > 0.75 + 4.0 / scale {
        return Err(PacketError::Invalid(
            "a quaternion is not a unit quaternion",
        ));
    }
    let mut a = [0.0; 4];
    let mut k = 0;
    for (i, c) in a.iter_mut().enumerate() {
        if i == largest as usize {
            *c = (1.0 - sum).max(0.0).sqrt();
        } else {
            *c = small[k];
            k += 1;
        }
    }
    Ok(Quat::from_array(a).normalize())
}

/// A unit vector as two numbers in [-1, 1] (octahedral mapping): even
/// error over the sphere.
fn octahedral(d: Vec3) -> [f32; 2] {
    let d = d.normalize_or(Vec3::Z);
    let p = Vec2::new(d.x, d.y) / (d.x.abs() + d.y.abs() + d.z.abs());
    let p = if d.z < 0.0 {
        (Vec2::ONE - Vec2::new(p.y.abs(), p.x.abs())) * Vec2::new(p.x.signum(), p.y.signum())
    } else {
        p
    };
    [p.x, p.y]
}

fn from_octahedral(p: [f32; 2]) -> Vec3 {
    let p = Vec2::from_array(p);
    let z = 1.0 - p.x.abs() - p.y.abs();
    let xy = if z < 0.0 {
        (Vec2::ONE - Vec2::new(p.y.abs(), p.x.abs())) * Vec2::new(p.x.signum(), p.y.signum())
    } else {
        p
    };
    Vec3::new(xy.x, xy.y, z).normalize_or(Vec3::Z)
}
