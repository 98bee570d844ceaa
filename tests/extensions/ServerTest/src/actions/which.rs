//! Which package answers.
use crate::types::*;

/// The content of resources/version.txt; a package whose version starts with `failing` fails
/// every call (a broken release, for the rollout guard's tests).
pub fn which() -> Result<WhichOutput, ActionError> {
    let version = crate::version();
    if version.starts_with("failing") {
        return Err(ActionError::new(format!("version {version} fails every call")));
    }
    Ok(WhichOutput { version })
}
