//! The layout rules of ARCHITECTURE.md, checked on the source so they stay true: which room
//! may import which, where SQL may be written, and how long a file may grow. Reads `src/`
//! as text; a rule broken here names the file, the line and the rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Rooms that do I/O: the pure rooms import none of them.
const IO: &[&str] = &[
    "db",
    "store",
    "alert",
    "controller",
    "worker",
    "viewserver",
    "web",
    "node",
    "cli",
    "metrics",
    "config",
    "telemetry",
];

/// (room or file under `src/`, crate modules it must not import, why).
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "store",
        &["controller", "alert", "web", "worker", "viewserver", "cli"],
        "the store is below every other room",
    ),
    (
        "web",
        &["controller", "worker", "viewserver", "cli"],
        "the web room reads the controller only as a ReadModel",
    ),
    ("alert", &["controller", "worker", "viewserver", "web", "cli"], "the delivery loop knows no Controller"),
    ("alert/contact.rs", &["store"], "contact parsing knows no store types"),
    ("decide", IO, "the decision core is pure"),
    ("check", IO, "check kinds import nothing that does I/O"),
    ("policy", IO, "the notification policy is pure"),
    (
        "controller",
        &["worker", "viewserver", "cli"],
        "the controller is started by the worker, not the reverse",
    ),
    (
        "node",
        &["controller", "worker", "viewserver", "web", "store", "cli"],
        "node plumbing serves every role",
    ),
];

/// Files outside `store/` (and the migrations) that may hold SQL text.
const SQL_ALLOWED: &[&str] = &["store", "db"];

const MAX_LINES: usize = 500;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The crate modules a line names: `crate::x`, and each name in `crate::{x, y::z}`.
fn crate_modules(line: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String =
                    part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(name);
        }
    }
    out
}

fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).expect("under src").to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&p).expect("read source"))
        })
        .collect()
}

fn in_room(rel: &str, room: &str) -> bool {
    rel == room || rel.starts_with(&format!("{room}/")) || rel == format!("{room}.rs")
}

#[test]
fn rooms_import_only_what_the_architecture_allows() {
    let mut broken = Vec::new();
    for (rel, text) in sources() {
        for (room, forbidden, why) in RULES {
            if !in_room(&rel, room) {
                continue;
            }
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for m in crate_modules(code) {
                    if forbidden.contains(&m.as_str()) {
                        broken.push(format!("src/{rel}:{}: imports crate::{m} ({why})", n + 1));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "layout rules broken:\n{}", broken.join("\n"));
}

#[test]
fn sql_is_written_only_in_the_store() {
    let mut broken = Vec::new();
    for (rel, text) in sources() {
        if SQL_ALLOWED.iter().any(|room| in_room(&rel, room))
            || rel.starts_with("bin/")
            || rel.starts_with("cli/")
        {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            if line.contains("sqlx::query") || line.contains(".sql(") {
                broken.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(broken.is_empty(), "SQL outside store/:\n{}", broken.join("\n"));
}

#[test]
fn no_source_file_is_over_500_lines() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > MAX_LINES)
        .map(|(rel, text)| format!("src/{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these into modules of one job each:\n{}", long.join("\n"));
}

#[test]
fn the_import_reader_sees_every_form() {
    assert_eq!(crate_modules("use crate::store::{Fence, outbox};"), BTreeSet::from(["store".to_string()]));
    assert_eq!(
        crate_modules("use crate::{db::Db, web::view::Shown};"),
        BTreeSet::from(["db".to_string(), "web".to_string()])
    );
    assert_eq!(crate_modules("let x = crate::util::now_ms();"), BTreeSet::from(["util".to_string()]));
}
