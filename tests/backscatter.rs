//! Backscatter, end to end on the real Dovecot + Postfix: spam with a forged sender must not
//! make us mail an acknowledgment to an innocent third party. The receiving server's verdict
//! (a spam filter's `X-Spam-Flag`, or `dmarc=fail` in our own `Authentication-Results`) is
//! honoured on new complaints: by default the case opens unacknowledged and the agents are
//! warned; with `spam.action = "quarantine"` the mail goes to the quarantine folder. Every
//! test also sends a clean complaint after the suspect one and sees it acknowledged.

mod common;

use mailcase::case::kinds::AuditEvent;
use std::time::Duration;

use common::replies::thunderbird_reply;
use common::*;
use mailcase::case::Status;

const AGENTS: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"
"#;

const WAIT: Duration = Duration::from_secs(60);

/// A complaint from `from` to the support address with extra header fields on top (as the
/// receiving server's filters put them there).
async fn send_with_headers(w: &World, from: &str, extra: &str, subject: &str) {
    let raw = format!(
        "{extra}From: Someone <{from}>\r\nTo: Support <{support}>\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Claim your prize now, click here.\r\n",
        support = w.support,
        id = unique("spam"),
    );
    w.send_raw(from, &w.support, raw.as_bytes()).await;
}

/// A clean complaint sent after the suspect one: its acknowledgment proves the daemon took
/// in the mail before it and goes on.
async fn clean_complaint_is_acknowledged(w: &World) {
    let clean = w.customer("clean");
    w.send_complaint(
        &clean,
        "Clara Clean",
        "Printer jams",
        "It jams on page two.",
    )
    .await;
    let acks = w.wait_for_acks(&clean).await;
    assert_eq!(acks.len(), 1, "one acknowledgment for the clean complaint");
    assert!(
        acks[0].subject.contains("Printer jams"),
        "{}",
        acks[0].subject
    );
}

/// Outbox rows of kind `ack` ever queued to `address` (sent or not).
fn acks_queued_to(w: &World, address: &str) -> i64 {
    w.store()
        .read()
        .outbox(None)
        .expect("the outbox")
        .iter()
        .filter(|o| o.kind == mailcase::case::kinds::OutboundKind::Ack && o.recipient == address)
        .count() as i64
}

/// The audit events (event, detail) of the case of `customer`.
fn case_events(w: &World, customer: &str) -> Vec<(AuditEvent, String)> {
    let case = w.case_of(customer);
    w.store()
        .read()
        .audit_of_case(Some(case.id))
        .unwrap()
        .into_iter()
        .map(|a| (a.event, a.detail))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_flagged_as_spam_opens_a_case_without_acknowledgment_and_warns_the_agents() {
    let w = World::new("spam_no_ack", AGENTS);
    let d = w.start();
    // The forged sender: an innocent third party whose address the spammer put in From.
    let victim = w.customer("victim");
    send_with_headers(
        &w,
        &victim,
        "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=14.2 required=5.0 tests=BAYES_99\r\n",
        "You have won",
    )
    .await;
    clean_complaint_is_acknowledged(&w).await;
    w.wait_inbox_empty().await;

    // The case stands (nothing lost), audited as suspected spam, never acknowledged.
    let case = w.case_of(&victim);
    assert_eq!(case.status, Status::New, "not acknowledged");
    let events = case_events(&w, &victim);
    let suspected = events
        .iter()
        .find(|(e, _)| *e == AuditEvent::SuspectedSpam)
        .unwrap_or_else(|| panic!("no suspected_spam event in {events:?}"));
    assert!(suspected.1.contains("X-Spam-Flag: YES"), "{}", suspected.1);
    assert!(
        events
            .iter()
            .any(|(e, d)| *e == AuditEvent::AckSuppressed && d.contains("suspected spam")),
        "{events:?}"
    );
    assert_eq!(acks_queued_to(&w, &victim), 0);
    assert!(w.mailbox(&victim, "INBOX").await.is_empty());

    // The agents' card says so.
    let notes = wait_for("the agents' card of the spam case", WAIT, || async {
        let m = w.mailbox(&w.ann, "INBOX").await;
        m.into_iter().find(|n| n.subject.contains(&case.reference))
    })
    .await;
    assert!(
        notes.text.contains("suspected spam: X-Spam-Flag: YES")
            && notes.text.contains("No acknowledgment was sent"),
        "{}",
        notes.text
    );

    // A reply into an existing case by our reply address is still threaded, spam flag or
    // not: it comes from the case's own customer, and a filter's mistake must not lose it.
    let clean = w.customer("clean");
    let ack = w.mailbox(&clean, "INBOX").await.remove(0);
    let reply = thunderbird_reply(&clean, "Clara Clean", &ack, "It still jams.");
    let reply = format!("X-Spam-Flag: YES\r\n{reply}");
    let to = ack.reply_to.as_ref().unwrap().address.clone();
    w.send_raw(&clean, &to, reply.as_bytes()).await;
    wait_for("the flagged reply joined its case", WAIT, || async {
        case_events(&w, &clean)
            .iter()
            .any(|(e, _)| *e == AuditEvent::MessageJoined)
            .then_some(())
    })
    .await;
    assert_eq!(w.store().read().cases().unwrap().len(), 2);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_flagged_as_spam_is_quarantined_with_its_reason_when_configured() {
    let w = World::new("spam_quarantine", "[spam]\naction = \"quarantine\"\n");
    let d = w.start();
    let victim = w.customer("victim");
    send_with_headers(
        &w,
        &victim,
        "X-Spamd-Result: default: True [16.20 / 15.00];\r\n\tBAYES_SPAM(5.10)[99.99%]\r\nX-Rspamd-Action: reject\r\n",
        "Cheap pills",
    )
    .await;
    clean_complaint_is_acknowledged(&w).await;
    w.wait_inbox_empty().await;

    let q = w.store().read().quarantine().unwrap();
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(
        q[0].1
            .starts_with("suspected spam: X-Spamd-Result: default: True [16.20")
            && q[0].1.contains("X-Rspamd-Action: reject")
            && q[0].1.ends_with("(spam.action = quarantine)"),
        "{}",
        q[0].1
    );
    let folder = read_raw(&w.support, "Quarantine", &w.env).await;
    assert_eq!(folder.len(), 1);
    assert!(String::from_utf8_lossy(&folder[0]).contains("Subject: Cheap pills"));
    assert!(
        w.find_case_of(&victim).is_none(),
        "no case for quarantined spam"
    );
    assert_eq!(acks_queued_to(&w, &victim), 0);
    assert!(w.mailbox(&victim, "INBOX").await.is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmarc_failure_in_our_authentication_results_means_no_acknowledgment_and_a_foreign_one_is_ignored(
) {
    let w = World::new("spam_dmarc", "[spam]\nauthserv_id = \"mx.support.test\"\n");
    let d = w.start();
    // Our server's verdict on top: DMARC failed for the From domain.
    let victim = w.customer("victim");
    send_with_headers(
        &w,
        &victim,
        "Authentication-Results: mx.support.test; spf=pass smtp.mailfrom=bulk.example;\r\n\tdkim=none; dmarc=fail (p=reject) header.from=customer.test\r\n",
        "Your invoice",
    )
    .await;
    // A failing field from somebody else's authserv-id, below our passing one: ignored.
    let other = w.customer("other");
    send_with_headers(
        &w,
        &other,
        "Authentication-Results: mx.support.test; spf=pass smtp.mailfrom=customer.test; dmarc=pass header.from=customer.test\r\n\
         Authentication-Results: mx.elsewhere.example; spf=fail; dmarc=fail header.from=customer.test\r\n",
        "Question about my order",
    )
    .await;
    let acks = w.wait_for_acks(&other).await;
    assert_eq!(acks.len(), 1);
    clean_complaint_is_acknowledged(&w).await;
    w.wait_inbox_empty().await;

    let case = w.case_of(&victim);
    assert_eq!(case.status, Status::New, "not acknowledged");
    let events = case_events(&w, &victim);
    assert!(
        events.iter().any(|(e, d)| *e == AuditEvent::SuspectedSpam
            && d.contains("Authentication-Results from mx.support.test: dmarc=fail")),
        "{events:?}"
    );
    assert_eq!(acks_queued_to(&w, &victim), 0);
    assert!(w.mailbox(&victim, "INBOX").await.is_empty());
    assert!(case_events(&w, &other)
        .iter()
        .all(|(e, _)| *e != AuditEvent::SuspectedSpam));
    d.stop().await;
}

/// The shared corpus's human mail (labels.tsv `human-new`, `human-reply`), none of it spam:
/// no default verdict may fire on it. One reply there forwards a message whose own header
/// says `X-Spam-Status: Yes`: only the top-level header counts, never an attached message's.
#[test]
fn no_human_mail_of_the_corpus_is_suspected_spam_not_even_one_forwarding_a_flagged_message() {
    use mailcase::classify::spam::judge;
    use mailcase::config::SpamConfig;
    use mailcase::parse::{parse, ParseLimits};

    let dir = repo().join("../shared/corpus");
    let Ok(labels) = std::fs::read_to_string(dir.join("labels.tsv")) else {
        common::skip::skipped(
            "the spam check of the corpus's human mail",
            &format!("the corpus is not at {}", dir.display()),
            "MAILCASE_REQUIRE_CORPUS",
        );
        return;
    };
    let mut judged = Vec::new();
    for line in labels.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(path), Some(class)) = (cols.next(), cols.next()) else {
            continue;
        };
        if !class.starts_with("human") {
            continue;
        }
        let raw = std::fs::read(dir.join(path)).expect("labelled corpus file");
        let Ok(msg) = parse(&raw, &ParseLimits::default()) else {
            continue;
        };
        let verdict = judge(
            &SpamConfig::default(),
            Some("mx.support.test"),
            &msg.headers,
        );
        assert!(verdict.is_none(), "{path}: {verdict:?}");
        judged.push(path.to_string());
    }
    // Many reply-parser fixtures are bodies without a header, which do not parse: 35 do.
    assert!(
        judged.len() >= 30,
        "only {} human messages judged",
        judged.len()
    );
    assert!(
        judged
            .iter()
            .any(|p| p.ends_with("stalwartlabs-mail-parser/resources/eml/thirdparty/015.eml")),
        "the reply forwarding a flagged message was judged"
    );
}
