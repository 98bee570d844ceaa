//! Calling actions: input checking, action errors, limits, atomic activation, settings, drain.
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Notify;
use xif_runtime::{LogHook, LogLine};

use crate::support::{TestServer, config, server_test};

fn message(body: &Value) -> String {
    body["message"].as_str().unwrap_or_default().to_string()
}

/// A latch the test controls: a call that logs "latch" signals `entered` and waits for `release`.
struct Latch {
    entered: Notify,
    release: Notify,
}

fn latch() -> (Arc<Latch>, LogHook) {
    let latch = Arc::new(Latch { entered: Notify::new(), release: Notify::new() });
    let l = latch.clone();
    let hook: LogHook = Arc::new(move |line: &LogLine| {
        if line.message != "latch" {
            return None;
        }
        l.entered.notify_one();
        let l = l.clone();
        Some(Box::pin(async move { l.release.notified().await }))
    });
    (latch, hook)
}

/// The call slots of `extension` in use now, as `/metrics` says.
async fn slots_in_use(s: &TestServer, extension: &str) -> f64 {
    let text = s
        .client
        .get(format!("{}/metrics", s.url))
        .bearer_auth(&s.admin)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let series = format!("xif_call_slots_in_use{{extension=\"{extension}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0)
}

#[tokio::test]
async fn bad_input_is_a_400_naming_it() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (status, out, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": "Ada", "Times": 2})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["Message"], "Hello, Ada! Hello, Ada!");

    for (input, parameter, needle) in [
        (json!({}), "Who", "mandatory"),
        (json!({"Who": null}), "Who", "mandatory"),
        (json!({"Who": 5}), "Who", "expected"),
        (json!({"Who": "Ada", "Times": "x"}), "Times", "expected"),
        (json!({"Who": "Ada", "Times": 3_000_000_000u64}), "Times", ""),
        (json!({"Who": "Ada", "Wh0": 1}), "Wh0", "unknown field"),
        (json!(["Ada"]), "", "object"),
    ] {
        let (status, body, _) = s.call(&s.admin, "ServerTest", "Hello", input.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{input}: {body}");
        assert_eq!(body["error"], "bad_input", "{body}");
        if !parameter.is_empty() {
            assert_eq!(body["parameter"], parameter, "{input}: {body}");
            assert!(message(&body).contains(parameter), "{body}");
        }
        assert!(message(&body).contains(needle), "{input}: {body}");
    }
    let (status, body, _) =
        s.post_raw(Some(&s.admin), "/api/v1/extensions/ServerTest/actions/Hello", b"{\"Who\": ".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_json");
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Goodbye", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("Goodbye") && message(&body).contains("Hello"), "{body}");
    let (status, body, _) = s.call(&s.admin, "Nope", "Hello", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("Nope"), "{body}");
    // Over the call body limit (10 MB).
    let big = format!("{{\"Who\": \"{}\"}}", "a".repeat(10 << 20));
    let (status, body, _) =
        s.post_raw(Some(&s.admin), "/api/v1/extensions/ServerTest/actions/Hello", big.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(message(&body).contains("10 MiB"), "{body}");
    // An unknown route is a JSON 404 too.
    let (status, body) = s.get(Some(&s.admin), "/api/v1/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn action_errors_and_panics_are_clean_json() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Fail", json!({"Message": "no such customer"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body, json!({"error": "action_failed", "message": "no such customer"}));
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Crash", json!({"Message": "boom at 42"})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["error"], "trap");
    assert_eq!(body["panic"], "boom at 42");
    assert!(message(&body).contains("panicked") && message(&body).contains("boom at 42"), "{body}");
    assert!(body["location"].as_str().unwrap_or_default().contains("crash.rs"), "{body}");
    // The server is fine afterwards.
    let (status, _, _) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runaway_actions_are_stopped_and_do_not_stall_others() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_time = Duration::from_secs(2);
    c.limits.call_memory = 64 << 20;
    let s = Arc::new(TestServer::start_with(c, dir).await);
    s.deploy("ServerTest", &server_test("1")).await;
    // Warm up the connection pool and the code paths.
    let (status, _, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": "warm"})).await;
    assert_eq!(status, StatusCode::OK);

    let started = Instant::now();
    let spawn = |action: &'static str| {
        let s = s.clone();
        tokio::spawn(async move {
            let (status, body, _) = s.call(&s.admin, "ServerTest", action, json!({})).await;
            (status, body, started.elapsed())
        })
    };
    let runaways = [spawn("Spin"), spawn("Spin"), spawn("Hog")];
    // Until the two spinners hold their call slots (the gauge of /metrics; the hog may have
    // ended already), within a generous bound.
    let deadline = Instant::now() + Duration::from_secs(10);
    while slots_in_use(&s, "ServerTest").await < 2.0 {
        assert!(Instant::now() < deadline, "the runaways did not start within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Meanwhile, normal calls answer, while the spinning runaways still run (they end only at
    // their 2 s limit; the hog ends when it runs out of memory).
    for _ in 0..5 {
        let (status, out, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": "Ada"})).await;
        assert_eq!(status, StatusCode::OK, "{out}");
    }
    assert!(runaways[..2].iter().all(|r| !r.is_finished()), "the normal calls answered while the runaways spun");
    let mut results = Vec::new();
    for r in runaways {
        results.push(r.await.expect("task"));
    }
    for (status, body, elapsed) in &results[..2] {
        assert_eq!(*status, StatusCode::GATEWAY_TIMEOUT, "{body}");
        assert_eq!(body["error"], "timeout");
        assert!(message(body).contains("2 s"), "{body}");
        assert!(*elapsed >= Duration::from_secs(2), "stopped before its limit: {elapsed:?}");
    }
    let (status, body, _) = &results[2];
    assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "out_of_memory");
    assert!(message(body).contains("64 MiB"), "{body}");
    let (status, _, _) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::OK, "the server still serves");
}

/// A server whose calls that log "latch" wait on the latch, with ServerTest version 1 active.
async fn latched() -> (Arc<TestServer>, Arc<Latch>) {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    let (latch, hook) = latch();
    c.call_log_hook = Some(hook);
    let s = Arc::new(TestServer::start_with(c, dir).await);
    assert_eq!(s.deploy("ServerTest", &server_test("1")).await, 1);
    (s, latch)
}

type Answer = (StatusCode, Value, Option<i64>);

/// A call of Wait, held inside the action at the latch (waited for up to 10 s).
async fn hold(s: &Arc<TestServer>, latch: &Latch) -> tokio::task::JoinHandle<Answer> {
    let s = s.clone();
    let held = tokio::spawn(async move { s.call(&s.admin, "ServerTest", "Wait", json!({})).await });
    tokio::time::timeout(Duration::from_secs(10), latch.entered.notified()).await.expect("the call reached the latch");
    held
}

/// Lets the held call go on; its answer (within 10 s).
async fn release(held: tokio::task::JoinHandle<Answer>, latch: &Latch) -> Answer {
    latch.release.notify_one();
    tokio::time::timeout(Duration::from_secs(10), held).await.expect("released").expect("task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_in_flight_finishes_on_the_old_version() {
    let (s, latch) = latched().await;

    // Version 1 is held inside the action, at its host log call.
    let held = hold(&s, &latch).await;

    // Version 2 is published while it waits; new calls get it.
    assert_eq!(s.deploy("ServerTest", &server_test("2")).await, 2);
    let (status, out, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((out["Version"].as_str(), version), (Some("2"), Some(2)));
    assert!(!held.is_finished(), "the held call is still inside the action");

    let (status, out, version) = release(held, &latch).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!((out["Version"].as_str(), version), (Some("1"), Some(1)), "the held call answered with version 1");

    let (_, out, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!((out["Version"].as_str(), version), (Some("2"), Some(2)), "the next call gets version 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_in_flight_on_a_rolling_version_finishes_on_it_when_the_rollout_is_aborted() {
    let (s, latch) = latched().await;
    let (status, body) = s.upload(&s.admin, "ServerTest", &server_test("2")).await;
    assert!(status.is_success(), "{body}");
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/2/publish?gradual=99", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // At 99%, the first of every 100 calls goes to version 1 and the next 99 to version 2.
    let (_, _, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(version, Some(1), "the first call of the split stays on the active version");
    let held = hold(&s, &latch).await;

    // The rollout is aborted while the call waits inside version 2; new calls get version 1.
    let (status, body) = s.delete(Some(&s.admin), "/api/v1/extensions/ServerTest/rollout").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for _ in 0..5 {
        let (_, out, version) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
        assert_eq!((out["Version"].as_str(), version), (Some("1"), Some(1)), "after the abort");
    }
    assert!(!held.is_finished(), "the held call is still inside the action");

    let (status, out, version) = release(held, &latch).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(version, Some(2), "the held call answered from the version it started on: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_drains_calls_in_flight() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    let (latch, hook) = latch();
    c.call_log_hook = Some(hook);
    let mut s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (url, admin, client) = (s.url.clone(), s.admin.clone(), s.client.clone());
    let held = tokio::spawn(async move {
        let resp = client
            .post(format!("{url}/api/v1/extensions/ServerTest/actions/Wait"))
            .bearer_auth(&admin)
            .json(&json!({}))
            .send()
            .await
            .expect("the held call gets an answer");
        (resp.status(), resp.json::<Value>().await.expect("json"))
    });
    latch.entered.notified().await;
    let server = s.server.take().expect("running");
    let url = s.url.clone();
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the call in flight");
    // New connections are refused.
    let fresh = reqwest::Client::new();
    assert!(fresh.get(format!("{url}/api/v1/health")).send().await.is_err(), "a new connection is refused");
    latch.release.notify_one();
    let (status, out) = held.await.expect("task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(out["Version"], "1");
    tokio::time::timeout(Duration::from_secs(10), stopping).await.expect("stopped").expect("task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_stops_reading_does_not_hold_a_shutdown_up() {
    use tokio::io::AsyncWriteExt as _;
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_time = Duration::from_secs(1);
    c.limits.call_queue_wait = Duration::from_millis(100);
    c.drain_grace = Duration::from_millis(500);
    let mut s = TestServer::start_with(c, dir).await;
    s.deploy("RuntimeTest", &crate::support::Fixture::load("RuntimeTest").package()).await;
    // About 12 MB of log, more than the sockets buffer: 2,500 calls of two lines of 2 KiB each.
    let long = "x".repeat(4096);
    for _ in 0..2500 {
        let (status, out, _) = s.call(&s.admin, "RuntimeTest", "Log", json!({"Message": long})).await;
        assert_eq!(status, StatusCode::OK, "{out}");
    }
    // A follow of all of it from a client with a tiny receive window that never reads: the
    // server's answer stalls on its writes.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("a small receive buffer");
    let addr = s.url.trim_start_matches("http://").parse().expect("the server's address");
    let mut stalled = socket.connect(addr).await.expect("connect");
    let request = format!(
        "GET /api/v1/extensions/RuntimeTest/logs?follow=true&after=0 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        s.admin
    );
    stalled.write_all(request.as_bytes()).await.expect("request");
    // Until the log has been read past what the socket buffers hold (the server wrote all it could).
    tokio::time::sleep(Duration::from_secs(1)).await;

    let server = s.server.take().expect("running");
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .expect("the server stopped: the stalled connection was closed past the drain timeout");
    drop(stalled);
}

#[tokio::test]
async fn settings_are_set_by_administrators_and_secrets_never_returned() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "Greeting"})).await;
    assert_eq!(out, json!({"Found": true, "Value": "Hello"}), "the default");

    let dev = s.user("dev", &["Change & Deploy Applications"]).await;
    let (status, _) =
        s.put(Some(&dev), "/api/v1/extensions/ServerTest/settings", json!({"values": {"Greeting": "Hi"}})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, settings) = s
        .put(
            Some(&s.admin),
            "/api/v1/extensions/ServerTest/settings",
            json!({"values": {"Greeting": "Hi", "ApiKey": "s3cret-value", "Retries": 5}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert!(!settings.to_string().contains("s3cret-value"), "{settings}");
    let api_key =
        settings.as_array().expect("list").iter().find(|s| s["name"] == "ApiKey").cloned().unwrap_or_default();
    assert_eq!((api_key["secret"].as_bool(), api_key["set"].as_bool()), (Some(true), Some(true)));
    assert!(api_key["value"].is_null());
    let (_, listed) = s.get(Some(&dev), "/api/v1/extensions/ServerTest/settings").await;
    assert!(!listed.to_string().contains("s3cret-value"));

    let (_, out, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": "Ada"})).await;
    assert_eq!(out["Message"], "Hi, Ada!");
    let (_, out, _) = s.call(&dev, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Value"], "s3cret-value", "the extension reads its secret");
    let (_, out, _) = s.call(&dev, "ServerTest", "GetSetting", json!({"Name": "Retries"})).await;
    assert_eq!(out["Value"], "5");

    let (status, body) =
        s.put(Some(&s.admin), "/api/v1/extensions/ServerTest/settings", json!({"values": {"Retries": "many"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "Retries");
    let (status, body) =
        s.put(Some(&s.admin), "/api/v1/extensions/ServerTest/settings", json!({"values": {"Colour": "red"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "Colour");
    assert!(message(&body).contains("Greeting"), "lists the settings: {body}");

    // Unset, and the values survive a restart.
    s.put(Some(&s.admin), "/api/v1/extensions/ServerTest/settings", json!({"values": {"Greeting": null}})).await;
    let s = s.restart().await;
    let (_, out, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": "Ada"})).await;
    assert_eq!(out["Message"], "Hello, Ada!");
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Value"], "s3cret-value");
}
