//! The Greet action. This file is yours: `xif update-source` never changes it.
use crate::host;
use crate::types::*;

/// Builds a greeting for a person.
pub fn greet(who: Person, polite: bool) -> Result<GreetOutput, ActionError> {
    let name = who.name.trim();
    if name.is_empty() {
        return Err(ActionError::new("Who.Name is empty: say whom to greet"));
    }
    let word = host::read_resource("resources/greeting.txt")
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|| "Hello".to_string());
    let message = match (polite, who.age) {
        (true, age) if age > 0 => format!("{word}, dear {name}! {age} years young."),
        (true, _) => format!("{word}, dear {name}!"),
        (false, _) => format!("{word} {name}"),
    };
    host::info(&format!("greeted {name}"));
    Ok(GreetOutput { length: message.chars().count() as i32, message })
}
