//! A participant's side: join a room, send media datagrams, receive the
//! others' with who sent them, follow who comes and goes, act as host.

use crate::protocol::{self, ClientMsg, Peer, ServerMsg};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Why a join failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("TLS: {0}")]
    Tls(String),
    #[error("connecting: {0}")]
    Connect(String),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("protocol: {0}")]
    Protocol(String),
}

/// A joined participant.
pub struct Client {
    pub id: u32,
    /// Where this participant's stage is in the room.
    pub seat: u32,
    pub room: String,
    /// Who was there when this participant joined.
    pub peers: Vec<Peer>,
    conn: quinn::Connection,
    send: Arc<tokio::sync::Mutex<quinn::SendStream>>,
    events: mpsc::UnboundedReceiver<ServerMsg>,
    _endpoint: quinn::Endpoint,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("room", &self.room)
            .finish_non_exhaustive()
    }
}

fn client_config(cert_der: &[u8]) -> Result<quinn::ClientConfig, JoinError> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .map_err(|e| JoinError::Tls(e.to_string()))?;
    let mut tls = rustls::ClientConfig::builder_with_provider(crate::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| JoinError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![protocol::ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
        .map_err(|e| JoinError::Tls(e.to_string()))?;
    let mut c = quinn::ClientConfig::new(Arc::new(crypto));
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(std::time::Duration::from_secs(1)));
    t.max_idle_timeout(Some(
        crate::server::IDLE_TIMEOUT
            .try_into()
            .expect("a few seconds fit QUIC's idle timeout"),
    ));
    c.transport_config(Arc::new(t));
    Ok(c)
}

impl Client {
    /// Joins `room` on the server at `addr`, trusting its certificate
    /// `cert_der` (the server's `cert.der`), with a join token.
    pub async fn join(
        addr: SocketAddr,
        cert_der: &[u8],
        room: &str,
        token: &str,
    ) -> Result<Client, JoinError> {
        let bind: SocketAddr = if addr.is_ipv6() {
            "[::]:0".parse().expect("a valid address")
        } else {
            "0.0.0.0:0".parse().expect("a valid address")
        };
        let mut endpoint =
            quinn::Endpoint::client(bind).map_err(|e| JoinError::Connect(e.to_string()))?;
        endpoint.set_default_client_config(client_config(cert_der)?);
        let conn = endpoint
            .connect(addr, "parallax-meeting")
            .map_err(|e| JoinError::Connect(e.to_string()))?
            .await
            .map_err(|e| JoinError::Connect(e.to_string()))?;
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| JoinError::Connect(e.to_string()))?;
        protocol::send(
            &mut send,
            &ClientMsg::Hello {
                version: protocol::VERSION,
                room: room.to_string(),
                token: token.to_string(),
            },
        )
        .await
        .map_err(|e| JoinError::Protocol(e.to_string()))?;
        let (id, seat, peers) = match protocol::recv::<ServerMsg>(&mut recv).await {
            Ok(Some(ServerMsg::Welcome {
                id,
                seat,
                participants,
                ..
            })) => (id, seat, participants),
            Ok(Some(ServerMsg::Refused { reason })) => return Err(JoinError::Refused(reason)),
            Ok(other) => {
                return Err(JoinError::Protocol(format!(
                    "expected welcome, got {other:?}"
                )))
            }
            Err(e) => return Err(JoinError::Protocol(e.to_string())),
        };
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(m)) = protocol::recv::<ServerMsg>(&mut recv).await {
                if tx.send(m).is_err() {
                    break;
                }
            }
        });
        Ok(Client {
            id,
            seat,
            room: room.to_string(),
            peers,
            conn,
            send: Arc::new(tokio::sync::Mutex::new(send)),
            events,
            _endpoint: endpoint,
        })
    }

    /// Sends a media datagram (`kind`: [`protocol::AVATAR`] or
    /// [`protocol::VOICE`]) to the rest of the room.
    pub fn send_media(&self, kind: u8, payload: &[u8]) -> Result<(), quinn::SendDatagramError> {
        let mut d = Vec::with_capacity(1 + payload.len());
        d.push(kind);
        d.extend_from_slice(payload);
        self.conn.send_datagram(d.into())
    }

    /// Sends raw bytes as a datagram (tests of the server's checks).
    pub fn send_raw(&self, d: &[u8]) -> Result<(), quinn::SendDatagramError> {
        self.conn.send_datagram(bytes::Bytes::copy_from_slice(d))
    }

    /// The next media datagram from another participant: `(kind, sender,
    /// payload)`; `None` when the connection is gone.
    pub async fn recv_media(&self) -> Option<(u8, u32, bytes::Bytes)> {
        loop {
            let d = self.conn.read_datagram().await.ok()?;
            if let Some((kind, from, _)) = protocol::parse_forwarded(&d) {
                return Some((kind, from, d.slice(5..)));
            }
        }
    }

    /// The next room event (someone joined, left, was muted; chat; being
    /// kicked); `None` when the connection is gone.
    pub async fn next_event(&mut self) -> Option<ServerMsg> {
        self.events.recv().await
    }

    /// A room event if one is waiting (no wait).
    pub fn try_event(&mut self) -> Option<ServerMsg> {
        self.events.try_recv().ok()
    }

    /// Sends a control message (kick, mute, chat).
    pub async fn control(&self, msg: &ClientMsg) -> Result<(), protocol::ProtocolError> {
        protocol::send(&mut *self.send.lock().await, msg).await
    }

    /// A handle that sends control messages (for a task beside the
    /// client's owner).
    pub(crate) fn control_handle(&self) -> Arc<tokio::sync::Mutex<quinn::SendStream>> {
        self.send.clone()
    }

    /// Takes the room events away from [`Client::next_event`] (for a task
    /// that handles them).
    pub(crate) fn take_events(&mut self) -> mpsc::UnboundedReceiver<ServerMsg> {
        std::mem::replace(&mut self.events, mpsc::unbounded_channel().1)
    }

    /// Sends `data` as one control message, unchecked (tests of the
    /// server's checks).
    pub async fn send_control_bytes(&self, data: &[u8]) -> Result<(), quinn::WriteError> {
        let mut send = self.send.lock().await;
        send.write_all(&(data.len() as u32).to_le_bytes()).await?;
        send.write_all(data).await
    }

    /// Leaves the room (others are told at once).
    pub async fn leave(self) {
        {
            let mut send = self.send.lock().await;
            let _ = protocol::send(&mut send, &ClientMsg::Leave).await;
            let _ = send.finish();
        }
        self.conn.close(0u32.into(), b"leaving");
        self._endpoint.wait_idle().await;
    }

    /// The connection (for its statistics).
    pub fn connection(&self) -> &quinn::Connection {
        &self.conn
    }
}
