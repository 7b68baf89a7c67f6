//! The PostgreSQL engine: several daemons on one database.
//!
//! tokio-postgres's client, driven from the store's blocking threads: each query is a future
//! awaited with a plain executor (`futures::executor::block_on`) while the connection itself
//! runs on a small runtime of its own ([`runtime`]). So a store call works the same from a
//! `spawn_blocking` thread, an admin command or a test, and never needs a runtime of the
//! caller's. (The `postgres` crate, its synchronous wrapper, panics when called from inside a
//! tokio runtime, which the daemon's async tasks and the tests are.)
//!
//! The schema is the SQLite one, table for table and column for column (`migrations/`, in
//! step with `sqlite/migrations/`, checked by `tests`): times are RFC 3339 text, integers
//! BIGINT, bytes BYTEA. Write transactions take one advisory lock ([`WRITE_LOCK`]), so
//! writers take turns as they do on SQLite and every read-then-write the pipeline makes
//! (dedupe, reference numbers, the flood guard) stays exact across daemons; reads never
//! wait. Work that daemons share is handed out by rows, not by that lock: the mailbox and
//! scheduler leases (with expiry) and outbox claims (`FOR UPDATE SKIP LOCKED`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration as StdDuration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use crate::store::*;

mod cases;
mod clock;
pub mod connect;
mod daemons;
mod engine;
mod guards;
mod leases;
mod messages;
mod outbox;
mod records;
mod report;
#[doc(hidden)]
pub mod testing;
#[cfg(test)]
mod tests;
mod timers;
pub(crate) mod values;
mod views;

pub use connect::Target;
pub(crate) use records::trace_in_database;

/// Migrations in order; index + 1 is the schema version they bring (as SQLite's).
pub(crate) const MIGRATIONS: &[&str] = &[
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

/// The advisory lock every write transaction takes (`pg_advisory_xact_lock`): one writer at
/// a time across every daemon and admin command on the database.
pub(crate) const WRITE_LOCK: i64 = 0x6d61_696c_6361_7365; // "mailcase"

/// The advisory lock the schema migration takes, so two daemons starting together do not
/// both upgrade.
const MIGRATE_LOCK: i64 = 0x6d61_696c_6361_736d;

/// The table recording the schema version (SQLite's `PRAGMA user_version`).
const VERSION_TABLE: &str = "mailcase_schema";

/// The small runtime the connections run on (their socket I/O and TLS); queries are awaited
/// by the caller's thread.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mailcase-pg")
            .enable_all()
            .build()
            .expect("the PostgreSQL connection runtime starts")
    })
}

/// Awaits `f` on the calling thread (the connection's I/O runs on [`runtime`]).
pub fn wait<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A live connection and its prepared statements.
struct Live {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// One connection to the database, reconnected between transactions when it was lost (a
/// PostgreSQL restart), never inside one.
pub(crate) struct Db {
    target: Arc<Target>,
    live: RefCell<Option<Live>>,
    in_tx: Cell<bool>,
}

/// Parameters of a query.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Db {
    fn connect(target: Arc<Target>) -> Result<Db, StoreError> {
        let client = target.connect()?;
        Ok(Db {
            target,
            live: RefCell::new(Some(Live {
                client,
                statements: HashMap::new(),
            })),
            in_tx: Cell::new(false),
        })
    }

    /// A connection to use: the current one, or (outside a transaction) a new one when it was
    /// lost.
    fn ensure(&self) -> Result<(), StoreError> {
        let lost = match &*self.live.borrow() {
            None => true,
            Some(l) => l.client.is_closed(),
        };
        if !lost {
            return Ok(());
        }
        if self.in_tx.get() {
            return Err(StoreError::Lost(
                "the connection to PostgreSQL was lost in a transaction".into(),
            ));
        }
        *self.live.borrow_mut() = None;
        let client = self.target.connect()?;
        *self.live.borrow_mut() = Some(Live {
            client,
            statements: HashMap::new(),
        });
        Ok(())
    }

    fn lost() -> StoreError {
        StoreError::Lost("no connection to PostgreSQL".into())
    }

    /// The prepared statement for `sql` (prepared once per connection).
    fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        self.ensure()?;
        if let Some(s) = self
            .live
            .borrow()
            .as_ref()
            .and_then(|l| l.statements.get(sql))
        {
            return Ok(s.clone());
        }
        let prepared = {
            let g = self.live.borrow();
            let l = g.as_ref().ok_or_else(Db::lost)?;
            wait(l.client.prepare(sql))?
        };
        if let Some(l) = self.live.borrow_mut().as_mut() {
            l.statements.insert(sql.to_string(), prepared.clone());
        }
        Ok(prepared)
    }

    /// The live client and the prepared statement of `sql`.
    fn prepared(&self, sql: &str) -> Result<(std::cell::Ref<'_, Client>, Statement), StoreError> {
        let st = self.statement(sql)?;
        let client =
            std::cell::Ref::filter_map(self.live.borrow(), |l| l.as_ref().map(|l| &l.client))
                .map_err(|_| Db::lost())?;
        Ok((client, st))
    }

    /// Every row of `sql`.
    pub(crate) fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let (c, st) = self.prepared(sql)?;
        Ok(wait(c.query(&st, params))?)
    }

    /// The row of `sql`, if any (more than one is an error).
    pub(crate) fn query_opt(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let (c, st) = self.prepared(sql)?;
        Ok(wait(c.query_opt(&st, params))?)
    }

    /// The one row of `sql`.
    pub(crate) fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let (c, st) = self.prepared(sql)?;
        Ok(wait(c.query_one(&st, params))?)
    }

    /// Runs `sql`; returns the rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let (c, st) = self.prepared(sql)?;
        Ok(wait(c.execute(&st, params))?)
    }

    /// Runs statements without parameters (DDL, transaction control).
    pub(crate) fn batch(&self, sql: &str) -> Result<(), StoreError> {
        self.ensure()?;
        let g = self.live.borrow();
        let l = g.as_ref().ok_or_else(Db::lost)?;
        Ok(wait(l.client.batch_execute(sql))?)
    }

    /// Runs `f` in one transaction holding [`WRITE_LOCK`], committing when it returns Ok.
    pub(crate) fn transaction<T>(
        &self,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.transaction_locked(WRITE_LOCK, f)
    }

    /// Runs `f` in one transaction holding the advisory lock `lock`, committing when it
    /// returns Ok.
    fn transaction_locked<T>(
        &self,
        lock: i64,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ensure()?;
        self.batch("BEGIN")?;
        self.in_tx.set(true);
        let out = self
            .query("SELECT pg_advisory_xact_lock($1)", &[&lock])
            .and_then(|_| f());
        let done = match out {
            Ok(v) => self.batch("COMMIT").map(|()| v),
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        };
        self.in_tx.set(false);
        done
    }
}

/// An open PostgreSQL database (one connection).
pub struct PgStore {
    db: Db,
    /// Who claims outbox rows (the daemon's holder name).
    holder: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.db.target.to_string())
            .finish()
    }
}

/// Read-only queries.
pub struct PgReader<'c> {
    pub(crate) db: &'c Db,
}

/// One write transaction.
pub struct PgTx<'c> {
    pub(crate) db: &'c Db,
}

impl PgStore {
    /// Connects and brings the schema up to date (under [`MIGRATE_LOCK`], all pending
    /// migrations in one transaction).
    ///
    /// # Errors
    /// [`StoreError::PgConnect`] when the server cannot be reached or refuses the login;
    /// [`StoreError::TooNew`] for a schema newer than this program; [`StoreError::Refused`]
    /// for a database holding other tables and no mailcase schema.
    pub fn open(target: Arc<Target>) -> Result<PgStore, StoreError> {
        let store = PgStore {
            db: Db::connect(target)?,
            holder: crate::store::leases::holder_name(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Connects to an existing database whose schema is this program's, for reading.
    ///
    /// # Errors
    /// As [`PgStore::open`]; [`StoreError::TooOld`] for an older schema (the daemon upgrades it).
    pub fn open_read_only(target: Arc<Target>) -> Result<PgStore, StoreError> {
        let store = PgStore {
            db: Db::connect(target)?,
            holder: crate::store::leases::holder_name(),
        };
        store.check_ours()?;
        let v = store.version()?;
        let known = MIGRATIONS.len() as i64;
        if v == 0 {
            return Err(StoreError::Empty {
                place: store.db.target.to_string(),
            });
        }
        if v > known {
            return Err(StoreError::TooNew { found: v, known });
        }
        if v < known {
            return Err(StoreError::TooOld { found: v, known });
        }
        Ok(store)
    }

    /// Names the daemon that claims outbox rows through this connection.
    pub fn set_holder(&mut self, holder: &str) {
        self.holder = holder.to_string();
    }

    /// Where this store connects (the URL without its password).
    pub fn target(&self) -> &Target {
        &self.db.target
    }

    /// Refuses a database that holds tables but no mailcase schema version.
    fn check_ours(&self) -> Result<(), StoreError> {
        if self.has_version_table()? {
            return Ok(());
        }
        let tables: Vec<String> = self
            .db
            .query(
                "SELECT table_name::text FROM information_schema.tables
                 WHERE table_schema = current_schema() ORDER BY 1",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
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
        Err(StoreError::Refused {
            path: self.db.target.to_string(),
            problem: format!(
                "the database holds tables but is not mailcase's (no {VERSION_TABLE} table; its \
                 tables: {list}) and is left as it is; store.url may name the wrong database"
            ),
        })
    }

    fn has_version_table(&self) -> Result<bool, StoreError> {
        Ok(self
            .db
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&VERSION_TABLE.to_string()],
            )?
            .get(0))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.check_ours()?;
        let known = MIGRATIONS.len() as i64;
        if self.version()? == known {
            return Ok(());
        }
        let db = &self.db;
        db.transaction_locked(MIGRATE_LOCK, || {
            db.batch(&format!(
                "CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version BIGINT NOT NULL)"
            ))?;
            let current: i64 = db
                .query_opt(&format!("SELECT version FROM {VERSION_TABLE}"), &[])?
                .map_or(0, |r| r.get(0));
            if current > known {
                // A newer mailcase upgraded it: this older one never touches its schema.
                return Err(StoreError::TooNew {
                    found: current,
                    known,
                });
            }
            for sql in MIGRATIONS.iter().skip(current as usize) {
                db.batch(sql)?;
            }
            db.batch(&format!("DELETE FROM {VERSION_TABLE}"))?;
            db.execute(
                &format!("INSERT INTO {VERSION_TABLE}(version) VALUES ($1)"),
                &[&known],
            )?;
            Ok(())
        })
    }

    /// Runs `f` in one write transaction, committing when it returns Ok.
    ///
    /// # Errors
    /// Whatever `f` returns, or the commit's error; on error nothing is written.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&PgTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let db = &self.db;
        db.transaction(|| f(&PgTx { db }))
    }

    /// Read-only queries outside a write transaction.
    pub fn read(&self) -> PgReader<'_> {
        PgReader { db: &self.db }
    }

    /// The schema version recorded in the database (0: none yet).
    pub(crate) fn version(&self) -> Result<i64, StoreError> {
        if !self.has_version_table()? {
            return Ok(0);
        }
        Ok(self
            .db
            .query_opt(&format!("SELECT version FROM {VERSION_TABLE}"), &[])?
            .map_or(0, |r| r.get(0)))
    }

    /// The connection (for `mailcase migrate` and tests).
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
}

impl PgTx<'_> {
    /// Queries inside this transaction, as the engine's own type.
    pub fn read(&self) -> PgReader<'_> {
        PgReader { db: self.db }
    }
}

/// Reads a row of [`CASE_COLS`]; a status or time that does not parse names its column.
pub(crate) fn case_from_row(r: &Row) -> Result<CaseRow, StoreError> {
    use values::{get, opt_time, text_named, time};
    Ok(CaseRow {
        id: get(r, 0)?,
        reference: get(r, 1)?,
        status: text_named(r, 2, Some("cases.status"))?,
        category: text_named(r, 3, Some("cases.category"))?,
        priority: text_named(r, 4, Some("cases.priority"))?,
        subject: get(r, 5)?,
        customer_address: get(r, 6)?,
        customer_name: get(r, 7)?,
        created_at: time(r, 8, "cases.created_at")?,
        updated_at: time(r, 9, "cases.updated_at")?,
        first_response_due: opt_time(r, 10, "cases.first_response_due")?,
        linked_case_id: get(r, 11)?,
        assignee: get(r, 12)?,
        first_response_at: opt_time(r, 13, "cases.first_response_at")?,
        resolved_at: opt_time(r, 14, "cases.resolved_at")?,
        reopen_count: get(r, 15)?,
        resolution_due: opt_time(r, 16, "cases.resolution_due")?,
        sla_paused_at: opt_time(r, 17, "cases.sla_paused_at")?,
        last_public_at: opt_time(r, 18, "cases.last_public_at")?,
        follow_up_sent_at: opt_time(r, 19, "cases.follow_up_sent_at")?,
        feedback_sent_at: opt_time(r, 20, "cases.feedback_sent_at")?,
        closed_at: opt_time(r, 21, "cases.closed_at")?,
        merged_into: get(r, 22)?,
        language: get(r, 23)?,
        queue: get(r, 24)?,
        brand: get(r, 25)?,
        our_address: get(r, 26)?,
    })
}

/// The columns [`case_from_row`] reads, as SQLite's.
pub(crate) use crate::store::sqlite::CASE_COLS;

impl PgReader<'_> {
    /// Messages matching `cond` (with `$n` parameters), in order.
    pub(crate) fn messages_where(
        &self,
        cond: &str,
        p: Params<'_>,
    ) -> Result<Vec<MessageRow>, StoreError> {
        use values::{col, col_opt, flag, get};
        let rows = self.db.query(
            &format!(
                "SELECT id, case_id, message_id, from_address, subject, received_at, body_text, robot, outcome,
                        reply_text, role, visibility, verified, note
                 FROM messages WHERE {cond} ORDER BY id"
            ),
            p,
        )?;
        rows.iter()
            .map(|r| {
                Ok(MessageRow {
                    id: get(r, 0)?,
                    case_id: get(r, 1)?,
                    message_id: get(r, 2)?,
                    from_address: get(r, 3)?,
                    subject: get(r, 4)?,
                    received_at: col(r, 5)?,
                    body_text: get(r, 6)?,
                    robot: get(r, 7)?,
                    outcome: col(r, 8)?,
                    reply_text: get(r, 9)?,
                    role: col_opt(r, 10)?,
                    visibility: col(r, 11)?,
                    verified: flag(r, 12)?,
                    note: get(r, 13)?,
                })
            })
            .collect()
    }

    /// Timers matching `cond` (with `$n` parameters).
    pub(crate) fn timers_where(
        &self,
        cond: &str,
        p: Params<'_>,
    ) -> Result<Vec<TimerRow>, StoreError> {
        use values::{col, col_opt, get};
        let rows = self.db.query(
            &format!(
                "SELECT id, case_id, kind, target_at, due_at, created_at, fired_at, cancelled_at, outcome FROM timers WHERE {cond}"
            ),
            p,
        )?;
        rows.iter()
            .map(|r| {
                Ok(TimerRow {
                    id: get(r, 0)?,
                    case_id: get(r, 1)?,
                    kind: col(r, 2)?,
                    target_at: col(r, 3)?,
                    due_at: col(r, 4)?,
                    created_at: col(r, 5)?,
                    fired_at: col_opt(r, 6)?,
                    cancelled_at: col_opt(r, 7)?,
                    outcome: col_opt(r, 8)?,
                })
            })
            .collect()
    }
}

/// How long a daemon's claim on an outbox row lasts: a daemon killed while sending leaves
/// its rows to the others after this (at once to a daemon of the same machine, which sees
/// the holder's process gone). Longer than a claimed round can take: 16 rows a connection,
/// pipelined, each SMTP command bounded by `smtp.timeout` (60 s by default); a claim that
/// lapsed while its sender still sends could send a row twice.
pub const CLAIM_TTL: StdDuration = StdDuration::from_secs(600);
