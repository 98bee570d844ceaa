//! Allocates memory without end.
use crate::types::*;

/// Allocates memory without end, touching it so that it is really used.
pub fn hog() -> Result<(), ActionError> {
    let mut keep: Vec<Vec<u8>> = Vec::new();
    loop {
        keep.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&keep);
    }
}
