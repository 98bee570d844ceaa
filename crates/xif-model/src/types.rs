//! The type table: every type a definition can name, with its WIT form.
//!
//! | type | WIT | JSON |
//! |---|---|---|
//! | Text | `string` | string |
//! | Integer | `s32` | number |
//! | Long Integer | `s64` | number (a string of digits is accepted on input) |
//! | Decimal | `string` (canonical) | string `"12.50"` |
//! | Boolean | `bool` | `true` / `false` |
//! | Date | record `date` | `"YYYY-MM-DD"` |
//! | Time | record `time` | `"HH:MM:SS"` |
//! | Date Time | record `date-time` (UTC, ms) | RFC 3339 |
//! | Binary Data | `list<u8>` | base64 string |
//! | a structure or entity | its record | object |
//! | List of T | `list<T>` | array |
//! | X Identifier | the type of X's identifier | as that type |
use crate::names;

/// A type as written in a definition, after parsing its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `Text`
    Text,
    /// `Integer` (32 bits)
    Integer,
    /// `Long Integer` (64 bits)
    LongInteger,
    /// `Decimal`: 28 digits, exact.
    Decimal,
    /// `Boolean`
    Boolean,
    /// `Date`
    Date,
    /// `Time`
    Time,
    /// `Date Time` (UTC, millisecond precision)
    DateTime,
    /// `Binary Data`
    BinaryData,
    /// A structure or an entity record, by name.
    Record(String),
    /// `List of T`
    List(Box<Type>),
    /// `X Identifier`: the identifier of entity X.
    Identifier(String),
}

/// How many `List of` a type may nest (`List of List of Text` is 2).
pub const MAX_LIST_NESTING: usize = 32;

/// The basic types, with the spelling a definition uses.
pub const BASIC: &[(&str, Type)] = &[
    ("Text", Type::Text),
    ("Integer", Type::Integer),
    ("Long Integer", Type::LongInteger),
    ("Decimal", Type::Decimal),
    ("Boolean", Type::Boolean),
    ("Date", Type::Date),
    ("Time", Type::Time),
    ("Date Time", Type::DateTime),
    ("Binary Data", Type::BinaryData),
];

/// Names that users commonly write for a basic type, with the right spelling.
const SYNONYMS: &[(&str, &str)] = &[
    ("string", "Text"),
    ("str", "Text"),
    ("int", "Integer"),
    ("i32", "Integer"),
    ("long", "Long Integer"),
    ("i64", "Long Integer"),
    ("longinteger", "Long Integer"),
    ("bool", "Boolean"),
    ("datetime", "Date Time"),
    ("timestamp", "Date Time"),
    ("binary", "Binary Data"),
    ("binarydata", "Binary Data"),
    ("bytes", "Binary Data"),
    ("float", "Decimal"),
    ("double", "Decimal"),
    ("number", "Decimal"),
];

/// Why a type's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSyntaxError {
    /// What is wrong.
    pub message: String,
    /// A suggestion, when there is one.
    pub help: Option<String>,
}

impl Type {
    /// Reads a type as written: a basic type, `List of T`, `X Identifier`, or a structure or entity
    /// name (resolved later by Verify).
    pub fn parse(text: &str) -> Result<Type, TypeSyntaxError> {
        Type::parse_in(text, &|_| false)
    }

    /// Like [`Type::parse`], but a name for which `is_record` says yes is that structure or entity
    /// even when it looks like another spelling of a basic type (a structure may be called
    /// `Number` or `Timestamp`). The basic types' own names always mean the basic types.
    pub fn parse_in(text: &str, is_record: &dyn Fn(&str) -> bool) -> Result<Type, TypeSyntaxError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(TypeSyntaxError { message: "the type is empty".into(), help: Some(help_list()) });
        }
        // `List of` without recursion, and at most MAX_LIST_NESTING of them.
        let (mut inner, mut lists) = (t, 0);
        while let Some(rest) = inner.strip_prefix("List of ") {
            (inner, lists) = (rest.trim_start(), lists + 1);
        }
        if lists > 0 {
            if lists > MAX_LIST_NESTING {
                return Err(TypeSyntaxError {
                    message: format!("\"List of\" is nested {lists} times, more than the {MAX_LIST_NESTING} allowed"),
                    help: Some("use a structure with a list attribute instead of deeper lists".into()),
                });
            }
            let mut ty = Type::parse_in(inner, is_record)?;
            for _ in 0..lists {
                ty = Type::List(Box::new(ty));
            }
            return Ok(ty);
        }
        if let Some((_, ty)) = BASIC.iter().find(|(n, _)| *n == t) {
            return Ok(ty.clone());
        }
        if let Some(entity) = t.strip_suffix(" Identifier") {
            let entity = entity.trim();
            if names::check(entity, names::MAX_NAME).is_ok() {
                return Ok(Type::Identifier(entity.to_string()));
            }
        }
        if names::check(t, names::MAX_NAME).is_ok() {
            // A structure or entity name, unless it is a basic type spelled another way.
            if let Some(right) = suggest_basic(t).filter(|_| !is_record(t)) {
                return Err(TypeSyntaxError {
                    message: format!("unknown type \"{t}\""),
                    help: Some(format!("did you mean \"{right}\"?")),
                });
            }
            return Ok(Type::Record(t.to_string()));
        }
        let help = suggest_basic(t).map(|r| format!("did you mean \"{r}\"?")).unwrap_or_else(help_list);
        Err(TypeSyntaxError { message: format!("unknown type \"{t}\""), help: Some(help) })
    }

    /// The type as a definition writes it.
    pub fn display(&self) -> String {
        match self {
            Type::Record(n) => n.clone(),
            Type::List(inner) => format!("List of {}", inner.display()),
            Type::Identifier(e) => format!("{e} Identifier"),
            basic => BASIC.iter().find(|(_, t)| t == basic).map(|(n, _)| n.to_string()).unwrap_or_default(),
        }
    }

    /// True for types that are neither records nor lists.
    pub fn is_basic(&self) -> bool {
        !matches!(self, Type::Record(_) | Type::List(_))
    }
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace() && *c != '_' && *c != '-').flat_map(|c| c.to_lowercase()).collect()
}

/// A basic type the text probably meant (a different spelling or a common synonym).
fn suggest_basic(text: &str) -> Option<&'static str> {
    let s = squash(text);
    if let Some((name, _)) = BASIC.iter().find(|(n, _)| squash(n) == s && *n != text) {
        return Some(name);
    }
    SYNONYMS.iter().find(|(syn, _)| *syn == s).map(|(_, right)| *right)
}

fn help_list() -> String {
    let names: Vec<&str> = BASIC.iter().map(|(n, _)| *n).collect();
    format!("a type is one of {}, a structure or entity name, \"List of T\" or \"X Identifier\"", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Type::parse("Text"), Ok(Type::Text));
        assert_eq!(Type::parse(" Long Integer "), Ok(Type::LongInteger));
        assert_eq!(
            Type::parse("List of List of Person"),
            Ok(Type::List(Box::new(Type::List(Box::new(Type::Record("Person".into()))))))
        );
        assert_eq!(Type::parse("Visit Identifier"), Ok(Type::Identifier("Visit".into())));
        assert_eq!(Type::parse("Person"), Ok(Type::Record("Person".into())));
        for (_, t) in BASIC {
            assert_eq!(Type::parse(&t.display()).as_ref(), Ok(t));
        }
    }

    #[test]
    fn suggests_the_right_spelling() {
        let e = Type::parse("DateTime").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean \"Date Time\"?"));
        let e = Type::parse("string").unwrap_err();
        assert_eq!(e.help.as_deref(), Some("did you mean \"Text\"?"));
        let e = Type::parse("Map<Text>").unwrap_err();
        assert_eq!(e.message, "unknown type \"Map<Text>\"");
    }
}
