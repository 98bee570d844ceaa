//! The Check action. This file is yours: `xif update-source` never changes it.
use std::collections::BTreeSet;

use crate::types::*;

/// Checks templates: each one's syntax error with its line, and the variables they use but
/// nobody sets (sorted, each once).
pub fn check(templates: Vec<NamedTemplate>) -> Result<CheckOutput, ActionError> {
    let mut errors = Vec::new();
    let mut undeclared = BTreeSet::new();
    for t in templates {
        // One environment per template, so that each syntax error is found (minijinja stops at
        // the first one of a template).
        match crate::environment(vec![(t.name.clone(), t.source)], false, false) {
            Err(e) => errors.push(TemplateError {
                template: t.name,
                line: e.line().map_or(Ok(0), i32::try_from)?,
                kind: e.kind().to_string(),
                message: e.to_string(),
            }),
            Ok(env) => undeclared.extend(env.get_template(&t.name)?.undeclared_variables(true)),
        }
    }
    Ok(CheckOutput { valid: errors.is_empty(), errors, undeclared: undeclared.into_iter().collect() })
}
