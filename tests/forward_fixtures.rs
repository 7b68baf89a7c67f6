//! Forwarded complaints as the common mail clients write them (`tests/fixtures/forwards/`):
//! `parse::forward` finds the original sender (the customer), the original's subject and text
//! without its header block, and what the forwarding agent wrote above it. Pure: no servers.

use mailcase::parse::forward::{self, Forward, Forwarded};
use mailcase::parse::{parse, ParseLimits};

const COMPLAINT: &str = "Hello,\n\nthe kettle I ordered (order 4711) arrived with a cracked lid.\nPlease send a replacement or refund it.\n\nAlice";

fn read(name: &str) -> Forward {
    let path = format!(
        "{}/tests/fixtures/forwards/{name}.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).unwrap();
    let msg = parse(&raw, &ParseLimits::default()).unwrap();
    forward::find(&raw, &msg, &ParseLimits::default())
}

fn found(name: &str) -> Forwarded {
    match read(name) {
        Forward::Found(f) => f,
        other => panic!("{name}: no forwarded original found: {other:?}"),
    }
}

/// Each client's forward gives Alice as the sender, her subject, her text (and only hers) and
/// the agent's words above it.
#[test]
fn every_client_s_forward_gives_the_customer_her_subject_and_her_text() {
    for (client, agent_words) in [
        ("gmail", "Please log this one, she wrote to me directly."),
        (
            "outlook_desktop",
            "the customer wrote to me directly, please take it over.",
        ),
        (
            "outlook_desktop_html_only",
            "the customer wrote to me directly, please take it over.",
        ),
        (
            "outlook_web",
            "Bitte als Fall aufnehmen, die Kundin hat mir direkt geschrieben.",
        ),
        (
            "thunderbird",
            "Please log this, she phoned about it as well.",
        ),
        (
            "apple_mail",
            "She also sent a photo to the shop's phone; I have it.",
        ),
        (
            "rfc822_attachment",
            "Forwarding as an attachment: the customer is upset, please hurry.",
        ),
    ] {
        let f = found(client);
        assert_eq!(f.sender.address, "alice@customer.test", "{client}");
        assert_eq!(f.sender.name.as_deref(), Some("Alice Customer"), "{client}");
        assert_eq!(
            f.subject.as_deref(),
            Some("Kettle arrived broken"),
            "{client}"
        );
        let text = f.text.replace("\r\n", "\n");
        // Word's and the web clients' HTML lay paragraphs out with blank lines of their own:
        // the words and their order are what must come through.
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(words(&text), words(COMPLAINT), "{client}: {text:?}");
        for header in ["From:", "Von:", "Subject:", "Sent:", "Forwarded"] {
            assert!(
                !text.contains(header),
                "{client}: header block left in {text:?}"
            );
        }
        assert!(
            f.agent_text.contains(agent_words),
            "{client}: {:?}",
            f.agent_text
        );
        assert!(
            !f.agent_text.contains("cracked lid"),
            "{client}: {:?}",
            f.agent_text
        );
        assert_eq!(f.attached, client == "rfc822_attachment", "{client}");
    }
}

#[test]
fn an_attached_original_keeps_its_message_id_and_date() {
    let f = found("rfc822_attachment");
    assert_eq!(
        f.message_id.as_deref(),
        Some("kettle-4711.a1b2c3@customer.test")
    );
    assert_eq!(
        f.date.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-11-23T09:12:44+01:00")
    );
}

#[test]
fn dates_with_a_zone_are_read_and_others_kept_as_written() {
    assert!(found("thunderbird").date.is_some());
    let g = found("gmail");
    assert_eq!(g.date, None);
    assert_eq!(g.date_text.as_deref(), Some("Mon, Nov 23, 2026 at 9:12 AM"));
}

#[test]
fn a_forward_naming_no_address_is_no_sender() {
    match read("no_sender") {
        Forward::NoSender { why, agent_text } => {
            assert!(why.contains("Alice Customer"), "{why}");
            assert!(agent_text.contains("Can you log this?"), "{agent_text}");
        }
        other => panic!("expected no sender, got {other:?}"),
    }
}

#[test]
fn a_complaint_written_directly_is_no_forward() {
    let path = format!(
        "{}/tests/fixtures/parse/plain_complaint.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(path).unwrap();
    let msg = parse(&raw, &ParseLimits::default()).unwrap();
    assert!(matches!(
        forward::find(&raw, &msg, &ParseLimits::default()),
        Forward::NotFound
    ));
}
