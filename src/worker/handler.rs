//! Runs the event handlers the controller sends with a sync answer, for checks this worker
//! holds (the seed's restart-httpd runs where httpd is). The handlers of one state change
//! run one after the other (the global one first); at most [`MAX_RUNNING`] changes are
//! handled at once, the rest wait. A command line runs without a shell, in its own process
//! group killed at the timeout (`check::process`), with the macros substituted in each word
//! and exported as `NAGIOS_*`; an `https://` URL is POSTed the macros as JSON. What each
//! did goes back to the controller with the next sync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::Shared;
use crate::check::process::{Exit, run_process};
use crate::node::proto::{HandledMsg, HandlerMsg};
use crate::policy::handler::substitute;
use crate::util::{error_chain, lock, now_ms};

/// State changes handled at once on one worker.
pub const MAX_RUNNING: usize = 4;
/// Output kept of one run.
const MAX_OUTPUT: usize = 4096;

/// Starts the runs of `msgs`, grouped by check in their order.
pub(super) fn start(shared: &Arc<Shared>, msgs: Vec<HandlerMsg>) {
    let mut groups: Vec<Vec<HandlerMsg>> = Vec::new();
    for m in msgs {
        match groups.last_mut() {
            Some(g) if g[0].check_id == m.check_id && g.iter().all(|x| x.label != m.label) => g.push(m),
            _ => groups.push(vec![m]),
        }
    }
    for group in groups {
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(_slot) = shared.handler_slots.clone().acquire_owned().await else { return };
            for m in group {
                let done = run(&shared, &m).await;
                lock(&shared.handled).push(done);
            }
            shared.results_ready.notify_one();
        });
    }
}

/// The semaphore bounding the runs.
pub(super) fn slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_RUNNING))
}

async fn run(shared: &Shared, m: &HandlerMsg) -> HandledMsg {
    let started_ms = now_ms();
    let started = Instant::now();
    let limit = Duration::from_secs(m.timeout_secs.clamp(1, 3600));
    tracing::info!(check = m.check_id, label = %m.label, "running an event handler");
    let (exit_code, output, timed_out) = if m.command.trim_start().starts_with("https://") {
        post(shared, m, limit).await
    } else {
        command(m, limit).await
    };
    HandledMsg {
        check_id: m.check_id,
        seq: m.seq,
        label: m.label.clone(),
        started_ms,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        exit_code,
        output,
        timed_out,
    }
}

async fn command(m: &HandlerMsg, limit: Duration) -> (Option<i32>, String, bool) {
    let Some(words) = shlex::split(&m.command) else {
        return (None, "the event handler's command line has an unterminated quote".into(), false);
    };
    let argv: Vec<String> = words.iter().map(|w| substitute(w, &m.macros)).collect();
    let env: Vec<(String, String)> =
        m.macros.iter().map(|(k, v)| (format!("NAGIOS_{k}"), v.clone())).collect();
    let deadline = tokio::time::Instant::now() + limit;
    match run_process(&argv, &env, deadline, MAX_OUTPUT).await {
        Ok(p) => {
            let mut output = p.output;
            if p.timed_out {
                output = format!("killed after {} s (event handler timeout); {output}", limit.as_secs());
            } else if let Some(Exit::Signal(s)) = p.exit {
                output = format!("killed by {}; {output}", Exit::signal_name(s));
            }
            let code = match p.exit {
                Some(Exit::Code(c)) => Some(c),
                _ => None,
            };
            (code, output, p.timed_out)
        }
        Err(e) => (None, error_chain(&e), false),
    }
}

async fn post(shared: &Shared, m: &HandlerMsg, limit: Duration) -> (Option<i32>, String, bool) {
    let client = match shared.probes.http(false) {
        Ok(c) => c,
        Err(e) => return (None, e, false),
    };
    let body: serde_json::Map<String, serde_json::Value> =
        m.macros.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    match client.post(m.command.trim()).json(&body).timeout(limit).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let mut text = resp.text().await.unwrap_or_default();
            if text.len() > MAX_OUTPUT {
                let mut cut = MAX_OUTPUT;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            // A 2xx is success, as exit code 0 is: the API shows the status itself.
            let code = if (200..300).contains(&status) { 0 } else { i32::from(status) };
            (Some(code), format!("HTTP {status}: {text}"), false)
        }
        Err(e) => {
            let timed_out = e.is_timeout();
            (None, error_chain(&e.without_url()), timed_out)
        }
    }
}
