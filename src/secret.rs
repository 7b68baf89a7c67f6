//! Secrets: read at the moment they are needed, never logged, never kept in the config.
//!
//! A [`Secret`]'s `Debug` prints `<redacted>`, so a stray `{:?}` cannot leak it into the journal.

use std::path::PathBuf;

/// Where a secret comes from. Exactly one of these may be set per server block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file whose content (trailing newline stripped) is the password.
    File(PathBuf),
    /// An environment variable holding the password.
    Env(String),
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (LoadCredential=).
    Credential(String),
    /// A command printing an OAuth2 access token on stdout (XOAUTH2, for Microsoft 365 / Gmail).
    OAuth2Command(Vec<String>),
}

/// A password or access token.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from a secret source (or made up by a test).
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What kind of login a secret is for.
#[derive(Debug, Clone)]
pub enum Credential {
    /// LOGIN / AUTH PLAIN with a password.
    Password(Secret),
    /// SASL XOAUTH2 with an access token.
    OAuth2(Secret),
}

/// Why a secret could not be read. The secret itself never appears here.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read password file {path}: {error}")]
    File {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("environment variable {0} is not set (or not valid UTF-8)")]
    Env(String),
    #[error("credential `{0}` not found: $CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit)")]
    NoCredentialsDir(String),
    #[error("cannot read credential {path}: {error}")]
    Credential {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("token command `{cmd}` failed: {reason}")]
    Command { cmd: String, reason: String },
    #[error("{0} is empty")]
    Empty(String),
}

fn trimmed(s: String, what: String) -> Result<Secret, SecretError> {
    let t = s.trim_end_matches(['\r', '\n']).to_string();
    if t.is_empty() {
        return Err(SecretError::Empty(what));
    }
    Ok(Secret(t))
}

/// Reads the secret now (token commands run every time, since tokens expire).
///
/// # Errors
/// [`SecretError`] saying which source failed and how.
pub async fn resolve(
    source: &SecretSource,
    base: &std::path::Path,
) -> Result<Credential, SecretError> {
    match source {
        SecretSource::File(p) => {
            let path = if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            };
            let s = tokio::fs::read_to_string(&path)
                .await
                .map_err(|error| SecretError::File {
                    path: path.clone(),
                    error,
                })?;
            Ok(Credential::Password(trimmed(
                s,
                format!("password file {}", path.display()),
            )?))
        }
        SecretSource::Env(name) => {
            let s = std::env::var(name).map_err(|_| SecretError::Env(name.clone()))?;
            Ok(Credential::Password(trimmed(
                s,
                format!("environment variable {name}"),
            )?))
        }
        SecretSource::Credential(name) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
                .ok_or_else(|| SecretError::NoCredentialsDir(name.clone()))?;
            let path = PathBuf::from(dir).join(name);
            let s = tokio::fs::read_to_string(&path).await.map_err(|error| {
                SecretError::Credential {
                    path: path.clone(),
                    error,
                }
            })?;
            Ok(Credential::Password(trimmed(
                s,
                format!("credential {name}"),
            )?))
        }
        SecretSource::OAuth2Command(argv) => {
            let cmd = argv.first().cloned().unwrap_or_default();
            let out = tokio::process::Command::new(&cmd)
                .args(&argv[1..])
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(std::time::Duration::from_secs(60), out)
                .await
                .map_err(|_| SecretError::Command {
                    cmd: cmd.clone(),
                    reason: "timed out after 60s".into(),
                })?
                .map_err(|e| SecretError::Command {
                    cmd: cmd.clone(),
                    reason: e.to_string(),
                })?;
            if !out.status.success() {
                return Err(SecretError::Command {
                    cmd,
                    reason: format!("exit status {}", out.status),
                });
            }
            let s = String::from_utf8(out.stdout).map_err(|_| SecretError::Command {
                cmd: cmd.clone(),
                reason: "output is not UTF-8".into(),
            })?;
            Ok(Credential::OAuth2(trimmed(
                s.trim().to_string(),
                format!("output of {cmd}"),
            )?))
        }
    }
}

/// Reads a key that is needed before any network work (the reply-token key), synchronously.
/// Token commands are for login tokens and are not accepted here.
///
/// # Errors
/// [`SecretError`] saying which source failed and how.
pub fn read_key(source: &SecretSource, base: &std::path::Path) -> Result<Secret, SecretError> {
    match source {
        SecretSource::File(p) => {
            let path = if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            };
            let s = std::fs::read_to_string(&path).map_err(|error| SecretError::File {
                path: path.clone(),
                error,
            })?;
            trimmed(s, format!("key file {}", path.display()))
        }
        SecretSource::Env(name) => {
            let s = std::env::var(name).map_err(|_| SecretError::Env(name.clone()))?;
            trimmed(s, format!("environment variable {name}"))
        }
        SecretSource::Credential(name) => {
            let dir = std::env::var_os("CREDENTIALS_DIRECTORY")
                .ok_or_else(|| SecretError::NoCredentialsDir(name.clone()))?;
            let path = PathBuf::from(dir).join(name);
            let s = std::fs::read_to_string(&path).map_err(|error| SecretError::Credential {
                path: path.clone(),
                error,
            })?;
            trimmed(s, format!("credential {name}"))
        }
        SecretSource::OAuth2Command(argv) => Err(SecretError::Command {
            cmd: argv.first().cloned().unwrap_or_default(),
            reason: "a command cannot supply the token key".into(),
        }),
    }
}
