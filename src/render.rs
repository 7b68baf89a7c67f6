//! Templates: tera files in the configured folder, text and HTML parts.
//!
//! HTML templates (`*.html.tera`) are autoescaped; customer text is always a value, never
//! template source, so `{{ ... }}` in a complaint is printed as written.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tera::{Context, Tera};

/// Every template the daemon uses: (name without `.txt.tera`/`.html.tera`).
pub const TEMPLATES: &[&str] = &["acknowledgment"];

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
    /// Loads `*.tera` from `dir`, requiring every template in [`TEMPLATES`] in both parts.
    ///
    /// # Errors
    /// [`RenderError::Load`] with the file and line of a syntax error, or a missing template.
    pub fn load(dir: &Path) -> Result<Renderer, RenderError> {
        let glob = format!("{}/**/*.tera", dir.display());
        let mut tera = Tera::new(&glob).map_err(|e| RenderError::Load {
            dir: dir.to_path_buf(),
            message: chain(&e),
        })?;
        tera.autoescape_on(vec![".html.tera", ".html"]);
        let names: Vec<String> = tera.get_template_names().map(String::from).collect();
        for t in TEMPLATES {
            for part in ["txt", "html"] {
                let n = format!("{t}.{part}.tera");
                if !names.iter().any(|x| x == &n) {
                    return Err(RenderError::Load {
                        dir: dir.to_path_buf(),
                        message: format!("missing template {n}"),
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

/// Checks that every template renders against a sample.
///
/// # Errors
/// The first template that fails, with its reason.
pub fn check_all(r: &Renderer) -> Result<(), RenderError> {
    r.render("acknowledgment", &AckContext::sample())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"))
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
    fn a_template_with_a_syntax_error_is_reported_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
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
        let dir = tempfile::tempdir().unwrap();
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
}
