//! Event handlers: which commands run on a state change, in which order, with which
//! Nagios macros. Pure: the controller decides when (every SOFT problem attempt, the first
//! HARD problem or recovery state, a recovery from a SOFT problem: the seed's "When Are Event
//! Handlers Executed?") and sends the commands to the worker holding the check, which runs
//! them (`worker/handler.rs`).
//!
//! A handler is a command line (split like a shell would, without running one, then each
//! word's `$MACRO$`s replaced, so a macro's value stays one argument) or an `https://` URL
//! that receives the macros as JSON. The global handler (`[policy] global_event_handler`)
//! runs before the check's own (`options.event_handler`), as the seed's "Event Handler
//! Execution Order" says; `[policy] enable_event_handlers = false` turns both off, and a
//! check's `event_handler_enabled: false` its own.

use crate::check::State;

/// Nagios's default `event_handler_timeout`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// `[policy]`'s event handler settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerConfig {
    pub enabled: bool,
    pub global: Option<String>,
    pub timeout_secs: u64,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig { enabled: true, global: None, timeout_secs: DEFAULT_TIMEOUT_SECS }
    }
}

/// One state change a handler hears of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: State,
    pub hard: bool,
    pub attempt: u32,
    pub max_attempts: u32,
    /// The state before this change.
    pub last_state: State,
    /// The last result's message (scrubbed of the check's secrets).
    pub output: String,
}

/// The handlers to run for one change of a check, in order: (`"global"` or `"check"`, the
/// command line or URL).
pub fn commands<'a>(
    cfg: &'a HandlerConfig,
    own: Option<&'a str>,
    own_enabled: bool,
) -> Vec<(&'static str, &'a str)> {
    if !cfg.enabled {
        return Vec::new();
    }
    let global = cfg.global.as_deref().filter(|g| !g.trim().is_empty()).map(|g| ("global", g));
    let own = own.filter(|_| own_enabled).map(|o| ("check", o));
    global.into_iter().chain(own).collect()
}

/// The macros of a change of check `id` named `name`, without their `$`s: each is also
/// exported as the environment variable `NAGIOS_<NAME>`.
pub fn macros(id: i64, name: &str, c: &Change, now_s: i64) -> Vec<(String, String)> {
    let upper = |s: State| s.as_str().to_uppercase();
    [
        ("HOSTNAME", name.to_string()),
        ("SERVICEDESC", name.to_string()),
        ("SERVICEID", id.to_string()),
        ("SERVICESTATE", upper(c.state)),
        ("SERVICESTATEID", c.state.code().to_string()),
        ("LASTSERVICESTATE", upper(c.last_state)),
        ("LASTSERVICESTATEID", c.last_state.code().to_string()),
        ("SERVICESTATETYPE", if c.hard { "HARD" } else { "SOFT" }.to_string()),
        ("SERVICEATTEMPT", c.attempt.to_string()),
        ("MAXSERVICEATTEMPTS", c.max_attempts.to_string()),
        ("SERVICEOUTPUT", c.output.clone()),
        ("TIMET", now_s.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Replaces every `$NAME$` of `macros` in `word`; `$$` is a `$`; an unknown macro is left as
/// written (Nagios leaves it empty: kept here so a typo shows in the handler's output).
pub fn substitute(word: &str, macros: &[(String, String)]) -> String {
    let mut out = String::with_capacity(word.len());
    let mut rest = word;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('$') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        match macros.iter().find(|(k, _)| k == name) {
            _ if name.is_empty() => out.push('$'),
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(state: State, hard: bool, attempt: u32) -> Change {
        Change {
            state,
            hard,
            attempt,
            max_attempts: 4,
            last_state: State::Ok,
            output: "down: refused".into(),
        }
    }

    #[test]
    fn the_global_handler_runs_before_the_checks_own() {
        let cfg = HandlerConfig { global: Some("/g $SERVICESTATE$".into()), ..HandlerConfig::default() };
        assert_eq!(commands(&cfg, Some("/own"), true), [("global", "/g $SERVICESTATE$"), ("check", "/own")]);
        assert_eq!(commands(&cfg, Some("/own"), false), [("global", "/g $SERVICESTATE$")]);
        let off = HandlerConfig { enabled: false, ..cfg };
        assert!(commands(&off, Some("/own"), true).is_empty(), "enable_event_handlers = false stops both");
        assert!(commands(&HandlerConfig::default(), None, true).is_empty());
    }

    #[test]
    fn the_seeds_restart_httpd_arguments() {
        // command_line restart-httpd $SERVICESTATE$ $SERVICESTATETYPE$ $SERVICEATTEMPT$
        let m = macros(7, "HTTP", &change(State::Critical, false, 3), 0);
        let words: Vec<String> = ["$SERVICESTATE$", "$SERVICESTATETYPE$", "$SERVICEATTEMPT$"]
            .iter()
            .map(|w| substitute(w, &m))
            .collect();
        assert_eq!(words, ["CRITICAL", "SOFT", "3"]);
        let m = macros(7, "HTTP", &change(State::Critical, true, 4), 0);
        assert_eq!(substitute("$SERVICESTATETYPE$/$SERVICEATTEMPT$", &m), "HARD/4");
    }

    #[test]
    fn a_macro_value_with_spaces_stays_one_word_and_odd_dollars_survive() {
        let m = macros(7, "web 1", &change(State::Warning, false, 1), 0);
        assert_eq!(substitute("--desc=$SERVICEDESC$", &m), "--desc=web 1");
        assert_eq!(substitute("$$HOME $NOPE$ 5$", &m), "$HOME $NOPE$ 5$");
        assert_eq!(substitute("$SERVICEOUTPUT$", &m), "down: refused");
    }
}
