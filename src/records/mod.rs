//! Records management: how long personal data is kept, and what a person may ask
//! about theirs.
//!
//! - [`retention`]: the policy of `[retention]` (closed cases, quarantine, raw messages,
//!   mail of no case), applied daily by the daemon's scheduler and on demand by
//!   `mailcase purge`; cases under legal hold (`mailcase hold`) are always kept.
//! - [`export`]: `mailcase export --customer`: one tar archive with a JSON document of
//!   everything stored about an address, their raw messages as `.eml` and attachments as files.
//! - [`erase`]: `mailcase erase --customer`: the same data removed for good, counts kept,
//!   and the database file rewritten so no byte of it is left on disk.
//! - [`cli`]: the commands' output, so `main.rs` only parses and dispatches.
//!
//! The store does the SQL (`store::records`); these modules decide what goes and say what
//! went.

pub mod cli;
pub mod erase;
pub mod export;
pub mod retention;

use std::path::PathBuf;

use crate::store::StoreError;

/// Errors of the records commands.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The request cannot be carried out as asked; the message says why and what to do.
    #[error("{0}")]
    Refused(String),
}

impl RecordsError {
    fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> RecordsError + '_ {
        move |error| RecordsError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// An address as the store keeps it (trimmed, lower case), or why it is not one.
///
/// # Errors
/// [`RecordsError::Refused`] for something that is not an e-mail address.
pub fn normalize_address(address: &str) -> Result<String, RecordsError> {
    let a = address.trim().trim_start_matches('<').trim_end_matches('>');
    if crate::config::split_address(a).is_none() {
        return Err(RecordsError::Refused(format!(
            "`{address}` is not an e-mail address"
        )));
    }
    Ok(a.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_matched_in_lower_case_and_nonsense_is_refused() {
        assert_eq!(
            normalize_address(" <Jane.Doe@Example.ORG> ").unwrap(),
            "jane.doe@example.org"
        );
        assert!(normalize_address("jane").is_err());
        assert!(normalize_address("a b@c.d").is_err());
    }
}
