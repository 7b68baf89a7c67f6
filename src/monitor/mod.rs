//! What an operator sees of a running daemon: its activity (for `mailcase status`, through
//! a heartbeat row in the store) and its metrics (Prometheus text format, on an optional
//! loopback listener: [`http`]).
//!
//! One [`Monitor`] per daemon, handed to the ingest, the outbox and the scheduler, which tell
//! it what they did once it is committed: a message's outcome after its batch committed, a
//! send after its result was recorded, a warning or breach after its timer round committed.
//! The heartbeat task ([`heartbeat`]) writes the activity to the store every
//! [`HEARTBEAT_EVERY`] and reads back the figures that live there (outbox depth,
//! quarantine, cases at risk), so `status` and the metrics show the same numbers; a scrape
//! reads them afresh too.
//!
//! Times here are real time (UTC), whatever clock the daemon judges cases by: they say when
//! the process last did something.

pub mod http;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::store::{CaseFilter, DaemonRecord, SharedStore, StoreError};

/// The real time, whatever clock the daemon judges cases by.
fn real_now() -> DateTime<Utc> {
    use crate::clock::Clock;
    crate::clock::SystemClock.now()
}

pub use crate::store::daemons::{heartbeat_stale_after, HEARTBEAT_EVERY};

/// Rows of daemons whose heartbeat stopped this long ago are deleted.
fn forget_after() -> chrono::Duration {
    chrono::Duration::days(7)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    kind: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SlaLabel {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabel {
    stage: &'static str,
}

/// The result of one send, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendCount {
    /// Accepted by the server.
    Sent,
    /// Failed for now; retried later.
    Retry,
    /// Given up on: refused for good, or out of time.
    Failed,
}

impl SendCount {
    fn as_str(self) -> &'static str {
        match self {
            SendCount::Sent => "sent",
            SendCount::Retry => "retry",
            SendCount::Failed => "failed",
        }
    }
}

/// Where an error an operator should see happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Logging in to or reading the mailbox.
    Imap,
    /// Sending mail.
    Smtp,
    /// Reading or writing the store.
    Store,
    /// Timers, the purge, the digest.
    Scheduler,
}

impl Stage {
    fn as_str(self) -> &'static str {
        match self {
            Stage::Imap => "imap",
            Stage::Smtp => "smtp",
            Stage::Store => "store",
            Stage::Scheduler => "scheduler",
        }
    }
}

/// `metric`, registered in `r` under `name` (and `unit`), for the monitor to keep.
fn registered<M: prometheus_client::registry::Metric + Clone>(
    r: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<prometheus_client::registry::Unit>,
    metric: M,
) -> M {
    match unit {
        Some(u) => r.register_with_unit(name, help, u, metric.clone()),
        None => r.register(name, help, metric.clone()),
    }
    metric
}

/// The process's activity, written to the store by the heartbeat.
#[derive(Debug, Clone, Default)]
struct Activity {
    last_imap_round_at: Option<DateTime<Utc>>,
    last_smtp_send_at: Option<DateTime<Utc>>,
    inbox_backlog: Option<(i64, DateTime<Utc>)>,
    /// Each mailbox's backlog at its last listing (the gauge is their sum).
    backlogs: std::collections::BTreeMap<String, i64>,
    last_error: Option<(String, DateTime<Utc>)>,
}

/// The metrics and the activity of one daemon (see the module doc).
#[derive(Debug)]
pub struct Monitor {
    registry: Registry,
    holder: String,
    started_at: DateTime<Utc>,
    activity: Mutex<Activity>,
    messages: Family<OutcomeLabel, Counter>,
    sends: Family<SendLabels, Counter>,
    sla: Family<SlaLabel, Counter>,
    errors: Family<StageLabel, Counter>,
    ingest_lag: Histogram,
    inbox_backlog: Gauge,
    outbox_pending: Gauge,
    outbox_oldest_age: Gauge,
    outbox_failed: Gauge,
    quarantined: Gauge,
    cases_at_risk: Gauge,
    cases_overdue: Gauge,
    last_imap_round: Gauge,
    last_smtp_send: Gauge,
}

impl Monitor {
    /// A monitor for the daemon `holder` (`pid N on HOST`, as in the leases).
    pub fn new(holder: &str) -> Monitor {
        let mut r = Registry::with_prefix("mailcase");
        r.register(
            "build",
            "The running program",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        let seconds = Some(prometheus_client::registry::Unit::Seconds);
        Monitor {
            holder: holder.to_string(),
            started_at: real_now(),
            activity: Mutex::new(Activity::default()),
            messages: registered(
                &mut r,
                "messages",
                "Inbound messages taken in, by outcome (new_case, joined, agent_reply, robot, quarantined, duplicate, ...)",
                None,
                Family::default(),
            ),
            sends: registered(
                &mut r,
                "outbound",
                "Outbound send attempts, by kind of mail (ack is the acknowledgment) and result (sent, retry, failed)",
                None,
                Family::default(),
            ),
            sla: registered(
                &mut r,
                "sla_events",
                "Service-level events: warning (agents reminded before a target), breach (a target missed, the case escalated)",
                None,
                Family::default(),
            ),
            errors: registered(
                &mut r,
                "errors",
                "Errors an operator may need to act on, by stage (imap, smtp, store, scheduler)",
                None,
                Family::default(),
            ),
            ingest_lag: registered(
                &mut r,
                "ingest_lag",
                "From a message's arrival in the mailbox (IMAP INTERNALDATE) to its case committed",
                seconds.clone(),
                // 0.1 s to about 27 hours.
                Histogram::new(exponential_buckets(0.1, 4.0, 10)),
            ),
            inbox_backlog: registered(
                &mut r,
                "inbox_backlog",
                "Messages in the inboxes not yet taken in, at each mailbox's last listing",
                None,
                Gauge::default(),
            ),
            outbox_pending: registered(
                &mut r,
                "outbox_pending",
                "Outbound messages waiting to be sent or retried",
                None,
                Gauge::default(),
            ),
            outbox_oldest_age: registered(
                &mut r,
                "outbox_oldest_pending_age",
                "Age of the oldest outbound message still waiting (0 when none)",
                seconds,
                Gauge::default(),
            ),
            outbox_failed: registered(
                &mut r,
                "outbox_failed",
                "Outbound messages given up on",
                None,
                Gauge::default(),
            ),
            quarantined: registered(
                &mut r,
                "quarantine_messages",
                "Messages in quarantine",
                None,
                Gauge::default(),
            ),
            cases_at_risk: registered(
                &mut r,
                "cases_at_risk",
                "Open cases whose first-response or resolution target falls due within sla.warning_lead",
                None,
                Gauge::default(),
            ),
            cases_overdue: registered(
                &mut r,
                "cases_overdue",
                "Open cases past a first-response or resolution target",
                None,
                Gauge::default(),
            ),
            last_imap_round: registered(
                &mut r,
                "last_imap_round_timestamp_seconds",
                "When the last complete IMAP round ended (Unix time; 0 before the first)",
                None,
                Gauge::default(),
            ),
            last_smtp_send: registered(
                &mut r,
                "last_smtp_send_timestamp_seconds",
                "When the SMTP server last accepted a message (Unix time; 0 before the first)",
                None,
                Gauge::default(),
            ),
            registry: r,
        }
    }

    /// The daemon's name in the store (`pid N on HOST`).
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn activity(&self) -> std::sync::MutexGuard<'_, Activity> {
        // A poisoned lock only means a panic mid-update of plain values: keep using them.
        self.activity
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A message's outcome (its batch committed), named as the log names it.
    pub fn message(&self, outcome: &'static str) {
        self.messages.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// How long a message waited in the mailbox before its case committed.
    pub fn ingest_lag(&self, arrived: DateTime<Utc>, committed: DateTime<Utc>) {
        let s = (committed - arrived).num_milliseconds().max(0) as f64 / 1000.0;
        self.ingest_lag.observe(s);
    }

    /// Messages in `mailbox`'s inbox not yet taken in; the gauge is the sum over every
    /// mailbox's last listing.
    pub fn inbox_backlog(&self, mailbox: &str, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let mut a = self.activity();
        a.backlogs.insert(mailbox.to_string(), n);
        let total = a.backlogs.values().fold(0i64, |t, v| t.saturating_add(*v));
        self.inbox_backlog.set(total);
        a.inbox_backlog = Some((total, real_now()));
    }

    /// A complete IMAP round.
    pub fn imap_round(&self) {
        let now = real_now();
        self.last_imap_round.set(now.timestamp());
        self.activity().last_imap_round_at = Some(now);
    }

    /// One send's result (recorded in the store), by its kind of mail.
    pub fn send(&self, kind: &'static str, result: SendCount) {
        self.sends
            .get_or_create(&SendLabels {
                kind,
                result: result.as_str(),
            })
            .inc();
        if result == SendCount::Sent {
            let now = real_now();
            self.last_smtp_send.set(now.timestamp());
            self.activity().last_smtp_send_at = Some(now);
        }
    }

    /// Service-level warnings and breaches of a committed timer round.
    pub fn sla(&self, warnings: usize, breaches: usize) {
        if warnings > 0 {
            self.sla
                .get_or_create(&SlaLabel { event: "warning" })
                .inc_by(warnings as u64);
        }
        if breaches > 0 {
            self.sla
                .get_or_create(&SlaLabel { event: "breach" })
                .inc_by(breaches as u64);
        }
    }

    /// An error an operator may need to act on; the text must hold no secret (error texts
    /// of the IMAP, SMTP and store layers do not).
    pub fn error(&self, stage: Stage, text: &str) {
        self.errors
            .get_or_create(&StageLabel {
                stage: stage.as_str(),
            })
            .inc();
        let line: String = text.chars().take(500).collect();
        // IMAP and SMTP errors name their stage already ("imap: login as ... refused").
        let line = if line.starts_with(stage.as_str()) {
            line
        } else {
            format!("{}: {line}", stage.as_str())
        };
        self.activity().last_error = Some((line, real_now()));
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The heartbeat row as of `now`.
    fn record(&self, now: DateTime<Utc>, stopped: bool) -> DaemonRecord {
        let a = self.activity().clone();
        DaemonRecord {
            holder: self.holder.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: self.started_at,
            heartbeat_at: now,
            stopped_at: stopped.then_some(now),
            last_imap_round_at: a.last_imap_round_at,
            last_smtp_send_at: a.last_smtp_send_at,
            inbox_backlog: a.inbox_backlog.map(|(n, _)| n),
            inbox_backlog_at: a.inbox_backlog.map(|(_, t)| t),
            last_error: a.last_error.as_ref().map(|(e, _)| e.clone()),
            last_error_at: a.last_error.map(|(_, t)| t),
        }
    }

    /// Sets the gauges of the figures that live in the store.
    fn set_store_figures(&self, f: &StoreFigures, now: DateTime<Utc>) {
        self.set_store_gauges(
            &f.outbox,
            f.quarantined,
            f.at_risk.len(),
            f.overdue.len(),
            now,
        );
    }

    fn set_store_gauges(
        &self,
        outbox: &crate::store::OutboxDepth,
        quarantined: i64,
        at_risk: usize,
        overdue: usize,
        now: DateTime<Utc>,
    ) {
        self.outbox_pending.set(outbox.pending);
        self.outbox_failed.set(outbox.failed);
        self.outbox_oldest_age.set(
            outbox
                .oldest_pending_at
                .map_or(0, |t| (now - t).num_seconds().max(0)),
        );
        self.quarantined.set(quarantined);
        self.cases_at_risk
            .set(i64::try_from(at_risk).unwrap_or(i64::MAX));
        self.cases_overdue
            .set(i64::try_from(overdue).unwrap_or(i64::MAX));
    }
}

/// The figures an operator watches that are read from the store: `mailcase status` lists
/// them, the metrics count them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreFigures {
    pub outbox: crate::store::OutboxDepth,
    pub quarantined: i64,
    /// Open cases with a target due within the warning lead, not yet past it, the earliest
    /// due first.
    pub at_risk: Vec<crate::store::CaseView>,
    /// Open cases past a target, the earliest due first.
    pub overdue: Vec<crate::store::CaseView>,
}

/// Reads [`StoreFigures`], judging targets at `judged_at` (the daemon's clock) with the
/// warning lead `lead`.
///
/// # Errors
/// SQL errors.
pub fn store_figures(
    r: &crate::store::Reader<'_>,
    judged_at: DateTime<Utc>,
    lead: chrono::Duration,
) -> Result<StoreFigures, StoreError> {
    let mut due = r.cases_matching(&CaseFilter {
        due_by: Some(judged_at + lead),
        ..CaseFilter::default()
    })?;
    due.sort_by_key(|v| v.next_due());
    let (overdue, rest): (Vec<_>, Vec<_>) = due.into_iter().partition(|c| c.overdue(judged_at));
    let at_risk = rest
        .into_iter()
        .filter(|c| c.at_risk(judged_at, lead))
        .collect();
    Ok(StoreFigures {
        outbox: r.outbox_depth()?,
        quarantined: r.quarantine_count()?,
        at_risk,
        overdue,
    })
}

/// Where the figures that live in the store come from: a store connection and the engine
/// (its clock and `sla.warning_lead`).
pub struct StoreSource {
    pub store: SharedStore,
    pub engine: Arc<tokio::sync::RwLock<Arc<crate::pipeline::Engine>>>,
}

impl std::fmt::Debug for StoreSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreSource")
    }
}

impl StoreSource {
    /// Reads the store's figures into `monitor`'s gauges; with `heartbeat`, first writes the
    /// daemon's row (`Some(true)`: marked stopped).
    ///
    /// # Errors
    /// Store errors (the gauges keep their last values).
    pub async fn refresh(
        &self,
        monitor: &Arc<Monitor>,
        heartbeat: Option<bool>,
    ) -> Result<(), StoreError> {
        let eng = self.engine.read().await.clone();
        let (judged_at, lead) = (eng.clock.now(), eng.config.sla.warning_lead.chrono());
        let (m, now) = (monitor.clone(), real_now());
        let f = crate::store::blocking(&self.store, move |s| {
            if let Some(stopped) = heartbeat {
                s.record_daemon(&m.record(now, stopped), forget_after())?;
            }
            store_figures(&s.read(), judged_at, lead)
        })
        .await?;
        monitor.set_store_figures(&f, now);
        Ok(())
    }
}

/// Writes the heartbeat every [`HEARTBEAT_EVERY`] and refreshes the store's figures until
/// `shutdown`; then writes the row once more, marked stopped.
pub async fn heartbeat(
    monitor: Arc<Monitor>,
    source: Arc<StoreSource>,
    shutdown: CancellationToken,
) {
    let mut log = crate::store::health::FailureLog::new("heartbeat");
    loop {
        let stopping = shutdown.is_cancelled();
        let r = source.refresh(&monitor, Some(stopping)).await;
        log.record(&r);
        if stopping {
            break;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A monitor that has seen one of everything.
    fn busy() -> Monitor {
        let m = Monitor::new("pid 1 on test");
        m.message("new_case");
        m.message("new_case");
        m.message("robot");
        m.ingest_lag(t("2026-12-06T10:00:00Z"), t("2026-12-06T10:00:02.500Z"));
        m.inbox_backlog("a", 3);
        m.inbox_backlog("b", 9);
        m.inbox_backlog("b", 4);
        m.imap_round();
        m.send("ack", SendCount::Sent);
        m.send("ack", SendCount::Retry);
        m.send("agent_reply", SendCount::Failed);
        m.sla(2, 1);
        m.error(Stage::Smtp, "smtp: 421 try again later");
        m.set_store_gauges(
            &crate::store::OutboxDepth {
                pending: 3,
                oldest_pending_at: Some(t("2026-12-06T09:59:00Z")),
                failed: 1,
            },
            2,
            4,
            5,
            t("2026-12-06T10:00:00Z"),
        );
        m
    }

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)
                .and_then(|r| r.strip_prefix(' '))
                .and_then(|v| v.parse().ok())
        })
    }

    #[test]
    fn every_figure_is_exported_under_its_documented_name() {
        let text = busy().encode();
        for (series, value) in [
            ("mailcase_messages_total{outcome=\"new_case\"}", 2.0),
            ("mailcase_messages_total{outcome=\"robot\"}", 1.0),
            ("mailcase_outbound_total{kind=\"ack\",result=\"sent\"}", 1.0),
            (
                "mailcase_outbound_total{kind=\"ack\",result=\"retry\"}",
                1.0,
            ),
            (
                "mailcase_outbound_total{kind=\"agent_reply\",result=\"failed\"}",
                1.0,
            ),
            ("mailcase_sla_events_total{event=\"warning\"}", 2.0),
            ("mailcase_sla_events_total{event=\"breach\"}", 1.0),
            ("mailcase_errors_total{stage=\"smtp\"}", 1.0),
            ("mailcase_ingest_lag_seconds_count", 1.0),
            ("mailcase_ingest_lag_seconds_sum", 2.5),
            ("mailcase_ingest_lag_seconds_bucket{le=\"1.6\"}", 0.0),
            ("mailcase_ingest_lag_seconds_bucket{le=\"6.4\"}", 1.0),
            ("mailcase_inbox_backlog", 7.0),
            ("mailcase_outbox_pending", 3.0),
            ("mailcase_outbox_oldest_pending_age_seconds", 60.0),
            ("mailcase_outbox_failed", 1.0),
            ("mailcase_quarantine_messages", 2.0),
            ("mailcase_cases_at_risk", 4.0),
            ("mailcase_cases_overdue", 5.0),
        ] {
            assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
        }
        assert!(sample(&text, "mailcase_last_imap_round_timestamp_seconds").unwrap() > 1.7e9);
        assert!(sample(&text, "mailcase_last_smtp_send_timestamp_seconds").unwrap() > 1.7e9);
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    /// The shipped alert rules name only series the daemon exports.
    #[test]
    fn the_alert_rules_use_only_exported_series() {
        let text = busy().encode();
        let rules = include_str!("../../config/prometheus-alerts.yml");
        let names: std::collections::BTreeSet<&str> = regex::Regex::new(r"mailcase_[a-z_]+")
            .unwrap()
            .find_iter(rules)
            .map(|m| m.as_str())
            .collect();
        assert!(names.len() >= 8, "{names:?}");
        for n in names {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(n) && l[n.len()..].starts_with(['{', ' '])),
                "{n} is in config/prometheus-alerts.yml but not exported:\n{text}"
            );
        }
    }

    #[test]
    fn the_heartbeat_row_carries_the_activity_and_a_stop() {
        let m = busy();
        let now = t("2026-12-06T10:00:00Z");
        let r = m.record(now, false);
        assert_eq!(r.holder, "pid 1 on test");
        assert_eq!(r.heartbeat_at, now);
        assert_eq!(r.stopped_at, None);
        assert_eq!(r.inbox_backlog, Some(7));
        assert!(r.last_imap_round_at.is_some() && r.last_smtp_send_at.is_some());
        assert_eq!(r.last_error.as_deref(), Some("smtp: 421 try again later"));
        assert_eq!(m.record(now, true).stopped_at, Some(now));
    }
}
