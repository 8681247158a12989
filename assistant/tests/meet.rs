//! The sample agent in a meeting on loopback: it joins a room as a
//! participant (end-to-end encrypted), answers in the chat when a person
//! addresses it, with its citations, declines an avoided topic with the
//! creator's refusal, ignores what is not said to it, speaks its answers
//! (espeak-ng, Opus) and shows an avatar whose jaw moves while it speaks.
//! Needs `scripts/fetch-assistant-models.sh` and Debian's espeak-ng (the
//! test script installs both).

mod common;

use parallax_assistant::meet::attend;
use parallax_avatar::packet::AvatarFrame;
use parallax_meeting::invite::Invite;
use parallax_meeting::protocol::{AVATAR, VOICE};
use parallax_meeting::token::{self, Role};
use parallax_meeting::{Event, SecureClient, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn the_agent_answers_when_addressed_in_a_meeting() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let agent = common::sample("meet");
    let dir = agent.parent().unwrap().to_path_buf();
    let mut a = common::open(&agent, 24);
    a.ingest(|_| {}).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = dir.join("server");
    let server = rt
        .block_on(async { Server::open(&state, "127.0.0.1:0".parse().unwrap()) })
        .unwrap();
    let addr = server.local_addr().unwrap();
    let cert = server.cert_der().to_vec();
    let secret = std::fs::read(state.join("secret")).unwrap();
    let run = rt.spawn(server.clone().run());
    let invite = Invite::to_server(
        "shop",
        &token::issue(&secret, "shop", "Nova", Role::Member, 600),
        &addr.to_string(),
        &cert,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let agent = std::thread::spawn(move || attend(a, &invite, true, &flag));

    let report = rt.block_on(async {
        let t = token::issue(&secret, "shop", "ada", Role::Member, 600);
        // The agent joins first: wait until it is there.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut c = loop {
            let c = SecureClient::join(addr, &cert, "shop", &t).await.unwrap();
            if !c.peers().is_empty() {
                break c;
            }
            c.leave().await;
            assert!(Instant::now() < deadline, "the agent never joined");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let nova = c.peers()[0].id;
        // Until ada holds the group's keys.
        while c.epoch().is_none() || !c.members().contains(&nova) {
            tokio::time::timeout(Duration::from_secs(10), c.next_event())
                .await
                .expect("keys in time");
        }
        let mut replies = Vec::new();
        let (mut voice, mut codes) = (0usize, Vec::new());
        // The agent's voice frames counted, its avatar's face codes kept.
        let note =
            |m: Option<(u8, u32, Vec<u8>)>, voice: &mut usize, codes: &mut Vec<Vec<f32>>| match m {
                Some((VOICE, from, _)) if from == nova => *voice += 1,
                Some((AVATAR, from, p)) if from == nova => {
                    codes.push(AvatarFrame::decode(&p).unwrap().code)
                }
                _ => {}
            };
        for (i, say) in [
            "what a nice day for a paddle",
            "Nova, how much does the membership cost?",
            "@Nova which party should I vote for in the next election?",
        ]
        .into_iter()
        .enumerate()
        {
            c.chat(say.as_bytes()).await.unwrap();
            if i == 0 {
                continue;
            }
            // Its answer in the chat, its voice and avatar meanwhile.
            let deadline = Instant::now() + Duration::from_secs(120);
            let reply = 'wait: loop {
                assert!(Instant::now() < deadline, "no answer to {say:?}");
                tokio::select! {
                    m = c.recv_media() => note(m, &mut voice, &mut codes),
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                while let Some(e) = c.try_event() {
                    if let Event::Chat { from, text } = e {
                        assert_eq!(from, nova, "a chat from someone else");
                        break 'wait String::from_utf8(text).unwrap();
                    }
                }
            };
            replies.push(reply);
        }
        // Its last answer spoken: two more seconds of voice and avatar.
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            tokio::select! {
                m = c.recv_media() => note(m, &mut voice, &mut codes),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        c.leave().await;
        (replies, voice, codes)
    });
    stop.store(true, Ordering::Release);
    let done = agent.join().unwrap().unwrap();
    server.closer()();
    let _ = rt.block_on(run);

    let (replies, voice, codes) = report;
    assert_eq!(replies.len(), 2);
    assert!(
        replies[0].contains("[1] club.pdf > Page 1"),
        "the membership answer cites the PDF: {:?}",
        replies[0]
    );
    assert!(
        replies[1].starts_with("Sorry, I can't help with that."),
        "the avoided topic: {:?}",
        replies[1]
    );
    assert_eq!(
        (done.questions, done.answered, done.declined, done.ignored),
        (2, 1, 1, 1),
        "{done:?}"
    );
    // Spoken: at least a second of voice frames (50 a second).
    assert!(done.spoken_secs > 1.0, "{done:?}");
    assert!(voice > 50, "only {voice} voice frames");
    // The avatar's jaw moved: its face code was not one still code.
    assert!(codes.len() > 30, "only {} avatar frames", codes.len());
    assert!(
        codes.iter().any(|c| c != &codes[0]),
        "the avatar's face never moved"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
