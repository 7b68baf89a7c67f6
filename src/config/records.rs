//! What the daemon keeps and shows: the database, how long personal data stays in it, its log
//! and its metrics.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::values::ByteSize;

/// Where the system of record lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (the default: one file, one daemon) or `postgres` (one database shared by
    /// several daemons).
    #[serde(default)]
    pub engine: StoreEngine,
    /// SQLite database path (created when missing; never reset on a failed open). Required
    /// with `engine = "sqlite"`.
    #[serde(default)]
    pub path: PathBuf,
    /// PostgreSQL: `postgres://USER@HOST:PORT/DATABASE`, with `?sslmode=require` for TLS
    /// (the certificate is verified against the web PKI roots and `ca_file`). No password
    /// here: it comes from one of the `password_*` keys.
    pub url: Option<String>,
    /// PostgreSQL: a file holding the password.
    pub password_file: Option<PathBuf>,
    /// PostgreSQL: an environment variable holding the password.
    pub password_env: Option<String>,
    /// PostgreSQL: a systemd credential holding the password (`LoadCredential=`).
    pub password_credential: Option<String>,
    /// PostgreSQL: a CA certificate (PEM) to trust for the server's TLS certificate, beside
    /// the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Largest the database may grow (a quota below the disk's size): beyond it writes fail
    /// like on a full disk, mail stays in the INBOX and is taken in once there is room.
    pub max_size: Option<ByteSize>,
}

/// Which engine keeps the system of record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreEngine {
    /// One SQLite file (embedded, the default).
    #[default]
    Sqlite,
    /// A PostgreSQL database, which several daemons may share.
    Postgres,
}

impl StoreConfig {
    /// The one configured source of the PostgreSQL password, if any.
    ///
    /// # Errors
    /// A message when several are set.
    pub fn secret_source(&self) -> Result<Option<super::SecretSource>, String> {
        super::mail::secret_source(
            &self.password_file,
            &self.password_env,
            &self.password_credential,
            &None,
        )
    }
}

/// How long personal data is kept. Every period is in days; 0 keeps forever. A case
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

/// The metrics listener (off without a `listen` address).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `GET /metrics` (Prometheus text format), e.g. `127.0.0.1:9464`. Only a
    /// loopback address: the figures name no person, but they tell an outsider how busy the
    /// support desk is; a Prometheus on another machine scrapes through a proxy or tunnel.
    pub listen: Option<std::net::SocketAddr>,
}

/// How the daemon is installed as a service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Where `*_credential` secrets are read when `$CREDENTIALS_DIRECTORY` (set by systemd
    /// for the unit) does not have them, e.g. `mailcase check` in an admin's shell: the
    /// folder the unit's `LoadCredential=` lines load them from.
    #[serde(default = "default_credentials_dir")]
    pub credentials_dir: PathBuf,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            credentials_dir: default_credentials_dir(),
        }
    }
}

fn default_credentials_dir() -> PathBuf {
    PathBuf::from("/etc/mailcase/credentials")
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
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

#[cfg(test)]
mod tests {
    use super::super::tests::MINIMAL;
    use crate::config::Config;
    use std::path::Path;

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
}
