//! Flap detection, Shinken's algorithm (`SchedulingItem.add_flapping_change` and
//! `update_flapping`), pure: the controller feeds each check result to the check's [`Flap`]
//! and hears back whether flapping started or stopped (FLAPPINGSTART, FLAPPINGSTOP).
//!
//! # The history
//!
//! Each result whose state takes part (`flap_detection_options`, [`FlapStates`]) appends one
//! boolean, "the state changed from the previous result that took part", to a list kept at
//! most [`FLAP_HISTORY`] = 20 long (the seed's "last 21 checks": 21 states give at most 20
//! changes). The first result has no previous state and appends nothing. A result whose state
//! does not take part is ignored entirely: it appends nothing and does not become the previous
//! state, so with `o,c` the results OK, WARNING, CRITICAL give one change (OK to CRITICAL), as
//! in Nagios's state history. (Shinken's own code differs at both ends: it compares with the
//! item's last state whatever that was, so its first result, after PENDING, counts as a change
//! and an excluded state still becomes the state the next one is compared with.)
//!
//! # The weighting
//!
//! With the list oldest first, slot `i` (1 = oldest, `len` = newest) weighs
//! `0.8 + i * (1.2 - 0.8) / 20`, that is `0.8 + 0.02 i`, and
//!
//! ```text
//! percent = sum over i = 1..=len of [changed_i] * (0.8 + 0.02 i) / 20 * 100
//! ```
//!
//! Shinken's design is a straight line from 0.8 (the oldest) to 1.2 (the newest), the newest
//! carrying 50 % more weight than the oldest (1.2 = 1.5 × 0.8), as the seed says. Because
//! the slots count from 1, the oldest of a full list weighs 0.82, not 0.8, and the newest 1.2;
//! while the list is not yet full its newest slot weighs less than 1.2 (the weight follows the
//! slot, not the age). Nagios's curve is a different one: `check_for_service_flapping` weighs
//! its 20 changes, oldest first, `0.75 + (x - 1) * 0.5 / 19` for x = 1..=20, from 0.75 to 1.25
//! (the newest 67 % over the oldest, and 100 % for a change at every result), so the two give
//! different percents for the same history; this module computes Shinken's.
//!
//! Each weight is `(40 + i) / 50`, so the percent is `sum of (40 + i) / 10`: it is summed in
//! whole tenths of a percent and divided once, which gives the exact value (34.1 for the seed's
//! example, not 34.100000000000001) and never an error at a threshold.
//!
//! Twenty changes weigh 20.2, so Shinken's percent for a check that changes state at every
//! result is 101 %, against the seed's "services that change state each time they're checked
//! will have 100% state change". Here the percent is clamped to 100: it is always within
//! [0, 100]. Thresholds are within [0, 100] ([`Thresholds::new`]), so the clamp starts or
//! stops nothing that Shinken would not.
//!
//! # Starting and stopping
//!
//! Only once the list is full (20 changes recorded): a check that is not flapping starts
//! when the percent is at or above the high threshold, and one that is flapping stops when the
//! percent is below the low threshold. Between the two nothing happens (the hysteresis that
//! keeps a check at 25 % from starting and stopping at every result). Shinken's defaults are
//! low 20 and high 30 ([`Thresholds::default`]).

/// How many state changes the history keeps (Shinken's `flap_history`): the changes between
/// the last 21 states.
pub const FLAP_HISTORY: usize = 20;

const MASK: u32 = (1 << FLAP_HISTORY) - 1;

/// A result state as flap detection sees it: Nagios's four states.
pub type FlapState = crate::check::State;

impl crate::check::State {
    /// The state's `flap_detection_options` letter: `o`, `w`, `c` or `u`.
    pub fn letter(self) -> char {
        match self {
            FlapState::Ok => 'o',
            FlapState::Warning => 'w',
            FlapState::Critical => 'c',
            FlapState::Unknown => 'u',
        }
    }

    fn bit(self) -> u8 {
        match self {
            FlapState::Ok => 1,
            FlapState::Warning => 2,
            FlapState::Critical => 4,
            FlapState::Unknown => 8,
        }
    }
}

/// Which states take part (`flap_detection_options`), parsed from "o,w,c,u" (also "all"/"a",
/// "n" none); unknown letters are an Err(String) naming the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlapStates(u8);

impl FlapStates {
    /// Every state: Shinken's default.
    pub const ALL: FlapStates = FlapStates(15);
    /// No state (`stalking_options`' default).
    pub const NONE: FlapStates = FlapStates(0);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses `"o,w,c,u"`, `"o c"`, `"n"` (none) or `"a"`/`"all"`; letters add up, so
    /// `"n,o"` is `o`. An empty string is no state.
    ///
    /// # Errors
    /// The item that is not one of o,w,c,u,n,a,all.
    pub fn parse(s: &str) -> Result<FlapStates, String> {
        let mut out = 0u8;
        for part in s.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            out |= match part {
                "o" => FlapState::Ok.bit(),
                "w" => FlapState::Warning.bit(),
                "c" => FlapState::Critical.bit(),
                "u" => FlapState::Unknown.bit(),
                "n" => 0,
                "a" | "all" => FlapStates::ALL.0,
                other => return Err(format!("{other:?} is not one of the letters o,w,c,u,n")),
            };
        }
        Ok(FlapStates(out))
    }

    /// Whether results in state `s` take part in flap detection.
    pub fn has(self, s: FlapState) -> bool {
        self.0 & s.bit() != 0
    }
}

/// The flapping thresholds, in percent (`low_flap_threshold`, `high_flap_threshold`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub low: f64,
    pub high: f64,
}

impl Default for Thresholds {
    /// Shinken's global defaults: low 20 %, high 30 %.
    fn default() -> Self {
        Thresholds { low: 20.0, high: 30.0 }
    }
}

impl Thresholds {
    /// # Errors
    /// Unless `0 <= low <= high <= 100` (a NaN is neither).
    pub fn new(low: f64, high: f64) -> Result<Thresholds, String> {
        let pct = 0.0..=100.0;
        if !pct.contains(&low) {
            return Err(format!("low_flap_threshold {low} is not a percent from 0 to 100"));
        }
        if !pct.contains(&high) {
            return Err(format!("high_flap_threshold {high} is not a percent from 0 to 100"));
        }
        if low > high {
            return Err(format!("low_flap_threshold {low} is above high_flap_threshold {high}"));
        }
        Ok(Thresholds { low, high })
    }
}

/// What a result did to a check's flapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlapEdge {
    Started,
    Stopped,
}

/// One check's flap history: small (a u32 bit set of the last 20 changes, their count, the
/// previous state, the flag, the percent): the controller holds one per check with flap
/// detection on. `Default` is a check with no result yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flap {
    /// Bit 0 is the newest change, bit `len - 1` the oldest; bits from `len` up are 0.
    changes: u32,
    len: u8,
    prev: Option<FlapState>,
    flapping: bool,
    percent: f64,
}

impl Flap {
    /// Records one result; returns the edge it caused, if any.
    pub fn record(&mut self, state: FlapState, states: FlapStates, t: Thresholds) -> Option<FlapEdge> {
        if !states.has(state) {
            return None;
        }
        let prev = self.prev.replace(state)?;
        self.changes = ((self.changes << 1) | u32::from(prev != state)) & MASK;
        self.len = (self.len + 1).min(FLAP_HISTORY as u8);
        self.percent = tenths_to_percent(weighted_tenths(self.changes, self.len.into()));
        if self.len() < FLAP_HISTORY {
            return None;
        }
        if self.flapping && self.percent < t.low {
            self.flapping = false;
            Some(FlapEdge::Stopped)
        } else if !self.flapping && self.percent >= t.high {
            self.flapping = true;
            Some(FlapEdge::Started)
        } else {
            None
        }
    }

    pub fn is_flapping(&self) -> bool {
        self.flapping
    }

    /// The weighted percent state change, 0..=100.
    pub fn percent(&self) -> f64 {
        self.percent
    }

    /// The unweighted percent (changes / 20 * 100), for the seed's 35 %.
    pub fn unweighted_percent(&self) -> f64 {
        f64::from(self.changes.count_ones() * 100) / FLAP_HISTORY as f64
    }

    /// How many changes slots are filled (0..=20).
    pub fn len(&self) -> usize {
        self.len.into()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Σ (40 + i) over the changed slots, `i` = 1 for the oldest of `len`: the percent in tenths.
fn weighted_tenths(changes: u32, len: usize) -> u32 {
    (0..len).filter(|age| changes & (1 << age) != 0).map(|age| 40 + (len - age) as u32).sum()
}

fn tenths_to_percent(tenths: u32) -> f64 {
    f64::from(tenths.min(1000)) / 10.0
}

/// The weighted percent of a change history, oldest first (at most 20 entries), as Shinken
/// computes it, clamped to 100. A longer slice counts only its newest 20, as Shinken's list
/// would have kept.
pub fn percent_state_change(changes: &[bool]) -> f64 {
    let kept = &changes[changes.len().saturating_sub(FLAP_HISTORY)..];
    let tenths: u32 = kept.iter().enumerate().filter(|(_, c)| **c).map(|(i, _)| 41 + i as u32).sum();
    tenths_to_percent(tenths)
}
