//! The SignGuestBook action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// Signs the guest book: stores a Visit (the server numbers it) and returns its identifier.
pub fn sign_guest_book(who: String) -> Result<SignGuestBookOutput, ActionError> {
    let who = who.trim().to_string();
    if who.is_empty() {
        return Err(ActionError::new("Who is empty: say who signs the guest book"));
    }
    let visit = Visit { id: 0, who, at: now() }.create()?;
    Ok(SignGuestBookOutput { visit_id: visit.id })
}

/// The current time in UTC (the sandbox's clock works; no other crate is needed).
fn now() -> DateTime {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    DateTime {
        year,
        month,
        day,
        hour: (rest / 3_600) as u8,
        minute: (rest % 3_600 / 60) as u8,
        second: (rest % 60) as u8,
        millisecond: since.subsec_millis() as u16,
    }
}
