//! The GuestBook test extension (version 2): writes and reads its entity Visit.
pub mod actions;
mod generated;

pub use generated::{entities, host, types};
