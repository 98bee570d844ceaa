//! The GuestBook test extension (version 1): writes and reads its entity Visit.
pub mod actions;
mod generated;

pub use generated::{entities, host, types};
