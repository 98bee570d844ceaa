//! Gradual rollouts: the per-call and per-caller split (the `xif-version` header says who
//! answered), moving on, 100% activating, abort, refusals, and the error-rate guard.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Fixture, TestServer, server_test};

const EXT: &str = "ServerTest";

/// Uploads as the administrator; returns the version number.
async fn upload(s: &TestServer, package: &[u8]) -> i64 {
    let (status, body) = s.upload(&s.admin, EXT, package).await;
    assert!(status.is_success(), "upload: {status} {body}");
    body["version"].as_i64().expect("version")
}

async fn publish_gradual(s: &TestServer, version: i64, query: &str) -> (StatusCode, Value) {
    s.post(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/versions/{version}/publish?{query}"), json!(null)).await
}

/// Calls Which `n` times as `token`; counts the answers by the version the header names (0: no
/// header), checking that the body agrees with it.
async fn which(s: &TestServer, token: &str, n: usize) -> BTreeMap<i64, usize> {
    let mut by = BTreeMap::new();
    for _ in 0..n {
        let (status, out, version) = s.call(token, EXT, "Which", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        let version = version.unwrap_or(0);
        assert_eq!(out["Version"].as_str(), Some(version.to_string().as_str()), "the body and xif-version agree");
        *by.entry(version).or_default() += 1;
    }
    by
}

fn log_entries(log: &Value) -> Vec<(String, i64, String, String)> {
    log.as_array()
        .expect("log")
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("kind"), e["version"].as_i64().unwrap_or(0), s("outcome"), s("user"))
        })
        .collect()
}

#[tokio::test]
async fn a_rollout_splits_calls_per_call_moves_on_activates_at_100_and_aborts() {
    let s = TestServer::start().await;
    assert_eq!(s.deploy(EXT, &server_test("1")).await, 1);
    let v2 = upload(&s, &server_test("2")).await;

    // Nothing runs yet.
    let (status, body) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("--gradual")), "{body}");

    // A share outside 1..99 is refused at publish.
    let (status, body) = publish_gradual(&s, v2, "gradual=100").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, body) = publish_gradual(&s, v2, "gradual=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["summary"]["outcome"], "rolling_out", "{body}");
    let last = body["steps"].as_array().and_then(|s| s.last()).cloned().unwrap_or_default();
    assert_eq!(last["step"], "rollout", "{body}");
    assert!(last["message"].as_str().is_some_and(|m| m.contains("10% of calls") && m.contains("per call")), "{last}");

    // The previous version stays the active one; the new one is rolling out at 10%.
    let (_, ext) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}")).await;
    assert_eq!((ext["active_version"].as_i64(), ext["rolling_out"].as_i64()), (Some(1), Some(2)), "{ext}");
    assert_eq!(ext["rollout_percent"], 10);
    let (_, versions) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/versions")).await;
    assert_eq!(versions[1]["rollout_percent"], 10, "{versions}");
    assert_eq!((versions[0]["active"].as_bool(), versions[1]["active"].as_bool()), (Some(true), Some(false)));

    // Out of 2,000 calls, about 200 answer from the new version.
    let by = which(&s, &s.admin, 2000).await;
    let new = by.get(&2).copied().unwrap_or(0);
    assert!((150..=250).contains(&new), "version 2 answered {new} of 2000 calls at 10%: {by:?}");
    assert_eq!(by.keys().copied().collect::<Vec<_>>(), [1, 2], "{by:?}");

    // What the rollout says (the counts land in the database within the flush interval).
    let (status, info) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!((info["version"].as_i64(), info["active_version"].as_i64()), (Some(2), Some(1)), "{info}");
    assert_eq!(
        (info["percent"].as_u64(), info["per_caller"].as_bool(), info["guard"].as_bool()),
        (Some(10), Some(false), Some(true))
    );
    assert_eq!(info["started_by"], "admin");

    // Nothing else is published or rolled back meanwhile, and the rolling version stays.
    let v3 = upload(&s, &server_test("3")).await;
    let (status, body) = s.publish(&s.admin, EXT, v3).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("rolling out at 10%") && m.contains("abort")),
        "{body}"
    );
    let (status, body) =
        s.post(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/versions/1/rollback"), json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = s.delete(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/versions/2")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Moving and aborting need what publishing needs.
    let nobody = s.user("caller", &[]).await;
    let (status, body) =
        s.put(Some(&nobody), &format!("/api/v1/extensions/{EXT}/rollout"), json!({"percent": 50})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = s.delete(Some(&nobody), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) =
        s.put(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout"), json!({"percent": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // A change or an abort meant for another version is refused, and changes nothing.
    let (status, body) =
        s.put(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout"), json!({"percent": 50, "version": 3})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("version 3") && m.contains("version 2 is")), "{body}");
    let (status, body) = s.delete(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout?version=3")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, info) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!((info["version"].as_i64(), info["percent"].as_u64()), (Some(2), Some(10)), "{info}");

    // 50%: half of the calls.
    let (status, moved) =
        s.put(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout"), json!({"percent": 50, "version": 2})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!((moved["percent"].as_u64(), moved["active_version"].as_i64()), (Some(50), Some(1)), "{moved}");
    let by = which(&s, &s.admin, 200).await;
    assert!((80..=120).contains(&by.get(&2).copied().unwrap_or(0)), "at 50%: {by:?}");

    // Abort: every call goes to version 1 again.
    let (status, aborted) = s.delete(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::OK, "{aborted}");
    assert_eq!((aborted["percent"].as_u64(), aborted["active_version"].as_i64()), (Some(0), Some(1)));
    assert_eq!(which(&s, &s.admin, 100).await, BTreeMap::from([(1, 100)]));
    let (_, ext) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}")).await;
    assert!(ext.get("rolling_out").is_none(), "{ext}");

    // Again, then 100%: version 2 becomes the active version and takes every call.
    let (status, body) = publish_gradual(&s, v2, "gradual=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, moved) =
        s.put(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout"), json!({"percent": 100})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!((moved["percent"].as_u64(), moved["active_version"].as_i64()), (Some(100), Some(2)), "{moved}");
    assert_eq!(which(&s, &s.admin, 100).await, BTreeMap::from([(2, 100)]));
    let (_, ext) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}")).await;
    assert_eq!(ext["active_version"], 2, "{ext}");
    assert!(ext.get("rolling_out").is_none(), "{ext}");

    // Every change is in the publish log, newest first.
    let (_, log) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/publishes")).await;
    let entries = log_entries(&log);
    let expected: Vec<(String, i64, String, String)> = [
        ("rollout", 2, "published"),
        ("publish", 2, "rolling_out"),
        ("rollout", 2, "aborted"),
        ("rollout", 2, "rolling_out"),
    ]
    .iter()
    .map(|(k, v, o)| (k.to_string(), *v, o.to_string(), "admin".to_string()))
    .collect();
    assert_eq!(entries[..4], expected[..], "{log}");
    assert!(log[1]["message"].is_null() || log[1]["message"].is_string());
    assert!(log[2]["message"].as_str().is_some_and(|m| m.contains("aborted by admin")), "{log}");
    assert!(log[3]["message"].as_str().is_some_and(|m| m.contains("50%") && m.contains("was 10%")), "{log}");

    // After a restart the server serves what the database says.
    let v4 = upload(&s, &server_test("4")).await;
    let (status, body) = publish_gradual(&s, v4, "gradual=30").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = s.restart().await;
    let by = which(&s, &s.admin, 100).await;
    assert_eq!(by.get(&4).copied(), Some(30), "a restarted node splits as before: {by:?}");
    assert_eq!(by.get(&2).copied(), Some(70), "{by:?}");
}

#[tokio::test]
async fn a_rollout_per_caller_keeps_each_caller_on_one_version() {
    let s = TestServer::start().await;
    s.deploy(EXT, &server_test("1")).await;
    let v2 = upload(&s, &server_test("2")).await;
    let (status, body) = publish_gradual(&s, v2, "gradual=50&per_caller=true&guard=false").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, info) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!((info["per_caller"].as_bool(), info["guard"].as_bool()), (Some(true), Some(false)), "{info}");
    let mut sides = BTreeMap::new();
    for i in 0..20 {
        let token = s.user(&format!("caller{i}"), &[]).await;
        let by = which(&s, &token, 5).await;
        assert_eq!(by.len(), 1, "caller{i} got more than one version: {by:?}");
        let (version, _) = by.into_iter().next().unwrap_or_default();
        *sides.entry(version).or_insert(0) += 1;
        // Growing the share never moves a caller from the new version back.
        if i == 19 {
            let (status, _) =
                s.put(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout"), json!({"percent": 90})).await;
            assert_eq!(status, StatusCode::OK);
        }
    }
    assert_eq!(sides.keys().copied().collect::<Vec<_>>(), [1, 2], "both versions have callers: {sides:?}");
}

#[tokio::test]
async fn a_rollout_that_would_change_entity_tables_is_refused() {
    let s = TestServer::start().await;
    s.deploy(EXT, &server_test("1")).await;
    let mut with_entity = Fixture::load(EXT).with_resource("resources/version.txt", "2\n");
    with_entity.definition.push_str("\n[entities.Note]\nId = { type = \"Long Integer\", identifier = true, auto_number = true }\nText = { type = \"Text\", length = 100 }\n");
    let v2 = upload(&s, &with_entity.package()).await;
    let (status, body) = publish_gradual(&s, v2, "gradual=10").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "gradual_schema", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("Note") && m.contains("without --gradual")), "{body}");
    // Nothing changed: no rollout, no table.
    let (status, _) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(which(&s, &s.admin, 10).await, BTreeMap::from([(1, 10)]));
    // Without an active version there is nothing to share calls with.
    let (status, body) = s
        .upload(&s.admin, "Other", &{
            let mut f = Fixture::load(EXT);
            f.definition = f.definition.replace("name = \"ServerTest\"", "name = \"Other\"");
            f.package()
        })
        .await;
    assert!(status.is_success(), "{body}");
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/extensions/Other/versions/1/publish?gradual=10", json!(null)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("no active version")), "{body}");
}

#[tokio::test]
async fn the_guard_aborts_a_rollout_whose_new_version_fails_every_call() {
    let s = TestServer::start().await;
    s.deploy(EXT, &server_test("1")).await;
    let broken = upload(&s, &server_test("failing-2")).await;
    let (status, body) = publish_gradual(&s, broken, "gradual=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Call until the rollout is gone (or 2,000 calls, or 10 s past them).
    let (mut new_failed, mut old_ok, mut calls) = (0, 0, 0);
    let mut ended = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls < 2000 && Instant::now() < deadline {
        let (status, out, version) = s.call(&s.admin, EXT, "Which", json!({})).await;
        calls += 1;
        match status {
            StatusCode::OK => {
                assert_eq!(version, Some(1), "{out}");
                old_ok += 1;
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert!(out["message"].as_str().is_some_and(|m| m.contains("fails every call")), "{out}");
                assert_eq!(version, Some(broken), "the failure names the version that gave it");
                new_failed += 1;
            }
            other => panic!("unexpected {other}: {out}"),
        }
        if calls % 20 == 0 {
            let (status, _) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
            if status == StatusCode::NOT_FOUND {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the guard did not abort within {calls} calls ({new_failed} failed on the new version)");
    assert!(new_failed <= 200, "the new version failed {new_failed} calls before the guard acted");
    assert!(old_ok > 0);
    // Every call goes to version 1 now.
    assert_eq!(which(&s, &s.admin, 50).await, BTreeMap::from([(1, 50)]));
    // The publish log says who aborted it and why.
    let (_, log) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/publishes")).await;
    let first = &log[0];
    assert_eq!((first["kind"].as_str(), first["outcome"].as_str()), (Some("rollout"), Some("aborted")), "{log}");
    assert_eq!(first["user"], "error-rate guard");
    let message = first["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("aborted by the error-rate guard") && message.contains(&format!("version {broken} failed")),
        "{message}"
    );
}

#[tokio::test]
async fn a_setting_only_the_rolling_version_declares_can_be_set_before_it_takes_every_call() {
    let s = TestServer::start().await;
    assert_eq!(s.deploy(EXT, &server_test("1")).await, 1);
    let mut f = Fixture::load(EXT).with_resource("resources/version.txt", "2\n");
    let declared = r#"ApiKey = { type = "Text", secret = true }"#;
    assert!(f.definition.contains(declared), "ServerTest declares ApiKey");
    f.definition =
        f.definition.replace(declared, &format!("{declared}\nRegion = {{ type = \"Text\", default = \"eu\" }}"));
    let v2 = upload(&s, &f.package()).await;
    let settings = format!("/api/v1/extensions/{EXT}/settings");

    // Version 1 has no such setting.
    let (status, body) = s.put(Some(&s.admin), &settings, json!({"values": {"Region": "us"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("no setting Region")), "{body}");

    // While version 2 rolls out, its setting is listed and can be set; its calls read it.
    let (status, body) = publish_gradual(&s, v2, "gradual=50").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = s.get(Some(&s.admin), &settings).await;
    let names: Vec<&str> = listed.as_array().expect("settings").iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, ["Greeting", "Retries", "ApiKey", "Region"], "{listed}");
    let (status, body) = s.put(Some(&s.admin), &settings, json!({"values": {"Region": "us"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut seen = BTreeMap::new();
    for _ in 0..20 {
        let (status, out, version) = s.call(&s.admin, EXT, "GetSetting", json!({"Name": "Region"})).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        if version == Some(2) {
            assert_eq!(out, json!({"Found": true, "Value": "us"}), "version 2 reads the value set");
        }
        *seen.entry(version.unwrap_or(0)).or_insert(0) += 1;
    }
    assert_eq!(seen.get(&2), Some(&10), "half of the calls went to version 2: {seen:?}");
}

#[tokio::test]
async fn per_caller_the_guard_ignores_a_callers_bad_input_but_not_the_versions_failures() {
    let s = TestServer::start().await;
    s.deploy(EXT, &server_test("1")).await;
    let healthy = upload(&s, &server_test("2")).await;
    let (status, body) = publish_gradual(&s, healthy, "gradual=50&per_caller=true").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // One caller on each side (per caller, each keeps its version).
    let mut on = BTreeMap::new();
    for i in 0..16 {
        let token = s.user(&format!("caller{i}"), &[]).await;
        let (_, _, version) = s.call(&token, EXT, "Which", json!({})).await;
        on.entry(version.unwrap_or(0)).or_insert(token);
    }
    let new_side = on.get(&2).cloned().expect("some caller of 16 is on version 2 at 50%");
    let old_side = on.get(&1).cloned().expect("some caller of 16 is on version 1 at 50%");

    // The caller on the new side sends 40 bad calls (an input Which does not have): the rollout
    // goes on, and that caller stays on version 2.
    for _ in 0..40 {
        let (status, out, version) = s.call(&new_side, EXT, "Which", json!({"Nope": 1})).await;
        assert_eq!((status, version), (StatusCode::BAD_REQUEST, Some(2)), "{out}");
    }
    assert_eq!(which(&s, &new_side, 5).await, BTreeMap::from([(2, 5)]));
    let (status, info) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::OK, "the rollout still runs: {info}");

    // A version that fails every call, per caller: the guard aborts it.
    let (status, body) = s.delete(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let broken = upload(&s, &server_test("failing-3")).await;
    let (status, body) = publish_gradual(&s, broken, "gradual=50&per_caller=true").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut calls = 0;
    loop {
        let (status, _) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
        if status == StatusCode::NOT_FOUND {
            break;
        }
        assert!(calls < 200 && Instant::now() < deadline, "the guard did not abort within {calls} calls");
        for token in [&new_side, &old_side] {
            s.call(token, EXT, "Which", json!({})).await;
            calls += 1;
        }
    }
    let (_, log) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/publishes")).await;
    assert_eq!(
        (log[0]["outcome"].as_str(), log[0]["user"].as_str()),
        (Some("aborted"), Some("error-rate guard")),
        "{log}"
    );
}

#[tokio::test]
async fn a_node_that_cannot_load_the_rolling_version_serves_the_active_one_for_every_call() {
    let s = TestServer::start().await;
    s.deploy(EXT, &server_test("1")).await;
    let (status, up) = s.upload(&s.admin, EXT, &server_test("2")).await;
    assert!(status.is_success(), "{up}");
    let digest = up["digest"].as_str().expect("digest").to_string();
    let (status, body) = publish_gradual(&s, 2, "gradual=50").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Version 2's package is lost; the server starts again.
    let dir = s.dir.clone();
    let mut s = s;
    s.stop().await;
    if crate::support::engine() == crate::support::Engine::Postgres {
        let url = crate::support::database_url(dir.path());
        let mut db = xif_store::testing::Probe::connect(&url).await.expect("db");
        db.execute_with("DELETE FROM packages WHERE digest = $1", &[&digest]).await.expect("the package row");
        db.close().await.expect("close");
    } else {
        std::fs::remove_file(dir.path().join("packages").join(format!("{digest}.xif"))).expect("the package file");
    }
    let s = TestServer::start_with(crate::support::config(dir.path()), dir).await;

    // Every call answers, from version 1; the rollout is still on record.
    assert_eq!(which(&s, &s.admin, 20).await, BTreeMap::from([(1, 20)]));
    let (status, info) = s.get(Some(&s.admin), &format!("/api/v1/extensions/{EXT}/rollout")).await;
    assert_eq!((status, info["version"].as_i64()), (StatusCode::OK, Some(2)), "{info}");
}
