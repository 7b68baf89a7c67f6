//! A Reply-To that mail-parser 0.11 split wrongly, sent through the real Postfix and Dovecot:
//! the case and its acknowledgment go to the address the customer wrote
//! (once the case was opened for `@customer.test` and its acknowledgment suppressed).
//!
//! Postfix rewrites address headers from local clients and drops quotes a local part does
//! not need (`"john.doe"@x` arrives as `john.doe@x`), but keeps a fold or a comment before
//! the `@` as written: that is the form that reaches the daemon here.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_folded_before_its_at_sign_gets_the_acknowledgment_at_that_address() {
    let w = World::new("reply_to", "");
    let d = w.start();
    let work = w.customer("work");
    let home = w.customer("home");
    let (local, _) = home.split_once('@').expect("an address");
    let raw = format!(
        "From: \"Doe,\r\n John\" <{work}>\r\nReply-To:\r\n {local}\r\n @customer.test (Doe,\r\n John)\r\nTo: Support <{}>\r\nSubject: Please answer to my home address\r\nMessage-ID: <{}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nMy order never arrived.\r\n",
        w.support,
        unique("rt")
    );
    w.send_raw(&work, &w.support, raw.as_bytes()).await;
    let case = wait_for("the case", Duration::from_secs(60), || async {
        let s = w.store();
        let cases = s.read().cases().ok()?;
        cases.into_iter().next()
    })
    .await;
    assert_eq!(case.customer_address, home, "the case is the Reply-To's");
    let acks = w.wait_for_acks(&home).await;
    assert_eq!(acks.len(), 1);
    assert!(
        acks[0].subject.contains(&case.reference),
        "{:?}",
        acks[0].subject
    );
    assert!(
        w.mailbox(&work, "INBOX").await.is_empty(),
        "nothing went to the From address"
    );
    d.stop().await;
}
