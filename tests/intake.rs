//! Complaints that come through an agent, on the real Dovecot + Postfix: Carol forwards a
//! customer's mail (inline as Gmail writes it, or attached) or logs a phone call with `#log`
//! to her personal intake address, and the case is the customer's: the acknowledgment is in
//! the customer's INBOX, and Carol's holds only the card. Mail from Carol that is none of
//! these (to the plain support address, a forward naming no address) opens no case, answers
//! no customer, and Carol gets one help mail that says what to do instead.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::kinds::{AuditEvent, Channel, MessageOutcome, Visibility};
use mailcase::parse::InboundMessage;

/// Carol at `@ANN@`, the only agent: the cards go to her alone.
const AGENTS: &str = "[[agents.members]]\naddress = \"@ANN@\"\nname = \"Carol Agent\"\n";

/// Carol's intake address in this world.
fn intake(w: &World) -> String {
    let clock: mailcase::clock::SharedClock = Arc::new(mailcase::clock::SystemClock);
    let engine = mailcase::pipeline::Engine::new(Arc::new(w.config()), clock).expect("engine");
    engine.tokens.intake_address(&w.support, &w.ann)
}

/// A fixture of `tests/fixtures/forwards/` as Carol sends it to `to`, forwarding `customer`'s
/// mail: the fixture's addresses replaced, and a Message-ID of its own.
fn forward(name: &str, w: &World, to: &str, customer: &str) -> Vec<u8> {
    let raw = std::fs::read(repo().join(format!("tests/fixtures/forwards/{name}.eml"))).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head: Vec<String> = head
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("message-id:") {
                format!("Message-ID: <{}@support.test>", unique("fwd"))
            } else {
                l.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{body}", head.join("\r\n"))
        .replace("support+i.0000000000000000@support.test", to)
        .replace("carol@support.test", &w.ann)
        .replace("alice@customer.test", customer)
        .into_bytes()
}

/// Mail Carol writes herself (a phone complaint, a note to the support address).
fn carol_writes(w: &World, to: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Carol Agent <{}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{}@support.test>\r\n\
         Date: Mon, 23 Nov 2026 10:30:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        w.ann,
        unique("carol")
    )
    .into_bytes()
}

fn run_cli(w: &World, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(args)
        .output()
        .expect("run mailcase");
    assert!(
        out.status.success(),
        "mailcase {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_card(m: &InboundMessage) -> bool {
    m.subject.starts_with("[CMP-") && m.text.contains("Logged by:")
}

/// Waits a little after the last expected mail, so that mail that should not come had time
/// to arrive (it would have been queued in the same transaction).
async fn settle() {
    tokio::time::sleep(Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarded_complaint_is_the_customer_s_case_and_only_the_customer_is_acknowledged() {
    let w = World::new("intake_forward", AGENTS);
    let d = w.start();
    let to = intake(&w);
    let inline = w.customer("alice-inline");
    let attached = w.customer("alice-attached");
    w.send_raw(&w.ann, &to, &forward("gmail", &w, &to, &inline))
        .await;
    w.send_raw(
        &w.ann,
        &to,
        &forward("rfc822_attachment", &w, &to, &attached),
    )
    .await;

    for (customer, agent_words) in [
        (&inline, "Please log this one, she wrote to me directly."),
        (
            &attached,
            "Forwarding as an attachment: the customer is upset",
        ),
    ] {
        let case = w.wait_for_case_of(customer).await;
        assert_eq!(case.customer_name.as_deref(), Some("Alice Customer"));
        assert_eq!(case.subject, "Kettle arrived broken");
        let store = w.store();
        let read = store.read();
        assert_eq!(
            read.case_channel(case.id).unwrap(),
            (Channel::Forward, Some(w.ann.clone()))
        );
        // The complaint is the original's text; Carol's words are an internal note.
        let msgs = read.messages_of_case(case.id).unwrap();
        let first = &msgs[0];
        assert_eq!(first.outcome, MessageOutcome::NewCase);
        assert!(
            first.body_text.contains("cracked lid"),
            "{}",
            first.body_text
        );
        assert!(
            !first.body_text.contains(agent_words),
            "{}",
            first.body_text
        );
        let note = msgs
            .iter()
            .find(|m| m.outcome == MessageOutcome::AgentNote)
            .expect("Carol's words kept as a note");
        assert_eq!(note.visibility, Visibility::Internal);
        assert!(note.body_text.contains(agent_words), "{}", note.body_text);
        // The customer has the acknowledgment.
        let acks = w.wait_for_acks(customer).await;
        assert_eq!(acks.len(), 1);
        assert!(
            acks[0].subject.contains(&case.reference),
            "{}",
            acks[0].subject
        );
        assert!(acks[0].subject.contains("Kettle arrived broken"));
        assert!(acks[0].text.contains("cracked lid"), "{}", acks[0].text);
    }
    // The attached original's Message-ID is what the acknowledgment answers.
    let acks = w.mailbox(&attached, "INBOX").await;
    assert_eq!(
        acks[0].in_reply_to,
        vec!["kettle-4711.a1b2c3@customer.test".to_string()]
    );
    // Carol has the two cards and nothing else: no acknowledgment, no help mail.
    let cards = wait_mail(&w, &w.ann, 2).await;
    settle().await;
    let mine = w.mailbox(&w.ann, "INBOX").await;
    assert_eq!(
        mine.len(),
        2,
        "{:?}",
        mine.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    for card in &cards {
        assert!(is_card(card), "{}\n{}", card.subject, card.text);
        assert!(
            card.text
                .contains("Logged by:  Carol Agent (forwarded mail)"),
            "{}",
            card.text
        );
        assert!(card.text.contains("cracked lid"));
        assert!(
            card.text.contains(&to),
            "the footer names her intake address"
        );
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noack_logs_the_forward_without_acknowledging_anybody() {
    let w = World::new("intake_noack", AGENTS);
    let d = w.start();
    let to = intake(&w);
    let customer = w.customer("alice");
    let raw = String::from_utf8(forward("thunderbird", &w, &to, &customer))
        .unwrap()
        .replacen(
            "Please log this, she phoned about it as well.",
            "#noack\r\n\r\nPlease log this, she phoned about it as well.",
            1,
        );
    w.send_raw(&w.ann, &to, raw.as_bytes()).await;
    let case = w.wait_for_case_of(&customer).await;
    let cards = wait_mail(&w, &w.ann, 1).await;
    assert!(is_card(&cards[0]));
    settle().await;
    assert!(
        w.mailbox(&customer, "INBOX").await.is_empty(),
        "no acknowledgment"
    );
    let audit = w.store().read().audit_of_case(Some(case.id)).unwrap();
    let suppressed = audit
        .iter()
        .find(|a| a.event == AuditEvent::AckSuppressed)
        .expect("ack_suppressed audited");
    assert!(
        suppressed.detail.to_string().contains("#noack"),
        "{}",
        suppressed.detail
    );
    assert_eq!(w.mailbox(&w.ann, "INBOX").await.len(), 1, "only the card");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_complaint_logged_with_log_opens_a_case_and_acknowledges_the_caller() {
    let w = World::new("intake_log", AGENTS);
    let d = w.start();
    let to = intake(&w);
    let caller = w.customer("bob");
    w.send_raw(
        &w.ann,
        &to,
        &carol_writes(
            &w,
            &to,
            "Blender makes a grinding noise",
            &format!(
                "#log Bob Caller <{caller}>\r\n\r\nBob called: his new blender makes a grinding noise since Monday.\r\nHe wants it exchanged.\r\n\r\n-- \r\nCarol Agent\r\nExample Support"
            ),
        ),
    )
    .await;
    let case = w.wait_for_case_of(&caller).await;
    assert_eq!(case.customer_name.as_deref(), Some("Bob Caller"));
    assert_eq!(case.subject, "Blender makes a grinding noise");
    let read_store = w.store();
    let read = read_store.read();
    assert_eq!(
        read.case_channel(case.id).unwrap(),
        (Channel::Logged, Some(w.ann.clone()))
    );
    let first = &read.messages_of_case(case.id).unwrap()[0];
    assert!(
        first.body_text.starts_with("Bob called:"),
        "{}",
        first.body_text
    );
    assert!(!first.body_text.contains("#log"), "{}", first.body_text);
    assert!(
        !first.body_text.contains("Example Support"),
        "signature kept out"
    );
    let acks = w.wait_for_acks(&caller).await;
    assert!(acks[0].subject.contains(&case.reference));
    // `mailcase case REF` says how it came in and who logged it, in one line.
    let shown = run_cli(&w, &["case", &case.reference]);
    assert!(
        shown.lines().any(|l| l
            == format!(
                "came in by phone or in person, logged by Carol Agent <{}>",
                w.ann
            )),
        "{shown}"
    );
    let cards = wait_mail(&w, &w.ann, 1).await;
    assert!(
        cards[0]
            .text
            .contains("Logged by:  Carol Agent (phone or in person)"),
        "{}",
        cards[0].text
    );
    // The admin's previews show the card and the help mail as they are sent.
    let card = run_cli(
        &w,
        &[
            "template",
            "preview",
            "agent_new_case",
            "--case",
            &case.reference,
        ],
    );
    assert!(
        card.contains("Logged by:  Carol Agent (phone or in person)"),
        "{card}"
    );
    assert!(card.contains(&to), "{card}");
    let help = run_cli(
        &w,
        &[
            "template",
            "preview",
            "agent_intake_help",
            "--case",
            &case.reference,
        ],
    );
    assert!(
        help.contains("Subject: Not logged: Blender makes a grinding noise"),
        "{help}"
    );
    assert!(
        help.contains(&to) && help.contains("Hello Carol Agent"),
        "{help}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_mail_to_the_plain_support_address_opens_no_case_and_the_agent_is_told_once() {
    let w = World::new("intake_plain", AGENTS);
    let d = w.start();
    let to = intake(&w);
    let customer = w.customer("alice");
    // Carol forwards to the customers' address: no case, the customer hears nothing.
    let support = w.support.clone();
    w.send_raw(&w.ann, &support, &forward("gmail", &w, &support, &customer))
        .await;
    let help = wait_mail(&w, &w.ann, 1).await;
    assert_eq!(help[0].subject, "Not logged: Kettle arrived broken");
    assert!(help[0].text.contains("opened no case"), "{}", help[0].text);
    assert!(
        help[0].text.contains("the customers' address"),
        "{}",
        help[0].text
    );
    assert!(
        help[0].text.contains(&to),
        "names her intake address: {}",
        help[0].text
    );
    assert!(help[0].text.contains("#log Name <customer@address>"));
    assert_eq!(
        help[0].reply_to.as_ref().map(|m| m.address.as_str()),
        Some(to.as_str())
    );
    // A second one within ten minutes is stored and audited, but not answered again.
    w.send_raw(
        &w.ann,
        &support,
        &carol_writes(&w, &support, "Question", "Who has the Miller case?"),
    )
    .await;
    w.wait_inbox_empty().await;
    settle().await;
    assert_eq!(w.mailbox(&w.ann, "INBOX").await.len(), 1, "one help mail");
    assert!(w.mailbox(&customer, "INBOX").await.is_empty());
    let store = w.store();
    let read = store.read();
    assert!(read.cases().unwrap().is_empty(), "no case");
    let audit = read.audit_of_case(None).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.event == AuditEvent::IntakeRefused)
            .count(),
        2
    );
    assert!(audit
        .iter()
        .any(|a| a.event == AuditEvent::NotSent
            && a.detail.to_string().contains("agent_intake_help")));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_naming_no_address_opens_no_case_and_the_help_mail_names_the_problem() {
    let w = World::new("intake_nosender", AGENTS);
    let d = w.start();
    let to = intake(&w);
    w.send_raw(
        &w.ann,
        &to,
        &forward("no_sender", &w, &to, "unused@customer.test"),
    )
    .await;
    let help = wait_mail(&w, &w.ann, 1).await;
    assert!(
        help[0].subject.starts_with("Not logged:"),
        "{}",
        help[0].subject
    );
    assert!(
        help[0]
            .text
            .contains("From line (Alice Customer) has no e-mail address"),
        "{}",
        help[0].text
    );
    assert!(
        help[0].text.contains("as an attachment"),
        "{}",
        help[0].text
    );
    w.wait_inbox_empty().await;
    assert_eq!(w.cases_now(), 0);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_strict_mode_only_a_forward_our_server_authenticated_opens_a_case() {
    let w = World::new(
        "intake_strict",
        &format!(
            "[agents]\nverify = \"authentication-results\"\nauthserv_id = \"mx.support.test\"\n{AGENTS}"
        ),
    );
    let d = w.start();
    let to = intake(&w);
    // Without our server's Authentication-Results: no case, and Carol is told that the mail
    // did not prove it came from her.
    let forged = w.customer("alice-forged");
    w.send_raw(&w.ann, &to, &forward("thunderbird", &w, &to, &forged))
        .await;
    let help = wait_mail(&w, &w.ann, 1).await;
    assert!(
        help[0].text.contains("did not prove it came from you"),
        "{}",
        help[0].text
    );
    assert!(help[0].text.contains("someone is writing in your name"));
    // With it: the customer's case.
    let customer = w.customer("alice");
    let raw = [
        b"Authentication-Results: mx.support.test; dkim=pass header.d=support.test header.i=@support.test; dmarc=pass header.from=support.test\r\n".as_slice(),
        &forward("thunderbird", &w, &to, &customer),
    ]
    .concat();
    w.send_raw(&w.ann, &to, &raw).await;
    let case = w.wait_for_case_of(&customer).await;
    assert_eq!(case.subject, "Kettle arrived broken");
    w.wait_for_acks(&customer).await;
    w.wait_inbox_empty().await;
    settle().await;
    assert!(w.find_case_of(&forged).is_none());
    assert!(w.mailbox(&forged, "INBOX").await.is_empty());
    d.stop().await;
}
