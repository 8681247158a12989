//! Simulated meeting participants (`PARALLAX_AVATARS=N`): codec avatars
//! standing in the stage in front of the user, for trying and testing the
//! avatar path end to end before meetings exist.
//!
//! Each participant is the simulated headset's scripted wearer (its face,
//! gaze and controllers, a few seconds apart from the others), sent the way
//! a meeting will send it: the expression codec encodes the 52 weights, the frame
//! goes through the avatar packet's bytes, and the receiving side decodes
//! the packet and the code back into a mesh, and poses a capsule body from
//! the head and hands the packet carries, 30 times a second on a thread of
//! its own. The compositor draws both over the app's scene.
//!
//! Frozen (`PARALLAX_AVATAR_MOTION=frozen`, the default under
//! `PARALLAX_SIM_MOTION=static`), every participant holds one moment of
//! the script (participant `k` at `2 + 3.7 k` s: talking, smiling,
//! frowning; eyes looking aside), so captures are reproducible; otherwise
//! the faces move with the clock.
//!
//! Placement: participant `k` of `n` stands at `(k - (n-1)/2) × 40°` from
//! straight ahead of the stage origin (looking down -Z), 1.1 m away for
//! even `k` and 2.2 m for odd `k`, eyes at 1.6 m, facing the origin.

use parallax_avatar::body::{skeleton, BodyFigure};
use parallax_avatar::codec::{AvatarDecoder, Codec, Scratch};
use parallax_avatar::packet::{self, AvatarFrame, Gaze};
use parallax_avatar::shading::{model_from_head, FaceShading};
use parallax_avatar::FaceModel;
use parallax_compositor::{AvatarInstance, AvatarModel, AvatarVertex, Compositor};
use parallax_driver_simulated::{face, Motion, MotionKind};
use parallax_sdk::types::{Pose, Time};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub const MAX_PARTICIPANTS: usize = 8;
/// Packets per second, as a meeting sends them.
const RATE_HZ: f64 = 30.0;
/// The eyes' height above the floor.
const EYE_HEIGHT: f32 = 1.6;

/// Where participant `k` of `n` stands: `stage_from_head` (OpenXR head
/// convention: looking down -Z), facing the stage origin.
pub fn placement(k: usize, n: usize) -> Pose {
    let angle = (k as f32 - (n as f32 - 1.0) / 2.0) * 40f32.to_radians();
    let distance = if k.is_multiple_of(2) { 1.1 } else { 2.2 };
    let position = glam::Vec3::new(distance * angle.sin(), EYE_HEIGHT, -distance * angle.cos());
    // Looking back at the origin: the head's -Z points from it to (0, 0).
    let yaw = (position.x).atan2(position.z);
    Pose::new(glam::Quat::from_rotation_y(yaw), position)
}

/// The running participants; dropping this stops them.
pub struct Participants {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Participants {
    /// Starts `n` participants shown by `compositor`; their first frame is
    /// set before this returns (so an app's first frames show them).
    pub fn start(n: usize, frozen: bool, compositor: Arc<dyn Compositor>) -> Option<Participants> {
        let n = n.min(MAX_PARTICIPANTS);
        if n == 0 {
            return None;
        }
        let mut sim = match Sim::new(n, frozen) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("simulated participants not started: {e}");
                return None;
            }
        };
        compositor.set_avatars(sim.step());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("parallax-avatars".into())
            .spawn(move || sim.run(&*compositor, &flag))
            .map_err(|e| tracing::warn!("simulated participants not started: {e}"))
            .ok()?;
        Some(Participants {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Participants {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What drawing codec avatars takes, shared by every participant shown:
/// the face model and codec, and the compositor's models of a face and a
/// body.
pub(crate) struct AvatarKit {
    model: FaceModel,
    codec: Codec,
    gpu_model: Arc<AvatarModel>,
    figure: BodyFigure,
    body_model: Arc<AvatarModel>,
}

impl AvatarKit {
    pub(crate) fn new() -> AvatarKit {
        let model = FaceModel::ict_facekit();
        let codec = Codec::shipped();
        let shading = FaceShading::new(&model);
        let gpu_model = Arc::new(AvatarModel {
            vertex_count: model.neutral.len() as u32,
            lods: shading.lods.clone(),
            lod_distances: vec![1.5, 4.0],
        });
        let figure = BodyFigure::new();
        let body_model = Arc::new(AvatarModel {
            vertex_count: figure.vertex_count as u32,
            lods: vec![figure.triangles.clone()],
            lod_distances: vec![],
        });
        AvatarKit {
            model,
            codec,
            gpu_model,
            figure,
            body_model,
        }
    }

    /// The codec (for a sender).
    pub(crate) fn codec(&self) -> &Codec {
        &self.codec
    }

    /// A participant's receiving side; `person` picks the identity (the
    /// packet carries expressions, not who someone is: each participant is
    /// a different face of the model's identity space).
    pub(crate) fn remote(&self, person: usize) -> Result<Remote, parallax_avatar::CodecError> {
        let decoder = AvatarDecoder::new(self.codec.clone(), &self.model)?;
        let mut identity = [0.0f32; 10];
        identity[person % 10] = if person.is_multiple_of(2) { 1.0 } else { -1.0 };
        let neutral = decoder.identity_neutral(&self.model, &identity);
        Ok(Remote {
            decoder,
            neutral,
            shading: FaceShading::new(&self.model),
            mesh: Vec::new(),
            shaded: Vec::new(),
            body: Vec::new(),
            last: None,
        })
    }
}

/// One participant's receiving side.
pub(crate) struct Remote {
    decoder: AvatarDecoder,
    neutral: Vec<glam::Vec3>,
    shading: FaceShading,
    mesh: Vec<glam::Vec3>,
    shaded: Vec<parallax_avatar::shading::ShadedVertex>,
    body: Vec<parallax_avatar::shading::ShadedVertex>,
    last: Option<u16>,
}

impl Remote {
    /// Decodes a frame whose head and hands are in the stage into the
    /// participant's body and face; `None` when it is not newer than the
    /// last one shown (a late or repeated packet).
    pub(crate) fn show(
        &mut self,
        kit: &AvatarKit,
        got: &AvatarFrame,
    ) -> Option<[AvatarInstance; 2]> {
        if self
            .last
            .is_some_and(|l| !packet::is_newer(got.sequence, l))
        {
            return None;
        }
        self.last = Some(got.sequence);
        self.decoder
            .decode_into(&got.code, &self.neutral, &mut self.mesh);
        // Gaze is in the head's frame (looking down -Z); the model
        // looks down +Z.
        let to_model = model_from_head().inverse();
        let gaze = got
            .gaze
            .map(|[l, r]| [to_model * l.direction, to_model * r.direction]);
        self.shading.shade(&self.mesh, gaze, &mut self.shaded);
        let vertices = |v: &[parallax_avatar::shading::ShadedVertex]| {
            Arc::new(
                v.iter()
                    .map(|v| AvatarVertex {
                        position: v.position,
                        normal: v.normal,
                        color: v.color,
                    })
                    .collect::<Vec<_>>(),
            )
        };
        // The body from the head and hands the packet carried.
        let s = skeleton(&got.head, &got.hands);
        kit.figure.pose(&s, &mut self.body);
        Some([
            AvatarInstance {
                model: kit.body_model.clone(),
                pose: Pose::IDENTITY,
                vertices: vertices(&self.body),
            },
            AvatarInstance {
                model: kit.gpu_model.clone(),
                pose: Pose::new(got.head.orientation * model_from_head(), got.head.position),
                vertices: vertices(&self.shaded),
            },
        ])
    }
}

/// The senders and receivers of all participants.
struct Sim {
    n: usize,
    frozen: bool,
    kit: AvatarKit,
    motion: Motion,
    remotes: Vec<Remote>,
    /// What each participant showed last.
    shown: Vec<Option<[AvatarInstance; 2]>>,
    scratch: Scratch,
    code: Vec<f32>,
    sequence: u16,
}

impl Sim {
    fn new(n: usize, frozen: bool) -> Result<Sim, parallax_avatar::CodecError> {
        let kit = AvatarKit::new();
        let remotes = (0..n).map(|k| kit.remote(k)).collect::<Result<_, _>>()?;
        let code = vec![0.0f32; kit.codec.code_len()];
        Ok(Sim {
            n,
            frozen,
            kit,
            motion: Motion {
                kind: MotionKind::Scripted { seed: 1 },
            },
            remotes,
            shown: vec![None; n],
            scratch: Scratch::default(),
            code,
            sequence: 0,
        })
    }

    /// Sends one packet per participant and decodes it on the other side.
    fn step(&mut self) -> Vec<AvatarInstance> {
        let now = Time::now();
        for (k, r) in self.remotes.iter_mut().enumerate() {
            // Sender: the scripted wearer, 3.7 s apart per participant.
            let offset = k as i64 * 3_700_000_000;
            let t = if self.frozen {
                Time(2_000_000_000 + offset)
            } else {
                Time(now.0 + offset)
            };
            let f = face::expressions(&self.motion, t);
            let g = face::gaze(&self.motion, t);
            self.kit
                .codec
                .encode(&f.weights, &mut self.scratch, &mut self.code);
            let eye = Gaze {
                direction: g.gaze.orientation * -glam::Vec3::Z,
                confidence: 1.0,
            };
            let head = placement(k, self.n);
            // The scripted wearer's controllers, relative to where its head
            // rests, carried to this participant's head.
            let rest = Pose::from_position(glam::Vec3::new(0.0, EYE_HEIGHT, 0.0)).inverse();
            let hands = [0, 1].map(|i| {
                let (grip, _) = self.motion.hand(i, t);
                let p = head.mul(&rest.mul(&grip));
                Some(packet::Pose {
                    position: p.position,
                    orientation: p.orientation,
                })
            });
            let frame = AvatarFrame {
                sequence: self.sequence,
                timestamp: packet::timestamp((now.0 / 1000).max(0) as u64),
                code: self.code.clone(),
                head: packet::Pose {
                    position: head.position,
                    orientation: head.orientation,
                },
                hands,
                gaze: Some([eye, eye]),
            };
            // Receiver: only what the packet carries.
            let got = match frame.encode().and_then(|b| AvatarFrame::decode(&b)) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!("simulated participant {k}: {e}");
                    continue;
                }
            };
            if let Some(s) = r.show(&self.kit, &got) {
                self.shown[k] = Some(s);
            }
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.shown.iter().flatten().flatten().cloned().collect()
    }

    fn run(mut self, compositor: &dyn Compositor, stop: &AtomicBool) {
        let period = std::time::Duration::from_secs_f64(1.0 / RATE_HZ);
        let mut next = std::time::Instant::now() + period;
        while !stop.load(Ordering::Acquire) {
            let now = std::time::Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else {
                next = now;
            }
            next += period;
            if self.frozen && self.sequence > 0 {
                // A frozen face does not change: nothing new to send.
                continue;
            }
            compositor.set_avatars(self.step());
        }
        compositor.set_avatars(Vec::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_stand_around_and_face_the_origin() {
        for n in 1..=MAX_PARTICIPANTS {
            for k in 0..n {
                let p = placement(k, n);
                let d = glam::Vec2::new(p.position.x, p.position.z).length();
                assert!((d - if k % 2 == 0 { 1.1 } else { 2.2 }).abs() < 1e-5);
                assert_eq!(p.position.y, EYE_HEIGHT);
                // The head looks at the origin (its -Z towards it).
                let look = p.orientation * -glam::Vec3::Z;
                let to = (glam::Vec3::new(0.0, EYE_HEIGHT, 0.0) - p.position).normalize();
                assert!(look.dot(to) > 0.9999, "{k}/{n}: {look} vs {to}");
            }
        }
    }
}
