//! Values of every type and their JSON form (the type table of DESIGN.md, tested both ways).
use base64::Engine as _;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};

use crate::definition::{Action, Definition, Field, Literal};
use crate::types::Type;

/// A value of a definition type, independent of JSON and of WIT.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text
    Text(String),
    /// Integer
    Integer(i32),
    /// Long Integer
    LongInteger(i64),
    /// Decimal, exact
    Decimal(Decimal),
    /// Boolean
    Boolean(bool),
    /// Date
    Date(NaiveDate),
    /// Time (whole seconds)
    Time(NaiveTime),
    /// Date Time in UTC, millisecond precision
    DateTime(NaiveDateTime),
    /// Binary Data
    Binary(Vec<u8>),
    /// A structure or entity record: attribute name (as defined) and value, in definition order.
    Record(Vec<(String, Value)>),
    /// List of T
    List(Vec<Value>),
}

/// A value that does not fit its type; `path` says where (`Who.Age`, `Items[2]`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValueError {
    /// Where in the input the problem is.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError { path: path.to_string(), message: message.into() })
}

/// 1900-01-01, the default Date.
pub fn default_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The default value of a type (see the type table).
pub fn default_of(def: &Definition, ty: &Type) -> Value {
    match ty {
        Type::Text => Value::Text(String::new()),
        Type::Integer => Value::Integer(0),
        Type::LongInteger => Value::LongInteger(0),
        Type::Decimal => Value::Decimal(Decimal::ZERO),
        Type::Boolean => Value::Boolean(false),
        Type::Date => Value::Date(default_date()),
        Type::Time => Value::Time(NaiveTime::MIN),
        Type::DateTime => Value::DateTime(default_date().and_time(NaiveTime::MIN)),
        Type::BinaryData => Value::Binary(Vec::new()),
        Type::List(_) => Value::List(Vec::new()),
        Type::Record(n) => match def.record(n) {
            Some((r, _)) => {
                Value::Record(r.attributes.iter().map(|a| (a.name.text.clone(), field_default(def, a))).collect())
            }
            None => Value::Record(Vec::new()),
        },
        Type::Identifier(_) => match def.resolve(ty) {
            Some(t) => default_of(def, &t),
            None => Value::LongInteger(0),
        },
    }
}

/// The default of a field: its `default` when it has one, else its type's.
pub fn field_default(def: &Definition, f: &Field) -> Value {
    let Some(t) = f.parsed.as_ref() else {
        return Value::Text(String::new());
    };
    let resolved = def.resolve(t).unwrap_or_else(|| t.clone());
    if let Some(lit) = &f.default
        && let Ok(v) = from_literal(&resolved, &lit.value)
    {
        return v;
    }
    default_of(def, &resolved)
}

/// Reads a `default = …` literal as a value of a basic type.
pub fn from_literal(ty: &Type, lit: &Literal) -> Result<Value, String> {
    let r = match (ty, lit) {
        (Type::Text, Literal::Text(s)) => Value::Text(s.clone()),
        (Type::Integer, Literal::Integer(i)) => {
            Value::Integer(i32::try_from(*i).map_err(|_| format!("{i} is outside the Integer range"))?)
        }
        (Type::LongInteger, Literal::Integer(i)) => Value::LongInteger(*i),
        (Type::Decimal, Literal::Text(s) | Literal::Float(s)) => Value::Decimal(parse_decimal(s)?),
        (Type::Decimal, Literal::Integer(i)) => Value::Decimal(Decimal::from(*i)),
        (Type::Boolean, Literal::Boolean(b)) => Value::Boolean(*b),
        (Type::Date, Literal::Text(s)) => Value::Date(parse_date(s)?),
        (Type::Time, Literal::Text(s)) => Value::Time(parse_time(s)?),
        (Type::DateTime, Literal::Text(s)) => Value::DateTime(parse_date_time(s)?),
        (t, l) => return Err(format!("{} is not of type {}", describe(l), t.display())),
    };
    Ok(r)
}

fn describe(l: &Literal) -> String {
    match l {
        Literal::Text(s) => format!("the text {s:?}"),
        Literal::Integer(i) => format!("the integer {i}"),
        Literal::Float(f) => format!("the number {f}"),
        Literal::Boolean(b) => format!("`{b}`"),
        Literal::Other(o) => o.clone(),
    }
}

/// How to write a default of this type.
pub fn literal_hint(ty: &Type) -> String {
    match ty {
        Type::Text => "write a text in quotes, for example `default = \"none\"`".into(),
        Type::Integer => "write a whole number from -2147483648 to 2147483647, for example `default = 0`".into(),
        Type::LongInteger => "write a whole number, for example `default = 0`".into(),
        Type::Decimal => "write the decimal in quotes so it stays exact, for example `default = \"12.50\"`".into(),
        Type::Boolean => "write `default = true` or `default = false`".into(),
        Type::Date => "write the date as \"YYYY-MM-DD\", for example `default = \"1900-01-01\"`".into(),
        Type::Time => "write the time as \"HH:MM:SS\", for example `default = \"08:30:00\"`".into(),
        Type::DateTime => "write an RFC 3339 date and time, for example `default = \"2024-05-01T08:30:00Z\"`".into(),
        other => format!("{} takes no default", other.display()),
    }
}

/// Parses a Decimal written as text: optional sign, digits, optional fraction (no spaces, no
/// exponent); at most 28 digits after the point, and within ±79228162514264337593543950335.
pub fn parse_decimal(s: &str) -> Result<Decimal, String> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let ok = !body.is_empty()
        && body.split('.').count() <= 2
        && body.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !body.starts_with('.')
        && !body.ends_with('.');
    if !ok {
        return Err(format!("{s:?} is not a decimal number like \"12.50\""));
    }
    if body.split_once('.').is_some_and(|(_, fraction)| fraction.len() > 28) {
        return Err(format!("{s:?} has more than 28 digits after the decimal point"));
    }
    Decimal::from_str_exact(s).map_err(|_| {
        format!("{s:?} is outside the Decimal range (-79228162514264337593543950335 to 79228162514264337593543950335)")
    })
}

/// Parses `YYYY-MM-DD` (years 0001 to 9999).
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(format!("{s:?} is not a date in the form YYYY-MM-DD"));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a valid date"))?;
    if d.year() < 1 {
        return Err(format!("{s:?} is before 0001-01-01"));
    }
    Ok(d)
}

/// Parses `HH:MM:SS`.
pub fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let b = s.as_bytes();
    let shape = b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && b.iter().enumerate().all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit());
    if !shape {
        return Err(format!("{s:?} is not a time in the form HH:MM:SS"));
    }
    match NaiveTime::parse_from_str(s, "%H:%M:%S") {
        // chrono reads second 60 as a leap second, which a Time (whole seconds 0 to 59) cannot hold.
        Ok(t) if t.nanosecond() < 1_000_000_000 => Ok(t),
        Ok(_) => Err(format!("{s:?} is not a valid time: a leap second has no place in a Time")),
        Err(_) => Err(format!("{s:?} is not a valid time")),
    }
}

/// Parses RFC 3339 with any offset, converted to UTC and cut to milliseconds.
pub fn parse_date_time(s: &str) -> Result<NaiveDateTime, String> {
    let dt = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|_| format!("{s:?} is not an RFC 3339 date and time like \"2024-05-01T08:30:00Z\""))?;
    let utc = dt.naive_utc();
    if utc.nanosecond() >= 1_000_000_000 {
        // chrono keeps a leap second as nanoseconds past 1e9; a Date Time has seconds 0 to 59.
        return Err(format!("{s:?} is a leap second, which a Date Time cannot hold; use :59.999 or the next second"));
    }
    if !(1..=9999).contains(&utc.year()) {
        return Err(format!("{s:?} is outside the years 0001 to 9999 in UTC"));
    }
    let ms = utc.nanosecond() / 1_000_000;
    Ok(utc.with_nanosecond(ms * 1_000_000).unwrap_or(utc))
}

/// Writes a Date Time in UTC: `…Z`, with a fraction only when it is non-zero.
pub fn format_date_time(dt: &NaiveDateTime) -> String {
    let ms = dt.nanosecond() / 1_000_000;
    if ms == 0 {
        dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        format!("{}.{ms:03}Z", dt.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Reads a JSON value as a value of `ty`. `field` gives limits (Text length) when known.
pub fn from_json(
    def: &Definition,
    ty: &Type,
    json: &Json,
    path: &str,
    field: Option<&Field>,
) -> Result<Value, ValueError> {
    let want = |what: &str| err(path, format!("expected {what}, found {}", json_kind(json)));
    Ok(match ty {
        Type::Text => match json {
            Json::String(s) => {
                if let Some(len) = field.and_then(|f| f.length.as_ref()) {
                    let n = s.chars().count();
                    if n as i64 > len.value {
                        return err(path, format!("text of {n} characters is longer than the length {}", len.value));
                    }
                }
                Value::Text(s.clone())
            }
            _ => return want("a string"),
        },
        Type::Integer => match json {
            Json::Number(n) if n.is_i64() || n.is_u64() => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
                Some(i) => Value::Integer(i),
                None => return err(path, format!("{n} is outside the Integer range (32 bits)")),
            },
            _ => return want("a whole number"),
        },
        Type::LongInteger => match json {
            Json::Number(n) => match n.as_i64() {
                Some(i) => Value::LongInteger(i),
                None => {
                    return err(path, format!("{n} is not a whole number in the Long Integer range"));
                }
            },
            Json::String(s) => {
                let digits = s.strip_prefix('-').unwrap_or(s);
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return err(
                        path,
                        format!("{s:?} is not a Long Integer: write it as a number or a string of digits"),
                    );
                }
                match s.parse::<i64>() {
                    Ok(i) => Value::LongInteger(i),
                    Err(_) => return err(path, format!("{s:?} is outside the Long Integer range (64 bits)")),
                }
            }
            _ => return want("a whole number"),
        },
        Type::Decimal => match json {
            Json::String(s) => {
                Value::Decimal(parse_decimal(s).map_err(|m| ValueError { path: path.into(), message: m })?)
            }
            Json::Number(n) => {
                return err(path, format!("a Decimal is written as a string, \"{n}\", so that no digit is lost"));
            }
            _ => return want("a decimal as a string, like \"12.50\""),
        },
        Type::Boolean => match json {
            Json::Bool(b) => Value::Boolean(*b),
            _ => return want("true or false"),
        },
        Type::Date => match json {
            Json::String(s) => Value::Date(parse_date(s).map_err(|m| ValueError { path: path.into(), message: m })?),
            _ => return want("a date string \"YYYY-MM-DD\""),
        },
        Type::Time => match json {
            Json::String(s) => Value::Time(parse_time(s).map_err(|m| ValueError { path: path.into(), message: m })?),
            _ => return want("a time string \"HH:MM:SS\""),
        },
        Type::DateTime => match json {
            Json::String(s) => {
                Value::DateTime(parse_date_time(s).map_err(|m| ValueError { path: path.into(), message: m })?)
            }
            _ => return want("an RFC 3339 date-time string"),
        },
        Type::BinaryData => match json {
            Json::String(s) => Value::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| ValueError { path: path.into(), message: format!("not valid base64: {e}") })?,
            ),
            _ => return want("a base64 string"),
        },
        Type::List(inner) => match json {
            Json::Array(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, j)| from_json(def, inner, j, &format!("{path}[{i}]"), None))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return want("an array"),
        },
        Type::Record(n) => {
            let Some((rec, _)) = def.record(n) else {
                return err(path, format!("unknown record type {n}"));
            };
            match json {
                Json::Object(obj) => Value::Record(fields_from_json(def, &rec.attributes, obj, path)?),
                _ => return want(&format!("an object ({n})")),
            }
        }
        Type::Identifier(_) => match def.resolve(ty) {
            Some(t) => from_json(def, &t, json, path, field)?,
            None => return err(path, "identifier of an unknown entity"),
        },
    })
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") }
}

/// Reads a JSON object as the values of `fields`, in their order: unknown keys are refused, a
/// missing or `null` optional field takes its default, a missing mandatory one is an error.
pub fn fields_from_json(
    def: &Definition,
    fields: &[Field],
    obj: &Map<String, Json>,
    path: &str,
) -> Result<Vec<(String, Value)>, ValueError> {
    let unknown: Vec<&str> =
        obj.keys().filter(|k| !fields.iter().any(|f| f.name.text == **k)).map(|k| k.as_str()).collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = fields.iter().map(|f| f.name.text.as_str()).collect();
        return err(
            if path.is_empty() { unknown[0] } else { path },
            format!(
                "unknown field{} {}; expected {}",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", "),
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ),
        );
    }
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        let p = join(path, &f.name.text);
        let v = match obj.get(&f.name.text) {
            None | Some(Json::Null) => {
                if f.is_mandatory() {
                    return err(&p, format!("{} {} is mandatory", f.kind.noun(), f.name.text));
                }
                field_default(def, f)
            }
            Some(j) => match &f.parsed {
                Some(t) => from_json(def, t, j, &p, Some(f))?,
                None => return err(&p, "has an unknown type"),
            },
        };
        out.push((f.name.text.clone(), v));
    }
    Ok(out)
}

/// Reads the JSON input of an action call: an object of its inputs (`null` or absent: `{}`).
pub fn inputs_from_json(def: &Definition, action: &Action, json: &Json) -> Result<Vec<Value>, ValueError> {
    let empty = Map::new();
    let obj = match json {
        Json::Null => &empty,
        Json::Object(o) => o,
        other => {
            return err(
                "",
                format!(
                    "the input of action {} is a JSON object of its inputs, not {}",
                    action.name.text,
                    json_kind(other)
                ),
            );
        }
    };
    Ok(fields_from_json(def, &action.inputs, obj, "")?.into_iter().map(|(_, v)| v).collect())
}

/// Writes the outputs of an action as a JSON object, attribute names as defined.
pub fn outputs_to_json(action: &Action, outputs: &[Value]) -> Json {
    Json::Object(action.outputs.iter().zip(outputs).map(|(f, v)| (f.name.text.clone(), to_json(v))).collect())
}

/// Writes a value as JSON.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Text(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::LongInteger(i) => Json::from(*i),
        Value::Decimal(d) => Json::String(d.to_string()),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Date(d) => Json::String(d.format("%Y-%m-%d").to_string()),
        Value::Time(t) => Json::String(t.format("%H:%M:%S").to_string()),
        Value::DateTime(dt) => Json::String(format_date_time(dt)),
        Value::Binary(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Record(fields) => Json::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
    }
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// How big the JSON input of a call is, by what it holds: what a host needs to know, before
/// building anything from it, to tell how much memory reading it will take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputShape {
    /// JSON values (scalars, arrays, objects and object members).
    pub nodes: u64,
    /// Bytes of strings (object keys included) that stay text.
    pub text_bytes: u64,
    /// Bytes of Binary Data once decoded from base64.
    pub binary_bytes: u64,
}

/// Why [`input_shape`] refused the input.
#[derive(Debug, thiserror::Error)]
pub enum ShapeError {
    /// The body is not JSON.
    #[error("{0}")]
    Json(serde_json::Error),
    /// The input is JSON but cannot be the action's input (not an object, an unknown input);
    /// the same error [`inputs_from_json`] gives.
    #[error("{0}")]
    Input(ValueError),
}

/// Scans the JSON input of a call to `action` without building it: counts its values and the
/// bytes of its texts and its Binary Data (by the action's input types). Refuses, as
/// [`inputs_from_json`] would, a body that is not an object or that names an input the action
/// does not have, at the first such byte; a body that is not JSON is a [`ShapeError::Json`].
/// Nothing is allocated per value, so this costs no memory however big the input is.
pub fn input_shape(def: &Definition, action: &Action, json: &[u8]) -> Result<InputShape, ShapeError> {
    use serde::de::DeserializeSeed as _;
    let mut shape = InputShape::default();
    let mut refused = None;
    let mut de = serde_json::Deserializer::from_slice(json);
    let seed = shape::Seed { def, kind: shape::Kind::Top(action), shape: &mut shape, refused: &mut refused };
    let scanned = seed.deserialize(&mut de).and_then(|()| de.end());
    match (refused, scanned) {
        (Some(e), _) => Err(ShapeError::Input(e)),
        (None, Err(e)) => Err(ShapeError::Json(e)),
        (None, Ok(())) => Ok(shape),
    }
}

mod shape {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

    use super::{InputShape, ValueError};
    use crate::definition::{Action, Definition, Field};
    use crate::types::Type;

    #[derive(Clone, Copy)]
    pub(super) enum Kind<'a> {
        /// The action's input object.
        Top(&'a Action),
        /// Something whose type does not matter for its size (or is not known).
        Any,
        Binary,
        List(&'a Type),
        Record(&'a [Field]),
    }

    fn kind<'a>(def: &'a Definition, ty: Option<&'a Type>) -> Kind<'a> {
        match ty {
            Some(Type::BinaryData) => Kind::Binary,
            Some(Type::List(inner)) => Kind::List(inner),
            Some(Type::Record(name)) => def.record(name).map_or(Kind::Any, |(r, _)| Kind::Record(&r.attributes)),
            Some(t @ Type::Identifier(_)) => match def.resolve(t) {
                Some(Type::BinaryData) => Kind::Binary,
                _ => Kind::Any,
            },
            _ => Kind::Any,
        }
    }

    pub(super) struct Seed<'a, 's> {
        pub(super) def: &'a Definition,
        pub(super) kind: Kind<'a>,
        pub(super) shape: &'s mut InputShape,
        pub(super) refused: &'s mut Option<ValueError>,
    }

    impl<'de> DeserializeSeed<'de> for Seed<'_, '_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl Seed<'_, '_> {
        /// A top-level value that is not an object (`null` is `{}`).
        fn not_object<E: de::Error>(self, what: &str) -> Result<(), E> {
            if let Kind::Top(action) = self.kind {
                let message =
                    format!("the input of action {} is a JSON object of its inputs, not {what}", action.name.text);
                *self.refused = Some(ValueError { path: String::new(), message });
                return Err(E::custom("refused"));
            }
            self.shape.nodes += 1;
            Ok(())
        }

        fn string<E: de::Error>(self, s: &str) -> Result<(), E> {
            if let Kind::Binary = self.kind {
                self.shape.binary_bytes += (s.len() as u64).div_ceil(4) * 3;
            }
            self.shape.text_bytes += s.len() as u64;
            self.not_object("a string")
        }
    }

    impl<'de> Visitor<'de> for Seed<'_, '_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            self.not_object("a boolean")
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            self.not_object("a number")
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            self.not_object("a number")
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            self.not_object("a number")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
            self.string(s)
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            self.shape.nodes += 1;
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let def = self.def;
            let element = match self.kind {
                Kind::List(inner) => kind(def, Some(inner)),
                _ => Kind::Any,
            };
            let Seed { shape, refused, .. } = self;
            if let Kind::Top(_) = self.kind {
                return Seed { def, kind: self.kind, shape, refused }.not_object("an array");
            }
            shape.nodes += 1;
            while seq.next_element_seed(Seed { def, kind: element, shape, refused })?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let def = self.def;
            let fields: Option<&[Field]> = match self.kind {
                Kind::Top(action) => Some(&action.inputs),
                Kind::Record(fields) => Some(fields),
                _ => None,
            };
            let Seed { shape, refused, .. } = self;
            shape.nodes += 1;
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                shape.nodes += 1;
                shape.text_bytes += key.len() as u64;
                let field = fields.and_then(|fs| fs.iter().find(|f| f.name.text == *key));
                if let (Kind::Top(action), None) = (self.kind, field) {
                    // As `fields_from_json` says it (it names every unknown key; this names the first).
                    let known: Vec<&str> = action.inputs.iter().map(|f| f.name.text.as_str()).collect();
                    let mut name: String = key.chars().take(50).collect();
                    if name.len() < key.len() {
                        name.push('…');
                    }
                    let message = format!(
                        "unknown field {name}; expected {}",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    );
                    *refused = Some(ValueError { path: name, message });
                    return Err(de::Error::custom("refused"));
                }
                map.next_value_seed(Seed {
                    def,
                    kind: kind(def, field.and_then(|f| f.parsed.as_ref())),
                    shape,
                    refused,
                })?;
            }
            Ok(())
        }
    }
}
