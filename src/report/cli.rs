//! `mailcase report`: the report of a period as a table, JSON, CSV or the digest's HTML page.
//! It opens the database read-only, so it runs while the daemon runs.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::digest::{self, DigestError};
use super::output::{render_csv, render_table};
use super::{build, Period};
use crate::business_time::BusinessCalendar;
use crate::cli::JudgedAt;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError, HumanDuration};
use crate::render::RenderError;
use crate::store::{ReportScope, Store, StoreError};

/// The period and the output of `mailcase report`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ReportArgs {
    /// Report the last DURATION up to now, e.g. 30d, 2w, 12h (the default is 30d).
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["from", "to"])]
    pub since: Option<String>,
    /// Start of the period: a date YYYY-MM-DD (midnight in the business time zone) or an
    /// RFC 3339 time.
    #[arg(long, value_name = "DATE", requires = "to")]
    pub from: Option<String>,
    /// End of the period: a date counts whole (up to its end), or an RFC 3339 time.
    #[arg(long, value_name = "DATE", requires = "from")]
    pub to: Option<String>,
    /// Judge open targets as of this RFC 3339 time instead of now (reproducible reports).
    #[arg(long, value_name = "RFC3339")]
    pub as_of: Option<String>,
    /// Only the cases of this queue (a `[[queue]]` name; cases from before queues are in the
    /// first).
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// Only the cases of this brand (a `[[brand]]` name).
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,
    /// JSON instead of a table.
    #[arg(long, conflicts_with_all = ["csv", "html"])]
    pub json: bool,
    /// CSV (section,name,metric,value) instead of a table.
    #[arg(long, conflicts_with = "html")]
    pub csv: bool,
    /// Write the digest page, charts embedded, to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// What can go wrong making a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
    #[error("json: {0}")]
    Json(serde_json::Error),
}

/// A `--from`/`--to` value: a local date (`end`: the end of that day) or an RFC 3339 time.
fn instant(
    s: &str,
    cal: &BusinessCalendar,
    end: bool,
    flag: &str,
) -> Result<DateTime<Utc>, ReportError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        ReportError::Usage(format!(
            "{flag} `{s}` is not a date YYYY-MM-DD or an RFC 3339 time"
        ))
    })?;
    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
    Ok(cal.start_of_day(d))
}

/// The period the arguments ask for, at `now`.
///
/// # Errors
/// [`ReportError::Usage`] for a value that does not parse or an empty period.
pub fn period(
    args: &ReportArgs,
    cal: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Result<Period, ReportError> {
    let p = match (&args.from, &args.to) {
        (Some(f), Some(t)) => Period {
            from: instant(f, cal, false, "--from")?,
            to: instant(t, cal, true, "--to")?,
        },
        _ => {
            let since = args.since.as_deref().unwrap_or("30d");
            let d = HumanDuration::parse(since)
                .map_err(|e| ReportError::Usage(format!("--since: {e}")))?;
            let d = d
                .try_chrono()
                .ok_or_else(|| ReportError::Usage(format!("--since `{since}` is too long")))?;
            Period {
                from: now - d,
                to: now,
            }
        }
    };
    if p.to <= p.from {
        return Err(ReportError::Usage(
            "the period is empty: --to must be after --from".into(),
        ));
    }
    Ok(p)
}

/// The cases `--queue` and `--brand` limit the report to.
///
/// # Errors
/// [`ReportError::Usage`] for a name the config does not have, naming those it has.
pub fn scope_of(cfg: &Config, args: &ReportArgs) -> Result<ReportScope, ReportError> {
    let queues = cfg.queue_names();
    let brands = cfg.brand_names();
    let check = |what: &str, value: &Option<String>, names: &[String]| {
        value
            .as_deref()
            .map(|v| {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                crate::cli::cases::known_name(what, v, &names).map_err(ReportError::Usage)
            })
            .transpose()
    };
    let queue = check("queue", &args.queue, &queues)?;
    let brand = check("brand", &args.brand, &brands)?;
    Ok(super::scope(cfg, queue.as_deref(), brand.as_deref()))
}

/// Runs `mailcase report` with the config at `config_path`, writing to `out`.
///
/// # Errors
/// [`ReportError`] naming what failed.
pub fn run(config_path: &Path, args: &ReportArgs, out: &mut dyn Write) -> Result<(), ReportError> {
    let cfg = Config::load(config_path)?;
    // A brand's report is in its business time (its calendar, when it has one).
    let cal = BusinessCalendar::from_config(cfg.brand_calendar(args.brand.as_deref()));
    let store = Store::open_read_only_configured(&cfg)?;
    // Now, or the simulated clock the last daemon ran on (the demo's): its cases were
    // promised in that time.
    let judged = JudgedAt::read(&store.read(), SystemClock.now())?;
    let (as_of, note) = match &args.as_of {
        Some(s) => (
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|_| ReportError::Usage(format!("--as-of `{s}` is not an RFC 3339 time")))?
                .with_timezone(&Utc),
            None,
        ),
        None => (judged.at, judged.note()),
    };
    let period = period(args, &cal, as_of)?;
    let scope = scope_of(&cfg, args)?;
    let report = build(&store.read(), &cfg, &cal, period, as_of, &scope)?;
    let io = |error| ReportError::Write {
        path: "standard output".into(),
        error,
    };
    if let Some(path) = &args.html {
        let renderer = crate::mail::load_templates(&cfg.templates_dir())?;
        let html = digest::page_html(
            &renderer,
            "Complaints report".into(),
            cfg.support.name.clone(),
            &report,
        )?;
        std::fs::write(path, html).map_err(|error| ReportError::Write {
            path: path.display().to_string(),
            error,
        })?;
        writeln!(out, "report written to {}", path.display()).map_err(io)?;
    } else if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?).map_err(io)?;
    } else if args.csv {
        write!(out, "{}", render_csv(&report)).map_err(io)?;
    } else {
        if let Some(note) = note {
            writeln!(out, "{note}").map_err(io)?;
        }
        write!(out, "{}", render_table(&report)).map_err(io)?;
    }
    Ok(())
}

crate::shown_from!(ReportError::Json(serde_json::Error));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brands_report_is_in_its_business_time() {
        let dir = tempfile::tempdir().unwrap();
        // Globex keeps its own calendar.
        let text = crate::report::queue_tests::two_brands_text().replace(
            "name = \"globex\"\nreference_prefix = \"GLX\"\n",
            "name = \"globex\"\nreference_prefix = \"GLX\"\n[brand.calendar]\ntimezone = \"America/New_York\"\n",
        );
        assert!(text.contains("America/New_York"));
        let path = dir.path().join("mailcase.toml");
        std::fs::write(&path, crate::store::test_store_config(&text)).unwrap();
        let cfg = Config::load(&path).unwrap();
        let mut s = Store::open_configured(&cfg).unwrap();
        crate::report::queue_tests::case(&mut s, "GLX-00001-1", 9, Some("help"), Some("globex"));
        drop(s);
        let zone = |brand: Option<&str>| {
            let args = ReportArgs {
                brand: brand.map(String::from),
                as_of: Some("2026-11-24T00:00:00Z".into()),
                since: Some("7d".into()),
                json: true,
                ..Default::default()
            };
            let mut out = Vec::new();
            run(&path, &args, &mut out).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            v["timezone"].as_str().unwrap().to_string()
        };
        assert_eq!(zone(Some("globex")), "America/New_York");
        assert_eq!(zone(Some("acme")), cfg.calendar.timezone.name());
        assert_eq!(zone(None), cfg.calendar.timezone.name());
        assert_ne!(cfg.calendar.timezone.name(), "America/New_York");
    }

    #[test]
    fn queue_and_brand_must_be_named_by_the_config() {
        let cfg = crate::report::queue_tests::two_brands();
        let args = |q: Option<&str>, b: Option<&str>| ReportArgs {
            queue: q.map(String::from),
            brand: b.map(String::from),
            ..Default::default()
        };
        let s = scope_of(&cfg, &args(Some("help"), Some("globex"))).unwrap();
        let q = s.queue.unwrap();
        assert_eq!((q.name.as_str(), q.null_as.as_str()), ("help", "billing"));
        let b = s.brand.unwrap();
        assert_eq!((b.name.as_str(), b.null_as.as_str()), ("globex", "acme"));
        assert_eq!(
            scope_of(&cfg, &args(None, None)).unwrap(),
            ReportScope::default()
        );
        let e = scope_of(&cfg, &args(Some("sales"), None))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--queue sales: no such queue; known: billing, shop, help"
        );
        let e = scope_of(&cfg, &args(None, Some("x")))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "--brand x: no such brand; known: acme, globex");
    }
}
