//! The mail context of one message's processing ([`Ctx`]): the transaction, the engine and
//! the time, and what every side of the conversation does with them: queue mail to the
//! customer or the agents (threaded, through the loop guard), record an inbound message, change
//! the status with its SLA bookkeeping, and read the case's history. Everything here runs
//! inside the message's transaction: the case change, the audit events and the outgoing mail
//! commit together or not at all.

use chrono::{DateTime, Utc};

use super::guards::{Guard, Verdict};
use super::{Engine, Inbound};
use crate::case::kinds::{
    Audience, AuditEvent, MessageOutcome, OutboundKind, ParticipantRole, Visibility,
};
use crate::case::status::Status;
use crate::case::Reference;
use crate::mail::{self, AttachmentInfo, HistoryLine, MailContext};
use crate::outbox::compose::{self, InlineImage, OutAttachment, Outgoing, Recipient};
use crate::parse::{self, InboundMessage};
use crate::store::{CaseChange, CaseRow, NewMessage, NewOutbound, StoreError, Tx};
use crate::thread::subject;
use crate::thread::token::Role;

/// At most this many Message-IDs in a References header: the root and the latest ones
/// (RFC 5322 allows trimming; clients thread on the root and the parent).
const MAX_REFERENCES: usize = 20;

/// What an answer to a customer carries besides its text: the images its HTML shows and the
/// files attached to it (an agent's answer; other mail has none).
#[derive(Debug, Default)]
pub(super) struct Enclosures {
    pub inline: Vec<InlineImage>,
    pub files: Vec<OutAttachment>,
}

/// What one message's processing needs.
pub(super) struct Ctx<'a, 't> {
    pub tx: &'a Tx<'t>,
    /// The engine of the case's queue.
    pub engine: &'a Engine,
    /// The daemon's engine, which knows every queue's.
    pub root: &'a Engine,
    pub now: DateTime<Utc>,
}

impl<'a, 't> Ctx<'a, 't> {
    /// A context on the daemon's engine (`for_case` then picks a case's queue).
    pub(super) fn new(tx: &'a Tx<'t>, root: &'a Engine, now: DateTime<Utc>) -> Self {
        Ctx {
            tx,
            engine: root,
            root,
            now,
        }
    }

    /// The same context on the engine of `case`'s queue.
    pub(super) fn for_case(&self, case: &CaseRow) -> Ctx<'a, 't> {
        Ctx {
            tx: self.tx,
            engine: self.root.for_case(case),
            root: self.root,
            now: self.now,
        }
    }
}

impl<'t> Ctx<'_, 't> {
    /// The address of ours that answers the case's customer: the one they wrote to, while it
    /// is still one of ours, else the brand's reply address.
    pub(super) fn answering_address(&self, case: &CaseRow) -> String {
        self.engine.answering_address(case.our_address.as_deref())
    }

    fn prefix(&self) -> &str {
        &self.engine.config.support.reference_prefix
    }

    fn reference(&self, case: &CaseRow) -> Result<Reference, StoreError> {
        Reference::parse(&case.reference).map_err(|e| StoreError::Data(e.to_string()))
    }

    /// The values every case template sees, filled from the case and its people, in the
    /// team's language (agents' mail).
    pub(super) fn mail_ctx(&self, case: &CaseRow) -> MailContext {
        self.ctx_in(case, self.engine.locales.team())
    }

    fn ctx_in(&self, case: &CaseRow, lang: &str) -> MailContext {
        let mut m = mail::case_mail_context(self.engine.words(), case, lang);
        // Display only: a store error here fails the writes that follow anyway.
        if let Ok(people) = self.tx.people(case.id) {
            m.participants = mail::people_listed(&people);
        }
        m
    }

    /// As [`Ctx::mail_ctx`], written in the case's language: for mail that only its
    /// customer's side gets.
    pub(super) fn customer_ctx(&self, case: &CaseRow) -> MailContext {
        self.ctx_in(case, self.engine.locales.resolve(case.language.as_deref()))
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
        enclosures: Enclosures,
    ) -> Result<bool, StoreError> {
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
        let mctx = mail::for_customer(self.engine.words(), case, mctx);
        let rendered = self
            .engine
            .renderer
            .render_in(Some(&mctx.language), template, &*mctx)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let reference = self.reference(case)?;
        let (in_reply_to, references) = self.threading(case, Audience::Customer)?;
        let message_id = compose::new_message_id(&case.reference, &self.engine.domain);
        let subject = subject::customer_subject(&reference, &case.subject, self.prefix());
        // Answers written by an agent are personal mail; status updates sent without text
        // are automatic (RFC 3834: auto-generated).
        let automatic = kind != OutboundKind::AgentReply;
        // Answers and notices go to the participants too (in Cc); the acknowledgment, the
        // follow-up and the feedback request to the customer alone.
        let cc: Vec<Recipient> = if super::participants::copied(kind) {
            let people = self.tx.people(case.id)?;
            super::participants::cc_of(&people)
                .into_iter()
                .map(|p| Recipient {
                    name: p.name.clone(),
                    address: p.address.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let cc_addresses: Vec<String> = cc.iter().map(|r| r.address.clone()).collect();
        let ours = self.answering_address(case);
        let built = compose::build_with_inline(
            &Outgoing {
                from_name,
                from_address: ours.clone(),
                to: vec![Recipient {
                    name: case.customer_name.clone(),
                    address: case.customer_address.clone(),
                }],
                cc,
                reply_to: Some(
                    self.engine
                        .tokens
                        .address(&ours, Role::Customer, &reference),
                ),
                reply_to_name: None,
                subject: subject.clone(),
                message_id: message_id.clone(),
                in_reply_to,
                references,
                auto_submitted: automatic.then_some("auto-generated"),
                text: rendered.text,
                html: Some(rendered.html),
                attachments: enclosures.files,
                date: self.now,
            },
            &enclosures.inline,
        );
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
        let id = self.tx.enqueue(&NewOutbound {
            case_id: Some(case.id),
            kind,
            automatic,
            message_id: &message_id,
            envelope_from: &ours,
            recipient: &case.customer_address,
            subject: &subject,
            body: &body,
            now: self.now,
            audience: Audience::Customer,
        })?;
        if !cc_addresses.is_empty() {
            self.tx.set_outbound_cc(id, &cc_addresses)?;
        }
        // Status updates are due an interval after our last public word to the customer.
        self.tx
            .update_case(case.id, &CaseChange::LastPublicAt(Some(self.now)))?;
        Ok(true)
    }

    /// The case's public and internal messages for a digest, oldest first.
    fn history_lines(&self, case: &CaseRow) -> Result<Vec<HistoryLine>, StoreError> {
        let messages = self.tx.read().messages_of_case(case.id)?;
        // The text as stored: the reply without its quoted history, else the whole text.
        Ok(mail::history(&messages, self.engine.words(), |m| {
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

    /// [`Ctx::send_agents`] to the escalation contacts, with Reply-To the case's managers'
    /// reply address (`m.`): their reply is theirs, not an agent's.
    pub fn send_managers(
        &self,
        case: &CaseRow,
        kind: OutboundKind,
        to: &[String],
        template: &str,
        mctx: &MailContext,
    ) -> Result<(), StoreError> {
        if to.is_empty() || !self.gate(case, None, kind)? {
            return Ok(());
        }
        self.send_staff(case, kind, to, template, mctx, vec![], Role::Manager)
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
        self.send_staff(case, kind, to, template, mctx, attachments, Role::Agent)
    }

    /// Mail in the agents' thread of the case, with Reply-To the signed address of `reply`.
    #[allow(clippy::too_many_arguments)]
    fn send_staff(
        &self,
        case: &CaseRow,
        kind: OutboundKind,
        to: &[String],
        template: &str,
        mctx: &MailContext,
        attachments: Vec<OutAttachment>,
        reply: Role,
    ) -> Result<(), StoreError> {
        let cfg = &self.engine.config;
        if to.is_empty() {
            return Ok(());
        }
        let rendered = self
            .engine
            .renderer
            .render_in(Some(self.engine.locales.team()), template, mctx)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let reference = self.reference(case)?;
        let (in_reply_to, references) = self.threading(case, Audience::Agent)?;
        let subject = subject::agent_subject(
            &reference,
            &case.subject,
            self.prefix(),
            subject::agent_label(template),
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
            from_name: agents_from_name(case, kind, &cfg.support.name),
            from_address: cfg.support.address.clone(),
            to: recipients,
            cc: vec![],
            reply_to: Some(
                self.engine
                    .tokens
                    .address(&cfg.support.address, reply, &reference),
            ),
            reply_to_name: Some(format!("{}, case {}", cfg.support.name, case.reference)),
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

    pub(super) fn store_message(
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

/// The sender's name on mail to agents: for the customer's words (the card, a later
/// message) whose case it is, so an agent's inbox list shows it ("Alice Martin via Example
/// Support"), as helpdesks do; for our own notices (a command error, a reminder, a stopped
/// loop) the support name, so they never pass for the customer's mail.
pub(super) fn agents_from_name(case: &CaseRow, kind: OutboundKind, support_name: &str) -> String {
    if !matches!(
        kind,
        OutboundKind::AgentNewCase | OutboundKind::AgentCustomerMessage
    ) {
        return support_name.to_string();
    }
    let who = case
        .customer_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&case.customer_address);
    format!("{who} via {support_name}")
}

/// How an inbound message is recorded on its case.
pub(super) struct Record<'a> {
    pub outcome: MessageOutcome,
    pub role: ParticipantRole,
    pub internal: bool,
    pub note: Option<&'a str>,
}

/// The customer's attachments for agents: attached up to `agents.attach_limit`, listed beyond.
pub(super) fn forwarded_attachments(
    engine: &Engine,
    raw: &[u8],
) -> (Vec<AttachmentInfo>, Vec<OutAttachment>) {
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

/// The case history for escalation digests.
pub(super) fn history(c: &Ctx<'_, '_>, case: &CaseRow) -> Result<Vec<HistoryLine>, StoreError> {
    c.history_lines(case)
}

/// The text a person wrote in this message: quoted history and signature removed, or the
/// whole text when nothing is left (a message that is only a quote is still shown).
pub(super) fn visible(msg: &InboundMessage) -> String {
    msg.new_text().trim().to_string()
}
