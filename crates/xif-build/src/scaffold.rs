//! `xif new NAME`: a ready extension folder with one working example action.
use std::path::{Path, PathBuf};

use crate::fsutil;
use crate::project::{Project, ProjectError};
use crate::update_source::{self, UpdateError};

/// Why the folder could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name is not a legal extension name.
    #[error(
        "invalid extension name \"{name}\": {why}\n  help: use a letter first, then letters, digits or `_` (at most 50 characters), for example `Greetings`"
    )]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// The folder exists and is not empty.
    #[error("{0} already exists and is not empty\n  help: pick another name, or pass `--path` to create it elsewhere")]
    Exists(PathBuf),
    /// Writing failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Generating the source failed.
    #[error(transparent)]
    Update(#[from] UpdateError),
}

/// Creates `parent/NAME` with a definition, a crate, an example action and its generated glue.
pub fn new_extension(parent: &Path, name: &str) -> Result<PathBuf, NewError> {
    xif_model::names::check(name, xif_model::names::MAX_NAME)
        .map_err(|p| NewError::BadName { name: name.to_string(), why: p.to_string() })?;
    let dir = parent.join(name);
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(NewError::Exists(dir));
    }
    let crate_name = Project::crate_name(name);
    let files: Vec<(&str, String)> = vec![
        (xif_model::DEFINITION_FILE, definition(name)),
        ("Cargo.toml", cargo_toml(&crate_name)),
        (".gitignore", "/target\n/.xif\n/*.xif\n".into()),
        ("resources/greeting.txt", "Hello\n".into()),
        ("src/lib.rs", lib_rs(name)),
        ("src/actions/greet.rs", GREET.into()),
    ];
    for (rel, content) in files {
        let path = dir.join(rel);
        fsutil::write_atomic(&path, content.as_bytes()).map_err(ProjectError::io("writing", &path))?;
    }
    let project = Project::open(&dir)?;
    update_source::update_source(&project)?;
    Ok(dir)
}

fn definition(name: &str) -> String {
    format!(
        r#"[extension]
name = "{name}"
description = "Greets people."

[structures.Person]
Name = {{ type = "Text", length = 100, mandatory = true }}
Age = {{ type = "Integer", default = 0 }}

[actions.Greet]
description = "Builds a greeting for a person."
inputs  = {{ Who = {{ type = "Person" }}, Polite = {{ type = "Boolean", default = true }} }}
outputs = {{ Message = "Text", Length = "Integer" }}

[resources]
files = ["resources/greeting.txt"]
"#
    )
}

fn cargo_toml(crate_name: &str) -> String {
    format!(
        r#"[package]
name = "{crate_name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
# The runtime support of the bindings in src/generated/ (the version xif generates for).
wit-bindgen = {{ version = "=0.60.0", default-features = false, features = ["realloc"] }}

[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
# Keep function names so that a trap's backtrace names the function.
strip = "debuginfo"

# An extension is a workspace of its own, wherever its folder lies.
[workspace]
"#
    )
}

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! The {name} extension. This file is yours: `xif update-source` never changes it.
//!
//! Each action is a function in `src/actions/<action>.rs`; `src/generated/` and
//! `src/actions/mod.rs` are rewritten from extension.toml.

mod generated;
pub mod actions;

pub use generated::{{host, types}};
"#
    )
}

const GREET: &str = r#"//! The Greet action. This file is yours: `xif update-source` never changes it.
use crate::host;
use crate::types::*;

/// Builds a greeting for a person.
pub fn greet(who: Person, polite: bool) -> Result<GreetOutput, ActionError> {
    let name = who.name.trim();
    if name.is_empty() {
        return Err(ActionError::new("Who.Name is empty: say whom to greet"));
    }
    let word = host::read_resource("resources/greeting.txt")
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|| "Hello".to_string());
    let message = match (polite, who.age) {
        (true, age) if age > 0 => format!("{word}, dear {name}! {age} years young."),
        (true, _) => format!("{word}, dear {name}!"),
        (false, _) => format!("{word} {name}"),
    };
    host::info(&format!("greeted {name}"));
    Ok(GreetOutput { length: message.chars().count() as i32, message })
}
"#;
