//! Simulated participants: the simulated headset's scripted wearer (its
//! face through the codec, head, hands and gaze) as avatar packets, seated
//! at its place in the room ([`crate::seats`]), and a scripted talker for
//! its voice. `parallax meeting join --simulate N` and the tests drive
//! remote avatars and voices with them.

use crate::seats;
use crate::voice::{Head, Talker};
use parallax_avatar::codec::Scratch;
use parallax_avatar::packet::{self, AvatarFrame, Gaze};
use parallax_avatar::Codec;
use parallax_driver_simulated::{face, Motion, MotionKind};

/// One simulated participant's sensors and voice.
pub struct Wearer {
    codec: Codec,
    scratch: Scratch,
    code: Vec<f32>,
    motion: Motion,
    /// Seconds into the script where this participant starts.
    offset: f64,
    /// Holds one moment of the script (reproducible captures).
    frozen: bool,
    sequence: u16,
    room_from_stage: (glam::Vec3, glam::Quat),
    /// Where the head was at the last packet (room).
    pub head: Head,
    /// Its voice.
    pub talker: Talker,
}

impl std::fmt::Debug for Wearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wearer")
            .field("offset", &self.offset)
            .field("frozen", &self.frozen)
            .finish_non_exhaustive()
    }
}

impl Wearer {
    /// Participant `id` of the room at `seat`, `offset` seconds into the
    /// script (participants a few seconds apart do different things);
    /// `frozen` holds the script at `2 s + offset`.
    pub fn new(id: u32, seat: u32, offset: f64, frozen: bool) -> Wearer {
        let codec = Codec::shipped();
        let code = vec![0.0; codec.code_len()];
        Wearer {
            codec,
            scratch: Scratch::default(),
            code,
            motion: Motion {
                kind: MotionKind::Scripted { seed: 1 },
            },
            offset,
            frozen,
            sequence: 0,
            room_from_stage: seats::room_from_stage(seat),
            head: Head::default(),
            talker: Talker::new(110.0 + 35.0 * (id % 5) as f32),
        }
    }

    fn place(&self, position: glam::Vec3, orientation: glam::Quat) -> packet::Pose {
        let (p, q) = self.room_from_stage;
        packet::Pose {
            position: q * position + p,
            orientation: q * orientation,
        }
    }

    /// The avatar packet `secs` after the participant started.
    pub fn packet(&mut self, secs: f64) -> Vec<u8> {
        let script = if self.frozen { 2.0 } else { secs };
        let t = parallax_sdk_types::Time(((script + self.offset) * 1e9) as i64);
        let f = face::expressions(&self.motion, t);
        let g = face::gaze(&self.motion, t);
        self.codec
            .encode(&f.weights, &mut self.scratch, &mut self.code);
        let (head, _) = self.motion.head(t);
        let head = self.place(head.position, head.orientation);
        self.head = Head {
            position: head.position,
            orientation: head.orientation,
        };
        let hands = [0, 1].map(|i| {
            let (grip, _) = self.motion.hand(i, t);
            Some(self.place(grip.position, grip.orientation))
        });
        let eye = Gaze {
            direction: g.gaze.orientation * -glam::Vec3::Z,
            confidence: 1.0,
        };
        self.sequence = self.sequence.wrapping_add(1);
        AvatarFrame {
            sequence: self.sequence,
            timestamp: packet::timestamp((secs * 1e6) as u64),
            code: self.code.clone(),
            head,
            hands,
            gaze: Some([eye, eye]),
        }
        .encode()
        .expect("the scripted wearer's frame encodes")
    }
}
