//! Talking to mail servers and people: the mailbox, the SMTP server, who we are, the agents,
//! the acknowledgment limits, the outbox and the templates.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::values::{ByteSize, HumanDuration};
use super::{yes, SecretSource};

/// How to reach a server: implicit TLS, STARTTLS, or plain text (loopback only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Tls,
    Starttls,
    Plain,
}

/// The IMAP mailbox the daemon watches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    /// Its name in logs and `mailcase check`; needed when there are several.
    pub name: Option<String>,
    /// The queue of mail that reaches it without naming any of our addresses (a Bcc, a list
    /// expansion); default: the first `[[queue]]`.
    pub default_queue: Option<String>,
    /// Its TOML path (`mailbox` or `mailbox[1]`), set at load.
    #[serde(skip)]
    pub path: String,
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
    /// Its name, for a `[[brand]] smtp` to send through it; needed when there are several.
    pub name: Option<String>,
    /// Its TOML path (`smtp` or `smtp[1]`), set at load.
    #[serde(skip)]
    pub path: String,
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
    /// Prefix of reference numbers, e.g. `CMP` gives `CMP-7KQ4X-V`.
    #[serde(default = "default_prefix")]
    pub reference_prefix: String,
    /// Other addresses that are ours (aliases, no-reply): mail from them is never answered.
    #[serde(default)]
    pub own_addresses: Vec<String>,
    /// Printed under the sign-off of every customer mail (a brand's replaces it).
    #[serde(default)]
    pub signature: Option<String>,
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
    /// An agent's answer reaches the customer with its files and inline images up to this
    /// total (decoded) size; a larger answer is not relayed and the agent is told, so nothing
    /// is dropped silently.
    #[serde(default = "default_attach_limit")]
    pub answer_attach_limit: ByteSize,
    /// Which colleagues see an agent's answer, command or internal note, in the case's
    /// thread: `all` (every notified agent) or `involved` (the assignee and the agents who
    /// took part in the case).
    #[serde(default)]
    pub colleagues: Colleagues,
    /// The agents. Mail from any other address is never relayed to a customer (the
    /// escalation contacts aside, see `managers_act_by_mail`).
    #[serde(default)]
    pub members: Vec<AgentConfig>,
    /// The `[[escalation]]` contacts answer and act by mail like agents: the escalation mail's
    /// Reply-To is the case's managers' reply address, and a contact's reply through it is
    /// relayed and its commands applied (checked as `verify` says). Off: the escalation mail
    /// keeps the agents' reply address and does not invite a reply; a contact who is not an
    /// agent is kept as an unverified note, as before.
    #[serde(default = "yes")]
    pub managers_act_by_mail: bool,
}

/// Which colleagues see what an agent did on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Colleagues {
    /// Every address case notifications go to (`agents.notify`, or every member).
    #[default]
    All,
    /// The assignee and the agents who answered, commanded or noted on the case.
    Involved,
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            notify: vec![],
            verify: AgentVerify::None,
            authserv_id: None,
            attach_limit: default_attach_limit(),
            answer_attach_limit: default_attach_limit(),
            colleagues: Colleagues::All,
            members: vec![],
            managers_act_by_mail: true,
        }
    }
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
    /// Numbers the acknowledgment names back to the customer (order, invoice, ...).
    #[serde(default)]
    pub found: Vec<FoundPattern>,
    /// What the acknowledgment asks for, per category.
    #[serde(default)]
    pub ask: Vec<AskConfig>,
}

/// A kind of number found in a complaint and named in the acknowledgment: its first match
/// (the first capture group when the pattern has one), called by `found.<name>` of the
/// language's phrases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundPattern {
    pub name: String,
    /// Rust regex syntax, matched against the subject and the reply text.
    pub pattern: String,
}

/// A question the acknowledgment asks for a category, worded by `questions.<question>` of
/// the customer's language; left out when a number of the kind `unless_found` was found.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskConfig {
    pub category: String,
    pub question: String,
    pub unless_found: Option<String>,
}

/// Languages: what customers get, and what the team reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageConfig {
    /// Customers whose language is unknown, or not shipped, get this one; templates and
    /// phrases missing in a language fall back to it.
    #[serde(default = "default_language")]
    pub default: String,
    /// Mail to agents and managers (and the digest) is written in this language.
    #[serde(default = "default_language")]
    pub team: String,
    /// Tell a new complaint's language from its text and Content-Language; off: every
    /// customer gets `default`.
    #[serde(default = "yes")]
    pub detect: bool,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        LanguageConfig {
            default: default_language(),
            team: default_language(),
            detect: true,
        }
    }
}

fn default_language() -> String {
    crate::locale::BASE.into()
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

/// Templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatesConfig {
    /// Folder holding `*.tera` templates.
    pub dir: PathBuf,
    /// A brand's folder laid over `dir` (set for a queue's config, never written here).
    #[serde(skip)]
    pub overlay: Option<PathBuf>,
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
fn default_attach_limit() -> ByteSize {
    ByteSize(10 << 20)
}
fn default_per_hour() -> u32 {
    3
}
fn default_per_day() -> u32 {
    10
}
pub(super) fn default_ack() -> AcknowledgmentConfig {
    AcknowledgmentConfig {
        enabled: true,
        per_sender_per_hour: default_per_hour(),
        per_sender_per_day: default_per_day(),
        found: Vec::new(),
        ask: Vec::new(),
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
pub(super) fn default_outbox() -> OutboxConfig {
    OutboxConfig {
        retry_initial: default_retry_initial(),
        retry_max: default_retry_max(),
        give_up_after: default_give_up(),
        max_automatic_per_minute: default_breaker(),
        breaker_cooldown: default_breaker_cooldown(),
    }
}

pub(super) fn secret_source(
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
