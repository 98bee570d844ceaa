//! Recursion without end.
use crate::types::*;

/// Calls itself until the stack runs out.
fn down(n: i32) -> i32 {
    let frame = std::hint::black_box([n; 64]);
    down(frame[63].wrapping_add(1)).wrapping_add(frame[0])
}

/// Recurses without end (a stack overflow).
pub fn recurse(seed: i32) -> Result<RecurseOutput, ActionError> {
    Ok(RecurseOutput { depth: down(seed) })
}
