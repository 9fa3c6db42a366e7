//! `--record`: the run as Markdown table rows (bearmon's, then one per peer) appended to
//! the `## Runs` table of BENCHMARKS.md, so recorded runs stay in the table and not after
//! the prose that follows it.

use std::path::Path;

use serde_json::{Map, Value};

use crate::options::Args;
use crate::report::Figures;
use crate::window::quantile;

/// Appends the run's rows to the Markdown file at `path`.
pub fn append(
    path: &Path,
    a: &Args,
    f: &Figures,
    result: &Value,
    peer_results: &Map<String, Value>,
    demanded: f64,
) {
    let (secs, runs, skipped, buckets, total_cpu) = (f.secs, f.runs, f.skipped, &f.buckets, f.total_cpu);
    let row = format!(
        "| {} | {} | {} | {}s | {:.0} | {:.0} | {} | {} | {} | {:.1} % | {:.3} | {:.2} | {:.0} | {:.0} | {:.0} | {} |\n",
        time_now(),
        if a.label.is_empty() { "bearmon" } else { &a.label },
        a.checks,
        a.interval,
        a.checks as f64 / a.interval as f64,
        runs / secs,
        fmt_opt(quantile(buckets, 0.5)),
        fmt_opt(quantile(buckets, 0.99)),
        skipped,
        total_cpu / secs / 2.0 * 100.0,
        if runs > 0.0 { total_cpu / runs * 1000.0 } else { f64::NAN },
        f.xacts as f64 / secs,
        f.page_ms,
        f.offline_ms,
        f.ab.unwrap_or(f64::NAN),
        result["roles"]
            .as_object()
            .map(|r| r
                .iter()
                .map(|(k, v)| format!("{k}: {:.0} B/check", v["rss_bytes_per_check"].as_f64().unwrap_or(0.0)))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
    );
    let mut rows = row;
    for (peer, v) in peer_results {
        let label = if peer == "blackbox" {
            "blackbox_exporter (same run)"
        } else {
            "Nagios 4 + check_http (same run)"
        };
        let row = format!(
            "| {} | {label} | {} | {}s | {:.0} | {:.0} | - | - | - | {:.1} % | {:.3} | - | - | - | - | bearmon/peer CPU per run: {:.3} |\n",
            time_now(),
            a.checks,
            a.interval,
            demanded,
            v["executions_per_s"].as_f64().unwrap_or(f64::NAN),
            v["cpu_share_of_2_cores"].as_f64().unwrap_or(f64::NAN) * 100.0,
            v["cpu_ms_per_run"].as_f64().unwrap_or(f64::NAN),
            v["bearmon_cpu_per_run_ratio"].as_f64().unwrap_or(f64::NAN),
        );
        rows.push_str(&row);
    }
    let text = std::fs::read_to_string(path).unwrap_or_default();
    std::fs::write(path, insert_rows(&text, &rows)).unwrap();
}

/// `text` with `rows` added at the end of the table under `## Runs` (at the end of the
/// text when there is none), so recorded rows stay in the table, not after the prose.
fn insert_rows(text: &str, rows: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let Some(heading) = lines.iter().position(|l| l.trim() == "## Runs") else {
        return format!("{text}{rows}");
    };
    let Some(first) = (heading..lines.len()).find(|&i| lines[i].starts_with('|')) else {
        return format!("{text}{rows}");
    };
    let end = (first..lines.len()).find(|&i| !lines[i].starts_with('|')).unwrap_or(lines.len());
    let mut out: String = lines[..end].iter().map(|l| format!("{l}\n")).collect();
    out.push_str(rows);
    out.extend(lines[end..].iter().map(|l| format!("{l}\n")));
    out
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("≤ {v} s"))
}

fn time_now() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        [..16]
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::insert_rows;

    #[test]
    fn recorded_rows_go_into_the_runs_table_not_after_the_prose() {
        let text = "# B\n\n## Runs\n\n| a |\n|---|\n| 1 |\n\nProse.\n";
        assert_eq!(insert_rows(text, "| 2 |\n"), "# B\n\n## Runs\n\n| a |\n|---|\n| 1 |\n| 2 |\n\nProse.\n");
        assert_eq!(insert_rows("no table\n", "| 2 |\n"), "no table\n| 2 |\n");
    }
}
