//! A huge output.
use crate::types::*;

/// Returns a text of `mebibytes` MiB.
pub fn huge(mebibytes: i32) -> Result<HugeOutput, ActionError> {
    let n = usize::try_from(mebibytes).unwrap_or(0) << 20;
    Ok(HugeOutput { text: "x".repeat(n) })
}
