//! Audit events in words, for `mailcase case REF`: the details the pipeline stores as JSON
//! (`{"from":"normal","to":"high"}`) read as text (`normal → high`). `--json` keeps the
//! stored details as they are.

use serde_json::Value;

use crate::case::kinds::AuditEvent;
use crate::store::parse_ts;

/// A stored detail value as text: times as `2026-11-23 10:00:05 UTC`, lists joined, nothing
/// as `-`.
fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => match parse_ts(s) {
            Some(t) => format!("{} UTC", super::short_utc(&t)),
            None => s.clone(),
        },
        Some(Value::Array(a)) if a.is_empty() => "-".into(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| text(Some(x)))
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, x)| format!("{} {}", k.replace('_', " "), text(Some(x))))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

/// The words of one event's detail, and the keys they used: whatever else the detail holds
/// (written by a later version, or not listed here) is still shown, at the end, rather than
/// dropped.
struct Words<'a> {
    d: &'a Value,
    used: Vec<&'static str>,
    parts: Vec<String>,
}

impl<'a> Words<'a> {
    fn of(d: &'a Value) -> Words<'a> {
        Words {
            d,
            used: Vec::new(),
            parts: Vec::new(),
        }
    }

    /// `label value` for each key present (and not null); an empty label shows the value
    /// alone.
    fn fields(mut self, keys: &[(&'static str, &str)]) -> Self {
        for (k, label) in keys {
            self.used.push(k);
            if self.d.get(*k).is_none_or(Value::is_null) {
                continue;
            }
            let v = text(self.d.get(*k));
            self.parts.push(if label.is_empty() {
                v
            } else {
                format!("{label} {v}")
            });
        }
        self
    }

    /// `words`, made from the keys `keys` (nothing when empty).
    fn words(mut self, keys: &[&'static str], words: String) -> Self {
        self.used.extend(keys);
        if !words.is_empty() {
            self.parts.push(words);
        }
        self
    }

    /// The parts, then the keys no part used, joined with `; `.
    fn done(mut self) -> String {
        if let Some(o) = self.d.as_object() {
            let used = &self.used;
            self.parts.extend(
                o.iter()
                    .filter(|(k, v)| !used.contains(&k.as_str()) && !v.is_null())
                    .map(|(k, v)| format!("{} {}", k.replace('_', " "), text(Some(v)))),
            );
        } else if !self.d.is_null() {
            self.parts.push(text(Some(self.d)));
        }
        self.parts.join("; ")
    }
}

/// The words of an event's detail (may be empty: a purged case keeps no details).
pub fn describe(event: AuditEvent, d: &Value) -> String {
    use AuditEvent as E;
    let w = Words::of(d);
    match event {
        E::Status
        | E::Priority
        | E::Category
        | E::Assignee
        | E::Language
        | E::Queue
        | E::FirstResponseDue
        | E::ResolutionDue
        | E::SlaPausedAt
        | E::LastPublicAt
        | E::FollowUpSentAt
        | E::FeedbackSentAt
        | E::ClosedAt => w
            .words(
                &["from", "to"],
                if d.get("from").is_none() && d.get("to").is_none() {
                    String::new()
                } else {
                    format!("{} → {}", text(d.get("from")), text(d.get("to")))
                },
            )
            .fields(&[("reason", "")]),
        E::CaseOpened => w.fields(&[
            ("reference", ""),
            ("category", "category"),
            ("priority", "priority"),
            ("matched_rules", "matched rules"),
            ("first_response_due", "first response due"),
            ("linked_case_id", "linked to case id"),
            ("channel", "channel"),
            ("logged_by", "logged by"),
        ]),
        E::AgentAnswer | E::InternalNote => w
            .words(
                &["relayed"],
                match d.get("relayed").and_then(Value::as_bool) {
                    Some(true) => "relayed to the customer".into(),
                    Some(false) => "not relayed".into(),
                    None => String::new(),
                },
            )
            .words(
                &["commands"],
                match d.get("commands").and_then(Value::as_array) {
                    Some(c) if !c.is_empty() => format!(
                        "commands {}",
                        c.iter()
                            .filter_map(Value::as_str)
                            .map(|c| format!("#{c}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    _ => String::new(),
                },
            )
            .fields(&[("message_id", "message")]),
        E::FirstResponse => w.fields(&[("due", "due")]),
        E::Rated => w
            .words(
                &["rating"],
                d.get("rating")
                    .map(|r| format!("{}/5", text(Some(r))))
                    .unwrap_or_default(),
            )
            .words(
                &["comment"],
                d.get("comment")
                    .and_then(Value::as_str)
                    .map(|c| format!("\"{c}\""))
                    .unwrap_or_default(),
            ),
        E::EscalationNotified => w.fields(&[("to", "escalation contacts"), ("reason", "")]),
        // The resolution first: the actor the timeline prints after the words is who
        // reopened the case, not who resolved it.
        E::Reopened => w
            .fields(&[("resolved_at", "resolved")])
            .fields(&[("by", "then reopened by")]),
        E::SlaResumed => w.fields(&[("paused_at", "paused since")]),
        E::NotSent => w.fields(&[("kind", ""), ("reason", "")]),
        E::OutboundFailed => {
            w.fields(&[("kind", ""), ("message_id", "message"), ("error", "error")])
        }
        E::AddressUndeliverable => w.fields(&[("address", ""), ("reason", "")]),
        E::CommandRejected => w.fields(&[("errors", "")]),
        E::SuspectedSpam => w.fields(&[("reasons", ""), ("action", "action")]),
        E::DigestQueued => w.fields(&[
            ("slot", "slot"),
            ("to", "to"),
            ("from", "period from"),
            ("until", "until"),
        ]),
        E::LoopResumed => w.fields(&[
            ("stopped_at", "stopped"),
            ("reason", ""),
            ("held_agent_answers", "held agent answers"),
        ]),
        E::Purged | E::Erased => w.fields(&[
            ("messages", "messages"),
            ("outbound", "mails"),
            ("participants", "participants"),
        ]),
        E::ParticipantAdded | E::ParticipantRemoved => {
            w.fields(&[("address", ""), ("name", ""), ("by", "by")])
        }
        E::ParticipantsOverCap => w.fields(&[
            ("count", "people in Cc left out"),
            ("max_participants", "max_participants"),
        ]),
        E::AnswerHeld | E::AnswerReleased | E::NothingChanged => {
            w.fields(&[("reason", ""), ("message_id", "message")])
        }
        E::MergedInto | E::MergedFrom => w
            .fields(&[
                ("into", "merged into"),
                ("from", "merged from"),
                ("messages", "messages moved"),
                ("participants", "participants moved"),
            ])
            .words(
                &["two_customers", "confirmed"],
                if d.get("two_customers").and_then(Value::as_bool) == Some(true) {
                    "two customers, confirmed".into()
                } else {
                    String::new()
                },
            ),
        E::MessageJoined
        | E::FloodJoined
        | E::ClosingRefused
        | E::FeedbackIgnored
        | E::DuplicateIgnored
        | E::MessageIdCollision
        | E::OurMessageIdQuoted
        | E::RobotRecorded
        | E::Quarantined
        | E::LoopStopped
        | E::FloodSummary
        | E::AckSuppressed
        | E::UnverifiedNote
        | E::LegalHold
        | E::LegalHoldReleased
        | E::DataExport
        | E::IntakeRefused
        | E::Erasure => w.fields(&[
            ("kind", ""),
            ("role", "role"),
            ("side", "from the"),
            ("subject", "subject"),
            ("reason", ""),
            ("message_id", "message"),
        ]),
    }
    .done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A detail as the pipeline writes it for each event (the shapes of the `audit` calls).
    fn sample(e: AuditEvent) -> Value {
        use AuditEvent as E;
        match e {
            E::Status => {
                json!({"from": "new", "to": "acknowledged", "reason": "acknowledgment queued"})
            }
            E::Priority => json!({"from": "normal", "to": "high"}),
            E::Category => json!({"from": "general", "to": "billing"}),
            E::Assignee => json!({"from": null, "to": "ann@support.test"}),
            E::Language => json!({"from": "en", "to": "de"}),
            E::Queue => json!({"from": "support", "to": "billing"}),
            E::FirstResponseDue
            | E::ResolutionDue
            | E::SlaPausedAt
            | E::LastPublicAt
            | E::FollowUpSentAt
            | E::FeedbackSentAt
            | E::ClosedAt => {
                json!({"from": "2026-11-23T10:00:00.000000Z", "to": null})
            }
            E::CaseOpened => {
                json!({"reference": "CMP-7KQ4X-V", "category": "billing", "priority": "normal",
                "matched_rules": ["invoice"], "first_response_due": "2026-11-23T17:00:00.000000Z", "linked_case_id": null})
            }
            E::AgentAnswer | E::InternalNote => {
                json!({"message_id": "<a@b>", "commands": ["resolve"], "relayed": true})
            }
            E::FirstResponse => json!({"due": "2026-11-23T17:00:00.000000Z"}),
            E::Rated => json!({"rating": 4, "comment": "quick"}),
            E::EscalationNotified => {
                json!({"to": ["mgr@support.test"], "reason": "first response target missed"})
            }
            E::Reopened => {
                json!({"by": "customer reply", "resolved_at": "2026-11-23T12:00:00.000000Z"})
            }
            E::SlaResumed => json!({"paused_at": "2026-11-23T12:00:00.000000Z"}),
            E::NotSent => {
                json!({"kind": "follow_up", "reason": "the customer's address bounced before"})
            }
            E::OutboundFailed => {
                json!({"kind": "ack", "message_id": "<m@x>", "error": "550 no such user"})
            }
            E::AddressUndeliverable => json!({"address": "a@b.test", "reason": "550"}),
            E::CommandRejected => json!({"errors": ["unknown command #fix"]}),
            E::SuspectedSpam => json!({"reasons": ["X-Spam-Flag: YES"], "action": "no_ack"}),
            E::DigestQueued => json!({"slot": "2026-11-30T07:00:00.000000Z", "to": ["m@x"],
                "from": "2026-11-23T00:00:00.000000Z", "until": "2026-11-30T00:00:00.000000Z"}),
            E::LoopResumed => {
                json!({"stopped_at": "2026-11-23T12:00:00.000000Z", "reason": "loop", "held_agent_answers": 2})
            }
            E::Purged | E::Erased => json!({"messages": 3, "outbound": 2, "participants": 1}),
            E::MessageJoined => json!({"message_id": "<a@b>", "subject": "Re: x", "role": "cc"}),
            E::FloodJoined => json!({"message_id": "<a@b>", "subject": "x", "reason": "flood"}),
            E::ClosingRefused => {
                json!({"message_id": "<a@b>", "reason": "only the customer closes"})
            }
            E::FeedbackIgnored => json!({"message_id": "<a@b>", "reason": "forged link"}),
            E::IntakeRefused => {
                json!({"message_id": "<a@b>", "subject": "Fwd: x", "reason": "no forward"})
            }
            E::DuplicateIgnored => json!({"message_id": "<a@b>", "uid": 7}),
            E::MessageIdCollision => {
                json!({"message_id": "<a@b>", "fingerprint": "ab12", "uid": 8})
            }
            E::OurMessageIdQuoted => json!({"message_id": "<a@b>", "side": "customer"}),
            E::RobotRecorded => json!({"kind": "auto_reply", "reason": "Auto-Submitted"}),
            E::Quarantined => json!({"uid": 9, "reason": "too big", "size": 12345}),
            E::LoopStopped
            | E::FloodSummary
            | E::AckSuppressed
            | E::UnverifiedNote
            | E::LegalHold => {
                json!({"reason": "because"})
            }
            E::LegalHoldReleased => json!({}),
            E::ParticipantAdded | E::ParticipantRemoved => {
                json!({"address": "max@customer.test", "by": "cc"})
            }
            E::ParticipantsOverCap => {
                json!({"count": 490, "max_participants": 10, "first": ["a@b.test"]})
            }
            E::AnswerHeld | E::AnswerReleased | E::NothingChanged => {
                json!({"reason": "the customer wrote since", "message_id": "<a@b>"})
            }
            E::MergedInto => {
                json!({"into": "CMP-7KQ4X-V", "messages": 2, "participants": 1, "two_customers": false, "confirmed": false})
            }
            E::MergedFrom => {
                json!({"from": "CMP-0A1B2-F", "messages": 2, "participants": 1, "two_customers": true, "confirmed": true})
            }
            E::DataExport => json!({"cases": 2, "messages": 5, "fingerprint": "ab"}),
            E::Erasure => {
                json!({"cases": 1, "cases_closed": 0, "messages": 3, "participant_entries": 0,
                "swept": {"values_redacted": 1, "blobs_dropped": 0}, "fingerprint": "ab"})
            }
        }
    }

    #[test]
    fn every_audit_event_reads_as_text_not_json() {
        for &e in AuditEvent::ALL {
            let d = sample(e);
            let s = describe(e, &d);
            assert!(
                !s.contains(['{', '}', '[', ']', '"']) || e == AuditEvent::Rated,
                "{e}: {s}"
            );
            if !d.as_object().is_some_and(|o| o.is_empty()) {
                assert!(!s.is_empty(), "{e} says nothing of {d}");
            }
        }
        assert_eq!(
            describe(
                AuditEvent::Priority,
                &json!({"from": "normal", "to": "high"})
            ),
            "normal → high"
        );
        assert_eq!(
            describe(
                AuditEvent::FirstResponseDue,
                &json!({"from": "2026-11-23T10:00:00.000000Z", "to": null})
            ),
            "2026-11-23 10:00:00 UTC → -"
        );
        assert_eq!(
            describe(AuditEvent::Rated, &json!({"rating": 4, "comment": "quick"})),
            "4/5; \"quick\""
        );
        assert_eq!(
            describe(
                AuditEvent::Quarantined,
                &json!({"uid": 9, "reason": "too big", "size": 12345})
            ),
            "too big; size 12345; uid 9"
        );
        // A purged case keeps no details: nothing to say, and no `{}`.
        assert_eq!(
            describe(
                AuditEvent::Reopened,
                &json!({"by": "customer reply", "resolved_at": "2026-11-23T12:00:00.000000Z"})
            ),
            "resolved 2026-11-23 12:00:00 UTC; then reopened by customer reply"
        );
        assert_eq!(describe(AuditEvent::Rated, &json!({})), "");
        assert_eq!(describe(AuditEvent::CaseOpened, &json!({})), "");
    }
}
