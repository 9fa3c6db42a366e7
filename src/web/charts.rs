//! The status page's figures and charts, pure: uptime percentages from the hourly rollups,
//! the heartbeat strip of the last results, the response-time chart with its axes, the
//! availability bars per hour, relative times. Every function is handed the time (unix
//! seconds), so the tests draw them without a clock. The SVG is inline, with a `<title>` on
//! each mark for the hover text: nothing is fetched from elsewhere.

use std::fmt::Write as _;

use super::page::esc;
use super::view::SampleView;
use crate::check::Verdict;
use crate::store::Rollup;

pub const GREEN: &str = "#2da44e";
pub const RED: &str = "#cf222e";
const AMBER: &str = "#bf8700";
const EMPTY: &str = "#eaeef2";
const MUTED: &str = "#57606a";

/// `YYYY-MM-DD HH:MM:SS UTC`, and the RFC 3339 form for `datetime`.
fn utc(secs: i64) -> Option<(String, String)> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    let (y, mo, d, h, mi, s) = (t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    Some((
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
    ))
}

/// `HH:MM` (UTC) for an axis label, `HH:MM:SS` when `seconds`.
fn clock(secs: i64, seconds: bool) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs).map_or_else(
        |_| "?".into(),
        |t| match seconds {
            true => format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
            false => format!("{:02}:{:02}", t.hour(), t.minute()),
        },
    )
}

fn hh_mm(secs: i64) -> String {
    clock(secs, false)
}

/// Unix seconds of an RFC 3339 time.
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

/// "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago" ("in 3 min" for the future).
pub fn ago(at: i64, now: i64) -> String {
    let d = now - at;
    let n = d.abs();
    let amount = if n < 60 {
        format!("{n} s")
    } else if n < 3600 {
        format!("{} min", n / 60)
    } else if n < 86_400 {
        format!("{} h", n / 3600)
    } else {
        format!("{} d", n / 86_400)
    };
    if n < 5 {
        "just now".into()
    } else if d > 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A relative time with the exact UTC time on hover.
pub fn time_tag(at: i64, now: i64) -> String {
    match utc(at) {
        Some((human, machine)) => {
            format!("<time datetime=\"{machine}\" title=\"{human}\">{}</time>", ago(at, now))
        }
        None => String::new(),
    }
}

/// [`time_tag`] of an RFC 3339 text, the text itself when it does not parse.
pub fn time_tag_str(at: &str, now: i64) -> String {
    parse_time(at).map_or_else(|| esc(at), |t| time_tag(t, now))
}

/// Percent of runs that succeeded in the `hours` hours ending with the current one (that of
/// `now`), from the hourly rollups; `None` when nothing ran then.
pub fn uptime(rollups: &[Rollup], now: i64, hours: i64) -> Option<f64> {
    let current = now.div_euclid(3600) * 3600;
    let first = current - (hours - 1) * 3600;
    let (runs, failures) = rollups
        .iter()
        .filter(|r| r.hour >= first && r.hour <= current)
        .fold((0u64, 0u64), |(n, f), r| (n + u64::from(r.runs), f + u64::from(r.failures.min(r.runs))));
    (runs > 0).then(|| 100.0 * (runs - failures) as f64 / runs as f64)
}

/// A percentage for people: never rounded up to 100 when something failed, never down to 0
/// when something succeeded ("99.9 %", "50.0 %", "100 %").
pub fn percent(p: f64) -> String {
    if p >= 100.0 {
        return "100 %".into();
    }
    // A hair of slack so that 99.95 stored as 99.949999… still reads 99.95.
    let tenths = (p * 10.0 + 1e-9).floor() / 10.0;
    if tenths <= 0.0 && p > 0.0 {
        return format!("{:.2} %", (p * 100.0 - 1e-9).ceil() / 100.0);
    }
    if tenths >= 99.9 {
        return format!("{:.2} %", (p * 100.0 + 1e-9).floor() / 100.0);
    }
    format!("{tenths:.1} %")
}

fn verdict_colour(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Online => (GREEN, "up"),
        Verdict::Offline => (RED, "down"),
        Verdict::Error => (AMBER, "not run (worker error)"),
    }
}

/// The last results as a strip of bars, newest on the right, one slot per result up to
/// `slots` (empty slots grey): green up, red down, amber when the worker could not run it.
/// Each bar's hover says when, what and how fast; `last_message` (the newest result's
/// message: samples keep none) goes on the newest bar.
pub fn heartbeat(samples: &[SampleView], last_message: Option<&str>, slots: usize, w: f64, h: f64) -> String {
    let slots = slots.max(1);
    let shown = &samples[samples.len().saturating_sub(slots)..];
    let step = w / slots as f64;
    let bw = (step - 2.0).max(1.0);
    let mut out = format!(
        "<svg class=\"chart beats\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"last {} results: {} down\">",
        shown.len(),
        shown.iter().filter(|s| s.verdict == Verdict::Offline).count()
    );
    let pad = slots - shown.len();
    for i in 0..pad {
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"2\" width=\"{bw:.1}\" height=\"{:.1}\" rx=\"1\" fill=\"{EMPTY}\"/>",
            i as f64 * step,
            h - 4.0
        );
    }
    for (i, s) in shown.iter().enumerate() {
        let (fill, what) = verdict_colour(s.verdict);
        let when = utc(i64::from(s.at)).map(|u| u.0).unwrap_or_default();
        let msg = match last_message.filter(|m| i + 1 == shown.len() && !m.is_empty()) {
            Some(m) => format!(" · {}", esc(m)),
            None => String::new(),
        };
        let _ = write!(
            out,
            "<rect class=\"beat {what}\" x=\"{:.1}\" y=\"2\" width=\"{bw:.1}\" height=\"{:.1}\" rx=\"1\" fill=\"{fill}\"><title>{when} · {what} · {:.0} ms{msg}</title></rect>",
            (pad + i) as f64 * step,
            h - 4.0,
            s.latency_ms
        );
    }
    out.push_str("</svg>");
    out
}

/// A round upper bound for an axis: 1, 2 or 5 times a power of ten.
pub fn nice_max(v: f64) -> f64 {
    if v <= 1.0 || v.is_nan() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|c| *c >= v).unwrap_or(10.0 * mag)
}

/// Margins of the charts with axes: room for "1000 ms" on the left, times below.
const LEFT: f64 = 52.0;
const BOTTOM: f64 = 18.0;
const TOP: f64 = 6.0;

fn no_data(w: f64, h: f64, what: &str) -> String {
    format!(
        "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{what}\"><text x=\"4\" y=\"{}\" fill=\"{MUTED}\" font-size=\"11\">{what}</text></svg>",
        h / 2.0 + 4.0
    )
}

/// Response time of the last results: ms on the y axis, UTC times on the x axis, failures
/// as red dots, every point with its time and latency on hover.
pub fn latency_chart(samples: &[SampleView], w: f64, h: f64) -> String {
    if samples.is_empty() {
        return no_data(w, h, "no results yet");
    }
    let t0 = i64::from(samples[0].at);
    let t1 = i64::from(samples[samples.len() - 1].at).max(t0 + 1);
    let top = nice_max(samples.iter().map(|s| f64::from(s.latency_ms)).fold(0.0, f64::max));
    let (pw, ph) = (w - LEFT - 8.0, h - TOP - BOTTOM);
    let x = |t: i64| LEFT + (t - t0) as f64 / (t1 - t0) as f64 * pw;
    let y = |ms: f64| TOP + ph - ms.min(top) / top * ph;
    let mut out = format!(
        "<svg class=\"chart latency\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"response time in ms, up to {top:.0} ms\" font-size=\"10\" fill=\"{MUTED}\">"
    );
    for frac in [0.0, 0.5, 1.0] {
        let yy = y(top * frac);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"{EMPTY}\"/><text class=\"y\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} ms</text>",
            LEFT + pw,
            LEFT - 4.0,
            yy + 3.0,
            top * frac
        );
    }
    // Start, middle and end times (UTC), with seconds over a short span; a label equal to
    // the one before it is left out.
    let mut shown_label = String::new();
    for frac in [0.0, 0.5, 1.0] {
        let t = t0 + ((t1 - t0) as f64 * frac) as i64;
        let label = clock(t, t1 - t0 < 600);
        if label == shown_label {
            continue;
        }
        let anchor = ["start", "middle", "end"][(frac * 2.0) as usize];
        let _ = write!(
            out,
            "<text class=\"x\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text>",
            x(t),
            h - 4.0
        );
        shown_label = label;
    }
    let _ = write!(
        out,
        "<text class=\"x\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">UTC</text>",
        w - 2.0,
        h - 4.0 - 10.0
    );
    let line: Vec<String> = samples
        .iter()
        .map(|s| format!("{:.1},{:.1}", x(i64::from(s.at)), y(f64::from(s.latency_ms))))
        .collect();
    let _ = write!(
        out,
        "<polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"{}\"/>",
        line.join(" ")
    );
    for s in samples {
        let (fill, what) = verdict_colour(s.verdict);
        let r = if s.verdict == Verdict::Online { 2.0 } else { 3.0 };
        let when = utc(i64::from(s.at)).map(|u| u.0).unwrap_or_default();
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{fill}\"><title>{when} · {what} · {:.0} ms</title></circle>",
            x(i64::from(s.at)),
            y(f64::from(s.latency_ms)),
            s.latency_ms
        );
    }
    out.push_str("</svg>");
    out
}

/// Availability per hour for the `hours` hours ending with the current one: each hour that
/// ran a check is a full-height bar, red from the bottom for its share of failures (at least
/// 3 px when anything failed, so a fully-down hour is a full red bar), green above; the hour,
/// its percent and p95 latency on hover; hours without runs stay grey.
pub fn availability_chart(hourly: &[Rollup], now: i64, hours: i64, w: f64, h: f64) -> String {
    if hourly.iter().all(|r| r.runs == 0) {
        return no_data(w, h, "no hourly data yet");
    }
    let current = now.div_euclid(3600) * 3600;
    let first = current - (hours - 1) * 3600;
    let (pw, ph) = (w - LEFT - 8.0, h - TOP - BOTTOM);
    let step = pw / hours as f64;
    let bw = (step - 1.0).max(1.0);
    let mut out = format!(
        "<svg class=\"chart avail\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"availability per hour, last {hours} h\" font-size=\"10\" fill=\"{MUTED}\">\
         <text class=\"y\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">100 %</text><text class=\"y\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0 %</text>",
        LEFT - 4.0,
        TOP + 8.0,
        LEFT - 4.0,
        TOP + ph
    );
    for i in 0..hours {
        let hour = first + i * 3600;
        let x = LEFT + i as f64 * step;
        if i % 6 == 0 || i == hours - 1 {
            let _ = write!(out, "<text class=\"x\" x=\"{x:.1}\" y=\"{:.1}\">{}</text>", h - 4.0, hh_mm(hour));
        }
        let (runs, failures, p95) =
            hourly.iter().filter(|r| r.hour == hour).fold((0u32, 0u32, 0f64), |(n, f, p), r| {
                (n + r.runs, f + r.failures.min(r.runs), p.max(r.latency_p95_ms))
            });
        let when = utc(hour).map(|u| u.0).unwrap_or_default();
        let when = when.strip_suffix(":00 UTC").map_or(when.clone(), |s| format!("{s} UTC"));
        if runs == 0 {
            let _ = write!(
                out,
                "<g class=\"hour none\"><title>{when}: no runs</title><rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{ph:.1}\" fill=\"{EMPTY}\"/></g>",
                TOP
            );
            continue;
        }
        let share = f64::from(failures) / f64::from(runs);
        let red = if failures > 0 { (share * ph).max(3.0) } else { 0.0 };
        let up = 100.0 * f64::from(runs - failures) / f64::from(runs);
        let _ = write!(
            out,
            "<g class=\"hour\"><title>{when}: {} up ({failures} of {runs} runs failed, p95 {p95:.0} ms)</title>",
            percent(up)
        );
        if red < ph {
            let _ = write!(
                out,
                "<rect class=\"up\" x=\"{x:.1}\" y=\"{TOP:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{GREEN}\"/>",
                ph - red
            );
        }
        if red > 0.0 {
            let _ = write!(
                out,
                "<rect class=\"down\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{red:.1}\" fill=\"{RED}\"/>",
                TOP + ph - red
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roll(hour: i64, runs: u32, failures: u32) -> Rollup {
        Rollup {
            check_id: 1,
            hour,
            runs,
            failures,
            latency_avg_ms: 10.0,
            latency_p50_ms: 10.0,
            latency_p95_ms: 20.0,
            latency_max_ms: 30.0,
        }
    }

    const NOW: i64 = 1_765_000_000; // an hour's 46th minute

    #[test]
    fn uptime_counts_runs_in_the_window() {
        let h = NOW / 3600 * 3600;
        let r = [roll(h - 3600, 60, 60), roll(h - 7200, 60, 0), roll(h - 30 * 3600, 60, 60)];
        assert_eq!(uptime(&r, NOW, 24), Some(50.0));
        assert_eq!(uptime(&r, NOW, 24 * 7).map(|p| (p * 10.0).round()), Some(333.0));
        assert_eq!(uptime(&r, NOW, 1), None, "nothing ran this hour");
        assert_eq!(uptime(&[], NOW, 24), None);
        assert_eq!(uptime(&[roll(h, 3, 9)], NOW, 1), Some(0.0), "failures beyond runs are capped");
    }

    #[test]
    fn percents_do_not_round_to_the_wrong_side() {
        assert_eq!(percent(100.0), "100 %");
        assert_eq!(percent(50.0), "50.0 %");
        assert_eq!(percent(99.999), "99.99 %");
        assert_eq!(percent(99.95), "99.95 %");
        assert_eq!(percent(87.46), "87.4 %");
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(percent(0.001), "0.01 %");
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago(NOW, NOW), "just now");
        assert_eq!(ago(NOW - 42, NOW), "42 s ago");
        assert_eq!(ago(NOW - 180, NOW), "3 min ago");
        assert_eq!(ago(NOW - 5 * 3600 - 10, NOW), "5 h ago");
        assert_eq!(ago(NOW - 2 * 86_400, NOW), "2 d ago");
        assert_eq!(ago(NOW + 180, NOW), "in 3 min");
        assert_eq!(
            time_tag(1_700_000_000, 1_700_000_180),
            "<time datetime=\"2023-11-14T22:13:20Z\" title=\"2023-11-14 22:13:20 UTC\">3 min ago</time>"
        );
        assert_eq!(parse_time("2023-11-14T22:13:20.123Z"), Some(1_700_000_000));
        assert_eq!(time_tag_str("<bad>", NOW), "&lt;bad&gt;");
    }

    /// The `<g>` of the hour whose title contains `what`.
    fn hour_group<'a>(svg: &'a str, what: &str) -> &'a str {
        let at = svg.find(what).unwrap_or_else(|| panic!("{what} not in {svg}"));
        let start = svg[..at].rfind("<g ").unwrap();
        let end = svg[at..].find("</g>").unwrap() + at;
        &svg[start..end]
    }

    fn heights(group: &str, class: &str) -> Vec<f64> {
        group
            .split(&format!("class=\"{class}\""))
            .skip(1)
            .map(|rest| {
                let h = rest.split("height=\"").nth(1).unwrap();
                h[..h.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn a_fully_down_hour_is_a_full_red_bar() {
        let h = NOW / 3600 * 3600;
        let svg = availability_chart(
            &[roll(h - 7200, 60, 60), roll(h - 3600, 60, 0), roll(h, 100, 13)],
            NOW,
            24,
            720.0,
            140.0,
        );
        let down = hour_group(&svg, ": 0.0 % up (60 of 60 runs failed");
        let ph = 140.0 - TOP - BOTTOM;
        assert_eq!(heights(down, "down"), vec![ph], "{down}");
        assert!(heights(down, "up").is_empty(), "{down}");
        assert!(down.contains(RED));
        let up = hour_group(&svg, ": 100 % up");
        assert_eq!(heights(up, "up"), vec![ph]);
        assert!(heights(up, "down").is_empty());
        let part = hour_group(&svg, ": 87.0 % up (13 of 100");
        let red = heights(part, "down")[0];
        assert!((red - 0.13 * ph).abs() < 0.1, "{part}");
        assert!(svg.contains(">100 %</text>") && svg.contains(">0 %</text>"), "y axis labels");
        assert_eq!(svg.matches("<g class=\"hour").count(), 24);
        let one = availability_chart(&[roll(h, 1000, 1)], NOW, 24, 720.0, 140.0);
        assert!(heights(hour_group(&one, "1 of 1000"), "down")[0] >= 3.0, "one failure stays visible");
        assert!(availability_chart(&[], NOW, 24, 720.0, 140.0).contains("no hourly data yet"));
    }

    fn sample(at: u32, verdict: Verdict, latency_ms: f32) -> SampleView {
        SampleView { at, verdict, latency_ms }
    }

    #[test]
    fn heartbeats_are_one_bar_per_result_with_hover() {
        let s = [sample(1_700_000_000, Verdict::Online, 12.0), sample(1_700_000_060, Verdict::Offline, 3.4)];
        let svg = heartbeat(&s, Some("connection <refused>"), 10, 100.0, 20.0);
        assert_eq!(svg.matches("class=\"beat ").count(), 2);
        assert_eq!(svg.matches(EMPTY).count(), 8, "empty slots first");
        assert!(svg.contains("<title>2023-11-14 22:13:20 UTC · up · 12 ms</title>"), "{svg}");
        assert!(
            svg.contains("<title>2023-11-14 22:14:20 UTC · down · 3 ms · connection &lt;refused&gt;</title>")
        );
        let many: Vec<_> = (0..50).map(|i| sample(1_700_000_000 + i, Verdict::Online, 1.0)).collect();
        assert_eq!(heartbeat(&many, None, 30, 180.0, 20.0).matches("class=\"beat ").count(), 30);
    }

    #[test]
    fn the_latency_chart_has_axes() {
        let s =
            [sample(1_700_000_000, Verdict::Online, 120.0), sample(1_700_000_600, Verdict::Offline, 40.0)];
        let svg = latency_chart(&s, 720.0, 160.0);
        for want in [
            ">0 ms</text>",
            ">100 ms</text>",
            ">200 ms</text>",
            ">22:13</text>",
            ">22:18</text>",
            ">22:23</text>",
            ">UTC</text>",
            "<polyline",
        ] {
            assert!(svg.contains(want), "{want} missing: {svg}");
        }
        let short = latency_chart(&[sample(1_700_000_000, Verdict::Online, 1.0)], 720.0, 160.0);
        assert_eq!(short.matches(">22:13:20</text>").count(), 1, "one label, with seconds: {short}");
        assert!(
            svg.contains(&format!("fill=\"{RED}\"><title>2023-11-14 22:23:20 UTC · down · 40 ms</title>"))
        );
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(1000.0), 1000.0);
        assert_eq!(nice_max(3.2), 5.0);
    }
}
