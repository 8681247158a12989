//! Voice: Opus at 28 kbit/s in 20 ms frames, a jitter buffer with loss
//! concealment per speaker, spatial audio from the speaker's head pose on
//! the listener's side, and a mixer.
//!
//! - **Pauses** are not sent: after two frames quieter than -60 dBFS, the
//!   frames stop until the voice comes back. (Opus's own DTX does not
//!   work with its in-band FEC, and FEC matters more.) The sequence
//!   number goes on, so a receiver sees the gap, conceals its start and
//!   goes idle.
//! - **Packet** (the payload of a [`crate::protocol::VOICE`] datagram, then
//!   sealed end to end): `[version u8 = 1][sequence u32][timestamp u32]`
//!   (little-endian; the timestamp counts 48 kHz samples), then one Opus
//!   frame. 9 bytes of header; at 28 kbit/s a frame is ~70 bytes.
//! - **Jitter buffer** ([`VoiceReceiver`]): packets wait by sequence number
//!   and play out one per 20 ms tick once `target` frames are buffered. A
//!   missing frame is rebuilt from the next packet's in-band FEC when that
//!   is there, otherwise concealed by Opus's packet loss concealment. The
//!   depth adapts: an underrun stretches the playout by one concealed
//!   frame (one frame more delay); a buffer that has held a frame more
//!   than the measured arrival jitter needs (RFC 3550's estimator, three
//!   times it) for 5 s drops one. After 200 ms without packets the speaker
//!   is idle (silence, no concealment) until packets come again, and
//!   restarts at the depth the jitter asks for.
//! - **Spatial audio** ([`Spatializer`]): the speaker's position in the
//!   listener's head frame gives an interaural time difference (Woodworth's
//!   spherical head), an interaural level difference (the far ear quieter
//!   and low-passed by the head's shadow) and distance attenuation (inverse
//!   distance beyond 1 m). Parameters glide over each frame so that moving
//!   heads do not click.

use glam::{Quat, Vec3};
use std::collections::BTreeMap;

/// Samples per second, everywhere in the voice path.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples of one 20 ms frame (mono).
pub const FRAME: usize = 960;
/// The encoder's bit rate (the 24 to 32 kbit/s).
pub const BITRATE: i32 = 28_000;
/// The packet format's version.
pub const VERSION: u8 = 1;
/// Bytes before the Opus frame.
pub const HEADER: usize = 9;
/// The largest Opus frame accepted (well above 20 ms at 28 kbit/s).
pub const MAX_OPUS: usize = 1000;
/// Frames without a packet after which a speaker is idle.
const IDLE_FRAMES: u32 = 10;
/// Ticks (5 s) of a buffer deeper than needed before it sheds a frame.
const CALM_TICKS: u32 = 250;
/// The jitter buffer's target depth bounds, in frames.
const MIN_TARGET: usize = 1;
const MAX_TARGET: usize = 10;
/// Packets further ahead than this restart the stream (a new talk spurt
/// after a long silence, or a restarted sender).
const RESYNC: u32 = 50;

/// Why voice could not be encoded or a packet was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VoiceError {
    #[error("a voice frame is {FRAME} samples, not {0}")]
    FrameSize(usize),
    #[error("a voice packet of {0} bytes is too short")]
    Truncated(usize),
    #[error("a voice packet of version {0} (this build reads {VERSION})")]
    Version(u8),
    #[error("a voice packet with {0} bytes of Opus (at most {MAX_OPUS})")]
    Oversize(usize),
    #[error("a voice packet whose Opus frame does not decode to 20 ms: {0}")]
    Malformed(String),
    #[error("opus: {0}")]
    Codec(String),
}

fn codec(e: opus::Error) -> VoiceError {
    VoiceError::Codec(e.to_string())
}

/// One parsed voice packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoicePacket<'a> {
    pub sequence: u32,
    /// In 48 kHz samples.
    pub timestamp: u32,
    pub opus: &'a [u8],
}

impl<'a> VoicePacket<'a> {
    /// Reads a packet, checking its version and sizes (not yet the Opus
    /// frame inside: the receiver does that when it decodes).
    pub fn parse(bytes: &'a [u8]) -> Result<VoicePacket<'a>, VoiceError> {
        if bytes.is_empty() {
            return Err(VoiceError::Truncated(0));
        }
        if bytes[0] != VERSION {
            return Err(VoiceError::Version(bytes[0]));
        }
        if bytes.len() <= HEADER {
            return Err(VoiceError::Truncated(bytes.len()));
        }
        let opus = &bytes[HEADER..];
        if opus.len() > MAX_OPUS {
            return Err(VoiceError::Oversize(opus.len()));
        }
        let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        Ok(VoicePacket {
            sequence: word(1),
            timestamp: word(5),
            opus,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.opus.len());
        out.push(VERSION);
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&self.timestamp.to_le_bytes());
        out.extend_from_slice(self.opus);
        out
    }
}

/// A speaker's encoder: 20 ms mono frames in, voice packets out.
pub struct VoiceEncoder {
    encoder: opus::Encoder,
    sequence: u32,
    timestamp: u32,
    /// Whether pauses are left out.
    gate: bool,
    /// Consecutive quiet frames.
    quiet: u32,
}

/// A frame whose peak is below this is quiet (-60 dBFS).
const QUIET_PEAK: f32 = 0.001;
/// Quiet frames still sent before a pause stops sending (the voice's tail
/// and the FEC of the last loud frame).
const HANGOVER: u32 = 2;

impl std::fmt::Debug for VoiceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceEncoder")
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

impl VoiceEncoder {
    /// Opus for speech (VoIP mode), 28 kbit/s VBR, in-band FEC tuned for
    /// 10 % loss; nothing is sent in pauses.
    pub fn new() -> Result<VoiceEncoder, VoiceError> {
        Self::build(true)
    }

    /// The same, with a packet for every frame, pauses included (for
    /// measurements that follow every frame).
    pub fn continuous() -> Result<VoiceEncoder, VoiceError> {
        Self::build(false)
    }

    fn build(gate: bool) -> Result<VoiceEncoder, VoiceError> {
        let mut encoder =
            opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
                .map_err(codec)?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(BITRATE))
            .map_err(codec)?;
        encoder.set_signal(opus::Signal::Voice).map_err(codec)?;
        encoder.set_inband_fec(true).map_err(codec)?;
        encoder.set_packet_loss_perc(10).map_err(codec)?;
        Ok(VoiceEncoder {
            encoder,
            sequence: 0,
            timestamp: 0,
            gate,
            quiet: 0,
        })
    }

    /// Samples the decoder's output lags its input by (the encoder's
    /// look-ahead).
    pub fn lookahead(&mut self) -> Result<usize, VoiceError> {
        Ok(self.encoder.get_lookahead().map_err(codec)? as usize)
    }

    /// Encodes one 20 ms frame of mono samples in [-1, 1] to a packet;
    /// `None` in a pause (the sequence number still advances, so receivers
    /// see the gap).
    pub fn encode(&mut self, pcm: &[f32]) -> Result<Option<Vec<u8>>, VoiceError> {
        if pcm.len() != FRAME {
            return Err(VoiceError::FrameSize(pcm.len()));
        }
        let peak = pcm.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        self.quiet = if peak < QUIET_PEAK { self.quiet + 1 } else { 0 };
        if self.gate && self.quiet > HANGOVER {
            self.sequence = self.sequence.wrapping_add(1);
            self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
            return Ok(None);
        }
        let mut opus = [0u8; MAX_OPUS];
        let n = self.encoder.encode_float(pcm, &mut opus).map_err(codec)?;
        let packet = VoicePacket {
            sequence: self.sequence,
            timestamp: self.timestamp,
            opus: &opus[..n],
        }
        .to_bytes();
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(FRAME as u32);
        Ok(Some(packet))
    }
}

/// What a receiver did with a speaker's packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoiceStats {
    /// Packets accepted into the buffer.
    pub received: u64,
    /// Refused: bad version, truncated, oversize or not decodable.
    pub malformed: u64,
    /// Arrived after their playout time.
    pub late: u64,
    pub duplicate: u64,
    /// Frames played from a packet.
    pub decoded: u64,
    /// Frames rebuilt from the next packet's FEC.
    pub recovered: u64,
    /// Frames concealed (packet loss concealment).
    pub concealed: u64,
    /// Frames the buffer dropped to shrink its delay.
    pub dropped: u64,
    /// Times the buffer ran dry while playing.
    pub underruns: u64,
}

/// One speaker's jitter buffer and decoder.
pub struct VoiceReceiver {
    decoder: opus::Decoder,
    buffer: BTreeMap<u32, Vec<u8>>,
    /// The next sequence to play, once playing.
    next: Option<u32>,
    /// Consecutive frames played without their packet.
    missing: u32,
    target: usize,
    /// Interarrival jitter in seconds (RFC 3550, section 6.4.1).
    jitter: f64,
    last_transit: Option<f64>,
    /// Ticks the buffer has held a frame more than it needs.
    calm_ticks: u32,
    stats: VoiceStats,
}

impl std::fmt::Debug for VoiceReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceReceiver")
            .field("target", &self.target)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl VoiceReceiver {
    /// A receiver that starts playing at `target` buffered frames (at
    /// least 1) and adapts from there.
    pub fn new(target: usize) -> Result<VoiceReceiver, VoiceError> {
        Ok(VoiceReceiver {
            decoder: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).map_err(codec)?,
            buffer: BTreeMap::new(),
            next: None,
            missing: 0,
            target: target.clamp(MIN_TARGET, MAX_TARGET),
            jitter: 0.0,
            last_transit: None,
            calm_ticks: 0,
            stats: VoiceStats::default(),
        })
    }

    pub fn stats(&self) -> VoiceStats {
        self.stats
    }

    /// The current target depth in frames.
    pub fn target(&self) -> usize {
        self.target
    }

    /// The measured arrival jitter in seconds.
    pub fn jitter(&self) -> f64 {
        self.jitter
    }

    /// The sequence number the next tick plays, once playing.
    pub fn next_sequence(&self) -> Option<u32> {
        self.next
    }

    /// Frames waiting.
    pub fn depth(&self) -> usize {
        self.buffer.len()
    }

    /// Takes a packet that arrived at `arrival` (seconds on any clock
    /// that does not jump).
    pub fn push(&mut self, bytes: &[u8], arrival: f64) -> Result<(), VoiceError> {
        let packet = VoicePacket::parse(bytes).inspect_err(|_| self.stats.malformed += 1)?;
        let samples = opus::packet::get_nb_samples(packet.opus, SAMPLE_RATE)
            .map_err(|e| VoiceError::Malformed(e.to_string()));
        match samples {
            Ok(FRAME) => {}
            Ok(n) => {
                self.stats.malformed += 1;
                return Err(VoiceError::Malformed(format!("{n} samples")));
            }
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        }
        // Jitter from the spread of transit times (clock offsets cancel).
        let transit = arrival - f64::from(packet.timestamp) / f64::from(SAMPLE_RATE);
        if let Some(last) = self.last_transit {
            let d = (transit - last).abs();
            // A talk spurt after silence is not jitter.
            if d < 1.0 {
                self.jitter += (d - self.jitter) / 16.0;
            }
        }
        self.last_transit = Some(transit);

        if let Some(next) = self.next {
            let ahead = packet.sequence.wrapping_sub(next);
            if ahead > u32::MAX / 2 {
                self.stats.late += 1;
                return Ok(());
            }
            if ahead > RESYNC {
                // Far ahead: the stream restarted. Play from here.
                self.buffer.clear();
                self.next = None;
            }
        }
        if self
            .buffer
            .insert(packet.sequence, packet.opus.to_vec())
            .is_some()
        {
            self.stats.duplicate += 1;
        } else {
            self.stats.received += 1;
        }
        // Never an unbounded buffer: a sender far ahead of playout loses
        // its oldest frames.
        while self.buffer.len() > 2 * MAX_TARGET + RESYNC as usize {
            self.buffer.pop_first();
            self.stats.dropped += 1;
        }
        Ok(())
    }

    /// The target depth the measured jitter asks for: three times the
    /// jitter, in whole frames, at least one. (An underrun adds a frame on
    /// top when arrivals fall just after the playout tick.)
    fn wanted(&self) -> usize {
        let frame = FRAME as f64 / f64::from(SAMPLE_RATE);
        ((3.0 * self.jitter / frame).ceil() as usize).clamp(MIN_TARGET, MAX_TARGET)
    }

    /// Plays the next 20 ms into `out` (mono, [`FRAME`] samples). Returns
    /// false (and silence) while buffering or idle.
    pub fn pull(&mut self, out: &mut [f32]) -> bool {
        out.fill(0.0);
        let Some(next) = self.next else {
            // Buffering: start once the target depth is there.
            if self.buffer.len() >= self.target {
                self.next = self.buffer.keys().next().copied();
                self.missing = 0;
                return self.pull(out);
            }
            return false;
        };
        let wanted = self.wanted();
        if let Some(opus) = self.buffer.remove(&next) {
            self.missing = 0;
            match self.decoder.decode_float(&opus, &mut out[..FRAME], false) {
                Ok(FRAME) => self.stats.decoded += 1,
                _ => {
                    // Checked on arrival, so this is rare: conceal it.
                    self.stats.malformed += 1;
                    let _ = self.decoder.decode_float(&[], &mut out[..FRAME], false);
                    self.stats.concealed += 1;
                }
            }
        } else {
            self.missing += 1;
            if self.missing > IDLE_FRAMES {
                // The speaker stopped: idle until packets come again.
                self.next = None;
                self.buffer.clear();
                self.target = self.wanted();
                out.fill(0.0);
                let _ = self.decoder.reset_state();
                return false;
            }
            if self.buffer.is_empty() {
                // Ran dry: stretch by one concealed frame and play this
                // sequence on the next tick, one frame deeper. (A speaker
                // who stopped runs dry every tick until idle: count and
                // deepen once.)
                if self.missing == 1 {
                    self.stats.underruns += 1;
                    self.target = (self.target + 1).min(MAX_TARGET);
                }
                self.stats.concealed += 1;
                let _ = self.decoder.decode_float(&[], &mut out[..FRAME], false);
                return true;
            }
            match self.buffer.get(&next.wrapping_add(1)) {
                Some(following)
                    if self
                        .decoder
                        .decode_float(following, &mut out[..FRAME], true)
                        .is_ok_and(|n| n == FRAME) =>
                {
                    self.stats.recovered += 1;
                }
                _ => {
                    let _ = self.decoder.decode_float(&[], &mut out[..FRAME], false);
                    self.stats.concealed += 1;
                }
            }
        }
        self.next = Some(next.wrapping_add(1));
        // Shrink: when for CALM_TICKS the buffer has held at least a whole
        // frame more than the jitter needs after each tick, drop one frame
        // (20 ms less delay; at most once per CALM_TICKS).
        if self.buffer.len() >= wanted {
            self.calm_ticks += 1;
            if self.calm_ticks >= CALM_TICKS {
                self.calm_ticks = 0;
                let seq = next.wrapping_add(1);
                if self.buffer.remove(&seq).is_some() {
                    self.next = Some(seq.wrapping_add(1));
                    self.stats.dropped += 1;
                    self.target = self.target.saturating_sub(1).max(MIN_TARGET);
                }
            }
        } else {
            self.calm_ticks = 0;
        }
        true
    }
}

/// A listener's or speaker's head: position in the shared room (stage)
/// space, metres, and orientation (OpenXR axes: +x right, +y up, -z
/// forward).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Head {
    pub position: Vec3,
    pub orientation: Quat,
}

impl Default for Head {
    fn default() -> Head {
        Head {
            position: Vec3::new(0.0, 1.6, 0.0),
            orientation: Quat::IDENTITY,
        }
    }
}

/// The head's radius in Woodworth's model, metres.
const HEAD_RADIUS: f32 = 0.0875;
const SPEED_OF_SOUND: f32 = 343.0;
/// Distance attenuation starts beyond this, metres.
const REFERENCE_DISTANCE: f32 = 1.0;
/// Samples of history the delay line keeps (the longest ITD is ~0.66 ms,
/// 32 samples).
const HISTORY: usize = 64;

/// Per-ear parameters at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Ears {
    /// Delay in samples.
    delay: [f32; 2],
    gain: [f32; 2],
    /// One-pole low-pass coefficient (0: open).
    shadow: [f32; 2],
}

/// Where the source is for a listener: its ear parameters.
fn ears(listener: &Head, source: Vec3) -> Ears {
    let rel = listener.orientation.inverse() * (source - listener.position);
    let distance = rel.length().max(0.1);
    // The sine of the lateral angle: +1 fully right, -1 fully left.
    let lateral = (rel.x / distance).clamp(-1.0, 1.0);
    let angle = lateral.abs().asin();
    // Woodworth: the path around a sphere to the far ear.
    let itd = HEAD_RADIUS / SPEED_OF_SOUND * (angle + angle.sin()) * SAMPLE_RATE as f32;
    let attenuation = REFERENCE_DISTANCE / distance.max(REFERENCE_DISTANCE);
    // The head shadow: up to ~6 dB broadband and a low-pass down to
    // ~1.5 kHz at the far ear, a little boost at the near one.
    let far_gain = attenuation * (1.0 - 0.5 * lateral.abs());
    let near_gain = attenuation * (1.0 + 0.1 * lateral.abs());
    let cutoff = 20_000.0 - 18_500.0 * lateral.abs();
    let shadow = (-2.0 * std::f32::consts::PI * cutoff / SAMPLE_RATE as f32).exp();
    let (near, far) = if lateral >= 0.0 { (1, 0) } else { (0, 1) };
    let mut e = Ears {
        delay: [0.0; 2],
        gain: [0.0; 2],
        shadow: [0.0; 2],
    };
    e.delay[far] = itd;
    e.gain[near] = near_gain;
    e.gain[far] = far_gain;
    e.shadow[far] = if lateral.abs() < 0.05 { 0.0 } else { shadow };
    e
}

/// Places one speaker's voice for one listener.
#[derive(Debug)]
pub struct Spatializer {
    /// The delay line: the last HISTORY samples, then (while adding) the
    /// frame; reused, so no allocation per frame.
    line: Vec<f32>,
    last: Option<Ears>,
    lowpass: [f32; 2],
}

impl Default for Spatializer {
    fn default() -> Spatializer {
        Spatializer {
            line: vec![0.0; HISTORY],
            last: None,
            lowpass: [0.0; 2],
        }
    }
}

impl Spatializer {
    /// Adds `mono` (one frame), heard by `listener` from a speaker at
    /// `source`, to `stereo` (interleaved left/right, twice as long).
    pub fn add(&mut self, mono: &[f32], listener: &Head, source: Vec3, stereo: &mut [f32]) {
        assert_eq!(stereo.len(), 2 * mono.len(), "stereo is twice mono");
        let to = ears(listener, source);
        let from = self.last.unwrap_or(to);
        self.last = Some(to);
        let line = &mut self.line;
        line.extend_from_slice(mono);
        let n = mono.len() as f32;
        for (i, frame) in stereo.chunks_exact_mut(2).enumerate() {
            let t = i as f32 / n;
            for (ear, sample) in frame.iter_mut().enumerate() {
                let delay = from.delay[ear] + (to.delay[ear] - from.delay[ear]) * t;
                let gain = from.gain[ear] + (to.gain[ear] - from.gain[ear]) * t;
                let shadow = from.shadow[ear] + (to.shadow[ear] - from.shadow[ear]) * t;
                // Linear interpolation between the two nearest samples.
                let pos = (HISTORY + i) as f32 - delay;
                let k = pos.floor() as usize;
                let f = pos - k as f32;
                let x = line[k] * (1.0 - f) + line[(k + 1).min(line.len() - 1)] * f;
                let y = x * (1.0 - shadow) + self.lowpass[ear] * shadow;
                self.lowpass[ear] = y;
                *sample += gain * y;
            }
        }
        // Keep the last HISTORY samples for the next frame.
        let len = line.len();
        line.copy_within(len - HISTORY.., 0);
        line.truncate(HISTORY);
    }
}

/// Everyone a listener hears: a receiver and a spatializer per speaker,
/// mixed to stereo.
#[derive(Debug, Default)]
pub struct Mixer {
    speakers: BTreeMap<u32, Speaker>,
    scratch: Vec<f32>,
}

#[derive(Debug)]
struct Speaker {
    receiver: VoiceReceiver,
    spatializer: Spatializer,
    head: Head,
}

impl Mixer {
    /// Takes a voice packet from `from` that arrived at `arrival` seconds.
    pub fn push(&mut self, from: u32, bytes: &[u8], arrival: f64) -> Result<(), VoiceError> {
        let speaker = match self.speakers.entry(from) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => v.insert(Speaker {
                receiver: VoiceReceiver::new(1)?,
                spatializer: Spatializer::default(),
                head: Head::default(),
            }),
        };
        speaker.receiver.push(bytes, arrival)
    }

    /// Where `from`'s head is now (from its avatar packets).
    pub fn set_head(&mut self, from: u32, head: Head) {
        if let Some(s) = self.speakers.get_mut(&from) {
            s.head = head;
        }
    }

    /// Forgets a speaker who left.
    pub fn remove(&mut self, from: u32) {
        self.speakers.remove(&from);
    }

    /// The speakers heard so far (and not removed).
    pub fn speakers(&self) -> Vec<u32> {
        self.speakers.keys().copied().collect()
    }

    /// A speaker's receiver statistics.
    pub fn stats(&self, from: u32) -> Option<VoiceStats> {
        self.speakers.get(&from).map(|s| s.receiver.stats())
    }

    /// The next 20 ms for `listener`: interleaved stereo, [`FRAME`] × 2
    /// samples, soft-limited to [-1, 1].
    pub fn mix(&mut self, listener: &Head) -> Vec<f32> {
        let mut out = vec![0.0f32; 2 * FRAME];
        self.scratch.resize(FRAME, 0.0);
        for s in self.speakers.values_mut() {
            if s.receiver.pull(&mut self.scratch) {
                s.spatializer
                    .add(&self.scratch, listener, s.head.position, &mut out);
            }
        }
        for x in &mut out {
            // Transparent below 0.5, a smooth knee above.
            if x.abs() > 0.5 {
                *x = x.signum() * (0.5 + 0.5 * ((x.abs() - 0.5) / 0.5).tanh());
            }
        }
        out
    }
}

/// A scripted talker for simulated participants and tests: a glottal
/// pulse train at a wandering pitch through three formant resonators,
/// vowel by vowel, in syllables of 250 ms with short pauses.
/// Deterministic for a given voice.
#[derive(Debug, Clone)]
pub struct Talker {
    pitch: f32,
    phase: f32,
    n: u64,
    state: [[f32; 2]; 3],
}

/// Formants (Hz) of a, e, i, o, u.
const VOWELS: [[f32; 3]; 5] = [
    [730.0, 1090.0, 2440.0],
    [530.0, 1840.0, 2480.0],
    [270.0, 2290.0, 3010.0],
    [570.0, 840.0, 2410.0],
    [300.0, 870.0, 2240.0],
];
const FORMANT_BANDWIDTH: [f32; 3] = [80.0, 90.0, 120.0];

impl Talker {
    /// A talker with its own pitch (Hz; 100 to 250 are voices).
    pub fn new(pitch: f32) -> Talker {
        Talker {
            pitch,
            phase: 0.0,
            n: 0,
            state: [[0.0; 2]; 3],
        }
    }

    /// The next `FRAME` samples.
    pub fn frame(&mut self) -> Vec<f32> {
        let fs = SAMPLE_RATE as f32;
        let syllable = (fs * 0.25) as u64;
        let mut out = Vec::with_capacity(FRAME);
        for _ in 0..FRAME {
            let index = self.n / syllable;
            let within = (self.n % syllable) as f32 / syllable as f32;
            let vowel = VOWELS[(index * 7 % 5) as usize];
            // Pitch wanders by syllable and glides within it.
            let f0 = self.pitch * (1.0 + 0.08 * ((index % 3) as f32 - 1.0) - 0.05 * within);
            self.phase += f0 / fs;
            let pulse = if self.phase >= 1.0 {
                self.phase -= 1.0;
                1.0
            } else {
                0.0
            };
            // Every fourth syllable is a pause; the others swell and fade.
            let envelope = if index % 4 == 3 {
                0.0
            } else {
                (within / 0.12).min(1.0) * ((1.0 - within) / 0.2).min(1.0)
            };
            let mut x = pulse * envelope;
            for (k, state) in self.state.iter_mut().enumerate() {
                let r = (-std::f32::consts::PI * FORMANT_BANDWIDTH[k] / fs).exp();
                let theta = 2.0 * std::f32::consts::PI * vowel[k] / fs;
                let y = (1.0 - r) * x + 2.0 * r * theta.cos() * state[0] - r * r * state[1];
                state[1] = state[0];
                state[0] = y;
                x = y;
            }
            out.push(x);
            self.n += 1;
        }
        // A level like speech at the microphone: peaks near 0.3.
        for x in &mut out {
            *x *= 60.0;
        }
        out
    }
}

/// The largest normalised cross-correlation of `b` against `a` over lags
/// `0..max_lag` (`b` later than `a`), and that lag: how alike what was
/// said and what was heard are, and how late. For tests and measurements.
pub fn correlation(a: &[f32], b: &[f32], max_lag: usize) -> (f32, usize) {
    let mut best = (f32::MIN, 0);
    for lag in 0..max_lag {
        let n = a.len().min(b.len().saturating_sub(lag));
        let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            let (x, y) = (a[i] as f64, b[i + lag] as f64);
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        let c = (ab / (aa * bb).sqrt().max(1e-12)) as f32;
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_and_bad_ones_are_refused() {
        let p = VoicePacket {
            sequence: 7,
            timestamp: 6720,
            opus: &[1, 2, 3],
        };
        let bytes = p.to_bytes();
        assert_eq!(VoicePacket::parse(&bytes), Ok(p));
        assert_eq!(VoicePacket::parse(&[]), Err(VoiceError::Truncated(0)));
        assert_eq!(
            VoicePacket::parse(&bytes[..HEADER]),
            Err(VoiceError::Truncated(HEADER))
        );
        let mut future = bytes.clone();
        future[0] = 2;
        assert_eq!(VoicePacket::parse(&future), Err(VoiceError::Version(2)));
        let mut big = bytes[..HEADER].to_vec();
        big.resize(HEADER + MAX_OPUS + 1, 0);
        assert_eq!(
            VoicePacket::parse(&big),
            Err(VoiceError::Oversize(MAX_OPUS + 1))
        );
    }

    #[test]
    fn the_far_ear_is_later_and_quieter() {
        let listener = Head::default();
        let right = ears(&listener, listener.position + Vec3::X);
        assert_eq!(right.delay[1], 0.0);
        // Woodworth at 90°: a/c (π/2 + 1) = 0.656 ms = 31.5 samples.
        assert!((right.delay[0] - 31.5).abs() < 0.2, "{:?}", right);
        assert!(right.gain[0] < right.gain[1]);
        let ahead = ears(&listener, listener.position - 2.0 * Vec3::Z);
        assert_eq!(ahead.delay, [0.0, 0.0]);
        assert!((ahead.gain[0] - 0.5).abs() < 1e-6 && (ahead.gain[1] - 0.5).abs() < 1e-6);
        // Turning the head 90° to the right puts a source ahead on the left.
        let turned = Head {
            orientation: Quat::from_rotation_y(-std::f32::consts::FRAC_PI_2),
            ..listener
        };
        let left = ears(&turned, listener.position - Vec3::Z);
        assert!(left.delay[1] > 30.0 && left.delay[0] == 0.0, "{left:?}");
    }
}
