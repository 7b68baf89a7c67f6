//! One language's `phrases.toml`. Every key is optional: what a language leaves out is taken
//! from the default language, then from the top folder's file.

use std::collections::BTreeMap;

use intl_pluralrules::PluralCategory;
use serde::Deserialize;

/// A phrase with a number in it, in the plural forms its language has (CLDR's categories:
/// `zero`, `one`, `two`, `few`, `many`, `other`); `{n}` is the number. A plain string is the
/// same text for every number (Japanese).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Plural {
    Same(String),
    Forms {
        zero: Option<String>,
        one: Option<String>,
        two: Option<String>,
        few: Option<String>,
        many: Option<String>,
        other: String,
    },
}

impl Plural {
    /// The form for `cat`, or `other` when the file has none for it.
    pub fn pick(&self, cat: PluralCategory) -> &str {
        match self {
            Plural::Same(s) => s,
            Plural::Forms {
                zero,
                one,
                two,
                few,
                many,
                other,
            } => match cat {
                PluralCategory::ZERO => zero.as_deref(),
                PluralCategory::ONE => one.as_deref(),
                PluralCategory::TWO => two.as_deref(),
                PluralCategory::FEW => few.as_deref(),
                PluralCategory::MANY => many.as_deref(),
                PluralCategory::OTHER => None,
            }
            .unwrap_or(other),
        }
    }
}

/// The promise made in the acknowledgment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Promise {
    /// Around the clock: "within {duration}" ({duration} as [`Phrases::duration`] writes it).
    pub wall: Option<String>,
    /// In business time, per unit (`minute`, `hour`, `day`).
    #[serde(default)]
    pub business: BTreeMap<String, Plural>,
}

/// The words of one language.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phrases {
    /// The locale whose weekday and month names dates use, as glibc names it (`de_DE`).
    pub date_locale: Option<String>,
    /// A date and time, strftime-style (`%A` weekday, `%B` month, `%Z` time zone).
    pub date: Option<String>,
    /// Durations per unit (`minute`, `hour`, `day`).
    #[serde(default)]
    pub duration: BTreeMap<String, Plural>,
    #[serde(default)]
    pub promise: Promise,
    /// The subject's stand-in when a complaint has none.
    pub no_subject: Option<String>,
    /// Words that open a greeting ("Hello", "Dear"): such a sentence is never restated.
    #[serde(default)]
    pub greetings: Vec<String>,
    /// Category labels by category name (else the config's label).
    #[serde(default)]
    pub categories: BTreeMap<String, String>,
    /// Priority labels by priority name (else the config's label).
    #[serde(default)]
    pub priorities: BTreeMap<String, String>,
    /// What a found number is called, by the name of its `[[acknowledgment.found]]` pattern.
    #[serde(default)]
    pub found: BTreeMap<String, String>,
    /// The acknowledgment's questions, by the name `[[acknowledgment.ask]]` gives.
    #[serde(default)]
    pub questions: BTreeMap<String, String>,
    /// The acknowledgment's empathy line: `priority.<name>`, then `category.<name>`, then
    /// `default`.
    #[serde(default)]
    pub empathy: BTreeMap<String, String>,
}

impl Phrases {
    /// One of the keyed tables, by its name in the file.
    pub fn table(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        match name {
            "categories" => Some(&self.categories),
            "priorities" => Some(&self.priorities),
            "found" => Some(&self.found),
            "questions" => Some(&self.questions),
            "empathy" => Some(&self.empathy),
            _ => None,
        }
    }
}
