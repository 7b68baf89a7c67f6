//! Which case does a message belong to (docs/design.md invariant 4).
//!
//! In order: a signed reply token in the address it was sent to ([`token`]); a Message-ID we
//! issued in `In-Reply-To`/`References`; then a stored inbound Message-ID of the case, or the
//! reference tag in the subject, *and* a sender who already takes part in that case. Anybody
//! can copy a customer's Message-ID (it travels in every reply-all) or a reference number, so
//! those two admit only participants; from anybody else they open a new case linked to the
//! one they named. Only our own Message-IDs thread anyone: we sent that message to the case's
//! people. A forged or truncated token is no token: the next rules decide. A case merged
//! into another (`#merge`) hands every message that finds it to its survivor, before the
//! participant check (its people moved there), following at most [`MAX_MERGE_STEPS`] links.

pub mod subject;
pub mod token;

use crate::case::Reference;
use crate::parse::InboundMessage;
use crate::store::{CaseRow, StoreError, Tx};

/// Lookups threading needs; the store implements them, tests use maps.
pub trait CaseLookup {
    /// The case of the most recent of these Message-IDs that we issued (outbound mail).
    fn by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError>;
    /// The case of the most recent of these Message-IDs stored as public inbound mail.
    fn by_inbound_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError>;
    /// The case with this reference.
    fn by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError>;
    /// Whether `address` (normalised) takes part in the case.
    fn is_participant(&self, case_id: i64, address: &str) -> Result<bool, StoreError>;
    /// The case with this id, to follow a merged case to its survivor. A lookup without
    /// merged cases (a test's maps) need not answer.
    fn by_id(&self, _id: i64) -> Result<Option<CaseRow>, StoreError> {
        Ok(None)
    }
}

/// How many `merged_into` links threading follows: merges refuse chains and loops, so one
/// is all a database written by mailcase has; the bound keeps a hand-edited one finite.
pub const MAX_MERGE_STEPS: usize = 8;

/// The case that handles mail for `case`: itself, or the end of its `merged_into` links
/// (at most [`MAX_MERGE_STEPS`]; a missing link stops at the last case found).
///
/// # Errors
/// Store errors from the lookups.
pub fn survivor(case: CaseRow, lookup: &(impl CaseLookup + ?Sized)) -> Result<CaseRow, StoreError> {
    let mut c = case;
    for _ in 0..MAX_MERGE_STEPS {
        let Some(next) = c.merged_into else { break };
        match lookup.by_id(next)? {
            Some(n) => c = n,
            None => break,
        }
    }
    Ok(c)
}

impl CaseLookup for Tx<'_> {
    fn by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
        self.case_by_our_message_ids(ids)
    }
    fn by_inbound_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
        self.case_by_inbound_message_ids(ids)
    }
    fn by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        self.case_by_reference(reference)
    }
    fn is_participant(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        Tx::is_participant(self, case_id, address)
    }
    fn by_id(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        self.case_by_id(id)
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Threading {
    /// It was sent to a reply address we signed for this case and role.
    ByToken { case: CaseRow, role: token::Role },
    /// Its In-Reply-To/References name a message we sent on this case, or an inbound message
    /// of this case and the sender takes part in it.
    ByMessageId(CaseRow),
    /// Its subject tag names this case and the sender takes part in it.
    ByReferenceTag(CaseRow),
    /// A new case; `mentioned` is a case whose tag or inbound Message-ID it carried from a
    /// non-participant.
    New { mentioned: Option<CaseRow> },
}

/// Decides the case of `msg`.
///
/// # Errors
/// Store errors from the lookups.
pub fn find_case(
    msg: &InboundMessage,
    prefixes: &[String],
    token: Option<&token::Verified>,
    lookup: &(impl CaseLookup + ?Sized),
) -> Result<Threading, StoreError> {
    if let Some(t) = token {
        // A valid token for a case that no longer exists (purged) falls through.
        if let Some(c) = lookup.by_reference(t.reference.as_str())? {
            return Ok(Threading::ByToken {
                case: survivor(c, lookup)?,
                role: t.role,
            });
        }
    }
    let mut ids: Vec<String> = msg.references.clone();
    for id in &msg.in_reply_to {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    // The From address must take part; Reply-To alone is whatever the sender wrote.
    let sender = msg.from_address().unwrap_or_default();
    let takes_part = |c: &CaseRow| -> Result<bool, StoreError> {
        Ok(!sender.is_empty() && lookup.is_participant(c.id, &sender)?)
    };
    let mut mentioned = None;
    if !ids.is_empty() {
        if let Some(c) = lookup.by_our_message_ids(&ids)? {
            return Ok(Threading::ByMessageId(survivor(c, lookup)?));
        }
        if let Some(c) = lookup.by_inbound_message_ids(&ids)? {
            let c = survivor(c, lookup)?;
            if takes_part(&c)? {
                return Ok(Threading::ByMessageId(c));
            }
            mentioned = Some(c);
        }
    }
    // A tag with any brand's prefix (a case may have moved to another brand's queue).
    if let Some(r) = prefixes
        .iter()
        .find_map(|p| Reference::find_in_subject(&msg.subject, p))
    {
        if let Some(c) = lookup.by_reference(r.as_str())? {
            let c = survivor(c, lookup)?;
            if takes_part(&c)? {
                return Ok(Threading::ByReferenceTag(c));
            }
            return Ok(Threading::New { mentioned: Some(c) });
        }
    }
    Ok(Threading::New { mentioned })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{parse, ParseLimits};
    use std::collections::{HashMap, HashSet};

    #[derive(Default)]
    struct Maps {
        /// Message-IDs we issued.
        ids: HashMap<String, CaseRow>,
        /// Message-IDs of stored inbound mail.
        inbound: HashMap<String, CaseRow>,
        refs: HashMap<String, CaseRow>,
        parts: HashSet<(i64, String)>,
    }

    impl CaseLookup for Maps {
        fn by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
            Ok(ids.iter().rev().find_map(|i| self.ids.get(i).cloned()))
        }
        fn by_inbound_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
            Ok(ids.iter().rev().find_map(|i| self.inbound.get(i).cloned()))
        }
        fn by_reference(&self, r: &str) -> Result<Option<CaseRow>, StoreError> {
            Ok(self.refs.get(r).cloned())
        }
        fn is_participant(&self, c: i64, a: &str) -> Result<bool, StoreError> {
            Ok(self.parts.contains(&(c, a.to_string())))
        }
    }

    pub(super) fn case(id: i64, reference: &str) -> CaseRow {
        CaseRow {
            id,
            reference: reference.into(),
            status: crate::case::Status::Acknowledged,
            category: "general".into(),
            priority: "normal".into(),
            subject: "s".into(),
            customer_address: "alice@customer.test".into(),
            ..Default::default()
        }
    }

    fn msg(headers: &str) -> InboundMessage {
        let raw = format!("{headers}\r\nMessage-ID: <n@x>\r\n\r\nbody\r\n");
        parse(raw.as_bytes(), &ParseLimits::default()).unwrap()
    }

    fn cmp() -> Vec<String> {
        vec!["CMP".to_string()]
    }

    fn world() -> (Maps, String) {
        let mut rng = rand::thread_rng();
        let r = Reference::generate("CMP", &mut rng);
        let c = case(1, r.as_str());
        let mut m = Maps::default();
        m.ids.insert("ack-1@support.test".into(), c.clone());
        m.inbound
            .insert("complaint-1@customer.test".into(), c.clone());
        m.refs.insert(r.as_str().into(), c);
        m.parts.insert((1, "alice@customer.test".into()));
        (m, r.tag())
    }

    #[test]
    fn a_reply_to_our_acknowledgment_joins_by_message_id() {
        let (m, _) = world();
        let t = find_case(
            &msg("From: bob@elsewhere.test\r\nSubject: hi\r\nIn-Reply-To: <ack-1@support.test>"),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(matches!(t, Threading::ByMessageId(c) if c.id == 1));
    }

    #[test]
    fn the_customers_message_id_threads_the_customer_but_not_a_stranger() {
        let (m, _) = world();
        let t = find_case(
            &msg("From: alice@customer.test\r\nSubject: more\r\nIn-Reply-To: <complaint-1@customer.test>"),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(
            matches!(t, Threading::ByMessageId(ref c) if c.id == 1),
            "{t:?}"
        );
        // The same Message-ID from somebody who takes no part (with the customer in Reply-To):
        // a case of their own, linked to the one they named.
        let t = find_case(
            &msg("From: mallory@evil.test\r\nReply-To: alice@customer.test\r\nSubject: more\r\nReferences: <complaint-1@customer.test>"),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(
            matches!(t, Threading::New { mentioned: Some(ref c) } if c.id == 1),
            "{t:?}"
        );
        // One of our own Message-IDs threads anybody: we sent it to the case's people.
        let t = find_case(
            &msg("From: mallory@evil.test\r\nSubject: more\r\nReferences: <complaint-1@customer.test> <ack-1@support.test>"),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(
            matches!(t, Threading::ByMessageId(ref c) if c.id == 1),
            "{t:?}"
        );
    }

    #[test]
    fn a_tag_from_a_participant_joins() {
        let (m, tag) = world();
        let t = find_case(
            &msg(&format!(
                "From: Alice <ALICE@customer.test>\r\nSubject: Re: {tag} more"
            )),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(matches!(t, Threading::ByReferenceTag(c) if c.id == 1));
    }

    #[test]
    fn a_stranger_quoting_a_reference_gets_a_new_linked_case() {
        let (m, tag) = world();
        let t = find_case(
            &msg(&format!(
                "From: mallory@evil.test\r\nReply-To: alice@customer.test\r\nSubject: {tag}"
            )),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(matches!(t, Threading::New { mentioned: Some(c) } if c.id == 1));
    }

    /// Maps where case 1 was merged into case 2, which took over its customer.
    struct Merged(Maps);
    impl CaseLookup for Merged {
        fn by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
            self.0.by_our_message_ids(ids)
        }
        fn by_inbound_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
            self.0.by_inbound_message_ids(ids)
        }
        fn by_reference(&self, r: &str) -> Result<Option<CaseRow>, StoreError> {
            self.0.by_reference(r)
        }
        fn is_participant(&self, c: i64, a: &str) -> Result<bool, StoreError> {
            self.0.is_participant(c, a)
        }
        fn by_id(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
            Ok(self.0.refs.values().find(|c| c.id == id).cloned())
        }
    }

    fn merged_world() -> (Merged, String) {
        let (mut m, tag) = world();
        for c in m
            .ids
            .values_mut()
            .chain(m.inbound.values_mut())
            .chain(m.refs.values_mut())
        {
            c.merged_into = Some(2);
        }
        let mut rng = rand::thread_rng();
        let r2 = Reference::generate("CMP", &mut rng);
        m.refs.insert(r2.as_str().into(), case(2, r2.as_str()));
        m.parts.clear();
        m.parts.insert((2, "alice@customer.test".into()));
        (Merged(m), tag)
    }

    #[test]
    fn mail_to_a_merged_case_joins_its_survivor() {
        let (m, tag) = merged_world();
        for headers in [
            "From: alice@customer.test\r\nSubject: hi\r\nIn-Reply-To: <ack-1@support.test>"
                .to_string(),
            "From: alice@customer.test\r\nSubject: more\r\nReferences: <complaint-1@customer.test>"
                .to_string(),
            format!("From: alice@customer.test\r\nSubject: Re: {tag} more"),
        ] {
            let t = find_case(&msg(&headers), &cmp(), None, &m).unwrap();
            let id = match t {
                Threading::ByMessageId(c) | Threading::ByReferenceTag(c) => c.id,
                other => panic!("{headers}: {other:?}"),
            };
            assert_eq!(id, 2, "{headers}");
        }
        // A stranger naming the old case is linked to the survivor, not let in.
        let t = find_case(
            &msg(&format!("From: mallory@evil.test\r\nSubject: {tag}")),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert!(
            matches!(t, Threading::New { mentioned: Some(ref c) } if c.id == 2),
            "{t:?}"
        );
    }

    #[test]
    fn a_loop_of_merges_ends() {
        let mut looped = Maps::default();
        let mut a = case(1, "CMP-AAAAA-A");
        a.merged_into = Some(2);
        let mut b = case(2, "CMP-BBBBB-B");
        b.merged_into = Some(1);
        looped.refs.insert(a.reference.clone(), a.clone());
        looped.refs.insert(b.reference.clone(), b);
        let s = survivor(a, &Merged(looped)).unwrap();
        assert!(s.id == 1 || s.id == 2);
    }

    #[test]
    fn unknown_ids_and_no_tag_open_a_new_case() {
        let (m, _) = world();
        let t = find_case(
            &msg("From: alice@customer.test\r\nSubject: new problem\r\nReferences: <other@x>"),
            &cmp(),
            None,
            &m,
        )
        .unwrap();
        assert_eq!(t, Threading::New { mentioned: None });
    }
}

#[cfg(test)]
mod token_rule_tests {
    use super::*;
    use crate::case::Reference;
    use crate::parse::{parse, ParseLimits};

    struct One(CaseRow);
    impl CaseLookup for One {
        fn by_our_message_ids(&self, _: &[String]) -> Result<Option<CaseRow>, StoreError> {
            Ok(None)
        }
        fn by_inbound_message_ids(&self, _: &[String]) -> Result<Option<CaseRow>, StoreError> {
            Ok(None)
        }
        fn by_reference(&self, r: &str) -> Result<Option<CaseRow>, StoreError> {
            Ok((r == self.0.reference).then(|| self.0.clone()))
        }
        fn is_participant(&self, _: i64, _: &str) -> Result<bool, StoreError> {
            Ok(false)
        }
    }

    #[test]
    fn a_valid_token_wins_over_everything_and_carries_its_role() {
        let key = token::TokenKey::new(&crate::secret::Secret::new("k".repeat(32))).unwrap();
        let r = Reference::generate("CMP", &mut rand::thread_rng());
        let c = super::tests::case(7, r.as_str());
        let addr = key.address("support@support.test", token::Role::Agent, &r);
        let raw = format!("From: stranger@x.test\r\nTo: {addr}\r\nSubject: hi\r\n\r\nb\r\n");
        let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
        let v = key.find_in(&m, "support@support.test");
        let t = find_case(&m, &["CMP".to_string()], v.as_ref(), &One(c)).unwrap();
        assert!(
            matches!(t, Threading::ByToken { ref case, role: token::Role::Agent } if case.id == 7),
            "{t:?}"
        );
        // The same address with one MAC symbol changed is no token: the stranger gets a case
        // of their own.
        let at = addr.find('@').unwrap();
        let mut local = addr[..at].to_string();
        let last = local.pop().unwrap();
        local.push(if last == '0' { '1' } else { '0' });
        let forged = format!("{local}{}", &addr[at..]);
        let raw = format!("From: stranger@x.test\r\nTo: {forged}\r\nSubject: hi\r\n\r\nb\r\n");
        let m = parse(raw.as_bytes(), &ParseLimits::default()).unwrap();
        assert_eq!(key.find_in(&m, "support@support.test"), None);
    }
}
