//! Feeds arbitrary text to the definition parser and Verify (`xif_model::parse`,
//! `xif_model::verify::verify`): neither may panic, rendering their diagnostics may not panic,
//! and a definition that verifies clean must be accepted by what comes after Verify (see
//! `fuzz/checks/model.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks/model.rs"]
mod model;

fuzz_target!(|data: &[u8]| model::parse_definition(data));
