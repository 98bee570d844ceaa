//! Reading `extension.toml` into a [`Definition`], keeping every span and collecting every shape
//! error at once (wrong kinds of values, unknown keys, missing required keys).
use std::ops::Range;

use toml::Spanned as TSpanned;
use toml::de::{DeTable, DeValue};

use crate::definition::*;
use crate::diag::Diagnostic;
use crate::types::Type;

type Entry<'a, 'i> = (&'a TSpanned<toml::de::DeString<'i>>, &'a TSpanned<DeValue<'i>>);

/// Parses the text of `extension.toml`. Returns the definition whenever the text is TOML with an
/// `[extension]` section (even with errors in some elements, which are then left out or filled with
/// what was readable; a name that could not be read is empty with the span `0..0`) and every
/// diagnostic found on the way. Semantic checks are [`crate::verify::verify`]'s job.
pub fn parse(source: &str) -> (Option<Definition>, Vec<Diagnostic>) {
    let mut p = Parser { diags: Vec::new() };
    let (doc, errors) = DeTable::parse_recoverable(source);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().trim().to_string();
            p.diags.push(
                Diagnostic::error("E001", format!("invalid TOML: {msg}"), Some(span))
                    .help("fix the TOML syntax; see docs/EXTENSIONS.md for the shape of extension.toml"),
            );
        }
        return (None, p.diags);
    }
    let def = p.document(doc.get_ref(), doc.span());
    (def, p.diags)
}

struct Parser {
    diags: Vec<Diagnostic>,
}

fn kind_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

const TOP_KEYS: &[&str] = &["extension", "structures", "actions", "settings", "entities", "resources"];

impl Parser {
    fn err(&mut self, code: &'static str, msg: impl Into<String>, span: Range<usize>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(code, msg, Some(span)));
        let last = self.diags.len() - 1;
        &mut self.diags[last]
    }

    fn unknown_key(&mut self, key: &str, span: Range<usize>, place: &str, allowed: &[&str]) {
        let suggestion = closest(key, allowed);
        let help = match suggestion {
            Some(s) => format!("did you mean `{s}`? {place} takes: {}", allowed.join(", ")),
            None => format!("{place} takes: {}", allowed.join(", ")),
        };
        let d = self.err("E004", format!("unknown key `{key}` in {place}"), span);
        d.help = Some(help);
    }

    fn wrong_kind(&mut self, what: &str, expected: &str, v: &TSpanned<DeValue<'_>>) {
        let d = self.err("E005", format!("{what} must be {expected}, not {}", kind_name(v.get_ref())), v.span());
        d.help = Some(format!("write {what} as {expected}"));
    }

    fn string(&mut self, what: &str, v: &TSpanned<DeValue<'_>>) -> Option<Spanned<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned { value: s.to_string(), span: v.span() }),
            _ => {
                self.wrong_kind(what, "a string", v);
                None
            }
        }
    }

    fn boolean(&mut self, what: &str, v: &TSpanned<DeValue<'_>>) -> Option<Spanned<bool>> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Spanned { value: *b, span: v.span() }),
            _ => {
                self.wrong_kind(what, "`true` or `false`", v);
                None
            }
        }
    }

    fn integer(&mut self, what: &str, v: &TSpanned<DeValue<'_>>) -> Option<Spanned<i64>> {
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                Ok(n) => Some(Spanned { value: n, span: v.span() }),
                Err(_) => {
                    self.err("E005", format!("{what} is out of range"), v.span());
                    None
                }
            },
            _ => {
                self.wrong_kind(what, "a whole number", v);
                None
            }
        }
    }

    fn table<'a, 'i>(&mut self, what: &str, v: &'a TSpanned<DeValue<'i>>) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_kind(what, "a table", v);
                None
            }
        }
    }

    fn name(&self, key: &TSpanned<toml::de::DeString<'_>>) -> Name {
        Name { text: key.get_ref().to_string(), span: key.span() }
    }

    fn document(&mut self, doc: &DeTable<'_>, doc_span: Range<usize>) -> Option<Definition> {
        let mut def = Definition {
            name: Name { text: String::new(), span: 0..0 },
            description: None,
            structures: Vec::new(),
            actions: Vec::new(),
            settings: Vec::new(),
            entities: Vec::new(),
            resources: Vec::new(),
        };
        let mut have_extension = false;
        for (k, v) in doc.iter() {
            match k.get_ref().as_ref() {
                "extension" => {
                    have_extension = true;
                    if let Some(t) = self.table("[extension]", v) {
                        self.extension(t, v.span(), &mut def);
                    }
                }
                "structures" => {
                    if let Some(t) = self.table("[structures]", v) {
                        def.structures = self.records(t, FieldKind::StructureAttribute);
                    }
                }
                "entities" => {
                    if let Some(t) = self.table("[entities]", v) {
                        def.entities = self.records(t, FieldKind::EntityAttribute);
                    }
                }
                "actions" => {
                    if let Some(t) = self.table("[actions]", v) {
                        for (ak, av) in t.iter() {
                            if let Some(a) = self.action((ak, av)) {
                                def.actions.push(a);
                            }
                        }
                    }
                }
                "settings" => {
                    if let Some(t) = self.table("[settings]", v) {
                        def.settings = t.iter().filter_map(|e| self.field(e, FieldKind::Setting)).collect();
                    }
                }
                "resources" => {
                    if let Some(t) = self.table("[resources]", v) {
                        def.resources = self.resources(t);
                    }
                }
                other if !matches!(v.get_ref(), DeValue::Table(_)) => {
                    // A key written before the first section header, e.g. `name = "X"` without `[extension]`.
                    let other = other.to_string();
                    let help = if other == "name" || other == "description" {
                        format!("`{other}` belongs under [extension]: write `[extension]` on the line before it")
                    } else {
                        format!("every key belongs to a section; the sections are: {}", TOP_KEYS.join(", "))
                    };
                    self.diags.push(
                        Diagnostic::error("E004", format!("unknown key `{other}` outside any section"), Some(k.span()))
                            .help(help),
                    );
                }
                other => {
                    let other = other.to_string();
                    self.diags.push(
                        Diagnostic::error("E006", format!("unknown section `[{other}]`"), Some(k.span())).help(
                            match closest(&other, TOP_KEYS) {
                                Some(s) => format!("did you mean `[{s}]`? The sections are: {}", TOP_KEYS.join(", ")),
                                None => format!("the sections are: {}", TOP_KEYS.join(", ")),
                            },
                        ),
                    );
                }
            }
        }
        if !have_extension {
            self.diags.push(
                Diagnostic::error("E002", "missing `[extension]` section", Some(doc_span.start..doc_span.start))
                    .help("start the file with:\n  [extension]\n  name = \"MyExtension\""),
            );
            return None;
        }
        // Types that name a structure or entity spelled like a basic type (`Number`) are read now
        // that every record name is known.
        let records: Vec<String> = def.structures.iter().chain(&def.entities).map(|r| r.name.text.clone()).collect();
        let is_record = |n: &str| records.iter().any(|r| r == n);
        let fields = def
            .structures
            .iter_mut()
            .chain(def.entities.iter_mut())
            .flat_map(|r| r.attributes.iter_mut())
            .chain(def.actions.iter_mut().flat_map(|a| a.inputs.iter_mut().chain(a.outputs.iter_mut())))
            .chain(def.settings.iter_mut());
        for f in fields.filter(|f| f.parsed.is_none()) {
            f.parsed = Type::parse_in(&f.ty.value, &is_record).ok();
        }
        // A name that could not be read stays empty at 0..0 (the reason is reported above); the rest
        // of the definition is still returned so that Verify reports everything at once.
        Some(def)
    }

    fn extension(&mut self, t: &DeTable<'_>, span: Range<usize>, def: &mut Definition) {
        let mut have_name = false;
        for (k, v) in t.iter() {
            match k.get_ref().as_ref() {
                "name" => {
                    // Written: E005 says so when it is not a string; E003 is for a name not written at all.
                    have_name = true;
                    if let Some(s) = self.string("`name`", v) {
                        // Point at the text inside the quotes.
                        let span = inner_span(&s);
                        def.name = Name { text: s.value, span };
                    }
                }
                "description" => def.description = self.string("`description`", v),
                other => self.unknown_key(other, k.span(), "[extension]", &["name", "description"]),
            }
        }
        if !have_name {
            self.diags.push(
                Diagnostic::error("E003", "the extension has no name", Some(span.start..span.start))
                    .help("add `name = \"MyExtension\"` under [extension]"),
            );
        }
    }

    fn records(&mut self, t: &DeTable<'_>, kind: FieldKind) -> Vec<Record> {
        let mut out = Vec::new();
        let section = if kind == FieldKind::EntityAttribute { "entities" } else { "structures" };
        for (k, v) in t.iter() {
            let what = format!("[{section}.{}]", k.get_ref());
            let Some(body) = self.table(&what, v) else {
                continue;
            };
            let mut rec = Record { name: self.name(k), description: None, attributes: Vec::new() };
            for (ak, av) in body.iter() {
                if ak.get_ref() == "description" && matches!(av.get_ref(), DeValue::String(_)) {
                    rec.description = self.string("`description`", av);
                    continue;
                }
                if let Some(f) = self.field((ak, av), kind) {
                    rec.attributes.push(f);
                }
            }
            out.push(rec);
        }
        out
    }

    fn action(&mut self, (k, v): Entry<'_, '_>) -> Option<Action> {
        let what = format!("[actions.{}]", k.get_ref());
        let body = self.table(&what, v)?;
        let mut a = Action { name: self.name(k), description: None, inputs: Vec::new(), outputs: Vec::new() };
        for (bk, bv) in body.iter() {
            match bk.get_ref().as_ref() {
                "description" => a.description = self.string("`description`", bv),
                "inputs" => {
                    if let Some(t) = self.table("`inputs`", bv) {
                        a.inputs = t.iter().filter_map(|e| self.field(e, FieldKind::Input)).collect();
                    }
                }
                "outputs" => {
                    if let Some(t) = self.table("`outputs`", bv) {
                        a.outputs = t.iter().filter_map(|e| self.field(e, FieldKind::Output)).collect();
                    }
                }
                other => self.unknown_key(other, bk.span(), &what, &["description", "inputs", "outputs"]),
            }
        }
        Some(a)
    }

    fn resources(&mut self, t: &DeTable<'_>) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for (k, v) in t.iter() {
            if k.get_ref() != "files" {
                self.unknown_key(k.get_ref(), k.span(), "[resources]", &["files"]);
                continue;
            }
            match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        if let Some(s) = self.string("each resource file", item) {
                            let span = inner_span(&s);
                            out.push(Spanned { value: s.value, span });
                        }
                    }
                }
                _ => self.wrong_kind("`files`", "an array of paths", v),
            }
        }
        out
    }

    /// `Name = "Type"` or `Name = { type = "Type", … }`.
    fn field(&mut self, (k, v): Entry<'_, '_>, kind: FieldKind) -> Option<Field> {
        let name = self.name(k);
        let span = k.span().start..v.span().end;
        let mut f = Field {
            kind,
            name,
            ty: Spanned { value: String::new(), span: v.span() },
            parsed: None,
            default: None,
            mandatory: None,
            length: None,
            decimals: None,
            identifier: false,
            auto_number: None,
            secret: false,
            description: None,
            span,
        };
        let noun = kind.noun();
        let what = format!("{noun} `{}`", f.name.text);
        match v.get_ref() {
            DeValue::String(s) => f.ty = Spanned { value: s.to_string(), span: inner_span_of(v.span(), s) },
            DeValue::Table(t) => {
                let allowed: &[&str] = match kind {
                    FieldKind::StructureAttribute => {
                        &["type", "default", "mandatory", "length", "decimals", "description"]
                    }
                    FieldKind::EntityAttribute => &[
                        "type",
                        "default",
                        "mandatory",
                        "length",
                        "decimals",
                        "description",
                        "identifier",
                        "auto_number",
                    ],
                    FieldKind::Input => &["type", "default", "mandatory", "description"],
                    FieldKind::Output => &["type", "description"],
                    FieldKind::Setting => &["type", "default", "mandatory", "secret", "description"],
                };
                let mut have_type = false;
                for (fk, fv) in t.iter() {
                    let key = fk.get_ref().as_ref();
                    if !allowed.contains(&key) {
                        self.unknown_key(key, fk.span(), &what, allowed);
                        continue;
                    }
                    match key {
                        "type" => {
                            if let Some(s) = self.string("`type`", fv) {
                                have_type = true;
                                f.ty = Spanned { span: inner_span(&s), value: s.value };
                            }
                        }
                        "default" => f.default = Some(Spanned { value: literal(fv.get_ref()), span: fv.span() }),
                        "mandatory" => f.mandatory = self.boolean("`mandatory`", fv),
                        "length" => f.length = self.integer("`length`", fv),
                        "decimals" => f.decimals = self.integer("`decimals`", fv),
                        "identifier" => f.identifier = self.boolean("`identifier`", fv).is_some_and(|b| b.value),
                        "auto_number" => f.auto_number = self.boolean("`auto_number`", fv),
                        "secret" => f.secret = self.boolean("`secret`", fv).is_some_and(|b| b.value),
                        "description" => f.description = self.string("`description`", fv),
                        _ => {}
                    }
                }
                if !have_type {
                    if !self.diags.iter().any(|d| {
                        d.code == "E005"
                            && d.span.as_ref().is_some_and(|s| s.start >= v.span().start && s.end <= v.span().end)
                    }) {
                        let d = self.err("E007", format!("{what} has no type"), f.name.span.clone());
                        d.help = Some(format!(
                            "write `{} = {{ type = \"Text\", … }}` or `{} = \"Text\"`",
                            f.name.text, f.name.text
                        ));
                    }
                    return None;
                }
            }
            _ => {
                self.wrong_kind(&what, "a type name (\"Text\") or a table ({ type = \"Text\", … })", v);
                return None;
            }
        }
        f.parsed = Type::parse(&f.ty.value).ok();
        Some(f)
    }
}

/// For a spanned TOML string written with quotes, the span of its text without the quotes.
fn inner_span(s: &Spanned<String>) -> Range<usize> {
    inner_span_of(s.span.clone(), &s.value)
}

fn inner_span_of(span: Range<usize>, text: &str) -> Range<usize> {
    if span.end - span.start >= text.len() + 2 { span.start + 1..span.start + 1 + text.len() } else { span }
}

fn literal(v: &DeValue<'_>) -> Literal {
    match v {
        DeValue::String(s) => Literal::Text(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
            Ok(n) => Literal::Integer(n),
            Err(_) => Literal::Other(format!("the integer {}", i.as_str())),
        },
        DeValue::Float(f) => Literal::Float(f.as_str().replace('_', "")),
        DeValue::Boolean(b) => Literal::Boolean(*b),
        DeValue::Datetime(d) => Literal::Text(d.to_string()),
        other => Literal::Other(kind_name(other).to_string()),
    }
}

/// The allowed word closest to `word` (edit distance at most 2, or same letters ignoring case).
pub(crate) fn closest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lw = word.to_ascii_lowercase();
    allowed
        .iter()
        .map(|a| (levenshtein(&lw, &a.to_ascii_lowercase()), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
