//! The daemon's log output, with the real binary on the real servers: when whatever reads its
//! stderr goes away it stops as on SIGTERM and exits 74 for systemd to restart it, losing no
//! mail; SIGTERM ends it within the shutdown grace; and at trace level, whatever MAILCASE_LOG
//! says, no password, SMTP AUTH string or message body reaches the log.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;

/// The daemon's exit status when its log output broke (sysexits EX_IOERR).
const EX_IOERR: i32 = 74;

/// Waits for the process to exit by itself, `within` at most; kills it and fails otherwise.
async fn exits_within(child: &mut Child, within: Duration, what: &str) -> (ExitStatus, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return (st, t0.elapsed());
        }
        if t0.elapsed() > within {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {within:?} (killed)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success(), "kill -{sig}");
}

/// Stops a daemon that is still running, so a failed test leaves no process behind.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_log_pipe_ends_the_daemon_for_systemd_to_restart_and_loses_no_mail() {
    let w = World::new("log_pipe", "");
    let mut child = w
        .daemon_command("info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the log until the daemon is logged in to IMAP, then close the pipe's read end, as
    // a restarted journald does.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stderr);
        let mut line = String::new();
        let mut all = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            all.push_str(&line);
            if line.contains("ingest: logged in") {
                break;
            }
            line.clear();
        }
        // Dropping the reader closes the last read end of the pipe.
        drop(r);
        let _ = tx.send((line, all));
    });
    let (first, all) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the daemon logs its IMAP login");
    assert!(first.contains("logged in"), "{first}");
    // A pipe gets no colours (src/logging.rs: only a terminal does).
    assert!(
        !all.contains("\x1b["),
        "ANSI escape codes in the piped log:\n{all}"
    );

    // A complaint arrives: the daemon takes it in, its next log line fails, and it stops.
    let jane = w.customer("jane");
    let t0 = Instant::now();
    w.send_complaint(&jane, "Jane", "Broken kettle", "The kettle leaks.")
        .await;
    let (status, _) = exits_within(
        &mut child,
        Duration::from_secs(30),
        "the daemon whose log pipe closed",
    )
    .await;
    let took = t0.elapsed();
    println!("LOGPIPE exited {status:?} {took:?} after the complaint was sent");
    assert_eq!(
        status.code(),
        Some(EX_IOERR),
        "a broken log exits 74 for Restart=on-failure: {status:?}"
    );

    // systemd starts it again (here with the log in a file): the complaint gets its case and
    // its acknowledgment, once.
    let log = w.dir.path().join("restarted.log");
    let _again = Reaper(Some(w.spawn_logged("info", &log)));
    let acks = w.wait_for_acks(&jane).await;
    let case = w.wait_for_case_of(&jane).await;
    assert_eq!(w.cases_now(), 1, "one case, not two");
    assert_eq!(acks.len(), 1, "one acknowledgment");
    assert!(
        acks[0].subject.contains(case.reference.as_str()),
        "the acknowledgment names the case: {}",
        acks[0].subject
    );
    assert!(
        read_raw(&w.support, "INBOX", &w.env).await.is_empty(),
        "nothing left behind in the INBOX"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_mail_is_flowing_ends_the_daemon_within_the_shutdown_grace() {
    let w = World::new("log_sigterm", "");
    let log = w.dir.path().join("daemon.log");
    let mut child = Reaper(Some(w.spawn_logged("debug", &log)));
    // Complaints keep arriving while the daemon takes them in; SIGTERM lands mid-flow.
    let n = 120;
    let customers: Vec<String> = (0..n).map(|i| w.customer(&format!("t{i}"))).collect();
    let send = async {
        for (i, c) in customers.iter().enumerate() {
            w.send_complaint(c, "T", &format!("Complaint {i}"), "Something broke.")
                .await;
        }
    };
    let stop = async {
        wait_for("the first cases", Duration::from_secs(60), || async {
            (w.cases_now() >= 5).then_some(())
        })
        .await;
        let c = child.0.as_mut().unwrap();
        signal(c, "TERM");
        exits_within(
            c,
            mailcase::daemon::SHUTDOWN_GRACE + Duration::from_secs(1),
            "the daemon after SIGTERM",
        )
        .await
    };
    let ((), (status, took)) = tokio::join!(send, stop);
    child.0 = None;
    println!(
        "SIGTERM exited {status:?} after {took:?} with {} of {n} cases in",
        w.cases_now()
    );
    assert!(
        status.success(),
        "{status:?}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        took <= mailcase::daemon::SHUTDOWN_GRACE,
        "took {took:?}, more than the grace"
    );
    // Nothing was lost: a new start takes in the rest.
    let _again = Reaper(Some(
        w.spawn_logged("info", &w.dir.path().join("daemon2.log")),
    ));
    wait_for("every case", Duration::from_secs(90), || async {
        (w.cases_now() == n as i64).then_some(())
    })
    .await;
    for c in &customers {
        w.wait_for_acks(c).await;
    }
}

/// The submission port of the test servers (AUTH required), from the state dir's env file.
fn submission_port(env: &MailEnv) -> u16 {
    let text = std::fs::read_to_string(env.dir.join("env")).unwrap();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "MAILENV_SUBMISSION_PORT")
        .and_then(|(_, v)| v.trim().trim_matches('"').parse().ok())
        .expect("MAILENV_SUBMISSION_PORT in the env file")
}

/// Runs the daemon at `level` with SMTP AUTH on the submission port, puts a complaint with a
/// unique body marker through, and checks that the log proves trace level and holds nothing
/// secret.
async fn nothing_secret_at(level: &str) {
    let w = World::new("log_trace", "");
    let sub = submission_port(&w.env);
    let text = std::fs::read_to_string(&w.config_path).unwrap();
    let authed = text.replace(
        &format!("[smtp]\nhost = \"127.0.0.1\"\nport = {}\n", w.env.smtp_port),
        &format!(
            "[smtp]\nhost = \"127.0.0.1\"\nport = {sub}\nuser = \"{}\"\npassword_file = \"imap-password\"\n",
            w.support
        ),
    );
    assert_ne!(authed, text, "the smtp section was found");
    std::fs::write(&w.config_path, authed).unwrap();

    let log = w.dir.path().join("daemon.log");
    let mut child = Reaper(Some(w.spawn_logged(level, &log)));
    let jane = w.customer("jane");
    let marker = format!("BODYMARKER{}", rand_u32());
    w.send_complaint(
        &jane,
        "Jane",
        "Private matter",
        &format!("My account number is {marker}."),
    )
    .await;
    w.wait_for_acks(&jane).await;
    let c = child.0.as_mut().unwrap();
    signal(c, "TERM");
    exits_within(c, Duration::from_secs(31), "the daemon after SIGTERM").await;
    child.0 = None;

    let text = std::fs::read_to_string(&log).unwrap();
    // A log file gets no colours (src/logging.rs: only a terminal does).
    assert!(
        !text.contains("\x1b["),
        "ANSI escape codes in the log file:\n{text}"
    );
    let password = &w.env.password;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let forbidden = [
        ("the body marker", marker.clone()),
        ("the password quoted", format!("\"{password}\"")),
        ("the password JSON-quoted", format!("\\\"{password}\\\"")),
        (
            "the password after LOGIN",
            format!("{} {password}", w.support),
        ),
        (
            "AUTH PLAIN's string",
            b64(&format!("\0{}\0{password}", w.support)),
        ),
        ("AUTH LOGIN's password", b64(password)),
    ];
    for (what, needle) in &forbidden {
        let hit = text.lines().find(|l| l.contains(needle.as_str()));
        assert!(hit.is_none(), "{what} reached the log at {level}: {hit:?}");
    }
    // The level was really trace: TRACE lines of our own, and the protocol libraries' lines
    // only at INFO and above.
    let levels = |l: &str| {
        ["TRACE", "DEBUG"]
            .into_iter()
            .any(|lv| l.contains(&format!(" {lv} ")))
    };
    let ours = text
        .lines()
        .filter(|l| l.contains(" TRACE mailcase"))
        .count();
    assert!(ours > 0, "no trace line of our own at {level}:\n{text}");
    let foreign: Vec<&str> = text
        .lines()
        .filter(|l| levels(l) && !l.contains(" mailcase"))
        .collect();
    assert!(
        foreign.is_empty(),
        "other crates logged below info at {level}: {foreign:#?}"
    );
    println!(
        "TRACE {level}: {} log lines, {ours} trace lines of our own, no secret",
        text.lines().count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_trace_level_no_password_auth_string_or_body_reaches_the_log() {
    nothing_secret_at("trace").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directives_naming_the_protocol_crates_cannot_lift_the_cap() {
    nothing_secret_at("async_imap=trace,imap_proto=trace,lettre=trace,rustls=trace,tokio_rustls=trace,mail_parser=trace,trace").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_another_process_locks_the_database_still_ends_within_the_grace() {
    if sqlite_only("a file lock held by another process") {
        return;
    }
    let w = World::new("log_locked", "");
    let log = w.dir.path().join("daemon.log");
    let mut child = Reaper(Some(w.spawn_logged("info", &log)));
    let first = w.customer("first");
    w.send_complaint(&first, "F", "First", "Before the lock.")
        .await;
    w.wait_for_acks(&first).await;
    // Another process holds an exclusive lock for 60 s: every commit, send record and
    // checkpoint of the daemon waits in SQLite's busy handler (10 s at a time) on a blocking
    // thread, while complaints keep arriving.
    let mut locker = Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60); c.execute('ROLLBACK')",
        ])
        .arg(w.db_path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 6];
    locker
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut buf)
        .unwrap();
    let mut customers = vec![first];
    for i in 0..10 {
        let c = w.customer(&format!("l{i}"));
        w.send_complaint(&c, "L", &format!("Locked {i}"), "During the lock.")
            .await;
        customers.push(c);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = child.0.as_mut().unwrap();
    signal(c, "TERM");
    let (status, took) = exits_within(
        c,
        Duration::from_secs(45),
        "the daemon after SIGTERM, database locked",
    )
    .await;
    child.0 = None;
    println!("LOCKED SIGTERM exited {status:?} after {took:?}");
    let _ = locker.kill();
    let _ = locker.wait();
    assert!(
        took <= mailcase::daemon::SHUTDOWN_GRACE + Duration::from_millis(500),
        "took {took:?}, more than the grace\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // Nothing was lost: a new start takes in what the lock held up.
    let _again = Reaper(Some(
        w.spawn_logged("info", &w.dir.path().join("daemon2.log")),
    ));
    wait_for("every case", Duration::from_secs(90), || async {
        (w.cases_now() == customers.len() as i64).then_some(())
    })
    .await;
    for c in &customers {
        w.wait_for_acks(c).await;
    }
}
