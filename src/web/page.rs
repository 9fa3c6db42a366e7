//! The status page: server-rendered HTML with inline SVG charts, one small script that
//! refreshes it, nothing fetched from elsewhere. It renders the typed read model the API
//! serves (from the controller), one page of checks at a time, so 100,000 checks cost one
//! page of rows.

use super::page_notify::{self, STYLE as NOTIFY_STYLE};
use super::view::{
    CheckDetail, ChecksPage, FailingContactView, History, SampleView, SentView, Shown, StatusCounts,
};
use crate::check::Verdict;
use crate::node::proto::ClusterView;
use crate::store::Rollup;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = r#"
:root{--ok:#1a7f37;--bad:#cf222e;--inv:#9a6700;--mut:#57606a;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;background:#fff}
header{display:flex;gap:16px;align-items:center;padding:12px 20px;background:var(--bg);border-bottom:1px solid #d0d7de;flex-wrap:wrap}
header h1{font-size:18px;margin:0}header .pill{padding:2px 10px;border-radius:12px;background:#fff;border:1px solid #d0d7de}
main{padding:16px 20px}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaeef2;vertical-align:middle}
th{font-weight:600;color:var(--mut)}.st{font-weight:600;text-transform:uppercase;font-size:12px}
.online .st{color:var(--ok)}.offline .st{color:var(--bad)}.invalid .st{color:var(--inv)}.offline{background:#fff5f5}
.msg{color:var(--mut);max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
form{display:flex;gap:8px;margin-bottom:12px;flex-wrap:wrap}input,select,button{font:inherit;padding:4px 8px}
.nav{margin-top:12px;display:flex;gap:12px}.cluster{margin:0 0 16px;padding:10px 12px;background:var(--bg);border:1px solid #d0d7de;border-radius:6px}
.degraded{color:var(--bad);font-weight:600}.dead{color:var(--bad)}svg{display:block}a{color:#0969da;text-decoration:none}
"#;

const SCRIPT: &str = r#"
(function(){
  var stamp=document.getElementById('updated');
  function refresh(){
    fetch(location.href,{headers:{'Accept':'text/html'}}).then(function(r){return r.ok?r.text():null}).then(function(t){
      if(!t)return;var d=new DOMParser().parseFromString(t,'text/html');var m=d.querySelector('main');
      if(m){document.querySelector('main').replaceWith(m);}
      if(stamp){stamp.textContent='updated '+new Date().toLocaleTimeString();}
    }).catch(function(){if(stamp){stamp.textContent='offline: retrying';}});
  }
  setInterval(refresh,10000);
  document.body.setAttribute('data-ready','1');
})();
"#;

fn shell(title: &str, header: &str, main: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}{NOTIFY_STYLE}</style></head><body><header>{header}<span id=\"updated\" class=\"pill\">refreshes every 10 s</span></header>\
         <main>{main}</main><script>{SCRIPT}</script></body></html>",
        esc(title)
    )
}

/// A latency line over the samples' time span, failures as red dots: the last-hour chart.
pub fn sparkline(samples: &[SampleView], w: f64, h: f64) -> String {
    let pts: Vec<(f64, f64, bool)> = samples
        .iter()
        .map(|s| (f64::from(s.at), f64::from(s.latency_ms), s.verdict == Verdict::Offline))
        .collect();
    if pts.is_empty() {
        return format!(
            "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"no results yet\"><text x=\"4\" y=\"{}\" fill=\"#57606a\" font-size=\"11\">no results yet</text></svg>",
            h / 2.0 + 4.0
        );
    }
    let t0 = pts.first().map_or(0.0, |p| p.0);
    let t1 = pts.last().map_or(1.0, |p| p.0).max(t0 + 1.0);
    let max = pts.iter().map(|p| p.1).fold(1.0, f64::max);
    let xy = |t: f64, l: f64| (2.0 + (t - t0) / (t1 - t0) * (w - 4.0), h - 2.0 - l / max * (h - 4.0));
    let line: Vec<String> = pts.iter().map(|p| xy(p.0, p.1)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dots: String = pts
        .iter()
        .filter(|p| p.2)
        .map(|p| {
            let (x, _) = xy(p.0, 0.0);
            format!("<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"#cf222e\"/>", h / 2.0)
        })
        .collect();
    let ok = pts.iter().filter(|p| !p.2).count();
    format!(
        "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"latency, max {max:.0} ms, {ok} of {} ok\">\
         <polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"{}\"/>{dots}</svg>",
        pts.len(),
        line.join(" ")
    )
}

/// Hourly bars (availability) with the p95 latency as a line: the last-day chart.
pub fn day_chart(hourly: &[Rollup], w: f64, h: f64) -> String {
    if hourly.is_empty() {
        return format!(
            "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"no hourly data yet\"><text x=\"4\" y=\"{}\" fill=\"#57606a\" font-size=\"11\">no hourly data yet</text></svg>",
            h / 2.0
        );
    }
    let n = hourly.len() as f64;
    let bw = (w - 4.0) / n;
    let max = hourly.iter().map(|r| r.latency_p95_ms).fold(1.0, f64::max);
    let mut bars = String::new();
    let mut line = Vec::new();
    for (i, r) in hourly.iter().enumerate() {
        let runs = f64::from(r.runs).max(1.0);
        let avail = 1.0 - f64::from(r.failures) / runs;
        let x = 2.0 + i as f64 * bw;
        let bh = avail * (h - 4.0);
        let color = if avail >= 0.999 {
            "#8ddb8c"
        } else if avail >= 0.9 {
            "#eac54f"
        } else {
            "#ff8182"
        };
        bars.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{:.1} % up</title></rect>",
            h - 2.0 - bh,
            (bw - 1.0).max(1.0),
            avail * 100.0
        ));
        let p95 = r.latency_p95_ms;
        line.push(format!("{:.1},{:.1}", x + bw / 2.0, h - 2.0 - p95 / max * (h - 4.0)));
    }
    format!(
        "<svg class=\"chart\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"availability per hour, p95 latency\">{bars}\
         <polyline fill=\"none\" stroke=\"#0969da\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        line.join(" ")
    )
}

fn cluster_panel(cluster: &ClusterView) -> String {
    let live = cluster.workers_live;
    let total = cluster.workers.len();
    let ctrl = cluster.controller.as_deref().unwrap_or("none");
    let degraded = if cluster.degraded {
        " <span class=\"degraded\">degraded: fewer live workers than confirmations</span>"
    } else {
        ""
    };
    let workers: Vec<String> = cluster
        .workers
        .iter()
        .map(|w| {
            let name = esc(&w.name);
            if w.alive {
                format!("{name} ({} checks)", w.checks_assigned)
            } else {
                format!("<span class=\"dead\">{name} (dead)</span>")
            }
        })
        .collect();
    format!(
        "<section class=\"cluster\" id=\"cluster\">Controller <b>{}</b>, term {} · workers {live}/{total} live: {}{degraded}</section>",
        esc(ctrl),
        cluster.term,
        workers.join(", ")
    )
}

fn header(counts: &StatusCounts) -> String {
    format!(
        "<h1><a href=\"/\">bearmon</a></h1><span class=\"pill\">{} online</span><span class=\"pill\" style=\"color:var(--bad)\">{} offline</span><span class=\"pill\">{} invalid</span>",
        counts.online, counts.offline, counts.invalid
    )
}

/// The contacts whose notifications fail, on top of the list: a failing channel must be
/// seen before the outage it should have reported.
fn failing_panel(failing: &[FailingContactView]) -> String {
    if failing.is_empty() {
        return String::new();
    }
    let mut items = String::new();
    for f in failing {
        items.push_str(&format!(
            "<li>contact {} ({}): {} after {} attempts since {}: {}</li>",
            f.contact_id,
            esc(f.kind.as_deref().unwrap_or("deleted")),
            esc(&f.state),
            f.attempts,
            esc(f.since.as_deref().unwrap_or("?")),
            esc(&f.error)
        ));
    }
    format!(
        "<section class=\"failing degraded\" id=\"failing\">Notifications failing:<ul>{items}</ul></section>"
    )
}

/// " degraded" with the reason on hover, for a check decided on fewer confirmations.
fn degraded_badge(reason: Option<&str>) -> String {
    reason
        .map_or(String::new(), |r| format!(" <span class=\"degraded\" title=\"{}\">degraded</span>", esc(r)))
}

/// The list page: cluster panel, search, one page of checks with their last-hour chart.
pub fn index(
    cluster: &ClusterView,
    page: &ChecksPage,
    failing: &[FailingContactView],
    q: &str,
    status: &str,
) -> String {
    let mut rows = String::new();
    for c in &page.checks {
        let st = c.status.as_str();
        let msg = match c.status {
            Shown::Invalid => c.error.clone().unwrap_or_default(),
            _ => c.last_result.as_ref().map(|l| l.message.clone()).unwrap_or_default(),
        };
        let latency = c.last_result.as_ref().map_or(String::new(), |l| format!("{:.0} ms", l.latency_ms));
        let samples = c.recent.as_deref().unwrap_or(&[]);
        let weak = format!("{}{}", degraded_badge(c.degraded.as_deref()), page_notify::badges(c));
        rows.push_str(&format!(
            "<tr class=\"check {st}\" data-id=\"{id}\"><td>{id}</td><td><a href=\"/checks/{id}\">{name}</a></td><td>{kind}</td><td class=\"st\">{st}{weak}</td>\
             <td>{since}</td><td>{latency}</td><td>{chart}</td><td class=\"msg\" title=\"{m}\">{m}</td></tr>",
            id = c.id,
            name = esc(&c.name),
            kind = esc(&c.kind),
            since = esc(c.since.as_deref().unwrap_or("")),
            chart = sparkline(samples, 160.0, 28.0),
            m = esc(&msg),
        ));
    }
    let total = page.total as u64;
    let per = (page.per_page as u64).max(1);
    let p = page.page as u64;
    let pages = total.div_ceil(per).max(1);
    let link = |n: u64| format!("/?page={n}&q={}&status={}", esc(&url_escape(q)), esc(status));
    let mut nav = format!("<div class=\"nav\">page {p} of {pages} ({total} checks)");
    if p > 1 {
        nav.push_str(&format!(" <a href=\"{}\">previous</a>", link(p - 1)));
    }
    if p < pages {
        nav.push_str(&format!(" <a href=\"{}\">next</a>", link(p + 1)));
    }
    nav.push_str("</div>");
    let opt = |v: &str, label: &str| {
        let sel = if v == status { " selected" } else { "" };
        format!("<option value=\"{v}\"{sel}>{label}</option>")
    };
    let form = format!(
        "<form method=\"get\" action=\"/\"><input name=\"q\" placeholder=\"search name or id\" value=\"{}\"><select name=\"status\">{}{}{}{}</select><button>filter</button></form>",
        esc(q),
        opt("", "any state"),
        opt("offline", "offline"),
        opt("online", "online"),
        opt("invalid", "invalid")
    );
    let table = if rows.is_empty() {
        "<p>No checks match. Add one with SQL: <code>INSERT INTO checks (name, type, data) VALUES ('site', 'http', '{\"url\":\"https://example.com\"}');</code></p>".to_string()
    } else {
        format!(
            "<table><thead><tr><th>id</th><th>name</th><th>type</th><th>state</th><th>since</th><th>latency</th><th>last hour</th><th>last message</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    shell(
        "bearmon",
        &header(&page.counts),
        &format!("{}{}<!--problems-->{form}{table}{nav}", cluster_panel(cluster), failing_panel(failing)),
    )
}

/// One check: its state, where its notifications stand and the last of them (`Err`: why
/// they could not be read), definition (redacted), last-hour and last-day charts.
pub fn check(
    cluster: &ClusterView,
    detail: &CheckDetail,
    history: &History,
    sent: Result<&[SentView], &str>,
) -> String {
    let c = &detail.check;
    let st = c.status.as_str();
    let msg = c.error.as_deref().or(c.last_result.as_ref().map(|l| l.message.as_str())).unwrap_or("");
    let notify_html =
        page_notify::section(c, sent) + &page_notify::handlers_section(&c.event_handlers) + "<!--stalking-->";
    let main = format!(
        "{}<h2 class=\"{st}\">{} <span class=\"st\">{st}</span>{}</h2><p>Type {} · every {} s · delay {} · since {} · worker {}</p>\
         <p class=\"msg\">{}</p>{}<h3>Last results</h3>{}<h3>Last day (availability per hour, p95 latency)</h3>{}\
         <h3>Definition</h3><pre>{}</pre>",
        cluster_panel(cluster),
        esc(&c.name),
        degraded_badge(c.degraded.as_deref()),
        esc(&c.kind),
        c.interval,
        c.delay,
        esc(c.since.as_deref().unwrap_or("unknown")),
        esc(c.worker.as_deref().unwrap_or("none")),
        esc(msg),
        notify_html,
        sparkline(&history.recent, 720.0, 120.0),
        day_chart(&history.hourly, 720.0, 120.0),
        esc(&serde_json::to_string_pretty(&detail.data).unwrap_or_default()),
    );
    shell(&format!("bearmon: {}", c.name), "<h1><a href=\"/\">bearmon</a></h1>", &main)
}

/// A page saying why there is nothing to show yet.
pub fn unavailable(cluster: &ClusterView, why: &str) -> String {
    shell("bearmon", "<h1>bearmon</h1>", &format!("{}<p>{}</p>", cluster_panel(cluster), esc(why)))
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
