//! The daemon: the ingest, outbox and scheduler tasks, each on its own store connection
//! ([`DaemonStores`]), the store's own upkeep (SQLite: the WAL checkpointer) and the config
//! reload, all stopped by one cancellation token.
//!
//! `run(config, clock, shutdown)` takes its shutdown as a parameter (like mini-redis), so
//! tests start and stop a real daemon in-process. Stages stop between messages: a batch in
//! hand is committed and moved, a send in hand is finished and recorded.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, RwLock};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::{Clock, SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::ingest::{self, IngestHooks};
use crate::monitor::Monitor;
use crate::outbox;
use crate::pipeline::{Engine, EngineError};
use crate::store::health::FailureLog;
use crate::store::{blocking, DaemonStores, SharedStore, SimulatedClock, StoreError};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The metrics listener could not bind its address.
    #[error("metrics.listen: cannot listen on {addr}: {error}")]
    Metrics {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
}

/// Told a line of status (for `systemctl status`).
pub type StatusHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Options beyond the config.
#[derive(Clone)]
pub struct Options {
    /// Where the config came from, for reloads.
    pub config_path: Option<PathBuf>,
    /// Called once the store is open and the first IMAP login succeeded.
    pub on_ready: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Called while the daemon waits for its database at start (PostgreSQL unreachable),
    /// with what it is waiting for: it is not ready meanwhile.
    pub on_waiting: Option<StatusHook>,
    /// Called whenever the main loop completes a healthy round.
    pub on_healthy: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Each notification reloads config and templates from `config_path`.
    pub reload: Option<Arc<Notify>>,
    /// Read the mailbox (false: only send queued mail, for `deliver` pipe setups).
    pub ingest: bool,
    /// Wakes the scheduler (tests notify it after moving their clock).
    pub scheduler_wake: Option<Arc<Notify>>,
    /// The clock is a simulated one (`run --clock-start --clock-rate`): its time is recorded
    /// in the store every [`CLOCK_RECORD_INTERVAL`] and at shutdown, so the admin's commands
    /// judge due times by it. Without it a record left by an earlier run is removed.
    pub simulated_clock: Option<SimulatedStart>,
}

/// Where a simulated clock started and how fast it runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulatedStart {
    pub start: chrono::DateTime<chrono::Utc>,
    /// Simulated seconds per real second.
    pub rate: f64,
}

/// How often (real time) a daemon on a simulated clock records that clock's time.
pub const CLOCK_RECORD_INTERVAL: Duration = Duration::from_secs(1);

impl Default for Options {
    fn default() -> Self {
        Options {
            config_path: None,
            on_ready: None,
            on_healthy: None,
            on_waiting: None,
            reload: None,
            ingest: true,
            scheduler_wake: None,
            simulated_clock: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("config_path", &self.config_path)
            .finish()
    }
}

/// How long shutdown waits for tasks to finish what they hold.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Opens the daemon's stores. A PostgreSQL server that cannot be reached (down, restarting,
/// the network) is waited for, with backoff, logged at each try: the daemon is not ready
/// meanwhile. A wrong password, an unknown database or a schema newer than this program
/// stop the start with the error. None: shutdown came while waiting.
async fn open_stores(
    config: &Arc<Config>,
    shutdown: &CancellationToken,
    opts: &Options,
) -> Result<Option<DaemonStores>, DaemonError> {
    let mut backoff = crate::ingest::backoff::Backoff::reconnect();
    loop {
        let c = config.clone();
        let opened = tokio::task::spawn_blocking(move || DaemonStores::open(&c))
            .await
            .map_err(|e| StoreError::Data(format!("opening the store: {e}")))?;
        match opened {
            Ok(s) => {
                if backoff.failures() > 0 {
                    tracing::info!(attempts = backoff.failures() + 1, "database reachable");
                }
                return Ok(Some(s));
            }
            Err(e)
                if config.store.engine == crate::config::StoreEngine::Postgres
                    && e.is_transient() =>
            {
                let wait = backoff.next_delay(&mut rand::thread_rng());
                tracing::warn!(error = %e, retry_in = ?wait, "database unreachable: waiting for it before starting");
                if let Some(w) = &opts.on_waiting {
                    w(&format!("waiting for the database: {e}"));
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Runs until `shutdown` is cancelled.
///
/// # Errors
/// [`DaemonError`] when the store cannot be opened or the templates/rules do not load.
pub async fn run(
    config: Arc<Config>,
    clock: SharedClock,
    shutdown: CancellationToken,
    opts: Options,
) -> Result<(), DaemonError> {
    let db = crate::store::describe(&config);
    let Some(stores) = open_stores(&config, &shutdown, &opts).await? else {
        return Ok(());
    };
    let engine = Arc::new(Engine::new(config.clone(), clock.clone())?);
    let mailboxes: Vec<String> = config.mailboxes.iter().map(|m| m.key()).collect();
    tracing::info!(database = %db, mailboxes = %mailboxes.join(", "), queues = config.queue_names().len(), "mailcase starting");
    let engine_cell = Arc::new(RwLock::new(engine));
    let notify = Arc::new(Notify::new());
    let wake = opts
        .scheduler_wake
        .clone()
        .unwrap_or_else(|| Arc::new(Notify::new()));
    let tracker = TaskTracker::new();
    let monitor = Arc::new(Monitor::new(&ingest::holder_name()));
    // Bound before anything runs: a taken port stops the start, naming the key.
    let metrics_listener = match config.metrics.listen {
        Some(addr) => {
            let l = crate::monitor::http::bind(addr)
                .await
                .map_err(|error| DaemonError::Metrics { addr, error })?;
            tracing::info!(%addr, "metrics: serving GET /metrics");
            Some(l)
        }
        None => None,
    };
    let noop: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
    let hooks = IngestHooks {
        outbox: notify.clone(),
        scheduler: wake.clone(),
        on_ready: opts.on_ready.clone().unwrap_or_else(|| noop.clone()),
        on_healthy: opts.on_healthy.clone().unwrap_or(noop),
        monitor: monitor.clone(),
    };
    if opts.ingest {
        // One task per mailbox, each with its own connection and lease: a mailbox whose
        // login fails backs off alone while the others go on. They share the ingest store
        // connection (its writes are serialised by the store either way).
        for m in &config.mailboxes {
            tracker.spawn(ingest::run(
                engine_cell.clone(),
                m.clone(),
                stores.ingest.clone(),
                hooks.clone(),
                shutdown.clone(),
            ));
        }
    } else {
        (hooks.on_ready)();
    }
    tracker.spawn(crate::scheduler::run(
        engine_cell.clone(),
        stores.scheduler.clone(),
        notify.clone(),
        wake.clone(),
        monitor.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(outbox::run(
        config.clone(),
        stores.outbox.clone(),
        clock.clone(),
        notify.clone(),
        monitor.clone(),
        shutdown.clone(),
    ));
    let source = Arc::new(crate::monitor::StoreSource {
        store: stores.scheduler.clone(),
        engine: engine_cell.clone(),
    });
    if let Some(listener) = metrics_listener {
        tracker.spawn(crate::monitor::http::serve(
            listener,
            monitor.clone(),
            Some(source.clone()),
            shutdown.clone(),
        ));
    }
    tracker.spawn(crate::monitor::heartbeat(
        monitor.clone(),
        source.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(stores.upkeep(shutdown.clone()));
    tracker.spawn(record_clock(
        stores.scheduler.clone(),
        clock.clone(),
        opts.simulated_clock,
        shutdown.clone(),
    ));
    if let (Some(reload), Some(path)) = (opts.reload.clone(), opts.config_path.clone()) {
        let cell = engine_cell.clone();
        let sd = shutdown.clone();
        let clock = clock.clone();
        tracker.spawn(async move {
            loop {
                tokio::select! {
                    _ = sd.cancelled() => break,
                    _ = reload.notified() => {}
                }
                match Config::load(&path)
                    .map_err(DaemonError::from)
                    .and_then(|c| Ok(Engine::new(Arc::new(c), clock.clone())?))
                {
                    Ok(e) => {
                        // Each mailbox's task was started with the daemon: one added or
                        // removed takes a restart (a changed one reconnects with its new
                        // settings at its next session).
                        let names = |c: &Config| {
                            c.mailboxes
                                .iter()
                                .map(|m| m.label().to_string())
                                .collect::<Vec<_>>()
                        };
                        if names(&e.config) != names(&config) {
                            tracing::warn!(
                                running = %names(&config).join(", "),
                                configured = %names(&e.config).join(", "),
                                "reload: the set of mailboxes changed; restart mailcase to read the new set"
                            );
                        }
                        *cell.write().await = Arc::new(e);
                        tracing::info!(config = %path.display(), "reloaded config and templates");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reload refused; keeping the running config")
                    }
                }
            }
        });
    }
    tracker.close();
    shutdown.cancelled().await;
    tracing::info!("shutting down: finishing the batch and sends in hand");
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "tasks did not stop within {SHUTDOWN_GRACE:?}; exiting (uncommitted work is redone at start)"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// Keeps the store's record of a simulated clock current: its time every
/// [`CLOCK_RECORD_INTERVAL`] and once more at shutdown. On the real clock it removes a record
/// an earlier run left, once (retried every [`CLOCK_RECORD_INTERVAL`] until it succeeds).
async fn record_clock(
    store: SharedStore,
    clock: SharedClock,
    simulated: Option<SimulatedStart>,
    shutdown: CancellationToken,
) {
    let mut log = FailureLog::new("recording the daemon's clock");
    loop {
        let clock = clock.clone();
        let r = blocking(&store, move |s| {
            let record = simulated.map(|sim| SimulatedClock {
                now: clock.now(),
                started_at: sim.start,
                rate: sim.rate,
                recorded_at: SystemClock.now(),
            });
            s.record_clock(record.as_ref())
        })
        .await;
        log.record(&r);
        // On the real clock the record goes once: done when the delete succeeded (a full
        // disk at start makes it try again, and say when it worked).
        if (simulated.is_none() && r.is_ok()) || shutdown.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = tokio::time::sleep(CLOCK_RECORD_INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[tokio::test]
    async fn a_simulated_clock_is_recorded_as_it_runs_and_the_real_clock_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(std::sync::Mutex::new(crate::store::test_store(
            &dir.path().join("d.db"),
        )));
        let start = utc("2026-11-23T09:00:00Z");
        let sim = SimulatedStart { start, rate: 600.0 };
        let clock: SharedClock = Arc::new(crate::clock::MovableClock::with_rate(start, 600.0));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(record_clock(
            store.clone(),
            clock.clone(),
            Some(sim),
            shutdown.clone(),
        ));
        let recorded = || store.lock().unwrap().read().simulated_clock().unwrap();
        let mut first = None;
        for _ in 0..50 {
            first = recorded();
            if first.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = first.expect("recorded at start");
        assert_eq!((first.started_at, first.rate), (start, 600.0));
        // Rewritten as it runs: a later recording shows the clock moved on.
        tokio::time::sleep(CLOCK_RECORD_INTERVAL + Duration::from_millis(300)).await;
        let later = recorded().unwrap();
        assert!(later.now > first.now, "{later:?} after {first:?}");
        // And once more at shutdown, with the time the clock stopped at.
        shutdown.cancel();
        task.await.unwrap();
        let last = recorded().unwrap();
        assert!(last.now >= later.now && last.now <= clock.now());

        // A daemon on the real clock removes the record, once, and ends.
        record_clock(store.clone(), clock, None, CancellationToken::new()).await;
        assert_eq!(recorded(), None);
    }
}
