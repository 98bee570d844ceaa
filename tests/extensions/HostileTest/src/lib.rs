//! The HostileTest test extension.
pub mod actions;
mod generated;

pub use generated::{host, types};
