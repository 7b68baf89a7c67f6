//! Connecting and logging in to IMAP: implicit TLS, STARTTLS, or plain text on loopback.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_imap::{Client, Session};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::config::{Config, MailboxConfig, TlsMode};
use crate::secret::{self, Credential};

/// An IMAP error as an admin reads it. async-imap words a NO or BAD answer with Rust's debug
/// notation (`code: None, info: Some("[AUTHENTICATIONFAILED] Authentication failed.")`):
/// this keeps the server's own text.
pub fn imap_text(e: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match e {
        Error::No(s) => format!("server said NO: {}", server_text(s)),
        Error::Bad(s) => format!("server said BAD: {}", server_text(s)),
        other => other.to_string(),
    }
}

/// Why a login was refused: the server's text alone for a NO or BAD answer.
fn refusal_text(e: &async_imap::error::Error) -> String {
    use async_imap::error::Error;
    match e {
        Error::No(s) | Error::Bad(s) => server_text(s),
        other => imap_text(other),
    }
}

/// The server's text out of async-imap's `code: ..., info: Some("...")`; anything else as it is.
fn server_text(s: &str) -> String {
    let Some(start) = s.find("info: Some(\"") else {
        return s.to_string();
    };
    let quoted = &s[start + "info: Some(".len()..];
    let Some(body) = quoted.strip_suffix(')') else {
        return s.to_string();
    };
    // Undo the debug notation's escapes of a string literal.
    let mut out = String::new();
    let mut chars = body.trim_matches('"').chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push(' '),
            Some('r') | Some('t') => out.push(' '),
            Some(o) => out.push(o),
            None => {}
        }
    }
    out
}

/// Errors while connecting; `is_transient()` separates "retry later" from "fix the config".
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("imap {host}:{port}: cannot connect: {error}")]
    Tcp {
        host: String,
        port: u16,
        error: std::io::Error,
    },
    #[error("imap {host}: TLS handshake failed: {error}")]
    Tls { host: String, error: std::io::Error },
    #[error("imap: invalid server name `{0}` for TLS")]
    ServerName(String),
    #[error("imap: cannot read mailbox.ca_file {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("imap: {0}")]
    Secret(secret::SecretError),
    #[error("imap: login as {user} refused: {reason}")]
    Login { user: String, reason: String },
    #[error("imap: {}", imap_text(.0))]
    Protocol(async_imap::error::Error),
    #[error("imap: timed out after {0:?}")]
    Timeout(std::time::Duration),
    #[error("imap: {0}")]
    Io(std::io::Error),
}

impl ConnectError {
    /// Network trouble is transient; a refused login, a bad CA file or a missing secret
    /// needs the admin (the daemon still retries, slowly, and says so).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectError::Tcp { .. }
                | ConnectError::Tls { .. }
                | ConnectError::Protocol(_)
                | ConnectError::Timeout(_)
                | ConnectError::Io(_)
        )
    }
}

/// A plain or TLS stream, so one session type serves every mode.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A logged-in IMAP session.
pub type ImapSession = Session<ImapStream>;

fn tls_connector(cfg: &Config, m: &MailboxConfig) -> Result<TlsConnector, ConnectError> {
    tls_connector_for(cfg, &m.host, m.ca_file.as_ref())
}

/// A TLS connector trusting the web PKI roots plus `ca_file` (PEM) when given: shared by the
/// IMAP session and the outbox's SMTP connections.
///
/// # Errors
/// An unreadable or empty CA file.
pub fn tls_connector_for(
    cfg: &Config,
    host: &str,
    ca_file: Option<&std::path::PathBuf>,
) -> Result<TlsConnector, ConnectError> {
    let resolved = ca_file.map(|ca| cfg.resolve(ca));
    let config = crate::tls::client_config(resolved.as_deref()).map_err(|e| match e {
        crate::tls::TlsSetupError::Ca { path, reason } => ConnectError::Ca { path, reason },
        crate::tls::TlsSetupError::Protocol(e) => ConnectError::Tls {
            host: host.to_string(),
            error: std::io::Error::other(e),
        },
    })?;
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn tls_wrap(
    cfg: &Config,
    m: &MailboxConfig,
    tcp: TcpStream,
) -> Result<ImapStream, ConnectError> {
    let host = m.host.clone();
    let name = rustls::pki_types::ServerName::try_from(host.clone())
        .map_err(|_| ConnectError::ServerName(host.clone()))?;
    let s = tls_connector(cfg, m)?
        .connect(name, tcp)
        .await
        .map_err(|error| ConnectError::Tls { host, error })?;
    Ok(ImapStream::Tls(Box::new(s)))
}

struct XOAuth2 {
    user: String,
    token: String,
}

impl async_imap::Authenticator for &XOAuth2 {
    type Response = String;
    fn process(&mut self, _: &[u8]) -> Self::Response {
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

/// Connects to mailbox `m`, secures and logs in, within its timeout (`cfg` says where its
/// secrets and CA file are found).
///
/// # Errors
/// [`ConnectError`].
pub async fn connect(cfg: &Config, m: &MailboxConfig) -> Result<ImapSession, ConnectError> {
    let t = m.timeout.0;
    tokio::time::timeout(t, connect_inner(cfg, m))
        .await
        .map_err(|_| ConnectError::Timeout(t))?
}

async fn connect_inner(cfg: &Config, m: &MailboxConfig) -> Result<ImapSession, ConnectError> {
    let tcp = TcpStream::connect((m.host.as_str(), m.port))
        .await
        .map_err(|error| ConnectError::Tcp {
            host: m.host.clone(),
            port: m.port,
            error,
        })?;
    let _ = tcp.set_nodelay(true);
    let mut client = match m.tls {
        TlsMode::Tls => Client::new(tls_wrap(cfg, m, tcp).await?),
        TlsMode::Plain => Client::new(ImapStream::Plain(tcp)),
        TlsMode::Starttls => {
            let mut plain = Client::new(ImapStream::Plain(tcp));
            plain.read_response().await?;
            plain.run_command_and_check_ok("STARTTLS", None).await?;
            let ImapStream::Plain(tcp) = plain.into_inner() else {
                return Err(ConnectError::Login {
                    user: m.user.clone(),
                    reason: "unexpected stream state after STARTTLS".into(),
                });
            };
            // The greeting was consumed before STARTTLS; none follows the handshake.
            let c = Client::new(tls_wrap(cfg, m, tcp).await?);
            return login(cfg, m, c).await;
        }
    };
    client.read_response().await?; // greeting
    login(cfg, m, client).await
}

async fn login(
    cfg: &Config,
    m: &MailboxConfig,
    client: Client<ImapStream>,
) -> Result<ImapSession, ConnectError> {
    let src = m
        .secret_source()
        .map_err(|reason| ConnectError::Login {
            user: m.user.clone(),
            reason,
        })?
        .ok_or_else(|| ConnectError::Login {
            user: m.user.clone(),
            reason: "no password source configured".into(),
        })?;
    let result = match secret::resolve(&src, &cfg.secret_places()).await? {
        Credential::Password(p) => client.login(&m.user, p.expose()).await,
        Credential::OAuth2(tok) => {
            let a = XOAuth2 {
                user: m.user.clone(),
                token: tok.expose().to_string(),
            };
            client.authenticate("XOAUTH2", &a).await
        }
    };
    result.map_err(|(e, _)| ConnectError::Login {
        user: m.user.clone(),
        reason: refusal_text(&e),
    })
}

crate::shown_from!(ConnectError::Secret(secret::SecretError));
crate::shown_from!(ConnectError::Protocol(async_imap::error::Error));
crate::shown_from!(ConnectError::Io(std::io::Error));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_login_reads_as_the_servers_text() {
        let e = async_imap::error::Error::No(
            r#"code: None, info: Some("[AUTHENTICATIONFAILED] Authentication \"failed\".")"#.into(),
        );
        assert_eq!(
            refusal_text(&e),
            r#"[AUTHENTICATIONFAILED] Authentication "failed"."#
        );
        assert_eq!(
            imap_text(&e),
            r#"server said NO: [AUTHENTICATIONFAILED] Authentication "failed"."#
        );
        let other = async_imap::error::Error::Bad("outcome: Bad".into());
        assert_eq!(imap_text(&other), "server said BAD: outcome: Bad");
    }
}
