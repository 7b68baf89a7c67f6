//! An agent's answer as five real mail clients write it (`tests/fixtures/agent_clients/`, see
//! its README for where each client's markup was checked): what the customer gets of it,
//! text and HTML, with the files. The same fixtures go through the real servers in
//! `tests/conversation.rs`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use mailcase::case::commands;
use mailcase::parse::answer::Answer;

const CLIENTS: &[&str] = &[
    "outlook_desktop",
    "outlook_web",
    "gmail",
    "apple_mail",
    "thunderbird",
];

static TAG: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"<[^>]*>").unwrap());

/// Text with its whitespace collapsed to single spaces.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agent_clients")
}

/// The relay of one fixture: the text the customer gets, the HTML, the inline image names and
/// the file names.
fn relay(client: &str) -> (String, Option<String>, BTreeSet<String>, BTreeSet<String>) {
    let raw = std::fs::read(dir().join(format!("{client}.eml"))).unwrap();
    let answer = Answer::read(&raw, Some("Carol Agent"), 1 << 20);
    let text = answer.text.clone().unwrap_or_default();
    let parsed = commands::parse(&text).expect("valid commands");
    let r = answer.relay(&commands::command_lines(&text));
    let names = |parts: &[mailcase::parse::answer::Part]| {
        parts
            .iter()
            .map(|p| p.meta.name.clone().unwrap_or_default())
            .collect::<BTreeSet<_>>()
    };
    (
        parsed.text,
        r.html.clone(),
        names(&r.inline),
        names(&r.files),
    )
}

#[test]
fn every_client_answer_reaches_the_customer_as_written_and_nothing_else() {
    for client in CLIENTS {
        let expected = std::fs::read_to_string(dir().join(format!("{client}.expected.txt")))
            .unwrap()
            .trim_end()
            .to_string();
        let (text, html, _, _) = relay(client);
        assert_eq!(text, expected, "{client}: the text part");
        let html = html.unwrap_or_else(|| panic!("{client}: relayed as HTML"));
        // It ends with the sign-off, not with the empty lines clients leave at the end.
        let mut end = html.trim_end();
        while let Some(cut) = end
            .strip_suffix('>')
            .and_then(|e| e.rfind("</").map(|i| &e[..i]))
        {
            end = cut.trim_end();
        }
        assert!(end.ends_with("Carol"), "{client}: ends with {end:?}");
        assert!(
            !html.contains("font-size") && !html.contains("font-family"),
            "{client}: {html}"
        );
        // Every line of the answer is in the HTML as words a person reads (tags out,
        // whitespace as the browser collapses it).
        let shown = words(
            &TAG.replace_all(&html, "")
                .replace("&nbsp;", " ")
                .replace("&amp;", "&"),
        );
        for line in expected.lines().filter(|l| !l.is_empty()) {
            assert!(
                shown.contains(&words(line)),
                "{client}: the HTML lacks `{line}`: {html}"
            );
        }
        for gone in [
            "Example Support wrote",
            "INV-2026-1183 twice",
            "Support Engineer",
            "#resolve",
            "<script",
            "onclick",
            "track.example.net",
            "class=",
            "New case",
        ] {
            assert!(
                !html.contains(gone),
                "{client}: `{gone}` reached the customer: {html}"
            );
        }
    }
}

#[test]
fn paragraphs_survive_in_both_parts() {
    for client in CLIENTS {
        let (text, html, _, _) = relay(client);
        assert!(
            text.matches("\n\n").count() >= 3,
            "{client}: greeting, paragraphs and sign-off are set apart: {text:?}"
        );
        let html = html.unwrap();
        let blocks = html.matches("<p").count() + html.matches("<div").count();
        let breaks = html.matches("<br").count();
        assert!(blocks + breaks >= 4, "{client}: {html}");
    }
}

#[test]
fn attachments_go_to_the_customer_and_signature_logos_do_not() {
    let (_, html, inline, files) = relay("outlook_desktop");
    assert!(
        inline.is_empty(),
        "the logo went with the signature: {inline:?}"
    );
    assert!(!html.unwrap().contains("cid:"));
    assert_eq!(
        files,
        BTreeSet::from(["credit-note-CMP-7KQ4X-V.pdf".to_string()])
    );

    let (_, _, inline, files) = relay("gmail");
    assert!(inline.is_empty());
    assert_eq!(files.len(), 1, "{files:?}");

    let (_, html, inline, files) = relay("apple_mail");
    assert_eq!(inline.len(), 1, "the pasted screenshot stays with the HTML");
    assert!(files.is_empty(), "{files:?}");
    assert!(html.unwrap().contains("src=\"cid:"));
}

#[test]
#[ignore = "prints what each client's answer becomes, for a person to read"]
fn show() {
    for client in CLIENTS {
        let (text, html, inline, files) = relay(client);
        println!(
            "==== {client}\n{text}\n---- html\n{}\n---- inline {inline:?} files {files:?}",
            html.unwrap_or_default()
        );
    }
}
