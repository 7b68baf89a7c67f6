//! `mailcase status`: what an operator needs to see of the service at a glance, read from the
//! database the daemon writes: whether a daemon runs and who holds the mailbox lease, its last
//! IMAP round and SMTP send, the INBOX backlog, the outbox, the quarantine, the cases at risk
//! of missing a target, and the last error.
//!
//! The daemon writes a heartbeat row every [`HEARTBEAT_EVERY`](crate::monitor::HEARTBEAT_EVERY)
//! (src/monitor). A daemon whose row is fresher than
//! [`heartbeat_stale_after`](crate::monitor::heartbeat_stale_after) runs; one that stopped
//! cleanly says so; one whose heartbeat went stale without a stop was killed or hangs. The
//! exit status follows the LSB convention of `systemctl status`: 0 when a daemon runs, 3
//! when none does, so scripts and monitoring can use it.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CliError, JudgedAt};
use crate::config::Config;
use crate::monitor::{heartbeat_stale_after, store_figures, StoreFigures};
use crate::report::output::human_seconds;
use crate::store::{CaseView, DaemonRecord, LeaseRow, Store};

/// Exit status when no daemon runs (LSB: "program is not running").
pub const NOT_RUNNING: u8 = 3;

/// `mailcase status` as `--json` writes it.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// When this was read (real time).
    #[serde(serialize_with = "crate::store::ser_ts")]
    pub at: DateTime<Utc>,
    /// When the cases were judged: now, or the daemon's simulated clock (`simulated_clock`).
    #[serde(serialize_with = "crate::store::ser_ts")]
    pub judged_at: DateTime<Utc>,
    pub simulated_clock: Option<crate::store::SimulatedClock>,
    pub database: String,
    /// The daemon that runs (the one reading a mailbox, else the freshest heartbeat), if any.
    pub running: Option<DaemonRecord>,
    /// Other daemons running on this database (several share a PostgreSQL database).
    pub also_running: Vec<DaemonRecord>,
    /// Daemons whose heartbeat stopped without a clean stop while others run on (killed,
    /// or hanging), in the last day.
    pub gone: Vec<DaemonRecord>,
    /// The daemon that ran last, when none runs now.
    pub last_seen: Option<DaemonRecord>,
    pub leases: Vec<LeaseRow>,
    pub outbox: crate::store::OutboxDepth,
    pub quarantined: i64,
    /// The warning lead (`sla.warning_lead`) the cases at risk are judged with, in seconds.
    pub warning_lead_seconds: i64,
    pub at_risk: Vec<DueCase>,
    pub overdue: Vec<DueCase>,
}

/// A case at risk or overdue.
#[derive(Debug, Serialize)]
pub struct DueCase {
    pub reference: String,
    pub priority: String,
    pub status: String,
    /// Its earliest target not yet met.
    #[serde(serialize_with = "crate::store::ser_ts")]
    pub due: DateTime<Utc>,
}

impl DueCase {
    fn of(v: &CaseView) -> Option<DueCase> {
        Some(DueCase {
            reference: v.case.reference.clone(),
            priority: v.case.priority.as_str().to_string(),
            status: v.case.status.as_str().to_string(),
            due: v.next_due()?,
        })
    }
}

/// Reads the status at `now` (real time), judging cases at now or at the simulated clock a
/// demo daemon recorded ([`JudgedAt`]).
///
/// # Errors
/// Store errors.
pub fn read(cfg: &Config, store: &Store, now: DateTime<Utc>) -> Result<StatusReport, CliError> {
    let r = store.read();
    let judged = JudgedAt::read(&r, now)?;
    let judged_at = judged.at;
    let daemons = r.daemons()?;
    let fresh = |d: &&DaemonRecord| {
        d.stopped_at.is_none() && now - d.heartbeat_at < heartbeat_stale_after()
    };
    let leases = r.leases()?;
    let scheduler = crate::scheduler::SCHEDULER_LEASE;
    let reads_mail = |d: &DaemonRecord| {
        leases
            .iter()
            .any(|l| l.name != scheduler && l.holder == d.holder)
    };
    let mut live: Vec<DaemonRecord> = daemons.iter().filter(fresh).cloned().collect();
    // The one reading the mailbox first: its IMAP and SMTP lines are the ones that matter.
    live.sort_by_key(|d| !reads_mail(d));
    let mut live = live.into_iter();
    let running = live.next();
    let also_running: Vec<DaemonRecord> = live.collect();
    let gone = match running {
        Some(_) => daemons
            .iter()
            .filter(|d| {
                d.stopped_at.is_none()
                    && !fresh(d)
                    && now - d.heartbeat_at < chrono::Duration::days(1)
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let last_seen = match running {
        Some(_) => None,
        None => daemons.first().cloned(),
    };
    let lead = cfg.sla.warning_lead.chrono();
    let StoreFigures {
        outbox,
        quarantined,
        at_risk,
        overdue,
    } = store_figures(&r, judged_at, lead)?;
    Ok(StatusReport {
        at: now,
        judged_at,
        simulated_clock: judged.simulated,
        database: crate::store::describe(cfg),
        running,
        also_running,
        gone,
        last_seen,
        leases,
        outbox,
        quarantined,
        warning_lead_seconds: lead.num_seconds(),
        at_risk: at_risk.iter().filter_map(DueCase::of).collect(),
        overdue: overdue.iter().filter_map(DueCase::of).collect(),
    })
}

/// A span of real time, short: `4s`, `12m`, `3h 05m` as the report writes durations
/// ([`human_seconds`]), and from a day on `2d 03h`.
fn span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 86_400 {
        human_seconds(s)
    } else {
        format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// The first ten cases of a list, one line each, with how many more there are and `more`,
/// the command that lists them all.
fn write_cases(
    out: &mut dyn Write,
    cases: &[DueCase],
    judged_at: DateTime<Utc>,
    more: Option<&str>,
) -> std::io::Result<()> {
    for c in cases.iter().take(10) {
        writeln!(
            out,
            "               {}  {:<8} {:<12} due {}",
            c.reference,
            c.priority,
            c.status,
            at(c.due, judged_at)
        )?;
    }
    if let Some(more) = more.filter(|_| cases.len() > 10) {
        writeln!(
            out,
            "               ... and {} more: {more}",
            cases.len() - 10
        )?;
    }
    Ok(())
}

fn at(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let when = t.format("%Y-%m-%d %H:%M:%S UTC");
    if t <= now {
        format!("{when} ({} ago)", span(now - t))
    } else {
        format!("{when} (in {})", span(t - now))
    }
}

/// Writes the status as a person reads it; returns whether a daemon runs.
///
/// # Errors
/// Output errors.
pub fn write_text(s: &StatusReport, out: &mut dyn Write) -> std::io::Result<bool> {
    let now = s.at;
    writeln!(out, "mailcase status of {}", s.database)?;
    writeln!(out, "  as of {}", s.at.format("%Y-%m-%d %H:%M:%S UTC"))?;
    let judged = JudgedAt {
        at: s.judged_at,
        simulated: s.simulated_clock.clone(),
    };
    if let Some(note) = judged.note() {
        writeln!(out, "  {note}")?;
    }
    let row = |out: &mut dyn Write, name: &str, text: &str| writeln!(out, "{name:<14} {text}");
    match (&s.running, &s.last_seen) {
        (Some(d), _) => row(
            out,
            "Daemon",
            &format!(
                "running: {}, version {}, up {}, heartbeat {} ago",
                d.holder,
                d.version,
                span(now - d.started_at),
                span(now - d.heartbeat_at)
            ),
        )?,
        (None, Some(d)) => {
            let how = match d.stopped_at {
                Some(t) => format!("stopped cleanly {}", at(t, now)),
                None => format!(
                    "its heartbeat stopped {} without a clean stop (killed, or hanging)",
                    at(d.heartbeat_at, now)
                ),
            };
            row(
                out,
                "Daemon",
                &format!("NOT RUNNING: the last one, {}, {how}", d.holder),
            )?
        }
        (None, None) => row(
            out,
            "Daemon",
            "NOT RUNNING: no daemon has run on this database",
        )?,
    }
    for d in &s.also_running {
        row(
            out,
            "Also running",
            &format!(
                "{}, version {}, up {}, heartbeat {} ago",
                d.holder,
                d.version,
                span(now - d.started_at),
                span(now - d.heartbeat_at)
            ),
        )?;
    }
    for d in &s.gone {
        row(
            out,
            "Gone",
            &format!(
                "{}: its heartbeat stopped {} without a clean stop (killed, or hanging)",
                d.holder,
                at(d.heartbeat_at, now)
            ),
        )?;
    }
    let d = s.running.as_ref().or(s.last_seen.as_ref());
    let scheduler = crate::scheduler::SCHEDULER_LEASE;
    if !s.leases.iter().any(|l| l.name != scheduler) {
        row(out, "Mailbox lease", "free (no daemon reads the mailbox)")?;
    }
    // Leases are written in the daemon's time (a demo's simulated clock), like the cases.
    for l in &s.leases {
        let state = if l.expires_at > s.judged_at {
            "held"
        } else {
            "expired"
        };
        let until = if l.expires_at.date_naive() == s.judged_at.date_naive() {
            l.expires_at.format("%H:%M:%S UTC")
        } else {
            l.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
        };
        if l.name == scheduler {
            // Timers, the purge and the digest: one daemon of those sharing the database.
            row(
                out,
                "Scheduler",
                &format!("{state} by {} until {until}", l.holder),
            )?;
        } else {
            row(
                out,
                "Mailbox lease",
                &format!("{} {state} by {} until {until}", l.name, l.holder),
            )?;
        }
    }
    let never = "never".to_string();
    row(
        out,
        "IMAP",
        &format!(
            "last complete round {}",
            d.and_then(|d| d.last_imap_round_at)
                .map_or(never.clone(), |t| at(t, now))
        ),
    )?;
    row(
        out,
        "INBOX backlog",
        &match d.and_then(|d| d.inbox_backlog.zip(d.inbox_backlog_at)) {
            Some((n, t)) => format!("{n} message(s) waiting, at the listing of {}", at(t, now)),
            None => "unknown (no listing yet)".into(),
        },
    )?;
    row(
        out,
        "SMTP",
        &format!(
            "last message accepted {}",
            d.and_then(|d| d.last_smtp_send_at)
                .map_or(never, |t| at(t, now))
        ),
    )?;
    row(
        out,
        "Outbox",
        &format!(
            "{} waiting{}; {} given up",
            s.outbox.pending,
            s.outbox
                .oldest_pending_at
                .map_or(String::new(), |t| format!(
                    ", the oldest queued {}",
                    at(t, now)
                )),
            s.outbox.failed
        ),
    )?;
    row(out, "Quarantine", &format!("{} message(s)", s.quarantined))?;
    let lead = span(chrono::Duration::seconds(s.warning_lead_seconds));
    row(
        out,
        "At risk",
        &format!(
            "{} open case(s) with a target due within {lead} (sla.warning_lead)",
            s.at_risk.len()
        ),
    )?;
    // No command lists the cases at risk alone.
    write_cases(out, &s.at_risk, s.judged_at, None)?;
    row(
        out,
        "Overdue",
        &format!("{} open case(s) past a target", s.overdue.len()),
    )?;
    write_cases(
        out,
        &s.overdue,
        s.judged_at,
        Some("mailcase cases --overdue"),
    )?;
    row(
        out,
        "Last error",
        &match d.and_then(|d| d.last_error.clone().zip(d.last_error_at)) {
            Some((e, t)) => format!("{e}, {}", at(t, now)),
            None => "none since the daemon started".into(),
        },
    )?;
    Ok(s.running.is_some())
}

/// `mailcase status [--json]`; returns whether a daemon runs.
///
/// # Errors
/// Store and output errors.
pub fn status(
    cfg: &Config,
    store: &Store,
    json: bool,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<bool, CliError> {
    let s = read(cfg, store, now)?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &s).map_err(CliError::Json)?;
        writeln!(out).map_err(CliError::Output)?;
        Ok(s.running.is_some())
    } else {
        write_text(&s, out).map_err(CliError::Output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn daemon(holder: &str, heartbeat: &str, stopped: Option<&str>) -> DaemonRecord {
        DaemonRecord {
            holder: holder.into(),
            version: "0.1.0".into(),
            started_at: t("2026-12-06T08:00:00Z"),
            heartbeat_at: t(heartbeat),
            stopped_at: stopped.map(t),
            last_imap_round_at: Some(t(heartbeat)),
            last_smtp_send_at: None,
            inbox_backlog: Some(3),
            inbox_backlog_at: Some(t(heartbeat)),
            last_error: Some("imap: cannot connect to 127.0.0.1:993: Connection refused".into()),
            last_error_at: Some(t("2026-12-06T09:00:00Z")),
        }
    }

    /// The status of a store holding the given heartbeat rows, read at `now`.
    fn status_with(rows: &[DaemonRecord], now: &str) -> (String, bool) {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../../tests/fixtures/config/base.toml").replace(
            "path = \"mailcase.db\"",
            &format!("path = \"{}\"", dir.path().join("s.db").display()),
        );
        let cfg = Config::from_toml(&crate::store::test_store_config(&text), dir.path()).unwrap();
        let mut store = Store::open_configured(&cfg).unwrap();
        for r in rows {
            store.record_daemon(r, chrono::Duration::days(7)).unwrap();
        }
        let mut out = Vec::new();
        let running = status(&cfg, &store, false, t(now), &mut out).unwrap();
        (String::from_utf8(out).unwrap(), running)
    }

    #[test]
    fn a_fresh_heartbeat_is_a_running_daemon_a_stale_one_was_killed_and_a_stop_is_said() {
        let (out, running) = status_with(
            &[daemon("pid 7 on a", "2026-12-06T10:00:00Z", None)],
            "2026-12-06T10:00:05Z",
        );
        assert!(running, "{out}");
        assert!(
            out.contains("running: pid 7 on a, version 0.1.0, up 2h 00m, heartbeat 5s ago"),
            "{out}"
        );
        assert!(out.contains("INBOX backlog  3 message(s) waiting"), "{out}");
        assert!(
            out.contains("SMTP           last message accepted never"),
            "{out}"
        );
        assert!(
            out.contains("Last error     imap: cannot connect to 127.0.0.1:993: Connection refused, 2026-12-06 09:00:00 UTC (1h 00m ago)"),
            "{out}"
        );

        let (out, running) = status_with(
            &[daemon("pid 7 on a", "2026-12-06T10:00:00Z", None)],
            "2026-12-06T10:05:00Z",
        );
        assert!(!running);
        assert!(
            out.contains("NOT RUNNING: the last one, pid 7 on a, its heartbeat stopped 2026-12-06 10:00:00 UTC (5m ago) without a clean stop"),
            "{out}"
        );

        // Two daemons: the one that stopped, and its successor that runs.
        let (out, running) = status_with(
            &[
                daemon(
                    "pid 7 on a",
                    "2026-12-06T09:59:00Z",
                    Some("2026-12-06T09:59:00Z"),
                ),
                daemon("pid 9 on b", "2026-12-06T10:00:00Z", None),
            ],
            "2026-12-06T10:00:10Z",
        );
        assert!(running && out.contains("running: pid 9 on b"), "{out}");

        let (out, running) = status_with(
            &[daemon(
                "pid 7 on a",
                "2026-12-06T09:59:00Z",
                Some("2026-12-06T09:59:00Z"),
            )],
            "2026-12-06T10:00:10Z",
        );
        assert!(!running);
        assert!(
            out.contains("stopped cleanly 2026-12-06 09:59:00 UTC (1m ago)"),
            "{out}"
        );

        let (out, running) = status_with(&[], "2026-12-06T10:00:10Z");
        assert!(!running);
        assert!(
            out.contains("NOT RUNNING: no daemon has run on this database"),
            "{out}"
        );
        assert!(out.contains("Mailbox lease  free"), "{out}");
    }

    #[test]
    fn rows_of_daemons_gone_a_week_are_forgotten() {
        let (out, _) = status_with(
            &[
                daemon(
                    "pid 1 on old",
                    "2026-11-20T10:00:00Z",
                    Some("2026-11-20T10:00:00Z"),
                ),
                daemon(
                    "pid 2 on new",
                    "2026-12-06T10:00:00Z",
                    Some("2026-12-06T10:00:00Z"),
                ),
            ],
            "2026-12-06T10:00:10Z",
        );
        assert!(
            out.contains("pid 2 on new") && !out.contains("pid 1 on old"),
            "{out}"
        );
    }

    #[test]
    fn spans_read_short_at_every_scale() {
        let d = chrono::Duration::seconds;
        assert_eq!(span(d(4)), "4s");
        assert_eq!(span(d(-3)), "0s");
        assert_eq!(span(d(12 * 60 + 5)), "12m");
        assert_eq!(span(d(3 * 3600 + 5 * 60)), "3h 05m");
        assert_eq!(span(d(2 * 86_400 + 3 * 3600 + 59)), "2d 03h");
    }
}
