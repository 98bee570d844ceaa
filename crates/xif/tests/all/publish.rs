//! `xif publish` / `xif upload` / `xif call` / `xif versions` / `xif rollback` against a real
//! `xif serve`: the six steps in order, each failure stopping at its step, the unchanged fast
//! path, a missing permission named.
use std::time::{Duration, Instant};

use serde_json::json;

use crate::remote::*;
use crate::support::{compile, new_extension, run_code, run_ok, save, stderr, xif};

const STEPS: [&str; 6] = ["verify", "update_source", "compile", "save", "upload", "publish"];

fn publish_json(server: &Server, dir: &std::path::Path, code: i32) -> (Vec<serde_json::Value>, String) {
    let out = run_code(server.xif().args(["publish", "--json", "--path"]).arg(dir), code);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!text.contains('\x1b'), "no ANSI codes with --json: {text:?}");
    (json_lines(&out), stderr(&out))
}

fn versions(server: &Server, ext: &str) -> Vec<serde_json::Value> {
    let out = run_ok(server.xif().args(["versions", ext, "--json"]));
    crate::support::json(&out)["versions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn publish_runs_the_six_steps_then_the_unchanged_fast_path_makes_no_version() {
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let (_tmp, dir) = new_extension("PubOk");

    let (lines, _) = publish_json(&server, &dir, 0);
    let steps = step_events(&lines);
    let mut expected = Vec::new();
    for (i, s) in STEPS.iter().enumerate() {
        expected.push((s.to_string(), "started".to_string()));
        let end = if i == 1 { "unchanged" } else { "finished" };
        expected.push((s.to_string(), end.to_string()));
    }
    assert_eq!(steps, expected, "{lines:#?}");
    for v in lines.iter().filter(|v| v.get("step").is_some() && v["status"] != "started") {
        assert!(v["ms"].is_u64(), "every outcome has its duration: {v}");
    }
    // The server's stages stream inside Publish.
    let stages: Vec<&str> = lines
        .iter()
        .filter(|v| v["stage"].is_string() && v["status"] != "started")
        .map(|v| v["stage"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(stages, ["validate", "permissions", "compile", "contract", "entities", "activate"]);
    let s = summary(&lines);
    assert_eq!(
        (s["extension"].as_str(), s["version"].as_i64(), s["outcome"].as_str()),
        (Some("PubOk"), Some(1), Some("published"))
    );
    assert_eq!(s["digest"].as_str().map(str::len), Some(64), "{s}");
    assert_eq!(s["url"], json!(format!("{}/extensions/PubOk", server.url)));

    // The action answers on the server.
    let out = run_ok(server.xif().args(["call", "PubOk", "Greet", r#"{"Who": {"Name": "Ada"}}"#]));
    let outputs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the outputs as JSON");
    assert_eq!(outputs["Message"], "Hello, dear Ada!", "{outputs}");

    // Nothing changed: Upload and Publish say so, no new version.
    let (lines, _) = publish_json(&server, &dir, 0);
    let steps = step_events(&lines);
    assert!(steps.contains(&("upload".into(), "unchanged".into())), "{steps:?}");
    assert!(steps.contains(&("publish".into(), "unchanged".into())), "{steps:?}");
    assert!(steps.contains(&("compile".into(), "skipped".into())), "{steps:?}");
    assert_eq!(summary(&lines)["unchanged"], true);
    let list = versions(&server, "PubOk");
    assert_eq!(list.len(), 1, "no new version: {list:?}");

    // A one-line change makes version 2, active.
    let greet = dir.join("src/actions/greet.rs");
    let src = std::fs::read_to_string(&greet).unwrap().replace("dear {name}!\")", "dearest {name}!\")");
    std::fs::write(&greet, src).unwrap();
    let (lines, _) = publish_json(&server, &dir, 0);
    assert_eq!(summary(&lines)["version"], 2);
    let out = run_ok(server.xif().args(["call", "PubOk", "Greet", r#"{"Who": {"Name": "Ada"}}"#, "--json"]));
    assert_eq!(crate::support::json(&out)["outputs"]["Message"], "Hello, dearest Ada!");
    let list = versions(&server, "PubOk");
    assert_eq!(
        list.iter().map(|v| (v["version"].as_i64(), v["active"].as_bool())).collect::<Vec<_>>(),
        [(Some(1), Some(false)), (Some(2), Some(true))]
    );

    // Rollback re-activates version 1 without a new number.
    run_ok(server.xif().args(["rollback", "PubOk", "1"]));
    let list = versions(&server, "PubOk");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["active"], true);
}

#[test]
fn publish_stops_at_verify_with_file_line_col_and_uploads_nothing() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("PubBadDef");
    let def = dir.join("extension.toml");
    let text = std::fs::read_to_string(&def).unwrap().replace("Length = \"Integer\"", "Length = \"Intger\"");
    std::fs::write(&def, text).unwrap();

    let (lines, err) = publish_json(&server, &dir, 1);
    assert_eq!(step_events(&lines), [("verify".into(), "started".into()), ("verify".into(), "failed".into())]);
    let failed = &lines[1];
    let d = &failed["diagnostics"][0];
    assert_eq!((d["severity"].as_str(), d["file"].as_str()), (Some("error"), Some("extension.toml")), "{failed}");
    assert!(d["line"].as_u64().unwrap_or(0) > 0 && d["column"].as_u64().unwrap_or(0) > 0, "{d}");
    assert!(d["message"].as_str().unwrap_or("").contains("Intger"), "{d}");
    assert_eq!(summary(&lines)["failed"], "verify");
    assert!(err.contains("Verify failed") && err.contains("extension.toml:"), "{err}");
    assert!(server.extensions().is_empty(), "nothing uploaded");

    // Without --json the same, in words, with the line and column.
    let out = run_code(server.xif().args(["publish", "--path"]).arg(&dir), 1);
    let text = stderr(&out);
    assert!(text.contains("Intger") && text.contains("1 error"), "{text}");
    assert!(!text.contains("Upload ") || !text.contains("✔ Upload"), "{text}");
}

#[test]
fn publish_stops_at_compile_with_the_compiler_output() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("PubBadCode");
    let greet = dir.join("src/actions/greet.rs");
    let src = std::fs::read_to_string(&greet).unwrap() + "\nfn broken() -> u32 { \"not a number\" }\n";
    std::fs::write(&greet, src).unwrap();

    let (lines, err) = publish_json(&server, &dir, 1);
    let steps = step_events(&lines);
    assert_eq!(steps.last(), Some(&("compile".into(), "failed".into())), "{steps:?}");
    assert!(!steps.iter().any(|(s, _)| s == "save" || s == "upload"), "{steps:?}");
    let message = lines.iter().find(|v| v["status"] == "failed").and_then(|v| v["message"].as_str()).unwrap_or("");
    assert!(message.contains("mismatched types") && message.contains("greet.rs"), "the compiler's output: {message}");
    assert!(err.contains("Compile failed"), "{err}");
    assert!(server.extensions().is_empty(), "nothing uploaded");

    // In words: the compiler's output once, introduced once; the window names the extension,
    // not its folder.
    let folder = dir.with_file_name("some-folder");
    std::fs::rename(&dir, &folder).unwrap();
    let out = run_code(server.xif().args(["publish", "--path"]).arg(&folder), 1);
    let text = stderr(&out);
    assert!(text.starts_with(&format!("1-Click Publish of PubBadCode to {}", server.url)), "{text}");
    assert_eq!(text.matches("does not compile").count(), 1, "{text}");
    assert_eq!(text.matches("mismatched types").count(), 1, "{text}");
}

#[test]
fn a_missing_permission_is_named_at_upload_and_at_publish_and_nothing_changes() {
    let server = Server::start();
    let admin = server.admin_token();
    let body = r#"{"name": "dev", "password": "dev-password", "permissions": []}"#;
    let (status, v) = server.api("POST", "/api/v1/users", Some(&admin), body);
    assert_eq!(status, 201, "{v}");
    assert!(server.login("dev", "dev-password").status.success());
    let (_tmp, dir) = new_extension("PubPerm");

    // The server refuses the package at Upload (DESIGN.md: upload needs what publish needs).
    let (lines, err) = publish_json(&server, &dir, 1);
    let steps = step_events(&lines);
    assert_eq!(steps.last(), Some(&("upload".into(), "failed".into())), "{steps:?}");
    let message = lines.iter().find(|v| v["status"] == "failed").and_then(|v| v["message"].as_str()).unwrap_or("");
    assert!(message.contains(r#"missing permission "Allow Extensions""#), "{message}");
    assert!(err.contains(r#"missing permission "Allow Extensions""#), "{err}");
    assert!(server.extensions().is_empty(), "nothing uploaded");

    // An administrator uploads it (steps 1-5 answer the version): not published yet.
    let tok = admin.clone();
    let as_admin = |cmd: &mut std::process::Command| {
        cmd.env("XIF_SERVER", &server.url).env("XIF_TOKEN", &tok);
    };
    let mut upload = server.xif();
    upload.args(["upload", "--path"]).arg(&dir);
    as_admin(&mut upload);
    let out = run_ok(&mut upload);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "{}", stderr(&out));
    let list = versions(&server, "PubPerm");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["active"], false, "upload alone does not publish");

    // dev's publish finds the package on the server and is refused at Publish, by the server's
    // permissions stage, the permission named; nothing becomes active.
    let (lines, err) = publish_json(&server, &dir, 1);
    let steps = step_events(&lines);
    assert!(steps.contains(&("upload".into(), "unchanged".into())), "{steps:?}");
    assert_eq!(steps.last(), Some(&("publish".into(), "failed".into())), "{steps:?}");
    assert!(
        lines.iter().any(|v| v["stage"] == "permissions" && v["status"] == "failed"),
        "the server's permissions stage failed: {lines:#?}"
    );
    let message = lines.iter().rfind(|v| v["status"] == "failed").and_then(|v| v["message"].as_str()).unwrap_or("");
    assert!(message.contains(r#"missing permission "Allow Extensions""#), "{message}");
    assert!(err.contains("Publish failed") && err.contains(r#"missing permission "Allow Extensions""#), "{err}");
    assert_eq!(versions(&server, "PubPerm")[0]["active"], false, "nothing changed on the server");

    // The administrator publishes it.
    let mut publish = server.xif();
    publish.args(["publish", "--path"]).arg(&dir);
    as_admin(&mut publish);
    let out = run_ok(&mut publish);
    assert!(stderr(&out).contains("version 1"), "{}", stderr(&out));

    // dev's rollback of it is refused by the server before any stage runs, the permission named.
    let out = run_code(server.xif().args(["rollback", "PubPerm", "1"]), 1);
    let text = stderr(&out);
    assert!(text.contains(r#"missing permission "Allow Extensions""#), "{text}");
}

#[test]
fn publish_without_a_server_and_without_a_terminal_fails_at_once() {
    let server = Server::start();
    let (_tmp, dir) = new_extension("PubNoServer");
    let started = Instant::now();
    let out = run_code(server.xif().args(["publish", "--path"]).arg(&dir), 1);
    // It fails instead of waiting for an answer at a prompt no one sees (a generous bound).
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let text = stderr(&out);
    assert!(text.contains("not connected to any server") && text.contains("xif login URL"), "{text}");
    assert!(text.contains("XIF_SERVER") && text.contains("XIF_TOKEN"), "{text}");
    // --server naming an unknown one, same.
    let out = run_code(server.xif().args(["publish", "--server", "nowhere", "--path"]).arg(&dir), 1);
    assert!(stderr(&out).contains(r#"no server named "nowhere""#), "{}", stderr(&out));
}

#[test]
fn a_warning_never_stops_a_publish_and_is_in_the_summary_and_the_servers_publish_log() {
    let server = Server::start();
    let login = server.login("admin", ADMIN_PASSWORD);
    assert!(login.status.success(), "{}", stderr(&login));
    let (_tmp, dir) = new_extension("PubWarn");
    let def = dir.join("extension.toml");
    let text = std::fs::read_to_string(&def).unwrap().replacen(
        "description = \"Greets people and keeps a guest book.\"\n",
        "",
        1,
    );
    std::fs::write(&def, text).unwrap();
    let (lines, _) = publish_json(&server, &dir, 0);
    let s = summary(&lines);
    assert_eq!(s["outcome"], "published", "{s}");
    let warned = |list: &serde_json::Value| {
        list.as_array().is_some_and(|l| l.iter().any(|w| w.as_str().is_some_and(|w| w.contains("has no description"))))
    };
    assert!(warned(&s["warnings"]), "the summary lists the warning: {s}");
    let out = run_ok(server.xif().args(["publish", "--path"]).arg(&dir));
    assert!(stderr(&out).contains("has no description"), "the window lists it: {}", stderr(&out));
    let token = server.admin_token();
    let (status, log) = server.api("GET", "/api/v1/extensions/PubWarn/publishes", Some(&token), "");
    assert_eq!(status, 200, "{log}");
    assert!(log.as_array().is_some_and(|l| l.iter().any(|e| warned(&e["warnings"]))), "the publish log: {log}");
}

#[test]
fn an_entity_change_that_would_lose_data_is_refused_at_verify_against_the_active_version() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("PubSchema");
    publish_json(&server, &dir, 0);
    let out = run_ok(server.xif().args(["call", "PubSchema", "SignGuestBook", r#"{"Who": "Ada Lovelace"}"#]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("VisitId"), "{}", stderr(&out));

    // Narrow the guest book's Who from 200 to 5 characters: Verify refuses it, naming the attribute
    // at its place in the file, before anything is built or uploaded.
    let def = dir.join("extension.toml");
    let text = std::fs::read_to_string(&def).unwrap();
    assert!(text.contains("Who = { type = \"Text\", length = 200 }"), "the example's Visit entity: {text}");
    std::fs::write(&def, text.replace("length = 200", "length = 5")).unwrap();
    let (lines, err) = publish_json(&server, &dir, 1);
    assert_eq!(step_events(&lines), [("verify".into(), "started".into()), ("verify".into(), "failed".into())]);
    let d = lines[1]["diagnostics"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["code"] == "E100"))
        .unwrap_or_else(|| panic!("an E100 diagnostic: {}", lines[1]));
    assert_eq!(d["file"], "extension.toml", "{d}");
    assert!(d["line"].as_u64().unwrap_or(0) > 0 && d["column"].as_u64().unwrap_or(0) > 0, "{d}");
    assert!(d["message"].as_str().unwrap_or("").contains("Who"), "the attribute is named: {d}");
    assert!(err.contains("--force-schema"), "says how to override: {err}");
    assert_eq!(versions(&server, "PubSchema").len(), 1, "nothing uploaded");

    // With the explicit flag the change is published, and the record is still there.
    let (lines, _) = {
        let out = run_code(server.xif().args(["publish", "--json", "--force-schema", "--path"]).arg(&dir), 0);
        (json_lines(&out), stderr(&out))
    };
    assert_eq!(summary(&lines)["outcome"], "published", "{lines:#?}");
    let out = run_ok(server.xif().args(["call", "PubSchema", "GuestBook", "{}"]));
    let book: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the outputs as JSON");
    assert_eq!(book["Visits"][0]["Who"], "Ada Lovelace", "no stored value changed: {book}");
}

/// POSTs `body` (a package) to `path`; answers the status and the JSON body.
fn post_package(server: &Server, path: &str, token: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let (status, text) = server.request_bytes("POST", path, token, "application/octet-stream", body);
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

#[test]
fn an_action_still_a_stub_is_refused_at_verify_and_by_the_server_but_compiles_and_runs() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("PubStub");
    let toml = dir.join("extension.toml");
    let def = std::fs::read_to_string(&toml).unwrap()
        + "\n[actions.Farewell]\ninputs = { Who = \"Text\" }\noutputs = { Message = \"Text\" }\n";
    std::fs::write(&toml, def).unwrap();

    // A new action without code: publish stops at Verify (Update Source Code would only stub it).
    let (lines, err) = publish_json(&server, &dir, 1);
    let steps = step_events(&lines);
    assert_eq!(steps, vec![("verify".into(), "started".into()), ("verify".into(), "failed".into())], "{steps:?}");
    let failed = lines.iter().find(|v| v["status"] == "failed").unwrap();
    let codes: Vec<&str> =
        failed["diagnostics"].as_array().unwrap().iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["E060"], "{failed}");
    assert!(err.contains("action Farewell has no implementation (src/actions/farewell.rs is missing)"), "{err}");
    assert!(!dir.join("src/actions/farewell.rs").exists(), "a failed publish writes no stub");

    // The stub: update-source, verify (a warning), compile and run keep working on it.
    run_ok(xif().args(["update-source", "--path"]).arg(&dir));
    let stub = std::fs::read_to_string(dir.join("src/actions/farewell.rs")).unwrap();
    let line =
        stub.lines().position(|l| l.contains("ActionError::not_implemented(\"Farewell\")")).expect("the stub call") + 1;
    let out = run_ok(xif().args(["verify", "--path"]).arg(&dir));
    let text = stderr(&out);
    assert!(text.contains("W063") && text.contains("action Farewell is still the stub"), "{text}");
    assert!(text.contains(&format!("src/actions/farewell.rs:{line}:9")), "{text}");
    assert!(text.contains("0 errors, 1 warning"), "{text}");
    compile(&dir);
    let out = xif().args(["run", "Farewell", r#"{"Who": "Ada"}"#, "--path"]).arg(&dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(text.contains("Farewell is not implemented yet"), "{text}");

    // publish and upload refuse it at Verify, naming the action and where to write it.
    let (lines, err) = publish_json(&server, &dir, 1);
    let failed = lines.iter().find(|v| v["status"] == "failed").unwrap();
    assert_eq!(failed["step"], "verify", "{failed}");
    let d = &failed["diagnostics"][0];
    assert_eq!((d["code"].as_str(), d["file"].as_str()), (Some("E063"), Some("src/actions/farewell.rs")), "{d}");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(line as u64), Some(9)), "{d}");
    assert!(
        err.contains("action Farewell is still the stub") && err.contains("implement it in src/actions/farewell.rs"),
        "{err}"
    );
    let out = run_code(server.xif().args(["upload", "--path"]).arg(&dir), 1);
    assert!(stderr(&out).contains("E063"), "{}", stderr(&out));
    assert!(server.extensions().is_empty(), "nothing uploaded");

    // The package says so, and the server refuses it uploaded directly, naming it.
    let saved = save(&dir);
    let bytes = std::fs::read(saved["path"].as_str().unwrap()).unwrap();
    let package = xif_package::read(&bytes, &xif_package::Limits::default()).unwrap();
    assert_eq!(package.manifest.stubs, ["Farewell"]);
    let admin = server.admin_token();
    let (status, v) = post_package(&server, "/api/v1/extensions/PubStub/versions", &admin, &bytes);
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"], "stubbed_actions", "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("Farewell (src/actions/farewell.rs:{line}:9 calls ActionError::not_implemented)")),
        "{message}"
    );
    assert!(server.extensions().is_empty(), "nothing stored");

    // Implemented, it publishes and answers.
    std::fs::write(
        dir.join("src/actions/farewell.rs"),
        "use crate::types::*;\n\npub fn farewell(who: String) -> Result<FarewellOutput, ActionError> {\n    Ok(FarewellOutput { message: format!(\"Goodbye, {who}\") })\n}\n",
    )
    .unwrap();
    let (lines, _) = publish_json(&server, &dir, 0);
    assert_eq!(summary(&lines)["version"], 1, "{lines:?}");
    let (status, v) =
        server.api("POST", "/api/v1/extensions/PubStub/actions/Farewell", Some(&admin), r#"{"Who": "Ada"}"#);
    assert_eq!((status, &v["Message"]), (200, &serde_json::json!("Goodbye, Ada")), "{v}");
    // `xif call --json` on a refused call carries the API's error kind.
    let out = run_code(server.xif().args(["call", "PubStub", "Farewell", "{}", "--json"]), 1);
    let v = crate::support::json(&out);
    assert_eq!((v["ok"].as_bool(), v["status"].as_u64()), (Some(false), Some(400)), "{v}");
    assert!(v["error"].as_str().is_some_and(|k| !k.is_empty() && k != "http"), "{v}");
}

/// A change that breaks the active version's callers is refused at Verify and by the server's
/// publish, listing it with its place in extension.toml; `--allow-breaking` publishes it, and the
/// publish log keeps the list.
#[test]
fn a_breaking_change_is_refused_unless_allowed_and_the_log_keeps_the_diff() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("PubApi");
    publish_json(&server, &dir, 0);

    // Polite, which had a default, becomes mandatory: callers that leave it out would break.
    let toml = dir.join("extension.toml");
    let def = std::fs::read_to_string(&toml).unwrap();
    let old = r#"Polite = { type = "Boolean", default = true }"#;
    assert!(def.contains(old), "{def}");
    let def = def.replace(old, r#"Polite = "Boolean""#);
    std::fs::write(&toml, &def).unwrap();
    let line = def.lines().position(|l| l.contains(r#"Polite = "Boolean""#)).unwrap() + 1;
    let col = def.lines().nth(line - 1).unwrap().find("Polite").unwrap() + 1;
    let place = format!(
        "extension.toml:{line}:{col}: breaking: input Polite of action Greet is now mandatory; callers: calls without Polite are refused (400 bad_input)"
    );
    // Verify refuses it already, against the version active on the server: nothing is uploaded.
    let (lines, err) = publish_json(&server, &dir, 1);
    let failed = lines.iter().find(|v| v["step"] == "verify" && v["status"] == "failed").expect("Verify fails");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(message.contains("break what callers of version 1") && message.contains(&place), "{message}");
    assert!(err.contains("--allow-breaking") && err.contains(&place), "{err}");
    assert_eq!(versions(&server, "PubApi").len(), 1, "nothing was uploaded");

    // The server refuses it too when Verify is passed by: uploaded with consent, then published
    // without it.
    let out = run_ok(server.xif().args(["upload", "--allow-breaking", "--json", "--path"]).arg(&dir));
    assert_eq!(summary(&json_lines(&out))["version"], 2);
    let admin = server.admin_token();
    let (status, refused) = server.api("POST", "/api/v1/extensions/PubApi/versions/2/publish", Some(&admin), "");
    assert_eq!((status, refused["error"].as_str()), (400, Some("breaking_change")), "{refused}");
    let failed = refused["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|v| v["step"] == "callers" && v["status"] == "failed"))
        .cloned()
        .expect("the callers stage fails");
    let message = failed["message"].as_str().unwrap_or_default();
    assert!(message.contains("1 breaking of 1 change"), "{message}");
    assert!(message.contains(&place) && message.contains("--allow-breaking"), "{message}");
    let active: Vec<i64> = versions(&server, "PubApi")
        .iter()
        .filter(|v| v["active"] == true)
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(active, [1], "version 1 stays active");

    // With consent it is published, and the stage says what was allowed.
    let out = run_ok(server.xif().args(["publish", "--allow-breaking", "--json", "--path"]).arg(&dir));
    let lines = json_lines(&out);
    let stage = lines.iter().find(|v| v["stage"] == "callers" && v["status"] != "started").expect("the callers stage");
    assert_eq!(stage["status"], "finished", "{stage}");
    assert!(
        stage["message"]
            .as_str()
            .unwrap_or_default()
            .contains("1 change(s) for callers of version 1, 1 breaking (allowed)"),
        "{stage}"
    );
    assert_eq!(summary(&lines)["version"], 2);
    let admin = server.admin_token();
    let (status, log) = server.api("GET", "/api/v1/extensions/PubApi/publishes", Some(&admin), "");
    assert_eq!(status, 200, "{log}");
    let newest = &log[0];
    assert_eq!((newest["version"].as_i64(), newest["outcome"].as_str()), (Some(2), Some("published")), "{newest}");
    let kept = newest["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "callers" && s["status"] != "started")
        .expect("kept in the log");
    assert!(
        kept["message"].as_str().unwrap_or_default().contains("input Polite of action Greet is now mandatory"),
        "{kept}"
    );

    // A compatible change needs no consent.
    let def = def.replace("description = \"Builds a greeting for a person.\"", "description = \"Greets a person.\"");
    std::fs::write(&toml, &def).unwrap();
    let (lines, _) = publish_json(&server, &dir, 0);
    let stage = lines.iter().find(|v| v["stage"] == "callers" && v["status"] != "started").expect("the callers stage");
    assert!(
        stage["message"].as_str().unwrap_or_default().contains("1 compatible change(s) for callers of version 2"),
        "{stage}"
    );
}

/// `xif publish --gradual` starts a rollout beside the active version; `xif rollout` shows it,
/// moves it on (100 makes the new version active) and aborts it.
#[test]
fn a_gradual_publish_rolls_out_and_xif_rollout_moves_it_on_and_aborts() {
    let server = Server::start();
    assert!(server.login("admin", ADMIN_PASSWORD).status.success());
    let (_tmp, dir) = new_extension("PubRoll");
    publish_json(&server, &dir, 0);
    let greeting = dir.join("resources/greeting.txt");

    // A flag of --gradual without it, or a share out of range, is a usage error.
    run_code(server.xif().args(["publish", "--per-caller", "--path"]).arg(&dir), 2);
    run_code(server.xif().args(["publish", "--gradual", "100", "--path"]).arg(&dir), 2);

    std::fs::write(&greeting, "Hi").unwrap();
    let out = run_ok(server.xif().args(["publish", "--gradual", "20", "--json", "--path"]).arg(&dir));
    let lines = json_lines(&out);
    let s = summary(&lines);
    assert_eq!((s["version"].as_i64(), s["outcome"].as_str()), (Some(2), Some("rolling_out")), "{s}");
    let stage = lines.iter().find(|v| v["stage"] == "rollout" && v["status"] == "finished").expect("the rollout stage");
    assert!(stage["message"].as_str().is_some_and(|m| m.contains("20% of calls")), "{stage}");
    let listed: Vec<(i64, bool, Option<u64>)> = versions(&server, "PubRoll")
        .iter()
        .map(|v| (v["version"].as_i64().unwrap_or(0), v["active"] == true, v["rollout_percent"].as_u64()))
        .collect();
    assert_eq!(listed, [(1, true, None), (2, false, Some(20))]);
    let out = run_ok(server.xif().args(["versions", "PubRoll"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("20%"), "{}", String::from_utf8_lossy(&out.stdout));

    // Shown, for people and as JSON.
    let out = run_ok(server.xif().args(["rollout", "PubRoll"]));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("version 2 takes 20% of calls (per call), version 1 the rest"), "{text}");
    let out = run_ok(server.xif().args(["rollout", "PubRoll", "--json"]));
    let info = crate::support::json(&out);
    assert_eq!((info["version"].as_i64(), info["percent"].as_u64()), (Some(2), Some(20)), "{info}");

    // A bad share is a usage error; 60 moves it on; 100 makes version 2 active.
    run_code(server.xif().args(["rollout", "PubRoll", "150"]), 2);
    // `--if-version N` moves it only when version N is the one rolling out.
    let out = run_code(server.xif().args(["rollout", "PubRoll", "60", "--if-version", "1"]), 1);
    assert!(stderr(&out).contains("version 1 of PubRoll is not rolling out"), "{}", stderr(&out));
    let out = run_ok(server.xif().args(["rollout", "PubRoll", "60", "--if-version", "2"]));
    assert!(stderr(&out).contains("version 2 takes 60% of calls (was 20%)"), "{}", stderr(&out));
    let out = run_ok(server.xif().args(["rollout", "PubRoll", "100"]));
    assert!(stderr(&out).contains("Activated") && stderr(&out).contains("version 2 is active"), "{}", stderr(&out));
    let active: Vec<i64> = versions(&server, "PubRoll")
        .iter()
        .filter(|v| v["active"] == true)
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(active, [2]);

    // No rollout runs now: showing or moving one says how to start one.
    let out = run_code(server.xif().args(["rollout", "PubRoll"]), 1);
    assert!(stderr(&out).contains("--gradual"), "{}", stderr(&out));

    // Another one, aborted: version 2 stays active and takes every call.
    std::fs::write(&greeting, "Howdy").unwrap();
    run_ok(server.xif().args(["publish", "--gradual", "10", "--per-caller", "--no-guard", "--path"]).arg(&dir));
    let out = run_ok(server.xif().args(["rollout", "PubRoll", "--json"]));
    let info = crate::support::json(&out);
    assert_eq!((info["per_caller"].as_bool(), info["guard"].as_bool()), (Some(true), Some(false)), "{info}");
    run_code(server.xif().args(["rollout", "PubRoll", "abort", "--if-version", "2"]), 1);
    let out = run_ok(server.xif().args(["rollout", "PubRoll", "abort", "--if-version", "3"]));
    assert!(stderr(&out).contains("Aborted") && stderr(&out).contains("aborted by admin"), "{}", stderr(&out));
    let out = run_ok(server.xif().args(["call", "PubRoll", "Greet", r#"{"Who": {"Name": "Ada"}}"#, "--json"]));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Hi"), "{}", String::from_utf8_lossy(&out.stdout));
}
