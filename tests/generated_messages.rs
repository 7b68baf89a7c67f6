//! Generated hostile messages: structurally plausible mail (headers, MIME trees, encodings)
//! filled with what an attacker or a broken client sends — random header names and values,
//! RFC 2047 encoded-words in random charsets, CRLF/LF/CR mixes, NULs, very long lines,
//! multiparts with random boundaries nested up to 30 deep, random transfer encodings over
//! garbage, attachment names with `../` and backslashes, robot markers.
//!
//! Every message goes through the pipeline harness the fuzz targets use (`harness::pipeline`:
//! parse, robot detection, classification, threading, reply text, commands, judging, auth
//! results, reply tokens, with the message's invariants checked); on top of that the limits of
//! `ParseLimits::default()` must be enforced with an error naming the limit, and robot
//! detection must be deterministic and see a well-formed robot marker.

mod harness;

use std::fmt::Write as _;

use base64::Engine as _;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use mailcase::classify::robot::{self, RobotKind};
use mailcase::parse::{parse, ParseError, ParseLimits};

// ---------------------------------------------------------------------------------------------
// The model of a message, rendered to bytes.

/// A MIME part.
#[derive(Debug, Clone)]
enum Part {
    Leaf(Leaf),
    Multi {
        subtype: String,
        boundary: String,
        preamble: String,
        children: Vec<Part>,
        /// Whether the closing `--boundary--` is written.
        closed: bool,
    },
    /// `message/rfc822` around a message with its own headers.
    Message {
        headers: Vec<(String, String)>,
        inner: Box<Part>,
    },
}

#[derive(Debug, Clone)]
struct Leaf {
    content_type: String,
    encoding: Option<String>,
    disposition: Option<String>,
    body: Vec<u8>,
}

/// Line ends: one style for the whole message, or a mix chosen line by line.
#[derive(Debug, Clone)]
struct Eols {
    choices: Vec<&'static str>,
    next: usize,
}

impl Eols {
    fn next(&mut self) -> &'static str {
        let eol = self.choices[self.next % self.choices.len()];
        self.next += 1;
        eol
    }
}

fn eols() -> impl Strategy<Value = Eols> {
    prop_oneof![
        3 => Just(vec!["\r\n"]),
        2 => Just(vec!["\n"]),
        1 => Just(vec!["\r"]),
        2 => vec(select(vec!["\r\n", "\n", "\r"]), 1..16),
    ]
    .prop_map(|choices| Eols { choices, next: 0 })
}

fn render_headers(out: &mut Vec<u8>, headers: &[(String, String)], eol: &mut Eols) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        // `\u{1}` in a generated value marks a fold: a line end followed by white space.
        for (i, piece) in value.split('\u{1}').enumerate() {
            if i > 0 {
                out.extend_from_slice(eol.next().as_bytes());
                out.push(if i % 2 == 0 { b'\t' } else { b' ' });
            }
            out.extend_from_slice(piece.as_bytes());
        }
        out.extend_from_slice(eol.next().as_bytes());
    }
}

/// The part's own header fields (Content-*), without the blank line.
fn part_headers(part: &Part) -> Vec<(String, String)> {
    match part {
        Part::Leaf(l) => {
            let mut h = vec![("Content-Type".to_string(), l.content_type.clone())];
            if let Some(e) = &l.encoding {
                h.push(("Content-Transfer-Encoding".into(), e.clone()));
            }
            if let Some(d) = &l.disposition {
                h.push(("Content-Disposition".into(), d.clone()));
            }
            h
        }
        Part::Multi {
            subtype, boundary, ..
        } => vec![(
            "Content-Type".into(),
            format!("multipart/{subtype}; boundary=\"{boundary}\""),
        )],
        Part::Message { .. } => vec![("Content-Type".into(), "message/rfc822".into())],
    }
}

/// Writes the body of `part` (after its header block).
fn render_body(out: &mut Vec<u8>, part: &Part, eol: &mut Eols) {
    match part {
        Part::Leaf(l) => out.extend_from_slice(&l.body),
        Part::Multi {
            boundary,
            preamble,
            children,
            closed,
            ..
        } => {
            out.extend_from_slice(preamble.as_bytes());
            out.extend_from_slice(eol.next().as_bytes());
            for child in children {
                out.extend_from_slice(format!("--{boundary}").as_bytes());
                out.extend_from_slice(eol.next().as_bytes());
                render_part(out, child, eol);
                out.extend_from_slice(eol.next().as_bytes());
            }
            if *closed {
                out.extend_from_slice(format!("--{boundary}--").as_bytes());
                out.extend_from_slice(eol.next().as_bytes());
            }
        }
        Part::Message { headers, inner } => {
            let mut all = headers.clone();
            all.extend(part_headers(inner));
            render_headers(out, &all, eol);
            out.extend_from_slice(eol.next().as_bytes());
            render_body(out, inner, eol);
        }
    }
}

fn render_part(out: &mut Vec<u8>, part: &Part, eol: &mut Eols) {
    render_headers(out, &part_headers(part), eol);
    out.extend_from_slice(eol.next().as_bytes());
    render_body(out, part, eol);
}

/// A whole message: top-level headers, the root part's Content-* fields, the body.
fn render(headers: &[(String, String)], root: &Part, mut eol: Eols) -> Vec<u8> {
    let mut out = Vec::new();
    let mut all = headers.to_vec();
    all.push(("MIME-Version".into(), "1.0".into()));
    all.extend(part_headers(root));
    render_headers(&mut out, &all, &mut eol);
    out.extend_from_slice(eol.next().as_bytes());
    render_body(&mut out, root, &mut eol);
    out
}

/// Depth as `ParseLimits::max_depth` counts it: a single part is 0, each multipart or
/// attached message one level more.
fn depth(part: &Part) -> usize {
    match part {
        Part::Leaf(_) => 0,
        Part::Multi { children, .. } => 1 + children.iter().map(depth).max().unwrap_or(0),
        Part::Message { inner, .. } => 1 + depth(inner),
    }
}

/// MIME parts as `ParseLimits::max_parts` counts them: the whole tree, attached messages
/// included.
fn parts(part: &Part) -> usize {
    match part {
        Part::Leaf(_) => 1,
        Part::Multi { children, .. } => 1 + children.iter().map(parts).sum::<usize>(),
        Part::Message { inner, .. } => 1 + parts(inner),
    }
}

/// Whether an attached message's body is itself directly an attached message (known issues 2
/// and 3).
fn message_in_message(part: &Part) -> bool {
    match part {
        Part::Leaf(_) => false,
        Part::Multi { children, .. } => children.iter().any(message_in_message),
        Part::Message { inner, .. } => {
            matches!(**inner, Part::Message { .. }) || message_in_message(inner)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile pieces.

const CHARSETS: &[&str] = &[
    "utf-8",
    "UTF-8",
    "iso-8859-1",
    "ISO-8859-15",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "iso-2022-jp",
    "euc-kr",
    "gb2312",
    "gb18030",
    "big5",
    "utf-16",
    "utf-16le",
    "utf-7",
    "us-ascii",
    "x-unknown",
    "",
    "utf-8*en",
];

/// An RFC 2047 encoded-word with a random charset, encoding and (often broken) payload.
fn encoded_word() -> impl Strategy<Value = String> {
    let charset = prop_oneof![
        4 => select(CHARSETS).prop_map(str::to_string),
        1 => "[A-Za-z0-9_*-]{0,12}",
    ];
    let payload = prop_oneof![
        // Well-formed base64 of arbitrary bytes.
        vec(any::<u8>(), 0..40).prop_map(|b| (
            "B".to_string(),
            base64::engine::general_purpose::STANDARD.encode(b)
        )),
        // Q encoding of arbitrary bytes.
        vec(any::<u8>(), 0..40).prop_map(|b| (
            "Q".to_string(),
            b.iter().fold(String::new(), |mut s, byte| {
                match byte {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => s.push(char::from(*byte)),
                    b' ' => s.push('_'),
                    _ => {
                        let _ = write!(s, "={byte:02X}");
                    }
                }
                s
            })
        )),
        // Garbage in either.
        (
            select(vec!["B", "b", "Q", "q", "X", ""]),
            "[A-Za-z0-9+/=_?%.-]{0,40}"
        )
            .prop_map(|(e, p)| (e.to_string(), p)),
    ];
    (charset, payload).prop_map(|(c, (e, p))| format!("=?{c}?{e}?{p}?="))
}

/// One piece of a header value.
fn value_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[ -~]{0,40}",
        2 => encoded_word(),
        1 => "\\PC{0,20}",
        1 => "[a-z ]{0,5}\u{0}[a-z ]{0,5}",
        // A very long line.
        1 => (1usize..3000, select(vec!["x", "é", "=?", " ", "<a@b>"]))
            .prop_map(|(n, s)| s.repeat(n)),
        1 => Just(String::new()),
    ]
}

/// A header value: pieces joined by spaces or folds (`\u{1}`, rendered as a folded line end).
fn header_value() -> impl Strategy<Value = String> {
    vec((value_piece(), select(vec![" ", "", "\u{1}"])), 1..4).prop_map(|pieces| {
        pieces
            .into_iter()
            .map(|(p, sep)| format!("{p}{sep}"))
            .collect()
    })
}

fn address() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,8}@[a-z]{1,8}\\.test",
        Just("alice@customer.test".to_string()),
        Just("support@example.com".to_string()),
        Just("MAILER-DAEMON@mx.test".to_string()),
        Just("noreply@shop.test".to_string()),
        Just("owner-list@lists.test".to_string()),
        "support\\+[a-z0-9.-]{0,40}@example\\.com",
        "[ -~]{0,30}",
        Just(String::new()),
    ]
}

fn mailbox() -> impl Strategy<Value = String> {
    prop_oneof![
        address(),
        (encoded_word(), address()).prop_map(|(n, a)| format!("{n} <{a}>")),
        ("[ -~]{0,20}", address()).prop_map(|(n, a)| format!("\"{n}\" <{a}>")),
        Just("MAILER-DAEMON <>".to_string()),
        Just("<>".to_string()),
        vec(address(), 0..4).prop_map(|v| format!("group: {};", v.join(", "))),
    ]
}

fn auto_submitted() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "auto-replied",
            "auto-generated",
            "auto-notified",
            "no",
            "No",
            "no; reason=x",
            "",
            "(comment) auto-replied"
        ])
        .prop_map(str::to_string),
        header_value(),
    ]
}

fn precedence() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "bulk",
            "list",
            "junk",
            "auto_reply",
            "first-class",
            "BULK",
            ""
        ])
        .prop_map(str::to_string),
        header_value(),
    ]
}

fn list_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "<[a-z]{1,10}\\.[a-z]{1,10}\\.test>",
        ("[ -~]{0,20}", "[a-z.]{1,20}").prop_map(|(n, id)| format!("{n} <{id}>")),
        header_value(),
    ]
}

/// A top-level header field: the ones mailcase reads, robot markers, or random names.
fn header() -> impl Strategy<Value = (String, String)> {
    let named =
        |name: &'static str, v: BoxedStrategy<String>| v.prop_map(move |v| (name.to_string(), v));
    prop_oneof![
        2 => named("From", mailbox().boxed()),
        1 => named("To", mailbox().boxed()),
        1 => named("Cc", mailbox().boxed()),
        1 => named("Reply-To", mailbox().boxed()),
        1 => named("Sender", mailbox().boxed()),
        1 => named("Return-Path", prop_oneof![Just("<>".to_string()), address().prop_map(|a| format!("<{a}>"))].boxed()),
        1 => named("Delivered-To", address().boxed()),
        2 => named("Subject", header_value().boxed()),
        1 => named("Subject", ("(?:Re: |AW: |Fwd: |RE:|)", "\\[CMP-[0-9A-Z]{5}-[0-9A-Z]\\]", header_value()).prop_map(|(a, b, c)| format!("{a}{b} {c}")).boxed()),
        1 => named("Message-ID", prop_oneof!["<[ -~]{0,30}>", header_value()].boxed()),
        1 => named("In-Reply-To", prop_oneof!["<[a-z0-9.-]{1,20}@support\\.test>", header_value()].boxed()),
        1 => named("References", header_value().boxed()),
        1 => named("Date", prop_oneof![Just("Mon, 1 Jun 2026 10:00:00 +0200".to_string()), "[A-Za-z0-9 ,:+-]{0,40}"].boxed()),
        1 => named("Auto-Submitted", auto_submitted().boxed()),
        1 => named("Precedence", precedence().boxed()),
        1 => named("List-Id", list_id().boxed()),
        1 => named("Authentication-Results", prop_oneof![
            "mx\\.support\\.test; (dkim|spf|dmarc)=(pass|fail|none) header\\.(d|from)=[a-z.]{0,20}",
            header_value(),
        ].boxed()),
        2 => ("[A-Za-z][A-Za-z0-9-]{0,20}", header_value()),
        // Names that are no field names (spaces, colons, controls): body text to the parser.
        1 => ("[ -~\u{0}\u{7f}]{1,12}", header_value()),
    ]
}

const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/plain; charset=utf-8",
    "text/plain; charset=iso-8859-1; format=flowed",
    "text/plain; charset=\"x-unknown\"",
    "text/html",
    "text/html; charset=windows-1252",
    "application/octet-stream",
    "application/pdf",
    "image/png",
    "message/delivery-status",
    "message/disposition-notification",
    "text/rfc822-headers",
    "text",
    "",
    ";;;",
];

const ENCODINGS: &[&str] = &[
    "7bit",
    "8bit",
    "binary",
    "base64",
    "BASE64",
    "quoted-printable",
    "Quoted-Printable",
    "x-uuencode",
    "uuencode",
    "x-garbage",
    "",
];

/// Attachment file names with paths, traversal, backslashes, controls and encodings.
fn file_name() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("..".to_string()),
        Just(".".to_string()),
        Just("".to_string()),
        Just("etc".to_string()),
        Just("C:".to_string()),
        "[a-zA-Z0-9 ._-]{1,20}",
        "\\PC{1,10}",
        Just("a\u{0}b".to_string()),
    ];
    (
        vec(
            (segment, select(vec!["/", "\\", "/../", "\\..\\", ""])),
            0..5,
        ),
        "[a-z]{0,8}\\.(pdf|txt|exe|)",
    )
        .prop_map(|(segs, last)| {
            let mut s: String = segs.into_iter().map(|(a, b)| format!("{a}{b}")).collect();
            s.push_str(&last);
            s
        })
}

fn disposition() -> impl Strategy<Value = Option<String>> {
    let percent = |s: &str| {
        s.bytes().fold(String::new(), |mut out, b| {
            let _ = write!(out, "%{b:02X}");
            out
        })
    };
    prop_oneof![
        2 => Just(None),
        1 => Just(Some("inline".to_string())),
        2 => (select(vec!["attachment", "inline", "ATTACHMENT", "x"]), file_name())
            .prop_map(|(d, n)| Some(format!("{d}; filename=\"{}\"", n.replace('"', "\\\"")))),
        1 => file_name().prop_map(move |n| Some(format!("attachment; filename*=UTF-8''{}", percent(&n)))),
        1 => (encoded_word(), file_name()).prop_map(|(w, n)| Some(format!("attachment; filename=\"{w}{n}\""))),
        1 => file_name().prop_map(|n| Some(format!("attachment; filename*0=\"{n}\"; filename*1=\"../x\""))),
    ]
}

/// Body text: quotes, reply headers, signatures, commands, encoded garbage, raw bytes.
fn body(eol: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => "[ -~]{0,60}",
        1 => "> [ -~]{0,40}",
        1 => "On [A-Za-z0-9 ,:]{0,30} wrote:",
        1 => Just("-- ".to_string()),
        1 => Just("-----Original Message-----".to_string()),
        1 => "#(resolve|note|wait|reopen|priority|category|assign|escalate|x)( [a-z@.]{0,10}){0,2}",
        1 => "[1-5](/5| stars)?[ -~]{0,20}",
        1 => "<(div|blockquote|p|br|script|style)( class=\"gmail_quote\"| type=\"cite\")?>[ -~]{0,30}",
        1 => "[A-Za-z0-9+/=]{0,76}",
        1 => "(=[0-9A-Fa-z]{0,2}|=)+",
        1 => "\\PC{0,30}",
        1 => (1usize..4000).prop_map(|n| "y".repeat(n)),
    ];
    prop_oneof![
        6 => vec(line, 0..12).prop_map(move |lines| lines.join(eol).into_bytes()),
        2 => vec(any::<u8>(), 0..300),
        1 => vec(select(vec![0u8, b'\r', b'\n', b'=', b'-', b'a']), 0..200),
    ]
}

fn leaf() -> impl Strategy<Value = Part> {
    (
        prop_oneof![
            5 => select(CONTENT_TYPES).prop_map(str::to_string),
            1 => "[ -~]{0,30}",
            1 => file_name().prop_map(|n| format!("application/octet-stream; name=\"{n}\"")),
        ],
        prop_oneof![
            1 => Just(None),
            3 => select(ENCODINGS).prop_map(|e| Some(e.to_string())),
        ],
        disposition(),
        select(vec!["\r\n", "\n"]).prop_flat_map(body),
    )
        .prop_map(|(content_type, encoding, disposition, body)| {
            Part::Leaf(Leaf {
                content_type,
                encoding,
                disposition,
                body,
            })
        })
}

/// Boundaries: ordinary, empty-ish, with quotes, spaces and dashes, very long, or colliding
/// with other parts' boundaries or body text.
fn boundary() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9'()+_,./:=? -]{1,70}",
        1 => Just("b".to_string()),
        1 => Just("-".to_string()),
        1 => Just(String::new()),
        1 => Just("=_".to_string()),
        1 => (1usize..2000).prop_map(|n| "q".repeat(n)),
        1 => "[ -~]{0,20}",
    ]
}

const SUBTYPES: &[&str] = &[
    "mixed",
    "alternative",
    "related",
    "report; report-type=delivery-status",
    "digest",
    "signed",
    "x-unknown",
];

/// A hostile MIME tree: random shapes, boundaries and encodings, up to 30 levels deep.
fn tree() -> impl Strategy<Value = Part> {
    leaf().prop_recursive(30, 48, 4, |inner| {
        prop_oneof![
            4 => (
                select(SUBTYPES).prop_map(str::to_string),
                boundary(),
                "[ -~]{0,30}",
                vec(inner.clone(), 0..5),
                prop::bool::weighted(0.8),
            )
                .prop_map(|(subtype, boundary, preamble, children, closed)| Part::Multi {
                    subtype,
                    boundary,
                    preamble,
                    children,
                    closed,
                }),
            1 => (vec(header(), 0..4), inner).prop_map(|(headers, inner)| Part::Message {
                headers,
                inner: Box::new(inner),
            }),
        ]
    })
}

/// A chain of multiparts (and attached messages) exactly `levels` deep, with hostile leaves
/// beside it: reaches depth 30 far more often than [`tree`] does.
fn deep_chain(levels: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Part> {
    (
        levels,
        leaf(),
        vec((any::<bool>(), vec(leaf(), 0..2), "[A-Za-z0-9]{4,12}"), 30),
    )
        .prop_map(|(n, bottom, levels)| chain(n, bottom, levels, true))
}

/// `nested_messages`: whether an attached message may directly hold another (known issues 2
/// and 3); without, a level after an attached message is always a multipart.
fn chain(
    n: usize,
    bottom: Part,
    levels: Vec<(bool, Vec<Part>, String)>,
    nested_messages: bool,
) -> Part {
    let mut part = bottom;
    for (i, (as_message, siblings, tag)) in levels.into_iter().take(n).enumerate() {
        let as_message = as_message && (nested_messages || !matches!(part, Part::Message { .. }));
        part = if as_message {
            Part::Message {
                headers: vec![("Subject".into(), format!("level {i}"))],
                inner: Box::new(part),
            }
        } else {
            let mut children = siblings;
            children.insert(0, part);
            Part::Multi {
                subtype: "mixed".into(),
                // Unique per level, so no boundary closes another level's part.
                boundary: format!("=_level{i}_{tag}"),
                preamble: String::new(),
                children,
                closed: true,
            }
        };
    }
    part
}

/// A hostile message: random headers (From most of the time) and a hostile tree.
fn hostile_message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::option::weighted(0.85, mailbox()),
        vec(header(), 0..10),
        prop_oneof![3 => tree(), 1 => deep_chain(0..=30)],
        eols(),
        prop::option::weighted(0.1, "From [ -~]{0,30}"),
    )
        .prop_map(|(from, mut headers, root, eol, mbox)| {
            if let Some(f) = from {
                headers.insert(0, ("From".into(), f));
            }
            let mut raw = Vec::new();
            if let Some(line) = mbox {
                raw.extend_from_slice(line.as_bytes());
                raw.push(b'\n');
            }
            raw.extend(render(&headers, &root, eol));
            raw
        })
}

// ---------------------------------------------------------------------------------------------
// Well-formed envelopes around generated trees, for the limit and robot properties.

/// Plain, unfolded header fields that parse as themselves.
fn clean_headers() -> Vec<(String, String)> {
    vec![
        ("From".into(), "Alice <alice@customer.test>".into()),
        ("To".into(), "support@example.com".into()),
        ("Subject".into(), "Broken".into()),
        ("Message-ID".into(), "<m1@customer.test>".into()),
    ]
}

fn clean_eols() -> impl Strategy<Value = Eols> {
    select(vec!["\r\n", "\n"]).prop_map(|e| Eols {
        choices: vec![e],
        next: 0,
    })
}

/// A plain leaf (no hostile encodings), so the tree's shape is what the parser sees.
fn plain_leaf() -> impl Strategy<Value = Part> {
    "[a-z ]{0,20}".prop_map(|t| {
        Part::Leaf(Leaf {
            content_type: "text/plain".into(),
            encoding: None,
            disposition: None,
            body: t.into_bytes(),
        })
    })
}

/// A well-formed tree with `levels` levels and fan-out `fan` at the top: depth and part count
/// known exactly.
fn shaped_tree() -> impl Strategy<Value = Part> {
    (
        0usize..=30,
        prop_oneof![2 => 0usize..8, 1 => 480usize..=520],
        vec(
            (any::<bool>(), vec(plain_leaf(), 0..2), "[A-Za-z0-9]{4,12}"),
            30,
        ),
        plain_leaf(),
        prop::bool::weighted(0.25),
    )
        .prop_map(|(levels, fan, chain_levels, bottom, nested)| {
            let deep = chain(levels, bottom, chain_levels, nested);
            if fan == 0 {
                return deep;
            }
            let mut children = vec![deep];
            children.extend((0..fan).map(|i| {
                Part::Leaf(Leaf {
                    content_type: "text/plain".into(),
                    encoding: None,
                    disposition: Some(format!("attachment; filename=\"{i}.txt\"")),
                    body: b"x".to_vec(),
                })
            }));
            Part::Multi {
                subtype: "mixed".into(),
                boundary: "=_top".into(),
                preamble: String::new(),
                children,
                closed: true,
            }
        })
}

/// Robot markers that must be seen however the rest of the message looks.
const ROBOT_MARKERS: &[(&str, &str, RobotKind)] = &[
    ("Auto-Submitted", "auto-replied", RobotKind::AutoReply),
    ("Auto-Submitted", "auto-generated", RobotKind::AutoReply),
    ("Precedence", "auto_reply", RobotKind::AutoReply),
    ("X-Autoreply", "yes", RobotKind::AutoReply),
    ("Precedence", "list", RobotKind::List),
    ("List-Id", "<announce.lists.test>", RobotKind::List),
    (
        "List-Unsubscribe",
        "<mailto:leave@lists.test>",
        RobotKind::List,
    ),
    ("Precedence", "bulk", RobotKind::Bulk),
    ("Precedence", "junk", RobotKind::Bulk),
    (
        "X-Failed-Recipients",
        "bob@customer.test",
        RobotKind::Bounce,
    ),
];

// ---------------------------------------------------------------------------------------------
// Properties.

fn limits() -> ParseLimits {
    ParseLimits::default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Anything structurally plausible goes through every pure stage without a panic, and what
    /// parses keeps the message invariants (see `harness::check_message`).
    #[test]
    fn hostile_messages_pass_the_pipeline(raw in hostile_message()) {
        harness::pipeline(&raw);
        harness::raw_text(&String::from_utf8_lossy(&raw));
    }

    /// Robot detection is a function of the message: the same verdict on every call and on a
    /// second parse of the same bytes.
    #[test]
    fn robot_detection_is_deterministic(raw in hostile_message()) {
        let own = vec!["support@example.com".to_string()];
        if let Ok(msg) = parse(&raw, &limits()) {
            let first = robot::detect(&msg, &own);
            prop_assert_eq!(&first, &robot::detect(&msg, &own));
            let again = parse(&raw, &limits()).expect("parsed once, parses again");
            prop_assert_eq!(&first, &robot::detect(&again, &own));
        }
    }

    /// A well-formed robot marker among hostile headers and a hostile body is always seen
    /// (a strong marker wins even over `Auto-Submitted: no`).
    #[test]
    fn robot_markers_are_seen_among_hostile_headers(
        headers in vec(header(), 0..10),
        marker in select(ROBOT_MARKERS),
        at in any::<prop::sample::Index>(),
        root in tree(),
        eol in clean_eols(),
    ) {
        // Hostile values, but each on its own line: a bare CR or a line without a colon
        // would (rightly) end or merge the header block before the marker.
        let mut headers: Vec<(String, String)> = headers
            .into_iter()
            .filter(|(n, _)| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
            .map(|(n, v)| (n, v.replace(['\r', '\n', '\u{0}'], " ")))
            .collect();
        let (name, value, kind) = marker;
        // The first Auto-Submitted field is the one that counts (a later one is not the
        // sender's word), so no random one may precede ours.
        if name == "Auto-Submitted" {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        headers.insert(0, ("From".into(), "Alice <alice@customer.test>".into()));
        let i = 1 + at.index(headers.len());
        headers.insert(i, (name.to_string(), value.to_string()));
        let raw = render(&headers, &root, eol);
        let msg = match parse(&raw, &limits()) {
            Ok(m) => m,
            // Limits are another property's business.
            // Quarantined (limits, or a parser failure): never answered either.
            Err(
                ParseError::TooDeep { .. }
                | ParseError::TooManyParts { .. }
                | ParseError::ParserFailure,
            ) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        };
        let verdict = robot::detect(&msg, &["support@example.com".to_string()]);
        prop_assert!(verdict.is_some(), "{name}: {value} not seen");
        // An earlier rule may name another kind (a random List-Id before an Auto-Submitted);
        // the marker alone must not be read as a human's mail.
        let _ = kind;
    }

    /// Depth and part count over `ParseLimits::default()` are refused with an error naming the
    /// limit; within them a well-formed message parses.
    #[test]
    fn limits_are_enforced_and_named(root in shaped_tree(), eol in clean_eols()) {
        let limits = limits();
        let (want_depth, want_parts) = (depth(&root), parts(&root));
        let raw = render(&clean_headers(), &root, eol);
        let result = parse(&raw, &limits);
        if message_in_message(&root) {
            // Known issues 2 and 3 (fuzz/README.md): mail-parser 0.11.9 trips a debug assertion
            // on a message/rfc822 right inside another (debug builds quarantine it as a parser
            // failure, before any limit is checked), and in a multipart it folds one level of a
            // longer chain of attached messages into the next, so it sees fewer parts and
            // levels than were written. Only what holds despite that is checked here.
            match &result {
                Err(ParseError::ParserFailure) if cfg!(debug_assertions) => {}
                Ok(msg) => prop_assert!(msg.part_count <= want_parts.min(limits.max_parts)),
                Err(ParseError::TooDeep { depth, limit }) => {
                    prop_assert_eq!(*limit, limits.max_depth);
                    prop_assert!(*depth > *limit && want_depth > *limit);
                }
                Err(ParseError::TooManyParts { count, limit }) => {
                    prop_assert_eq!(*limit, limits.max_parts);
                    prop_assert!(*count > *limit && *count <= want_parts);
                }
                Err(e) => prop_assert!(false, "depth {}, parts {}: {}", want_depth, want_parts, e),
            }
            return Ok(());
        }
        if want_depth > limits.max_depth {
            match &result {
                Err(e @ ParseError::TooDeep { depth, limit }) => {
                    prop_assert_eq!(*limit, limits.max_depth);
                    prop_assert!(*depth > limits.max_depth);
                    let text = e.to_string();
                    prop_assert!(text.contains(&format!("limit is {}", limits.max_depth)), "{}", text);
                }
                other => prop_assert!(false, "depth {} (parts {}): {:?}", want_depth, want_parts, other.as_ref().map(|m| (m.part_count, &m.content_type))),
            }
        } else if want_parts > limits.max_parts {
            match &result {
                Err(e @ ParseError::TooManyParts { count, limit }) => {
                    prop_assert_eq!(*limit, limits.max_parts);
                    prop_assert_eq!(*count, want_parts);
                    let text = e.to_string();
                    prop_assert!(text.contains(&format!("limit is {}", limits.max_parts)), "{}", text);
                }
                other => prop_assert!(false, "parts {} (depth {}): {:?}", want_parts, want_depth, other.as_ref().map(|m| m.part_count)),
            }
        } else {
            match &result {
                Ok(msg) => prop_assert_eq!(msg.part_count, want_parts),
                Err(e) => prop_assert!(false, "depth {}, parts {}: {}", want_depth, want_parts, e),
            }
        }
    }

    /// Hostile trees: whatever the parser makes of a broken boundary, a tree deeper than the
    /// limit never comes back as a message, and any limit error names the configured limit.
    #[test]
    fn hostile_trees_respect_the_limits(root in prop_oneof![tree(), deep_chain(15..=30)], eol in eols()) {
        let limits = limits();
        let raw = render(&clean_headers(), &root, eol);
        match parse(&raw, &limits) {
            Ok(msg) => {
                prop_assert!(msg.part_count <= limits.max_parts);
                harness::check_message(&msg, &limits);
            }
            Err(ParseError::TooDeep { depth, limit }) => {
                prop_assert_eq!(limit, limits.max_depth);
                prop_assert!(depth > limit);
            }
            Err(ParseError::TooManyParts { count, limit }) => {
                prop_assert_eq!(limit, limits.max_parts);
                prop_assert!(count > limit);
            }
            Err(_) => {}
        }
    }

    /// More header fields than the limit are refused, not truncated, with the limit named.
    #[test]
    fn header_floods_are_refused(extra in prop_oneof![0usize..10, 1990usize..2010], eol in clean_eols()) {
        let limits = limits();
        let mut headers = clean_headers();
        headers.extend((0..extra).map(|i| (format!("X-Flood-{i}"), "v".to_string())));
        // MIME-Version and Content-Type are added by `render`.
        let total = headers.len() + 2;
        let raw = render(&headers, &Part::Leaf(Leaf {
            content_type: "text/plain".into(),
            encoding: None,
            disposition: None,
            body: b"hello".to_vec(),
        }), eol);
        match parse(&raw, &limits) {
            Err(e @ ParseError::TooManyHeaders { count, limit }) => {
                prop_assert!(total > limits.max_headers, "{} headers refused", total);
                prop_assert_eq!(count, total);
                prop_assert_eq!(limit, limits.max_headers);
                let (text, named) = (e.to_string(), format!("limit is {}", limits.max_headers));
                prop_assert!(text.contains(&named), "{}", text);
            }
            Ok(_) => prop_assert!(total <= limits.max_headers, "{} headers accepted", total),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }
}
