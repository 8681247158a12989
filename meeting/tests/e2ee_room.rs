//! End-to-end encryption over the real server on loopback: three
//! participants exchange avatar packets and chat through the server, which
//! relays everything yet sees only ciphertext; a leave and a kick each give
//! the rest new keys within a second, and a raw client in the room (one
//! that skips the encryption) reads nothing.

use base64::Engine as _;
use parallax_meeting::protocol::{ClientMsg, AVATAR};
use parallax_meeting::token::{self, Role};
use parallax_meeting::{Client, Event, SecureClient};
use std::time::Duration;

mod common;

const T: Duration = Duration::from_secs(5);

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Waits until `c` is at `epoch` with `members`; returns the events seen
/// on the way.
async fn until_epoch(c: &mut SecureClient, epoch: u64, members: usize) -> Vec<Event> {
    let mut seen = Vec::new();
    tokio::time::timeout(T, async {
        loop {
            if c.epoch() == Some(epoch) && c.members().len() == members {
                return;
            }
            match c.next_event().await {
                Some(e) => seen.push(e),
                None => panic!("participant {} lost its connection", c.id()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "participant {} at epoch {:?} with {:?}, not {epoch} with {members}; events {seen:?}",
            c.id(),
            c.epoch(),
            c.members()
        )
    });
    seen
}

/// Sends `payload` from `from` until `to` has it (datagrams may be lost,
/// and a key change may be in flight).
async fn deliver(from: &SecureClient, to: &SecureClient, payload: &[u8]) {
    tokio::time::timeout(T, async {
        loop {
            from.send_media(AVATAR, payload).unwrap();
            if let Ok(Some((kind, sender, p))) =
                tokio::time::timeout(Duration::from_millis(100), to.recv_media()).await
            {
                if kind == AVATAR && sender == from.id() && p == payload {
                    return;
                }
            }
        }
    })
    .await
    .expect("the packet arrives and opens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_relays_only_ciphertext_and_keys_change_on_every_leave() {
    let dir = common::state("e2ee");
    let (server, addr, cert, secret) = common::start(&dir);
    let mut seen_by_server = server.observe();
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());
    let tok = |n: &str, r| token::issue(&secret, "vault", n, r, 60);

    let mut a = SecureClient::join(addr, &cert, "vault", &tok("ada", Role::Host))
        .await
        .unwrap();
    assert_eq!(a.epoch(), Some(0));
    let mut b = SecureClient::join(addr, &cert, "vault", &tok("bo", Role::Member))
        .await
        .unwrap();
    let mut c = SecureClient::join(addr, &cert, "vault", &tok("cy", Role::Member))
        .await
        .unwrap();
    // A participant that joins without encryption (it could be the server's
    // accomplice): it receives every datagram but holds no key.
    let raw = Client::join(addr, &cert, "vault", &tok("eve", Role::Member))
        .await
        .unwrap();
    for p in [&mut a, &mut b, &mut c] {
        until_epoch(p, 2, 3).await;
    }
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint(), c.fingerprint());

    let secrets: Vec<Vec<u8>> = ["ada", "bo", "cy"]
        .iter()
        .map(|n| format!("PLAINTEXT AVATAR OF {n} 0123456789").into_bytes())
        .collect();
    let ps = [&a, &b, &c];
    for (i, from) in ps.iter().enumerate() {
        for (j, to) in ps.iter().enumerate() {
            if i != j {
                deliver(from, to, &secrets[i]).await;
            }
        }
    }
    a.chat(b"MEET AT THE NORTH GATE").await.unwrap();
    for p in [&mut b, &mut c] {
        let text = tokio::time::timeout(T, async {
            loop {
                if let Some(Event::Chat { text, .. }) = p.next_event().await {
                    return text;
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(text, b"MEET AT THE NORTH GATE");
    }

    // The raw participant got the datagrams, and they are not the
    // plaintext.
    let mut raw_got = 0;
    while let Ok(Some((_, _, p))) =
        tokio::time::timeout(Duration::from_millis(200), raw.recv_media()).await
    {
        raw_got += 1;
        assert!(!secrets.iter().any(|s| contains(&p, &s[..16])));
    }
    assert!(raw_got > 0, "the raw participant received nothing to check");

    // c leaves: a and b move to epoch 3 within a second; c is kicked...
    let t = std::time::Instant::now();
    c.leave().await;
    until_epoch(&mut a, 3, 2).await;
    until_epoch(&mut b, 3, 2).await;
    let rekey = t.elapsed();
    assert!(rekey < Duration::from_secs(1), "new keys after {rekey:?}");
    deliver(&a, &b, b"after the leave").await;

    // ...and a kick is a leave too.
    let d = SecureClient::join(addr, &cert, "vault", &tok("di", Role::Member))
        .await
        .unwrap();
    until_epoch(&mut a, 4, 3).await;
    a.control(&ClientMsg::Kick { id: d.id() }).await.unwrap();
    until_epoch(&mut a, 5, 2).await;
    until_epoch(&mut b, 5, 2).await;
    assert_eq!(a.members(), vec![a.id(), b.id()]);

    // Everything the server relayed: no plaintext, raw or in base64.
    let mut relayed = 0;
    while let Ok(p) = seen_by_server.try_recv() {
        relayed += 1;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&p)
            .unwrap_or_default();
        for s in secrets
            .iter()
            .map(|s| &s[..16])
            .chain([&b"NORTH GATE"[..], b"after the leave"])
        {
            assert!(!contains(&p, s) && !contains(&decoded, s));
        }
    }
    assert!(relayed > 20, "the server relayed only {relayed} payloads");
    let stats = b.stats();
    assert!(stats.opened > 0 && stats.forged == 0, "{stats:?}");

    a.leave().await;
    b.leave().await;
    raw.leave().await;
    d.leave().await;
    closer();
    let _ = run.await;
    let _ = std::fs::remove_dir_all(&dir);
}
