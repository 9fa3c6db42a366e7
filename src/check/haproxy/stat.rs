//! HAProxy's `show stat` CSV, read by column name and merged over several processes.
//!
//! The header line (`# pxname,svname,qcur,...`) names the columns; HAProxy adds columns
//! between versions, so nothing here relies on a column's position. Rows are one per
//! proxy and server: `FRONTEND` and `BACKEND` are a proxy's aggregate rows, every other
//! `svname` is a server of a backend.
//!
//! Several processes (HAProxy's old `nbproc`, or several HAProxy instances behind one
//! address) each answer for themselves. [`Stats::merge`] makes one table of them:
//! - counters and gauges are summed (`scur`, `stot`, `bin`, `rate`, ...: what the
//!   processes carry together), except the average times (`qtime`, `ctime`, `rtime`,
//!   `ttime`), where the largest is kept (summing averages means nothing);
//! - a server is UP when it is UP in any process: traffic still reaches it through that
//!   process, and a server one process cannot reach shows in that process's own row
//!   (the per-process table is kept for who needs it, `bearmon haproxy-report`).

use std::collections::BTreeMap;

/// Why a `show stat` answer cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatError {
    /// The first line is not HAProxy's CSV header (an error text, a login page, ...).
    #[error("no `# pxname,svname,...` header in the answer (starts with {0:?})")]
    NoHeader(String),
    /// The header lacks one of the two key columns.
    #[error("the header has no {0} column")]
    MissingColumn(&'static str),
}

/// The average times: merged by keeping the largest, never summed.
const AVERAGES: &[&str] = &["qtime", "ctime", "rtime", "ttime"];

/// One proxy/server row: its text fields by column name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub proxy: String,
    /// A server's name, or `FRONTEND` / `BACKEND` for a proxy's aggregate rows.
    pub server: String,
    pub fields: BTreeMap<String, String>,
}

impl Row {
    /// A field's text; empty when the column is absent or blank.
    pub fn text(&self, column: &str) -> &str {
        self.fields.get(column).map_or("", String::as_str)
    }

    /// A numeric field; `None` when blank or not a number.
    pub fn number(&self, column: &str) -> Option<f64> {
        self.text(column).trim().parse().ok()
    }

    /// `FRONTEND` or `BACKEND`: a proxy's totals, not a server.
    pub fn is_aggregate(&self) -> bool {
        self.server == "FRONTEND" || self.server == "BACKEND"
    }

    /// HAProxy's `UP`, and `UP 1/3` while a server is going down; also `no check`, a server
    /// HAProxy does not health-check and so always sends traffic to (counting it down would
    /// page for every backend without `check`). `DRAIN`, `NOLB` and `MAINT` are not up:
    /// they take no new traffic.
    pub fn is_up(&self) -> bool {
        let status = self.text("status");
        status.starts_with("UP") || status == "no check"
    }
}

/// One process's (or a merged) `show stat` table, rows in HAProxy's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stats {
    pub rows: Vec<Row>,
}

impl Stats {
    /// Parses a `show stat` answer.
    ///
    /// # Errors
    /// [`StatError`] when the header is missing or lacks `pxname`/`svname`.
    pub fn parse(text: &str) -> Result<Stats, StatError> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().unwrap_or("");
        let Some(names) = header.strip_prefix('#') else {
            return Err(StatError::NoHeader(header.chars().take(40).collect()));
        };
        let columns: Vec<String> = split(names).into_iter().map(|c| c.trim().to_string()).collect();
        let px = columns.iter().position(|c| c == "pxname").ok_or(StatError::MissingColumn("pxname"))?;
        let sv = columns.iter().position(|c| c == "svname").ok_or(StatError::MissingColumn("svname"))?;
        let mut rows = Vec::new();
        for line in lines {
            let values = split(line);
            if values.len() <= px.max(sv) {
                continue;
            }
            let mut row = Row { proxy: values[px].clone(), server: values[sv].clone(), ..Row::default() };
            for (name, value) in columns.iter().zip(values) {
                if !name.is_empty() && name != "pxname" && name != "svname" && !value.is_empty() {
                    row.fields.insert(name.clone(), value);
                }
            }
            rows.push(row);
        }
        Ok(Stats { rows })
    }

    /// One table from several processes' (see the module's doc for the rules). Rows keep
    /// the order they are first seen in.
    pub fn merge(parts: &[Stats]) -> Stats {
        let mut out: Vec<Row> = Vec::new();
        let mut index: BTreeMap<(String, String), usize> = BTreeMap::new();
        for part in parts {
            for row in &part.rows {
                let key = (row.proxy.clone(), row.server.clone());
                match index.get(&key) {
                    None => {
                        index.insert(key, out.len());
                        out.push(row.clone());
                    }
                    Some(&i) => merge_row(&mut out[i], row),
                }
            }
        }
        Stats { rows: out }
    }

    /// The servers of one backend (no aggregate rows).
    pub fn servers<'a>(&'a self, backend: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.rows.iter().filter(move |r| r.proxy == backend && !r.is_aggregate())
    }

    /// The backends: proxies with a `BACKEND` row, in order.
    pub fn backends(&self) -> Vec<&str> {
        self.rows.iter().filter(|r| r.server == "BACKEND").map(|r| r.proxy.as_str()).collect()
    }

    /// A row by proxy and server name.
    pub fn row(&self, proxy: &str, server: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.proxy == proxy && r.server == server)
    }
}

/// Adds `other`'s numbers into `into`; the status is UP if either is.
fn merge_row(into: &mut Row, other: &Row) {
    for (name, value) in &other.fields {
        if name == "status" {
            if !into.is_up() && other.is_up() {
                into.fields.insert(name.clone(), value.clone());
            }
            continue;
        }
        let (Ok(b), Some(a)) = (value.trim().parse::<f64>(), into.number(name)) else {
            into.fields.entry(name.clone()).or_insert_with(|| value.clone());
            continue;
        };
        let merged = if AVERAGES.contains(&name.as_str()) { a.max(b) } else { a + b };
        into.fields.insert(name.clone(), format_number(merged));
    }
}

/// A number as HAProxy writes it: integers without a decimal point.
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

/// Splits one CSV line; HAProxy quotes a field with `"` when it holds a comma or a quote
/// (`""` inside). The trailing comma HAProxy writes gives an empty last field.
fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "# pxname,svname,qcur,scur,stot,status,rtime,check_desc,\n\
        web,FRONTEND,,3,10,OPEN,,,\n\
        app,s1,0,1,4,UP,5,\"Layer7 check passed, 200\",\n\
        app,s2,0,0,2,DOWN,9,,\n\
        app,s3,0,0,0,no check,,,\n\
        app,s4,0,0,0,MAINT,,,\n\
        app,BACKEND,0,1,6,UP,7,,\n";
    const TWO: &str = "# pxname,svname,scur,stot,status,rtime,\n\
        app,s2,2,5,UP 1/2,3,\n\
        app,s1,1,1,DOWN,8,\n";

    #[test]
    fn reads_by_column_name_with_quotes() {
        let s = Stats::parse(ONE).unwrap();
        assert_eq!(s.rows.len(), 6);
        let s1 = s.row("app", "s1").unwrap();
        assert_eq!(s1.number("scur"), Some(1.0));
        assert_eq!(s1.text("check_desc"), "Layer7 check passed, 200");
        assert!(s1.is_up());
        assert!(!s.row("app", "s2").unwrap().is_up());
        assert!(s.row("app", "s3").unwrap().is_up());
        assert!(!s.row("app", "s4").unwrap().is_up());
        assert_eq!(s.backends(), vec!["app"]);
        assert_eq!(s.servers("app").count(), 4);
    }

    #[test]
    fn merges_sums_max_and_up_anywhere() {
        let m = Stats::merge(&[Stats::parse(ONE).unwrap(), Stats::parse(TWO).unwrap()]);
        let s1 = m.row("app", "s1").unwrap();
        assert_eq!(
            (s1.number("scur"), s1.number("stot"), s1.number("rtime")),
            (Some(2.0), Some(5.0), Some(8.0))
        );
        assert!(s1.is_up(), "UP in the first process");
        let s2 = m.row("app", "s2").unwrap();
        assert_eq!(s2.text("status"), "UP 1/2");
        assert_eq!(s2.number("stot"), Some(7.0));
    }

    #[test]
    fn refuses_what_is_not_stat_csv() {
        assert!(matches!(Stats::parse("Unknown command.\n"), Err(StatError::NoHeader(_))));
        assert_eq!(Stats::parse("# a,b\n"), Err(StatError::MissingColumn("pxname")));
    }
}
