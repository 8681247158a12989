//! Rooms sharded over two servers by a directory, on loopback: both
//! servers announce themselves, rooms spread over both and every ask gets
//! the same answer, a participant joins a room where the directory puts
//! it, a registration signed with another secret is refused, and when a
//! server stops, its rooms (only its rooms) move to the other.

use parallax_meeting::directory::{self, Directory, DirectoryError};
use parallax_meeting::token::{self, Role};
use parallax_meeting::{SecureClient, Server};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_spread_over_servers_and_move_when_one_stops() {
    let base = std::env::temp_dir().join(format!("px-meeting-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    // Two servers of one cluster: the second takes the first's secret.
    let a = Server::open(&base.join("a"), "127.0.0.1:0".parse().unwrap()).unwrap();
    let secret = std::fs::read(base.join("a/secret")).unwrap();
    std::fs::create_dir_all(base.join("b")).unwrap();
    std::fs::write(base.join("b/secret"), &secret).unwrap();
    let b = Server::open(&base.join("b"), "127.0.0.1:0".parse().unwrap()).unwrap();
    let runs = [tokio::spawn(a.clone().run()), tokio::spawn(b.clone().run())];

    let dir = Directory::new(secret.clone(), Duration::from_millis(800));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(dir.clone().serve(listener));
    let announce = |name: &str, s: &Server| {
        tokio::spawn(directory::announce(
            url.clone(),
            secret.clone(),
            name.into(),
            s.local_addr().unwrap().to_string(),
            s.cert_der().to_vec(),
            Duration::from_millis(200),
        ))
    };
    let announcers = [announce("a", &a), announce("b", &b)];

    let resolve = |room: String| {
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || directory::resolve(&url, &room))
                .await
                .unwrap()
        }
    };
    tokio::time::timeout(Duration::from_secs(5), async {
        while dir.live().len() < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("both servers announced");

    // Sixteen rooms spread over both servers, the same answer every time.
    let mut placed = BTreeMap::new();
    for i in 0..16 {
        let room = format!("room {i}/ü");
        let p = resolve(room.clone()).await.unwrap();
        assert_eq!(p.room, room);
        assert_eq!(resolve(room.clone()).await.unwrap(), p);
        placed.insert(room, p);
    }
    let on_b = placed.values().filter(|p| p.server == "b").count();
    assert!((3..=13).contains(&on_b), "{on_b} of 16 rooms on b");

    // A participant joins where the directory says, trusting the
    // certificate it gave.
    let (room, p) = placed.iter().find(|(_, p)| p.server == "b").unwrap();
    let t = token::issue(&secret, room, "ada", Role::Member, 60);
    let c = SecureClient::join(p.address.parse().unwrap(), &p.cert_der().unwrap(), room, &t)
        .await
        .unwrap();
    assert_eq!(b.participants(room), 1);
    assert_eq!(a.participants(room), 0);
    c.leave().await;

    // Another cluster's server is refused.
    let forged = directory::sign(b"another secret", "c", "127.0.0.1:9", b"cert");
    let r = tokio::task::spawn_blocking({
        let url = url.clone();
        move || directory::announce_once(&url, &forged)
    })
    .await
    .unwrap();
    assert!(matches!(r, Err(DirectoryError::Forged)), "{r:?}");
    assert_eq!(dir.live(), ["a", "b"]);

    // b stops: after the expiry its rooms go to a; a's rooms stay.
    announcers[1].abort();
    b.closer()();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(dir.live(), ["a"]);
    for (room, before) in &placed {
        let now = resolve(room.clone()).await.unwrap();
        assert_eq!(now.server, "a", "{room}");
        if before.server == "a" {
            assert_eq!(&now, before);
        }
    }
    // No server at all: a clear error.
    announcers[0].abort();
    a.closer()();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(matches!(
        resolve("room 0/ü".into()).await,
        Err(DirectoryError::NoServer)
    ));
    for r in runs {
        let _ = r.await;
    }
}
