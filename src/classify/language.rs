//! The language of a new complaint: which of the shipped languages its customer is written
//! to in.
//!
//! The rule (docs/design.md, "Languages"):
//! 1. Text with Hiragana or Katakana is Japanese: no other shipped language uses them.
//! 2. Otherwise the detector (whichlang; `bench/language-detect` has the figures and why)
//!    reads the subject and the reply text (quote and signature removed; its first 200
//!    characters). An answer outside the shipped languages is no answer.
//! 3. A text of at least [`SURE_LETTERS`] letters decides, even over a Content-Language header
//!    that says something else: mail clients set that header from their own settings (an
//!    English Outlook writes `Content-Language: en-US` on a German complaint), while the text
//!    is what the customer wrote.
//! 4. A shorter text (where the detector errs: "Trackingnummer werkt niet" reads as German)
//!    gives way to a Content-Language header naming a shipped language; without one, the
//!    text decides when it has at least [`MIN_LETTERS`] letters.
//! 5. Else `language.default` (no text, one word, a language we do not ship, right-to-left
//!    Arabic or Hebrew).
//!
//! Mail in two languages gets the language most of its text is in.

use whichlang::Lang;

use crate::locale::Locales;
use crate::parse::InboundMessage;

/// How the language was found (kept in the case's audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Hiragana or Katakana in the text.
    Script,
    /// The detector, on enough text.
    Text,
    /// The Content-Language header.
    Header,
    /// `language.default`: nothing else said.
    Default,
}

/// A complaint's language and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Detected {
    pub language: String,
    pub source: Source,
    /// Letters the detector read (a Japanese or Chinese character counts two).
    pub letters: usize,
    /// What the detector said, when it named a shipped language (`de`).
    pub text_says: Option<String>,
    /// What the Content-Language header said, when there was one.
    pub header_says: Option<String>,
}

/// From this many letters the text decides, whatever the header says: the detector was right
/// on every sample complaint of more than 30 characters (bench/language-detect).
pub const SURE_LETTERS: usize = 30;
/// Under this many letters (a word or two) the detector is not asked.
pub const MIN_LETTERS: usize = 12;

/// At most this many characters are read: the language shows in the first sentence or two.
const MAX_CHARS: usize = 200;

/// The shipped language `l` is, if it is one.
fn code(l: Lang) -> Option<&'static str> {
    Some(match l {
        Lang::Eng => "en",
        Lang::Deu => "de",
        Lang::Fra => "fr",
        Lang::Spa => "es",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Por => "pt",
        Lang::Jpn => "ja",
        _ => return None,
    })
}

/// Letters of `text`: alphabetic characters, a Japanese or Chinese one counting two (it says
/// about as much as two Latin letters).
fn letters(text: &str) -> usize {
    text.chars()
        .filter(|c| c.is_alphabetic())
        .map(crate::render::columns)
        .sum()
}

/// What the detector says of `text`: a shipped language's code (or none), how many letters
/// it read, and whether kana decided it.
pub fn from_text(text: &str) -> (Option<&'static str>, usize, bool) {
    let end = text
        .char_indices()
        .nth(MAX_CHARS)
        .map_or(text.len(), |(i, _)| i);
    let text = &text[..end];
    let n = letters(text);
    if text
        .chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}'))
    {
        return (Some("ja"), n, true);
    }
    if n < MIN_LETTERS {
        return (None, n, false);
    }
    (code(whichlang::detect_language(text)), n, false)
}

/// The language `msg`'s customer is written to in, among those `locales` ships.
pub fn detect(msg: &InboundMessage, locales: &Locales, enabled: bool) -> Detected {
    let default = || Detected {
        language: locales.default_language().to_string(),
        source: Source::Default,
        letters: 0,
        text_says: None,
        header_says: None,
    };
    if !enabled {
        return default();
    }
    let header = msg
        .header("Content-Language")
        .and_then(|h| h.split(',').next())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    let shipped_header = header
        .as_deref()
        .map(|h| locales.resolve(Some(h)))
        .filter(|l| {
            header
                .as_deref()
                .and_then(crate::locale::normalize)
                .is_some_and(|h| h == *l || h.split('-').next() == Some(l))
        });
    // The subject and the start of the text: no more than the detector reads (a long mail
    // is not copied whole for 200 characters).
    let body = msg.new_text();
    let body_end = body
        .char_indices()
        .nth(MAX_CHARS)
        .map_or(body.len(), |(i, _)| i);
    let sample = format!("{}\n{}", msg.subject, &body[..body_end]);
    let (text, n, kana) = from_text(&sample);
    let text = text.filter(|l| locales.has(l));
    let kana = kana && text.is_some();
    let mut d = default();
    d.header_says = header;
    d.text_says = text.map(str::to_string);
    d.letters = n;
    match (text, shipped_header) {
        (Some(l), _) if kana || n >= SURE_LETTERS => {
            d.language = l.to_string();
            d.source = if kana { Source::Script } else { Source::Text };
        }
        (_, Some(h)) => {
            d.language = h.to_string();
            d.source = Source::Header;
        }
        (Some(l), None) => {
            d.language = l.to_string();
            d.source = Source::Text;
        }
        (None, None) => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaints_in_each_shipped_language_are_told_apart() {
        for (text, want) in [
            (
                "My invoice was charged twice this month and nobody answers my calls.",
                "en",
            ),
            (
                "Meine Rechnung wurde diesen Monat doppelt abgebucht und niemand ruft zurück.",
                "de",
            ),
            (
                "Ma facture a été débitée deux fois ce mois-ci et personne ne me répond.",
                "fr",
            ),
            (
                "Me han cobrado la factura dos veces este mes y nadie me contesta.",
                "es",
            ),
            (
                "La mia fattura è stata addebitata due volte questo mese e nessuno risponde.",
                "it",
            ),
            (
                "Mijn factuur is deze maand twee keer afgeschreven en niemand reageert.",
                "nl",
            ),
            (
                "A minha fatura foi cobrada duas vezes este mês e ninguém me responde.",
                "pt",
            ),
            (
                "今月の請求書が二重に引き落とされました。誰も電話に出ません。",
                "ja",
            ),
        ] {
            let got = from_text(text);
            assert_eq!(got.0, Some(want), "{text}: {got:?}");
            assert_eq!(got.2, want == "ja", "{text}: {got:?}");
            assert!(got.1 >= SURE_LETTERS, "{text}: {got:?}");
        }
    }

    fn shipped() -> Locales {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        Locales::load(&dir, "en", "en").unwrap()
    }

    fn mail(headers: &str, body: &str) -> InboundMessage {
        let raw = format!(
            "From: A <a@customer.test>\r\nTo: support@support.test\r\nSubject: \r\n{headers}\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        );
        crate::parse::parse(raw.as_bytes(), &crate::parse::ParseLimits::default()).unwrap()
    }

    /// The bad inputs of the issue, each with its defined outcome (docs/design.md,
    /// "Languages").
    #[test]
    fn header_text_and_default_decide_as_documented() {
        let l = shipped();
        let d = |h: &str, b: &str| detect(&mail(h, b), &l, true);
        // The header contradicts a text that is sure: the text wins.
        let x = d(
            "Content-Language: en-US\r\n",
            "Seit heute Morgen ist Ihr Portal nicht erreichbar und wir können nicht arbeiten.",
        );
        assert_eq!(
            (x.language.as_str(), x.source),
            ("de", Source::Text),
            "{x:?}"
        );
        assert_eq!(x.header_says.as_deref(), Some("en-US"));
        // One word: the header decides, or else the default.
        let x = d("Content-Language: de-DE\r\n", "Rechnung?");
        assert_eq!(x.language, "de", "{x:?}");
        let x = d("", "Hallo");
        assert_eq!(
            (x.language.as_str(), x.source),
            ("en", Source::Default),
            "{x:?}"
        );
        // No text at all, no header: the default.
        let x = d("", "");
        assert_eq!(
            (x.language.as_str(), x.source),
            ("en", Source::Default),
            "{x:?}"
        );
        // A header naming a language we do not ship, and Arabic (right to left): the default.
        let x = d(
            "Content-Language: ar\r\n",
            "لم يصل الطرد الخاص بي بعد، أرجو المساعدة في أقرب وقت ممكن",
        );
        assert_eq!(
            (x.language.as_str(), x.source),
            ("en", Source::Default),
            "{x:?}"
        );
        // Two languages: the one most of the text is in.
        let x = d(
            "",
            "Sorry for my English. Meine Bestellung ist seit drei Wochen nicht angekommen, \
             die Sendungsverfolgung zeigt seit dem 2. Dezember keinen neuen Status, und \
             niemand beantwortet meine E-Mails.",
        );
        assert_eq!(x.language, "de", "{x:?}");
        // Japanese with English product names: the kana decide.
        let x = d("", "iPhone 15 ProのケースがAmazonから届きません");
        assert_eq!(
            (x.language.as_str(), x.source),
            ("ja", Source::Script),
            "{x:?}"
        );
        // Detection off: the default, whatever the mail says.
        let x = detect(
            &mail("Content-Language: de\r\n", "Meine Rechnung ist falsch."),
            &l,
            false,
        );
        assert_eq!(
            (x.language.as_str(), x.source),
            ("en", Source::Default),
            "{x:?}"
        );
    }

    #[test]
    fn arabic_and_hebrew_are_no_shipped_language() {
        assert_eq!(
            from_text("لم يصل الطرد الخاص بي بعد، أرجو المساعدة").0,
            None
        );
        assert_eq!(from_text("החבילה שלי עדיין לא הגיעה, אנא עזרו לי").0, None);
    }
}
