//! A list of many items.
use crate::types::*;

/// Returns `count` empty texts.
pub fn many_items(count: i32) -> Result<ManyItemsOutput, ActionError> {
    Ok(ManyItemsOutput { items: vec![String::new(); usize::try_from(count).unwrap_or(0)] })
}
