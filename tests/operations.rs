//! What an operator sees of a running daemon, on the real servers: `mailcase status` and the
//! metrics listener of the real `mailcase run` binary, while it takes in a complaint, a
//! piece of garbage and sends the acknowledgment; then `status` of the stopped daemon.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::Duration;

use common::*;

fn mailcase(w: &World, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(args)
        .output()
        .expect("run mailcase")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP request to the metrics listener; the whole answer.
fn http_get(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("metrics listener accepts");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The value of one sample line (`name{labels} value`) of the metrics text.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics_show_a_running_daemon_its_work_and_then_its_stop() {
    let port = free_port();
    // A warning lead longer than the target, so the new case is at risk at once (and its
    // warning timer fires: an SLA warning for the metrics).
    let w = World::new(
        "operations",
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[sla]\nwarning_lead = \"400h\"\n"),
    );
    // Before any daemon ran: no database yet, and `status` says what to do.
    let before = mailcase(&w, &["status"]);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    assert!(
        String::from_utf8_lossy(&before.stderr)
            .contains("the daemon creates it when it first runs"),
        "{}",
        text(&before)
    );

    w.append(b"\x00\x01\x02 this is not a mail message at all \xff\xfe")
        .await;
    let jane = w.customer("jane");
    let mut child = w.spawn_logged("info", &w.dir.path().join("daemon.log"));
    let pid = child.id();
    w.send_complaint(
        &jane,
        "Jane Doe",
        "My parcel never came",
        "Order 4711 is two weeks late.",
    )
    .await;
    w.wait_for_acks(&jane).await;
    let case = w.case_of(&jane);

    // The heartbeat carries the last SMTP send into the database within a few seconds.
    let status = wait_for(
        "status showing the acknowledgment's send",
        Duration::from_secs(60),
        || async {
            let o = mailcase(&w, &["status"]);
            let out = String::from_utf8_lossy(&o.stdout).to_string();
            (o.status.code() == Some(0) && out.contains("last message accepted 20")).then_some(out)
        },
    )
    .await;
    println!("{status}");
    let holder = format!("pid {pid} on ");
    assert!(status.contains(&format!("running: {holder}")), "{status}");
    assert!(
        status.lines().any(|l| l.starts_with("Mailbox lease")
            && l.contains("held by")
            && l.contains(&holder)),
        "the lease is shown with its holder:\n{status}"
    );
    assert!(
        status.contains("IMAP           last complete round 20"),
        "{status}"
    );
    assert!(
        status.contains("INBOX backlog  0 message(s) waiting"),
        "{status}"
    );
    assert!(
        status.contains("Outbox         0 waiting; 0 given up"),
        "{status}"
    );
    assert!(status.contains("Quarantine     1 message(s)"), "{status}");
    assert!(
        status.contains("At risk        1 open case(s)") && status.contains(&case.reference),
        "the new case is at risk with a 400h warning lead:\n{status}"
    );
    assert!(status.contains("Overdue        0 open case(s)"), "{status}");
    assert!(status.contains("Last error     none"), "{status}");

    let json = mailcase(&w, &["status", "--json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status --json is JSON");
    assert!(v["running"]["holder"]
        .as_str()
        .unwrap()
        .starts_with(&holder));
    assert_eq!(v["quarantined"], 1);
    assert_eq!(v["at_risk"][0]["reference"], case.reference.as_str());
    assert!(v["running"]["last_smtp_send_at"].is_string(), "{v}");

    // The metrics, once the heartbeat refreshed the figures read from the store.
    let metrics = wait_for(
        "metrics with the case at risk",
        Duration::from_secs(60),
        || async {
            let m = http_get(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
            (sample(&m, "mailcase_cases_at_risk") == Some(1.0)
                && sample(&m, "mailcase_sla_events_total{event=\"warning\"}") == Some(1.0))
            .then_some(m)
        },
    )
    .await;
    println!("{metrics}");
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(
        metrics.contains("Content-Type: application/openmetrics-text"),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "mailcase_messages_total{outcome=\"new_case\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "mailcase_messages_total{outcome=\"quarantined\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "mailcase_outbound_total{kind=\"ack\",result=\"sent\"}"
        ),
        Some(1.0)
    );
    // The complaint came through Postfix (it has an INTERNALDATE), and so did the garbage.
    assert!(
        sample(&metrics, "mailcase_ingest_lag_seconds_count").unwrap_or(0.0) >= 1.0,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "mailcase_quarantine_messages"), Some(1.0));
    assert_eq!(sample(&metrics, "mailcase_outbox_pending"), Some(0.0));
    assert_eq!(sample(&metrics, "mailcase_cases_overdue"), Some(0.0));
    assert!(sample(&metrics, "mailcase_last_smtp_send_timestamp_seconds").unwrap() > 1.7e9);
    assert!(sample(&metrics, "mailcase_last_imap_round_timestamp_seconds").unwrap() > 1.7e9);
    assert!(metrics.trim_end().ends_with("# EOF"), "{metrics}");
    let other = http_get(port, "GET /admin HTTP/1.1\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    let post = http_get(port, "POST /metrics HTTP/1.1\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");

    // Stopped cleanly: `status` says so and exits 3, like `systemctl status`.
    sigterm(pid);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let after = mailcase(&w, &["status"]);
    let out = String::from_utf8_lossy(&after.stdout);
    assert_eq!(after.status.code(), Some(3), "{}", text(&after));
    assert!(
        out.contains("NOT RUNNING") && out.contains("stopped cleanly"),
        "{out}"
    );
    assert!(
        out.contains("Mailbox lease  free"),
        "the lease was released:\n{out}"
    );
}

/// SIGTERM through `kill`, as systemd stops the service.
fn sigterm(pid: u32) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_metrics_port_stops_the_start_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let w = World::new(
        "metrics_taken",
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"),
    );
    let mut child = w.spawn_logged("warn", &w.dir.path().join("daemon.log"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(e) = child.try_wait().unwrap() {
            break e;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not give up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!exit.success());
    let log = std::fs::read_to_string(w.dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("metrics.listen: cannot listen on 127.0.0.1:") && log.contains("in use"),
        "{log}"
    );
    drop(taken);
}
