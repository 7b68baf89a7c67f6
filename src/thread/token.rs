//! Signed reply addresses: `support+<token>@domain` (docs/design.md invariant 4, first rule).
//!
//! Every message we send has Reply-To set to an address whose `+detail` names the case and
//! the role of the person we wrote to, signed with HMAC-SHA256 under a key from config:
//! `c.cmp-7kq4x-v.<mac>` for the customer, `a.<reference>.<mac>` for agents,
//! `m.<reference>.<mac>` for the escalation contacts (managers). A reply to it
//! comes back to the support mailbox (the `+detail` is delivered to the base address) and
//! tells us the case and the role without trusting any header the sender wrote.
//!
//! The token is lower case only, from the Crockford alphabet plus `.` and `-`, because some
//! servers lower-case local parts; verification folds case and the Crockford look-alikes
//! (`o`->`0`, `i`/`l`->`1`). The MAC is 80 bits (16 symbols), compared in constant time. The
//! reference rather than the internal row id is signed so an address reveals nothing about
//! how many cases exist. A forged, altered or truncated token verifies as nothing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::case::Reference;
use crate::parse::InboundMessage;
use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const MAC_BYTES: usize = 10;
const MAC_CHARS: usize = 16;
/// Longest token: role, dot, reference (prefix up to 8 + `-XXXXX-C`), dot, MAC, and for
/// feedback links a dot and the rating.
pub const TOKEN_MAX_LEN: usize = 1 + 1 + 16 + 1 + MAC_CHARS + 2;
/// Shortest key accepted from config.
pub const MIN_KEY_LEN: usize = 16;

/// Whom a reply address was given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The customer of the case.
    Customer,
    /// The agents working on the case.
    Agent,
    /// A satisfaction rating link (`f.<reference>.<mac>.<1-5>`): the rating is chosen by
    /// whoever holds the link, the case by the MAC.
    Feedback,
    /// The escalation contacts of the case (`m.<reference>.<mac>`), the Reply-To of the
    /// escalation mail: a manager answers through it as an agent answers through `a.`.
    Manager,
}

impl Role {
    fn letter(self) -> char {
        match self {
            Role::Customer => 'c',
            Role::Agent => 'a',
            Role::Feedback => 'f',
            Role::Manager => 'm',
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Feedback => "feedback",
            Role::Manager => "manager",
        }
    }
}

/// The reply-token key.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// Why a key from config cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "the reply-token key must be at least {MIN_KEY_LEN} characters (use `openssl rand -hex 32`)"
)]
pub struct WeakKey;

/// A verified token: the case's reference and the role it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub role: Role,
    pub reference: Reference,
    /// The rating of a feedback link.
    pub rating: Option<u8>,
}

impl TokenKey {
    /// Wraps the secret.
    ///
    /// # Errors
    /// [`WeakKey`] when it is too short to resist guessing.
    pub fn new(secret: &Secret) -> Result<TokenKey, WeakKey> {
        let k = secret.expose().as_bytes();
        if k.len() < MIN_KEY_LEN {
            return Err(WeakKey);
        }
        Ok(TokenKey(k.to_vec()))
    }

    fn mac(&self, role: Role, reference: &str) -> HmacSha256 {
        // new_from_slice accepts any key length for HMAC.
        let mut m = match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        m.update(b"mailcase reply token v1\0");
        m.update(&[role.letter() as u8, 0]);
        m.update(reference.to_ascii_uppercase().as_bytes());
        m
    }

    /// The `+detail` for this case and role, e.g. `c.cmp-7kq4x-v.0f3kq8x2m9a7c1vd`.
    pub fn token(&self, role: Role, reference: &Reference) -> String {
        let tag = self.mac(role, reference.as_str()).finalize().into_bytes();
        format!(
            "{}.{}.{}",
            role.letter(),
            reference.as_str().to_ascii_lowercase(),
            encode(&tag[..MAC_BYTES])
        )
    }

    /// The reply address for this case and role: `local+token@domain`.
    pub fn address(&self, support_address: &str, role: Role, reference: &Reference) -> String {
        let (local, domain) = support_address
            .rsplit_once('@')
            .unwrap_or((support_address, ""));
        format!("{local}+{}@{domain}", self.token(role, reference))
    }

    /// Checks a `+detail`; None for anything forged, altered, truncated or malformed.
    pub fn verify(&self, detail: &str) -> Option<Verified> {
        if detail.len() > TOKEN_MAX_LEN + 4 {
            return None;
        }
        let detail = detail.to_ascii_lowercase();
        let mut parts = detail.splitn(3, '.');
        let role = match parts.next()? {
            "c" => Role::Customer,
            "a" => Role::Agent,
            "f" => Role::Feedback,
            "m" => Role::Manager,
            _ => return None,
        };
        let reference = Reference::parse(parts.next()?).ok()?;
        let rest = parts.next()?;
        let (mac, rating) = match role {
            Role::Feedback => {
                let (mac, n) = rest.split_once('.')?;
                let n: u8 = n.parse().ok().filter(|n| (1..=5).contains(n))?;
                (mac, Some(n))
            }
            _ => (rest, None),
        };
        let mac = decode(mac)?;
        self.mac(role, reference.as_str())
            .verify_truncated_left(&mac)
            .ok()?;
        Some(Verified {
            role,
            reference,
            rating,
        })
    }

    /// The mailto address of a feedback link for `rating` (1-5).
    pub fn feedback_address(
        &self,
        support_address: &str,
        reference: &Reference,
        rating: u8,
    ) -> String {
        let (local, domain) = support_address
            .rsplit_once('@')
            .unwrap_or((support_address, ""));
        format!(
            "{local}+{}.{rating}@{domain}",
            self.token(Role::Feedback, reference)
        )
    }

    /// True when the message was sent to a feedback address of ours, valid or not: a forged
    /// or stale rating link is ignored (and logged), never opened as a complaint.
    pub fn is_feedback_attempt(&self, msg: &InboundMessage, support_address: &str) -> bool {
        let Some((local, domain)) = support_address.rsplit_once('@') else {
            return false;
        };
        let prefix = format!("{}+f.", local.to_ascii_lowercase());
        let suffix = format!("@{}", domain.to_ascii_lowercase());
        msg.delivered_to
            .iter()
            .map(String::as_str)
            .chain(msg.to.iter().map(|m| m.address.as_str()))
            .map(|a| a.trim().to_ascii_lowercase())
            .any(|a| a.starts_with(&prefix) && a.ends_with(&suffix))
    }

    /// The first valid token among the addresses this message was delivered or written to
    /// (`Delivered-To` first: the envelope recipient our server recorded), for the support
    /// address `support_address`.
    pub fn find_in(&self, msg: &InboundMessage, support_address: &str) -> Option<Verified> {
        let (local, domain) = support_address.rsplit_once('@')?;
        let candidates = msg
            .delivered_to
            .iter()
            .map(String::as_str)
            .chain(msg.header_all("X-Original-To"))
            .chain(msg.to.iter().map(|m| m.address.as_str()))
            .chain(msg.cc.iter().map(|m| m.address.as_str()));
        for addr in candidates {
            let addr = addr.trim().trim_matches(|c| c == '<' || c == '>');
            let Some((l, d)) = addr.rsplit_once('@') else {
                continue;
            };
            if !d.eq_ignore_ascii_case(domain) {
                continue;
            }
            let Some((base, detail)) = l.split_once('+') else {
                continue;
            };
            if !base.eq_ignore_ascii_case(local) {
                continue;
            }
            if let Some(v) = self.verify(detail) {
                return Some(v);
            }
        }
        None
    }
}

fn encode(bytes: &[u8]) -> String {
    // 10 bytes = 80 bits = exactly 16 symbols of 5 bits.
    let mut out = String::with_capacity(MAC_CHARS);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

fn decode(s: &str) -> Option<[u8; MAC_BYTES]> {
    if s.len() != MAC_CHARS {
        return None;
    }
    let mut out = [0u8; MAC_BYTES];
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut n = 0;
    for c in s.bytes() {
        let c = match c {
            b'o' => b'0',
            b'i' | b'l' => b'1',
            other => other,
        };
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out[n] = ((acc >> bits) & 0xff) as u8;
            n += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};

    fn key(s: &str) -> TokenKey {
        TokenKey::new(&Secret::new(s)).unwrap()
    }

    fn reference() -> Reference {
        Reference::generate("CMP", &mut rand::thread_rng())
    }

    #[test]
    fn a_token_verifies_to_its_case_and_role() {
        let k = key("0123456789abcdef0123456789abcdef");
        let r = reference();
        for role in [Role::Customer, Role::Agent, Role::Manager] {
            let t = k.token(role, &r);
            assert!(t.len() <= TOKEN_MAX_LEN, "{t}");
            assert!(t
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'));
            let v = k.verify(&t).unwrap();
            assert_eq!(v.role, role);
            assert_eq!(v.reference, r);
        }
    }

    #[test]
    fn a_token_survives_upper_casing() {
        let k = key("0123456789abcdef0123456789abcdef");
        let r = reference();
        let t = k.token(Role::Agent, &r).to_ascii_uppercase();
        assert_eq!(k.verify(&t).unwrap().reference, r);
    }

    #[test]
    fn forged_altered_or_truncated_tokens_verify_as_nothing() {
        let k = key("0123456789abcdef0123456789abcdef");
        let r = reference();
        let t = k.token(Role::Customer, &r);
        // Role swapped: a customer cannot turn their address into an agent address.
        let swapped = format!("a{}", &t[1..]);
        assert_eq!(k.verify(&swapped), None);
        // Truncated MAC.
        assert_eq!(k.verify(&t[..t.len() - 1]), None);
        // One MAC symbol changed.
        let mut bad = t.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(k.verify(&String::from_utf8(bad).unwrap()), None);
        // Another case's reference with this MAC.
        let other = reference();
        let moved = t.replace(
            &r.as_str().to_ascii_lowercase(),
            &other.as_str().to_ascii_lowercase(),
        );
        assert_eq!(k.verify(&moved), None);
        // A token made with another key.
        let k2 = key("another key, also long enough!!");
        assert_eq!(k.verify(&k2.token(Role::Customer, &r)), None);
        for junk in [
            "",
            "c",
            "c..",
            "x.cmp.abc",
            "c.cmp-xxxxx-x.0000000000000000",
        ] {
            assert_eq!(k.verify(junk), None, "{junk}");
        }
    }

    #[test]
    fn feedback_links_carry_their_rating_and_cannot_be_moved_to_another_case() {
        let k = key("0123456789abcdef0123456789abcdef");
        let r = reference();
        for n in 1..=5u8 {
            let addr = k.feedback_address("support@support.test", &r, n);
            let detail = addr.split_once('+').unwrap().1.split_once('@').unwrap().0;
            let v = k.verify(detail).unwrap();
            assert_eq!((v.role, v.rating), (Role::Feedback, Some(n)));
            assert_eq!(v.reference, r);
        }
        let addr = k.feedback_address("support@support.test", &r, 4);
        let detail = addr.split_once('+').unwrap().1.split_once('@').unwrap().0;
        assert_eq!(k.verify(&detail.replace(".4", ".9")), None, "no rating 9");
        let other = reference();
        let moved = detail.replace(
            &r.as_str().to_ascii_lowercase(),
            &other.as_str().to_ascii_lowercase(),
        );
        assert_eq!(k.verify(&moved), None);
        // A customer token is not a feedback link and vice versa.
        let c = k.token(Role::Customer, &r);
        assert_eq!(k.verify(&format!("f{}.5", &c[1..])), None);
    }

    #[test]
    fn a_manager_address_is_its_own_role_and_cannot_be_made_from_another() {
        let k = key("0123456789abcdef0123456789abcdef");
        let r = reference();
        let addr = k.address("support@support.test", Role::Manager, &r);
        let detail = addr.split_once('+').unwrap().1.split_once('@').unwrap().0;
        assert!(detail.starts_with("m."), "{detail}");
        assert_eq!(detail, detail.to_ascii_lowercase());
        let v = k.verify(detail).unwrap();
        assert_eq!(
            (v.role, v.reference, v.rating),
            (Role::Manager, r.clone(), None)
        );
        assert_eq!(
            k.verify(&detail.to_ascii_uppercase()).unwrap().role,
            Role::Manager
        );
        // The agents' or the customer's address with its letter changed is no manager
        // address, and a manager address is no agent address.
        for other in [Role::Agent, Role::Customer] {
            let t = k.token(other, &r);
            assert_eq!(k.verify(&format!("m{}", &t[1..])), None, "{other:?}");
        }
        assert_eq!(k.verify(&format!("a{}", &detail[1..])), None);
        // Another case's reference with this MAC.
        let other = reference();
        let moved = detail.replace(
            &r.as_str().to_ascii_lowercase(),
            &other.as_str().to_ascii_lowercase(),
        );
        assert_eq!(k.verify(&moved), None);
        // Found in the addresses a reply was delivered to, like the others.
        let raw = format!("From: mgr@support.test\r\nTo: {addr}\r\nSubject: x\r\n\r\nhi\r\n");
        let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(
            k.find_in(&m, "support@support.test").map(|v| v.role),
            Some(Role::Manager)
        );
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(TokenKey::new(&Secret::new("short")).is_err());
    }

    #[test]
    fn the_token_is_found_in_delivered_to_or_to() {
        let k = key("0123456789abcdef0123456789abcdef");
        let r = reference();
        let addr = k.address("Support@Support.test", Role::Customer, &r);
        for h in [
            format!(
                "Delivered-To: {}\r\nTo: support@support.test",
                addr.to_lowercase()
            ),
            format!("To: \"Support\" <{}>", addr.to_uppercase()),
            format!("To: someone@else.test\r\nCc: {addr}"),
        ] {
            let raw = format!("From: a@b.test\r\n{h}\r\nSubject: x\r\n\r\nhi\r\n");
            let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
            let v = k.find_in(&m, "support@support.test").unwrap();
            assert_eq!(v.reference, r, "{h}");
        }
        // Another mailbox's plus address with a valid token is not ours.
        let raw = format!(
            "From: a@b.test\r\nTo: {}\r\nSubject: x\r\n\r\nhi\r\n",
            addr.replace("Support+", "sales+")
        );
        let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(k.find_in(&m, "support@support.test"), None);
    }
}
