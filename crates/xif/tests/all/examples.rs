//! Issue 17: the example extensions of `examples/` (made with `xif new`, compiled by
//! `cargo xtask fixtures`), each published to a real `xif serve` with `xif publish` and called over
//! HTTP, their answers checked against the crate they wrap run here natively: `Templates`
//! (minijinja) and `Csv` (csv, with rust_decimal for the sums).
//!
//! One test per example: each publishes its folder of `examples/` as it is (so that the prebuilt
//! component is fresh and nothing compiles), and two publishes of one folder at once would
//! write the same package file.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr as _;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::remote::{ADMIN_PASSWORD, Server, json_lines, summary};
use crate::support::{run_code, run_ok, stderr, workspace};

fn example(name: &str) -> PathBuf {
    workspace().join("examples").join(name)
}

/// A server with `name` published by `xif publish` (version 1, active), and an administrator's
/// token for the API.
fn published(name: &str) -> (Server, String) {
    let dir = example(name);
    assert!(
        dir.join(".xif/build/component.wasm").is_file(),
        "{name}: no component; build the examples first: `cargo xtask fixtures`"
    );
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let out = run_ok(server.xif().args(["publish", "--json", "--path"]).arg(&dir));
    let s = summary(&json_lines(&out));
    assert_eq!(
        (s["extension"].as_str(), s["version"].as_i64(), s["outcome"].as_str()),
        (Some(name), Some(1), Some("published")),
        "{s}"
    );
    let token = server.admin_token();
    (server, token)
}

/// Calls `action` over HTTP; answers the status and the JSON body.
fn call(server: &Server, token: &str, ext: &str, action: &str, inputs: &Value) -> (u16, Value) {
    server.api("POST", &format!("/api/v1/extensions/{ext}/actions/{action}"), Some(token), &inputs.to_string())
}

/// Calls `action`, asserting it answers 200; answers its outputs.
fn outputs(server: &Server, token: &str, ext: &str, action: &str, inputs: &Value) -> Value {
    let (status, body) = call(server, token, ext, action, inputs);
    assert_eq!(status, 200, "{ext}.{action} {inputs}: {body}");
    body
}

/// Calls `action`, asserting it fails as an action error (422 `action_failed`); answers the
/// message.
fn action_error(server: &Server, token: &str, ext: &str, action: &str, inputs: &Value) -> String {
    let (status, body) = call(server, token, ext, action, inputs);
    assert_eq!((status, body["error"].as_str()), (422, Some("action_failed")), "{ext}.{action} {inputs}: {body}");
    body["message"].as_str().unwrap_or_else(|| panic!("a message: {body}")).to_string()
}

// ----- Templates: minijinja -----

/// The environment the extension's `environment` (examples/Templates/src/lib.rs) makes (in debug
/// mode, as there: minijinja's default is debug mode in debug builds only).
fn jinja(
    templates: &[(&str, &str)],
    auto_escape: bool,
    strict: bool,
) -> Result<minijinja::Environment<'static>, minijinja::Error> {
    let mut env = minijinja::Environment::new();
    env.set_debug(true);
    let escape = if auto_escape { minijinja::AutoEscape::Html } else { minijinja::AutoEscape::None };
    env.set_auto_escape_callback(move |_| escape.clone());
    if strict {
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    }
    for (name, source) in templates {
        env.add_template_owned(name.to_string(), source.to_string())?;
    }
    Ok(env)
}

/// minijinja's rendering of `template` (named "template", as in the extension) beside `partials`.
fn jinja_render(
    template: &str,
    partials: &[(&str, &str)],
    context: minijinja::Value,
    auto_escape: bool,
    strict: bool,
) -> Result<String, minijinja::Error> {
    let mut all = partials.to_vec();
    all.push(("template", template));
    jinja(&all, auto_escape, strict)?.get_template("template")?.render(context)
}

/// A context of text values and JSON values, as Render's Variables give it.
fn context(text: &[(&str, &str)], json: &[(&str, Value)]) -> minijinja::Value {
    let mut map = BTreeMap::new();
    for (k, v) in text {
        map.insert(k.to_string(), minijinja::Value::from(*v));
    }
    for (k, v) in json {
        map.insert(k.to_string(), minijinja::Value::from(minijinja::value::Serde(v.clone())));
    }
    minijinja::Value::from(map)
}

#[test]
fn templates_example_renders_and_checks_as_minijinja_does() {
    let (server, token) = published("Templates");
    let render = |inputs: Value| outputs(&server, &token, "Templates", "Render", &inputs);

    // Text and JSON variables, a loop, filters and a condition.
    let template = "Dear {{ name|title }},\n{% for item in items %}{{ loop.index }}. {{ item.what }} × {{ item.n }}\n{% endfor %}{% if vip %}Thank you!{% else %}Bye.{% endif %}";
    let items = json!([{"what": "tea", "n": 2}, {"what": "scones", "n": 12}]);
    let got = render(json!({
        "Template": template,
        "Variables": [
            {"Name": "name", "Value": "ada lovelace"},
            {"Name": "items", "Value": items.to_string(), "IsJson": true},
            {"Name": "vip", "Value": "true", "IsJson": true},
        ],
    }));
    let native = jinja_render(
        template,
        &[],
        context(&[("name", "ada lovelace")], &[("items", items), ("vip", json!(true))]),
        false,
        false,
    )
    .expect("minijinja renders it");
    assert_eq!(native, "Dear Ada Lovelace,\n1. tea × 2\n2. scones × 12\nThank you!");
    assert_eq!(got["Output"], native, "{got}");
    assert_eq!(got["Length"], native.chars().count(), "Length counts characters: {got}");

    // AutoEscape escapes HTML in what {{ }} writes; without it the text goes as it is.
    let template = "<p>{{ who }}</p>";
    for auto_escape in [true, false] {
        let got = render(
            json!({"Template": template, "AutoEscape": auto_escape, "Variables": [{"Name": "who", "Value": "<b>Ada & Bob</b>"}]}),
        );
        let native =
            jinja_render(template, &[], context(&[("who", "<b>Ada & Bob</b>")], &[]), auto_escape, false).unwrap();
        assert_eq!(got["Output"], native, "AutoEscape {auto_escape}: {got}");
    }
    assert_eq!(jinja_render(template, &[], context(&[("who", "<b>")], &[]), true, false).unwrap(), "<p>&lt;b&gt;</p>");

    // Partials: extends, blocks, include and a macro import.
    let partials = [
        ("base", "<h1>{% block title %}Untitled{% endblock %}</h1>{% block body %}{% endblock %}"),
        ("footer", "-- {{ signature }}"),
        ("macros", "{% macro money(v) %}{{ \"%.2f\"|format(v) }} EUR{% endmacro %}"),
    ];
    let template = "{% extends \"base\" %}{% import \"macros\" as m %}{% block title %}Invoice {{ number }}{% endblock %}{% block body %}Total: {{ m.money(total) }}\n{% include \"footer\" %}{% endblock %}";
    let got = render(json!({
        "Template": template,
        "Partials": partials.iter().map(|(n, s)| json!({"Name": n, "Source": s})).collect::<Vec<_>>(),
        "Variables": [
            {"Name": "number", "Value": "42"},
            {"Name": "total", "Value": "1234.5", "IsJson": true},
            {"Name": "signature", "Value": "Xif"},
        ],
    }));
    let native = jinja_render(
        template,
        &partials,
        context(&[("number", "42"), ("signature", "Xif")], &[("total", json!(1234.5))]),
        false,
        false,
    )
    .unwrap();
    assert_eq!(native, "<h1>Invoice 42</h1>Total: 1234.50 EUR\n-- Xif");
    assert_eq!(got["Output"], native, "{got}");

    // An undefined variable: nothing by default, an error with Strict, minijinja's text.
    let template = "Hello {{ nobody }}!";
    assert_eq!(render(json!({"Template": template}))["Output"], "Hello !");
    let message = action_error(&server, &token, "Templates", "Render", &json!({"Template": template, "Strict": true}));
    let native = jinja_render(template, &[], context(&[], &[]), false, true).expect_err("strict fails");
    assert_eq!(message, native.to_string());
    assert_eq!(message, "undefined value: `nobody` is undefined (in template:1)");

    // A syntax error is an action error with minijinja's text, naming the template and line.
    let template = "line one\nline two {{ broken }\n";
    let message = action_error(&server, &token, "Templates", "Render", &json!({"Template": template}));
    let native = jinja_render(template, &[], context(&[], &[]), false, false).expect_err("a syntax error");
    assert_eq!(message, native.to_string());
    assert!(message.starts_with("syntax error:") && message.ends_with("(in template:2)"), "{message}");
    // A JSON variable that is no JSON names the variable.
    let message = action_error(
        &server,
        &token,
        "Templates",
        "Render",
        &json!({"Template": "{{ x }}", "Variables": [{"Name": "x", "Value": "[1,", "IsJson": true}]}),
    );
    assert!(message.starts_with("variable x: "), "{message}");

    // RenderJson: the context as one JSON object, nested values reachable.
    let template = "{{ user.name }} speaks {{ user.langs|join(\", \") }}; {{ user.langs|length }} in all, the first {{ user.langs[0]|upper }}{% if user.admin %} (admin){% endif %}.";
    let ctx = json!({"user": {"name": "Ada", "langs": ["en", "fr", "it"], "admin": true}});
    let got =
        outputs(&server, &token, "Templates", "RenderJson", &json!({"Template": template, "Context": ctx.to_string()}));
    let native =
        jinja_render(template, &[], minijinja::Value::from(minijinja::value::Serde(ctx)), false, false).unwrap();
    assert_eq!(native, "Ada speaks en, fr, it; 3 in all, the first EN (admin).");
    assert_eq!(got["Output"], native, "{got}");
    // The default context is {}.
    assert_eq!(outputs(&server, &token, "Templates", "RenderJson", &json!({"Template": "[{{ x }}]"}))["Output"], "[]");
    let message =
        action_error(&server, &token, "Templates", "RenderJson", &json!({"Template": "x", "Context": "[1, 2]"}));
    assert!(message.contains("must be a JSON object"), "{message}");

    // Check: each template's syntax error with its line, and what they use but nobody sets.
    let templates = [
        ("ok", "Hi {{ user.name }}, {% for o in orders %}{{ o.id }} {% endfor %}{% set n = 1 %}{{ n }}"),
        ("unclosed", "one\ntwo\n{% if x %}\nfour"),
        ("bad_expr", "{{ 1 + }}"),
        ("also_ok", "{{ total }} {{ user.email }}"),
    ];
    let got = outputs(
        &server,
        &token,
        "Templates",
        "Check",
        &json!({"Templates": templates.iter().map(|(n, s)| json!({"Name": n, "Source": s})).collect::<Vec<_>>()}),
    );
    let mut errors = Vec::new();
    let mut undeclared = BTreeSet::new();
    for (name, source) in templates {
        match jinja(&[(name, source)], false, false) {
            Err(e) => errors.push(json!({
                "Template": name,
                "Line": e.line().unwrap_or(0),
                "Kind": e.kind().to_string(),
                "Message": e.to_string(),
            })),
            Ok(env) => undeclared.extend(env.get_template(name).unwrap().undeclared_variables(true)),
        }
    }
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0]["Line"].as_u64(), errors[1]["Line"].as_u64()), (Some(3), Some(1)), "{errors:?}");
    assert_eq!(got["Valid"], false, "{got}");
    assert_eq!(got["Errors"], Value::from(errors), "{got}");
    assert_eq!(got["Undeclared"], json!(undeclared.into_iter().collect::<Vec<_>>()), "{got}");
    assert_eq!(got["Undeclared"], json!(["orders", "total", "user.email", "user.name"]), "{got}");
    let got =
        outputs(&server, &token, "Templates", "Check", &json!({"Templates": [{"Name": "fine", "Source": "{{ a }}"}]}));
    assert_eq!(got, json!({"Valid": true, "Errors": [], "Undeclared": ["a"]}));

    // Through the command line too: `xif call` prints the outputs, and the action's error.
    let out = run_ok(server.xif().args(["call", "Templates", "Render", r#"{"Template": "{{ 6 * 7 }}"}"#]));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the outputs as JSON");
    assert_eq!(printed, json!({"Output": "42", "Length": 2}));
    let out = run_code(server.xif().args(["call", "Templates", "Render", r#"{"Template": "{% if %}"}"#]), 1);
    let native = jinja_render("{% if %}", &[], context(&[], &[]), false, false).expect_err("a syntax error");
    assert!(stderr(&out).contains(&native.to_string()), "{}", stderr(&out));
}

// ----- Csv: the csv crate, and rust_decimal -----

/// The csv crate's reading of `text`: headers (when asked) and each record's line and fields.
fn csv_parse(text: &str, delimiter: u8, has_headers: bool, flexible: bool) -> Result<Value, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(has_headers)
        .flexible(flexible)
        .from_reader(text.as_bytes());
    let headers: Vec<String> =
        if has_headers { reader.headers()?.iter().map(String::from).collect() } else { Vec::new() };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        rows.push(json!({"Line": line_of(text, &record), "Fields": record.iter().collect::<Vec<_>>()}));
    }
    Ok(json!({"Headers": headers, "Count": rows.len(), "Rows": rows}))
}

/// The line a record starts on: one more than the line ends before the csv crate's byte offset
/// of it, that offset included (after a CRLF it is the `\n`; the crate's own `line()` is one
/// short there: checked below).
fn line_of(text: &str, record: &csv::StringRecord) -> usize {
    let at = record.position().expect("a position").byte() as usize;
    1 + text.as_bytes()[..text.len().min(at + 1)].iter().filter(|&&b| b == b'\n').count()
}

/// Summarize's answer computed here: the csv crate reads, rust_decimal adds.
fn csv_summarize(text: &str, column: &str) -> Value {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let index = reader.headers().unwrap().iter().position(|h| h == column).expect("the column");
    let values: Vec<Decimal> = reader
        .records()
        .map(|r| r.unwrap().get(index).unwrap_or("").trim().to_string())
        .filter(|f| !f.is_empty())
        .map(|f| Decimal::from_str(&f).unwrap())
        .collect();
    let sum: Decimal = values.iter().sum();
    let mean = (sum / Decimal::from(values.len())).round_dp(6).normalize();
    json!({
        "Count": values.len(),
        "Sum": sum.to_string(),
        "Mean": mean.to_string(),
        "Min": values.iter().min().unwrap().to_string(),
        "Max": values.iter().max().unwrap().to_string(),
    })
}

/// The csv crate's writing of `records`.
fn csv_write(headers: &[&str], records: &[Vec<&str>], delimiter: u8, quote_all: bool) -> Result<String, csv::Error> {
    let style = if quote_all { csv::QuoteStyle::Always } else { csv::QuoteStyle::Necessary };
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).quote_style(style).from_writer(Vec::new());
    if !headers.is_empty() {
        writer.write_record(headers)?;
    }
    for r in records {
        writer.write_record(r)?;
    }
    Ok(String::from_utf8(writer.into_inner().expect("flushes")).expect("UTF-8"))
}

#[test]
fn csv_example_parses_sums_and_writes_as_the_csv_crate_does() {
    let (server, token) = published("Csv");

    // Quoted fields with commas, doubled quotes and a line break; empty fields; CRLF lines.
    let text = "name,amount,note\r\nAda,12.50,\"likes, commas\"\r\nBob,,\r\n\"Cy \"\"the\"\" third\",-3.25,\"two\nlines\"\r\nDee, 100 ,\r\nÉmile,0.005,é\r\n";
    let got = outputs(&server, &token, "Csv", "Parse", &json!({"Text": text}));
    let native = csv_parse(text, b',', true, false).expect("csv reads it");
    assert_eq!(native["Count"], 5);
    assert_eq!(native["Rows"][2], json!({"Line": 4, "Fields": ["Cy \"the\" third", "-3.25", "two\nlines"]}));
    assert_eq!(native["Rows"][3]["Line"], 6, "the record after a quoted line break");
    assert_eq!(got, native);
    // The same text with LF line ends: the same lines; the csv crate's own line numbers are one
    // short with CRLF ends (which is why the extension counts them itself).
    let lf = text.replace("\r\n", "\n");
    let got_lf = outputs(&server, &token, "Csv", "Parse", &json!({"Text": lf}));
    assert_eq!(got_lf["Rows"], got["Rows"]);
    let crate_lines = |t: &str| -> Vec<u64> {
        csv::Reader::from_reader(t.as_bytes()).records().map(|r| r.unwrap().position().unwrap().line()).collect()
    };
    assert_eq!(crate_lines(&lf), [2, 3, 4, 6, 7]);
    assert_eq!(crate_lines(text), [1, 2, 3, 5, 6]);

    // Another delimiter, no header row.
    let text = "1;x\n2;\"a;b\"\n";
    let got = outputs(&server, &token, "Csv", "Parse", &json!({"Text": text, "Delimiter": ";", "HasHeaders": false}));
    let native = csv_parse(text, b';', false, false).unwrap();
    assert_eq!(native["Rows"][1]["Fields"], json!(["2", "a;b"]));
    assert_eq!(got, native);

    // A record with another number of fields: the csv crate's error, unless Flexible.
    let ragged = "a,b\n1,2\n3,4,5\n";
    let message = action_error(&server, &token, "Csv", "Parse", &json!({"Text": ragged}));
    let native = csv_parse(ragged, b',', true, false).expect_err("unequal lengths");
    assert_eq!(message, native.to_string());
    assert!(message.contains("line: 3") && message.contains("found record with 3 fields"), "{message}");
    let got = outputs(&server, &token, "Csv", "Parse", &json!({"Text": ragged, "Flexible": true}));
    assert_eq!(got, csv_parse(ragged, b',', true, true).unwrap());
    assert_eq!(got["Rows"][1]["Fields"], json!(["3", "4", "5"]));
    let message = action_error(&server, &token, "Csv", "Parse", &json!({"Text": "a", "Delimiter": ";;"}));
    assert_eq!(message, "Delimiter must be one ASCII character, not \";;\"");

    // Summarize: exact decimals, blanks apart, the mean to 6 places.
    let text = "name,amount\nAda,12.50\nBob,\nCy,-3.25\nDee, 100 \nEve,0.1\nFay,0.2\n";
    let got = outputs(&server, &token, "Csv", "Summarize", &json!({"Text": text, "Column": "amount"}));
    let mut native = csv_summarize(text, "amount");
    native["Blank"] = json!(1);
    assert_eq!(native["Sum"], "109.55", "0.1 + 0.2 is exact: {native}");
    assert_eq!(native["Mean"], "21.91");
    assert_eq!(got, native);
    let text = "n\n1\n1\n1.0\n";
    let got = outputs(&server, &token, "Csv", "Summarize", &json!({"Text": text, "Column": "n"}));
    assert_eq!((got["Sum"].as_str(), got["Mean"].as_str()), (Some("3.0"), Some("1")), "{got}");
    assert_eq!(got["Mean"], csv_summarize(text, "n")["Mean"]);
    // A field that is no number names its line; an unknown column lists the columns.
    let message = action_error(&server, &token, "Csv", "Summarize", &json!({"Text": "a,b\n1,2\nx,3\n", "Column": "a"}));
    assert!(message.starts_with("line 3: a is \"x\", not a number"), "{message}");
    let message = action_error(&server, &token, "Csv", "Summarize", &json!({"Text": "a,b\n1,2\n", "Column": "c"}));
    assert_eq!(message, r#"no column "c"; the columns are ["a", "b"]"#);

    // Write: quoting only where needed, or everywhere; what Parse reads back is what was written.
    let headers = ["name", "note"];
    let records = [vec!["Ada", "likes, commas"], vec!["Cy \"the\" third", "two\nlines"], vec!["", "plain"]];
    let rows: Vec<Value> = records.iter().map(|r| json!({"Fields": r})).collect();
    for quote_all in [false, true] {
        let got =
            outputs(&server, &token, "Csv", "Write", &json!({"Headers": headers, "Rows": rows, "QuoteAll": quote_all}));
        let native = csv_write(&headers, &records, b',', quote_all).unwrap();
        assert_eq!(got["Text"], native, "QuoteAll {quote_all}");
        let back = outputs(&server, &token, "Csv", "Parse", &json!({"Text": native}));
        assert_eq!(back["Headers"], json!(headers));
        let fields: Vec<Value> = back["Rows"].as_array().unwrap().iter().map(|r| r["Fields"].clone()).collect();
        assert_eq!(fields, records.iter().map(|r| json!(r)).collect::<Vec<_>>());
    }
    assert_eq!(
        csv_write(&headers, &records, b',', false).unwrap(),
        "name,note\nAda,\"likes, commas\"\n\"Cy \"\"the\"\" third\",\"two\nlines\"\n,plain\n"
    );
    let got =
        outputs(&server, &token, "Csv", "Write", &json!({"Rows": [{"Fields": ["1", "a\tb"]}], "Delimiter": "\t"}));
    assert_eq!(got["Text"], csv_write(&[], &[vec!["1", "a\tb"]], b'\t', false).unwrap());
    // Records of different lengths: the csv crate's error.
    let message =
        action_error(&server, &token, "Csv", "Write", &json!({"Rows": [{"Fields": ["1", "2"]}, {"Fields": ["3"]}]}));
    let native = csv_write(&[], &[vec!["1", "2"], vec!["3"]], b',', false).expect_err("unequal lengths");
    assert_eq!(message, native.to_string());

    // Through the command line: `xif call` prints the outputs.
    let out = run_ok(server.xif().args(["call", "Csv", "Summarize", r#"{"Text": "x\n2.5\n2.5\n", "Column": "x"}"#]));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the outputs as JSON");
    assert_eq!(printed, json!({"Count": 2, "Blank": 0, "Sum": "5.0", "Mean": "2.5", "Min": "2.5", "Max": "2.5"}));
}
