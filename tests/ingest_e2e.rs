//! Ingest and acknowledgment end to end, on the real Dovecot + Postfix (tests/mailserver).
//! Complaints arrive through Postfix exactly as a customer's mail would; what customers
//! receive is read from their Dovecot mailboxes.

mod common;

use std::time::Duration;

use common::*;
use mailcase::case::kinds::{AuditEvent, OutboundState};
use mailcase::case::Reference;
use mailcase::case::Status;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_gets_one_case_and_one_acknowledgment_with_its_reference() {
    let w = World::new("complaint", "");
    let d = w.start();
    let alice = w.customer("alice");
    let sent_id = w
        .send_complaint(
            &alice,
            "Alice Example",
            "Invoice charged twice",
            "Hello, my November invoice was charged twice. Please refund.",
        )
        .await;

    let acks = w.wait_for_acks(&alice).await;
    d.stop().await;

    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    let cases = w.store().read().cases().unwrap();
    assert_eq!(cases.len(), 1, "exactly one case");
    let case = &cases[0];
    assert_eq!(case.category, "billing");
    assert_eq!(case.priority, "normal");
    assert_eq!(case.status, Status::Acknowledged);
    assert_eq!(case.customer_address, alice);
    assert_eq!(case.customer_name.as_deref(), Some("Alice Example"));
    let r = Reference::find_in_subject(&ack.subject, "CMP").expect("reference tag in subject");
    assert_eq!(r.as_str(), case.reference);
    assert_eq!(
        ack.subject,
        format!("[{}] Invoice charged twice", case.reference)
    );
    assert_eq!(
        ack.in_reply_to,
        vec![sent_id.clone()],
        "threads under the customer's message"
    );
    assert!(ack.references.contains(&sent_id));
    assert_eq!(ack.header("auto-submitted"), Some("auto-replied"));
    assert_eq!(ack.content_type, "multipart/alternative");
    assert!(ack.text.contains("Dear Alice Example"), "{}", ack.text);
    assert!(ack.text.contains(&case.reference));
    assert!(ack.text.contains("within 1 business day"), "{}", ack.text);
    assert!(ack.text.contains("Billing"));
    // Processed: out of the INBOX, into the processed folder.
    assert!(w.mailbox(&w.support, "INBOX").await.is_empty());
    assert_eq!(w.mailbox(&w.support, "Processed").await.len(), 1);
    // The stored Message-ID of the ack is the one the customer got.
    let out = w.store().read().outbox(Some(case.id)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].status, OutboundState::Sent);
    assert_eq!(ack.message_id.as_deref(), Some(out[0].message_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_complaint_is_promised_an_answer_within_two_hours() {
    let w = World::new("urgent", "");
    let d = w.start();
    let bob = w.customer("bob");
    w.send_complaint(
        &bob,
        "Bob",
        "Production outage",
        "Our whole site is down since 09:00!",
    )
    .await;
    let acks = w.wait_for_acks(&bob).await;
    d.stop().await;
    let case = &w.store().read().cases().unwrap()[0];
    assert_eq!(case.priority, "urgent");
    assert_eq!(case.category, "technical");
    assert!(acks[0].text.contains("within 2 hours"), "{}", acks[0].text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_to_the_acknowledgment_joins_the_case_and_gets_no_second_acknowledgment() {
    let w = World::new("reply", "");
    let d = w.start();
    let carol = w.customer("carol");
    w.send_complaint(&carol, "Carol", "Printer on fire", "It smells of smoke.")
        .await;
    let ack = w.wait_for_acks(&carol).await.remove(0);
    let ack_id = ack.message_id.clone().unwrap();
    let reply = format!(
        "From: Carol <{carol}>\r\nTo: {}\r\nSubject: Re: {}\r\nMessage-ID: <reply.{}@customer.test>\r\nIn-Reply-To: <{ack_id}>\r\nReferences: <{ack_id}>\r\n\r\nAlso, the paper tray is melting.\r\n",
        w.support, ack.subject, rand_u32()
    );
    w.send_raw(&carol, &w.support, reply.as_bytes()).await;
    wait_for("the reply stored", T, || async {
        let n = w.store().read().counts().unwrap().messages;
        (n == 2).then_some(())
    })
    .await;
    // Give a wrongly queued second ack every chance to arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.stop().await;
    let s = w.store();
    let cases = s.read().cases().unwrap();
    assert_eq!(cases.len(), 1, "the reply did not open a case");
    assert_eq!(s.read().messages_of_case(cases[0].id).unwrap().len(), 2);
    assert_eq!(
        w.mailbox(&carol, "INBOX").await.len(),
        1,
        "no second acknowledgment"
    );
    assert_eq!(s.read().outbox(None).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_office_and_bounce_are_recorded_but_never_answered() {
    let w = World::new("robots", "");
    let d = w.start();
    let dave = w.customer("dave");
    let ooo = format!(
        "From: Dave <{dave}>\r\nTo: {}\r\nSubject: Automatic reply: your request\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <ooo.{}@customer.test>\r\n\r\nI am out of the office until Monday.\r\n",
        w.support, rand_u32()
    );
    w.send_raw(&dave, &w.support, ooo.as_bytes()).await;
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@customer.test>\r\nTo: {}\r\nSubject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce.{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.customer.test\r\n\r\nFinal-Recipient: rfc822; nobody@customer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n--b1--\r\n",
        w.support, rand_u32()
    );
    // A bounce arrives with the null sender.
    w.send_raw_null_sender(&w.support, bounce.as_bytes()).await;
    wait_for("both robots stored", T, || async {
        let c = w.store().read().counts().unwrap();
        (c.robots == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    d.stop().await;
    let s = w.store();
    assert_eq!(s.read().counts().unwrap().cases, 0);
    assert!(
        s.read().outbox(None).unwrap().is_empty(),
        "nothing queued to robots"
    );
    assert!(w.mailbox(&dave, "INBOX").await.is_empty());
    let robots: Vec<_> = s
        .read()
        .all_messages()
        .unwrap()
        .into_iter()
        .filter_map(|m| m.robot)
        .collect();
    assert!(robots.contains(&"auto_reply".to_string()), "{robots:?}");
    assert!(robots.contains(&"bounce".to_string()), "{robots:?}");
    assert!(w.mailbox(&w.support, "INBOX").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_and_oversized_messages_go_to_quarantine_and_do_not_block_the_rest() {
    let w = World::new("quarantine", "");
    // Straight into the INBOX: Postfix would add headers and make garbage parseable.
    w.append(b"\x00\x01\x02 this is not a mail message at all \xff\xfe")
        .await;
    let mut big =
        b"From: eve@customer.test\r\nTo: support@support.test\r\nSubject: huge\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 400 * 1024)); // over max_message_size = 256KB
    w.append(&big).await;
    let frank = w.customer("frank");
    w.append(
        format!("From: Frank <{frank}>\r\nTo: {}\r\nSubject: after the bad ones\r\nMessage-ID: <f.{}@customer.test>\r\n\r\nStill works?\r\n", w.support, rand_u32())
            .as_bytes(),
    )
    .await;
    let d = w.start();
    w.wait_for_acks(&frank).await;
    d.stop().await;
    let s = w.store();
    let q = s.read().quarantine().unwrap();
    assert_eq!(q.len(), 2, "{q:?}");
    assert!(
        q.iter().any(|(_, r, _)| r.starts_with("unparseable")),
        "{q:?}"
    );
    assert!(
        q.iter().any(|(_, r, _)| r.contains("max_message_size")),
        "{q:?}"
    );
    assert_eq!(read_raw(&w.support, "Quarantine", &w.env).await.len(), 2);
    assert!(read_raw(&w.support, "INBOX", &w.env).await.is_empty());
    assert_eq!(s.read().counts().unwrap().cases, 1);
    let audit = s.read().audit_of_case(None).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.event == AuditEvent::Quarantined)
            .count(),
        2,
        "reasons are in the audit log"
    );
}

/// While mail keeps arriving, the inbox is checked every `busy_poll_interval` instead of
/// waiting for the next poll (or for Dovecot's IDLE notice, which it holds back up to 0.5 s).
/// Here the poll is 5 minutes and IDLE is off: the second complaint, mailed just after the
/// first was handled, must still get its case long before the poll comes round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_arriving_right_after_other_mail_is_picked_up_without_waiting_for_the_poll() {
    let w = World::new("busy", "");
    let text = std::fs::read_to_string(&w.config_path)
        .unwrap()
        .replace(
            "poll_interval = \"5s\"",
            "poll_interval = \"5m\"\nidle = false\nbusy_poll_interval = \"100ms\"\nbusy_period = \"60s\"",
        );
    std::fs::write(&w.config_path, text).unwrap();
    let alice = w.customer("alice");
    let bob = w.customer("bob");
    w.append(
        format!(
            "From: Alice <{alice}>\r\nTo: {}\r\nSubject: Broken kettle\r\nMessage-ID: <busy-a-{}@customer.test>\r\n\r\nIt leaks.\r\n",
            w.support,
            rand_u32()
        )
        .as_bytes(),
    )
    .await;
    let d = w.start();
    // The first round at start-up finds Alice's complaint.
    w.wait_for_acks(&alice).await;
    w.send_complaint(&bob, "Bob", "Late parcel", "Where is my parcel?")
        .await;
    // Well under the 5 minute poll: only the quick checks after Alice's mail can find it.
    let acks = wait_for("Bob's acknowledgment", Duration::from_secs(90), || async {
        let a = w.mailbox(&bob, "INBOX").await;
        (!a.is_empty()).then_some(a)
    })
    .await;
    d.stop().await;
    assert_eq!(acks.len(), 1);
    assert_eq!(w.store().read().cases().unwrap().len(), 2);
}
