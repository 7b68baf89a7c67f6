//! mailcase turns a customer-support mailbox into tracked complaint cases.
//!
//! The pipeline, one module per stage (docs/design.md):
//!
//! ```text
//! ingest (IMAP: IDLE/poll, batched UID FETCH)       -- network
//!   -> parse    (raw bytes -> InboundMessage)        -- pure
//!   -> classify (robot? spam verdict? category, priority)   -- pure
//!   -> thread   (existing case or new one)           -- pure over store lookups
//!   -> pipeline (one store transaction: case, message, audit, outbox rows;
//!                dedupe by Message-ID with content, flood caps, loop guard)
//!   -> ingest   (UID MOVE to the processed folder, only after commit)
//! outbox (pending rows -> SMTP, retries with backoff)   -- network
//! scheduler (due timers, the retention purge and the management digest at each slot)
//! ```
//!
//! Every module, by what it holds:
//! - `ingest`: IMAP login, the mailbox lease, fetch, move after commit, IDLE, reconnects.
//! - `parse` (with `parse::quoted`, quoted history and signatures): raw bytes to
//!   `InboundMessage`; `authres`: our server's Authentication-Results.
//! - `classify`: robots, spam, category and priority, the complaint's language
//!   (`classify::language`); `thread`: which case, reply tokens, subjects.
//! - `case`: the domain's types and rules that need no I/O: references, the life cycle
//!   (`status`), the stored kinds (`kinds`), priority and category, service levels
//!   (`service_level`), agents' commands and what each does (`commands`), what a customer's
//!   reply means (`judge`).
//! - `pipeline`: the transaction per batch; `context` (sending and recording inside it),
//!   `customer` and `agent` (each side of the conversation), `dedupe`, `guards` (loops and
//!   floods), `timers` (the timer rules).
//! - `mail`: every mail the daemon sends, built once for the pipeline, the digest and
//!   `mailcase template preview`, in the reader's language; `locale`: the languages the
//!   templates folder ships and each one's words (dates, durations, promises, labels);
//!   `render`: tera, text and HTML parts, language folders with their fallback; `outbox`:
//!   composing with lettre, our SMTP client, the send loop.
//! - `business_time`: business-hour arithmetic, local time ranges, the send window;
//!   `scheduler`: sleeps until the next timer or slot.
//! - `store`: the system of record's API (per-table traits over the domain's types) and
//!   `store::sqlite`, the engine, the only module that touches SQLite.
//! - `records`: retention, legal hold, export, erasure; `report`: `mailcase report` and the
//!   digest.
//! - `config` (typed, parsed once) and `secret`; `clock`, the only reader of the time.
//! - `monitor`: what an operator sees of a running daemon, its heartbeat for `mailcase
//!   status` and its metrics (Prometheus text format on an optional loopback listener).
//! - `daemon::run(config, clock, shutdown, options)` wires the tasks; `cli` and `main.rs`
//!   are the command line; `logging` is the log output that never panics and caps other
//!   crates at info; `sd_notify` speaks systemd's notification protocol.
#![forbid(unsafe_code)]

/// `From` for an error variant whose message already shows the wrapped error: written by hand
/// rather than with thiserror's `#[from]`, which would also make it the variant's `source()`,
/// and a chain printed whole (`mailcase: {e:#}` in main.rs) would then say it twice. For the
/// same reason a field a message shows is called `error`, not `source` (which thiserror takes
/// as the source): an error either shows its cause or exposes it, never both.
macro_rules! shown_from {
    ($enum:ident :: $variant:ident ( $ty:ty )) => {
        impl From<$ty> for $enum {
            fn from(e: $ty) -> Self {
                $enum::$variant(e)
            }
        }
    };
}
pub(crate) use shown_from;

pub mod authres;
pub mod business_time;
pub mod case;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod ingest;
pub mod locale;
pub mod logging;
pub mod mail;
pub mod monitor;
pub mod outbox;
pub mod parse;
pub mod pipeline;
pub mod records;
pub mod render;
pub mod report;
pub mod scheduler;
pub mod sd_notify;
pub mod secret;
pub mod store;
pub mod thread;
pub mod tls;
