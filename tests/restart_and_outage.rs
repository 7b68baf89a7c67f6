//! Crash safety on the real servers: kill -9 mid-batch and restart; SMTP down and back.
//! In their own test binary because the outage test stops Postfix for everyone.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_daemon_mid_batch_loses_nothing_and_doubles_no_case() {
    let w = World::new("restart", "");
    // batch_size 50 (integration config): 150 messages are three batches at least.
    let n = 150;
    let mut customers = Vec::new();
    for i in 0..n {
        let c = w.customer(&format!("k{i}"));
        let raw = format!(
            "From: Customer {i} <{c}>\r\nTo: {}\r\nSubject: complaint {i}\r\nMessage-ID: <k{i}.{}@customer.test>\r\n\r\nThing {i} is broken.\r\n",
            w.support, w.tag
        );
        w.append(raw.as_bytes()).await;
        customers.push(c);
    }
    let mut kills = 0;
    for _ in 0..2 {
        let mut child = w.spawn_binary();
        // Kill as soon as some cases are committed, before the inbox is drained.
        wait_for("first cases committed", Duration::from_secs(60), || async {
            let c = std::fs::metadata(w.db_path())
                .ok()
                .and_then(|_| mailcase::store::Store::open_read_only(&w.db_path()).ok())
                .and_then(|s| s.read().counts().ok())
                .map(|c| c.cases)
                .unwrap_or(0);
            (c > 0).then_some(())
        })
        .await;
        child.kill().expect("kill -9");
        child.wait().unwrap();
        kills += 1;
    }
    let mut child = w.spawn_binary();
    wait_for(
        "every complaint has a case and the inbox is empty",
        Duration::from_secs(120),
        || async {
            let c = w.store().read().counts().unwrap();
            let inbox = read_raw(&w.support, "INBOX", &w.env).await.len();
            (c.cases == n as i64 && inbox == 0 && c.outbox_pending == 0).then_some(())
        },
    )
    .await;
    // Every customer has at least one acknowledgment; count duplicates.
    let mut dupes = 0;
    for c in &customers {
        let got = wait_for("ack", Duration::from_secs(60), || async {
            let a = read_raw(c, "INBOX", &w.env).await.len();
            (a > 0).then_some(a)
        })
        .await;
        dupes += got - 1;
    }
    child.kill().unwrap();
    child.wait().unwrap();
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
    println!("restart test: {n} complaints, {kills} kills, {dupes} duplicate acknowledgments");
    assert!(
        dupes <= kills * 2,
        "at most one duplicate per connection per kill, got {dupes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgments_queued_while_smtp_is_down_arrive_when_it_is_back() {
    let w = World::new("outage", "");
    let ctl = repo().join("tests/mailserver/ctl.sh");
    let stop = std::process::Command::new(&ctl)
        .args(["stop", "postfix"])
        .status()
        .unwrap();
    assert!(stop.success());
    let d = w.start();
    let gina = w.customer("gina");
    // Postfix is down, so the complaint goes straight into the mailbox.
    w.append(
        format!("From: Gina <{gina}>\r\nTo: {}\r\nSubject: while you were down\r\nMessage-ID: <g.{}@customer.test>\r\n\r\nHello?\r\n", w.support, w.tag)
            .as_bytes(),
    )
    .await;
    wait_for(
        "a failed send attempt recorded",
        Duration::from_secs(60),
        || async {
            let o = w.store().read().outbox(None).unwrap();
            o.iter()
                .any(|r| r.status == "pending" && r.attempts >= 1 && r.last_error.is_some())
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let start = std::process::Command::new(&ctl)
        .args(["start", "postfix"])
        .status()
        .unwrap();
    assert!(start.success());
    let acks = wait_for(
        "the ack after Postfix is back",
        Duration::from_secs(90),
        || async {
            let a = read_raw(&gina, "INBOX", &w.env).await;
            (!a.is_empty()).then_some(a)
        },
    )
    .await;
    d.stop().await;
    assert_eq!(acks.len(), 1);
    let o = w.store().read().outbox(None).unwrap();
    assert_eq!(o[0].status, "sent");
    assert!(o[0].attempts >= 2, "it was retried: {:?}", o[0]);
}
