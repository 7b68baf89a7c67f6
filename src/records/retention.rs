//! The retention policy: what is past its time, and the purge that removes it.
//!
//! A closed case is purged once `closed_at` is older than its period (see
//! [`RetentionConfig::closed_case_days`]); its row stays with the figures (store::records).
//! Raw messages, sent mail bodies, quarantined messages and mail of no case have their own
//! periods. Nothing of a case under legal hold is touched. The daemon runs the purge once a
//! day, bookkept in the `maintenance` table so a restart neither skips nor repeats a day.

use chrono::{DateTime, Duration, Utc};

use crate::config::RetentionConfig;
use crate::store::records::{ClosedCase, HeldCase, MessageItem, QuarantineItem, Scrub};
use crate::store::{ts, Store, StoreError};

/// The name of the daily purge in the `maintenance` table.
pub const JOB: &str = "purge";

/// How often the daemon purges.
pub fn interval() -> Duration {
    Duration::days(1)
}

/// A closed case past its period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DueCase {
    #[serde(flatten)]
    pub case: ClosedCase,
    /// The period that applied to it.
    pub days: u32,
}

/// What a purge at one instant removes.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgePlan {
    pub at: String,
    pub cases: Vec<DueCase>,
    /// Cases on hold, kept whatever their age (listed so the admin sees what is held).
    pub held: Vec<HeldCase>,
    pub quarantine: Vec<QuarantineItem>,
    /// Messages whose raw bytes go (not counting those of cases purged whole).
    pub raw: Vec<MessageItem>,
    /// Outbound messages whose body goes.
    pub sent_bodies: i64,
    /// Messages of no case that are blanked.
    pub unattached: Vec<MessageItem>,
}

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub cases: usize,
    pub case_messages: usize,
    pub quarantined: usize,
    pub raw_messages: usize,
    pub sent_bodies: usize,
    pub unattached: usize,
}

impl PurgeReport {
    /// True when nothing was removed.
    pub fn is_empty(&self) -> bool {
        *self == PurgeReport::default()
    }
}

fn cutoff(now: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    (days > 0).then(|| now - Duration::days(i64::from(days)))
}

/// What the policy removes at `now`.
///
/// # Errors
/// SQL errors.
pub fn plan(
    store: &Store,
    policy: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<PurgePlan, StoreError> {
    let r = store.read();
    let now_s = ts(now);
    let cases: Vec<DueCase> = r
        .closed_cases_unheld()?
        .into_iter()
        .filter_map(|case| {
            let days = policy.closed_case_days(case.category.as_str(), case.priority.as_str())?;
            let until = case.closed_at + Duration::days(i64::from(days));
            (ts(until) <= now_s).then_some(DueCase { case, days })
        })
        .collect();
    let quarantine = match cutoff(now, policy.quarantine_days) {
        Some(c) => r.quarantine_before(c)?,
        None => Vec::new(),
    };
    let unattached = match cutoff(now, policy.unattached_days) {
        Some(c) => r.unattached_before(c)?,
        None => Vec::new(),
    };
    let (raw, sent_bodies) = match cutoff(now, policy.raw_days) {
        Some(c) => {
            let purged: Vec<&str> = cases.iter().map(|d| d.case.reference.as_str()).collect();
            let raw = r
                .raw_before(c)?
                .into_iter()
                .filter(|m| {
                    !m.reference
                        .as_deref()
                        .is_some_and(|rf| purged.contains(&rf))
                        && !unattached.iter().any(|u| u.id == m.id)
                })
                .collect();
            (raw, r.sent_bodies_before(c)?)
        }
        None => (Vec::new(), 0),
    };
    Ok(PurgePlan {
        at: now_s,
        cases,
        held: r.held_cases()?,
        quarantine,
        raw,
        sent_bodies,
        unattached,
    })
}

/// Carries out a plan in one transaction, zeroing deleted content in the file
/// (`secure_delete`). With `record`, the run is recorded in the `maintenance` table under
/// that name in the same transaction: whoever sees a purged case sees the record of its run,
/// and a crash leaves neither (the next run does it all again).
///
/// # Errors
/// SQL errors; nothing is purged then.
pub fn execute(
    store: &mut Store,
    plan: &PurgePlan,
    policy: &RetentionConfig,
    actor: &str,
    now: DateTime<Utc>,
    record: Option<&str>,
) -> Result<PurgeReport, StoreError> {
    store.secure_delete()?;
    let raw_ids: Vec<i64> = plan.raw.iter().map(|m| m.id).collect();
    let unattached: Vec<i64> = plan.unattached.iter().map(|m| m.id).collect();
    let quarantine: Vec<i64> = plan.quarantine.iter().map(|q| q.id).collect();
    store.write(|tx| {
        let mut report = PurgeReport::default();
        for due in &plan.cases {
            // Re-checked inside the transaction: a hold set since the plan was made wins.
            if tx.read().legal_hold(due.case.id)?.is_some() || tx.is_scrubbed(due.case.id)? {
                continue;
            }
            let c = tx.scrub_case(due.case.id, Scrub::Purged, actor, now)?;
            report.cases += 1;
            report.case_messages += c.messages;
        }
        report.unattached = tx.scrub_messages(&unattached, Scrub::Purged)?;
        report.raw_messages = tx.drop_raw(&raw_ids)?;
        if let Some(c) = cutoff(now, policy.raw_days) {
            report.sent_bodies = tx.drop_sent_bodies(c)?;
        }
        report.quarantined = tx.delete_quarantine(&quarantine)?;
        if let Some(job) = record {
            tx.record_maintenance(job, now, &serde_json::to_value(&report).unwrap_or_default())?;
        }
        Ok(report)
    })
}

/// Plans and carries out the purge at `now`.
///
/// # Errors
/// SQL errors.
pub fn purge(
    store: &mut Store,
    policy: &RetentionConfig,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<PurgeReport, StoreError> {
    let p = plan(store, policy, now)?;
    execute(store, &p, policy, actor, now, None)
}

/// The daemon's daily purge: runs when the last run (in the `maintenance` table) is a day
/// old or there was none, and says when the next one is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Daily {
    Ran {
        report: PurgeReport,
        next: DateTime<Utc>,
    },
    NotDue {
        next: DateTime<Utc>,
    },
}

impl Daily {
    /// When the next purge is due.
    pub fn next(&self) -> DateTime<Utc> {
        match self {
            Daily::Ran { next, .. } | Daily::NotDue { next } => *next,
        }
    }
}

/// Runs the purge if a day has passed since the last run.
///
/// # Errors
/// SQL errors (the run is then not recorded and is tried again).
pub fn daily(
    store: &mut Store,
    policy: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<Daily, StoreError> {
    let last = store.read().maintenance(JOB)?.map(|(t, _)| t);
    if let Some(last) = last {
        // A clock set back by more than a day does not stop the purge for that long.
        if now < last + interval() && last <= now + interval() {
            return Ok(Daily::NotDue {
                next: last + interval(),
            });
        }
    }
    let p = plan(store, policy, now)?;
    let report = execute(store, &p, policy, "system", now, Some(JOB))?;
    Ok(Daily::Ran {
        report,
        next: now + interval(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_daily_purge_runs_once_a_day_across_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let policy = RetentionConfig::default();
        let t0 = t("2026-11-23T03:00:00Z");
        let pg = crate::store::pg::testing::create();
        let open = || match &pg {
            Some(db) => db.store().unwrap(),
            None => Store::open(&path).unwrap(),
        };
        let mut s = open();
        assert!(matches!(
            daily(&mut s, &policy, t0).unwrap(),
            Daily::Ran { .. }
        ));
        drop(s);
        // A restart an hour later: not due until a day after the first run.
        let mut s = open();
        assert_eq!(
            daily(&mut s, &policy, t0 + Duration::hours(1)).unwrap(),
            Daily::NotDue {
                next: t0 + Duration::days(1)
            }
        );
        let next = daily(&mut s, &policy, t0 + Duration::hours(25)).unwrap();
        assert!(matches!(next, Daily::Ran { .. }), "{next:?}");
        assert_eq!(next.next(), t0 + Duration::hours(49));
        let (last, detail) = s.read().maintenance(JOB).unwrap().unwrap();
        assert_eq!(last, t0 + Duration::hours(25));
        assert!(detail.contains("\"cases\":0"), "{detail}");
    }

    #[test]
    fn a_period_of_zero_keeps_forever() {
        assert_eq!(cutoff(t("2026-11-23T03:00:00Z"), 0), None);
        assert_eq!(
            cutoff(t("2026-11-23T03:00:00Z"), 1),
            Some(t("2026-11-22T03:00:00Z"))
        );
    }
}
