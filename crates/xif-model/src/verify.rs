//! The Verify rules that need nothing but the definition. Each is a named function; every one adds
//! diagnostics with the place and a hint. (Rules that need the extension folder, resource files
//! and action implementations, live in `xif-build`.)
use std::collections::HashMap;
use std::ops::Range;

use crate::definition::*;
use crate::diag::Diagnostic;
use crate::names::{self, MAX_DESCRIPTION, MAX_ENTITY_ATTRIBUTE_NAME, MAX_NAME};
use crate::types::Type;
use crate::value::{self, Value};

/// WIT type names the generated interface defines itself; an element may not map onto them.
pub const RESERVED: &[&str] =
    &["date", "time", "date-time", "action-error", "context", "decimal", "result", "option", "string", "vec", "box"];

/// Runs every definition-only Verify rule.
pub fn verify(def: &Definition) -> Vec<Diagnostic> {
    let mut v = Verifier { def, diags: Vec::new() };
    v.ensure_legal_names();
    v.ensure_unique_names();
    v.ensure_no_interface_clash();
    v.ensure_descriptions_fit();
    v.ensure_types_resolve();
    v.ensure_structures_not_recursive();
    v.ensure_records_not_empty();
    v.ensure_entity_rules();
    v.ensure_lengths_and_decimals();
    v.ensure_defaults_fit();
    v.ensure_settings_rules();
    v.ensure_resource_paths();
    v.warn_unused_structures();
    v.warn_missing_description();
    v.diags.sort_by_key(|d| (d.span.as_ref().map(|s| s.start).unwrap_or(0), d.code));
    v.diags
}

/// How deep structures may nest in one another (E024): deeper values would be refused by a
/// bound anyway, and code that walks a type recursively (defaults, JSON, WIT) stays shallow.
pub const MAX_NESTING: usize = 32;

/// The records (structures, then entities) and, for each attribute, the record its type
/// names (through any `List of`), by index; names resolve as [`Definition::record`] does.
struct RecordGraph {
    edges: Vec<Vec<Option<usize>>>,
}

impl RecordGraph {
    fn new(def: &Definition) -> RecordGraph {
        let records: Vec<&crate::definition::Record> = def.structures.iter().chain(&def.entities).collect();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            // The first record of a name wins: structures before entities, as `record` finds them.
            index.entry(r.name.text.as_str()).or_insert(i);
        }
        let edges = records
            .iter()
            .map(|r| {
                r.attributes
                    .iter()
                    .map(|a| {
                        let mut t = a.parsed.as_ref()?;
                        while let Type::List(inner) = t {
                            t = inner;
                        }
                        match t {
                            Type::Record(n) => index.get(n.as_str()).copied(),
                            _ => None,
                        }
                    })
                    .collect()
            })
            .collect();
        RecordGraph { edges }
    }

    /// The strongly connected component of each record (Tarjan's algorithm, with an explicit
    /// stack instead of recursion).
    fn components(&self) -> Vec<usize> {
        let n = self.edges.len();
        const NONE: usize = usize::MAX;
        let (mut order, mut low, mut comp) = (vec![NONE; n], vec![0; n], vec![NONE; n]);
        let mut on_stack = vec![false; n];
        let (mut stack, mut next, mut comps) = (Vec::new(), 0, 0);
        for root in 0..n {
            if order[root] != NONE {
                continue;
            }
            // (node, next edge to look at)
            let mut work = vec![(root, 0)];
            order[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut e)) = work.last_mut() {
                if let Some(target) = self.edges[v].get(*e) {
                    *e += 1;
                    let Some(w) = *target else { continue };
                    if order[w] == NONE {
                        order[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(order[w]);
                    }
                    continue;
                }
                work.pop();
                if let Some(&(parent, _)) = work.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == order[v] {
                    while let Some(w) = stack.pop() {
                        on_stack[w] = false;
                        comp[w] = comps;
                        if w == v {
                            break;
                        }
                    }
                    comps += 1;
                }
            }
        }
        comp
    }

    /// The first structure (by index) nested more than [`MAX_NESTING`] levels deep, with its
    /// depth; only for a graph without cycles.
    /// (An edge back into the path being walked, a cycle through entities, counts nothing.)
    fn too_deep(&self, structures: usize) -> Option<(usize, usize)> {
        let n = self.edges.len();
        let mut depth: Vec<usize> = vec![0; n];
        let (mut done, mut visiting) = (vec![false; n], vec![false; n]);
        for root in 0..n {
            if done[root] {
                continue;
            }
            let mut work = vec![(root, 0)];
            visiting[root] = true;
            while let Some(&mut (v, ref mut e)) = work.last_mut() {
                if let Some(target) = self.edges[v].get(*e) {
                    *e += 1;
                    if let Some(w) = *target
                        && !done[w]
                        && !visiting[w]
                    {
                        visiting[w] = true;
                        work.push((w, 0));
                    }
                    continue;
                }
                depth[v] =
                    1 + self.edges[v].iter().flatten().filter(|&&w| done[w]).map(|&w| depth[w]).max().unwrap_or(0);
                done[v] = true;
                visiting[v] = false;
                work.pop();
            }
        }
        depth.iter().take(structures).enumerate().find(|(_, d)| **d > MAX_NESTING).map(|(i, d)| (i, *d))
    }
}

struct Verifier<'a> {
    def: &'a Definition,
    diags: Vec<Diagnostic>,
}

/// Every field of the definition with the thing it belongs to, for rules that apply to all.
fn all_fields(def: &Definition) -> impl Iterator<Item = &Field> {
    def.structures
        .iter()
        .chain(&def.entities)
        .flat_map(|r| r.attributes.iter())
        .chain(def.actions.iter().flat_map(|a| a.inputs.iter().chain(&a.outputs)))
        .chain(def.settings.iter())
}

impl Verifier<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn ensure_legal_names(&mut self) {
        let def = self.def;
        let check = |this: &mut Self, name: &Name, what: &str, max: usize| {
            if let Err(p) = names::check(&name.text, max) {
                let (code, help) = match p {
                    names::NameProblem::TooLong(..) => {
                        ("E011", format!("shorten the {what} name to at most {max} characters"))
                    }
                    _ => (
                        "E010",
                        "use a letter first, then letters, digits or `_`, for example `Order_Line2`".to_string(),
                    ),
                };
                let code = if max == MAX_ENTITY_ATTRIBUTE_NAME && code == "E011" { "E012" } else { code };
                this.push(
                    Diagnostic::error(
                        code,
                        format!("invalid {what} name \"{}\": {p}", name.text),
                        Some(name.span.clone()),
                    )
                    .help(help),
                );
            }
        };
        if name_written(def) {
            check(self, &def.name, "extension", MAX_NAME);
        }
        for s in &def.structures {
            check(self, &s.name, "structure", MAX_NAME);
            for a in &s.attributes {
                check(self, &a.name, "attribute", MAX_NAME);
            }
        }
        for e in &def.entities {
            check(self, &e.name, "entity", MAX_NAME);
            for a in &e.attributes {
                check(self, &a.name, "entity attribute", MAX_ENTITY_ATTRIBUTE_NAME);
            }
        }
        for a in &def.actions {
            check(self, &a.name, "action", MAX_NAME);
            for p in a.inputs.iter().chain(&a.outputs) {
                check(self, &p.name, p.kind.noun(), MAX_NAME);
            }
        }
        for s in &def.settings {
            check(self, &s.name, "setting", MAX_NAME);
        }
    }

    /// Names are unique case-insensitively within their kind (E013).
    fn ensure_unique_names(&mut self) {
        let def = self.def;
        // (kind, where: "" or " in structure X", names)
        let mut groups: Vec<(&str, String, Vec<&Name>)> = vec![
            ("structure", String::new(), def.structures.iter().map(|s| &s.name).collect()),
            ("entity", String::new(), def.entities.iter().map(|s| &s.name).collect()),
            ("action", String::new(), def.actions.iter().map(|s| &s.name).collect()),
            ("setting", String::new(), def.settings.iter().map(|s| &s.name).collect()),
        ];
        for s in &def.structures {
            groups.push((
                "attribute",
                format!(" in structure {}", s.name.text),
                s.attributes.iter().map(|a| &a.name).collect(),
            ));
        }
        for e in &def.entities {
            groups.push((
                "attribute",
                format!(" in entity {}", e.name.text),
                e.attributes.iter().map(|a| &a.name).collect(),
            ));
        }
        for a in &def.actions {
            groups.push((
                "parameter",
                format!(" in action {}", a.name.text),
                a.inputs.iter().chain(&a.outputs).map(|p| &p.name).collect(),
            ));
        }
        for (what, place, names) in groups {
            let mut seen: HashMap<String, &Name> = HashMap::new();
            for n in names {
                if let Some(first) = seen.get(&n.text.to_ascii_lowercase()) {
                    self.push(
                        Diagnostic::error(
                            "E013",
                            format!("duplicate {what} name \"{}\"{place}", n.text),
                            Some(n.span.clone()),
                        )
                        .label(format!("\"{}\" is already defined", first.text))
                        .help("names are unique case-insensitively within their kind; rename one of them"),
                    );
                } else {
                    seen.insert(n.text.to_ascii_lowercase(), n);
                }
            }
        }
    }

    /// Names that map to the same WIT identifier in one scope (E014), a structure and an entity of
    /// the same name (E015), and names that map onto generated types (E016).
    fn ensure_no_interface_clash(&mut self) {
        let def = self.def;
        // The interface scope: actions, structures, entities, action output records.
        let mut scope: Vec<Mapped> = Vec::new();
        for s in &def.structures {
            scope.push(Mapped::new(&s.name, "structure", s.name.wit(), format!("structure {}", s.name.text)));
        }
        for e in &def.entities {
            scope.push(Mapped::new(&e.name, "entity", e.name.wit(), format!("entity {}", e.name.text)));
        }
        for a in &def.actions {
            scope.push(Mapped::new(&a.name, "action", a.name.wit(), format!("action {}", a.name.text)));
            scope.push(Mapped::new(
                &a.name,
                "output record",
                a.output_record_wit(),
                format!("the output record of action {} ({})", a.name.text, a.output_record_rust()),
            ));
        }
        for m in &scope {
            if RESERVED.contains(&m.wit.as_str()) {
                self.push(
                    Diagnostic::error(
                        "E016",
                        format!("{} maps to `{}`, a name Xif reserves for its own types", m.what, m.wit),
                        Some(m.span.clone()),
                    )
                    .help(format!("rename it; reserved: {}", RESERVED.join(", "))),
                );
            }
        }
        self.clashes(&scope);
        let field = |f: &Field, kind: &'static str| {
            Mapped::new(&f.name, kind, f.name.wit(), format!("{} {}", f.kind.noun(), f.name.text))
        };
        let mut scopes: Vec<Vec<Mapped>> = Vec::new();
        for r in def.structures.iter().chain(&def.entities) {
            scopes.push(r.attributes.iter().map(|a| field(a, "attribute")).collect());
        }
        for a in &def.actions {
            // Inputs and outputs share one scope, as they do for E013.
            scopes.push(a.inputs.iter().chain(&a.outputs).map(|p| field(p, "parameter")).collect());
        }
        scopes.push(def.settings.iter().map(|s| field(s, "setting")).collect());
        for s in scopes {
            self.clashes(&s);
        }
    }

    fn clashes(&mut self, scope: &[Mapped]) {
        let mut seen: HashMap<&str, &Mapped> = HashMap::new();
        for item in scope {
            if let Some(first) = seen.get(item.wit.as_str()) {
                // The same name case-insensitively within a kind is E013's; report only real mapping clashes.
                if first.kind == item.kind && first.name_lower == item.name_lower {
                    continue;
                }
                let structure_and_entity =
                    matches!((first.kind, item.kind), ("structure", "entity") | ("entity", "structure"));
                let code = if structure_and_entity { "E015" } else { "E014" };
                self.push(
                    Diagnostic::error(code, format!("{} and {} both map to the identifier `{}`", first.what, item.what, item.wit), Some(item.span.clone()))
                        .help("the WIT and Rust code needs distinct identifiers: rename one of them (see docs/EXTENSIONS.md, \"Names\")"),
                );
            } else {
                seen.insert(&item.wit, item);
            }
        }
    }

    fn ensure_descriptions_fit(&mut self) {
        let def = self.def;
        let mut descs: Vec<&Spanned<String>> = def.description.iter().collect();
        descs.extend(def.structures.iter().chain(&def.entities).filter_map(|r| r.description.as_ref()));
        descs.extend(def.actions.iter().filter_map(|a| a.description.as_ref()));
        descs.extend(all_fields(def).filter_map(|f| f.description.as_ref()));
        for d in descs {
            let n = d.value.chars().count();
            if n > MAX_DESCRIPTION {
                self.push(
                    Diagnostic::error(
                        "E017",
                        format!("description is {n} characters long; the limit is {MAX_DESCRIPTION}"),
                        Some(d.span.clone()),
                    )
                    .help("shorten the description; longer documentation belongs in the extension's README"),
                );
            }
        }
    }

    fn ensure_types_resolve(&mut self) {
        let def = self.def;
        for f in all_fields(def) {
            let parsed = match &f.parsed {
                Some(t) => Ok(t.clone()),
                None => Type::parse_in(&f.ty.value, &|n| def.record(n).is_some()),
            };
            let t = match parsed {
                Ok(t) => t,
                Err(e) => {
                    let mut d = Diagnostic::error(
                        "E020",
                        format!("{} for {} `{}`", e.message, f.kind.noun(), f.name.text),
                        Some(f.ty.span.clone()),
                    );
                    if let Some(h) = e.help {
                        d = d.help(h);
                    }
                    self.push(d);
                    continue;
                }
            };
            self.check_references(f, &t);
        }
    }

    fn check_references(&mut self, f: &Field, t: &Type) {
        let def = self.def;
        match t {
            Type::List(inner) => self.check_references(f, inner),
            Type::Record(n) if def.record(n).is_none() => {
                let records: Vec<&str> =
                    def.structures.iter().chain(&def.entities).map(|r| r.name.text.as_str()).collect();
                let same_letters = records
                    .iter()
                    .find(|r| r.eq_ignore_ascii_case(n))
                    .map(|r| format!("did you mean \"{r}\"? Names of types are written as defined"));
                let basic: Vec<&str> = crate::types::BASIC.iter().map(|(b, _)| *b).collect();
                let help = same_letters
                    .or_else(|| crate::parse::closest(n, &records).map(|r| format!("did you mean \"{r}\"?")))
                    .or_else(|| crate::parse::closest(n, &basic).map(|b| format!("did you mean \"{b}\"?")))
                    .unwrap_or_else(|| format!("define `[structures.{n}]`, or use a basic type such as \"Text\""));
                self.push(
                    Diagnostic::error(
                        "E021",
                        format!(
                            "unknown structure or entity \"{n}\" in the type of {} `{}`",
                            f.kind.noun(),
                            f.name.text
                        ),
                        Some(f.ty.span.clone()),
                    )
                    .help(help),
                );
            }
            Type::Identifier(e) if def.entity(e).is_none() => {
                let help = if def.structures.iter().any(|s| s.name.text == *e) {
                    format!("\"{e}\" is a structure; only entities have identifiers")
                } else {
                    format!("define `[entities.{e}]` with an identifier attribute, or fix the name")
                };
                self.push(
                    Diagnostic::error("E023", format!("\"{e} Identifier\" names no entity"), Some(f.ty.span.clone()))
                        .help(help),
                );
            }
            _ => {}
        }
    }

    /// A structure that contains itself (E022), and structures nested deeper than
    /// [`MAX_NESTING`] levels (E024). Linear in the size of the definition and without
    /// recursion, so a hostile definition (thousands of chained structures) is refused quickly
    /// instead of taking minutes or overflowing the stack.
    fn ensure_structures_not_recursive(&mut self) {
        let def = self.def;
        let graph = RecordGraph::new(def);
        let scc = graph.components();
        let mut cyclic = false;
        for (si, s) in def.structures.iter().enumerate() {
            for (a, target) in s.attributes.iter().zip(&graph.edges[si]) {
                // Attribute `a` leads to `target`; it reaches `s` back exactly when both lie in
                // one strongly connected component (or `target` is `s`).
                if let Some(t) = *target
                    && scc[t] == scc[si]
                {
                    cyclic = true;
                    self.push(
                        Diagnostic::error(
                            "E022",
                            format!("structure {} contains itself through attribute {}", s.name.text, a.name.text),
                            Some(a.ty.span.clone()),
                        )
                        .help("structures cannot be recursive; refer to the record by an identifier or flatten it"),
                    );
                }
            }
        }
        if cyclic {
            return;
        }
        if let Some((si, depth)) = graph.too_deep(def.structures.len()) {
            let s = &def.structures[si];
            self.push(
                Diagnostic::error(
                    "E024",
                    format!("structure {} nests {depth} levels deep, more than the {MAX_NESTING} allowed", s.name.text),
                    Some(s.name.span.clone()),
                )
                .help(format!(
                    "flatten the structures so that no chain of structures inside structures is longer than {MAX_NESTING}"
                )),
            );
        }
    }

    fn ensure_records_not_empty(&mut self) {
        for (r, what) in
            self.def.structures.iter().map(|s| (s, "structure")).chain(self.def.entities.iter().map(|e| (e, "entity")))
        {
            if r.attributes.is_empty() {
                self.push(
                    Diagnostic::error(
                        "E045",
                        format!("{what} {} has no attributes", r.name.text),
                        Some(r.name.span.clone()),
                    )
                    .help(format!(
                        "add at least one attribute, for example `Name = \"Text\"` under [{}s.{}]",
                        if what == "entity" { "entitie" } else { what },
                        r.name.text
                    )),
                );
            }
        }
    }

    fn ensure_entity_rules(&mut self) {
        let def = self.def;
        for e in &def.entities {
            let ids: Vec<&Field> = e.attributes.iter().filter(|a| a.identifier).collect();
            if ids.is_empty() && !e.attributes.is_empty() {
                self.push(
                    Diagnostic::error("E040", format!("entity {} has no identifier", e.name.text), Some(e.name.span.clone()))
                        .help("mark one attribute `identifier = true`, for example `Id = { type = \"Long Integer\", identifier = true, auto_number = true }`"),
                );
            }
            for extra in ids.iter().skip(1) {
                self.push(
                    Diagnostic::error(
                        "E041",
                        format!("entity {} has more than one identifier", e.name.text),
                        Some(extra.name.span.clone()),
                    )
                    .label(format!("{} is already the identifier", ids[0].name.text))
                    .help("an entity has exactly one identifier attribute; remove `identifier = true` from the others"),
                );
            }
            for a in &e.attributes {
                let Some(t) = &a.parsed else { continue };
                let resolved = def.resolve(t);
                if let Some(auto) = &a.auto_number {
                    if auto.value && !matches!(resolved, Some(Type::Integer | Type::LongInteger)) {
                        self.push(
                            Diagnostic::error(
                                "E042",
                                format!("auto_number on attribute {} of type {}", a.name.text, t.display()),
                                Some(auto.span.clone()),
                            )
                            .help("only Integer and Long Integer identifiers can be numbered automatically"),
                        );
                    } else if auto.value && !a.identifier {
                        self.push(
                            Diagnostic::error("E042", format!("auto_number on attribute {}, which is not the identifier", a.name.text), Some(auto.span.clone()))
                                .help("only the identifier can be numbered automatically; add `identifier = true` or remove `auto_number`"),
                        );
                    }
                }
                if a.identifier
                    && let Some(m) = a.mandatory.as_ref().filter(|m| !m.value)
                {
                    self.push(
                        Diagnostic::error(
                            "E046",
                            format!("identifier {} of entity {} cannot be optional", a.name.text, e.name.text),
                            Some(m.span.clone()),
                        )
                        .help("every record has an identifier; remove `mandatory = false` (use `auto_number = true` to have the server number records)"),
                    );
                }
                if a.identifier
                    && let Some(d) = &a.default
                {
                    self.push(
                        Diagnostic::error(
                            "E047",
                            format!("identifier {} of entity {} cannot have a default", a.name.text, e.name.text),
                            Some(d.span.clone()),
                        )
                        .help("identifiers are unique, so a default would fit one record only; remove the default"),
                    );
                }
                let refers_to_itself = matches!(t, Type::Identifier(other) if *other == e.name.text);
                if a.identifier && refers_to_itself {
                    self.push(
                        Diagnostic::error(
                            "E043",
                            format!("identifier {} of entity {} refers to itself", a.name.text, e.name.text),
                            Some(a.ty.span.clone()),
                        )
                        .help("an identifier is an Integer, a Long Integer or a Text"),
                    );
                } else if a.identifier && !matches!(resolved, Some(Type::Integer | Type::LongInteger | Type::Text)) {
                    self.push(
                        Diagnostic::error(
                            "E043",
                            format!("identifier {} of entity {} has type {}", a.name.text, e.name.text, t.display()),
                            Some(a.ty.span.clone()),
                        )
                        .help("an identifier is an Integer, a Long Integer or a Text"),
                    );
                }
                if matches!(t, Type::Record(_) | Type::List(_)) {
                    self.push(
                        Diagnostic::error(
                            "E044",
                            format!(
                                "entity attribute {} has type {}; entity attributes hold basic types only",
                                a.name.text,
                                t.display()
                            ),
                            Some(a.ty.span.clone()),
                        )
                        .help("use a basic type or an \"X Identifier\" that refers to a record of another entity"),
                    );
                }
            }
        }
    }

    fn ensure_lengths_and_decimals(&mut self) {
        let def = self.def;
        for f in all_fields(def) {
            let resolved = f.parsed.as_ref().and_then(|t| def.resolve(t));
            if let Some(len) = &f.length {
                let range = match resolved {
                    Some(Type::Text) => Some((2_000_000, "a Text length is from 1 to 2000000 characters")),
                    Some(Type::Decimal) => Some((28, "a Decimal has from 1 to 28 digits in all")),
                    Some(ref t) => {
                        self.push(
                            Diagnostic::error(
                                "E050",
                                format!(
                                    "`length` does not apply to {} `{}` of type {}",
                                    f.kind.noun(),
                                    f.name.text,
                                    t.display()
                                ),
                                Some(len.span.clone()),
                            )
                            .help("only Text and Decimal take a length; remove it"),
                        );
                        None
                    }
                    None => None,
                };
                if let Some((_, help)) = range.filter(|(max, _)| !(1..=*max).contains(&len.value)) {
                    self.push(
                        Diagnostic::error(
                            "E052",
                            format!("length {} of {} is out of range", len.value, f.name.text),
                            Some(len.span.clone()),
                        )
                        .help(help),
                    );
                }
            }
            if let Some(dec) = &f.decimals {
                match resolved {
                    Some(Type::Decimal) => {
                        let total = f.length.as_ref().map(|l| l.value).unwrap_or(28);
                        if dec.value < 0 || dec.value > total.min(28) {
                            self.push(
                                Diagnostic::error(
                                    "E053",
                                    format!("decimals {} of {} is out of range", dec.value, f.name.text),
                                    Some(dec.span.clone()),
                                )
                                .help(format!("decimals are from 0 to the length ({total})")),
                            );
                        }
                    }
                    Some(ref t) => self.push(
                        Diagnostic::error(
                            "E051",
                            format!(
                                "`decimals` does not apply to {} `{}` of type {}",
                                f.kind.noun(),
                                f.name.text,
                                t.display()
                            ),
                            Some(dec.span.clone()),
                        )
                        .help("only Decimal takes decimals; remove it"),
                    ),
                    None => {}
                }
            }
        }
    }

    fn ensure_defaults_fit(&mut self) {
        let def = self.def;
        for f in all_fields(def) {
            let (Some(lit), Some(t)) = (&f.default, &f.parsed) else {
                continue;
            };
            if let Some(m) = &f.mandatory
                && m.value
            {
                self.push(
                    Diagnostic::warning(
                        "W062",
                        format!("{} `{}` is mandatory, so its default is never used", f.kind.noun(), f.name.text),
                        Some(lit.span.clone()),
                    )
                    .help("remove the default or `mandatory = true`"),
                );
            }
            let Some(resolved) = def.resolve(t) else {
                continue;
            };
            if !resolved.is_basic() || resolved == Type::BinaryData {
                self.push(
                    Diagnostic::error(
                        "E031",
                        format!("{} `{}` of type {} cannot have a default", f.kind.noun(), f.name.text, t.display()),
                        Some(lit.span.clone()),
                    )
                    .help("only basic types other than Binary Data take a default; remove it"),
                );
                continue;
            }
            if let Err(why) = value::from_literal(&resolved, &lit.value) {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!(
                            "default of {} `{}` does not fit its type {}: {why}",
                            f.kind.noun(),
                            f.name.text,
                            t.display()
                        ),
                        Some(lit.span.clone()),
                    )
                    .help(value::literal_hint(&resolved)),
                );
                continue;
            }
            if let (Ok(Value::Decimal(d)), Type::Decimal) = (value::from_literal(&resolved, &lit.value), &resolved)
                && let Some(why) = decimal_does_not_fit(&d, f)
            {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!("default of {} `{}` {why}", f.kind.noun(), f.name.text),
                        Some(lit.span.clone()),
                    )
                    .help("change the default or raise `length` / `decimals`"),
                );
            }
            if let (Literal::Text(s), Some(len), Type::Text) = (&lit.value, &f.length, &resolved)
                && s.chars().count() as i64 > len.value
            {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!(
                            "default of {} `{}` is longer than its length {}",
                            f.kind.noun(),
                            f.name.text,
                            len.value
                        ),
                        Some(lit.span.clone()),
                    )
                    .help("shorten the default or raise the length"),
                );
            }
        }
    }

    fn ensure_settings_rules(&mut self) {
        for s in &self.def.settings {
            let Some(t) = &s.parsed else { continue };
            if !t.is_basic() || matches!(t, Type::BinaryData | Type::Identifier(_)) {
                self.push(
                    Diagnostic::error(
                        "E080",
                        format!("setting {} has type {}; settings hold a single basic value", s.name.text, t.display()),
                        Some(s.ty.span.clone()),
                    )
                    .help("use Text, Integer, Long Integer, Decimal, Boolean, Date, Time or Date Time"),
                );
            } else if s.secret && *t != Type::Text {
                self.push(
                    Diagnostic::error(
                        "E081",
                        format!("secret setting {} must be Text, not {}", s.name.text, t.display()),
                        Some(s.ty.span.clone()),
                    )
                    .help("secrets are Text; store numbers as text"),
                );
            }
        }
    }

    fn ensure_resource_paths(&mut self) {
        let mut seen: HashMap<String, &Spanned<String>> = HashMap::new();
        for r in &self.def.resources {
            if let Err(why) = check_resource_path(&r.value) {
                self.push(
                    Diagnostic::error("E071", format!("invalid resource path \"{}\": {why}", r.value), Some(r.span.clone()))
                        .help("write a relative path inside the extension folder with `/`, for example \"resources/words.txt\""),
                );
                continue;
            }
            if seen.insert(r.value.clone(), r).is_some() {
                self.push(
                    Diagnostic::error(
                        "E072",
                        format!("resource \"{}\" is listed twice", r.value),
                        Some(r.span.clone()),
                    )
                    .help("remove one of them"),
                );
            }
        }
    }

    fn warn_unused_structures(&mut self) {
        let def = self.def;
        fn mentions(t: &Type, name: &str) -> bool {
            match t {
                Type::List(i) => mentions(i, name),
                Type::Record(n) => n == name,
                _ => false,
            }
        }
        for s in &def.structures {
            let used = all_fields(def).any(|f| f.parsed.as_ref().is_some_and(|t| mentions(t, &s.name.text)));
            if !used {
                self.push(
                    Diagnostic::warning(
                        "W091",
                        format!("structure {} is not used by any action or structure", s.name.text),
                        Some(s.name.span.clone()),
                    )
                    .help("use it in an action's inputs or outputs, or remove it"),
                );
            }
        }
    }

    fn warn_missing_description(&mut self) {
        if let Some(d) = &self.def.description
            && d.value.starts_with(crate::PLACEHOLDER_DESCRIPTION)
        {
            let span = d.span.clone();
            self.push(
                Diagnostic::warning("W092", "the description is still the one `xif new` wrote", Some(span))
                    .help("say in one sentence what the extension does: the Service Center and `xif versions` show it"),
            );
        }
        if self.def.description.is_none() {
            let which = if self.def.name.text.is_empty() {
                "the extension".to_string()
            } else {
                format!("extension {}", self.def.name.text)
            };
            self.push(
                Diagnostic::warning("W090", format!("{which} has no description"), Some(self.def.name.span.clone()))
                    .help("add `description = \"…\"` under [extension]; the Service Center shows it"),
            );
        }
    }
}

/// A name in one identifier scope: what it maps to, and the E013 kind it belongs to.
struct Mapped {
    /// The E013 group: names equal case-insensitively within one kind are E013's, not E014's.
    kind: &'static str,
    name_lower: String,
    wit: String,
    what: String,
    span: Range<usize>,
}

impl Mapped {
    fn new(name: &Name, kind: &'static str, wit: String, what: String) -> Self {
        Mapped { kind, name_lower: name.text.to_ascii_lowercase(), wit, what, span: name.span.clone() }
    }
}

/// Why a Decimal does not fit the `length` (total digits) and `decimals` of its field, if it does
/// not. Says nothing when they are themselves out of range (E052 / E053).
fn decimal_does_not_fit(d: &rust_decimal::Decimal, f: &Field) -> Option<String> {
    let length = f.length.as_ref().map(|l| l.value);
    let decimals = f.decimals.as_ref().map(|d| d.value);
    if length.is_some_and(|l| !(1..=28).contains(&l)) || decimals.is_some_and(|d| d < 0 || d > length.unwrap_or(28)) {
        return None;
    }
    let text = d.abs().to_string();
    let (int_part, frac_part) = text.split_once('.').unwrap_or((&text, ""));
    let int_digits =
        if int_part.trim_start_matches('0').is_empty() { 0 } else { int_part.trim_start_matches('0').len() };
    let frac_digits = frac_part.trim_end_matches('0').len();
    if let Some(dec) = decimals {
        if frac_digits as i64 > dec {
            return Some(format!("has {frac_digits} decimals; at most {dec} are allowed"));
        }
        let allowed = length.unwrap_or(28) - dec;
        if int_digits as i64 > allowed {
            let length_said = length.map(|l| format!("length {l}")).unwrap_or_else(|| "28 digits".into());
            return Some(format!(
                "has {int_digits} digits before the decimal point; {length_said} with {dec} decimals allows {allowed}"
            ));
        }
    } else if let Some(len) = length
        && (int_digits + frac_digits) as i64 > len
    {
        return Some(format!("has {} digits; its length is {len}", int_digits + frac_digits));
    }
    None
}

/// False when the extension's name could not be read (parse reported it: E003 or E005).
fn name_written(def: &Definition) -> bool {
    !(def.name.text.is_empty() && def.name.span == (0..0))
}

/// Checks a resource path: relative, `/`-separated, no `..`, no empty parts.
pub fn check_resource_path(p: &str) -> Result<(), &'static str> {
    if p.is_empty() {
        return Err("the path is empty");
    }
    if p.starts_with('/') || p.contains(':') {
        return Err("the path is absolute");
    }
    if p.contains('\\') {
        return Err("use `/` to separate folders");
    }
    if p.split('/').any(|c| c == ".." || c == "." || c.is_empty()) {
        return Err("the path must not contain `..`, `.` or empty parts");
    }
    Ok(())
}
