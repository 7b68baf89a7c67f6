//! The scheduler task: sleeps until the next timer falls due (or until woken because a new,
//! possibly earlier, timer was armed), then fires what is due in bounded rounds.
//!
//! Not a busy poll: one query for the earliest due time, one sleep. The sleep is capped at a
//! minute so a wall-clock jump (NTP, suspend) is noticed. After downtime the overdue timers
//! are worked off in rounds of [`ROUND`], each a transaction, and each timer fires once; the
//! outbox's circuit breaker paces the mail they queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, RwLock};
use tokio_util::sync::CancellationToken;

use crate::pipeline::{fire_due, Engine};
use crate::report::digest::{self, DigestOutcome};
use crate::store::{blocking, SharedStore};

/// Timers fired per transaction.
pub const ROUND: usize = 100;
/// Longest sleep, so a jump of the wall clock is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Wait after a store error before trying again.
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Runs until `shutdown`.
pub async fn run(
    engine: Arc<RwLock<Arc<Engine>>>,
    store: SharedStore,
    outbox: Arc<Notify>,
    wake: Arc<Notify>,
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
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        let e = engine.read().await.clone();
        digest_round(&e, &store, &outbox).await;
        let e2 = e.clone();
        let sleep = match blocking(&store, move |s| fire_due(s, &e2, ROUND)).await {
            Ok(n) if n > 0 => {
                outbox.notify_one();
                if n == ROUND {
                    continue; // more are due: next round at once
                }
                Duration::ZERO
            }
            Ok(_) => {
                let now = e.clock.now();
                match blocking(&store, |s| s.read().next_timer_due()).await {
                    Ok(Some(t)) => e
                        .clock
                        .real((t - now).to_std().unwrap_or(Duration::ZERO))
                        .min(MAX_SLEEP),
                    Ok(None) => MAX_SLEEP,
                    Err(err) => {
                        tracing::error!(error = %err, "scheduler: cannot read timers");
                        ERROR_BACKOFF
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "scheduler: timers not fired, retrying");
                ERROR_BACKOFF
            }
        };
        // Never past the next digest slot.
        let sleep = crate::report::digest::until_next(&e, e.clock.now())
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
}

/// Queues the management digest when a slot is due (one slot per round).
async fn digest_round(engine: &Arc<Engine>, store: &SharedStore, outbox: &Notify) {
    let e = engine.clone();
    match blocking(store, move |s| Ok(digest::send_due(s, &e))).await {
        Ok(Ok(DigestOutcome::Nothing)) => {}
        Ok(Ok(DigestOutcome::Queued { slot })) => {
            tracing::info!(slot = %slot, "digest queued");
            outbox.notify_one();
        }
        Ok(Ok(DigestOutcome::Skipped { slot, why })) => {
            tracing::info!(slot = %slot, why = %why, "digest slot skipped");
        }
        Ok(Err(err)) => {
            tracing::error!(error = %err, transient = err.is_transient(), "digest not sent, retrying next round")
        }
        Err(err) => tracing::error!(error = %err, "digest not sent, retrying next round"),
    }
}
