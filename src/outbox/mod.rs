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
//!
//! A round reads due rows ahead while the connections send (a feeder hands them over a
//! small queue, leaving out rows in flight) until nothing more is due; a connection never
//! waits for a re-read of the queue.
//!
//! When the results cannot be recorded (a full disk), the round stops and the next one waits
//! with the same backoff as for a server outage: the rows are still pending and a new round
//! would send them again at once, round after round. That failure, like a failing read of the
//! queue, is logged once per change of state (`store::health::FailureLog`).

pub mod compose;
pub mod smtp;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::monitor::{Monitor, SendCount, Stage};
use crate::store::health::FailureLog;
use crate::store::{OutboundRow, SharedStore, Store, StoreError};
pub use smtp::{Connection, SmtpError};

/// With nothing due, look at the queue again after this long (new rows also wake us).
const IDLE_RECHECK: StdDuration = StdDuration::from_secs(2);
/// A connection idle longer than this is checked with NOOP before it carries a message.
const CHECK_AFTER_IDLE: StdDuration = StdDuration::from_secs(10);
/// Rows read at a time, per connection (each with its message: with the queue below, this
/// bounds memory).
const ROWS_PER_CONNECTION: usize = 16;
/// Rows read and waiting for a free connection, per connection.
const QUEUED_PER_CONNECTION: usize = 4;

/// Next attempt after `attempts` failures: initial * 2^attempts, capped; None once the
/// message has been failing for longer than `give_up_after`.
pub fn next_attempt(
    cfg: &Config,
    attempts: i64,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let o = &cfg.outbox;
    if now - created_at > o.give_up_after.chrono() {
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
    /// Its account: an index into `smtp_accounts`.
    account: usize,
}

/// Senders working at once: the most `connections` of any SMTP account.
fn senders(config: &Config) -> usize {
    config
        .smtp_accounts
        .iter()
        .map(|a| a.connections)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// What the feeder, the senders and the recorder of one round share.
#[derive(Default)]
struct Round {
    /// Rows handed to the senders and not yet recorded: left out of the next read.
    in_flight: Mutex<HashSet<i64>>,
    /// Set by a sender on a transient failure: nobody takes or reads more rows.
    stop: AtomicBool,
}

/// Sends the rows `rows` delivers over up to `smtp.connections` connections, each worker
/// taking the next row as soon as it is free (a connection is opened only by a worker that
/// got a row); results go to `results` as soon as the server answered. A worker that hits a
/// transient failure stops taking rows (the server is probably in trouble) and reports it;
/// the others finish the message in hand and stop. Returns whether that happened.
async fn send_all(
    config: &Config,
    pool: &Mutex<Vec<Pooled>>,
    rows: mpsc::Receiver<OutboundRow>,
    results: mpsc::UnboundedSender<Sent>,
    round: &Round,
    shutdown: &CancellationToken,
) -> bool {
    let stop = &round.stop;
    let workers = senders(config);
    let window = Arc::new(tokio::sync::Semaphore::new(workers));
    let queue = tokio::sync::Mutex::new(rows);
    let take = || async {
        if stop.load(Ordering::Relaxed) || shutdown.is_cancelled() {
            return None;
        }
        let row = queue.lock().await.recv().await;
        // A row taken after a stop stays pending: it is read again in the next round.
        row.filter(|_| !stop.load(Ordering::Relaxed))
    };
    let worker = |_: usize| async {
        let mut conn: Option<Pooled> = None;
        while let Some(row) = take().await {
            // The account of the row's sender (a brand may send through its own): the
            // connection in hand, else one of the pool's, else a new one.
            let account = config.smtp_index_for(&row.envelope_from);
            if conn.as_ref().is_some_and(|p| p.account != account) {
                if let (Some(p), Ok(mut pool)) = (conn.take(), pool.lock()) {
                    pool.push(p);
                }
            }
            if conn.is_none() {
                conn = pool.lock().ok().and_then(|mut p| {
                    let i = p.iter().position(|c| c.account == account)?;
                    Some(p.swap_remove(i))
                });
            }
            // A connection idle for a while may have been closed by the server.
            if let Some(p) = conn.as_mut() {
                if p.used.elapsed() > CHECK_AFTER_IDLE && !p.conn.noop().await {
                    conn = None;
                }
            }
            if conn.is_none() {
                match Connection::open(config, &config.smtp_accounts[account]).await {
                    Ok(c) => {
                        conn = Some(Pooled {
                            conn: c,
                            used: Instant::now(),
                            account,
                        })
                    }
                    Err(e) => {
                        // Every row in hand counts a failed attempt (so backoff and
                        // `give_up_after` apply to mail queued during a long outage too).
                        stop.store(true, Ordering::Relaxed);
                        tracing::error!(account = %config.smtp_accounts[account].path, error = %e, "outbox: cannot reach the SMTP server");
                        let mut rest = vec![row];
                        {
                            let mut q = queue.lock().await;
                            while let Ok(r) = q.try_recv() {
                                rest.push(r);
                            }
                        }
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
                    stop.store(true, Ordering::Relaxed);
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
    stop.load(Ordering::Relaxed)
}

/// Reads due rows for the senders, the next group while they send the last (rows handed
/// over and not yet recorded are left out of the read), until nothing more is due: one
/// round. Applies the circuit breaker on mail per minute (every kind): over the limit on its
/// first read, it trips (queued mail waits `breaker_cooldown`); later in the round it
/// ends the round, whose successor counts again. Returns how many rows it handed over.
async fn feed(
    config: &Config,
    store: &SharedStore,
    clock: &SharedClock,
    rows: mpsc::Sender<OutboundRow>,
    round: &Round,
    shutdown: &CancellationToken,
    breaker_logged: &mut bool,
) -> Result<usize, StoreError> {
    let (in_flight, stop) = (&round.in_flight, &round.stop);
    let limit = i64::from(config.outbox.max_automatic_per_minute);
    let read = senders(config) * ROWS_PER_CONNECTION;
    let mut budget: Option<i64> = None;
    let mut fed = 0;
    while !stop.load(Ordering::Relaxed) && !shutdown.is_cancelled() {
        let now = clock.now();
        let except = in_flight.lock().map(|s| s.clone()).unwrap_or_default();
        let first = budget.is_none();
        // Mail to an address that bounced for good is dropped, not sent again.
        let (due, sent_last_minute) = crate::store::blocking(store, move |s| {
            let dropped = s.drop_undeliverable(now)?;
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "outbox: dropped queued mail to addresses that bounced"
                );
            }
            let due = s.claim_due_outbound(now, read, &except)?;
            let sent = if first && !due.is_empty() {
                s.read().sent_since(now - Duration::minutes(1))?
            } else {
                0
            };
            Ok((due, sent))
        })
        .await?;
        if due.is_empty() {
            break;
        }
        let left = budget.get_or_insert((limit - sent_last_minute).max(0));
        let mut over = false;
        let mut to_send = Vec::with_capacity(due.len());
        // Every kind of mail counts: a loop of relayed answers is not "automatic" mail.
        for r in due {
            if *left == 0 {
                over = true;
                continue;
            }
            *left -= 1;
            to_send.push(r);
        }
        if over && first {
            let until = now + config.outbox.breaker_cooldown.chrono();
            if !*breaker_logged {
                tracing::error!(
                    sent_last_minute,
                    limit,
                    until = %until,
                    "outbox: circuit breaker tripped, sending paused (outbox.max_automatic_per_minute counts every mail sent); queued mail is kept"
                );
                *breaker_logged = true;
            }
            crate::store::blocking(store, move |s| s.defer_pending(until)).await?;
        } else if first {
            *breaker_logged = false;
        }
        for r in to_send {
            if let Ok(mut f) = in_flight.lock() {
                f.insert(r.id);
            }
            if rows.send(r).await.is_err() {
                return Ok(fed); // the senders stopped
            }
            fed += 1;
        }
        if over {
            break;
        }
    }
    Ok(fed)
}

/// Records send results as they come, each group that arrived meanwhile in one
/// transaction (one fsync for many messages at backlog speed, one per message when quiet).
/// Returns whether the round should be followed by a backoff: a transient send failure, or
/// results that could not be recorded (which also stops the round).
async fn record_results(
    config: &Arc<Config>,
    store: &SharedStore,
    clock: &SharedClock,
    round: &Round,
    mut rx: mpsc::UnboundedReceiver<Sent>,
    log: &mut FailureLog,
    monitor: &Monitor,
) -> bool {
    let in_flight = &round.in_flight;
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
                    monitor.error(Stage::Smtp, e);
                    tracing::warn!(
                        kind = %row.kind, message_id = %row.message_id, error = %e,
                        "outbox: send failed, will retry"
                    )
                }
                SendResult::Permanent(e) => {
                    monitor.error(Stage::Smtp, e);
                    tracing::error!(
                        kind = %row.kind, message_id = %row.message_id, error = %e,
                        "outbox: refused by the server, giving up"
                    )
                }
            }
        }
        let ids: Vec<i64> = group.iter().map(|(row, _)| row.id).collect();
        let cfg = config.clone();
        let done_at = clock.now();
        let recorded =
            crate::store::blocking(store, move |s| record(s, &cfg, &group, done_at)).await;
        log.record(&recorded);
        // Counted once recorded: a result that failed to be is sent again.
        match &recorded {
            Ok(counts) => {
                for (kind, c) in counts {
                    monitor.send(kind, *c);
                }
            }
            Err(e) => monitor.error(Stage::Store, &e.to_string()),
        }
        if recorded.is_err() {
            // Still pending: they will be resent (with the same Message-ID), after a backoff.
            round.stop.store(true, Ordering::Relaxed);
            any_transient = true;
        }
        // Recorded (or failed to be, and read again as pending in the next round).
        if let Ok(mut f) = in_flight.lock() {
            for id in ids {
                f.remove(&id);
            }
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
    monitor: Arc<Monitor>,
    shutdown: CancellationToken,
) {
    let pool: Mutex<Vec<Pooled>> = Mutex::new(Vec::new());
    let mut backoff = StdDuration::from_secs(1);
    let mut breaker_logged = false;
    let mut record_log = FailureLog::new("outbox: recording send results");
    let mut queue_log = FailureLog::new("outbox: reading the queue");
    while !shutdown.is_cancelled() {
        // One round: rows are read while earlier ones are sent, until nothing is due; each
        // result is recorded as soon as the server answered, grouped with whatever else
        // arrived meanwhile (DESIGN invariant 2).
        let round = Round::default();
        let (rows_tx, rows_rx) = mpsc::channel(senders(&config) * QUEUED_PER_CONNECTION);
        let (tx, rx) = mpsc::unbounded_channel();
        let (fed, stopped, any_transient) = tokio::join!(
            feed(
                &config,
                &store,
                &clock,
                rows_tx,
                &round,
                &shutdown,
                &mut breaker_logged
            ),
            send_all(&config, &pool, rows_rx, tx, &round, &shutdown),
            record_results(
                &config,
                &store,
                &clock,
                &round,
                rx,
                &mut record_log,
                &monitor
            )
        );
        queue_log.record(&fed);
        if stopped || any_transient {
            // The server is probably down: drop the connections, do not spin on the rows.
            if let Ok(mut p) = pool.lock() {
                p.clear();
            }
            sleep_or(&shutdown, &notify, backoff).await;
            backoff = (backoff * 2).min(StdDuration::from_secs(60));
            continue;
        }
        match fed {
            Err(_) => {
                sleep_or(&shutdown, &notify, backoff).await;
                backoff = (backoff * 2).min(StdDuration::from_secs(60));
            }
            Ok(0) => {
                backoff = StdDuration::from_secs(1);
                let next = crate::store::blocking(&store, |s| s.read().next_outbound_due())
                    .await
                    .ok()
                    .flatten();
                let wait = next
                    .map(|n| (n - clock.now()).to_std().unwrap_or(StdDuration::ZERO))
                    .unwrap_or(IDLE_RECHECK)
                    .clamp(StdDuration::from_millis(10), IDLE_RECHECK);
                sleep_or(&shutdown, &notify, wait).await;
            }
            Ok(_) => backoff = StdDuration::from_secs(1),
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

/// Records a group of results in one transaction; returns each one's kind and what the
/// metrics count it as.
fn record(
    s: &mut Store,
    cfg: &Config,
    results: &[(OutboundRow, SendResult)],
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, SendCount)>, StoreError> {
    let sent: Vec<i64> = results
        .iter()
        .filter(|(_, r)| matches!(r, SendResult::Sent))
        .map(|(row, _)| row.id)
        .collect();
    // One transaction (one fsync) for the whole group, failures included.
    s.write(|tx| {
        tx.mark_sent(&sent, now)?;
        let mut counts = Vec::with_capacity(results.len());
        for (row, r) in results {
            let count = match r {
                SendResult::Sent => SendCount::Sent,
                SendResult::Transient(e) => {
                    let next = next_attempt(cfg, row.attempts, row.created_at, now);
                    tx.mark_attempt_failed(row, e, next, now)?;
                    if next.is_some() {
                        SendCount::Retry
                    } else {
                        SendCount::Failed
                    }
                }
                SendResult::Permanent(e) => {
                    tx.mark_attempt_failed(row, e, None, now)?;
                    SendCount::Failed
                }
            };
            counts.push((row.kind.as_str(), count));
        }
        Ok(counts)
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
