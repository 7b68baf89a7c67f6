//! Reference numbers: short, readable aloud, typo-safe, not guessable.
//!
//! `PREFIX-XXXXX-C`: five random symbols and a check symbol, all from the Crockford base32
//! alphabet without its last symbol `Z` (31 symbols: no I, L, O, U, Z). The check is the
//! position-weighted sum of the symbol values modulo 31, a prime: as every value and weight is
//! below 31, every single-symbol substitution and every swap of two adjacent symbols changes
//! it. (With all 32 symbols, `0` and `Z` would differ by 31 and collide.) Input is
//! normalised the Crockford way (lower case accepted, `O`->`0`, `I`/`L`->`1`).

use rand::Rng;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKMNPQRSTVWXY";
const BODY_LEN: usize = 5;
const CHECK_MOD: u32 = 31;

/// A validated reference such as `CMP-7KQ4X-V`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference(String);

/// Why a reference typed by a person is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("`{0}` is not a reference like CMP-7KQ4X-V")]
    Shape(String),
    #[error("`{input}` has a wrong check character; did you mean {suggestion}?")]
    Check { input: String, suggestion: String },
}

fn value(c: u8) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

fn check_symbol(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, &c)| value(c).unwrap_or(0) * (i as u32 + 1))
        .sum();
    ALPHABET[(sum % CHECK_MOD) as usize]
}

impl Reference {
    /// A new random reference with `prefix` (uniqueness is checked by the store).
    pub fn generate<R: Rng + ?Sized>(prefix: &str, rng: &mut R) -> Reference {
        let body: Vec<u8> = (0..BODY_LEN)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect();
        let check = check_symbol(&body);
        Reference(format!(
            "{prefix}-{}-{}",
            String::from_utf8_lossy(&body),
            check as char
        ))
    }

    /// Parses a reference as a person or a subject line wrote it.
    ///
    /// # Errors
    /// [`ReferenceError::Check`] with a suggestion when only the check symbol is wrong or it
    /// is a single typo that one candidate explains.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let t = input.trim();
        let shape = || ReferenceError::Shape(t.to_string());
        let mut parts = t.split('-');
        let (Some(prefix), Some(body), Some(check), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(shape());
        };
        let prefix = prefix.to_ascii_uppercase();
        if prefix.is_empty()
            || prefix.len() > 8
            || !prefix.bytes().all(|b| b.is_ascii_alphanumeric())
            || body.len() != BODY_LEN
            || check.len() != 1
        {
            return Err(shape());
        }
        let mut norm = Vec::with_capacity(BODY_LEN);
        for b in body.bytes() {
            let v = value(b).ok_or_else(shape)?;
            norm.push(ALPHABET[v as usize]);
        }
        let given = value(check.as_bytes()[0]).ok_or_else(shape)?;
        let expected = check_symbol(&norm);
        let body_s = String::from_utf8_lossy(&norm).into_owned();
        if ALPHABET[given as usize] == expected {
            return Ok(Reference(format!("{prefix}-{body_s}-{}", expected as char)));
        }
        // One typo somewhere: suggest the candidate fixing the body if exactly one exists,
        // else the same body with its right check symbol.
        let mut candidates = Vec::new();
        for i in 0..BODY_LEN {
            for &a in ALPHABET.iter() {
                if a == norm[i] {
                    continue;
                }
                let mut c = norm.clone();
                c[i] = a;
                if check_symbol(&c) == ALPHABET[given as usize] {
                    candidates.push(c);
                }
            }
        }
        for i in 0..BODY_LEN - 1 {
            let mut c = norm.clone();
            c.swap(i, i + 1);
            if c != norm && check_symbol(&c) == ALPHABET[given as usize] {
                candidates.push(c);
            }
        }
        let suggestion = if candidates.len() == 1 {
            format!(
                "{prefix}-{}-{}",
                String::from_utf8_lossy(&candidates[0]),
                ALPHABET[given as usize] as char
            )
        } else {
            format!("{prefix}-{body_s}-{}", expected as char)
        };
        Err(ReferenceError::Check {
            input: t.to_string(),
            suggestion,
        })
    }

    /// Finds the first valid `[PREFIX-XXXXX-C]` tag in a subject.
    pub fn find_in_subject(subject: &str, prefix: &str) -> Option<Reference> {
        let upper = subject.to_ascii_uppercase();
        let needle = format!("[{}-", prefix.to_ascii_uppercase());
        let mut from = 0;
        while let Some(pos) = upper[from..].find(&needle) {
            let start = from + pos + 1;
            if let Some(end) = upper[start..].find(']') {
                if let Ok(r) = Reference::parse(&subject[start..start + end]) {
                    return Some(r);
                }
            }
            from = start;
        }
        None
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The subject tag, `[CMP-7KQ4X-V]`.
    pub fn tag(&self) -> String {
        format!("[{}]", self.0)
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_references_parse_back_and_look_right() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let r = Reference::generate("CMP", &mut rng);
            assert_eq!(r.as_str().len(), "CMP-XXXXX-C".len());
            assert_eq!(Reference::parse(r.as_str()).unwrap(), r);
            assert_eq!(Reference::parse(&r.as_str().to_lowercase()).unwrap(), r);
        }
    }

    #[test]
    fn every_single_substitution_and_adjacent_swap_is_caught() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        for _ in 0..200 {
            let r = Reference::generate("CMP", &mut rng);
            let body: Vec<u8> = r.as_str().as_bytes()[4..9].to_vec();
            for i in 0..5 {
                for &a in ALPHABET.iter() {
                    if a == body[i] {
                        continue;
                    }
                    let mut b = body.clone();
                    b[i] = a;
                    let typo = format!("CMP-{}-{}", String::from_utf8_lossy(&b), &r.as_str()[10..]);
                    assert!(Reference::parse(&typo).is_err(), "{typo} accepted");
                }
            }
            for i in 0..4 {
                let mut b = body.clone();
                b.swap(i, i + 1);
                if b == body {
                    continue;
                }
                let typo = format!("CMP-{}-{}", String::from_utf8_lossy(&b), &r.as_str()[10..]);
                assert!(Reference::parse(&typo).is_err(), "{typo} accepted");
            }
        }
    }

    #[test]
    fn a_wrong_check_symbol_suggests_the_right_reference() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let r = Reference::generate("CMP", &mut rng);
        let body = &r.as_str()[..10];
        let wrong = ALPHABET
            .iter()
            .find(|&&c| c as char != r.as_str().chars().last().unwrap())
            .unwrap();
        let typed = format!("{body}{}", *wrong as char);
        match Reference::parse(&typed) {
            Err(ReferenceError::Check { suggestion, .. }) => {
                assert!(suggestion.starts_with("CMP-"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crockford_lookalikes_are_read_as_digits() {
        let r = Reference(format!("CMP-10000-{}", check_symbol(b"10000") as char));
        assert_eq!(
            Reference::parse("cmp-lo0o0-".to_string().as_str()).ok(),
            None
        );
        let typed = format!("cmp-IoOoO-{}", r.as_str().chars().last().unwrap());
        assert_eq!(Reference::parse(&typed).unwrap(), r);
    }

    #[test]
    fn tag_is_found_in_a_reply_subject() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let r = Reference::generate("CMP", &mut rng);
        let s = format!("AW: Re: {} Re: printer on fire", r.tag());
        assert_eq!(Reference::find_in_subject(&s, "CMP"), Some(r.clone()));
        assert_eq!(
            Reference::find_in_subject("[CMP-00000-Z] hello", "CMP"),
            None
        );
        assert_eq!(Reference::find_in_subject("no tag", "CMP"), None);
        assert_eq!(
            Reference::find_in_subject(&s.to_lowercase(), "CMP"),
            Some(r)
        );
    }
}
