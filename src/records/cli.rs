//! The records commands as an admin runs them: `hold`, `purge`, `export`, `erase`. Each opens
//! the database for writing (`Store::open`: it waits for the daemon's transactions through
//! the busy timeout, and never resets the file) and prints what it did.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::{erase, export, normalize_address, retention, RecordsError};
use crate::case::kinds::AuditEvent;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::store::{ts, Store};

/// Who ran a command, for the audit log: `cli:<login>`.
pub fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

fn now() -> DateTime<Utc> {
    SystemClock.now()
}

fn open(cfg: &Config) -> Result<Store, RecordsError> {
    if cfg.store.engine == crate::config::StoreEngine::Sqlite {
        let db = cfg.db_path();
        if !db.exists() {
            return Err(RecordsError::Refused(format!(
                "database {} does not exist yet (the daemon creates it at first run)",
                db.display()
            )));
        }
    }
    Ok(Store::open_configured(cfg)?)
}

fn io(e: std::io::Error) -> RecordsError {
    RecordsError::Io {
        path: "<stdout>".into(),
        error: e,
    }
}

/// `mailcase hold REF --reason ...` / `--release`.
///
/// # Errors
/// Unknown reference, store errors.
pub fn hold(
    cfg: &Config,
    reference: &str,
    reason: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), RecordsError> {
    let r = crate::case::Reference::parse(reference)
        .map_err(|e| RecordsError::Refused(e.to_string()))?;
    if reason.is_some_and(|s| s.trim().is_empty()) {
        return Err(RecordsError::Refused(
            "--reason must say why the case is held".into(),
        ));
    }
    let mut store = open(cfg)?;
    let change = store.set_legal_hold(r.as_str(), reason.map(str::trim), &actor(), now())?;
    use crate::store::records::HoldChange;
    match change {
        HoldChange::Set => writeln!(
            out,
            "{r}: on legal hold; it is kept whatever the retention policy says"
        ),
        HoldChange::Replaced { previous } => {
            writeln!(
                out,
                "{r}: still on legal hold; reason replaced (was: {previous})"
            )
        }
        HoldChange::Released { reason } => writeln!(
            out,
            "{r}: legal hold released (was: {reason}); the retention policy applies again"
        ),
        HoldChange::NotHeld => writeln!(out, "{r}: was not on legal hold; nothing changed"),
    }
    .map_err(io)
}

/// `mailcase resume REF`: a case the loop guard stopped relays again; the guard counts only
/// what comes after this moment.
///
/// # Errors
/// Unknown reference, store errors.
pub fn resume(cfg: &Config, reference: &str, out: &mut dyn Write) -> Result<(), RecordsError> {
    let r = crate::case::Reference::parse(reference)
        .map_err(|e| RecordsError::Refused(e.to_string()))?;
    let mut store = open(cfg)?;
    let case = store
        .read()
        .case_by_reference(r.as_str())?
        .ok_or_else(|| RecordsError::Refused(format!("no case {r}")))?;
    match store.resume_loop(case.id, &actor(), now())? {
        Some(held) => {
            writeln!(
                out,
                "{r}: relaying again; mail from now on is counted afresh by the loop guard"
            )
            .map_err(io)?;
            if held > 0 {
                writeln!(
                    out,
                    "{r}: {held} agent answer(s) written while it was stopped were stored but not sent; the agents should send them again (mailcase case {r} shows them)"
                )
                .map_err(io)?;
            }
            Ok(())
        }
        None => writeln!(out, "{r}: was not stopped as a mail loop; nothing changed").map_err(io),
    }
}

/// `mailcase purge [--dry-run] [--at RFC3339]`.
///
/// # Errors
/// A bad `--at`, store errors.
pub fn purge(
    cfg: &Config,
    dry_run: bool,
    at: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), RecordsError> {
    let now = match at {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map_err(|_| RecordsError::Refused(format!("--at `{s}` is not an RFC 3339 time")))?
            .with_timezone(&Utc),
        None => now(),
    };
    let mut store = open(cfg)?;
    let policy = &cfg.retention;
    let plan = retention::plan(&store, policy, now)?;
    let verb = if dry_run { "would purge" } else { "purging" };
    let w = |out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(out, "retention as of {}:", plan.at)?;
        writeln!(out, "{verb} {} closed case(s)", plan.cases.len())?;
        for d in &plan.cases {
            writeln!(
                out,
                "  case {}  {} / {}  closed {}  (kept {} days)",
                d.case.reference,
                d.case.category,
                d.case.priority,
                ts(d.case.closed_at),
                d.days
            )?;
        }
        for h in &plan.held {
            writeln!(
                out,
                "  kept  {}  legal hold since {}: {}",
                h.reference, h.since, h.reason
            )?;
        }
        writeln!(
            out,
            "{verb} {} quarantined message(s)",
            plan.quarantine.len()
        )?;
        for q in &plan.quarantine {
            writeln!(
                out,
                "  quarantine #{}  uid {}  {}  {} bytes  {}",
                q.id,
                q.uid.map(|u| u.to_string()).unwrap_or_else(|| "-".into()),
                ts(q.at),
                q.size,
                q.reason
            )?;
        }
        writeln!(
            out,
            "{verb} the raw bytes of {} message(s) and the bodies of {} sent message(s)",
            plan.raw.len(),
            plan.sent_bodies
        )?;
        for m in &plan.raw {
            writeln!(
                out,
                "  raw #{}  {}  {}  {} bytes",
                m.id,
                m.reference.as_deref().unwrap_or("(no case)"),
                ts(m.received_at),
                m.raw_size
            )?;
        }
        writeln!(
            out,
            "{verb} {} message(s) of no case",
            plan.unattached.len()
        )?;
        for m in &plan.unattached {
            writeln!(out, "  unattached #{}  {}", m.id, ts(m.received_at))?;
        }
        Ok(())
    };
    w(out).map_err(io)?;
    if dry_run {
        return Ok(());
    }
    let report = retention::execute(&mut store, &plan, policy, &actor(), now, None)?;
    writeln!(
        out,
        "purged: {} case(s) ({} message(s)), {} quarantined, {} raw message(s), {} sent bodies, {} message(s) of no case",
        report.cases,
        report.case_messages,
        report.quarantined,
        report.raw_messages,
        report.sent_bodies,
        report.unattached
    )
    .map_err(io)
}

/// `mailcase export --customer ADDRESS --out FILE.tar`; the export is audited (counts
/// only).
///
/// # Errors
/// Not an address, store or file errors.
pub fn export(
    cfg: &Config,
    customer: &str,
    file: &Path,
    out: &mut dyn Write,
) -> Result<(), RecordsError> {
    let address = normalize_address(customer)?;
    let mut store = open(cfg)?;
    let now = now();
    let summary = export::export(&store, &address, now, file)?;
    let key = token_key(cfg)?;
    store.write(|tx| {
        tx.audit(
            None,
            now,
            &actor(),
            AuditEvent::DataExport,
            &serde_json::json!({
                "cases": summary.cases, "messages": summary.messages,
                "fingerprint": erase::fingerprint(&key, &address),
            }),
        )
    })?;
    writeln!(
        out,
        "{}: {} case(s), {} message(s) ({} raw, {} attachment(s)), {} outbound message(s)",
        file.display(),
        summary.cases,
        summary.messages,
        summary.raw_messages,
        summary.attachments,
        summary.outbound
    )
    .map_err(io)
}

fn token_key(cfg: &Config) -> Result<Vec<u8>, RecordsError> {
    let source = cfg
        .token_secret_source()
        .map_err(|m| RecordsError::Refused(format!("support: {m}")))?;
    let secret = crate::secret::read_key(&source, &cfg.secret_places())
        .map_err(|e| RecordsError::Refused(e.to_string()))?;
    Ok(secret.expose().as_bytes().to_vec())
}

/// `mailcase erase --customer ADDRESS`.
///
/// # Errors
/// Not an address, a case under legal hold, store or file errors.
pub fn erase(cfg: &Config, customer: &str, out: &mut dyn Write) -> Result<(), RecordsError> {
    let address = normalize_address(customer)?;
    let key = token_key(cfg)?;
    let mut store = open(cfg)?;
    let r = erase::erase(&mut store, &address, &key, &actor(), now())?;
    drop(store);
    erase::verify_gone(cfg, &address)?;
    writeln!(
        out,
        "erased: {} case(s) ({} closed by the erasure), {} message(s), {} participant entries on other cases; {} more value(s) redacted and {} raw message(s) or bodies dropped where the address appeared; fingerprint {}",
        r.cases, r.cases_closed, r.messages, r.participant_entries, r.swept.values_redacted, r.swept.blobs_dropped, r.fingerprint
    )
    .map_err(io)?;
    let store_said = match cfg.store.engine {
        crate::config::StoreEngine::Sqlite => {
            "database file rewritten and write-ahead log emptied: the address is in none of them."
        }
        crate::config::StoreEngine::Postgres => {
            "no text or bytes column of any table holds the address; the tables were vacuumed. Old row versions in PostgreSQL's files until reused, its WAL, archives and replicas are the database administrator's to clear."
        }
    };
    writeln!(
        out,
        "{store_said} Copies in the mailbox (processed folder) and in backups are not mailcase's: delete them there."
    )
    .map_err(io)
}
