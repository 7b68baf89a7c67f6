//! The scheduler task: sleeps until the next timer falls due (or until woken because a new,
//! possibly earlier, timer was armed), then fires what is due in bounded rounds.
//!
//! Not a busy poll: one query for the earliest due time, one sleep. The sleep is capped at a
//! minute so a wall-clock jump (NTP, suspend) is noticed. After downtime the overdue timers
//! are worked off in rounds of [`ROUND`], each a transaction, and each timer fires once; the
//! outbox's circuit breaker paces the mail they queue. The daily retention purge runs in the
//! same loop (`records::retention::daily`). Store failures (a full disk) are logged once
//! per change of state and per kind of work (`store::health::FailureLog`), not every round.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, RwLock};
use tokio_util::sync::CancellationToken;

use crate::monitor::{Monitor, Stage};
use crate::pipeline::{fire_due, Engine};
use crate::report::digest::DigestError;
use crate::report::digest::{self, DigestOutcome};
use crate::store::health::FailureLog;
use crate::store::{blocking, SharedStore};

/// Timers fired per transaction.
pub const ROUND: usize = 100;
/// Longest sleep, so a jump of the wall clock is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// The lease naming the one daemon that runs timers, the purge and the digest when several
/// share a database (PostgreSQL). Held with an expiry: when its daemon dies, another takes
/// the work over within [`SCHEDULER_LEASE_TTL`] (at once on the same machine).
pub const SCHEDULER_LEASE: &str = "scheduler";

/// How long the scheduler lease lasts without renewal (renewed every
/// [`SCHEDULER_LEASE_RENEW`] while its daemon runs rounds, which is at least every
/// `MAX_SLEEP`).
pub const SCHEDULER_LEASE_TTL: chrono::Duration = chrono::Duration::seconds(150);

/// How often the holder renews the scheduler lease (one write, not one per round).
const SCHEDULER_LEASE_RENEW: chrono::Duration = chrono::Duration::seconds(30);

/// How often a daemon without the scheduler lease asks for it again.
const SCHEDULER_LEASE_RETRY: Duration = Duration::from_secs(10);

/// Wait after a store error before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until `shutdown`.
pub async fn run(
    engine: Arc<RwLock<Arc<Engine>>>,
    store: SharedStore,
    outbox: Arc<Notify>,
    wake: Arc<Notify>,
    monitor: Arc<Monitor>,
    shutdown: CancellationToken,
) {
    {
        let e = engine.read().await.clone();
        match blocking(&store, move |s| crate::pipeline::resync_all(s, &e)).await {
            Ok(n) => tracing::debug!(cases = n, "scheduler: timers checked for open cases"),
            Err(err) => {
                tracing::error!(error = %err, "scheduler: could not check the timers of open cases")
            }
        }
    }
    // Kept between rounds, so the rounds every ingest batch wakes do not ask the store about
    // the daily purge and the digest again: None means "check at the next round".
    let mut next_purge: Option<chrono::DateTime<chrono::Utc>> = None;
    let mut digest_slot_done: Option<chrono::DateTime<chrono::Utc>> = None;
    // One per kind of work: a round in which the purge fails and firing nothing succeeds
    // must not log "full" and "writable again" every time.
    let mut logs = Logs {
        purge: FailureLog::new("scheduler: retention purge"),
        digest: FailureLog::new("scheduler: digest"),
        timers: FailureLog::new("scheduler: firing timers"),
        read: FailureLog::new("scheduler: reading timers"),
    };
    let mut lease_log = FailureLog::new("scheduler: lease");
    let holder = monitor.holder().to_string();
    // When (on the engine's clock) this daemon last took or renewed the scheduler lease.
    let mut lease_renewed: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let e = engine.read().await.clone();
        let now = e.clock.now();
        if !scheduler_lease(
            &store,
            &holder,
            now,
            clock_rate(&*e.clock),
            &mut lease_renewed,
            &mut lease_log,
        )
        .await
        {
            // Another daemon on this database runs the timers, the purge and the digest.
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(SCHEDULER_LEASE_RETRY) => {}
            }
            continue;
        }
        if next_purge.is_none_or(|t| now >= t) {
            next_purge = daily_purge(&store, &e, &mut logs.purge).await;
        }
        let slot = e
            .config
            .digest
            .enabled
            .then(|| digest::latest_slot(&e.config.digest, e.calendar.tz(), now))
            .flatten();
        if slot.is_some()
            && slot != digest_slot_done
            && digest_round(&e, &store, &outbox, &mut logs.digest).await
        {
            digest_slot_done = slot;
        }
        let e2 = e.clone();
        let fired = blocking(&store, move |s| fire_due(s, &e2, ROUND)).await;
        logs.timers.record(&fired);
        match &fired {
            Ok(f) => monitor.sla(f.sla_warnings, f.sla_breaches),
            Err(err) => monitor.error(Stage::Scheduler, &err.to_string()),
        }
        let sleep = match fired.map(|f| f.timers) {
            Ok(n) if n > 0 => {
                outbox.notify_one();
                if n == ROUND {
                    continue; // more are due: next round at once
                }
                Duration::ZERO
            }
            Ok(_) => {
                let now = e.clock.now();
                let next = blocking(&store, |s| s.read().next_timer_due()).await;
                logs.read.record(&next);
                match next {
                    Ok(Some(t)) => e
                        .clock
                        .real((t - now).to_std().unwrap_or(Duration::ZERO))
                        .min(MAX_SLEEP),
                    Ok(None) => MAX_SLEEP,
                    Err(_) => ERROR_BACKOFF,
                }
            }
            Err(_) => ERROR_BACKOFF,
        };
        let sleep = match next_purge {
            Some(t) => e
                .clock
                .real((t - e.clock.now()).to_std().unwrap_or(Duration::ZERO))
                .min(sleep),
            None => sleep,
        };
        // Never past the next digest slot.
        let sleep = crate::report::digest::until_next(&e.config, &e.calendar, e.clock.now())
            .map_or(sleep, |d| sleep.min(e.clock.real(d)));
        if sleep.is_zero() {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    if lease_renewed.is_some() {
        // A successor need not wait for the lease to expire.
        let h = holder.clone();
        if let Err(e) = blocking(&store, move |s| s.release_lease(SCHEDULER_LEASE, &h)).await {
            tracing::warn!(error = %e, "scheduler: could not give the lease up");
        }
    }
}

/// Takes or renews the scheduler lease (renewing at most every [`SCHEDULER_LEASE_RENEW`]);
/// whether this daemon holds it.
///
/// The lease's times are on the engine's clock, like the mailbox lease's; its lengths are
/// real time: on a demo's clock running `rate` times fast they are `rate` times longer in
/// that clock's time, or the lease would lapse between two rounds.
async fn scheduler_lease(
    store: &SharedStore,
    holder: &str,
    now: chrono::DateTime<chrono::Utc>,
    rate: f64,
    renewed: &mut Option<chrono::DateTime<chrono::Utc>>,
    log: &mut FailureLog,
) -> bool {
    let scaled = |d: chrono::Duration| {
        chrono::Duration::milliseconds((d.num_milliseconds() as f64 * rate) as i64)
    };
    if renewed.is_some_and(|at| now >= at && now - at < scaled(SCHEDULER_LEASE_RENEW)) {
        return true;
    }
    let h = holder.to_string();
    let ttl = scaled(SCHEDULER_LEASE_TTL);
    let got = blocking(store, move |s| {
        s.acquire_lease_unless_dead(
            SCHEDULER_LEASE,
            &h,
            now,
            ttl,
            &crate::ingest::holder_is_dead,
        )
    })
    .await;
    log.record(&got);
    let held = got.unwrap_or(false);
    if held && renewed.is_none() {
        tracing::debug!(
            holder,
            "scheduler: lease taken; this daemon runs timers, purge and digest"
        );
    }
    *renewed = held.then_some(now);
    held
}

/// How many of its seconds `clock` runs per real second (1 for the real clock, and never
/// less: a clock moved by hand in tests counts as real).
fn clock_rate(clock: &dyn crate::clock::Clock) -> f64 {
    let hour = Duration::from_secs(3600);
    let real = clock.real(hour).as_secs_f64();
    if real > 0.0 {
        (hour.as_secs_f64() / real).max(1.0)
    } else {
        1.0
    }
}

/// The scheduler's store failure logs, one per kind of work.
struct Logs {
    purge: FailureLog,
    digest: FailureLog,
    timers: FailureLog,
    read: FailureLog,
}

/// The retention purge, once a day (bookkept in the store, so restarts neither skip nor
/// repeat it); returns when the next one is due (None after an error: retried next round).
async fn daily_purge(
    store: &SharedStore,
    e: &Arc<Engine>,
    log: &mut FailureLog,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let e2 = e.clone();
    let r = blocking(store, move |s| {
        crate::records::retention::daily(s, &e2.config.retention, e2.clock.now())
    })
    .await;
    log.record(&r);
    match r {
        Ok(d) => {
            if let crate::records::retention::Daily::Ran { report, .. } = &d {
                tracing::info!(
                    cases = report.cases,
                    case_messages = report.case_messages,
                    quarantined = report.quarantined,
                    raw_messages = report.raw_messages,
                    sent_bodies = report.sent_bodies,
                    unattached = report.unattached,
                    "retention: daily purge done"
                );
            }
            Some(d.next())
        }
        // Logged by `log`; retried next round.
        Err(_) => None,
    }
}

/// Queues the management digest when a slot is due; false when it must be tried again.
async fn digest_round(
    engine: &Arc<Engine>,
    store: &SharedStore,
    outbox: &Notify,
    log: &mut FailureLog,
) -> bool {
    let e = engine.clone();
    let r = blocking(store, move |s| {
        let now = e.clock.now();
        Ok(digest::send_due(
            s,
            &e.config,
            &e.calendar,
            &e.renderer,
            now,
        ))
    })
    .await;
    match &r {
        Ok(Ok(_)) => log.succeeded(),
        Ok(Err(DigestError::Store(err))) | Err(err) => log.failed(err),
        Ok(Err(_)) => {}
    }
    match r {
        Ok(Ok(DigestOutcome::Nothing)) => true,
        Ok(Ok(DigestOutcome::Queued { slot })) => {
            tracing::info!(slot = %slot, "digest queued");
            outbox.notify_one();
            true
        }
        Ok(Ok(DigestOutcome::Skipped { slot, why })) => {
            tracing::info!(slot = %slot, why = %why, "digest slot skipped");
            true
        }
        // Logged by `log`.
        Ok(Err(DigestError::Store(_))) | Err(_) => false,
        Ok(Err(err)) => {
            tracing::error!(error = %err, transient = err.is_transient(), "digest not sent, retrying next round");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_lease_lasts_in_real_time_on_a_demo_clock() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(clock_rate(&crate::clock::SystemClock), 1.0);
        assert_eq!(clock_rate(&crate::clock::MovableClock::starting_at(t)), 1.0);
        let fast = crate::clock::MovableClock::with_rate(t, 600.0);
        assert!((clock_rate(&fast) - 600.0).abs() < 1e-6);
    }
}
