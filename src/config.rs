//! Node configuration: a TOML file, overridden by flags and `BEARMON_<NAME>` environment
//! variables (clap reads those). Unknown keys are errors, so a typo stops the process at
//! start with the key's name instead of being silently ignored (gobearmon bug 28).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::alert::{AlertsConfig, SmtpConfig, TwilioConfig};
use crate::node::TlsFiles;

mod policy;
pub use policy::PolicyConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: cannot read: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("config {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("missing setting `{key}`: give it in the config file, as --{flag} or as BEARMON_{env}")]
    Missing { key: &'static str, flag: &'static str, env: &'static str },
    #[error("setting `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
    /// `[smtp]`, `[twilio]` or `[alerts]`: checked here exactly as the node checks them when
    /// it builds its senders, so `check-config` refuses what the node would.
    #[error(transparent)]
    Alert(#[from] crate::alert::AlertError),
}

/// `[timing]`: seconds, fractions allowed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timing {
    /// How often workers heartbeat the viewserver (and sync with the controller when idle).
    pub heartbeat_secs: f64,
    /// Silence after which a node counts as dead.
    pub dead_after_secs: f64,
    /// How often the controller polls the database for changed checks.
    pub db_poll_secs: f64,
    /// How long a worker gathers results before sending them as one batch.
    pub result_flush_secs: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { heartbeat_secs: 1.0, dead_after_secs: 3.0, db_poll_secs: 2.0, result_flush_secs: 0.25 }
    }
}

impl Timing {
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs_f64(self.heartbeat_secs)
    }
    pub fn dead_after(&self) -> Duration {
        Duration::from_secs_f64(self.dead_after_secs)
    }
    pub fn db_poll(&self) -> Duration {
        Duration::from_secs_f64(self.db_poll_secs)
    }
    pub fn result_flush(&self) -> Duration {
        Duration::from_secs_f64(self.result_flush_secs)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = |key, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 3600.0 {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key,
                    reason: format!("{v} is not a number of seconds in (0, 3600]"),
                })
            }
        };
        positive("timing.heartbeat_secs", self.heartbeat_secs)?;
        positive("timing.dead_after_secs", self.dead_after_secs)?;
        positive("timing.db_poll_secs", self.db_poll_secs)?;
        positive("timing.result_flush_secs", self.result_flush_secs)?;
        if self.dead_after_secs < 2.0 * self.heartbeat_secs {
            return Err(ConfigError::Invalid {
                key: "timing.dead_after_secs",
                reason: format!(
                    "{} s is less than two heartbeats ({} s each): nodes would be declared dead between beats",
                    self.dead_after_secs, self.heartbeat_secs
                ),
            });
        }
        if self.db_poll_secs > 5.0 {
            return Err(ConfigError::Invalid {
                key: "timing.db_poll_secs",
                reason: "at most 5 s, so a change by SQL takes effect within seconds".into(),
            });
        }
        Ok(())
    }
}

/// The viewserver's config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewserverFile {
    pub listen: Option<String>,
    pub secret: Option<String>,
    #[serde(default)]
    pub timing: Timing,
    pub tls: Option<TlsFiles>,
    /// For admin mail ("controller failed without replacement").
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub http: HttpConfig,
}

/// A worker's config file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerFile {
    pub name: Option<String>,
    pub listen: Option<String>,
    /// The URL other nodes use to reach this one, when it differs from `listen` (NAT, a
    /// wildcard listen address).
    pub advertise: Option<String>,
    pub viewserver: Option<String>,
    pub secret: Option<String>,
    pub database: Option<String>,
    pub confirmations: Option<usize>,
    /// Check executions this worker runs at once.
    pub max_concurrent_checks: Option<usize>,
    /// Default nameserver for `dns` checks without `server`.
    pub dns_server: Option<String>,
    #[serde(default)]
    pub timing: Timing,
    pub tls: Option<TlsFiles>,
    pub smtp: Option<SmtpConfig>,
    pub twilio: Option<TwilioConfig>,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// `[metrics]`: what `/metrics` exports beyond the cluster's own series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `bearmon_check_up` and `bearmon_check_latency_seconds` for every check, on the
    /// controller's `/metrics`. Off by default: two series per check.
    pub per_check: bool,
}

/// Reads and parses a TOML file; `None` gives the defaults.
///
/// # Errors
/// [`ConfigError::Read`] or [`ConfigError::Parse`] (the message names the key and line).
pub fn load<T: for<'de> Deserialize<'de> + Default>(path: Option<&Path>) -> Result<T, ConfigError> {
    let Some(path) = path else { return Ok(T::default()) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
    parse(&text, path)
}

/// Parses a config file's text (`path` only names it in errors).
///
/// # Errors
/// [`ConfigError::Parse`] with toml's message, which names the key and line.
pub fn parse<T: for<'de> Deserialize<'de>>(text: &str, path: &Path) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

fn parse_listen(key: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|e| ConfigError::Invalid { key, reason: format!("{v:?} is not host:port ({e})") })
}

fn secret(v: Option<String>) -> Result<String, ConfigError> {
    let s = v.ok_or(ConfigError::Missing { key: "secret", flag: "secret", env: "SECRET" })?;
    if s.len() < 8 {
        return Err(ConfigError::Invalid { key: "secret", reason: "shorter than 8 characters".into() });
    }
    Ok(s)
}

/// `BEARMON_SMTP_PASSWORD` and `BEARMON_TWILIO_AUTH_TOKEN` replace the file's values (SPEC
/// §1: secrets may stay out of config files), in the sections the file has.
fn secrets_from_env(smtp: &mut Option<SmtpConfig>, twilio: &mut Option<TwilioConfig>) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let (Some(s), Some(pw)) = (smtp.as_mut(), env("BEARMON_SMTP_PASSWORD")) {
        s.password = Some(pw);
    }
    if let (Some(t), Some(token)) = (twilio.as_mut(), env("BEARMON_TWILIO_AUTH_TOKEN")) {
        t.auth_token = token;
    }
}

/// Everything a viewserver runs with.
#[derive(Debug, Clone)]
pub struct ViewserverConfig {
    pub listen: SocketAddr,
    pub secret: String,
    pub timing: Timing,
    pub tls: Option<TlsFiles>,
    pub smtp: Option<SmtpConfig>,
    pub alerts: AlertsConfig,
    pub http: HttpConfig,
    /// Set by `bearmon up`: the in-process nodes' metrics, served together.
    pub metrics_hub: Option<crate::metrics::Hub>,
}

impl ViewserverConfig {
    /// Merges flags (already `Some` when given) over the file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key.
    pub fn resolve(
        file: ViewserverFile,
        listen: Option<String>,
        secret_flag: Option<String>,
    ) -> Result<Self, ConfigError> {
        file.timing.validate()?;
        let mut file = file;
        secrets_from_env(&mut file.smtp, &mut None);
        crate::alert::config::validate(file.smtp.as_ref(), None, &file.alerts)?;
        let listen = listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:7300".into());
        Ok(ViewserverConfig {
            listen: parse_listen("listen", &listen)?,
            secret: secret(secret_flag.or(file.secret))?,
            timing: file.timing,
            tls: file.tls,
            smtp: file.smtp,
            alerts: file.alerts,
            http: file.http,
            metrics_hub: None,
        })
    }
}

/// `[http]`: who may read the status page and the API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `true` (the default, gobearmon's open page): anyone reads the page and the read API.
    /// `false`: both need `Authorization: Bearer TOKEN` with a token of scope read or more
    /// (`bearmon token create`). Write routes always need a write token.
    pub public: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { public: true }
    }
}

/// Everything a worker runs with.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub name: String,
    pub listen: SocketAddr,
    pub advertise: Option<String>,
    pub viewserver: String,
    pub secret: String,
    pub database: Option<String>,
    pub confirmations: usize,
    pub max_concurrent_checks: usize,
    pub dns_server: Option<String>,
    pub timing: Timing,
    pub tls: Option<TlsFiles>,
    pub smtp: Option<SmtpConfig>,
    pub twilio: Option<TwilioConfig>,
    pub alerts: AlertsConfig,
    pub http: HttpConfig,
    /// `[policy] timezone`: where timeperiods are read.
    pub policy_tz: jiff::tz::TimeZone,
    /// `[policy] low_flap_threshold`, `high_flap_threshold`.
    pub flap_thresholds: crate::policy::flap::Thresholds,
    /// `[policy]`'s event handler settings.
    pub event_handlers: crate::policy::handler::HandlerConfig,
    /// Set by `bearmon up`: the in-process nodes' metrics, served together.
    pub metrics_hub: Option<crate::metrics::Hub>,
    /// `[metrics] per_check`.
    pub per_check_metrics: bool,
}

/// Worker flags, each `None` when not given.
#[derive(Debug, Clone, Default)]
pub struct WorkerFlags {
    pub name: Option<String>,
    pub listen: Option<String>,
    pub viewserver: Option<String>,
    pub secret: Option<String>,
    pub database: Option<String>,
    pub confirmations: Option<usize>,
}

impl WorkerConfig {
    /// Merges flags over the file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the key.
    pub fn resolve(mut file: WorkerFile, flags: WorkerFlags) -> Result<Self, ConfigError> {
        file.timing.validate()?;
        secrets_from_env(&mut file.smtp, &mut file.twilio);
        crate::alert::config::validate(file.smtp.as_ref(), file.twilio.as_ref(), &file.alerts)?;
        let name = flags.name.or(file.name).ok_or(ConfigError::Missing {
            key: "name",
            flag: "name",
            env: "NAME",
        })?;
        if name.is_empty()
            || name.len() > 64
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ConfigError::Invalid {
                key: "name",
                reason: format!("{name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"),
            });
        }
        let listen = flags.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:0".into());
        let viewserver = flags.viewserver.or(file.viewserver).ok_or(ConfigError::Missing {
            key: "viewserver",
            flag: "viewserver",
            env: "VIEWSERVER",
        })?;
        let vs_url = url::Url::parse(&viewserver).map_err(|e| ConfigError::Invalid {
            key: "viewserver",
            reason: format!("{viewserver:?}: {e}"),
        })?;
        if !matches!(vs_url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid {
                key: "viewserver",
                reason: "use an http:// or https:// URL".into(),
            });
        }
        let confirmations = flags.confirmations.or(file.confirmations).unwrap_or(2);
        if !(1..=64).contains(&confirmations) {
            return Err(ConfigError::Invalid {
                key: "confirmations",
                reason: format!("{confirmations} is not in 1..=64"),
            });
        }
        let max_concurrent_checks = file.max_concurrent_checks.unwrap_or(1024);
        if max_concurrent_checks == 0 {
            return Err(ConfigError::Invalid {
                key: "max_concurrent_checks",
                reason: "must be at least 1".into(),
            });
        }
        let database = flags.database.or(file.database).filter(|d| !d.is_empty());
        if let Some(d) = &database {
            crate::db::Backend::from_url(d)
                .map_err(|e| ConfigError::Invalid { key: "database", reason: e.to_string() })?;
        }
        Ok(WorkerConfig {
            name,
            listen: parse_listen("listen", &listen)?,
            advertise: file.advertise,
            viewserver,
            secret: secret(flags.secret.or(file.secret))?,
            database,
            confirmations,
            max_concurrent_checks,
            dns_server: file.dns_server,
            timing: file.timing,
            tls: file.tls,
            smtp: file.smtp,
            twilio: file.twilio,
            alerts: file.alerts,
            http: file.http,
            policy_tz: file.policy.time_zone()?,
            flap_thresholds: file.policy.flap_thresholds()?,
            event_handlers: file.policy.handlers()?,
            metrics_hub: None,
            per_check_metrics: file.metrics.per_check,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_named() {
        let e = toml::from_str::<WorkerFile>("nmae = \"w1\"\n").unwrap_err().to_string();
        assert!(e.contains("nmae"), "{e}");
        let e = toml::from_str::<WorkerFile>("[timing]\nheartbeat = 1\n").unwrap_err().to_string();
        assert!(e.contains("heartbeat"), "{e}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let file: WorkerFile =
            toml::from_str("name = \"a\"\nviewserver = \"http://127.0.0.1:1\"\nsecret = \"file-secret\"\n")
                .unwrap();
        let flags = WorkerFlags { name: Some("b".into()), ..Default::default() };
        let c = WorkerConfig::resolve(file, flags).unwrap();
        assert_eq!(c.name, "b");
        assert_eq!(c.secret, "file-secret");
        assert_eq!(c.confirmations, 2);
    }

    #[test]
    fn bad_values_name_their_key() {
        let file: WorkerFile = toml::from_str(
            "name = \"a\"\nviewserver = \"http://x\"\nsecret = \"12345678\"\n[timing]\nheartbeat_secs = 2\ndead_after_secs = 3\n",
        )
        .unwrap();
        let e = WorkerConfig::resolve(file, WorkerFlags::default()).unwrap_err().to_string();
        assert!(e.contains("timing.dead_after_secs"), "{e}");
        let e = WorkerConfig::resolve(WorkerFile::default(), WorkerFlags::default()).unwrap_err().to_string();
        assert!(e.contains("`name`") && e.contains("BEARMON_NAME"), "{e}");
    }

    /// Every alert setting the node refuses when it builds its senders is refused here, with
    /// its key, so `check-config` agrees with the node.
    #[test]
    fn alert_settings_the_node_refuses_are_refused_with_their_key() {
        let base = "name = \"a\"\nviewserver = \"http://x\"\nsecret = \"12345678\"\n";
        for (section, key) in [
            ("[alerts]\nretry_first_secs = -1\n", "alerts.retry_first_secs"),
            ("[alerts]\nwebhook_timeout_secs = 1e300\n", "alerts.webhook_timeout_secs"),
            ("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\nadmin = \"not an address\"\n", "smtp.admin"),
            ("[smtp]\nhost = \"h\"\nfrom = \"not an address\"\n", "smtp.from"),
            ("[smtp]\nhost = \"h\"\nfrom = \"a@example.com\"\ntimeout_secs = nan\n", "smtp.timeout_secs"),
            (
                "[twilio]\naccount_sid = \"AC1\"\nauth_token = \"\"\nfrom = \"+15551234567\"\n",
                "twilio.auth_token",
            ),
            (
                "[twilio]\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+15551234567\"\ntimeout_secs = -2\n",
                "twilio.timeout_secs",
            ),
        ] {
            let file: WorkerFile = toml::from_str(&format!("{base}{section}")).unwrap();
            let e = WorkerConfig::resolve(file, WorkerFlags::default()).unwrap_err().to_string();
            assert!(e.contains(key), "{section}: {e}");
        }
        let file: ViewserverFile = toml::from_str("[alerts]\nadmin_every_secs = 0\n").unwrap();
        let e = ViewserverConfig::resolve(file, None, Some("12345678".into())).unwrap_err().to_string();
        assert!(e.contains("alerts.admin_every_secs"), "{e}");
    }

    #[test]
    fn the_policy_time_zone_is_checked() {
        let base = "name = \"a\"\nviewserver = \"http://x\"\nsecret = \"12345678\"\n";
        let ok: WorkerFile = toml::from_str(&format!("{base}[policy]\ntimezone = \"UTC\"\n")).unwrap();
        let cfg = WorkerConfig::resolve(ok, WorkerFlags::default()).unwrap();
        assert_eq!(cfg.policy_tz, jiff::tz::TimeZone::UTC);
        let bad: WorkerFile =
            toml::from_str(&format!("{base}[policy]\ntimezone = \"Mars/Olympus\"\n")).unwrap();
        let e = WorkerConfig::resolve(bad, WorkerFlags::default()).unwrap_err().to_string();
        assert!(e.contains("policy.timezone") && e.contains("Mars/Olympus"), "{e}");
    }
}
