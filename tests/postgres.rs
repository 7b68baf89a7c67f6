//! Bad inputs and faults of the PostgreSQL store, on the real server: a wrong password or
//! database named by `mailcase check`, a server unreachable at start (waited for, systemd
//! not told the daemon is ready until it is reached), a schema newer than the program
//! (refused by the daemon and by `check`, the database left as it is).
//!
//! PostgreSQL only: each test says SKIPPED when the suite runs on SQLite.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn skipped() -> bool {
    if !mailcase::store::pg::testing::enabled() {
        eprintln!("SKIPPED: a PostgreSQL test (MAILCASE_TEST_PG_URL is not set)");
        return true;
    }
    false
}

fn check(w: &World) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .arg("check")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Replaces this world's `[store]` table by `f` of the test database's own lines.
fn set_store(w: &World, f: impl Fn(&str) -> String) {
    let text = std::fs::read_to_string(&w.config_path).unwrap();
    let pg = w.pg.as_ref().unwrap();
    let start = text.find("[store]\n").unwrap() + "[store]\n".len();
    let end = text[start..]
        .find("\n[")
        .map_or(text.len(), |i| start + i + 1);
    let new = format!("{}{}{}", &text[..start], f(&pg.toml()), &text[end..]);
    std::fs::write(&w.config_path, new).unwrap();
}

#[test]
fn check_names_the_database_and_what_the_server_said_of_a_wrong_password_or_database() {
    if skipped() {
        return;
    }
    let w = World::new("pgcheck", "");
    let pg = w.pg.clone().unwrap();
    let (ok, text) = check(&w);
    assert!(ok, "{text}");
    assert!(
        text.contains("ok (PostgreSQL, empty: the daemon creates the schema"),
        "{text}"
    );

    let wrong = w.dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    set_store(&w, |s| {
        s.replace(
            &pg.password_file.as_ref().unwrap().display().to_string(),
            &wrong.display().to_string(),
        )
    });
    let (ok, text) = check(&w);
    assert!(!ok, "{text}");
    let shown = pg.url.split('?').next().unwrap().to_string();
    assert!(text.contains(&shown), "the URL is named: {text}");
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        !text.contains("not-the-password"),
        "the password is never shown: {text}"
    );

    set_store(&w, |s| {
        s.replace(
            &wrong.display().to_string(),
            &pg.password_file.as_ref().unwrap().display().to_string(),
        )
        .replace(&pg.name, "no_such_database")
    });
    let (ok, text) = check(&w);
    assert!(!ok, "{text}");
    assert!(text.contains("no_such_database"), "{text}");
    assert!(text.contains("does not exist"), "{text}");

    // A password in the URL is refused before anything is sent, naming the key.
    set_store(&w, |s| {
        s.replace("postgres://mailcase@", "postgres://mailcase:secret@")
    });
    let (ok, text) = check(&w);
    assert!(!ok, "{text}");
    assert!(
        text.contains("store.url") && text.contains("holds a password"),
        "{text}"
    );
    assert!(!text.contains("secret@"), "{text}");
}

#[test]
fn a_schema_newer_than_the_program_stops_the_daemon_and_check_and_is_left_alone() {
    if skipped() {
        return;
    }
    let w = World::new("pgnewer", "");
    let pg = w.pg.clone().unwrap();
    drop(pg.open().unwrap());
    let c = pg.target().connect().unwrap();
    mailcase::store::pg::wait(c.batch_execute("UPDATE mailcase_schema SET version = 99")).unwrap();
    let (ok, text) = check(&w);
    assert!(!ok, "{text}");
    assert!(text.contains("schema version 99 is newer"), "{text}");
    // The daemon refuses to start (as a second, older daemon beside a newer one would), and
    // does not wait for it as for an unreachable server.
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .arg("run")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("schema version 99 is newer"), "{log}");
    let v: i64 = mailcase::store::pg::wait(c.query_one("SELECT version FROM mailcase_schema", &[]))
        .unwrap()
        .get(0);
    assert_eq!(v, 99, "left as it was");
}

/// Forwards connections from `listener` to `to`, byte for byte, both ways.
fn forward(listener: TcpListener, to: std::net::SocketAddr) {
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(to) else {
                continue;
            };
            for (mut a, mut b) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut a, &mut b);
                    let _ = b.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
}

#[test]
fn a_database_unreachable_at_start_is_waited_for_and_the_daemon_is_ready_only_once_reached() {
    if skipped() {
        return;
    }
    let w = World::new("pgwait", "");
    let pg = w.pg.clone().unwrap();
    let real: std::net::SocketAddr = {
        let hostport = pg.url.trim_start_matches("postgres://mailcase@");
        let hostport = hostport.split('/').next().unwrap();
        hostport.parse().unwrap()
    };
    // A port nobody listens on yet.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    set_store(&w, |s| {
        s.replace(&format!(":{}/", real.port()), &format!(":{port}/"))
    });
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("notify.sock");
    let notify = UnixDatagram::bind(&sock).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .arg("run")
        .env("NOTIFY_SOCKET", &sock)
        .env("MAILCASE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let l2 = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            l2.lock().unwrap().push(line);
        }
    });
    // Six seconds unreachable: retried with backoff, logged, the service manager told why
    // the start takes long, and never READY.
    let mut notes = Vec::new();
    let t0 = Instant::now();
    let mut buf = [0u8; 1024];
    while t0.elapsed() < Duration::from_secs(6) {
        if let Ok(n) = notify.recv(&mut buf) {
            notes.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "still running, waiting"
    );
    assert!(!notes.iter().any(|n| n.contains("READY=1")), "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("STATUS=waiting for the database")
                && n.contains("EXTEND_TIMEOUT_USEC=")),
        "{notes:?}"
    );
    let tries = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("database unreachable"))
        .count();
    assert!(
        (2..=4).contains(&tries),
        "retried with backoff (1 s, 2 s, 4 s): {tries} tries"
    );
    assert!(!log.lock().unwrap().iter().any(|l| l.contains(
        &std::fs::read_to_string(pg.password_file.as_ref().unwrap())
            .unwrap()
            .trim()
            .to_string()
    )));
    // The server becomes reachable: the daemon starts, and says it is ready.
    forward(TcpListener::bind(("127.0.0.1", port)).unwrap(), real);
    let t1 = Instant::now();
    let ready = loop {
        assert!(
            t1.elapsed() < Duration::from_secs(40),
            "never ready: {notes:?}\n{:?}",
            log.lock().unwrap()
        );
        if let Ok(n) = notify.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).to_string();
            if m.contains("READY=1") {
                break m;
            }
        }
    };
    assert!(ready.contains("STATUS=running"), "{ready}");
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("database reachable")));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let st = child.wait().unwrap();
    assert!(st.success(), "a clean stop: {st:?}");
}

#[test]
fn tls_to_the_database_is_verified_against_the_configured_ca() {
    if skipped() {
        return;
    }
    let w = World::new("pgtls", "");
    let pg = w.pg.clone().unwrap();
    let Some(ca) = pg.ca_file.clone() else {
        eprintln!("SKIPPED: the test server has no CA file (MAILCASE_TEST_PG_CA)");
        return;
    };
    // sslmode=require with the server's CA: TLS, verified.
    set_store(&w, |s| {
        s.replace(
            &format!("/{}\"", pg.name),
            &format!("/{}?sslmode=require\"", pg.name),
        )
    });
    let (ok, text) = check(&w);
    assert!(ok, "{text}");
    let store = mailcase::store::Store::open_configured(&w.config()).unwrap();
    drop(store);
    let c = pg.target().connect().unwrap();
    let ssl: bool = mailcase::store::pg::wait(c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    ))
    .unwrap()
    .get(0);
    assert!(ssl, "the test connection itself is TLS");
    // Without the CA the server's certificate is not trusted: refused, and said why.
    set_store(&w, |s| {
        s.replace(
            &format!("/{}\"", pg.name),
            &format!("/{}?sslmode=require\"", pg.name),
        )
        .replace(&format!("ca_file = \"{}\"\n", ca.display()), "")
    });
    let (ok, text) = check(&w);
    assert!(!ok, "{text}");
    assert!(
        text.contains("certificate") || text.contains("UnknownIssuer"),
        "{text}"
    );
}

/// The holder of the lease `name` in this world's database.
fn lease_holder(w: &World, name: &str) -> Option<String> {
    let s = mailcase::store::Store::open_read_only_configured(&w.config()).ok()?;
    let leases = s.read().leases().ok()?;
    leases
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.holder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_daemons_runs_the_scheduler_and_the_other_takes_it_over_when_it_dies() {
    if skipped() {
        return;
    }
    let w = World::new("pgsched", "");
    let mut a = w.spawn_binary();
    let first = wait_for("a scheduler lease", Duration::from_secs(60), || async {
        lease_holder(&w, mailcase::scheduler::SCHEDULER_LEASE)
    })
    .await;
    let mut b = w.spawn_binary();
    // Both run; one holds the scheduler, and keeps it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        lease_holder(&w, mailcase::scheduler::SCHEDULER_LEASE).as_deref(),
        Some(first.as_str())
    );
    assert!(first.starts_with(&format!("pid {} on ", a.id())), "{first}");
    // `status` names both: the one reading the mailbox first, the other as also running.
    let shown = wait_for(
        "both daemons in status",
        Duration::from_secs(30),
        || async {
            let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
                .arg("--config")
                .arg(&w.config_path)
                .arg("status")
                .output()
                .unwrap();
            let shown = String::from_utf8_lossy(&out.stdout).to_string();
            (shown.contains("Also running") && shown.contains(&format!("pid {} on ", b.id())))
                .then_some(shown)
        },
    )
    .await;
    assert!(
        shown.contains(&format!("running: pid {} on ", a.id())),
        "{shown}"
    );
    // Its holder dies: the other takes the timers, the purge and the digest over (at once on
    // the same machine, at its next try), and a complaint still gets its case and answer.
    a.kill().unwrap();
    a.wait().unwrap();
    let second = format!("pid {} on ", b.id());
    wait_for(
        "the other daemon takes the scheduler over",
        Duration::from_secs(30),
        || async {
            lease_holder(&w, mailcase::scheduler::SCHEDULER_LEASE)
                .filter(|h| h.starts_with(&second))
        },
    )
    .await;
    let jane = w.customer("jane");
    w.send_complaint(&jane, "Jane", "Broken", "It broke.").await;
    w.wait_for_acks(&jane).await;
    let status = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .arg("status")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("Scheduler") && l.contains("held by") && l.contains(&second)),
        "{shown}"
    );
    b.kill().unwrap();
    b.wait().unwrap();
}
