//! The operations a developer runs on an extension folder, as plain library functions (the cargo
//! `ops` model): the `xif` binary only parses flags and calls these.
//!
//! - [`verify::verify`] — checks the definition and the folder (resources, implementations).
//! - [`update_source::update_source`] — regenerates WIT and Rust glue; writes stubs for new actions.
//! - [`compile::compile`] — Rust → wasm32-wasip1 → component, skipped when nothing changed.
//! - [`save::save`] — the deterministic `.xif` package.
//! - [`scaffold::new_extension`] — `xif new`.
//! - [`run::run`] — calls an action locally in the sandbox.
//!
//! **Architecture Invariant:** nothing here prints; every operation returns a report the caller
//! renders (so the CLI, the server and the tests see the same results).
#![deny(missing_docs)]

pub mod compile;
pub mod project;
pub mod run;
pub mod save;
pub mod scaffold;
pub mod toolchain;
pub mod update_source;
pub mod verify;

mod codegen;
mod fsutil;

pub use project::{Project, ProjectError};
