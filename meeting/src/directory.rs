//! Rooms sharded over several servers by a directory.
//!
//! Servers of one cluster share the token secret (the `secret` file of
//! their state folders) and announce themselves to the directory every
//! [`HEARTBEAT`] with a registration signed by it: a name, the address
//! clients reach it at and its certificate. The directory places each room
//! on one live server by rendezvous hashing (the highest SHA-256 of room
//! and server name wins): every directory and every client asking gets the
//! same answer, adding a server moves only the rooms it wins, and when a
//! server stops announcing, after [`EXPIRY`], only its rooms move.
//!
//! The HTTP API (JSON):
//! - `POST /v1/servers` with a [`Registration`]: 204, or 403 (bad
//!   signature, expired) or 400.
//! - `GET /v1/place?room=NAME`: a [`Placement`], or 503 with no live
//!   server.
//! - `GET /v1/servers`: the names of the live servers.
//!
//! A room's state (barred names, where its objects lie) stays with the
//! server that kept it; a room that moves starts fresh on its new server.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often a server announces itself.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A server not heard from for this long is gone.
pub const EXPIRY: Duration = Duration::from_secs(6);
/// How long a signed registration stays valid (clock skew included).
const REGISTRATION_TTL: u64 = 60;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A server's announcement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// Unique within the cluster.
    pub name: String,
    /// host:port, as clients reach it.
    pub address: String,
    /// The server's certificate (DER, base64).
    pub cert: String,
    /// Unix seconds after which this registration is void.
    pub expires: u64,
    /// HMAC-SHA256 of the fields above under the cluster secret, base64.
    pub signature: String,
}

/// Where a room lives.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub room: String,
    pub server: String,
    pub address: String,
    /// DER, base64.
    pub cert: String,
}

impl Placement {
    /// The certificate to trust, decoded.
    pub fn cert_der(&self) -> Result<Vec<u8>, DirectoryError> {
        B64.decode(&self.cert)
            .map_err(|e| DirectoryError::Invalid(format!("certificate: {e}")))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("the registration's signature does not check (another cluster's secret?)")]
    Forged,
    #[error("the registration expired")]
    Expired,
    #[error("{0}")]
    Invalid(String),
    #[error("no live server to place the room on")]
    NoServer,
    #[error("the directory: {0}")]
    Http(String),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8], name: &str, address: &str, cert: &str, expires: u64) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    for part in [name.as_bytes(), address.as_bytes(), cert.as_bytes()] {
        m.update(&(part.len() as u64).to_le_bytes());
        m.update(part);
    }
    m.update(&expires.to_le_bytes());
    m
}

/// A registration signed with the cluster's secret.
pub fn sign(secret: &[u8], name: &str, address: &str, cert_der: &[u8]) -> Registration {
    let cert = B64.encode(cert_der);
    let expires = now() + REGISTRATION_TTL;
    let signature = B64.encode(
        mac(secret, name, address, &cert, expires)
            .finalize()
            .into_bytes(),
    );
    Registration {
        name: name.into(),
        address: address.into(),
        cert,
        expires,
        signature,
    }
}

/// The directory's state.
pub struct Directory {
    secret: Vec<u8>,
    expiry: Duration,
    servers: Mutex<HashMap<String, (Registration, Instant)>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    /// A directory for the cluster whose secret this is; servers silent
    /// for `expiry` are gone.
    pub fn new(secret: Vec<u8>, expiry: Duration) -> Arc<Directory> {
        Arc::new(Directory {
            secret,
            expiry,
            servers: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a server's announcement.
    pub fn register(&self, r: Registration) -> Result<(), DirectoryError> {
        let sig = B64
            .decode(&r.signature)
            .map_err(|_| DirectoryError::Forged)?;
        mac(&self.secret, &r.name, &r.address, &r.cert, r.expires)
            .verify_slice(&sig)
            .map_err(|_| DirectoryError::Forged)?;
        if r.expires < now() {
            return Err(DirectoryError::Expired);
        }
        if r.name.is_empty() || r.name.len() > 128 {
            return Err(DirectoryError::Invalid(
                "a server name of 1 to 128 bytes".into(),
            ));
        }
        if r.address.parse::<std::net::SocketAddr>().is_err() {
            return Err(DirectoryError::Invalid(format!(
                "address {:?} is not host:port",
                r.address
            )));
        }
        let fresh = !self.servers.lock().contains_key(&r.name);
        if fresh {
            tracing::info!(name = %r.name, address = %r.address, "a server joined the cluster");
        }
        self.servers
            .lock()
            .insert(r.name.clone(), (r, Instant::now()));
        Ok(())
    }

    fn live_servers(&self) -> Vec<Registration> {
        let mut s = self.servers.lock();
        s.retain(|name, (_, seen)| {
            let alive = seen.elapsed() < self.expiry;
            if !alive {
                tracing::info!(%name, "a server left the cluster (silent)");
            }
            alive
        });
        s.values().map(|(r, _)| r.clone()).collect()
    }

    /// The names of the live servers, sorted.
    pub fn live(&self) -> Vec<String> {
        let mut v: Vec<String> = self.live_servers().into_iter().map(|r| r.name).collect();
        v.sort();
        v
    }

    /// Where `room` lives now.
    pub fn place(&self, room: &str) -> Result<Placement, DirectoryError> {
        let score = |server: &str| {
            let mut h = Sha256::new();
            h.update((room.len() as u64).to_le_bytes());
            h.update(room.as_bytes());
            h.update(server.as_bytes());
            h.finalize()
        };
        self.live_servers()
            .into_iter()
            .max_by(|a, b| score(&a.name).cmp(&score(&b.name)))
            .map(|r| Placement {
                room: room.into(),
                server: r.name,
                address: r.address,
                cert: r.cert,
            })
            .ok_or(DirectoryError::NoServer)
    }

    /// The HTTP API.
    pub fn router(self: Arc<Directory>) -> Router {
        Router::new()
            .route("/v1/servers", post(register).get(servers))
            .route("/v1/place", get(place))
            .with_state(self)
    }

    /// Serves the API on `listener` until the task is dropped.
    pub async fn serve(
        self: Arc<Directory>,
        listener: tokio::net::TcpListener,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}

fn error(status: StatusCode, e: impl std::fmt::Display) -> Response {
    (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
}

async fn register(State(d): State<Arc<Directory>>, body: axum::body::Bytes) -> Response {
    let r: Registration = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    match d.register(r) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e @ (DirectoryError::Forged | DirectoryError::Expired)) => {
            tracing::warn!("refused a registration: {e}");
            error(StatusCode::FORBIDDEN, e)
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

async fn servers(State(d): State<Arc<Directory>>) -> Response {
    Json(d.live()).into_response()
}

#[derive(Deserialize)]
struct PlaceQuery {
    room: String,
}

async fn place(State(d): State<Arc<Directory>>, q: Query<PlaceQuery>) -> Response {
    match d.place(&q.room) {
        Ok(p) => Json(p).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

fn http_error(e: ureq::Error) -> DirectoryError {
    DirectoryError::Http(e.to_string())
}

/// Asks the directory at `url` (`http://host:port`) where `room` lives.
/// Blocking; call it off the async runtime.
pub fn resolve(url: &str, room: &str) -> Result<Placement, DirectoryError> {
    let mut r = agent()
        .get(format!("{}/v1/place", url.trim_end_matches('/')))
        .query("room", room)
        .call()
        .map_err(|e| match e {
            ureq::Error::StatusCode(503) => DirectoryError::NoServer,
            e => http_error(e),
        })?;
    let body = r.body_mut().read_to_string().map_err(http_error)?;
    serde_json::from_str(&body).map_err(|e| DirectoryError::Http(e.to_string()))
}

/// Posts one registration. Blocking.
pub fn announce_once(url: &str, r: &Registration) -> Result<(), DirectoryError> {
    let body = serde_json::to_string(r).expect("a registration serialises");
    agent()
        .post(format!("{}/v1/servers", url.trim_end_matches('/')))
        .header("content-type", "application/json")
        .send(body)
        .map(|_| ())
        .map_err(|e| match e {
            ureq::Error::StatusCode(403) => DirectoryError::Forged,
            e => http_error(e),
        })
}

/// Announces a server to the directory every `every` until the task is
/// aborted; after a failure it retries within a quarter second (the
/// directory may be starting), logging once until it succeeds again.
pub async fn announce(
    url: String,
    secret: Vec<u8>,
    name: String,
    address: String,
    cert_der: Vec<u8>,
    every: Duration,
) {
    let mut failing = false;
    loop {
        let r = sign(&secret, &name, &address, &cert_der);
        let u = url.clone();
        let result = tokio::task::spawn_blocking(move || announce_once(&u, &r)).await;
        let ok = matches!(result, Ok(Ok(())));
        match result {
            Ok(Ok(())) if failing => tracing::info!("announced to the directory again"),
            Ok(Err(e)) if !failing => tracing::warn!("announcing to the directory {url}: {e}"),
            _ => {}
        }
        failing = !ok;
        let wait = if ok {
            every
        } else {
            every.min(Duration::from_millis(250))
        };
        tokio::time::sleep(wait).await;
    }
}
