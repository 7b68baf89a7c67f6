//! Bounces of our mail and floods from one sender, on the real servers.

mod common;

use mailcase::case::kinds::{Audience, AuditEvent, MessageOutcome, OutboundState};
use std::time::Duration;

use common::replies::*;
use common::*;

const AGENTS: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"
"#;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounce_marks_the_address_undeliverable_tells_the_agents_and_the_outbox_stops() {
    let w = World::new("bounce", AGENTS);
    let d = w.start();
    let jane = w.customer("jane");
    w.send_complaint(&jane, "Jane Doe", "Broken", "It is broken.")
        .await;
    let ack = w.wait_for_acks(&jane).await.remove(0);
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let case = w.store().read().cases().unwrap().remove(0);

    // A forged report naming Jane that returns none of our messages changes nothing.
    let forged = dsn(&w.support, &jane, "someone-else@evil.test");
    w.send_raw_null_sender(&w.support, forged.as_bytes()).await;
    wait_for("the forged report recorded", WAIT, || async {
        let c = w.store().read().counts().unwrap();
        (c.robots == 1).then_some(())
    })
    .await;
    let parts = w.store().participants(case.id).unwrap();
    assert!(parts.iter().all(|(_, _, u)| !u), "{parts:?}");

    // The real DSN returns our acknowledgment and names Jane as the failed recipient (upper
    // case, as some MTAs write it).
    let real = dsn(
        &w.support,
        &jane.to_uppercase(),
        ack.message_id.as_deref().unwrap(),
    );
    w.send_raw_null_sender(&w.support, real.as_bytes()).await;
    let ann = wait_mail(&w, &w.ann, 2).await;
    assert!(ann[1].text.contains("bounced"), "{}", ann[1].text);
    assert!(ann[1].text.contains(&jane), "{}", ann[1].text);
    assert!(ann[1].subject.contains(&case.reference));
    let parts = w.store().participants(case.id).unwrap();
    assert!(parts.iter().any(|(a, _, u)| *a == jane && *u), "{parts:?}");

    // Ann answers anyway: nothing is queued to the dead address, and the audit says why.
    let raw = thunderbird_reply(&w.ann, "Ann Agent", &card, "We refunded you.");
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("the answer recorded and not sent", WAIT, || async {
        let a = w.store().read().audit_of_case(Some(case.id)).unwrap();
        a.iter()
            .any(|a| a.event == AuditEvent::NotSent && a.detail.contains("bounced"))
            .then_some(())
    })
    .await;
    let out = w.store().read().outbox(Some(case.id)).unwrap();
    assert_eq!(
        out.iter()
            .filter(|o| o.audience == Audience::Customer)
            .count(),
        1,
        "only the acknowledgment: {out:?}"
    );
    // `mailcase case` shows it.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(["case", &case.reference])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("UNDELIVERABLE"), "{text}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_mail_to_an_address_that_bounces_meanwhile_is_dropped_by_the_outbox() {
    // SMTP unreachable (a closed port): the acknowledgment stays queued; the bounce (appended
    // straight into the mailbox) marks the address; the outbox drops the queued row instead
    // of sending it. (Stopping Postfix would disturb the other tests of this file.)
    let w = World::new("bounce_pending", "");
    let cfg = std::fs::read_to_string(&w.config_path)
        .unwrap()
        .replace(&format!("port = {}\n", w.env.smtp_port), "port = 9\n");
    std::fs::write(&w.config_path, cfg).unwrap();
    let d = w.start();
    let gina = w.customer("gina");
    w.append(
        format!("From: Gina <{gina}>\r\nTo: {}\r\nSubject: hello\r\nMessage-ID: <g.{}@customer.test>\r\n\r\nHello?\r\n", w.support, rand_u32())
            .as_bytes(),
    )
    .await;
    let queued = wait_for("the ack queued", WAIT, || async {
        let o = w.store().read().outbox(None).unwrap();
        o.into_iter().next()
    })
    .await;
    w.append(dsn(&w.support, &gina, &queued.message_id).as_bytes())
        .await;
    let row = wait_for("the queued ack dropped", WAIT, || async {
        let o = w.store().read().outbox(None).unwrap();
        o.into_iter().find(|r| r.status == OutboundState::Failed)
    })
    .await;
    assert!(
        row.last_error.as_deref().unwrap().contains("bounced"),
        "{row:?}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_sender_joins_their_open_case_instead_of_opening_hundreds() {
    let w = World::new(
        "flood",
        &format!("{AGENTS}\n[limits]\nnew_cases_per_sender_per_hour = 3\n"),
    );
    let d = w.start();
    let bot = w.customer("bot");
    for i in 0..40 {
        w.send_complaint(
            &bot,
            "Script",
            &format!("Alert {i}"),
            &format!("Value {i} out of range"),
        )
        .await;
    }
    wait_for("all 40 stored", WAIT, || async {
        (w.store().read().counts().unwrap().messages == 40).then_some(())
    })
    .await;
    let s = w.store();
    let cases = s.read().cases().unwrap();
    assert_eq!(cases.len(), 3, "three cases, then the rest joined");
    let latest = cases.iter().map(|c| c.id).max().unwrap();
    let joined = s
        .read()
        .messages_of_case(latest)
        .unwrap()
        .iter()
        .filter(|m| m.outcome == MessageOutcome::FloodJoined)
        .count();
    assert_eq!(joined, 37);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Acknowledgments: capped per sender (3 an hour); agent cards: one per case, not per
    // mail, and one summary of the flood.
    assert!(w.mailbox(&bot, "INBOX").await.len() <= 3);
    let ann = w.mailbox(&w.ann, "INBOX").await;
    assert_eq!(ann.len(), 4);
    let summaries: Vec<_> = ann
        .iter()
        .filter(|m| m.text.contains("looks like a flood"))
        .collect();
    assert_eq!(summaries.len(), 1);
    assert!(summaries[0]
        .text
        .contains("limits.new_cases_per_sender_per_hour = 3"));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flood_rule_counts_the_from_address_so_reply_to_cannot_push_mail_into_a_case() {
    let w = World::new(
        "flood_rt",
        &format!("{AGENTS}\n[limits]\nnew_cases_per_sender_per_hour = 1\n"),
    );
    let d = w.start();
    let jane = w.customer("jane");
    w.send_complaint(&jane, "Jane", "My case", "Private details.")
        .await;
    w.wait_for_acks(&jane).await;
    // Mallory writes with Reply-To: Jane. Her mail must open her own case, not join Jane's.
    let mallory = w.customer("mallory");
    let raw = format!(
        "From: Mallory <{mallory}>\r\nReply-To: {jane}\r\nTo: {}\r\nSubject: hi\r\nMessage-ID: <{}@evil.test>\r\n\r\nLet me in.\r\n",
        w.support,
        rand_u32()
    );
    w.send_raw(&mallory, &w.support, raw.as_bytes()).await;
    wait_for("two cases", WAIT, || async {
        (w.store().read().cases().unwrap().len() == 2).then_some(())
    })
    .await;
    let s = w.store();
    let janes = s
        .read()
        .cases()
        .unwrap()
        .into_iter()
        .filter(|c| c.customer_address == jane)
        .count();
    assert_eq!(
        janes, 2,
        "Mallory's mail opened a case of its own (answered to Reply-To)"
    );
    let all = s.read().all_messages().unwrap();
    assert!(
        all.iter().all(|m| m.outcome != MessageOutcome::FloodJoined),
        "{all:?}"
    );
    d.stop().await;
}
