//! Voice costs and latency:
//!
//! 1. CPU per 20 ms frame: Opus encode, decode through the jitter buffer,
//!    spatialise and mix, as a share of one core.
//! 2. Mouth-to-ear on loopback: a talker sends 20 ms frames in real time
//!    through the real server, sealed end to end; a listener plays one
//!    frame per 20 ms tick. The latency is from when a sample is captured
//!    (its frame is complete 20 ms after the frame's first sample) to when
//!    it plays (its position in the played stream), found by
//!    cross-correlating what was said with what was played. It includes
//!    framing, encoding, sealing, the network, the server, opening, the
//!    wait for the playout tick, the jitter buffer and Opus's look-ahead;
//!    not the sound card's buffers.
//! 3. Bits per second a participant sends: avatar and voice, sealed, and
//!    with the per-datagram QUIC/UDP/IPv4 overhead.
//!
//! `cargo bench -p parallax-meeting --bench voice [-- SECONDS]`

use glam::Vec3;
use parallax_meeting::e2ee::OVERHEAD;
use parallax_meeting::protocol::VOICE;
use parallax_meeting::token::{self, Role};
use parallax_meeting::voice::{
    correlation, Head, Mixer, Talker, VoiceEncoder, FRAME, HEADER, SAMPLE_RATE,
};
use parallax_meeting::{SecureClient, Server};
use std::time::{Duration, Instant};

/// An avatar frame with both hands (see the meetings doc).
const AVATAR_BYTES: usize = 66;
/// UDP + IPv4 headers, and a QUIC short header with an 8-byte connection
/// id, a 2-byte packet number, a datagram frame header and the AEAD tag.
const WIRE_OVERHEAD: usize = 28 + 1 + 8 + 2 + 3 + 16;

fn cpu(frames: usize) {
    let mut talker = Talker::new(140.0);
    let pcm: Vec<Vec<f32>> = (0..frames).map(|_| talker.frame()).collect();
    let mut encoder = VoiceEncoder::continuous().unwrap();
    let start = Instant::now();
    let packets: Vec<Vec<u8>> = pcm
        .iter()
        .map(|f| encoder.encode(f).unwrap().expect("a packet per frame"))
        .collect();
    let encode = start.elapsed() / frames as u32;

    // Eight speakers around the listener: decode + spatialise + mix.
    const SPEAKERS: u32 = 8;
    let mut mixer = Mixer::default();
    let listener = Head::default();
    let mut mixed = Duration::ZERO;
    for (i, p) in packets.iter().enumerate() {
        for s in 0..SPEAKERS {
            mixer.push(s, p, i as f64 * 0.02).unwrap();
            let a = s as f32 * std::f32::consts::TAU / SPEAKERS as f32;
            mixer.set_head(
                s,
                Head {
                    position: listener.position + 1.5 * Vec3::new(a.sin(), 0.0, -a.cos()),
                    ..listener
                },
            );
        }
        let t = Instant::now();
        std::hint::black_box(mixer.mix(&listener));
        mixed += t.elapsed();
    }
    let mix = mixed / frames as u32;
    let per = |d: Duration| {
        format!(
            "{:.1} µs ({:.2} % of a core)",
            d.as_secs_f64() * 1e6,
            d.as_secs_f64() / 0.02 * 100.0
        )
    };
    println!("CPU per 20 ms frame ({frames} frames of a scripted talker):");
    println!("| step | time |");
    println!("|---|---|");
    println!("| Opus encode (28 kbit/s, FEC) | {} |", per(encode));
    println!(
        "| {SPEAKERS} speakers: jitter buffer, decode, spatialise, mix | {} |",
        per(mix)
    );
    println!("| per speaker | {} |\n", per(mix / SPEAKERS));
}

async fn latency(seconds: f64) {
    let dir = std::env::temp_dir().join(format!("px-voice-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::open(&dir, "127.0.0.1:0".parse().unwrap()).unwrap();
    let (addr, cert) = (server.local_addr().unwrap(), server.cert_der().to_vec());
    let secret = std::fs::read(dir.join("secret")).unwrap();
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());
    let tok = |n: &str| token::issue(&secret, "bench", n, Role::Member, 60);
    // What leaving pauses out saves on the same talker (a quarter of its syllables are
    // pauses).
    let mut dtx = VoiceEncoder::new().unwrap();
    let mut voice = Talker::new(140.0);
    let (mut dtx_packets, mut dtx_bytes) = (0usize, 0usize);
    let dtx_frames = 1000;
    for _ in 0..dtx_frames {
        if let Some(p) = dtx.encode(&voice.frame()).unwrap() {
            dtx_packets += 1;
            dtx_bytes += p.len();
        }
    }
    let mut talker_c = SecureClient::join(addr, &cert, "bench", &tok("talker"))
        .await
        .unwrap();
    let mut listener_c = SecureClient::join(addr, &cert, "bench", &tok("listener"))
        .await
        .unwrap();
    for c in [&mut talker_c, &mut listener_c] {
        while c.members().len() != 2 {
            c.next_event().await.unwrap();
        }
    }
    let frames = (seconds / 0.02) as usize;
    let origin = Instant::now();
    let talker = tokio::spawn(async move {
        let mut voice = Talker::new(140.0);
        // Every frame sent, so that every frame is followed.
        let mut encoder = VoiceEncoder::continuous().unwrap();
        let mut said = Vec::new();
        let mut bytes = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.tick().await;
        // Capture of frame 0 began one frame before it is complete.
        let t0 = origin.elapsed().as_secs_f64();
        for _ in 0..frames {
            let f = voice.frame();
            let p = encoder.encode(&f).unwrap().expect("a packet per frame");
            bytes += p.len();
            talker_c.send_media(VOICE, &p).unwrap();
            said.extend_from_slice(&f);
            tick.tick().await;
        }
        (said, t0, bytes, talker_c)
    });
    let mut mixer = Mixer::default();
    let mut played = Vec::new();
    let listener = Head::default();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    // When the first played frame starts.
    let mut r0 = None;
    let end = origin.elapsed().as_secs_f64() + seconds + 0.3;
    let mut speaker = None;
    let mut talk_stats = None;
    while origin.elapsed().as_secs_f64() < end {
        tokio::select! {
            _ = tick.tick() => {
                r0.get_or_insert(origin.elapsed().as_secs_f64());
                played.extend(mixer.mix(&listener).chunks_exact(2).map(|lr| lr[0]));
                // The statistics of the talk, before the end of it (when
                // the buffer runs dry and conceals until the talker is idle).
                if let Some(s) = speaker.and_then(|id| mixer.stats(id)) {
                    if s.decoded + s.recovered + s.dropped >= frames as u64 && talk_stats.is_none() {
                        talk_stats = Some(s);
                    }
                }
            }
            m = listener_c.recv_media() => {
                if let Some((VOICE, from, p)) = m {
                    mixer.push(from, &p, origin.elapsed().as_secs_f64()).unwrap();
                    mixer.set_head(from, Head { position: listener.position - Vec3::Z, ..listener });
                    speaker = Some(from);
                }
            }
        }
    }
    let (said, t0, voice_bytes, talker_c) = talker.await.unwrap();
    let r0 = r0.expect("played");
    let (c, lag) = correlation(&said[..said.len().min(2 * 48_000)], &played, 48 * 300);
    let capture_start = t0 - 0.02;
    let mouth_to_ear = r0 - capture_start + lag as f64 / f64::from(SAMPLE_RATE);
    let stats = talk_stats.expect("the whole talk played");
    println!("Mouth-to-ear on loopback ({seconds} s of speech, one talker, one listener):");
    println!(
        "| mouth-to-ear | correlation | frames decoded | rebuilt (FEC) | concealed | underruns |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {:.1} ms | {c:.3} | {} | {} | {} | {} |\n",
        mouth_to_ear * 1e3,
        stats.decoded,
        stats.recovered,
        stats.concealed,
        stats.underruns
    );
    let voice_payload = voice_bytes as f64 / frames as f64 - HEADER as f64;
    let sealed_voice = voice_payload + (HEADER + OVERHEAD + 1) as f64;
    let sealed_avatar = (AVATAR_BYTES + OVERHEAD + 1) as f64;
    let kbits = |bytes: f64, rate: f64| bytes * rate * 8.0 / 1000.0;
    println!("Sent per participant (avatar 30 Hz, voice 50 frames/s; datagram = kind byte + sealed payload):");
    println!("| stream | Opus or code | sealed datagram | kbit/s sealed | kbit/s on the wire |");
    println!("|---|---|---|---|---|");
    let wire = |d: f64, rate: f64| kbits(d + WIRE_OVERHEAD as f64, rate);
    println!(
        "| avatar | {AVATAR_BYTES} B | {sealed_avatar:.0} B | {:.1} | {:.1} |",
        kbits(sealed_avatar, 30.0),
        wire(sealed_avatar, 30.0)
    );
    println!(
        "| voice | {voice_payload:.0} B | {sealed_voice:.0} B | {:.1} | {:.1} |",
        kbits(sealed_voice, 50.0),
        wire(sealed_voice, 50.0)
    );
    println!(
        "| both | | | {:.1} | {:.1} |",
        kbits(sealed_avatar, 30.0) + kbits(sealed_voice, 50.0),
        wire(sealed_avatar, 30.0) + wire(sealed_voice, 50.0)
    );
    // Pauses left out: fewer voice datagrams.
    let rate = 50.0 * dtx_packets as f64 / dtx_frames as f64;
    let dtx_payload = dtx_bytes as f64 / dtx_packets as f64 - HEADER as f64;
    let dtx_sealed = dtx_payload + (HEADER + OVERHEAD + 1) as f64;
    println!(
        "| voice, pauses left out ({rate:.1} packets/s) | {dtx_payload:.0} B | {dtx_sealed:.0} B | {:.1} | {:.1} |",
        kbits(dtx_sealed, rate),
        wire(dtx_sealed, rate)
    );
    println!(
        "| both, pauses left out | | | {:.1} | {:.1} |",
        kbits(sealed_avatar, 30.0) + kbits(dtx_sealed, rate),
        wire(sealed_avatar, 30.0) + wire(dtx_sealed, rate)
    );
    talker_c.leave().await;
    listener_c.leave().await;
    closer();
    let _ = run.await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5.0);
    cpu(1000);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(latency(seconds));
    assert_eq!(FRAME, 960);
}
