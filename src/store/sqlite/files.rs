//! What the SQLite engine keeps on disk, looked at from outside SQLite: whether `mailcase
//! check` will be able to create or open the database file, and whether any byte of an
//! erased address is left in the file, its write-ahead log or its shared-memory index.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::store::{Store, StoreError};

/// What `mailcase check` says about the configured database, without changing it: where a
/// missing one will be created (its folder must be writable), or that an existing one opens
/// for writing and has a schema this program reads.
///
/// # Errors
/// [`StoreError::Refused`] naming what is wrong; a schema newer than this program's.
pub fn check_database(config: &Config) -> Result<String, StoreError> {
    let db = config.db_path();
    let refused = |problem: String| StoreError::Refused {
        path: db.display().to_string(),
        problem,
    };
    match std::fs::metadata(&db) {
        // Missing, or a file where a folder above it should be (can_create_in says which).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            let dir = can_create_in(&db).map_err(|e| refused(format!("cannot be created: {e}")))?;
            Ok(format!(
                "database {}: will be created at first run (in {}, writable)",
                db.display(),
                dir.display()
            ))
        }
        Err(e) => Err(refused(format!("cannot be read: {e}"))),
        Ok(_) => {
            // The daemon opens it for writing (and creates -wal/-shm beside it).
            std::fs::OpenOptions::new()
                .write(true)
                .open(&db)
                .map_err(|e| refused(format!("cannot be opened for writing: {e}")))?;
            match Store::open_read_only(&db) {
                Ok(s) => Ok(format!(
                    "database {}: ok (schema v{})",
                    db.display(),
                    s.schema_version()?
                )),
                Err(StoreError::TooOld { found, known }) => Ok(format!(
                    "database {}: schema v{found}, upgraded to v{known} when the daemon starts",
                    db.display()
                )),
                Err(e) => Err(e),
            }
        }
    }
}

/// The nearest existing folder on the way to `db`, when this process can create files in it.
fn can_create_in(db: &Path) -> Result<PathBuf, String> {
    let mut dir = db.parent().map(PathBuf::from).unwrap_or_default();
    if dir.as_os_str().is_empty() {
        dir = PathBuf::from(".");
    }
    while !dir.exists() {
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => dir = PathBuf::from("."),
        }
    }
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let probe = dir.join(format!(".mailcase-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(dir)
}

/// Where a searched-for value was still found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The file (or, for another engine, the place) that holds it.
    pub place: String,
    pub offset: u64,
}

/// Searches the database file, its `-wal` and `-shm` for any of `needles`, comparing without
/// regard to ASCII case.
///
/// # Errors
/// [`StoreError::Refused`] when a file exists but cannot be read.
pub fn trace_on_disk(config: &Config, needles: &[String]) -> Result<Option<Trace>, StoreError> {
    let db = config.db_path();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        for n in needles {
            let found = file_contains_ci(&p, n.as_bytes()).map_err(|e| StoreError::Refused {
                path: p.display().to_string(),
                problem: format!("cannot read it: {e}"),
            })?;
            if let Some(offset) = found {
                return Ok(Some(Trace {
                    place: p.display().to_string(),
                    offset,
                }));
            }
        }
    }
    Ok(None)
}

/// The offset of the first occurrence of `needle` (lower-case ASCII) in the file, comparing
/// without regard to ASCII case; None also when the file does not exist.
///
/// # Errors
/// The file cannot be read.
pub fn file_contains_ci(path: &Path, needle: &[u8]) -> std::io::Result<Option<u64>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if needle.is_empty() {
        return Ok(None);
    }
    let needle = needle.to_ascii_lowercase();
    let mut buf = vec![0u8; 1 << 20];
    let mut carry: Vec<u8> = Vec::new();
    let mut offset: u64 = 0; // file offset of carry[0]
    loop {
        let n = f.read(&mut buf)?;
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
