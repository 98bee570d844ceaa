//! The ServerTest test extension.
pub mod actions;
mod generated;

pub use generated::{host, types};

/// The content of resources/version.txt: which package is answering.
pub(crate) fn version() -> String {
    host::read_resource("resources/version.txt")
        .and_then(|b| String::from_utf8(b).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
