//! Never stops allocating.
use crate::types::*;

/// Allocates memory without end.
pub fn hog() -> Result<(), ActionError> {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        kept.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}
