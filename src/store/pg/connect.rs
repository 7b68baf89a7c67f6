//! Where and how to reach the database: `[store] url`, its password from a secret source,
//! and TLS through rustls (the web PKI roots plus `store.ca_file`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use tokio_postgres::config::SslMode;
use tokio_postgres::Client;

use super::{runtime, wait};
use crate::store::StoreError;

/// A database to connect to: its parsed URL, password and TLS settings. Displays as the URL
/// without any password.
#[derive(Clone)]
pub struct Target {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    shown: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The URL as shown in logs and errors: user, host, port and database, never a password.
fn shown(c: &tokio_postgres::Config) -> String {
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

impl Target {
    /// Parses `url` (`postgres://user@host:port/db?sslmode=require`); `password` from the
    /// configured secret; `ca_file` (PEM) trusted beside the web PKI roots.
    ///
    /// # Errors
    /// A message naming what is wrong with the URL or the CA file.
    pub fn new(
        url: &str,
        password: Option<&str>,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Target, String> {
        let mut config = Target::check_url(url)?;
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(StdDuration::from_secs(10));
        }
        config.keepalives(true);
        config.keepalives_idle(StdDuration::from_secs(30));
        config.application_name("mailcase");
        if config.get_options().is_none() {
            // A writer waits at most 10 s for the write lock (as SQLite's busy timeout): then
            // the work fails as transient and is retried (mail stays in the INBOX).
            config.options("-c lock_timeout=10s");
        }
        let tls = match config.get_ssl_mode() {
            SslMode::Disable => None,
            _ => Some(tls(ca_file)?),
        };
        Ok(Target {
            shown: shown(&config),
            config,
            tls,
        })
    }

    /// Parses and checks a URL as `store.url` must be.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn check_url(url: &str) -> Result<tokio_postgres::Config, String> {
        let config = tokio_postgres::Config::from_str(url).map_err(|e| {
            format!("not a PostgreSQL URL ({e}); write postgres://USER@HOST:PORT/DATABASE")
        })?;
        if config.get_password().is_some() {
            return Err("holds a password; put it in store.password_file, store.password_env or store.password_credential instead, so it stays out of the config".into());
        }
        if config.get_user().is_none() {
            return Err("names no user; write postgres://USER@HOST:PORT/DATABASE".into());
        }
        if config.get_dbname().is_none() {
            return Err("names no database; write postgres://USER@HOST:PORT/DATABASE".into());
        }
        Ok(config)
    }

    /// Opens a connection; its I/O runs on the engine's runtime.
    ///
    /// # Errors
    /// [`StoreError::PgConnect`] naming the URL and what went wrong.
    pub fn connect(&self) -> Result<Client, StoreError> {
        let config = self.config.clone();
        let tls = self.tls.clone();
        let rt = runtime();
        let handle = rt.spawn(async move {
            match tls {
                Some(tls) => {
                    let (client, conn) = config.connect(tls).await?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    Ok::<_, tokio_postgres::Error>(client)
                }
                None => {
                    let (client, conn) = config.connect(tokio_postgres::NoTls).await?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    Ok(client)
                }
            }
        });
        match wait(handle) {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(error)) => Err(StoreError::PgConnect {
                target: self.shown.clone(),
                error,
            }),
            Err(e) => Err(StoreError::Lost(format!(
                "connecting to {}: {e}",
                self.shown
            ))),
        }
    }

    /// The same target as a shared handle.
    pub fn shared(self) -> Arc<Target> {
        Arc::new(self)
    }
}

fn tls(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let config = crate::tls::client_config(ca_file).map_err(|e| match e {
        crate::tls::TlsSetupError::Ca { path, reason } => {
            format!("store.ca_file {path}: {reason}")
        }
        other => other.to_string(),
    })?;
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
