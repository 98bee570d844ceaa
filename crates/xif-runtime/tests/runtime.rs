//! The runtime against real components: the test extension `tests/extensions/RuntimeTest` (compiled by `cargo xtask fixtures`) and
//! hand-written WAT components.
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use xif_runtime::{
    CallContext, CallError, Extension, Limits, Loadable, LogLevel, LogLine, LogSource, Reset, ResetInEffect, Runtime,
    RuntimeError,
};

fn runtime(limits: Limits) -> Runtime {
    Runtime::new(limits).expect("runtime starts")
}

fn load(rt: &Runtime) -> Extension {
    let g = support::guest();
    rt.load(g.def.clone(), Loadable::Wasm(&g.component)).expect("the guest loads")
}

fn ctx() -> CallContext {
    CallContext::new("RuntimeTest", 7)
}

/// A context whose log lines are kept.
fn logged_ctx() -> (CallContext, Arc<Mutex<Vec<LogLine>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let ctx = ctx().with_log(move |l| sink.lock().expect("log lock").push(l));
    (ctx, lines)
}

#[tokio::test]
async fn computes_with_every_type() {
    let ext = load(&runtime(Limits::default()));
    let input = json!({
        "Who": { "Name": "Ada", "Age": 36 },
        "Count": "9007199254740993",
        "Price": "12.50",
        "Day": "2024-02-28",
        "At": "23:15:00",
        "When": "2024-05-01T10:30:00+02:00",
        "Data": "AQID",
        "Tags": ["b", "c", "a"],
    });
    let out = ext.call("Compute", &input, ctx()).await.expect("the call succeeds");
    assert_eq!(
        out.json,
        json!({
            "Greeting": "Good day, Ada (36)",
            "Total": "25.00",
            "NextDay": "2024-02-29",
            "Later": "00:15:00",
            "Moment": "2024-05-01T08:30:00.001Z",
            "Size": 3,
            "Doubled": 18014398509481986i64,
            "Sorted": ["a", "b", "c"],
            "People": [{ "Name": "Ada", "Age": 37 }, { "Name": "Nobody", "Age": 0 }],
            "WasPolite": true,
            "Reversed": "AwIB",
        })
    );
    // Defaults: a missing optional input, and a null one.
    let input = json!({
        "Who": { "Name": "Bo" }, "Count": 1, "Price": "0.1", "Day": "2023-12-31", "At": "00:00:00",
        "When": "2024-01-01T00:00:00Z", "Data": "", "Tags": [], "Polite": null,
    });
    let out = ext.call("Compute", &input, ctx()).await.expect("the call succeeds");
    assert_eq!(out.json["Greeting"], "Good day, Bo (0)");
    assert_eq!(out.json["NextDay"], "2024-01-01");
    assert_eq!(out.json["Total"], "0.2");
    let out = ext.call("noop", &serde_json::Value::Null, ctx()).await.expect("names match case-insensitively");
    assert_eq!(out.json, json!({}));
}

#[tokio::test]
async fn bad_input_names_the_input() {
    let ext = load(&runtime(Limits::default()));
    let good = json!({
        "Who": { "Name": "Ada" }, "Count": 1, "Price": "1", "Day": "2024-01-01", "At": "00:00:00",
        "When": "2024-01-01T00:00:00Z", "Data": "", "Tags": [],
    });
    let with = |key: &str, value: serde_json::Value| {
        let mut j = good.clone();
        j[key] = value;
        j
    };
    let cases = [
        (with("Count", serde_json::Value::Null), "Count", "mandatory"),
        (with("Price", json!(1.5)), "Price", "string"),
        (with("Day", json!("2024-02-30")), "Day", "not a valid date"),
        (with("Who", json!({ "Name": "Ada", "Age": "x" })), "Who.Age", "whole number"),
        (with("Bogus", json!(1)), "Bogus", "unknown field"),
    ];
    for (input, path, words) in cases {
        match ext.call("Compute", &input, ctx()).await {
            Err(CallError::BadInput(e)) => {
                assert_eq!(e.path, path, "{e}");
                assert!(e.message.contains(words), "{e}");
            }
            other => panic!("expected BadInput at {path}, got {other:?}"),
        }
    }
    match ext.call("Compute", &json!([1]), ctx()).await {
        Err(e @ CallError::BadInput(_)) => assert!(e.to_string().contains("JSON object"), "{e}"),
        other => panic!("expected BadInput, got {other:?}"),
    }
    match ext.call("Greet", &json!({}), ctx()).await {
        Err(CallError::UnknownAction { name, known }) => {
            assert_eq!(name, "Greet");
            assert!(known.contains(&"Compute".to_string()) && known.contains(&"Noop".to_string()));
        }
        other => panic!("expected UnknownAction, got {other:?}"),
    }
}

#[tokio::test]
async fn an_action_error_is_action_failed() {
    let ext = load(&runtime(Limits::default()));
    match ext.call("Fail", &json!({ "Message": "no such customer" }), ctx()).await {
        Err(CallError::ActionFailed { message }) => assert_eq!(message, "no such customer"),
        other => panic!("expected ActionFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_panic_is_a_trap_with_its_message() {
    let ext = load(&runtime(Limits::default()));
    let (ctx, lines) = logged_ctx();
    match ext.call("Crash", &json!({ "Message": "the sky fell" }), ctx).await {
        Err(e @ CallError::Trap { .. }) => {
            let text = e.to_string();
            let CallError::Trap { message, panic, location, backtrace } = e else { unreachable!() };
            assert_eq!(panic.as_deref(), Some("the sky fell"));
            let location = location.expect("a location");
            assert!(location.starts_with("src/actions/crash.rs:"), "{location}");
            assert!(message.contains("unreachable"), "{message}");
            let backtrace = backtrace.expect("a backtrace");
            assert!(backtrace.contains("crash"), "{backtrace}");
            assert_eq!(text, format!("the action panicked at {location}: the sky fell"));
        }
        other => panic!("expected Trap, got {other:?}"),
    }
    // The panic's lines went to the log too, as stderr.
    let lines = lines.lock().expect("log lock");
    assert!(lines.iter().any(|l| l.source == LogSource::Stderr && l.message == "the sky fell"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.message.trim().is_empty()), "no blank warn line: {lines:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_runaway_action_times_out_and_others_keep_answering() {
    let limit = Duration::from_millis(500);
    let ext = load(&runtime(Limits { call_time: limit, ..Limits::default() }));
    let spinning = ext.clone();
    let started = Instant::now();
    // On a single-threaded executor: the spinning call must yield for the others to run.
    let spin = tokio::spawn(async move { spinning.call("Spin", &json!({}), ctx()).await });
    tokio::task::yield_now().await;
    let mut answered = 0;
    while !spin.is_finished() {
        ext.call("Noop", &json!({}), ctx()).await.expect("noop answers");
        answered += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let result = spin.await.expect("the task ends");
    let took = started.elapsed();
    match result {
        Err(CallError::Timeout { limit: l }) => assert_eq!(l, limit),
        other => panic!("expected Timeout, got {other:?}"),
    }
    // Stopped at its limit, not before (how soon after it is a benchmark figure, docs/BENCHMARKS.md).
    assert!(took >= limit, "stopped after {took:?}, before its limit");
    // Other calls answered while it spun on the same single-threaded executor.
    assert!(answered >= 2, "only {answered} calls answered while the action spun");
    eprintln!("timeout after {took:?}; {answered} calls answered meanwhile");
}

#[tokio::test]
async fn a_dropped_call_frees_its_instance() {
    // One instance only: the next call can run only if the abandoned one gave its slot back.
    let ext = load(&runtime(Limits { max_instances: 1, ..Limits::default() }));
    let spinning = ext.clone();
    let spin = tokio::spawn(async move { spinning.call("Spin", &json!({}), ctx()).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    spin.abort();
    assert!(spin.await.is_err_and(|e| e.is_cancelled()));
    // Waits for the slot (up to a generous bound: a leaked slot would wait for ever).
    tokio::time::timeout(Duration::from_secs(10), ext.call("Noop", &json!({}), ctx()))
        .await
        .expect("the slot was given back")
        .expect("noop answers");
}

#[tokio::test]
async fn endless_allocation_is_out_of_memory() {
    let ext = load(&runtime(Limits { call_memory: 64 << 20, ..Limits::default() }));
    match ext.call("Hog", &json!({}), ctx()).await {
        Err(e @ CallError::OutOfMemory { .. }) => {
            assert_eq!(e.to_string(), "the action needed more memory than its limit of 64 MiB");
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
    // The runtime is fine afterwards.
    ext.call("Noop", &json!({}), ctx()).await.expect("noop answers");
}

#[tokio::test]
async fn host_log_resources_and_settings() {
    let ext = load(&runtime(Limits::default()));
    let (logging, lines) = logged_ctx();
    ext.call("Log", &json!({ "Message": "hello from the guest" }), logging).await.expect("log works");
    let lines = lines.lock().expect("log lock").clone();
    let host: Vec<(LogLevel, &str)> =
        lines.iter().filter(|l| l.source == LogSource::Host).map(|l| (l.level, l.message.as_str())).collect();
    assert_eq!(host, [(LogLevel::Info, "hello from the guest"), (LogLevel::Warn, "careful: hello from the guest")]);
    assert!(lines.iter().all(|l| l.extension == "RuntimeTest" && l.version == 7));

    let files = HashMap::from([("resources/words.txt".to_string(), b"alpha beta".to_vec())]);
    let with_files = ctx().with_resources(files);
    let out =
        ext.call("ReadResource", &json!({ "Path": "resources/words.txt" }), with_files.clone()).await.expect("reads");
    assert_eq!(out.json, json!({ "Found": true, "Content": "YWxwaGEgYmV0YQ==" }));
    let out = ext.call("ReadResource", &json!({ "Path": "nope.txt" }), with_files).await.expect("reads");
    assert_eq!(out.json, json!({ "Found": false, "Content": "" }));

    let ctx = ctx().with_settings(HashMap::from([("ApiKey".to_string(), "s3cret".to_string())]));
    let get = |name: &str| json!({ "Name": name });
    let out = ext.call("GetSetting", &get("ApiKey"), ctx.clone()).await.expect("reads");
    assert_eq!(out.json, json!({ "Found": true, "Value": "s3cret" }));
    let out = ext.call("GetSetting", &get("Greeting"), ctx.clone()).await.expect("reads");
    assert_eq!(out.json, json!({ "Found": true, "Value": "hello" }), "an unset setting reads as its default");
    let out = ext.call("GetSetting", &get("Unknown"), ctx).await.expect("reads");
    assert_eq!(out.json, json!({ "Found": false, "Value": "" }));
}

#[tokio::test]
async fn stdout_and_stderr_are_captured_and_logged() {
    let ext = load(&runtime(Limits::default()));
    let (ctx, lines) = logged_ctx();
    let out = ext.call("Print", &json!({ "Message": "line one\nline two" }), ctx).await.expect("prints");
    assert_eq!(out.stdout, "line one\nline two\n");
    assert_eq!(out.stderr, "to stderr: line one\nline two\n");
    let lines = lines.lock().expect("log lock");
    let got: Vec<(LogSource, LogLevel, &str)> = lines.iter().map(|l| (l.source, l.level, l.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (LogSource::Stdout, LogLevel::Info, "line one"),
            (LogSource::Stdout, LogLevel::Info, "line two"),
            (LogSource::Stderr, LogLevel::Warn, "to stderr: line one"),
            (LogSource::Stderr, LogLevel::Warn, "line two"),
        ]
    );
}

#[tokio::test]
async fn clocks_and_random_work() {
    let ext = load(&runtime(Limits::default()));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let a = ext.call("Now", &json!({}), ctx()).await.expect("reads the clock");
    let b = ext.call("Now", &json!({}), ctx()).await.expect("reads the clock");
    let seconds = a.json["Seconds"].as_i64().expect("a number");
    assert!((seconds - now as i64).abs() <= 5, "guest clock {seconds}, host {now}");
    assert_ne!(a.json["Random"], b.json["Random"], "each call has fresh random state");
}

#[tokio::test]
async fn an_invalid_output_is_bad_output() {
    let ext = load(&runtime(Limits::default()));
    match ext.call("BadDate", &json!({}), ctx()).await {
        Err(CallError::BadOutput { message }) => assert_eq!(message, "Day: the date 2024-13-01 does not exist"),
        other => panic!("expected BadOutput, got {other:?}"),
    }
}

/// A definition with one action and no outputs, for hand-written components.
fn tiny_def() -> Arc<xif_model::Definition> {
    let (def, diags) = xif_model::parse("[extension]\nname = \"Tiny\"\n\n[actions.Go]\n");
    assert!(diags.is_empty(), "{diags:?}");
    Arc::new(def.expect("parses"))
}

#[test]
fn an_ungranted_import_is_refused() {
    let rt = runtime(Limits::default());
    let wat = r#"(component (import "evil:x/y" (instance)))"#;
    match rt.load(tiny_def(), Loadable::Wasm(wat.as_bytes())) {
        Err(e @ RuntimeError::NotGranted { .. }) => {
            assert_eq!(e.to_string(), "component imports `evil:x/y` which is not granted");
        }
        other => panic!("expected NotGranted, got {other:?}"),
    }
    // A component that exports nothing does not implement the action.
    match rt.load(tiny_def(), Loadable::Wasm(b"(component)")) {
        Err(RuntimeError::Exports { message }) => {
            assert_eq!(message, "component does not export `xif:extension/actions@1.0.0`");
        }
        other => panic!("expected Exports, got {other:?}"),
    }
}

/// Loads the guest's component with a changed definition.
fn load_with(rt: &Runtime, edit: impl Fn(&str) -> String) -> Result<Extension, RuntimeError> {
    let g = support::guest();
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/extensions/RuntimeTest/extension.toml"
    ))
    .expect("reads extension.toml");
    let (def, diags) = xif_model::parse(&edit(&src));
    assert!(diags.is_empty(), "{diags:?}");
    rt.load(Arc::new(def.expect("parses")), Loadable::Wasm(&g.component))
}

#[test]
fn exports_must_match_the_definition() {
    let rt = runtime(Limits::default());
    let err = |r: Result<Extension, RuntimeError>| match r {
        Err(RuntimeError::Exports { message }) => message,
        other => panic!("expected Exports, got {other:?}"),
    };
    let missing = err(load_with(&rt, |s| format!("{s}\n[actions.Extra]\n")));
    assert_eq!(missing, "component does not export function `extra` in `xif:extension/actions@1.0.0` for action Extra");
    let extra = err(load_with(&rt, |s| s.replace("[actions.Noop]\n", "[actions.Noop2]\n")));
    assert_eq!(
        extra,
        "component exports function `noop` in `xif:extension/actions@1.0.0`, which is not an action of the definition"
    );
    let retyped =
        err(load_with(&rt, |s| s.replace("inputs = { Message = \"Text\" }", "inputs = { Message = \"Integer\" }")));
    assert!(retyped.starts_with("function `fail` of action Fail: parameter `message`: expected `s32`"), "{retyped}");
    let outputs = err(load_with(&rt, |s| s.replace("outputs = { Day = \"Date\" }", "outputs = { Day = \"Time\" }")));
    assert!(outputs.contains("output `day`: expected `time`"), "{outputs}");
    // And the guest's own definition passes `check` again.
    load(&rt).check().expect("the guest passes");
}

#[tokio::test]
async fn compiled_code_loads_and_runs() {
    let rt = runtime(Limits::default());
    let g = support::guest();
    let t = Instant::now();
    let native = rt.compile(&g.component).expect("compiles");
    let compile_time = t.elapsed();
    let t = Instant::now();
    let ext = rt.load(g.def.clone(), Loadable::Native(&native)).expect("loads native code");
    let load_time = t.elapsed();
    let out = ext.call("Fail", &json!({ "Message": "native" }), ctx()).await;
    assert!(matches!(out, Err(CallError::ActionFailed { message }) if message == "native"));
    eprintln!(
        "component {} bytes, native {} bytes: compile {compile_time:?}, load native {load_time:?}",
        g.component.len(),
        native.len()
    );

    // The hash is the same for the same configuration, and names it.
    let other = runtime(Limits::default());
    assert_eq!(rt.compatibility_hash(), other.compatibility_hash());
    assert_eq!(rt.compatibility_hash().len(), 16);
    assert!(other.load(g.def.clone(), Loadable::Native(&native)).is_ok());
    // Not native code: refused, not run.
    match rt.load(g.def.clone(), Loadable::Native(&g.component)) {
        Err(RuntimeError::Incompatible(_)) => {}
        other => panic!("expected Incompatible, got {other:?}"),
    }
    match rt.compile(b"not wasm") {
        Err(RuntimeError::Compile(_)) => {}
        other => panic!("expected Compile, got {other:?}"),
    }
}

#[test]
fn limits_are_checked() {
    for limits in [
        Limits { call_time: Duration::ZERO, ..Limits::default() },
        Limits { call_memory: 1000, ..Limits::default() },
        Limits { max_instances: 0, ..Limits::default() },
    ] {
        assert!(matches!(Runtime::new(limits), Err(RuntimeError::Limits(_))), "{limits:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_calls_at_once_share_the_pool() {
    // More concurrent calls than instances: the extra ones wait for a slot.
    let ext = load(&runtime(Limits { max_instances: 4, ..Limits::default() }));
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let ext = ext.clone();
            tokio::spawn(async move { ext.call("Fail", &json!({ "Message": format!("call {i}") }), ctx()).await })
        })
        .collect();
    for (i, c) in calls.into_iter().enumerate() {
        match c.await.expect("the task ends") {
            Err(CallError::ActionFailed { message }) => assert_eq!(message, format!("call {i}")),
            other => panic!("expected ActionFailed, got {other:?}"),
        }
    }
}

#[test]
fn types_are_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<Runtime>();
    shareable::<Extension>();
    shareable::<CallContext>();
}

/// Every call gets a fresh instance, whichever way the pool resets a slot (the written pages
/// found by PAGEMAP_SCAN, the low pages by memset, or all decommitted): with one instance slot (so each call reuses the
/// slot of the one before), what a call left in a static, on the heap and in a static buffer is
/// found by none of the calls after it — by value, and by scanning the whole linear memory.
#[tokio::test]
async fn a_call_finds_nothing_of_the_calls_before() {
    // Each way of resetting a slot: the default (PAGEMAP_SCAN where the kernel has it and no
    // swap is configured, else memset), memset forced, and decommit.
    for (reset, expected) in [
        (Reset::InPlace, None),
        (Reset::Memset, Some(ResetInEffect::Memset)),
        (Reset::Decommit, Some(ResetInEffect::Decommit)),
    ] {
        let rt = runtime(Limits { max_instances: 1, reset, ..Limits::default() });
        let in_effect = rt.reset_in_effect();
        if let Some(expected) = expected {
            assert_eq!(in_effect, expected, "{reset:?}");
        } else {
            assert_ne!(in_effect, ResetInEffect::Decommit, "the default resets in place");
            eprintln!("the default reset here: {}", in_effect.as_str());
        }
        let ext = load(&rt);
        let secret = "xif-isolation-7f3a9c5e";
        let probe: String = secret.chars().rev().collect();
        let first = ext.call("Remember", &json!({"Secret": secret, "Probe": probe}), ctx()).await.expect("call 1").json;
        assert_eq!((&first["Previous"], &first["Calls"]), (&json!(""), &json!(0)), "{reset:?}: {first}");
        // The scan sees what this call wrote: the static's string, the heap copy, the buffer, the
        // input, and the pattern searched for.
        assert!(
            first["Copies"].as_i64().is_some_and(|n| n >= 4),
            "{reset:?}: the scan finds the copies call 1 made: {first}"
        );
        for n in 2..=4 {
            let out =
                ext.call("Remember", &json!({"Secret": "", "Probe": probe}), ctx()).await.expect("a later call").json;
            assert_eq!(out["Previous"], "", "{reset:?}: call {n} sees no static of the calls before: {out}");
            assert_eq!(out["Calls"], 0, "{reset:?}: call {n} runs in a fresh instance: {out}");
            assert_eq!(out["Copies"], 1, "{reset:?}: call {n} finds only its own pattern in linear memory: {out}");
        }
    }
}

/// `?` converts any error into the action's error: the caller reads the error's own text.
#[tokio::test]
async fn question_mark_on_a_library_error_answers_its_text() {
    let ext = load(&runtime(Limits::default()));
    let out = ext.call("Parse", &json!({ "Text": " 42 " }), ctx()).await.expect("parses");
    assert_eq!(out.json, json!({ "Number": 42 }));
    match ext.call("Parse", &json!({ "Text": "forty-two" }), ctx()).await {
        Err(CallError::ActionFailed { message }) => {
            assert_eq!(message, "Text \"forty-two\": invalid digit found in string")
        }
        other => panic!("expected ActionFailed, got {other:?}"),
    }
    match ext.call("Parse", &json!({ "Text": "" }), ctx()).await {
        Err(CallError::ActionFailed { message }) => assert_eq!(message, "No such file or directory (os error 44)"),
        other => panic!("expected ActionFailed, got {other:?}"),
    }
    match ext.call("Parse", &json!({ "Text": "-" }), ctx()).await {
        Err(CallError::ActionFailed { message }) => assert_eq!(message, "a lone minus is no number"),
        other => panic!("expected ActionFailed, got {other:?}"),
    }
}
