//! A participant with end-to-end encryption: a [`Client`] whose media and
//! chat are sealed with the room's MLS group keys ([`crate::e2ee`]). A task
//! beside it follows the room's control stream, keeps the group up to date
//! on every join and leave, and hands the application its events.

use crate::client::{Client, JoinError};
use crate::e2ee::{E2ee, E2eeError, E2eeStats, Outgoing};
use crate::protocol::{self, ClientMsg, Peer, ServerMsg};
use base64::Engine as _;
use parking_lot::Mutex;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What happens in the room, as the application sees it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Joined(Peer),
    Left(u32),
    Muted {
        id: u32,
        muted: bool,
    },
    /// This participant was removed from the room.
    Kicked(String),
    /// A chat message, opened.
    Chat {
        from: u32,
        text: Vec<u8>,
    },
    /// New group keys: `members` can read what is sent from now on.
    Epoch {
        epoch: u64,
        members: Vec<u32>,
    },
    /// A request the server could not do.
    Error(String),
    /// The shared objects, as the server simulates them (not end-to-end
    /// encrypted: the server simulates them).
    Objects {
        tick: u64,
        objects: Vec<crate::objects::ObjectState>,
    },
}

/// A joined participant whose media and chat are end-to-end encrypted.
pub struct SecureClient {
    client: Client,
    e2ee: Arc<Mutex<E2ee>>,
    events: mpsc::UnboundedReceiver<Event>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for SecureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureClient")
            .field("id", &self.client.id)
            .finish_non_exhaustive()
    }
}

type Control = Arc<tokio::sync::Mutex<quinn::SendStream>>;

async fn flush(control: &Control, out: Vec<Outgoing>) {
    for o in out {
        let msg = ClientMsg::Mls {
            to: o.to,
            data: B64.encode(&o.data),
        };
        if let Err(e) = protocol::send(&mut *control.lock().await, &msg).await {
            tracing::warn!("sending an encryption message: {e}");
        }
    }
}

fn log(me: u32, what: &str, r: Result<Vec<Outgoing>, E2eeError>) -> Vec<Outgoing> {
    r.unwrap_or_else(|e| {
        tracing::warn!(me, "{what}: {e}");
        Vec::new()
    })
}

/// Follows the control stream: encryption messages go to the group state,
/// everything else to the application.
async fn follow(
    me: u32,
    mut raw: mpsc::UnboundedReceiver<ServerMsg>,
    control: Control,
    e2ee: Arc<Mutex<E2ee>>,
    app: mpsc::UnboundedSender<Event>,
) {
    let mut epoch = e2ee.lock().epoch();
    if let Some(e) = epoch {
        let _ = app.send(Event::Epoch {
            epoch: e,
            members: e2ee.lock().members(),
        });
    }
    while let Some(m) = raw.recv().await {
        let (out, event) = {
            let mut s = e2ee.lock();
            match m {
                ServerMsg::Mls { from, data } => {
                    let r = match B64.decode(data.as_bytes()) {
                        Ok(d) => s.on_mls(from, &d),
                        Err(e) => Err(E2eeError::Malformed(e.to_string())),
                    };
                    (log(me, "an encryption message", r), None)
                }
                ServerMsg::Joined { peer } => {
                    let r = s.on_joined(peer.id);
                    (log(me, "a join", r), Some(Event::Joined(peer)))
                }
                ServerMsg::Left { id } => {
                    (log(me, "a leave", s.on_left(id)), Some(Event::Left(id)))
                }
                ServerMsg::Chat { from, data } => {
                    let text = B64
                        .decode(data.as_bytes())
                        .map_err(|e| E2eeError::Malformed(e.to_string()))
                        .and_then(|d| s.open_chat(from, &d));
                    match text {
                        Ok(text) => (Vec::new(), Some(Event::Chat { from, text })),
                        Err(e) => {
                            tracing::warn!(me, from, "a chat message that does not open: {e}");
                            (Vec::new(), None)
                        }
                    }
                }
                ServerMsg::Muted { id, muted } => (Vec::new(), Some(Event::Muted { id, muted })),
                ServerMsg::Kicked { reason } => (Vec::new(), Some(Event::Kicked(reason))),
                ServerMsg::Error { reason } => (Vec::new(), Some(Event::Error(reason))),
                ServerMsg::Objects { tick, objects } => {
                    (Vec::new(), Some(Event::Objects { tick, objects }))
                }
                other => {
                    tracing::warn!(me, "unexpected from the server: {other:?}");
                    (Vec::new(), None)
                }
            }
        };
        flush(&control, out).await;
        if let Some(e) = event {
            let _ = app.send(e);
        }
        let (now, members) = {
            let s = e2ee.lock();
            (s.epoch(), s.members())
        };
        if now != epoch {
            epoch = now;
            if let Some(epoch) = now {
                let _ = app.send(Event::Epoch { epoch, members });
            }
        }
    }
}

impl SecureClient {
    /// Joins `room` (see [`Client::join`]) and enters its encryption group
    /// (at once when the room is empty, or when a member adds this
    /// participant: [`Event::Epoch`]).
    pub async fn join(
        addr: SocketAddr,
        cert_der: &[u8],
        room: &str,
        token: &str,
    ) -> Result<SecureClient, JoinError> {
        let mut client = Client::join(addr, cert_der, room, token).await?;
        let present: Vec<u32> = client.peers.iter().map(|p| p.id).collect();
        let (e2ee, first) =
            E2ee::new(client.id, &present).map_err(|e| JoinError::Protocol(e.to_string()))?;
        let e2ee = Arc::new(Mutex::new(e2ee));
        let control = client.control_handle();
        flush(&control, first).await;
        let (app, events) = mpsc::unbounded_channel();
        let task = tokio::spawn(follow(
            client.id,
            client.take_events(),
            control,
            e2ee.clone(),
            app,
        ));
        Ok(SecureClient {
            client,
            e2ee,
            events,
            task,
        })
    }

    /// This participant's id.
    pub fn id(&self) -> u32 {
        self.client.id
    }

    /// Where this participant's stage is in the room ([`crate::seats`]).
    pub fn seat(&self) -> u32 {
        self.client.seat
    }

    /// Who was there when this participant joined.
    pub fn peers(&self) -> &[Peer] {
        &self.client.peers
    }

    /// The group's epoch; `None` while waiting to be added.
    pub fn epoch(&self) -> Option<u64> {
        self.e2ee.lock().epoch()
    }

    /// The participants who hold the current keys.
    pub fn members(&self) -> Vec<u32> {
        self.e2ee.lock().members()
    }

    /// The epoch's fingerprint, the same for every member.
    pub fn fingerprint(&self) -> Option<Vec<u8>> {
        self.e2ee.lock().fingerprint()
    }

    pub fn stats(&self) -> E2eeStats {
        self.e2ee.lock().stats()
    }

    /// Seals and sends a media payload; [`E2eeError::NotSecured`] until
    /// this participant is in the group (nothing is sent in the clear).
    pub fn send_media(&self, kind: u8, payload: &[u8]) -> Result<(), SendError> {
        let sealed = self.e2ee.lock().seal(kind, payload)?;
        self.client
            .send_media(kind, &sealed)
            .map_err(|e| SendError::Transport(e.to_string()))
    }

    /// The next media payload from another participant, opened: `(kind,
    /// sender, payload)`. Packets that do not open are dropped and counted
    /// ([`SecureClient::stats`]). `None` when the connection is gone.
    pub async fn recv_media(&self) -> Option<(u8, u32, Vec<u8>)> {
        loop {
            let (kind, from, packet) = self.client.recv_media().await?;
            match self.e2ee.lock().open(kind, from, &packet) {
                Ok(p) => return Some((kind, from, p)),
                Err(e) => tracing::trace!(from, "dropped a media packet: {e}"),
            }
        }
    }

    /// The next room event; `None` when the connection is gone.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// A room event if one is waiting (no wait).
    pub fn try_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Sends a chat message to the group.
    pub async fn chat(&self, text: &[u8]) -> Result<(), SendError> {
        let sealed = self.e2ee.lock().seal_chat(text)?;
        self.client
            .control(&ClientMsg::Chat {
                data: B64.encode(sealed),
            })
            .await
            .map_err(|e| SendError::Transport(e.to_string()))
    }

    /// Sends a host's control message (kick, mute).
    pub async fn control(&self, msg: &ClientMsg) -> Result<(), protocol::ProtocolError> {
        self.client.control(msg).await
    }

    /// Leaves the room.
    pub async fn leave(self) {
        self.task.abort();
        self.client.leave().await;
    }
}

/// Why a media packet or a chat message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    E2ee(#[from] E2eeError),
    #[error("transport: {0}")]
    Transport(String),
}
