//! Reads a setting.
use crate::host;
use crate::types::*;

/// Reads a setting by name.
pub fn get_setting(name: String) -> Result<GetSettingOutput, ActionError> {
    let value = host::setting(&name);
    Ok(GetSettingOutput { found: value.is_some(), value: value.unwrap_or_default() })
}
