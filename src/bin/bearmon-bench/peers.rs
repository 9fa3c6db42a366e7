//! The peers, run by the same harness against the same targets at the same demanded rate
//! (`--peer blackbox|nagios`): Prometheus blackbox_exporter, driven by the harness as
//! Prometheus would scrape it (one `/probe` per check per interval), and Nagios 4 core with
//! monitoring-plugins' `check_http` or `check_tcp` (Debian packages both). Each reports the
//! executions per second it held and the CPU its own processes (plugins included) spent.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What one peer did during the window.
pub struct Figures {
    pub executions_per_s: f64,
    pub cpu_s: f64,
    pub window_s: f64,
    pub extra: Value,
}

impl Figures {
    pub fn json(&self, demanded: f64) -> Value {
        let runs = self.executions_per_s * self.window_s;
        json!({
            "demanded_per_s": demanded,
            "executions_per_s": self.executions_per_s,
            "cpu_share_of_2_cores": self.cpu_s / self.window_s / 2.0,
            "cpu_ms_per_run": if runs > 0.0 { self.cpu_s / runs * 1000.0 } else { f64::NAN },
            "detail": self.extra,
        })
    }
}

/// utime + stime of `pid` and of its reaped children (cutime + cstime), in seconds.
fn cpu_with_children(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (n(11) + n(12) + n(13) + n(14)) / 100.0
}

/// `pid` and every live descendant.
fn tree(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else { continue };
            let ppid =
                stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    out
}

fn cpu_tree(pid: u32) -> f64 {
    tree(pid).into_iter().map(cpu_with_children).sum()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        for p in tree(self.0.id()).into_iter().rev() {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).stderr(Stdio::null()).status();
        }
        let _ = self.0.wait();
    }
}

async fn wait_port(port: u16) -> bool {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

/// blackbox_exporter probing `targets` (URLs or host:port) every `interval`, driven as
/// Prometheus would: each target's probe at its own phase of the interval, at most 1,024
/// in flight (a probe that finds none free counts as missed).
pub async fn blackbox(
    dir: &Path,
    targets: &[String],
    kind: &str,
    interval: u64,
    seconds: u64,
) -> Result<Figures, String> {
    let cfg = dir.join("blackbox.yml");
    std::fs::write(
        &cfg,
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n  tcp_connect:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      preferred_ip_protocol: ip4\n  icmp:\n    prober: icmp\n    timeout: 5s\n    icmp:\n      preferred_ip_protocol: ip4\n",
    )
    .map_err(|e| e.to_string())?;
    let port = free_port().await;
    let child = Command::new("prometheus-blackbox-exporter")
        .args([
            &format!("--config.file={}", cfg.display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--log.level=warn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("prometheus-blackbox-exporter: {e}"))?;
    let proc = Kill(child);
    if !wait_port(port).await {
        return Err("blackbox_exporter did not listen".into());
    }
    let module = match kind {
        "tcp" => "tcp_connect",
        "icmp" => "icmp",
        _ => "http_2xx",
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let ok = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let missed = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(tokio::sync::Semaphore::new(1024));
    let n = targets.len();
    let period = Duration::from_secs(interval);
    let started = Instant::now();
    // One interval of warm-up, then the window.
    let total = period + Duration::from_secs(seconds);
    let mut measured: Option<(Instant, f64, u64, u64)> = None;
    let mut next = 0usize;
    let mut cycle = 0u64;
    loop {
        let elapsed = started.elapsed();
        if measured.is_none() && elapsed >= period {
            measured = Some((
                Instant::now(),
                cpu_tree(proc.0.id()),
                done.load(Ordering::Relaxed),
                ok.load(Ordering::Relaxed),
            ));
        }
        if elapsed >= total {
            break;
        }
        // Launch every probe whose phase has come.
        loop {
            let due = period * cycle as u32 + period.mul_f64(next as f64 / n as f64);
            if due > elapsed {
                break;
            }
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                missed.fetch_add(1, Ordering::Relaxed);
                next += 1;
                if next == n {
                    next = 0;
                    cycle += 1;
                }
                continue;
            };
            let url = format!("http://127.0.0.1:{port}/probe?module={module}&target={}", targets[next]);
            let (client, ok, done) = (client.clone(), ok.clone(), done.clone());
            tokio::spawn(async move {
                let _permit = permit;
                if let Ok(r) = client.get(url).send().await
                    && let Ok(body) = r.text().await
                    && body.contains("\nprobe_success 1")
                {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
            next += 1;
            if next == n {
                next = 0;
                cycle += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (t0, cpu0, done0, ok0) = measured.ok_or("window never started")?;
    let window_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_tree(proc.0.id()) - cpu0;
    let probes = done.load(Ordering::Relaxed) - done0;
    let succeeded = ok.load(Ordering::Relaxed) - ok0;
    Ok(Figures {
        executions_per_s: probes as f64 / window_s,
        cpu_s,
        window_s,
        extra: json!({"probes": probes, "succeeded": succeeded, "missed_no_slot": missed.load(Ordering::Relaxed)}),
    })
}

/// Nagios 4 core running `check_http`/`check_tcp` on `hosts` (one service each) every
/// `interval` seconds. Executions per second come from Nagios's own counter of active
/// service checks in the last minute (status.dat), so the window should be ≥ 60 s.
pub async fn nagios(
    dir: &Path,
    hosts: &[String],
    port: u16,
    kind: &str,
    interval: u64,
    seconds: u64,
) -> Result<Figures, String> {
    let nd = dir.join("nagios");
    let _ = std::fs::remove_dir_all(&nd);
    std::fs::create_dir_all(nd.join("checkresults")).map_err(|e| e.to_string())?;
    let d = nd.display();
    let plugin = match kind {
        "tcp" => format!("/usr/lib/nagios/plugins/check_tcp -H $HOSTADDRESS$ -p {port} -t 5"),
        // Five echo requests, as bearmon's icmp kind sends.
        "icmp" => {
            "/usr/lib/nagios/plugins/check_ping -H $HOSTADDRESS$ -w 1000,80% -c 2000,100% -p 5 -t 5".into()
        }
        _ => format!("/usr/lib/nagios/plugins/check_http -I $HOSTADDRESS$ -p {port} -u / -t 5"),
    };
    let mut objects = format!(
        "define timeperiod {{\n timeperiod_name 24x7\n alias 24x7\n sunday 00:00-24:00\n monday 00:00-24:00\n tuesday 00:00-24:00\n wednesday 00:00-24:00\n thursday 00:00-24:00\n friday 00:00-24:00\n saturday 00:00-24:00\n}}\n\
         define command {{\n command_name probe\n command_line {plugin}\n}}\n\
         define command {{\n command_name nothing\n command_line /bin/true\n}}\n\
         define contact {{\n contact_name nobody\n service_notification_period 24x7\n host_notification_period 24x7\n service_notification_options n\n host_notification_options n\n service_notification_commands nothing\n host_notification_commands nothing\n}}\n"
    );
    for (i, h) in hosts.iter().enumerate() {
        objects.push_str(&format!(
            "define host {{\n host_name h{i}\n address {h}\n check_command nothing\n max_check_attempts 1\n active_checks_enabled 0\n check_period 24x7\n contacts nobody\n notification_period 24x7\n notifications_enabled 0\n}}\n\
             define service {{\n host_name h{i}\n service_description probe\n check_command probe\n check_interval {interval}\n retry_interval {interval}\n max_check_attempts 1\n check_period 24x7\n notification_period 24x7\n contacts nobody\n notifications_enabled 0\n}}\n"
        ));
    }
    std::fs::write(nd.join("objects.cfg"), objects).map_err(|e| e.to_string())?;
    let cfg = nd.join("nagios.cfg");
    std::fs::write(
        &cfg,
        format!(
            "log_file={d}/nagios.log\ncfg_file={d}/objects.cfg\nstatus_file={d}/status.dat\nstatus_update_interval=2\n\
             lock_file={d}/nagios.lock\ntemp_file={d}/nagios.tmp\ntemp_path={d}\ncheck_result_path={d}/checkresults\n\
             state_retention_file={d}/retention.dat\nretain_state_information=0\nobject_cache_file={d}/objects.cache\n\
             precached_object_file={d}/objects.precache\ncommand_file={d}/nagios.cmd\ncheck_external_commands=0\n\
             nagios_user=nagios\nnagios_group=nagios\ninterval_length=1\nmax_service_check_spread={}\n\
             service_inter_check_delay_method=s\nmax_concurrent_checks=0\nenable_notifications=0\n\
             enable_event_handlers=0\nprocess_performance_data=0\nuse_large_installation_tweaks=1\n\
             enable_environment_macros=0\ncheck_service_freshness=0\ncheck_host_freshness=0\nlog_service_retries=0\n\
             log_initial_states=0\ncheck_result_reaper_frequency=1\nenable_flap_detection=0\nillegal_macro_output_chars=`~$&|'\"<>\n",
            interval.div_ceil(60)
        ),
    )
    .map_err(|e| e.to_string())?;
    let _ = Command::new("chown").args(["-R", "nagios:nagios", &nd.display().to_string()]).status();
    let child = Command::new("nagios4")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("nagios4: {e}"))?;
    let proc = Kill(child);
    let status = nd.join("status.dat");
    let checks_1m = || -> Option<f64> {
        let s = std::fs::read_to_string(&status).ok()?;
        let line = s.lines().find(|l| l.trim_start().starts_with("active_scheduled_service_check_stats="))?;
        line.split('=').nth(1)?.split(',').next()?.trim().parse().ok()
    };
    // Warm-up: the first interval spreads the initial checks; then a window.
    tokio::time::sleep(Duration::from_secs(interval.max(60))).await;
    if checks_1m().is_none() {
        let log = std::fs::read_to_string(nd.join("nagios.log")).unwrap_or_default();
        return Err(format!(
            "nagios wrote no status: {}",
            log.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ));
    }
    let t0 = Instant::now();
    let cpu0 = cpu_tree(proc.0.id());
    let mut samples = Vec::new();
    while t0.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if t0.elapsed() >= Duration::from_secs(60)
            && let Some(c) = checks_1m()
        {
            samples.push(c / 60.0);
        }
    }
    let window_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_tree(proc.0.id()) - cpu0;
    let rate = if samples.is_empty() {
        checks_1m().unwrap_or(0.0) / 60.0
    } else {
        samples.iter().sum::<f64>() / samples.len() as f64
    };
    Ok(Figures {
        executions_per_s: rate,
        cpu_s,
        window_s,
        extra: json!({"rate_from": "status.dat active_scheduled_service_check_stats (1 min)"}),
    })
}
