//! The people on a case besides the customer and the agents: colleagues a customer's message
//! is also addressed to (its To and Cc), and whoever an agent adds with `#cc add`.
//!
//! Who may join: a valid address that is not ours (the support address, its aliases, any
//! `+tag` of them), not an agent, not an escalation contact and not the case's customer. From a
//! message's Cc at most `conversation.max_participants` join a case (the rest are named to the
//! agents); an agent's `#cc add` is not capped. Somebody an agent removed stays off: a later
//! Cc does not bring them back, only `#cc add` does.
//!
//! What they get: the agents' answers, the status notices and the escalation notice, in Cc of
//! the mail to the customer. The acknowledgment, the follow-up question and the feedback
//! request go to the customer alone, and only the customer's word confirms, closes or rates
//! a case (docs/design.md invariant 6).

use std::str::FromStr;

use super::context::Ctx;
use crate::case::kinds::{AuditEvent, OutboundKind, ParticipantRole};
use crate::classify::robot::is_own;
use crate::parse::{InboundMessage, Mailbox};
use crate::store::{CaseRow, Person, StoreError};

/// What a message's To and Cc did to the case's people, for the agents' notification.
#[derive(Debug, Default)]
pub(super) struct Joined {
    /// People left out by `conversation.max_participants`.
    pub over_cap: Vec<String>,
}

impl Joined {
    /// The people left out, for the agents: the first ten and how many more.
    pub fn skipped(&self) -> Vec<String> {
        let mut v: Vec<String> = self.over_cap.iter().take(10).cloned().collect();
        if self.over_cap.len() > 10 {
            v.push(format!("and {} more", self.over_cap.len() - 10));
        }
        v
    }
}

/// Whether customer mail of this kind also goes to the participants (in Cc).
pub(super) fn copied(kind: OutboundKind) -> bool {
    matches!(
        kind,
        OutboundKind::AgentReply | OutboundKind::StatusUpdate | OutboundKind::EscalationNotice
    )
}

/// Why `address` cannot be a participant of `case`, or None when it can.
pub(super) fn refusal(c: &Ctx<'_, '_>, case: &CaseRow, address: &str) -> Option<&'static str> {
    let cfg = &c.engine.config;
    if !valid(address) {
        return Some("not a valid e-mail address");
    }
    if is_own(&c.engine.own, address) {
        return Some("one of our own addresses");
    }
    if cfg.agent(address).is_some() {
        return Some("an agent: agents see the case through its notifications");
    }
    if cfg.is_escalation_contact(address) {
        return Some("an escalation contact: they get the case when it is escalated");
    }
    if address == case.customer_address {
        return Some("the case's customer");
    }
    None
}

/// A plain address lettre accepts, at most 254 bytes.
fn valid(address: &str) -> bool {
    address.len() <= 254 && lettre::Address::from_str(address).is_ok()
}

/// Adds the people a customer-side message is also addressed to (To and Cc), within the cap.
pub(super) fn from_message(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
) -> Result<Joined, StoreError> {
    let mut joined = Joined::default();
    let conv = &c.engine.config.conversation;
    if !conv.cc_participants {
        return Ok(joined);
    }
    let sender = msg.from_address().unwrap_or_default();
    // Most mail is addressed to us alone: the case's people are read only when someone
    // else was addressed too.
    let own = &c.engine.own;
    if msg
        .to
        .iter()
        .chain(&msg.cc)
        .all(|m| is_own(own, &m.address) || m.normalized() == sender)
    {
        return Ok(joined);
    }
    let people = c.tx.people(case.id)?;
    let mut on_case = people
        .iter()
        .filter(|p| p.role == ParticipantRole::Cc && !p.removed)
        .count();
    let mut seen: Vec<String> = Vec::new();
    for m in msg.to.iter().chain(&msg.cc) {
        let address = m.normalized();
        if address == sender || seen.contains(&address) {
            continue;
        }
        seen.push(address.clone());
        if people.iter().any(|p| p.address == address) || refusal(c, case, &address).is_some() {
            continue;
        }
        if on_case >= conv.max_participants {
            joined.over_cap.push(shown(m));
            continue;
        }
        if c.tx.put_participant(
            case.id,
            &address,
            m.name.as_deref(),
            ParticipantRole::Cc,
            false,
            c.now,
        )? {
            c.tx.audit(
                Some(case.id),
                c.now,
                if sender.is_empty() { "system" } else { &sender },
                AuditEvent::ParticipantAdded,
                &serde_json::json!({"address": address, "by": "cc"}),
            )?;
            on_case += 1;
        }
    }
    if !joined.over_cap.is_empty() {
        tracing::warn!(
            case = %case.reference,
            left_out = joined.over_cap.len(),
            max = conv.max_participants,
            "more people in Cc than conversation.max_participants: the rest were not added"
        );
        c.tx.audit(
            Some(case.id),
            c.now,
            "system",
            AuditEvent::ParticipantsOverCap,
            &serde_json::json!({
                "count": joined.over_cap.len(),
                "max_participants": conv.max_participants,
                "first": joined.over_cap.iter().take(20).collect::<Vec<_>>(),
            }),
        )?;
    }
    Ok(joined)
}

/// The people customer mail of a case goes to in Cc: participants on the customer's side,
/// neither removed nor undeliverable.
pub(super) fn cc_of(people: &[Person]) -> Vec<&Person> {
    people
        .iter()
        .filter(|p| p.role == ParticipantRole::Cc && !p.removed && !p.undeliverable)
        .collect()
}

/// "Name <address>", or the address alone.
fn shown(m: &Mailbox) -> String {
    match m.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} <{}>", m.normalized()),
        None => m.normalized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_addresses_and_their_tags_are_ours() {
        let own = vec!["support@shop.test".to_string(), "billing@shop.test".into()];
        assert!(is_own(&own, "Support@Shop.test"));
        assert!(is_own(&own, "support+c.cmp-7kq4x-v.abc@shop.test"));
        assert!(is_own(&own, "billing+x@shop.test"));
        assert!(!is_own(&own, "support@other.test"));
        assert!(!is_own(&own, "jane@shop.test"));
    }

    #[test]
    fn answers_and_notices_are_copied_and_the_acknowledgment_follow_up_and_rating_request_are_not()
    {
        use OutboundKind as K;
        for k in [K::AgentReply, K::StatusUpdate, K::EscalationNotice] {
            assert!(copied(k), "{k}");
        }
        for k in [K::Ack, K::FollowUp, K::FeedbackRequest] {
            assert!(!copied(k), "{k}");
        }
    }

    #[test]
    fn only_plain_addresses_are_valid() {
        assert!(valid("jane@customer.test"));
        assert!(!valid("jane"));
        assert!(!valid("jane doe@customer.test"));
        assert!(!valid(&format!("{}@customer.test", "a".repeat(300))));
    }
}
