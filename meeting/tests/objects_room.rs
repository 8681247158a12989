//! Shared objects over the real server on loopback: the server simulates
//! them; one participant grabs the ball, lifts it and throws it while the
//! other cannot take it and sees it fly and land; bad requests are refused
//! without ending the connection; and a server restart keeps where the
//! objects lie.

use parallax_meeting::objects::{ObjectState, Replica, TABLE_TOP};
use parallax_meeting::protocol::ClientMsg;
use parallax_meeting::token::{self, Role};
use parallax_meeting::{Event, SecureClient, Server};
use std::time::{Duration, Instant};

mod common;

const T: Duration = Duration::from_secs(10);
const BALL: u32 = 4;

/// Waits for an objects message that satisfies `ok`; every one seen goes
/// into `replica`.
async fn until_objects(
    c: &mut SecureClient,
    replica: &mut Replica,
    start: Instant,
    ok: impl Fn(&[ObjectState]) -> bool,
) -> Vec<ObjectState> {
    tokio::time::timeout(T, async {
        loop {
            match c.next_event().await.expect("connected") {
                Event::Objects { tick, objects } => {
                    replica.apply(tick, &objects, start.elapsed().as_secs_f64());
                    if ok(&objects) {
                        return objects;
                    }
                }
                Event::Error(e) => panic!("participant {}: {e}", c.id()),
                _ => {}
            }
        }
    })
    .await
    .expect("the objects get there")
}

async fn until_error(c: &mut SecureClient) -> String {
    tokio::time::timeout(T, async {
        loop {
            if let Event::Error(e) = c.next_event().await.expect("connected") {
                return e;
            }
        }
    })
    .await
    .expect("an error")
}

fn ball(objects: &[ObjectState]) -> &ObjectState {
    objects.iter().find(|o| o.id == BALL).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grab_throw_land_and_survive_a_restart() {
    let dir = common::state("objects");
    let (server, addr, cert, secret) = common::start(&dir);
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());
    let tok = |n: &str| token::issue(&secret, "lounge", n, Role::Member, 60);
    let start = Instant::now();

    let mut a = SecureClient::join(addr, &cert, "lounge", &tok("ada"))
        .await
        .unwrap();
    let mut b = SecureClient::join(addr, &cert, "lounge", &tok("bo"))
        .await
        .unwrap();
    let (mut ra, mut rb) = (Replica::default(), Replica::default());
    // On joining, each is told where the objects are: on the table (they
    // settle from their starting height of a millimetre above it).
    let first = until_objects(&mut b, &mut rb, start, |_| true).await;
    assert_eq!(first.len(), 4);
    for o in &first {
        assert!(
            o.position[1] > TABLE_TOP && o.position[1] < TABLE_TOP + 0.1,
            "{o:?}"
        );
        assert_eq!(o.holder, None);
    }
    until_objects(&mut a, &mut ra, start, |_| true).await;

    // Ada grabs the ball; Bo cannot.
    let (ida, idb) = (a.id(), b.id());
    a.control(&ClientMsg::Grab { object: BALL }).await.unwrap();
    until_objects(&mut b, &mut rb, start, |o| ball(o).holder == Some(ida)).await;
    b.control(&ClientMsg::Grab { object: BALL }).await.unwrap();
    let e = until_error(&mut b).await;
    assert!(e.contains(&format!("held by participant {ida}")), "{e}");
    // Bad requests: refused with a reason, the connection stays.
    b.control(&ClientMsg::Grab { object: 99 }).await.unwrap();
    assert_eq!(until_error(&mut b).await, "no object 99");
    b.control(&ClientMsg::Hold {
        object: BALL,
        position: [0.0, 1.0, 0.0],
        orientation: [0.0, 0.0, 0.0, 1.0],
    })
    .await
    .unwrap();
    assert!(until_error(&mut b).await.contains("does not hold"));
    a.control(&ClientMsg::Hold {
        object: BALL,
        position: [0.0, 1.0, 50.0],
        orientation: [0.0, 0.0, 0.0, 1.0],
    })
    .await
    .unwrap();
    assert!(until_error(&mut a).await.contains("outside the room"));

    // She lifts it to 1.3 m over half a second, then throws it away from
    // the table.
    for i in 0..15 {
        a.control(&ClientMsg::Hold {
            object: BALL,
            position: [0.0, 1.0 + 0.02 * i as f32, -0.3],
            orientation: [0.0, 0.0, 0.0, 1.0],
        })
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(33)).await;
    }
    let lifted = until_objects(&mut b, &mut rb, start, |o| ball(o).position[1] > 1.25).await;
    assert_eq!(ball(&lifted).holder, Some(ida));
    a.control(&ClientMsg::Release {
        object: BALL,
        linvel: [0.0, 2.0, -3.0],
        angvel: [0.0; 3],
    })
    .await
    .unwrap();
    // Bo sees it in flight, then at rest on the floor beyond the table.
    let flying = until_objects(&mut b, &mut rb, start, |o| {
        let b = ball(o);
        b.holder.is_none() && b.linvel[2] < -1.0
    })
    .await;
    assert!(ball(&flying).position[1] > 0.3);
    let landed = until_objects(&mut b, &mut rb, start, |o| ball(o).resting).await;
    let at = ball(&landed).position;
    assert!(at[1] < 0.06 && at[2] < -1.0, "the ball lies at {at:?}");
    // Bo's replica shows it where the server has it once the last
    // correction has eased in.
    let shown = rb
        .position(BALL, start.elapsed().as_secs_f64() + 0.2)
        .unwrap();
    assert!(
        (shown - glam::Vec3::from_array(at)).length() < 1e-3,
        "{shown} vs {at:?}"
    );
    // Bo can pick it up now.
    b.control(&ClientMsg::Grab { object: BALL }).await.unwrap();
    until_objects(&mut a, &mut ra, start, |o| ball(o).holder == Some(idb)).await;
    b.control(&ClientMsg::Release {
        object: BALL,
        linvel: [0.0; 3],
        angvel: [0.0; 3],
    })
    .await
    .unwrap();
    let rest = until_objects(&mut a, &mut ra, start, |o| {
        ball(o).holder.is_none() && o.iter().all(|x| x.resting)
    })
    .await;

    // Everyone leaves; the server restarts on the same state.
    a.leave().await;
    b.leave().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    closer();
    let _ = run.await;
    let server = Server::open(&dir, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let closer = server.closer();
    let run = tokio::spawn(server.clone().run());
    let mut c = SecureClient::join(addr, &cert, "lounge", &tok("cy"))
        .await
        .unwrap();
    let mut rc = Replica::default();
    let again = until_objects(&mut c, &mut rc, start, |_| true).await;
    for (before, after) in rest.iter().zip(&again) {
        let d = glam::Vec3::from_array(before.position) - glam::Vec3::from_array(after.position);
        assert!(
            d.length() < 0.002,
            "object {} moved {d} across the restart",
            before.id
        );
    }
    assert!(
        ball(&again).position[2] < -1.0,
        "the ball is still on the floor"
    );
    c.leave().await;
    closer();
    let _ = run.await;
}
