//! What the checks share on one worker: two HTTP clients (verifying and `insecure`), the
//! ICMP sockets, and the default DNS server. Built once, so a run costs no client set-up;
//! keep-alive is off so every run measures a fresh connection, as a visitor's would.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

/// Worker-level settings the checks need.
#[derive(Debug, Clone, Default)]
pub struct ProbeConfig {
    /// Default nameserver of `dns` checks without `server` (gobearmon's `[dns] server`);
    /// `None` means the system resolver's first nameserver, else 127.0.0.1.
    pub dns_server: Option<String>,
}

/// Shared probing state; cheap to clone.
#[derive(Clone)]
pub struct Probes {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProbeConfig,
    http: Result<reqwest::Client, String>,
    http_insecure: Result<reqwest::Client, String>,
    icmp_v4: OnceCell<Result<surge_ping::Client, String>>,
    icmp_v6: OnceCell<Result<surge_ping::Client, String>>,
}

/// Upper bound on redirects followed by `http` checks (Go's default, which gobearmon had).
const MAX_REDIRECTS: usize = 10;

fn http_client(insecure: bool) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .connect_timeout(Duration::from_secs(30))
        .danger_accept_invalid_certs(insecure)
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {}", super::error_chain(&e)))
}

impl Probes {
    /// Builds the shared clients. Never fails: a part that cannot be built makes the checks
    /// that need it report an error (not a vote) with the reason.
    pub fn new(config: ProbeConfig) -> Self {
        crate::init_crypto();
        Probes {
            inner: Arc::new(Inner {
                config,
                http: http_client(false),
                http_insecure: http_client(true),
                icmp_v4: OnceCell::new(),
                icmp_v6: OnceCell::new(),
            }),
        }
    }

    pub(crate) fn http(&self, insecure: bool) -> Result<&reqwest::Client, String> {
        let c = if insecure { &self.inner.http_insecure } else { &self.inner.http };
        c.as_ref().map_err(Clone::clone)
    }

    /// The ICMP client for one address family, opened on first use. Opening needs a raw
    /// socket (root or `cap_net_raw`) or unprivileged ICMP (`net.ipv4.ping_group_range`).
    pub(crate) async fn icmp(&self, v6: bool) -> Result<&surge_ping::Client, String> {
        let cell = if v6 { &self.inner.icmp_v6 } else { &self.inner.icmp_v4 };
        let res = cell
            .get_or_init(|| async move {
                let kind = if v6 { surge_ping::ICMP::V6 } else { surge_ping::ICMP::V4 };
                let config = surge_ping::Config::builder().kind(kind).build();
                surge_ping::Client::new(&config).map_err(|e| {
                    format!(
                        "cannot open an ICMP{} socket ({e}): run the worker as root, give the \
                         binary cap_net_raw (setcap cap_net_raw+ep bearmon), or allow \
                         unprivileged ping with sysctl net.ipv4.ping_group_range",
                        if v6 { "v6" } else { "" }
                    )
                })
            })
            .await;
        res.as_ref().map_err(Clone::clone)
    }

    pub(crate) fn dns_server(&self) -> Option<&str> {
        self.inner.config.dns_server.as_deref()
    }
}
