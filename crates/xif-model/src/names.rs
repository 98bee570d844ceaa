//! Element names and the one rule that maps them to WIT and Rust identifiers.
//!
//! A legal name (Integration Studio's rule) is a letter, then letters, digits or `_`; at most 50
//! characters (28 for entity attributes).
//!
//! **The mapping rule**, for every legal name:
//! 1. Split into words: at each `_`, and before an upper-case letter that follows a lower-case
//!    letter or digit, or that starts a new word after a run of capitals (`HTTPServer` → `HTTP`,
//!    `Server`). A digit never starts a word: it stays with the word before it, and a word that
//!    would start with a digit after `_` is joined to the word before (`Line_2` → `line2`).
//! 2. WIT name: the words in lower case joined by `-` (`FirstName` → `first-name`); a WIT keyword
//!    is written with a `%` escape in WIT source (`%record`), the name itself stays `record`.
//! 3. Rust: fields, parameters, functions and modules use the WIT name with `-` → `_`
//!    (`first_name`), a Rust keyword gets a trailing `_` (`type_`) as wit-bindgen does; types use
//!    UpperCamelCase of the words (`FirstName`, `HttpServer`).
//!
//! Two names that map to the same WIT name in the same scope are a Verify error (`E014`).
use heck::{ToSnakeCase, ToUpperCamelCase};

/// Longest name of an action, structure, entity, setting, parameter or structure attribute.
pub const MAX_NAME: usize = 50;
/// Longest name of an entity attribute.
pub const MAX_ENTITY_ATTRIBUTE_NAME: usize = 28;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 255;

/// Why a name is not legal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The first character is not an ASCII letter.
    BadStart(char),
    /// A character other than an ASCII letter, digit or `_`.
    BadChar(char, usize),
    /// Longer than the limit.
    TooLong(usize, usize),
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::Empty => write!(f, "a name cannot be empty"),
            NameProblem::BadStart(c) => write!(f, "a name must start with a letter, not {c:?}"),
            NameProblem::BadChar(c, _) => {
                write!(f, "a name may contain only letters, digits and `_`, not {c:?}")
            }
            NameProblem::TooLong(len, max) => {
                write!(f, "a name is at most {max} characters long; this one has {len}")
            }
        }
    }
}

/// Checks a name against the legal-name rule with the given length limit.
pub fn check(name: &str, max: usize) -> Result<(), NameProblem> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err(NameProblem::Empty);
    };
    if !first.is_ascii_alphabetic() {
        return Err(NameProblem::BadStart(first));
    }
    for (i, c) in name.char_indices() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            return Err(NameProblem::BadChar(c, i));
        }
    }
    let len = name.chars().count();
    if len > max {
        return Err(NameProblem::TooLong(len, max));
    }
    Ok(())
}

/// The words of a legal name, lower-cased (see the module docs for the rule).
pub fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let chars: Vec<char> = name.chars().collect();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_ascii_uppercase() && !current.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                words.push(std::mem::take(&mut current));
            }
        }
        if c.is_ascii_digit() && current.is_empty() {
            // A digit never starts a word: join it to the word before.
            if let Some(last) = words.pop() {
                current = last;
            }
        }
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The WIT name (kebab-case, without the `%` escape).
pub fn wit(name: &str) -> String {
    words(name).join("-")
}

/// WIT's keywords, which need a `%` escape in WIT source.
const WIT_KEYWORDS: &[&str] = &[
    "as",
    "async",
    "bool",
    "borrow",
    "char",
    "constructor",
    "enum",
    "export",
    "f32",
    "f64",
    "flags",
    "float32",
    "float64",
    "func",
    "future",
    "import",
    "include",
    "interface",
    "list",
    "option",
    "own",
    "package",
    "record",
    "resource",
    "result",
    "s16",
    "s32",
    "s64",
    "s8",
    "static",
    "stream",
    "string",
    "tuple",
    "type",
    "u16",
    "u32",
    "u64",
    "u8",
    "use",
    "variant",
    "with",
    "world",
    "error-context",
];

/// The WIT name as written in WIT source: `%` before a keyword.
pub fn wit_source(name: &str) -> String {
    let w = wit(name);
    if WIT_KEYWORDS.contains(&w.as_str()) { format!("%{w}") } else { w }
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait",
    "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do",
    "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
];

/// The Rust identifier for a field, parameter, function or module (wit-bindgen's rule).
pub fn rust_ident(name: &str) -> String {
    kebab_to_rust_ident(&wit(name))
}

/// The Rust identifier for a WIT kebab-case name (wit-bindgen's rule).
pub fn kebab_to_rust_ident(kebab: &str) -> String {
    if RUST_KEYWORDS.contains(&kebab) { format!("{kebab}_") } else { kebab.to_snake_case() }
}

/// The Rust type name (UpperCamelCase, as wit-bindgen writes it).
pub fn rust_type(name: &str) -> String {
    kebab_to_rust_type(&wit(name))
}

/// The Rust type name for a WIT kebab-case name (wit-bindgen's rule).
pub fn kebab_to_rust_type(kebab: &str) -> String {
    if kebab == "guest" { "Guest_".to_string() } else { kebab.to_upper_camel_case() }
}

/// A kebab-case WIT name as written in WIT source: `%` before a keyword.
pub fn wit_source_kebab(kebab: &str) -> String {
    if WIT_KEYWORDS.contains(&kebab) { format!("%{kebab}") } else { kebab.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_names() {
        assert_eq!(check("Greet", 50), Ok(()));
        assert_eq!(check("a_1", 50), Ok(()));
        assert_eq!(check("", 50), Err(NameProblem::Empty));
        assert_eq!(check("1a", 50), Err(NameProblem::BadStart('1')));
        assert_eq!(check("_a", 50), Err(NameProblem::BadStart('_')));
        assert_eq!(check("a-b", 50), Err(NameProblem::BadChar('-', 1)));
        assert_eq!(check("é", 50), Err(NameProblem::BadStart('é')));
        assert_eq!(check(&"a".repeat(51), 50), Err(NameProblem::TooLong(51, 50)));
    }

    #[test]
    fn wit_mapping() {
        for (name, wit_name) in [
            ("Greet", "greet"),
            ("FirstName", "first-name"),
            ("first_name", "first-name"),
            ("HTTPServer", "http-server"),
            ("Address2", "address2"),
            ("Line_2", "line2"),
            ("A__B_", "a-b"),
            ("X", "x"),
            ("ABC", "abc"),
            ("getURL", "get-url"),
            ("Id2Name", "id2-name"),
            ("V2_3", "v23"),
        ] {
            assert_eq!(wit(name), wit_name, "{name}");
        }
        assert_eq!(wit_source("Record"), "%record");
        assert_eq!(wit_source("Person"), "person");
    }

    #[test]
    fn rust_mapping() {
        assert_eq!(rust_ident("FirstName"), "first_name");
        assert_eq!(rust_ident("Type"), "type_");
        assert_eq!(rust_ident("Line_2"), "line2");
        assert_eq!(rust_type("person"), "Person");
        assert_eq!(rust_type("HTTPServer"), "HttpServer");
        assert_eq!(rust_type("Guest"), "Guest_");
    }

    #[test]
    fn every_legal_name_maps_to_a_valid_wit_identifier() {
        // Every word must start with a letter and be made of lower-case letters and digits.
        for name in ["a", "A1", "a_1_b", "Ab_9Z", "ZZ9z", "q__1", "x_1_2_3", "Aa1Bb2"] {
            let w = wit(name);
            assert!(!w.is_empty());
            for word in w.split('-') {
                let first = word.chars().next().unwrap_or('0');
                assert!(first.is_ascii_lowercase(), "{name} -> {w}");
                assert!(word.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{name} -> {w}");
            }
        }
    }
}
