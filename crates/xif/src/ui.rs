//! Progress on stderr, cargo style: a right-aligned verb, then what happened.
pub struct Ui {
    color: bool,
}

impl Ui {
    pub fn new(color: bool) -> Ui {
        Ui { color }
    }

    /// Whether it paints in colour.
    pub fn color(&self) -> bool {
        self.color
    }

    /// `   Compiling Greetings`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.color {
            eprintln!("\x1b[1;32m{verb:>12}\x1b[0m {message}");
        } else {
            eprintln!("{verb:>12} {message}");
        }
    }

    pub fn warn(&self, message: &str) {
        if self.color {
            eprintln!("\x1b[1;33mwarning\x1b[0m: {message}");
        } else {
            eprintln!("warning: {message}");
        }
    }

    pub fn error(&self, message: &str) {
        if self.color {
            eprintln!("\x1b[1;31merror\x1b[0m: {message}");
        } else {
            eprintln!("error: {message}");
        }
    }
}

/// `text` fit for one line of a terminal: control characters (escape sequences, carriage
/// returns, new lines) written as Rust escapes, so text from a server or an extension can neither
/// drive the terminal nor forge another line.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    // Control characters, and the marks that reorder text on screen (bidirectional overrides).
    let unsafe_char = |c: char| {
        c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_escapes_control_characters_only() {
        assert_eq!(super::one_line("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(super::one_line("a\nforged\x1b]52;c;AAAA\x07\rline"), "a\\nforged\\u{1b}]52;c;AAAA\\u{7}\\rline");
        assert_eq!(super::one_line("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
