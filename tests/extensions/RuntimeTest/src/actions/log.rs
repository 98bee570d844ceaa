//! Logs through the host.
use crate::host::{Level, log as host_log};
use crate::types::*;

/// Logs the message at info and at warn.
pub fn log(message: String) -> Result<(), ActionError> {
    host_log(Level::Info, &message);
    host_log(Level::Warn, &format!("careful: {message}"));
    Ok(())
}
