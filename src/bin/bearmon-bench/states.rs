//! `--flap-detection`, `--dependencies`: issue 18's per-check policy at scale, loaded after
//! the checks (and after `policy`'s rows, whose `options` it adds to), so a run measures
//! the controller recording every scheduled result for flap detection and looking at a
//! parent for every check:
//!
//! - `--flap-detection`: `"flap_detection_enabled": true` merged into every check's `options`;
//! - `--dependencies`: one `dependencies` row for every check but one in 100, whose parent is
//!   the first check of its hundred (a router in front of 99 services), with Shinken's usual
//!   criteria: execution `c`, notification `u,c`.

use bearmon::db::Db;
use serde_json::{Value, json};

use crate::options::Args;
use crate::policy::{exec, ids};

/// Checks that share one parent.
const GROUP: usize = 100;

/// Loads what the flags ask for; returns what was loaded, for the JSON.
pub async fn load(db: &Db, a: &Args) -> Value {
    let t = std::time::Instant::now();
    let checks = ids(db, "checks", "name LIKE 'c%'").await;
    if a.flap_detection {
        exec(
            db,
            "UPDATE checks SET options = (COALESCE(options, '{}')::jsonb || '{\"flap_detection_enabled\": true}'::jsonb)::text \
             WHERE name LIKE 'c%'"
                .to_string(),
        )
        .await;
    }
    let mut deps = 0;
    if a.dependencies {
        for group in checks.chunks(GROUP) {
            let parent = group[0];
            let values: Vec<String> =
                group[1..].iter().map(|c| format!("({c}, {parent}, 'c', 'u,c')")).collect();
            if values.is_empty() {
                continue;
            }
            deps += values.len();
            exec(
                db,
                format!(
                    "INSERT INTO dependencies (check_id, parent_id, execution_failure_criteria, \
                     notification_failure_criteria) VALUES {}",
                    values.join(",")
                ),
            )
            .await;
        }
    }
    let loaded = json!({
        "flap_detection": a.flap_detection,
        "dependencies": deps,
        "load_s": t.elapsed().as_secs_f64(),
    });
    eprintln!("state policy loaded: {loaded}");
    loaded
}
