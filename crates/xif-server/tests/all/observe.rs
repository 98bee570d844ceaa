//! Observing calls: `GET /metrics` (counts parsed as Prometheus parses them, who may scrape) and
//! extensions' log lines (`GET .../logs`: a page, following, trimming, who may read).
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, config, server_test};

const SCRAPE_TOKEN: &str = "scrape-token-for-the-tests-0123";

/// Scrapes `/metrics` with `token`; panics unless it answers 200 in the text format.
async fn scrape(s: &TestServer, token: &str) -> prometheus_parse::Scrape {
    let resp = s.client.get(s.url("/metrics")).bearer_auth(token).send().await.expect("scrape");
    assert_eq!(resp.status(), StatusCode::OK);
    let content_type = resp.headers()["content-type"].to_str().unwrap_or_default().to_string();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = resp.text().await.expect("body");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the text format parses")
}

/// The value of the sample `name` whose labels include every pair of `labels` (none: 0).
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            other => panic!("{name} is not a single value: {other:?}"),
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {} samples", found.len());
    found.first().copied().unwrap_or(0.0)
}

/// The `+Inf` bucket (the count) of the histogram `name` with these labels.
fn histogram_count(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let s = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no histogram {name} {labels:?}"));
    match &s.value {
        prometheus_parse::Value::Histogram(buckets) => {
            let last = buckets.last().expect("buckets");
            assert!(last.less_than.is_infinite(), "the last bucket is +Inf");
            // Cumulative: never decreasing.
            assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count), "{buckets:?}");
            last.count
        }
        other => panic!("{name} is not a histogram: {other:?}"),
    }
}

/// Calls and answers the status and the request id of the answer (the call id of its log lines).
async fn call(s: &TestServer, token: &str, action: &str, input: Value) -> (StatusCode, String) {
    let resp = s
        .client
        .post(s.url(&format!("/api/v1/extensions/ServerTest/actions/{action}")))
        .bearer_auth(token)
        .json(&input)
        .send()
        .await
        .expect("call");
    let id = resp.headers()["x-request-id"].to_str().expect("an id").to_string();
    (resp.status(), id)
}

#[tokio::test]
async fn metrics_count_each_outcome_and_only_admins_and_the_scrape_token_read_them() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_time = Duration::from_millis(300);
    c.metrics_token = Some(SCRAPE_TOKEN.into());
    let s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    let user = s.user("maker", &["Change & Deploy Applications"]).await;

    let outcomes = [
        ("Hello", json!({"Who": "Ada"}), StatusCode::OK),
        ("Hello", json!({"Who": "Bo"}), StatusCode::OK),
        ("Hello", json!({"Who": "Cy"}), StatusCode::OK),
        ("Hello", json!({"Who": 5}), StatusCode::BAD_REQUEST),
        ("Fail", json!({"Message": "no"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("Fail", json!({"Message": "never"}), StatusCode::UNPROCESSABLE_ENTITY),
        ("Crash", json!({"Message": "boom"}), StatusCode::INTERNAL_SERVER_ERROR),
        ("Spin", json!({}), StatusCode::GATEWAY_TIMEOUT),
        ("Goodbye", json!({}), StatusCode::NOT_FOUND),
    ];
    for (action, input, expected) in outcomes {
        let (status, _) = call(&s, &s.admin, action, input).await;
        assert_eq!(status, expected, "{action}");
    }
    let (status, _, _) = s.call(&s.admin, "Nowhere", "Hello", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let m = scrape(&s, &s.admin).await;
    let at = |action| [("extension", "ServerTest"), ("version", "1"), ("action", action)];
    assert_eq!(value(&m, "xif_action_calls_total", &at("Hello")), 4.0);
    assert_eq!(value(&m, "xif_action_failures_total", &[&at("Hello")[..], &[("kind", "bad_input")]].concat()), 1.0);
    assert_eq!(value(&m, "xif_action_calls_total", &at("Fail")), 2.0);
    assert_eq!(value(&m, "xif_action_failures_total", &[&at("Fail")[..], &[("kind", "action_failed")]].concat()), 2.0);
    assert_eq!(value(&m, "xif_action_failures_total", &[&at("Crash")[..], &[("kind", "trap")]].concat()), 1.0);
    assert_eq!(value(&m, "xif_action_failures_total", &[&at("Spin")[..], &[("kind", "timeout")]].concat()), 1.0);
    assert_eq!(value(&m, "xif_action_calls_total", &at("Which")), 0.0, "a declared action starts at 0");
    // Names the caller made up are never labels.
    assert_eq!(value(&m, "xif_action_calls_total", &at("unknown")), 1.0);
    assert!(m.samples.iter().all(|s| s.labels.values().all(|v| v != "Goodbye" && v != "Nowhere")));
    let unknown = [("extension", "unknown"), ("version", "unknown"), ("action", "unknown")];
    assert_eq!(value(&m, "xif_action_failures_total", &[&unknown[..], &[("kind", "not_found")]].concat()), 1.0);
    assert_eq!(histogram_count(&m, "xif_action_duration_seconds", &at("Hello")), 4.0);
    assert_eq!(histogram_count(&m, "xif_action_duration_seconds", &at("Spin")), 1.0);
    assert_eq!(value(&m, "xif_publishes_total", &[("outcome", "published")]), 1.0);
    assert_eq!(histogram_count(&m, "xif_publish_duration_seconds", &[]), 1.0);
    assert_eq!(value(&m, "xif_uploads_total", &[]), 1.0);
    assert_eq!(value(&m, "xif_active_versions", &[]), 1.0);
    assert_eq!(value(&m, "xif_call_slots_in_use", &[("extension", "ServerTest")]), 0.0);

    // A refused publish and upload count as failed.
    let (status, _) = s.publish(&user, "ServerTest", 99).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.upload(&s.admin, "ServerTest", b"not a package").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let m = scrape(&s, SCRAPE_TOKEN).await;
    assert_eq!(value(&m, "xif_publishes_total", &[("outcome", "failed")]), 1.0);
    assert_eq!(value(&m, "xif_upload_failures_total", &[]), 1.0);
    assert_eq!(value(&m, "xif_action_calls_total", &at("Hello")), 4.0, "scraping counts nothing");

    // Who may not scrape.
    for (token, expected) in [
        (Some(user.as_str()), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
        (Some("scrape-token-for-the-tests-0124"), StatusCode::UNAUTHORIZED),
    ] {
        let mut req = s.client.get(s.url("/metrics"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("scrape");
        assert_eq!(resp.status(), expected, "{token:?}");
        let body: Value = resp.json().await.expect("a JSON error");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
}

#[tokio::test]
async fn a_short_scrape_token_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = config(dir.path());
    c.metrics_token = Some("short".into());
    let Err(e) = xif_server::start(c).await else { panic!("a 5-character scrape token is refused") };
    assert!(e.to_string().contains("at least 16 characters"), "{e}");
}

/// Reads the log page at `query` until `done` holds of it (up to 10 s): lines are written in
/// batches, off the call path.
async fn page_until(s: &TestServer, token: &str, query: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = s.get(Some(token), &format!("/api/v1/extensions/ServerTest/logs{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let lines = body["lines"].as_array().cloned().unwrap_or_default();
        if done(&lines) {
            return lines;
        }
        assert!(Instant::now() < deadline, "the log did not reach the expected state: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn calls_log_lines_that_a_page_filters_and_a_follower_receives() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (status, wait_id) = call(&s, &s.admin, "Wait", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, crash_id) = call(&s, &s.admin, "Crash", json!({"Message": "boom at 42"})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);

    let lines = page_until(&s, &s.admin, "", |l| l.iter().any(|l| l["call_id"] == crash_id.as_str())).await;
    let wait = lines.iter().find(|l| l["call_id"] == wait_id.as_str()).expect("the Wait call's line");
    assert_eq!(wait["message"], "latch");
    assert_eq!(wait["action"], "Wait");
    assert_eq!(wait["level"], "info");
    assert_eq!(wait["source"], "host");
    assert_eq!(wait["version"], 1);
    let crash: Vec<&Value> = lines.iter().filter(|l| l["call_id"] == crash_id.as_str()).collect();
    assert!(crash.iter().all(|l| l["source"] == "stderr" && l["action"] == "Crash"), "{crash:?}");
    assert!(crash.iter().any(|l| l["message"].as_str().unwrap_or_default().contains("boom at 42")), "{crash:?}");
    let ids: Vec<i64> = lines.iter().filter_map(|l| l["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");

    // Filters.
    let (_, body) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/logs?action=Wait").await;
    assert!(
        body["lines"].as_array().is_some_and(|l| !l.is_empty() && l.iter().all(|l| l["action"] == "Wait")),
        "{body}"
    );
    let (_, body) = s.get(Some(&s.admin), &format!("/api/v1/extensions/ServerTest/logs?call={crash_id}")).await;
    assert_eq!(body["lines"].as_array().map(Vec::len), Some(crash.len()), "{body}");
    let (_, body) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/logs?level=warn").await;
    assert!(body["lines"].as_array().is_some_and(|l| l.iter().all(|l| l["level"] == "warn" || l["level"] == "error")));
    let (_, body) = s.get(Some(&s.admin), &format!("/api/v1/extensions/ServerTest/logs?after={}", ids[0])).await;
    assert_eq!(body["lines"].as_array().map(Vec::len), Some(ids.len() - 1), "{body}");
    for (query, parameter) in [("?level=loud", "level"), ("?limit=5000", "limit"), ("?color=red", "")] {
        let (status, body) = s.get(Some(&s.admin), &format!("/api/v1/extensions/ServerTest/logs{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        if !parameter.is_empty() {
            assert_eq!(body["parameter"], parameter, "{body}");
        }
    }
    let (status, _) = s.get(Some(&s.admin), "/api/v1/extensions/Nowhere/logs").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A follower gets the newest lines, then each new one as it is written.
    let resp = s
        .client
        .get(s.url(&format!("/api/v1/extensions/ServerTest/logs?follow=true&after={}", ids[ids.len() - 1])))
        .bearer_auth(&s.admin)
        .send()
        .await
        .expect("follow");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/event-stream"));
    let mut stream = resp.bytes_stream();
    let (_, later) = call(&s, &s.admin, "Wait", json!({})).await;
    let mut text = String::new();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            if text.contains(&later) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "the follower saw the new call's line: {text}");
    let event = text.split("\n\n").find(|e| e.contains(&later)).expect("its event");
    let data = event.lines().find_map(|l| l.strip_prefix("data:")).expect("data").trim();
    let line: Value = serde_json::from_str(data).expect("a JSON line");
    assert_eq!(line["message"], "latch");
    let id = event.lines().find_map(|l| l.strip_prefix("id:")).expect("an event id").trim();
    assert_eq!(id, line["id"].to_string());
    assert!(!text.contains(&crash_id), "nothing from before `after`");
}

#[tokio::test]
async fn the_log_keeps_the_newest_lines_and_only_publishers_read_it() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.log_lines_kept = 5;
    let s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    let mut calls = Vec::new();
    for _ in 0..12 {
        let (status, id) = call(&s, &s.admin, "Wait", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        calls.push(id);
    }
    let last = calls.last().cloned().unwrap_or_default();
    let lines = page_until(&s, &s.admin, "", |l| l.iter().any(|l| l["call_id"] == last.as_str())).await;
    let kept: Vec<&str> = lines.iter().filter_map(|l| l["call_id"].as_str()).collect();
    assert_eq!(kept, calls[7..].iter().map(String::as_str).collect::<Vec<_>>(), "the newest 5, oldest first");

    // Who may read: those who may publish it.
    let maker = s.user("maker", &["Change & Deploy Applications"]).await;
    let extender = s.user("extender", &["Allow Extensions"]).await;
    let caller = s.user("caller", &[]).await;
    for token in [&maker, &extender] {
        let (status, body) = s.get(Some(token), "/api/v1/extensions/ServerTest/logs").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    for follow in ["", "?follow=true"] {
        let (status, body) = s.get(Some(&caller), &format!("/api/v1/extensions/ServerTest/logs{follow}")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("log of extension ServerTest"), "{body}");
        let (status, _) = s.get(None, &format!("/api/v1/extensions/ServerTest/logs{follow}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

/// Opens a follow of ServerTest's log as `token`; its stream of bytes.
async fn follow(s: &TestServer, token: &str, query: &str) -> BoxStream<'static, reqwest::Result<Vec<u8>>> {
    let resp = s
        .client
        .get(s.url(&format!("/api/v1/extensions/ServerTest/logs?follow=true{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("follow");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.bytes_stream().map(|c| c.map(|b| b.to_vec())).boxed()
}

/// Reads `stream` until it ends (true) or 20 s pass (false); what it sent.
async fn until_it_ends(mut stream: BoxStream<'static, reqwest::Result<Vec<u8>>>) -> (bool, String) {
    let mut text = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .is_ok();
    (ended, text)
}

#[tokio::test]
async fn a_follower_ends_when_its_reader_loses_the_right_and_when_the_server_stops() {
    let mut s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let maker = s.user("maker", &["Change & Deploy Applications"]).await;

    // The maker follows, then loses the permission: the stream ends (the right is checked again
    // every 5 s) and sends nothing written after.
    let maker_follows = follow(&s, &maker, "&limit=0").await;
    let (status, body) = s.put(Some(&s.admin), "/api/v1/users/maker/permissions", json!({"permissions": []})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, after) = call(&s, &s.admin, "Wait", json!({})).await;
    let (ended, text) = until_it_ends(maker_follows).await;
    assert!(ended, "the maker's follow ended after the permission was taken away: {text}");
    assert!(!text.contains(&after), "no line after the right was lost reached the maker: {text}");

    // An administrator's follow is open when the server stops: the stop ends it, and the server
    // stops without waiting for it.
    let mut admin_follows = follow(&s, &s.admin, "&limit=0").await;
    let (_, seen) = call(&s, &s.admin, "Wait", json!({})).await;
    let mut text = String::new();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = admin_follows.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains(&seen) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "the follower is live: {text}");
    let server = s.server.take().expect("running");
    tokio::time::timeout(Duration::from_secs(10), server.shutdown()).await.expect("the server stopped within 10 s");
    let (ended, _) = until_it_ends(admin_follows).await;
    assert!(ended, "the follow ended with the server");
}

#[tokio::test]
async fn one_user_follows_at_most_8_logs_at_once() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("1")).await;
    let maker = s.user("maker", &["Change & Deploy Applications"]).await;
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(follow(&s, &maker, "&limit=0").await);
    }
    let resp = s
        .client
        .get(s.url("/api/v1/extensions/ServerTest/logs?follow=true"))
        .bearer_auth(&maker)
        .send()
        .await
        .expect("a ninth follow");
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("retry-after").is_some(), "{:?}", resp.headers());
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "busy", "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("follow 8 logs")), "{body}");
    // Another user still may.
    let _admin_follows = follow(&s, &s.admin, "&limit=0").await;
    drop(open);
}

#[tokio::test]
async fn a_stopping_server_writes_its_last_log_lines_and_call_counts() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    // Counts reach the database only at the stop.
    c.minutes_flush_interval = Duration::from_secs(3600);
    let s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (status, body) = s.upload(&s.admin, "ServerTest", &server_test("2")).await;
    assert!(status.is_success(), "{body}");
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/2/publish?gradual=50", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut last = String::new();
    for _ in 0..10 {
        let (status, id) = call(&s, &s.admin, "Wait", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        last = id;
    }

    // Stopped at once after the last call, then started again on the same data.
    let s = s.restart().await;
    let (status, body) = s.get(Some(&s.admin), &format!("/api/v1/extensions/ServerTest/logs?call={last}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lines"].as_array().map(Vec::len), Some(1), "the last call's line was written at the stop: {body}");
    let (status, info) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/rollout").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    let calls: i64 = info["versions"].as_array().map_or(0, |v| v.iter().filter_map(|v| v["calls"].as_i64()).sum());
    assert_eq!(calls, 10, "the calls were counted at the stop: {info}");
}

#[tokio::test]
async fn administrators_make_scrape_tokens_that_read_only_metrics() {
    let s = TestServer::start().await;
    let user = s.user("maker", &["Change & Deploy Applications"]).await;
    // Only an administrator makes, lists or revokes them; nothing is made for anyone else.
    let (status, body) = s.post(Some(&user), "/api/v1/metrics/tokens", json!({"name": "prometheus"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(s.get(Some(&user), "/api/v1/metrics/tokens").await.0, StatusCode::FORBIDDEN);
    let (_, list) = s.get(Some(&s.admin), "/api/v1/metrics/tokens").await;
    assert_eq!(list, json!([]), "the refused request made nothing");
    let (status, body) = s.post(Some(&s.admin), "/api/v1/metrics/tokens", json!({"name": " "})).await;
    assert_eq!((status, body["parameter"].as_str()), (StatusCode::BAD_REQUEST, Some("name")), "{body}");
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/metrics/tokens", json!({"name": "p", "expires_in_days": 0})).await;
    assert_eq!((status, body["parameter"].as_str()), (StatusCode::BAD_REQUEST, Some("expires_in_days")), "{body}");

    let (status, made) = s.post(Some(&s.admin), "/api/v1/metrics/tokens", json!({"name": "prometheus"})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let token = made["token"].as_str().expect("the token").to_string();
    let id = made["id"].as_i64().expect("an id");
    // It reads /metrics…
    let m = scrape(&s, &token).await;
    assert_eq!(value(&m, "xif_active_versions", &[]), 0.0);
    // …and nothing else: no API route takes it as a user's token.
    for path in ["/api/v1/me", "/api/v1/extensions", "/api/v1/users"] {
        let (status, body) = s.get(Some(&token), path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
    }
    let (_, list) = s.get(Some(&s.admin), "/api/v1/metrics/tokens").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!((list[0]["name"].as_str(), list[0]["user"].as_str()), (Some("prometheus"), Some("admin")));
    assert!(list[0]["revoked_at"].is_null() && !list.to_string().contains(&token), "listed without its secret");

    // Revoked: refused at once.
    assert_eq!(s.delete(Some(&user), &format!("/api/v1/metrics/tokens/{id}")).await.0, StatusCode::FORBIDDEN);
    assert!(!scrape(&s, &token).await.samples.is_empty(), "a refused revocation changed nothing");
    assert_eq!(s.delete(Some(&s.admin), &format!("/api/v1/metrics/tokens/{id}")).await.0, StatusCode::NO_CONTENT);
    let resp = s.client.get(s.url("/metrics")).bearer_auth(&token).send().await.expect("scrape");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.delete(Some(&s.admin), &format!("/api/v1/metrics/tokens/{id}")).await.0, StatusCode::NOT_FOUND);

    // A token made by an administrator who is one no longer stops working.
    let boss = s.user("boss", &[]).await;
    let admin =
        |is: bool| s.client.patch(s.url("/api/v1/users/boss")).bearer_auth(&s.admin).json(&json!({"admin": is})).send();
    let status = admin(true).await.expect("patch").status();
    assert!(status.is_success(), "boss is made an administrator: {status}");
    let (status, made) = s.post(Some(&boss), "/api/v1/metrics/tokens", json!({"name": "boss's"})).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let bosses = made["token"].as_str().expect("the token").to_string();
    scrape(&s, &bosses).await;
    let status = admin(false).await.expect("patch").status();
    assert!(status.is_success(), "{status}");
    let resp = s.client.get(s.url("/metrics")).bearer_auth(&bosses).send().await.expect("scrape");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "its maker is no administrator now");
}
