//! The SQLite engine: one database file in WAL mode, the only module that imports rusqlite.
//!
//! Schema changes are numbered SQL files applied in order and tracked by `PRAGMA
//! user_version`. A failed open never resets or recreates the database. `synchronous = FULL`:
//! a commit is on disk before the daemon moves a message on the IMAP server (invariant 1),
//! and batching keeps that cheap. The daemon writes from one connection per task, taking
//! turns through a [`daemon::WriteGate`]; admin commands write from their own process, and
//! SQLite's lock (with a busy timeout) keeps them apart.

use std::path::Path;
use std::time::Duration as StdDuration;

use rusqlite::{Connection, OpenFlags, Transaction};

use crate::store::*;
use values::{col, col_opt};

mod cases;
mod clock;
pub mod daemon;
mod daemons;
pub mod files;
mod guards;
mod leases;
mod messages;
mod outbox;
mod records;
mod report;
mod timers;
pub(crate) mod values;
mod views;

/// Migrations in order; index + 1 is the schema version they bring.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_init.sql"),
    include_str!("migrations/002_conversations.sql"),
    include_str!("migrations/003_schedule.sql"),
    include_str!("migrations/004_records.sql"),
    include_str!("migrations/005_undeliverable_index.sql"),
    include_str!("migrations/006_guards.sql"),
    include_str!("migrations/007_clock.sql"),
    include_str!("migrations/008_daemons.sql"),
    include_str!("migrations/009_participants.sql"),
    include_str!("migrations/010_merge.sql"),
    include_str!("migrations/011_channel.sql"),
    include_str!("migrations/012_language.sql"),
    include_str!("migrations/013_queues.sql"),
    include_str!("migrations/014_claims.sql"),
];

/// How many migrations (the schema version they bring), for the engines' agreement test.
#[cfg(test)]
pub(crate) const MIGRATION_COUNT: usize = MIGRATIONS.len();

/// Pending customer mail to an address that bounced on its case. CROSS JOIN keeps the
/// participants outside: the few undeliverable ones, by their partial index (migration 005),
/// not every pending row.
pub(crate) const UNDELIVERABLE_PENDING: &str = "SELECT o.id FROM participants p
     CROSS JOIN outbox o ON o.case_id = p.case_id AND o.recipient = p.address
     WHERE p.undeliverable = 1 AND o.status = 'pending' AND o.audience = 'customer'";

/// An open SQLite database (one connection).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Connection,
    gate: Option<std::sync::Arc<WriteGate>>,
}

impl CaseChange {
    /// The column it changes (also the name of its audit event).
    pub(crate) fn column(&self) -> &'static str {
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
            CaseChange::Language(_) => "language",
            CaseChange::Queue(_) => "queue",
            CaseChange::Brand(_) => "brand",
            CaseChange::OurAddress(_) => "our_address",
        }
    }

    /// The value as stored.
    pub(crate) fn stored(&self) -> Option<String> {
        match self {
            CaseChange::Priority(p) => Some(p.as_str().to_string()),
            CaseChange::Category(c) => Some(c.as_str().to_string()),
            CaseChange::Assignee(a)
            | CaseChange::Language(a)
            | CaseChange::Queue(a)
            | CaseChange::Brand(a)
            | CaseChange::OurAddress(a) => a.clone(),
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

fn open_conn(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags).map_err(|error| StoreError::Open {
        path: path.display().to_string(),
        error,
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
        let mut store = SqliteStore { conn, gate: None };
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

/// Read-only queries.
pub struct SqliteReader<'c> {
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
        merged_into: r.get(22)?,
        language: r.get(23)?,
        queue: r.get(24)?,
        brand: r.get(25)?,
        our_address: r.get(26)?,
    })
}

pub(crate) const CASE_COLS: &str = "id, reference, status, category, priority, subject, customer_address, customer_name, created_at, updated_at, first_response_due, linked_case_id, assignee, first_response_at, resolved_at, reopen_count, resolution_due, sla_paused_at, last_public_at, follow_up_sent_at, feedback_sent_at, closed_at, merged_into, language, queue, brand, our_address";

/// One write transaction, with the domain operations the pipeline needs.
pub struct SqliteTx<'a> {
    tx: &'a Transaction<'a>,
}

impl From<rusqlite::Error> for StoreError {
    /// A column that holds no value of its type (see [`values`]) is bad data, not an SQL error.
    fn from(e: rusqlite::Error) -> StoreError {
        if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
            if let Some(bad) = inner.downcast_ref::<values::BadValue>() {
                return StoreError::Data(bad.to_string());
            }
        }
        StoreError::Sql(e)
    }
}

impl SqliteStore {
    /// Opens the database for writing, creating it when no file exists, and brings its
    /// schema up to date. Files it creates are readable by their owner only (0600; SQLite
    /// gives the `-wal` and `-shm` files the mode of the database).
    ///
    /// # Errors
    /// [`StoreError::Refused`] when the path holds a file that is not a mailcase database
    /// (empty, not SQLite, or SQLite with other tables and no schema version): it is left
    /// untouched. [`StoreError`] when the file cannot be opened or is newer than this
    /// program. The file is never reset.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
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
        let mut store = SqliteStore { conn, gate: None };
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
    /// As [`SqliteStore::open`]; a missing file is an error, not a new database.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        inspect(path)?;
        let conn = open_conn(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let store = SqliteStore { conn, gate: None };
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
        f: impl FnOnce(&SqliteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let gate = self.gate.clone();
        let _turn = gate.as_deref().map(WriteGate::enter);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&SqliteTx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Leaves WAL checkpoints to [`SqliteStore::checkpoint`] on another connection (the daemon's
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

    /// Sets this connection's page cache to `kib` KiB (the default of [`SqliteStore::open`] is
    /// 4 MiB, for commands that read a lot; the daemon's connections need less).
    ///
    /// # Errors
    /// SQL errors.
    pub fn set_cache_kib(&mut self, kib: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "cache_size", -kib)?;
        Ok(())
    }

    /// Shares `gate` with the daemon's other connections: [`SqliteStore::write`] then takes turns.
    pub fn set_write_gate(&mut self, gate: std::sync::Arc<WriteGate>) {
        self.gate = Some(gate);
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
    pub fn read(&self) -> SqliteReader<'_> {
        SqliteReader { conn: &self.conn }
    }
}

impl SqliteReader<'_> {
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
}

impl SqliteTx<'_> {
    /// Queries inside this transaction, as the engine's own type (no box).
    pub fn read(&self) -> SqliteReader<'_> {
        SqliteReader { conn: self.tx }
    }
}

impl TxCore for SqliteTx<'_> {
    /// Starts a savepoint: one message's writes, undone alone when it fails.
    ///
    /// # Errors
    /// SQL errors.
    fn savepoint(&self) -> Result<(), StoreError> {
        self.tx.prepare_cached("SAVEPOINT message")?.execute([])?;
        Ok(())
    }

    /// Keeps the writes since [`Tx::savepoint`].
    ///
    /// # Errors
    /// SQL errors.
    fn release(&self) -> Result<(), StoreError> {
        self.tx.prepare_cached("RELEASE message")?.execute([])?;
        Ok(())
    }

    /// Undoes the writes since [`Tx::savepoint`].
    ///
    /// # Errors
    /// SQL errors.
    fn rollback_to_savepoint(&self) -> Result<(), StoreError> {
        self.tx.prepare_cached("ROLLBACK TO message")?.execute([])?;
        self.tx.prepare_cached("RELEASE message")?.execute([])?;
        Ok(())
    }

    /// Read queries inside this transaction.
    fn read(&self) -> Reader<'_> {
        Box::new(SqliteTx::read(self))
    }
}

impl EngineCore for SqliteStore {
    fn reader(&self) -> Reader<'_> {
        Box::new(self.read())
    }

    fn write_tx(
        &mut self,
        f: &mut dyn FnMut(&Tx<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(|tx| f(tx))
    }

    #[cfg(test)]
    fn as_sqlite(&self) -> Option<&SqliteStore> {
        Some(self)
    }

    /// The schema version recorded in the file.
    ///
    /// # Errors
    /// SQL errors.
    fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
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
        let mut s = SqliteStore::open(&dir.path().join("o.db")).unwrap();
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
        let got = |s: &mut SqliteStore, except: &HashSet<i64>, limit| -> Vec<i64> {
            s.claim_due_outbound(now, limit, except)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(got(&mut s, &HashSet::new(), 3), ids[..3]);
        // The first three are with the senders: the next read is the three after them.
        let taken: HashSet<i64> = ids[..3].iter().copied().collect();
        assert_eq!(got(&mut s, &taken, 3), ids[3..]);
        let rows = s.claim_due_outbound(now, 1, &taken).unwrap();
        assert_eq!(rows[0].body, b"body 3");
        assert_eq!(rows[0].recipient, "c3@customer.test");
        // Everything in flight: nothing to read, however large the limit.
        let all: HashSet<i64> = ids.iter().copied().collect();
        assert!(got(&mut s, &all, 10).is_empty());
        // Not yet due is not read either.
        assert!(s.claim_due_outbound(t0, 10, &HashSet::new()).unwrap().len() == 1);
    }

    #[test]
    fn a_passive_checkpoint_copies_committed_frames_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.db");
        let mut w = SqliteStore::open(&p).unwrap();
        w.defer_checkpoints().unwrap();
        let mut c = SqliteStore::open(&p).unwrap();
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
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(s);
        let s = SqliteStore::open(&p).unwrap();
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
            SqliteStore::open_read_only(&p),
            Err(StoreError::TooOld { found: 1, .. })
        ));
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        let c = s.read().case_by_reference("CMP-00000-0").unwrap().unwrap();
        assert_eq!(c.reopen_count, 0);
        assert_eq!(c.assignee, None);
    }

    #[test]
    fn a_newer_schema_is_refused_not_reset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        let s = SqliteStore::open(&p).unwrap();
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        let e = SqliteStore::open(&p).unwrap_err();
        assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
        // Still there, untouched.
        let s = SqliteStore::open_read_only(&p);
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
        assert!(SqliteStore::open(&p).is_err());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"this is not sqlite, it is the admin's notes"
        );
    }

    #[test]
    fn only_one_holder_gets_the_fetch_lease_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("m.db")).unwrap();
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
