//! The outbox's SMTP client: one long-lived connection per sender task, with PIPELINING
//! (RFC 2920) where the server offers it, TCP_NODELAY, implicit TLS or STARTTLS (rustls),
//! and AUTH PLAIN, LOGIN or XOAUTH2.
//!
//! Why not lettre's transport: it writes every command and waits for its answer (no
//! PIPELINING), writes the message and its final dot in separate writes on a socket without
//! TCP_NODELAY (a delayed-ACK stall of up to 40 ms per message on Linux), and checks each
//! pooled connection with a NOOP before use. Measured on the test Postfix it sent about 60
//! acknowledgments a second from 4 connections (bench/bench.py). Messages themselves are
//! still built by lettre (src/outbox/compose.rs); this module only carries finished bytes.
//!
//! Error model: a reply code 5xx to MAIL, RCPT or the message is permanent for that message;
//! 4xx is transient; anything that breaks the connection (I/O, timeout, garbled reply) is
//! transient for the message and closes the connection.

use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::{Config, SmtpConfig, TlsMode};
use crate::ingest::connect::{tls_connector_for, ImapStream as NetStream};
use crate::secret::{self, Credential};

/// Longest reply line we accept (RFC 5321 allows 512; servers send longer texts).
const MAX_LINE: usize = 8192;
/// Most lines in one multi-line reply (an EHLO lists a few dozen).
const MAX_LINES: usize = 200;

/// What went wrong with one message or with the connection.
#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// The server refused with a reply code (the message's fate depends on the code).
    #[error("smtp: {stage} refused: {code} {text}")]
    Reply {
        stage: &'static str,
        code: u16,
        text: String,
    },
    /// Could not connect, secure or log in: nothing was sent.
    #[error("smtp {host}:{port}: {reason}")]
    Connect {
        host: String,
        port: u16,
        reason: String,
    },
    #[error("smtp: {0}")]
    Io(std::io::Error),
    #[error("smtp: timed out after {0:?}")]
    Timeout(Duration),
    #[error("smtp: malformed reply: {0}")]
    Protocol(String),
    #[error("smtp: {0}")]
    Address(String),
}

impl SmtpError {
    /// A 5xx answer to this message: sending it again will not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Reply { code, .. } if (500..600).contains(code))
            || matches!(self, SmtpError::Address(_))
    }
}

/// One reply: its code and its text lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    fn ok(&self) -> bool {
        (200..400).contains(&self.code)
    }
    fn refused(self, stage: &'static str) -> SmtpError {
        SmtpError::Reply {
            stage,
            code: self.code,
            text: self.text,
        }
    }
}

/// What EHLO told us.
#[derive(Debug, Default, Clone)]
pub struct Extensions {
    pub pipelining: bool,
    pub starttls: bool,
    pub eight_bit: bool,
    pub smtputf8: bool,
    pub auth: Vec<String>,
    pub size: Option<u64>,
}

impl Extensions {
    fn parse(ehlo: &str) -> Extensions {
        let mut e = Extensions::default();
        // The first line is the server's greeting name.
        for line in ehlo.lines().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(kw) = words.next() else { continue };
            match kw.to_ascii_uppercase().as_str() {
                "PIPELINING" => e.pipelining = true,
                "STARTTLS" => e.starttls = true,
                "8BITMIME" => e.eight_bit = true,
                "SMTPUTF8" => e.smtputf8 = true,
                "SIZE" => e.size = words.next().and_then(|n| n.parse().ok()).filter(|n| *n > 0),
                "AUTH" => e.auth = words.map(|w| w.to_ascii_uppercase()).collect(),
                _ => {}
            }
        }
        e
    }
}

/// One SMTP connection, logged in and ready for transactions.
pub struct Connection {
    io: BufReader<NetStream>,
    ext: Extensions,
    timeout: Duration,
    broken: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("ext", &self.ext)
            .field("broken", &self.broken)
            .finish()
    }
}

impl Connection {
    /// Connects to the SMTP account `s` (of `cfg`, which says where secrets are found),
    /// says EHLO, secures the connection as configured and logs in when a user is set; all
    /// within its `timeout` per step.
    ///
    /// # Errors
    /// [`SmtpError::Connect`] with the reason.
    pub async fn open(cfg: &Config, s: &SmtpConfig) -> Result<Connection, SmtpError> {
        let fail = |reason: String| SmtpError::Connect {
            host: s.host.clone(),
            port: s.port,
            reason,
        };
        let t = s.timeout.0;
        let tcp = tokio::time::timeout(t, TcpStream::connect((s.host.as_str(), s.port)))
            .await
            .map_err(|_| fail(format!("connect timed out after {t:?}")))?
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let stream = match s.tls {
            TlsMode::Tls => tls(cfg, s, tcp).await.map_err(fail)?,
            _ => NetStream::Plain(tcp),
        };
        let mut c = Connection {
            io: BufReader::new(stream),
            ext: Extensions::default(),
            timeout: t,
            broken: false,
        };
        let hello = cfg.message_id_domain();
        let greeting = c.read_reply().await.map_err(|e| fail(e.to_string()))?;
        if greeting.code != 220 {
            return Err(fail(format!(
                "greeting {} {}",
                greeting.code, greeting.text
            )));
        }
        c.ehlo(&hello).await.map_err(|e| fail(e.to_string()))?;
        if s.tls == TlsMode::Starttls {
            if !c.ext.starttls {
                return Err(fail(
                    "smtp.tls = \"starttls\" but the server does not offer STARTTLS".into(),
                ));
            }
            let r = c
                .command("STARTTLS\r\n")
                .await
                .map_err(|e| fail(e.to_string()))?;
            if r.code != 220 {
                return Err(fail(format!("STARTTLS refused: {} {}", r.code, r.text)));
            }
            if !c.io.buffer().is_empty() {
                return Err(fail("server sent data after STARTTLS".into()));
            }
            let NetStream::Plain(tcp) = c.io.into_inner() else {
                return Err(fail("STARTTLS on a TLS connection".into()));
            };
            c = Connection {
                io: BufReader::new(tls(cfg, s, tcp).await.map_err(fail)?),
                ext: Extensions::default(),
                timeout: t,
                broken: false,
            };
            // RFC 3207: forget what was learnt before TLS and ask again.
            c.ehlo(&hello).await.map_err(|e| fail(e.to_string()))?;
        }
        if let (Some(user), Some(src)) = (&s.user, s.secret_source().map_err(fail)?) {
            let cred = secret::resolve(&src, &cfg.secret_places())
                .await
                .map_err(|e| fail(e.to_string()))?;
            c.auth(user, &cred).await.map_err(|e| fail(e.to_string()))?;
        }
        Ok(c)
    }

    /// The server's extensions (after TLS, when negotiated).
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// False once an I/O error, a timeout or a garbled reply made the connection unusable.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    async fn ehlo(&mut self, hello: &str) -> Result<(), SmtpError> {
        let r = self.command(&format!("EHLO {hello}\r\n")).await?;
        if r.code != 250 {
            return Err(r.refused("EHLO"));
        }
        self.ext = Extensions::parse(&r.text);
        Ok(())
    }

    async fn auth(&mut self, user: &str, cred: &Credential) -> Result<(), SmtpError> {
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let has = |m: &str| self.ext.auth.iter().any(|a| a == m);
        let r = match cred {
            Credential::OAuth2(tok) => {
                if !has("XOAUTH2") {
                    return Err(SmtpError::Protocol(
                        "the server does not offer AUTH XOAUTH2".into(),
                    ));
                }
                let ir =
                    b64(format!("user={user}\x01auth=Bearer {}\x01\x01", tok.expose()).as_bytes());
                let r = self.command(&format!("AUTH XOAUTH2 {ir}\r\n")).await?;
                if r.code == 334 {
                    // An error challenge (JSON); an empty answer ends the exchange.
                    self.command("\r\n").await?
                } else {
                    r
                }
            }
            Credential::Password(p) if has("PLAIN") || !has("LOGIN") => {
                let ir = b64(format!("\0{user}\0{}", p.expose()).as_bytes());
                self.command(&format!("AUTH PLAIN {ir}\r\n")).await?
            }
            Credential::Password(p) => {
                let r = self.command("AUTH LOGIN\r\n").await?;
                if r.code != 334 {
                    return Err(r.refused("AUTH LOGIN"));
                }
                let r = self
                    .command(&format!("{}\r\n", b64(user.as_bytes())))
                    .await?;
                if r.code != 334 {
                    return Err(r.refused("AUTH LOGIN"));
                }
                self.command(&format!("{}\r\n", b64(p.expose().as_bytes())))
                    .await?
            }
        };
        if r.code != 235 {
            return Err(SmtpError::Protocol(format!(
                "login as {user} refused: {} {}",
                r.code, r.text
            )));
        }
        Ok(())
    }

    /// Sends one message to its recipients. With PIPELINING, MAIL, RCPT and (for one
    /// recipient) DATA go in one write; with several recipients DATA waits until every
    /// RCPT was accepted, so a refused recipient never leaves a partial delivery behind.
    ///
    /// # Errors
    /// [`SmtpError`]: [`SmtpError::is_permanent`] says whether to try again.
    pub async fn send(&mut self, from: &str, to: &[&str], body: &[u8]) -> Result<(), SmtpError> {
        if self.broken {
            return Err(SmtpError::Protocol("connection already failed".into()));
        }
        for a in std::iter::once(&from).chain(to.iter()) {
            if a.bytes()
                .any(|b| b <= b' ' || b == b'<' || b == b'>' || b == 0x7f)
            {
                return Err(SmtpError::Address(format!("bad envelope address {a:?}")));
            }
        }
        if to.is_empty() {
            return Err(SmtpError::Address("no recipient".into()));
        }
        let non_ascii_addr = !from.is_ascii() || to.iter().any(|a| !a.is_ascii());
        if non_ascii_addr && !self.ext.smtputf8 {
            return Err(SmtpError::Address(
                "a non-ASCII address but the server does not offer SMTPUTF8".into(),
            ));
        }
        if let Some(max) = self.ext.size {
            if body.len() as u64 > max {
                return Err(SmtpError::Address(format!(
                    "message of {} bytes is over the server's SIZE {max}",
                    body.len()
                )));
            }
        }
        if !body.is_ascii() && !self.ext.eight_bit {
            return Err(SmtpError::Address(
                "an 8-bit message but the server does not offer 8BITMIME".into(),
            ));
        }
        let mut mail = format!("MAIL FROM:<{from}>");
        if !body.is_ascii() {
            mail.push_str(" BODY=8BITMIME");
        }
        if non_ascii_addr {
            mail.push_str(" SMTPUTF8");
        }
        mail.push_str("\r\n");
        let r = self.transaction(&mail, to, body).await;
        if let Err(e) = &r {
            if !self.broken && !matches!(e, SmtpError::Address(_)) {
                // Leave the connection clean for the next message.
                match self.command("RSET\r\n").await {
                    Ok(r) if r.code == 250 => {}
                    _ => self.broken = true,
                }
            }
        }
        r
    }

    async fn transaction(&mut self, mail: &str, to: &[&str], body: &[u8]) -> Result<(), SmtpError> {
        let rcpts: Vec<String> = to.iter().map(|a| format!("RCPT TO:<{a}>\r\n")).collect();
        let data_with_envelope = self.ext.pipelining && to.len() == 1;
        if self.ext.pipelining {
            let mut group = String::with_capacity(mail.len() + 64 * rcpts.len() + 6);
            group.push_str(mail);
            rcpts.iter().for_each(|r| group.push_str(r));
            if data_with_envelope {
                group.push_str("DATA\r\n");
            }
            self.write(group.as_bytes()).await?;
            let m = self.read_reply().await?;
            let mut refused = if m.ok() {
                None
            } else {
                Some(m.refused("MAIL FROM"))
            };
            for _ in &rcpts {
                let r = self.read_reply().await?;
                if !r.ok() && refused.is_none() {
                    refused = Some(r.refused("RCPT TO"));
                }
            }
            if data_with_envelope {
                let d = self.read_reply().await?;
                if d.code == 354 {
                    if let Some(e) = refused {
                        // DATA was accepted although the envelope was not (RFC 2920 says
                        // it must not be): end it empty, to no recipient.
                        self.write(b".\r\n").await?;
                        let _ = self.read_reply().await?;
                        return Err(e);
                    }
                    return self.message(body).await;
                }
                return Err(refused.unwrap_or_else(|| d.refused("DATA")));
            }
            if let Some(e) = refused {
                return Err(e);
            }
        } else {
            let m = self.command(mail).await?;
            if !m.ok() {
                return Err(m.refused("MAIL FROM"));
            }
            for r in &rcpts {
                let r = self.command(r).await?;
                if !r.ok() {
                    return Err(r.refused("RCPT TO"));
                }
            }
        }
        let d = self.command("DATA\r\n").await?;
        if d.code != 354 {
            return Err(d.refused("DATA"));
        }
        self.message(body).await
    }

    /// The message, dot-stuffed, and its final dot, in one write; then its reply.
    async fn message(&mut self, body: &[u8]) -> Result<(), SmtpError> {
        let buf = dot_stuff(body);
        self.write(&buf).await?;
        let r = self.read_reply().await?;
        if r.code == 250 {
            Ok(())
        } else {
            Err(r.refused("message"))
        }
    }

    /// Says QUIT (best effort).
    pub async fn quit(mut self) {
        if !self.broken {
            let _ = self.command("QUIT\r\n").await;
        }
    }

    /// Checks the connection is still alive (servers close idle ones).
    pub async fn noop(&mut self) -> bool {
        matches!(self.command("NOOP\r\n").await, Ok(r) if r.code == 250)
    }

    async fn command(&mut self, line: &str) -> Result<Reply, SmtpError> {
        self.write(line.as_bytes()).await?;
        self.read_reply().await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let t = self.timeout;
        let io = self.io.get_mut();
        let r = tokio::time::timeout(t, async {
            io.write_all(bytes).await?;
            io.flush().await
        })
        .await;
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.broken = true;
                Err(e.into())
            }
            Err(_) => {
                self.broken = true;
                Err(SmtpError::Timeout(t))
            }
        }
    }

    async fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let t = self.timeout;
        let r = match tokio::time::timeout(t, read_reply(&mut self.io)).await {
            Ok(r) => r,
            Err(_) => Err(SmtpError::Timeout(t)),
        };
        if r.is_err() {
            self.broken = true;
        }
        r
    }
}

async fn tls(cfg: &Config, s: &SmtpConfig, tcp: TcpStream) -> Result<NetStream, String> {
    let connector =
        tls_connector_for(cfg, &s.host, s.ca_file.as_ref()).map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from(s.host.clone())
        .map_err(|_| format!("invalid server name `{}` for TLS", s.host))?;
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    Ok(NetStream::Tls(Box::new(stream)))
}

/// Reads one (possibly multi-line) reply: `250-first`, `250-more`, `250 last`.
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<Reply, SmtpError> {
    let mut text = String::new();
    let mut code = None;
    for _ in 0..MAX_LINES {
        let mut line = Vec::with_capacity(128);
        let n = (&mut *r)
            .take(MAX_LINE as u64 + 2)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Err(SmtpError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        if line.last() != Some(&b'\n') {
            return Err(SmtpError::Protocol("reply line too long".into()));
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let (c, rest) = parse_line(line)?;
        if code.is_some_and(|k| k != c) {
            return Err(SmtpError::Protocol(format!(
                "reply code changed within a reply: {line:?}"
            )));
        }
        code = Some(c);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(rest.get(1..).unwrap_or(""));
        if !rest.starts_with('-') {
            return Ok(Reply { code: c, text });
        }
    }
    Err(SmtpError::Protocol("reply of too many lines".into()))
}

fn parse_line(line: &str) -> Result<(u16, &str), SmtpError> {
    let bad = || SmtpError::Protocol(format!("{:?}", line.chars().take(80).collect::<String>()));
    let code = line.get(..3).ok_or_else(bad)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) || !(b'2'..=b'5').contains(&code.as_bytes()[0]) {
        return Err(bad());
    }
    let rest = &line[3..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('-')) {
        return Err(bad());
    }
    Ok((code.parse().map_err(|_| bad())?, rest))
}

/// RFC 5321 4.5.2: a line starting with a dot gets another; the message ends with CRLF and
/// `.` CRLF. Bare LF line ends become CRLF (our messages come from lettre with CRLF).
fn dot_stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 8);
    let mut at_line_start = true;
    let mut prev = 0u8;
    for &b in body {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        at_line_start = b == b'\n';
        prev = b;
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_doubles_leading_dots_and_ends_with_the_terminator() {
        assert_eq!(
            dot_stuff(b"a\r\n.b\r\n..c\r\n"),
            b"a\r\n..b\r\n...c\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b".\r\nx"), b"..\r\nx\r\n.\r\n");
        assert_eq!(dot_stuff(b"a\nb"), b"a\r\nb\r\n.\r\n");
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n");
    }

    #[tokio::test]
    async fn multi_line_replies_are_joined_and_codes_must_agree() {
        let mut r: &[u8] = b"250-mail.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n";
        let rep = read_reply(&mut r).await.unwrap();
        assert_eq!(rep.code, 250);
        let e = Extensions::parse(&rep.text);
        assert!(e.pipelining && e.eight_bit && !e.starttls);
        assert_eq!(e.size, Some(1000));
        let mut r: &[u8] = b"250-a\r\n451 b\r\n";
        assert!(matches!(
            read_reply(&mut r).await,
            Err(SmtpError::Protocol(_))
        ));
        let mut r: &[u8] = b"hello\r\n";
        assert!(matches!(
            read_reply(&mut r).await,
            Err(SmtpError::Protocol(_))
        ));
        let mut r: &[u8] = b"354\r\n";
        assert_eq!(read_reply(&mut r).await.unwrap().code, 354);
        let mut r: &[u8] = b"";
        assert!(matches!(read_reply(&mut r).await, Err(SmtpError::Io(_))));
    }

    #[tokio::test]
    async fn an_endless_reply_line_is_refused_without_reading_it_all() {
        let long = vec![b'2'; MAX_LINE * 4];
        let mut r: &[u8] = &long;
        assert!(matches!(
            read_reply(&mut r).await,
            Err(SmtpError::Protocol(_))
        ));
    }

    #[test]
    fn auth_mechanisms_are_read_from_ehlo() {
        let e = Extensions::parse("mail.test\nAUTH login Plain XOAUTH2\nSTARTTLS\nSMTPUTF8");
        assert_eq!(e.auth, vec!["LOGIN", "PLAIN", "XOAUTH2"]);
        assert!(e.starttls && e.smtputf8 && !e.pipelining);
    }

    #[test]
    fn only_5xx_replies_and_bad_addresses_are_permanent() {
        let r = |code| SmtpError::Reply {
            stage: "RCPT TO",
            code,
            text: String::new(),
        };
        assert!(r(550).is_permanent());
        assert!(!r(451).is_permanent());
        assert!(!SmtpError::Timeout(Duration::from_secs(1)).is_permanent());
        assert!(SmtpError::Address("x".into()).is_permanent());
    }
}

crate::shown_from!(SmtpError::Io(std::io::Error));
