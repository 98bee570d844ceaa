//! `xif run` on the AllTypes test extension: every type crosses the boundary both ways, with
//! boundary values; failures come back as clean errors.
use std::io::Write as _;
use std::process::Stdio;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

fn all_types() -> std::path::PathBuf {
    workspace().join("tests/extensions/AllTypes")
}

/// Runs an action of AllTypes with `input` on stdin; returns the JSON line and the output.
fn run_action(action: &str, input: &Value) -> (Value, std::process::Output) {
    let mut child = xif()
        .args(["run", action, "-", "--json", "--path"])
        .arg(all_types())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn xif run");
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write input");
    let out = child.wait_with_output().expect("wait");
    (json(&out), out)
}

fn compute(input: Value) -> Value {
    let (j, out) = run_action("Compute", &input);
    assert!(out.status.success(), "{}\n{j}", stderr(&out));
    assert_eq!(j["ok"], true, "{j}");
    j["outputs"].clone()
}

#[test]
fn every_type_at_its_upper_bounds() {
    let o = compute(json!({
        "Words": "héllo wörld ✓ 日本", "Int": -2147483648, "Long": 9223372036854775807i64,
        "Dec": "79228162514264337593543950335", "Flag": false, "Day": "9999-12-31", "At": "23:59:59",
        "When": "9999-12-31T23:59:59.999Z", "Data": ""
    }));
    assert_eq!(o["Upper"], "HÉLLO WÖRLD ✓ 日本");
    assert_eq!(o["Chars"], 16);
    assert_eq!(o["IntNegated"], 2147483648i64);
    assert_eq!(o["LongHalf"], 4611686018427387903i64);
    assert_eq!(o["DecNegated"], "-79228162514264337593543950335");
    assert_eq!(o["DecScale"], 0);
    assert_eq!(o["NotFlag"], true);
    assert_eq!(o["DayOfYear"], 365);
    assert_eq!(o["Seconds"], 86399);
    assert_eq!(o["WhenMillis"], 253402300799999i64);
    assert_eq!(o["WhenSame"], "9999-12-31T23:59:59.999Z");
    assert_eq!(o["DataLen"], 0);
    assert_eq!(o["DataReversed"], "");
    assert_eq!(o["Total"], "0");
    assert_eq!(o["BasketsOut"], json!([]));
    assert_eq!(o["NestedSums"], json!([]));
}

#[test]
fn every_type_at_its_lower_bounds_with_a_megabyte_and_nested_lists() {
    let data: Vec<u8> = (0..1_048_576u32).map(|i| (i % 256) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD;
    let o = compute(json!({
        "Words": "", "Int": 2147483647, "Long": "-9223372036854775808",
        "Dec": "0.0000000000000000000000000001", "Flag": true, "Day": "0001-01-01", "At": "00:00:00",
        "When": "0001-01-01T00:00:00Z", "Data": b64.encode(&data),
        "Baskets": [
            {"Owner": "Ann", "Items": [{"Name": "apple", "Price": "1.10", "Tags": ["z", "a"]}, {"Name": "pear", "Price": "2.25"}]},
            {"Owner": "Bob", "Items": []}
        ],
        "Nested": [[1, 2, 3], [], [2147483647, 2147483647]]
    }));
    assert_eq!(o["Upper"], "");
    assert_eq!(o["Chars"], 0);
    assert_eq!(o["IntNegated"], -2147483647);
    assert_eq!(o["LongHalf"], -4611686018427387904i64);
    assert_eq!(o["DecNegated"], "-0.0000000000000000000000000001");
    assert_eq!(o["DecScale"], 28);
    assert_eq!(o["NotFlag"], false);
    assert_eq!(o["DayOfYear"], 1);
    assert_eq!(o["Seconds"], 0);
    assert_eq!(o["WhenMillis"], -62135596800000i64);
    assert_eq!(o["WhenSame"], "0001-01-01T00:00:00Z");
    assert_eq!(o["DataLen"], 1_048_576);
    assert_eq!(o["DataSum"], 133_693_440);
    let mut reversed = data.clone();
    reversed.reverse();
    assert_eq!(o["DataReversed"], b64.encode(&reversed));
    assert_eq!(o["Total"], "3.35");
    assert_eq!(
        o["BasketsOut"],
        json!([
            {"Owner": "nnA", "Items": [{"Name": "APPLE", "Price": "1.10", "Tags": ["a", "z"]}, {"Name": "PEAR", "Price": "2.25", "Tags": []}]},
            {"Owner": "boB", "Items": []}
        ])
    );
    assert_eq!(o["NestedSums"], json!([6, 0, 4294967294i64]));
}

#[test]
fn date_time_offsets_convert_to_utc_and_leap_days_count() {
    let o = compute(json!({
        "Words": "x", "Int": 0, "Long": 0, "Dec": "12.50", "Flag": true, "Day": "2024-12-31", "At": "01:02:03",
        "When": "2024-02-29T23:30:00.5-02:00", "Data": "AAEC"
    }));
    assert_eq!(o["WhenSame"], "2024-03-01T01:30:00.500Z");
    assert_eq!(o["DayOfYear"], 366);
    assert_eq!(o["Seconds"], 3723);
    assert_eq!(o["DecNegated"], "-12.50");
    assert_eq!(o["DecScale"], 2);
    assert_eq!(o["DataSum"], 3);
    assert_eq!(o["DataReversed"], "AgEA");
}

#[test]
fn bad_input_names_the_parameter() {
    let base = json!({"Words": "x", "Int": 0, "Long": 0, "Dec": "1", "Flag": true, "Day": "2024-01-01", "At": "00:00:00", "When": "2024-01-01T00:00:00Z", "Data": ""});
    for (patch, needle) in [
        (json!({"Dec": 12.5}), "Dec"),
        (json!({"Int": 2147483648i64}), "Int"),
        (json!({"Day": "2023-02-29"}), "Day"),
        (json!({"Extra": 1}), "Extra"),
        (json!({"Words": null}), "Words"),
    ] {
        let mut input = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        let (j, out) = run_action("Compute", &input);
        assert_eq!(out.status.code(), Some(1), "{j}");
        assert_eq!(j["error"], "bad_input", "{j}");
        assert!(j["message"].as_str().unwrap().contains(needle), "{needle}: {j}");
    }
}

#[test]
fn action_errors_and_panics_are_clean_failures() {
    let (j, out) = run_action("Fail", &json!({"Message": "no such customer"}));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(j["error"], "action_failed");
    assert_eq!(j["message"], "no such customer");
    let (j, out) = run_action("Panic", &json!({"Message": "the sky fell"}));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(j["error"], "trap", "{j}");
    assert!(j["message"].as_str().unwrap().contains("the sky fell"), "{j}");
    let (j, _) = run_action("Nope", &json!({}));
    assert_eq!(j["error"], "unknown_action");
}

#[test]
fn the_example_greets_with_its_resource() {
    let (_tmp, dir) = new_extension("Hello");
    std::fs::write(dir.join("resources/greeting.txt"), "Bonjour\n").unwrap();
    let out = run_ok(xif().args(["run", "Greet", r#"{"Who": {"Name": "Ada", "Age": 36}}"#, "--path"]).arg(&dir));
    let o: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(o["Message"], "Bonjour, dear Ada! 36 years young.");
    assert_eq!(o["Length"], 34);
    assert!(stderr(&out).contains("greeted Ada"), "{}", stderr(&out));
}

/// `xif new --minimal`: one action and nothing else to delete; it verifies, builds and answers.
#[test]
fn the_minimal_template_has_one_action_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(xif().args(["new", "Markdown", "--minimal", "--path"]).arg(tmp.path()));
    assert!(stderr(&out).contains("xif run Hello"), "{}", stderr(&out));
    let dir = tmp.path().join("Markdown");
    let def = std::fs::read_to_string(dir.join("extension.toml")).unwrap();
    assert_eq!(def.matches("[actions.").count(), 1, "{def}");
    for absent in ["[structures.", "[entities.", "[resources]", "guest book", "Greet"] {
        assert!(!def.contains(absent), "{absent} in {def}");
    }
    assert!(def.contains("description = \"Say here, in one sentence, what Markdown does.\""), "{def}");
    let mut actions: Vec<String> = std::fs::read_dir(dir.join("src/actions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    actions.sort();
    assert_eq!(actions, ["hello.rs", "mod.rs"]);
    assert!(!dir.join("resources").exists(), "no resource folder");
    // Bad JSON: the help names the action's own inputs and the ways round the shell's quoting.
    let out = run_code(xif().args(["run", "Hello", r#"{"Who": Ada}"#, "--path"]).arg(&dir), 2);
    let text = stderr(&out);
    assert!(text.contains("the input is not valid JSON"), "{text}");
    assert!(
        text.contains(r#"pass the inputs of Hello as a JSON object, '{"Who": …}'"#) && text.contains("(@FILE)"),
        "{text}"
    );
    // Verify reminds of the placeholder description (a warning: it still runs).
    let out = run_ok(xif().arg("verify").arg("--path").arg(&dir));
    assert!(stderr(&out).contains("W092") && stderr(&out).contains("0 errors, 1 warning"), "{}", stderr(&out));
    let out = run_ok(xif().args(["run", "Hello", r#"{"Who": "Ada"}"#, "--path"]).arg(&dir));
    let o: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(o, serde_json::json!({"Message": "Hello, Ada!"}));
    // The full example's definition says what to write in its description, too.
    let (_tmp, full) = new_extension("Full");
    let def = std::fs::read_to_string(full.join("extension.toml")).unwrap();
    assert!(def.contains("# Say in one sentence what Full does"), "{def}");
}
