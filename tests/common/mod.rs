//! Shared harness for integration tests: the real Dovecot + Postfix from
//! `tests/mailserver/up.sh`, a fresh support mailbox per test, a config for it, and helpers to
//! send mail as a customer and read what customers received.
#![allow(dead_code)]

pub mod replies;
pub mod skip;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::net::TcpStream;

use mailcase::clock::{MovableClock, SharedClock, SystemClock};
use mailcase::config::Config;
use mailcase::parse::{parse, InboundMessage, ParseLimits};
use mailcase::store::Store;
use tokio_util::sync::CancellationToken;

/// Ports and password of the running mail servers.
#[derive(Debug, Clone)]
pub struct MailEnv {
    pub imap_port: u16,
    pub smtp_port: u16,
    /// Postfix's submission port (AUTH required).
    pub submission_port: u16,
    pub password: String,
    pub dir: PathBuf,
}

/// Two agents, Ann and Bob (`@ANN@`, `@BOB@` are replaced by `World::new`).
#[allow(dead_code)]
pub const ANN_AND_BOB: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"

[[agents.members]]
address = "@BOB@"
name = "Bob Agent"
"#;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts (or finds running) the real servers; once per test process.
pub fn mailenv() -> &'static MailEnv {
    static ENV: OnceLock<MailEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        let out = Command::new(repo().join("tests/mailserver/up.sh"))
            .output()
            .expect("run tests/mailserver/up.sh");
        assert!(
            out.status.success(),
            "tests/mailserver/up.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let vars: HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect();
        let get = |k: &str| {
            vars.get(k)
                .cloned()
                .unwrap_or_else(|| panic!("up.sh did not print {k}"))
        };
        MailEnv {
            imap_port: get("MAILENV_IMAP_PORT").parse().expect("imap port"),
            smtp_port: get("MAILENV_SMTP_PORT").parse().expect("smtp port"),
            submission_port: get("MAILENV_SUBMISSION_PORT")
                .parse()
                .expect("submission port"),
            password: get("MAILENV_PASSWORD"),
            dir: PathBuf::from(get("MAILENV_DIR")),
        }
    })
}

/// Every test customer writes from `customer.test`, so the flood caps by domain would count
/// a whole test's customers as one flood: tests that do not set them lift them (the flood
/// tests set them).
pub fn lift_domain_caps(extra: &str) -> String {
    let mut lines = String::new();
    if !extra.contains("new_cases_per_text_per_hour") {
        lines.push_str("new_cases_per_text_per_hour = 1000000\n");
    }
    if !extra.contains("new_cases_per_domain_per_hour") {
        lines.push_str("new_cases_per_domain_per_hour = 0\n");
    }
    match extra.find("[limits]\n") {
        Some(i) => {
            let at = i + "[limits]\n".len();
            format!("{}{lines}{}", &extra[..at], &extra[at..])
        }
        None => format!("{extra}\n[limits]\n{lines}"),
    }
}

/// A unique token for this test's addresses.
pub fn unique(name: &str) -> String {
    use rand::Rng;
    let n: u32 = rand::thread_rng().gen_range(0..1_000_000);
    format!("{}-{}-{n:06}", name.replace('_', "-"), std::process::id())
}

/// Ten random lower-case letters and digits: short enough for a support address that must
/// still carry a reply token within RFC 5321's 64-character local part.
pub fn short_id() -> String {
    use rand::Rng;
    let mut r = rand::thread_rng();
    (0..10)
        .map(|_| b"0123456789abcdefghjkmnpqrstvwxyz"[r.gen_range(0..32)] as char)
        .collect()
}

/// One test's world: its support mailbox, its two agents, config, database.
pub struct World {
    pub tag: String,
    pub support: String,
    /// Agent addresses of this test (`@ANN@`, `@BOB@` in `extra` config).
    pub ann: String,
    pub bob: String,
    /// The escalation contact of this test (`@MANAGER@`).
    pub manager: String,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub env: MailEnv,
    /// The test's PostgreSQL database when the suite runs on PostgreSQL
    /// (`MAILCASE_TEST_PG_URL`), else None: SQLite, `mailcase.db` in `dir`.
    pub pg: Option<mailcase::store::pg::testing::TestDb>,
}

impl Drop for World {
    /// The test's PostgreSQL database goes with it (its daemons have stopped or are killed).
    fn drop(&mut self) {
        if let Some(pg) = &self.pg {
            pg.drop_database();
        }
    }
}

/// True (and says so) when the suite runs on PostgreSQL and this test is about SQLite's
/// own file (its path, size cap, bytes on disk): the caller returns.
pub fn sqlite_only(what: &str) -> bool {
    if mailcase::store::pg::testing::enabled() {
        eprintln!("SKIPPED on PostgreSQL: {what} is SQLite's own");
        return true;
    }
    false
}

impl World {
    /// A new support mailbox `support-<id>@support.test` and a config for it; `extra` is
    /// appended to the config (TOML) to change settings (`@ANN@`, `@BOB@`, `@SUPPORT@` are
    /// replaced there too).
    pub fn new(name: &str, extra: &str) -> World {
        let env = mailenv().clone();
        let tag = unique(name);
        let id = short_id();
        let support = format!("support-{id}@support.test");
        let ann = format!("ann-{id}@support.test");
        let bob = format!("bob-{id}@support.test");
        let manager = format!("mgr-{id}@support.test");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("imap-password"),
            format!("{}\n", env.password),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("token.key"),
            format!("{}{}\n", short_id(), tag),
        )
        .unwrap();
        let base = std::fs::read_to_string(repo().join("tests/fixtures/config/integration.toml"))
            .expect("integration config");
        let text = (base + "\n" + &lift_domain_caps(extra))
            .replace("@IMAP_PORT@", &env.imap_port.to_string())
            .replace("@SMTP_PORT@", &env.smtp_port.to_string())
            .replace("@SUPPORT@", &support)
            .replace("@ANN@", &ann)
            .replace("@BOB@", &bob)
            .replace("@MANAGER@", &manager)
            .replace(
                "@TEMPLATES@",
                &repo().join("templates").display().to_string(),
            );
        let pg = mailcase::store::pg::testing::create();
        let text = match &pg {
            Some(db) => {
                let sqlite = "[store]\npath = \"mailcase.db\"\n";
                assert!(
                    text.contains(sqlite),
                    "the test config has the SQLite store"
                );
                text.replace(sqlite, &format!("[store]\n{}", db.toml()))
            }
            None => text,
        };
        let config_path = dir.path().join("mailcase.toml");
        std::fs::write(&config_path, text).unwrap();
        World {
            pg,
            tag,
            support,
            ann,
            bob,
            manager,
            dir,
            config_path,
            env,
        }
    }

    pub fn config(&self) -> Config {
        Config::load(&self.config_path).expect("valid test config")
    }

    /// The pipeline's engine (system clock) and a writable store of this world's config, for
    /// tests that call `process_batch` without a daemon.
    pub fn engine_and_store(&self) -> (mailcase::pipeline::Engine, Store) {
        let cfg = Arc::new(self.config());
        let clock: SharedClock = Arc::new(SystemClock);
        let engine = mailcase::pipeline::Engine::new(cfg.clone(), clock).expect("engine");
        let store = Store::open_configured(&cfg).expect("store");
        (engine, store)
    }

    /// The case of a customer (the first found), from the database.
    pub fn case_of(&self, customer: &str) -> mailcase::store::CaseRow {
        self.find_case_of(customer).expect("case of the customer")
    }

    /// The first case whose customer is `customer`, if any.
    pub fn find_case_of(&self, customer: &str) -> Option<mailcase::store::CaseRow> {
        self.store()
            .read()
            .cases()
            .unwrap()
            .into_iter()
            .find(|c| c.customer_address == customer)
    }

    /// Waits (60 s at most) for a case whose customer is `customer`.
    pub async fn wait_for_case_of(&self, customer: &str) -> mailcase::store::CaseRow {
        wait_for(
            &format!("a case of {customer}"),
            Duration::from_secs(60),
            || async { self.find_case_of(customer) },
        )
        .await
    }

    /// A customer address unique to this test.
    pub fn customer(&self, who: &str) -> String {
        format!("{who}-{}@customer.test", self.tag)
    }

    pub fn db_path(&self) -> PathBuf {
        self.config().db_path()
    }

    /// Read-only view of the database, once the daemon has created and migrated it.
    pub fn store(&self) -> Store {
        let cfg = self.config();
        let start = Instant::now();
        loop {
            match Store::open_read_only_configured(&cfg) {
                Ok(s) if s.read().counts().is_ok() => return s,
                Ok(_) | Err(_) if start.elapsed() < Duration::from_secs(20) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(_) => panic!("database {} has no tables", mailcase::store::describe(&cfg)),
                Err(e) => panic!("open db: {e}"),
            }
        }
    }

    /// Starts the daemon in this process.
    pub fn start(&self) -> Daemon {
        let cfg = Arc::new(self.config());
        let shutdown = CancellationToken::new();
        let clock: SharedClock = Arc::new(SystemClock);
        let sd = shutdown.clone();
        let handle = tokio::spawn(async move {
            mailcase::daemon::run(cfg, clock, sd, Default::default())
                .await
                .expect("daemon runs");
        });
        Daemon { shutdown, handle }
    }

    /// Starts the daemon in this process on a movable clock that reads `start` now; returns
    /// the clock and the scheduler's wake-up (notify it after moving the clock).
    pub fn start_at(
        &self,
        start: chrono::DateTime<chrono::Utc>,
    ) -> (Daemon, Arc<MovableClock>, Arc<tokio::sync::Notify>) {
        let clock = Arc::new(MovableClock::starting_at(start));
        let wake = Arc::new(tokio::sync::Notify::new());
        let d = self.start_with(clock.clone(), wake.clone());
        (d, clock, wake)
    }

    /// Starts the daemon in this process with this clock and scheduler wake-up.
    pub fn start_with(&self, clock: Arc<MovableClock>, wake: Arc<tokio::sync::Notify>) -> Daemon {
        let cfg = Arc::new(self.config());
        let shutdown = CancellationToken::new();
        let sd = shutdown.clone();
        let shared: SharedClock = clock;
        let opts = mailcase::daemon::Options {
            scheduler_wake: Some(wake),
            ..Default::default()
        };
        let handle = tokio::spawn(async move {
            mailcase::daemon::run(cfg, shared, sd, opts)
                .await
                .expect("daemon runs");
        });
        Daemon { shutdown, handle }
    }

    /// The real `mailcase run` command for this world, logging at `log_level`, with no
    /// standard input or output; the caller decides where the log goes.
    pub fn daemon_command(&self, log_level: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailcase"));
        c.arg("--config")
            .arg(&self.config_path)
            .arg("run")
            .env("MAILCASE_LOG", log_level)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        c
    }

    /// Starts the real `mailcase run` binary (for kill -9 tests).
    pub fn spawn_binary(&self) -> std::process::Child {
        self.daemon_command("warn")
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn mailcase")
    }

    /// Starts the real binary with its log in the file `log` (read it back with
    /// `std::fs::read_to_string`).
    pub fn spawn_logged(&self, log_level: &str, log: &std::path::Path) -> std::process::Child {
        self.daemon_command(log_level)
            .stderr(std::fs::File::create(log).expect("create the log file"))
            .spawn()
            .expect("spawn mailcase")
    }

    /// Cases in the database now; 0 while the daemon has not created it yet.
    pub fn cases_now(&self) -> i64 {
        Store::open_read_only_configured(&self.config())
            .ok()
            .and_then(|s| s.read().counts().ok())
            .map(|c| c.cases)
            .unwrap_or(0)
    }

    /// Appends `n` complaints of customers `<prefix><i>` straight into the support INBOX (as
    /// a backlog waiting for the daemon); returns the customers.
    pub async fn append_complaints(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut customers = Vec::new();
        for i in 0..n {
            let c = self.customer(&format!("{prefix}{i}"));
            let raw = format!(
                "From: Customer {i} <{c}>\r\nTo: {}\r\nSubject: complaint {i}\r\nMessage-ID: <{prefix}{i}.{}@customer.test>\r\n\r\nThing {i} is broken.\r\n",
                self.support, self.tag
            );
            self.append(raw.as_bytes()).await;
            customers.push(c);
        }
        customers
    }

    /// Sends raw mail through Postfix, as a customer's server would.
    pub async fn send_raw(&self, from: &str, to: &str, raw: &[u8]) {
        let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.env.smtp_port)
            .build();
        let env = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        t.send_raw(&env, raw)
            .await
            .expect("postfix accepts the message");
    }

    /// Sends raw mail with the null envelope sender `<>`, as a bounce arrives.
    pub async fn send_raw_null_sender(&self, to: &str, raw: &[u8]) {
        let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.env.smtp_port)
            .build();
        let env = Envelope::new(None, vec![to.parse().unwrap()]).unwrap();
        t.send_raw(&env, raw)
            .await
            .expect("postfix accepts the bounce");
    }

    /// A simple complaint from `from` to the support address.
    pub async fn send_complaint(
        &self,
        from: &str,
        name: &str,
        subject: &str,
        body: &str,
    ) -> String {
        let id = format!("{}.{}@customer.test", unique("c"), rand_u32());
        let raw = format!(
            "From: {name} <{from}>\r\nTo: Support <{}>\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
            self.support
        );
        self.send_raw(from, &self.support, raw.as_bytes()).await;
        id
    }

    /// Appends raw bytes straight into the support INBOX (bypassing Postfix).
    pub async fn append(&self, raw: &[u8]) {
        let mut s = imap_login(&self.support, &self.env).await;
        s.append("INBOX", None, None, raw).await.expect("append");
        let _ = s.logout().await;
    }

    /// Waits until `customer` has mail in their INBOX (our acknowledgment) and returns it all.
    pub async fn wait_for_acks(&self, customer: &str) -> Vec<InboundMessage> {
        wait_for(
            &format!("mail in {customer}'s INBOX"),
            Duration::from_secs(60),
            || async {
                let a = self.mailbox(customer, "INBOX").await;
                (!a.is_empty()).then_some(a)
            },
        )
        .await
    }

    /// Waits until the support INBOX is empty: every message of it was taken in and moved
    /// (after its batch committed, which can be after a later message's acknowledgment).
    pub async fn wait_inbox_empty(&self) {
        wait_for(
            "an empty support INBOX",
            Duration::from_secs(60),
            || async {
                read_raw(&self.support, "INBOX", &self.env)
                    .await
                    .is_empty()
                    .then_some(())
            },
        )
        .await
    }

    /// Every message in a folder of `user`'s mailbox, parsed.
    pub async fn mailbox(&self, user: &str, folder: &str) -> Vec<InboundMessage> {
        read_folder(user, folder, &self.env).await
    }
}

/// The HTML part of a raw message (empty without one).
#[allow(dead_code)]
pub fn html_of(raw: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse(raw)
        .and_then(|m| m.body_html(0).map(|h| h.to_string()))
        .unwrap_or_default()
}

pub fn rand_u32() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen()
}

/// A running in-process daemon.
pub struct Daemon {
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<()>,
}

impl Daemon {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(40), self.handle)
            .await
            .expect("daemon stops within 40s")
            .expect("daemon task did not panic");
    }
}

pub type Session = async_imap::Session<TcpStream>;

pub async fn imap_login(user: &str, env: &MailEnv) -> Session {
    let tcp = TcpStream::connect(("127.0.0.1", env.imap_port))
        .await
        .expect("imap connect");
    let mut c = async_imap::Client::new(tcp);
    c.read_response().await.expect("greeting");
    c.login(user, &env.password)
        .await
        .map_err(|(e, _)| e)
        .expect("imap login")
}

/// Raw bytes of every message in a folder (empty when the folder does not exist).
pub async fn read_raw(user: &str, folder: &str, env: &MailEnv) -> Vec<Vec<u8>> {
    let mut s = imap_login(user, env).await;
    let out = match s.examine(folder).await {
        Ok(mb) if mb.exists > 0 => {
            let st = s.fetch("1:*", "BODY.PEEK[]").await.expect("fetch");
            let f: Vec<_> = st.try_collect().await.expect("fetch stream");
            f.iter()
                .filter_map(|m| m.body().map(|b| b.to_vec()))
                .collect()
        }
        _ => Vec::new(),
    };
    let _ = s.logout().await;
    out
}

pub async fn read_folder(user: &str, folder: &str, env: &MailEnv) -> Vec<InboundMessage> {
    read_raw(user, folder, env)
        .await
        .iter()
        .map(|r| parse(r, &ParseLimits::default()).expect("our test mail parses"))
        .collect()
}

/// A mailbox's INBOX read as a mail client does, message by message: each call of
/// [`NewMail::next_batch`] returns what arrived since the last one, oldest first (the
/// auto-responders of the loop tests answer each such message).
pub struct NewMail {
    session: Session,
    seen: std::collections::HashSet<u32>,
}

impl NewMail {
    /// Logs in as `user` and selects the INBOX; every message already there counts as new.
    pub async fn open(user: &str, env: &MailEnv) -> NewMail {
        let mut session = imap_login(user, env).await;
        session.select("INBOX").await.expect("select INBOX");
        NewMail {
            session,
            seen: Default::default(),
        }
    }

    /// The messages that arrived since the last call, parsed.
    pub async fn next_batch(&mut self) -> Vec<InboundMessage> {
        self.session.noop().await.expect("noop");
        let mut new: Vec<u32> = self
            .session
            .uid_search("ALL")
            .await
            .expect("uid search")
            .into_iter()
            .filter(|u| !self.seen.contains(u))
            .collect();
        new.sort_unstable();
        let mut out = Vec::new();
        for uid in new {
            self.seen.insert(uid);
            let fetched: Vec<_> = self
                .session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await
                .expect("uid fetch")
                .try_collect()
                .await
                .expect("fetch stream");
            if let Some(raw) = fetched.iter().find_map(|f| f.body()) {
                out.push(parse(raw, &ParseLimits::default()).expect("our test mail parses"));
            }
        }
        out
    }

    pub async fn close(mut self) {
        let _ = self.session.logout().await;
    }
}

/// Polls `f` until it returns Some or the time is up.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Monday 23 November 2026, 10:00 in Berlin (the tests' business time zone).
pub fn monday_10() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Moves a daemon's clock and wakes its scheduler, then gives the round time to run.
pub async fn jump(
    clock: &mailcase::clock::MovableClock,
    wake: &tokio::sync::Notify,
    by: chrono::Duration,
) {
    clock.advance(by);
    wake.notify_one();
    // Let the scheduler run its round before the test looks.
    tokio::time::sleep(Duration::from_millis(300)).await;
}
