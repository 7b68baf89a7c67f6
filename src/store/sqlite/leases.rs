//! The SQLite implementation of [`crate::store::leases`].

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::store::leases::*;

impl LeaseOps for SqliteStore {
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
    ) -> Result<bool, StoreError> {
        self.acquire_lease_unless_dead(name, holder, now, ttl, &|_| false)
    }

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
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            let cur: Option<(String, String)> = tx
                .tx
                .prepare_cached("SELECT holder, expires_at FROM leases WHERE name = ?1")?.query_row(
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let free = match &cur {
                None => true,
                Some((h, exp)) => h == holder || exp.as_str() <= ts(now).as_str() || is_dead(h),
            };
            if free {
                tx.tx.prepare_cached("INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at")?.execute(
                    params![name, holder, ts(now + ttl)],
                )?;
            }
            Ok(free)
        })
    }

    /// Gives the lease up (on clean shutdown) so a successor does not wait for it to expire.
    ///
    /// # Errors
    /// SQL errors.
    fn release_lease(&mut self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM leases WHERE name = ?1 AND holder = ?2")?
            .execute(params![name, holder])?;
        Ok(())
    }
}
