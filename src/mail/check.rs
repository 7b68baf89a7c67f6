//! The check that every template renders against samples: at start and reload (the engine
//! refuses a template an admin broke) and in `mailcase check`.

use super::{AckContext, MailContext, ACKNOWLEDGMENT, CASE_TEMPLATES};
use crate::locale::Locales;
use crate::render::{RenderError, Renderer};
use crate::report::chart;
use crate::report::digest::{self, ChartRef, DigestContext};
use crate::report::Report;

/// Checks that every template renders against a sample.
///
/// # Errors
/// The first template that fails, with its reason.
pub fn check_all(r: &Renderer, locales: &Locales) -> Result<(), RenderError> {
    check_in(r, None)?;
    // Each language folder's own templates (what it leaves out is the fallback's, checked
    // here or above).
    for lang in locales.languages() {
        if lang != crate::locale::BASE {
            check_in(r, Some(lang))?;
        }
    }
    Ok(())
}

fn check_in(r: &Renderer, lang: Option<&str>) -> Result<(), RenderError> {
    let mut ack = AckContext::sample();
    ack.language = lang.unwrap_or(crate::locale::BASE).into();
    r.render_in(lang, ACKNOWLEDGMENT, &ack)?;
    let mut empty = ack.clone();
    empty.customer_name = None;
    empty.restated.clear();
    empty.restated_lines.clear();
    empty.found.clear();
    empty.questions.clear();
    empty.empathy.clear();
    empty.attachments.clear();
    empty.excerpt.clear();
    empty.excerpt_lines.clear();
    r.render_in(lang, ACKNOWLEDGMENT, &empty)?;
    let mut sparse = MailContext::sample();
    sparse.customer_name = None;
    sparse.sender = None;
    sparse.linked_reference = None;
    sparse.update_text = None;
    sparse.update_html = None;
    sparse.reason = None;
    sparse.attachments.clear();
    sparse.history.clear();
    sparse.rating_links.clear();
    sparse.rating = None;
    sparse.comment = None;
    sparse.missed_target = None;
    sparse.late_by.clear();
    sparse.due_relative.clear();
    sparse.logged_by = None;
    sparse.intake_note = None;
    sparse.intake_address = None;
    for t in CASE_TEMPLATES {
        // Both with every optional value set and with none, so an `if` branch that names an
        // unknown variable is caught too.
        r.render_in(lang, t, &MailContext::sample())?;
        r.render_in(lang, t, &sparse)?;
        let mut late = MailContext::sample();
        late.late_reply = true;
        late.reopened = false;
        r.render_in(lang, t, &late)?;
    }
    // The digest, full and for a period with nothing in it.
    let digest = digest_sample();
    r.render_in(lang, digest::TEMPLATE, &digest)?;
    let mut quiet = digest;
    quiet.view.breached.clear();
    quiet.view.escalated.clear();
    quiet.view.comments.clear();
    quiet.view.keywords.clear();
    quiet.view.busiest_hours.clear();
    quiet.charts.clear();
    quiet.legend.clear();
    r.render_in(lang, digest::TEMPLATE, &quiet)?;
    Ok(())
}

/// The digest's sample, with hostile text: a report of every kind of figure and one chart.
pub fn digest_sample() -> DigestContext {
    let r = Report::sample();
    let charts = vec![ChartRef {
        title: "Cases opened per day, by category".into(),
        alt: "Cases <opened> per day".into(),
        src: "cid:volume.sample@support.test".into(),
        width: chart::WIDTH,
        height: chart::HEIGHT,
    }];
    DigestContext::new(
        "Weekly complaints digest".into(),
        "Example Support".into(),
        &r,
        charts,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::mail::context::{SAMPLE_LINKED_REFERENCE, SAMPLE_REFERENCE};
    use crate::mail::load_templates;
    use std::path::PathBuf;

    fn shipped() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
    }

    /// A copy of the shipped templates (every language folder too) an admin is about to
    /// edit.
    pub(crate) fn copy_of_templates() -> tempfile::TempDir {
        fn copy(from: &std::path::Path, to: &std::path::Path) {
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    std::fs::create_dir(to.join(e.file_name())).unwrap();
                    copy(&e.path(), &to.join(e.file_name()));
                } else {
                    std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        copy(&shipped(), dir.path());
        dir
    }

    #[test]
    fn every_case_template_renders_and_escapes_customer_text() {
        let r = load_templates(&shipped()).unwrap();
        check_all(&r, &crate::locale::Locales::builtin()).unwrap();
        for t in CASE_TEMPLATES {
            let out = r.render(t, &MailContext::sample()).unwrap();
            assert!(!out.html.contains("<script>"), "{t}");
            assert!(
                !out.html.contains("<b>Please</b>"),
                "{t}: customer HTML escaped"
            );
            assert!(
                !out.text.contains("&lt;"),
                "{t}: text part is not HTML-escaped"
            );
        }
        let card = r.render("agent_new_case", &MailContext::sample()).unwrap();
        assert!(
            card.text.contains(SAMPLE_LINKED_REFERENCE),
            "linked case named"
        );
        assert!(card.text.contains("#resolve"), "commands listed");
        // The names a command takes, so nobody has to guess them from an error.
        assert!(
            card.text.contains("Priorities: urgent, high, normal")
                && card.text.contains("Categories: billing, general"),
            "{}",
            card.text
        );
        assert!(card.html.contains("urgent, high, normal"), "{}", card.html);
    }

    /// The example config reading the shipped templates, as `edit` changes its text.
    fn example_config(edit: impl FnOnce(String) -> String) -> crate::config::Config {
        let text = include_str!("../../config/mailcase.example.toml").replace(
            "dir = \"/etc/mailcase/templates\"",
            &format!("dir = \"{}\"", shipped().display()),
        );
        crate::config::Config::from_toml(&edit(text), std::path::Path::new(".")).unwrap()
    }

    #[test]
    fn cards_name_the_queue_and_offer_queue_only_where_the_config_has_queues() {
        let card = |cfg: &crate::config::Config| {
            let (_, locales) = crate::mail::load_all(cfg).unwrap();
            let cal = crate::business_time::BusinessCalendar::from_config(&cfg.calendar);
            let w = crate::mail::Words {
                cfg,
                calendar: &cal,
                locales: &locales,
            };
            let case = crate::store::CaseRow {
                reference: SAMPLE_REFERENCE.into(),
                queue: Some("billing".into()),
                brand: Some("acme".into()),
                our_address: Some("billing@example.com".into()),
                ..Default::default()
            };
            crate::mail::case_mail_context(w, &case, "en")
        };
        // One queue (the example config): no queue line, no #queue.
        let one = card(&example_config(|t| t));
        assert!(!one.help.iter().any(|h| h.command.starts_with("#queue")));
        assert!(one.queue.is_empty() && one.queue_names.is_empty() && one.written_to.is_empty());
        // Two queues of a brand: both.
        let two = card(&example_config(|t| {
            t + "\n[[brand]]\nname = \"acme\"\n\n[[queue]]\nname = \"support\"\nbrand = \"acme\"\n\
                 addresses = [\"support@example.com\"]\n\n[[queue]]\nname = \"billing\"\n\
                 brand = \"acme\"\naddresses = [\"billing@example.com\"]\n"
        }));
        assert!(two.help.iter().any(|h| h.command == "#queue NAME"));
        assert_eq!(two.queue_names, ["support", "billing"]);
        assert_eq!(
            (
                two.queue.as_str(),
                two.brand.as_str(),
                two.written_to.as_str()
            ),
            ("billing", "acme", "billing@example.com")
        );
    }

    #[test]
    fn a_question_without_words_is_named_at_load() {
        assert!(crate::mail::load_all(&example_config(|t| t)).is_ok());
        let cfg =
            example_config(|t| t.replace("question = \"steps\"", "question = \"what_happened\""));
        let e = crate::mail::load_all(&cfg).unwrap_err().to_string();
        assert!(
            e.contains("acknowledgment.ask[2].question = \"what_happened\""),
            "{e}"
        );
    }

    #[test]
    fn with_another_default_language_english_customers_still_get_english() {
        let cfg = example_config(|t| {
            assert!(t.contains("# default = \"en\""));
            t.replacen("# default = \"en\"", "default = \"de\"", 1)
        });
        let (r, l) = crate::mail::load_all(&cfg).unwrap();
        let ack = AckContext::sample();
        let en = r.render_in(Some("en"), ACKNOWLEDGMENT, &ack).unwrap();
        assert!(en.text.contains("Thank you"), "{}", en.text);
        // A language without a folder of its own gets the default language's templates.
        assert_eq!(l.resolve(Some("sv")), "de");
        let other = r.render_in(Some("sv"), ACKNOWLEDGMENT, &ack).unwrap();
        assert!(
            other.text.contains("Vielen Dank") || other.text.contains("vielen Dank"),
            "{}",
            other.text
        );
    }

    #[test]
    fn every_shipped_language_renders_every_template() {
        let r = load_templates(&shipped()).unwrap();
        let l = Locales::load(&shipped(), "en", "en").unwrap();
        check_all(&r, &l).unwrap();
        // Each language folder has its own customer templates and phrases: nothing a
        // customer reads falls back to English.
        for lang in l.languages().filter(|l| *l != crate::locale::BASE) {
            assert!(shipped().join(lang).join("phrases.toml").exists(), "{lang}");
            for t in std::iter::once(ACKNOWLEDGMENT)
                .chain(CASE_TEMPLATES.iter().copied())
                .filter(|t| *t == ACKNOWLEDGMENT || t.starts_with("customer_"))
            {
                for part in ["txt", "html"] {
                    let f = shipped().join(lang).join(format!("{t}.{part}.tera"));
                    assert!(f.exists(), "{}", f.display());
                }
                let mut ack = AckContext::sample();
                ack.language = lang.into();
                let out = if t == ACKNOWLEDGMENT {
                    r.render_in(Some(lang), t, &ack).unwrap()
                } else {
                    let mut m = MailContext::sample();
                    m.language = lang.into();
                    r.render_in(Some(lang), t, &m).unwrap()
                };
                assert!(out.html.contains(&format!("lang=\"{lang}\"")), "{lang} {t}");
                assert!(!out.html.contains("<script>"), "{lang} {t}");
                assert!(out.text.contains(SAMPLE_REFERENCE), "{lang} {t}");
            }
        }
    }

    #[test]
    fn every_customer_mail_signs_with_the_brand_signature_escaped_and_only_when_set() {
        use crate::mail::context::SAMPLE_SIGNATURE;
        let r = load_templates(&shipped()).unwrap();
        let l = Locales::load(&shipped(), "en", "en").unwrap();
        // The three status notices are blocks inside an answer or update, which signs.
        let blocks = [
            "customer_resolved",
            "customer_escalated",
            "customer_priority_raised",
        ];
        for lang in l.languages() {
            for t in std::iter::once(ACKNOWLEDGMENT)
                .chain(CASE_TEMPLATES.iter().copied())
                .filter(|t| *t == ACKNOWLEDGMENT || t.starts_with("customer_"))
                .filter(|t| !blocks.contains(t))
            {
                let render = |signature: &str| {
                    if t == ACKNOWLEDGMENT {
                        let mut a = AckContext::sample();
                        a.language = lang.into();
                        a.signature = signature.into();
                        r.render_in(Some(lang), t, &a).unwrap()
                    } else {
                        let mut m = MailContext::sample();
                        m.language = lang.into();
                        m.signature = signature.into();
                        m.agent_name = "Ann".into();
                        m.text = "We refunded it.".into();
                        r.render_in(Some(lang), t, &m).unwrap()
                    }
                };
                let signed = render(SAMPLE_SIGNATURE);
                assert!(
                    signed.text.contains(SAMPLE_SIGNATURE),
                    "{lang} {t}: {}",
                    signed.text
                );
                assert!(
                    signed.html.contains(
                        "Example Support · +1 555 0100<br>&lt;b&gt;help.example.com&lt;&#x2F;b&gt;"
                    ),
                    "{lang} {t}: {}",
                    signed.html
                );
                // Before the footer of automatic mail, never after it.
                if let Some(footer) = signed.text.find("\n-- \n") {
                    assert!(
                        signed.text.find(SAMPLE_SIGNATURE).unwrap() < footer,
                        "{lang} {t}"
                    );
                }
                let plain = render("");
                assert!(!plain.text.contains("+1 555 0100"), "{lang} {t}");
                assert!(!plain.html.contains("+1 555 0100"), "{lang} {t}");
            }
        }
    }

    #[test]
    fn shipped_templates_render_and_escape_html() {
        let r = load_templates(&shipped()).unwrap();
        let out = r.render("acknowledgment", &AckContext::sample()).unwrap();
        assert!(out.text.contains(SAMPLE_REFERENCE));
        assert!(
            out.text.contains("{{ reference }}"),
            "customer text is data, not template"
        );
        assert!(!out.html.contains("<script>"));
        assert!(out.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn the_digest_template_escapes_subjects_comments_and_keywords() {
        let r = load_templates(&shipped()).unwrap();
        let out = r.render(digest::TEMPLATE, &digest_sample()).unwrap();
        assert!(!out.html.contains("<script>"), "subject escaped");
        assert!(!out.html.contains("<b>three</b>"), "comment escaped");
        assert!(!out.html.contains("<invoice>"), "keyword escaped");
        assert!(out.html.contains("&lt;script&gt;"));
        assert!(
            out.html.contains("{{ reference }}"),
            "customer text is data"
        );
        assert!(out.html.contains("src=\"cid:volume.sample@support.test\""));
        assert!(
            out.text.contains("Took <b>three</b> days"),
            "text part unescaped"
        );
        assert!(out.text.contains(SAMPLE_REFERENCE));
    }

    #[test]
    fn no_template_shows_a_raw_status_name() {
        let r = load_templates(&shipped()).unwrap();
        let raw: Vec<&str> = crate::case::Status::ALL
            .iter()
            .map(|s| s.as_str())
            .filter(|s| s.contains('_'))
            .collect();
        let mut rendered = vec![(
            ACKNOWLEDGMENT.to_string(),
            r.render(ACKNOWLEDGMENT, &AckContext::sample()).unwrap(),
        )];
        for status in crate::case::Status::ALL {
            let mut m = MailContext::sample();
            m.status = status.as_str().into();
            m.status_label = status.agent_label().into();
            m.customer_status = status.customer_label().into();
            for t in CASE_TEMPLATES {
                rendered.push((t.to_string(), r.render(t, &m).unwrap()));
            }
        }
        let mut digest = digest_sample();
        for c in digest.view.escalated.iter_mut() {
            c.status = "waiting_on_customer".into();
            c.status_label = crate::case::Status::WaitingOnCustomer.agent_label().into();
        }
        rendered.push((
            digest::TEMPLATE.to_string(),
            r.render(digest::TEMPLATE, &digest).unwrap(),
        ));
        for (t, out) in &rendered {
            for name in &raw {
                assert!(
                    !out.text.contains(name) && !out.html.contains(name),
                    "{t} shows the raw status {name}"
                );
            }
        }
        let card = r
            .render("agent_customer_message", &MailContext::sample())
            .unwrap();
        assert!(
            card.text.contains("Status:    waiting on customer"),
            "{}",
            card.text
        );
    }

    #[test]
    fn text_parts_sign_off_with_the_standard_separator() {
        let r = load_templates(&shipped()).unwrap();
        let ack = r.render(ACKNOWLEDGMENT, &AckContext::sample()).unwrap();
        let reply = r
            .render("customer_agent_reply", &MailContext::sample())
            .unwrap();
        for (t, text) in [
            ("acknowledgment", &ack.text),
            ("customer_agent_reply", &reply.text),
        ] {
            assert!(text.lines().any(|l| l == "-- "), "{t}: {text:?}");
        }
        // No shipped text template has a separator without its space.
        for e in std::fs::read_dir(shipped()).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().ends_with(".txt.tera") {
                let src = std::fs::read_to_string(&p).unwrap();
                assert!(!src.lines().any(|l| l == "--"), "{}", p.display());
            }
        }
        // Quoted back by a customer, our footer is a signature, not their words: pasted
        // under their text as it is, or quoted with the rest of our answer.
        let footer = &reply.text[reply.text.find("\n-- \n").unwrap() + 1..];
        let answer = format!("Still broken, sorry.\n\n{footer}");
        assert_eq!(
            crate::parse::quoted::visible_text(&answer),
            "Still broken, sorry."
        );
        let quoted: String = reply.text.lines().map(|l| format!("> {l}\n")).collect();
        let answer = format!("Still broken.\n\nOn Monday, Support wrote:\n{quoted}");
        assert_eq!(crate::parse::quoted::visible_text(&answer), "Still broken.");
    }

    #[test]
    fn the_escalation_quotes_a_rating_comment_as_one_block() {
        let r = load_templates(&shipped()).unwrap();
        let out = r
            .render("manager_escalation", &MailContext::sample())
            .unwrap();
        assert!(
            out.text.contains(
                "Rating:    2/5\nComment:\n  > Took too long <b>really</b>.\n  > Nobody called back.\n"
            ),
            "{}",
            out.text
        );
        assert_eq!(out.html.matches("<blockquote").count(), 1, "{}", out.html);
        let block = &out.html[out.html.find("<blockquote").unwrap()..];
        let block = &block[..block.find("</blockquote>").unwrap()];
        assert!(
            block.contains("Took too long &lt;b&gt;really&lt;&#x2F;b&gt;.\nNobody called back."),
            "{block}"
        );
    }

    #[test]
    fn the_command_error_names_what_is_valid_and_says_to_reply_to_it() {
        let r = load_templates(&shipped()).unwrap();
        let out = r
            .render("agent_command_error", &MailContext::sample())
            .unwrap();
        assert!(out.text.contains("did you mean #resolve?"), "{}", out.text);
        assert!(out
            .text
            .contains("Reply to this message with the corrected commands"));
        assert!(out.text.contains("Priorities: urgent, high, normal"));
        assert!(out.text.contains("Categories: billing, general"));
        assert!(!out.text.contains("not to this message's sender"));
        assert!(out
            .html
            .contains("Reply to this message with the corrected commands"));
    }

    /// Every shipped template of one part, as (file name, source).
    fn sources(ext: &str) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = std::fs::read_dir(shipped())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(ext))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn text_templates_wrap_their_prose_for_an_80_column_terminal() {
        // What the template itself writes on a line, values (`{{ }}`) and tags (`{% %}`)
        // left out: a value may make a line longer, the prose around it may not.
        let tag = regex::Regex::new(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}").unwrap();
        let mut long = Vec::new();
        for (name, src) in sources(".txt.tera") {
            for (i, line) in src.lines().enumerate() {
                let literal = tag.replace_all(line, "");
                if literal.chars().count() > 76 {
                    long.push(format!("{name}:{}: {line}", i + 1));
                }
            }
        }
        assert!(
            long.is_empty(),
            "lines over 76 columns:\n{}",
            long.join("\n")
        );
    }

    /// Every template rendered with its sample, as (name, output).
    fn rendered_samples() -> Vec<(String, crate::render::Rendered)> {
        let r = load_templates(&shipped()).unwrap();
        let mut out = vec![(
            ACKNOWLEDGMENT.to_string(),
            r.render(ACKNOWLEDGMENT, &AckContext::sample()).unwrap(),
        )];
        for t in CASE_TEMPLATES {
            out.push((t.to_string(), r.render(t, &MailContext::sample()).unwrap()));
        }
        out.push((
            digest::TEMPLATE.to_string(),
            r.render(digest::TEMPLATE, &digest_sample()).unwrap(),
        ));
        out
    }

    #[test]
    fn every_html_mail_fits_a_phone_screen() {
        // The status updates are fragments inside another mail, not documents of their own.
        let fragments = [
            "customer_resolved",
            "customer_escalated",
            "customer_priority_raised",
        ];
        for (t, out) in rendered_samples() {
            if fragments.contains(&t.as_str()) {
                continue;
            }
            assert!(
                out.html.contains(
                    r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
                ),
                "{t} has no viewport meta"
            );
        }
    }

    #[test]
    fn customer_mails_start_with_a_capital_after_the_greeting() {
        for (t, out) in rendered_samples() {
            let mut lines = out.text.lines().skip_while(|l| l.trim().is_empty());
            let Some(first) = lines.next() else { continue };
            if !(first.starts_with("Dear ") || first == "Hello,") {
                continue;
            }
            let next = lines.find(|l| !l.trim().is_empty()).unwrap_or_default();
            assert!(
                next.chars().next().is_some_and(|c| !c.is_lowercase()),
                "{t}: {next}"
            );
            assert!(
                !out.html.contains(",</p>\n<p>thank") && !out.html.contains("<p>we "),
                "{t}"
            );
        }
    }

    #[test]
    fn rating_links_stand_on_lines_of_their_own_after_the_explanation() {
        let r = load_templates(&shipped()).unwrap();
        for t in ["customer_feedback_request", "customer_follow_up"] {
            let text = r.render(t, &MailContext::sample()).unwrap().text;
            let first_link = text.find("mailto:").unwrap();
            assert!(
                text[..first_link].contains("1 (poor) to 5 (excellent)"),
                "{t}: {text}"
            );
            for line in text.lines().filter(|l| l.contains("mailto:")) {
                assert!(
                    line.starts_with("  mailto:") && line.chars().count() <= 76,
                    "{t}: {line}"
                );
            }
            assert!(text.contains("\n5 (excellent):\n  mailto:"), "{t}: {text}");
            assert!(
                text.trim_end().ends_with(&format!(
                    "Kind regards,\nExample Support\n\n{}",
                    crate::mail::context::SAMPLE_SIGNATURE
                )),
                "{t}: {text}"
            );
        }
    }

    #[test]
    fn the_command_help_is_one_aligned_line_per_command() {
        let r = load_templates(&shipped()).unwrap();
        for t in ["agent_new_case", "agent_command_error"] {
            let out = r.render(t, &MailContext::sample()).unwrap();
            let help: Vec<&str> = out.text.lines().filter(|l| l.starts_with("  #")).collect();
            assert_eq!(
                help.len(),
                crate::case::commands::HELP.len(),
                "{t}: {}",
                out.text
            );
            assert!(
                help.iter().all(|l| l.chars().count() <= 72),
                "{t}: {help:?}"
            );
            // Where each meaning starts: after the command and its padding.
            let starts: Vec<usize> = help
                .iter()
                .map(|l| {
                    let gap = 2 + l[2..].find("  ").unwrap();
                    gap + l[gap..].len() - l[gap..].trim_start().len()
                })
                .collect();
            assert!(starts.windows(2).all(|w| w[0] == w[1]), "{t}: {help:?}");
            assert!(
                out.html
                    .contains("white-space: nowrap;\"><code>#escalate [reason]"),
                "{t}"
            );
        }
        let card = r.render("agent_new_case", &MailContext::sample()).unwrap();
        // Where each value starts in the card's head.
        let labels: Vec<usize> = card
            .text
            .lines()
            .filter(|l| {
                ["Customer:", "Category:", "Priority:", "Answer by:"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(|l| {
                let colon = l.find(':').unwrap() + 1;
                colon + l[colon..].len() - l[colon..].trim_start().len()
            })
            .collect();
        assert_eq!(labels.len(), 4, "{}", card.text);
        assert!(labels.windows(2).all(|w| w[0] == w[1]), "{}", card.text);
    }

    #[test]
    fn command_errors_read_once_and_without_markdown_in_html() {
        let r = load_templates(&shipped()).unwrap();
        let out = r
            .render("agent_command_error", &MailContext::sample())
            .unwrap();
        assert!(!out.html.contains('`'), "{}", out.html);
        assert!(
            out.text
                .contains("  - #reslove: unknown command; did you mean #resolve?"),
            "{}",
            out.text
        );
        assert!(
            out.html
                .contains("<li>#reslove: unknown command; did you mean #resolve?</li>"),
            "{}",
            out.html
        );
    }

    #[test]
    fn the_escalation_invites_a_reply_only_when_managers_act_by_mail() {
        let r = load_templates(&shipped()).unwrap();
        let mut m = MailContext::sample();
        m.answer_by_reply = true;
        let invites = r.render("manager_escalation", &m).unwrap();
        for part in [&invites.text, &invites.html] {
            assert!(
                part.contains("reply to this e-mail to answer the customer"),
                "{part}"
            );
            assert!(
                part.contains("#resolve") && part.contains("#note"),
                "{part}"
            );
        }
        m.answer_by_reply = false;
        let not = r.render("manager_escalation", &m).unwrap();
        for part in [&not.text, &not.html] {
            assert!(
                !part.to_lowercase().contains("reply to this e-mail"),
                "{part}"
            );
            assert!(!part.contains("#resolve"), "{part}");
            assert!(part.contains("do not reach the customer"), "{part}");
        }
    }

    #[test]
    fn escalations_say_what_was_due_and_reminders_how_soon() {
        let r = load_templates(&shipped()).unwrap();
        let m = MailContext::sample();
        let esc = r.render("manager_escalation", &m).unwrap();
        for part in [&esc.text, &esc.html] {
            assert!(
                part.contains("Monday 23 November 2026, 12:00 CET"),
                "{part}"
            );
            assert!(part.contains("5 minutes"), "{part}");
        }
        let warn = r.render("agent_sla_warning", &m).unwrap();
        assert!(warn.text.contains("(in 30 minutes)") && warn.html.contains("(in 30 minutes)"));
        let sorry = r.render("customer_escalated", &m).unwrap();
        assert_eq!(sorry.text.matches("sorry").count(), 1, "{}", sorry.text);
        let mut on_time = m.clone();
        on_time.missed_target = None;
        let plain = r.render("customer_escalated", &on_time).unwrap();
        assert!(!plain.text.contains("sorry"), "{}", plain.text);
        let reply = r.render("customer_agent_reply", &m).unwrap();
        assert_eq!(
            reply.text.matches(SAMPLE_REFERENCE).count(),
            1,
            "{}",
            reply.text
        );
    }

    #[test]
    fn the_digest_reads_on_a_phone_with_labels_and_plurals() {
        let r = load_templates(&shipped()).unwrap();
        let out = r.render(digest::TEMPLATE, &digest_sample()).unwrap();
        for part in [&out.text, &out.html] {
            assert!(!part.contains("rating(s)"), "{part}");
            assert!(!part.contains("(urgent"), "raw priority name: {part}");
        }
        assert!(out.text.contains("Urgent, opened"), "{}", out.text);
        assert!(!out.text.contains("12:00 (Europe/Berlin)"), "{}", out.text);
        assert!(out.html.contains(&format!(
            "<strong style=\"white-space: nowrap;\">{SAMPLE_REFERENCE}</strong>"
        )));
        assert!(
            !out.html.contains("width: 240px"),
            "fixed widths overflow a phone"
        );
    }

    #[test]
    fn a_template_with_a_syntax_error_is_reported_with_its_name() {
        let dir = copy_of_templates();
        std::fs::write(
            dir.path().join("acknowledgment.txt.tera"),
            "Hello {{ reference }",
        )
        .unwrap();
        std::fs::write(dir.path().join("acknowledgment.html.tera"), "ok").unwrap();
        let e = load_templates(dir.path()).unwrap_err().to_string();
        assert!(e.contains("acknowledgment.txt.tera"), "{e}");
    }

    #[test]
    fn an_unknown_variable_fails_the_check() {
        let dir = copy_of_templates();
        std::fs::write(
            dir.path().join("acknowledgment.txt.tera"),
            "Hello {{ no_such_thing }}",
        )
        .unwrap();
        std::fs::write(dir.path().join("acknowledgment.html.tera"), "ok").unwrap();
        let r = load_templates(dir.path()).unwrap();
        let e = check_all(&r, &crate::locale::Locales::builtin())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no_such_thing"), "{e}");
    }

    #[test]
    fn an_unknown_variable_in_a_rarely_taken_branch_fails_the_check() {
        let dir = copy_of_templates();
        std::fs::write(
            dir.path().join("customer_resolved.txt.tera"),
            "{% if customer_name %}Hi{% else %}{{ typo_name }}{% endif %}",
        )
        .unwrap();
        let r = load_templates(dir.path()).unwrap();
        let e = check_all(&r, &crate::locale::Locales::builtin())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("typo_name") && e.contains("customer_resolved"),
            "{e}"
        );
    }
}
