//! Upload, publish, versions, rollback, permissions, the contract, the publish log.
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    Engine, Fixture, TestServer, config, engine, server_test, server_test_changed, server_test_changed_definition,
};

fn message(body: &Value) -> String {
    body["message"].as_str().unwrap_or_default().to_string()
}

/// The example extension (`xif new Greetings`): it exports the entity Visit (its guest book).
fn greetings_with_entities() -> Vec<u8> {
    Fixture::load("Greetings").package()
}

/// An extension without entities, named Greetings (ServerTest's code; the name is not part of
/// the component's contract).
fn greetings_without_entities() -> Vec<u8> {
    let mut f = Fixture::load("ServerTest").with_resource("resources/version.txt", "plain\n");
    f.definition = f.definition.replace("name = \"ServerTest\"", "name = \"Greetings\"");
    f.package()
}

#[tokio::test]
async fn upload_publish_call_the_example() {
    let s = TestServer::start().await;
    let package = Fixture::load("Greetings").package();
    let (status, up) = s.upload(&s.admin, "Greetings", &package).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["version"], 1);
    assert_eq!(up["created"], true);
    assert_eq!(up["digest"].as_str().map(str::len), Some(64));

    // Before publishing, there is nothing to call.
    let (status, body, _) = s.call(&s.admin, "Greetings", "Greet", json!({"Who": {"Name": "Ada"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("no published version"), "{body}");

    let (status, published) = s.publish(&s.admin, "Greetings", 1).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["summary"]["outcome"], "published");
    assert_eq!(published["summary"]["version"], 1);
    let steps: Vec<(&str, &str)> = published["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|e| e["status"] != "started")
        .map(|e| (e["step"].as_str().unwrap_or_default(), e["status"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        steps,
        [
            ("validate", "finished"),
            ("permissions", "finished"),
            ("compile", "finished"),
            ("contract", "finished"),
            ("entities", "finished"),
            ("activate", "finished")
        ]
    );

    // Any authenticated user may call.
    let caller = s.user("caller", &[]).await;
    let (status, out, version) =
        s.call(&caller, "Greetings", "Greet", json!({"Who": {"Name": "Ada", "Age": 36}})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(out, json!({"Message": "Hello, dear Ada! 36 years young.", "Length": 32}));
    assert_eq!(version, Some(1));

    // The same package again answers the same version.
    let (status, again) = s.upload(&s.admin, "Greetings", &package).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["version"], 1);
    assert_eq!(again["created"], false);

    let (_, list) = s.get(Some(&caller), "/api/v1/extensions").await;
    assert_eq!(list[0]["name"], "Greetings");
    assert_eq!(list[0]["active_version"], 1);
    assert_eq!(list[0]["versions"], 1);
    let (_, detail) = s.get(Some(&caller), "/api/v1/extensions/Greetings").await;
    assert_eq!(detail["actions"][0]["name"], "Greet");
    assert_eq!(detail["actions"][0]["inputs"][0], json!({"name": "Who", "type": "Person", "mandatory": true}));
    assert_eq!(detail["serving"], true);

    // Publishing again reuses the native code.
    let (_, published) = s.publish(&s.admin, "Greetings", 1).await;
    let compile = published["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|e| e["step"] == "compile" && e["status"] != "started")
        .cloned();
    assert_eq!(compile.map(|c| c["status"].clone()), Some(json!("unchanged")));
}

#[tokio::test]
async fn versions_replace_roll_back_and_survive_a_restart() {
    let s = TestServer::start().await;
    let v1 = server_test("1");
    assert_eq!(s.deploy("ServerTest", &v1).await, 1);
    let (_, out, _) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(out["Version"], "1");

    assert_eq!(s.deploy("ServerTest", &server_test("2")).await, 2);
    let (_, out, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!((out["Version"].as_str(), version), (Some("2"), Some(2)), "the second version replaced the first");

    let (status, rolled) =
        s.post(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/1/rollback", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["summary"]["kind"], "rollback");
    let (_, out, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!((out["Version"].as_str(), version), (Some("1"), Some(1)));

    // No new number for a rollback; the log says what happened.
    let (_, versions) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/versions").await;
    let numbers: Vec<(i64, bool)> = versions
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| (v["version"].as_i64().unwrap_or(0), v["active"].as_bool().unwrap_or(false)))
        .collect();
    assert_eq!(numbers, [(1, true), (2, false)]);
    let (_, log) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/publishes").await;
    let kinds: Vec<(&str, i64, &str)> = log
        .as_array()
        .expect("log")
        .iter()
        .map(|e| {
            (e["kind"].as_str().unwrap_or(""), e["version"].as_i64().unwrap_or(0), e["outcome"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(kinds, [("rollback", 1, "published"), ("publish", 2, "published"), ("publish", 1, "published")]);
    assert_eq!(log[0]["user"], "admin");
    assert!(log[0]["stages"].as_array().is_some_and(|s| s.len() >= 6), "{log}");

    // Download gives the bytes uploaded.
    let resp = s
        .client
        .get(s.url("/api/v1/extensions/ServerTest/versions/2/package"))
        .bearer_auth(&s.admin)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.expect("bytes").to_vec(), server_test("2"));

    // After a restart, version 1 is still the active one.
    let s = s.restart().await;
    let (status, out, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!((out["Version"].as_str(), version), (Some("1"), Some(1)));

    // The active version cannot be deleted; another can, and its number is never reused.
    let (status, body) = s.delete(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/1").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message(&body).contains("active"), "{body}");
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/2").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, up) = s.upload(&s.admin, "ServerTest", &server_test("3")).await;
    assert_eq!(up["version"], 3);

    // Deleting the extension stops it.
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/extensions/ServerTest").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let packages = std::fs::read_dir(s.dir.path().join("packages")).expect("packages").count();
    assert_eq!(packages, 0, "the package files are gone");
}

#[tokio::test]
async fn refusals_name_each_missing_permission() {
    let s = TestServer::start().await;
    let plain = greetings_without_entities();
    let entities = greetings_with_entities();
    let nobody = s.user("nobody", &[]).await;
    let ext = s.user("ext", &["Allow Extensions"]).await;
    let both = s.user("both", &["Allow Extensions", "Allow Foreign Entities"]).await;
    let cda = s.user("deployer", &["Change & Deploy Applications"]).await;

    // Upload needs what publish needs.
    let (status, body) = s.upload(&nobody, "Greetings", &plain).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).starts_with("missing permission \"Allow Extensions\""), "{body}");
    let (status, body) = s.upload(&ext, "Greetings", &entities).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        message(&body),
        "missing permission \"Allow Foreign Entities\": extension Greetings exports entities (Visit)"
    );
    let (_, list) = s.get(Some(&s.admin), "/api/v1/extensions").await;
    assert_eq!(list, json!([]), "nothing stored on a refusal");

    // Allowed: a plain extension with "Allow Extensions"; entities with both.
    let (status, up) = s.upload(&ext, "Greetings", &plain).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let (status, body) = s.publish(&ext, "Greetings", 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, up) = s.upload(&both, "Greetings", &entities).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    assert_eq!(up["version"], 2);

    // Publishing version 2 (entities) is refused to those who lack a permission, naming it.
    let (status, body) = s.publish(&ext, "Greetings", 2).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        message(&body),
        "missing permission \"Allow Foreign Entities\": extension Greetings exports entities (Visit)"
    );
    // Refused before anything else (hostile_publish.rs): a plain 403, no stages run.
    assert_eq!(body["steps"], Value::Null, "{body}");
    let (status, body) = s.publish(&nobody, "Greetings", 2).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let m = message(&body);
    assert!(m.contains("missing permission \"Allow Extensions\""), "{m}");
    assert!(
        m.contains("missing permission \"Allow Foreign Entities\": extension Greetings exports entities (Visit)"),
        "{m}"
    );
    // Nothing changed: version 1 still answers.
    let (_, out, version) = s.call(&nobody, "Greetings", "Which", json!({})).await;
    assert_eq!((out["Version"].as_str(), version), (Some("plain"), Some(1)));
    // Refusals write no publish-log row: the log holds version 1's publish only.
    let (_, log) = s.get(Some(&s.admin), "/api/v1/extensions/Greetings/publishes").await;
    assert_eq!(log.as_array().map(Vec::len), Some(1), "{log}");
    assert_eq!((log[0]["outcome"].as_str(), log[0]["user"].as_str()), (Some("published"), Some("ext")));

    // "Change & Deploy Applications" alone allows everything (here version 2 replaces every
    // action of version 1, which needs consent too).
    let (status, body) = s.publish(&cda, "Greetings", 2).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("breaking_change")), "{body}");
    let (status, body) = s.publish_allowing_breaking(&cda, "Greetings", 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entities_step = body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|e| e["step"] == "entities" && e["status"] != "started")
        .cloned()
        .unwrap_or_default();
    assert!(entities_step["message"].as_str().unwrap_or_default().contains("Visit"), "{entities_step}");

    // Deleting needs the same.
    let (status, body) = s.delete(Some(&ext), "/api/v1/extensions/Greetings").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message(&body).contains("Allow Foreign Entities"), "{body}");
}

#[tokio::test]
async fn a_component_importing_an_ungranted_function_is_refused_at_publish() {
    let s = TestServer::start().await;
    let wasm = wat::parse_str(
        r#"(component
            (import "evil:net/http@1.0.0" (instance
                (export "get" (func (param "url" string) (result string)))))
        )"#,
    )
    .expect("valid component text");
    let mut f = Fixture::load("Greetings");
    f.component = wasm;
    let (status, up) = s.upload(&s.admin, "Greetings", &f.package()).await;
    assert_eq!(status, StatusCode::CREATED, "the package itself is sound: {up}");
    let (status, body) = s.publish(&s.admin, "Greetings", 1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "contract");
    assert!(message(&body).contains("`evil:net/http@1.0.0`"), "the import is named: {body}");
    let failed = body["steps"].as_array().and_then(|s| s.last()).cloned().unwrap_or_default();
    assert_eq!((failed["step"].as_str(), failed["status"].as_str()), (Some("contract"), Some("failed")));
    let (status, body, _) = s.call(&s.admin, "Greetings", "Greet", json!({"Who": {"Name": "Ada"}})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was activated: {body}");

    // Exports that do not match the definition are refused too, naming the action.
    let mut f = Fixture::load("Greetings");
    f.definition.push_str("\n[actions.Wave]\ndescription = \"Not implemented by the component.\"\n");
    let (status, up) = s.upload(&s.admin, "Greetings", &f.package()).await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let (status, body) = s.publish(&s.admin, "Greetings", 2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("Wave"), "{body}");
}

#[tokio::test]
async fn publish_streams_its_stages_as_server_sent_events() {
    let s = TestServer::start().await;
    let (_, up) = s.upload(&s.admin, "ServerTest", &server_test("1")).await;
    let resp = s
        .client
        .post(s.url(&format!("/api/v1/extensions/ServerTest/versions/{}/publish", up["version"])))
        .bearer_auth(&s.admin)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/event-stream"));
    let text = resp.text().await.expect("body");
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("each event is JSON"))
        .collect();
    let (last, stages) = events.split_last().expect("events");
    assert_eq!(last["summary"]["outcome"], "published", "{text}");
    assert_eq!(last["summary"]["extension"], "ServerTest");
    assert_eq!(last["summary"]["version"], 1);
    assert_eq!(last["summary"]["url"], "/api/v1/extensions/ServerTest");
    assert!(last["summary"]["ms"].is_u64());
    let names: Vec<&str> =
        stages.iter().filter(|e| e["status"] == "started").filter_map(|e| e["step"].as_str()).collect();
    assert_eq!(names, ["validate", "permissions", "compile", "contract", "entities", "activate"]);
    for e in stages {
        assert!(e["ms"].is_u64() && e["step"].is_string() && e["status"].is_string(), "{e}");
    }

    // A failing publish streams the failure and its summary.
    let resp = s
        .client
        .post(s.url("/api/v1/extensions/ServerTest/versions/9/publish"))
        .bearer_auth(&s.admin)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("send");
    let text = resp.text().await.expect("body");
    assert!(text.contains(r#""status":"failed""#), "{text}");
    assert!(text.contains("has no version 9"), "{text}");
}

#[tokio::test]
async fn bad_packages_are_refused_naming_the_problem_and_nothing_is_stored() {
    let s = TestServer::start().await;
    let check = |status: StatusCode, body: &Value, kind: &str, needle: &str| {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"], kind, "{body}");
        assert!(message(body).contains(needle), "{needle:?} not in {body}");
    };
    let (status, body) = s.upload(&s.admin, "Greetings", b"not a zip at all").await;
    check(status, &body, "bad_package", "zip");

    let (status, body) = s.upload(&s.admin, "Other", &Fixture::load("Greetings").package()).await;
    check(status, &body, "bad_package", "the package is extension Greetings, but the URL names Other");

    let mut f = Fixture::load("Greetings");
    f.definition = f.definition.replace("type = \"Boolean\"", "type = \"Bool\"");
    let (status, body) = s.upload(&s.admin, "Greetings", &f.package()).await;
    check(status, &body, "bad_definition", "extension.toml:");
    assert!(message(&body).contains("Bool"), "{body}");

    // A truncated package.
    let mut bytes = Fixture::load("Greetings").package();
    bytes.truncate(bytes.len() - 100);
    let (status, body) = s.upload(&s.admin, "Greetings", &bytes).await;
    check(status, &body, "bad_package", "the package is refused");

    let (status, body) = s.get(Some(&s.admin), "/api/v1/extensions/Greetings/versions/abc").await;
    check(status, &body, "bad_url", "abc");

    let (_, list) = s.get(Some(&s.admin), "/api/v1/extensions").await;
    assert_eq!(list, json!([]));
    assert_eq!(std::fs::read_dir(s.dir.path().join("packages")).expect("dir").count(), 0);

    // Over the package limit: 413 saying the limit.
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.package_bytes = 4096;
    let small = TestServer::start_with(c, dir).await;
    let (status, body) = small.upload(&small.admin, "Greetings", &Fixture::load("Greetings").package()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(message(&body).contains("4096 bytes"), "{body}");
}

/// Line and column (from 1) of the first `needle` in `src`.
fn at(src: &str, needle: &str) -> (usize, usize) {
    let offset = src.find(needle).unwrap_or_else(|| panic!("{needle:?} in {src}"));
    let line = src[..offset].matches('\n').count() + 1;
    let column = offset - src[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

/// The changes of a diff as (kind, breaking, version, line, column, place).
fn changes(diff: &Value) -> Vec<(String, bool, i64, usize, usize, String)> {
    diff["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("changes: {diff}"))
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or_default().to_string(),
                c["breaking"].as_bool().unwrap_or_default(),
                c["version"].as_i64().unwrap_or_default(),
                c["line"].as_u64().unwrap_or_default() as usize,
                c["column"].as_u64().unwrap_or_default() as usize,
                c["place"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Issue 18: `GET .../versions/{n}/diff` lists what changed for callers, each change compatible
/// or breaking, placed in the extension.toml of the version it is in (the older one for a
/// removal); against the nearest lower version by default, or `?from=` any stored version.
#[tokio::test]
async fn a_versions_api_diff_lists_each_change_with_its_place() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    for (package, number) in [(server_test_changed("2"), 2), (server_test_changed("3"), 3)] {
        let (status, up) = s.upload(&s.admin, "ServerTest", &package).await;
        assert_eq!((status, up["version"].as_i64()), (StatusCode::CREATED, Some(number)), "{up}");
    }
    let (v1, v2) = (Fixture::load("ServerTest").definition, server_test_changed_definition());
    let (loud, spin) = (at(&v2, "Loud ="), at(&v1, "Spin]"));

    // Readable by whoever may list the versions: a user without any permission.
    let viewer = s.user("viewer", &[]).await;
    let (status, diff) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/2/diff").await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    assert_eq!(
        (diff["extension"].as_str(), diff["from"].as_i64(), diff["to"].as_i64()),
        (Some("ServerTest"), Some(1), Some(2))
    );
    assert_eq!(diff["breaking"], 1, "{diff}");
    assert_eq!(
        changes(&diff),
        [
            (
                "optional_input_added".into(),
                false,
                2,
                loud.0,
                loud.1,
                format!("extension.toml of version 2:{}:{}", loud.0, loud.1)
            ),
            (
                "action_removed".into(),
                true,
                1,
                spin.0,
                spin.1,
                format!("extension.toml of version 1:{}:{}", spin.0, spin.1)
            ),
        ]
    );
    assert_eq!(diff["changes"][0]["message"], "action Hello has a new optional input Loud");
    assert_eq!(diff["changes"][1]["message"], "action Spin is removed");
    assert_eq!(diff["changes"][1]["caller"], "calls of Spin are answered 404 not_found");

    // Version 3 only changed a resource: no API change against version 2, the same two against 1,
    // the compatible one now placed in version 3's file.
    let (_, diff) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/3/diff").await;
    assert_eq!((diff["from"].as_i64(), diff["breaking"].as_u64()), (Some(2), Some(0)), "{diff}");
    assert_eq!(diff["changes"], json!([]));
    let (_, diff) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/3/diff?from=1").await;
    let places: Vec<String> = changes(&diff).into_iter().map(|c| c.5).collect();
    assert_eq!(
        places,
        [
            format!("extension.toml of version 3:{}:{}", loud.0, loud.1),
            format!("extension.toml of version 1:{}:{}", spin.0, spin.1)
        ]
    );

    // Backwards, from 2 to 1 (in version 1's order of actions): Loud goes (breaking, placed in
    // version 2's file, where it was), Spin comes back (compatible, in version 1's).
    let (_, diff) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/1/diff?from=2").await;
    let kinds: Vec<(String, bool, i64)> = changes(&diff).into_iter().map(|c| (c.0, c.1, c.2)).collect();
    assert_eq!(kinds, [("input_removed".into(), true, 2), ("action_added".into(), false, 1)], "{diff}");

    // The first version has nothing to compare with; a version with itself has no changes.
    let (status, diff) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/1/diff").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(diff, json!({"extension": "ServerTest", "from": null, "to": 1, "changes": [], "breaking": 0}));
    let (_, diff) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/2/diff?from=2").await;
    assert_eq!((diff["from"].as_i64(), diff["changes"].clone()), (Some(2), json!([])), "{diff}");

    // What does not exist, or is no number, is named.
    for (path, status, kind, needle) in [
        ("/api/v1/extensions/ServerTest/versions/2/diff?from=abc", StatusCode::BAD_REQUEST, "bad_query", "from"),
        (
            "/api/v1/extensions/ServerTest/versions/2/diff?from=9",
            StatusCode::NOT_FOUND,
            "not_found",
            "extension ServerTest has no version 9",
        ),
        (
            "/api/v1/extensions/ServerTest/versions/9/diff",
            StatusCode::NOT_FOUND,
            "not_found",
            "extension ServerTest has no version 9",
        ),
        (
            "/api/v1/extensions/Nope/versions/1/diff",
            StatusCode::NOT_FOUND,
            "not_found",
            "there is no extension named Nope",
        ),
        ("/api/v1/extensions/ServerTest/versions/x/diff", StatusCode::BAD_REQUEST, "bad_url", "x"),
    ] {
        let (got, body) = s.get(Some(&viewer), path).await;
        assert_eq!((got, body["error"].as_str()), (status, Some(kind)), "{path}: {body}");
        assert!(message(&body).contains(needle), "{path}: {body}");
    }
    let (status, _) = s.get(None, "/api/v1/extensions/ServerTest/versions/2/diff").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A stored package that no longer reads: a clear error naming the version, not a 500.
    let (_, v1_info) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/1").await;
    let digest = v1_info["digest"].as_str().expect("digest").to_string();
    if engine() == Engine::Postgres {
        let url = crate::support::database_url(s.dir.path());
        let mut db = xif_store::testing::Probe::connect(&url).await.expect("the database opens");
        db.execute_with("DELETE FROM packages WHERE digest = $1", &[&digest]).await.expect("the package row");
        db.close().await.expect("close");
    } else {
        std::fs::write(s.dir.path().join("packages").join(format!("{digest}.xif")), b"damaged").expect("damage it");
    }
    // The server keeps the definitions it has read (a package never changes): a restarted one
    // reads them again.
    let s = s.restart().await;
    let (status, body) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/2/diff").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")), "{body}");
    assert!(message(&body).contains("the stored package of version 1 of ServerTest cannot be read"), "{body}");
    let (status, _) = s.get(Some(&viewer), "/api/v1/extensions/ServerTest/versions/3/diff").await;
    assert_eq!(status, StatusCode::OK, "versions 2 and 3 still compare");
}
