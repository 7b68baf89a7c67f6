//! Agents see each other, on the real Dovecot + Postfix: a colleague's answer, command and
//! internal note reach the other agents in the card's thread; an answer written against an
//! older state of the case is held and the agent told what happened since, until they send it
//! with `#send`; a second `#resolve` changes nothing and says so; an answer on a resolved case
//! reopens it visibly. What each person received is read from their Dovecot INBOX.

mod common;

use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::kinds::{AuditEvent, MessageOutcome, OutboundKind};
use mailcase::case::Status;
use mailcase::parse::InboundMessage;
use mailcase::store::CaseRow;

/// Ann and Bob, the agents of these tests.
const AGENTS: &str = ANN_AND_BOB;

/// A case of Jane's with its card in Ann's and Bob's INBOX.
struct Two {
    w: World,
    d: Daemon,
    jane: String,
    case: CaseRow,
    card_ann: InboundMessage,
    card_bob: InboundMessage,
}

impl Two {
    async fn start(name: &str, extra: &str) -> Two {
        let w = World::new(name, &format!("{extra}\n{AGENTS}"));
        let d = w.start();
        let jane = w.customer("jane");
        w.send_complaint(
            &jane,
            "Jane Doe",
            "Router slow",
            "My router has been slow since Monday.",
        )
        .await;
        let card_ann = wait_mail(&w, &w.ann, 1).await.remove(0);
        let card_bob = wait_mail(&w, &w.bob, 1).await.remove(0);
        let case = w.wait_for_case_of(&jane).await;
        Two {
            w,
            d,
            jane,
            case,
            card_ann,
            card_bob,
        }
    }

    /// `who` (Ann or Bob) replies to `parent` (mail in their INBOX) with `top`.
    async fn reply(&self, who: &str, name: &str, parent: &InboundMessage, top: &str) {
        let raw = thunderbird_reply(who, name, parent, top);
        self.w
            .send_raw(
                who,
                &parent.reply_to.as_ref().unwrap().address,
                raw.as_bytes(),
            )
            .await;
    }

    fn case(&self) -> CaseRow {
        self.w
            .store()
            .read()
            .case_by_reference(&self.case.reference)
            .unwrap()
            .unwrap()
    }

    async fn customer_mail(&self, n: usize) -> Vec<InboundMessage> {
        wait_mail(&self.w, &self.jane, n).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_colleague_sees_an_answer_a_command_and_a_note_in_the_cards_thread() {
    let t = Two::start("coll_see", "").await;
    t.reply(
        &t.w.ann,
        "Ann Agent",
        &t.card_ann,
        "#priority urgent\nHello Jane, we are on it.",
    )
    .await;
    let bob = wait_mail(&t.w, &t.w.bob, 2).await;
    let seen = &bob[1];
    assert!(
        seen.text.contains("Ann Agent answered the customer."),
        "{}",
        seen.text
    );
    assert!(
        seen.text.contains("Commands: #priority urgent"),
        "{}",
        seen.text
    );
    assert!(
        seen.text.contains("priority normal → urgent"),
        "{}",
        seen.text
    );
    assert!(seen.text.contains("we are on it"), "{}", seen.text);
    // In the card's thread, from the support name, Reply-To the case's agent address.
    let card_id = t.card_bob.message_id.clone().unwrap();
    assert!(seen.references.contains(&card_id), "{:?}", seen.references);
    assert!(seen.subject.contains(&t.case.reference));
    assert_eq!(seen.reply_to, t.card_bob.reply_to);
    // Ann is not told of her own answer.
    assert_eq!(t.w.mailbox(&t.w.ann, "INBOX").await.len(), 1);

    t.reply(
        &t.w.ann,
        "Ann Agent",
        &t.card_ann,
        "#note the customer called, line test pending",
    )
    .await;
    let bob = wait_mail(&t.w, &t.w.bob, 3).await;
    assert!(
        bob[2].text.contains("Ann Agent added an internal note."),
        "{}",
        bob[2].text
    );
    assert!(bob[2].text.contains("line test pending"), "{}", bob[2].text);
    // The note never reached the customer: the ack and the answer only.
    assert_eq!(t.customer_mail(2).await.len(), 2);
    t.d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_written_against_an_older_state_is_held_until_the_agent_sends_it() {
    let t = Two::start("coll_held", "").await;
    // Ann answers first.
    t.reply(
        &t.w.ann,
        "Ann Agent",
        &t.card_ann,
        "Hello Jane, please restart the router.",
    )
    .await;
    t.customer_mail(2).await;
    wait_mail(&t.w, &t.w.bob, 2).await;
    // Bob answers the card, written before he read Ann's answer: held.
    t.reply(
        &t.w.bob,
        "Bob Agent",
        &t.card_bob,
        "Hello Jane, we will send a new router.",
    )
    .await;
    let held = wait_mail_where(&t.w, &t.w.bob, "the held notice to Bob", |m| {
        m.subject.contains("Not sent")
    })
    .await;
    assert!(held.text.contains("NOT sent"), "{}", held.text);
    assert!(
        held.text.contains("please restart the router"),
        "{}",
        held.text
    );
    assert!(held.text.contains("#send"), "{}", held.text);
    assert!(
        held.text.contains("we will send a new router"),
        "{}",
        held.text
    );
    let msgs = t.w.store().read().messages_of_case(t.case.id).unwrap();
    assert!(msgs.iter().any(|m| m.outcome == MessageOutcome::AnswerHeld));
    // The customer got nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(t.w.mailbox(&t.jane, "INBOX").await.len(), 2);

    // Bob read it and sends it anyway.
    t.reply(&t.w.bob, "Bob Agent", &held, "#send").await;
    let jane = t.customer_mail(3).await;
    assert!(
        jane[2].text.contains("we will send a new router"),
        "{}",
        jane[2].text
    );
    assert!(jane[2]
        .from
        .as_ref()
        .unwrap()
        .name
        .as_deref()
        .unwrap()
        .starts_with("Bob Agent"));
    let msgs = t.w.store().read().messages_of_case(t.case.id).unwrap();
    assert!(msgs.iter().all(|m| m.outcome != MessageOutcome::AnswerHeld));
    let audit = t.w.store().read().audit_of_case(Some(t.case.id)).unwrap();
    assert!(audit.iter().any(|a| a.event == AuditEvent::AnswerHeld));
    assert!(audit.iter().any(|a| a.event == AuditEvent::AnswerReleased));
    // Ann sees Bob's answer.
    let ann = wait_mail(&t.w, &t.w.ann, 2).await;
    assert!(
        ann[1].text.contains("Bob Agent answered the customer."),
        "{}",
        ann[1].text
    );
    t.d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_resolve_changes_nothing_and_an_answer_on_a_resolved_case_reopens_it_visibly() {
    let t = Two::start("coll_resolve", "").await;
    t.reply(
        &t.w.ann,
        "Ann Agent",
        &t.card_ann,
        "#resolve\nWe replaced your router.",
    )
    .await;
    let resolved_notice = wait_mail(&t.w, &t.w.bob, 2).await.remove(1);
    assert!(
        resolved_notice.text.contains("status"),
        "{}",
        resolved_notice.text
    );
    t.customer_mail(2).await;
    assert_eq!(t.case().status, Status::Resolved);

    // Bob, having seen it, resolves again: nothing changes, and he is told who resolved it.
    t.reply(&t.w.bob, "Bob Agent", &resolved_notice, "#resolve")
        .await;
    let told = wait_mail_where(&t.w, &t.w.bob, "the notice to Bob", |m| {
        m.text.contains("changed nothing")
    })
    .await;
    assert!(
        told.text.contains("already resolved by Ann Agent"),
        "{}",
        told.text
    );
    assert_eq!(t.case().reopen_count, 0);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        t.w.mailbox(&t.jane, "INBOX").await.len(),
        2,
        "no second resolved mail"
    );

    // Bob answers the resolved case: it reopens, counted and audited, and Ann is told.
    t.reply(
        &t.w.bob,
        "Bob Agent",
        &resolved_notice,
        "Hello Jane, one more thing: please keep the old router for pickup.",
    )
    .await;
    t.customer_mail(3).await;
    let c = t.case();
    assert_eq!(c.status, Status::InProgress);
    assert_eq!(c.reopen_count, 1);
    let audit = t.w.store().read().audit_of_case(Some(t.case.id)).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.event == AuditEvent::Reopened && a.detail.contains("agent answer")));
    assert!(audit
        .iter()
        .any(|a| a.event == AuditEvent::Status && a.detail.contains("reopened")));
    let ann = wait_mail(&t.w, &t.w.ann, 2).await;
    assert!(ann[1].text.contains("REOPENED"), "{}", ann[1].text);
    let out = t.w.store().read().outbox(Some(t.case.id)).unwrap();
    assert_eq!(
        out.iter()
            .filter(|o| o.kind == OutboundKind::AgentColleague)
            .count(),
        2
    );
    t.d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_involved_only_the_agents_who_took_part_see_it() {
    let t = Two::start("coll_involved", "[agents]\ncolleagues = \"involved\"\n").await;
    // Ann answers: Bob has not taken part and is not the assignee, so he is not told.
    t.reply(
        &t.w.ann,
        "Ann Agent",
        &t.card_ann,
        "Hello Jane, we are on it.",
    )
    .await;
    t.customer_mail(2).await;
    // Bob, replying to the card after Ann's answer, is held (he had not seen it)...
    t.reply(&t.w.bob, "Bob Agent", &t.card_bob, "#note checked the line")
        .await;
    // ...but a note is never held: it is stored, and Ann, who took part, sees it.
    let ann = wait_mail(&t.w, &t.w.ann, 2).await;
    assert!(
        ann[1].text.contains("Bob Agent added an internal note."),
        "{}",
        ann[1].text
    );
    let bob = t.w.mailbox(&t.w.bob, "INBOX").await;
    assert_eq!(
        bob.len(),
        1,
        "Bob only has the card: {:?}",
        bob.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    t.d.stop().await;
}
