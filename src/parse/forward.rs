//! A forwarded complaint: who wrote the original, what it said, and what the forwarding agent
//! wrote above it.
//!
//! Agents forward a customer's mail to their intake address (docs/design.md, "Complaints that
//! come through an agent"); the case is the original sender's, so the original's From must be
//! read from what the agent's client made of it. Mail clients forward in two ways:
//!
//! * **attached**: the original as a `message/rfc822` part (Outlook's "Forward as attachment",
//!   Thunderbird's default in some set-ups): parsed as a message of its own, its headers exact;
//! * **inline**: a marker line and a block of header lines in the body text, written by the
//!   client in its user's language: Gmail's `---------- Forwarded message ---------`,
//!   Thunderbird's `-------- Forwarded Message --------`, Apple Mail's `Begin forwarded
//!   message:` (its block and body often `> `-quoted), Outlook's rule line or
//!   `-----Original Message-----` above `From:`/`Sent:`/`To:`/`Subject:` (`Von:`/`Gesendet:`,
//!   `De :`/`Envoyé :`/`Objet :`...). An HTML-only mail is read from its text as a browser
//!   shows it ([`super::html_to_text`]), where Word's bold labels are plain `From:` lines.
//!
//! [`find`] is pure and never panics. A forward whose block names no address (Outlook writes
//! only the display name for a sender in the same organisation) is [`Forward::NoSender`]: the
//! agent must be told, never a case opened for nobody.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset};
use regex::Regex;

use super::quoted::{self, header_field, Field};
use super::{Attachment, InboundMessage, Mailbox, ParseLimits};

/// A readable line of a header block is short; longer lines are body text.
const MAX_FIELD_LINE: usize = 400;
/// How far a header block may run (field lines plus wrapped values).
const MAX_BLOCK_LINES: usize = 12;
/// Blank lines allowed between a marker and its header block.
const MAX_GAP: usize = 2;

/// The original of a forwarded complaint.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// The original's From: the customer.
    pub sender: Mailbox,
    /// The original's subject, when the block names one.
    pub subject: Option<String>,
    /// The original's date as the client wrote it ("Mon, Nov 23, 2026 at 9:12 AM").
    pub date_text: Option<String>,
    /// The date, when it reads with its time zone (RFC 5322, as attached messages and
    /// Thunderbird and Apple Mail write it); a local time without a zone is not guessed.
    pub date: Option<DateTime<FixedOffset>>,
    /// The original's text, without the header block (and without Apple Mail's `> `).
    pub text: String,
    /// What the agent wrote above the forward (their signature removed); may be empty.
    pub agent_text: String,
    /// The original's Message-ID: only an attached original has one.
    pub message_id: Option<String>,
    /// True for a `message/rfc822` attachment, false for an inline forward.
    pub attached: bool,
    /// The attached original's own attachments (an inline forward's are the agent mail's).
    pub attachments: Vec<Attachment>,
}

/// What [`find`] found.
#[derive(Debug, Clone)]
pub enum Forward {
    /// A forwarded original with a sender address.
    Found(Forwarded),
    /// A forward, but no sender address could be read from it; `why` says what was seen.
    NoSender { why: String, agent_text: String },
    /// Nothing that looks forwarded.
    NotFound,
}

/// Finds the forwarded original in a message: an attached `message/rfc822` first (its
/// headers are exact), else an inline forward in the body text. `raw` is the message `msg`
/// was parsed from.
pub fn find(raw: &[u8], msg: &InboundMessage, limits: &ParseLimits) -> Forward {
    if let Some(f) = attached(raw, msg, limits) {
        return f;
    }
    inline(&msg.text)
}

/// The first `message/rfc822` attachment, parsed.
fn attached(raw: &[u8], msg: &InboundMessage, limits: &ParseLimits) -> Option<Forward> {
    // Read the parts again (with their bytes) only when the parsed message has one.
    if !msg
        .attachments
        .iter()
        .any(|a| a.content_type == "message/rfc822")
    {
        return None;
    }
    let part = super::attachment_data(raw, raw.len())
        .into_iter()
        .find(|a| a.meta.content_type == "message/rfc822" && !a.data.is_empty())?;
    let agent_text = msg.reply_text.trim().to_string();
    let Ok(original) = super::parse(&part.data, limits) else {
        return Some(Forward::NoSender {
            why: "the attached message could not be read".into(),
            agent_text,
        });
    };
    let Some(sender) = original.from.clone().filter(|m| m.address.contains('@')) else {
        return Some(Forward::NoSender {
            why: "the attached message has no From address".into(),
            agent_text,
        });
    };
    let date_text = original.header("date").map(str::to_string);
    Some(Forward::Found(Forwarded {
        sender,
        subject: Some(original.subject.clone()).filter(|s| !s.is_empty()),
        date: date_text
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc2822(d.trim()).ok()),
        date_text,
        text: original.text.trim().to_string(),
        agent_text,
        message_id: original.message_id.clone(),
        attached: true,
        attachments: original.attachments.clone(),
    }))
}

/// An inline forward in a plain-text body.
pub fn inline(text: &str) -> Forward {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    for i in 0..lines.len() {
        let line = lines[i];
        if line.len() > MAX_FIELD_LINE || line.trim().is_empty() {
            continue;
        }
        let (cut, start) = if quoted::is_forward_marker(line) || quoted::is_original_message(line) {
            match next_filled(&lines, i + 1) {
                Some(j) => (i, j),
                None => continue,
            }
        } else if quoted::is_separator_line(line) {
            match next_filled(&lines, i + 1) {
                Some(j) if quoted::is_header_block(&lines, j) => (i, j),
                _ => continue,
            }
        } else if header_field(line) == Some(Field::From) && quoted::is_header_block(&lines, i) {
            (i, i)
        } else {
            continue;
        };
        let agent_text = quoted::visible_text(&lines[..cut].join("\n"));
        return read_block(&lines, start, agent_text);
    }
    Forward::NotFound
}

/// The next non-blank line from `from`, at most [`MAX_GAP`] blank lines on.
fn next_filled(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len().min(from + MAX_GAP + 1)).find(|&j| !lines[j].trim().is_empty())
}

/// One level of `>` quoting removed (Apple Mail's forward), or None for an unquoted line.
fn unquote(line: &str) -> Option<&str> {
    let t = line.trim_start().strip_prefix('>')?;
    Some(t.strip_prefix(' ').unwrap_or(t))
}

/// The header block at `start` and the original's text under it.
fn read_block(lines: &[&str], start: usize, agent_text: String) -> Forward {
    let quoted = unquote(lines[start]).is_some();
    let plain = |l: &str| -> String {
        if quoted {
            unquote(l).unwrap_or(l).to_string()
        } else {
            l.to_string()
        }
    };
    let mut fields: Vec<(Field, String)> = Vec::new();
    let mut end = start;
    let mut wrapped = 0;
    while end < lines.len() && end < start + MAX_BLOCK_LINES {
        let l = plain(lines[end]);
        if l.trim().is_empty() || l.len() > MAX_FIELD_LINE {
            break;
        }
        match header_field(&l) {
            Some(f) => {
                fields.push((f, field_value(&l)));
                wrapped = 0;
            }
            // A wrapped value ("[mailto:\n jane@customer.test]") continues the field above.
            None if !fields.is_empty() && wrapped == 0 => {
                wrapped += 1;
                if let Some((_, v)) = fields.last_mut() {
                    v.push(' ');
                    v.push_str(l.trim());
                }
            }
            None => break,
        }
        end += 1;
    }
    let value = |want: Field| {
        fields
            .iter()
            .find(|(f, _)| *f == want)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let text = lines[end.min(lines.len())..]
        .iter()
        .map(|l| plain(l).trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    let Some(from) = value(Field::From) else {
        return Forward::NoSender {
            why: "the forwarded message's header block has no From line".into(),
            agent_text,
        };
    };
    let Some(sender) = mailbox(&from) else {
        return Forward::NoSender {
            why: format!("the forwarded message's From line ({from}) has no e-mail address"),
            agent_text,
        };
    };
    let date_text = value(Field::Date);
    Forward::Found(Forwarded {
        sender,
        subject: value(Field::Subject),
        date: date_text
            .as_deref()
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok()),
        date_text,
        text,
        agent_text,
        message_id: None,
        attached: false,
        attachments: Vec::new(),
    })
}

/// The value of a `Label: value` line (`差出人：value` too), without Markdown-ish emphasis and
/// tabs.
fn field_value(line: &str) -> String {
    let v = line
        .split_once([':', '：'])
        .map(|(_, v)| v)
        .unwrap_or_default();
    v.trim()
        .trim_start_matches(['*', '_'])
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+'!#$&*/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
        .expect("static regex")
});

/// A sender as clients write it in a forward: `Jane Doe <jane@x>`, `"Doe, Jane" <jane@x>`,
/// `Jane Doe [mailto:jane@x]`, `Jane Doe <mailto:jane@x>`, `jane@x`; None without a
/// well-formed address.
pub fn mailbox(value: &str) -> Option<Mailbox> {
    let m = ADDRESS.find(value)?;
    let address = super::address::canonical(m.as_str())?;
    if !address.contains('@') {
        return None;
    }
    let before = value[..m.start()]
        .trim_end()
        .trim_end_matches("mailto:")
        .trim_end_matches(['<', '['])
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    let name =
        (!before.is_empty() && !before.eq_ignore_ascii_case(&address)).then(|| before.to_string());
    Some(Mailbox { name, address })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Forwarded {
        match inline(text) {
            Forward::Found(f) => f,
            other => panic!("no forward found: {other:?}"),
        }
    }

    #[test]
    fn senders_are_read_as_clients_write_them() {
        for (v, name, addr) in [
            (
                "Jane Doe <jane@customer.test>",
                Some("Jane Doe"),
                "jane@customer.test",
            ),
            (
                "\"Doe, Jane\" <jane@customer.test>",
                Some("Doe, Jane"),
                "jane@customer.test",
            ),
            (
                "Jane Doe [mailto:jane@customer.test]",
                Some("Jane Doe"),
                "jane@customer.test",
            ),
            (
                "Jane Doe <mailto:jane@customer.test>",
                Some("Jane Doe"),
                "jane@customer.test",
            ),
            ("jane@customer.test", None, "jane@customer.test"),
            ("<jane@customer.test>", None, "jane@customer.test"),
        ] {
            let m = mailbox(v).unwrap();
            assert_eq!((m.name.as_deref(), m.address.as_str()), (name, addr), "{v}");
        }
        assert_eq!(mailbox("Jane Doe"), None);
        assert_eq!(mailbox("jane@"), None);
    }

    #[test]
    fn localised_outlook_blocks_give_the_sender() {
        for text in [
            "Bitte aufnehmen.\n\n________________________________\nVon: Max Muster <max@kunde.test>\nGesendet: Dienstag, 24. November 2026 14:59\nAn: Support\nBetreff: Bestellung fehlt\n\nMeine Bestellung ist nicht angekommen.\n",
            "À traiter.\n\n-----Message d'origine-----\nDe : Max Muster [mailto:max@kunde.test]\nEnvoyé : mardi 24 novembre 2026 14:59\nÀ : Support\nObjet : Bestellung fehlt\n\nMeine Bestellung ist nicht angekommen.\n",
        ] {
            let f = found(text);
            assert_eq!(f.sender.address, "max@kunde.test");
            assert_eq!(f.sender.name.as_deref(), Some("Max Muster"));
            assert_eq!(f.text, "Meine Bestellung ist nicht angekommen.");
            assert!(f.subject.is_some());
            assert!(!f.agent_text.is_empty());
        }
    }

    /// The forwards of the clients of the languages served, each with its own marker and
    /// labels (Apple Mail and Thunderbird put Subject or Date before From).
    #[test]
    fn forwards_in_the_languages_served_give_the_sender() {
        for text in [
            "Bitte aufnehmen.\n\nAnfang der weitergeleiteten Nachricht:\n\nVon: Max Muster <max@kunde.test>\nBetreff: Bestellung fehlt\nDatum: 24. November 2026 um 14:59:00 MEZ\nAn: support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "Urgent.\n\nDébut du message réexpédié :\n\nDe : Max Muster <max@kunde.test>\nObjet : Bestellung fehlt\nDate : 24 novembre 2026 à 14:59:00 UTC+1\nÀ : support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "Por favor.\n\n---------- Mensaje reenviado ---------\nDe: Max Muster <max@kunde.test>\nDate: mar, 24 nov 2026 a las 14:59\nSubject: Bestellung fehlt\nTo: <support@shop.test>\n\nMeine Bestellung ist nicht angekommen.\n",
            "Por favor.\n\nInicio del mensaje reenviado:\n\nDe: Max Muster <max@kunde.test>\nAsunto: Bestellung fehlt\nFecha: 24 de noviembre de 2026, 14:59:00 CET\nPara: support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "Grazie.\n\nInizio messaggio inoltrato:\n\nDa: Max Muster <max@kunde.test>\nOggetto: Bestellung fehlt\nData: 24 novembre 2026 14:59:00 CET\nA: support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "Graag oppakken.\n\nBegin doorgestuurd bericht:\n\nVan: Max Muster <max@kunde.test>\nOnderwerp: Bestellung fehlt\nDatum: 24 november 2026 om 14:59:00 CET\nAan: support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "Obrigado.\n\nInício da mensagem reencaminhada:\n\nDe: Max Muster <max@kunde.test>\nAssunto: Bestellung fehlt\nData: 24 de novembro de 2026 às 14:59:00 WET\nPara: support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "Obrigado.\n\nDe: Max Muster <max@kunde.test>\nEnviado em: terça-feira, 24 de novembro de 2026 14:59\nPara: Suporte\nAssunto: Bestellung fehlt\n\nMeine Bestellung ist nicht angekommen.\n",
            "対応をお願いします。\n\n-------- 転送メッセージ --------\n件名: \tBestellung fehlt\n日付: \tTue, 24 Nov 2026 14:59:00 +0900\n差出人: \tMax Muster <max@kunde.test>\n宛先: \tsupport@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "対応をお願いします。\n\n転送されたメッセージ:\n\n差出人: Max Muster <max@kunde.test>\n件名: Bestellung fehlt\n日付: 2026年11月24日 14:59:00 JST\n宛先: support@shop.test\n\nMeine Bestellung ist nicht angekommen.\n",
            "対応をお願いします。\n\n________________________________\n差出人：Max Muster <max@kunde.test>\n送信日時：2026年11月24日 14:59\n宛先：サポート\n件名：Bestellung fehlt\n\nMeine Bestellung ist nicht angekommen.\n",
        ] {
            let f = found(text);
            assert_eq!(f.sender.address, "max@kunde.test", "{text}");
            assert_eq!(f.sender.name.as_deref(), Some("Max Muster"), "{text}");
            assert_eq!(f.subject.as_deref(), Some("Bestellung fehlt"), "{text}");
            assert_eq!(f.text, "Meine Bestellung ist nicht angekommen.", "{text}");
            assert!(!f.agent_text.is_empty(), "{text}");
        }
    }

    #[test]
    fn a_quoted_apple_forward_is_unquoted() {
        let f = found("#noack\n\nBegin forwarded message:\n\n> From: Jane Doe <jane@customer.test>\n> Subject: Broken kettle\n> Date: 23 November 2026 at 09:12:44 CET\n> To: shop@example.test\n> \n> The kettle broke.\n> Second line.\n");
        assert_eq!(f.sender.address, "jane@customer.test");
        assert_eq!(f.subject.as_deref(), Some("Broken kettle"));
        assert_eq!(f.text, "The kettle broke.\nSecond line.");
        assert_eq!(f.agent_text, "#noack");
    }

    #[test]
    fn a_block_without_an_address_is_no_sender() {
        let r = inline("FYI\n\n________________________________\nFrom: Jane Doe\nSent: Monday, November 23, 2026 9:12 AM\nTo: Support\nSubject: Broken\n\nText\n");
        assert!(
            matches!(&r, Forward::NoSender { why, .. } if why.contains("Jane Doe")),
            "{r:?}"
        );
    }

    #[test]
    fn plain_mail_and_replies_are_no_forward() {
        assert!(matches!(
            inline("Hello,\nmy order is late.\n"),
            Forward::NotFound
        ));
        assert!(matches!(inline(""), Forward::NotFound));
        // "From:" in running text is no header block.
        assert!(matches!(
            inline("From: what I can see, it broke.\nThanks\n"),
            Forward::NotFound
        ));
    }

    #[test]
    fn rfc2822_dates_are_read_and_local_ones_kept_as_text() {
        let f = found("---------- Forwarded message ---------\nFrom: Jane <jane@customer.test>\nDate: Mon, 23 Nov 2026 09:12:00 +0100\nSubject: x\n\nbody\n");
        assert!(f.date.is_some());
        let f = found("---------- Forwarded message ---------\nFrom: Jane <jane@customer.test>\nDate: Mon, Nov 23, 2026 at 9:12 AM\nSubject: x\n\nbody\n");
        assert_eq!(f.date, None);
        assert_eq!(f.date_text.as_deref(), Some("Mon, Nov 23, 2026 at 9:12 AM"));
    }
}
