//! Serving the status page on the viewserver: fetches the controller's typed read model over
//! the signed node client and renders it ([`super::page`]). The viewserver hands in its
//! current cluster view; nothing here knows how it was elected.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::page;
use super::view::{
    CheckDetail, ChecksPage, FailingContacts, History, Notifications, RowProblems, Shown, Stalking,
};
use crate::node::NodeClient;
use crate::node::proto::ClusterView;

/// The list page's query string.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    pub page: Option<u64>,
    pub q: String,
    pub status: String,
}

/// How long after the viewserver starts a cluster that never had a controller is said to be
/// starting (the first election waits one dead-node timeout, 3 s by default) rather than
/// missing a worker.
pub const STARTING: Duration = Duration::from_secs(15);

/// The cluster is starting: no controller was ever elected (term 0) since the viewserver
/// started, `uptime` ago, and that is recent.
pub fn starting(cluster: &ClusterView, uptime: Duration) -> bool {
    cluster.term == 0 && cluster.controller_url.is_none() && uptime < STARTING
}

/// Why there is no controller to ask.
fn no_controller(starting: bool) -> &'static str {
    if starting {
        "bearmon is starting: electing a controller, this takes a few seconds."
    } else {
        "No controller is elected yet: start a worker with a database."
    }
}

/// Fetches `path_and_query` from the controller and reads it as `T`.
async fn from_controller<T: DeserializeOwned>(
    client: &NodeClient,
    cluster: &ClusterView,
    path_and_query: &str,
    authorization: Option<&str>,
) -> Result<T, String> {
    let base = cluster.controller_url.as_deref().ok_or_else(|| no_controller(false).to_string())?;
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    match client.get_raw(&url, Duration::from_secs(10), authorization).await {
        Ok((200, body)) => serde_json::from_slice(&body).map_err(|e| format!("the controller's answer: {e}")),
        Ok((status, body)) => {
            Err(format!("the controller answered {status}: {}", String::from_utf8_lossy(&body)))
        }
        Err(e) => Err(format!("cannot reach the controller: {e}")),
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")], body)
        .into_response()
}

/// The page while there is no controller: says the cluster is starting (and reloads itself)
/// during its first seconds, else how to get one.
fn no_controller_page(cluster: &ClusterView, uptime: Duration) -> Option<Response> {
    if cluster.controller_url.is_some() {
        return None;
    }
    let starting = starting(cluster, uptime);
    Some(html(StatusCode::SERVICE_UNAVAILABLE, page::unavailable(cluster, no_controller(starting), starting)))
}

fn now_secs() -> i64 {
    crate::util::now_ms() / 1000
}

/// `GET /`: one page of checks; `uptime`: how long the viewserver has been running.
pub async fn index(
    client: &NodeClient,
    cluster: &ClusterView,
    q: &PageQuery,
    auth: Option<&str>,
    uptime: Duration,
) -> Response {
    if let Some(r) = no_controller_page(cluster, uptime) {
        return r;
    }
    let status = if Shown::parse(&q.status).is_some() { q.status.clone() } else { String::new() };
    let mut path = format!(
        "/api/checks?per_page=50&recent=60&page={}",
        q.page.unwrap_or(1).clamp(1, super::params::MAX_PAGE as u64)
    );
    if !q.q.is_empty() {
        path.push_str("&q=");
        path.extend(url::form_urlencoded::byte_serialize(q.q.as_bytes()));
    }
    if !status.is_empty() {
        path.push_str(&format!("&status={status}"));
    }
    let (checks, failing, problems) = tokio::join!(
        from_controller::<ChecksPage>(client, cluster, &path, auth),
        from_controller::<FailingContacts>(client, cluster, "/api/contacts/failing", auth),
        from_controller::<RowProblems>(client, cluster, "/api/problems", auth),
    );
    // The failing contacts and bad rows are warnings on top: without them the page still shows.
    let failing = failing.unwrap_or_default();
    let problems = problems.unwrap_or_default();
    match checks {
        Ok(p) => html(
            StatusCode::OK,
            page::index(cluster, &p, &failing.contacts, &q.q, &status, now_secs()).replacen(
                "<!--problems-->",
                &crate::web::page_notify::problems_panel(&problems.problems),
                1,
            ),
        ),
        // A controller just elected may still be loading the checks: while the viewserver is
        // young, that is starting too.
        Err(why) if uptime < STARTING => html(
            StatusCode::SERVICE_UNAVAILABLE,
            page::unavailable(
                cluster,
                &format!(
                    "bearmon is starting: the controller is not answering yet ({why}); this takes a few seconds."
                ),
                true,
            ),
        ),
        Err(why) => html(StatusCode::SERVICE_UNAVAILABLE, page::unavailable(cluster, &why, false)),
    }
}

/// How many of a check's last notifications its page lists.
const PAGE_NOTIFICATIONS: usize = 20;

/// How far back the check page reads the hourly rollups: the 30-day uptime.
const PAGE_HISTORY_HOURS: u32 = 24 * 30;

/// `GET /checks/{id}`: one check with its charts and its last notifications.
pub async fn check(
    client: &NodeClient,
    cluster: &ClusterView,
    id: i64,
    auth: Option<&str>,
    uptime: Duration,
) -> Response {
    if let Some(r) = no_controller_page(cluster, uptime) {
        return r;
    }
    let (detail_path, history_path, sent_path, stalk_path) = (
        format!("/api/checks/{id}"),
        format!("/api/checks/{id}/history?hours={PAGE_HISTORY_HOURS}"),
        format!("/api/checks/{id}/notifications?limit={PAGE_NOTIFICATIONS}"),
        format!("/api/checks/{id}/stalking?limit={PAGE_NOTIFICATIONS}"),
    );
    let (detail, history, sent, stalks) = tokio::join!(
        from_controller::<CheckDetail>(client, cluster, &detail_path, auth),
        from_controller::<History>(client, cluster, &history_path, auth),
        from_controller::<Notifications>(client, cluster, &sent_path, auth),
        from_controller::<Stalking>(client, cluster, &stalk_path, auth),
    );
    let stalks = stalks.map(|s| s.events).unwrap_or_default();
    // The notifications are a part of the page: without them the rest still shows.
    let sent = sent.map(|n| n.notifications);
    let sent = sent.as_ref().map(Vec::as_slice).map_err(String::as_str);
    match (detail, history) {
        (Ok(d), Ok(h)) => html(
            StatusCode::OK,
            page::check(cluster, &d, &h, sent, now_secs()).replacen(
                "<!--stalking-->",
                &crate::web::page_notify::stalking_section(&stalks, now_secs()),
                1,
            ),
        ),
        (Err(why), _) | (_, Err(why)) => html(StatusCode::NOT_FOUND, page::unavailable(cluster, &why, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(term: u64, controller_url: Option<&str>) -> ClusterView {
        serde_json::from_value(serde_json::json!({
            "term": term, "controller": null, "controller_url": controller_url, "workers": [],
            "workers_live": 0, "confirmations": null, "degraded": false
        }))
        .unwrap()
    }

    #[test]
    fn a_new_cluster_is_starting_then_lacks_a_worker() {
        let s = Duration::from_secs;
        assert!(starting(&cluster(0, None), s(2)));
        assert!(!starting(&cluster(0, None), s(20)), "nobody came: start a worker");
        assert!(!starting(&cluster(3, None), s(2)), "a controller was elected and lost");
        let page = page::unavailable(&cluster(0, None), no_controller(true), true);
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"2\">"), "{page}");
        assert!(page.contains("bearmon is starting: electing a controller, this takes a few seconds."));
        let page = page::unavailable(&cluster(0, None), no_controller(false), false);
        assert!(!page.contains("http-equiv") && page.contains("start a worker with a database"), "{page}");
    }
}
