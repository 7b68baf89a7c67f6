//! The business calendar: when "1 business day" from now ends.
//!
//! Business durations count only time inside working hours on working days that are not
//! holidays, in the configured time zone. `1d` of business time is one working day's length
//! (09:00-17:00 gives 8 h), so "1 business day" from Monday 10:00 is Tuesday 10:00. Working
//! hours are local wall-clock times; on a DST change day the window is what the wall clock
//! shows (shorter or longer in UTC).

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

use crate::config::{parse_hhmm, parse_weekday, CalendarConfig, ClockKind};

/// Working days, hours, holidays and zone, ready for arithmetic.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: Tz,
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    holidays: BTreeSet<NaiveDate>,
}

/// Longest search horizon: a calendar with almost no working time must still terminate.
const MAX_DAYS: i64 = 3 * 366;

impl BusinessCalendar {
    /// Builds the calendar from validated config (invalid entries fall back to safe defaults;
    /// `Config::validate` has already rejected them).
    pub fn from_config(c: &CalendarConfig) -> BusinessCalendar {
        let mut days = [false; 7];
        for d in &c.working_days {
            if let Some(w) = parse_weekday(d) {
                days[w.num_days_from_monday() as usize] = true;
            }
        }
        BusinessCalendar {
            tz: c.timezone.parse().unwrap_or(chrono_tz::UTC),
            days,
            start: parse_hhmm(&c.start).unwrap_or(NaiveTime::MIN),
            end: parse_hhmm(&c.end)
                .unwrap_or_else(|| NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN)),
            holidays: c
                .holidays
                .iter()
                .filter_map(|h| NaiveDate::parse_from_str(h, "%Y-%m-%d").ok())
                .collect(),
        }
    }

    /// The configured time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Length of one working day: what `1d` of business time means.
    pub fn day_length(&self) -> Duration {
        self.end - self.start
    }

    fn is_working(&self, d: NaiveDate) -> bool {
        self.days[d.weekday().num_days_from_monday() as usize] && !self.holidays.contains(&d)
    }

    fn local(&self, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&d.and_time(t)) {
            LocalResult::Single(x) => x.with_timezone(&Utc),
            LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
            // A wall time skipped by DST: the window starts when the clock jumps.
            LocalResult::None => {
                let later = d.and_time(t) + Duration::hours(1);
                self.tz
                    .from_local_datetime(&later)
                    .earliest()
                    .map(|x| x.with_timezone(&Utc))
                    .unwrap_or_else(|| Utc.from_utc_datetime(&d.and_time(t)))
            }
        }
    }

    /// The working window of a date in UTC, if it is a working day.
    fn window(&self, d: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.is_working(d) {
            return None;
        }
        Some((self.local(d, self.start), self.local(d, self.end)))
    }

    /// `start` plus `business` time inside working hours.
    pub fn add_business(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        let mut remaining = business;
        let mut day = start.with_timezone(&self.tz).date_naive();
        for _ in 0..MAX_DAYS {
            if let Some((ws, we)) = self.window(day) {
                let from = ws.max(start);
                if from < we {
                    let avail = we - from;
                    if remaining <= avail {
                        return from + remaining;
                    }
                    remaining -= avail;
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        start + business
    }

    /// Business time elapsed between two instants (zero when `to <= from`).
    pub fn business_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let mut day = from.with_timezone(&self.tz).date_naive();
        let last = to.with_timezone(&self.tz).date_naive();
        let mut n = 0;
        while day <= last && n < MAX_DAYS * 10 {
            if let Some((ws, we)) = self.window(day) {
                let a = ws.max(from);
                let b = we.min(to);
                if a < b {
                    total += b - a;
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
            n += 1;
        }
        total
    }

    /// Deadline for a target of `target` from `start`, on the wall clock or in business time.
    /// Business targets are written in config days of 24 h; each such day is one working day.
    pub fn deadline(
        &self,
        start: DateTime<Utc>,
        target: std::time::Duration,
        kind: ClockKind,
    ) -> DateTime<Utc> {
        let secs = i64::try_from(target.as_secs()).unwrap_or(i64::MAX / 4);
        match kind {
            ClockKind::Wall => start + Duration::seconds(secs),
            ClockKind::Business => {
                let days = secs / 86_400;
                let rest = secs % 86_400;
                let business = self.day_length() * (days as i32) + Duration::seconds(rest);
                self.add_business(start, business)
            }
        }
    }
}

/// Weekday names for templates.
pub fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(tz: &str, holidays: &[&str]) -> BusinessCalendar {
        BusinessCalendar::from_config(&CalendarConfig {
            timezone: tz.into(),
            working_days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            start: "09:00".into(),
            end: "17:00".into(),
            holidays: holidays.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn one_business_day_from_monday_morning_is_tuesday_same_time() {
        let c = cal("UTC", &[]);
        let d = c.deadline(
            utc("2026-11-23T10:00:00Z"),
            std::time::Duration::from_secs(86_400),
            ClockKind::Business,
        );
        assert_eq!(d, utc("2026-11-24T10:00:00Z"));
    }

    #[test]
    fn friday_evening_rolls_over_the_weekend() {
        let c = cal("UTC", &[]);
        let d = c.deadline(
            utc("2026-11-27T18:30:00Z"),
            std::time::Duration::from_secs(4 * 3600),
            ClockKind::Business,
        );
        assert_eq!(d, utc("2026-11-30T13:00:00Z"));
    }

    #[test]
    fn holidays_are_skipped() {
        let c = cal("UTC", &["2026-12-24", "2026-12-25"]);
        let d = c.deadline(
            utc("2026-12-23T16:00:00Z"),
            std::time::Duration::from_secs(2 * 3600),
            ClockKind::Business,
        );
        assert_eq!(d, utc("2026-12-28T10:00:00Z"));
    }

    #[test]
    fn wall_clock_targets_ignore_the_calendar() {
        let c = cal("UTC", &[]);
        let d = c.deadline(
            utc("2026-11-28T23:00:00Z"),
            std::time::Duration::from_secs(7200),
            ClockKind::Wall,
        );
        assert_eq!(d, utc("2026-11-29T01:00:00Z"));
    }

    #[test]
    fn working_hours_follow_local_time_across_dst() {
        // Europe/Berlin leaves summer time on 2026-10-25: 09:00 local is 07:00Z before, 08:00Z after.
        let c = cal("Europe/Berlin", &[]);
        let d = c.deadline(
            utc("2026-10-23T14:00:00Z"),
            std::time::Duration::from_secs(86_400),
            ClockKind::Business,
        );
        // Friday 16:00 local + 8 business hours = Monday 16:00 local (CET) = 15:00Z.
        assert_eq!(d, utc("2026-10-26T15:00:00Z"));
    }

    #[test]
    fn business_between_counts_only_working_hours() {
        let c = cal("UTC", &[]);
        let got = c.business_between(utc("2026-11-27T16:00:00Z"), utc("2026-11-30T10:00:00Z"));
        assert_eq!(got, Duration::hours(2));
    }
}
