//! A data-protection erasure request: everything about one address removed for good, the
//! counts kept.
//!
//! In one transaction: the person's own cases are closed (silently) and scrubbed like a
//! retention purge (`erased_at`); they are taken off other cases and the messages they
//! sent there are blanked; mail to them loses recipient, subject and body; then every column
//! of every table is searched for the address (and for a distinctive local part in the free
//! text), text has it replaced and binary values holding it (raw messages that quoted or
//! copied them) are dropped. The audit log records the erasure with counts and a keyed hash
//! of the address, never the address itself.
//!
//! Deleted content can outlive its rows in an engine's files, so the store erases with
//! `secure_delete` on and then compacts (`compact`; the SQLite engine rewrites the file with
//! VACUUM and empties its write-ahead log); finally `store::trace_on_disk` reads back what
//! the engine keeps on disk to prove the address is gone. Cases under legal hold are not
//! erased: the request is refused, naming them.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::RecordsError;
use crate::case::kinds::AuditEvent;
use crate::store::records::{Scrub, SweepCounts};
use crate::store::Store;

/// What an erasure did (also the detail of its audit event).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    /// Their own cases, scrubbed.
    pub cases: usize,
    /// Of those, still open and closed by the erasure.
    pub cases_closed: usize,
    /// Messages blanked (of their cases, and theirs on other cases).
    pub messages: usize,
    /// Participant entries removed from other cases.
    pub participant_entries: usize,
    /// Places the address was still found and removed by the final search.
    pub swept: SweepCounts,
    /// HMAC-SHA256 of the address under the reply-token key (hex, 128 bits): lets whoever
    /// holds the key confirm that a given address was erased, and nobody else learn it.
    pub fingerprint: String,
}

/// A local part distinctive enough to search the free text for on its own (`jane.doe`,
/// `jdoe1979`): something with a digit or a separator, at least six characters. A plain
/// word (`jane`, `info`, `example`) would hit other people's text.
pub fn distinctive_local_part(address: &str) -> Option<&str> {
    let (local, _) = crate::config::split_address(address)?;
    let marked = local
        .chars()
        .any(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '_' | '+'));
    (local.chars().count() >= 6 && marked).then_some(local)
}

/// HMAC-SHA256 of the address under `key`, hex, first 128 bits.
pub fn fingerprint(key: &[u8], address: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(b"mailcase-erasure:");
    mac.update(address.as_bytes());
    mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Erases `address` (normalised, lower case) from the store and cleans the file; then
/// close the store and [`verify_gone`].
///
/// # Errors
/// [`RecordsError::Refused`] when a case of theirs is under legal hold (nothing is changed);
/// store errors.
pub fn erase(
    store: &mut Store,
    address: &str,
    key: &[u8],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<ErasureReport, RecordsError> {
    let held: Vec<String> = store
        .read()
        .person_records(address)?
        .cases
        .into_iter()
        .filter(|c| c.legal_hold.is_some())
        .map(|c| c.case.reference)
        .collect();
    if !held.is_empty() {
        return Err(RecordsError::Refused(format!(
            "not erased: {} under legal hold (release it with `mailcase hold REF --release` once the hold no longer applies)",
            held.join(", ")
        )));
    }
    store.secure_delete()?;
    let fingerprint = fingerprint(key, address);
    let report = store.write(|tx| {
        // Re-read inside the transaction: the daemon may have opened a case meanwhile.
        let own = tx.read().cases_of_customer(address)?;
        let mut r = ErasureReport {
            fingerprint: fingerprint.clone(),
            ..Default::default()
        };
        for id in &own {
            if tx.read().legal_hold(*id)?.is_some() {
                return Err(crate::store::StoreError::Data(
                    "a case of this address was put on legal hold meanwhile; nothing erased".into(),
                ));
            }
            if tx.close_silently(*id, actor, "erased on request", now)? {
                r.cases_closed += 1;
            }
            let c = tx.scrub_case(*id, Scrub::Erased, actor, now)?;
            r.cases += 1;
            r.messages += c.messages;
        }
        let (parts, msgs) = tx.remove_person(address, Scrub::Erased)?;
        r.participant_entries = parts;
        r.messages += msgs;
        let mut swept = tx.sweep(address, false)?;
        if let Some(local) = distinctive_local_part(address) {
            let more = tx.sweep(local, true)?;
            swept.values_redacted += more.values_redacted;
            swept.blobs_dropped += more.blobs_dropped;
        }
        r.swept = swept;
        tx.audit(
            None,
            now,
            actor,
            AuditEvent::Erasure,
            &serde_json::to_value(&r).unwrap_or_default(),
        )?;
        Ok(r)
    })?;
    store.compact()?;
    Ok(report)
}

/// Reads back what the store keeps on disk (SQLite: the database file, its `-wal` and
/// `-shm`) and fails when `address` (or its distinctive local part) is still in any of it,
/// in any case. Call it with no store of this process open: closing a file drops every POSIX
/// lock the process holds on it, SQLite's included.
///
/// # Errors
/// [`RecordsError::Refused`] naming the file and offset; a file that cannot be read.
pub fn verify_gone(config: &crate::config::Config, address: &str) -> Result<(), RecordsError> {
    let mut needles = vec![address.to_string()];
    needles.extend(distinctive_local_part(address).map(str::to_string));
    if let Some(trace) = crate::store::trace_left(config, &needles)? {
        return Err(RecordsError::Refused(format!(
            "the erasure is committed, but {} still holds the address at byte {}; run `mailcase erase` again when the daemon is idle",
            trace.place, trace.offset
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_distinctive_local_parts_are_searched_on_their_own() {
        assert_eq!(
            distinctive_local_part("jane.doe@example.org"),
            Some("jane.doe")
        );
        assert_eq!(
            distinctive_local_part("jdoe1979@example.org"),
            Some("jdoe1979")
        );
        assert_eq!(distinctive_local_part("jane@example.org"), None);
        assert_eq!(distinctive_local_part("example@example.org"), None);
        assert_eq!(distinctive_local_part("j.d@example.org"), None);
    }

    #[test]
    fn the_fingerprint_depends_on_the_key_and_hides_the_address() {
        let a = fingerprint(b"key one", "jane@example.org");
        assert_eq!(a.len(), 32);
        assert_ne!(a, fingerprint(b"key two", "jane@example.org"));
        assert_eq!(a, fingerprint(b"key one", "jane@example.org"));
        assert!(!a.contains("jane"));
    }
}
