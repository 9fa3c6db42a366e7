//! Event handlers in the controller: on each state change the policy names
//! (`policy::handler`), the commands to run are queued for the worker that holds the check
//! and go out in the answer to its next sync (within a second); what they did comes back in
//! a later sync and is kept, the last few runs per check, for `/api/checks/ID` and the page.
//! Handler runs are best effort, as in Nagios: a worker that dies with one queued does not
//! get it, and the next change runs the handlers again.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::{CheckState, Inner};
use crate::check::State;
use crate::decide::Status;
use crate::node::proto::{HandledMsg, HandlerMsg};
use crate::policy::handler::{self, Change, HandlerConfig};
use crate::util::Now;

/// Runs kept per check for the API.
const KEPT_RUNS: usize = 10;
/// Runs queued per worker at most (a worker that stopped syncing does not grow it for ever).
const MAX_QUEUED: usize = 1000;

/// The handler settings, the runs waiting for their worker, the last runs of each check.
#[derive(Debug, Default)]
pub struct Handlers {
    pub config: HandlerConfig,
    queued: BTreeMap<String, Vec<HandlerMsg>>,
    pub runs: HashMap<i64, VecDeque<HandledMsg>>,
    seq: u64,
}

impl Handlers {
    /// The runs waiting for `worker`, taken.
    pub fn take_for(&mut self, worker: &str) -> Vec<HandlerMsg> {
        self.queued.remove(worker).unwrap_or_default()
    }

    /// Keeps what a handler run did.
    pub fn record(&mut self, worker: &str, h: HandledMsg) {
        if h.exit_code == Some(0) {
            tracing::info!(check = h.check_id, worker, label = %h.label, "event handler ran");
        } else {
            tracing::warn!(
                check = h.check_id,
                worker,
                label = %h.label,
                exit_code = ?h.exit_code,
                timed_out = h.timed_out,
                output = %h.output,
                "event handler failed"
            );
        }
        let runs = self.runs.entry(h.check_id).or_default();
        if runs.len() >= KEPT_RUNS {
            runs.pop_front();
        }
        runs.push_back(h);
    }
}

/// The Nagios state a check's status stands for, from its last result when that agrees.
fn state_of(st: &CheckState, status: Status) -> State {
    let last = st.last.as_ref().map(|l| l.state);
    match (status, last) {
        (Status::Online, Some(s @ (State::Ok | State::Warning))) => s,
        (Status::Online, _) => State::Ok,
        (Status::Offline, _) => State::Critical,
    }
}

impl Inner {
    /// A round of check `id` that contradicts its status was confirmed: SOFT attempt
    /// `streak` of the other status.
    pub(super) fn handle_soft(&mut self, id: i64, streak: u32, now: Now) {
        let Some(st) = self.checks.get(&id) else { return };
        let current = st.decider.status();
        let to = if current == Status::Online { Status::Offline } else { Status::Online };
        let change = self.change(st, state_of(st, to), state_of(st, current), false, streak);
        self.run_handlers(id, change, now);
    }

    /// Check `id` flipped (a HARD state), or a run of contrary rounds ended without a flip
    /// (`flipped` false: a recovery from a SOFT problem when online).
    pub(super) fn handle_settled(&mut self, id: i64, flipped: bool, now: Now) {
        let Some(st) = self.checks.get(&id) else { return };
        let status = st.decider.status();
        let other = if status == Status::Online { Status::Offline } else { Status::Online };
        let hard = flipped || status == Status::Offline;
        // A problem's HARD state is its last attempt; a recovery starts counting again.
        let attempt = if status == Status::Offline { st.def.delay + 1 } else { 1 };
        let change = self.change(st, state_of(st, status), state_of(st, other), hard, attempt);
        self.run_handlers(id, change, now);
    }

    /// A WARNING state change (`policy::warning`): `state` with its attempt.
    pub(super) fn handle_warning(
        &mut self,
        id: i64,
        state: State,
        last: State,
        hard: bool,
        attempt: u32,
        now: Now,
    ) {
        let Some(st) = self.checks.get(&id) else { return };
        let change = self.change(st, state, last, hard, attempt);
        self.run_handlers(id, change, now);
    }

    fn change(&self, st: &CheckState, state: State, last_state: State, hard: bool, attempt: u32) -> Change {
        Change {
            state,
            hard,
            attempt,
            max_attempts: st.def.delay + 1,
            last_state,
            output: st.last.as_ref().map(|l| st.redacted.scrub(&l.message)).unwrap_or_default(),
        }
    }

    fn run_handlers(&mut self, id: i64, change: Change, now: Now) {
        let Some(st) = self.checks.get(&id) else { return };
        let o = &st.def.options;
        let cmds =
            handler::commands(&self.handlers.config, o.event_handler.as_deref(), o.event_handler_enabled);
        if cmds.is_empty() {
            return;
        }
        let live = self.live(now.mono);
        let Some(worker) = self.assign.owner(id).map(str::to_string).or_else(|| live.into_iter().next())
        else {
            tracing::warn!(check = id, "no live worker to run the event handler on");
            return;
        };
        let macros = handler::macros(id, &st.def.name, &change, now.ms.div_euclid(1000));
        tracing::info!(
            check = id,
            worker = %worker,
            state = change.state.as_str(),
            hard = change.hard,
            attempt = change.attempt,
            "running event handlers"
        );
        let timeout_secs = self.handlers.config.timeout_secs;
        let msgs: Vec<HandlerMsg> = cmds
            .into_iter()
            .map(|(label, command)| {
                self.handlers.seq += 1;
                HandlerMsg {
                    check_id: id,
                    seq: self.handlers.seq,
                    label: label.to_string(),
                    command: command.to_string(),
                    macros: macros.clone(),
                    timeout_secs,
                }
            })
            .collect();
        let q = self.handlers.queued.entry(worker).or_default();
        if q.len() + msgs.len() > MAX_QUEUED {
            tracing::warn!(
                check = id,
                "too many event handler runs waiting for their worker; dropping the oldest"
            );
            q.drain(..msgs.len().min(q.len()));
        }
        q.extend(msgs);
    }
}
