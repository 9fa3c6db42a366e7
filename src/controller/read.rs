//! The controller as the web room's read model: one page of checks filtered in memory, one
//! check in full, and the history and events read through the store.

use super::Controller;
use super::history::{self, Sample};
use super::state::{CheckState, Inner};
use crate::decide::Status;
use crate::store::{Rollup, events, notices, outbox};
use crate::util::{lock, rfc3339};
use crate::web::view::{
    AckView, AlertView, CheckDetail, CheckFilter, CheckStatus, ChecksPage, DowntimeView, EventView,
    FailingContactView, LastResultView, NotificationView, SentView, Shown, StatusCounts,
};
use crate::web::{ReadModel, WebError};

/// Largest page the API hands out.
const MAX_PER_PAGE: usize = 1000;

fn shown(s: &CheckState) -> Shown {
    match (&s.def.spec, s.decider.status()) {
        (Err(_), _) => Shown::Invalid,
        (Ok(_), Status::Online) => Shown::Online,
        (Ok(_), Status::Offline) => Shown::Offline,
    }
}

/// SPEC §10's `state`: gobearmon's kinds give OK or CRITICAL; a plugin also WARNING; a
/// result the worker could not get is UNKNOWN (never a vote). While online, the last result
/// says which of OK, WARNING or UNKNOWN.
fn nagios_state(s: &CheckState) -> &'static str {
    use crate::check::State;
    match (&s.def.spec, s.decider.status(), s.last.as_ref().map(|l| l.state)) {
        (Err(_), _, _) => "invalid",
        (Ok(_), Status::Offline, _) => "critical",
        (Ok(_), Status::Online, Some(st @ (State::Warning | State::Unknown))) => st.as_str(),
        (Ok(_), Status::Online, _) => "ok",
    }
}

/// Whether the check is between its first contrary result and its hard state: a round
/// being confirmed, or a run of WARNING results not yet `max_attempts` long.
fn soft(s: &CheckState, inner: &Inner) -> bool {
    s.decider.streak() > 0 || inner.policy.warnings.get(&s.def.id).is_some_and(|w| !w.hard)
}

/// Nagios's `$SERVICEATTEMPT$`: the soft state's attempt, `max_attempts` once hard.
fn attempt(s: &CheckState, inner: &Inner) -> u32 {
    match inner.policy.warnings.get(&s.def.id) {
        _ if s.decider.streak() > 0 => s.decider.streak(),
        Some(w) if !w.hard => w.count,
        _ => s.def.delay + 1,
    }
}

pub(in crate::controller) fn status_of(s: &CheckState, inner: &Inner, recent: usize) -> CheckStatus {
    let skip = s.recent.iter().count().saturating_sub(recent);
    CheckStatus {
        id: s.def.id,
        name: s.def.name.clone(),
        kind: s.def.kind.clone(),
        status: shown(s),
        error: s.def.spec.as_ref().err().map(ToString::to_string),
        since: s.since_ms.and_then(rfc3339),
        interval: s.def.interval.as_secs(),
        delay: s.def.delay,
        worker: inner.assign.owner(s.def.id).map(str::to_string),
        streak: s.decider.streak(),
        degraded: s.decider.weakened().map(|(votes, wanted)| {
            format!("decided on {votes} of {wanted} confirmations: the other workers could not run the check")
        }),
        last_result: s.last.as_ref().map(|l| LastResultView {
            verdict: l.verdict,
            message: s.redacted.scrub(&l.message),
            latency_ms: l.latency_ms,
            at: rfc3339(l.at_ms),
            worker: l.worker.to_string(),
        }),
        recent: (recent > 0).then(|| s.recent.iter().skip(skip).map(Sample::view).collect()),
        state: nagios_state(s).to_string(),
        state_type: if soft(s, inner) { "soft" } else { "hard" }.to_string(),
        attempt: attempt(s, inner),
        max_attempts: s.def.delay + 1,
        in_downtime: inner.policy.book.downtimes.in_downtime(s.def.id),
        acknowledged: inner.policy.problems.get(&s.def.id).is_some_and(|p| p.acked_by.is_some()),
        flapping: inner.policy.book.flapping.contains(&s.def.id),
        percent_state_change: inner.policy.flaps.get(&s.def.id).map(crate::policy::flap::Flap::percent),
        unreachable: (s.decider.status() == Status::Offline)
            .then(|| {
                let now = crate::util::now_ms();
                let since = inner.policy.problems.get(&s.def.id).map_or(now, |p| p.started_ms);
                super::state::unreachable(&inner.policy.book, &inner.checks, s.def.id, since, now)
            })
            .flatten(),
        notification: notification_view(s, inner),
        event_handlers: inner
            .handlers
            .runs
            .get(&s.def.id)
            .map(|runs| {
                runs.iter()
                    .map(|h| crate::web::view::HandlerRunView {
                        handler: h.label.clone(),
                        at: rfc3339(h.started_ms),
                        duration_ms: h.duration_ms,
                        exit_code: h.exit_code,
                        output: s.redacted.scrub(&h.output),
                        timed_out: h.timed_out,
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The open problem's notifications and the downtimes in effect, when there are any.
fn notification_view(s: &CheckState, inner: &Inner) -> Option<NotificationView> {
    let id = s.def.id;
    let book = &inner.policy.book;
    let downtimes: Vec<DowntimeView> = book
        .downtimes
        .active_for(id)
        .iter()
        .map(|d| DowntimeView {
            id: d.id,
            start: rfc3339(d.start_ms),
            end: rfc3339(d.end_ms),
            fixed: d.fixed,
            author: d.author.clone(),
            comment: d.comment.clone(),
        })
        .collect();
    let p = inner.policy.problems.get(&id);
    if p.is_none() && downtimes.is_empty() {
        return None;
    }
    let ack = p.and_then(|p| p.acked_by).and_then(|_| book.acks.get(&id)).map(|a| AckView {
        id: a.id,
        author: a.author.clone(),
        comment: a.comment.clone(),
        sticky: a.sticky,
        at: rfc3339(a.created_ms),
    });
    Some(NotificationView {
        number: p.map_or(0, |p| p.number),
        last: p.and_then(|p| p.last_ms).and_then(rfc3339),
        next: p.and_then(|p| p.next_ms).and_then(rfc3339),
        escalations: p.map(|p| p.escalations.clone()).unwrap_or_default(),
        told: p.map(|p| p.told.iter().copied().collect()).unwrap_or_default(),
        ack,
        downtimes,
    })
}

fn read_err(what: &'static str) -> impl Fn(sqlx::Error) -> WebError {
    move |e| WebError::Read { what, reason: e.to_string() }
}

impl ReadModel for Controller {
    fn checks_page(&self, f: &CheckFilter) -> ChecksPage {
        let inner = self.lock();
        let mut counts = StatusCounts::default();
        let q = f.q.as_deref().map(str::to_lowercase).filter(|q| !q.is_empty());
        let mut ids: Vec<i64> = Vec::new();
        for (id, s) in &inner.checks {
            let status = shown(s);
            counts.add(status);
            if !f.wants(status) {
                continue;
            }
            if let Some(q) = &q
                && !s.def.name.to_lowercase().contains(q.as_str())
                && !id.to_string().contains(q.as_str())
            {
                continue;
            }
            ids.push(*id);
        }
        ids.sort_unstable();
        let per_page = f.per_page.clamp(1, MAX_PER_PAGE);
        let page = f.page.max(1);
        let checks = ids
            .iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .filter_map(|id| inner.checks.get(id))
            .map(|s| status_of(s, &inner, f.recent))
            .collect();
        ChecksPage { checks, total: ids.len(), page, per_page, counts }
    }

    fn check_detail(&self, id: i64) -> Option<CheckDetail> {
        let inner = self.lock();
        let s = inner.checks.get(&id)?;
        let shown = s.redacted.data(&s.def.data);
        let data = serde_json::from_str(shown).unwrap_or(serde_json::Value::String(shown.to_string()));
        Some(CheckDetail {
            check: status_of(s, &inner, history::RECENT),
            data,
            alerts: s
                .def
                .alerts
                .iter()
                .map(|a| AlertView { contact_id: a.contact_id, when: a.when.as_str().to_string() })
                .collect(),
            hour: s.hour.as_ref().map(|h| h.rollup(id)),
        })
    }

    fn row_problems(&self) -> Vec<crate::web::view::RowProblemView> {
        let inner = self.lock();
        let checks = inner.checks.iter().map(|(_, s)| s.def.as_ref());
        inner
            .policy
            .book
            .all_problems(checks)
            .into_iter()
            .map(|p| crate::web::view::RowProblemView {
                table: p.table.to_string(),
                id: p.id,
                field: p.field,
                reason: p.reason,
            })
            .collect()
    }

    fn database(&self) -> &crate::db::Db {
        self.fence.db()
    }

    async fn rollups(&self, id: i64, since_hour: i64) -> Result<Vec<Rollup>, WebError> {
        events::load_rollups(self.fence.db(), id, since_hour).await.map_err(read_err("rollups"))
    }

    async fn failing_contacts(&self) -> Result<Vec<FailingContactView>, WebError> {
        let window = 24 * 3_600_000;
        let after = crate::alert::deliver::FAILING_AFTER.as_millis() as i64;
        let rows = outbox::failing(self.fence.db(), window, after).await.map_err(read_err("the outbox"))?;
        let book = lock(&self.contacts);
        Ok(rows
            .into_iter()
            .map(|f| FailingContactView {
                contact_id: f.contact_id,
                kind: book.get(f.contact_id).map(|p| p.kind.to_string()),
                state: f.state.to_string(),
                since: rfc3339(f.since_ms),
                attempts: f.attempts,
                error: f.error,
            })
            .collect())
    }

    async fn stalking(&self, id: i64, limit: i64) -> Result<Vec<crate::web::view::StalkView>, WebError> {
        let rows = crate::store::stalking::recent(self.fence.db(), id, limit)
            .await
            .map_err(read_err("the stalking events"))?;
        Ok(rows
            .into_iter()
            .map(|r| crate::web::view::StalkView { at: rfc3339(r.at_ms), state: r.state, output: r.output })
            .collect())
    }

    async fn notifications(&self, id: i64, limit: i64) -> Result<Vec<SentView>, WebError> {
        let rows = notices::recent_for_check(self.fence.db(), id, limit)
            .await
            .map_err(read_err("the notifications"))?;
        Ok(rows
            .into_iter()
            .map(|r| SentView {
                at: rfc3339(r.at_ms),
                kind: r.notification_type,
                number: r.number,
                contact_id: r.contact_id,
                state: r.state,
            })
            .collect())
    }

    async fn events(&self, limit: i64, before: Option<i64>) -> Result<Vec<EventView>, WebError> {
        let rows = events::recent(self.fence.db(), limit, before).await.map_err(read_err("events"))?;
        let inner = self.lock();
        Ok(rows
            .into_iter()
            .map(|r| EventView {
                id: r.id,
                check_id: r.check_id,
                check_name: inner.checks.get(&r.check_id).map(|s| s.def.name.clone()),
                status: r.status,
                time: r.time,
            })
            .collect())
    }
}
