//! The Templates extension: Jinja templates rendered by minijinja, inside the sandbox.
//!
//! Each action is a function in `src/actions/<action>.rs`; `src/generated/` and
//! `src/actions/mod.rs` are rewritten from extension.toml. `environment` below is shared by the
//! actions: one minijinja environment per call, with the templates of that call.

pub mod actions;
mod generated;

pub use generated::{entities, host, types};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// The name the main template of Render and RenderJson has in minijinja's messages.
pub const MAIN: &str = "template";

/// An environment with the templates given (each `(name, source)`), HTML escaping when asked
/// and strict undefined values when asked, in debug mode (for its messages). A syntax error is
/// minijinja's error.
pub fn environment(
    templates: Vec<(String, String)>,
    auto_escape: bool,
    strict: bool,
) -> Result<Environment<'static>, minijinja::Error> {
    let mut env = Environment::new();
    // minijinja's debug mode is on only in debug builds, and an extension is a release build:
    // without it an undefined value is just "undefined value (in template:1)", with it
    // "undefined value: `name` is undefined (in template:1)".
    env.set_debug(true);
    if auto_escape {
        env.set_auto_escape_callback(|_| AutoEscape::Html);
    } else {
        env.set_auto_escape_callback(|_| AutoEscape::None);
    }
    if strict {
        env.set_undefined_behavior(UndefinedBehavior::Strict);
    }
    for (name, source) in templates {
        env.add_template_owned(name, source)?;
    }
    Ok(env)
}
