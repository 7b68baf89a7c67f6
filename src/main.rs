//! The `mailcase` command line: run the daemon, check a config, deliver one message from an
//! MTA pipe, and look at cases.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use std::io::Write as _;

use anyhow::Context as _;
use clap::{CommandFactory as _, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use mailcase::cli::template::TemplateCommand;
use mailcase::cli::PipeOut;
use mailcase::clock::{SharedClock, SystemClock};
use mailcase::config::{Config, LogFormat};
use mailcase::logging::LogSink;
use mailcase::pipeline::{self, Engine, Inbound, Outcome};
use mailcase::records::cli as records;
use mailcase::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "mailcase",
    version,
    about = "Turns a customer-support mailbox into tracked complaint cases"
)]
struct Cli {
    /// Config file.
    #[arg(
        long,
        short,
        global = true,
        env = "MAILCASE_CONFIG",
        // Help shows `[env: MAILCASE_CONFIG]`, not the variable's current (often empty) value.
        hide_env_values = true,
        default_value = "/etc/mailcase/mailcase.toml"
    )]
    config: PathBuf,
    /// Log as JSON lines instead of text (overrides log.format).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: watch the mailbox, open cases, send acknowledgments.
    Run {
        /// Only send queued mail; do not read the mailbox (for `deliver` pipe setups).
        #[arg(long)]
        no_ingest: bool,
        /// For demos and trials only: start the daemon's clock at this instant (RFC 3339)
        /// instead of the real time.
        #[arg(long, value_name = "RFC3339")]
        clock_start: Option<String>,
        /// For demos and trials only: run the daemon's clock this many times faster than real
        /// time (3600: an hour a second), so follow-ups and SLA timers can be watched.
        #[arg(long, value_name = "FACTOR")]
        clock_rate: Option<f64>,
    },
    /// Validate the config, log in to IMAP and SMTP, render every template.
    Check {
        /// Skip the IMAP and SMTP logins (config and templates only).
        #[arg(long)]
        offline: bool,
    },
    /// Read one message on standard input and run it through the pipeline (MTA pipe).
    /// Exit 0 when stored, 75 on a transient failure (the MTA retries), 65 when it can never be stored.
    Deliver,
    /// List cases, filtered (--status, --category, --priority, --overdue, --customer, --since),
    /// as a table, --json or --csv.
    Cases(mailcase::cli::cases::CasesArgs),
    /// Show one case's whole timeline (--json), or print one of its raw messages (--raw N).
    Case(mailcase::cli::cases::CaseArgs),
    /// Work on templates: `template preview NAME --case REF [--html]`.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Put a case under legal hold (kept whatever the retention policy says), or release it.
    Hold {
        /// Reference, e.g. CMP-7KQ4X-V.
        reference: String,
        /// Why it is held (a dispute, a court order): recorded in the audit log.
        #[arg(long, required_unless_present = "release")]
        reason: Option<String>,
        /// Release the hold.
        #[arg(long, conflicts_with = "reason")]
        release: bool,
    },
    /// Let a case that was stopped as a mail loop relay again (see [loops] in the config).
    Resume {
        /// Reference, e.g. CMP-7KQ4X-V.
        reference: String,
    },
    /// Apply the retention policy ([retention]) now; the daemon also does this daily.
    Purge {
        /// Only list what would go: cases by reference, quarantined and raw messages.
        #[arg(long)]
        dry_run: bool,
        /// Judge ages as of this instant (RFC 3339) instead of now: to preview a later purge,
        /// or for trials on a demo clock.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Write everything stored about a person to a tar archive (data-protection access request).
    Export {
        /// Their e-mail address (any case).
        #[arg(long)]
        customer: String,
        /// The archive to write, e.g. jane.tar.
        #[arg(long, value_name = "FILE.tar")]
        out: PathBuf,
    },
    /// Erase everything about a person for good, keeping the counts (data-protection erasure).
    Erase {
        /// Their e-mail address (any case).
        #[arg(long)]
        customer: String,
    },
    /// Report a period: volumes, response and resolution times, SLA, escalations, ratings.
    Report(mailcase::report::cli::ReportArgs),
    /// Show whether the daemon runs, its last IMAP round and SMTP send, the INBOX backlog,
    /// the outbox, the quarantine, cases at risk and the last error. Exit 3 when no daemon runs.
    Status {
        /// Write it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move the installation from SQLite to PostgreSQL: copy every table, then verify the copy
    /// (row counts per table, a checksum per table and per case). Stop the daemon first: what
    /// it writes meanwhile would not be copied. Re-running is safe (rows already copied are
    /// skipped); nothing is deleted from either database. Exit 1 when the copy is refused or
    /// the verification finds a difference (the copy is then rolled back).
    Migrate {
        /// The SQLite database to copy: sqlite:PATH.
        #[arg(long, value_name = "sqlite:PATH")]
        from: String,
        /// The PostgreSQL database to fill (created tables, or an earlier run's):
        /// postgres:postgres://USER@HOST:PORT/DATABASE, without a password.
        #[arg(long, value_name = "postgres:URL")]
        to: String,
        /// A file holding the PostgreSQL password.
        #[arg(long, value_name = "FILE", group = "pg_password")]
        password_file: Option<PathBuf>,
        /// An environment variable holding the PostgreSQL password.
        #[arg(long, value_name = "VAR", group = "pg_password")]
        password_env: Option<String>,
        /// A systemd credential holding the PostgreSQL password ($CREDENTIALS_DIRECTORY, else
        /// the config's [service] credentials_dir).
        #[arg(long, value_name = "NAME", group = "pg_password")]
        password_credential: Option<String>,
        /// A CA certificate (PEM) to trust for the server's TLS certificate.
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Print the shell completion script for SHELL (the Debian package installs them).
    ///
    /// For example `mailcase completions bash > ~/.local/share/bash-completion/completions/mailcase`.
    Completions { shell: clap_complete::Shell },
    /// Write the man pages, mailcase.1 and one per subcommand, into DIR, made when missing
    /// (the Debian package installs them).
    Man {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

const EX_DATAERR: u8 = 65;
const EX_TEMPFAIL: u8 = 75;

/// The daemon's exit status when its log output broke (EX_IOERR, sysexits.h: "an error occurred
/// while doing I/O on some file"). Non-zero, so that systemd's `Restart=on-failure` starts it
/// again with a fresh journal stream; distinct from 1 (a config or start-up error) and from
/// 75, which `deliver` uses for "try again later", so `systemctl status` tells them apart.
const EX_IOERR: u8 = 74;

/// Installs the log subscriber (src/logging.rs): `MAILCASE_LOG`, else `[log] level`, else
/// `info`, with other crates capped at `info` whatever those say. Returns the output's handle,
/// which says when the output breaks.
fn init_logging(cfg: Option<&Config>, json: bool) -> LogSink {
    // As before: a MAILCASE_LOG that does not parse falls back to the config's level.
    let directives = std::env::var("MAILCASE_LOG")
        .ok()
        .filter(|d| tracing_subscriber::EnvFilter::try_new(d).is_ok())
        .or_else(|| cfg.and_then(|c| c.log.level.clone()))
        .unwrap_or_else(|| "info".into());
    let json = json || cfg.is_some_and(|c| c.log.format == LogFormat::Json);
    let sink = LogSink::stderr();
    mailcase::logging::install(&directives, json, sink.clone());
    sink
}

/// Prints a last word on standard error; when nobody reads it any more there is nothing to do
/// about that (`eprintln!` would panic).
fn say(msg: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// One malloc arena for the whole process. glibc gives each thread that allocates its own
/// arena (up to 8 per core), and the memory freed in each stays mapped: measured with the
/// benchmark's 1000 backlog, peak RSS was 37 MB with the default and 27 MB with one arena, at
/// the same speed (the threads of this daemon allocate little at the same time).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    // SAFETY: mallopt only sets an allocator parameter; it is called first thing in main,
    // before the runtime starts any thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    // Generated from the definitions above; no config, no runtime.
    match &cli.command {
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "mailcase", &mut script);
            return to_stdout(|o| Ok(o.write_all(&script)?))
                .map(|()| ExitCode::SUCCESS)
                .unwrap_or_else(failed);
        }
        Command::Man { dir } => {
            return std::fs::create_dir_all(dir)
                .map_err(anyhow::Error::from)
                .and_then(|()| Ok(clap_mangen::generate_to(Cli::command(), dir)?))
                .with_context(|| format!("writing man pages to {}", dir.display()))
                .map(|()| ExitCode::SUCCESS)
                .unwrap_or_else(failed);
        }
        Command::Migrate { .. } => return migrate(&cli).unwrap_or_else(failed),
        _ => {}
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        // The blocking work is short and of a few kinds (the ingest's commit and the parse
        // of its next batch, the outbox's and the scheduler's writes, the checkpointer):
        // four threads take turns at it.
        .max_blocking_threads(4)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say(format_args!("mailcase: cannot start runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let code = match &cli.command {
        Command::Deliver => rt.block_on(deliver(&cli)),
        Command::Run {
            no_ingest,
            clock_start,
            clock_rate,
        } => rt
            .block_on(run(&cli, *no_ingest, clock_start.as_deref(), *clock_rate))
            .unwrap_or_else(failed),
        Command::Status { json } => rt.block_on(status(&cli, *json)).unwrap_or_else(failed),
        _ => rt
            .block_on(dispatch(&cli))
            .map(|()| ExitCode::SUCCESS)
            .unwrap_or_else(failed),
    };
    // Dropping a runtime waits for every blocking task, however long: a commit stuck in
    // SQLite's busy handler or an abandoned one would hold the exit past the shutdown bound.
    // Whatever is still running here has been given up by the daemon's own grace period.
    rt.shutdown_timeout(RUNTIME_SHUTDOWN);
    code
}

/// How long the runtime's remaining tasks get once the command is done.
const RUNTIME_SHUTDOWN: Duration = Duration::from_millis(500);

fn failed(e: anyhow::Error) -> ExitCode {
    say(format_args!("mailcase: {e:#}"));
    ExitCode::FAILURE
}

async fn dispatch(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Check { offline } => check(cli, *offline).await,
        Command::Cases(a) => with_db(cli, |c, s, o| mailcase::cli::cases::list(c, s, a, now(), o)),
        Command::Case(a) => with_db(cli, |c, s, o| mailcase::cli::cases::show(c, s, a, now(), o)),
        Command::Template(TemplateCommand::Preview {
            name,
            case,
            html,
            language,
        }) => with_db(cli, |c, s, o| {
            mailcase::cli::template::preview(c, s, name, case, language.as_deref(), *html, o)
        }),
        Command::Hold {
            reference,
            reason,
            release,
        } => {
            let reason = reason.as_deref().filter(|_| !release);
            let cfg = Config::load(&cli.config)?;
            to_stdout(|o| Ok(records::hold(&cfg, reference, reason, o)?))
        }
        Command::Resume { reference } => {
            let cfg = Config::load(&cli.config)?;
            to_stdout(|o| Ok(records::resume(&cfg, reference, o)?))
        }
        Command::Purge { dry_run, at } => {
            let cfg = Config::load(&cli.config)?;
            to_stdout(|o| Ok(records::purge(&cfg, *dry_run, at.as_deref(), o)?))
        }
        Command::Export { customer, out } => {
            let cfg = Config::load(&cli.config)?;
            to_stdout(|o| Ok(records::export(&cfg, customer, out, o)?))
        }
        Command::Erase { customer } => {
            let cfg = Config::load(&cli.config)?;
            to_stdout(|o| Ok(records::erase(&cfg, customer, o)?))
        }
        Command::Report(args) => {
            to_stdout(|o| Ok(mailcase::report::cli::run(&cli.config, args, o)?))
        }
        Command::Deliver
        | Command::Run { .. }
        | Command::Status { .. }
        | Command::Completions { .. }
        | Command::Migrate { .. }
        | Command::Man { .. } => unreachable!("handled in main"),
    }
}

/// `mailcase migrate`: SQLite to PostgreSQL. Exit 0 only when the copy verified.
fn migrate(cli: &Cli) -> anyhow::Result<ExitCode> {
    use mailcase::secret::{read_key, Places, SecretSource};
    use mailcase::store::migrate;
    let Command::Migrate {
        from,
        to,
        password_file,
        password_env,
        password_credential,
        ca_file,
    } = &cli.command
    else {
        unreachable!("called for migrate")
    };
    let path = migrate::parse_from(from)?;
    let url = migrate::parse_to(to)?;
    let source = match (password_file, password_env, password_credential) {
        (Some(f), _, _) => Some(SecretSource::File(f.clone())),
        (_, Some(e), _) => Some(SecretSource::Env(e.clone())),
        (_, _, Some(c)) if c.is_empty() || c.contains('/') => {
            anyhow::bail!("--password-credential `{c}` must be a plain credential name")
        }
        (_, _, Some(c)) => Some(SecretSource::Credential(c.clone())),
        _ => None,
    };
    let here = std::env::current_dir().context("the current folder")?;
    // Credentials outside systemd: where the config says, when there is one.
    let places = Config::load(&cli.config)
        .map(|c| Places {
            base_dir: here.clone(),
            credentials_dir: c.secret_places().credentials_dir,
        })
        .unwrap_or_else(|_| Places {
            base_dir: here.clone(),
            credentials_dir: PathBuf::from("/etc/mailcase/credentials"),
        });
    let password = source
        .map(|s| read_key(&s, &places))
        .transpose()
        .context("the PostgreSQL password")?;
    let target = mailcase::store::pg::Target::new(
        &url,
        password.as_ref().map(|p| p.expose()),
        ca_file.as_deref(),
    )
    // Not the URL itself: it may hold the password Target::new refuses.
    .map_err(|e| {
        anyhow::anyhow!(
            "--to: {e} (here: --password-file, --password-env or --password-credential)"
        )
    })?
    .shared();
    say(format_args!(
        "mailcase migrate: the daemon must be stopped during the move (what it writes \
         meanwhile would not be copied)"
    ));
    let report = migrate::migrate(&path, target, &mut std::io::stderr())?;
    to_stdout(|o| Ok(report.print(o)?))?;
    Ok(if report.verified() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The daemon. Ends with success after SIGTERM or SIGINT, [`EX_IOERR`] when its log output
/// broke; either way what it held was finished first.
async fn run(
    cli: &Cli,
    no_ingest: bool,
    clock_start: Option<&str>,
    clock_rate: Option<f64>,
) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(&cli.config)?;
    let log = init_logging(Some(&cfg), cli.log_json);
    let shutdown = CancellationToken::new();
    let reload = Arc::new(tokio::sync::Notify::new());
    spawn_signals(shutdown.clone(), reload.clone())?;
    // Nobody reads the log any more: stop as on SIGTERM rather than run on blind.
    let (l, sd) = (log.clone(), shutdown.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = l.broken() => sd.cancel(),
            _ = sd.cancelled() => {}
        }
    });
    let exit_code = {
        let log = log.clone();
        move || {
            if log.is_broken() {
                EX_IOERR
            } else {
                0
            }
        }
    };
    hard_deadline(shutdown.clone(), exit_code.clone());
    let mut simulated = None;
    let clock: SharedClock = if clock_start.is_some() || clock_rate.is_some() {
        let start = match clock_start {
            Some(s) => chrono::DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("--clock-start `{s}` is not an RFC 3339 time"))?
                .with_timezone(&chrono::Utc),
            None => mailcase::clock::Clock::now(&SystemClock),
        };
        let rate = clock_rate.unwrap_or(1.0);
        if !(rate.is_finite() && rate > 0.0) {
            anyhow::bail!("--clock-rate must be a positive number");
        }
        tracing::warn!(start = %start, rate, "running on a demo clock, not the real time");
        simulated = Some(mailcase::daemon::SimulatedStart { start, rate });
        Arc::new(mailcase::clock::MovableClock::with_rate(start, rate))
    } else {
        Arc::new(SystemClock)
    };
    // systemd: READY=1 after the store is open and the first IMAP login succeeded; the
    // watchdog is fed by healthy rounds of the main loop only.
    let notifier = Arc::new(mailcase::sd_notify::Notifier::from_env());
    if let Some(w) = notifier.watchdog_interval() {
        for m in &cfg.mailboxes {
            if m.poll_interval.0 * 2 > w {
                tracing::warn!(
                    watchdog = ?w,
                    poll_interval = ?m.poll_interval.0,
                    "{}.poll_interval is more than half of WatchdogSec: a quiet mailbox may trip the watchdog",
                    m.path()
                );
            }
        }
    }
    let (n1, n2, n3) = (notifier.clone(), notifier.clone(), notifier.clone());
    let opts = mailcase::daemon::Options {
        config_path: Some(cli.config.clone()),
        reload: Some(reload),
        ingest: !no_ingest,
        on_ready: Some(Arc::new(move || n1.ready("running: watching the mailbox"))),
        on_healthy: Some(Arc::new(move || n2.healthy())),
        on_waiting: Some(Arc::new(move |s: &str| n3.waiting(s))),
        simulated_clock: simulated,
        ..Default::default()
    };
    let n3 = notifier.clone();
    let sd = shutdown.clone();
    tokio::spawn(async move {
        sd.cancelled().await;
        n3.stopping();
    });
    mailcase::daemon::run(Arc::new(cfg), clock, shutdown, opts).await?;
    Ok(ExitCode::from(exit_code()))
}

/// Ends the process [`mailcase::daemon::SHUTDOWN_GRACE`] after the shutdown began, whatever
/// still runs. `daemon::run` gives its tasks that long and then returns, but only if the
/// runtime still turns: a task that blocks both worker threads after the signal would keep it
/// from ever noticing, and so would a runtime drop waiting on a blocking thread. A plain thread
/// is outside the runtime. It logs nothing (a log write that blocks would hold the exit). The
/// exit status is the one the daemon would have ended with; the work abandoned is redone at
/// start (mail not committed is still in the INBOX).
fn hard_deadline(shutdown: CancellationToken, exit_code: impl Fn() -> u8 + Send + 'static) {
    tokio::spawn(async move {
        shutdown.cancelled().await;
        let spawned = std::thread::Builder::new()
            .name("shutdown-deadline".into())
            .spawn(move || {
                std::thread::sleep(mailcase::daemon::SHUTDOWN_GRACE);
                std::process::exit(i32::from(exit_code()))
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the shutdown deadline thread");
        }
    });
}

fn spawn_signals(
    shutdown: CancellationToken,
    reload: Arc<tokio::sync::Notify>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => { tracing::info!("SIGTERM received"); shutdown.cancel(); break; }
                _ = int.recv() => { tracing::info!("SIGINT received"); shutdown.cancel(); break; }
                _ = hup.recv() => { tracing::info!("SIGHUP received: reloading"); reload.notify_one(); }
            }
        }
    });
    Ok(())
}

async fn check(cli: &Cli, offline: bool) -> anyhow::Result<()> {
    let cfg = Arc::new(Config::load(&cli.config)?);
    // Unlocked: the lock is not held across the logins below.
    let mut out = PipeOut::new(std::io::stdout());
    writeln!(out, "config {}: ok", cli.config.display())?;
    let clock: SharedClock = Arc::new(SystemClock);
    // Building the engine compiles the rules and renders every template against a sample.
    let engine = Engine::new(cfg.clone(), clock)?;
    writeln!(
        out,
        "templates {}: ok ({})",
        cfg.templates_dir().display(),
        mailcase::mail::templates().collect::<Vec<_>>().join(", ")
    )?;
    // Each language, and the customer templates it takes from another language's folder.
    let own = |lang: &str| {
        mailcase::mail::templates()
            .filter(|t| *t == mailcase::mail::ACKNOWLEDGMENT || t.starts_with("customer_"))
            .filter(|t| lang != mailcase::locale::BASE && !engine.renderer.has_own(lang, t))
            .count()
    };
    writeln!(
        out,
        "languages: {} (customers without one of these get {}; agents read {})",
        engine
            .locales
            .languages()
            .map(|l| match own(l) {
                0 => l.to_string(),
                n => format!("{l} ({n} customer templates from {})", cfg.language.default),
            })
            .collect::<Vec<_>>()
            .join(", "),
        cfg.language.default,
        cfg.language.team
    )?;
    if cfg.has_queues() {
        for e in engine.queue_engines() {
            let q = &e.config;
            writeln!(
                out,
                "queue {}: {} (brand {}: \"{}\" <{}>, references {}-…{}, cards to {})",
                e.queue,
                cfg.queue(&e.queue)
                    .map(|q| q.addresses.join(", "))
                    .unwrap_or_default(),
                e.brand,
                q.support.name,
                q.support.address,
                q.support.reference_prefix,
                q.templates
                    .overlay
                    .as_ref()
                    .map(|d| format!(", templates {} over the shipped ones", d.display()))
                    .unwrap_or_default(),
                q.notify_addresses().join(", "),
            )?;
        }
    }
    if offline && cfg.store.engine == mailcase::config::StoreEngine::Postgres {
        // The URL and the password's source are checked; the server is not asked.
        let target = mailcase::store::pg_target(&cfg)?;
        writeln!(
            out,
            "database {target}: PostgreSQL, not reached (--offline)"
        )?;
    } else {
        writeln!(out, "{}", mailcase::store::check_database(&cfg)?)?;
    }
    if offline {
        return Ok(());
    }
    // Every login is tried whatever the others give: a line for each, on standard output
    // when it went well and on standard error with the reason when not.
    let mut failed = Vec::new();
    for m in &cfg.mailboxes {
        let imap = check_imap(&cfg, m).await;
        let imap_line = if cfg.mailboxes.len() > 1 {
            format!("imap {} ({}:{} as {})", m.label(), m.host, m.port, m.user)
        } else {
            format!("imap {}:{} as {}", m.host, m.port, m.user)
        };
        report_login(&mut out, &imap_line, &imap)?;
        if imap.is_err() {
            failed.push(if cfg.mailboxes.len() > 1 {
                format!("the IMAP login of mailbox {}", m.label())
            } else {
                "the IMAP login".to_string()
            });
        }
    }
    for a in &cfg.smtp_accounts {
        let smtp = check_smtp(&cfg, a).await;
        let several = cfg.smtp_accounts.len() > 1;
        let smtp_line = match (&a.name, several) {
            (Some(n), true) => format!("smtp {n} ({}:{})", a.host, a.port),
            _ => format!("smtp {}:{}", a.host, a.port),
        };
        report_login(&mut out, &smtp_line, &smtp)?;
        if smtp.is_err() {
            failed.push(match (&a.name, several) {
                (Some(n), true) => format!("the SMTP login of account {n}"),
                _ => "the SMTP login".to_string(),
            });
        }
    }
    match failed.len() {
        0 => Ok(()),
        1 => anyhow::bail!("check failed: {}", failed[0]),
        n => anyhow::bail!(
            "check failed: {} and {}",
            failed[..n - 1].join(", "),
            failed[n - 1]
        ),
    }
}

/// `what: ok (...)` on standard output, or `mailcase: what: FAILED: why` on standard error.
fn report_login(
    out: &mut impl std::io::Write,
    what: &str,
    result: &Result<String, String>,
) -> std::io::Result<()> {
    match result {
        Ok(ok) => writeln!(out, "{what}: {ok}"),
        Err(why) => {
            // The errors name the server themselves (`smtp host:port: ...`): once is enough.
            let why = why.strip_prefix(&format!("{what}: ")).unwrap_or(why);
            out.flush()?;
            say(format_args!("mailcase: {what}: FAILED: {why}"));
            Ok(())
        }
    }
}

/// Logs in to IMAP and selects the inbox: "ok (...)" or the reason it failed.
async fn check_imap(cfg: &Config, m: &mailcase::config::MailboxConfig) -> Result<String, String> {
    use mailcase::ingest::connect::imap_text;
    let mut s = mailcase::ingest::connect(cfg, m)
        .await
        .map_err(|e| e.to_string())?;
    let caps = s
        .capabilities()
        .await
        .map_err(|e| format!("imap: capabilities: {}", imap_text(&e)))?;
    let mb = s.select(&m.inbox).await.map_err(|e| {
        format!(
            "imap: cannot select {}.inbox `{}`: {}",
            m.path(),
            m.inbox,
            imap_text(&e)
        )
    })?;
    let _ = s.logout().await;
    Ok(format!(
        "ok ({} messages in {}; IDLE {}, MOVE {})",
        mb.exists,
        m.inbox,
        if caps.has_str("IDLE") { "yes" } else { "no" },
        if caps.has_str("MOVE") { "yes" } else { "no" },
    ))
}

/// Connects and logs in to SMTP: "ok (...)" or the reason it failed.
async fn check_smtp(cfg: &Config, a: &mailcase::config::SmtpConfig) -> Result<String, String> {
    let c = mailcase::outbox::Connection::open(cfg, a)
        .await
        .map_err(|e| e.to_string())?;
    let e = c.extensions();
    let ok = format!(
        "ok (PIPELINING {}, 8BITMIME {}, SMTPUTF8 {})",
        if e.pipelining { "yes" } else { "no" },
        if e.eight_bit { "yes" } else { "no" },
        if e.smtputf8 { "yes" } else { "no" },
    );
    c.quit().await;
    Ok(ok)
}

/// Where the daemon would create the database `db` (and the folders above it): the nearest
/// folder that exists, after writing and removing a probe file in it.
async fn deliver(cli: &Cli) -> ExitCode {
    let tempfail = |m: String| {
        eprintln!("mailcase deliver: {m}");
        ExitCode::from(EX_TEMPFAIL)
    };
    // A config error is the admin's to fix: defer, so the MTA keeps the message meanwhile.
    let cfg = match Config::load(&cli.config) {
        Ok(c) => Arc::new(c),
        Err(e) => return tempfail(e.to_string()),
    };
    init_logging(Some(&cfg), cli.log_json);
    // The largest any mailbox takes (a pipe delivery has no mailbox of its own).
    let max = cfg
        .mailboxes
        .iter()
        .map(|m| m.max_message_size.0)
        .max()
        .unwrap_or(u64::MAX);
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().take(max + 1).read_to_end(&mut raw) {
        return tempfail(format!("reading standard input: {e}"));
    }
    if raw.len() as u64 > max {
        eprintln!(
            "mailcase deliver: message larger than mailbox.max_message_size ({max} bytes); refused"
        );
        return ExitCode::from(EX_DATAERR);
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let engine = match Engine::new(cfg.clone(), clock) {
        Ok(e) => e,
        Err(e) => return tempfail(e.to_string()),
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut store = Store::open_configured(&cfg)?;
        pipeline::process_batch(&mut store, &engine, &[Inbound { source: None, raw }])
    })
    .await;
    match result {
        Ok(Ok(outcomes)) => {
            for o in &outcomes {
                match o {
                    Outcome::Quarantined { reason } => {
                        tracing::warn!(outcome = "quarantined", reason = %reason, "delivered message quarantined")
                    }
                    other => tracing::info!(outcome = %other, "delivered message processed"),
                }
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => tempfail(e.to_string()),
        Err(e) => tempfail(format!("internal error: {e}")),
    }
}

/// Runs a read-only command on the configured database, writing to standard output.
fn with_db(
    cli: &Cli,
    f: impl FnOnce(&Config, &Store, &mut dyn std::io::Write) -> Result<(), mailcase::cli::CliError>,
) -> anyhow::Result<()> {
    let cfg = Config::load(&cli.config)?;
    let store = mailcase::cli::open_store(&cfg)?;
    to_stdout(|o| Ok(f(&cfg, &store, o)?))
}

/// Runs a command writing to standard output; when the reader goes away (`| head -1`) the
/// rest of the output is discarded and the command still completes (see [`PipeOut`]).
fn to_stdout(f: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut out = PipeOut::new(std::io::stdout().lock());
    f(&mut out)?;
    out.flush().context("writing the output")?;
    Ok(())
}

/// `mailcase status`: exit 0 when a daemon runs, 3 (LSB "not running") when none does.
async fn status(cli: &Cli, json: bool) -> anyhow::Result<ExitCode> {
    let mut running = false;
    with_db(cli, |c, s, o| {
        running = mailcase::cli::status::status(c, s, json, now(), o)?;
        Ok(())
    })?;
    Ok(if running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(mailcase::cli::status::NOT_RUNNING)
    })
}

fn now() -> chrono::DateTime<chrono::Utc> {
    mailcase::clock::Clock::now(&SystemClock)
}
