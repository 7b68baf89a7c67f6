//! `mailcase migrate` end to end: the built binary moves a SQLite database that the real
//! pipeline filled into a fresh PostgreSQL database (`MAILCASE_TEST_PG_URL`, see
//! tests/pgserver), verifies it, copies nothing on a second run, and exits 1 naming the case
//! when PostgreSQL holds a value the source does not. Skipped when no server is configured.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use mailcase::config::Config;
use mailcase::pipeline::{process_batch, Engine, Inbound, Outcome};
use mailcase::store::pg::testing;
use mailcase::store::Store;

/// A SQLite database with `n` cases the pipeline opened, and a reply on every other one.
fn source(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let db = dir.join("mailcase.db");
    let text = std::fs::read_to_string(root.join("tests/fixtures/config/base.toml"))
        .unwrap()
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
    let engine = Engine::new(cfg, Arc::new(mailcase::clock::SystemClock)).unwrap();
    let mut store = Store::open(&db).unwrap();
    let items: Vec<Inbound> = (0..n)
        .map(|i| Inbound {
            source: None,
            raw: format!(
                "From: Client {i} <client{i}@shop{i}.test>\r\nTo: support@support.test\r\n\
                 Subject: Invoice {i} is wrong\r\nMessage-ID: <inv{i}@shop{i}.test>\r\n\
                 Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nPlease fix invoice {i}.\r\n"
            )
            .into_bytes(),
        })
        .collect();
    let references: Vec<String> = process_batch(&mut store, &engine, &items)
        .unwrap()
        .into_iter()
        .map(|o| match o {
            Outcome::NewCase { reference, .. } => reference,
            other => panic!("expected a new case, got {other:?}"),
        })
        .collect();
    let replies: Vec<Inbound> = references
        .iter()
        .enumerate()
        .step_by(2)
        .map(|(i, r)| Inbound {
            source: None,
            raw: format!(
                "From: Client {i} <client{i}@shop{i}.test>\r\nTo: support@support.test\r\n\
                 Subject: Re: [{r}] Invoice {i} is wrong\r\nMessage-ID: <re{i}@shop{i}.test>\r\n\
                 Date: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\nAny news?\r\n"
            )
            .into_bytes(),
        })
        .collect();
    process_batch(&mut store, &engine, &replies).unwrap();
    (db, references)
}

fn migrate(from: &str, to: &testing::TestDb) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailcase"));
    c.arg("migrate")
        .arg("--from")
        .arg(from)
        .arg("--to")
        .arg(format!("postgres:{}", to.url))
        .env("MAILCASE_CONFIG", "/nonexistent/mailcase.toml");
    if let Some(f) = &to.password_file {
        c.arg("--password-file").arg(f);
    }
    if let Some(f) = &to.ca_file {
        c.arg("--ca-file").arg(f);
    }
    c.output().expect("run mailcase migrate")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn migrate_copies_verifies_reruns_and_fails_on_a_changed_case() {
    let Some(to) = testing::create() else {
        eprintln!("SKIPPED: MAILCASE_TEST_PG_URL is not set (tests/pgserver/up.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (db, references) = source(dir.path(), 20);
    let from = format!("sqlite:{}", db.display());

    let o = migrate(&from, &to);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(err.contains("the daemon must be stopped"), "{err}");
    assert!(
        out.contains("cases checksummed: 20, mismatches: 0"),
        "{out}"
    );
    assert!(
        out.contains("verified: PostgreSQL holds exactly the rows"),
        "{out}"
    );
    let line = |out: &str, table: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(table))
            .unwrap_or_else(|| panic!("no line for {table} in {out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(line(&out, "cases")[1..], ["20", "20", "20", "ok"], "{out}");
    assert_eq!(
        line(&out, "messages")[1..],
        ["30", "30", "30", "ok"],
        "{out}"
    );

    // Again: nothing to copy, still verified.
    let o = migrate(&from, &to);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("rows copied now: 0 "), "{out}");
    assert_eq!(line(&out, "cases")[1..], ["20", "20", "0", "ok"], "{out}");

    // A subject changed in PostgreSQL: exit 1, the case named.
    let client = to.target().connect().unwrap();
    futures::executor::block_on(client.execute(
        "UPDATE cases SET subject = 'changed' WHERE reference = $1",
        &[&references[7]],
    ))
    .unwrap();
    let o = migrate(&from, &to);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        out.contains("cases checksummed: 20, mismatches: 1"),
        "{out}"
    );
    assert!(
        out.contains(&format!("cases that differ: {} (id ", references[7])),
        "{out}"
    );
    assert!(out.contains("VERIFICATION FAILED"), "{out}");

    // Wrong arguments are named.
    let o = migrate(&db.display().to_string(), &to);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("sqlite:PATH expected"), "{err}");
    let o = migrate(
        &format!("sqlite:{}", dir.path().join("gone.db").display()),
        &to,
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("--from ") && err.contains("gone.db"), "{err}");
}
