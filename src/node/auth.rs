//! Request signing between nodes: the shared secret never travels.
//!
//! A request carries the sender's node name, a timestamp (unix ms), a random nonce and an
//! HMAC-SHA256 over method, path, those three and the SHA-256 of the body. The receiver
//! recomputes it (constant-time comparison), refuses a timestamp outside the replay window,
//! and remembers every nonce it accepted for as long as the window lasts, so a captured
//! request replayed verbatim is refused too (gobearmon sent its password in clear, bug 20).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use ring::{digest, hmac};

use super::seal::Sealer;

pub const HDR_NODE: &str = "x-bearmon-node";
pub const HDR_TIME: &str = "x-bearmon-time";
pub const HDR_NONCE: &str = "x-bearmon-nonce";
pub const HDR_SIGNATURE: &str = "x-bearmon-signature";

/// How far a request's timestamp may be from the receiver's clock.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(30);
/// Nonces remembered at most; beyond this the oldest half is dropped (bounded memory under a
/// flood of validly signed requests, which only a holder of the secret can make).
const MAX_NONCES: usize = 200_000;

/// Why a request was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("header {0} is malformed")]
    Malformed(&'static str),
    #[error("timestamp is {0} s away from this node's clock (window {w} s)", w = REPLAY_WINDOW.as_secs())]
    Stale(i64),
    #[error("signature does not match (wrong secret or altered request)")]
    BadSignature,
    #[error("nonce already used: a replayed request")]
    Replayed,
}

/// The four headers that sign one request.
#[derive(Debug, Clone)]
pub struct Signed {
    pub node: String,
    pub time_ms: i64,
    pub nonce: String,
    pub signature: String,
}

/// One node's answer to a signed request, as its signature covers it.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub status: u16,
    /// The request's path.
    pub path: &'a str,
    /// The answering node's name.
    pub responder: &'a str,
    /// The nonce of the request answered.
    pub request_nonce: &'a str,
    pub body: &'a [u8],
}

/// A shared secret plus the nonces seen recently, and the sealer derived from the same
/// secret.
pub struct Signer {
    key: hmac::Key,
    seen: Mutex<HashMap<String, i64>>,
    sealer: Sealer,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

use crate::util::hex;
use crate::util::now_ms;

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

impl Signer {
    pub fn new(secret: &str) -> Self {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            seen: Mutex::new(HashMap::new()),
            sealer: Sealer::new(secret),
        }
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    fn response_message(a: &Answer<'_>) -> String {
        let body_hash = hex(digest::digest(&digest::SHA256, a.body).as_ref());
        format!(
            "bearmon-v1-response\n{}\n{}\n{}\n{}\n{body_hash}",
            a.status, a.path, a.responder, a.request_nonce
        )
    }

    /// Signs the answer `responder` gives to the request that carried `request_nonce`: bound
    /// to that request, so an old answer cannot be replayed to a new one (a forged cluster
    /// view or sync answer would name a controller or hand out checks).
    pub fn sign_response(&self, a: &Answer<'_>) -> String {
        hex(hmac::sign(&self.key, Self::response_message(a).as_bytes()).as_ref())
    }

    /// Checks an answer signed by [`Signer::sign_response`].
    ///
    /// # Errors
    /// [`AuthError::Malformed`] or [`AuthError::BadSignature`].
    pub fn verify_response(&self, a: &Answer<'_>, signature: &str) -> Result<(), AuthError> {
        let sig = unhex(signature).ok_or(AuthError::Malformed(HDR_SIGNATURE))?;
        hmac::verify(&self.key, Self::response_message(a).as_bytes(), &sig)
            .map_err(|_| AuthError::BadSignature)
    }

    fn message(method: &str, path: &str, node: &str, time_ms: i64, nonce: &str, body: &[u8]) -> String {
        let body_hash = hex(digest::digest(&digest::SHA256, body).as_ref());
        format!("bearmon-v1\n{method}\n{path}\n{node}\n{time_ms}\n{nonce}\n{body_hash}")
    }

    /// Signs a request about to be sent by `node`.
    pub fn sign(&self, node: &str, method: &str, path: &str, body: &[u8]) -> Signed {
        let nonce = hex(&crate::util::random_bytes::<16>());
        let time_ms = now_ms();
        let msg = Self::message(method, path, node, time_ms, &nonce, body);
        let signature = hex(hmac::sign(&self.key, msg.as_bytes()).as_ref());
        Signed { node: node.to_string(), time_ms, nonce, signature }
    }

    /// Checks a received request; on success the nonce is remembered.
    ///
    /// # Errors
    /// [`AuthError`] saying which part failed.
    pub fn verify(&self, method: &str, path: &str, body: &[u8], s: &Signed) -> Result<(), AuthError> {
        let sig = self.precheck(s)?;
        let now = now_ms();
        let msg = Self::message(method, path, &s.node, s.time_ms, &s.nonce, body);
        hmac::verify(&self.key, msg.as_bytes(), &sig).map_err(|_| AuthError::BadSignature)?;
        let mut seen = crate::util::lock(&self.seen);
        let horizon = now - 2 * REPLAY_WINDOW.as_millis() as i64;
        if seen.len() >= MAX_NONCES {
            seen.retain(|_, t| *t > horizon);
            if seen.len() >= MAX_NONCES {
                let mut times: Vec<i64> = seen.values().copied().collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                seen.retain(|_, t| *t > cut);
            }
        }
        if seen.insert(s.nonce.clone(), s.time_ms).is_some() {
            return Err(AuthError::Replayed);
        }
        Ok(())
    }

    /// What can be checked without the body: the time is inside the replay window, the
    /// signature and nonce are well formed and the nonce is not one already used. Run before a
    /// byte of the body is read, so an unsigned, stale or replayed request costs the server
    /// nothing (a body may be up to 16 MiB). Returns the signature's bytes.
    ///
    /// # Errors
    /// [`AuthError::Stale`], [`AuthError::Malformed`] or [`AuthError::Replayed`].
    pub fn precheck(&self, s: &Signed) -> Result<Vec<u8>, AuthError> {
        let skew = s.time_ms.saturating_sub(now_ms());
        if skew.unsigned_abs() > REPLAY_WINDOW.as_millis() as u64 {
            return Err(AuthError::Stale(skew / 1000));
        }
        let sig = unhex(&s.signature).ok_or(AuthError::Malformed(HDR_SIGNATURE))?;
        if s.nonce.len() != 32 || unhex(&s.nonce).is_none() {
            return Err(AuthError::Malformed(HDR_NONCE));
        }
        if crate::util::lock(&self.seen).contains_key(&s.nonce) {
            return Err(AuthError::Replayed);
        }
        Ok(sig)
    }

    /// Drops nonces older than the window (called periodically by the server).
    pub fn forget_old(&self) {
        let horizon = now_ms() - 2 * REPLAY_WINDOW.as_millis() as i64;
        crate::util::lock(&self.seen).retain(|_, t| *t > horizon);
    }
}

/// Reads the four headers of a signed request.
///
/// # Errors
/// [`AuthError::Missing`] or [`AuthError::Malformed`] naming the header.
pub fn from_headers(h: &axum::http::HeaderMap) -> Result<Signed, AuthError> {
    let get = |name: &'static str| -> Result<String, AuthError> {
        let v = h.get(name).ok_or(AuthError::Missing(name))?;
        v.to_str().map(str::to_string).map_err(|_| AuthError::Malformed(name))
    };
    let node = get(HDR_NODE)?;
    if node.is_empty() || node.len() > 128 {
        return Err(AuthError::Malformed(HDR_NODE));
    }
    let time_ms = get(HDR_TIME)?.parse().map_err(|_| AuthError::Malformed(HDR_TIME))?;
    Ok(Signed { node, time_ms, nonce: get(HDR_NONCE)?, signature: get(HDR_SIGNATURE)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `x-bearmon-time` of i64::MIN once overflowed the skew arithmetic (a panic in a
    /// debug build): the fuzz target `node_messages` covers this input class.
    #[test]
    fn an_absurd_timestamp_is_stale_not_a_panic() {
        let a = Signer::new("s3cret");
        let mut s = a.sign("w1", "POST", "/x", b"");
        for t in [i64::MIN, i64::MAX] {
            s.time_ms = t;
            assert!(matches!(a.verify("POST", "/x", b"", &s), Err(AuthError::Stale(_))));
        }
    }

    #[test]
    fn a_signed_request_verifies_once() {
        let a = Signer::new("s3cret");
        let s = a.sign("w1", "POST", "/cluster/sync", b"{}");
        assert_eq!(a.verify("POST", "/cluster/sync", b"{}", &s), Ok(()));
        assert_eq!(a.verify("POST", "/cluster/sync", b"{}", &s), Err(AuthError::Replayed));
    }

    #[test]
    fn anything_altered_is_refused() {
        let a = Signer::new("s3cret");
        let s = a.sign("w1", "POST", "/cluster/sync", b"{}");
        assert_eq!(a.verify("POST", "/cluster/sync", b"{ }", &s), Err(AuthError::BadSignature));
        assert_eq!(a.verify("POST", "/cluster/ask", b"{}", &s), Err(AuthError::BadSignature));
        let mut other = s.clone();
        other.node = "w2".into();
        assert_eq!(a.verify("POST", "/cluster/sync", b"{}", &other), Err(AuthError::BadSignature));
        let b = Signer::new("other");
        assert_eq!(b.verify("POST", "/cluster/sync", b"{}", &s), Err(AuthError::BadSignature));
    }

    #[test]
    fn an_old_timestamp_is_refused() {
        let a = Signer::new("k");
        let mut s = a.sign("w1", "GET", "/x", b"");
        s.time_ms -= 60_000;
        assert!(matches!(a.verify("GET", "/x", b"", &s), Err(AuthError::Stale(_))));
    }
}
