//! The acknowledgment's own words about the complaint: which of the customer's sentences
//! say what it is about (`restate`), and which numbers it names (`Found`).
//!
//! The rule (docs/design.md, "The acknowledgment"): the text is the reply text with quote,
//! signature and sign-off removed; greeting lines ("Hello,", "Sehr geehrte Damen und
//! Herren,") are dropped; the rest is cut into sentences (after `.`, `!`, `?` and a space,
//! after `。！？`, and at blank lines). The sentence that matches the most classification
//! rules (those that set a category or priority) is restated, the earlier one on a tie; with no match
//! anywhere, the first sentence. A sentence shorter than 45 characters takes a neighbour with
//! it (the one before, which says what happened when the short one is the request; the one
//! after when it is the first); otherwise the next sentence joins it when it matches keywords
//! too; both within 300 characters. A text
//! of fewer than three words (in Japanese, six characters) restates nothing: the
//! acknowledgment then quotes it as written, or shows the subject when there is no text.

use regex::Regex;

use super::format::excerpt;

/// Longest restatement, in characters (a longer sentence is cut at a word, with "...").
pub const MAX_CHARS: usize = 300;
/// A restated sentence shorter than this (in columns: a Japanese character takes two) takes
/// a neighbour with it.
const SHORT: usize = 45;

/// One or two of `text`'s sentences, chosen as the module says. `greetings` are lower-case
/// openings of greeting lines; `score` counts keyword matches in a sentence.
pub fn restate(text: &str, greetings: &[&str], score: &dyn Fn(&str) -> usize) -> Vec<String> {
    if words(text) < 3 {
        return Vec::new();
    }
    let sentences = sentences(text, greetings);
    if sentences.is_empty() {
        return Vec::new();
    }
    let scores: Vec<usize> = sentences.iter().map(|s| score(s)).collect();
    let best = scores
        .iter()
        .enumerate()
        .max_by(|(i, a), (j, b)| a.cmp(b).then(j.cmp(i)))
        .map_or(0, |(i, _)| i);
    // Lengths in columns: a Japanese character says about as much as two Latin ones.
    let len = |s: &str| s.chars().map(crate::render::columns).sum::<usize>();
    let fits = |other: &str| len(&sentences[best]) + len(other) < MAX_CHARS;
    let short = len(&sentences[best]) < SHORT;
    let mut out = vec![cut(&sentences[best])];
    // A short sentence is often the request ("Please refund it."): the one before says what
    // happened.
    if short && best > 0 && fits(&sentences[best - 1]) {
        out.insert(0, sentences[best - 1].clone());
        return out;
    }
    if let Some(next) = sentences.get(best + 1) {
        if (scores[best + 1] > 0 || short) && fits(next) {
            out.push(next.clone());
        }
    }
    out
}

/// Words in `text`: separated by spaces, or, in scripts written without them (Japanese,
/// Chinese), two characters to a word.
fn words(text: &str) -> usize {
    let dense = text
        .chars()
        .filter(|c| c.is_alphabetic() && crate::render::columns(*c) == 2)
        .count();
    text.split_whitespace().count() + dense / 2
}

fn cut(s: &str) -> String {
    excerpt(s, MAX_CHARS)
}

/// Whether `line` (a line or a sentence) is a greeting: it starts with one of `greetings`
/// (a whole word, or a greeting in a script without spaces) and has at most three words
/// after it, or ends as a salutation does (`,` `:` `、`). "Dear Support, I was charged
/// twice." is the complaint; "Sehr geehrte Damen und Herren," and "お世話になっております。"
/// are greetings; a line "お世話になっております。荷物が届きません。" is not (its sentences
/// are judged one by one).
fn is_greeting(line: &str, greetings: &[&str]) -> bool {
    let l = line.trim().to_lowercase();
    greetings.iter().any(|g| {
        let Some(rest) = l.strip_prefix(g) else {
            return false;
        };
        if !rest
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric() || !g.is_ascii())
        {
            return false;
        }
        words(rest) <= 3 || rest.ends_with([',', ':', '、', '，'])
    })
}

/// The sentences of `text` on one line each, greeting lines left out.
fn sentences(text: &str, greetings: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for para in text.split("\n\n").flat_map(|p| p.split("\r\n\r\n")) {
        let lines: Vec<&str> = para
            .lines()
            .filter(|l| !l.trim().is_empty() && !is_greeting(l, greetings))
            .collect();
        let flat = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
        let mut cur = String::new();
        let mut chars = flat.chars().peekable();
        while let Some(c) = chars.next() {
            cur.push(c);
            let end = match c {
                '。' | '！' | '？' => true,
                '.' | '!' | '?' => chars.peek().is_none_or(|n| n.is_whitespace()),
                _ => false,
            };
            if end {
                push_sentence(&mut out, &mut cur, greetings);
            }
        }
        push_sentence(&mut out, &mut cur, greetings);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, cur: &mut String, greetings: &[&str]) {
    let s = cur.trim().to_string();
    cur.clear();
    // A sentence of punctuation only, or a greeting alone on its line before the text
    // ("Hello. I was charged twice" keeps the second).
    if s.chars().any(char::is_alphanumeric) && !is_greeting(&s, greetings) {
        out.push(s);
    }
}

/// The numbers the acknowledgment names: `[[acknowledgment.found]]`, compiled.
#[derive(Debug, Clone, Default)]
pub struct Found {
    patterns: Vec<(String, Regex)>,
}

/// Distinct values kept per pattern.
const MAX_PER_KIND: usize = 3;

impl Found {
    /// Compiles the config's patterns (validated before: one that does not compile is left
    /// out).
    pub fn from_config(cfg: &crate::config::Config) -> Found {
        Found {
            patterns: cfg
                .acknowledgment
                .found
                .iter()
                .filter_map(|f| {
                    regex::RegexBuilder::new(&f.pattern)
                        .size_limit(1 << 20)
                        .build()
                        .ok()
                        .map(|r| (f.name.clone(), r))
                })
                .collect(),
        }
    }

    /// Each pattern's matches in `subject` then `text` (the first capture group when the
    /// pattern has one), at most three distinct values per pattern, in the order found.
    pub fn find(&self, subject: &str, text: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, re) in &self.patterns {
            let mut n = 0;
            for hay in [subject, text] {
                for c in re.captures_iter(hay) {
                    let Some(m) = c.get(1).or_else(|| c.get(0)) else {
                        continue;
                    };
                    let v = m.as_str().trim().to_string();
                    if v.is_empty() || out.iter().any(|(k, x)| k == name && *x == v) {
                        continue;
                    }
                    out.push((name.clone(), v));
                    n += 1;
                    if n == MAX_PER_KIND {
                        break;
                    }
                }
                if n == MAX_PER_KIND {
                    break;
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: &[&str] = &["hello", "hi", "dear", "good morning"];

    fn words(keys: &'static [&'static str]) -> impl Fn(&str) -> usize {
        move |s: &str| {
            let l = s.to_lowercase();
            keys.iter().filter(|k| l.contains(*k)).count()
        }
    }

    #[test]
    fn the_sentence_with_the_keywords_is_restated_not_the_greeting_or_the_first() {
        let text = "Hello,\n\nI hope you are well. I have been a customer for years. \
                    Last week my invoice was charged twice to my card. Please help.";
        let r = restate(text, EN, &words(&["invoice", "charged"]));
        assert_eq!(
            r,
            vec!["Last week my invoice was charged twice to my card."]
        );
    }

    #[test]
    fn without_keywords_the_first_sentence_and_a_short_one_takes_the_next() {
        let r = restate(
            "Dear team, quick question. Where can I change my address?",
            &[],
            &words(&[]),
        );
        assert_eq!(
            r,
            vec![
                "Dear team, quick question.",
                "Where can I change my address?"
            ]
        );
        let r = restate(
            "Hi,\nwhere can I change my postal address for the next order?",
            EN,
            &words(&[]),
        );
        assert_eq!(
            r,
            vec!["where can I change my postal address for the next order?"]
        );
    }

    #[test]
    fn a_short_request_brings_the_sentence_before_it() {
        let text = "Hello,\n\nthe kettle I ordered (order 4711) arrived with a cracked lid.\n\
                    Please send a replacement or refund it.\n";
        let r = restate(text, EN, &words(&["refund"]));
        assert_eq!(
            r,
            vec![
                "the kettle I ordered (order 4711) arrived with a cracked lid.",
                "Please send a replacement or refund it."
            ]
        );
    }

    #[test]
    fn japanese_sentences_end_at_the_full_stop() {
        let text =
            "お世話になっております。\n先週注文した商品がまだ届いていません。確認をお願いします。";
        let r = restate(
            text,
            &["お世話になっております"],
            &words(&["届いていません"]),
        );
        assert_eq!(r[0], "先週注文した商品がまだ届いていません。");
    }

    #[test]
    fn one_word_or_nothing_restates_nothing() {
        assert!(restate("Refund!", EN, &words(&["refund"])).is_empty());
        assert!(restate("", EN, &words(&[])).is_empty());
        assert!(restate("Hello", EN, &words(&[])).is_empty());
    }

    #[test]
    fn a_long_sentence_is_cut_at_a_word() {
        let long = format!("My invoice {} is wrong.", "really ".repeat(80));
        let r = restate(&long, EN, &words(&["invoice"]));
        assert!(r[0].chars().count() <= MAX_CHARS + 3, "{}", r[0]);
        assert!(r[0].ends_with("..."));
    }

    #[test]
    fn right_to_left_text_is_kept_as_written() {
        let text = "مرحبا. لم يصل الطرد الخاص بي بعد. رقم الطلب ORD-123456";
        let r = restate(text, EN, &words(&[]));
        assert_eq!(r[0], "مرحبا.");
        assert_eq!(r[1], "لم يصل الطرد الخاص بي بعد.");
    }

    #[test]
    fn numbers_are_found_once_each_subject_first() {
        let cfg_found = Found {
            patterns: vec![
                (
                    "invoice".into(),
                    Regex::new(r"\bINV-\d{4}-\d{3,}\b").unwrap(),
                ),
                (
                    "order".into(),
                    Regex::new(r"(?i)\border\s*#?\s*(\d{6,})\b").unwrap(),
                ),
            ],
        };
        let f = cfg_found.find(
            "INV-2026-0042 charged twice",
            "Invoice INV-2026-0042 and INV-2026-0043, order #1234567.",
        );
        assert_eq!(
            f,
            vec![
                ("invoice".to_string(), "INV-2026-0042".to_string()),
                ("invoice".to_string(), "INV-2026-0043".to_string()),
                ("order".to_string(), "1234567".to_string()),
            ]
        );
    }
}
