//! Service levels on schedule, on the real Dovecot + Postfix, with time moved through the
//! daemon's injected clock (no sleeping for hours): SLA reminder and breach, pause while
//! waiting on the customer, status updates, follow-up, reopening, ratings, auto-close, the
//! customer send window, and overdue timers after downtime firing exactly once.

mod common;

use mailcase::case::kinds::{Audience, AuditEvent, MessageOutcome, TimerKind, TimerOutcome};
use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::Status;

const AGENTS: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"

[[escalation]]
contacts = ["@MANAGER@"]
"#;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_reminds_then_escalates_to_the_manager_and_tells_the_customer() {
    let w = World::new(
        "sch_breach",
        &format!("{AGENTS}\n[sla]\nwarning_lead = \"30m\"\n"),
    );
    let (d, clock, wake) = w.start_at(monday_10());
    let jane = w.customer("jane");
    w.send_complaint(
        &jane,
        "Jane Doe",
        "Site down",
        "Our shop is down since 9:00, a full outage.",
    )
    .await;
    w.wait_for_acks(&jane).await;
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let case = w.case_of(&jane);
    assert_eq!(case.priority, "urgent", "2 hours, wall clock");

    // 1h35m later: 25 minutes before the 2-hour target, Ann is reminded.
    jump(&clock, &wake, chrono::Duration::minutes(95)).await;
    let ann = wait_mail(&w, &w.ann, 2).await;
    assert!(ann[1].text.contains("Reminder"), "{}", ann[1].text);
    assert!(ann[1].text.contains("first response"), "{}", ann[1].text);
    assert!(ann[1].subject.contains(&case.reference));
    assert_eq!(
        ann[1].references.first(),
        card.message_id.as_ref(),
        "in the case's thread"
    );

    // Past the target: escalated, the manager gets the digest, the customer the notice.
    jump(&clock, &wake, chrono::Duration::minutes(30)).await;
    let mgr = wait_mail(&w, &w.manager, 1).await;
    assert!(
        mgr[0].text.contains("first-response target breached"),
        "{}",
        mgr[0].text
    );
    assert!(mgr[0].text.contains("full outage"), "history included");
    let mails = wait_mail(&w, &jane, 2).await;
    assert!(mails[1].text.contains("escalated"), "{}", mails[1].text);
    assert!(
        mails[1].text.contains("within 2 hours"),
        "{}",
        mails[1].text
    );
    assert_eq!(w.case_of(&jane).status, Status::Escalated);
    let timers = w.store().read().timers(Some(case.id)).unwrap();
    let breach: Vec<_> = timers
        .iter()
        .filter(|t| t.kind == TimerKind::FirstResponseBreach && t.fired_at.is_some())
        .collect();
    assert_eq!(breach.len(), 1, "{timers:#?}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_the_customer_pauses_the_sla_clock_and_their_reply_resumes_it() {
    let w = World::new("sch_pause", AGENTS);
    let (d, clock, wake) = w.start_at(monday_10());
    let jane = w.customer("jane");
    w.send_complaint(
        &jane,
        "Jane Doe",
        "Question about my order",
        "Where is my order?",
    )
    .await;
    let ack = w.wait_for_acks(&jane).await.remove(0);
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);
    let before = w.case_of(&jane);
    // One business day: Tuesday 10:00 Berlin.
    assert!(mailcase::store::ts(before.first_response_due.unwrap()).starts_with("2026-11-24T09:00"));

    // Ann phoned the customer and waits for the order number (a note: nothing relayed).
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#note\r\n#wait\r\nCalled her; she will send the order number.",
    );
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("waiting on the customer", WAIT, || async {
        (w.case_of(&jane).status == Status::WaitingOnCustomer).then_some(())
    })
    .await;

    // Three days pass: no reminder, no breach while the clock is paused.
    jump(&clock, &wake, chrono::Duration::days(3)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.mailbox(&w.ann, "INBOX").await.len(), 1);
    assert!(w.mailbox(&w.manager, "INBOX").await.is_empty());
    assert_eq!(w.case_of(&jane).status, Status::WaitingOnCustomer);

    // Thursday 10:00: the customer answers; the remaining business day runs from now.
    let raw = gmail_reply(&jane, "Jane Doe", &ack, "The order number is 4711.");
    w.send_raw(
        &jane,
        &ack.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("the case resumed", WAIT, || async {
        (w.case_of(&jane).status == Status::InProgress).then_some(())
    })
    .await;
    let after = w.case_of(&jane);
    assert!(after.sla_paused_at.is_none());
    let due = after.first_response_due.unwrap();
    let friday_10 = monday_10() + chrono::Duration::days(4);
    assert!(
        (due - friday_10).num_minutes().abs() <= 2,
        "Friday 10:00 Berlin, got {due}"
    );
    d.stop().await;
}

/// Resolves Jane's case through Ann and moves the clock to the follow-up; returns the
/// follow-up mail.
async fn resolved_and_followed_up(
    w: &World,
    clock: &mailcase::clock::MovableClock,
    wake: &tokio::sync::Notify,
    jane: &str,
) -> mailcase::parse::InboundMessage {
    w.send_complaint(
        jane,
        "Jane Doe",
        "Invoice wrong",
        "My invoice shows the wrong amount.",
    )
    .await;
    w.wait_for_acks(jane).await;
    let card = wait_mail(w, &w.ann, 1).await.remove(0);
    let raw = thunderbird_reply(&w.ann, "Ann Agent", &card, "#resolve\r\nCorrected, sorry!");
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_mail(w, jane, 2).await;
    assert_eq!(w.case_of(jane).status, Status::Resolved);
    // One business day later (Tuesday 11:00, inside the send window).
    jump(clock, wake, chrono::Duration::hours(25)).await;
    let mails = wait_mail(w, jane, 3).await;
    mails[2].clone()
}

const FOLLOW_UP: &str = "\n[follow_up]\nafter = \"1d\"\n\n[feedback]\nwhen = \"follow-up\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_answered_still_broken_reopens_the_case_and_rearms_the_sla() {
    let w = World::new("sch_follow", &format!("{AGENTS}{FOLLOW_UP}"));
    let (d, clock, wake) = w.start_at(monday_10());
    let jane = w.customer("jane");
    let fu = resolved_and_followed_up(&w, &clock, &wake, &jane).await;
    assert!(fu.text.contains("Is the issue solved"), "{}", fu.text);
    assert!(fu.text.contains("+f."), "rating links: {}", fu.text);
    assert_eq!(fu.header("auto-submitted"), Some("auto-generated"));

    let raw = gmail_reply(
        &jane,
        "Jane Doe",
        &fu,
        "Thanks, but the amount is still wrong.",
    );
    w.send_raw(
        &jane,
        &fu.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let ann = wait_mail(&w, &w.ann, 2).await;
    assert!(ann[1].text.contains("REOPENED"), "{}", ann[1].text);
    assert!(ann[1].text.contains("still wrong"));
    let case = w.case_of(&jane);
    assert_eq!(case.status, Status::InProgress);
    let active: Vec<TimerKind> = w
        .store()
        .read()
        .timers(Some(case.id))
        .unwrap()
        .into_iter()
        .filter(|t| t.fired_at.is_none() && t.cancelled_at.is_none())
        .map(|t| t.kind)
        .collect();
    assert!(active.contains(&TimerKind::ResolutionBreach), "{active:?}");
    assert!(!active.contains(&TimerKind::AutoClose), "{active:?}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clicked_rating_link_is_stored_a_poor_one_escalates_and_forged_links_are_ignored() {
    let w = World::new("sch_rating", &format!("{AGENTS}{FOLLOW_UP}"));
    let (d, clock, wake) = w.start_at(monday_10());
    let jane = w.customer("jane");
    let fu = resolved_and_followed_up(&w, &clock, &wake, &jane).await;
    let link = |n: u8| -> String {
        let i = fu
            .text
            .find(&format!(".{n}@support.test"))
            .expect("rating link");
        let start = fu.text[..i].rfind("mailto:").unwrap() + "mailto:".len();
        fu.text[start..i + format!(".{n}@support.test").len()].to_string()
    };
    let case = w.case_of(&jane);

    // "2", with a comment: stored, and the manager hears of it.
    let two = link(2);
    let raw = format!(
        "From: Jane Doe <{jane}>\r\nTo: {two}\r\nSubject: Rating 2 for {r}\r\nMessage-ID: <{id}@customer.test>\r\n\r\nIt took three days.\r\nNobody called back.\r\n\r\nThanks, Jane\r\n",
        r = case.reference,
        id = unique("rate")
    );
    w.send_raw(&jane, &two, raw.as_bytes()).await;
    wait_for("rating 2 stored", WAIT, || async {
        (w.store().read().rating(case.id).unwrap()
            == Some((
                2,
                Some("It took three days.\nNobody called back.".to_string()),
            )))
        .then_some(())
    })
    .await;
    let mgr = wait_mail(&w, &w.manager, 1).await;
    assert!(
        mgr[0].text.contains("rated the handling 2/5"),
        "{}",
        mgr[0].text
    );
    // The comment, without Jane's sign-off, quoted line by line under the rating.
    assert!(
        mgr[0].text.contains(
            "Rating:    2/5\nComment:\n  > It took three days.\n  > Nobody called back.\n"
        ),
        "{}",
        mgr[0].text
    );
    let rating = &mgr[0].text[..mgr[0].text.find("History").unwrap()];
    assert!(!rating.contains("Thanks, Jane"), "{rating}");

    // A second click: the last rating counts.
    let five = link(5);
    let raw = format!(
        "From: Jane Doe <{jane}>\r\nTo: {five}\r\nSubject: Rating 5\r\nMessage-ID: <{}@customer.test>\r\n\r\n\r\n",
        unique("rate")
    );
    w.send_raw(&jane, &five, raw.as_bytes()).await;
    wait_for("rating 5 stored", WAIT, || async {
        (w.store().read().rating(case.id).unwrap() == Some((5, None))).then_some(())
    })
    .await;

    // A forged link (one MAC symbol changed): ignored, logged, no case opened.
    let four = link(4);
    let dot = four.rfind(".4@").unwrap();
    let mut forged = four[..dot].to_string();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    let forged = format!("{forged}{}", &four[dot..]);
    let raw = format!(
        "From: Mallory <{m}>\r\nTo: {forged}\r\nSubject: Rating 1\r\nMessage-ID: <{}@evil.test>\r\n\r\nterrible\r\n",
        unique("rate"),
        m = w.customer("mallory")
    );
    w.send_raw(&w.customer("mallory"), &forged, raw.as_bytes())
        .await;
    wait_for("the forged rating recorded as ignored", WAIT, || async {
        let m = w.store().read().all_messages().unwrap();
        m.iter()
            .any(|m| m.outcome == MessageOutcome::FeedbackIgnored)
            .then_some(())
    })
    .await;
    assert_eq!(w.store().read().cases().unwrap().len(), 1);
    assert_eq!(w.store().read().rating(case.id).unwrap(), Some((5, None)));

    // A plain reply to the follow-up with a number counts too (and does not reopen).
    let raw = gmail_reply(&jane, "Jane Doe", &fu, "4 - quick, but I had to ask twice.");
    w.send_raw(
        &jane,
        &fu.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("rating 4 from a reply", WAIT, || async {
        (w.store().read().rating(case.id).unwrap()
            == Some((4, Some("quick, but I had to ask twice.".to_string()))))
        .then_some(())
    })
    .await;
    assert_eq!(w.case_of(&jane).status, Status::Resolved);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thanks_closes_at_once_and_silence_closes_after_the_follow_up() {
    let w = World::new(
        "sch_close",
        &format!(
            "{AGENTS}{}",
            FOLLOW_UP.replace("after = \"1d\"", "after = \"1d\"\nclose_after = \"7d\"")
        ),
    );
    let (d, clock, wake) = w.start_at(monday_10());
    let jane = w.customer("jane");
    let fu = resolved_and_followed_up(&w, &clock, &wake, &jane).await;
    // Jane does not answer: a week later the case closes.
    jump(
        &clock,
        &wake,
        chrono::Duration::days(7) + chrono::Duration::hours(1),
    )
    .await;
    wait_for("auto-closed", WAIT, || async {
        (w.case_of(&jane).status == Status::Closed).then_some(())
    })
    .await;
    let audit = w
        .store()
        .read()
        .audit_of_case(Some(w.case_of(&jane).id))
        .unwrap();
    assert!(audit
        .iter()
        .any(|a| a.event == AuditEvent::Status && a.detail.contains("no answer to the follow-up")));
    drop(fu);

    // Another customer answers the follow-up with a plain thanks: closed at once, not
    // reopened, and the agents are not disturbed.
    let ann_before = w.mailbox(&w.ann, "INBOX").await.len();
    let tom = w.customer("tom");
    w.send_complaint(&tom, "Tom", "Login question", "How do I reset my password?")
        .await;
    w.wait_for_acks(&tom).await;
    let card = wait_mail(&w, &w.ann, ann_before + 1).await.pop().unwrap();
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#resolve\r\nUse the link on the login page.",
    );
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let mails = wait_mail(&w, &tom, 2).await;
    let raw = gmail_reply(&tom, "Tom", &mails[1], "Thank you, works now!");
    w.send_raw(
        &tom,
        &mails[1].reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("closed by the customer's thanks", WAIT, || async {
        (w.case_of(&tom).status == Status::Closed).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(w.mailbox(&w.ann, "INBOX").await.len(), ann_before + 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_mail_waits_for_the_send_window() {
    let w = World::new(
        "sch_window",
        &format!("{AGENTS}\n[sla]\nstatus_update_interval = \"1h\"\n\n[send_window]\nstart = \"08:00\"\nend = \"20:00\"\n"),
    );
    // Monday 19:30 in Berlin.
    let (d, clock, wake) = w.start_at(monday_10() + chrono::Duration::minutes(570));
    let jane = w.customer("jane");
    w.send_complaint(&jane, "Jane Doe", "Question", "When do you open?")
        .await;
    w.wait_for_acks(&jane).await;
    let case = w.case_of(&jane);
    // 20:31: the status update is due but the window is closed: it waits for 08:00.
    jump(&clock, &wake, chrono::Duration::minutes(61)).await;
    let t = wait_for("the update deferred", WAIT, || async {
        let t = w.store().read().timers(Some(case.id)).unwrap();
        t.into_iter()
            .find(|t| t.kind == TimerKind::StatusUpdate && t.due_at != t.target_at)
    })
    .await;
    assert!(
        mailcase::store::ts(t.due_at).starts_with("2026-11-24T07:00"),
        "{t:?}"
    );
    assert_eq!(w.mailbox(&jane, "INBOX").await.len(), 1);
    // Tuesday 08:01: it goes out.
    jump(&clock, &wake, chrono::Duration::minutes(11 * 60 + 30)).await;
    let mails = wait_mail(&w, &jane, 2).await;
    assert!(
        mails[1].text.contains("still working on it"),
        "{}",
        mails[1].text
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_timers_after_downtime_fire_exactly_once() {
    let w = World::new(
        "sch_restart",
        &format!("{AGENTS}\n[sla]\nstatus_update_interval = \"1d\"\n"),
    );
    let (d, clock, wake) = w.start_at(monday_10());
    let customers: Vec<String> = (0..3).map(|i| w.customer(&format!("c{i}"))).collect();
    for c in &customers {
        w.send_complaint(c, "Customer", "Where is my parcel", "It has not arrived.")
            .await;
    }
    for c in &customers {
        w.wait_for_acks(c).await;
    }
    wait_mail(&w, &w.ann, 3).await;
    d.stop().await;

    // Down for three days: reminders, breaches and status updates all fell due meanwhile.
    clock.advance(chrono::Duration::days(3));
    let d = w.start_with(clock.clone(), wake.clone());
    // Each customer: acknowledgment, one status update, one escalation notice.
    for c in &customers {
        let m = wait_mail(&w, c, 3).await;
        assert!(m.iter().any(|m| m.text.contains("escalated")), "{c}");
        assert!(
            m.iter().any(|m| m.text.contains("still working on it")),
            "{c}"
        );
    }
    let mgr = wait_mail(&w, &w.manager, 3).await;
    assert_eq!(mgr.len(), 3);
    // And nothing more, even when the scheduler runs again.
    wake.notify_one();
    tokio::time::sleep(Duration::from_secs(3)).await;
    for c in &customers {
        assert_eq!(w.mailbox(c, "INBOX").await.len(), 3, "{c}: exactly once");
    }
    assert_eq!(w.mailbox(&w.manager, "INBOX").await.len(), 3);
    // The stale reminders were skipped, not sent late.
    assert_eq!(
        w.mailbox(&w.ann, "INBOX").await.len(),
        3,
        "only the three cards"
    );
    let timers = w.store().read().timers(None).unwrap();
    let skipped = timers
        .iter()
        .filter(|t| t.kind == TimerKind::FirstResponseWarning)
        .filter(|t| t.outcome == Some(TimerOutcome::SkippedBreachDue))
        .count();
    assert_eq!(skipped, 3, "{timers:#?}");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_scheduled_mail_to_an_address_that_bounced() {
    let w = World::new(
        "sch_bounce",
        &format!("{AGENTS}\n[sla]\nstatus_update_interval = \"1h\"\n"),
    );
    let (d, clock, wake) = w.start_at(monday_10());
    let jane = w.customer("jane");
    w.send_complaint(&jane, "Jane Doe", "Question", "Hello?")
        .await;
    let ack = w.wait_for_acks(&jane).await.remove(0);
    // Jane's mailbox is gone: our acknowledgment bounces (the DSN quotes its Message-ID).
    let bounce = format!(
        "From: Mail Delivery System <MAILER-DAEMON@customer.test>\r\nTo: {s}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <bounce.{r}@customer.test>\r\nIn-Reply-To: <{id}>\r\nReferences: <{id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n\
         Your message could not be delivered.\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.customer.test\r\n\r\n\
         Final-Recipient: rfc822; {jane}\r\nAction: failed\r\nStatus: 5.1.1\r\n--b1--\r\n",
        s = w.support,
        r = rand_u32(),
        id = ack.message_id.clone().unwrap(),
    );
    w.send_raw_null_sender(&w.support, bounce.as_bytes()).await;
    let case = w.case_of(&jane);
    wait_for("the bounce recorded on the case", WAIT, || async {
        let a = w.store().read().audit_of_case(Some(case.id)).unwrap();
        a.iter()
            .any(|a| a.event == AuditEvent::AddressUndeliverable)
            .then_some(())
    })
    .await;
    // The status update falls due: not sent, and the audit says why.
    jump(&clock, &wake, chrono::Duration::minutes(61)).await;
    wait_for("the update skipped", WAIT, || async {
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
    d.stop().await;
}
