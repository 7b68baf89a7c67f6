//! Complaints that come through an agent: a customer's mail an agent forwards, and a
//! complaint made by phone or at the counter that an agent logs (docs/design.md, "Complaints
//! that come through an agent").
//!
//! Mail from a configured agent address that threads into no case comes here instead of
//! opening a case for the agent. It opens a case only when it comes through the agent's own
//! intake address (`support+i.<mac>@...`, bound to their From; [`TokenKey::intake`]) and, in
//! the strict mode, passes the same Authentication-Results check as an answer. Then:
//!
//! * `#log Name <customer@address>` at the top: a case for that customer, the text under the
//!   command lines the complaint, the mail's subject the case's;
//! * otherwise a forward ([`forward::find`]): a case for the original sender, the original
//!   text the complaint, what the agent wrote above it an internal note.
//!
//! The customer is acknowledged (never the agent) unless `#noack` is among the command lines.
//! Anything else (the plain support address, another agent's intake address, a forward
//! without a readable sender, a bad `#log`) opens no case and answers no customer: the mail is
//! stored without a case, audited `intake_refused`, and the real agent gets one help mail,
//! at most one per [`HELP_INTERVAL_MINUTES`], so that two robots cannot loop on it.
//!
//! [`TokenKey::intake`]: crate::thread::token::TokenKey::intake

use chrono::Duration;

use super::agent::authenticated;
use super::context::{visible, Ctx};
use super::{open_case_via, Inbound, Outcome, Via};
use crate::case::commands::is_command_line;
use crate::case::kinds::{
    Audience, AuditEvent, Channel, MessageOutcome, OutboundKind, ParticipantRole, Visibility,
};
use crate::config::AgentConfig;
use crate::outbox::compose::{self, Outgoing, Recipient};
use crate::parse::forward::{self, Forward};
use crate::parse::{quoted, InboundMessage, Mailbox};
use crate::store::{NewMessage, NewOutbound, StoreError};
use crate::thread::subject;
use crate::thread::token::Intake;

/// The help mail goes to one agent at most once in this many minutes...
pub(super) const HELP_INTERVAL_MINUTES: i64 = 10;
/// ...and at most this many times a day: a robot that answers every help mail without
/// marking itself gets a few, not one every ten minutes for ever.
pub(super) const HELP_PER_DAY: i64 = 6;

/// The intake template (the help mail to an agent whose mail opened no case).
const HELP_TEMPLATE: &str = "agent_intake_help";

/// What the command lines at the top of an agent's intake mail ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Commands {
    /// `#log Name <address>`: the customer of a phone or counter complaint.
    pub log: Option<Mailbox>,
    /// `#noack`: the customer gets no acknowledgment.
    pub noack: bool,
}

/// Reads the command lines at the top of `text` (blank lines between them allowed) and
/// returns them with the text under them.
///
/// # Errors
/// Every problem found, as the agent is told it.
pub(super) fn read_commands(text: &str) -> Result<(Commands, String), Vec<String>> {
    let mut c = Commands::default();
    let mut errors = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if line.is_empty() {
            i += 1;
            continue;
        }
        if !is_command_line(line) {
            break;
        }
        let (name, arg) = line[1..]
            .split_once(char::is_whitespace)
            .map_or((&line[1..], ""), |(n, a)| (n, a.trim()));
        match name.to_lowercase().as_str() {
            "log" if c.log.is_some() => {
                errors.push(format!("{line}: only one #log per message (one customer)"))
            }
            "log" if arg.is_empty() => errors.push(format!(
                "{line}: #log needs the customer, as in #log Jane Doe <jane@example.com>"
            )),
            "log" => match forward::mailbox(arg) {
                Some(m) => c.log = Some(m),
                None => errors.push(format!(
                    "{line}: \"{arg}\" is no e-mail address; write #log Jane Doe <jane@example.com> or #log jane@example.com"
                )),
            },
            "noack" if arg.is_empty() => c.noack = true,
            "noack" => errors.push(format!("{line}: #noack takes nothing after it")),
            other => {
                let hint = if other.contains("ack") {
                    "; did you mean #noack?"
                } else if other.contains("log") || other.starts_with('l') {
                    "; did you mean #log?"
                } else {
                    ""
                };
                errors.push(format!(
                    "{line}: not a command of the intake address (only #log and #noack are read here){hint}"
                ));
            }
        }
        i += 1;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((c, lines[i.min(lines.len())..].join("\n")))
}

/// The text under the command lines of `text`.
fn without_commands(text: &str) -> String {
    text.lines()
        .skip_while(|l| l.trim().is_empty() || is_command_line(l))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Mail from the configured agent `agent` that threads into no case: a new case for the
/// customer it names, or none and the agent told why.
pub(super) fn from_agent(
    c: &Ctx<'_, '_>,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
) -> Result<Outcome, StoreError> {
    let cfg = &c.engine.config;
    let from = msg.from_address().unwrap_or_default();
    let support = &cfg.support.address;
    match c.engine.intake(msg, &from) {
        Intake::Own => {}
        Intake::Absent => {
            let mut why = vec![format!(
                "it was sent to {support}, the customers' address: mail from an agent there opens no case, so that no agent becomes a customer"
            )];
            // Tell the real agent when the mail did not come from them.
            if let Err(e) = authenticated(c, msg, &from) {
                why.push(format!(
                    "it did not prove it came from you ({e}): if you did not send it, someone is writing in your name"
                ));
            }
            return refuse(c, msg, item, agent, why);
        }
        Intake::NotOwn => {
            return refuse(
                c,
                msg,
                item,
                agent,
                vec!["it was sent to an intake address that is not yours: each agent's intake address works only with mail from that agent's own address".into()],
            )
        }
    }
    if let Err(e) = authenticated(c, msg, &from) {
        return refuse(
            c,
            msg,
            item,
            agent,
            vec![format!(
                "it did not prove it came from you ({e}): if you did not send it, someone is writing in your name"
            )],
        );
    }
    let (commands, rest) = match read_commands(&msg.text) {
        Ok(r) => r,
        Err(errors) => return refuse(c, msg, item, agent, errors),
    };
    let noack = commands.noack;
    let k = match complaint(c, msg, item, commands, &rest) {
        Ok(k) => k,
        Err(why) => return refuse(c, msg, item, agent, vec![why]),
    };
    let via = Via {
        channel: k.channel,
        agent,
        ack: !noack,
        note: k.note.as_deref(),
        original_id: k.original_id.as_deref(),
    };
    let outcome = open_case_via(
        c.tx,
        c.engine,
        &k.original,
        item,
        None,
        Some(&via),
        None,
        c.now,
    )?;
    if let Outcome::NewCase { reference, .. } = &outcome {
        if let Some(case) = c.tx.case_by_reference(reference)? {
            c.tx.add_participant(
                case.id,
                &from,
                Some(&agent.name),
                ParticipantRole::Agent,
                c.now,
            )?;
            if let Some(text) = &k.note {
                record_note(c, case.id, msg, agent, text)?;
            }
        }
    }
    Ok(outcome)
}

/// The complaint an agent's intake mail carries, ready to open a case with.
struct Complaint {
    /// The agent's mail as the customer's: From the customer, the original's subject and
    /// text (the agent's Message-ID and raw bytes stay, for dedupe and the record).
    original: InboundMessage,
    channel: Channel,
    /// What the agent wrote above a forward.
    note: Option<String>,
    /// The forwarded original's Message-ID (attached originals only).
    original_id: Option<String>,
}

/// Reads the complaint of an agent's verified intake mail: `#log`'s customer and the text
/// under the command lines (`rest`), else the forwarded original.
///
/// # Errors
/// Why there is no complaint to open a case with, as the agent is told it.
fn complaint(
    c: &Ctx<'_, '_>,
    msg: &InboundMessage,
    item: &Inbound,
    commands: Commands,
    rest: &str,
) -> Result<Complaint, String> {
    let cfg = &c.engine.config;
    let mut original = msg.clone();
    let (customer, channel, note, original_id) = if let Some(who) = commands.log {
        let text = quoted::visible_text(rest);
        if text.trim().is_empty() {
            return Err("#log needs the complaint, in the lines under the command lines".into());
        }
        original.text = text.clone();
        original.reply_text = text;
        (who, Channel::Logged, None, None)
    } else {
        let f = match forward::find(&item.raw, msg, &c.engine.limits) {
            Forward::Found(f) => f,
            Forward::NoSender { why, .. } => {
                return Err(format!(
                    "{why}, so the customer is unknown: forward the customer's mail as an attachment, or write #log Name <customer@address> above the forward"
                ))
            }
            Forward::NotFound => {
                return Err("it is neither a forwarded mail (no forwarded message's From line was found) nor a #log: nobody to open a case for".into())
            }
        };
        original.subject = match f.subject.as_deref() {
            Some(s) => s.to_string(),
            None => subject::base_subject(&msg.subject, &cfg.support.reference_prefix),
        };
        original.reply_text = quoted::visible_text(&f.text);
        original.text = f.text;
        if f.attached {
            original.attachments = f.attachments;
        }
        if let Some(d) = f.date {
            original.date = Some(d.with_timezone(&chrono::Utc));
        }
        let note = Some(without_commands(&f.agent_text)).filter(|n| !n.is_empty());
        (f.sender, Channel::Forward, note, f.message_id)
    };
    let who = customer.normalized();
    if cfg.agent(&who).is_some() || crate::classify::robot::is_own(&c.engine.own, &who) {
        return Err(format!(
            "the customer would be {who}, an agent's or our own address: forward the customer's mail itself, or use #log with the customer's address"
        ));
    }
    original.from = Some(customer);
    original.reply_to = None;
    original.sender = None;
    // Whom the agent wrote to (the intake address, colleagues in Cc) are not the customer's
    // people: nobody joins the case from the agent's header.
    original.to.clear();
    original.cc.clear();
    original.html_only = false;
    Ok(Complaint {
        original,
        channel,
        note,
        original_id,
    })
}

/// What the agent wrote above a forward, as an internal note on the case: a row of its own
/// (the complaint's row keeps the raw mail), with no Message-ID, so it never dedupes or
/// threads anything.
fn record_note(
    c: &Ctx<'_, '_>,
    case_id: i64,
    msg: &InboundMessage,
    agent: &AgentConfig,
    text: &str,
) -> Result<(), StoreError> {
    let mut note = msg.clone();
    note.message_id = None;
    note.id_collision = None;
    note.content_hash = format!("{}:intake-note", msg.content_hash);
    note.text = text.to_string();
    note.reply_text = text.to_string();
    note.attachments.clear();
    let from = agent.address.to_lowercase();
    c.tx.insert_message(&NewMessage {
        case_id: Some(case_id),
        source: None,
        msg: &note,
        received_at: c.now,
        robot: None,
        outcome: MessageOutcome::AgentNote,
        raw: &[],
        role: Some(ParticipantRole::Agent),
        visibility: Visibility::Internal,
        verified: true,
        note: Some("written by the agent above the forwarded complaint"),
    })?;
    c.tx.audit(
        Some(case_id),
        c.now,
        &from,
        AuditEvent::InternalNote,
        &serde_json::json!({"message_id": msg.message_id, "commands": [], "relayed": false}),
    )?;
    Ok(())
}

/// An agent's mail that opens no case: stored without one, audited, and the real agent
/// (the configured address, whatever the mail's From says) told why and what to do instead.
fn refuse(
    c: &Ctx<'_, '_>,
    msg: &InboundMessage,
    item: &Inbound,
    agent: &AgentConfig,
    why: Vec<String>,
) -> Result<Outcome, StoreError> {
    let reason = why.join("; ");
    let to = agent.address.to_lowercase();
    c.tx.insert_message(&NewMessage {
        case_id: None,
        source: item.source.as_ref(),
        msg,
        received_at: c.now,
        robot: None,
        outcome: MessageOutcome::IntakeRefused,
        raw: &item.raw,
        role: Some(ParticipantRole::Agent),
        visibility: Visibility::Internal,
        verified: false,
        note: Some(&reason),
    })?;
    c.tx.audit(
        None,
        c.now,
        &msg.from_address().unwrap_or_else(|| "unknown".into()),
        AuditEvent::IntakeRefused,
        &serde_json::json!({"message_id": msg.message_id, "subject": msg.subject, "reason": reason}),
    )?;
    send_help(c, msg, agent, &to, why)?;
    Ok(Outcome::Ignored {
        reason: format!("agent mail opened no case: {reason}"),
    })
}

/// The help mail, from the support name to the agent alone, unless one went to them within
/// [`HELP_INTERVAL_MINUTES`] (audited `not_sent`): an agent's auto-reply that slipped past the
/// robot rules gets one answer, not a loop.
fn send_help(
    c: &Ctx<'_, '_>,
    msg: &InboundMessage,
    agent: &AgentConfig,
    to: &str,
    why: Vec<String>,
) -> Result<(), StoreError> {
    let cfg = &c.engine.config;
    let kind = OutboundKind::AgentIntakeHelp;
    let recent =
        c.tx.count_outbound_to(to, kind, c.now - Duration::minutes(HELP_INTERVAL_MINUTES))?;
    let today =
        c.tx.count_outbound_to(to, kind, c.now - Duration::days(1))?;
    let held = if recent > 0 {
        Some(format!(
            "a help mail went to {to} within the last {HELP_INTERVAL_MINUTES} minutes"
        ))
    } else if today >= HELP_PER_DAY {
        Some(format!(
            "{today} help mails went to {to} within the last day (at most {HELP_PER_DAY})"
        ))
    } else {
        None
    };
    if let Some(reason) = held {
        c.tx.audit(
            None,
            c.now,
            "system",
            AuditEvent::NotSent,
            &serde_json::json!({"kind": kind, "reason": reason}),
        )?;
        return Ok(());
    }
    let base = subject::base_subject(&msg.subject, &cfg.support.reference_prefix);
    let intake = c.engine.tokens.intake_address(&cfg.support.address, to);
    let m = crate::mail::MailContext {
        support_name: cfg.support.name.clone(),
        subject: if base.is_empty() {
            "(no subject)".into()
        } else {
            base.clone()
        },
        agent_name: agent.name.clone(),
        errors: why,
        text: visible(msg),
        intake_address: Some(intake.clone()),
        help: crate::mail::help_lines_for(cfg.has_queues()),
        ..Default::default()
    };
    let rendered = c
        .engine
        .renderer
        .render(HELP_TEMPLATE, &m)
        .map_err(|e| StoreError::Data(e.to_string()))?;
    let subject: String = format!("Not logged: {base}").chars().take(200).collect();
    let message_id = compose::new_message_id("intake", &c.engine.domain);
    let body = compose::build(&Outgoing {
        from_name: cfg.support.name.clone(),
        from_address: cfg.support.address.clone(),
        to: vec![Recipient {
            name: Some(agent.name.clone()),
            address: to.to_string(),
        }],
        cc: vec![],
        // A reply goes to their intake address: `#log` lines answered to this mail work.
        reply_to: Some(intake),
        reply_to_name: Some(format!("{}, your intake address", cfg.support.name)),
        subject: subject.clone(),
        message_id: message_id.clone(),
        in_reply_to: msg.message_id.clone(),
        references: msg.message_id.iter().cloned().collect(),
        auto_submitted: Some("auto-replied"),
        text: rendered.text,
        html: Some(rendered.html),
        attachments: vec![],
        date: c.now,
    })
    // Agent addresses are validated config, so this is a bug, not bad input.
    .map_err(|e| StoreError::Data(e.to_string()))?;
    c.tx.enqueue(&NewOutbound {
        case_id: None,
        kind: OutboundKind::AgentIntakeHelp,
        automatic: true,
        message_id: &message_id,
        envelope_from: &cfg.support.address,
        recipient: to,
        subject: &subject,
        body: &body,
        now: c.now,
        audience: Audience::Agent,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_and_noack_are_read_from_the_top() {
        let (c, rest) = read_commands(
            "#log Jane Doe <jane@customer.test>\n#noack\n\nShe called: the kettle broke.\n",
        )
        .unwrap();
        assert_eq!(
            c.log.as_ref().map(|m| m.address.as_str()),
            Some("jane@customer.test")
        );
        assert_eq!(c.log.and_then(|m| m.name).as_deref(), Some("Jane Doe"));
        assert!(c.noack);
        assert_eq!(rest.trim(), "She called: the kettle broke.");
        let (c, _) = read_commands("#LOG jane@customer.test\nText").unwrap();
        assert_eq!(c.log.map(|m| m.name), Some(None));
        let (c, rest) = read_commands("FYI\n#noack").unwrap();
        assert_eq!(c, Commands::default(), "commands only at the top");
        assert_eq!(rest, "FYI\n#noack");
    }

    #[test]
    fn bad_intake_commands_are_all_named() {
        let e = read_commands("#log Jane Doe\n#nack\n#priority high\nText").unwrap_err();
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("no e-mail address"), "{}", e[0]);
        assert!(e[1].contains("did you mean #noack"), "{}", e[1]);
        assert!(e[2].contains("only #log and #noack"), "{}", e[2]);
        assert!(read_commands("#log\nText").unwrap_err()[0].contains("needs the customer"));
    }

    #[test]
    fn the_note_is_the_text_under_the_command_lines() {
        assert_eq!(
            without_commands("#noack\n\nPlease call her back."),
            "Please call her back."
        );
        assert_eq!(without_commands("#noack"), "");
    }
}
