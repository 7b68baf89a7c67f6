//! Did the receiving mail server authenticate a message's From domain? Read from its
//! `Authentication-Results` header fields (RFC 8601). Pure: no I/O, no DNS.
//!
//! The strict reply mode only trusts an agent's reply when our own mail server vouched for it,
//! and anybody can put an `Authentication-Results` field into a message. So:
//!
//! - Only fields whose authserv-id equals the configured one (compared case-insensitively)
//!   are considered; fields from any other authserv-id are ignored. That the sender cannot
//!   bring a field carrying *our* authserv-id is the admin's job: RFC 8601 section 5 requires
//!   the MTA to remove such fields arriving from outside before it adds its own (with
//!   Postfix, for instance, a `header_checks` rule that IGNOREs them). Without that, a forged
//!   field would be the topmost one whenever our server adds none.
//! - Of those, only the topmost one counts: the first in header order, the one added last,
//!   by our server on the final hop. Anything below it could have been written by the sender,
//!   if the MTA does not strip as it should, so a lower field can neither make a message pass
//!   nor fail. A setup that writes several fields (OpenDMARC above OpenDKIM, say) is therefore
//!   judged by the topmost one alone: OpenDMARC's `dmarc=` result, which already covers DKIM
//!   alignment. A From domain without a DMARC record gets `dmarc=none` there and fails.
//!
//! In that field the verdict is [`AuthVerdict::Pass`] when a `dmarc=pass` names the From domain
//! in `header.from` (or names no domain at all), or a `dkim=pass` has a signing domain
//! (`header.d`, else the domain of `header.i`) aligned with the From domain in the relaxed
//! sense: equal, or one a subdomain of the other at a label boundary (`mail.example.com`
//! aligns with `example.com`, `badexample.com` does not; a bare top-level domain aligns with
//! nothing but itself). SPF never passes on its own: it checks the envelope sender, not From.
//! Anything else in our field is [`AuthVerdict::Fail`], with a reason for the log and the agent;
//! no field from our authserv-id at all is [`AuthVerdict::Missing`].
//!
//! Microsoft 365 writes its field without an authserv-id
//! (`Authentication-Results: spf=pass (sender IP is …) smtp.mailfrom=…; dkim=pass …`). Such a
//! field matches only when the configured authserv-id is empty; a non-empty configured id never
//! matches it, and an empty one matches nothing else. An empty id is therefore a deliberate
//! choice: the configuration must not turn a missing setting into an empty one.
//!
//! The parser follows the RFC 8601 grammar: an authserv-id (token or quoted-string) optionally
//! followed by a version (only `1` is understood; another version in our field fails), then
//! `;`-separated results `method[/version]=result` with `reason=` and `ptype.property=value`
//! properties (`header.`, `smtp.`, `policy.`, …), or the lone result `none`. RFC 5322 comments
//! (nested, holding `;` or `=` or what looks like a result) and whitespace may stand between
//! any two elements and are ignored. It tolerates what real servers write beyond the grammar:
//! untyped properties (`action=none`, `x-bits=2048`), values with `=` or `/` (base64 signatures),
//! `;` without a following space. One result it cannot read is skipped, the others still count;
//! an unterminated comment or quoted string makes our whole field unreadable, which fails.
//! Method, result and property names are case-insensitive, domains compared ASCII
//! case-insensitively.

/// What the receiving server said about the message's authenticity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthVerdict {
    /// DMARC passed for the From domain, or DKIM passed with a signing domain aligned with it.
    Pass { method: String }, // e.g. "dmarc", "dkim (header.d=example.com)"
    /// Our server's result is there but does not vouch for the From domain; `why` is for the log and the agent.
    Fail { why: String },
    /// No Authentication-Results from the configured authserv-id.
    Missing,
}

/// `headers` are the message's top-level header fields in the order they appear (name, unfolded value), as `InboundMessage::headers` holds them; `from_domain` is the domain of the From address.
pub fn verify(headers: &[(String, String)], authserv_id: &str, from_domain: &str) -> AuthVerdict {
    match our_field(headers, authserv_id) {
        Some(body) => {
            let wanted = authserv_id.trim();
            let who = if wanted.is_empty() {
                "the receiving server"
            } else {
                wanted
            };
            judge(body, who, from_domain)
        }
        None => AuthVerdict::Missing,
    }
}

/// The `method=result` pairs of our topmost field, lower case and in order, for a check
/// that looks for a failure instead of a pass (the spam guard's `dmarc=fail`): the same
/// field [`verify`] judges, chosen by the same rules. `None` when no field is ours; an error
/// when ours cannot be read.
pub fn our_results(
    headers: &[(String, String)],
    authserv_id: &str,
) -> Option<Result<Vec<(String, String)>, &'static str>> {
    our_field(headers, authserv_id).map(|body| {
        body.map(|b| {
            b.results
                .into_iter()
                .map(|r| (r.method, r.result))
                .collect()
        })
    })
}

/// The body of the topmost field whose authserv-id is ours (see the module doc).
fn our_field(
    headers: &[(String, String)],
    authserv_id: &str,
) -> Option<Result<Body, &'static str>> {
    let wanted = authserv_id.trim();
    for (name, value) in headers {
        if !name.trim().eq_ignore_ascii_case("authentication-results") {
            continue;
        }
        let Some((id, mut rest)) = read_authserv_id(value) else {
            continue;
        };
        let ours = match &id {
            None => wanted.is_empty(),
            Some(id) => !wanted.is_empty() && id.eq_ignore_ascii_case(wanted),
        };
        if ours {
            return Some(rest.body(id.is_none()));
        }
    }
    None
}

/// The longest piece of a header value quoted back in a [`AuthVerdict::Fail`] reason.
const SHOWN_MAX: usize = 255;

/// Decides on the body of our topmost field.
fn judge(body: Result<Body, &'static str>, who: &str, from_domain: &str) -> AuthVerdict {
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            return AuthVerdict::Fail {
                why: format!("{who}'s Authentication-Results could not be read ({e})"),
            }
        }
    };
    if body.results.is_empty() {
        let why = if body.none {
            format!("{who} recorded no authentication results (none)")
        } else {
            format!("{who}'s Authentication-Results hold no readable result")
        };
        return AuthVerdict::Fail { why };
    }
    let from = normalize_domain(from_domain);

    // DMARC first: it is the verdict on the From domain itself.
    for r in body.results.iter().filter(|r| r.is("dmarc", "pass")) {
        match r.prop("header.from") {
            None => return pass("dmarc"),
            Some(v) if !from.is_empty() && domain_of(v) == from => return pass("dmarc"),
            Some(_) => {}
        }
    }
    for r in body.results.iter().filter(|r| r.is("dkim", "pass")) {
        if let Some((what, domain)) = r.dkim_domain() {
            if aligned(&domain, &from) {
                return pass(&format!("dkim ({what}={})", shown(&domain)));
            }
        }
    }

    if from.is_empty() {
        return AuthVerdict::Fail {
            why: format!("{who} cannot vouch for a From address without a domain"),
        };
    }

    let mut notes: Vec<String> = Vec::new();
    for r in &body.results {
        let result = shown(&r.result);
        match r.method.as_str() {
            "dmarc" => match (r.result.as_str(), r.prop("header.from").map(domain_of)) {
                ("pass", Some(d)) => notes.push(format!(
                    "dmarc=pass for {}, not {}",
                    shown(&d),
                    shown(&from)
                )),
                (_, Some(d)) if !d.is_empty() => {
                    notes.push(format!("dmarc={result} for {}", shown(&d)))
                }
                _ => notes.push(format!("dmarc={result}")),
            },
            "dkim" => match (r.result.as_str(), r.dkim_domain()) {
                ("pass", Some((_, d))) => notes.push(format!(
                    "dkim=pass for {}, which is not aligned with {}",
                    shown(&d),
                    shown(&from)
                )),
                ("pass", None) => notes.push("dkim=pass without a signing domain".to_string()),
                (_, Some((_, d))) => notes.push(format!("dkim={result} for {}", shown(&d))),
                (_, None) => notes.push(format!("dkim={result}")),
            },
            "spf" if r.result == "pass" => notes.push(
                "spf=pass, which checks the envelope sender, not the From address".to_string(),
            ),
            "spf" => notes.push(format!("spf={result}")),
            _ => {}
        }
    }
    if !body
        .results
        .iter()
        .any(|r| r.method == "dkim" || r.method == "dmarc")
    {
        notes.push("no DKIM or DMARC result".to_string());
    }
    let mut why = format!("{who} does not vouch for {}: ", shown(&from));
    why.push_str(&notes.join("; "));
    if body.skipped > 0 {
        why = format!("{why}; {} unreadable result(s) ignored", body.skipped);
    }
    AuthVerdict::Fail { why }
}

fn pass(method: &str) -> AuthVerdict {
    AuthVerdict::Pass {
        method: method.to_string(),
    }
}

/// Lower case, no surrounding whitespace, no trailing root dot.
fn normalize_domain(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// The domain of an address (`alice@example.com`, `@example.com`) or a bare domain.
fn domain_of(value: &str) -> String {
    let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
    normalize_domain(domain)
}

/// Relaxed alignment: equal, or one a subdomain of the other at a label boundary, the parent
/// having at least two labels (so `com` aligns with nothing but `com`). Both are normalised.
fn aligned(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || is_subdomain(a, b) || is_subdomain(b, a)
}

fn is_subdomain(child: &str, parent: &str) -> bool {
    if !parent.contains('.') || parent.starts_with('.') {
        return false;
    }
    child
        .strip_suffix(parent)
        .and_then(|prefix| prefix.strip_suffix('.'))
        .is_some_and(|labels| !labels.is_empty() && !labels.ends_with('.'))
}

/// A piece of a header value fit for a log line: no control characters, bounded length.
fn shown(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(SHOWN_MAX)
        .collect()
}

/// One `method=result` with its properties (`ptype.property` lower case, value as written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResInfo {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

impl ResInfo {
    fn is(&self, method: &str, result: &str) -> bool {
        self.method == method && self.result == result
    }

    /// The first value of a property, if any.
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// DKIM's signing domain: `header.d`, or else the domain of `header.i` (the identity,
    /// which DKIM requires to be `d` or below it), with the property it came from. Microsoft
    /// writes `header.d=none` for an unsigned message.
    fn dkim_domain(&self) -> Option<(&'static str, String)> {
        let nonempty = |d: String| (!d.is_empty() && d != "none").then_some(d);
        if let Some(d) = self
            .prop("header.d")
            .and_then(|d| nonempty(normalize_domain(d)))
        {
            return Some(("header.d", d));
        }
        self.prop("header.i")
            .and_then(|i| nonempty(domain_of(i)))
            .map(|d| ("header.i", d))
    }
}

/// What one field says after its authserv-id.
#[derive(Debug, Default, PartialEq, Eq)]
struct Body {
    results: Vec<ResInfo>,
    /// The field says `none`: no authentication was done.
    none: bool,
    /// Results that could not be read and were skipped.
    skipped: usize,
}

/// One result: read, the lone `none`, nothing (`;;`, a trailing `;`), or unreadable.
enum Item {
    Result(ResInfo),
    NoResult,
    Empty,
    Skipped,
}

/// Splits a field value after its authserv-id. `None` when there is none to read (not ours);
/// `Some((None, _))` for a field that starts right with a result, as Microsoft 365 writes it.
fn read_authserv_id(value: &str) -> Option<(Option<String>, Cursor)> {
    let mut cur = Cursor::new(value);
    cur.skip_cfws().ok()?;
    let start = cur.pos;
    let id = if cur.peek() == Some('"') {
        cur.quoted_string().ok()?
    } else {
        cur.take_while(is_token_char)
    };
    if id.is_empty() && cur.pos == start {
        return None;
    }
    let after_id = cur.pos;
    // `spf=pass …` or `dkim/1=pass …` right away: a result, not an authserv-id.
    if cur.skip_cfws().is_ok() && matches!(cur.peek(), Some('=' | '/')) {
        cur.pos = start;
        return Some((None, cur));
    }
    cur.pos = after_id;
    Some((Some(id), cur))
}

/// RFC 2045 token characters (and, leniently, any non-ASCII character).
fn is_token_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)
    } else {
        !c.is_whitespace() && !c.is_control()
    }
}

/// RFC 8601 `Keyword` characters (plus `_`, which real servers use).
fn is_keyword_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// A position in a header value. Works on chars, so no slicing can split one.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn new(value: &str) -> Self {
        Cursor {
            chars: value.chars().collect(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            out.push(c);
            self.pos += 1;
        }
        out
    }

    /// Skips whitespace and (nested) comments.
    fn skip_cfws(&mut self) -> Result<(), &'static str> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() || c.is_control() => self.pos += 1,
                Some('(') => self.skip_comment()?,
                _ => return Ok(()),
            }
        }
    }

    /// At `(`: skips to the matching `)`, honouring nesting and quoted-pairs.
    fn skip_comment(&mut self) -> Result<(), &'static str> {
        let mut depth = 0usize;
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err("unterminated comment")
    }

    /// At `"`: the unescaped content of a quoted-string.
    fn quoted_string(&mut self) -> Result<String, &'static str> {
        self.bump();
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => return Ok(out),
                '\\' => {
                    if let Some(escaped) = self.bump() {
                        out.push(escaped);
                    }
                }
                _ => out.push(c),
            }
        }
        Err("unterminated quoted string")
    }

    /// A property or reason value: a quoted-string, or anything up to whitespace, `;` or a
    /// comment, quoted parts included (`"a b"@example.com`), so a quoted `;` never splits.
    fn value(&mut self) -> Result<String, &'static str> {
        let mut out = String::new();
        loop {
            match self.peek() {
                Some('"') => out.push_str(&self.quoted_string()?),
                Some(c) if c.is_whitespace() || c.is_control() || matches!(c, ';' | '(' | ')') => {
                    return Ok(out)
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
                None => return Ok(out),
            }
        }
    }

    /// Skips the rest of an unreadable result, up to the next `;` outside quotes and comments.
    fn skip_result(&mut self) -> Result<Item, &'static str> {
        loop {
            match self.peek() {
                None | Some(';') => return Ok(Item::Skipped),
                Some('"') => {
                    self.quoted_string()?;
                }
                Some('(') => self.skip_comment()?,
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Everything after the authserv-id: `[version] ; resinfo ; resinfo …` (or `; none`).
    /// `bare` when the field has no authserv-id and starts with a result.
    fn body(&mut self, bare: bool) -> Result<Body, &'static str> {
        let mut body = Body::default();
        if bare {
            self.item_into(&mut body)?;
        } else {
            self.skip_cfws()?;
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                let version = self.take_while(|c| c.is_ascii_digit());
                if version.parse::<u32>().ok() != Some(1) {
                    return Err("unsupported version");
                }
            }
        }
        loop {
            self.skip_cfws()?;
            match self.bump() {
                None => return Ok(body),
                Some(';') => self.item_into(&mut body)?,
                Some(_) => return Err("expected ';'"),
            }
        }
    }

    fn item_into(&mut self, body: &mut Body) -> Result<(), &'static str> {
        match self.item()? {
            Item::Result(r) => body.results.push(r),
            Item::NoResult => body.none = true,
            Item::Empty => {}
            Item::Skipped => body.skipped += 1,
        }
        Ok(())
    }

    /// One resinfo: `method[/version] = result [reason=value] [ptype.property=value …]`.
    fn item(&mut self) -> Result<Item, &'static str> {
        self.skip_cfws()?;
        if matches!(self.peek(), None | Some(';')) {
            return Ok(Item::Empty);
        }
        let method = self.take_while(is_keyword_char).to_ascii_lowercase();
        if method.is_empty() {
            return self.skip_result();
        }
        self.skip_cfws()?;
        if self.peek() == Some('/') {
            self.bump();
            self.skip_cfws()?;
            if self.take_while(|c| c.is_ascii_digit()).is_empty() {
                return self.skip_result();
            }
            self.skip_cfws()?;
        }
        if method == "none" && matches!(self.peek(), None | Some(';')) {
            return Ok(Item::NoResult);
        }
        if self.peek() != Some('=') {
            return self.skip_result();
        }
        self.bump();
        self.skip_cfws()?;
        let result = self.take_while(is_keyword_char).to_ascii_lowercase();
        if result.is_empty() {
            return self.skip_result();
        }
        let mut props = Vec::new();
        loop {
            self.skip_cfws()?;
            if matches!(self.peek(), None | Some(';')) {
                break;
            }
            let word = self.take_while(is_keyword_char).to_ascii_lowercase();
            if word.is_empty() {
                return self.skip_result();
            }
            self.skip_cfws()?;
            match self.peek() {
                // ptype.property=value
                Some('.') => {
                    self.bump();
                    self.skip_cfws()?;
                    let property = self.take_while(is_keyword_char).to_ascii_lowercase();
                    self.skip_cfws()?;
                    if property.is_empty() || self.peek() != Some('=') {
                        return self.skip_result();
                    }
                    self.bump();
                    self.skip_cfws()?;
                    let value = self.value()?;
                    props.push((format!("{word}.{property}"), value));
                }
                // reason=value, or an untyped property such as Microsoft's action=none: ignored.
                Some('=') => {
                    self.bump();
                    self.skip_cfws()?;
                    self.value()?;
                }
                _ => return self.skip_result(),
            }
        }
        Ok(Item::Result(ResInfo {
            method,
            result,
            props,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ID: &str = "mx.example.org";

    fn ar(value: &str) -> (String, String) {
        ("authentication-results".to_string(), value.to_string())
    }

    fn other(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    fn passed(method: &str) -> AuthVerdict {
        AuthVerdict::Pass {
            method: method.to_string(),
        }
    }

    /// The `why` of a Fail; panics (failing the test) on any other verdict.
    fn why(verdict: AuthVerdict) -> String {
        match verdict {
            AuthVerdict::Fail { why } => why,
            other => panic!("expected Fail, got {other:?}"),
        }
    }

    /// Parses one field the way `verify` does, for tests of the grammar itself.
    fn parse(value: &str) -> (Option<String>, Result<Body, &'static str>) {
        let Some((id, mut cur)) = read_authserv_id(value) else {
            panic!("no authserv-id in {value:?}");
        };
        let bare = id.is_none();
        (id, cur.body(bare))
    }

    fn res(method: &str, result: &str, props: &[(&str, &str)]) -> ResInfo {
        ResInfo {
            method: method.to_string(),
            result: result.to_string(),
            props: props
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn gmail_field_passes_on_dmarc_for_the_from_domain_only() {
        let headers = [
            other("delivered-to", "support@example.org"),
            other(
                "received",
                "by 2002:a05:6a10:1234 with SMTP id x; Mon, 1 Jan 2024",
            ),
            other(
                "arc-authentication-results",
                "i=1; mx.google.com; dkim=pass header.i=@customer.example",
            ),
            ar("mx.google.com; \
                dkim=pass header.i=@customer.example header.s=20230601 header.b=Ab+Cd/12; \
                spf=pass (google.com: domain of alice@customer.example designates \
                209.85.220.41 as permitted sender) smtp.mailfrom=alice@customer.example; \
                dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=customer.example; \
                dara=pass header.i=@customer.example"),
        ];
        assert_eq!(
            verify(&headers, "mx.google.com", "customer.example"),
            passed("dmarc")
        );
        assert_eq!(
            verify(&headers, "mx.google.com", "other.example"),
            AuthVerdict::Fail {
                why: "mx.google.com does not vouch for other.example: \
                      dkim=pass for customer.example, which is not aligned with other.example; \
                      spf=pass, which checks the envelope sender, not the From address; \
                      dmarc=pass for customer.example, not other.example"
                    .to_string()
            }
        );
    }

    #[test]
    fn gmail_arc_comment_saying_dkim_pass_does_not_count() {
        let headers = [ar("mx.google.com; \
             arc=pass (i=1 spf=pass spfdomain=customer.example dkim=pass dkdomain=customer.example \
             dmarc=pass fromdomain=customer.example); \
             dkim=fail (bad signature) header.i=@customer.example; \
             dmarc=fail (p=REJECT dis=REJECT) header.from=customer.example")];
        let why = why(verify(&headers, "mx.google.com", "customer.example"));
        assert!(why.contains("dkim=fail for customer.example"), "{why}");
        assert!(why.contains("dmarc=fail for customer.example"), "{why}");
    }

    #[test]
    fn microsoft_365_field_has_no_authserv_id_and_matches_only_an_empty_configured_one() {
        let headers = [ar(
            "spf=pass (sender IP is 40.107.22.52) smtp.mailfrom=contoso.com; \
             dkim=pass (signature was verified) header.d=contoso.com;dmarc=pass action=none \
             header.from=contoso.com;compauth=pass reason=100",
        )];
        assert_eq!(verify(&headers, "", "contoso.com"), passed("dmarc"));
        assert_eq!(
            verify(&headers, "  ", "Contoso.COM"),
            passed("dmarc"),
            "blank and case do not matter"
        );
        assert_eq!(
            verify(&headers, "outlook.com", "contoso.com"),
            AuthVerdict::Missing
        );
        // An empty configured id never matches a field that has an authserv-id.
        let named = [ar("mx.example.org; dkim=pass header.d=contoso.com")];
        assert_eq!(verify(&named, "", "contoso.com"), AuthVerdict::Missing);
    }

    #[test]
    fn microsoft_365_unsigned_message_fails() {
        let headers = [ar(
            "spf=pass (sender IP is 40.107.22.52) smtp.mailfrom=contoso.com; \
             dkim=none (message not signed) header.d=none;dmarc=none action=none \
             header.from=contoso.com;compauth=pass reason=102",
        )];
        let why = why(verify(&headers, "", "contoso.com"));
        assert_eq!(
            why,
            "the receiving server does not vouch for contoso.com: \
             spf=pass, which checks the envelope sender, not the From address; \
             dkim=none; dmarc=none for contoso.com"
        );
    }

    #[test]
    fn fastmail_cyrus_field_passes_on_dmarc_and_aligned_dkim() {
        let value = "mx3.messagingengine.com; \
             dkim=pass (2048-bit rsa key sha256) header.d=customer.example \
             header.i=@customer.example header.b=Zm9vYmFy header.a=rsa-sha256 header.s=fm2 \
             x-bits=2048; \
             dmarc=pass policy.published-domain-policy=none policy.applied-disposition=none \
             policy.evaluated-disposition=none (p=none,d=none,d.eval=none) policy.policy-from=p \
             header.from=customer.example; \
             iprev=pass smtp.remote-ip=66.111.4.28 (out4-smtp.messagingengine.com); \
             spf=pass smtp.mailfrom=alice@customer.example smtp.helo=out4-smtp.messagingengine.com; \
             x-aligned-from=pass (Address match); x-google-dkim=none; x-me-sender=none; \
             x-tls=pass smtp.version=TLSv1.3 smtp.cipher=TLS_AES_256_GCM_SHA384 smtp.bits=256/256; \
             x-vs=clean score=-100 state=0";
        let headers = [ar(value)];
        assert_eq!(
            verify(&headers, "mx3.messagingengine.com", "customer.example"),
            passed("dmarc")
        );
        let (_, body) = parse(value);
        let body = body.expect("the Fastmail field parses");
        assert_eq!(body.skipped, 0);
        assert_eq!(body.results.len(), 9);
        assert_eq!(body.results[0].prop("header.d"), Some("customer.example"));
        assert_eq!(body.results[7].prop("smtp.bits"), Some("256/256"));
    }

    #[test]
    fn opendkim_field_with_quoted_signature_passes_on_dkim() {
        let headers = [ar("mx.example.org; dkim=pass (1024-bit key; unprotected) \
             header.d=example.com header.i=@example.com header.b=\"abc\"")];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
    }

    #[test]
    fn opendmarc_field_above_opendkim_field_is_the_one_judged() {
        let dkim = ar(
            "mx.example.org; dkim=pass (2048-bit key; secure) header.d=example.com \
             header.i=@example.com header.a=rsa-sha256 header.s=mail header.b=Q2xhc3M=",
        );
        let headers = [
            ar("mx.example.org; dmarc=pass (p=reject dis=none) header.from=example.com"),
            dkim.clone(),
        ];
        assert_eq!(verify(&headers, ID, "example.com"), passed("dmarc"));
        // Without a DMARC record OpenDMARC says none, and only its (topmost) field counts.
        let headers = [
            ar("mx.example.org; dmarc=none (p=none dis=none) header.from=example.com"),
            dkim,
        ];
        let why = why(verify(&headers, ID, "example.com"));
        assert_eq!(
            why,
            "mx.example.org does not vouch for example.com: dmarc=none for example.com"
        );
    }

    #[test]
    fn rfc8601_b2_none_fails() {
        let headers = [ar("example.org 1; none")];
        assert_eq!(
            why(verify(&headers, "example.org", "example.org")),
            "example.org recorded no authentication results (none)"
        );
    }

    #[test]
    fn rfc8601_b3_spf_pass_alone_fails() {
        let headers = [ar("example.com; spf=pass smtp.mailfrom=example.net")];
        assert_eq!(
            why(verify(&headers, "example.com", "example.net")),
            "example.com does not vouch for example.net: \
             spf=pass, which checks the envelope sender, not the From address; \
             no DKIM or DMARC result"
        );
    }

    #[test]
    fn rfc8601_b4_smtp_auth_spf_and_iprev_do_not_pass() {
        let headers = [
            ar(
                "example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; \
                spf=pass smtp.mailfrom=example.net",
            ),
            other("received", "from dialup-1-2-3-4.example.net ..."),
            ar("example.com; iprev=pass policy.iprev=192.0.2.200"),
        ];
        let why = why(verify(&headers, "example.com", "example.net"));
        assert!(why.ends_with("no DKIM or DMARC result"), "{why}");
    }

    #[test]
    fn rfc8601_b5_topmost_dkim_pass_counts_not_the_lower_spf_fail() {
        let headers = [
            ar("example.com; dkim=pass (good signature) header.d=example.com"),
            other("received", "from mail-router.example.com ..."),
            ar(
                "example.com; auth=pass (cram-md5) smtp.auth=sender@example.com; \
                spf=fail smtp.mailfrom=example.com",
            ),
        ];
        assert_eq!(
            verify(&headers, "example.com", "example.com"),
            passed("dkim (header.d=example.com)")
        );
    }

    #[test]
    fn rfc8601_b6_multi_tiered_each_authserv_id_reads_its_own_topmost_field() {
        let headers = [
            ar("example.com; dkim=pass reason=\"good signature\" \
                header.i=@mail-router.example.net; \
                dkim=fail reason=\"bad signature\" header.i=@newyork.example.com"),
            other("received", "from mail-router.example.net ..."),
            ar("example.net; dkim=pass (good signature) header.i=@newyork.example.com"),
        ];
        assert_eq!(
            why(verify(&headers, "example.com", "newyork.example.com")),
            "example.com does not vouch for newyork.example.com: \
             dkim=pass for mail-router.example.net, which is not aligned with \
             newyork.example.com; dkim=fail for newyork.example.com"
        );
        assert_eq!(
            verify(&headers, "example.net", "newyork.example.com"),
            passed("dkim (header.i=newyork.example.com)")
        );
    }

    #[test]
    fn rfc8601_b7_comment_heavy_field_parses() {
        let value = "foo.example.net (foobar) 1 (baz); \
             dkim (Because I like it) / 1 (One yay) = (wait for it) fail \
             policy (A dot can go here) . (like that) expired \
             (this surprised me) = (as I wasn't expecting it) 1362471462";
        assert_eq!(
            parse(value),
            (
                Some("foo.example.net".to_string()),
                Ok(Body {
                    results: vec![res("dkim", "fail", &[("policy.expired", "1362471462")])],
                    none: false,
                    skipped: 0,
                })
            )
        );
        assert_eq!(
            why(verify(&[ar(value)], "foo.example.net", "example.net")),
            "foo.example.net does not vouch for example.net: dkim=fail"
        );
    }

    #[test]
    fn foreign_authserv_id_alone_is_missing() {
        let headers = [ar("evil.example; dkim=pass header.d=example.com; \
             dmarc=pass header.from=example.com")];
        assert_eq!(verify(&headers, ID, "example.com"), AuthVerdict::Missing);
        assert_eq!(verify(&[], ID, "example.com"), AuthVerdict::Missing);
    }

    #[test]
    fn forged_field_from_elsewhere_below_ours_is_ignored() {
        let headers = [
            ar("mx.example.org; dkim=none (no signatures found)"),
            other("received", "from attacker.example ..."),
            ar("evil.example; dkim=pass header.d=example.com; dmarc=pass header.from=example.com"),
        ];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: dkim=none"
        );
    }

    #[test]
    fn foreign_field_above_ours_is_ignored() {
        let headers = [
            ar("other.example.net; dkim=fail header.d=example.com"),
            ar("mx.example.org; dkim=pass header.d=example.com"),
        ];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
    }

    #[test]
    fn forged_field_with_our_authserv_id_below_ours_is_ignored() {
        let real = ar("mx.example.org; dkim=pass header.d=example.com");
        let forged = ar("mx.example.org; dkim=fail header.d=example.com; dmarc=fail");
        let headers = [real, other("received", "from attacker.example ..."), forged];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
    }

    #[test]
    fn topmost_fail_wins_over_lower_pass_with_our_authserv_id() {
        let headers = [
            ar("mx.example.org; spf=softfail smtp.mailfrom=example.com; \
                dkim=fail (signature did not verify) header.d=example.com; \
                dmarc=fail header.from=example.com"),
            other("received", "from attacker.example ..."),
            ar("mx.example.org; dkim=pass header.d=example.com; \
                dmarc=pass header.from=example.com"),
        ];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: spf=softfail; \
             dkim=fail for example.com; dmarc=fail for example.com"
        );
    }

    #[test]
    fn versioned_authserv_id_is_read_and_unknown_version_fails() {
        let headers = [ar("mx.example.org 1; dkim=pass header.d=example.com")];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
        let headers = [ar("mx.example.org 2; dkim=pass header.d=example.com")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org's Authentication-Results could not be read (unsupported version)"
        );
    }

    #[test]
    fn authserv_id_compares_case_insensitively_and_may_be_quoted() {
        let headers = [ar("MX.Example.ORG; dkim=pass header.d=example.com")];
        assert_eq!(
            verify(&headers, "mx.example.org", "example.com"),
            passed("dkim (header.d=example.com)")
        );
        let headers = [ar("\"mx.example.org\";dkim=pass header.d=example.com")];
        assert_eq!(
            verify(&headers, "MX.EXAMPLE.ORG", "example.com"),
            passed("dkim (header.d=example.com)")
        );
        // A prefix or suffix of our id is somebody else.
        let headers = [ar("mx.example.org.evil; dkim=pass header.d=example.com")];
        assert_eq!(verify(&headers, ID, "example.com"), AuthVerdict::Missing);
    }

    #[test]
    fn header_name_is_case_insensitive_and_arc_results_are_not_ours() {
        let headers = [other(
            "Authentication-Results",
            "mx.example.org; dmarc=pass header.from=example.com",
        )];
        assert_eq!(verify(&headers, ID, "example.com"), passed("dmarc"));
        let headers = [
            other(
                "arc-authentication-results",
                "i=1; mx.example.org; dmarc=pass header.from=example.com",
            ),
            other(
                "authentication-results-original",
                "mx.example.org; dmarc=pass header.from=example.com",
            ),
        ];
        assert_eq!(verify(&headers, ID, "example.com"), AuthVerdict::Missing);
    }

    #[test]
    fn comments_holding_results_semicolons_and_equals_are_ignored() {
        let headers = [ar("mx.example.org (dkim=pass header.d=example.com; ok); \
             dkim=fail (really (nested; dkim=pass) header.d=example.com) header.d=example.com \
             (dmarc=pass header.from=example.com)")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: dkim=fail for example.com"
        );
    }

    #[test]
    fn quoted_values_are_unquoted_and_never_split_results() {
        let headers = [ar("mx.example.org; dkim=pass header.d=\"example.com\"")];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
        let headers = [ar(
            "mx.example.org; dmarc=pass header.from=\"ex\\ample.com\"",
        )];
        assert_eq!(verify(&headers, ID, "example.com"), passed("dmarc"));
        // A quoted local part holding `;dkim=pass …` stays inside its value.
        let headers = [ar("mx.example.org; spf=pass \
             smtp.mailfrom=\"x;dkim=pass header.d=example.com\"@evil.example; \
             dkim=none")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: \
             spf=pass, which checks the envelope sender, not the From address; dkim=none"
        );
    }

    #[test]
    fn method_result_and_property_names_are_case_insensitive() {
        let headers = [ar("mx.example.org; DKIM=Pass Header.D=Example.COM")];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
        let headers = [ar(
            "mx.example.org; DMARC = PASS HEADER . FROM = EXAMPLE.COM",
        )];
        assert_eq!(verify(&headers, ID, "example.com"), passed("dmarc"));
    }

    #[test]
    fn reason_is_ignored() {
        let headers = [ar(
            "mx.example.org; dkim=pass reason=\"header.d=evil.example\" \
             header.d=example.com",
        )];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
        let headers = [ar("mx.example.org; dkim=fail reason=\"dkim=pass\"")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: dkim=fail"
        );
    }

    #[test]
    fn dkim_aligns_with_subdomains_both_ways_at_label_boundaries() {
        let from_parent = [ar("mx.example.org; dkim=pass header.d=mail.example.com")];
        assert_eq!(
            verify(&from_parent, ID, "example.com"),
            passed("dkim (header.d=mail.example.com)")
        );
        let from_child = [ar("mx.example.org; dkim=pass header.d=example.com")];
        assert_eq!(
            verify(&from_child, ID, "mail.example.com"),
            passed("dkim (header.d=example.com)")
        );
        let trailing_dot = [ar("mx.example.org; dkim=pass header.d=example.com.")];
        assert_eq!(
            verify(&trailing_dot, ID, "Example.Com"),
            passed("dkim (header.d=example.com)")
        );
    }

    #[test]
    fn dkim_for_badexample_or_a_bare_tld_does_not_align() {
        let headers = [ar("mx.example.org; dkim=pass header.d=badexample.com")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: \
             dkim=pass for badexample.com, which is not aligned with example.com"
        );
        let headers = [ar("mx.example.org; dkim=pass header.d=example.com")];
        assert!(why(verify(&headers, ID, "badexample.com")).contains("not aligned"));
        let headers = [ar("mx.example.org; dkim=pass header.d=com")];
        assert!(why(verify(&headers, ID, "example.com")).contains("dkim=pass for com,"));
    }

    #[test]
    fn dkim_pass_for_another_domain_fails_naming_it() {
        let headers = [ar("mx.example.org; \
             dkim=pass header.d=mailer.example.net header.i=@mailer.example.net; \
             spf=fail smtp.mailfrom=example.com")];
        let why = why(verify(&headers, ID, "example.com"));
        assert_eq!(
            why,
            "mx.example.org does not vouch for example.com: \
             dkim=pass for mailer.example.net, which is not aligned with example.com; \
             spf=fail"
        );
    }

    #[test]
    fn header_d_decides_over_header_i() {
        let headers = [ar("mx.example.org; dkim=pass header.d=evil.example \
             header.i=@example.com")];
        assert!(why(verify(&headers, ID, "example.com")).contains("dkim=pass for evil.example,"));
        let headers = [ar(
            "mx.example.org; dkim=pass header.i=alice@Mail.Example.com",
        )];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.i=mail.example.com)")
        );
        let headers = [ar("mx.example.org; dkim=pass header.s=sel")];
        assert!(
            why(verify(&headers, ID, "example.com")).contains("dkim=pass without a signing domain")
        );
    }

    #[test]
    fn dmarc_pass_must_name_the_from_domain_unless_it_names_none() {
        let headers = [ar("mx.example.org; dmarc=pass header.from=example.net")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: \
             dmarc=pass for example.net, not example.com"
        );
        // DMARC's From domain must be equal, not merely aligned.
        let headers = [ar(
            "mx.example.org; dmarc=pass header.from=mail.example.com",
        )];
        assert!(matches!(
            verify(&headers, ID, "example.com"),
            AuthVerdict::Fail { .. }
        ));
        let headers = [ar("mx.example.org; dmarc=pass (p=reject dis=none)")];
        assert_eq!(verify(&headers, ID, "example.com"), passed("dmarc"));
    }

    #[test]
    fn from_address_without_domain_fails() {
        let headers = [ar("mx.example.org; dkim=pass header.d=example.com; \
             dmarc=pass header.from=example.com")];
        assert_eq!(
            why(verify(&headers, ID, "")),
            "mx.example.org cannot vouch for a From address without a domain"
        );
        assert_eq!(
            why(verify(&headers, ID, " . ")),
            "mx.example.org cannot vouch for a From address without a domain"
        );
    }

    #[test]
    fn unreadable_result_is_skipped_and_the_others_still_count() {
        let headers = [ar("mx.example.org; ?garbage here; dkim pass; \
             dkim=pass header.d=example.com")];
        assert_eq!(
            verify(&headers, ID, "example.com"),
            passed("dkim (header.d=example.com)")
        );
        let headers = [ar("mx.example.org; ?garbage; dkim=fail")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org does not vouch for example.com: dkim=fail; \
             1 unreadable result(s) ignored"
        );
    }

    #[test]
    fn unterminated_comment_or_quote_in_our_field_fails() {
        for (value, error) in [
            (
                "mx.example.org; dkim=pass header.d=example.com (oops",
                "unterminated comment",
            ),
            (
                "mx.example.org; dkim=pass header.d=\"example.com",
                "unterminated quoted string",
            ),
            ("mx.example.org junk; dkim=pass", "expected ';'"),
        ] {
            assert_eq!(
                why(verify(&[ar(value)], ID, "example.com")),
                format!("mx.example.org's Authentication-Results could not be read ({error})")
            );
        }
        let headers = [ar("mx.example.org")];
        assert_eq!(
            why(verify(&headers, ID, "example.com")),
            "mx.example.org's Authentication-Results hold no readable result"
        );
    }

    #[test]
    fn empty_and_garbage_fields_never_panic() {
        let deep = "(".repeat(100_000);
        let garbage = [
            "",
            " ",
            ";",
            ";;;",
            "=",
            "/",
            "\"",
            "\\",
            "(",
            ")",
            "mx.example.org;",
            "mx.example.org; =",
            "mx.example.org; dkim",
            "mx.example.org; dkim=",
            "mx.example.org; dkim/=pass",
            "mx.example.org; dkim=pass header",
            "mx.example.org; dkim=pass header.",
            "mx.example.org; dkim=pass header.d",
            "mx.example.org; dkim=pass header.d=",
            "mx.example.org; dkim=pass header.d=\\",
            "mx.example.org; dkim=pass header.d=@",
            "mx.example.org; dkim=pass header.d=.",
            "mx.example.org; dkim=pass header.i=@",
            "mx.example.org; dmarc=pass header.from=@",
            "mx.example.org 99999999999999999999; none",
            "mx.example.org; \"\\",
            "mx.example.org; (\\",
            "é.ü; dkim=pass header.d=ü.example",
            "\u{0}\u{7f}\r\n\t; \u{202e}dkim=pass",
            deep.as_str(),
        ];
        for value in garbage {
            for name in ["authentication-results", "x-garbage", ""] {
                let headers = [other(name, value), ar(value)];
                let _ = verify(&headers, ID, "example.com");
                let _ = verify(&headers, "", "");
                let _ = verify(&headers, value, value);
            }
        }
    }

    fn field_value() -> impl Strategy<Value = String> {
        let grammar = "[a-zA-Z0-9 .;=/@()\"\\\\_-]{0,120}";
        prop_oneof![
            any::<String>(),
            grammar,
            grammar.prop_map(|s| format!("mx.example.org; {s}")),
            grammar.prop_map(|s| format!("mx.example.org; dkim=pass header.d=example.com {s}")),
        ]
    }

    fn header_field() -> impl Strategy<Value = (String, String)> {
        let name = prop_oneof![
            Just("authentication-results".to_string()),
            Just("Authentication-Results".to_string()),
            Just("received".to_string()),
            any::<String>(),
        ];
        (name, field_value())
    }

    proptest! {
        #[test]
        fn random_header_values_never_panic(
            headers in proptest::collection::vec(header_field(), 0..6),
            id in prop_oneof![Just(ID.to_string()), Just(String::new()), any::<String>()],
            from in prop_oneof![Just("example.com".to_string()), any::<String>()],
        ) {
            let _ = verify(&headers, &id, &from);
        }

        #[test]
        fn fields_below_our_topmost_one_never_change_the_verdict(
            ours in field_value(),
            below in proptest::collection::vec(header_field(), 0..6),
        ) {
            let ours = ar(&format!("mx.example.org; {ours}"));
            let alone = verify(std::slice::from_ref(&ours), ID, "example.com");
            prop_assert_ne!(&alone, &AuthVerdict::Missing);
            let mut headers = vec![ours];
            headers.extend(below);
            prop_assert_eq!(verify(&headers, ID, "example.com"), alone);
        }
    }
}
