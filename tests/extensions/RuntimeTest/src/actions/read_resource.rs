//! Reads a packed resource.
use crate::types::*;

/// Reads a packed resource.
pub fn read_resource(path: String) -> Result<ReadResourceOutput, ActionError> {
    Ok(match crate::host::read_resource(&path) {
        Some(content) => ReadResourceOutput { found: true, content },
        None => ReadResourceOutput { found: false, content: Vec::new() },
    })
}
