//! The harness shared by the fuzz targets: the pure stages mailcase runs on every inbound
//! message, in the daemon's order, with the invariants they promise checked after each.
//!
//! The stages and checks live in `tests/harness/mod.rs`, included here by path (the tests
//! cannot depend on this crate, which needs nightly and libFuzzer); this file adds only the
//! panic hook the fuzz targets need.

use std::backtrace::Backtrace;
use std::collections::HashSet;
use std::sync::{Mutex, Once};

// The stages and invariants are the tests' harness, compiled into the fuzz crate too, so the
// fuzzer and `tests/fuzz_regressions.rs` check exactly the same things.
#[path = "../../tests/harness/mod.rs"]
mod harness;
pub use harness::*;

static HOOK: Once = Once::new();

/// libfuzzer-sys aborts on every panic, even one mailcase catches on purpose: `parse` runs
/// mail-parser inside `catch_unwind` and turns its panics into `ParseError::ParserFailure` (a
/// quarantine), as the daemon does. This hook lets panics raised inside mail-parser unwind to
/// that catch, printing each distinct place once with its backtrace (grep the log for
/// `mail-parser panicked`); every other panic keeps libfuzzer-sys's abort, so it is a crash.
/// A mail-parser panic outside mailcase's catch still reaches libfuzzer-sys's own
/// `catch_unwind` around the target, which aborts: a crash too.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let abort = std::panic::take_hook();
        let seen = Mutex::new(HashSet::new());
        std::panic::set_hook(Box::new(move |info| {
            let Some(place) = info
                .location()
                .filter(|l| l.file().contains("mail-parser-"))
                .map(|l| format!("{}:{}", l.file(), l.line()))
            else {
                return abort(info);
            };
            if seen.lock().is_ok_and(|mut s| s.insert(place)) {
                eprintln!(
                    "mail-parser panicked (mailcase's parse quarantines this as ParserFailure): {info}\n{}",
                    Backtrace::force_capture()
                );
            }
        }));
    });
}
