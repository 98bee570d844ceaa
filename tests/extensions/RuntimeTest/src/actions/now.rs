//! Reads the clock and the random generator.
use crate::types::*;

/// Reads the clock and the random generator through WASI.
pub fn now() -> Result<NowOutput, ActionError> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| ActionError { message: e.to_string() })?
        .as_secs() as i64;
    // std's HashMap seeds come from the WASI random source.
    let random = std::collections::hash_map::RandomState::new();
    let random = std::hash::BuildHasher::hash_one(&random, 1u8) as i64;
    Ok(NowOutput { seconds, random })
}
