//! Returns an invalid date.
use crate::types::*;

/// Returns a date that does not exist (month 13).
pub fn bad_date() -> Result<BadDateOutput, ActionError> {
    Ok(BadDateOutput { day: Date { year: 2024, month: 13, day: 1 } })
}
