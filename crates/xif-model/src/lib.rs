//! The Xif extension definition: everything about `extension.toml` that does not need a file
//! system, a compiler or a runtime.
//!
//! - [`parse`] turns the text of `extension.toml` into a [`Definition`] that remembers where each
//!   element was written, collecting every syntax and shape error at once.
//! - [`verify::verify`] runs the semantic Verify rules (names, types, references, entities,
//!   defaults) and returns [`Diagnostic`]s that [`diag::render`] prints rustc-style.
//! - [`names`] is the one written-down rule that maps element names to WIT and Rust identifiers.
//! - [`types`] is the type table, and [`value`] the JSON form of every type.
//! - [`schema`] plans how a new definition changes stored entity tables (only growing).
//! - [`wit`] writes the WIT world an extension implements, and the host interfaces it may import.
//!
//! ```
//! let src = "[extension]\nname = \"Hello\"\n\n[actions.Greet]\ninputs = { Who = \"Text\" }\noutputs = { Message = \"Text\" }\n";
//! let (def, diags) = xif_model::parse(src);
//! assert!(diags.is_empty());
//! let def = def.unwrap();
//! assert!(xif_model::verify::verify(&def).iter().all(|d| !d.is_error()));
//! assert_eq!(def.actions[0].name.text, "Greet");
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod definition;
pub mod diag;
pub mod names;
mod parse;
pub mod schema;
pub mod types;
pub mod value;
pub mod verify;
pub mod wit;

pub use definition::*;
pub use diag::{Diagnostic, Severity};
pub use parse::parse;
pub use types::Type;
pub use value::Value;

/// The file name of an extension's definition.
pub const DEFINITION_FILE: &str = "extension.toml";

/// How the description `xif new --minimal` writes begins ("Say here, in one sentence, what NAME
/// does."); Verify warns (W092) while it is still there.
pub const PLACEHOLDER_DESCRIPTION: &str = "Say here, in one sentence, what ";
