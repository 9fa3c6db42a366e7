//! Node messages sealed in transit when the cluster runs without TLS: check definitions
//! (with their passwords) and results cross the network, and without TLS anyone on the path
//! could read them. Each body is encrypted with ChaCha20-Poly1305 under a key derived from
//! the shared secret (HKDF-SHA256), with a random 96-bit nonce, bound to its direction and
//! path (the additional data), so a sealed request cannot be passed off as a response.
//! With TLS the channel already hides them and bodies travel as they are.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;

/// The header saying a body is sealed.
pub const HDR_SEALED: &str = "x-bearmon-sealed";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed body too short")]
    Short,
    #[error("sealed body does not open (wrong secret or altered in transit)")]
    Open,
}

/// Seals and opens node message bodies.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// Which way a body travels, part of the additional data.
#[derive(Debug, Clone, Copy)]
pub enum Way {
    Request,
    Response,
}

fn aad(way: Way, path: &str) -> String {
    match way {
        Way::Request => format!("bearmon-seal-v1 request {path}"),
        Way::Response => format!("bearmon-seal-v1 response {path}"),
    }
}

impl Sealer {
    pub fn new(secret: &str) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"bearmon-seal-v1").extract(secret.as_bytes());
        let okm = prk
            .expand(&[b"node message bodies"], &CHACHA20_POLY1305)
            .expect("a 32-byte key is in HKDF's range");
        Sealer { key: LessSafeKey::new(UnboundKey::from(okm)) }
    }

    /// `nonce || ciphertext || tag`.
    pub fn seal(&self, way: Way, path: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = crate::util::random_bytes::<NONCE_LEN>();
        let mut body = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(way, path)),
                &mut body,
            )
            .expect("ChaCha20-Poly1305 seals any length a node sends");
        let mut out = Vec::with_capacity(NONCE_LEN + body.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out
    }

    /// # Errors
    /// [`SealError`] when the body is too short or does not open.
    pub fn open(&self, way: Way, path: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SealError::Short);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Short)?;
        let mut body = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad(way, path)), &mut body)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_body_opens_only_with_the_secret_its_way_and_its_path() {
        let a = Sealer::new("s3cret-one");
        let body = br#"{"data":"{\"password\":\"pw-in-transit\"}"}"#;
        let sealed = a.seal(Way::Response, "/cluster/sync", body);
        assert!(!sealed.windows(13).any(|w| w == b"pw-in-transit"), "the password is not readable");
        assert_eq!(a.open(Way::Response, "/cluster/sync", &sealed).unwrap(), body);
        assert_eq!(a.open(Way::Request, "/cluster/sync", &sealed), Err(SealError::Open), "the other way");
        assert_eq!(a.open(Way::Response, "/cluster/ask", &sealed), Err(SealError::Open), "another path");
        assert_eq!(
            Sealer::new("s3cret-two").open(Way::Response, "/cluster/sync", &sealed),
            Err(SealError::Open)
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(a.open(Way::Response, "/cluster/sync", &altered), Err(SealError::Open));
        assert_ne!(a.seal(Way::Response, "/x", body), a.seal(Way::Response, "/x", body), "fresh nonces");
    }
}
