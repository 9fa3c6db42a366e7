//! `bearmon check-config FILE`: loads a config as the node it is for would, and says what is
//! wrong with it. The role is named with `--role` or read from the file's keys.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::config::{self, ViewserverConfig, ViewserverFile, WorkerConfig, WorkerFile, WorkerFlags};

/// The top-level keys a viewserver's file may hold.
const VIEWSERVER_KEYS: [&str; 7] = ["listen", "secret", "timing", "tls", "smtp", "alerts", "http"];

/// The worker keys that `bearmon up` sets itself and so ignores in its file.
const UP_IGNORES: [&str; 8] =
    ["name", "listen", "advertise", "viewserver", "secret", "database", "timing", "tls"];

/// Which command a file is for, from its top-level keys: a worker names itself or its
/// viewserver; a file of viewserver keys only is a viewserver's; anything else (worker keys
/// without a name or viewserver, as configs/up.toml) is `bearmon up`'s.
fn detect_role(table: &toml::Table) -> &'static str {
    if table.contains_key("viewserver") || table.contains_key("name") {
        "worker"
    } else if table.keys().all(|k| VIEWSERVER_KEYS.contains(&k.as_str())) {
        "viewserver"
    } else {
        "up"
    }
}

/// Prints `FILE: valid ROLE config` (exit code 0) or what is wrong (exit code 1).
///
/// # Errors
/// When the file cannot be read.
pub fn run(file: &Path, role: Option<&str>) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    // A file that is not TOML at all is reported by the load below, with its position.
    let table: toml::Table = toml::from_str(&text).unwrap_or_default();
    let role = role.unwrap_or_else(|| detect_role(&table));
    let result = match role {
        "viewserver" => check_viewserver(file),
        "up" => check_worker(file).map(|()| {
            for key in table.keys().filter(|k| UP_IGNORES.contains(&k.as_str())) {
                println!("{}: warning: `bearmon up` ignores `{key}` (it sets it itself)", file.display());
            }
        }),
        _ => check_worker(file),
    };
    match result {
        Ok(()) => {
            println!("{}: valid {role} config", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}: {}", file.display(), super::error_text(&e));
            Ok(ExitCode::from(1))
        }
    }
}

fn check_worker(file: &Path) -> anyhow::Result<()> {
    let f = config::load::<WorkerFile>(Some(file))?;
    // Flags may supply what the file leaves out; check the file's own values only.
    let flags = WorkerFlags {
        name: f.name.is_none().then(|| "placeholder".to_string()),
        viewserver: f.viewserver.is_none().then(|| "http://127.0.0.1:1".to_string()),
        secret: f.secret.is_none().then(|| "placeholder-secret".to_string()),
        ..WorkerFlags::default()
    };
    let c = WorkerConfig::resolve(f, flags)?;
    tls_loads(c.tls.as_ref())
}

fn check_viewserver(file: &Path) -> anyhow::Result<()> {
    let f = config::load::<ViewserverFile>(Some(file))?;
    let secret = f.secret.is_none().then(|| "placeholder-secret".to_string());
    let c = ViewserverConfig::resolve(f, None, secret)?;
    tls_loads(c.tls.as_ref())
}

/// The node loads its `[tls]` files at start: so does `check-config`.
fn tls_loads(files: Option<&crate::node::TlsFiles>) -> anyhow::Result<()> {
    if let Some(f) = files {
        crate::node::NodeTls::load(f).context("[tls]")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::detect_role;

    #[test]
    fn the_role_comes_from_the_keys() {
        let role = |text: &str| detect_role(&toml::from_str(text).unwrap());
        assert_eq!(role("name = \"w1\"\nconfirmations = 2\n"), "worker");
        assert_eq!(role("viewserver = \"http://x:7300\"\n"), "worker");
        assert_eq!(role("listen = \"127.0.0.1:7300\"\n[timing]\nheartbeat_secs = 1.0\n"), "viewserver");
        assert_eq!(role(""), "viewserver");
        assert_eq!(role("confirmations = 2\n[alerts]\nretry_first_secs = 2.0\n"), "up");
    }
}
