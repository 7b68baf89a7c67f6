//! The admin's commands that read the database while the daemon runs: `mailcase cases`,
//! `mailcase case REF`, `mailcase status` and `mailcase template preview`.
//!
//! They open the store read-only (WAL: the daemon keeps writing meanwhile) and write to any
//! `Write`, so tests and `main.rs` share them. Errors say what to type instead.

pub mod audit;
pub mod cases;
pub mod status;
pub mod template;

use std::io::Write;

use crate::case::{Reference, ReferenceError};
use crate::config::Config;
use crate::store::{CaseView, Reader, SimulatedClock, Store, StoreError};

/// Why a command could not do what was asked; `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error(transparent)]
    Templates(#[from] crate::mail::LoadError),
    /// A reference that is malformed or names no case, with what the person probably meant.
    #[error("{0}")]
    Reference(String),
    /// An option value that cannot be used, with the accepted ones.
    #[error("{0}")]
    Usage(String),
    #[error("writing the output: {0}")]
    Output(std::io::Error),
    #[error("writing CSV: {0}")]
    Csv(csv::Error),
    #[error("writing JSON: {0}")]
    Json(serde_json::Error),
}

/// Standard output as the commands write it: once the reader has gone (`mailcase cases |
/// head -1`: EPIPE), the rest of the output is discarded instead of failing, so a command
/// still does all it was asked to (a purge still purges, `check` still checks) and exits
/// quietly with the status its work deserves, without "Broken pipe" on stderr. Other write
/// errors (a full disk behind `> file`) are still errors.
#[derive(Debug)]
pub struct PipeOut<W> {
    inner: W,
    gone: bool,
}

impl<W: Write> PipeOut<W> {
    pub fn new(inner: W) -> Self {
        PipeOut { inner, gone: false }
    }

    /// True once the reader has gone and output is being discarded.
    pub fn reader_gone(&self) -> bool {
        self.gone
    }

    fn absorb<T>(&mut self, r: std::io::Result<T>, discarded: T) -> std::io::Result<T> {
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.gone = true;
                Ok(discarded)
            }
            r => r,
        }
    }
}

impl<W: Write> Write for PipeOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.gone {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        self.absorb(r, buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.gone {
            return Ok(());
        }
        let r = self.inner.flush();
        self.absorb(r, ())
    }
}

/// Opens the configured database read-only.
///
/// # Errors
/// [`StoreError`]: a missing file, or a schema this program does not read.
pub fn open_store(cfg: &Config) -> Result<Store, CliError> {
    if cfg.store.engine == crate::config::StoreEngine::Sqlite {
        let path = cfg.db_path();
        if !path.exists() {
            return Err(CliError::Usage(format!(
                "no database at {} yet (store.path): the daemon creates it when it first runs",
                path.display()
            )));
        }
    }
    Ok(Store::open_read_only_configured(cfg)?)
}

/// Upper case, Crockford look-alikes read as digits after the prefix (as
/// [`Reference::parse`] reads them), so `cmp-7kq4x-v` and `CMP-7KQ4X-V` compare equal.
fn normalise(input: &str) -> String {
    let t = input.trim().to_ascii_uppercase();
    match t.split_once('-') {
        Some((prefix, rest)) => {
            let rest: String = rest
                .chars()
                .map(|c| match c {
                    'O' => '0',
                    'I' | 'L' => '1',
                    other => other,
                })
                .collect();
            format!("{prefix}-{rest}")
        }
        None => t,
    }
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment):
/// the typos people make with references.
fn typo_distance(a: &str, b: &str) -> usize {
    crate::case::commands::edit_distance(a, b)
}

/// Existing references one typo away from what was typed (hyphens ignored, so
/// `CMP7KQ4XV` finds `CMP-7KQ4X-V` too).
pub fn similar_references(input: &str, existing: &[String]) -> Vec<String> {
    let typed = normalise(input).replace('-', "");
    existing
        .iter()
        .filter(|r| typo_distance(&typed, &r.replace('-', "")) <= 1)
        .cloned()
        .collect()
}

fn did_you_mean(candidates: &[String]) -> String {
    match candidates {
        [one] => format!("did you mean {one}?"),
        many => format!("did you mean one of {}?", many.join(", ")),
    }
}

/// The case a person named, accepting lower case and look-alikes.
///
/// # Errors
/// [`CliError::Reference`] when the reference is malformed or its check character is wrong
/// (suggesting existing references one typo away), or when no case has it.
pub fn find_case(read: &Reader<'_>, input: &str) -> Result<CaseView, CliError> {
    let typed = input.trim();
    match Reference::parse(typed) {
        Ok(r) => read.case_view(r.as_str())?.ok_or_else(|| {
            CliError::Reference(format!(
                "no case {r}: the reference is well-formed but not in the database (`mailcase cases` lists them)"
            ))
        }),
        Err(e) => {
            // A stored reference that does not follow today's check rule is still found.
            if let Some(v) = read.case_view(&normalise(typed))? {
                return Ok(v);
            }
            let why = match &e {
                ReferenceError::Check { .. } => "its check character does not match (a typo?)",
                ReferenceError::Shape(_) => "it is not shaped like CMP-7KQ4X-V",
            };
            let candidates = similar_references(typed, &read.references()?);
            Err(CliError::Reference(if candidates.is_empty() {
                format!("`{typed}` is not a valid reference: {why}; no case has a reference one typo away from it")
            } else {
                format!(
                    "`{typed}` is not a valid reference: {why}; {}",
                    did_you_mean(&candidates)
                )
            }))
        }
    }
}

/// Left-aligned columns two spaces apart, trailing blanks trimmed; control characters in
/// cells become spaces, so stored text cannot redraw the terminal. Shared by `cases` and
/// `report`.
pub fn aligned_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, v) in widths.iter_mut().zip(r) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = String>| {
        cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&mut header.iter().map(|h| clean(h)));
    out.push('\n');
    for r in rows {
        out.push_str(&line(&mut r.iter().map(|c| clean(c))));
        out.push('\n');
    }
    out
}

fn write_table(out: &mut dyn Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    out.write_all(aligned_table(header, rows).as_bytes())
}

/// The instant a command judges due times at (OVERDUE, missed targets): now, or, when the
/// last daemon on the database ran on a simulated clock (`run --clock-start`, the demo), the
/// time that clock last recorded: its cases were opened and promised in that time, and
/// today's date would make every one of them overdue.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedAt {
    pub at: chrono::DateTime<chrono::Utc>,
    /// The daemon's simulated clock, when `at` is its time.
    pub simulated: Option<SimulatedClock>,
}

impl JudgedAt {
    /// `real_now`, or the simulated clock the store holds.
    ///
    /// # Errors
    /// SQL errors.
    pub fn read(
        read: &Reader<'_>,
        real_now: chrono::DateTime<chrono::Utc>,
    ) -> Result<JudgedAt, StoreError> {
        Ok(match read.simulated_clock()? {
            Some(c) => JudgedAt {
                at: c.now,
                simulated: Some(c),
            },
            None => JudgedAt {
                at: real_now,
                simulated: None,
            },
        })
    }

    /// One line saying that times are judged at the simulated clock (None on the real one).
    pub fn note(&self) -> Option<String> {
        self.simulated.as_ref().map(|c| {
            format!(
                "due times judged at the daemon's simulated clock, {} UTC (run --clock-start {}, rate {}), not at today's date",
                c.now.format("%Y-%m-%d %H:%M"),
                c.started_at.format("%Y-%m-%dT%H:%M:%SZ"),
                c.rate
            )
        })
    }
}

/// A UTC time as people read it: `2026-11-23 10:00:05`.
fn short_utc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_in_a_reference_finds_the_case_meant() {
        let existing = vec!["CMP-7KQ4X-V".to_string(), "CMP-0A1B2-F".to_string()];
        for typed in [
            "CMP-7KQ4Y-V", // one symbol wrong
            "CMP-K7Q4X-V", // two neighbours swapped
            "cmp-7kq4x-n", // the check symbol wrong, lower case
            "CMP7KQ4XV",   // hyphens left out
            "CMP-7KQ4-V",  // a symbol left out
        ] {
            assert_eq!(
                similar_references(typed, &existing),
                vec!["CMP-7KQ4X-V"],
                "{typed}"
            );
        }
        assert!(similar_references("CMP-99999-9", &existing).is_empty());
    }

    /// A writer whose reader goes away after `accept` bytes, or that fails otherwise.
    struct Closing {
        accept: usize,
        written: Vec<u8>,
        kind: std::io::ErrorKind,
        calls_after: usize,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.written.len() >= self.accept {
                self.calls_after += 1;
                return Err(self.kind.into());
            }
            let n = buf.len().min(self.accept - self.written.len());
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_to_a_reader_that_went_away_is_discarded_without_an_error() {
        let mut out = PipeOut::new(Closing {
            accept: 6,
            written: Vec::new(),
            kind: std::io::ErrorKind::BrokenPipe,
            calls_after: 0,
        });
        writeln!(out, "first line").unwrap();
        assert!(out.reader_gone());
        for i in 0..100 {
            writeln!(out, "line {i}").unwrap();
        }
        out.flush().unwrap();
        assert_eq!(out.inner.written, b"first ");
        assert_eq!(
            out.inner.calls_after, 1,
            "nothing is tried after the pipe broke"
        );
    }

    #[test]
    fn other_output_errors_are_still_errors() {
        let mut out = PipeOut::new(Closing {
            accept: 0,
            written: Vec::new(),
            kind: std::io::ErrorKind::StorageFull,
            calls_after: 0,
        });
        let e = writeln!(out, "x").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        assert!(!out.reader_gone());
    }

    #[test]
    fn look_alike_letters_are_read_as_digits_after_the_prefix() {
        assert_eq!(normalise("cmp-lo0o0-x"), "CMP-10000-X");
        assert_eq!(normalise("sol-abcde-f"), "SOL-ABCDE-F");
    }
}

crate::shown_from!(CliError::Output(std::io::Error));
crate::shown_from!(CliError::Csv(csv::Error));
crate::shown_from!(CliError::Json(serde_json::Error));
