//! Typed configuration: what an admin writes in `mailcase.toml`.
//!
//! Every struct denies unknown fields, so a typo is an error that names the key. After
//! deserialising, the times of day, weekdays, time zone and dates are parsed into chrono types
//! once (`file.rs`), and the checks (`validate.rs`) collect *every* semantic problem keyed by
//! its TOML path (not just the first), the way stalwart's config loader does. Secrets are
//! never stored in the file itself: they come from a file, an environment variable, a systemd
//! credential or a token command (see [`SecretSource`]).
//!
//! The rooms: `values.rs` (durations, sizes, times, weekdays, zones, addresses), `mail.rs`
//! (servers, support identity, agents, outbox, templates), `service.rs` (priorities,
//! classification, calendar, service levels, send window, escalation, follow-up, feedback,
//! digest), `limits.rs` (input limits, loop guard, spam), `records.rs` (store, retention, log,
//! service).

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

mod brands;
mod file;
mod limits;
mod mail;
mod records;
mod service;
mod validate;
mod values;

pub use brands::{BrandConfig, QueueConfig, Route, ServiceLevelConfig, DEFAULT};
pub use limits::*;
pub use mail::*;
pub use records::*;
pub use service::*;
pub use values::*;

pub use crate::secret::SecretSource;

use file::ConfigFile;

/// Errors from loading a config: the file, its TOML syntax or unknown keys, or semantic checks.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
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

/// The whole configuration file, its values parsed (read by [`Config::load`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// The mailboxes read (`[mailbox]`, or several `[[mailbox]]`); never empty.
    pub mailboxes: Vec<MailboxConfig>,
    /// `[[brand]]`: empty for a config of one brand (made of `[support]`).
    pub brands: Vec<BrandConfig>,
    /// `[[queue]]`: empty for a config of one queue (the support address).
    pub queues: Vec<QueueConfig>,
    /// Every SMTP account (`[smtp]`, or several `[[smtp]]`); the first is `smtp`.
    pub smtp_accounts: Vec<SmtpConfig>,
    pub support: SupportConfig,
    pub store: StoreConfig,
    pub templates: TemplatesConfig,
    pub acknowledgment: AcknowledgmentConfig,
    pub outbox: OutboxConfig,
    pub calendar: CalendarConfig,
    pub priorities: Vec<PriorityConfig>,
    pub categories: Vec<CategoryConfig>,
    pub classify: ClassifyConfig,
    pub agents: AgentsConfig,
    pub conversation: ConversationConfig,
    /// Customers' languages and the team's.
    pub language: LanguageConfig,
    pub sla: SlaConfig,
    pub send_window: SendWindowConfig,
    /// Escalation contacts, first match wins.
    pub escalation: Vec<EscalationConfig>,
    pub follow_up: FollowUpConfig,
    pub feedback: FeedbackConfig,
    pub limits: LimitsConfig,
    pub loops: LoopsConfig,
    pub log: LogConfig,
    /// The metrics listener (off by default).
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    /// The management digest (off without a `[digest]` section).
    pub digest: DigestConfig,
    /// The receiving server's spam and SPF/DMARC verdicts on new complaints.
    pub spam: SpamConfig,
    /// How it runs as a service (where credentials are found outside systemd).
    pub service: ServiceConfig,
    /// Folder the config was read from; relative paths in it are resolved against this.
    pub base_dir: PathBuf,
}

fn yes() -> bool {
    true
}

impl Config {
    /// Reads, parses and validates a config file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and every problem with its TOML key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
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
        let file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: PathBuf::from("<text>"),
            message: e.to_string(),
        })?;
        let (cfg, parsed) = file.parse(base_dir.to_path_buf());
        let problems = cfg.validate(parsed);
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid {
                path: PathBuf::from("<text>"),
                problems,
            })
        }
    }

    /// Where the secrets the config names are read: files relative to its folder,
    /// credentials outside systemd in `[service] credentials_dir`.
    pub fn secret_places(&self) -> crate::secret::Places {
        crate::secret::Places {
            base_dir: self.base_dir.clone(),
            credentials_dir: self.resolve(&self.service.credentials_dir),
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

    /// The first (or only) SMTP account: the one mail goes through unless its sender
    /// belongs to a brand that names another.
    pub fn smtp(&self) -> &SmtpConfig {
        &self.smtp_accounts[0]
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
        for q in &self.queues {
            v.extend(q.addresses.iter().map(|a| a.to_lowercase()));
        }
        for b in &self.brands {
            v.extend(b.reply_address.iter().map(|a| a.to_lowercase()));
        }
        v.sort();
        v.dedup();
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

    /// Whether `address` is a contact of any `[[escalation]]` rule (whatever the case's
    /// category and priority): who may act through a managers' reply address.
    pub fn is_escalation_contact(&self, address: &str) -> bool {
        self.escalation
            .iter()
            .flat_map(|e| &e.contacts)
            .any(|c| c.eq_ignore_ascii_case(address))
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

    /// The authserv-id whose `Authentication-Results` the spam guard reads:
    /// `spam.authserv_id`, else `agents.authserv_id`; `None` when neither is set.
    pub fn spam_authserv_id(&self) -> Option<&str> {
        self.spam
            .authserv_id
            .as_deref()
            .or(self.agents.authserv_id.as_deref())
            .filter(|id| !id.trim().is_empty())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::Duration;

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
    fn managers_act_by_mail_unless_switched_off_and_any_rules_contact_is_one() {
        let rules = r#"
[[escalation]]
contacts = ["Boss@support.test"]
priorities = ["urgent"]

[[escalation]]
contacts = ["ops@support.test"]
"#;
        let c = Config::from_toml(&(MINIMAL.to_string() + rules), Path::new(".")).unwrap();
        assert!(c.agents.managers_act_by_mail, "on by default");
        // Any rule's contact, whatever the case: the reply address names the case, not the rule.
        assert!(c.is_escalation_contact("boss@support.test"));
        assert!(c.is_escalation_contact("OPS@support.test"));
        assert!(!c.is_escalation_contact("someone@support.test"));
        let off = MINIMAL.to_string()
            + "
[agents]
managers_act_by_mail = false
" + rules;
        let c = Config::from_toml(&off, Path::new(".")).unwrap();
        assert!(!c.agents.managers_act_by_mail);
        let bad = MINIMAL.to_string()
            + "
[agents]
managers_act_by_mail = \"yes\"\n";
        let e = Config::from_toml(&bad, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(e.contains("managers_act_by_mail"), "{e}");
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
    fn minimal_config_is_valid() {
        let c = Config::from_toml(MINIMAL, Path::new("/etc/mailcase")).unwrap();
        assert_eq!(c.db_path(), PathBuf::from("/etc/mailcase/mailcase.db"));
        assert_eq!(c.message_id_domain(), "support.test");
        assert_eq!(c.mailboxes[0].poll_interval.0, Duration::from_secs(60));
    }

    #[test]
    fn a_postgres_store_loads_and_its_mistakes_name_their_keys() {
        let store = |lines: &str| {
            let text = MINIMAL.replace(
                "[store]\npath = \"mailcase.db\"\n",
                &format!("[store]\n{lines}\n"),
            );
            assert_ne!(text, MINIMAL, "the store section was found");
            Config::from_toml(&text, Path::new("/etc/mailcase"))
        };
        let c = store(
            "engine = \"postgres\"\nurl = \"postgres://mailcase@db:5432/mailcase?sslmode=require\"\npassword_file = \"db-password\"",
        )
        .unwrap();
        assert_eq!(c.store.engine, StoreEngine::Postgres);
        assert!(matches!(
            c.store.secret_source(),
            Ok(Some(SecretSource::File(_)))
        ));
        let err = |lines: &str| store(lines).unwrap_err().to_string();
        let e = err("engine = \"postgres\"");
        assert!(
            e.contains("store.url: is required with engine = \"postgres\""),
            "{e}"
        );
        let e = err("engine = \"postgres\"\nurl = \"postgres://mailcase:hunter2@db/mailcase\"");
        assert!(
            e.contains("store.url") && e.contains("holds a password"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "the password is not repeated: {e}");
        let e = err("engine = \"postgres\"\nurl = \"postgres://db/mailcase\"");
        assert!(e.contains("store.url: names no user"), "{e}");
        let e = err("engine = \"postgres\"\nurl = \"postgres://mailcase@db/mailcase\"\npath = \"x.db\"\nmax_size = \"1GB\"");
        assert!(e.contains("store.path: is for engine = \"sqlite\""), "{e}");
        assert!(
            e.contains("store.max_size: is for engine = \"sqlite\""),
            "{e}"
        );
        let e = err("engine = \"postgres\"\nurl = \"postgres://mailcase@db/mailcase\"\npassword_file = \"a\"\npassword_env = \"B\"");
        assert!(
            e.contains("set only one of password_file, password_env"),
            "{e}"
        );
        let e = err("path = \"mailcase.db\"\nurl = \"postgres://mailcase@db/mailcase\"");
        assert!(e.contains("store.url: is for engine = \"postgres\""), "{e}");
        let e = err("engine = \"sqlite\"");
        assert!(e.contains("store.path: is required"), "{e}");
        let e = err("engine = \"mysql\"\npath = \"x\"");
        assert!(e.contains("mysql"), "{e}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("port = 10143", "port = 10143\nhots = \"x\"");
        let e = Config::from_toml(&text, Path::new(".")).unwrap_err();
        assert!(e.to_string().contains("hots"), "{e}");
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
