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

/// Keywords become one case-insensitive alternation with word boundaries where the keyword
/// starts or ends with a word character, so `down` does not match `download`.
fn keyword_pattern(keywords: &[String]) -> String {
    keywords
        .iter()
        .map(|k| {
            let k = k.trim();
            let esc = regex::escape(k).replace(' ', r"\s+");
            let lb = if k.chars().next().is_some_and(|c| c.is_alphanumeric()) {
                r"\b"
            } else {
                ""
            };
            let rb = if k.chars().last().is_some_and(|c| c.is_alphanumeric()) {
                r"\b"
            } else {
                ""
            };
            format!("{lb}{esc}{rb}")
        })
        .collect::<Vec<_>>()
        .join("|")
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
            let matcher = RegexBuilder::new(&alts.join("|"))
                .size_limit(1 << 20)
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
    /// How many matches of the rules that set a category or a priority, and read the body,
    /// `sentence` holds: the acknowledgment restates the sentence with the most
    /// (`mail::restate`).
    pub fn hits(&self, sentence: &str) -> usize {
        self.rules
            .iter()
            .filter(|r| matches!(r.field, RuleField::Body | RuleField::Any))
            .filter(|r| r.category.is_some() || r.priority.is_some())
            .map(|r| r.matcher.find_iter(sentence).count())
            .sum()
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
