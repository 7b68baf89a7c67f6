//! The SQLite implementation of [`crate::store::clock`].

use rusqlite::{params, OptionalExtension};

use super::*;
use crate::store::clock::*;

impl ClockReads for SqliteReader<'_> {
    fn simulated_clock(&self) -> Result<Option<SimulatedClock>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT now, started_at, rate, recorded_at FROM simulated_clock WHERE id = 1",
            )?
            .query_row([], |r| {
                Ok(SimulatedClock {
                    now: values::time(r, 0, "simulated_clock.now")?,
                    started_at: values::time(r, 1, "simulated_clock.started_at")?,
                    rate: r.get(2)?,
                    recorded_at: values::time(r, 3, "simulated_clock.recorded_at")?,
                })
            })
            .optional()?)
    }
}

impl ClockOps for SqliteStore {
    fn record_clock(&mut self, clock: Option<&SimulatedClock>) -> Result<(), StoreError> {
        self.write(|tx| {
            match clock {
                Some(c) => tx
                    .tx
                    .prepare_cached(
                        "INSERT INTO simulated_clock(id, now, started_at, rate, recorded_at)
                         VALUES (1, ?1, ?2, ?3, ?4)
                         ON CONFLICT(id) DO UPDATE SET now = excluded.now,
                             started_at = excluded.started_at, rate = excluded.rate,
                             recorded_at = excluded.recorded_at",
                    )?
                    .execute(params![
                        ts(c.now),
                        ts(c.started_at),
                        c.rate,
                        ts(c.recorded_at)
                    ])?,
                None => tx
                    .tx
                    .prepare_cached("DELETE FROM simulated_clock")?
                    .execute([])?,
            };
            Ok(())
        })
    }
}
