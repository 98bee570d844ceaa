//! Entity schemas: what a server's entity tables hold, and how a new definition may change them
//! (DESIGN.md, "Entities and versions").
//!
//! Schemas only grow. [`plan`] compares the stored schema of an extension's entities with a new
//! definition and returns the schema after the change and the steps that make it:
//!
//! - a new entity is a new table; a new attribute a new column, filled with its default in every
//!   existing record;
//! - a widened Text length, wider Decimal digits or Integer → Long Integer change only the
//!   recorded limits (the stored values already fit);
//! - an entity or attribute the definition no longer has is hidden, never dropped: its data stays,
//!   and it comes back (with its data) when a later version defines it again.
//!
//! A change that would lose or corrupt data is refused with a [`Diagnostic`] at the new
//! definition's attribute: narrowing (E100), an incompatible type change (E101), a different
//! identifier (E102). With `force`, the change is made without touching stored values: a
//! narrowed limit is recorded as is, an incompatible attribute's old column is retired (kept,
//! hidden, never used again) and a new one added, and a different identifier retires the whole
//! table and starts a new one.
//!
//! Physical names (tables, columns) are internal: columns are `c1`, `c2`… in the order they were
//! first added, so no user name ever reaches SQL.
use serde::{Deserialize, Serialize};

use crate::definition::{Definition, Field, Record};
use crate::diag::Diagnostic;
use crate::types::Type;
use crate::value;

/// The stored schema of one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntitySchema {
    /// The entity's name as last defined.
    pub name: String,
    /// Not in the latest published definition (its table and data are kept).
    #[serde(default)]
    pub hidden: bool,
    /// Which physical table holds it: a new generation starts when a forced publish changes
    /// the identifier (the older table is kept, unused).
    #[serde(default)]
    pub generation: u32,
    /// Every attribute ever stored, in the order added (hidden and retired ones included).
    pub attributes: Vec<AttributeSchema>,
    /// The number of the next column.
    pub next_column: u32,
}

/// The stored schema of one attribute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeSchema {
    /// Its name as last defined.
    pub name: String,
    /// Its column (`c1`, `c2`…).
    pub column: String,
    /// Its type, resolved to a basic type, as written (`"Long Integer"`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Text: characters; Decimal: total digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<i64>,
    /// Decimal: digits after the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<i64>,
    /// The entity's identifier.
    #[serde(default)]
    pub identifier: bool,
    /// Numbered by the server.
    #[serde(default)]
    pub auto_number: bool,
    /// The value existing records got when the column was added (JSON form).
    pub default: serde_json::Value,
    /// Not in the latest published definition.
    #[serde(default)]
    pub hidden: bool,
    /// Replaced by a forced incompatible change: never used again.
    #[serde(default)]
    pub retired: bool,
}

impl AttributeSchema {
    /// The basic type.
    pub fn basic_type(&self) -> Type {
        Type::parse(&self.ty).unwrap_or(Type::Text)
    }
}

impl EntitySchema {
    /// The live (not hidden, not retired) attribute with this name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeSchema> {
        self.attributes.iter().find(|a| !a.hidden && !a.retired && a.name.eq_ignore_ascii_case(name))
    }

    /// The identifier attribute.
    pub fn identifier(&self) -> Option<&AttributeSchema> {
        self.attributes.iter().find(|a| a.identifier && !a.retired)
    }
}

/// One change a publish makes to the schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// A new table for this entity (new, or a new generation).
    CreateTable {
        /// The entity.
        entity: String,
    },
    /// A new column, filled with the attribute's default in existing records.
    AddColumn {
        /// The entity.
        entity: String,
        /// The attribute.
        attribute: String,
    },
    /// Only the recorded schema changes (limits widened, attributes hidden or shown again, a
    /// forced narrowing); the stored values stay as they are.
    Describe {
        /// The entity.
        entity: String,
        /// What changes, in words.
        what: String,
    },
}

impl Step {
    /// The step in words, for the publish's progress.
    pub fn describe(&self) -> String {
        match self {
            Step::CreateTable { entity } => format!("{entity}: new table"),
            Step::AddColumn { entity, attribute } => format!("{entity}: added {attribute}"),
            Step::Describe { entity, what } => format!("{entity}: {what}"),
        }
    }
}

/// What [`plan`] decides.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// The schema of every entity after the change (hidden ones included).
    pub entities: Vec<EntitySchema>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Changes refused (errors naming the attribute and why); empty when the plan may be applied.
    pub refused: Vec<Diagnostic>,
    /// Changes made only because `force` was given (what they would have been refused for).
    pub forced: Vec<Diagnostic>,
}

/// The schema a definition's entity would get on an empty server (for tools that compare two
/// definitions, such as Verify against a server's active version).
pub fn from_definition(def: &Definition) -> Vec<EntitySchema> {
    plan(&[], def, false).entities
}

/// Plans the change from `current` to the entities of `new` (see the module documentation).
pub fn plan(current: &[EntitySchema], new: &Definition, force: bool) -> Plan {
    let mut out = Plan::default();
    let mut done: Vec<bool> = vec![false; current.len()];
    for e in &new.entities {
        let found = current.iter().position(|c| c.name.eq_ignore_ascii_case(&e.name.text));
        match found {
            None => {
                let schema = new_table(new, e, 0);
                out.steps.push(Step::CreateTable { entity: e.name.text.clone() });
                out.entities.push(schema);
            }
            Some(i) => {
                done[i] = true;
                let schema = grow(&current[i], new, e, force, &mut out);
                out.entities.push(schema);
            }
        }
    }
    for (c, _) in current.iter().zip(&done).filter(|(_, d)| !**d) {
        let mut c = c.clone();
        if !c.hidden {
            out.steps.push(Step::Describe {
                entity: c.name.clone(),
                what: "hidden (no longer defined; its records are kept)".into(),
            });
        }
        c.hidden = true;
        out.entities.push(c);
    }
    out
}

fn attribute(def: &Definition, f: &Field, column: u32) -> AttributeSchema {
    let ty = f.parsed.as_ref().and_then(|t| def.resolve(t)).unwrap_or(Type::Text);
    AttributeSchema {
        name: f.name.text.clone(),
        column: format!("c{column}"),
        ty: ty.display(),
        length: f.length.as_ref().map(|l| l.value),
        decimals: f.decimals.as_ref().map(|d| d.value),
        identifier: f.identifier,
        auto_number: f.auto_number_on(),
        default: value::to_json(&value::field_default(def, f)),
        hidden: false,
        retired: false,
    }
}

fn new_table(def: &Definition, e: &Record, generation: u32) -> EntitySchema {
    let attributes: Vec<AttributeSchema> =
        e.attributes.iter().enumerate().map(|(i, f)| attribute(def, f, i as u32 + 1)).collect();
    EntitySchema {
        name: e.name.text.clone(),
        hidden: false,
        generation,
        next_column: attributes.len() as u32 + 1,
        attributes,
    }
}

/// How far a stored attribute's values reach, to compare limits.
fn reach(a: &AttributeSchema) -> (i64, i64) {
    match a.basic_type() {
        // (characters, 0)
        Type::Text => (a.length.unwrap_or(i64::MAX), 0),
        // (digits before the point, digits after)
        Type::Decimal => match (a.length, a.decimals) {
            (Some(l), Some(d)) => (l - d, d),
            (Some(l), None) => (l, l),
            (None, Some(d)) => (29, d),
            (None, None) => (29, 28),
        },
        _ => (0, 0),
    }
}

/// Whether values of `old`'s type are all values of `new`'s type, kept as they are stored.
fn type_grows(old: &Type, new: &Type) -> bool {
    old == new || matches!((old, new), (Type::Integer, Type::LongInteger))
}

enum Verdict {
    Same,
    Widened(String),
    Narrowed(String),
    Incompatible(String),
}

fn compare(old: &AttributeSchema, new: &AttributeSchema) -> Verdict {
    let (ot, nt) = (old.basic_type(), new.basic_type());
    if !type_grows(&ot, &nt) {
        if type_grows(&nt, &ot) {
            return Verdict::Narrowed(format!(
                "its type would narrow from {} to {}, and stored values may not fit",
                old.ty, new.ty
            ));
        }
        return Verdict::Incompatible(format!(
            "its type would change from {} to {}, which stored values cannot be converted to without loss",
            old.ty, new.ty
        ));
    }
    let (o, n) = (reach(old), reach(new));
    let show = |a: &AttributeSchema| match (a.basic_type(), a.length, a.decimals) {
        (Type::Text, Some(l), _) => format!("length {l}"),
        (Type::Text, None, _) => "no length limit".to_string(),
        (_, l, d) => format!(
            "length {}, decimals {}",
            l.map(|l| l.to_string()).unwrap_or_else(|| "unset".into()),
            d.map(|d| d.to_string()).unwrap_or_else(|| "unset".into())
        ),
    };
    if n.0 < o.0 || n.1 < o.1 {
        let unit = if nt == Type::Text { "longer texts" } else { "digits" };
        return Verdict::Narrowed(format!(
            "it would narrow from {} to {}, and stored {unit} would not fit",
            show(old),
            show(new)
        ));
    }
    let mut changes = Vec::new();
    if ot != nt {
        changes.push(format!("{} → {}", old.ty, new.ty));
    }
    if n != o {
        changes.push(format!("{} → {}", show(old), show(new)));
    }
    if changes.is_empty() { Verdict::Same } else { Verdict::Widened(changes.join(", ")) }
}

fn grow(cur: &EntitySchema, def: &Definition, e: &Record, force: bool, out: &mut Plan) -> EntitySchema {
    let entity = e.name.text.clone();
    let mut next = cur.clone();
    next.name = entity.clone();
    if cur.hidden {
        out.steps.push(Step::Describe { entity: entity.clone(), what: "defined again: shown with its records".into() });
    }
    next.hidden = false;
    // The identifier: the same attribute (by name), of a type its values still fit.
    let old_id = cur.identifier();
    let new_id = e.identifier();
    if let (Some(old_id), Some(new_id)) = (old_id, new_id) {
        let probe = attribute(def, new_id, 0);
        let why = if !old_id.name.eq_ignore_ascii_case(&new_id.name.text) {
            Some(format!(
                "the identifier of entity {entity} would change from {} to {}; records are found by their identifier",
                old_id.name, new_id.name.text
            ))
        } else if !type_grows(&old_id.basic_type(), &probe.basic_type()) {
            Some(format!(
                "the identifier {} of entity {entity} would change type from {} to {}",
                new_id.name.text, old_id.ty, probe.ty
            ))
        } else {
            None
        };
        if let Some(why) = why {
            let d = Diagnostic::error("E102", why, Some(new_id.name.span.clone())).help(
                "keep the identifier as published (name and type); or publish with force to start a new, empty table (the old one is kept, unused)",
            );
            if !force {
                out.refused.push(d);
                return next;
            }
            out.forced.push(d);
            out.steps.push(Step::CreateTable { entity: entity.clone() });
            out.steps.push(Step::Describe {
                entity: entity.clone(),
                what: format!("the table of generation {} is kept, unused", cur.generation),
            });
            let mut fresh = new_table(def, e, cur.generation + 1);
            // Keep the old columns' numbers unused, so old and new never mix up.
            let offset = cur.next_column - 1;
            for a in &mut fresh.attributes {
                let n: u32 = a.column[1..].parse().unwrap_or(0);
                a.column = format!("c{}", n + offset);
            }
            fresh.next_column += offset;
            return fresh;
        }
    }
    let mut seen: Vec<String> = Vec::new();
    for f in &e.attributes {
        let mut wanted = attribute(def, f, 0);
        // The live attribute of this name, or else a hidden one that may come back.
        let existing = next
            .attributes
            .iter()
            .position(|a| !a.retired && !a.hidden && a.name.eq_ignore_ascii_case(&f.name.text))
            .or_else(|| {
                next.attributes.iter().position(|a| !a.retired && a.hidden && a.name.eq_ignore_ascii_case(&f.name.text))
            });
        seen.push(f.name.text.to_ascii_lowercase());
        let Some(i) = existing else {
            wanted.column = format!("c{}", next.next_column);
            next.next_column += 1;
            out.steps.push(Step::AddColumn { entity: entity.clone(), attribute: f.name.text.clone() });
            next.attributes.push(wanted);
            continue;
        };
        let old = next.attributes[i].clone();
        wanted.column = old.column.clone();
        // The default existing records got stays what it was.
        wanted.default = old.default.clone();
        let came_back = old.hidden;
        match compare(&old, &wanted) {
            Verdict::Same => {}
            Verdict::Widened(how) => out
                .steps
                .push(Step::Describe { entity: entity.clone(), what: format!("{} widened: {how}", f.name.text) }),
            Verdict::Narrowed(why) => {
                // Point at what narrowed: the decimals, else the length, else the type.
                let fewer_decimals = reach(&wanted).1 < reach(&old).1;
                let span = match (&f.length, &f.decimals) {
                    (_, Some(d)) if old.ty == wanted.ty && fewer_decimals => d.span.clone(),
                    (Some(l), _) if old.ty == wanted.ty => l.span.clone(),
                    (None, Some(d)) if old.ty == wanted.ty => d.span.clone(),
                    _ => f.ty.span.clone(),
                };
                let d = Diagnostic::error(
                    "E100",
                    format!("attribute {} of entity {entity} cannot narrow: {why}", f.name.text),
                    Some(span),
                )
                .help(format!(
                    "keep {} at least as wide as published; or publish with force to record the narrower limit (stored values are left as they are)",
                    f.name.text
                ));
                if !force {
                    out.refused.push(d);
                } else {
                    out.forced.push(d);
                    out.steps.push(Step::Describe {
                        entity: entity.clone(),
                        what: format!("{} narrowed by force: {why}", f.name.text),
                    });
                }
            }
            Verdict::Incompatible(why) => {
                let d = Diagnostic::error(
                    "E101",
                    format!("attribute {} of entity {entity} cannot change type: {why}", f.name.text),
                    Some(f.ty.span.clone()),
                )
                .help(format!(
                    "keep the type of {} (or add a new attribute with another name); or publish with force to start the attribute afresh (its old values are kept, hidden)",
                    f.name.text
                ));
                if !force {
                    out.refused.push(d);
                    continue;
                }
                out.forced.push(d);
                next.attributes[i].retired = true;
                next.attributes[i].hidden = true;
                wanted.column = format!("c{}", next.next_column);
                wanted.default = value::to_json(&value::field_default(def, f));
                next.next_column += 1;
                out.steps.push(Step::AddColumn { entity: entity.clone(), attribute: f.name.text.clone() });
                next.attributes.push(wanted);
                continue;
            }
        }
        if came_back {
            out.steps.push(Step::Describe {
                entity: entity.clone(),
                what: format!("{} defined again: shown with its stored values", f.name.text),
            });
        }
        next.attributes[i] = wanted;
    }
    for a in next.attributes.iter_mut().filter(|a| !a.retired && !a.hidden) {
        if !seen.contains(&a.name.to_ascii_lowercase()) {
            a.hidden = true;
            out.steps.push(Step::Describe {
                entity: entity.clone(),
                what: format!("{} hidden (no longer defined; its values are kept)", a.name),
            });
        }
    }
    next
}

/// The changes from the entities of `old` (for example a server's active version) to those of
/// `new` that a publish would refuse, as Verify errors at `new`'s attributes. (A server compares
/// with its stored schema, which also remembers hidden attributes; this is the same check
/// against one definition.)
pub fn check_against(old: &Definition, new: &Definition) -> Vec<Diagnostic> {
    plan(&from_definition(old), new, false).refused
}

/// Plans a rollback to an older definition: the current schema is kept (nothing is hidden and
/// no limit narrows, so the newer attributes keep their values and the older code sees only the
/// attributes it knows); only what the older definition has and the schema lacks is added.
/// Refused only when the older code could not read what is stored (E101, E102).
pub fn plan_rollback(current: &[EntitySchema], old: &Definition) -> Plan {
    let mut p = plan(current, old, false);
    p.refused.retain(|d| d.code != "E100");
    for e in &mut p.entities {
        let Some(cur) = current.iter().find(|c| c.name.eq_ignore_ascii_case(&e.name) || c.name == e.name) else {
            continue;
        };
        if cur.generation != e.generation {
            continue;
        }
        e.hidden = cur.hidden && e.hidden;
        if !cur.hidden {
            e.name = cur.name.clone();
        }
        for a in &mut e.attributes {
            if let Some(c) = cur.attributes.iter().find(|c| c.column == a.column) {
                let shown = !a.hidden || !c.hidden;
                *a = c.clone();
                a.hidden = !shown;
            }
        }
    }
    p.steps.retain(|s| !matches!(s, Step::Describe { .. }));
    p
}
