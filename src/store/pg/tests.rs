//! Tests of the PostgreSQL engine itself, on the server `MAILCASE_TEST_PG_URL` names (see
//! `testing`); each is skipped, saying so, when it is not set.

use super::*;

/// A fresh, migrated store, or None (printed) when the suite does not run on PostgreSQL.
pub(crate) fn fresh() -> Option<PgStore> {
    match testing::create() {
        Some(db) => Some(db.open().expect("open the test database")),
        None => {
            eprintln!("SKIPPED: MAILCASE_TEST_PG_URL is not set (tests/pgserver/up.sh)");
            None
        }
    }
}

#[test]
fn a_new_database_gets_the_whole_schema_and_a_reopen_changes_nothing() {
    let Some(db) = testing::create() else {
        return;
    };
    let s = db.open().unwrap();
    assert_eq!(s.version().unwrap(), MIGRATIONS.len() as i64);
    drop(s);
    let again = PgStore::open_read_only(db.target()).unwrap();
    assert_eq!(again.version().unwrap(), MIGRATIONS.len() as i64);
}

#[test]
fn a_schema_newer_than_the_program_is_refused_and_left_alone() {
    let Some(db) = testing::create() else {
        return;
    };
    let s = db.open().unwrap();
    s.db.batch("UPDATE mailcase_schema SET version = 99")
        .unwrap();
    drop(s);
    match PgStore::open(db.target()) {
        Err(StoreError::TooNew { found: 99, known }) => {
            assert_eq!(known, MIGRATIONS.len() as i64)
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let s = PgStore::open_read_only(db.target()).err().unwrap();
    assert!(matches!(s, StoreError::TooNew { found: 99, .. }), "{s}");
}

#[test]
fn another_programs_database_is_refused_naming_its_tables() {
    let Some(db) = testing::create() else {
        return;
    };
    let c = db.target().connect().unwrap();
    wait(c.batch_execute("CREATE TABLE invoices (id int)")).unwrap();
    let e = PgStore::open(db.target()).err().unwrap();
    assert!(e.to_string().contains("its tables: invoices"), "{e}");
}

/// One table as both engines describe it: its columns (name, type, whether NULL is
/// allowed, outside the primary key) and its own indexes (name, unique, columns).
#[derive(Debug, PartialEq, Eq)]
struct TableShape {
    columns: Vec<(String, String, bool)>,
    indexes: Vec<(String, bool, Vec<String>)>,
}

fn sqlite_schema() -> std::collections::BTreeMap<String, TableShape> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.db");
    drop(crate::store::sqlite::SqliteStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    for t in tables {
        let mut columns: Vec<(String, String, bool)> = c
            .prepare(&format!("PRAGMA table_info({t})"))
            .unwrap()
            .query_map([], |r| {
                let ty: String = r.get(2)?;
                let notnull: i64 = r.get(3)?;
                let pk: i64 = r.get(5)?;
                let ty = match ty.as_str() {
                    "INTEGER" => "bigint",
                    "TEXT" => "text",
                    "BLOB" => "bytea",
                    "REAL" => "double precision",
                    other => panic!("{t}: an SQLite type without a PostgreSQL twin: {other}"),
                };
                Ok((r.get(1)?, ty.to_string(), notnull == 0 && pk == 0))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        columns.sort();
        // Indexes created by the migrations (origin 'c'), not those behind constraints.
        let names: Vec<(String, bool)> = c
            .prepare(&format!("PRAGMA index_list({t})"))
            .unwrap()
            .query_map([], |r| {
                let origin: String = r.get(3)?;
                Ok((r.get::<_, String>(1)?, r.get::<_, i64>(2)? == 1, origin))
            })
            .unwrap()
            .filter_map(|r| {
                let (n, u, o) = r.unwrap();
                (o == "c").then_some((n, u))
            })
            .collect();
        let mut indexes = Vec::new();
        for (name, unique) in names {
            let cols: Vec<String> = c
                .prepare(&format!("PRAGMA index_info({name})"))
                .unwrap()
                .query_map([], |r| r.get(2))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            indexes.push((name, unique, cols));
        }
        indexes.sort();
        out.insert(t, TableShape { columns, indexes });
    }
    out
}

fn pg_schema(s: &PgStore) -> std::collections::BTreeMap<String, TableShape> {
    let db = s.db();
    let mut out = std::collections::BTreeMap::new();
    let tables = db
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_name <> $1",
            &[&VERSION_TABLE],
        )
        .unwrap();
    for t in tables.iter().map(|r| r.get::<_, String>(0)) {
        let pk: Vec<String> = db
            .query(
                "SELECT a.attname::text FROM pg_index i
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = $1::text::regclass AND i.indisprimary",
                &[&t],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut columns: Vec<(String, String, bool)> = db
            .query(
                "SELECT column_name::text, data_type::text, is_nullable = 'YES'
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1",
                &[&t],
            )
            .unwrap()
            .iter()
            .map(|r| {
                let name: String = r.get(0);
                let nullable = r.get::<_, bool>(2) && !pk.contains(&name);
                (name, r.get(1), nullable)
            })
            .collect();
        columns.sort();
        // Indexes not behind a constraint (primary key, UNIQUE): those the migrations create.
        let mut indexes: Vec<(String, bool, Vec<String>)> = db
            .query(
                "SELECT c.relname::text, i.indisunique,
                        ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o)
                              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                              ORDER BY k.o)
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = $1::text::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
                &[&t],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        indexes.sort();
        out.insert(t, TableShape { columns, indexes });
    }
    out
}

/// The two engines' migrations are kept in step: the same tables, the same columns of
/// twin types with the same NULL rules, and the same indexes on the same columns.
#[test]
fn the_sqlite_and_postgresql_schemas_agree_table_for_table() {
    let Some(pg) = fresh() else {
        return;
    };
    assert_eq!(
        MIGRATIONS.len(),
        crate::store::sqlite::MIGRATION_COUNT,
        "one PostgreSQL migration per SQLite migration"
    );
    let sqlite = sqlite_schema();
    let postgres = pg_schema(&pg);
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (t, shape) in &sqlite {
        assert_eq!(Some(shape), postgres.get(t), "table {t}");
    }
    assert!(sqlite.len() >= 15, "{sqlite:?}");
}
