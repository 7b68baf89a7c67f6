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
use crate::case::status::{transition, CaseEvent, Status};
use crate::case::{Category, Priority};
use crate::config::{AgentConfig, AgentVerify};
use crate::mail;
use crate::outbox::compose::{InlineImage, OutAttachment};
use crate::parse::answer::{Answer, Relay};
use crate::parse::InboundMessage;
use crate::store::{ts, CaseChange, CaseRow, StoreError};
use crate::thread::token::Role;

/// Whether the receiving server vouches for an agent's mail (strict mode only).
pub(super) fn authenticated(
    c: &Ctx<'_, '_>,
    msg: &InboundMessage,
    from: &str,
) -> Result<(), String> {
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

/// A message claiming the agents' side: through the agent reply address (`via` the agent
/// role), the managers' reply address (`via` the manager role: an escalation contact acts as
/// an agent, with the role `manager` unless they are an agent), or (`via` None) a configured
/// agent writing into the customer's side of the case.
pub(super) fn from_agent_side(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    via: Option<Role>,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    let cfg = &c.engine.config;
    let agent: Option<AgentConfig> = cfg.agent(&from).cloned();
    let contact = super::managers::identity(cfg, msg, &from);
    let who = if from.is_empty() {
        "(no From address)"
    } else {
        &from
    };
    let checked: Result<(AgentConfig, ParticipantRole), String> = match (via, &agent, &contact) {
        (Some(Role::Manager), _, Some(acting)) if cfg.agents.managers_act_by_mail => {
            authenticated(c, msg, &from).map(|()| acting.clone())
        }
        (Some(Role::Manager), _, Some(_)) => Err(
            "escalation contacts do not answer by mail here (agents.managers_act_by_mail is off); \
             contact the agents directly"
                .into(),
        ),
        (Some(Role::Manager), _, None) => Err(format!(
            "{who} is not an escalation contact; only they can answer through the managers' reply address"
        )),
        (Some(Role::Agent), Some(a), _) => {
            authenticated(c, msg, &from).map(|()| (a.clone(), ParticipantRole::Agent))
        }
        (_, None, _) => Err(format!(
            "{who} is not a configured agent address; only agents can answer through the agent reply address"
        )),
        (_, Some(_), _) => Err(
            "it was sent to the customer's side of the case, not to the agent reply address; \
             to answer, reply to the case notification"
                .into(),
        ),
    };
    // Who acts; their role (agent or manager) is read again from the config where it is
    // recorded (`managers::role_of`).
    let (agent, _role) = match checked {
        Ok(a) => a,
        Err(why) => {
            // Through the managers' address, a real contact is told why too.
            let contact = contact.filter(|_| via == Some(Role::Manager)).map(|c| c.0);
            let told = agent.or(contact);
            return unverified(c, case, msg, item, &from, told.as_ref(), &why);
        }
    };
    // People the agent addressed themselves got the raw mail from their client.
    cc_warning(c, case, msg, &agent)?;

    // Only what the agent wrote now (parse::answer: quoted history, signature and remote
    // images removed): a reply that only quotes (the card, a digest with internal notes)
    // relays nothing and is rejected as empty.
    let answer = Answer::read(&item.raw, Some(&agent.name), c.engine.limits.max_text_bytes);
    let text = answer.text.clone().unwrap_or_default();
    let p = match commands::parse(&text) {
        Ok(p) => p,
        Err(es) => {
            let errors = es.iter().map(|e| e.to_string()).collect();
            return rejected(c, case, msg, item, &agent, &text, errors);
        }
    };
    // `#merge` stands alone and moves the case elsewhere: its own path (pipeline/merge.rs).
    if let Some(m) = super::merge::requested(&p) {
        return super::merge::run(c, case, msg, item, &agent, &text, &p, &m);
    }
    if p.has("send") {
        if let Err(errors) = p.validate(case.status, &c.engine.config) {
            return rejected(c, case, msg, item, &agent, &text, errors);
        }
        return release(c, case, msg, item, &agent);
    }
    // A second #resolve (a colleague resolved it meanwhile) changes nothing, and says so.
    if p.commands == [Command::Resolve]
        && p.text.is_empty()
        && matches!(case.status, Status::Resolved | Status::Closed)
    {
        return nothing_changed(c, case, msg, item, &agent);
    }
    if let Err(errors) = check(c, case, &p) {
        return rejected(c, case, msg, item, &agent, &text, errors);
    }
    // The collision guard: an answer written against an older state of the case is held.
    if !p.has("note") && !p.text.is_empty() {
        if let Some(since) = super::collision::since(c, case, msg, &agent.address)? {
            return held(c, case, msg, item, &agent, &text, since);
        }
    }
    act(c, case, msg, Stored::New(item), &agent, &text, &answer, &p)
}

/// Where the answer being carried out is stored: a message just received, or an answer the
/// collision guard held and the agent sent with `#send` (its row).
enum Stored<'a> {
    New(&'a Inbound),
    Held(i64),
}

/// Checks a reply against the case before anything changes: its commands (as
/// [`commands::Parsed::validate`]) and the people `#cc` names.
fn check(c: &Ctx<'_, '_>, case: &CaseRow, p: &commands::Parsed) -> Result<(), Vec<String>> {
    let mut errors = p
        .validate(case.status, &c.engine.config)
        .err()
        .unwrap_or_default();
    let people = c.tx.people(case.id).map_err(|e| vec![e.to_string()])?;
    for cmd in &p.commands {
        if let Command::Language(l) = cmd {
            let locales = &c.engine.locales;
            if !locales.has(l) {
                errors.push(format!(
                    "#language {l}: no templates in that language; use one of {}",
                    locales.languages().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        let Command::Cc { add, address, .. } = cmd else {
            continue;
        };
        let on_case = people
            .iter()
            .any(|x| x.address == *address && !x.removed && x.role == ParticipantRole::Cc);
        if *add {
            // An address that does not parse was reported by `validate` already.
            let why = address
                .parse::<lettre::Address>()
                .ok()
                .and_then(|_| super::participants::refusal(c, case, address));
            if let Some(why) = why {
                errors.push(format!("#cc add {address}: {why}"));
            }
        } else if !on_case {
            errors.push(format!(
                "#cc remove {address}: not on this case{}",
                if address == &case.customer_address {
                    " as a participant (the customer cannot be removed)"
                } else {
                    ""
                }
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Carries out a checked reply: stores it, applies its commands and state changes, tells the
/// colleagues, and relays the answer with its update to the customer and the participants.
#[allow(clippy::too_many_arguments)]
fn act(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    stored_as: Stored<'_>,
    agent: &AgentConfig,
    text: &str,
    answer: &Answer,
    p: &commands::Parsed,
) -> Result<Outcome, StoreError> {
    let from = agent.address.to_lowercase();
    let cfg = &c.engine.config;
    // An escalation contact acting by mail keeps the role manager.
    let role = super::managers::role_of(cfg, &agent.address);
    let plan = p.plan(cfg.sla.pause_on_question);
    let (note, relay) = (plan.note, plan.relay.clone());
    // The HTML, images and files that go with the text; all of them or none.
    let enclosures = match relay
        .as_ref()
        .map(|_| answer.relay(&commands::command_lines(text)))
    {
        Some(r) => match enclosures(&r, cfg.agents.answer_attach_limit.0, &c.engine.domain) {
            Ok(e) => Some(e),
            Err(why) => {
                return match stored_as {
                    Stored::New(item) => rejected(c, case, msg, item, agent, text, vec![why]),
                    // Held answers passed this check when they came in.
                    Stored::Held(_) => Err(StoreError::Data(why)),
                };
            }
        },
        None => None,
    };
    match stored_as {
        Stored::New(item) => {
            // The case keeps what the agent wrote as the customer reads it.
            let mut stored = msg.clone();
            stored.reply_text = text.to_string();
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
                    role,
                    internal: note,
                    note: None,
                },
            )?;
            if let Some(reason) = c.guard().after_inbound(case, Side::Agent, msg)? {
                c.loop_stopped(case, &reason)?;
            }
        }
        Stored::Held(row) => {
            c.tx.release_held(row)?;
        }
    }
    c.tx.add_participant(case.id, &from, Some(&agent.name), role, c.now)?;
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

    // The commands that set a field of the case, in the order written.
    let mut current = case.clone();
    let mut moved_from: Option<String> = None;
    let mut raised = false;
    let mut changes: Vec<String> = Vec::new();
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
                changes.push(format!("priority {} → {n}", current.priority));
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
                changes.push(format!("category {} → {n}", current.category));
                current.category = category;
            }
            Command::Language(l)
                if c.engine.locales.resolve(current.language.as_deref()) != l.as_str() =>
            {
                c.tx.update_case_audited(
                    case.id,
                    &CaseChange::Language(Some(l.clone())),
                    &from,
                    c.now,
                )?;
                changes.push(format!(
                    "language {} → {l}",
                    c.engine.locales.resolve(current.language.as_deref())
                ));
                current.language = Some(l.clone());
            }
            Command::Queue(q) if current.queue.as_deref().unwrap_or(&c.root.queue) != q => {
                let before = current
                    .queue
                    .clone()
                    .unwrap_or_else(|| c.root.queue.clone());
                let (brand, address) = match cfg.queue(q) {
                    Some(qc) => (cfg.brand_of(&qc), qc.addresses.first().cloned()),
                    None => continue,
                };
                c.tx.update_case_audited(
                    case.id,
                    &CaseChange::Queue(Some(q.clone())),
                    &from,
                    c.now,
                )?;
                c.tx.update_case(case.id, &CaseChange::Brand(Some(brand.clone())))?;
                // The new queue answers the customer, from its own address.
                c.tx.update_case(case.id, &CaseChange::OurAddress(address.clone()))?;
                changes.push(format!("queue {before} → {q}"));
                current.queue = Some(q.clone());
                current.brand = Some(brand);
                current.our_address = address;
                moved_from = Some(before);
            }
            Command::Assign(a) => {
                c.tx.update_case_audited(
                    case.id,
                    &CaseChange::Assignee(Some(a.clone())),
                    &from,
                    c.now,
                )?;
                changes.push(format!("assigned to {a}"));
                current.assignee = Some(a.clone());
            }
            Command::Cc { add, address, name } => {
                let done = if *add {
                    c.tx.put_participant(
                        case.id,
                        address,
                        name.as_deref(),
                        ParticipantRole::Cc,
                        true,
                        c.now,
                    )?
                } else {
                    c.tx.remove_participant(case.id, address, c.now)?
                };
                if done {
                    c.tx.audit(
                        Some(case.id),
                        c.now,
                        &from,
                        if *add {
                            AuditEvent::ParticipantAdded
                        } else {
                            AuditEvent::ParticipantRemoved
                        },
                        &serde_json::json!({"address": address, "name": name, "by": "agent"}),
                    )?;
                    changes.push(if *add {
                        format!("{address} put on the case (Cc)")
                    } else {
                        format!("{address} taken off the case")
                    });
                }
            }
            _ => {}
        }
    }

    // Moved to another queue: from here on the new queue's engine (its brand) carries on,
    // and its agents get the case's card.
    let switched;
    let c = match &moved_from {
        Some(_) => {
            switched = c.for_case(&current);
            &switched
        }
        None => c,
    };

    // State changes, in the plan's fixed order: the answer itself, then the commands' events.
    let before = current.status;
    let mut status = current.status;
    let mut reopened_from: Option<CaseRow> = None;
    for &(ev, ref why) in &plan.events {
        // Explicit commands were validated; an answer on a closed case keeps it closed.
        let Ok(next) = transition(status, ev) else {
            continue;
        };
        // An answer to a resolved case reopens it, visibly: its own status reason, the
        // reopening counted and audited, the colleagues told.
        let answer_reopens = ev == CaseEvent::AgentReplied && status == Status::Resolved;
        let why = if answer_reopens {
            "an agent answered the resolved case (reopened)"
        } else {
            why.as_str()
        };
        c.set_status(&current, status, next, &from, why)?;
        if ev == CaseEvent::Resolve {
            c.tx.set_resolved(case.id, true, c.now)?;
        }
        if ev == CaseEvent::Reopen || answer_reopens {
            c.tx.set_resolved(case.id, false, c.now)?;
        }
        if answer_reopens {
            c.tx.audit(
                Some(case.id),
                c.now,
                &from,
                AuditEvent::Reopened,
                &serde_json::json!({"by": "agent answer", "resolved_at": case.resolved_at.map(ts)}),
            )?;
            reopened_from = Some(case.clone());
        }
        status = next;
    }
    current.status = status;
    if before != status {
        changes.push(format!(
            "status {} → {}",
            before.agent_label(),
            status.agent_label()
        ));
    }
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

    // The new queue's agents get the card, as the case stands after this answer (answered:
    // no first-response target left to show).
    if let Some(old) = &moved_from {
        let now_case = c.tx.case_by_id(case.id)?.unwrap_or_else(|| current.clone());
        super::customer::notify_moved(c, &now_case, old, &agent.name)?;
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
    super::colleagues::tell(
        c,
        &current,
        agent,
        super::colleagues::Action {
            note,
            answered: relay.is_some(),
            commands: commands::command_lines(text)
                .into_iter()
                .map(String::from)
                .collect(),
            changes,
            text: if note {
                p.text.clone()
            } else {
                relay.clone().unwrap_or_default()
            },
            reopened: reopened_from.as_ref(),
        },
    )?;
    if note {
        return Ok(Outcome::AgentNote {
            reference: case.reference.clone(),
        });
    }
    // What the customer is told: the answer, with a status update when the state changed in
    // a way they care about.
    let update = plan.update.or(raised.then_some("customer_priority_raised"));
    let mut m = c.customer_ctx(&current);
    m.agent_name = agent.name.clone();
    if plan.escalation.is_some() || raised {
        // A new timeline: the current priority's first-response target from now.
        mail::new_timeline(&mut m, c.engine.words(), current.priority.as_str(), c.now);
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

/// An answer the collision guard held: kept on the case (internal, until `#send`), and the
/// agent gets what happened since the message they answered, with their answer.
fn held(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
    text: &str,
    since: super::collision::Since,
) -> Result<Outcome, StoreError> {
    let from = agent.address.to_lowercase();
    let mut stored = msg.clone();
    stored.reply_text = text.to_string();
    let why = format!(
        "the case changed since the message it answers ({})",
        since.answered_local
    );
    keep_internal(
        c,
        case,
        &stored,
        item,
        agent,
        MessageOutcome::AnswerHeld,
        &format!("held: {why}; #send relays it"),
    )?;
    if let Some(reason) = c.guard().after_inbound(case, Side::Agent, msg)? {
        c.loop_stopped(case, &reason)?;
    }
    c.tx.audit(
        Some(case.id),
        c.now,
        &from,
        AuditEvent::AnswerHeld,
        &serde_json::json!({"reason": why, "message_id": msg.message_id}),
    )?;
    tracing::info!(case = %case.reference, agent = %from, "answer held: the case changed since the message it answers");
    let mut m = c.mail_ctx(case);
    m.agent_name = agent.name.clone();
    m.text = text.to_string();
    m.history = since.lines;
    m.notice = mail::notice_lines(vec![format!(
        "Your answer was NOT sent: the case changed after the message you replied to ({}).",
        since.answered_local
    )]);
    super::managers::tell(
        c,
        case,
        agent,
        OutboundKind::AgentNotice,
        "agent_answer_held",
        &m,
    )?;
    Ok(Outcome::AgentNote {
        reference: case.reference.clone(),
    })
}

/// `#send`: the agent read what happened since and sends their held answer as it was (its
/// commands apply now). The `#send` mail itself is kept as an internal note.
fn release(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
) -> Result<Outcome, StoreError> {
    let from = agent.address.to_lowercase();
    let messages = c.tx.read().messages_of_case(case.id)?;
    let held = messages.iter().rev().find(|m| {
        m.outcome == MessageOutcome::AnswerHeld
            && m.from_address
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case(&from))
    });
    let raw = match held {
        Some(h) => c.tx.read().raw_message(h.id)?.flatten(),
        None => None,
    };
    let (Some(h), Some(raw)) = (held, raw) else {
        let errors = vec!["#send: you have no held answer on this case to send".to_string()];
        return rejected(c, case, msg, item, agent, "#send", errors);
    };
    let held_msg = crate::parse::parse(&raw, &c.engine.limits)
        .map_err(|e| StoreError::Data(format!("held answer no longer parses: {e}")))?;
    let answer = Answer::read(&raw, Some(&agent.name), c.engine.limits.max_text_bytes);
    let text = answer.text.clone().unwrap_or_default();
    let p = commands::parse(&text).map_err(|es| es.iter().map(|e| e.to_string()).collect());
    let p = match p.and_then(|p| check(c, case, &p).map(|()| p)) {
        Ok(p) => p,
        Err(errors) => {
            let errors = errors
                .into_iter()
                .map(|e| format!("your held answer cannot be sent as it was: {e}"))
                .collect();
            return rejected(c, case, msg, item, agent, &text, errors);
        }
    };
    keep_internal(
        c,
        case,
        msg,
        item,
        agent,
        MessageOutcome::AgentNote,
        "#send: the held answer was relayed",
    )?;
    c.tx.audit(
        Some(case.id),
        c.now,
        &from,
        AuditEvent::AnswerReleased,
        &serde_json::json!({"reason": "#send", "message_id": held_msg.message_id}),
    )?;
    act(
        c,
        case,
        &held_msg,
        Stored::Held(h.id),
        agent,
        &text,
        &answer,
        &p,
    )
}

/// A `#resolve` on a case that is already resolved or closed: nothing changes; the agent is
/// told who resolved it and when.
fn nothing_changed(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
) -> Result<Outcome, StoreError> {
    let from = agent.address.to_lowercase();
    keep_internal(
        c,
        case,
        msg,
        item,
        agent,
        MessageOutcome::AgentNote,
        "#resolve on a case already resolved: nothing changed",
    )?;
    let audit = c.tx.read().audit_of_case(Some(case.id))?;
    let by = audit
        .iter()
        .rev()
        .find(|a| {
            a.event == AuditEvent::Status
                && serde_json::from_str::<serde_json::Value>(&a.detail).is_ok_and(|d| {
                    d["to"] == Status::Resolved.as_str() || d["to"] == Status::Closed.as_str()
                })
        })
        .map(|a| (a.actor.clone(), a.at));
    let whom = match &by {
        Some((actor, at)) => format!(
            " by {} on {}",
            c.engine
                .config
                .agent(actor)
                .map_or(actor.clone(), |a| a.name.clone()),
            c.engine.words().team_date(*at)
        ),
        None => String::new(),
    };
    let line = format!(
        "Case {} was already {}{whom}: your #resolve changed nothing, and the customer was not written to again.",
        case.reference,
        case.status.agent_label()
    );
    c.tx.audit(
        Some(case.id),
        c.now,
        &from,
        AuditEvent::NothingChanged,
        &serde_json::json!({"reason": line, "message_id": msg.message_id}),
    )?;
    let mut m = c.mail_ctx(case);
    m.agent_name = agent.name.clone();
    m.notice = mail::notice_lines(vec![line]);
    super::managers::tell(
        c,
        case,
        agent,
        OutboundKind::AgentNotice,
        "agent_notice",
        &m,
    )?;
    Ok(Outcome::AgentNote {
        reference: case.reference.clone(),
    })
}

/// An agent who put an outside address in To or Cc of their reply sent that person their
/// mail directly, quoted case notification included: mailcase did not send it and cannot take
/// it back. The agent is told, with the way to put someone on the case.
fn cc_warning(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    agent: &AgentConfig,
) -> Result<(), StoreError> {
    let cfg = &c.engine.config;
    let outside: Vec<String> = msg
        .to
        .iter()
        .chain(&msg.cc)
        .map(crate::parse::Mailbox::normalized)
        .filter(|a| {
            !crate::classify::robot::is_own(&c.engine.own, a)
                && cfg.agent(a).is_none()
                && !cfg.is_escalation_contact(a)
        })
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    let from = agent.address.to_lowercase();
    c.tx.audit(
        Some(case.id),
        c.now,
        &from,
        AuditEvent::NothingChanged,
        &serde_json::json!({
            "reason": format!("the agent addressed {} directly", outside.join(", ")),
            "message_id": msg.message_id,
        }),
    )?;
    let mut m = c.mail_ctx(case);
    m.agent_name = agent.name.clone();
    m.notice = mail::notice_lines(vec![
        format!(
            "Your reply also went straight to {} (in its To or Cc): your mail client sent them your mail as you wrote it, with the quoted case notification. That copy did not go through mailcase, which cannot take it back.",
            outside.join(", ")
        ),
        "This notice is only about that copy: your reply to the case is handled as usual (the customer gets your answer unless you receive a separate \"Not sent\" mail).".to_string(),
        format!(
            "To put someone on the case, reply to the case notification with this line at the top; mailcase then copies them on the answers and notices, without the internal parts:\n\n  #cc add {}",
            outside[0]
        ),
    ]);
    super::managers::tell(
        c,
        case,
        agent,
        OutboundKind::AgentNotice,
        "agent_notice",
        &m,
    )
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
    let Some(token) = c.engine.find_token(&msg) else {
        return Ok(());
    };
    if token.role != Role::Agent {
        return Ok(());
    }
    let Some(case) = c.tx.case_by_reference(token.reference.as_str())? else {
        return Ok(());
    };
    // A merged case's mail is the survivor's, as threading has it.
    let case = crate::thread::survivor(case, c.tx)?;
    if c.tx.is_scrubbed(case.id)? {
        return Ok(());
    }
    let c = &c.for_case(&case);
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

/// Keeps an agent's (or manager's) mail on the case as an internal message with `note`: a
/// reply that relays nothing (rejected, held, a `#send`, a command that changed nothing).
fn keep_internal(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
    outcome: MessageOutcome,
    note: &str,
) -> Result<i64, StoreError> {
    c.store_message(
        case,
        msg,
        item,
        Record {
            outcome,
            role: super::managers::role_of(&c.engine.config, &agent.address),
            internal: true,
            note: Some(note),
        },
    )
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
    keep_internal(
        c,
        case,
        msg,
        item,
        agent,
        MessageOutcome::CommandRejected,
        &note,
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
    super::managers::tell(
        c,
        case,
        agent,
        OutboundKind::AgentCommandError,
        "agent_command_error",
        &m,
    )?;
    Ok(Outcome::CommandRejected {
        reference: case.reference.clone(),
    })
}

/// A message claiming the agent role that failed its checks: an internal note flagged
/// unverified, no state change. A configured agent or, through the managers' address, an
/// escalation contact (the real one, whatever the From header says) is told why; a stranger
/// is not answered.
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
        super::managers::tell(
            c,
            case,
            a,
            OutboundKind::AgentCommandError,
            "agent_command_error",
            &m,
        )?;
    }
    Ok(Outcome::Unverified {
        reference: case.reference.clone(),
        reason: why.to_string(),
    })
}
