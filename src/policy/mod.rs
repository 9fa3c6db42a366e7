//! Who is told of a state change, and when: the notification policy, pure like the decision
//! core beside it (`decide`). It takes what the controller knows (a check's alert rows, the
//! new state, who was told of the problem a recovery ends) and answers with contact ids; no
//! clock, no I/O, so every rule is a table test. Shinken's notification logic (periods,
//! escalations, downtime, flapping, dependencies) grows here.

pub mod period;

use std::collections::BTreeSet;

pub mod depend;
pub mod downtime;
pub mod flap;
#[cfg(test)]
mod flap_tests;
pub mod handler;
pub mod notify;
#[cfg(test)]
mod notify_tests;
pub mod options;
pub mod warning;

use crate::decide::Status;

/// When an alert fires (`alerts.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertWhen {
    Online,
    Offline,
    Both,
}

impl AlertWhen {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(AlertWhen::Online),
            "offline" => Some(AlertWhen::Offline),
            "both" => Some(AlertWhen::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertWhen::Online => "online",
            AlertWhen::Offline => "offline",
            AlertWhen::Both => "both",
        }
    }

    /// Whether a flip to `to` notifies through this alert.
    pub fn matches(self, to: Status) -> bool {
        matches!(
            (self, to),
            (AlertWhen::Both, _)
                | (AlertWhen::Online, Status::Online)
                | (AlertWhen::Offline, Status::Offline)
        )
    }
}

/// The contacts a flip to `to` notifies through a check's alerts (`(contact, when)` pairs),
/// each once, in id order.
pub fn recipients(alerts: impl IntoIterator<Item = (i64, AlertWhen)>, to: Status) -> Vec<i64> {
    let set: BTreeSet<i64> = alerts.into_iter().filter(|(_, w)| w.matches(to)).map(|(c, _)| c).collect();
    set.into_iter().collect()
}

/// Who hears of a recovery: the contacts its alerts name for `online`, and everyone who was
/// told of the problem it ends (gobearmon sent recoveries by alert type only, so a contact
/// paged for an outage could never hear it was over). Each once, in id order.
pub fn recovery_recipients(matching: &[i64], told_of_problem: &[i64]) -> Vec<i64> {
    let set: BTreeSet<i64> = matching.iter().chain(told_of_problem).copied().collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_fires_for_its_type() {
        let alerts =
            [(3, AlertWhen::Offline), (1, AlertWhen::Both), (2, AlertWhen::Online), (1, AlertWhen::Offline)];
        assert_eq!(recipients(alerts, Status::Offline), vec![1, 3]);
        assert_eq!(recipients(alerts, Status::Online), vec![1, 2]);
        assert_eq!(recipients([], Status::Online), Vec::<i64>::new());
    }

    #[test]
    fn a_recovery_reaches_everyone_told_of_the_problem() {
        // Contact 5 was paged for the outage through an `offline` alert: it hears the
        // recovery too, once, beside the `online` alert's contact 2.
        assert_eq!(recovery_recipients(&[2, 5], &[5, 9]), vec![2, 5, 9]);
        assert_eq!(recovery_recipients(&[], &[]), Vec::<i64>::new());
    }

    #[test]
    fn alert_types_read_back() {
        for w in [AlertWhen::Online, AlertWhen::Offline, AlertWhen::Both] {
            assert_eq!(AlertWhen::parse(w.as_str()), Some(w));
        }
        assert_eq!(AlertWhen::parse("down"), None);
    }
}
