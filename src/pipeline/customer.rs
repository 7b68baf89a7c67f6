//! The customer's side of a case: the agents are told about a new case and every later
//! message from the customer or a colleague in Cc; a reply to a resolved case reopens it,
//! confirms it (the customer's "thanks, solved" closes it) or rates it; a flood's mail joins
//! its latest case; a bounce marks an address undeliverable.
//!
//! Only the customer decides (docs/design.md invariant 6): confirming, closing and rating from
//! anybody else is stored and audited, and changes nothing.

use super::agent::from_agent_side;
use super::context::{forwarded_attachments, visible, Ctx, Record};
use super::guards::Side;
use super::participants::{self, Joined};
use super::{open_case, Inbound, Link, Outcome};
use crate::case::judge::{judge, rating_comment, strip_sign_off, Judgement};
use crate::case::kinds::{AuditEvent, MessageOutcome, OutboundKind, ParticipantRole};
use crate::case::status::{transition, CaseEvent, Status};
use crate::parse::InboundMessage;
use crate::store::{ts, CaseRow, StoreError};

/// What the card of a new case says besides the complaint, as opening the case found it.
pub(super) struct Card<'a> {
    /// The older case it is linked to, and why.
    pub link: Option<Link<'a>>,
    /// Who joined from its To and Cc, and who was left out.
    pub joined: &'a Joined,
    /// It came through an agent (forwarded or logged).
    pub via: Option<&'a super::Via<'a>>,
    /// The receiving server's spam verdict (never judged through an agent).
    pub suspected_spam: Option<String>,
}

/// Tells the agents about a new case: the case card with the complaint and its attachments.
pub(super) fn notify_new_case(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    card: Card<'_>,
) -> Result<(), StoreError> {
    let Card {
        link,
        joined,
        via,
        suspected_spam,
    } = card;
    let cfg = &c.engine.config;
    let to = cfg.notify_addresses();
    if to.is_empty() {
        return Ok(());
    }
    let (attachments, files) = forwarded_attachments(c.engine, &item.raw);
    let mut m = c.mail_ctx(case);
    if let Some(v) = via {
        m.logged_by = Some(format!("{} ({})", v.agent.name, v.channel.label()));
        m.intake_note = v.note.map(str::to_string);
    }
    m.intake_address = intake_of(c, &to);
    m.text = msg.text.clone();
    m.attachments = attachments;
    m.also_ours = also_ours(cfg, case, msg);
    m.linked_reference = link.map(|l| l.case().reference.clone());
    m.late_reply = matches!(link, Some(Link::LateReply(_)));
    m.suspected_spam = suspected_spam;
    m.participants_skipped = joined.skipped();
    c.send_agents(
        case,
        OutboundKind::AgentNewCase,
        &to,
        "agent_new_case",
        &m,
        files,
    )
}

/// The other addresses of ours `msg` was sent to (To, Cc), each with its queue: the case is
/// in one queue, and its agents should know the customer also wrote to another.
fn also_ours(cfg: &crate::config::Config, case: &CaseRow, msg: &InboundMessage) -> Vec<String> {
    if !cfg.has_queues() {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for a in msg.to.iter().chain(msg.cc.iter()) {
        let Some((queue, ours)) = cfg.queue_of(&a.address) else {
            continue;
        };
        let line = format!("{ours} (queue {queue})");
        if case.our_address.as_deref() != Some(ours) && !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// The intake address a card's footer names: when it goes to one agent alone (one message
/// to all, so that every agent's client threads the same Message-IDs).
fn intake_of(c: &Ctx<'_, '_>, to: &[String]) -> Option<String> {
    let cfg = &c.engine.config;
    match to {
        [one] if cfg.agent(one).is_some() => {
            Some(c.engine.tokens.intake_address(&cfg.support.address, one))
        }
        _ => None,
    }
}

/// The card of a case moved into this queue (`#queue`) for its agents: the complaint as
/// the customer first wrote it, and who moved it from where.
pub(super) fn notify_moved(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    from_queue: &str,
    by: &str,
) -> Result<(), StoreError> {
    let to = c.engine.config.notify_addresses();
    if to.is_empty() {
        return Ok(());
    }
    let mut m = c.mail_ctx(case);
    let first =
        c.tx.read()
            .messages_of_case(case.id)?
            .into_iter()
            .find(|m| m.role == Some(ParticipantRole::Customer));
    m.text = first.map(|f| f.body_text).unwrap_or_default();
    m.moved_from = Some(format!("queue {from_queue}, by {by}"));
    m.intake_address = intake_of(c, &to);
    // The case now answers from the new queue's address, which the customer did not write to.
    m.written_to.clear();
    c.send_agents(
        case,
        OutboundKind::AgentNewCase,
        &to,
        "agent_new_case",
        &m,
        Vec::new(),
    )
}

/// A message from the customer's side of a case (customer reply address, one of our
/// Message-IDs, or the tag from a participant).
pub(super) fn from_customer_side(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    // An agent writing into the customer's thread (reply-all on a relayed answer, a reply to
    // the acknowledgment) is not answering through the agent address: never relayed.
    if c.engine.config.agent(&from).is_some() && from != case.customer_address {
        return from_agent_side(c, case, msg, item, None);
    }
    let status = case.status;
    // Who the sender is comes from From alone: Reply-To is whatever the sender wrote, so a
    // mail with the customer's From and a stranger's Reply-To neither makes the stranger the
    // customer nor registers them on the case (docs/design.md invariants 4 and 6).
    let is_customer = !from.is_empty() && from == case.customer_address;
    let mut reopened = false;
    if matches!(status, Status::Resolved | Status::Closed) {
        let f = &c.engine.config.follow_up;
        let name = msg.from.as_ref().and_then(|m| m.name.as_deref());
        let text = strip_sign_off(&visible(msg), name);
        let judged = judge(&text, &f.satisfied_phrases, &f.unsatisfied_words);
        match judged {
            // Confirming, closing and rating are the customer's alone.
            Judgement::Rating { .. } | Judgement::Satisfied if !is_customer => {
                return not_the_customers_word(c, case, msg, item);
            }
            Judgement::Rating { rating, comment }
                if case.feedback_sent_at.is_some() || case.follow_up_sent_at.is_some() =>
            {
                return record_rating(c, case, msg, item, rating, comment.as_deref());
            }
            Judgement::Satisfied => return satisfied(c, case, status, msg, item),
            _ => {}
        }
    }
    if matches!(status, Status::Resolved | Status::Closed) {
        let window = c.engine.config.conversation.reopen_window.chrono();
        if case.resolved_at.is_some_and(|t| c.now - t <= window) {
            reopened = true;
        } else {
            // Too late to reopen: a new case, linked, so the history is one step away.
            return open_case(
                c.tx,
                c.engine,
                msg,
                item,
                Some(Link::LateReply(case)),
                None,
                c.now,
            );
        }
    }
    let role = if is_customer {
        ParticipantRole::Customer
    } else {
        ParticipantRole::Cc
    };
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::Joined,
            role,
            internal: false,
            note: None,
        },
    )?;
    // The sender joins (a removed participant writing again stays removed), and so do the
    // people they addressed besides us.
    if !from.is_empty() {
        let name = msg.from.as_ref().and_then(|m| m.name.as_deref());
        c.tx.put_participant(case.id, &from, name, role, false, c.now)?;
    }
    let joined = participants::from_message(c, case, msg)?;
    let actor = if from.is_empty() {
        "customer".to_string()
    } else {
        from.clone()
    };
    c.tx.audit(
        Some(case.id),
        c.now,
        &actor,
        AuditEvent::MessageJoined,
        &serde_json::json!({"message_id": msg.message_id, "subject": msg.subject, "role": role}),
    )?;
    if let Some(reason) = c.guard().after_inbound(case, Side::Customer, msg)? {
        c.loop_stopped(case, &reason)?;
    }
    let to = transition(status, CaseEvent::CustomerReplied).unwrap_or(status);
    let reason = if reopened {
        "customer replied after resolution (reopened)"
    } else {
        "customer replied"
    };
    c.set_status(case, status, to, &actor, reason)?;
    if reopened {
        c.tx.set_resolved(case.id, false, c.now)?;
        c.tx.audit(
            Some(case.id),
            c.now,
            &actor,
            AuditEvent::Reopened,
            &serde_json::json!({"by": "customer reply", "resolved_at": case.resolved_at.map(ts)}),
        )?;
    }

    let mut current = case.clone();
    current.status = to;
    let sender = (role != ParticipantRole::Customer).then(|| from.clone());
    tell_agents(c, &current, msg, item, |m| {
        m.reopened = reopened;
        m.sender = sender;
        m.participants_skipped = joined.skipped();
    })?;
    super::timers::sync(c, case.id)?;
    Ok(if reopened {
        Outcome::Reopened {
            reference: case.reference.clone(),
        }
    } else {
        Outcome::Joined {
            reference: case.reference.clone(),
        }
    })
}

/// A click on a rating link (`support+f.<reference>.<mac>.<n>@`): the rating counts, the
/// mail's text (if the customer wrote one) is the comment.
pub(super) fn feedback_link(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    rating: u8,
) -> Result<Outcome, StoreError> {
    // The link reached the customer; a rating mailed from another address (the mail
    // forwarded, the address guessed) is not the customer's.
    if msg.from_address().as_deref() != Some(case.customer_address.as_str()) {
        return not_the_customers_word(c, case, msg, item);
    }
    let text = visible(msg);
    // The link opens an empty mail (or our subject only); anything the customer typed is
    // their comment.
    let comment = (!text.trim().is_empty()).then(|| text.trim().to_string());
    record_rating(c, case, msg, item, rating, comment.as_deref())
}

/// Stores a rating (the last one counts) and escalates a poor one.
fn record_rating(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    rating: u8,
    comment: Option<&str>,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    // The comment is the customer's words: the reply text (no quote, no `-- ` signature)
    // without the sign-off under it ("\n\nThanks, Jane").
    let name = msg.from.as_ref().and_then(|m| m.name.as_deref());
    let comment = comment.and_then(|t| rating_comment(t, name));
    let comment = comment.as_deref();
    let message_id = c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::Rating,
            role: ParticipantRole::Customer,
            internal: false,
            note: None,
        },
    )?;
    c.tx.set_rating(case.id, rating, comment, Some(message_id), c.now)?;
    c.tx.audit(
        Some(case.id),
        c.now,
        if from.is_empty() { "customer" } else { &from },
        AuditEvent::Rated,
        &serde_json::json!({"rating": rating, "comment": comment}),
    )?;
    let low = c.engine.config.feedback.escalate_at_or_below;
    if rating <= low {
        // The comment is not part of the reason: the escalation mail quotes it as a block
        // of its own (its lines would break the reason's sentence).
        let why = format!("the customer rated the handling {rating}/5");
        super::timers::notify_escalation(c, case, &why)?;
    }
    Ok(Outcome::Rated {
        reference: case.reference.clone(),
        rating,
    })
}

/// A "thanks, solved" or a rating on a resolved case from somebody other than the customer
/// (a colleague in Cc, anybody holding the reply address): kept on the case for the agents,
/// but it neither closes, rates nor reopens the case.
fn not_the_customers_word(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::Joined,
            role: ParticipantRole::Cc,
            internal: false,
            note: Some("not from the customer: does not close or rate the case"),
        },
    )?;
    c.tx.audit(
        Some(case.id),
        c.now,
        if from.is_empty() { "unknown" } else { &from },
        AuditEvent::ClosingRefused,
        &serde_json::json!({
            "message_id": msg.message_id,
            "reason": "only the customer confirms, closes or rates a case",
        }),
    )?;
    c.tx.touch_case(case.id, c.now)?;
    // The agents see it, and that it changed nothing.
    let current = c.tx.case_by_id(case.id)?.unwrap_or_else(|| case.clone());
    tell_agents(c, &current, msg, item, |m| {
        m.sender = Some(from);
        m.notice = crate::mail::notice_lines(vec![
            "Not from the case's customer, so it does not close, reopen or rate the case: only the customer confirms a resolution.".into(),
        ]);
    })?;
    Ok(Outcome::Joined {
        reference: case.reference.clone(),
    })
}

/// The agents get a customer-side message of `case` (as it is now) in their thread, with its
/// text and attachments; `fill` adds what this message did (reopened the case, closed nothing).
fn tell_agents(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    fill: impl FnOnce(&mut crate::mail::MailContext),
) -> Result<(), StoreError> {
    let (attachments, files) = forwarded_attachments(c.engine, &item.raw);
    let mut m = c.mail_ctx(case);
    m.text = visible(msg);
    m.attachments = attachments;
    fill(&mut m);
    let mut to = c.engine.config.notify_addresses();
    if let Some(a) = &case.assignee {
        if !to.contains(a) {
            to.push(a.clone());
        }
    }
    c.send_agents(
        case,
        OutboundKind::AgentCustomerMessage,
        &to,
        "agent_customer_message",
        &m,
        files,
    )
}

/// A plain "thanks, solved" to a resolved case: the customer confirmed it, so it closes.
fn satisfied(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    status: Status,
    msg: &InboundMessage,
    item: &Inbound,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::Satisfied,
            role: ParticipantRole::Customer,
            internal: false,
            note: None,
        },
    )?;
    if let Ok(to) = transition(status, CaseEvent::Close) {
        c.set_status(
            case,
            status,
            to,
            &from,
            "the customer confirmed the issue is solved",
        )?;
    }
    // A plain thanks closes the case without disturbing the agents (the timeline has it).
    super::timers::sync(c, case.id)?;
    Ok(Outcome::Joined {
        reference: case.reference.clone(),
    })
}

/// A flood's new mail: recorded on the case it joins (see `flood_target`), no
/// acknowledgment, no card of its own, no state change; with the first message held on a
/// case, the agents get one summary (`first`).
pub(super) fn flood_join(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    reason: &str,
    first: bool,
) -> Result<Outcome, StoreError> {
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::FloodJoined,
            role: ParticipantRole::Customer,
            // Internal: its Message-ID never threads anybody into the case.
            internal: true,
            note: Some("over a flood cap: joined the latest case of the flood"),
        },
    )?;
    c.tx.audit(
        Some(case.id),
        c.now,
        "system",
        AuditEvent::FloodJoined,
        &serde_json::json!({
            "message_id": msg.message_id,
            "subject": msg.subject,
            "reason": reason,
        }),
    )?;
    c.tx.touch_case(case.id, c.now)?;
    if first {
        c.tx.audit(
            Some(case.id),
            c.now,
            "system",
            AuditEvent::FloodSummary,
            &serde_json::json!({"reason": reason}),
        )?;
        tracing::warn!(case = %case.reference, reason, "flood: further mail like this joins the case, unacknowledged");
        let mut m = c.mail_ctx(case);
        m.reason = Some(reason.to_string());
        c.send_agents(
            case,
            OutboundKind::AgentFloodHeld,
            &c.engine.config.notify_addresses(),
            "agent_flood_held",
            &m,
            vec![],
        )?;
    }
    Ok(Outcome::Joined {
        reference: case.reference.clone(),
    })
}

/// A bounce says `address` cannot receive mail: audited on the case, pending mail to it is
/// dropped by the outbox, and the agents are told (called once per case and address).
pub(super) fn undeliverable(
    c: &Ctx<'_, '_>,
    case_id: i64,
    address: &str,
    reason: &str,
) -> Result<(), StoreError> {
    let Some(case) = c.tx.case_by_id(case_id)? else {
        return Ok(());
    };
    // Its queue's agents are told.
    let c = &c.for_case(&case);
    c.tx.audit(
        Some(case_id),
        c.now,
        "system",
        AuditEvent::AddressUndeliverable,
        &serde_json::json!({"address": address, "reason": reason}),
    )?;
    let mut m = c.mail_ctx(&case);
    m.sender = Some(address.to_string());
    m.reason = Some(reason.to_string());
    c.send_agents(
        &case,
        OutboundKind::AgentUndeliverable,
        &c.engine.config.notify_addresses(),
        "agent_undeliverable",
        &m,
        vec![],
    )
}
