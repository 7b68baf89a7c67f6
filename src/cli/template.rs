//! `mailcase template preview NAME --case REF`: renders a template from the configured
//! templates folder (the admin's edited copy) for a real case, with the values the pipeline
//! would give it, so a change is seen on real data before the daemon sends it.

use std::io::Write;

use chrono::{DateTime, Utc};

use super::{find_case, CliError};
use crate::business_time::BusinessCalendar;
use crate::case::commands;
use crate::case::kinds::{AuditEvent, MessageOutcome, ParticipantRole};
use crate::case::Reference;
use crate::config::Config;
use crate::mail::{self, AckContext, AckFacts, AttachmentInfo, MailContext};
use crate::parse::answer::Answer;
use crate::render::{Rendered, Renderer};
use crate::store::{CaseView, MessageRow, Reader, Store};
use crate::thread::subject;
use crate::thread::token::TokenKey;

/// `mailcase template ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TemplateCommand {
    /// Render a template for a real case: its subject, text part and (with --html) HTML part.
    Preview {
        /// Template name without `.txt.tera`/`.html.tera`, e.g. acknowledgment, agent_new_case.
        name: String,
        /// The case whose data fills the template.
        #[arg(long = "case", value_name = "REF")]
        case: String,
        /// Print the HTML part too.
        #[arg(long)]
        html: bool,
        /// Write it in this language (a folder of the templates folder: de, fr, ja...)
        /// instead of the case's (customer mail) or the team's (agents' mail).
        #[arg(long, value_name = "CODE")]
        language: Option<String>,
    },
}

/// A rendered preview.
#[derive(Debug, Clone)]
pub struct Preview {
    pub subject: String,
    pub rendered: Rendered,
    /// The language it is written in.
    pub language: String,
}

/// The visible text of a message (as the pipeline relays it).
fn visible(m: &MessageRow) -> String {
    match m.reply_text.as_deref() {
        Some(t) if !t.trim().is_empty() => t.to_string(),
        _ => m.body_text.trim().to_string(),
    }
}

/// The attachments of a stored message as the agents' templates list them.
fn attachments(read: &Reader<'_>, m: Option<&MessageRow>, limit: u64) -> Vec<AttachmentInfo> {
    let Some(Ok(Some(Some(raw)))) = m.map(|m| read.raw_message(m.id)) else {
        return Vec::new();
    };
    crate::parse::attachment_data(&raw, 0)
        .into_iter()
        .enumerate()
        .map(|(i, a)| mail::attachment_info(i, &a.meta, a.meta.size as u64 <= limit))
        .collect()
}

/// The latest audit detail of `event` on the case (optionally only those passing `keep`).
fn last_audit(
    read: &Reader<'_>,
    case_id: i64,
    event: AuditEvent,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Result<Option<serde_json::Value>, CliError> {
    Ok(last_audit_at(read, case_id, event, keep)?.map(|(_, d)| d))
}

/// As [`last_audit`], with the time it was recorded: the `now` of the mail it led to.
fn last_audit_at(
    read: &Reader<'_>,
    case_id: i64,
    event: AuditEvent,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Result<Option<(DateTime<Utc>, serde_json::Value)>, CliError> {
    Ok(read
        .audit_of_case(Some(case_id))?
        .into_iter()
        .rev()
        .filter(|a| a.event == event)
        .filter_map(|a| {
            serde_json::from_str::<serde_json::Value>(&a.detail)
                .ok()
                .map(|d| (a.at, d))
        })
        .find(|(_, d)| keep(d)))
}

fn the_key(cfg: &Config) -> Option<TokenKey> {
    let source = cfg.token_secret_source().ok()?;
    let secret = crate::secret::read_key(&source, &cfg.secret_places()).ok()?;
    TokenKey::new(&secret).ok()
}

/// Fills the case templates' values the way the pipeline does for `name`, from what the
/// database holds about the case.
fn mail_context(
    w: mail::Words<'_>,
    lang: &str,
    renderer: &Renderer,
    read: &Reader<'_>,
    v: &CaseView,
    name: &str,
) -> Result<MailContext, CliError> {
    let (cfg, cal) = (w.cfg, w.calendar);
    let case = &v.case;
    let mut m = mail::case_mail_context(w, case, lang);
    let messages = read.messages_of_case(case.id)?;
    let by = |roles: &[ParticipantRole]| {
        messages
            .iter()
            .rev()
            .find(|m| m.role.is_some_and(|r| roles.contains(&r)))
    };
    let limit = cfg.agents.attach_limit.0;
    match name {
        "agent_new_case" => {
            // The card went out when the case opened: its first-response target then,
            // even once the case has been answered.
            m.due_local = case
                .first_response_due
                .map(|d| w.locales.date(lang, d, cal))
                .unwrap_or_default();
            let first = messages.first();
            m.text = first.map(|f| f.body_text.clone()).unwrap_or_default();
            m.attachments = attachments(read, first, limit);
        }
        "customer_agent_reply" => {
            // The latest answer relayed, read from its raw message as the pipeline reads it.
            let answer = messages
                .iter()
                .rev()
                .find(|m| m.outcome == MessageOutcome::AgentReply);
            let from = answer
                .and_then(|a| a.from_address.clone())
                .unwrap_or_default();
            let agent = cfg.agent(&from);
            m.agent_name = agent.map(|a| a.name.clone()).unwrap_or(from);
            let raw = match answer.map(|a| read.raw_message(a.id)).transpose()? {
                Some(Some(Some(raw))) => raw,
                _ => Vec::new(),
            };
            let read_answer = Answer::read(&raw, agent.map(|a| a.name.as_str()), 1 << 20);
            let text = read_answer
                .text
                .clone()
                .or_else(|| answer.map(visible))
                .unwrap_or_default();
            if let Ok(p) = commands::parse(&text) {
                m.answer_html = read_answer.relay(&commands::command_lines(&text)).html;
                m.in_answer = true;
                m.text = p.text.clone();
                if let Some(update) = p.plan(false).update {
                    mail::with_update(renderer, update, &mut m)?;
                }
            } else {
                m.text = text;
            }
        }
        "agent_colleague" => {
            // The latest agent's answer or note, as a colleague saw it.
            let latest = messages.iter().rev().find(|m| {
                matches!(
                    m.outcome,
                    MessageOutcome::AgentReply | MessageOutcome::AgentNote
                )
            });
            let from = latest
                .and_then(|a| a.from_address.clone())
                .unwrap_or_default();
            m.agent_name = cfg.agent(&from).map(|a| a.name.clone()).unwrap_or(from);
            m.in_answer = latest.is_some_and(|l| l.outcome == MessageOutcome::AgentReply);
            m.text = latest.map(visible).unwrap_or_default();
            m.notice = vec![if m.in_answer {
                format!("{} answered the customer.", m.agent_name)
            } else {
                format!("{} added an internal note.", m.agent_name)
            }];
        }
        "agent_answer_held" | "agent_notice" => {
            let held = messages
                .iter()
                .rev()
                .find(|m| m.outcome == MessageOutcome::AnswerHeld);
            m.text = held.map(visible).unwrap_or_default();
            if let Some(d) = last_audit(read, case.id, AuditEvent::AnswerHeld, |_| true)? {
                m.notice = vec![format!(
                    "Your answer was NOT sent: {}.",
                    d["reason"].as_str().unwrap_or_default()
                )];
            }
            if name == "agent_notice" {
                if let Some(d) = last_audit(read, case.id, AuditEvent::NothingChanged, |_| true)? {
                    m.notice = vec![d["reason"].as_str().unwrap_or_default().to_string()];
                }
            }
        }
        "agent_command_error" => {
            let answer = by(&[ParticipantRole::Agent, ParticipantRole::Manager]);
            m.text = answer.map(visible).unwrap_or_default();
            let from = answer
                .and_then(|a| a.from_address.clone())
                .unwrap_or_default();
            m.agent_name = cfg.agent(&from).map(|a| a.name.clone()).unwrap_or(from);
        }
        _ => {
            let latest = by(&[ParticipantRole::Customer, ParticipantRole::Cc]);
            m.text = latest.map(visible).unwrap_or_default();
            m.attachments = attachments(read, latest, limit);
            m.sender = latest
                .filter(|l| l.role == Some(ParticipantRole::Cc))
                .and_then(|l| l.from_address.clone());
        }
    }
    // A complaint that came through an agent: the card names who logged it; the card to one
    // agent and the intake help name the agent's intake address (as pipeline/customer.rs and
    // pipeline/intake.rs fill them).
    let (channel, logged_by) = read.case_channel(case.id)?;
    if let Some(by) = logged_by.as_deref() {
        let who = cfg.agent(by).map_or(by, |a| a.name.as_str());
        m.logged_by = Some(format!("{who} ({})", channel.label()));
    }
    let notify = cfg.notify_addresses();
    let agent_to = match (name, notify.as_slice()) {
        ("agent_intake_help", _) => logged_by.or_else(|| notify.first().cloned()),
        (_, [one]) => Some(one.clone()),
        _ => None,
    };
    if let Some(agent) = agent_to.as_deref().and_then(|a| cfg.agent(a)) {
        if let Some(key) = the_key(cfg) {
            m.intake_address = Some(key.intake_address(&cfg.support.address, &agent.address));
        }
        if name == "agent_intake_help" {
            m.agent_name = agent.name.clone();
            m.errors = vec![format!(
                "(preview) it was sent to {}, the customers' address: mail from an agent there opens no case, so that no agent becomes a customer",
                cfg.support.address
            )];
        }
    }
    if let Some(l) = case.linked_case_id {
        if let Some(linked) = read.case_reference(l)? {
            m.late_reply = linked.1 == case.customer_address;
            m.linked_reference = Some(linked.0);
        }
    }
    if matches!(name, "customer_merged" | "agent_merged") {
        // The case merged into this one, as the merge's mail named it.
        if let Some(d) = last_audit(read, case.id, AuditEvent::MergedFrom, |_| true)? {
            m.linked_reference = d["from"].as_str().map(String::from);
            m.late_reply = false;
        }
    }
    m.reopened = case.reopen_count > 0;
    let escalated = last_audit_at(read, case.id, AuditEvent::Status, |d| {
        d["to"] == crate::case::Status::Escalated.as_str()
    })?;
    m.reason = escalated
        .as_ref()
        .and_then(|(_, d)| d["reason"].as_str().map(String::from));
    // The mails about an escalation or a raised priority were built when it happened: the
    // target missed then, and a new timeline from then (as src/pipeline/timers.rs and
    // agent.rs build them), not from today.
    let raised_at = last_audit_at(read, case.id, AuditEvent::Priority, |_| true)?.map(|(at, _)| at);
    // A case that was never escalated or raised is shown as if it happened now.
    let now = || crate::clock::Clock::now(&crate::clock::SystemClock);
    let timeline_from = match name {
        "customer_priority_raised" => Some(raised_at.unwrap_or_else(now)),
        "customer_escalated" | "customer_update" | "manager_escalation" => {
            Some(escalated.as_ref().map_or_else(now, |(at, _)| *at))
        }
        _ => None,
    };
    if let Some(at) = timeline_from {
        if name != "manager_escalation" {
            mail::new_timeline(&mut m, w, case.priority.as_str(), at);
        }
        mail::missed_target(&mut m, case, w, at);
    }
    if name == "manager_escalation" {
        // As src/pipeline/timers.rs decides it: the contacts answer by reply when they act by
        // mail; without contacts the agents get it.
        m.answer_by_reply = cfg.agents.managers_act_by_mail
            || cfg
                .escalation_contacts(case.category.as_str(), case.priority.as_str())
                .is_empty();
    }
    if name == "agent_undeliverable" {
        if let Some(d) = last_audit(read, case.id, AuditEvent::AddressUndeliverable, |_| true)? {
            m.sender = d["address"].as_str().map(String::from);
            m.reason = d["reason"].as_str().map(String::from);
        }
    }
    if let Some(d) = last_audit(read, case.id, AuditEvent::CommandRejected, |_| true)? {
        m.errors = d["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
    }
    if name == "agent_sla_warning" {
        // The reminder goes out `sla.warning_lead` before its target, as timers.rs arms it.
        let first = case.first_response_at.is_none();
        let due = if first {
            case.first_response_due
        } else {
            case.resolution_due
        };
        let sent = due
            .map(|d| d - cfg.sla.warning_lead.chrono())
            .unwrap_or_default();
        mail::reminder(&mut m, case, w, first, sent);
    } else {
        m.sla_kind = if case.first_response_at.is_none() {
            "first response".into()
        } else {
            "resolution".into()
        };
    }
    m.history = mail::history(&messages, w, visible);
    if matches!(name, "customer_follow_up" | "customer_feedback_request") {
        let reference =
            Reference::parse(&case.reference).map_err(|e| CliError::Reference(e.to_string()))?;
        // Previewing does not need the secret; the daemon signs real links.
        m.rating_links =
            mail::rating_links(the_key(cfg).as_ref(), &cfg.support.address, &reference);
    }
    if let Some(r) = read.rating_row(case.id)? {
        m.rating = Some(r.rating);
        m.comment = r.comment;
    }
    Ok(m)
}

fn ack_context(
    w: mail::Words<'_>,
    lang: &str,
    read: &Reader<'_>,
    v: &CaseView,
) -> Result<AckContext, CliError> {
    let classifier = crate::classify::Classifier::from_config(w.cfg)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let keywords = |s: &str| classifier.hits(s);
    let found = mail::Found::from_config(w.cfg);
    let case = &v.case;
    let first = read.messages_of_case(case.id)?.into_iter().next();
    let subject = first
        .as_ref()
        .map(|f| f.subject.clone())
        .unwrap_or(case.subject.clone());
    Ok(mail::ack_context(
        w,
        AckFacts {
            language: lang,
            found: &found,
            keywords: &keywords,
            reference: &case.reference,
            customer_name: case.customer_name.clone(),
            subject: &subject,
            category: case.category.as_str(),
            priority: case.priority.as_str(),
            due: case.first_response_due,
            text: &first.as_ref().map(visible).unwrap_or_default(),
            attachments: attachments(read, first.as_ref(), u64::MAX)
                .into_iter()
                .map(|a| a.name)
                .collect(),
        },
    ))
}

/// Renders template `name` for the case `reference` with the templates in `config`'s folder.
///
/// # Errors
/// An unknown template name (listing the known ones), a template that does not load or
/// render (naming the file and the problem), or a reference that names no case.
pub fn render_preview(
    cfg: &Config,
    store: &Store,
    name: &str,
    reference: &str,
    language: Option<&str>,
) -> Result<Preview, CliError> {
    if !mail::templates().any(|t| t == name) {
        return Err(CliError::Usage(format!(
            "no template `{name}`; the templates are: {}",
            mail::templates().collect::<Vec<_>>().join(", ")
        )));
    }
    if name == crate::report::digest::TEMPLATE {
        // The digest is about a period, not a case.
        return Err(CliError::Usage(format!(
            "`{name}` is the management digest, not a case template: see it with `mailcase report --since 7d --html FILE`"
        )));
    }
    let read = store.read();
    let v = find_case(&read, reference)?;
    // As the case's queue writes it: its brand's name, templates, words and calendar.
    let queue_cfg = cfg.for_queue(v.case.queue.as_deref().unwrap_or(&cfg.default_queue(None)));
    let cfg = &queue_cfg;
    let (renderer, locales) = mail::load_all(cfg)?;
    let cal = BusinessCalendar::from_config(&cfg.calendar);
    let w = mail::Words {
        cfg,
        calendar: &cal,
        locales: &locales,
    };
    // As the pipeline writes it: customer mail in the case's language (or the one asked
    // for), agents' mail in the team's.
    let customer_side = name == mail::ACKNOWLEDGMENT || name.starts_with("customer_");
    let lang = match language {
        Some(l) if !locales.has(l) => {
            return Err(CliError::Usage(format!(
                "no language `{l}` in {}; the languages are: {}",
                cfg.templates_dir().display(),
                locales.languages().collect::<Vec<_>>().join(", ")
            )))
        }
        Some(l) => l,
        None if customer_side => locales.resolve(v.case.language.as_deref()),
        None => locales.team(),
    };
    let prefix = &cfg.support.reference_prefix;
    let r = Reference::parse(&v.case.reference).map_err(|e| CliError::Reference(e.to_string()))?;
    if name == mail::ACKNOWLEDGMENT {
        let ctx = ack_context(w, lang, &read, &v)?;
        return Ok(Preview {
            subject: subject::customer_subject(&r, &ctx.subject, prefix),
            rendered: renderer.render_in(Some(lang), name, &ctx)?,
            language: lang.to_string(),
        });
    }
    let mut ctx = mail_context(w, lang, &renderer, &read, &v, name)?;
    ctx.participants = mail::people_listed(&store.people_of(v.case.id)?);
    if name == "customer_update" {
        // As the escalation notice is built: the escalation text inside the update.
        mail::with_update(&renderer, "customer_escalated", &mut ctx)?;
    }
    let subject = if name == "agent_intake_help" {
        // Sent without a case, as pipeline/intake.rs names it.
        format!(
            "Not logged: {}",
            subject::base_subject(&v.case.subject, prefix)
        )
    } else if name.starts_with("customer_") {
        subject::customer_subject(&r, &v.case.subject, prefix)
    } else {
        subject::agent_subject(&r, &v.case.subject, prefix, subject::agent_label(name))
    };
    Ok(Preview {
        subject,
        rendered: renderer.render_in(Some(lang), name, &ctx)?,
        language: lang.to_string(),
    })
}

/// `mailcase template preview NAME --case REF [--html]`.
///
/// # Errors
/// As [`render_preview`], or the output.
pub fn preview(
    cfg: &Config,
    store: &Store,
    name: &str,
    reference: &str,
    language: Option<&str>,
    html: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let p = render_preview(cfg, store, name, reference, language)?;
    writeln!(
        out,
        "template {name} in language {} from {}",
        p.language,
        cfg.templates_dir().display()
    )?;
    writeln!(out, "Subject: {}", p.subject)?;
    writeln!(out, "\n----- text part ({name}.txt.tera) -----")?;
    writeln!(out, "{}", p.rendered.text.trim_end())?;
    if html {
        writeln!(out, "\n----- HTML part ({name}.html.tera) -----")?;
        writeln!(out, "{}", p.rendered.html.trim_end())?;
    }
    Ok(())
}
