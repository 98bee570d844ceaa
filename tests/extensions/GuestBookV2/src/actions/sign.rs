use crate::types::*;

pub fn sign(who: String, amount: Decimal) -> Result<SignOutput, ActionError> {
    let at = DateTime { year: 2026, month: 11, day: 28, hour: 7, minute: 0, second: 0, millisecond: 0 };
    let email = format!("{}@example.com", who.to_lowercase().replace(' ', "."));
    let stored = Visit { id: 0, who, email, amount, at }.create()?;
    Ok(SignOutput { visit_id: stored.id })
}
