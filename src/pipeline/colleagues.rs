//! Agents see each other: a colleague's answer, command or internal note reaches the other
//! agents of the case in the card's thread (`agents.colleagues`: every notified agent, or the
//! assignee and the agents who took part), so nobody answers a case blind.

use super::context::Ctx;
use crate::case::kinds::OutboundKind;
use crate::config::{AgentConfig, Colleagues};
use crate::mail;
use crate::store::{CaseRow, StoreError};

/// What an agent did on a case, for their colleagues.
pub(super) struct Action<'a> {
    /// An internal note.
    pub note: bool,
    /// The answer went to the customer.
    pub answered: bool,
    /// The command lines as written.
    pub commands: Vec<String>,
    /// What changed on the case ("status in progress → resolved").
    pub changes: Vec<String>,
    /// The answer or the note.
    pub text: String,
    /// The case as it was when this answer reopened it (it was resolved).
    pub reopened: Option<&'a CaseRow>,
}

/// The colleagues of `agent` on `case`, by `agents.colleagues`.
fn recipients(c: &Ctx<'_, '_>, case: &CaseRow, agent: &str) -> Result<Vec<String>, StoreError> {
    let cfg = &c.engine.config;
    let mut to: Vec<String> = match cfg.agents.colleagues {
        Colleagues::All => cfg.notify_addresses(),
        Colleagues::Involved => {
            let mut v: Vec<String> = case.assignee.iter().cloned().collect();
            for p in c.tx.people(case.id)? {
                if !p.removed && !p.role.is_customer_side() {
                    v.push(p.address);
                }
            }
            v
        }
    };
    to.retain(|a| !a.eq_ignore_ascii_case(agent));
    // The assignee is usually also a participant: once each.
    to.sort();
    to.dedup();
    Ok(to)
}

/// Tells the colleagues what `agent` did (nothing when they have none).
pub(super) fn tell(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    agent: &AgentConfig,
    action: Action<'_>,
) -> Result<(), StoreError> {
    let to = recipients(c, case, &agent.address)?;
    if to.is_empty() {
        return Ok(());
    }
    // A manager acting by mail is named as one, so the agents know who wrote.
    let who = match super::managers::role_of(&c.engine.config, &agent.address) {
        crate::case::kinds::ParticipantRole::Manager => {
            format!("{} (escalation contact)", agent.name)
        }
        _ => agent.name.clone(),
    };
    let mut notice = vec![match (action.note, action.answered) {
        (true, _) => format!("{who} added an internal note."),
        (false, true) => format!("{who} answered the customer."),
        (false, false) => format!("{who} changed the case."),
    }];
    if let Some(before) = action.reopened {
        notice.push(format!(
            "The answer REOPENED the case: it was resolved{}.",
            before
                .resolved_at
                .map(|t| format!(" on {}", c.engine.words().team_date(t)))
                .unwrap_or_default()
        ));
    }
    if !action.commands.is_empty() {
        notice.push(format!("Commands: {}", action.commands.join(", ")));
    }
    for ch in &action.changes {
        notice.push(format!("Changed: {ch}"));
    }
    let mut m = c.mail_ctx(case);
    m.agent_name = agent.name.clone();
    m.notice = mail::notice_lines(notice);
    m.text = action.text;
    m.in_answer = action.answered;
    // Managers who took part answer through their own reply address.
    let cfg = &c.engine.config;
    let (agents, managers): (Vec<String>, Vec<String>) = to
        .into_iter()
        .partition(|a| cfg.agent(a).is_some() || !cfg.is_escalation_contact(a));
    c.send_agents(
        case,
        OutboundKind::AgentColleague,
        &agents,
        "agent_colleague",
        &m,
        vec![],
    )?;
    if cfg.agents.managers_act_by_mail {
        c.send_managers(
            case,
            OutboundKind::AgentColleague,
            &managers,
            "agent_colleague",
            &m,
        )?;
    }
    Ok(())
}
