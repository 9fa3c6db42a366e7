//! `[metrics] per_check = true`: every check's state and last latency as Prometheus series on
//! the controller's `/metrics` (`bearmon_check_up{check_id,name}`,
//! `bearmon_check_latency_seconds{check_id,name}`). Off by default: at 100,000 checks a scrape
//! is 200,000 series (BENCHMARKS.md has the cost).

use std::fmt::Write as _;

use super::Controller;
use crate::decide::Status;
use crate::metrics::escape_label;
use crate::util::lock;

impl Controller {
    /// The per-check families (gauges: the same text in both formats). Invalid checks have no series: they have
    /// no state (`/api/problems` names them).
    pub fn per_check_metrics(&self) -> String {
        // The lock is held only to copy what the lines need (the definitions are shared):
        // results keep coming in while the text is written.
        let rows: Vec<_> = {
            let inner = lock(&self.inner);
            let last_ms = |st: &super::state::CheckState| st.last.as_ref().map(|l| l.latency_ms);
            inner
                .checks
                .iter()
                .map(|(_, st)| st)
                .filter(|st| st.def.spec.is_ok())
                .map(|st| (st.def.clone(), st.decider.status() == Status::Online, last_ms(st)))
                .collect()
        };
        let mut up = String::with_capacity(rows.len() * 64);
        let mut latency = String::with_capacity(rows.len() * 72);
        for (def, online, latency_ms) in &rows {
            let labels = format!("check_id=\"{}\",name=\"{}\"", def.id, escape_label(&def.name));
            let _ = writeln!(up, "bearmon_check_up{{{labels}}} {}", u8::from(*online));
            if let Some(ms) = latency_ms {
                let _ = writeln!(latency, "bearmon_check_latency_seconds{{{labels}}} {}", ms / 1000.0);
            }
        }
        format!(
            "# HELP bearmon_check_up 1 while the check is online (its decided state), 0 while offline.\n\
             # TYPE bearmon_check_up gauge\n{up}\
             # HELP bearmon_check_latency_seconds The latency of the check's last result.\n\
             # TYPE bearmon_check_latency_seconds gauge\n{latency}"
        )
    }
}
