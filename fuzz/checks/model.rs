//! The properties the definition fuzz targets check, shared with the normal test suite: each fuzz
//! target calls one function here on every input, and `crates/xif-model/tests/corpus.rs` replays
//! the committed corpus through the same functions (it includes this file by path), so a crash
//! input copied into a corpus folder stays covered without cargo-fuzz.
//!
//! - [`parse_definition`]: any text is parsed, verified and its diagnostics rendered without a
//!   panic; a definition that verifies clean also writes its WIT, plans its entity tables, is
//!   compatible with itself, and its defaults read back as themselves.
//! - [`json_value`]: any `TYPE\nJSON` input is read by `value::from_json` as that type of a fixed
//!   definition with every kind of type (or, for `action NAME\nJSON`, as the inputs of that
//!   action) without a panic; what is read writes back with `to_json` to JSON that reads back as
//!   the same value and writes back as the same JSON.
#![allow(dead_code)]

use serde_json::{Map, Value as Json};
use xif_model::value::{self, Value};
use xif_model::{Definition, Type};

/// The definition [`json_value`] reads values by: every basic type, limits, defaults, nested
/// structures and lists, entities with both kinds of identifier.
pub const VALUES_DEFINITION: &str = r#"[extension]
name = "Values"
description = "Every type, in and out."

[structures.Person]
Name = { type = "Text", length = 10 }
Age = { type = "Integer", default = 18 }
Friends = "List of Friend"
Photo = { type = "Binary Data", mandatory = false }

[structures.Friend]
Name = "Text"
Since = { type = "Date", mandatory = true }
Tag = { type = "Tag Identifier", mandatory = false }

[structures.Everything]
T = "Text"
I = "Integer"
L = "Long Integer"
D = { type = "Decimal", length = 10, decimals = 2 }
B = "Boolean"
Day = "Date"
At = "Time"
When = "Date Time"
Bytes = "Binary Data"
Visits = "List of Visit Identifier"
Nested = "List of List of Decimal"

[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = { type = "Text", length = 200 }
At = { type = "Date Time", mandatory = false }

[entities.Tag]
Code = { type = "Text", identifier = true, length = 5 }
Weight = { type = "Decimal", default = "1.5" }

[actions.Echo]
inputs = { Who = "Person", Count = "Integer", Polite = { type = "Boolean", default = true }, Note = { type = "Text", mandatory = false }, Price = { type = "Decimal", default = "9.99" }, Visit = { type = "Visit Identifier", mandatory = false }, Groups = { type = "List of List of Person", mandatory = false }, When = { type = "Date Time", default = "2024-05-01T08:30:00+02:00" } }
outputs = { Message = "Text", Total = "Decimal", At = "Date Time", Data = "Binary Data", People = "List of Person" }

[actions.All]
inputs = { E = { type = "Everything", mandatory = false }, Tags = { type = "List of Tag", mandatory = false } }
outputs = { Result = "Everything" }
"#;

/// The parsed and verified [`VALUES_DEFINITION`].
pub fn values_definition() -> Definition {
    let (def, diags) = xif_model::parse(VALUES_DEFINITION);
    assert!(diags.is_empty(), "{diags:?}");
    let def = def.expect("the values definition parses");
    let errors: Vec<_> = xif_model::verify::verify(&def).into_iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    def
}

/// Parse, verify and render any text; a clean definition must also pass the checks that the
/// server and the studio rely on.
pub fn parse_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (def, mut diags) = xif_model::parse(text);
    if let Some(def) = &def {
        diags.extend(xif_model::verify::verify(def));
    }
    // Rendering points into the text at every span: never out of bounds, never inside a character.
    let _ = xif_model::diag::render(&diags, &|_| Some(text.to_string()));
    let _ = xif_model::diag::count_line(&diags);
    for d in &diags {
        let _ = d.line_col(text);
    }
    let Some(def) = def else {
        return;
    };
    if diags.iter().any(|d| d.is_error()) {
        return;
    }
    // A definition that verifies: everything downstream of Verify must accept it.
    let _ = xif_model::wit::extension_wit(&def);
    let plan = xif_model::schema::plan(&[], &def, false);
    assert!(plan.refused.is_empty(), "a new server refuses the entities of a clean definition: {:?}", plan.refused);
    let again = xif_model::schema::plan(&plan.entities, &def, false);
    assert!(again.refused.is_empty(), "the definition's own tables refuse it: {:?}", again.refused);
    let against_itself = xif_model::schema::check_against(&def, &def);
    assert!(
        against_itself.iter().all(|d| !d.is_error()),
        "a definition is incompatible with itself: {against_itself:?}"
    );
    // Every default a clean definition declares is a value of its own type.
    for action in &def.actions {
        let defaults: Map<String, Json> = action
            .inputs
            .iter()
            .map(|f| (f.name.text.clone(), value::to_json(&value::field_default(&def, f))))
            .collect();
        let json = Json::Object(defaults);
        if let Err(e) = value::inputs_from_json(&def, action, &json) {
            panic!("the defaults of action {} do not read back ({e}): {json}", action.name.text);
        }
    }
    for record in def.structures.iter().chain(&def.entities) {
        let ty = Type::Record(record.name.text.clone());
        round_trip(&def, &ty, &value::default_of(&def, &ty));
    }
}

/// Reads `TYPE\nJSON` (or `action NAME\nJSON`) by [`VALUES_DEFINITION`]; what reads must write
/// and read back the same.
pub fn json_value(def: &Definition, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, body) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(json) = serde_json::from_str::<Json>(body) else {
        return;
    };
    if let Some(name) = head.strip_prefix("action ") {
        let Some(action) = def.action(name) else {
            return;
        };
        let Ok(inputs) = value::inputs_from_json(def, action, &json) else {
            return;
        };
        let written = Json::Object(
            action.inputs.iter().zip(&inputs).map(|(f, v)| (f.name.text.clone(), value::to_json(v))).collect(),
        );
        let again = value::inputs_from_json(def, action, &written)
            .unwrap_or_else(|e| panic!("the inputs written as {written} do not read back: {e}"));
        assert_eq!(again, inputs, "inputs {json} → {written}");
        let outputs_written = value::outputs_to_json(action, &[]);
        assert_eq!(outputs_written, Json::Object(Map::new()));
        return;
    }
    let Ok(ty) = Type::parse_in(head, &|n| def.record(n).is_some()) else {
        return;
    };
    if let Ok(v) = value::from_json(def, &ty, &json, "", None) {
        round_trip(def, &ty, &v);
    }
}

/// `v` (a value of `ty`) written as JSON reads back as `v`, and writes back as the same JSON.
fn round_trip(def: &Definition, ty: &Type, v: &Value) {
    let written = value::to_json(v);
    let read = value::from_json(def, ty, &written, "", None)
        .unwrap_or_else(|e| panic!("{} written as {written} does not read back: {e}", ty.display()));
    assert_eq!(&read, v, "{} {written}", ty.display());
    assert_eq!(value::to_json(&read), written, "{} {written} is not written the same twice", ty.display());
}
