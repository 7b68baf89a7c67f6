//! Two daemons on one PostgreSQL database, 2000 complaints: one daemon after another is
//! killed with SIGKILL mid-batch (the other takes the mailbox over), then PostgreSQL itself
//! is restarted mid-batch. Nothing is lost, no case is doubled, both daemons send, and the
//! duplicate acknowledgments stay within what a crash may cost (one per SMTP connection of a
//! daemon that died or lost its database between a send and its record).
//!
//! PostgreSQL only: skipped, saying so, when the suite runs on SQLite (one daemon per file).

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use rand::Rng;

/// `tests/pgserver/ctl.sh ACTION` on the suite's server (`PGENV_DIR`, exported by tests/all.sh).
fn pg_ctl(action: &str) {
    let st = Command::new(repo().join("tests/pgserver/ctl.sh"))
        .arg(action)
        // A loaded two-core machine: recovery may take a while, and it must finish here,
        // not fail the tests after this one.
        .env("PGENV_WAIT_TIMEOUT", "300")
        .status()
        .unwrap();
    assert!(st.success(), "tests/pgserver/ctl.sh {action}");
}

/// The holder of this world's mailbox lease, if any (`pid N on HOST`).
fn mailbox_holder(w: &World) -> Option<String> {
    let now = mailcase::clock::Clock::now(&mailcase::clock::SystemClock);
    let s = mailcase::store::Store::open_read_only_configured(&w.config()).ok()?;
    let leases = s.read().leases().ok()?;
    leases
        .into_iter()
        .find(|l| l.name.ends_with("/INBOX") && l.expires_at > now)
        .map(|l| l.holder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_survive_kills_and_a_database_restart_losing_and_doubling_nothing() {
    if !mailcase::store::pg::testing::enabled() {
        eprintln!("SKIPPED: two daemons on one database need PostgreSQL (MAILCASE_TEST_PG_URL)");
        return;
    }
    let w = World::new("failover", "");
    // One SMTP connection each: a daemon that dies holds at most one sent-but-unrecorded
    // message, so a kill costs at most one duplicate acknowledgment.
    let cfg = std::fs::read_to_string(&w.config_path)
        .unwrap()
        .replace("connections = 2", "connections = 1");
    std::fs::write(&w.config_path, cfg).unwrap();
    let n = 2000;
    let started = Instant::now();
    let customers = w.append_complaints("f", n).await;
    println!(
        "FAILOVER appended {n} complaints in {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let mut daemons = [w.spawn_binary(), w.spawn_binary()];
    let mut rng = rand::thread_rng();
    let mut kills = 0;
    let mut last = 0;
    let mut takeovers = 0;
    // Kill the daemon holding the mailbox, mid-batch, four times; restart it each time.
    for _ in 0..4 {
        let seen = wait_for(
            "progress since the last kill",
            Duration::from_secs(120),
            || async {
                let c = w.cases_now();
                (c > last + 50).then_some(c)
            },
        )
        .await;
        if seen as usize >= n - 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..400))).await;
        let holder = mailbox_holder(&w);
        let victim = daemons
            .iter()
            .position(|d| {
                holder
                    .as_deref()
                    .is_some_and(|h| h.starts_with(&format!("pid {} on ", d.id())))
            })
            .unwrap_or(kills % 2);
        let killed_pid = daemons[victim].id();
        daemons[victim].kill().expect("kill -9");
        daemons[victim].wait().unwrap();
        kills += 1;
        let at_kill = w.cases_now();
        // The other daemon takes the mailbox over (before the killed one is restarted).
        let other = daemons[1 - victim].id();
        wait_for(
            "the other daemon takes the mailbox over",
            Duration::from_secs(90),
            || async {
                mailbox_holder(&w)
                    .filter(|h| h.starts_with(&format!("pid {other} on ")))
                    .map(|_| ())
            },
        )
        .await;
        takeovers += 1;
        println!("FAILOVER kill {kills}: pid {killed_pid} at {at_kill} cases; pid {other} holds the mailbox");
        daemons[victim] = w.spawn_binary();
        last = w.cases_now();
    }
    // PostgreSQL restarted mid-batch: both daemons lose their connections.
    let before_restart = w.cases_now();
    let restarted = if (before_restart as usize) < n {
        pg_ctl("restart");
        println!("FAILOVER PostgreSQL restarted at {before_restart} cases");
        true
    } else {
        false
    };
    // Everything arrives: one case per complaint, each message stored once, the inbox empty.
    wait_for(
        "every complaint has a case and the inbox is empty",
        Duration::from_secs(600),
        || async {
            let c = mailcase::store::Store::open_read_only_configured(&w.config())
                .ok()?
                .read()
                .counts()
                .ok()?;
            let inbox = read_raw(&w.support, "INBOX", &w.env).await.len();
            (c.cases == n as i64 && inbox == 0 && c.outbox_pending == 0).then_some(())
        },
    )
    .await;
    let elapsed = started.elapsed();
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
    // Both daemons sent acknowledgments (the outbox is shared by row claims).
    let senders = s
        .read()
        .daemons()
        .unwrap()
        .into_iter()
        .filter(|d| d.last_smtp_send_at.is_some())
        .count();
    assert!(senders >= 2, "more than one daemon sent: {senders}");
    let mut dupes = 0;
    for c in &customers {
        // wait_for fails the test if a customer has none.
        let got = wait_for("an acknowledgment", Duration::from_secs(120), || async {
            let a = read_raw(c, "INBOX", &w.env).await.len();
            (a > 0).then_some(a)
        })
        .await;
        dupes += got - 1;
    }
    for d in &mut daemons {
        d.kill().unwrap();
        d.wait().unwrap();
    }
    println!(
        "FAILOVER two daemons, {n} complaints, {kills} kills ({takeovers} takeovers), PostgreSQL restarted: {restarted}; \
         lost 0, doubled cases 0, {dupes} duplicate acknowledgments, {senders} daemons sent; all handled in {:.1} s",
        elapsed.as_secs_f64()
    );
    // One per kill, and one per daemon (one connection each) for the restart.
    let allowed = kills + if restarted { 2 } else { 0 };
    assert!(
        dupes <= allowed,
        "{dupes} duplicate acknowledgments for {kills} kills and a restart (at most {allowed})"
    );
}
