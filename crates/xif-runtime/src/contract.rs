//! Checks a component against the WIT contract of its definition before anything runs: it
//! imports only what is granted, and it exports exactly the definition's actions with the
//! signatures the definition gives them.
use wasmtime::Engine;
use wasmtime::component::types::{self, ComponentFunc, ComponentItem};
use xif_model::definition::Action;
use xif_model::wit::{ACTIONS_INTERFACE, HOST_INTERFACES, wit_type};
use xif_model::{Definition, Type};

use crate::RuntimeError;
use crate::convert::field_type;

/// The WASI preview 2 packages an extension may import (the preview 1 adapter's imports; the
/// sandbox makes files, sockets and the environment empty).
const WASI_PACKAGES: &[&str] =
    &["wasi:cli/", "wasi:clocks/", "wasi:filesystem/", "wasi:io/", "wasi:random/", "wasi:sockets/"];

/// Whether the component may import `name`.
pub(crate) fn granted(name: &str) -> bool {
    HOST_INTERFACES.contains(&name)
        || WASI_PACKAGES.iter().any(|p| name.strip_prefix(p).is_some_and(|rest| rest.contains("@0.2.")))
}

/// Checks imports and exports; the first problem found is the error.
pub(crate) fn check(engine: &Engine, def: &Definition, component: &types::Component) -> Result<(), RuntimeError> {
    for (name, _) in component.imports(engine) {
        if !granted(name) {
            return Err(RuntimeError::NotGranted { import: name.to_string() });
        }
    }
    let export_err = |message: String| RuntimeError::Exports { message };
    let mut actions = None;
    for (name, item) in component.exports(engine) {
        if name != ACTIONS_INTERFACE {
            return Err(export_err(format!(
                "component exports `{name}`, which is not part of the contract (an extension exports only `{ACTIONS_INTERFACE}`)"
            )));
        }
        match item.ty {
            ComponentItem::ComponentInstance(i) => actions = Some(i),
            _ => return Err(export_err(format!("component exports `{name}` but not as an interface instance"))),
        }
    }
    let Some(actions) = actions else {
        return Err(export_err(format!("component does not export `{ACTIONS_INTERFACE}`")));
    };
    for (name, item) in actions.exports(engine) {
        match item.ty {
            ComponentItem::ComponentFunc(_) => {
                if !def.actions.iter().any(|a| a.name.wit() == name) {
                    return Err(export_err(format!(
                        "component exports function `{name}` in `{ACTIONS_INTERFACE}`, which is not an action of the definition"
                    )));
                }
            }
            // The records the functions use are exported as types.
            ComponentItem::Type(_) => {}
            _ => {
                return Err(export_err(format!(
                    "component exports `{name}` in `{ACTIONS_INTERFACE}`, which is neither an action nor a type"
                )));
            }
        }
    }
    for action in &def.actions {
        let wit = action.name.wit();
        match actions.get_export(engine, &wit).map(|e| e.ty) {
            Some(ComponentItem::ComponentFunc(f)) => signature(def, action, &f)
                .map_err(|m| export_err(format!("function `{wit}` of action {}: {m}", action.name.text)))?,
            _ => {
                return Err(export_err(format!(
                    "component does not export function `{wit}` in `{ACTIONS_INTERFACE}` for action {}",
                    action.name.text
                )));
            }
        }
    }
    Ok(())
}

/// Checks a function's parameters and result against the action.
fn signature(def: &Definition, action: &Action, f: &ComponentFunc) -> Result<(), String> {
    if f.async_() {
        return Err("it is an async function; actions are synchronous".into());
    }
    let params: Vec<(&str, types::Type)> = f.params().collect();
    if params.len() != action.inputs.len() {
        return Err(format!("it takes {} parameters, the action has {} inputs", params.len(), action.inputs.len()));
    }
    for (input, (name, ty)) in action.inputs.iter().zip(&params) {
        let wit = input.name.wit();
        if *name != wit {
            return Err(format!("parameter `{name}` should be `{wit}` (input {})", input.name.text));
        }
        let expected = field_type(def, input)?;
        matches(def, &expected, ty).map_err(|m| format!("parameter `{name}`: {m}"))?;
    }
    let results: Vec<types::Type> = f.results().collect();
    let [types::Type::Result(result)] = results.as_slice() else {
        return Err("it should return one `result<…, action-error>`".into());
    };
    match (result.ok(), action.outputs.is_empty()) {
        (None, true) => {}
        (Some(types::Type::Record(r)), false) => {
            let fields: Vec<types::Field<'_>> = r.fields().collect();
            if fields.len() != action.outputs.len() {
                return Err(format!(
                    "its output record has {} fields, the action {} outputs",
                    fields.len(),
                    action.outputs.len()
                ));
            }
            for (out, field) in action.outputs.iter().zip(&fields) {
                let wit = out.name.wit();
                if field.name != wit {
                    return Err(format!("output field `{}` should be `{wit}` (output {})", field.name, out.name.text));
                }
                matches(def, &field_type(def, out)?, &field.ty).map_err(|m| format!("output `{wit}`: {m}"))?;
            }
        }
        (_, true) => {
            return Err("it returns outputs, the action has none: it should return `result<_, action-error>`".into());
        }
        (_, false) => return Err(format!("it should return `result<{}, action-error>`", action.output_record_wit())),
    }
    match result.err() {
        Some(types::Type::Record(r)) => {
            let fields: Vec<types::Field<'_>> = r.fields().collect();
            if !matches!(fields.as_slice(), [f] if f.name == "message" && f.ty == types::Type::String) {
                return Err("its error should be `action-error { message: string }`".into());
            }
        }
        _ => return Err("its error should be `action-error { message: string }`".into()),
    }
    Ok(())
}

/// Whether a component type is the WIT of a definition type.
fn matches(def: &Definition, ty: &Type, got: &types::Type) -> Result<(), String> {
    use types::Type as W;
    let ty = def.resolve(ty).ok_or_else(|| format!("unresolved type {}", ty.display()))?;
    let wrong = || Err(format!("expected `{}` ({}), found {}", wit_type(def, &ty), ty.display(), describe(got)));
    let record = |fields: &[(&str, W)]| -> Result<(), String> {
        let W::Record(r) = got else { return wrong() };
        let have: Vec<types::Field<'_>> = r.fields().collect();
        if have.len() == fields.len() && have.iter().zip(fields).all(|(h, (n, t))| h.name == *n && h.ty == *t) {
            Ok(())
        } else {
            wrong()
        }
    };
    match (&ty, got) {
        (Type::Text | Type::Decimal, W::String)
        | (Type::Integer, W::S32)
        | (Type::LongInteger, W::S64)
        | (Type::Boolean, W::Bool) => Ok(()),
        (Type::Date, _) => record(&[("year", W::U16), ("month", W::U8), ("day", W::U8)]),
        (Type::Time, _) => record(&[("hour", W::U8), ("minute", W::U8), ("second", W::U8)]),
        (Type::DateTime, _) => record(&[
            ("year", W::U16),
            ("month", W::U8),
            ("day", W::U8),
            ("hour", W::U8),
            ("minute", W::U8),
            ("second", W::U8),
            ("millisecond", W::U16),
        ]),
        (Type::BinaryData, W::List(l)) if l.ty() == W::U8 => Ok(()),
        (Type::List(inner), W::List(l)) => matches(def, inner, &l.ty()).map_err(|m| format!("in a list: {m}")),
        (Type::Record(name), W::Record(r)) => {
            let (rec, _) = def.record(name).ok_or_else(|| format!("unknown record type {name}"))?;
            let have: Vec<types::Field<'_>> = r.fields().collect();
            if have.len() != rec.attributes.len() {
                return Err(format!(
                    "record `{}` has {} fields, {name} has {} attributes",
                    name,
                    have.len(),
                    rec.attributes.len()
                ));
            }
            for (attr, field) in rec.attributes.iter().zip(&have) {
                let wit = attr.name.wit();
                if field.name != wit {
                    return Err(format!("field `{}` of {name} should be `{wit}`", field.name));
                }
                matches(def, &field_type(def, attr)?, &field.ty)
                    .map_err(|m| format!("field `{wit}` of {name}: {m}"))?;
            }
            Ok(())
        }
        _ => wrong(),
    }
}

fn describe(t: &types::Type) -> String {
    use types::Type as W;
    match t {
        W::Bool => "bool".into(),
        W::S8 => "s8".into(),
        W::U8 => "u8".into(),
        W::S16 => "s16".into(),
        W::U16 => "u16".into(),
        W::S32 => "s32".into(),
        W::U32 => "u32".into(),
        W::S64 => "s64".into(),
        W::U64 => "u64".into(),
        W::Float32 => "f32".into(),
        W::Float64 => "f64".into(),
        W::Char => "char".into(),
        W::String => "string".into(),
        W::List(l) => format!("list<{}>", describe(&l.ty())),
        W::Record(r) => {
            let fields: Vec<String> = r.fields().map(|f| format!("{}: {}", f.name, describe(&f.ty))).collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        _ => "another type".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::granted;

    #[test]
    fn grants_wasi_and_host_only() {
        assert!(granted("wasi:cli/stdout@0.2.6"));
        assert!(granted("wasi:io/streams@0.2.0"));
        assert!(granted("xif:host/log@1.0.0"));
        assert!(granted("xif:host/entities@1.0.0"));
        assert!(!granted("xif:host/entities@2.0.0"));
        assert!(!granted("wasi:http/outgoing-handler@0.2.6"));
        assert!(!granted("wasi:cli/stdout@0.3.0"));
        assert!(!granted("evil:x/y"));
    }
}
