//! A headset app in a holographic meeting: a room server on loopback with
//! two simulated participants (the scripted wearer, frozen faces, one of
//! them talking), and Debian's `hello_xr` (a third-party app that knows
//! nothing of meetings) on this build's runtime through the real loader,
//! with `PARALLAX_MEETING` set to an invitation and the head still.
//! Checked:
//!
//! - the two participants stand where their seats put them, seen from the
//!   headset's seat: their faces (skin-coloured pixels) at the tangents
//!   the geometry gives in a capture of the left eye;
//! - the headset's own avatar reaches them: its head where the static
//!   simulated head is, carried to its seat, and its voice (the scripted
//!   talker as the microphone);
//! - the room's shared objects are drawn: the ball on the table;
//! - the talking participant is heard in the headset's audio (a WAV sink),
//!   louder in the ear on its side;
//! - the desktop key `J` (played with `PARALLAX_SIM_KEYS`) leaves: the
//!   others see the headset go, and the next capture has no avatars; a
//!   second `J` joins again as a new participant;
//! - the wearer walks to the ball (simulator keys), takes it with the
//!   left controller's grip, lifts it and lets go: the others see it held
//!   by the headset and raised.

mod common;

use common::{read_png, target_dir};
use parallax_avatar::packet::AvatarFrame;
use parallax_meeting::invite::Invite;
use parallax_meeting::objects::TABLE_TOP;
use parallax_meeting::protocol::{AVATAR, VOICE};
use parallax_meeting::sim::Wearer;
use parallax_meeting::token::{self, Role};
use parallax_meeting::voice::VoiceEncoder;
use parallax_meeting::{seats, Event, SecureClient, Server};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Pixel of the left eye image looking along tangents (tx, ty): the
/// simulated display's left-eye field of view (-54, 40, 44, -49 degrees).
fn pixel_for(tx: f32, ty: f32, width: u32, height: u32) -> (u32, u32) {
    let (l, r, u, d) = (
        (-54f32).to_radians().tan(),
        40f32.to_radians().tan(),
        44f32.to_radians().tan(),
        (-49f32).to_radians().tan(),
    );
    (
        ((tx - l) / (r - l) * width as f32) as u32,
        ((u - ty) / (u - d) * height as f32) as u32,
    )
}

/// The ball among the room's objects, and where it starts (room).
const BALL: u32 = 4;
const BALL_AT: [f32; 3] = [0.0, TABLE_TOP + 0.051, -0.3];

/// What a simulated participant saw of the others.
#[derive(Default, Debug)]
struct Seen {
    /// The last avatar head position (room) per sender, and how many
    /// frames.
    heads: BTreeMap<u32, (glam::Vec3, glam::Quat, u32)>,
    voice: BTreeMap<u32, u32>,
    joined: Vec<u32>,
    left: Vec<u32>,
    /// Who held the ball, and how high it went.
    ball_holders: Vec<u32>,
    ball_top: f32,
}

struct Sim {
    id: u32,
    seat: u32,
    /// Its head in the room (frozen).
    head: glam::Vec3,
    seen: Arc<Mutex<Seen>>,
}

/// Joins, sends a frozen avatar at 30 Hz (and a voice when `talks`) until
/// `stop`, recording what arrives.
async fn participant(
    k: usize,
    mut c: SecureClient,
    talks: bool,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
) {
    let mut wearer = Wearer::new(c.id(), c.seat(), 3.7 * k as f64, true);
    let mut encoder = VoiceEncoder::continuous().unwrap();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / 30.0));
    let mut voice = tokio::time::interval(Duration::from_millis(20));
    let start = std::time::Instant::now();
    while !stop.load(Ordering::Acquire) {
        tokio::select! {
            _ = tick.tick() => {
                let p = wearer.packet(start.elapsed().as_secs_f64());
                let _ = c.send_media(AVATAR, &p);
            }
            _ = voice.tick(), if talks => {
                if let Ok(Some(p)) = encoder.encode(&wearer.talker.frame()) {
                    let _ = c.send_media(VOICE, &p);
                }
            }
            m = c.recv_media() => match m {
                Some((AVATAR, from, payload)) => {
                    if let Ok(f) = AvatarFrame::decode(&payload) {
                        let mut s = seen.lock().unwrap();
                        let e = s.heads.entry(from).or_insert((glam::Vec3::ZERO, glam::Quat::IDENTITY, 0));
                        *e = (f.head.position, f.head.orientation, e.2 + 1);
                    }
                }
                Some((VOICE, from, _)) => *seen.lock().unwrap().voice.entry(from).or_default() += 1,
                Some(_) => {}
                None => break,
            },
        }
        while let Some(e) = c.try_event() {
            let mut s = seen.lock().unwrap();
            match e {
                Event::Joined(p) => s.joined.push(p.id),
                Event::Left(id) => s.left.push(id),
                Event::Objects { objects, .. } => {
                    for o in objects.iter().filter(|o| o.id == BALL) {
                        if let Some(h) = o.holder.filter(|h| !s.ball_holders.contains(h)) {
                            s.ball_holders.push(h);
                        }
                        s.ball_top = s.ball_top.max(o.position[1]);
                    }
                }
                _ => {}
            }
        }
    }
    c.leave().await;
}

#[test]
fn hello_xr_sits_in_a_meeting() {
    let _g = common::serial();
    common::entry(); // writes the runtime manifest and sets XR_RUNTIME_JSON
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = target_dir().join("meeting_test_state");
    let _ = std::fs::remove_dir_all(&state);
    let server = rt
        .block_on(async { Server::open(&state, "127.0.0.1:0".parse().unwrap()) })
        .unwrap();
    let addr = server.local_addr().unwrap();
    let cert = server.cert_der().to_vec();
    let secret = std::fs::read(state.join("secret")).unwrap();
    let run = rt.spawn(server.clone().run());
    let stop = Arc::new(AtomicBool::new(false));
    let mut sims = Vec::new();
    let mut tasks = Vec::new();
    for k in 0..2 {
        let t = token::issue(&secret, "standup", &format!("sim-{k}"), Role::Member, 600);
        let c = rt
            .block_on(SecureClient::join(addr, &cert, "standup", &t))
            .unwrap();
        let (id, seat) = (c.id(), c.seat());
        let mut w = Wearer::new(id, seat, 3.7 * k as f64, true);
        w.packet(0.0);
        let seen = Arc::new(Mutex::new(Seen::default()));
        sims.push(Sim {
            id,
            seat,
            head: w.head.position,
            seen: seen.clone(),
        });
        tasks.push(rt.spawn(participant(k, c, k == 0, stop.clone(), seen)));
    }
    assert_eq!((sims[0].seat, sims[1].seat), (0, 1));
    let invite = Invite::to_server(
        "standup",
        &token::issue(&secret, "standup", "headset", Role::Member, 600),
        &addr.to_string(),
        &cert,
    )
    .encode();
    let wav = target_dir().join("meeting_test_heard.wav");
    let _ = std::fs::remove_file(&wav);
    // In the room at the first capture; J at app frame 150 leaves (the
    // second capture has no avatars); J at 400 joins again. Captures count
    // the frames the compositor latched, which fall behind the app's while
    // a capture is composed (half a second here) and the app goes on: hence
    // the wide gaps.
    // After joining again, the wearer walks to the ball (the left
    // controller's grip over it), picks the left hand (key 1), squeezes,
    // lifts it 30 cm and lets go.
    let (p, q) = seats::room_from_stage(2);
    let ball_stage = q.inverse() * (glam::Vec3::from_array(BALL_AT) - p);
    let walk = ball_stage + glam::Vec3::new(0.0, 0.05, 0.0) - glam::Vec3::new(-0.2, 1.2, -0.35);
    let taps = |d: f32, plus: &str, minus: &str| {
        let n = (d.abs() / 0.05).round() as u32;
        match n {
            0 => String::new(),
            n => format!("420:{}*{n} ", if d > 0.0 { plus } else { minus }),
        }
    };
    let keys = format!(
        "150:j 400:j {}{}{}440:1 440:g+ 450:e*6 470:g-",
        taps(walk.x, "d", "a"),
        taps(walk.z, "s", "w"),
        taps(walk.y, "e", "q")
    );
    let capture = target_dir().join("meeting_capture");
    let _ = std::fs::remove_dir_all(&capture);
    let (status, err) = common::hello_xr(
        "Vulkan2",
        &[
            ("PARALLAX_SIM_MOTION", "static".as_ref()),
            ("PARALLAX_EXIT_AFTER_FRAMES", "520".as_ref()),
            ("PARALLAX_CAPTURE", capture.as_os_str()),
            ("PARALLAX_CAPTURE_FRAMES", "40,200".as_ref()),
            ("PARALLAX_MEETING", invite.as_ref()),
            ("PARALLAX_MEETING_AUDIO", wav.as_os_str()),
            ("PARALLAX_MEETING_MIC", "talker".as_ref()),
            ("PARALLAX_SIM_KEYS", keys.as_ref()),
            ("PARALLAX_LOG", "parallax_runtime::meeting=info".as_ref()),
        ],
    );
    assert!(status.success(), "hello_xr exited with {status}:\n{err}");
    stop.store(true, Ordering::Release);
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    server.closer()();
    let _ = rt.block_on(run);

    // The headset took the third seat; the others stand at theirs.
    let stage_from_room = |x: glam::Vec3| q.inverse() * (x - p);
    let eye = glam::Vec3::new(-0.0315, 1.6, 0.0);
    let skin = |c: [u8; 3]| c[0] > 120 && c[0] > c[1] && c[1] > c[2] && c[0] - c[2] > 30;
    let faces = |frame: u32| -> Vec<usize> {
        let (w, h, img) = read_png(&capture.join(format!("frame-{frame:05}-eye0.png")));
        sims.iter()
            .map(|s| {
                let at = stage_from_room(s.head) - eye;
                assert!(at.z < 0.0, "participant {} is behind the user", s.id);
                let (tx, ty) = (at.x / -at.z, at.y / -at.z);
                let (a, b) = (
                    pixel_for(tx - 0.02, ty + 0.03, w, h),
                    pixel_for(tx + 0.02, ty - 0.03, w, h),
                );
                let mut n = 0;
                for y in (a.1..b.1).step_by(2) {
                    for x in (a.0..b.0).step_by(2) {
                        let i = ((y * w + x) * 4) as usize;
                        n += usize::from(skin([img[i], img[i + 1], img[i + 2]]));
                    }
                }
                n
            })
            .collect()
    };
    let before = faces(40);
    assert!(
        before.iter().all(|&n| n > 100),
        "the participants' faces in the meeting: {before:?} skin pixels; the runtime said:\n{err}"
    );
    let after = faces(200);
    assert_eq!(after, vec![0, 0], "avatars still shown after leaving");
    // The room's shared objects: the ball (teal) rests on the table where
    // the server put it.
    let ball = |frame: u32| {
        let (w, h, img) = read_png(&capture.join(format!("frame-{frame:05}-eye0.png")));
        let b = stage_from_room(glam::Vec3::from_array(BALL_AT)) - eye;
        let (x, y) = pixel_for(b.x / -b.z, b.y / -b.z, w, h);
        let i = ((y * w + x) * 4) as usize;
        [img[i], img[i + 1], img[i + 2]]
    };
    let teal = |c: [u8; 3]| c[1] > c[0] + 40 && c[2] > c[0] + 40;
    assert!(teal(ball(40)), "the ball: {:?}", ball(40));
    assert!(!teal(ball(200)), "the ball after leaving: {:?}", ball(200));

    // What the simulated participants saw of the headset.
    let s0 = sims[0].seen.lock().unwrap();
    let headsets: Vec<u32> = s0
        .joined
        .iter()
        .copied()
        .filter(|&id| id != sims[1].id)
        .collect();
    assert_eq!(
        headsets.len(),
        2,
        "the headset joins, leaves and joins again: {s0:?}"
    );
    assert_eq!(s0.left.first(), Some(&headsets[0]), "{s0:?}");
    let (head, orientation, frames) = s0.heads[&headsets[0]];
    assert!(frames > 20, "only {frames} avatar frames from the headset");
    // The static simulated head (eye height, looking down -Z) at its seat.
    let expected = p + q * glam::Vec3::new(0.0, 1.6, 0.0);
    assert!(
        head.distance(expected) < 0.01,
        "the headset's head at {head}, not {expected}"
    );
    assert!(
        (orientation * -glam::Vec3::Z).dot((q * -glam::Vec3::Z).normalize()) > 0.999,
        "the headset does not face the table"
    );
    assert!(
        s0.heads.contains_key(&headsets[1]),
        "no frames after rejoining"
    );
    // The wearer took the ball and lifted it; the others saw it.
    assert_eq!(
        s0.ball_holders,
        vec![headsets[1]],
        "keys {keys}: {s0:?}\n{err}"
    );
    assert!(
        s0.ball_top > BALL_AT[1] + 0.2,
        "the ball rose only to {:.2} m",
        s0.ball_top
    );
    let voice = s0.voice.get(&headsets[0]).copied().unwrap_or(0);
    assert!(voice > 20, "only {voice} voice frames from the headset");
    drop(s0);
    let id0 = sims[0].id;
    assert!(
        !sims[1].seen.lock().unwrap().voice.is_empty()
            && sims[1].seen.lock().unwrap().heads.contains_key(&id0)
    );

    // The talking participant (seat 0) in the headset's ears: loud enough,
    // and louder on its side.
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let samples: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect();
    let (mut l, mut r) = (0f64, 0f64);
    for f in samples.chunks(2) {
        l += (f[0] as f64).powi(2);
        r += (f[1] as f64).powi(2);
    }
    let n = (samples.len() / 2).max(1) as f64;
    let (l, r) = ((l / n).sqrt(), (r / n).sqrt());
    let rms_db = 20.0 * ((l + r) / 2.0).log10();
    assert!(rms_db > -45.0, "the talker is heard at {rms_db:.1} dBFS");
    let side = stage_from_room(sims[0].head).x;
    assert!(
        if side > 0.0 { r > l * 1.2 } else { l > r * 1.2 },
        "the talker at x = {side:.2} m: left {l:.4}, right {r:.4}"
    );
}
