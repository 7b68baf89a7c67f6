//! Replies and auto-replies in the eight languages mailcase serves (`tests/fixtures/i18n/`,
//! see its README): English, German, French, Spanish, Italian, Dutch, Portuguese, Japanese.
//! Each reply is written as a common client of that country sends it (localized subject
//! prefix, localized quote header or Outlook header block, the charset and transfer encoding
//! the client uses, ISO-2022-JP and Shift_JIS included); each auto-reply as Exchange, Gmail or
//! a typical provider sends it, with and without `Auto-Submitted`. Pure: no servers.
//!
//! For every fixture: the subject's base is the case's subject without the localized prefix
//! and the tag threads it; a reply's text after quote stripping holds the new words and none
//! of the quoted acknowledgment; an auto-reply is a robot, and a person's reply (including
//! ones that talk about absences and automatic replies) is not.

use mailcase::case::Reference;
use mailcase::classify::robot::{detect, RobotKind};
use mailcase::parse::answer::Answer;
use mailcase::parse::{parse, InboundMessage, ParseLimits};
use mailcase::thread::subject::{base_subject, has_reply_prefix};

const TAG: &str = "CMP-7KQ4X-V";
const OWN: &str = "support@shop.example.test";

/// What a fixture is.
enum Expect {
    /// A person's reply: `new` must be in the reply text, `quoted` must not.
    Reply {
        new: &'static [&'static str],
        quoted: &'static [&'static str],
    },
    /// A person writing, not a reply to our mail, that must not read as a robot.
    Person { new: &'static [&'static str] },
    /// An automatic answer.
    AutoReply,
}

struct Fixture {
    path: &'static str,
    /// The base subject (without prefixes and tag); an auto-reply's label ("Automatic reply:")
    /// is no reply prefix, and a robot never names a case, so only its tag is checked.
    base: Option<&'static str>,
    expect: Expect,
}

use Expect::{AutoReply, Person, Reply};

/// The acknowledgment's lines that come back quoted, per language, and the quote header's
/// words: none may be left in a reply's text.
const EN_Q: &[&str] = &[
    "Your case number is",
    "We will answer within",
    "wrote:",
    "From:",
    "Sent:",
];
const DE_Q: &[&str] = &[
    "Ihre Fallnummer",
    "Wir antworten",
    "schrieb",
    "Von:",
    "Gesendet:",
    "Betreff:",
];
const FR_Q: &[&str] = &[
    "Votre numéro de dossier",
    "Nous vous répondrons",
    "a écrit",
    "écrit :",
    "De :",
    "Envoyé :",
    "Message d'origine",
];
const ES_Q: &[&str] = &[
    "Su número de caso",
    "Le responderemos",
    "escribió",
    "De:",
    "Enviado el:",
    "Asunto:",
];
const IT_Q: &[&str] = &[
    "numero della sua pratica",
    "Le risponderemo",
    "ha scritto",
    "Da:",
    "Inviato:",
    "Oggetto:",
];
const NL_Q: &[&str] = &[
    "Uw zaaknummer",
    "Wij antwoorden",
    "schreef",
    "geschreven",
    "Van:",
    "Verzonden:",
    "Onderwerp:",
];
const PT_Q: &[&str] = &[
    "O número do seu caso",
    "Responderemos em",
    "escreveu",
    "De:",
    "Enviado:",
    "Assunto:",
];
const JA_Q: &[&str] = &[
    "受付番号は",
    "ご回答いたします",
    "さんは書きました",
    "のメール",
    "差出人",
    "送信日時",
    "件名",
    "2026年12月5日",
];

const FIXTURES: &[Fixture] = &[
    // English
    Fixture {
        path: "en/gmail_reply",
        base: Some("Kettle arrived broken"),
        expect: Reply {
            new: &["the lid is cracked again", "send a refund instead?"],
            quoted: EN_Q,
        },
    },
    Fixture {
        path: "en/outlook_reply",
        base: Some("Kettle arrived broken"),
        expect: Reply {
            new: &["still have not received the refund", "Regards\nAlice"],
            quoted: EN_Q,
        },
    },
    Fixture {
        path: "en/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "en/isp_ooo_no_headers",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "en/human_automatic_renewal",
        base: Some("automatic renewal charged twice"),
        expect: Person {
            new: &["charged twice on my card", "This is not an automatic reply"],
        },
    },
    // German
    Fixture {
        path: "de/outlook_reply",
        base: Some("Rechnung doppelt abgebucht"),
        expect: Reply {
            new: &[
                "immer noch zweimal abgebucht",
                "Mit freundlichen Grüßen\nMax Müller",
            ],
            quoted: DE_Q,
        },
    },
    Fixture {
        path: "de/thunderbird_reply",
        base: Some("Rechnung doppelt abgebucht"),
        expect: Reply {
            new: &["Bestellnummer: 4711-0815", "die Rechnung zweimal"],
            quoted: DE_Q,
        },
    },
    Fixture {
        path: "de/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "de/webmail_ooo_subject_only",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "de/outlook_rule_ooo_body_only",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "de/human_nicht_abwesend",
        base: Some("Rechnung doppelt abgebucht"),
        expect: Reply {
            new: &[
                "ich bin nicht abwesend, aber",
                "erst seit heute wieder im Büro",
            ],
            quoted: DE_Q,
        },
    },
    // French
    Fixture {
        path: "fr/gmail_reply",
        base: Some("Colis endommagé"),
        expect: Reply {
            new: &["le colis est arrivé abîmé", "un bon de retour ?"],
            quoted: FR_Q,
        },
    },
    Fixture {
        path: "fr/outlook_reply",
        base: Some("Colis endommagé"),
        expect: Reply {
            new: &["aucun bon de retour", "Camille Martin"],
            quoted: FR_Q,
        },
    },
    Fixture {
        path: "fr/apple_mail_reply",
        base: Some("Colis endommagé"),
        expect: Reply {
            new: &["voici la photo du carton"],
            quoted: &["Votre numéro de dossier", "a écrit", "Envoyé de mon iPhone"],
        },
    },
    Fixture {
        path: "fr/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "fr/isp_ooo_no_headers",
        base: None,
        expect: AutoReply,
    },
    // Spanish
    Fixture {
        path: "es/gmail_reply",
        base: Some("Pedido incompleto"),
        expect: Reply {
            new: &["faltan dos piezas", "¿Pueden enviarlas esta semana?"],
            quoted: ES_Q,
        },
    },
    Fixture {
        path: "es/outlook_reply",
        base: Some("Pedido incompleto"),
        expect: Reply {
            new: &["sigo esperando las dos piezas", "Lucía García"],
            quoted: ES_Q,
        },
    },
    Fixture {
        path: "es/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "es/outlook_ooo_subject_only",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "es/human_fuera_de_la_oficina",
        base: Some("Pedido incompleto"),
        expect: Person {
            new: &["No estoy fuera de la oficina", "La respuesta automática"],
        },
    },
    // Italian
    Fixture {
        path: "it/gmail_reply",
        base: Some("Rimborso non ricevuto"),
        expect: Reply {
            new: &["il rimborso non è ancora arrivato", "Potete verificare?"],
            quoted: IT_Q,
        },
    },
    Fixture {
        path: "it/outlook_reply",
        base: Some("Rimborso non ricevuto"),
        expect: Reply {
            new: &["il rimborso manca ancora", "Giulia Rossi"],
            quoted: IT_Q,
        },
    },
    Fixture {
        path: "it/outlook_reply_html_only",
        base: Some("Rimborso non ricevuto"),
        expect: Reply {
            new: &["il rimborso manca ancora"],
            quoted: IT_Q,
        },
    },
    Fixture {
        path: "it/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "it/webmail_ooo_precedence_bulk",
        base: None,
        expect: AutoReply,
    },
    // A person on holiday, answering from Gmail with our mail quoted: not a responder.
    Fixture {
        path: "it/human_in_ferie",
        base: Some("Rimborso non ricevuto"),
        expect: Reply {
            new: &[
                "sono in ferie fino al 10 dicembre",
                "al mio rientro vi chiamo",
            ],
            quoted: IT_Q,
        },
    },
    // Dutch
    Fixture {
        path: "nl/outlook_reply",
        base: Some("Verkeerde maat geleverd"),
        expect: Reply {
            new: &[
                "de verkeerde maat ontvangen",
                "Met vriendelijke groet,\nSanne de Vries",
            ],
            quoted: NL_Q,
        },
    },
    Fixture {
        path: "nl/apple_mail_reply",
        base: Some("Verkeerde maat geleverd"),
        expect: Reply {
            new: &["de barcode is onleesbaar"],
            quoted: &["Uw zaaknummer", "geschreven", "Verstuurd vanaf mijn iPhone"],
        },
    },
    Fixture {
        path: "nl/gmail_reply",
        base: Some("Verkeerde maat geleverd"),
        expect: Reply {
            new: &["nog steeds niet verzonden"],
            quoted: NL_Q,
        },
    },
    Fixture {
        path: "nl/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "nl/isp_ooo_x_autoreply",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "nl/outlook_ooo_subject_only",
        base: None,
        expect: AutoReply,
    },
    // Portuguese
    Fixture {
        path: "pt/gmail_reply",
        base: Some("Produto com defeito"),
        expect: Reply {
            new: &["a tela não liga", "João Silva"],
            quoted: PT_Q,
        },
    },
    Fixture {
        path: "pt/outlook_reply",
        base: Some("Produto com defeito"),
        expect: Reply {
            new: &["ainda não recebi a etiqueta", "Atenciosamente,\nJoão Silva"],
            quoted: PT_Q,
        },
    },
    Fixture {
        path: "pt/apple_mail_reply",
        base: Some("Produto com defeito"),
        expect: Reply {
            new: &["envio em anexo a fatura"],
            quoted: PT_Q,
        },
    },
    Fixture {
        path: "pt/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "pt/webmail_ooo_subject_only",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "pt/isp_ooo_no_headers",
        base: None,
        expect: AutoReply,
    },
    // Japanese
    Fixture {
        path: "ja/gmail_reply",
        base: Some("商品が破損していました"),
        expect: Reply {
            new: &[
                "同じ箇所が破損していました",
                "返金をお願いできますでしょうか。",
            ],
            quoted: JA_Q,
        },
    },
    Fixture {
        path: "ja/outlook_reply_iso2022jp",
        base: Some("商品が破損していました"),
        expect: Reply {
            new: &["返金の件、その後いかがでしょうか。"],
            quoted: JA_Q,
        },
    },
    Fixture {
        path: "ja/sjis_reply",
        base: Some("商品が破損していました"),
        expect: Reply {
            new: &["注文番号は 4711-0815 です。"],
            quoted: JA_Q,
        },
    },
    Fixture {
        path: "ja/apple_mail_reply",
        base: Some("商品が破損していました"),
        expect: Reply {
            new: &["写真を添付し忘れました。"],
            quoted: &["受付番号は", "のメール", "iPhoneから送信"],
        },
    },
    Fixture {
        path: "ja/exchange_ooo",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "ja/outlook_ooo_subject_only",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "ja/gmail_vacation",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "ja/webmail_ooo_no_headers",
        base: None,
        expect: AutoReply,
    },
    Fixture {
        path: "ja/human_fuzaihyou",
        base: Some("不在票が入っていたのに再配達されません"),
        expect: Person {
            new: &["再配達の依頼をしても届きません"],
        },
    },
];

fn raw(path: &str) -> Vec<u8> {
    let full = format!(
        "{}/tests/fixtures/i18n/{path}.eml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

fn parsed(path: &str) -> InboundMessage {
    parse(&raw(path), &ParseLimits::default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Whitespace runs as one space: Outlook and Gmail wrap and indent as they like.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_language_directory_has_replies_and_auto_replies() {
    for lang in ["en", "de", "fr", "es", "it", "nl", "pt", "ja"] {
        let of = |want: fn(&Expect) -> bool| {
            FIXTURES
                .iter()
                .filter(|f| f.path.starts_with(&format!("{lang}/")) && want(&f.expect))
                .count()
        };
        assert!(of(|e| matches!(e, Reply { .. })) >= 1, "{lang}: no reply");
        assert!(
            of(|e| matches!(e, AutoReply)) >= 2,
            "{lang}: too few auto-replies"
        );
    }
    // And every fixture on disk is in the table.
    let dir = format!("{}/tests/fixtures/i18n", env!("CARGO_MANIFEST_DIR"));
    for lang in std::fs::read_dir(&dir).unwrap() {
        let lang = lang.unwrap();
        if !lang.file_type().unwrap().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(lang.path()).unwrap() {
            let name = file.unwrap().file_name().into_string().unwrap();
            let Some(stem) = name.strip_suffix(".eml") else {
                continue;
            };
            let path = format!("{}/{stem}", lang.file_name().into_string().unwrap());
            assert!(
                FIXTURES.iter().any(|f| f.path == path),
                "{path} has no expectation"
            );
        }
    }
}

/// Every fixture is checked and every failure listed, so one run shows each language's gaps.
#[track_caller]
fn report(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn localized_subject_prefixes_leave_the_base_subject_and_the_tag() {
    let mut failures = Vec::new();
    for f in FIXTURES {
        let msg = parsed(f.path);
        if let Some(base) = f.base {
            let got = base_subject(&msg.subject, "CMP");
            if got != base {
                failures.push(format!(
                    "{}: base subject {got:?} of {:?}",
                    f.path, msg.subject
                ));
            }
        }
        if msg.subject.contains(TAG)
            && Reference::find_in_subject(&msg.subject, "CMP").map(|r| r.as_str().to_string())
                != Some(TAG.to_string())
        {
            failures.push(format!("{}: no tag in {:?}", f.path, msg.subject));
        }
        if matches!(f.expect, Reply { .. }) && !has_reply_prefix(&msg.subject) {
            failures.push(format!(
                "{}: no reply prefix seen in {:?}",
                f.path, msg.subject
            ));
        }
    }
    report(&failures);
}

/// `new` all in `text`, `quoted` none of it; what is wrong goes to `failures`.
fn check_text(failures: &mut Vec<String>, what: &str, text: &str, new: &[&str], quoted: &[&str]) {
    let text = words(text);
    for n in new {
        if !text.contains(&words(n)) {
            failures.push(format!("{what}: {n:?} missing from {text:?}"));
        }
    }
    for q in quoted {
        if text.contains(q) {
            failures.push(format!("{what}: quoted {q:?} left in {text:?}"));
        }
    }
}

#[test]
fn reply_text_keeps_the_new_words_and_drops_the_quoted_acknowledgment() {
    let mut failures = Vec::new();
    for f in FIXTURES {
        let msg = parsed(f.path);
        let (new, quoted): (&[&str], &[&str]) = match &f.expect {
            Reply { new, quoted } => (new, quoted),
            Person { new } => (new, &[]),
            AutoReply => continue,
        };
        check_text(&mut failures, f.path, msg.new_text(), new, quoted);
    }
    report(&failures);
}

/// The same messages as an agent's answer (agents use the same clients): what would reach
/// the customer is the new text only.
#[test]
fn an_answer_written_in_these_clients_relays_only_the_new_words() {
    let mut failures = Vec::new();
    for f in FIXTURES {
        let Reply { new, quoted } = &f.expect else {
            continue;
        };
        let answer = Answer::read(&raw(f.path), None, 1 << 20);
        let what = format!("{} (as an answer)", f.path);
        check_text(
            &mut failures,
            &what,
            answer.text.as_deref().unwrap_or_default(),
            new,
            quoted,
        );
    }
    report(&failures);
}

#[test]
fn auto_replies_are_robots_and_people_are_not() {
    let own = [OWN.to_string()];
    let mut failures = Vec::new();
    for f in FIXTURES {
        let msg = parsed(f.path);
        let verdict = detect(&msg, &own);
        match (&f.expect, verdict) {
            (AutoReply, None) => failures.push(format!("{}: not seen as a robot", f.path)),
            (AutoReply, Some(v)) if v.kind != RobotKind::AutoReply => {
                failures.push(format!(
                    "{}: a {} robot: {}",
                    f.path,
                    v.kind.as_str(),
                    v.reason
                ));
            }
            (Reply { .. } | Person { .. }, Some(v)) => {
                failures.push(format!("{}: taken for a robot: {}", f.path, v.reason));
            }
            _ => {}
        }
    }
    report(&failures);
}
