//! Where `show stat` comes from: HAProxy's UNIX stats socket (`stats socket PATH`) or its
//! stats page in CSV (`stats uri /stats`, read as `/stats;csv`). Every read has a deadline,
//! so a stuck HAProxy (or a socket nobody answers on) costs one timeout, not a hung run.

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::{Instant, timeout_at};

use super::stat::{StatError, Stats};

/// The most read from one socket or page: a few thousand servers' rows fit many times over.
pub const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Why one source gave no table; every variant names the source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot connect to the stats socket {path}: {cause}")]
    Connect { path: String, cause: String },
    #[error("reading `show stat` from {source_name}: {cause}")]
    Read { source_name: String, cause: String },
    #[error("{source_name} timed out")]
    Timeout { source_name: String },
    #[error("{source_name} answered HTTP {status}")]
    Status { source_name: String, status: u16 },
    #[error("{source_name} is over {MAX_ANSWER} bytes")]
    TooLarge { source_name: String },
    #[error("{source_name}: {cause}")]
    Parse { source_name: String, cause: StatError },
}

/// Sends `show stat` on a stats socket and parses the answer (HAProxy closes the
/// connection after a single command, so the answer ends at EOF).
///
/// # Errors
/// [`SourceError`] naming the socket.
pub async fn read_socket(path: &Path, deadline: Instant) -> Result<Stats, SourceError> {
    let name = path.display().to_string();
    let timeout = || SourceError::Timeout { source_name: format!("the stats socket {name}") };
    let mut stream = timeout_at(deadline, UnixStream::connect(path))
        .await
        .map_err(|_| timeout())?
        .map_err(|e| SourceError::Connect { path: name.clone(), cause: e.to_string() })?;
    let read = async {
        stream.write_all(b"show stat\n").await?;
        let mut buf = Vec::new();
        (&mut stream).take(MAX_ANSWER as u64 + 1).read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = timeout_at(deadline, read)
        .await
        .map_err(|_| timeout())?
        .map_err(|e| SourceError::Read { source_name: name.clone(), cause: e.to_string() })?;
    if buf.len() > MAX_ANSWER {
        return Err(SourceError::TooLarge { source_name: name });
    }
    tracing::debug!(socket = %name, bytes = buf.len(), "read show stat");
    Stats::parse(&String::from_utf8_lossy(&buf))
        .map_err(|cause| SourceError::Parse { source_name: name, cause })
}

/// Fetches a stats page's CSV (`http://host:port/stats;csv`), with Basic auth when a
/// username is given.
///
/// # Errors
/// [`SourceError`] naming the URL (as given: its password is redacted by the caller).
pub async fn read_url(
    client: &reqwest::Client,
    url: &str,
    auth: Option<(&str, &str)>,
    deadline: Instant,
) -> Result<Stats, SourceError> {
    let name = url.to_string();
    let fetch = async {
        let mut req = client.get(url);
        if let Some((user, password)) = auth {
            req = req.basic_auth(user, Some(password));
        }
        let mut resp = req.send().await.map_err(|e| SourceError::Read {
            source_name: name.clone(),
            cause: crate::util::error_chain(&e),
        })?;
        if !resp.status().is_success() {
            return Err(SourceError::Status { source_name: name.clone(), status: resp.status().as_u16() });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| SourceError::Read {
            source_name: name.clone(),
            cause: crate::util::error_chain(&e),
        })? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER {
                return Err(SourceError::TooLarge { source_name: name.clone() });
            }
        }
        Ok(body)
    };
    let body = timeout_at(deadline, fetch)
        .await
        .map_err(|_| SourceError::Timeout { source_name: name.clone() })??;
    Stats::parse(&String::from_utf8_lossy(&body))
        .map_err(|cause| SourceError::Parse { source_name: name, cause })
}
