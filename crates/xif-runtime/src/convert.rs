//! Values between the definition's types ([`Value`]) and the component model's ([`Val`]), by the
//! WIT contract of `xif_model::wit`: Decimal is its canonical text, Date, Time and Date Time are
//! records, Binary Data is `list<u8>`, a record's fields are its attributes' WIT names in
//! definition order.
use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use wasmtime::component::Val;
use xif_model::definition::Field;
use xif_model::{Definition, Type, Value};

/// The resolved type of a field (`X Identifier` followed to its type).
pub(crate) fn field_type(def: &Definition, f: &Field) -> Result<Type, String> {
    let t = f.parsed.as_ref().ok_or_else(|| format!("{} has an unknown type", f.name.text))?;
    def.resolve(t).ok_or_else(|| format!("{} has an unresolved type {}", f.name.text, t.display()))
}

fn year(y: i32) -> Result<u16, String> {
    u16::try_from(y).ok().filter(|y| (1..=9999).contains(y)).ok_or_else(|| format!("the year {y} is out of range"))
}

/// A value of type `ty` as a component value. Fails only if the value does not have the type,
/// which `xif_model::value` never produces.
pub(crate) fn to_val(def: &Definition, ty: &Type, v: Value) -> Result<Val, String> {
    let ty = def.resolve(ty).ok_or_else(|| format!("unresolved type {}", ty.display()))?;
    Ok(match (&ty, v) {
        (Type::Text, Value::Text(s)) => Val::String(s),
        (Type::Integer, Value::Integer(i)) => Val::S32(i),
        (Type::LongInteger, Value::LongInteger(i)) => Val::S64(i),
        (Type::Decimal, Value::Decimal(d)) => Val::String(d.to_string()),
        (Type::Boolean, Value::Boolean(b)) => Val::Bool(b),
        (Type::Date, Value::Date(d)) => date_val(d)?,
        (Type::Time, Value::Time(t)) => time_val(t),
        (Type::DateTime, Value::DateTime(dt)) => {
            let millisecond = u16::try_from(dt.nanosecond() / 1_000_000).unwrap_or(999).min(999);
            Val::Record(vec![
                ("year".into(), Val::U16(year(dt.year())?)),
                ("month".into(), Val::U8(dt.month() as u8)),
                ("day".into(), Val::U8(dt.day() as u8)),
                ("hour".into(), Val::U8(dt.hour() as u8)),
                ("minute".into(), Val::U8(dt.minute() as u8)),
                ("second".into(), Val::U8(dt.second() as u8)),
                ("millisecond".into(), Val::U16(millisecond)),
            ])
        }
        (Type::BinaryData, Value::Binary(b)) => Val::List(b.into_iter().map(Val::U8).collect()),
        (Type::List(inner), Value::List(items)) => {
            Val::List(items.into_iter().map(|i| to_val(def, inner, i)).collect::<Result<_, _>>()?)
        }
        (Type::Record(name), Value::Record(fields)) => {
            let (rec, _) = def.record(name).ok_or_else(|| format!("unknown record type {name}"))?;
            if rec.attributes.len() != fields.len() {
                return Err(format!("a {name} has {} attributes, not {}", rec.attributes.len(), fields.len()));
            }
            let mut out = Vec::with_capacity(fields.len());
            for (attr, (_, value)) in rec.attributes.iter().zip(fields) {
                out.push((attr.name.wit(), to_val(def, &field_type(def, attr)?, value)?));
            }
            Val::Record(out)
        }
        (ty, v) => return Err(format!("{v:?} is not a {}", ty.display())),
    })
}

fn date_val(d: NaiveDate) -> Result<Val, String> {
    Ok(Val::Record(vec![
        ("year".into(), Val::U16(year(d.year())?)),
        ("month".into(), Val::U8(d.month() as u8)),
        ("day".into(), Val::U8(d.day() as u8)),
    ]))
}

fn time_val(t: NaiveTime) -> Val {
    Val::Record(vec![
        ("hour".into(), Val::U8(t.hour() as u8)),
        ("minute".into(), Val::U8(t.minute() as u8)),
        ("second".into(), Val::U8(t.second() as u8)),
    ])
}

/// The fields of a record value by name, in the order `names` gives.
fn record_fields<'a>(v: &'a Val, names: &[&str], path: &str) -> Result<Vec<&'a Val>, String> {
    let Val::Record(fields) = v else {
        return Err(format!("{path}: expected a record, found {}", kind(v)));
    };
    names
        .iter()
        .map(|n| {
            fields
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v)
                .ok_or_else(|| format!("{path}: the record has no `{n}`"))
        })
        .collect()
}

fn u8_of(v: &Val, path: &str) -> Result<u8, String> {
    match v {
        Val::U8(x) => Ok(*x),
        other => Err(format!("{path}: expected u8, found {}", kind(other))),
    }
}

fn u16_of(v: &Val, path: &str) -> Result<u16, String> {
    match v {
        Val::U16(x) => Ok(*x),
        other => Err(format!("{path}: expected u16, found {}", kind(other))),
    }
}

fn date_of(f: &[&Val], path: &str) -> Result<NaiveDate, String> {
    let (y, m, d) = (u16_of(f[0], path)?, u8_of(f[1], path)?, u8_of(f[2], path)?);
    if !(1..=9999).contains(&y) {
        return Err(format!("{path}: the year {y} is outside 0001 to 9999"));
    }
    NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
        .ok_or_else(|| format!("{path}: the date {y:04}-{m:02}-{d:02} does not exist"))
}

fn time_of(f: &[&Val], path: &str) -> Result<NaiveTime, String> {
    let (h, m, s) = (u8_of(f[0], path)?, u8_of(f[1], path)?, u8_of(f[2], path)?);
    NaiveTime::from_hms_opt(u32::from(h), u32::from(m), u32::from(s))
        .ok_or_else(|| format!("{path}: the time {h:02}:{m:02}:{s:02} does not exist"))
}

/// A component value as a value of type `ty`; `path` names the output for errors.
pub(crate) fn from_val(def: &Definition, ty: &Type, v: &Val, path: &str) -> Result<Value, String> {
    let ty = def.resolve(ty).ok_or_else(|| format!("{path}: unresolved type {}", ty.display()))?;
    let want = |what: &str| Err(format!("{path}: expected {what}, found {}", kind(v)));
    Ok(match (&ty, v) {
        (Type::Text, Val::String(s)) => Value::Text(s.clone()),
        (Type::Integer, Val::S32(i)) => Value::Integer(*i),
        (Type::LongInteger, Val::S64(i)) => Value::LongInteger(*i),
        (Type::Decimal, Val::String(s)) => {
            Value::Decimal(xif_model::value::parse_decimal(s).map_err(|m| format!("{path}: {m}"))?)
        }
        (Type::Boolean, Val::Bool(b)) => Value::Boolean(*b),
        (Type::Date, _) => Value::Date(date_of(&record_fields(v, &["year", "month", "day"], path)?, path)?),
        (Type::Time, _) => Value::Time(time_of(&record_fields(v, &["hour", "minute", "second"], path)?, path)?),
        (Type::DateTime, _) => {
            let f = record_fields(v, &["year", "month", "day", "hour", "minute", "second", "millisecond"], path)?;
            let date = date_of(&f[..3], path)?;
            let time = time_of(&f[3..6], path)?;
            let ms = u16_of(f[6], path)?;
            if ms > 999 {
                return Err(format!("{path}: {ms} milliseconds is more than 999"));
            }
            let time = time
                .with_nanosecond(u32::from(ms) * 1_000_000)
                .ok_or_else(|| format!("{path}: {ms} milliseconds is out of range"))?;
            Value::DateTime(date.and_time(time))
        }
        (Type::BinaryData, Val::List(items)) => {
            Value::Binary(items.iter().map(|i| u8_of(i, path)).collect::<Result<_, _>>()?)
        }
        (Type::List(inner), Val::List(items)) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| from_val(def, inner, item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        (Type::Record(name), Val::Record(_)) => {
            let (rec, _) = def.record(name).ok_or_else(|| format!("{path}: unknown record type {name}"))?;
            let names: Vec<String> = rec.attributes.iter().map(|a| a.name.wit()).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let vals = record_fields(v, &refs, path)?;
            let mut out = Vec::with_capacity(vals.len());
            for (attr, val) in rec.attributes.iter().zip(vals) {
                let p = format!("{path}.{}", attr.name.text);
                out.push((attr.name.text.clone(), from_val(def, &field_type(def, attr)?, val, &p)?));
            }
            Value::Record(out)
        }
        (Type::Text | Type::Decimal, _) => return want("a string"),
        (Type::Integer, _) => return want("s32"),
        (Type::LongInteger, _) => return want("s64"),
        (Type::Boolean, _) => return want("bool"),
        (Type::BinaryData | Type::List(_), _) => return want("a list"),
        (Type::Record(_), _) => return want("a record"),
        (Type::Identifier(_), _) => return Err(format!("{path}: unresolved identifier type")),
    })
}

/// What kind of component value this is, for messages.
fn kind(v: &Val) -> &'static str {
    match v {
        Val::Bool(_) => "bool",
        Val::S8(_) => "s8",
        Val::U8(_) => "u8",
        Val::S16(_) => "s16",
        Val::U16(_) => "u16",
        Val::S32(_) => "s32",
        Val::U32(_) => "u32",
        Val::S64(_) => "s64",
        Val::U64(_) => "u64",
        Val::Float32(_) => "f32",
        Val::Float64(_) => "f64",
        Val::Char(_) => "char",
        Val::String(_) => "a string",
        Val::List(_) | Val::FixedLengthList(_) => "a list",
        Val::Map(_) => "a map",
        Val::Record(_) => "a record",
        Val::Tuple(_) => "a tuple",
        Val::Variant(..) => "a variant",
        Val::Enum(_) => "an enum",
        Val::Option(_) => "an option",
        Val::Result(_) => "a result",
        Val::Flags(_) => "flags",
        Val::Resource(_) => "a resource",
        Val::Future(_) => "a future",
        Val::Stream(_) => "a stream",
        Val::ErrorContext(_) => "an error-context",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> Definition {
        let src = r#"
[extension]
name = "T"

[structures.Person]
Name = "Text"
Born = "Date"

[actions.A]
inputs = { P = "Person", D = "Decimal", At = "Date Time", T = "Time", B = "Binary Data", L = "List of Long Integer" }
"#;
        let (def, diags) = xif_model::parse(src);
        assert!(diags.is_empty(), "{diags:?}");
        def.expect("parses")
    }

    #[test]
    fn values_round_trip() {
        let def = def();
        let action = &def.actions[0];
        let json = serde_json::json!({
            "P": { "Name": "Ada", "Born": "1815-12-10" },
            "D": "12.50",
            "At": "2024-02-29T23:59:59.123Z",
            "T": "08:30:00",
            "B": "AAEC",
            "L": [1, "2"],
        });
        let values = xif_model::value::inputs_from_json(&def, action, &json).expect("valid input");
        for (f, v) in action.inputs.iter().zip(values) {
            let ty = field_type(&def, f).expect("typed");
            let val = to_val(&def, &ty, v.clone()).expect("converts");
            assert_eq!(from_val(&def, &ty, &val, &f.name.text), Ok(v));
        }
    }

    #[test]
    fn refuses_invalid_values() {
        let def = def();
        let date = Val::Record(vec![
            ("year".into(), Val::U16(2023)),
            ("month".into(), Val::U8(2)),
            ("day".into(), Val::U8(29)),
        ]);
        assert_eq!(from_val(&def, &Type::Date, &date, "D"), Err("D: the date 2023-02-29 does not exist".into()));
        let dec = Val::String("1e5".into());
        assert!(from_val(&def, &Type::Decimal, &dec, "X").is_err_and(|m| m.starts_with("X: ")));
        assert_eq!(from_val(&def, &Type::Integer, &Val::S64(1), "N"), Err("N: expected s32, found s64".into()));
    }
}
