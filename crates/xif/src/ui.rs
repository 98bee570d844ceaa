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
