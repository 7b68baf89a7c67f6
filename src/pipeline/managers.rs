//! Managers acting by mail (docs/design.md, "Agents' identity"): an `[[escalation]]` contact
//! who replies through the case's managers' reply address (`m.`) acts like an agent. Who they
//! act as is decided here; `agent::from_agent_side` checks the address and applies the reply.

use super::context::Ctx;
use crate::case::kinds::{OutboundKind, ParticipantRole};
use crate::config::{AgentConfig, Config};
use crate::mail::MailContext;
use crate::parse::InboundMessage;
use crate::store::{CaseRow, StoreError};

/// Who an escalation contact acts as, and with which role: a configured agent as that agent;
/// anybody else as a manager named by the display name of their From header, or by their
/// address (the customer reads "<name> via <support name>"). None when `from` is no contact
/// of any `[[escalation]]` rule.
pub(super) fn identity(
    cfg: &Config,
    msg: &InboundMessage,
    from: &str,
) -> Option<(AgentConfig, ParticipantRole)> {
    if from.is_empty() || !cfg.is_escalation_contact(from) {
        return None;
    }
    if let Some(a) = cfg.agent(from) {
        return Some((a.clone(), ParticipantRole::Agent));
    }
    let name = msg
        .from
        .as_ref()
        .and_then(|m| m.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(from);
    let manager = AgentConfig {
        address: from.to_string(),
        name: name.to_string(),
    };
    Some((manager, ParticipantRole::Manager))
}

/// The role someone acting on the agents' side has: agent, or manager for anybody else.
pub(super) fn role_of(cfg: &Config, address: &str) -> ParticipantRole {
    match cfg.agent(address) {
        Some(_) => ParticipantRole::Agent,
        None => ParticipantRole::Manager,
    }
}

/// Tells the person who replied something about their reply (why it did nothing, that it was
/// held...): an agent in the agents' thread; a manager with Reply-To the managers' address
/// when they may act by mail (else the agents' one, where their reply counts for nothing and
/// is not answered again).
pub(super) fn tell(
    c: &Ctx<'_, '_>,
    case: &CaseRow,
    who: &AgentConfig,
    kind: OutboundKind,
    template: &str,
    m: &MailContext,
) -> Result<(), StoreError> {
    let cfg = &c.engine.config;
    let to = [who.address.to_lowercase()];
    if role_of(cfg, &who.address) == ParticipantRole::Manager && cfg.agents.managers_act_by_mail {
        c.send_managers(case, kind, &to, template, m)
    } else {
        c.send_agents(case, kind, &to, template, m, vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};
    use std::path::Path;

    fn config() -> Config {
        Config::from_toml(
            &format!(
                "{}\n[[agents.members]]\naddress = \"ann@support.test\"\nname = \"Ann Agent\"\n\n\
                 [[escalation]]\ncontacts = [\"Mgr@support.test\", \"ann@support.test\"]\n",
                include_str!("../../tests/fixtures/config/base.toml")
            ),
            Path::new("."),
        )
        .unwrap()
    }

    fn from(header: &str) -> InboundMessage {
        let raw = format!("From: {header}\r\nTo: x@support.test\r\nSubject: Re: x\r\n\r\nok\r\n");
        parse(raw.as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn a_contact_acts_as_a_manager_named_by_their_display_name_or_address() {
        let cfg = config();
        let (m, role) = identity(
            &cfg,
            &from("Maria Manager <mgr@support.test>"),
            "mgr@support.test",
        )
        .unwrap();
        assert_eq!(
            (m.name.as_str(), role),
            ("Maria Manager", ParticipantRole::Manager)
        );
        assert_eq!(m.address, "mgr@support.test");
        let (m, _) =
            identity(&cfg, &from("\"  \" <mgr@support.test>"), "mgr@support.test").unwrap();
        assert_eq!(m.name, "mgr@support.test");
        let (m, _) = identity(&cfg, &from("mgr@support.test"), "mgr@support.test").unwrap();
        assert_eq!(m.name, "mgr@support.test");
    }

    #[test]
    fn a_contact_who_is_an_agent_acts_as_that_agent_and_nobody_else_is_a_contact() {
        let cfg = config();
        let (a, role) = identity(
            &cfg,
            &from("Whoever <ann@support.test>"),
            "ann@support.test",
        )
        .unwrap();
        assert_eq!(
            (a.name.as_str(), role),
            ("Ann Agent", ParticipantRole::Agent)
        );
        assert!(identity(&cfg, &from("Eve <eve@else.test>"), "eve@else.test").is_none());
        assert!(identity(&cfg, &from("Eve <eve@else.test>"), "").is_none());
        assert_eq!(role_of(&cfg, "ann@support.test"), ParticipantRole::Agent);
        assert_eq!(role_of(&cfg, "mgr@support.test"), ParticipantRole::Manager);
    }
}
