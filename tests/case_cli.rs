//! Looking at cases from the command line, on a database the real daemon filled from the real
//! Dovecot + Postfix, while that daemon keeps running: `mailcase cases` with its filters and
//! formats, `mailcase case REF` (timeline, JSON, raw bytes, typos in references) and
//! `mailcase template preview`, plus `mailcase check` refusing a broken template copy.
//!
//! One world is filled once for the whole file (three cases, an agent's note, an answer that
//! resolves, a rating) and every test runs the `mailcase` binary against it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::replies::*;
use common::*;
use mailcase::case::kinds::MessageOutcome;
use mailcase::case::Status;
use mailcase::parse::InboundMessage;

const CONFIG: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"

[feedback]
when = "resolved"

[send_window]
start = "00:00"
end = "23:59"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
"#;

const WAIT: Duration = Duration::from_secs(90);

/// The filled world: three cases and what was sent to open them.
struct Fixture {
    w: World,
    /// Opened ten days ago (on the daemon's clock), urgent, never answered: breached, so
    /// escalated and overdue.
    outage: String,
    /// Bob's billing complaint: an internal note, an answer that resolves it, a rating 5.
    billing: String,
    billing_raw: Vec<u8>,
    billing_id: String,
    /// Bob's second, general case, opened last.
    question: String,
    bob: String,
    /// The daemon keeps running (its runtime lives as long as the test process): the
    /// commands read the database while it writes.
    _daemon: Daemon,
    _rt: tokio::runtime::Runtime,
    _clock: Arc<mailcase::clock::MovableClock>,
}

fn fixture() -> &'static Fixture {
    // Filled once; when filling fails, the first test shows why and the others say so
    // instead of filling again.
    static F: OnceLock<Option<Fixture>> = OnceLock::new();
    let f = F.get_or_init(|| std::panic::catch_unwind(build).ok());
    f.as_ref()
        .expect("the shared world could not be filled: see the first failing test")
}

fn build() -> Fixture {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (w, daemon, clock, refs) = rt.block_on(fill());
    Fixture {
        w,
        outage: refs.0,
        billing: refs.1,
        billing_raw: refs.2,
        billing_id: refs.3,
        question: refs.4,
        bob: refs.5,
        _daemon: daemon,
        _rt: rt,
        _clock: clock,
    }
}

type Filled = (
    World,
    Daemon,
    Arc<mailcase::clock::MovableClock>,
    (String, String, Vec<u8>, String, String, String),
);

async fn case_of(w: &World, customer: &str, n: usize) -> Vec<mailcase::store::CaseRow> {
    wait_for(&format!("{n} case(s) of {customer}"), WAIT, || async {
        let mut v: Vec<_> = w
            .store()
            .read()
            .cases()
            .unwrap()
            .into_iter()
            .filter(|c| c.customer_address == customer)
            .collect();
        v.sort_by_key(|c| c.id);
        (v.len() >= n).then_some(v)
    })
    .await
}

async fn wait_status(w: &World, reference: &str, status: Status) {
    wait_for(&format!("{reference} {status}"), WAIT, || async {
        let c = w.store().read().case_by_reference(reference).unwrap()?;
        (c.status == status).then_some(())
    })
    .await
}

async fn wait_outcome(w: &World, case_id: i64, outcome: MessageOutcome) {
    wait_for(&format!("a message {outcome}"), WAIT, || async {
        let m = w.store().read().messages_of_case(case_id).unwrap();
        m.iter().any(|m| m.outcome == outcome).then_some(())
    })
    .await
}

async fn mail_about(w: &World, user: &str, reference: &str, needle: &str) -> InboundMessage {
    wait_for(
        &format!("mail to {user} about {reference}"),
        WAIT,
        || async {
            w.mailbox(user, "INBOX")
                .await
                .into_iter()
                // Words, not lines: notices are wrapped at 72 columns.
                .find(|m| {
                    m.subject.contains(reference)
                        && m.text
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                            .contains(needle)
                })
        },
    )
    .await
}

async fn fill() -> Filled {
    let w = World::new("case_cli", CONFIG);
    let ten_days = chrono::Duration::days(10);
    let start = mailcase::clock::Clock::now(&mailcase::clock::SystemClock) - ten_days;
    let (daemon, clock, wake) = w.start_at(start);

    // Ten days ago: an urgent complaint nobody answers.
    let alice = w.customer("alice");
    w.send_complaint(
        &alice,
        "Alice Adams",
        "Shop down",
        "Our shop is down since this morning: a total outage.",
    )
    .await;
    w.wait_for_acks(&alice).await;
    let outage = case_of(&w, &alice, 1).await.remove(0).reference;
    // Back to today: its first-response target passed long ago, so the scheduler escalates it.
    clock.advance(ten_days);
    wake.notify_one();
    wait_status(&w, &outage, Status::Escalated).await;

    // Today: Bob's billing complaint, with markup that must stay text.
    let bob = w.customer("bob");
    let billing_id = format!("{}@customer.test", unique("billing"));
    let billing_raw = format!(
        "From: Bob Brown <{bob}>\r\nTo: Support <{support}>\r\nSubject: Invoice charged twice\r\n\
         Message-ID: <{billing_id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n\
         My invoice 1127 was charged <b>twice</b> & I want one refund.\r\n\r\nBob\r\n",
        support = w.support
    )
    .into_bytes();
    w.send_raw(&bob, &w.support, &billing_raw).await;
    w.wait_for_acks(&bob).await;
    let billing_case = case_of(&w, &bob, 1).await.remove(0);
    let billing = billing_case.reference.clone();
    let card = mail_about(&w, &w.ann, &billing, "charged").await;

    // Ann notes something for her colleagues, then answers and resolves.
    let note = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#note\r\nCustomer phoned: card ending 4242.",
    );
    let agent_address = card.reply_to.as_ref().unwrap().address.clone();
    w.send_raw(&w.ann, &agent_address, note.as_bytes()).await;
    wait_outcome(&w, billing_case.id, MessageOutcome::AgentNote).await;
    let answer = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#resolve\r\nHello Bob, we refunded the second payment today.\r\n\r\nAnn",
    );
    w.send_raw(&w.ann, &agent_address, answer.as_bytes()).await;
    wait_status(&w, &billing, Status::Resolved).await;

    // Bob rates the handling from the feedback request.
    let request = mail_about(&w, &bob, &billing, "How satisfied are you").await;
    let rating = thunderbird_reply(&bob, "Bob Brown", &request, "5 - quick and friendly");
    let customer_address = request.reply_to.as_ref().unwrap().address.clone();
    w.send_raw(&bob, &customer_address, rating.as_bytes()).await;
    wait_outcome(&w, billing_case.id, MessageOutcome::Rating).await;

    // And a second, unrelated question of Bob's.
    w.send_complaint(
        &bob,
        "Bob Brown",
        "Changing my \"e-mail\", address",
        "How do I change the address on my account?",
    )
    .await;
    let question = case_of(&w, &bob, 2).await.remove(1).reference;
    (
        w,
        daemon,
        clock,
        (outage, billing, billing_raw, billing_id, question, bob),
    )
}

fn mailcase(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env("MAILCASE_LOG", "warn")
        .output()
        .unwrap()
}

/// Runs `mailcase` on the fixture's config and returns stdout, failing on a non-zero exit.
fn ok(args: &[&str]) -> String {
    let out = mailcase(&fixture().w.config_path, args);
    assert!(
        out.status.success(),
        "mailcase {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `mailcase` expecting it to fail; returns stderr.
fn fails(args: &[&str]) -> String {
    let out = mailcase(&fixture().w.config_path, args);
    assert!(
        !out.status.success(),
        "mailcase {args:?} should fail:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The references `mailcase cases --json ARGS` lists.
fn listed(args: &[&str]) -> BTreeSet<String> {
    let mut a = vec!["cases", "--json"];
    a.extend_from_slice(args);
    let v: serde_json::Value = serde_json::from_str(&ok(&a)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| c["reference"].as_str().unwrap().to_string())
        .collect()
}

fn set(refs: &[&String]) -> BTreeSet<String> {
    refs.iter().map(|r| r.to_string()).collect()
}

#[test]
fn cases_filters_select_exactly_the_matching_cases() {
    let f = fixture();
    let all = set(&[&f.outage, &f.billing, &f.question]);
    assert_eq!(listed(&[]), all);
    assert_eq!(listed(&["--status", "escalated"]), set(&[&f.outage]));
    assert_eq!(listed(&["--status", "resolved"]), set(&[&f.billing]));
    assert_eq!(listed(&["--category", "billing"]), set(&[&f.billing]));
    assert_eq!(listed(&["--priority", "urgent"]), set(&[&f.outage]));
    assert_eq!(
        listed(&["--priority", "normal"]),
        set(&[&f.billing, &f.question])
    );
    assert_eq!(listed(&["--overdue"]), set(&[&f.outage]));
    // Addresses compare without regard to case.
    assert_eq!(
        listed(&["--customer", &f.bob.to_uppercase()]),
        set(&[&f.billing, &f.question])
    );
    assert_eq!(listed(&["--since", "7d"]), set(&[&f.billing, &f.question]));
    assert_eq!(listed(&["--since", "24h"]), set(&[&f.billing, &f.question]));
    let today = mailcase::clock::Clock::now(&mailcase::clock::SystemClock).date_naive();
    let day = |d: i64| (today - chrono::Duration::days(d)).to_string();
    assert_eq!(listed(&["--since", &day(12)]), all);
    assert_eq!(
        listed(&["--since", &day(3)]),
        set(&[&f.billing, &f.question])
    );
    // Filters combine.
    assert_eq!(
        listed(&["--customer", &f.bob, "--category", "general"]),
        set(&[&f.question])
    );
    assert!(listed(&["--customer", &f.bob, "--overdue"]).is_empty());
}

#[test]
fn cases_refuses_filter_values_that_can_match_nothing() {
    let err = fails(&["cases", "--status", "opened"]);
    assert!(
        err.contains("--status opened") && err.contains("escalated"),
        "{err}"
    );
    let err = fails(&["cases", "--category", "billling"]);
    assert!(err.contains("billling") && err.contains("billing"), "{err}");
    let err = fails(&["cases", "--since", "7"]);
    assert!(err.contains("2026-11-01"), "{err}");
    let err = fails(&["cases", "--queue", "billing"]);
    assert!(
        err.contains("--queue billing: no such queue; known: default"),
        "{err}"
    );
    // The implicit queue of a config without queues holds every case.
    assert_eq!(listed(&["--queue", "default"]).len(), 3);
    assert_eq!(listed(&["--brand", "default"]).len(), 3);
}

#[test]
fn cases_table_is_aligned_and_flags_the_overdue_case() {
    let f = fixture();
    let text = ok(&["cases"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("REFERENCE"), "{text}");
    assert_eq!(lines.last().copied(), Some("3 case(s)"));
    let rows = &lines[1..lines.len() - 1];
    assert_eq!(rows.len(), 3, "{text}");
    // Every row's status starts under the STATUS heading.
    let col = lines[0].find("STATUS").unwrap();
    for r in rows {
        let reference = &r[..col].trim_end();
        let status = r[col..].split_whitespace().next().unwrap();
        let expected = [
            (&f.outage, "escalated"),
            (&f.billing, "resolved"),
            (&f.question, "acknowledged"),
        ];
        let (_, s) = expected
            .iter()
            .find(|(reference2, _)| reference2.as_str() == *reference)
            .unwrap_or_else(|| panic!("unexpected row {r}"));
        assert_eq!(status, *s, "{text}");
    }
    let outage_row = rows.iter().find(|r| r.starts_with(&f.outage)).unwrap();
    assert!(outage_row.contains("OVERDUE"), "{text}");
    assert_eq!(text.matches("OVERDUE").count(), 1, "{text}");
}

#[test]
fn cases_csv_parses_back_with_its_columns() {
    let f = fixture();
    let text = ok(&["cases", "--csv"]);
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        headers,
        [
            "reference",
            "status",
            "category",
            "priority",
            "customer_address",
            "customer_name",
            "subject",
            "created_at",
            "updated_at",
            "first_response_due",
            "first_response_at",
            "resolution_due",
            "resolved_at",
            "assignee",
            "overdue",
            "escalated_at",
            "legal_hold",
            "purged_at",
            "erased_at",
            "queue",
            "brand",
        ]
    );
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    let row = |reference: &str| {
        rows.iter()
            .find(|x| &x[col("reference")] == reference)
            .unwrap()
            .clone()
    };
    let b = row(&f.billing);
    assert_eq!(&b[col("customer_address")], f.bob.as_str());
    assert_eq!(&b[col("customer_name")], "Bob Brown");
    assert_eq!(&b[col("subject")], "Invoice charged twice");
    assert_eq!(&b[col("status")], "resolved");
    assert!(!b[col("first_response_at")].is_empty());
    assert_eq!(&b[col("overdue")], "false");
    // A config without queues: every case is in the implicit queue and brand.
    assert_eq!(&b[col("queue")], "default");
    assert_eq!(&b[col("brand")], "default");
    let o = row(&f.outage);
    assert_eq!(&o[col("overdue")], "true");
    assert_eq!(&o[col("priority")], "urgent");
    assert!(!o[col("escalated_at")].is_empty());
    // A subject with a comma and quotes survives the round trip (quoted as RFC 4180 says).
    let q = row(&f.question);
    assert_eq!(&q[col("subject")], "Changing my \"e-mail\", address");
    assert!(
        text.contains(r#""Changing my ""e-mail"", address""#),
        "{text}"
    );
}

#[test]
fn case_shows_one_timeline_in_time_order_with_visible_text_only() {
    let f = fixture();
    let text = ok(&["case", &f.billing.to_lowercase()]);
    let pos = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    };
    assert!(text.starts_with(&format!("{}  Invoice charged twice", f.billing)));
    assert!(text.contains("rating 5/5 \"quick and friendly\""), "{text}");
    // The story in the order it happened.
    let order = [
        pos(&format!("message #1 from {}", f.bob)),
        pos("mail ack to customer"),
        pos(&format!("internal note #2 from {}", f.w.ann)),
        pos("Customer phoned: card ending 4242."),
        pos(&format!("message #3 from {}", f.w.ann)),
        pos("we refunded the second payment today"),
        pos(&format!("commands #resolve by {}", f.w.ann)),
        pos("→ resolved by"),
        pos("mail agent_reply to customer"),
        pos("timer feedback_request fired"),
        pos(&format!("message #4 from {}", f.bob)),
        pos("rating 5/5 by"),
    ];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "out of order {order:?}:\n{text}"
    );
    // Visible text only: the quoted card is not repeated under Ann's answer.
    assert!(!text.contains("wrote:"), "{text}");
    // Audit details in words, not the JSON they are stored as; times say their zone.
    assert!(!text.contains("{\""), "{text}");
    assert!(text.contains("case opened: "), "{text}");
    assert!(text.contains("timeline (UTC):"), "{text}");
    assert!(
        text.lines()
            .nth(2)
            .is_some_and(|l| l.starts_with("opened ") && l.contains(" UTC")),
        "{text}"
    );
    // Delivery state of what we sent.
    assert!(text.contains("sent "), "{text}");
    assert!(text.contains("attempt(s)"), "{text}");
}

#[test]
fn case_json_carries_the_merged_timeline_and_delivery_state() {
    let f = fixture();
    let v: serde_json::Value = serde_json::from_str(&ok(&["case", &f.billing, "--json"])).unwrap();
    assert_eq!(v["case"]["reference"], f.billing.as_str());
    assert_eq!(v["rating"]["rating"], 5);
    let t = v["timeline"].as_array().unwrap();
    let at: Vec<&str> = t.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] <= w[1]), "{at:?}");
    let kinds: BTreeSet<&str> = t.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["message", "status", "commands", "timer", "mail", "rating"] {
        assert!(kinds.contains(k), "no {k} in {kinds:?}");
    }
    let messages: Vec<&serde_json::Value> = t.iter().filter(|e| e["kind"] == "message").collect();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0]["message_id"], f.billing_id.as_str());
    assert_eq!(messages[1]["internal"], true);
    let ack = t
        .iter()
        .find(|e| e["kind"] == "mail" && e["mail"] == "ack")
        .unwrap();
    assert_eq!(ack["status"], "sent");
    assert!(ack["attempts"].as_i64().unwrap() >= 1);
    assert!(ack["sent_at"].is_string());
    assert_eq!(ack["recipient"], f.bob.as_str());
}

#[test]
fn case_raw_prints_the_stored_message_byte_for_byte() {
    let f = fixture();
    let out = mailcase(&f.w.config_path, &["case", &f.billing, "--raw", "1"]);
    assert!(out.status.success());
    // Exactly the bytes Dovecot holds (the daemon moved the message to its processed folder).
    let folder = f.w.config().mailboxes[0].processed_folder.clone();
    let held = f._rt.block_on(read_raw(&f.w.support, &folder, &f.w.env));
    assert!(
        held.contains(&out.stdout),
        "not byte-identical to any of the {} message(s) in {folder}",
        held.len()
    );
    // And what the customer sent is in it unchanged, after the trace headers Postfix and
    // Dovecot put in front (and before the CRLF the SMTP client ends its DATA with).
    let at = out
        .stdout
        .windows(f.billing_raw.len())
        .position(|w| w == f.billing_raw.as_slice())
        .unwrap_or_else(|| {
            panic!(
                "sent bytes not found in:\n{}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
    let trace = String::from_utf8_lossy(&out.stdout[..at]);
    for l in trace.lines() {
        assert!(
            ["Return-Path:", "Delivered-To:", "Received:", "\t", " "]
                .iter()
                .any(|p| l.starts_with(p)),
            "not a trace header: {l}"
        );
    }
    assert!(matches!(
        &out.stdout[at + f.billing_raw.len()..],
        b"" | b"\r\n"
    ));
    let err = fails(&["case", &f.billing, "--raw", "9"]);
    assert!(err.contains("numbered 1 to 4"), "{err}");
}

#[test]
fn a_mistyped_reference_suggests_the_existing_case() {
    let f = fixture();
    let r = f.billing.clone();
    let b: Vec<char> = r.chars().collect();
    // One symbol of the body changed (to another symbol of the alphabet).
    let mut sub = b.clone();
    sub[5] = if sub[5] == '7' { '8' } else { '7' };
    // Two neighbours swapped (when they differ), and the check symbol wrong.
    let mut swap = b.clone();
    let i = (4..8).find(|&i| b[i] != b[i + 1]).unwrap();
    swap.swap(i, i + 1);
    let mut check = b.clone();
    check[10] = if check[10] == 'A' { 'B' } else { 'A' };
    for typo in [sub, swap, check] {
        let typo: String = typo.into_iter().collect();
        let err = fails(&["case", &typo.to_lowercase()]);
        assert!(err.contains(&format!("did you mean {r}?")), "{typo}: {err}");
    }
    // Hyphens forgotten.
    let err = fails(&["case", &r.replace('-', "")]);
    assert!(err.contains(&format!("did you mean {r}?")), "{err}");
    // Lower case is a reference, not a typo.
    assert!(ok(&["case", &r.to_lowercase()]).starts_with(&r));
}

#[test]
fn a_reference_of_no_case_says_so() {
    let f = fixture();
    let mut rng = rand::thread_rng();
    let missing = loop {
        let r = mailcase::case::Reference::generate("CMP", &mut rng);
        if ![&f.outage, &f.billing, &f.question].contains(&&r.to_string()) {
            break r;
        }
    };
    let err = fails(&["case", missing.as_str()]);
    assert!(err.contains(&format!("no case {missing}")), "{err}");
    let err = fails(&["case", "hello"]);
    assert!(err.contains("not shaped like"), "{err}");
}

#[test]
fn template_preview_renders_a_real_case_and_escapes_its_text_in_html() {
    let f = fixture();
    let text = ok(&[
        "template",
        "preview",
        "agent_new_case",
        "--case",
        &f.billing,
        "--html",
    ]);
    let (plain, html) = text.split_once("----- HTML part").expect("an HTML part");
    assert!(
        plain.contains(&format!("Subject: [{}] Invoice charged twice", f.billing)),
        "{plain}"
    );
    assert!(plain.contains("charged <b>twice</b> & I want"), "{plain}");
    assert!(plain.contains(&f.bob), "{plain}");
    assert!(html.contains(&f.billing), "{html}");
    assert!(html.contains("&lt;b&gt;twice&lt;"), "{html}");
    assert!(!html.contains("<b>twice</b>"), "{html}");

    // The answer relayed to the customer, as it would go out.
    let text = ok(&[
        "template",
        "preview",
        "customer_agent_reply",
        "--case",
        &f.billing,
    ]);
    assert!(
        text.contains(&format!("Subject: [{}] Invoice charged twice", f.billing)),
        "{text}"
    );
    assert!(
        text.contains("we refunded the second payment today"),
        "{text}"
    );
    // As the customer got it: without the agent's command line, with the resolved notice.
    assert!(!text.contains("#resolve"), "{text}");
    // (The notice is wrapped at 72 columns: compare its words.)
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("as resolved"), "{text}");
    assert!(!text.contains("HTML part"), "HTML only with --html");

    let text = ok(&["template", "preview", "acknowledgment", "--case", &f.outage]);
    assert!(
        text.contains(&f.outage) && text.contains("outage"),
        "{text}"
    );

    let err = fails(&["template", "preview", "no_such", "--case", &f.billing]);
    assert!(err.contains("customer_agent_reply"), "{err}");
}

/// The due time a customer mail promises: what stands between ", by " and " at the latest".
fn promised(text: &str) -> String {
    let one = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let from = one.find(", by ").map(|i| i + 5).unwrap_or_default();
    let to = one[from..]
        .find(" at the latest")
        .map_or(one.len(), |i| from + i);
    one[from..to].to_string()
}

#[test]
fn template_preview_gives_the_times_the_sent_mail_gave() {
    let f = fixture();
    // The escalation notice Alice got: its new timeline runs from the escalation, and
    // the preview shows the same time, not the original target.
    let alice = f.w.customer("alice");
    let sent = f
        ._rt
        .block_on(mail_about(&f.w, &alice, &f.outage, "senior team"));
    let due = promised(&sent.text);
    assert!(due.contains(" 20"), "{}", sent.text);
    for t in ["customer_update", "customer_escalated"] {
        let text = ok(&["template", "preview", t, "--case", &f.outage]);
        assert_eq!(promised(&text), due, "{t}: {text}");
        // It followed a missed target: one apology.
        assert_eq!(text.matches("sorry").count(), 1, "{t}: {text}");
    }
    // A raised priority promises a time too, even on a case answered long ago.
    let text = ok(&[
        "template",
        "preview",
        "customer_priority_raised",
        "--case",
        &f.billing,
    ]);
    assert!(!text.contains("by  at"), "{text}");
    assert!(promised(&text).contains(" 20"), "{text}");
    // The card shows the first-response target it was sent with, though it was answered.
    let card = ok(&[
        "template",
        "preview",
        "agent_new_case",
        "--case",
        &f.billing,
    ]);
    let line = card
        .lines()
        .find(|l| l.starts_with("Answer by:"))
        .unwrap_or_default();
    assert!(!line.contains(":  ("), "{card}");
    assert!(line.contains(" 20") && line.contains("("), "{card}");
    // The managers' notice says when the target was due and how late it was.
    let text = ok(&[
        "template",
        "preview",
        "manager_escalation",
        "--case",
        &f.outage,
    ]);
    assert!(text.contains("target was due"), "{text}");
    assert!(text.contains("and was missed by "), "{text}");
}

/// A copy of the shipped templates and a config (next to the test's) that uses it.
fn edited_templates(name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let f = fixture();
    let dir = f.w.dir.path().join(format!("templates-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    // The top folder only: a templates folder without language folders is English alone.
    for e in std::fs::read_dir(repo().join("templates")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
    }
    edit(&dir);
    let cfg = std::fs::read_to_string(&f.w.config_path).unwrap();
    let shipped = repo().join("templates").display().to_string();
    assert!(cfg.contains(&shipped));
    let path = f.w.dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, cfg.replace(&shipped, &dir.display().to_string())).unwrap();
    path
}

#[test]
fn template_preview_shows_the_admins_edited_copy() {
    let f = fixture();
    let config = edited_templates("preview", |dir| {
        let p = dir.join("customer_resolved.txt.tera");
        let t = std::fs::read_to_string(&p).unwrap();
        std::fs::write(p, format!("EDITED COPY for {{{{ reference }}}}\n{t}")).unwrap();
    });
    let out = mailcase(
        &config,
        &[
            "template",
            "preview",
            "customer_resolved",
            "--case",
            &f.billing,
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("EDITED COPY for {}", f.billing)),
        "{text}"
    );
}

#[test]
fn check_fails_on_a_template_with_a_syntax_error_or_an_unknown_variable() {
    let f = fixture();
    let syntax = edited_templates("syntax", |dir| {
        std::fs::write(
            dir.join("customer_escalated.html.tera"),
            "<p>Hello {{ customer_name </p>",
        )
        .unwrap();
    });
    let out = mailcase(&syntax, &["check", "--offline"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("customer_escalated.html.tera"), "{err}");

    let unknown = edited_templates("unknown", |dir| {
        std::fs::write(
            dir.join("agent_sla_warning.txt.tera"),
            "Due {{ due_local }} for {{ refrence }}",
        )
        .unwrap();
    });
    let out = mailcase(&unknown, &["check", "--offline"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("refrence") && err.contains("agent_sla_warning"),
        "{err}"
    );
    // The preview of that template says the same, rather than printing half a mail.
    let out = mailcase(
        &unknown,
        &[
            "template",
            "preview",
            "agent_sla_warning",
            "--case",
            &f.billing,
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refrence"));
    // The shipped templates pass.
    let out = mailcase(&f.w.config_path, &["check", "--offline"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn output_to_a_closed_pipe_ends_quietly_with_success() {
    // `mailcase cases | head -1`: the reader goes away while the command writes. Here it has
    // gone before the command starts writing (its end of the pipe is closed as soon as the
    // process exists), so every write meets EPIPE.
    let f = fixture();
    let billing = f.billing.as_str();
    let commands: [&[&str]; 9] = [
        &["cases"],
        &["cases", "--json"],
        &["cases", "--csv"],
        &["case", billing],
        &["case", billing, "--json"],
        &["case", billing, "--raw", "1"],
        &[
            "template",
            "preview",
            "customer_resolved",
            "--case",
            billing,
        ],
        &["report", "--since", "30d"],
        &["check", "--offline"],
    ];
    for args in commands {
        // Each writes something when somebody reads it.
        assert!(!ok(args).is_empty(), "mailcase {args:?} printed nothing");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailcase"))
            .arg("--config")
            .arg(&f.w.config_path)
            .args(args)
            .env("MAILCASE_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "mailcase {args:?} exited {:?}: {err}",
            out.status
        );
        assert!(err.is_empty(), "mailcase {args:?} said: {err}");
    }
}
