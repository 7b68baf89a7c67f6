//! Reply text: what the author of a message wrote *now*, without the quoted history and the
//! signature under it.
//!
//! Why: a customer's reply usually carries the whole thread below (or around) their new words,
//! and often a signature or a "Sent from my iPhone" footer. A case shows, searches and
//! classifies the new words; repeating the history would make every reply look like the first
//! mail again, and our own answers quoted back would be read as the customer's text.
//!
//! Two pure functions, both linear in the input and panic-free on any input:
//!
//! * [`visible_text`] works on a decoded plain-text body, line by line: `>` quotes, "On ...
//!   wrote:" headers (wrapped, in several languages), Outlook `From:`/`Sent:` blocks,
//!   `-----Original Message-----`, `-- ` signatures, list footers and mobile footers.
//! * [`strip_html_quotation`] cuts an HTML body at the first marker the common clients put in
//!   front of the quoted part (`gmail_quote`, `<blockquote type="cite">`, `divRplyFwdMsg`, ...),
//!   so the HTML-to-text conversion that follows only sees the new text.
//!
//! Both err on the side of keeping text: a forward is content, not history, so nothing after a
//! forward marker is stripped, and when everything looks quoted the whole input is kept rather
//! than nothing.

use std::sync::LazyLock;

use regex::Regex;

/// Longest line (bytes) that can be a quote header, a header field, a separator or a footer.
/// Real ones are short; anything longer is body text, and the cap keeps every per-line check
/// bounded, so a 760 KB line costs one scan.
const MAX_MARKER_LINE: usize = 400;
/// "On <date>, <name> <address> wrote:" is wrapped over at most this many lines by real clients.
const MAX_HEADER_LINES: usize = 3;
/// A `____` separator starts a mailing-list footer only when at most this many non-blank lines
/// follow it; a longer tail is more likely content the author drew a line above.
const MAX_FOOTER_LINES: usize = 6;
/// How far an `Outlook` header block may run (field lines plus wrapped values).
const MAX_HEADER_BLOCK_LINES: usize = 10;

/// Returns what the author wrote in this message: `text` (a decoded plain-text body, `\n` or
/// `\r\n` line ends) without quoted history, quote headers, signature and mobile footer.
///
/// * Top-posting: everything from the quote header (or Outlook header block, or
///   `-----Original Message-----`) on is dropped.
/// * Bottom-posting and inline replies: `>` lines and the "On ... wrote:" line above them are
///   dropped, the unquoted lines between them kept.
/// * A forward (`---------- Forwarded message ---------`, "Begin forwarded message:") is
///   content: from there on nothing is stripped.
///
/// Lines come back with trailing whitespace removed, joined with `\n`, without leading or
/// trailing blank lines; where a quote was removed at most one blank line separates the parts.
/// When nothing would be left (everything quoted, or only a signature) the input is returned
/// trimmed instead, so a message never loses all its text.
pub fn visible_text(text: &str) -> String {
    new_text(text).unwrap_or_else(|| {
        text.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    })
}

/// What the author wrote now, or None when the message is nothing but quoted history (or
/// empty). Unlike [`visible_text`] it never falls back to the whole text: an agent's reply
/// that only quotes must not relay the quote (which may hold internal notes) to a customer.
pub fn new_text(text: &str) -> Option<String> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let keep = keep_mask(&lines);
    let mut out = assemble(&lines, &keep);
    drop_mobile_footer(&mut out);
    if out.is_empty() {
        return None;
    }
    Some(out.join("\n"))
}

/// Whether `text` carries quoted history: a `>` quote, a quote header with a date and a
/// writing verb, an Outlook header block or `-----Original Message-----`, as a person's reply
/// from a mail client does and an out-of-office answer does not.
pub fn quotes_history(text: &str) -> bool {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    (0..lines.len()).any(|i| {
        let line = lines[i];
        if line.len() > MAX_MARKER_LINE || is_blank(line) {
            return false;
        }
        is_quoted(line)
            || is_original_message(line)
            || is_header_block(&lines, i)
            || quote_header(&lines, i).is_some_and(|(_, strong)| strong)
    })
}

/// Which lines belong to the new text.
fn keep_mask(lines: &[&str]) -> Vec<bool> {
    let n = lines.len();
    let mut keep = vec![true; n];
    // tail[i]: non-blank lines after line i, for the list-footer rule, in one pass.
    let mut tail = vec![0usize; n];
    let mut count = 0;
    for i in (0..n).rev() {
        tail[i] = count;
        if !is_blank(lines[i]) {
            count += 1;
        }
    }
    let mut i = 0;
    while i < n {
        let line = lines[i];
        if is_quoted(line) {
            keep[i] = false;
            i += 1;
            continue;
        }
        if line.len() > MAX_MARKER_LINE || is_blank(line) {
            i += 1;
            continue;
        }
        if is_forward_marker(line) {
            // A forward is content: keep the rest as it is, quotes and all.
            break;
        }
        if is_original_message(line) || is_signature_delimiter(line) {
            cut_from(&mut keep, i);
            break;
        }
        if is_header_block(lines, i) {
            cut_from(&mut keep, separator_above(lines, i));
            break;
        }
        if let Some((end, strong)) = quote_header(lines, i) {
            let next = (end + 1..n).find(|&j| !is_blank(lines[j])).unwrap_or(n);
            if next < n && is_quoted(lines[next]) {
                // Header of a quoted block: drop it with its block, keep looking for inline
                // replies below.
                keep[i..next].iter_mut().for_each(|k| *k = false);
                i = next;
                continue;
            }
            if strong {
                // Unquoted history below an "On ... wrote:" header.
                cut_from(&mut keep, i);
                break;
            }
        }
        if is_footer_rule(line) && tail[i] <= MAX_FOOTER_LINES {
            cut_from(&mut keep, i);
            break;
        }
        i += 1;
    }
    keep
}

fn cut_from(keep: &mut [bool], start: usize) {
    if let Some(rest) = keep.get_mut(start..) {
        rest.iter_mut().for_each(|k| *k = false);
    }
}

/// Kept lines without trailing whitespace; leading and trailing blank lines dropped, and a run
/// of blank lines around a removed part shrunk to one (only if the input had a blank line there,
/// so the output stays a sub-sequence of the input's lines).
fn assemble<'a>(lines: &[&'a str], keep: &[bool]) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::new();
    let mut pending_blanks = 0usize;
    let mut blank_in_gap = false;
    let mut dropped_in_gap = false;
    for (line, &kept) in lines.iter().zip(keep) {
        let line = line.trim_end();
        let blank = line.trim_start().is_empty();
        if !kept {
            dropped_in_gap = true;
            blank_in_gap |= blank;
            continue;
        }
        if blank {
            pending_blanks += 1;
            blank_in_gap = true;
            continue;
        }
        if !out.is_empty() {
            let blanks = if dropped_in_gap {
                usize::from(blank_in_gap)
            } else {
                pending_blanks
            };
            out.extend(std::iter::repeat_n("", blanks));
        }
        out.push(line);
        pending_blanks = 0;
        blank_in_gap = false;
        dropped_in_gap = false;
    }
    out
}

/// Drops "Sent from my iPhone"-style footers when they are the last non-blank line(s) and
/// something else is left above them.
fn drop_mobile_footer(out: &mut Vec<&str>) {
    while let Some(&last) = out.last() {
        if !is_mobile_footer(last) || out.len() < 2 {
            break;
        }
        out.pop();
        while out.last().is_some_and(|l| l.is_empty()) {
            out.pop();
        }
    }
}

fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

/// A `>` quoted line (also `  > ...`, as some clients indent the quote).
fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// `-- ` (RFC 3676 signature separator) or `--` alone on a line.
fn is_signature_delimiter(line: &str) -> bool {
    line.trim() == "--"
}

/// A line of only underscores, as mailing-list software puts above its footer.
fn is_footer_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 10 && t.bytes().all(|b| b == b'_')
}

/// A line of only `_`, `-` or `=` that Outlook and webmail put above the header block.
pub(super) fn is_separator_line(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 5 && (t.bytes().all(|b| b == b'_') || t.bytes().all(|b| b == b'-'))
}

/// The separator line above an Outlook header block at `i` (blank lines between allowed),
/// so it goes with the block; else `i`.
fn separator_above(lines: &[&str], i: usize) -> usize {
    let mut j = i;
    for _ in 0..3 {
        if j == 0 {
            break;
        }
        j -= 1;
        if is_separator_line(lines[j]) {
            return j;
        }
        if !is_blank(lines[j]) {
            break;
        }
    }
    i
}

static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*-{2,}\s*(?:original message|reply message|ursprüngliche nachricht|antwort nachricht|message d'origine|message d’origine|oprindelig meddelelse|opprinnelig melding|originalmeddelande|oorspronkelijk bericht|mensaje original|messaggio originale|mensagem original|alkuperäinen viesti|wiadomość oryginalna|исходное сообщение|元のメッセージ)\s*-{2,}\s*$",
    )
    .expect("static regex")
});

/// `-----Original Message-----` and its translations (Outlook, AOL, Yahoo, Zimbra).
pub(super) fn is_original_message(line: &str) -> bool {
    line.trim_start().starts_with("--") && ORIGINAL_MESSAGE.is_match(line)
}

static FORWARD_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|mensagem encaminhada|vidarebefordrat meddelande|videresendt melding|videresendt meddelelse|пересылаемое сообщение|転送メッセージ|転送されたメッセージ)\s*-{2,}|(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht|início da mensagem (?:re)?encaminhada|転送されたメッセージ)\s*[:：])\s*$",
    )
    .expect("static regex")
});

/// Gmail's and Apple Mail's forward markers: what follows is forwarded content.
pub(super) fn is_forward_marker(line: &str) -> bool {
    FORWARD_MARKER.is_match(line)
}

/// What an Outlook-style header field line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    From,
    Date,
    To,
    Cc,
    Subject,
}

/// Field of a `From: ...` / `*From:* ...` / `De : ...` line, in the languages Outlook writes.
pub(super) fn header_field(line: &str) -> Option<Field> {
    let t = line.trim_start().trim_start_matches(['*', '_']);
    // Japanese Outlook may write the full-width colon (`差出人：`).
    let colon = t
        .char_indices()
        .take(32)
        .find(|&(_, c)| c == ':' || c == '：')?
        .0;
    let label = t[..colon].trim().trim_end_matches(['*', '_']).trim();
    let label = label.to_lowercase();
    let field = match label.as_str() {
        "from" | "von" | "de" | "van" | "från" | "fra" | "da" | "od" | "от" | "lähettäjä"
        | "kimden" | "差出人" | "送信者" => Field::From,
        "sent"
        | "date"
        | "gesendet"
        | "datum"
        | "envoyé"
        | "enviado"
        | "enviado el"
        | "enviado em"
        | "enviada"
        | "enviada em"
        | "fecha"
        | "verzonden"
        | "skickat"
        | "sendt"
        | "inviato"
        | "data"
        | "wysłano"
        | "отправлено"
        | "дата"
        | "lähetetty"
        | "tarih"
        | "送信日時"
        | "送信日"
        | "日付" => Field::Date,
        "to" | "an" | "à" | "a" | "para" | "aan" | "till" | "til" | "do" | "кому"
        | "vastaanottaja" | "kime" | "宛先" => Field::To,
        "cc" | "kopie" | "copie" | "cc（写し）" => Field::Cc,
        "subject" | "betreff" | "objet" | "asunto" | "onderwerp" | "ämne" | "emne" | "oggetto"
        | "assunto" | "temat" | "тема" | "aihe" | "konu" | "件名" => Field::Subject,
        _ => return None,
    };
    Some(field)
}

/// An Outlook-style header block starting at line `i`: `From:` and `Sent:`/`Date:`, or three
/// of From/Date/To/Subject, on consecutive lines (wrapped values allowed).
pub(super) fn is_header_block(lines: &[&str], i: usize) -> bool {
    let first = match header_field(lines[i]) {
        Some(f @ (Field::From | Field::Date)) => f,
        _ => return false,
    };
    let (mut from, mut date, mut to, mut subject) = (false, false, false, false);
    let mut note = |f: Field| match f {
        Field::From => from = true,
        Field::Date => date = true,
        Field::To => to = true,
        Field::Subject => subject = true,
        Field::Cc => {}
    };
    note(first);
    let mut unlabelled_run = 0;
    for line in lines.iter().skip(i + 1).take(MAX_HEADER_BLOCK_LINES) {
        if is_blank(line) || line.len() > MAX_MARKER_LINE {
            break;
        }
        match header_field(line) {
            Some(f) => {
                note(f);
                unlabelled_run = 0;
            }
            None => {
                // A wrapped value ("[mailto:\n  bob@example.com]") continues the block.
                unlabelled_run += 1;
                if unlabelled_run > 1 {
                    break;
                }
            }
        }
    }
    (from && date) || (from && to && subject) || (date && to && subject)
}

static HEADER_START: LazyLock<Regex> = LazyLock::new(|| {
    // "On", and its translations; Yahoo puts dashes in front ("--- On ... wrote:"). Apple
    // Mail in Portugal writes "No dia 5/12/2026, às 10:00, ...", Thunderbird "Às 10:00 de ...".
    Regex::new(r"^-*\s*(?:On|Am|Le|El|Op|Den|Il|Em|W dniu|På|Dne|No dia|Às)\s")
        .expect("static regex")
});
static DATE_START: LazyLock<Regex> = LazyLock::new(|| {
    // Headers that begin with the date: "02.04.2012 14:20 ...", "Thu, 26 Jun 2014 ...".
    Regex::new(r"^(?:\d|(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,)").expect("static regex")
});
static WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:wrote|schrieb|a écrit|a ecrit|escribió|escribio|escreveu|schreef|geschreven|skrev|ha scritto|napisał|napisała|napsal|kirjoitti|написал|написала|yazdı)\b",
    )
    .expect("static regex")
});
/// Japanese and Chinese quote headers end with their verb, written without spaces, so no
/// word boundary: "… さんは書きました:" (Thunderbird), "…<a@b>のメール:" (Apple Mail),
/// "…のメッセージ:" (Yahoo! JAPAN), "… 写道：" (Chinese clients). Only right before the final
/// colon, so prose such as "12月5日のメールについて:" is not a header.
static CJK_WROTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:書きました|のメール|のメッセージ|写道|寫道)\s*[:：]$").expect("static regex")
});

/// Whether a (joined) line ends like a quote header: with a colon, ASCII or full-width.
fn ends_with_colon(t: &str) -> bool {
    t.ends_with(':') || t.ends_with('：')
}
/// After "wrote"/"schrieb" a header may still name the author before its final colon
/// ("schrieb Max Mustermann <max@example.com>:"), but not a sentence.
const MAX_AFTER_VERB: usize = 120;

/// A quote header ("On <date>, <name> wrote:") starting at line `i` and wrapped over at most
/// three lines: returns its last line and whether it is a strong header (a date's digits and a
/// writing verb near its final colon) rather than a weak one (a date and an address ending with a colon, as mail.ru and Yandex
/// write it), which counts only right above a `>` quote.
fn quote_header(lines: &[&str], i: usize) -> Option<(usize, bool)> {
    let first = lines[i].trim();
    let lang_start = HEADER_START.is_match(first);
    let date_start = DATE_START.is_match(first);
    let mut joined = String::new();
    for (j, line) in lines.iter().enumerate().skip(i).take(MAX_HEADER_LINES) {
        let t = line.trim();
        if t.is_empty() || is_quoted(line) || t.len() > MAX_MARKER_LINE {
            return None;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(t);
        if !ends_with_colon(t) {
            if !lang_start && !date_start {
                // An author-first header is one line: joining lines of prose above it would
                // take them for its start.
                return None;
            }
            continue;
        }
        // The header ends at the first line ending in a colon, header or not.
        let has_digit = joined.bytes().any(|b| b.is_ascii_digit());
        let last_verb = WROTE.find_iter(&joined).last();
        let verb_near_end = last_verb.is_some_and(|m| joined.len() - m.end() <= MAX_AFTER_VERB)
            || CJK_WROTE.is_match(&joined);
        if !lang_start && !date_start {
            // The author first ("Max <max@example.com> schrieb am 5.12.2026:", "João
            // escreveu no dia ...:"): a weak header, which counts only right above a quote.
            let names_someone = has_digit || joined.contains('@');
            return (verb_near_end && names_someone).then_some((j, false));
        }
        if !has_digit {
            // "On Monday, Bob wrote:" (no date digits): only when the verb ends the line and a
            // `>` quote follows (a weak header), so prose such as "On Monday I wrote: ..."
            // is never cut.
            let verb_ends_it = last_verb.is_some_and(|m| joined[m.end()..].trim() == ":");
            return verb_ends_it.then_some((j, false));
        }
        if verb_near_end {
            return Some((j, true));
        }
        if date_start && joined.contains('@') {
            return Some((j, false));
        }
        return None;
    }
    None
}

/// Lower-case prefixes of the footers mobile and desktop mail apps append.
const FOOTER_PREFIXES: &[&str] = &[
    "sent from ",
    "sent via ",
    "sent with ",
    "sent using ",
    "get outlook for ",
    "von meinem ",
    "gesendet von ",
    "gesendet mit ",
    "envoyé de ",
    "envoyé depuis ",
    "enviado desde ",
    "enviado do ",
    "enviado de ",
    "inviato da ",
    "verzonden met ",
    "verzonden vanaf ",
    "verstuurd vanaf ",
    "verstuurd met ",
    "skickat från ",
    "sendt fra ",
    "lähetetty ",
    "wysłane z ",
];

/// Footers that end with the verb (Japanese: "iPhoneから送信", "Android から送信").
const FOOTER_SUFFIXES: &[&str] = &["から送信"];

/// "Sent from my iPhone", "Get Outlook for Android", "Von meinem iPhone gesendet", ...: short,
/// one clause (no comma), a known prefix. "Sent from my desk, is much easier ..." is a sentence.
fn is_mobile_footer(line: &str) -> bool {
    let t = line.trim();
    if t.len() > 80 || t.contains(',') || t.split_whitespace().count() > 8 {
        return false;
    }
    let lower = t.to_lowercase();
    FOOTER_PREFIXES.iter().any(|p| lower.starts_with(p))
        || (t.chars().count() <= 24 && FOOTER_SUFFIXES.iter().any(|s| t.ends_with(s)))
}

// ---------------------------------------------------------------------------------------------
// HTML

/// Cuts an HTML body before its quoted part, so a later HTML-to-text conversion shows only the
/// new text. Returns `html` up to the earliest quotation marker (tags are left unbalanced: the
/// converter copes), or `html` unchanged when there is no marker, when the marker belongs to a
/// forward (content, not history), or when nothing visible would be left before it.
///
/// Markers: Gmail `gmail_quote`, Apple/Thunderbird `<blockquote type="cite">` and
/// `moz-cite-prefix`, Outlook `divRplyFwdMsg`, `appendonsend`, `OLK_SRC_BODY_SECTION` and its
/// `border-top` header divs, Hotmail `<hr id="stopSpelling">`, Yahoo `yahoo_quoted`, signature
/// blocks, an `<hr>` followed by a From:/Sent: block, `-----Original Message-----`, and a
/// `<blockquote>` right after an attribution line ending in a colon (mail.ru, Yandex).
pub fn strip_html_quotation(html: &str) -> String {
    // ASCII lower-casing keeps every byte offset, so positions found in `lower` cut `html`.
    let lower = html.to_ascii_lowercase();
    let mut best: Option<usize> = None;
    for marker in MARKERS {
        let limit = best.unwrap_or(lower.len());
        if let Some(pos) = first_marker(html, &lower, marker, limit) {
            best = Some(best.map_or(pos, |b| b.min(pos)));
        }
    }
    match best {
        Some(cut) if has_visible_text(&html[..cut]) => html[..cut].to_string(),
        _ => html.to_string(),
    }
}

/// How a marker found in the HTML is confirmed.
#[derive(Clone, Copy)]
enum Check {
    /// The marker alone is enough, unless a forward phrase is next to it.
    Always,
    /// An Outlook-style From:/Sent: header block must follow.
    HeaderBlockAfter,
    /// An attribution line ending in a colon must precede it; the cut moves to its start.
    AttributionBefore,
    /// The needle is a `From:` label right after a tag (`<b>From:</b>`): a header block must
    /// start there; the cut is at the enclosing paragraph or div.
    HeaderBlockHere,
}

struct Marker {
    /// Lower-case text searched for.
    needle: &'static str,
    /// Whether the needle is inside a tag's attributes (the cut is at the tag's `<`).
    in_tag: bool,
    check: Check,
}

const MARKERS: &[Marker] = &[
    Marker {
        needle: "gmail_quote",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "type=\"cite\"",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "type=cite",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "moz-cite-prefix",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "divrplyfwdmsg",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "appendonsend",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "stopspelling",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "olk_src_body_section",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "yahoo_quoted",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "mail-app-auto-default-signature",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "gmail_signature_prefix",
        in_tag: true,
        check: Check::Always,
    },
    // Outlook on the web's signature block, `<div id="Signature">`.
    Marker {
        needle: "id=\"signature\"",
        in_tag: true,
        check: Check::Always,
    },
    // Outlook desktop's signature bookmark (`<a name="_MailAutoSig">`), the only mark Word
    // leaves on an inserted signature.
    Marker {
        needle: "_mailautosig",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "moz-signature",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "data-signatureblock=\"true\"",
        in_tag: true,
        check: Check::Always,
    },
    Marker {
        needle: "-----original message-----",
        in_tag: false,
        check: Check::Always,
    },
    Marker {
        needle: "border-top",
        in_tag: true,
        check: Check::HeaderBlockAfter,
    },
    Marker {
        needle: "<hr",
        in_tag: false,
        check: Check::HeaderBlockAfter,
    },
    Marker {
        needle: "<blockquote",
        in_tag: false,
        check: Check::AttributionBefore,
    },
    Marker {
        needle: ">from:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">von:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">de :",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">de:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">da:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">差出人:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">差出人：",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">van:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">från:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">fra:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">od:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    // Not ASCII, so not lower-cased: both spellings.
    Marker {
        needle: ">от:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
    Marker {
        needle: ">От:",
        in_tag: false,
        check: Check::HeaderBlockHere,
    },
];

/// Most occurrences of one needle examined; each check reads a bounded window, so the whole
/// search stays linear even on a document made of `<hr>`s.
const MAX_CANDIDATES: usize = 1000;
/// Bytes of HTML read after a marker for a header block or a forward phrase.
const AFTER_WINDOW: usize = 1500;
/// Bytes of HTML read before a marker for an attribution line or a forward phrase.
const BEFORE_WINDOW: usize = 1500;

/// Byte offset where the first confirmed occurrence of `marker` before `limit` cuts `html`.
fn first_marker(html: &str, lower: &str, marker: &Marker, limit: usize) -> Option<usize> {
    let mut from = 0;
    for _ in 0..MAX_CANDIDATES {
        let found = from + lower.get(from..)?.find(marker.needle)?;
        if found >= limit {
            return None;
        }
        from = found + marker.needle.len();
        if marker.needle == "<hr"
            && !lower[from..].starts_with(|c: char| c == '>' || c == '/' || c.is_ascii_whitespace())
        {
            continue;
        }
        let start = if marker.in_tag {
            match tag_start(lower, found) {
                Some(s) => s,
                None => continue,
            }
        } else {
            found
        };
        if forward_nearby(lower, start) {
            continue;
        }
        let cut = match marker.check {
            Check::Always => Some(start),
            Check::HeaderBlockAfter => {
                let end = tag_end(lower, start);
                starts_with_header_block(&visible_snippet(html, end, AFTER_WINDOW)).then_some(start)
            }
            Check::AttributionBefore => attribution_start(html, lower, start),
            Check::HeaderBlockHere => {
                starts_with_header_block(&visible_snippet(html, start + 1, AFTER_WINDOW))
                    .then(|| enclosing_block_start(lower, start))
            }
        };
        if let Some(cut) = cut {
            return Some(cut);
        }
    }
    None
}

/// The `<` of the tag whose attributes contain byte `pos`, if `pos` is inside a tag.
fn tag_start(lower: &str, pos: usize) -> Option<usize> {
    let window = lower.get(floor_boundary(lower, pos.saturating_sub(2000))..pos)?;
    let lt = window.rfind('<')?;
    if window[lt..].contains('>') {
        return None;
    }
    Some(pos - (window.len() - lt))
}

/// Byte offset just after the `>` closing the tag that starts at `start` (or the end).
fn tag_end(lower: &str, start: usize) -> usize {
    lower
        .get(start..)
        .and_then(|rest| rest.find('>'))
        .map_or(lower.len(), |p| start + p + 1)
}

/// Start of the paragraph, div or line (after a `<br>`) that holds byte `pos`: where an
/// Outlook header block without a rule above it begins.
fn enclosing_block_start(lower: &str, pos: usize) -> usize {
    let from = floor_boundary(lower, pos.saturating_sub(BEFORE_WINDOW));
    let window = lower.get(from..pos).unwrap_or_default();
    ["<p>", "<p ", "<div", "<br"]
        .iter()
        .filter_map(|t| window.rfind(t))
        .max()
        .map_or(pos, |p| from + p)
}

/// Largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

const FORWARD_AFTER: &[&str] = &[
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "doorgestuurd bericht",
    "mensagem encaminhada",
    "vidarebefordrat meddelande",
    "転送メッセージ",
    "転送されたメッセージ",
];
const FORWARD_BEFORE: &[&str] = &[
    "begin forwarded message",
    "anfang der weitergeleiteten nachricht",
    "début du message réexpédié",
    "inicio del mensaje reenviado",
    "inizio messaggio inoltrato",
    "begin doorgestuurd bericht",
    "início da mensagem",
    "forwarded message -",
];

/// A forward phrase right after (or, for Apple's "Begin forwarded message:", right before) the
/// marker at `pos`: the quoted part is forwarded content, which is kept.
fn forward_nearby(lower: &str, pos: usize) -> bool {
    let after_end = floor_boundary(lower, pos.saturating_add(300));
    let before_start = floor_boundary(lower, pos.saturating_sub(400));
    let after = lower.get(pos..after_end).unwrap_or_default();
    let before = lower.get(before_start..pos).unwrap_or_default();
    FORWARD_AFTER.iter().any(|p| after.contains(p))
        || FORWARD_BEFORE.iter().any(|p| before.contains(p))
}

/// Visible text of at most `max` bytes of `html` from `start`: tags dropped (block tags become
/// line breaks), the common entities decoded. Good enough to recognise a header block.
fn visible_snippet(html: &str, start: usize, max: usize) -> String {
    let end = floor_boundary(html, start.saturating_add(max));
    let part = html.get(start..end).unwrap_or_default();
    let mut out = String::new();
    let mut rest = part;
    while let Some(lt) = rest.find('<') {
        push_collapsed(&mut out, &rest[..lt]);
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = after[1..gt].trim_start_matches('/').to_ascii_lowercase();
        if is_block_tag(&tag) {
            out.push('\n');
        }
        rest = &after[gt + 1..];
    }
    push_collapsed(&mut out, rest);
    decode_entities(&out)
}

/// Appends HTML source text, where line breaks and tabs are only spaces.
fn push_collapsed(out: &mut String, text: &str) {
    out.extend(
        text.chars()
            .map(|c| if c.is_whitespace() { ' ' } else { c }),
    );
}

fn is_block_tag(tag: &str) -> bool {
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    matches!(
        name.as_str(),
        "br" | "p"
            | "div"
            | "hr"
            | "tr"
            | "td"
            | "table"
            | "li"
            | "blockquote"
            | "pre"
            | "h1"
            | "h2"
            | "h3"
    )
}

fn decode_entities(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&#160;", " ")
        .replace('\u{a0}', " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Whether the text (of a snippet after an `<hr>` or a border-top div) begins with an
/// Outlook-style header block. The field labels may sit in their own tags, so the block is
/// read as "label:" tokens in order, not as lines.
fn starts_with_header_block(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(MAX_HEADER_BLOCK_LINES)
        .collect();
    if lines.is_empty() {
        return false;
    }
    is_header_block(&lines, 0)
}

/// For a `<blockquote>` at `pos`: when the text just before it (back to the previous block
/// tag) is an attribution line ending in a colon and naming an address or a writing verb,
/// returns where that line starts, so the attribution goes with the quote.
fn attribution_start(html: &str, lower: &str, pos: usize) -> Option<usize> {
    let start = floor_boundary(lower, pos.saturating_sub(BEFORE_WINDOW));
    let window = lower.get(start..pos)?;
    // Walk the tags of the window, remembering where each text segment between block tags
    // starts and whether it has text.
    let mut seg_start: Option<usize> = None; // None: segment start unknown (window edge)
    let mut last_text_seg: Option<(Option<usize>, usize)> = None; // (start, end) of last non-empty segment
    let mut cursor = 0;
    let mut seg_has_text = false;
    let mut seg_text_end = 0;
    while cursor < window.len() {
        let rest = &window[cursor..];
        let Some(lt) = rest.find('<') else {
            if !rest.trim().is_empty() {
                seg_has_text = true;
                seg_text_end = window.len();
            }
            break;
        };
        if !rest[..lt].trim().is_empty() {
            seg_has_text = true;
            seg_text_end = cursor + lt;
        }
        let tag_at = cursor + lt;
        let Some(gt) = window[tag_at..].find('>') else {
            break;
        };
        let tag = window[tag_at + 1..tag_at + gt].trim_start_matches('/');
        let after = tag_at + gt + 1;
        if is_block_tag(tag) {
            if seg_has_text {
                last_text_seg = Some((seg_start, seg_text_end));
            }
            seg_start = Some(after);
            seg_has_text = false;
        }
        cursor = after;
    }
    if seg_has_text {
        last_text_seg = Some((seg_start, seg_text_end));
    }
    let (Some(seg_start), seg_end) = last_text_seg? else {
        return None;
    };
    let text = visible_snippet(html, start + seg_start, seg_end - seg_start);
    let text = text.trim();
    let is_attribution = text.ends_with(':')
        && text.len() <= MAX_MARKER_LINE
        && text.bytes().any(|b| b.is_ascii_digit())
        && (text.contains('@') || WROTE.is_match(text));
    is_attribution.then_some(start + seg_start)
}

/// Whether `html` shows any text: tags, comments and the content of `head`, `style`, `script`
/// and `title` do not count, nor do whitespace and `&nbsp;`.
fn has_visible_text(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while i < lower.len() {
        let rest = &lower[i..];
        let Some(lt) = rest.find('<') else {
            return text_shows(&html[i..]);
        };
        if text_shows(&html[i..i + lt]) {
            return true;
        }
        let tag_at = i + lt;
        let tag_rest = &lower[tag_at..];
        let skip_to = if tag_rest.starts_with("<!--") {
            tag_rest.find("-->").map(|p| tag_at + p + 3)
        } else {
            let hidden = ["head", "style", "script", "title"]
                .into_iter()
                .find(|name| {
                    tag_rest[1..].starts_with(name)
                        && tag_rest[1 + name.len()..]
                            .starts_with(|c: char| c == '>' || c.is_ascii_whitespace())
                });
            match hidden {
                Some(name) => {
                    let close = format!("</{name}");
                    tag_rest.find(&close).map(|p| tag_at + p + close.len())
                }
                None => tag_rest.find('>').map(|p| tag_at + p + 1),
            }
        };
        match skip_to {
            Some(next) => i = next,
            None => return false,
        }
    }
    false
}

fn text_shows(text: &str) -> bool {
    !decode_entities(text).trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn top_post_above_on_wrote_keeps_only_reply() {
        let text = "Thanks!\n\nOn Mon, Mar 2, 2020 at 10:00 AM Bob <bob@example.com> wrote:\n\n> Hi\n> there";
        assert_eq!(visible_text(text), "Thanks!");
    }

    #[test]
    fn translated_quote_headers_are_recognised() {
        let headers = [
            "Am 12.03.2020 um 10:00 schrieb Max Mustermann <max@example.com>:",
            "Le lun. 12 mars 2020 à 10:00, Jean Dupont <jean@example.fr> a écrit :",
            "El lun, 12 mar 2020 a las 10:00, Juan (<juan@example.es>) escribió:",
            "Op 12 mrt. 2020 om 10:00 schreef Jan Jansen <jan@example.nl>:",
            "Den 12 mars 2020 kl. 10:00 skrev Anna Andersson <anna@example.se>:",
            "Den tir. 12. mar. 2020 kl. 10.00 skrev Ole <ole@example.dk>:",
            "Il giorno lun 12 mar 2020 alle ore 10:00 Mario <mario@example.it> ha scritto:",
            "Em seg., 12 de mar. de 2020 às 10:00, João <joao@example.br> escreveu:",
        ];
        for header in headers {
            // Top-posted, unquoted history (as Outlook and some webmails send it) ...
            let text = format!("Neue Antwort\n\n{header}\n\nOld text\n");
            assert_eq!(visible_text(&text), "Neue Antwort", "{header}");
            // ... and a bottom-post below a quoted block.
            let text = format!("{header}\n> old\n\nNew answer");
            assert_eq!(visible_text(&text), "New answer", "{header}");
        }
    }

    #[test]
    fn japanese_quote_headers_and_outlook_blocks_are_recognised() {
        for header in [
            // Thunderbird (and a Shift_JIS mailer writing the same).
            "2026/12/05 10:00 に サポートセンター さんは書きました:",
            // Apple Mail.
            "2026/12/05 10:00、サポートセンター <support@example.com>のメール:",
            // Yahoo! JAPAN, with a full-width colon.
            "2026年12月5日(土) 10:00 サポート <support@example.com> のメッセージ：",
        ] {
            let text = format!("新しい本文\n\n{header}\n\n古い本文\n");
            assert_eq!(visible_text(&text), "新しい本文", "{header}");
        }
        // Gmail names only the date and address: a weak header, right above a quote.
        let text =
            "新しい本文\n\n2026年12月5日(土) 10:00 サポート <support@example.com>:\n\n> 古い本文\n";
        assert_eq!(visible_text(text), "新しい本文");
        // Outlook in Japanese.
        let text = "新しい本文\n\n差出人: サポート <support@example.com>\n送信日時: 2026年12月5日 10:00\n宛先: 山田 太郎\n件名: 商品\n\n古い本文\n";
        assert_eq!(visible_text(text), "新しい本文");
        let text = "新しい本文\n\n-----元のメッセージ-----\n古い本文\n";
        assert_eq!(visible_text(text), "新しい本文");
        // Prose that ends with "のメール:" is no header.
        let text = "12月5日のメール:\n住所を変えました。";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn portuguese_and_author_first_headers_above_a_quote_are_dropped() {
        let text = "No dia 5/12/2026, às 10:00, Apoio <apoio@example.pt> escreveu:\n\n> antigo\n\nNovo texto";
        assert_eq!(visible_text(text), "Novo texto");
        let text = "Neu\n\nMax Mustermann <max@example.com> schrieb am 05.12.2026 10:00:\n> alt\n";
        assert_eq!(visible_text(text), "Neu");
        // Without a quote below, an author-first line is text; and lines above it stay.
        let text = "Max <max@example.com> schrieb am 05.12.2026:\nnicht zitiert";
        assert_eq!(visible_text(text), text);
        let text = "Danke für die Hilfe.\nMax <max@example.com> wrote:\n> alt";
        assert_eq!(visible_text(text), "Danke für die Hilfe.");
    }

    #[test]
    fn quoted_history_is_told_from_a_text_that_quotes_nothing() {
        for text in [
            "New\n\nOn Sat, Dec 5, 2026 at 10:00 AM Bob <bob@example.com> wrote:\n> old",
            "New\n> old",
            "New\n\nVon: Bob <bob@example.com>\nGesendet: Samstag, 5. Dezember 2026 10:00\nAn: x\n\nold",
            "New\n-----Original Message-----\nold",
            "新しい本文\n\n2026/12/05 10:00 に サポート さんは書きました:\n古い本文",
        ] {
            assert!(quotes_history(text), "{text}");
        }
        for text in [
            "I am out of the office until 14 December.\nIn urgent cases call 000.",
            "Ich bin bis zum 4. Januar im Urlaub.\n\n-- \nMax",
            "",
        ] {
            assert!(!quotes_history(text), "{text}");
        }
    }

    #[test]
    fn a_japanese_mobile_footer_is_dropped() {
        assert_eq!(visible_text("了解です。\n\niPhoneから送信"), "了解です。");
    }

    #[test]
    fn quote_header_wrapped_over_three_lines_is_dropped() {
        let text = "Reply\n\nOn Nov 30, 2011, at 12:47 PM, Somebody <\nsomebody@example.com>\nwrote:\n\nOld\n";
        assert_eq!(visible_text(text), "Reply");
    }

    #[test]
    fn a_header_without_a_date_counts_right_above_a_quote() {
        let text =
            "Hello, we replaced it.\n\nOn Monday, Example Support wrote:\n> New case\n> details";
        assert_eq!(visible_text(text), "Hello, we replaced it.");
        // Without the quote below it, it is text.
        let text = "Hello.\n\nOn Monday, Example Support wrote:\nsomething unquoted";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn header_without_verb_or_date_is_text() {
        let text = "On your remote host you can run:\n\n  telnet 127.0.0.1 52698\n";
        assert_eq!(visible_text(text), text.trim_end());
        let text = "On Monday I wrote: the parcel was late.\nPlease refund.";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn localized_outlook_blocks_are_cut() {
        let blocks = [
            "Von: Max <max@example.com>\nGesendet: Dienstag, 25. November 2014 14:59\nAn: Support\nBetreff: Bestellung",
            "De : Jean [mailto:jean@example.fr]\nEnvoyé : vendredi 23 janvier 2015 16:39\nÀ : Support\nObjet : Commande",
            "*From:* Bob [mailto:bob@example.com]\n*Sent:* Thursday, February 09, 2012 1:36 PM\n*To:* support@example.com\n*Subject:* Order",
            "Från: Anno [mailto:anno@example.com]\nSkickat: den 26 augusti 2015 14:45\nTill: Leif\nÄmne: RE: Week 36",
        ];
        for block in blocks {
            for sep in [
                "",
                "________________________________\n",
                "-----Original Message-----\n",
            ] {
                let text = format!("Meine Antwort\n\n{sep}{block}\n\nAlte Nachricht\n");
                assert_eq!(visible_text(&text), "Meine Antwort", "{sep}{block}");
            }
        }
    }

    #[test]
    fn original_message_separators_cut_history() {
        for sep in [
            "-----Original Message-----",
            "----- Original Message -----",
            "-----Ursprüngliche Nachricht-----",
            "-----Message d'origine-----",
        ] {
            let text = format!("Reply\r\n\r\n{sep}\r\nOld\r\n");
            assert_eq!(visible_text(&text), "Reply", "{sep}");
        }
    }

    #[test]
    fn forwarded_message_is_content() {
        let text = "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Bob <bob@example.com>\nDate: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Broken\nTo: Rob <rob@example.com>\n\n> quoted inside the forward\nText\n";
        assert_eq!(visible_text(text), text.trim_end());
        let text = "Begin forwarded message:\n\nFrom: Bob <bob@example.com>\nSubject: Broken\nDate: 4 September 2012 at 13:35\nTo: Rob\n\nText";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn mobile_footer_only_stripped_at_the_end() {
        for footer in [
            "Sent from my iPhone",
            "Sent from my BlackBerry",
            "Sent from my Samsung Galaxy smartphone.",
            "Sent from Mail for Windows 10",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Get Outlook for Android",
            "Von meinem iPhone gesendet",
            "Envoyé de mon iPhone",
        ] {
            assert_eq!(
                visible_text(&format!("Broken.\n\n{footer}\n\n")),
                "Broken.",
                "{footer}"
            );
            let middle = format!("Broken.\n{footer}\nStill broken.");
            assert_eq!(visible_text(&middle), middle, "{footer}");
        }
        let text =
            "Here is another email\n\nSent from my desk, is much easier then my mobile phone.";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn signature_delimiter_only_on_its_own_line() {
        assert_eq!(visible_text("Text\n-- \nJoe\nACME"), "Text");
        assert_eq!(visible_text("Text\n--\nJoe"), "Text");
        let mid = "A fix -- not a signature.\nok";
        assert_eq!(visible_text(mid), mid);
    }

    #[test]
    fn inline_replies_keep_unquoted_lines_only() {
        let text = "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n\n> question one?\n\nanswer one\n\n> question two?\n\nanswer two\n";
        assert_eq!(visible_text(text), "answer one\n\nanswer two");
        assert_eq!(visible_text("a\n> q\nb"), "a\nb");
    }

    #[test]
    fn everything_quoted_returns_input_trimmed() {
        assert_eq!(visible_text("\n> only\r\n> quoted\n\n"), "> only\n> quoted");
        assert_eq!(visible_text("-- \nJoe"), "-- \nJoe");
        assert_eq!(visible_text(""), "");
        assert_eq!(visible_text(" \n\t\n"), "");
    }

    #[test]
    fn crlf_is_normalised_and_blank_runs_around_quotes_shrink() {
        let text = "Hi,\r\n\r\n\r\n> old\r\n\r\n\r\nNew\r\n";
        assert_eq!(visible_text(text), "Hi,\n\nNew");
    }

    #[test]
    fn mail_ru_style_date_header_above_quote_is_dropped() {
        let text =
            "Hi.\n\nThu, 26 Jun 2014 14:00:51 +0400 от Alexander <abc@example.com>:\n> Hello\n";
        assert_eq!(visible_text(text), "Hi.");
        // Without a quote below, such a line is the author's own text.
        let text = "Meeting 26.06.2014 with bob@example.com:\nagenda below";
        assert_eq!(visible_text(text), text);
    }

    #[test]
    fn list_footer_after_underscores_is_dropped_but_long_tail_kept() {
        let text =
            "Question?\n\n______________________________\nlist mailing list\nlist@example.com\n";
        assert_eq!(visible_text(text), "Question?");
        let long = format!("Intro\n__________\n{}", "line\n".repeat(10));
        assert_eq!(visible_text(&long), long.trim_end());
    }

    #[test]
    fn html_markers_cut_before_the_quote() {
        let cases = [
            ("Reply<div class=\"gmail_quote\">On ... wrote:<blockquote>Old</blockquote></div>", "Reply"),
            ("Reply<div class=\"gmail_quote gmail_quote_container\"><div>Old</div></div>", "Reply"),
            ("<div>Reply</div><blockquote type=\"cite\">Old</blockquote>", "<div>Reply</div>"),
            ("Reply<div class=\"moz-cite-prefix\">On x wrote:</div>", "Reply"),
            ("Reply<div id=\"divRplyFwdMsg\" dir=\"ltr\"><b>From:</b> x</div>", "Reply"),
            ("Reply<div id=\"appendonsend\"></div><hr>", "Reply"),
            ("Reply<hr id=\"stopSpelling\">Date: x", "Reply"),
            ("Reply<span id=\"OLK_SRC_BODY_SECTION\">x</span>", "Reply"),
            ("Reply<div class=\"yahoo_quoted\" id=\"yahoo_quoted_1\">x</div>", "Reply"),
            ("Reply<div id=\"mail-app-auto-default-signature\">-- <br>Joe</div>", "Reply"),
            (
                "Reply<div style=\"border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm\"><p><b>From:</b> Bob<br><b>Sent:</b> Monday<br><b>To:</b> x</p></div>",
                "Reply",
            ),
            ("Reply<br><hr><b>Von:</b> Max<br><b>Gesendet:</b> Montag<br>Alt", "Reply<br>"),
            // Outlook's header block without a rule above it, in Italian and Japanese.
            (
                "<p>Reply</p><p><b>Da:</b> Assistenza<br><b>Inviato:</b> sabato 5 dicembre 2026 10:00<br><b>A:</b> Giulia<br><b>Oggetto:</b> x</p><p>Old</p>",
                "<p>Reply</p>",
            ),
            (
                "<p>返信</p><p><b>差出人:</b> サポート<br><b>送信日時:</b> 2026年12月5日 10:00<br><b>宛先:</b> 山田<br><b>件名:</b> x</p><p>古い</p>",
                "<p>返信</p>",
            ),
            (
                "<p>返信</p><p><b>差出人：</b> サポート<br><b>送信日時：</b> 2026年12月5日 10:00<br><b>宛先：</b> 山田</p><p>古い</p>",
                "<p>返信</p>",
            ),
        ];
        for (html, want) in cases {
            assert_eq!(strip_html_quotation(html), want, "{html}");
        }
    }

    #[test]
    fn html_without_marker_or_with_forward_is_unchanged() {
        for html in [
            "<p>Just text</p><blockquote>A regular quotation</blockquote>",
            "<div>Hi</div><hr><p>Section two</p>",
            "<div dir=\"ltr\"><br><div class=\"gmail_quote\">---------- Forwarded message ---------<br>From: Bob<br>Date: Fri<br>Subject: x<br>To: y<br><br>eom</div></div>",
            "Begin forwarded message:<br><br><blockquote type=\"cite\">From: Bob<br>Date: Fri</blockquote>",
            "<div class=\"gmail_quote\">On x wrote:<blockquote>everything is quoted</blockquote></div>",
            "",
        ] {
            assert_eq!(strip_html_quotation(html), html);
        }
    }

    #[test]
    fn gmail_quote_in_a_style_sheet_is_not_a_marker() {
        let html = "<style>.gmail_quote{color:red}</style><p>Text</p>";
        assert_eq!(strip_html_quotation(html), html);
    }

    #[test]
    fn adversarial_inputs_give_sane_output() {
        // Correctness only; their speed is measured by `tests/reply_corpus.rs` output, not
        // asserted here (timed assertions fail on loaded machines and prove nothing).
        for html in [
            "<hr>".repeat(50_000),
            "<b>From:</b> x<br>".repeat(10_000),
            "x 1 a@b:<br><blockquote>".repeat(10_000),
            "<".repeat(200_000),
        ] {
            assert!(html.starts_with(&strip_html_quotation(&html)));
        }
        for text in [
            "On 1 Jan 2020, Bob\n".repeat(10_000),
            "From: x\nTo: y\n".repeat(10_000),
            ">".repeat(200_000),
        ] {
            assert!(!visible_text(&text).is_empty());
        }
    }

    fn normalised_lines(text: &str) -> Vec<String> {
        text.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).trim_end().to_string())
            .collect()
    }

    /// Whether every line of `out` appears in `input`'s lines, in order.
    fn is_line_subsequence(out: &str, input: &str) -> bool {
        let input = normalised_lines(input);
        let mut it = input.iter();
        out.split('\n').all(|line| it.any(|l| l == line))
    }

    fn mail_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("> quoted".to_string()),
            Just(">".to_string()),
            Just("On Mon, 1 Jan 2020, Bob <b@x.org> wrote:".to_string()),
            Just("On Mon, 1 Jan 2020, Bob".to_string()),
            Just("wrote:".to_string()),
            Just("Am 1.1.2020 schrieb Max <m@x.de>:".to_string()),
            Just("-- ".to_string()),
            Just("--".to_string()),
            Just("From: Bob".to_string()),
            Just("Sent: Monday".to_string()),
            Just("To: Rob".to_string()),
            Just("Subject: x".to_string()),
            Just("________________________________".to_string()),
            Just("-----Original Message-----".to_string()),
            Just("---------- Forwarded message ---------".to_string()),
            Just("Sent from my iPhone".to_string()),
            Just("  ".to_string()),
            "\\PC{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn visible_text_never_panics_and_keeps_input_lines(text in "\\PC*") {
            let out = visible_text(&text);
            let fallback = normalised_lines(&text).join("\n");
            prop_assert!(is_line_subsequence(&out, &text) || out == text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect::<Vec<_>>().join("\n").trim(), "{out:?} from {text:?} ({fallback:?})");
        }

        #[test]
        fn visible_text_on_mail_like_lines_keeps_input_lines(
            lines in prop::collection::vec(mail_line(), 0..30),
            crlf in any::<bool>(),
        ) {
            let text = lines.join(if crlf { "\r\n" } else { "\n" });
            let out = visible_text(&text);
            let trimmed = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect::<Vec<_>>().join("\n");
            prop_assert!(is_line_subsequence(&out, &text) || out == trimmed.trim(), "{out:?} from {text:?}");
            if text.lines().any(|l| !l.trim().is_empty()) {
                prop_assert!(!out.is_empty());
            }
        }

        #[test]
        fn strip_html_quotation_returns_a_prefix(html in "(\\PC|<hr>|<blockquote>|<div class=\"gmail_quote\">|From: |Sent: |<br>|<b>From:</b>|é|:){0,60}") {
            let out = strip_html_quotation(&html);
            prop_assert!(html.starts_with(&out));
        }
    }
}
