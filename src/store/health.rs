//! Logs a retrying task's store failures once per change of state, not once per attempt.
//!
//! The daemon's loops retry a failing store on their own rhythm (the checkpointer every
//! 250 ms, the scheduler every few seconds, the outbox after every round). Logging each
//! attempt turned a full disk into hundreds of identical lines a minute that buried the one
//! line the admin needed. Each loop keeps a [`FailureLog`]: the first failure of a kind is
//! logged (a full store as "store full: ..." with what to do), repeats are only counted, and
//! the first success after failures logs "store writable again" with how long and how many
//! attempts it took. A failure of another kind (full, then an I/O error) is a new state and
//! is logged again.

use std::time::{Duration, Instant};

use super::StoreError;

/// What went wrong, as far as the log cares: repeats of the same kind are not logged.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// SQLITE_FULL: the disk, or `store.max_size`.
    Full,
    /// Any other error, by its text.
    Other(String),
}

impl Kind {
    fn of(e: &StoreError) -> Kind {
        if e.is_full() {
            Kind::Full
        } else {
            Kind::Other(e.to_string())
        }
    }
}

#[derive(Debug)]
struct Failing {
    kind: Kind,
    since: Instant,
    attempts: u64,
}

/// The failure state of one retrying task (see the module doc).
#[derive(Debug)]
pub struct FailureLog {
    task: &'static str,
    failing: Option<Failing>,
}

impl FailureLog {
    /// A log for `task` (named in every line it writes, e.g. "checkpointer").
    pub fn new(task: &'static str) -> FailureLog {
        FailureLog {
            task,
            failing: None,
        }
    }

    /// Whether the last attempt failed.
    pub fn is_failing(&self) -> bool {
        self.failing.is_some()
    }

    /// Records one attempt: [`FailureLog::failed`] or [`FailureLog::succeeded`].
    pub fn record<T>(&mut self, r: &Result<T, StoreError>) {
        match r {
            Ok(_) => self.succeeded(),
            Err(e) => self.failed(e),
        }
    }

    /// Records a failed attempt; logs it when the store was working or failed otherwise.
    pub fn failed(&mut self, e: &StoreError) {
        let kind = Kind::of(e);
        if let Some(f) = self.failing.as_mut().filter(|f| f.kind == kind) {
            f.attempts += 1;
            return;
        }
        let task = self.task;
        match &kind {
            Kind::Full => tracing::error!(
                task,
                error = %e,
                "store full: writes fail until there is room (free disk space, or raise store.max_size); \
                 mail stays in the INBOX and unsent results are retried meanwhile"
            ),
            Kind::Other(_) => tracing::error!(
                task,
                error = %e,
                transient = e.is_transient(),
                "store failing: retrying (logged again when it changes)"
            ),
        }
        self.failing = Some(Failing {
            kind,
            since: Instant::now(),
            attempts: 1,
        });
    }

    /// Records a successful attempt; logs the recovery after failures.
    pub fn succeeded(&mut self) {
        if let Some(f) = self.failing.take() {
            let failed_for = Duration::from_millis(
                u64::try_from(f.since.elapsed().as_millis()).unwrap_or(u64::MAX),
            );
            tracing::info!(
                task = self.task,
                failed_for = ?failed_for,
                failed_attempts = f.attempts,
                "store writable again"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> StoreError {
        StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ))
    }

    #[test]
    fn repeats_of_one_failure_are_counted_and_a_new_kind_starts_over() {
        let mut log = FailureLog::new("test");
        log.failed(&full());
        log.failed(&full());
        log.failed(&full());
        assert!(matches!(
            &log.failing,
            Some(Failing {
                kind: Kind::Full,
                attempts: 3,
                ..
            })
        ));
        log.failed(&StoreError::Data("disk I/O error".into()));
        assert!(matches!(
            &log.failing,
            Some(Failing {
                kind: Kind::Other(_),
                attempts: 1,
                ..
            })
        ));
        log.record(&Ok::<(), StoreError>(()));
        assert!(!log.is_failing());
    }
}
