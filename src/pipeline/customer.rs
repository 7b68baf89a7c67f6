//! The conversation after a case is opened: agents are told about new cases and
//! every later customer message, agents answer from their own mail client through the agent
//! reply address, commands at the top of their reply change the case, and the customer gets
//! the answer and the status updates in one thread.
//!
//! Who may do what (docs/design.md invariant 4): an agent's reply is relayed, and its commands
//! applied, only when it comes from a configured agent address *through the agent reply
//! address* (and, in the strict mode, with our server's Authentication-Results vouching for
//! it). Anything else that claims the agent role is kept as an internal note flagged
//! unverified and changes nothing. Everything here runs inside the message's transaction:
//! the case change, the audit events and the outgoing mail commit together or not at all.

use chrono::{DateTime, Utc};

use super::{open_case, Engine, Link, Outcome};
use crate::authres::{self, AuthVerdict};
use crate::case::commands::{self, Command, Parsed};
use crate::case::judge::{judge, strip_sign_off, Judgement};
use crate::case::kinds::{
    Audience, AuditEvent, MessageOutcome, OutboundKind, ParticipantRole, Visibility,
};
use crate::case::service_level::ServiceLevel;
use crate::case::status::{transition, CaseEvent, Status};
use crate::case::{Category, Priority, Reference};
use crate::config::{AgentConfig, AgentVerify};
use crate::mail::{self, AttachmentInfo, HistoryLine, MailContext};
use crate::outbox::compose::{self, OutAttachment, Outgoing, Recipient};
use crate::parse::{self, InboundMessage};
use crate::store::{ts, CaseChange, CaseRow, NewMessage, NewOutbound, StoreError, Tx};
use crate::thread::subject;
use crate::thread::token::Role;

use super::guards::{Guard, Side, Verdict};
use super::Inbound;

/// At most this many Message-IDs in a References header: the root and the latest ones
/// (RFC 5322 allows trimming; clients thread on the root and the parent).
const MAX_REFERENCES: usize = 20;

/// What one message's processing needs.
pub(super) struct Ctx<'a, 't> {
    pub tx: &'a Tx<'t>,
    pub engine: &'a Engine,
    pub now: DateTime<Utc>,
}

impl<'t> Ctx<'_, 't> {
    fn prefix(&self) -> &str {
        &self.engine.config.support.reference_prefix
    }

    fn reference(&self, case: &CaseRow) -> Result<Reference, StoreError> {
        Reference::parse(&case.reference).map_err(|e| StoreError::Data(e.to_string()))
    }

    /// The values every case template sees, filled from the case.
    pub(super) fn mail_ctx(&self, case: &CaseRow) -> MailContext {
        mail::case_mail_context(&self.engine.config, &self.engine.calendar, case)
    }

    /// In-Reply-To and References continuing one side's thread of the case.
    fn threading(
        &self,
        case: &CaseRow,
        audience: Audience,
    ) -> Result<(Option<String>, Vec<String>), StoreError> {
        let ids = self.tx.thread_ids(case.id, audience)?;
        let refs = if ids.len() > MAX_REFERENCES {
            let mut v = vec![ids[0].clone()];
            v.extend_from_slice(&ids[ids.len() - (MAX_REFERENCES - 1)..]);
            v
        } else {
            ids.clone()
        };
        Ok((ids.last().cloned(), refs))
    }

    /// Queues a message to the case's customer, from the support address with Reply-To the
    /// customer's signed reply address. Returns false (audited) when it cannot be sent: the
    /// address bounced before, or lettre refuses it; the case change stands either way.
    pub fn send_customer(
        &self,
        case: &CaseRow,
        kind: OutboundKind,
        from_name: String,
        template: &str,
        mctx: &MailContext,
    ) -> Result<bool, StoreError> {
        let cfg = &self.engine.config;
        if self.tx.is_undeliverable(case.id, &case.customer_address)? {
            self.tx.audit(
                Some(case.id),
                self.now,
                "system",
                AuditEvent::NotSent,
                &serde_json::json!({"kind": kind, "reason": "the customer's address bounced before"}),
            )?;
            return Ok(false);
        }
        if !self.gate(case, Some(&case.customer_address), kind)? {
            return Ok(false);
        }
        let rendered = self
            .engine
            .renderer
            .render(template, mctx)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let reference = self.reference(case)?;
        let (in_reply_to, references) = self.threading(case, Audience::Customer)?;
        let message_id = compose::new_message_id(&case.reference, &self.engine.domain);
        let subject = subject::customer_subject(&reference, &case.subject, self.prefix());
        // Answers written by an agent are personal mail; status updates sent without text
        // are automatic (RFC 3834: auto-generated).
        let automatic = kind != OutboundKind::AgentReply;
        let built = compose::build(&Outgoing {
            from_name,
            from_address: cfg.support.address.clone(),
            to: vec![Recipient {
                name: case.customer_name.clone(),
                address: case.customer_address.clone(),
            }],
            reply_to: Some(self.engine.tokens.address(
                &cfg.support.address,
                Role::Customer,
                &reference,
            )),
            subject: subject.clone(),
            message_id: message_id.clone(),
            in_reply_to,
            references,
            auto_submitted: automatic.then_some("auto-generated"),
            text: rendered.text,
            html: Some(rendered.html),
            attachments: vec![],
            date: self.now,
        });
        let body = match built {
            Ok(b) => b,
            Err(e) => {
                self.tx.audit(
                    Some(case.id),
                    self.now,
                    "system",
                    AuditEvent::NotSent,
                    &serde_json::json!({"kind": kind, "reason": e.to_string()}),
                )?;
                return Ok(false);
            }
        };
        self.tx.enqueue(&NewOutbound {
            case_id: Some(case.id),
            kind,
            automatic,
            message_id: &message_id,
            envelope_from: &cfg.support.address,
            recipient: &case.customer_address,
            subject: &subject,
            body: &body,
            now: self.now,
            audience: Audience::Customer,
        })?;
        // Status updates are due an interval after our last public word to the customer.
        self.tx
            .update_case(case.id, &CaseChange::LastPublicAt(Some(self.now)))?;
        Ok(true)
    }

    /// The case's public and internal messages for a digest, oldest first.
    fn history_lines(&self, case: &CaseRow) -> Result<Vec<HistoryLine>, StoreError> {
        let messages = self.tx.read().messages_of_case(case.id)?;
        // The text as stored: the reply without its quoted history, else the whole text.
        Ok(mail::history(&messages, &self.engine.calendar, |m| {
            m.reply_text.clone().unwrap_or(m.body_text.clone())
        }))
    }

    /// Queues a message to agents (`to`), Reply-To the case's agent reply address, continuing
    /// the agents' thread of the case. One message to all of them, so every agent's client
    /// sees the same Message-IDs and threads it the same way.
    pub fn send_agents(
        &self,
        case: &CaseRow,
        kind: OutboundKind,
        to: &[String],
        template: &str,
        mctx: &MailContext,
        attachments: Vec<OutAttachment>,
    ) -> Result<(), StoreError> {
        if to.is_empty() {
            return Ok(());
        }
        if !self.gate(case, None, kind)? {
            return Ok(());
        }
        self.send_agents_ungated(case, kind, to, template, mctx, attachments)
    }

    /// The loop guard of this message's transaction.
    pub(super) fn guard(&self) -> Guard<'_, 't> {
        Guard {
            tx: self.tx,
            loops: &self.engine.config.loops,
            domain: &self.engine.domain,
            now: self.now,
        }
    }

    /// Asks the loop guard whether mail of `kind` may be queued on the case; when not, audits
    /// why, and when this check stopped the case, tells the agents.
    fn gate(
        &self,
        case: &CaseRow,
        recipient: Option<&str>,
        kind: OutboundKind,
    ) -> Result<bool, StoreError> {
        let why = match self.guard().may_send(case, recipient)? {
            Verdict::Send => return Ok(true),
            Verdict::Refused(why) => why,
            Verdict::Stopped(reason) => {
                self.loop_stopped(case, &reason)?;
                format!("the case stopped relaying as a mail loop ({reason})")
            }
        };
        self.tx.audit(
            Some(case.id),
            self.now,
            "system",
            AuditEvent::NotSent,
            &serde_json::json!({"kind": kind, "reason": why}),
        )?;
        Ok(false)
    }

    /// Tells the agents, once, that the loop guard stopped the case.
    pub(super) fn loop_stopped(&self, case: &CaseRow, reason: &str) -> Result<(), StoreError> {
        let mut m = self.mail_ctx(case);
        m.reason = Some(reason.to_string());
        self.send_agents_ungated(
            case,
            OutboundKind::AgentLoopStopped,
            &self.engine.config.notify_addresses(),
            "agent_loop_stopped",
            &m,
            vec![],
        )
    }

    /// [`Ctx::send_agents`] without the loop guard: for the notice that it stopped the case.
    fn send_agents_ungated(
        &self,
        case: &CaseRow,
        kind: OutboundKind,
        to: &[String],
        template: &str,
        mctx: &MailContext,
        attachments: Vec<OutAttachment>,
    ) -> Result<(), StoreError> {
        let cfg = &self.engine.config;
        if to.is_empty() {
            return Ok(());
        }
        let rendered = self
            .engine
            .renderer
            .render(template, mctx)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let reference = self.reference(case)?;
        let (in_reply_to, references) = self.threading(case, Audience::Agent)?;
        let subject = subject::agent_subject(
            &reference,
            &case.subject,
            self.prefix(),
            in_reply_to.is_none(),
        );
        let message_id = compose::new_message_id(&case.reference, &self.engine.domain);
        let recipients: Vec<Recipient> = to
            .iter()
            .map(|a| Recipient {
                name: cfg.agent(a).map(|m| m.name.clone()),
                address: a.clone(),
            })
            .collect();
        let body = compose::build(&Outgoing {
            from_name: cfg.support.name.clone(),
            from_address: cfg.support.address.clone(),
            to: recipients,
            reply_to: Some(self.engine.tokens.address(
                &cfg.support.address,
                Role::Agent,
                &reference,
            )),
            subject: subject.clone(),
            message_id: message_id.clone(),
            in_reply_to,
            references,
            auto_submitted: Some("auto-generated"),
            text: rendered.text,
            html: Some(rendered.html),
            attachments,
            date: self.now,
        })
        // Agent addresses are validated config, so this is a bug, not bad input.
        .map_err(|e| StoreError::Data(e.to_string()))?;
        self.tx.enqueue(&NewOutbound {
            case_id: Some(case.id),
            kind,
            automatic: true,
            message_id: &message_id,
            envelope_from: &cfg.support.address,
            recipient: &to.join(","),
            subject: &subject,
            body: &body,
            now: self.now,
            audience: Audience::Agent,
        })?;
        Ok(())
    }

    fn store_message(
        &self,
        case: &CaseRow,
        msg: &InboundMessage,
        item: &Inbound,
        r: Record<'_>,
    ) -> Result<i64, StoreError> {
        self.tx.insert_message(&NewMessage {
            case_id: Some(case.id),
            source: item.source.as_ref(),
            msg,
            received_at: self.now,
            robot: None,
            outcome: r.outcome,
            raw: &item.raw,
            role: Some(r.role),
            visibility: if r.internal {
                Visibility::Internal
            } else {
                Visibility::Public
            },
            verified: r.outcome != MessageOutcome::UnverifiedNote,
            note: r.note,
        })
    }

    /// Changes the status (already checked by `transition`), audits it and keeps the SLA
    /// clock right (pause, resume, re-arm).
    pub(super) fn set_status(
        &self,
        case: &CaseRow,
        from: Status,
        to: Status,
        actor: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        if from != to {
            self.tx
                .set_status(case.id, from, to, actor, reason, self.now)?;
            // The SLA bookkeeping reads the case as it is now (an earlier change in the same
            // message may have moved a deadline).
            let current = self.tx.case_by_id(case.id)?.unwrap_or_else(|| case.clone());
            super::timers::on_status_change(self, &current, from, to)?;
        } else {
            self.tx.touch_case(case.id, self.now)?;
        }
        Ok(())
    }
}

/// How an inbound message is recorded on its case.
struct Record<'a> {
    outcome: MessageOutcome,
    role: ParticipantRole,
    internal: bool,
    note: Option<&'a str>,
}

/// The customer's attachments for agents: attached up to `agents.attach_limit`, listed beyond.
fn forwarded_attachments(engine: &Engine, raw: &[u8]) -> (Vec<AttachmentInfo>, Vec<OutAttachment>) {
    let limit = usize::try_from(engine.config.agents.attach_limit.0).unwrap_or(usize::MAX);
    let mut info = Vec::new();
    let mut files = Vec::new();
    for a in parse::attachment_data(raw, limit) {
        let attached = !a.data.is_empty() || a.meta.size == 0;
        let listed = mail::attachment_info(info.len(), &a.meta, attached);
        let name = listed.name.clone();
        info.push(listed);
        if attached {
            files.push(OutAttachment {
                name,
                content_type: a.meta.content_type,
                data: a.data,
            });
        }
    }
    (info, files)
}

/// Tells the agents about a new case: the case card with the complaint and its attachments.
pub(super) fn notify_new_case(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    link: Option<Link<'_>>,
) -> Result<(), StoreError> {
    let to = c.engine.config.notify_addresses();
    if to.is_empty() {
        return Ok(());
    }
    let (attachments, files) = forwarded_attachments(c.engine, &item.raw);
    let mut m = c.mail_ctx(case);
    m.text = msg.text.clone();
    m.attachments = attachments;
    m.linked_reference = link.map(|l| l.case().reference.clone());
    m.late_reply = matches!(link, Some(Link::LateReply(_)));
    m.suspected_spam = super::spam_verdict(c.engine, msg, link).map(|s| s.to_string());
    c.send_agents(
        case,
        OutboundKind::AgentNewCase,
        &to,
        "agent_new_case",
        &m,
        files,
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
        return from_agent_side(c, case, msg, item, false);
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
    if !from.is_empty() {
        let name = msg.from.as_ref().and_then(|m| m.name.as_deref());
        c.tx.add_participant(case.id, &from, name, role, c.now)?;
    }
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
    let (attachments, files) = forwarded_attachments(c.engine, &item.raw);
    let mut m = c.mail_ctx(&current);
    m.text = visible(msg);
    m.attachments = attachments;
    m.reopened = reopened;
    m.sender = (role != ParticipantRole::Customer).then(|| from.clone());
    let mut to_agents = c.engine.config.notify_addresses();
    if let Some(a) = &current.assignee {
        if !to_agents.contains(a) {
            to_agents.push(a.clone());
        }
    }
    c.send_agents(
        &current,
        OutboundKind::AgentCustomerMessage,
        &to_agents,
        "agent_customer_message",
        &m,
        files,
    )?;
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
        let mut why = format!("the customer rated the handling {rating}/5");
        if let Some(cm) = comment {
            why.push_str(&format!(
                ": \"{}\"",
                cm.chars().take(200).collect::<String>()
            ));
        }
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
    Ok(Outcome::Joined {
        reference: case.reference.clone(),
    })
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

/// The case history for escalation digests.
pub(super) fn history(c: &Ctx<'_, '_>, case: &CaseRow) -> Result<Vec<HistoryLine>, StoreError> {
    c.history_lines(case)
}

/// The text a person wrote in this message: quoted history and signature removed, or the
/// whole text when nothing is left (a message that is only a quote is still shown).
fn visible(msg: &InboundMessage) -> String {
    msg.new_text().trim().to_string()
}

/// True when an answer ends by asking the customer something: one of its last four lines of
/// text (the question may sit above a short sign-off) ends with a question mark.
pub fn asks_a_question(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .rev()
        .take(4)
        .any(|l| l.ends_with('?') || l.ends_with('？'))
}

/// Whether the receiving server vouches for an agent's mail (strict mode only).
fn authenticated(c: &Ctx<'_, '_>, msg: &InboundMessage, from: &str) -> Result<(), String> {
    let a = &c.engine.config.agents;
    if a.verify == AgentVerify::None {
        return Ok(());
    }
    let id = a.authserv_id.as_deref().unwrap_or_default();
    let domain = from.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    match authres::verify(&msg.headers, id, domain) {
        AuthVerdict::Pass { .. } => Ok(()),
        AuthVerdict::Fail { why } => Err(format!("not authenticated by {id}: {why}")),
        AuthVerdict::Missing => Err(format!(
            "no Authentication-Results from {id}: the message did not pass through our server's checks"
        )),
    }
}

/// A message claiming the agent role: through the agent reply address (`via_token`), or a
/// configured agent writing into the customer's side of the case.
pub(super) fn from_agent_side(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    via_token: bool,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    let agent: Option<AgentConfig> = c.engine.config.agent(&from).cloned();
    let checked: Result<AgentConfig, String> = match (&agent, via_token) {
        (Some(a), true) => authenticated(c, msg, &from).map(|()| a.clone()),
        (None, _) => Err(format!(
            "{} is not a configured agent address; only agents can answer through the agent reply address",
            if from.is_empty() { "(no From address)" } else { &from }
        )),
        (Some(_), false) => Err(
            "it was sent to the customer's side of the case, not to the agent reply address; \
             to answer, reply to the case notification"
                .into(),
        ),
    };
    let agent = match checked {
        Ok(a) => a,
        Err(why) => return unverified(c, case, msg, item, &from, agent.as_ref(), &why),
    };

    // Only what the agent wrote now: a reply that only quotes (the card, a digest with
    // internal notes) relays nothing and is rejected as empty.
    let source = if msg.html_only {
        &msg.reply_text
    } else {
        &msg.text
    };
    let text = crate::parse::quoted::new_text(source).unwrap_or_default();
    let parsed = commands::parse(&text)
        .map_err(|es| es.iter().map(|e| e.to_string()).collect::<Vec<_>>())
        .and_then(|p| validate(c, case, &p).map(|()| p));
    let p = match parsed {
        Ok(p) => p,
        Err(errors) => return rejected(c, case, msg, item, &agent, &text, errors),
    };
    let note = p.has("note");
    let relay = (!note && !p.text.is_empty()).then(|| p.text.clone());
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: if note {
                MessageOutcome::AgentNote
            } else {
                MessageOutcome::AgentReply
            },
            role: ParticipantRole::Agent,
            internal: note,
            note: None,
        },
    )?;
    c.tx.add_participant(
        case.id,
        &from,
        Some(&agent.name),
        ParticipantRole::Agent,
        c.now,
    )?;
    c.tx.audit(
        Some(case.id),
        c.now,
        &from,
        if note {
            AuditEvent::InternalNote
        } else {
            AuditEvent::AgentAnswer
        },
        &serde_json::json!({
            "message_id": msg.message_id,
            "commands": p.commands.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "relayed": relay.is_some(),
        }),
    )?;
    if let Some(reason) = c.guard().after_inbound(case, Side::Agent, msg)? {
        c.loop_stopped(case, &reason)?;
    }

    let cfg = &c.engine.config;
    let mut current = case.clone();
    let mut raised = false;
    let mut reason = None;
    for cmd in &p.commands {
        match cmd {
            Command::Priority(n) if current.priority != n.as_str() => {
                raised = rank(c.engine, n) < rank(c.engine, current.priority.as_str());
                let priority = Priority::new(n.as_str());
                c.tx.update_case_audited(
                    case.id,
                    &CaseChange::Priority(priority.clone()),
                    &from,
                    c.now,
                )?;
                current.priority = priority;
                let level = ServiceLevel::of(cfg, &c.engine.calendar, n);
                if current.first_response_at.is_none() {
                    if let Some(due) = level.map(|l| l.first_response_due(c.now)) {
                        if current.first_response_due.is_none_or(|o| due < o) {
                            c.tx.update_case_audited(
                                case.id,
                                &CaseChange::FirstResponseDue(Some(due)),
                                &from,
                                c.now,
                            )?;
                            current.first_response_due = Some(due);
                        }
                    }
                }
                if let Some(due) = level.and_then(|l| l.resolution_due(c.now)) {
                    if current.resolution_due.is_none_or(|o| due < o) {
                        c.tx.update_case(case.id, &CaseChange::ResolutionDue(Some(due)))?;
                        current.resolution_due = Some(due);
                    }
                }
            }
            Command::Category(n) if current.category != n.as_str() => {
                let category = Category::new(n.as_str());
                c.tx.update_case_audited(
                    case.id,
                    &CaseChange::Category(category.clone()),
                    &from,
                    c.now,
                )?;
                current.category = category;
            }
            Command::Assign(a) => {
                c.tx.update_case_audited(
                    case.id,
                    &CaseChange::Assignee(Some(a.clone())),
                    &from,
                    c.now,
                )?;
                current.assignee = Some(a.clone());
            }
            Command::Escalate(r) => reason = r.clone(),
            _ => {}
        }
    }

    // State changes, in a fixed order: the answer itself, then the command's event.
    let mut status = current.status;
    let mut events: Vec<(CaseEvent, &str)> = Vec::new();
    if p.has("reopen") {
        events.push((CaseEvent::Reopen, "#reopen"));
    }
    if relay.is_some() {
        events.push((CaseEvent::AgentReplied, "agent answered"));
    }
    if p.has("wait") {
        events.push((CaseEvent::WaitOnCustomer, "#wait"));
    } else if cfg.sla.pause_on_question
        && !p.has("resolve")
        && !p.has("escalate")
        && relay.as_deref().is_some_and(asks_a_question)
    {
        events.push((
            CaseEvent::WaitOnCustomer,
            "the agent asked the customer a question",
        ));
    }
    if p.has("escalate") {
        events.push((CaseEvent::Escalate, "#escalate"));
    }
    if p.has("resolve") {
        events.push((CaseEvent::Resolve, "#resolve"));
    }
    for (ev, why) in events {
        // Explicit commands were validated; an answer on a closed case keeps it closed.
        let Ok(next) = transition(status, ev) else {
            continue;
        };
        let why = match (ev, &reason) {
            (CaseEvent::Escalate, Some(r)) => format!("#escalate: {r}"),
            _ => why.to_string(),
        };
        c.set_status(&current, status, next, &from, &why)?;
        if ev == CaseEvent::Resolve {
            c.tx.set_resolved(case.id, true, c.now)?;
        }
        if ev == CaseEvent::Reopen {
            c.tx.set_resolved(case.id, false, c.now)?;
        }
        status = next;
    }
    current.status = status;
    if relay.is_some() {
        c.tx.set_first_response(case.id, c.now)?;
        if current.first_response_at.is_none() {
            c.tx.audit(
                Some(case.id),
                c.now,
                &from,
                AuditEvent::FirstResponse,
                &serde_json::json!({"due": current.first_response_due.map(ts)}),
            )?;
        }
    }

    if p.has("escalate") {
        let why = match &reason {
            Some(r) => format!("escalated by {}: {r}", agent.name),
            None => format!("escalated by {}", agent.name),
        };
        let now_case = c.tx.case_by_id(case.id)?.unwrap_or_else(|| current.clone());
        super::timers::notify_escalation(c, &now_case, &why)?;
    }
    super::timers::sync(c, case.id)?;
    if note {
        return Ok(Outcome::AgentNote {
            reference: case.reference.clone(),
        });
    }
    // What the customer is told: the answer, with a status update when the state changed in
    // a way they care about.
    let update = if p.has("resolve") {
        Some("customer_resolved")
    } else if p.has("escalate") {
        Some("customer_escalated")
    } else if raised {
        Some("customer_priority_raised")
    } else {
        None
    };
    let mut m = c.mail_ctx(&current);
    m.agent_name = agent.name.clone();
    if p.has("escalate") || raised {
        // A new timeline: the current priority's first-response target from now.
        mail::new_timeline(
            &mut m,
            cfg,
            &c.engine.calendar,
            current.priority.as_str(),
            c.now,
        );
    }
    if let Some(t) = update {
        mail::with_update(&c.engine.renderer, t, &mut m)
            .map_err(|e| StoreError::Data(e.to_string()))?;
    }
    let from_name = format!("{} via {}", agent.name, cfg.support.name);
    let relayed = match &relay {
        Some(text) => {
            m.text = text.clone();
            c.send_customer(
                &current,
                OutboundKind::AgentReply,
                from_name,
                "customer_agent_reply",
                &m,
            )?
        }
        None if update.is_some() => {
            c.send_customer(
                &current,
                OutboundKind::StatusUpdate,
                from_name,
                "customer_agent_reply",
                &m,
            )?;
            false
        }
        None => false,
    };
    Ok(Outcome::AgentReply {
        reference: case.reference.clone(),
        relayed,
    })
}

/// Checks a parsed reply against config and the case's state, before anything changes.
fn validate(c: &Ctx<'_, '_>, case: &CaseRow, p: &Parsed) -> Result<(), Vec<String>> {
    let cfg = &c.engine.config;
    let mut errors = Vec::new();
    for cmd in &p.commands {
        match cmd {
            Command::Priority(n) if cfg.priority(n).is_none() => errors.push(format!(
                "`#priority {n}`: no such priority; use one of {}",
                cfg.priorities
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Command::Category(n) if cfg.category(n).is_none() => errors.push(format!(
                "`#category {n}`: no such category; use one of {}",
                cfg.categories
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Command::Assign(a) if cfg.agent(a).is_none() => {
                errors.push(format!("`#assign {a}`: not a configured agent address"))
            }
            _ => {}
        }
    }
    // Simulate the state changes so a command that makes no sense (resolving a resolved
    // case) is caught before anything is written.
    {
        let mut s = case.status;
        for (name, ev) in [
            ("reopen", CaseEvent::Reopen),
            ("wait", CaseEvent::WaitOnCustomer),
            ("escalate", CaseEvent::Escalate),
            ("resolve", CaseEvent::Resolve),
        ] {
            if p.has(name) {
                match transition(s, ev) {
                    Ok(n) => s = n,
                    Err(_) => {
                        errors.push(format!("`#{name}`: the case is {s}, so it cannot be done"))
                    }
                }
            }
        }
    }
    if p.commands.is_empty() && p.text.is_empty() {
        errors.push("the reply is empty once the quoted text is removed: nothing to send".into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Position of a priority in config (0 = most urgent).
fn rank(engine: &Engine, name: &str) -> usize {
    engine
        .config
        .priorities
        .iter()
        .position(|p| p.name == name)
        .unwrap_or(usize::MAX)
}

/// An agent's reply with bad commands: recorded, nothing else changes, the agent is told.
fn rejected(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
    text: &str,
    errors: Vec<String>,
) -> Result<Outcome, StoreError> {
    let note = format!("not relayed: {}", errors.join("; "));
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::CommandRejected,
            role: ParticipantRole::Agent,
            internal: true,
            note: Some(&note),
        },
    )?;
    c.tx.audit(
        Some(case.id),
        c.now,
        &agent.address.to_lowercase(),
        AuditEvent::CommandRejected,
        &serde_json::json!({"errors": errors}),
    )?;
    let mut m = c.mail_ctx(case);
    m.errors = errors;
    m.text = text.to_string();
    m.agent_name = agent.name.clone();
    c.send_agents(
        case,
        OutboundKind::AgentCommandError,
        &[agent.address.to_lowercase()],
        "agent_command_error",
        &m,
        vec![],
    )?;
    Ok(Outcome::CommandRejected {
        reference: case.reference.clone(),
    })
}

/// A message claiming the agent role that failed its checks: an internal note flagged
/// unverified, no state change. A configured agent (the real one, whatever the From header
/// says) is told why; a stranger is not answered.
fn unverified(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    from: &str,
    agent: Option<&AgentConfig>,
    why: &str,
) -> Result<Outcome, StoreError> {
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome: MessageOutcome::UnverifiedNote,
            role: ParticipantRole::Agent,
            internal: true,
            note: Some(why),
        },
    )?;
    c.tx.audit(
        Some(case.id),
        c.now,
        if from.is_empty() { "unknown" } else { from },
        AuditEvent::UnverifiedNote,
        &serde_json::json!({"reason": why}),
    )?;
    if let Some(a) = agent {
        let mut m = c.mail_ctx(case);
        m.errors = vec![format!(
            "your message was kept as an internal note only: {why}"
        )];
        m.text = visible(msg);
        m.agent_name = a.name.clone();
        c.send_agents(
            case,
            OutboundKind::AgentCommandError,
            &[a.address.to_lowercase()],
            "agent_command_error",
            &m,
            vec![],
        )?;
    }
    Ok(Outcome::Unverified {
        reference: case.reference.clone(),
        reason: why.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_at_the_end_of_an_answer_is_recognised() {
        assert!(asks_a_question(
            "Hello,\ncould you send the order number?\n\nThanks,\nAnn"
        ));
        assert!(asks_a_question("Which browser do you use?"));
        assert!(!asks_a_question(
            "Why did this happen? A cable was cut.\nIt is fixed now.\nWe are sorry about it.\nBest wishes,\nAnn"
        ));
        assert!(!asks_a_question("It is fixed."));
    }
}
