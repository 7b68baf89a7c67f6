//! Records management on a database the real daemon filled from the real Dovecot + Postfix:
//! legal hold, the retention purge (from the CLI and the daemon's daily run on its moved
//! clock), and the data-protection export and erasure of one address, run through the real
//! `mailcase` binary.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::replies::*;
use common::*;
use mailcase::case::kinds::AuditEvent;
use mailcase::case::Status;
use mailcase::store::AuditRow;
use mailcase::store::CaseRow;

const AGENTS: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"
"#;

const WAIT: Duration = Duration::from_secs(60);

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn mailcase(w: &World, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(args)
        .env("USER", "records-test")
        .output()
        .unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn case_by_id(w: &World, id: i64) -> CaseRow {
    w.store()
        .read()
        .cases()
        .unwrap()
        .into_iter()
        .find(|c| c.id == id)
        .expect("the case row stays")
}

/// Sends a complaint and waits for its case.
async fn complain(w: &World, customer: &str, subject: &str, body: &str) -> CaseRow {
    w.send_complaint(customer, "Customer", subject, body).await;
    wait_for(&format!("case `{subject}`"), WAIT, || async {
        w.store()
            .read()
            .cases()
            .unwrap()
            .into_iter()
            .find(|c| c.subject == subject && c.customer_address == customer)
    })
    .await
}

/// The agents' card of a case.
async fn card_of(w: &World, case: &CaseRow) -> mailcase::parse::InboundMessage {
    wait_for("the agents' card", WAIT, || async {
        w.mailbox(&w.ann, "INBOX")
            .await
            .into_iter()
            .find(|m| m.subject.contains(&case.reference))
    })
    .await
}

/// Ann resolves the case, the customer thanks her: closed at once.
async fn resolve_and_close(w: &World, case: &CaseRow, customer: &str) {
    let card = card_of(w, case).await;
    let phrase = format!("Fixed for {}", case.reference);
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        &format!("#resolve\r\n{phrase}, sorry!"),
    );
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let answer = wait_for("the resolution", WAIT, || async {
        w.mailbox(customer, "INBOX")
            .await
            .into_iter()
            .find(|m| m.text.contains(&phrase))
    })
    .await;
    let raw = gmail_reply(customer, "Customer", &answer, "Thank you, works now!");
    w.send_raw(
        customer,
        &answer.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_for("closed by the thanks", WAIT, || async {
        (case_by_id(w, case.id).status == Status::Closed).then_some(())
    })
    .await;
}

/// References listed by `purge --dry-run` as cases to go.
fn listed_cases(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("  case "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn purged(w: &World, id: i64) -> bool {
    w.store().read().scrubbed_at(id).unwrap().0.is_some()
}

/// The personal data of a purged or erased case is gone, its figures are what they were.
fn assert_scrubbed(w: &World, before: &CaseRow, address: &str) {
    let s = w.store();
    let after = case_by_id(w, before.id);
    assert_eq!(after.subject, "");
    assert_eq!(after.customer_address, "");
    assert_eq!(after.customer_name, None);
    assert_eq!(before.category, after.category, "category kept");
    assert_eq!(before.priority, after.priority, "priority kept");
    assert_eq!(before.created_at, after.created_at, "created_at kept");
    assert_eq!(before.reference, after.reference, "reference kept");
    assert_eq!(before.first_response_due, after.first_response_due);
    assert_eq!(before.first_response_at, after.first_response_at);
    assert_eq!(before.resolved_at, after.resolved_at);
    assert_eq!(before.resolution_due, after.resolution_due);
    assert_eq!(before.reopen_count, after.reopen_count);
    let msgs = s.read().messages_of_case(before.id).unwrap();
    assert!(!msgs.is_empty(), "message rows stay for the counts");
    for m in &msgs {
        assert_eq!(m.from_address, None);
        assert_eq!(m.subject, "");
        assert_eq!(m.body_text, "");
        assert_eq!(m.reply_text, None);
        assert_eq!(m.message_id, None);
        assert_eq!(s.read().raw_message(m.id).unwrap().flatten(), None);
    }
    assert!(s.participants(before.id).unwrap().is_empty());
    for o in s.read().outbox(Some(before.id)).unwrap() {
        assert_eq!(o.recipient, "");
        assert_eq!(o.subject, "");
    }
    assert!(s.read().timers(Some(before.id)).unwrap().is_empty());
    let audit = s.read().audit_of_case(Some(before.id)).unwrap();
    assert!(audit.iter().any(|a| a.event == AuditEvent::CaseOpened));
    for AuditRow {
        actor,
        event,
        detail,
        ..
    } in &audit
    {
        assert!(!actor.contains('@'), "{event} by {actor}");
        assert!(
            !detail.to_lowercase().contains(address),
            "{event}: {detail}"
        );
        if ![AuditEvent::Status, AuditEvent::Purged, AuditEvent::Erased].contains(event) {
            assert_eq!(detail, "{}", "{event} detail scrubbed");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_purges_closed_cases_when_due_keeps_held_ones_and_runs_daily() {
    let w = World::new(
        "rec_purge",
        &format!(
            "{AGENTS}\n[retention]\nclosed_cases_days = 30\nquarantine_days = 10\nraw_days = 20\nunattached_days = 10\n\n[retention.categories]\nbilling = 60\n"
        ),
    );
    let t0 = monday_10();
    let (d, clock, wake) = w.start_at(t0);
    let jane = w.customer("jane");
    let tom = w.customer("tom");
    let invoice = complain(
        &w,
        &jane,
        "Invoice wrong",
        "My invoice shows the wrong amount.",
    )
    .await;
    assert_eq!(invoice.category, "billing", "kept 60 days");
    let hours = complain(&w, &jane, "Opening hours", "When do you open on Saturdays?").await;
    let disputed = complain(&w, &tom, "Login question", "How do I reset my password?").await;
    let open = complain(&w, &tom, "Manual", "Where is the manual for the X200?").await;
    for (case, who) in [(&invoice, &jane), (&hours, &jane), (&disputed, &tom)] {
        resolve_and_close(&w, case, who).await;
    }
    // Something unreadable (quarantined) and an auto-reply that belongs to no case.
    w.append(b"this is not an e-mail message at all\r\n").await;
    let robot = w.customer("robot");
    let raw = format!(
        "From: <{robot}>\r\nTo: {}\r\nSubject: Automatic reply: out of office\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@customer.test>\r\n\r\nI am away.\r\n",
        w.support,
        unique("ooo")
    );
    w.send_raw(&robot, &w.support, raw.as_bytes()).await;
    wait_for("quarantined and robot mail stored", WAIT, || async {
        let s = w.store();
        let q = s.read().counts().unwrap().quarantined;
        let r = s
            .read()
            .all_messages()
            .unwrap()
            .into_iter()
            .any(|m| m.case_id.is_none() && m.robot.is_some());
        (q == 1 && r).then_some(())
    })
    .await;
    let robot_msg = w
        .store()
        .read()
        .all_messages()
        .unwrap()
        .into_iter()
        .find(|m| m.case_id.is_none() && m.robot.is_some())
        .unwrap();

    // Tom's closed case is disputed: on hold, audited.
    let r = mailcase(
        &w,
        &[
            "hold",
            &disputed.reference,
            "--reason",
            "Dispute over the account, letter of 1 Dec",
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("on legal hold"), "{}", r.stdout);
    let audit = w.store().read().audit_of_case(Some(disputed.id)).unwrap();
    assert!(audit.iter().any(|r| r.event == AuditEvent::LegalHold
        && r.actor == "cli:records-test"
        && r.detail.contains("Dispute")));

    // 45 days on: the general case is due, the billing one (60 days) and the held one are
    // not, the open one never; quarantine, raw bytes and robot mail are past their time.
    let before_hours = case_by_id(&w, hours.id);
    let before_counts = w.store().read().counts().unwrap();
    let day45 = at(t0 + chrono::Duration::days(45));
    let r = mailcase(&w, &["purge", "--dry-run", "--at", &day45]);
    assert!(r.ok, "{}", r.stderr);
    assert_eq!(
        listed_cases(&r.stdout),
        BTreeSet::from([hours.reference.clone()]),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.lines().any(|l| l.starts_with("  kept  ")
            && l.contains(&disputed.reference)
            && l.contains("Dispute")),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("  quarantine #"))
            .count(),
        1,
        "{}",
        r.stdout
    );
    let unattached: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("  unattached #"))
        .collect();
    assert_eq!(unattached.len(), 1, "{}", r.stdout);
    assert!(unattached[0].contains(&format!("#{} ", robot_msg.id)));
    // Times as the store keeps them (RFC 3339, UTC), as this listing has always shown them.
    assert!(
        unattached[0].contains(&mailcase::store::ts(robot_msg.received_at)),
        "{}",
        unattached[0]
    );
    let raw_lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("  raw #"))
        .collect();
    assert!(raw_lines.iter().any(|l| l.contains(&invoice.reference)));
    assert!(raw_lines.iter().any(|l| l.contains(&open.reference)));
    assert!(
        !raw_lines
            .iter()
            .any(|l| l.contains(&disputed.reference) || l.contains(&hours.reference)),
        "held: kept; purged whole: not listed twice\n{}",
        r.stdout
    );
    // A dry run changes nothing.
    assert_eq!(w.store().read().counts().unwrap(), before_counts);
    assert_eq!(case_by_id(&w, hours.id), before_hours);

    let r = mailcase(&w, &["purge", "--at", &day45]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("purged: 1 case(s)"), "{}", r.stdout);
    assert!(purged(&w, hours.id));
    assert_scrubbed(&w, &before_hours, &jane);
    let s = w.store();
    assert_eq!(s.read().counts().unwrap().cases, before_counts.cases);
    assert_eq!(s.read().counts().unwrap().messages, before_counts.messages);
    assert_eq!(s.read().counts().unwrap().quarantined, 0);
    let robot_after = s
        .read()
        .all_messages()
        .into_iter()
        .flatten()
        .find(|m| m.id == robot_msg.id)
        .unwrap();
    assert_eq!(robot_after.from_address, None);
    assert_eq!(robot_after.body_text, "");
    // The billing case keeps its text but lost its raw bytes; the held case keeps all.
    for m in s.read().messages_of_case(invoice.id).unwrap() {
        assert_eq!(s.read().raw_message(m.id).unwrap().flatten(), None);
        assert!(!m.subject.is_empty());
    }
    assert_eq!(case_by_id(&w, invoice.id).customer_address, jane);
    for m in s.read().messages_of_case(disputed.id).unwrap() {
        assert!(s.read().raw_message(m.id).unwrap().flatten().is_some());
    }
    drop(s);

    // The daemon's own daily purge, 61 days on its clock: the billing case goes, the held
    // one still stays.
    let first_run = wait_for("the purge at start, recorded", WAIT, || async {
        w.store().read().maintenance("purge").unwrap()
    })
    .await
    .0;
    assert!(at(first_run) < day45, "ran at start: {first_run}");
    clock.advance(chrono::Duration::days(61));
    wake.notify_one();
    let before_invoice = case_by_id(&w, invoice.id);
    // The purge and the record of its run commit together: once the case is seen purged,
    // the record read at once is this run's, never the run before.
    let day61 = at(t0 + chrono::Duration::days(61));
    wait_for("the daily purge", WAIT, || async {
        purged(&w, invoice.id).then_some(())
    })
    .await;
    let (last_run, detail) = w.store().read().maintenance("purge").unwrap().unwrap();
    assert!(
        at(last_run) >= day61,
        "the purge is visible with the record of its run, not the run before: {last_run}"
    );
    assert_scrubbed(&w, &before_invoice, &jane);
    assert!(detail.contains("\"cases\":1"), "{detail}");
    let held = case_by_id(&w, disputed.id);
    assert_eq!(held.customer_address, tom);
    assert!(!purged(&w, disputed.id));
    for m in w.store().read().messages_of_case(disputed.id).unwrap() {
        assert!(w
            .store()
            .read()
            .raw_message(m.id)
            .unwrap()
            .flatten()
            .is_some());
    }

    // Released: the policy applies again at the next purge; the record of the hold stays.
    let r = mailcase(&w, &["hold", &disputed.reference, "--release"]);
    assert!(r.ok, "{}", r.stderr);
    assert!(r.stdout.contains("released"), "{}", r.stdout);
    let r = mailcase(
        &w,
        &["purge", "--at", &at(t0 + chrono::Duration::days(100))],
    );
    assert!(r.ok, "{}", r.stderr);
    assert!(purged(&w, disputed.id));
    assert_scrubbed(&w, &held, &tom);
    let events: Vec<AuditEvent> = w
        .store()
        .read()
        .audit_of_case(Some(disputed.id))
        .unwrap()
        .into_iter()
        .map(|a| a.event)
        .collect();
    for e in [
        AuditEvent::CaseOpened,
        AuditEvent::LegalHold,
        AuditEvent::LegalHoldReleased,
        AuditEvent::Purged,
    ] {
        assert!(events.contains(&e), "{e} in {events:?}");
    }
    // The open case is never purged, whatever its age.
    assert_eq!(case_by_id(&w, open.id).customer_address, tom);
    d.stop().await;
}

/// Offsets of `needle` in `hay`, comparing in lower case.
fn find_ci(hay: &[u8], needle: &str) -> Option<usize> {
    let hay = hay.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    hay.windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// The database file, its `-wal` and `-shm`, read by another process: closing a file this
/// process opened would drop the POSIX locks the in-process daemon's SQLite holds on it.
fn db_files(w: &World) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| {
            let p = format!("{}{s}", w.db_path().display());
            let out = Command::new("cat").arg(&p).output().unwrap();
            assert!(out.status.success(), "cat {p}");
            (p, out.stdout)
        })
        .collect()
}

/// Whether `needle` (any case) is anywhere in the store: any byte of SQLite's files, or any
/// text or bytes column of any PostgreSQL table.
fn in_store(w: &World, needle: &str) -> bool {
    if w.pg.is_some() {
        return mailcase::store::trace_left(&w.config(), &[needle.to_string()])
            .unwrap()
            .is_some();
    }
    db_files(w).iter().any(|(_, bytes)| {
        find_ci(bytes, needle).is_some()
            || bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_erase_an_address_leaves_counts_and_no_byte_of_it() {
    let w = World::new("rec_erase", AGENTS);
    let (d, _clock, _wake) = w.start_at(monday_10());
    // As she writes it; the store keeps addresses in lower case.
    let jane_written = format!("Jane.Erase-{}@Customer.test", w.tag);
    let jane = jane_written.to_lowercase();
    let local = jane_written.split('@').next().unwrap().to_string();
    let tom = w.customer("tom");

    // Her complaint, with a receipt attached.
    let receipt = b"Receipt 4711\nAmount: 99.00 EUR\n";
    let raw = format!(
        "From: Jane Doe <{jane_written}>\r\nTo: {}\r\nSubject: Charged twice\r\nMessage-ID: <{}@customer.test>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nI was charged twice for my order, see the receipt.\r\n\
         --b1\r\nContent-Type: text/plain; name=\"receipt.txt\"\r\nContent-Disposition: attachment; filename=\"receipt.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        w.support,
        unique("jane"),
        base64_encode(receipt)
    );
    w.send_raw(&jane, &w.support, raw.as_bytes()).await;
    let her_ack = w.wait_for_acks(&jane).await.remove(0);
    let own = w.wait_for_case_of(&jane).await;
    // Ann answers and resolves it (mail to her in the outbox; within the reopen window).
    let card = card_of(&w, &own).await;
    let raw = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &card,
        "#resolve\r\nWe refunded the second charge today.",
    );
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    wait_mail(&w, &jane, 2).await;

    // Tom's case, which she joins by answering the acknowledgment he forwarded to her.
    let toms = complain(&w, &tom, "Login question", "How do I reset my password?").await;
    let tom_ack = w.wait_for_acks(&tom).await.remove(0);
    let raw = thunderbird_reply(
        &jane_written,
        "Jane Doe",
        &tom_ack,
        "I am Tom's colleague, we share the account.",
    );
    w.send_raw(
        &jane,
        &tom_ack.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    // And an auto-reply of hers that belongs to no case.
    let raw = format!(
        "From: Jane Doe <{jane_written}>\r\nTo: {}\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@customer.test>\r\n\r\nBack on Monday.\r\n",
        w.support,
        unique("ooo")
    );
    w.send_raw(&jane, &w.support, raw.as_bytes()).await;
    wait_for(
        "her messages on Tom's case and of no case",
        WAIT,
        || async {
            let m = w.store().read().all_messages().unwrap();
            let joined = m
                .iter()
                .any(|m| m.case_id == Some(toms.id) && m.from_address.as_deref() == Some(&jane));
            let robot = m
                .iter()
                .any(|m| m.case_id.is_none() && m.from_address.as_deref() == Some(&jane));
            (joined && robot).then_some(())
        },
    )
    .await;
    assert!(w
        .store()
        .participants(toms.id)
        .unwrap()
        .iter()
        .any(|(a, _, _)| a == &jane));

    // Export, asked for in upper case.
    let tar_path = w.dir.path().join("jane.tar");
    let r = mailcase(
        &w,
        &[
            "export",
            "--customer",
            &jane_written.to_uppercase(),
            "--out",
            tar_path.to_str().unwrap(),
        ],
    );
    assert!(r.ok, "{}", r.stderr);
    let mut files = std::collections::BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&tar_path).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(path, data);
    }
    let doc: serde_json::Value = serde_json::from_slice(&files["export.json"]).unwrap();
    assert_eq!(doc["address"], jane.as_str());
    let cases = doc["cases"].as_array().unwrap();
    let relation = |id: i64| {
        cases
            .iter()
            .find(|c| c["case"]["id"] == id)
            .map(|c| c["relation"].as_str().unwrap().to_string())
    };
    assert_eq!(relation(own.id).as_deref(), Some("customer"));
    assert_eq!(relation(toms.id).as_deref(), Some("participant"));
    assert_eq!(cases.len(), 2);
    let text = String::from_utf8_lossy(&files["export.json"]);
    assert!(text.contains("charged twice"));
    assert!(text.contains("Tom's colleague"));
    assert!(text.contains("Back on Monday"), "her mail of no case");
    // Tom's own messages are not hers to get (only hers on his case).
    let toms_case = cases.iter().find(|c| c["case"]["id"] == toms.id).unwrap();
    let senders: Vec<&str> = toms_case["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["from_address"].as_str().unwrap())
        .collect();
    assert_eq!(senders, [jane.as_str()]);
    // Every raw message, byte for byte as stored.
    let store = w.store();
    let mut eml = 0;
    for (path, data) in &files {
        if let Some(id) = path
            .strip_prefix("messages/")
            .and_then(|p| p.strip_suffix(".eml"))
        {
            let id: i64 = id.parse().unwrap();
            assert_eq!(
                Some(data.clone()),
                store.read().raw_message(id).unwrap().flatten(),
                "{path}"
            );
            eml += 1;
        }
    }
    // Her complaint, Ann's answer on her case, her message on Tom's, her auto-reply.
    assert_eq!(eml, 4, "{:?}", files.keys().collect::<Vec<_>>());
    let receipt_file = files
        .iter()
        .find(|(p, _)| p.starts_with("attachments/") && p.ends_with("receipt.txt"))
        .expect("the attachment as a file");
    assert_eq!(receipt_file.1.as_slice(), receipt);
    assert!(
        files.iter().any(|(p, data)| p.starts_with("outbound/")
            && String::from_utf8_lossy(data).contains("refunded the second charge")),
        "the answer sent to her"
    );
    drop(store);

    // Erasure, while the daemon runs.
    let before = w.store().read().counts().unwrap();
    let own = case_by_id(&w, own.id);
    assert!(own.first_response_at.is_some(), "Ann's answer counted");
    assert!(in_store(&w, &jane), "the address is in the store before");
    let r = mailcase(&w, &["erase", "--customer", &jane_written]);
    assert!(r.ok, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("erased: 1 case(s)"), "{}", r.stdout);
    for needle in [&jane, &jane_written, &local, &local.to_lowercase()] {
        assert!(!in_store(&w, needle), "{needle} left in the store");
    }
    let s = w.store();
    let after = s.read().counts().unwrap();
    assert_eq!(after.cases, before.cases);
    assert_eq!(after.messages, before.messages);
    assert!(s.read().scrubbed_at(own.id).unwrap().1.is_some());
    assert_eq!(
        case_by_id(&w, own.id).status,
        Status::Closed,
        "closed by the erasure"
    );
    assert_scrubbed(&w, &own, &jane);
    // Tom's case keeps Tom, loses her.
    assert_eq!(case_by_id(&w, toms.id).customer_address, tom);
    assert!(s
        .participants(toms.id)
        .unwrap()
        .iter()
        .all(|(a, _, _)| a != &jane));
    assert!(s
        .read()
        .messages_of_case(toms.id)
        .unwrap()
        .iter()
        .any(|m| m.body_text.contains("reset my password")));
    let erasure: Vec<_> = s
        .read()
        .audit_of_case(None)
        .unwrap()
        .into_iter()
        .filter(|a| a.event == AuditEvent::Erasure)
        .collect();
    assert_eq!(erasure.len(), 1);
    let AuditRow { actor, detail, .. } = &erasure[0];
    assert_eq!(actor, "cli:records-test");
    let detail: serde_json::Value = serde_json::from_str(detail).unwrap();
    assert_eq!(detail["cases"], 1);
    assert_eq!(detail["fingerprint"].as_str().unwrap().len(), 32);
    drop(s);

    // The daemon goes on. Her answer to an old acknowledgment (a signed reply address of
    // the erased case) opens a new case: the erased one has nobody left to answer.
    let erased_messages = w.store().read().messages_of_case(own.id).unwrap().len();
    let raw = thunderbird_reply(&jane_written, "Jane Doe", &her_ack, "Me again.");
    w.send_raw(
        &jane,
        &her_ack.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let new_case = w.wait_for_case_of(&jane).await;
    assert_ne!(new_case.id, own.id);
    assert_eq!(
        w.store().read().messages_of_case(own.id).unwrap().len(),
        erased_messages,
        "nothing joined the erased case"
    );
    assert_eq!(case_by_id(&w, own.id).status, Status::Closed);

    // A held case is never erased: the request is refused and nothing changes.
    let r = mailcase(&w, &["hold", &toms.reference, "--reason", "Court order"]);
    assert!(r.ok, "{}", r.stderr);
    let r = mailcase(&w, &["erase", "--customer", &tom]);
    assert!(!r.ok);
    assert!(
        r.stderr.contains(&toms.reference) && r.stderr.contains("legal hold"),
        "{}",
        r.stderr
    );
    assert_eq!(case_by_id(&w, toms.id).customer_address, tom);
    d.stop().await;
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}
