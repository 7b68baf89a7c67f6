//! The system of record, engine-neutral: what the pipeline, ingest, outbox, scheduler,
//! records and the command line need from storage, as traits over the domain's types, and
//! [`Store`], the handle they hold. The SQLite engine (`sqlite/`) implements the traits; it is
//! the only module that imports rusqlite, and everything SQLite-only (the WAL and its
//! checkpoints, the write gate, page caches, `store.max_size`, VACUUM and the erase check of
//! its files) stays inside it.
//!
//! Each table's part of the API has a room of its own (`cases`, `messages`, `outbox`,
//! `timers`, `leases`, `guards`, `records`, `views`, `report`, `clock`, `daemons`): its types and its `*Reads`
//! (queries), `*Writes` (inside one transaction, [`Store::write`]) and `*Ops` (outside a
//! caller's transaction) traits. [`Reads`], [`Writes`] and [`Engine`] gather them.
//!
//! The API makes no single-writer assumption a second engine could not keep: several
//! processes may write (the daemon's tasks and the admin commands already do), the mailbox
//! lease has an expiry, and every write a caller makes goes through one transaction.

use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::case::kinds::*;
use crate::parse::Attachment;

pub mod cases;
pub mod clock;
pub mod daemons;
pub mod guards;
pub mod health;
pub mod leases;
pub mod messages;
pub mod migrate;
pub mod open;
pub mod outbox;
pub mod pg;
pub mod records;
pub mod report;
pub mod sqlite;
pub mod timers;
pub mod views;

pub use cases::*;
pub use clock::*;
pub use daemons::*;
pub use guards::*;
pub use leases::*;
pub use messages::*;
pub use open::{check_database, describe, pg_target, trace_left};
pub use outbox::*;
pub use records::*;
pub use report::*;
pub use sqlite::daemon::{DaemonStores, WriteGate};
pub use sqlite::files::{trace_on_disk, Trace};
pub use sqlite::values::{ser_opt_ts, ser_ts};
pub use timers::*;
pub use views::*;

/// Errors from the store. `is_transient()` says whether retrying later can succeed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {error}")]
    Open {
        path: String,
        error: rusqlite::Error,
    },
    #[error("database schema version {found} is newer than this mailcase understands ({known}); upgrade mailcase")]
    TooNew { found: i64, known: i64 },
    #[error("database schema version {found} is older than this mailcase's ({known}); start the daemon once (or run any writing command) to upgrade it")]
    TooOld { found: i64, known: i64 },
    /// (`From<rusqlite::Error>` is in `values`: a stored value that does not read as its
    /// type becomes [`StoreError::Data`].)
    #[error("database: {0}")]
    Sql(rusqlite::Error),
    #[error("database: {0}")]
    Data(String),
    /// The file at the database path is not a mailcase database (or cannot be read): it is
    /// left as it is, never initialised over.
    #[error("database {path}: {problem}")]
    Refused { path: String, problem: String },
    /// PostgreSQL: a statement failed.
    #[error("database: {}", pg_text(.0))]
    Pg(tokio_postgres::Error),
    /// PostgreSQL: the server cannot be reached or refused the login.
    #[error("database {target}: {}{}", pg_text(.error), connect_hint(.error))]
    PgConnect {
        target: String,
        error: tokio_postgres::Error,
    },
    /// A PostgreSQL database without mailcase's tables yet (read-only opening).
    #[error("database {place}: no mailcase tables yet: the daemon creates it when it first runs")]
    Empty { place: String },
    /// The store's configuration cannot be used (a key, or a secret that cannot be read).
    #[error("{0}")]
    Config(String),
    /// PostgreSQL: the connection was lost; the work is retried on a new one.
    #[error("database: {0}")]
    Lost(String),
}

/// What to look at for a connection the server or TLS refused.
fn connect_hint(e: &tokio_postgres::Error) -> &'static str {
    let text = pg_text(e);
    if e.code().is_some_and(|c| c.code() == "28P01") {
        "; the password is read from store.password_file, password_env or password_credential"
    } else if text.contains("UnknownIssuer") || text.contains("invalid peer certificate") {
        "; the server's certificate is not trusted: set store.ca_file to the CA that signed it"
    } else {
        ""
    }
}

/// A PostgreSQL error with its cause and, for the server's, its detail.
fn pg_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(d) = db.detail() {
            s.push_str(&format!("; {d}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(&format!(": {t}"));
        }
        cause = c.source();
    }
    s
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError::Pg(e)
    }
}

/// Whether a PostgreSQL error may pass: the connection (lost, refused, the server shutting
/// down or starting), a deadlock or serialization failure, resources (a full disk, too many
/// connections), or an I/O error.
fn pg_transient(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || c.starts_with("53")
            || c.starts_with("57P")
            || c.starts_with("58")
            || c == "40001"
            || c == "40P01"
            || c == "55P03";
    }
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    false
}

impl StoreError {
    /// Busy/locked database, full disk, I/O errors: the message stays in the INBOX and is
    /// retried. Anything else is a bug or corruption and is reported as such.
    pub fn is_transient(&self) -> bool {
        let e = match self {
            StoreError::Sql(e) | StoreError::Open { error: e, .. } => e,
            StoreError::Pg(e) => return pg_transient(e),
            // A wrong password or database name does not pass by retrying.
            StoreError::PgConnect { error, .. } => {
                return pg_transient(error)
                    && !error
                        .code()
                        .is_some_and(|c| c.code().starts_with("28") || c.code() == "3D000")
            }
            StoreError::Lost(_) => return true,
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
        if let StoreError::Pg(e) = self {
            return e.code().is_some_and(|c| c.code() == "53100");
        }
        matches!(
            self,
            StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
                | StoreError::Open { error: rusqlite::Error::SqliteFailure(f, _), .. }
                if f.code == rusqlite::ErrorCode::DiskFull
        )
    }
}

/// A store for a unit test: a PostgreSQL database of its own when the suite runs on
/// PostgreSQL (`MAILCASE_TEST_PG_URL`), else the SQLite file at `path`.
#[cfg(test)]
pub(crate) fn test_store(path: &Path) -> Store {
    match pg::testing::create() {
        Some(db) => db.store().expect("the test database opens"),
        None => Store::open(path).expect("the test database opens"),
    }
}

/// A unit test's config text with its `[store]` on a PostgreSQL database of its own when the
/// suite runs on PostgreSQL (its `path = ...` line replaced), else unchanged.
#[cfg(test)]
pub(crate) fn test_store_config(text: &str) -> String {
    let Some(db) = pg::testing::create() else {
        return text.to_string();
    };
    let at = text
        .find("[store]\n")
        .expect("the config has a [store] table")
        + "[store]\n".len();
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
    assert!(
        text[at..line_end].starts_with("path = "),
        "[store] starts with path"
    );
    format!("{}{}{}", &text[..at], db.toml(), &text[line_end..])
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

/// Runs `f` on a shared store (a [`SharedStore`], or an engine's own connection) in a
/// blocking thread, so SQLite's fsyncs never stall the async runtime.
///
/// # Errors
/// Whatever `f` returns; a poisoned lock or a failed task as [`StoreError::Data`].
pub async fn blocking<S: Send + 'static, T: Send + 'static>(
    store: &std::sync::Arc<std::sync::Mutex<S>>,
    f: impl FnOnce(&mut S) -> Result<T, StoreError> + Send + 'static,
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

/// An audit event as stored (`detail` is its JSON text).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub event: AuditEvent,
    pub detail: String,
}

/// Queries, outside a transaction ([`Store::read`]) or inside one ([`TxCore::read`]).
pub type Reader<'a> = Box<dyn Reads + 'a>;

/// One write transaction: every table's writes and reads ([`Store::write`]).
pub type Tx<'a> = dyn Writes + 'a;

/// Every query of every table.
pub trait Reads:
    CaseReads
    + MessageReads
    + OutboxReads
    + TimerReads
    + RecordReads
    + ViewReads
    + ReportReads
    + DaemonReads
    + ClockReads
{
}
impl<
        T: ?Sized
            + DaemonReads
            + CaseReads
            + ClockReads
            + MessageReads
            + OutboxReads
            + TimerReads
            + RecordReads
            + ViewReads
            + ReportReads,
    > Reads for T
{
}

/// What every transaction offers beside the tables' writes: savepoints and reads.
pub trait TxCore {
    /// Starts a savepoint: one message's writes, undone alone when it fails.
    ///
    /// # Errors
    /// SQL errors.
    fn savepoint(&self) -> Result<(), StoreError>;

    /// Keeps the writes since [`Tx::savepoint`].
    ///
    /// # Errors
    /// SQL errors.
    fn release(&self) -> Result<(), StoreError>;

    /// Undoes the writes since [`Tx::savepoint`].
    ///
    /// # Errors
    /// SQL errors.
    fn rollback_to_savepoint(&self) -> Result<(), StoreError>;

    /// Read queries inside this transaction.
    fn read(&self) -> Reader<'_>;
}

/// Every write of every table, inside one transaction.
pub trait Writes:
    TxCore
    + CaseWrites
    + MessageWrites
    + OutboxWrites
    + TimerWrites
    + GuardWrites
    + RecordWrites
    + ReportWrites
{
}
impl<
        T: ?Sized
            + TxCore
            + CaseWrites
            + MessageWrites
            + OutboxWrites
            + TimerWrites
            + GuardWrites
            + RecordWrites
            + ReportWrites,
    > Writes for T
{
}

/// What an engine offers beside the tables' operations: reads, write transactions and its
/// schema version.
pub trait EngineCore {
    /// Queries outside a write transaction.
    fn reader(&self) -> Reader<'_>;

    /// Runs `f` in one write transaction, committing when it returns Ok; on error nothing
    /// is written. [`Store::write`] is the typed way to call it.
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's error.
    fn write_tx(
        &mut self,
        f: &mut dyn FnMut(&Tx<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// The SQLite engine behind this store, for the engine's own unit tests.
    #[cfg(test)]
    fn as_sqlite(&self) -> Option<&sqlite::SqliteStore> {
        None
    }

    /// The schema version recorded in the file.
    ///
    /// # Errors
    /// SQL errors.
    fn schema_version(&self) -> Result<i64, StoreError>;
}

/// A storage engine: everything the rest of mailcase asks of the system of record.
pub trait Engine:
    Send
    + EngineCore
    + CaseOps
    + MessageOps
    + OutboxOps
    + LeaseOps
    + GuardOps
    + RecordOps
    + DaemonOps
    + ClockOps
{
}
impl<
        T: ?Sized
            + DaemonOps
            + Send
            + EngineCore
            + CaseOps
            + ClockOps
            + MessageOps
            + OutboxOps
            + LeaseOps
            + GuardOps
            + RecordOps,
    > Engine for T
{
}

/// The open store: an engine behind the API of this module.
pub struct Store {
    engine: Box<dyn Engine>,
}

impl Store {
    /// Wraps an engine.
    pub fn new(engine: Box<dyn Engine>) -> Store {
        Store { engine }
    }

    /// Opens the SQLite database at `path` for writing, creating it when no file exists,
    /// and brings its schema up to date (see [`sqlite::SqliteStore::open`]).
    ///
    /// # Errors
    /// [`StoreError`] from opening or migrating the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store::new(Box::new(sqlite::SqliteStore::open(path)?)))
    }

    /// Opens the SQLite database at `path` read-only (see
    /// [`sqlite::SqliteStore::open_read_only`]).
    ///
    /// # Errors
    /// [`StoreError`]: a missing file, or a schema this program does not read.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        Ok(Store::new(Box::new(sqlite::SqliteStore::open_read_only(
            path,
        )?)))
    }

    /// Read-only queries outside a write transaction.
    pub fn read(&self) -> Reader<'_> {
        self.engine.reader()
    }

    /// Runs `f` in one write transaction, committing when it returns Ok.
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's error; on error nothing is written.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.engine.write_tx(&mut |tx| {
            let run = f
                .take()
                .ok_or_else(|| StoreError::Data("a write ran twice".into()))?;
            out = Some(run(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Data("a write returned nothing".into()))
    }
}

impl std::ops::Deref for Store {
    type Target = dyn Engine;
    fn deref(&self) -> &Self::Target {
        &*self.engine
    }
}

impl std::ops::DerefMut for Store {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut *self.engine
    }
}
