//! The type table of DESIGN.md ("Types, WIT and JSON"), tested both ways: JSON → Value → JSON for
//! every type, the boundaries of each, what is refused (and that the refusal says where and why),
//! and how an action's inputs and outputs are read and written.
use base64::Engine as _;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rust_decimal::Decimal;
use serde_json::{Value as Json, json};
use xif_model::value::{self, Value, ValueError};
use xif_model::{Definition, Type};

const DEFINITION: &str = r#"[extension]
name = "Values"
description = "Every type, in and out."

[structures.Person]
Name = { type = "Text", length = 10 }
Age = { type = "Integer", default = 18 }
Friends = "List of Friend"

[structures.Friend]
Name = "Text"
Since = { type = "Date", mandatory = true }

[entities.Visit]
Id = { type = "Long Integer", identifier = true, auto_number = true }
Who = "Text"

[entities.Tag]
Code = { type = "Text", identifier = true, length = 5 }

[actions.Echo]
inputs = { Who = "Person", Count = "Integer", Polite = { type = "Boolean", default = true }, Note = { type = "Text", mandatory = false }, Price = { type = "Decimal", default = "9.99" }, Visit = { type = "Visit Identifier", mandatory = false }, Groups = { type = "List of List of Person", mandatory = false }, When = { type = "Date Time", default = "2024-05-01T08:30:00+02:00" } }
outputs = { Message = "Text", Total = "Decimal", At = "Date Time", Data = "Binary Data", People = "List of Person" }
"#;

fn def() -> Definition {
    let (def, diags) = xif_model::parse(DEFINITION);
    assert!(diags.is_empty(), "{diags:?}");
    let def = def.expect("the definition parses");
    let errors: Vec<_> = xif_model::verify::verify(&def).into_iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    def
}

fn ty(text: &str) -> Type {
    Type::parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

/// JSON in as `type_text`; the value read.
#[track_caller]
fn read(def: &Definition, type_text: &str, json: &Json) -> Value {
    value::from_json(def, &ty(type_text), json, "X", None).unwrap_or_else(|e| panic!("{type_text} {json}: {e}"))
}

/// JSON in, the value expected, and the JSON that value is written as.
#[track_caller]
fn both_ways(def: &Definition, type_text: &str, json_in: Json, expected: Value, json_out: Json) {
    let v = read(def, type_text, &json_in);
    assert_eq!(v, expected, "{type_text} {json_in}");
    assert_eq!(value::to_json(&v), json_out, "{type_text} {json_in}");
    // And what is written reads back as the same value.
    assert_eq!(read(def, type_text, &json_out), expected, "{type_text} {json_out}");
}

/// JSON refused as `type_text`: the error names the place and its message says `why`.
#[track_caller]
fn refused(def: &Definition, type_text: &str, json: Json, why: &str) -> ValueError {
    match value::from_json(def, &ty(type_text), &json, "Items[2]", None) {
        Ok(v) => panic!("{type_text} {json} was read as {v:?}"),
        Err(e) => {
            assert_eq!(e.path, "Items[2]", "{e}");
            assert!(e.message.contains(why), "{type_text} {json}: {:?} lacks {why:?}", e.message);
            e
        }
    }
}

fn dec(s: &str) -> Value {
    Value::Decimal(Decimal::from_str_exact(s).unwrap())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn date_time(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Value {
    Value::DateTime(NaiveDateTime::new(date(y, mo, d), NaiveTime::from_hms_milli_opt(h, mi, s, ms).unwrap()))
}

#[test]
fn text() {
    let def = def();
    both_ways(&def, "Text", json!(""), Value::Text(String::new()), json!(""));
    both_ways(&def, "Text", json!("héllo ✓\n\"q\""), Value::Text("héllo ✓\n\"q\"".into()), json!("héllo ✓\n\"q\""));
    refused(&def, "Text", json!(5), "expected a string, found a number");
    refused(&def, "Text", json!(true), "expected a string, found a boolean");
    refused(&def, "Text", json!(["a"]), "expected a string, found an array");
}

#[test]
fn text_length_counts_characters() {
    let def = def();
    let person = def.record("Person").unwrap().0;
    let name = &person.attributes[0];
    let t = ty("Text");
    assert!(value::from_json(&def, &t, &json!("ééééééééé✓"), "Name", Some(name)).is_ok(), "10 characters fit");
    let e = value::from_json(&def, &t, &json!("ééééééééé✓x"), "Name", Some(name)).unwrap_err();
    assert_eq!(e.path, "Name");
    assert_eq!(e.message, "text of 11 characters is longer than the length 10");
}

#[test]
fn integer() {
    let def = def();
    both_ways(&def, "Integer", json!(0), Value::Integer(0), json!(0));
    both_ways(&def, "Integer", json!(2147483647), Value::Integer(i32::MAX), json!(2147483647));
    both_ways(&def, "Integer", json!(-2147483648), Value::Integer(i32::MIN), json!(-2147483648));
    refused(&def, "Integer", json!(2147483648i64), "2147483648 is outside the Integer range");
    refused(&def, "Integer", json!(-2147483649i64), "-2147483649 is outside the Integer range");
    refused(&def, "Integer", json!(u64::MAX), "18446744073709551615 is outside the Integer range");
    refused(&def, "Integer", json!(1.5), "expected a whole number, found a number");
    refused(&def, "Integer", json!("12"), "expected a whole number, found a string");
    refused(&def, "Integer", Json::Null, "expected a whole number, found null");
}

#[test]
fn long_integer() {
    let def = def();
    both_ways(&def, "Long Integer", json!(i64::MAX), Value::LongInteger(i64::MAX), json!(9223372036854775807i64));
    both_ways(&def, "Long Integer", json!(i64::MIN), Value::LongInteger(i64::MIN), json!(-9223372036854775808i64));
    // A string of digits is accepted on input (JavaScript cannot hold every 64-bit integer); output is a number.
    let v = read(&def, "Long Integer", &json!("9223372036854775807"));
    assert_eq!(v, Value::LongInteger(i64::MAX));
    assert_eq!(value::to_json(&v), json!(i64::MAX));
    assert_eq!(read(&def, "Long Integer", &json!("-9223372036854775808")), Value::LongInteger(i64::MIN));
    assert_eq!(read(&def, "Long Integer", &json!("0042")), Value::LongInteger(42));
    refused(&def, "Long Integer", json!(9223372036854775808u64), "not a whole number in the Long Integer range");
    refused(&def, "Long Integer", json!("9223372036854775808"), "outside the Long Integer range");
    refused(&def, "Long Integer", json!("-9223372036854775809"), "outside the Long Integer range");
    refused(&def, "Long Integer", json!(2.5), "not a whole number");
    for bad in ["", "-", "12a", "1.0", " 12", "+12", "1e3"] {
        refused(&def, "Long Integer", json!(bad), "is not a Long Integer");
    }
    refused(&def, "Long Integer", json!(true), "expected a whole number, found a boolean");
}

#[test]
fn decimal() {
    let def = def();
    let max = "79228162514264337593543950335";
    let smallest = "0.0000000000000000000000000001";
    both_ways(&def, "Decimal", json!(max), dec(max), json!(max));
    both_ways(&def, "Decimal", json!(format!("-{max}")), dec(&format!("-{max}")), json!(format!("-{max}")));
    both_ways(&def, "Decimal", json!(smallest), dec(smallest), json!(smallest));
    // Exact, and the scale written is kept: "12.50" stays "12.50".
    both_ways(&def, "Decimal", json!("12.50"), dec("12.50"), json!("12.50"));
    both_ways(&def, "Decimal", json!("0.1"), dec("0.1"), json!("0.1"));
    both_ways(&def, "Decimal", json!("-3"), dec("-3"), json!("-3"));
    assert_eq!(value::to_json(&read(&def, "Decimal", &json!("+1.5"))), json!("1.5"));
    // As the generated WIT and docs/EXTENSIONS.md say: the sign and leading zeros go, the scale stays.
    assert_eq!(value::to_json(&read(&def, "Decimal", &json!("+01.50"))), json!("1.50"));
    assert_eq!(value::to_json(&read(&def, "Decimal", &json!("-007"))), json!("-7"));
    assert_eq!(value::to_json(&read(&def, "Decimal", &json!("-0"))), json!("0"));
    // A JSON number could already have lost digits: refused, with the string to write instead.
    let e = refused(&def, "Decimal", json!(12.5), "a Decimal is written as a string, \"12.5\"");
    assert!(e.message.contains("no digit is lost"), "{e}");
    refused(&def, "Decimal", json!(12), "a Decimal is written as a string, \"12\"");
    refused(&def, "Decimal", json!("79228162514264337593543950336"), "outside the Decimal range");
    refused(&def, "Decimal", json!("0.00000000000000000000000000001"), "more than 28 digits after the decimal point");
    for bad in ["", "12,50", "1e5", ".5", "5.", "1.2.3", "abc", "- 1", " 1.5", "1.5 ", "NaN"] {
        refused(&def, "Decimal", json!(bad), "is not a decimal number like \"12.50\"");
    }
    refused(&def, "Decimal", json!(true), "expected a decimal as a string");
}

#[test]
fn boolean() {
    let def = def();
    both_ways(&def, "Boolean", json!(true), Value::Boolean(true), json!(true));
    both_ways(&def, "Boolean", json!(false), Value::Boolean(false), json!(false));
    refused(&def, "Boolean", json!("true"), "expected true or false, found a string");
    refused(&def, "Boolean", json!(1), "expected true or false, found a number");
}

#[test]
fn date_type() {
    let def = def();
    both_ways(&def, "Date", json!("0001-01-01"), Value::Date(date(1, 1, 1)), json!("0001-01-01"));
    both_ways(&def, "Date", json!("9999-12-31"), Value::Date(date(9999, 12, 31)), json!("9999-12-31"));
    both_ways(&def, "Date", json!("2024-02-29"), Value::Date(date(2024, 2, 29)), json!("2024-02-29"));
    both_ways(&def, "Date", json!("1900-01-01"), Value::Date(date(1900, 1, 1)), json!("1900-01-01"));
    for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "1900-02-29"] {
        refused(&def, "Date", json!(bad), &format!("\"{bad}\" is not a valid date"));
    }
    refused(&def, "Date", json!("0000-12-31"), "before 0001-01-01");
    for bad in ["2024-1-1", "24-01-01", "2024/01/01", "2024-01-01T00:00:00Z", "", "10000-01-01", " 2024-01-01"] {
        refused(&def, "Date", json!(bad), "is not a date in the form YYYY-MM-DD");
    }
    refused(&def, "Date", json!(20240101), "expected a date string \"YYYY-MM-DD\", found a number");
}

#[test]
fn time_type() {
    let def = def();
    let t = |h, m, s| Value::Time(NaiveTime::from_hms_opt(h, m, s).unwrap());
    both_ways(&def, "Time", json!("00:00:00"), t(0, 0, 0), json!("00:00:00"));
    both_ways(&def, "Time", json!("23:59:59"), t(23, 59, 59), json!("23:59:59"));
    both_ways(&def, "Time", json!("08:30:05"), t(8, 30, 5), json!("08:30:05"));
    for bad in ["24:00:00", "23:60:00", "12:00:61"] {
        refused(&def, "Time", json!(bad), &format!("\"{bad}\" is not a valid time"));
    }
    // A leap second has no place in a Time (its WIT record has whole seconds 0 to 59).
    refused(&def, "Time", json!("23:59:60"), "\"23:59:60\" is not a valid time");
    for bad in ["8:30:00", "08:30", "08:30:00.5", "08:30:00Z", ""] {
        refused(&def, "Time", json!(bad), "is not a time in the form HH:MM:SS");
    }
    refused(&def, "Time", json!(830), "expected a time string \"HH:MM:SS\"");
}

#[test]
fn date_time_type() {
    let def = def();
    both_ways(
        &def,
        "Date Time",
        json!("2024-05-01T08:30:00Z"),
        date_time(2024, 5, 1, 8, 30, 0, 0),
        json!("2024-05-01T08:30:00Z"),
    );
    // Any offset is converted to UTC, also across a day, month and year.
    for (input, utc) in [
        ("2024-05-01T08:30:00+02:00", "2024-05-01T06:30:00Z"),
        ("2024-05-01T08:30:00-05:30", "2024-05-01T14:00:00Z"),
        ("2024-01-01T01:00:00+03:00", "2023-12-31T22:00:00Z"),
        ("2024-02-28T23:00:00-01:00", "2024-02-29T00:00:00Z"),
        ("2024-05-01T08:30:00+00:00", "2024-05-01T08:30:00Z"),
        ("2024-05-01T08:30:00-00:00", "2024-05-01T08:30:00Z"),
        ("2024-05-01t08:30:00z", "2024-05-01T08:30:00Z"),
    ] {
        assert_eq!(value::to_json(&read(&def, "Date Time", &json!(input))), json!(utc), "{input}");
    }
    // The fraction: only when non-zero, milliseconds, cut (not rounded) beyond them.
    for (input, out, ms) in [
        ("2024-05-01T08:30:00.000Z", "2024-05-01T08:30:00Z", 0),
        ("2024-05-01T08:30:00.0004Z", "2024-05-01T08:30:00Z", 0),
        ("2024-05-01T08:30:00.5Z", "2024-05-01T08:30:00.500Z", 500),
        ("2024-05-01T08:30:00.001Z", "2024-05-01T08:30:00.001Z", 1),
        ("2024-05-01T08:30:00.1239Z", "2024-05-01T08:30:00.123Z", 123),
        ("2024-05-01T08:30:00.999999999+01:00", "2024-05-01T07:30:00.999Z", 999),
    ] {
        let v = read(&def, "Date Time", &json!(input));
        let expected_hour = if input.ends_with("+01:00") { 7 } else { 8 };
        assert_eq!(v, date_time(2024, 5, 1, expected_hour, 30, 0, ms), "{input}");
        assert_eq!(value::to_json(&v), json!(out), "{input}");
    }
    both_ways(
        &def,
        "Date Time",
        json!("0001-01-01T00:00:00Z"),
        date_time(1, 1, 1, 0, 0, 0, 0),
        json!("0001-01-01T00:00:00Z"),
    );
    both_ways(
        &def,
        "Date Time",
        json!("9999-12-31T23:59:59.999Z"),
        date_time(9999, 12, 31, 23, 59, 59, 999),
        json!("9999-12-31T23:59:59.999Z"),
    );
    // Outside the years 0001 to 9999 once converted to UTC.
    refused(&def, "Date Time", json!("0001-01-01T00:30:00+01:00"), "outside the years 0001 to 9999 in UTC");
    refused(&def, "Date Time", json!("9999-12-31T23:30:00-01:00"), "outside the years 0001 to 9999 in UTC");
    // A leap second is refused rather than turned into an invalid output.
    refused(&def, "Date Time", json!("2016-12-31T23:59:60Z"), "leap second");
    for bad in ["2024-05-01T08:30:00", "2024-05-01", "2024-05-01T25:00:00Z", "2024-02-30T00:00:00Z", "now", ""] {
        refused(&def, "Date Time", json!(bad), "is not an RFC 3339 date and time like \"2024-05-01T08:30:00Z\"");
    }
    refused(&def, "Date Time", json!(1714552200), "expected an RFC 3339 date-time string, found a number");
}

#[test]
fn binary_data() {
    let def = def();
    both_ways(&def, "Binary Data", json!(""), Value::Binary(Vec::new()), json!(""));
    both_ways(&def, "Binary Data", json!("AQID"), Value::Binary(vec![1, 2, 3]), json!("AQID"));
    both_ways(&def, "Binary Data", json!("AA=="), Value::Binary(vec![0]), json!("AA=="));
    both_ways(&def, "Binary Data", json!("/+8="), Value::Binary(vec![0xff, 0xef]), json!("/+8="));
    // Large: 3 MB of every byte value.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&big);
    both_ways(&def, "Binary Data", json!(b64), Value::Binary(big), json!(b64));
    for bad in ["AQI", "AQID!", "AQ ID", "_-8=", "A"] {
        refused(&def, "Binary Data", json!(bad), "not valid base64");
    }
    refused(&def, "Binary Data", json!([1, 2, 3]), "expected a base64 string, found an array");
}

#[test]
fn identifiers_take_their_entitys_identifier_type() {
    let def = def();
    both_ways(&def, "Visit Identifier", json!(42), Value::LongInteger(42), json!(42));
    assert_eq!(read(&def, "Visit Identifier", &json!("42")), Value::LongInteger(42));
    both_ways(&def, "Tag Identifier", json!("RED"), Value::Text("RED".into()), json!("RED"));
    refused(&def, "Visit Identifier", json!("x"), "is not a Long Integer");
    refused(&def, "Tag Identifier", json!(1), "expected a string");
    refused(&def, "Ghost Identifier", json!(1), "identifier of an unknown entity");
}

#[test]
fn lists() {
    let def = def();
    both_ways(&def, "List of Integer", json!([]), Value::List(vec![]), json!([]));
    both_ways(
        &def,
        "List of List of Integer",
        json!([[1, 2], [], [3]]),
        Value::List(vec![
            Value::List(vec![Value::Integer(1), Value::Integer(2)]),
            Value::List(vec![]),
            Value::List(vec![Value::Integer(3)]),
        ]),
        json!([[1, 2], [], [3]]),
    );
    both_ways(
        &def,
        "List of Date",
        json!(["2024-01-01", "0001-01-01"]),
        Value::List(vec![Value::Date(date(2024, 1, 1)), Value::Date(date(1, 1, 1))]),
        json!(["2024-01-01", "0001-01-01"]),
    );
    // The error names the item.
    let e = value::from_json(&def, &ty("List of List of Integer"), &json!([[1], [2, "x"]]), "Grid", None).unwrap_err();
    assert_eq!(e.path, "Grid[1][1]");
    assert!(e.message.contains("expected a whole number, found a string"), "{e}");
    refused(&def, "List of Integer", json!({}), "expected an array, found an object");
    refused(&def, "List of Integer", json!(1), "expected an array, found a number");
}

#[test]
fn nested_lists_of_structures() {
    let def = def();
    let person = |name: &str, age: i32, friends: Vec<Value>| {
        Value::Record(vec![
            ("Name".into(), Value::Text(name.into())),
            ("Age".into(), Value::Integer(age)),
            ("Friends".into(), Value::List(friends)),
        ])
    };
    let friend = |name: &str, since: NaiveDate| {
        Value::Record(vec![("Name".into(), Value::Text(name.into())), ("Since".into(), Value::Date(since))])
    };
    let input = json!([
        [{ "Name": "Ada", "Age": 37, "Friends": [{ "Name": "Bo", "Since": "2020-02-29" }] }],
        [],
        [{ "Name": "Cy" }, { "Friends": [{ "Since": "0001-01-01" }, { "Name": "Di", "Since": "9999-12-31" }] }]
    ]);
    let expected = Value::List(vec![
        Value::List(vec![person("Ada", 37, vec![friend("Bo", date(2020, 2, 29))])]),
        Value::List(vec![]),
        Value::List(vec![
            // Missing attributes take their defaults: the declared one (Age 18) or the type's.
            person("Cy", 18, vec![]),
            person("", 18, vec![friend("", date(1, 1, 1)), friend("Di", date(9999, 12, 31))]),
        ]),
    ]);
    let output = json!([
        [{ "Name": "Ada", "Age": 37, "Friends": [{ "Name": "Bo", "Since": "2020-02-29" }] }],
        [],
        [
            { "Name": "Cy", "Age": 18, "Friends": [] },
            { "Name": "", "Age": 18, "Friends": [{ "Name": "", "Since": "0001-01-01" }, { "Name": "Di", "Since": "9999-12-31" }] }
        ]
    ]);
    both_ways(&def, "List of List of Person", input, expected, output.clone());
    // Attributes are written in definition order, whatever the order of the input.
    let v = read(&def, "Person", &json!({ "Friends": [], "Age": 1, "Name": "Z" }));
    let keys: Vec<String> = value::to_json(&v).as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["Name", "Age", "Friends"]);

    // Errors name the place, deep down.
    let bad = json!([[], [{ "Name": "Ada", "Friends": [{ "Name": "Bo", "Since": "2023-02-29" }] }]]);
    let e = value::from_json(&def, &ty("List of List of Person"), &bad, "Groups", None).unwrap_err();
    assert_eq!(e.path, "Groups[1][0].Friends[0].Since");
    assert!(e.message.contains("\"2023-02-29\" is not a valid date"), "{e}");
    // A mandatory structure attribute that is missing or null.
    let bad = json!({ "Friends": [{ "Name": "Bo" }] });
    let e = value::from_json(&def, &ty("Person"), &bad, "Who", None).unwrap_err();
    assert_eq!((e.path.as_str(), e.message.as_str()), ("Who.Friends[0].Since", "attribute Since is mandatory"));
    let bad = json!({ "Friends": [{ "Since": null }] });
    let e = value::from_json(&def, &ty("Person"), &bad, "Who", None).unwrap_err();
    assert_eq!(e.path, "Who.Friends[0].Since");
    // The Text length of an attribute holds inside records.
    let e = value::from_json(&def, &ty("Person"), &json!({ "Name": "Bartholomew" }), "Who", None).unwrap_err();
    assert_eq!(e.path, "Who.Name");
    assert!(e.message.contains("longer than the length 10"), "{e}");
    // Unknown attributes are refused, naming them.
    let e = value::from_json(&def, &ty("Person"), &json!({ "Name": "A", "Nick": "a", "name": "b" }), "Who", None)
        .unwrap_err();
    assert_eq!(e.path, "Who");
    assert!(e.message.starts_with("unknown fields Nick, name; expected Name, Age, Friends"), "{e}");
    refused(&def, "Person", json!([]), "expected an object (Person), found an array");
}

#[test]
fn entity_records() {
    let def = def();
    // An auto-numbered identifier is not mandatory; the other attributes of an entity are.
    let v = read(&def, "Visit", &json!({ "Who": "Ada" }));
    assert_eq!(v, Value::Record(vec![("Id".into(), Value::LongInteger(0)), ("Who".into(), Value::Text("Ada".into()))]));
    assert_eq!(value::to_json(&v), json!({ "Id": 0, "Who": "Ada" }));
    let e = value::from_json(&def, &ty("Visit"), &json!({ "Id": 1 }), "V", None).unwrap_err();
    assert_eq!((e.path.as_str(), e.message.as_str()), ("V.Who", "attribute Who is mandatory"));
}

#[test]
fn defaults_of_every_type() {
    let def = def();
    for (type_text, json) in [
        ("Text", json!("")),
        ("Integer", json!(0)),
        ("Long Integer", json!(0)),
        ("Decimal", json!("0")),
        ("Boolean", json!(false)),
        ("Date", json!("1900-01-01")),
        ("Time", json!("00:00:00")),
        ("Date Time", json!("1900-01-01T00:00:00Z")),
        ("Binary Data", json!("")),
        ("List of Person", json!([])),
        ("Visit Identifier", json!(0)),
        ("Tag Identifier", json!("")),
        ("Person", json!({ "Name": "", "Age": 18, "Friends": [] })),
        ("Visit", json!({ "Id": 0, "Who": "" })),
    ] {
        assert_eq!(value::to_json(&value::default_of(&def, &ty(type_text))), json, "{type_text}");
    }
}

#[test]
fn inputs_take_defaults_and_name_what_is_wrong() {
    let def = def();
    let echo = def.action("Echo").unwrap();
    // Only the mandatory inputs: the others take their defaults (declared, or the type's).
    let values = value::inputs_from_json(&def, echo, &json!({ "Who": { "Name": "Ada" }, "Count": 3 })).unwrap();
    let out: Vec<Json> = values.iter().map(value::to_json).collect();
    assert_eq!(
        out,
        [
            json!({ "Name": "Ada", "Age": 18, "Friends": [] }),
            json!(3),
            json!(true),
            json!(""),
            json!("9.99"),
            json!(0),
            json!([]),
            json!("2024-05-01T06:30:00Z"),
        ]
    );
    // `null` for an optional input is the same as leaving it out.
    let with_nulls = json!({
        "Who": { "Name": "Ada" }, "Count": 3, "Polite": null, "Note": null, "Price": null, "Visit": null, "Groups": null, "When": null
    });
    assert_eq!(value::inputs_from_json(&def, echo, &with_nulls).unwrap(), values);
    // Given values win over defaults, and come back in the order of the definition.
    let all = json!({
        "When": "2024-01-01T00:00:00.250-01:00", "Groups": [[{ "Name": "Bo" }]], "Visit": "7", "Price": "0.10",
        "Note": "hi", "Polite": false, "Count": -1, "Who": { "Name": "Ada", "Age": 3 }
    });
    let out: Vec<Json> = value::inputs_from_json(&def, echo, &all).unwrap().iter().map(value::to_json).collect();
    assert_eq!(
        out,
        [
            json!({ "Name": "Ada", "Age": 3, "Friends": [] }),
            json!(-1),
            json!(false),
            json!("hi"),
            json!("0.10"),
            json!(7),
            json!([[{ "Name": "Bo", "Age": 18, "Friends": [] }]]),
            json!("2024-01-01T01:00:00.250Z"),
        ]
    );

    // A mandatory input that is null or missing is an error naming it.
    let e = value::inputs_from_json(&def, echo, &json!({ "Who": { "Name": "Ada" }, "Count": null })).unwrap_err();
    assert_eq!((e.path.as_str(), e.message.as_str()), ("Count", "input Count is mandatory"));
    let e = value::inputs_from_json(&def, echo, &json!({ "Count": 1 })).unwrap_err();
    assert_eq!((e.path.as_str(), e.message.as_str()), ("Who", "input Who is mandatory"));
    let e = value::inputs_from_json(&def, echo, &Json::Null).unwrap_err();
    assert_eq!(e.path, "Who", "no input at all is an empty object");
    // Unknown input fields are refused, naming them and what is expected.
    let e =
        value::inputs_from_json(&def, echo, &json!({ "Who": { "Name": "A" }, "Count": 1, "Bogus": 1 })).unwrap_err();
    assert_eq!(e.path, "Bogus");
    assert_eq!(e.message, "unknown field Bogus; expected Who, Count, Polite, Note, Price, Visit, Groups, When");
    let e = value::inputs_from_json(&def, echo, &json!({ "who": {}, "count": 1 })).unwrap_err();
    assert!(e.message.starts_with("unknown fields who, count;"), "input names are matched as defined: {e}");
    // A wrong value names the input.
    let e =
        value::inputs_from_json(&def, echo, &json!({ "Who": { "Name": "A" }, "Count": 1, "Price": 9.99 })).unwrap_err();
    assert_eq!(e.path, "Price");
    assert!(e.message.contains("a Decimal is written as a string, \"9.99\""), "{e}");
    // The input is an object of the inputs.
    let e = value::inputs_from_json(&def, echo, &json!([1, 2])).unwrap_err();
    assert_eq!(e.message, "the input of action Echo is a JSON object of its inputs, not an array");
}

#[test]
fn outputs_are_an_object_in_definition_order() {
    let def = def();
    let echo = def.action("Echo").unwrap();
    let outputs = vec![
        Value::Text("Hello, Ada".into()),
        dec("12.50"),
        date_time(2024, 5, 1, 6, 30, 0, 0),
        Value::Binary(vec![1, 2, 3]),
        Value::List(vec![Value::Record(vec![
            ("Name".into(), Value::Text("Ada".into())),
            ("Age".into(), Value::Integer(37)),
            ("Friends".into(), Value::List(vec![])),
        ])]),
    ];
    let json = value::outputs_to_json(echo, &outputs);
    assert_eq!(
        json,
        json!({
            "Message": "Hello, Ada",
            "Total": "12.50",
            "At": "2024-05-01T06:30:00Z",
            "Data": "AQID",
            "People": [{ "Name": "Ada", "Age": 37, "Friends": [] }],
        })
    );
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Message", "Total", "At", "Data", "People"]);
    // And they read back as the same values.
    for (f, v) in echo.outputs.iter().zip(&outputs) {
        let back = value::from_json(&def, f.parsed.as_ref().unwrap(), &json[&f.name.text], &f.name.text, Some(f));
        assert_eq!(back.as_ref(), Ok(v), "{}", f.name.text);
    }
}

#[test]
fn literals_of_defaults_follow_the_same_rules() {
    use xif_model::Literal;
    let ok = [
        (Type::Integer, Literal::Integer(-2147483648), json!(-2147483648)),
        (Type::LongInteger, Literal::Integer(i64::MAX), json!(i64::MAX)),
        (Type::Decimal, Literal::Float("12.50".into()), json!("12.50")),
        (Type::Decimal, Literal::Integer(7), json!("7")),
        (
            Type::Decimal,
            Literal::Text("0.0000000000000000000000000001".into()),
            json!("0.0000000000000000000000000001"),
        ),
        (Type::Date, Literal::Text("9999-12-31".into()), json!("9999-12-31")),
        (Type::Time, Literal::Text("23:59:59".into()), json!("23:59:59")),
        (Type::DateTime, Literal::Text("2024-05-01T08:30:00.5+02:00".into()), json!("2024-05-01T06:30:00.500Z")),
        (Type::Boolean, Literal::Boolean(true), json!(true)),
        (Type::Text, Literal::Text("x".into()), json!("x")),
    ];
    for (t, lit, json) in ok {
        assert_eq!(value::from_literal(&t, &lit).map(|v| value::to_json(&v)), Ok(json), "{t:?} {lit:?}");
    }
    for (t, lit, why) in [
        (Type::Integer, Literal::Integer(2147483648), "2147483648 is outside the Integer range"),
        (Type::Decimal, Literal::Float("1e3".into()), "is not a decimal number"),
        (Type::Time, Literal::Text("23:59:60".into()), "is not a valid time"),
        (Type::DateTime, Literal::Text("2016-12-31T23:59:60Z".into()), "leap second"),
        (Type::Boolean, Literal::Text("true".into()), "the text \"true\" is not of type Boolean"),
        (Type::Text, Literal::Other("an array".into()), "an array is not of type Text"),
    ] {
        let e = value::from_literal(&t, &lit).unwrap_err();
        assert!(e.contains(why), "{t:?} {lit:?}: {e}");
    }
}
