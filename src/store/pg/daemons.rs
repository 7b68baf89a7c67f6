//! The PostgreSQL implementation of [`crate::store::daemons`].

use super::values::{get, opt_time, time};
use super::*;
use crate::store::daemons::*;

impl DaemonReads for PgReader<'_> {
    fn daemons(&self) -> Result<Vec<DaemonRecord>, StoreError> {
        let rows = self.db.query(
            "SELECT holder, version, started_at, heartbeat_at, stopped_at, last_imap_round_at,
                    last_smtp_send_at, inbox_backlog, inbox_backlog_at, last_error, last_error_at
             FROM daemons ORDER BY heartbeat_at DESC, holder",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(DaemonRecord {
                    holder: get(r, 0)?,
                    version: get(r, 1)?,
                    started_at: time(r, 2, "daemons.started_at")?,
                    heartbeat_at: time(r, 3, "daemons.heartbeat_at")?,
                    stopped_at: opt_time(r, 4, "daemons.stopped_at")?,
                    last_imap_round_at: opt_time(r, 5, "daemons.last_imap_round_at")?,
                    last_smtp_send_at: opt_time(r, 6, "daemons.last_smtp_send_at")?,
                    inbox_backlog: get(r, 7)?,
                    inbox_backlog_at: opt_time(r, 8, "daemons.inbox_backlog_at")?,
                    last_error: get(r, 9)?,
                    last_error_at: opt_time(r, 10, "daemons.last_error_at")?,
                })
            })
            .collect()
    }

    fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let rows = self.db.query(
            "SELECT name, holder, expires_at FROM leases ORDER BY name",
            &[],
        )?;
        rows.iter()
            .map(|r| {
                Ok(LeaseRow {
                    name: get(r, 0)?,
                    holder: get(r, 1)?,
                    expires_at: time(r, 2, "leases.expires_at")?,
                })
            })
            .collect()
    }

    fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        // Both read the (status, next_attempt_at) index; the oldest pending row by its
        // queueing time is looked up among the pending ones only.
        let r = self.db.query_one(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'",
            &[],
        )?;
        let pending: i64 = get(&r, 0)?;
        let oldest = opt_time(&r, 1, "outbox.created_at")?;
        let failed: i64 = get(
            &self
                .db
                .query_one("SELECT COUNT(*) FROM outbox WHERE status = 'failed'", &[])?,
            0,
        )?;
        Ok(OutboxDepth {
            pending,
            oldest_pending_at: oldest,
            failed,
        })
    }

    fn quarantine_count(&self) -> Result<i64, StoreError> {
        get(
            &self.db.query_one("SELECT COUNT(*) FROM quarantine", &[])?,
            0,
        )
    }
}

impl DaemonOps for PgStore {
    fn record_daemon(
        &mut self,
        rec: &DaemonRecord,
        forget_after: chrono::Duration,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.db.execute(
                "INSERT INTO daemons(holder, version, started_at, heartbeat_at, stopped_at,
                    last_imap_round_at, last_smtp_send_at, inbox_backlog, inbox_backlog_at,
                    last_error, last_error_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT(holder) DO UPDATE SET version = excluded.version,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                    stopped_at = excluded.stopped_at,
                    last_imap_round_at = excluded.last_imap_round_at,
                    last_smtp_send_at = excluded.last_smtp_send_at,
                    inbox_backlog = excluded.inbox_backlog,
                    inbox_backlog_at = excluded.inbox_backlog_at,
                    last_error = excluded.last_error, last_error_at = excluded.last_error_at",
                &[
                    &rec.holder,
                    &rec.version,
                    &ts(rec.started_at),
                    &ts(rec.heartbeat_at),
                    &rec.stopped_at.map(ts),
                    &rec.last_imap_round_at.map(ts),
                    &rec.last_smtp_send_at.map(ts),
                    &rec.inbox_backlog,
                    &rec.inbox_backlog_at.map(ts),
                    &rec.last_error,
                    &rec.last_error_at.map(ts),
                ],
            )?;
            tx.db.execute(
                "DELETE FROM daemons WHERE heartbeat_at < $1",
                &[&ts(rec.heartbeat_at - forget_after)],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    use super::super::tests::fresh;
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    fn record(holder: &str, heartbeat: u32) -> DaemonRecord {
        DaemonRecord {
            holder: holder.into(),
            version: "1.0".into(),
            started_at: at(0),
            heartbeat_at: at(heartbeat),
            stopped_at: None,
            last_imap_round_at: None,
            last_smtp_send_at: None,
            inbox_backlog: None,
            inbox_backlog_at: None,
            last_error: None,
            last_error_at: None,
        }
    }

    #[test]
    fn daemons_are_recorded_updated_and_forgotten() {
        let Some(mut s) = fresh() else { return };
        let week = chrono::Duration::hours(5);
        s.record_daemon(&record("pid 1 on a", 1), week).unwrap();
        s.record_daemon(&record("pid 2 on a", 3), week).unwrap();
        s.record_daemon(&record("pid 0 on a", 3), week).unwrap();
        let full = DaemonRecord {
            version: "1.1".into(),
            stopped_at: Some(at(2)),
            last_imap_round_at: Some(at(2)),
            last_smtp_send_at: Some(at(2)),
            inbox_backlog: Some(12),
            inbox_backlog_at: Some(at(2)),
            last_error: Some("login refused".into()),
            last_error_at: Some(at(2)),
            ..record("pid 1 on a", 2)
        };
        s.record_daemon(&full, week).unwrap();
        let got = s.read().daemons().unwrap();
        assert_eq!(
            got.iter().map(|d| d.holder.as_str()).collect::<Vec<_>>(),
            vec!["pid 0 on a", "pid 2 on a", "pid 1 on a"]
        );
        assert_eq!(got[2], full);
        assert_eq!(got[0], record("pid 0 on a", 3));
        // A heartbeat at 7:00 forgets those silent for more than 5 hours (before 2:00).
        s.record_daemon(&record("pid 3 on b", 7), week).unwrap();
        assert_eq!(s.read().daemons().unwrap().len(), 4);
        s.record_daemon(&record("pid 3 on b", 8), week).unwrap();
        assert_eq!(
            s.read()
                .daemons()
                .unwrap()
                .iter()
                .map(|d| d.holder.as_str())
                .collect::<Vec<_>>(),
            vec!["pid 3 on b", "pid 0 on a", "pid 2 on a"]
        );
        // A stored time that does not parse names its column.
        s.db()
            .execute("UPDATE daemons SET stopped_at = 'never'", &[])
            .unwrap();
        match s.read().daemons() {
            Err(StoreError::Data(e)) => assert!(e.contains("daemons.stopped_at"), "{e}"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn leases_queues_and_quarantine_are_read() {
        let Some(s) = fresh() else { return };
        assert!(s.read().leases().unwrap().is_empty());
        assert_eq!(s.read().outbox_depth().unwrap(), OutboxDepth::default());
        assert_eq!(s.read().quarantine_count().unwrap(), 0);
        for (name, holder) in [("scheduler", "pid 2"), ("mailbox:INBOX", "pid 1")] {
            s.db()
                .execute(
                    "INSERT INTO leases(name, holder, expires_at) VALUES ($1, $2, $3)",
                    &[&name, &holder, &ts(at(4))],
                )
                .unwrap();
        }
        let leases = s.read().leases().unwrap();
        assert_eq!(
            leases,
            vec![
                LeaseRow {
                    name: "mailbox:INBOX".into(),
                    holder: "pid 1".into(),
                    expires_at: at(4)
                },
                LeaseRow {
                    name: "scheduler".into(),
                    holder: "pid 2".into(),
                    expires_at: at(4)
                },
            ]
        );
        for (i, (status, h)) in [("pending", 5), ("pending", 3), ("sent", 1), ("failed", 2)]
            .into_iter()
            .enumerate()
        {
            s.db()
                .execute(
                    "INSERT INTO outbox(kind, automatic, message_id, envelope_from, recipient,
                                        subject, body, status, next_attempt_at, created_at)
                     VALUES ('reply', 0, $1, 'support@example.com', 'c@example.org', 'Re',
                             '\\x00'::bytea, $2, $3, $3)",
                    &[&format!("<{i}@us>"), &status, &ts(at(h))],
                )
                .unwrap();
        }
        assert_eq!(
            s.read().outbox_depth().unwrap(),
            OutboxDepth {
                pending: 2,
                oldest_pending_at: Some(at(3)),
                failed: 1
            }
        );
        s.db()
            .execute(
                "INSERT INTO quarantine(reason, size, at) VALUES ('x', 1, $1), ('y', 2, $1)",
                &[&ts(at(1))],
            )
            .unwrap();
        assert_eq!(s.read().quarantine_count().unwrap(), 2);
    }
}
