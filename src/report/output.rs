//! A report as people read it: the formatted figures ([`View`]) shared by the terminal table,
//! the digest templates, and the CSV export.

use serde::Serialize;

use super::{CaseLine, Report, SlaFigure, Timing};

/// A duration of business time, readable: `45s`, `12m`, `3h 05m`.
pub fn human_seconds(s: i64) -> String {
    let s = s.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// "1 rating", "3 ratings".
pub fn ratings_text(n: u64) -> String {
    format!("{n} rating{}", if n == 1 { "" } else { "s" })
}

fn percent(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{:.0}%", r * 100.0))
}

/// A time of the report document (RFC 3339, as `report --json` writes it) in the report's
/// time zone (also the document's, written from the calendar's).
fn local(ts: &str, tz: &str) -> String {
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::UTC);
    chrono::DateTime::parse_from_rfc3339(ts)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// One labelled figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub label: String,
    pub value: String,
}

/// A count with its share of the total.
#[derive(Debug, Clone, Serialize)]
pub struct CountLine {
    pub label: String,
    pub count: u64,
    pub share: String,
}

/// SLA compliance of one priority, in words.
#[derive(Debug, Clone, Serialize)]
pub struct SlaLine {
    pub label: String,
    /// Cases of the priority opened in the period.
    pub cases: u64,
    pub first_response: String,
    pub resolution: String,
}

/// One rating value and how often it was given; `bar` is a width in percent for HTML.
#[derive(Debug, Clone, Serialize)]
pub struct RatingLine {
    pub rating: u8,
    pub count: u64,
    pub bar: u64,
}

/// A category's keywords, joined.
#[derive(Debug, Clone, Serialize)]
pub struct KeywordLine {
    pub label: String,
    pub words: String,
}

/// The report formatted for people.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    /// `2026-11-23 00:00 to 2026-11-30 00:00 (Europe/Berlin)`.
    pub period: String,
    pub as_of: String,
    pub timezone: String,
    pub cases: u64,
    pub headline: Vec<Figure>,
    pub categories: Vec<CountLine>,
    pub priorities: Vec<CountLine>,
    /// Volumes by queue and by brand: empty when the config names no queues or brands.
    pub queues: Vec<CountLine>,
    pub brands: Vec<CountLine>,
    /// What the report is limited to: `queue billing`, `brand acme`, both, or empty.
    pub scope: String,
    pub weeks: Vec<CountLine>,
    pub sla: Vec<SlaLine>,
    pub ratings: Vec<RatingLine>,
    pub rating_count: u64,
    /// `rating_count` in words: "1 rating", "3 ratings".
    pub ratings_given: String,
    pub rating_mean: String,
    pub comments: Vec<Figure>,
    pub keywords: Vec<KeywordLine>,
    /// The five busiest hours with any case, busiest first (`09:00-10:00`).
    pub busiest_hours: Vec<CountLine>,
    pub breached: Vec<CaseLine>,
    pub escalated: Vec<CaseLine>,
}

fn timing_text(t: &Timing) -> (String, String) {
    (
        t.median_seconds.map_or("-".into(), human_seconds),
        t.p90_seconds.map_or("-".into(), human_seconds),
    )
}

fn sla_text(f: &SlaFigure) -> String {
    let decided = f.met + f.missed;
    if decided == 0 && f.pending == 0 {
        return "-".into();
    }
    let mut s = format!("{} of {} met ({})", f.met, decided, percent(f.compliance));
    if f.pending > 0 {
        s.push_str(&format!(", {} open", f.pending));
    }
    s
}

impl View {
    /// Formats `r`.
    pub fn of(r: &Report) -> View {
        let share = |c: u64| {
            if r.cases == 0 {
                "-".to_string()
            } else {
                format!("{:.0}%", c as f64 * 100.0 / r.cases as f64)
            }
        };
        let lines = |v: &[super::Count]| -> Vec<CountLine> {
            v.iter()
                .map(|c| CountLine {
                    label: c.label.clone(),
                    count: c.count,
                    share: share(c.count),
                })
                .collect()
        };
        let (fr_median, fr_p90) = timing_text(&r.first_response);
        let (res_median, res_p90) = timing_text(&r.resolution);
        let mean = r
            .satisfaction
            .mean
            .map_or("-".to_string(), |m| format!("{m:.2} / 5"));
        let headline = vec![
            Figure {
                label: "Cases opened".into(),
                value: r.cases.to_string(),
            },
            Figure {
                label: "First response (business time)".into(),
                value: format!(
                    "median {fr_median}, 90% within {fr_p90} ({} answered)",
                    r.first_response.measured
                ),
            },
            Figure {
                label: "Resolution (business time)".into(),
                value: format!(
                    "median {res_median}, 90% within {res_p90} ({} resolved)",
                    r.resolution.measured
                ),
            },
            Figure {
                label: "Escalated".into(),
                value: format!(
                    "{} of {} ({})",
                    r.escalation.cases,
                    r.escalation.of,
                    percent(r.escalation.rate)
                ),
            },
            Figure {
                label: "Reopened".into(),
                value: format!(
                    "{} of {} ({})",
                    r.reopen.cases,
                    r.reopen.of,
                    percent(r.reopen.rate)
                ),
            },
            Figure {
                label: "Satisfaction".into(),
                value: format!("{mean} ({})", ratings_text(r.satisfaction.count)),
            },
        ];
        let max_rating = r
            .satisfaction
            .distribution
            .iter()
            .map(|d| d.count)
            .max()
            .unwrap_or(0)
            .max(1);
        let mut hours: Vec<&super::HourCount> =
            r.busiest_hours.iter().filter(|h| h.count > 0).collect();
        hours.sort_by(|a, b| b.count.cmp(&a.count).then(a.hour.cmp(&b.hour)));
        View {
            period: format!(
                "{} to {} ({})",
                local(&r.period_from, &r.timezone),
                local(&r.period_to, &r.timezone),
                r.timezone
            ),
            as_of: local(&r.as_of, &r.timezone),
            timezone: r.timezone.clone(),
            cases: r.cases,
            headline,
            categories: lines(&r.by_category),
            priorities: lines(&r.by_priority),
            queues: if r.has_queues {
                lines(&r.by_queue)
            } else {
                Vec::new()
            },
            brands: if r.has_queues {
                lines(&r.by_brand)
            } else {
                Vec::new()
            },
            scope: [("queue", &r.queue), ("brand", &r.brand)]
                .iter()
                .filter_map(|(what, name)| name.as_ref().map(|n| format!("{what} {n}")))
                .collect::<Vec<_>>()
                .join(", "),
            weeks: lines(&r.by_week),
            sla: r
                .sla
                .iter()
                .map(|s| SlaLine {
                    label: s.label.clone(),
                    cases: r
                        .by_priority
                        .iter()
                        .find(|p| p.name == s.priority)
                        .map_or(0, |p| p.count),
                    first_response: sla_text(&s.first_response),
                    resolution: sla_text(&s.resolution),
                })
                .collect(),
            ratings: r
                .satisfaction
                .distribution
                .iter()
                .map(|d| RatingLine {
                    rating: d.rating,
                    count: d.count,
                    bar: d.count * 100 / max_rating,
                })
                .collect(),
            rating_count: r.satisfaction.count,
            ratings_given: ratings_text(r.satisfaction.count),
            rating_mean: mean,
            comments: r
                .satisfaction
                .comments
                .iter()
                .map(|c| Figure {
                    label: format!("{} ({}/5)", c.reference, c.rating),
                    value: c.comment.clone(),
                })
                .collect(),
            keywords: r
                .keywords
                .iter()
                .filter(|k| !k.words.is_empty())
                .map(|k| KeywordLine {
                    label: k.label.clone(),
                    words: k
                        .words
                        .iter()
                        .map(|w| format!("{} ({})", w.word, w.count))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            busiest_hours: hours
                .into_iter()
                .take(5)
                .map(|h| CountLine {
                    label: format!("{:02}:00-{:02}:00", h.hour, (h.hour + 1) % 24),
                    count: h.count,
                    share: share(h.count),
                })
                .collect(),
            breached: r.breached.clone(),
            escalated: r.escalated.clone(),
        }
    }
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str(&crate::cli::aligned_table(header, rows));
}

fn count_rows(v: &[CountLine]) -> Vec<Vec<String>> {
    v.iter()
        .map(|c| vec![c.label.clone(), c.count.to_string(), c.share.clone()])
        .collect()
}

fn case_rows(v: &[CaseLine]) -> Vec<Vec<String>> {
    v.iter()
        .map(|c| {
            vec![
                c.reference.clone(),
                c.category.clone(),
                c.priority.clone(),
                c.status.clone(),
                c.opened.clone(),
                c.what.clone(),
                if c.subject.is_empty() {
                    "(purged)".into()
                } else {
                    c.subject.chars().take(50).collect()
                },
            ]
        })
        .collect()
}

/// The report as text tables for a terminal.
pub fn render_table(r: &Report) -> String {
    let v = View::of(r);
    let mut o = String::new();
    o.push_str(&format!(
        "Report {}\nas of {} ({})\n",
        v.period, v.as_of, v.timezone
    ));
    if !v.scope.is_empty() {
        o.push_str(&format!("only the cases of {}\n", v.scope));
    }
    o.push('\n');
    let head: Vec<Vec<String>> = v
        .headline
        .iter()
        .map(|f| vec![f.label.clone(), f.value.clone()])
        .collect();
    table(&mut o, &["FIGURE", "VALUE"], &head);
    let busiest = format!("BUSIEST HOUR ({})", v.timezone);
    for (title, lines) in [
        ("CATEGORY", &v.categories),
        ("PRIORITY", &v.priorities),
        ("QUEUE", &v.queues),
        ("BRAND", &v.brands),
        ("ISO WEEK", &v.weeks),
        (busiest.as_str(), &v.busiest_hours),
    ] {
        if lines.is_empty() && matches!(title, "QUEUE" | "BRAND") {
            continue;
        }
        o.push('\n');
        table(&mut o, &[title, "CASES", "SHARE"], &count_rows(lines));
    }
    o.push('\n');
    let sla: Vec<Vec<String>> = v
        .sla
        .iter()
        .map(|s| {
            vec![
                s.label.clone(),
                s.first_response.clone(),
                s.resolution.clone(),
            ]
        })
        .collect();
    table(&mut o, &["SLA", "FIRST RESPONSE", "RESOLUTION"], &sla);
    o.push('\n');
    let ratings: Vec<Vec<String>> = v
        .ratings
        .iter()
        .map(|r| {
            vec![
                r.rating.to_string(),
                r.count.to_string(),
                "#".repeat((r.bar / 5) as usize),
            ]
        })
        .collect();
    table(&mut o, &["RATING", "COUNT", ""], &ratings);
    o.push_str(&format!(
        "{}, mean {}\n",
        ratings_text(v.rating_count),
        v.rating_mean
    ));
    if !v.comments.is_empty() {
        o.push('\n');
        let c: Vec<Vec<String>> = v
            .comments
            .iter()
            .map(|f| vec![f.label.clone(), f.value.chars().take(80).collect()])
            .collect();
        table(&mut o, &["COMMENT ON", "COMMENT"], &c);
    }
    if !v.keywords.is_empty() {
        o.push('\n');
        let k: Vec<Vec<String>> = v
            .keywords
            .iter()
            .map(|k| vec![k.label.clone(), k.words.clone()])
            .collect();
        table(&mut o, &["KEYWORDS", "WORDS (CASES)"], &k);
    }
    let opened = format!("OPENED ({})", v.timezone);
    let case_header = [
        "REFERENCE",
        "CATEGORY",
        "PRIORITY",
        "STATUS",
        opened.as_str(),
        "WHAT",
        "SUBJECT",
    ];
    o.push_str(&format!("\nbreached: {} case(s)\n", v.breached.len()));
    if !v.breached.is_empty() {
        table(&mut o, &case_header, &case_rows(&v.breached));
    }
    o.push_str(&format!("\nescalated: {} case(s)\n", v.escalated.len()));
    if !v.escalated.is_empty() {
        table(&mut o, &case_header, &case_rows(&v.escalated));
    }
    o
}

/// One CSV field: quoted when needed; a leading `= + - @` (a formula to a spreadsheet) is
/// defused with a quote character first.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV in long form: `section,name,metric,value`, one figure a row, so every
/// figure has a fixed address (`sla_first_response,urgent,met,3`).
pub fn render_csv(r: &Report) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut add = |a: &str, b: &str, c: &str, d: String| {
        rows.push([a.to_string(), b.to_string(), c.to_string(), d]);
    };
    add("period", "", "from", r.period_from.clone());
    add("period", "", "to", r.period_to.clone());
    add("period", "", "as_of", r.as_of.clone());
    add("period", "", "timezone", r.timezone.clone());
    for (what, name) in [("queue", &r.queue), ("brand", &r.brand)] {
        if let Some(n) = name {
            add("scope", "", what, n.clone());
        }
    }
    add("cases", "", "opened", r.cases.to_string());
    for c in &r.by_category {
        add("category", &c.name, "cases", c.count.to_string());
    }
    for c in &r.by_priority {
        add("priority", &c.name, "cases", c.count.to_string());
    }
    for c in &r.by_queue {
        add("queue", &c.name, "cases", c.count.to_string());
    }
    for c in &r.by_brand {
        add("brand", &c.name, "cases", c.count.to_string());
    }
    for c in &r.by_week {
        add("week", &c.name, "cases", c.count.to_string());
    }
    for (name, t) in [
        ("first_response", &r.first_response),
        ("resolution", &r.resolution),
    ] {
        add(name, "", "measured", t.measured.to_string());
        add(name, "", "median_seconds", opt(t.median_seconds));
        add(name, "", "p90_seconds", opt(t.p90_seconds));
    }
    for s in &r.sla {
        for (section, f) in [
            ("sla_first_response", &s.first_response),
            ("sla_resolution", &s.resolution),
        ] {
            add(section, &s.priority, "met", f.met.to_string());
            add(section, &s.priority, "missed", f.missed.to_string());
            add(section, &s.priority, "pending", f.pending.to_string());
            add(section, &s.priority, "compliance", opt(f.compliance));
        }
    }
    for (name, rate) in [("escalation", &r.escalation), ("reopen", &r.reopen)] {
        add(name, "", "cases", rate.cases.to_string());
        add(name, "", "of", rate.of.to_string());
        add(name, "", "rate", opt(rate.rate));
    }
    add(
        "satisfaction",
        "",
        "count",
        r.satisfaction.count.to_string(),
    );
    add("satisfaction", "", "mean", opt(r.satisfaction.mean));
    for d in &r.satisfaction.distribution {
        add(
            "rating",
            &d.rating.to_string(),
            "count",
            d.count.to_string(),
        );
    }
    for c in &r.satisfaction.comments {
        add(
            "comment",
            &c.reference,
            &c.rating.to_string(),
            c.comment.clone(),
        );
    }
    for k in &r.keywords {
        for w in &k.words {
            add("keyword", &k.category, &w.word, w.count.to_string());
        }
    }
    for h in &r.busiest_hours {
        add(
            "hour",
            &format!("{:02}", h.hour),
            "cases",
            h.count.to_string(),
        );
    }
    for c in &r.breached {
        add("breached", &c.reference, &c.priority, c.what.clone());
    }
    for c in &r.escalated {
        add("escalated", &c.reference, &c.priority, c.what.clone());
    }
    let mut out = String::from("section,name,metric,value\n");
    for r in rows {
        out.push_str(&r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_durations_read_as_hours_and_minutes() {
        assert_eq!(human_seconds(42), "42s");
        assert_eq!(human_seconds(12 * 60 + 5), "12m");
        assert_eq!(human_seconds(3 * 3600 + 5 * 60), "3h 05m");
        assert_eq!(human_seconds(30 * 3600), "30h 00m");
    }

    #[test]
    fn every_time_of_the_table_names_its_zone() {
        let t = render_table(&Report::sample());
        let zone = "(Europe/Berlin)";
        assert!(t.lines().next().unwrap().ends_with(zone), "{t}");
        assert!(
            t.lines().nth(1).unwrap().starts_with("as of ")
                && t.lines().nth(1).unwrap().ends_with(zone),
            "{t}"
        );
        assert!(t.contains(&format!("BUSIEST HOUR {zone}")), "{t}");
        assert!(t.contains(&format!("OPENED {zone}")), "{t}");
        assert!(
            t.contains(&format!("escalated 2026-11-23 12:00 {zone}")),
            "{t}"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
