//! Reports: what happened to the complaints of a period, for `mailcase report` and the
//! management digest.
//!
//! Figures come from the store only, read-only, so a report runs while the daemon runs.
//! Which cases a figure covers:
//! - **cases opened in the period** (the cohort): volumes by category, priority, queue,
//!   brand, ISO week and hour of day; first-response and resolution times; SLA compliance; escalation and
//!   reopen rates; subject keywords; the breached list;
//! - **ratings given in the period**, whichever case they are for;
//! - **cases first escalated in the period**, whenever opened: the escalated list.
//!
//! Times are business time (working hours of the `[calendar]`, holidays excluded), measured
//! with [`BusinessCalendar::business_between`]. Purged and erased cases keep their figures
//! (category, priority, times, SLA outcome, rating) and count everywhere; they have no subject
//! left, so they contribute no keywords.
//!
//! A report covers every case, or those of one queue or brand ([`ReportScope`]; `mailcase
//! report --queue/--brand`, `[digest] brand`). A case from before queues (no queue stored)
//! counts in the default queue (the first) and its brand.

pub mod chart;
pub mod cli;
pub mod digest;
pub mod output;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::business_time::BusinessCalendar;
use crate::config::Config;
use crate::store::{ts, Matching, Reader, ReportCase, ReportScope, StoreError};

/// Up to this period length the timeline has one bucket per day, beyond it one per ISO week.
const DAILY_UP_TO_DAYS: i64 = 31;
/// Keywords listed per category.
const KEYWORDS_PER_CATEGORY: usize = 10;

/// The half-open interval `[from, to)` a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A report of one period. Durations are whole seconds of business time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub period_from: String,
    pub period_to: String,
    /// When the report was made: open targets due before it count as missed.
    pub as_of: String,
    /// The business time zone (weeks, days and hours are read there).
    pub timezone: String,
    /// Cases opened in the period.
    pub cases: u64,
    pub by_category: Vec<Count>,
    pub by_priority: Vec<Count>,
    /// The queue the report is limited to (`--queue`), if any.
    #[serde(default)]
    pub queue: Option<String>,
    /// The brand the report is limited to (`--brand`, `[digest] brand`), if any.
    #[serde(default)]
    pub brand: Option<String>,
    /// True when the config names queues or brands: tables and the digest then show the
    /// volumes by queue and brand.
    #[serde(default)]
    pub has_queues: bool,
    /// Cases opened per queue (config order, then any the config no longer has); with a
    /// queue or brand given, only those with cases and the one given.
    #[serde(default)]
    pub by_queue: Vec<Count>,
    /// Cases opened per brand, listed likewise.
    #[serde(default)]
    pub by_brand: Vec<Count>,
    /// Cases opened per ISO week (`2026-W48`), every week of the period listed.
    pub by_week: Vec<Count>,
    pub first_response: Timing,
    pub resolution: Timing,
    /// SLA compliance per priority, most urgent first.
    pub sla: Vec<SlaRow>,
    pub escalation: Rate,
    pub reopen: Rate,
    pub satisfaction: Satisfaction,
    /// Most frequent subject words per category (number of cases whose subject has them).
    pub keywords: Vec<Keywords>,
    /// Cases opened per hour of the day (0-23) in the business time zone.
    pub busiest_hours: Vec<HourCount>,
    /// Volumes and ratings over time, for the charts.
    pub timeline: Timeline,
    /// Cases of the period that missed a target.
    pub breached: Vec<CaseLine>,
    /// Cases first escalated in the period.
    pub escalated: Vec<CaseLine>,
}

/// One value counted, with its label from config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub name: String,
    pub label: String,
    pub count: u64,
}

/// Median and 90th percentile of a set of business durations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// How many cases the figures are measured on.
    pub measured: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

/// How many cases met a target, missed it, or are still within it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaFigure {
    pub met: u64,
    pub missed: u64,
    /// Not reached yet and not due yet.
    pub pending: u64,
    /// met / (met + missed); None when nothing was decided.
    pub compliance: Option<f64>,
}

/// SLA compliance of one priority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaRow {
    pub priority: String,
    pub label: String,
    pub first_response: SlaFigure,
    pub resolution: SlaFigure,
}

/// `cases` of `of`, and the share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub cases: u64,
    pub of: u64,
    pub rate: Option<f64>,
}

/// Ratings given in the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Satisfaction {
    pub count: u64,
    pub mean: Option<f64>,
    /// Ratings 1 to 5, in order.
    pub distribution: Vec<RatingCount>,
    pub comments: Vec<Comment>,
}

/// How many ratings had this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingCount {
    pub rating: u8,
    pub count: u64,
}

/// A rating's comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub reference: String,
    pub rating: u8,
    pub comment: String,
    pub at: String,
}

/// Subject words of one category.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keywords {
    pub category: String,
    pub label: String,
    pub words: Vec<WordCount>,
}

/// A word and the number of cases whose subject has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WordCount {
    pub word: String,
    pub count: u64,
}

/// Cases opened in one local hour of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    pub hour: u32,
    pub count: u64,
}

/// The period in buckets of a day or an ISO week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// `day` or `week`.
    pub unit: String,
    pub buckets: Vec<Bucket>,
}

/// One day or week of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// `2026-11-23` or `2026-W48`.
    pub label: String,
    /// Cases opened, per category in the order of [`Report::by_category`].
    pub cases_by_category: Vec<u64>,
    pub ratings: u64,
    pub rating_mean: Option<f64>,
}

/// A case in the breached or escalated list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLine {
    pub reference: String,
    pub category: String,
    pub priority: String,
    /// The priority's configured label, as the digest shows it (`Urgent`).
    #[serde(default)]
    pub priority_label: String,
    pub status: String,
    /// The status in words, as the digest shows it (`waiting on customer`).
    #[serde(default)]
    pub status_label: String,
    /// Empty once the case was purged or erased.
    pub subject: String,
    pub opened: String,
    /// What happened: `first response missed`, `escalated`...
    pub what: String,
}

/// Whether a target was met, missed, still open, or did not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Met,
    Missed,
    Pending,
    NoTarget,
}

fn outcome(
    due: Option<DateTime<Utc>>,
    reached: Option<DateTime<Utc>>,
    as_of: DateTime<Utc>,
) -> Outcome {
    let Some(due) = due else {
        return Outcome::NoTarget;
    };
    match reached {
        Some(r) if r <= due => Outcome::Met,
        Some(_) => Outcome::Missed,
        None if due < as_of => Outcome::Missed,
        None => Outcome::Pending,
    }
}

impl SlaFigure {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Met => self.met += 1,
            Outcome::Missed => self.missed += 1,
            Outcome::Pending => self.pending += 1,
            Outcome::NoTarget => {}
        }
        let decided = self.met + self.missed;
        self.compliance = (decided > 0).then(|| self.met as f64 / decided as f64);
    }
}

/// The first-response outcome: the first answer, or the resolution of a case resolved
/// without one, against the (pause-adjusted) due time stored on the case.
fn first_response_outcome(c: &ReportCase, as_of: DateTime<Utc>) -> Outcome {
    let reached = c.first_response_at.or(c.resolved_at);
    outcome(c.first_response_due, reached, as_of)
}

fn resolution_outcome(c: &ReportCase, as_of: DateTime<Utc>) -> Outcome {
    outcome(c.resolution_due, c.resolved_at, as_of)
}

/// The median (mean of the two middle values for an even count) and the 90th percentile
/// (nearest rank) of `v`.
pub fn median_p90(v: &mut [i64]) -> (Option<i64>, Option<i64>) {
    if v.is_empty() {
        return (None, None);
    }
    v.sort_unstable();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    let rank = (n * 9).div_ceil(10).max(1);
    (Some(median), Some(v[rank - 1]))
}

fn timing(mut v: Vec<i64>) -> Timing {
    let (median_seconds, p90_seconds) = median_p90(&mut v);
    Timing {
        measured: v.len() as u64,
        median_seconds,
        p90_seconds,
    }
}

fn rate(cases: u64, of: u64) -> Rate {
    Rate {
        cases,
        of,
        rate: (of > 0).then(|| cases as f64 / of as f64),
    }
}

/// Words that say nothing about a complaint (English, and the commonest German, French,
/// Spanish and Dutch ones), and reply prefixes.
const STOP_WORDS: &[&str] = &[
    "about",
    "after",
    "again",
    "all",
    "also",
    "and",
    "any",
    "are",
    "because",
    "been",
    "before",
    "but",
    "can",
    "cannot",
    "could",
    "did",
    "does",
    "doesn",
    "dont",
    "for",
    "from",
    "get",
    "got",
    "had",
    "has",
    "have",
    "hello",
    "help",
    "her",
    "his",
    "how",
    "into",
    "its",
    "just",
    "may",
    "more",
    "much",
    "need",
    "not",
    "now",
    "our",
    "out",
    "please",
    "question",
    "regarding",
    "she",
    "still",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "this",
    "urgent",
    "very",
    "was",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "fwd",
    "aw",
    "antw",
    "wg",
    "sv",
    "vs",
    "der",
    "die",
    "das",
    "und",
    "ist",
    "nicht",
    "mit",
    "ein",
    "eine",
    "ich",
    "mein",
    "meine",
    "bitte",
    "les",
    "des",
    "une",
    "est",
    "pas",
    "pour",
    "avec",
    "mon",
    "dans",
    "los",
    "las",
    "una",
    "por",
    "con",
    "het",
    "een",
    "niet",
    "van",
    "voor",
];

/// The distinct words of a subject worth counting: lower-cased, reference tags and reply
/// prefixes dropped, at least three letters, not a number, not a stop word.
pub fn subject_words(subject: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut in_tag = false;
    let mut cleaned = String::with_capacity(subject.len());
    for c in subject.chars() {
        match c {
            '[' => in_tag = true,
            ']' => {
                in_tag = false;
                cleaned.push(' ');
            }
            _ if !in_tag => cleaned.push(c),
            _ => {}
        }
    }
    for w in cleaned
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        if w.chars().count() < 3
            || w.chars().all(|c| c.is_ascii_digit())
            || STOP_WORDS.contains(&w.as_str())
        {
            continue;
        }
        out.insert(w);
    }
    out
}

fn iso_week_label(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn local_date(cal: &BusinessCalendar, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&cal.tz()).date_naive()
}

/// Every ISO week label from `from`'s local date to `to`'s (inclusive), in order.
fn weeks_between(first: NaiveDate, last: NaiveDate) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut d = first;
    while d <= last {
        let l = iso_week_label(d);
        if out.last() != Some(&l) {
            out.push(l);
        }
        match d.checked_add_signed(Duration::days(1)) {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

fn case_line(c: &ReportCase, cal: &BusinessCalendar, what: String) -> CaseLine {
    CaseLine {
        reference: c.reference.clone(),
        category: c.category.to_string(),
        priority: c.priority.to_string(),
        priority_label: c.priority.to_string(),
        status: c.status.to_string(),
        status_label: c.status.agent_label().into(),
        subject: if c.purged_at.is_some() || c.erased_at.is_some() {
            String::new()
        } else {
            c.subject.clone()
        },
        opened: c
            .created_at
            .with_timezone(&cal.tz())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        what,
    }
}

/// The default queue (the first) and its brand: where a case from before queues belongs.
pub fn default_queue_and_brand(cfg: &Config) -> (String, String) {
    let first = cfg.default_queue(None);
    let brand = cfg
        .queue(&first)
        .map(|q| cfg.brand_of(&q))
        .unwrap_or_default();
    (first, brand)
}

/// The scope of a report limited to `queue` and/or `brand` (names the caller checked).
pub fn scope(cfg: &Config, queue: Option<&str>, brand: Option<&str>) -> ReportScope {
    let (default_queue, default_brand) = default_queue_and_brand(cfg);
    let matching = |name: Option<&str>, null_as: String| {
        name.map(|n| Matching {
            name: n.to_string(),
            null_as,
        })
    };
    ReportScope {
        queue: matching(queue, default_queue),
        brand: matching(brand, default_brand),
    }
}

/// Cases per name: `names` in order, then any other a case has, as `(name, name)` labels;
/// with `only_used`, names without cases are left out unless they are `keep`.
fn count_names(
    mut names: Vec<String>,
    of_cases: &[String],
    only_used: bool,
    keep: Option<&str>,
) -> Vec<Count> {
    for n in of_cases {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
        .into_iter()
        .map(|n| Count {
            count: of_cases.iter().filter(|c| **c == n).count() as u64,
            label: n.clone(),
            name: n,
        })
        .filter(|c| !only_used || c.count > 0 || keep == Some(c.name.as_str()))
        .collect()
}

/// Builds the report of `period` from the store, as of `as_of`, over the cases of `scope`.
///
/// # Errors
/// SQL errors.
pub fn build(
    reader: &Reader<'_>,
    cfg: &Config,
    cal: &BusinessCalendar,
    period: Period,
    as_of: DateTime<Utc>,
    scope: &ReportScope,
) -> Result<Report, StoreError> {
    let cases = reader.cases_opened(period.from, period.to, scope)?;
    let ratings = reader.ratings_given(period.from, period.to, scope)?;
    let escalated = reader.cases_escalated(period.from, period.to, scope)?;
    let tz = cal.tz();

    // Queues and brands: a case from before queues is in the default queue, of its brand.
    let (default_queue, default_brand) = default_queue_and_brand(cfg);
    let case_queues: Vec<String> = cases
        .iter()
        .map(|c| c.queue.clone().unwrap_or_else(|| default_queue.clone()))
        .collect();
    let case_brands: Vec<String> = cases
        .iter()
        .map(|c| c.brand.clone().unwrap_or_else(|| default_brand.clone()))
        .collect();
    let scoped = scope.queue.is_some() || scope.brand.is_some();
    let scope_queue = scope.queue.as_ref().map(|m| m.name.clone());
    let scope_brand = scope.brand.as_ref().map(|m| m.name.clone());
    let by_queue = count_names(
        cfg.queue_names(),
        &case_queues,
        scoped,
        scope_queue.as_deref(),
    );
    let by_brand = count_names(
        cfg.brand_names(),
        &case_brands,
        scoped,
        scope_brand.as_deref(),
    );

    // Categories and priorities in config order, then any the config no longer has.
    let mut categories: Vec<(String, String)> = cfg
        .categories
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.label.clone().unwrap_or_else(|| c.name.clone()),
            )
        })
        .collect();
    let mut priorities: Vec<(String, String)> = cfg
        .priorities
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.label.clone().unwrap_or_else(|| p.name.clone()),
            )
        })
        .collect();
    for c in &cases {
        if !categories.iter().any(|(n, _)| c.category == n.as_str()) {
            categories.push((c.category.to_string(), c.category.to_string()));
        }
        if !priorities.iter().any(|(n, _)| c.priority == n.as_str()) {
            priorities.push((c.priority.to_string(), c.priority.to_string()));
        }
    }
    let count_by = |names: &[(String, String)], f: &dyn Fn(&ReportCase) -> &str| -> Vec<Count> {
        names
            .iter()
            .map(|(n, l)| Count {
                name: n.clone(),
                label: l.clone(),
                count: cases.iter().filter(|c| f(c) == n).count() as u64,
            })
            .collect()
    };
    let by_category = count_by(&categories, &|c| c.category.as_str());
    let by_priority = count_by(&priorities, &|c| c.priority.as_str());

    let first_day = local_date(cal, period.from);
    let last_day = local_date(cal, period.to - Duration::microseconds(1)).max(first_day);
    let mut weeks: BTreeMap<String, u64> = weeks_between(first_day, last_day)
        .into_iter()
        .map(|w| (w, 0))
        .collect();
    let mut hours = [0u64; 24];
    let mut first_times = Vec::new();
    let mut resolution_times = Vec::new();
    let mut sla: Vec<SlaRow> = priorities
        .iter()
        .map(|(n, l)| SlaRow {
            priority: n.clone(),
            label: l.clone(),
            first_response: SlaFigure::default(),
            resolution: SlaFigure::default(),
        })
        .collect();
    let mut breached = Vec::new();
    let mut words: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for c in &cases {
        let created = c.created_at;
        let local = created.with_timezone(&tz);
        *weeks.entry(iso_week_label(local.date_naive())).or_default() += 1;
        hours[local.hour() as usize] += 1;
        if let Some(f) = c.first_response_at {
            first_times.push(cal.business_between(created, f).num_seconds());
        }
        if let Some(r) = c.resolved_at {
            resolution_times.push(cal.business_between(created, r).num_seconds());
        }
        let fr = first_response_outcome(c, as_of);
        let res = resolution_outcome(c, as_of);
        if let Some(row) = sla.iter_mut().find(|r| c.priority == r.priority.as_str()) {
            row.first_response.add(fr);
            row.resolution.add(res);
        }
        let mut missed = Vec::new();
        if fr == Outcome::Missed {
            missed.push("first response missed");
        }
        if res == Outcome::Missed {
            missed.push("resolution missed");
        }
        if !missed.is_empty() {
            breached.push(case_line(c, cal, missed.join(", ")));
        }
        if c.purged_at.is_none() && c.erased_at.is_none() {
            let per = words.entry(c.category.to_string()).or_default();
            for w in subject_words(&c.subject) {
                *per.entry(w).or_default() += 1;
            }
        }
    }

    let keywords = categories
        .iter()
        .filter_map(|(name, label)| {
            let per = words.get(name)?;
            let mut v: Vec<WordCount> = per
                .iter()
                .map(|(w, n)| WordCount {
                    word: w.clone(),
                    count: *n,
                })
                .collect();
            v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
            v.truncate(KEYWORDS_PER_CATEGORY);
            Some(Keywords {
                category: name.clone(),
                label: label.clone(),
                words: v,
            })
        })
        .collect();

    let mut distribution: Vec<RatingCount> = (1..=5)
        .map(|r| RatingCount {
            rating: r,
            count: 0,
        })
        .collect();
    for r in &ratings {
        if let Some(d) = distribution.iter_mut().find(|d| d.rating == r.rating) {
            d.count += 1;
        }
    }
    let satisfaction = Satisfaction {
        count: ratings.len() as u64,
        mean: (!ratings.is_empty()).then(|| {
            ratings.iter().map(|r| f64::from(r.rating)).sum::<f64>() / ratings.len() as f64
        }),
        distribution,
        comments: ratings
            .iter()
            .filter_map(|r| {
                let text = r.comment.as_deref()?.trim();
                (!text.is_empty()).then(|| Comment {
                    reference: r.reference.clone(),
                    rating: r.rating,
                    comment: text.to_string(),
                    at: ts(r.at),
                })
            })
            .collect(),
    };

    // The timeline: days for a month or less, ISO weeks beyond.
    let daily = (period.to - period.from) <= Duration::days(DAILY_UP_TO_DAYS);
    let bucket_of = |t: DateTime<Utc>| -> String {
        let d = local_date(cal, t);
        if daily {
            d.format("%Y-%m-%d").to_string()
        } else {
            iso_week_label(d)
        }
    };
    let labels: Vec<String> = if daily {
        let mut v = Vec::new();
        let mut d = first_day;
        while d <= last_day {
            v.push(d.format("%Y-%m-%d").to_string());
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        v
    } else {
        weeks_between(first_day, last_day)
    };
    let mut buckets: Vec<Bucket> = labels
        .into_iter()
        .map(|label| Bucket {
            label,
            cases_by_category: vec![0; categories.len()],
            ratings: 0,
            rating_mean: None,
        })
        .collect();
    let mut rating_sums = vec![0u64; buckets.len()];
    for c in &cases {
        let l = bucket_of(c.created_at);
        let ci = categories
            .iter()
            .position(|(n, _)| c.category == n.as_str());
        if let (Some(b), Some(ci)) = (buckets.iter_mut().find(|b| b.label == l), ci) {
            b.cases_by_category[ci] += 1;
        }
    }
    for r in &ratings {
        let l = bucket_of(r.at);
        if let Some(i) = buckets.iter().position(|b| b.label == l) {
            buckets[i].ratings += 1;
            rating_sums[i] += u64::from(r.rating);
        }
    }
    for (b, s) in buckets.iter_mut().zip(rating_sums) {
        b.rating_mean = (b.ratings > 0).then(|| s as f64 / b.ratings as f64);
    }

    let n = cases.len() as u64;
    Ok(Report {
        period_from: ts(period.from),
        period_to: ts(period.to),
        as_of: ts(as_of),
        timezone: tz.name().to_string(),
        cases: n,
        by_week: weeks
            .into_iter()
            .map(|(w, count)| Count {
                name: w.clone(),
                label: w,
                count,
            })
            .collect(),
        by_category,
        by_priority,
        queue: scope_queue,
        brand: scope_brand,
        has_queues: cfg.has_queues(),
        by_queue,
        by_brand,
        first_response: timing(first_times),
        resolution: timing(resolution_times),
        sla,
        escalation: rate(
            cases.iter().filter(|c| c.escalated_at.is_some()).count() as u64,
            n,
        ),
        reopen: rate(
            cases.iter().filter(|c| c.reopen_count > 0).count() as u64,
            n,
        ),
        satisfaction,
        keywords,
        busiest_hours: hours
            .iter()
            .enumerate()
            .map(|(h, c)| HourCount {
                hour: h as u32,
                count: *c,
            })
            .collect(),
        timeline: Timeline {
            unit: if daily { "day" } else { "week" }.to_string(),
            buckets,
        },
        breached,
        escalated: escalated
            .iter()
            .map(|c| {
                let at = c
                    .escalated_at
                    .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                case_line(c, cal, format!("escalated {at} ({})", tz.name()))
            })
            .collect(),
    })
}

impl Report {
    /// A small report with hostile text in it, for `mailcase check` and template tests.
    pub fn sample() -> Report {
        let count = |name: &str, label: &str, count: u64| Count {
            name: name.into(),
            label: label.into(),
            count,
        };
        let hostile = CaseLine {
            reference: "CMP-7KQ4X-V".into(),
            category: "billing".into(),
            priority: "urgent".into(),
            priority_label: "Urgent".into(),
            status: crate::case::Status::Escalated.as_str().into(),
            status_label: crate::case::Status::Escalated.agent_label().into(),
            subject: "Charged twice <script>alert(1)</script> {{ reference }}".into(),
            opened: "2026-11-23 10:00".into(),
            what: "first response missed".into(),
        };
        Report {
            period_from: "2026-11-23T07:00:00.000000Z".into(),
            period_to: "2026-11-30T07:00:00.000000Z".into(),
            as_of: "2026-11-30T07:00:00.000000Z".into(),
            timezone: "Europe/Berlin".into(),
            cases: 3,
            by_category: vec![
                count("billing", "Billing", 2),
                count("general", "General", 1),
            ],
            by_priority: vec![count("urgent", "Urgent", 1), count("normal", "Normal", 2)],
            queue: None,
            brand: None,
            has_queues: true,
            by_queue: vec![count("billing", "billing", 2), count("<shop>", "<shop>", 1)],
            by_brand: vec![count("acme", "acme", 3)],
            by_week: vec![count("2026-W48", "2026-W48", 3)],
            first_response: Timing {
                measured: 2,
                median_seconds: Some(5400),
                p90_seconds: Some(7200),
            },
            resolution: Timing {
                measured: 1,
                median_seconds: Some(14_400),
                p90_seconds: Some(14_400),
            },
            sla: vec![SlaRow {
                priority: "urgent".into(),
                label: "Urgent".into(),
                first_response: SlaFigure {
                    met: 0,
                    missed: 1,
                    pending: 0,
                    compliance: Some(0.0),
                },
                resolution: SlaFigure::default(),
            }],
            escalation: rate(1, 3),
            reopen: rate(0, 3),
            satisfaction: Satisfaction {
                count: 1,
                mean: Some(2.0),
                distribution: (1..=5)
                    .map(|r| RatingCount {
                        rating: r,
                        count: u64::from(r == 2),
                    })
                    .collect(),
                comments: vec![Comment {
                    reference: "CMP-7KQ4X-V".into(),
                    rating: 2,
                    comment: "Took <b>three</b> days {% raw %}".into(),
                    at: "2026-11-24T10:00:00.000000Z".into(),
                }],
            },
            keywords: vec![Keywords {
                category: "billing".into(),
                label: "Billing".into(),
                words: vec![WordCount {
                    word: "<invoice>".into(),
                    count: 2,
                }],
            }],
            busiest_hours: (0..24)
                .map(|h| HourCount {
                    hour: h,
                    count: u64::from(h == 10) * 3,
                })
                .collect(),
            timeline: Timeline {
                unit: "day".into(),
                buckets: vec![Bucket {
                    label: "2026-11-23".into(),
                    cases_by_category: vec![2, 1],
                    ratings: 1,
                    rating_mean: Some(2.0),
                }],
            },
            breached: vec![hostile.clone()],
            escalated: vec![CaseLine {
                subject: String::new(),
                what: "escalated 2026-11-23 12:00 (Europe/Berlin)".into(),
                ..hostile
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_follow_their_definitions() {
        assert_eq!(median_p90(&mut []), (None, None));
        assert_eq!(median_p90(&mut [7]), (Some(7), Some(7)));
        assert_eq!(median_p90(&mut [30, 10]), (Some(20), Some(30)));
        let mut v: Vec<i64> = (1..=10).rev().collect();
        assert_eq!(median_p90(&mut v), (Some(5), Some(9)));
        let mut v: Vec<i64> = (1..=11).collect();
        assert_eq!(median_p90(&mut v), (Some(6), Some(10)));
    }

    #[test]
    fn subject_words_drop_tags_prefixes_numbers_and_stop_words() {
        let w = subject_words("Re: [CMP-7KQ4X-V] AW: Invoice 4711 charged TWICE for my order!");
        let got: Vec<&str> = w.iter().map(String::as_str).collect();
        assert_eq!(got, vec!["charged", "invoice", "order", "twice"]);
        assert!(subject_words("").is_empty());
        assert!(subject_words("Ärger mit der Rechnung").contains("rechnung"));
    }

    #[test]
    fn targets_are_met_missed_or_pending_against_the_report_time() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let as_of = t("2026-11-25T12:00:00Z");
        let due = t("2026-11-24T09:00:00.000000Z");
        assert_eq!(
            outcome(Some(due), Some(t("2026-11-24T08:59:00Z")), as_of),
            Outcome::Met
        );
        assert_eq!(
            outcome(Some(due), Some(t("2026-11-24T09:00:01Z")), as_of),
            Outcome::Missed
        );
        assert_eq!(outcome(Some(due), None, as_of), Outcome::Missed);
        let later = t("2026-11-26T09:00:00Z");
        assert_eq!(outcome(Some(later), None, as_of), Outcome::Pending);
        assert_eq!(outcome(None, None, as_of), Outcome::NoTarget);
    }

    #[test]
    fn iso_weeks_cross_the_year_boundary() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(iso_week_label(d("2026-11-23")), "2026-W48");
        assert_eq!(
            weeks_between(d("2026-12-28"), d("2027-01-05")),
            vec!["2026-W53", "2027-W01"]
        );
    }
}

#[cfg(test)]
pub(crate) mod queue_tests {
    use super::*;
    use crate::case::{Category, Priority, Status};
    use crate::store::{NewCase, Store};
    use chrono::TimeZone;

    /// Three queues, two brands: `billing` and `shop` answer as `acme`, `help` as `globex`.
    pub(crate) fn two_brands() -> Config {
        Config::from_toml(&two_brands_text(), std::path::Path::new(".")).unwrap()
    }

    /// The text of [`two_brands`]: the base test config and the brands and queues.
    pub(crate) fn two_brands_text() -> String {
        format!(
            "{}{}",
            include_str!("../../tests/fixtures/config/base.toml"),
            r#"
[[brand]]
name = "acme"
reference_prefix = "ACM"

[[brand]]
name = "globex"
reference_prefix = "GLX"

[[queue]]
name = "billing"
brand = "acme"
addresses = ["billing@support.test"]

[[queue]]
name = "shop"
brand = "acme"
addresses = ["support@support.test"]

[[queue]]
name = "help"
brand = "globex"
addresses = ["help@globex.test"]
"#
        )
    }

    pub(crate) fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, h, 0, 0).unwrap()
    }

    /// Opens a case at `h`:00 in `queue`/`brand` (both `None`: from before queues).
    pub(crate) fn case(
        s: &mut Store,
        reference: &str,
        h: u32,
        queue: Option<&str>,
        brand: Option<&str>,
    ) -> i64 {
        s.write(|tx| {
            tx.insert_case(&NewCase {
                reference,
                status: Status::Acknowledged,
                category: &Category::new("general"),
                priority: &Priority::new("normal"),
                subject: "s",
                customer_address: "a@x.test",
                customer_name: None,
                now: at(h),
                first_response_due: None,
                resolution_due: None,
                last_public_at: None,
                linked_case_id: None,
                language: None,
                queue,
                brand,
                our_address: None,
            })
        })
        .unwrap()
    }

    fn counts(v: &[Count]) -> Vec<(&str, u64)> {
        v.iter().map(|c| (c.name.as_str(), c.count)).collect()
    }

    #[test]
    fn reports_count_by_queue_and_brand_and_filter_by_either() {
        let cfg = two_brands();
        let cal = BusinessCalendar::from_config(&cfg.calendar);
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::store::test_store(&dir.path().join("r.db"));
        // One case from before queues: in the first queue (billing), of its brand (acme).
        let old = case(&mut s, "CMP-00001-1", 8, None, None);
        case(&mut s, "ACM-00002-2", 9, Some("billing"), Some("acme"));
        let shop = case(&mut s, "ACM-00003-3", 10, Some("shop"), Some("acme"));
        let help = case(&mut s, "GLX-00004-4", 11, Some("help"), Some("globex"));
        case(&mut s, "GLX-00005-5", 12, Some("help"), Some("globex"));
        // A queue the config no longer has still counts, under its own name.
        case(&mut s, "GLX-00006-6", 13, Some("retired"), Some("globex"));
        s.write(|tx| {
            tx.set_status(
                help,
                Status::Acknowledged,
                Status::Escalated,
                "system",
                "t",
                at(14),
            )?;
            tx.set_status(
                old,
                Status::Acknowledged,
                Status::Escalated,
                "system",
                "t",
                at(14),
            )?;
            tx.set_rating(shop, 4, None, None, at(15))?;
            tx.set_rating(help, 2, None, None, at(15))
        })
        .unwrap();
        let period = Period {
            from: at(0),
            to: at(23),
        };
        let report = |q: Option<&str>, b: Option<&str>| {
            build(&s.read(), &cfg, &cal, period, at(23), &scope(&cfg, q, b)).unwrap()
        };

        let all = report(None, None);
        assert_eq!(all.cases, 6);
        assert!(all.has_queues);
        assert_eq!(
            counts(&all.by_queue),
            vec![("billing", 2), ("shop", 1), ("help", 2), ("retired", 1)]
        );
        assert_eq!(counts(&all.by_brand), vec![("acme", 3), ("globex", 3)]);
        assert_eq!(all.satisfaction.count, 2);
        assert_eq!(all.escalated.len(), 2);

        let billing = report(Some("billing"), None);
        assert_eq!(billing.cases, 2);
        assert_eq!(billing.queue.as_deref(), Some("billing"));
        assert_eq!(counts(&billing.by_queue), vec![("billing", 2)]);
        assert_eq!(counts(&billing.by_brand), vec![("acme", 2)]);
        assert_eq!(billing.satisfaction.count, 0);
        let escalated: Vec<&str> = billing
            .escalated
            .iter()
            .map(|c| c.reference.as_str())
            .collect();
        assert_eq!(escalated, vec!["CMP-00001-1"]);

        let globex = report(None, Some("globex"));
        assert_eq!(globex.cases, 3);
        assert_eq!(counts(&globex.by_queue), vec![("help", 2), ("retired", 1)]);
        assert_eq!(counts(&globex.by_brand), vec![("globex", 3)]);
        assert_eq!(globex.satisfaction.count, 1);
        assert_eq!(globex.satisfaction.mean, Some(2.0));
        assert_eq!(globex.escalated.len(), 1);

        // Both: the cases of the queue that are of the brand; none here.
        let none = report(Some("shop"), Some("globex"));
        assert_eq!(none.cases, 0);
        assert_eq!(counts(&none.by_queue), vec![("shop", 0)]);
        assert_eq!(counts(&none.by_brand), vec![("globex", 0)]);

        // The table, the CSV and the JSON carry the groupings.
        let t = output::render_table(&all);
        assert!(t.contains("QUEUE") && t.contains("BRAND"), "{t}");
        let line = |t: &str, start: &str| {
            t.lines()
                .find(|l| l.starts_with(start))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        assert_eq!(line(&t, "help ").as_deref(), Some("help 2 33%"), "{t}");
        assert_eq!(line(&t, "acme ").as_deref(), Some("acme 3 50%"), "{t}");
        let t = output::render_table(&billing);
        assert!(t.contains("only the cases of queue billing\n"), "{t}");
        let csv = output::render_csv(&globex);
        assert!(csv.contains("\nscope,,brand,globex\n"), "{csv}");
        assert!(csv.contains("\nqueue,help,cases,2\n"), "{csv}");
        assert!(csv.contains("\nbrand,globex,cases,3\n"), "{csv}");
        let json = serde_json::to_value(&all).unwrap();
        assert_eq!(json["by_queue"][0]["name"], "billing");
        assert_eq!(json["by_queue"][0]["count"], 2);
        assert_eq!(json["by_brand"][1]["count"], 3);

        // The digest of one brand is the report of that brand, grouped the same way.
        let mut digest_cfg = cfg.clone();
        digest_cfg.digest.brand = Some("acme".into());
        let d = build(
            &s.read(),
            &digest_cfg,
            &cal,
            period,
            at(23),
            &digest::scope(&digest_cfg),
        )
        .unwrap();
        assert_eq!(d.cases, 3);
        assert_eq!(counts(&d.by_queue), vec![("billing", 2), ("shop", 1)]);
        let renderer = crate::mail::load_templates(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates"
        )))
        .unwrap();
        let ctx = digest::DigestContext::new("t".into(), "s".into(), &d, vec![]);
        let text = renderer.render(digest::TEMPLATE, &ctx).unwrap();
        assert!(
            text.text.contains("Only the cases of brand acme.")
                && text
                    .text
                    .contains("Volumes by queue\n  billing: 2 (67%)\n  shop: 1 (33%)\n"),
            "{}",
            text.text
        );
        assert!(text.html.contains("Volumes by brand"), "{}", text.html);
    }

    #[test]
    fn without_queues_the_table_is_unchanged_and_json_names_the_default() {
        let cfg = Config::from_toml(
            include_str!("../../tests/fixtures/config/base.toml"),
            std::path::Path::new("."),
        )
        .unwrap();
        let cal = BusinessCalendar::from_config(&cfg.calendar);
        let dir = tempfile::tempdir().unwrap();
        let mut s = crate::store::test_store(&dir.path().join("r.db"));
        case(&mut s, "CMP-00001-1", 8, None, None);
        case(&mut s, "CMP-00002-2", 9, Some("default"), Some("default"));
        let period = Period {
            from: at(0),
            to: at(23),
        };
        let r = build(
            &s.read(),
            &cfg,
            &cal,
            period,
            at(23),
            &scope(&cfg, None, None),
        )
        .unwrap();
        assert!(!r.has_queues);
        assert_eq!(counts(&r.by_queue), vec![("default", 2)]);
        assert_eq!(counts(&r.by_brand), vec![("default", 2)]);
        let t = output::render_table(&r);
        assert!(!t.contains("QUEUE") && !t.contains("BRAND"), "{t}");
        let renderer = crate::mail::load_templates(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates"
        )))
        .unwrap();
        let ctx = digest::DigestContext::new("t".into(), "s".into(), &r, vec![]);
        let text = renderer.render(digest::TEMPLATE, &ctx).unwrap();
        assert!(!text.text.contains("by queue"), "{}", text.text);
        assert!(!text.html.contains("by queue"), "{}", text.html);
        // `--queue default` matches the cases from before queues too.
        let d = build(
            &s.read(),
            &cfg,
            &cal,
            period,
            at(23),
            &scope(&cfg, Some("default"), None),
        )
        .unwrap();
        assert_eq!(d.cases, 2);
    }
}
