//! The PostgreSQL implementation of [`crate::store::leases`].

use chrono::{DateTime, Utc};

use super::values::get;
use super::*;
use crate::store::leases::*;

impl LeaseOps for PgStore {
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
    /// The holder is read, then the lease written, in one write transaction: those take
    /// [`WRITE_LOCK`] in turn, so no other daemon takes the lease in between.
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
                .db
                .query_opt(
                    "SELECT holder, expires_at FROM leases WHERE name = $1",
                    &[&name],
                )?
                .map(|r| Ok::<_, StoreError>((get(&r, 0)?, get(&r, 1)?)))
                .transpose()?;
            let free = match &cur {
                None => true,
                Some((h, exp)) => h == holder || exp.as_str() <= ts(now).as_str() || is_dead(h),
            };
            if free {
                tx.db.execute(
                    "INSERT INTO leases(name, holder, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at",
                    &[&name, &holder, &ts(now + ttl)],
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
        self.db.execute(
            "DELETE FROM leases WHERE name = $1 AND holder = $2",
            &[&name, &holder],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_lease_is_held_renewed_taken_over_and_released() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let ttl = chrono::Duration::seconds(60);
        let later = |s: i64| t0 + chrono::Duration::seconds(s);
        assert!(s.acquire_lease("imap:inbox", "a", t0, ttl).unwrap());
        assert!(!s.acquire_lease("imap:inbox", "b", later(30), ttl).unwrap());
        assert!(
            s.acquire_lease("imap:inbox", "a", later(30), ttl).unwrap(),
            "renewed"
        );
        assert!(!s.acquire_lease("imap:inbox", "b", later(60), ttl).unwrap());
        assert!(s.acquire_lease("imap:other", "b", later(60), ttl).unwrap());
        // Expired at t0 + 90.
        assert!(s.acquire_lease("imap:inbox", "b", later(90), ttl).unwrap());
        let holder: String = s
            .db()
            .query_one("SELECT holder FROM leases WHERE name = 'imap:inbox'", &[])
            .unwrap()
            .get(0);
        assert_eq!(holder, "b");
        assert!(!s
            .acquire_lease_unless_dead("imap:inbox", "c", later(91), ttl, &|h| h == "a")
            .unwrap());
        assert!(s
            .acquire_lease_unless_dead("imap:inbox", "c", later(91), ttl, &|h| h == "b")
            .unwrap());
        s.release_lease("imap:inbox", "b").unwrap(); // not the holder: stays
        assert!(!s.acquire_lease("imap:inbox", "d", later(92), ttl).unwrap());
        s.release_lease("imap:inbox", "c").unwrap();
        assert!(s.acquire_lease("imap:inbox", "d", later(92), ttl).unwrap());
        let exp: String = s
            .db()
            .query_one(
                "SELECT expires_at FROM leases WHERE name = 'imap:inbox'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(exp, ts(later(152)));
    }
}
