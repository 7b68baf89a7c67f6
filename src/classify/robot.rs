//! Robot detection (docs/design.md invariant 3, RFC 3834): mail that must never be answered.
//!
//! The rules are one table, tried in order; the first match decides the kind and its evidence
//! becomes the audit-log reason, e.g. `Auto-Submitted: auto-replied [auto-submitted]`.
//! Order matters: specific bounce evidence beats `Auto-Submitted` (Exim and Postfix mark
//! bounces `auto-replied`), which beats the null sender (RFC 3834 auto-replies use `<>` too),
//! which beats list and bulk markers. Subject markers are *weak*: `Auto-Submitted: no` (a human,
//! per RFC 3834) switches them off, but not header or MIME evidence.
//!
//! Out-of-office answers are recognised in the languages served (English, German, French,
//! Spanish, Italian, Dutch, Portuguese, Japanese): by their headers, by the label their
//! subject starts with (`Automatische Antwort:`, `Réponse automatique :`, `自動応答:`, ...),
//! and, for responders that mark nothing and keep the `Re:` subject, by what their text says
//! (see [`auto_reply_text`]) when they answer a mail, quote no history (a person's reply from
//! a mail client quotes ours) and are short: weak evidence like a subject. A new complaint
//! (no In-Reply-To, References or reply prefix) is never judged by its text.

use std::sync::LazyLock;

use regex::Regex;

use crate::parse::{quoted, InboundMessage};

/// What kind of robot sent a message; robots are recorded but never acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RobotKind {
    /// Delivery failure, delivery/read report or abuse feedback: may mark an address undeliverable.
    Bounce,
    /// Vacation/out-of-office or other automatic answer.
    AutoReply,
    /// Mailing-list traffic.
    List,
    /// Bulk or junk mail (`Precedence: bulk|junk`).
    Bulk,
    /// Mail from one of our own addresses: answering it would loop.
    OwnMail,
}

impl RobotKind {
    /// Stable snake_case name for the store and the audit log (same as the serde form).
    pub fn as_str(&self) -> &'static str {
        match self {
            RobotKind::Bounce => "bounce",
            RobotKind::AutoReply => "auto_reply",
            RobotKind::List => "list",
            RobotKind::Bulk => "bulk",
            RobotKind::OwnMail => "own_mail",
        }
    }
}

/// A robot verdict with the evidence an admin reads in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RobotVerdict {
    /// Which kind of robot.
    pub kind: RobotKind,
    /// Evidence and rule name, e.g. `Auto-Submitted: auto-replied [auto-submitted]`.
    pub reason: String,
}

/// How much a rule can be trusted against the author's own `Auto-Submitted: no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strength {
    /// Set by software on the path (MTA, list manager, MIME structure): always applies.
    Strong,
    /// Guessed from text a human can also write (subjects): off under `Auto-Submitted: no`.
    Weak,
}

/// One observable fact about a message.
#[derive(Debug, Clone, Copy)]
enum Test {
    /// From or Sender is one of our own addresses (`+tag` ignored).
    OwnAddress,
    /// Top-level content type is exactly this.
    ContentType(&'static str),
    /// Header present with a non-empty value.
    Present(&'static str),
    /// First token of the header's value (lower case, comments and parameters dropped) is one of these.
    TokenIs(&'static str, &'static [&'static str]),
    /// First token of the header's value is present and is not this.
    TokenIsNot(&'static str, &'static str),
    /// Local part of From or Sender is one of these (lower case, `+tag` ignored).
    SenderLocalPart(&'static [&'static str]),
    /// Local part of From or Sender starts with one of the prefixes or ends with one of the suffixes.
    SenderLocalAffix(&'static [&'static str], &'static [&'static str]),
    /// Local part of the reply address (Reply-To, else From) is one of these, alone or
    /// followed by `-`, `_`, `.` (`noreply-billing@`).
    ReplyLocalPart(&'static [&'static str]),
    /// Subject starts with one of these (case-insensitive, followed by a non-letter).
    SubjectPrefix(&'static [&'static str]),
    /// Subject starts with one of these followed by a colon (`Afwezig: ...`): words that can
    /// also begin a person's subject ("Abwesend beim Liefertermin") count only as a label.
    SubjectLabel(&'static [&'static str]),
    /// Both headers present with a non-empty value, the first's value containing one of the
    /// tokens (case-insensitive).
    BothPresent(&'static str, &'static [&'static str], &'static str),
    /// The new text of the message says it is an automatic or out-of-office answer, and the
    /// message quotes no history.
    AutoReplyText,
    /// Return-Path is the null sender `<>`.
    NullSender,
}

/// A named rule of the table.
#[derive(Debug, Clone, Copy)]
struct Rule {
    name: &'static str,
    kind: RobotKind,
    strength: Strength,
    test: Test,
}

/// Subjects of non-DSN bounces (qmail, Exim, Exchange, Notes, Postfix, ...), as they begin.
const BOUNCE_SUBJECTS: &[&str] = &[
    "Undelivered Mail Returned to Sender",
    "Delivery Status Notification (Failure)",
    "Delivery Status Notification (Delay)",
    "Mail delivery failed",
    "Mail Delivery Failure",
    "Mail Delivery Subsystem",
    "failure notice",
    "Undeliverable:",
    "Undeliverable mail",
    "Undeliverable message",
    "Returned mail:",
    "Delivery failure",
    "Delivery failed",
    "Delivery Notification: Delivery has failed",
    "DELIVERY FAILURE:",
    "Message delivery has failed",
    "Non remis",
    "Unzustellbar",
    "Warning: could not send message",
    "Mail System Error - Returned Mail",
    "Message not delivered",
];

/// Subjects of out-of-office and other automatic answers, in the languages we see.
const AUTO_REPLY_SUBJECTS: &[&str] = &[
    "Automatic reply",
    "Auto reply",
    "Auto-Reply",
    "Autoreply",
    "Auto Response",
    "Autoresponse",
    "Out of office",
    "Out of the office",
    "Abwesenheitsnotiz",
    "Automatische Antwort",
    "Réponse automatique",
    "Respuesta automática",
    "Risposta automatica",
    "Automatisch antwoord",
    "Resposta automática",
    "自動応答",
    "自动回复",
    // More of the languages served: Exchange, Outlook and the providers' responders.
    "Automatic response",
    "Automated reply",
    "Automated response",
    "Vacation reply",
    "Abwesenheitsnachricht",
    "Abwesenheitsmeldung",
    "Automatische Abwesenheitsnotiz",
    "Message d'absence",
    "Message d’absence",
    "Mensaje de ausencia",
    "Messaggio di assenza",
    "Afwezigheidsbericht",
    "Afwezigheidsmelding",
    "Mensagem de ausência",
    "Resposta de ausência",
    "自動返信",
    "【自動返信】",
    "【自動応答】",
    "[自動返信]",
    "【不在】",
    "不在のお知らせ",
    "不在通知",
];

/// Out-of-office labels of older Outlook and Exchange versions and of providers, which count
/// only followed by a colon (`Afwezig: <subject>`): alone they can begin a person's subject.
const AUTO_REPLY_LABELS: &[&str] = &[
    "Out of office autoreply",
    "Abwesend",
    "Abwesenheit",
    "Nicht im Büro",
    "Absent",
    "Absente",
    "Absence",
    "Absent du bureau",
    "Absence du bureau",
    "Ausente",
    "Fuera de la oficina",
    "Fuera de oficina",
    "Assente",
    "Fuori sede",
    "Fuori ufficio",
    "Fuori dall'ufficio",
    "Afwezig",
    "Niet aanwezig",
    "Buiten kantoor",
    "Ausência",
    "Ausência temporária",
    "Fora do escritório",
    "不在",
    "外出中",
    "休暇中",
];

/// The rule table, in priority order (first match wins).
const RULES: &[Rule] = &[
    Rule {
        name: "own-address",
        kind: RobotKind::OwnMail,
        strength: Strength::Strong,
        test: Test::OwnAddress,
    },
    // RFC 6522: every report type (DSN, MDN, ARF feedback, TLS-RPT) is machine-made.
    Rule {
        name: "delivery-report",
        kind: RobotKind::Bounce,
        strength: Strength::Strong,
        test: Test::ContentType("multipart/report"),
    },
    // Exim adds it to every bounce it generates.
    Rule {
        name: "failed-recipients",
        kind: RobotKind::Bounce,
        strength: Strength::Strong,
        test: Test::Present("x-failed-recipients"),
    },
    // "post_master" is Verizon's and Apache James's bounce sender (corpus lhost-verizon, -apachejames).
    Rule {
        name: "mailer-daemon",
        kind: RobotKind::Bounce,
        strength: Strength::Strong,
        test: Test::SenderLocalPart(&["mailer-daemon", "postmaster", "post_master"]),
    },
    Rule {
        name: "bounce-subject",
        kind: RobotKind::Bounce,
        strength: Strength::Weak,
        test: Test::SubjectPrefix(BOUNCE_SUBJECTS),
    },
    // RFC 3834 5.1: any value other than "no" means automatic.
    Rule {
        name: "auto-submitted",
        kind: RobotKind::AutoReply,
        strength: Strength::Strong,
        test: Test::TokenIsNot("auto-submitted", "no"),
    },
    Rule {
        name: "x-autoreply",
        kind: RobotKind::AutoReply,
        strength: Strength::Strong,
        test: Test::Present("x-autoreply"),
    },
    Rule {
        name: "x-autorespond",
        kind: RobotKind::AutoReply,
        strength: Strength::Strong,
        test: Test::Present("x-autorespond"),
    },
    // Apple iCloud vacation replies (corpus rfc3834-03; sisimai reads the same header).
    Rule {
        name: "apple-vacation",
        kind: RobotKind::AutoReply,
        strength: Strength::Strong,
        test: Test::TokenIs("x-apple-action", &["vacation"]),
    },
    // Used by some vacation programs; sisimai's RFC 3834 detector checks it.
    Rule {
        name: "precedence-auto-reply",
        kind: RobotKind::AutoReply,
        strength: Strength::Strong,
        test: Test::TokenIs("precedence", &["auto_reply"]),
    },
    // Exchange's out-of-office and rule replies: Exchange stamps both on what its rules send
    // (Zammad reads the same pair); either alone also marks other mail.
    Rule {
        name: "exchange-auto-reply",
        kind: RobotKind::AutoReply,
        strength: Strength::Strong,
        test: Test::BothPresent(
            "x-auto-response-suppress",
            &["all", "oof"],
            "x-ms-exchange-inbox-rules-loop",
        ),
    },
    Rule {
        name: "auto-reply-subject",
        kind: RobotKind::AutoReply,
        strength: Strength::Weak,
        test: Test::SubjectPrefix(AUTO_REPLY_SUBJECTS),
    },
    Rule {
        name: "auto-reply-label",
        kind: RobotKind::AutoReply,
        strength: Strength::Weak,
        test: Test::SubjectLabel(AUTO_REPLY_LABELS),
    },
    // Responders that mark nothing and answer with "Re: <subject>" (providers' webmail,
    // Outlook rules): only the text tells.
    Rule {
        name: "auto-reply-text",
        kind: RobotKind::AutoReply,
        strength: Strength::Weak,
        test: Test::AutoReplyText,
    },
    // After the auto-reply rules: RFC 3834 3.3 tells auto-responders to use <> too.
    Rule {
        name: "null-sender",
        kind: RobotKind::Bounce,
        strength: Strength::Strong,
        test: Test::NullSender,
    },
    // RFC 2046 5.1.5: a digest is what list software sends.
    Rule {
        name: "digest",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::ContentType("multipart/digest"),
    },
    Rule {
        name: "precedence-list",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::TokenIs("precedence", &["list"]),
    },
    Rule {
        name: "list-id",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-id"),
    },
    Rule {
        name: "list-unsubscribe",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-unsubscribe"),
    },
    Rule {
        name: "list-post",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-post"),
    },
    // The rest of RFC 2369 (qmail-autoresponder ignores all six List-* fields).
    Rule {
        name: "list-help",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-help"),
    },
    Rule {
        name: "list-subscribe",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-subscribe"),
    },
    Rule {
        name: "list-owner",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-owner"),
    },
    Rule {
        name: "list-archive",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("list-archive"),
    },
    // List servers that predate RFC 2369 stamp their own header (corpus: Mailman msg_02, fml).
    Rule {
        name: "mailman",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("x-mailman-version"),
    },
    Rule {
        name: "fml",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("x-mlserver"),
    },
    Rule {
        name: "x-mailing-list",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::Present("x-mailing-list"),
    },
    // List-manager addresses (owner-list@, list-request@) are robots by convention; vacation
    // responders skip them.
    Rule {
        name: "list-manager-address",
        kind: RobotKind::List,
        strength: Strength::Strong,
        test: Test::SenderLocalAffix(&["owner-"], &["-request"]),
    },
    Rule {
        name: "precedence-bulk",
        kind: RobotKind::Bulk,
        strength: Strength::Strong,
        test: Test::TokenIs("precedence", &["bulk", "junk"]),
    },
    // An acknowledgment to an address that says it is not read goes nowhere; a contact form
    // relaying from noreply@ with the customer in Reply-To does not match (Reply-To decides).
    Rule {
        name: "no-reply-address",
        kind: RobotKind::Bulk,
        strength: Strength::Strong,
        test: Test::ReplyLocalPart(&[
            "noreply",
            "no-reply",
            "no_reply",
            "donotreply",
            "do-not-reply",
            "do_not_reply",
        ]),
    },
];

/// Decides whether `msg` came from a robot; `None` means a human we may answer.
///
/// `own_addresses` are our mailbox addresses (support@, agents' notification sender, ...):
/// mail from them is [`RobotKind::OwnMail`], so a forwarding loop cannot make us answer ourselves.
pub fn detect(msg: &InboundMessage, own_addresses: &[String]) -> Option<RobotVerdict> {
    let human_says_no = first_token(msg.header("auto-submitted")).as_deref() == Some("no");
    let own: Vec<String> = own_addresses.iter().map(|a| canonical(a)).collect();
    RULES
        .iter()
        .filter(|rule| !(human_says_no && rule.strength == Strength::Weak))
        .find_map(|rule| {
            evidence(rule.test, msg, &own).map(|evidence| RobotVerdict {
                kind: rule.kind,
                reason: format!("{evidence} [{}]", rule.name),
            })
        })
}

/// The evidence for `test` in `msg`, or `None` when the test does not hold.
fn evidence(test: Test, msg: &InboundMessage, own: &[String]) -> Option<String> {
    match test {
        Test::OwnAddress => senders(msg)
            .find(|(_, addr)| own.contains(&canonical(addr)))
            .map(|(header, addr)| format!("{header}: {addr} is our own address")),
        Test::ContentType(ct) => (msg.content_type == ct).then(|| match &msg.report_type {
            Some(rt) => format!("Content-Type: {ct}; report-type={rt}"),
            None => format!("Content-Type: {ct}"),
        }),
        Test::Present(header) => msg
            .header_all(header)
            .find(|v| !v.trim().is_empty())
            .map(|v| format!("{}: {}", display_name(header), clip(v))),
        Test::TokenIs(header, values) => msg
            .header_all(header)
            .find(|v| first_token(Some(v)).is_some_and(|t| values.contains(&t.as_str())))
            .map(|v| format!("{}: {}", display_name(header), clip(v))),
        Test::TokenIsNot(header, value) => {
            let raw = msg.header(header)?;
            let token = first_token(Some(raw))?;
            (token != value).then(|| format!("{}: {}", display_name(header), clip(raw)))
        }
        Test::SenderLocalPart(locals) => senders(msg)
            .find(|(_, addr)| locals.contains(&local_part(addr).as_str()))
            .map(|(header, addr)| format!("{header}: {addr}")),
        Test::SenderLocalAffix(prefixes, suffixes) => senders(msg)
            .find(|(_, addr)| {
                let local = local_part(addr);
                prefixes
                    .iter()
                    .any(|p| local.len() > p.len() && local.starts_with(p))
                    || suffixes
                        .iter()
                        .any(|s| local.len() > s.len() && local.ends_with(s))
            })
            .map(|(header, addr)| format!("{header}: {addr}")),
        Test::ReplyLocalPart(locals) => {
            let mailbox = msg.reply_address()?;
            let local = local_part(&mailbox.address);
            let hit = locals.iter().any(|l| match local.strip_prefix(l) {
                Some(rest) => rest.is_empty() || rest.starts_with(['-', '_', '.']),
                None => false,
            });
            let header = if msg.reply_to.is_some() {
                "Reply-To"
            } else {
                "From"
            };
            hit.then(|| format!("{header}: {} (replies are not read)", mailbox.address))
        }
        Test::SubjectPrefix(markers) => markers
            .iter()
            .find(|m| starts_with_marker(&msg.subject, m))
            .map(|m| format!("Subject starts with \"{m}\"")),
        Test::SubjectLabel(labels) => labels
            .iter()
            .find(|l| starts_with_label(&msg.subject, l))
            .map(|l| format!("Subject starts with \"{l}:\"")),
        Test::BothPresent(first, tokens, second) => {
            let value = msg.header_all(first).find(|v| {
                let v = v.to_lowercase();
                tokens
                    .iter()
                    .any(|t| v.split(|c: char| !c.is_alphanumeric()).any(|w| w == *t))
            })?;
            msg.header_all(second).find(|v| !v.trim().is_empty())?;
            Some(format!(
                "{}: {} and {}",
                display_name(first),
                clip(value),
                display_name(second)
            ))
        }
        // A person's reply quotes our mail; a responder's answer quotes nothing. Only for an
        // answer (In-Reply-To, References or a reply prefix): a new complaint that happens to
        // say its writer is away ("on holiday until the 14th, and my parcel never came") is
        // a customer's, and losing it costs more than acknowledging a rare unmarked
        // responder once (its answer to our acknowledgment is an answer, and is caught).
        // Checked second: most texts say nothing of an absence.
        Test::AutoReplyText => (!msg.in_reply_to.is_empty()
            || !msg.references.is_empty()
            || crate::thread::subject::has_reply_prefix(&msg.subject))
        .then(|| auto_reply_text(msg.new_text()))
        .flatten()
        .filter(|_| !quoted::quotes_history(&msg.text))
        .map(|e| format!("text says {e}")),
        Test::NullSender => (msg.return_path.as_deref() == Some(""))
            .then(|| "Return-Path: <> (null sender)".to_string()),
    }
}

/// How much of a message's new text is read for out-of-office wording: responders put it
/// first, and their whole text is short.
const TEXT_OPENING: usize = 1000;
/// A longer new text is a person's letter, whatever its first lines say.
const MAX_AUTO_REPLY_TEXT: usize = 2500;

/// The responder says what it is: "This is an automatic reply", "Dies ist eine automatische
/// Antwort", "このメールは自動返信です", ... (lower case, spaces collapsed).
static SAYS_AUTOMATIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"this is an? (?:automatic|automated|auto-generated|auto) ?-?(?:reply|response)",
        r"|dies ist eine automatische (?:antwort|abwesenheitsnotiz)",
        r"|dies ist eine automatisch (?:generierte|erstellte) antwort",
        r"|ceci est une réponse automatique",
        r"|esta es una respuesta automática",
        r"|questa è una risposta automatica",
        r"|dit is een automatisch (?:gegenereerd )?antwoord",
        r"|esta é uma (?:resposta|mensagem) automática",
        r"|(?:この|本)メールは自動(?:返信|応答)",
        r"|自動(?:返信|応答)(?:メール)?です",
        r"|自動(?:返信|応答)にて",
    ))
    .expect("static regex")
});

/// The writer is away, in the present or future ("I am out of the office", "Ich bin bis ...
/// nicht im Büro", "Je suis absente", "現在不在にしております"): a past absence is no
/// responder's.
static AWAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\bi(?:'m|’m| am| will be)(?: currently| now)? (?:out of (?:the )?office|away from (?:the |my )?(?:office|desk)|on (?:annual |parental |sick |maternity |paternity )?(?:leave|vacation|holiday)|away (?:on|until))",
        r"|\bich (?:bin|befinde mich)(?: \S+){0,6}? (?:nicht im büro|abwesend|im urlaub|in urlaub|nicht erreichbar|außer haus|nicht im hause)",
        r"|\bje suis (?:actuellement |en ce moment )?(?:absente?|en congés?|en vacances|en déplacement|hors du bureau|en dehors du bureau)",
        r"|\b(?:estoy|estaré|me encuentro)(?: \S+){0,3}? (?:fuera de (?:la )?oficina|ausente|de vacaciones|fuera del despacho)",
        r"|\b(?:sono|sarò)(?: \S+){0,3}? (?:fuori (?:sede|ufficio|dall'ufficio)|assente|in ferie|in vacanza)",
        r"|\bik ben(?: \S+){0,4}? (?:afwezig|niet (?:op kantoor|aanwezig|bereikbaar)|met vakantie|op vakantie|buiten kantoor)",
        r"|\b(?:estou|estarei|encontro-me|me encontro)(?: \S+){0,3}? (?:fora do escritório|ausente|de férias|em férias)",
        r"|不在に(?:して|いた)(?:おります|います)|不在(?:です|となります|となっております)|休暇を(?:いただいて|頂いて|取得して)(?:おり|います)|休業(?:期間|とさせて|いたします|しております)",
    ))
    .expect("static regex")
});

/// Negations that turn an [`AWAY`] match into a person saying they are *not* away.
const NOT_AWAY: &[&str] = &[
    " not ",
    "n't ",
    " nicht abwesend",
    " nicht im urlaub",
    " nicht in urlaub",
    " nicht außer haus",
    " niet afwezig",
    " niet met vakantie",
    " niet op vakantie",
    // Italian perfect tense: "sono stata in ferie" was an absence.
    " stato ",
    " stata ",
    " stati ",
    " state ",
];
/// Words that make an [`AWAY`] match a past absence from just after it ("Ich bin im Urlaub
/// gewesen", "Ik ben met vakantie geweest").
const PAST_AFTER: &[&str] = &[" gewesen", " geweest"];
/// Words that negate an [`AWAY`] match from just before it ("no estoy", "non sono", "não
/// estou").
const NOT_BEFORE: &[&str] = &["no ", "non ", "não ", "nao "];

/// The responder's second sentence: when the writer is back, whom to contact meanwhile,
/// that mail is not read or forwarded.
static BACK_OR_ELSEWHERE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\bwill be back|\bback in the office|\bback on \S|\breturning on|\bupon my return|\bon my return|\bwhen i return|\bafter my return|\blimited access to (?:my )?e-?mail|\bno access to (?:my )?e-?mail|\bwill not be forwarded|\bin urgent cases|\bfor urgent (?:matters|requests|issues|enquiries|inquiries)",
        r"|\bwieder (?:im büro|erreichbar|im hause|für sie da|zurück)|\bnach meiner rückkehr|\bin dringenden fällen|\bbei dringenden (?:anliegen|fragen|angelegenheiten)|\bwenden sie sich bitte an|\bkeinen zugriff auf (?:meine )?e-?mails|\bnicht weitergeleitet",
        r"|\bde retour (?:le|à partir|au bureau|dès)|\bà mon retour|\bdès mon retour|\ben cas d'urgence|\bpour toute urgence|\bpour les demandes urgentes|\baccès limité|\bne sera pas transféré|\bje vous répondrai dès",
        r"|\bde vuelta|\bregresaré|\bvolveré|\ba mi regreso|\ba mi vuelta|\ben caso de urgencia|\bpara asuntos urgentes|\bacceso limitado|\bno será reenviado",
        r"|\brientrerò|\bal mio rientro|\bal mio ritorno|\btornerò|\bin caso di urgenza|\bper urgenze|\bper questioni urgenti|\baccesso limitato|\bnon sarà inoltrat",
        r"|\bweer aanwezig|\bweer op kantoor|\bweer bereikbaar|\bna mijn terugkomst|\bin dringende gevallen|\bvoor dringende zaken|\bbeperkt toegang|\bgeen toegang tot (?:mijn )?e-?mail|\bwordt niet doorgestuurd",
        r"|\bretorno n|\bestarei de volta|\bvoltarei|\bapós o meu retorno|\bquando retornar|\bao regressar|\bem caso de urgência|\bpara assuntos urgentes|\bacesso limitado|\bnão será encaminhad",
        r"|お急ぎの|緊急の(?:場合|ご用件)|順次(?:ご返信|ご回答|ご連絡|対応)|(?:ご返信|ご回答|ご連絡)(?:いたします|させていただきます)|休業明け|休暇明け|戻り(?:は|ます)|出社(?:後|予定)",
    ))
    .expect("static regex")
});

/// Why `text` (a message's new text) reads as an automatic answer, or `None`: it says it is
/// one, or it says the writer is away *and* when they are back or whom to ask meanwhile,
/// near its start, and it is short. "Ich bin nicht abwesend, aber ...", "I was out of the
/// office last week" and a letter that mentions an automatic reply it got are a person's.
pub fn auto_reply_text(text: &str) -> Option<String> {
    if text.len() > MAX_AUTO_REPLY_TEXT {
        return None;
    }
    let mut opening = String::with_capacity(TEXT_OPENING + 8);
    for word in text.split_whitespace() {
        if opening.len() >= TEXT_OPENING {
            break;
        }
        if !opening.is_empty() {
            opening.push(' ');
        }
        opening.push_str(word);
    }
    let opening = opening.to_lowercase();
    if let Some(m) = SAYS_AUTOMATIC.find(&opening) {
        return Some(format!("\"{}\"", m.as_str()));
    }
    let away = AWAY.find_iter(&opening).find(|m| {
        let said = format!(" {} ", m.as_str());
        let before = &opening[..m.start()];
        let after = &opening[m.end()..];
        !NOT_AWAY.iter().any(|n| said.contains(n))
            && !NOT_BEFORE.iter().any(|n| before.ends_with(n))
            && !PAST_AFTER.iter().any(|p| after.starts_with(p))
    })?;
    let back = BACK_OR_ELSEWHERE.find(&opening)?;
    Some(format!("\"{}\" and \"{}\"", away.as_str(), back.as_str()))
}

/// The From and Sender addresses, labelled with their header. A From without an address
/// ("MAILER-DAEMON <>", a bare "mailer-daemon") yields its text, so such bounces are still seen.
fn senders(msg: &InboundMessage) -> impl Iterator<Item = (&'static str, &str)> {
    let bare_from = match msg.from {
        Some(_) => None,
        None => msg
            .header("from")
            .map(|v| v.trim().trim_end_matches("<>").trim().trim_matches('"'))
            .filter(|v| !v.is_empty() && !v.contains(char::is_whitespace)),
    };
    [("From", msg.from.as_ref()), ("Sender", msg.sender.as_ref())]
        .into_iter()
        .filter_map(|(h, m)| m.map(|m| (h, m.address.as_str())))
        .chain(bare_from.map(|v| ("From", v)))
}

/// True when `address` is one of `own` (our mailbox addresses) or a `+tag` form of one (a
/// reply address), compared as [`canonical`] does.
pub fn is_own(own: &[String], address: &str) -> bool {
    let a = canonical(address);
    own.iter().any(|o| canonical(o) == a)
}

/// Lower case, `local+tag@domain` reduced to `local@domain`: how we compare own addresses.
fn canonical(address: &str) -> String {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => address,
    }
}

/// Lower-case local part (the whole address when it has no `@`, like a bare `MAILER-DAEMON`).
fn local_part(address: &str) -> String {
    let address = address.trim().to_lowercase();
    match address.rsplit_once('@') {
        Some((local, _)) => local.trim_matches('"').to_string(),
        None => address,
    }
}

/// First token of a header value, lower case, without parameters or comments:
/// `auto-generated (failure)` and `Auto-Replied; owner=x` give `auto-generated`, `auto-replied`.
fn first_token(value: Option<&str>) -> Option<String> {
    let token = value?
        .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
        .find(|t| !t.is_empty())?;
    Some(token.to_lowercase())
}

/// Case-insensitive prefix match that does not end inside a word ("Autoreply" is not
/// "Autoreplying"), so ordinary subjects that merely begin with a marker's letters pass.
fn starts_with_marker(subject: &str, marker: &str) -> bool {
    let subject = subject.trim_start().to_lowercase();
    let marker = marker.to_lowercase();
    // A marker that ends in a bracket (`【自動返信】`) is whole whatever follows it.
    let whole = !marker.chars().last().is_some_and(char::is_alphanumeric);
    match subject.strip_prefix(&marker) {
        Some(rest) => whole || !rest.chars().next().is_some_and(char::is_alphanumeric),
        None => false,
    }
}

/// Case-insensitive match of a label and its colon (`Afwezig: ...`, `不在：...`).
fn starts_with_label(subject: &str, label: &str) -> bool {
    let subject = subject.trim_start().to_lowercase();
    match subject.strip_prefix(&label.to_lowercase()) {
        Some(rest) => rest.trim_start().starts_with([':', '：']),
        None => false,
    }
}

/// Header name as usually written, for reasons (`list-id` -> `List-Id`).
fn display_name(header: &str) -> String {
    header
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join("-")
}

/// Keeps audit reasons short: header values can be long (List-Unsubscribe URLs).
fn clip(value: &str) -> String {
    const MAX: usize = 80;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let mut clipped: String = value.chars().take(MAX).collect();
        clipped.push('…');
        clipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};

    fn msg(headers: &str) -> InboundMessage {
        let raw = format!("{headers}\r\n\r\nbody\r\n");
        match parse(raw.as_bytes(), &ParseLimits::default()) {
            Ok(m) => m,
            Err(e) => panic!("fixture does not parse: {e}"),
        }
    }

    fn kind(headers: &str) -> Option<RobotKind> {
        detect(&msg(headers), &["support@example.com".to_string()]).map(|v| v.kind)
    }

    #[test]
    fn plain_human_mail_is_not_a_robot() {
        assert_eq!(
            kind("From: a@example.org\r\nSubject: My order is late"),
            None
        );
    }

    #[test]
    fn auto_submitted_other_than_no_is_an_auto_reply() {
        let m = msg("From: a@example.org\r\nSubject: Away\r\nAuto-Submitted: Auto-Replied; x=1");
        let v = detect(&m, &[]);
        assert_eq!(v.as_ref().map(|v| v.kind), Some(RobotKind::AutoReply));
        assert_eq!(
            v.map(|v| v.reason).as_deref(),
            Some("Auto-Submitted: Auto-Replied; x=1 [auto-submitted]")
        );
        assert_eq!(
            kind("From: a@example.org\r\nAuto-Submitted: auto-generated (failure)"),
            Some(RobotKind::AutoReply)
        );
    }

    #[test]
    fn auto_submitted_no_overrides_subject_markers_only() {
        assert_eq!(
            kind(
                "From: a@example.org\r\nAuto-Submitted: no\r\nSubject: Out of office: my complaint"
            ),
            None
        );
        assert_eq!(
            kind("From: a@example.org\r\nAuto-Submitted: No\r\nReturn-Path: <>\r\nSubject: hi"),
            Some(RobotKind::Bounce)
        );
        assert_eq!(
            kind("From: a@example.org\r\nAuto-Submitted: no\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x"),
            Some(RobotKind::Bounce)
        );
    }

    #[test]
    fn x_auto_response_suppress_alone_is_not_a_marker() {
        assert_eq!(
            kind("From: a@example.org\r\nX-Auto-Response-Suppress: All\r\nSubject: hello"),
            None
        );
    }

    #[test]
    fn null_sender_with_auto_reply_subject_is_an_auto_reply() {
        assert_eq!(
            kind("From: a@example.org\r\nReturn-Path: <>\r\nSubject: Automatic reply: Nyaan"),
            Some(RobotKind::AutoReply)
        );
        assert_eq!(
            kind("From: a@example.org\r\nReturn-Path: <>\r\nSubject: hello"),
            Some(RobotKind::Bounce)
        );
    }

    #[test]
    fn mailer_daemon_and_postmaster_senders_are_bounces() {
        assert_eq!(
            kind("From: MAILER-DAEMON@mx.example.org\r\nSubject: x"),
            Some(RobotKind::Bounce)
        );
        assert_eq!(
            kind("From: Postmaster <POSTMASTER@example.org>"),
            Some(RobotKind::Bounce)
        );
        assert_eq!(
            kind("From: a@example.org\r\nSender: mailer-daemon@example.org"),
            Some(RobotKind::Bounce)
        );
    }

    #[test]
    fn list_and_bulk_headers() {
        assert_eq!(
            kind("From: a@example.org\r\nList-Id: <x.example.org>"),
            Some(RobotKind::List)
        );
        assert_eq!(
            kind("From: a@example.org\r\nList-Unsubscribe: <mailto:u@example.org>"),
            Some(RobotKind::List)
        );
        assert_eq!(
            kind("From: a@example.org\r\nPrecedence: list"),
            Some(RobotKind::List)
        );
        assert_eq!(
            kind("From: a@example.org\r\nPrecedence: BULK"),
            Some(RobotKind::Bulk)
        );
        assert_eq!(
            kind("From: a@example.org\r\nPrecedence: junk"),
            Some(RobotKind::Bulk)
        );
    }

    #[test]
    fn subject_markers_in_other_languages_and_bounce_subjects() {
        for subject in [
            "Abwesenheitsnotiz: Ihre Anfrage",
            "=?utf-8?q?R=C3=A9ponse_automatique_:_x?=",
            "=?utf-8?b?6Ieq5Yqo5Zue5aSNOiDkvaDlpb0=?=",
            "OUT OF OFFICE",
        ] {
            assert_eq!(
                kind(&format!("From: a@example.org\r\nSubject: {subject}")),
                Some(RobotKind::AutoReply),
                "{subject}"
            );
        }
        assert_eq!(
            kind("From: a@example.org\r\nSubject: Undeliverable: order 42"),
            Some(RobotKind::Bounce)
        );
        assert_eq!(
            kind("From: a@example.org\r\nSubject: Autoreplying is broken"),
            None
        );
        assert_eq!(
            kind("From: a@example.org\r\nSubject: Re: Out of office"),
            None
        );
    }

    #[test]
    fn own_addresses_match_case_and_plus_insensitively() {
        assert_eq!(
            kind("From: Support <Support+CMP-7KQ4X-V@Example.com>"),
            Some(RobotKind::OwnMail)
        );
        assert_eq!(
            kind("From: a@example.org\r\nSender: support@example.com"),
            Some(RobotKind::OwnMail)
        );
        assert_eq!(kind("From: support@example.com.evil.org"), None);
    }

    #[test]
    fn list_software_traces_are_list_mail() {
        assert_eq!(
            kind("From: a@example.org\r\nContent-Type: multipart/digest; boundary=x"),
            Some(RobotKind::List)
        );
        assert_eq!(kind("From: ppp-request@example.org"), Some(RobotKind::List));
        assert_eq!(kind("From: owner-ppp@example.org"), Some(RobotKind::List));
        assert_eq!(
            kind("From: a@example.org\r\nX-Mailman-Version: 2.1"),
            Some(RobotKind::List)
        );
        assert_eq!(
            kind("From: a@example.org\r\nList-Subscribe: <mailto:s@x>"),
            Some(RobotKind::List)
        );
        // "-request" alone is not a list-manager address.
        assert_eq!(kind("From: -request@example.org"), None);
    }

    #[test]
    fn addressless_mailer_daemon_from_is_a_bounce() {
        assert_eq!(
            kind("From: MAILER-DAEMON <>\r\nSubject: x"),
            Some(RobotKind::Bounce)
        );
        assert_eq!(
            kind("From: mailer-daemon\r\nSubject: x"),
            Some(RobotKind::Bounce)
        );
    }

    #[test]
    fn no_reply_reply_address_is_bulk_unless_reply_to_is_a_person() {
        assert_eq!(
            kind("From: noreply-billing@example.org"),
            Some(RobotKind::Bulk)
        );
        assert_eq!(kind("From: No-Reply@example.org"), Some(RobotKind::Bulk));
        assert_eq!(
            kind("From: noreply@forms.example.org\r\nReply-To: customer@example.net"),
            None
        );
        assert_eq!(kind("From: noreplyhelp@example.org"), None);
    }

    #[test]
    fn reason_names_the_rule() {
        let v = detect(&msg("From: a@example.org\r\nList-Id: <x.example.org>"), &[]);
        assert_eq!(
            v.map(|v| v.reason).as_deref(),
            Some("List-Id: <x.example.org> [list-id]")
        );
    }

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(RobotKind::AutoReply.as_str(), "auto_reply");
        assert_eq!(RobotKind::OwnMail.as_str(), "own_mail");
    }

    #[test]
    fn out_of_office_labels_count_only_with_their_colon() {
        for subject in [
            "Afwezig: [CMP-7KQ4X-V] Verkeerde maat",
            "Fuera de la oficina: Pedido",
            "Fuori sede: Rimborso",
            "Absence du bureau : Colis",
            "Ausência temporária: Produto",
            "=?iso-2022-jp?B?GyRCSVQ6XxsoQjog?= x",
            "=?utf-8?b?44CQ6Ieq5YuV6L+U5L+h44CR5bm05pyr5bm05aeL?=",
            "Abwesenheitsmeldung",
        ] {
            assert_eq!(
                kind(&format!("From: a@example.org\r\nSubject: {subject}")),
                Some(RobotKind::AutoReply),
                "{subject}"
            );
        }
        for subject in [
            "Abwesend beim Liefertermin, Paket zurückgeschickt",
            "Absent items in my order",
            "Ausente el repartidor",
            // "不在票が入っていました": the delivery notice, a customer's subject.
            "=?utf-8?b?5LiN5Zyo56Wo44GM5YWl44Gj44Gm44GE44G+44GX44Gf?=",
            "Re: automatic renewal charged twice",
        ] {
            assert_eq!(
                kind(&format!("From: a@example.org\r\nSubject: {subject}")),
                None,
                "{subject}"
            );
        }
    }

    #[test]
    fn exchange_rule_replies_need_both_headers() {
        assert_eq!(
            kind("From: a@example.org\r\nX-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: a@example.org\r\nSubject: Re: x"),
            Some(RobotKind::AutoReply)
        );
        assert_eq!(
            kind("From: a@example.org\r\nX-MS-Exchange-Inbox-Rules-Loop: a@example.org\r\nSubject: Re: x"),
            None
        );
        assert_eq!(
            kind("From: a@example.org\r\nX-Auto-Response-Suppress: DR, RN\r\nX-MS-Exchange-Inbox-Rules-Loop: a@example.org\r\nSubject: Re: x"),
            None
        );
    }

    #[test]
    fn out_of_office_text_in_the_languages_served() {
        for text in [
            "Thank you for your email. I am out of the office until 14 December with limited access to email.",
            "This is an automatic reply. Thank you for your message.",
            "Ich bin bis zum 11.12. nicht im Büro. In dringenden Fällen wenden Sie sich bitte an x@y.",
            "Vielen Dank. Ich befinde mich im Urlaub und bin ab dem 5.1. wieder erreichbar.",
            "Je suis absente jusqu'au 14 décembre. En cas d'urgence, contactez x@y.",
            "Estoy fuera de la oficina hasta el lunes. En caso de urgencia llame al 000.",
            "Sono in ferie fino al 7 gennaio. Per urgenze scrivere a x@y.",
            "Ik ben afwezig tot en met 11 december. In dringende gevallen kunt u bellen.",
            "Estou de férias até 5 de janeiro. Em caso de urgência, contate x@y.",
            "誠に勝手ながら、12月11日まで不在にしております。お急ぎの場合はお電話ください。",
            "このメールは自動返信です。",
        ] {
            assert!(auto_reply_text(text).is_some(), "{text}");
        }
        for text in [
            "Ich bin nicht abwesend, aber Ihre automatische Antwort hat mir nicht geholfen. Ich bin ab Montag wieder erreichbar.",
            "I was out of the office last week. This is not an automatic reply: I will be back home on Monday.",
            "No estoy fuera de la oficina, en caso de urgencia llámenme.",
            "Non sono in ferie: per urgenze chiamatemi.",
            "Ik ben niet afwezig, ik ben weer aanwezig en wacht op antwoord.",
            "Não estou de férias. Em caso de urgência ligue.",
            "I got an automatic reply from you. I am on vacation in my head.",
            "12日は不在ですので、13日に再配達してください。",
            "Ich bin im Urlaub gewesen und bin jetzt wieder erreichbar.",
            "Ik ben met vakantie geweest, nu ben ik weer aanwezig.",
            "Sono stata in ferie, al mio rientro ho trovato il pacco rotto.",
            // What an unmarked responder says in tests/attacks.rs: the loop guards, not
            // this rule, stop it (no return date or deputy named).
            "I am out of the office until Monday.",
        ] {
            assert_eq!(auto_reply_text(text), None, "{text}");
        }
        // A letter is not a responder's text, whatever its first lines say.
        let long = format!(
            "I am out of the office until Monday, back on the 14th.\n{}",
            "The invoice is wrong. ".repeat(200)
        );
        assert_eq!(auto_reply_text(&long), None);
    }

    #[test]
    fn a_reply_that_quotes_our_mail_is_no_responder_whatever_it_says() {
        let quoted = "From: a@example.org\r\nSubject: Re: x\r\n\r\nI will be out of the office from tomorrow, back on the 14th.\r\n\r\nOn Sat, Dec 5, 2026 at 10:00 AM Support <s@example.com> wrote:\r\n> Your case\r\n";
        let m = parse(quoted.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(detect(&m, &[]), None);
        let alone = "From: a@example.org\r\nSubject: Re: x\r\n\r\nI will be out of the office from tomorrow, back on the 14th.\r\n";
        let m = parse(alone.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(detect(&m, &[]).map(|v| v.kind), Some(RobotKind::AutoReply));
    }

    #[test]
    fn auto_submitted_no_switches_the_text_rule_off() {
        let raw = "From: a@example.org\r\nAuto-Submitted: no\r\nSubject: Re: x\r\n\r\nThis is an automatic reply.\r\n";
        let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(detect(&m, &[]), None);
        let raw = "From: a@example.org\r\nSubject: Re: x\r\n\r\nThis is an automatic reply.\r\n";
        let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(
            detect(&m, &[]).map(|v| v.reason).as_deref(),
            Some("text says \"this is an automatic reply\" [auto-reply-text]")
        );
    }
}
