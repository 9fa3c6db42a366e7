//! `http`: fetch a URL and judge the status and, optionally, the body.
//!
//! gobearmon's keys and texts, with its bugs fixed: no `expect_status` means 2xx/3xx passes
//! (gobearmon passed a 500), and the body is read only up to [`MAX_BODY`] bytes.

use std::collections::BTreeMap;

use reqwest::header::{HOST, HeaderName, HeaderValue, USER_AGENT};
use serde::Deserialize;
use tokio::time::Instant;

use super::{Failure, KindResult, Probes, error_chain};

/// How much of a body `expect_substring` searches. A target serving gigabytes cannot make
/// a worker allocate them.
pub const MAX_BODY: usize = 1024 * 1024;

pub(crate) const KEYS: &[&str] = &[
    "url",
    "method",
    "body",
    "headers",
    "timeout",
    "insecure",
    "username",
    "password",
    "expect_status",
    "expect_substring",
];

/// `checks.data` of an `http` check.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HttpParams {
    pub url: String,
    /// Empty means GET, or POST when `body` is set.
    pub method: String,
    pub body: String,
    /// Extra headers; `Host` sets the Host header.
    pub headers: BTreeMap<String, String>,
    pub timeout: i64,
    /// Accept any certificate.
    pub insecure: bool,
    pub username: String,
    pub password: String,
    /// 0 means "any 2xx or 3xx".
    pub expect_status: u16,
    pub expect_substring: String,
    /// `url` parsed by [`Self::prepare`], so a run does not parse it again (URL parsing and
    /// IDNA were 2.5 % of a worker's CPU at 4,000 runs a second).
    #[serde(skip)]
    parsed_url: ParsedUrl,
}

/// A value derived from `url`, so it takes no part in comparing two checks' parameters.
#[derive(Debug, Clone, Default)]
struct ParsedUrl(Option<reqwest::Url>);

impl PartialEq for ParsedUrl {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl HttpParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let url = url::Url::parse(&self.url).map_err(|e| ("url", format!("{:?}: {e}", self.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(("url", format!("scheme {:?} is not http or https", url.scheme())));
        }
        reqwest::Method::from_bytes(self.method().as_bytes())
            .map_err(|_| ("method", format!("{:?} is not an HTTP method", self.method)))?;
        for (k, v) in &self.headers {
            HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| ("headers", format!("{k:?} is not a valid header name")))?;
            HeaderValue::from_str(v)
                .map_err(|_| ("headers", format!("the value of {k:?} is not a valid header value")))?;
        }
        if self.expect_status != 0 && !(100..=999).contains(&self.expect_status) {
            return Err(("expect_status", format!("{} is not an HTTP status", self.expect_status)));
        }
        Ok(())
    }

    /// Parses `url` once for the runs to come (see [`super::CheckSpec::prepare`]).
    pub(crate) fn prepare(&mut self) {
        self.parsed_url = ParsedUrl(reqwest::Url::parse(&self.url).ok());
    }

    fn method(&self) -> &str {
        match (self.method.as_str(), self.body.is_empty()) {
            ("", true) => "GET",
            ("", false) => "POST",
            (m, _) => m,
        }
    }

    pub(crate) async fn run(&self, probes: &Probes, deadline: Instant) -> KindResult {
        let client = probes.http(self.insecure).map_err(Failure::Local)?;
        let method = reqwest::Method::from_bytes(self.method().as_bytes())
            .map_err(|e| Failure::Local(e.to_string()))?;
        let url = match &self.parsed_url.0 {
            Some(u) => u.clone(),
            None => {
                reqwest::Url::parse(&self.url).map_err(|e| Failure::Local(format!("{:?}: {e}", self.url)))?
            }
        };
        let mut req = client
            .request(method, url)
            .timeout(deadline.saturating_duration_since(Instant::now()))
            .header(USER_AGENT, "bearmon");
        for (k, v) in &self.headers {
            req = if k.eq_ignore_ascii_case("host") { req.header(HOST, v) } else { req.header(k, v) };
        }
        if !self.username.is_empty() {
            req = req.basic_auth(&self.username, Some(&self.password));
        }
        if !self.body.is_empty() {
            req = req.body(self.body.clone());
        }
        let mut resp = req.send().await.map_err(|e| {
            Failure::Target(format!("error performing HTTP request: {}", error_chain(&e.without_url())))
        })?;
        let status = resp.status().as_u16();
        if self.expect_status != 0 && status != self.expect_status {
            return Err(Failure::Target(format!(
                "status mismatch, got {status} but expected {}",
                self.expect_status
            )));
        }
        if self.expect_status == 0 && !(200..400).contains(&status) {
            return Err(Failure::Target(format!("status {status} is not 2xx or 3xx")));
        }
        if self.expect_substring.is_empty() {
            return Ok(());
        }
        let needle = self.expect_substring.as_bytes();
        let mut body: Vec<u8> = Vec::new();
        while body.len() < MAX_BODY {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    // Search only the new bytes plus an overlap, not the whole body again.
                    let from = body.len().saturating_sub(needle.len());
                    let take = chunk.len().min(MAX_BODY - body.len());
                    body.extend_from_slice(&chunk[..take]);
                    if contains(&body[from..], needle) {
                        return Ok(());
                    }
                }
                Ok(None) => {
                    return Err(Failure::Target(format!(
                        "expected substring [{}] was not found in the response body",
                        self.expect_substring
                    )));
                }
                Err(e) => {
                    return Err(Failure::Target(format!(
                        "error reading HTTP response body: {}",
                        error_chain(&e.without_url())
                    )));
                }
            }
        }
        Err(Failure::Target(format!(
            "expected substring [{}] was not found in the first {MAX_BODY} bytes of the response body",
            self.expect_substring
        )))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
