//! Address headers that mail-parser splits wrongly, read again from their raw text.
//!
//! mail-parser 0.11 takes an addr-spec without angle brackets as one "e-mail token": a run of
//! characters that contains `@`. Whatever ends that run (a quoted local part, a fold or a
//! comment before the `@`, an encoded word) leaves the local part in the display name and
//! only `@domain` as the address: `Reply-To: "john.doe"@customer.test`, or the same address
//! folded as `"john.doe"\r\n @customer.test`, came out as `@customer.test`, and that opened a
//! case for a customer nobody can write to. Through Postfix (which unquotes a
//! local part that needs no quotes) the forms that arrive are a fold or comment before the
//! `@` (`john.doe\r\n @customer.test`) and a local part that needs its quotes
//! (`"john\r\n doe"@customer.test`). Angle-bracket addresses
//! (`"Doe,\r\n John" <john.doe@customer.test>`) are read correctly.
//!
//! So [`parse`](super::parse) checks every address mail-parser gives with [`canonical`], and
//! only for a header where one fails reads the raw value with [`mailboxes`], a small RFC 5322
//! `address-list` reader (quoted strings, nested comments, folding, groups, obsolete routes).
//! An address that is still malformed there is no address at all. Display names are returned
//! raw; the caller decodes their encoded words.

/// One mailbox read from raw header text: the display phrase (undecoded) and the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RawMailbox {
    /// Display name words (quoted strings unquoted), or the first comment of a bare addr-spec.
    pub name: Option<String>,
    /// The address in canonical form, see [`canonical`].
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Space,
    Comment(String),
    Quoted(String),
    /// Domain literal `[...]`, brackets included.
    Literal(String),
    Atom(String),
    Special(char),
}

/// Characters of an RFC 5322 atom besides letters and digits.
const ATEXT: &str = "!#$%&'*+-/=?^_`{|}~";

fn is_atext(c: char) -> bool {
    c.is_alphanumeric() || ATEXT.contains(c) || (!c.is_ascii() && !c.is_control())
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Folding (CRLF before white space) and stray line ends count as white space.
            ' ' | '\t' | '\r' | '\n' => {
                if out.last() != Some(&Token::Space) {
                    out.push(Token::Space);
                }
            }
            '(' => {
                let mut depth = 1;
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next()),
                        '(' => {
                            depth += 1;
                            s.push(c);
                        }
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                            s.push(c);
                        }
                        _ => s.push(c),
                    }
                }
                out.push(Token::Comment(s));
            }
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => s.extend(chars.next()),
                        '"' => break,
                        // A fold inside quotes is white space (RFC 5322 3.2.4).
                        '\r' | '\n' => {}
                        _ => s.push(c),
                    }
                }
                out.push(Token::Quoted(s));
            }
            '[' => {
                let mut s = String::from("[");
                for c in chars.by_ref() {
                    if !matches!(c, '\r' | '\n') {
                        s.push(c);
                    }
                    if c == ']' {
                        break;
                    }
                }
                out.push(Token::Literal(s));
            }
            '<' | '>' | ',' | ':' | ';' | '@' | '.' => out.push(Token::Special(c)),
            _ => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if is_atext(n) {
                        s.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Atom(s));
            }
        }
    }
    out
}

/// Every mailbox of a raw address header value (folding, comments and groups allowed), in
/// order; mailboxes without a well-formed address are left out.
pub(super) fn mailboxes(raw_value: &str) -> Vec<RawMailbox> {
    let tokens = tokenize(raw_value);
    let mut out = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut in_angle = false;
    for t in tokens {
        match t {
            Token::Special('<') => {
                in_angle = true;
                current.push(t);
            }
            Token::Special('>') => {
                in_angle = false;
                current.push(t);
            }
            Token::Special(',') | Token::Special(';') if !in_angle => {
                out.extend(mailbox(&current));
                current.clear();
            }
            // A group's display name ends at its colon; its members follow.
            Token::Special(':') if !in_angle => current.clear(),
            _ => current.push(t),
        }
    }
    out.extend(mailbox(&current));
    out
}

fn mailbox(tokens: &[Token]) -> Option<RawMailbox> {
    let open = tokens.iter().position(|t| *t == Token::Special('<'));
    let (name, address) = match open {
        Some(open) => {
            let close = tokens[open..]
                .iter()
                .position(|t| *t == Token::Special('>'))
                .map_or(tokens.len(), |c| open + c);
            (
                phrase(&tokens[..open]),
                addr_spec(&tokens[open + 1..close])?,
            )
        }
        None => {
            let comment = tokens.iter().find_map(|t| match t {
                Token::Comment(c) => Some(c.split_whitespace().collect::<Vec<_>>().join(" ")),
                _ => None,
            });
            (comment.filter(|c| !c.is_empty()), addr_spec(tokens)?)
        }
    };
    Some(RawMailbox { name, address })
}

/// Display phrase: its words joined by single spaces, quoted words unquoted.
fn phrase(tokens: &[Token]) -> Option<String> {
    let mut out = String::new();
    let mut space = false;
    for t in tokens {
        let word = match t {
            Token::Space | Token::Comment(_) => {
                space = true;
                continue;
            }
            Token::Quoted(s) | Token::Atom(s) | Token::Literal(s) => s.as_str(),
            Token::Special(c) => {
                out.push(*c);
                space = false;
                continue;
            }
        };
        if space && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        space = false;
    }
    let out = out.trim().to_string();
    (!out.is_empty()).then_some(out)
}

/// An addr-spec from its tokens (white space and comments ignored, an obsolete route
/// `@a,@b:` dropped) in canonical form; `None` unless it has a non-empty local part and domain.
fn addr_spec(tokens: &[Token]) -> Option<String> {
    let mut parts: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Space | Token::Comment(_)))
        .collect();
    // obs-route: "@relay.example,@other.example:" before the real address.
    if parts.first() == Some(&&Token::Special('@')) {
        let colon = parts.iter().position(|t| **t == Token::Special(':'))?;
        parts.drain(..=colon);
    }
    let at = parts.iter().rposition(|t| **t == Token::Special('@'))?;
    let local = local_part(&parts[..at])?;
    let domain = domain(&parts[at + 1..])?;
    Some(format!("{local}@{domain}"))
}

/// A local part: dot-separated atoms and quoted strings, quoted only when it must be (so
/// `"john.doe"` and `john.doe` are the same address, as RFC 5321 4.1.2 says).
fn local_part(tokens: &[&Token]) -> Option<String> {
    let mut words: Vec<String> = vec![String::new()];
    let mut quoted = false;
    for t in tokens {
        match t {
            Token::Atom(s) => words.last_mut()?.push_str(s),
            Token::Quoted(s) => {
                quoted = true;
                words.last_mut()?.push_str(s);
            }
            Token::Special('.') => words.push(String::new()),
            _ => return None,
        }
    }
    let text = words.join(".");
    if text
        .split('.')
        .all(|w| !w.is_empty() && w.chars().all(is_atext))
    {
        return Some(text);
    }
    // Anything else (spaces, empty dot-separated words) is an address only when quoted.
    if !quoted || text.is_empty() || text.chars().any(char::is_control) {
        return None;
    }
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect();
    Some(format!("\"{escaped}\""))
}

/// A domain: dot-separated atoms, or one domain literal.
fn domain(tokens: &[&Token]) -> Option<String> {
    if let [Token::Literal(l)] = tokens {
        return Some(l.clone());
    }
    let mut labels: Vec<&str> = Vec::new();
    let mut expect_label = true;
    for t in tokens {
        match (t, expect_label) {
            (Token::Atom(s), true) => {
                labels.push(s);
                expect_label = false;
            }
            (Token::Special('.'), false) => expect_label = true,
            _ => return None,
        }
    }
    (!labels.is_empty() && !expect_label).then(|| labels.join("."))
}

/// The canonical form of an address mail-parser gave, or `None` when it is malformed (an
/// empty local part or domain, stray syntax). An address without `@` (a bare
/// `MAILER-DAEMON`) is passed through: the robot rules read it.
pub(super) fn canonical(address: &str) -> Option<String> {
    if !address.contains('@') {
        return Some(address.to_string());
    }
    // Nearly every address is a plain dot-atom `local@domain`, already canonical: taken as
    // it is, without tokenizing (a profile of the ingest showed the tokenizer at 3% of its CPU).
    if is_plain(address) {
        return Some(address.to_string());
    }
    addr_spec(&tokenize(address))
}

/// `local@domain` with dot-atoms on both sides (RFC 5322 atext, no leading, trailing or
/// doubled dot) and a domain of letters, digits, hyphens and dots.
fn is_plain(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let dot_atom = |s: &str, ok: fn(u8) -> bool| {
        !s.is_empty()
            && !s.starts_with('.')
            && !s.ends_with('.')
            && !s.contains("..")
            && s.bytes().all(|b| b == b'.' || ok(b))
    };
    dot_atom(local, |b| {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
    }) && dot_atom(domain, |b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(raw: &str) -> Vec<(Option<String>, String)> {
        mailboxes(raw)
            .into_iter()
            .map(|m| (m.name, m.address))
            .collect()
    }

    fn want(pairs: &[(Option<&str>, &str)]) -> Vec<(Option<String>, String)> {
        pairs
            .iter()
            .map(|(n, a)| (n.map(str::to_string), a.to_string()))
            .collect()
    }

    #[test]
    fn a_quoted_local_part_is_one_address_not_a_name_and_a_domain() {
        assert_eq!(
            addrs("\"john.doe\"@customer.test"),
            want(&[(None, "john.doe@customer.test")])
        );
        assert_eq!(
            addrs("\"john.doe\"\r\n @customer.test"),
            want(&[(None, "john.doe@customer.test")])
        );
        assert_eq!(
            addrs("\"john doe\"@customer.test"),
            want(&[(None, "\"john doe\"@customer.test")])
        );
    }

    #[test]
    fn folds_and_comments_inside_an_addr_spec_are_white_space() {
        assert_eq!(
            addrs("john.doe\r\n @customer.test"),
            want(&[(None, "john.doe@customer.test")])
        );
        assert_eq!(
            addrs("john.doe@\r\n customer.test"),
            want(&[(None, "john.doe@customer.test")])
        );
        assert_eq!(
            addrs("john.doe (Doe,\r\n John)@customer.test"),
            want(&[(Some("Doe, John"), "john.doe@customer.test")])
        );
    }

    #[test]
    fn folded_quoted_display_names_keep_their_address() {
        assert_eq!(
            addrs("\"Doe,\r\n John\" <john.doe@customer.test>, Jane <jane@customer.test>"),
            want(&[
                (Some("Doe, John"), "john.doe@customer.test"),
                (Some("Jane"), "jane@customer.test")
            ])
        );
        assert_eq!(
            addrs("\r\n \"John Doe\"\r\n <john@customer.test>"),
            want(&[(Some("John Doe"), "john@customer.test")])
        );
    }

    #[test]
    fn groups_and_routes_are_read_through() {
        assert_eq!(
            addrs("Team: a@customer.test, \"B\" <@relay.test,@r2.test:b@customer.test>;"),
            want(&[(None, "a@customer.test"), (Some("B"), "b@customer.test")])
        );
    }

    #[test]
    fn an_empty_local_part_or_domain_is_no_address() {
        assert!(addrs("@customer.test").is_empty());
        assert!(addrs("<@customer.test>").is_empty());
        assert!(addrs("\"\"@customer.test").is_empty());
        assert!(addrs("john@").is_empty());
        assert!(addrs("john@customer..test").is_empty());
        assert!(addrs(".john@customer.test").is_empty());
        // What Postfix makes of `<@customer.test>` when it rewrites the header.
        assert!(addrs("\"Doe,  John\" <\"\"@customer.test>").is_empty());
        assert_eq!(canonical("@customer.test"), None);
        assert_eq!(canonical("john.doe@"), None);
    }

    #[test]
    fn plain_addresses_take_the_short_way_and_others_do_not() {
        assert!(is_plain("jane.doe+tag@mail.example.org"));
        for a in [
            "@x.test",
            "a@",
            "a..b@x.test",
            ".a@x.test",
            "\"a b\"@x.test",
            "a@[192.0.2.1]",
            "a b@x.test",
            "a@b@c",
        ] {
            assert!(!is_plain(a), "{a}");
        }
    }

    #[test]
    fn canonical_keeps_good_addresses_and_bare_local_names() {
        assert_eq!(
            canonical("Jane.Doe@Example.ORG").as_deref(),
            Some("Jane.Doe@Example.ORG")
        );
        assert_eq!(
            canonical("\"jane\"@example.org").as_deref(),
            Some("jane@example.org")
        );
        assert_eq!(
            canonical("@relay.test:jane@example.org").as_deref(),
            Some("jane@example.org")
        );
        assert_eq!(canonical("MAILER-DAEMON").as_deref(), Some("MAILER-DAEMON"));
        assert_eq!(canonical("a@[192.0.2.1]").as_deref(), Some("a@[192.0.2.1]"));
    }
}
