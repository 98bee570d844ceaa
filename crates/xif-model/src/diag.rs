//! Diagnostics: what Verify says, where, and how to fix it, printed the way rustc prints.
use std::fmt::Write as _;
use std::ops::Range;

/// How serious a diagnostic is. Errors stop a publish; warnings never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Must be fixed before the extension can be compiled or published.
    Error,
    /// Worth a look; never blocks.
    Warning,
}

/// One finding about an extension, with the place it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code, `E…` for errors and `W…` for warnings (see `docs/EXTENSIONS.md`).
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The file the span points into, relative to the extension folder (`extension.toml` by default).
    pub file: String,
    /// Byte range in `file` that the message is about.
    pub span: Option<Range<usize>>,
    /// A short label printed under the caret.
    pub label: Option<String>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A new error about `span` in `extension.toml`.
    pub fn error(code: &'static str, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            file: crate::DEFINITION_FILE.to_string(),
            span,
            label: None,
            help: None,
        }
    }

    /// A new warning about `span` in `extension.toml`.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, message, span) }
    }

    /// Adds the label printed under the caret.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds the hint that says how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Points the diagnostic at another file of the extension.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = file.into();
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The 1-based line and column (in characters) where the span starts, in `source`.
    pub fn line_col(&self, source: &str) -> Option<(usize, usize)> {
        self.span.as_ref().map(|s| line_col(source, s.start))
    }
}

/// The 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Prints diagnostics rustc-style, with a caret excerpt of `source` (the text of the file the
/// diagnostics point into; diagnostics about other files print without an excerpt unless
/// `sources` can find them).
pub fn render(diags: &[Diagnostic], sources: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    for d in diags {
        render_one(&mut out, d, sources(&d.file).as_deref());
    }
    out
}

/// The closing count line, for example `2 errors, 1 warning`.
pub fn count_line(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    format!("{}, {}", plural(errors, "error"), plural(warnings, "warning"))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

fn render_one(out: &mut String, d: &Diagnostic, source: Option<&str>) {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{kind}[{}]: {}", d.code, d.message);
    match (source, &d.span) {
        (Some(src), Some(span)) => {
            let (line, col) = line_col(src, span.start);
            let width = line.to_string().len();
            let pad = " ".repeat(width);
            let _ = writeln!(out, "{pad}--> {}:{line}:{col}", d.file);
            let text = src.lines().nth(line - 1).unwrap_or("");
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{line} | {text}");
            let line_chars = text.chars().count();
            let start = span.start.min(src.len());
            let end = span.end.clamp(start, src.len());
            let len = src[floor_char_boundary(src, start)..floor_char_boundary(src, end)]
                .lines()
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0)
                .min(line_chars.saturating_sub(col - 1))
                .max(1);
            let carets = "^".repeat(len);
            let label = d.label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            let _ = writeln!(out, "{pad} | {}{carets}{label}", " ".repeat(col - 1));
            if let Some(help) = &d.help {
                let _ = writeln!(out, "{pad} |");
                write_help(out, &pad, help);
            }
        }
        _ => {
            let _ = writeln!(out, " --> {}", d.file);
            if let Some(help) = &d.help {
                write_help(out, " ", help);
            }
        }
    }
    out.push('\n');
}

/// `= help: …`, with the lines after the first aligned under the first one's text.
fn write_help(out: &mut String, pad: &str, help: &str) {
    let mut lines = help.lines();
    let _ = writeln!(out, "{pad} = help: {}", lines.next().unwrap_or(""));
    let indent = " ".repeat(pad.len() + " = help: ".len());
    for line in lines {
        let _ = writeln!(out, "{indent}{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let src = "a = 1\nné = \"x\"\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        let at = src.find('=').map(|_| src.rfind('=').unwrap_or(0)).unwrap_or(0);
        assert_eq!(line_col(src, at), (2, 4));
    }

    #[test]
    fn renders_caret_under_span() {
        let src = "[extension]\nname = \"9x\"\n";
        let start = src.find("\"9x\"").unwrap_or(0);
        let d = Diagnostic::error("E010", "bad name", Some(start..start + 4)).label("here").help("fix it");
        let text = render(&[d], &|_| Some(src.to_string()));
        assert!(text.contains("error[E010]: bad name"), "{text}");
        assert!(text.contains("--> extension.toml:2:8"), "{text}");
        assert!(text.contains("2 | name = \"9x\""), "{text}");
        assert!(text.contains("  |        ^^^^ here"), "{text}");
        assert!(text.contains("= help: fix it"), "{text}");
        assert_eq!(count_line(&[]), "0 errors, 0 warnings");
    }
}
