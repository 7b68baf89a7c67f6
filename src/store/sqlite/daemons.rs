//! The SQLite implementation of [`crate::store::daemons`].

use rusqlite::params;

use super::values::{opt_time, time};
use super::*;
use crate::store::daemons::*;

impl DaemonReads for SqliteReader<'_> {
    fn daemons(&self) -> Result<Vec<DaemonRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT holder, version, started_at, heartbeat_at, stopped_at, last_imap_round_at,
                    last_smtp_send_at, inbox_backlog, inbox_backlog_at, last_error, last_error_at
             FROM daemons ORDER BY heartbeat_at DESC, holder",
        )?;
        let rows = st.query_map([], |r| {
            Ok(DaemonRecord {
                holder: r.get(0)?,
                version: r.get(1)?,
                started_at: time(r, 2, "daemons.started_at")?,
                heartbeat_at: time(r, 3, "daemons.heartbeat_at")?,
                stopped_at: opt_time(r, 4, "daemons.stopped_at")?,
                last_imap_round_at: opt_time(r, 5, "daemons.last_imap_round_at")?,
                last_smtp_send_at: opt_time(r, 6, "daemons.last_smtp_send_at")?,
                inbox_backlog: r.get(7)?,
                inbox_backlog_at: opt_time(r, 8, "daemons.inbox_backlog_at")?,
                last_error: r.get(9)?,
                last_error_at: opt_time(r, 10, "daemons.last_error_at")?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn leases(&self) -> Result<Vec<LeaseRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, holder, expires_at FROM leases ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(LeaseRow {
                name: r.get(0)?,
                holder: r.get(1)?,
                expires_at: time(r, 2, "leases.expires_at")?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn outbox_depth(&self) -> Result<OutboxDepth, StoreError> {
        // Both read the (status, next_attempt_at) index; the oldest pending row by its
        // queueing time is looked up among the pending ones only.
        let (pending, oldest): (i64, Option<DateTime<Utc>>) = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'",
            )?
            .query_row([], |r| {
                Ok((r.get(0)?, opt_time(r, 1, "outbox.created_at")?))
            })?;
        let failed: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")?
            .query_row([], |r| r.get(0))?;
        Ok(OutboxDepth {
            pending,
            oldest_pending_at: oldest,
            failed,
        })
    }

    fn quarantine_count(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM quarantine")?
            .query_row([], |r| r.get(0))?)
    }
}

impl DaemonOps for SqliteStore {
    fn record_daemon(
        &mut self,
        rec: &DaemonRecord,
        forget_after: chrono::Duration,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.tx
                .prepare_cached(
                    "INSERT INTO daemons(holder, version, started_at, heartbeat_at, stopped_at,
                        last_imap_round_at, last_smtp_send_at, inbox_backlog, inbox_backlog_at,
                        last_error, last_error_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT(holder) DO UPDATE SET version = excluded.version,
                        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                        stopped_at = excluded.stopped_at,
                        last_imap_round_at = excluded.last_imap_round_at,
                        last_smtp_send_at = excluded.last_smtp_send_at,
                        inbox_backlog = excluded.inbox_backlog,
                        inbox_backlog_at = excluded.inbox_backlog_at,
                        last_error = excluded.last_error, last_error_at = excluded.last_error_at",
                )?
                .execute(params![
                    rec.holder,
                    rec.version,
                    ts(rec.started_at),
                    ts(rec.heartbeat_at),
                    rec.stopped_at.map(ts),
                    rec.last_imap_round_at.map(ts),
                    rec.last_smtp_send_at.map(ts),
                    rec.inbox_backlog,
                    rec.inbox_backlog_at.map(ts),
                    rec.last_error,
                    rec.last_error_at.map(ts),
                ])?;
            tx.tx
                .prepare_cached("DELETE FROM daemons WHERE heartbeat_at < ?1")?
                .execute([ts(rec.heartbeat_at - forget_after)])?;
            Ok(())
        })
    }
}
