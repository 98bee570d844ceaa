use crate::types::*;

pub fn sign(who: String, amount: Decimal) -> Result<SignOutput, ActionError> {
    let at = DateTime { year: 2026, month: 11, day: 28, hour: 6, minute: 0, second: 0, millisecond: 250 };
    let stored = Visit { id: 0, who, amount, at }.create()?;
    Ok(SignOutput { visit_id: stored.id })
}
