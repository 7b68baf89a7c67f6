//! The daemon's log output: a writer that never panics and says when its reader has gone, and
//! a cap on what other crates may log, whatever the admin's filter asks for.
//!
//! Why a writer of our own: tracing-subscriber's fmt layer reports a failed write with
//! `eprintln!`, which panics when stderr itself is the broken pipe (journald restarted, the
//! pipe's reader died). Every task then dies at its next log line, the signal task with them,
//! and the process lingers, taking no mail and ignoring SIGTERM. [`LogSink`] swallows the
//! error instead, discards later lines without touching the fd, and trips [`LogSink::broken`];
//! `main.rs` turns that into the SIGTERM path (finish what is held, exit 74 so that systemd's
//! `Restart=on-failure` starts a daemon with a fresh journal stream). A daemon that goes on
//! running with no log would hide every later failure from the admin.
//!
//! Why a cap the user cannot lift: the protocol libraries log wire data at debug and trace
//! (async-imap logs `LOGIN "user" "password"` and raw FETCH responses, lettre its SMTP
//! dialogue, rustls its handshakes), and `MAILCASE_LOG=trace` or `async_imap=trace` is a
//! documented, innocent-looking setting. [`below_the_cap`] is a second, separate filter on the
//! layer, so no directive of the `EnvFilter` can widen it: events of any crate but ours pass
//! at `info` and above only. It is a cap on every foreign target, not a list of known talkers,
//! so a new dependency that logs its wire at debug cannot slip through. Our own code keeps its
//! debug and trace lines, and never logs a secret or a body at any level (`secret::Secret`
//! prints `<redacted>`; ingest and outbox log outcomes and timings, not content).

use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;
use tracing::{Level, Metadata};

/// The crate whose events may go below `info` (the library and the binary share the name).
const OWN_TARGET: &str = "mailcase";

/// The most verbose level any other crate's events are written at.
pub const FOREIGN_CAP: Level = Level::INFO;

/// True when an event or span with this metadata may be written at all: ours at any level,
/// any other crate's at [`FOREIGN_CAP`] and above.
pub fn below_the_cap(meta: &Metadata<'_>) -> bool {
    is_own(meta.target()) || *meta.level() <= FOREIGN_CAP
}

fn is_own(target: &str) -> bool {
    target
        .strip_prefix(OWN_TARGET)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Where log lines go: a shared, cloneable handle (a `MakeWriter` for the fmt layer) that
/// writes each line whole and never fails or panics.
#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Inner>,
}

struct Inner {
    out: Mutex<Box<dyn Write + Send>>,
    broken: CancellationToken,
    /// True only for a stderr that is a terminal.
    colours: bool,
}

impl LogSink {
    /// Log lines to the process's standard error (the journal under systemd).
    /// Colours only when stderr is a terminal: the journal, a pipe or a log file would keep
    /// the escape codes.
    pub fn stderr() -> LogSink {
        LogSink::with_colours(std::io::stderr(), std::io::stderr().is_terminal())
    }

    /// Log lines to any writer (tests give one that fails), without colours.
    pub fn new(out: impl Write + Send + 'static) -> LogSink {
        LogSink::with_colours(out, false)
    }

    fn with_colours(out: impl Write + Send + 'static, colours: bool) -> LogSink {
        LogSink {
            inner: Arc::new(Inner {
                out: Mutex::new(Box::new(out)),
                broken: CancellationToken::new(),
                colours,
            }),
        }
    }

    /// True when lines may carry ANSI colour codes: only on a terminal.
    pub fn colours(&self) -> bool {
        self.inner.colours
    }

    /// True once a write failed: the output is gone and lines are being discarded.
    pub fn is_broken(&self) -> bool {
        self.inner.broken.is_cancelled()
    }

    /// Resolves once a write failed.
    pub async fn broken(&self) {
        self.inner.broken.cancelled().await
    }

    /// Writes one formatted line. A line the output would block on is dropped (the output is
    /// still there); any other error means nobody will read what we write from now on.
    fn write_line(&self, line: &[u8]) {
        if self.is_broken() {
            return;
        }
        // A poisoned lock only means another thread panicked mid-line: keep logging.
        let mut out = self.inner.out.lock().unwrap_or_else(|p| p.into_inner());
        let result = out.write_all(line).and_then(|()| out.flush());
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => self.inner.broken.cancel(),
        }
    }
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink")
            .field("broken", &self.is_broken())
            .field("colours", &self.colours())
            .finish()
    }
}

/// The writer of one event: the fmt layer formats a whole line and writes it in one call.
#[derive(Debug)]
pub struct LineWriter<'a> {
    sink: &'a LogSink,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink.write_line(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { sink: self }
    }
}

/// Installs the process's log subscriber: `directives` (an `EnvFilter` string from
/// `MAILCASE_LOG` or `[log] level`) under the [`below_the_cap`] cap, text or JSON lines, into
/// `sink`, colours only on a terminal. Returns false when a subscriber was already installed (tests install their own).
pub fn install(directives: &str, json: bool, sink: LogSink) -> bool {
    use tracing_subscriber::filter::FilterExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;

    let user = tracing_subscriber::EnvFilter::try_new(directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let filter = user.and(tracing_subscriber::filter::filter_fn(below_the_cap));
    // Colours only on a terminal: the journal and log files would keep the escape codes.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(sink.colours())
        .with_writer(sink)
        .log_internal_errors(false);
    let layer = if json {
        fmt.json().with_filter(filter).boxed()
    } else {
        fmt.with_filter(filter).boxed()
    };
    let installed = tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok();
    // Seen by whoever turned the level up and wonders where the libraries' lines went.
    tracing::trace!(
        directives,
        "logging: other crates are capped at {FOREIGN_CAP} (below it they log passwords and message bodies)"
    );
    installed
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    /// Accepts `accept` bytes, then fails every write with `kind`, counting the calls after.
    struct Failing {
        accept: usize,
        kind: std::io::ErrorKind,
        written: Arc<Mutex<Vec<u8>>>,
        calls_after: Arc<Mutex<usize>>,
    }

    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut w = self.written.lock().unwrap();
            if w.len() >= self.accept {
                *self.calls_after.lock().unwrap() += 1;
                return Err(self.kind.into());
            }
            let n = buf.len().min(self.accept - w.len());
            w.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    type Shared<T> = Arc<Mutex<T>>;

    /// A sink over [`Failing`], with what it accepted and how often it was called after.
    fn failing(
        accept: usize,
        kind: std::io::ErrorKind,
    ) -> (LogSink, Shared<Vec<u8>>, Shared<usize>) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let calls_after = Arc::new(Mutex::new(0));
        let sink = LogSink::new(Failing {
            accept,
            kind,
            written: written.clone(),
            calls_after: calls_after.clone(),
        });
        (sink, written, calls_after)
    }

    fn subscriber(sink: LogSink, directives: &str) -> impl tracing::Subscriber {
        use tracing_subscriber::filter::FilterExt as _;
        use tracing_subscriber::Layer as _;
        let filter = tracing_subscriber::EnvFilter::new(directives)
            .and(tracing_subscriber::filter::filter_fn(below_the_cap));
        tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_ansi(sink.colours())
                .with_writer(sink)
                .log_internal_errors(false)
                .with_filter(filter),
        )
    }

    #[test]
    fn a_broken_pipe_neither_panics_nor_retries_and_trips_the_sink() {
        let (sink, written, calls_after) = failing(10, std::io::ErrorKind::BrokenPipe);
        tracing::subscriber::with_default(subscriber(sink.clone(), "trace"), || {
            tracing::info!("first line, longer than ten bytes");
            assert!(sink.is_broken());
            for i in 0..100 {
                tracing::info!(i, "line after the reader went away");
            }
        });
        assert_eq!(written.lock().unwrap().len(), 10);
        assert_eq!(
            *calls_after.lock().unwrap(),
            1,
            "nothing is tried after the output broke"
        );
    }

    #[test]
    fn a_full_nonblocking_output_drops_the_line_and_keeps_going() {
        let (sink, _, _) = failing(0, std::io::ErrorKind::WouldBlock);
        tracing::subscriber::with_default(subscriber(sink.clone(), "info"), || {
            tracing::info!("dropped");
        });
        assert!(!sink.is_broken());
    }

    #[test]
    fn other_crates_stay_at_info_whatever_the_directives_say() {
        let (sink, written, _) = failing(usize::MAX, std::io::ErrorKind::BrokenPipe);
        let directives = "async_imap=trace,lettre=trace,rustls=trace,trace";
        tracing::subscriber::with_default(subscriber(sink, directives), || {
            tracing::trace!(target: "async_imap::client", "LOGIN \"u\" \"PASSWORD1\"");
            tracing::debug!(target: "lettre::transport::smtp", "AUTH PLAIN PASSWORD2");
            tracing::trace!(target: "mailcase_evil", "PASSWORD3");
            tracing::info!(target: "async_imap::client", "connected, no secret");
            tracing::trace!("our own trace line");
            tracing::trace!(target: "mailcase::ingest", "our own module's trace line");
        });
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        for secret in ["PASSWORD1", "PASSWORD2", "PASSWORD3"] {
            assert!(!text.contains(secret), "{secret} was logged:\n{text}");
        }
        assert!(text.contains("connected, no secret"), "{text}");
        assert!(text.contains("our own trace line"), "{text}");
        assert!(text.contains("our own module's trace line"), "{text}");
    }

    #[test]
    fn a_sink_that_is_not_a_terminal_gets_no_colours() {
        let (sink, written, _) = failing(usize::MAX, std::io::ErrorKind::BrokenPipe);
        assert!(!sink.colours());
        tracing::subscriber::with_default(subscriber(sink, "info"), || {
            tracing::warn!(field = 1, "a warning");
        });
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(text.contains("a warning"), "{text}");
        assert!(!text.contains('\x1b'), "{text:?}");
    }
}
