//! Small helpers several modules need: the clocks ([`Now`], [`now_ms`]), RFC 3339
//! timestamps, hex, random bytes from the system RNG, a poison-tolerant [`lock`] and
//! [`error_chain`].

pub mod when;

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::SecureRandom;

/// A moment as both clocks read it: the monotonic one for deadlines and ages, the wall clock
/// (unix ms) for what is recorded and shown. Read once by a caller and handed down, so the
/// logic below it never reads a clock and its tests can set the time (tokio's clock pauses
/// in tests; the wall time is a plain number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono: tokio::time::Instant,
    pub ms: i64,
}

impl Now {
    /// Both clocks now.
    pub fn read() -> Self {
        Now { mono: tokio::time::Instant::now(), ms: now_ms() }
    }

    /// `d` later on both clocks.
    pub fn after(self, d: std::time::Duration) -> Self {
        Now { mono: self.mono + d, ms: self.ms + d.as_millis() as i64 }
    }
}

/// Locks a mutex, taking the data of one a panicking holder poisoned: every lock in bearmon
/// guards plain data that a panic mid-update leaves usable, and a monitor that stops
/// answering because one task panicked is worse than one that goes on.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An error and its causes on one line, `outer: inner: root`, for logs and messages.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

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
