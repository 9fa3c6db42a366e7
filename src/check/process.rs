//! Running an outside program with a hard deadline, bounded output and nothing left behind:
//! the `exec` check's plugins today, event handlers later. Kept free of any check's params.
//!
//! Why each rule:
//! - No shell: the argv is executed as given, so a check's data cannot smuggle in `;` or
//!   `$(...)`, and a missing program is the OS error of `execve`, not a shell's 127.
//! - Its own process group (`process_group(0)`): a plugin is often a script that starts
//!   children (`ping`, `curl`, a pipeline). At the deadline the whole group gets `SIGKILL`
//!   (`killpg`), so no grandchild outlives the run and none keeps a pipe open.
//! - Output is read up to `max_output` bytes and the rest is drained and dropped, so a
//!   chatty plugin never blocks on a full pipe (and never misses its deadline because of us).
//! - stdout is the output. stderr is read too (same bound) and used only when stdout has
//!   nothing but white space, as Nagios 4 does: a plugin that dies with a message on stderr
//!   (`bad interpreter`, a missing library, a Perl `die`) still says why.
//! - A grandchild that keeps stdout open after the plugin exited (`daemon &` without a
//!   redirect) would keep the reader waiting forever: once the plugin has exited, the pipes
//!   get [`EXIT_GRACE`] to close, then the group is killed and reading stops. Reading also
//!   stops at the deadline in any case, even for a child that left the group (`setsid`).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::time::{Instant, sleep_until, timeout};

/// How long the pipes may stay open after the program itself exited, before its process
/// group is killed and reading stops.
pub const EXIT_GRACE: Duration = Duration::from_millis(250);

/// How long reaping may take after `SIGKILL` (a process in uninterruptible sleep dies only
/// when the kernel lets it); past that the child is left to tokio's orphan reaper.
const REAP_LIMIT: Duration = Duration::from_secs(1);

/// How the program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it (its number; ours is `SIGKILL` at the deadline).
    Signal(i32),
}

impl Exit {
    fn of(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            // Neither happens on Unix; treat it as a failure code.
            (None, None) => Exit::Code(-1),
        }
    }

    /// A signal's name (`SIGSEGV`), or its number when nix does not know it.
    pub fn signal_name(sig: i32) -> String {
        Signal::try_from(sig).map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string())
    }
}

/// What a run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutput {
    /// How it ended; `None` only when it could not be reaped within a second of `SIGKILL`.
    pub exit: Option<Exit>,
    /// stdout (or stderr when stdout was empty), lossy UTF-8, at most `max_output` bytes.
    pub output: String,
    /// More than `max_output` bytes were written (and dropped).
    pub truncated: bool,
    /// The deadline passed before the program exited: the group was killed.
    pub timed_out: bool,
}

/// Why the program did not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("no program to run (the command is empty)")]
    Empty,
    /// Not found, not executable, a bad interpreter line, out of processes...
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot wait for {program}: {source}")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// Runs `argv` (the program, then its arguments; no shell) with the worker's environment
/// (less its `BEARMON_*` settings) plus `env`, stdin closed, until it exits or `deadline` passes.
///
/// # Errors
/// [`ProcessError`] when it cannot be started (or waited for). A program that fails, dies
/// or times out is an `Ok` whose [`ProcessOutput`] says so.
pub async fn run_process(
    argv: &[String],
    env: &[(String, String)],
    deadline: Instant,
    max_output: usize,
) -> Result<ProcessOutput, ProcessError> {
    let Some((program, args)) = argv.split_first() else { return Err(ProcessError::Empty) };
    let mut cmd = Command::new(program);
    // The worker's own settings (`BEARMON_DATABASE` holds a password) are not a plugin's.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("BEARMON_") {
            cmd.env_remove(&k);
        }
    }
    let mut child = cmd
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ProcessError::Spawn { program: program.clone(), source })?;
    // The child leads its own group, so its pid is the group's id.
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    tracing::debug!(program = %program, pid = ?pgid, "process started");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let mut out = Capture::default();
    let mut err = Capture::default();
    let mut status = None;
    let mut timed_out = false;
    {
        let reading =
            async { tokio::join!(drain(stdout, &mut out, max_output), drain(stderr, &mut err, max_output)) };
        tokio::pin!(reading);
        let mut read_done = false;
        // Until the program exits: the deadline; after: a short grace for the pipes.
        let mut stop_at = deadline;
        loop {
            tokio::select! {
                s = child.wait(), if status.is_none() => {
                    let s = s.map_err(|source| ProcessError::Wait { program: program.clone(), source })?;
                    status = Some(s);
                    stop_at = deadline.min(Instant::now() + EXIT_GRACE);
                }
                _ = &mut reading, if !read_done => read_done = true,
                () = sleep_until(stop_at) => {
                    if status.is_none() {
                        timed_out = true;
                        tracing::debug!(program = %program, "deadline passed: killing the process group");
                    } else {
                        tracing::debug!(program = %program, "exited but its output is still open: killing the process group");
                    }
                    kill_group(pgid);
                    break;
                }
            }
            if read_done && status.is_some() {
                break;
            }
        }
    }
    if status.is_none() {
        // Killed above; the zombie is ours to reap.
        status = match timeout(REAP_LIMIT, child.wait()).await {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::warn!(program = %program, error = %e, "cannot reap a killed process");
                None
            }
            Err(_) => {
                tracing::warn!(program = %program, "a killed process did not die within a second");
                None
            }
        };
    }
    let use_stderr = out.bytes.iter().all(u8::is_ascii_whitespace) && !err.bytes.is_empty();
    let chosen = if use_stderr { err } else { out };
    Ok(ProcessOutput {
        exit: status.map(Exit::of),
        output: String::from_utf8_lossy(&chosen.bytes).into_owned(),
        truncated: chosen.truncated,
        timed_out,
    })
}

/// One pipe's bytes, up to the bound.
#[derive(Default)]
struct Capture {
    bytes: Vec<u8>,
    truncated: bool,
}

/// Reads `pipe` to its end, keeping the first `max` bytes and dropping the rest.
async fn drain<R: AsyncRead + Unpin>(pipe: Option<R>, cap: &mut Capture, max: usize) {
    let Some(mut pipe) = pipe else { return };
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) => return,
            Ok(n) => {
                let keep = n.min(max.saturating_sub(cap.bytes.len()));
                cap.bytes.extend_from_slice(&chunk[..keep]);
                cap.truncated |= keep < n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::debug!(error = %e, "reading a process's output failed");
                return;
            }
        }
    }
}

/// `SIGKILL` to the whole group. Called only while the group has a member we know of (the
/// unreaped child, or whoever holds its pipes), so the id cannot have been reused.
fn kill_group(pgid: Option<Pid>) {
    let Some(pgid) = pgid else { return };
    match killpg(pgid, Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(pgid = pgid.as_raw(), error = %e, "cannot kill a process group"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    fn soon(secs: u64) -> Instant {
        Instant::now() + Duration::from_secs(secs)
    }

    #[tokio::test]
    async fn exit_code_output_and_env() {
        let env = [("BM_X".to_string(), "forty two".to_string())];
        let r = run_process(&sh("echo \"$BM_X\"; exit 3"), &env, soon(5), 1024).await.unwrap();
        assert_eq!(r.exit, Some(Exit::Code(3)));
        assert_eq!(r.output, "forty two\n");
        assert!(!r.truncated && !r.timed_out);
    }

    #[tokio::test]
    async fn stderr_only_when_stdout_is_empty() {
        let r = run_process(&sh("echo oops >&2; exit 2"), &[], soon(5), 1024).await.unwrap();
        assert_eq!(r.output, "oops\n");
        let r = run_process(&sh("echo out; echo oops >&2"), &[], soon(5), 1024).await.unwrap();
        assert_eq!(r.output, "out\n");
    }

    #[tokio::test]
    async fn output_is_bounded_and_drained() {
        let r = run_process(&sh("head -c 1000000 /dev/zero | tr '\\0' x; exit 0"), &[], soon(10), 100)
            .await
            .unwrap();
        assert_eq!(r.output.len(), 100);
        assert!(r.truncated && !r.timed_out);
        assert_eq!(r.exit, Some(Exit::Code(0)));
    }

    #[tokio::test]
    async fn signal_and_missing_program() {
        let r = run_process(&sh("kill -SEGV $$"), &[], soon(5), 1024).await.unwrap();
        assert_eq!(r.exit, Some(Exit::Signal(11)));
        assert_eq!(Exit::signal_name(11), "SIGSEGV");
        let e = run_process(&["/nonexistent/plugin".to_string()], &[], soon(5), 1024).await.unwrap_err();
        assert!(e.to_string().contains("/nonexistent/plugin"), "{e}");
        assert!(matches!(run_process(&[], &[], soon(5), 1).await, Err(ProcessError::Empty)));
    }

    #[tokio::test]
    async fn a_grandchild_holding_the_pipe_does_not_hold_the_run() {
        let started = std::time::Instant::now();
        let r = run_process(&sh("sleep 30 & echo done"), &[], soon(10), 1024).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert_eq!(r.output, "done\n");
        assert_eq!(r.exit, Some(Exit::Code(0)));
        assert!(!r.timed_out);
    }

    #[tokio::test]
    async fn the_deadline_kills_the_group() {
        let started = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_millis(500);
        let r = run_process(&sh("echo partial; sleep 30 & sleep 30"), &[], deadline, 1024).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert!(r.timed_out);
        assert_eq!(r.exit, Some(Exit::Signal(9)));
        assert_eq!(r.output, "partial\n");
    }
}
