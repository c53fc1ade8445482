//! Bearer tokens: what a connection may use, signed with HMAC-SHA256 under `ws-token-secret`.
//!
//! A token is `base64url(payload) "." base64url(HMAC-SHA256(secret, base64url(payload)))`,
//! unpadded, where the payload is JSON:
//! `{"sub": ["news.*"], "pub": ["chat.*"], "streams": ["quotes"], "exp": 1767225600}`.
//! `sub` lists the channels (globs) the connection may subscribe to, `pub` those it may publish
//! to, `streams` the stream keys (globs) it may read, follow, ack and claim; `exp` (optional)
//! is a Unix time in seconds after which the token is refused. A connection with a token may
//! not use the generic `command` message.

use crate::glob;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token grants.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Grants {
    /// Channel globs the connection may subscribe to.
    #[serde(default)]
    pub sub: Vec<String>,
    /// Channel globs the connection may publish to.
    #[serde(default, rename = "pub")]
    pub publish: Vec<String>,
    /// Stream key globs the connection may use.
    #[serde(default)]
    pub streams: Vec<String>,
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub exp: Option<u64>,
}

fn any_matches(globs: &[String], name: &[u8]) -> bool {
    globs.iter().any(|g| glob::matches(g.as_bytes(), name))
}

impl Grants {
    /// Whether the connection may subscribe to channel (or shard channel) `name`.
    pub fn may_subscribe(&self, name: &[u8]) -> bool {
        any_matches(&self.sub, name)
    }

    /// Whether the connection may subscribe to pattern `pattern`: the pattern, read as a plain
    /// string, must match an allowed glob (exact for globs of the form `prefix*`).
    pub fn may_psubscribe(&self, pattern: &[u8]) -> bool {
        any_matches(&self.sub, pattern)
    }

    /// Whether the connection may publish to `channel`.
    pub fn may_publish(&self, channel: &[u8]) -> bool {
        any_matches(&self.publish, channel)
    }

    /// Whether the connection may use stream `key`.
    pub fn may_use_stream(&self, key: &[u8]) -> bool {
        any_matches(&self.streams, key)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not two base64url parts, or the payload is not the JSON described above.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// Past its `exp`.
    Expired,
}

/// Checks `token` against `secret` at Unix time `now` and returns what it grants.
pub fn verify(token: &str, secret: &[u8], now: u64) -> Result<Grants, TokenError> {
    let (payload, signature) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let signature = base64url_decode(signature).ok_or(TokenError::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| TokenError::Malformed)?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let json = base64url_decode(payload).ok_or(TokenError::Malformed)?;
    let grants: Grants = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if grants.exp.is_some_and(|exp| now > exp) {
        return Err(TokenError::Expired);
    }
    Ok(grants)
}

/// Mints a token for `payload_json` (tests and tools; see the module docs).
pub fn mint(payload_json: &str, secret: &[u8]) -> String {
    let payload = base64url_encode(payload_json.as_bytes());
    let signature = match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(payload.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{payload}.{}", base64url_encode(&signature))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk.first().copied().unwrap_or(0), chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let index = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// Decodes unpadded (or padded) base64url; `None` on any other character.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..20u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37).wrapping_add(250)).collect();
            assert_eq!(base64url_decode(&base64url_encode(&bytes)), Some(bytes));
        }
        assert_eq!(base64url_encode(b"hello"), "aGVsbG8");
    }

    #[test]
    fn a_minted_token_verifies_and_a_tampered_one_does_not() {
        let token = mint(r#"{"sub":["news.*"],"streams":["quotes"],"exp":100}"#, b"secret");
        let grants = verify(&token, b"secret", 50);
        assert!(matches!(&grants, Ok(g) if g.may_subscribe(b"news.tech") && !g.may_subscribe(b"sport")));
        assert_eq!(verify(&token, b"other", 50), Err(TokenError::BadSignature));
        assert_eq!(verify(&token, b"secret", 101), Err(TokenError::Expired));
        let tampered = token.replacen('e', "f", 1);
        assert!(verify(&tampered, b"secret", 50).is_err());
    }
}
