//! `?` on library errors, with and without `context`.
use crate::types::*;

/// Parses the text as a whole number; with an empty text, reads a file that is not there; a
/// lone `-` is no number.
pub fn parse(text: String) -> Result<ParseOutput, ActionError> {
    if text.is_empty() {
        std::fs::read("/no/such/file")?;
    }
    if text == "-" {
        None::<i64>.context("a lone minus is no number")?;
    }
    let number: i64 = text.trim().parse().with_context(|| format!("Text {text:?}"))?;
    Ok(ParseOutput { number })
}
