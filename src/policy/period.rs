//! Nagios/Shinken timeperiods (`timeperiods (id, name UNIQUE, definition)`, SPEC §10): when a
//! contact may be paged, a check checked, an escalation used. Pure: rows in, answers about
//! instants out; the caller supplies the clock and the time zone (`[policy] timezone`).
//!
//! A definition is the body of a Nagios `define timeperiod { ... }`, one directive a line;
//! `;` or `#` starts a comment, blank lines are skipped. `timeperiod_name`, `name`, `alias`,
//! `register` and custom `_VARIABLES` are accepted and ignored (the row's `name` column names
//! the period); `use a,b` includes the named periods; `exclude a,b` takes them out; every
//! other line is a date line, `<days> <HH:MM-HH:MM>[,<HH:MM-HH:MM>...]`, in every syntax of
//! Nagios 3 and Shinken: `monday`; `2007-08-01`, `2007-11-01 - 2007-11-10`; `july 4`,
//! `june 1 - july 5`, `february 10 - 20`, `february -1`; `day 15`, `day -1`, `day 1 - 15`;
//! `monday 3`, `thursday -1`, `monday 2 - thursday 3`, `thursday 2 - 4`; `monday 1 september`,
//! `tuesday 1 april - friday 2 may`; any of them but a plain weekday with a skip `/ N`
//! (`2007-08-01 / 2` is every other day from then on). How dates resolve is in `calendar`.
//!
//! **Semantics (Shinken's, not Nagios's).** An instant is in a period when it is in any of
//! its date lines or in any period it `use`s, and in none of the periods it `exclude`s (each
//! evaluated the same way, recursively). Nagios instead lets the most specific kind of date
//! line that names a day (calendar dates, then month dates, ..., then weekdays) replace the
//! others for that day; Shinken, the seed's project, takes the union, and so do we: adding a
//! line never takes time away. A used period brings its whole set, its own excludes applied.
//!
//! **Time.** Instants are unix seconds. Date lines name civil days of the time zone given to
//! [`Periods::build`] (UTC by default); a time range is wall-clock time on its day, 24:00 the
//! next midnight, a range whose start equals its end is empty. Across DST, wall-clock times
//! become instants by jiff's compatible disambiguation: a time skipped by a spring-forward gap
//! moves forward by the gap's length, a time repeated by a fall-back fold means its first
//! occurrence (so `01:00-01:30` on the fold day is active once, during the first 01:00-01:30).
//! Each day's ranges are clipped to that day; `eval` has the details.

mod calendar;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use jiff::tz::TimeZone;

use parse::Line;

/// Why a timeperiod row was left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("line {line}: {reason}: {text:?}")]
    Line { line: usize, text: String, reason: String },
    #[error("{directive} names the timeperiod {name:?}, which does not exist")]
    Missing { directive: &'static str, name: String },
    #[error("timeperiods refer to each other in a cycle: {0}")]
    Cycle(String),
}

/// A resolved period: its date lines and the indices of the periods it uses and excludes.
#[derive(Debug, Clone)]
struct Def {
    lines: Vec<Line>,
    uses: Vec<usize>,
    excludes: Vec<usize>,
}

#[derive(Debug)]
struct Inner {
    tz: TimeZone,
    names: Vec<String>,
    index: HashMap<String, usize>,
    defs: Vec<Def>,
}

/// A resolved set of timeperiods in one time zone. Cloning is cheap (shared).
#[derive(Debug, Clone)]
pub struct Periods {
    inner: Arc<Inner>,
}

impl Default for Periods {
    fn default() -> Self {
        Periods::empty()
    }
}

/// Parses one definition alone (no use/exclude resolution) for validation: Ok or the first
/// bad line.
pub fn check_definition(definition: &str) -> Result<(), PeriodError> {
    parse::parse_definition(definition).map(|_| ())
}

impl Periods {
    /// Builds from rows (name, definition). Every row that fails (bad line, missing
    /// use/exclude target, a cycle through use/exclude) is left out and returned with its
    /// error, in row order; rows depending on a failed row also fail (Missing). A name given
    /// twice keeps its first row. Never panics.
    pub fn build<'a>(
        rows: impl IntoIterator<Item = (&'a str, &'a str)>,
        tz: TimeZone,
    ) -> (Periods, Vec<(String, PeriodError)>) {
        let mut names: Vec<&str> = Vec::new();
        let mut parsed = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut errors: Vec<(usize, String, PeriodError)> = Vec::new();
        for (row, (name, definition)) in rows.into_iter().enumerate() {
            if index.contains_key(name) {
                let reason = "a timeperiod of this name comes earlier".to_string();
                errors.push((
                    row,
                    name.to_string(),
                    PeriodError::Line { line: 0, text: name.into(), reason },
                ));
                continue;
            }
            index.insert(name, names.len());
            names.push(name);
            parsed.push((row, parse::parse_definition(definition)));
        }
        let mut resolver = Resolver {
            names: &names,
            index: &index,
            parsed: &parsed,
            state: vec![State::New; names.len()],
            stack: Vec::new(),
        };
        for i in 0..names.len() {
            resolver.visit(i);
        }
        // Keep the rows that resolved, renumbered densely.
        let mut dense = vec![usize::MAX; names.len()];
        let mut kept = 0;
        for (i, state) in resolver.state.iter().enumerate() {
            match state {
                State::Good => {
                    dense[i] = kept;
                    kept += 1;
                }
                State::Bad(e) => errors.push((parsed[i].0, names[i].to_string(), e.clone())),
                State::New | State::Open => {}
            }
        }
        let mut inner = Inner { tz, names: Vec::new(), index: HashMap::new(), defs: Vec::new() };
        for (i, (_, result)) in parsed.iter().enumerate() {
            let Ok(p) = result else { continue };
            if dense[i] == usize::MAX {
                continue;
            }
            // Every target of a good row is good (or the row would be Missing); `get` only
            // keeps a broken invariant from panicking.
            let resolve = |list: &[String]| {
                let known = list.iter().filter_map(|n| index.get(n.as_str()).map(|&j| dense[j]));
                known.filter(|&d| d != usize::MAX).collect()
            };
            inner.defs.push(Def {
                lines: p.lines.clone(),
                uses: resolve(&p.uses),
                excludes: resolve(&p.excludes),
            });
            inner.index.insert(names[i].to_string(), inner.names.len());
            inner.names.push(names[i].to_string());
        }
        errors.sort_by_key(|(row, ..)| *row);
        let errors = errors.into_iter().map(|(_, name, e)| (name, e)).collect();
        (Periods { inner: Arc::new(inner) }, errors)
    }

    /// No periods, UTC.
    pub fn empty() -> Periods {
        Periods::build([], TimeZone::UTC).0
    }

    pub fn contains(&self, name: &str) -> bool {
        self.inner.index.contains_key(name)
    }

    /// The names, in row order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.inner.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.names.is_empty()
    }

    /// The time zone the periods are evaluated in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.inner.tz
    }

    /// Whether the period is active at `at` (unix seconds); None when the name is unknown.
    /// An instant beyond jiff's range (years -9999 to 9999) is in no period.
    pub fn is_active(&self, name: &str, at: i64) -> Option<bool> {
        let p = *self.inner.index.get(name)?;
        let Some(day) = eval::Day::of_instant(&self.inner.tz, at) else { return Some(false) };
        Some(eval::contains(&self.inner.defs, &self.inner.tz, p, &day, at))
    }

    /// The first instant after `at` (strictly) at which is_active changes, searched up to
    /// `horizon_days` days ahead (`at + horizon_days * 86400`, included); None when it never
    /// changes within it or the name is unknown.
    pub fn next_change(&self, name: &str, at: i64, horizon_days: u32) -> Option<i64> {
        self.transitions(name, at, 1, horizon_days).first().map(|&(t, _)| t)
    }

    /// The next `n` changes after `at` (strictly) within `horizon_days` days: (instant,
    /// active from it on). Empty when the name is unknown.
    pub fn transitions(&self, name: &str, at: i64, n: usize, horizon_days: u32) -> Vec<(i64, bool)> {
        let Some(&p) = self.inner.index.get(name) else { return Vec::new() };
        let limit = at.saturating_add(i64::from(horizon_days) * 86_400);
        eval::changes(&self.inner.defs, &self.inner.tz, p, at, n, limit)
    }
}

#[derive(Debug, Clone)]
enum State {
    New,
    /// On the depth-first path now.
    Open,
    Good,
    Bad(PeriodError),
}

/// Checks use/exclude references depth first: a missing or failed target fails the row
/// (Missing), a reference back into the current path fails every row on the cycle.
struct Resolver<'r> {
    names: &'r [&'r str],
    index: &'r HashMap<&'r str, usize>,
    parsed: &'r [(usize, Result<parse::Parsed, PeriodError>)],
    state: Vec<State>,
    stack: Vec<usize>,
}

impl Resolver<'_> {
    fn visit(&mut self, i: usize) {
        if !matches!(self.state[i], State::New) {
            return;
        }
        let p = match &self.parsed[i].1 {
            Ok(p) => p,
            Err(e) => {
                self.state[i] = State::Bad(e.clone());
                return;
            }
        };
        self.state[i] = State::Open;
        self.stack.push(i);
        let refs = p.uses.iter().map(|n| ("use", n)).chain(p.excludes.iter().map(|n| ("exclude", n)));
        for (directive, name) in refs {
            let missing = PeriodError::Missing { directive, name: name.clone() };
            let Some(&j) = self.index.get(name.as_str()) else {
                self.state[i] = State::Bad(missing);
                break;
            };
            if matches!(self.state[j], State::Open) {
                let from = self.stack.iter().position(|&k| k == j).unwrap_or(0);
                let cycle: Vec<usize> = self.stack[from..].to_vec();
                let path: Vec<&str> = cycle.iter().chain([&j]).map(|&k| self.names[k]).collect();
                for k in cycle {
                    self.state[k] = State::Bad(PeriodError::Cycle(path.join(" -> ")));
                }
                break;
            }
            self.visit(j);
            if matches!(self.state[i], State::Bad(_)) {
                break; // `i` is on a cycle found below.
            }
            if matches!(self.state[j], State::Bad(_)) {
                self.state[i] = State::Bad(missing);
                break;
            }
        }
        self.stack.pop();
        if matches!(self.state[i], State::Open) {
            self.state[i] = State::Good;
        }
    }
}
