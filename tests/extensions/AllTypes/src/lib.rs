//! The AllTypes test extension.
mod generated;
pub mod actions;

pub use generated::{host, types};
