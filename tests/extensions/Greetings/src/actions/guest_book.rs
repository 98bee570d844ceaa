//! The GuestBook action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// The latest visits, newest first.
pub fn guest_book(last: i32) -> Result<GuestBookOutput, ActionError> {
    let last = u32::try_from(last.clamp(1, 1000)).unwrap_or(10);
    let visits = Visit::query().order_by("Id", true).limit(last).run()?;
    Ok(GuestBookOutput { visits })
}
