//! Builds outgoing RFC 5322 messages with lettre: every header through lettre's encoders,
//! never by string concatenation, so a hostile subject or name cannot inject headers.

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Address;
use rand::Rng;

/// One addressee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub name: Option<String>,
    pub address: String,
}

/// A file attached to an outgoing message (a customer's attachment forwarded to agents).
#[derive(Debug, Clone)]
pub struct OutAttachment {
    /// Already sanitised (no path components).
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An image shown inside the HTML part (`<img src="cid:...">`), sent as a
/// `multipart/related` part next to the HTML with its `Content-ID`.
#[derive(Debug, Clone)]
pub struct InlineImage {
    /// Without angle brackets; letters, digits and `.-_@` only (it is also a URL in the HTML).
    pub content_id: String,
    /// Suggested file name when a client saves it.
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An outgoing message before formatting.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from_name: String,
    pub from_address: String,
    pub to: Vec<Recipient>,
    /// Copied people (the participants of a case on mail to its customer).
    pub cc: Vec<Recipient>,
    /// Where replies go: a signed reply address.
    pub reply_to: Option<String>,
    /// The name shown with `reply_to` (what a mail client puts in the To of a reply);
    /// `None`: the From name.
    pub reply_to_name: Option<String>,
    pub subject: String,
    /// Our Message-ID without angle brackets, created before the row is stored.
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// `auto-replied` for acknowledgments, `auto-generated` for scheduled mail (RFC 3834).
    pub auto_submitted: Option<&'static str>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<OutAttachment>,
    pub date: DateTime<Utc>,
}

/// Why a message could not be built: always a bad address or an internal lettre error.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid address `{0}`")]
    Address(String),
    #[error("cannot build message: {0}")]
    Build(String),
}

/// Removes control characters (CR, LF, NUL...) and collapses whitespace: header text must be
/// one line whatever the customer wrote.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A fresh Message-ID (without brackets) in our domain, unguessable and unique.
pub fn new_message_id(tag: &str, domain: &str) -> String {
    let mut rng = rand::thread_rng();
    let r: String = (0..16)
        .map(|_| {
            let v = rng.gen_range(0..32);
            b"0123456789abcdefghjkmnpqrstvwxyz"[v] as char
        })
        .collect();
    let tag: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("mc.{tag}.{r}@{domain}")
}

fn address(s: &str) -> Result<Address, ComposeError> {
    s.parse::<Address>()
        .map_err(|_| ComposeError::Address(s.to_string()))
}

fn bracket(id: &str) -> String {
    format!("<{}>", id.trim_matches(|c| c == '<' || c == '>'))
}

/// Formats the message; returns its bytes.
///
/// # Errors
/// [`ComposeError`] for an address lettre rejects.
pub fn build(o: &Outgoing) -> Result<Vec<u8>, ComposeError> {
    build_with_inline(o, &[])
}

/// Formats the message with images shown inside its HTML part: `multipart/alternative` of the
/// text and a `multipart/related` holding the HTML and the images (RFC 2387), each image with
/// its `Content-ID` and `Content-Disposition: inline`, every header through lettre.
///
/// # Errors
/// [`ComposeError`] for an address lettre rejects, a Content-ID that is not a plain token, or
/// inline images without an HTML part to show them.
pub fn build_with_inline(o: &Outgoing, inline: &[InlineImage]) -> Result<Vec<u8>, ComposeError> {
    if !inline.is_empty() && o.html.is_none() {
        return Err(ComposeError::Build(
            "inline images need an HTML part".into(),
        ));
    }
    for i in inline {
        let ok = !i.content_id.is_empty()
            && i.content_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c));
        if !ok {
            return Err(ComposeError::Build(format!(
                "content id `{}` must be letters, digits and .-_@",
                i.content_id
            )));
        }
    }
    let from = Mailbox::new(Some(one_line(&o.from_name)), address(&o.from_address)?);
    let mut b = lettre::Message::builder().from(from);
    if o.to.is_empty() {
        return Err(ComposeError::Build("no recipient".into()));
    }
    for r in &o.to {
        b = b.to(Mailbox::new(
            r.name.as_deref().map(one_line).filter(|n| !n.is_empty()),
            address(&r.address)?,
        ));
    }
    for r in &o.cc {
        b = b.cc(Mailbox::new(
            r.name.as_deref().map(one_line).filter(|n| !n.is_empty()),
            address(&r.address)?,
        ));
    }
    let mut b = b
        .subject(one_line(&o.subject))
        .message_id(Some(bracket(&o.message_id)))
        .date(std::time::SystemTime::from(o.date));
    if let Some(rt) = &o.reply_to {
        let name = o.reply_to_name.as_deref().unwrap_or(&o.from_name);
        b = b.reply_to(Mailbox::new(Some(one_line(name)), address(rt)?));
    }
    if let Some(irt) = &o.in_reply_to {
        b = b.in_reply_to(bracket(&one_line(irt)));
    }
    if !o.references.is_empty() {
        let refs = o
            .references
            .iter()
            .map(|r| bracket(&one_line(r)))
            .collect::<Vec<_>>()
            .join(" ");
        b = b.references(refs);
    }
    if let Some(a) = o.auto_submitted {
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            a.to_string(),
        ));
        // Ask Exchange not to answer our automatic mail with its own automatic mail.
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_string(),
        ));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(o.text.clone());
    let body = match &o.html {
        Some(html) if !inline.is_empty() => {
            let mut related = MultiPart::related().singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            );
            for i in inline {
                let ct = ContentType::parse(&i.content_type)
                    .map_err(|e| ComposeError::Build(e.to_string()))?;
                related = related.singlepart(
                    lettre::message::Attachment::new_inline_with_name(
                        i.content_id.clone(),
                        one_line(&i.name),
                    )
                    .body(i.data.clone(), ct),
                );
            }
            MultiPart::alternative().singlepart(text).multipart(related)
        }
        Some(html) => MultiPart::alternative().singlepart(text).singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(html.clone()),
        ),
        None if o.attachments.is_empty() => {
            return b
                .singlepart(text)
                .map(|m| m.formatted())
                .map_err(|e| ComposeError::Build(e.to_string()));
        }
        None => MultiPart::mixed().singlepart(text),
    };
    let msg = if o.attachments.is_empty() {
        b.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in &o.attachments {
            let ct = ContentType::parse(&a.content_type)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .map_err(|e| ComposeError::Build(e.to_string()))?;
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(one_line(&a.name)).body(a.data.clone(), ct),
            );
        }
        b.multipart(mixed)
    }
    .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(msg.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};

    fn sample() -> Outgoing {
        Outgoing {
            from_name: "Example Support".into(),
            from_address: "support@support.test".into(),
            to: vec![Recipient {
                name: Some("Jane \r\nBcc: victim@evil.test".into()),
                address: "jane@customer.test".into(),
            }],
            cc: vec![],
            reply_to: None,
            reply_to_name: None,
            subject: "[CMP-7KQ4X-V] Re: help\r\nBcc: victim@evil.test".into(),
            message_id: "mc.x.1@support.test".into(),
            in_reply_to: Some("orig@customer.test".into()),
            references: vec!["root@customer.test".into(), "orig@customer.test".into()],
            auto_submitted: Some("auto-replied"),
            text: "Hello ünïcode".into(),
            html: Some("<p>Hello</p>".into()),
            attachments: vec![],
            date: DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn built_message_threads_and_marks_itself_automatic() {
        let raw = build(&sample()).unwrap();
        let m = parse(&raw, &ParseLimits::default()).unwrap();
        assert_eq!(m.message_id.as_deref(), Some("mc.x.1@support.test"));
        assert_eq!(m.in_reply_to, vec!["orig@customer.test"]);
        assert_eq!(
            m.references,
            vec!["root@customer.test", "orig@customer.test"]
        );
        assert_eq!(m.header("auto-submitted"), Some("auto-replied"));
        assert_eq!(m.content_type, "multipart/alternative");
        assert!(m.text.contains("Hello ünïcode"));
    }

    #[test]
    fn crlf_in_subject_or_name_cannot_add_a_header() {
        let raw = build(&sample()).unwrap();
        let head = String::from_utf8_lossy(&raw);
        let head = head.split("\r\n\r\n").next().unwrap();
        assert!(
            !head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{head}"
        );
        let m = parse(&raw, &ParseLimits::default()).unwrap();
        assert!(
            m.subject.contains("Bcc: victim@evil.test"),
            "kept as text: {}",
            m.subject
        );
        assert_eq!(m.to.len(), 1);
    }

    #[test]
    fn several_recipients_and_attachments_are_carried() {
        let mut o = sample();
        o.to.push(Recipient {
            name: None,
            address: "agent2@support.test".into(),
        });
        o.attachments.push(OutAttachment {
            name: "invoice.pdf".into(),
            content_type: "application/pdf".into(),
            data: b"%PDF-1.4 fake".to_vec(),
        });
        let raw = build(&o).unwrap();
        let m = parse(&raw, &ParseLimits::default()).unwrap();
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].name.as_deref(), Some("invoice.pdf"));
        assert!(m.text.contains("Hello"));
    }

    #[test]
    fn inline_images_travel_as_related_parts_referenced_by_content_id() {
        let mut o = sample();
        o.html = Some("<p>Chart</p><img src=\"cid:volume.1@support.test\">".into());
        let png = b"\x89PNG\r\n\x1a\nnot really".to_vec();
        let raw = build_with_inline(
            &o,
            &[InlineImage {
                content_id: "volume.1@support.test".into(),
                name: "volume.png".into(),
                content_type: "image/png".into(),
                data: png.clone(),
            }],
        )
        .unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/related"), "{text}");
        assert!(
            text.contains("Content-ID: <volume.1@support.test>"),
            "{text}"
        );
        use mail_parser::MimeHeaders;
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let img = m
            .parts
            .iter()
            .find(|p| p.content_id() == Some("volume.1@support.test"))
            .expect("the image part");
        assert_eq!(img.contents(), png.as_slice());
        let ct = img.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("image", Some("png")));
        // A Content-ID that could break out of the header or the HTML is refused.
        let bad = InlineImage {
            content_id: "x>\r\nBcc: a@b".into(),
            name: "x.png".into(),
            content_type: "image/png".into(),
            data: vec![],
        };
        assert!(build_with_inline(&o, &[bad]).is_err());
    }

    #[test]
    fn message_ids_are_unique_and_in_our_domain() {
        let a = new_message_id("CMP-7KQ4X-V", "support.test");
        let b = new_message_id("CMP-7KQ4X-V", "support.test");
        assert_ne!(a, b);
        assert!(a.ends_with("@support.test"));
        assert!(a.starts_with("mc.CMP-7KQ4X-V."));
    }
}
