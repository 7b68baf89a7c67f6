//! `mailcase cases` (a filtered list as a table, JSON or CSV) and `mailcase case REF` (one
//! case's whole history as one timeline, or one of its raw messages byte for byte).

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{find_case, short_utc, write_table, CliError, JudgedAt};
use crate::business_time::BusinessCalendar;
use crate::case::kinds::{
    Audience, AuditEvent, MessageOutcome, OutboundKind, OutboundState, ParticipantRole, TimerKind,
    TimerOutcome, Visibility,
};
use crate::case::{Category, Priority, Status};
use crate::config::{Config, HumanDuration};
use crate::store::{
    ser_opt_ts, ser_ts, ts, AuditRow, CaseFilter, CaseView, Matching, MessageRow, OutboxStatus,
    RatingRow, Reader, SimulatedClock, Store, TimerRow,
};

/// Options of `mailcase cases`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CasesArgs {
    /// Only cases in this status (new, acknowledged, in_progress, waiting_on_customer,
    /// escalated, resolved, closed).
    #[arg(long)]
    pub status: Option<String>,
    /// Only cases of this category (a `[[categories]]` name).
    #[arg(long)]
    pub category: Option<String>,
    /// Only cases of this priority (a `[[priorities]]` name).
    #[arg(long)]
    pub priority: Option<String>,
    /// Only cases of this queue (a `[[queue]]` name; cases from before queues are in the
    /// first).
    #[arg(long, value_name = "NAME")]
    pub queue: Option<String>,
    /// Only cases of this brand (a `[[brand]]` name).
    #[arg(long, value_name = "NAME")]
    pub brand: Option<String>,
    /// Only open cases whose first-response or resolution due time passed unmet.
    #[arg(long)]
    pub overdue: bool,
    /// Only cases of this customer address.
    #[arg(long, value_name = "ADDRESS")]
    pub customer: Option<String>,
    /// Only cases opened in this last span (`7d`, `24h`) or since this day (`2026-11-01`,
    /// midnight in the business time zone).
    #[arg(long, value_name = "SPAN|DATE")]
    pub since: Option<String>,
    /// JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (RFC 4180, one header line) instead of a table.
    #[arg(long)]
    pub csv: bool,
}

/// Options of `mailcase case`.
#[derive(Debug, Clone, clap::Args)]
pub struct CaseArgs {
    /// Reference, e.g. CMP-7KQ4X-V (lower case accepted; a typo is caught and the case
    /// meant suggested).
    pub reference: String,
    /// JSON instead of text.
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Print stored message number N of the case (as numbered in the timeline) exactly as it
    /// was received.
    #[arg(long, value_name = "N")]
    pub raw: Option<usize>,
}

/// Reads `--since`: a span back from `now`, or a day starting at midnight in `cal`'s zone.
///
/// # Errors
/// [`CliError::Usage`] naming both accepted forms.
pub fn parse_since(
    s: &str,
    now: DateTime<Utc>,
    cal: &BusinessCalendar,
) -> Result<DateTime<Utc>, CliError> {
    if let Ok(day) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        return midnight
            .and_local_timezone(cal.tz())
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| CliError::Usage(format!("--since {s}: no such local time")));
    }
    let span = HumanDuration::parse(s).map_err(|e| {
        CliError::Usage(format!(
            "--since {e}; give a span such as 7d or 24h, or a date such as 2026-11-01"
        ))
    })?;
    let span = span
        .try_chrono()
        .ok_or_else(|| CliError::Usage(format!("--since {s}: too long")))?;
    Ok(now - span)
}

/// `value` when it is one of `names`, else the message for `--{what} {value}` naming them.
///
/// # Errors
/// The message.
pub fn known_name(what: &str, value: &str, names: &[&str]) -> Result<String, String> {
    if names.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "--{what} {value}: no such {what}; known: {}",
            names.join(", ")
        ))
    }
}

fn known(what: &str, value: &str, names: &[&str]) -> Result<String, CliError> {
    known_name(what, value, names).map_err(CliError::Usage)
}

/// Turns the options into a store filter, refusing values that can match nothing.
///
/// # Errors
/// [`CliError::Usage`] for an unknown status, category, priority, queue or brand, or a bad
/// `--since`.
pub fn filter(cfg: &Config, a: &CasesArgs, now: DateTime<Utc>) -> Result<CaseFilter, CliError> {
    let statuses = Status::ALL.map(|s| s.as_str());
    let categories: Vec<&str> = cfg.categories.iter().map(|c| c.name.as_str()).collect();
    let priorities: Vec<&str> = cfg.priorities.iter().map(|p| p.name.as_str()).collect();
    let queue_names = cfg.queue_names();
    let queues: Vec<&str> = queue_names.iter().map(String::as_str).collect();
    let brand_names = cfg.brand_names();
    let brands: Vec<&str> = brand_names.iter().map(String::as_str).collect();
    // A case from before queues is in the default queue, of its brand.
    let (default_queue, default_brand) = crate::report::default_queue_and_brand(cfg);
    let matching = |what: &str, value: &Option<String>, names: &[&str], null_as: &str| {
        value
            .as_deref()
            .map(|v| {
                known(what, v, names).map(|name| Matching {
                    name,
                    null_as: null_as.to_string(),
                })
            })
            .transpose()
    };
    let cal = BusinessCalendar::from_config(&cfg.calendar);
    Ok(CaseFilter {
        status: a
            .status
            .as_deref()
            .map(|s| {
                known("status", s, &statuses)?
                    .parse()
                    .map_err(CliError::Usage)
            })
            .transpose()?,
        category: a
            .category
            .as_deref()
            .map(|s| known("category", s, &categories).map(Category::from))
            .transpose()?,
        priority: a
            .priority
            .as_deref()
            .map(|s| known("priority", s, &priorities).map(Priority::from))
            .transpose()?,
        customer: a.customer.as_deref().map(|c| c.trim().to_lowercase()),
        since: a
            .since
            .as_deref()
            .map(|s| parse_since(s, now, &cal))
            .transpose()?,
        overdue_at: a.overdue.then_some(now),
        due_by: None,
        queue: matching("queue", &a.queue, &queues, &default_queue)?,
        brand: matching("brand", &a.brand, &brands, &default_brand)?,
    })
}

/// One line of the list, as JSON and CSV carry it.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    case: &'a CaseView,
    overdue: bool,
}

/// The CSV columns, in order (new ones go at the end, so a column keeps its position).
const CSV_COLUMNS: [&str; 21] = [
    "reference",
    "status",
    "category",
    "priority",
    "customer_address",
    "customer_name",
    "subject",
    "created_at",
    "updated_at",
    "first_response_due",
    "first_response_at",
    "resolution_due",
    "resolved_at",
    "assignee",
    "overdue",
    "escalated_at",
    "legal_hold",
    "purged_at",
    "erased_at",
    "queue",
    "brand",
];

fn csv_row(v: &CaseView, overdue: bool) -> [String; 21] {
    let c = &v.case;
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    let t = |t: &Option<DateTime<Utc>>| t.map(ts).unwrap_or_default();
    [
        c.reference.clone(),
        c.status.to_string(),
        c.category.to_string(),
        c.priority.to_string(),
        c.customer_address.clone(),
        o(&c.customer_name),
        c.subject.clone(),
        ts(c.created_at),
        ts(c.updated_at),
        t(&c.first_response_due),
        t(&c.first_response_at),
        t(&c.resolution_due),
        t(&c.resolved_at),
        o(&c.assignee),
        overdue.to_string(),
        t(&v.escalated_at),
        o(&v.legal_hold),
        t(&v.purged_at),
        t(&v.erased_at),
        o(&c.queue),
        o(&c.brand),
    ]
}

/// What a person sees of a personal field: blanked ones say why.
fn personal(v: &CaseView, value: &str) -> String {
    match v.blanked() {
        Some(why) if value.is_empty() => why.to_string(),
        _ => value.to_string(),
    }
}

/// `mailcase cases`.
///
/// # Errors
/// Bad options, the store, or the output.
pub fn list(
    cfg: &Config,
    store: &Store,
    args: &CasesArgs,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let judged = JudgedAt::read(&store.read(), now)?;
    let now = judged.at;
    let f = filter(cfg, args, now)?;
    let read = store.read();
    let mut rows = read.cases_matching(&f)?;
    // Every output names the queue and brand; a case from before queues is in the default
    // queue, of its brand (as `--queue`/`--brand` match it).
    let (default_queue, default_brand) = crate::report::default_queue_and_brand(cfg);
    for v in &mut rows {
        v.case.queue.get_or_insert_with(|| default_queue.clone());
        v.case.brand.get_or_insert_with(|| default_brand.clone());
    }
    if args.json {
        let listed: Vec<Listed<'_>> = rows
            .iter()
            .map(|c| Listed {
                case: c,
                overdue: c.overdue(now),
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &listed)?;
        writeln!(out)?;
        return Ok(());
    }
    if args.csv {
        let mut w = csv::Writer::from_writer(&mut *out);
        w.write_record(CSV_COLUMNS)?;
        for c in &rows {
            w.write_record(csv_row(c, c.overdue(now)))?;
        }
        w.flush()?;
        return Ok(());
    }
    if let Some(note) = judged.note() {
        writeln!(out, "{note}")?;
    }
    // The queue, and the brand when there are several, with a config that names queues.
    let show_queue = cfg.has_queues();
    let show_brand = show_queue && cfg.brand_names().len() > 1;
    let mut header = vec!["REFERENCE", "STATUS", "CATEGORY", "PRIORITY"];
    if show_queue {
        header.push("QUEUE");
    }
    if show_brand {
        header.push("BRAND");
    }
    header.extend(["CUSTOMER", "OPENED (UTC)", "DUE (UTC)", "SUBJECT"]);
    // The survivors of merged cases, by id, for the status column.
    let mut survivors = std::collections::HashMap::new();
    for s in rows.iter().filter_map(|v| v.case.merged_into) {
        if let Some((reference, _)) = read.case_reference(s)? {
            survivors.insert(s, reference);
        }
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|v| {
            let c = &v.case;
            let due = if c.first_response_at.is_none() {
                c.first_response_due
            } else {
                c.resolution_due
            };
            let due = match (due, v.overdue(now)) {
                (Some(d), true) => format!("{} OVERDUE", short_utc(&d)),
                (Some(d), false) if !matches!(c.status, Status::Resolved | Status::Closed) => {
                    short_utc(&d)
                }
                _ => "-".into(),
            };
            // A case the loop guard stopped relays nothing until an admin resumes it; a merged
            // one lives on in its survivor.
            let status = if v.loop_stopped_at.is_some() {
                format!("{} STOPPED", c.status)
            } else if let Some(s) = c.merged_into {
                let survivor = survivors.get(&s).map_or("?", String::as_str);
                format!("{} MERGED into {survivor}", c.status)
            } else {
                c.status.to_string()
            };
            let mut row = vec![
                c.reference.clone(),
                status,
                c.category.to_string(),
                c.priority.to_string(),
            ];
            if show_queue {
                row.push(c.queue.clone().unwrap_or_default());
            }
            if show_brand {
                row.push(c.brand.clone().unwrap_or_default());
            }
            row.extend([
                personal(v, &c.customer_address),
                short_utc(&c.created_at),
                due,
                personal(v, &c.subject).chars().take(60).collect(),
            ]);
            row
        })
        .collect();
    write_table(out, &header, &table)?;
    writeln!(out, "{} case(s)", rows.len())?;
    Ok(())
}

/// One event in a case's life, as `mailcase case` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// UTC, written as stored.
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub what: What,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    /// A stored inbound message, numbered from 1 in the order received (`--raw N`).
    Message {
        number: usize,
        from: Option<String>,
        /// The role the message came in as (an escalation contact answering through the
        /// managers' reply address comes in as `manager`, through the agents' one as `agent`).
        role: Option<ParticipantRole>,
        /// Who the author is to the case, in words: `customer`, `cc`, `agent`, `manager`,
        /// `escalation contact` (a manager of `[[escalation]]` who is not an agent, writing
        /// through the agents' reply address) or `robot`.
        author: &'static str,
        outcome: MessageOutcome,
        internal: bool,
        verified: bool,
        robot: Option<String>,
        note: Option<String>,
        subject: String,
        message_id: Option<String>,
        /// What the author wrote now: quoted history and signature removed.
        text: String,
    },
    /// A status change.
    Status {
        actor: String,
        /// The actor's role on the case (`agent`, `manager`...), when they take part in it.
        #[serde(skip_serializing_if = "Option::is_none")]
        actor_role: Option<ParticipantRole>,
        from: String,
        to: String,
        reason: String,
    },
    /// Commands an agent gave at the top of a reply.
    Commands {
        actor: String,
        /// As in `Status`.
        #[serde(skip_serializing_if = "Option::is_none")]
        actor_role: Option<ParticipantRole>,
        commands: Vec<String>,
    },
    /// A deadline armed, fired or cancelled.
    Timer {
        timer: TimerKind,
        event: String,
        #[serde(serialize_with = "ser_ts")]
        target_at: DateTime<Utc>,
        #[serde(serialize_with = "ser_ts")]
        due_at: DateTime<Utc>,
        outcome: Option<TimerOutcome>,
    },
    /// Mail we queued, and how its delivery went.
    Mail {
        mail: OutboundKind,
        /// Whose thread it continues (the escalation contacts' mail goes in the agents').
        audience: Audience,
        /// Who the recipient is to the case: `customer`, `agent`, or `escalation contact`
        /// (the manager of `[[escalation]]`, who is no agent).
        recipient_role: &'static str,
        recipient: String,
        subject: String,
        status: OutboundState,
        attempts: i64,
        last_error: Option<String>,
        #[serde(serialize_with = "ser_opt_ts")]
        sent_at: Option<DateTime<Utc>>,
        message_id: String,
    },
    /// A satisfaction rating.
    Rating {
        actor: String,
        /// As in `Status`.
        #[serde(skip_serializing_if = "Option::is_none")]
        actor_role: Option<ParticipantRole>,
        rating: Option<u64>,
        comment: Option<String>,
    },
    /// Any other audit event.
    Event {
        actor: String,
        /// As in `Status`.
        #[serde(skip_serializing_if = "Option::is_none")]
        actor_role: Option<ParticipantRole>,
        event: AuditEvent,
        detail: serde_json::Value,
    },
}

impl What {
    /// Same-instant events read in this order: what came in, what it changed, what we sent.
    fn rank(&self) -> u8 {
        match self {
            What::Message { .. } => 0,
            What::Commands { .. } | What::Rating { .. } => 1,
            What::Status { .. } | What::Event { .. } => 2,
            What::Timer { .. } => 3,
            What::Mail { .. } => 4,
        }
    }
}

/// The visible text of a message: the reply without quotes, or the whole text when nothing
/// else is left (as the pipeline relays it).
fn visible(m: &MessageRow) -> String {
    match m.reply_text.as_deref() {
        Some(t) if !t.trim().is_empty() => t.trim_end().to_string(),
        _ => m.body_text.trim_end().to_string(),
    }
}

/// The escalation contacts who are not agents: the managers, who get escalations through the
/// agents' thread (lower case).
pub fn managers(cfg: &Config) -> Vec<String> {
    let mut v: Vec<String> = cfg
        .escalation
        .iter()
        .flat_map(|e| e.contacts.iter().map(|c| c.to_lowercase()))
        .filter(|c| cfg.agent(c).is_none())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Who the author of a message is to the case, in words.
fn author(m: &MessageRow, managers: &[String]) -> &'static str {
    let from = m.from_address.as_deref().map(str::to_lowercase);
    match m.role {
        Some(ParticipantRole::Agent) if from.is_some_and(|f| managers.contains(&f)) => {
            "escalation contact"
        }
        Some(r) => r.as_str(),
        None => "robot",
    }
}

fn message_entries(messages: &[MessageRow], managers: &[String]) -> Vec<Entry> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| Entry {
            at: m.received_at,
            what: What::Message {
                number: i + 1,
                from: m.from_address.clone(),
                role: m.role,
                author: author(m, managers),
                outcome: m.outcome,
                internal: m.visibility == Visibility::Internal,
                verified: m.verified,
                robot: m.robot.clone(),
                note: m.note.clone(),
                subject: m.subject.clone(),
                message_id: m.message_id.clone(),
                text: visible(m),
            },
        })
        .collect()
}

/// The audit trail's entries; `roles` (the case's participants) names each actor's role.
fn audit_entries(audit: Vec<AuditRow>, roles: &[(String, ParticipantRole)]) -> Vec<Entry> {
    let mut v = Vec::new();
    for AuditRow {
        at,
        actor,
        event,
        detail,
    } in audit
    {
        let actor_role = roles
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(&actor))
            .map(|(_, r)| *r);
        let d: serde_json::Value = serde_json::from_str(&detail).unwrap_or(detail.into());
        let s = |k: &str| d.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let what = match event {
            AuditEvent::Status => What::Status {
                actor,
                actor_role,
                from: s("from"),
                to: s("to"),
                reason: s("reason"),
            },
            // The message itself is in the timeline; only the commands it carried are news.
            AuditEvent::AgentAnswer | AuditEvent::InternalNote => {
                let commands: Vec<String> = d
                    .get("commands")
                    .and_then(|c| c.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(|c| format!("#{c}")))
                            .collect()
                    })
                    .unwrap_or_default();
                if commands.is_empty() {
                    continue;
                }
                What::Commands {
                    actor,
                    actor_role,
                    commands,
                }
            }
            AuditEvent::MessageJoined => continue,
            AuditEvent::Rated => What::Rating {
                actor,
                actor_role,
                rating: d.get("rating").and_then(|r| r.as_u64()),
                comment: d.get("comment").and_then(|c| c.as_str()).map(String::from),
            },
            _ => What::Event {
                actor,
                actor_role,
                event,
                detail: d,
            },
        };
        v.push(Entry { at, what });
    }
    v
}

fn timer_entries(timers: &[TimerRow]) -> Vec<Entry> {
    let mut v = Vec::new();
    for t in timers {
        let mut one = |at: DateTime<Utc>, event: &str, outcome: Option<TimerOutcome>| {
            v.push(Entry {
                at,
                what: What::Timer {
                    timer: t.kind,
                    event: event.into(),
                    target_at: t.target_at,
                    due_at: t.due_at,
                    outcome,
                },
            })
        };
        one(t.created_at, "armed", None);
        if let Some(f) = t.fired_at {
            one(f, "fired", t.outcome.clone());
        } else if let Some(c) = t.cancelled_at {
            one(c, "cancelled", t.outcome.clone());
        }
    }
    v
}

/// Who the recipient of mail of `kind` is to the case. Mail to the escalation contacts and
/// the digest's recipients travels in the agents' thread but goes to managers, not agents.
fn recipient_role(kind: OutboundKind, audience: Audience) -> &'static str {
    match (kind, audience) {
        (OutboundKind::Escalation, _) => "escalation contact",
        (OutboundKind::Digest, _) => "digest recipient",
        (_, Audience::Customer) => "customer",
        (_, Audience::Agent) => "agent",
    }
}

fn mail_entries(outbox: Vec<OutboxStatus>) -> Vec<Entry> {
    outbox
        .into_iter()
        .map(|o| Entry {
            at: o.created_at,
            what: What::Mail {
                mail: o.kind,
                audience: o.audience,
                recipient_role: recipient_role(o.kind, o.audience),
                recipient: o.recipient,
                subject: o.subject,
                status: o.status,
                attempts: o.attempts,
                last_error: o.last_error,
                sent_at: o.sent_at,
                message_id: o.message_id,
            },
        })
        .collect()
}

/// A case's whole history in time order; messages from `managers` (see [`managers`]) are
/// named as theirs.
///
/// # Errors
/// SQL errors.
pub fn timeline(
    read: &Reader<'_>,
    case_id: i64,
    managers: &[String],
    roles: &[(String, ParticipantRole)],
) -> Result<Vec<Entry>, CliError> {
    let mut v = message_entries(&read.messages_of_case(case_id)?, managers);
    v.extend(audit_entries(read.audit_of_case(Some(case_id))?, roles));
    v.extend(timer_entries(&read.timers(Some(case_id))?));
    v.extend(mail_entries(read.outbox(Some(case_id))?));
    // The sort is stable, so rows of one kind keep their insertion order.
    v.sort_by(|a, b| a.at.cmp(&b.at).then(a.what.rank().cmp(&b.what.rank())));
    Ok(v)
}

/// A participant of a case.
#[derive(Debug, Clone, Serialize)]
pub struct Participant {
    pub address: String,
    pub name: Option<String>,
    pub role: ParticipantRole,
    /// Mail to it bounced; nothing more is sent to it.
    pub undeliverable: bool,
    /// An agent took them off the case (`#cc remove`); nothing more is sent to them.
    pub removed: bool,
}

/// Everything `mailcase case --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub case: CaseView,
    pub overdue: bool,
    /// When `overdue` was judged: now, or the daemon's simulated clock (`simulated_clock`).
    #[serde(serialize_with = "ser_ts")]
    pub judged_at: DateTime<Utc>,
    pub simulated_clock: Option<SimulatedClock>,
    pub linked_case: Option<String>,
    /// How the complaint reached us (`email`, `forward`, `logged`).
    pub channel: crate::case::kinds::Channel,
    /// The agent who forwarded or logged it: "Carol Agent <carol@support.test>".
    pub logged_by: Option<String>,
    /// The survivor's reference when this case was merged into another (`#merge`).
    pub merged_into: Option<String>,
    pub participants: Vec<Participant>,
    pub rating: Option<RatingRow>,
    pub timeline: Vec<Entry>,
}

/// Collects a case's report.
///
/// # Errors
/// SQL errors.
pub fn report(
    cfg: &Config,
    store: &Store,
    case: CaseView,
    now: DateTime<Utc>,
) -> Result<CaseReport, CliError> {
    let read = store.read();
    let judged = JudgedAt::read(&read, now)?;
    let now = judged.at;
    let id = case.case.id;
    let linked_case = match case.case.linked_case_id {
        Some(l) => read.case_reference(l)?.map(|(reference, _)| reference),
        None => None,
    };
    let merged_into = match case.case.merged_into {
        Some(s) => read.case_reference(s)?.map(|(reference, _)| reference),
        None => None,
    };
    let participants: Vec<Participant> = store
        .people_of(id)?
        .into_iter()
        .map(|p| Participant {
            address: p.address,
            name: p.name,
            role: p.role,
            undeliverable: p.undeliverable,
            removed: p.removed,
        })
        .collect();
    let roles: Vec<(String, ParticipantRole)> = participants
        .iter()
        .map(|p| (p.address.clone(), p.role))
        .collect();
    let (channel, logged_by) = read.case_channel(id)?;
    let logged_by = logged_by.map(|a| match cfg.agent(&a) {
        Some(agent) => format!("{} <{a}>", agent.name),
        None => a,
    });
    Ok(CaseReport {
        overdue: case.overdue(now),
        judged_at: now,
        simulated_clock: judged.simulated,
        linked_case,
        channel,
        logged_by,
        merged_into,
        participants,
        rating: read.rating_row(id)?,
        timeline: timeline(&read, id, &managers(cfg), &roles)?,
        case,
    })
}

fn indent(out: &mut dyn Write, text: &str) -> std::io::Result<()> {
    for l in text.lines() {
        writeln!(out, "      | {l}")?;
    }
    Ok(())
}

/// Who did it: the actor, with their role on the case when they take part in it
/// (`mgr@example.com (manager)`).
fn by(actor: &str, role: &Option<ParticipantRole>) -> String {
    match role {
        Some(r) => format!("{actor} ({r})"),
        None => actor.to_string(),
    }
}

fn write_entry(out: &mut dyn Write, e: &Entry) -> std::io::Result<()> {
    let at = short_utc(&e.at);
    match &e.what {
        What::Message {
            number,
            from,
            author,
            outcome,
            internal,
            verified,
            robot,
            note,
            text,
            ..
        } => {
            // Robots' mail and mail a flood cap held are internal too, but nobody wrote them
            // as a note.
            let label = if robot.is_some() {
                "robot message"
            } else if *outcome == MessageOutcome::FloodJoined {
                "held message (flood)"
            } else if *internal {
                "internal note"
            } else {
                "message"
            };
            writeln!(
                out,
                "{at}  {label} #{number} from {} ({}) [{outcome}]{}{}",
                from.as_deref().unwrap_or("?"),
                author,
                if *verified { "" } else { " UNVERIFIED" },
                robot
                    .as_deref()
                    .map(|r| format!(" robot: {r}"))
                    .unwrap_or_default()
            )?;
            if let Some(n) = note {
                writeln!(out, "      ({n})")?;
            }
            indent(out, text)?;
        }
        What::Status {
            actor,
            actor_role,
            from,
            to,
            reason,
        } => writeln!(
            out,
            "{at}  status {from} → {to} by {}: {reason}",
            by(actor, actor_role)
        )?,
        What::Commands {
            actor,
            actor_role,
            commands,
        } => writeln!(
            out,
            "{at}  commands {} by {}",
            commands.join(" "),
            by(actor, actor_role)
        )?,
        What::Timer {
            timer,
            event,
            target_at,
            due_at,
            outcome,
        } => {
            let when = if due_at == target_at {
                format!("due {}", short_utc(target_at))
            } else {
                format!(
                    "due {} (send window; target {})",
                    short_utc(due_at),
                    short_utc(target_at)
                )
            };
            writeln!(
                out,
                "{at}  timer {timer} {event}, {when}{}",
                outcome
                    .as_ref()
                    .map(|o| format!(": {o}"))
                    .unwrap_or_default()
            )?
        }
        What::Mail {
            mail,
            recipient_role,
            recipient,
            subject,
            status,
            attempts,
            last_error,
            sent_at,
            ..
        } => {
            let delivery = match (status, sent_at) {
                (OutboundState::Sent, Some(s)) => {
                    format!("sent {} after {attempts} attempt(s)", short_utc(s))
                }
                _ => format!("{status}, {attempts} attempt(s)"),
            };
            writeln!(
                out,
                "{at}  mail {mail} to {recipient_role} {recipient} [{delivery}{}] {subject}",
                last_error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            )?
        }
        What::Rating {
            actor,
            actor_role,
            rating,
            comment,
        } => writeln!(
            out,
            "{at}  rating {}/5 by {}{}",
            rating.map(|r| r.to_string()).unwrap_or("?".into()),
            by(actor, actor_role),
            comment
                .as_deref()
                .map(|c| format!(" \"{c}\""))
                .unwrap_or_default()
        )?,
        What::Event {
            actor,
            actor_role,
            event,
            detail,
        } => {
            let words = super::audit::describe(*event, detail);
            let name = event.as_str().replace('_', " ");
            let actor = by(actor, actor_role);
            if words.is_empty() {
                writeln!(out, "{at}  {name} (by {actor})")?
            } else {
                writeln!(out, "{at}  {name}: {words} (by {actor})")?
            }
        }
    }
    Ok(())
}

fn write_report(out: &mut dyn Write, r: &CaseReport) -> std::io::Result<()> {
    let v = &r.case;
    let c = &v.case;
    let utc = |t: &DateTime<Utc>| format!("{} UTC", short_utc(t));
    let dash = |t: &Option<DateTime<Utc>>| t.as_ref().map(utc).unwrap_or("-".into());
    writeln!(out, "{}  {}", c.reference, personal(v, &c.subject))?;
    writeln!(
        out,
        "status {}  category {}  priority {}  customer {}{}",
        c.status,
        c.category,
        c.priority,
        c.customer_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(|n| format!("{n} "))
            .unwrap_or_default(),
        personal(v, &c.customer_address)
    )?;
    writeln!(
        out,
        "opened {}  first response due {}  answered {}  resolution due {}{}",
        utc(&c.created_at),
        dash(&c.first_response_due),
        dash(&c.first_response_at),
        dash(&c.resolution_due),
        if r.overdue { "  OVERDUE" } else { "" }
    )?;
    writeln!(
        out,
        "came in by {}{}",
        r.channel.label(),
        r.logged_by
            .as_deref()
            .map(|a| format!(", logged by {a}"))
            .unwrap_or_default()
    )?;
    // A config with queues (a one-queue config names its one queue `default`).
    if let Some(q) = c.queue.as_deref().filter(|q| *q != crate::config::DEFAULT) {
        writeln!(
            out,
            "queue {q}  brand {}  answers from {}",
            c.brand.as_deref().unwrap_or("-"),
            c.our_address
                .as_deref()
                .unwrap_or("the brand's reply address (none of ours was written to)")
        )?;
    }
    if let Some(note) = (JudgedAt {
        at: r.judged_at,
        simulated: r.simulated_clock.clone(),
    })
    .note()
    {
        writeln!(out, "{note}")?;
    }
    if let Some(s) = &r.merged_into {
        writeln!(
            out,
            "MERGED into {s}: this case is closed, its messages and participants moved to {s}, \
             and mail to it joins {s} (`mailcase case {s}`)"
        )?;
    }
    if let Some(at) = &v.loop_stopped_at {
        writeln!(
            out,
            "relaying stopped {} as a mail loop: nothing is sent on this case until `mailcase resume {}`",
            utc(at),
            c.reference
        )?;
    }
    writeln!(
        out,
        "assigned to {}  language {}  resolved {}  reopened {} time(s){}{}",
        c.assignee.as_deref().unwrap_or("-"),
        c.language.as_deref().unwrap_or("default"),
        dash(&c.resolved_at),
        c.reopen_count,
        c.sla_paused_at
            .map(|p| format!("  SLA clock paused since {}", utc(&p)))
            .unwrap_or_default(),
        r.linked_case
            .as_deref()
            .map(|l| format!("  linked to {l}"))
            .unwrap_or_default()
    )?;
    if let Some(h) = &v.legal_hold {
        writeln!(out, "LEGAL HOLD: {h}")?;
    }
    if let Some(t) = &v.erased_at {
        writeln!(
            out,
            "personal data erased {} (data-protection request)",
            utc(t)
        )?;
    } else if let Some(t) = &v.purged_at {
        writeln!(out, "personal data purged {} (retention)", utc(t))?;
    }
    if let Some(rt) = &r.rating {
        writeln!(
            out,
            "rating {}/5{}",
            rt.rating,
            rt.comment
                .as_deref()
                .map(|c| format!(" \"{c}\""))
                .unwrap_or_default()
        )?;
    }
    writeln!(out, "\nparticipants:")?;
    for p in &r.participants {
        writeln!(
            out,
            "  {}{} ({}){}",
            p.name
                .as_deref()
                .map(|n| format!("{n} "))
                .unwrap_or_default(),
            p.address,
            p.role,
            if p.removed {
                "  REMOVED by an agent: nothing more is sent"
            } else if p.undeliverable {
                "  UNDELIVERABLE: mail to it bounced; nothing more is sent"
            } else {
                ""
            }
        )?;
    }
    writeln!(out, "\ntimeline (UTC):")?;
    for e in &r.timeline {
        write_entry(out, e)?;
    }
    Ok(())
}

/// `mailcase case REF [--json | --raw N]`.
///
/// # Errors
/// A reference that names no case (with suggestions), a message number out of range or
/// without stored bytes, the store, or the output.
pub fn show(
    cfg: &Config,
    store: &Store,
    args: &CaseArgs,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let read = store.read();
    let case = find_case(&read, &args.reference)?;
    if let Some(n) = args.raw {
        let messages = read.messages_of_case(case.case.id)?;
        let Some(m) = n.checked_sub(1).and_then(|i| messages.get(i)) else {
            return Err(CliError::Usage(format!(
                "case {} has {count} message(s), numbered 1 to {count} in its timeline; there is no #{n}",
                case.case.reference,
                count = messages.len()
            )));
        };
        return match read.raw_message(m.id)? {
            Some(Some(raw)) => {
                out.write_all(&raw)?;
                out.flush()?;
                Ok(())
            }
            _ => Err(CliError::Usage(format!(
                "message #{n} of {} has no stored bytes{}",
                case.case.reference,
                case.blanked().map(|b| format!(" {b}")).unwrap_or_default()
            ))),
        };
    }
    let r = report(cfg, store, case, now)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &r)?;
        writeln!(out)?;
    } else {
        write_report(out, &r)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn printed(e: &Entry) -> String {
        let mut out = Vec::new();
        write_entry(&mut out, e).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn audit_actors_are_named_with_their_role_on_the_case() {
        let roles = vec![
            ("mgr@support.test".to_string(), ParticipantRole::Manager),
            ("ann@support.test".to_string(), ParticipantRole::Agent),
        ];
        let row = |actor: &str, event, detail: &str| AuditRow {
            at: utc("2026-11-23T11:30:00Z"),
            actor: actor.into(),
            event,
            detail: detail.into(),
        };
        let entries = audit_entries(
            vec![
                row(
                    "MGR@support.test",
                    AuditEvent::Status,
                    r##"{"from":"escalated","to":"resolved","reason":"#resolve"}"##,
                ),
                row(
                    "mgr@support.test",
                    AuditEvent::AgentAnswer,
                    r#"{"commands":["resolve"],"relayed":true}"#,
                ),
                row("ann@support.test", AuditEvent::FirstResponse, "{}"),
                row("system", AuditEvent::EscalationNotified, "{}"),
            ],
            &roles,
        );
        let lines: Vec<String> = entries.iter().map(printed).collect();
        assert!(
            lines[0].contains("escalated → resolved by MGR@support.test (manager): #resolve"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("commands #resolve by mgr@support.test (manager)"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].contains("(by ann@support.test (agent))"),
            "{}",
            lines[2]
        );
        assert!(lines[3].contains("(by system)"), "{}", lines[3]);
        let json = serde_json::to_value(&entries[0]).unwrap();
        assert_eq!(json["actor_role"], "manager");
        assert!(serde_json::to_value(&entries[3]).unwrap()["actor_role"].is_null());
    }

    #[test]
    fn the_manager_is_named_escalation_contact_not_agent() {
        let cfg = Config::from_toml(
            &format!(
                "{}\n[[agents.members]]\naddress = \"Ann@support.test\"\nname = \"Ann\"\n\n[[escalation]]\ncontacts = [\"Mgr@support.test\", \"ann@support.test\"]\n",
                include_str!("../../tests/fixtures/config/base.toml")
            ),
            std::path::Path::new("."),
        )
        .unwrap();
        // An agent who is also an escalation contact stays an agent.
        assert_eq!(managers(&cfg), vec!["mgr@support.test"]);

        // The escalation digest goes through the agents' thread, to the manager.
        let mail = |kind, audience, recipient: &str| Entry {
            at: utc("2026-11-23T11:16:28Z"),
            what: What::Mail {
                mail: kind,
                audience,
                recipient_role: recipient_role(kind, audience),
                recipient: recipient.into(),
                subject: "Re: [CMP-0E928-A] Website down!!".into(),
                status: OutboundState::Sent,
                attempts: 1,
                last_error: None,
                sent_at: Some(utc("2026-11-23T11:16:30Z")),
                message_id: "<m@x>".into(),
            },
        };
        let line = printed(&mail(
            OutboundKind::Escalation,
            Audience::Agent,
            "mgr@support.test",
        ));
        assert!(
            line.contains("mail escalation to escalation contact mgr@support.test"),
            "{line}"
        );
        let line = printed(&mail(
            OutboundKind::AgentNewCase,
            Audience::Agent,
            "ann@support.test",
        ));
        assert!(line.contains("to agent ann@support.test"), "{line}");

        // The manager answering the escalation (through the agents' reply address) comes in
        // as an agent's unverified note; the timeline names the manager's role.
        let message = |from: &str| MessageRow {
            id: 1,
            case_id: Some(1),
            message_id: None,
            from_address: Some(from.into()),
            subject: "Re: x".into(),
            received_at: utc("2026-11-23T11:30:00Z"),
            body_text: "On it.".into(),
            robot: None,
            outcome: MessageOutcome::UnverifiedNote,
            reply_text: None,
            role: Some(ParticipantRole::Agent),
            visibility: Visibility::Internal,
            verified: false,
            note: None,
        };
        let m = managers(&cfg);
        let from_manager = &message_entries(&[message("MGR@support.test")], &m)[0];
        let line = printed(from_manager);
        assert!(
            line.contains("from MGR@support.test (escalation contact)"),
            "{line}"
        );
        let from_ann = &message_entries(&[message("ann@support.test")], &m)[0];
        assert!(printed(from_ann).contains("(agent)"));

        // Through the managers' reply address, the manager's message has a role of its own.
        let mut acted = message("mgr@support.test");
        acted.role = Some(ParticipantRole::Manager);
        acted.outcome = MessageOutcome::AgentReply;
        acted.verified = true;
        let line = printed(&message_entries(&[acted], &m)[0]);
        assert!(line.contains("from mgr@support.test (manager)"), "{line}");
    }
}
