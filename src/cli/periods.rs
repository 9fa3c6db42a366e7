//! `bearmon periods`: whether a timeperiod is active at a time and when it next changes, so
//! an operator can check an on-call rotation before trusting it. Reads the `timeperiods`
//! table and resolves it exactly as the controller does (`policy::period`).
//!
//! ```text
//! john-oncall: not active at 2008-07-04T12:00:00Z (Fri)
//!   2008-07-07T00:00:00Z  Mon  starts  (active for 5d)
//!   2008-07-12T00:00:00Z  Sat  ends    (inactive for 2d)
//! ```
//!
//! Exit code 0 when every period shown resolved; 1 when one does not parse (its error, with
//! the line number, on stderr) or the name is unknown.

use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use crate::db::Db;
use crate::policy::period::{PeriodError, Periods};
use crate::store::periods;

/// How far ahead transitions are searched.
pub const HORIZON_DAYS: u32 = 400;

/// What to show: one period or all, at which instant, how many changes, in which zone.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub name: Option<&'a str>,
    /// RFC 3339, unix seconds, or a civil date-time (read in `timezone`); None = now.
    pub at: Option<&'a str>,
    pub count: usize,
    /// An IANA name; None = UTC.
    pub timezone: Option<&'a str>,
}

/// Runs `bearmon periods`.
///
/// # Errors
/// An unreachable database, an unreadable table, a bad `--at` or `--timezone`.
pub async fn run(url: &str, q: &Query<'_>) -> anyhow::Result<ExitCode> {
    let tz = match q.timezone {
        None => TimeZone::UTC,
        Some(name) => TimeZone::get(name)
            .with_context(|| format!("--timezone {name:?} is not a known IANA time zone"))?,
    };
    let at = match q.at {
        None => Timestamp::now().as_second(),
        Some(s) => parse_time(s, &tz)?,
    };
    let db = Db::connect_migrated(url).await?;
    let rows = periods::load(&db).await.context("has `bearmon migrate` run on this database?")?;
    let (periods, errors) = Periods::build(rows.iter().map(|(n, d)| (n.as_str(), d.as_str())), tz);
    let exists = |n: &str| rows.iter().any(|(name, _)| name == n);
    let shown: Vec<&str> = match q.name {
        Some(name) if !exists(name) => {
            let known: Vec<&str> = rows.iter().map(|(n, _)| n.as_str()).collect();
            let known =
                if known.is_empty() { "none: the table is empty".to_string() } else { known.join(", ") };
            eprintln!("no timeperiod named {name:?} (known: {known})");
            return Ok(ExitCode::from(1));
        }
        Some(name) => vec![name],
        None => rows.iter().map(|(n, _)| n.as_str()).collect(),
    };
    if shown.is_empty() {
        println!("no timeperiods (the timeperiods table is empty)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    let mut first = true;
    for name in shown {
        if !periods.contains(name) {
            failed = true;
            for line in explain(name, &errors, q.name.is_some()) {
                eprintln!("{line}");
            }
            continue;
        }
        if !first {
            println!();
        }
        first = false;
        print!("{}", report(&periods, name, at, q.count));
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `--at`: RFC 3339 with an offset (`2026-12-24T18:00:00Z`), unix seconds, or a civil
/// date-time or date without one (`2026-12-24T18:00`, `2026-12-24`) read in `tz`.
///
/// # Errors
/// None of those forms.
pub fn parse_time(s: &str, tz: &TimeZone) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        Timestamp::from_second(secs).with_context(|| format!("--at {s}: out of range"))?;
        return Ok(secs);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t.as_second());
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        let z = dt.to_zoned_datetime(tz.clone()).with_context(|| format!("--at {s}"))?;
        return Ok(z.timestamp().as_second());
    }
    bail!(
        "--at {s:?}: expected RFC 3339 (2026-12-24T18:00:00Z), unix seconds, or 2026-12-24T18:00 in --timezone"
    )
}

/// One period's block: its state at `at`, then up to `count` transitions.
pub fn report(periods: &Periods, name: &str, at: i64, count: usize) -> String {
    let tz = periods.time_zone();
    let active = periods.is_active(name, at).unwrap_or(false);
    let mut out = format!(
        "{name}: {} at {} ({})\n",
        if active { "active" } else { "not active" },
        stamp(at, tz),
        weekday(at, tz)
    );
    if count == 0 {
        return out;
    }
    // One more than shown: the last one shown then knows how long its state lasts.
    let changes = periods.transitions(name, at, count + 1, HORIZON_DAYS);
    if changes.is_empty() {
        let what = if active { "always active" } else { "never active" };
        out.push_str(&format!("  {what} (no change within {HORIZON_DAYS} days)\n"));
        return out;
    }
    for (i, &(t, on)) in changes.iter().take(count).enumerate() {
        let verb = if on { "starts" } else { "ends  " };
        let lasts = match changes.get(i + 1) {
            Some(&(next, _)) => {
                format!("  ({} for {})", if on { "active" } else { "inactive" }, span(next - t))
            }
            None => String::new(),
        };
        out.push_str(&format!("  {}  {}  {verb}{lasts}\n", stamp(t, tz), weekday(t, tz)));
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// RFC 3339: UTC as `Z`, another zone with its offset at that instant.
fn stamp(secs: i64, tz: &TimeZone) -> String {
    let Ok(t) = Timestamp::from_second(secs) else { return secs.to_string() };
    if *tz == TimeZone::UTC {
        return t.to_string();
    }
    t.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn weekday(secs: i64, tz: &TimeZone) -> String {
    Timestamp::from_second(secs)
        .map(|t| t.to_zoned_datetime(tz.clone()).strftime("%a").to_string())
        .unwrap_or_default()
}

/// `5d`, `2d 17h`, `7h 30m`, `45m`, `30s`: the two largest units.
fn span(secs: i64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs.max(0);
    for (size, unit) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    parts.join(" ")
}

/// Why `name` did not resolve. A `use` or `exclude` of a row that exists but failed says
/// so; with `follow`, that row's own error comes next (and so on down the chain).
fn explain(name: &str, errors: &[(String, PeriodError)], follow: bool) -> Vec<String> {
    let failed = |n: &str| errors.iter().find(|(e, _)| e == n).map(|(_, e)| e);
    let mut out = Vec::new();
    let mut seen = vec![name.to_string()];
    let mut current = name.to_string();
    while let Some(e) = failed(&current) {
        match e {
            PeriodError::Missing { directive, name: target } if failed(target).is_some() => {
                out.push(format!("timeperiod {current:?}: {directive} names the timeperiod {target:?}, which does not parse"));
                if !follow || seen.contains(target) {
                    break;
                }
                seen.push(target.clone());
                current = target.clone();
            }
            _ => {
                out.push(format!("timeperiod {current:?}: {e}"));
                break;
            }
        }
    }
    if out.is_empty() {
        out.push(format!("timeperiod {name:?} did not resolve"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(5 * 86_400), "5d");
        assert_eq!(span(2 * 86_400 + 17 * 3_600 + 5), "2d 17h");
        assert_eq!(span(7 * 3_600 + 30 * 60), "7h 30m");
        assert_eq!(span(45 * 60), "45m");
        assert_eq!(span(30), "30s");
        assert_eq!(span(0), "0s");
    }

    #[test]
    fn times_parse_in_every_form() {
        let utc = TimeZone::UTC;
        assert_eq!(parse_time("2008-07-04T12:00:00Z", &utc).unwrap(), 1_215_172_800);
        assert_eq!(parse_time("1215172800", &utc).unwrap(), 1_215_172_800);
        assert_eq!(parse_time("2008-07-04T12:00", &utc).unwrap(), 1_215_172_800);
        assert_eq!(parse_time("2008-07-04", &utc).unwrap(), 1_215_129_600);
        assert!(parse_time("next tuesday", &utc).is_err());
    }

    #[test]
    fn a_report_names_each_change_and_how_long_it_lasts() {
        let (p, bad) =
            Periods::build([("weekdays", "monday 00:00-24:00\nfriday 09:00-17:00")], TimeZone::UTC);
        assert!(bad.is_empty());
        // Sunday 2026-12-06 12:00 UTC.
        let text = report(&p, "weekdays", 1_796_558_400, 3);
        assert_eq!(
            text,
            "weekdays: not active at 2026-12-06T12:00:00Z (Sun)\n\
             \x20 2026-12-07T00:00:00Z  Mon  starts  (active for 1d)\n\
             \x20 2026-12-08T00:00:00Z  Tue  ends    (inactive for 3d 9h)\n\
             \x20 2026-12-11T09:00:00Z  Fri  starts  (active for 8h)\n"
        );
        let (p, _) = Periods::build([("never", "")], TimeZone::UTC);
        assert!(report(&p, "never", 0, 5).contains("never active (no change within 400 days)"));
    }

    #[test]
    fn a_broken_dependency_is_named() {
        let (_, bad) = Periods::build([("a", "use b"), ("b", "mondy 00:00-24:00")], TimeZone::UTC);
        let lines = explain("a", &bad, true);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("use names the timeperiod \"b\", which does not parse"), "{lines:?}");
        assert!(lines[1].starts_with("timeperiod \"b\": line 1:"), "{lines:?}");
        assert_eq!(explain("a", &bad, false).len(), 1);
    }
}
