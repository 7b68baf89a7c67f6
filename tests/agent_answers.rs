//! An agent's answer from Outlook (desktop and web), Gmail, Apple Mail and Thunderbird, as
//! those clients build it (`tests/fixtures/agent_clients/`), sent through the real Postfix to
//! the case's agent reply address, and what the customer finds in their Dovecot mailbox: the
//! agent's words with their paragraphs in both parts, sanitised HTML, the attached files and
//! the images the answer shows, and nothing of the quoted card, the signature, the command
//! lines or the tracking pixel. An answer over `agents.answer_attach_limit` reaches nobody
//! but the agent, who is told why.

mod common;

use std::time::Duration;

use common::replies::*;
use common::*;
use mail_parser::{MessageParser, MimeHeaders};
use mailcase::case::kinds::MessageOutcome;
use mailcase::parse::InboundMessage;

const CLIENTS: &[&str] = &[
    "outlook_desktop",
    "outlook_web",
    "gmail",
    "apple_mail",
    "thunderbird",
];

/// The agents' section: Carol at `@ANN@`, `extra` lines in `[agents]`.
fn agents(extra: &str) -> String {
    format!("[agents]\n{extra}\n[[agents.members]]\naddress = \"@ANN@\"\nname = \"Carol Agent\"\n")
}

fn fixture(client: &str, ext: &str) -> Vec<u8> {
    std::fs::read(repo().join(format!("tests/fixtures/agent_clients/{client}.{ext}"))).unwrap()
}

/// The fixture as a reply from `from` to `card`: its own header block with the addressing
/// and threading fields replaced, its body untouched.
fn retarget(raw: &[u8], from: &str, card: &InboundMessage) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let replaced = [
        "from:",
        "to:",
        "cc:",
        "subject:",
        "message-id:",
        "in-reply-to:",
        "references:",
    ];
    let mut kept = Vec::new();
    let mut skipping = false;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if !skipping {
                kept.push(line);
            }
            continue;
        }
        let lower = line.to_ascii_lowercase();
        skipping = replaced.iter().any(|h| lower.starts_with(h));
        if !skipping {
            kept.push(line);
        }
    }
    let mut refs = card.references.clone();
    refs.push(card.message_id.clone().unwrap());
    format!(
        "From: Carol Agent <{from}>\r\nTo: {to}\r\nSubject: RE: {subject}\r\nMessage-ID: <{id}@support.test>\r\n\
         In-Reply-To: <{parent}>\r\nReferences: {refs}\r\n{head}\r\n\r\n{body}",
        to = card.reply_to.as_ref().unwrap().address,
        subject = card.subject,
        id = unique("answer"),
        parent = card.message_id.as_deref().unwrap(),
        refs = ids_header(&refs),
        head = kept.join("\r\n"),
    )
    .into_bytes()
}

/// The customer's mail, whole: text part, HTML part, attachment names, inline image names.
struct Received {
    text: String,
    html: String,
    files: Vec<String>,
    inline: Vec<String>,
}

fn received(raw: &[u8]) -> Received {
    let m = MessageParser::default().parse(raw).unwrap();
    let mut files = Vec::new();
    let mut inline = Vec::new();
    for a in m.attachments() {
        let name = a.attachment_name().unwrap_or_default().to_string();
        if a.content_id().is_some() {
            inline.push(name);
        } else {
            files.push(name);
        }
    }
    Received {
        text: m.body_text(0).unwrap_or_default().replace("\r\n", "\n"),
        html: m.body_html(0).unwrap_or_default().to_string(),
        files,
        inline,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_five_mail_clients_reach_the_customer_as_the_agent_wrote_them() {
    let w = World::new("answers", &agents(""));
    let d = w.start();
    let mut customers = Vec::new();
    for client in CLIENTS {
        let customer = w.customer(&format!("alice-{client}"));
        w.send_complaint(
            &customer,
            "Alice Customer",
            &format!("Charged twice ({client})"),
            "Hello, I was charged twice for invoice INV-2026-1183. Please refund one payment.\n\nAlice",
        )
        .await;
        customers.push(customer);
    }
    let cards = wait_mail(&w, &w.ann, CLIENTS.len()).await;
    for (client, customer) in CLIENTS.iter().zip(&customers) {
        w.wait_for_acks(customer).await;
        let card = cards
            .iter()
            .find(|c| c.subject.contains(&format!("({client})")))
            .unwrap();
        carol_replies(&w, card, &retarget(&fixture(client, "eml"), &w.ann, card)).await;
    }
    for (client, customer) in CLIENTS.iter().zip(&customers) {
        let raw = wait_for(
            &format!("the answer to {customer}"),
            Duration::from_secs(60),
            || async {
                let mut all = read_raw(customer, "INBOX", &w.env).await;
                (all.len() >= 2).then(|| all.remove(1))
            },
        )
        .await;
        let got = received(&raw);
        let expected = String::from_utf8(fixture(client, "expected.txt")).unwrap();
        let expected = expected.trim_end();
        // The text part: the agent's words, paragraphs kept, then our footer.
        assert!(
            got.text.starts_with(expected),
            "{client}: the text part is\n{}\nexpected it to start with\n{expected}",
            got.text
        );
        let footer = &got.text[expected.len()..];
        assert!(footer.contains("\n-- \n"), "{client}: {footer:?}");
        assert!(footer.contains("Carol Agent, Example Support"), "{client}");
        // The HTML part: the agent's HTML, sanitised, the paragraphs as blocks.
        for gone in [
            "wrote:",
            "Sent:",
            "Support Engineer",
            "#resolve",
            "<script",
            "onclick",
            "track.example.net",
            "New case",
        ] {
            assert!(
                !got.html.contains(gone),
                "{client}: `{gone}` in\n{}",
                got.html
            );
        }
        let first_paragraph = expected.split("\n\n").nth(1).unwrap();
        let shown = got.html.replace("&nbsp;", " ").replace("&amp;", "&");
        assert!(
            shown.contains(
                first_paragraph
                    .split_whitespace()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .as_str()
            ),
            "{client}: {}",
            got.html
        );
        let (files, inline): (&[&str], &[&str]) = match *client {
            "outlook_desktop" | "gmail" => (&["credit-note-CMP-7KQ4X-V.pdf"], &[]),
            "apple_mail" => (&[], &["refund-screenshot.png"]),
            _ => (&[], &[]),
        };
        assert_eq!(got.files, files, "{client}: attached files");
        assert_eq!(got.inline, inline, "{client}: images shown in the HTML");
        if !inline.is_empty() {
            assert!(got.html.contains("src=\"cid:"), "{client}");
        }
    }
    // The stored answer is what the customer read, with the command line the agent wrote.
    let store = w.store();
    let read = store.read();
    let tb = read
        .cases()
        .unwrap()
        .into_iter()
        .find(|c| c.subject.contains("(thunderbird)"))
        .unwrap();
    let stored = read.messages_of_case(tb.id).unwrap();
    let answer = stored
        .iter()
        .find(|m| m.outcome == MessageOutcome::AgentReply)
        .unwrap();
    let text = answer.reply_text.as_deref().unwrap();
    assert!(text.starts_with("#resolve\n\nHello Alice,\n\n"), "{text:?}");
    assert!(!text.contains("Carol Agent"), "{text:?}");
    d.stop().await;
}

/// Carol sends `raw` to the card's reply address, as her client does when she presses Reply.
async fn carol_replies(w: &World, card: &InboundMessage, raw: &[u8]) {
    w.send_raw(&w.ann, &card.reply_to.as_ref().unwrap().address, raw)
        .await;
}

/// Alice's complaint, acknowledged: her address and the card Carol got.
async fn one_case(w: &World) -> (String, InboundMessage) {
    let customer = w.customer("alice");
    w.send_complaint(
        &customer,
        "Alice Customer",
        "Charged twice",
        "Please refund.",
    )
    .await;
    w.wait_for_acks(&customer).await;
    let card = wait_mail(w, &w.ann, 1).await.remove(0);
    (customer, card)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_attachment_limit_is_not_sent_and_the_agent_is_told() {
    let w = World::new("answer_cap", &agents("answer_attach_limit = \"512B\"\n"));
    let d = w.start();
    let (customer, card) = one_case(&w).await;
    carol_replies(
        &w,
        &card,
        &retarget(&fixture("gmail", "eml"), &w.ann, &card),
    )
    .await;
    let mails = wait_mail(&w, &w.ann, 2).await;
    let told = &mails[1];
    assert!(told.text.contains("NOT sent"), "{}", told.text);
    assert!(
        told.text
            .contains("credit-note-CMP-7KQ4X-V.pdf (628 bytes)")
            && told.text.contains("agents.answer_attach_limit"),
        "{}",
        told.text
    );
    // The customer got the acknowledgment only; the case records the answer, not relayed.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.mailbox(&customer, "INBOX").await.len(), 1);
    let case = w.case_of(&customer);
    assert!(case.first_response_at.is_none());
    let msgs = w.store().read().messages_of_case(case.id).unwrap();
    assert!(msgs
        .iter()
        .any(|m| m.outcome == MessageOutcome::CommandRejected));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_whose_case_it_is_and_a_priority_raised_in_an_answer_promises_no_other_answer() {
    let w = World::new("answer_prio", &agents(""));
    let d = w.start();
    let (customer, card) = one_case(&w).await;
    // The agent's inbox list shows whose case the card is about.
    assert_eq!(
        card.from.as_ref().unwrap().name.as_deref(),
        Some("Alice Customer via Example Support")
    );
    assert_eq!(card.from.as_ref().unwrap().address, w.support);
    // A reply goes to the case, and the agent's client says so rather than naming Alice.
    let case = w.case_of(&customer);
    assert_eq!(
        card.reply_to
            .as_ref()
            .unwrap()
            .name
            .clone()
            .unwrap_or_default(),
        format!("Example Support, case {}", case.reference)
    );

    // An answer that raises the priority: the answer says so, and promises nothing more.
    let raw = thunderbird_reply(
        &w.ann,
        "Carol Agent",
        &card,
        "#priority urgent\r\n\r\nHello Alice,\r\n\r\nthe refund is on its way.\r\n\r\nCarol",
    );
    carol_replies(&w, &card, raw.as_bytes()).await;
    let mails = wait_mail(&w, &customer, 2).await;
    let answer = &mails[1].text;
    assert!(answer.starts_with("Hello Alice,"), "{answer}");
    assert!(answer.contains("raised the priority"), "{answer}");
    assert!(!answer.contains("You can expect an answer"), "{answer}");

    // The same command alone is a status update, and there the promise is the news.
    let raw = thunderbird_reply(&w.ann, "Carol Agent", &card, "#priority normal\r\n");
    carol_replies(&w, &card, raw.as_bytes()).await;
    let raw = thunderbird_reply(&w.ann, "Carol Agent", &card, "#priority urgent\r\n");
    carol_replies(&w, &card, raw.as_bytes()).await;
    let mails = wait_mail(&w, &customer, 3).await;
    let update = &mails[2].text;
    assert!(update.contains("raised the priority"), "{update}");
    assert!(update.contains("You can expect an answer"), "{update}");

    // Alice answers; the agents read her reply with the case's status in words, under the
    // case's one subject.
    let answer = mails[1].clone();
    let raw = thunderbird_reply(&customer, "Alice Customer", &answer, "Thank you, got it.");
    w.send_raw(
        &customer,
        &answer.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
    let to_agents = wait_mail(&w, &w.ann, 2).await;
    let relayed = &to_agents[1];
    assert!(
        relayed.text.contains("Thank you, got it."),
        "{}",
        relayed.text
    );
    assert!(relayed.text.contains("in progress"), "{}", relayed.text);
    assert!(!relayed.text.contains("in_progress"), "{}", relayed.text);
    assert_eq!(
        relayed.subject, card.subject,
        "one subject, no Re: piling up"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_too_large_for_the_mailbox_is_not_lost_in_silence() {
    // The test config accepts messages up to 256 KB (mailbox.max_message_size).
    let w = World::new("answer_huge", &agents(""));
    let d = w.start();
    let (customer, card) = one_case(&w).await;
    let mut raw = String::from_utf8(retarget(&fixture("gmail", "eml"), &w.ann, &card)).unwrap();
    // A 300 KB log file attached: the mail is over the limit before any byte is read.
    // The top-level multipart/mixed's boundary: the first one declared.
    let at = raw.find("boundary=\"").unwrap() + "boundary=\"".len();
    let boundary = raw[at..].split('"').next().unwrap().to_string();
    let close = raw.rfind(&format!("--{boundary}--")).unwrap();
    let log: String = (0..8000)
        .map(|i| {
            format!(
                "2026-11-23 10:00:{:02} payment gateway retry {i}\r\n",
                i % 60
            )
        })
        .collect();
    raw.insert_str(
        close,
        &format!(
            "--{boundary}\r\nContent-Type: text/plain; name=\"gateway.log\"\r\n\
             Content-Disposition: attachment; filename=\"gateway.log\"\r\n\r\n{log}\r\n"
        ),
    );
    assert!(raw.len() > 256 * 1024);
    carol_replies(&w, &card, raw.as_bytes()).await;
    let mails = wait_mail(&w, &w.ann, 2).await;
    let told = &mails[1];
    assert!(told.text.contains("NOT sent"), "{}", told.text);
    // Not taken for the customer's mail in the inbox list.
    assert!(told.subject.contains("] Not sent: "), "{}", told.subject);
    assert_eq!(
        told.from.as_ref().unwrap().name.as_deref(),
        Some("Example Support")
    );
    assert!(
        told.text
            .contains("larger than the 256 KB the support mailbox accepts"),
        "{}",
        told.text
    );
    assert_eq!(
        w.mailbox(&customer, "INBOX").await.len(),
        1,
        "the customer got nothing"
    );
    // A stranger's large mail to the same address gets no answer.
    let stranger = w.customer("mallory");
    let big = format!(
        "From: <{stranger}>\r\nTo: {to}\r\nSubject: big\r\nMessage-ID: <{id}@customer.test>\r\n\r\n{log}",
        to = card.reply_to.as_ref().unwrap().address,
        id = unique("big"),
    );
    w.send_raw(
        &stranger,
        &card.reply_to.as_ref().unwrap().address,
        big.as_bytes(),
    )
    .await;
    w.wait_inbox_empty().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.mailbox(&w.ann, "INBOX").await.len(), 2);
    assert!(w.mailbox(&stranger, "INBOX").await.is_empty());
    d.stop().await;
}
