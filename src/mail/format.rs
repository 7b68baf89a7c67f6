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

/// The start of a complaint, for the acknowledgment's summary: its words on one line, at
/// most `max_chars`, cut after the last whole sentence that fits (when that keeps at least
/// half) or else at a word, with "..." where text was cut. `text` should be the reply text
/// (no quote, no signature): the summary repeats what the customer wrote, not their name.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max_chars {
        return one;
    }
    let cut: String = one.chars().take(max_chars).collect();
    // A sentence ends at `.`, `!` or `?` before a space (the cut text's next word).
    let sentence = cut
        .match_indices(". ")
        .chain(cut.match_indices("! "))
        .chain(cut.match_indices("? "))
        .map(|(i, _)| i + 1)
        .max();
    if let Some(p) = sentence.filter(|p| *p > cut.len() / 2) {
        return format!("{} ...", &cut[..p]);
    }
    match cut.rfind(' ') {
        Some(p) if p > cut.len() / 2 => format!("{}...", &cut[..p]),
        _ => format!("{cut}..."),
    }
}

/// `text` broken into lines of at most `width` characters at spaces (a longer word gets a
/// line of its own), for quoting in a text part.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
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
    fn a_long_excerpt_ends_at_a_sentence_and_wraps_within_the_width() {
        let text = "My order 4711 arrived broken. The box was crushed on one side and the \
                    glass inside is cracked in three places! I need a replacement before the \
                    weekend, because it is a present for my mother who turns seventy on \
                    Sunday and we planned the whole party around it. Please tell me what \
                    to do next and whether I should send the broken one back to you first.";
        let e = excerpt(text, 300);
        assert!(e.ends_with("party around it. ..."), "{e}");
        assert!(e.chars().count() <= 304, "{e}");
        let lines = wrap(&e, 68);
        assert!(lines.len() >= 4, "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 68), "{lines:?}");
        assert_eq!(lines.join(" "), e);
        // No sentence end in the second half: cut at a word.
        let words = "word ".repeat(100);
        assert!(excerpt(&words, 50).ends_with("word..."));
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
