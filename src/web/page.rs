//! The status page: server-rendered HTML with inline SVG charts, one small script that
//! refreshes it, nothing fetched from elsewhere. It renders the typed read model the API
//! serves (from the controller), one page of checks at a time, so 100,000 checks cost one
//! page of rows.

use super::charts::{self, percent, time_tag_str, uptime};
use super::page_notify::{self, STYLE as NOTIFY_STYLE};
use super::view::{CheckDetail, ChecksPage, FailingContactView, History, SentView, Shown, StatusCounts};
use crate::node::proto::ClusterView;

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
.msg-full{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--bg);padding:6px 8px;border-radius:6px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--bg);padding:8px}.note{color:var(--inv)}
.uptime{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}.uptime div{padding:6px 12px;border:1px solid #d0d7de;border-radius:6px}.uptime b{font-size:18px;display:block}
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
    shell_with(title, "", header, main)
}

/// The page around `main`, with `head` (a `<meta>`) added to its head.
fn shell_with(title: &str, head: &str, header: &str, main: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">{head}\
         <title>{}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}{NOTIFY_STYLE}</style></head><body><header>{header}<span id=\"updated\" class=\"pill\">refreshes every 10 s</span></header>\
         <main>{main}</main><script>{SCRIPT}</script></body></html>",
        esc(title)
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
fn failing_panel(failing: &[FailingContactView], now: i64) -> String {
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
            f.since.as_deref().map_or_else(|| "?".to_string(), |t| time_tag_str(t, now)),
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

/// The list page: cluster panel, search, one page of checks with their last results as a
/// heartbeat strip; `now` in unix seconds, for the relative times.
pub fn index(
    cluster: &ClusterView,
    page: &ChecksPage,
    failing: &[FailingContactView],
    q: &str,
    status: &str,
    now: i64,
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
        let last_msg = c.last_result.as_ref().map(|l| l.message.as_str());
        let weak = format!("{}{}", degraded_badge(c.degraded.as_deref()), page_notify::badges(c));
        rows.push_str(&format!(
            "<tr class=\"check {st}\" data-id=\"{id}\"><td>{id}</td><td><a href=\"/checks/{id}\">{name}</a></td><td>{kind}</td><td class=\"st\">{st}{weak}</td>\
             <td>{since}</td><td>{latency}</td><td>{chart}</td><td class=\"msg\" title=\"{m}\">{m}</td></tr>",
            id = c.id,
            name = esc(&c.name),
            kind = esc(&c.kind),
            since = since(c.since.as_deref(), now),
            chart = charts::heartbeat(samples, last_msg, 30, 180.0, 22.0),
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
            "<table><thead><tr><th>id</th><th>name</th><th>type</th><th>state</th><th>since</th><th>latency</th><th>last results</th><th>last message</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    shell(
        "bearmon",
        &header(&page.counts),
        &format!(
            "{}{}<!--problems-->{form}{table}{nav}",
            cluster_panel(cluster),
            failing_panel(failing, now)
        ),
    )
}

/// When the check's state began: the last event, or the start of the records.
fn since(at: Option<&str>, now: i64) -> String {
    at.map_or_else(|| "since start of records".to_string(), |t| time_tag_str(t, now))
}

/// [`since`] in a sentence: "since 3 min ago", "since start of records".
fn since_phrase(at: Option<&str>, now: i64) -> String {
    at.map_or_else(|| "since start of records".to_string(), |t| format!("since {}", time_tag_str(t, now)))
}

/// The uptime figures: 24 hours, 7 and 30 days, from the hourly rollups.
fn uptime_figures(hourly: &[crate::store::Rollup], now: i64) -> String {
    let mut out = String::from("<div class=\"uptime\" id=\"uptime\">");
    for (label, hours) in [("24 h", 24), ("7 d", 24 * 7), ("30 d", 24 * 30)] {
        let value = uptime(hourly, now, hours).map_or_else(|| "no runs".to_string(), percent);
        out.push_str(&format!(
            "<div class=\"up-{}\">uptime {label}<b>{value}</b></div>",
            label.replace(' ', "")
        ));
    }
    out.push_str("</div>");
    out
}

/// One check: its state, where its notifications stand and the last of them (`Err`: why
/// they could not be read), uptime figures, definition (redacted), the last results
/// (heartbeats, response time) and the last day's availability; `now` in unix seconds.
/// `history.hourly` should reach 30 days back for the uptime figures.
pub fn check(
    cluster: &ClusterView,
    detail: &CheckDetail,
    history: &History,
    sent: Result<&[SentView], &str>,
    now: i64,
) -> String {
    let c = &detail.check;
    let st = c.status.as_str();
    let msg = c.error.as_deref().or(c.last_result.as_ref().map(|l| l.message.as_str())).unwrap_or("");
    let last_at = c
        .last_result
        .as_ref()
        .and_then(|l| l.at.as_deref())
        .map_or(String::new(), |at| format!(" · last result {}", time_tag_str(at, now)));
    // The finished hours from the database and this hour so far from the controller.
    let mut hourly = history.hourly.clone();
    if let Some(h) = detail.hour.as_ref().filter(|h| !hourly.iter().any(|r| r.hour == h.hour)) {
        hourly.push(h.clone());
    }
    // The whole message, wrapped: an error is read, not guessed from its first words.
    let message = if msg.is_empty() {
        String::new()
    } else {
        format!("<p class=\"msg-full\" id=\"message\">{}</p>", esc(msg))
    };
    let definition = match &detail.data {
        // Text the controller could not show as JSON: withheld or truncated, with its note.
        serde_json::Value::String(s) => esc(s),
        v => esc(&serde_json::to_string_pretty(v).unwrap_or_default()),
    };
    let notify_html = page_notify::section(c, sent, now)
        + &page_notify::handlers_section(&c.event_handlers, now)
        + "<!--stalking-->";
    let main = format!(
        "{}<h2 class=\"{st}\">{} <span class=\"st\">{st}</span>{}</h2><p>Type {} · every {} s · delay {} · {} · worker {}{last_at}</p>\
         {}{}{notify_html}<h3>Last results</h3>{}<h3>Response time</h3>{}\
         <h3>Last day (availability per hour)</h3>{}<h3>Definition</h3><pre>{definition}</pre>",
        cluster_panel(cluster),
        esc(&c.name),
        degraded_badge(c.degraded.as_deref()),
        esc(&c.kind),
        c.interval,
        c.delay,
        since_phrase(c.since.as_deref(), now),
        esc(c.worker.as_deref().unwrap_or("none")),
        message,
        uptime_figures(&hourly, now),
        charts::heartbeat(
            &history.recent,
            c.last_result.as_ref().map(|l| l.message.as_str()),
            60,
            720.0,
            28.0
        ),
        charts::latency_chart(&history.recent, 720.0, 160.0),
        charts::availability_chart(&hourly, now, 24, 720.0, 140.0),
    );
    shell(&format!("bearmon: {}", c.name), "<h1><a href=\"/\">bearmon</a></h1>", &main)
}

/// A page saying why there is nothing to show yet; while the cluster is `starting`, it
/// reloads itself every 2 s.
pub fn unavailable(cluster: &ClusterView, why: &str, starting: bool) -> String {
    let head = if starting { "<meta http-equiv=\"refresh\" content=\"2\">" } else { "" };
    shell_with(
        "bearmon",
        head,
        "<h1>bearmon</h1>",
        &format!("{}<p id=\"why\">{}</p>", cluster_panel(cluster), esc(why)),
    )
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_check_page_shows_the_message_whole_and_a_withheld_definition_as_text() {
        let cluster: ClusterView = serde_json::from_value(json!({
            "term": 1, "controller": "w1", "controller_url": null, "workers": [],
            "workers_live": 0, "confirmations": null, "degraded": false
        }))
        .unwrap();
        let long = format!("data: {} <bytes>, over the limit", "9".repeat(300));
        let detail: CheckDetail = serde_json::from_value(json!({
            "id": 3, "name": "big", "type": "http", "status": "invalid", "error": long, "since": null,
            "interval": 60, "delay": 1, "worker": null, "streak": 0, "degraded": null,
            "last_result": null, "data": "{\"url\":\"x\"}… (truncated: why)", "alerts": [], "hour": null
        }))
        .unwrap();
        let history = History { id: 3, recent: vec![], hourly: vec![] };
        let html = check(&cluster, &detail, &history, Ok(&[]), 1_700_000_000);
        assert!(html.contains(&format!("<p class=\"msg-full\" id=\"message\">{}</p>", esc(&long))), "{html}");
        assert!(html.contains("<pre>{&quot;url&quot;:&quot;x&quot;}… (truncated: why)</pre>"), "{html}");
        assert!(html.contains(" · since start of records · "), "{html}");
        assert!(html.contains("uptime 24 h<b>no runs</b>"), "{html}");
    }
}
