//! The parsed definition: what `extension.toml` says, with where each part was written.
use std::ops::Range;

use crate::types::Type;

/// A piece of the definition together with the byte range it was written at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written in `extension.toml`.
    pub span: Range<usize>,
}

/// An element name as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The name.
    pub text: String,
    /// Where it was written.
    pub span: Range<usize>,
}

impl Name {
    /// The WIT form of the name (see [`crate::names`]).
    pub fn wit(&self) -> String {
        crate::names::wit(&self.text)
    }
    /// The Rust identifier form of the name.
    pub fn rust_ident(&self) -> String {
        crate::names::rust_ident(&self.text)
    }
    /// The Rust type form of the name.
    pub fn rust_type(&self) -> String {
        crate::names::rust_type(&self.text)
    }
}

/// A whole extension definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// `[extension] name`.
    pub name: Name,
    /// `[extension] description`.
    pub description: Option<Spanned<String>>,
    /// `[structures.X]`, in the order written.
    pub structures: Vec<Record>,
    /// `[actions.X]`, in the order written.
    pub actions: Vec<Action>,
    /// `[settings]`, in the order written.
    pub settings: Vec<Field>,
    /// `[entities.X]`, in the order written.
    pub entities: Vec<Record>,
    /// `[resources] files`, in the order written.
    pub resources: Vec<Spanned<String>>,
}

/// A structure or an entity: a named list of attributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Its name.
    pub name: Name,
    /// Its description (the `description` key of the table).
    pub description: Option<Spanned<String>>,
    /// Its attributes in the order written.
    pub attributes: Vec<Field>,
}

impl Record {
    /// The identifier attribute of an entity.
    pub fn identifier(&self) -> Option<&Field> {
        self.attributes.iter().find(|a| a.identifier)
    }
}

/// An action: named inputs and outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// Its name.
    pub name: Name,
    /// Its description.
    pub description: Option<Spanned<String>>,
    /// Input parameters in the order written.
    pub inputs: Vec<Field>,
    /// Output parameters in the order written.
    pub outputs: Vec<Field>,
}

impl Action {
    /// The file of the extension folder that implements it: `src/actions/<rust ident>.rs`.
    pub fn source_file(&self) -> String {
        format!("src/actions/{}.rs", self.name.rust_ident())
    }
    /// The WIT name of the record that carries this action's outputs.
    pub fn output_record_wit(&self) -> String {
        format!("{}-output", self.name.wit())
    }
    /// The Rust type of the record that carries this action's outputs.
    pub fn output_record_rust(&self) -> String {
        crate::names::kebab_to_rust_type(&self.output_record_wit())
    }
}

/// A literal value written in the definition (a `default`).
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A TOML string.
    Text(String),
    /// A TOML integer.
    Integer(i64),
    /// A TOML float, as written.
    Float(String),
    /// A TOML boolean.
    Boolean(bool),
    /// Anything else (an array, a table, a TOML date), described.
    Other(String),
}

/// What a [`Field`] is: the same shape serves attributes, parameters and settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// An attribute of a structure.
    StructureAttribute,
    /// An attribute of an entity.
    EntityAttribute,
    /// An action's input parameter.
    Input,
    /// An action's output parameter.
    Output,
    /// An extension setting.
    Setting,
}

impl FieldKind {
    /// How the definition calls this kind of field in messages.
    pub fn noun(self) -> &'static str {
        match self {
            FieldKind::StructureAttribute | FieldKind::EntityAttribute => "attribute",
            FieldKind::Input => "input",
            FieldKind::Output => "output",
            FieldKind::Setting => "setting",
        }
    }
}

/// An attribute, parameter or setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// What it is.
    pub kind: FieldKind,
    /// Its name.
    pub name: Name,
    /// Its type as written (`type = "…"` or the shorthand string).
    pub ty: Spanned<String>,
    /// The parsed type, when its text could be read.
    pub parsed: Option<Type>,
    /// `default = …`
    pub default: Option<Spanned<Literal>>,
    /// `mandatory = …`
    pub mandatory: Option<Spanned<bool>>,
    /// `length = …` (Text: characters; Decimal: total digits).
    pub length: Option<Spanned<i64>>,
    /// `decimals = …` (Decimal only).
    pub decimals: Option<Spanned<i64>>,
    /// `identifier = true` (entity attributes).
    pub identifier: bool,
    /// `auto_number = true` (entity identifiers).
    pub auto_number: Option<Spanned<bool>>,
    /// `secret = true` (settings).
    pub secret: bool,
    /// `description = …`
    pub description: Option<Spanned<String>>,
    /// The whole `Name = …` entry.
    pub span: Range<usize>,
}

impl Field {
    /// Whether a value must be given: inputs unless `mandatory = false` or they have a default;
    /// entity attributes unless `mandatory = false`; structure attributes and settings only when
    /// `mandatory = true`; outputs never.
    pub fn is_mandatory(&self) -> bool {
        let said = self.mandatory.as_ref().map(|m| m.value);
        match self.kind {
            FieldKind::Input => said.unwrap_or(self.default.is_none()),
            FieldKind::EntityAttribute => said.unwrap_or(!self.auto_number_on()),
            FieldKind::StructureAttribute | FieldKind::Setting => said.unwrap_or(false),
            FieldKind::Output => false,
        }
    }

    /// True when `auto_number = true`.
    pub fn auto_number_on(&self) -> bool {
        self.auto_number.as_ref().is_some_and(|a| a.value)
    }
}

/// Which kind of record a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A `[structures.X]`.
    Structure,
    /// An `[entities.X]`.
    Entity,
}

impl Definition {
    /// The structure or entity with exactly this name.
    pub fn record(&self, name: &str) -> Option<(&Record, RecordKind)> {
        self.structures
            .iter()
            .find(|s| s.name.text == name)
            .map(|s| (s, RecordKind::Structure))
            .or_else(|| self.entities.iter().find(|e| e.name.text == name).map(|e| (e, RecordKind::Entity)))
    }

    /// The entity with exactly this name.
    pub fn entity(&self, name: &str) -> Option<&Record> {
        self.entities.iter().find(|e| e.name.text == name)
    }

    /// The action with exactly this name (or, failing that, the only one that matches
    /// case-insensitively).
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions
            .iter()
            .find(|a| a.name.text == name)
            .or_else(|| self.actions.iter().find(|a| a.name.text.eq_ignore_ascii_case(name)))
    }

    /// Follows `X Identifier` to the type of X's identifier attribute; other types unchanged.
    /// Returns `None` for an identifier of an unknown entity.
    pub fn resolve(&self, ty: &Type) -> Option<Type> {
        match ty {
            Type::Identifier(e) => {
                let id = self.entity(e)?.identifier()?;
                let inner = id.parsed.as_ref()?;
                if matches!(inner, Type::Identifier(_)) { None } else { Some(inner.clone()) }
            }
            other => Some(other.clone()),
        }
    }

    /// The definition's text form of everything the runtime needs is the definition itself;
    /// this lists every record type reachable from the actions, in first-use order.
    pub fn records_in_use(&self) -> Vec<&Record> {
        let mut seen: Vec<&Record> = Vec::new();
        fn visit<'a>(def: &'a Definition, ty: &Type, seen: &mut Vec<&'a Record>) {
            match ty {
                Type::List(inner) => visit(def, inner, seen),
                Type::Record(n) => {
                    if let Some((r, _)) = def.record(n) {
                        if seen.iter().any(|s| std::ptr::eq(*s, r)) {
                            return;
                        }
                        for a in &r.attributes {
                            if let Some(t) = &a.parsed {
                                visit(def, t, seen);
                            }
                        }
                        seen.push(r);
                    }
                }
                _ => {}
            }
        }
        for a in &self.actions {
            for f in a.inputs.iter().chain(&a.outputs) {
                if let Some(t) = &f.parsed {
                    visit(self, t, &mut seen);
                }
            }
        }
        seen
    }
}
