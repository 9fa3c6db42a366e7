//! `icmp` checks with native ICMP sockets: loopback, and a host in a network namespace the
//! test makes, where nftables drops exactly K of every 5 echo requests (`numgen inc mod 5`),
//! so the loss thresholds are tested at exactly 1, 2 and 5 of 5 lost.

mod common;

use std::process::Command;

use bearmon::check::Verdict;
use common::probe;

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Skips (or fails under scripts/test.sh) when raw sockets and namespaces are unavailable.
fn privileged() -> bool {
    if is_root() {
        return true;
    }
    assert!(!common::servers_required(), "the icmp tests need root (raw sockets, namespaces)");
    eprintln!("skipped: icmp tests need root");
    false
}

fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A namespace with one veth link to the root namespace; removed on drop.
struct Netns {
    name: String,
    host_if: String,
    target: String,
}

impl Netns {
    fn new() -> Self {
        let id = std::process::id() % 100_000;
        let subnet = std::process::id() % 250 + 1;
        let name = format!("bm-icmp-{id}");
        let host_if = format!("bmh{id}");
        let ns_if = format!("bmn{id}");
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &host_if]).output();
        run(&["ip", "netns", "add", &name]);
        let ns = Netns { name: name.clone(), host_if: host_if.clone(), target: format!("10.250.{subnet}.2") };
        run(&["ip", "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if]);
        run(&["ip", "link", "set", &ns_if, "netns", &name]);
        run(&["ip", "addr", "add", &format!("10.250.{subnet}.1/30"), "dev", &host_if]);
        run(&["ip", "link", "set", &host_if, "up"]);
        run(&["ip", "-n", &name, "addr", "add", &format!("10.250.{subnet}.2/30"), "dev", &ns_if]);
        run(&["ip", "-n", &name, "link", "set", &ns_if, "up"]);
        run(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        run(&["ip", "netns", "exec", &name, "nft", "add", "table", "inet", "bm"]);
        run(&[
            "ip",
            "netns",
            "exec",
            &name,
            "nft",
            "add chain inet bm input { type filter hook input priority 0; policy accept; }",
        ]);
        ns
    }

    /// Drops exactly `k` of every 5 echo requests from now on.
    fn drop_of_five(&self, k: u32) {
        run(&["ip", "netns", "exec", &self.name, "nft", "flush", "chain", "inet", "bm", "input"]);
        let rule = match k {
            0 => return,
            5 => "add rule inet bm input icmp type echo-request drop".to_string(),
            k => format!("add rule inet bm input icmp type echo-request numgen inc mod 5 < {k} drop"),
        };
        run(&["ip", "netns", "exec", &self.name, "nft", &rule]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).output();
    }
}

async fn ping(target: &str, extra: serde_json::Value) -> bearmon::check::Outcome {
    let mut data = serde_json::json!({"target": target, "timeout": 3});
    for (k, v) in extra.as_object().unwrap() {
        data[k] = v.clone();
    }
    probe("icmp", &data.to_string()).await
}

#[tokio::test]
async fn loopback_is_online() {
    if !privileged() {
        return;
    }
    let out = ping("127.0.0.1", serde_json::json!({})).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
    let out = ping("localhost", serde_json::json!({"force_ip": 4, "max_packet_loss": 0})).await;
    assert_eq!(out.verdict, Verdict::Online, "{out:?}");
}

#[tokio::test]
async fn loss_thresholds_at_exactly_1_2_and_5_of_5() {
    if !privileged() {
        return;
    }
    let ns = Netns::new();
    let t = ns.target.clone();

    ns.drop_of_five(0);
    assert_eq!(ping(&t, serde_json::json!({"max_packet_loss": 0})).await.verdict, Verdict::Online);

    ns.drop_of_five(1);
    let out = ping(&t, serde_json::json!({"max_packet_loss": 0})).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert_eq!(out.message, "ping: 20% packet loss (1 of 5 lost)");
    assert_eq!(ping(&t, serde_json::json!({"max_packet_loss": 1})).await.verdict, Verdict::Online);
    assert_eq!(
        ping(&t, serde_json::json!({"packetloss": true})).await.verdict,
        Verdict::Online,
        "20 % is not above 30 %"
    );

    ns.drop_of_five(2);
    let out = ping(&t, serde_json::json!({"packetloss": true})).await;
    assert_eq!(out.verdict, Verdict::Offline, "40 % is above gobearmon's 30 %");
    assert_eq!(out.message, "ping: 40% packet loss (2 of 5 lost)");
    assert_eq!(
        ping(&t, serde_json::json!({})).await.verdict,
        Verdict::Online,
        "without packetloss only 100 % fails"
    );
    assert_eq!(ping(&t, serde_json::json!({"max_packet_loss": 2})).await.verdict, Verdict::Online);

    ns.drop_of_five(5);
    let out = ping(&t, serde_json::json!({})).await;
    assert_eq!(out.verdict, Verdict::Offline);
    assert_eq!(out.message, "ping: 100% packet loss (5 of 5 lost)");
}

#[tokio::test]
async fn invalid_targets_never_run() {
    let err = bearmon::check::CheckSpec::parse(9, "icmp", r#"{"target":"1.2.3.4; rm -rf /"}"#).unwrap_err();
    assert_eq!(err.to_string(), "check 9: field target: ping target contains invalid characters");
}

/// Without root, cap_net_raw or ping_group_range, the run is an *error* (not a vote for
/// offline) whose message says how to fix it. Runs the real binary as `nobody`.
#[test]
fn no_raw_socket_is_a_clear_error_not_offline() {
    if !privileged() {
        return;
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    if range.split_whitespace().collect::<Vec<_>>() != ["1", "0"] {
        eprintln!("skipped: unprivileged ping is allowed here ({range:?})");
        return;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(env!("CARGO_BIN_EXE_bearmon"))
        .args(["probe", "--type", "icmp", "--data", r#"{"target":"127.0.0.1","timeout":3}"#])
        .output()
        .expect("run setpriv");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.starts_with("error in "), "an error, not offline: {text}");
    assert!(text.contains("cannot open an ICMP socket") && text.contains("cap_net_raw"), "{text}");
}
