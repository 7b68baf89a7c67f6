//! Templates: tera files in the configured folder, text and HTML parts. This module knows
//! tera and nothing of what the daemon sends: which templates must exist and what they see
//! are the mail module's (`crate::mail`).
//!
//! HTML templates (`*.html.tera`) are autoescaped; customer text is always a value, never
//! template source, so `{{ ... }}` in a complaint is printed as written.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tera::{Context, Tera};

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

/// Columns a character takes in a terminal: two for the wide scripts (CJK, kana, full-width
/// forms), one for the rest.
pub fn columns(c: char) -> usize {
    if matches!(c, '\u{1100}'..='\u{115F}' | '\u{2E80}'..='\u{A4CF}' | '\u{AC00}'..='\u{D7A3}' | '\u{F900}'..='\u{FAFF}' | '\u{FE30}'..='\u{FE4F}' | '\u{FF00}'..='\u{FF60}' | '\u{FFE0}'..='\u{FFE6}')
    {
        2
    } else {
        1
    }
}

/// `text` broken into lines of at most `width` columns: at spaces, and anywhere between two
/// wide characters (Japanese is written without spaces); a longer word keeps a line of its
/// own.
pub fn wrap_columns(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    for word in text.split_whitespace() {
        let w: usize = word.chars().map(columns).sum();
        // Between two wide characters a line break was no space (Japanese wrapped in the
        // template): the words join without one.
        let gap = match (line.chars().last(), word.chars().next()) {
            (Some(a), Some(b)) if columns(a) == 2 && columns(b) == 2 => 0,
            _ => 1,
        };
        if used > 0 && used + gap + w <= width {
            if gap == 1 {
                line.push(' ');
            }
            line.push_str(word);
            used += gap + w;
            continue;
        }
        if used > 0 && w <= width {
            lines.push(std::mem::take(&mut line));
            line.push_str(word);
            used = w;
            continue;
        }
        // Too long for what is left of the line (or for any line): break it between wide
        // characters, where breaking is allowed.
        if used > 0 && gap == 1 {
            line.push(' ');
            used += 1;
        }
        for c in word.chars() {
            let cw = columns(c);
            // Japanese never starts a line with closing punctuation (kinsoku): it hangs.
            let no_start = matches!(
                c,
                '。' | '、'
                    | '，'
                    | '．'
                    | '）'
                    | '」'
                    | '』'
                    | '！'
                    | '？'
                    | '・'
                    | 'ー'
                    | '〉'
                    | '》'
                    | '】'
            );
            let breakable =
                !no_start && (cw == 2 || line.chars().last().is_some_and(|p| columns(p) == 2));
            if used + cw > width && used > 0 && breakable {
                lines.push(std::mem::take(&mut line).trim_end().to_string());
                used = 0;
            }
            line.push(c);
            used += cw;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The `wrap` filter of text templates: `{{ empathy | wrap }}` (72 columns),
/// `{{ q | wrap(width=68, indent="    ") }}` (later lines indented), or a whole paragraph
/// with a long value in it (`{% filter wrap %}...{% endfilter %}`; blank lines stay).
fn wrap_filter(
    value: &tera::Value,
    args: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = tera::try_get_value!("wrap", "value", String, value);
    let width = match args.get("width") {
        Some(w) => tera::try_get_value!("wrap", "width", usize, w),
        None => 72,
    };
    let indent = match args.get("indent") {
        Some(i) => tera::try_get_value!("wrap", "indent", String, i),
        None => String::new(),
    };
    // Paragraphs (blank-line separated) stay apart; each is wrapped on its own.
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| wrap_columns(p, width.max(10)).join(&format!("\n{indent}")))
        .collect();
    Ok(tera::Value::String(paragraphs.join("\n\n")))
}

#[cfg(test)]
mod wrap_tests {
    use super::wrap_columns;

    #[test]
    fn lines_fit_their_columns_and_japanese_joins_without_spaces() {
        let l = wrap_columns("We have marked your case CMP-7KQ4X-V (\"A rather long subject that goes on\") as resolved.", 40);
        assert!(l.iter().all(|x| x.chars().count() <= 40), "{l:?}");
        let j = wrap_columns("お問い合わせは、\n解決済みとさせていただきました。", 72);
        assert_eq!(j, vec!["お問い合わせは、解決済みとさせていただきました。"]);
        // 20 wide characters take 40 columns.
        let long = "あ".repeat(50);
        let j = wrap_columns(&long, 40);
        assert_eq!(j.len(), 3, "{j:?}");
        assert_eq!(j[0].chars().count(), 20);
        // A full stop never starts a line.
        let j = wrap_columns(&format!("{}。", "あ".repeat(20)), 40);
        assert_eq!(j, vec![format!("{}。", "あ".repeat(20))]);
    }
}

/// The loaded templates: the top folder's, and each language folder's (`de/...`).
#[derive(Debug)]
pub struct Renderer {
    tera: Tera,
    /// The language a template missing in another language's folder is taken from before
    /// the top folder's.
    fallback: Option<String>,
    /// The language of the top folder's templates: asked for, they are used as they are,
    /// never the fallback's.
    top: Option<String>,
}

/// One message rendered in both parts.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub text: String,
    pub html: String,
}

impl Renderer {
    /// Loads `*.tera` from `dir`, requiring each template named in `required` in both parts.
    ///
    /// # Errors
    /// [`RenderError::Load`] with the file and line of a syntax error, a missing template, or
    /// the path and OS error of a folder or file that cannot be read.
    pub fn load(dir: &Path, required: &[&str]) -> Result<Renderer, RenderError> {
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
        tera.register_filter("wrap", wrap_filter);
        let names: Vec<String> = tera.get_template_names().map(String::from).collect();
        for t in required {
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
        Ok(Renderer {
            tera,
            fallback: None,
            top: None,
        })
    }

    /// [`Renderer::load`] of `base`, with the templates of `overlay` (a brand's folder, laid
    /// out like `base`) in place of those of the same name and language.
    ///
    /// # Errors
    /// As [`Renderer::load`], for either folder.
    pub fn load_overlay(
        base: &Path,
        overlay: &Path,
        required: &[&str],
    ) -> Result<Renderer, RenderError> {
        let base = Renderer::load(base, required)?;
        if let Err(e) = std::fs::read_dir(overlay) {
            return Err(RenderError::Load {
                dir: overlay.to_path_buf(),
                message: format!("cannot read the folder {}: {e}", overlay.display()),
            });
        }
        let glob = format!("{}/**/*.tera", overlay.display());
        let mut tera = Tera::new(&glob).map_err(|e| RenderError::Load {
            dir: overlay.to_path_buf(),
            message: chain(&e),
        })?;
        tera.autoescape_on(vec![".html.tera", ".html"]);
        tera.register_filter("wrap", wrap_filter);
        // The shipped templates the overlay does not replace (extend keeps its own).
        tera.extend(&base.tera).map_err(|e| RenderError::Load {
            dir: overlay.to_path_buf(),
            message: chain(&e),
        })?;
        Ok(Renderer {
            tera,
            fallback: None,
            top: None,
        })
    }

    /// Templates missing in a language's folder are taken from `lang`'s folder, then from
    /// the top folder.
    pub fn set_fallback(&mut self, lang: Option<&str>) {
        self.fallback = lang.map(str::to_string);
    }

    /// The language the top folder's templates are written in.
    pub fn set_top_language(&mut self, lang: &str) {
        self.top = Some(lang.to_string());
    }

    /// The name of the file tera knows for `name`'s `part` in `lang`: the language's folder,
    /// the fallback language's, else the top folder's.
    fn file_in(&self, lang: Option<&str>, name: &str, part: &str) -> String {
        if lang.is_some() && lang == self.top.as_deref() {
            return format!("{name}.{part}.tera");
        }
        for l in [lang, self.fallback.as_deref()].into_iter().flatten() {
            let n = format!("{l}/{name}.{part}.tera");
            if self.tera.get_template(&n).is_ok() {
                return n;
            }
        }
        format!("{name}.{part}.tera")
    }

    /// Whether `lang`'s folder has its own `name` (both parts or one).
    pub fn has_own(&self, lang: &str, name: &str) -> bool {
        ["txt", "html"].iter().any(|p| {
            self.tera
                .get_template(&format!("{lang}/{name}.{p}.tera"))
                .is_ok()
        })
    }

    /// Renders both parts of template `name` with `ctx`.
    ///
    /// # Errors
    /// [`RenderError::Render`] naming the template and the undefined variable or failed filter.
    pub fn render<C: Serialize>(&self, name: &str, ctx: &C) -> Result<Rendered, RenderError> {
        self.render_in(None, name, ctx)
    }

    /// Renders both parts of template `name` in `lang` (`None`: the top folder's), each part
    /// taken from the first folder that has it: `lang`'s, the fallback language's, the top
    /// folder.
    ///
    /// # Errors
    /// As [`Renderer::render`].
    pub fn render_in<C: Serialize>(
        &self,
        lang: Option<&str>,
        name: &str,
        ctx: &C,
    ) -> Result<Rendered, RenderError> {
        let ctx = Context::from_serialize(ctx).map_err(|e| RenderError::Render {
            name: name.to_string(),
            message: chain(&e),
        })?;
        let one = |part: &str| {
            let n = self.file_in(lang, name, part);
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
