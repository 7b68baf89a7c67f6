//! Leases: which daemon holds a mailbox, with expiry, so a second one waits.

use chrono::{DateTime, Utc};

use super::*;

/// Operations of this room outside a caller's transaction (each is its own).
pub trait LeaseOps {
    /// Tries to take (or renew) the named lease for `holder` until `now + ttl`. Only one
    /// daemon fetches from a mailbox at a time: a second one started by mistake waits.
    ///
    /// # Errors
    /// SQL errors.
    fn acquire_lease(
        &mut self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<bool, StoreError>;

    /// As [`Store::acquire_lease`], also taking over a lease whose holder `is_dead` says is
    /// gone (a daemon killed on this machine), so a restart after a crash need not wait for
    /// the lease to expire.
    ///
    /// # Errors
    /// SQL errors.
    fn acquire_lease_unless_dead(
        &mut self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
        is_dead: &dyn Fn(&str) -> bool,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up (on clean shutdown) so a successor does not wait for it to expire.
    ///
    /// # Errors
    /// SQL errors.
    fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError>;
}

/// This process's name in leases, outbox claims and the daemons table: `pid N on HOST`.
pub fn holder_name() -> String {
    format!(
        "pid {} on {}",
        std::process::id(),
        hostname().unwrap_or_else(|| "?".into())
    )
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
}

/// True when a lease holder ("pid N on HOST") was a process of this machine that no longer
/// runs: a daemon killed (kill -9, OOM) and restarted by systemd takes its lease over at once
/// instead of waiting for it to expire. A reused pid only makes us wait, never steal.
pub fn holder_is_dead(holder: &str) -> bool {
    let Some(rest) = holder.strip_prefix("pid ") else {
        return false;
    };
    let Some((pid, host)) = rest.split_once(" on ") else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let ours = hostname().unwrap_or_else(|| "?".into());
    host == ours
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}
