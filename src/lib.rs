//! mailcase turns a customer-support mailbox into tracked complaint cases.
//!
//! The pipeline, one module per stage (docs/design.md):
//!
//! ```text
//! ingest (IMAP: IDLE/poll, batched UID FETCH)       -- network
//!   -> parse    (raw bytes -> InboundMessage)        -- pure
//!   -> classify (robot? spam verdict? category, priority)   -- pure
//!   -> thread   (existing case or new one)           -- pure over store lookups
//!   -> pipeline (one SQLite transaction: case, message, audit, outbox rows;
//!                dedupe by Message-ID with content, flood caps, loop guard)
//!   -> ingest   (UID MOVE to the processed folder, only after commit)
//! outbox (pending rows -> SMTP via lettre, retries with backoff)   -- network
//! records (retention purge, legal hold, data-protection export and erasure)
//! scheduler (due timers, and the management digest of `report` at each slot)
//! ```
//!
//! `store` is the only module that touches SQLite; `clock` the only one that reads the time.
//! `daemon::run(config, clock, shutdown, options)` wires the tasks; `main.rs` is the CLI;
//! `logging` is the log output that never panics and caps other crates at info.
#![forbid(unsafe_code)]

pub mod authres;
pub mod business_time;
pub mod case;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod ingest;
pub mod logging;
pub mod mail;
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
