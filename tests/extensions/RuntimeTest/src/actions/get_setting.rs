//! Reads a setting.
use crate::types::*;

/// Reads a setting.
pub fn get_setting(name: String) -> Result<GetSettingOutput, ActionError> {
    Ok(match crate::host::setting(&name) {
        Some(value) => GetSettingOutput { found: true, value },
        None => GetSettingOutput { found: false, value: String::new() },
    })
}
