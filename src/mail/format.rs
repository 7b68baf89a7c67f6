//! How times, sizes and durations read in mail.

use chrono::{DateTime, Utc};

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

/// An excerpt of `text` (as [`excerpt`] made it, on one line) with the line breaks `text`
/// had between its words put back, for the HTML part's quote: a greeting, the message and
/// a name stay on lines of their own. Blank lines become one break.
pub fn with_line_breaks(flat: &str, text: &str) -> String {
    // The whitespace before each word of `text`: does it hold a line break?
    let mut breaks = Vec::new();
    let mut newline = false;
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() {
            newline |= c == '\n';
            in_word = false;
        } else if !in_word {
            breaks.push(newline);
            newline = false;
            in_word = true;
        }
    }
    let mut out = String::new();
    for (i, word) in flat.split(' ').enumerate() {
        if i > 0 {
            out.push(if breaks.get(i).copied().unwrap_or(false) {
                '\n'
            } else {
                ' '
            });
        }
        out.push_str(word);
    }
    out
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

/// A span of wall-clock time in words, to the minute: "under a minute", "30 minutes",
/// "2 hours 5 minutes", "3 days 4 hours".
pub fn human_span(d: chrono::Duration) -> String {
    let m = d.num_minutes().max(0);
    let unit = |n: i64, u: &str| format!("{n} {u}{}", if n == 1 { "" } else { "s" });
    let (days, hours, minutes) = (m / 1440, (m % 1440) / 60, m % 60);
    if m == 0 {
        "under a minute".into()
    } else if days > 0 {
        if hours > 0 {
            format!("{} {}", unit(days, "day"), unit(hours, "hour"))
        } else {
            unit(days, "day")
        }
    } else if hours > 0 {
        if minutes > 0 {
            format!("{} {}", unit(hours, "hour"), unit(minutes, "minute"))
        } else {
            unit(hours, "hour")
        }
    } else {
        unit(minutes, "minute")
    }
}

/// When `t` is, seen from `now`: "in 30 minutes", "5 minutes ago", "now".
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = t - now;
    if d.num_minutes() == 0 {
        "now".into()
    } else if d > chrono::Duration::zero() {
        format!("in {}", human_span(d))
    } else {
        format!("{} ago", human_span(-d))
    }
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
    fn an_excerpt_keeps_the_line_breaks_of_the_message() {
        let text = "Hello,\n\nmy invoice was charged twice.\nPlease refund it.\n\nAlice";
        let flat = excerpt(text, 300);
        assert_eq!(
            with_line_breaks(&flat, text),
            "Hello,\nmy invoice was charged twice.\nPlease refund it.\nAlice"
        );
        let cut = excerpt(&"word\n".repeat(100), 50);
        let kept = with_line_breaks(&cut, &"word\n".repeat(100));
        assert!(
            kept.starts_with("word\nword\n") && kept.ends_with("word..."),
            "{kept}"
        );
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(980), "980 bytes");
        assert_eq!(human_size(12 * 1024), "12 KB");
        assert_eq!(human_size(3_565_158), "3.4 MB");
    }

    #[test]
    fn spans_and_relative_times_read_naturally() {
        use chrono::Duration as D;
        assert_eq!(human_span(D::seconds(30)), "under a minute");
        assert_eq!(human_span(D::minutes(30)), "30 minutes");
        assert_eq!(human_span(D::minutes(125)), "2 hours 5 minutes");
        assert_eq!(human_span(D::minutes(60)), "1 hour");
        assert_eq!(human_span(D::hours(76)), "3 days 4 hours");
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(relative(now + D::minutes(30), now), "in 30 minutes");
        assert_eq!(relative(now - D::minutes(5), now), "5 minutes ago");
        assert_eq!(relative(now, now), "now");
    }
}
