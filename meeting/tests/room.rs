//! The room server on loopback with real QUIC clients: three participants
//! see each other's avatar packets (byte for byte, with who sent them), a
//! leaver is gone for the others at once, tokens that are forged, expired
//! or for another room are refused, malformed datagrams and control
//! messages are dropped or end only their sender's connection, hosts kick
//! and mute, and a kick outlives a server restart.

use parallax_avatar::packet::{AvatarFrame, Pose};
use parallax_meeting::protocol::{ClientMsg, ServerMsg, AVATAR, VOICE};
use parallax_meeting::token::{self, Role};
use parallax_meeting::Client;
use std::time::Duration;

mod common;
use common::{start, state};

const T: Duration = Duration::from_secs(3);

/// The next room event, past the shared objects' updates (their own test
/// is `objects_room.rs`).
async fn event(c: &mut Client) -> ServerMsg {
    loop {
        let m = tokio::time::timeout(T, c.next_event())
            .await
            .expect("an event in time")
            .expect("the connection is open");
        if !matches!(m, ServerMsg::Objects { .. }) {
            return m;
        }
    }
}

fn packet(seq: u16) -> Vec<u8> {
    AvatarFrame {
        sequence: seq,
        timestamp: 1234,
        code: vec![0.25, -0.5, 0.75, 0.0],
        head: Pose {
            position: glam::Vec3::new(0.1, 1.6, -0.2),
            orientation: glam::Quat::IDENTITY,
        },
        hands: [None, None],
        gaze: None,
    }
    .encode()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_participants_see_each_other_and_leaving_is_seen() {
    let dir = state("three");
    let (server, addr, cert, secret) = start(&dir);
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());
    let tok = |n: &str| token::issue(&secret, "lobby", n, Role::Member, 60);
    let mut a = Client::join(addr, &cert, "lobby", &tok("ada"))
        .await
        .unwrap();
    assert!(a.peers.is_empty());
    let mut b = Client::join(addr, &cert, "lobby", &tok("bo"))
        .await
        .unwrap();
    assert_eq!(b.peers.len(), 1);
    assert_eq!(b.peers[0].name, "ada");
    let mut c = Client::join(addr, &cert, "lobby", &tok("cy"))
        .await
        .unwrap();
    assert_eq!(c.peers.len(), 2);
    for (who, want) in [
        (&mut a, ["bo", "cy"].as_slice()),
        (&mut b, ["cy"].as_slice()),
    ] {
        for name in want {
            match event(who).await {
                ServerMsg::Joined { peer } => assert_eq!(peer.name, *name),
                other => panic!("{other:?}"),
            }
        }
    }
    // Each sends its avatar packet; each receives the other two, unread
    // and unchanged, with the sender's id.
    let clients = [&a, &b, &c];
    for (k, x) in clients.iter().enumerate() {
        x.send_media(AVATAR, &packet(k as u16)).unwrap();
    }
    for (k, x) in clients.iter().enumerate() {
        let mut got = Vec::new();
        for _ in 0..2 {
            let (kind, from, payload) = tokio::time::timeout(T, x.recv_media())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(kind, AVATAR);
            let sender = clients.iter().position(|y| y.id == from).unwrap();
            assert_ne!(sender, k, "a participant's own packet came back");
            assert_eq!(&payload[..], &packet(sender as u16)[..]);
            assert_eq!(
                AvatarFrame::decode(&payload).unwrap().sequence,
                sender as u16
            );
            got.push(sender);
        }
        got.sort();
        assert_eq!(got.len(), 2);
    }
    // Bo leaves: the others are told within a second.
    let bo = b.id;
    let t0 = std::time::Instant::now();
    b.leave().await;
    for x in [&mut a, &mut c] {
        match event(x).await {
            ServerMsg::Left { id } => assert_eq!(id, bo),
            other => panic!("{other:?}"),
        }
    }
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    closer();
    let _ = tokio::time::timeout(T, run).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_and_bad_packets_are_refused_and_counted() {
    let dir = state("bad");
    let (server, addr, cert, secret) = start(&dir);
    let run = tokio::spawn(server.clone().run());
    // Forged, expired, other-room and garbage tokens, each with its reason.
    let forged = token::issue(b"not the server's secret", "lobby", "ada", Role::Host, 60);
    let expired = token::issue(&secret, "lobby", "ada", Role::Member, 0);
    let kitchen = token::issue(&secret, "kitchen", "ada", Role::Member, 60);
    for (tok, says) in [
        (forged.as_str(), "signature"),
        (expired.as_str(), "expired"),
        (kitchen.as_str(), "kitchen"),
        ("garbage", "malformed"),
    ] {
        match Client::join(addr, &cert, "lobby", tok).await {
            Err(parallax_meeting::client::JoinError::Refused(r)) => {
                assert!(r.contains(says), "{r}")
            }
            other => panic!("{says}: {other:?}"),
        }
    }
    assert_eq!(server.stats().refused, 4);
    assert_eq!(server.participants("lobby"), 0);
    let tok = |n: &str| token::issue(&secret, "lobby", n, Role::Member, 60);
    let mut a = Client::join(addr, &cert, "lobby", &tok("ada"))
        .await
        .unwrap();
    let mut b = Client::join(addr, &cert, "lobby", &tok("bo"))
        .await
        .unwrap();
    let _ = event(&mut a).await; // bo joined
                                 // Malformed datagrams: an unknown kind, no payload, oversize. Dropped
                                 // and counted; the next good one still arrives.
    a.send_raw(&[9, 1, 2, 3]).unwrap();
    a.send_raw(&[AVATAR]).unwrap();
    a.send_raw(&vec![AVATAR; 1150]).unwrap();
    a.send_media(VOICE, b"voice frame").unwrap();
    let (kind, from, payload) = tokio::time::timeout(T, b.recv_media())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (kind, from, &payload[..]),
        (VOICE, a.id, &b"voice frame"[..])
    );
    assert_eq!(server.stats().malformed, 3);
    // Only hosts may kick or mute.
    b.control(&ClientMsg::Kick { id: a.id }).await.unwrap();
    match event(&mut b).await {
        ServerMsg::Error { reason } => assert!(reason.contains("only hosts"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A malformed control message ends only its sender's connection.
    let mut c = Client::join(addr, &cert, "lobby", &tok("cy"))
        .await
        .unwrap();
    let _ = event(&mut a).await; // cy joined
    let _ = event(&mut b).await;
    c.control(&ClientMsg::Chat {
        data: "x".repeat(20_000),
    })
    .await
    .unwrap();
    match event(&mut c).await {
        ServerMsg::Error { reason } => assert!(reason.contains("16 KiB"), "{reason}"),
        other => panic!("{other:?}"),
    }
    c.send_control_bytes(b"{\"type\": \"dance\"}")
        .await
        .unwrap();
    match event(&mut c).await {
        ServerMsg::Kicked { reason } => assert!(reason.contains("malformed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let cy = c.id;
    assert_eq!(event(&mut a).await, ServerMsg::Left { id: cy });
    a.send_media(AVATAR, &packet(7)).unwrap();
    let (kind, _, _) = tokio::time::timeout(T, b.recv_media())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kind, AVATAR);
    server.closer()();
    let _ = tokio::time::timeout(T, run).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_mute_and_kick_and_a_kick_outlives_a_restart() {
    let dir = state("host");
    let (server, addr, cert, secret) = start(&dir);
    let run = tokio::spawn(server.clone().run());
    let mut host = Client::join(
        addr,
        &cert,
        "stage",
        &token::issue(&secret, "stage", "hana", Role::Host, 60),
    )
    .await
    .unwrap();
    let guest_token = token::issue(&secret, "stage", "gus", Role::Member, 600);
    let mut guest = Client::join(addr, &cert, "stage", &guest_token)
        .await
        .unwrap();
    let _ = event(&mut host).await; // gus joined
                                    // Muted: the guest's voice stops, the avatar goes on.
    host.control(&ClientMsg::Mute {
        id: guest.id,
        muted: true,
    })
    .await
    .unwrap();
    let gid = guest.id;
    for c in [&mut host, &mut guest] {
        assert_eq!(
            event(c).await,
            ServerMsg::Muted {
                id: gid,
                muted: true
            }
        );
    }
    guest.send_media(VOICE, b"not heard").unwrap();
    guest.send_media(AVATAR, &packet(3)).unwrap();
    let (kind, _, _) = tokio::time::timeout(T, host.recv_media())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kind, AVATAR, "the muted voice was forwarded");
    // Kicked: told why, gone for the others, barred from the room.
    host.control(&ClientMsg::Kick { id: guest.id })
        .await
        .unwrap();
    match event(&mut guest).await {
        ServerMsg::Kicked { reason } => assert!(reason.contains("hana"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(event(&mut host).await, ServerMsg::Left { id: guest.id });
    let again = Client::join(addr, &cert, "stage", &guest_token).await;
    assert!(
        matches!(again, Err(parallax_meeting::client::JoinError::Refused(ref r)) if r.contains("removed")),
        "{again:?}"
    );
    // The server restarts on the same state: same identity, the room is
    // remembered, the kick still holds.
    server.closer()();
    let _ = tokio::time::timeout(T, run).await;
    drop(host);
    let (server, addr, cert2, _) = start(&dir);
    assert_eq!(cert2, cert, "the same certificate after a restart");
    assert_eq!(server.rooms(), vec!["stage".to_string()]);
    let run = tokio::spawn(server.clone().run());
    let again = Client::join(addr, &cert, "stage", &guest_token).await;
    assert!(
        matches!(again, Err(parallax_meeting::client::JoinError::Refused(_))),
        "{again:?}"
    );
    let ok = Client::join(
        addr,
        &cert,
        "stage",
        &token::issue(&secret, "stage", "ivy", Role::Member, 60),
    )
    .await;
    assert!(ok.is_ok());
    server.closer()();
    let _ = tokio::time::timeout(T, run).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn send_avatars(c: &Client, n: u16) {
    for k in 0..n {
        c.send_media(AVATAR, &packet(k)).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Counts the avatar packets from `from` that reach `c` until `quiet`
/// passes without one.
async fn count_avatars(c: &Client, from: u32, quiet: Duration) -> usize {
    let mut n = 0;
    while let Ok(Some((kind, sender, _))) = tokio::time::timeout(quiet, c.recv_media()).await {
        n += usize::from(kind == AVATAR && sender == from);
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn far_participants_arrive_at_a_third_of_the_rate() {
    let dir = state("interest");
    let (server, addr, cert, secret) = start(&dir);
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());
    let tok = |n: &str| token::issue(&secret, "hall", n, Role::Member, 60);
    let mut a = Client::join(addr, &cert, "hall", &tok("ada"))
        .await
        .unwrap();
    let b = Client::join(addr, &cert, "hall", &tok("bo")).await.unwrap();
    let c = Client::join(addr, &cert, "hall", &tok("cy")).await.unwrap();
    // Ada sees Bo from across the hall. (A member's kick comes back as an
    // error: by then the server has read the interest before it.)
    a.control(&ClientMsg::Interest { far: vec![b.id] })
        .await
        .unwrap();
    a.control(&ClientMsg::Kick { id: c.id }).await.unwrap();
    loop {
        if let ServerMsg::Error { .. } = event(&mut a).await {
            break;
        }
    }
    send_avatars(&b, 30).await;
    let quiet = Duration::from_millis(300);
    let (near, far) = tokio::join!(
        count_avatars(&c, b.id, quiet),
        count_avatars(&a, b.id, quiet)
    );
    assert!(near >= 28, "Cy got {near} of 30");
    assert!((8..=10).contains(&far), "Ada got {far} of 30 from afar");
    // Bo comes closer: everything again.
    a.control(&ClientMsg::Interest { far: vec![] })
        .await
        .unwrap();
    a.control(&ClientMsg::Kick { id: c.id }).await.unwrap();
    loop {
        if let ServerMsg::Error { .. } = event(&mut a).await {
            break;
        }
    }
    send_avatars(&b, 12).await;
    let close = count_avatars(&a, b.id, quiet).await;
    assert!(close >= 11, "Ada got {close} of 12 up close");
    closer();
    let _ = run.await;
}
