//! Which civil dates a date line names.
//!
//! A range names the days from its start to its end, both included. Ranges of days of the
//! month (`day 1 - 15`, `monday 3 - thursday 4`) repeat every month and ranges of days of the
//! year (`june 1 - july 5`, `tuesday 1 april - friday 2 may`) every year; one whose end comes
//! before its start in the same month (year) ends in the next (`day -1 - 5`, `december 20 -
//! january 5`). As in Nagios, a start that a month lacks (`day 31` in April, a fifth Monday)
//! gives no days that month; an end it lacks is the month's last day when counted from the
//! start of the month (`day 25 - 31`, `monday 1 - friday 5`) and gives no days when counted
//! from its end. With a skip `/ N` only every Nth day from the range's start counts; a lone
//! calendar date with a skip (`2007-08-01 / 2`) has no end.

use jiff::civil::{Date, Weekday};

/// A day of a month, relative to the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Anchor {
    /// `day 15`, `day -1` (the last), `july 4`.
    Day(i8),
    /// `monday 3` (the third Monday), `thursday -1` (the last Thursday).
    Nth(Weekday, i8),
}

/// The days a date line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DateSpec {
    /// `monday`: every Monday.
    Weekday(Weekday),
    /// `2007-11-01 - 2007-11-10`, `2007-08-01` (start = end), `2007-08-01 / 2` (no end).
    Calendar { start: Date, end: Option<Date>, skip: u32 },
    /// `day 15`, `day 1 - 15`, `monday 3`, `monday 2 - thursday 3`: every month.
    Monthly { start: Anchor, end: Anchor, skip: u32 },
    /// `january 1`, `june 1 - july 5`, `monday -1 may`: every year; each side is
    /// (month 1-12, day of that month).
    Yearly { start: (i8, Anchor), end: (i8, Anchor), skip: u32 },
}

impl Anchor {
    /// The date this anchor names in the month of `year`/`month`. `end` asks for the
    /// forgiving reading of an end (see the module doc).
    fn resolve(self, year: i16, month: i8, end: bool) -> Option<Date> {
        let first = Date::new(year, month, 1).ok()?;
        let last = first.last_of_month();
        let found = match self {
            Anchor::Day(n) if n > 0 => first.with().day(n).build().ok().filter(|d| d.month() == month),
            Anchor::Day(n) => {
                let day = last.day() + n + 1;
                (day >= 1).then(|| first.with().day(day).build().ok()).flatten()
            }
            Anchor::Nth(w, n) => first.nth_weekday_of_month(n, w).ok(),
        };
        let positive = matches!(self, Anchor::Day(n) | Anchor::Nth(_, n) if n > 0);
        match found {
            None if end && positive => Some(last),
            found => found,
        }
    }
}

fn next_month(year: i16, month: i8) -> (i16, i8) {
    if month == 12 { (year + 1, 1) } else { (year, month + 1) }
}

fn prev_month(year: i16, month: i8) -> (i16, i8) {
    if month == 1 { (year - 1, 12) } else { (year, month - 1) }
}

/// Whether `day` is in `[start, end]` and on the skip's beat from `start`.
fn within(day: Date, start: Date, end: Date, skip: u32) -> bool {
    start <= day && day <= end && on_beat(day, start, skip)
}

fn on_beat(day: Date, start: Date, skip: u32) -> bool {
    skip <= 1 || (day.duration_since(start).as_secs() / 86_400) % i64::from(skip) == 0
}

impl DateSpec {
    /// Whether this line names the civil date `day`.
    pub(super) fn matches(&self, day: Date) -> bool {
        match *self {
            DateSpec::Weekday(w) => day.weekday() == w,
            DateSpec::Calendar { start, end, skip } => {
                start <= day && end.is_none_or(|e| day <= e) && on_beat(day, start, skip)
            }
            DateSpec::Monthly { start, end, skip } => {
                let (y, m) = (day.year(), day.month());
                [(y, m), prev_month(y, m)].into_iter().any(|(y, m)| {
                    let Some(s) = start.resolve(y, m, false) else { return false };
                    let e = match end.resolve(y, m, true) {
                        Some(e) if e >= s => Some(e),
                        Some(_) => {
                            let (ny, nm) = next_month(y, m);
                            end.resolve(ny, nm, true)
                        }
                        None => None,
                    };
                    e.is_some_and(|e| within(day, s, e, skip))
                })
            }
            DateSpec::Yearly { start: (sm, sa), end: (em, ea), skip } => {
                let y = day.year();
                [y, y - 1].into_iter().any(|y| {
                    let Some(s) = sa.resolve(y, sm, false) else { return false };
                    let e = match ea.resolve(y, em, true) {
                        Some(e) if e >= s => Some(e),
                        Some(_) => ea.resolve(y + 1, em, true),
                        None => None,
                    };
                    e.is_some_and(|e| within(day, s, e, skip))
                })
            }
        }
    }
}
