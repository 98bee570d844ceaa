use crate::entities::Comparison;
use crate::types::*;

pub fn visits(who: String, offset: i32, limit: i32) -> Result<VisitsOutput, ActionError> {
    let mut q = Visit::query().order_by("Id", false).offset(offset as u32).limit(limit as u32);
    if !who.is_empty() {
        q = q.filter("Who", Comparison::Equal, who);
    }
    Ok(VisitsOutput { visits: q.run()? })
}
