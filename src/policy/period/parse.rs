//! Reading one timeperiod definition: directives, date lines and their time ranges. Nothing
//! here resolves names; `use` and `exclude` come back as the names written.

use jiff::civil::{Date, Weekday};

use super::PeriodError;
use super::calendar::{Anchor, DateSpec};

/// One definition as written: its date lines and the names its directives refer to.
#[derive(Debug, Clone, Default)]
pub(super) struct Parsed {
    pub lines: Vec<Line>,
    pub uses: Vec<String>,
    pub excludes: Vec<String>,
}

/// A date line: the days it names and, on each of them, the seconds of the day it covers
/// (sorted, merged, none empty; an end of 86 400 is midnight at the end of the day).
#[derive(Debug, Clone)]
pub(super) struct Line {
    pub date: DateSpec,
    pub times: Vec<(u32, u32)>,
}

/// Parses a whole definition; the first bad line is the error.
pub(super) fn parse_definition(definition: &str) -> Result<Parsed, PeriodError> {
    let mut parsed = Parsed::default();
    for (i, raw) in definition.lines().enumerate() {
        let text = raw.split(['#', ';']).next().unwrap_or("").trim();
        if text.is_empty() {
            continue;
        }
        let fail = |reason: String| PeriodError::Line { line: i + 1, text: text.to_string(), reason };
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        match word.to_ascii_lowercase().as_str() {
            "timeperiod_name" | "name" | "alias" | "register" => {}
            d @ ("use" | "exclude") => {
                let names: Vec<String> =
                    rest.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from).collect();
                if names.is_empty() {
                    return Err(fail(format!("{d} needs the names of timeperiods")));
                }
                let list = if d == "use" { &mut parsed.uses } else { &mut parsed.excludes };
                list.extend(names);
            }
            // Shinken keeps custom variables (`_ONCALL_PHONE 555`) on any object.
            w if w.starts_with('_') => {}
            _ => parsed.lines.push(parse_date_line(text).map_err(fail)?),
        }
    }
    Ok(parsed)
}

/// `<daterange> <timeranges>`: the time ranges start at the first word holding a colon.
fn parse_date_line(text: &str) -> Result<Line, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(split) = words.iter().position(|w| w.contains(':')) else {
        let first = words[0].to_ascii_lowercase();
        return Err(if looks_like_date(&first) {
            "a date line needs time ranges such as 00:00-24:00".to_string()
        } else {
            format!("unknown directive {:?}", words[0])
        });
    };
    if split == 0 {
        return Err("a date line starts with the days it names, such as monday".to_string());
    }
    let date = parse_daterange(&words[..split].join(" "))?;
    let times = parse_timeranges(&words[split..].concat())?;
    Ok(Line { date, times })
}

fn looks_like_date(word: &str) -> bool {
    word == "day"
        || weekday(word).is_some()
        || month(word).is_some()
        || word.starts_with(|c: char| c.is_ascii_digit())
}

/// `HH:MM-HH:MM[,HH:MM-HH:MM...]`, whitespace already removed. A range whose start equals its
/// end is empty; one that ends before it starts is an error (split it over two days).
fn parse_timeranges(text: &str) -> Result<Vec<(u32, u32)>, String> {
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let bad = || format!("bad time range {part:?} (want HH:MM-HH:MM, such as 09:00-17:00)");
        let (a, b) = part.split_once('-').ok_or_else(bad)?;
        let (a, b) = (clock(a).ok_or_else(bad)?, clock(b).ok_or_else(bad)?);
        if a > b {
            return Err(format!("time range {part:?} ends before it starts"));
        }
        if a < b {
            ranges.push((a, b));
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(merged)
}

/// `H:MM` or `HH:MM`, 00:00 to 24:00, as seconds of the day.
fn clock(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let digits = |x: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 3600 + m * 60)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Num(i64),
    Date(Date),
    Dash,
    Slash,
}

/// Splits a daterange into words, numbers, dates (`YYYY-MM-DD`), `-` and `/`. A `-` right
/// before a digit is a minus sign unless a number or a date precedes it (`day 1-15`).
fn tokens(s: &str) -> Result<Vec<Tok>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let run = |from: usize, f: fn(u8) -> bool| from + b[from..].iter().take_while(|&&x| f(x)).count();
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() {
            let end = run(i, |x| x.is_ascii_alphabetic());
            out.push(Tok::Word(s[i..end].to_ascii_lowercase()));
            i = end;
        } else if c == b'/' {
            out.push(Tok::Slash);
            i += 1;
        } else if c == b'-' {
            let minus = b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !matches!(out.last(), Some(Tok::Num(_) | Tok::Date(_)));
            if minus {
                let end = run(i + 1, |x| x.is_ascii_digit());
                out.push(Tok::Num(number(&s[i..end])?));
                i = end;
            } else {
                out.push(Tok::Dash);
                i += 1;
            }
        } else if c.is_ascii_digit() {
            let end = run(i, |x| x.is_ascii_digit());
            let date_shape = end - i == 4
                && s.len() >= i + 10
                && b[end] == b'-'
                && b[end + 1..end + 3].iter().all(u8::is_ascii_digit)
                && b[end + 3] == b'-'
                && b[end + 4..end + 6].iter().all(u8::is_ascii_digit)
                && !b.get(end + 6).is_some_and(u8::is_ascii_digit);
            if date_shape {
                let text = &s[i..end + 6];
                let (y, m, d) = (number(&text[..4])?, number(&text[5..7])?, number(&text[8..])?);
                let date =
                    Date::new(y as i16, m as i8, d as i8).map_err(|_| format!("no such date {text}"))?;
                out.push(Tok::Date(date));
                i = end + 6;
            } else {
                out.push(Tok::Num(number(&s[i..end])?));
                i = end;
            }
        } else {
            return Err(format!(
                "unexpected {:?}",
                &s[i..i + s[i..].chars().next().map_or(1, char::len_utf8)]
            ));
        }
    }
    Ok(out)
}

fn number(s: &str) -> Result<i64, String> {
    s.parse::<i64>().ok().filter(|n| n.abs() <= 100_000).ok_or_else(|| format!("number {s} is out of range"))
}

pub(super) fn weekday(w: &str) -> Option<Weekday> {
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let i = DAYS.iter().position(|d| *d == w)?;
    Weekday::from_monday_zero_offset(i as i8).ok()
}

pub(super) fn month(w: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    MONTHS.iter().position(|m| *m == w).map(|i| i as i8 + 1)
}

/// One side of a range, before we know what the other side must look like.
#[derive(Debug, Clone, Copy)]
enum Side {
    Calendar(Date),
    Weekday(Weekday),
    /// `monday 3`, `day -1`: a day of every month.
    Monthly(Anchor),
    /// `july 4`, `monday -1 may`: a day of every year.
    Yearly(i8, Anchor),
}

fn parse_daterange(text: &str) -> Result<DateSpec, String> {
    let toks = tokens(text)?;
    let bad = || format!("cannot read the date {text:?}");
    let (toks, skip) = match toks.iter().position(|t| *t == Tok::Slash) {
        None => (&toks[..], None),
        Some(p) => match &toks[p + 1..] {
            [Tok::Num(n)] if *n >= 1 => (&toks[..p], Some(*n as u32)),
            [Tok::Num(_)] => return Err(format!("the skip in {text:?} must be 1 or more")),
            _ => return Err(bad()),
        },
    };
    let (start, end) = match toks.iter().position(|t| *t == Tok::Dash) {
        None => (toks, None),
        Some(p) => (&toks[..p], Some(&toks[p + 1..])),
    };
    let start = side(start, None).ok_or_else(bad)?;
    let end = match end {
        None => None,
        Some(e) => Some(side(e, Some(start)).ok_or_else(bad)?),
    };
    let skip_or_1 = skip.unwrap_or(1);
    Ok(match (start, end) {
        (Side::Weekday(w), None) if skip.is_none() => DateSpec::Weekday(w),
        (Side::Weekday(_), _) => return Err(format!("a weekday alone takes no range or skip: {text:?}")),
        // `2007-08-01 / 2`: every other day from then on, with no end.
        (Side::Calendar(s), None) => {
            DateSpec::Calendar { start: s, end: skip.map_or(Some(s), |_| None), skip: skip_or_1 }
        }
        (Side::Calendar(s), Some(Side::Calendar(e))) => {
            if e < s {
                return Err(format!("the range {text:?} ends before it starts"));
            }
            DateSpec::Calendar { start: s, end: Some(e), skip: skip_or_1 }
        }
        (Side::Monthly(s), None) => DateSpec::Monthly { start: s, end: s, skip: skip_or_1 },
        (Side::Monthly(s), Some(Side::Monthly(e))) => DateSpec::Monthly { start: s, end: e, skip: skip_or_1 },
        (Side::Yearly(m, s), None) => DateSpec::Yearly { start: (m, s), end: (m, s), skip: skip_or_1 },
        (Side::Yearly(sm, s), Some(Side::Yearly(em, e))) => {
            DateSpec::Yearly { start: (sm, s), end: (em, e), skip: skip_or_1 }
        }
        _ => return Err(bad()),
    })
}

/// Reads one side. The end side of a range must be of the start's kind and may leave out
/// the word when it is the same (`day 1 - 15`, `february 10 - 20`, `thursday 2 - 4`).
fn side(toks: &[Tok], start: Option<Side>) -> Option<Side> {
    let day = |n: i64| (n != 0 && n.abs() <= 31).then_some(Anchor::Day(n as i8));
    let nth = |w: Weekday, n: i64| (n != 0 && n.abs() <= 5).then_some(Anchor::Nth(w, n as i8));
    let month_day = |m: i8, n: i64| {
        let max = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m as usize - 1];
        (n != 0 && n.abs() <= max).then_some(Side::Yearly(m, Anchor::Day(n as i8)))
    };
    let side = match toks {
        [Tok::Date(d)] => Side::Calendar(*d),
        [Tok::Word(w)] => Side::Weekday(weekday(w)?),
        [Tok::Word(w), Tok::Num(n)] if w == "day" => Side::Monthly(day(*n)?),
        [Tok::Word(w), Tok::Num(n)] => match (weekday(w), month(w)) {
            (Some(wd), _) => Side::Monthly(nth(wd, *n)?),
            (_, Some(m)) => month_day(m, *n)?,
            _ => return None,
        },
        [Tok::Word(w), Tok::Num(n), Tok::Word(m)] => Side::Yearly(month(m)?, nth(weekday(w)?, *n)?),
        // The end of `day 1 - 15`, `february 10 - 20`, `thursday 2 - 4`.
        [Tok::Num(n)] => match start? {
            Side::Monthly(Anchor::Day(_)) => Side::Monthly(day(*n)?),
            Side::Monthly(Anchor::Nth(w, _)) => Side::Monthly(nth(w, *n)?),
            Side::Yearly(m, Anchor::Day(_)) => month_day(m, *n)?,
            _ => return None,
        },
        _ => return None,
    };
    // An end must be of the start's kind: `day 1 - monday 2` is not a range.
    let same_kind = match (start, side) {
        (None, _) => true,
        (Some(Side::Calendar(_)), Side::Calendar(_)) => true,
        (Some(Side::Monthly(a)), Side::Monthly(b)) => {
            matches!((a, b), (Anchor::Day(_), Anchor::Day(_)) | (Anchor::Nth(..), Anchor::Nth(..)))
        }
        (Some(Side::Yearly(_, a)), Side::Yearly(_, b)) => {
            matches!((a, b), (Anchor::Day(_), Anchor::Day(_)) | (Anchor::Nth(..), Anchor::Nth(..)))
        }
        _ => false,
    };
    same_kind.then_some(side)
}
