//! `[metrics] per_check = true`: every check's state and last latency as Prometheus series on
//! the controller's `/metrics` (`bearmon_check_up{check_id,name}`,
//! `bearmon_check_latency_seconds{check_id,name}`). Off by default: at 100,000 checks a scrape
//! is 200,000 series (BENCHMARKS.md has the cost).

use std::fmt::Write as _;

use super::Controller;
use crate::decide::Status;
use crate::util::lock;

/// A label value escaped as the exposition formats want it.
fn escaped(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Controller {
    /// The per-check families as OpenMetrics text. Invalid checks have no series: they have
    /// no state (`bearmon_row_problems` and the API name them).
    pub fn per_check_metrics(&self) -> String {
        let inner = lock(&self.inner);
        let mut up = String::with_capacity(inner.checks.len() * 64);
        let mut latency = String::with_capacity(inner.checks.len() * 72);
        for (id, st) in &inner.checks {
            if st.def.spec.is_err() {
                continue;
            }
            let labels = format!("check_id=\"{id}\",name=\"{}\"", escaped(&st.def.name));
            let value = u8::from(st.decider.status() == Status::Online);
            let _ = writeln!(up, "bearmon_check_up{{{labels}}} {value}");
            if let Some(last) = &st.last {
                let _ = writeln!(
                    latency,
                    "bearmon_check_latency_seconds{{{labels}}} {}",
                    last.latency_ms / 1000.0
                );
            }
        }
        drop(inner);
        format!(
            "# HELP bearmon_check_up 1 while the check is online (its decided state), 0 while offline.\n\
             # TYPE bearmon_check_up gauge\n{up}\
             # HELP bearmon_check_latency_seconds The latency of the check's last result.\n\
             # TYPE bearmon_check_latency_seconds gauge\n{latency}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escaped("a \"b\"\\\nc"), "a \\\"b\\\"\\\\\\nc");
    }
}
