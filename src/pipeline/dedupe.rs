//! Is this message one we already stored (docs/design.md invariant 2)?
//!
//! The same mail reaches the mailbox more than once: a crash before the IMAP move makes the
//! ingest fetch it again, and a mail sent To support@ with billing@ in Cc is delivered once per
//! address, each copy with its own `Received`/`Delivered-To` lines. Those are duplicates. A
//! Message-ID alone does not make one: anybody can write any Message-ID, and a second
//! customer's complaint that reused the first one's (a broken mailer, or on purpose) was
//! silently dropped. So a message is a duplicate when its raw bytes were stored, or when a
//! stored message has its Message-ID *and* the same content: its header fields and body less
//! the trace fields that servers add on the way ([`fingerprint`]). A Message-ID that is stored
//! with other content is a collision: the message is new, gets a dedupe key of its own, and the
//! collision is logged at WARN.

use sha2::{Digest, Sha256};

use crate::parse::InboundMessage;
use crate::store::{StoreError, Tx};

/// Header fields that receiving servers add or rewrite on the way, so two deliveries of one
/// mail differ in them (lower case; a trailing `*` is a prefix).
const TRACE_FIELDS: &[&str] = &[
    "received",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-*",
    "authentication-results",
    "arc-*",
    "received-spf",
    "x-spam*",
    "x-rspamd-*",
    "x-virus-*",
    "x-greylist",
    "x-ms-exchange-*",
    "x-forefront-*",
    "x-microsoft-antispam*",
];

fn is_trace(name: &str) -> bool {
    TRACE_FIELDS.iter().any(|t| match t.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *t,
    })
}

/// A hex SHA-256 of what the sender wrote: the header block without trace fields, and the
/// body, with line ends normalised (one relay may turn CRLF into LF). Pure; never fails.
pub fn fingerprint(raw: &[u8]) -> String {
    let mut h = Sha256::new();
    let mut lines = raw.split(|&b| b == b'\n');
    let mut skipping = false;
    for line in lines.by_ref() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A folded continuation belongs to the field above it.
            if !skipping {
                h.update(line);
                h.update(b"\n");
            }
            continue;
        }
        let name = line
            .iter()
            .position(|&b| b == b':')
            .map(|i| {
                String::from_utf8_lossy(&line[..i])
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        skipping = is_trace(&name);
        if !skipping {
            h.update(line);
            h.update(b"\n");
        }
    }
    h.update(b"\n");
    for line in lines {
        h.update(line.strip_suffix(b"\r").unwrap_or(line));
        h.update(b"\n");
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

/// What the store already holds of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Nothing: a new message.
    New,
    /// These bytes, or this Message-ID with the same content: already taken in.
    Duplicate,
    /// This Message-ID with other content: a new message under the key `id#fingerprint`.
    Collision { fingerprint: String },
}

/// Looks `msg` (with its raw bytes) up in the store.
///
/// # Errors
/// SQL errors.
pub fn seen(tx: &Tx<'_>, msg: &InboundMessage, raw: &[u8]) -> Result<Seen, StoreError> {
    // Almost every message is new: one statement says so, and stored bytes are read only
    // when the Message-ID is known.
    let (bytes_seen, key_seen) = tx.seen_bytes_or_key(&msg.content_hash, &msg.dedupe_id())?;
    if bytes_seen {
        return Ok(Seen::Duplicate);
    }
    let Some(id) = &msg.message_id else {
        // Without a Message-ID the dedupe key is the hash of the raw bytes, checked above.
        return Ok(Seen::New);
    };
    if !key_seen {
        return Ok(Seen::New);
    }
    let stored = tx.raw_of_message_id(id)?;
    let mine = fingerprint(raw);
    // A stored copy whose bytes were purged cannot be compared: taken as the same message,
    // as before this check existed (the conservative side: no second case).
    if stored
        .iter()
        .any(|r| r.as_deref().is_none_or(|r| fingerprint(r) == mine))
    {
        return Ok(Seen::Duplicate);
    }
    let short = mine[..16].to_string();
    if tx.seen_dedupe_id(&format!("{id}#{short}"))? {
        return Ok(Seen::Duplicate);
    }
    Ok(Seen::Collision { fingerprint: short })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "Return-Path: <a@x.test>\r\nReceived: from a by b; Mon, 1 Jan 2024 10:00:00 +0000\r\nDelivered-To: support@support.test\r\nFrom: a@x.test\r\nTo: support@support.test\r\nCc: billing@support.test\r\nSubject: broken\r\n\tfolded on\r\nMessage-ID: <m1@x.test>\r\n\r\nMy order is broken.\r\n";

    #[test]
    fn two_deliveries_of_one_mail_have_one_fingerprint() {
        let other_copy = MAIL
            .replace(
                "Delivered-To: support@support.test",
                "Delivered-To: billing@support.test\r\nX-Original-To: billing@support.test",
            )
            .replace("from a by b", "from a by c\r\n\tid 123")
            .replace("\r\n", "\n");
        assert_eq!(
            fingerprint(MAIL.as_bytes()),
            fingerprint(other_copy.as_bytes())
        );
    }

    #[test]
    fn another_text_or_sender_under_the_same_message_id_differs() {
        let base = fingerprint(MAIL.as_bytes());
        let text = MAIL.replace("My order is broken.", "Please refund me.");
        let sender = MAIL.replace("From: a@x.test", "From: b@y.test");
        let folded = MAIL.replace("folded on", "folded off");
        assert_ne!(base, fingerprint(text.as_bytes()));
        assert_ne!(base, fingerprint(sender.as_bytes()));
        assert_ne!(base, fingerprint(folded.as_bytes()));
    }

    #[test]
    fn headers_only_and_garbage_do_not_panic() {
        for raw in [
            &b""[..],
            b"\n",
            b"no colon\r\n\r\n",
            b":\r\n \r\n\r\nx",
            b"\xff\xfe: \xff\r\n",
        ] {
            assert_eq!(fingerprint(raw).len(), 64);
        }
    }
}
