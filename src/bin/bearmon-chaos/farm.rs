//! The harness's two servers on loopback: the target farm, which answers `/t/{i}` with 200 or
//! 503 as target `i`'s timeline says, and the webhook receiver, which records every
//! notification (with its idempotency key) and can be taken down and brought back on the same
//! port.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::oracle::{Note, Timeline};

/// The run's origin: timelines are in ms since it; before it is set every target is up.
#[derive(Clone, Default)]
pub struct Origin(Arc<OnceLock<Instant>>);

impl Origin {
    pub fn start(&self) {
        let _ = self.0.set(Instant::now());
    }
    /// Milliseconds since the origin, or `None` before it.
    pub fn ms(&self) -> Option<i64> {
        self.0.get().map(|t| t.elapsed().as_millis() as i64)
    }
}

#[derive(Clone)]
struct FarmState {
    origin: Origin,
    timelines: Arc<Vec<Timeline>>,
}

/// Starts the target farm; its port.
pub async fn start_farm(origin: Origin, timelines: Arc<Vec<Timeline>>) -> std::io::Result<u16> {
    let app = axum::Router::new()
        .route(
            "/t/{i}",
            get(|State(s): State<FarmState>, Path(i): Path<usize>| async move {
                let down = match (s.origin.ms(), s.timelines.get(i)) {
                    (Some(ms), Some(tl)) => tl.is_down(ms),
                    (_, None) => return StatusCode::NOT_FOUND,
                    _ => false,
                };
                if down { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
            }),
        )
        .with_state(FarmState { origin, timelines });
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let port = l.local_addr()?.port();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    Ok(port)
}

/// The webhook receiver.
pub struct Receiver {
    pub port: u16,
    pub notes: Arc<Mutex<Vec<Note>>>,
    task: Option<JoinHandle<()>>,
}

impl Receiver {
    pub async fn start() -> std::io::Result<Receiver> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let port = l.local_addr()?.port();
        let mut r = Receiver { port, notes: Arc::default(), task: None };
        r.serve(l);
        Ok(r)
    }

    fn serve(&mut self, l: TcpListener) {
        let app = axum::Router::new()
            .route(
                "/hook",
                post(|State(notes): State<Arc<Mutex<Vec<Note>>>>, body: axum::body::Bytes| async move {
                    let v: Value = match serde_json::from_slice(&body) {
                        Ok(v) => v,
                        Err(_) => return StatusCode::BAD_REQUEST,
                    };
                    let key = v["idempotency_key"].as_str().unwrap_or_default().to_string();
                    let event_id = v["event_id"].as_i64().unwrap_or(-1);
                    notes.lock().unwrap().push(Note { key, event_id });
                    StatusCode::OK
                }),
            )
            .with_state(self.notes.clone());
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        }));
    }

    /// Stops listening: deliveries now fail with "connection refused".
    pub fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) -> std::io::Result<()> {
        if self.task.is_some() {
            return Ok(());
        }
        let mut last = None;
        for _ in 0..50 {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => {
                    self.serve(l);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(last.expect("tried"))
    }
}
