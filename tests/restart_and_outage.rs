//! Faults on the real servers: kill -9 at random points while ingesting, Dovecot restarted
//! mid-batch, Postfix down for a minute, the database locked by another process, the database
//! full. Nothing is lost, no case is doubled, and each fault has a logged, recoverable outcome.
//! The tests of this file run one at a time (they stop and restart servers other tests use).

mod common;

use mailcase::case::kinds::OutboundState;
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rand::Rng;

/// One fault at a time: they restart the servers.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn ctl(action: &str, server: &str) {
    let st = Command::new(repo().join("tests/mailserver/ctl.sh"))
        .args([action, server])
        .status()
        .unwrap();
    assert!(st.success(), "ctl.sh {action} {server}");
}

/// Every complaint has exactly one case, none is left in the INBOX, each message is stored
/// once; returns the number of duplicate acknowledgments the customers received.
async fn check_nothing_lost(w: &World, customers: &[String]) -> usize {
    let n = customers.len();
    wait_for(
        "every complaint has a case and the inbox is empty",
        Duration::from_secs(240),
        || async {
            let c = w.store().read().counts().unwrap();
            let inbox = read_raw(&w.support, "INBOX", &w.env).await.len();
            (c.cases == n as i64 && inbox == 0 && c.outbox_pending == 0).then_some(())
        },
    )
    .await;
    let mut dupes = 0;
    for c in customers {
        let got = wait_for("ack", Duration::from_secs(60), || async {
            let a = read_raw(c, "INBOX", &w.env).await.len();
            (a > 0).then_some(a)
        })
        .await;
        dupes += got - 1;
    }
    let s = w.store();
    let cases = s.read().cases().unwrap();
    let mut per_customer: HashMap<&str, usize> = HashMap::new();
    for c in &cases {
        *per_customer.entry(c.customer_address.as_str()).or_default() += 1;
    }
    assert_eq!(cases.len(), n, "one case per complaint");
    assert!(
        per_customer.values().all(|&v| v == 1),
        "no customer has two cases"
    );
    assert_eq!(
        s.read().all_messages().unwrap().len(),
        n,
        "each message stored once"
    );
    assert_eq!(read_raw(&w.support, "Processed", &w.env).await.len(), n);
    dupes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_kills_at_random_points_while_ingesting_500_lose_nothing_and_double_no_case() {
    let _serial = SERIAL.lock().await;
    let w = World::new("restart", "");
    // One SMTP connection: at most one message is in flight when the daemon dies, so at most
    // one duplicate acknowledgment per kill (with `smtp.connections = k`, at most k).
    let cfg = std::fs::read_to_string(&w.config_path)
        .unwrap()
        .replace("connections = 2", "connections = 1");
    std::fs::write(&w.config_path, cfg).unwrap();
    let n = 500;
    let customers = w.append_complaints("k", n).await;
    let mut kills = 0;
    let mut last = 0;
    let mut rng = rand::thread_rng();
    for _ in 0..5 {
        let mut child = w.spawn_binary();
        // Kill at a random point once this run has made progress (mid-batch, mid-send).
        let seen = wait_for(
            "progress since the last kill",
            Duration::from_secs(120),
            || async {
                let c = w.cases_now();
                (c > last).then_some(c)
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..400))).await;
        child.kill().expect("kill -9");
        child.wait().unwrap();
        kills += 1;
        last = w.cases_now().max(seen);
        if last as usize >= n {
            break;
        }
    }
    let mut child = w.spawn_binary();
    let dupes = check_nothing_lost(&w, &customers).await;
    child.kill().unwrap();
    child.wait().unwrap();
    println!(
        "FAULTS kill -9: {n} complaints, {kills} kills, lost 0, doubled cases 0, {dupes} duplicate acknowledgments"
    );
    assert!(
        dupes <= kills,
        "at most one duplicate per kill, got {dupes} for {kills} kills"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_restarted_mid_batch_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let w = World::new("dovecot_restart", "");
    let customers = w.append_complaints("d", 300).await;
    let log = w.dir.path().join("daemon.log");
    let mut child = w.spawn_logged("info", &log);
    wait_for("first cases", Duration::from_secs(60), || async {
        (w.cases_now() > 0).then_some(())
    })
    .await;
    ctl("restart", "dovecot");
    let dupes = check_nothing_lost(&w, &customers).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("reconnect") || text.contains("imap"),
        "the lost connection is logged:\n{text}"
    );
    println!("FAULTS dovecot restart: 300 complaints, lost 0, doubled cases 0, {dupes} duplicate acknowledgments");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_down_for_a_minute_delays_acknowledgments_and_loses_none() {
    let _serial = SERIAL.lock().await;
    let w = World::new("outage", "");
    ctl("stop", "postfix");
    let d = w.start();
    // Postfix is down, so complaints go straight into the mailbox.
    let customers = w.append_complaints("o", 20).await;
    wait_for(
        "failed send attempts recorded",
        Duration::from_secs(60),
        || async {
            let o = w.store().read().outbox(None).unwrap();
            o.iter()
                .any(|r| {
                    r.status == OutboundState::Pending && r.attempts >= 1 && r.last_error.is_some()
                })
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    ctl("start", "postfix");
    let dupes = check_nothing_lost(&w, &customers).await;
    d.stop().await;
    assert_eq!(dupes, 0);
    let o = w.store().read().outbox(None).unwrap();
    assert!(o.iter().all(|r| r.status == OutboundState::Sent), "{o:?}");
    assert!(
        o.iter().all(|r| r.attempts >= 2),
        "they were retried: {o:?}"
    );
    println!("FAULTS postfix down 60 s: 20 complaints, lost 0, every acknowledgment sent after the outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_process_keeps_mail_in_the_inbox_until_released() {
    if sqlite_only("a file lock held by another process") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let w = World::new("locked", "");
    let log = w.dir.path().join("daemon.log");
    let mut child = w.spawn_logged("info", &log);
    // The daemon is up (its database exists) once a first complaint is handled.
    let first = w.append_complaints("l", 1).await;
    wait_for("first case", Duration::from_secs(60), || async {
        (w.cases_now() == 1).then_some(())
    })
    .await;
    // Another process takes an exclusive lock for 25 s (longer than the 10 s busy timeout).
    let db = w.db_path();
    let mut locker = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(25); c.execute('ROLLBACK')",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    locker
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    let mut customers = first.clone();
    customers.extend(w.append_complaints("m", 3).await);
    // While locked: the mail stays in the INBOX and the error is logged.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(read_raw(&w.support, "INBOX", &w.env).await.len(), 3);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("locked") || text.contains("busy"),
        "the lock is logged:\n{text}"
    );
    // Released: everything is taken in, once.
    locker.wait().unwrap();
    check_nothing_lost(&w, &customers).await;
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_keeps_mail_in_the_inbox_until_there_is_room() {
    if sqlite_only("store.max_size") {
        return;
    }
    let _serial = SERIAL.lock().await;
    let w = World::new("full", "");
    let base = std::fs::read_to_string(&w.config_path).unwrap();
    let tight = base.replace(
        "[store]\npath = \"mailcase.db\"",
        "[store]\npath = \"mailcase.db\"\nmax_size = \"400KB\"",
    );
    assert_ne!(tight, base, "the store section was found");
    std::fs::write(&w.config_path, &tight).unwrap();
    let log = w.dir.path().join("daemon.log");
    let mut child = w.spawn_logged("info", &log);
    // Complaints of ~100 KB each (under the 256 KB message limit): the database fills up.
    let mut customers = Vec::new();
    for i in 0..8 {
        let c = w.customer(&format!("f{i}"));
        let body = format!(
            "Log excerpt {i}:\r\n{}\r\n",
            "0123456789abcdef".repeat(6000)
        );
        let raw = format!(
            "From: Customer {i} <{c}>\r\nTo: {}\r\nSubject: big complaint {i}\r\nMessage-ID: <f{i}.{}@customer.test>\r\n\r\n{body}",
            w.support, w.tag
        );
        w.append(raw.as_bytes()).await;
        customers.push(c);
    }
    wait_for(
        "the disk-full error logged",
        Duration::from_secs(60),
        || async {
            let t = std::fs::read_to_string(&log).unwrap();
            (t.contains("full") || t.contains("SQLITE_FULL")).then_some(())
        },
    )
    .await;
    let stuck = read_raw(&w.support, "INBOX", &w.env).await.len();
    assert!(stuck > 0, "mail that does not fit stays in the INBOX");
    // Room again (the admin raised the quota): restart, and everything is taken in once.
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(&w.config_path, &base).unwrap();
    let mut child = w.spawn_logged("info", &w.dir.path().join("daemon2.log"));
    check_nothing_lost(&w, &customers).await;
    child.kill().unwrap();
    child.wait().unwrap();
    println!("FAULTS database full: {stuck} of 8 complaints waited in the INBOX, all taken in after the quota was raised");
}
