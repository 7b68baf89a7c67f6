//! The command line as an admin and an MTA use it: `check` and `deliver`.

mod common;

use mailcase::case::kinds::OutboundState;
use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn mailcase(w: &World, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn check_logs_in_to_imap_and_smtp_and_renders_templates() {
    let w = World::new("check", "");
    let out = mailcase(&w, &["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("templates"), "{text}");
    assert!(text.contains("IDLE yes"), "{text}");
    assert!(
        text.contains(&format!("smtp 127.0.0.1:{}: ok", w.env.smtp_port)),
        "{text}"
    );
}

#[test]
fn check_fails_with_a_wrong_password_and_says_so() {
    let w = World::new("checkpw", "");
    std::fs::write(w.dir.path().join("imap-password"), "wrong\n").unwrap();
    let out = mailcase(&w, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("login as") && err.contains(&w.support),
        "{err}"
    );
    assert!(
        !err.contains("wrong"),
        "the password is never printed: {err}"
    );
}

#[test]
fn check_words_a_refused_login_as_text_and_still_tries_smtp() {
    let w = World::new("checkboth", "");
    std::fs::write(w.dir.path().join("imap-password"), "wrong\n").unwrap();
    let out = mailcase(&w, &["check"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}\n{err}");
    // The server's own words, not the IMAP library's debug notation.
    assert!(err.contains("Authentication failed"), "{err}");
    assert!(
        !err.contains("Some(") && !err.contains("code: None"),
        "{err}"
    );
    // The SMTP login is tried all the same and has its line.
    assert!(
        text.contains(&format!("smtp 127.0.0.1:{}: ok", w.env.smtp_port)),
        "{text}\n{err}"
    );
    assert!(
        err.contains("IMAP"),
        "the last word names what failed: {err}"
    );
}

#[test]
fn a_missing_password_file_is_reported_once() {
    let w = World::new("checknopw", "");
    std::fs::remove_file(w.dir.path().join("imap-password")).unwrap();
    let out = mailcase(&w, &["check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("imap-password"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

#[test]
fn a_missing_config_file_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(dir.path().join("nonexistent.toml"))
        .args(["check", "--offline"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("nonexistent.toml"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn check_names_a_misspelled_key() {
    let w = World::new("checkkey", "");
    let text = std::fs::read_to_string(&w.config_path)
        .unwrap()
        .replace("batch_size = 50", "batch_sise = 50");
    std::fs::write(&w.config_path, text).unwrap();
    let out = mailcase(&w, &["check", "--offline"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("batch_sise"), "{err}");
}

fn deliver(w: &World, raw: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .arg("deliver")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn deliver_stores_a_piped_message_and_queues_its_acknowledgment() {
    let w = World::new("deliver", "");
    let raw = format!(
        "From: Hana <{}>\r\nTo: {}\r\nSubject: piped in\r\nMessage-ID: <p.{}@customer.test>\r\n\r\nVia the MTA pipe.\r\n",
        w.customer("hana"),
        w.support,
        w.tag
    );
    let out = deliver(&w, raw.as_bytes());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same message again (an MTA retry): still exit 0, still one case.
    let out = deliver(&w, raw.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    let s = w.store();
    assert_eq!(s.read().counts().unwrap().cases, 1);
    let o = s.read().outbox(None).unwrap();
    assert_eq!(o.len(), 1);
    assert_eq!(
        o[0].status,
        OutboundState::Pending,
        "the daemon's outbox sends it"
    );
}

#[test]
fn deliver_defers_with_75_when_the_database_cannot_be_written() {
    let w = World::new("deliverfail", "");
    let text = std::fs::read_to_string(&w.config_path).unwrap();
    let text = match &w.pg {
        // PostgreSQL: a server that cannot be reached (a port nobody listens on).
        Some(pg) => {
            let closed = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let port = pg
                .url
                .rsplit(':')
                .next()
                .unwrap()
                .split('/')
                .next()
                .unwrap()
                .to_string();
            text.replace(&format!(":{port}/"), &format!(":{closed}/"))
        }
        None => text.replace(
            "path = \"mailcase.db\"",
            "path = \"/proc/mailcase-cannot-be-here/mailcase.db\"",
        ),
    };
    std::fs::write(&w.config_path, text).unwrap();
    let out = deliver(
        &w,
        b"From: a@customer.test\r\nSubject: x\r\nMessage-ID: <q@x>\r\n\r\nhi\r\n",
    );
    assert_eq!(
        out.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn deliver_refuses_oversized_mail_with_65() {
    let w = World::new("deliverbig", "");
    let mut raw = b"From: a@customer.test\r\nSubject: big\r\n\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b'y', 300 * 1024));
    let out = deliver(&w, &raw);
    assert_eq!(out.status.code(), Some(65));
}

#[test]
fn the_shipped_example_config_passes_check_offline() {
    // As installed (README "Installing as a service"): the example config with the shipped
    // templates and the reply-token key as a systemd credential; only the paths point here.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(repo.join("config/mailcase.example.toml")).unwrap();
    for section in ["[retention]", "[digest]"] {
        assert!(example.contains(section), "the example documents {section}");
    }
    let installed_templates = "dir = \"/etc/mailcase/templates\"";
    assert!(example.contains(installed_templates));
    let db = dir.path().join("mailcase.sqlite");
    let config = example
        .replace(
            installed_templates,
            &format!("dir = {:?}", repo.join("templates").display().to_string()),
        )
        .replace(
            "path = \"/var/lib/mailcase/mailcase.db\"",
            &format!("path = {:?}", db.display().to_string()),
        );
    assert!(
        config.contains(&db.display().to_string()),
        "store.path replaced"
    );
    let path = dir.path().join("mailcase.toml");
    std::fs::write(&path, config).unwrap();
    let creds = dir.path().join("credentials");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("token-key"), "0123456789abcdef".repeat(4)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&path)
        .args(["check", "--offline"])
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("management_digest"), "{text}");
    assert!(!db.exists(), "check creates no database");

    // An admin's shell, as the README's install line runs it: no $CREDENTIALS_DIRECTORY, so
    // the credential is read where the unit's LoadCredential= loads it from
    // (`[service] credentials_dir`, here the test's folder instead of /etc/mailcase/credentials).
    let commented = "# credentials_dir = \"/etc/mailcase/credentials\"";
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(
        config.contains(commented),
        "the example documents credentials_dir"
    );
    std::fs::write(
        &path,
        config.replace(
            commented,
            &format!("credentials_dir = {:?}", creds.display().to_string()),
        ),
    )
    .unwrap();
    let shell_check = || {
        Command::new(env!("CARGO_BIN_EXE_mailcase"))
            .arg("--config")
            .arg(&path)
            .args(["check", "--offline"])
            .env_remove("CREDENTIALS_DIRECTORY")
            .output()
            .unwrap()
    };
    let out = shell_check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Neither place has it: the error names both.
    std::fs::remove_file(creds.join("token-key")).unwrap();
    let out = shell_check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("$CREDENTIALS_DIRECTORY is not set"), "{err}");
    assert!(
        err.contains(&creds.join("token-key").display().to_string()),
        "{err}"
    );
}

#[test]
fn help_names_the_config_variable_without_showing_its_value() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--help")
        .env("MAILCASE_CONFIG", "/somewhere/else.toml")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("[env: MAILCASE_CONFIG]"), "{text}");
    assert!(!text.contains("MAILCASE_CONFIG="), "{text}");
    assert!(!text.contains("/somewhere/else.toml"), "{text}");
    // Without the variable, too: clap would print an empty `MAILCASE_CONFIG=]`.
    let out = Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--help")
        .env_remove("MAILCASE_CONFIG")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("MAILCASE_CONFIG"), "{text}");
    assert!(!text.contains("MAILCASE_CONFIG=]"), "{text}");
}

#[test]
fn the_example_references_in_the_docs_are_valid() {
    use mailcase::case::Reference;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("README.md"),
        root.join("config/mailcase.example.toml"),
    ];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    // The README's example of a typo the command line corrects: it must stay invalid.
    let typos = ["CMP-7KQ4Y-V"];
    let re = regex::Regex::new(r"(?i)\bCMP-[0-9A-Z]{5}-[0-9A-Z]\b").unwrap();
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for m in re.find_iter(&text) {
            seen += 1;
            let r = m.as_str();
            if typos.contains(&r) {
                assert!(
                    Reference::parse(r).is_err(),
                    "{}: typo {r} is valid",
                    f.display()
                );
            } else {
                assert!(
                    Reference::parse(r).is_ok(),
                    "{}: example {r} fails its check: {:?}",
                    f.display(),
                    Reference::parse(r)
                );
            }
        }
    }
    assert!(seen >= 5, "only {seen} references found");
}
