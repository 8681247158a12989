//! The room server (a selective forwarding unit): QUIC with TLS 1.3
//! (quinn), one connection per participant. It checks each join's token,
//! keeps the rooms' participants, tells everyone who comes and goes, and
//! forwards each participant's media datagrams to the others of the room
//! without reading them.
//!
//! - **Sending without unbounded buffers**: each participant's outgoing
//!   datagrams wait in the connection's bounded send buffer
//!   ([`SEND_BUFFER`] bytes); when a slow participant's buffer is full the
//!   oldest datagram is dropped (quinn's behaviour), never the sender
//!   blocked and never memory grown.
//! - **Bad input**: a datagram of an unknown kind, empty, or larger than
//!   [`MAX_MEDIA`] is dropped and counted; a malformed control message ends
//!   that participant's connection (with the reason) and nobody else's.
//! - **Interest management**: a participant names the others it sees from
//!   afar (it knows where they are from their avatars; the server cannot
//!   read those); their avatar packets reach it at a third of the rate.
//! - **Shared objects**: each room with participants has its objects
//!   simulated by a task of its own ([`crate::objects`]); grabs, holds and
//!   releases come on the control stream, the state goes out on it at
//!   20 Hz while anything moves (latest wins: a slow reader skips states,
//!   nothing queues up). The objects' poses are saved when they
//!   come to rest, every 2 s while they move, and when the room empties.
//! - **State**: the server's identity (its TLS key and certificate, and
//!   the secret that signs tokens) and the rooms' state (used rooms, barred
//!   names, where the objects lie) live in its state folder and survive a
//!   restart.

use crate::objects::{self, World};
use crate::protocol::{self, ClientMsg, Peer, ServerMsg, AVATAR, MAX_MEDIA, VOICE};
use crate::store::Store;
use crate::token::{self, Role};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Bytes of datagrams waiting for one participant at most.
pub const SEND_BUFFER: usize = 256 * 1024;
/// A participant silent this long is gone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("state folder {path}: {source}")]
    State {
        path: String,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("listening: {0}")]
    Listen(std::io::Error),
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub joins: u64,
    pub refused: u64,
    pub received: u64,
    pub forwarded: u64,
    pub malformed: u64,
    pub undeliverable: u64,
}

/// What the server has done, for tests, logs and the load tool.
#[derive(Debug, Default)]
struct Stats {
    joins: AtomicU64,
    refused: AtomicU64,
    /// Datagrams received from participants.
    received: AtomicU64,
    /// Datagram copies sent on to other participants.
    forwarded: AtomicU64,
    /// Datagrams dropped as malformed (kind, size).
    malformed: AtomicU64,
    /// Copies that could not be sent (the peer's limit).
    undeliverable: AtomicU64,
}

struct Member {
    peer: Peer,
    conn: quinn::Connection,
    events: mpsc::UnboundedSender<ServerMsg>,
    muted: AtomicBool,
    /// Participants this one sees from afar (interest management).
    far: Mutex<std::collections::HashSet<u32>>,
    /// Avatar packets this participant has sent.
    avatars_sent: AtomicU64,
}

struct Shared {
    secret: Vec<u8>,
    rooms: Mutex<HashMap<String, HashMap<u32, Arc<Member>>>>,
    /// The shared objects of each room with participants. Lock order:
    /// `rooms`, then `worlds`, then a world; never `rooms` under a world.
    worlds: Mutex<HashMap<String, Arc<RoomObjects>>>,
    store: Mutex<Store>,
    next_id: AtomicU32,
    stats: Stats,
    /// Where a copy of every payload the server relays goes, when someone
    /// audits it ([`Server::observe`]).
    observer: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
}

impl Shared {
    fn observe(&self, payload: &[u8]) {
        if let Some(o) = &*self.observer.lock() {
            let _ = o.send(payload.to_vec());
        }
    }
}

/// A room's simulated objects and their latest state. Each participant's
/// writer sends the state when its connection takes it: latest wins, so a
/// participant that reads slowly skips states instead of queueing them.
struct RoomObjects {
    world: Mutex<World>,
    state: tokio::sync::watch::Sender<(u64, Vec<objects::ObjectState>)>,
}

/// A server (a cheap handle: clones share it).
#[derive(Clone)]
pub struct Server {
    endpoint: quinn::Endpoint,
    shared: Arc<Shared>,
    cert_der: Vec<u8>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

/// A server's identity: the token secret, its certificate and its
/// private key (DER).
#[derive(Clone)]
pub struct Identity {
    pub secret: Vec<u8>,
    pub cert: Vec<u8>,
    key: Vec<u8>,
}

/// The server's identity in `dir`: made on first use (a 32-byte token
/// secret, a self-signed certificate for `parallax-meeting` and
/// `localhost`), read afterwards.
pub fn identity(dir: &Path) -> Result<Identity, ServerError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ServerError::State { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let (secret, cert, key) = (
        dir.join("secret"),
        dir.join("cert.der"),
        dir.join("key.der"),
    );
    if !secret.exists() {
        let s: [u8; 32] = rand::random();
        write_private(&secret, &s).map_err(io(&secret))?;
    }
    if !cert.exists() || !key.exists() {
        let c = rcgen::generate_simple_self_signed(vec![
            "parallax-meeting".to_string(),
            "localhost".to_string(),
        ])
        .map_err(|e| ServerError::Tls(e.to_string()))?;
        write_private(&key, &c.key_pair.serialize_der()).map_err(io(&key))?;
        std::fs::write(&cert, c.cert.der()).map_err(io(&cert))?;
    }
    Ok(Identity {
        secret: std::fs::read(&secret).map_err(io(&secret))?,
        cert: std::fs::read(&cert).map_err(io(&cert))?,
        key: std::fs::read(&key).map_err(io(&key))?,
    })
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path)?.write_all(data)
}

fn transport() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.max_idle_timeout(Some(
        IDLE_TIMEOUT
            .try_into()
            .expect("a few seconds fit QUIC's idle timeout"),
    ));
    t.keep_alive_interval(Some(Duration::from_secs(1)));
    t.datagram_receive_buffer_size(Some(SEND_BUFFER));
    t.datagram_send_buffer_size(SEND_BUFFER);
    t
}

impl Server {
    /// Opens the state in `dir` and listens on `addr` (UDP).
    pub fn open(dir: &Path, addr: SocketAddr) -> Result<Server, ServerError> {
        let Identity { secret, cert, key } = identity(dir)?;
        let store = Store::open(&dir.join("meeting.db"))?;
        let certs = vec![rustls::pki_types::CertificateDer::from(cert.clone())];
        let key = rustls::pki_types::PrivateKeyDer::try_from(key)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        let mut tls = rustls::ServerConfig::builder_with_provider(crate::crypto_provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| ServerError::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        tls.alpn_protocols = vec![protocol::ALPN.to_vec()];
        let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(Arc::new(transport()));
        let endpoint = quinn::Endpoint::server(config, addr).map_err(ServerError::Listen)?;
        Ok(Server {
            endpoint,
            shared: Arc::new(Shared {
                secret,
                rooms: Mutex::new(HashMap::new()),
                worlds: Mutex::new(HashMap::new()),
                store: Mutex::new(store),
                next_id: AtomicU32::new(1),
                stats: Stats::default(),
                observer: Mutex::new(None),
            }),
            cert_der: cert,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// The certificate clients must trust (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// What the server has done so far.
    pub fn stats(&self) -> StatsSnapshot {
        let s = &self.shared.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StatsSnapshot {
            joins: l(&s.joins),
            refused: l(&s.refused),
            received: l(&s.received),
            forwarded: l(&s.forwarded),
            malformed: l(&s.malformed),
            undeliverable: l(&s.undeliverable),
        }
    }

    /// From now on, a copy of every payload the server relays: media
    /// datagrams (without the kind byte), chat and encryption messages
    /// (their base64 text). This is everything a compromised server could
    /// read, for audits and for the test that it reads nothing.
    pub fn observe(&self) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.shared.observer.lock() = Some(tx);
        rx
    }

    /// Participants in the room now.
    pub fn participants(&self, room: &str) -> usize {
        self.shared.rooms.lock().get(room).map_or(0, |r| r.len())
    }

    /// The rooms ever used (from the store).
    pub fn rooms(&self) -> Vec<String> {
        self.shared.store.lock().rooms().unwrap_or_default()
    }

    /// A handle that stops the server (connections are closed).
    pub fn closer(&self) -> impl Fn() + Send + Sync + 'static {
        let e = self.endpoint.clone();
        move || e.close(0u32.into(), b"server shutting down")
    }

    /// Accepts participants until the server is closed.
    pub async fn run(self) {
        while let Some(incoming) = self.endpoint.accept().await {
            let shared = self.shared.clone();
            tokio::spawn(async move {
                match incoming.await {
                    Ok(conn) => participant(shared, conn).await,
                    Err(e) => tracing::debug!("a connection failed to open: {e}"),
                }
            });
        }
        self.endpoint.wait_idle().await;
    }
}

/// Refuses a join with `reason` and closes the connection.
async fn refuse(
    shared: &Shared,
    conn: &quinn::Connection,
    send: &mut quinn::SendStream,
    reason: String,
) {
    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    tracing::info!(remote = %conn.remote_address(), "join refused: {reason}");
    let _ = protocol::send(send, &ServerMsg::Refused { reason }).await;
    let _ = send.finish();
    // Give the refusal time to leave before the close.
    let _ = tokio::time::timeout(Duration::from_millis(500), send.stopped()).await;
    conn.close(1u32.into(), b"refused");
}

fn broadcast(room: &HashMap<u32, Arc<Member>>, except: u32, msg: &ServerMsg) {
    for (id, m) in room {
        if *id != except {
            let _ = m.events.send(msg.clone());
        }
    }
}

/// One participant's connection, from hello to goodbye.
async fn participant(shared: Arc<Shared>, conn: quinn::Connection) {
    let Ok(Ok((mut send, mut recv))) = tokio::time::timeout(HELLO_TIMEOUT, conn.accept_bi()).await
    else {
        conn.close(1u32.into(), b"no hello");
        return;
    };
    let hello = tokio::time::timeout(HELLO_TIMEOUT, protocol::recv::<ClientMsg>(&mut recv)).await;
    let (room, claims) = match hello {
        Ok(Ok(Some(ClientMsg::Hello {
            version,
            room,
            token,
        }))) => {
            if version != protocol::VERSION {
                let reason = format!(
                    "protocol version {version}; this server speaks {}",
                    protocol::VERSION
                );
                return refuse(&shared, &conn, &mut send, reason).await;
            }
            match token::verify(&shared.secret, &token, &room) {
                Ok(c) => (room, c),
                Err(e) => return refuse(&shared, &conn, &mut send, e.to_string()).await,
            }
        }
        Ok(Ok(_)) => {
            return refuse(
                &shared,
                &conn,
                &mut send,
                "the first message must be hello".into(),
            )
            .await
        }
        Ok(Err(e)) => return refuse(&shared, &conn, &mut send, e.to_string()).await,
        Err(_) => return refuse(&shared, &conn, &mut send, "no hello in time".into()).await,
    };
    let banned = {
        let store = shared.store.lock();
        if let Err(e) = store.touch_room(&room) {
            tracing::warn!("store: {e}");
        }
        store.banned(&room, &claims.name)
    };
    match banned {
        Ok(false) => {}
        Ok(true) => {
            let reason = format!("{} may not join {room} (removed by a host)", claims.name);
            return refuse(&shared, &conn, &mut send, reason).await;
        }
        Err(e) => return refuse(&shared, &conn, &mut send, format!("store: {e}")).await,
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (events, mut outbox) = mpsc::unbounded_channel();
    let (peer, me, others, mut objects) = {
        let mut rooms = shared.rooms.lock();
        let members = rooms.entry(room.clone()).or_default();
        let others: Vec<Peer> = members.values().map(|m| m.peer.clone()).collect();
        // The lowest seat nobody holds.
        let seat = (0..)
            .find(|s| others.iter().all(|p| p.seat != *s))
            .expect("a free seat");
        let peer = Peer {
            id,
            name: claims.name,
            role: claims.role,
            seat,
        };
        let me = Arc::new(Member {
            peer: peer.clone(),
            conn: conn.clone(),
            events,
            muted: AtomicBool::new(false),
            far: Mutex::default(),
            avatars_sent: AtomicU64::new(0),
        });
        broadcast(members, id, &ServerMsg::Joined { peer: peer.clone() });
        members.insert(id, me.clone());
        // The room's objects: simulated while anyone is there.
        let objects = shared
            .worlds
            .lock()
            .entry(room.clone())
            .or_insert_with(|| {
                let saved = shared.store.lock().objects(&room).unwrap_or_else(|e| {
                    tracing::warn!("store: {e}");
                    Vec::new()
                });
                let world = World::new(&saved);
                let (state, _) = tokio::sync::watch::channel((world.tick(), world.states()));
                let o = Arc::new(RoomObjects {
                    world: Mutex::new(world),
                    state,
                });
                tokio::spawn(simulate(shared.clone(), room.clone(), o.clone()));
                o
            })
            .state
            .subscribe();
        (peer, me, others, objects)
    };
    // The newcomer gets the current state first.
    objects.mark_changed();
    shared.stats.joins.fetch_add(1, Ordering::Relaxed);
    tracing::info!(room = %room, id, name = %peer.name, "joined");
    let welcome = ServerMsg::Welcome {
        id,
        seat: peer.seat,
        room: room.clone(),
        participants: others,
    };
    if protocol::send(&mut send, &welcome).await.is_ok() {
        // Events to this participant, in order, on the control stream.
        let writer = tokio::spawn(async move {
            let mut objects_open = true;
            loop {
                let m = tokio::select! {
                    m = outbox.recv() => match m {
                        Some(m) => m,
                        None => break,
                    },
                    r = objects.changed(), if objects_open => {
                        if r.is_err() {
                            objects_open = false;
                            continue;
                        }
                        let (tick, objects) = objects.borrow_and_update().clone();
                        ServerMsg::Objects { tick, objects }
                    }
                };
                if protocol::send(&mut send, &m).await.is_err() {
                    break;
                }
            }
        });
        let media = tokio::spawn(forward_media(shared.clone(), room.clone(), me.clone()));
        control(&shared, &room, &me, &mut recv).await;
        media.abort();
        writer.abort();
    }
    if let Some(o) = objects_of(&shared, &room) {
        o.world.lock().release_all(id);
    }
    let mut rooms = shared.rooms.lock();
    if let Some(members) = rooms.get_mut(&room) {
        members.remove(&id);
        broadcast(members, id, &ServerMsg::Left { id });
        if members.is_empty() {
            rooms.remove(&room);
        }
    }
    drop(rooms);
    conn.close(0u32.into(), b"bye");
    tracing::info!(room = %room, id, "left");
}

/// The participant's control messages until they leave or misbehave.
async fn control(shared: &Shared, room: &str, me: &Member, recv: &mut quinn::RecvStream) {
    loop {
        let msg = match protocol::recv::<ClientMsg>(recv).await {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(e) => {
                tracing::info!(id = me.peer.id, "control stream ended: {e}");
                let _ = me.events.send(ServerMsg::Kicked {
                    reason: format!("malformed control message: {e}"),
                });
                // Let the reason out before the close.
                tokio::time::sleep(Duration::from_millis(100)).await;
                me.conn.close(3u32.into(), b"malformed control message");
                return;
            }
        };
        let target = |id: u32| {
            shared
                .rooms
                .lock()
                .get(room)
                .and_then(|r| r.get(&id).cloned())
        };
        match msg {
            ClientMsg::Leave => return,
            ClientMsg::Hello { .. } => {
                let _ = me.events.send(ServerMsg::Error {
                    reason: "already joined".into(),
                });
            }
            ClientMsg::Kick { id } | ClientMsg::Mute { id, .. } if me.peer.role != Role::Host => {
                let _ = me.events.send(ServerMsg::Error {
                    reason: format!("only hosts may kick or mute (participant {id})"),
                });
            }
            ClientMsg::Kick { id } => match target(id) {
                Some(t) => {
                    if let Err(e) = shared.store.lock().ban(room, &t.peer.name) {
                        tracing::warn!("store: {e}");
                    }
                    let _ = t.events.send(ServerMsg::Kicked {
                        reason: format!("removed by {}", me.peer.name),
                    });
                    let conn = t.conn.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        conn.close(2u32.into(), b"kicked");
                    });
                }
                None => {
                    let _ = me.events.send(ServerMsg::Error {
                        reason: format!("no participant {id}"),
                    });
                }
            },
            ClientMsg::Mute { id, muted } => match target(id) {
                Some(t) => {
                    t.muted.store(muted, Ordering::Relaxed);
                    if let Some(r) = shared.rooms.lock().get(room) {
                        broadcast(r, u32::MAX, &ServerMsg::Muted { id, muted });
                    }
                }
                None => {
                    let _ = me.events.send(ServerMsg::Error {
                        reason: format!("no participant {id}"),
                    });
                }
            },
            ClientMsg::Chat { data } => {
                if data.len() > protocol::MAX_CHAT {
                    let _ = me.events.send(ServerMsg::Error {
                        reason: "chat message over 16 KiB".into(),
                    });
                    continue;
                }
                shared.observe(data.as_bytes());
                if let Some(r) = shared.rooms.lock().get(room) {
                    broadcast(
                        r,
                        me.peer.id,
                        &ServerMsg::Chat {
                            from: me.peer.id,
                            data,
                        },
                    );
                }
            }
            ClientMsg::Interest { far } => {
                *me.far.lock() = far.into_iter().filter(|&id| id != me.peer.id).collect();
            }
            m @ (ClientMsg::Grab { .. } | ClientMsg::Hold { .. } | ClientMsg::Release { .. }) => {
                object_request(shared, room, me, m)
            }
            ClientMsg::Mls { to, data } => {
                shared.observe(data.as_bytes());
                let msg = ServerMsg::Mls {
                    from: me.peer.id,
                    data,
                };
                if let Some(r) = shared.rooms.lock().get(room) {
                    if to.is_empty() {
                        broadcast(r, me.peer.id, &msg);
                    } else {
                        for id in to {
                            if let Some(m) = r.get(&id).filter(|_| id != me.peer.id) {
                                let _ = m.events.send(msg.clone());
                            }
                        }
                    }
                }
            }
        }
    }
}

fn objects_of(shared: &Shared, room: &str) -> Option<Arc<RoomObjects>> {
    shared.worlds.lock().get(room).cloned()
}

fn save(shared: &Shared, room: &str, states: &[objects::ObjectState]) {
    let poses: Vec<_> = states
        .iter()
        .map(|s| (s.id, s.position, s.orientation))
        .collect();
    if let Err(e) = shared.store.lock().save_objects(room, &poses) {
        tracing::warn!("store: saving the objects of {room}: {e}");
    }
}

/// Simulates a room's objects while it has participants; sends their
/// state at 20 Hz while any moves or is held, and saves them.
async fn simulate(shared: Arc<Shared>, room: String, objects: Arc<RoomObjects>) {
    let mut tick = tokio::time::interval(Duration::from_secs_f32(1.0 / objects::RATE));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_at_rest = true;
    let mut saved = std::time::Instant::now();
    loop {
        tick.tick().await;
        let (n, states, at_rest) = {
            let mut w = objects.world.lock();
            w.step();
            (w.tick(), w.states(), w.at_rest())
        };
        {
            let rooms = shared.rooms.lock();
            if !rooms.contains_key(&room) {
                // Everyone left: keep where things lie, stop simulating.
                shared.worlds.lock().remove(&room);
                drop(rooms);
                save(&shared, &room, &states);
                return;
            }
            // 20 Hz while moving, and once more when it all comes to rest.
            if n % 3 == 0 && !(at_rest && was_at_rest) {
                objects.state.send_replace((n, states.clone()));
            } else if n % 3 != 0 && at_rest && !was_at_rest {
                // Wait for the next broadcast tick to say it rests.
                continue;
            }
        }
        if (at_rest && !was_at_rest) || (!at_rest && saved.elapsed() > Duration::from_secs(2)) {
            save(&shared, &room, &states);
            saved = std::time::Instant::now();
        }
        was_at_rest = at_rest;
    }
}

/// A grab, hold or release from `me`.
fn object_request(shared: &Shared, room: &str, me: &Member, msg: ClientMsg) {
    let Some(objects) = objects_of(shared, room) else {
        return;
    };
    let who = me.peer.id;
    let r = {
        let mut w = objects.world.lock();
        match msg {
            ClientMsg::Grab { object } => w.grab(object, who),
            ClientMsg::Hold {
                object,
                position,
                orientation,
            } => w.hold(object, who, position, orientation),
            ClientMsg::Release {
                object,
                linvel,
                angvel,
            } => w.release(object, who, linvel, angvel),
            _ => Ok(()),
        }
    };
    if let Err(e) = r {
        let _ = me.events.send(ServerMsg::Error {
            reason: e.to_string(),
        });
    }
}

/// Forwards the participant's datagrams to the rest of the room.
async fn forward_media(shared: Arc<Shared>, room: String, me: Arc<Member>) {
    let stats = &shared.stats;
    while let Ok(d) = me.conn.read_datagram().await {
        stats.received.fetch_add(1, Ordering::Relaxed);
        let kind = d.first().copied();
        let ok =
            matches!(kind, Some(AVATAR) | Some(VOICE)) && d.len() >= 2 && d.len() - 1 <= MAX_MEDIA;
        if !ok {
            stats.malformed.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if kind == Some(VOICE) && me.muted.load(Ordering::Relaxed) {
            continue;
        }
        shared.observe(&d[1..]);
        let out = bytes::Bytes::from(protocol::forwarded(d[0], me.peer.id, &d[1..]));
        // Interest management: receivers that see this sender from afar
        // get one avatar packet in FAR_DIVISOR.
        let thinned = kind == Some(AVATAR)
            && !me
                .avatars_sent
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(protocol::FAR_DIVISOR);
        let targets: Vec<Arc<Member>> = match shared.rooms.lock().get(&room) {
            Some(r) => r
                .iter()
                .filter(|(id, m)| {
                    **id != me.peer.id && !(thinned && m.far.lock().contains(&me.peer.id))
                })
                .map(|(_, m)| m.clone())
                .collect(),
            None => Vec::new(),
        };
        for t in targets {
            match t.conn.send_datagram(out.clone()) {
                Ok(()) => {
                    stats.forwarded.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    stats.undeliverable.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The default state folder: `$XDG_STATE_HOME/parallax/meeting` (or
/// `~/.local/state/...`).
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("parallax/meeting")
}
