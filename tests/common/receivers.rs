//! What notifications are sent to in tests: a real SMTP server (aiosmtpd), a stand-in for
//! Twilio's REST API that checks requests as Twilio documents them, and an HTTP receiver
//! that records every request and can be made to fail, hang or go away.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use tokio::net::TcpListener;

/// A running aiosmtpd that stores messages as files.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Plain SMTP, or STARTTLS required with `tls` = (cert PEM path, key PEM path).
    pub fn start(tls: Option<(&std::path::Path, &std::path::Path)>) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smtp_sink.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(script).arg("--dir").arg(dir.path());
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aiosmtpd (python3-aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("smtp sink said {line:?}"))
            .parse()
            .unwrap();
        SmtpSink { child, port, dir }
    }

    /// Every stored message, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One recorded HTTP request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }
    pub fn form(&self) -> HashMap<String, String> {
        url::form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    Status(u16),
    /// Hold the first request of each idempotency key forever; answer later ones.
    HangFirst,
    /// Answer this redirect status, to the same path under `/moved`; answer there with 200.
    Redirect(u16),
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    mode: Arc<Mutex<Option<Mode>>>,
}

/// An HTTP server on loopback that records every request.
pub struct Receiver {
    pub port: u16,
    shared: Shared,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn record(
    State(s): State<Shared>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let seen = Seen { path: format!("/{path}"), headers, body: String::from_utf8_lossy(&body).into_owned() };
    let first_of_key = {
        let mut all = s.seen.lock().unwrap();
        let first = !all.iter().any(|x| x.header("idempotency-key") == key);
        all.push(seen);
        first
    };
    let mode = s.mode.lock().unwrap().unwrap_or(Mode::Ok);
    match mode {
        Mode::Ok => StatusCode::OK.into_response(),
        Mode::Status(c) => StatusCode::from_u16(c).unwrap().into_response(),
        Mode::HangFirst if first_of_key => {
            std::future::pending::<()>().await;
            StatusCode::OK.into_response()
        }
        Mode::HangFirst => StatusCode::OK.into_response(),
        Mode::Redirect(_) if path.starts_with("moved/") => StatusCode::OK.into_response(),
        Mode::Redirect(c) => {
            (StatusCode::from_u16(c).unwrap(), [("location", format!("/moved/{path}"))]).into_response()
        }
    }
}

impl Receiver {
    pub async fn start(mode: Mode) -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let shared = Shared::default();
        *shared.mode.lock().unwrap() = Some(mode);
        let mut r = Receiver { port, shared, task: None };
        r.serve(l);
        r
    }

    fn serve(&mut self, l: TcpListener) {
        let app = Router::new().route("/{*path}", any(record)).with_state(self.shared.clone());
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set_mode(&self, m: Mode) {
        *self.shared.mode.lock().unwrap() = Some(m);
    }

    /// Stops listening (connections refused).
    pub fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn up(&mut self) {
        for _ in 0..100 {
            if let Ok(l) = TcpListener::bind(("127.0.0.1", self.port)).await {
                return self.serve(l);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("cannot rebind port {}", self.port);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn seen_at(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// The `notification_type` of every form POST seen at `path`, in order.
    pub fn notification_types(&self, path: &str) -> Vec<String> {
        self.seen_at(path)
            .iter()
            .map(|s| s.form().get("notification_type").cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}

pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-test-token";
/// Twilio answers error 21211 for this number.
pub const INVALID_NUMBER: &str = "+15005550001";
/// This stand-in answers 500 for this number.
pub const FAILING_NUMBER: &str = "+15005550009";

/// A stand-in for api.twilio.com: checks the path, Basic auth and form fields as Twilio's
/// REST API documents them, answers 201 with a SID, error 21211 for an invalid `To`, and 500
/// for [`FAILING_NUMBER`].
pub struct TwilioStandIn {
    pub port: u16,
    seen: TwilioSeen,
    task: tokio::task::JoinHandle<()>,
}

type TwilioSeen = Arc<Mutex<Vec<(String, HashMap<String, String>)>>>;

async fn twilio(
    State(seen): State<TwilioSeen>,
    Path((sid, what)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let err = |status: u16, code: i64, message: &str| {
        let body = serde_json::json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status});
        (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
    };
    if sid != TWILIO_SID
        || headers.get("authorization").and_then(|v| v.to_str().ok())
            != Some(&basic(TWILIO_SID, TWILIO_TOKEN))
    {
        return err(401, 20003, "Authenticate");
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/x-www-form-urlencoded")
    {
        return err(400, 20001, "form-encoded body expected");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let needed: &[&str] = match what.as_str() {
        "Messages.json" => &["To", "From", "Body"],
        "Calls.json" => &["To", "From", "Twiml"],
        _ => return err(404, 20404, "not found"),
    };
    for f in needed {
        if form.get(*f).is_none_or(|v| v.is_empty()) {
            return err(400, 21604, &format!("A '{f}' parameter is required."));
        }
    }
    seen.lock().unwrap().push((what.clone(), form.clone()));
    match form["To"].as_str() {
        INVALID_NUMBER => err(400, 21211, "The 'To' number is not a valid phone number."),
        FAILING_NUMBER => err(500, 20500, "Internal Server Error"),
        _ => {
            let n = seen.lock().unwrap().len();
            let prefix = if what == "Calls.json" { "CA" } else { "SM" };
            (
                StatusCode::CREATED,
                Json(serde_json::json!({"sid": format!("{prefix}{n:032}"), "status": "queued"})),
            )
                .into_response()
        }
    }
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", super::base64(format!("{user}:{pass}").as_bytes()))
}

impl TwilioStandIn {
    pub async fn start() -> TwilioStandIn {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let seen: TwilioSeen = Arc::default();
        let app =
            Router::new().route("/2010-04-01/Accounts/{sid}/{what}", post(twilio)).with_state(seen.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        TwilioStandIn { port, seen, task }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// (Messages.json or Calls.json, form fields) of every accepted-for-processing request.
    pub fn seen(&self) -> Vec<(String, HashMap<String, String>)> {
        self.seen.lock().unwrap().clone()
    }

    pub fn config(&self) -> String {
        format!(
            "[twilio]\naccount_sid = \"{TWILIO_SID}\"\nauth_token = \"{TWILIO_TOKEN}\"\nfrom = \"+15550000000\"\napi_base = \"{}\"\ntimeout_secs = 5\n",
            self.base()
        )
    }
}

impl Drop for TwilioStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}
