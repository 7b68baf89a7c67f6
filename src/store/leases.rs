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
