//! The durable outbox: rows written in the same transaction as the case change, sent over a
//! few long-lived SMTP connections in parallel (`smtp.connections`, each reused from message
//! to message, with PIPELINING where the server offers it: src/outbox/smtp.rs), retried with
//! exponential backoff while the server is down, marked sent only after the server accepted
//! them.
//!
//! At-least-once: a crash between the server's `250 OK` and our `mark sent` resends the
//! messages in that window after restart, with the same bytes and Message-ID (so mail clients
//! show each once). The window is at most one message per connection: a sender waits for its
//! previous result to be committed before its next send, while the results of all senders
//! that arrived meanwhile are committed together (one fsync for several messages).

pub mod compose;
pub mod smtp;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::store::{parse_ts, OutboundRow, SharedStore, Store, StoreError};
pub use smtp::{Connection, SmtpError};

/// With nothing due, look at the queue again after this long (new rows also wake us).
const IDLE_RECHECK: StdDuration = StdDuration::from_secs(2);
/// A connection idle longer than this is checked with NOOP before it carries a message.
const CHECK_AFTER_IDLE: StdDuration = StdDuration::from_secs(10);
/// Rows read per round, per connection (each with its message: this bounds memory).
const ROWS_PER_CONNECTION: usize = 16;

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
/// The outcome of one send attempt.
#[derive(Debug)]
pub enum SendResult {
    Sent,
    Transient(String),
    Permanent(String),
}

/// A send result on its way to the store, with the permit its sender waits on.
type Sent = (
    OutboundRow,
    SendResult,
    Option<tokio::sync::OwnedSemaphorePermit>,
);

/// A connection kept between rounds, with when it last carried a message.
struct Pooled {
    conn: Connection,
    used: Instant,
}

/// Sends the rows of one round over up to `smtp.connections` connections, each worker
/// taking the next row from a shared queue; results go to `results` as soon as the server
/// answered. A worker that hits a transient failure stops taking rows (the server is
/// probably in trouble) and reports it; the others finish the message in hand and stop.
async fn send_round(
    config: &Config,
    pool: &Mutex<Vec<Pooled>>,
    rows: Vec<OutboundRow>,
    results: mpsc::UnboundedSender<Sent>,
) -> bool {
    let workers = config.smtp.connections.min(rows.len()).max(1);
    let window = Arc::new(tokio::sync::Semaphore::new(workers));
    let queue = Mutex::new(VecDeque::from(rows));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let take = || {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        queue.lock().ok()?.pop_front()
    };
    let worker = |_: usize| async {
        let mut conn: Option<Pooled> = pool.lock().ok().and_then(|mut p| p.pop());
        while let Some(row) = take() {
            // A connection idle for a while may have been closed by the server.
            if let Some(p) = conn.as_mut() {
                if p.used.elapsed() > CHECK_AFTER_IDLE && !p.conn.noop().await {
                    conn = None;
                }
            }
            if conn.is_none() {
                match Connection::open(config).await {
                    Ok(c) => {
                        conn = Some(Pooled {
                            conn: c,
                            used: Instant::now(),
                        })
                    }
                    Err(e) => {
                        // Every row of the round counts a failed attempt (so backoff and
                        // `give_up_after` apply to mail queued during a long outage too).
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        tracing::error!(error = %e, "outbox: cannot reach the SMTP server");
                        let mut rest: Vec<OutboundRow> = queue
                            .lock()
                            .map(|mut q| q.drain(..).collect())
                            .unwrap_or_default();
                        rest.insert(0, row);
                        for r in rest {
                            let _ = results.send((r, SendResult::Transient(e.to_string()), None));
                        }
                        return;
                    }
                }
            }
            let Some(p) = conn.as_mut() else { return };
            let to: Vec<&str> = row
                .recipient
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            // At most one message per connection is accepted by the server and not yet
            // recorded as sent (what a crash can make us send twice): the next send waits
            // until the previous result is committed.
            let Ok(permit) = window.clone().acquire_owned().await else {
                return;
            };
            let r = match p.conn.send(&row.envelope_from, &to, &row.body).await {
                Ok(()) => SendResult::Sent,
                Err(e) if e.is_permanent() => SendResult::Permanent(e.to_string()),
                Err(e) => {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    SendResult::Transient(e.to_string())
                }
            };
            p.used = Instant::now();
            if !p.conn.is_usable() {
                conn = None;
            }
            let _ = results.send((row, r, Some(permit)));
        }
        if let (Some(p), Ok(mut pool)) = (conn, pool.lock()) {
            pool.push(p);
        }
    };
    futures::future::join_all((0..workers).map(worker)).await;
    stop.load(std::sync::atomic::Ordering::Relaxed)
}

/// Records send results as they come, each group that arrived meanwhile in one
/// transaction (one fsync for many messages at backlog speed, one per message when quiet).
async fn record_results(
    config: &Arc<Config>,
    store: &SharedStore,
    clock: &SharedClock,
    mut rx: mpsc::UnboundedReceiver<Sent>,
) -> bool {
    let mut any_transient = false;
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while let Ok(more) = rx.try_recv() {
            group.push(more);
        }
        let mut permits = Vec::with_capacity(group.len());
        let group: Vec<(OutboundRow, SendResult)> = group
            .into_iter()
            .map(|(row, r, p)| {
                permits.extend(p);
                (row, r)
            })
            .collect();
        for (row, r) in &group {
            match r {
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
        }
        let cfg = config.clone();
        let done_at = clock.now();
        if let Err(e) =
            crate::store::blocking(store, move |s| record(s, &cfg, &group, done_at)).await
        {
            tracing::error!(error = %e, "outbox: cannot record send results (they will be resent)");
        }
        drop(permits);
    }
    any_transient
}

pub async fn run(
    config: Arc<Config>,
    store: SharedStore,
    clock: SharedClock,
    notify: Arc<Notify>,
    shutdown: CancellationToken,
) {
    let pool: Mutex<Vec<Pooled>> = Mutex::new(Vec::new());
    let mut backoff = StdDuration::from_secs(1);
    let mut breaker_logged = false;
    while !shutdown.is_cancelled() {
        let now = clock.now();
        let batch = config.smtp.connections * ROWS_PER_CONNECTION;
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

        // Each result is recorded as soon as the server answered, grouped with whatever
        // else arrived meanwhile (DESIGN invariant 2).
        let (tx, rx) = mpsc::unbounded_channel();
        let (stopped, any_transient) = tokio::join!(
            send_round(&config, &pool, to_send, tx),
            record_results(&config, &store, &clock, rx)
        );
        if stopped || any_transient {
            // The server is probably down: drop the connections, do not spin on the rows.
            if let Ok(mut p) = pool.lock() {
                p.clear();
            }
            sleep_or(&shutdown, &notify, backoff).await;
            backoff = (backoff * 2).min(StdDuration::from_secs(60));
        } else {
            backoff = StdDuration::from_secs(1);
        }
    }
    let conns = pool
        .lock()
        .map(|mut p| std::mem::take(&mut *p))
        .unwrap_or_default();
    for p in conns {
        let _ = tokio::time::timeout(StdDuration::from_secs(2), p.conn.quit()).await;
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
    // One transaction (one fsync) for the whole group, failures included.
    s.write(|tx| {
        tx.mark_sent(&sent, now)?;
        for (row, r) in results {
            match r {
                SendResult::Sent => {}
                SendResult::Transient(e) => {
                    let created = parse_ts(&row.created_at).unwrap_or(now);
                    let next = next_attempt(cfg, row.attempts, created, now);
                    tx.mark_attempt_failed(row, e, next, now)?;
                }
                SendResult::Permanent(e) => tx.mark_attempt_failed(row, e, None, now)?,
            }
        }
        Ok(())
    })
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
