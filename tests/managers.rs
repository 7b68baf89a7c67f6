//! Managers acting by mail, on the real Dovecot + Postfix: an escalation contact who is not an
//! agent gets the escalation with Reply-To the case's managers' address (`support+m.…`),
//! answers the customer and resolves the case through it, and is recorded as `manager`; a
//! stranger or an agent who is no contact writing there leaves an unverified note and
//! reaches nobody; with `agents.managers_act_by_mail = false` the escalation mail neither
//! carries that address nor invites a reply. What each person received is read from Dovecot.

mod common;

use std::time::Duration;

use mailcase::case::kinds::{AuditEvent, MessageOutcome, ParticipantRole};
use mailcase::case::Status;
use mailcase::parse::InboundMessage;

use common::replies::*;
use common::*;

const TEAM: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"

[[agents.members]]
address = "@BOB@"
name = "Bob Agent"

[[escalation]]
contacts = ["@MANAGER@"]
"#;

const WAIT: Duration = Duration::from_secs(60);

/// A case of `jane` escalated by Ann with `#escalate`; returns the escalation mail the
/// manager received.
async fn escalated(w: &World, jane: &str) -> InboundMessage {
    escalated_with(w, jane, "").await
}

/// [`escalated`], with `headers` on top of Ann's reply.
async fn escalated_with(w: &World, jane: &str, headers: &str) -> InboundMessage {
    w.send_complaint(
        jane,
        "Jane Doe",
        "Refund not received",
        "I was promised a refund three weeks ago and nothing came.",
    )
    .await;
    w.wait_for_acks(jane).await;
    let card = wait_mail(w, &w.ann, 1).await.remove(0);
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#escalate she asks for a manager",
    );
    let raw = format!("{headers}{raw}");
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_mail(w, &w.manager, 1).await.remove(0)
}

/// The `+detail` of an address.
fn detail(address: &str) -> &str {
    address
        .split_once('+')
        .and_then(|(_, r)| r.split_once('@'))
        .map_or("", |(d, _)| d)
}

/// Waits until `user` has a message whose text contains `needle`.
async fn wait_text(w: &World, user: &str, needle: &str) -> InboundMessage {
    wait_for(&format!("{needle:?} for {user}"), WAIT, || async {
        w.mailbox(user, "INBOX")
            .await
            .into_iter()
            .find(|m| m.text.contains(needle))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_answers_and_resolves_through_their_own_reply_address() {
    let w = World::new("mgr_acts", TEAM);
    let d = w.start();
    let jane = w.customer("jane");
    let esc = escalated(&w, &jane).await;
    let case = w.case_of(&jane);
    assert_eq!(case.status, Status::Escalated);

    // The escalation mail: Reply-To the managers' signed address, in lower case, and a text
    // that says how to answer and that commands work.
    let reply_to = esc.reply_to.as_ref().expect("a Reply-To").address.clone();
    let token = detail(&reply_to);
    assert!(
        token.starts_with(&format!("m.{}.", case.reference.to_ascii_lowercase())),
        "{reply_to}"
    );
    assert_eq!(token, token.to_ascii_lowercase());
    assert!(esc.text.contains("reply to this e-mail"), "{}", esc.text);
    assert!(esc.text.contains("#resolve"), "{}", esc.text);
    assert!(esc.text.contains("she asks for a manager"), "{}", esc.text);

    // The manager answers: the customer gets it, named after the manager.
    let raw = thunderbird_reply(
        &w.manager,
        "Maria Manager",
        &esc,
        "Dear Jane, I am the team lead; your refund goes out today.",
    );
    w.send_raw(&w.manager, &reply_to, raw.as_bytes()).await;
    let answer = wait_text(&w, &jane, "team lead").await;
    let from = answer.from.as_ref().unwrap();
    assert_eq!(
        from.name.as_deref(),
        Some("Maria Manager via Example Support")
    );
    assert!(
        !answer.text.contains("she asks for a manager"),
        "the internal reason stays internal: {}",
        answer.text
    );
    assert!(
        detail(&answer.reply_to.as_ref().unwrap().address).starts_with("c."),
        "the customer answers through their own address"
    );
    // The agents see the manager's answer, named as the escalation contact.
    let seen = wait_text(&w, &w.bob, "(escalation contact) answered the customer").await;
    assert!(seen.text.contains("Maria Manager"), "{}", seen.text);

    // The manager resolves the case by command.
    let raw = thunderbird_reply(&w.manager, "Maria Manager", &esc, "#resolve\r\nAll sorted.");
    w.send_raw(&w.manager, &reply_to, raw.as_bytes()).await;
    wait_for("the case resolved", WAIT, || async {
        (w.case_of(&jane).status == Status::Resolved).then_some(())
    })
    .await;
    wait_text(&w, &jane, "All sorted").await;

    // Recorded as the manager's doing, with the role `manager`.
    let store = w.store();
    let read = store.read();
    let audit = read.audit_of_case(Some(case.id)).unwrap();
    assert!(
        audit.iter().any(|r| r.event == AuditEvent::Status
            && r.actor == w.manager
            && r.detail.contains("resolved")),
        "{audit:#?}"
    );
    assert!(audit
        .iter()
        .any(|r| r.event == AuditEvent::AgentAnswer && r.actor == w.manager));
    let participants = store.participants(case.id).unwrap();
    assert!(
        participants
            .iter()
            .any(|(a, r, _)| *a == w.manager && *r == ParticipantRole::Manager),
        "{participants:?}"
    );
    let messages = read.messages_of_case(case.id).unwrap();
    let theirs: Vec<_> = messages
        .iter()
        .filter(|m| m.from_address.as_deref() == Some(w.manager.as_str()))
        .collect();
    assert_eq!(theirs.len(), 2);
    assert!(theirs
        .iter()
        .all(|m| m.role == Some(ParticipantRole::Manager) && m.verified));
    assert_eq!(theirs[0].outcome, MessageOutcome::AgentReply);

    // `mailcase case` names the role.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(["case", &case.reference])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{} (manager)", w.manager)),
        "participant: {text}"
    );
    assert!(
        text.contains(&format!("→ resolved by {} (manager)", w.manager)),
        "{text}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_or_an_agent_who_is_no_contact_at_the_managers_address_reaches_nobody() {
    let w = World::new("mgr_stranger", TEAM);
    let d = w.start();
    let jane = w.customer("jane");
    let esc = escalated(&w, &jane).await;
    let case = w.case_of(&jane);
    let reply_to = esc.reply_to.as_ref().unwrap().address.clone();
    let before = wait_mail(&w, &jane, 2).await.len();

    // Somebody who got hold of the escalation mail.
    let eve = w.customer("eve");
    let raw = thunderbird_reply(&eve, "Eve", &esc, "#resolve\r\nClosing this, bye.");
    w.send_raw(&eve, &reply_to, raw.as_bytes()).await;
    // Bob is an agent but no escalation contact.
    let raw = thunderbird_reply(&w.bob, "Bob Agent", &esc, "Dear Jane, Bob here.");
    w.send_raw(&w.bob, &reply_to, raw.as_bytes()).await;

    let notes = wait_for("two unverified notes", WAIT, || async {
        let m: Vec<_> = w
            .store()
            .read()
            .messages_of_case(case.id)
            .unwrap()
            .into_iter()
            .filter(|m| m.outcome == MessageOutcome::UnverifiedNote)
            .collect();
        (m.len() == 2).then_some(m)
    })
    .await;
    assert!(notes.iter().all(|m| !m.verified));
    // Bob is told why; the stranger is not answered; the customer got nothing more.
    let told = wait_text(&w, &w.bob, "not an escalation contact").await;
    assert!(told.text.contains("internal note"), "{}", told.text);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(w.mailbox(&eve, "INBOX").await.is_empty());
    let mails = w.mailbox(&jane, "INBOX").await;
    assert_eq!(mails.len(), before, "nothing relayed");
    assert!(mails.iter().all(|m| !m.text.contains("Bob here")));
    assert_eq!(w.case_of(&jane).status, Status::Escalated);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_managers_acting_by_mail_off_the_escalation_mail_invites_no_reply() {
    let w = World::new(
        "mgr_off",
        &format!("\n[agents]\nmanagers_act_by_mail = false\n{TEAM}"),
    );
    let d = w.start();
    let jane = w.customer("jane");
    let esc = escalated(&w, &jane).await;
    let reply_to = esc.reply_to.as_ref().unwrap().address.clone();
    assert!(!detail(&reply_to).starts_with("m."), "{reply_to}");
    assert!(!esc.text.contains("+m."), "{}", esc.text);
    assert!(!esc.text.contains("reply to this e-mail"), "{}", esc.text);
    assert!(!esc.text.contains("#resolve"), "{}", esc.text);
    assert!(
        esc.text.contains("do not reach the customer"),
        "{}",
        esc.text
    );

    // A manager who replies anyway reaches nobody.
    let case = w.case_of(&jane);
    let before = wait_mail(&w, &jane, 2).await.len();
    let raw = thunderbird_reply(&w.manager, "Maria Manager", &esc, "Dear Jane, sorry!");
    w.send_raw(&w.manager, &reply_to, raw.as_bytes()).await;
    wait_for("an unverified note", WAIT, || async {
        w.store()
            .read()
            .messages_of_case(case.id)
            .unwrap()
            .into_iter()
            .find(|m| m.outcome == MessageOutcome::UnverifiedNote)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(w.mailbox(&jane, "INBOX").await.len(), before);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_strict_mode_a_managers_reply_counts_only_when_our_server_authenticated_it() {
    let w = World::new(
        "mgr_strict",
        &format!(
            "\n[agents]\nverify = \"authentication-results\"\nauthserv_id = \"mx.support.test\"\n{TEAM}"
        ),
    );
    let d = w.start();
    let jane = w.customer("jane");
    let ours = "Authentication-Results: mx.support.test; dkim=pass header.d=support.test \
                header.i=@support.test; dmarc=pass header.from=support.test\r\n";
    let esc = escalated_with(&w, &jane, ours).await;
    let case = w.case_of(&jane);
    let reply_to = esc.reply_to.as_ref().unwrap().address.clone();
    assert!(detail(&reply_to).starts_with("m."), "{reply_to}");
    let before = wait_mail(&w, &jane, 2).await.len();

    // Without our server's word: an unverified note, and the manager is told why, with the
    // managers' address to answer again.
    let raw = thunderbird_reply(&w.manager, "Maria Manager", &esc, "Dear Jane, forged?");
    w.send_raw(&w.manager, &reply_to, raw.as_bytes()).await;
    let told = wait_text(&w, &w.manager, "no Authentication-Results").await;
    assert!(
        detail(&told.reply_to.as_ref().unwrap().address).starts_with("m."),
        "{:?}",
        told.reply_to
    );
    let notes = w.store().read().messages_of_case(case.id).unwrap();
    assert!(notes
        .iter()
        .any(|m| m.outcome == MessageOutcome::UnverifiedNote && !m.verified));

    // With it: relayed.
    let raw = thunderbird_reply(&w.manager, "Maria Manager", &esc, "Dear Jane, it is me.");
    w.send_raw(&w.manager, &reply_to, format!("{ours}{raw}").as_bytes())
        .await;
    wait_text(&w, &jane, "it is me").await;
    let mails = w.mailbox(&jane, "INBOX").await;
    assert_eq!(mails.len(), before + 1);
    assert!(mails.iter().all(|m| !m.text.contains("forged?")));
    d.stop().await;
}
