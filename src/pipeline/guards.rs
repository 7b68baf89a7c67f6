//! Loops end (docs/design.md invariant 7), floods open no more cases.
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
//! - our own Message-IDs quoted back in the text of two messages within the window (an
//!   auto-responder echoing our headers; a person pasting them once for a deliverability
//!   question is not stopped);
//! - more than `loops.max_outbound_per_case_per_hour` mails of every kind queued on the case.
//!
//! Any of them stops the case: its messages are still stored (nothing is lost), but nothing
//! more is queued on it, to anybody, until an admin runs `mailcase resume REF`; the agents
//! are told once (the [`Verdict::Stopped`] answer: the conversation code sends the notice, so
//! this module only reads the store and decides). Separately, every mail to one customer-side address counts toward
//! `loops.max_outbound_per_address_per_hour` over all cases.
//!
//! Floods of new cases are capped in `pipeline::flood_target` by sender (its `+tag` aside),
//! by sender domain with the same text, and by sender domain; the keys come from
//! [`flood_keys`].

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::case::kinds::AuditEvent;
use crate::config::LoopsConfig;
use crate::parse::InboundMessage;
use crate::store::guards::LoopStop;
use crate::store::{CaseRow, StoreError, Tx};

/// Which side of a case wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Customer,
    Agent,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Customer => "the customer's side",
            Side::Agent => "the agents' side",
        }
    }
}

/// Whether mail may be queued on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    Send,
    /// Not now: the case was stopped before, or a per-address cap is reached.
    Refused(String),
    /// This very check stopped the case: the caller tells the agents, once.
    Stopped(String),
}

/// The guard's view of one message's transaction: what it reads and writes, and the limits.
pub(super) struct Guard<'a, 't> {
    pub tx: &'a Tx<'t>,
    pub loops: &'a LoopsConfig,
    /// The domain of our Message-IDs.
    pub domain: &'a str,
    pub now: DateTime<Utc>,
}

impl Guard<'_, '_> {
    /// The case's stop, if it is stopped, and where the guard starts counting: the window, or
    /// the admin's last resume if later.
    fn state(&self, case: &CaseRow) -> Result<(Option<LoopStop>, DateTime<Utc>), StoreError> {
        let state = self.tx.loop_state(case.id)?;
        let window = self.loops.window.chrono();
        let from = self.now - window;
        let since = match state.resumed_at {
            Some(r) if r > from => r,
            _ => from,
        };
        Ok((state.stop, since))
    }

    fn window_text(&self) -> String {
        let m = self.loops.window.0.as_secs().div_ceil(60);
        format!("{m} minute{}", if m == 1 { "" } else { "s" })
    }

    /// After a message of `side` was stored on `case`: stops the case when the message
    /// repeats a text of its side or quotes one of our Message-IDs back. Returns the reason
    /// when this message stopped it (the caller tells the agents).
    ///
    /// # Errors
    /// Store errors.
    pub fn after_inbound(
        &self,
        case: &CaseRow,
        side: Side,
        msg: &InboundMessage,
    ) -> Result<Option<String>, StoreError> {
        let (stop, from) = self.state(case)?;
        if stop.is_some() {
            return Ok(None);
        }
        let text = msg.new_text();
        if !text.trim().is_empty() {
            let same = self.tx.same_text_on_case_since(case.id, text, from)?;
            if same >= i64::from(self.loops.max_repeats) {
                let why = format!(
                    "the same text came {same} times from {} within {} (loops.max_repeats = {})",
                    side.name(),
                    self.window_text(),
                    self.loops.max_repeats
                );
                return Ok(Some(self.trip(case, why)?));
            }
        }
        // A person may paste our headers once (a deliverability complaint asks for them); an
        // auto-responder that echoes them does it with every answer: the second one stops.
        for id in quoted_ids(&msg.text, self.domain) {
            if self.tx.is_our_message_on_case(case.id, &id)? {
                self.tx.audit(
                    Some(case.id),
                    self.now,
                    "system",
                    AuditEvent::OurMessageIdQuoted,
                    &serde_json::json!({"message_id": id, "side": side.name()}),
                )?;
                let times =
                    self.tx
                        .audit_count_since(case.id, AuditEvent::OurMessageIdQuoted, from)?;
                if times >= 2 {
                    let why = format!(
                        "{times} messages from {} within {} quote the Message-IDs of mail we sent (last <{id}>): an auto-responder echoing our mail",
                        side.name(),
                        self.window_text()
                    );
                    return Ok(Some(self.trip(case, why)?));
                }
                break;
            }
        }
        Ok(None)
    }

    /// Whether mail may be queued on `case` (to `recipient` when it goes to one
    /// customer-side address): refused when the case is stopped as a loop or a per-address cap
    /// is reached; this check stops the case when its conversation runs faster than people
    /// write or too much mail was queued on it.
    ///
    /// # Errors
    /// Store errors.
    pub fn may_send(&self, case: &CaseRow, recipient: Option<&str>) -> Result<Verdict, StoreError> {
        let loops = self.loops;
        let (stop, from) = self.state(case)?;
        if let Some(stop) = stop {
            return Ok(Verdict::Refused(format!(
                "the case stopped relaying as a mail loop ({}); an admin resumes it with `mailcase resume {}`",
                stop.reason, case.reference
            )));
        }
        let (customer_side, agent_side) = self.tx.messages_by_side_since(case.id, from)?;
        for (side, n) in [(Side::Customer, customer_side), (Side::Agent, agent_side)] {
            if n > i64::from(loops.max_messages_per_side) {
                let why = format!(
                    "{n} messages from {} within {} (loops.max_messages_per_side = {})",
                    side.name(),
                    self.window_text(),
                    loops.max_messages_per_side
                );
                return Ok(Verdict::Stopped(self.trip(case, why)?));
            }
        }
        let hour = self.now - Duration::hours(1);
        let queued = self.tx.outbound_of_case_since(case.id, hour)?;
        if queued >= i64::from(loops.max_outbound_per_case_per_hour) {
            let why = format!(
                "{queued} mails queued on the case within an hour (loops.max_outbound_per_case_per_hour = {})",
                loops.max_outbound_per_case_per_hour
            );
            return Ok(Verdict::Stopped(self.trip(case, why)?));
        }
        if let Some(to) = recipient {
            let n = self.tx.outbound_to_since(to, hour)?;
            if n >= i64::from(loops.max_outbound_per_address_per_hour) {
                return Ok(Verdict::Refused(format!(
                    "per-address cap: {n} mails to this address within an hour (loops.max_outbound_per_address_per_hour = {})",
                    loops.max_outbound_per_address_per_hour
                )));
            }
        }
        Ok(Verdict::Send)
    }

    /// Stops the case (its callers saw it relaying, in this transaction), audits and logs it,
    /// and returns the reason for the agents' notice.
    fn trip(&self, case: &CaseRow, reason: String) -> Result<String, StoreError> {
        self.tx.stop_loop(case.id, &reason, self.now)?;
        tracing::warn!(case = %case.reference, reason, "mail loop: the case stopped relaying; `mailcase resume {}` resumes it", case.reference);
        self.tx.audit(
            Some(case.id),
            self.now,
            "system",
            AuditEvent::LoopStopped,
            &serde_json::json!({"reason": reason}),
        )?;
        Ok(reason)
    }
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
    let text = msg.new_text();
    // The first 60 words are enough to tell one text from another; only they are lowered
    // and hashed (a profile showed lowering whole texts at 6% of the ingest's CPU).
    let mut h = Sha256::new();
    let words = msg
        .subject
        .split(|c: char| !c.is_alphabetic())
        .chain(text.split(|c: char| !c.is_alphabetic()))
        .filter(|w| !w.is_empty())
        .take(60);
    for w in words {
        if w.is_ascii() {
            h.update(w.to_ascii_lowercase().as_bytes());
        } else {
            h.update(w.to_lowercase().as_bytes());
        }
        h.update(b" ");
    }
    let key = h
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
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
