use crate::entities::raw;
use crate::types::*;

pub fn probe(entity: String) -> Result<ProbeOutput, ActionError> {
    Ok(match raw::query(&entity, &[], &[], 0, 1000) {
        Ok(rows) => ProbeOutput { count: rows.len() as i32, error: String::new() },
        Err(e) => ProbeOutput { count: -1, error: e },
    })
}
