//! The Csv extension: CSV text read and written by the csv crate, inside the sandbox.
//!
//! Each action is a function in `src/actions/<action>.rs`; `src/generated/` and
//! `src/actions/mod.rs` are rewritten from extension.toml.

pub mod actions;
mod generated;

pub use generated::{entities, host, types};

/// The one byte of a Delimiter input: a single ASCII character.
pub fn delimiter(text: &str) -> Result<u8, types::ActionError> {
    match text.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(format!("Delimiter must be one ASCII character, not {text:?}").into()),
    }
}

/// The line of `text` (from 1) where `record` starts.
///
/// Not `record.position().line()`: after a CRLF line end the csv crate (1.4.0) puts the next
/// record's position at the `\n`, before it counts that line, so its line numbers are one short
/// in CRLF text (its byte offset is that `\n`, which this counts).
pub fn line_of(text: &str, record: &csv::StringRecord) -> Result<i32, types::ActionError> {
    let Some(at) = record.position().map(|p| p.byte() as usize) else { return Ok(0) };
    let before = &text.as_bytes()[..text.len().min(at + 1)];
    Ok(i32::try_from(1 + before.iter().filter(|&&b| b == b'\n').count())?)
}
