//! Loops forever.
use crate::types::*;

/// Loops forever.
pub fn spin() -> Result<(), ActionError> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}
