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
