//! `mailcase migrate --from sqlite:PATH --to postgres:URL`: moves an installation from its
//! SQLite file to a PostgreSQL database, then proves the copy.
//!
//! The SQLite file is opened read-only and read in one read transaction (a consistent
//! snapshot); its schema version must be this program's. The PostgreSQL database is opened
//! (created or migrated to the same version) and every table is copied, generically: the
//! table list comes from `sqlite_master`, each must have a twin in PostgreSQL with the same
//! columns of the matching types (INTEGER → bigint, TEXT → text, BLOB → bytea, REAL →
//! double precision), and tables go in an order that respects the foreign keys. A column that
//! references its own table (`cases.linked_case_id`, `cases.merged_into`) is inserted NULL
//! and set once the whole table is in.
//!
//! Everything is written in ONE PostgreSQL transaction holding the engine's write lock, with
//! `INSERT … ON CONFLICT DO NOTHING`: running it again copies only what is missing. Before it
//! commits, the copy is verified inside that transaction: per table the row count and a
//! SHA-256 of every row in primary-key order, and per case a SHA-256 of its row and of every
//! row of every table with a `case_id` column for it, each value encoded with a type tag and
//! its length. Any difference (a row PostgreSQL already held with other content, a row the
//! source does not have) rolls the transaction back: nothing is written, and the report
//! names the tables and the first cases that differ. Nothing is ever deleted or updated in
//! either database (the self-references above are set only on rows this run inserted).
//!
//! A PostgreSQL database that holds cases the source does not have is refused before
//! anything is copied. The daemon must be stopped during the move: what it writes to the
//! SQLite file after the snapshot would not be copied.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::store::pg::{Db, PgStore, Target};
use crate::store::sqlite::SqliteStore;
use crate::store::StoreError;

/// The PostgreSQL table recording the schema version: the engine's own, not copied.
const VERSION_TABLE: &str = "mailcase_schema";

/// Rows per INSERT (fewer for wide tables: at most 65535 parameters a statement).
const BATCH_ROWS: usize = 500;

/// Bytes of values per INSERT at most (raw messages can be large): a batch is sent sooner.
const BATCH_BYTES: usize = 8 << 20;

/// Rows per page when PostgreSQL is read back for the verification.
const PAGE_ROWS: i64 = 256;

/// Mismatching cases named in the report (the count says how many in all).
const SHOWN: usize = 10;

/// Why the move could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A command-line argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// The SQLite source cannot be read (missing, not mailcase's, another schema version).
    #[error("--from {path}: {error}")]
    Source { path: String, error: StoreError },
    /// The PostgreSQL target cannot be opened (unreachable, login refused, newer schema).
    #[error("--to {target}: {error}")]
    Target { target: String, error: StoreError },
    /// The two schemas are not twins, or the target holds data that is not from the source.
    #[error("refused: {0}")]
    Refused(String),
    /// A source value does not fit its PostgreSQL column.
    #[error("{0}")]
    Value(String),
    /// A database error while copying or verifying (nothing was committed).
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Parses `--from`: `sqlite:PATH`.
///
/// # Errors
/// [`MigrateError::Usage`] naming the expected form.
pub fn parse_from(arg: &str) -> Result<PathBuf, MigrateError> {
    match arg.strip_prefix("sqlite:") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(MigrateError::Usage(format!(
            "--from {arg:?}: sqlite:PATH expected (the SQLite database file, e.g. sqlite:/var/lib/mailcase/mailcase.db)"
        ))),
    }
}

/// Parses `--to`: `postgres:URL` (`postgres:postgres://USER@HOST:PORT/DATABASE`; a bare
/// `postgres://…` or `postgresql://…` URL is taken as well).
///
/// # Errors
/// [`MigrateError::Usage`] naming the expected form.
pub fn parse_to(arg: &str) -> Result<String, MigrateError> {
    if arg.starts_with("postgres://") || arg.starts_with("postgresql://") {
        return Ok(arg.to_string());
    }
    match arg.strip_prefix("postgres:") {
        Some(u) if !u.is_empty() => Ok(u.to_string()),
        // Not echoed: a URL may hold a password.
        _ => Err(MigrateError::Usage(
            "--to: postgres:URL expected (postgres:postgres://USER@HOST:PORT/DATABASE; the password from --password-file, --password-env or --password-credential)".into(),
        )),
    }
}

/// One table's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub name: String,
    /// Rows in the SQLite snapshot.
    pub source_rows: u64,
    /// Rows in PostgreSQL after the copy (inside its transaction).
    pub target_rows: u64,
    /// Rows this run inserted.
    pub copied: u64,
    /// Whether the table's checksum matched.
    pub matches: bool,
}

/// What the move did and what the verification found.
#[derive(Debug, Clone)]
pub struct Report {
    /// In copy order.
    pub tables: Vec<TableReport>,
    /// Cases checksummed (on either side).
    pub cases_checked: u64,
    /// Cases whose checksums differ or that only one side has: `reference (id N)`, all of them.
    pub case_mismatches: Vec<String>,
    /// Whether the copy was committed (false: a mismatch rolled it back).
    pub committed: bool,
    pub elapsed: Duration,
}

impl Report {
    /// Whether both sides hold the same rows.
    pub fn verified(&self) -> bool {
        self.case_mismatches.is_empty() && self.tables.iter().all(|t| t.matches)
    }

    /// Rows inserted by this run.
    pub fn copied(&self) -> u64 {
        self.tables.iter().map(|t| t.copied).sum()
    }

    /// Writes the summary table.
    ///
    /// # Errors
    /// I/O errors of `out`.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "{:<20} {:>12} {:>12} {:>12}  checksum",
            "table", "source rows", "target rows", "copied now"
        )?;
        for t in &self.tables {
            writeln!(
                out,
                "{:<20} {:>12} {:>12} {:>12}  {}",
                t.name,
                t.source_rows,
                t.target_rows,
                t.copied,
                if t.matches { "ok" } else { "MISMATCH" }
            )?;
        }
        let secs = self.elapsed.as_secs_f64();
        writeln!(
            out,
            "rows {} now: {} in {:.1}s ({:.0} rows/s, copy and verification)",
            if self.committed {
                "copied"
            } else {
                "inserted, then rolled back,"
            },
            self.copied(),
            secs,
            if secs > 0.0 {
                self.copied() as f64 / secs
            } else {
                0.0
            }
        )?;
        writeln!(
            out,
            "cases checksummed: {}, mismatches: {}",
            self.cases_checked,
            self.case_mismatches.len()
        )?;
        if !self.case_mismatches.is_empty() {
            let mut shown = self
                .case_mismatches
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            if self.case_mismatches.len() > SHOWN {
                shown.push_str(&format!(" and {} more", self.case_mismatches.len() - SHOWN));
            }
            writeln!(out, "cases that differ: {shown}")?;
        }
        let bad: Vec<&str> = self
            .tables
            .iter()
            .filter(|t| !t.matches)
            .map(|t| t.name.as_str())
            .collect();
        if self.verified() {
            writeln!(
                out,
                "verified: PostgreSQL holds exactly the rows of the SQLite database; committed"
            )?;
        } else {
            writeln!(
                out,
                "VERIFICATION FAILED: tables that differ: {}; the target held rows that are not \
                 the source's (or held them with other content). The copy was rolled back: \
                 nothing was written to PostgreSQL.",
                if bad.is_empty() {
                    "none".to_string()
                } else {
                    bad.join(", ")
                }
            )?;
        }
        Ok(())
    }
}

/// Copies the SQLite database at `from` into the PostgreSQL database `target` and verifies
/// the copy (see the module's documentation). `progress` gets a line per step.
///
/// # Errors
/// [`MigrateError`] naming what is wrong; on any error nothing is committed to PostgreSQL.
/// A verification that finds differences is not an error: see [`Report::verified`].
pub fn migrate(
    from: &Path,
    target: Arc<Target>,
    progress: &mut dyn Write,
) -> Result<Report, MigrateError> {
    let started = Instant::now();
    let source_err = |error| MigrateError::Source {
        path: from.display().to_string(),
        error,
    };
    // The checks of the read-only open: missing file, not mailcase's, schema version.
    let source = SqliteStore::open_read_only(from).map_err(source_err)?;
    // A daemon still writing would leave its last cases behind: refused while one runs.
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let running: Vec<String> = crate::store::DaemonReads::daemons(&source.read())
        .map_err(source_err)?
        .into_iter()
        .filter(|d| {
            d.stopped_at.is_none()
                && now - d.heartbeat_at < crate::store::daemons::heartbeat_stale_after()
        })
        .map(|d| d.holder)
        .collect();
    if !running.is_empty() {
        return Err(MigrateError::Refused(format!(
            "a daemon runs on {} ({}, heartbeat in the last {} s): stop it first (systemctl stop mailcase), then run migrate again",
            from.display(),
            running.join(", "),
            crate::store::daemons::heartbeat_stale_after().num_seconds()
        )));
    }
    drop(source);
    let conn = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| source_err(StoreError::Sql(e)))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| source_err(StoreError::Sql(e)))?;
    // One read transaction: every table from the same snapshot.
    conn.execute_batch("BEGIN")
        .map_err(|e| source_err(StoreError::Sql(e)))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| source_err(StoreError::Sql(e)))?;
    let known = crate::store::pg::MIGRATIONS.len() as i64;
    if version != known {
        return Err(source_err(if version > known {
            StoreError::TooNew {
                found: version,
                known,
            }
        } else {
            StoreError::TooOld {
                found: version,
                known,
            }
        }));
    }

    let shown = target.to_string();
    let store = PgStore::open(target).map_err(|error| MigrateError::Target {
        target: shown.clone(),
        error,
    })?;
    let db = store.db();
    let mut tables = twin_tables(&conn, db)?;
    let order = copy_order(db, &mut tables)?;
    let _ = writeln!(
        progress,
        "copying {} tables from {} to {shown} (the daemon must be stopped during the move)",
        order.len(),
        from.display()
    );

    let mut outcome: Option<Report> = None;
    let run = db.transaction(|| {
        refuse_foreign_cases(&conn, db)?;
        let mut copied = HashMap::new();
        for name in &order {
            let t = &tables[name];
            let n = copy_table(&conn, db, t)?;
            let _ = writeln!(
                progress,
                "  {name}: {n} row{} copied",
                if n == 1 { "" } else { "s" }
            );
            copied.insert(name.clone(), n);
        }
        reset_sequences(db, &tables)?;
        let mut report = verify(&conn, db, &tables, &order, &copied)?;
        report.elapsed = started.elapsed();
        let ok = report.verified();
        report.committed = ok;
        outcome = Some(report);
        if ok {
            Ok(())
        } else {
            // Rolled back: the caller reports the mismatches.
            Err(MigrateError::Refused("verification failed".into()).into_store())
        }
    });
    match (run, outcome) {
        (Ok(()), Some(mut r)) => {
            r.elapsed = started.elapsed();
            Ok(r)
        }
        (Err(_), Some(r)) if !r.committed => Ok(r),
        (Err(e), _) => Err(MigrateError::from_store(e)),
        (Ok(()), None) => Err(MigrateError::Value("the copy produced no report".into())),
    }
}

impl MigrateError {
    /// Carried through the transaction's [`StoreError`] (and back by [`Self::from_store`]).
    fn into_store(self) -> StoreError {
        match self {
            MigrateError::Store(e) => e,
            other => StoreError::Data(format!("{MIGRATE_MARK}{other}")),
        }
    }

    fn from_store(e: StoreError) -> MigrateError {
        match e {
            StoreError::Data(s) if s.starts_with(MIGRATE_MARK) => {
                let s = s[MIGRATE_MARK.len()..].to_string();
                match s.strip_prefix("refused: ") {
                    Some(r) => MigrateError::Refused(r.to_string()),
                    None => MigrateError::Value(s),
                }
            }
            other => MigrateError::Store(other),
        }
    }
}

/// Marks a [`MigrateError`] carried inside a [`StoreError::Data`].
const MIGRATE_MARK: &str = "\u{1}migrate:";

/// The type of a PostgreSQL column, as the SQLite declared type maps to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Real,
    Text,
    Bytes,
}

impl Kind {
    fn of_sqlite(declared: &str) -> Option<Kind> {
        match declared.to_ascii_uppercase().as_str() {
            "INTEGER" => Some(Kind::Int),
            "REAL" => Some(Kind::Real),
            "TEXT" => Some(Kind::Text),
            "BLOB" => Some(Kind::Bytes),
            _ => None,
        }
    }

    fn of_pg(data_type: &str) -> Option<Kind> {
        match data_type {
            "bigint" => Some(Kind::Int),
            "double precision" => Some(Kind::Real),
            "text" => Some(Kind::Text),
            "bytea" => Some(Kind::Bytes),
            _ => None,
        }
    }

    fn pg_name(self) -> &'static str {
        match self {
            Kind::Int => "bigint",
            Kind::Real => "double precision",
            Kind::Text => "text",
            Kind::Bytes => "bytea",
        }
    }
}

/// A table both databases have.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    /// Columns (SQLite's order) and their kind.
    cols: Vec<(String, Kind)>,
    /// Indexes into `cols` of the primary key, in key order.
    pk: Vec<usize>,
    /// Indexes into `cols` of the columns referencing this same table.
    self_refs: Vec<usize>,
    /// Columns with an identity sequence in PostgreSQL.
    identity: Vec<String>,
    /// Index of the column naming the case of a row: `id` of `cases`, `case_id` elsewhere.
    case_col: Option<usize>,
}

impl Table {
    fn col_list(&self) -> String {
        self.cols
            .iter()
            .map(|(c, _)| quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn pk_list(&self) -> String {
        self.pk
            .iter()
            .map(|&i| quote(&self.cols[i].0))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A quoted identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn sqlite_err(e: rusqlite::Error) -> MigrateError {
    MigrateError::Store(StoreError::Sql(e))
}

/// The tables of the source with their twins' shape; refuses when they are not twins.
fn twin_tables(conn: &Connection, db: &Db) -> Result<BTreeMap<String, Table>, MigrateError> {
    let mut st = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .map_err(sqlite_err)?;
    let names: Vec<String> = st
        .query_map([], |r| r.get(0))
        .map_err(sqlite_err)?
        .collect::<Result<_, _>>()
        .map_err(sqlite_err)?;
    let pg_tables: BTreeSet<String> = db
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
        )?
        .iter()
        .map(|r| r.get::<_, String>(0))
        .filter(|n| n != VERSION_TABLE)
        .collect();
    let mut problems = Vec::new();
    let mut tables = BTreeMap::new();
    for name in &names {
        if !pg_tables.contains(name) {
            problems.push(format!("table {name} has no twin in PostgreSQL"));
            continue;
        }
        let mut info = conn
            .prepare(&format!("PRAGMA table_info({})", quote(name)))
            .map_err(sqlite_err)?;
        // (name, declared type, pk position)
        let sqlite_cols: Vec<(String, String, i64)> = info
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?)))
            .map_err(sqlite_err)?
            .collect::<Result<_, _>>()
            .map_err(sqlite_err)?;
        let pg_cols: HashMap<String, (String, bool)> = db
            .query(
                "SELECT column_name::text, data_type::text, is_identity::text = 'YES'
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[name],
            )?
            .iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();
        let mut cols = Vec::new();
        let mut identity = Vec::new();
        let mut pk: Vec<(i64, usize)> = Vec::new();
        for (i, (col, declared, pkpos)) in sqlite_cols.iter().enumerate() {
            let Some(kind) = Kind::of_sqlite(declared) else {
                problems.push(format!(
                    "{name}.{col} has the SQLite type {declared:?}, which has no PostgreSQL twin"
                ));
                continue;
            };
            match pg_cols.get(col) {
                None => problems.push(format!("{name}.{col} is not in PostgreSQL")),
                Some((pg_type, ident)) => {
                    if Kind::of_pg(pg_type) != Some(kind) {
                        problems.push(format!(
                            "{name}.{col} is {declared} in SQLite but {pg_type} in PostgreSQL ({} expected)",
                            kind.pg_name()
                        ));
                    }
                    if *ident {
                        identity.push(col.clone());
                    }
                }
            }
            if *pkpos > 0 {
                pk.push((*pkpos, i));
            }
            cols.push((col.clone(), kind));
        }
        for col in pg_cols.keys() {
            if !sqlite_cols.iter().any(|(c, _, _)| c == col) {
                problems.push(format!("{name}.{col} is in PostgreSQL but not in SQLite"));
            }
        }
        if pk.is_empty() {
            problems.push(format!(
                "table {name} has no primary key: its rows cannot be matched"
            ));
        }
        pk.sort();
        let case_col = cols.iter().position(|(c, _)| {
            if name == "cases" {
                c == "id"
            } else {
                c == "case_id"
            }
        });
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                cols,
                pk: pk.into_iter().map(|(_, i)| i).collect(),
                self_refs: Vec::new(),
                identity,
                case_col,
            },
        );
    }
    for extra in pg_tables.iter().filter(|t| !names.contains(t)) {
        problems.push(format!(
            "table {extra} is in PostgreSQL but not in the SQLite database"
        ));
    }
    if !problems.is_empty() {
        return Err(MigrateError::Refused(format!(
            "the two schemas differ although both are at the same version: {}",
            problems.join("; ")
        )));
    }
    Ok(tables)
}

/// The tables in an order where every table comes after those it references (from
/// PostgreSQL's foreign keys); references of a table to itself are noted in `self_refs`.
fn copy_order(db: &Db, tables: &mut BTreeMap<String, Table>) -> Result<Vec<String>, MigrateError> {
    let rows = db.query(
        "SELECT cl.relname::text, rf.relname::text, a.attname::text
         FROM pg_constraint c
         JOIN pg_class cl ON cl.oid = c.conrelid
         JOIN pg_class rf ON rf.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = c.connamespace
         JOIN LATERAL unnest(c.conkey) AS k(attnum) ON true
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
         WHERE c.contype = 'f' AND n.nspname = current_schema()",
        &[],
    )?;
    let mut deps: BTreeMap<String, BTreeSet<String>> = tables
        .keys()
        .map(|t| (t.clone(), BTreeSet::new()))
        .collect();
    for r in &rows {
        let (t, referenced, col): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        if t == referenced {
            if let Some(table) = tables.get_mut(&t) {
                if let Some(i) = table.cols.iter().position(|(c, _)| *c == col) {
                    table.self_refs.push(i);
                }
            }
        } else if let Some(d) = deps.get_mut(&t) {
            d.insert(referenced);
        }
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < deps.len() {
        let next = deps
            .iter()
            .find(|(t, d)| !done.contains(*t) && d.iter().all(|x| done.contains(x)))
            .map(|(t, _)| t.clone());
        match next {
            Some(t) => {
                done.insert(t.clone());
                order.push(t);
            }
            None => {
                let left: Vec<&String> = deps.keys().filter(|t| !done.contains(*t)).collect();
                return Err(MigrateError::Refused(format!(
                    "the foreign keys between {left:?} form a cycle: no order to copy them in"
                )));
            }
        }
    }
    Ok(order)
}

/// Refuses a target holding cases the source does not have.
fn refuse_foreign_cases(conn: &Connection, db: &Db) -> Result<(), StoreError> {
    let mut st = conn.prepare("SELECT id FROM cases")?;
    let ours: BTreeSet<i64> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let theirs = db.query("SELECT id, reference FROM cases ORDER BY id", &[])?;
    let foreign: Vec<String> = theirs
        .iter()
        .filter(|r| !ours.contains(&r.get::<_, i64>(0)))
        .map(|r| format!("{} (id {})", r.get::<_, String>(1), r.get::<_, i64>(0)))
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let mut list = foreign
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if foreign.len() > SHOWN {
        list.push_str(&format!(" and {} more", foreign.len() - SHOWN));
    }
    Err(MigrateError::Refused(format!(
        "the PostgreSQL database holds {} case(s) that are not in the SQLite database ({list}) \
         of its {} case(s); migrate copies into an empty database, or into one an earlier run \
         filled from this same source. Nothing was written.",
        foreign.len(),
        theirs.len()
    ))
    .into_store())
}

/// A value as PostgreSQL stores it, and as it is checksummed on both sides.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Val {
    /// The canonical encoding: a type tag, then the value (big-endian integers and float
    /// bits; text and bytes after their length).
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Val::Null => out.push(b'N'),
            Val::Int(i) => {
                out.push(b'I');
                out.extend_from_slice(&i.to_be_bytes());
            }
            Val::Real(f) => {
                out.push(b'R');
                out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            Val::Text(s) => {
                out.push(b'T');
                out.extend_from_slice(&(s.len() as u64).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Val::Bytes(b) => {
                out.push(b'B');
                out.extend_from_slice(&(b.len() as u64).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }

    /// Roughly how many bytes it sends.
    fn size(&self) -> usize {
        match self {
            Val::Null => 1,
            Val::Int(_) | Val::Real(_) => 8,
            Val::Text(s) => s.len(),
            Val::Bytes(b) => b.len(),
        }
    }

    /// A source value converted to its PostgreSQL column's kind; `at` names the place.
    fn from_sqlite(v: ValueRef<'_>, kind: Kind, at: &dyn Fn() -> String) -> Result<Val, String> {
        let text = |b: &[u8]| -> Result<String, String> {
            let s =
                std::str::from_utf8(b).map_err(|_| format!("{}: text that is not UTF-8", at()))?;
            if s.contains('\0') {
                return Err(format!(
                    "{}: text holding a NUL character, which PostgreSQL text cannot store",
                    at()
                ));
            }
            Ok(s.to_string())
        };
        Ok(match (v, kind) {
            (ValueRef::Null, _) => Val::Null,
            (ValueRef::Integer(i), Kind::Int) => Val::Int(i),
            (ValueRef::Real(f), Kind::Real) => Val::Real(f),
            (ValueRef::Integer(i), Kind::Real) => Val::Real(i as f64),
            (ValueRef::Text(b), Kind::Text) => Val::Text(text(b)?),
            (ValueRef::Blob(b), Kind::Bytes) | (ValueRef::Text(b), Kind::Bytes) => {
                Val::Bytes(b.to_vec())
            }
            (other, kind) => {
                return Err(format!(
                    "{}: a {} value in a column that is {} in PostgreSQL",
                    at(),
                    match other.data_type() {
                        rusqlite::types::Type::Null => "NULL",
                        rusqlite::types::Type::Integer => "INTEGER",
                        rusqlite::types::Type::Real => "REAL",
                        rusqlite::types::Type::Text => "TEXT",
                        rusqlite::types::Type::Blob => "BLOB",
                    },
                    kind.pg_name()
                ))
            }
        })
    }

    fn from_pg(r: &tokio_postgres::Row, i: usize, kind: Kind) -> Result<Val, StoreError> {
        use crate::store::pg::values::get;
        Ok(match kind {
            Kind::Int => get::<Option<i64>>(r, i)?.map_or(Val::Null, Val::Int),
            Kind::Real => get::<Option<f64>>(r, i)?.map_or(Val::Null, Val::Real),
            Kind::Text => get::<Option<String>>(r, i)?.map_or(Val::Null, Val::Text),
            Kind::Bytes => get::<Option<Vec<u8>>>(r, i)?.map_or(Val::Null, Val::Bytes),
        })
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Val {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(i) => i.to_sql(ty, out),
            Val::Real(f) => f.to_sql(ty, out),
            Val::Text(s) => s.as_str().to_sql(ty, out),
            Val::Bytes(b) => b.as_slice().to_sql(ty, out),
        }
    }
    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::FLOAT8, Type::TEXT, Type::BYTEA].contains(ty)
    }
    to_sql_checked!();
}

/// One source row converted, in the table's column order.
fn source_row(t: &Table, r: &rusqlite::Row<'_>) -> Result<Vec<Val>, StoreError> {
    let mut vals = Vec::with_capacity(t.cols.len());
    for (i, (col, kind)) in t.cols.iter().enumerate() {
        let v = r.get_ref(i)?;
        let at = || {
            let key: Vec<String> =
                t.pk.iter()
                    .map(|&k| match r.get_ref(k) {
                        Ok(ValueRef::Integer(n)) => n.to_string(),
                        Ok(ValueRef::Text(s)) => format!("{:?}", String::from_utf8_lossy(s)),
                        _ => "?".into(),
                    })
                    .collect();
            format!(
                "{}.{col} of the row {}={}",
                t.name,
                t.pk_list(),
                key.join(",")
            )
        };
        vals.push(
            Val::from_sqlite(v, *kind, &at).map_err(|e| MigrateError::Value(e).into_store())?,
        );
    }
    Ok(vals)
}

/// Copies one table; returns the rows inserted.
fn copy_table(conn: &Connection, db: &Db, t: &Table) -> Result<u64, StoreError> {
    let self_refs = &t.self_refs;
    let per_batch = BATCH_ROWS.min(60_000 / t.cols.len().max(1)).max(1);
    let mut st = conn.prepare(&format!(
        "SELECT {} FROM {} ORDER BY rowid",
        t.col_list(),
        quote(&t.name)
    ))?;
    let mut rows = st.query([])?;
    let mut batch: Vec<Vec<Val>> = Vec::with_capacity(per_batch);
    // Self-references to set once the table is in: primary key → values.
    let mut later: HashMap<Vec<u8>, (Vec<Val>, Vec<Val>)> = HashMap::new();
    let mut inserted_keys: Vec<Vec<u8>> = Vec::new();
    let mut copied = 0u64;
    let mut bytes = 0usize;
    while let Some(r) = rows.next()? {
        let mut vals = source_row(t, r)?;
        bytes += vals.iter().map(Val::size).sum::<usize>();
        if self_refs.iter().any(|&i| vals[i] != Val::Null) {
            let key: Vec<Val> = t.pk.iter().map(|&i| vals[i].clone()).collect();
            let refs: Vec<Val> = self_refs.iter().map(|&i| vals[i].clone()).collect();
            later.insert(encode_all(&key), (key, refs));
            for &i in self_refs {
                vals[i] = Val::Null;
            }
        }
        batch.push(vals);
        if batch.len() == per_batch || bytes >= BATCH_BYTES {
            copied += insert(db, t, &batch, !later.is_empty(), &mut inserted_keys)?;
            batch.clear();
            bytes = 0;
        }
    }
    if !batch.is_empty() {
        copied += insert(db, t, &batch, !later.is_empty(), &mut inserted_keys)?;
    }
    if !later.is_empty() {
        // Only on rows this run inserted: a row the target already held is left as it is
        // (and compared by the verification).
        let set = self_refs
            .iter()
            .enumerate()
            .map(|(n, &i)| format!("{} = ${}", quote(&t.cols[i].0), n + 1))
            .collect::<Vec<_>>()
            .join(", ");
        let cond =
            t.pk.iter()
                .enumerate()
                .map(|(n, &i)| format!("{} = ${}", quote(&t.cols[i].0), self_refs.len() + n + 1))
                .collect::<Vec<_>>()
                .join(" AND ");
        let sql = format!("UPDATE {} SET {set} WHERE {cond}", quote(&t.name));
        for k in inserted_keys {
            if let Some((key, refs)) = later.get(&k) {
                let params: Vec<&(dyn ToSql + Sync)> = refs
                    .iter()
                    .chain(key.iter())
                    .map(|v| v as &(dyn ToSql + Sync))
                    .collect();
                db.execute(&sql, &params)?;
            }
        }
    }
    Ok(copied)
}

fn encode_all(vals: &[Val]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals {
        v.encode(&mut out);
    }
    out
}

/// Inserts `rows`, skipping those the target already has; returns how many went in. With
/// `keys`, the primary keys of the inserted rows are added to `inserted`.
fn insert(
    db: &Db,
    t: &Table,
    rows: &[Vec<Val>],
    keys: bool,
    inserted: &mut Vec<Vec<u8>>,
) -> Result<u64, StoreError> {
    let n = t.cols.len();
    let values = (0..rows.len())
        .map(|r| {
            let ps = (0..n)
                .map(|c| format!("${}::{}", r * n + c + 1, t.cols[c].1.pg_name()))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({ps})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES {values} ON CONFLICT DO NOTHING",
        quote(&t.name),
        t.col_list()
    );
    let params: Vec<&(dyn ToSql + Sync)> = rows
        .iter()
        .flatten()
        .map(|v| v as &(dyn ToSql + Sync))
        .collect();
    if keys {
        sql.push_str(&format!(" RETURNING {}", t.pk_list()));
        let back = db.query(&sql, &params)?;
        for r in &back {
            let key =
                t.pk.iter()
                    .enumerate()
                    .map(|(n, &i)| Val::from_pg(r, n, t.cols[i].1))
                    .collect::<Result<Vec<_>, _>>()?;
            inserted.push(encode_all(&key));
        }
        Ok(back.len() as u64)
    } else {
        db.execute(&sql, &params)
    }
}

/// Sets every identity sequence past the highest id, so new rows do not collide.
fn reset_sequences(db: &Db, tables: &BTreeMap<String, Table>) -> Result<(), StoreError> {
    for t in tables.values() {
        for col in &t.identity {
            db.query(
                &format!(
                    "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({c}), 1), MAX({c}) IS NOT NULL) FROM {t}",
                    c = quote(col),
                    t = quote(&t.name)
                ),
                &[&quote(&t.name), &col],
            )?;
        }
    }
    Ok(())
}

/// Checksums of one side.
#[derive(Default)]
struct Sums {
    tables: BTreeMap<String, (u64, [u8; 32])>,
    cases: BTreeMap<i64, Sha256>,
    references: BTreeMap<i64, String>,
}

impl Sums {
    fn row(&mut self, t: &Table, vals: &[Val], table: &mut Sha256, buf: &mut Vec<u8>) {
        buf.clear();
        buf.push(b'W');
        Val::Text(t.name.clone()).encode(buf);
        buf.extend_from_slice(&(vals.len() as u32).to_be_bytes());
        for v in vals {
            v.encode(buf);
        }
        table.update(&buf[..]);
        if let Some(Val::Int(case)) = t.case_col.map(|i| &vals[i]) {
            self.cases.entry(*case).or_default().update(&buf[..]);
            if t.name == "cases" {
                if let Some(Val::Text(r)) = t
                    .cols
                    .iter()
                    .position(|(c, _)| c == "reference")
                    .map(|i| &vals[i])
                {
                    self.references.insert(*case, r.clone());
                }
            }
        }
    }
}

/// Reads both sides in primary-key order and compares them.
fn verify(
    conn: &Connection,
    db: &Db,
    tables: &BTreeMap<String, Table>,
    order: &[String],
    copied: &HashMap<String, u64>,
) -> Result<Report, StoreError> {
    let mut src = Sums::default();
    let mut dst = Sums::default();
    let mut buf = Vec::new();
    // Tables in name order on both sides: each case's rows reach its hasher in one order.
    for t in tables.values() {
        let pk_order =
            t.pk.iter()
                .map(|&i| quote(&t.cols[i].0))
                .collect::<Vec<_>>()
                .join(", ");
        // The source.
        let mut h = Sha256::new();
        let mut n = 0u64;
        let mut st = conn.prepare(&format!(
            "SELECT {} FROM {} ORDER BY {pk_order}",
            t.col_list(),
            quote(&t.name)
        ))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let vals = source_row(t, r)?;
            src.row(t, &vals, &mut h, &mut buf);
            n += 1;
        }
        src.tables.insert(t.name.clone(), (n, h.finalize().into()));
        // The target, a page at a time.
        let mut h = Sha256::new();
        let mut n = 0u64;
        let mut last: Option<Vec<Val>> = None;
        loop {
            let page = match &last {
                None => db.query(
                    &format!(
                        "SELECT {} FROM {} ORDER BY {pk_order} LIMIT {PAGE_ROWS}",
                        t.col_list(),
                        quote(&t.name)
                    ),
                    &[],
                )?,
                Some(key) => {
                    let ps = (0..key.len())
                        .map(|k| format!("${}::{}", k + 1, t.cols[t.pk[k]].1.pg_name()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let params: Vec<&(dyn ToSql + Sync)> =
                        key.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                    db.query(
                        &format!(
                            "SELECT {} FROM {} WHERE ({pk_order}) > ({ps}) ORDER BY {pk_order} LIMIT {PAGE_ROWS}",
                            t.col_list(),
                            quote(&t.name)
                        ),
                        &params,
                    )?
                }
            };
            for r in &page {
                let vals = t
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| Val::from_pg(r, i, *kind))
                    .collect::<Result<Vec<_>, _>>()?;
                dst.row(t, &vals, &mut h, &mut buf);
                n += 1;
                last = Some(t.pk.iter().map(|&i| vals[i].clone()).collect());
            }
            if (page.len() as i64) < PAGE_ROWS {
                break;
            }
        }
        dst.tables.insert(t.name.clone(), (n, h.finalize().into()));
    }
    let tables_report = order
        .iter()
        .map(|name| {
            let (sn, sh) = src.tables[name];
            let (dn, dh) = dst.tables[name];
            TableReport {
                name: name.clone(),
                source_rows: sn,
                target_rows: dn,
                copied: copied.get(name).copied().unwrap_or(0),
                matches: sn == dn && sh == dh,
            }
        })
        .collect();
    let src_cases: BTreeMap<i64, [u8; 32]> = src
        .cases
        .into_iter()
        .map(|(k, h)| (k, h.finalize().into()))
        .collect();
    let dst_cases: BTreeMap<i64, [u8; 32]> = dst
        .cases
        .into_iter()
        .map(|(k, h)| (k, h.finalize().into()))
        .collect();
    let ids: BTreeSet<i64> = src_cases.keys().chain(dst_cases.keys()).copied().collect();
    let case_mismatches = ids
        .iter()
        .filter(|id| src_cases.get(id) != dst_cases.get(id))
        .map(|id| {
            let reference = src
                .references
                .get(id)
                .or_else(|| dst.references.get(id))
                .map_or("(no case row)", String::as_str);
            format!("{reference} (id {id})")
        })
        .collect();
    Ok(Report {
        tables: tables_report,
        cases_checked: ids.len() as u64,
        case_mismatches,
        committed: false,
        elapsed: Duration::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::pipeline::{process_batch, Engine, Inbound, Outcome};
    use crate::store::pg::testing;
    use crate::store::Store;

    /// A SQLite database filled by the real pipeline: `n` customer messages opening cases,
    /// a reply on every third, an attachment on every fifth, and the first case merged into
    /// the last (a reference forward in `cases`).
    pub(crate) fn source(dir: &Path, n: usize) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let db = dir.join("source.db");
        let text = include_str!("../../tests/fixtures/config/base.toml")
            .replace(
                "path = \"mailcase.db\"",
                &format!("path = {:?}", db.display().to_string()),
            )
            .replace(
                "dir = \"../../../templates\"",
                &format!("dir = {:?}", root.join("templates").display().to_string()),
            )
            .replace(
                "token_secret_file = \"tests/fixtures/config/test-token.key\"",
                &format!(
                    "token_secret_file = {:?}",
                    root.join("tests/fixtures/config/test-token.key")
                        .display()
                        .to_string()
                ),
            );
        let cfg = Arc::new(Config::from_toml(&text, dir).unwrap());
        let engine = Engine::new(cfg, Arc::new(crate::clock::SystemClock)).unwrap();
        let mut store = Store::open(&db).unwrap();
        let mail = |i: usize| {
            let attachment = if i.is_multiple_of(5) {
                format!(
                    "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n\
                     Content-Type: text/plain; charset=utf-8\r\n\r\nSee the photo, caf\u{e9} {i}.\r\n\
                     --b{i}\r\nContent-Type: application/octet-stream\r\n\
                     Content-Disposition: attachment; filename=\"p{i}.bin\"\r\n\
                     Content-Transfer-Encoding: base64\r\n\r\nAAECA/+A/w==\r\n--b{i}--\r\n"
                )
            } else {
                format!("Content-Type: text/plain; charset=utf-8\r\n\r\nMy order {i} never arrived.\r\n")
            };
            Inbound {
                source: None,
                raw: format!(
                    "From: Customer {i} <c{i}@customer{i}.test>\r\nTo: support@support.test\r\n\
                     Subject: Order {i} missing\r\nMessage-ID: <m{i}@customer.test>\r\n\
                     Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n{attachment}"
                )
                .into_bytes(),
            }
        };
        let mut references = Vec::new();
        for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
            let items: Vec<Inbound> = chunk.iter().map(|&i| mail(i)).collect();
            for o in process_batch(&mut store, &engine, &items).unwrap() {
                match o {
                    Outcome::NewCase { reference, .. } => references.push(reference),
                    other => panic!("expected a new case, got {other:?}"),
                }
            }
        }
        let replies: Vec<Inbound> = references
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 == 0)
            .map(|(i, r)| Inbound {
                source: None,
                raw: format!(
                    "From: Customer {i} <c{i}@customer{i}.test>\r\nTo: support@support.test\r\n\
                     Subject: Re: [{r}] Order {i} missing\r\nMessage-ID: <r{i}@customer.test>\r\n\
                     In-Reply-To: <m{i}@customer.test>\r\n\
                     Date: Mon, 23 Nov 2026 11:00:00 +0000\r\n\r\nStill nothing.\r\n"
                )
                .into_bytes(),
            })
            .collect();
        for chunk in replies.chunks(200) {
            process_batch(&mut store, &engine, chunk).unwrap();
        }
        let first = store
            .read()
            .case_by_reference(&references[0])
            .unwrap()
            .unwrap();
        let last = store
            .read()
            .case_by_reference(references.last().unwrap())
            .unwrap()
            .unwrap();
        store
            .write(|tx| tx.merge_case(first.id, last.id, true, engine.clock.now()))
            .unwrap();
        db
    }

    fn target() -> Option<testing::TestDb> {
        let db = testing::create();
        if db.is_none() {
            eprintln!("SKIPPED: MAILCASE_TEST_PG_URL is not set (tests/pgserver/up.sh)");
        }
        db
    }

    fn run(from: &Path, to: &testing::TestDb) -> Result<Report, MigrateError> {
        migrate(from, to.target(), &mut std::io::sink())
    }

    fn pg(to: &testing::TestDb) -> PgStore {
        PgStore::open(to.target()).unwrap()
    }

    fn count(to: &testing::TestDb, table: &str) -> i64 {
        pg(to)
            .db()
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    }

    #[test]
    fn a_copy_verifies_and_a_second_run_copies_nothing_and_still_verifies() {
        let Some(to) = target() else { return };
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path(), 30);
        let r = run(&from, &to).unwrap();
        let mut text = Vec::new();
        r.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(r.verified() && r.committed, "{text}");
        assert_eq!(r.cases_checked, 30, "{text}");
        for t in &r.tables {
            assert_eq!(t.source_rows, t.target_rows, "{text}");
            assert_eq!(t.copied, t.source_rows, "{text}");
        }
        let rows = |name: &str| {
            r.tables
                .iter()
                .find(|t| t.name == name)
                .unwrap()
                .source_rows
        };
        assert_eq!(rows("cases"), 30);
        assert_eq!(rows("messages"), 40);
        assert!(rows("audit") > 30 && rows("outbox") >= 30, "{text}");
        assert!(
            text.contains("cases checksummed: 30, mismatches: 0"),
            "{text}"
        );
        // The forward self-reference of the merged case made it.
        let merged: i64 = pg(&to)
            .db()
            .query_one(
                "SELECT count(*) FROM cases WHERE merged_into IS NOT NULL",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(merged, 1);
        // The identity sequences are past the copied ids.
        let next: i64 = pg(&to)
            .db()
            .query_one(
                "SELECT nextval(pg_get_serial_sequence('cases', 'id')) - (SELECT max(id) FROM cases)",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(next, 1);

        let again = run(&from, &to).unwrap();
        assert!(again.verified() && again.committed);
        assert_eq!(again.copied(), 0);
        assert_eq!(again.cases_checked, 30);
        assert_eq!(count(&to, "messages"), 40);
    }

    #[test]
    fn a_value_changed_in_postgresql_is_reported_on_its_case_and_nothing_is_committed() {
        let Some(to) = target() else { return };
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path(), 12);
        run(&from, &to).unwrap();
        let s = pg(&to);
        let row = s
            .db()
            .query_one(
                "SELECT id, reference FROM cases ORDER BY id OFFSET 4 LIMIT 1",
                &[],
            )
            .unwrap();
        let (id, reference): (i64, String) = (row.get(0), row.get(1));
        s.db()
            .execute(
                "UPDATE cases SET subject = 'tampered' WHERE id = $1",
                &[&id],
            )
            .unwrap();
        // And a message missing in PostgreSQL: the re-run copies it, then rolls back.
        s.db()
            .execute(
                "DELETE FROM messages WHERE id = (SELECT max(id) FROM messages)",
                &[],
            )
            .unwrap();
        let before = count(&to, "messages");
        let r = run(&from, &to).unwrap();
        let mut text = Vec::new();
        r.print(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(!r.verified() && !r.committed, "{text}");
        assert_eq!(
            r.case_mismatches,
            vec![format!("{reference} (id {id})")],
            "{text}"
        );
        assert!(text.contains("cases that differ: "), "{text}");
        assert!(text.contains("tables that differ: cases;"), "{text}");
        assert!(text.contains("rolled back"), "{text}");
        assert_eq!(count(&to, "messages"), before, "rolled back");
    }

    #[test]
    fn a_source_a_daemon_still_runs_on_is_refused() {
        let Some(to) = target() else { return };
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path(), 2);
        let now = crate::clock::Clock::now(&crate::clock::SystemClock);
        let mut s = crate::store::Store::open(&from).unwrap();
        s.record_daemon(
            &crate::store::DaemonRecord {
                holder: "pid 4000000 on somewhere".into(),
                version: "test".into(),
                started_at: now,
                heartbeat_at: now,
                stopped_at: None,
                last_imap_round_at: None,
                last_smtp_send_at: None,
                inbox_backlog: None,
                inbox_backlog_at: None,
                last_error: None,
                last_error_at: None,
            },
            chrono::Duration::days(1),
        )
        .unwrap();
        drop(s);
        let e = run(&from, &to).unwrap_err();
        assert!(matches!(e, MigrateError::Refused(_)), "{e:?}");
        assert!(e.to_string().contains("a daemon runs on"), "{e}");
        assert!(e.to_string().contains("pid 4000000 on somewhere"), "{e}");
    }

    #[test]
    fn a_target_holding_a_case_the_source_lacks_is_refused_before_anything_is_copied() {
        let Some(to) = target() else { return };
        let dir = tempfile::tempdir().unwrap();
        let from = source(dir.path(), 3);
        let s = pg(&to);
        s.db()
            .execute(
                "INSERT INTO cases (id, reference, status, category, priority, subject,
                   customer_address, created_at, updated_at)
                 VALUES (777, 'CMP-FOREIGN-1', 'new', 'general', 'normal', 's', 'x@y.test',
                   '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                &[],
            )
            .unwrap();
        let e = run(&from, &to).unwrap_err();
        assert!(matches!(e, MigrateError::Refused(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains(
                "holds 1 case(s) that are not in the SQLite database (CMP-FOREIGN-1 (id 777))"
            ),
            "{text}"
        );
        assert_eq!(count(&to, "cases"), 1);
        assert_eq!(count(&to, "messages"), 0);
    }

    #[test]
    fn arguments_a_missing_file_and_an_unreachable_server_are_named() {
        assert!(parse_from("/x.db")
            .unwrap_err()
            .to_string()
            .contains("sqlite:PATH expected"));
        assert_eq!(parse_from("sqlite:/x.db").unwrap(), PathBuf::from("/x.db"));
        assert_eq!(
            parse_to("postgres:postgres://u@h/db").unwrap(),
            "postgres://u@h/db"
        );
        assert!(parse_to("mysql://u@h/db")
            .unwrap_err()
            .to_string()
            .contains("postgres:URL expected"));
        let nowhere = Target::new("postgres://u@127.0.0.1:1/db", None, None)
            .unwrap()
            .shared();
        let dir = tempfile::tempdir().unwrap();
        let e = migrate(
            &dir.path().join("none.db"),
            nowhere.clone(),
            &mut std::io::sink(),
        )
        .unwrap_err();
        assert!(matches!(e, MigrateError::Source { .. }), "{e}");
        assert!(e.to_string().contains("none.db"), "{e}");
        let from = dir.path().join("s.db");
        drop(Store::open(&from).unwrap());
        let e = migrate(&from, nowhere, &mut std::io::sink()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--to postgres://u@127.0.0.1:1/db: "),
            "{e}"
        );
    }
}
