//! Does nothing: measures the cost of a call.
use crate::types::*;

/// Does nothing.
pub fn noop() -> Result<(), ActionError> {
    Ok(())
}
