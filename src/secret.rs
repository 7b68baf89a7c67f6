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
    /// A systemd credential: `$CREDENTIALS_DIRECTORY/<name>` (LoadCredential=), or, where
    /// that is not set or lacks it (an admin's shell), the file the unit's `LoadCredential=`
    /// loads it from: `<[service] credentials_dir>/<name>`.
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

/// Where secrets named by the config are looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Places {
    /// Relative secret files resolve against this (the config file's folder).
    pub base_dir: PathBuf,
    /// Credentials outside systemd (`[service] credentials_dir`): the folder the unit's
    /// `LoadCredential=` lines read, so `mailcase check` in a shell reads the same files as
    /// the daemon under systemd.
    pub credentials_dir: PathBuf,
}

/// The file holding credential `name`: `$CREDENTIALS_DIRECTORY/<name>` (`env_dir`, set by
/// systemd for the unit) when there, else `<credentials_dir>/<name>`.
///
/// # Errors
/// [`SecretError::CredentialNotFound`] naming both places when neither has it.
fn credential_file(
    name: &str,
    env_dir: Option<&std::ffi::OsStr>,
    credentials_dir: &std::path::Path,
) -> Result<PathBuf, SecretError> {
    let under_systemd = env_dir.map(|d| PathBuf::from(d).join(name));
    if let Some(p) = &under_systemd {
        if p.exists() {
            return Ok(p.clone());
        }
    }
    let fallback = credentials_dir.join(name);
    if fallback.exists() {
        return Ok(fallback);
    }
    Err(SecretError::CredentialNotFound {
        name: name.to_string(),
        systemd: match under_systemd {
            Some(p) => format!("not in {}", p.display()),
            None => "$CREDENTIALS_DIRECTORY is not set (systemd sets it for the unit's LoadCredential= lines)".into(),
        },
        fallback,
    })
}

fn credential_file_here(name: &str, places: &Places) -> Result<PathBuf, SecretError> {
    credential_file(
        name,
        std::env::var_os("CREDENTIALS_DIRECTORY").as_deref(),
        &places.credentials_dir,
    )
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
    #[error("credential `{name}` not found: {systemd}, and no file {} ([service] credentials_dir)", fallback.display())]
    CredentialNotFound {
        name: String,
        /// Why `$CREDENTIALS_DIRECTORY` did not have it.
        systemd: String,
        fallback: PathBuf,
    },
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
pub async fn resolve(source: &SecretSource, places: &Places) -> Result<Credential, SecretError> {
    let base = &places.base_dir;
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
            let path = credential_file_here(name, places)?;
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
pub fn read_key(source: &SecretSource, places: &Places) -> Result<Secret, SecretError> {
    let base = &places.base_dir;
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
            let path = credential_file_here(name, places)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn places(credentials_dir: &std::path::Path) -> Places {
        Places {
            base_dir: PathBuf::from("/nonexistent-config-dir"),
            credentials_dir: credentials_dir.to_path_buf(),
        }
    }

    #[test]
    fn a_credential_is_read_from_credentials_directory_first_then_the_units_folder() {
        let systemd = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        std::fs::write(etc.path().join("imap-password"), "from-etc\n").unwrap();
        // An admin's shell: no $CREDENTIALS_DIRECTORY, the file the unit loads is read.
        assert_eq!(
            credential_file("imap-password", None, etc.path()).unwrap(),
            etc.path().join("imap-password")
        );
        // Under systemd: $CREDENTIALS_DIRECTORY wins where it has the credential...
        std::fs::write(systemd.path().join("imap-password"), "from-systemd").unwrap();
        assert_eq!(
            credential_file(
                "imap-password",
                Some(systemd.path().as_os_str()),
                etc.path()
            )
            .unwrap(),
            systemd.path().join("imap-password")
        );
        // ... and the folder is still looked at for one it lacks.
        std::fs::write(etc.path().join("token-key"), "k").unwrap();
        assert_eq!(
            credential_file("token-key", Some(systemd.path().as_os_str()), etc.path()).unwrap(),
            etc.path().join("token-key")
        );
    }

    #[test]
    fn a_missing_credential_names_both_places() {
        let systemd = tempfile::tempdir().unwrap();
        let etc = tempfile::tempdir().unwrap();
        let e = credential_file("smtp-password", None, etc.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("$CREDENTIALS_DIRECTORY is not set"), "{e}");
        assert!(
            e.contains(&etc.path().join("smtp-password").display().to_string()),
            "{e}"
        );
        assert!(e.contains("[service] credentials_dir"), "{e}");
        let e = credential_file(
            "smtp-password",
            Some(systemd.path().as_os_str()),
            etc.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&systemd.path().join("smtp-password").display().to_string()),
            "{e}"
        );
        assert!(
            e.contains(&etc.path().join("smtp-password").display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn the_key_is_read_from_the_units_folder_without_systemd() {
        // Whatever this process's environment says, a file in the folder is found (a
        // $CREDENTIALS_DIRECTORY of the test runner would not hold this name).
        let etc = tempfile::tempdir().unwrap();
        let name = format!("token-key-test-{}", std::process::id());
        std::fs::write(etc.path().join(&name), "0123456789abcdef\n").unwrap();
        let k = read_key(&SecretSource::Credential(name), &places(etc.path())).unwrap();
        assert_eq!(k.expose(), "0123456789abcdef");
        let e = read_key(
            &SecretSource::Credential("absent".into()),
            &places(etc.path()),
        )
        .unwrap_err();
        assert!(matches!(e, SecretError::CredentialNotFound { .. }), "{e}");
    }
}
