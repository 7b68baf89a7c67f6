//! The daemons that run on this store and what they last did, for `mailcase status` and the
//! metrics: a heartbeat row per daemon process, the leases they hold, and the depth of the
//! queues an operator watches (outbox, quarantine).

use chrono::{DateTime, Utc};

use super::*;

/// One daemon process as it last reported itself (times are real UTC).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DaemonRecord {
    /// `pid N on HOST`, as in the leases.
    pub holder: String,
    /// The program's version.
    pub version: String,
    #[serde(serialize_with = "ser_ts")]
    pub started_at: DateTime<Utc>,
    /// Written every few seconds while it runs.
    #[serde(serialize_with = "ser_ts")]
    pub heartbeat_at: DateTime<Utc>,
    /// Set when it stopped cleanly.
    #[serde(serialize_with = "ser_opt_ts")]
    pub stopped_at: Option<DateTime<Utc>>,
    /// The end of its last complete IMAP round (listing and draining the inbox).
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_imap_round_at: Option<DateTime<Utc>>,
    /// Its last message accepted by the SMTP server.
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_smtp_send_at: Option<DateTime<Utc>>,
    /// Messages in the inbox not yet taken in, as of `inbox_backlog_at`.
    pub inbox_backlog: Option<i64>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub inbox_backlog_at: Option<DateTime<Utc>>,
    /// The last error it logged that an operator may need (a failed login, an SMTP
    /// refusal, a store failure), without secrets.
    pub last_error: Option<String>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub last_error_at: Option<DateTime<Utc>>,
}

/// Who holds a lease, until when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeaseRow {
    pub name: String,
    pub holder: String,
    #[serde(serialize_with = "ser_ts")]
    pub expires_at: DateTime<Utc>,
}

/// The outbox as an operator watches it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxDepth {
    /// Rows waiting to be sent or retried.
    pub pending: i64,
    /// When the oldest of them was queued.
    #[serde(serialize_with = "ser_opt_ts")]
    pub oldest_pending_at: Option<DateTime<Utc>>,
    /// Rows given up on (bounced, refused for good, or out of attempts).
    pub failed: i64,
}

/// Queries of this room.
pub trait DaemonReads {
    /// Every daemon that reported on this store, the latest heartbeat first.
    ///
    /// # Errors
    /// SQL errors.
    fn daemons(&self) -> Result<Vec<DaemonRecord>, StoreError>;

    /// Every lease, by name.
    ///
    /// # Errors
    /// SQL errors.
    fn leases(&self) -> Result<Vec<LeaseRow>, StoreError>;

    /// The outbox's depth and its oldest pending row.
    ///
    /// # Errors
    /// SQL errors.
    fn outbox_depth(&self) -> Result<OutboxDepth, StoreError>;

    /// How many messages are in quarantine.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine_count(&self) -> Result<i64, StoreError>;
}

/// Operations of this room outside a caller's transaction.
pub trait DaemonOps {
    /// Writes a daemon's row (its heartbeat), and deletes rows of daemons whose heartbeat
    /// stopped more than `forget_after` before `rec.heartbeat_at`.
    ///
    /// # Errors
    /// SQL errors.
    fn record_daemon(
        &mut self,
        rec: &DaemonRecord,
        forget_after: chrono::Duration,
    ) -> Result<(), StoreError>;
}

/// How often the daemon writes its heartbeat and refreshes the figures read from the store.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// A daemon whose heartbeat is older than this is taken for dead (by `status`, and by
/// `migrate`, which refuses a source a live daemon writes to).
pub fn heartbeat_stale_after() -> chrono::Duration {
    chrono::Duration::seconds(HEARTBEAT_EVERY.as_secs() as i64 * 3)
}
