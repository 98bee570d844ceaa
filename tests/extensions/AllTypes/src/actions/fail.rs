//! Returns an action error.
use crate::types::*;

/// Returns an action error with the given message.
pub fn fail(message: String) -> Result<(), ActionError> {
    Err(ActionError::new(message))
}
