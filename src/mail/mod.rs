//! The mail the daemon sends, built in one place for the pipeline and for
//! `mailcase template preview`: which templates exist ([`TEMPLATES`]), what they see
//! (`context.rs`), how those values are filled from a case (`build.rs`), how times, sizes
//! and durations read in them (`format.rs`), and the check that every template renders
//! against samples before the daemon relies on it (`check.rs`).
//!
//! The arrows go one way: `pipeline` and `cli` use this module; it uses `render` (tera) and
//! the digest's context from `report::digest`; `render` knows nothing of mail.

mod build;
mod check;
mod context;
mod format;
mod restate;

use std::path::Path;

use crate::locale::Locales;
use crate::render::{RenderError, Renderer};

pub use build::{
    ack_context, attachment_info, case_mail_context, for_customer, history, localize,
    missed_target, new_timeline, people_listed, rating_links, reminder, AckFacts, Words,
};
pub use check::check_all;
pub use context::{
    help_lines, help_lines_for, AckContext, AttachmentInfo, FoundItem, HelpLine, HistoryLine,
    MailContext, RatingLink,
};
pub use format::{excerpt, human_size, human_span, relative, wrap};
pub use restate::{restate, Found};

/// The acknowledgment's template, the one that sees an [`AckContext`].
pub const ACKNOWLEDGMENT: &str = "acknowledgment";

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
    "agent_colleague",
    "agent_notice",
    "agent_answer_held",
    "agent_intake_help",
    "customer_merged",
    "agent_merged",
];

/// Every template the daemon uses (names without `.txt.tera`/`.html.tera`): the
/// acknowledgment, the case templates and the management digest.
pub fn templates() -> impl Iterator<Item = &'static str> {
    std::iter::once(ACKNOWLEDGMENT)
        .chain(CASE_TEMPLATES.iter().copied())
        .chain(std::iter::once(crate::report::digest::TEMPLATE))
}

/// Loads the templates folder, requiring every template of [`templates`] in both parts.
///
/// # Errors
/// As [`Renderer::load`].
pub fn load_templates(dir: &Path) -> Result<Renderer, RenderError> {
    Renderer::load(dir, &templates().collect::<Vec<_>>())
}

/// Why the templates folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("templates: {0}")]
    Locale(#[from] crate::locale::LocaleError),
}

/// The configured templates folder: its templates in every language, and each language's
/// phrases, with `language.default` as the fallback of the others.
///
/// # Errors
/// As [`load_templates`] and [`Locales::load`].
pub fn load_all(cfg: &crate::config::Config) -> Result<(Renderer, Locales), LoadError> {
    let dir = cfg.templates_dir();
    let mut renderer = match &cfg.templates.overlay {
        Some(brand) => Renderer::load_overlay(&dir, brand, &templates().collect::<Vec<_>>())?,
        None => load_templates(&dir)?,
    };
    let locales = Locales::load_overlay(
        &dir,
        cfg.templates.overlay.as_deref(),
        &cfg.language.default,
        &cfg.language.team,
    )?;
    // A question the acknowledgment would ask must have words, at least in the default
    // language (every other language falls back to them).
    for (i, a) in cfg.acknowledgment.ask.iter().enumerate() {
        if locales
            .word(locales.default_language(), "questions", &a.question)
            .is_none()
        {
            return Err(LoadError::Locale(crate::locale::LocaleError {
                path: dir.join("phrases.toml"),
                message: format!(
                    "acknowledgment.ask[{i}].question = \"{q}\" has no words: add \
                     `{q} = \"...\"` under [questions] (language.default {d}, or the top folder)",
                    q = a.question,
                    d = locales.default_language()
                ),
            }));
        }
    }
    renderer.set_fallback(Some(locales.default_language()));
    renderer.set_top_language(crate::locale::BASE);
    Ok((renderer, locales))
}

/// Notice lines for agents' mail, each wrapped at 72 columns (the text part; the HTML part
/// joins them again). A line of a notice that starts with two spaces (a command to copy) is
/// kept whole.
pub fn notice_lines(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|n| {
            n.split('\n')
                .map(|l| {
                    if l.starts_with("  ") {
                        l.to_string()
                    } else {
                        wrap(l, 72).join("\n")
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// Renders the status update `template` with `m` and puts it into `m`, to be appended to the
/// mail `m` is for (a relayed answer, the escalation notice).
///
/// # Errors
/// The update's template does not render.
pub fn with_update(
    renderer: &Renderer,
    template: &str,
    m: &mut MailContext,
) -> Result<(), RenderError> {
    let r = renderer.render_in(Some(&m.language), template, m)?;
    m.update_text = Some(r.text.trim().to_string());
    m.update_html = Some(r.html);
    Ok(())
}

#[cfg(test)]
pub(crate) use check::tests::copy_of_templates;
