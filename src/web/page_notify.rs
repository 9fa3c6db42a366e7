//! The status page's part on who is told, and when (issue 17): the badges of the check list,
//! and on `/checks/ID` where the check's problem stands with its notifications (state type
//! and attempt, notification number, next notification, escalations, told contacts, the
//! downtimes and the acknowledgement) and its last notifications. Every text is escaped.

use super::charts::time_tag_str;
use super::page::esc;
use super::view::{CheckStatus, DowntimeView, NotificationView, SentView};

/// The styles of what this module renders, appended to the page's.
pub const STYLE: &str = r"
.badge{display:inline-block;margin-left:6px;padding:0 7px;border-radius:10px;font-size:11px;font-weight:600;text-transform:none;color:#1f2328;background:#eaeef2}
.badge.dt{background:#ddf4ff}.badge.ack{background:#fff8c5}.badge.soft{background:#fbefff}
.notify{margin:16px 0}.notify p{margin:4px 0}.sent td,.dts td{font-variant-numeric:tabular-nums}.sent .failed{color:var(--bad)}
";

/// The bad rows of the policy tables and `options` columns, above the list: they page
/// nobody, so an operator must see them.
pub fn problems_panel(problems: &[crate::web::view::RowProblemView]) -> String {
    if problems.is_empty() {
        return String::new();
    }
    let items: String = problems
        .iter()
        .map(|p| format!("<li>{} row {}: {}: {}</li>", esc(&p.table), p.id, esc(&p.field), esc(&p.reason)))
        .collect();
    format!(
        "<section class=\"problems degraded\" id=\"problems\">Rows that page nobody:<ul>{items}</ul></section>"
    )
}

/// A time as "3 min ago" with the exact time on hover, `none` when there is none.
fn when(at: Option<&str>, now: i64, none: &str) -> String {
    at.map_or_else(|| esc(none), |t| time_tag_str(t, now))
}

/// State stalking's events on a check's page (nothing when there are none); `now` in unix
/// seconds, for the relative times.
pub fn stalking_section(events: &[crate::web::view::StalkView], now: i64) -> String {
    if events.is_empty() {
        return String::new();
    }
    let rows: String = events
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                when(e.at.as_deref(), now, ""),
                esc(&e.state),
                esc(&e.output)
            )
        })
        .collect();
    format!(
        "<section class=\"stalking\"><h2>Output changes (state stalking)</h2><table><tr><th>time</th><th>state</th><th>output</th></tr>{rows}</table></section>"
    )
}

/// The last event handler runs on a check's page (nothing when there are none).
pub fn handlers_section(runs: &[crate::web::view::HandlerRunView], now: i64) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let rows: String = runs
        .iter()
        .rev()
        .map(|h| {
            let exit = match (h.exit_code, h.timed_out) {
                (_, true) => "timed out".to_string(),
                (Some(c), _) => c.to_string(),
                (None, _) => "did not run".to_string(),
            };
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0} ms</td><td class=\"msg\">{}</td></tr>",
                when(h.at.as_deref(), now, ""),
                esc(&h.handler),
                esc(&exit),
                h.duration_ms,
                esc(&h.output)
            )
        })
        .collect();
    format!(
        "<section class=\"handlers\"><h2>Event handlers</h2><table><tr><th>time</th><th>handler</th><th>exit</th><th>took</th><th>output</th></tr>{rows}</table></section>"
    )
}

/// The badges after a check's state on the list: in downtime, acknowledged, soft N/M,
/// unreachable, flapping.
pub fn badges(c: &CheckStatus) -> String {
    let mut out = String::new();
    if c.in_downtime {
        let title = c
            .notification
            .as_ref()
            .and_then(|n| n.downtimes.iter().filter_map(|d| d.end.as_deref()).max())
            .map_or_else(
                || "in scheduled downtime".to_string(),
                |end| format!("in scheduled downtime until {end}"),
            );
        out.push_str(&format!(" <span class=\"badge dt\" title=\"{}\">in downtime</span>", esc(&title)));
    }
    if c.acknowledged {
        let title = c.notification.as_ref().and_then(|n| n.ack.as_ref()).map_or_else(
            || "acknowledged".to_string(),
            |a| format!("acknowledged by {}: {}", a.author, a.comment),
        );
        out.push_str(&format!(" <span class=\"badge ack\" title=\"{}\">acknowledged</span>", esc(&title)));
    }
    if c.state_type == "soft" {
        out.push_str(&format!(
            " <span class=\"badge soft\" title=\"soft state: contrary round {a} of {m} before it flips\">soft {a}/{m}</span>",
            a = c.attempt,
            m = c.max_attempts
        ));
    }
    if let Some(parent) = c.unreachable {
        out.push_str(&format!(
            " <span class=\"badge unreachable\" title=\"its parent, check {parent}, has failed: it pages nobody\">unreachable</span>"
        ));
    }
    if c.flapping {
        let pct = c.percent_state_change.unwrap_or(0.0);
        out.push_str(&format!(
            " <span class=\"badge flap\" title=\"percent state change {pct:.1} %: problem and recovery notifications are held\">flapping {pct:.1} %</span>"
        ));
    }
    out
}

fn ids(label: &str, ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(|i| format!("{label} {i}")).collect();
    list.join(", ")
}

fn downtimes(list: &[DowntimeView], now: i64) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut rows = String::new();
    for d in list {
        rows.push_str(&format!(
            "<tr class=\"downtime\" data-id=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.id,
            d.id,
            when(d.start.as_deref(), now, ""),
            when(d.end.as_deref(), now, ""),
            if d.fixed { "fixed" } else { "flexible" },
            esc(&d.author),
            esc(&d.comment),
        ));
    }
    format!(
        "<h4>Scheduled downtime</h4><table class=\"dts\"><thead><tr><th>id</th><th>start</th><th>end</th><th>kind</th><th>author</th><th>comment</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

fn problem(n: &NotificationView, acknowledged: bool, now: i64) -> String {
    let mut out = String::new();
    if n.number > 0 || n.last.is_some() {
        out.push_str(&format!(
            "<p>Notification <b>#{}</b> · last {} · next {}</p>",
            n.number,
            when(n.last.as_deref(), now, "none"),
            when(n.next.as_deref(), now, "none due"),
        ));
        let esc_used = if n.escalations.is_empty() {
            "none (the check's own alerts)".to_string()
        } else {
            ids("escalation", &n.escalations)
        };
        let told = if n.told.is_empty() { "nobody yet".to_string() } else { ids("contact", &n.told) };
        out.push_str(&format!("<p>Escalations in use: {esc_used} · told: {told}</p>"));
    }
    match &n.ack {
        Some(a) => out.push_str(&format!(
            "<p class=\"ack\">Acknowledged{} by <b>{}</b> at {}: {}</p>",
            if a.sticky { " (sticky)" } else { "" },
            esc(&a.author),
            when(a.at.as_deref(), now, "?"),
            esc(&a.comment),
        )),
        None if acknowledged => out.push_str("<p class=\"ack\">Acknowledged.</p>"),
        None => {}
    }
    out.push_str(&downtimes(&n.downtimes, now));
    out
}

fn sent_table(sent: Result<&[SentView], &str>, now: i64) -> String {
    let list = match sent {
        Err(why) => return format!("<p class=\"msg\">The notifications could not be read: {}</p>", esc(why)),
        Ok([]) => return "<p>None yet.</p>".to_string(),
        Ok(list) => list,
    };
    let mut rows = String::new();
    for s in list {
        let class = if s.state == "failed" { " class=\"failed\"" } else { "" };
        rows.push_str(&format!(
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>contact {}</td><td>{}</td></tr>",
            when(s.at.as_deref(), now, ""),
            esc(&s.kind),
            s.number,
            s.contact_id,
            esc(&s.state),
        ));
    }
    format!(
        "<table class=\"sent\"><thead><tr><th>time</th><th>type</th><th>number</th><th>contact</th><th>state</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// `/checks/ID`'s notification section: the state type and attempt, the open problem's
/// notifications, downtimes and acknowledgement, and the last notifications (`Err`: why
/// they could not be read); `now` in unix seconds, for the relative times.
pub fn section(c: &CheckStatus, sent: Result<&[SentView], &str>, now: i64) -> String {
    let mut out = format!(
        "<section class=\"notify\" id=\"notify\"><h3>Notifications</h3><p>State type <b>{}</b> · attempt {}/{}{}</p>",
        esc(&c.state_type),
        c.attempt,
        c.max_attempts,
        badges(c),
    );
    match &c.notification {
        Some(n) => out.push_str(&problem(n, c.acknowledged, now)),
        None if c.acknowledged => out.push_str("<p class=\"ack\">Acknowledged.</p>"),
        None => out.push_str("<p>No open problem, no scheduled downtime in effect.</p>"),
    }
    out.push_str("<h3>Last notifications</h3>");
    out.push_str(&sent_table(sent, now));
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::page;
    use super::super::view::{CheckDetail, ChecksPage, History, SentView};
    use crate::node::proto::ClusterView;

    /// 2025-01-02T03:15:00Z, in the test check's problem.
    const NOW: i64 = 1_735_787_700;

    fn cluster() -> ClusterView {
        serde_json::from_value(json!({
            "term": 1, "controller": "w1", "controller_url": null, "workers": [],
            "workers_live": 0, "confirmations": null, "degraded": false
        }))
        .unwrap()
    }

    /// A check in a soft problem, acknowledged and in a downtime, as the controller answers.
    fn check() -> serde_json::Value {
        json!({
            "id": 7, "name": "shop <main>", "type": "http", "status": "offline", "error": null,
            "since": "2025-01-02T03:04:05Z", "interval": 60, "delay": 3, "worker": "w1",
            "streak": 2, "degraded": null, "last_result": null,
            "state_type": "soft", "attempt": 2, "max_attempts": 4,
            "in_downtime": true, "acknowledged": true,
            "notification": {
                "number": 3, "last": "2025-01-02T03:10:00Z", "next": "2025-01-02T03:20:00Z",
                "escalations": [11, 12], "told": [5, 6],
                "ack": {"id": 9, "author": "ann <ops>", "comment": "disk & fans", "sticky": true,
                        "at": "2025-01-02T03:11:00Z"},
                "downtimes": [{"id": 4, "start": "2025-01-02T03:00:00Z", "end": "2025-01-02T05:00:00Z",
                               "fixed": true, "author": "bob", "comment": "<b>patching</b>"}]
            }
        })
    }

    fn sent() -> Vec<SentView> {
        serde_json::from_value(json!([
            {"at": "2025-01-02T03:10:00Z", "type": "PROBLEM", "number": 3, "contact_id": 6, "state": "failed"},
            {"at": "2025-01-02T03:00:00Z", "type": "<PROBLEM>", "number": 1, "contact_id": 5, "state": "sent"}
        ]))
        .unwrap()
    }

    #[test]
    fn the_check_page_shows_the_notifications_escaped() {
        let mut v = check();
        v["data"] = json!({"url": "https://example.com"});
        v["alerts"] = json!([{"contact_id": 5, "when": "both"}]);
        v["hour"] = json!(null);
        let detail: CheckDetail = serde_json::from_value(v).unwrap();
        let history = History { id: 7, recent: vec![], hourly: vec![] };
        let html = page::check(&cluster(), &detail, &history, Ok(&sent()), NOW);
        for want in [
            "State type <b>soft</b> · attempt 2/4",
            "soft 2/4",
            "in downtime",
            "Notification <b>#3</b>",
            "next <time datetime=\"2025-01-02T03:20:00Z\" title=\"2025-01-02 03:20:00 UTC\">in 5 min</time>",
            "escalation 11, escalation 12",
            "told: contact 5, contact 6",
            "Acknowledged (sticky) by <b>ann &lt;ops&gt;</b> at <time datetime=\"2025-01-02T03:11:00Z\" title=\"2025-01-02 03:11:00 UTC\">4 min ago</time>: disk &amp; fans",
            "<td><time datetime=\"2025-01-02T05:00:00Z\" title=\"2025-01-02 05:00:00 UTC\">in 1 h</time></td><td>fixed</td><td>bob</td><td>&lt;b&gt;patching&lt;/b&gt;</td>",
            "<tr class=\"failed\"><td><time datetime=\"2025-01-02T03:10:00Z\" title=\"2025-01-02 03:10:00 UTC\">5 min ago</time></td><td>PROBLEM</td><td>3</td><td>contact 6</td><td>failed</td></tr>",
            "<td>&lt;PROBLEM&gt;</td><td>1</td><td>contact 5</td><td>sent</td>",
        ] {
            assert!(html.contains(want), "{want:?} missing from:\n{html}");
        }
        for raw in ["ann <ops>", "<b>patching</b>", "disk & fans", "<PROBLEM>", "shop <main>"] {
            assert!(!html.contains(raw), "{raw:?} is not escaped:\n{html}");
        }
        let unread = page::check(&cluster(), &detail, &history, Err("the outbox <is> down"), NOW);
        assert!(unread.contains("could not be read: the outbox &lt;is&gt; down"), "{unread}");
        let none = page::check(&cluster(), &detail, &history, Ok(&[]), NOW);
        assert!(none.contains("Last notifications</h3><p>None yet.</p>"), "{none}");
    }

    #[test]
    fn the_list_shows_badges_only_when_they_apply() {
        let mut quiet = check();
        quiet["id"] = json!(8);
        quiet["state_type"] = json!("hard");
        quiet["attempt"] = json!(4);
        quiet["in_downtime"] = json!(false);
        quiet["acknowledged"] = json!(false);
        quiet["notification"] = json!(null);
        let p: ChecksPage = serde_json::from_value(json!({
            "checks": [check(), quiet], "total": 2, "page": 1, "per_page": 50,
            "counts": {"online": 0, "offline": 2, "invalid": 0}
        }))
        .unwrap();
        let html = page::index(&cluster(), &p, &[], "", "", NOW);
        let row = |id: &str| {
            let start = html.find(&format!("data-id=\"{id}\"")).unwrap();
            let end = html[start..].find("</tr>").unwrap() + start;
            html[start..end].to_string()
        };
        let loud = row("7");
        assert!(loud.contains(">in downtime</span>"), "{loud}");
        assert!(loud.contains("title=\"in scheduled downtime until 2025-01-02T05:00:00Z\""), "{loud}");
        assert!(
            loud.contains("title=\"acknowledged by ann &lt;ops&gt;: disk &amp; fans\">acknowledged<"),
            "{loud}"
        );
        assert!(loud.contains(">soft 2/4</span>"), "{loud}");
        let calm = row("8");
        assert!(!calm.contains("badge"), "{calm}");
    }
}
