//! Several nodes on one PostgreSQL: real `xif serve` processes sharing one database (its own per
//! test, in the test process's PostgreSQL from `xif-testpg`). They wait up to 10 s for anything
//! to propagate; how fast it is in fact is `cargo xtask bench-cluster`'s figure.
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use support::{Client, Node, NodeOptions, eventually, server_test};

/// Three nodes on a fresh database, started at the same moment (they migrate one at a time and
/// create `admin` once).
fn three(root: &std::path::Path, database: &str) -> Vec<Node> {
    let names = ["a", "b", "c"];
    std::thread::scope(|s| {
        let started: Vec<_> = names
            .iter()
            .map(|name| s.spawn(move || Node::start(root, name, database, NodeOptions::default())))
            .collect();
        started.into_iter().map(|h| h.join().expect("a node starts")).collect()
    })
}

/// Waits until `node` answers `Which` with version `version` (tag `tag`).
async fn serves(client: &Client, node: &Node, token: &str, version: i64, tag: &str) {
    eventually(&format!("node {} serves version {version}", node.name), || async {
        let (status, body, answered) = client.which(&node.url, token).await;
        (status == StatusCode::OK && answered == Some(version) && body["Version"] == tag).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_through_one_node_is_served_by_every_node() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("publish_propagates");
    let nodes = three(root.path(), &database);
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let client = Client::new();
    let token = client.admin(&a.url).await;

    let v1 = client.upload(&a.url, &token, "ServerTest", server_test("one")).await;
    let (status, body, _) = client.publish(&a.url, &token, "ServerTest", v1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for node in [b, c] {
        serves(&client, node, &token, v1, "one").await;
    }
    let v2 = client.upload(&b.url, &token, "ServerTest", server_test("two")).await;
    let (status, body, _) = client.publish(&a.url, &token, "ServerTest", v2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for node in [a, b, c] {
        serves(&client, node, &token, v2, "two").await;
    }
    // A rollback on C goes back everywhere.
    let (status, body, _) = client
        .post(&c.url, &format!("/api/v1/extensions/ServerTest/versions/{v1}/rollback"), Some(&token), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for node in [a, b] {
        serves(&client, node, &token, v1, "one").await;
    }
    assert!(b.log().contains("serves a version activated on another node"), "{}", b.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_publishes_at_the_same_moment_on_two_nodes_become_consecutive_versions() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("concurrent_publishes");
    let nodes = three(root.path(), &database);
    let client = Client::new();
    let token = client.admin(&nodes[0].url).await;

    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let mut tasks = Vec::new();
    for (node, tag) in [(nodes[0].url.clone(), "from-a"), (nodes[1].url.clone(), "from-b")] {
        let (client, token, barrier) = (client.clone(), token.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let package = server_test(tag);
            barrier.wait().await;
            let version = client.upload(&node, &token, "ServerTest", package).await;
            let (status, body, _) = client.publish(&node, &token, "ServerTest", version).await;
            assert_eq!(status, StatusCode::OK, "the publish through {node} succeeds: {body}");
            (version, tag)
        }));
    }
    let mut published = Vec::new();
    for t in tasks {
        published.push(t.await.expect("the publish task"));
    }
    let mut numbers: Vec<i64> = published.iter().map(|(v, _)| *v).collect();
    numbers.sort();
    assert_eq!(numbers, vec![1, 2], "consecutive versions: {published:?}");

    let (status, versions, _) = client.get(&nodes[2].url, "/api/v1/extensions/ServerTest/versions", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{versions}");
    let active: Vec<i64> = versions
        .as_array()
        .expect("a list")
        .iter()
        .filter(|v| v["active"] == true)
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(active.len(), 1, "exactly one active version: {versions}");
    let tag = published.iter().find(|(v, _)| *v == active[0]).map(|(_, t)| *t).expect("a published tag");
    for node in &nodes {
        serves(&client, node, &token, active[0], tag).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_node_is_refused_on_another() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("revocation_propagates");
    let nodes = three(root.path(), &database);
    let (a, c) = (&nodes[0], &nodes[2]);
    let client = Client::new();
    let admin = client.admin(&a.url).await;
    let (status, created, _) =
        client.post(&a.url, "/api/v1/tokens", Some(&admin), json!({"name": "ci", "expires_in_days": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().expect("token").to_string();
    let id = created["id"].as_i64().expect("id");
    // C knows (and caches) the token.
    let (status, me, _) = client.get(&c.url, "/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");

    let (status, body, _) = client.delete(&a.url, &format!("/api/v1/tokens/{id}"), Some(&admin)).await;
    assert!(status.is_success(), "revoked: {status} {body}");
    eventually("node C refuses the revoked token", || async {
        (client.get(&c.url, "/api/v1/me", Some(&token)).await.0 == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_change_on_one_node_is_seen_by_calls_on_another() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("settings_propagate");
    let nodes = three(root.path(), &database);
    let (a, b) = (&nodes[0], &nodes[1]);
    let client = Client::new();
    let token = client.admin(&a.url).await;
    let v1 = client.upload(&a.url, &token, "ServerTest", server_test("one")).await;
    assert_eq!(client.publish(&a.url, &token, "ServerTest", v1).await.0, StatusCode::OK);
    serves(&client, b, &token, v1, "one").await;

    let get = |node: String| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            let (status, body, _) = client
                .post(
                    &node,
                    "/api/v1/extensions/ServerTest/actions/GetSetting",
                    Some(&token),
                    json!({"Name": "Greeting"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["Value"].as_str().map(str::to_string)
        }
    };
    assert_eq!(get(a.url.clone()).await.as_deref(), Some("Hello"), "the default first");
    let (status, body, _) = client
        .put(&b.url, "/api/v1/extensions/ServerTest/settings", Some(&token), json!({"values": {"Greeting": "Hej"}}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("a call on node A reads the setting changed on node B", || async {
        (get(a.url.clone()).await.as_deref() == Some("Hej")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_a_publish_leaves_every_node_on_the_old_version() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("killed_during_publish");
    let a = Node::start(root.path(), "a", &database, NodeOptions::default());
    // B pauses every publish inside its database transaction, after the schema step.
    let pause = NodeOptions { env: vec![("XIF_FAILPOINT", "publish.schema:pause")], ..NodeOptions::default() };
    let mut b = Node::start(root.path(), "b", &database, pause);
    let c = Node::start(root.path(), "c", &database, NodeOptions::default());
    let client = Client::new();
    let token = client.admin(&a.url).await;
    let v1 = client.upload(&a.url, &token, "ServerTest", server_test("old")).await;
    assert_eq!(client.publish(&a.url, &token, "ServerTest", v1).await.0, StatusCode::OK);
    for node in [&b, &c] {
        serves(&client, node, &token, v1, "old").await;
    }

    let v2 = client.upload(&b.url, &token, "ServerTest", server_test("new")).await;
    let publishing = {
        let (client, token, url) = (client.clone(), token.clone(), b.url.clone());
        tokio::spawn(async move { client.publish(&url, &token, "ServerTest", v2).await })
    };
    let marker = b.data.join("failpoint-publish.schema");
    eventually("node B pauses inside its publish", || async { marker.exists().then_some(()) }).await;
    // B holds the extension's lock in the database: a settings change through A waits for it.
    let changing = {
        let (client, token, url) = (client.clone(), token.clone(), a.url.clone());
        tokio::spawn(async move {
            client
                .put(
                    &url,
                    "/api/v1/extensions/ServerTest/settings",
                    Some(&token),
                    json!({"values": {"Greeting": "Hej"}}),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!changing.is_finished(), "a settings change on A waits while B holds the extension's lock");
    b.kill();
    let (status, body, _) = changing.await.expect("the settings task");
    assert_eq!(status, StatusCode::OK, "the settings change goes through once B is gone: {body}");
    let (status, _, _) = publishing.await.expect("the publish request");
    assert!(!status.is_success(), "the killed node's publish did not answer success: {status}");

    // Every node left serves exactly the old version; the database agrees.
    for node in [&a, &c] {
        for _ in 0..5 {
            let (status, body, version) = client.which(&node.url, &token).await;
            assert_eq!(
                (status, version, body["Version"].as_str()),
                (StatusCode::OK, Some(v1), Some("old")),
                "node {}",
                node.name
            );
        }
    }
    let (_, versions, _) = client.get(&a.url, "/api/v1/extensions/ServerTest/versions", Some(&token)).await;
    let active: Vec<_> = versions.as_array().expect("list").iter().filter(|v| v["active"] == true).collect();
    assert_eq!(active.len(), 1, "{versions}");
    assert_eq!(active[0]["version"], v1, "{versions}");
    // The killed node's lock went with its connection: the same version publishes through A.
    let (status, body, _) = client.publish(&a.url, &token, "ServerTest", v2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serves(&client, &c, &token, v2, "new").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_republishes_through_alternating_nodes_fail_no_call() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("republishes");
    let nodes = three(root.path(), &database);
    let client = Client::new();
    let token = client.admin(&nodes[0].url).await;
    let v1 = client.upload(&nodes[0].url, &token, "ServerTest", server_test("one")).await;
    let v2 = client.upload(&nodes[1].url, &token, "ServerTest", server_test("two")).await;
    assert_eq!(client.publish(&nodes[2].url, &token, "ServerTest", v1).await.0, StatusCode::OK);
    for node in &nodes {
        serves(&client, node, &token, v1, "one").await;
    }

    let stop = Arc::new(tokio::sync::Notify::new());
    let (calls, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(std::sync::Mutex::new(Vec::new())));
    let mut callers = Vec::new();
    for node in &nodes {
        let (client, token, url) = (client.clone(), token.clone(), node.url.clone());
        let (stop, calls, failed) = (stop.clone(), calls.clone(), failed.clone());
        callers.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.notified() => break,
                    (status, body, version) = client.which(&url, &token) => {
                        calls.fetch_add(1, Ordering::Relaxed);
                        let right = match version {
                            Some(v) if v == v1 => body["Version"] == "one",
                            Some(v) if v == v2 => body["Version"] == "two",
                            _ => false,
                        };
                        if status != StatusCode::OK || !right {
                            failed.lock().expect("lock").push(format!("{url}: {status} {version:?} {body}"));
                        }
                    }
                }
            }
        }));
    }
    for i in 0..20 {
        let node = &nodes[i % 3];
        let version = if i % 2 == 0 { v2 } else { v1 };
        let (status, body, _) = client.publish(&node.url, &token, "ServerTest", version).await;
        assert_eq!(status, StatusCode::OK, "publish {i} through node {}: {body}", node.name);
        // Every node follows each publish (while the callers keep calling).
        let tag = if version == v1 { "one" } else { "two" };
        for node in &nodes {
            serves(&client, node, &token, version, tag).await;
        }
    }
    // The last publish was of v1: every node ends there.
    for node in &nodes {
        serves(&client, node, &token, v1, "one").await;
    }
    stop.notify_waiters();
    for c in callers {
        stop.notify_waiters();
        let _ = tokio::time::timeout(Duration::from_secs(30), c).await;
    }
    let failed = failed.lock().expect("lock");
    assert!(calls.load(Ordering::Relaxed) > 0);
    assert!(failed.is_empty(), "{} of {} calls failed: {:#?}", failed.len(), calls.load(Ordering::Relaxed), *failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_the_database_keeps_serving_calls_and_heals_by_itself() {
    let root = tempfile::tempdir().expect("tempdir");
    // Its own PostgreSQL: this test stops it.
    let pg = xif_testpg::Postgres::start();
    let database = pg.database("loses_the_database");
    // A reconciles every second: its cached principals are then due for a check in the
    // database, so the calls below, with the database gone, take the stale path.
    let a = Node::start(root.path(), "a", &database, NodeOptions { reconcile_ms: 1_000, ..NodeOptions::default() });
    let b = Node::start(root.path(), "b", &database, NodeOptions::default());
    let client = Client::new();
    let token = client.admin(&a.url).await;
    let v1 = client.upload(&a.url, &token, "ServerTest", server_test("one")).await;
    assert_eq!(client.publish(&a.url, &token, "ServerTest", v1).await.0, StatusCode::OK);
    serves(&client, &a, &token, v1, "one").await;
    assert_eq!(client.get(&a.url, "/api/v1/ready", None).await.0, StatusCode::OK);
    // A token A has seen, revoked through B: it must not come back while the database is gone.
    let (status, created, _) =
        client.post(&a.url, "/api/v1/tokens", Some(&token), json!({"name": "revoked", "expires_in_days": 1})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let revoked = created["token"].as_str().expect("token").to_string();
    assert_eq!(client.which(&a.url, &revoked).await.0, StatusCode::OK);
    let id = created["id"].as_i64().expect("id");
    assert!(client.delete(&b.url, &format!("/api/v1/tokens/{id}"), Some(&token)).await.0.is_success());
    eventually("A refuses the token revoked on B", || async {
        (client.which(&a.url, &revoked).await.0 == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    // The revocation cleared A's cache: the token in use is checked (and cached) again.
    assert_eq!(client.which(&a.url, &token).await.0, StatusCode::OK);
    // Past one reconcile of A (every second) with the database still there, which marks the
    // cached principals for a check.
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    pg.stop();
    // A notices the loss on its listening connection (then trusts the tokens it checked lately).
    eventually("node A notices it lost the database", || async {
        a.log().contains("cannot listen for other nodes' changes").then_some(())
    })
    .await;
    for _ in 0..5 {
        let (status, body, version) = client.which(&a.url, &token).await;
        assert_eq!((status, version), (StatusCode::OK, Some(v1)), "a loaded version still answers: {body}");
    }
    let (status, body, _) = client.which(&a.url, &revoked).await;
    assert_ne!(status, StatusCode::OK, "a revoked token stays refused while the database is gone: {body}");
    let (status, body, _) = client.get(&a.url, "/api/v1/ready", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("database")), "{body}");
    let req = reqwest::Client::new()
        .post(format!("{}/api/v1/extensions/ServerTest/versions", a.url))
        .bearer_auth(&token)
        .body(server_test("two"));
    let answer = req.send().await.expect("an answer");
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a write while the database is gone: {body}");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("database is unreachable")), "{body}");

    pg.start_again();
    eventually("node A is ready again", || async {
        (client.get(&a.url, "/api/v1/ready", None).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    let v2 = client.upload(&a.url, &token, "ServerTest", server_test("two")).await;
    let (status, body, _) = client.publish(&a.url, &token, "ServerTest", v2).await;
    assert_eq!(status, StatusCode::OK, "a write after the database is back: {body}");
    serves(&client, &a, &token, v2, "two").await;
    // B listens again by itself (its reconcile is 10 minutes away): it follows a publish on A.
    serves(&client, &b, &token, v2, "two").await;
    let v3 = client.upload(&b.url, &token, "ServerTest", server_test("three")).await;
    assert_eq!(client.publish(&b.url, &token, "ServerTest", v3).await.0, StatusCode::OK);
    serves(&client, &a, &token, v3, "three").await;
    assert!(a.log().contains("reading the state again"), "{}", a.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_refuses_a_database_migrated_by_a_newer_build() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("newer_schema");
    // This build migrates the database, then a newer one adds its migration.
    let mut first = Node::start(root.path(), "a", &database, NodeOptions::default());
    first.kill();
    let name = database.rsplit('/').next().expect("a database name");
    xif_testpg::shared()
        .psql(
            name,
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'added by a newer xif', TRUE, '\\x00', 1)",
        )
        .expect("the newer migration is recorded");

    let (code, log) = Node::refused(root.path(), "b", &database);
    assert_ne!(code, Some(0), "{log}");
    assert!(
        log.contains("99990101000000") && log.contains("added by a newer xif") && log.contains("does not know"),
        "the refusal names the migration it does not know: {log}"
    );
    // Nothing was changed: the newer migration is still the newest.
    let newest = xif_testpg::shared().psql(name, "SELECT MAX(version) FROM _sqlx_migrations").expect("psql");
    assert_eq!(newest, "99990101000000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_restarted_one_by_one_join_with_the_active_version_and_no_call_fails() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("rolling_restart");
    let mut nodes: Vec<Option<Node>> = three(root.path(), &database).into_iter().map(Some).collect();
    let client = Client::new();
    let token = client.admin(&nodes[0].as_ref().expect("a").url).await;
    let first = nodes[0].as_ref().expect("a").url.clone();
    let v1 = client.upload(&first, &token, "ServerTest", server_test("one")).await;
    assert_eq!(client.publish(&first, &token, "ServerTest", v1).await.0, StatusCode::OK);
    for node in nodes.iter().flatten() {
        serves(&client, node, &token, v1, "one").await;
    }

    // A load balancer: calls go to the nodes that are up, in turn.
    let up = Arc::new(std::sync::Mutex::new(nodes.iter().flatten().map(|n| n.url.clone()).collect::<Vec<_>>()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicU64::new(0));
    let caller = {
        let (client, token, up, stop, failed, calls) =
            (client.clone(), token.clone(), up.clone(), stop.clone(), failed.clone(), calls.clone());
        tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let url = {
                    let up = up.lock().expect("lock");
                    up[i % up.len()].clone()
                };
                i += 1;
                let (status, body, version) = client.which(&url, &token).await;
                calls.fetch_add(1, Ordering::Relaxed);
                if status != StatusCode::OK || version != Some(v1) {
                    failed.lock().expect("lock").push(format!("{url}: {status} {version:?} {body}"));
                }
            }
        })
    };
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        let old = nodes[i].take().expect("running");
        up.lock().expect("lock").retain(|u| *u != old.url);
        // Out of the balancer first, then stopped (SIGTERM: it drains), then started again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        old.terminate();
        let node = Node::start(root.path(), name, &database, NodeOptions::default());
        assert!(node.log().contains("loaded"), "a node that starts loads the active version: {}", node.log());
        serves(&client, &node, &token, v1, "one").await;
        up.lock().expect("lock").push(node.url.clone());
        nodes[i] = Some(node);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    caller.await.expect("the caller");
    let failed = failed.lock().expect("lock");
    assert!(calls.load(Ordering::Relaxed) > 0);
    assert!(failed.is_empty(), "{} of {} calls failed: {:#?}", failed.len(), calls.load(Ordering::Relaxed), *failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_count_on_every_node() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("shared_login_throttle");
    let nodes = three(root.path(), &database);
    let client = Client::new();
    let wrong = json!({"user": "admin", "password": "not the password"});
    // Three failures through A and two through B: the pair's five free ones.
    for (node, times) in [(&nodes[0], 3), (&nodes[1], 2)] {
        for _ in 0..times {
            let (status, body, _) = client.post(&node.url, "/api/v1/login", None, wrong.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "node {}: {body}", node.name);
        }
    }
    // C has seen none of them, and still makes the pair wait.
    let (status, body, _) = client.post(&nodes[2].url, "/api/v1/login", None, wrong.clone()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "node C counts the other nodes' failures: {body}");
    // Once the wait is over, the right password clears the pair on every node.
    let right = json!({"user": "admin", "password": support::PASSWORD});
    eventually("the right password is taken once the wait is over", || async {
        (client.post(&nodes[2].url, "/api/v1/login", None, right.clone()).await.0 == StatusCode::OK).then_some(())
    })
    .await;
    let (status, body, _) = client.post(&nodes[0].url, "/api/v1/login", None, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a fresh count on A after the success on C: {body}");
}

/// How many of 100 calls to `node` each version answered.
async fn split(client: &Client, node: &Node, token: &str) -> std::collections::BTreeMap<i64, u32> {
    let mut by = std::collections::BTreeMap::new();
    for _ in 0..100 {
        let (status, body, answered) = client.which(&node.url, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        *by.entry(answered.unwrap_or(0)).or_insert(0) += 1;
    }
    by
}

/// Waits until 100 calls to `node` split as `want` (version → calls): every node splits the
/// same, exactly, once it follows the change (each spreads N of every 100 of its calls).
async fn splits(client: &Client, node: &Node, token: &str, want: &[(i64, u32)]) {
    let want: std::collections::BTreeMap<i64, u32> = want.iter().copied().collect();
    let started = std::time::Instant::now();
    loop {
        let got = split(client, node, token).await;
        if got == want {
            return;
        }
        assert!(started.elapsed() < support::WAIT, "node {} splits {got:?}, not {want:?}", node.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_started_moved_and_aborted_on_one_node_splits_the_same_on_another() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("rollout_propagates");
    let a = Node::start(root.path(), "a", &database, NodeOptions::default());
    let b = Node::start(root.path(), "b", &database, NodeOptions::default());
    let client = Client::new();
    let token = client.admin(&a.url).await;
    let v1 = client.upload(&a.url, &token, "ServerTest", server_test("one")).await;
    let (status, body, _) = client.publish(&a.url, &token, "ServerTest", v1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serves(&client, &b, &token, v1, "one").await;

    let v2 = client.upload(&a.url, &token, "ServerTest", server_test("two")).await;
    let path = format!("/api/v1/extensions/ServerTest/versions/{v2}/publish?gradual=10");
    let (status, body, _) = client.post(&a.url, &path, Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    splits(&client, &b, &token, &[(v1, 90), (v2, 10)]).await;

    // Moved on through B: A follows.
    let (status, body, _) =
        client.put(&b.url, "/api/v1/extensions/ServerTest/rollout", Some(&token), json!({"percent": 50})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    splits(&client, &a, &token, &[(v1, 50), (v2, 50)]).await;

    // Aborted through A: B gives every call to version 1 again.
    let (status, body, _) = client.delete(&a.url, "/api/v1/extensions/ServerTest/rollout", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    splits(&client, &b, &token, &[(v1, 100)]).await;

    // Again, then 100% through B: both serve version 2 alone.
    let (status, body, _) = client.post(&a.url, &path, Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) =
        client.put(&b.url, "/api/v1/extensions/ServerTest/rollout", Some(&token), json!({"percent": 100})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    splits(&client, &a, &token, &[(v2, 100)]).await;
    splits(&client, &b, &token, &[(v2, 100)]).await;
    assert!(b.log().contains("serves a version activated on another node"), "{}", b.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_followed_on_one_node_shows_the_lines_of_calls_on_another() {
    let root = tempfile::tempdir().expect("tempdir");
    let database = xif_testpg::database("logs_across_nodes");
    let nodes = three(root.path(), &database);
    let (a, b) = (&nodes[0], &nodes[1]);
    let client = Client::new();
    let token = client.admin(&a.url).await;
    let v1 = client.upload(&a.url, &token, "ServerTest", server_test("one")).await;
    let (status, body, _) = client.publish(&a.url, &token, "ServerTest", v1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serves(&client, b, &token, v1, "one").await;

    // B follows (from now on); a call through A logs a line; B sends it within 10 s.
    let mut follow = reqwest::Client::new()
        .get(format!("{}/api/v1/extensions/ServerTest/logs?follow=true&limit=0", b.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("follow on B");
    assert_eq!(follow.status(), StatusCode::OK);
    let (status, body, _) =
        client.post(&a.url, "/api/v1/extensions/ServerTest/actions/Wait", Some(&token), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut text = String::new();
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(chunk)) = follow.chunk().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("\"action\":\"Wait\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "B's follower got the line of the call on A: {text}");
}
