//! `parallax meeting`: run a room server, issue join tokens, join as
//! simulated participants, and load-test the server on loopback.

use parallax_avatar::codec::Scratch;
use parallax_avatar::packet::{self, AvatarFrame, Gaze};
use parallax_avatar::Codec;
use parallax_driver_simulated::{face, Motion, MotionKind};
use parallax_meeting::e2ee::E2eeError;
use parallax_meeting::protocol::AVATAR;
use parallax_meeting::secure::SendError;
use parallax_meeting::server::default_state_dir;
use parallax_meeting::token::{self, Role};
use parallax_meeting::{Client, Event, SecureClient, Server};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| e.to_string())
}

pub fn serve(state: Option<&Path>, listen: &str) -> Result<(), String> {
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
        let close = server.closer();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            close();
        });
        server.run().await;
        Ok(())
    })
}

pub fn token(
    state: Option<&Path>,
    room: &str,
    name: &str,
    host: bool,
    ttl: u64,
) -> Result<(), String> {
    let dir = state.map_or_else(default_state_dir, Path::to_path_buf);
    let secret = parallax_meeting::server::identity(&dir)
        .map_err(|e| e.to_string())?
        .secret;
    let role = if host { Role::Host } else { Role::Member };
    println!("{}", token::issue(&secret, room, name, role, ttl));
    Ok(())
}

/// The simulated headset's scripted wearer as avatar packets: face through
/// the codec, head, hands and gaze, `offset` seconds into the script.
struct Wearer {
    codec: Codec,
    scratch: Scratch,
    code: Vec<f32>,
    motion: Motion,
    offset: f64,
    sequence: u16,
}

impl Wearer {
    fn new(offset: f64) -> Wearer {
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
            sequence: 0,
        }
    }

    fn packet(&mut self, secs: f64) -> Vec<u8> {
        let t = parallax_sdk::types::Time(((secs + self.offset) * 1e9) as i64);
        let f = face::expressions(&self.motion, t);
        let g = face::gaze(&self.motion, t);
        self.codec
            .encode(&f.weights, &mut self.scratch, &mut self.code);
        let (head, _) = self.motion.head(t);
        let hands = [0, 1].map(|i| {
            let (grip, _) = self.motion.hand(i, t);
            Some(packet::Pose {
                position: grip.position,
                orientation: grip.orientation,
            })
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
            head: packet::Pose {
                position: head.position,
                orientation: head.orientation,
            },
            hands,
            gaze: Some([eye, eye]),
        }
        .encode()
        .expect("the scripted wearer's frame encodes")
    }
}

pub fn join(
    server: &str,
    cert: &Path,
    room: &str,
    tokens: &[String],
    seconds: f64,
) -> Result<(), String> {
    let addr: SocketAddr = server
        .parse()
        .map_err(|e| format!("--server {server}: {e}"))?;
    let cert = std::fs::read(cert).map_err(|e| format!("{}: {e}", cert.display()))?;
    if tokens.is_empty() {
        return Err("give at least one --token (one simulated participant each)".into());
    }
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
        for (k, mut c) in clients.into_iter().enumerate() {
            tasks.push(tokio::spawn(async move {
                let mut wearer = Wearer::new(3.7 * k as f64);
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / 30.0));
                let (mut sent, mut received, mut unsecured) = (0u64, 0u64, 0u64);
                let mut decoded_ok = 0u64;
                'run: while start.elapsed().as_secs_f64() < seconds {
                    tokio::select! {
                        _ = tick.tick() => {
                            let p = wearer.packet(start.elapsed().as_secs_f64());
                            match c.send_media(AVATAR, &p) {
                                Ok(()) => sent += 1,
                                // Nothing goes out in the clear before the
                                // group's keys are here.
                                Err(SendError::E2ee(E2eeError::NotSecured)) => unsecured += 1,
                                Err(_) => {}
                            }
                        }
                        m = c.recv_media() => match m {
                            Some((AVATAR, _, payload)) => {
                                received += 1;
                                decoded_ok += u64::from(AvatarFrame::decode(&payload).is_ok());
                            }
                            Some(_) => received += 1,
                            None => break,
                        },
                    }
                    while let Some(e) = c.try_event() {
                        match e {
                            Event::Joined(peer) => println!("participant {k}: {} joined", peer.name),
                            Event::Left(id) => println!("participant {k}: {id} left"),
                            Event::Epoch { epoch, members } => println!(
                                "participant {k}: end-to-end keys of epoch {epoch}, members {members:?}"
                            ),
                            Event::Kicked(reason) => {
                                println!("participant {k}: kicked: {reason}");
                                break 'run;
                            }
                            other => println!("participant {k}: {other:?}"),
                        }
                    }
                }
                let s = c.stats();
                println!(
                    "participant {k}: sent {sent} avatar packets end-to-end encrypted ({unsecured} held back before the keys), \
                     received {received} ({decoded_ok} decoded; dropped: {} replayed, {} forged, {} of unknown epochs)",
                    s.replayed, s.forged, s.unknown_epoch
                );
                c.leave().await;
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    })
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
                            Some((_, _, payload)) if payload.len() >= 8 => {
                                let t = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                                lat.push(epoch.elapsed().as_nanos() as f64 / 1e6 - t as f64 / 1e6);
                            }
                            Some(_) => {}
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
                            Some((_, _, payload)) if payload.len() >= 8 => {
                                let t = u64::from_le_bytes(payload[..8].try_into().expect("8 bytes"));
                                lat.push(epoch.elapsed().as_nanos() as f64 / 1e6 - t as f64 / 1e6);
                            }
                            Some(_) => {}
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
