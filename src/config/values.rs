//! Values as written in the file: durations, sizes, times of day, weekdays, addresses.

use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// A duration written as `90s`, `10m`, `2h`, `1d`, `1w` or combinations like `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Parses the human form; a bare number is rejected because its unit would be a guess.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty duration".into());
        }
        // Milliseconds, so that `100ms` is as valid as `10m`.
        let mut total: u64 = 0;
        let mut chars = s.chars().filter(|c| !c.is_whitespace()).peekable();
        let mut saw_unit = false;
        while chars.peek().is_some() {
            let num: String =
                std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_digit())).collect();
            let unit: String =
                std::iter::from_fn(|| chars.next_if(|c| !c.is_ascii_digit())).collect();
            if unit.is_empty() {
                return Err(format!(
                    "`{s}` needs a unit: ms, s, m, h, d or w (e.g. 30s, 10m, 2h, 1d)"
                ));
            }
            let n: u64 = num
                .parse()
                .map_err(|_| format!("`{s}` is not a duration like 30s, 10m, 2h, 1d"))?;
            let mult: u64 = match unit.as_str() {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "w" => 7 * 86_400_000,
                _ => {
                    return Err(format!(
                        "`{s}`: unknown unit `{unit}` (use ms, s, m, h, d, w)"
                    ))
                }
            };
            total = n
                .checked_mul(mult)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("`{s}` is too large"))?;
            saw_unit = true;
        }
        if !saw_unit {
            return Err(format!(
                "`{s}` needs a unit: ms, s, m, h, d or w (e.g. 30s, 10m, 2h, 1d)"
            ));
        }
        Ok(HumanDuration(Duration::from_millis(total)))
    }

    /// The longest duration [`HumanDuration::chrono`] gives: a thousand years of 365 days.
    /// Every duration a config sensibly holds is shorter and converts exactly; a longer one
    /// means "never" and saturates here, so adding it to a date cannot overflow.
    pub const CHRONO_MAX: chrono::Duration = chrono::Duration::days(365 * 1000);

    /// This duration for date arithmetic, exact up to [`HumanDuration::CHRONO_MAX`] and
    /// saturating there.
    pub fn chrono(&self) -> chrono::Duration {
        self.try_chrono()
            .map_or(Self::CHRONO_MAX, |d| d.min(Self::CHRONO_MAX))
    }

    /// This duration for date arithmetic, or `None` when chrono cannot hold it (beyond
    /// about 292 million years): for a span typed on the command line, where too long is
    /// an error rather than "never".
    pub fn try_chrono(&self) -> Option<chrono::Duration> {
        chrono::Duration::from_std(self.0).ok()
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        HumanDuration::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A size written as `512KB`, `25MB`, `1GB` or a plain number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => {
                let t = s.trim().to_ascii_uppercase();
                let (num, mult) = if let Some(n) = t.strip_suffix("GB") {
                    (n, 1u64 << 30)
                } else if let Some(n) = t.strip_suffix("MB") {
                    (n, 1 << 20)
                } else if let Some(n) = t.strip_suffix("KB") {
                    (n, 1 << 10)
                } else if let Some(n) = t.strip_suffix('B') {
                    (n, 1)
                } else {
                    (t.as_str(), 1)
                };
                num.trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(mult))
                    .map(ByteSize)
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("`{s}` is not a size like 25MB or 512KB"))
                    })
            }
        }
    }
}

/// Parses a weekday name as written in config (`mon`, `monday`, case-insensitive).
pub(super) fn parse_weekday(s: &str) -> Option<Weekday> {
    s.trim().parse::<Weekday>().ok()
}

/// Parses `HH:MM`.
pub(super) fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// Parses an IANA time zone name such as `Europe/Berlin`.
pub(super) fn parse_timezone(s: &str) -> Option<Tz> {
    s.parse::<Tz>().ok()
}

/// Parses a date `YYYY-MM-DD`.
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// True when `host` names the loopback interface (where plain text is acceptable).
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Splits an address into (local, domain), rejecting what is clearly not an address.
pub fn split_address(addr: &str) -> Option<(&str, &str)> {
    let (l, d) = addr.rsplit_once('@')?;
    if l.is_empty() || d.is_empty() || d.contains('@') || addr.chars().any(char::is_whitespace) {
        return None;
    }
    Some((l, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_convert_exactly_and_saturate_at_a_thousand_years() {
        let h = |s: &str| HumanDuration::parse(s).unwrap();
        assert_eq!(h("10m").chrono(), chrono::Duration::minutes(10));
        assert_eq!(h("1h30m").chrono(), chrono::Duration::seconds(5400));
        assert_eq!(h("100ms").chrono(), chrono::Duration::milliseconds(100));
        assert_eq!(h("14d").chrono(), chrono::Duration::days(14));
        assert_eq!(h("52000w").chrono(), chrono::Duration::weeks(52_000));
        assert_eq!(h("52200w").chrono(), HumanDuration::CHRONO_MAX);
        // Beyond what chrono can hold at all: still the bound, never a panic.
        let huge = HumanDuration(Duration::from_millis(u64::MAX));
        assert_eq!(huge.try_chrono(), None);
        assert_eq!(huge.chrono(), HumanDuration::CHRONO_MAX);
        assert_eq!(
            h("52200w").try_chrono(),
            Some(chrono::Duration::weeks(52_200))
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            HumanDuration::parse("1h30m").unwrap().0,
            Duration::from_secs(5400)
        );
        assert_eq!(HumanDuration::parse("2d").unwrap().0.as_secs(), 172_800);
        assert!(HumanDuration::parse("10").is_err());
        assert!(HumanDuration::parse("").is_err());
        assert!(HumanDuration::parse("5y").is_err());
        assert_eq!(
            HumanDuration::parse("100ms").unwrap().0,
            Duration::from_millis(100)
        );
        assert_eq!(
            HumanDuration::parse("1s 500ms").unwrap().0,
            Duration::from_millis(1500)
        );
        assert!(HumanDuration::parse("5 mss").is_err());
        assert!(HumanDuration::parse("5s10").is_err());
    }
}
