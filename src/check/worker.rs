//! `worker`: a pseudo-check watching one cluster worker, so "worker w2 is down" can page
//! someone through gobearmon's `alerts` table like any check (Argus DARP's
//! `DARP/WATCH/<node>`). The controller evaluates it from the worker's syncs; it is never
//! sent to a worker to run.

use serde::Deserialize;

use super::{Failure, KindResult};

pub(crate) const KEYS: &[&str] = &["name"];

/// `checks.data` of a `worker` check: `{"name": "w2"}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct WorkerParams {
    /// The watched worker's configured name.
    pub name: String,
}

impl WorkerParams {
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.name.is_empty() {
            return Err(("name", "the watched worker's name is missing".into()));
        }
        Ok(())
    }

    pub(crate) async fn run(&self) -> KindResult {
        Err(Failure::Local(format!(
            "a worker check (watching {:?}) is evaluated by the controller, not run by a worker",
            self.name
        )))
    }
}
