//! What the templates see: the acknowledgment's values ([`AckContext`]) and the one set every
//! case template shares ([`MailContext`]), with the samples `mailcase check` and the engine's
//! start-up check render them against.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The reference the samples carry: a valid one (its check symbol matches, see
/// src/case/reference.rs), as the README's examples use.
pub const SAMPLE_REFERENCE: &str = "CMP-7KQ4X-V";

/// The linked case of [`MailContext::sample`], valid too.
pub const SAMPLE_LINKED_REFERENCE: &str = "CMP-0A1B2-F";

/// What the acknowledgment template sees.
#[derive(Debug, Clone, Serialize)]
pub struct AckContext {
    pub reference: String,
    pub customer_name: Option<String>,
    pub subject: String,
    pub category_label: String,
    pub priority_label: String,
    /// "within 2 hours", "within 1 business day".
    pub promise: String,
    /// The due time in the business time zone, e.g. "Tuesday 24 November 2026, 10:00 CET".
    pub due_local: String,
    /// The start of what the customer wrote (reply text, signature removed), with its line
    /// breaks (the HTML part shows them).
    pub excerpt: String,
    /// `excerpt` wrapped for the text part: lines that fit 72 columns behind a four-column
    /// quote (`  > `).
    pub excerpt_lines: Vec<String>,
    pub attachments: Vec<String>,
    pub support_name: String,
    /// The brand's signature (`[[brand]] signature`, `[support] signature`), printed under
    /// the sign-off; empty without one.
    pub signature: String,
    /// The language the acknowledgment is written in (`de`), for `<html lang>`.
    pub language: String,
    /// One or two of the customer's own sentences that say what the complaint is about
    /// (`mail::restate`); empty when the text has none (then `excerpt` is shown).
    pub restated: Vec<String>,
    /// `restated` wrapped for the text part, as `excerpt_lines` is.
    pub restated_lines: Vec<String>,
    /// Numbers found in the complaint, named in the customer's language.
    pub found: Vec<FoundItem>,
    /// What we still need, in the customer's language (`[[acknowledgment.ask]]`).
    pub questions: Vec<String>,
    /// A line that fits the category and priority, in the customer's language.
    pub empathy: String,
}

/// A number found in a complaint ("Invoice number", "INV-2026-0042").
#[derive(Debug, Clone, Serialize)]
pub struct FoundItem {
    pub label: String,
    pub value: String,
}

impl AckContext {
    /// A sample, for `mailcase check` and template previews.
    pub fn sample() -> AckContext {
        AckContext {
            reference: SAMPLE_REFERENCE.into(),
            customer_name: Some("Jane Doe".into()),
            subject: "Invoice charged twice <script>alert(1)</script> {{ reference }}".into(),
            category_label: "Billing".into(),
            priority_label: "Normal".into(),
            promise: "within 1 business day".into(),
            due_local: "Tuesday 24 November 2026, 10:00 CET".into(),
            excerpt: "I was charged twice for my November invoice.".into(),
            excerpt_lines: vec!["I was charged twice for my November invoice.".into()],
            attachments: vec!["invoice.pdf".into()],
            support_name: "Example Support".into(),
            signature: SAMPLE_SIGNATURE.into(),
            language: "en".into(),
            restated: vec!["I was charged twice for invoice <b>INV-2026-0042</b> <script>alert(1)</script> {{ reference }}.".into()],
            restated_lines: vec!["I was charged twice for invoice <b>INV-2026-0042</b> <script>alert(1)</script> {{ reference }}.".into()],
            found: vec![FoundItem {
                label: "Invoice number".into(),
                value: "INV-2026-0042".into(),
            }],
            questions: vec!["Could you send us the date of the second charge?".into()],
            empathy: "We are sorry about the trouble with your bill.".into(),
        }
    }
}

/// An attachment as templates list it.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub name: String,
    pub content_type: String,
    /// "12 KB".
    pub size: String,
    /// False when it was too large to attach (listed only).
    pub attached: bool,
}

/// One message of a case, for digests.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    /// Local time, readable.
    pub at: String,
    pub from: String,
    /// `customer`, `agent`, `cc`.
    pub role: String,
    /// An internal note (never shown to the customer).
    pub internal: bool,
    pub text: String,
}

/// A one-click rating: a mailto link to a signed feedback address.
#[derive(Debug, Clone, Serialize)]
pub struct RatingLink {
    pub rating: u8,
    pub href: String,
}

/// A command and what it does, for the agents' help.
#[derive(Debug, Clone, Serialize)]
pub struct HelpLine {
    pub command: String,
    /// Spaces after `command` that line the meanings up in a text part.
    pub pad: String,
    pub meaning: String,
}

/// The sample brand signature: two lines, and markup that must come out escaped.
pub const SAMPLE_SIGNATURE: &str = "Example Support · +1 555 0100\n<b>help.example.com</b>";

/// What every case template (agent notifications, relayed answers, status updates) sees.
/// One set of variables for all of them, so an admin editing one template can use anything
/// another one uses; values that do not apply are empty.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MailContext {
    pub reference: String,
    pub support_name: String,
    /// The brand's signature, printed under the sign-off of customer mail; empty without one.
    pub signature: String,
    pub customer_name: Option<String>,
    pub customer_address: String,
    /// The case's subject (without prefixes and tag).
    pub subject: String,
    /// The stored status name (`waiting_on_customer`), for conditions in templates; never
    /// shown as it is.
    pub status: String,
    /// The status as agents and managers read it (`waiting on customer`).
    pub status_label: String,
    /// The status as the customer reads it (`waiting for your reply`).
    pub customer_status: String,
    pub category_label: String,
    pub priority_label: String,
    /// "within 2 hours": the current promise for the next answer.
    pub promise: String,
    /// The due time in the business time zone (first response, or the new one after
    /// escalation or a priority change).
    pub due_local: String,
    /// The message this mail is about: the complaint, the customer's reply, or the agent's
    /// answer (quoted history removed).
    pub text: String,
    pub attachments: Vec<AttachmentInfo>,
    /// Who wrote `text`, when it is not the case's customer (a colleague in Cc).
    pub sender: Option<String>,
    /// The agent answering, as shown to the customer.
    pub agent_name: String,
    /// The case this one mentions (a reference quoted by someone who is not its customer).
    pub linked_reference: Option<String>,
    /// The card of a case moved into this queue: where from and by whom
    /// (`queue support, by Ann Example`).
    pub moved_from: Option<String>,
    /// `linked_reference` is the customer's own resolved case, answered after its reopen
    /// window (rather than a case quoted by someone who is not its participant).
    pub late_reply: bool,
    /// The customer's message reopened a resolved case.
    pub reopened: bool,
    /// Why the receiving server's verdicts make this new case suspected spam (its sender
    /// may be forged, so it was not acknowledged); `None` for an ordinary case.
    pub suspected_spam: Option<String>,
    /// An agent's answer as sanitised HTML (`parse::answer`), shown instead of `text` in the
    /// HTML part; `None` when the answer goes as text.
    pub answer_html: Option<String>,
    /// The status update goes inside an agent's answer: a raised priority promises no further
    /// answer (the mail is one; an escalation still promises the senior team's answer).
    pub in_answer: bool,
    /// A status update rendered from its own template, appended to a relayed answer.
    pub update_text: Option<String>,
    pub update_html: Option<String>,
    /// The internal reason given with `#escalate`.
    pub reason: Option<String>,
    /// What was wrong with an agent's reply.
    pub errors: Vec<String>,
    /// The commands agents can use.
    pub help: Vec<HelpLine>,
    /// The names `#priority`, `#category` and `#assign` accept, for the agents' help.
    pub priority_names: Vec<String>,
    pub category_names: Vec<String>,
    /// The queues `#queue` takes (empty without queues).
    pub queue_names: Vec<String>,
    /// The case's queue and brand, and the address of ours the customer wrote to (empty
    /// without queues).
    pub queue: String,
    pub brand: String,
    pub written_to: String,
    /// Other addresses of ours the customer's mail was also sent to, with their queue
    /// (`billing@example.com (queue billing)`).
    pub also_ours: Vec<String>,
    pub agent_addresses: Vec<String>,
    /// "14 days": how long a reply reopens a resolved case.
    pub reopen_window: String,
    /// Which target a reminder is about: "first response" or "resolution".
    pub sla_kind: String,
    /// How far off `due_local` is, for a reminder: "in 30 minutes".
    pub due_relative: String,
    /// The target the case missed ("first response", "resolution") when it was escalated
    /// for it: the managers' notice says when it was due and how late it is, the customer's
    /// notice apologises. `None` for an escalation with no missed target.
    pub missed_target: Option<String>,
    /// When `missed_target` was due, in the business time zone.
    pub missed_due_local: String,
    /// How late `missed_target` is when the mail is built: "2 hours 5 minutes"; empty when
    /// it is under a minute (the breach timer fired on time).
    pub late_by: String,
    /// The case's messages, for escalation digests.
    pub history: Vec<HistoryLine>,
    /// The escalation mail's recipients can answer the customer, and give commands, by
    /// replying to it (`agents.managers_act_by_mail`, or the agents get it for want of
    /// escalation contacts); false: its text must not invite a reply.
    pub answer_by_reply: bool,
    /// One-click rating links 1-5 (feedback requests).
    pub rating_links: Vec<RatingLink>,
    /// A rating the customer gave, and its comment.
    pub rating: Option<u8>,
    pub comment: Option<String>,
    /// The people on the case besides the customer and the agents ("Name <address>").
    pub participants: Vec<String>,
    /// People a message had in Cc who were not added (over `max_participants`).
    pub participants_skipped: Vec<String>,
    /// What an agent is told about their own reply, or what a colleague did (one line
    /// each).
    pub notice: Vec<String>,
    /// Who logged a complaint that came through an agent, and how: "Carol Agent (forwarded
    /// mail)"; `None` for mail the customer sent us.
    pub logged_by: Option<String>,
    /// What the logging agent wrote about the complaint (stored as an internal note).
    pub intake_note: Option<String>,
    /// The recipient agent's personal intake address (forwards and `#log`), when the mail goes
    /// to that one agent.
    pub intake_address: Option<String>,
    /// The language the mail is written in (`de`): the case's for customer mail, the team's
    /// for agents' mail; for `<html lang>`.
    pub language: String,
    /// The language the case's customer is written in (`de`), for agents' mail.
    pub customer_language: String,
    /// What the language-dependent values above are made from, so that the same context can
    /// be written again in another language (`mail::localize`).
    #[serde(skip)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub category: String,
    #[serde(skip)]
    pub priority: String,
}

impl MailContext {
    /// A sample with hostile customer text, for `mailcase check` and template previews.
    pub fn sample() -> MailContext {
        MailContext {
            reference: SAMPLE_REFERENCE.into(),
            support_name: "Example Support".into(),
            signature: SAMPLE_SIGNATURE.into(),
            customer_name: Some("Jane Doe".into()),
            customer_address: "jane@customer.test".into(),
            subject: "Invoice charged twice <script>alert(1)</script> {{ reference }}".into(),
            status: crate::case::Status::WaitingOnCustomer.as_str().into(),
            status_label: crate::case::Status::WaitingOnCustomer.agent_label().into(),
            customer_status: crate::case::Status::WaitingOnCustomer
                .customer_label()
                .into(),
            category_label: "Billing".into(),
            priority_label: "Normal".into(),
            promise: "within 1 business day".into(),
            due_local: "Tuesday 24 November 2026, 10:00 CET".into(),
            text: "I was charged twice.\n<b>Please</b> refund {% raw %}".into(),
            attachments: vec![AttachmentInfo {
                name: "invoice.pdf".into(),
                content_type: "application/pdf".into(),
                size: "12 KB".into(),
                attached: true,
            }],
            sender: Some("colleague@customer.test".into()),
            agent_name: "Ann Agent".into(),
            linked_reference: Some(SAMPLE_LINKED_REFERENCE.into()),
            moved_from: None,
            late_reply: false,
            reopened: true,
            suspected_spam: Some("suspected spam: X-Spam-Flag: YES".into()),
            update_text: Some("Your case is resolved.".into()),
            answer_html: None,
            in_answer: false,
            update_html: Some("<p>Your case is resolved.</p>".into()),
            reason: Some("customer threatens to cancel".into()),
            errors: vec![
                "#reslove: unknown command; did you mean #resolve?".into(),
                "#priority: needs an argument (a priority name)".into(),
            ],
            help: help_lines(),
            priority_names: vec!["urgent".into(), "high".into(), "normal".into()],
            queue_names: vec!["support".into(), "billing".into()],
            queue: "support".into(),
            brand: "example".into(),
            written_to: "support@example.com".into(),
            also_ours: vec!["billing@example.com (queue billing)".into()],
            category_names: vec!["billing".into(), "general".into()],
            agent_addresses: vec!["ann@support.test".into()],
            reopen_window: "14 days".into(),
            sla_kind: "first response".into(),
            due_relative: "in 30 minutes".into(),
            missed_target: Some("first response".into()),
            missed_due_local: "Monday 23 November 2026, 12:00 CET".into(),
            late_by: "5 minutes".into(),
            history: vec![HistoryLine {
                at: "Monday 23 November 2026, 10:00 CET".into(),
                from: "jane@customer.test".into(),
                role: "customer".into(),
                internal: false,
                text: "I was charged twice <script>x</script>".into(),
            }],
            answer_by_reply: true,
            rating_links: (1..=5)
                .map(|n| RatingLink {
                    rating: n,
                    href: format!(
                        "mailto:support+f.{}.0000000000000000.{n}@support.test",
                        SAMPLE_REFERENCE.to_ascii_lowercase()
                    ),
                })
                .collect(),
            rating: Some(2),
            comment: Some("Took too long <b>really</b>.\nNobody called back.".into()),
            participants: vec!["Max Muster <max@customer.test>".into()],
            participants_skipped: vec!["x1@customer.test".into()],
            notice: vec!["Ann Agent resolved the case.".into()],
            logged_by: Some("Ann Agent (forwarded mail)".into()),
            intake_note: Some("She called twice <b>already</b>.".into()),
            intake_address: Some("support+i.0000000000000000@support.test".into()),
            language: "en".into(),
            customer_language: "de".into(),
            due_at: None,
            category: "billing".into(),
            priority: "normal".into(),
        }
    }
}

/// The command help as template values: every command.
pub fn help_lines() -> Vec<HelpLine> {
    help_lines_for(true)
}

/// The command help as template values; `#queue` only when there are queues to move to.
pub fn help_lines_for(queues: bool) -> Vec<HelpLine> {
    let help: Vec<&(&str, &str)> = crate::case::commands::HELP
        .iter()
        .filter(|(c, _)| queues || !c.starts_with("#queue"))
        .collect();
    let width = help
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    help.iter()
        .map(|(c, m)| HelpLine {
            command: (*c).into(),
            pad: " ".repeat(width - c.chars().count()),
            meaning: (*m).into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Reference;

    #[test]
    fn queue_help_is_shown_only_where_there_are_queues() {
        let with = help_lines_for(true);
        let without = help_lines_for(false);
        assert!(with.iter().any(|h| h.command == "#queue NAME"));
        assert!(!without.iter().any(|h| h.command.starts_with("#queue")));
        assert_eq!(with.len(), without.len() + 1);
        // Still one column of meanings.
        let col = |h: &HelpLine| h.command.chars().count() + h.pad.len();
        assert!(without.iter().all(|h| col(h) == col(&without[0])));
    }

    #[test]
    fn the_sample_references_are_valid() {
        for r in [SAMPLE_REFERENCE, SAMPLE_LINKED_REFERENCE] {
            assert_eq!(
                Reference::parse(r).map(|r| r.to_string()),
                Ok(r.to_string())
            );
        }
        assert_eq!(AckContext::sample().reference, SAMPLE_REFERENCE);
        let m = MailContext::sample();
        assert_eq!(m.reference, SAMPLE_REFERENCE);
        assert_eq!(m.linked_reference.as_deref(), Some(SAMPLE_LINKED_REFERENCE));
        let rating = &m.rating_links[0].href;
        assert!(
            rating.contains(&format!(".{}.", SAMPLE_REFERENCE.to_ascii_lowercase())),
            "{rating}"
        );
    }
}
