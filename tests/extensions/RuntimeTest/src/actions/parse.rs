//! `?` on library errors.
use crate::types::*;

/// Parses the text as a whole number; with an empty text, reads a file that is not there.
pub fn parse(text: String) -> Result<ParseOutput, ActionError> {
    if text.is_empty() {
        std::fs::read("/no/such/file")?;
    }
    let number: i64 = text.trim().parse()?;
    Ok(ParseOutput { number })
}
