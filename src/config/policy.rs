//! `[policy]` of a worker's config: the time zone timeperiods are read in, flap detection's
//! thresholds, event handlers. Read by every worker, used by the one that controls.

use serde::Deserialize;

use super::ConfigError;

/// `[policy]`: how the notification policy reads time.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The IANA time zone timeperiods are read in (`Europe/Paris`); UTC by default.
    pub timezone: Option<String>,
    /// Flap detection's thresholds (percent state change) for checks without their own:
    /// Shinken's 20 and 30 by default.
    pub low_flap_threshold: Option<f64>,
    pub high_flap_threshold: Option<f64>,
    /// A command line or `https://` URL run on every check's state changes, before the
    /// check's own `event_handler`.
    pub global_event_handler: Option<String>,
    /// Seconds an event handler may run before its process group is killed (30).
    pub event_handler_timeout: Option<u64>,
    /// `false` turns every event handler off (Nagios's `enable_event_handlers`).
    pub enable_event_handlers: Option<bool>,
}

impl PolicyConfig {
    /// The event handler settings, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key of a bad value.
    pub fn handlers(&self) -> Result<crate::policy::handler::HandlerConfig, ConfigError> {
        let d = crate::policy::handler::HandlerConfig::default();
        let timeout_secs = self.event_handler_timeout.unwrap_or(d.timeout_secs);
        if !(1..=3600).contains(&timeout_secs) {
            return Err(ConfigError::Invalid {
                key: "policy.event_handler_timeout",
                reason: format!("{timeout_secs} is not between 1 and 3600 seconds"),
            });
        }
        let global = self.global_event_handler.clone().filter(|g| !g.trim().is_empty());
        if let Some(g) = &global
            && g.trim_start().starts_with("http://")
        {
            return Err(ConfigError::Invalid {
                key: "policy.global_event_handler",
                reason: "an event handler URL must be https://, not http://".into(),
            });
        }
        Ok(crate::policy::handler::HandlerConfig {
            enabled: self.enable_event_handlers.unwrap_or(true),
            global,
            timeout_secs,
        })
    }

    /// The flap thresholds, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `policy.low_flap_threshold` for thresholds outside
    /// 0..=100 or in the wrong order.
    pub fn flap_thresholds(&self) -> Result<crate::policy::flap::Thresholds, ConfigError> {
        let d = crate::policy::flap::Thresholds::default();
        crate::policy::flap::Thresholds::new(
            self.low_flap_threshold.unwrap_or(d.low),
            self.high_flap_threshold.unwrap_or(d.high),
        )
        .map_err(|reason| ConfigError::Invalid { key: "policy.low_flap_threshold", reason })
    }

    /// The time zone, checked.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `policy.timezone` for a zone this system does not know.
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone, ConfigError> {
        match self.timezone.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(jiff::tz::TimeZone::UTC),
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|e| ConfigError::Invalid {
                key: "policy.timezone",
                reason: format!("{name:?} is not a time zone this system knows ({e}); use an IANA name such as Europe/Paris"),
            }),
        }
    }
}
