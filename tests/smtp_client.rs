//! The outbox's own SMTP client (src/outbox/smtp.rs) against the real Postfix: PIPELINING is
//! used, bytes arrive exactly (dot-stuffing, 8-bit text), a refused recipient is permanent and
//! leaves no partial delivery, and the connection carries on after a refusal (RSET).

mod common;

use std::time::Duration;

use common::{read_raw, wait_for, World};
use mailcase::outbox::Connection;

fn message(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@support.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}"
    )
    .into_bytes()
}

async fn wait_count(user: &str, w: &World, n: usize) -> Vec<Vec<u8>> {
    wait_for(
        &format!("{n} message(s) for {user}"),
        Duration::from_secs(30),
        || async {
            let m = read_raw(user, "INBOX", &w.env).await;
            (m.len() >= n).then_some(m)
        },
    )
    .await
}

#[tokio::test]
async fn pipelined_sends_arrive_byte_exact_and_a_refusal_leaves_the_connection_usable() {
    let w = World::new("smtpc", "");
    let cfg = w.config();
    let mut c = Connection::open(&cfg, cfg.smtp())
        .await
        .expect("connect to postfix");
    assert!(
        c.extensions().pipelining,
        "Postfix offers PIPELINING; the client must see it"
    );
    let ann = w.customer("ann");
    let carl = w.customer("carl");

    // Lines starting with dots, a lone dot and 8-bit text survive the trip.
    let body = ".hidden line\r\n..two dots\r\n.\r\nGrüße, 注文\r\nend\r\n";
    c.send(
        &w.support,
        &[&ann],
        &message(&w.support, &ann, "dots", body),
    )
    .await
    .expect("accepted");

    // One refused recipient among two: permanent, and nobody gets a copy.
    let outsider = "someone@elsewhere.example";
    let e = c
        .send(
            &w.support,
            &[&carl, outsider],
            &message(&w.support, &carl, "partial", "must not arrive\r\n"),
        )
        .await
        .expect_err("relay to elsewhere.example is refused");
    assert!(e.is_permanent(), "5xx for a recipient: {e}");
    // A lone refused recipient, with DATA pipelined behind it: also permanent.
    let e = c
        .send(
            &w.support,
            &[outsider],
            &message(&w.support, outsider, "alone", "x\r\n"),
        )
        .await
        .expect_err("refused");
    assert!(e.is_permanent(), "{e}");
    assert!(c.is_usable(), "a refusal is not a broken connection");

    // The same connection goes on: the marker arrives, and it is Carl's only message.
    c.send(
        &w.support,
        &[&carl],
        &message(&w.support, &carl, "marker", "after the refusals\r\n"),
    )
    .await
    .expect("the connection carries on after RSET");
    c.quit().await;

    let got = wait_count(&ann, &w, 1).await;
    let raw = String::from_utf8(got[0].clone()).expect("utf-8 as sent");
    let (_, received_body) = raw.split_once("\r\n\r\n").expect("header/body");
    assert_eq!(received_body, body, "the body arrives byte for byte");

    let carls = wait_count(&carl, &w, 1).await;
    assert_eq!(carls.len(), 1);
    let only = String::from_utf8_lossy(&carls[0]);
    assert!(only.contains("Subject: marker"), "{only}");
    assert!(!only.contains("must not arrive"));
}

#[tokio::test]
async fn a_server_that_is_down_is_a_connect_error_not_a_refusal() {
    let w = World::new("smtpdown", "");
    let mut cfg = w.config();
    // A loopback port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    cfg.smtp_accounts[0].port = l.local_addr().unwrap().port();
    drop(l);
    let e = Connection::open(&cfg, cfg.smtp())
        .await
        .expect_err("nothing listens");
    assert!(!e.is_permanent(), "an outage must be retried: {e}");
    assert!(e.to_string().contains("cannot connect"), "{e}");
}
