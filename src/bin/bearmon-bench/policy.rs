//! `--timeperiods N --escalations M`: the policy tables of issue 17 (migration 0010) filled
//! as an operator of real on-call rotations would, after the checks are loaded, so a run
//! measures the controller with them in memory. Inserted by multi-row statements (PostgreSQL,
//! the backend the harness runs on):
//!
//! - `--policy-contacts` email contacts (never told anything: no check flips in the window);
//!   a share of them with `options` naming a notification period;
//! - N timeperiods: three named ones (`holidays`, `24x7`, `workhours`) and then a rotation of
//!   shapes (work hours excluding holidays, nights and weekends, `use` of an earlier period,
//!   `day -1`, `thursday -1 november`, dated ranges, `/ 14` rotations, several ranges on a
//!   line, `exclude` of an earlier period), each checked with `Periods::build` before use;
//! - M escalations spread over the checks (one row in 1,000 for every check, `check_id
//!   NULL`), number- and time-based, some with an `escalation_period`, an interval, options;
//! - `options` on `--policy-options-percent` of the checks
//!   (`{"notification_interval": 600, "notification_period": ...}`).

use bearmon::db::Db;
use bearmon::policy::period::Periods;
use serde_json::{Value, json};

use crate::options::Args;

/// The three periods every rotation below may name.
const NAMED: [(&str, &str); 3] = [
    (
        "holidays",
        "timeperiod_name holidays\njanuary 1 00:00-24:00 ; New Year's Day\nmonday -1 may 00:00-24:00 ; Memorial Day\n\
         july 4 00:00-24:00\nmonday 1 september 00:00-24:00 ; Labor Day\nthursday 4 november 00:00-24:00 ; Thanksgiving\n\
         2026-12-24 - 2026-12-26 00:00-24:00 ; Christmas\ndecember 31 17:00-24:00 ; New Year's Eve\n",
    ),
    (
        "24x7",
        "monday 00:00-24:00\ntuesday 00:00-24:00\nwednesday 00:00-24:00\nthursday 00:00-24:00\n\
         friday 00:00-24:00\nsaturday 00:00-24:00\nsunday 00:00-24:00\n",
    ),
    (
        "workhours",
        "monday 09:00-17:00\ntuesday 09:00-17:00\nwednesday 09:00-17:00\nthursday 09:00-17:00\n\
         friday 09:00-17:00\nexclude holidays\n",
    ),
];

/// The name of period `i` (0-based over all N).
pub fn period_name(i: usize) -> String {
    match NAMED.get(i) {
        Some((n, _)) => (*n).to_string(),
        None => format!("oncall-{i}"),
    }
}

/// The definition of period `i` ≥ 3: one of eight shapes, varied by `i`. `use` and `exclude`
/// only name earlier periods, so there is no cycle.
fn definition(i: usize) -> String {
    let h = 6 + i % 6; // a start hour, 06..11
    let earlier = period_name(3 + (i - 3) / 2);
    let year = 2026 + i % 3;
    match i % 8 {
        0 => format!(
            "timeperiod_name {n}\nalias team {i} office hours\nmonday {h:02}:00-{e:02}:00\ntuesday {h:02}:00-{e:02}:00\n\
             wednesday {h:02}:00-{e:02}:00\nthursday {h:02}:00-{e:02}:00\nfriday {h:02}:00-{e:02}:00\nexclude holidays\n",
            n = period_name(i),
            e = h + 8
        ),
        1 => format!(
            "monday 00:00-{h:02}:00,18:00-24:00\ntuesday 00:00-{h:02}:00,18:00-24:00\nwednesday 00:00-{h:02}:00,18:00-24:00\n\
             thursday 00:00-{h:02}:00,18:00-24:00\nfriday 00:00-{h:02}:00,18:00-24:00\nsaturday 00:00-24:00\n\
             sunday 00:00-24:00\nuse holidays\n"
        ),
        2 => format!(
            "name rotation-{i}\n{year}-01-{d:02} / 14 00:00-24:00 ; every other week from here\n\
             {year}-01-{d2:02} / 14 00:00-09:00\nexclude {earlier}\n",
            d = 5 + i % 7,
            d2 = 12 + i % 7
        ),
        3 => format!(
            "day -1 00:00-24:00 ; month end\nday 1 - 3 {h:02}:00-20:00\nmonday 3 08:00-12:00\n\
             thursday -1 november 00:00-24:00\n"
        ),
        4 => format!(
            "use {earlier}\nsaturday {h:02}:00-14:00\n{year}-12-24 - {year}-12-26 00:00-24:00\nfebruary 10 - 20 08:00-18:00\n"
        ),
        5 => format!(
            "{year}-{m:02}-01 - {year}-{m:02}-15 / 3 {h:02}:00-{e:02}:30\nsunday 2 - 4 10:00-16:00\nexclude holidays,{earlier}\n",
            m = 1 + i % 12,
            e = h + 9
        ),
        6 => format!(
            "_ONCALL_PHONE 555-{i:04}\nmonday 1 september 00:00-24:00\nmonday -1 may 00:00-24:00\nday 15 {h:02}:00-23:00\n\
             wednesday 05:00-{h:02}:30,13:00-19:00\n"
        ),
        _ => format!(
            "tuesday {h:02}:00-17:00\nthursday {h:02}:00-17:00\njuly {d} - august {d} 00:00-24:00 ; summer cover\nexclude {earlier}\n",
            d = 1 + i % 28
        ),
    }
}

/// All N rows, (name, definition).
fn periods(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| match NAMED.get(i) {
            Some((name, def)) => ((*name).to_string(), (*def).to_string()),
            None => (period_name(i), definition(i)),
        })
        .collect()
}

/// SQL text literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub async fn exec(db: &Db, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(db.pool()).await.unwrap();
}

pub async fn ids(db: &Db, table: &str, filter: &str) -> Vec<i64> {
    use sqlx::Row;
    let sql = format!("SELECT CAST(id AS BIGINT) FROM {table} WHERE {filter} ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.pool()).await.unwrap();
    rows.iter().map(|r| r.get::<i64, _>(0)).collect()
}

/// One escalation row `j` of `m`, as SQL values.
fn escalation(j: usize, checks: &[i64], contacts: &[i64], periods: usize) -> String {
    // One in 1,000 is for every check; the rest are spread over the checks by a prime stride.
    let check = if j.is_multiple_of(1000) {
        "NULL".to_string()
    } else {
        checks[(j.wrapping_mul(7919)) % checks.len()].to_string()
    };
    let contact = contacts[j % contacts.len()];
    // Two in three by notification number (2-4, then 5-0 ...), one in three by time.
    let (first, last, first_t, last_t) = match j % 3 {
        0 => (1 + j % 4, if j.is_multiple_of(2) { 0 } else { 4 + j % 4 }, 0, 0),
        1 => (2 + j % 3, 0, 0, 0),
        _ => (0, 0, 600 * (1 + j % 6), if j.is_multiple_of(2) { 0 } else { 3600 * (2 + j % 3) }),
    };
    let interval = match j % 5 {
        0 | 1 => "NULL".to_string(),
        2 => "300".to_string(),
        3 => "600".to_string(),
        _ => if j % 10 == 4 { "0" } else { "1800" }.to_string(),
    };
    let period =
        if j.is_multiple_of(4) && periods > 0 { lit(&period_name(j % periods)) } else { "NULL".to_string() };
    let options = match j % 6 {
        0 | 1 => "NULL",
        2 | 3 => "'c,r'",
        4 => "'w,u,c,r'",
        _ => "'c'",
    };
    format!("({check}, {contact}, {first}, {last}, {first_t}, {last_t}, {interval}, {period}, {options})")
}

/// Fills the policy tables (see the module's text); returns what was loaded, for the JSON.
pub async fn load(db: &Db, a: &Args) -> Value {
    let t = std::time::Instant::now();
    let rows = periods(a.timeperiods);
    let (_, bad) =
        Periods::build(rows.iter().map(|(n, d)| (n.as_str(), d.as_str())), jiff::tz::TimeZone::UTC);
    assert!(bad.is_empty(), "the harness's timeperiods must all be good: {bad:?}");
    for chunk in rows.chunks(500) {
        let values: Vec<String> = chunk.iter().map(|(n, d)| format!("({}, {})", lit(n), lit(d))).collect();
        exec(db, format!("INSERT INTO timeperiods (name, definition) VALUES {}", values.join(","))).await;
    }
    let n_periods = rows.len();
    let name = |k: usize| if n_periods == 0 { None } else { Some(period_name(k % n_periods)) };

    let values: Vec<String> = (0..a.policy_contacts)
        .map(|k| {
            // The same share of the contacts as of the checks have options.
            let with = (k * 100) < a.policy_contacts * a.policy_options_percent;
            let options = match name(k * 7 + 2) {
                Some(p) if with => {
                    lit(&json!({"notification_period": p, "notification_options": "c,r", "name": format!("on-call {k}")}).to_string())
                }
                _ => "NULL".to_string(),
            };
            format!("('email', 'oncall{k}@example.com', {options})")
        })
        .collect();
    if !values.is_empty() {
        exec(db, format!("INSERT INTO contacts (type, data, options) VALUES {}", values.join(","))).await;
    }
    let contacts = ids(db, "contacts", "data LIKE 'oncall%'").await;
    let checks = ids(db, "checks", "name LIKE 'c%'").await;

    if a.escalations > 0 && !contacts.is_empty() && !checks.is_empty() {
        let all: Vec<usize> = (0..a.escalations).collect();
        for chunk in all.chunks(1000) {
            let values: Vec<String> =
                chunk.iter().map(|&j| escalation(j, &checks, &contacts, n_periods)).collect();
            exec(
                db,
                format!(
                    "INSERT INTO escalations (check_id, contact_id, first_notification, last_notification, \
                     first_notification_time, last_notification_time, notification_interval, escalation_period, \
                     escalation_options) VALUES {}",
                    values.join(",")
                ),
            )
            .await;
        }
    }

    // Options on a share of the checks: every (100 / percent)-th, by position.
    let mut with_options = 0;
    if a.policy_options_percent > 0 && n_periods > 0 {
        let step = (100 / a.policy_options_percent).max(1);
        let picked: Vec<(usize, i64)> =
            checks.iter().copied().enumerate().filter(|(k, _)| k % step == 0).collect();
        with_options = picked.len();
        for chunk in picked.chunks(1000) {
            let values: Vec<String> = chunk
                .iter()
                .map(|&(k, id)| {
                    let mut o =
                        json!({"notification_interval": 600, "notification_period": name(k / step).unwrap()});
                    if k % (step * 4) == 0 {
                        o["first_notification_delay"] = json!(120);
                    }
                    format!("({id}, {})", lit(&o.to_string()))
                })
                .collect();
            exec(
                db,
                format!(
                    "UPDATE checks SET options = v.o FROM (VALUES {}) AS v(id, o) WHERE checks.id = v.id",
                    values.join(",")
                ),
            )
            .await;
        }
    }
    let loaded = json!({
        "timeperiods": n_periods,
        "escalations": if contacts.is_empty() || checks.is_empty() { 0 } else { a.escalations },
        "escalations_for_every_check": (0..a.escalations).filter(|j| j % 1000 == 0).count(),
        "contacts": contacts.len(),
        "checks_with_options": with_options,
        "load_s": t.elapsed().as_secs_f64(),
    });
    eprintln!("policy rows loaded: {loaded}");
    loaded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_generated_timeperiod_is_good_and_escalations_name_existing_ones() {
        let rows = periods(1000);
        let (built, bad) =
            Periods::build(rows.iter().map(|(n, d)| (n.as_str(), d.as_str())), jiff::tz::TimeZone::UTC);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(built.len(), 1000);
        // Every shape is used, and a few of them are active at a given instant.
        let at = 1_796_000_000; // 2026-12-01
        let active = built.names().filter(|n| built.is_active(n, at) == Some(true)).count();
        assert!(active > 0 && active < 1000, "{active}");
        let checks: Vec<i64> = (1..=100_000).collect();
        let e = escalation(4, &checks, &[1, 2], 1000);
        assert!(e.contains("'oncall-4'"), "{e}");
        assert!(escalation(0, &checks, &[1], 1000).starts_with("(NULL, 1,"));
    }
}
