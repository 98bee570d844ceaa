use crate::types::*;

pub fn rename(id: i64, who: String) -> Result<RenameOutput, ActionError> {
    let Some(mut visit) = Visit::get(id)? else {
        return Ok(RenameOutput { found: false });
    };
    if who.is_empty() {
        return Ok(RenameOutput { found: Visit::delete(id)? });
    }
    visit.who = who;
    Ok(RenameOutput { found: visit.update()? })
}
