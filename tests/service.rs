//! The daemon as a system service: the unit passes `systemd-analyze verify`, the real binary
//! tells systemd when it is ready, feeds the watchdog and says when it stops; SIGTERM exits
//! promptly, SIGHUP reloads (a broken config is refused and the old one kept); logs carry one
//! outcome line per message and never a secret or a message body.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Installs a Debian package providing `tool` when it is missing (as the mail servers are).
fn ensure_tool(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return;
    }
    let st = Command::new("sh")
        .args([
            "-c",
            &format!("DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends {package} >&2 || (apt-get -o DPkg::Lock::Timeout=600 update >&2 && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends {package} >&2)"),
        ])
        .status()
        .expect("run apt-get");
    assert!(
        st.success(),
        "{tool} is missing and apt-get install {package} failed (run as root)"
    );
}

fn unit_with_binary() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(repo().join("systemd/mailcase.service"))
        .unwrap()
        .replace("/usr/bin/mailcase", env!("CARGO_BIN_EXE_mailcase"));
    let path = dir.path().join("mailcase.service");
    std::fs::write(&path, unit).unwrap();
    (dir, path)
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_its_exposure_is_low() {
    ensure_tool("systemd-analyze", "systemd");
    let (_dir, path) = unit_with_binary();
    // --man=no: Documentation=man:mailcase(1) exists once the package is installed, which
    // packaging/ci-check.sh verifies with the man page check on.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "verify failed:\n{stderr}");
    assert!(
        !stderr.contains("mailcase.service"),
        "verify warned about the unit:\n{stderr}"
    );
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no exposure line:\n{text}"));
    println!("{line}");
    let level: f64 = line
        .split("mailcase.service:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the level in {line}"));
    assert!(level <= 2.0, "exposure {level}: hardening was lost");
}

/// The real binary under a fake service manager: a notify socket, a watchdog interval, JSON
/// logs captured.
struct Service {
    child: Child,
    notify: UnixDatagram,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Service {
    fn start(w: &World) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("notify.sock");
        let notify = UnixDatagram::bind(&sock).unwrap();
        notify
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailcase"))
            .arg("--config")
            .arg(&w.config_path)
            .arg("--log-json")
            .arg("run")
            .env("NOTIFY_SOCKET", &sock)
            .env("WATCHDOG_USEC", "2000000")
            .env("MAILCASE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l2.lock().unwrap().push(line);
            }
        });
        Service {
            child,
            notify,
            log,
            _dir: dir,
        }
    }

    /// Waits for a notification starting with `prefix`.
    fn expect_notify(&self, prefix: &str, within: Duration) -> String {
        let start = Instant::now();
        let mut buf = [0u8; 1024];
        while start.elapsed() < within {
            if let Ok(n) = self.notify.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).to_string();
                if m.starts_with(prefix) {
                    return m;
                }
            }
        }
        panic!(
            "no {prefix} within {within:?}; log:\n{}",
            self.log().join("\n")
        );
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    async fn wait_log(&self, needle: &str) {
        wait_for(
            &format!("log line with {needle}"),
            Duration::from_secs(30),
            || async { self.log().iter().any(|l| l.contains(needle)).then_some(()) },
        )
        .await
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_then_watchdog_then_stopping_and_sigterm_exits_promptly() {
    let w = World::new("svc_notify", "");
    let mut s = Service::start(&w);
    let ready = s.expect_notify("READY=1", Duration::from_secs(30));
    assert!(ready.contains("STATUS=running"), "{ready}");
    // Healthy rounds feed the watchdog (the integration config polls every 5 s).
    let jane = w.customer("jane");
    w.send_complaint(&jane, "Jane", "Hello", "A question.")
        .await;
    w.wait_for_acks(&jane).await;
    s.expect_notify("WATCHDOG=1", Duration::from_secs(15));
    // SIGTERM: STOPPING=1, then a clean exit within the bound (the unit allows 45 s).
    let t0 = Instant::now();
    s.signal("TERM");
    s.expect_notify("STOPPING=1", Duration::from_secs(10));
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(35),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    println!("exited {:?} after SIGTERM", t0.elapsed());
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_rules_and_a_broken_config_is_refused_and_the_old_one_kept() {
    let w = World::new("svc_reload", "");
    let s = Service::start(&w);
    s.expect_notify("READY=1", Duration::from_secs(30));
    let good = std::fs::read_to_string(&w.config_path).unwrap();
    let db = w.db_path();
    // A new rule: "zebra" means a technical problem.
    let with_rule = good.clone()
        + "\n[[classify.rules]]\nname = \"zebra\"\nkeywords = [\"zebra\"]\ncategory = \"technical\"\n";
    std::fs::write(&w.config_path, &with_rule).unwrap();
    s.signal("HUP");
    s.wait_log("reloaded config and templates").await;
    let a = w.customer("a");
    w.send_complaint(&a, "A", "Zebra crossing", "The zebra widget fails.")
        .await;
    w.wait_for_acks(&a).await;
    let case = w.case_of(&a);
    assert_eq!(case.category, "technical", "the reloaded rule applies");

    // A broken config: refused with the reason, the running one kept.
    std::fs::write(&w.config_path, with_rule.replace("[store]", "[store\n")).unwrap();
    s.signal("HUP");
    s.wait_log("reload refused").await;
    let refused = s
        .log()
        .into_iter()
        .find(|l| l.contains("reload refused"))
        .unwrap();
    assert!(
        refused.contains("TOML") || refused.contains("parse"),
        "{refused}"
    );
    let b = w.customer("b");
    w.send_complaint(&b, "B", "Zebra again", "zebra still broken")
        .await;
    w.wait_for_acks(&b).await;
    // (w.store() would read the broken config; open the database directly.)
    let store = match &w.pg {
        Some(pg) => pg.store().unwrap(),
        None => mailcase::store::Store::open_read_only(&db).unwrap(),
    };
    let case = store
        .read()
        .cases()
        .unwrap()
        .into_iter()
        .find(|c| c.customer_address == b)
        .unwrap();
    assert_eq!(case.category, "technical", "the old config still runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_is_logged_once_with_its_outcome_and_never_a_secret_or_a_body() {
    let w = World::new("svc_log", "");
    let key = std::fs::read_to_string(w.dir.path().join("token.key")).unwrap();
    let s = Service::start(&w);
    s.expect_notify("READY=1", Duration::from_secs(30));
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
    let ooo = format!(
        "From: Jane <{jane}>\r\nTo: {}\r\nSubject: Automatic reply\r\nAuto-Submitted: auto-replied\r\nMessage-ID: <{}@customer.test>\r\n\r\n{marker} out of office\r\n",
        w.support,
        rand_u32()
    );
    w.send_raw(&jane, &w.support, ooo.as_bytes()).await;
    s.wait_log("\"outcome\":\"robot\"").await;
    let log = s.log();
    let reference = w.store().read().cases().unwrap()[0].reference.clone();
    let new_case: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("\"outcome\":\"new_case\""))
        .collect();
    assert_eq!(new_case.len(), 1, "{log:#?}");
    assert!(new_case[0].contains(&reference));
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("\"outcome\":\"robot\""))
            .count(),
        1
    );
    for l in &log {
        assert!(!l.contains(&marker), "a message body reached the log: {l}");
        assert!(
            !l.contains(key.trim()),
            "the token key reached the log: {l}"
        );
        assert!(
            !l.contains(&format!("\"{}\"", w.env.password)),
            "the IMAP password reached the log: {l}"
        );
    }
}
