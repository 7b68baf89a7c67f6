//! How times, sizes and durations read in mail.

use chrono::{DateTime, Utc};

use crate::business_time::calendar::weekday_name;
use crate::business_time::BusinessCalendar;

/// The due time as the customer reads it, in the business time zone.
pub fn format_local(t: DateTime<Utc>, cal: &BusinessCalendar) -> String {
    use chrono::Datelike;
    let l = t.with_timezone(&cal.tz());
    format!(
        "{} {}, {}",
        weekday_name(l.weekday()),
        l.format("%-d %B %Y"),
        l.format("%H:%M %Z")
    )
}

/// The first lines of a complaint, for the acknowledgment's summary.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max_chars {
        return one;
    }
    let cut: String = one.chars().take(max_chars).collect();
    match cut.rfind(' ') {
        Some(p) if p > max_chars / 2 => format!("{}...", &cut[..p]),
        _ => format!("{cut}..."),
    }
}

/// "14 days", "2 hours", "30 minutes".
pub fn human_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 86_400 && s % 86_400 == 0 {
        (s / 86_400, "day")
    } else if s >= 3600 && s % 3600 == 0 {
        (s / 3600, "hour")
    } else {
        (s.div_ceil(60), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// "980 bytes", "12 KB", "3.4 MB".
pub fn human_size(n: usize) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else if n < 1024 * 1024 {
        format!("{} KB", n.div_ceil(1024))
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_at_a_word() {
        assert_eq!(excerpt("short  text\n here", 300), "short text here");
        let long = "word ".repeat(100);
        let e = excerpt(&long, 50);
        assert!(e.ends_with("...") && e.len() <= 53, "{e}");
    }

    #[test]
    fn durations_and_sizes_read_naturally() {
        use std::time::Duration as D;
        assert_eq!(human_duration(D::from_secs(14 * 86_400)), "14 days");
        assert_eq!(human_duration(D::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(D::from_secs(90)), "2 minutes");
        assert_eq!(human_size(980), "980 bytes");
        assert_eq!(human_size(12 * 1024), "12 KB");
        assert_eq!(human_size(3_565_158), "3.4 MB");
    }
}
