//! The values of each mail, filled from a case: the builders the pipeline uses for the mail
//! it queues and `mailcase template preview` uses to show an admin the same mail.

use chrono::{DateTime, Utc};

use super::format::{excerpt, human_size, human_span, relative, with_line_breaks, wrap};

/// Width of the acknowledgment's excerpt lines in the text part: 72 columns less the
/// template's `  > ` in front of each.
const EXCERPT_WIDTH: usize = 68;
use super::context::FoundItem;
use super::restate::{restate, Found};
use super::{AckContext, AttachmentInfo, HistoryLine, MailContext, RatingLink};
use crate::business_time::BusinessCalendar;
use crate::case::service_level::ServiceLevel;
use crate::case::Reference;
use crate::config::Config;
use crate::locale::Locales;
use crate::parse::Attachment;
use crate::store::{CaseRow, MessageRow};
use crate::thread::subject;
use crate::thread::token::TokenKey;

/// Where the words of a mail come from: the config (labels, service levels), the business
/// calendar (dates) and the languages.
#[derive(Clone, Copy)]
pub struct Words<'a> {
    pub cfg: &'a Config,
    pub calendar: &'a BusinessCalendar,
    pub locales: &'a Locales,
}

impl Words<'_> {
    /// A time in the business time zone as agents and managers read it (the team's
    /// language): "Tuesday 24 November 2026, 10:00 CET".
    pub fn team_date(&self, t: DateTime<Utc>) -> String {
        self.locales.date(self.locales.team(), t, self.calendar)
    }
}

/// The values every case template sees, filled from the case, written in `lang` (the team's
/// for agents' mail, the case's for its customer's): what the pipeline starts from for each
/// mail, and what `mailcase template preview` shows an admin.
pub fn case_mail_context(w: Words<'_>, case: &CaseRow, lang: &str) -> MailContext {
    let cfg = w.cfg;
    let due = if case.first_response_at.is_none() {
        case.first_response_due
    } else {
        None
    };
    // Queue, brand and address written to are shown where the config has queues.
    let queues = cfg.has_queues();
    let mut m = MailContext {
        reference: case.reference.clone(),
        support_name: cfg.support.name.clone(),
        signature: cfg.support.signature.clone().unwrap_or_default(),
        customer_name: case.customer_name.clone().filter(|n| !n.trim().is_empty()),
        customer_address: case.customer_address.clone(),
        subject: subject::base_subject(&case.subject, &cfg.support.reference_prefix),
        status: case.status.to_string(),
        status_label: case.status.agent_label().into(),
        customer_status: case.status.customer_label().into(),
        help: crate::mail::help_lines_for(queues),
        priority_names: cfg.priorities.iter().map(|p| p.name.clone()).collect(),
        category_names: cfg.categories.iter().map(|c| c.name.clone()).collect(),
        queue_names: if queues {
            cfg.queue_names()
        } else {
            Vec::new()
        },
        queue: if queues {
            case.queue
                .clone()
                .unwrap_or_else(|| cfg.default_queue(None))
        } else {
            String::new()
        },
        brand: if cfg.brands.is_empty() {
            String::new()
        } else {
            case.brand.clone().unwrap_or_default()
        },
        written_to: if queues {
            case.our_address.clone().unwrap_or_default()
        } else {
            String::new()
        },
        agent_addresses: cfg
            .agents
            .members
            .iter()
            .map(|a| a.address.to_lowercase())
            .collect(),
        due_at: due,
        customer_language: w.locales.resolve(case.language.as_deref()).to_string(),
        category: case.category.as_str().to_string(),
        priority: case.priority.as_str().to_string(),
        ..MailContext::default()
    };
    localize(w, &mut m, lang);
    m
}

/// Writes the language-dependent values of `m` (labels, promise, due time, reopen window)
/// in `lang`.
pub fn localize(w: Words<'_>, m: &mut MailContext, lang: &str) {
    m.language = lang.to_string();
    m.category_label = category_label(w, lang, &m.category);
    m.priority_label = priority_label(w, lang, &m.priority);
    m.promise = promise(w, lang, &m.priority);
    m.due_local = m
        .due_at
        .map(|d| w.locales.date(lang, d, w.calendar))
        .unwrap_or_default();
    m.reopen_window = w.locales.duration(lang, w.cfg.conversation.reopen_window.0);
}

/// `m` as the customer of `case` reads it: the same values written in the case's language
/// (borrowed as it is when that is the language it has).
pub fn for_customer<'m>(
    w: Words<'_>,
    case: &CaseRow,
    m: &'m MailContext,
) -> std::borrow::Cow<'m, MailContext> {
    let lang = w.locales.resolve(case.language.as_deref());
    if m.language == lang {
        std::borrow::Cow::Borrowed(m)
    } else {
        let mut c = m.clone();
        localize(w, &mut c, lang);
        std::borrow::Cow::Owned(c)
    }
}

/// The people on a case besides the customer and the agents, as agents' mail lists them:
/// "Name <address>", marked when mail to them bounced; people an agent removed are left out.
pub fn people_listed(people: &[crate::store::Person]) -> Vec<String> {
    people
        .iter()
        .filter(|p| p.role == crate::case::kinds::ParticipantRole::Cc && !p.removed)
        .map(|p| {
            let who = match p.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(n) => format!("{n} <{}>", p.address),
                None => p.address.clone(),
            };
            if p.undeliverable {
                format!("{who} (undeliverable)")
            } else {
                who
            }
        })
        .collect()
}

/// A category's label in `lang`: the language's phrase for it, else its configured label,
/// else its name.
fn category_label(w: Words<'_>, lang: &str, name: &str) -> String {
    w.locales
        .word(lang, "categories", name)
        .map(str::to_string)
        .or_else(|| w.cfg.category(name).and_then(|c| c.label.clone()))
        .unwrap_or_else(|| name.to_string())
}

/// A priority's label in `lang`, found as [`category_label`] finds one.
fn priority_label(w: Words<'_>, lang: &str, name: &str) -> String {
    w.locales
        .word(lang, "priorities", name)
        .map(str::to_string)
        .or_else(|| w.cfg.priority(name).and_then(|p| p.label.clone()))
        .unwrap_or_else(|| name.to_string())
}

/// The promise of the priority `name` in `lang` ("within 1 business day"); empty for a
/// priority the config does not know.
fn promise(w: Words<'_>, lang: &str, name: &str) -> String {
    w.cfg
        .priority(name)
        .map(|p| w.locales.promise(lang, p.first_response.0, p.clock))
        .unwrap_or_default()
}

/// What the acknowledgment is about: the complaint that opened the case.
pub struct AckFacts<'a> {
    pub reference: &'a str,
    /// The customer's name as written (a blank one is no name).
    pub customer_name: Option<String>,
    /// The complaint's subject (an empty one reads "(no subject)").
    pub subject: &'a str,
    pub category: &'a str,
    pub priority: &'a str,
    /// When the first response is due.
    pub due: Option<DateTime<Utc>>,
    /// The complaint's reply text (quoted history and signature removed), summarised in the
    /// acknowledgment.
    pub text: &'a str,
    /// The names of its attachments.
    pub attachments: Vec<String>,
    /// The language it is written in (as `Locales::resolve` gave it).
    pub language: &'a str,
    /// The numbers to look for.
    pub found: &'a Found,
    /// How many classification rules a sentence matches ([`crate::classify::Classifier::hits`]).
    pub keywords: &'a dyn Fn(&str) -> usize,
}

/// The acknowledgment's values, in `f.language`.
pub fn ack_context(w: Words<'_>, f: AckFacts<'_>) -> AckContext {
    let (cfg, lang) = (w.cfg, f.language);
    // `f.text` is the reply text (no quote, no signature); the summary must not end in the
    // customer's sign-off either ("Kind regards,\nAlice Martin").
    let visible = crate::case::judge::strip_sign_off(f.text, f.customer_name.as_deref());
    let summary = excerpt(&visible, 300);
    let restated = restate(&visible, &w.locales.greetings(lang), f.keywords);
    let found = f.found.find(f.subject, &visible);
    let questions = cfg
        .acknowledgment
        .ask
        .iter()
        .filter(|a| a.category == f.category)
        .filter(|a| {
            a.unless_found
                .as_ref()
                .is_none_or(|u| !found.iter().any(|(k, _)| k == u))
        })
        .filter_map(|a| w.locales.word(lang, "questions", &a.question))
        .map(str::to_string)
        .collect();
    let empathy = [
        format!("priority.{}", f.priority),
        format!("category.{}", f.category),
        "default".to_string(),
    ]
    .iter()
    .find_map(|k| w.locales.word(lang, "empathy", k))
    .unwrap_or_default()
    .to_string();
    let due_local = f
        .due
        .map(|d| w.locales.date(lang, d, w.calendar))
        .unwrap_or_default();
    AckContext {
        reference: f.reference.to_string(),
        customer_name: f.customer_name.filter(|n| !n.trim().is_empty()),
        subject: if f.subject.trim().is_empty() {
            w.locales.no_subject(lang).to_string()
        } else {
            f.subject.to_string()
        },
        category_label: category_label(w, lang, f.category),
        priority_label: priority_label(w, lang, f.priority),
        promise: promise(w, lang, f.priority),
        due_local,
        excerpt_lines: wrap(&summary, EXCERPT_WIDTH),
        excerpt: with_line_breaks(&summary, &visible),
        attachments: f.attachments,
        support_name: cfg.support.name.clone(),
        signature: cfg.support.signature.clone().unwrap_or_default(),
        language: lang.to_string(),
        // Wrapped by columns: a Japanese sentence has no spaces to break at.
        restated_lines: restated
            .iter()
            .flat_map(|r| crate::render::wrap_columns(r, EXCERPT_WIDTH))
            .collect(),
        restated,
        found: found
            .into_iter()
            .map(|(k, value)| FoundItem {
                label: w
                    .locales
                    .word(lang, "found", &k)
                    .map_or(k.clone(), str::to_string),
                value,
            })
            .collect(),
        questions,
        empathy,
    }
}

/// A new timeline for the customer (after an escalation or a raised priority): the
/// priority's first-response target from `now`, and its promise, in `m`'s language.
pub fn new_timeline(m: &mut MailContext, w: Words<'_>, priority: &str, now: DateTime<Utc>) {
    if let Some(l) = ServiceLevel::of(w.cfg, w.calendar, priority) {
        m.due_at = Some(l.first_response_due(now));
        m.priority = priority.to_string();
        let lang = m.language.clone();
        localize(w, m, &lang);
    }
}

/// The reminder's values: which target falls due (`first response` until the case was
/// answered, then `resolution`), when, and how far off that is from `now`.
pub fn reminder(
    m: &mut MailContext,
    case: &CaseRow,
    w: Words<'_>,
    first_response: bool,
    now: DateTime<Utc>,
) {
    let (kind, due) = if first_response {
        ("first response", case.first_response_due)
    } else {
        ("resolution", case.resolution_due)
    };
    m.sla_kind = kind.into();
    m.due_local = due
        .map(|d| w.locales.date(&m.language, d, w.calendar))
        .unwrap_or_default();
    m.due_relative = due.map(|d| relative(d, now)).unwrap_or_default();
}

/// The target an escalated case missed, if one is past due at `now` (the first response
/// while unanswered, else the resolution): when it was due and how late it is (left empty
/// under a minute).
pub fn missed_target(m: &mut MailContext, case: &CaseRow, w: Words<'_>, now: DateTime<Utc>) {
    let missed = if case.first_response_at.is_none() {
        case.first_response_due
            .filter(|d| *d <= now)
            .map(|d| ("first response", d))
    } else {
        None
    }
    .or_else(|| {
        case.resolution_due
            .filter(|d| *d <= now && case.resolved_at.is_none())
            .map(|d| ("resolution", d))
    });
    if let Some((what, due)) = missed {
        m.missed_target = Some(what.into());
        m.missed_due_local = w.locales.date(&m.language, due, w.calendar);
        // Just past due (the breach timer fires on time) is said as missed, not "late".
        if now - due >= chrono::Duration::minutes(1) {
            m.late_by = human_span(now - due);
        }
    }
}

/// The case's messages for a digest (agents' and managers' mail, in the team's language),
/// oldest first, robots left out; `text` says which text of a message is shown (at most 2000
/// characters of it).
pub fn history(
    messages: &[MessageRow],
    w: Words<'_>,
    text: impl Fn(&MessageRow) -> String,
) -> Vec<HistoryLine> {
    messages
        .iter()
        .filter(|m| m.robot.is_none())
        .map(|m| HistoryLine {
            at: w.team_date(m.received_at),
            from: m.from_address.clone().unwrap_or_default(),
            role: m.role.map(|r| r.as_str().to_string()).unwrap_or_default(),
            internal: m.visibility == crate::case::kinds::Visibility::Internal,
            text: text(m).chars().take(2000).collect(),
        })
        .collect()
}

/// The `index`-th attachment of a message as the agents' templates list it; `attached` when
/// it travels with the mail (within `agents.attach_limit`) rather than being only listed.
pub fn attachment_info(index: usize, a: &Attachment, attached: bool) -> AttachmentInfo {
    AttachmentInfo {
        name: a
            .name
            .clone()
            .unwrap_or_else(|| format!("attachment-{}", index + 1)),
        content_type: a.content_type.clone(),
        size: human_size(a.size),
        attached,
    }
}

/// The one-click rating links 1-5 of a case: mailto links to its signed feedback addresses
/// Without the reply-token key (a
/// preview where it is not readable) the links say so instead.
pub fn rating_links(
    key: Option<&TokenKey>,
    support_address: &str,
    reference: &Reference,
) -> Vec<RatingLink> {
    (1..=5)
        .map(|n| RatingLink {
            rating: n,
            href: match key {
                // The signed address alone carries the rating (src/thread/token.rs): no
                // subject, so the link fits a terminal line.
                Some(k) => format!(
                    "mailto:{}",
                    k.feedback_address(support_address, reference, n)
                ),
                None => {
                    format!("mailto:(signed rating address {n}, reply-token key not readable here)")
                }
            },
        })
        .collect()
}
