//! The WIT an extension is built against: the host interfaces (fixed) and the extension's own
//! world (generated from its definition).
//!
//! **Architecture Invariant:** the exported interface is always `xif:extension/actions@1.0.0` and
//! every action is one function in it returning `result<…-output, action-error>`, so the runtime
//! finds any extension's actions the same way.
use std::fmt::Write as _;

use crate::definition::{Action, Definition, Field};
use crate::names;
use crate::types::Type;

/// The package of the host interfaces.
pub const HOST_PACKAGE: &str = "xif:host@1.0.0";
/// The exported interface every extension implements.
pub const ACTIONS_INTERFACE: &str = "xif:extension/actions@1.0.0";
/// Host interfaces an extension may import (besides the sandboxed WASI preview 1).
pub const HOST_INTERFACES: &[&str] =
    &["xif:host/log@1.0.0", "xif:host/resources@1.0.0", "xif:host/settings@1.0.0", "xif:host/entities@1.0.0"];

/// The host interfaces, as WIT.
pub const HOST_WIT: &str = r#"/// Services the Xif Platform Server gives every extension.
package xif:host@1.0.0;

/// Writes to the server's log, tagged with the extension and its version.
interface log {
    /// How important a log line is.
    enum level { trace, debug, info, warn, error }
    /// Logs one message.
    log: func(level: level, message: string);
}

/// Files packed into the extension's .xif (listed under [resources] in extension.toml).
interface resources {
    /// The content of a resource, by the path written in extension.toml; none if there is none.
    read: func(path: string) -> option<list<u8>>;
}

/// The extension's settings, as an administrator set them on the server.
interface settings {
    /// A setting's value as text (its default when not set); none for an unknown name.
    get: func(name: string) -> option<string>;
}

/// The extension's own entities ([entities.X] in extension.toml): tables the server keeps.
/// A record is a list of values in the order of the entity's attributes in extension.toml;
/// each function is one transaction; an error is a message for the caller. Other extensions'
/// entities are unreachable.
interface entities {
    /// A calendar date.
    record date { year: u16, month: u8, day: u8 }
    /// A time of day, in whole seconds.
    record time { hour: u8, minute: u8, second: u8 }
    /// A moment in UTC, with millisecond precision.
    record date-time { year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, millisecond: u16 }
    /// A value of an attribute; a decimal is its canonical text ("12.50").
    variant value {
        text(string),
        integer(s32),
        long-integer(s64),
        decimal(string),
        boolean(bool),
        date(date),
        time(time),
        date-time(date-time),
        binary-data(list<u8>),
    }
    /// How a filter compares (contains: a text contains the value).
    enum comparison { equal, not-equal, less, less-or-equal, greater, greater-or-equal, contains }
    /// One condition of a query.
    record filter { attribute: string, comparison: comparison, value: value }
    /// One ordering of a query.
    record order { attribute: string, descending: bool }
    /// Stores a new record; returns it as stored (an auto-numbered identifier filled in).
    create: func(entity: string, %record: list<value>) -> result<list<value>, string>;
    /// The record with this identifier, if there is one.
    get: func(entity: string, id: value) -> result<option<list<value>>, string>;
    /// Replaces the record with the same identifier; false when there is none.
    update: func(entity: string, %record: list<value>) -> result<bool, string>;
    /// Deletes the record with this identifier; false when there was none.
    delete: func(entity: string, id: value) -> result<bool, string>;
    /// The records matching every filter, ordered (the identifier breaks ties), one page.
    query: func(entity: string, filters: list<filter>, order-by: list<order>, offset: u32, limit: u32) -> result<list<list<value>>, string>;
}
"#;

/// The WIT of a type, `X Identifier` resolved through the definition.
pub fn wit_type(def: &Definition, ty: &Type) -> String {
    match ty {
        Type::Text => "string".into(),
        Type::Integer => "s32".into(),
        Type::LongInteger => "s64".into(),
        Type::Decimal => "decimal".into(),
        Type::Boolean => "bool".into(),
        Type::Date => "date".into(),
        Type::Time => "time".into(),
        Type::DateTime => "date-time".into(),
        Type::BinaryData => "list<u8>".into(),
        Type::Record(n) => names::wit_source(n),
        Type::List(inner) => format!("list<{}>", wit_type(def, inner)),
        Type::Identifier(_) => match def.resolve(ty) {
            Some(t) => wit_type(def, &t),
            None => "s64".into(),
        },
    }
}

fn doc(out: &mut String, indent: &str, text: Option<&str>) {
    if let Some(t) = text {
        for line in t.lines() {
            let _ = writeln!(out, "{indent}/// {}", line.trim());
        }
    }
}

fn record(out: &mut String, def: &Definition, wit_name: &str, description: Option<&str>, fields: &[Field]) {
    doc(out, "    ", description);
    let _ = writeln!(out, "    record {} {{", names::wit_source_kebab(wit_name));
    for f in fields {
        doc(out, "        ", f.description.as_ref().map(|d| d.value.as_str()));
        let ty = f.parsed.as_ref().map(|t| wit_type(def, t)).unwrap_or_else(|| "string".into());
        let _ = writeln!(out, "        {}: {ty},", names::wit_source(&f.name.text));
    }
    let _ = writeln!(out, "    }}");
}

/// The return type of an action's function.
fn result_type(a: &Action) -> String {
    if a.outputs.is_empty() {
        "result<_, action-error>".into()
    } else {
        format!("result<{}, action-error>", a.output_record_wit())
    }
}

/// The extension's world: the `actions` interface it exports and the host interfaces it may
/// import. Only meaningful for a definition that passed Verify.
pub fn extension_wit(def: &Definition) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "// Generated by xif from extension.toml: do not edit; `xif update-source` rewrites it.");
    let _ = writeln!(out, "package xif:extension@1.0.0;\n");
    let _ = writeln!(out, "/// The actions of extension {}.", def.name.text);
    let _ = writeln!(out, "interface actions {{");
    out.push_str(BUILTIN_TYPES);
    for r in def.structures.iter().chain(&def.entities) {
        out.push('\n');
        record(&mut out, def, &r.name.wit(), r.description.as_ref().map(|d| d.value.as_str()), &r.attributes);
    }
    for a in &def.actions {
        out.push('\n');
        if !a.outputs.is_empty() {
            record(
                &mut out,
                def,
                &a.output_record_wit(),
                Some(&format!("The outputs of {}.", a.name.text)),
                &a.outputs,
            );
        }
        doc(&mut out, "    ", a.description.as_ref().map(|d| d.value.as_str()));
        let params: Vec<String> = a
            .inputs
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    names::wit_source(&p.name.text),
                    p.parsed.as_ref().map(|t| wit_type(def, t)).unwrap_or_else(|| "string".into())
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "    {}: func({}) -> {};",
            names::wit_source(&a.name.text),
            params.join(", "),
            result_type(a)
        );
    }
    let _ = writeln!(out, "}}\n");
    let _ = writeln!(out, "/// What an extension is: it exports its actions and may use the host's services.");
    let _ = writeln!(out, "world extension {{");
    for i in HOST_INTERFACES {
        let _ = writeln!(out, "    import {i};");
    }
    let _ = writeln!(out, "    export actions;");
    let _ = writeln!(out, "}}");
    out
}

const BUILTIN_TYPES: &str = "    /// A Decimal: exact, as canonical text (\"12.50\"): from -79228162514264337593543950335 to 79228162514264337593543950335, at most 28 digits after the point; a + sign and leading zeros are dropped (\"+01.50\" arrives as \"1.50\").
    type decimal = string;
    /// A calendar date.
    record date { year: u16, month: u8, day: u8 }
    /// A time of day, in whole seconds.
    record time { hour: u8, minute: u8, second: u8 }
    /// A moment in UTC, with millisecond precision.
    record date-time { year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8, millisecond: u16 }
    /// The error an action returns; the caller sees its message.
    record action-error { message: string }
";
