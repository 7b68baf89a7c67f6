//! The check that every template renders against samples: at start and reload (the engine
//! refuses a template an admin broke) and in `mailcase check`.

use super::{AckContext, MailContext, ACKNOWLEDGMENT, CASE_TEMPLATES};
use crate::render::{RenderError, Renderer};
use crate::report::chart;
use crate::report::digest::{self, ChartRef, DigestContext};
use crate::report::Report;

/// Checks that every template renders against a sample.
///
/// # Errors
/// The first template that fails, with its reason.
pub fn check_all(r: &Renderer) -> Result<(), RenderError> {
    r.render(ACKNOWLEDGMENT, &AckContext::sample())?;
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
    for t in CASE_TEMPLATES {
        // Both with every optional value set and with none, so an `if` branch that names an
        // unknown variable is caught too.
        r.render(t, &MailContext::sample())?;
        r.render(t, &sparse)?;
        let mut late = MailContext::sample();
        late.late_reply = true;
        late.reopened = false;
        r.render(t, &late)?;
    }
    // The digest, full and for a period with nothing in it.
    let digest = digest_sample();
    r.render(digest::TEMPLATE, &digest)?;
    let mut quiet = digest;
    quiet.view.breached.clear();
    quiet.view.escalated.clear();
    quiet.view.comments.clear();
    quiet.view.keywords.clear();
    quiet.view.busiest_hours.clear();
    quiet.charts.clear();
    quiet.legend.clear();
    r.render(digest::TEMPLATE, &quiet)?;
    Ok(())
}

/// The digest's sample, with hostile text: a report of every kind of figure and one chart.
pub fn digest_sample() -> DigestContext {
    let r = Report::sample();
    let charts = vec![ChartRef {
        title: "Volume by category".into(),
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

    /// A copy of the shipped templates an admin is about to edit.
    pub(crate) fn copy_of_templates() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(shipped()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        dir
    }

    #[test]
    fn every_case_template_renders_and_escapes_customer_text() {
        let r = load_templates(&shipped()).unwrap();
        check_all(&r).unwrap();
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
        let e = check_all(&r).unwrap_err().to_string();
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
        let e = check_all(&r).unwrap_err().to_string();
        assert!(
            e.contains("typo_name") && e.contains("customer_resolved"),
            "{e}"
        );
    }
}
