//! `parallax meeting`: run a room server, issue join tokens, join as
//! simulated participants, and load-test the server on loopback.

use parallax_avatar::packet::AvatarFrame;
use parallax_meeting::audio::{self, AudioSink};
use parallax_meeting::directory::{self, Directory};
use parallax_meeting::e2ee::E2eeError;
use parallax_meeting::invite::Invite;
use parallax_meeting::objects::{Replica, TABLE_TOP};
use parallax_meeting::protocol::{ClientMsg, AVATAR, FAR_DISTANCE, VOICE};
use parallax_meeting::secure::SendError;
use parallax_meeting::server::default_state_dir;
use parallax_meeting::sim::Wearer;
use parallax_meeting::token::{self, Role};
use parallax_meeting::voice::{Head, Mixer, VoiceEncoder};
use parallax_meeting::{Client, Event, SecureClient, Server};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| e.to_string())
}

/// Where a participant finds its room's server.
pub enum Place {
    /// host:port and the certificate file.
    Server(String, std::path::PathBuf),
    /// A directory's URL.
    Directory(String),
}

pub fn directory(listen: &str, secret: &Path) -> Result<(), String> {
    let secret = std::fs::read(secret).map_err(|e| format!("{}: {e}", secret.display()))?;
    let rt = runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("--listen {listen}: {e}"))?;
        println!(
            "meeting directory on http://{} (servers announce with `parallax meeting serve --directory ...`)",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let d = Directory::new(secret, directory::EXPIRY);
        tokio::select! {
            r = d.serve(listener) => r.map_err(|e| e.to_string()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

pub fn serve(
    state: Option<&Path>,
    listen: &str,
    cluster: Option<(String, String, Option<String>)>,
) -> Result<(), String> {
    let dir = state.map_or_else(default_state_dir, Path::to_path_buf);
    let addr: SocketAddr = listen
        .parse()
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    let rt = runtime()?;
    rt.block_on(async {
        let server = Server::open(&dir, addr).map_err(|e| e.to_string())?;
        println!(
            "meeting server on {} (UDP/QUIC); state and certificate in {}",
            server.local_addr().map_err(|e| e.to_string())?,
            dir.display()
        );
        println!(
            "clients trust {}; issue tokens with `parallax meeting token --state {} --room ROOM --name NAME`",
            dir.join("cert.der").display(),
            dir.display()
        );
        if let Some((url, name, advertise)) = cluster {
            let address = match advertise {
                Some(a) => a,
                None => server.local_addr().map_err(|e| e.to_string())?.to_string(),
            };
            let secret = std::fs::read(dir.join("secret")).map_err(|e| e.to_string())?;
            println!("announcing {name} at {address} to the directory {url}");
            tokio::spawn(directory::announce(
                url,
                secret,
                name,
                address,
                server.cert_der().to_vec(),
                directory::HEARTBEAT,
            ));
        }
        let close = server.closer();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            close();
        });
        server.run().await;
        Ok(())
    })
}

/// The server's identity in its state folder (default: the usual one).
fn identity(state: Option<&Path>) -> Result<parallax_meeting::server::Identity, String> {
    let dir = state.map_or_else(default_state_dir, Path::to_path_buf);
    parallax_meeting::server::identity(&dir).map_err(|e| e.to_string())
}

/// A join token signed with `identity`'s secret.
fn sign(
    identity: &parallax_meeting::server::Identity,
    room: &str,
    name: &str,
    host: bool,
    ttl: u64,
) -> String {
    let role = if host { Role::Host } else { Role::Member };
    token::issue(&identity.secret, room, name, role, ttl)
}

pub fn token(
    state: Option<&Path>,
    room: &str,
    name: &str,
    host: bool,
    ttl: u64,
) -> Result<(), String> {
    println!("{}", sign(&identity(state)?, room, name, host, ttl));
    Ok(())
}

/// `parallax meeting invite`: prints an invitation.
pub fn invite(
    state: Option<&Path>,
    server: Option<&str>,
    directory: Option<&str>,
    room: &str,
    name: &str,
    host: bool,
    ttl: u64,
) -> Result<(), String> {
    let identity = identity(state)?;
    let token = sign(&identity, room, name, host, ttl);
    let invite = match (server, directory) {
        (Some(address), None) => {
            address
                .parse::<SocketAddr>()
                .map_err(|e| format!("--server {address}: {e}"))?;
            Invite::to_server(room, &token, address, &identity.cert)
        }
        (None, Some(url)) => Invite::through_directory(room, &token, url),
        _ => return Err("give --server or --directory".into()),
    };
    println!("{}", invite.encode());
    Ok(())
}

/// Tokens for `n` simulated participants (`sim-1` ...), signed with the
/// secret in the server's state folder.
pub fn simulated_tokens(state: Option<&Path>, room: &str, n: usize) -> Result<Vec<String>, String> {
    if n == 0 {
        return Err("--simulate needs at least 1 participant".into());
    }
    let identity = identity(state)?;
    Ok((1..=n)
        .map(|k| sign(&identity, room, &format!("sim-{k}"), false, 24 * 3600))
        .collect())
}

pub fn join(
    place: Place,
    room: &str,
    tokens: &[String],
    seconds: f64,
    frozen: bool,
    wav: Option<&Path>,
) -> Result<(), String> {
    let (addr, cert): (SocketAddr, Vec<u8>) = match place {
        Place::Server(server, cert) => (
            server
                .parse()
                .map_err(|e| format!("--server {server}: {e}"))?,
            std::fs::read(&cert).map_err(|e| format!("{}: {e}", cert.display()))?,
        ),
        Place::Directory(url) => {
            let p = directory::resolve(&url, room).map_err(|e| e.to_string())?;
            println!(
                "the directory places {room} on {} at {}",
                p.server, p.address
            );
            (
                p.address
                    .parse()
                    .map_err(|e| format!("the directory's address {}: {e}", p.address))?,
                p.cert_der().map_err(|e| e.to_string())?,
            )
        }
    };
    if tokens.is_empty() {
        return Err("give at least one --token (one simulated participant each)".into());
    }
    let fallback = std::path::PathBuf::from(format!("meeting-{room}.wav"));
    let sink = audio::open_output(wav, &fallback).map_err(|e| e.to_string())?;
    println!(
        "participant 0 hears the room through the {}",
        sink.describe()
    );
    let mut sink = Some(sink);
    let rt = runtime()?;
    rt.block_on(async {
        let mut clients = Vec::new();
        for (k, t) in tokens.iter().enumerate() {
            let c = SecureClient::join(addr, &cert, room, t)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "participant {k}: joined {room} as {} ({} there)",
                c.id(),
                c.peers().len()
            );
            clients.push(c);
        }
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (k, c) in clients.into_iter().enumerate() {
            let sink = if k == 0 { sink.take() } else { None };
            tasks.push(tokio::spawn(participant(
                k, c, sink, start, seconds, frozen,
            )));
        }
        for t in tasks {
            if let Ok(Some(sink)) = t.await {
                sink.finish().map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    })
}

/// The ball among the room's shared objects.
const BALL: u32 = 4;

/// One simulated participant: its avatar at 30 Hz and its voice (a
/// scripted talker) at 50 frames/s out, the others' avatars and voices in,
/// their voices spatialised from their heads for its own head, into `sink`.
async fn participant(
    k: usize,
    mut c: SecureClient,
    mut sink: Option<Box<dyn AudioSink>>,
    start: Instant,
    seconds: f64,
    frozen: bool,
) -> Option<Box<dyn AudioSink>> {
    let mut wearer = Wearer::new(c.id(), c.seat(), 3.7 * k as f64, frozen);
    let mut encoder = match VoiceEncoder::new() {
        Ok(e) => e,
        Err(e) => {
            println!("participant {k}: {e}");
            return sink;
        }
    };
    let mut mixer = Mixer::default();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / 30.0));
    let mut voice_tick = tokio::time::interval(Duration::from_millis(20));
    let (mut sent, mut received, mut unsecured) = (0u64, 0u64, 0u64);
    let (mut voice_sent, mut voice_bytes) = (0u64, 0usize);
    let mut decoded_ok = 0u64;
    let mut replica = Replica::default();
    let mut heads: std::collections::BTreeMap<u32, glam::Vec3> = Default::default();
    let mut far: Vec<u32> = Vec::new();
    let (mut object_updates, mut grabbed, mut thrown, mut landed) = (0u64, false, false, false);
    'run: while start.elapsed().as_secs_f64() < seconds {
        tokio::select! {
            _ = tick.tick() => {
                let now = start.elapsed().as_secs_f64();
                // The first participant picks the ball up after a second,
                // lifts it for half a second and tosses it across the table.
                if k == 0 && now >= 1.0 && !thrown {
                    if !grabbed {
                        grabbed = c.control(&ClientMsg::Grab { object: BALL }).await.is_ok();
                        if grabbed {
                            println!("participant {k}: grabbed the ball");
                        }
                    } else if now < 1.5 {
                        let lift = ((now - 1.0) / 0.5) as f32;
                        let position = [0.0, TABLE_TOP + 0.1 + 0.4 * lift, -0.3];
                        replica.hold_here(BALL, Some((glam::Vec3::from_array(position), glam::Quat::IDENTITY)));
                        let _ = c
                            .control(&ClientMsg::Hold { object: BALL, position, orientation: [0.0, 0.0, 0.0, 1.0] })
                            .await;
                    } else {
                        replica.hold_here(BALL, None);
                        thrown = c
                            .control(&ClientMsg::Release { object: BALL, linvel: [0.0, 1.5, 2.0], angvel: [0.0; 3] })
                            .await
                            .is_ok();
                        if thrown {
                            println!("participant {k}: threw the ball");
                        }
                    }
                }
                // Interest management: tell the server who is far, when
                // that changes (their avatars then come at 10 Hz).
                let far_now: Vec<u32> = heads
                    .iter()
                    .filter(|(_, p)| p.distance(wearer.head.position) > FAR_DISTANCE)
                    .map(|(&id, _)| id)
                    .collect();
                if far_now != far {
                    far = far_now;
                    let _ = c.control(&ClientMsg::Interest { far: far.clone() }).await;
                    println!("participant {k}: far participants now {far:?}");
                }
                let p = wearer.packet(now);
                match c.send_media(AVATAR, &p) {
                    Ok(()) => sent += 1,
                    // Nothing goes out in the clear before the group's
                    // keys are here.
                    Err(SendError::E2ee(E2eeError::NotSecured)) => unsecured += 1,
                    Err(_) => {}
                }
            }
            _ = voice_tick.tick() => {
                // Pauses are not sent (DTX).
                if let Ok(Some(p)) = encoder.encode(&wearer.talker.frame()) {
                    if c.send_media(VOICE, &p).is_ok() {
                        voice_sent += 1;
                        voice_bytes += p.len();
                    }
                }
                let heard = mixer.mix(&wearer.head);
                if let Some(s) = sink.as_mut() {
                    if let Err(e) = s.write(&heard) {
                        println!("participant {k}: {e}");
                        sink = None;
                    }
                }
            }
            m = c.recv_media() => match m {
                Some((AVATAR, from, payload)) => {
                    received += 1;
                    if let Ok(f) = AvatarFrame::decode(&payload) {
                        decoded_ok += 1;
                        mixer.set_head(from, Head {
                            position: f.head.position,
                            orientation: f.head.orientation,
                        });
                        heads.insert(from, f.head.position);
                    }
                }
                Some((VOICE, from, payload)) => {
                    received += 1;
                    let _ = mixer.push(from, &payload, start.elapsed().as_secs_f64());
                }
                Some(_) => received += 1,
                None => break,
            },
        }
        while let Some(e) = c.try_event() {
            match e {
                Event::Joined(peer) => println!("participant {k}: {} joined", peer.name),
                Event::Left(id) => {
                    mixer.remove(id);
                    heads.remove(&id);
                    println!("participant {k}: {id} left")
                }
                Event::Epoch { epoch, members } => println!(
                    "participant {k}: end-to-end keys of epoch {epoch}, members {members:?}"
                ),
                Event::Kicked(reason) => {
                    println!("participant {k}: kicked: {reason}");
                    break 'run;
                }
                Event::Objects { tick, objects } => {
                    object_updates += 1;
                    replica.apply(tick, &objects, start.elapsed().as_secs_f64());
                    if let Some(ball) = objects.iter().find(|o| o.id == BALL) {
                        if thrown && !landed && ball.resting && ball.holder.is_none() {
                            landed = true;
                            let [x, y, z] = ball.position;
                            println!(
                                "participant {k}: the ball came to rest at ({x:.2}, {y:.2}, {z:.2})"
                            );
                        }
                    }
                }
                other => println!("participant {k}: {other:?}"),
            }
        }
    }
    let s = c.stats();
    println!(
        "participant {k}: sent {sent} avatar packets end-to-end encrypted ({unsecured} held back before the keys), \
         received {received} ({decoded_ok} avatar frames decoded; dropped: {} replayed, {} forged, {} of unknown epochs)",
        s.replayed, s.forged, s.unknown_epoch
    );
    let secs = start.elapsed().as_secs_f64();
    println!(
        "participant {k}: sent {voice_sent} voice frames ({:.1} kbit/s with headers, before sealing)",
        voice_bytes as f64 * 8.0 / secs / 1000.0
    );
    println!("participant {k}: {object_updates} shared object updates from the server");
    for id in mixer.speakers() {
        if let Some(v) = mixer.stats(id) {
            println!(
                "participant {k}: heard {id}: {} voice frames decoded, {} rebuilt from FEC, {} concealed, {} late, {} underruns",
                v.decoded, v.recovered, v.concealed, v.late, v.underruns
            );
        }
    }
    c.leave().await;
    sink
}

/// `parallax meeting demo`: a server and `n` simulated participants in
/// this process, the showcase app in the meeting.
pub fn demo(
    n: usize,
    mic: &str,
    mut opts: crate::demo::Options,
    manifest: &Path,
) -> Result<std::process::ExitCode, String> {
    let dir = std::env::temp_dir().join(format!("px-meeting-demo-{}", std::process::id()));
    let rt = runtime()?;
    let result = (|| {
        let server = rt
            .block_on(async { Server::open(&dir, "127.0.0.1:0".parse().expect("an address")) })
            .map_err(|e| e.to_string())?;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        let cert = server.cert_der().to_vec();
        let secret = std::fs::read(dir.join("secret")).map_err(|e| e.to_string())?;
        rt.spawn(server.clone().run());
        let start = Instant::now();
        for k in 0..n {
            let t = token::issue(
                &secret,
                "demo",
                &format!("sim-{}", k + 1),
                Role::Member,
                24 * 3600,
            );
            let c = rt
                .block_on(SecureClient::join(addr, &cert, "demo", &t))
                .map_err(|e| e.to_string())?;
            rt.spawn(participant(k, c, None, start, f64::INFINITY, false));
        }
        let you = token::issue(&secret, "demo", "you", Role::Host, 24 * 3600);
        let invite = Invite::to_server("demo", &you, &addr.to_string(), &cert);
        println!("meeting demo: a room server on {addr} with {n} simulated participants; you join as the headset");
        opts.env.extend([
            ("PARALLAX_MEETING".to_string(), invite.encode()),
            ("PARALLAX_MEETING_MIC".to_string(), mic.to_string()),
            ("PARALLAX_AVATAR_MOTION".to_string(), "live".to_string()),
        ]);
        if opts.headless
            || std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty())
                && std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty())
        {
            std::fs::create_dir_all(&opts.out)
                .map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
            let wav = opts.out.join("heard.wav");
            println!("what you hear: {}", wav.display());
            opts.env
                .push(("PARALLAX_MEETING_AUDIO".into(), wav.display().to_string()));
        }
        let code = crate::demo::run(opts, manifest);
        server.closer()();
        code
    })();
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// CPU time of this process (user + system), seconds.
fn cpu_seconds() -> f64 {
    // /proc/self/stat fields 14 and 15: utime, stime in clock ticks.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

pub fn load(participants: usize, seconds: f64, rate: f64) -> Result<(), String> {
    if participants < 2 {
        return Err("--participants must be 2 or more".into());
    }
    let dir = std::env::temp_dir().join(format!("px-meeting-load-{}", std::process::id()));
    let rt = runtime()?;
    let result = rt.block_on(async {
        let server = Server::open(&dir, "127.0.0.1:0".parse().expect("an address")).map_err(|e| e.to_string())?;
        let addr = server.local_addr().map_err(|e| e.to_string())?;
        let cert = server.cert_der().to_vec();
        let secret = std::fs::read(dir.join("secret")).map_err(|e| e.to_string())?;
        let run = tokio::spawn(server.clone().run());
        let mut clients = Vec::new();
        for k in 0..participants {
            let t = token::issue(&secret, "load", &format!("p{k}"), Role::Member, 600);
            clients.push(Client::join(addr, &cert, "load", &t).await.map_err(|e| e.to_string())?);
        }
        // Every participant sends a 66-byte packet (an avatar frame with
        // both hands) `rate` times a second, stamped with its send time.
        let epoch = Instant::now();
        let before = server.stats();
        let cpu0 = cpu_seconds();
        let mut tasks = Vec::new();
        for c in clients {
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let mut lat = Vec::new();
                // A packet's latency from the send time stamped in it.
                let record = |lat: &mut Vec<f64>, payload: &[u8]| {
                    if let Some(t) = payload.get(..8) {
                        let t = u64::from_le_bytes(t.try_into().expect("8 bytes"));
                        lat.push(epoch.elapsed().as_nanos() as f64 / 1e6 - t as f64 / 1e6);
                    }
                };
                let mut sent = 0u64;
                let end = epoch + Duration::from_secs_f64(seconds);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {
                            if Instant::now() >= end { break; }
                            let mut p = [0u8; 66];
                            p[..8].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
                            if c.send_media(AVATAR, &p).is_ok() { sent += 1; }
                        }
                        m = c.recv_media() => match m {
                            Some((_, _, payload)) => record(&mut lat, &payload),
                            None => break,
                        },
                    }
                }
                // Late arrivals.
                let drain = tokio::time::sleep(Duration::from_millis(200));
                tokio::pin!(drain);
                loop {
                    tokio::select! {
                        _ = &mut drain => break,
                        m = c.recv_media() => match m {
                            Some((_, _, payload)) => record(&mut lat, &payload),
                            None => break,
                        },
                    }
                }
                (sent, lat, c)
            }));
        }
        let mut sent = 0u64;
        let mut lat = Vec::new();
        let mut clients = Vec::new();
        for t in tasks {
            let (s, l, c) = t.await.map_err(|e| e.to_string())?;
            sent += s;
            lat.extend(l);
            clients.push(c);
        }
        let elapsed = epoch.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        let after = server.stats();
        for c in clients {
            c.leave().await;
        }
        server.closer()();
        let _ = run.await;
        lat.sort_by(f64::total_cmp);
        let expected = sent * (participants as u64 - 1);
        let got = lat.len() as u64;
        let q = |p: f64| lat.get(((lat.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(f64::NAN);
        println!("meeting load on loopback: {participants} participants, {rate} avatar packets/s each (66 bytes), {seconds} s");
        println!("(server and clients in this one process, on this machine's cores)");
        println!();
        println!("{:<40} {:>12}", "forwarded packets/s", format!("{:.0}", (after.forwarded - before.forwarded) as f64 / elapsed));
        println!("{:<40} {:>12}", "forward latency p50 (ms, send to receive)", format!("{:.2}", q(0.5)));
        println!("{:<40} {:>12}", "forward latency p99 (ms)", format!("{:.2}", q(0.99)));
        println!("{:<40} {:>12}", "loss", format!("{:.2} %", 100.0 * (expected.saturating_sub(got)) as f64 / expected.max(1) as f64));
        println!("{:<40} {:>12}", "CPU per participant (% of a core)", format!("{:.1}", 100.0 * cpu / elapsed / participants as f64));
        println!("{:<40} {:>12}", "up per participant (kbit/s, payload)", format!("{:.1}", 66.0 * 8.0 * rate / 1000.0));
        Ok::<(), String>(())
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}
