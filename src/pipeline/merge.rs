//! `#merge REF`: an agent merges the case they answer into case REF, the survivor, when two
//! cases are about one matter (docs/design.md "Merging cases").
//!
//! The agent's side ([`super::agent`]) has checked who wrote and parsed the commands; here
//! the merge is checked against both cases ([`check`]: the survivor exists, is open, is not
//! this case, was not merged itself, and two different customers need `confirm`) and then
//! carried out in the message's one transaction ([`merge`]): messages and participants move,
//! this case closes through `transition()` with `merged_into` naming the survivor, timers
//! are recomputed, both cases are audited, and the agents and the customer(s) are told in
//! the survivor's thread. A refused merge is a rejected reply: nothing changes and the agent
//! gets the command-error mail. Later mail that finds the merged case goes to the survivor
//! (`thread::survivor`).

use super::agent;
use super::context::{Ctx, Enclosures, Record};
use super::guards::Side;
use super::{Inbound, Outcome};
use crate::case::commands::Parsed;
use crate::case::kinds::{AuditEvent, MessageOutcome, OutboundKind, TimerKind, TimerOutcome};
use crate::case::status::{transition, CaseEvent, Status};
use crate::case::Reference;
use crate::config::AgentConfig;
use crate::parse::InboundMessage;
use crate::store::{CaseRow, StoreError};

/// A `#merge` of an agent's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Request {
    /// The survivor's reference as the agent wrote it.
    pub reference: String,
    /// `#merge REF confirm`: the agent knows the two cases have different customers.
    pub confirm: bool,
}

/// The merge a parsed reply asks for, if any (the parser has made sure it stands alone).
pub(super) fn requested(p: &Parsed) -> Option<Request> {
    p.merge().map(|(reference, confirm)| Request {
        reference: reference.to_string(),
        confirm,
    })
}

/// Carries out `#merge` for an agent's checked reply on `case`, or rejects the reply with
/// every reason when the merge cannot be done.
///
/// # Errors
/// Store errors (the message's transaction fails).
#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
    text: &str,
    p: &Parsed,
    req: &Request,
) -> Result<Outcome, StoreError> {
    match check(c, case, msg, req)? {
        Ok(survivor) => merge(c, case, &survivor, msg, item, agent, text, p, req),
        Err(errors) => agent::rejected(c, case, msg, item, agent, text, errors),
    }
}

/// The survivor, or why `case` cannot be merged into the case `req` names.
///
/// # Errors
/// Store errors from the lookups.
fn check(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    msg: &InboundMessage,
    req: &Request,
) -> Result<Result<CaseRow, Vec<String>>, StoreError> {
    let line = format!("#merge {}", req.reference);
    let no = |why: String| Ok(Err(vec![format!("{line}: {why}")]));
    // Sent through the agent address of a case that was merged before: threading brought it
    // to the survivor, which is not the case the agent meant to merge.
    if let Some(t) = c.engine.find_token(msg) {
        if t.reference.as_str() != case.reference {
            return no(format!(
                "case {} was already merged into {}, so its mail comes to {} now; to merge {} \
                 as well, reply on the thread of {}",
                t.reference.as_str(),
                case.reference,
                case.reference,
                case.reference,
                case.reference
            ));
        }
    }
    // `case` is never itself merged here: threading hands the agents' side the end of a
    // merge chain (`thread::survivor`), and mail through a merged case's address was refused
    // above.
    if case.status == Status::Closed {
        return no(format!(
            "this case ({}) is closed; #reopen it first if it still needs merging",
            case.reference
        ));
    }
    let reference = match Reference::parse(&req.reference) {
        Ok(r) => r,
        Err(e) => return no(e.to_string()),
    };
    let Some(target) = c.tx.case_by_reference(reference.as_str())? else {
        return no(format!(
            "no case has the reference {}; check it against the subject of the case to merge into",
            reference.as_str()
        ));
    };
    if target.id == case.id {
        return no(format!(
            "{} is this case; name the other case, the one this case should join",
            case.reference
        ));
    }
    if c.tx.is_scrubbed(target.id)? {
        return no(format!(
            "case {} was purged or erased (its mail is gone); nothing can be merged into it",
            target.reference
        ));
    }
    // Where the target's own merges lead: back to this case is a loop; anywhere else, the
    // agent merges into the end of the chain instead.
    let end = crate::thread::survivor(target.clone(), c.tx)?;
    if end.id == case.id {
        return no(format!(
            "case {} was merged into this case ({}); merging this case into it would make a loop",
            target.reference, case.reference
        ));
    }
    if end.id != target.id {
        return no(format!(
            "case {} was itself merged into {}; merge into {} instead",
            target.reference, end.reference, end.reference
        ));
    }
    if target.status == Status::Closed {
        return no(format!(
            "case {} is closed; #reopen it first (reply on its thread), or merge into an open case",
            target.reference
        ));
    }
    if !req.confirm && target.customer_address != case.customer_address {
        return no(format!(
            "the two cases have different customers: this case ({}) is from {}, case {} is \
             from {}. Each customer would be told only about their own request, and answers on \
             {} go to {} only. To merge anyway, write: #merge {} confirm",
            case.reference,
            case.customer_address,
            target.reference,
            target.customer_address,
            target.reference,
            target.customer_address,
            target.reference
        ));
    }
    Ok(Ok(target))
}

/// Merges `old` into `survivor` (checked by [`check`]).
#[allow(clippy::too_many_arguments)]
fn merge(
    c: &Ctx<'_, '_>,
    old: &CaseRow,
    survivor: &CaseRow,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
    text: &str,
    p: &Parsed,
    req: &Request,
) -> Result<Outcome, StoreError> {
    let from = msg.from_address().unwrap_or_default();
    // An agent, or an escalation contact acting by mail.
    let role = super::managers::role_of(&c.engine.config, &agent.address);
    let two_customers = old.customer_address != survivor.customer_address;
    let why = format!("#merge {}", survivor.reference);

    // Messages and participants first, so the agent's message below comes after the moved
    // ones in the survivor's history.
    // With two customers, the merged case's people join the survivor without copies of its
    // mail (answers and notices go to the participants in Cc): the other customer's answers
    // are not theirs to read. An agent can `#cc add` them.
    let moved =
        c.tx.merge_case(old.id, survivor.id, !two_customers, c.now)?;
    let closed =
        transition(old.status, CaseEvent::Merge).map_err(|e| StoreError::Data(e.to_string()))?;
    c.set_status(old, old.status, closed, &from, &why)?;

    // The agent's message: kept on the survivor as an internal note, never relayed, with
    // only what the agent wrote now as its text: the card it quotes is the merged case's,
    // possibly another customer's words, which the survivor's history must not take in
    // (an erasure of that customer could no longer tell them apart). The raw message keeps
    // the whole.
    let mut stored = msg.clone();
    stored.reply_text = text.to_string();
    stored.text = text.to_string();
    let note = format!(
        "#merge: case {} merged into this case; not relayed",
        old.reference
    );
    c.store_message(
        survivor,
        &stored,
        item,
        Record {
            outcome: MessageOutcome::AgentNote,
            role,
            internal: true,
            note: Some(&note),
        },
    )?;
    c.tx.add_participant(survivor.id, &from, Some(&agent.name), role, c.now)?;
    c.tx.audit(
        Some(survivor.id),
        c.now,
        &from,
        AuditEvent::InternalNote,
        &serde_json::json!({
            "message_id": msg.message_id,
            "commands": p.commands.iter().map(|c| c.name()).collect::<Vec<_>>(),
            "relayed": false,
        }),
    )?;
    let detail = |other: &str, key: &str| {
        serde_json::json!({
            key: other,
            "messages": moved.messages,
            "participants": moved.participants,
            "two_customers": two_customers,
            "confirmed": req.confirm,
        })
    };
    c.tx.audit(
        Some(old.id),
        c.now,
        &from,
        AuditEvent::MergedInto,
        &detail(&survivor.reference, "into"),
    )?;
    c.tx.audit(
        Some(survivor.id),
        c.now,
        &from,
        AuditEvent::MergedFrom,
        &detail(&old.reference, "from"),
    )?;
    if let Some(reason) = c.guard().after_inbound(survivor, Side::Agent, msg)? {
        c.loop_stopped(survivor, &reason)?;
    }

    // No deadline is left on the merged case (one-shot notices included); the survivor's
    // are its own, recomputed for its new history.
    c.tx.cancel_timers(old.id, TimerKind::ALL, c.now, &TimerOutcome::NoLongerDue)?;
    super::timers::sync(c, old.id)?;
    super::timers::sync(c, survivor.id)?;

    let now_survivor =
        c.tx.case_by_id(survivor.id)?
            .unwrap_or_else(|| survivor.clone());
    tell_agents(c, old, &now_survivor, agent, p, moved, two_customers)?;
    tell_customers(c, old, &now_survivor, two_customers)?;
    Ok(Outcome::AgentReply {
        reference: survivor.reference.clone(),
        relayed: false,
    })
}

/// The agents' notice, in the survivor's thread: what was merged, by whom, what moved, and
/// the agent's note.
fn tell_agents(
    c: &Ctx<'_, '_>,
    old: &CaseRow,
    survivor: &CaseRow,
    agent: &AgentConfig,
    p: &Parsed,
    moved: crate::store::Moved,
    two_customers: bool,
) -> Result<(), StoreError> {
    let mut m = c.mail_ctx(survivor);
    m.linked_reference = Some(old.reference.clone());
    m.agent_name = agent.name.clone();
    m.text = p.text.clone();
    m.sender = two_customers.then(|| old.customer_address.clone());
    m.reason = Some(format!(
        "{} message(s) and {} participant(s) of {} (\"{}\")",
        moved.messages, moved.participants, old.reference, old.subject
    ));
    c.send_agents(
        survivor,
        OutboundKind::AgentMerged,
        &c.engine.config.notify_addresses(),
        "agent_merged",
        &m,
        vec![],
    )
}

/// The customer's notice, in the survivor's thread. One customer hears that their old
/// reference is now handled as the survivor's. Two customers each hear only about their own
/// request: the survivor's customer, in the survivor's thread, that it is handled together
/// with a related request; the merged case's customer, in their own thread, that their
/// request (its own reference and subject) is now handled as the survivor's reference, with
/// the survivor's reply address. Neither sees the other's subject, address, text or
/// Message-IDs.
fn tell_customers(
    c: &Ctx<'_, '_>,
    old: &CaseRow,
    survivor: &CaseRow,
    two_customers: bool,
) -> Result<(), StoreError> {
    let from_name = c.engine.config.support.name.clone();
    let mut theirs = c.customer_ctx(survivor);
    if !two_customers {
        theirs.linked_reference = Some(old.reference.clone());
        theirs.subject = old.subject.clone();
    }
    c.send_customer(
        survivor,
        OutboundKind::StatusUpdate,
        from_name.clone(),
        "customer_merged",
        &theirs,
        Enclosures::default(),
    )?;
    if two_customers {
        // The survivor as the merged case's customer sees it: the survivor's reference and
        // reply address, their own address and subject, and their own mail thread (the
        // merged case's id, whose outbound mail threads on to the survivor): the survivor's
        // thread would carry the other customer's Message-IDs in References.
        let mut view = survivor.clone();
        view.id = old.id;
        view.customer_address = old.customer_address.clone();
        view.customer_name = old.customer_name.clone();
        view.subject = old.subject.clone();
        view.language = old.language.clone();
        // Their bounce mark moved to the survivor with them.
        if c.tx.is_undeliverable(survivor.id, &old.customer_address)? {
            return Ok(());
        }
        let mut m = c.customer_ctx(&view);
        m.linked_reference = Some(old.reference.clone());
        c.send_customer(
            &view,
            OutboundKind::StatusUpdate,
            from_name,
            "customer_merged",
            &m,
            Enclosures::default(),
        )?;
    }
    Ok(())
}
