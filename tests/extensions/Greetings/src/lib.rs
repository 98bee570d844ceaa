//! The Greetings extension. This file is yours: `xif update-source` never changes it.
//!
//! Each action is a function in `src/actions/<action>.rs`; `src/generated/` and
//! `src/actions/mod.rs` are rewritten from extension.toml.

mod generated;
pub mod actions;

pub use generated::{entities, host, types};
