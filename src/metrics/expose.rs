//! The exposition formats of `GET /metrics`, and the merge of several nodes' metrics into one
//! text (`bearmon up` runs a whole cluster in one process and serves it at one address).
//!
//! prometheus-client writes OpenMetrics: a counter's `# HELP`/`# TYPE` name the family
//! without `_total`, and the text ends with `# EOF`. Served as Prometheus's own text format
//! (0.0.4), which is what a scraper gets unless it asks for OpenMetrics, that text is wrong:
//! promtool refuses it and Prometheus files `bearmon_check_runs_total` without metadata.
//! So the families are parsed back and written in the format the scraper asked for.

/// The format a scraper asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`, the default.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`, only when asked for.
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `accept` names it (Prometheus's scraper does when it may), else
    /// Prometheus's text format.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One metric family of an OpenMetrics text, its samples from every node merged.
#[derive(Debug, Default)]
struct Family {
    name: String,
    help: Option<String>,
    kind: String,
    unit: Option<String>,
    samples: Vec<String>,
}

/// Families in first-seen order, merged by name.
#[derive(Debug, Default)]
pub struct Merged {
    families: Vec<Family>,
}

impl Merged {
    /// Adds the families of an OpenMetrics `text`; with `node`, every sample gets the label
    /// `node="NAME"`, so the same series of several nodes stay apart.
    pub fn add(&mut self, text: &str, node: Option<&str>) {
        let mut current: Option<usize> = None;
        for line in text.lines() {
            if line.is_empty() || line == "# EOF" {
                continue;
            }
            if let Some(meta) = line.strip_prefix("# ") {
                let mut parts = meta.splitn(3, ' ');
                let (Some(what), Some(name)) = (parts.next(), parts.next()) else { continue };
                let rest = parts.next().unwrap_or("").to_string();
                let i = self.family(name);
                current = Some(i);
                let f = &mut self.families[i];
                match what {
                    "HELP" => f.help = Some(rest),
                    "TYPE" => f.kind = rest,
                    "UNIT" => f.unit = Some(rest),
                    _ => {}
                }
                continue;
            }
            let sample = match node {
                Some(n) => with_label(line, "node", n),
                None => line.to_string(),
            };
            let i = match current {
                Some(i) if sample_family(&sample).starts_with(&self.families[i].name) => i,
                // A sample before any metadata: a family of its own, of unknown type.
                _ => self.family(sample_family(&sample)),
            };
            self.families[i].samples.push(sample);
        }
    }

    fn family(&mut self, name: &str) -> usize {
        if let Some(i) = self.families.iter().position(|f| f.name == name) {
            return i;
        }
        self.families.push(Family { name: name.to_string(), kind: "unknown".into(), ..Family::default() });
        self.families.len() - 1
    }

    /// The text in `format`, `tail` (families already in that format) after the rest.
    pub fn render(&self, format: Format, tail: &str) -> String {
        let mut out = String::new();
        for f in &self.families {
            match format {
                Format::OpenMetrics => {
                    push_meta(&mut out, "HELP", &f.name, f.help.as_deref());
                    push_meta(&mut out, "TYPE", &f.name, Some(&f.kind));
                    push_meta(&mut out, "UNIT", &f.name, f.unit.as_deref());
                    for s in &f.samples {
                        out.push_str(s);
                        out.push('\n');
                    }
                }
                Format::Prometheus => {
                    // Prometheus names a counter's metadata after its sample (`_total`), has no
                    // info, stateset or unit lines, and no `_created` samples or exemplars.
                    let (name, kind) = match f.kind.as_str() {
                        "counter" => (format!("{}_total", f.name), "counter"),
                        "info" => (format!("{}_info", f.name), "gauge"),
                        "gauge" | "stateset" => (f.name.clone(), "gauge"),
                        "histogram" | "gaugehistogram" => (f.name.clone(), "histogram"),
                        "summary" => (f.name.clone(), "summary"),
                        _ => (f.name.clone(), "untyped"),
                    };
                    push_meta(&mut out, "HELP", &name, f.help.as_deref());
                    push_meta(&mut out, "TYPE", &name, Some(kind));
                    for s in &f.samples {
                        if sample_family(s).ends_with("_created") {
                            continue;
                        }
                        out.push_str(s.split(" # ").next().unwrap_or(s));
                        out.push('\n');
                    }
                }
            }
        }
        out.push_str(tail);
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

fn push_meta(out: &mut String, what: &str, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        out.push_str(&format!("# {what} {name} {v}\n"));
    }
}

/// The metric name a sample line starts with.
fn sample_family(line: &str) -> &str {
    let end = line.find(['{', ' ']).unwrap_or(line.len());
    &line[..end]
}

/// A label value escaped as both exposition formats want it.
pub fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `line` with the label `key="value"` first among its labels.
fn with_label(line: &str, key: &str, value: &str) -> String {
    let name = sample_family(line);
    let rest = &line[name.len()..];
    let value = escape_label(value);
    match rest.strip_prefix('{') {
        Some(labels) if labels.starts_with('}') => format!("{name}{{{key}=\"{value}\"{labels}"),
        Some(labels) => format!("{name}{{{key}=\"{value}\",{labels}"),
        None => format!("{name}{{{key}=\"{value}\"}}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OM: &str = "# HELP bearmon_check_runs Check executions.\n\
        # TYPE bearmon_check_runs counter\n\
        bearmon_check_runs_total{result=\"online\"} 3\n\
        bearmon_check_runs_created{result=\"online\"} 1700000000.0\n\
        # HELP bearmon_workers_live Live workers.\n\
        # TYPE bearmon_workers_live gauge\n\
        bearmon_workers_live 2\n\
        # HELP bearmon_lag_seconds Lag.\n\
        # TYPE bearmon_lag_seconds histogram\n\
        bearmon_lag_seconds_sum 0.5\n\
        bearmon_lag_seconds_count 1\n\
        bearmon_lag_seconds_bucket{le=\"+Inf\"} 1\n\
        # EOF\n";

    #[test]
    fn accept_chooses_openmetrics_only_when_named() {
        assert_eq!(Format::from_accept(None), Format::Prometheus);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
        let prom = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
        assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
    }

    #[test]
    fn prometheus_text_names_counters_with_total_and_has_no_eof() {
        let mut m = Merged::default();
        m.add(OM, None);
        let text = m.render(Format::Prometheus, "");
        assert!(text.contains("# HELP bearmon_check_runs_total Check executions.\n"), "{text}");
        assert!(text.contains("# TYPE bearmon_check_runs_total counter\n"), "{text}");
        assert!(text.contains("bearmon_check_runs_total{result=\"online\"} 3\n"), "{text}");
        assert!(!text.contains("_created") && !text.contains("# EOF"), "{text}");
        assert!(text.contains("# TYPE bearmon_workers_live gauge\nbearmon_workers_live 2\n"), "{text}");
        assert!(text.contains("# TYPE bearmon_lag_seconds histogram\n"), "{text}");
    }

    #[test]
    fn openmetrics_text_is_kept_as_written() {
        let mut m = Merged::default();
        m.add(OM, None);
        assert_eq!(m.render(Format::OpenMetrics, ""), OM);
    }

    #[test]
    fn nodes_merge_into_one_family_each_labelled() {
        let mut m = Merged::default();
        m.add(OM, Some("w1"));
        m.add(OM, Some("w2"));
        let text = m.render(Format::Prometheus, "");
        assert_eq!(text.matches("# TYPE bearmon_workers_live gauge").count(), 1, "{text}");
        assert!(text.contains("bearmon_workers_live{node=\"w1\"} 2\nbearmon_workers_live{node=\"w2\"} 2\n"));
        assert!(text.contains("bearmon_check_runs_total{node=\"w2\",result=\"online\"} 3\n"), "{text}");
        assert!(text.contains("bearmon_lag_seconds_bucket{node=\"w1\",le=\"+Inf\"} 1\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a \"b\"\\\nc"), "a \\\"b\\\"\\\\\\nc");
    }

    #[test]
    fn labels_are_escaped_and_empty_label_sets_filled() {
        assert_eq!(with_label("x{} 1", "node", "a\"b"), "x{node=\"a\\\"b\"} 1");
        assert_eq!(with_label("x 1", "node", "n"), "x{node=\"n\"} 1");
    }
}
