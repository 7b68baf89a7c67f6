//! Local wall-clock ranges as UTC instants, exactly, across DST gaps and folds.
//!
//! `chrono-tz` answers "which instants show this wall time?" with `None` when the clock skips
//! it and `Ambiguous` when it shows it twice. Schedules need a different question answered:
//! "which instants show a wall time in `[from, to)`?" Guessing an instant for each bound (the
//! first of two, an hour later for a skipped one) gets that set wrong around the change, so
//! [`spans`] computes it from the UTC offsets in force instead. Business hours
//! ([`super::BusinessCalendar`]) and the customer send window ([`super::window::SendWindow`])
//! both build on it, so "is the clock inside the hours?" and "how much time is inside the
//! hours?" can never disagree.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// A half-open stretch of instants, `[start, end)`.
pub(crate) type Span = (DateTime<Utc>, DateTime<Utc>);

/// Bound on any UTC offset in tzdata (historic local mean times reach 15:56), in seconds:
/// every instant showing a given wall time lies within this distance of it.
const MAX_OFFSET: i64 = 16 * 3600;

/// Offsets are probed this far apart when looking for a DST change. Two changes closer than
/// this would look like none; tzdata has no such pair (changes are months apart).
const PROBE: i64 = 3 * 3600;

/// What the wall clock in `tz` shows at `t`; `None` at the very ends of chrono's range, where
/// that is not representable (`with_timezone(..).naive_local()` panics there).
pub(crate) fn wall_clock(tz: Tz, t: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = t.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
}

/// The local date the wall clock in `tz` shows at `t`; at the very ends of chrono's range,
/// where that is not representable, the UTC date.
pub(crate) fn local_date(tz: Tz, t: DateTime<Utc>) -> NaiveDate {
    wall_clock(tz, t).unwrap_or(t.naive_utc()).date()
}

/// The instants whose wall clock in `tz` shows a local date-time in `[from, to)`, in order,
/// as disjoint spans.
///
/// Usually one span. A bound the clock skips takes effect when the clock jumps past it (from
/// then on it shows a later time); an hour shown twice is in the set twice when it lies inside
/// the range. When the clock turns back from inside the range to before `from` (or from after
/// `to` to inside it) the set has a hole, and there are two spans. A range the clock skips
/// entirely gives none, as does `from >= to`.
pub(crate) fn spans(tz: Tz, from: NaiveDateTime, to: NaiveDateTime) -> Vec<Span> {
    if from >= to {
        return Vec::new();
    }
    if let (LocalResult::Single(a), LocalResult::Single(b)) =
        (tz.from_local_datetime(&from), tz.from_local_datetime(&to))
    {
        // Neither bound is skipped or repeated, so a DST change in between moves the clock
        // only within the range (a jump past `to` would skip `to`, a turn back before `from`
        // would repeat it): the set is one span.
        let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
        return if a < b { vec![(a, b)] } else { Vec::new() };
    }
    // Around a DST change: where the offset is `o`, the instants showing `[from, to)` are
    // `[from - o, to - o)`; take that within each stretch of constant offset.
    let lo = from.and_utc().timestamp().saturating_sub(MAX_OFFSET);
    let hi = to.and_utc().timestamp().saturating_add(MAX_OFFSET + 1);
    let mut out: Vec<Span> = Vec::new();
    for (p0, p1, o) in constant_offsets(tz, lo, hi) {
        let shift = Duration::seconds(o);
        // Out of chrono's range means before (after) everything in the stretch.
        let a = from
            .and_utc()
            .checked_sub_signed(shift)
            .map_or(p0, |x| x.max(p0));
        let b = to
            .and_utc()
            .checked_sub_signed(shift)
            .map_or(p1, |x| x.min(p1));
        if a < b {
            match out.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => out.push((a, b)),
            }
        }
    }
    out
}

/// `[lo, hi)` (Unix seconds, clamped to chrono's range) cut where the UTC offset of `tz`
/// changes: `(start, end, offset in seconds)` per piece.
fn constant_offsets(tz: Tz, lo: i64, hi: i64) -> Vec<(DateTime<Utc>, DateTime<Utc>, i64)> {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    let (lo, hi) = (lo.clamp(min, max), hi.clamp(min, max));
    let mut out = Vec::new();
    let mut start = lo;
    let mut offset = offset_at(tz, lo);
    let mut probe = lo;
    while probe < hi {
        let next = probe.saturating_add(PROBE).min(hi);
        if offset_at(tz, next) == offset {
            probe = next;
            continue;
        }
        // The first second of (probe, next] with another offset: offsets change on whole seconds.
        let (mut l, mut r) = (probe, next);
        while r - l > 1 {
            let m = l + (r - l) / 2;
            if offset_at(tz, m) == offset {
                l = m;
            } else {
                r = m;
            }
        }
        out.push((instant(start), instant(r), offset));
        start = r;
        offset = offset_at(tz, r);
        probe = r;
    }
    out.push((instant(start), instant(hi), offset));
    out
}

/// The UTC offset of `tz` at Unix second `ts` (in range), in seconds.
fn offset_at(tz: Tz, ts: i64) -> i64 {
    let utc = instant(ts).naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// Unix second `ts` as an instant; callers keep it within chrono's range.
fn instant(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or(if ts < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_ordinary_range_is_one_span() {
        let got = spans(
            chrono_tz::Europe::Berlin,
            local("2026-07-01 09:00"),
            local("2026-07-01 17:00"),
        );
        assert_eq!(
            got,
            vec![(utc("2026-07-01T07:00:00Z"), utc("2026-07-01T15:00:00Z"))]
        );
    }

    #[test]
    fn skipped_bounds_take_effect_when_the_clock_jumps() {
        // 2026-03-29: 02:00 CET is followed by 03:00 CEST at 01:00Z.
        let tz = chrono_tz::Europe::Berlin;
        let got = spans(tz, local("2026-03-29 02:30"), local("2026-03-29 04:00"));
        assert_eq!(
            got,
            vec![(utc("2026-03-29T01:00:00Z"), utc("2026-03-29T02:00:00Z"))]
        );
        let got = spans(tz, local("2026-03-29 01:00"), local("2026-03-29 02:30"));
        assert_eq!(
            got,
            vec![(utc("2026-03-29T00:00:00Z"), utc("2026-03-29T01:00:00Z"))]
        );
        assert!(spans(tz, local("2026-03-29 02:10"), local("2026-03-29 02:50")).is_empty());
    }

    #[test]
    fn a_repeated_bound_leaves_a_hole() {
        // 2026-10-25: 03:00 CEST turns back to 02:00 CET at 01:00Z.
        let tz = chrono_tz::Europe::Berlin;
        let got = spans(tz, local("2026-10-25 02:30"), local("2026-10-25 04:00"));
        assert_eq!(
            got,
            vec![
                (utc("2026-10-25T00:30:00Z"), utc("2026-10-25T01:00:00Z")),
                (utc("2026-10-25T01:30:00Z"), utc("2026-10-25T03:00:00Z")),
            ]
        );
        let got = spans(tz, local("2026-10-25 01:00"), local("2026-10-25 02:30"));
        assert_eq!(
            got,
            vec![
                (utc("2026-10-24T23:00:00Z"), utc("2026-10-25T00:30:00Z")),
                (utc("2026-10-25T01:00:00Z"), utc("2026-10-25T01:30:00Z")),
            ]
        );
        // A range around the repeated hour has it twice, in one span.
        let got = spans(tz, local("2026-10-25 01:00"), local("2026-10-25 05:00"));
        assert_eq!(
            got,
            vec![(utc("2026-10-24T23:00:00Z"), utc("2026-10-25T04:00:00Z"))]
        );
    }

    #[test]
    fn extreme_dates_do_not_panic() {
        let tz = chrono_tz::Australia::Sydney;
        let (lo, hi) = (NaiveDate::MIN, NaiveDate::MAX);
        let _ = spans(
            tz,
            lo.and_time(NaiveTime::MIN),
            lo.and_hms_opt(23, 0, 0).unwrap(),
        );
        let _ = spans(
            tz,
            hi.and_time(NaiveTime::MIN),
            hi.and_hms_opt(23, 0, 0).unwrap(),
        );
        let _ = local_date(tz, DateTime::<Utc>::MAX_UTC);
        let _ = local_date(chrono_tz::America::New_York, DateTime::<Utc>::MIN_UTC);
    }
}
