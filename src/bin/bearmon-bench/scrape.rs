//! `--per-check-metrics`: `[metrics] per_check = true` on the workers, and the controller's
//! `/metrics` scraped every 15 s through the measured window, as a Prometheus would; the
//! window's controller CPU and lag then carry the export's cost, and this reports each
//! scrape's time and size.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::window::percentile;

/// A Prometheus stand-in scraping the controller: (milliseconds, bytes) of each scrape.
pub struct Scraper {
    task: JoinHandle<()>,
    seen: Arc<Mutex<Vec<(f64, usize)>>>,
}

impl Scraper {
    /// Starts scraping the controller named by the viewserver at `vs_url`, every 15 s.
    pub async fn start(vs_url: &str) -> Scraper {
        let cluster: Value =
            reqwest::get(format!("{vs_url}/api/cluster")).await.unwrap().json().await.unwrap();
        let url = format!("{}/metrics", cluster["controller_url"].as_str().unwrap_or_default());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
                // Bounded: 400 scrapes cover 100 minutes, longer than any window.
                for _ in 0..400 {
                    let t = Instant::now();
                    if let Ok(r) = client.get(&url).send().await
                        && let Ok(body) = r.bytes().await
                    {
                        seen.lock().unwrap().push((t.elapsed().as_secs_f64() * 1000.0, body.len()));
                    }
                    tokio::time::sleep(Duration::from_secs(15)).await;
                }
            }
        });
        Scraper { task, seen }
    }

    /// Stops scraping; the median and slowest scrape and the size of the last.
    pub fn finish(self) -> Value {
        self.task.abort();
        let seen = self.seen.lock().unwrap().clone();
        let times: Vec<f64> = seen.iter().map(|(ms, _)| *ms).collect();
        json!({
            "scrapes": seen.len(),
            "scrape_ms_p50": percentile(times.clone(), 0.5),
            "scrape_ms_max": percentile(times, 1.0),
            "bytes": seen.last().map(|(_, b)| *b),
        })
    }
}
