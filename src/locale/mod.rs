//! Languages: the words the daemon itself puts into mail (dates, durations, promises,
//! labels, the acknowledgment's questions and empathy line), per language, and which
//! language a mail is written in.
//!
//! The templates folder holds the default (English) templates and `phrases.toml` at its
//! top, and one folder per further language (`de/`, `fr/`, ...) with that language's
//! templates and `phrases.toml`. A template or phrase missing in a language's folder falls
//! back to the configured default language, then to the top folder. Weekday and month names
//! come from chrono's locale data (glibc's), plural forms from CLDR's rules
//! (`intl_pluralrules`); `phrases.toml` holds only the words around them.

mod phrases;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};

use crate::business_time::BusinessCalendar;
use crate::config::ClockKind;

pub use phrases::{Phrases, Plural};

/// The top folder's language: the templates shipped at the top of the folder are English.
pub const BASE: &str = "en";

/// A problem loading a language's phrases: the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LocaleError {
    pub path: PathBuf,
    pub message: String,
}

/// One language's words, with its plural rules and date locale resolved.
#[derive(Debug)]
struct Language {
    phrases: Phrases,
    plurals: Option<PluralRulesBox>,
    chrono: Option<chrono::Locale>,
}

/// `PluralRules` is not `Debug`.
struct PluralRulesBox(PluralRules);

impl std::fmt::Debug for PluralRulesBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PluralRules")
    }
}

/// Every language the templates folder ships, and the two the config names.
#[derive(Debug)]
pub struct Locales {
    langs: BTreeMap<String, Language>,
    default: String,
    team: String,
}

/// A language code as the daemon keeps it: `de`, `pt`, `pt-br` (lower case, `_` as `-`).
pub fn normalize(code: &str) -> Option<String> {
    let c = code.trim().replace('_', "-").to_ascii_lowercase();
    let ok = !c.is_empty()
        && c.len() <= 12
        && c.split('-')
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_alphanumeric()))
        && c.split('-').next().is_some_and(|p| {
            (2..=3).contains(&p.len()) && p.chars().all(|ch| ch.is_ascii_alphabetic())
        });
    ok.then_some(c)
}

impl Locales {
    /// Reads `phrases.toml` from `dir` (the base language) and from each language folder in
    /// it. `default` and `team` must be among them (the config check names the key).
    ///
    /// # Errors
    /// [`LocaleError`] naming the file that cannot be read or parsed.
    pub fn load(dir: &Path, default: &str, team: &str) -> Result<Locales, LocaleError> {
        Self::load_overlay(dir, None, default, team)
    }

    /// [`Locales::load`] of `dir`, with a brand's folder laid over it: each `phrases.toml` of
    /// `overlay` (top, or a language folder) replaces the words it names in the shipped file
    /// of the same language, table by table down to each word; a language folder only the
    /// overlay has is a language of its own.
    ///
    /// # Errors
    /// As [`Locales::load`], for either folder.
    pub fn load_overlay(
        dir: &Path,
        overlay: Option<&Path>,
        default: &str,
        team: &str,
    ) -> Result<Locales, LocaleError> {
        let mut langs = BTreeMap::new();
        let top = |d: &Path| d.join("phrases.toml");
        langs.insert(
            BASE.to_string(),
            Language::read_layers(BASE, &top(dir), overlay.map(top).as_deref())?,
        );
        let mut subdirs = language_folders(dir)?;
        if let Some(o) = overlay {
            for (code, path) in language_folders(o)? {
                if !subdirs.iter().any(|(c, _)| *c == code) {
                    subdirs.push((code, path));
                }
            }
        }
        subdirs.sort();
        for (code, path) in subdirs {
            let file = path.join("phrases.toml");
            let over = overlay
                .map(|o| o.join(&code).join("phrases.toml"))
                .filter(|f| f.exists());
            let lang = if file.exists() {
                Language::read_layers(&code, &file, over.as_deref())?
            } else if let Some(f) = &over {
                Language::read(&code, f)?
            } else {
                Language::new(&code, Phrases::default())
            };
            langs.insert(code, lang);
        }
        for (key, code) in [("language.default", default), ("language.team", team)] {
            if !langs.contains_key(code) {
                return Err(LocaleError {
                    path: dir.to_path_buf(),
                    message: format!(
                        "{key} = \"{code}\" but the templates folder has no {code}/ folder \
                         (it has: {})",
                        langs.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
        Ok(Locales {
            langs,
            default: default.to_string(),
            team: team.to_string(),
        })
    }

    /// English only, from the phrases built into the binary (tests, and a templates folder
    /// without `phrases.toml` of its own is an error, not this).
    pub fn builtin() -> Locales {
        let phrases: Phrases =
            toml::from_str(include_str!("../../templates/phrases.toml")).expect("shipped phrases");
        let mut langs = BTreeMap::new();
        langs.insert(BASE.to_string(), Language::new(BASE, phrases));
        Locales {
            langs,
            default: BASE.into(),
            team: BASE.into(),
        }
    }

    /// The languages the folder ships.
    pub fn languages(&self) -> impl Iterator<Item = &str> {
        self.langs.keys().map(String::as_str)
    }

    /// Whether mail can be written in `code`.
    pub fn has(&self, code: &str) -> bool {
        self.langs.contains_key(code)
    }

    /// The language customers get when theirs is unknown or not shipped.
    pub fn default_language(&self) -> &str {
        &self.default
    }

    /// The agents' and managers' language.
    pub fn team(&self) -> &str {
        &self.team
    }

    /// `code` when it is shipped, its primary language (`pt` for `pt-br`) when that is, or
    /// the default language.
    pub fn resolve<'a>(&'a self, code: Option<&str>) -> &'a str {
        let Some(c) = code.and_then(normalize) else {
            return &self.default;
        };
        if let Some((k, _)) = self.langs.get_key_value(&c) {
            return k;
        }
        let primary = c.split('-').next().unwrap_or("");
        match self.langs.get_key_value(primary) {
            Some((k, _)) => k,
            None => &self.default,
        }
    }

    /// The order languages are searched for a phrase or template: `lang`, the default
    /// language, the base language.
    pub fn chain<'a>(&'a self, lang: &'a str) -> impl Iterator<Item = &'a str> {
        let mut v: Vec<&str> = vec![lang];
        for l in [self.default.as_str(), BASE] {
            if !v.contains(&l) {
                v.push(l);
            }
        }
        v.into_iter()
    }

    fn langs_of(&self, lang: &str) -> Vec<&Language> {
        self.chain(lang).filter_map(|l| self.langs.get(l)).collect()
    }

    /// The first phrase `get` finds along [`Locales::chain`].
    fn find<'a, T: ?Sized>(
        &'a self,
        lang: &str,
        get: impl Fn(&'a Phrases) -> Option<&'a T>,
    ) -> Option<&'a T> {
        self.langs_of(lang)
            .into_iter()
            .find_map(|l| get(&l.phrases))
    }

    /// A phrase by key from one of the tables of phrases.toml (`questions`, `found`,
    /// `empathy`, `categories`, `priorities`).
    pub fn word(&self, lang: &str, table: &str, key: &str) -> Option<&str> {
        self.find(lang, |p| p.table(table).and_then(|t| t.get(key)))
            .map(String::as_str)
    }

    /// `n` with the plural form `forms` gives it in `lang`.
    fn count(&self, lang: &str, forms: &Plural, n: u64) -> String {
        let cat = self
            .langs_of(lang)
            .into_iter()
            .find_map(|l| l.plurals.as_ref())
            .and_then(|p| p.0.select(n).ok())
            .unwrap_or(if n == 1 {
                PluralCategory::ONE
            } else {
                PluralCategory::OTHER
            });
        forms.pick(cat).replace("{n}", &n.to_string())
    }

    /// A duration as `lang` writes it: "2 hours", "2 Stunden", "2時間".
    pub fn duration(&self, lang: &str, d: std::time::Duration) -> String {
        let (n, unit) = split_duration(d);
        match self.find(lang, |p| p.duration.get(unit)) {
            Some(forms) => self.count(lang, forms, n),
            None => format!("{n} {unit}"),
        }
    }

    /// The first-response promise: "within 2 hours", "innerhalb von 1 Arbeitstag".
    pub fn promise(&self, lang: &str, d: std::time::Duration, clock: ClockKind) -> String {
        match clock {
            ClockKind::Wall => {
                let span = self.duration(lang, d);
                let within = self
                    .find(lang, |p| p.promise.wall.as_ref())
                    .map_or("within {duration}", String::as_str);
                within.replace("{duration}", &span)
            }
            ClockKind::Business => {
                let (n, unit) = split_duration(d);
                match self.find(lang, |p| p.promise.business.get(unit)) {
                    Some(forms) => self.count(lang, forms, n),
                    None => format!("within {n} business {unit}s"),
                }
            }
        }
    }

    /// A time in the business time zone as `lang` writes a date and time, weekday and month
    /// named in that language.
    pub fn date(&self, lang: &str, t: DateTime<Utc>, cal: &BusinessCalendar) -> String {
        let l = t.with_timezone(&cal.tz());
        let pattern = self
            .find(lang, |p| p.date.as_ref())
            .map_or("%A %-d %B %Y, %H:%M %Z", String::as_str);
        match self.langs_of(lang).into_iter().find_map(|x| x.chrono) {
            Some(loc) => l.format_localized(pattern, loc).to_string(),
            None => l.format(pattern).to_string(),
        }
    }

    /// A subject line's stand-in when there is none.
    pub fn no_subject(&self, lang: &str) -> &str {
        self.find(lang, |p| p.no_subject.as_ref())
            .map_or("(no subject)", String::as_str)
    }

    /// The words that open a greeting in `lang` (and in the base language): a sentence that
    /// starts with one is not the complaint.
    pub fn greetings(&self, lang: &str) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for l in self.langs_of(lang) {
            v.extend(l.phrases.greetings.iter().map(String::as_str));
        }
        v
    }
}

/// A whole number of days, else of hours, else minutes (rounded up).
fn split_duration(d: std::time::Duration) -> (u64, &'static str) {
    let s = d.as_secs();
    if s >= 86_400 && s.is_multiple_of(86_400) {
        (s / 86_400, "day")
    } else if s >= 3600 && s.is_multiple_of(3600) {
        (s / 3600, "hour")
    } else {
        (s.div_ceil(60), "minute")
    }
}

/// The language folders of a templates folder (`de/`, `pt/`...), by code.
fn language_folders(dir: &Path) -> Result<Vec<(String, PathBuf)>, LocaleError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LocaleError {
        path: dir.to_path_buf(),
        message: format!("cannot read the folder: {e}"),
    })?;
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            normalize(&name)
                .filter(|n| *n == name)
                .map(|n| (n, e.path()))
        })
        .collect())
}

/// Lays `over` on `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(bv) => merge(bv, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

impl Language {
    fn read(code: &str, path: &Path) -> Result<Language, LocaleError> {
        Self::read_layers(code, path, None)
    }

    /// The phrases of `path`, with those of `over` (a brand's) laid over them.
    fn read_layers(code: &str, path: &Path, over: Option<&Path>) -> Result<Language, LocaleError> {
        let value = |p: &Path| -> Result<toml::Value, LocaleError> {
            let text = std::fs::read_to_string(p).map_err(|e| LocaleError {
                path: p.to_path_buf(),
                message: format!("cannot read: {e}"),
            })?;
            toml::from_str(&text).map_err(|e| LocaleError {
                path: p.to_path_buf(),
                message: e.to_string(),
            })
        };
        let mut v = value(path)?;
        let path = match over.filter(|o| o.exists()) {
            Some(o) => {
                merge(&mut v, value(o)?);
                o
            }
            None => path,
        };
        let phrases: Phrases = v.try_into().map_err(|e: toml::de::Error| LocaleError {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(l) = &phrases.date_locale {
            if chrono::Locale::try_from(l.as_str()).is_err() {
                return Err(LocaleError {
                    path: path.to_path_buf(),
                    message: format!(
                        "date_locale = \"{l}\" is not a locale chrono knows (write it as \
                         glibc does: de_DE, pt_BR, ja_JP)"
                    ),
                });
            }
        }
        Ok(Language::new(code, phrases))
    }

    fn new(code: &str, phrases: Phrases) -> Language {
        let chrono = phrases
            .date_locale
            .as_deref()
            .and_then(|l| chrono::Locale::try_from(l).ok());
        let plurals = code
            .parse::<unic_langid::LanguageIdentifier>()
            .ok()
            .and_then(|id| {
                // CLDR rules exist per primary language; `pt-br` has its own.
                PluralRules::create(id.clone(), PluralRuleType::CARDINAL)
                    .or_else(|_| {
                        let primary: unic_langid::LanguageIdentifier =
                            id.language.as_str().parse().map_err(|_| "language")?;
                        PluralRules::create(primary, PluralRuleType::CARDINAL)
                    })
                    .ok()
            })
            .map(PluralRulesBox);
        Language {
            phrases,
            plurals,
            chrono,
        }
    }
}

#[cfg(test)]
mod tests;
