//! Classification: is it a robot (never answered), and which category and priority.
//!
//! Pure functions over an [`InboundMessage`]; the rules come from config and are compiled once.

pub mod language;
pub mod robot;
pub mod spam;

use regex::{Regex, RegexBuilder};

use crate::config::{Config, RuleField};
use crate::parse::InboundMessage;

/// A compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    name: String,
    field: RuleField,
    matcher: Regex,
    category: Option<String>,
    priority: Option<String>,
}

/// Category and priority rules, ready to apply.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<Rule>,
    default_category: String,
    default_priority: String,
    /// Priority names, most urgent first.
    severity: Vec<String>,
}

/// The outcome for one message, with the names of the rules that decided it (for the audit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Classification {
    pub category: String,
    pub priority: String,
    pub matched_rules: Vec<String>,
}

/// A rule that does not compile (config validation normally catches this first).
#[derive(Debug, thiserror::Error)]
#[error("classify.rules[{index}] ({name}): {message}")]
pub struct RuleError {
    pub index: usize,
    pub name: String,
    pub message: String,
}

/// Characters of scripts written without spaces between words (Han, Hiragana, Katakana,
/// Thai, Lao, Khmer, Myanmar) and Hangul (spaced, but particles join the noun: 서버가). A
/// keyword edge made of them needs no word boundary, and a Latin keyword may touch them.
const UNSPACED: &[(char, char)] = &[
    ('\u{0E00}', '\u{0EFF}'),   // Thai, Lao
    ('\u{1000}', '\u{109F}'),   // Myanmar
    ('\u{1100}', '\u{11FF}'),   // Hangul Jamo
    ('\u{1780}', '\u{17FF}'),   // Khmer
    ('\u{3005}', '\u{3007}'),   // 々 〆 〇
    ('\u{3040}', '\u{30FF}'),   // Hiragana, Katakana (with ー)
    ('\u{3130}', '\u{318F}'),   // Hangul compatibility Jamo
    ('\u{31F0}', '\u{31FF}'),   // Katakana phonetic extensions
    ('\u{3400}', '\u{4DBF}'),   // CJK extension A
    ('\u{4E00}', '\u{9FFF}'),   // CJK unified ideographs
    ('\u{AC00}', '\u{D7AF}'),   // Hangul syllables
    ('\u{F900}', '\u{FAFF}'),   // CJK compatibility ideographs
    ('\u{FF66}', '\u{FF9F}'),   // half-width Katakana
    ('\u{20000}', '\u{3FFFF}'), // CJK extensions B and later
];

fn unspaced(c: char) -> bool {
    UNSPACED.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// The plain letter of an accented Latin letter the shipped languages use (`é` -> `e`).
fn plain_letter(c: char) -> Option<char> {
    const TABLE: &[(&str, char)] = &[
        ("àáâãäåāą", 'a'),
        ("çćč", 'c'),
        ("èéêëēęě", 'e'),
        ("ìíîïī", 'i'),
        ("ñń", 'n'),
        ("òóôõöøō", 'o'),
        ("ùúûüū", 'u'),
        ("ýÿ", 'y'),
        ("ÀÁÂÃÄÅĀĄ", 'A'),
        ("ÇĆČ", 'C'),
        ("ÈÉÊËĒĘĚ", 'E'),
        ("ÌÍÎÏĪ", 'I'),
        ("ÑŃ", 'N'),
        ("ÒÓÔÕÖØŌ", 'O'),
        ("ÙÚÛÜŪ", 'U'),
        ("Ý", 'Y'),
    ];
    TABLE
        .iter()
        .find(|(accented, _)| accented.contains(c))
        .map(|&(_, plain)| plain)
}

/// What may stand before or after a whole word: a character that is not a word character, or
/// one of a script without spaces (so `wifi` matches in `wifiが使えない`). The character is
/// consumed rather than asserted (`\b`): rules only answer "does it match", and the regex
/// engine's fast automata cannot run Unicode `\b` over non-ASCII text.
fn edge_class() -> String {
    let mut class = String::from(r"[^\w]|[");
    for &(lo, hi) in UNSPACED {
        class.push_str(&format!(r"\x{{{:X}}}-\x{{{:X}}}", lo as u32, hi as u32));
    }
    class.push(']');
    class
}

/// One keyword as a regex body, and whether it needs a word edge before and after it.
///
/// * Letters match in any case (the rule's `(?i)`); an accented letter also matches its plain
///   letter (`sécurité` matches `securite`, not the other way round: write keywords with
///   their accents).
/// * A space matches any run of white space (phrases span line breaks); `'` matches `'` and
///   `’`.
/// * `*` stands for any run of word characters, none included; at the start or end of the
///   keyword it lifts the whole-word requirement on that side (`*ausfall` matches
///   `Serverausfall`, `hacker*` matches `Hackerangriff`).
/// * A keyword edge that is a letter or digit of a spaced script must be a word edge in the
///   text; an edge of a script without spaces (Japanese, Chinese, Thai, Korean) need not be,
///   so `届いていません` matches inside `荷物がまだ届いていません`.
fn keyword_regex(keyword: &str) -> (String, bool, bool) {
    let k = keyword.trim();
    let lead_star = k.starts_with('*');
    let trail_star = k.ends_with('*') && k.len() > 1;
    let core = k.trim_matches('*');
    let mut body = String::with_capacity(core.len() * 2);
    let mut in_space = false;
    for c in core.chars() {
        if c.is_whitespace() {
            if !in_space {
                body.push_str(r"\s+");
            }
            in_space = true;
            continue;
        }
        in_space = false;
        match c {
            '*' => body.push_str(r"\w*"),
            '\'' | '\u{2019}' => body.push_str("['\u{2019}]"),
            _ => match plain_letter(c) {
                Some(p) => {
                    body.push('[');
                    body.push(c);
                    body.push(p);
                    body.push(']');
                }
                None => body.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            },
        }
    }
    let needs_edge = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() && !unspaced(c));
    let left = !lead_star && needs_edge(core.chars().next());
    let right = !trail_star && needs_edge(core.chars().last());
    (body, left, right)
}

/// Keywords become one case-insensitive alternation, grouped by the word edges they need, so
/// `down` does not match `download` and the edge class appears at most four times per rule.
fn keyword_pattern(keywords: &[String]) -> String {
    let mut groups: [Vec<String>; 4] = Default::default();
    for k in keywords {
        let (body, left, right) = keyword_regex(k);
        if !body.is_empty() {
            groups[usize::from(left) * 2 + usize::from(right)].push(body);
        }
    }
    let edge = edge_class();
    let mut alts = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        if g.is_empty() {
            continue;
        }
        let (left, right) = (i & 2 != 0, i & 1 != 0);
        alts.push(format!(
            "{}(?:{}){}",
            if left {
                format!("(?:^|{edge})")
            } else {
                String::new()
            },
            g.join("|"),
            if right {
                format!("(?:{edge}|$)")
            } else {
                String::new()
            },
        ));
    }
    alts.join("|")
}

impl Classifier {
    /// Compiles the rules of a validated config.
    ///
    /// # Errors
    /// [`RuleError`] naming the rule whose pattern does not compile.
    pub fn from_config(cfg: &Config) -> Result<Classifier, RuleError> {
        let mut rules = Vec::new();
        for (index, r) in cfg.classify.rules.iter().enumerate() {
            let mut alts = Vec::new();
            if !r.keywords.is_empty() {
                alts.push(format!("(?i:{})", keyword_pattern(&r.keywords)));
            }
            if let Some(re) = &r.regex {
                alts.push(format!("(?:{re})"));
            }
            // A rule with keywords in many languages compiles big: Unicode case folding and the
            // word-edge classes. The shipped `outage` rule needs about 650 KB; 4 MiB leaves room
            // for an admin's additions and still bounds a runaway regex.
            let matcher = RegexBuilder::new(&alts.join("|"))
                .size_limit(1 << 22)
                .build()
                .map_err(|e| RuleError {
                    index,
                    name: r.name.clone(),
                    message: e.to_string(),
                })?;
            rules.push(Rule {
                name: r.name.clone(),
                field: r.field,
                matcher,
                category: r.category.clone(),
                priority: r.priority.clone(),
            });
        }
        Ok(Classifier {
            rules,
            default_category: cfg.classify.default_category.clone(),
            default_priority: cfg.classify.default_priority.clone(),
            severity: cfg.priorities.iter().map(|p| p.name.clone()).collect(),
        })
    }

    fn rank(&self, priority: &str) -> usize {
        self.severity
            .iter()
            .position(|p| p == priority)
            .unwrap_or(usize::MAX)
    }

    /// Applies the rules: the first matching rule with a category sets the category; the
    /// most urgent priority among all matching rules wins (an outage mentioned in a billing
    /// complaint still makes it urgent).
    pub fn classify(&self, msg: &InboundMessage) -> Classification {
        let sender = msg
            .reply_address()
            .or(msg.from.as_ref())
            .map(|m| m.normalized())
            .unwrap_or_default();
        let mut category: Option<&str> = None;
        let mut priority: Option<&str> = None;
        let mut matched = Vec::new();
        for r in &self.rules {
            let hit = match r.field {
                RuleField::Subject => r.matcher.is_match(&msg.subject),
                RuleField::Body => r.matcher.is_match(&msg.text),
                RuleField::Sender => r.matcher.is_match(&sender),
                RuleField::Any => r.matcher.is_match(&msg.subject) || r.matcher.is_match(&msg.text),
            };
            if !hit {
                continue;
            }
            matched.push(r.name.clone());
            if category.is_none() {
                category = r.category.as_deref();
            }
            if let Some(p) = r.priority.as_deref() {
                if priority.is_none_or(|cur| self.rank(p) < self.rank(cur)) {
                    priority = Some(p);
                }
            }
        }
        Classification {
            category: category.unwrap_or(&self.default_category).to_string(),
            priority: priority.unwrap_or(&self.default_priority).to_string(),
            matched_rules: matched,
        }
    }
}

impl Classifier {
    /// How many of the rules that set a category or a priority, and read the body, match
    /// `sentence`: the acknowledgment restates the sentence that matches the most
    /// (`mail::restate`). A rule answers whether it matches, as in [`Classifier::classify`]
    /// (its regex consumes the characters around a keyword, so it does not count them).
    pub fn hits(&self, sentence: &str) -> usize {
        self.rules
            .iter()
            .filter(|r| matches!(r.field, RuleField::Body | RuleField::Any))
            .filter(|r| r.category.is_some() || r.priority.is_some())
            .filter(|r| r.matcher.is_match(sentence))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};

    fn cfg() -> Config {
        let text = format!(
            "{}\n{}",
            include_str!("../../tests/fixtures/config/base.toml"),
            r#"
[[classify.rules]]
name = "billing"
field = "any"
keywords = ["invoice", "refund", "charged twice"]
category = "billing"

[[classify.rules]]
name = "outage"
keywords = ["outage", "down", "data loss"]
priority = "urgent"
category = "technical"

[[classify.rules]]
name = "vip"
field = "sender"
regex = "@bigcorp\\.example$"
priority = "high"
"#
        );
        Config::from_toml(&text, std::path::Path::new(".")).unwrap()
    }

    fn msg(from: &str, subject: &str, body: &str) -> InboundMessage {
        let raw = format!(
            "From: {from}\r\nTo: support@support.test\r\nSubject: {subject}\r\nMessage-ID: <x@y>\r\n\r\n{body}\r\n"
        );
        parse(raw.as_bytes(), &ParseLimits::default()).unwrap()
    }

    #[test]
    fn first_category_wins_and_the_most_urgent_priority_wins() {
        let c = Classifier::from_config(&cfg()).unwrap();
        let r = c.classify(&msg(
            "a@customer.test",
            "Refund please",
            "Your site is down and I was charged twice",
        ));
        assert_eq!(r.category, "billing");
        assert_eq!(r.priority, "urgent");
        assert_eq!(r.matched_rules, vec!["billing", "outage"]);
    }

    #[test]
    fn keywords_match_whole_words_only() {
        let c = Classifier::from_config(&cfg()).unwrap();
        let r = c.classify(&msg(
            "a@customer.test",
            "Download link",
            "How do I download my files?",
        ));
        assert_eq!(r.priority, "normal");
        assert_eq!(r.category, "general");
        assert!(r.matched_rules.is_empty());
    }

    #[test]
    fn sender_rules_look_at_the_address() {
        let c = Classifier::from_config(&cfg()).unwrap();
        let r = c.classify(&msg("Boss <boss@bigcorp.example>", "Question", "Hello"));
        assert_eq!(r.priority, "high");
    }

    fn with_rules(rules: &str) -> Classifier {
        let text = format!(
            "{}\n{}",
            include_str!("../../tests/fixtures/config/base.toml"),
            rules
        );
        Classifier::from_config(&Config::from_toml(&text, std::path::Path::new(".")).unwrap())
            .unwrap()
    }

    fn hits(c: &Classifier, body: &str) -> Vec<String> {
        c.classify(&msg("a@customer.test", "Hi", body))
            .matched_rules
    }

    #[test]
    fn keywords_without_spaces_match_inside_running_text() {
        let c = with_rules(
            r#"
[[classify.rules]]
name = "delivery"
keywords = ["届いていません", "荷物"]
priority = "high"

[[classify.rules]]
name = "outage"
keywords = ["停止", "wifi", "ล่ม"]
priority = "urgent"
"#,
        );
        assert_eq!(hits(&c, "荷物がまだ届いていません。"), vec!["delivery"]);
        assert_eq!(hits(&c, "サーバーが停止しています"), vec!["outage"]);
        // A Latin keyword is a whole word, and Japanese around it counts as an edge.
        assert_eq!(hits(&c, "WiFiが使えません"), vec!["outage"]);
        assert!(hits(&c, "wifis").is_empty());
        assert_eq!(hits(&c, "เว็บไซต์ล่มครับ"), vec!["outage"]);
    }

    #[test]
    fn a_star_lifts_the_word_edge_on_its_side() {
        let c = with_rules(
            r#"
[[classify.rules]]
name = "outage"
keywords = ["*ausfall", "hacker*", "unbefugt* zugriff"]
priority = "urgent"
"#,
        );
        assert_eq!(hits(&c, "Totalausfall seit heute früh"), vec!["outage"]);
        assert_eq!(hits(&c, "Der Ausfall dauert an"), vec!["outage"]);
        assert_eq!(hits(&c, "ein Hackerangriff"), vec!["outage"]);
        assert_eq!(hits(&c, "unbefugten Zugriff bemerkt"), vec!["outage"]);
        // Without a star on that side the edge stays.
        assert!(hits(&c, "Ausfallzeit").is_empty());
        assert!(hits(&c, "Whacker").is_empty());
    }

    #[test]
    fn accented_keywords_match_plain_letters_and_curly_apostrophes() {
        let c = with_rules(
            r#"
[[classify.rules]]
name = "security"
keywords = ["faille de sécurité", "can't log in"]
priority = "urgent"
"#,
        );
        assert_eq!(hits(&c, "une FAILLE DE SECURITE"), vec!["security"]);
        assert_eq!(hits(&c, "une faille de Sécurité"), vec!["security"]);
        assert_eq!(hits(&c, "I can\u{2019}t log in"), vec!["security"]);
    }

    #[test]
    fn phrases_span_line_breaks_and_case() {
        let c = Classifier::from_config(&cfg()).unwrap();
        let r = c.classify(&msg(
            "a@customer.test",
            "Hi",
            "We suffered DATA\r\n LOSS yesterday",
        ));
        assert_eq!(r.priority, "urgent");
    }
}
