//! Panics.
use crate::types::*;

/// Panics with the given message.
pub fn panic(message: String) -> Result<(), ActionError> {
    panic!("{message}")
}
