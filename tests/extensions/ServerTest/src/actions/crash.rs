//! Panics.
use crate::types::*;

/// Panics with the message.
pub fn crash(message: String) -> Result<(), ActionError> {
    panic!("{message}")
}
