//! The PostgreSQL implementation of [`crate::store::clock`].

use super::*;
use crate::store::clock::*;

impl ClockReads for PgReader<'_> {
    fn simulated_clock(&self) -> Result<Option<SimulatedClock>, StoreError> {
        self.db
            .query_opt(
                "SELECT now, started_at, rate, recorded_at FROM simulated_clock WHERE id = 1",
                &[],
            )?
            .map(|r| {
                Ok(SimulatedClock {
                    now: values::time(&r, 0, "simulated_clock.now")?,
                    started_at: values::time(&r, 1, "simulated_clock.started_at")?,
                    rate: values::get(&r, 2)?,
                    recorded_at: values::time(&r, 3, "simulated_clock.recorded_at")?,
                })
            })
            .transpose()
    }
}

impl ClockOps for PgStore {
    fn record_clock(&mut self, clock: Option<&SimulatedClock>) -> Result<(), StoreError> {
        self.write(|tx| {
            match clock {
                Some(c) => tx.db.execute(
                    "INSERT INTO simulated_clock(id, now, started_at, rate, recorded_at)
                     VALUES (1, $1, $2, $3, $4)
                     ON CONFLICT(id) DO UPDATE SET now = excluded.now,
                         started_at = excluded.started_at, rate = excluded.rate,
                         recorded_at = excluded.recorded_at",
                    &[&ts(c.now), &ts(c.started_at), &c.rate, &ts(c.recorded_at)],
                )?,
                None => tx.db.execute("DELETE FROM simulated_clock", &[])?,
            };
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn the_simulated_clock_is_recorded_replaced_and_removed() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        assert_eq!(s.read().simulated_clock().unwrap(), None);
        let t = |h| Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap();
        let mut c = SimulatedClock {
            now: t(10),
            started_at: t(9),
            rate: 60.0,
            recorded_at: t(1),
        };
        s.record_clock(Some(&c)).unwrap();
        assert_eq!(s.read().simulated_clock().unwrap(), Some(c.clone()));
        c.now = t(11);
        c.rate = 0.5;
        s.record_clock(Some(&c)).unwrap();
        assert_eq!(s.read().simulated_clock().unwrap(), Some(c));
        s.record_clock(None).unwrap();
        assert_eq!(s.read().simulated_clock().unwrap(), None);
        s.db()
            .batch("INSERT INTO simulated_clock VALUES (1, 'soon', 'x', 1, 'y')")
            .unwrap();
        match s.read().simulated_clock() {
            Err(StoreError::Data(m)) => assert!(m.contains("simulated_clock.now"), "{m}"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }
}
