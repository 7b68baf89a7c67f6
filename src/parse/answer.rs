//! An agent's answer as the customer gets it: what the agent wrote now, in both parts, with
//! the files they attached.
//!
//! An agent answers from Outlook, Gmail, Apple Mail or Thunderbird, so the answer is usually
//! HTML with a plain-text twin, the quoted case card below it, a signature (often with a logo)
//! and maybe a return label or an invoice attached. The customer must get the words and the
//! files, laid out as written, and nothing else: not the card (it may hold internal notes),
//! not the signature (our footer names the agent), not a tracking pixel or a script.
//!
//! The rule, in order:
//! 1. **HTML when it can be cut safely.** The HTML part is cut at the first quote or signature
//!    marker the clients write ([`quoted::strip_html_quotation`]: `gmail_quote`,
//!    `divRplyFwdMsg`, `<blockquote type="cite">`, `moz-signature`, Outlook's `From:`/`Sent:`
//!    block, ...). The rest is parsed into a tree (html5ever, the parser ammonia uses) where a
//!    `-- ` signature line and everything after it, the agent's own signature block (a line
//!    that starts with their configured full name, with more lines under it, near the end) and
//!    every image that is not a `cid:` part of the message are removed. When a quote marker is
//!    still left (an inline or bottom-posted reply), or the text would lose more to the plain
//!    text rules than the tree did, the HTML is not used (step 2).
//! 2. **Otherwise the text part**, through [`quoted::new_text`], which handles inline and
//!    bottom-posted replies line by line.
//! 3. **The relay** ([`Answer::relay`]) removes the command lines from the top of the HTML,
//!    then sanitises it with ammonia: a fixed list of tags, no script, no event handler, no
//!    class or id, a few inline style properties, links kept with `rel="noopener noreferrer"`,
//!    images only as `cid:` parts of the message.
//! 4. **Files.** A part referenced by `cid:` in the HTML is an inline image: it goes with the
//!    HTML when the relayed HTML still shows it, and is dropped with the signature or quote it
//!    belonged to (an Outlook logo). Every other attachment is a file for the customer. When
//!    the answer goes as text only, every part goes as a file, so nothing the agent pasted is
//!    lost.

use std::collections::HashSet;
use std::rc::Rc;
use std::sync::LazyLock;

use html5ever::serialize::{SerializeOpts, TraversalScope};
use html5ever::tendril::TendrilSink;
use html5ever::{local_name, parse_document, serialize, ParseOpts};
use mail_parser::{MimeHeaders, PartType};
use markup5ever_rcdom::{Handle, NodeData, RcDom, SerializableHandle};
use regex::Regex;

use super::{attachments, clean_text, html_to_text, prepare, quoted, Attachment, PARSER};

/// HTML parts longer than this are relayed as text: the tree costs memory per node, and no
/// person writes a 512 KiB answer.
const MAX_TREE_HTML: usize = 512 * 1024;
/// A signature block under the agent's name has at most this many lines of text after it.
const MAX_SIGNATURE_LINES: usize = 8;

/// One attachment of the agent's message with its content.
#[derive(Debug, Clone)]
pub struct Part {
    pub meta: Attachment,
    /// `Content-ID` without angle brackets.
    pub content_id: Option<String>,
    pub data: Vec<u8>,
}

/// An agent's message, read for relaying.
#[derive(Debug, Default)]
pub struct Answer {
    /// What the agent wrote now, commands included: from the HTML part when it is used,
    /// else from the text part; `None` when the message has nothing new.
    pub text: Option<String>,
    /// The HTML part cut and pruned (not yet sanitised), when it is used.
    html: Option<String>,
    /// Content-IDs the original HTML part shows.
    shown: HashSet<String>,
    parts: Vec<Part>,
}

/// What goes to the customer besides the text.
#[derive(Debug, Default)]
pub struct Relay {
    /// The sanitised HTML answer; `None` to send the text only.
    pub html: Option<String>,
    /// Images the HTML shows (`cid:`), to send beside it.
    pub inline: Vec<Part>,
    /// Files attached to the answer.
    pub files: Vec<Part>,
}

impl Relay {
    /// Total decoded size of the images and files.
    pub fn size(&self) -> usize {
        self.inline
            .iter()
            .chain(&self.files)
            .map(|p| p.data.len())
            .sum()
    }
}

impl Answer {
    /// Reads the agent's raw message. `signer` is the agent's configured name, whose
    /// signature block is removed. Never panics: an unreadable message has nothing new.
    pub fn read(raw: &[u8], signer: Option<&str>, max_text: usize) -> Answer {
        let prepared = prepare(raw);
        let bytes: &[u8] = &prepared;
        let Ok(Some(msg)) = std::panic::catch_unwind(|| PARSER.parse(bytes)) else {
            return Answer::default();
        };
        let part_text = |ids: &[u32], html: bool| {
            ids.iter()
                .filter_map(|&id| match msg.parts.get(id as usize).map(|p| &p.body) {
                    Some(PartType::Text(t)) if !html => Some(clean_text(t)),
                    Some(PartType::Html(h)) if html => Some(h.to_string()),
                    _ => None,
                })
                .find(|t| !t.trim().is_empty())
        };
        let plain = part_text(&msg.text_body, false);
        let html = part_text(&msg.html_body, true);
        let parts = msg
            .attachments()
            .zip(attachments(&msg))
            .map(|(part, meta)| Part {
                meta,
                content_id: part
                    .content_id()
                    .map(|id| id.trim_matches(['<', '>']).to_string()),
                data: part.contents().to_vec(),
            })
            .collect();
        let shown = html.as_deref().map(cid_refs).unwrap_or_default();
        if let Some((pruned, text)) = html
            .as_deref()
            .filter(|h| h.len() <= MAX_TREE_HTML)
            .and_then(|h| {
                std::panic::catch_unwind(|| cut_html(h, signer))
                    .ok()
                    .flatten()
            })
        {
            let mut text = text;
            super::truncate_at_char(&mut text, max_text);
            return Answer {
                text: Some(text),
                html: Some(pruned),
                shown,
                parts,
            };
        }
        let text = plain.or_else(|| html.as_deref().map(html_to_text));
        let text = text
            .as_deref()
            .and_then(quoted::new_text)
            .map(|t| without_signer_block(&t, signer))
            .filter(|t| !t.trim().is_empty())
            .map(|mut t| {
                super::truncate_at_char(&mut t, max_text);
                t
            });
        Answer {
            text,
            html: None,
            shown,
            parts,
        }
    }

    /// What goes to the customer besides the text, once the command lines (`commands`, as
    /// written, in order) are taken from the top of the HTML. The HTML is dropped (text only)
    /// when a command line cannot be found in it.
    pub fn relay(&self, commands: &[&str]) -> Relay {
        let html = self.html.as_deref().and_then(|h| {
            std::panic::catch_unwind(|| without_commands(h, commands))
                .ok()
                .flatten()
                .map(|h| sanitise(&h))
                .filter(|h| !html_to_text(h).trim().is_empty())
        });
        let Some(html) = html else {
            return Relay {
                html: None,
                inline: vec![],
                files: self.parts.clone(),
            };
        };
        let kept = cid_refs(&html);
        let mut inline = Vec::new();
        let mut files = Vec::new();
        for p in &self.parts {
            match &p.content_id {
                Some(id) if kept.contains(id) => inline.push(p.clone()),
                // Shown by the part of the HTML that was cut (a signature logo).
                Some(id) if self.shown.contains(id) => {}
                _ => files.push(p.clone()),
            }
        }
        Relay {
            html: Some(html),
            inline,
            files,
        }
    }
}

static CID_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?i)\bsrc\s*=\s*["']?cid:([^"'\s>]+)"#).expect("static regex"));

/// The Content-IDs an HTML part shows (`src="cid:..."`), entities in them decoded.
fn cid_refs(html: &str) -> HashSet<String> {
    CID_REF
        .captures_iter(html)
        .map(|c| c[1].replace("&amp;", "&"))
        .collect()
}

static WORD_PARAGRAPH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(</?)p\b").expect("static regex"));

/// Quote markers that, left in the HTML after the cut, mean quoted history is still there.
const QUOTE_LEFT: &[&str] = &[
    "<blockquote",
    "gmail_quote",
    "moz-cite-prefix",
    "divrplyfwdmsg",
    "appendonsend",
    "-----original message-----",
];

/// The HTML part cut at the first quote or signature marker and pruned (see the module
/// documentation), with its text, or `None` when it cannot be relayed as HTML.
fn cut_html(html: &str, signer: Option<&str>) -> Option<(String, String)> {
    let cut = quoted::strip_html_quotation(html);
    let lower = cut.to_ascii_lowercase();
    if QUOTE_LEFT.iter().any(|m| lower.contains(m)) {
        return None;
    }
    // Word's paragraphs are lines (see `html_to_text`): as `<p>`s without Word's margins
    // they would be double-spaced, so they become `<div>`s.
    let cut = if super::WORD_HTML.is_match(&cut) {
        WORD_PARAGRAPH.replace_all(&cut, "${1}div").into_owned()
    } else {
        cut
    };
    let dom = parse(&cut);
    let body = body_of(&dom)?;
    prune(&body, signer);
    let pruned = serialize_children(&body);
    let text = html_to_text(&pruned);
    let text = text.trim();
    // Anything the line rules would still take away (an unmarked "On ... wrote:", `>`
    // quotes, a mobile footer) is in the HTML too: the text part is used instead.
    if text.is_empty() || quoted::new_text(text).as_deref() != Some(text) {
        return None;
    }
    Some((pruned, text.to_string()))
}

fn parse(html: &str) -> RcDom {
    parse_document(RcDom::default(), ParseOpts::default()).one(html)
}

/// The `<body>` element of a parsed document.
fn body_of(dom: &RcDom) -> Option<Handle> {
    let html = dom
        .document
        .children
        .borrow()
        .iter()
        .find(|n| is_element(n, "html"))
        .cloned()?;
    let body = html
        .children
        .borrow()
        .iter()
        .find(|n| is_element(n, "body"))
        .cloned();
    body
}

fn is_element(node: &Handle, tag: &str) -> bool {
    matches!(&node.data, NodeData::Element { name, .. } if &*name.local == tag)
}

/// The nodes under `root` in document order (iterative: no recursion on deep input).
fn descendants(root: &Handle) -> Vec<Handle> {
    let mut out = Vec::new();
    let mut stack: Vec<Handle> = root.children.borrow().iter().rev().cloned().collect();
    while let Some(n) = stack.pop() {
        stack.extend(n.children.borrow().iter().rev().cloned());
        out.push(n);
    }
    out
}

/// A text node's text with no-break spaces as spaces; `None` for other nodes.
fn text_of(node: &Handle) -> Option<String> {
    match &node.data {
        NodeData::Text { contents } => Some(contents.borrow().replace('\u{a0}', " ")),
        _ => None,
    }
}

fn parent_of(node: &Handle) -> Option<Handle> {
    let weak = node.parent.take();
    let parent = weak.as_ref().and_then(std::rc::Weak::upgrade);
    node.parent.set(weak);
    parent
}

/// Takes `node` out of the tree.
fn detach(node: &Handle) {
    if let Some(parent) = parent_of(node) {
        parent
            .children
            .borrow_mut()
            .retain(|c| !Rc::ptr_eq(c, node));
    }
    node.parent.set(None);
}

/// Takes `node` and everything after it in document order out of the tree (up to `root`).
fn cut_from(node: &Handle, root: &Handle) {
    let mut n = node.clone();
    while let Some(parent) = parent_of(&n) {
        {
            let mut children = parent.children.borrow_mut();
            if let Some(at) = children.iter().position(|c| Rc::ptr_eq(c, &n)) {
                children.truncate(at + 1);
            }
        }
        if Rc::ptr_eq(&parent, root) {
            break;
        }
        n = parent;
    }
    detach(node);
}

/// Removes from the tree under `body`: images that are not parts of the message, a `-- `
/// signature and everything after it, and the agent's signature block.
fn prune(body: &Handle, signer: Option<&str>) {
    for n in descendants(body) {
        if is_element(&n, "img") && !shows_a_part(&n) {
            detach(&n);
        }
    }
    let lines: Vec<(Handle, String)> = descendants(body)
        .into_iter()
        .filter_map(|n| {
            let t = text_of(&n)?;
            let t = t.trim().to_string();
            (!t.is_empty()).then_some((n, t))
        })
        .collect();
    // `-- ` on a line of its own (Apple Mail, hand-made signatures); not on the first line.
    if let Some((n, _)) = lines
        .iter()
        .skip(1)
        .find(|(_, t)| t == "--" || t.starts_with("-- ") && t.len() < 4)
    {
        cut_from(n, body);
        return;
    }
    let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
    if let Some(i) = signer.and_then(|s| signer_block_start(&texts, s)) {
        cut_from(&lines[i].0, body);
    }
}

/// Where the agent's signature block starts among the text lines: the last line that starts
/// with the agent's full name (at least two words), not the first line, with one to
/// [`MAX_SIGNATURE_LINES`] lines after it (a title, a company, a phone number). A name alone
/// on the last line is a sign-off, not a signature, and stays.
fn signer_block_start(lines: &[&str], signer: &str) -> Option<usize> {
    let name = signer.trim();
    if name.split_whitespace().count() < 2 {
        return None;
    }
    let i = lines.iter().rposition(|l| {
        l.starts_with(name)
            && l[name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
    })?;
    let after = lines.len() - i - 1;
    (i > 0 && (1..=MAX_SIGNATURE_LINES).contains(&after)).then_some(i)
}

/// [`signer_block_start`] on plain text: the text without the agent's signature block.
fn without_signer_block(text: &str, signer: Option<&str>) -> String {
    let Some(signer) = signer else {
        return text.to_string();
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let Some(i) = signer_block_start(&lines, signer) else {
        return text.to_string();
    };
    // The i-th non-blank line, found again in the text.
    let mut seen = 0;
    let mut kept = Vec::new();
    for l in text.lines() {
        if !l.trim().is_empty() {
            if seen == i {
                break;
            }
            seen += 1;
        }
        kept.push(l);
    }
    kept.join("\n").trim_end().to_string()
}

fn shows_a_part(img: &Handle) -> bool {
    let NodeData::Element { attrs, .. } = &img.data else {
        return false;
    };
    attrs.borrow().iter().any(|a| {
        a.name.local == local_name!("src")
            && a.value
                .trim_start()
                .get(..4)
                .is_some_and(|s| s.eq_ignore_ascii_case("cid:"))
    })
}

/// The HTML without the command lines at its top (each the text of one line, in order),
/// and without the empty lines they leave; `None` when a command line is not found there.
fn without_commands(html: &str, commands: &[&str]) -> Option<String> {
    let dom = parse(html);
    let body = body_of(&dom)?;
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut wanted = commands.iter().map(|c| squash(c)).filter(|c| !c.is_empty());
    let mut next = wanted.next();
    for n in descendants(&body) {
        let Some(want) = &next else { break };
        if is_element(&n, "img") {
            return None;
        }
        let Some(text) = text_of(&n) else { continue };
        let text = squash(&text);
        if text.is_empty() {
            continue;
        }
        if &text != want {
            return None;
        }
        detach(&n);
        next = wanted.next();
    }
    if next.is_some() {
        return None;
    }
    // The line breaks and blank text left at the top, and the empty lines clients leave at
    // the end (`<div><br></div>`, Word's `&nbsp;` paragraph) before our footer.
    let blank = |n: &Handle| is_element(n, "br") || text_of(n).is_some_and(|t| t.trim().is_empty());
    for n in descendants(&body) {
        if blank(&n) {
            detach(&n);
            continue;
        }
        if text_of(&n).is_some() || is_element(&n, "img") {
            break;
        }
    }
    for n in descendants(&body).into_iter().rev() {
        let empty_element = matches!(n.data, NodeData::Element { .. })
            && !is_element(&n, "img")
            && n.children.borrow().is_empty();
        if blank(&n) || empty_element {
            detach(&n);
            continue;
        }
        if text_of(&n).is_some() || is_element(&n, "img") {
            break;
        }
    }
    Some(serialize_children(&body))
}

fn serialize_children(node: &Handle) -> String {
    let mut out = Vec::new();
    let handle: SerializableHandle = node.clone().into();
    let opts = SerializeOpts {
        traversal_scope: TraversalScope::ChildrenOnly(None),
        ..SerializeOpts::default()
    };
    if serialize(&mut out, &handle, opts).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The sanitiser: what an answer may keep of its HTML.
static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.tags(HashSet::from([
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "div",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "u",
        "ul",
    ]))
    .generic_attributes(HashSet::from(["style", "dir", "lang", "title"]))
    .tag_attributes(
        [
            ("a", HashSet::from(["href"])),
            ("img", HashSet::from(["src", "alt", "width", "height"])),
            ("td", HashSet::from(["colspan", "rowspan"])),
            ("th", HashSet::from(["colspan", "rowspan"])),
        ]
        .into_iter()
        .collect(),
    )
    .url_schemes(HashSet::from(["http", "https", "mailto", "tel", "cid"]))
    .url_relative(ammonia::UrlRelative::Deny)
    // What an agent marks (colour, bold, italics, underline, alignment); not the client's
    // default font and size, which would override the mail's own on every line.
    .filter_style_properties(HashSet::from([
        "color",
        "background-color",
        "font-weight",
        "font-style",
        "text-decoration",
        "text-align",
    ]))
    // Images only from the message itself: no remote content, so no tracking.
    .attribute_filter(|element, attribute, value| {
        if element == "img" && attribute == "src" && !value.trim_start().starts_with("cid:") {
            None
        } else {
            Some(value.into())
        }
    });
    b
});

/// The answer's HTML as the customer may see it.
fn sanitise(html: &str) -> String {
    SANITISER.clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(html: &str, extra_parts: &str) -> Vec<u8> {
        format!(
            "From: Carol Agent <carol@support.test>\r\nTo: support@support.test\r\nSubject: RE: x\r\n\
             Message-ID: <a1@support.test>\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/related; boundary=\"r\"\r\n\r\n--r\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n{extra_parts}--r--\r\n"
        )
        .into_bytes()
    }

    fn png(cid: &str, name: &str) -> String {
        format!(
            "--r\r\nContent-Type: image/png; name=\"{name}\"\r\nContent-ID: <{cid}>\r\n\
             Content-Disposition: inline; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\r\n"
        )
    }

    #[test]
    fn gmail_answer_keeps_paragraphs_and_drops_signature_and_quote() {
        let html = "<div dir=\"ltr\">Hello Alice,<div><br></div><div>Your refund is on its way.</div>\
                    <div><br></div><div>Best regards,</div><div>Carol</div><div><br></div>\
                    <span class=\"gmail_signature_prefix\">-- </span><br><div dir=\"ltr\" class=\"gmail_signature\">\
                    Carol Agent<br>Example Support</div></div><br><div class=\"gmail_quote\">\
                    <div dir=\"ltr\" class=\"gmail_attr\">On Mon, 23 Nov 2026 at 10:00, Example Support wrote:<br></div>\
                    <blockquote class=\"gmail_quote\">INTERNAL card</blockquote></div>";
        let a = Answer::read(&mail(html, ""), Some("Carol Agent"), 1 << 20);
        assert_eq!(
            a.text.as_deref(),
            Some("Hello Alice,\n\nYour refund is on its way.\n\nBest regards,\nCarol")
        );
        let r = a.relay(&[]);
        let h = r.html.unwrap();
        assert!(
            !h.contains("INTERNAL") && !h.contains("Example Support"),
            "{h}"
        );
        assert!(h.contains("Your refund is on its way."), "{h}");
    }

    #[test]
    fn commands_tracking_and_scripts_never_reach_the_customer() {
        let html = "<p>#resolve</p><p>Hello Alice,</p><p onclick=\"steal()\">Refunded.\
                    <img src=\"https://track.example.net/o.gif?u=1\" width=1 height=1>\
                    <script>alert(1)</script><img src=\"cid:shot@x\" alt=\"screenshot\"></p>";
        let a = Answer::read(&mail(html, &png("shot@x", "shot.png")), None, 1 << 20);
        assert_eq!(
            a.text.as_deref(),
            Some("#resolve\n\nHello Alice,\n\nRefunded.")
        );
        let r = a.relay(&["#resolve"]);
        let h = r.html.unwrap();
        assert!(!h.contains("#resolve"), "{h}");
        assert!(
            h.ends_with("</p>"),
            "no empty line is left at either end: {h}"
        );
        assert!(
            !h.contains("onclick") && !h.contains("alert") && !h.contains("track."),
            "{h}"
        );
        assert!(h.contains("src=\"cid:shot@x\""), "{h}");
        assert_eq!(r.inline.len(), 1);
        assert!(r.files.is_empty());
    }

    #[test]
    fn a_signature_logo_goes_with_the_signature_and_an_unfound_command_sends_text_only() {
        let html =
            "<div>Hello Alice,</div><div><br></div><div>Refunded.</div><div id=\"Signature\">\
                    <p>Carol Agent</p><img src=\"cid:logo@x\"></div>";
        let a = Answer::read(&mail(html, &png("logo@x", "logo.png")), None, 1 << 20);
        let r = a.relay(&[]);
        assert!(r.html.as_deref().is_some_and(|h| !h.contains("logo")));
        assert!(r.inline.is_empty() && r.files.is_empty(), "{r:?}");
        let r = a.relay(&["#wait"]);
        assert!(r.html.is_none());
        assert_eq!(r.files.len(), 1, "text only: the image goes as a file");
    }

    #[test]
    fn a_bottom_posted_html_reply_is_relayed_from_its_text_part() {
        let raw = "From: Carol Agent <carol@support.test>\r\nSubject: Re: x\r\nMessage-ID: <b@x>\r\n\
                   MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\n\
                   Content-Type: text/plain; charset=utf-8\r\n\r\nOn Mon, Example Support wrote:\r\n> INTERNAL card\r\n\r\nRefunded.\r\n\
                   --a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div class=\"moz-cite-prefix\">On Mon, Example Support wrote:</div>\
                   <blockquote type=\"cite\">INTERNAL card</blockquote><p>Refunded.</p>\r\n--a--\r\n";
        let a = Answer::read(raw.as_bytes(), None, 1 << 20);
        assert_eq!(a.text.as_deref(), Some("Refunded."));
        assert!(a.relay(&[]).html.is_none());
    }

    #[test]
    fn the_agents_signature_block_goes_but_a_sign_off_with_their_name_stays() {
        let lines = |t: &'static str| -> Vec<&'static str> { t.lines().collect() };
        let sig = lines("Hello\nRefunded.\nBest regards,\nCarol\nCarol Agent\nSupport Engineer | Example\n+49 30 1234");
        assert_eq!(signer_block_start(&sig, "Carol Agent"), Some(4));
        let sign_off = lines("Hello\nRefunded.\nBest regards,\nCarol Agent");
        assert_eq!(signer_block_start(&sign_off, "Carol Agent"), None);
        assert_eq!(
            signer_block_start(&sig, "Carol"),
            None,
            "one word is too common"
        );
        assert_eq!(
            without_signer_block(
                "Hello\n\nRefunded.\n\nCarol Agent\nSupport Engineer",
                Some("Carol Agent")
            ),
            "Hello\n\nRefunded."
        );
    }
}
