//! The service promised: priorities, categories and classification, the business calendar,
//! service levels, the send window, escalation, follow-up, feedback and the digest.

use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

use super::values::HumanDuration;
use super::yes;

/// The conversation after the acknowledgment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    /// A customer reply this long after resolution reopens the case; a later one opens a new
    /// case linked to the old.
    #[serde(default = "default_reopen_window")]
    pub reopen_window: HumanDuration,
    /// The people a customer's message is addressed to besides us (its To and Cc, never our
    /// own addresses, agents or escalation contacts) join the case as participants: they get
    /// the agents' answers and the status notices in Cc.
    #[serde(default = "yes")]
    pub cc_participants: bool,
    /// At most this many participants besides the customer join a case from the Cc of
    /// messages; the rest are named to the agents, who can add them with `#cc add`.
    #[serde(default = "default_max_participants")]
    pub max_participants: usize,
}

fn default_max_participants() -> usize {
    10
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            reopen_window: default_reopen_window(),
            cc_participants: true,
            max_participants: default_max_participants(),
        }
    }
}

/// When scheduled mail may reach customers (status updates, follow-ups, feedback requests,
/// escalation notices), in the calendar's time zone. Cases of a wall-clock priority (urgent)
/// are exempt. Answers written by agents are not scheduled mail and go out at once.
#[derive(Debug, Clone)]
pub struct SendWindowConfig {
    /// Local opening time, written `HH:MM` (default 08:00).
    pub start: NaiveTime,
    /// Local closing time, written `HH:MM` (default 20:00), after `start`: the window cannot
    /// span midnight.
    pub end: NaiveTime,
    /// Days the window opens (default: every day).
    pub days: Vec<Weekday>,
}

/// Service levels on schedule (docs/design.md invariant 5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Remind the assigned agent (or the agents) this long before a first-response or
    /// resolution target is breached; 0 disables reminders.
    #[serde(default = "default_warning_lead")]
    pub warning_lead: HumanDuration,
    /// An agent answer whose last line ends with a question mark pauses the SLA clock like
    /// `#wait` (the case waits on the customer's answer).
    #[serde(default = "yes")]
    pub pause_on_question: bool,
    /// A customer whose case waits on us this long with no public message from us gets a
    /// short status update (at most once per interval, wall-clock time); 0 disables.
    #[serde(default = "default_status_interval")]
    pub status_update_interval: HumanDuration,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            pause_on_question: true,
            warning_lead: default_warning_lead(),
            status_update_interval: default_status_interval(),
        }
    }
}

/// Who hears about escalations: the first rule whose categories and priorities match (an
/// empty list matches any).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Addresses that get the case digest.
    pub contacts: Vec<String>,
    /// Only cases of these categories (empty: any).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Only cases of these priorities (empty: any).
    #[serde(default)]
    pub priorities: Vec<String>,
}

/// After resolution: asking whether the issue is solved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpConfig {
    /// Ask this long after resolution, in business time ("3d" = three working days); 0
    /// disables the follow-up.
    #[serde(default = "default_follow_up_after")]
    pub after: HumanDuration,
    /// Close the case when the customer has not answered the follow-up within this time
    /// (wall clock); without a follow-up, this long after resolution.
    #[serde(default = "default_close_after")]
    pub close_after: HumanDuration,
    /// A short reply made of these words (and no word of `unsatisfied_words`) means the issue
    /// is solved; anything else reopens the case (when unsure, reopen).
    #[serde(default = "default_satisfied")]
    pub satisfied_phrases: Vec<String>,
    /// Words that make a reply "not solved" whatever else it says.
    #[serde(default = "default_unsatisfied")]
    pub unsatisfied_words: Vec<String>,
}

impl Default for FollowUpConfig {
    fn default() -> Self {
        FollowUpConfig {
            after: default_follow_up_after(),
            close_after: default_close_after(),
            satisfied_phrases: default_satisfied(),
            unsatisfied_words: default_unsatisfied(),
        }
    }
}

/// When the satisfaction request goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedbackWhen {
    /// Right after resolution.
    Resolved,
    /// Inside the follow-up mail.
    FollowUp,
    /// Never.
    Never,
}

/// The satisfaction rating (1-5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackConfig {
    /// `resolved`, `follow-up` or `never`.
    #[serde(default = "default_feedback_when")]
    pub when: FeedbackWhen,
    /// A rating at or below this escalates (the escalation contacts get the case); 0 never.
    #[serde(default = "default_low_rating")]
    pub escalate_at_or_below: u8,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        FeedbackConfig {
            when: default_feedback_when(),
            escalate_at_or_below: default_low_rating(),
        }
    }
}

/// How often the management digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestSchedule {
    Daily,
    Weekly,
    Monthly,
}

/// The management digest: a report of the period with charts, mailed to managers on a
/// schedule in the calendar's time zone. Each slot is sent once, late after downtime (within
/// a day), never twice.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    /// Send digests at all (default: true with a `[digest]` section, false without).
    pub enabled: bool,
    /// `daily`, `weekly` (default) or `monthly`.
    pub schedule: DigestSchedule,
    /// Weekly digests: the weekday they go out, written `monday`, `mon`... (default Monday).
    pub day: Weekday,
    /// Monthly digests: the day of the month they go out (1-28, default 1).
    pub day_of_month: u32,
    /// Local time of day (calendar time zone), written `HH:MM` (default 08:00).
    pub at: NaiveTime,
    /// The period reported, ending at the slot (default: since the previous slot).
    pub period: Option<HumanDuration>,
    /// Who gets it (default: every `[[escalation]]` contact, or the agents without any).
    pub recipients: Vec<String>,
    /// Only the cases of this brand (a `[[brand]]` name; default: every case).
    pub brand: Option<String>,
}

/// Business calendar: where "1 business day" is computed.
#[derive(Debug, Clone)]
pub struct CalendarConfig {
    /// IANA time zone, e.g. `Europe/Berlin` (default UTC).
    pub timezone: Tz,
    /// Working days, written e.g. `["mon", "tue", "wed", "thu", "fri"]` (the default).
    pub working_days: Vec<Weekday>,
    /// Start of the working day, written `HH:MM` (default 09:00).
    pub start: NaiveTime,
    /// End of the working day, written `HH:MM` (default 17:00), after `start`.
    pub end: NaiveTime,
    /// Holidays, written `YYYY-MM-DD`.
    pub holidays: Vec<NaiveDate>,
}

/// Whether a target runs on the wall clock or only in business hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockKind {
    Wall,
    Business,
}

/// A priority level; the list order is the severity order (first is the most urgent).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityConfig {
    /// Name used in rules and commands, e.g. `urgent`.
    pub name: String,
    /// Label shown to customers, e.g. `Urgent`.
    pub label: Option<String>,
    /// First-response promise made in the acknowledgment, e.g. `2h` or `1d`.
    pub first_response: HumanDuration,
    /// Resolution target (used by the scheduler).
    pub resolution: Option<HumanDuration>,
    /// `wall` (around the clock) or `business` (business hours only; `1d` = one working day).
    #[serde(default = "default_clock")]
    pub clock: ClockKind,
    /// The clock of the resolution target, when it differs from `clock` (e.g. first response
    /// around the clock, resolution in business time).
    pub resolution_clock: Option<ClockKind>,
}

impl PriorityConfig {
    /// The resolution target and the clock it counts on.
    pub fn resolution_target(&self) -> Option<(Duration, ClockKind)> {
        self.resolution
            .map(|r| (r.0, self.resolution_clock.unwrap_or(self.clock)))
    }
}

/// A category complaints are filed under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    /// Name used in rules and commands, e.g. `billing`.
    pub name: String,
    /// Label shown to customers.
    pub label: Option<String>,
}

/// Which part of a message a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleField {
    Subject,
    Body,
    Sender,
    Any,
}

/// One classification rule: keywords and/or a regex on a field set category and/or priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name shown in the audit log when the rule matched.
    pub name: String,
    /// `subject`, `body`, `sender` or `any` (subject and body).
    #[serde(default = "default_field")]
    pub field: RuleField,
    /// Case-insensitive words or phrases; any one matching (as whole words) is a match. `*`
    /// stands for more word characters (`*ausfall`, `hacker*`); keywords in scripts without
    /// spaces (Japanese, Chinese, Thai, Korean) match inside words (see `classify`).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// A regular expression (Rust syntax; add `(?i)` for case-insensitive).
    pub regex: Option<String>,
    /// Category to file the case under (the first matching rule with a category wins).
    pub category: Option<String>,
    /// Priority to give (the most urgent of all matching rules wins).
    pub priority: Option<String>,
}

/// Classification defaults and rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyConfig {
    /// Category when no rule names one.
    pub default_category: String,
    /// Priority when no rule names one.
    pub default_priority: String,
    /// Ordered rules.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

fn default_reopen_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(14 * 86_400))
}
fn default_warning_lead() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
fn default_status_interval() -> HumanDuration {
    HumanDuration(Duration::from_secs(2 * 86_400))
}
fn default_follow_up_after() -> HumanDuration {
    HumanDuration(Duration::from_secs(3 * 86_400))
}
fn default_close_after() -> HumanDuration {
    HumanDuration(Duration::from_secs(7 * 86_400))
}
fn default_satisfied() -> Vec<String> {
    [
        "thanks",
        "thank",
        "you",
        "thx",
        "ty",
        "yes",
        "yep",
        "ok",
        "okay",
        "solved",
        "resolved",
        "fixed",
        "works",
        "working",
        "now",
        "great",
        "perfect",
        "fine",
        "all",
        "good",
        "it",
        "is",
        "very",
        "much",
        "many",
        "a",
        "lot",
        "so",
        "that",
        "helped",
        "cheers",
        "brilliant",
        "danke",
        "ja",
        "gelöst",
        "merci",
        "oui",
        "résolu",
        "gracias",
        "sí",
        "si",
        "resuelto",
        "tack",
        "dank",
        "je",
        "wel",
        "bedankt",
        // German, French, Spanish, Italian, Dutch, Portuguese beyond the first words.
        "vielen",
        "herzlichen",
        "funktioniert",
        "jetzt",
        "wieder",
        "erledigt",
        "alles",
        "gut",
        "super",
        "perfekt",
        "beaucoup",
        "fonctionne",
        "marche",
        "parfait",
        "c'est",
        "bon",
        "muchas",
        "funciona",
        "ya",
        "perfecto",
        "todo",
        "bien",
        "grazie",
        "mille",
        "risolto",
        "funziona",
        "sì",
        "ora",
        "perfetto",
        "tutto",
        "bene",
        "hartelijk",
        "opgelost",
        "werkt",
        "nu",
        "prima",
        "obrigado",
        "obrigada",
        "muito",
        "resolvido",
        "agora",
        "sim",
        "perfeito",
        "tudo",
        "bem",
        // Japanese is written without spaces: these are found inside the reply
        // (`case::judge`).
        "ありがとうございます",
        "ありがとうございました",
        "ありがとう",
        "解決しました",
        "直りました",
        "動きました",
        "届きました",
        "できました",
        "助かりました",
        "大丈夫です",
        "了解しました",
        "承知しました",
        "確認しました",
        "はい",
        "どうも",
        "本当に",
        "とても",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_unsatisfied() -> Vec<String> {
    [
        "not",
        "no",
        "still",
        "again",
        "isn't",
        "isnt",
        "doesn't",
        "doesnt",
        "don't",
        "dont",
        "won't",
        "can't",
        "cannot",
        "but",
        "broken",
        "wrong",
        "problem",
        "issue",
        "nicht",
        "kein",
        "keine",
        "noch",
        "immer",
        "pas",
        "toujours",
        "encore",
        "todavía",
        "sigue",
        "aber",
        "mais",
        "pero",
        "però",
        "ancora",
        "niet",
        "geen",
        "nog",
        "steeds",
        "maar",
        "não",
        "nao",
        "ainda",
        "mas",
        "まだ",
        "解決していません",
        "直っていません",
        "できません",
        "動きません",
        "届いていません",
        "ません",
        "しかし",
        "でも",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_feedback_when() -> FeedbackWhen {
    FeedbackWhen::FollowUp
}
fn default_low_rating() -> u8 {
    2
}
fn default_clock() -> ClockKind {
    ClockKind::Business
}
fn default_field() -> RuleField {
    RuleField::Any
}
