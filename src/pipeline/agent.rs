//! The agents' side of a case: agents answer from their own mail client through the agent
//! reply address; the commands at the top of their reply change the case, and the customer
//! gets the answer and the status updates in one thread.
//!
//! Who may do what (docs/design.md invariant 4): an agent's reply is relayed, and its commands
//! applied, only when it comes from a configured agent address *through the agent reply
//! address* (and, in the strict mode, with our server's Authentication-Results vouching for
//! it). Anything else that claims the agent role is kept as an internal note flagged
//! unverified and changes nothing. A reply with a bad command is rejected whole, and the
//! agent is told why.

use super::context::{visible, Ctx, Enclosures, Record};
use super::guards::Side;
use super::{Engine, Inbound, Outcome};
use crate::authres::{self, AuthVerdict};
use crate::case::commands::{self, Command};
use crate::case::kinds::{AuditEvent, MessageOutcome, OutboundKind, ParticipantRole};
use crate::case::service_level::ServiceLevel;
use crate::case::status::{transition, CaseEvent};
use crate::case::{Category, Priority};
use crate::config::{AgentConfig, AgentVerify};
use crate::mail;
use crate::outbox::compose::{InlineImage, OutAttachment};
use crate::parse::answer::{Answer, Relay};
use crate::parse::InboundMessage;
use crate::store::{ts, CaseChange, CaseRow, StoreError};

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

    // Only what the agent wrote now (parse::answer: quoted history, signature and remote
    // images removed): a reply that only quotes (the card, a digest with internal notes)
    // relays nothing and is rejected as empty.
    let answer = Answer::read(&item.raw, Some(&agent.name), c.engine.limits.max_text_bytes);
    let text = answer.text.clone().unwrap_or_default();
    let parsed = commands::parse(&text)
        .map_err(|es| es.iter().map(|e| e.to_string()).collect::<Vec<_>>())
        .and_then(|p| p.validate(case.status, &c.engine.config).map(|()| p));
    let p = match parsed {
        Ok(p) => p,
        Err(errors) => return rejected(c, case, msg, item, &agent, &text, errors),
    };
    // `#merge` stands alone and moves the case elsewhere: its own path (pipeline/merge.rs).
    if let Some(m) = super::merge::requested(&p) {
        return super::merge::run(c, case, msg, item, &agent, &text, &p, &m);
    }
    let cfg = &c.engine.config;
    let plan = p.plan(cfg.sla.pause_on_question);
    let (note, relay) = (plan.note, plan.relay.clone());
    // The HTML, images and files that go with the text; all of them or none.
    let enclosures = match relay
        .as_ref()
        .map(|_| answer.relay(&commands::command_lines(&text)))
    {
        Some(r) => match enclosures(&r, cfg.agents.answer_attach_limit.0, &c.engine.domain) {
            Ok(e) => Some(e),
            Err(why) => return rejected(c, case, msg, item, &agent, &text, vec![why]),
        },
        None => None,
    };
    // The case keeps what the agent wrote as the customer reads it.
    let mut stored = msg.clone();
    stored.reply_text = text.clone();
    c.store_message(
        case,
        &stored,
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

    // The commands that set a field of the case, in the order written.
    let mut current = case.clone();
    let mut raised = false;
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
            _ => {}
        }
    }

    // State changes, in the plan's fixed order: the answer itself, then the commands' events.
    let mut status = current.status;
    for &(ev, ref why) in &plan.events {
        // Explicit commands were validated; an answer on a closed case keeps it closed.
        let Ok(next) = transition(status, ev) else {
            continue;
        };
        c.set_status(&current, status, next, &from, why)?;
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

    if let Some(reason) = &plan.escalation {
        let why = match reason {
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
    let update = plan.update.or(raised.then_some("customer_priority_raised"));
    let mut m = c.mail_ctx(&current);
    m.agent_name = agent.name.clone();
    if plan.escalation.is_some() || raised {
        // A new timeline: the current priority's first-response target from now.
        mail::new_timeline(
            &mut m,
            cfg,
            &c.engine.calendar,
            current.priority.as_str(),
            c.now,
        );
    }
    m.in_answer = relay.is_some();
    if let Some(t) = update {
        mail::with_update(&c.engine.renderer, t, &mut m)
            .map_err(|e| StoreError::Data(e.to_string()))?;
    }
    let from_name = format!("{} via {}", agent.name, cfg.support.name);
    let relayed = match (&relay, enclosures) {
        (Some(text), Some((html, enclosures))) => {
            m.text = text.clone();
            m.answer_html = html;
            c.send_customer(
                &current,
                OutboundKind::AgentReply,
                from_name,
                "customer_agent_reply",
                &m,
                enclosures,
            )?
        }
        _ if update.is_some() => {
            c.send_customer(
                &current,
                OutboundKind::StatusUpdate,
                from_name,
                "customer_agent_reply",
                &m,
                Enclosures::default(),
            )?;
            false
        }
        _ => false,
    };
    Ok(Outcome::AgentReply {
        reference: case.reference.clone(),
        relayed,
    })
}

/// An agent's message too large to download (`header`: its header block): when it comes from
/// a configured agent through a case's agent reply address, the agent is told that nothing
/// of it was read, relayed or changed. Anything else gets no answer (the quarantine records
/// it).
pub(super) fn too_large(
    c: &Ctx<'_, '_>,
    header: &[u8],
    size: u64,
    max: u64,
) -> Result<(), StoreError> {
    let mut raw = header.to_vec();
    raw.extend_from_slice(b"\r\n\r\n");
    let Ok(msg) = crate::parse::parse(&raw, &c.engine.limits) else {
        return Ok(());
    };
    let cfg = &c.engine.config;
    let Some(agent) = msg.from_address().and_then(|f| cfg.agent(&f)).cloned() else {
        return Ok(());
    };
    let Some(token) = c.engine.tokens.find_in(&msg, &cfg.support.address) else {
        return Ok(());
    };
    if token.role != crate::thread::token::Role::Agent {
        return Ok(());
    }
    let Some(case) = c.tx.case_by_reference(token.reference.as_str())? else {
        return Ok(());
    };
    if c.tx.is_scrubbed(case.id)? {
        return Ok(());
    }
    let why = format!(
        "Your message of {} is larger than the {} the support mailbox accepts \
         (mailbox.max_message_size), so it was not read. Send it again with smaller files, \
         or a link to them.",
        mail::human_size(usize::try_from(size).unwrap_or(usize::MAX)),
        mail::human_size(usize::try_from(max).unwrap_or(usize::MAX)),
    );
    c.tx.audit(
        Some(case.id),
        c.now,
        &agent.address.to_lowercase(),
        AuditEvent::CommandRejected,
        &serde_json::json!({"errors": [why.clone()], "message_id": msg.message_id}),
    )?;
    let mut m = c.mail_ctx(&case);
    m.errors = vec![why];
    m.text = format!("(subject: {})", msg.subject);
    m.agent_name = agent.name.clone();
    c.send_agents(
        &case,
        OutboundKind::AgentCommandError,
        &[agent.address.to_lowercase()],
        "agent_command_error",
        &m,
        vec![],
    )
}

/// The HTML, images and files of an answer for the outgoing mail, or why the answer cannot
/// go: over `limit` bytes in total. An image whose Content-ID is not a plain token gets one of
/// ours, in the HTML too.
fn enclosures(r: &Relay, limit: u64, domain: &str) -> Result<(Option<String>, Enclosures), String> {
    let total = r.size();
    if total as u64 > limit {
        let listed: Vec<String> = r
            .inline
            .iter()
            .chain(&r.files)
            .map(|p| {
                format!(
                    "{} ({})",
                    p.meta.name.as_deref().unwrap_or("unnamed"),
                    mail::human_size(p.data.len())
                )
            })
            .collect();
        return Err(format!(
            "Your answer carries {} in files and images ({}), more than the {} a customer may be sent \
             (agents.answer_attach_limit). Send it again with smaller files, or a link to them.",
            mail::human_size(total),
            listed.join(", "),
            mail::human_size(usize::try_from(limit).unwrap_or(usize::MAX))
        ));
    }
    let mut html = r.html.clone();
    let mut inline = Vec::new();
    for (i, p) in r.inline.iter().enumerate() {
        let id = p.content_id.clone().unwrap_or_default();
        let plain = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c));
        let content_id = if plain {
            id
        } else {
            let ours = format!("image{}@{domain}", i + 1);
            html = html.map(|h| {
                h.replace(
                    &format!("cid:{}", id.replace('&', "&amp;")),
                    &format!("cid:{ours}"),
                )
            });
            ours
        };
        inline.push(InlineImage {
            content_id,
            name: p
                .meta
                .name
                .clone()
                .unwrap_or_else(|| format!("image{}", i + 1)),
            content_type: p.meta.content_type.clone(),
            data: p.data.clone(),
        });
    }
    let files = r
        .files
        .iter()
        .enumerate()
        .map(|(i, p)| OutAttachment {
            name: p
                .meta
                .name
                .clone()
                .unwrap_or_else(|| format!("attachment-{}", i + 1)),
            content_type: p.meta.content_type.clone(),
            data: p.data.clone(),
        })
        .collect();
    Ok((html, Enclosures { inline, files }))
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
pub(super) fn rejected(
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
