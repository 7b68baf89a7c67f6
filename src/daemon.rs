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

use crate::clock::SharedClock;
use crate::config::{Config, ConfigError};
use crate::ingest::{self, IngestHooks};
use crate::monitor::Monitor;
use crate::outbox;
use crate::pipeline::{Engine, EngineError};
use crate::store::{DaemonStores, StoreError};

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

/// Options beyond the config.
#[derive(Clone)]
pub struct Options {
    /// Where the config came from, for reloads.
    pub config_path: Option<PathBuf>,
    /// Called once the store is open and the first IMAP login succeeded.
    pub on_ready: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Called whenever the main loop completes a healthy round.
    pub on_healthy: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Each notification reloads config and templates from `config_path`.
    pub reload: Option<Arc<Notify>>,
    /// Read the mailbox (false: only send queued mail, for `deliver` pipe setups).
    pub ingest: bool,
    /// Wakes the scheduler (tests notify it after moving their clock).
    pub scheduler_wake: Option<Arc<Notify>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_path: None,
            on_ready: None,
            on_healthy: None,
            reload: None,
            ingest: true,
            scheduler_wake: None,
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
    let db = config.db_path();
    let stores = DaemonStores::open(&config)?;
    let engine = Arc::new(Engine::new(config.clone(), clock.clone())?);
    tracing::info!(database = %db.display(), mailbox = %ingest::mailbox_key(&engine), "mailcase starting");
    let engine_cell = Arc::new(RwLock::new(engine));
    let notify = Arc::new(Notify::new());
    let wake = opts
        .scheduler_wake
        .clone()
        .unwrap_or_else(|| Arc::new(Notify::new()));
    let tracker = TaskTracker::new();
    let monitor = Arc::new(Monitor::new(&ingest::holder_name()));
    // Bound before anything runs: a taken port stops the start, naming the key.
    if let Some(addr) = config.metrics.listen {
        let listener = crate::monitor::http::bind(addr)
            .await
            .map_err(|error| DaemonError::Metrics { addr, error })?;
        tracing::info!(%addr, "metrics: serving GET /metrics");
        tracker.spawn(crate::monitor::http::serve(
            listener,
            monitor.clone(),
            shutdown.clone(),
        ));
    }

    let noop: Arc<dyn Fn() + Send + Sync> = Arc::new(|| {});
    let hooks = IngestHooks {
        outbox: notify.clone(),
        scheduler: wake.clone(),
        on_ready: opts.on_ready.clone().unwrap_or_else(|| noop.clone()),
        on_healthy: opts.on_healthy.clone().unwrap_or(noop),
        monitor: monitor.clone(),
    };
    if opts.ingest {
        tracker.spawn(ingest::run(
            engine_cell.clone(),
            stores.ingest.clone(),
            hooks,
            shutdown.clone(),
        ));
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
    tracker.spawn(crate::monitor::heartbeat(
        monitor.clone(),
        stores.scheduler.clone(),
        engine_cell.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(stores.upkeep(shutdown.clone()));
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
