//! The Render action. This file is yours: `xif update-source` never changes it.
use std::collections::BTreeMap;

use minijinja::Value;

use crate::types::*;

/// Renders a template (named "template") with its variables; other templates may be included.
pub fn render(
    template: String,
    variables: Vec<Variable>,
    partials: Vec<NamedTemplate>,
    auto_escape: bool,
    strict: bool,
) -> Result<RenderOutput, ActionError> {
    let mut context = BTreeMap::new();
    for v in variables {
        let value = if v.is_json {
            serde_json::from_str::<Value>(&v.value).map_err(|e| format!("variable {}: {e}", v.name))?
        } else {
            Value::from(v.value)
        };
        context.insert(v.name, value);
    }
    let mut templates: Vec<(String, String)> = partials.into_iter().map(|p| (p.name, p.source)).collect();
    templates.push((crate::MAIN.to_string(), template));
    let env = crate::environment(templates, auto_escape, strict)?;
    let output = env.get_template(crate::MAIN)?.render(context)?;
    Ok(RenderOutput { length: i32::try_from(output.chars().count())?, output })
}
