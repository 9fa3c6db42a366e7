//! The faults the harness injects, one at a time, each healed before the next, and the
//! firewall that blinds one worker (by its uid) from the target farm.

use std::process::Command;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// `kill -9` of the current controller, restarted a moment later.
    KillController,
    /// `kill -9` of a worker that is not the controller, restarted after 1–5 s.
    KillWorker,
    /// `kill -9` of the viewserver, restarted on the same address after 1–3 s.
    KillViewserver,
    /// SIGSTOP of the controller for longer than the dead-node timeout, then SIGCONT.
    ZombieController,
    /// The database stopped for 10–60 s.
    DatabaseDown,
    /// One worker's packets to the targets rejected while the others still reach them.
    BlindWorker,
    /// The webhook receiver not listening for a while.
    ReceiverDown,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::KillController,
        Fault::KillWorker,
        Fault::KillViewserver,
        Fault::ZombieController,
        Fault::DatabaseDown,
        Fault::BlindWorker,
        Fault::ReceiverDown,
    ];
}

/// Draws faults in rounds: every kind once per round, in a shuffled order, so even a short run
/// sees each kind.
pub struct Plan {
    kinds: Vec<Fault>,
    queue: Vec<Fault>,
}

impl Plan {
    pub fn new(kinds: Vec<Fault>) -> Plan {
        Plan { kinds, queue: Vec::new() }
    }

    pub fn next(&mut self, rng: &mut StdRng) -> Option<Fault> {
        if self.queue.is_empty() {
            self.queue = self.kinds.clone();
            self.queue.shuffle(rng);
        }
        self.queue.pop()
    }
}

/// A seconds range scaled down for short runs: at most `cap` seconds.
pub fn secs(rng: &mut StdRng, lo: f64, hi: f64, cap: f64) -> f64 {
    let hi = hi.min(cap).max(lo.min(cap));
    let lo = lo.min(hi);
    if hi > lo { rng.random_range(lo..hi) } else { lo }
}

/// An nftables table of the harness's own, with one chain on the output hook.
pub struct Firewall {
    table: String,
    farm_port: u16,
}

impl Firewall {
    /// `None` when nft is missing or refuses (not root).
    pub fn new(farm_port: u16) -> Option<Firewall> {
        let table = format!("bearmon_chaos_{}", std::process::id());
        let fw = Firewall { table, farm_port };
        let ok = fw.nft(&format!("add table inet {}", fw.table))
            && fw.nft(&format!("add chain inet {} out {{ type filter hook output priority 0 ; }}", fw.table));
        ok.then_some(fw)
    }

    fn nft(&self, cmd: &str) -> bool {
        let args: Vec<&str> = cmd.split(' ').collect();
        Command::new("nft").args(&args).status().is_ok_and(|s| s.success())
    }

    /// Rejects every connection from `uid` to the farm with a reset.
    pub fn blind(&self, uid: u32) -> bool {
        self.nft(&format!(
            "add rule inet {} out meta skuid {uid} tcp dport {} reject with tcp reset",
            self.table, self.farm_port
        ))
    }

    pub fn unblind(&self) -> bool {
        self.nft(&format!("flush chain inet {} out", self.table))
    }
}

impl Drop for Firewall {
    fn drop(&mut self) {
        let _ = self.nft(&format!("delete table inet {}", self.table));
    }
}
