//! A Nagios plugin's output, read as the plugin guidelines define it
//! (<https://nagios-plugins.org/doc/guidelines.html#AEN200>), so `exec` checks run existing
//! plugins unchanged:
//!
//! ```text
//! TEXT OUTPUT | OPTIONAL PERFDATA
//! LONG TEXT LINE 1
//! LONG TEXT LINE 2 | PERFDATA LINE 2
//! PERFDATA LINE 3
//! ```
//!
//! The first line's text is the check's message. Performance data is
//! `'label'=value[UOM];[warn];[crit];[min];[max]`, items separated by spaces; a label with
//! spaces is quoted, `''` standing for a quote. Parsing never fails: an item that does not
//! follow the format is skipped (plugins in the wild get it wrong), the text is kept.

use serde::{Deserialize, Serialize};

/// One performance data item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    /// The unit as written (`s`, `ms`, `us`, `%`, `B`, `KB`, `MB`, `TB`, `c`), or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uom: String,
    /// The warning range as written (`10`, `10:20`, `@5:`, `~:10`): kept as text, since a
    /// range is not a number and nothing here evaluates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<String>,
    /// The critical range, like `warn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A plugin's output split into its parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginOutput {
    /// The first line before any `|`, trimmed.
    pub message: String,
    /// The following lines, up to a `|` in one of them.
    pub long_output: String,
    /// Every well-formed item, in order: the first line's, then those after the `|` of a
    /// later line and the lines after it.
    pub perfdata: Vec<Perf>,
}

/// Splits `text` into message, long output and performance data.
pub fn parse_output(text: &str) -> PluginOutput {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let (message, perf_text) = first.split_once('|').unwrap_or((first, ""));
    let mut perfdata = parse_perfdata(perf_text);
    let mut long = Vec::new();
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perfdata.extend(parse_perfdata(line));
        } else if let Some((text, perf)) = line.split_once('|') {
            long.push(text.trim_end());
            perfdata.extend(parse_perfdata(perf));
            in_perf = true;
        } else {
            long.push(line);
        }
    }
    while long.last().is_some_and(|l| l.trim().is_empty()) {
        long.pop();
    }
    PluginOutput { message: message.trim().to_string(), long_output: long.join("\n"), perfdata }
}

/// Every well-formed item of one stretch of performance data.
pub fn parse_perfdata(text: &str) -> Vec<Perf> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return items;
        }
        let (label, after) = if let Some(quoted) = rest.strip_prefix('\'') {
            match quoted_label(quoted) {
                Some(x) => x,
                None => return items, // an unterminated quote swallows the rest
            }
        } else {
            let end = rest.find(['=', ' ', '\t']).unwrap_or(rest.len());
            (rest[..end].to_string(), &rest[end..])
        };
        // The item runs to the next white space.
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let (body, next) = after.split_at(end);
        rest = next;
        if let Some(fields) = body.strip_prefix('=')
            && let Some(perf) = item(label, fields)
        {
            items.push(perf);
        }
    }
}

/// A quoted label (after its opening quote) and the text after its closing quote; `''` is a
/// quote inside it.
fn quoted_label(s: &str) -> Option<(String, &str)> {
    let mut label = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\'' {
            label.push(c);
        } else if chars.peek().is_some_and(|(_, n)| *n == '\'') {
            label.push('\'');
            chars.next();
        } else {
            return Some((label, &s[i + 1..]));
        }
    }
    None
}

/// `value[UOM];[warn];[crit];[min];[max]` of one label; `None` when the label is empty or
/// the value is not a number (including `U`, the guidelines' "undetermined").
fn item(label: String, fields: &str) -> Option<Perf> {
    if label.is_empty() {
        return None;
    }
    let mut parts = fields.split(';');
    let (value, uom) = number(parts.next()?)?;
    let range = |p: Option<&str>| p.filter(|s| !s.is_empty()).map(str::to_string);
    let warn = range(parts.next());
    let crit = range(parts.next());
    let bound = |p: Option<&str>| p.and_then(number).map(|(n, _)| n);
    let min = bound(parts.next());
    let max = bound(parts.next());
    Some(Perf { label, value, uom: uom.to_string(), warn, crit, min, max })
}

/// A number and the unit after it (`0.002s` → 0.002, `s`). The longest numeric prefix that
/// parses wins, so `1e-05` is a number and `5ms` is 5 `ms`.
fn number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let numeric = s.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')));
    let end = numeric.unwrap_or(s.len());
    (1..=end).rev().find_map(|i| {
        let v: f64 = s[..i].parse().ok()?;
        let uom = &s[i..];
        // A unit is letters or `%`, never more digits (`1.2.3` is not 1.2 of unit `.3`).
        (v.is_finite() && uom.chars().all(|c| c.is_alphabetic() || c == '%')).then_some((v, uom))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, value: f64, uom: &str) -> Perf {
        Perf { label: label.into(), value, uom: uom.into(), warn: None, crit: None, min: None, max: None }
    }

    #[test]
    fn check_http_style_line() {
        let out = parse_output(
            "HTTP OK: HTTP/1.1 200 OK - 1234 bytes in 0.002 second response time |time=0.002s;;;0.000000 size=1234B;;;0\n",
        );
        assert_eq!(out.message, "HTTP OK: HTTP/1.1 200 OK - 1234 bytes in 0.002 second response time");
        assert_eq!(out.long_output, "");
        assert_eq!(
            out.perfdata,
            vec![
                Perf { min: Some(0.0), ..p("time", 0.002, "s") },
                Perf { min: Some(0.0), ..p("size", 1234.0, "B") }
            ]
        );
    }

    /// The guidelines' multi-line example: perfdata on the first line and after the `|` of
    /// a later line, continuing on the lines after it.
    #[test]
    fn guidelines_multi_line_example() {
        let text = "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n\
                    / 15272 MB (77%);\n\
                    /boot 68 MB (69%);\n\
                    /home 69357 MB (27%);\n\
                    /var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n\
                    /home=69357MB;253404;253409;0;253414 \n\
                    /var/log=818MB;970;975;0;980\n";
        let out = parse_output(text);
        assert_eq!(out.message, "DISK OK - free space: / 3326 MB (56%);");
        assert_eq!(
            out.long_output,
            "/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%);"
        );
        let labels: Vec<_> = out.perfdata.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels, ["/", "/boot", "/home", "/var/log"]);
        assert_eq!(
            out.perfdata[0],
            Perf {
                warn: Some("5948".into()),
                crit: Some("5958".into()),
                min: Some(0.0),
                max: Some(5968.0),
                ..p("/", 2643.0, "MB")
            }
        );
        assert_eq!(out.perfdata[3].max, Some(980.0));
    }

    #[test]
    fn quoted_labels_and_escaped_quotes() {
        let v = parse_perfdata("'label with spaces'=5;;;; 'it''s'=1c 'a=b'=2 'x'");
        assert_eq!(v, vec![p("label with spaces", 5.0, ""), p("it's", 1.0, "c"), p("a=b", 2.0, "")]);
    }

    /// One row per unit and range form: (item, expected).
    #[test]
    fn units_ranges_and_empty_fields() {
        let table: &[(&str, Perf)] = &[
            (
                "rta=0.042000ms;3000.000000;5000.000000;0.000000",
                Perf {
                    warn: Some("3000.000000".into()),
                    crit: Some("5000.000000".into()),
                    min: Some(0.0),
                    ..p("rta", 0.042, "ms")
                },
            ),
            (
                "pl=0%;80;100;0;100",
                Perf {
                    warn: Some("80".into()),
                    crit: Some("100".into()),
                    min: Some(0.0),
                    max: Some(100.0),
                    ..p("pl", 0.0, "%")
                },
            ),
            ("t=15us", p("t", 15.0, "us")),
            ("mem=512KB;;;;", p("mem", 512.0, "KB")),
            ("disk=2TB", p("disk", 2.0, "TB")),
            ("packets=1234c", p("packets", 1234.0, "c")),
            (
                "users=3;@5:;~:10;0;",
                Perf {
                    warn: Some("@5:".into()),
                    crit: Some("~:10".into()),
                    min: Some(0.0),
                    ..p("users", 3.0, "")
                },
            ),
            (
                "load1=0.150;5.000;10.000;0;",
                Perf {
                    warn: Some("5.000".into()),
                    crit: Some("10.000".into()),
                    min: Some(0.0),
                    ..p("load1", 0.15, "")
                },
            ),
            ("temp=-3.5;10:20", Perf { warn: Some("10:20".into()), ..p("temp", -3.5, "") }),
            ("small=1e-05s", p("small", 0.00001, "s")),
        ];
        for (text, want) in table {
            assert_eq!(parse_perfdata(text), vec![want.clone()], "{text}");
        }
    }

    #[test]
    fn bad_items_are_skipped() {
        let v = parse_perfdata("ok=1 novalue= =5 junk u=U x=1.2.3 'open=4");
        assert_eq!(v, vec![p("ok", 1.0, "")]);
        let v = parse_perfdata("a=1 garbage b=2s");
        assert_eq!(v, vec![p("a", 1.0, ""), p("b", 2.0, "s")]);
        assert!(parse_perfdata("").is_empty());
    }

    #[test]
    fn text_without_perfdata() {
        let out = parse_output("  PING OK - Packet loss = 0%  \nsecond line\n\n");
        assert_eq!(out.message, "PING OK - Packet loss = 0%");
        assert_eq!(out.long_output, "second line");
        assert!(out.perfdata.is_empty());
        assert_eq!(parse_output(""), PluginOutput::default());
        let out = parse_output("OK|a=1\r\nmore | b=2\r\n");
        assert_eq!((out.message.as_str(), out.long_output.as_str()), ("OK", "more"));
        assert_eq!(out.perfdata.len(), 2);
    }
}
