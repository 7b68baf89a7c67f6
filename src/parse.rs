//! Parse stage: raw RFC 5322 bytes -> owned [`InboundMessage`].
//!
//! `mail_parser` types never leave this module: the rest of mailcase sees only the owned,
//! sanitised values below, so a parser upgrade touches one file. Parsing is pure and never
//! panics; anything we cannot turn into a usable message is a [`ParseError`], which the daemon
//! uses as the quarantine reason (invariant 1).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use mail_parser::parsers::MessageStream;
use mail_parser::{HeaderName, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use regex::Regex;
use sha2::{Digest, Sha256};

mod address;
pub mod answer;
pub mod forward;
pub mod quoted;

/// Longest subject we keep: RFC 5322's line limit, so a subject always fits in one header line.
const MAX_SUBJECT_CHARS: usize = 998;
/// Longest attachment file name we keep: the usual file-system limit, in bytes.
const MAX_FILE_NAME_BYTES: usize = 255;

/// Resource limits for one message, so a hostile mail (MIME bomb, header flood) is refused
/// with a reason instead of exhausting memory or time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseLimits {
    /// Most MIME parts, counted over the whole tree including attached messages.
    pub max_parts: usize,
    /// Deepest nesting of multiparts and attached messages (a single-part mail is depth 0).
    pub max_depth: usize,
    /// Most top-level header fields; more is refused, not truncated, so no robot marker can be
    /// pushed out of sight behind a flood of headers.
    pub max_headers: usize,
    /// Most bytes of readable body text kept in [`InboundMessage::text`].
    pub max_text_bytes: usize,
}

impl Default for ParseLimits {
    /// Generous for real mail (500 parts, depth 20, 2000 headers, 1 MiB of text), tight for bombs.
    fn default() -> Self {
        Self {
            max_parts: 500,
            max_depth: 20,
            max_headers: 2000,
            max_text_bytes: 1024 * 1024,
        }
    }
}

/// One address with its optional display name, as the rest of mailcase handles people.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mailbox {
    /// Display name, decoded and without control characters; `None` when absent or empty.
    pub name: Option<String>,
    /// Address as given (trimmed); compare with [`Mailbox::normalized`].
    pub address: String,
}

impl Mailbox {
    /// Lower-cased address, the form used to compare senders, participants and own addresses.
    pub fn normalized(&self) -> String {
        self.address.trim().to_lowercase()
    }
}

/// What we keep of an attachment: enough to list it in a case, never its file-system path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// File name with path components and control characters removed, at most 255 bytes.
    pub name: Option<String>,
    /// Lower-case `type/subtype`.
    pub content_type: String,
    /// Decoded size in bytes.
    pub size: usize,
}

/// An inbound mail as owned, sanitised values: the only form later stages see.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InboundMessage {
    /// Message-ID without angle brackets; `None` when absent (see [`InboundMessage::dedupe_id`]).
    pub message_id: Option<String>,
    /// In-Reply-To ids without angle brackets, for threading (invariant 4).
    pub in_reply_to: Vec<String>,
    /// References ids without angle brackets, for threading (invariant 4).
    pub references: Vec<String>,
    /// First From mailbox with an address; `None` for an address-less From such as
    /// `MAILER-DAEMON <>` (its text stays in [`InboundMessage::headers`]).
    pub from: Option<Mailbox>,
    /// First Reply-To mailbox.
    pub reply_to: Option<Mailbox>,
    /// Sender: header mailbox.
    pub sender: Option<Mailbox>,
    /// Return-Path: `Some("")` for the null sender `<>`, `None` when the header is absent.
    pub return_path: Option<String>,
    /// All To addresses (groups flattened).
    pub to: Vec<Mailbox>,
    /// All Cc addresses (groups flattened).
    pub cc: Vec<Mailbox>,
    /// Delivered-To and X-Original-To values, where plus-address reply tokens are found.
    pub delivered_to: Vec<String>,
    /// Decoded subject on one line: no control characters, whitespace collapsed, <= 998 chars.
    pub subject: String,
    /// Date header in UTC; `None` when absent or invalid.
    pub date: Option<DateTime<Utc>>,
    /// Top-level lower-case `type/subtype` (`text/plain` when the header is missing).
    pub content_type: String,
    /// `report-type` of a `multipart/report`, lower case: tells a DSN from an MDN or ARF report.
    pub report_type: Option<String>,
    /// Recipients a delivery status notification reports as failed (`Final-Recipient` of a
    /// block whose `Action` is `failed`, or whose `Status` is 5.x.x), lower case.
    #[serde(default)]
    pub dsn_failed: Vec<String>,
    /// Message-IDs of the original message a delivery report returns (its attached
    /// `message/rfc822` or `text/rfc822-headers` part): which of our messages bounced.
    #[serde(default)]
    pub dsn_original_ids: Vec<String>,
    /// Readable body text (HTML converted when there is no plain text), capped in bytes.
    pub text: String,
    /// What the author wrote in this message: quoted history and signature removed
    /// ([`crate::parse::quoted::visible_text`]); `text` keeps the whole body.
    #[serde(default)]
    pub reply_text: String,
    /// True when [`InboundMessage::text`] was converted from HTML.
    pub html_only: bool,
    /// Attachments of the top-level message.
    pub attachments: Vec<Attachment>,
    /// Every top-level header in order: lower-case name, decoded one-line value.
    pub headers: Vec<(String, String)>,
    /// MIME parts in the whole tree, attached messages included.
    pub part_count: usize,
    /// Size of the raw message in bytes.
    pub raw_size: usize,
    /// Hex SHA-256 of the raw bytes: the dedupe key of a mail without Message-ID (invariant 2).
    pub content_hash: String,
    /// Set by the pipeline when a stored message already has this Message-ID but other
    /// content: a short content fingerprint that makes this message's dedupe key its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_collision: Option<String>,
}

impl InboundMessage {
    /// First value of a header (name case-insensitive): classification rules read headers by name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).next()
    }

    /// Every value of a header, in message order (e.g. several `Received` or `Delivered-To`).
    pub fn header_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The From address, normalized (lower-case domain); None without a From.
    pub fn from_address(&self) -> Option<String> {
        self.from.as_ref().map(Mailbox::normalized)
    }

    /// What the sender wrote in this message: the reply text without quoted history and
    /// signature, or the whole text when nothing new is left of it.
    pub fn new_text(&self) -> &str {
        if self.reply_text.trim().is_empty() {
            &self.text
        } else {
            &self.reply_text
        }
    }

    /// Where an answer goes: Reply-To when given (RFC 5322 3.6.2), else From.
    pub fn reply_address(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref().or(self.from.as_ref())
    }

    /// Key that makes ingest idempotent (invariant 2): Message-ID, else a hash of the raw bytes;
    /// a Message-ID that another stored message with other content already has is suffixed
    /// with this message's content fingerprint.
    pub fn dedupe_id(&self) -> String {
        match (&self.message_id, &self.id_collision) {
            (Some(id), None) => id.clone(),
            (Some(id), Some(fp)) => format!("{id}#{fp}"),
            (None, _) => format!("sha256:{}", self.content_hash),
        }
    }
}

/// Why raw bytes could not become an [`InboundMessage`]; the daemon records it as the
/// quarantine reason, so each variant says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Empty input, no header block, or none of the headers that make a mail a mail.
    #[error("not an e-mail message: no usable header block (From, Subject, Message-ID, ...)")]
    NotAMessage,
    /// MIME part count over the limit.
    #[error("message has {count} MIME parts, limit is {limit} (limits.max_parts)")]
    TooManyParts {
        /// Parts found.
        count: usize,
        /// Configured limit.
        limit: usize,
    },
    /// MIME nesting over the limit.
    #[error("message nests MIME parts {depth} levels deep, limit is {limit} (limits.max_depth)")]
    TooDeep {
        /// Depth reached (at least limit + 1; counting stops there).
        depth: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Header count over the limit.
    #[error("message has {count} header fields, limit is {limit} (limits.max_headers)")]
    TooManyHeaders {
        /// Header fields found.
        count: usize,
        /// Configured limit.
        limit: usize,
    },
    /// No From, Sender, Reply-To or Return-Path header naming anyone: nobody to attribute it to.
    #[error("message has no sender (no From, Sender, Reply-To or Return-Path)")]
    NoSender,
    /// The MIME library panicked on this input; caught so one mail cannot stop the daemon.
    #[error("the MIME parser failed on this message")]
    ParserFailure,
}

/// Whether the raw top-level header block (up to the first empty line) has a field that makes
/// a mail a mail.
fn raw_header_block_has_identity(raw: &[u8]) -> bool {
    raw.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.iter().position(|&b| b == b':').map(|i| &l[..i]))
        .any(|name| {
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            matches!(
                name.as_str(),
                "from" | "sender" | "reply-to" | "subject" | "message-id" | "date" | "return-path"
            )
        })
}

/// Turns raw bytes into an owned [`InboundMessage`], enforcing `limits`.
///
/// # Errors
/// [`ParseError`] when the input is not a usable message or breaks a limit.
pub fn parse(raw: &[u8], limits: &ParseLimits) -> Result<InboundMessage, ParseError> {
    let prepared = prepare(raw);
    if prepared.iter().all(u8::is_ascii_whitespace) {
        return Err(ParseError::NotAMessage);
    }
    let bytes: &[u8] = &prepared;
    // mail-parser promises not to panic, but has debug assertions and index arithmetic on
    // input-derived offsets; one bad mail must become a quarantine reason, not a crash.
    let parsed =
        std::panic::catch_unwind(|| PARSER.parse(bytes)).map_err(|_| ParseError::ParserFailure)?;
    let msg = parsed.ok_or(ParseError::NotAMessage)?;

    // Count before decoding, so a header flood costs no decoding work.
    let header_count = msg
        .headers()
        .iter()
        .filter(|h| is_field_name(h.name.as_str()))
        .count();
    if header_count > limits.max_headers {
        return Err(ParseError::TooManyHeaders {
            count: header_count,
            limit: limits.max_headers,
        });
    }
    let headers = collect_headers(&msg, bytes);
    let has_identity = headers.iter().any(|(name, _)| {
        matches!(
            name.as_str(),
            "from" | "sender" | "reply-to" | "subject" | "message-id" | "date" | "return-path"
        )
    });
    if !has_identity {
        // mail-parser 0.11 loses the top-level fields of some messages with empty attached
        // messages (found by tests/generated_messages.rs): when our own header block names a
        // sender or subject, the parser failed, and the quarantine reason says so.
        if raw_header_block_has_identity(bytes) {
            return Err(ParseError::ParserFailure);
        }
        return Err(ParseError::NotAMessage);
    }

    let shape = measure(&msg, limits.max_depth);
    if shape.depth > limits.max_depth {
        return Err(ParseError::TooDeep {
            depth: shape.depth,
            limit: limits.max_depth,
        });
    }
    if shape.parts > limits.max_parts {
        return Err(ParseError::TooManyParts {
            count: shape.parts,
            limit: limits.max_parts,
        });
    }

    let from = first_mailbox(&msg, bytes, HeaderName::From);
    let sender = first_mailbox(&msg, bytes, HeaderName::Sender);
    let reply_to = first_mailbox(&msg, bytes, HeaderName::ReplyTo);
    let return_path = return_path(&msg);
    // A sender header without a usable address ("From: MAILER-DAEMON <>") or the null
    // Return-Path still names the mail system as sender: such bounces must be recorded
    // (invariant 3), not quarantined, so only a message that names nobody is refused.
    let names_sender = ["from", "sender", "reply-to"].iter().any(|h| {
        headers
            .iter()
            .any(|(n, v)| n == h && !strip_angles(v).is_empty())
    });
    if from.is_none()
        && sender.is_none()
        && reply_to.is_none()
        && return_path.is_none()
        && !names_sender
    {
        return Err(ParseError::NoSender);
    }

    let (content_type, report_type) = top_content_type(&msg);
    let (text, html_only) = body_text(&msg, limits.max_text_bytes, false);
    // HTML loses its quote markers in the conversion, so an HTML-only body is cut first.
    let reply_text = if html_only {
        quoted::visible_text(&body_text(&msg, limits.max_text_bytes, true).0)
    } else {
        quoted::visible_text(&text)
    };
    let delivered_to = headers
        .iter()
        .filter(|(n, _)| n == "delivered-to" || n == "x-original-to")
        .map(|(_, v)| strip_angles(v).to_string())
        .filter(|v| !v.is_empty())
        .collect();

    Ok(InboundMessage {
        message_id: msg.message_id().map(strip_angles).and_then(non_empty),
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        from,
        reply_to,
        sender,
        return_path,
        to: all_mailboxes(&msg, bytes, HeaderName::To),
        cc: all_mailboxes(&msg, bytes, HeaderName::Cc),
        delivered_to,
        subject: one_line(msg.subject().unwrap_or_default(), MAX_SUBJECT_CHARS),
        date: date_of(&msg, bytes),
        content_type,
        dsn_failed: dsn_failed(&msg),
        dsn_original_ids: returned_ids(&msg),
        report_type,
        text,
        reply_text,
        html_only,
        attachments: attachments(&msg),
        headers,
        part_count: shape.parts,
        raw_size: raw.len(),
        content_hash: sha256_hex(raw),
        id_collision: None,
    })
}

/// Undoes two storage artefacts mail-parser does not handle: an mbox `From ` separator line
/// (it would become a bogus header) and CR-only line endings (old Mac files: mail-parser only
/// splits lines on LF, so the whole message would be one header).
pub(crate) fn prepare(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut data = Cow::Borrowed(raw);
    if !raw.contains(&b'\n') && raw.contains(&b'\r') {
        data = Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'\r' { b'\n' } else { b })
                .collect(),
        );
    }
    if let Some(rest) = data.strip_prefix(b"From ") {
        // "From :" would be an (obsolete-syntax) From header, not an mbox separator.
        let is_header = rest
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t'))
            .is_some_and(|&b| b == b':');
        if !is_header {
            let start = data
                .iter()
                .position(|&b| b == b'\n')
                .map_or(data.len(), |p| p + 1);
            data = Cow::Owned(data[start..].to_vec());
        }
    }
    data
}

/// Top-level headers as (lower-case name, decoded value), skipping "headers" whose name is not
/// an RFC 5322 field name (body text mistaken for headers by the lenient parser).
fn collect_headers(msg: &Message<'_>, raw: &[u8]) -> Vec<(String, String)> {
    msg.headers()
        .iter()
        .filter(|h| is_field_name(h.name.as_str()))
        .map(|h| {
            let value = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .map(decode_unstructured)
                .unwrap_or_default();
            (h.name.as_str().to_ascii_lowercase(), value)
        })
        .collect()
}

/// RFC 5322 3.6.8: field names are printable US-ASCII except colon, no spaces.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Decodes a raw header value as unstructured text (unfolding, RFC 2047 in any charset).
fn decode_unstructured(raw: &[u8]) -> String {
    // The unstructured parser only finishes a value at a line feed.
    let bytes: Cow<'_, [u8]> = if raw.ends_with(b"\n") {
        Cow::Borrowed(raw)
    } else {
        let mut owned = raw.to_vec();
        owned.push(b'\n');
        Cow::Owned(owned)
    };
    match MessageStream::new(&bytes).parse_unstructured() {
        HeaderValue::Text(text) => one_line(&text, usize::MAX),
        _ => String::new(),
    }
}

/// Removes control characters (CR/LF included, so no header injection survives), collapses
/// whitespace runs to one space, trims and caps at `max_chars`.
fn one_line(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(4096));
    let mut pending_space = false;
    let mut count = 0;
    for ch in value.chars() {
        if ch.is_whitespace() {
            pending_space = true;
            continue;
        }
        if ch.is_control() || is_format_control(ch) {
            continue;
        }
        if pending_space && !out.is_empty() {
            if count + 1 >= max_chars {
                break;
            }
            out.push(' ');
            count += 1;
        }
        pending_space = false;
        if count >= max_chars {
            break;
        }
        out.push(ch);
        count += 1;
    }
    out
}

/// Bidirectional overrides and zero-width characters that can disguise a subject or file name.
fn is_format_control(ch: char) -> bool {
    matches!(ch, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Sizes of the MIME tree.
struct Shape {
    parts: usize,
    depth: usize,
}

/// Counts parts and nesting depth over the whole tree, attached messages included. Iterative,
/// and stops descending past `max_depth`, so a bomb costs no stack and little time.
fn measure(msg: &Message<'_>, max_depth: usize) -> Shape {
    let mut shape = Shape { parts: 0, depth: 0 };
    // (message, part id, depth)
    let mut stack: Vec<(&Message<'_>, usize, usize)> = vec![(msg, 0, 0)];
    // Parts not reachable from the root (recovered fragments) still count as parts.
    let mut reachable = 0usize;
    let mut total = msg.parts.len();
    while let Some((m, id, depth)) = stack.pop() {
        let Some(part) = m.parts.get(id) else {
            continue;
        };
        reachable += 1;
        shape.depth = shape.depth.max(depth);
        if depth > max_depth {
            continue;
        }
        match &part.body {
            PartType::Multipart(children) => {
                for &child in children {
                    let child = child as usize;
                    // Children always follow their parent; anything else would be a cycle.
                    if child > id {
                        stack.push((m, child, depth + 1));
                    }
                }
            }
            PartType::Message(inner) => {
                total += inner.parts.len();
                stack.push((inner, 0, depth + 1));
            }
            _ => {}
        }
    }
    shape.parts = total.max(reachable);
    shape
}

/// First mailbox with an address in the last field of an address header (the field
/// mail-parser's `from()`, `reply_to()`, ... read).
fn first_mailbox(msg: &Message<'_>, raw: &[u8], name: HeaderName<'_>) -> Option<Mailbox> {
    let field = msg.headers().iter().rev().find(|h| h.name == name)?;
    field_mailboxes(field, raw).into_iter().next()
}

/// Every mailbox of every field of an address header, groups flattened.
fn all_mailboxes(msg: &Message<'_>, raw: &[u8], name: HeaderName<'_>) -> Vec<Mailbox> {
    msg.headers()
        .iter()
        .filter(|h| h.name == name)
        .flat_map(|h| field_mailboxes(h, raw))
        .collect()
}

/// The mailboxes of one address field: mail-parser's reading when every address it found is
/// well-formed, else the field's raw text read again by [`address::mailboxes`] (see that
/// module for the inputs mail-parser splits wrongly). A mailbox whose address is still
/// malformed (`@customer.test`) is left out: a reply could never reach it.
fn field_mailboxes(field: &mail_parser::Header<'_>, raw: &[u8]) -> Vec<Mailbox> {
    let Some(list) = field.value.as_address() else {
        return Vec::new();
    };
    let from_parser: Option<Vec<Mailbox>> = list
        .iter()
        .filter_map(|a| {
            let address = one_line(a.address.as_deref()?, 998);
            (!address.is_empty()).then_some((a, address))
        })
        .map(|(a, address)| {
            let address = address::canonical(&address)?;
            let name = a
                .name
                .as_deref()
                .map(|n| one_line(n, MAX_SUBJECT_CHARS))
                .and_then(non_empty);
            Some(Mailbox { name, address })
        })
        .collect();
    if let Some(mailboxes) = from_parser {
        return mailboxes;
    }
    let text = raw
        .get(field.offset_start as usize..field.offset_end as usize)
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    address::mailboxes(&text)
        .into_iter()
        .map(|m| Mailbox {
            name: m
                .name
                .map(|n| decode_unstructured(n.as_bytes()))
                .map(|n| one_line(&n, MAX_SUBJECT_CHARS))
                .and_then(non_empty),
            address: one_line(&m.address, 998),
        })
        .filter(|m| !m.address.is_empty())
        .collect()
}

/// Return-Path of the first such header: `Some("")` for `<>`, `None` when absent.
fn return_path(msg: &Message<'_>) -> Option<String> {
    let value = msg.header(HeaderName::ReturnPath)?;
    let text = match value {
        HeaderValue::Text(t) => t.as_ref(),
        HeaderValue::TextList(list) => list.first().map_or("", |t| t.as_ref()),
        _ => "",
    };
    Some(one_line(strip_angles(text), 998))
}

/// Ids of an In-Reply-To / References header, without angle brackets.
fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let ids: Vec<&str> = match value {
        HeaderValue::Text(t) => vec![t.as_ref()],
        HeaderValue::TextList(list) => list.iter().map(|t| t.as_ref()).collect(),
        _ => Vec::new(),
    };
    ids.into_iter()
        .map(strip_angles)
        .filter_map(non_empty)
        .collect()
}

/// Trims whitespace and one pair of angle brackets.
fn strip_angles(value: &str) -> &str {
    let value = value.trim();
    let value = value.strip_prefix('<').unwrap_or(value);
    value.strip_suffix('>').unwrap_or(value).trim()
}

fn non_empty(value: impl Into<String>) -> Option<String> {
    let value = value.into();
    (!value.is_empty()).then_some(value)
}

/// mail-parser with its default field parsers, except that date fields (`Date`,
/// `Resent-Date`, `Received`) are kept raw. Its date parser reads a letter after a `-` or `+`
/// as a zone name and takes the next two bytes whatever they are: `Date: -A` swallowed the
/// line end, and with it the next field (an `Auto-Submitted: auto-replied` went unseen, so a
/// robot would have been answered). [`date_of`] parses the Date value on its own instead.
pub(crate) static PARSER: LazyLock<MessageParser> = LazyLock::new(|| {
    let mut p = MessageParser::new()
        .with_mime_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .header_text(HeaderName::Comments)
        .header_id(HeaderName::ReturnPath)
        .header_comma_separated(HeaderName::Keywords)
        .header_comma_separated(HeaderName::ContentLanguage)
        .header_raw(HeaderName::MimeVersion)
        .header_raw(HeaderName::Date)
        .header_raw(HeaderName::ResentDate)
        .header_raw(HeaderName::Received);
    for list in [
        HeaderName::ListArchive,
        HeaderName::ListHelp,
        HeaderName::ListId,
        HeaderName::ListOwner,
        HeaderName::ListPost,
        HeaderName::ListSubscribe,
        HeaderName::ListUnsubscribe,
    ] {
        p = p.header_address(list);
    }
    p
});

/// The first `Date` field, parsed from its own bytes (see [`PARSER`]).
fn date_of(msg: &Message<'_>, raw: &[u8]) -> Option<DateTime<Utc>> {
    let h = msg
        .headers()
        .iter()
        .find(|h| matches!(h.name, HeaderName::Date))?;
    let mut value = raw
        .get(h.offset_start as usize..h.offset_end as usize)?
        .to_vec();
    value.push(b'\n');
    match MessageStream::new(&value).parse_date() {
        HeaderValue::DateTime(dt) => to_utc(&dt),
        _ => None,
    }
}

/// Converts mail-parser's date, rejecting impossible values (hour 27, Feb 30) instead of
/// letting them roll over into a wrong instant.
fn to_utc(dt: &mail_parser::DateTime) -> Option<DateTime<Utc>> {
    let date = NaiveDate::from_ymd_opt(i32::from(dt.year), u32::from(dt.month), u32::from(dt.day))?;
    let time = NaiveTime::from_hms_opt(
        u32::from(dt.hour),
        u32::from(dt.minute),
        u32::from(dt.second),
    )?;
    let offset_secs = (i32::from(dt.tz_hour) * 60 + i32::from(dt.tz_minute)) * 60;
    let offset = if dt.tz_before_gmt {
        FixedOffset::west_opt(offset_secs)?
    } else {
        FixedOffset::east_opt(offset_secs)?
    };
    offset
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// Lower-case `type/subtype` of a part's Content-Type, or `default` when it has none.
fn mime_type(ct: Option<&mail_parser::ContentType<'_>>, default: &str) -> String {
    // RFC 2045 token characters only: mail-parser splits lines on LF, so a bare CR (or any
    // other junk) could otherwise ride along into the store and our notifications (found by
    // fuzzing).
    let token = |s: &str| -> String {
        s.trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(*c))
            .take(127)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    match ct {
        Some(ct) => {
            let main = token(&ct.c_type);
            if main.is_empty() {
                return default.to_string();
            }
            match ct.c_subtype.as_deref().map(token) {
                Some(sub) if !sub.is_empty() => format!("{main}/{sub}"),
                _ => main,
            }
        }
        None => default.to_string(),
    }
}

/// Top-level content type and, for `multipart/report`, its report type.
fn top_content_type(msg: &Message<'_>) -> (String, Option<String>) {
    let ct = msg.content_type();
    let content_type = mime_type(ct, "text/plain");
    let report_type = if content_type == "multipart/report" {
        ct.and_then(|c| c.attribute("report-type"))
            .map(|r| r.trim().to_ascii_lowercase())
            .and_then(non_empty)
    } else {
        None
    };
    (content_type, report_type)
}

/// Readable text from the inline text bodies; HTML is converted only when no plain text exists.
/// With `strip_quotes`, HTML is cut before its quoted part first (quoted::strip_html_quotation).
fn body_text(msg: &Message<'_>, max_bytes: usize, strip_quotes: bool) -> (String, bool) {
    let mut plain = Vec::new();
    let mut html = Vec::new();
    for &id in msg.text_body.iter().chain(msg.html_body.iter()) {
        match msg.parts.get(id as usize).map(|p| &p.body) {
            Some(PartType::Text(_)) if !plain.contains(&id) => plain.push(id),
            Some(PartType::Html(_)) if !html.contains(&id) => html.push(id),
            _ => {}
        }
    }
    let html_only = plain.is_empty() && !html.is_empty();
    let mut text = String::new();
    let ids = if html_only { &html } else { &plain };
    for &id in ids {
        let chunk = match msg.parts.get(id as usize).map(|p| &p.body) {
            Some(PartType::Text(t)) => clean_text(t),
            Some(PartType::Html(h)) if strip_quotes => {
                html_to_text(&quoted::strip_html_quotation(h))
            }
            Some(PartType::Html(h)) => html_to_text(h),
            _ => continue,
        };
        if chunk.trim().is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(chunk.trim_end());
        if text.len() > max_bytes {
            break;
        }
    }
    truncate_at_char(&mut text, max_bytes);
    (text, html_only)
}

/// Normalises line ends to LF and drops control characters other than tab and LF (NUL bytes
/// and escape sequences have no place in stored or displayed text).
pub(crate) fn clean_text(text: &str) -> String {
    // Most text has no control character but line ends: a scan and a copy or two.
    // (C1 controls, U+0080..U+009F, are C2 80..C2 9F in UTF-8.)
    let b = text.as_bytes();
    let has_control = b.iter().enumerate().any(|(i, &c)| {
        (c < 0x20 && c != b'\n' && c != b'\t' && c != b'\r')
            || c == 0x7f
            || (c == 0xc2 && matches!(b.get(i + 1), Some(0x80..=0x9f)))
    });
    if !has_control {
        return if b.contains(&b'\r') {
            text.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            text.to_string()
        };
    }
    let text = text.replace("\r\n", "\n");
    text.chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect()
}

static HIDDEN_ELEMENTS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    // The `regex` crate has no back-references, so one pattern per element. An unclosed
    // element hides the rest of the document, as a browser would.
    ["script", "style", "head", "template", "title", "noscript"]
        .iter()
        .map(|tag| {
            Regex::new(&format!(r"(?is)<{tag}\b[^>]*>.*?(?:</{tag}\s*>|\z)")).expect("static regex")
        })
        .collect()
});
static COMMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s)<!--.*?(?:-->|\z)").expect("static regex"));
/// A tag that breaks the flow of text: block elements, `<br>` and `<hr>`.
static BREAK_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)<(/?)(p|div|tr|li|ul|ol|dl|dt|dd|h[1-6]|table|blockquote|pre|hr|section|article|header|footer|address|br)\b[^>]*>",
    )
    .expect("static regex")
});
static CELL_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)</?t[dh]\b[^>]*>").expect("static regex"));
static BLANK_LINES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\n[ \t]*(?:\n[ \t]*)+\n").expect("static regex"));
/// Word's HTML (Outlook desktop): every line is a `<p class=MsoNormal>` without margins and a
/// blank line is an empty paragraph, so there a paragraph is a line, not a blank line.
pub(crate) static WORD_HTML: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)class="?Mso|urn:schemas-microsoft-com:office:word"#).expect("static regex")
});

/// How a tag breaks the text, as marks the layout below reads after the entity decoding
/// (characters of the Private Use Area, which no mail text relies on).
const LINE_BREAK: char = '\u{E000}';
const BLOCK_EDGE: char = '\u{E001}';
const PARAGRAPH_EDGE: char = '\u{E002}';

/// HTML to readable text, laid out the way a browser shows it: `<br>` ends a line (an empty
/// `<div><br></div>` is a blank line, as Gmail writes one), a block element starts a new line
/// unless one has just started, and a paragraph, heading, list, table or quote is set off by
/// a blank line (Word's `MsoNormal` paragraphs are lines, see [`WORD_HTML`]).
///
/// mail-parser's converter decodes entities well but (0.11) only recognises `<script>` and
/// `<style>` without attributes, so `<script type=...>` content leaked, and it glued adjacent
/// `<div>`s together: hidden elements are removed first and every break is marked before it
/// runs, then laid out after.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut html = Cow::Borrowed(html);
    for re in HIDDEN_ELEMENTS.iter() {
        if let Cow::Owned(s) = re.replace_all(&html, "") {
            html = Cow::Owned(s);
        }
    }
    let word = WORD_HTML.is_match(&html);
    let html = COMMENT.replace_all(&html, "");
    let html = CELL_TAG.replace_all(&html, " ");
    let html = BREAK_TAG.replace_all(&html, |c: &regex::Captures<'_>| {
        let tag = c[2].to_ascii_lowercase();
        let mark = match tag.as_str() {
            "br" => LINE_BREAK,
            "p" if word => BLOCK_EDGE,
            "div" | "tr" | "li" | "dt" | "dd" | "section" | "article" | "header" | "footer"
            | "address" => BLOCK_EDGE,
            _ => PARAGRAPH_EDGE,
        };
        format!(" {mark} ")
    });
    let text = mail_parser::decoders::html::html_to_text(&html);
    let text = lay_out(&clean_text(&text));
    BLANK_LINES.replace_all(text.trim(), "\n\n").into_owned()
}

/// Turns the break marks of [`html_to_text`] into lines: trimmed, at most one blank line
/// between two lines of text.
fn lay_out(marked: &str) -> String {
    let mut out = String::with_capacity(marked.len());
    let mut line = String::new();
    let mut paragraph = false;
    // Whether the line holds anything a person put there (a no-break space counts: Word's
    // empty paragraph is `&nbsp;`), as opposed to the source's own line breaks and indents.
    let written = |l: &str| l.chars().any(|c| !c.is_ascii_whitespace());
    let end_line = |out: &mut String, line: &mut String| {
        out.push_str(line.trim());
        out.push('\n');
        line.clear();
    };
    for ch in marked.chars() {
        match ch {
            LINE_BREAK => end_line(&mut out, &mut line),
            BLOCK_EDGE | PARAGRAPH_EDGE => {
                if written(&line) {
                    end_line(&mut out, &mut line);
                } else {
                    line.clear();
                }
                paragraph |= ch == PARAGRAPH_EDGE;
            }
            '\n' => end_line(&mut out, &mut line),
            c => {
                if paragraph && !c.is_whitespace() {
                    if !out.is_empty() && !out.ends_with("\n\n") {
                        out.push('\n');
                    }
                    paragraph = false;
                }
                line.push(c);
            }
        }
    }
    out.push_str(line.trim());
    out
}

/// Cuts `text` to at most `max` bytes without splitting a character.
pub(crate) fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut cut = max;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
}

/// Attachments of the top-level message, names sanitised.
pub(crate) fn attachments(msg: &Message<'_>) -> Vec<Attachment> {
    msg.attachments()
        .map(|part| {
            let default = match part.body {
                PartType::Text(_) => "text/plain",
                PartType::Html(_) => "text/html",
                PartType::Message(_) => "message/rfc822",
                _ => "application/octet-stream",
            };
            Attachment {
                name: part.attachment_name().and_then(sanitize_file_name),
                content_type: mime_type(part.content_type(), default),
                size: part.len(),
            }
        })
        .collect()
}

/// Keeps only the last path component (either separator), without control characters,
/// at most 255 bytes; `None` when nothing usable is left.
pub(crate) fn sanitize_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut clean = one_line(last, usize::MAX);
    truncate_at_char(&mut clean, MAX_FILE_NAME_BYTES);
    let clean = clean.trim().to_string();
    if clean.is_empty() || clean == "." || clean == ".." {
        None
    } else {
        Some(clean)
    }
}

/// Message-IDs of returned originals inside a report (`message/rfc822` parts, or the
/// `Message-ID:` line of `text/rfc822-headers`), without brackets.
fn returned_ids(msg: &Message<'_>) -> Vec<String> {
    static HEADER_ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?im)^message-id:\s*<([^>\s]{1,250})>").expect("static regex")
    });
    let mut out = Vec::new();
    for part in msg.parts.iter() {
        match &part.body {
            PartType::Message(m) => {
                if let Some(id) = m.message_id() {
                    out.push(id.to_string());
                }
            }
            _ => {
                let is_headers = part.content_type().is_some_and(|ct| {
                    ct.ctype().eq_ignore_ascii_case("text")
                        && ct
                            .subtype()
                            .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
                });
                if is_headers {
                    let body = String::from_utf8_lossy(part.contents());
                    out.extend(HEADER_ID.captures_iter(&body).map(|c| c[1].to_string()));
                }
            }
        }
        if out.len() >= 10 {
            break;
        }
    }
    out
}

/// Failed recipients of the `message/delivery-status` parts (RFC 3464), lower case.
fn dsn_failed(msg: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for part in msg.parts.iter() {
        let is_dsn = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        });
        if !is_dsn {
            continue;
        }
        let body = String::from_utf8_lossy(part.contents());
        // Per-recipient blocks are separated by blank lines; the first is per-message.
        for block in body.replace("\r\n", "\n").split("\n\n") {
            let mut recipient = None;
            let mut failed = false;
            for line in block.lines() {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.trim();
                match name.trim().to_ascii_lowercase().as_str() {
                    "final-recipient" => {
                        // "rfc822; user@example.com"
                        let addr = value.rsplit(';').next().unwrap_or(value).trim();
                        let addr = strip_angles(addr).to_lowercase();
                        if addr.contains('@') && addr.len() <= 320 {
                            recipient = Some(addr);
                        }
                    }
                    "action" => failed |= value.eq_ignore_ascii_case("failed"),
                    "status" => failed |= value.starts_with('5'),
                    _ => {}
                }
            }
            if let (Some(r), true) = (recipient, failed) {
                if !out.contains(&r) && out.len() < 100 {
                    out.push(r);
                }
            }
        }
    }
    out
}

/// One attachment with its decoded content, for forwarding it to agents.
#[derive(Debug, Clone)]
pub struct AttachmentData {
    pub meta: Attachment,
    pub data: Vec<u8>,
}

/// The attachments of a stored raw message with their decoded bytes, largest total
/// `max_total` bytes: the rest are returned as metadata only (`data` empty), so a notification
/// can list them. Never panics; an unparseable message has no attachments.
pub fn attachment_data(raw: &[u8], max_total: usize) -> Vec<AttachmentData> {
    let prepared = prepare(raw);
    let bytes: &[u8] = &prepared;
    let Ok(Some(msg)) = std::panic::catch_unwind(|| PARSER.parse(bytes)) else {
        return Vec::new();
    };
    let meta = attachments(&msg);
    let mut used = 0usize;
    msg.attachments()
        .zip(meta)
        .map(|(part, meta)| {
            let body = part.contents();
            let data = if used + body.len() <= max_total {
                used += body.len();
                body.to_vec()
            } else {
                Vec::new()
            };
            AttachmentData { meta, data }
        })
        .collect()
}

fn sha256_hex(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {

    #[test]
    fn clean_text_drops_controls_and_keeps_plain_text() {
        assert_eq!(clean_text("Grüße\nZeile\tzwei"), "Grüße\nZeile\tzwei");
        assert_eq!(clean_text("a\r\nb\rc"), "a\nb\nc");
        assert_eq!(clean_text("a\u{0}b\u{1b}[31mc\u{7f}"), "ab[31mc");
        assert_eq!(clean_text("x\u{85}y\u{9b}z é"), "xyz é");
    }
    use super::*;

    #[test]
    fn a_message_whose_fields_the_parser_loses_is_a_parser_failure_not_a_non_message() {
        // Found by tests/generated_messages.rs: two empty attached messages make mail-parser
        // 0.11 drop the top-level From.
        let raw = b"From: Alice <alice@customer.test>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"a\"\r\n\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: text/plain\r\n\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: text/plain\r\n\r\n\r\n--a--\r\n";
        assert_eq!(
            parse(raw, &ParseLimits::default()).err(),
            Some(ParseError::ParserFailure)
        );
        assert_eq!(
            parse(b"X-Thing: 1\r\n\r\nbody\r\n", &ParseLimits::default()).err(),
            Some(ParseError::NotAMessage)
        );
    }

    /// Found by `generated_messages::robot_markers_are_seen_among_hostile_headers`: mail-parser's
    /// date parser took the line end after `Date: -A`, and the field after it with it.
    #[test]
    fn a_broken_date_does_not_swallow_the_next_field() {
        for date in [
            "-A",
            "+Z",
            "1 Jan 2026 10:00 -E",
            "Mon, 23 Nov 2026 10:00:00 +0000",
        ] {
            let raw = format!(
                "From: Alice <alice@customer.test>\r\nDate: {date}\r\nAuto-Submitted: auto-replied\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b--\r\n"
            );
            let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
            assert_eq!(m.header("auto-submitted"), Some("auto-replied"), "{date}");
            assert_eq!(m.content_type, "multipart/report", "{date}");
            assert_eq!(m.report_type.as_deref(), Some("delivery-status"), "{date}");
        }
        let ok = "From: a@b.test\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\nx\r\n";
        let m = parse(ok.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(
            m.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-11-23T09:00:00+00:00")
        );
        let bad = "From: a@b.test\r\nDate: -A\r\n\r\nx\r\n";
        assert_eq!(
            parse(bad.as_bytes(), &ParseLimits::default()).unwrap().date,
            None
        );
    }

    #[test]
    fn one_line_strips_controls_and_collapses_whitespace() {
        assert_eq!(one_line("  Hi\r\n\tBcc: x\u{0}y  ", 998), "Hi Bcc: xy");
        assert_eq!(one_line("abcdef", 3), "abc");
        assert_eq!(one_line("ab cd", 3), "ab");
    }

    #[test]
    fn file_names_lose_paths_and_controls() {
        assert_eq!(
            sanitize_file_name(r"..\..\evil.pdf").as_deref(),
            Some("evil.pdf")
        );
        assert_eq!(sanitize_file_name("/etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            sanitize_file_name("a\u{0}b\nc.txt").as_deref(),
            Some("ab c.txt")
        );
        assert_eq!(sanitize_file_name("dir/.."), None);
        assert_eq!(sanitize_file_name("dir/"), None);
        let long = "é".repeat(200);
        let cut = sanitize_file_name(&long).unwrap_or_default();
        assert!(cut.len() <= 255 && cut.len() >= 254);
    }

    #[test]
    fn html_conversion_hides_script_style_and_breaks_blocks() {
        let text = html_to_text(
            "<html><head><title>T</title><style type=\"text/css\">p{color:red}</style></head>\
             <body><script type=\"text/javascript\">alert('x')</script><div>Hello</div>\
             <div>World &amp; more</div><!-- hidden --><table><tr><td>A</td><td>B</td></tr></table></body></html>",
        );
        assert!(!text.contains("alert"), "{text:?}");
        assert!(!text.contains("color"), "{text:?}");
        assert!(!text.contains("hidden"), "{text:?}");
        assert!(text.contains("Hello\nWorld & more"), "{text:?}");
        assert!(text.contains("A B"), "{text:?}");
    }

    #[test]
    fn html_conversion_keeps_paragraphs_as_each_client_writes_them() {
        // Gmail: a div per line, `<div><br></div>` for a blank line.
        let gmail = "<div dir=\"ltr\">Hello Alice,<div><br></div><div>Your refund is on its way.</div>\
                     <div>It takes 3-5 days.</div><div><br></div><div>Best regards,</div><div>Carol</div></div>";
        assert_eq!(
            html_to_text(gmail),
            "Hello Alice,\n\nYour refund is on its way.\nIt takes 3-5 days.\n\nBest regards,\nCarol"
        );
        // Plain paragraphs (Thunderbird, Outlook on the web, hand-written HTML).
        let paragraphs = "<p>Hello Alice,</p>\n<p>Your refund is on its way.<br>It takes 3-5 days.</p><p>Best regards,<br>Carol</p>";
        assert_eq!(
            html_to_text(paragraphs),
            "Hello Alice,\n\nYour refund is on its way.\nIt takes 3-5 days.\n\nBest regards,\nCarol"
        );
        // Word (Outlook desktop): MsoNormal paragraphs are lines, an empty one a blank line.
        let word = "<html xmlns:w=\"urn:schemas-microsoft-com:office:word\"><body><div class=WordSection1>\
                    <p class=MsoNormal>Hello Alice,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>\
                    <p class=MsoNormal>Your refund is on its way.<o:p></o:p></p>\
                    <p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Best regards,<o:p></o:p></p>\
                    <p class=MsoNormal>Carol<o:p></o:p></p></div></body></html>";
        assert_eq!(
            html_to_text(word),
            "Hello Alice,\n\nYour refund is on its way.\n\nBest regards,\nCarol"
        );
        // A trailing <br> in a block adds no line; nested divs stack no blank lines.
        assert_eq!(
            html_to_text("<div><div><div>a<br></div></div></div><div>b</div>"),
            "a\nb"
        );
    }

    #[test]
    fn mbox_separator_and_cr_only_endings_are_undone() {
        assert_eq!(
            &*prepare(b"From a@b Mon Jan 1\nSubject: x\n"),
            b"Subject: x\n"
        );
        assert_eq!(&*prepare(b"From : a@b\n"), b"From : a@b\n");
        assert_eq!(&*prepare(b"Subject: x\r\rbody"), b"Subject: x\n\nbody");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut s = "aé".to_string();
        truncate_at_char(&mut s, 2);
        assert_eq!(s, "a");
    }
}
