//! Join tokens: what lets someone into a room, issued by whoever runs the
//! server (`parallax meeting token`) and checked by the server on every
//! join. A token is `base64url(claims JSON) . base64url(HMAC-SHA256(secret,
//! first part))`: scoped to one room and a role, naming the participant,
//! expiring. Forged, altered, expired or other-room tokens are refused
//! with the reason.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a participant may do in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May kick and mute others.
    Host,
    Member,
}

/// A token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub room: String,
    pub name: String,
    pub role: Role,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Makes each token distinct.
    pub nonce: u64,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match (forged or altered)")]
    Signature,
    #[error("the token expired")]
    Expired,
    #[error("the token is for room {token:?}, not {asked:?}")]
    OtherRoom { token: String, asked: String },
}

type HmacSha256 = Hmac<Sha256>;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8], data: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    m.update(data);
    m
}

/// Issues a token for `name` in `room`, valid `ttl_s` seconds.
pub fn issue(secret: &[u8], room: &str, name: &str, role: Role, ttl_s: u64) -> String {
    let claims = Claims {
        room: room.to_string(),
        name: name.to_string(),
        role,
        exp: now() + ttl_s,
        nonce: rand::random(),
    };
    let body = B64.encode(serde_json::to_vec(&claims).expect("claims serialise"));
    let sig = B64.encode(mac(secret, body.as_bytes()).finalize().into_bytes());
    format!("{body}.{sig}")
}

/// Checks a token (signature in constant time, expiry, room) and returns
/// its claims.
pub fn verify(secret: &[u8], token: &str, room: &str) -> Result<Claims, TokenError> {
    let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let sig = B64.decode(sig).map_err(|_| TokenError::Malformed)?;
    mac(secret, body.as_bytes())
        .verify_slice(&sig)
        .map_err(|_| TokenError::Signature)?;
    let bytes = B64.decode(body).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now() {
        return Err(TokenError::Expired);
    }
    if claims.room != room {
        return Err(TokenError::OtherRoom {
            token: claims.room,
            asked: room.to_string(),
        });
    }
    if claims.name.trim().is_empty() || claims.name.len() > 64 {
        return Err(TokenError::Malformed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked() {
        let s = b"a secret of the server";
        let t = issue(s, "lobby", "ada", Role::Host, 60);
        let c = verify(s, &t, "lobby").unwrap();
        assert_eq!((c.name.as_str(), c.role), ("ada", Role::Host));
        assert_eq!(
            verify(b"another secret", &t, "lobby"),
            Err(TokenError::Signature)
        );
        assert!(matches!(
            verify(s, &t, "kitchen"),
            Err(TokenError::OtherRoom { .. })
        ));
        // A changed claim breaks the signature.
        let (body, sig) = t.split_once('.').unwrap();
        let mut claims: Claims = serde_json::from_slice(&B64.decode(body).unwrap()).unwrap();
        claims.role = Role::Host;
        claims.name = "mallory".into();
        let forged = format!("{}.{sig}", B64.encode(serde_json::to_vec(&claims).unwrap()));
        assert_eq!(verify(s, &forged, "lobby"), Err(TokenError::Signature));
        let old = issue(s, "lobby", "ada", Role::Member, 0);
        assert_eq!(verify(s, &old, "lobby"), Err(TokenError::Expired));
        for bad in ["", "x", "x.y", "....", "eyJ9.zz"] {
            assert!(verify(s, bad, "lobby").is_err(), "{bad}");
        }
    }
}
