//! Evaluating resolved periods: one civil day at a time, in instants.
//!
//! The timeline is cut into days: day `D` is `[start(D), start(D + 1))`, where `start(D)` is
//! `D` 00:00 in the time zone. A line's `HH:MM` on day `D` is the instant of that wall-clock
//! time on `D` under jiff's compatible disambiguation (a time skipped by a DST gap moves
//! forward by the gap's length, a repeated one means its first occurrence), and 24:00 is
//! `start(D + 1)`; each range is then clipped to its day, so a day never reaches into another.
//! `use` and `exclude` combine these instant sets, so an excluded instant is never active
//! whatever the clocks do.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::Def;

/// One civil day of the time zone, as instants.
#[derive(Debug, Clone, Copy)]
pub(super) struct Day {
    pub date: Date,
    pub start: i64,
    pub end: i64,
    /// No offset change inside the day: `HH:MM` is `start` plus its seconds.
    uniform: bool,
}

/// `date` at `sec` seconds of the day (< 86 400), compatible disambiguation.
fn instant(tz: &TimeZone, date: Date, sec: u32) -> Option<i64> {
    let (h, m, s) = ((sec / 3600) as i8, (sec / 60 % 60) as i8, (sec % 60) as i8);
    tz.to_ambiguous_timestamp(date.at(h, m, s, 0)).compatible().ok().map(Timestamp::as_second)
}

impl Day {
    pub(super) fn of_date(tz: &TimeZone, date: Date) -> Option<Day> {
        let start = instant(tz, date, 0)?;
        let end = instant(tz, date.tomorrow().ok()?, 0)?;
        let uniform = end - start == 86_400
            && tz
                .following(Timestamp::from_second(start).ok()?)
                .next()
                .is_none_or(|t| t.timestamp().as_second() >= end);
        Some(Day { date, start, end, uniform })
    }

    /// The day holding the instant `at`.
    pub(super) fn of_instant(tz: &TimeZone, at: i64) -> Option<Day> {
        let date = tz.to_datetime(Timestamp::from_second(at).ok()?).date();
        let day = Day::of_date(tz, date)?;
        if at < day.start {
            Day::of_date(tz, date.yesterday().ok()?)
        } else if at >= day.end {
            Day::of_date(tz, date.tomorrow().ok()?)
        } else {
            Some(day)
        }
    }

    pub(super) fn next(&self, tz: &TimeZone) -> Option<Day> {
        Day::of_date(tz, self.date.tomorrow().ok()?)
    }

    /// The instant of `sec` seconds of this day's wall clock, within the day.
    fn at(&self, tz: &TimeZone, sec: u32) -> i64 {
        if sec >= 86_400 {
            self.end
        } else if self.uniform {
            self.start + i64::from(sec)
        } else {
            instant(tz, self.date, sec).unwrap_or(self.end).clamp(self.start, self.end)
        }
    }
}

/// Whether period `p` is active at `at`, which lies in `day`.
pub(super) fn contains(defs: &[Def], tz: &TimeZone, p: usize, day: &Day, at: i64) -> bool {
    let def = &defs[p];
    let hit = def.lines.iter().any(|line| {
        line.date.matches(day.date)
            && line.times.iter().any(|&(a, b)| day.at(tz, a) <= at && at < day.at(tz, b))
    }) || def.uses.iter().any(|&u| contains(defs, tz, u, day, at));
    hit && !def.excludes.iter().any(|&e| contains(defs, tz, e, day, at))
}

/// The instants of `day` when period `p` is active: sorted, disjoint, none empty, merged
/// where they touch.
pub(super) fn day_set(defs: &[Def], tz: &TimeZone, p: usize, day: &Day) -> Vec<(i64, i64)> {
    let def = &defs[p];
    let mut set = Vec::new();
    for line in &def.lines {
        if line.date.matches(day.date) {
            set.extend(line.times.iter().map(|&(a, b)| (day.at(tz, a), day.at(tz, b))));
        }
    }
    for &u in &def.uses {
        set.extend(day_set(defs, tz, u, day));
    }
    normalize(&mut set);
    for &e in &def.excludes {
        if set.is_empty() {
            break;
        }
        set = subtract(&set, &day_set(defs, tz, e, day));
    }
    set
}

fn normalize(set: &mut Vec<(i64, i64)>) {
    set.retain(|&(a, b)| a < b);
    set.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(set.len());
    for &(a, b) in set.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *set = out;
}

/// `set` minus `cut`, both normalized.
fn subtract(set: &[(i64, i64)], cut: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out = Vec::with_capacity(set.len());
    let mut j = 0;
    for &(mut a, b) in set {
        while j < cut.len() && cut[j].1 <= a {
            j += 1;
        }
        let mut k = j;
        while k < cut.len() && cut[k].0 < b {
            if cut[k].0 > a {
                out.push((a, cut[k].0));
            }
            a = a.max(cut[k].1);
            k += 1;
        }
        if a < b {
            out.push((a, b));
        }
    }
    out
}

/// The first `n` changes of period `p` after `at` (strictly), up to `limit` (included):
/// (instant, active from then on).
pub(super) fn changes(
    defs: &[Def],
    tz: &TimeZone,
    p: usize,
    at: i64,
    n: usize,
    limit: i64,
) -> Vec<(i64, bool)> {
    let mut out = Vec::new();
    let Some(mut day) = Day::of_instant(tz, at) else { return out };
    if n == 0 {
        return out;
    }
    let mut active = contains(defs, tz, p, &day, at);
    // While active: the end of the run holding `at` (or the last reported start) so far.
    let mut run_end = at;
    let push = |out: &mut Vec<(i64, bool)>, t: i64, on: bool| {
        if t > limit {
            return false;
        }
        out.push((t, on));
        out.len() < n
    };
    loop {
        for (s, e) in day_set(defs, tz, p, &day) {
            if e <= at {
                continue;
            }
            if !active {
                // `s <= at` cannot happen (then `at` was active); read it as a run under way.
                if s > at && !push(&mut out, s, true) {
                    return out;
                }
                active = true;
                run_end = e;
            } else if s <= run_end {
                run_end = run_end.max(e);
            } else {
                if !push(&mut out, run_end, false) || !push(&mut out, s, true) {
                    return out;
                }
                run_end = e;
            }
        }
        match day.next(tz) {
            Some(next) if next.start <= limit => day = next,
            _ => break,
        }
    }
    // Every day up to `limit` is seen: a run that ended before then has ended for good.
    if active && run_end > at && run_end <= limit && run_end < day.end {
        push(&mut out, run_end, false);
    }
    out
}
