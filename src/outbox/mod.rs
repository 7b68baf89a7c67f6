//! The durable outbox: rows written in the same transaction as the case change, sent by one
//! worker over pooled SMTP connections, retried with exponential backoff while the server is
//! down, marked sent only after the server accepted them.
//!
//! At-least-once: a crash between the server's `250 OK` and our `mark sent` resends that one
//! message after restart, with the same bytes and Message-ID (so mail clients show it once).

pub mod compose;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::{Config, TlsMode};
use crate::secret::{self, Credential};
use crate::store::{parse_ts, OutboundRow, Store, StoreError};

/// Errors building the SMTP transport or talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("smtp: {0}")]
    Secret(#[from] secret::SecretError),
    #[error("smtp: {0}")]
    Transport(#[from] lettre::transport::smtp::Error),
    #[error("smtp: cannot read smtp.ca_file {path}: {source}")]
    Ca {
        path: String,
        source: std::io::Error,
    },
    #[error("smtp: {0}")]
    Other(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Longest idle sleep: rows queued by another process (`mailcase deliver`) are picked up
/// within this time even without a wake-up.
const IDLE_RECHECK: StdDuration = StdDuration::from_secs(2);

/// Our SMTP client type.
pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Builds the pooled SMTP transport from config, reading the secret now.
///
/// # Errors
/// [`OutboxError`] when the secret or CA file cannot be read.
pub async fn transport(cfg: &Config) -> Result<Transport, OutboxError> {
    let s = &cfg.smtp;
    let tls_params = || -> Result<TlsParameters, OutboxError> {
        let mut b = TlsParameters::builder(s.host.clone());
        if let Some(ca) = &s.ca_file {
            let p = cfg.resolve(ca);
            let pem = std::fs::read(&p).map_err(|source| OutboxError::Ca {
                path: p.display().to_string(),
                source,
            })?;
            b = b.add_root_certificate(Certificate::from_pem(&pem)?);
        }
        Ok(b.build_rustls()?)
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
        .port(s.port)
        .timeout(Some(s.timeout.0))
        .hello_name(ClientId::Domain(cfg.message_id_domain()))
        .pool_config(PoolConfig::new().max_size(s.connections as u32));
    b = match s.tls {
        TlsMode::Tls => b.tls(Tls::Wrapper(tls_params()?)),
        TlsMode::Starttls => b.tls(Tls::Required(tls_params()?)),
        TlsMode::Plain => b.tls(Tls::None),
    };
    if let (Some(user), Some(src)) = (&s.user, s.secret_source().map_err(OutboxError::Other)?) {
        match secret::resolve(&src, &cfg.base_dir).await? {
            Credential::Password(p) => {
                b = b
                    .credentials(Credentials::new(user.clone(), p.expose().to_string()))
                    .authentication(vec![Mechanism::Plain, Mechanism::Login]);
            }
            Credential::OAuth2(t) => {
                b = b
                    .credentials(Credentials::new(user.clone(), t.expose().to_string()))
                    .authentication(vec![Mechanism::Xoauth2]);
            }
        }
    }
    Ok(b.build())
}

/// Next attempt after `attempts` failures: initial * 2^attempts, capped; None once the
/// message has been failing for longer than `give_up_after`.
pub fn next_attempt(
    cfg: &Config,
    attempts: i64,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let o = &cfg.outbox;
    if now - created_at > Duration::from_std(o.give_up_after.0).unwrap_or(Duration::days(5)) {
        return None;
    }
    let initial = o.retry_initial.0.as_secs().max(1);
    let exp = u32::try_from(attempts.clamp(0, 30)).unwrap_or(30);
    let delay = initial
        .saturating_mul(2u64.saturating_pow(exp))
        .min(o.retry_max.0.as_secs());
    Some(now + Duration::seconds(delay as i64))
}

/// How one send ended.
#[derive(Debug)]
pub enum SendResult {
    Sent,
    /// Retry later (server down, 4xx, network).
    Transient(String),
    /// The server refused for good (5xx): no retry.
    Permanent(String),
}

async fn send_one(t: &Transport, row: &OutboundRow) -> SendResult {
    // `recipient` holds one address, or several separated by commas (one notification to
    // every agent, with one Message-ID so each agent's client threads it the same way).
    let to: Result<Vec<Address>, _> = row
        .recipient
        .split(',')
        .map(|a| a.trim().parse::<Address>())
        .collect();
    let env = match (row.envelope_from.parse::<Address>(), to) {
        (Ok(f), Ok(to)) => match Envelope::new(Some(f), to) {
            Ok(e) => e,
            Err(e) => return SendResult::Permanent(format!("bad envelope: {e}")),
        },
        _ => {
            return SendResult::Permanent(format!(
                "bad envelope address {} -> {}",
                row.envelope_from, row.recipient
            ))
        }
    };
    match t.send_raw(&env, &row.body).await {
        Ok(_) => SendResult::Sent,
        Err(e) if e.is_permanent() => SendResult::Permanent(e.to_string()),
        Err(e) => SendResult::Transient(e.to_string()),
    }
}

/// The outbox worker: sends due rows until `shutdown`, sleeping until the next due row or a
/// `notify` from the ingest side. Sends in hand are finished and recorded before it returns.
pub async fn run(
    config: Arc<Config>,
    store: crate::store::SharedStore,
    clock: SharedClock,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let mut transport_cache: Option<(Transport, DateTime<Utc>)> = None;
    let mut backoff = StdDuration::from_secs(1);
    let mut breaker_logged = false;
    while !shutdown.is_cancelled() {
        let now = clock.now();
        let batch = (config.smtp.connections * 16).max(16);
        // Mail to an address that bounced for good is dropped, not sent again.
        let rows = match crate::store::blocking(&store, move |s| {
            let dropped = s.drop_undeliverable(now)?;
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "outbox: dropped queued mail to addresses that bounced"
                );
            }
            s.read().due_outbound(now, batch)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "outbox: cannot read queue");
                sleep_or(&shutdown, &notify, backoff).await;
                backoff = (backoff * 2).min(StdDuration::from_secs(60));
                continue;
            }
        };
        if rows.is_empty() {
            let next = crate::store::blocking(&store, |s| s.read().next_outbound_due())
                .await
                .ok()
                .flatten();
            let wait = next
                .map(|n| (n - clock.now()).to_std().unwrap_or(StdDuration::ZERO))
                .unwrap_or(IDLE_RECHECK)
                .clamp(StdDuration::from_millis(10), IDLE_RECHECK);
            sleep_or(&shutdown, &notify, wait).await;
            continue;
        }

        // Circuit breaker on automatic mail per minute.
        let limit = i64::from(config.outbox.max_automatic_per_minute);
        let sent_last_minute = crate::store::blocking(&store, move |s| {
            s.read().automatic_sent_since(now - Duration::minutes(1))
        })
        .await
        .unwrap_or(0);
        let mut budget = (limit - sent_last_minute).max(0);
        let mut to_send = Vec::with_capacity(rows.len());
        let mut tripped = false;
        for r in rows {
            if r.automatic {
                if budget == 0 {
                    tripped = true;
                    continue;
                }
                budget -= 1;
            }
            to_send.push(r);
        }
        if tripped {
            let until = now
                + Duration::from_std(config.outbox.breaker_cooldown.0)
                    .unwrap_or(Duration::minutes(5));
            if !breaker_logged {
                tracing::error!(
                    sent_last_minute,
                    limit,
                    until = %until,
                    "outbox: circuit breaker tripped, automatic mail paused (outbox.max_automatic_per_minute); queued mail is kept"
                );
                breaker_logged = true;
            }
            if let Err(e) = crate::store::blocking(&store, move |s| s.defer_automatic(until)).await
            {
                tracing::error!(error = %e, "outbox: cannot defer automatic mail");
            }
        } else {
            breaker_logged = false;
        }
        if to_send.is_empty() {
            continue;
        }

        // (Re)build the transport: token commands give short-lived tokens.
        let oauth = matches!(
            config.smtp.secret_source(),
            Ok(Some(crate::config::SecretSource::OAuth2Command(_)))
        );
        if transport_cache
            .as_ref()
            .is_some_and(|(_, at)| oauth && now - *at > Duration::minutes(30))
        {
            transport_cache = None;
        }
        if transport_cache.is_none() {
            match transport(&config).await {
                Ok(t) => transport_cache = Some((t, now)),
                Err(e) => {
                    tracing::error!(error = %e, "outbox: cannot set up SMTP");
                    sleep_or(&shutdown, &notify, backoff).await;
                    backoff = (backoff * 2).min(StdDuration::from_secs(300));
                    continue;
                }
            }
        }
        let Some((t, _)) = transport_cache.as_ref() else {
            continue;
        };
        // Each result is recorded as soon as the server answered (its own small
        // transaction): a crash can then leave at most the messages in flight, one per
        // connection, accepted by the server but not marked sent (DESIGN invariant 2).
        let mut results = futures::stream::iter(to_send)
            .map(|row| async move {
                let r = send_one(t, &row).await;
                (row, r)
            })
            .buffer_unordered(config.smtp.connections);
        let mut any_transient = false;
        while let Some((row, r)) = results.next().await {
            match &r {
                SendResult::Sent => tracing::info!(
                    kind = %row.kind, message_id = %row.message_id, attempts = row.attempts + 1,
                    "outbox: sent"
                ),
                SendResult::Transient(e) => {
                    any_transient = true;
                    tracing::warn!(
                        kind = %row.kind, message_id = %row.message_id, error = %e,
                        "outbox: send failed, will retry"
                    )
                }
                SendResult::Permanent(e) => tracing::error!(
                    kind = %row.kind, message_id = %row.message_id, error = %e,
                    "outbox: refused by the server, giving up"
                ),
            }
            let cfg = config.clone();
            let done_at = clock.now();
            let one = vec![(row, r)];
            if let Err(e) =
                crate::store::blocking(&store, move |s| record(s, &cfg, &one, done_at)).await
            {
                tracing::error!(error = %e, "outbox: cannot record a send result (it will be resent)");
            }
        }
        drop(results);
        if any_transient {
            // The server is probably down: do not spin on the other rows.
            transport_cache = None;
            sleep_or(&shutdown, &notify, backoff).await;
            backoff = (backoff * 2).min(StdDuration::from_secs(60));
        } else {
            backoff = StdDuration::from_secs(1);
        }
    }
}

fn record(
    s: &mut Store,
    cfg: &Config,
    results: &[(OutboundRow, SendResult)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let sent: Vec<i64> = results
        .iter()
        .filter(|(_, r)| matches!(r, SendResult::Sent))
        .map(|(row, _)| row.id)
        .collect();
    s.mark_sent(&sent, now)?;
    for (row, r) in results {
        match r {
            SendResult::Sent => {}
            SendResult::Transient(e) => {
                let created = parse_ts(&row.created_at).unwrap_or(now);
                let next = next_attempt(cfg, row.attempts, created, now);
                s.mark_attempt_failed(row, e, next, now)?;
            }
            SendResult::Permanent(e) => s.mark_attempt_failed(row, e, None, now)?,
        }
    }
    Ok(())
}

async fn sleep_or(shutdown: &CancellationToken, notify: &Notify, d: StdDuration) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = notify.notified() => {}
        _ = tokio::time::sleep(d) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::from_toml(
            include_str!("../../tests/fixtures/config/base.toml"),
            std::path::Path::new("."),
        )
        .unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_then_gives_up() {
        let c = cfg();
        let t0 = DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = |a| (next_attempt(&c, a, t0, t0).unwrap() - t0).num_seconds();
        assert_eq!(d(0), 30);
        assert_eq!(d(1), 60);
        assert_eq!(d(3), 240);
        assert_eq!(d(20), 3600);
        assert!(next_attempt(&c, 2, t0, t0 + Duration::days(6)).is_none());
    }
}
