//! Templates: tera files in the configured folder, text and HTML parts.
//!
//! HTML templates (`*.html.tera`) are autoescaped; customer text is always a value, never
//! template source, so `{{ ... }}` in a complaint is printed as written.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tera::{Context, Tera};

/// The templates that see a [`MailContext`] (every one but the acknowledgment).
pub const CASE_TEMPLATES: &[&str] = &[
    "agent_sla_warning",
    "agent_undeliverable",
    "agent_loop_stopped",
    "agent_flood_held",
    "manager_escalation",
    "customer_update",
    "customer_status_update",
    "customer_follow_up",
    "customer_feedback_request",
    "agent_new_case",
    "agent_customer_message",
    "agent_command_error",
    "customer_agent_reply",
    "customer_resolved",
    "customer_escalated",
    "customer_priority_raised",
];

/// Every template the daemon uses (names without `.txt.tera`/`.html.tera`): the
/// acknowledgment, the case templates and the management digest.
pub fn templates() -> impl Iterator<Item = &'static str> {
    std::iter::once("acknowledgment")
        .chain(CASE_TEMPLATES.iter().copied())
        .chain(std::iter::once(crate::report::digest::TEMPLATE))
}

/// Template errors name the file and what is wrong in it.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("templates in {dir}: {message}")]
    Load { dir: PathBuf, message: String },
    #[error("template {name}: {message}")]
    Render { name: String, message: String },
}

/// Flattens tera's error chain, which keeps the useful part (line, variable) in its sources.
fn chain(e: &tera::Error) -> String {
    let mut s = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The loaded templates.
#[derive(Debug)]
pub struct Renderer {
    tera: Tera,
}

/// One message rendered in both parts.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub html: String,
}

impl Renderer {
    /// Loads `*.tera` from `dir`, requiring every template of [`templates`] in both parts.
    ///
    /// # Errors
    /// [`RenderError::Load`] with the file and line of a syntax error, a missing template, or
    /// the path and OS error of a folder or file that cannot be read.
    pub fn load(dir: &Path) -> Result<Renderer, RenderError> {
        // The glob below skips what it cannot read, which would report a folder without
        // permission as "missing template".
        if let Err(e) = std::fs::read_dir(dir) {
            return Err(RenderError::Load {
                dir: dir.to_path_buf(),
                message: format!("cannot read the folder {}: {e}", dir.display()),
            });
        }
        let glob = format!("{}/**/*.tera", dir.display());
        let mut tera = Tera::new(&glob).map_err(|e| RenderError::Load {
            dir: dir.to_path_buf(),
            message: chain(&e),
        })?;
        tera.autoescape_on(vec![".html.tera", ".html"]);
        let names: Vec<String> = tera.get_template_names().map(String::from).collect();
        for t in templates() {
            for part in ["txt", "html"] {
                let n = format!("{t}.{part}.tera");
                if !names.iter().any(|x| x == &n) {
                    let path = dir.join(&n);
                    let message = match std::fs::File::open(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            format!("cannot read {}: {e}", path.display())
                        }
                        _ => format!("missing template {n}"),
                    };
                    return Err(RenderError::Load {
                        dir: dir.to_path_buf(),
                        message,
                    });
                }
            }
        }
        Ok(Renderer { tera })
    }

    /// Renders both parts of template `name` with `ctx`.
    ///
    /// # Errors
    /// [`RenderError::Render`] naming the template and the undefined variable or failed filter.
    pub fn render<C: Serialize>(&self, name: &str, ctx: &C) -> Result<Rendered, RenderError> {
        let ctx = Context::from_serialize(ctx).map_err(|e| RenderError::Render {
            name: name.to_string(),
            message: chain(&e),
        })?;
        let one = |part: &str| {
            let n = format!("{name}.{part}.tera");
            self.tera.render(&n, &ctx).map_err(|e| RenderError::Render {
                name: n,
                message: chain(&e),
            })
        };
        Ok(Rendered {
            text: one("txt")?,
            html: one("html")?,
        })
    }
}

/// What the acknowledgment template sees.
#[derive(Debug, Clone, Serialize)]
pub struct AckContext {
    pub reference: String,
    pub customer_name: Option<String>,
    pub subject: String,
    pub category_label: String,
    pub priority_label: String,
    /// "within 2 hours", "within 1 business day".
    pub promise: String,
    /// The due time in the business time zone, e.g. "Tuesday 24 November 2026, 10:00 CET".
    pub due_local: String,
    pub excerpt: String,
    pub attachments: Vec<String>,
    pub support_name: String,
}

impl AckContext {
    /// A sample, for `mailcase check` and template previews.
    pub fn sample() -> AckContext {
        AckContext {
            reference: "CMP-7KQ4X-M".into(),
            customer_name: Some("Jane Doe".into()),
            subject: "Invoice charged twice <script>alert(1)</script> {{ reference }}".into(),
            category_label: "Billing".into(),
            priority_label: "Normal".into(),
            promise: "within 1 business day".into(),
            due_local: "Tuesday 24 November 2026, 10:00 CET".into(),
            excerpt: "I was charged twice for my November invoice.".into(),
            attachments: vec!["invoice.pdf".into()],
            support_name: "Example Support".into(),
        }
    }
}

/// An attachment as templates list it.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentInfo {
    pub name: String,
    pub content_type: String,
    /// "12 KB".
    pub size: String,
    /// False when it was too large to attach (listed only).
    pub attached: bool,
}

/// One message of a case, for digests.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    /// Local time, readable.
    pub at: String,
    pub from: String,
    /// `customer`, `agent`, `cc`.
    pub role: String,
    /// An internal note (never shown to the customer).
    pub internal: bool,
    pub text: String,
}

/// A one-click rating: a mailto link to a signed feedback address.
#[derive(Debug, Clone, Serialize)]
pub struct RatingLink {
    pub rating: u8,
    pub href: String,
}

/// A command and what it does, for the agents' help.
#[derive(Debug, Clone, Serialize)]
pub struct HelpLine {
    pub command: String,
    pub meaning: String,
}

/// What every case template (agent notifications, relayed answers, status updates) sees.
/// One set of variables for all of them, so an admin editing one template can use anything
/// another one uses; values that do not apply are empty.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MailContext {
    pub reference: String,
    pub support_name: String,
    pub customer_name: Option<String>,
    pub customer_address: String,
    /// The case's subject (without prefixes and tag).
    pub subject: String,
    pub status: String,
    pub category_label: String,
    pub priority_label: String,
    /// "within 2 hours": the current promise for the next answer.
    pub promise: String,
    /// The due time in the business time zone (first response, or the new one after
    /// escalation or a priority change).
    pub due_local: String,
    /// The message this mail is about: the complaint, the customer's reply, or the agent's
    /// answer (quoted history removed).
    pub text: String,
    pub attachments: Vec<AttachmentInfo>,
    /// Who wrote `text`, when it is not the case's customer (a colleague in Cc).
    pub sender: Option<String>,
    /// The agent answering, as shown to the customer.
    pub agent_name: String,
    /// The case this one mentions (a reference quoted by someone who is not its customer).
    pub linked_reference: Option<String>,
    /// `linked_reference` is the customer's own resolved case, answered after its reopen
    /// window (rather than a case quoted by someone who is not its participant).
    pub late_reply: bool,
    /// The customer's message reopened a resolved case.
    pub reopened: bool,
    /// Why the receiving server's verdicts make this new case suspected spam (its sender
    /// may be forged, so it was not acknowledged); `None` for an ordinary case.
    pub suspected_spam: Option<String>,
    /// A status update rendered from its own template, appended to a relayed answer.
    pub update_text: Option<String>,
    pub update_html: Option<String>,
    /// The internal reason given with `#escalate`.
    pub reason: Option<String>,
    /// What was wrong with an agent's reply.
    pub errors: Vec<String>,
    /// The commands agents can use.
    pub help: Vec<HelpLine>,
    /// "14 days": how long a reply reopens a resolved case.
    pub reopen_window: String,
    /// Which target a reminder is about: "first response" or "resolution".
    pub sla_kind: String,
    /// The case's messages, for escalation digests.
    pub history: Vec<HistoryLine>,
    /// One-click rating links 1-5 (feedback requests).
    pub rating_links: Vec<RatingLink>,
    /// A rating the customer gave, and its comment.
    pub rating: Option<u8>,
    pub comment: Option<String>,
}

impl MailContext {
    /// A sample with hostile customer text, for `mailcase check` and template previews.
    pub fn sample() -> MailContext {
        MailContext {
            reference: "CMP-7KQ4X-M".into(),
            support_name: "Example Support".into(),
            customer_name: Some("Jane Doe".into()),
            customer_address: "jane@customer.test".into(),
            subject: "Invoice charged twice <script>alert(1)</script> {{ reference }}".into(),
            status: "in_progress".into(),
            category_label: "Billing".into(),
            priority_label: "Normal".into(),
            promise: "within 1 business day".into(),
            due_local: "Tuesday 24 November 2026, 10:00 CET".into(),
            text: "I was charged twice.\n<b>Please</b> refund {% raw %}".into(),
            attachments: vec![AttachmentInfo {
                name: "invoice.pdf".into(),
                content_type: "application/pdf".into(),
                size: "12 KB".into(),
                attached: true,
            }],
            sender: Some("colleague@customer.test".into()),
            agent_name: "Ann Agent".into(),
            linked_reference: Some("CMP-0A1B2-3".into()),
            late_reply: false,
            reopened: true,
            suspected_spam: Some("suspected spam: X-Spam-Flag: YES".into()),
            update_text: Some("Your case is resolved.".into()),
            update_html: Some("<p>Your case is resolved.</p>".into()),
            reason: Some("customer threatens to cancel".into()),
            errors: vec!["`#reslove`: unknown command #reslove".into()],
            help: help_lines(),
            reopen_window: "14 days".into(),
            sla_kind: "first response".into(),
            history: vec![HistoryLine {
                at: "Monday 23 November 2026, 10:00 CET".into(),
                from: "jane@customer.test".into(),
                role: "customer".into(),
                internal: false,
                text: "I was charged twice <script>x</script>".into(),
            }],
            rating_links: (1..=5)
                .map(|n| RatingLink {
                    rating: n,
                    href: format!("mailto:support+f.cmp-7kq4x-m.0000000000000000.{n}@support.test?subject=Rating%20{n}"),
                })
                .collect(),
            rating: Some(2),
            comment: Some("Took too long <b>really</b>".into()),
        }
    }
}

/// The command help as template values.
pub fn help_lines() -> Vec<HelpLine> {
    crate::case::commands::HELP
        .iter()
        .map(|(c, m)| HelpLine {
            command: (*c).into(),
            meaning: (*m).into(),
        })
        .collect()
}

/// Checks that every template renders against a sample.
///
/// # Errors
/// The first template that fails, with its reason.
pub fn check_all(r: &Renderer) -> Result<(), RenderError> {
    r.render("acknowledgment", &AckContext::sample())?;
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
    let digest = crate::report::digest::DigestContext::sample();
    r.render(crate::report::digest::TEMPLATE, &digest)?;
    let mut quiet = digest;
    quiet.view.breached.clear();
    quiet.view.escalated.clear();
    quiet.view.comments.clear();
    quiet.view.keywords.clear();
    quiet.view.busiest_hours.clear();
    quiet.charts.clear();
    quiet.legend.clear();
    r.render(crate::report::digest::TEMPLATE, &quiet)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn templates() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
    }

    /// A copy of the shipped templates an admin is about to edit.
    pub(crate) fn copy_of_templates() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(templates()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
        dir
    }

    #[test]
    fn every_case_template_renders_and_escapes_customer_text() {
        let r = Renderer::load(&templates()).unwrap();
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
        assert!(card.text.contains("CMP-0A1B2-3"), "linked case named");
        assert!(card.text.contains("#resolve"), "commands listed");
    }

    #[test]
    fn shipped_templates_render_and_escape_html() {
        let r = Renderer::load(&templates()).unwrap();
        let out = r.render("acknowledgment", &AckContext::sample()).unwrap();
        assert!(out.text.contains("CMP-7KQ4X-M"));
        assert!(
            out.text.contains("{{ reference }}"),
            "customer text is data, not template"
        );
        assert!(!out.html.contains("<script>"));
        assert!(out.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn the_digest_template_escapes_subjects_comments_and_keywords() {
        let r = Renderer::load(&templates()).unwrap();
        let out = r
            .render(
                crate::report::digest::TEMPLATE,
                &crate::report::digest::DigestContext::sample(),
            )
            .unwrap();
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
        assert!(out.text.contains("CMP-7KQ4X-M"));
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
        let e = Renderer::load(dir.path()).unwrap_err().to_string();
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
        let r = Renderer::load(dir.path()).unwrap();
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
        let r = Renderer::load(dir.path()).unwrap();
        let e = check_all(&r).unwrap_err().to_string();
        assert!(
            e.contains("typo_name") && e.contains("customer_resolved"),
            "{e}"
        );
    }
}
