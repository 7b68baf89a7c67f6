//! The customer send window: when scheduled mail may reach customers.
//!
//! Support works business hours, but reminders and follow-ups go to people at home: they
//! should arrive at a civil hour of the customer-facing day (say 08:00-20:00, weekends
//! included), which is a different rule from the business calendar's. The window is read off
//! the wall clock in the business time zone, with the same DST handling as business hours
//! (both use `business_time::local::spans`).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::local;

/// How far ahead `next_open` looks. A window with at least one day opens every week, except
/// when a DST change skips its whole opening on its only day; then it opens a week later.
const HORIZON_DAYS: u32 = 400;

/// When customers may receive scheduled mail: local hours on given weekdays, in the business
/// time zone.
///
/// The window is open at an instant when the wall clock shows one of `days` and a time in
/// `[start, end)`. An `end` at or before `start` makes the window run past midnight: 22:00-06:00
/// on Friday opens Friday 22:00 and closes Saturday 06:00, and equal times give 24 hours from
/// `start`. Across DST changes the window is what the wall clock shows: an opening time the
/// clock skips opens when it jumps, an hour shown twice inside the window is open twice.
///
/// A window with no days could never open. It is treated as no restriction (always open):
/// holding customer mail forever over a configuration slip would be worse than sending it, and
/// configuration validation is where an empty list should be refused.
#[derive(Debug, Clone)]
pub struct SendWindow {
    tz: Tz,
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
}

impl SendWindow {
    /// A window open from `start` to `end` local time on each of `days` in `tz`. A leap-second
    /// time (`23:59:60`) is read as the second before: wall clocks in `tz` never show one.
    pub fn new(tz: Tz, days: Vec<Weekday>, start: NaiveTime, end: NaiveTime) -> SendWindow {
        let mut set = [false; 7];
        for d in days {
            set[d.num_days_from_monday() as usize] = true;
        }
        SendWindow {
            tz,
            days: set,
            start: without_leap_second(start),
            end: without_leap_second(end),
        }
    }

    fn unrestricted(&self) -> bool {
        !self.days.contains(&true)
    }

    fn opens_on(&self, w: Weekday) -> bool {
        self.days[w.num_days_from_monday() as usize]
    }

    /// True when the wall clock at `t` shows a time inside the window. At the very ends of
    /// chrono's range (±262,000 years), where the local time is not representable, false.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        if self.unrestricted() {
            return true;
        }
        let Some(clock) = local::wall_clock(self.tz, t) else {
            return false;
        };
        let (day, time) = (clock.weekday(), clock.time());
        if self.start < self.end {
            self.opens_on(day) && self.start <= time && time < self.end
        } else {
            // Past midnight: the evening part belongs to today, the morning part to yesterday.
            (self.opens_on(day) && self.start <= time)
                || (self.opens_on(day.pred()) && time < self.end)
        }
    }

    /// `t` itself when it lies inside the window, else the next instant the window opens.
    /// Never earlier than `t`. Beyond the last opening chrono can represent, `t`.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(t) {
            return t;
        }
        // From the day before: an opening that runs past midnight may still cover `t`.
        let mut day = local::local_date(self.tz, t);
        day = day.pred_opt().unwrap_or(day);
        for _ in 0..HORIZON_DAYS {
            if let Some((open, _)) = self.openings(day).into_iter().find(|&(_, end)| end > t) {
                return open.max(t);
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        t
    }

    /// The stretches the window is open for the opening on local date `d`, in order.
    fn openings(&self, d: NaiveDate) -> Vec<local::Span> {
        if !self.opens_on(d.weekday()) {
            return Vec::new();
        }
        let close = if self.start < self.end {
            Some(d)
        } else {
            d.succ_opt()
        };
        match close {
            Some(c) => local::spans(self.tz, d.and_time(self.start), c.and_time(self.end)),
            None => Vec::new(),
        }
    }
}

/// `t` with a leap second (nanoseconds past 1e9) moved back into its ordinary second.
fn without_leap_second(t: NaiveTime) -> NaiveTime {
    NaiveTime::from_num_seconds_from_midnight_opt(
        t.num_seconds_from_midnight(),
        t.nanosecond() % 1_000_000_000,
    )
    .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    fn berlin_daytime() -> SendWindow {
        SendWindow::new(chrono_tz::Europe::Berlin, ALL.to_vec(), hm(8, 0), hm(20, 0))
    }

    #[test]
    fn inside_the_window_mail_goes_now() {
        let w = berlin_daytime();
        // 12:00 CET.
        let t = utc("2026-11-25T11:00:00Z");
        assert!(w.is_open(t));
        assert_eq!(w.next_open(t), t);
        // The opening minute is inside.
        let t = utc("2026-11-25T07:00:00Z");
        assert!(w.is_open(t));
        assert_eq!(w.next_open(t), t);
    }

    #[test]
    fn in_the_evening_mail_waits_for_the_morning() {
        let w = berlin_daytime();
        // 20:00 CET closes the window.
        let t = utc("2026-11-25T19:00:00Z");
        assert!(!w.is_open(t));
        assert_eq!(w.next_open(t), utc("2026-11-26T07:00:00Z"));
        // 03:00 CET waits for 08:00 the same day.
        assert_eq!(
            w.next_open(utc("2026-11-26T02:00:00Z")),
            utc("2026-11-26T07:00:00Z")
        );
    }

    #[test]
    fn closed_days_are_skipped() {
        let weekdays = ALL[..5].to_vec();
        let w = SendWindow::new(chrono_tz::Europe::Berlin, weekdays, hm(8, 0), hm(20, 0));
        // Saturday 2026-11-28 noon waits for Monday 08:00 CET.
        let t = utc("2026-11-28T11:00:00Z");
        assert!(!w.is_open(t));
        assert_eq!(w.next_open(t), utc("2026-11-30T07:00:00Z"));
    }

    #[test]
    fn the_window_follows_local_time_across_dst() {
        let w = berlin_daytime();
        // Sunday 2026-03-29: opens at 08:00 CEST = 06:00Z, the night before closed at 19:00Z.
        assert_eq!(
            w.next_open(utc("2026-03-28T20:00:00Z")),
            utc("2026-03-29T06:00:00Z")
        );
        // Sunday 2026-10-25: opens at 08:00 CET = 07:00Z.
        assert_eq!(
            w.next_open(utc("2026-10-24T20:00:00Z")),
            utc("2026-10-25T07:00:00Z")
        );
        // Sydney, first Sunday of October 2026: 08:00 AEDT = 21:00Z the day before.
        let w = SendWindow::new(
            chrono_tz::Australia::Sydney,
            ALL.to_vec(),
            hm(8, 0),
            hm(20, 0),
        );
        assert_eq!(
            w.next_open(utc("2026-10-03T12:00:00Z")),
            utc("2026-10-03T21:00:00Z")
        );
    }

    #[test]
    fn an_opening_the_clock_skips_opens_when_it_jumps() {
        // 2026-03-29 in Berlin: 02:00 CET is followed by 03:00 CEST at 01:00Z.
        let w = SendWindow::new(
            chrono_tz::Europe::Berlin,
            vec![Weekday::Sun],
            hm(2, 30),
            hm(4, 0),
        );
        let t = utc("2026-03-29T00:00:00Z");
        assert_eq!(w.next_open(t), utc("2026-03-29T01:00:00Z"));
        assert!(w.is_open(utc("2026-03-29T01:00:00Z")));
        assert!(!w.is_open(utc("2026-03-29T00:59:59Z")));
    }

    #[test]
    fn an_opening_the_clock_shows_twice_opens_at_each() {
        // 2026-10-25 in Berlin: 03:00 CEST turns back to 02:00 CET at 01:00Z.
        let w = SendWindow::new(
            chrono_tz::Europe::Berlin,
            vec![Weekday::Sun],
            hm(2, 30),
            hm(4, 0),
        );
        assert_eq!(
            w.next_open(utc("2026-10-25T00:00:00Z")),
            utc("2026-10-25T00:30:00Z")
        );
        // 02:10 CET, the second time round: closed again until 02:30 CET.
        let t = utc("2026-10-25T01:10:00Z");
        assert!(!w.is_open(t));
        assert_eq!(w.next_open(t), utc("2026-10-25T01:30:00Z"));
    }

    #[test]
    fn a_window_past_midnight_runs_into_the_next_day() {
        let w = SendWindow::new(chrono_tz::UTC, vec![Weekday::Fri], hm(22, 0), hm(6, 0));
        // Saturday 03:00 belongs to Friday's opening.
        assert!(w.is_open(utc("2026-11-28T03:00:00Z")));
        assert!(!w.is_open(utc("2026-11-28T06:00:00Z")));
        assert!(!w.is_open(utc("2026-11-27T03:00:00Z")));
        assert_eq!(
            w.next_open(utc("2026-11-28T07:00:00Z")),
            utc("2026-12-04T22:00:00Z")
        );
        // Equal times: 24 hours from the start.
        let w = SendWindow::new(chrono_tz::UTC, vec![Weekday::Fri], hm(9, 0), hm(9, 0));
        assert!(w.is_open(utc("2026-11-28T08:59:59Z")));
        assert!(!w.is_open(utc("2026-11-28T09:00:00Z")));
    }

    #[test]
    fn a_window_without_days_does_not_hold_mail() {
        let w = SendWindow::new(chrono_tz::Europe::Berlin, vec![], hm(8, 0), hm(20, 0));
        let t = utc("2026-11-25T23:00:00Z");
        assert!(w.is_open(t));
        assert_eq!(w.next_open(t), t);
    }

    // ---- properties --------------------------------------------------------------------

    use crate::business_time::TEST_ZONES as ZONES;

    const T_2026: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
    const T_2029: i64 = 1_861_920_000; // 2029-01-01T00:00:00Z

    fn at(ts: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(ts, 0).unwrap()
    }

    /// Seconds of the day, often in the small hours where clocks change, often whole minutes.
    fn time_of_day() -> impl Strategy<Value = NaiveTime> {
        prop_oneof![
            (0u32..1440).prop_map(|m| m * 60),
            (60u32..200).prop_map(|m| m * 60),
            0u32..86_400,
        ]
        .prop_map(|s| NaiveTime::from_num_seconds_from_midnight_opt(s, 0).unwrap())
    }

    fn window() -> impl Strategy<Value = SendWindow> {
        (0..ZONES.len(), 1u8..128, time_of_day(), time_of_day()).prop_map(|(z, mask, a, b)| {
            let days = ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, d)| *d)
                .collect();
            SendWindow::new(ZONES[z].parse().unwrap(), days, a, b)
        })
    }

    /// An instant in 2026-2028; every third one in the weeks of March, April, September,
    /// October and November when clocks change somewhere.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            2 => (T_2026..T_2029).prop_map(at),
            1 => (0i64..3, prop::sample::select(vec![3u32, 4, 9, 10, 11]), 0i64..31 * 86_400)
                .prop_map(|(y, m, s)| {
                    let first = NaiveDate::from_ymd_opt(2026 + y as i32, m, 1).unwrap();
                    first.and_time(NaiveTime::MIN).and_utc() + Duration::seconds(s)
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn next_open_is_the_first_open_instant(w in window(), t in instant(), probes in prop::collection::vec(0.0f64..1.0, 40)) {
            let n = w.next_open(t);
            prop_assert!(n >= t);
            prop_assert!(w.is_open(n), "{:?}: next_open({}) = {} is closed", w, t, n);
            if w.is_open(t) {
                prop_assert_eq!(n, t);
            }
            if n > t {
                prop_assert!(!w.is_open(n - Duration::seconds(1)), "{:?}: open just before {}", w, n);
                let span = (n - t).num_seconds();
                let evenly = (0..60).map(|k| span * k / 60);
                let randomly = probes.iter().map(|p| (span as f64 * p) as i64);
                for s in evenly.chain(randomly) {
                    let u = t + Duration::seconds(s);
                    prop_assert!(u >= n || !w.is_open(u), "{:?}: {} is open before {}", w, u, n);
                }
            }
        }

        #[test]
        fn window_never_panics(
            zone in 0..chrono_tz::TZ_VARIANTS.len(),
            mask in any::<u8>(),
            a in (0u32..86_400, 0u32..2_000_000_000),
            b in (0u32..86_400, 0u32..2_000_000_000),
            t in prop_oneof![
                Just(DateTime::<Utc>::MIN_UTC),
                Just(DateTime::<Utc>::MAX_UTC),
                (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp()).prop_map(at),
            ],
        ) {
            let days = ALL.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, d)| *d).collect();
            let time = |(s, n): (u32, u32)| {
                NaiveTime::from_num_seconds_from_midnight_opt(s, n).unwrap_or(NaiveTime::MIN)
            };
            let w = SendWindow::new(chrono_tz::TZ_VARIANTS[zone], days, time(a), time(b));
            let n = w.next_open(t);
            prop_assert!(n >= t);
            let _ = w.is_open(t);
        }
    }
}
