//! Reply-text extraction (`mailcase::parse::quoted`) on the shared public corpus (`../shared/corpus`):
//! the reply-parser fixtures of GitHub's email_reply_parser (bodies) and Mailgun's talon (whole
//! messages and HTML bodies), plus a Dovecot reply. Expected texts follow the upstream projects'
//! own assertions where they have one; where mailcase deliberately differs (it also strips
//! signatures and mobile footers, and drops every quoted block of a bottom-post) the test says
//! so. When the corpus folder is absent the tests say so and pass, like `tests/corpus.rs`.

#[path = "common/skip.rs"]
mod skip;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use mailcase::parse::quoted::{strip_html_quotation, visible_text};
use mailcase::parse::{parse, ParseLimits};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus");
const GITHUB: &str = "github-email_reply_parser/test/emails";
const TALON: &str = "mailgun-talon/tests/fixtures";

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

fn read(path: &str) -> Option<Vec<u8>> {
    let dir = corpus()?;
    let full = dir.join(path);
    match std::fs::read(&full) {
        Ok(raw) => Some(raw),
        Err(e) => panic!("cannot read {}: {e}", full.display()),
    }
}

fn read_text(path: &str) -> Option<String> {
    read(path).map(|raw| String::from_utf8_lossy(&raw).into_owned())
}

/// `visible_text` of a body-only fixture of email_reply_parser.
fn github(name: &str) -> Option<String> {
    read_text(&format!("{GITHUB}/{name}")).map(|body| visible_text(&body))
}

/// `reply_text` of a whole message, through `parse`.
fn reply_of_message(path: &str) -> Option<String> {
    let raw = read(path)?;
    match parse(&raw, &ParseLimits::default()) {
        Ok(msg) => Some(msg.reply_text),
        Err(e) => panic!("{path} does not parse: {e}"),
    }
}

/// Lines without trailing whitespace, without trailing blank lines: the comparison form.
fn norm(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l).trim_end())
        .collect();
    lines.join("\n").trim_end().to_string()
}

#[track_caller]
fn assert_text(got: &str, want: &str) {
    assert_eq!(
        norm(got),
        norm(want),
        "\n--- got ---\n{got}\n--- want ---\n{want}"
    );
}

fn no_whitespace(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every labelled fixture the tests below cover: the meta test checks labels.tsv against it,
/// so a newly labelled reply fixture cannot go untested.
const COVERED: &[&str] = &[
    "github-email_reply_parser/test/emails/correct_sig.txt",
    "github-email_reply_parser/test/emails/email_1_2.txt",
    "github-email_reply_parser/test/emails/email_1_3.txt",
    "github-email_reply_parser/test/emails/email_1_4.txt",
    "github-email_reply_parser/test/emails/email_1_5.txt",
    "github-email_reply_parser/test/emails/email_1_6.txt",
    "github-email_reply_parser/test/emails/email_1_7.txt",
    "github-email_reply_parser/test/emails/email_1_8.txt",
    "github-email_reply_parser/test/emails/email_2_1.txt",
    "github-email_reply_parser/test/emails/email_2_2.txt",
    "github-email_reply_parser/test/emails/email_2_3.txt",
    "github-email_reply_parser/test/emails/email_BlackBerry.txt",
    "github-email_reply_parser/test/emails/email_bullets.txt",
    "github-email_reply_parser/test/emails/email_iPhone.txt",
    "github-email_reply_parser/test/emails/email_multi_word_sent_from_my_mobile_device.txt",
    "github-email_reply_parser/test/emails/email_one_is_not_on.txt",
    "github-email_reply_parser/test/emails/email_sent_from_my_not_signature.txt",
    "github-email_reply_parser/test/emails/email_sig_delimiter_in_middle_of_line.txt",
    "github-email_reply_parser/test/emails/greedy_on.txt",
    "github-email_reply_parser/test/emails/pathological.txt",
    "mailgun-talon/tests/fixtures/standard_replies/android.eml",
    "mailgun-talon/tests/fixtures/standard_replies/aol.eml",
    "mailgun-talon/tests/fixtures/standard_replies/apple_mail.eml",
    "mailgun-talon/tests/fixtures/standard_replies/apple_mail_2.eml",
    "mailgun-talon/tests/fixtures/standard_replies/comcast.eml",
    "mailgun-talon/tests/fixtures/standard_replies/gmail.eml",
    "mailgun-talon/tests/fixtures/standard_replies/hotmail.eml",
    "mailgun-talon/tests/fixtures/standard_replies/iphone.eml",
    "mailgun-talon/tests/fixtures/standard_replies/sparrow.eml",
    "mailgun-talon/tests/fixtures/standard_replies/thunderbird.eml",
    "mailgun-talon/tests/fixtures/standard_replies/yahoo.eml",
    "mailgun-talon/tests/fixtures/standard_replies/outlook.eml",
    "mailgun-talon/tests/fixtures/reply-quotations-share-block.eml",
    "mailgun-talon/tests/fixtures/html_replies/gmail.html",
    "mailgun-talon/tests/fixtures/html_replies/hotmail.html",
    "mailgun-talon/tests/fixtures/html_replies/mail_ru.html",
    "mailgun-talon/tests/fixtures/html_replies/ms_outlook_2003.html",
    "mailgun-talon/tests/fixtures/html_replies/ms_outlook_2007.html",
    "mailgun-talon/tests/fixtures/html_replies/ms_outlook_2010.html",
    "mailgun-talon/tests/fixtures/html_replies/thunderbird.html",
    "mailgun-talon/tests/fixtures/html_replies/windows_mail.html",
    "mailgun-talon/tests/fixtures/html_replies/yandex_ru.html",
    "mailgun-talon/tests/fixtures/reply-separated-by-hr.html",
    "mailgun-talon/tests/fixtures/OLK_SRC_BODY_SECTION.html",
    "stalwartlabs-mail-parser/resources/eml/thirdparty/015.eml",
    // Not labelled, tested as well.
    "github-email_reply_parser/test/emails/email_1_1.txt",
    "github-email_reply_parser/test/emails/email_long_quote.txt",
];

#[test]
fn every_labelled_reply_fixture_is_covered() {
    let Some(dir) = corpus() else { return };
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).unwrap_or_default();
    let covered: BTreeSet<&str> = COVERED.iter().copied().collect();
    let mut wanted = 0;
    for line in labels.lines().skip(1) {
        let mut cols = line.split('\t');
        let (Some(path), Some(class)) = (cols.next(), cols.next()) else {
            continue;
        };
        let reply_source =
            path.starts_with("github-email_reply_parser/") || path.starts_with("mailgun-talon/");
        let in_scope = (class == "human-reply" && reply_source)
            || (class == "human-new" && path.starts_with("github-email_reply_parser/"));
        if in_scope {
            wanted += 1;
            assert!(covered.contains(path), "{path} ({class}) has no reply test");
        }
    }
    assert!(wanted >= 40, "only {wanted} labelled reply fixtures found");
    for path in COVERED {
        assert!(dir.join(path).is_file(), "{path} is not in the corpus");
    }
}

// --- github/email_reply_parser: plain-text bodies -------------------------------------------

#[test]
fn dash_dash_space_signature_is_cut() {
    // Upstream: fragment 2 is the hidden signature starting "-- \nrick".
    let Some(got) = github("correct_sig.txt") else {
        return;
    };
    assert_text(&got, "this is an email with a correct -- signature.");
}

#[test]
fn bottom_post_keeps_reply_below_quote_and_drops_list_footer() {
    // Upstream keeps the first quoted block visible ("On ... wrote:\n> Hi folks"); mailcase
    // drops every quoted block, so only the author's lines are left.
    let Some(got) = github("email_1_2.txt") else {
        return;
    };
    assert_text(&got, EMAIL_1_2);
    assert!(!got.contains("wrote:") && !got.contains("riak-users mailing list"));
}

const EMAIL_1_2: &str = "Hi,

You can list the keys for the bucket and call delete for each. Or if you
put the keys (and kept track of them in your test) you can delete them
one at a time (without incurring the cost of calling list first.)

Something like:

        String bucket = \"my_bucket\";
        BucketResponse bucketResponse = riakClient.listBucket(bucket);
        RiakBucketInfo bucketInfo = bucketResponse.getBucketInfo();

        for(String key : bucketInfo.getKeys()) {
            riakClient.delete(bucket, key);
        }


would do it.

See also

http://wiki.basho.com/REST-API.html#Bucket-operations

which says

\"At the moment there is no straightforward way to delete an entire
Bucket. There is, however, an open ticket for the feature. To delete all
the keys in a bucket, you\u{2019}ll need to delete them all individually.\"";

#[test]
fn top_post_above_nested_quotes_keeps_only_reply() {
    // Upstream: fragment 0 matches /^Oh thanks.\n\nHaving/; it hides "-Abhishek Kona" as a
    // signature, mailcase keeps a sign-off that has no "-- " delimiter.
    let Some(got) = github("email_1_3.txt") else {
        return;
    };
    assert!(got.starts_with("Oh thanks.\n\nHaving"), "{got}");
    assert_text(
        &got,
        "Oh thanks.\n\nHaving the function would be great.\n\n-Abhishek Kona",
    );
}

#[test]
fn blank_lines_between_quote_header_and_quote_are_dropped() {
    // Upstream: fragment 0 /^Awesome/, fragment 1 (hidden) /^On/ and /Loader/.
    let Some(got) = github("email_1_4.txt") else {
        return;
    };
    assert_text(&got, "Awesome! I haven't had another problem with it.");
}

#[test]
fn message_without_quote_or_signature_is_unchanged() {
    // Upstream: one fragment.
    let (Some(got), Some(body)) = (
        github("email_1_5.txt"),
        read_text(&format!("{GITHUB}/email_1_5.txt")),
    ) else {
        return;
    };
    assert_text(&got, &body);
    assert!(got.contains("- This is the fourth bullet point"));
}

#[test]
fn quote_header_wrapped_over_three_lines_is_dropped_with_sent_from_footer() {
    // Upstream: fragment 0 /^I get/, fragment 1 /^On/ with /Was this/. The custom mobile
    // footer "Sent from a magnificent torch of pixels" is stripped as the last line.
    let Some(got) = github("email_1_6.txt") else {
        return;
    };
    assert_text(&got, "I get proper rendering as well.");
}

#[test]
fn wrote_wrapped_onto_next_line_with_crlf_endings() {
    // Upstream: fragment 0 /:\+1:/, fragment 1 /^On/ with /Steps 0-2/.
    let Some(got) = github("email_1_7.txt") else {
        return;
    };
    assert_eq!(got, ":+1:");
}

#[test]
fn inline_replies_between_quoted_blocks_are_kept() {
    // Upstream: visible fragments "I will reply under this one" and "and under this.", the
    // "--\nHey there, this is my signature" fragment is a hidden signature.
    let Some(got) = github("email_1_8.txt") else {
        return;
    };
    assert_text(&got, "I will reply under this one\n\nand under this.");
}

#[test]
fn outlook_bold_from_sent_block_is_cut() {
    // Upstream: parse_reply == "Outlook with a reply".
    let Some(got) = github("email_2_1.txt") else {
        return;
    };
    assert_eq!(got, "Outlook with a reply");
}

#[test]
fn outlook_underscore_separator_and_from_sent_block_is_cut() {
    // Upstream: parse_reply == "Outlook with a reply directly above line".
    let Some(got) = github("email_2_2.txt") else {
        return;
    };
    assert_eq!(got, "Outlook with a reply directly above line");
}

#[test]
fn outlook_from_sent_block_without_separator_is_cut() {
    let Some(got) = github("email_2_3.txt") else {
        return;
    };
    assert_eq!(got, "Outlook with a reply directly above line");
}

#[test]
fn sent_from_my_iphone_and_blackberry_footers_are_stripped() {
    // Upstream: parse_reply == "Here is another email" for all three.
    for name in [
        "email_iPhone.txt",
        "email_BlackBerry.txt",
        "email_multi_word_sent_from_my_mobile_device.txt",
    ] {
        let Some(got) = github(name) else { return };
        assert_eq!(got, "Here is another email", "{name}");
    }
}

#[test]
fn sent_from_my_desk_sentence_is_not_a_footer() {
    // Upstream: parse_reply keeps the sentence.
    let Some(got) = github("email_sent_from_my_not_signature.txt") else {
        return;
    };
    assert_eq!(
        got,
        "Here is another email\n\nSent from my desk, is much easier then my mobile phone."
    );
}

#[test]
fn indented_bullets_are_kept_above_the_quote() {
    // Upstream: parse_reply, exactly.
    let Some(got) = github("email_bullets.txt") else {
        return;
    };
    assert_eq!(
        got,
        "test 2 this should list second\n\nand have spaces\n\nand retain this formatting\n\n\n   - how about bullets\n   - and another"
    );
}

#[test]
fn double_dash_in_the_middle_of_a_line_is_not_a_signature() {
    // Upstream: one fragment.
    let (Some(got), Some(body)) = (
        github("email_sig_delimiter_in_middle_of_line.txt"),
        read_text(&format!(
            "{GITHUB}/email_sig_delimiter_in_middle_of_line.txt"
        )),
    ) else {
        return;
    };
    assert_text(&got, &body);
    assert!(got.ends_with("kthxbai"));
}

#[test]
fn word_starting_with_on_is_not_a_quote_header() {
    // Upstream: fragment 0 /One outstanding question/, fragment 1 /^On Oct 1, 2012/.
    let Some(got) = github("email_one_is_not_on.txt") else {
        return;
    };
    assert_text(
        &got,
        "Thank, this is really helpful.\n\nOne outstanding question I had:\n\nLocally (on development), when I run...",
    );
}

#[test]
fn on_your_remote_host_line_is_not_a_quote_header() {
    let Some(got) = github("greedy_on.txt") else {
        return;
    };
    assert_text(
        &got,
        "On your remote host you can run:\n\n     telnet 127.0.0.1 52698\n\nThis should connect to TextMate (on your Mac, via the tunnel). If that\nfails, the tunnel is not working.",
    );
}

#[test]
fn pathological_quote_directly_under_reply_is_dropped() {
    // Upstream asserts it takes under a second; we measure instead of asserting time (a
    // loaded CI machine is no proof either way): the figure is printed, and the stripper is
    // linear by construction (no backtracking regex, bounded per-line work).
    let Some(body) = read_text(&format!("{GITHUB}/pathological.txt")) else {
        return;
    };
    let started = Instant::now();
    let got = visible_text(&body);
    println!(
        "pathological.txt ({} bytes): {:?}",
        body.len(),
        started.elapsed()
    );
    assert_text(
        &got,
        "I think you're onto something. I will try to fix the problem as soon as I\nget back to a computer.",
    );
}

#[test]
fn long_line_of_quote_markers_is_stripped_and_text_kept() {
    let Some(body) = read_text(&format!("{GITHUB}/email_long_quote.txt")) else {
        return;
    };
    assert!(body.len() > 700_000);
    let started = Instant::now();
    let got = visible_text(&body);
    let elapsed = started.elapsed();
    println!("email_long_quote.txt ({} bytes): {elapsed:?}", body.len());
    // The 59 KB line of '>' is a quote; "A>>>..." is not (it starts with a letter) and stays.
    assert!(
        got.starts_with("Hi folks\n\nWhat is the best way"),
        "{}",
        &got[..80]
    );
    assert!(!got.lines().any(|l| l.starts_with('>')));
    assert!(got.contains("\nasdf\nA>>>"));
    assert!(got.ends_with("I am currently using the Java HTTP API.\n\n-Abhishek Kona"));
}

#[test]
fn mailing_list_footer_after_underscores_is_dropped() {
    // Upstream: fragment 0 is the question; the "-Abhishek Kona" and list footer fragments are
    // hidden signatures. mailcase keeps the sign-off, drops the footer.
    let Some(got) = github("email_1_1.txt") else {
        return;
    };
    assert_text(
        &got,
        "Hi folks\n\nWhat is the best way to clear a Riak bucket of all key, values after\nrunning a test?\nI am currently using the Java HTTP API.\n\n-Abhishek Kona",
    );
}

// --- mailgun/talon: whole messages through parse --------------------------------------------

#[test]
fn standard_client_replies_reduce_to_hello() {
    // Upstream test_standard_replies: the reply text is "Hello" unless a *_reply_text file says
    // otherwise (iphone and sparrow, below).
    for client in [
        "android",
        "aol",
        "apple_mail",
        "apple_mail_2",
        "comcast",
        "gmail",
        "hotmail",
        "outlook",
        "thunderbird",
        "yahoo",
    ] {
        let path = format!("{TALON}/standard_replies/{client}.eml");
        let Some(got) = reply_of_message(&path) else {
            return;
        };
        assert_eq!(got, "Hello", "{client}");
    }
}

#[test]
fn iphone_reply_drops_quote_and_sent_from_footer() {
    // Upstream expects iphone_reply_text ("Hello\n\nSent from my iPhone"): talon leaves the
    // footer to its signature module; mailcase strips it as the last line.
    let (Some(got), Some(upstream)) = (
        reply_of_message(&format!("{TALON}/standard_replies/iphone.eml")),
        read_text(&format!("{TALON}/standard_replies/iphone_reply_text")),
    ) else {
        return;
    };
    assert_eq!(got, "Hello");
    assert_eq!(norm(&upstream), format!("{got}\n\nSent from my iPhone"));
}

#[test]
fn sparrow_reply_drops_quote_and_dash_dash_signature() {
    // Upstream expects sparrow_reply_text: "Hello" plus its "-- " signature; mailcase cuts at
    // the delimiter.
    let (Some(got), Some(upstream)) = (
        reply_of_message(&format!("{TALON}/standard_replies/sparrow.eml")),
        read_text(&format!("{TALON}/standard_replies/sparrow_reply_text")),
    ) else {
        return;
    };
    assert_eq!(got, "Hello");
    let upstream = norm(&upstream);
    assert!(
        upstream.starts_with("Hello\n\n--\nxxx\nSent with Sparrow"),
        "{upstream}"
    );
}

#[test]
fn yahoo_dashed_on_wrote_header_with_unquoted_history_is_cut() {
    // Upstream test_reply_quotations_share_block: non-empty and no "From".
    let Some(got) = reply_of_message(&format!("{TALON}/reply-quotations-share-block.eml")) else {
        return;
    };
    assert!(got.starts_with("Hi Katharine."), "{got}");
    assert!(got.ends_with("Joe XXX"), "{got}");
    for quoted in ["From", "wrote:", "New Booking Inquiry"] {
        assert!(!got.contains(quoted), "{quoted} in {got}");
    }
}

#[test]
fn dovecot_reply_loses_double_dash_signature_only() {
    let Some(got) = reply_of_message("stalwartlabs-mail-parser/resources/eml/thirdparty/015.eml")
    else {
        return;
    };
    assert!(got.starts_with("Hallo Stoiko,\n\nalles klar"), "{got}");
    assert!(got.ends_with("Beste Grüße"), "{got}");
    // Header-like lines inside the author's text are content.
    assert!(got.contains("X-Spam-Score: spam, score=5.01"));
    assert!(!got.contains("Jonas Sterr") && !got.contains("ProxForge"));
}

// --- mailgun/talon: HTML bodies ------------------------------------------------------------

/// The HTML fixture cut by `strip_html_quotation`, as text.
fn html_reply(path: &str) -> Option<String> {
    let html = read_text(path)?;
    let cut = strip_html_quotation(&html);
    assert!(html.starts_with(&cut), "{path}: output is not a prefix");
    Some(mail_parser::decoders::html::html_to_text(&cut))
}

#[test]
fn html_replies_of_common_clients_keep_only_the_new_text() {
    // Upstream extract_reply_and_check: html_to_text(reply) == "Hi. I am fine.\n\nThanks,\nAlex"
    // with all whitespace removed.
    for client in [
        "gmail",
        "hotmail",
        "mail_ru",
        "ms_outlook_2003",
        "ms_outlook_2007",
        "ms_outlook_2010",
        "thunderbird",
        "windows_mail",
        "yandex_ru",
    ] {
        let Some(got) = html_reply(&format!("{TALON}/html_replies/{client}.html")) else {
            return;
        };
        assert_eq!(
            no_whitespace(&got),
            "Hi.Iamfine.Thanks,Alex",
            "{client}: {got:?}"
        );
    }
}

#[test]
fn html_reply_separated_by_hr_and_from_block_is_cut_at_the_rule() {
    // Upstream removes the whole <div> holding the rule, "Bob" included ("Hi there"); cutting
    // at the rule keeps "Bob", which may well be the author's sign-off.
    let Some(got) = html_reply(&format!("{TALON}/reply-separated-by-hr.html")) else {
        return;
    };
    assert_eq!(no_whitespace(&got), "HithereBob", "{got:?}");
    for quoted in ["From", "bob@example.com", "Hello"] {
        assert!(!got.contains(quoted), "{quoted} in {got:?}");
    }
}

#[test]
fn html_olk_src_body_section_is_cut() {
    // Upstream: "<html><head></head><body><div>Reply</div></body></html>".
    let Some(got) = html_reply(&format!("{TALON}/OLK_SRC_BODY_SECTION.html")) else {
        return;
    };
    assert_eq!(no_whitespace(&got), "Reply", "{got:?}");
}

#[test]
fn html_only_message_reply_text_is_cut_before_conversion() {
    // parse() strips the HTML quotation before converting an HTML-only body; `text` keeps all.
    let Some(html) = read_text(&format!("{TALON}/html_replies/gmail.html")) else {
        return;
    };
    let raw = format!(
        "From: Alex <alex@example.com>\r\nTo: support@example.com\r\nSubject: Re: Test\r\n\
         Message-ID: <html-only-reply@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}"
    );
    let msg = match parse(raw.as_bytes(), &ParseLimits::default()) {
        Ok(msg) => msg,
        Err(e) => panic!("does not parse: {e}"),
    };
    assert!(msg.html_only);
    assert_eq!(
        no_whitespace(&msg.reply_text),
        "Hi.Iamfine.Thanks,Alex",
        "{:?}",
        msg.reply_text
    );
    assert!(msg.text.contains("Hello! How are you?"), "{:?}", msg.text);
}
