//! Feeds `TYPE\nJSON` (or `action NAME\nJSON`) to the JSON ⇄ value conversion
//! (`xif_model::value::from_json` / `to_json`) by a definition with every kind of type: it may
//! not panic, and a value that reads must write and read back the same (see
//! `fuzz/checks/model.rs`).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

#[path = "../checks/model.rs"]
mod model;

static DEFINITION: LazyLock<xif_model::Definition> = LazyLock::new(model::values_definition);

fuzz_target!(|data: &[u8]| model::json_value(&DEFINITION, data));
