//! The meeting client in the headset (`PARALLAX_MEETING`): while an app's
//! session runs, its wearer is in a holographic meeting. Remote
//! participants stand around the user as codec avatars the compositor
//! draws over the app, their voices spatialised into the headset's audio;
//! the wearer's own face, gaze, head and hands go to them as avatar
//! packets, and the microphone as voice, end-to-end encrypted
//! (`parallax-meeting`). It runs in-process, in a thread of its own, until
//! the OS layer's service can hold it for every app.
//!
//! Seats: everyone's stage is placed at a seat of the room
//! ([`parallax_meeting::seats`]), so this headset's packets carry
//! `room_from_stage · stage pose`, and what arrives is shown at
//! `stage_from_room · room pose`: a participant two seats away stands
//! where that seat is, seen from this user's own seat.
//!
//! The room's shared objects (the table, cubes and a ball the server
//! simulates) are drawn with the avatars where the client's replica
//! predicts them, and the controllers' grips take, move and throw them
//! ([`crate::room_objects`]).
//!
//! Joining and leaving: the session joins when it starts; the desktop
//! simulator's `J` key (also in `PARALLAX_SIM_KEYS`) leaves and joins
//! again. A lost connection is retried every two seconds while the user
//! wants to be in; a kick ends it until `J` is pressed.

use crate::hub::DeviceHub;
use crate::participants::{AvatarKit, Remote};
use crate::room_objects::{Grip, HandNow};
use parallax_avatar::codec::Scratch;
use parallax_avatar::packet::{self, AvatarFrame, Gaze};
use parallax_compositor::{AvatarInstance, Compositor};
use parallax_meeting::audio::{AudioSink, AudioSource, DeviceSink, DeviceSource, TalkerSource};
use parallax_meeting::invite::Invite;
use parallax_meeting::protocol::{AVATAR, VOICE};
use parallax_meeting::voice::{Head, Mixer, Talker, VoiceEncoder};
use parallax_meeting::{seats, Event, SecureClient};
use parallax_sdk::types::{DesktopControls, DesktopInput, Hand, Pose, Time};
use parallax_sdk::InputValue;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Avatar packets per second.
const RATE_HZ: f64 = 30.0;
/// Wait before joining again after a failure.
const RETRY: Duration = Duration::from_secs(2);
/// The desktop simulator's key that leaves and joins.
pub const KEY: &str = "j";

/// Where the room's voices go (`PARALLAX_MEETING_AUDIO`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AudioOut {
    /// The sound card (nothing when there is none).
    #[default]
    Device,
    /// A WAV file (stereo, 48 kHz).
    Wav(PathBuf),
    Off,
}

/// Where the wearer's voice comes from (`PARALLAX_MEETING_MIC`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mic {
    /// The default input device (no voice when there is none).
    #[default]
    Device,
    /// A scripted talker (the simulated headset's wearer).
    Talker,
    Off,
}

/// What the headset's meeting client is told.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub invite: Invite,
    pub audio: AudioOut,
    pub mic: Mic,
}

/// The running client; dropping it leaves the room.
pub struct MeetingLink {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Whether the user wants to be in the meeting: the session's switch,
/// flipped by the desktop key.
pub type Switch = Arc<AtomicBool>;

/// The driver's desktop controls with the meeting's key added: `J` flips
/// `switch`, every other input goes on to the driver. `None` when the
/// driver has no desktop controls.
pub fn desktop_controls(
    driver: Option<DesktopControls>,
    switch: &Switch,
) -> Option<DesktopControls> {
    let driver = driver?;
    let switch = switch.clone();
    let inner = driver.sink.clone();
    Some(DesktopControls {
        legend: format!("{} | J join/leave meeting", driver.legend),
        sink: Arc::new(move |ev: &DesktopInput| match ev {
            DesktopInput::Key {
                name,
                pressed,
                repeat,
            } if name.eq_ignore_ascii_case(KEY) => {
                if *pressed && !*repeat {
                    let now = !switch.fetch_xor(true, Ordering::AcqRel);
                    tracing::info!(
                        "meeting: {} (desktop key)",
                        if now { "joining" } else { "leaving" }
                    );
                }
            }
            other => inner(other),
        }),
    })
}

impl MeetingLink {
    /// Starts the client; it joins while `switch` is on.
    pub fn start(
        settings: Settings,
        hub: Arc<DeviceHub>,
        compositor: Arc<dyn Compositor>,
        switch: Switch,
    ) -> Option<MeetingLink> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("parallax-meeting".into())
            .spawn(move || {
                let client = Attendee::new(settings, hub, compositor, switch, flag);
                client.run();
            })
            .map_err(|e| tracing::warn!("meeting client not started: {e}"))
            .ok()?;
        Some(MeetingLink {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for MeetingLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How a stay in the room ended.
enum Ended {
    /// The user left, or the session ended.
    Left,
    Kicked(String),
    Lost,
}

/// One remote participant as this headset sees it.
struct Other {
    remote: Remote,
    /// The newest frame not yet decoded (room coordinates).
    pending: Option<AvatarFrame>,
    shown: Option<[AvatarInstance; 2]>,
}

struct Attendee {
    settings: Settings,
    hub: Arc<DeviceHub>,
    compositor: Arc<dyn Compositor>,
    switch: Switch,
    stop: Arc<AtomicBool>,
    kit: AvatarKit,
    scratch: Scratch,
    code: Vec<f32>,
    sink: Option<Box<dyn AudioSink>>,
    mic: Option<Box<dyn AudioSource>>,
}

impl Attendee {
    fn new(
        settings: Settings,
        hub: Arc<DeviceHub>,
        compositor: Arc<dyn Compositor>,
        switch: Switch,
        stop: Arc<AtomicBool>,
    ) -> Attendee {
        let sink: Option<Box<dyn AudioSink>> = match &settings.audio {
            AudioOut::Device => match DeviceSink::open() {
                Ok(d) => Some(Box::new(d)),
                Err(e) => {
                    tracing::warn!("meeting: the room's voices are not played: {e}");
                    None
                }
            },
            AudioOut::Wav(path) => match parallax_meeting::audio::WavSink::create(path) {
                Ok(w) => Some(Box::new(w)),
                Err(e) => {
                    tracing::warn!("meeting: the room's voices are not written: {e}");
                    None
                }
            },
            AudioOut::Off => None,
        };
        let mic: Option<Box<dyn AudioSource>> = match settings.mic {
            Mic::Device => match DeviceSource::open() {
                Ok(d) => Some(Box::new(d)),
                Err(e) => {
                    tracing::warn!("meeting: no voice is sent: {e}");
                    None
                }
            },
            Mic::Talker => Some(Box::new(TalkerSource(Talker::new(140.0)))),
            Mic::Off => None,
        };
        if let Some(s) = &sink {
            tracing::info!("meeting: the room's voices go to the {}", s.describe());
        }
        if let Some(m) = &mic {
            tracing::info!("meeting: the wearer's voice comes from {}", m.describe());
        }
        let kit = AvatarKit::new();
        let code = vec![0.0; kit.codec().code_len()];
        Attendee {
            settings,
            hub,
            compositor,
            switch,
            stop,
            kit,
            scratch: Scratch::default(),
            code,
            sink,
            mic,
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn wanted(&self) -> bool {
        self.switch.load(Ordering::Acquire) && !self.stopping()
    }

    /// Waits up to `d`, returning early when the session ends.
    fn pause(&self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end && !self.stopping() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn run(mut self) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::warn!("meeting client not started: {e}");
                return;
            }
        };
        let room = self.settings.invite.room.clone();
        while !self.stopping() {
            if !self.wanted() {
                self.pause(Duration::from_millis(50));
                continue;
            }
            let (addr, cert) = match self.settings.invite.locate() {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!("meeting {room}: {e}; trying again");
                    self.pause(RETRY);
                    continue;
                }
            };
            let token = self.settings.invite.token.clone();
            let joined = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(10),
                    SecureClient::join(addr, &cert, &room, &token),
                )
                .await
            });
            let client = match joined {
                Ok(Ok(c)) => c,
                Ok(Err(e)) => {
                    tracing::warn!("meeting {room}: cannot join: {e}; trying again");
                    self.pause(RETRY);
                    continue;
                }
                Err(_) => {
                    tracing::warn!("meeting {room}: no answer from {addr}; trying again");
                    self.pause(RETRY);
                    continue;
                }
            };
            tracing::info!(
                "meeting {room}: joined as participant {} at seat {} with {} there",
                client.id(),
                client.seat(),
                client.peers().len()
            );
            let ended = rt.block_on(self.attend(client));
            self.compositor.set_avatars(Vec::new());
            match ended {
                Ended::Left => tracing::info!("meeting {room}: left"),
                Ended::Kicked(why) => {
                    tracing::warn!("meeting {room}: removed by a host: {why}");
                    self.switch.store(false, Ordering::Release);
                }
                Ended::Lost => {
                    tracing::warn!("meeting {room}: the connection was lost; joining again");
                    self.pause(RETRY);
                }
            }
        }
        if let Some(s) = self.sink.take() {
            if let Err(e) = s.finish() {
                tracing::warn!("meeting: {e}");
            }
        }
    }

    /// This headset's avatar frame now, in the room: `None` while the
    /// head is not tracked.
    fn own_frame(
        &mut self,
        room_from_stage: &Pose,
        sequence: u16,
        since: Instant,
    ) -> Option<AvatarFrame> {
        let now = Time::now();
        let head = self.hub.head(now)?;
        if !head.orientation_tracked {
            return None;
        }
        let head = head.pose;
        // Expressions from the face tracker, else a neutral face.
        let weights = self
            .hub
            .face_expressions(now)
            .filter(|f| f.valid)
            .map(|f| f.weights)
            .unwrap_or([0.0; parallax_sdk::types::FACE_EXPRESSION_COUNT]);
        self.kit
            .codec()
            .encode(&weights, &mut self.scratch, &mut self.code);
        // Gaze in the head's frame.
        let gaze = self.hub.eye_gaze(now).and_then(|(g, tracked)| {
            tracked.then(|| {
                let direction = head.orientation.inverse() * (g.orientation * -glam::Vec3::Z);
                let eye = Gaze {
                    direction,
                    confidence: 1.0,
                };
                [eye, eye]
            })
        });
        // Hands: the controllers' grips, else the tracked hands' palms.
        let hands = [
            ("/user/hand/left", Hand::Left),
            ("/user/hand/right", Hand::Right),
        ]
        .map(|(path, hand)| {
            let grip = self
                .hub
                .device_for_user_path(path)
                .and_then(|i| self.hub.pose(i, "input/grip/pose", now))
                .filter(|p| p.position_tracked)
                .map(|p| p.pose);
            let pose = grip.or_else(|| {
                let s = self.hub.hand_joints(hand, now)?;
                let palm = s.joints.joints[0];
                (s.joints.active && palm.pose_tracked).then_some(palm.pose)
            })?;
            Some(to_packet(&room_from_stage.mul(&pose)))
        });
        Some(AvatarFrame {
            sequence,
            timestamp: packet::timestamp(since.elapsed().as_micros() as u64),
            code: self.code.clone(),
            head: to_packet(&room_from_stage.mul(&head)),
            hands,
            gaze,
        })
    }

    /// A controller's grip now, in the room, with its squeeze: `None`
    /// without a tracked controller in that hand.
    fn hand_now(
        &self,
        path: &str,
        room_from_stage: &Pose,
        values: &mut Vec<Option<InputValue>>,
    ) -> Option<HandNow> {
        let now = Time::now();
        let index = self.hub.device_for_user_path(path)?;
        let grip = self
            .hub
            .pose(index, "input/grip/pose", now)
            .filter(|p| p.position_tracked)?;
        let slot = self
            .hub
            .description(index)?
            .inputs
            .iter()
            .position(|i| i.path == "input/squeeze/value");
        self.hub.read_inputs(index, values);
        let squeeze = match slot.and_then(|i| values.get(i).copied().flatten()) {
            Some(InputValue::Float(v)) => v,
            Some(InputValue::Boolean(b)) => f32::from(u8::from(b)),
            _ => 0.0,
        };
        Some(HandNow {
            pose: room_from_stage.mul(&grip.pose),
            linvel: room_from_stage.orientation * grip.velocity.linear,
            angvel: room_from_stage.orientation * grip.velocity.angular,
            squeeze,
        })
    }

    /// Keeps the newest frame from `from` for the next tick.
    fn arrived(&self, others: &mut BTreeMap<u32, Other>, from: u32, f: AvatarFrame) {
        let o = match others.entry(from) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => match self.kit.remote(from as usize) {
                Ok(remote) => v.insert(Other {
                    remote,
                    pending: None,
                    shown: None,
                }),
                Err(e) => {
                    tracing::warn!("meeting: participant {from}: {e}");
                    return;
                }
            },
        };
        if o.pending
            .as_ref()
            .is_none_or(|p| packet::is_newer(f.sequence, p.sequence))
        {
            o.pending = Some(f);
        }
    }

    async fn attend(&mut self, mut c: SecureClient) -> Ended {
        let (p, q) = seats::room_from_stage(c.seat());
        let room_from_stage = Pose::new(q, p);
        let stage_from_room = room_from_stage.inverse();
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE_HZ));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut voice_tick = tokio::time::interval(Duration::from_millis(20));
        voice_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut encoder = match VoiceEncoder::new() {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!("meeting: no voice is sent: {e}");
                None
            }
        };
        let mut mixer = Mixer::default();
        let mut others: BTreeMap<u32, Other> = BTreeMap::new();
        let mut listener = Head::default();
        let mut sequence = 0u16;
        let mut objects = crate::room_objects::RoomObjects::default();
        let mut grips = [Grip::default(); 2];
        // The controllers' input values, read into one buffer every tick.
        let mut inputs = Vec::new();
        let ended = 'stay: loop {
            tokio::select! {
                _ = tick.tick() => {
                    if !self.wanted() {
                        break 'stay Ended::Left;
                    }
                    sequence = sequence.wrapping_add(1);
                    if let Some(f) = self.own_frame(&room_from_stage, sequence, start) {
                        listener = Head { position: f.head.position, orientation: f.head.orientation };
                        match f.encode() {
                            // Refused before the group's keys are here:
                            // nothing goes out in the clear.
                            Ok(bytes) => { let _ = c.send_media(AVATAR, &bytes); }
                            Err(e) => tracing::warn!("meeting: own avatar frame: {e}"),
                        }
                    }
                    // The wearer's hands and the room's objects.
                    if !objects.is_empty() {
                        let now = start.elapsed().as_secs_f64();
                        for (grip, path) in grips.iter_mut().zip(["/user/hand/left", "/user/hand/right"]) {
                            let hand = self.hand_now(path, &room_from_stage, &mut inputs);
                            if let Some(msg) = grip.step(hand, &mut objects, c.id(), now) {
                                if let Err(e) = c.control(&msg).await {
                                    tracing::warn!("meeting: {msg:?}: {e}");
                                }
                            }
                        }
                    }
                    // Decode what came since the last tick, at most one
                    // frame per participant.
                    let mut changed = false;
                    for o in others.values_mut() {
                        if let Some(mut f) = o.pending.take() {
                            f.head = to_packet(&stage_from_room.mul(&from_packet(&f.head)));
                            for h in f.hands.iter_mut().flatten() {
                                *h = to_packet(&stage_from_room.mul(&from_packet(h)));
                            }
                            if let Some(s) = o.remote.show(&self.kit, &f) {
                                o.shown = Some(s);
                                changed = true;
                            }
                        }
                    }
                    // Shown again when someone's frame was decoded or an
                    // object moves (the replica predicts them between the
                    // server's states); the compositor uploads every mesh
                    // it is given, so nothing still is given again.
                    if changed || objects.moving(start.elapsed().as_secs_f64()) {
                        let mut shown: Vec<AvatarInstance> =
                            others.values().flat_map(|o| o.shown.iter().flatten()).cloned().collect();
                        shown.extend(objects.instances(start.elapsed().as_secs_f64(), &stage_from_room));
                        self.compositor.set_avatars(shown);
                    }
                }
                _ = voice_tick.tick() => {
                    if let (Some(mic), Some(enc)) = (self.mic.as_mut(), encoder.as_mut()) {
                        // Every frame the microphone has (a device may
                        // deliver in bursts); pauses are not sent.
                        while let Some(pcm) = mic.read() {
                            match enc.encode(&pcm) {
                                Ok(Some(p)) => { let _ = c.send_media(VOICE, &p); }
                                Ok(None) => {}
                                Err(e) => tracing::warn!("meeting: voice: {e}"),
                            }
                            if self.settings.mic == Mic::Talker {
                                break;
                            }
                        }
                    }
                    if let Some(sink) = self.sink.as_mut() {
                        let heard = mixer.mix(&listener);
                        if let Err(e) = sink.write(&heard) {
                            tracing::warn!("meeting: the room's voices: {e}");
                            self.sink = None;
                        }
                    }
                }
                m = c.recv_media() => match m {
                    Some((AVATAR, from, payload)) => match AvatarFrame::decode(&payload) {
                        Ok(f) => {
                            mixer.set_head(from, Head { position: f.head.position, orientation: f.head.orientation });
                            self.arrived(&mut others, from, f);
                        }
                        Err(e) => tracing::debug!(from, "meeting: a bad avatar packet: {e}"),
                    },
                    Some((VOICE, from, payload)) => {
                        if let Err(e) = mixer.push(from, &payload, start.elapsed().as_secs_f64()) {
                            tracing::debug!(from, "meeting: a bad voice packet: {e}");
                        }
                    }
                    Some(_) => {}
                    None => break 'stay Ended::Lost,
                },
            }
            while let Some(e) = c.try_event() {
                match e {
                    Event::Joined(peer) => {
                        tracing::info!("meeting: {} joined as {}", peer.name, peer.id)
                    }
                    Event::Left(id) => {
                        tracing::info!("meeting: participant {id} left");
                        mixer.remove(id);
                        if others.remove(&id).is_some() {
                            let mut shown: Vec<AvatarInstance> = others
                                .values()
                                .flat_map(|o| o.shown.iter().flatten())
                                .cloned()
                                .collect();
                            shown.extend(
                                objects.instances(start.elapsed().as_secs_f64(), &stage_from_room),
                            );
                            self.compositor.set_avatars(shown);
                        }
                    }
                    Event::Kicked(why) => break 'stay Ended::Kicked(why),
                    Event::Epoch { epoch, members } => {
                        tracing::info!(
                            "meeting: end-to-end keys of epoch {epoch}, members {members:?}"
                        )
                    }
                    Event::Error(e) => tracing::warn!("meeting: the server: {e}"),
                    Event::Objects {
                        tick,
                        objects: states,
                    } => objects.apply(tick, &states, start.elapsed().as_secs_f64()),
                    _ => {}
                }
            }
        };
        // The avatars go at once, before the goodbye's round trip.
        self.compositor.set_avatars(Vec::new());
        if matches!(ended, Ended::Left) {
            c.leave().await;
        }
        ended
    }
}

fn to_packet(p: &Pose) -> packet::Pose {
    packet::Pose {
        position: p.position,
        orientation: p.orientation,
    }
}

fn from_packet(p: &packet::Pose) -> Pose {
    Pose::new(p.orientation, p.position)
}
