//! A data-protection access request: everything stored about one address, in one tar archive.
//!
//! ```text
//! export.json                      the document: cases, messages with their text,
//!                                  participant entries, ratings, mail sent to them, audit
//! messages/<id>.eml                each stored raw message, byte for byte
//! attachments/<id>/<n>-<name>      the attachments of message <id>, decoded
//! outbound/<id>.eml                each message we sent them, as sent
//! ```
//!
//! The address matches without regard to case: as customer, as participant of other cases,
//! and as sender or recipient of mail. On someone else's case only what this person sent or
//! received is included, never the other customer's messages.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::RecordsError;
use crate::store::records::StoredMessage;
use crate::store::{ts, Store};

/// What went into an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    pub cases: usize,
    pub messages: usize,
    pub raw_messages: usize,
    pub attachments: usize,
    pub outbound: usize,
}

/// Keeps a file name to one safe path component.
fn file_name(name: Option<&str>) -> String {
    let cleaned: String = name
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned.chars().take(120).collect()
    }
}

struct Archive<W: Write> {
    tar: tar::Builder<W>,
    mtime: u64,
}

impl<W: Write> Archive<W> {
    fn add(&mut self, path: &str, data: &[u8]) -> std::io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(self.mtime);
        h.set_entry_type(tar::EntryType::Regular);
        self.tar.append_data(&mut h, path, data)
    }
}

/// Writes the archive of everything stored about `address` to `out` (through a temporary
/// file next to it, so a failed export leaves no partial archive).
///
/// # Errors
/// Store errors, or the file cannot be written.
pub fn export(
    store: &Store,
    address: &str,
    now: DateTime<Utc>,
    out: &Path,
) -> Result<ExportSummary, RecordsError> {
    let records = store.read().person_records(address)?;
    let tmp = out.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(RecordsError::io(&tmp))?;
    let mut a = Archive {
        tar: tar::Builder::new(std::io::BufWriter::new(file)),
        mtime: now.timestamp().max(0) as u64,
    };
    let mut summary = ExportSummary {
        cases: records.cases.len(),
        ..Default::default()
    };
    let mut message_doc = |a: &mut Archive<_>, m: &StoredMessage| -> std::io::Result<Value> {
        summary.messages += 1;
        let mut v = serde_json::to_value(m).unwrap_or_default();
        let mut files = Vec::new();
        if let Some(raw) = &m.raw {
            let path = format!("messages/{}.eml", m.id);
            a.add(&path, raw)?;
            summary.raw_messages += 1;
            v["raw_file"] = json!(path);
            for (n, att) in crate::parse::attachment_data(raw, usize::MAX)
                .into_iter()
                .enumerate()
            {
                let path = format!(
                    "attachments/{}/{}-{}",
                    m.id,
                    n + 1,
                    file_name(att.meta.name.as_deref())
                );
                a.add(&path, &att.data)?;
                summary.attachments += 1;
                files.push(json!({"file": path, "content_type": att.meta.content_type, "size": att.data.len()}));
            }
        } else {
            v["raw_file"] = Value::Null;
        }
        v["attachment_files"] = json!(files);
        Ok(v)
    };
    let mut outbound_doc =
        |a: &mut Archive<_>, o: &crate::store::records::StoredOutbound| -> std::io::Result<Value> {
            summary.outbound += 1;
            let mut v = serde_json::to_value(o).unwrap_or_default();
            if o.body.is_empty() {
                v["file"] = Value::Null;
            } else {
                let path = format!("outbound/{}.eml", o.id);
                a.add(&path, &o.body)?;
                v["file"] = json!(path);
            }
            Ok(v)
        };
    let mut write = |a: &mut Archive<_>| -> std::io::Result<Value> {
        let mut cases = Vec::new();
        for c in &records.cases {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            v["messages"] = Value::Array(
                c.messages
                    .iter()
                    .map(|m| message_doc(a, m))
                    .collect::<Result<_, _>>()?,
            );
            v["outbound"] = Value::Array(
                c.outbound
                    .iter()
                    .map(|o| outbound_doc(a, o))
                    .collect::<Result<_, _>>()?,
            );
            cases.push(v);
        }
        let unattached_messages = records
            .unattached_messages
            .iter()
            .map(|m| message_doc(a, m))
            .collect::<Result<Vec<_>, _>>()?;
        let unattached_outbound = records
            .unattached_outbound
            .iter()
            .map(|o| outbound_doc(a, o))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(json!({
            "format": "mailcase-export-1",
            "address": address,
            "exported_at": ts(now),
            "note": "Everything mailcase stores about this address. Raw messages are in messages/, attachments in attachments/, mail sent to the address in outbound/.",
            "cases": cases,
            "unattached_messages": unattached_messages,
            "unattached_outbound": unattached_outbound,
        }))
    };
    let result = write(&mut a).and_then(|doc| {
        let text = serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?;
        a.add("export.json", &text)?;
        let mut w = a.tar.into_inner()?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(RecordsError::Io {
            path: out.to_path_buf(),
            error: e,
        });
    }
    std::fs::rename(&tmp, out).map_err(RecordsError::io(out))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_become_one_harmless_path_component() {
        assert_eq!(file_name(Some("../../etc/passwd")), "_.._etc_passwd");
        assert_eq!(file_name(Some("invoice 12.pdf")), "invoice 12.pdf");
        assert_eq!(file_name(Some("  ")), "attachment");
        assert_eq!(file_name(None), "attachment");
    }
}
