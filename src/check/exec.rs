//! `exec`: runs a Nagios plugin unchanged, so the thousands of existing `check_*` programs
//! (Debian's monitoring-plugins, a site's own scripts) work as bearmon checks.
//!
//! The plugin guidelines' contract: the exit code is the state (0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN), the first line of stdout is the message, `|` starts performance data
//! ([`super::perfdata`]). What bearmon adds, and why:
//! - No shell. `command` is the argv; `command_line` is split like a POSIX shell would
//!   (quotes, backslashes) but nothing is expanded or run by a shell, so check data cannot
//!   inject a second command.
//! - An exit code outside 0..3 and a death by signal are UNKNOWN (the guidelines: "anything
//!   else is UNKNOWN"), with the code or the signal in the message, as Nagios does.
//! - A plugin still running at the deadline has its whole process group killed
//!   ([`super::process`]) and the result is CRITICAL, "exec check timed out after N s": the
//!   other kinds count a timeout as offline, and Nagios's `service_check_timeout_state`
//!   defaults to critical.
//! - A plugin that cannot be started (missing, not executable) is UNKNOWN: the worker's
//!   setup is wrong, not the target, so it is no vote.
//! - Output is read up to 64 KiB ([`MAX_OUTPUT`]); the rest is drained and dropped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant as StdInstant};

use serde::Deserialize;
use tokio::time::Instant;

use super::perfdata::parse_output;
use super::process::{Exit, run_process};
use super::{Outcome, State};

/// How much of a plugin's output is kept (Nagios 4 keeps 8 KiB of a check's output; long
/// output is read here only to find performance data after it).
pub const MAX_OUTPUT: usize = 64 * 1024;

pub(crate) const KEYS: &[&str] = &["command", "command_line", "timeout", "env"];

/// Nagios's message for a plugin that printed nothing.
const NO_OUTPUT: &str = "(no output returned from plugin)";

/// `checks.data` of an `exec` check: exactly one of `command` and `command_line`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ExecParams {
    /// The plugin and its arguments, one string each: `["/usr/lib/nagios/plugins/check_dummy", "1", "hi"]`.
    pub command: Option<Vec<String>>,
    /// The same as one line, split with POSIX shell quoting (no shell runs it):
    /// `/usr/lib/nagios/plugins/check_http -H example.com -w '1,2'`.
    pub command_line: Option<String>,
    pub timeout: i64,
    /// Extra environment variables for the plugin, on top of the worker's own.
    pub env: BTreeMap<String, String>,
}

impl ExecParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        let argv = self.argv()?;
        if let Some(bad) = argv.iter().find(|a| a.contains('\0')) {
            let field = if self.command.is_some() { "command" } else { "command_line" };
            return Err((field, format!("argument {bad:?} contains a NUL byte")));
        }
        for (k, v) in &self.env {
            if k.is_empty() || k.contains(['=', '\0']) {
                return Err(("env", format!("{k:?} is not a valid environment variable name")));
            }
            if v.contains('\0') {
                return Err(("env", format!("the value of {k:?} contains a NUL byte")));
            }
        }
        Ok(())
    }

    /// The plugin's argv, from `command` or split from `command_line`.
    ///
    /// # Errors
    /// `(field, reason)`: neither or both given, an empty command, an unterminated quote.
    pub fn argv(&self) -> Result<Vec<String>, (&'static str, String)> {
        match (&self.command, &self.command_line) {
            (Some(_), Some(_)) => Err(("command", "give either command or command_line, not both".into())),
            (None, None) => Err(("command", "missing: give command (a list) or command_line".into())),
            (Some(argv), None) => match argv.first() {
                Some(p) if !p.trim().is_empty() => Ok(argv.clone()),
                _ => Err(("command", "the program (the first item) is missing".into())),
            },
            (None, Some(line)) => match shlex::split(line) {
                None => Err(("command_line", "unterminated quote or trailing backslash".into())),
                Some(argv) if argv.is_empty() => Err(("command_line", "empty command".into())),
                Some(argv) => Ok(argv),
            },
        }
    }

    /// Runs the plugin with the worker's environment, this check's `env`, then `extra` (the
    /// `NAGIOS_*` macros a caller knows; last, so a check cannot fake them), until `deadline`
    /// (`limit` after the start, for the message).
    pub(crate) async fn run(
        &self,
        extra: &[(String, String)],
        deadline: Instant,
        limit: Duration,
    ) -> Outcome {
        let started = StdInstant::now();
        let argv = match self.argv() {
            Ok(a) => a,
            // validate() refused these already; a spec built by hand may still get here.
            Err((field, reason)) => return Outcome::error(format!("{field}: {reason}"), started.elapsed()),
        };
        let env: Vec<(String, String)> =
            self.env.iter().map(|(k, v)| (k.clone(), v.clone())).chain(extra.iter().cloned()).collect();
        let result = run_process(&argv, &env, deadline, MAX_OUTPUT).await;
        let latency = started.elapsed();
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(program = %argv[0], error = %e, "exec check could not run its plugin");
                return Outcome::error(e.to_string(), latency);
            }
        };
        if out.timed_out {
            tracing::debug!(program = %argv[0], "exec check timed out; its process group was killed");
            return Outcome::offline(format!("exec check timed out after {} s", limit.as_secs()), latency);
        }
        let mut text = out.output.as_str();
        if out.truncated {
            // The last line was cut: drop it, so no half perfdata item is read as a value.
            // A first line cut short is still the message.
            if let Some(nl) = text.rfind('\n') {
                text = &text[..nl];
            }
            tracing::debug!(program = %argv[0], "plugin output over {MAX_OUTPUT} bytes was cut");
        }
        let parsed = parse_output(text);
        let message = if parsed.message.is_empty() { NO_OUTPUT.to_string() } else { parsed.message };
        let (state, message) = match out.exit {
            Some(Exit::Code(c @ 0..=3)) => (State::from_exit_code(i64::from(c)), message),
            Some(Exit::Code(c)) => {
                (State::Unknown, format!("(return code of {c} is out of bounds) {message}"))
            }
            Some(Exit::Signal(s)) => {
                (State::Unknown, format!("(plugin killed by {}) {message}", Exit::signal_name(s)))
            }
            None => (State::Unknown, format!("(plugin could not be reaped) {message}")),
        };
        let mut outcome = Outcome::with_state(state, message, latency);
        if !parsed.perfdata.is_empty() {
            outcome.perfdata = Some(parsed.perfdata);
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(v: serde_json::Value) -> ExecParams {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn command_line_is_split_like_a_shell() {
        let p = params(
            serde_json::json!({"command_line": r#"/usr/lib/nagios/plugins/check_http -H host -w '1,2' -u "/a b" x\ y"#}),
        );
        assert_eq!(
            p.argv().unwrap(),
            ["/usr/lib/nagios/plugins/check_http", "-H", "host", "-w", "1,2", "-u", "/a b", "x y"]
        );
        // Nothing is expanded: no shell runs it.
        let p = params(serde_json::json!({"command_line": "/bin/echo $HOME; rm -rf / `id`"}));
        assert_eq!(p.argv().unwrap(), ["/bin/echo", "$HOME;", "rm", "-rf", "/", "`id`"]);
        let p = params(serde_json::json!({"command": ["/bin/true", "a b"]}));
        assert_eq!(p.argv().unwrap(), ["/bin/true", "a b"]);
    }

    /// One row per rejected form: (data, field).
    #[test]
    fn bad_params_name_the_field() {
        let table: &[(serde_json::Value, &str)] = &[
            (serde_json::json!({}), "command"),
            (serde_json::json!({"command": [], }), "command"),
            (serde_json::json!({"command": [""]}), "command"),
            (serde_json::json!({"command": ["/bin/true"], "command_line": "/bin/true"}), "command"),
            (serde_json::json!({"command_line": "/bin/echo 'open"}), "command_line"),
            (serde_json::json!({"command_line": "   "}), "command_line"),
            (serde_json::json!({"command_line": "/bin/echo \"x"}), "command_line"),
            (serde_json::json!({"command": ["/bin/true", "a\u{0}b"]}), "command"),
            (serde_json::json!({"command_line": "/bin/true", "env": {"A=B": "x"}}), "env"),
            (serde_json::json!({"command_line": "/bin/true", "env": {"": "x"}}), "env"),
        ];
        for (data, field) in table {
            let err = params(data.clone()).validate().unwrap_err();
            assert_eq!(err.0, *field, "{data}: {err:?}");
        }
        assert!(
            params(serde_json::json!({"command_line": "/bin/true", "env": {"A": "1"}})).validate().is_ok()
        );
    }

    #[test]
    fn parsed_through_check_spec() {
        let data = r#"{"command_line": "/bin/true", "timeout": 5, "env": {"A": "1"}, "typo": 1}"#;
        let parsed = crate::check::CheckSpec::parse(7, "exec", data).unwrap();
        assert_eq!(parsed.spec.kind(), "exec");
        assert_eq!(parsed.spec.timeout(), Duration::from_secs(5));
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        let e = crate::check::CheckSpec::parse(7, "exec", r#"{"command": "/bin/true"}"#).unwrap_err();
        assert_eq!(e.field, "command");
        let e = crate::check::CheckSpec::parse(7, "exec", r#"{"env": {"A": 1}, "command_line": "x"}"#)
            .unwrap_err();
        assert_eq!(e.field, "env.A");
    }
}
