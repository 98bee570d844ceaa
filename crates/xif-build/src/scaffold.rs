//! `xif new NAME`: a ready extension folder: the full example (three actions, a structure, an
//! entity, a resource), or with `--minimal` one action and nothing else.
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

/// What `xif new` starts from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Template {
    /// The full example: three actions, a structure, an entity, a resource.
    #[default]
    Example,
    /// One action (`Hello`), nothing else.
    Minimal,
}

/// Creates `parent/NAME` with a definition, a crate, the example's actions and their generated
/// glue.
pub fn new_extension(parent: &Path, name: &str) -> Result<PathBuf, NewError> {
    new_extension_from(parent, name, Template::Example)
}

/// Creates `parent/NAME` from `template`, with its generated glue.
pub fn new_extension_from(parent: &Path, name: &str, template: Template) -> Result<PathBuf, NewError> {
    xif_model::names::check(name, xif_model::names::MAX_NAME)
        .map_err(|p| NewError::BadName { name: name.to_string(), why: p.to_string() })?;
    let dir = parent.join(name);
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(NewError::Exists(dir));
    }
    let crate_name = Project::crate_name(name);
    let mut files: Vec<(&str, String)> = vec![
        ("Cargo.toml", cargo_toml(&crate_name)),
        (".gitignore", "/target\n/.xif\n/*.xif\n".into()),
        ("src/lib.rs", lib_rs(name)),
    ];
    match template {
        Template::Example => files.extend([
            (xif_model::DEFINITION_FILE, definition(name)),
            ("resources/greeting.txt", "Hello\n".into()),
            ("src/actions/greet.rs", GREET.into()),
            ("src/actions/sign_guest_book.rs", SIGN_GUEST_BOOK.into()),
            ("src/actions/guest_book.rs", GUEST_BOOK.into()),
        ]),
        Template::Minimal => files
            .extend([(xif_model::DEFINITION_FILE, minimal_definition(name)), ("src/actions/hello.rs", HELLO.into())]),
    }
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
# Say in one sentence what {name} does: the Service Center and `xif versions` show it.
description = "Greets people and keeps a guest book."

[structures.Person]
Name = {{ type = "Text", length = 100, mandatory = true }}
Age = {{ type = "Integer", default = 0 }}

[actions.Greet]
description = "Builds a greeting for a person."
inputs  = {{ Who = {{ type = "Person" }}, Polite = {{ type = "Boolean", default = true }} }}
outputs = {{ Message = "Text", Length = "Integer" }}

[actions.SignGuestBook]
description = "Signs the guest book: stores a Visit on the server."
inputs  = {{ Who = "Text" }}
outputs = {{ VisitId = "Visit Identifier" }}

[actions.GuestBook]
description = "The latest visits, newest first."
inputs  = {{ Last = {{ type = "Integer", default = 10 }} }}
outputs = {{ Visits = "List of Visit" }}

# An exported entity: a table the Platform Server provisions (and migrates as it grows).
[entities.Visit]
description = "One signature in the guest book."
Id  = {{ type = "Long Integer", identifier = true, auto_number = true }}
Who = {{ type = "Text", length = 200 }}
At  = {{ type = "Date Time", mandatory = false }}

[resources]
files = ["resources/greeting.txt"]
"#
    )
}

fn minimal_definition(name: &str) -> String {
    let placeholder = xif_model::PLACEHOLDER_DESCRIPTION;
    format!(
        r#"[extension]
name = "{name}"
# Say in one sentence what {name} does: the Service Center and `xif versions` show it.
description = "{placeholder}{name} does."

# One action: its inputs and outputs, each a name and a type (docs/EXTENSIONS.md lists them).
# Add more actions, structures, entities, settings and resources as you need them
# (docs/EXTENSIONS.md); `xif update-source` then writes a stub for each new action.
[actions.Hello]
description = "Says hello."
inputs  = {{ Who = "Text" }}
outputs = {{ Message = "Text" }}
"#
    )
}

const HELLO: &str = r#"//! The Hello action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// Says hello.
pub fn hello(who: String) -> Result<HelloOutput, ActionError> {
    if who.trim().is_empty() {
        return Err(ActionError::new("Who is empty: say whom to greet"));
    }
    Ok(HelloOutput { message: format!("Hello, {}!", who.trim()) })
}
"#;

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

pub use generated::{{entities, host, types}};
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

const SIGN_GUEST_BOOK: &str = r#"//! The SignGuestBook action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// Signs the guest book: stores a Visit (the server numbers it) and returns its identifier.
pub fn sign_guest_book(who: String) -> Result<SignGuestBookOutput, ActionError> {
    let who = who.trim().to_string();
    if who.is_empty() {
        return Err(ActionError::new("Who is empty: say who signs the guest book"));
    }
    let visit = Visit { id: 0, who, at: now() }.create()?;
    Ok(SignGuestBookOutput { visit_id: visit.id })
}

/// The current time in UTC (the sandbox's clock works; no other crate is needed).
fn now() -> DateTime {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
    DateTime {
        year,
        month,
        day,
        hour: (rest / 3_600) as u8,
        minute: (rest % 3_600 / 60) as u8,
        second: (rest % 60) as u8,
        millisecond: since.subsec_millis() as u16,
    }
}
"#;

const GUEST_BOOK: &str = r#"//! The GuestBook action. This file is yours: `xif update-source` never changes it.
use crate::types::*;

/// The latest visits, newest first.
pub fn guest_book(last: i32) -> Result<GuestBookOutput, ActionError> {
    let last = u32::try_from(last.clamp(1, 1000)).unwrap_or(10);
    let visits = Visit::query().order_by("Id", true).limit(last).run()?;
    Ok(GuestBookOutput { visits })
}
"#;
