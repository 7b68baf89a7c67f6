//! Typed configuration: what an admin writes in `mailcase.toml`.
//!
//! Every struct denies unknown fields, so a typo is an error that names the key. After
//! deserialising, [`Config::validate`] collects *every* semantic problem keyed by its TOML path
//! (not just the first), the way stalwart's config loader does. Secrets are never stored in the
//! file itself: they come from a file, an environment variable, a systemd credential or a token
//! command (see [`SecretSource`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Weekday};
use serde::Deserialize;

/// Errors from loading a config: the file, its TOML syntax or unknown keys, or semantic checks.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("config file {path} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// One semantic problem, keyed by its TOML path (e.g. `mailbox.tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A duration written as `90s`, `10m`, `2h`, `1d`, `1w` or combinations like `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses the human form; a bare number is rejected because its unit would be a guess.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        // Milliseconds, so that `100ms` is as valid as `10m`.
        let mut total: u64 = 0;
        let mut chars = s.chars().filter(|c| !c.is_whitespace()).peekable();
        let mut saw_unit = false;
        while chars.peek().is_some() {
            let num: String =
                std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
            let unit: String =
                std::iter::from_fn(|| chars.next_if(|c| !c.is_ascii_digit())).collect();
            if unit.is_empty() {
                return Err(format!(
                    "`{s}` needs a unit: ms, s, m, h, d or w (e.g. 30s, 10m, 2h, 1d)"
                ));
            }
            let n: u64 = num
                .parse()
                .map_err(|_| format!("`{s}` is not a duration like 30s, 10m, 2h, 1d"))?;
            let mult: u64 = match unit.as_str() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                _ => {
                    return Err(format!(
                        "`{s}`: unknown unit `{unit}` (use ms, s, m, h, d, w)"
                    ))
                }
            };
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{s}` is too large"))?;
            saw_unit = true;
        }
        if !saw_unit {
            return Err(format!(
                "`{s}` needs a unit: ms, s, m, h, d or w (e.g. 30s, 10m, 2h, 1d)"
            ));
        }
        Ok(HumanDuration(Duration::from_millis(total)))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HumanDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A size written as `512KB`, `25MB`, `1GB` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => {
                let t = s.trim().to_ascii_uppercase();
                let (num, mult) = if let Some(n) = t.strip_suffix("GB") {
                    (n, 1u64 << 30)
                } else if let Some(n) = t.strip_suffix("MB") {
                    (n, 1 << 20)
                } else if let Some(n) = t.strip_suffix("KB") {
                    (n, 1 << 10)
                } else if let Some(n) = t.strip_suffix('B') {
                    (n, 1)
                } else {
                    (t.as_str(), 1)
                };
                num.trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(mult))
                    .map(ByteSize)
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("`{s}` is not a size like 25MB or 512KB"))
                    })
            }
        }
    }
}

/// How to reach a server: implicit TLS, STARTTLS, or plain text (loopback only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Tls,
    Starttls,
    Plain,
}

pub use crate::secret::SecretSource;

/// The IMAP mailbox the daemon watches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// IMAP server host name.
    pub host: String,
    /// IMAP port (993 for tls, 143 for starttls).
    pub port: u16,
    /// `tls`, `starttls` or `plain` (plain only to a loopback host).
    pub tls: TlsMode,
    /// Login name.
    pub user: String,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Name of a systemd credential holding the password.
    pub password_credential: Option<String>,
    /// Command (argv) printing an OAuth2 access token; selects XOAUTH2.
    pub oauth2_token_command: Option<Vec<String>>,
    /// Folder watched for new mail.
    #[serde(default = "default_inbox")]
    pub inbox: String,
    /// Folder that processed messages are moved to (created when missing).
    #[serde(default = "default_processed")]
    pub processed_folder: String,
    /// Folder that unparseable or oversized messages are moved to (created when missing).
    #[serde(default = "default_quarantine")]
    pub quarantine_folder: String,
    /// Poll interval when IDLE is unavailable, and the upper bound of one IDLE wait.
    #[serde(default = "default_poll")]
    pub poll_interval: HumanDuration,
    /// Use IMAP IDLE when the server offers it.
    #[serde(default = "yes")]
    pub idle: bool,
    /// While mail keeps arriving, the inbox is checked this often instead of waiting for
    /// IDLE (Dovecot holds an IDLE notice back for up to 0.5 s).
    #[serde(default = "default_busy_poll")]
    pub busy_poll_interval: HumanDuration,
    /// How long after the last new message the quick checks go on before IDLE resumes;
    /// `0s` turns them off.
    #[serde(default = "default_busy_period")]
    pub busy_period: HumanDuration,
    /// Messages fetched and committed per batch.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Larger messages are quarantined without being downloaded.
    #[serde(default = "default_max_size")]
    pub max_message_size: ByteSize,
    /// Network timeout for one IMAP command.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Extra CA certificate (PEM) to trust, for a server with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// The SMTP server the daemon sends through.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// SMTP server host name.
    pub host: String,
    /// SMTP port (465 for tls, 587 for starttls, 25 for plain relay on loopback).
    pub port: u16,
    /// `tls`, `starttls` or `plain` (plain only to a loopback host).
    pub tls: TlsMode,
    /// Login name; omit for an unauthenticated local relay.
    pub user: Option<String>,
    /// File holding the password.
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// Name of a systemd credential holding the password.
    pub password_credential: Option<String>,
    /// Command (argv) printing an OAuth2 access token; selects XOAUTH2.
    pub oauth2_token_command: Option<Vec<String>>,
    /// Parallel SMTP connections used by the outbox.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Network timeout for one SMTP command.
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
}

/// Who we are to customers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportConfig {
    /// The public support address customers write to.
    pub address: String,
    /// Display name on outgoing mail.
    pub name: String,
    /// Prefix of reference numbers, e.g. `CMP` gives `CMP-7KQ4X-M`.
    #[serde(default = "default_prefix")]
    pub reference_prefix: String,
    /// Other addresses that are ours (aliases, no-reply): mail from them is never answered.
    #[serde(default)]
    pub own_addresses: Vec<String>,
    /// Domain for our Message-IDs; defaults to the support address's domain.
    pub message_id_domain: Option<String>,
    /// Key for the signed reply addresses (`support+<token>@domain`): a file holding at least
    /// 16 random bytes of text (`openssl rand -hex 32 > token.key`). Changing it invalidates
    /// the reply addresses of every open case (replies then thread by Message-ID or tag).
    pub token_secret_file: Option<PathBuf>,
    /// ... or an environment variable holding it.
    pub token_secret_env: Option<String>,
    /// ... or a systemd credential name (`LoadCredential=`).
    pub token_secret_credential: Option<String>,
}

/// One agent who may answer customers and give commands by mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The address the agent writes from (their normal mailbox).
    pub address: String,
    /// Shown to customers as "Name via Support".
    pub name: String,
}

/// How strictly an agent's reply must prove where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AgentVerify {
    /// A configured agent address writing through the agent reply address is enough.
    #[default]
    None,
    /// Also require our receiving server's `Authentication-Results` (`authserv_id`) to show
    /// DMARC or aligned DKIM passing for the agent's domain.
    AuthenticationResults,
}

/// Agents: who is told about cases and who may answer them by mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsConfig {
    /// Where case notifications go: a team list address, or several addresses. Empty: every
    /// member.
    #[serde(default)]
    pub notify: Vec<String>,
    /// `none` or `authentication-results` (see [`AgentVerify`]).
    #[serde(default)]
    pub verify: AgentVerify,
    /// The authserv-id of our own receiving server (the first word of the
    /// `Authentication-Results` field it adds), for `verify = "authentication-results"`.
    pub authserv_id: Option<String>,
    /// The customer's attachments are attached to notifications up to this total size; beyond
    /// it they are listed only (the raw message stays in the database).
    #[serde(default = "default_attach_limit")]
    pub attach_limit: ByteSize,
    /// The agents. Mail from any other address is never relayed to a customer.
    #[serde(default)]
    pub members: Vec<AgentConfig>,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            notify: vec![],
            verify: AgentVerify::None,
            authserv_id: None,
            attach_limit: default_attach_limit(),
            members: vec![],
        }
    }
}

/// The conversation after the acknowledgment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationConfig {
    /// A customer reply this long after resolution reopens the case; a later one opens a new
    /// case linked to the old.
    #[serde(default = "default_reopen_window")]
    pub reopen_window: HumanDuration,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        ConversationConfig {
            reopen_window: default_reopen_window(),
        }
    }
}

/// When scheduled mail may reach customers (status updates, follow-ups, feedback requests,
/// escalation notices), in the calendar's time zone. Cases of a wall-clock priority (urgent)
/// are exempt. Answers written by agents are not scheduled mail and go out at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendWindowConfig {
    /// Local opening time, `HH:MM`.
    #[serde(default = "default_window_start")]
    pub start: String,
    /// Local closing time, `HH:MM` (after `start`: the window cannot span midnight).
    #[serde(default = "default_window_end")]
    pub end: String,
    /// Days the window opens (default: every day).
    #[serde(default = "default_window_days")]
    pub days: Vec<String>,
}

impl Default for SendWindowConfig {
    fn default() -> Self {
        SendWindowConfig {
            start: default_window_start(),
            end: default_window_end(),
            days: default_window_days(),
        }
    }
}

/// Service levels on schedule (DESIGN.md invariant 5).
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DigestConfig {
    /// Send digests at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `daily`, `weekly` or `monthly`.
    #[serde(default = "default_digest_schedule")]
    pub schedule: DigestSchedule,
    /// Weekly digests: the weekday they go out (`monday`, `mon`...).
    #[serde(default = "default_digest_day")]
    pub day: String,
    /// Monthly digests: the day of the month they go out (1-28).
    #[serde(default = "default_digest_day_of_month")]
    pub day_of_month: u32,
    /// Local time of day (calendar time zone), `HH:MM`.
    #[serde(default = "default_digest_at")]
    pub at: String,
    /// The period reported, ending at the slot (default: since the previous slot).
    pub period: Option<HumanDuration>,
    /// Who gets it (default: every `[[escalation]]` contact, or the agents without any).
    #[serde(default)]
    pub recipients: Vec<String>,
}

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            enabled: false,
            schedule: default_digest_schedule(),
            day: default_digest_day(),
            day_of_month: default_digest_day_of_month(),
            at: default_digest_at(),
            period: None,
            recipients: Vec::new(),
        }
    }
}

/// Where the system of record lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database path (created when missing; never reset on a failed open).
    pub path: PathBuf,
    /// Largest the database may grow (a quota below the disk's size): beyond it writes fail
    /// like on a full disk, mail stays in the INBOX and is taken in once there is room.
    pub max_size: Option<ByteSize>,
}

/// Limits on automatic mail: the second line of defence against mail loops.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgmentConfig {
    /// Send acknowledgments at all.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// At most this many acknowledgments to one address per hour.
    #[serde(default = "default_per_hour")]
    pub per_sender_per_hour: u32,
    /// At most this many acknowledgments to one address per day.
    #[serde(default = "default_per_day")]
    pub per_sender_per_day: u32,
}

/// The durable outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// First retry delay after a transient SMTP failure; doubles each time.
    #[serde(default = "default_retry_initial")]
    pub retry_initial: HumanDuration,
    /// Upper bound of the retry delay.
    #[serde(default = "default_retry_max")]
    pub retry_max: HumanDuration,
    /// Give up (status failed, logged) after trying this long.
    #[serde(default = "default_give_up")]
    pub give_up_after: HumanDuration,
    /// Circuit breaker: more messages than this sent in one minute pauses sending. Every kind
    /// counts (the name is historical): relayed answers and agent cards make loops too.
    #[serde(default = "default_breaker")]
    pub max_automatic_per_minute: u32,
    /// How long sending stays paused once the breaker has tripped.
    #[serde(default = "default_breaker_cooldown")]
    pub breaker_cooldown: HumanDuration,
}

/// Business calendar: where "1 business day" is computed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA time zone, e.g. `Europe/Berlin`.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Working days, e.g. `["mon", "tue", "wed", "thu", "fri"]`.
    #[serde(default = "default_days")]
    pub working_days: Vec<String>,
    /// Start of the working day, `HH:MM`.
    #[serde(default = "default_start")]
    pub start: String,
    /// End of the working day, `HH:MM`.
    #[serde(default = "default_end")]
    pub end: String,
    /// Holidays, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
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
    /// Case-insensitive words or phrases; any one matching (as whole words) is a match.
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

/// Limits on hostile input.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// More MIME parts than this: quarantined.
    #[serde(default = "default_max_parts")]
    pub max_parts: usize,
    /// Deeper MIME nesting than this: quarantined.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// More header fields than this: quarantined.
    #[serde(default = "default_max_headers")]
    pub max_headers: usize,
    /// A sender who opened this many cases in the last hour opens no more: later mail joins
    /// their latest case, unacknowledged and without notifying the agents again (a flood or a
    /// runaway script must not open hundreds of cases).
    /// The sender is counted without its `+tag`, so `robot+t1@`, `robot+t2@`... are one sender.
    #[serde(default = "default_flood")]
    pub new_cases_per_sender_per_hour: u32,
    /// Cases one sender domain may open in an hour with the same text (digits, case and
    /// spacing aside): a responder rotating its local part (`a1@x`, `a2@x`...) opens this many,
    /// then its mail joins the latest of them, unacknowledged, and the agents get one summary.
    #[serde(default = "default_flood_text")]
    pub new_cases_per_text_per_hour: u32,
    /// Cases one sender domain may open in an hour whatever the text; 0 turns this cap off.
    /// Domains in `flood_exempt_domains` (large mail providers) are never capped as a whole.
    #[serde(default = "default_flood_domain")]
    pub new_cases_per_domain_per_hour: u32,
    /// Domains whose users are unrelated people: not capped by `new_cases_per_domain_per_hour`.
    #[serde(default = "default_flood_exempt")]
    pub flood_exempt_domains: Vec<String>,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_parts: default_max_parts(),
            max_depth: default_max_depth(),
            max_headers: default_max_headers(),
            new_cases_per_sender_per_hour: default_flood(),
            new_cases_per_text_per_hour: default_flood_text(),
            new_cases_per_domain_per_hour: default_flood_domain(),
            flood_exempt_domains: default_flood_exempt(),
        }
    }
}

/// The loop guard: a case whose conversation runs faster than people write stops relaying
/// (messages are still stored), the agents are told once, and an admin resumes it with
/// `mailcase resume REF`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoopsConfig {
    /// More messages than this from one side of a case (the customer's side, or the agents')
    /// within `window` stops the case.
    #[serde(default = "default_loop_side")]
    pub max_messages_per_side: u32,
    /// The same text from one side this many times within `window` stops the case.
    #[serde(default = "default_loop_repeats")]
    pub max_repeats: u32,
    /// The time span of the two counts above.
    #[serde(default = "default_loop_window")]
    pub window: HumanDuration,
    /// Mail of every kind we may queue on one case in an hour (acknowledgment, relayed
    /// answers, notices, agent cards); beyond it the case stops.
    #[serde(default = "default_loop_case")]
    pub max_outbound_per_case_per_hour: u32,
    /// Mail of every kind we may queue to one customer-side address in an hour, all cases
    /// together; beyond it mail to that address is not queued (audited as not sent).
    #[serde(default = "default_loop_address")]
    pub max_outbound_per_address_per_hour: u32,
}

impl Default for LoopsConfig {
    fn default() -> Self {
        LoopsConfig {
            max_messages_per_side: default_loop_side(),
            max_repeats: default_loop_repeats(),
            window: default_loop_window(),
            max_outbound_per_case_per_hour: default_loop_case(),
            max_outbound_per_address_per_hour: default_loop_address(),
        }
    }
}

/// What happens to a new complaint the receiving server judged spam or forged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SpamAction {
    /// The case is opened and the agents see it marked as suspected spam, but no
    /// acknowledgment goes out: nothing is lost when the filter is wrong.
    #[default]
    NoAck,
    /// Moved to the quarantine folder with the reason, like unparseable mail: no case.
    Quarantine,
}

/// The spam verdict headers honoured by default (see [`SpamConfig::rules`]); built once, not
/// for every message.
static DEFAULT_SPAM_RULES: std::sync::LazyLock<Vec<SpamHeaderRule>> =
    std::sync::LazyLock::new(|| {
        let rule = |header: &str, values: &[&str]| SpamHeaderRule {
            header: header.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        vec![
            rule("X-Spam-Flag", &["yes"]),
            rule("X-Spam-Status", &["yes"]),
            rule("X-Spam", &["yes"]),
            rule("X-Spamd-Result", &["default: true"]),
            rule(
                "X-Rspamd-Action",
                &["reject", "add header", "rewrite subject"],
            ),
        ]
    });

/// One spam verdict header of the receiving server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpamHeaderRule {
    /// Header field name (case-insensitive), e.g. `X-Spam-Flag`.
    pub header: String,
    /// The field says spam when its value (case-insensitive, whitespace collapsed) is one of
    /// these, or starts with one followed by a character that is not a letter or digit
    /// (`yes` matches `Yes, score=7.3 required=5.0`, not `yesterday`).
    pub values: Vec<String>,
}

/// Honour the receiving server's verdicts on new complaints, so spam with a forged sender
/// does not make us mail an acknowledgment to an innocent third party (backscatter).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpamConfig {
    /// `no_ack` (default) or `quarantine` (see [`SpamAction`]).
    #[serde(default)]
    pub action: SpamAction,
    /// Honour the spam verdict headers in `header_rules`.
    #[serde(default = "yes")]
    pub spam_headers: bool,
    /// The spam verdict headers; when absent, SpamAssassin's and rspamd's (see
    /// [`SpamConfig::rules`]). Given here, they replace the defaults.
    pub header_rules: Option<Vec<SpamHeaderRule>>,
    /// The authserv-id of our receiving server's `Authentication-Results`; default:
    /// `agents.authserv_id`. Without either, SPF/DMARC results are not read at all: no other
    /// field can be told from one the sender wrote.
    pub authserv_id: Option<String>,
    /// `method=result` pairs in our `Authentication-Results` that mark a forged sender;
    /// default `["spf=fail", "dmarc=fail"]`; `[]` turns the check off.
    pub auth_failures: Option<Vec<String>>,
}

impl Default for SpamConfig {
    fn default() -> Self {
        SpamConfig {
            action: SpamAction::NoAck,
            spam_headers: true,
            header_rules: None,
            authserv_id: None,
            auth_failures: None,
        }
    }
}

fn default_loop_side() -> u32 {
    10
}
fn default_loop_repeats() -> u32 {
    3
}
fn default_loop_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_loop_case() -> u32 {
    40
}
fn default_loop_address() -> u32 {
    30
}
fn default_flood_text() -> u32 {
    5
}
fn default_flood_domain() -> u32 {
    100
}
fn default_flood_exempt() -> Vec<String> {
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "orange.fr",
        "free.fr",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
    ]
    .iter()
    .map(|d| d.to_string())
    .collect()
}

impl SpamConfig {
    /// The spam verdict headers honoured: SpamAssassin's `X-Spam-Flag: YES` and
    /// `X-Spam-Status: Yes, ...`; rspamd's milter_headers `X-Spam: Yes`, `X-Spamd-Result:
    /// default: True [...]` and `X-Rspamd-Action` of `reject`, `add header` or `rewrite
    /// subject` (greylist and soft reject are not a spam verdict); or the configured ones.
    pub fn rules(&self) -> &[SpamHeaderRule] {
        if !self.spam_headers {
            return &[];
        }
        if let Some(rules) = &self.header_rules {
            return rules;
        }
        &DEFAULT_SPAM_RULES
    }

    /// The `method=result` pairs that mark a forged sender (lower case), empty when off.
    pub fn failures(&self) -> Vec<String> {
        match &self.auth_failures {
            Some(list) => list.iter().map(|f| f.trim().to_ascii_lowercase()).collect(),
            None => vec!["spf=fail".into(), "dmarc=fail".into()],
        }
    }
}

/// Templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// Folder holding `*.tera` templates.
    pub dir: PathBuf,
}

/// How long personal data is kept (issue 5). Every period is in days; 0 keeps forever. A case
/// under legal hold (`mailcase hold`) is kept whatever these say. The daily purge keeps each
/// purged case's row with the figures reports need and removes what identifies a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a case is kept after it was closed. Default 1095 (three years: the regular
    /// limitation period for claims from a contract in many jurisdictions, so the record of a
    /// complaint outlives the claims it may be evidence for).
    #[serde(default = "default_closed_cases_days")]
    pub closed_cases_days: u32,
    /// Per-category periods replacing `closed_cases_days` for cases of that category
    /// (`billing = 3650`); when a category and a priority period both apply, the longer wins.
    #[serde(default)]
    pub categories: BTreeMap<String, u32>,
    /// Per-priority periods, as `categories`.
    #[serde(default)]
    pub priorities: BTreeMap<String, u32>,
    /// Days a quarantined message (raw bytes that could not be taken in) is kept. Default 30.
    #[serde(default = "default_quarantine_days")]
    pub quarantine_days: u32,
    /// Days the raw bytes (and so the attachments) of a message, and the full text of mail we
    /// sent, are kept; the case, its text and the message metadata stay. Default 365.
    #[serde(default = "default_raw_days")]
    pub raw_days: u32,
    /// Days a message that belongs to no case (robots, bounces, ignored mail) is kept.
    /// Default 90.
    #[serde(default = "default_unattached_days")]
    pub unattached_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            closed_cases_days: default_closed_cases_days(),
            categories: BTreeMap::new(),
            priorities: BTreeMap::new(),
            quarantine_days: default_quarantine_days(),
            raw_days: default_raw_days(),
            unattached_days: default_unattached_days(),
        }
    }
}

impl RetentionConfig {
    /// Days a closed case of this category and priority is kept (None: forever). An override
    /// replaces the default; of two overrides that apply the longer wins, and 0 (forever) is
    /// the longest.
    pub fn closed_case_days(&self, category: &str, priority: &str) -> Option<u32> {
        let overrides: Vec<u32> = [self.categories.get(category), self.priorities.get(priority)]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let candidates = if overrides.is_empty() {
            vec![self.closed_cases_days]
        } else {
            overrides
        };
        if candidates.contains(&0) {
            None
        } else {
            candidates.into_iter().max()
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (journal-friendly) or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// tracing filter, e.g. `info` or `mailcase=debug`.
    pub level: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub mailbox: MailboxConfig,
    pub smtp: SmtpConfig,
    pub support: SupportConfig,
    pub store: StoreConfig,
    pub templates: TemplatesConfig,
    #[serde(default = "default_ack")]
    pub acknowledgment: AcknowledgmentConfig,
    #[serde(default = "default_outbox")]
    pub outbox: OutboxConfig,
    #[serde(default = "default_calendar")]
    pub calendar: CalendarConfig,
    pub priorities: Vec<PriorityConfig>,
    pub categories: Vec<CategoryConfig>,
    pub classify: ClassifyConfig,
    #[serde(default)]
    pub agents: AgentsConfig,
    #[serde(default)]
    pub conversation: ConversationConfig,
    #[serde(default)]
    pub sla: SlaConfig,
    #[serde(default)]
    pub send_window: SendWindowConfig,
    /// Escalation contacts, first match wins.
    #[serde(default)]
    pub escalation: Vec<EscalationConfig>,
    #[serde(default)]
    pub follow_up: FollowUpConfig,
    #[serde(default)]
    pub feedback: FeedbackConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub loops: LoopsConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The management digest (off without a `[digest]` section).
    #[serde(default)]
    pub digest: DigestConfig,
    /// The receiving server's spam and SPF/DMARC verdicts on new complaints.
    #[serde(default)]
    pub spam: SpamConfig,
    /// Folder the config was read from; relative paths in it are resolved against this.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn yes() -> bool {
    true
}
fn default_inbox() -> String {
    "INBOX".into()
}
fn default_processed() -> String {
    "Processed".into()
}
fn default_quarantine() -> String {
    "Quarantine".into()
}
fn default_poll() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_busy_poll() -> HumanDuration {
    HumanDuration(Duration::from_millis(100))
}
fn default_busy_period() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
fn default_batch() -> usize {
    200
}
fn default_max_size() -> ByteSize {
    ByteSize(25 << 20)
}
fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_connections() -> usize {
    4
}
fn default_prefix() -> String {
    "CMP".into()
}
fn default_per_hour() -> u32 {
    3
}
fn default_per_day() -> u32 {
    10
}
fn default_ack() -> AcknowledgmentConfig {
    AcknowledgmentConfig {
        enabled: true,
        per_sender_per_hour: default_per_hour(),
        per_sender_per_day: default_per_day(),
    }
}
fn default_retry_initial() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_retry_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(3600))
}
fn default_give_up() -> HumanDuration {
    HumanDuration(Duration::from_secs(5 * 86_400))
}
fn default_breaker() -> u32 {
    600
}
fn default_breaker_cooldown() -> HumanDuration {
    HumanDuration(Duration::from_secs(60))
}
fn default_outbox() -> OutboxConfig {
    OutboxConfig {
        retry_initial: default_retry_initial(),
        retry_max: default_retry_max(),
        give_up_after: default_give_up(),
        max_automatic_per_minute: default_breaker(),
        breaker_cooldown: default_breaker_cooldown(),
    }
}
fn default_tz() -> String {
    "UTC".into()
}
fn default_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_start() -> String {
    "09:00".into()
}
fn default_end() -> String {
    "17:00".into()
}
fn default_calendar() -> CalendarConfig {
    CalendarConfig {
        timezone: default_tz(),
        working_days: default_days(),
        start: default_start(),
        end: default_end(),
        holidays: vec![],
    }
}
fn default_clock() -> ClockKind {
    ClockKind::Business
}
fn default_field() -> RuleField {
    RuleField::Any
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}
fn default_unsatisfied() -> Vec<String> {
    [
        "not", "no", "still", "again", "isn't", "isnt", "doesn't", "doesnt", "don't", "dont",
        "won't", "can't", "cannot", "but", "broken", "wrong", "problem", "issue", "nicht", "kein",
        "keine", "noch", "immer", "pas", "toujours", "encore", "todavía", "sigue",
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
fn default_window_start() -> String {
    "08:00".into()
}
fn default_window_end() -> String {
    "20:00".into()
}
fn default_window_days() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
fn default_attach_limit() -> ByteSize {
    ByteSize(10 << 20)
}
fn default_closed_cases_days() -> u32 {
    1095
}
fn default_quarantine_days() -> u32 {
    30
}
fn default_raw_days() -> u32 {
    365
}
fn default_unattached_days() -> u32 {
    90
}
fn default_reopen_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(14 * 86_400))
}
fn default_max_parts() -> usize {
    500
}
fn default_max_depth() -> usize {
    20
}
fn default_flood() -> u32 {
    10
}
fn default_max_headers() -> usize {
    2000
}
fn default_digest_schedule() -> DigestSchedule {
    DigestSchedule::Weekly
}
fn default_digest_day() -> String {
    "monday".into()
}
fn default_digest_day_of_month() -> u32 {
    1
}
fn default_digest_at() -> String {
    "08:00".into()
}

/// Parses a weekday name as written in config (`mon`, `monday`, case-insensitive).
pub fn parse_weekday(s: &str) -> Option<Weekday> {
    s.trim().parse::<Weekday>().ok()
}

/// Parses `HH:MM`.
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// True when `host` names the loopback interface (where plain text is acceptable).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Splits an address into (local, domain), rejecting what is clearly not an address.
pub fn split_address(addr: &str) -> Option<(&str, &str)> {
    let (l, d) = addr.rsplit_once('@')?;
    if l.is_empty() || d.is_empty() || d.contains('@') || addr.chars().any(char::is_whitespace) {
        return None;
    }
    Some((l, d))
}

impl Config {
    /// Reads, parses and validates a config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and every problem with its TOML key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self::from_toml(&text, &base).map_err(|e| match e {
            ConfigError::Syntax { message, .. } => ConfigError::Syntax {
                path: path.to_path_buf(),
                message,
            },
            ConfigError::Invalid { problems, .. } => ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            },
            other => other,
        })
    }

    /// Parses and validates config text; relative paths resolve against `base_dir`.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_toml(text: &str, base_dir: &Path) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        cfg.base_dir = base_dir.to_path_buf();
        let problems = cfg.validate();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid {
                path: PathBuf::from("<text>"),
                problems,
            })
        }
    }

    /// Resolves a path from the config against the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The SQLite database path, resolved.
    pub fn db_path(&self) -> PathBuf {
        self.resolve(&self.store.path)
    }

    /// The templates folder, resolved.
    pub fn templates_dir(&self) -> PathBuf {
        self.resolve(&self.templates.dir)
    }

    /// Domain used in our Message-IDs and reply tokens.
    pub fn message_id_domain(&self) -> String {
        self.support
            .message_id_domain
            .clone()
            .or_else(|| split_address(&self.support.address).map(|(_, d)| d.to_string()))
            .unwrap_or_else(|| "localhost".into())
    }

    /// Every address that is ours, lower-cased: mail from these is never answered.
    pub fn own_addresses(&self) -> Vec<String> {
        let mut v = vec![self.support.address.to_lowercase()];
        v.extend(self.support.own_addresses.iter().map(|a| a.to_lowercase()));
        v
    }

    /// The priority entry by name.
    pub fn priority(&self, name: &str) -> Option<&PriorityConfig> {
        self.priorities.iter().find(|p| p.name == name)
    }

    /// The category entry by name.
    pub fn category(&self, name: &str) -> Option<&CategoryConfig> {
        self.categories.iter().find(|c| c.name == name)
    }

    /// The escalation contacts for a case of this category and priority.
    pub fn escalation_contacts(&self, category: &str, priority: &str) -> Vec<String> {
        self.escalation
            .iter()
            .find(|e| {
                (e.categories.is_empty() || e.categories.iter().any(|c| c == category))
                    && (e.priorities.is_empty() || e.priorities.iter().any(|p| p == priority))
            })
            .map(|e| e.contacts.iter().map(|a| a.to_lowercase()).collect())
            .unwrap_or_default()
    }

    /// The configured agent with this (normalised) address.
    pub fn agent(&self, address: &str) -> Option<&AgentConfig> {
        self.agents
            .members
            .iter()
            .find(|a| a.address.eq_ignore_ascii_case(address))
    }

    /// Where case notifications go: `agents.notify`, or every member.
    pub fn notify_addresses(&self) -> Vec<String> {
        if self.agents.notify.is_empty() {
            self.agents
                .members
                .iter()
                .map(|a| a.address.to_lowercase())
                .collect()
        } else {
            self.agents
                .notify
                .iter()
                .map(|a| a.to_lowercase())
                .collect()
        }
    }

    /// Who gets the management digest: `digest.recipients`, else every escalation contact,
    /// else the agents (lower-cased, each once).
    pub fn digest_recipients(&self) -> Vec<String> {
        let mut v: Vec<String> = if !self.digest.recipients.is_empty() {
            self.digest.recipients.clone()
        } else if !self.escalation.is_empty() {
            self.escalation
                .iter()
                .flat_map(|e| e.contacts.iter().cloned())
                .collect()
        } else {
            self.notify_addresses()
        };
        for a in &mut v {
            *a = a.to_lowercase();
        }
        let mut seen = BTreeSet::new();
        v.retain(|a| seen.insert(a.clone()));
        v
    }

    /// The one configured source of the reply-token key.
    ///
    /// # Errors
    /// A message when none or several are set.
    pub fn token_secret_source(&self) -> Result<SecretSource, String> {
        let s = &self.support;
        match secret_source(
            &s.token_secret_file,
            &s.token_secret_env,
            &s.token_secret_credential,
            &None,
        ) {
            Ok(Some(src)) => Ok(src),
            Ok(None) => Err("needs one of token_secret_file, token_secret_env or token_secret_credential (the key signing reply addresses)".into()),
            Err(m) => Err(m.replace("password_", "token_secret_").replace(", oauth2_token_command", "")),
        }
    }

    /// Every semantic problem, keyed by TOML path. Empty means valid.
    pub fn validate(&self) -> Vec<Problem> {
        let mut p = Vec::new();
        let mut push = |key: &str, message: String| {
            p.push(Problem {
                key: key.to_string(),
                message,
            })
        };

        // Servers.
        for (section, host, port, tls) in [
            (
                "mailbox",
                &self.mailbox.host,
                self.mailbox.port,
                self.mailbox.tls,
            ),
            ("smtp", &self.smtp.host, self.smtp.port, self.smtp.tls),
        ] {
            if host.trim().is_empty() {
                push(&format!("{section}.host"), "must not be empty".into());
            }
            if port == 0 {
                push(&format!("{section}.port"), "must be 1-65535".into());
            }
            if tls == TlsMode::Plain && !is_loopback_host(host) {
                push(
                    &format!("{section}.tls"),
                    format!("`plain` sends the password in clear text and is only allowed to a loopback host, not `{host}`; use `tls` or `starttls`"),
                );
            }
        }
        match self.mailbox.secret_source() {
            Ok(None) => push(
                "mailbox",
                "needs one of password_file, password_env, password_credential or oauth2_token_command".into(),
            ),
            Err(m) => push("mailbox", m),
            Ok(Some(_)) => {}
        }
        match self.smtp.secret_source() {
            Ok(Some(_)) if self.smtp.user.is_none() => push(
                "smtp.user",
                "a password source is set but no user to log in as".into(),
            ),
            Ok(None) if self.smtp.user.is_some() => push(
                "smtp",
                "user is set but none of password_file, password_env, password_credential or oauth2_token_command".into(),
            ),
            Err(m) => push("smtp", m),
            _ => {}
        }
        if self.mailbox.user.trim().is_empty() {
            push("mailbox.user", "must not be empty".into());
        }
        for (key, v) in [
            ("mailbox.inbox", &self.mailbox.inbox),
            ("mailbox.processed_folder", &self.mailbox.processed_folder),
            ("mailbox.quarantine_folder", &self.mailbox.quarantine_folder),
        ] {
            if v.trim().is_empty() || v.contains(['"', '\r', '\n', '\\']) {
                push(
                    key,
                    "must be a folder name without quotes, backslashes or line breaks".into(),
                );
            }
        }
        if self.mailbox.processed_folder == self.mailbox.inbox
            || self.mailbox.quarantine_folder == self.mailbox.inbox
        {
            push(
                "mailbox.processed_folder",
                "processed and quarantine folders must differ from the inbox".into(),
            );
        }
        if self.mailbox.poll_interval.0 < Duration::from_secs(1) {
            push("mailbox.poll_interval", "must be at least 1s".into());
        }
        if self.mailbox.busy_poll_interval.0 < Duration::from_millis(20)
            || self.mailbox.busy_poll_interval.0 > self.mailbox.poll_interval.0
        {
            push(
                "mailbox.busy_poll_interval",
                "must be at least 20ms and at most mailbox.poll_interval".into(),
            );
        }
        if self.mailbox.busy_period.0 > Duration::from_secs(3600) {
            push(
                "mailbox.busy_period",
                "must be at most 1h (0s turns it off)".into(),
            );
        }
        if !(1..=5000).contains(&self.mailbox.batch_size) {
            push("mailbox.batch_size", "must be between 1 and 5000".into());
        }
        if self.mailbox.max_message_size.0 < 1024 {
            push("mailbox.max_message_size", "must be at least 1KB".into());
        }
        if !(1..=32).contains(&self.smtp.connections) {
            push("smtp.connections", "must be between 1 and 32".into());
        }

        // Support identity.
        if split_address(&self.support.address).is_none() {
            push(
                "support.address",
                format!("`{}` is not an e-mail address", self.support.address),
            );
        }
        for (i, a) in self.support.own_addresses.iter().enumerate() {
            if split_address(a).is_none() {
                push(
                    &format!("support.own_addresses[{i}]"),
                    format!("`{a}` is not an e-mail address"),
                );
            }
        }
        if self.support.name.contains(['\r', '\n']) {
            push("support.name", "must be one line".into());
        }
        let prefix = &self.support.reference_prefix;
        if prefix.is_empty()
            || prefix.len() > 8
            || !prefix
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            push(
                "support.reference_prefix",
                format!("`{prefix}` must be 1-8 characters A-Z or 0-9"),
            );
        }

        // Outbox.
        if self.outbox.retry_initial.0.is_zero() {
            push("outbox.retry_initial", "must be more than 0s".into());
        }
        if self.outbox.retry_max < self.outbox.retry_initial {
            push(
                "outbox.retry_max",
                "must not be shorter than retry_initial".into(),
            );
        }
        if self.outbox.max_automatic_per_minute == 0 {
            push(
                "outbox.max_automatic_per_minute",
                "must be at least 1".into(),
            );
        }
        if self.acknowledgment.per_sender_per_day < self.acknowledgment.per_sender_per_hour {
            push(
                "acknowledgment.per_sender_per_day",
                "must not be lower than per_sender_per_hour".into(),
            );
        }

        // Calendar.
        if self.calendar.timezone.parse::<chrono_tz::Tz>().is_err() {
            push(
                "calendar.timezone",
                format!(
                    "`{}` is not an IANA time zone like Europe/Berlin",
                    self.calendar.timezone
                ),
            );
        }
        if self.calendar.working_days.is_empty() {
            push(
                "calendar.working_days",
                "needs at least one working day".into(),
            );
        }
        for (i, d) in self.calendar.working_days.iter().enumerate() {
            if parse_weekday(d).is_none() {
                push(
                    &format!("calendar.working_days[{i}]"),
                    format!("`{d}` is not a weekday (mon, tue, ...)"),
                );
            }
        }
        let start = parse_hhmm(&self.calendar.start);
        let end = parse_hhmm(&self.calendar.end);
        if start.is_none() {
            push(
                "calendar.start",
                format!("`{}` is not a time HH:MM", self.calendar.start),
            );
        }
        if end.is_none() {
            push(
                "calendar.end",
                format!("`{}` is not a time HH:MM", self.calendar.end),
            );
        }
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                push("calendar.end", "must be after calendar.start".into());
            }
        }
        for (i, h) in self.calendar.holidays.iter().enumerate() {
            if NaiveDate::parse_from_str(h, "%Y-%m-%d").is_err() {
                push(
                    &format!("calendar.holidays[{i}]"),
                    format!("`{h}` is not a date YYYY-MM-DD"),
                );
            }
        }

        // Priorities and categories.
        if self.priorities.is_empty() {
            push("priorities", "needs at least one priority".into());
        }
        let mut seen = BTreeSet::new();
        for (i, pr) in self.priorities.iter().enumerate() {
            if !valid_name(&pr.name) {
                push(
                    &format!("priorities[{i}].name"),
                    format!("`{}` must be lower-case letters, digits, - or _", pr.name),
                );
            }
            if !seen.insert(pr.name.clone()) {
                push(
                    &format!("priorities[{i}].name"),
                    format!("`{}` is defined twice", pr.name),
                );
            }
            if pr.first_response.0.is_zero() {
                push(
                    &format!("priorities[{i}].first_response"),
                    "must be more than 0".into(),
                );
            }
            let year = Duration::from_secs(365 * 86_400);
            if pr.first_response.0 > year {
                push(
                    &format!("priorities[{i}].first_response"),
                    "must be at most 365d".into(),
                );
            }
            if pr.resolution.is_some_and(|r| r.0.is_zero() || r.0 > year) {
                push(
                    &format!("priorities[{i}].resolution"),
                    "must be more than 0 and at most 365d".into(),
                );
            }
        }
        if self.categories.is_empty() {
            push("categories", "needs at least one category".into());
        }
        let mut seen = BTreeSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            if !valid_name(&c.name) {
                push(
                    &format!("categories[{i}].name"),
                    format!("`{}` must be lower-case letters, digits, - or _", c.name),
                );
            }
            if !seen.insert(c.name.clone()) {
                push(
                    &format!("categories[{i}].name"),
                    format!("`{}` is defined twice", c.name),
                );
            }
        }
        if self.category(&self.classify.default_category).is_none() {
            push(
                "classify.default_category",
                format!(
                    "`{}` is not one of the categories",
                    self.classify.default_category
                ),
            );
        }
        if self.priority(&self.classify.default_priority).is_none() {
            push(
                "classify.default_priority",
                format!(
                    "`{}` is not one of the priorities",
                    self.classify.default_priority
                ),
            );
        }
        for (i, r) in self.classify.rules.iter().enumerate() {
            let key = format!("classify.rules[{i}]");
            if r.keywords.is_empty() && r.regex.is_none() {
                push(&key, format!("rule `{}` needs keywords or a regex", r.name));
            }
            if r.category.is_none() && r.priority.is_none() {
                push(
                    &key,
                    format!("rule `{}` sets neither category nor priority", r.name),
                );
            }
            if let Some(re) = &r.regex {
                if let Err(e) = regex::Regex::new(re) {
                    push(&format!("{key}.regex"), format!("invalid regex: {e}"));
                }
            }
            if let Some(c) = &r.category {
                if self.category(c).is_none() {
                    push(
                        &format!("{key}.category"),
                        format!("`{c}` is not one of the categories"),
                    );
                }
            }
            if let Some(pr) = &r.priority {
                if self.priority(pr).is_none() {
                    push(
                        &format!("{key}.priority"),
                        format!("`{pr}` is not one of the priorities"),
                    );
                }
            }
            if r.keywords.iter().any(|k| k.trim().is_empty()) {
                push(
                    &format!("{key}.keywords"),
                    "must not contain empty keywords".into(),
                );
            }
        }
        if let Err(m) = self.token_secret_source() {
            push("support", m);
        }
        if let Some((local, _)) = split_address(&self.support.address) {
            // support+c.<reference>.<16-char MAC>: keep the local part within RFC 5321's 64.
            if local.len() + 1 + crate::thread::token::TOKEN_MAX_LEN > 64 {
                push(
                    "support.address",
                    format!("local part `{local}` is too long to carry a reply token (at most {} characters)", 63 - crate::thread::token::TOKEN_MAX_LEN),
                );
            }
            if local.contains('+') {
                push(
                    "support.address",
                    "must not contain `+`: replies come back to support+<token>@".into(),
                );
            }
        }

        // Schedule.
        let w = &self.send_window;
        match (parse_hhmm(&w.start), parse_hhmm(&w.end)) {
            (None, _) => push(
                "send_window.start",
                format!("`{}` is not a time HH:MM", w.start),
            ),
            (_, None) => push(
                "send_window.end",
                format!("`{}` is not a time HH:MM", w.end),
            ),
            (Some(a), Some(b)) if b <= a => push(
                "send_window.end",
                "must be after send_window.start (the window cannot span midnight)".into(),
            ),
            _ => {}
        }
        if w.days.is_empty() {
            push("send_window.days", "needs at least one day".into());
        }
        for (i, d) in w.days.iter().enumerate() {
            if parse_weekday(d).is_none() {
                push(
                    &format!("send_window.days[{i}]"),
                    format!("`{d}` is not a weekday (mon, tue, ...)"),
                );
            }
        }
        for (i, e) in self.escalation.iter().enumerate() {
            if e.contacts.is_empty() {
                push(
                    &format!("escalation[{i}].contacts"),
                    "needs at least one address".into(),
                );
            }
            for (j, a) in e.contacts.iter().enumerate() {
                if split_address(a).is_none() {
                    push(
                        &format!("escalation[{i}].contacts[{j}]"),
                        format!("`{a}` is not an e-mail address"),
                    );
                }
            }
            for (j, c) in e.categories.iter().enumerate() {
                if self.category(c).is_none() {
                    push(
                        &format!("escalation[{i}].categories[{j}]"),
                        format!("`{c}` is not one of the categories"),
                    );
                }
            }
            for (j, pr) in e.priorities.iter().enumerate() {
                if self.priority(pr).is_none() {
                    push(
                        &format!("escalation[{i}].priorities[{j}]"),
                        format!("`{pr}` is not one of the priorities"),
                    );
                }
            }
        }
        let d = &self.digest;
        if d.schedule == DigestSchedule::Weekly && parse_weekday(&d.day).is_none() {
            push(
                "digest.day",
                format!("`{}` is not a weekday (monday, tue, ...)", d.day),
            );
        }
        if !(1..=28).contains(&d.day_of_month) {
            push(
                "digest.day_of_month",
                "must be 1-28 (every month has it)".into(),
            );
        }
        if parse_hhmm(&d.at).is_none() {
            push("digest.at", format!("`{}` is not a time HH:MM", d.at));
        }
        if d.period
            .is_some_and(|p| p.0.is_zero() || p.0 > Duration::from_secs(366 * 86_400))
        {
            push(
                "digest.period",
                "must be more than 0 and at most 366d".into(),
            );
        }
        for (i, a) in d.recipients.iter().enumerate() {
            if split_address(a).is_none() {
                push(
                    &format!("digest.recipients[{i}]"),
                    format!("`{a}` is not an e-mail address"),
                );
            } else if self.own_addresses().contains(&a.to_lowercase()) {
                push(
                    &format!("digest.recipients[{i}]"),
                    "must not be one of our own addresses".into(),
                );
            }
        }
        if d.enabled && self.digest_recipients().is_empty() {
            push(
                "digest.recipients",
                "nobody to send the digest to: set recipients (or [[escalation]] contacts or agents), or enabled = false".into(),
            );
        }
        if self.feedback.escalate_at_or_below > 5 {
            push(
                "feedback.escalate_at_or_below",
                "must be 0 (never) to 5".into(),
            );
        }

        // Agents.
        let own = self.own_addresses();
        for (i, a) in self.agents.members.iter().enumerate() {
            if split_address(&a.address).is_none() {
                push(
                    &format!("agents.members[{i}].address"),
                    format!("`{}` is not an e-mail address", a.address),
                );
            }
            if own.contains(&a.address.to_lowercase()) {
                push(
                    &format!("agents.members[{i}].address"),
                    "must not be one of our own addresses (mail from those is ignored)".into(),
                );
            }
            if a.name.trim().is_empty() || a.name.contains(['\r', '\n']) {
                push(
                    &format!("agents.members[{i}].name"),
                    "must be one non-empty line".into(),
                );
            }
            if self.agents.members[..i]
                .iter()
                .any(|b| b.address.eq_ignore_ascii_case(&a.address))
            {
                push(
                    &format!("agents.members[{i}].address"),
                    format!("`{}` is listed twice", a.address),
                );
            }
        }
        for (i, a) in self.agents.notify.iter().enumerate() {
            if split_address(a).is_none() {
                push(
                    &format!("agents.notify[{i}]"),
                    format!("`{a}` is not an e-mail address"),
                );
            } else if own.contains(&a.to_lowercase()) {
                push(
                    &format!("agents.notify[{i}]"),
                    "must not be one of our own addresses: notifications would loop".into(),
                );
            }
        }
        if self.agents.verify == AgentVerify::AuthenticationResults
            && self
                .agents
                .authserv_id
                .as_deref()
                .is_none_or(|s| s.trim().is_empty())
        {
            push(
                "agents.authserv_id",
                "is required with verify = \"authentication-results\": the id your receiving server writes in Authentication-Results".into(),
            );
        }

        if self.limits.max_parts == 0
            || self.limits.max_depth == 0
            || self.limits.max_headers == 0
            || self.limits.new_cases_per_sender_per_hour == 0
            || self.limits.new_cases_per_text_per_hour == 0
        {
            push("limits", "limits must be at least 1".into());
        }
        for (key, v) in [
            (
                "loops.max_messages_per_side",
                self.loops.max_messages_per_side,
            ),
            ("loops.max_repeats", self.loops.max_repeats),
            (
                "loops.max_outbound_per_case_per_hour",
                self.loops.max_outbound_per_case_per_hour,
            ),
            (
                "loops.max_outbound_per_address_per_hour",
                self.loops.max_outbound_per_address_per_hour,
            ),
        ] {
            if v < 2 {
                push(
                    key,
                    format!(
                        "must be at least 2 (got {v}): a lower value stops ordinary conversations"
                    ),
                );
            }
        }
        if self.loops.window.0 < Duration::from_secs(60) {
            push("loops.window", "must be at least 1m".into());
        }
        self.validate_retention(&mut push);
        self.validate_spam(&mut push);
        p
    }

    /// The authserv-id whose `Authentication-Results` the spam guard reads:
    /// `spam.authserv_id`, else `agents.authserv_id`; `None` when neither is set.
    pub fn spam_authserv_id(&self) -> Option<&str> {
        self.spam
            .authserv_id
            .as_deref()
            .or(self.agents.authserv_id.as_deref())
            .filter(|id| !id.trim().is_empty())
    }

    fn validate_spam(&self, push: &mut impl FnMut(&str, String)) {
        let s = &self.spam;
        for (i, r) in s.header_rules.iter().flatten().enumerate() {
            let name = r.header.trim();
            if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                push(
                    &format!("spam.header_rules[{i}].header"),
                    format!("`{}` is not a header field name", r.header),
                );
            }
            if r.values.is_empty() || r.values.iter().any(|v| v.trim().is_empty()) {
                push(
                    &format!("spam.header_rules[{i}].values"),
                    "needs at least one value, none of them empty".into(),
                );
            }
        }
        for (i, f) in s.auth_failures.iter().flatten().enumerate() {
            let ok = f.trim().split_once('=').is_some_and(|(m, r)| {
                let word = |w: &str| {
                    !w.is_empty()
                        && w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                };
                word(m) && word(r)
            });
            if !ok {
                push(
                    &format!("spam.auth_failures[{i}]"),
                    format!("`{f}` is not a `method=result` pair such as \"dmarc=fail\""),
                );
            }
        }
        if s.authserv_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            push(
                "spam.authserv_id",
                "must not be empty: the id your receiving server writes in Authentication-Results"
                    .into(),
            );
        }
        if s.auth_failures.as_ref().is_some_and(|f| !f.is_empty())
            && self.spam_authserv_id().is_none()
        {
            push(
                "spam.auth_failures",
                "needs spam.authserv_id (or agents.authserv_id): without it our server's Authentication-Results cannot be told from one the sender wrote".into(),
            );
        }
    }

    fn validate_retention(&self, push: &mut impl FnMut(&str, String)) {
        const MAX_DAYS: u32 = 36_500;
        let r = &self.retention;
        let reopen_days = self.conversation.reopen_window.0.as_secs().div_ceil(86_400);
        let case_period = |days: u32| -> Option<String> {
            if days > MAX_DAYS {
                Some(format!(
                    "{days} days is more than {MAX_DAYS}; use 0 to keep forever"
                ))
            } else if days != 0 && u64::from(days) < reopen_days {
                Some(format!("{days} days is shorter than conversation.reopen_window ({reopen_days} days): a case could be purged while its customer may still reopen it"))
            } else {
                None
            }
        };
        if let Some(m) = case_period(r.closed_cases_days) {
            push("retention.closed_cases_days", m);
        }
        let categories = r
            .categories
            .iter()
            .map(|(n, d)| ("categories", n, *d, self.category(n).is_some()));
        let priorities = r
            .priorities
            .iter()
            .map(|(n, d)| ("priorities", n, *d, self.priority(n).is_some()));
        for (section, name, days, known) in categories.chain(priorities) {
            let key = format!("retention.{section}.{name}");
            if !known {
                push(&key, format!("`{name}` is not one of the {section}"));
            }
            if let Some(m) = case_period(days) {
                push(&key, m);
            }
        }
        for (key, days) in [
            ("retention.quarantine_days", r.quarantine_days),
            ("retention.raw_days", r.raw_days),
            ("retention.unattached_days", r.unattached_days),
        ] {
            if days > MAX_DAYS {
                push(
                    key,
                    format!("{days} days is more than {MAX_DAYS}; use 0 to keep forever"),
                );
            }
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn secret_source(
    file: &Option<PathBuf>,
    env: &Option<String>,
    cred: &Option<String>,
    cmd: &Option<Vec<String>>,
) -> Result<Option<SecretSource>, String> {
    let mut found = Vec::new();
    if let Some(f) = file {
        found.push(SecretSource::File(f.clone()));
    }
    if let Some(e) = env {
        found.push(SecretSource::Env(e.clone()));
    }
    if let Some(c) = cred {
        if c.contains('/') || c.is_empty() {
            return Err(format!(
                "password_credential `{c}` must be a plain credential name"
            ));
        }
        found.push(SecretSource::Credential(c.clone()));
    }
    if let Some(c) = cmd {
        if c.is_empty() {
            return Err("oauth2_token_command must name a program".into());
        }
        found.push(SecretSource::OAuth2Command(c.clone()));
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err("set only one of password_file, password_env, password_credential, oauth2_token_command".into()),
    }
}

impl MailboxConfig {
    /// The one configured secret source.
    ///
    /// # Errors
    /// A message when several are set.
    pub fn secret_source(&self) -> Result<Option<SecretSource>, String> {
        secret_source(
            &self.password_file,
            &self.password_env,
            &self.password_credential,
            &self.oauth2_token_command,
        )
    }
}

impl SmtpConfig {
    /// The one configured secret source, if any (a local relay needs none).
    ///
    /// # Errors
    /// A message when several are set.
    pub fn secret_source(&self) -> Result<Option<SecretSource>, String> {
        secret_source(
            &self.password_file,
            &self.password_env,
            &self.password_credential,
            &self.oauth2_token_command,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const MINIMAL: &str = r#"
[mailbox]
host = "127.0.0.1"
port = 10143
tls = "plain"
user = "support@support.test"
password_env = "IMAP_PW"

[smtp]
host = "127.0.0.1"
port = 10025
tls = "plain"

[support]
address = "support@support.test"
name = "Support"
token_secret_env = "TOKEN_KEY"

[store]
path = "mailcase.db"

[templates]
dir = "templates"

[[priorities]]
name = "urgent"
first_response = "2h"
clock = "wall"

[[priorities]]
name = "normal"
first_response = "1d"

[[categories]]
name = "general"

[classify]
default_category = "general"
default_priority = "normal"
"#;

    #[test]
    fn agents_are_checked_with_their_keys() {
        let text = MINIMAL.to_string()
            + r#"
[agents]
notify = ["support@support.test"]
verify = "authentication-results"

[[agents.members]]
address = "ann@support.test"
name = "Ann"

[[agents.members]]
address = "ANN@support.test"
name = "Ann again"

[[agents.members]]
address = "not an address"
name = ""
"#;
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for key in [
            "agents.notify[0]",
            "agents.authserv_id",
            "agents.members[1].address",
            "agents.members[2].address",
            "agents.members[2].name",
        ] {
            assert!(e.contains(key), "{key} missing in: {e}");
        }
    }

    #[test]
    fn the_token_key_source_is_required_and_a_long_local_part_refused() {
        let text = MINIMAL.replace("token_secret_env = \"TOKEN_KEY\"\n", "");
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("token_secret_file"), "{e}");
        let text = MINIMAL.replace(
            "address = \"support@support.test\"",
            "address = \"customer-support-and-complaints-department@support.test\"",
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("support.address") && e.contains("reply token"),
            "{e}"
        );
    }

    #[test]
    fn spam_settings_are_checked_with_their_keys() {
        let text = MINIMAL.to_string()
            + r#"
[spam]
authserv_id = " "
auth_failures = ["dmarc=fail", "dmarc fail"]

[[spam.header_rules]]
header = "X-Spam Flag"
values = []
"#;
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for key in [
            "spam.authserv_id",
            "spam.auth_failures[1]",
            "spam.auth_failures:",
            "spam.header_rules[0].header",
            "spam.header_rules[0].values",
        ] {
            assert!(e.contains(key), "{key} missing in: {e}");
        }
    }

    #[test]
    fn spam_auth_failures_are_read_only_with_an_authserv_id() {
        let c = Config::from_toml(MINIMAL, Path::new(".")).unwrap();
        assert_eq!(c.spam.action, SpamAction::NoAck);
        assert_eq!(c.spam_authserv_id(), None);
        assert_eq!(c.spam.rules().len(), 5);
        let text = MINIMAL.to_string() + "\n[agents]\nauthserv_id = \"mx.support.test\"\n";
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        assert_eq!(c.spam_authserv_id(), Some("mx.support.test"));
        assert_eq!(c.spam.failures(), vec!["spf=fail", "dmarc=fail"]);
        let text = MINIMAL.to_string()
            + "\n[spam]\naction = \"quarantine\"\nauthserv_id = \"mx2.support.test\"\nauth_failures = [\"DMARC=fail\"]\nspam_headers = false\n";
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        assert_eq!(c.spam.action, SpamAction::Quarantine);
        assert_eq!(c.spam_authserv_id(), Some("mx2.support.test"));
        assert_eq!(c.spam.failures(), vec!["dmarc=fail"]);
        assert!(c.spam.rules().is_empty());
    }

    #[test]
    fn minimal_config_is_valid() {
        let c = Config::from_toml(MINIMAL, Path::new("/etc/mailcase")).unwrap();
        assert_eq!(c.db_path(), PathBuf::from("/etc/mailcase/mailcase.db"));
        assert_eq!(c.message_id_domain(), "support.test");
        assert_eq!(c.mailbox.poll_interval.0, Duration::from_secs(60));
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("port = 10143", "port = 10143\nhots = \"x\"");
        let e = Config::from_toml(&text, Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("hots"), "{e}");
    }

    #[test]
    fn plain_text_to_a_remote_host_is_refused_with_its_key() {
        let text = MINIMAL.replacen("host = \"127.0.0.1\"", "host = \"imap.example.com\"", 1);
        let e = Config::from_toml(&text, Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("mailbox.tls"), "{e}");
    }

    #[test]
    fn every_problem_is_reported_not_just_the_first() {
        let text = MINIMAL
            .replace(
                "default_priority = \"normal\"",
                "default_priority = \"meh\"",
            )
            .replace(
                "name = \"Support\"",
                "name = \"Support\"\nreference_prefix = \"c-1\"",
            );
        let e = Config::from_toml(&text, Path::new(".")).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("classify.default_priority"), "{s}");
        assert!(s.contains("support.reference_prefix"), "{s}");
    }

    #[test]
    fn bad_duration_names_its_key_and_unit() {
        let text = MINIMAL.replace("first_response = \"2h\"", "first_response = \"2 hours\"");
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("first_response") || e.contains("unknown unit"),
            "{e}"
        );
    }

    #[test]
    fn busy_polling_is_bounded() {
        let c = Config::from_toml(MINIMAL, Path::new(".")).unwrap();
        assert_eq!(c.mailbox.busy_poll_interval.0, Duration::from_millis(100));
        assert_eq!(c.mailbox.busy_period.0, Duration::from_secs(10));
        let text = MINIMAL.replace(
            "password_env = \"IMAP_PW\"",
            "password_env = \"IMAP_PW\"\nbusy_poll_interval = \"5ms\"\nbusy_period = \"2h\"",
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mailbox.busy_poll_interval"), "{e}");
        assert!(e.contains("mailbox.busy_period"), "{e}");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            HumanDuration::parse("1h30m").unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(HumanDuration::parse("2d").unwrap().0.as_secs(), 172_800);
        assert!(HumanDuration::parse("10").is_err());
        assert!(HumanDuration::parse("").is_err());
        assert!(HumanDuration::parse("5y").is_err());
        assert_eq!(
            HumanDuration::parse("100ms").unwrap().0,
            Duration::from_millis(100)
        );
        assert_eq!(
            HumanDuration::parse("1s 500ms").unwrap().0,
            Duration::from_millis(1500)
        );
        assert!(HumanDuration::parse("5 mss").is_err());
        assert!(HumanDuration::parse("5s10").is_err());
    }

    #[test]
    fn digest_settings_are_checked_with_their_keys() {
        let text = MINIMAL.to_string()
            + r#"
[digest]
schedule = "weekly"
day = "someday"
day_of_month = 31
at = "8 o'clock"
period = "0s"
recipients = ["support@support.test", "nobody"]
"#;
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for key in [
            "digest.day",
            "digest.day_of_month",
            "digest.at",
            "digest.period",
            "digest.recipients[0]",
            "digest.recipients[1]",
        ] {
            assert!(e.contains(key), "{key} missing in: {e}");
        }
        let e = Config::from_toml(
            &(MINIMAL.to_string() + "\n[digest]\nschedule = \"fortnightly\"\n"),
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("fortnightly") && e.contains("schedule"), "{e}");
    }

    #[test]
    fn digest_recipients_default_to_the_escalation_contacts() {
        let text = MINIMAL.to_string()
            + r#"
[digest]
schedule = "daily"

[[escalation]]
contacts = ["Boss@support.test", "ops@support.test"]
categories = ["general"]

[[escalation]]
contacts = ["boss@support.test"]
"#;
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        assert!(c.digest.enabled);
        assert_eq!(
            c.digest_recipients(),
            vec!["boss@support.test", "ops@support.test"]
        );
        // Enabled with nobody to tell is an error that says what to set.
        let e = Config::from_toml(
            &(MINIMAL.to_string() + "\n[digest]\nat = \"07:30\"\n"),
            Path::new("."),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("digest.recipients"), "{e}");
        // Without a [digest] section there is no digest.
        assert!(
            !Config::from_toml(MINIMAL, Path::new("."))
                .unwrap()
                .digest
                .enabled
        );
    }

    #[test]
    fn two_secret_sources_are_an_error() {
        let text = MINIMAL.replace(
            "password_env = \"IMAP_PW\"",
            "password_env = \"IMAP_PW\"\npassword_file = \"/x\"",
        );
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only one"), "{e}");
    }
}

#[cfg(test)]
mod retention_tests {
    use super::tests::MINIMAL;
    use super::*;

    #[test]
    fn retention_defaults_keep_closed_cases_three_years() {
        let c = Config::from_toml(MINIMAL, Path::new(".")).unwrap();
        assert_eq!(
            c.retention.closed_case_days("general", "normal"),
            Some(1095)
        );
        assert_eq!(c.retention.quarantine_days, 30);
        assert_eq!(c.retention.raw_days, 365);
        assert_eq!(c.retention.unattached_days, 90);
    }

    #[test]
    fn an_override_replaces_the_default_and_the_longest_override_wins() {
        let text = MINIMAL.to_string()
            + "[retention]\nclosed_cases_days = 400\n[retention.categories]\ngeneral = 3650\n[retention.priorities]\nurgent = 20\nnormal = 0\n";
        let c = Config::from_toml(&text, Path::new(".")).unwrap();
        let r = &c.retention;
        assert_eq!(r.closed_case_days("general", "urgent"), Some(3650));
        assert_eq!(r.closed_case_days("other", "urgent"), Some(20));
        assert_eq!(r.closed_case_days("other", "other"), Some(400));
        assert_eq!(
            r.closed_case_days("general", "normal"),
            None,
            "0 keeps forever"
        );
    }

    #[test]
    fn retention_problems_name_their_keys() {
        let text = MINIMAL.to_string()
            + "[retention]\nclosed_cases_days = 3\nraw_days = 99999\n[retention.categories]\nbiling = 3650\n[retention.priorities]\nnormal = 50000\n";
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        for (key, what) in [
            ("retention.closed_cases_days", "reopen_window"),
            ("retention.raw_days", "more than 36500"),
            ("retention.categories.biling", "not one of the categories"),
            ("retention.priorities.normal", "more than 36500"),
        ] {
            assert!(
                e.lines().any(|l| l.contains(key) && l.contains(what)),
                "{key}: {what} missing in: {e}"
            );
        }
        let text = MINIMAL.to_string() + "[retention]\nclosed_case_days = 3\n";
        let e = Config::from_toml(&text, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("closed_case_days"), "{e}");
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[test]
    fn the_shipped_example_config_is_valid() {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/mailcase.example.toml"
        ));
        let c = Config::load(p).unwrap();
        assert_eq!(c.priorities[0].name, "urgent");
        assert!(c.classify.rules.iter().any(|r| r.name == "outage"));
    }
}
