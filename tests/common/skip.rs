//! A check that cannot run on this machine says so where the person running the tests sees
//! it, and fails instead where it is required.
//!
//! libtest captures `println!` and `eprintln!` of passing tests, so a skip written that way
//! is seen only under `--nocapture`, and a test that skipped its work reads as a pass. This
//! writes to the process's standard error directly, which libtest does not capture, and
//! fails when the environment variable `require` is `1` (`.ci/run` sets them: in CI a
//! missing corpus or browser is a broken machine, not a reason to skip).

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

/// What this test process has already said it skipped: each is said once.
static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Reports the skip of `what` for `why` (once per test process), or panics when `require`=1
/// is set.
pub fn skipped(what: &str, why: &str, require: &str) {
    assert!(
        std::env::var_os(require).is_none_or(|v| v != "1"),
        "{require}=1 but {why}: {what} cannot run"
    );
    let mut said = SAID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !said
        .get_or_insert_with(HashSet::new)
        .insert(what.to_string())
    {
        return;
    }
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {what}: {why} (set {require}=1 to make this a failure)"
    );
}
