//! Runs parse and robot detection over the shared public corpus (`../shared/corpus`), so every
//! robot rule is checked against real mail (docs/design.md invariant 3) and the parser against odd,
//! broken and huge messages. When the folder is absent the tests pass and say so on standard
//! error, uncaptured (tests/common/skip.rs); with `MAILCASE_REQUIRE_CORPUS=1` (CI) they fail.

#[path = "common/skip.rs"]
mod skip;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use mailcase::classify::robot::{detect, RobotKind};
use mailcase::parse::{parse, ParseError, ParseLimits};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");

/// Labelled robots that no sound, general rule detects, with the reason. Keep it short:
/// a file goes here only when catching it would need a rule that also hits human mail.
const KNOWN_MISSES: &[(&str, &str)] = &[(
    "stalwartlabs-mail-parser/resources/eml/rfc/004.eml",
    "RFC 1341 sample digest: From is the placeholder \"Moderator-Address\" (no address), no list \
     headers, and the multipart/digest is nested inside multipart/mixed; InboundMessage carries \
     only the top-level type, and a subject rule (\"Digest, volume\") would also hit customers",
)];

/// Labelled robots detected as a robot of another kind than their label, with the reason
/// the detected kind is right (or as good). Verdicts use `RobotKind::as_str`.
const OTHER_KIND: &[(&str, &str, &str)] = &[
    (
        "sisimai-set-of-emails/maildir/bsd/lhost-fml-02.eml",
        "list",
        "fml list-manager reply \"you are not a member\" (List-Subscribe, X-MLServer): a list \
         robot, not a delivery failure, so it must not mark the address undeliverable",
    ),
    (
        "sisimai-set-of-emails/maildir/bsd/lhost-fml-03.eml",
        "list",
        "fml list-manager loop alert (X-MLServer): a list robot, not a delivery failure",
    ),
    (
        "sisimai-set-of-emails/maildir/bsd/lhost-kddi-01.eml",
        "bulk",
        "KDDI au error notice: multipart/mixed, no DSN, no null sender, no mailer-daemon; only \
         its no-reply From/Reply-To and a provider-specific Japanese subject mark it",
    ),
];

/// Our own address for the tests; no corpus file is from it.
const OWN: &str = "support@mailcase.example";

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(CORPUS);
    if dir.is_dir() {
        Some(dir)
    } else {
        skip::skipped(
            "the corpus tests",
            &format!("the corpus is not at {}", dir.display()),
            "MAILCASE_REQUIRE_CORPUS",
        );
        None
    }
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// (path, class) pairs from labels.tsv.
fn labels(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("labels.tsv")).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split('\t');
            Some((cols.next()?.to_string(), cols.next()?.to_string()))
        })
        .collect()
}

/// What the pipeline makes of a file: a robot kind, "human", or the parse error.
fn verdict(dir: &Path, path: &str) -> String {
    let raw = match std::fs::read(dir.join(path)) {
        Ok(raw) => raw,
        Err(e) => return format!("unreadable ({e})"),
    };
    match parse(&raw, &ParseLimits::default()) {
        Ok(msg) => match detect(&msg, &[OWN.to_string()]) {
            Some(v) => v.kind.as_str().to_string(),
            None => "human".to_string(),
        },
        Err(e) => format!("error:{}", short_error(&e)),
    }
}

fn short_error(e: &ParseError) -> &'static str {
    match e {
        ParseError::NotAMessage => "not_a_message",
        ParseError::TooManyParts { .. } => "too_many_parts",
        ParseError::TooDeep { .. } => "too_deep",
        ParseError::TooManyHeaders { .. } => "too_many_headers",
        ParseError::NoSender => "no_sender",
        ParseError::ParserFailure => "parser_failure",
    }
}

/// Checks that every file labelled `class` gets one of `accepted` verdicts.
fn check_class(class: &str, accepted: &[&str]) {
    let Some(dir) = corpus() else { return };
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (path, label) in labels(&dir) {
        if label != class {
            continue;
        }
        checked += 1;
        let got = verdict(&dir, &path);
        let known = KNOWN_MISSES.iter().any(|(p, _)| *p == path)
            || OTHER_KIND
                .iter()
                .any(|(p, kind, _)| *p == path && *kind == got);
        if !accepted.contains(&got.as_str()) && !known {
            wrong.push(format!("{path}: {got}"));
        }
    }
    assert!(checked > 0, "no file labelled {class}");
    assert!(
        wrong.is_empty(),
        "{} of {checked} files labelled {class} were not {accepted:?}:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_corpus_file_parses_without_panic() {
    let Some(dir) = corpus() else { return };
    let files = all_files(&dir);
    assert!(
        files.len() > 100,
        "corpus looks truncated: {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for file in &files {
        let Ok(raw) = std::fs::read(file) else {
            failures.push(format!("{}: unreadable", file.display()));
            continue;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            parse(&raw, &ParseLimits::default()).inspect(|msg| {
                let _ = detect(msg, &[OWN.to_string()]);
            })
        }));
        match outcome {
            Err(_) => failures.push(format!("{}: panicked", file.display())),
            Ok(Err(ParseError::ParserFailure)) => {
                failures.push(format!("{}: mail-parser panicked", file.display()))
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn labelled_bounces_are_bounces() {
    check_class("bounce", &[RobotKind::Bounce.as_str()]);
}

#[test]
fn labelled_auto_replies_are_auto_replies() {
    check_class("auto-reply", &[RobotKind::AutoReply.as_str()]);
}

#[test]
fn labelled_list_mail_is_list_or_bulk() {
    check_class(
        "list",
        &[RobotKind::List.as_str(), RobotKind::Bulk.as_str()],
    );
}

#[test]
fn labelled_human_mail_is_never_a_robot() {
    // A body-only fixture is refused as not-a-message; that is not a robot verdict either.
    let ok = ["human", "error:not_a_message", "error:no_sender"];
    check_class("human-new", &ok);
    check_class("human-reply", &ok);
}

/// True when the header block (up to the first blank line) has a `From:` field.
fn has_from_header(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .take_while(|l| !l.trim().is_empty())
        .any(|l| l.len() >= 5 && l[..5].eq_ignore_ascii_case("from:"))
}

#[test]
fn malformed_mail_with_a_from_header_still_parses() {
    // Odd real-world mail must reach a case when it names a sender; MIME-structure tests
    // without any message header are refused (quarantined) as not-a-message.
    let Some(dir) = corpus() else { return };
    let mut refused = Vec::new();
    for (path, class) in labels(&dir) {
        if class != "malformed" {
            continue;
        }
        let raw = std::fs::read(dir.join(&path)).unwrap_or_default();
        let v = verdict(&dir, &path);
        println!("malformed {path}: {v}");
        if has_from_header(&raw) && v.starts_with("error:") {
            refused.push(format!("{path}: {v}"));
        }
    }
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

#[test]
fn known_misses_are_still_misses() {
    // An entry that is now detected correctly must leave the list, so it stays honest.
    let Some(dir) = corpus() else { return };
    for (path, reason) in KNOWN_MISSES {
        let label = labels(&dir)
            .into_iter()
            .find(|(p, _)| p == path)
            .map(|(_, c)| c)
            .unwrap_or_default();
        let got = verdict(&dir, path);
        let expected = match label.as_str() {
            "bounce" => "bounce",
            "auto-reply" => "auto_reply",
            _ => "list",
        };
        assert_ne!(
            got, expected,
            "{path} is detected now ({reason}): remove it from KNOWN_MISSES"
        );
    }
    for (path, kind, reason) in OTHER_KIND {
        assert_eq!(
            verdict(&dir, path),
            *kind,
            "{path} changed kind ({reason}): update OTHER_KIND"
        );
    }
}

#[test]
fn corpus_confusion_summary() {
    let Some(dir) = corpus() else { return };
    let mut table: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (path, class) in labels(&dir) {
        *table
            .entry(class)
            .or_default()
            .entry(verdict(&dir, &path))
            .or_default() += 1;
    }
    println!("label -> verdict counts ({})", dir.display());
    for (class, verdicts) in &table {
        let total: usize = verdicts.values().sum();
        let cells: Vec<String> = verdicts.iter().map(|(v, n)| format!("{v}={n}")).collect();
        println!("  {class:<12} {total:>4}: {}", cells.join(", "));
    }
    assert!(!table.is_empty());
}
