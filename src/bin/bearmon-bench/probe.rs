//! `--detect`: the harness's own detection target and webhook receiver, and the detection
//! overhead measured with them. The target answers 200 until told to fail; the receiver
//! notes when each offline notification arrives, so alert − first failed request − delay ×
//! interval is bearmon's own overhead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bearmon::util::now_ms;
use serde_json::{Value, json};

use crate::window::percentile;

/// The detection target and webhook receiver, in the harness itself.
#[derive(Clone, Default)]
pub struct Probe {
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// check index → unix ms of its first request answered with 500.
    first_fail: std::sync::Arc<std::sync::Mutex<HashMap<usize, i64>>>,
    /// check name → unix ms the offline notification arrived.
    alerted: std::sync::Arc<std::sync::Mutex<HashMap<String, i64>>>,
}

pub async fn start_probe() -> (Probe, u16) {
    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    let probe = Probe::default();
    let app = axum::Router::new()
        .route(
            "/d/{i}",
            get(|State(p): State<Probe>, Path(i): Path<usize>| async move {
                if p.failing.load(std::sync::atomic::Ordering::SeqCst) {
                    p.first_fail.lock().unwrap().entry(i).or_insert_with(now_ms);
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }),
        )
        .route(
            "/hook",
            post(|State(p): State<Probe>, body: axum::body::Bytes| async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                if v["status"] == "offline" {
                    let name = v["check"]["name"].as_str().unwrap_or("").to_string();
                    p.alerted.lock().unwrap().entry(name).or_insert_with(now_ms);
                }
                axum::http::StatusCode::OK
            }),
        )
        .with_state(probe.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (probe, port)
}

impl Probe {
    /// Detection overhead: the probe's targets start failing now; waits (up to three
    /// intervals and a minute) for `detect` offline notifications.
    pub async fn detection(&self, detect: usize, interval: u64) -> Value {
        self.failing.store(true, std::sync::atomic::Ordering::SeqCst);
        let limit = Instant::now() + Duration::from_secs(3 * interval + 60);
        while self.alerted.lock().unwrap().len() < detect && Instant::now() < limit {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let fails = self.first_fail.lock().unwrap().clone();
        let alerts = self.alerted.lock().unwrap().clone();
        let overheads: Vec<f64> = (0..detect)
            .filter_map(|i| {
                let f = fails.get(&i)?;
                let al = alerts.get(&format!("detect{i}"))?;
                Some((al - f) as f64 / 1000.0 - interval as f64)
            })
            .collect();
        json!({
            "checks": detect, "alerted": alerts.len(),
            "overhead_p50_s": percentile(overheads.clone(), 0.5), "overhead_p99_s": percentile(overheads.clone(), 0.99),
            "overhead_max_s": percentile(overheads, 1.0),
        })
    }
}
