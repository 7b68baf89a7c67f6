//! Reports and the management digest on a database filled by the real daemon on the real
//! Dovecot + Postfix: complaints in three categories and three priorities, agent answers, a
//! resolution, a rating, an SLA breach and its escalation; then `mailcase report` (table,
//! JSON, CSV, HTML page) while the daemon runs, and the digest mailed at its slot, once.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::replies::*;
use common::*;
use mail_parser::{MessageParser, MimeHeaders};
use mailcase::case::Status;

const EXTRA: &str = r#"
[[agents.members]]
address = "@ANN@"
name = "Ann Agent"

[[escalation]]
contacts = ["@MANAGER@"]

[[priorities]]
name = "low"
label = "Low"
first_response = "2d"
resolution = "3d"

[feedback]
when = "resolved"

[digest]
schedule = "daily"
at = "08:00"

[[classify.rules]]
name = "suggestions"
keywords = ["suggestion"]
priority = "low"
"#;

const WAIT: Duration = Duration::from_secs(60);

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Runs `mailcase report` against the test's config and returns its standard output.
async fn report_cli(w: &World, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mailcase"))
        .arg("--config")
        .arg(&w.config_path)
        .arg("report")
        .args(args)
        .env("MAILCASE_LOG", "warn")
        .output()
        .await
        .expect("run mailcase report");
    assert!(
        out.status.success(),
        "mailcase report {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Parses RFC 4180 CSV (quoted fields, doubled quotes, line breaks inside quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

/// The card Ann got for the case with this subject.
async fn card_for(w: &World, subject: &str) -> mailcase::parse::InboundMessage {
    wait_for(&format!("Ann's card for {subject}"), WAIT, || async {
        w.mailbox(&w.ann, "INBOX")
            .await
            .into_iter()
            .find(|m| m.subject.contains(subject))
    })
    .await
}

async fn answer(w: &World, card: &mailcase::parse::InboundMessage, text: &str) {
    let raw = thunderbird_reply(&w.ann, "Ann Agent", card, text);
    w.send_raw(
        &w.ann,
        &card.reply_to.as_ref().unwrap().address,
        raw.as_bytes(),
    )
    .await;
}

/// Screenshots `html` with headless Chromium; None (and a message) when it is not installed,
/// unless `MAILCASE_REQUIRE_CHROMIUM=1` (set by `.ci/run`), where a missing browser fails the
/// test instead of skipping the check.
fn screenshot(html: &Path, png: &Path) -> Option<()> {
    let Some(bin) = ["chromium", "chromium-browser"].into_iter().find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        common::skip::skipped(
            "the browser check",
            "neither `chromium` nor `chromium-browser` runs (apt-get install chromium)",
            "MAILCASE_REQUIRE_CHROMIUM",
        );
        return None;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1000,3000")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(
        out.status.success() && png.exists(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

/// Decodes a PNG; returns (width, height, distinct colours seen).
fn decode_png(bytes: &[u8]) -> (u32, u32, usize) {
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a PNG");
    let mut buf = vec![0; r.output_buffer_size()];
    let info = r.next_frame(&mut buf).expect("PNG pixels");
    let px = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()]
        .chunks(px)
        .take(2_000_000)
        .collect();
    (info.width, info.height, colours.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_the_digest_on_a_database_filled_by_the_daemon() {
    let w = World::new("report", EXTRA);
    // Monday 23 November 2026, 10:00 in Berlin (the tests' business time zone).
    let (d, clock, wake) = w.start_at(utc("2026-11-23T09:00:00Z"));
    let jane = w.customer("jane");
    let tom = w.customer("tom");
    let max = w.customer("max");
    let eva = w.customer("eva");
    w.send_complaint(
        &jane,
        "Jane Doe",
        "Invoice charged twice",
        "My November invoice was charged twice.",
    )
    .await;
    w.send_complaint(
        &tom,
        "Tom",
        "Refund for my invoice",
        "Please refund the October invoice.",
    )
    .await;
    w.send_complaint(
        &max,
        "Max",
        "Shop outage",
        "Our shop is down since 9:00, a full outage.",
    )
    .await;
    w.send_complaint(
        &eva,
        "Eva",
        "A suggestion for the shop",
        "Could you add a wish list?",
    )
    .await;
    for c in [&jane, &tom, &max, &eva] {
        w.wait_for_acks(c).await;
    }
    let (cj, ct, cm, ce) = (
        w.case_of(&jane),
        w.case_of(&tom),
        w.case_of(&max),
        w.case_of(&eva),
    );
    assert_eq!(
        [&cj, &ct, &cm, &ce].map(|c| (c.category.as_str(), c.priority.as_str())),
        [
            ("billing", "normal"),
            ("billing", "normal"),
            ("technical", "urgent"),
            ("general", "low")
        ]
    );

    // An hour later Ann answers and resolves Jane's and Eva's cases.
    jump(&clock, &wake, chrono::Duration::hours(1)).await;
    answer(
        &w,
        &card_for(&w, "Invoice charged twice").await,
        "#resolve\r\nWe refunded the second charge.",
    )
    .await;
    answer(
        &w,
        &card_for(&w, "A suggestion for the shop").await,
        "#resolve\r\nThanks, it is on the list for the next release.",
    )
    .await;
    // Jane gets the feedback request at once and rates 4 with a comment.
    let feedback = wait_for("Jane's feedback request", WAIT, || async {
        w.mailbox(&jane, "INBOX")
            .await
            .into_iter()
            .find(|m| m.text.contains(".4@support.test"))
    })
    .await;
    let i = feedback.text.find(".4@support.test").unwrap();
    let start = feedback.text[..i].rfind("mailto:").unwrap() + "mailto:".len();
    let four = feedback.text[start..i + ".4@support.test".len()].to_string();
    let raw = format!(
        "From: Jane Doe <{jane}>\r\nTo: {four}\r\nSubject: Rating 4 for {r}\r\nMessage-ID: <{id}@customer.test>\r\n\r\nQuick and friendly.\r\n",
        r = cj.reference,
        id = unique("rate")
    );
    w.send_raw(&jane, &four, raw.as_bytes()).await;
    wait_for("the rating stored", WAIT, || async {
        (w.store().read().rating(cj.id).unwrap()
            == Some((4, Some("Quick and friendly.".to_string()))))
        .then_some(())
    })
    .await;
    // Nobody answers Max: at 12:05 his 2-hour target is breached and the case escalated.
    jump(&clock, &wake, chrono::Duration::minutes(65)).await;
    wait_for("Max's case escalated", WAIT, || async {
        (w.case_of(&max).status == Status::Escalated).then_some(())
    })
    .await;

    // ---- mailcase report, while the daemon runs ------------------------------------------
    let period = [
        "--from",
        "2026-11-23",
        "--to",
        "2026-11-23",
        "--as-of",
        "2026-11-23T12:00:00Z",
    ];
    let json: serde_json::Value =
        serde_json::from_str(&report_cli(&w, &[&period[..], &["--json"]].concat()).await)
            .expect("the JSON parses");
    let counts = |key: &str| -> HashMap<String, u64> {
        json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(json["cases"], 4);
    assert_eq!(
        counts("by_category"),
        HashMap::from([
            ("general".into(), 1),
            ("billing".into(), 2),
            ("technical".into(), 1)
        ])
    );
    assert_eq!(
        counts("by_priority"),
        HashMap::from([
            ("urgent".into(), 1),
            ("normal".into(), 2),
            ("low".into(), 1)
        ])
    );
    assert_eq!(counts("by_week"), HashMap::from([("2026-W48".into(), 4)]));
    let sla = |prio: &str, target: &str| -> (u64, u64, u64) {
        let row = json["sla"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["priority"] == prio)
            .unwrap();
        let f = &row[target];
        (
            f["met"].as_u64().unwrap(),
            f["missed"].as_u64().unwrap(),
            f["pending"].as_u64().unwrap(),
        )
    };
    assert_eq!(sla("urgent", "first_response"), (0, 1, 0), "Max: breached");
    assert_eq!(
        sla("normal", "first_response"),
        (1, 0, 1),
        "Jane met, Tom open"
    );
    assert_eq!(sla("low", "first_response"), (1, 0, 0), "Eva");
    assert_eq!(sla("low", "resolution"), (1, 0, 0), "Eva within 3 days");
    assert_eq!(
        sla("normal", "resolution"),
        (0, 0, 0),
        "no resolution target"
    );
    assert_eq!(json["sla"][0]["first_response"]["compliance"], 0.0);
    assert_eq!(json["escalation"]["cases"], 1);
    assert_eq!(json["escalation"]["of"], 4);
    assert_eq!(json["escalation"]["rate"], 0.25);
    assert_eq!(json["reopen"]["cases"], 0);
    assert_eq!(json["satisfaction"]["count"], 1);
    assert_eq!(json["satisfaction"]["mean"], 4.0);
    let dist: Vec<u64> = json["satisfaction"]["distribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .collect();
    assert_eq!(dist, vec![0, 0, 0, 1, 0]);
    assert_eq!(
        json["satisfaction"]["comments"][0]["comment"],
        "Quick and friendly."
    );
    // Jane and Eva were answered an hour of business time after they wrote (the clock also
    // runs on in real time while the mail travels, hence the margin).
    for key in ["first_response", "resolution"] {
        assert_eq!(json[key]["measured"], 2, "{key}");
        let median = json[key]["median_seconds"].as_i64().unwrap();
        assert!((3600..3600 + 120).contains(&median), "{key}: {median}");
    }
    let billing = json["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["category"] == "billing")
        .unwrap();
    assert_eq!(billing["words"][0]["word"], "invoice");
    assert_eq!(billing["words"][0]["count"], 2);
    assert_eq!(json["busiest_hours"][10]["count"], 4, "all at 10:00 Berlin");
    assert_eq!(json["breached"].as_array().unwrap().len(), 1);
    assert_eq!(json["breached"][0]["reference"], cm.reference.as_str());
    assert_eq!(json["breached"][0]["what"], "first response missed");
    assert_eq!(json["escalated"][0]["reference"], cm.reference.as_str());

    // CSV: every figure at its address.
    let csv = parse_csv(&report_cli(&w, &[&period[..], &["--csv"]].concat()).await);
    assert_eq!(csv[0], vec!["section", "name", "metric", "value"]);
    let cell = |a: &str, b: &str, c: &str| -> String {
        csv.iter()
            .find(|r| r[0] == a && r[1] == b && r[2] == c)
            .unwrap_or_else(|| panic!("no CSV row {a},{b},{c}"))[3]
            .clone()
    };
    assert!(csv.iter().all(|r| r.len() == 4), "{csv:?}");
    assert_eq!(cell("cases", "", "opened"), "4");
    assert_eq!(cell("category", "billing", "cases"), "2");
    assert_eq!(cell("sla_first_response", "urgent", "missed"), "1");
    assert_eq!(cell("sla_first_response", "normal", "pending"), "1");
    assert_eq!(cell("satisfaction", "", "mean"), "4");
    assert_eq!(cell("comment", &cj.reference, "4"), "Quick and friendly.");
    assert_eq!(cell("keyword", "billing", "invoice"), "2");

    // The table, for a person.
    let table = report_cli(&w, &period).await;
    assert!(table.contains("Billing"), "{table}");
    assert!(table.contains(&cm.reference), "{table}");
    assert!(table.contains("breached: 1 case(s)"), "{table}");

    // ---- the digest, at Tuesday 08:00 Berlin ---------------------------------------------
    let slot = utc("2026-11-24T07:00:00Z");
    jump(
        &clock,
        &wake,
        slot - clock_now(&clock) + chrono::Duration::seconds(30),
    )
    .await;
    let digests = wait_for("the digest in the manager's mailbox", WAIT, || async {
        let raws = read_raw(&w.manager, "INBOX", &w.env).await;
        let d: Vec<Vec<u8>> = raws
            .into_iter()
            .filter(|r| {
                MessageParser::default()
                    .parse(r)
                    .and_then(|m| m.subject().map(|s| s.contains("digest")))
                    .unwrap_or(false)
            })
            .collect();
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert_eq!(digests.len(), 1);
    let m = MessageParser::default().parse(&digests[0]).unwrap();
    assert_eq!(
        m.header("Auto-Submitted").and_then(|h| h.as_text()),
        Some("auto-generated")
    );
    let html = m.body_html(0).expect("an HTML part").to_string();
    let text = m.body_text(0).expect("a text alternative").to_string();
    assert!(text.contains("Breached cases: 1"), "{text}");
    assert!(text.contains(&cm.reference), "{text}");
    assert!(text.contains("Escalated cases: 1"), "{text}");
    assert!(text.contains("mean 4.00 / 5"), "{text}");
    let images: Vec<_> = m
        .parts
        .iter()
        .filter(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "image" && c.subtype() == Some("png"))
        })
        .collect();
    assert_eq!(images.len(), 3, "volume, SLA and satisfaction charts");
    for p in &images {
        let id = p.content_id().expect("a Content-ID");
        assert!(
            html.contains(&format!("src=\"cid:{id}\"")),
            "{id} not in the HTML"
        );
        assert!(p
            .content_disposition()
            .is_some_and(|d| d.ctype() == "inline"));
        let (w_, h_, colours) = decode_png(p.contents());
        assert_eq!((w_, h_), (640, 300));
        assert!(colours > 3, "a chart, not a blank image");
    }
    let raw_text = String::from_utf8_lossy(&digests[0]);
    assert!(raw_text.contains("multipart/related"));
    assert!(w
        .store()
        .read()
        .digest_sent("daily:2026-11-24T07:00:00.000000Z")
        .unwrap());

    // Once: another round, and a restart, send nothing more.
    jump(&clock, &wake, chrono::Duration::minutes(5)).await;
    d.stop().await;
    let d = w.start_with(clock.clone(), wake.clone());
    wake.notify_one();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = read_raw(&w.manager, "INBOX", &w.env)
        .await
        .into_iter()
        .filter(|r| String::from_utf8_lossy(r).contains("Daily complaints digest"))
        .count();
    assert_eq!(again, 1, "the slot is sent exactly once");
    d.stop().await;

    // ---- the same page in a real browser ---------------------------------------------------
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let page = out_dir.join("digest.html");
    let said = report_cli(
        &w,
        &[&period[..], &["--html", page.to_str().unwrap()]].concat(),
    )
    .await;
    assert!(said.contains("report written to"), "{said}");
    let page_html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        page_html
            .matches("src=\"data:image&#x2F;png;base64,")
            .count(),
        3
    );
    let shot = out_dir.join("digest.png");
    if screenshot(&page, &shot).is_some() {
        let (w_, h_, colours) = decode_png(&std::fs::read(&shot).unwrap());
        assert_eq!((w_, h_), (1000, 3000), "the whole page fits the shot");
        assert!(colours > 50, "the page and its charts are drawn");
        eprintln!("digest rendered by chromium: {}", shot.display());
    }

    // ---- purged cases keep counting, without their words ---------------------------------
    {
        // Purged as the retention purge does it: the words go, the case keeps counting.
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut store = mailcase::store::Store::open_configured(&w.config()).unwrap();
        store
            .write(|tx| tx.scrub_case(ct.id, mailcase::store::records::Scrub::Purged, "test", at))
            .unwrap();
    }
    let json: serde_json::Value =
        serde_json::from_str(&report_cli(&w, &[&period[..], &["--json"]].concat()).await).unwrap();
    assert_eq!(json["cases"], 4);
    assert_eq!(
        json["by_category"][1]["count"], 2,
        "{}",
        json["by_category"]
    );
    let billing = json["keywords"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["category"] == "billing")
        .unwrap();
    let invoice = billing["words"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["word"] == "invoice")
        .unwrap();
    assert_eq!(invoice["count"], 1, "only Jane's subject is left");
}

fn clock_now(c: &mailcase::clock::MovableClock) -> DateTime<Utc> {
    mailcase::clock::Clock::now(c)
}
