//! What a customer's reply to a resolved case means: a rating, a plain "thanks, solved", or
//! (anything else) that the issue is not solved.
//!
//! The rule is deliberately simple and leans to reopening: a reply counts as satisfied only
//! when it is short, every word of it is one of the configured satisfied phrases' words, and
//! none is an "unsatisfied" word ("not", "still", "again"...). "Thanks, but it is still
//! broken" reopens; "Thank you, works now!" does not. A rating is a number 1-5 at the start of
//! the reply ("4", "5/5", "3 stars"), optionally followed by a comment.

/// The meaning of a reply to a resolved case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// A rating 1-5 and the comment written with it.
    Rating { rating: u8, comment: Option<String> },
    /// A plain thanks/yes: the issue is solved.
    Satisfied,
    /// Anything else: not solved (or unsure), so the case reopens.
    NotSolved,
}

/// Longest reply (in words) that can still count as a plain thanks.
const MAX_SATISFIED_WORDS: usize = 12;

/// A rating: the first line is the number 1-5, optionally with its scale ("/5", "of 5",
/// "stars", "points", "*"), then nothing or a separator (`-`, `:`, `.`, `!`, `,`...) and a
/// comment. "2 days later it broke again" and "10" are not ratings.
fn rating_of(text: &str) -> Option<(u8, Option<String>)> {
    // Full-width digits and punctuation (a Japanese keyboard's "５／５") read as ASCII.
    let text: String = text
        .chars()
        .map(|c| match c {
            '０'..='９' | '！'..='／' | '：'..='＠' => {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            '。' => '.',
            '、' => ',',
            _ => c,
        })
        .collect();
    let text = text.as_str();
    let first = text.lines().next()?.trim();
    let d = first.chars().next()?;
    let n = u8::try_from(d.to_digit(10)?).ok()?;
    if !(1..=5).contains(&n) {
        return None;
    }
    let mut rest = first[d.len_utf8()..].trim_start();
    let lower = rest.to_lowercase();
    for scale in [
        "/ 5",
        "/5",
        "of 5",
        "stars",
        "star",
        "points",
        "point",
        "von 5",
        "sterne",
        "stern",
        "punkte",
        "sur 5",
        "étoiles",
        "étoile",
        "de 5",
        "estrellas",
        "estrella",
        "su 5",
        "stelle",
        "stella",
        "van 5",
        "sterren",
        "ster",
        "estrelas",
        "estrela",
        "点",
        "つ星",
    ] {
        if lower.starts_with(scale) {
            rest = rest[scale.len()..].trim_start();
            break;
        }
    }
    rest = rest.trim_start_matches('*').trim_start();
    if let Some(c) = rest.chars().next() {
        if !matches!(c, '-' | '–' | '—' | ':' | '.' | '!' | ',' | ';' | ')') {
            return None;
        }
    }
    let comment_first = rest.trim_start_matches(['-', '–', '—', ':', '.', '!', ',', ';', ')']);
    let others: Vec<&str> = text.trim().lines().skip(1).collect();
    let comment = std::iter::once(comment_first)
        .chain(others)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    Some((n, (!comment.is_empty()).then_some(comment)))
}

/// Words that close a mail before the name ("Best regards,", "Cheers", "Grüße"): with the
/// sender's own name they make a sign-off, which says nothing about the issue.
const CLOSING_WORDS: &[&str] = &[
    "best",
    "regards",
    "kind",
    "warm",
    "warmest",
    "cheers",
    "br",
    "greetings",
    "yours",
    "sincerely",
    "cordially",
    "mfg",
    "gruß",
    "grüße",
    "gruss",
    "viele",
    "liebe",
    "freundliche",
    "cordialement",
    "bien",
    "saludos",
    "saluti",
    "groeten",
    "met",
    "vriendelijke",
    "atenciosamente",
    // More closings of the shipped languages ("Bien à vous", "Un saludo", "Cordiali saluti",
    // "Met vriendelijke groet", "Com os melhores cumprimentos").
    "mit",
    "freundlichen",
    "herzliche",
    "à",
    "vous",
    "salutations",
    "un",
    "saludo",
    "atentamente",
    "cordiali",
    "distinti",
    "groet",
    "hartelijke",
    "com",
    "os",
    "melhores",
    "cumprimentos",
    "abraço",
];

/// The words of the sender's display name, lower case.
fn name_words(name: Option<&str>) -> Vec<String> {
    name.unwrap_or_default()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `text` without its sign-off: up to two last lines made only of the sender's name words
/// (`name`, the From display name) and closing words ("Best regards,\nColin"). "Thanks,
/// solved!\n\nColin" is a thanks; without this the name made it "not solved".
pub fn strip_sign_off(text: &str, name: Option<&str>) -> String {
    let names = name_words(name);
    // A sign-off line: a few words, each a name word, a closing word or an initial; the
    // first one stripped (the last line) must carry the name, a line above it may be closing
    // words alone ("Best regards,").
    let is_sign_off = |line: &str, need_name: bool| {
        let words: Vec<String> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let name_word = |w: &String| names.contains(w) || w.chars().count() == 1;
        !words.is_empty()
            && words.len() <= 4
            && (!need_name || words.iter().any(name_word))
            && words
                .iter()
                .all(|w| name_word(w) || CLOSING_WORDS.contains(&w.as_str()))
    };
    let mut lines: Vec<&str> = text.trim().lines().collect();
    for need_name in [true, false] {
        let body_left = lines.iter().filter(|l| !l.trim().is_empty()).count() > 1;
        match lines.last() {
            Some(l) if body_left && is_sign_off(l, need_name) => {
                lines.pop();
                while lines.last().is_some_and(|l| l.trim().is_empty()) {
                    lines.pop();
                }
            }
            _ => break,
        }
    }
    lines.join("\n")
}

/// Words that thank before a name in a sign-off ("Thanks, Jane", "Vielen Dank, Jan").
const THANKS_WORDS: &[&str] = &[
    "thanks", "thank", "you", "thx", "ty", "many", "danke", "vielen", "dank", "merci", "gracias",
    "grazie", "bedankt", "tack", "again", "in", "advance",
];

/// A rating's comment as it is stored and shown: the customer's words without their
/// sign-off. `text` is already without quoted history and `-- ` signature (the reply text);
/// this drops what [`strip_sign_off`] drops and then a trailing block of one or two short
/// lines after a blank line that is only a name or a thanks with a name ("Jane",
/// "Thanks, Jane Doe", "Best,\nJ."), with or without the From name known. `None` when
/// nothing is left.
pub fn rating_comment(text: &str, name: Option<&str>) -> Option<String> {
    let names = name_words(name);
    let text = strip_sign_off(text, name);
    let lines: Vec<&str> = text.trim().lines().map(str::trim_end).collect();
    // The last block: the lines after the last blank line.
    let Some(blank) = lines.iter().rposition(|l| l.trim().is_empty()) else {
        return (!text.trim().is_empty()).then(|| text.trim().to_string());
    };
    let block = &lines[blank + 1..];
    let words_of = |line: &str| -> Vec<String> {
        line.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect()
    };
    let closing = |w: &str| {
        let lower = w.to_lowercase();
        THANKS_WORDS.contains(&lower.as_str()) || CLOSING_WORDS.contains(&lower.as_str())
    };
    // A line of a sign-off: at most four words, each a thanks or closing word, a word of
    // the sender's name, or, when we were not told their name, a capitalised word or initial.
    let sign_off_line = |line: &str| {
        let words = words_of(line);
        if words.is_empty() || words.len() > 4 || line.chars().count() > 40 {
            return false;
        }
        words.iter().all(|w| {
            closing(w)
                || names.contains(&w.to_lowercase())
                || (names.is_empty() && w.chars().next().is_some_and(char::is_uppercase))
        })
    };
    // Capitalised words alone are a name only as one word ("Jane"): "Very Bad" is a comment.
    let words: Vec<String> = block.iter().flat_map(|l| words_of(l)).collect();
    let named = words
        .iter()
        .any(|w| closing(w) || names.contains(&w.to_lowercase()))
        || words.len() == 1;
    let is_sign_off =
        (1..=2).contains(&block.len()) && named && block.iter().all(|l| sign_off_line(l));
    let kept = if is_sign_off {
        &lines[..blank]
    } else {
        &lines[..]
    };
    let comment = kept.join("\n").trim().to_string();
    (!comment.is_empty()).then_some(comment)
}

/// Judges `text` (the reply without quoted history).
pub fn judge(text: &str, satisfied: &[String], unsatisfied: &[String]) -> Judgement {
    let t = text.trim();
    if let Some((rating, comment)) = rating_of(t) {
        return Judgement::Rating { rating, comment };
    }
    judge_words(t, satisfied, unsatisfied)
}

/// A character of a script written without spaces (Japanese kana, CJK ideographs).
fn dense(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{9FFF}')
}

fn judge_words(t: &str, satisfied: &[String], unsatisfied: &[String]) -> Judgement {
    let words: Vec<String> = t
        .split(|ch: char| !(ch.is_alphanumeric() || ch == '\'' || ch == '’'))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().replace('’', "'"))
        .collect();
    if words.is_empty() || words.len() > MAX_SATISFIED_WORDS {
        return Judgement::NotSolved;
    }
    let is = |set: &[String], w: &str| set.iter().any(|s| s.eq_ignore_ascii_case(w));
    if words.iter().any(|w| is(unsatisfied, w)) {
        return Judgement::NotSolved;
    }
    // A run of Japanese is one "word" here: it is made of satisfied phrases when none of
    // the unsatisfied ones is inside it and nothing is left once the satisfied ones (longest
    // first) are taken out.
    let mut phrases: Vec<&str> = satisfied
        .iter()
        .map(String::as_str)
        .filter(|p| p.chars().any(dense))
        .collect();
    phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let only_satisfied = |w: &str| {
        if unsatisfied
            .iter()
            .any(|u| u.chars().any(dense) && w.contains(u.as_str()))
        {
            return false;
        }
        let mut rest = w.to_string();
        for p in &phrases {
            rest = rest.replace(p, " ");
        }
        // Too long to be a plain thanks, as for words.
        w.chars().count() <= 4 * MAX_SATISFIED_WORDS && rest.trim().is_empty()
    };
    if words.iter().all(|w| {
        if w.chars().any(dense) {
            only_satisfied(w)
        } else {
            is(satisfied, w)
        }
    }) {
        Judgement::Satisfied
    } else {
        Judgement::NotSolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_as_each_shipped_language_writes_them() {
        let cfg = crate::config::FollowUpConfig::default();
        let j = |t: &str| judge(t, &cfg.satisfied_phrases, &cfg.unsatisfied_words);
        for (t, n) in [
            ("４", 4),
            ("５／５", 5),
            ("4 von 5", 4),
            ("2 Sterne - zu langsam", 2),
            ("5 sur 5 !", 5),
            ("3 estrellas", 3),
            ("4 su 5", 4),
            ("5 sterren", 5),
            ("4 estrelas", 4),
            ("4。良かったです", 4),
            ("5点", 5),
        ] {
            assert!(
                matches!(j(t), Judgement::Rating { rating, .. } if rating == n),
                "{t}: {:?}",
                j(t)
            );
        }
    }

    #[test]
    fn thanks_in_each_shipped_language_closes_and_not_solved_reopens() {
        let cfg = crate::config::FollowUpConfig::default();
        let j = |t: &str| judge(t, &cfg.satisfied_phrases, &cfg.unsatisfied_words);
        for t in [
            "Vielen Dank, funktioniert jetzt!",
            "Merci beaucoup, c'est résolu.",
            "Muchas gracias, ya funciona.",
            "Grazie mille, risolto!",
            "Hartelijk bedankt, opgelost.",
            "Muito obrigada, resolvido!",
            "ありがとうございます。解決しました。",
            "解決しました、ありがとうございました！",
        ] {
            assert_eq!(j(t), Judgement::Satisfied, "{t}");
        }
        for t in [
            "Danke, aber es geht immer noch nicht.",
            "Merci, mais ça ne marche toujours pas.",
            "Gracias, pero sigue sin funcionar.",
            "Grazie, però non funziona ancora.",
            "Bedankt, maar het werkt nog steeds niet.",
            "Obrigado, mas ainda não funciona.",
            "ありがとうございます。でもまだ直っていません。",
            "まだ届いていません。",
            "ありがとうございます。請求書を確認したいです。",
        ] {
            assert_eq!(j(t), Judgement::NotSolved, "{t}");
        }
    }

    #[test]
    fn a_sign_off_with_the_senders_name_is_not_part_of_the_answer() {
        assert_eq!(
            strip_sign_off("Thanks, solved!\n\nColin", Some("Colin")),
            "Thanks, solved!"
        );
        assert_eq!(
            strip_sign_off(
                "Thanks, solved!\n\nBest regards,\nCarol",
                Some("Carol Customer")
            ),
            "Thanks, solved!"
        );
        assert_eq!(strip_sign_off("Thanks!\nJ.", Some("Jane Doe")), "Thanks!");
        // Not a sign-off: other words, another name, or nothing left above it.
        assert_eq!(
            strip_sign_off("Thanks\n\nstill broken", Some("Colin")),
            "Thanks\n\nstill broken"
        );
        assert_eq!(
            strip_sign_off("Thanks\n\nBob", Some("Colin")),
            "Thanks\n\nBob"
        );
        assert_eq!(strip_sign_off("Colin", Some("Colin")), "Colin");
        assert_eq!(strip_sign_off("Thanks\n\nColin", None), "Thanks\n\nColin");
    }
    use crate::config::FollowUpConfig;

    #[test]
    fn a_rating_comment_loses_the_customers_sign_off() {
        let c = |t: &str, n: Option<&str>| rating_comment(t, n);
        assert_eq!(
            c("Took too long.\n\nJane", None).as_deref(),
            Some("Took too long.")
        );
        assert_eq!(
            c(
                "Took too long.\nNobody called back.\n\nThanks, Jane Doe",
                Some("Jane Doe")
            )
            .as_deref(),
            Some("Took too long.\nNobody called back.")
        );
        assert_eq!(
            c("Took too long.\n\nBest regards,\nJ. Doe", None).as_deref(),
            Some("Took too long.")
        );
        assert_eq!(
            c("Took too long.\n\nthanks,\njane", Some("Jane Doe")).as_deref(),
            Some("Took too long.")
        );
        // Words, not a name: kept. A sign-off alone is all there is: kept too.
        assert_eq!(
            c("Took too long.\n\nnever again", None).as_deref(),
            Some("Took too long.\n\nnever again")
        );
        assert_eq!(
            c(
                "Slow.\n\nThe second agent was rude and did not read my mail.",
                None
            )
            .as_deref(),
            Some("Slow.\n\nThe second agent was rude and did not read my mail.")
        );
        assert_eq!(c("Jane", Some("Jane")).as_deref(), Some("Jane"));
        assert_eq!(c("  \n", None), None);
        // Capitalised words that are no name stay: they are the comment.
        assert_eq!(
            c("Slow answer.\n\nVery Bad", None).as_deref(),
            Some("Slow answer.\n\nVery Bad")
        );
        assert_eq!(
            c("Slow answer.\n\nVery Bad", Some("Jane Doe")).as_deref(),
            Some("Slow answer.\n\nVery Bad")
        );
        assert_eq!(
            c("Slow answer.\n\nJane", None).as_deref(),
            Some("Slow answer.")
        );
    }

    fn j(t: &str) -> Judgement {
        let c = FollowUpConfig::default();
        judge(t, &c.satisfied_phrases, &c.unsatisfied_words)
    }

    #[test]
    fn plain_thanks_and_yes_are_satisfied() {
        for t in [
            "Thanks!",
            "Thank you, works now!",
            "Yes, solved. Thanks a lot",
            "ok thx",
            "Danke, gelöst!",
            "Merci !",
        ] {
            assert_eq!(j(t), Judgement::Satisfied, "{t}");
        }
    }

    #[test]
    fn anything_else_reopens() {
        for t in [
            "Thanks, but it is still broken",
            "No.",
            "It happened again",
            "Not fixed",
            "Can you call me?",
            "",
            "Thanks for the quick answer. However the second invoice also shows the wrong amount and I need it corrected.",
            "Danke, aber es geht immer noch nicht",
        ] {
            assert_eq!(j(t), Judgement::NotSolved, "{t}");
        }
    }

    #[test]
    fn a_number_first_is_a_rating_with_its_comment() {
        assert_eq!(
            j("4"),
            Judgement::Rating {
                rating: 4,
                comment: None
            }
        );
        assert_eq!(
            j("5/5 - great service"),
            Judgement::Rating {
                rating: 5,
                comment: Some("great service".into())
            }
        );
        assert_eq!(
            j("2 stars. Took too long."),
            Judgement::Rating {
                rating: 2,
                comment: Some("Took too long.".into())
            }
        );
        assert_eq!(j("6"), Judgement::NotSolved);
        assert_eq!(j("2 days later it is broken again"), Judgement::NotSolved);
        assert_eq!(j("3 weeks and no answer"), Judgement::NotSolved);
        assert_eq!(
            j("1: rude"),
            Judgement::Rating {
                rating: 1,
                comment: Some("rude".into())
            }
        );
        assert_eq!(j("10 days and still nothing"), Judgement::NotSolved);
        assert_eq!(j("1000 thanks"), Judgement::NotSolved);
    }
}
