//! Fails.
use crate::types::*;

/// Returns an action error with the message.
pub fn fail(message: String) -> Result<(), ActionError> {
    Err(ActionError::new(message))
}
