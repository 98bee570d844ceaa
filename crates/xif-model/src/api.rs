//! The callable surface of two definitions compared: every change to the actions, their inputs
//! and outputs and the structures they carry, each classified as compatible or breaking for
//! callers, with where it is in `extension.toml` and what a caller would see.
//!
//! Entities keep their own rules ([`crate::schema`], `--force-schema`); their attributes are not
//! compared here. Settings are the administrator's, not the callers'.
//!
//! The rules, from a caller's side (an input is what a caller sends, an output what it reads):
//! - an action added, an optional input added, an output added, a description changed: compatible;
//! - an action removed, an input or output removed, an input added as (or made) mandatory: breaking;
//! - a type changed: breaking, except an input widened from Integer to Long Integer or an output
//!   narrowed from Long Integer to Integer (an input narrowed, an output widened: breaking; callers
//!   may send values that no longer fit, or read values larger than they keep). Lengths and decimals
//!   count the same way for structures' attributes;
//! - a structure's attribute added: breaking when mandatory and callers send the structure
//!   (it is in an input), else compatible; removed or of another type: breaking; made mandatory
//!   where callers send it: breaking.
use std::collections::BTreeSet;
use std::ops::Range;

use crate::definition::{Action, Definition, Field, Record};
use crate::types::Type;

/// What changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeKind {
    /// A new action.
    ActionAdded,
    /// An action is gone.
    ActionRemoved,
    /// A new input with a default or `mandatory = false`.
    OptionalInputAdded,
    /// A new input callers must send.
    MandatoryInputAdded,
    /// An input is gone.
    InputRemoved,
    /// An input callers could leave out must now be sent.
    InputMadeMandatory,
    /// An input callers had to send may now be left out.
    InputMadeOptional,
    /// An input's default value changed.
    InputDefaultChanged,
    /// An input takes every value it took and more (Integer to Long Integer, a longer length).
    InputWidened,
    /// An input takes fewer values (a shorter length, fewer decimals or digits).
    InputNarrowed,
    /// A new output.
    OutputAdded,
    /// An output is gone.
    OutputRemoved,
    /// An output may carry values it never did (a longer length, more digits).
    OutputWidened,
    /// An output carries fewer values than before (a shorter length).
    OutputNarrowed,
    /// An input's or output's type is another.
    TypeChanged,
    /// A structure callers use is gone.
    StructureRemoved,
    /// A structure gained an attribute.
    AttributeAdded,
    /// A structure lost an attribute.
    AttributeRemoved,
    /// A structure's attribute is of another type, or narrower or wider.
    AttributeChanged,
    /// A structure's attribute must now be given.
    AttributeMadeMandatory,
    /// A description of the extension, an action, an input, an output or a structure changed.
    DescriptionChanged,
}

impl ChangeKind {
    /// Its name in snake_case (`input_made_mandatory`), as the server's API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::ActionAdded => "action_added",
            ChangeKind::ActionRemoved => "action_removed",
            ChangeKind::OptionalInputAdded => "optional_input_added",
            ChangeKind::MandatoryInputAdded => "mandatory_input_added",
            ChangeKind::InputRemoved => "input_removed",
            ChangeKind::InputMadeMandatory => "input_made_mandatory",
            ChangeKind::InputMadeOptional => "input_made_optional",
            ChangeKind::InputDefaultChanged => "input_default_changed",
            ChangeKind::InputWidened => "input_widened",
            ChangeKind::InputNarrowed => "input_narrowed",
            ChangeKind::OutputAdded => "output_added",
            ChangeKind::OutputRemoved => "output_removed",
            ChangeKind::OutputWidened => "output_widened",
            ChangeKind::OutputNarrowed => "output_narrowed",
            ChangeKind::TypeChanged => "type_changed",
            ChangeKind::StructureRemoved => "structure_removed",
            ChangeKind::AttributeAdded => "attribute_added",
            ChangeKind::AttributeRemoved => "attribute_removed",
            ChangeKind::AttributeChanged => "attribute_changed",
            ChangeKind::AttributeMadeMandatory => "attribute_made_mandatory",
            ChangeKind::DescriptionChanged => "description_changed",
        }
    }
}

/// One change of the callable surface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiChange {
    /// What changed.
    pub kind: ChangeKind,
    /// Whether callers written for the old definition can break.
    pub breaking: bool,
    /// The change, in one sentence: `input Who of action Greet is now mandatory`.
    pub message: String,
    /// What a caller would see: `calls without Who are refused (400 bad_input)`.
    pub caller: String,
    /// Where it is in the new `extension.toml`, or, for what was removed, in the old one.
    pub span: Option<Range<usize>>,
    /// True when [`ApiChange::span`] points into the old definition (something removed).
    pub in_old: bool,
}

impl ApiChange {
    /// `extension.toml:LINE:COL` of the change, given the old and the new definition's text.
    pub fn location(&self, old_source: &str, new_source: &str) -> Option<(usize, usize)> {
        let src = if self.in_old { old_source } else { new_source };
        self.span.as_ref().map(|s| crate::diag::line_col(src, s.start))
    }
}

/// The changes from `old` to `new`, in the order of `new`'s actions (removals after), then
/// structures.
pub fn diff(old: &Definition, new: &Definition) -> Vec<ApiChange> {
    let mut d = Diff { out: Vec::new() };
    d.description(
        "the extension's description",
        old.description.as_ref(),
        new.description.as_ref(),
        Some(new.name.span.clone()),
    );
    for a in &new.actions {
        match old.actions.iter().find(|o| o.name.text == a.name.text) {
            None => d.push(
                ChangeKind::ActionAdded,
                false,
                format!("action {} is added", a.name.text),
                "nothing: a new action to call".into(),
                Some(a.name.span.clone()),
                false,
            ),
            Some(o) => d.action(o, a),
        }
    }
    for o in &old.actions {
        if !new.actions.iter().any(|a| a.name.text == o.name.text) {
            d.push(
                ChangeKind::ActionRemoved,
                true,
                format!("action {} is removed", o.name.text),
                format!("calls of {} are answered 404 not_found", o.name.text),
                Some(o.name.span.clone()),
                true,
            );
        }
    }
    let (old_in, old_out) = uses(old);
    let (new_in, new_out) = uses(new);
    for s in &old.structures {
        let sent = old_in.contains(&s.name.text);
        let read = old_out.contains(&s.name.text);
        if !sent && !read {
            continue; // no caller ever saw it
        }
        match new.structures.iter().find(|n| n.name.text == s.name.text) {
            // Its uses changed type, which the actions' changes already say.
            None => d.push(
                ChangeKind::StructureRemoved,
                true,
                format!("structure {} is removed", s.name.text),
                format!("what callers sent or read as {} is no longer accepted or answered", s.name.text),
                Some(s.name.span.clone()),
                true,
            ),
            Some(n) => {
                let sent = sent || new_in.contains(&n.name.text);
                let read = read || new_out.contains(&n.name.text);
                d.structure(s, n, sent, read);
            }
        }
    }
    d.out
}

/// Only the breaking changes of [`diff`].
pub fn breaking(old: &Definition, new: &Definition) -> Vec<ApiChange> {
    diff(old, new).into_iter().filter(|c| c.breaking).collect()
}

struct Diff {
    out: Vec<ApiChange>,
}

/// How one field's value range compares: `None` when the types differ otherwise.
#[derive(PartialEq)]
enum Reach {
    Same,
    Wider,
    Narrower,
    Other,
}

fn reach(old: &Field, new: &Field) -> Reach {
    let (Some(ot), Some(nt)) = (&old.parsed, &new.parsed) else {
        return if old.ty.value == new.ty.value { Reach::Same } else { Reach::Other };
    };
    if ot != nt {
        return match (ot, nt) {
            (Type::Integer, Type::LongInteger) => Reach::Wider,
            (Type::LongInteger, Type::Integer) => Reach::Narrower,
            _ => Reach::Other,
        };
    }
    let len = |f: &Field| f.length.as_ref().map(|l| l.value);
    let dec = |f: &Field| f.decimals.as_ref().map(|l| l.value);
    // No length is no limit.
    let cmp = |o: Option<i64>, n: Option<i64>| match (o, n) {
        (a, b) if a == b => Reach::Same,
        (Some(_), None) => Reach::Wider,
        (None, Some(_)) => Reach::Narrower,
        (Some(a), Some(b)) if b > a => Reach::Wider,
        _ => Reach::Narrower,
    };
    match (cmp(len(old), len(new)), cmp(dec(old), dec(new))) {
        (Reach::Same, r) | (r, Reach::Same) => r,
        (a, b) if a == b => a,
        _ => Reach::Other,
    }
}

fn type_text(f: &Field) -> String {
    let mut t = f.ty.value.clone();
    match (&f.length, &f.decimals) {
        (Some(l), Some(d)) => t.push_str(&format!(" (length {}, {} decimals)", l.value, d.value)),
        (Some(l), None) => t.push_str(&format!(" (length {})", l.value)),
        _ => {}
    }
    t
}

impl Diff {
    fn push(
        &mut self,
        kind: ChangeKind,
        breaking: bool,
        message: String,
        caller: String,
        span: Option<Range<usize>>,
        in_old: bool,
    ) {
        self.out.push(ApiChange { kind, breaking, message, caller, span, in_old });
    }

    fn description(
        &mut self,
        what: &str,
        old: Option<&crate::Spanned<String>>,
        new: Option<&crate::Spanned<String>>,
        fallback: Option<Range<usize>>,
    ) {
        if old.map(|d| &d.value) != new.map(|d| &d.value) {
            self.push(
                ChangeKind::DescriptionChanged,
                false,
                format!("{what} changed"),
                "nothing: descriptions are documentation".into(),
                new.map(|d| d.span.clone()).or(fallback),
                false,
            );
        }
    }

    fn action(&mut self, o: &Action, a: &Action) {
        let name = &a.name.text;
        self.description(
            &format!("the description of action {name}"),
            o.description.as_ref(),
            a.description.as_ref(),
            Some(a.name.span.clone()),
        );
        for i in &a.inputs {
            let Some(oi) = o.inputs.iter().find(|x| x.name.text == i.name.text) else {
                if i.is_mandatory() {
                    self.push(
                        ChangeKind::MandatoryInputAdded,
                        true,
                        format!("action {name} has a new mandatory input {}", i.name.text),
                        format!("calls without {} are refused (400 bad_input)", i.name.text),
                        Some(i.span.clone()),
                        false,
                    );
                } else {
                    self.push(
                        ChangeKind::OptionalInputAdded,
                        false,
                        format!("action {name} has a new optional input {}", i.name.text),
                        "nothing: calls without it take its default".into(),
                        Some(i.span.clone()),
                        false,
                    );
                }
                continue;
            };
            let what = format!("input {} of action {name}", i.name.text);
            self.field(oi, i, &what, true);
            match (oi.is_mandatory(), i.is_mandatory()) {
                (false, true) => self.push(
                    ChangeKind::InputMadeMandatory,
                    true,
                    format!("{what} is now mandatory"),
                    format!("calls without {} are refused (400 bad_input)", i.name.text),
                    Some(i.mandatory.as_ref().map(|m| m.span.clone()).unwrap_or(i.span.clone())),
                    false,
                ),
                (true, false) => self.push(
                    ChangeKind::InputMadeOptional,
                    false,
                    format!("{what} is now optional"),
                    "nothing: calls may now leave it out".into(),
                    Some(i.span.clone()),
                    false,
                ),
                _ => {}
            }
            if !i.is_mandatory()
                && !oi.is_mandatory()
                && oi.default.as_ref().map(|d| &d.value) != i.default.as_ref().map(|d| &d.value)
            {
                self.push(
                    ChangeKind::InputDefaultChanged,
                    false,
                    format!("the default of {what} changed"),
                    format!("calls without {} run with the new default", i.name.text),
                    Some(i.default.as_ref().map(|d| d.span.clone()).unwrap_or(i.span.clone())),
                    false,
                );
            }
            self.description(
                &format!("the description of {what}"),
                oi.description.as_ref(),
                i.description.as_ref(),
                Some(i.span.clone()),
            );
        }
        for oi in &o.inputs {
            if !a.inputs.iter().any(|x| x.name.text == oi.name.text) {
                self.push(
                    ChangeKind::InputRemoved,
                    true,
                    format!("input {} of action {name} is removed", oi.name.text),
                    format!("calls that send {} are refused (400 bad_input)", oi.name.text),
                    Some(oi.span.clone()),
                    true,
                );
            }
        }
        for out in &a.outputs {
            let what = format!("output {} of action {name}", out.name.text);
            match o.outputs.iter().find(|x| x.name.text == out.name.text) {
                None => self.push(
                    ChangeKind::OutputAdded,
                    false,
                    format!("action {name} has a new output {}", out.name.text),
                    "nothing: answers carry one more field".into(),
                    Some(out.span.clone()),
                    false,
                ),
                Some(oo) => {
                    self.field(oo, out, &what, false);
                    self.description(
                        &format!("the description of {what}"),
                        oo.description.as_ref(),
                        out.description.as_ref(),
                        Some(out.span.clone()),
                    );
                }
            }
        }
        for oo in &o.outputs {
            if !a.outputs.iter().any(|x| x.name.text == oo.name.text) {
                self.push(
                    ChangeKind::OutputRemoved,
                    true,
                    format!("output {} of action {name} is removed", oo.name.text),
                    format!("answers no longer carry {}", oo.name.text),
                    Some(oo.span.clone()),
                    true,
                );
            }
        }
    }

    /// A parameter's type and reach; `input` says whether callers send it.
    fn field(&mut self, old: &Field, new: &Field, what: &str, input: bool) {
        let span = Some(new.ty.span.clone());
        let (ot, nt) = (type_text(old), type_text(new));
        match (reach(old, new), input) {
            (Reach::Same, _) => {}
            (Reach::Other, _) => self.push(
                ChangeKind::TypeChanged,
                true,
                format!("{what} changed type from {ot} to {nt}"),
                if input {
                    format!("values sent as {ot} may be refused (400 bad_input)")
                } else {
                    format!("answers carry {nt} where callers read {ot}")
                },
                span,
                false,
            ),
            (Reach::Wider, true) => self.push(
                ChangeKind::InputWidened,
                false,
                format!("{what} is widened from {ot} to {nt}"),
                "nothing: every value accepted before still is".into(),
                span,
                false,
            ),
            (Reach::Narrower, true) => self.push(
                ChangeKind::InputNarrowed,
                true,
                format!("{what} is narrowed from {ot} to {nt}"),
                format!("values that fitted {ot} but not {nt} are refused (400 bad_input)"),
                span,
                false,
            ),
            (Reach::Wider, false) => self.push(
                ChangeKind::OutputWidened,
                true,
                format!("{what} is widened from {ot} to {nt}"),
                format!("answers may carry values that do not fit {ot}"),
                span,
                false,
            ),
            (Reach::Narrower, false) => self.push(
                ChangeKind::OutputNarrowed,
                false,
                format!("{what} is narrowed from {ot} to {nt}"),
                "nothing: every answer still fits what callers read".into(),
                span,
                false,
            ),
        }
    }

    /// A structure's attributes; `sent` and `read` say whether callers send it (in an input) and
    /// read it (in an output).
    fn structure(&mut self, o: &Record, n: &Record, sent: bool, read: bool) {
        let name = &n.name.text;
        self.description(
            &format!("the description of structure {name}"),
            o.description.as_ref(),
            n.description.as_ref(),
            Some(n.name.span.clone()),
        );
        for a in &n.attributes {
            let what = format!("attribute {} of structure {name}", a.name.text);
            match o.attributes.iter().find(|x| x.name.text == a.name.text) {
                None => {
                    let breaking = sent && a.is_mandatory();
                    self.push(
                        ChangeKind::AttributeAdded,
                        breaking,
                        format!(
                            "structure {name} has a new {}attribute {}",
                            if a.is_mandatory() { "mandatory " } else { "" },
                            a.name.text
                        ),
                        if breaking {
                            format!("{name} values sent without {} are refused (400 bad_input)", a.name.text)
                        } else {
                            "nothing: one more attribute, optional or only read".into()
                        },
                        Some(a.span.clone()),
                        false,
                    );
                }
                Some(oa) => {
                    let r = reach(oa, a);
                    let breaking = match r {
                        Reach::Same => false,
                        Reach::Other => true,
                        Reach::Wider => read,
                        Reach::Narrower => sent,
                    };
                    if r != Reach::Same {
                        self.push(
                            ChangeKind::AttributeChanged,
                            breaking,
                            format!("{what} changed from {} to {}", type_text(oa), type_text(a)),
                            if breaking {
                                format!(
                                    "{name} values may no longer fit what callers send or read as {}",
                                    type_text(oa)
                                )
                            } else {
                                "nothing: every value that fitted still does, where callers see it".into()
                            },
                            Some(a.ty.span.clone()),
                            false,
                        );
                    }
                    if sent && !oa.is_mandatory() && a.is_mandatory() {
                        self.push(
                            ChangeKind::AttributeMadeMandatory,
                            true,
                            format!("{what} is now mandatory"),
                            format!("{name} values sent without {} are refused (400 bad_input)", a.name.text),
                            Some(a.mandatory.as_ref().map(|m| m.span.clone()).unwrap_or(a.span.clone())),
                            false,
                        );
                    }
                }
            }
        }
        for oa in &o.attributes {
            if !n.attributes.iter().any(|x| x.name.text == oa.name.text) {
                self.push(
                    ChangeKind::AttributeRemoved,
                    true,
                    format!("attribute {} of structure {name} is removed", oa.name.text),
                    if read {
                        format!("{name} values no longer carry {}", oa.name.text)
                    } else {
                        format!("{name} values that carry {} are refused (400 bad_input)", oa.name.text)
                    },
                    Some(oa.span.clone()),
                    true,
                );
            }
        }
    }
}

/// The structures a definition's callers send (reachable from an input) and read (reachable from
/// an output), through structures and lists.
fn uses(def: &Definition) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut sent = BTreeSet::new();
    let mut read = BTreeSet::new();
    for a in &def.actions {
        for i in &a.inputs {
            reach_records(def, i.parsed.as_ref(), &mut sent);
        }
        for o in &a.outputs {
            reach_records(def, o.parsed.as_ref(), &mut read);
        }
    }
    (sent, read)
}

fn reach_records(def: &Definition, ty: Option<&Type>, into: &mut BTreeSet<String>) {
    match ty {
        Some(Type::List(inner)) => reach_records(def, Some(inner), into),
        Some(Type::Record(name)) => {
            if let Some(s) = def.structures.iter().find(|s| &s.name.text == name)
                && into.insert(name.clone())
            {
                for a in &s.attributes {
                    reach_records(def, a.parsed.as_ref(), into);
                }
            }
        }
        _ => {}
    }
}
