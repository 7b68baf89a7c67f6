//! The daemon's connections to SQLite and their upkeep: one connection per task (ingest,
//! outbox, scheduler) taking turns at the single write lock through a [`WriteGate`], page
//! caches sized per task, `store.max_size`, and the WAL checkpointer on a connection of its
//! own. The daemon asks for "its stores" and runs their upkeep; how an engine keeps itself
//! is the engine's business.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::SqliteStore;
use crate::config::Config;
use crate::store::health::FailureLog;
use crate::store::{blocking, SharedStore, Store, StoreError};

/// Hands the database's single write lock to the daemon's tasks (ingest, outbox,
/// scheduler; one connection each) in the order they asked for it. Without it they meet only
/// in SQLite's busy handler, which sleeps (up to 100 ms at a time) and polls: the ingest,
/// starting its next batch the moment the last one committed, can win again and again while
/// the outbox's small commits sleep.
#[derive(Debug, Default)]
pub struct WriteGate {
    state: std::sync::Mutex<GateState>,
    turn: std::sync::Condvar,
}

#[derive(Debug, Default)]
pub(crate) struct GateState {
    /// Tickets handed out.
    pub(crate) next: u64,
    /// The ticket whose turn it is.
    pub(crate) serving: u64,
}

/// A turn at writing; the next in line goes when it is dropped.
#[derive(Debug)]
pub struct GateTurn<'a> {
    gate: &'a WriteGate,
}

impl WriteGate {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this caller's turn (first come, first served).
    pub fn enter(&self) -> GateTurn<'_> {
        let mut st = self.lock();
        let ticket = st.next;
        st.next += 1;
        while st.serving != ticket {
            st = self.turn.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        GateTurn { gate: self }
    }
}

impl Drop for GateTurn<'_> {
    fn drop(&mut self) {
        let mut st = self.gate.lock();
        st.serving += 1;
        drop(st);
        self.gate.turn.notify_all();
    }
}

/// The daemon's stores: one per task, and (SQLite) the checkpointer's.
pub struct DaemonStores {
    pub ingest: SharedStore,
    pub outbox: SharedStore,
    pub scheduler: SharedStore,
    checkpoint: Option<Arc<std::sync::Mutex<SqliteStore>>>,
}

pub(crate) fn open_sized(
    path: &Path,
    max_size: Option<u64>,
    gate: Option<&Arc<WriteGate>>,
) -> Result<SqliteStore, StoreError> {
    let mut s = SqliteStore::open(path)?;
    if let Some(gate) = gate {
        s.set_write_gate(gate.clone());
    }
    if let Some(max) = max_size {
        s.set_max_size(max)?;
    }
    Ok(s)
}

impl DaemonStores {
    /// Opens the daemon's connections. Checkpoints run on a connection of their own; only
    /// the ingest, which writes batches of messages, keeps a page cache of 2 MiB.
    ///
    /// # Errors
    /// [`StoreError`] from opening or migrating the database.
    pub fn open(config: &Config) -> Result<DaemonStores, StoreError> {
        if config.store.engine == crate::config::StoreEngine::Postgres {
            // One connection per task; PostgreSQL keeps itself (no checkpointer of ours).
            let target = crate::store::pg_target(config)?;
            let conn = || -> Result<SharedStore, StoreError> {
                let s = crate::store::pg::PgStore::open(target.clone())?;
                Ok(Arc::new(std::sync::Mutex::new(Store::new(Box::new(s)))))
            };
            return Ok(DaemonStores {
                ingest: conn()?,
                outbox: conn()?,
                scheduler: conn()?,
                checkpoint: None,
            });
        }
        let db = config.db_path();
        let max = config.store.max_size.map(|m| m.0);
        let gate = Arc::new(WriteGate::default());
        let deferred = |cache_kib: i64| -> Result<SharedStore, StoreError> {
            let mut s = open_sized(&db, max, Some(&gate))?;
            s.defer_checkpoints()?;
            s.set_cache_kib(cache_kib)?;
            Ok(Arc::new(std::sync::Mutex::new(Store::new(Box::new(s)))))
        };
        let ingest = deferred(2048)?;
        let outbox = deferred(1024)?;
        let scheduler = deferred(1024)?;
        let mut c = open_sized(&db, max, Some(&gate))?;
        c.set_cache_kib(256)?;
        Ok(DaemonStores {
            ingest,
            outbox,
            scheduler,
            checkpoint: Some(Arc::new(std::sync::Mutex::new(c))),
        })
    }

    /// The store's own upkeep, for the daemon to run until `shutdown` (SQLite: the WAL
    /// checkpointer, with a last checkpoint at shutdown).
    pub fn upkeep(
        &self,
        shutdown: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let checkpoint = self.checkpoint.clone();
        async move {
            if let Some(c) = checkpoint {
                checkpointer(c, shutdown).await;
            }
        }
    }
}

/// How often the checkpointer copies committed WAL frames into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Runs the WAL checkpoints on a connection of its own, so that the ingest and the outbox
/// commit without copying pages into the database file under the write lock; a last one at
/// shutdown. A failing checkpoint (a full disk) is retried at the same pace, and logged once
/// when it starts failing and once when it works again ([`FailureLog`]), not 4 times a second.
async fn checkpointer(store: Arc<std::sync::Mutex<SqliteStore>>, shutdown: CancellationToken) {
    let mut log = FailureLog::new("checkpointer");
    loop {
        let stop = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => false,
        };
        log.record(&blocking(&store, |s| s.checkpoint()).await);
        if stop {
            break;
        }
    }
}
