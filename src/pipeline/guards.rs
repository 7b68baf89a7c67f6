//! Loops end (DESIGN.md invariant 7), floods open no more cases.
//!
//! Marking mail as automatic is the robot's choice, and the classic helpdesk loop is two
//! robots that make none: an agent's auto-responder and a customer's, each answering the
//! other through mailcase, which relays every answer as personal mail and notifies the agents
//! of every reply. Caps on automatic mail never see that. So the guard looks at the shape of
//! a case's conversation, whatever the mail says it is:
//!
//! - more than `loops.max_messages_per_side` messages from one side (the customer's, or the
//!   agents') within `loops.window`: faster than people write;
//! - the same text from one side `loops.max_repeats` times within the window;
//! - one of our own Message-IDs quoted back in a message's text (an auto-responder echoing
//!   our headers);
//! - more than `loops.max_outbound_per_case_per_hour` mails of every kind queued on the case.
//!
//! Any of them stops the case: its messages are still stored (nothing is lost), but nothing
//! more is queued on it, to anybody, until an admin runs `mailcase resume REF`; the agents
//! are told once. Separately, every mail to one customer-side address counts toward
//! `loops.max_outbound_per_address_per_hour` over all cases.
//!
//! Floods of new cases are capped in `pipeline::flood_target` by sender (its `+tag` aside),
//! by sender domain with the same text, and by sender domain; the keys come from
//! [`flood_keys`].

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::conversation::Ctx;
use crate::parse::InboundMessage;
use crate::store::{CaseRow, StoreError};

/// Which side of a case wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Customer,
    Agent,
}

impl Side {
    fn roles(self) -> &'static [&'static str] {
        match self {
            Side::Customer => &["customer", "cc"],
            Side::Agent => &["agent"],
        }
    }
    fn name(self) -> &'static str {
        match self {
            Side::Customer => "the customer's side",
            Side::Agent => "the agents' side",
        }
    }
}

/// Where the guard starts counting: the window, or the admin's last resume if later.
fn since(c: &Ctx<'_, '_>, case: &CaseRow) -> Result<DateTime<Utc>, StoreError> {
    let window =
        Duration::from_std(c.engine.config.loops.window.0).unwrap_or(Duration::minutes(10));
    let from = c.now - window;
    Ok(match c.tx.loop_resumed_at(case.id)? {
        Some(r) if r > from => r,
        _ => from,
    })
}

fn window_text(c: &Ctx<'_, '_>) -> String {
    super::human_duration(c.engine.config.loops.window.0)
}

/// After a message of `side` was stored on `case`: stops the case when the message repeats
/// a text of its side or quotes one of our Message-IDs back.
///
/// # Errors
/// Store errors.
pub(super) fn after_inbound(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    side: Side,
    msg: &InboundMessage,
) -> Result<(), StoreError> {
    if c.tx.loop_stop(case.id)?.is_some() {
        return Ok(());
    }
    let from = since(c, case)?;
    let text = if msg.reply_text.trim().is_empty() {
        msg.text.as_str()
    } else {
        msg.reply_text.as_str()
    };
    let max_repeats = i64::from(c.engine.config.loops.max_repeats);
    if !text.trim().is_empty() {
        let same = c.tx.same_text_on_case_since(case.id, text, from)?;
        if same >= max_repeats {
            return trip(
                c,
                case,
                &format!(
                    "the same text came {same} times from {} within {}",
                    side.name(),
                    window_text(c)
                ),
            );
        }
    }
    for id in quoted_ids(&msg.text, &c.engine.domain) {
        if c.tx.is_our_message_on_case(case.id, &id)? {
            return trip(
                c,
                case,
                &format!(
                    "a message from {} quotes the Message-ID of mail we sent (<{id}>): an auto-responder echoing our mail",
                    side.name()
                ),
            );
        }
    }
    Ok(())
}

/// Whether mail may be queued on `case` (to `recipient` when it goes to one customer-side
/// address): `Err(reason)` when the case is stopped as a loop, the conversation runs faster
/// than people write (which stops it now), or a cap is reached.
///
/// # Errors
/// Store errors.
pub(super) fn may_send(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    recipient: Option<&str>,
) -> Result<Result<(), String>, StoreError> {
    let loops = &c.engine.config.loops;
    if let Some(stop) = c.tx.loop_stop(case.id)? {
        return Ok(Err(format!(
            "the case stopped relaying as a mail loop ({}); an admin resumes it with `mailcase resume {}`",
            stop.reason, case.reference
        )));
    }
    let from = since(c, case)?;
    for side in [Side::Customer, Side::Agent] {
        let n = c.tx.messages_on_case_since(case.id, side.roles(), from)?;
        if n > i64::from(loops.max_messages_per_side) {
            let why = format!(
                "{n} messages from {} within {} (loops.max_messages_per_side = {})",
                side.name(),
                window_text(c),
                loops.max_messages_per_side
            );
            trip(c, case, &why)?;
            return Ok(Err(format!(
                "the case stopped relaying as a mail loop ({why})"
            )));
        }
    }
    let hour = c.now - Duration::hours(1);
    let queued = c.tx.outbound_of_case_since(case.id, hour)?;
    if queued >= i64::from(loops.max_outbound_per_case_per_hour) {
        let why = format!(
            "{queued} mails queued on the case within an hour (loops.max_outbound_per_case_per_hour = {})",
            loops.max_outbound_per_case_per_hour
        );
        trip(c, case, &why)?;
        return Ok(Err(format!(
            "the case stopped relaying as a mail loop ({why})"
        )));
    }
    if let Some(to) = recipient {
        let n = c.tx.outbound_to_since(to, hour)?;
        if n >= i64::from(loops.max_outbound_per_address_per_hour) {
            return Ok(Err(format!(
                "per-address cap: {n} mails to this address within an hour (loops.max_outbound_per_address_per_hour = {})",
                loops.max_outbound_per_address_per_hour
            )));
        }
    }
    Ok(Ok(()))
}

/// Stops the case; the first time, audits it, logs it and tells the agents (once).
fn trip(c: &Ctx<'_, '_>, case: &CaseRow, reason: &str) -> Result<(), StoreError> {
    if !c.tx.stop_loop(case.id, reason, c.now)? {
        return Ok(());
    }
    tracing::warn!(case = %case.reference, reason, "mail loop: the case stopped relaying; `mailcase resume {}` resumes it", case.reference);
    c.tx.audit(
        Some(case.id),
        c.now,
        "system",
        "loop_stopped",
        &serde_json::json!({"reason": reason}),
    )?;
    let mut m = c.mail_ctx(case);
    m.reason = Some(reason.to_string());
    c.send_agents_ungated(
        case,
        "agent_loop_stopped",
        &c.engine.config.notify_addresses(),
        "agent_loop_stopped",
        &m,
        vec![],
    )
}

/// `<local@domain>` Message-IDs of our domain written in a text.
fn quoted_ids(text: &str, domain: &str) -> Vec<String> {
    let suffix = format!("@{}>", domain.to_ascii_lowercase());
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(i) = lower[rest..].find(&suffix) {
        let end = rest + i + suffix.len() - 1; // at '>'
        if let Some(open) = lower[..end].rfind('<') {
            let local = &text[open + 1..end - (suffix.len() - 1)];
            if !local.is_empty() && !local.contains(char::is_whitespace) && out.len() < 8 {
                out.push(format!("{local}@{}", domain.to_ascii_lowercase()));
            }
        }
        rest = end + 1;
    }
    out
}

/// The keys a new case's first message is counted under by the flood caps: the sender
/// without its `+tag`, its domain, and a key of its text with digits, case, punctuation and
/// spacing aside (`Ticket 41 opened` and `Ticket 42 opened` are one text).
pub(super) fn flood_keys(msg: &InboundMessage, sender: &str) -> (String, String, String) {
    let (local, domain) = sender.rsplit_once('@').unwrap_or((sender, ""));
    let base_local = local.split('+').next().unwrap_or(local);
    let base = format!("{base_local}@{domain}");
    let text = if msg.reply_text.trim().is_empty() {
        &msg.text
    } else {
        &msg.reply_text
    };
    let words: String = format!("{} {text}", msg.subject)
        .chars()
        .map(|ch| {
            if ch.is_alphabetic() {
                ch.to_lowercase().next().unwrap_or(ch)
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .take(60)
        .collect::<Vec<_>>()
        .join(" ");
    let hash = Sha256::digest(words.as_bytes());
    let key = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    (base, domain.to_string(), key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};

    fn msg(from: &str, subject: &str, body: &str) -> InboundMessage {
        let raw =
            format!("From: {from}\r\nSubject: {subject}\r\nMessage-ID: <x@y>\r\n\r\n{body}\r\n");
        parse(raw.as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn a_rotating_local_part_and_a_counter_in_the_text_share_flood_keys() {
        let a = msg(
            "robot+t1@x.test",
            "Ticket 41 opened",
            "We opened ticket 41 for you.",
        );
        let b = msg(
            "robot+t2@x.test",
            "Ticket 42 opened",
            "We opened ticket 42 for you.",
        );
        let ka = flood_keys(&a, "robot+t1@x.test");
        let kb = flood_keys(&b, "robot+t2@x.test");
        assert_eq!(ka, kb);
        assert_eq!(ka.0, "robot@x.test");
        assert_eq!(ka.1, "x.test");
        let other = msg("jane@x.test", "Broken order", "My order 41 arrived broken.");
        assert_ne!(flood_keys(&other, "jane@x.test").2, ka.2);
    }

    #[test]
    fn our_quoted_message_ids_are_found_and_others_are_not() {
        let text = "> Message-ID: <CMP-ABC.1x2y@Support.Test>\n> In-Reply-To: <z@customer.test>\n<broken@support.test";
        assert_eq!(
            quoted_ids(text, "support.test"),
            vec!["CMP-ABC.1x2y@support.test"]
        );
        assert!(quoted_ids("no ids here <a b@support.test>", "support.test").is_empty());
    }
}
