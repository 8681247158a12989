//! Voice over the real server on loopback, end-to-end encrypted: three
//! participants talk at once for 1.5 s (each a scripted talker with its own
//! pitch, 20 ms frames in real time); each hears the other two, and what
//! it decodes correlates with what they said. The server relays the voice
//! and sees none of the Opus frames.

use parallax_meeting::protocol::VOICE;
use parallax_meeting::token::{self, Role};
use parallax_meeting::voice::{
    correlation, Talker, VoiceEncoder, VoicePacket, VoiceReceiver, FRAME,
};
use parallax_meeting::SecureClient;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

const FRAMES: usize = 75;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_hear_each_other() {
    let dir = common::state("voice");
    let (server, addr, cert, secret) = common::start(&dir);
    let mut seen_by_server = server.observe();
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());

    let mut people = Vec::new();
    for name in ["ada", "bo", "cy"] {
        let t = token::issue(&secret, "choir", name, Role::Member, 60);
        people.push(SecureClient::join(addr, &cert, "choir", &t).await.unwrap());
    }
    tokio::time::timeout(Duration::from_secs(5), async {
        for p in &mut people {
            while !(p.epoch() == Some(2) && p.members().len() == 3) {
                p.next_event().await.expect("connected");
            }
        }
    })
    .await
    .expect("one group of three");

    let people: Vec<Arc<SecureClient>> = people.into_iter().map(Arc::new).collect();
    let ids: Vec<u32> = people.iter().map(|p| p.id()).collect();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (k, p) in people.iter().enumerate() {
        // The talker: 20 ms frames on a real-time clock.
        let speaker = p.clone();
        let talk = tokio::spawn(async move {
            let mut talker = Talker::new(110.0 + 45.0 * k as f32);
            let mut encoder = VoiceEncoder::new().unwrap();
            let mut said = Vec::new();
            let mut sent = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for _ in 0..FRAMES {
                tick.tick().await;
                let f = talker.frame();
                // Pauses are not sent (DTX).
                if let Some(packet) = encoder.encode(&f).unwrap() {
                    speaker.send_media(VOICE, &packet).unwrap();
                    sent.push(packet);
                }
                said.extend_from_slice(&f);
            }
            (said, sent)
        });
        // The listener: what arrived from whom, and when.
        let listener = p.clone();
        let listen = tokio::spawn(async move {
            let mut heard: BTreeMap<u32, Vec<(f64, Vec<u8>)>> = BTreeMap::new();
            let deadline = Duration::from_millis(20 * FRAMES as u64 + 500);
            while let Ok(Some((kind, from, payload))) = tokio::time::timeout(
                deadline.saturating_sub(start.elapsed()),
                listener.recv_media(),
            )
            .await
            {
                assert_eq!(kind, VOICE);
                heard
                    .entry(from)
                    .or_default()
                    .push((start.elapsed().as_secs_f64(), payload));
            }
            heard
        });
        tasks.push((talk, listen));
    }
    let mut said = Vec::new();
    let mut sent = Vec::new();
    let mut heard = Vec::new();
    for (talk, listen) in tasks {
        let (s, p) = talk.await.unwrap();
        said.push(s);
        sent.push(p);
        heard.push(listen.await.unwrap());
    }

    for (li, h) in heard.iter().enumerate() {
        assert_eq!(h.len(), 2, "participant {} hears two others", ids[li]);
        for (&from, packets) in h {
            let si = ids.iter().position(|&i| i == from).unwrap();
            assert_ne!(si, li, "nobody hears themselves");
            // Play it back through a jitter buffer in arrival order, one
            // frame per 20 ms of the speaker's clock (pauses were not sent,
            // so the ticks go on through them).
            let mut rx = VoiceReceiver::new(1).unwrap();
            let mut out = Vec::new();
            let mut f = vec![0.0; FRAME];
            let mut ticks = 0;
            for (t, p) in packets {
                let sequence = VoicePacket::parse(p).unwrap().sequence;
                while ticks < sequence {
                    rx.pull(&mut f);
                    out.extend_from_slice(&f);
                    ticks += 1;
                }
                rx.push(p, *t).unwrap();
            }
            while rx.depth() > 0 {
                rx.pull(&mut f);
                out.extend_from_slice(&f);
            }
            let (c, lag) = correlation(&said[si], &out, 6000);
            let s = rx.stats();
            eprintln!(
                "{} hears {from}: correlation {c:.3} at {:.1} ms, {s:?}",
                ids[li],
                lag as f64 / 48.0
            );
            assert!(s.received as usize >= sent[si].len() * 9 / 10, "{s:?}");
            assert!(c > 0.8, "{} hearing {from}: correlation {c}", ids[li]);
        }
    }

    // The server relayed every frame and read none: no Opus frame of
    // anyone's voice appears in what it forwarded.
    let mut relayed = Vec::new();
    while let Ok(b) = seen_by_server.try_recv() {
        relayed.extend_from_slice(&b);
    }
    assert!(
        relayed.len() > 3 * 2 * FRAMES * 40,
        "{} bytes relayed",
        relayed.len()
    );
    for packets in &sent {
        for p in packets {
            let opus = VoicePacket::parse(p).unwrap().opus;
            if opus.len() >= 16 {
                assert!(
                    !relayed.windows(16).any(|w| w == &opus[..16]),
                    "an Opus frame in the clear"
                );
            }
        }
    }
    for p in people {
        Arc::try_unwrap(p).expect("tasks done").leave().await;
    }
    closer();
    let _ = run.await;
}
