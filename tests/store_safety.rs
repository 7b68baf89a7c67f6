//! What is at the database path before mailcase writes: only a missing file becomes a new
//! database; an empty file, a foreign file or another program's SQLite database is refused
//! with the path and what to do, and left byte for byte as it was. What mailcase creates is
//! its owner's only (0600). `check` says all of this before the daemon is started, and an
//! unreadable templates folder is named with its OS error. These are tests of the SQLite
//! engine itself, so they may look at its files directly (the WAL checkpointer's work, too).

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use common::*;
use mailcase::store::{Store, StoreError};

fn refused(path: &Path) -> String {
    match Store::open(path) {
        Err(e @ StoreError::Refused { .. }) => e.to_string(),
        Err(e) => panic!("refused with another error: {e}"),
        Ok(_) => panic!("{} was opened as a database", path.display()),
    }
}

fn assert_refused_untouched(path: &Path, what: &str) {
    let before = std::fs::read(path).unwrap();
    let msg = refused(path);
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains(what), "{msg}");
    assert!(
        msg.contains("store.path") || msg.contains("delete"),
        "says what to do: {msg}"
    );
    assert_eq!(
        std::fs::read(path).unwrap(),
        before,
        "the file is byte-identical"
    );
    // Read-only opens (the CLI, `check`) refuse it the same way.
    let ro = Store::open_read_only(path)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(ro.contains(what), "{ro}");
    assert_eq!(std::fs::read(path).unwrap(), before);
}

#[test]
fn an_empty_database_file_is_refused_and_left_as_it_is() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("mailcase.db");
    std::fs::write(&db, b"").unwrap();
    assert_refused_untouched(&db, "empty (0 bytes)");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_as_it_is() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("mailcase.db");
    std::fs::write(&db, "[store]\npath = \"mailcase.db\"\n".repeat(300)).unwrap();
    assert_refused_untouched(&db, "not a SQLite database");
}

#[test]
fn another_programs_sqlite_database_is_refused_and_left_as_it_is() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    for mode in ["DELETE", "WAL"] {
        let db = d.path().join(format!("other-{mode}.db"));
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(&format!(
            "PRAGMA journal_mode = {mode};
             CREATE TABLE invoices (id INTEGER PRIMARY KEY, total TEXT);
             INSERT INTO invoices (total) VALUES ('12.50');"
        ))
        .unwrap();
        drop(c);
        assert_refused_untouched(&db, "not mailcase's");
        let msg = refused(&db);
        assert!(msg.contains("invoices"), "names its tables: {msg}");
    }
}

#[test]
fn a_new_database_and_its_wal_and_shm_are_readable_by_the_owner_only() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("state/mailcase.db");
    let s = Store::open(&db).unwrap();
    assert!(s.schema_version().unwrap() > 0);
    s.read().counts().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for suffix in ["", "-wal", "-shm"] {
        let p = Path::new(&format!("{}{suffix}", db.display())).to_path_buf();
        assert_eq!(mode(&p), 0o600, "{} is 0600", p.display());
    }
    let names: Vec<String> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("mailcase.db")),
        "no temporary file left: {names:?}"
    );
    drop(s);
    // Opened again, it is the same database.
    assert!(Store::open(&db).unwrap().schema_version().unwrap() > 0);
}

fn check_offline(w: &World) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(["check", "--offline"])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn set_store_path(w: &World, path: &Path) {
    let base = std::fs::read_to_string(&w.config_path).unwrap();
    let cfg = base.replace(
        "[store]\npath = \"mailcase.db\"",
        &format!("[store]\npath = \"{}\"", path.display()),
    );
    assert_ne!(cfg, base, "the store section was found");
    std::fs::write(&w.config_path, cfg).unwrap();
}

#[test]
fn check_fails_when_the_database_folder_cannot_be_created() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let w = World::new("checkdir", "");
    // A file where the folder should be: no user, root included, can create it.
    let blocker = w.dir.path().join("state");
    std::fs::write(&blocker, "not a folder").unwrap();
    let db = blocker.join("db/mailcase.db");
    set_store_path(&w, &db);
    let (ok, text) = check_offline(&w);
    assert!(!ok, "check fails: {text}");
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("cannot be created"), "{text}");
    assert!(text.contains("is not a folder"), "{text}");
    assert_eq!(std::fs::read(&blocker).unwrap(), b"not a folder");
}

#[test]
fn check_says_where_a_missing_database_will_be_created() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let w = World::new("checknew", "");
    let db = w.dir.path().join("state/mailcase.db");
    set_store_path(&w, &db);
    let (ok, text) = check_offline(&w);
    assert!(ok, "{text}");
    assert!(text.contains("will be created at first run"), "{text}");
    assert!(!db.exists(), "check creates nothing");
}

#[test]
fn check_reports_an_empty_database_file_instead_of_calling_it_an_upgrade() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let w = World::new("checkempty", "");
    let db = w.db_path();
    std::fs::write(&db, b"").unwrap();
    let (ok, text) = check_offline(&w);
    assert!(!ok, "check fails: {text}");
    assert!(!text.contains("upgraded"), "{text}");
    assert!(
        text.contains(&db.display().to_string()) && text.contains("empty (0 bytes)"),
        "{text}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), b"");
}

#[test]
fn an_unreadable_templates_folder_is_named_with_the_os_error() {
    let d = tempfile::tempdir().unwrap();
    // Root reads any folder whatever its mode; a file where the folder should be gives the
    // same kind of failure (an I/O error other than "not found") on every machine.
    let not_a_dir = d.path().join("templates");
    std::fs::write(&not_a_dir, "").unwrap();
    let e = mailcase::mail::load_templates(&not_a_dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&not_a_dir.display().to_string()), "{e}");
    assert!(e.contains("Not a directory"), "{e}");
    assert!(!e.contains("missing template"), "{e}");
    // A template file that cannot be read (a symlink loop) is not "missing" either.
    let dir = d.path().join("t2");
    std::fs::create_dir(&dir).unwrap();
    let ack = dir.join("acknowledgment.txt.tera");
    std::os::unix::fs::symlink(&ack, &ack).unwrap();
    let e = mailcase::mail::load_templates(&dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&ack.display().to_string()), "{e}");
    assert!(e.contains("symbolic links"), "{e}");
}

/// The daemon's commits leave WAL checkpoints to a connection of its own: what they wrote
/// still reaches the database file itself, soon after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_cases_reach_the_database_file_through_the_checkpointer() {
    if sqlite_only("the database file (store.path)") {
        return;
    }
    let w = World::new("checkpoint", "");
    let d = w.start();
    let alice = w.customer("alice");
    w.send_complaint(&alice, "Alice", "Broken lid", "The lid broke.")
        .await;
    w.wait_for_acks(&alice).await;
    // The main file alone (immutable: the WAL is not read).
    let uri = format!("file:{}?immutable=1", w.db_path().display());
    let cases_in_main_file = || {
        let c = rusqlite::Connection::open_with_flags(
            &uri,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        c.query_row("SELECT COUNT(*) FROM cases", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0)
    };
    wait_for(
        "the case in the database file",
        std::time::Duration::from_secs(60),
        || async { (cases_in_main_file() == 1).then_some(()) },
    )
    .await;
    d.stop().await;
}
