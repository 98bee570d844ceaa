//! The quick call.
use crate::host;
use crate::types::*;

/// Greets.
pub fn hello(who: String, times: i32) -> Result<HelloOutput, ActionError> {
    let word = host::setting("Greeting").unwrap_or_default();
    let n = usize::try_from(times.clamp(1, 10)).unwrap_or(1);
    Ok(HelloOutput { message: vec![format!("{word}, {who}!"); n].join(" ") })
}
