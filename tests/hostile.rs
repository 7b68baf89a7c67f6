//! Hostile input end to end, on the real Dovecot + Postfix: oversized mail, MIME bombs, header
//! floods, broken charsets, NUL bytes, header injection through encoded words, template and
//! HTML injection, path components in attachment names, and a mail loop with an autoresponder
//! that ignores `Auto-Submitted`. Each test checks the defined outcome, then that an ordinary
//! complaint sent after the hostile one is still acknowledged (the daemon goes on).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::replies::wait_mail;
use common::*;
use mailcase::case::kinds::{AuditEvent, OutboundKind, OutboundState};
use mailcase::parse::{parse, InboundMessage, ParseLimits};
use mailcase::store::AuditRow;

/// Ann and Bob, the agents of these tests.
const AGENTS: &str = ANN_AND_BOB;

const WAIT: Duration = Duration::from_secs(60);

/// An ordinary complaint from a new customer `who`; returns its acknowledgment once it
/// arrived. Sent after the hostile mail, it proves the mailbox is not blocked.
async fn ordinary_complaint_is_acknowledged(w: &World, who: &str) -> InboundMessage {
    let c = w.customer(who);
    w.send_complaint(
        &c,
        "Olga Ordinary",
        "Printer jams",
        "The printer jams on page two.",
    )
    .await;
    let mut acks = w.wait_for_acks(&c).await;
    assert_eq!(acks.len(), 1, "one acknowledgment for {c}");
    let ack = acks.remove(0);
    assert!(ack.subject.contains("Printer jams"), "{}", ack.subject);
    ack
}

/// Sends the ordinary complaint without waiting: queued right behind the hostile mail.
async fn send_ordinary(w: &World, who: &str) -> String {
    let c = w.customer(who);
    w.send_complaint(
        &c,
        "Olga Ordinary",
        "Printer jams",
        "The printer jams on page two.",
    )
    .await;
    c
}

/// Waits until the quarantine table has `n` rows; returns (uid, reason, size).
async fn wait_quarantined(w: &World, n: usize) -> Vec<(Option<u32>, String, i64)> {
    wait_for(&format!("{n} quarantined message(s)"), WAIT, || async {
        let q = w.store().read().quarantine().unwrap();
        (q.len() >= n).then_some(q)
    })
    .await
}

/// The header section of a raw message (up to the first empty line).
fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    &raw[..end]
}

/// Lower-case names of the header fields of `raw`, sorted; panics on a line that is neither
/// a field nor a folded continuation (what an injected line break would leave behind).
fn header_names(raw: &[u8]) -> Vec<String> {
    let head = String::from_utf8_lossy(header_section(raw)).into_owned();
    let mut names = Vec::new();
    for line in head.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.starts_with([' ', '\t']) {
            continue; // folded continuation of the previous field
        }
        let (name, _) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("header line without a field name: {line:?}\n{head}"));
        assert!(
            !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b)),
            "bad field name in {line:?}\n{head}"
        );
        names.push(name.to_ascii_lowercase());
    }
    names.sort();
    names
}

/// The HTML part of a raw message.
fn html_part(raw: &[u8]) -> String {
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("our mail parses");
    assert!(!m.html_body.is_empty(), "the message has an HTML part");
    m.body_html(0).expect("an HTML body").into_owned()
}

/// Every raw message in `user`'s INBOX whose decoded subject contains `needle`.
async fn raw_with_subject(w: &World, user: &str, needle: &str) -> Vec<Vec<u8>> {
    read_raw(user, "INBOX", &w.env)
        .await
        .into_iter()
        .filter(|r| {
            parse(r, &ParseLimits::default())
                .map(|m| m.subject.contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

/// Every stored text (messages and cases) as bytes: (what, bytes). The store reads text as
/// UTF-8 and fails on anything else, so a successful read already proves that much.
fn stored_texts(w: &World) -> Vec<(String, Vec<u8>)> {
    let s = w.store();
    let r = s.read();
    let mut out = Vec::new();
    for m in r
        .stored_messages()
        .expect("every stored message reads as text")
    {
        for (col, v) in [
            ("subject", Some(&m.subject)),
            ("body_text", Some(&m.body_text)),
            ("from_name", m.from_name.as_ref()),
            ("reply_text", m.reply_text.as_ref()),
        ] {
            if let Some(v) = v {
                out.push((format!("messages.{col} #{}", m.id), v.as_bytes().to_vec()));
            }
        }
    }
    for c in r.cases().expect("every case reads as text") {
        out.push((format!("cases.subject #{}", c.id), c.subject.into_bytes()));
        if let Some(n) = c.customer_name {
            out.push((format!("cases.customer_name #{}", c.id), n.into_bytes()));
        }
    }
    out
}

// ------------------------------------------------------------------------------- 1. size

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_quarantined_unread_and_the_mailbox_goes_on() {
    let w = World::new("hostile_size", "");
    let d = w.start();
    let eve = w.customer("eve");
    let mut raw = format!(
        "From: Eve <{eve}>\r\nTo: {}\r\nSubject: huge complaint\r\nMessage-ID: <big.{}@customer.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
        w.support,
        rand_u32()
    )
    .into_bytes();
    for i in 0..4000 {
        raw.extend_from_slice(format!("{i:06} {}\r\n", "x".repeat(90)).as_bytes());
    }
    let limit = w.config().mailboxes[0].max_message_size.0;
    assert!(raw.len() as u64 > limit, "{} <= {limit}", raw.len());
    w.send_raw(&eve, &w.support, &raw).await;
    let after = send_ordinary(&w, "after").await;

    let q = wait_quarantined(&w, 1).await;
    w.wait_for_acks(&after).await;
    w.wait_inbox_empty().await;
    assert_eq!(q.len(), 1, "{q:?}");
    let (uid, reason, size) = &q[0];
    assert!(uid.is_some());
    assert!(
        reason.contains("mailbox.max_message_size") && reason.contains("not downloaded"),
        "{reason}"
    );
    assert!(*size as usize >= raw.len(), "size as the server reports it");
    // Not downloaded: the quarantine row has no bytes, only the size the server reported.
    let raw_kept = w.store().read().quarantine_raw().unwrap();
    assert_eq!(
        raw_kept,
        vec![None],
        "the oversized mail was not downloaded"
    );
    let audit = w.store().read().audit_of_case(None).unwrap();
    let q_audit: Vec<_> = audit
        .iter()
        .filter(|a| a.event == AuditEvent::Quarantined)
        .collect();
    assert_eq!(q_audit.len(), 1, "{audit:?}");
    assert!(
        q_audit[0].detail.contains("max_message_size"),
        "{}",
        q_audit[0].detail
    );
    // The message itself waits whole in the Quarantine folder.
    let qf = read_raw(&w.support, "Quarantine", &w.env).await;
    assert_eq!(qf.len(), 1);
    assert!(qf[0].len() >= raw.len());
    assert_eq!(read_raw(&w.support, "Processed", &w.env).await.len(), 1);
    let cases = w.store().read().cases().unwrap();
    assert_eq!(cases.len(), 1, "only the ordinary complaint is a case");
    assert_eq!(cases[0].customer_address, after);
    assert!(w.mailbox(&eve, "INBOX").await.is_empty());
    d.stop().await;
}

// -------------------------------------------------------------------------- 2. MIME bombs

/// `levels` multiparts nested inside each other.
fn nested_bomb(from: &str, to: &str, levels: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Bomber <{from}>\r\nTo: {to}\r\nSubject: deep bomb\r\nMessage-ID: <deep.{}@customer.test>\r\nMIME-Version: 1.0\r\n",
        rand_u32()
    );
    for i in 0..levels {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"deep{i}\"\r\n\r\n--deep{i}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\nrefund me\r\n");
    for i in (0..levels).rev() {
        raw.push_str(&format!("--deep{i}--\r\n"));
    }
    raw.into_bytes()
}

/// One multipart with `count` sibling parts.
fn wide_bomb(from: &str, to: &str, count: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: Bomber <{from}>\r\nTo: {to}\r\nSubject: wide bomb\r\nMessage-ID: <wide.{}@customer.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"wide\"\r\n\r\n",
        rand_u32()
    );
    for i in 0..count {
        raw.push_str(&format!(
            "--wide\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"
        ));
    }
    raw.push_str("--wide--\r\n");
    raw.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mime_bomb_is_quarantined_with_its_reason_and_the_mailbox_goes_on() {
    let w = World::new("hostile_bomb", "[limits]\nmax_parts = 50\nmax_depth = 5\n");
    let d = w.start();
    let bomber = w.customer("bomber");
    w.send_raw(&bomber, &w.support, &wide_bomb(&bomber, &w.support, 60))
        .await;
    let after_wide = send_ordinary(&w, "after-wide").await;
    w.send_raw(&bomber, &w.support, &nested_bomb(&bomber, &w.support, 12))
        .await;
    let after_deep = send_ordinary(&w, "after-deep").await;

    let q = wait_quarantined(&w, 2).await;
    w.wait_for_acks(&after_wide).await;
    w.wait_for_acks(&after_deep).await;
    w.wait_inbox_empty().await;
    assert_eq!(q.len(), 2, "{q:?}");
    let wide = q
        .iter()
        .find(|(_, r, _)| r.contains("MIME parts, limit is 50"))
        .unwrap_or_else(|| panic!("no max_parts reason in {q:?}"));
    assert!(
        wide.1.starts_with("unparseable: message has "),
        "{}",
        wide.1
    );
    let deep = q
        .iter()
        .find(|(_, r, _)| r.contains("nests MIME parts") && r.contains("limit is 5"))
        .unwrap_or_else(|| panic!("no max_depth reason in {q:?}"));
    assert!(deep.1.starts_with("unparseable: "), "{}", deep.1);
    let audit = w.store().read().audit_of_case(None).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|a| a.event == AuditEvent::Quarantined)
            .count(),
        2,
        "{audit:?}"
    );
    // Both bombs wait in the Quarantine folder; the ordinary mail went to Processed.
    let qf = read_raw(&w.support, "Quarantine", &w.env).await;
    assert_eq!(qf.len(), 2);
    for subject in ["Subject: wide bomb", "Subject: deep bomb"] {
        assert!(
            qf.iter()
                .any(|r| String::from_utf8_lossy(r).contains(subject)),
            "{subject} not in Quarantine"
        );
    }
    assert_eq!(read_raw(&w.support, "Processed", &w.env).await.len(), 2);
    assert_eq!(w.store().read().cases().unwrap().len(), 2);
    assert!(w.mailbox(&bomber, "INBOX").await.is_empty());
    d.stop().await;
}

// ------------------------------------------------------------------------ 3. header flood

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_flood_is_quarantined_with_its_reason_and_the_mailbox_goes_on() {
    let w = World::new("hostile_flood", "[limits]\nmax_headers = 100\n");
    let d = w.start();
    let flooder = w.customer("flooder");
    let mut raw = format!("From: Flood <{flooder}>\r\nTo: {}\r\n", w.support);
    for i in 0..150 {
        raw.push_str(&format!("X-Junk-{i}: {}\r\n", "j".repeat(40)));
    }
    // Subject and Message-ID behind the flood: the message is refused whole, not truncated.
    raw.push_str(&format!(
        "Subject: header flood\r\nMessage-ID: <flood.{}@customer.test>\r\n\r\nRefund me.\r\n",
        rand_u32()
    ));
    w.send_raw(&flooder, &w.support, raw.as_bytes()).await;
    let after = send_ordinary(&w, "after").await;

    let q = wait_quarantined(&w, 1).await;
    w.wait_for_acks(&after).await;
    w.wait_inbox_empty().await;
    assert_eq!(q.len(), 1, "{q:?}");
    let reason = &q[0].1;
    assert!(
        reason.starts_with("unparseable: message has ")
            && reason.ends_with("header fields, limit is 100 (limits.max_headers)"),
        "{reason}"
    );
    let qf = read_raw(&w.support, "Quarantine", &w.env).await;
    assert_eq!(qf.len(), 1);
    assert!(String::from_utf8_lossy(&qf[0]).contains("Subject: header flood"));
    assert_eq!(w.store().read().cases().unwrap().len(), 1);
    assert!(w.mailbox(&flooder, "INBOX").await.is_empty());
    d.stop().await;
}

// --------------------------------------------------------------------------- 4. charsets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_invalid_charsets_still_open_a_case_with_valid_utf8_text() {
    let w = World::new("hostile_charset", "");
    let d = w.start();
    let unknown = w.customer("unknown");
    let invalid = w.customer("invalid");
    let bogus = w.customer("bogus");
    let mut raws: Vec<(String, Vec<u8>)> = Vec::new();
    // A body in a charset nobody knows.
    let mut raw = format!(
        "From: Una Known <{unknown}>\r\nTo: {}\r\nSubject: Coffee machine broken\r\nMessage-ID: <cs1.{}@customer.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"x-no-such-charset\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        w.support,
        rand_u32()
    )
    .into_bytes();
    raw.extend_from_slice(b"The caf\xe9 machine \xff\xfe\x81 is broken. end of complaint\r\n");
    raws.push((unknown.clone(), raw));
    // Invalid byte sequences labelled UTF-8: a lone continuation byte, a bad second byte, an
    // encoded surrogate, an overlong form and a five-byte form.
    let mut raw = format!(
        "From: Iva Lid <{invalid}>\r\nTo: {}\r\nSubject: Coffee machine leaks\r\nMessage-ID: <cs2.{}@customer.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
        w.support,
        rand_u32()
    )
    .into_bytes();
    raw.extend_from_slice(
        b"It leaks \x80 \xc3\x28 \xed\xa0\x80 \xc0\xaf \xf8\x88\x80\x80\x80 water. end of complaint\r\n",
    );
    raws.push((invalid.clone(), raw));
    // Encoded words with a bogus charset, in the subject and in the display name.
    let raw = format!(
        "From: =?x-bogus?b?SsO8cmdlbg==?= <{bogus}>\r\nTo: {}\r\nSubject: =?x-bogus?q?Coffee_machine_caf=E9?= =?x-bogus?b?/w==?=\r\n\
         Message-ID: <cs3.{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         The machine makes noise. end of complaint\r\n",
        w.support,
        rand_u32()
    )
    .into_bytes();
    raws.push((bogus.clone(), raw));
    let mut ordinary = Vec::new();
    for (i, (from, raw)) in raws.iter().enumerate() {
        w.send_raw(from, &w.support, raw).await;
        ordinary.push(send_ordinary(&w, &format!("after{i}")).await);
    }

    for (from, _) in &raws {
        let acks = w.wait_for_acks(from).await;
        assert_eq!(acks.len(), 1, "{from}");
        assert!(acks[0].subject.contains("machine"), "{}", acks[0].subject);
        assert!(acks[0].text.contains("case CMP-"), "{}", acks[0].text);
    }
    for c in &ordinary {
        w.wait_for_acks(c).await;
    }
    d.stop().await;

    let cases = w.store().read().cases().unwrap();
    assert_eq!(cases.len(), 6, "three hostile and three ordinary cases");
    for (from, _) in &raws {
        let case = cases
            .iter()
            .find(|c| c.customer_address == *from)
            .unwrap_or_else(|| panic!("no case for {from}"));
        assert!(case.subject.contains("machine"), "{}", case.subject);
        let msgs = w.store().read().messages_of_case(case.id).unwrap();
        assert_eq!(msgs.len(), 1);
        assert!(
            msgs[0].body_text.contains("end of complaint"),
            "the readable text survives: {:?}",
            msgs[0].body_text
        );
    }
    for (what, bytes) in stored_texts(&w) {
        assert!(
            std::str::from_utf8(&bytes).is_ok(),
            "{what} is not valid UTF-8: {bytes:?}"
        );
    }
}

// --------------------------------------------------------------------------- 5. NUL bytes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_bytes_in_body_and_headers_still_open_a_case_and_never_reach_our_headers() {
    let w = World::new("hostile_nul", "");
    let d = w.start();
    // Through Postfix, which cuts a header value at its NUL (Dovecot then serves the body's NUL
    // as 0x80)...
    let via_smtp = w.customer("smtp");
    let raw = format!(
        "From: Nora Null <{via_smtp}>\r\nTo: {}\r\nSubject: Help\0 with my\0 account\r\nX-Note: a\0b\r\n\
         Message-ID: <nul1.{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         before\0after\0 end of complaint\r\n",
        w.support,
        rand_u32()
    );
    w.send_raw(&via_smtp, &w.support, raw.as_bytes()).await;
    let after1 = send_ordinary(&w, "after1").await;
    // ... and appended by IMAP, which keeps every header whole (Dovecot serves each NUL as 0x80:
    // what a NUL turns into on its way through a real IMAP server).
    let via_imap = w.customer("imap");
    let raw = format!(
        "From: \"Nora\0 Null\" <{via_imap}>\r\nTo: {}\r\nSubject: Help\0 with my\0 account\r\nX-Note: a\0b\r\n\
         Message-ID: <nul2.{}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         before\0after\0 end of complaint\r\n",
        w.support,
        rand_u32()
    );
    w.append(raw.as_bytes()).await;
    let after2 = send_ordinary(&w, "after2").await;

    for (who, name) in [(&via_smtp, "Nora Null"), (&via_imap, "Nora")] {
        let acks = w.wait_for_acks(who).await;
        assert_eq!(acks.len(), 1);
        assert!(acks[0].subject.contains("Help"), "{}", acks[0].subject);
        assert!(
            acks[0].text.contains(&format!("Dear {name}")),
            "{}",
            acks[0].text
        );
        let raw = read_raw(who, "INBOX", &w.env).await.remove(0);
        let head = header_section(&raw);
        assert!(!head.contains(&0), "NUL in the acknowledgment's headers");
        assert!(
            head.is_ascii(),
            "8-bit bytes in the acknowledgment's headers:\n{}",
            String::from_utf8_lossy(head)
        );
        assert!(!raw.contains(&0), "NUL in the acknowledgment");
    }
    w.wait_for_acks(&after1).await;
    w.wait_for_acks(&after2).await;
    w.wait_inbox_empty().await;
    d.stop().await;
    assert_eq!(w.store().read().cases().unwrap().len(), 4);
    assert!(w.store().read().quarantine().unwrap().is_empty());
    for (what, bytes) in stored_texts(&w) {
        assert!(!bytes.contains(&0), "NUL stored in {what}");
        assert!(std::str::from_utf8(&bytes).is_ok(), "{what} not UTF-8");
    }
    let bodies: Vec<String> = w
        .store()
        .read()
        .all_messages()
        .unwrap()
        .into_iter()
        .map(|m| m.body_text)
        .collect();
    assert_eq!(
        bodies
            .iter()
            .filter(|b| b.contains("end of complaint"))
            .count(),
        2,
        "{bodies:?}"
    );
}

// ------------------------------------------------------------------------ 6. CRLF injection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_crlf_in_subject_and_name_adds_no_header_to_the_ack_or_the_agent_card() {
    use base64::Engine as _;
    let w = World::new("hostile_crlf", AGENTS);
    let d = w.start();
    let jane = w.customer("jane");
    let victim = format!("victim-{}@customer.test", w.tag);
    let name = base64::engine::general_purpose::STANDARD
        .encode(format!("Jane Doe\r\nBcc: {victim}\r\nX-Injected: name"));
    let raw = format!(
        "From: =?utf-8?b?{name}?= <{jane}>\r\nTo: {support}\r\n\
         Subject: =?utf-8?q?Help=0D=0ABcc:_{victim}=0D=0AX-Injected:_subject?=\r\n\
         Message-ID: <crlf.{id}@customer.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         My invoice is wrong.\r\n",
        support = w.support,
        id = rand_u32()
    );
    w.send_raw(&jane, &w.support, raw.as_bytes()).await;
    let ordinary = ordinary_complaint_is_acknowledged(&w, "after").await;
    let ack = w.wait_for_acks(&jane).await.remove(0);
    wait_mail(&w, &w.ann, 2).await;
    wait_mail(&w, &w.bob, 2).await;

    // The injected text is kept as text on one line.
    assert!(
        ack.subject
            .contains(&format!("Help Bcc: {victim} X-Injected: subject")),
        "{}",
        ack.subject
    );
    let to_name = ack.to[0].name.clone().unwrap_or_default();
    assert!(to_name.contains("Bcc:"), "{to_name}");
    assert_eq!(ack.to.len(), 1);
    assert!(ack.cc.is_empty());

    // Raw header sections: the same fields as the ordinary complaint's mail, nothing more.
    let ack_raw = read_raw(&jane, "INBOX", &w.env).await.remove(0);
    let ordinary_raw = raw_with_subject(&w, &ordinary.to[0].address, "Printer jams")
        .await
        .remove(0);
    let ack_names = header_names(&ack_raw);
    assert_eq!(ack_names, header_names(&ordinary_raw), "acknowledgment");
    assert!(!ack_names.iter().any(|n| n == "bcc" || n == "x-injected"));
    for agent in [&w.ann, &w.bob] {
        let card = raw_with_subject(&w, agent, "Help Bcc:").await;
        assert_eq!(card.len(), 1, "one card for the hostile complaint");
        let plain = raw_with_subject(&w, agent, "Printer jams").await;
        let card_names = header_names(&card[0]);
        assert_eq!(card_names, header_names(&plain[0]), "agent card");
        assert!(!card_names.iter().any(|n| n == "bcc" || n == "x-injected"));
        let parsed = parse(&card[0], &ParseLimits::default()).unwrap();
        assert!(
            parsed.text.contains(&format!("Jane Doe Bcc: {victim}")),
            "the name is shown as text: {}",
            parsed.text
        );
    }
    // Give a Bcc'd copy every chance to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        read_raw(&victim, "INBOX", &w.env).await.is_empty(),
        "the victim got mail"
    );
    assert_eq!(read_raw(&jane, "INBOX", &w.env).await.len(), 1);
    d.stop().await;
}

// --------------------------------------------------------------------- 7. template injection

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_syntax_in_a_complaint_is_printed_literally() {
    let w = World::new("hostile_tera", AGENTS);
    let d = w.start();
    let tom = w.customer("tom");
    let subject_code =
        "Refund {{ reference }} {% for x in [1,2] %}X{% endfor %} {{ __tera_context }}";
    let body_lines = [
        "Please refund me. {{ reference }}",
        "{% for x in [1,2] %}X{% endfor %}",
        "{{ __tera_context }}",
        "{{ support_name | upper }} {# hidden? #}",
        "{% include \"acknowledgment.txt.tera\" %}",
    ];
    let raw = format!(
        "From: \"{{{{ support_name }}}}\" <{tom}>\r\nTo: {}\r\nSubject: {subject_code}\r\nMessage-ID: <tera.{}@customer.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        w.support,
        rand_u32(),
        body_lines.join("\r\n")
    );
    w.send_raw(&tom, &w.support, raw.as_bytes()).await;
    ordinary_complaint_is_acknowledged(&w, "after").await;
    let ack = w.wait_for_acks(&tom).await.remove(0);
    let ack_raw = read_raw(&tom, "INBOX", &w.env).await.remove(0);
    wait_mail(&w, &w.ann, 2).await;
    let card_raw = raw_with_subject(&w, &w.ann, "Refund").await.remove(0);
    let card = parse(&card_raw, &ParseLimits::default()).unwrap();
    d.stop().await;

    assert!(ack.subject.contains(subject_code), "{}", ack.subject);
    assert!(card.subject.contains(subject_code), "{}", card.subject);
    assert!(
        ack.text.contains("Dear {{ support_name }},"),
        "{}",
        ack.text
    );
    // The acknowledgment restates the customer's sentences (wrapped in `  > ` lines): the
    // template syntax in them is printed as written; the card has the whole text.
    let restated = ack
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("  > "))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        restated.starts_with("Please refund me. {{ reference }} {% for x in [1,2] %}X{% endfor %}"),
        "{}",
        ack.text
    );
    for line in body_lines {
        assert!(
            card.text.contains(line),
            "card lacks {line}:\n{}",
            card.text
        );
    }
    assert!(
        card.text
            .contains(&format!("Customer:   {{{{ support_name }}}} <{tom}>")),
        "{}",
        card.text
    );
    for (what, text) in [("ack", &ack.text), ("card", &card.text)] {
        assert!(!text.contains("XX"), "{what}: a loop ran:\n{text}");
        assert!(
            !text.contains("\"support_name\""),
            "{what}: the context was dumped:\n{text}"
        );
        assert!(!text.contains("EXAMPLE SUPPORT"), "{what}: a filter ran");
    }
    for (what, raw) in [("ack", &ack_raw), ("card", &card_raw)] {
        let html = html_part(raw);
        for literal in [
            "{{ reference }}",
            "{% for x in [1,2] %}X{% endfor %}",
            "{{ __tera_context }}",
        ] {
            assert!(
                html.contains(literal),
                "{what} HTML lacks {literal}:\n{html}"
            );
        }
        assert!(!html.contains("XX"), "{what} HTML: a loop ran");
    }
}

// ------------------------------------------------------------------------- 8. HTML/script

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_and_event_handlers_in_an_html_complaint_never_become_markup() {
    let w = World::new("hostile_html", AGENTS);
    let d = w.start();
    let mal = w.customer("mallory");
    let html = "<html><head><script>alert(0)</script></head><body>\
        <p>My account page is broken.</p><script type=\"text/javascript\">alert(1)</script>\
        <img src=x onerror=alert(2)><div onmouseover=\"alert(7)\">hover</div>\
        <p>It shows &lt;script&gt;alert(3)&lt;/script&gt; and &lt;img src=x onerror=alert(4)&gt; as text.</p>\
        <p>end of complaint</p></body></html>";
    let raw = format!(
        "From: \"<b onmouseover=alert(6)>Mallory</b>\" <{mal}>\r\nTo: {}\r\n\
         Subject: Page broken <script>alert(5)</script>\r\nMessage-ID: <html.{}@customer.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n",
        w.support,
        rand_u32()
    );
    w.send_raw(&mal, &w.support, raw.as_bytes()).await;
    ordinary_complaint_is_acknowledged(&w, "after").await;
    w.wait_for_acks(&mal).await;
    let ack_raw = read_raw(&mal, "INBOX", &w.env).await.remove(0);
    wait_mail(&w, &w.ann, 2).await;
    let card_raw = raw_with_subject(&w, &w.ann, "Page broken").await.remove(0);
    d.stop().await;

    let tag = regex::Regex::new(r"(?s)<[^>]*>").unwrap();
    for (what, raw) in [("card", &card_raw), ("ack", &ack_raw)] {
        let html = html_part(raw);
        let lower = html.to_ascii_lowercase();
        assert!(
            !lower.contains("<script"),
            "{what} HTML has <script:\n{html}"
        );
        for t in tag.find_iter(&lower) {
            let t = t.as_str();
            for bad in ["onerror", "onmouseover", "<img", "<b "] {
                assert!(!t.contains(bad), "{what} HTML has markup {t}:\n{html}");
            }
        }
        // The escaped text is shown, not dropped (the card has the whole complaint; the
        // acknowledgment restates the sentence about the broken page).
        if what == "card" {
            assert!(
                html.contains("&lt;script&gt;alert(3)"),
                "{what} HTML lacks the escaped text:\n{html}"
            );
        }
    }
    let card = parse(&card_raw, &ParseLimits::default()).unwrap();
    assert!(card.text.contains("My account page is broken."));
    assert!(card.text.contains("end of complaint"));
    assert!(
        !card.text.contains("alert(1)") && !card.text.contains("alert(0)"),
        "script content is not text:\n{}",
        card.text
    );
}

// ------------------------------------------------------------------ 9. attachment names

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_names_lose_their_paths_and_nothing_is_written_outside_the_database() {
    let w = World::new("hostile_attach", AGENTS);
    let id = short_id();
    let pwned = format!("pwned-{id}.sh");
    let passwd_before = std::fs::read("/etc/passwd").ok();
    let passwd_mtime = std::fs::metadata("/etc/passwd")
        .and_then(|m| m.modified())
        .ok();
    let repo_before = listing(&repo());
    let cwd_before = listing(&std::env::current_dir().unwrap());
    let d = w.start();
    let pat = w.customer("pat");
    let part = |disposition: &str, data: &str| {
        use base64::Engine as _;
        format!(
            "--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; {disposition}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD.encode(data)
        )
    };
    let raw = format!(
        "From: Pat <{pat}>\r\nTo: {}\r\nSubject: Files attached\r\nMessage-ID: <att.{}@customer.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached files.\r\n{}{}{}{}--b1--\r\n",
        w.support,
        rand_u32(),
        part(r#"filename="../../etc/passwd""#, "root::0:0:pwned:/root:/bin/sh\n"),
        part(r#"filename="C:\\Windows\\evil.exe""#, "MZ not really"),
        part(
            r#"filename="=?utf-8?q?..=2F..=2F.ssh=2Fauthorized=5Fkeys?=""#,
            "ssh-ed25519 AAAA attacker"
        ),
        part(
            &format!("filename*=utf-8''..%2F..%2F..%2Ftmp%2F{pwned}"),
            "#!/bin/sh\necho pwned\n"
        ),
    );
    w.send_raw(&pat, &w.support, raw.as_bytes()).await;
    ordinary_complaint_is_acknowledged(&w, "after").await;
    let ack = w.wait_for_acks(&pat).await.remove(0);
    wait_mail(&w, &w.ann, 2).await;
    let card_raw = raw_with_subject(&w, &w.ann, "Files attached")
        .await
        .remove(0);
    let card = parse(&card_raw, &ParseLimits::default()).unwrap();
    d.stop().await;

    let mut names: Vec<String> = card
        .attachments
        .iter()
        .map(|a| a.name.clone().unwrap_or_default())
        .collect();
    names.sort();
    let mut want = vec![
        "authorized_keys".to_string(),
        "evil.exe".into(),
        "passwd".into(),
        pwned.clone(),
    ];
    want.sort();
    assert_eq!(names, want);
    // The raw Content-Disposition of the card carries the bare names too.
    let card_text = String::from_utf8_lossy(&card_raw);
    for bad in ["../", "..\\", "C:\\", "%2F", "=2F"] {
        assert!(!card_text.contains(bad), "card has {bad}");
    }
    assert!(card.text.contains("passwd"), "{}", card.text);
    assert!(!card.text.contains("etc/passwd"), "{}", card.text);
    assert!(
        ack.text.contains("passwd, evil.exe, authorized_keys"),
        "{}",
        ack.text
    );
    assert!(!ack.text.contains("../") && !ack.text.contains('\\'));
    let stored = w
        .store()
        .read()
        .stored_messages()
        .unwrap()
        .into_iter()
        .find(|m| m.subject == "Files attached")
        .expect("the message with files")
        .attachments
        .to_string();
    assert!(
        !stored.contains("../") && !stored.contains("\\\\"),
        "{stored}"
    );

    // Nothing written outside the database: the test's folder holds only the config, the
    // secrets and the database files; /etc/passwd, the repository and /tmp are untouched.
    let allowed = [
        "imap-password",
        "token.key",
        "mailcase.toml",
        "mailcase.db",
        "mailcase.db-wal",
        "mailcase.db-shm",
        "mailcase.db-journal",
    ];
    for f in listing(w.dir.path()) {
        assert!(allowed.contains(&f.as_str()), "unexpected file {f}");
    }
    assert_eq!(std::fs::read("/etc/passwd").ok(), passwd_before);
    assert_eq!(
        std::fs::metadata("/etc/passwd")
            .and_then(|m| m.modified())
            .ok(),
        passwd_mtime
    );
    assert_eq!(listing(&repo()), repo_before);
    assert_eq!(listing(&std::env::current_dir().unwrap()), cwd_before);
    for p in [
        format!("/tmp/{pwned}"),
        format!("/{pwned}"),
        format!("{}/{pwned}", w.dir.path().display()),
    ] {
        assert!(!Path::new(&p).exists(), "{p} was written");
    }
}

// ------------------------------------------------------------------------- 10. mail loop

/// Counts of one loop run.
#[derive(Debug)]
struct LoopFigures {
    /// Messages the robot sent to support (its first complaint included).
    robot_sent: usize,
    /// Messages the robot received from us.
    robot_received: usize,
    /// How long the exchange ran until the end of the quiet period.
    elapsed: Duration,
    /// Quiet time at the end (no mail either way).
    quiet: Duration,
}

/// An autoresponder that ignores `Auto-Submitted`: a real IMAP client on its own mailbox and
/// SMTP through Postfix. It writes one complaint to `to`, then answers every new message in
/// its INBOX with a NEW message (fresh subject without "Re:" or our tag, no In-Reply-To, no
/// References, no Auto-Submitted) to the message's From. Stops after `quiet` without mail
/// either way, or at `max`.
async fn run_robot(
    w: &World,
    robot: &str,
    to: &str,
    max: Duration,
    quiet: Duration,
) -> LoopFigures {
    let mut inbox = NewMail::open(robot, &w.env).await;
    let start = Instant::now();
    let mut sent = 0usize;
    let mut received = 0usize;
    let robot_mail = |n: usize, to: &str| {
        format!(
            "From: Helpdesk Robot <{robot}>\r\nTo: {to}\r\nSubject: Ticket {n} opened for your request\r\n\
             Message-ID: <robot.{n}.{}@customer.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
             Thank you for your message. We opened ticket {n} for it and will answer soon.\r\n",
            rand_u32()
        )
    };
    w.send_raw(robot, to, robot_mail(1, to).as_bytes()).await;
    sent += 1;
    let mut last = Instant::now();
    while last.elapsed() < quiet && start.elapsed() < max {
        for m in inbox.next_batch().await {
            received += 1;
            // The robot answers the From address, whatever Auto-Submitted says.
            let back = m.from.expect("a From").address;
            w.send_raw(robot, &back, robot_mail(sent + 1, &back).as_bytes())
                .await;
            sent += 1;
            last = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    inbox.close().await;
    LoopFigures {
        robot_sent: sent,
        robot_received: received,
        elapsed: start.elapsed(),
        quiet: last.elapsed(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_loop_with_an_autoresponder_that_ignores_auto_submitted_stops_at_the_cap() {
    let w = World::new("hostile_loop", "");
    let cap = w.config().acknowledgment.per_sender_per_hour as usize;
    let d = w.start();
    let robot = w.customer("robot");
    let support = w.support.clone();
    let f = run_robot(
        &w,
        &robot,
        &support,
        Duration::from_secs(40),
        Duration::from_secs(10),
    )
    .await;
    println!(
        "mail loop: robot sent {} message(s) to support, support sent {} acknowledgment(s) to the robot; {:.1} s, quiet for the last {:.1} s",
        f.robot_sent,
        f.robot_received,
        f.elapsed.as_secs_f64(),
        f.quiet.as_secs_f64()
    );
    assert!(
        f.quiet >= Duration::from_secs(10),
        "the exchange did not stop within 40 s: {f:?}"
    );
    assert!(f.robot_received <= cap, "{f:?}");
    assert_eq!(
        f.robot_received, cap,
        "the loop ran until the per-sender cap: {f:?}"
    );
    assert_eq!(f.robot_sent, f.robot_received + 1, "{f:?}");

    // Every robot mail was taken in; only `cap` were acknowledged; the rest are audited.
    let s = w.store();
    wait_for("every robot mail stored", WAIT, || async {
        let n = s.read().counts().unwrap().messages as usize;
        (n >= f.robot_sent).then_some(())
    })
    .await;
    let acks: Vec<_> = s
        .read()
        .outbox(None)
        .unwrap()
        .into_iter()
        .filter(|o| o.recipient == robot && o.kind == OutboundKind::Ack)
        .collect();
    assert_eq!(acks.len(), cap, "{acks:?}");
    assert!(acks.iter().all(|o| o.status == OutboundState::Sent));
    let mut suppressed = Vec::new();
    for case in s.read().cases().unwrap() {
        assert_eq!(case.customer_address, robot);
        for AuditRow { event, detail, .. } in s.read().audit_of_case(Some(case.id)).unwrap() {
            if event == AuditEvent::AckSuppressed {
                suppressed.push(detail);
            }
        }
    }
    assert_eq!(suppressed.len(), f.robot_sent - cap, "{suppressed:?}");
    for detail in &suppressed {
        assert!(
            detail.contains("per-sender cap")
                && detail.contains(&format!("acknowledgment.per_sender_per_hour = {cap}")),
            "{detail}"
        );
    }
    assert_eq!(read_raw(&robot, "INBOX", &w.env).await.len(), cap);

    ordinary_complaint_is_acknowledged(&w, "after").await;
    d.stop().await;
}
