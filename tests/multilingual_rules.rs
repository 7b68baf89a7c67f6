//! Recall of the shipped classification rules (`config/mailcase.example.toml`) over complaints
//! in eight languages (`tests/fixtures/multilingual/complaints.tsv`): every urgent complaint is
//! urgent, the category is right for at least 90 % per language, and no other complaint is
//! made urgent. The held-out texts (fifth column `heldout`, written after the keywords) are
//! only measured. Run with `-- --nocapture` to see the table.

use std::collections::BTreeMap;
use std::path::Path;

use mailcase::classify::Classifier;
use mailcase::config::Config;
use mailcase::parse::{parse, ParseLimits};

const LANGUAGES: [&str; 8] = ["en", "de", "fr", "es", "it", "nl", "pt", "ja"];

struct Sample {
    line: usize,
    lang: String,
    category: String,
    priority: String,
    text: String,
    heldout: bool,
}

fn samples() -> Vec<Sample> {
    let text = include_str!("fixtures/multilingual/complaints.tsv");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() == 4 || (cols.len() == 5 && cols[4] == "heldout"),
            "line {}: expected 4 columns (or a 5th `heldout`): {line}",
            i + 1
        );
        assert!(LANGUAGES.contains(&cols[0]), "line {}: language", i + 1);
        out.push(Sample {
            line: i + 1,
            lang: cols[0].into(),
            category: cols[1].into(),
            priority: cols[2].into(),
            text: cols[3].into(),
            heldout: cols.len() == 5,
        });
    }
    out
}

/// A plain UTF-8 mail with the text as its body, as a customer's client sends it.
fn message(text: &str) -> mailcase::parse::InboundMessage {
    let raw = format!(
        "From: Customer <customer@customer.test>\r\nTo: support@support.test\r\n\
         Subject: \r\nMessage-ID: <m@customer.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
    );
    parse(raw.as_bytes(), &ParseLimits::default()).expect("sample parses")
}

#[derive(Default)]
struct Tally {
    texts: usize,
    urgent: usize,
    urgent_hit: usize,
    category_hit: usize,
    not_urgent: usize,
    false_urgent: usize,
}

impl Tally {
    fn ratio(hit: usize, of: usize) -> String {
        if of == 0 {
            "-".into()
        } else {
            format!("{hit}/{of} {:.2}", hit as f64 / of as f64)
        }
    }

    fn row(&self, lang: &str) -> String {
        format!(
            "{lang:<5} {:>5} {:>13} {:>14} {:>12}",
            self.texts,
            Self::ratio(self.urgent_hit, self.urgent),
            Self::ratio(self.category_hit, self.texts),
            format!("{}/{}", self.false_urgent, self.not_urgent),
        )
    }
}

fn table(title: &str, tallies: &BTreeMap<&str, Tally>) {
    println!("\n{title}");
    println!(
        "{:<5} {:>5} {:>13} {:>14} {:>12}",
        "lang", "texts", "urgent recall", "category", "false urgent"
    );
    let mut all = Tally::default();
    for lang in LANGUAGES {
        let t = &tallies[lang];
        println!("{}", t.row(lang));
        all.texts += t.texts;
        all.urgent += t.urgent;
        all.urgent_hit += t.urgent_hit;
        all.category_hit += t.category_hit;
        all.not_urgent += t.not_urgent;
        all.false_urgent += t.false_urgent;
    }
    println!("{}", all.row("all"));
}

#[test]
fn shipped_rules_recognise_complaints_in_eight_languages() {
    let config = Config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/mailcase.example.toml"
    )))
    .expect("example config loads");
    let classifier = Classifier::from_config(&config).expect("example rules compile");

    let mut dev: BTreeMap<&str, Tally> = LANGUAGES.iter().map(|l| (*l, Tally::default())).collect();
    let mut held: BTreeMap<&str, Tally> =
        LANGUAGES.iter().map(|l| (*l, Tally::default())).collect();
    let mut misses = Vec::new();
    let mut held_misses = Vec::new();
    let samples = samples();
    for s in &samples {
        let got = classifier.classify(&message(&s.text));
        let lang = LANGUAGES.iter().find(|l| **l == s.lang).unwrap();
        let t = if s.heldout { &mut held } else { &mut dev }
            .get_mut(lang)
            .unwrap();
        t.texts += 1;
        let category_ok = got.category == s.category;
        t.category_hit += usize::from(category_ok);
        let urgent = got.priority == "urgent";
        if s.priority == "urgent" {
            t.urgent += 1;
            t.urgent_hit += usize::from(urgent);
        } else {
            t.not_urgent += 1;
            t.false_urgent += usize::from(urgent);
        }
        if !category_ok || got.priority != s.priority {
            let m = format!(
                "  line {} {}: expected {}/{}, got {}/{} {:?}: {}",
                s.line,
                s.lang,
                s.category,
                s.priority,
                got.category,
                got.priority,
                got.matched_rules,
                s.text
            );
            if s.heldout {
                held_misses.push(m);
            } else {
                misses.push(m);
            }
        }
    }

    table("Shipped rules, development texts", &dev);
    println!("misses:");
    for m in &misses {
        println!("{m}");
    }
    table("Shipped rules, held-out texts (not tuned on)", &held);
    println!("misses:");
    for m in &held_misses {
        println!("{m}");
    }

    for lang in LANGUAGES {
        let t = &dev[lang];
        assert!(t.texts >= 12, "{lang}: only {} texts", t.texts);
        assert!(t.urgent > 0 && t.not_urgent > 0, "{lang}: needs both kinds");
        assert_eq!(
            t.urgent_hit,
            t.urgent,
            "{lang}: an urgent complaint is not urgent:\n{}",
            misses.join("\n")
        );
        assert!(
            t.category_hit as f64 >= 0.9 * t.texts as f64,
            "{lang}: category recall {}/{}:\n{}",
            t.category_hit,
            t.texts,
            misses.join("\n")
        );
        assert_eq!(
            t.false_urgent,
            0,
            "{lang}: a complaint that is not urgent was made urgent:\n{}",
            misses.join("\n")
        );
    }
}

/// Everyday sentences with words the urgent rules leave out or only take in phrases.
#[test]
fn harmless_sentences_are_not_urgent() {
    let config = Config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/mailcase.example.toml"
    )))
    .expect("example config loads");
    let classifier = Classifier::from_config(&config).expect("example rules compile");
    let harmless = [
        "Your support team is not responding to my emails.",
        "Where can I download last month's statement?",
        "We are storing our files in your cloud, is there a size limit?",
        "Entschuldigen Sie die Störung, ich hätte eine kurze Frage.",
        "Ihre Hotline ist telefonisch nicht erreichbar, bitte rufen Sie mich zurück.",
        "Le délai de réponse était trop court. Merci pour la prise en charge.",
        "Le service client ne répond pas à mes messages.",
        "J'ai commandé un avocat et des tomates, il manque l'avocat.",
        "A causa del ritardo vorrei sapere quando arriva il pacco.",
        "Il servizio clienti è irraggiungibile al telefono.",
        "Ik ben bezorgd over de prijsverhoging van volgend jaar.",
        "De klantenservice is onbereikbaar, niemand neemt op.",
        "O dinheiro do estorno caiu na conta hoje, obrigado.",
        "He pedido ayuda dos veces y nadie contesta.",
        "ダウンロードの方法を教えてください。",
        "視覚障害があるため、大きい文字の請求書を希望します。",
        "配送を一時停止していただけますか。",
    ];
    let mut urgent = Vec::new();
    for text in harmless {
        let got = classifier.classify(&message(text));
        if got.priority == "urgent" {
            urgent.push(format!("{text} {:?}", got.matched_rules));
        }
    }
    assert!(urgent.is_empty(), "made urgent:\n{}", urgent.join("\n"));
}
