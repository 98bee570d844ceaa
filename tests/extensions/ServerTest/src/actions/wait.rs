//! Waits inside a host call.
use crate::host;
use crate::types::*;

/// Logs "latch" (where a test's hook holds the call), then says which package answers.
pub fn wait() -> Result<WaitOutput, ActionError> {
    let before = crate::version();
    host::info("latch");
    Ok(WaitOutput { version: before })
}
