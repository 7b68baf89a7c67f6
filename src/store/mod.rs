//! The system of record: SQLite (WAL), the only module that imports rusqlite.
//!
//! One writer (the daemon) and any number of readers (the CLI). Schema changes are numbered
//! SQL files applied in order and tracked by `PRAGMA user_version`. A failed open never
//! resets or recreates the database. `synchronous = FULL`: a commit is on disk before the
//! daemon moves a message on the IMAP server (invariant 1), and batching keeps that cheap.

use std::path::Path;
use std::time::Duration as StdDuration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use crate::case::kinds::{
    Audience, AuditEvent, MessageOutcome, OutboundKind, OutboundState, ParticipantRole, TimerKind,
    TimerOutcome, Visibility,
};
use crate::case::{Category, Priority, Status};
use crate::parse::{Attachment, InboundMessage};
use columns::{col, col_opt};

mod columns;
mod report;
mod values;
mod views;
pub use columns::{ser_opt_ts, ser_ts};
pub use report::{ReportCase, ReportRating};
pub use views::{CaseFilter, CaseView, RatingRow};
pub mod sqlite;
pub use sqlite::daemon::{DaemonStores, WriteGate};
pub use sqlite::files::{check_database, trace_on_disk, Trace};
pub mod guards;
pub mod health;
pub mod records;

/// Migrations in order; index + 1 is the schema version they bring.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_conversations.sql"),
    include_str!("migrations/003_schedule.sql"),
    include_str!("migrations/004_records.sql"),
    include_str!("migrations/005_undeliverable_index.sql"),
    include_str!("migrations/006_guards.sql"),
];

/// Errors from the store. `is_transient()` says whether retrying later can succeed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database schema version {found} is newer than this mailcase understands ({known}); upgrade mailcase")]
    TooNew { found: i64, known: i64 },
    #[error("database schema version {found} is older than this mailcase's ({known}); start the daemon once (or run any writing command) to upgrade it")]
    TooOld { found: i64, known: i64 },
    /// (`From<rusqlite::Error>` is in `values`: a stored value that does not read as its
    /// type becomes [`StoreError::Data`].)
    #[error("database: {0}")]
    Sql(#[source] rusqlite::Error),
    #[error("database: {0}")]
    Data(String),
    /// The file at the database path is not a mailcase database (or cannot be read): it is
    /// left as it is, never initialised over.
    #[error("database {path}: {problem}")]
    Refused { path: String, problem: String },
}

impl From<rusqlite::Error> for StoreError {
    /// A column that holds no value of its type (see `columns`) is bad data, not an SQL error.
    fn from(e: rusqlite::Error) -> StoreError {
        if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
            if let Some(bad) = inner.downcast_ref::<columns::BadValue>() {
                return StoreError::Data(bad.to_string());
            }
            if let Some(bad) = inner.downcast_ref::<values::BadValue>() {
                return StoreError::Data(bad.to_string());
            }
        }
        StoreError::Sql(e)
    }
}

impl StoreError {
    /// Busy/locked database, full disk, I/O errors: the message stays in the INBOX and is
    /// retried. Anything else is a bug or corruption and is reported as such.
    pub fn is_transient(&self) -> bool {
        let e = match self {
            StoreError::Sql(e) | StoreError::Open { source: e, .. } => e,
            _ => return false,
        };
        match e {
            rusqlite::Error::SqliteFailure(f, _) => matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::OutOfMemory
            ),
            _ => false,
        }
    }

    /// SQLITE_FULL: a full disk, or the `store.max_size` cap.
    pub fn is_full(&self) -> bool {
        matches!(
            self,
            StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
                | StoreError::Open { source: rusqlite::Error::SqliteFailure(f, _), .. }
                if f.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// Formats a time the way every column stores it.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored time.
pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A store connection shared by one async task, used from blocking threads.
pub type SharedStore = std::sync::Arc<std::sync::Mutex<Store>>;

/// Runs `f` on a shared store in a blocking thread, so SQLite's fsyncs never stall the
/// async runtime.
///
/// # Errors
/// Whatever `f` returns; a poisoned lock or a failed task as [`StoreError::Data`].
pub async fn blocking<T: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut g = s
            .lock()
            .map_err(|_| StoreError::Data("store lock poisoned".into()))?;
        f(&mut g)
    })
    .await
    .map_err(|e| StoreError::Data(format!("store task failed: {e}")))?
}

/// Pending customer mail to an address that bounced on its case. CROSS JOIN keeps the
/// participants outside: the few undeliverable ones, by their partial index (migration 005),
/// not every pending row.
const UNDELIVERABLE_PENDING: &str = "SELECT o.id FROM participants p
     CROSS JOIN outbox o ON o.case_id = p.case_id AND o.recipient = p.address
     WHERE p.undeliverable = 1 AND o.status = 'pending' AND o.audience = 'customer'";

/// The open database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    gate: Option<std::sync::Arc<WriteGate>>,
}

/// A case as stored. Serialized (`mailcase cases --json`) with its times as they are stored.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CaseRow {
    pub id: i64,
    pub reference: String,
    pub status: Status,
    pub category: Category,
    pub priority: Priority,
    pub subject: String,
    pub customer_address: String,
    pub customer_name: Option<String>,
    #[serde(serialize_with = "values::ser_time")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "values::ser_time")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "values::ser_opt_time")]
    pub first_response_due: Option<DateTime<Utc>>,
    pub linked_case_id: Option<i64>,
    /// The agent address the case is assigned to (`#assign`).
    pub assignee: Option<String>,
    /// When an agent first answered the customer (stops the first-response clock).
    #[serde(serialize_with = "values::ser_opt_time")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved (start of the reopen window).
    #[serde(serialize_with = "values::ser_opt_time")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub reopen_count: i64,
    /// When the resolution target falls due (None: the priority has none).
    #[serde(serialize_with = "values::ser_opt_time")]
    pub resolution_due: Option<DateTime<Utc>>,
    /// Set while the SLA clock is paused (waiting on the customer).
    #[serde(serialize_with = "values::ser_opt_time")]
    pub sla_paused_at: Option<DateTime<Utc>>,
    /// The last public message to the customer.
    #[serde(serialize_with = "values::ser_opt_time")]
    pub last_public_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "values::ser_opt_time")]
    pub follow_up_sent_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "values::ser_opt_time")]
    pub feedback_sent_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "values::ser_opt_time")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// One change to a case's row, for [`Tx::update_case`] and [`Tx::update_case_audited`]: the
/// column it names is the store's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseChange {
    Priority(Priority),
    Category(Category),
    /// The agent address the case is assigned to.
    Assignee(Option<String>),
    FirstResponseDue(Option<DateTime<Utc>>),
    ResolutionDue(Option<DateTime<Utc>>),
    SlaPausedAt(Option<DateTime<Utc>>),
    LastPublicAt(Option<DateTime<Utc>>),
    FollowUpSentAt(Option<DateTime<Utc>>),
    FeedbackSentAt(Option<DateTime<Utc>>),
    ClosedAt(Option<DateTime<Utc>>),
    ResolvedAt(Option<DateTime<Utc>>),
}

impl CaseChange {
    /// The column it changes (also the name of its audit event).
    fn column(&self) -> &'static str {
        match self {
            CaseChange::Priority(_) => "priority",
            CaseChange::Category(_) => "category",
            CaseChange::Assignee(_) => "assignee",
            CaseChange::FirstResponseDue(_) => "first_response_due",
            CaseChange::ResolutionDue(_) => "resolution_due",
            CaseChange::SlaPausedAt(_) => "sla_paused_at",
            CaseChange::LastPublicAt(_) => "last_public_at",
            CaseChange::FollowUpSentAt(_) => "follow_up_sent_at",
            CaseChange::FeedbackSentAt(_) => "feedback_sent_at",
            CaseChange::ClosedAt(_) => "closed_at",
            CaseChange::ResolvedAt(_) => "resolved_at",
        }
    }

    /// The value as stored.
    fn stored(&self) -> Option<String> {
        match self {
            CaseChange::Priority(p) => Some(p.as_str().to_string()),
            CaseChange::Category(c) => Some(c.as_str().to_string()),
            CaseChange::Assignee(a) => a.clone(),
            CaseChange::FirstResponseDue(t)
            | CaseChange::ResolutionDue(t)
            | CaseChange::SlaPausedAt(t)
            | CaseChange::LastPublicAt(t)
            | CaseChange::FollowUpSentAt(t)
            | CaseChange::FeedbackSentAt(t)
            | CaseChange::ClosedAt(t)
            | CaseChange::ResolvedAt(t) => t.map(ts),
        }
    }
}

/// A case about to be created.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub reference: &'a str,
    pub status: Status,
    pub category: &'a Category,
    pub priority: &'a Priority,
    pub subject: &'a str,
    pub customer_address: &'a str,
    pub customer_name: Option<&'a str>,
    pub now: DateTime<Utc>,
    pub first_response_due: Option<DateTime<Utc>>,
    pub resolution_due: Option<DateTime<Utc>>,
    /// When the customer last heard from us or wrote (their first message, for a new case).
    pub last_public_at: Option<DateTime<Utc>>,
    pub linked_case_id: Option<i64>,
}

/// Where an inbound message came from, for deduplication by (mailbox, UIDVALIDITY, UID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImapSource {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// An inbound message about to be stored.
#[derive(Debug)]
pub struct NewMessage<'a> {
    pub case_id: Option<i64>,
    pub source: Option<&'a ImapSource>,
    pub msg: &'a InboundMessage,
    pub received_at: DateTime<Utc>,
    pub robot: Option<(&'a str, &'a str)>,
    pub outcome: MessageOutcome,
    pub raw: &'a [u8],
    /// The author's role; None for robots.
    pub role: Option<ParticipantRole>,
    /// Internal: an agent's `#note`, or a message that failed its role's checks.
    pub visibility: Visibility,
    /// False when the message claimed a role it could not prove (see `note`).
    pub verified: bool,
    /// Why it is internal or unverified, for agents reading the case.
    pub note: Option<&'a str>,
}

/// An outbound message about to be queued; `body` is the complete RFC 5322 message.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub automatic: bool,
    pub message_id: &'a str,
    pub envelope_from: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a [u8],
    pub now: DateTime<Utc>,
    /// Whose mail thread this message continues.
    pub audience: Audience,
}

/// A queued outbound message, as the outbox worker sees it.
#[derive(Debug, Clone)]
pub struct OutboundRow {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub automatic: bool,
    pub message_id: String,
    pub envelope_from: String,
    pub recipient: String,
    pub body: Vec<u8>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// A stored inbound message (metadata and visible text).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub case_id: Option<i64>,
    pub message_id: Option<String>,
    pub from_address: Option<String>,
    pub subject: String,
    #[serde(serialize_with = "ser_ts")]
    pub received_at: DateTime<Utc>,
    pub body_text: String,
    pub robot: Option<String>,
    pub outcome: MessageOutcome,
    /// What the author wrote now (quoted history and signature removed); `None` when that is
    /// the whole text (`body_text`), which is then not stored twice.
    pub reply_text: Option<String>,
    pub role: Option<ParticipantRole>,
    pub visibility: Visibility,
    pub verified: bool,
    pub note: Option<String>,
}

/// A queued or sent outbound message (without its body), for status views and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxStatus {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub status: OutboundState,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub sent_at: Option<DateTime<Utc>>,
    pub audience: Audience,
}

/// A scheduled deadline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimerRow {
    pub id: i64,
    pub case_id: i64,
    pub kind: TimerKind,
    #[serde(serialize_with = "ser_ts")]
    pub target_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_ts")]
    pub due_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub fired_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub outcome: Option<TimerOutcome>,
}

/// An audit event as stored (`detail` is its JSON text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub event: AuditEvent,
    pub detail: String,
}

/// Counts for `mailcase cases`-style summaries and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub cases: i64,
    pub messages: i64,
    pub robots: i64,
    pub quarantined: i64,
    pub outbox_pending: i64,
    pub outbox_sent: i64,
    pub outbox_failed: i64,
}

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })?;
    conn.busy_timeout(StdDuration::from_secs(10))?;
    Ok(conn)
}

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// What is at the database path, looked at before SQLite opens it.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Missing,
    Database,
}

fn refused(path: &Path, problem: impl Into<String>) -> StoreError {
    StoreError::Refused {
        path: path.display().to_string(),
        problem: problem.into(),
    }
}

/// Reads (never writes) what is at `path`. SQLite treats an empty file as a new database, and
/// our migrations would then write a schema into whatever the path names: a backup restored
/// as 0 bytes, a mistyped `store.path`. Only a missing file may become a new database; a
/// file must at least start like a SQLite database.
fn inspect(path: &Path) -> Result<Found, StoreError> {
    use std::io::Read as _;
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => {
            return Err(refused(
                path,
                format!("cannot read it: {e}; the daemon's user must be able to read and write the file and its folder"),
            ))
        }
    };
    let unreadable = |e: std::io::Error| refused(path, format!("cannot read it: {e}"));
    let meta = f.metadata().map_err(unreadable)?;
    if meta.is_dir() {
        return Err(refused(
            path,
            "this is a folder; store.path must name the database file (e.g. /var/lib/mailcase/mailcase.db)",
        ));
    }
    if meta.len() == 0 {
        return Err(refused(
            path,
            "the file is empty (0 bytes), so it is not a mailcase database and is left as it is; \
             mailcase creates a database only where no file exists: restore the database from a backup, \
             or delete the empty file to start with a new, empty database",
        ));
    }
    let mut head = Vec::with_capacity(SQLITE_HEADER.len());
    f.by_ref()
        .take(SQLITE_HEADER.len() as u64)
        .read_to_end(&mut head)
        .map_err(unreadable)?;
    if head != SQLITE_HEADER {
        return Err(refused(
            path,
            format!(
                "the file ({} bytes) is not a SQLite database and is left as it is; store.path may name \
                 the wrong file: fix store.path, or move the file away to start with a new, empty database",
                meta.len()
            ),
        ));
    }
    Ok(Found::Database)
}

/// Creates the database at the missing `path`, all at once: the schema is written into a
/// temporary file (0600) in the same folder, which is then linked into place, so the path
/// holds either nothing or a complete database, never the empty file a crash mid-creation
/// would leave (which [`inspect`] refuses). Another process creating it at the same moment
/// wins, and its database is used.
fn create(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let name = path
        .file_name()
        .ok_or_else(|| refused(path, "store.path must name a file"))?;
    let tmp = path.with_file_name(format!(
        ".{}.{}.new",
        name.to_string_lossy(),
        std::process::id()
    ));
    let cannot =
        |what: &str, e: std::io::Error| refused(path, format!("cannot create it: {what}: {e}"));
    // Left over by a crash of this same process id: ours to remove.
    let _ = std::fs::remove_file(&tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| cannot(&tmp.display().to_string(), e))?;
    let built = (|| -> Result<(), StoreError> {
        // A rollback journal (the default) while building: nothing is left in a WAL beside
        // the temporary file when it is closed. [`Store::open`] switches to WAL.
        let conn = open_conn(
            &tmp,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut store = Store { conn, gate: None };
        store.migrate()?;
        drop(store);
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| cannot("syncing the new database", e))?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => Ok(()),
            // Created by another process meanwhile: theirs is used.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // A file system without hard links.
            Err(_) => std::fs::rename(&tmp, path)
                .map_err(|e| cannot("moving the new database into place", e)),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    built?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The new name on disk before anything is committed into it.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

impl Store {
    /// Opens the database for writing, creating it when no file exists, and brings its
    /// schema up to date. Files it creates are readable by their owner only (0600; SQLite
    /// gives the `-wal` and `-shm` files the mode of the database).
    ///
    /// # Errors
    /// [`StoreError::Refused`] when the path holds a file that is not a mailcase database
    /// (empty, not SQLite, or SQLite with other tables and no schema version): it is left
    /// untouched. [`StoreError`] when the file cannot be opened or is newer than this
    /// program. The file is never reset.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Data(format!(
                        "cannot create database folder {}: {e}",
                        dir.display()
                    ))
                })?;
            }
        }
        if inspect(path)? == Found::Missing {
            create(path)?;
        }
        // No SQLITE_OPEN_CREATE: a file that went away meanwhile is an error, not a new database.
        let conn = open_conn(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut store = Store { conn, gate: None };
        // Before the first write (switching to WAL writes the header).
        store.check_ours(path)?;
        let conn = &store.conn;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Savepoints' sub-journals and sorts in memory, not in temp files; statements
        // prepared once (the pipeline runs a few dozen distinct ones per message).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 4 MiB of page cache (default 2 MiB): a batch's pages stay in memory until commit
        // instead of spilling to the WAL mid-transaction.
        conn.pragma_update(None, "cache_size", -4096)?;
        conn.set_prepared_statement_cache_capacity(256);
        store.migrate()?;
        Ok(store)
    }

    /// Refuses a SQLite database that is someone else's: no schema version of ours and
    /// tables in it. (One without tables holds nothing to lose: it gets our schema.)
    fn check_ours(&self, path: &Path) -> Result<(), StoreError> {
        if self.schema_version()? != 0 {
            return Ok(());
        }
        let mut st = self.conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )?;
        let tables: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        if tables.is_empty() {
            return Ok(());
        }
        let mut list = tables
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if tables.len() > 5 {
            list.push_str(&format!(" and {} more", tables.len() - 5));
        }
        Err(refused(
            path,
            format!(
                "the file is a SQLite database but not mailcase's (no mailcase schema version; \
                 its tables: {list}) and is left as it is; store.path may name the wrong file: \
                 fix store.path, or move the file away to start with a new, empty database"
            ),
        ))
    }

    /// Opens an existing database read-only, for the CLI while the daemon runs.
    ///
    /// # Errors
    /// As [`Store::open`]; a missing file is an error, not a new database.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        inspect(path)?;
        let conn = open_conn(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let store = Store { conn, gate: None };
        store.check_ours(path)?;
        let v = store.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::TooNew { found: v, known });
        }
        if v < known {
            // Reading an old schema with new queries would fail with obscure SQL errors.
            return Err(StoreError::TooOld { found: v, known });
        }
        Ok(store)
    }

    /// The schema version recorded in the file.
    ///
    /// # Errors
    /// SQL errors.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let current = self.schema_version()?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        if current == known {
            return Ok(());
        }
        // All pending migrations in one transaction: a reader (or a crash) sees the old
        // schema or the new one, never a half-upgraded file.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let current: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for sql in MIGRATIONS.iter().skip(current as usize) {
            tx.execute_batch(sql)?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.commit()?;
        Ok(())
    }

    /// Runs `f` in one write transaction (BEGIN IMMEDIATE), committing when it returns Ok.
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's error; on error nothing is written.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let gate = self.gate.clone();
        let _turn = gate.as_deref().map(WriteGate::enter);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Leaves WAL checkpoints to [`Store::checkpoint`] on another connection (the daemon's
    /// checkpointer) instead of running them inside whichever commit crosses SQLite's
    /// threshold, with the write lock held.
    ///
    /// # Errors
    /// SQL errors.
    pub fn defer_checkpoints(&mut self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // A backlog can grow the WAL; when it starts over, it is cut back to this.
        self.conn
            .pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        Ok(())
    }

    /// Copies committed WAL frames into the database file without waiting for writers or
    /// readers (PASSIVE): returns (frames in the WAL, frames copied).
    ///
    /// # Errors
    /// SQL errors.
    pub fn checkpoint(&mut self) -> Result<(i64, i64), StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }

    /// Sets this connection's page cache to `kib` KiB (the default of [`Store::open`] is
    /// 4 MiB, for commands that read a lot; the daemon's connections need less).
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_cache_kib(&mut self, kib: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "cache_size", -kib)?;
        Ok(())
    }

    /// Shares `gate` with the daemon's other connections: [`Store::write`] then takes turns.
    pub fn set_write_gate(&mut self, gate: std::sync::Arc<WriteGate>) {
        self.gate = Some(gate);
    }

    /// Marks pending customer mail to an address that bounced on its case as failed (it would
    /// only bounce again); returns how many rows.
    ///
    /// # Errors
    /// SQL errors.
    pub fn drop_undeliverable(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        // Asked first with a read, which does not wait for a writer: the UPDATE would take
        // the write lock even when nothing matches, once per outbox round. Both go through
        // the same rows (UNDELIVERABLE_PENDING).
        let any: bool = self
            .conn
            .prepare_cached(&format!("SELECT EXISTS({UNDELIVERABLE_PENDING})"))?
            .query_row([], |r| r.get(0))?;
        if !any {
            return Ok(0);
        }
        Ok(self
            .conn
            .prepare_cached(&format!(
                "UPDATE outbox SET status = 'failed', last_error = 'not sent: the address bounced (undeliverable)',
                     sent_at = NULL, next_attempt_at = ?1
                 WHERE id IN ({UNDELIVERABLE_PENDING})"
            ))?
            .execute([ts(now)])?)
    }

    /// Participants of a case as (address, role, undeliverable).
    ///
    /// # Errors
    /// SQL errors; an unknown role is a data error.
    pub fn participants(
        &self,
        case_id: i64,
    ) -> Result<Vec<(String, ParticipantRole, bool)>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT address, role, undeliverable FROM participants WHERE case_id = ?1 ORDER BY added_at, address",
        )?;
        let rows = st.query_map([case_id], |r| Ok((r.get(0)?, col(r, 1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Caps the database file at `bytes` (SQLite `max_page_count`): beyond it writes fail with
    /// SQLITE_FULL, a transient error, exactly as on a full disk.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_max_size(&mut self, bytes: u64) -> Result<(), StoreError> {
        let page: i64 = self
            .conn
            .pragma_query_value(None, "page_size", |r| r.get(0))?;
        let pages = (bytes as i64 / page.max(512)).max(1);
        self.conn.pragma_update(None, "max_page_count", pages)?;
        Ok(())
    }

    /// Read-only queries outside a write transaction.
    pub fn read(&self) -> Reader<'_> {
        Reader { conn: &self.conn }
    }

    /// Tries to take (or renew) the named lease for `holder` until `now + ttl`. Only one
    /// daemon fetches from a mailbox at a time: a second one started by mistake waits.
    ///
    /// # Errors
    /// SQL errors.
    pub fn acquire_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<bool, StoreError> {
        self.acquire_lease_unless_dead(name, holder, now, ttl, &|_| false)
    }

    /// As [`Store::acquire_lease`], also taking over a lease whose holder `is_dead` says is
    /// gone (a daemon killed on this machine), so a restart after a crash need not wait for
    /// the lease to expire.
    ///
    /// # Errors
    /// SQL errors.
    pub fn acquire_lease_unless_dead(
        &mut self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        is_dead: &dyn Fn(&str) -> bool,
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let cur: Option<(String, String)> = tx
                .tx
                .prepare_cached("SELECT holder, expires_at FROM leases WHERE name = ?1")?.query_row(
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let free = match &cur {
                None => true,
                Some((h, exp)) => h == holder || exp.as_str() <= ts(now).as_str() || is_dead(h),
            };
            if free {
                tx.tx.prepare_cached("INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at")?.execute(
                    params![name, holder, ts(now + ttl)],
                )?;
            }
            Ok(free)
        })
    }

    /// Gives the lease up (on clean shutdown) so a successor does not wait for it to expire.
    ///
    /// # Errors
    /// SQL errors.
    pub fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?
            .execute(params![name, holder])?;
        Ok(())
    }

    /// Records the UIDVALIDITY of a mailbox; returns the previous value when it changed.
    ///
    /// # Errors
    /// SQL errors.
    pub fn note_uidvalidity(
        &mut self,
        mailbox: &str,
        uidvalidity: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError> {
        self.write(|tx| {
            let prev: Option<u32> = tx
                .tx
                .prepare_cached("SELECT uidvalidity FROM mailbox_state WHERE mailbox = ?1")?.query_row(
                    [mailbox],
                    |r| r.get(0),
                )
                .optional()?;
            tx.tx.prepare_cached("INSERT INTO mailbox_state(mailbox, uidvalidity, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at")?.execute(
                params![mailbox, uidvalidity, ts(now)],
            )?;
            Ok(prev.filter(|p| *p != uidvalidity))
        })
    }

    /// Delays all pending mail (circuit breaker) until `until`: relayed answers too, since a
    /// loop between two auto-responders is made of mail that does not look automatic.
    ///
    /// # Errors
    /// SQL errors.
    pub fn defer_pending(&mut self, until: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn.prepare_cached("UPDATE outbox SET next_attempt_at = ?1 WHERE status = 'pending' AND next_attempt_at < ?1")?.execute(
            [ts(until)],
        )?)
    }
}

/// Read-only queries.
pub struct Reader<'c> {
    conn: &'c Connection,
}

/// Reads a row of [`CASE_COLS`]; a status or time that does not parse names its column.
fn case_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    Ok(CaseRow {
        id: r.get(0)?,
        reference: r.get(1)?,
        status: values::status(r, 2, "cases.status")?,
        category: values::category(r, 3, "cases.category")?,
        priority: values::priority(r, 4, "cases.priority")?,
        subject: r.get(5)?,
        customer_address: r.get(6)?,
        customer_name: r.get(7)?,
        created_at: values::time(r, 8, "cases.created_at")?,
        updated_at: values::time(r, 9, "cases.updated_at")?,
        first_response_due: values::opt_time(r, 10, "cases.first_response_due")?,
        linked_case_id: r.get(11)?,
        assignee: r.get(12)?,
        first_response_at: values::opt_time(r, 13, "cases.first_response_at")?,
        resolved_at: values::opt_time(r, 14, "cases.resolved_at")?,
        reopen_count: r.get(15)?,
        resolution_due: values::opt_time(r, 16, "cases.resolution_due")?,
        sla_paused_at: values::opt_time(r, 17, "cases.sla_paused_at")?,
        last_public_at: values::opt_time(r, 18, "cases.last_public_at")?,
        follow_up_sent_at: values::opt_time(r, 19, "cases.follow_up_sent_at")?,
        feedback_sent_at: values::opt_time(r, 20, "cases.feedback_sent_at")?,
        closed_at: values::opt_time(r, 21, "cases.closed_at")?,
    })
}

const CASE_COLS: &str = "id, reference, status, category, priority, subject, customer_address, customer_name, created_at, updated_at, first_response_due, linked_case_id, assignee, first_response_at, resolved_at, reopen_count, resolution_due, sla_paused_at, last_public_at, follow_up_sent_at, feedback_sent_at, closed_at";

impl Reader<'_> {
    /// Due pending outbound rows, oldest first, at most `limit`, leaving out the ids in
    /// `except`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn due_outbound(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        except: &std::collections::HashSet<i64>,
    ) -> Result<Vec<OutboundRow>, StoreError> {
        // The ids first (from the outbox_due index alone), skipping the rows in `except`
        // (taken by the sender and not yet recorded), then the chosen rows with their bodies.
        let mut ids = Vec::with_capacity(limit);
        {
            let mut st = self.conn.prepare_cached(
                "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let mut rows = st.query(params![ts(now), (limit + except.len()) as i64])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                if !except.contains(&id) {
                    ids.push(id);
                    if ids.len() >= limit {
                        break;
                    }
                }
            }
        }
        let mut st = self.conn.prepare_cached(
            "SELECT id, case_id, kind, automatic, message_id, envelope_from, recipient, body, attempts, created_at
             FROM outbox WHERE id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(st.query_row([id], |r| {
                Ok(OutboundRow {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    kind: col(r, 2)?,
                    automatic: r.get::<_, i64>(3)? != 0,
                    message_id: r.get(4)?,
                    envelope_from: r.get(5)?,
                    recipient: r.get(6)?,
                    body: r.get(7)?,
                    attempts: r.get(8)?,
                    created_at: col(r, 9)?,
                })
            })?);
        }
        Ok(out)
    }

    /// When the next pending row falls due, to sleep until then.
    ///
    /// # Errors
    /// SQL errors.
    pub fn next_outbound_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let s: Option<String> = self
            .conn
            .prepare_cached("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok(s.as_deref().and_then(parse_ts))
    }

    /// Messages of every kind sent since `since` (for the circuit breaker).
    ///
    /// # Errors
    /// SQL errors.
    pub fn sent_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError> {
        // `automatic IN (0, 1)` lets SQLite read the (automatic, sent_at) index.
        Ok(self.conn.prepare_cached("SELECT COUNT(*) FROM outbox WHERE automatic IN (0, 1) AND status = 'sent' AND sent_at >= ?1")?.query_row(
            [ts(since)],
            |r| r.get(0),
        )?)
    }

    /// A case by its reference.
    ///
    /// # Errors
    /// SQL errors.
    pub fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {CASE_COLS} FROM cases WHERE reference = ?1"),
                [reference],
                case_from_row,
            )
            .optional()?)
    }

    /// All cases, newest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn cases(&self) -> Result<Vec<CaseRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {CASE_COLS} FROM cases ORDER BY id DESC"))?;
        let rows = st.query_map([], case_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Messages of a case, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn messages_of_case(&self, case_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_where("case_id = ?1", params![case_id])
    }

    /// Every stored inbound message, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn all_messages(&self) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_where("1 = 1", params![])
    }

    fn messages_where(
        &self,
        cond: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<MessageRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, case_id, message_id, from_address, subject, received_at, body_text, robot, outcome,
                    reply_text, role, visibility, verified, note
             FROM messages WHERE {cond} ORDER BY id"
        ))?;
        let rows = st.query_map(p, |r| {
            Ok(MessageRow {
                id: r.get(0)?,
                case_id: r.get(1)?,
                message_id: r.get(2)?,
                from_address: r.get(3)?,
                subject: r.get(4)?,
                received_at: col(r, 5)?,
                body_text: r.get(6)?,
                robot: r.get(7)?,
                outcome: col(r, 8)?,
                reply_text: r.get(9)?,
                role: col_opt(r, 10)?,
                visibility: col(r, 11)?,
                verified: r.get(12)?,
                note: r.get(13)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Outbound rows of a case (or all when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn outbox(&self, case_id: Option<i64>) -> Result<Vec<OutboxStatus>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, case_id, kind, message_id, recipient, subject, status, attempts, last_error, created_at, sent_at,
                    audience
             FROM outbox WHERE (?1 IS NULL OR case_id = ?1) ORDER BY id",
        )?;
        let rows = st.query_map([case_id], |r| {
            Ok(OutboxStatus {
                id: r.get(0)?,
                case_id: r.get(1)?,
                kind: col(r, 2)?,
                message_id: r.get(3)?,
                recipient: r.get(4)?,
                subject: r.get(5)?,
                status: col(r, 6)?,
                attempts: r.get(7)?,
                last_error: r.get(8)?,
                created_at: col(r, 9)?,
                sent_at: col_opt(r, 10)?,
                audience: col(r, 11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Audit events of a case (or of no case when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors; an unknown event is a data error.
    pub fn audit_of_case(&self, case_id: Option<i64>) -> Result<Vec<AuditRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, actor, event, detail FROM audit WHERE (?1 IS NULL AND case_id IS NULL) OR case_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([case_id], |r| {
            Ok(AuditRow {
                at: col(r, 0)?,
                actor: r.get(1)?,
                event: col(r, 2)?,
                detail: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Active timers due at or before `now`, earliest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<TimerRow>, StoreError> {
        self.timers_where(
            "fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
            params![ts(now), limit as i64],
        )
    }

    /// When the next active timer falls due.
    ///
    /// # Errors
    /// SQL errors.
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT MIN(due_at) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(v.as_deref().and_then(parse_ts))
    }

    /// Every timer of a case (or all), oldest first, for the case timeline and tests.
    ///
    /// # Errors
    /// SQL errors.
    pub fn timers(&self, case_id: Option<i64>) -> Result<Vec<TimerRow>, StoreError> {
        self.timers_where("(?1 IS NULL OR case_id = ?1) ORDER BY id", params![case_id])
    }

    fn timers_where(
        &self,
        cond: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<TimerRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, case_id, kind, target_at, due_at, created_at, fired_at, cancelled_at, outcome FROM timers WHERE {cond}"
        ))?;
        let rows = st.query_map(p, |r| {
            Ok(TimerRow {
                id: r.get(0)?,
                case_id: r.get(1)?,
                kind: col(r, 2)?,
                target_at: col(r, 3)?,
                due_at: col(r, 4)?,
                created_at: col(r, 5)?,
                fired_at: col_opt(r, 6)?,
                cancelled_at: col_opt(r, 7)?,
                outcome: col_opt(r, 8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The rating of a case, as (rating, comment).
    ///
    /// # Errors
    /// SQL errors.
    pub fn rating(&self, case_id: i64) -> Result<Option<(u8, Option<String>)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT rating, comment FROM ratings WHERE case_id = ?1")?
            .query_row([case_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Quarantined messages as (uid, reason, size), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    pub fn quarantine(&self) -> Result<Vec<(Option<u32>, String, i64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT uid, reason, size FROM quarantine ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Totals for summaries.
    ///
    /// # Errors
    /// SQL errors.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let one = |sql: &str| -> Result<i64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
        };
        Ok(Counts {
            cases: one("SELECT COUNT(*) FROM cases")?,
            messages: one("SELECT COUNT(*) FROM messages")?,
            robots: one("SELECT COUNT(*) FROM messages WHERE robot IS NOT NULL")?,
            quarantined: one("SELECT COUNT(*) FROM quarantine")?,
            outbox_pending: one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")?,
            outbox_sent: one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")?,
            outbox_failed: one("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")?,
        })
    }

    /// True when this (mailbox, UIDVALIDITY, UID) was already stored or quarantined.
    ///
    /// # Errors
    /// SQL errors.
    pub fn seen_uid(&self, src: &ImapSource) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE source_mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3)
                 OR EXISTS(SELECT 1 FROM quarantine WHERE source_mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3)",
        )?;
        Ok(st.query_row(params![src.mailbox, src.uidvalidity, src.uid], |r| r.get(0))?)
    }
}

/// One write transaction, with the domain operations the pipeline needs.
pub struct Tx<'a> {
    tx: &'a Transaction<'a>,
}

impl Tx<'_> {
    /// Starts a savepoint: one message's writes, undone alone when it fails.
    ///
    /// # Errors
    /// SQL errors.
    pub fn savepoint(&self) -> Result<(), StoreError> {
        self.tx.prepare_cached("SAVEPOINT message")?.execute([])?;
        Ok(())
    }

    /// Keeps the writes since [`Tx::savepoint`].
    ///
    /// # Errors
    /// SQL errors.
    pub fn release(&self) -> Result<(), StoreError> {
        self.tx.prepare_cached("RELEASE message")?.execute([])?;
        Ok(())
    }

    /// Undoes the writes since [`Tx::savepoint`].
    ///
    /// # Errors
    /// SQL errors.
    pub fn rollback_to_savepoint(&self) -> Result<(), StoreError> {
        self.tx.prepare_cached("ROLLBACK TO message")?.execute([])?;
        self.tx.prepare_cached("RELEASE message")?.execute([])?;
        Ok(())
    }

    /// Read queries inside this transaction.
    pub fn read(&self) -> Reader<'_> {
        Reader { conn: self.tx }
    }

    /// Whether these exact raw bytes (hex SHA-256) were stored, and whether a message with
    /// this dedupe key was: one statement for the question every new message asks.
    ///
    /// # Errors
    /// SQL errors.
    pub fn seen_bytes_or_key(
        &self,
        content_hash: &str,
        dedupe_id: &str,
    ) -> Result<(bool, bool), StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE content_hash = ?1), EXISTS(SELECT 1 FROM messages WHERE dedupe_id = ?2)",
        )?;
        Ok(st.query_row(params![content_hash, dedupe_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?)
    }

    /// Whether a message with this dedupe key was stored.
    ///
    /// # Errors
    /// SQL errors.
    pub fn seen_dedupe_id(&self, dedupe_id: &str) -> Result<bool, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM messages WHERE dedupe_id = ?1)")?;
        Ok(st.query_row([dedupe_id], |r| r.get(0))?)
    }

    /// The raw bytes of stored messages with this Message-ID (`None` where they were purged),
    /// to tell a second delivery of a message from another message reusing its id. At most
    /// 20: a sender who reuses one id for ever more messages costs a bounded read. No ORDER
    /// BY: with one, SQLite re-prepared the statement at its executions (see timers_of_case).
    ///
    /// # Errors
    /// SQL errors.
    pub fn raw_of_message_id(&self, message_id: &str) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT raw FROM messages WHERE message_id = ?1 OR dedupe_id = ?1 LIMIT 20",
        )?;
        let rows = st.query_map([message_id], |r| r.get::<_, Option<Vec<u8>>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The case of the most recent of these Message-IDs that *we* issued (an outbound row).
    /// Only these thread anyone into a case: we sent that message to the case's people.
    ///
    /// # Errors
    /// SQL errors.
    pub fn case_by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
        let mut out = self.tx.prepare_cached(
            "SELECT case_id FROM outbox WHERE message_id = ?1 AND case_id IS NOT NULL",
        )?;
        // Walk from the most recent reference (last in References) back to the root.
        for id in ids.iter().rev() {
            if let Some(c) = out.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                return self.case_by_id(c);
            }
        }
        Ok(None)
    }

    /// The case of the most recent of these Message-IDs that was stored as a public inbound
    /// message. Anybody who saw (or guessed) a customer's Message-ID can name it, so threading
    /// admits a sender through it only when they already take part in the case.
    ///
    /// # Errors
    /// SQL errors.
    pub fn case_by_inbound_message_ids(
        &self,
        ids: &[String],
    ) -> Result<Option<CaseRow>, StoreError> {
        let mut inb = self.tx.prepare_cached(
            "SELECT case_id FROM messages WHERE message_id = ?1 AND case_id IS NOT NULL AND visibility = 'public' ORDER BY id DESC LIMIT 1",
        )?;
        for id in ids.iter().rev() {
            if let Some(c) = inb.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                return self.case_by_id(c);
            }
        }
        Ok(None)
    }

    /// A case by id.
    ///
    /// # Errors
    /// SQL errors.
    pub fn case_by_id(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(&format!("SELECT {CASE_COLS} FROM cases WHERE id = ?1"))?
            .query_row([id], case_from_row)
            .optional()?)
    }

    /// A case by reference.
    ///
    /// # Errors
    /// SQL errors.
    pub fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        self.read().case_by_reference(reference)
    }

    /// True when `address` (normalised) takes part in the case.
    ///
    /// # Errors
    /// SQL errors.
    pub fn is_participant(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM participants WHERE case_id = ?1 AND address = ?2)",
        )?;
        Ok(st.query_row(params![case_id, address], |r| r.get(0))?)
    }

    /// True when a reference is already taken.
    ///
    /// # Errors
    /// SQL errors.
    pub fn reference_exists(&self, reference: &str) -> Result<bool, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM cases WHERE reference = ?1)")?;
        Ok(st.query_row([reference], |r| r.get(0))?)
    }

    /// Creates a case and returns its id.
    ///
    /// # Errors
    /// SQL errors (a duplicate reference is a constraint error).
    pub fn insert_case(&self, c: &NewCase<'_>) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO cases(reference, status, category, priority, subject, customer_address, customer_name,
                               created_at, updated_at, first_response_due, linked_case_id,
                               resolution_due, last_public_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)",
        )?;
        st.execute(params![
            c.reference,
            c.status.as_str(),
            c.category.as_str(),
            c.priority.as_str(),
            c.subject,
            c.customer_address,
            c.customer_name,
            ts(c.now),
            c.first_response_due.map(ts),
            c.linked_case_id,
            c.resolution_due.map(ts),
            c.last_public_at.map(ts),
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Changes a case's status (the caller has checked the transition) and audits it.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_status(
        &self,
        case_id: i64,
        from: Status,
        to: Status,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (from, to) = (from.as_str(), to.as_str());
        self.tx.prepare_cached("UPDATE cases SET status = ?2, updated_at = ?3,
                    escalated_at = CASE WHEN ?2 = 'escalated' THEN COALESCE(escalated_at, ?3) ELSE escalated_at END
             WHERE id = ?1")?.execute(
            params![case_id, to, ts(now)],
        )?;
        self.audit(
            Some(case_id),
            now,
            actor,
            AuditEvent::Status,
            &serde_json::json!({"from": from, "to": to, "reason": reason}),
        )
    }

    /// Bumps a case's `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn touch_case(&self, case_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE cases SET updated_at = ?2 WHERE id = ?1")?
            .execute(params![case_id, ts(now)])?;
        Ok(())
    }

    /// Adds a participant (no-op when already there).
    ///
    /// # Errors
    /// SQL errors.
    pub fn add_participant(
        &self,
        case_id: i64,
        address: &str,
        name: Option<&str>,
        role: ParticipantRole,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO participants(case_id, address, name, role, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        st.execute(params![case_id, address, name, role, ts(now)])?;
        Ok(())
    }

    /// Marks `address` undeliverable on one case; true when it was not marked before.
    ///
    /// # Errors
    /// SQL errors.
    pub fn mark_undeliverable_on(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let n = self.tx.prepare_cached("UPDATE participants SET undeliverable = 1 WHERE case_id = ?1 AND address = ?2 AND undeliverable = 0")?.execute(
            params![case_id, address],
        )?;
        Ok(n > 0)
    }

    /// The case and recipient of our customer-facing message with one of these Message-IDs
    /// (what a bounce returns).
    ///
    /// # Errors
    /// SQL errors.
    pub fn customer_mail_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Option<(i64, String)>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT case_id, recipient FROM outbox WHERE message_id = ?1 AND audience = 'customer' AND case_id IS NOT NULL",
        )?;
        for id in ids {
            if let Some(r) = st
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
            {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// True when mail to `address` on this case bounced for good.
    ///
    /// # Errors
    /// SQL errors.
    pub fn is_undeliverable(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM participants WHERE case_id = ?1 AND address = ?2 AND undeliverable = 1)",
        )?;
        Ok(st.query_row(params![case_id, address], |r| r.get(0))?)
    }

    /// Stores an inbound message (raw bytes kept) and returns its id.
    ///
    /// # Errors
    /// SQL errors; a duplicate (mailbox, UIDVALIDITY, UID) or dedupe id is a constraint error.
    pub fn insert_message(&self, m: &NewMessage<'_>) -> Result<i64, StoreError> {
        let msg = m.msg;
        let attachments = serde_json::to_string::<Vec<Attachment>>(&msg.attachments)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO messages(case_id, source_mailbox, uidvalidity, uid, dedupe_id, message_id, content_hash,
                                  from_address, from_name, reply_address, subject, sent_date, received_at,
                                  body_text, attachments, robot, robot_reason, outcome, raw, raw_size,
                                  reply_text, role, visibility, verified, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                     ?21, ?22, ?23, ?24, ?25)",
        )?;
        let from = msg.from.as_ref().or(msg.sender.as_ref());
        st.execute(params![
            m.case_id,
            m.source.map(|s| s.mailbox.as_str()),
            m.source.map(|s| s.uidvalidity),
            m.source.map(|s| s.uid),
            msg.dedupe_id(),
            msg.message_id,
            msg.content_hash,
            from.map(|f| f.normalized()),
            from.and_then(|f| f.name.clone()),
            msg.reply_address().map(|f| f.normalized()),
            msg.subject,
            msg.date.map(ts),
            ts(m.received_at),
            msg.text,
            attachments,
            m.robot.map(|r| r.0),
            m.robot.map(|r| r.1),
            m.outcome,
            m.raw,
            m.raw.len() as i64,
            // NULL when it is the whole text (a first message quotes nothing): readers fall
            // back to body_text, and the text is not stored twice.
            (msg.reply_text != msg.text).then_some(msg.reply_text.as_str()),
            m.role,
            m.visibility,
            m.verified,
            m.note,
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Records a message that could not be taken in (unparseable, oversized) so it is never
    /// fetched again, and audits the reason.
    ///
    /// # Errors
    /// SQL errors.
    pub fn insert_quarantine(
        &self,
        source: Option<&ImapSource>,
        reason: &str,
        size: usize,
        raw: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.tx.prepare_cached("INSERT OR IGNORE INTO quarantine(source_mailbox, uidvalidity, uid, reason, size, raw, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
            params![
                source.map(|s| s.mailbox.as_str()),
                source.map(|s| s.uidvalidity),
                source.map(|s| s.uid),
                reason,
                size as i64,
                raw,
                ts(now)
            ],
        )?;
        let id = self.tx.last_insert_rowid();
        self.audit(
            None,
            now,
            "system",
            AuditEvent::Quarantined,
            &serde_json::json!({"uid": source.map(|s| s.uid), "reason": reason, "size": size}),
        )?;
        Ok(id)
    }

    /// Marks outbound rows sent, in one transaction.
    ///
    /// # Errors
    /// SQL errors.
    pub fn mark_sent(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
        )?;
        for id in ids {
            st.execute(params![id, ts(now)])?;
        }
        Ok(())
    }

    /// Records a failed attempt: retry at `next` or, when `next` is None, give up.
    ///
    /// # Errors
    /// SQL errors.
    pub fn mark_attempt_failed(
        &self,
        row: &OutboundRow,
        error: &str,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match next {
            Some(n) => self
                .tx
                .prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                )?
                .execute(params![row.id, error, ts(n)])?,
            None => {
                self.tx
                    .prepare_cached(
                        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                    )?
                    .execute(params![row.id, error])?;
                self.audit(
                    row.case_id,
                    now,
                    "system",
                    AuditEvent::OutboundFailed,
                    &serde_json::json!({"kind": row.kind, "message_id": row.message_id, "error": error}),
                )?;
                0
            }
        };
        Ok(())
    }

    /// Appends an audit event.
    ///
    /// # Errors
    /// SQL errors.
    pub fn audit(
        &self,
        case_id: Option<i64>,
        now: DateTime<Utc>,
        actor: &str,
        event: AuditEvent,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO audit(case_id, at, actor, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        st.execute(params![case_id, ts(now), actor, event, detail.to_string()])?;
        Ok(())
    }

    /// Queues an outbound message; the worker sends it after this transaction commits.
    ///
    /// # Errors
    /// SQL errors.
    pub fn enqueue(&self, o: &NewOutbound<'_>) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient, subject, body,
                                status, next_attempt_at, created_at, audience)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9, ?10)",
        )?;
        st.execute(params![
            o.case_id,
            o.kind,
            o.automatic,
            o.message_id,
            o.envelope_from,
            o.recipient,
            o.subject,
            o.body,
            ts(o.now),
            o.audience,
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// The Message-IDs of one side's mail thread of a case, oldest first: what we sent to that
    /// audience and what that side sent us. Replies continue this chain (In-Reply-To the
    /// last, References the chain), so each mail client shows the case as one thread.
    ///
    /// # Errors
    /// SQL errors.
    pub fn thread_ids(&self, case_id: i64, audience: Audience) -> Result<Vec<String>, StoreError> {
        let mut st = self.tx.prepare_cached(
            // At the same instant (one batch), what came in precedes what we sent in answer.
            "SELECT message_id, at FROM (
                 SELECT message_id, created_at AS at, 1 AS side, id AS o FROM outbox
                  WHERE case_id = ?1 AND audience = ?2
                 UNION ALL
                 SELECT message_id, received_at AS at, 0 AS side, id AS o FROM messages
                  WHERE case_id = ?1 AND message_id IS NOT NULL AND robot IS NULL
                    AND (role = ?2 OR (?2 = 'customer' AND role = 'cc'))
             ) ORDER BY at, side, o",
        )?;
        let rows = st.query_map(params![case_id, audience], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changes a field of a case, bumps its `updated_at` and audits the change (an event
    /// named for the field, with the stored texts before and after).
    ///
    /// # Errors
    /// SQL errors.
    pub fn update_case_audited(
        &self,
        case_id: i64,
        change: &CaseChange,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let column = change.column();
        let value = change.stored();
        let event: AuditEvent = column
            .parse()
            .map_err(|e: crate::case::kinds::UnknownName| StoreError::Data(e.to_string()))?;
        let old: Option<String> = self
            .tx
            .prepare_cached(&format!("SELECT {column} FROM cases WHERE id = ?1"))?
            .query_row([case_id], |r| r.get(0))?;
        self.tx
            .prepare_cached(&format!(
                "UPDATE cases SET {column} = ?2, updated_at = ?3 WHERE id = ?1"
            ))?
            .execute(params![case_id, value, ts(now)])?;
        self.audit(
            Some(case_id),
            now,
            actor,
            event,
            &serde_json::json!({"from": old, "to": value}),
        )
    }

    /// Records the first agent answer (only the first one counts).
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_first_response(&self, case_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx.prepare_cached("UPDATE cases SET first_response_at = ?2 WHERE id = ?1 AND first_response_at IS NULL")?.execute(
            params![case_id, ts(now)],
        )?;
        Ok(())
    }

    /// Records a resolution (start of the reopen window), or a reopening.
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_resolved(
        &self,
        case_id: i64,
        resolved: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if resolved {
            self.tx
                .prepare_cached("UPDATE cases SET resolved_at = ?2 WHERE id = ?1")?
                .execute(params![case_id, ts(now)])?;
        } else {
            self.tx
                .prepare_cached("UPDATE cases SET reopen_count = reopen_count + 1 WHERE id = ?1")?
                .execute(params![case_id])?;
        }
        Ok(())
    }

    /// Sets a bookkeeping field of a case (times the scheduler keeps) without an audit
    /// event and without bumping `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn update_case(&self, case_id: i64, change: &CaseChange) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(&format!(
                "UPDATE cases SET {} = ?2 WHERE id = ?1",
                change.column()
            ))?
            .execute(params![case_id, change.stored()])?;
        Ok(())
    }

    /// Every timer row of a case, active, fired and cancelled, in no particular order.
    ///
    /// # Errors
    /// SQL errors.
    pub fn timers_of_case(&self, case_id: i64) -> Result<Vec<TimerRow>, StoreError> {
        // No ORDER BY: with one, a profile of the ingest showed SQLite re-preparing
        // statements here inside their executions (more CPU than the timer inserts); without
        // it, such samples fell from 85 to 11 (not told apart from the scheduler's query).
        self.read().timers_where("case_id = ?1", params![case_id])
    }

    /// Arms a timer (the active one of that kind, if any, is cancelled first).
    ///
    /// # Errors
    /// SQL errors.
    pub fn arm_timer(
        &self,
        case_id: i64,
        kind: TimerKind,
        target: DateTime<Utc>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.cancel_timers(case_id, &[kind], now, &TimerOutcome::Replaced)?;
        self.insert_timer(case_id, kind, target, due, now)
    }

    /// Arms a timer of a kind the case has no active timer of (the unique index on active
    /// timers refuses a second one).
    ///
    /// # Errors
    /// SQL errors.
    pub fn insert_timer(
        &self,
        case_id: i64,
        kind: TimerKind,
        target: DateTime<Utc>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO timers(case_id, kind, target_at, due_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![case_id, kind, ts(target), ts(due), ts(now)],
        )?;
        Ok(())
    }

    /// Cancels the active timers of these kinds.
    ///
    /// # Errors
    /// SQL errors.
    pub fn cancel_timers(
        &self,
        case_id: i64,
        kinds: &[TimerKind],
        now: DateTime<Utc>,
        why: &TimerOutcome,
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "UPDATE timers SET cancelled_at = ?3, outcome = ?4 WHERE case_id = ?1 AND kind = ?2 AND fired_at IS NULL AND cancelled_at IS NULL",
        )?;
        for k in kinds {
            st.execute(params![case_id, k, ts(now), why])?;
        }
        Ok(())
    }

    /// Moves an active timer's due time (customer mail waiting for the send window).
    ///
    /// # Errors
    /// SQL errors.
    pub fn defer_timer(&self, id: i64, due: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE timers SET due_at = ?2 WHERE id = ?1")?
            .execute(params![id, ts(due)])?;
        Ok(())
    }

    /// Marks a timer done with what happened.
    ///
    /// # Errors
    /// SQL errors.
    pub fn settle_timer(
        &self,
        id: i64,
        now: DateTime<Utc>,
        outcome: &TimerOutcome,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("UPDATE timers SET fired_at = ?2, outcome = ?3 WHERE id = ?1 AND fired_at IS NULL AND cancelled_at IS NULL")?.execute(
            params![id, ts(now), outcome],
        )?;
        Ok(())
    }

    /// Records a rating (the last one per case counts).
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_rating(
        &self,
        case_id: i64,
        rating: u8,
        comment: Option<&str>,
        message_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO ratings(case_id, rating, comment, at, message_id) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(case_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
                                                at = excluded.at, message_id = excluded.message_id")?.execute(
            params![case_id, rating, comment, ts(now), message_id],
        )?;
        Ok(())
    }

    /// Cases opened by `customer` since `since`, and the latest of them.
    ///
    /// # Errors
    /// SQL errors.
    pub fn recent_cases_of(
        &self,
        customer: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*), MAX(id) FROM cases WHERE customer_address = ?1 AND created_at >= ?2",
        )?;
        Ok(st.query_row(params![customer, ts(since)], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    /// Messages of `kind` queued to `recipient` since `since` (for per-sender caps).
    ///
    /// # Errors
    /// SQL errors.
    pub fn count_outbound_to(
        &self,
        recipient: &str,
        kind: OutboundKind,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM outbox WHERE recipient = ?1 AND kind = ?2 AND created_at >= ?3",
        )?;
        Ok(st.query_row(params![recipient, kind, ts(since)], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Waits (bounded) until `cond` holds.
    fn until(cond: impl Fn() -> bool) {
        let t = std::time::Instant::now();
        while !cond() {
            assert!(
                t.elapsed() < StdDuration::from_secs(10),
                "condition never held"
            );
            std::thread::sleep(StdDuration::from_millis(1));
        }
    }

    #[test]
    fn the_write_gate_serves_in_arrival_order() {
        let gate = std::sync::Arc::new(WriteGate::default());
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let first = gate.enter();
        let mut threads = Vec::new();
        for (i, name) in ["second", "third", "fourth"].into_iter().enumerate() {
            let (g, o) = (gate.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let _turn = g.enter();
                o.lock().unwrap().push(name);
            }));
            // The next thread asks only once this one holds its ticket.
            until(|| gate.lock().next == i as u64 + 2);
        }
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody writes during a turn"
        );
        drop(first);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["second", "third", "fourth"]);
        let st = gate.lock();
        assert_eq!((st.next, st.serving), (4, 4));
    }

    #[test]
    fn due_outbound_leaves_out_rows_in_flight_and_still_fills_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("o.db")).unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ids: Vec<i64> = s
            .write(|tx| {
                (0..6)
                    .map(|i| {
                        tx.enqueue(&NewOutbound {
                            case_id: None,
                            kind: OutboundKind::Ack,
                            automatic: true,
                            message_id: &format!("<m{i}@support.test>"),
                            envelope_from: "support@support.test",
                            recipient: &format!("c{i}@customer.test"),
                            subject: "s",
                            body: format!("body {i}").as_bytes(),
                            now: t0 + chrono::Duration::seconds(i),
                            audience: Audience::Customer,
                        })
                    })
                    .collect()
            })
            .unwrap();
        let now = t0 + chrono::Duration::minutes(1);
        let got = |except: &HashSet<i64>, limit| -> Vec<i64> {
            s.read()
                .due_outbound(now, limit, except)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(got(&HashSet::new(), 3), ids[..3]);
        // The first three are with the senders: the next read is the three after them.
        let taken: HashSet<i64> = ids[..3].iter().copied().collect();
        assert_eq!(got(&taken, 3), ids[3..]);
        let rows = s.read().due_outbound(now, 1, &taken).unwrap();
        assert_eq!(rows[0].body, b"body 3");
        assert_eq!(rows[0].recipient, "c3@customer.test");
        // Everything in flight: nothing to read, however large the limit.
        let all: HashSet<i64> = ids.iter().copied().collect();
        assert!(got(&all, 10).is_empty());
        // Not yet due is not read either.
        assert!(
            s.read()
                .due_outbound(t0, 10, &HashSet::new())
                .unwrap()
                .len()
                == 1
        );
    }

    #[test]
    fn a_passive_checkpoint_copies_committed_frames_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.db");
        let mut w = Store::open(&p).unwrap();
        w.defer_checkpoints().unwrap();
        let mut c = Store::open(&p).unwrap();
        c.checkpoint().unwrap();
        w.write(|tx| {
            tx.audit(
                None,
                DateTime::<Utc>::UNIX_EPOCH,
                "system",
                AuditEvent::Quarantined,
                &serde_json::json!({}),
            )
        })
        .unwrap();
        // Only in the WAL: the main file alone (immutable, WAL ignored) does not have it.
        let main_file_has_it = || {
            let uri = format!("file:{}?immutable=1", p.display());
            let r = Connection::open_with_flags(
                &uri,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
            )
            .unwrap();
            r.query_row(
                "SELECT COUNT(*) FROM audit WHERE event = 'quarantined'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
                == 1
        };
        assert!(!main_file_has_it());
        let (log, copied) = c.checkpoint().unwrap();
        assert!(log > 0 && copied == log, "{log} {copied}");
        assert!(main_file_has_it());
    }

    #[test]
    fn migrations_apply_once_and_version_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_version_1_database_is_upgraded_in_place_with_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(MIGRATIONS[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO cases(reference, status, category, priority, subject, customer_address, created_at, updated_at)
                 VALUES ('CMP-00000-0', 'acknowledged', 'general', 'normal', 's', 'a@b.test',
                         '2026-11-23T08:00:00.000000Z', '2026-11-23T08:00:00.000000Z')",
                [],
            )
            .unwrap();
        }
        // The CLI refuses to read the old schema rather than failing on a missing column.
        assert!(matches!(
            Store::open_read_only(&p),
            Err(StoreError::TooOld { found: 1, .. })
        ));
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let c = s.read().case_by_reference("CMP-00000-0").unwrap().unwrap();
        assert_eq!(c.reopen_count, 0);
        assert_eq!(c.assignee, None);
    }

    #[test]
    fn a_newer_schema_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        let s = Store::open(&p).unwrap();
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let e = Store::open(&p).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
        // Still there, untouched.
        let s = Store::open_read_only(&p);
        assert!(s.is_err());
        let c = Connection::open(&p).unwrap();
        let v: i64 = c
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 99);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        std::fs::write(&p, b"this is not sqlite, it is the admin's notes").unwrap();
        assert!(Store::open(&p).is_err());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"this is not sqlite, it is the admin's notes"
        );
    }

    #[test]
    fn only_one_holder_gets_the_fetch_lease_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("m.db")).unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ttl = chrono::Duration::seconds(60);
        assert!(s.acquire_lease("fetch", "a", t0, ttl).unwrap());
        assert!(!s.acquire_lease("fetch", "b", t0, ttl).unwrap());
        assert!(s.acquire_lease("fetch", "a", t0, ttl).unwrap());
        assert!(s
            .acquire_lease("fetch", "b", t0 + chrono::Duration::seconds(61), ttl)
            .unwrap());
        s.release_lease("fetch", "b").unwrap();
        assert!(s.acquire_lease("fetch", "a", t0, ttl).unwrap());
        // A holder known to be dead is replaced at once.
        assert!(s
            .acquire_lease_unless_dead("fetch", "b", t0, ttl, &|h| h == "a")
            .unwrap());
        assert!(!s
            .acquire_lease_unless_dead("fetch", "c", t0, ttl, &|h| h == "a")
            .unwrap());
    }
}
