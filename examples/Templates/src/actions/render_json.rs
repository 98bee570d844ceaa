//! The RenderJson action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// Renders a template with its context given as one JSON object.
pub fn render_json(template: String, context: String) -> Result<RenderJsonOutput, ActionError> {
    let context: serde_json::Value = serde_json::from_str(&context).map_err(|e| format!("Context is not JSON: {e}"))?;
    if !context.is_object() {
        return Err(ActionError::new("Context must be a JSON object, as {\"name\": \"Ada\"}"));
    }
    let env = crate::environment(vec![(crate::MAIN.to_string(), template)], false, false)?;
    let output = env.get_template(crate::MAIN)?.render(minijinja::Value::from(minijinja::value::Serde(context)))?;
    Ok(RenderJsonOutput { output })
}
