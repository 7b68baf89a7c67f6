//! Robot detection (docs/design.md invariant 3, RFC 3834): mail that must never be answered.
//!
//! The rules are one table, tried in order; the first match decides the kind and its evidence
//! becomes the audit-log reason, e.g. `Auto-Submitted: auto-replied [auto-submitted]`.
//! Order matters: specific bounce evidence beats `Auto-Submitted` (Exim and Postfix mark
//! bounces `auto-replied`), which beats the null sender (RFC 3834 auto-replies use `<>` too),
//! which beats list and bulk markers. Subject markers are *weak*: `Auto-Submitted: no` (a human,
//! per RFC 3834) switches them off, but not header or MIME evidence.

use crate::parse::InboundMessage;

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
    Rule {
        name: "auto-reply-subject",
        kind: RobotKind::AutoReply,
        strength: Strength::Weak,
        test: Test::SubjectPrefix(AUTO_REPLY_SUBJECTS),
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
        Test::NullSender => (msg.return_path.as_deref() == Some(""))
            .then(|| "Return-Path: <> (null sender)".to_string()),
    }
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
    match subject.strip_prefix(&marker) {
        Some(rest) => !rest.chars().next().is_some_and(char::is_alphanumeric),
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
}
