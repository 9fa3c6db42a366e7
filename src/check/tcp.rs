//! `tcp`: connect, optionally send a payload and expect a line back.
//!
//! gobearmon's keys and texts, with its bugs fixed: the payload is sent whether or not
//! `expect` is set, and the read has the check's deadline (gobearmon's worker blocked
//! forever on a server that never sent a newline).

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::{Failure, KindResult, params};

/// The longest response line read when `expect` is set.
const MAX_LINE: usize = 64 * 1024;

pub(crate) const KEYS: &[&str] = &["address", "timeout", "payload", "force_ip", "expect"];

/// `checks.data` of a `tcp` check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TcpParams {
    /// `host:port`.
    pub address: String,
    pub timeout: i64,
    /// Sent followed by a newline.
    pub payload: String,
    /// 4 or 6 restricts the address family; 0 allows both.
    pub force_ip: u8,
    /// Text the first response line must contain.
    pub expect: String,
}

impl TcpParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        params::host_port(&self.address).map_err(|e| ("address", e))?;
        if !matches!(self.force_ip, 0 | 4 | 6) {
            return Err(("force_ip", format!("{} is not 0, 4 or 6", self.force_ip)));
        }
        Ok(())
    }

    pub(crate) async fn run(&self, deadline: Instant) -> KindResult {
        let mut stream = connect(&self.address, self.force_ip, deadline)
            .await
            .map_err(|e| Failure::Target(format!("TCP connection error: {e}")))?;
        if !self.payload.is_empty() {
            let mut payload = self.payload.clone().into_bytes();
            payload.push(b'\n');
            match timeout_at(deadline, stream.write_all(&payload)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Failure::Target(format!("failed to send payload: {e}"))),
                Err(_) => return Err(Failure::Target("failed to send payload: timed out".into())),
            }
        }
        if self.expect.is_empty() {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        let line = match timeout_at(deadline, read_line(&mut stream)).await {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => return Err(Failure::Target(format!("failed to read response: {e}"))),
            Err(_) => {
                return Err(Failure::Target(
                    "failed to read response: timed out waiting for a newline".into(),
                ));
            }
        };
        let line = String::from_utf8_lossy(&line);
        if line.contains(&self.expect) {
            Ok(())
        } else {
            Err(Failure::Target(format!(
                "response mismatch, expected [{}] but got [{}]",
                self.expect,
                line.trim()
            )))
        }
    }
}

/// Resolves `address` (honouring `force_ip`) and connects to the first address that
/// answers, all before `deadline`.
pub(crate) async fn connect(address: &str, force_ip: u8, deadline: Instant) -> Result<TcpStream, String> {
    let addrs = timeout_at(deadline, tokio::net::lookup_host(address))
        .await
        .map_err(|_| "timed out resolving the address".to_string())?
        .map_err(|e| format!("cannot resolve {address}: {e}"))?;
    let addrs: Vec<_> = addrs
        .filter(|a| match force_ip {
            4 => a.is_ipv4(),
            6 => a.is_ipv6(),
            _ => true,
        })
        .collect();
    if addrs.is_empty() {
        return Err(format!("{address} has no IPv{force_ip} address"));
    }
    let mut last = String::new();
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => return Err(format!("{addr}: connect timed out")),
        }
    }
    Err(last)
}

/// Reads up to the first newline, or to EOF if some data came first (gobearmon failed on
/// a response without a final newline even when it contained the expected text).
async fn read_line(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if buf.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before any response",
                ));
            }
            return Ok(buf);
        }
        if let Some(pos) = chunk[..n].iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&chunk[..pos]);
            return Ok(buf);
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("no newline in the first {MAX_LINE} bytes"),
            ));
        }
    }
}
