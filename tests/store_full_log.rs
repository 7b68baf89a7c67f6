//! A full disk under the running daemon: every loop that retries against the store says so
//! once ("store full: ...") and once when it works again ("store writable again"), instead of
//! a line per attempt (the checkpointer alone wrote 4 a second). The disk is a real, small
//! tmpfs filled to the last byte, as an admin would meet it; making room is deleting a file.

mod common;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use common::*;

/// A small tmpfs of its own, unmounted (after the daemon is stopped) when dropped.
struct SmallDisk {
    dir: PathBuf,
    child: Option<Child>,
}

impl SmallDisk {
    fn mount(dir: PathBuf, size: &str) -> SmallDisk {
        std::fs::create_dir_all(&dir).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "mount a tmpfs (tests run as root)");
        SmallDisk { dir, child: None }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Writes zeros into `path` until the disk refuses another byte.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
    }
    let _ = f.sync_all();
}

/// Lines of `log` containing `what`, counted by their `task` field.
fn by_task(log: &str, what: &str) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for l in log.lines().filter(|l| l.contains(what)) {
        let task = l
            .split("task=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .unwrap_or("?")
            .to_string();
        *m.entry(task).or_default() += 1;
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_logged_once_per_task_and_so_is_the_room_made_again() {
    if sqlite_only("store.max_size and a full disk under the database file") {
        return;
    }
    let w = World::new("fulllog", "");
    let mut disk = SmallDisk::mount(w.dir.path().join("disk"), "3m");
    let db = disk.dir.join("mailcase.db");
    let base = std::fs::read_to_string(&w.config_path).unwrap();
    let cfg = base.replace(
        "[store]\npath = \"mailcase.db\"",
        &format!("[store]\npath = \"{}\"", db.display()),
    );
    assert_ne!(cfg, base, "the store section was found");
    std::fs::write(&w.config_path, cfg).unwrap();
    // A backlog in the WAL that the checkpointer has to copy into the database file (as a
    // daemon killed mid-ingest leaves it), held open so that closing does not checkpoint it.
    drop(mailcase::store::Store::open(&db).unwrap());
    let backlog = rusqlite::Connection::open(&db).unwrap();
    backlog
        .execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE test_backlog (b BLOB);
             INSERT INTO test_backlog VALUES (zeroblob(400000));",
        )
        .unwrap();
    // The disk full before the daemon starts: each of its writes and checkpoints fails.
    fill(&disk.dir.join("ballast"));
    let log = w.dir.path().join("daemon.log");
    disk.child = Some(
        w.daemon_command("info")
            .env("NO_COLOR", "1")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("a full store logged", Duration::from_secs(60), || async {
        let t = read_log();
        (t.contains("store full:") || t.contains("is full")).then_some(())
    })
    .await;
    let mut customers = Vec::new();
    for i in 0..2 {
        let c = w.customer(&format!("d{i}"));
        let raw = format!(
            "From: Customer {i} <{c}>\r\nTo: {}\r\nSubject: full disk {i}\r\nMessage-ID: <d{i}.{}@customer.test>\r\n\r\nThe invoice is wrong.\r\n",
            w.support, w.tag,
        );
        w.append(raw.as_bytes()).await;
        customers.push(c);
    }
    // Several seconds of a full disk: the checkpointer alone tries ~30 times meanwhile.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = read_log();
    drop(backlog);
    let full = by_task(&during, "store full:");
    assert!(
        full.contains_key("checkpointer"),
        "the checkpointer says the store is full:\n{during}"
    );
    assert!(
        full.values().all(|&n| n == 1),
        "each task says it once: {full:?}\n{during}"
    );
    assert_eq!(
        during.matches("checkpoint failed").count(),
        0,
        "no line per attempt:\n{during}"
    );
    assert!(
        read_raw(&w.support, "INBOX", &w.env).await.len() == customers.len(),
        "the complaints wait in the INBOX"
    );
    // Room again: the admin deletes a file.
    std::fs::remove_file(disk.dir.join("ballast")).unwrap();
    wait_for(
        "every complaint has a case and every failing task recovered",
        Duration::from_secs(120),
        || async {
            let t = read_log();
            let back = by_task(&t, "store writable again");
            let cases = mailcase::store::Store::open_read_only(&db)
                .ok()
                .and_then(|s| s.read().counts().ok())
                .map_or(0, |c| c.cases);
            (cases == customers.len() as i64 && full.keys().all(|k| back.contains_key(k)))
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = read_log();
    let back = by_task(&after, "store writable again");
    assert_eq!(
        by_task(&after, "store full:"),
        full,
        "no new full lines:\n{after}"
    );
    assert!(
        back.values().all(|&n| n == 1),
        "each task says once that it works again: {back:?}\n{after}"
    );
    let lines = |t: &str| t.lines().filter(|l| l.contains("full")).count();
    println!(
        "FULL DISK log lines mentioning full during ~8 s: {}; store full: {full:?}; writable again: {back:?}",
        lines(&during)
    );
}
