//! The test extension xif-runtime's tests run: one action per behaviour under test (see
//! `extension.toml`). Compiled by `cargo xtask fixtures` like every test extension.
mod generated;
pub mod actions;

pub use generated::{host, types};
