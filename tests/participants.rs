//! Everyone in the conversation, on the real Dovecot + Postfix: the customer's colleagues in
//! Cc join the case and get the agents' answers and status notices in Cc (never the
//! acknowledgment, and their "thanks" does not close the case); agents put people on and take
//! them off by command; an agent who Cc's an outsider themselves is told what happened; a Cc
//! of 500 is capped and named to the agents; a participant whose mail bounces is marked and
//! the others still get the mail. What each person received is read from their Dovecot INBOX.

mod common;

use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::kinds::{AuditEvent, OutboundKind, ParticipantRole};
use mailcase::case::Status;
use mailcase::parse::InboundMessage;
use mailcase::store::CaseRow;

/// Ann and Bob, the agents of these tests.
const AGENTS: &str = ANN_AND_BOB;

const WAIT: Duration = Duration::from_secs(60);

/// Our mail in `user`'s INBOX (from the support address), oldest first.
async fn ours(w: &World, user: &str) -> Vec<InboundMessage> {
    w.mailbox(user, "INBOX")
        .await
        .into_iter()
        .filter(|m| m.from_address().as_deref() == Some(w.support.as_str()))
        .collect()
}

/// Waits until `user` has `n` mails of ours and returns them.
async fn wait_ours(w: &World, user: &str, n: usize) -> Vec<InboundMessage> {
    wait_for(&format!("{n} mail(s) of ours for {user}"), WAIT, || async {
        let m = ours(w, user).await;
        (m.len() >= n).then_some(m)
    })
    .await
}

/// A complaint from Jane with `cc` in its Cc header, appended to the support INBOX (so a
/// long Cc does not make Postfix deliver hundreds of copies).
fn complaint_with_cc(w: &World, jane: &str, cc: &str) -> Vec<u8> {
    format!(
        "From: Jane Doe <{jane}>\r\nTo: Support <{support}>\r\nCc: {cc}\r\nSubject: Printer on fire\r\n\
         Message-ID: <{id}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello, our printer caught fire. Please keep my colleague Max in the loop.\r\n\r\nJane\r\n",
        support = w.support,
        id = unique("cc"),
    )
    .into_bytes()
}

fn people(w: &World, case: &CaseRow) -> Vec<mailcase::store::Person> {
    w.store().people_of(case.id).unwrap()
}

fn case_now(w: &World, case: &CaseRow) -> CaseRow {
    w.store()
        .read()
        .case_by_reference(&case.reference)
        .unwrap()
        .unwrap()
}

fn cc_of(m: &InboundMessage) -> Vec<String> {
    m.cc.iter().map(|c| c.normalized()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_in_cc_gets_the_answers_and_notices_but_not_the_ack_and_cannot_close() {
    let w = World::new(
        "cc_colleague",
        &format!("{AGENTS}\n[[escalation]]\ncontacts = [\"@MANAGER@\"]\n"),
    );
    let d = w.start();
    let jane = w.customer("jane");
    let max = w.customer("max");
    // Max joins; our own address (with a tag), Ann (an agent), the escalation contact and
    // Jane herself do not.
    let alias = w.support.replace('@', "+billing@");
    let raw = complaint_with_cc(
        &w,
        &jane,
        &format!(
            "Max Muster <{max}>, {alias}, Ann <{}>, {}, {jane}",
            w.ann, w.manager
        ),
    );
    w.append(&raw).await;
    let ack = wait_ours(&w, &jane, 1).await.remove(0);
    assert!(
        ack.cc.is_empty(),
        "the acknowledgment is the customer's alone"
    );
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let case = w.wait_for_case_of(&jane).await;
    let ps = people(&w, &case);
    let ccs: Vec<&str> = ps
        .iter()
        .filter(|p| p.role == ParticipantRole::Cc)
        .map(|p| p.address.as_str())
        .collect();
    assert_eq!(ccs, vec![max.as_str()], "{ps:?}");
    assert_eq!(
        ps.iter()
            .find(|p| p.address == max)
            .unwrap()
            .name
            .as_deref(),
        Some("Max Muster")
    );
    // The card shows who is on the case.
    assert!(
        card.text
            .contains(&format!("Cc:         Max Muster <{max}>")),
        "{}",
        card.text
    );

    // Ann answers: Jane gets it To, Max in Cc (one mail, both mailboxes).
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "Hello Jane, hello Max,\n\nwe are sending a technician today.\n\nAnn",
    );
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let to_jane = wait_ours(&w, &jane, 2).await.remove(1);
    let to_max = wait_ours(&w, &max, 1).await.remove(0);
    assert_eq!(to_jane.message_id, to_max.message_id);
    assert_eq!(cc_of(&to_jane), vec![max.clone()]);
    assert!(
        to_max.text.contains("sending a technician"),
        "{}",
        to_max.text
    );
    assert_eq!(
        to_jane
            .to
            .iter()
            .map(|t| t.normalized())
            .collect::<Vec<_>>(),
        vec![jane.clone()]
    );

    // Ann resolves: the resolved notice goes to both.
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#resolve\nThe technician replaced the fuser.",
    );
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let resolved = wait_ours(&w, &max, 2).await.remove(1);
    assert!(resolved.text.contains("resolved"), "{}", resolved.text);
    wait_ours(&w, &jane, 3).await;

    // Max's "thanks, solved" (reply-all through the customer reply address) closes nothing.
    let raw = thunderbird_reply(&max, "Max Muster", &resolved, "Thanks, solved!");
    w.send_raw(
        &max,
        &resolved.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("Max's thanks refused", WAIT, || async {
        let a = w.store().read().audit_of_case(Some(case.id)).unwrap();
        a.iter()
            .any(|e| e.event == AuditEvent::ClosingRefused)
            .then_some(())
    })
    .await;
    assert_eq!(case_now(&w, &case).status, Status::Resolved);
    // The agents see Max's word, and that it closed nothing.
    let told = wait_mail_where(&w, &w.ann, "the agents told of Max's thanks", |m| {
        m.text.contains("does not close")
    })
    .await;
    assert!(told.text.contains(&max), "{}", told.text);

    // Jane's does.
    let raw = thunderbird_reply(&jane, "Jane Doe", &resolved, "Thanks, solved!");
    w.send_raw(
        &jane,
        &resolved.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("the case closed by Jane", WAIT, || async {
        (case_now(&w, &case).status == Status::Closed).then_some(())
    })
    .await;
    // Nothing of ours reached Max but the answer and the resolved notice.
    assert_eq!(ours(&w, &max).await.len(), 2);
    // His data export holds the mail he was copied on (and not Jane's acknowledgment).
    let records = w.store().read().person_records(&max).unwrap();
    assert_eq!(records.cases.len(), 1);
    assert_eq!(records.cases[0].relation, "participant");
    let kinds: Vec<OutboundKind> = records.cases[0].outbound.iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        vec![OutboundKind::AgentReply, OutboundKind::AgentReply],
        "{kinds:?}"
    );
    // `mailcase case` names the people on the case.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(["case", &case.reference])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains(&format!("Max Muster {max} (cc)")), "{shown}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_put_people_on_and_take_them_off_and_a_customer_cannot() {
    let w = World::new("cc_commands", AGENTS);
    let d = w.start();
    let jane = w.customer("jane");
    let max = w.customer("max");
    let eve = w.customer("eve");
    w.send_complaint(&jane, "Jane Doe", "Refund", "Please refund order 1183.")
        .await;
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let case = w.wait_for_case_of(&jane).await;
    let agent_address = card.reply_to.as_ref().unwrap().address.clone();

    // `#cc add` with a name: Max gets this answer and the next ones.
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        &format!("#cc add Max Muster <{max}>\nHello Jane, I copied your colleague Max."),
    );
    w.send_raw(&w.ann, &agent_address, raw.as_bytes()).await;
    let first = wait_ours(&w, &max, 1).await.remove(0);
    assert!(
        first.text.contains("copied your colleague"),
        "{}",
        first.text
    );
    assert_eq!(first.cc[0].name.as_deref(), Some("Max Muster"));
    // Bob sees that Ann put Max on the case, and the Cc line.
    let bob = wait_mail(&w, &w.bob, 2).await;
    let seen = bob.last().unwrap();
    assert!(
        seen.text.contains(&format!("{max} put on the case")),
        "{}",
        seen.text
    );
    assert!(
        seen.text.contains(&format!("Max Muster <{max}>")),
        "{}",
        seen.text
    );

    // The customer writes "#cc add" in her reply and Cc's nobody: nothing is honoured.
    let jane_mail = wait_ours(&w, &jane, 2).await.remove(1);
    let raw = thunderbird_reply(
        &jane,
        "Jane Doe",
        &jane_mail,
        &format!("#cc add {eve}\nThanks for the quick answer."),
    );
    w.send_raw(
        &jane,
        &jane_mail.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    // Ann answers what she got last: Jane's message (the card is older than it, so an answer
    // to the card would be held until #send).
    let latest = wait_mail(&w, &w.ann, 2).await.remove(1);
    assert!(
        people(&w, &case).iter().all(|p| p.address != eve),
        "a customer's #cc is text, never a command"
    );

    // `#cc remove`: the next answer goes to Jane alone.
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &latest,
        &format!("#cc remove {max}\nHello Jane, the refund is on its way."),
    );
    w.send_raw(&w.ann, &agent_address, raw.as_bytes()).await;
    let last = wait_ours(&w, &jane, 3).await.remove(2);
    assert!(last.text.contains("refund is on its way"), "{}", last.text);
    assert!(last.cc.is_empty(), "{:?}", last.cc);
    let ps = people(&w, &case);
    assert!(ps.iter().any(|p| p.address == max && p.removed), "{ps:?}");

    // Jane Cc's Max again: he stays off (an agent removed him).
    let raw = format!(
        "From: Jane Doe <{jane}>\r\nTo: {to}\r\nCc: {max}\r\nSubject: Re: {subject}\r\nMessage-ID: <{id}@customer.test>\r\n\
         In-Reply-To: <{parent}>\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\nContent-Type: text/plain\r\n\r\nOne more question.\r\n",
        to = last.reply_to.as_ref().unwrap().address,
        subject = last.subject,
        id = unique("r"),
        parent = last.message_id.clone().unwrap(),
    );
    w.send_raw(
        &jane,
        &last.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_mail(&w, &w.ann, 3).await;
    let ps = people(&w, &case);
    assert!(ps.iter().any(|p| p.address == max && p.removed), "{ps:?}");
    // Max got the first answer only.
    assert_eq!(ours(&w, &max).await.len(), 1);

    // `#cc add` of an agent or a bad address is refused, with the reason.
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        &format!("#cc add {}\n#cc add not-an-address\nHello.", w.bob),
    );
    w.send_raw(&w.ann, &agent_address, raw.as_bytes()).await;
    let err = wait_mail_where(&w, &w.ann, "the command error", |m| {
        m.subject.contains("Not sent")
    })
    .await;
    assert!(err.text.contains("an agent"), "{}", err.text);
    assert!(err.text.contains("not an e-mail address"), "{}", err.text);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_copies_an_outsider_is_told_how_to_add_people() {
    let w = World::new("cc_outsider", AGENTS);
    let d = w.start();
    let jane = w.customer("jane");
    let lawyer = w.customer("lawyer");
    w.send_complaint(&jane, "Jane Doe", "Broken", "It is broken.")
        .await;
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let agent_address = card.reply_to.as_ref().unwrap().address.clone();
    // Ann's client sends to the agent reply address and to the outsider in Cc.
    let raw = thunderbird_reply(&w.ann, "Ann Agent", &card, "We will look at it.").replacen(
        "\r\nSubject:",
        &format!("\r\nCc: {lawyer}\r\nSubject:"),
        1,
    );
    w.send_raw(&w.ann, &agent_address, raw.as_bytes()).await;
    w.send_raw(&w.ann, &lawyer, raw.as_bytes()).await;
    // The outsider has Ann's raw mail, quoted card included: that is what happened.
    let got = wait_mail(&w, &lawyer, 1).await.remove(0);
    assert!(got.text.contains("New case"), "{}", got.text);
    // Ann is told, with the right way.
    let notice = wait_mail_where(&w, &w.ann, "the notice to Ann", |m| {
        m.text.contains("went straight to")
    })
    .await;
    assert!(notice.text.contains(&lawyer), "{}", notice.text);
    assert!(
        notice.text.contains(&format!("#cc add {lawyer}")),
        "{}",
        notice.text
    );
    // The answer itself went to the customer, and the outsider is no participant.
    wait_ours(&w, &jane, 2).await;
    let case = w.wait_for_case_of(&jane).await;
    assert!(people(&w, &case).iter().all(|p| p.address != lawyer));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cc_of_500_is_capped_and_the_rest_named_to_the_agents() {
    let w = World::new("cc_500", AGENTS);
    let d = w.start();
    let jane = w.customer("jane");
    let cc: Vec<String> = (0..500)
        .map(|i| format!("person{i:03}-{}@customer.test", w.tag))
        .collect();
    let mut header = cc.join(",\r\n ");
    header.push_str(&format!(",\r\n {},\r\n {}", w.support, w.bob));
    w.append(&complaint_with_cc(&w, &jane, &header)).await;
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let case = w.wait_for_case_of(&jane).await;
    let ps = people(&w, &case);
    let ccs: Vec<&str> = ps
        .iter()
        .filter(|p| p.role == ParticipantRole::Cc)
        .map(|p| p.address.as_str())
        .collect();
    assert_eq!(ccs.len(), 10, "conversation.max_participants = 10: {ccs:?}");
    assert!(ccs.iter().all(|a| a.starts_with("person")));
    assert!(card.text.contains("Not added:"), "{}", card.text);
    assert!(card.text.contains("and 480 more"), "{}", card.text);
    let audit = w.store().read().audit_of_case(Some(case.id)).unwrap();
    let over = audit
        .iter()
        .find(|a| a.event == AuditEvent::ParticipantsOverCap)
        .expect("audited");
    assert!(over.detail.contains("\"count\":490"), "{}", over.detail);
    // The acknowledgment still goes to Jane alone.
    let ack = wait_ours(&w, &jane, 1).await.remove(0);
    assert!(ack.cc.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_whose_mail_bounces_is_marked_and_the_others_still_get_mail() {
    let w = World::new("cc_bounce", AGENTS);
    let d = w.start();
    let jane = w.customer("jane");
    let max = w.customer("max");
    let kim = w.customer("kim");
    w.append(&complaint_with_cc(&w, &jane, &format!("{max}, {kim}")))
        .await;
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let case = w.wait_for_case_of(&jane).await;
    let agent_address = card.reply_to.as_ref().unwrap().address.clone();
    let raw = thunderbird_reply(&w.ann, "Ann Agent", &card, "First answer.");
    w.send_raw(&w.ann, &agent_address, raw.as_bytes()).await;
    let answer = wait_ours(&w, &kim, 1).await.remove(0);

    // Max's server returns the answer: a DSN naming Max.
    let report = dsn(&w.support, &max, answer.message_id.as_deref().unwrap());
    w.send_raw_null_sender(&w.support, report.as_bytes()).await;
    wait_for("Max marked undeliverable", WAIT, || async {
        people(&w, &case)
            .iter()
            .any(|p| p.address == max && p.undeliverable)
            .then_some(())
    })
    .await;
    // Jane and Kim are not marked: the report named Max only.
    assert!(people(&w, &case)
        .iter()
        .filter(|p| p.address != max)
        .all(|p| !p.undeliverable));

    // The next answer goes to Jane and Kim, not to Max.
    let raw = thunderbird_reply(&w.ann, "Ann Agent", &card, "Second answer.");
    w.send_raw(&w.ann, &agent_address, raw.as_bytes()).await;
    let second = wait_ours(&w, &kim, 2).await.remove(1);
    assert!(second.text.contains("Second answer"), "{}", second.text);
    assert_eq!(cc_of(&second), vec![kim.clone()]);
    assert_eq!(wait_ours(&w, &jane, 3).await.len(), 3);
    let out = w.store().read().outbox(Some(case.id)).unwrap();
    assert_eq!(
        out.iter()
            .filter(|o| o.kind == OutboundKind::AgentReply)
            .count(),
        2
    );
    d.stop().await;
}
