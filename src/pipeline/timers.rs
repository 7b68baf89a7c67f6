//! Time as data (docs/design.md invariant 5): which deadlines a case has, and what happens when
//! one falls due.
//!
//! Timers are derived from the case: [`sync`] computes the set a case should have now (SLA
//! reminders and breaches while it waits on us, a status update an interval after our last
//! public message, the follow-up, feedback request and auto-close after resolution) and makes
//! the timer rows match, in the same transaction as the change that called it. Firing
//! re-checks the rule first, so a timer the case outgrew (answered, resolved, paused) does
//! nothing. A timer fires once: its row is settled in the transaction that does its work. After
//! downtime each overdue timer fires once, late; a reminder whose breach is also due is skipped.
//!
//! The SLA clock pauses while the case waits on the customer: the remaining time (business or
//! wall, as the priority says) is kept and runs again from the customer's reply.

use chrono::{DateTime, Duration, SubsecRound, Utc};

use super::context::{history, Ctx, Enclosures};
use super::Engine;
use crate::case::kinds::{AuditEvent, BreachedTarget, OutboundKind, TimerKind, TimerOutcome};
use crate::case::service_level::{resumed_due, ServiceLevel, Target};
use crate::case::status::{transition, CaseEvent, Status};
use crate::case::Reference;
use crate::config::FeedbackWhen;
use crate::mail;
use crate::store::{ts, CaseChange, CaseRow, Store, StoreError, TimerRow};

/// The kinds [`sync`] manages (one-shot kinds such as `escalation_notice` are left alone).
const MANAGED: &[TimerKind] = &[
    TimerKind::FirstResponseWarning,
    TimerKind::FirstResponseBreach,
    TimerKind::ResolutionWarning,
    TimerKind::ResolutionBreach,
    TimerKind::StatusUpdate,
    TimerKind::FollowUp,
    TimerKind::FeedbackRequest,
    TimerKind::AutoClose,
];

/// The timers a case should have now: (kind, when).
pub(super) fn desired(engine: &Engine, case: &CaseRow) -> Vec<(TimerKind, DateTime<Utc>)> {
    // A case merged into another has no deadlines of its own: the survivor's are the ones
    // that count, and a merged case must not invite feedback as a closed one would.
    if case.merged_into.is_some() {
        return Vec::new();
    }
    let cfg = &engine.config;
    let mut out = Vec::new();
    let lead = cfg.sla.warning_lead.chrono();
    match case.status {
        Status::New | Status::Acknowledged | Status::InProgress | Status::Escalated
            if case.sla_paused_at.is_none() =>
        {
            // The first-response target ends with the first answer, or with a resolution
            // (a case resolved without text and reopened later is past its first response).
            if case.first_response_at.is_none() && case.resolved_at.is_none() {
                if let Some(due) = case.first_response_due {
                    if lead > Duration::zero() {
                        out.push((TimerKind::FirstResponseWarning, due - lead));
                    }
                    out.push((TimerKind::FirstResponseBreach, due));
                }
            }
            if let Some(due) = case.resolution_due {
                if lead > Duration::zero() {
                    out.push((TimerKind::ResolutionWarning, due - lead));
                }
                out.push((TimerKind::ResolutionBreach, due));
            }
            let every = cfg.sla.status_update_interval.chrono();
            if every > Duration::zero() {
                let last = case.last_public_at.unwrap_or(case.created_at);
                out.push((TimerKind::StatusUpdate, last + every));
            }
        }
        Status::Resolved => {
            let resolved = case.resolved_at;
            let close_after = cfg.follow_up.close_after.chrono();
            let follow_up_on = !cfg.follow_up.after.0.is_zero();
            if let Some(r) = resolved {
                if follow_up_on && case.follow_up_sent_at.is_none() {
                    let at = engine
                        .calendar
                        .add_business(r, business_len(engine, cfg.follow_up.after.0));
                    out.push((TimerKind::FollowUp, at));
                }
                if cfg.feedback.when == FeedbackWhen::Resolved && case.feedback_sent_at.is_none() {
                    out.push((TimerKind::FeedbackRequest, r));
                }
                let from = if follow_up_on {
                    case.follow_up_sent_at
                } else {
                    Some(r)
                };
                if let Some(f) = from {
                    out.push((TimerKind::AutoClose, f + close_after));
                }
            }
        }
        // Closed because the customer said "thanks" before any follow-up: still invite
        // feedback once.
        Status::Closed
            if cfg.feedback.when != FeedbackWhen::Never && case.feedback_sent_at.is_none() =>
        {
            if let Some(c) = case.closed_at {
                out.push((TimerKind::FeedbackRequest, c));
            }
        }
        _ => {}
    }
    out
}

/// "3d" of business time: three working days of the calendar's length.
fn business_len(engine: &Engine, d: std::time::Duration) -> Duration {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
    engine.calendar.day_length() * ((secs / 86_400) as i32) + Duration::seconds(secs % 86_400)
}

/// Makes the case's timer rows match [`desired`]: cancels what no longer applies, arms what
/// is new, leaves alone what is unchanged or already fired for the same deadline.
pub(super) fn sync(c: &Ctx<'_, '_>, case_id: i64) -> Result<(), StoreError> {
    match c.tx.case_by_id(case_id)? {
        Some(case) => sync_case(c, &case),
        None => Ok(()),
    }
}

/// [`sync`] for a case row the caller has just read. The case's timers (a few rows over its
/// life) are read once and compared here, instead of one query per desired timer.
pub(super) fn sync_case(c: &Ctx<'_, '_>, case: &CaseRow) -> Result<(), StoreError> {
    let c = &c.for_case(case);
    let want = desired(c.engine, case);
    let timers = c.tx.timers_of_case(case.id)?;
    // Times are stored to the microsecond: a wanted time is compared as it would be stored.
    let stored = |t: DateTime<Utc>| t.trunc_subsecs(6);
    // Active timers: kept when unmanaged or still wanted as they are, else cancelled.
    let (active, gone): (Vec<&TimerRow>, Vec<&TimerRow>) = timers
        .iter()
        .filter(|t| t.fired_at.is_none() && t.cancelled_at.is_none())
        .partition(|a| {
            !MANAGED.contains(&a.kind)
                || want
                    .iter()
                    .any(|(k, t)| *k == a.kind && stored(*t) == a.target_at)
        });
    for g in gone {
        c.tx.cancel_timers(case.id, &[g.kind], c.now, &TimerOutcome::NoLongerDue)?;
    }
    for (kind, at) in want {
        let target = stored(at);
        let present = active
            .iter()
            .any(|a| a.kind == kind && a.target_at == target);
        let settled = timers
            .iter()
            .any(|t| t.kind == kind && t.target_at == target && t.fired_at.is_some());
        if present || settled {
            continue;
        }
        // Every desired kind is managed and appears once, so an active timer of this kind
        // was either `present` or cancelled above: nothing to cancel first.
        c.tx.insert_timer(case.id, kind, at, at, c.now)?;
    }
    Ok(())
}

/// Keeps the SLA clock right across a status change: paused when the case starts waiting on
/// the customer, resumed (remaining time kept) when it stops; re-armed on reopening;
/// follow-up bookkeeping reset on resolution.
pub(super) fn on_status_change(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    from: Status,
    to: Status,
) -> Result<(), StoreError> {
    let now = c.now;
    if to == Status::WaitingOnCustomer && from != Status::WaitingOnCustomer {
        c.tx.update_case(case.id, &CaseChange::SlaPausedAt(Some(now)))?;
    }
    if from == Status::WaitingOnCustomer && to != Status::WaitingOnCustomer {
        if let Some(paused) = case.sla_paused_at {
            // The remaining time of each unbreached target, kept across the pause.
            let moved = |due: Option<DateTime<Utc>>, target: Target| {
                let (cfg, cal) = (&c.engine.config, &c.engine.calendar);
                let kind = ServiceLevel::clock_of(cfg, cal, case.priority.as_str(), target);
                resumed_due(cal, kind, due?, paused, now)
            };
            let first_due = case
                .first_response_due
                .filter(|_| case.first_response_at.is_none());
            if let Some(d) = moved(first_due, Target::FirstResponse) {
                c.tx.update_case(case.id, &CaseChange::FirstResponseDue(Some(d)))?;
            }
            if let Some(d) = moved(case.resolution_due, Target::Resolution) {
                c.tx.update_case(case.id, &CaseChange::ResolutionDue(Some(d)))?;
            }
            c.tx.audit(
                Some(case.id),
                now,
                "system",
                AuditEvent::SlaResumed,
                &serde_json::json!({"paused_at": case.sla_paused_at.map(ts)}),
            )?;
        }
        c.tx.update_case(case.id, &CaseChange::SlaPausedAt(None))?;
    }
    if to == Status::Resolved {
        c.tx.update_case(case.id, &CaseChange::FollowUpSentAt(None))?;
        c.tx.update_case(case.id, &CaseChange::FeedbackSentAt(None))?;
    }
    if to == Status::Closed {
        c.tx.update_case(case.id, &CaseChange::ClosedAt(Some(now)))?;
    }
    let reopened = matches!(from, Status::Resolved | Status::Closed)
        && !matches!(to, Status::Resolved | Status::Closed);
    if reopened {
        // Status updates count from the reopening, not from our last word before it.
        c.tx.update_case(case.id, &CaseChange::LastPublicAt(Some(now)))?;
        // A new resolution target from now (the first-response one was met before).
        let level = ServiceLevel::of(&c.engine.config, &c.engine.calendar, case.priority.as_str());
        if let Some(l) = level {
            let due = l.reopened_resolution_due(now);
            c.tx.update_case(case.id, &CaseChange::ResolutionDue(Some(due)))?;
        }
        c.tx.update_case(case.id, &CaseChange::ClosedAt(None))?;
    }
    Ok(())
}

/// Whether customer mail may go out now for this case; `Some(t)`: wait until `t`.
fn window_wait(c: &Ctx<'_, '_>, case: &CaseRow) -> Option<DateTime<Utc>> {
    let level = ServiceLevel::of(&c.engine.config, &c.engine.calendar, case.priority.as_str());
    if level.is_some_and(|l| l.is_wall_clock()) {
        return None; // urgent cases are exempt from the quiet hours
    }
    let w = &c.engine.window;
    if w.is_open(c.now) {
        return None;
    }
    // A window that cannot say when it opens next (dates at the end of the calendar) does
    // not hold mail forever, and never makes the scheduler spin on a due-now timer.
    Some(w.next_open(c.now)).filter(|t| *t > c.now)
}

/// Re-derives the timers of every case that is not closed: run at start, so cases from before
/// an upgrade (or changed by an older version) get their deadlines.
///
/// # Errors
/// Transient store errors.
pub fn resync_all(store: &mut Store, engine: &Engine) -> Result<usize, StoreError> {
    let now = engine.clock.now();
    let ids: Vec<i64> = store
        .read()
        .cases()?
        .into_iter()
        .filter(|c| c.status != Status::Closed)
        .map(|c| c.id)
        .collect();
    store.write(|tx| {
        let c = Ctx::new(tx, engine, now);
        for id in &ids {
            sync(&c, *id)?;
        }
        Ok(ids.len())
    })
}

/// What one round of timers did, once committed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// Timers handled (fired, skipped or settled).
    pub timers: usize,
    /// Agents warned that a target is near.
    pub sla_warnings: usize,
    /// Targets missed: the case was escalated.
    pub sla_breaches: usize,
}

/// Fires the timers due at `now` (at most `limit`), one savepoint each.
///
/// # Errors
/// Transient store errors (nothing is committed; the timers stay due).
pub fn fire_due(store: &mut Store, engine: &Engine, limit: usize) -> Result<Fired, StoreError> {
    let now = engine.clock.now();
    store.write(|tx| {
        let due = tx.read().due_timers(now, limit)?;
        let c = Ctx::new(tx, engine, now);
        let mut fired = Fired {
            timers: due.len(),
            ..Fired::default()
        };
        for t in &due {
            tx.savepoint()?;
            match fire(&c, t) {
                Ok(outcome) => {
                    tx.release()?;
                    match &outcome {
                        TimerOutcome::AgentsReminded => fired.sla_warnings += 1,
                        TimerOutcome::Escalated(_) => fired.sla_breaches += 1,
                        _ => {}
                    }
                    tracing::info!(timer = t.id, kind = %t.kind, case = t.case_id, outcome = %outcome, "timer");
                }
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    // A bug or bad data for this one timer: settle it so it cannot fire in a
                    // loop, and say so.
                    tx.rollback_to_savepoint()?;
                    tx.settle_timer(t.id, now, &TimerOutcome::Failed(e.to_string()))?;
                    tracing::error!(timer = t.id, kind = %t.kind, case = t.case_id, error = %e, "timer failed");
                }
            }
        }
        Ok(fired)
    })
}

fn fire(c: &Ctx<'_, '_>, t: &TimerRow) -> Result<TimerOutcome, StoreError> {
    let Some(case) = c.tx.case_by_id(t.case_id)? else {
        c.tx.settle_timer(t.id, c.now, &TimerOutcome::CaseGone)?;
        return Ok(TimerOutcome::CaseGone);
    };
    let c = &c.for_case(&case);
    if MANAGED.contains(&t.kind) {
        let still = desired(c.engine, &case)
            .iter()
            .any(|(k, at)| *k == t.kind && *at == t.target_at);
        if !still {
            c.tx.settle_timer(t.id, c.now, &TimerOutcome::Stale)?;
            sync(c, case.id)?;
            return Ok(TimerOutcome::Stale);
        }
    }
    let outcome = match t.kind {
        TimerKind::FirstResponseWarning | TimerKind::ResolutionWarning => {
            let breach_field = if t.kind == TimerKind::FirstResponseWarning {
                case.first_response_due
            } else {
                case.resolution_due
            };
            if breach_field.is_some_and(|b| b <= c.now) {
                TimerOutcome::SkippedBreachDue
            } else {
                warn_agents(c, &case, t.kind)?;
                TimerOutcome::AgentsReminded
            }
        }
        TimerKind::FirstResponseBreach | TimerKind::ResolutionBreach => {
            let what = if t.kind == TimerKind::FirstResponseBreach {
                BreachedTarget::FirstResponse
            } else {
                BreachedTarget::Resolution
            };
            escalate(c, &case, "system", what.as_str(), true)?;
            TimerOutcome::Escalated(what)
        }
        TimerKind::EscalationNotice if matches!(case.status, Status::Resolved | Status::Closed) => {
            TimerOutcome::SkippedResolved
        }
        TimerKind::StatusUpdate
        | TimerKind::FollowUp
        | TimerKind::FeedbackRequest
        | TimerKind::EscalationNotice => {
            if let Some(open) = window_wait(c, &case) {
                c.tx.defer_timer(t.id, open)?;
                return Ok(TimerOutcome::Deferred(open));
            }
            customer_mail(c, &case, t.kind)?
        }
        TimerKind::AutoClose => {
            let from = case.status;
            match transition(from, CaseEvent::Close) {
                Ok(to) => {
                    c.set_status(&case, from, to, "system", "no answer to the follow-up")?;
                    TimerOutcome::Closed
                }
                Err(_) => TimerOutcome::NotClosable,
            }
        }
    };
    c.tx.settle_timer(t.id, c.now, &outcome)?;
    sync(c, case.id)?;
    Ok(outcome)
}

/// Reminds the assigned agent (or the agents) that a target is near.
fn warn_agents(c: &Ctx<'_, '_>, case: &CaseRow, kind: TimerKind) -> Result<(), StoreError> {
    let to = match &case.assignee {
        Some(a) => vec![a.clone()],
        None => c.engine.config.notify_addresses(),
    };
    let mut m = c.mail_ctx(case);
    mail::reminder(
        &mut m,
        case,
        c.engine.words(),
        kind == TimerKind::FirstResponseWarning,
        c.now,
    );
    c.send_agents(
        case,
        OutboundKind::SlaWarning,
        &to,
        "agent_sla_warning",
        &m,
        vec![],
    )
}

/// Escalates a case: status `escalated` (when the life cycle allows), the escalation contacts
/// get a digest with the history, and (`tell_customer`) the customer is told with a new
/// timeline, within the send window.
pub(super) fn escalate(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    actor: &str,
    reason: &str,
    tell_customer: bool,
) -> Result<(), StoreError> {
    let from = case.status;
    let already = from == Status::Escalated;
    if let Ok(to) = transition(from, CaseEvent::Escalate) {
        if !matches!(from, Status::Resolved | Status::Closed) {
            c.set_status(case, from, to, actor, reason)?;
        }
    }
    notify_escalation(c, case, reason)?;
    if tell_customer && !already && !matches!(from, Status::Resolved | Status::Closed) {
        // Through a one-shot timer so the send window applies like for any scheduled mail.
        c.tx.arm_timer(case.id, TimerKind::EscalationNotice, c.now, c.now, c.now)?;
    }
    Ok(())
}

/// Mails the escalation contacts (or, without any, the agents) a digest of the case. The
/// contacts reply through the managers' reply address when `agents.managers_act_by_mail`;
/// otherwise through the agents' one, where only an agent's reply counts.
pub(super) fn notify_escalation(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    reason: &str,
) -> Result<(), StoreError> {
    let cfg = &c.engine.config;
    let contacts = cfg.escalation_contacts(case.category.as_str(), case.priority.as_str());
    // Without contacts for the case, the agents get it: they can always answer by reply.
    let to_agents = contacts.is_empty();
    let managers = !to_agents && cfg.agents.managers_act_by_mail;
    let to = if to_agents {
        cfg.notify_addresses()
    } else {
        contacts
    };
    let mut m = c.mail_ctx(case);
    m.answer_by_reply = managers || to_agents;
    m.reason = Some(reason.to_string());
    mail::missed_target(&mut m, case, c.engine.words(), c.now);
    m.history = history(c, case)?;
    // The case's rating, if the customer gave one: a poor one is often why we are here.
    if let Some((rating, comment)) = c.tx.read().rating(case.id)? {
        m.rating = Some(rating);
        m.comment = comment;
    }
    c.tx.audit(
        Some(case.id),
        c.now,
        "system",
        AuditEvent::EscalationNotified,
        &serde_json::json!({"to": to, "reason": reason}),
    )?;
    if managers {
        c.send_managers(
            case,
            OutboundKind::Escalation,
            &to,
            "manager_escalation",
            &m,
        )
    } else {
        c.send_agents(
            case,
            OutboundKind::Escalation,
            &to,
            "manager_escalation",
            &m,
            vec![],
        )
    }
}

/// The scheduled mail to the customer of a timer of `kind`.
fn customer_mail(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    kind: TimerKind,
) -> Result<TimerOutcome, StoreError> {
    let Some(mail) = kind.customer_mail() else {
        return Err(StoreError::Data(format!(
            "a {kind} timer sends no mail to the customer"
        )));
    };
    let cfg = &c.engine.config;
    let mut m = c.customer_ctx(case);
    let reference =
        Reference::parse(&case.reference).map_err(|e| StoreError::Data(e.to_string()))?;
    let links = || mail::rating_links(Some(&c.engine.tokens), &cfg.support.address, &reference);
    let template = match mail {
        OutboundKind::StatusUpdate => "customer_status_update",
        OutboundKind::FollowUp => {
            if cfg.feedback.when == FeedbackWhen::FollowUp && case.feedback_sent_at.is_none() {
                m.rating_links = links();
            }
            "customer_follow_up"
        }
        OutboundKind::FeedbackRequest => {
            m.rating_links = links();
            "customer_feedback_request"
        }
        _ => {
            // escalation_notice: the new timeline is the priority's first-response target
            // from now.
            mail::new_timeline(&mut m, c.engine.words(), case.priority.as_str(), c.now);
            mail::missed_target(&mut m, case, c.engine.words(), c.now);
            mail::with_update(&c.engine.renderer, "customer_escalated", &mut m)
                .map_err(|e| StoreError::Data(e.to_string()))?;
            "customer_update"
        }
    };
    let sent = c.send_customer(
        case,
        mail,
        cfg.support.name.clone(),
        template,
        &m,
        Enclosures::default(),
    )?;
    match mail {
        OutboundKind::FollowUp => {
            c.tx.update_case(case.id, &CaseChange::FollowUpSentAt(Some(c.now)))?;
            if !m.rating_links.is_empty() {
                c.tx.update_case(case.id, &CaseChange::FeedbackSentAt(Some(c.now)))?;
            }
        }
        OutboundKind::FeedbackRequest => {
            c.tx.update_case(case.id, &CaseChange::FeedbackSentAt(Some(c.now)))?
        }
        _ => {}
    }
    Ok(if sent {
        TimerOutcome::Queued(mail)
    } else {
        TimerOutcome::NotSent(mail)
    })
}
