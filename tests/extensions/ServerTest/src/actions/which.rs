//! Which package answers.
use crate::types::*;

/// The content of resources/version.txt.
pub fn which() -> Result<WhichOutput, ActionError> {
    Ok(WhichOutput { version: crate::version() })
}
