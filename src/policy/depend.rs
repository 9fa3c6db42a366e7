//! Dependencies between checks, from the seed's "Host and Service Dependencies" section,
//! pure: a `dependencies` row says that a check (the dependent) is not run
//! (`execution_failure_criteria`) or does not page (`notification_failure_criteria`) while
//! its parent (the master) is in one of the named states; `inherits_parent` makes it also
//! fail when the parent's own dependencies fail, level after level; `dependency_period`
//! limits when it applies. The dependencies of a check are tested in turn and the first that
//! fails decides ("Shinken will break out of the dependency check loop").
//!
//! gobearmon-style parents: a row whose `notification_failure_criteria` is NULL uses `c`
//! (the parent failed), so a check whose parent has failed is UNREACHABLE and pages nobody,
//! and one dead router gives one page. A cycle is a row problem: its rows are left out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A check's state as a dependency sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepState {
    Ok,
    Warning,
    Unknown,
    Critical,
    /// Not checked yet.
    Pending,
}

/// Failure criteria: letters o(k), w(arning), u(nknown), c(ritical), p(ending), n(one); a
/// host's d(own) reads as c.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Criteria(u8);

impl Criteria {
    pub const NONE: Criteria = Criteria(0);
    pub const CRITICAL: Criteria = Criteria(8);

    /// Parses `"w,u,c"`.
    ///
    /// # Errors
    /// The letter that is not one of o,w,u,c,p,n,d.
    pub fn parse(s: &str) -> Result<Criteria, String> {
        let mut out = 0;
        for part in s.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            out |= match part {
                "o" => 1,
                "w" => 2,
                "u" => 4,
                "c" | "d" => 8,
                "p" => 16,
                "n" => 0,
                other => return Err(format!("{other:?} is not one of the letters o,w,u,c,p,n")),
            };
        }
        Ok(Criteria(out))
    }

    pub fn has(self, s: DepState) -> bool {
        let bit = match s {
            DepState::Ok => 1,
            DepState::Warning => 2,
            DepState::Unknown => 4,
            DepState::Critical => 8,
            DepState::Pending => 16,
        };
        self.0 & bit != 0
    }
}

/// One row of `dependencies`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    pub id: i64,
    /// The dependent check.
    pub check_id: i64,
    /// The check depended upon (the master).
    pub parent_id: i64,
    pub execution: Criteria,
    pub notification: Criteria,
    pub inherits_parent: bool,
    pub period: Option<Arc<str>>,
}

/// Which test a dependency is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Execution,
    Notification,
}

/// Every dependency, by dependent check.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    by_child: HashMap<i64, Vec<Arc<Dependency>>>,
    /// The dependent checks of each parent.
    by_parent: HashMap<i64, Vec<i64>>,
}

/// How deep `inherits_parent` is followed (cycles are refused at build; this bounds a long
/// chain's work).
const MAX_DEPTH: usize = 32;

impl Graph {
    /// Builds the graph; rows that close a cycle are returned with the cycle named (and left
    /// out, so the rest works).
    pub fn build(rows: impl IntoIterator<Item = Dependency>) -> (Graph, Vec<(i64, String)>) {
        let mut g = Graph::default();
        let mut bad = Vec::new();
        let mut edges: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
        let mut rows: Vec<Dependency> = rows.into_iter().collect();
        rows.sort_by_key(|d| d.id);
        for d in rows {
            if d.check_id == d.parent_id {
                bad.push((d.id, format!("check {} depends on itself", d.check_id)));
                continue;
            }
            if let Some(path) = path(&edges, d.parent_id, d.check_id) {
                let cycle: Vec<String> =
                    std::iter::once(d.check_id).chain(path).map(|c| format!("check {c}")).collect();
                bad.push((d.id, format!("closes a cycle of dependencies: {}", cycle.join(" -> "))));
                continue;
            }
            edges.entry(d.check_id).or_default().insert(d.parent_id);
            g.by_parent.entry(d.parent_id).or_default().push(d.check_id);
            g.by_child.entry(d.check_id).or_default().push(Arc::new(d));
        }
        (g, bad)
    }

    pub fn is_empty(&self) -> bool {
        self.by_child.is_empty()
    }

    /// The checks with a dependency that may hold their execution (for `inherits_parent`,
    /// a check's own row is what makes its parents' parents count).
    pub fn executing_children(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_child
            .iter()
            .filter(|(_, deps)| deps.iter().any(|d| d.execution != Criteria::NONE))
            .map(|(c, _)| *c)
    }

    /// The checks with an execution dependency that has a `dependency_period`: whether it
    /// holds them changes with time, not only with their parents' states.
    pub fn timed_children(&self) -> impl Iterator<Item = i64> + '_ {
        self.by_child
            .iter()
            .filter(|(_, deps)| deps.iter().any(|d| d.execution != Criteria::NONE && d.period.is_some()))
            .map(|(c, _)| *c)
    }

    /// Every check whose dependencies may read the state of one of `parents` (their
    /// dependents, and theirs, as `inherits_parent` follows them), at most [`MAX_DEPTH`] deep.
    pub fn dependents_of(&self, parents: impl IntoIterator<Item = i64>) -> BTreeSet<i64> {
        let mut out = BTreeSet::new();
        let mut level: Vec<i64> = parents.into_iter().collect();
        for _ in 0..MAX_DEPTH {
            let next: Vec<i64> = level
                .iter()
                .flat_map(|p| self.by_parent.get(p).map(Vec::as_slice).unwrap_or_default())
                .copied()
                .filter(|c| out.insert(*c))
                .collect();
            if next.is_empty() {
                break;
            }
            level = next;
        }
        out
    }

    /// The dependencies of a check.
    pub fn of(&self, check: i64) -> &[Arc<Dependency>] {
        self.by_child.get(&check).map(Vec::as_slice).unwrap_or_default()
    }

    /// The parent whose state fails a dependency of `check` for `kind`, if one does.
    /// `state_of` gives each check's current state; `active(period)` whether a
    /// `dependency_period` is active now.
    pub fn failed(
        &self,
        check: i64,
        kind: Kind,
        state_of: &dyn Fn(i64) -> DepState,
        active: &dyn Fn(&str) -> bool,
    ) -> Option<i64> {
        self.failed_at(check, kind, state_of, active, 0)
    }

    fn failed_at(
        &self,
        check: i64,
        kind: Kind,
        state_of: &dyn Fn(i64) -> DepState,
        active: &dyn Fn(&str) -> bool,
        depth: usize,
    ) -> Option<i64> {
        if depth > MAX_DEPTH {
            return None;
        }
        for d in self.of(check) {
            if d.period.as_deref().is_some_and(|p| !active(p)) {
                continue;
            }
            let criteria = match kind {
                Kind::Execution => d.execution,
                Kind::Notification => d.notification,
            };
            if criteria.has(state_of(d.parent_id)) {
                return Some(d.parent_id);
            }
            if d.inherits_parent
                && let Some(p) = self.failed_at(d.parent_id, kind, state_of, active, depth + 1)
            {
                return Some(p);
            }
        }
        None
    }
}

/// A path of parents from `from` to `to` in `edges` (child → parents), if there is one.
fn path(edges: &BTreeMap<i64, BTreeSet<i64>>, from: i64, to: i64) -> Option<Vec<i64>> {
    let mut stack = vec![(from, vec![from])];
    let mut seen = BTreeSet::new();
    while let Some((at, trail)) = stack.pop() {
        if at == to {
            return Some(trail);
        }
        if !seen.insert(at) {
            continue;
        }
        for p in edges.get(&at).into_iter().flatten() {
            let mut t = trail.clone();
            t.push(*p);
            stack.push((*p, t));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: i64, child: i64, parent: i64, exec: &str, notif: &str) -> Dependency {
        Dependency {
            id,
            check_id: child,
            parent_id: parent,
            execution: Criteria::parse(exec).unwrap(),
            notification: Criteria::parse(notif).unwrap(),
            inherits_parent: false,
            period: None,
        }
    }

    // The seed's services: A..G.
    const A: i64 = 1;
    const B: i64 = 2;
    const C: i64 = 3;
    const D: i64 = 4;
    const E: i64 = 5;
    const F: i64 = 6;
    const G: i64 = 7;

    /// The seed's example layout ("Example Service Dependencies").
    fn seed(inherit_fd: bool) -> Vec<Dependency> {
        let mut fd = dep(1, F, D, "o", "w,u");
        if inherit_fd {
            // "You could alternatively modify the dependency definition for services D and F".
            fd = Dependency { inherits_parent: true, ..dep(1, F, D, "o", "n") };
        }
        vec![
            fd,
            dep(2, F, E, "n", "w,u,c"),
            dep(3, F, C, "w", "c"),
            dep(4, D, A, "u", "n"),
            dep(5, E, B, "w,u", "c"),
            dep(6, E, C, "n", "w,u,c"),
        ]
    }

    fn with(states: &[(i64, DepState)]) -> impl Fn(i64) -> DepState + '_ {
        move |id| states.iter().find(|(c, _)| *c == id).map_or(DepState::Ok, |(_, s)| *s)
    }

    fn always(_: &str) -> bool {
        true
    }

    #[test]
    fn the_dependents_of_a_parent_are_found_down_the_chain() {
        let row = |id, check_id, parent_id| Dependency {
            id,
            check_id,
            parent_id,
            execution: Criteria::CRITICAL,
            notification: Criteria::CRITICAL,
            inherits_parent: true,
            period: None,
        };
        let (g, bad) = Graph::build([row(1, 2, 1), row(2, 3, 2), row(3, 4, 1), row(4, 9, 8)]);
        assert!(bad.is_empty());
        assert_eq!(g.dependents_of([1]).into_iter().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(g.dependents_of([2, 8]).into_iter().collect::<Vec<_>>(), [3, 9]);
        assert!(g.dependents_of([4]).is_empty());
    }

    #[test]
    fn execution_dependencies_of_the_seed() {
        // "Service E would have failed execution dependencies if Service B is in a WARNING or
        // UNKNOWN state."
        let (g, bad) = Graph::build(seed(false));
        assert!(bad.is_empty());
        for (s, fails) in [
            (DepState::Warning, true),
            (DepState::Unknown, true),
            (DepState::Critical, false),
            (DepState::Ok, false),
        ] {
            let got = g.failed(E, Kind::Execution, &with(&[(B, s)]), &always);
            assert_eq!(got.is_some(), fails, "B {s:?}");
        }
    }

    #[test]
    fn notification_dependencies_of_the_seed() {
        // "Service F would have failed notification dependencies if Service C is in a CRITICAL
        // state, and/or Service D is in a WARNING or UNKNOWN state, and/or/ if Service E is in a
        // WARNING, UNKNOWN, or CRITICAL state."
        let (g, _) = Graph::build(seed(false));
        let n = |states: &[(i64, DepState)]| g.failed(F, Kind::Notification, &with(states), &always);
        assert_eq!(n(&[(C, DepState::Critical)]), Some(C));
        assert_eq!(n(&[(C, DepState::Warning)]), None);
        assert_eq!(n(&[(D, DepState::Warning)]), Some(D));
        assert_eq!(n(&[(D, DepState::Unknown)]), Some(D));
        assert_eq!(n(&[(D, DepState::Critical)]), None);
        for s in [DepState::Warning, DepState::Unknown, DepState::Critical] {
            assert_eq!(n(&[(E, s)]), Some(E));
        }
        assert_eq!(n(&[]), None, "all OK: notifications go out");
        // "Service dependencies are not inherited": B's state does not reach F.
        assert_eq!(n(&[(B, DepState::Critical)]), None);
    }

    #[test]
    fn inherits_parent_tests_the_masters_dependencies_too() {
        // "Since the inherits_parent directive is enabled, the dependency between services A
        // and D will be tested when the dependency between services F and D are being tested."
        // (D is WARNING: the seed's F-D criterion `o` would otherwise fail on D itself.)
        let a_unknown = [(D, DepState::Warning), (A, DepState::Unknown)];
        let (g, _) = Graph::build(seed(true));
        assert_eq!(g.failed(F, Kind::Execution, &with(&a_unknown), &always), Some(A));
        assert_eq!(g.failed(F, Kind::Execution, &with(&[]), &always), Some(D), "criterion o: D is OK");
        let (g, _) = Graph::build(seed(false));
        assert_eq!(g.failed(F, Kind::Execution, &with(&a_unknown), &always), None);
        // "If the dependency definition between A and D had its inherits_parent directive
        // enable and service A was dependent on some other service (let's call it service G),
        // the service F would be dependent on services D, A, and G".
        let mut rows = seed(true);
        rows[3].inherits_parent = true;
        rows.push(dep(7, A, G, "c", "c"));
        let (g, _) = Graph::build(rows);
        let g_down = [(D, DepState::Warning), (G, DepState::Critical)];
        assert_eq!(g.failed(F, Kind::Execution, &with(&g_down), &always), Some(G));
    }

    #[test]
    fn host_dependencies_of_the_seed() {
        // Host C on A (notification d) and on B (d,u): "If even just one of the notification
        // dependencies for a host fails, Shinken will temporarily repress notifications".
        let (ha, hb, hc) = (11, 12, 13);
        let (g, _) = Graph::build([dep(1, hc, ha, "n", "d"), dep(2, hc, hb, "n", "d,u")]);
        let n = |states: &[(i64, DepState)]| g.failed(hc, Kind::Notification, &with(states), &always);
        assert_eq!(n(&[(ha, DepState::Critical)]), Some(ha));
        assert_eq!(n(&[(ha, DepState::Unknown)]), None);
        assert_eq!(n(&[(hb, DepState::Unknown)]), Some(hb));
        assert_eq!(n(&[]), None);
    }

    #[test]
    fn a_dependency_applies_only_in_its_period() {
        // "Service dependencies might only be valid during specific timeperiods".
        let d = Dependency { period: Some("nights".into()), ..dep(1, 2, 1, "c", "c") };
        let (g, _) = Graph::build([d]);
        let down = with(&[(1, DepState::Critical)]);
        assert_eq!(g.failed(2, Kind::Notification, &down, &|p| p != "nights"), None);
        assert_eq!(g.failed(2, Kind::Notification, &down, &always), Some(1));
    }

    #[test]
    fn cycles_are_named_and_left_out() {
        let (g, bad) = Graph::build([
            dep(1, 1, 2, "c", "c"),
            dep(2, 2, 3, "c", "c"),
            dep(3, 3, 1, "c", "c"),
            dep(4, 5, 5, "c", "c"),
        ]);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].1.contains("check 3 -> check 1 -> check 2 -> check 3"), "{bad:?}");
        assert!(bad[1].1.contains("depends on itself"));
        assert_eq!(g.of(3).len(), 0);
        assert_eq!(g.of(1).len(), 1);
    }

    #[test]
    fn criteria_read() {
        assert!(Criteria::parse("w,u,c").unwrap().has(DepState::Unknown));
        assert!(!Criteria::parse("n").unwrap().has(DepState::Critical));
        assert!(Criteria::parse("d").unwrap().has(DepState::Critical));
        assert!(Criteria::parse("x").is_err());
    }
}
