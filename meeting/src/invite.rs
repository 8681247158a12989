//! Invitations: everything a participant needs to join one room, in one
//! string a user can paste or put in `PARALLAX_MEETING`: where the room is
//! (a server's address and its certificate, or a directory's URL), the
//! room, and a join token. `parallax meeting invite` writes them.
//!
//! Format: `pxm1.` followed by URL-safe base64 (no padding) of a JSON
//! object `{"room", "token", "server": {"address", "cert"}}` or `{"room",
//! "token", "directory"}` (`cert`: the server's DER certificate, base64).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

const PREFIX: &str = "pxm1.";
const URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const STD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why an invitation cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("not a Parallax meeting invitation (they start with {PREFIX})")]
    Prefix,
    #[error("the invitation is damaged: {0}")]
    Damaged(String),
    #[error("the invitation's server address {0:?} is not host:port")]
    Address(String),
    #[error("the room's directory: {0}")]
    Directory(#[from] crate::directory::DirectoryError),
}

/// A server and the certificate it presents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerPlace {
    pub address: String,
    /// DER, base64.
    pub cert: String,
}

/// One room to join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    pub room: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerPlace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}

impl Invite {
    /// An invitation to `room` on the server at `address` presenting
    /// `cert_der`.
    pub fn to_server(room: &str, token: &str, address: &str, cert_der: &[u8]) -> Invite {
        Invite {
            room: room.into(),
            token: token.into(),
            server: Some(ServerPlace {
                address: address.into(),
                cert: STD.encode(cert_der),
            }),
            directory: None,
        }
    }

    /// An invitation to `room` wherever the directory at `url` places it.
    pub fn through_directory(room: &str, token: &str, url: &str) -> Invite {
        Invite {
            room: room.into(),
            token: token.into(),
            server: None,
            directory: Some(url.into()),
        }
    }

    /// The invitation as one string.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("an invitation serialises");
        format!("{PREFIX}{}", URL.encode(json))
    }

    /// Reads an invitation (surrounding white space is ignored).
    pub fn decode(s: &str) -> Result<Invite, InviteError> {
        let body = s.trim().strip_prefix(PREFIX).ok_or(InviteError::Prefix)?;
        let json = URL
            .decode(body)
            .map_err(|e| InviteError::Damaged(e.to_string()))?;
        let invite: Invite =
            serde_json::from_slice(&json).map_err(|e| InviteError::Damaged(e.to_string()))?;
        match (&invite.server, &invite.directory) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(InviteError::Damaged(
                    "it names neither or both of a server and a directory".into(),
                ))
            }
        }
        if invite.room.is_empty() || invite.token.is_empty() {
            return Err(InviteError::Damaged("no room or no token".into()));
        }
        Ok(invite)
    }

    /// The room's server and its certificate, asking the directory where
    /// the invitation names one (a blocking HTTP request).
    pub fn locate(&self) -> Result<(SocketAddr, Vec<u8>), InviteError> {
        let (address, cert) = match (&self.server, &self.directory) {
            (Some(s), _) => (
                s.address.clone(),
                STD.decode(&s.cert)
                    .map_err(|e| InviteError::Damaged(format!("certificate: {e}")))?,
            ),
            (None, Some(url)) => {
                let p = crate::directory::resolve(url, &self.room)?;
                tracing::info!(room = %self.room, server = %p.server, address = %p.address, "the directory placed the room");
                (p.address.clone(), p.cert_der()?)
            }
            (None, None) => return Err(InviteError::Damaged("no place".into())),
        };
        let addr = address
            .parse()
            .map_err(|_| InviteError::Address(address.clone()))?;
        Ok((addr, cert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let i = Invite::to_server("standup", "tok.en", "127.0.0.1:4433", b"\x30\x82der");
        let s = i.encode();
        assert!(s.starts_with("pxm1.") && !s.contains(['+', '/', '=', ' ']));
        assert_eq!(Invite::decode(&format!("  {s}\n")).unwrap(), i);
        let (addr, cert) = i.locate().unwrap();
        assert_eq!(addr.port(), 4433);
        assert_eq!(cert, b"\x30\x82der");
        let d = Invite::through_directory("standup", "t", "http://127.0.0.1:1");
        assert_eq!(Invite::decode(&d.encode()).unwrap(), d);
        assert!(matches!(Invite::decode("hello"), Err(InviteError::Prefix)));
        assert!(matches!(
            Invite::decode(&s[..s.len() - 7]),
            Err(InviteError::Damaged(_))
        ));
        let both = Invite {
            directory: Some("http://x".into()),
            ..i.clone()
        };
        assert!(matches!(
            Invite::decode(&both.encode()),
            Err(InviteError::Damaged(_))
        ));
        let bad = Invite::to_server("r", "t", "nowhere", b"c");
        assert!(matches!(bad.locate(), Err(InviteError::Address(_))));
    }
}
