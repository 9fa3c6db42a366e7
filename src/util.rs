//! Small helpers several modules need: the wall clock in unix milliseconds, RFC 3339
//! timestamps, hex, and random bytes from the system RNG.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::SecureRandom;

/// Milliseconds since the unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A unix-ms instant as RFC 3339 (UTC), `None` when out of range.
pub fn rfc3339(ms: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    t.format(&time::format_description::well_known::Rfc3339).ok()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `N` bytes from the system RNG. Its failure is not recoverable in any useful way; the
/// bytes are then zero (a nonce that looks replayed, a weak `bearmon up` secret).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b
}
