//! The collision guard: an agent's answer written against an older state of the case is not
//! relayed.
//!
//! The rule. An agent's reply names, in `In-Reply-To`/`References`, the mail of ours it
//! answers (the card, a later customer message, a colleague's notice...). It is *stale* when,
//! after we sent that mail, the case got something the agent had not seen when they wrote:
//!
//! - a message from the customer's side (the customer or a participant), public;
//! - an answer relayed by somebody else (another agent, a manager);
//! - a status change made by somebody else (a colleague's `#resolve`, `#wait`...). Changes
//!   the system makes (acknowledgment, SLA escalation, auto-close) and the customer's own
//!   replies, already listed as messages, are not counted twice.
//!
//! A stale answer is kept on the case (internal, `answer_held`) and the agent gets what
//! happened since with their answer; replying `#send` to that mail relays it as it was. An
//! internal note is never held, and neither is a reply that names none of our mails (no
//! basis to judge: it goes as before).

use chrono::{DateTime, Utc};

use super::context::Ctx;
use crate::case::kinds::{AuditEvent, MessageOutcome, Visibility};
use crate::mail::HistoryLine;
use crate::parse::InboundMessage;
use crate::store::{CaseRow, StoreError};

/// What happened on a case since the mail an agent answered.
pub(super) struct Since {
    /// When we sent the mail the agent answered, in the calendar's zone.
    pub answered_local: String,
    /// What happened after it, oldest first.
    pub lines: Vec<HistoryLine>,
}

/// What happened on `case` after the mail of ours that `msg` (from `agent`) answers, or None
/// when nothing did (or `msg` names none of our mails).
pub(super) fn since(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    agent: &str,
) -> Result<Option<Since>, StoreError> {
    let mut ids = msg.in_reply_to.clone();
    ids.extend(msg.references.iter().cloned());
    let Some(t0) = c.tx.agent_mail_at(case.id, &ids)? else {
        return Ok(None);
    };
    let w = c.engine.words();
    let cfg = &c.engine.config;
    let mut found: Vec<(DateTime<Utc>, HistoryLine)> = Vec::new();
    for m in c.tx.read().messages_of_case(case.id)? {
        if m.received_at <= t0 || m.robot.is_some() {
            continue;
        }
        let from = m.from_address.clone().unwrap_or_default();
        let counts = match m.role {
            Some(r) if r.is_customer_side() => m.visibility == Visibility::Public,
            Some(_) => m.outcome == MessageOutcome::AgentReply && !from.eq_ignore_ascii_case(agent),
            None => false,
        };
        if counts {
            let text = m.reply_text.clone().unwrap_or(m.body_text.clone());
            // An agent's command lines show as the status changes they made.
            let text = match m.role {
                Some(r) if !r.is_customer_side() => crate::case::commands::parse(&text)
                    .map(|p| p.text)
                    .unwrap_or(text),
                _ => text,
            };
            found.push((
                m.received_at,
                HistoryLine {
                    at: w.team_date(m.received_at),
                    // Colleagues by name, as the agents know them.
                    from: cfg.agent(&from).map_or(from.clone(), |a| a.name.clone()),
                    role: m.role.map(|r| r.as_str().to_string()).unwrap_or_default(),
                    internal: false,
                    text: text.chars().take(2000).collect(),
                },
            ));
        }
    }
    let by_staff = |actor: &str| cfg.agent(actor).is_some() || cfg.is_escalation_contact(actor);
    for a in c.tx.read().audit_of_case(Some(case.id))? {
        if a.at <= t0
            || a.event != AuditEvent::Status
            || a.actor.eq_ignore_ascii_case(agent)
            || !by_staff(&a.actor)
        {
            continue;
        }
        let d: serde_json::Value = serde_json::from_str(&a.detail).unwrap_or_default();
        let label = |v: &serde_json::Value| {
            v.as_str()
                .and_then(|s| s.parse::<crate::case::Status>().ok())
                .map_or_else(|| "?".to_string(), |s| s.agent_label().to_string())
        };
        found.push((
            a.at,
            HistoryLine {
                at: w.team_date(a.at),
                from: cfg
                    .agent(&a.actor)
                    .map_or(a.actor.clone(), |g| g.name.clone()),
                role: "status".into(),
                internal: false,
                text: format!(
                    "changed the status: {} → {}",
                    label(&d["from"]),
                    label(&d["to"])
                ),
            },
        ));
    }
    if found.is_empty() {
        return Ok(None);
    }
    found.sort_by_key(|(at, _)| *at);
    Ok(Some(Since {
        answered_local: w.team_date(t0),
        lines: found.into_iter().map(|(_, l)| l).collect(),
    }))
}
