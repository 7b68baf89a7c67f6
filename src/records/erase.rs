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
//! SQLite keeps deleted content in freed pages and in the write-ahead log, so the
//! connection erases with `secure_delete` on and then rewrites the file (VACUUM) and empties
//! the log (checkpoint TRUNCATE); finally the files are read back to prove the address is
//! gone. Cases under legal hold are not erased: the request is refused, naming them.

use std::io::Read;
use std::path::Path;

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

/// Reads the database file, its `-wal` and `-shm` back and fails when `address` (or its
/// distinctive local part) is still in any of them, in any case. Call it with no connection
/// of this process open: closing a file drops every POSIX lock the process holds on it,
/// SQLite's included.
///
/// # Errors
/// [`RecordsError::Refused`] naming the file and offset; a file that cannot be read.
pub fn verify_gone(db: &Path, address: &str) -> Result<(), RecordsError> {
    let mut needles = vec![address.to_string()];
    needles.extend(distinctive_local_part(address).map(str::to_string));
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = std::path::PathBuf::from(p);
        for n in &needles {
            if let Some(at) = file_contains_ci(&p, n.as_bytes())? {
                return Err(RecordsError::Refused(format!(
                    "the erasure is committed, but {} still holds the address at byte {at}; run `mailcase erase` again when the daemon is idle",
                    p.display()
                )));
            }
        }
    }
    Ok(())
}

/// The offset of the first occurrence of `needle` (lower-case ASCII) in the file, comparing
/// without regard to ASCII case; None also when the file does not exist.
///
/// # Errors
/// The file cannot be read.
pub fn file_contains_ci(path: &Path, needle: &[u8]) -> Result<Option<u64>, RecordsError> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RecordsError::Io {
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    if needle.is_empty() {
        return Ok(None);
    }
    let needle = needle.to_ascii_lowercase();
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut offset: u64 = 0; // file offset of carry[0]
    loop {
        let n = f.read(&mut buf).map_err(RecordsError::io(path))?;
        if n == 0 {
            return Ok(None);
        }
        carry.extend(buf[..n].iter().map(u8::to_ascii_lowercase));
        if let Some(i) = carry
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
        {
            return Ok(Some(offset + i as u64));
        }
        let keep = needle.len().saturating_sub(1).min(carry.len());
        let drop = carry.len() - keep;
        carry.drain(..drop);
        offset += drop as u64;
    }
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

    #[test]
    fn a_needle_across_the_read_buffer_boundary_is_found_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut data = vec![b'x'; (1 << 20) - 3];
        data.extend_from_slice(b"Jane.Doe@Example.org tail");
        std::fs::write(&p, &data).unwrap();
        assert_eq!(
            file_contains_ci(&p, b"jane.doe@example.org").unwrap(),
            Some((1 << 20) - 3)
        );
        assert_eq!(file_contains_ci(&p, b"tom@example.org").unwrap(), None);
        assert_eq!(
            file_contains_ci(&dir.path().join("missing"), b"x").unwrap(),
            None
        );
    }
}
