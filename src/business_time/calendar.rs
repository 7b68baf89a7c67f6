//! The business calendar: when "1 business day" from now ends.
//!
//! Business durations count only time inside working hours on working days that are not
//! holidays, in the configured time zone. `1d` of business time is one working day's length
//! (09:00-17:00 gives 8 h), so "1 business day" from Monday 10:00 is Tuesday 10:00.
//!
//! Working hours are read off the local wall clock: an instant is working time exactly when
//! the clock in the business zone shows a working, non-holiday date and a time in
//! `[start, end)`. On a DST change day the working day is what the wall clock shows, shorter
//! or longer in real time:
//! - a start or end the clock skips (02:30 when it jumps from 02:00 to 03:00) takes effect
//!   when the clock jumps, because from then on it shows a later time;
//! - an hour shown twice is worked twice when it lies inside working hours; when the start
//!   (or end) falls in it, the repeated stretch that reads before the start (after the end) is
//!   not working time, so that day has two working periods.
//!
//! [`BusinessCalendar::add_business`] and [`BusinessCalendar::business_between`] walk the same
//! periods (from `business_time::local::spans`), which makes them exact inverses of each other.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::local::{self, Span};
use crate::config::{CalendarConfig, ClockKind};

/// Working days, hours, holidays and zone, ready for arithmetic.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: Tz,
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    holidays: BTreeSet<NaiveDate>,
}

/// How many days the arithmetic walks at most (30 years): no target is that long, and a
/// calendar with no working time at all (every day a holiday) must still terminate.
/// `add_business` clamps to the end of the last working period within it, `business_between`
/// counts no further.
const HORIZON_DAYS: u32 = 30 * 366;

/// The latest deadline handed out: 9999-12-31T23:59:59Z. A target further out means never;
/// this instant still renders in every zone (`DateTime::MAX_UTC` does not: adding a positive
/// offset overflows) and still round-trips through the store's RFC 3339 text.
const LATEST: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MAX_UTC,
};

impl BusinessCalendar {
    /// Builds the calendar from the config's (already parsed) calendar.
    pub fn from_config(c: &CalendarConfig) -> BusinessCalendar {
        let mut days = [false; 7];
        for w in &c.working_days {
            days[w.num_days_from_monday() as usize] = true;
        }
        BusinessCalendar {
            tz: c.timezone,
            days,
            start: c.start,
            end: c.end,
            holidays: c.holidays.iter().copied().collect(),
        }
    }

    /// The configured time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first instant of local date `d` in the business time zone (midnight, or the
    /// first time the clock shows on a day whose midnight a DST change skips). Reports read
    /// `--from 2026-11-23` as this instant.
    pub fn start_of_day(&self, d: NaiveDate) -> DateTime<Utc> {
        use chrono::TimeZone;
        (0..=24 * 4)
            .find_map(|q| {
                self.tz
                    .from_local_datetime(&(d.and_time(NaiveTime::MIN) + Duration::minutes(15 * q)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| d.and_time(NaiveTime::MIN).and_utc())
    }

    /// Length of one working day on the wall clock: what `1d` of business time means. Zero
    /// for an (unvalidated) calendar whose end is not after its start.
    pub fn day_length(&self) -> Duration {
        (self.end - self.start).max(Duration::zero())
    }

    fn is_working(&self, d: NaiveDate) -> bool {
        self.days[d.weekday().num_days_from_monday() as usize] && !self.holidays.contains(&d)
    }

    /// The working periods of a local date, in order: usually one, none on days off, two when
    /// the clock turns back across the start or end.
    fn periods(&self, d: NaiveDate) -> Vec<Span> {
        if !self.is_working(d) {
            return Vec::new();
        }
        local::spans(self.tz, d.and_time(self.start), d.and_time(self.end))
    }

    /// The date to start walking periods for an instant: the day before its local date, so a
    /// period is never missed whatever the clock did around midnight.
    fn first_day(&self, t: DateTime<Utc>) -> NaiveDate {
        let d = local::local_date(self.tz, t);
        d.pred_opt().unwrap_or(d)
    }

    /// `start` plus `business` time inside working hours.
    ///
    /// With zero (or negative) `business` this is `start` itself when it lies in working hours,
    /// else the instant the next working period begins; a working period's end does not count
    /// as inside (17:00 moves to the next morning). A positive amount that uses a period up
    /// ends exactly at that period's end rather than at the next one's start, so the result
    /// is always the earliest instant by which `business` has elapsed. Beyond `HORIZON_DAYS`
    /// the result is clamped to the end of the last working period within it.
    pub fn add_business(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        let mut remaining = business.max(Duration::zero());
        let mut reached = start;
        let mut day = self.first_day(start);
        for _ in 0..HORIZON_DAYS {
            for (a, b) in self.periods(day) {
                let from = a.max(start);
                if from < b {
                    let available = b - from;
                    if remaining <= available {
                        return from + remaining;
                    }
                    remaining -= available;
                    reached = b;
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        reached
    }

    /// Business time elapsed between two instants (zero when `to <= from`). Counts at most
    /// `HORIZON_DAYS` days from `from`.
    pub fn business_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let mut day = self.first_day(from);
        // The day after `to`'s local date, for the same reason `first_day` starts a day early.
        let last = local::local_date(self.tz, to).succ_opt();
        for _ in 0..HORIZON_DAYS + 3 {
            if last.is_some_and(|l| day > l) {
                break;
            }
            for (a, b) in self.periods(day) {
                let (a, b) = (a.max(from), b.min(to));
                if a < b {
                    total += b - a;
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        total
    }

    /// Deadline for a target of `target` from `start`, on the wall clock or in business time.
    /// Business targets are written in config days of 24 h; each such day is one working day
    /// (`day_length`), and the remainder is business time as written.
    ///
    /// Deadlines saturate at `LATEST` (year 9999): a configured target too large for the
    /// arithmetic means "never", not a panic on every new case.
    pub fn deadline(
        &self,
        start: DateTime<Utc>,
        target: std::time::Duration,
        kind: ClockKind,
    ) -> DateTime<Utc> {
        let due = match kind {
            ClockKind::Wall => Duration::from_std(target)
                .ok()
                .and_then(|d| start.checked_add_signed(d)),
            ClockKind::Business => {
                let days = target.as_secs() / 86_400;
                let rest = target.saturating_sub(std::time::Duration::from_secs(days * 86_400));
                let business = i32::try_from(days)
                    .ok()
                    .and_then(|n| self.day_length().checked_mul(n))
                    .zip(Duration::from_std(rest).ok())
                    .and_then(|(whole, rest)| whole.checked_add(&rest))
                    // Too long to represent is longer than the horizon: clamp there.
                    .unwrap_or(Duration::MAX);
                Some(self.add_business(start, business))
            }
        };
        due.unwrap_or(DateTime::<Utc>::MAX_UTC)
            .min(LATEST.max(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    const WEEK: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// A calendar written as in the config file (test input, so it must parse).
    fn config(
        tz: &str,
        days: &[&str],
        start: &str,
        end: &str,
        holidays: &[&str],
    ) -> CalendarConfig {
        let time = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        CalendarConfig {
            timezone: tz.parse().unwrap(),
            working_days: days.iter().map(|d| d.parse().unwrap()).collect(),
            start: time(start),
            end: time(end),
            holidays: holidays
                .iter()
                .map(|h| NaiveDate::parse_from_str(h, "%Y-%m-%d").unwrap())
                .collect(),
        }
    }

    fn cal(tz: &str, holidays: &[&str]) -> BusinessCalendar {
        BusinessCalendar::from_config(&config(
            tz,
            &["mon", "tue", "wed", "thu", "fri"],
            "09:00",
            "17:00",
            holidays,
        ))
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
    fn a_day_starts_at_local_midnight_even_where_dst_skips_it() {
        let c = cal("Europe/Berlin", &[]);
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(c.start_of_day(d("2026-11-23")), utc("2026-11-22T23:00:00Z"));
        assert_eq!(c.start_of_day(d("2026-07-01")), utc("2026-06-30T22:00:00Z"));
        // Santiago de Chile springs forward at midnight: 2026-09-06 begins at 01:00 local.
        let c = cal("America/Santiago", &[]);
        assert_eq!(c.start_of_day(d("2026-09-06")), utc("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn business_time_of_a_week_excludes_nights_weekends_and_holidays() {
        // A report's resolution time: opened Thursday 16:00, resolved the next Tuesday 10:00
        // with Monday a holiday: 1 h Thursday, 8 h Friday, 1 h Tuesday.
        let c = cal("Europe/Berlin", &["2026-11-30"]);
        let got = c.business_between(utc("2026-11-26T15:00:00Z"), utc("2026-12-01T09:00:00Z"));
        assert_eq!(got, Duration::hours(10));
        assert_eq!(
            c.business_between(utc("2026-12-01T09:00:00Z"), utc("2026-11-26T15:00:00Z")),
            Duration::zero()
        );
    }

    #[test]
    fn business_between_counts_only_working_hours() {
        let c = cal("UTC", &[]);
        let got = c.business_between(utc("2026-11-27T16:00:00Z"), utc("2026-11-30T10:00:00Z"));
        assert_eq!(got, Duration::hours(2));
    }

    // ---- examples across DST, holidays and odd weeks ------------------------------------

    fn cal_with(
        tz: &str,
        days: &[&str],
        start: &str,
        end: &str,
        holidays: &[&str],
    ) -> BusinessCalendar {
        BusinessCalendar::from_config(&config(tz, days, start, end, holidays))
    }

    const EVERY_DAY: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    #[test]
    fn two_business_hours_over_the_spring_forward_weekend_in_berlin() {
        // Friday 2026-03-27 16:00 CET (15:00Z); clocks go forward in the night to Sunday 29th.
        let c = cal("Europe/Berlin", &[]);
        let t = utc("2026-03-27T15:00:00Z");
        let d = c.add_business(t, Duration::hours(2));
        // One hour on Friday, one on Monday from 09:00 CEST (07:00Z).
        assert_eq!(d, utc("2026-03-30T08:00:00Z"));
        assert_eq!(c.business_between(t, d), Duration::hours(2));
    }

    #[test]
    fn two_business_hours_over_the_fall_back_weekend_in_berlin() {
        // Friday 2026-10-23 16:00 CEST (14:00Z); clocks go back in the night to Sunday 25th.
        let c = cal("Europe/Berlin", &[]);
        let t = utc("2026-10-23T14:00:00Z");
        let d = c.add_business(t, Duration::hours(2));
        // One hour on Friday, one on Monday from 09:00 CET (08:00Z).
        assert_eq!(d, utc("2026-10-26T09:00:00Z"));
        assert_eq!(c.business_between(t, d), Duration::hours(2));
    }

    #[test]
    fn two_business_hours_during_the_spring_forward_night() {
        // Night shift 01:00-05:00 on 2026-03-29: the wall clock skips 02:00-03:00, so the shift
        // is 3 real hours, 00:00Z-03:00Z.
        let c = cal_with("Europe/Berlin", &EVERY_DAY, "01:00", "05:00", &[]);
        let t = utc("2026-03-29T00:00:00Z");
        assert_eq!(
            c.add_business(t, Duration::hours(2)),
            utc("2026-03-29T02:00:00Z")
        );
        let night = c.business_between(utc("2026-03-28T12:00:00Z"), utc("2026-03-29T12:00:00Z"));
        assert_eq!(night, Duration::hours(3));
        // The third hour ends the shift; the fourth comes from the next night (00:00 CEST = 23:00Z).
        assert_eq!(
            c.add_business(t, Duration::hours(3)),
            utc("2026-03-29T03:00:00Z")
        );
        assert_eq!(
            c.add_business(t, Duration::hours(4)),
            utc("2026-03-30T00:00:00Z")
        );
    }

    #[test]
    fn two_business_hours_during_the_fall_back_night() {
        // Night shift 01:00-05:00 on 2026-10-25: the wall clock shows 02:00-03:00 twice, so the
        // shift is 5 real hours, 23:00Z-04:00Z.
        let c = cal_with("Europe/Berlin", &EVERY_DAY, "01:00", "05:00", &[]);
        let t = utc("2026-10-24T23:00:00Z");
        // Two hours in: 03:00 CEST jumps back, it is 02:00 CET for the second time.
        assert_eq!(
            c.add_business(t, Duration::hours(2)),
            utc("2026-10-25T01:00:00Z")
        );
        let night = c.business_between(utc("2026-10-24T12:00:00Z"), utc("2026-10-25T12:00:00Z"));
        assert_eq!(night, Duration::hours(5));
    }

    #[test]
    fn a_start_the_clock_skips_opens_when_the_clock_jumps() {
        // Sunday 2026-03-29 in Berlin: 02:00 CET is followed by 03:00 CEST at 01:00Z, so the
        // wall clock never shows 02:30; from 01:00Z it shows a time past 02:30.
        let c = cal_with("Europe/Berlin", &EVERY_DAY, "02:30", "04:00", &[]);
        let t = utc("2026-03-29T00:00:00Z");
        assert_eq!(
            c.add_business(t, Duration::zero()),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            c.business_between(t, utc("2026-03-29T12:00:00Z")),
            Duration::hours(1)
        );
    }

    #[test]
    fn an_end_the_clock_skips_closes_when_the_clock_jumps() {
        let c = cal_with("Europe/Berlin", &EVERY_DAY, "01:30", "02:30", &[]);
        // 01:30 CET is 00:30Z; the clock jumps from 02:00 CET to 03:00 CEST at 01:00Z.
        let t = utc("2026-03-29T00:00:00Z");
        assert_eq!(
            c.add_business(t, Duration::zero()),
            utc("2026-03-29T00:30:00Z")
        );
        assert_eq!(
            c.business_between(t, utc("2026-03-29T12:00:00Z")),
            Duration::minutes(30)
        );
    }

    #[test]
    fn a_start_the_clock_shows_twice_counts_only_times_at_or_after_it() {
        // Sunday 2026-10-25 in Berlin: 02:30 CEST (00:30Z) and 02:30 CET (01:30Z). Between
        // 01:00Z and 01:30Z the clock shows 02:00-02:30 again, before the start.
        let c = cal_with("Europe/Berlin", &EVERY_DAY, "02:30", "04:00", &[]);
        let t = utc("2026-10-25T00:00:00Z");
        assert_eq!(
            c.add_business(t, Duration::zero()),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            c.add_business(t, Duration::minutes(30)),
            utc("2026-10-25T01:00:00Z")
        );
        assert_eq!(
            c.add_business(t, Duration::minutes(31)),
            utc("2026-10-25T01:31:00Z")
        );
        assert_eq!(
            c.add_business(utc("2026-10-25T01:10:00Z"), Duration::zero()),
            utc("2026-10-25T01:30:00Z")
        );
        // 30 min in the first pass plus 02:30-04:00 CET.
        assert_eq!(
            c.business_between(t, utc("2026-10-25T12:00:00Z")),
            Duration::minutes(120)
        );
    }

    #[test]
    fn a_two_hour_jump_past_the_end_closes_the_day_at_the_jump() {
        // Antarctica/Troll goes from +00 to +02 at 01:00Z on Sunday 2027-03-28: the clock
        // jumps from 01:00 to 03:00, past the 01:01 end, so that day has one working hour.
        let c = cal_with("Antarctica/Troll", &["sun"], "00:00", "01:01", &[]);
        let t = utc("2027-03-28T00:00:00Z");
        assert_eq!(
            c.add_business(t, Duration::hours(1)),
            utc("2027-03-28T01:00:00Z")
        );
        // The 61st minute is next Sunday's first, 00:00 +02.
        assert_eq!(
            c.add_business(t, Duration::minutes(61)),
            utc("2027-04-03T22:01:00Z")
        );
    }

    #[test]
    fn hours_the_clock_skips_entirely_are_not_worked() {
        // America/Santiago skips 00:00-01:00 on Sunday 2028-09-03 (-04 to -03 at 04:00Z).
        let c = cal_with("America/Santiago", &["sun"], "00:00", "00:01", &[]);
        let t = utc("2028-09-02T12:00:00Z");
        assert_eq!(
            c.business_between(t, utc("2028-09-04T12:00:00Z")),
            Duration::zero()
        );
        assert_eq!(
            c.add_business(t, Duration::zero()),
            utc("2028-09-10T03:00:00Z")
        );
    }

    #[test]
    fn a_monday_holiday_after_the_weekend_moves_the_target_to_tuesday() {
        // Monday 2026-04-06 is Easter Monday.
        let c = cal("Europe/Berlin", &["2026-04-06"]);
        // Friday 2026-04-03 16:00 CEST (14:00Z) + 2h: 1h Friday, 1h Tuesday from 09:00 CEST.
        let d = c.deadline(
            utc("2026-04-03T14:00:00Z"),
            std::time::Duration::from_secs(2 * 3600),
            ClockKind::Business,
        );
        assert_eq!(d, utc("2026-04-07T08:00:00Z"));
        // Saturday noon + 0 waits for Tuesday morning too.
        assert_eq!(
            c.add_business(utc("2026-04-04T10:00:00Z"), Duration::zero()),
            utc("2026-04-07T07:00:00Z")
        );
    }

    #[test]
    fn a_saturday_only_calendar_works_one_day_a_week() {
        let c = cal_with("UTC", &["sat"], "09:00", "17:00", &[]);
        let wed = utc("2026-11-25T12:00:00Z");
        // One business day from Wednesday is the whole of Saturday: it ends at 17:00.
        let d = c.deadline(
            wed,
            std::time::Duration::from_secs(86_400),
            ClockKind::Business,
        );
        assert_eq!(d, utc("2026-11-28T17:00:00Z"));
        // Ten hours: all of Saturday and two hours of the next one.
        assert_eq!(
            c.add_business(wed, Duration::hours(10)),
            utc("2026-12-05T11:00:00Z")
        );
        // Inside Saturday hours the clock simply runs.
        let sat = utc("2026-11-28T10:00:00Z");
        assert_eq!(c.add_business(sat, Duration::zero()), sat);
        assert_eq!(
            c.add_business(sat, Duration::hours(1)),
            utc("2026-11-28T11:00:00Z")
        );
        assert_eq!(
            c.business_between(wed, utc("2026-12-06T00:00:00Z")),
            Duration::hours(16)
        );
    }

    #[test]
    fn zero_at_the_end_of_the_working_day_moves_to_the_next_morning() {
        let c = cal("UTC", &[]);
        // Monday 17:00 is outside [09:00, 17:00).
        assert_eq!(
            c.add_business(utc("2026-11-23T17:00:00Z"), Duration::zero()),
            utc("2026-11-24T09:00:00Z")
        );
        // But a positive amount that uses the day up ends exactly at 17:00.
        assert_eq!(
            c.add_business(utc("2026-11-23T16:00:00Z"), Duration::hours(1)),
            utc("2026-11-23T17:00:00Z")
        );
    }

    #[test]
    fn negative_amounts_count_as_zero() {
        let c = cal("UTC", &[]);
        let t = utc("2026-11-21T12:00:00Z");
        assert_eq!(
            c.add_business(t, Duration::hours(-5)),
            c.add_business(t, Duration::zero())
        );
    }

    #[test]
    fn targets_beyond_the_representable_saturate_instead_of_panicking() {
        let c = cal("Europe/Berlin", &[]);
        let t = utc("2026-11-23T10:00:00Z");
        let huge = std::time::Duration::from_secs(u64::MAX);
        let wall = c.deadline(t, huge, ClockKind::Wall);
        let business = c.deadline(t, huge, ClockKind::Business);
        assert!(wall > t && business > t);
        // Both still render in the business zone (a `DateTime::MAX_UTC` would not).
        let _ = wall.with_timezone(&c.tz()).date_naive();
        let _ = business.with_timezone(&c.tz()).date_naive();
        assert_eq!(
            c.add_business(DateTime::<Utc>::MAX_UTC, Duration::hours(1)),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn long_business_targets_are_not_cut_short() {
        // 1000 working days of Monday-Friday are almost four years: still counted properly.
        let c = cal("UTC", &[]);
        let t = utc("2026-11-23T09:00:00Z");
        let d = c.add_business(t, c.day_length() * 1000);
        assert_eq!(d, utc("2030-09-20T17:00:00Z"));
        assert_eq!(c.business_between(t, d), c.day_length() * 1000);
    }

    // ---- properties --------------------------------------------------------------------

    use proptest::prelude::*;

    use crate::business_time::TEST_ZONES as ZONES;

    /// Local dates of DST changes in 2026-2028 in the zones above.
    const DST_DATES: &[(i32, u32, u32)] = &[
        (2026, 3, 29),
        (2026, 10, 25),
        (2027, 3, 28),
        (2027, 10, 31),
        (2028, 3, 26),
        (2028, 10, 29),
        (2026, 3, 8),
        (2026, 11, 1),
        (2027, 3, 14),
        (2027, 11, 7),
        (2028, 3, 12),
        (2028, 11, 5),
        (2026, 4, 5),
        (2026, 10, 4),
        (2027, 4, 4),
        (2027, 10, 3),
        (2028, 4, 2),
        (2028, 10, 1),
        (2026, 4, 4),
        (2026, 9, 5),
        (2027, 4, 3),
        (2027, 9, 4),
        (2028, 4, 1),
        (2028, 9, 2),
    ];

    const T_2026: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const T_2029: i64 = 1_861_920_000; // 2029-01-01T00:00:00Z

    /// What a generated calendar was built from; `working_at` reads it directly, as the oracle.
    #[derive(Debug, Clone)]
    struct Spec {
        tz: &'static str,
        days: u8,
        start: u32,
        end: u32,
        holidays: Vec<NaiveDate>,
    }

    impl Spec {
        fn calendar(&self) -> BusinessCalendar {
            let minutes = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
            BusinessCalendar::from_config(&CalendarConfig {
                timezone: self.tz.parse().unwrap(),
                working_days: (0..7)
                    .filter(|i| self.days & (1 << i) != 0)
                    .map(|i| WEEK[i])
                    .collect(),
                start: minutes(self.start),
                end: minutes(self.end),
                holidays: self.holidays.clone(),
            })
        }

        /// Does the wall clock at `u` show working hours of a working day?
        fn working_at(&self, u: DateTime<Utc>) -> bool {
            let tz: Tz = self.tz.parse().unwrap();
            let l = u.with_timezone(&tz).naive_local();
            let secs = chrono::Timelike::num_seconds_from_midnight(&l.time());
            self.days & (1 << l.weekday().num_days_from_monday()) != 0
                && !self.holidays.contains(&l.date())
                && secs >= self.start * 60
                && secs < self.end * 60
        }
    }

    fn dst_date(i: usize) -> NaiveDate {
        let (y, m, d) = DST_DATES[i];
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    /// A minute of the day, often in the small hours where the clocks change.
    fn minute_of_day() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..1440, 60u32..200, 0u32..60, 1380u32..1440]
    }

    fn holiday() -> impl Strategy<Value = NaiveDate> {
        prop_oneof![
            (0i64..1_130)
                .prop_map(|n| NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + Duration::days(n)),
            (0..DST_DATES.len(), -3i64..4).prop_map(|(i, n)| dst_date(i) + Duration::days(n)),
        ]
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            0..ZONES.len(),
            1u8..128,
            minute_of_day(),
            minute_of_day(),
            proptest::collection::vec(holiday(), 0..12),
        )
            .prop_map(|(z, days, a, b, holidays)| {
                let (start, end) = match a.cmp(&b) {
                    std::cmp::Ordering::Less => (a, b),
                    std::cmp::Ordering::Greater => (b, a),
                    std::cmp::Ordering::Equal if a < 1439 => (a, a + 1),
                    std::cmp::Ordering::Equal => (a - 1, a),
                };
                Spec {
                    tz: ZONES[z],
                    days,
                    start,
                    end,
                    holidays,
                }
            })
    }

    /// An instant in 2026-2028, often within a few days of a DST change.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        let near = |(i, off): (usize, i64)| {
            let midnight = dst_date(i).and_time(NaiveTime::MIN).and_utc();
            midnight + Duration::seconds(off)
        };
        prop_oneof![
            (T_2026..T_2029).prop_map(at),
            (0..DST_DATES.len(), -2 * 86_400i64..3 * 86_400).prop_map(near),
            // Whole quarter hours hit period boundaries exactly.
            (0..DST_DATES.len(), -2 * 96i64..3 * 96).prop_map(move |(i, q)| near((i, q * 900))),
        ]
    }

    /// A business amount from 0 to 30 working days, as seconds, resolved against a calendar.
    #[derive(Debug, Clone, Copy)]
    enum Amount {
        Zero,
        WholeDays(u32),
        Seconds(u64),
    }

    impl Amount {
        fn of(self, c: &BusinessCalendar) -> Duration {
            let day = c.day_length().num_seconds() as u64;
            match self {
                Amount::Zero => Duration::zero(),
                Amount::WholeDays(n) => c.day_length() * (n % 31) as i32,
                Amount::Seconds(s) => Duration::seconds((s % (30 * day + 1)) as i64),
            }
        }
    }

    fn amount() -> impl Strategy<Value = Amount> {
        prop_oneof![
            1 => Just(Amount::Zero),
            2 => any::<u32>().prop_map(Amount::WholeDays),
            5 => any::<u64>().prop_map(Amount::Seconds),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn business_between_inverts_add_business(spec in spec(), t in instant(), a in amount()) {
            let c = spec.calendar();
            let d = a.of(&c);
            let r = c.add_business(t, d);
            prop_assert!(r >= t);
            prop_assert_eq!(c.business_between(t, r), d, "t={} r={}", t, r);
        }

        #[test]
        fn add_business_is_monotonic(spec in spec(), t in instant(), a in amount(), b in amount()) {
            let c = spec.calendar();
            let (d1, d2) = (a.of(&c), b.of(&c));
            let (lo, hi) = (d1.min(d2), d1.max(d2));
            prop_assert!(c.add_business(t, lo) <= c.add_business(t, hi));
        }

        #[test]
        fn adding_zero_finds_the_next_working_instant(spec in spec(), t in instant()) {
            let c = spec.calendar();
            let r = c.add_business(t, Duration::zero());
            prop_assert!(r >= t);
            prop_assert!(spec.working_at(r), "r={} is not working time", r);
            if spec.working_at(t) {
                prop_assert_eq!(r, t);
            }
            prop_assert_eq!(c.business_between(t, r), Duration::zero());
            // Nothing in between is working time: the second before, and a sample.
            if r > t {
                prop_assert!(!spec.working_at(r - Duration::seconds(1)));
                let span = (r - t).num_seconds();
                for k in 0..50 {
                    let u = t + Duration::seconds(span * k / 50);
                    prop_assert!(!spec.working_at(u), "{} is working time before {}", u, r);
                }
            }
        }

        #[test]
        fn positive_results_lie_in_working_hours(spec in spec(), t in instant(), a in amount()) {
            let c = spec.calendar();
            let d = a.of(&c);
            prop_assume!(d > Duration::zero());
            let r = c.add_business(t, d);
            // Inside working hours, or at the end of a working period: the second before works.
            prop_assert!(
                spec.working_at(r) || spec.working_at(r - Duration::seconds(1)),
                "r={} local {}", r, r.with_timezone(&c.tz())
            );
        }

        #[test]
        fn business_between_is_additive(spec in spec(), a in instant(), b in instant(), x in instant()) {
            let c = spec.calendar();
            let mut v = [a, b, x];
            v.sort();
            let [a, b, x] = v;
            prop_assert_eq!(
                c.business_between(a, b) + c.business_between(b, x),
                c.business_between(a, x)
            );
            prop_assert_eq!(c.business_between(b, a), Duration::zero());
            prop_assert_eq!(c.business_between(x, a), Duration::zero());
        }

        #[test]
        fn wall_deadlines_are_plain_addition(spec in spec(), t in instant(), secs in 0u64..400 * 86_400, nanos in 0u32..1_000_000_000) {
            let c = spec.calendar();
            let d = std::time::Duration::new(secs, nanos);
            prop_assert_eq!(c.deadline(t, d, ClockKind::Wall), t + Duration::from_std(d).unwrap());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Minute by minute over a DST change day, business time is exactly the wall clock's
        /// working minutes.
        #[test]
        fn business_time_is_the_wall_clocks_working_time_on_dst_days(spec in spec(), i in 0..DST_DATES.len()) {
            let c = spec.calendar();
            let t0 = dst_date(i).and_time(NaiveTime::MIN).and_utc() - Duration::hours(16);
            for k in 0..(56 * 60) {
                let u = t0 + Duration::minutes(k);
                let expect = if spec.working_at(u) { Duration::minutes(1) } else { Duration::zero() };
                prop_assert_eq!(c.business_between(u, u + Duration::minutes(1)), expect, "at {} ({})", u, u.with_timezone(&c.tz()));
            }
        }

        #[test]
        fn nothing_panics(
            zone in 0..chrono_tz::TZ_VARIANTS.len(),
            days in proptest::collection::vec(0..7usize, 0..8),
            start in 0..24 * 60u32,
            end in 0..24 * 60u32,
            holidays in proptest::collection::vec(1..=3_652_059i32, 0..4),
            t in prop_oneof![
                Just(DateTime::<Utc>::MIN_UTC),
                Just(DateTime::<Utc>::MAX_UTC),
                (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp()).prop_map(at),
                (T_2026..T_2029).prop_map(at),
            ],
            u in prop_oneof![
                Just(DateTime::<Utc>::MIN_UTC),
                Just(DateTime::<Utc>::MAX_UTC),
                (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp()).prop_map(at),
                (T_2026..T_2029).prop_map(at),
            ],
            ms in any::<i64>(),
            target in any::<u64>(),
        ) {
            // Any calendar the config can hold, checked or not: no working day, an end not
            // after the start, holidays from year 1 to 9999.
            let minutes = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
            let c = BusinessCalendar::from_config(&CalendarConfig {
                timezone: chrono_tz::TZ_VARIANTS[zone],
                working_days: days.into_iter().map(|i| WEEK[i]).collect(),
                start: minutes(start),
                end: minutes(end),
                holidays: holidays.into_iter().filter_map(NaiveDate::from_num_days_from_ce_opt).collect(),
            });
            let _ = c.day_length();
            let d = Duration::try_milliseconds(ms).unwrap_or(Duration::MAX);
            let _ = c.add_business(t, d);
            let _ = c.add_business(t, Duration::zero());
            let _ = c.business_between(t, u);
            let _ = c.business_between(u, t);
            for kind in [ClockKind::Wall, ClockKind::Business] {
                let _ = c.deadline(t, std::time::Duration::from_secs(target), kind);
                let _ = c.deadline(t, std::time::Duration::from_millis(target % 100_000_000_000), kind);
            }
        }
    }
}
