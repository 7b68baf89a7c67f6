//! Customers in their own language, on the real Dovecot + Postfix: a complaint in each
//! shipped language gets its acknowledgment in that language (greeting by name, the
//! customer's own sentence restated, the promise, and the due date with the weekday and month
//! as that language writes them), while the agents' card stays in the team's language; an
//! agent switches a case's language with `#language`. What each person received is read back
//! from their Dovecot INBOX.

mod common;

use std::time::Duration;

use chrono::{Datelike, Timelike};
use common::replies::*;
use common::*;
use mailcase::parse::InboundMessage;

/// The agents, and rules that know each language's words for an outage and for a bill:
/// the integration config's own rules are English only.
const EXTRA: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"

[[classify.rules]]
name = "outage, every language"
keywords = ["Ausfall", "panne", "caída", "guasto", "storing", "interrupção", "障害"]
category = "technical"
priority = "urgent"

[[classify.rules]]
name = "bill, every language"
keywords = ["Rechnung", "facture", "factura", "fattura", "factuur", "fatura", "請求書"]
category = "billing"

[[acknowledgment.found]]
name = "invoice"
pattern = '(?-u:\b)(INV-\d{4}-\d{3,6})(?-u:\b)'

[[acknowledgment.found]]
name = "account"
pattern = '(?-u:\b)(CUST-\d{4,8})(?-u:\b)'

[[acknowledgment.ask]]
category = "technical"
question = "steps"

[[acknowledgment.ask]]
category = "billing"
question = "invoice_number"
unless_found = "invoice"
"#;

/// One complaint: its language, the customer's name, a greeting line, a sentence that says
/// nothing, the sentence with the rule's keyword (the one the acknowledgment must restate),
/// and whether it is urgent (2 hours around the clock) or not (1 business day).
struct Complaint {
    lang: &'static str,
    name: &'static str,
    greeting: &'static str,
    filler: &'static str,
    key: &'static str,
    urgent: bool,
    /// Weekday names Monday..Sunday and month names January..December as the language
    /// writes them (the test's own oracle, not the daemon's locale data).
    weekdays: [&'static str; 7],
    months: [&'static str; 12],
}

const COMPLAINTS: &[Complaint] = &[
    Complaint {
        lang: "en",
        name: "Emma Brown",
        greeting: "Hello,",
        filler: "I have been your customer for six years and never had to write before.",
        key: "Since 8 o'clock this morning there is an outage of your portal for all of our offices.",
        urgent: true,
        weekdays: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
        months: ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"],
    },
    Complaint {
        lang: "de",
        name: "Jürgen Weiß",
        greeting: "Sehr geehrte Damen und Herren,",
        filler: "wir sind seit vielen Jahren zufriedene Kunden Ihres Hauses.",
        key: "Seit heute früh um acht Uhr haben wir einen kompletten Ausfall Ihres Portals in allen Filialen.",
        urgent: true,
        weekdays: ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
        months: ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"],
    },
    Complaint {
        lang: "fr",
        name: "Élodie Martin",
        greeting: "Bonjour,",
        filler: "je suis cliente chez vous depuis plusieurs années et j'en suis très contente.",
        key: "Ma dernière facture INV-2026-0042 a été prélevée deux fois sur mon compte bancaire.",
        urgent: false,
        weekdays: ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
        months: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"],
    },
    Complaint {
        lang: "es",
        name: "Lucía Fernández",
        greeting: "Hola,",
        filler: "les escribo porque llevamos toda la mañana sin poder trabajar con normalidad.",
        key: "Desde las ocho hay una caída total de su plataforma en todas nuestras oficinas.",
        urgent: true,
        weekdays: ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
        months: ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
    },
    Complaint {
        lang: "it",
        name: "Giulia Rossi",
        greeting: "Buongiorno,",
        filler: "sono una vostra cliente da molti anni e non ho mai avuto problemi prima d'ora.",
        key: "L'ultima fattura mi è stata addebitata due volte sul conto corrente, senza alcuna spiegazione.",
        urgent: false,
        weekdays: ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"],
        months: ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"],
    },
    Complaint {
        lang: "nl",
        name: "Sanne de Vries",
        greeting: "Beste klantenservice,",
        filler: "wij zijn al jaren tevreden klant en schrijven u zelden.",
        key: "Sinds vanochtend acht uur is er een volledige storing van uw portaal in al onze vestigingen.",
        urgent: true,
        weekdays: ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"],
        months: ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"],
    },
    Complaint {
        lang: "pt",
        name: "João Silva",
        greeting: "Olá,",
        filler: "sou vosso cliente há muitos anos e nunca tive razão de queixa até agora.",
        key: "A minha última fatura foi cobrada duas vezes na minha conta bancária sem qualquer explicação.",
        urgent: false,
        weekdays: ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"],
        months: ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"],
    },
    Complaint {
        lang: "ja",
        name: "山田 花子",
        greeting: "お世話になっております。",
        filler: "お客様番号はCUST-20415です。",
        key: "本日朝8時から、全店舗でポータルの障害が発生しており業務ができません。",
        urgent: true,
        weekdays: ["（月）", "（火）", "（水）", "（木）", "（金）", "（土）", "（日）"],
        months: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月", "12月"],
    },
];

/// `s` without white space: text parts wrap long lines (Japanese anywhere between two
/// characters), so a phrase is looked for with the breaks taken out.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn raw(w: &World, from: &str, c: &Complaint) -> Vec<u8> {
    // Japanese has no spaces between sentences; the others one.
    let sep = if c.lang == "ja" { "" } else { " " };
    format!(
        "From: {name} <{from}>\r\nTo: Support <{support}>\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@customer.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {greeting}\r\n\r\n{filler}{sep}{key}\r\n\r\n-- \r\n{name}\r\n",
        name = c.name,
        support = w.support,
        subject = c.key.chars().take(30).collect::<String>(),
        id = unique(c.lang),
        greeting = c.greeting,
        filler = c.filler,
        key = c.key,
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_in_each_language_is_acknowledged_in_it_with_its_date_and_promise() {
    let w = World::new("languages", EXTRA);
    let cfg = w.config();
    let locales = mailcase::locale::Locales::load(&cfg.templates_dir(), "en", "en").unwrap();
    let d = w.start();
    let mut customers = Vec::new();
    for c in COMPLAINTS {
        let who = w.customer(&format!("cust-{}", c.lang));
        w.send_raw(&who, &w.support, &raw(&w, &who, c)).await;
        customers.push(who);
    }
    for (c, who) in COMPLAINTS.iter().zip(&customers) {
        let ack: InboundMessage = w.wait_for_acks(who).await.remove(0);
        let case = w.case_of(who);
        let text = &ack.text;
        assert_eq!(case.language.as_deref(), Some(c.lang), "{}: {text}", c.lang);
        assert_eq!(
            case.priority.as_str(),
            if c.urgent { "urgent" } else { "normal" },
            "{}",
            c.lang
        );
        assert!(text.contains(&case.reference), "{}: {text}", c.lang);
        assert!(text.contains(c.name), "greeted by name, {}: {text}", c.lang);
        // The sentence with the rule's keyword, not the greeting, the filler or the
        // signature (the text part wraps it, so compare without line breaks).
        let flat: String = text
            .lines()
            .filter_map(|l| l.trim_start().strip_prefix("> "))
            .collect::<Vec<_>>()
            .join(if c.lang == "ja" { "" } else { " " });
        assert!(
            flat.contains(c.key),
            "{}: restated {flat:?} in {text}",
            c.lang
        );
        assert!(!flat.contains(c.greeting), "{}: {flat:?}", c.lang);
        // The due date as the language writes it: weekday, day, month and time in the
        // business time zone, from the case's own due time.
        let due = case
            .first_response_due
            .unwrap()
            .with_timezone(&chrono_tz::Europe::Berlin);
        let weekday = c.weekdays[due.weekday().num_days_from_monday() as usize];
        let month = c.months[due.month0() as usize];
        let hhmm = format!("{:02}:{:02}", due.hour(), due.minute());
        for part in [weekday, month, hhmm.as_str(), &due.day().to_string()] {
            assert!(text.contains(part), "{}: {part} in {text}", c.lang);
        }
        // The promise, in the language's words (English only for English).
        let (first, clock) = if c.urgent {
            (Duration::from_secs(7200), mailcase::config::ClockKind::Wall)
        } else {
            (
                Duration::from_secs(86_400),
                mailcase::config::ClockKind::Business,
            )
        };
        let promise = locales.promise(c.lang, first, clock);
        assert!(
            squash(text).contains(&squash(&promise)),
            "{}: {promise} in {text}",
            c.lang
        );
        if c.lang != "en" {
            assert_ne!(promise, locales.promise("en", first, clock), "{}", c.lang);
            assert!(!text.contains("within"), "{}: {text}", c.lang);
        }
        // What we found, and what we ask for, in the language's words.
        if c.lang == "fr" {
            assert!(text.contains("INV-2026-0042"), "{text}");
            let ask = locales.word("fr", "questions", "invoice_number").unwrap();
            assert!(
                !squash(text).contains(&squash(ask)),
                "the invoice number was found, so it is not asked for: {text}"
            );
        }
        if c.lang == "ja" {
            // A number written against Japanese text, with no space: found all the same.
            assert!(text.contains("CUST-20415"), "{text}");
            let label = locales.word("ja", "found", "account").unwrap();
            assert!(text.contains(label), "{label} in {text}");
        }
        if c.urgent {
            let steps = locales.word(c.lang, "questions", "steps").unwrap();
            assert!(
                squash(text).contains(&squash(steps)),
                "{}: {steps} in {text}",
                c.lang
            );
        }
        let raw = read_raw(who, "INBOX", &w.env).await.remove(0);
        let html = html_of(&raw);
        assert!(
            html.contains(&format!("lang=\"{}\"", c.lang)),
            "{}: {html}",
            c.lang
        );
        assert!(html.contains(c.name), "{}", c.lang);
    }
    // The agents' cards stay in the team's language (English), whatever the customer wrote.
    let cards = wait_mail(&w, &w.ann, COMPLAINTS.len()).await;
    for card in &cards {
        assert!(card.text.contains("Commands"), "{}", card.text);
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_switches_the_language_with_a_command_and_a_wrong_code_is_refused() {
    let w = World::new("language_cmd", EXTRA);
    let d = w.start();
    let jane = w.customer("jane");
    // English text: the case is English.
    let c = &COMPLAINTS[0];
    w.send_raw(&jane, &w.support, &raw(&w, &jane, c)).await;
    let ack = w.wait_for_acks(&jane).await.remove(0);
    let case = w.case_of(&jane);
    assert_eq!(case.language.as_deref(), Some("en"), "{}", ack.text);
    let card = wait_mail(&w, &w.ann, 1).await.remove(0);

    // A code we ship no templates for: refused with the codes we have, nothing sent.
    let bad = thunderbird_reply(&w.ann, "Ann Agent", &card, "#language xx\r\nHallo Emma!");
    w.send_raw(&w.ann, &w.support, bad.as_bytes()).await;
    let err = wait_mail(&w, &w.ann, 2).await.remove(1);
    assert!(err.text.contains("#language xx"), "{}", err.text);
    assert!(
        err.text.contains("de, en, es, fr, it, ja, nl, pt"),
        "{}",
        err.text
    );
    assert_eq!(w.case_of(&jane).language.as_deref(), Some("en"));

    // `#language de` with the answer: the answer and its status update go out in German.
    let good = thunderbird_reply(
        &w.ann,
        "Ann Agent",
        &err,
        "#language de\r\n#resolve\r\nHallo Emma, das Portal läuft wieder.",
    );
    w.send_raw(&w.ann, &w.support, good.as_bytes()).await;
    let answer = wait_mail_where(&w, &jane, "the German answer", |m| {
        m.text.contains("das Portal läuft wieder")
    })
    .await;
    let case = w.case_of(&jane);
    assert_eq!(case.language.as_deref(), Some("de"));
    let raw = read_raw(&jane, "INBOX", &w.env)
        .await
        .into_iter()
        .find(|r| String::from_utf8_lossy(r).contains(answer.message_id.as_deref().unwrap()))
        .unwrap();
    assert!(html_of(&raw).contains("lang=\"de\""), "{}", answer.text);
    // The resolved notice inside the answer is German: it names the reopen window in German
    // words ("14 Tage"), not English.
    assert!(!answer.text.contains("days"), "{}", answer.text);
    // The change is audited with who made it.
    let audit = w.store().read().audit_of_case(Some(case.id)).unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.event == mailcase::case::kinds::AuditEvent::Language
                && a.detail.contains("\"de\"")
                && a.actor.contains("ann-")),
        "{audit:?}"
    );
    d.stop().await;
}
