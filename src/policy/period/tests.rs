//! Tests of the timeperiods: the seed's "On-Call Rotations" scenarios (`seed`), every other
//! syntax, the errors and time zones (`syntax`), transitions (`walk`) and properties (`props`).

use jiff::tz::TimeZone;

use super::*;

mod props;
mod seed;
mod syntax;
mod walk;

/// Unix seconds of an RFC 3339 instant such as `2008-05-26T12:00:00Z`.
fn t(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap_or_else(|e| panic!("{s}: {e}")).as_second()
}

/// Builds in `tz`, expecting every row to be good.
fn build_in(rows: &[(&str, &str)], tz: TimeZone) -> Periods {
    let (periods, errors) = Periods::build(rows.iter().copied(), tz);
    assert!(errors.is_empty(), "{errors:?}");
    periods
}

fn build(rows: &[(&str, &str)]) -> Periods {
    build_in(rows, TimeZone::UTC)
}

/// A single period `p` of one definition, in UTC.
fn one(definition: &str) -> Periods {
    build(&[("p", definition)])
}

/// Whether `name` is active at the instant written `at`.
fn on(periods: &Periods, name: &str, at: &str) -> bool {
    periods.is_active(name, t(at)).unwrap_or_else(|| panic!("no period {name}"))
}

/// The reason of the error a single bad line gives.
fn line_error(definition: &str) -> (usize, String, String) {
    match check_definition(definition) {
        Err(PeriodError::Line { line, text, reason }) => (line, text, reason),
        other => panic!("{definition:?}: {other:?}"),
    }
}
