//! Issue 12, action calls: what a caller with no permissions, or an extension's own code, can
//! make the server do. Each test names the bound it guards; each failed before that bound existed.
use std::io::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use xif_runtime::{LogHook, LogLine};

use crate::support::{Fixture, TestServer, config, server_test};

/// The data directory's database files, in bytes, after a WAL checkpoint through a separate
/// connection.
async fn database_bytes(dir: &Path) -> u64 {
    if crate::support::engine() == crate::support::Engine::Postgres {
        // The database's files are the PostgreSQL server's, shared by every test: the bound is
        // checked on SQLite, the row count on both.
        return 0;
    }
    let db = dir.join("xif.db");
    let mut conn = sqlite(dir).await;
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").await.expect("checkpoint");
    conn.close().await.expect("close");
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    len(&db) + len(&dir.join("xif.db-wal"))
}

async fn sqlite(dir: &Path) -> xif_store::testing::Probe {
    let url = crate::support::database_url(dir);
    xif_store::testing::Probe::connect(&url).await.expect("a second connection to xif.db")
}

async fn failed_calls(dir: &Path, extension: &str) -> Vec<(String, String)> {
    let mut conn = sqlite(dir).await;
    let rows = conn
        .rows("SELECT action, message FROM action_errors WHERE extension = $1 ORDER BY id", &[extension])
        .await
        .expect("read action_errors");
    rows.into_iter().map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default())).collect()
}

/// Guards the bounds of the failed-call log (issue 12, item 2): an action name longer than any
/// legal name is a 404 that is not recorded (2,000 of them, 60 KB each, grew the database by
/// 250 MB before), and what is recorded is bounded in length, in count per extension (newest
/// kept) and in age.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_calls_are_bounded_in_name_length_count_and_age() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.failed_calls_kept = 10;
    let s = Arc::new(TestServer::start_with(c, dir.clone()).await);
    s.deploy("ServerTest", &server_test("1")).await;
    let nobody = s.user("nobody", &[]).await;

    let before = database_bytes(dir.path()).await;
    let long = "A".repeat(60 * 1024);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let (s, nobody, long) = (s.clone(), nobody.clone(), long.clone());
        tasks.spawn(async move {
            for _ in (worker..2000).step_by(16) {
                let (status, body, _) = s.call(&nobody, "ServerTest", &long, json!({})).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a caller");
    }
    let (status, body, _) = s.call(&nobody, "ServerTest", &long, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let message = body["message"].as_str().expect("a message");
    assert!(message.contains("at most 50 characters") && message.len() < 200, "{message}");
    let grown = database_bytes(dir.path()).await.saturating_sub(before);
    eprintln!("2000 calls with a 60 KB action name grew the database by {grown} bytes");
    assert!(grown < 1 << 20, "the database grew by {grown} bytes");

    // A legal but unknown name and a failing action are recorded, cut to size, newest kept.
    let (status, _, _) = s.call(&nobody, "ServerTest", "NoSuchAction", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let huge = "x".repeat(100_000);
    for i in 0..30 {
        let (status, _, _) = s.call(&nobody, "ServerTest", "Fail", json!({"Message": format!("{i} {huge}")})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let rows = failed_calls(dir.path(), "ServerTest").await;
    assert_eq!(rows.len(), 10, "the newest 10 are kept");
    assert!(rows[9].1.starts_with("29 "), "the newest is kept: {:.20}", rows[9].1);
    assert!(rows.iter().all(|(a, m)| a == "Fail" && m.chars().count() <= 2001), "messages are cut");

    // Older than the age limit (7 days by default): forgotten at the next failure.
    let mut conn = sqlite(dir.path()).await;
    conn.execute("UPDATE action_errors SET at = at - 8 * 24 * 3600 * 1000").await.expect("age");
    conn.close().await.expect("close");
    let (status, _, _) = s.call(&nobody, "ServerTest", "Fail", json!({"Message": "recent"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let rows = failed_calls(dir.path(), "ServerTest").await;
    assert_eq!(rows, vec![("Fail".to_string(), "recent".to_string())]);
}

/// Guards the page size of a guest's entity query (issue 12, item 3): a query may ask for at
/// most `Limits::query_rows` records (it had no cap), and says so when it asks for more.
#[tokio::test]
async fn a_guest_query_asks_for_at_most_the_page_size() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.query_rows = 5;
    let s = TestServer::start_with(c, dir).await;
    s.deploy("GuestBook", &Fixture::load("GuestBook").package()).await;
    for i in 0..7 {
        let (status, body, _) = s.call(&s.admin, "GuestBook", "Sign", json!({"Who": format!("guest {i}")})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Visits", json!({"Limit": 5})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Visits"].as_array().map(Vec::len), Some(5));
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Visits", json!({"Limit": 6})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 5 records"), "{message}");
}

/// Guards the output limit (issue 12, item 3): an output larger as JSON than
/// `Limits::call_output_bytes` is a 500 `output_too_large` naming the limit (it had no limit);
/// an action error's message is cut at it.
#[tokio::test]
async fn outputs_over_the_limit_are_refused() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_output_bytes = 64 << 10;
    let s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    let who = "w".repeat(10_000);
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": who, "Times": 3})).await;
    assert_eq!(status, StatusCode::OK, "30 KB is under the limit");
    let (status, body2, _) = s.call(&s.admin, "ServerTest", "Hello", json!({"Who": who, "Times": 10})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{:.200}", body2.to_string());
    assert_eq!(body2["error"], "output_too_large", "{body}");
    assert!(
        body2["message"].as_str().unwrap_or_default().contains("64 KiB")
            || body2["message"].to_string().contains("65536"),
        "{body2}"
    );
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Fail", json!({"Message": "m".repeat(100_000)})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].as_str().unwrap_or_default().len() < 70_000, "the action's message is cut");
}

/// A latch on the `Wait` action of one extension: each call there is counted in `entered` and
/// held until `release` has permits.
struct Held {
    entered: tokio::sync::Semaphore,
    release: tokio::sync::Semaphore,
}

fn hold(extension: &'static str) -> (Arc<Held>, LogHook) {
    let held = Arc::new(Held { entered: tokio::sync::Semaphore::new(0), release: tokio::sync::Semaphore::new(0) });
    let h = held.clone();
    let hook: LogHook = Arc::new(move |line: &LogLine| {
        if line.message != "latch" || line.extension != extension {
            return None;
        }
        h.entered.add_permits(1);
        let h = h.clone();
        Some(Box::pin(async move {
            if let Ok(p) = h.release.acquire().await {
                p.forget();
            }
        }))
    });
    (held, hook)
}

/// Guards each extension's fair share of the call slots and its bounded queue (issue 12,
/// item 3): with 4 slots and at most 2 per extension, one extension's held calls leave another
/// extension answering (before, its calls took every slot and the other waited without end); a
/// call beyond the extension's queue is a 503 with `Retry-After` at once, and a queued call that
/// waits too long is one too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_extensions_slow_calls_leave_the_others_answering() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.max_instances = 4;
    c.limits.calls_per_extension = 2;
    c.limits.call_queue_per_extension = 1;
    c.limits.call_queue_wait = Duration::from_secs(2);
    let (held, hook) = hold("ServerTest");
    c.call_log_hook = Some(hook);
    let s = Arc::new(TestServer::start_with(c, dir).await);
    s.deploy("ServerTest", &server_test("1")).await;
    s.deploy("RuntimeTest", &Fixture::load("RuntimeTest").package()).await;
    let nobody = s.user("nobody", &[]).await;

    let wait_call = || {
        let (s, nobody) = (s.clone(), nobody.clone());
        tokio::spawn(async move {
            let resp = s
                .client
                .post(s.url("/api/v1/extensions/ServerTest/actions/Wait"))
                .bearer_auth(&nobody)
                .json(&json!({}))
                .send()
                .await
                .expect("an answer");
            let retry = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            (resp.status(), retry, resp.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    let running = [wait_call(), wait_call()];
    let entered = tokio::time::timeout(Duration::from_secs(10), held.entered.acquire_many(2)).await;
    entered.expect("two calls are held inside the action").expect("semaphore").forget();
    let queued = wait_call();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Beyond the queue: refused at once, because the queue is full (not after a wait).
    let (status, retry, body) = wait_call().await.expect("task");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "busy");
    assert_eq!(retry.as_deref(), Some("1"));
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("2 calls run and 1 wait already"), "refused as a full queue, without waiting: {body}");

    // The other extension still answers.
    let other = s.call(&nobody, "RuntimeTest", "Noop", json!({}));
    let (status, body, _) = tokio::time::timeout(Duration::from_secs(10), other).await.expect("RuntimeTest answers");
    assert_eq!(status, StatusCode::OK, "{body}");

    // The queued call waited its 2 s, then was refused.
    let (status, retry, body) =
        tokio::time::timeout(Duration::from_secs(10), queued).await.expect("ends").expect("task");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(body["message"].as_str().unwrap_or_default().contains("ServerTest"), "{body}");

    held.release.add_permits(10);
    for call in running {
        let (status, _, body) = tokio::time::timeout(Duration::from_secs(10), call).await.expect("ends").expect("task");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _, _) = s.call(&nobody, "ServerTest", "Hello", json!({"Who": "Ada"})).await;
    assert_eq!(status, StatusCode::OK);
}

/// Guards the deadline of a guest's database work (issue 12, item 3): a write that waits on a
/// locked database gives up at the call's deadline instead of going on after the call has
/// ended (before, the write landed once the lock was released, after the caller saw a timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn entity_work_stops_at_the_call_deadline() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_time = Duration::from_secs(1);
    let s = TestServer::start_with(c, dir.clone()).await;
    s.deploy("GuestBook", &Fixture::load("GuestBook").package()).await;

    let mut lock = sqlite(dir.path()).await;
    let lock_sql = match crate::support::engine() {
        crate::support::Engine::Sqlite => "BEGIN EXCLUSIVE",
        crate::support::Engine::Postgres => "BEGIN; LOCK TABLE xe1_0 IN ACCESS EXCLUSIVE MODE",
    };
    lock.execute(lock_sql).await.expect("lock the database");
    let started = Instant::now();
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Sign", json!({"Who": "late"})).await;
    let took = started.elapsed();
    assert!(status == StatusCode::GATEWAY_TIMEOUT || status == StatusCode::UNPROCESSABLE_ENTITY, "{status} {body}");
    // (The answer itself may wait for the failed-call log's own insert, up to the pool's busy
    // timeout of 10 s: that write is the server's, not the guest's.)
    assert!(took < Duration::from_secs(15), "the call ended: {took:?}");
    // Keep the lock past the server's usual busy timeout of the call, then release it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    lock.execute("COMMIT").await.expect("unlock");
    lock.close().await.expect("close");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, body) = s.get(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"].as_array().map(Vec::len), Some(0), "no write after the call ended: {body}");
}

/// Sends a call with this `Content-Length` but only `send` bytes of its body, and keeps the
/// connection open: the body's memory stays reserved.
fn partial_call(url: &str, token: &str, path: &str, length: usize, send: usize) -> TcpStream {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
    .expect("write");
    s.write_all(&vec![b' '; send]).expect("write");
    s
}

/// Guards the memory budget of call inputs (issue 12, item 1): bodies are weighed by their
/// `Content-Length` before they are read, so a call whose body does not fit waits, then gets a
/// 503 with `Retry-After`, while a small call still goes through; an input whose conversion
/// alone needs more than the budget is a 413 before anything is built.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn call_inputs_wait_for_memory_and_small_calls_are_not_starved() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_input_memory = 8 << 20; // 2 MiB for bodies, 6 MiB for conversions
    c.limits.call_queue_wait = Duration::from_millis(500);
    let s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    s.deploy("AllTypes", &Fixture::load("AllTypes").package()).await;
    let nobody = s.user("nobody", &[]).await;
    let path = "/api/v1/extensions/ServerTest/actions/Hello";

    // Two slow bodies hold the body budget.
    let held =
        [partial_call(&s.url, &nobody, path, 1_000_000, 1000), partial_call(&s.url, &nobody, path, 1_000_000, 1000)];
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body, headers) = s.post_raw(Some(&nobody), path, vec![b' '; 1_000_000]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "busy");
    assert_eq!(headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    // A small call is not starved.
    let (status, body, _) = s.call(&nobody, "ServerTest", "Hello", json!({"Who": "Ada"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // An input that needs more memory to convert than the whole budget: refused before it is built.
    let nested = format!("[[{}0]]", "0,".repeat(400_000));
    let input = format!(
        r#"{{"Words": "", "Int": 0, "Long": 0, "Dec": "0", "Flag": false, "Day": "2024-01-01", "At": "00:00:00", "When": "2024-01-01T00:00:00Z", "Data": "", "Nested": {nested}}}"#
    );
    let (status, body, _) =
        s.post_raw(Some(&nobody), "/api/v1/extensions/AllTypes/actions/Compute", input.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("memory"), "{body}");

    // A body that is not an object is refused by its first byte, as before.
    let (status, body, _) = s.post_raw(Some(&nobody), path, format!("[{}0]", "0,".repeat(100_000)).into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("JSON object of its inputs"), "{body}");
}
