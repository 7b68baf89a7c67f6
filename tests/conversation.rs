//! The whole conversation on the real Dovecot + Postfix: a customer complains, the agents get
//! the case card, an agent answers from Thunderbird, Outlook or Gmail (replies built the way
//! those clients build them: quoting, In-Reply-To, References), the customer gets the answer
//! threaded and without the quoted history, replies, and so on. Every message travels through
//! Postfix and is read back from the recipients' Dovecot mailboxes.

mod common;

use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::kinds::{Audience, AuditEvent, MessageOutcome, TimerKind, Visibility};
use mailcase::case::Status;
use mailcase::parse::InboundMessage;
use mailcase::store::CaseRow;

/// Ann and Bob, the agents of these tests.
const AGENTS: &str = ANN_AND_BOB;

const WAIT: Duration = Duration::from_secs(60);

/// A started world with one complaint acknowledged and notified.
struct Conv {
    w: World,
    d: Option<Daemon>,
    customer: String,
    complaint_id: String,
    ack: InboundMessage,
    card: InboundMessage,
    case: CaseRow,
}

impl Conv {
    async fn start(name: &str, extra: &str) -> Conv {
        let w = World::new(name, &format!("{AGENTS}\n{extra}"));
        let d = w.start();
        let customer = w.customer("jane");
        let complaint_id = format!("{}@customer.test", unique("c"));
        let raw = format!(
            "From: Jane Doe <{customer}>\r\nTo: Support <{support}>\r\nSubject: Invoice charged twice\r\n\
             Message-ID: <{complaint_id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
             Hello, my November invoice was charged twice. Please refund one payment.\r\n\r\nJane\r\n\
             --b1\r\nContent-Type: application/pdf; name=\"invoice-1127.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-1127.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJWZha2UgcGRmCg==\r\n--b1--\r\n",
            support = w.support
        );
        w.send_raw(&customer, &w.support, raw.as_bytes()).await;
        let ack = w.wait_for_acks(&customer).await.remove(0);
        let card = wait_mail(&w, &w.ann, 1).await.remove(0);
        let case = w.store().read().cases().unwrap().remove(0);
        Conv {
            w,
            d: Some(d),
            customer,
            complaint_id,
            ack,
            card,
            case,
        }
    }

    fn case(&self) -> CaseRow {
        self.w
            .store()
            .read()
            .case_by_reference(&self.case.reference)
            .unwrap()
            .unwrap()
    }

    /// Sends `raw` from `from` to the reply address of `reply_to` (as a mail client does when
    /// the user presses Reply).
    async fn reply(&self, from: &str, to_msg: &InboundMessage, raw: String) {
        let to = to_msg
            .reply_to
            .as_ref()
            .expect("our mail has Reply-To")
            .address
            .clone();
        self.w.send_raw(from, &to, raw.as_bytes()).await;
    }

    async fn wait_outcome(&self, outcome: MessageOutcome, n: usize) {
        let id = self.case.id;
        wait_for(
            &format!("{n} message(s) with outcome {outcome}"),
            WAIT,
            || async {
                let m = self.w.store().read().messages_of_case(id).unwrap();
                (m.iter().filter(|m| m.outcome == outcome).count() >= n).then_some(())
            },
        )
        .await
    }

    async fn stop(mut self) {
        if let Some(d) = self.d.take() {
            d.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_get_the_case_card_and_a_thunderbird_answer_reaches_the_customer_threaded_and_stripped(
) {
    let c = Conv::start("conv_tb", "").await;
    let reference = c.case.reference.clone();

    // The customer's acknowledgment carries the customer's signed reply address.
    let rt = c.ack.reply_to.as_ref().unwrap().address.to_lowercase();
    assert!(
        rt.starts_with(&format!(
            "{}+c.{}.",
            c.w.support.split('@').next().unwrap(),
            reference.to_lowercase()
        )),
        "{rt}"
    );

    // Both agents got one card: reference, customer, category, priority, due time, the
    // complaint and its attachment, Reply-To the agent address.
    for agent in [&c.w.ann, &c.w.bob] {
        let cards = wait_mail(&c.w, agent, 1).await;
        assert_eq!(cards.len(), 1);
        let card = &cards[0];
        assert!(
            card.subject.contains(&format!("[{reference}]")),
            "{}",
            card.subject
        );
        let art = card.reply_to.as_ref().unwrap().address.to_lowercase();
        assert!(
            art.contains(&format!("+a.{}.", reference.to_lowercase())),
            "{art}"
        );
        for needle in [
            reference.as_str(),
            "Jane Doe",
            c.customer.as_str(),
            "Billing",
            "charged twice",
            "invoice-1127.pdf",
            "Answer by:",
        ] {
            assert!(
                card.text.contains(needle),
                "card lacks {needle}:\n{}",
                card.text
            );
        }
        assert_eq!(card.attachments.len(), 1, "the customer's PDF is attached");
        assert_eq!(card.header("auto-submitted"), Some("auto-generated"));
    }

    // Ann answers from Thunderbird.
    let raw = thunderbird_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "Hello Jane,\r\n\r\nwe have refunded the second payment; you will see it in 3-5 days.\r\n\r\nAnn",
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 2).await;
    let answer = &mails[1];
    assert_eq!(
        answer.from.as_ref().unwrap().name.as_deref(),
        Some("Ann Agent via Example Support")
    );
    assert_eq!(answer.from.as_ref().unwrap().address, c.w.support);
    assert!(
        answer.subject.contains(&format!("[{reference}]")),
        "{}",
        answer.subject
    );
    assert!(answer.text.contains("refunded the second payment"));
    assert!(
        !answer.text.contains("wrote:"),
        "quoted history stripped:\n{}",
        answer.text
    );
    assert!(!answer.text.contains("Answer by:"), "{}", answer.text);
    // Threaded into the customer's conversation: a reply to our acknowledgment, whose
    // References start at the complaint.
    assert_eq!(answer.in_reply_to, vec![c.ack.message_id.clone().unwrap()]);
    assert_eq!(answer.references.first(), Some(&c.complaint_id));
    assert!(
        answer.header("auto-submitted").is_none(),
        "a person's answer"
    );
    let rt = answer.reply_to.as_ref().unwrap().address.to_lowercase();
    assert!(
        rt.contains(&format!("+c.{}.", reference.to_lowercase())),
        "{rt}"
    );

    let case = c.case();
    assert_eq!(case.status, Status::InProgress);
    assert!(
        case.first_response_at.is_some(),
        "first-response clock stopped"
    );
    let msgs = c.w.store().read().messages_of_case(case.id).unwrap();
    let agent_msg = msgs
        .iter()
        .find(|m| m.outcome == MessageOutcome::AgentReply)
        .unwrap();
    assert!(
        agent_msg.body_text.contains("wrote:"),
        "the raw text is kept whole"
    );
    assert!(!agent_msg.reply_text.as_deref().unwrap().contains("wrote:"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_wait_then_gmail_customer_reply_comes_back_to_the_agents_in_their_thread() {
    let c = Conv::start("conv_ol", "").await;
    // Ann asks a question from Outlook (German Outlook writes AW:) and waits.
    let raw = outlook_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "#wait\r\nHello Jane, could you send us the last four digits of the card?\r\nAnn",
        "AW:",
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 2).await;
    let question = &mails[1];
    assert!(question.text.contains("last four digits"));
    assert!(!question.text.contains("#wait"), "commands are not relayed");
    assert!(
        !question.text.contains("Sent:"),
        "Outlook header block stripped"
    );
    assert!(!question.subject.contains("AW:"), "{}", question.subject);
    assert_eq!(c.case().status, Status::WaitingOnCustomer);

    // Jane answers from Gmail, to the address in Reply-To.
    let raw = gmail_reply(&c.customer, "Jane Doe", question, "Sure: 4242.\nThanks!");
    c.reply(&c.customer, question, raw).await;
    // Bob has the card, Ann's answer as his colleague saw it, then Jane's reply.
    let agent_mail = wait_mail(&c.w, &c.w.bob, 3).await;
    let fwd = &agent_mail[2];
    assert!(fwd.text.contains("4242"), "{}", fwd.text);
    assert!(
        !fwd.text.contains("last four digits"),
        "quote stripped:\n{}",
        fwd.text
    );
    // Same thread in the agent's client: a reply to the agents' side, rooted at the card.
    let card_id = c.card.message_id.clone().unwrap();
    assert_eq!(fwd.references.first(), Some(&card_id));
    assert!(fwd.subject.contains(&c.case.reference));
    assert_eq!(
        c.case().status,
        Status::InProgress,
        "the customer's reply resumes the case"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_never_reaches_the_customer_and_an_unknown_command_goes_back_to_the_agent() {
    let c = Conv::start("conv_note", "").await;
    let raw = thunderbird_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "#note\r\n#priority urgent\r\nCustomer called, very upset; checking with billing.",
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    c.wait_outcome(MessageOutcome::AgentNote, 1).await;
    let case = c.case();
    assert_eq!(case.priority, "urgent", "commands in a note still apply");
    assert!(case.first_response_at.is_none(), "a note is not an answer");

    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.card, "#reslove\r\nAll done, bye.");
    c.reply(&c.w.ann, &c.card, raw).await;
    let ann = wait_mail(&c.w, &c.w.ann, 2).await;
    let bounce = &ann[1];
    assert!(bounce.text.contains("NOT sent"), "{}", bounce.text);
    assert!(
        bounce.text.contains("#reslove: unknown command"),
        "{}",
        bounce.text
    );
    assert!(bounce.text.contains("#resolve"), "help lists the commands");
    assert_eq!(c.case().status, Status::Acknowledged, "nothing changed");

    // The customer only ever got the acknowledgment: nothing else was queued to them.
    let out = c.w.store().read().outbox(Some(c.case.id)).unwrap();
    let to_customer: Vec<_> = out
        .iter()
        .filter(|o| o.audience == Audience::Customer)
        .collect();
    assert_eq!(to_customer.len(), 1, "{to_customer:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(c.w.mailbox(&c.customer, "INBOX").await.len(), 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_forged_tokens_never_get_into_a_case() {
    let c = Conv::start("conv_stranger", "").await;
    let reference = c.case.reference.clone();
    let agent_addr = c.card.reply_to.as_ref().unwrap().address.clone();

    // 1. A stranger quoting Jane's reference gets a new case, linked, and the agents are told.
    let mallory = c.w.customer("mallory");
    let raw = format!(
        "From: Mallory <{mallory}>\r\nTo: {}\r\nSubject: Re: [{reference}] what is the status?\r\n\
         Message-ID: <{}@evil.test>\r\n\r\nPlease send me the invoice details of this case.\r\n",
        c.w.support,
        unique("m")
    );
    c.w.send_raw(&mallory, &c.w.support, raw.as_bytes()).await;
    let cards = wait_mail(&c.w, &c.w.ann, 2).await;
    let linked_card = &cards[1];
    assert!(
        !linked_card.subject.contains(&reference),
        "{}",
        linked_card.subject
    );
    assert!(
        linked_card
            .text
            .contains(&format!("quotes case {reference}")),
        "{}",
        linked_card.text
    );
    let cases = c.w.store().read().cases().unwrap();
    let new = cases
        .iter()
        .find(|k| k.customer_address == mallory)
        .unwrap();
    assert_eq!(new.linked_case_id, Some(c.case.id));

    // 2. A forged agent token (one MAC symbol changed) with a command: no token, so a new
    //    case for the sender; Jane's case is not resolved.
    let at = agent_addr.find('@').unwrap();
    let mut local = agent_addr[..at].to_string();
    let last = local.pop().unwrap();
    local.push(if last == '0' { '1' } else { '0' });
    let forged = format!("{local}{}", &agent_addr[at..]);
    let raw = format!(
        "From: Ann Agent <{}>\r\nTo: {forged}\r\nSubject: Re: [{reference}] x\r\nMessage-ID: <{}@evil.test>\r\n\r\n#resolve\r\nClosing this.\r\n",
        mallory,
        unique("m")
    );
    c.w.send_raw(&mallory, &forged, raw.as_bytes()).await;
    // 3. A valid agent token used by someone who is not an agent: an unverified note.
    let raw = format!(
        "From: Mallory <{mallory}>\r\nTo: {agent_addr}\r\nSubject: Re: [{reference}] x\r\nMessage-ID: <{}@evil.test>\r\n\r\n#resolve\r\nYour refund is cancelled.\r\n",
        unique("m")
    );
    c.w.send_raw(&mallory, &agent_addr, raw.as_bytes()).await;
    c.wait_outcome(MessageOutcome::UnverifiedNote, 1).await;
    wait_for("the forged-token mail in its own case", WAIT, || async {
        let n = c.w.store().read().cases().unwrap().len();
        (n >= 3).then_some(())
    })
    .await;
    let case = c.case();
    assert_eq!(
        case.status,
        Status::Acknowledged,
        "nobody but an agent changes the case"
    );
    let msgs = c.w.store().read().messages_of_case(case.id).unwrap();
    let note = msgs
        .iter()
        .find(|m| m.outcome == MessageOutcome::UnverifiedNote)
        .unwrap();
    assert!(!note.verified && note.visibility == Visibility::Internal);
    assert!(note
        .note
        .as_deref()
        .unwrap()
        .contains("not a configured agent"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jane = c.w.mailbox(&c.customer, "INBOX").await;
    assert_eq!(jane.len(), 1, "Jane got only her acknowledgment");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_tells_the_customer_and_their_reply_reopens_the_case_and_tells_the_agents() {
    let c = Conv::start("conv_reopen", "").await;
    let raw = gmail_reply(
        &c.w.bob,
        "Bob Agent",
        &c.card,
        "#resolve\nHello Jane, the duplicate payment is refunded.\nBob",
    );
    c.reply(&c.w.bob, &c.card, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 2).await;
    let answer = &mails[1];
    assert!(answer.text.contains("duplicate payment is refunded"));
    assert!(
        answer.text.contains("marked your case"),
        "resolved notice included:\n{}",
        answer.text
    );
    assert!(answer.text.contains("14 days"), "{}", answer.text);
    let case = c.case();
    assert_eq!(case.status, Status::Resolved);
    assert!(case.resolved_at.is_some());

    // Jane is not satisfied and replies with Apple Mail.
    let pid = answer.message_id.clone().unwrap();
    let mut refs = answer.references.clone();
    refs.push(pid.clone());
    let to = answer.reply_to.as_ref().unwrap().address.clone();
    let raw = format!(
        "From: Jane Doe <{}>\r\nTo: {to}\r\nSubject: Re: {}\r\nMessage-ID: <{}@customer.test>\r\nIn-Reply-To: <{pid}>\r\n\
         References: {}\r\nX-Mailer: Apple Mail (2.3731)\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         No, I still see both payments on my statement.\r\n\r\nSent from my iPhone\r\n\r\n> On 23 Nov 2026, at 11:00, Example Support wrote:\r\n> \r\n> {}\r\n",
        c.customer,
        answer.subject,
        unique("r"),
        ids_header(&refs),
        answer.text.lines().next().unwrap_or_default()
    );
    c.w.send_raw(&c.customer, &to, raw.as_bytes()).await;
    let bob = wait_mail(&c.w, &c.w.bob, 2).await;
    let fwd = &bob[1];
    assert!(fwd.text.contains("REOPENED"), "{}", fwd.text);
    assert!(fwd.text.contains("still see both payments"));
    assert!(!fwd.text.contains("Sent from my iPhone"), "{}", fwd.text);
    let case = c.case();
    assert_eq!(case.status, Status::InProgress);
    assert_eq!(case.reopen_count, 1);
    let audit = c.w.store().read().audit_of_case(Some(case.id)).unwrap();
    assert!(audit.iter().any(|a| a.event == AuditEvent::Reopened));
    let statuses: Vec<&str> = audit
        .iter()
        .filter(|a| a.event == AuditEvent::Status)
        .map(|a| a.detail.as_str())
        .collect();
    assert!(
        statuses.iter().any(|d| d.contains("\"to\":\"resolved\"")),
        "{statuses:?}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_writing_into_the_customer_thread_is_not_relayed_and_is_told_why() {
    let c = Conv::start("conv_side", "").await;
    // Ann replies to Jane's acknowledgment (say Jane forwarded it to her): that is the
    // customer's reply address, not the agents'.
    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.ack, "#resolve\r\nDone.");
    c.reply(&c.w.ann, &c.ack, raw).await;
    c.wait_outcome(MessageOutcome::UnverifiedNote, 1).await;
    let ann = wait_mail(&c.w, &c.w.ann, 2).await;
    assert!(
        ann[1].text.contains("internal note only"),
        "{}",
        ann[1].text
    );
    assert_eq!(c.case().status, Status::Acknowledged);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_mode_relays_only_what_our_server_authenticated() {
    let c = Conv::start(
        "conv_strict",
        "[agents]\nverify = \"authentication-results\"\nauthserv_id = \"mx.support.test\"\n",
    )
    .await;
    // No Authentication-Results at all: an unverified note.
    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.card, "Refunded.");
    c.reply(&c.w.ann, &c.card, raw).await;
    c.wait_outcome(MessageOutcome::UnverifiedNote, 1).await;
    assert!(c.case().first_response_at.is_none());

    // Our server's field saying DKIM passed for the agent's domain, with a forged "pass"
    // from elsewhere below it that must not matter either way.
    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.card, "Refunded, really.");
    let raw = format!(
        "Authentication-Results: mx.support.test; dkim=pass header.d=support.test header.i=@support.test; dmarc=pass header.from=support.test\r\n\
         Authentication-Results: evil.test; dkim=pass header.d=support.test\r\n{raw}"
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 2).await;
    assert!(mails[1].text.contains("Refunded, really."));
    assert!(mails.iter().all(|m| !m.text.contains("Refunded.\r")));
    assert!(c.case().first_response_at.is_some());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_after_the_reopen_window_opens_a_new_linked_case() {
    let c = Conv::start("conv_late", "[conversation]\nreopen_window = \"1s\"\n").await;
    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.card, "#resolve\r\nRefunded.");
    c.reply(&c.w.ann, &c.card, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 2).await;
    assert_eq!(c.case().status, Status::Resolved);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let raw = gmail_reply(
        &c.customer,
        "Jane Doe",
        &mails[1],
        "It happened again this month.",
    );
    c.reply(&c.customer, &mails[1], raw).await;
    // A new case with its own acknowledgment, linked to the old one; the old stays resolved.
    let jane = wait_mail(&c.w, &c.customer, 3).await;
    let cases = c.w.store().read().cases().unwrap();
    assert_eq!(cases.len(), 2);
    let new = cases.iter().find(|k| k.id != c.case.id).unwrap();
    assert_eq!(new.linked_case_id, Some(c.case.id));
    assert!(
        jane[2].subject.contains(&new.reference),
        "{}",
        jane[2].subject
    );
    assert_eq!(c.case().status, Status::Resolved);
    let ann = wait_mail(&c.w, &c.w.ann, 2).await;
    let card = ann
        .iter()
        .find(|m| m.subject.contains(&new.reference))
        .unwrap();
    assert!(
        card.text
            .contains(&format!("answered their case {}", c.case.reference)),
        "{}",
        card.text
    );
    // An agent can still reopen the old case explicitly.
    let raw = thunderbird_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "#reopen\r\n#note\r\nReopening: same root cause.",
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    wait_for("reopened by #reopen", WAIT, || async {
        (c.case().status == Status::InProgress).then_some(())
    })
    .await;
    assert_eq!(c.case().reopen_count, 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_priority_category_and_assignment_by_command() {
    let c = Conv::start("conv_cmds", "").await;
    // Commands only, no text: the priority rises, and the customer is told alone.
    let raw = outlook_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "#priority urgent\r\n#category general\r\n#assign <BOB@support.test>",
        "RE:",
    )
    .replace("<BOB@support.test>", &format!("<{}>", c.w.bob));
    c.reply(&c.w.ann, &c.card, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 2).await;
    let update = &mails[1];
    assert!(
        update.text.contains("raised the priority"),
        "{}",
        update.text
    );
    assert!(update.text.contains("Urgent"), "{}", update.text);
    assert!(update.text.contains("within 2 hours"), "{}", update.text);
    assert_eq!(update.header("auto-submitted"), Some("auto-generated"));
    let case = c.case();
    assert_eq!(case.priority, "urgent");
    assert_eq!(case.category, "general");
    assert_eq!(case.assignee.as_deref(), Some(c.w.bob.as_str()));
    assert!(
        case.first_response_at.is_none(),
        "commands alone are not an answer"
    );
    // The first-response breach timer moved to the urgent target (2 hours, wall clock).
    let breach =
        c.w.store()
            .read()
            .timers(Some(case.id))
            .unwrap()
            .into_iter()
            .find(|t| {
                t.kind == TimerKind::FirstResponseBreach
                    && t.fired_at.is_none()
                    && t.cancelled_at.is_none()
            })
            .expect("an active breach timer");
    assert_eq!(Some(breach.target_at), case.first_response_due);
    let due = breach.target_at;
    let created = case.created_at;
    assert!(
        due - created <= chrono::Duration::hours(2) + chrono::Duration::minutes(1),
        "{due}"
    );

    // Escalation with an internal reason and an answer: the customer gets the answer with
    // the escalation notice and a timeline, never the internal reason.
    // Bob answers the latest mail he got (Ann's answer, as his colleague saw it): he has seen
    // the case as it is, so the collision guard lets it through.
    let latest = wait_mail(&c.w, &c.w.bob, 2).await.pop().unwrap();
    let raw = thunderbird_reply(
        &c.w.bob,
        "Bob Agent",
        &latest,
        "#escalate customer threatens to cancel the contract\r\nDear Jane, I have passed your case to our billing lead.",
    );
    c.reply(&c.w.bob, &latest, raw).await;
    let mails = wait_mail(&c.w, &c.customer, 3).await;
    let esc = &mails[2];
    assert!(esc.text.contains("billing lead"));
    assert!(esc.text.contains("escalated"), "{}", esc.text);
    assert!(esc.text.contains("by "), "a timeline: {}", esc.text);
    assert!(
        !esc.text.contains("threatens"),
        "internal reason stays internal"
    );
    let case = c.case();
    assert_eq!(case.status, Status::Escalated);
    let audit = c.w.store().read().audit_of_case(Some(case.id)).unwrap();
    assert!(audit.iter().any(|r| r.event == AuditEvent::Status
        && r.actor == c.w.bob
        && r.detail.contains("threatens")));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_out_of_office_reply_to_a_card_is_recorded_and_never_answered() {
    let c = Conv::start("conv_ooo", "").await;
    let to = c.card.reply_to.as_ref().unwrap().address.clone();
    let raw = format!(
        "From: Ann Agent <{ann}>\r\nTo: {to}\r\nSubject: Automatic reply: {subject}\r\nAuto-Submitted: auto-replied\r\n\
         X-Auto-Response-Suppress: All\r\nIn-Reply-To: <{pid}>\r\nMessage-ID: <{id}@support.test>\r\n\r\n\
         #resolve\r\nI am out of the office until Monday.\r\n",
        ann = c.w.ann,
        subject = c.card.subject,
        pid = c.card.message_id.clone().unwrap(),
        id = unique("ooo"),
    );
    c.w.send_raw(&c.w.ann, &to, raw.as_bytes()).await;
    let id = c.case.id;
    wait_for("the auto-reply recorded on the case", WAIT, || async {
        let m = c.w.store().read().messages_of_case(id).unwrap();
        m.iter().any(|m| m.robot.is_some()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        c.case().status,
        Status::Acknowledged,
        "a robot's #resolve is not a command"
    );
    assert_eq!(
        c.w.mailbox(&c.w.ann, "INBOX").await.len(),
        1,
        "no error mail back to an auto-reply: that is how loops start"
    );
    assert_eq!(c.w.mailbox(&c.customer, "INBOX").await.len(), 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_asks_a_question_waits_on_the_customer() {
    let c = Conv::start("conv_question", "").await;
    let raw = thunderbird_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "Hello Jane,\r\n\r\nwhich card did you pay with?\r\n\r\nAnn",
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    wait_mail(&c.w, &c.customer, 2).await;
    let case = c.case();
    assert_eq!(case.status, Status::WaitingOnCustomer);
    assert!(case.sla_paused_at.is_some(), "the SLA clock is paused");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_only_quotes_relays_nothing() {
    let c = Conv::start("conv_quote_only", "").await;
    // Ann hits Reply and Send without writing anything: only the quoted card goes back.
    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.card, "");
    c.reply(&c.w.ann, &c.card, raw).await;
    let ann = wait_mail(&c.w, &c.w.ann, 2).await;
    assert!(ann[1].text.contains("empty"), "{}", ann[1].text);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        c.w.mailbox(&c.customer, "INBOX").await.len(),
        1,
        "nothing quoted is relayed to the customer"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_command_gets_a_suggestion_and_replying_to_that_mail_applies_the_fix() {
    let c = Conv::start("conv_fix", "").await;
    let reference = c.case.reference.clone();

    // Text beside `#note` is the note, not a reason to refuse it.
    let raw = thunderbird_reply(&c.w.ann, "Ann Agent", &c.card, "#note checking logs");
    c.reply(&c.w.ann, &c.card, raw).await;
    c.wait_outcome(MessageOutcome::AgentNote, 1).await;

    let raw = thunderbird_reply(
        &c.w.ann,
        "Ann Agent",
        &c.card,
        "#reslove\r\nThe second payment is refunded.",
    );
    c.reply(&c.w.ann, &c.card, raw).await;
    let ann = wait_mail(&c.w, &c.w.ann, 2).await;
    let error = &ann[1];
    assert!(
        error
            .text
            .contains("#reslove: unknown command; did you mean #resolve?"),
        "{}",
        error.text
    );
    assert!(
        error
            .text
            .contains("Reply to this message with the corrected commands"),
        "{}",
        error.text
    );
    assert!(
        error.text.contains("Priorities: urgent, normal"),
        "{}",
        error.text
    );
    assert_eq!(
        error.reply_to.as_ref().map(|m| m.address.to_lowercase()),
        c.card.reply_to.as_ref().map(|m| m.address.to_lowercase()),
        "the error mail answers to the case's agent address, like the card"
    );
    assert_eq!(
        error.subject,
        format!("[{reference}] Not sent: Invoice charged twice"),
        "it stands out beside the card in the inbox list"
    );

    // Ann does what it says: replies to the error mail with the corrected command.
    let raw = thunderbird_reply(
        &c.w.ann,
        "Ann Agent",
        error,
        "#resolve\r\nThe second payment is refunded.",
    );
    c.reply(&c.w.ann, error, raw).await;
    c.wait_outcome(MessageOutcome::AgentReply, 1).await;
    assert_eq!(c.case().status, Status::Resolved);
    let mine = wait_mail(&c.w, &c.customer, 2).await;
    let answer = &mine[1];
    assert!(
        answer.text.starts_with("The second payment is refunded."),
        "only the corrected answer reaches the customer: {}",
        answer.text
    );
    assert!(!answer.text.contains("#resolve") && !answer.text.contains("NOT sent"));
    // The footer is a real signature (`-- `, the space kept through tera, lettre, Postfix
    // and Dovecot), and the subject carries no `Re:` of ours.
    assert!(answer.text.lines().any(|l| l == "-- "), "{:?}", answer.text);
    assert_eq!(
        answer.subject,
        format!("[{reference}] Invoice charged twice")
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acknowledgment_restates_what_the_customer_wrote_without_their_signature_wrapped() {
    let w = World::new("conv_excerpt", AGENTS);
    let d = w.start();
    let short = w.customer("shorty");
    let raw = format!(
        "From: Sam Short <{short}>\r\nTo: {support}\r\nSubject: Re: AW: Printer jam\r\nMessage-ID: <{id}@customer.test>\r\n\r\n\
         The printer jams on every page.\r\n\r\n-- \r\nSam Short\r\nSam Short Printing Ltd\r\n",
        support = w.support,
        id = unique("short")
    );
    w.send_raw(&short, &w.support, raw.as_bytes()).await;
    let long = w.customer("longy");
    let body = "My order 4711 arrived broken. The box was crushed on one side and the glass \
                inside is cracked in three places! I need a replacement before the weekend, \
                because it is a present for my mother who turns seventy on Sunday and we \
                planned the whole party around it. Please tell me what to do next and whether \
                I should send the broken one back to you first, or keep it for the courier.";
    let raw = format!(
        "From: Lee Long <{long}>\r\nTo: {support}\r\nSubject: Broken glass\r\nMessage-ID: <{id}@customer.test>\r\n\r\n\
         {body}\r\n\r\n-- \r\nLee Long\r\n",
        support = w.support,
        id = unique("long")
    );
    w.send_raw(&long, &w.support, raw.as_bytes()).await;
    // A sign-off without a `-- ` line.
    let mild = w.customer("mildy");
    let raw = format!(
        "From: Mia Mild <{mild}>\r\nTo: {support}\r\nSubject: App crash\r\nMessage-ID: <{id}@customer.test>\r\n\r\n\
         The app crashes when I log in.\r\n\r\nKind regards,\r\nMia Mild\r\n",
        support = w.support,
        id = unique("mild")
    );
    w.send_raw(&mild, &w.support, raw.as_bytes()).await;
    let ack = w.wait_for_acks(&mild).await.remove(0);
    let quoted: Vec<&str> = ack.text.lines().filter(|l| l.starts_with("  > ")).collect();
    assert_eq!(
        quoted,
        vec!["  > The app crashes when I log in."],
        "{}",
        ack.text
    );

    let ack = w.wait_for_acks(&short).await.remove(0);
    let quoted: Vec<&str> = ack.text.lines().filter(|l| l.starts_with("  > ")).collect();
    assert_eq!(
        quoted,
        vec!["  > The printer jams on every page."],
        "{}",
        ack.text
    );
    assert_eq!(
        ack.text.matches("Sam Short").count(),
        1,
        "the name in the greeting, not again in a signature in the excerpt: {}",
        ack.text
    );
    assert!(ack.text.lines().any(|l| l == "-- "), "{:?}", ack.text);
    let case = w.case_of(&short);
    assert_eq!(ack.subject, format!("[{}] Printer jam", case.reference));
    // The HTML part shows the same excerpt, without the signature either.
    let raw_ack = read_raw(&short, "INBOX", mailenv()).await.remove(0);
    let html = String::from_utf8_lossy(&raw_ack);
    assert!(html.contains("<blockquote"), "{html}");
    assert!(!html.contains("Sam Short Printing"), "{html}");

    let ack = w.wait_for_acks(&long).await.remove(0);
    let quoted: Vec<&str> = ack.text.lines().filter(|l| l.starts_with("  > ")).collect();
    // The restated sentences (mail::restate): the one with the rule's keyword ("broken")
    // and, as it is short, the next one; not the rest of the story.
    let restated = quoted
        .iter()
        .map(|l| l.trim_start_matches("  > "))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        restated,
        "My order 4711 arrived broken. The box was crushed on one side and the glass \
         inside is cracked in three places!",
        "{}",
        ack.text
    );
    assert!(
        quoted.iter().all(|l| l.chars().count() <= 72),
        "{quoted:#?}"
    );
    assert!(
        ack.text.lines().all(|l| l.chars().count() <= 78),
        "{}",
        ack.text
    );
    assert!(!ack.text.contains("Lee Long\n"), "{}", ack.text);
    d.stop().await;
}
