//! PLACEHOLDER until the calendar branch lands: the customer send window.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// When customers may receive scheduled mail: local hours on given weekdays.
#[derive(Debug, Clone)]
pub struct SendWindow {
    tz: Tz,
    days: Vec<Weekday>,
    start: NaiveTime,
    end: NaiveTime,
}

impl SendWindow {
    pub fn new(tz: Tz, days: Vec<Weekday>, start: NaiveTime, end: NaiveTime) -> SendWindow {
        SendWindow {
            tz,
            days,
            start,
            end,
        }
    }

    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        let l = t.with_timezone(&self.tz);
        self.days.contains(&l.weekday()) && l.time() >= self.start && l.time() < self.end
    }

    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(t) {
            return t;
        }
        let mut day = t.with_timezone(&self.tz).date_naive();
        for _ in 0..15 {
            if self.days.contains(&day.weekday()) {
                if let Some(s) = self
                    .tz
                    .from_local_datetime(&day.and_time(self.start))
                    .earliest()
                {
                    let s = s.with_timezone(&Utc);
                    if s >= t {
                        return s;
                    }
                }
            }
            day += Duration::days(1);
        }
        t
    }
}
