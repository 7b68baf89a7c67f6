//! Attacks and faults from outside that once broke a running daemon, each on the
//! real Dovecot + Postfix: a loop between two auto-responders that mark nothing, a responder
//! rotating its address, a stranger joining a case with the customer's Message-ID or with a
//! forged From, a colleague closing the customer's case, and a different complaint reusing a
//! stored Message-ID.

mod common;

use std::time::{Duration, Instant};

use common::replies::{ids_header, thunderbird_reply, wait_mail};
use common::*;
use mailcase::case::kinds::{AuditEvent, MessageOutcome, OutboundKind};
use mailcase::case::Status;
use mailcase::parse::InboundMessage;

const ANN_ONLY: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"
"#;

const WAIT: Duration = Duration::from_secs(60);

/// What one auto-responder did.
#[derive(Debug, Default, Clone, Copy)]
struct Responder {
    received: usize,
    sent: usize,
    /// Time since its last mail when it stopped.
    quiet: Duration,
}

/// An auto-responder as the attack ran it: a real IMAP client on `user`'s mailbox that
/// answers every new message to its Reply-To (as a client's Reply button does), threaded
/// (In-Reply-To, References) and marked as nothing automatic: no Auto-Submitted, no
/// Precedence, an ordinary subject, and a counter in the text so that no two answers are the
/// same. Stops after `quiet` without new mail, or at `max`.
async fn respond(w: &World, user: &str, name: &str, max: Duration, quiet: Duration) -> Responder {
    let mut inbox = NewMail::open(user, &w.env).await;
    let start = Instant::now();
    let mut last = Instant::now();
    let mut r = Responder::default();
    while last.elapsed() < quiet && start.elapsed() < max {
        for m in inbox.next_batch().await {
            r.received += 1;
            last = Instant::now();
            let to = m
                .reply_to
                .as_ref()
                .or(m.from.as_ref())
                .expect("an address to answer")
                .address
                .clone();
            let pid = m.message_id.clone().unwrap_or_default();
            let mut refs = m.references.clone();
            refs.push(pid.clone());
            let raw = format!(
                "From: {name} <{user}>\r\nTo: {to}\r\nSubject: Re: {subject}\r\nMessage-ID: <resp.{n}.{rand}@customer.test>\r\n\
                 In-Reply-To: <{pid}>\r\nReferences: {refs}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
                 Thank you for your message (number {n}). I am away and will read it when I am back.\r\n",
                subject = m.subject,
                n = r.sent + 1,
                rand = rand_u32(),
                refs = ids_header(&refs),
            );
            w.send_raw(user, &to, raw.as_bytes()).await;
            r.sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    inbox.close().await;
    r.quiet = last.elapsed();
    r
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

fn is_participant(w: &World, case_id: i64, address: &str) -> bool {
    w.store()
        .participants(case_id)
        .unwrap()
        .iter()
        .any(|(a, _, _)| a == address)
}

fn audit_events(w: &World, case_id: i64, event: AuditEvent) -> Vec<String> {
    w.store()
        .read()
        .audit_of_case(Some(case_id))
        .unwrap()
        .into_iter()
        .filter(|a| a.event == event)
        .map(|a| a.detail)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_auto_responders_answering_each_other_stop_and_the_agents_are_told_once() {
    let w = World::new("loop2", ANN_ONLY);
    let d = w.start();
    let customer = w.customer("ooo");
    let start = Instant::now();
    w.send_complaint(
        &customer,
        "Carol Customer",
        "Parcel never arrived",
        "My parcel 4411 never arrived. Where is it?",
    )
    .await;
    // Both responders run until the exchange has been quiet for 15 s, or 150 s at most (the
    // unguarded daemon exchanged 1668 mails in 150 s).
    let (cust, agent) = tokio::join!(
        respond(
            &w,
            &customer,
            "Carol Customer",
            Duration::from_secs(150),
            Duration::from_secs(15)
        ),
        respond(
            &w,
            &w.ann,
            "Ann Agent",
            Duration::from_secs(150),
            Duration::from_secs(15)
        ),
    );
    let elapsed = start.elapsed();
    let case = w.case_of(&customer);
    let outbox = w.store().read().outbox(Some(case.id)).unwrap();
    let exchanged = cust.sent + agent.sent + 1;
    println!(
        "two-sided loop: {exchanged} mails written by the two responders, {} mails from mailcase \
         ({} to the customer, {} to the agent), {} queued on the case, stopped after {:.1} s",
        cust.received + agent.received,
        cust.received,
        agent.received,
        outbox.len(),
        (elapsed - cust.quiet.min(agent.quiet)).as_secs_f64()
    );
    assert!(
        cust.quiet >= Duration::from_secs(15) && agent.quiet >= Duration::from_secs(15),
        "the exchange did not stop within 150 s: customer {cust:?}, agent {agent:?}"
    );
    // Stopped at the loop guard (10 messages from one side in 10 minutes), not by chance.
    assert!(
        exchanged <= 30,
        "{exchanged} mails exchanged before the loop stopped"
    );
    let stops = audit_events(&w, case.id, AuditEvent::LoopStopped);
    assert_eq!(stops.len(), 1, "{stops:?}");
    let notices: Vec<_> = outbox
        .iter()
        .filter(|o| o.kind == OutboundKind::AgentLoopStopped)
        .collect();
    assert_eq!(notices.len(), 1, "the agents are told once: {outbox:?}");
    let ann_mail = w.mailbox(&w.ann, "INBOX").await;
    let told: Vec<&InboundMessage> = ann_mail
        .iter()
        .filter(|m| m.text.contains("looks like a mail loop"))
        .collect();
    assert_eq!(told.len(), 1);
    assert!(told[0]
        .text
        .contains(&format!("mailcase resume {}", case.reference)));
    // Every message written was stored, none lost, none answered after the stop.
    let stored = w.store().read().messages_of_case(case.id).unwrap().len();
    assert_eq!(
        stored, exchanged,
        "every message of the exchange is on the case"
    );
    let not_sent = audit_events(&w, case.id, AuditEvent::NotSent);
    assert!(
        not_sent.iter().any(|d| d.contains("mail loop")),
        "{not_sent:?}"
    );

    // The admin finds it in `mailcase cases` and `mailcase case`, and resumes it; the next
    // (human) answer reaches the customer again.
    let listed = run_cli(&w, &["cases"]);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&case.reference) && l.contains("STOPPED")),
        "{listed}"
    );
    let json = run_cli(&w, &["cases", "--json"]);
    assert!(json.contains("\"loop_stopped_at\": \"20"), "{json}");
    let shown = run_cli(&w, &["case", &case.reference]);
    assert!(shown.contains("relaying stopped"), "{shown}");
    let out = run_cli(&w, &["resume", &case.reference]);
    assert!(out.contains("relaying again"), "{out}");
    // Ann's responder kept answering after the stop: those answers were held, and resume
    // says so.
    assert!(out.contains("were stored but not sent"), "{out}");
    assert_eq!(audit_events(&w, case.id, AuditEvent::LoopResumed).len(), 1);
    assert!(!run_cli(&w, &["cases"]).contains("STOPPED"));
    let before = w.mailbox(&customer, "INBOX").await.len();
    let card = ann_mail
        .iter()
        .rev()
        .find(|m| m.reply_to.is_some())
        .unwrap();
    let answer = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        card,
        "Hello Carol, your parcel is at the depot; it will be delivered tomorrow.",
    );
    let to = card.reply_to.as_ref().unwrap().address.clone();
    let not_sent = |m: &InboundMessage| m.subject.contains("Not sent");
    let held_before = w
        .mailbox(&w.ann, "INBOX")
        .await
        .iter()
        .filter(|m| not_sent(m))
        .count();
    w.send_raw(&w.ann, &to, answer.as_bytes()).await;
    // When the customer's responder wrote after the mail Ann answered (it kept writing while
    // the case was stopped, unseen by the agents), the collision guard holds her answer and
    // tells her what came in since; she sends it anyway.
    let held_or_sent = wait_for("Ann's answer sent or held", WAIT, || async {
        if w.mailbox(&customer, "INBOX").await.len() > before {
            return Some(None);
        }
        let held: Vec<InboundMessage> = w
            .mailbox(&w.ann, "INBOX")
            .await
            .into_iter()
            .filter(|m| not_sent(m))
            .collect();
        (held.len() > held_before).then(|| held.last().cloned())
    })
    .await;
    if let Some(held) = held_or_sent {
        assert!(held.text.contains("delivered tomorrow"), "{}", held.text);
        let send = thunderbird_reply(&w.ann, "Ann Agent", &held, "#send");
        w.send_raw(&w.ann, &to, send.as_bytes()).await;
    }
    let after = wait_mail(&w, &customer, before + 1).await;
    assert!(
        after.iter().any(|m| m.text.contains("delivered tomorrow")),
        "{:#?}",
        after.iter().map(|m| &m.text).collect::<Vec<_>>()
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_rotating_its_address_opens_a_few_cases_and_the_agents_get_one_summary() {
    let w = World::new(
        "rotate",
        &format!("{ANN_ONLY}\n[limits]\nnew_cases_per_text_per_hour = 5\n"),
    );
    let d = w.start();
    let base = w.customer("robot");
    let (local, domain) = base.split_once('@').unwrap();
    let n = 40;
    for i in 0..n {
        let from = format!("{local}+t{i}@{domain}");
        let raw = format!(
            "From: Robot <{from}>\r\nTo: {}\r\nSubject: Ticket {i} opened for your request\r\n\
             Message-ID: <rot.{i}.{}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n\
             Thank you. We opened ticket {i} for your request and will answer soon.\r\n",
            w.support,
            rand_u32()
        );
        w.send_raw(&from, &w.support, raw.as_bytes()).await;
    }
    wait_for("all stored", WAIT, || async {
        (w.store().read().counts().unwrap().messages == n).then_some(())
    })
    .await;
    let s = w.store();
    let cases = s.read().cases().unwrap();
    println!(
        "rotating sender: {n} mails from {local}+tN@{domain} opened {} case(s)",
        cases.len()
    );
    // The per-sender cap counts robot+t1@ and robot+t2@ as one sender (10 an hour), the
    // text cap stops the same text from one domain at 5: whichever comes first.
    assert_eq!(cases.len(), 5, "{cases:?}");
    let held: usize = cases
        .iter()
        .map(|c| {
            s.read()
                .messages_of_case(c.id)
                .unwrap()
                .iter()
                .filter(|m| m.outcome == MessageOutcome::FloodJoined)
                .count()
        })
        .sum();
    assert_eq!(held, n as usize - 5);
    // Five cards and one summary, not 40 cards.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ann = wait_mail(&w, &w.ann, 6).await;
    assert_eq!(
        ann.len(),
        6,
        "{:?}",
        ann.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    let summaries: Vec<_> = ann
        .iter()
        .filter(|m| m.text.contains("looks like a flood"))
        .collect();
    assert_eq!(summaries.len(), 1);
    assert!(summaries[0]
        .text
        .contains("limits.new_cases_per_text_per_hour"));
    // The summary names the flood's cases, and the timeline calls held mail what it is.
    for c in &cases {
        assert!(
            summaries[0].text.contains(&c.reference),
            "{}",
            summaries[0].text
        );
    }
    let held_on = cases.iter().map(|c| c.id).max().unwrap();
    let reference = &cases.iter().find(|c| c.id == held_on).unwrap().reference;
    let timeline = run_cli(&w, &["case", reference]);
    assert!(timeline.contains("held message (flood) #2"), "{timeline}");
    // At most the acknowledgments of the five cases (Dovecot delivers robot+tN@ to robot@).
    let acks = w.mailbox(&base, "INBOX").await.len();
    assert!(acks <= 5, "{acks} acknowledgments");
    d.stop().await;
}

/// A world with one complaint acknowledged; returns the customer, the complaint's
/// Message-ID and the case.
async fn one_case(w: &World) -> (String, String, mailcase::store::CaseRow) {
    let customer = w.customer("victim");
    let id = w
        .send_complaint(
            &customer,
            "Vera Victim",
            "Refund for order 7781",
            "Please refund order 7781 to my card ending 4242.",
        )
        .await;
    w.wait_for_acks(&customer).await;
    let case = w.case_of(&customer);
    (customer, id, case)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_naming_the_customers_message_id_gets_a_case_of_their_own() {
    let w = World::new("hijack_mid", ANN_ONLY);
    let d = w.start();
    let (customer, complaint_id, case) = one_case(&w).await;
    let mallory = w.customer("mallory");
    // A reply "to" the customer's complaint (its Message-ID travels in every reply-all).
    let raw = format!(
        "From: Mallory <{mallory}>\r\nTo: {}\r\nSubject: Re: Refund for order 7781\r\n\
         Message-ID: <m1.{}@evil.test>\r\nIn-Reply-To: <{complaint_id}>\r\nReferences: <{complaint_id}>\r\n\r\n\
         Please send the refund to my card instead.\r\n",
        w.support,
        rand_u32()
    );
    w.send_raw(&mallory, &w.support, raw.as_bytes()).await;
    let theirs = w.wait_for_case_of(&mallory).await;
    assert_ne!(theirs.id, case.id);
    assert_eq!(
        theirs.linked_case_id,
        Some(case.id),
        "linked to the case it named"
    );
    let s = w.store();
    let victims = s.read().messages_of_case(case.id).unwrap();
    assert_eq!(victims.len(), 1, "nothing joined the victim's case");
    assert!(!is_participant(&w, case.id, &mallory));
    // The customer's own reply naming the same Message-ID still joins.
    let raw = format!(
        "From: Vera Victim <{customer}>\r\nTo: {}\r\nSubject: Re: Refund for order 7781\r\n\
         Message-ID: <v2.{}@customer.test>\r\nIn-Reply-To: <{complaint_id}>\r\n\r\n\
         Any news?\r\n",
        w.support,
        rand_u32()
    );
    w.send_raw(&customer, &w.support, raw.as_bytes()).await;
    wait_for("the customer's reply joined", WAIT, || async {
        (w.store().read().messages_of_case(case.id).unwrap().len() == 2).then_some(())
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_from_with_a_strangers_reply_to_registers_nobody_new_and_cannot_close_or_rate() {
    let w = World::new("hijack_rt", ANN_ONLY);
    let d = w.start();
    let (customer, _, case) = one_case(&w).await;
    let ack = w.mailbox(&customer, "INBOX").await.remove(0);
    let mallory = w.customer("mallory");
    // A reply to the acknowledgment with the customer's From and Mallory's Reply-To.
    let mut raw = thunderbird_reply(&customer, "Vera Victim", &ack, "Please use my new address.");
    raw = raw.replacen("\r\nTo: ", &format!("\r\nReply-To: {mallory}\r\nTo: "), 1);
    let to = ack.reply_to.as_ref().unwrap().address.clone();
    w.send_raw(&customer, &to, raw.as_bytes()).await;
    wait_for("the reply joined", WAIT, || async {
        (w.store().read().messages_of_case(case.id).unwrap().len() == 2).then_some(())
    })
    .await;
    assert!(
        !is_participant(&w, case.id, &mallory),
        "a Reply-To makes nobody a participant"
    );

    // The case is resolved; a colleague of the customer, forwarded our mail, answers it
    // "thanks, solved": that does not close the customer's case.
    // Ann answers the latest mail she got on the case (the customer's reply), so she has
    // seen it (the collision guard holds answers to older mail).
    let card = wait_mail(&w, &w.ann, 2).await.pop().unwrap();
    let resolve = thunderbird_reply(&w.ann, "Ann Agent", &card, "#resolve\r\nRefunded today.");
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        resolve.as_bytes(),
    )
    .await;
    wait_for("resolved", WAIT, || async {
        (w.case_of(&customer).status == Status::Resolved).then_some(())
    })
    .await;
    let resolved_mail = wait_mail(&w, &customer, 2).await;
    let resolved_mail = resolved_mail.last().unwrap();
    let colleague = w.customer("colleague");
    // The colleague joins first through a reply to our mail (they were forwarded it).
    let join = thunderbird_reply(
        &colleague,
        "Colin",
        resolved_mail,
        "Thanks, solved!\r\n\r\nColin",
    );
    w.send_raw(
        &colleague,
        &resolved_mail.reply_to.as_ref().unwrap().address,
        join.as_bytes(),
    )
    .await;
    wait_for("the colleague's mail stored", WAIT, || async {
        let m = w.store().read().messages_of_case(case.id).unwrap();
        m.iter()
            .any(|m| m.from_address.as_deref() == Some(colleague.as_str()))
            .then_some(())
    })
    .await;
    let now = w.case_of(&customer);
    assert_eq!(
        now.status,
        Status::Resolved,
        "only the customer closes the case"
    );
    assert_eq!(
        audit_events(&w, case.id, AuditEvent::ClosingRefused).len(),
        1
    );
    // The customer's own thanks, signed with her name as people do, closes it.
    let thanks = thunderbird_reply(
        &customer,
        "Vera Victim",
        resolved_mail,
        "Thanks, solved!\r\n\r\nBest regards,\r\nVera",
    );
    w.send_raw(
        &customer,
        &resolved_mail.reply_to.as_ref().unwrap().address,
        thanks.as_bytes(),
    )
    .await;
    wait_for("closed by the customer", WAIT, || async {
        (w.case_of(&customer).status == Status::Closed).then_some(())
    })
    .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_different_complaint_reusing_a_stored_message_id_gets_its_own_case_and_a_copy_does_not() {
    let w = World::new("mid_collision", ANN_ONLY);
    let d = w.start();
    let (first, id, case) = one_case(&w).await;
    // A second customer's complaint with the first one's Message-ID.
    let second = w.customer("second");
    let raw = format!(
        "From: Sam Second <{second}>\r\nTo: Support <{}>\r\nSubject: Broken kettle\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 23 Nov 2026 10:05:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         My kettle stopped working after two days.\r\n",
        w.support
    );
    w.send_raw(&second, &w.support, raw.as_bytes()).await;
    let theirs = w.wait_for_case_of(&second).await;
    assert_ne!(theirs.id, case.id);
    let acks = w.wait_for_acks(&second).await;
    assert_eq!(acks.len(), 1);
    let events = w.store().read().audit_of_case(None).unwrap();
    assert!(
        events
            .iter()
            .any(|a| a.event == AuditEvent::MessageIdCollision),
        "{events:?}"
    );

    // The first complaint delivered again (a Cc copy: same mail, other trace fields) is a
    // duplicate: no third case, no second acknowledgment.
    let again = format!(
        "Received: from relay.customer.test by mx.support.test; Mon, 23 Nov 2026 10:06:00 +0000\r\n\
         From: Vera Victim <{first}>\r\nTo: Support <{}>\r\nSubject: Refund for order 7781\r\nMessage-ID: <{id}>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Please refund order 7781 to my card ending 4242.\r\n",
        w.support
    );
    w.send_raw(&first, &w.support, again.as_bytes()).await;
    // And the ordinary next complaint shows the mailbox moved past it.
    let later = w.customer("later");
    w.send_complaint(&later, "Lee", "Another matter", "Hello")
        .await;
    w.wait_for_case_of(&later).await;
    wait_for("the copy recorded as a duplicate", WAIT, || async {
        let e = w.store().read().audit_of_case(None).unwrap();
        e.iter()
            .any(|a| a.event == AuditEvent::DuplicateIgnored)
            .then_some(())
    })
    .await;
    assert_eq!(w.store().read().cases().unwrap().len(), 3);
    assert_eq!(w.mailbox(&first, "INBOX").await.len(), 1);
    d.stop().await;
}

/// One raw message from `from` tagged with the case's reference, as a reply whose client
/// kept the subject.
fn tagged(from: &str, to: &str, reference: &str, body: &str) -> mailcase::pipeline::Inbound {
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: [{reference}] Parcel\r\nMessage-ID: <t.{}@customer.test>\r\n\r\n{body}\r\n",
        rand_u32()
    );
    mailcase::pipeline::Inbound {
        source: None,
        raw: raw.into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_text_three_times_or_our_message_ids_quoted_back_twice_stop_the_case() {
    use mailcase::pipeline::process_batch;
    let w = World::new("loop_shape", ANN_ONLY);
    let (engine, mut store) = w.engine_and_store();
    let customer = w.customer("echo");
    let first = format!(
        "From: {customer}\r\nTo: {}\r\nSubject: Parcel\r\nMessage-ID: <f.{}@customer.test>\r\n\r\nWhere is my parcel?\r\n",
        w.support,
        rand_u32()
    );
    let first = mailcase::pipeline::Inbound {
        source: None,
        raw: first.into_bytes(),
    };
    process_batch(&mut store, &engine, &[first]).unwrap();
    let case = store.read().cases().unwrap().remove(0);
    let same = "I am out of the office until Monday.";
    for _ in 0..2 {
        let m = tagged(&customer, &w.support, &case.reference, same);
        process_batch(&mut store, &engine, &[m]).unwrap();
    }
    assert!(
        audit_events(&w, case.id, AuditEvent::LoopStopped).is_empty(),
        "twice is not a loop"
    );
    let m = tagged(&customer, &w.support, &case.reference, same);
    process_batch(&mut store, &engine, &[m]).unwrap();
    let stops = audit_events(&w, case.id, AuditEvent::LoopStopped);
    assert_eq!(stops.len(), 1);
    assert!(stops[0].contains("the same text came 3 times"), "{stops:?}");

    // Another case: a reply that quotes the Message-ID of our acknowledgment in its text.
    let other = w.customer("quoter");
    let raw = format!(
        "From: {other}\r\nTo: {}\r\nSubject: Kettle\r\nMessage-ID: <k.{}@customer.test>\r\n\r\nMy kettle broke.\r\n",
        w.support,
        rand_u32()
    );
    process_batch(
        &mut store,
        &engine,
        &[mailcase::pipeline::Inbound {
            source: None,
            raw: raw.into_bytes(),
        }],
    )
    .unwrap();
    let kettle = store
        .read()
        .cases()
        .unwrap()
        .into_iter()
        .find(|c| c.customer_address == other)
        .unwrap();
    let ack_id = store
        .read()
        .outbox(Some(kettle.id))
        .unwrap()
        .into_iter()
        .find(|o| o.kind == OutboundKind::Ack)
        .unwrap()
        .message_id;
    let echo = format!(
        "Your message was received.\r\n\r\n--- original headers ---\r\nMessage-ID: <{ack_id}>\r\nSubject: [{}] Kettle",
        kettle.reference
    );
    // Once may be a person pasting our headers for a deliverability question.
    let m = tagged(&other, &w.support, &kettle.reference, &echo);
    process_batch(&mut store, &engine, &[m]).unwrap();
    assert!(audit_events(&w, kettle.id, AuditEvent::LoopStopped).is_empty());
    // An auto-responder echoes them with every answer: the second time stops the case.
    let echo2 = echo.replace(
        "Your message was received.",
        "Your message was received again.",
    );
    let m = tagged(&other, &w.support, &kettle.reference, &echo2);
    process_batch(&mut store, &engine, &[m]).unwrap();
    let stops = audit_events(&w, kettle.id, AuditEvent::LoopStopped);
    assert_eq!(stops.len(), 1);
    assert!(
        stops[0].contains("quote the Message-IDs of mail we sent"),
        "{stops:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_counts_relayed_answers_too() {
    use mailcase::case::Reference;
    use mailcase::pipeline::{process_batch, Inbound};
    use mailcase::thread::token::Role;
    let w = World::new(
        "breaker_all",
        &format!("{ANN_ONLY}\n[acknowledgment]\nenabled = false\n"),
    );
    let text = std::fs::read_to_string(&w.config_path).unwrap().replace(
        "[outbox]\n",
        "[outbox]\nmax_automatic_per_minute = 2\nbreaker_cooldown = \"10m\"\n",
    );
    std::fs::write(&w.config_path, text).unwrap();
    {
        let (engine, mut store) = w.engine_and_store();
        let mut refs = Vec::new();
        for n in 0..3 {
            let c = w.customer(&format!("br{n}"));
            let raw = format!(
                "From: {c}\r\nTo: {}\r\nSubject: Order {n}\r\nMessage-ID: <br{n}.{}@customer.test>\r\n\r\nWhere is order {n}?\r\n",
                w.support,
                rand_u32()
            );
            process_batch(
                &mut store,
                &engine,
                &[Inbound {
                    source: None,
                    raw: raw.into_bytes(),
                }],
            )
            .unwrap();
            // cases() lists the newest first.
            refs.push(store.read().cases().unwrap()[0].reference.clone());
        }
        // Ann answers each case through its agent reply address: personal mail, relayed.
        for r in &refs {
            let to = engine
                .tokens
                .address(&w.support, Role::Agent, &Reference::parse(r).unwrap());
            let raw = format!(
                "From: Ann Agent <{}>\r\nTo: {to}\r\nSubject: Re: [{r}] Order\r\nMessage-ID: <a.{}@support.test>\r\n\r\nIt ships today.\r\n",
                w.ann,
                rand_u32()
            );
            process_batch(
                &mut store,
                &engine,
                &[Inbound {
                    source: None,
                    raw: raw.into_bytes(),
                }],
            )
            .unwrap();
        }
        let kinds: Vec<OutboundKind> = store
            .read()
            .outbox(None)
            .unwrap()
            .into_iter()
            .map(|o| o.kind)
            .collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == OutboundKind::AgentReply)
                .count(),
            3,
            "{kinds:?}"
        );
    }
    let d = w.start();
    wait_for("two sent", Duration::from_secs(30), || async {
        (w.store().read().counts().unwrap().outbox_sent == 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.stop().await;
    let c = w.store().read().counts().unwrap();
    assert_eq!(
        c.outbox_sent, 2,
        "the breaker's budget is for every kind of mail, relayed answers included"
    );
    assert_eq!(c.outbox_pending, 4, "the rest stays queued, not dropped");
}
