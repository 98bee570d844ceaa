//! Issue 12, publishing, settings and secrets: what a hostile package or an unpermitted user
//! must not get from publish, rollback, delete and the settings.
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Fixture, TestServer, config};

fn message(body: &Value) -> String {
    body["message"].as_str().unwrap_or_default().to_string()
}

/// Greetings with its entity Visit.
fn greetings_with_entities() -> Vec<u8> {
    Fixture::load("Greetings").package()
}

/// An extension named Greetings without entities (ServerTest's code).
fn greetings_without_entities() -> Vec<u8> {
    let mut f = Fixture::load("ServerTest").with_resource("resources/version.txt", "plain\n");
    f.definition = f.definition.replace("name = \"ServerTest\"", "name = \"Greetings\"");
    f.package()
}

/// ServerTest whose `version.txt` is `version`; with `secret = false`, its ApiKey setting is
/// declared without `secret = true`.
fn server_test(version: &str, secret: bool) -> Vec<u8> {
    let mut f = Fixture::load("ServerTest").with_resource("resources/version.txt", &format!("{version}\n"));
    if !secret {
        let declared = "ApiKey = { type = \"Text\", secret = true }";
        assert!(f.definition.contains(declared), "ServerTest declares ApiKey secret");
        f.definition = f.definition.replace(declared, "ApiKey = { type = \"Text\" }");
    }
    f.package()
}

fn setting<'a>(settings: &'a Value, name: &str) -> &'a Value {
    settings.as_array().and_then(|a| a.iter().find(|s| s["name"] == name)).unwrap_or(&Value::Null)
}

async fn sqlite(dir: &Path) -> xif_store::testing::Probe {
    let url = crate::support::database_url(dir);
    xif_store::testing::Probe::connect(&url).await.expect("the database opens")
}

/// Every byte of the data directory's database files (the database, its WAL and shared memory).
fn database_bytes(dir: &Path) -> Vec<u8> {
    if crate::support::engine() == crate::support::Engine::Postgres {
        // PostgreSQL's files are its server's: these checks are made on SQLite.
        return Vec::new();
    }
    let mut all = Vec::new();
    for name in ["xif.db", "xif.db-wal", "xif.db-shm"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            all.extend(bytes);
        }
    }
    assert!(!all.is_empty(), "the database files are there");
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Guards item 1: secrecy is the server's, not the package's. Before, a version that dropped
/// `secret = true` made `GET .../settings` show the value set under the secret declaration.
#[tokio::test]
async fn a_version_that_drops_secret_does_not_show_the_value() {
    let s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("v1", true)).await;
    let path = "/api/v1/extensions/ServerTest/settings";
    let (status, body) = s.put(Some(&s.admin), path, json!({"values": {"ApiKey": "sk-live-1234"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(setting(&body, "ApiKey")["value"], Value::Null);

    // Version 2 declares ApiKey without `secret = true`.
    s.deploy("ServerTest", &server_test("v2", false)).await;
    let (status, body) = s.get(Some(&s.admin), path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = setting(&body, "ApiKey");
    assert_eq!((key["secret"].as_bool(), key["set"].as_bool()), (Some(true), Some(true)), "{body}");
    assert_eq!(key["value"], Value::Null, "the value stays hidden: {body}");
    assert!(!body.to_string().contains("sk-live-1234"), "{body}");

    // Set again under version 2: still a secret (sealed), still hidden; the call reads it.
    let (status, body) = s.put(Some(&s.admin), path, json!({"values": {"ApiKey": "sk-live-5678"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(setting(&body, "ApiKey")["value"], Value::Null, "{body}");
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Value"], "sk-live-5678", "{out}");
    // And after a restart (secrecy read back from the database).
    let s = s.restart().await;
    let (_, body) = s.get(Some(&s.admin), path).await;
    assert_eq!(setting(&body, "ApiKey")["secret"], true, "{body}");
    assert_eq!(setting(&body, "ApiKey")["value"], Value::Null, "{body}");
}

/// Guards item 2: a publish or rollback by a user without the permission is refused before it
/// takes the extension's lock, reads the package or writes the publish log. Before, the refused
/// request waited for the lock held by another publish (here: held at its compile stage), read
/// the stored package (here: deleted, which made it a 500) and logged a failed row.
#[tokio::test]
async fn unpermitted_publishes_take_no_lock_read_no_package_and_log_nothing() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    let hold = Arc::new(tokio::sync::watch::channel(false).0);
    let reached = Arc::new(AtomicBool::new(false));
    {
        let (hold, reached) = (hold.clone(), reached.clone());
        c.publish_stage_hook = Some(Arc::new(move |extension: &str, stage: &str| {
            if extension != "Greetings" || stage != "compile" || !*hold.borrow() {
                return None;
            }
            reached.store(true, Ordering::SeqCst);
            let mut rx = hold.subscribe();
            Some(Box::pin(async move {
                let _ = rx.wait_for(|h| !*h).await;
            }))
        }));
    }
    let s = Arc::new(TestServer::start_with(c, dir.clone()).await);
    let (status, body) = s.upload(&s.admin, "Greetings", &greetings_without_entities()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.upload(&s.admin, "Greetings", &greetings_with_entities()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let digest = body["digest"].as_str().expect("digest").to_string();
    let nobody = s.user("nobody", &[]).await;
    let ext = s.user("ext", &["Allow Extensions"]).await;

    // The administrator's publish of version 1 holds the lock (at its compile stage).
    hold.send_replace(true);
    let held = {
        let s = s.clone();
        tokio::spawn(async move {
            let admin = s.admin.clone();
            s.publish(&admin, "Greetings", 1).await
        })
    };
    for _ in 0..200 {
        if reached.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reached.load(Ordering::SeqCst), "the administrator's publish reached its compile stage");

    let at_once = Duration::from_secs(10);
    for (token, who, verb) in [(&nobody, "nobody", "publish"), (&ext, "ext", "publish"), (&ext, "ext", "rollback")] {
        let path = format!("/api/v1/extensions/Greetings/versions/2/{verb}");
        let (status, body) =
            tokio::time::timeout(at_once, s.post(Some(token), &path, json!(null))).await.expect("answered at once");
        assert_eq!(status, StatusCode::FORBIDDEN, "{who} {verb}: {body}");
        assert!(
            message(&body).contains(
                "missing permission \"Allow Foreign Entities\": extension Greetings exports entities (Visit)"
            ),
            "{who} {verb}: {body}"
        );
        if who == "nobody" {
            assert!(message(&body).contains("missing permission \"Allow Extensions\""), "{body}");
        }
    }
    // As server-sent events too: a plain 403, not a stream.
    let resp = tokio::time::timeout(
        at_once,
        s.client
            .post(s.url("/api/v1/extensions/Greetings/versions/2/publish"))
            .bearer_auth(&ext)
            .header("accept", "text/event-stream")
            .send(),
    )
    .await
    .expect("answered at once")
    .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Release the administrator's publish.
    hold.send_replace(false);
    let (status, body) = held.await.expect("the held publish");
    assert_eq!(status, StatusCode::OK, "{body}");

    // No package read: with version 2's package gone, the refusal is still a 403 (not a 500).
    if crate::support::engine() == crate::support::Engine::Postgres {
        let mut db = sqlite(dir.path()).await;
        db.execute_with("DELETE FROM packages WHERE digest = $1", &[&digest]).await.expect("the package row");
        db.close().await.expect("close");
    } else {
        std::fs::remove_file(dir.path().join("packages").join(format!("{digest}.xif"))).expect("the package file");
    }
    let (status, body) = s.publish(&ext, "Greetings", 2).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // The publish log holds the administrator's publish only.
    let (_, log) = s.get(Some(&s.admin), "/api/v1/extensions/Greetings/publishes").await;
    let log = log.as_array().cloned().unwrap_or_default();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!((log[0]["user"].as_str(), log[0]["outcome"].as_str()), (Some("admin"), Some("published")));
}

/// Guards item 3: deleting an extension needs what publishing any of its versions needs, and
/// takes its entity tables with it. Before, a version without entities made the extension (and
/// the records of another version's entity) deletable with "Allow Extensions" alone, and the
/// tables outlived it: a new extension of the same name saw the old records.
#[tokio::test]
async fn deleting_an_extension_needs_every_versions_permissions_and_drops_its_tables() {
    let s = TestServer::start().await;
    s.deploy("Greetings", &greetings_with_entities()).await;
    for who in ["Ada", "Bo"] {
        let (status, body, _) = s.call(&s.admin, "Greetings", "SignGuestBook", json!({"Who": who})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    s.deploy("Greetings", &greetings_without_entities()).await;
    let mut pool = sqlite(s.dir.path()).await;
    assert!(!pool.entity_tables().await.expect("tables").is_empty(), "Visit has its table");

    let ext = s.user("ext", &["Allow Extensions"]).await;
    let (status, body) = s.delete(Some(&ext), "/api/v1/extensions/Greetings").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("missing permission \"Allow Foreign Entities\""), "{body}");
    assert!(message(&body).contains("Visit"), "{body}");
    // Nor version 1 (the one with the entity), though the active version 2 has none.
    let (status, body) = s.delete(Some(&ext), "/api/v1/extensions/Greetings/versions/1").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("Allow Foreign Entities"), "{body}");

    let (status, body) = s.delete(Some(&s.admin), "/api/v1/extensions/Greetings").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(pool.entity_tables().await.expect("tables"), Vec::<String>::new(), "the entity tables are dropped");
    let left = pool.count("SELECT COUNT(*) FROM entity_tables").await.expect("count");
    assert_eq!(left, 0);
    pool.close().await.expect("close");

    // A new extension of the same name, with the same entity, starts empty.
    s.deploy("Greetings", &greetings_with_entities()).await;
    let (status, body) = s.get(Some(&s.admin), "/api/v1/extensions/Greetings/entities/Visit").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"], json!([]), "{body}");
}

/// Guards item 4: a secret setting is sealed in the database, never in plain text, and the
/// extension still reads it (also after a restart); the key was generated into `secret.key`
/// (mode 0600). Before, the value was stored as it was typed.
#[tokio::test]
async fn secret_settings_are_sealed_at_rest() {
    let mut s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("v1", true)).await;
    let secret = "correct-horse-battery-staple-4242";
    let path = "/api/v1/extensions/ServerTest/settings";
    let (status, body) =
        s.put(Some(&s.admin), path, json!({"values": {"ApiKey": secret, "Greeting": "plain-greeting"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Value"], secret, "{out}");

    let dir = s.dir.clone();
    assert!(!contains(&database_bytes(dir.path()), secret), "not in plain text while running");
    s.stop().await;
    let bytes = database_bytes(dir.path());
    assert!(!contains(&bytes, secret), "the database files do not hold the secret");
    assert!(
        crate::support::engine() == crate::support::Engine::Postgres || contains(&bytes, "plain-greeting"),
        "(the check reads the right files)"
    );
    let key = dir.path().join("secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).expect("secret.key").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secret.key is private");
    }

    let s = TestServer::start_with(config(dir.path()), dir.clone()).await;
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Value"], secret, "read back after a restart: {out}");
}

/// Guards item 4's migration step: a secret stored in plain text by an earlier server (no
/// `secret` flag, no version facts) is sealed at the next start and still read by the extension.
#[tokio::test]
async fn plain_text_secrets_from_before_are_sealed_on_start() {
    let mut s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("v1", true)).await;
    let dir = s.dir.clone();
    s.stop().await;
    let legacy = "legacy-plain-secret-7777";
    {
        let mut pool = sqlite(dir.path()).await;
        pool.execute_with(
            "INSERT INTO settings (extension_key, name, value, updated_by, updated_at) VALUES ('servertest', 'ApiKey', $1, 'admin', 0)",
            &[legacy],
        )
        .await
        .expect("a plain-text row as an earlier server wrote it");
        pool.execute("UPDATE versions SET facts = NULL").await.expect("facts unknown, as before");
        pool.close().await.expect("close");
    }
    assert!(
        crate::support::engine() == crate::support::Engine::Postgres || contains(&database_bytes(dir.path()), legacy),
        "(the row is there in plain text)"
    );

    let mut s = TestServer::start_with(config(dir.path()), dir.clone()).await;
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Value"], legacy, "{out}");
    let (_, body) = s.get(Some(&s.admin), "/api/v1/extensions/ServerTest/settings").await;
    assert_eq!(
        (setting(&body, "ApiKey")["secret"].as_bool(), &setting(&body, "ApiKey")["value"]),
        (Some(true), &Value::Null)
    );
    s.stop().await;
    assert!(!contains(&database_bytes(dir.path()), legacy), "sealed on start");
}

/// Guards item 4's wrong key: a secret sealed with another key reads as unavailable (the
/// settings say why; the extension gets none), never as garbage or as its default.
#[tokio::test]
async fn a_secret_sealed_with_another_key_reads_as_unavailable() {
    let mut s = TestServer::start().await;
    s.deploy("ServerTest", &server_test("v1", true)).await;
    let path = "/api/v1/extensions/ServerTest/settings";
    let (status, body) = s.put(Some(&s.admin), path, json!({"values": {"ApiKey": "k-1", "Greeting": "hi"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dir = s.dir.clone();
    s.stop().await;

    let mut c = config(dir.path());
    c.secret_key = Some("11".repeat(32));
    let s = TestServer::start_with(c, dir.clone()).await;
    let (_, body) = s.get(Some(&s.admin), path).await;
    let key = setting(&body, "ApiKey");
    assert_eq!(key["set"], true, "{body}");
    assert!(key["unavailable"].as_str().unwrap_or_default().contains("sealed with secret key"), "{body}");
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!(out["Found"], false, "unavailable, not garbage: {out}");
    let (_, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "Greeting"})).await;
    assert_eq!(out["Value"], "hi", "plain settings are unaffected: {out}");

    // Both a key file and a key: refused, naming both.
    let mut c = config(dir.path());
    c.secret_key = Some("11".repeat(32));
    c.secret_key_file = Some(dir.path().join("secret.key"));
    let e = xif_server::start(c).await.expect_err("refused");
    assert!(e.to_string().contains("--secret-key-file") && e.to_string().contains("XIF_SECRET_KEY"), "{e}");
}

/// Guards item 5 (BEGIN IMMEDIATE): a write transaction holds SQLite's write lock from its start,
/// so a read inside it cannot be overtaken by another connection's commit. Before, the write
/// after the read failed with SQLITE_BUSY_SNAPSHOT ("database is locked").
#[tokio::test]
async fn a_write_transaction_is_not_overtaken_between_its_read_and_its_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("xif.db").display());
    let db = xif_store::Db::open(&url).await.expect("the database opens");
    let other = std::sync::Mutex::new(None);
    xif_store::testing::in_write_transaction(
        &db,
        "SELECT COUNT(*) FROM settings",
        async {
            // Another connection writes meanwhile.
            let db = db.clone();
            *other.lock().expect("lock") = Some(tokio::spawn(async move {
                db.set_settings("Other", &[("A".to_string(), Some(("1".to_string(), false)))], "test").await
            }));
            tokio::time::sleep(Duration::from_millis(300)).await;
        },
        "INSERT INTO settings (extension_key, name, value, updated_by, updated_at) VALUES ('mine', 'B', '2', 'test', 0)",
    )
    .await
    .expect("the write after the read succeeds");
    let other = other.lock().expect("lock").take().expect("spawned");
    other.await.expect("task").expect("the other write waited, then succeeded");
    db.close().await;
}

/// Captures this thread's log lines at info and above (the server's tasks log on the thread of a
/// current-thread test runtime) until the guards are dropped.
fn capture_logs() -> (Captured, (tracing::subscriber::DefaultGuard, tracing::Dispatch)) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // While only one dispatcher exists, tracing-core computes the interest of a callsite first
    // hit on another thread (another test's) from that thread's default, which has none: the
    // callsite would then be off for this test too. A second dispatcher makes it ask them all.
    let second = tracing::Dispatch::new(tracing_subscriber::registry());
    (captured, (guard, second))
}

/// Writes formatted log output into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// Guards item 5 (forged log lines): a guest's log message with a newline is one line of the
/// server's log, escaped, and each printed line carries the extension's tag. Before, "a\nFAKE LOG
/// LINE" came out as two lines, the second looking like one of the server's own.
#[tokio::test]
async fn a_guest_cannot_forge_a_line_of_the_servers_log() {
    let (captured, _guards) = capture_logs();
    let s = TestServer::start().await;
    s.deploy("RuntimeTest", &Fixture::load("RuntimeTest").package()).await;
    let (status, body, _) = s.call(&s.admin, "RuntimeTest", "Log", json!({"Message": "a\nFAKE LOG LINE"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) =
        s.call(&s.admin, "RuntimeTest", "Print", json!({"Message": "b\nFAKE PRINTED LINE\r\u{1b}[2J"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = captured.clone().flush();
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    let logged: Vec<&str> = text.lines().filter(|l| l.contains("FAKE LOG LINE")).collect();
    assert_eq!(logged.len(), 2, "the message logged at info and at warn, one line each:\n{text}");
    for line in &logged {
        assert!(line.contains("a\\nFAKE LOG LINE") && line.contains("RuntimeTest"), "{line}");
    }
    for line in text.lines().filter(|l| l.contains("FAKE")) {
        assert!(line.contains("RuntimeTest"), "every line with guest text carries its tag: {line:?}\n{text}");
        assert!(!line.contains('\u{1b}') && !line.contains('\r'), "control characters are escaped: {line:?}");
    }
}

/// Every response names its request (`x-request-id`, 16 hex digits, a new one each time), and
/// every log line written while the request ran carries the same id, so one call's lines can be
/// found in the server's log.
#[tokio::test(flavor = "current_thread")]
async fn every_response_names_its_request_and_its_log_lines_carry_the_id() {
    let (captured, _guards) = capture_logs();
    let s = TestServer::start().await;
    s.deploy("RuntimeTest", &Fixture::load("RuntimeTest").package()).await;
    let mut ids = Vec::new();
    for message in ["the first request's line", "the second request's line"] {
        let resp = s
            .client
            .post(s.url("/api/v1/extensions/RuntimeTest/actions/Log"))
            .bearer_auth(&s.admin)
            .json(&json!({ "Message": message }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::OK);
        let id = resp.headers().get("x-request-id").and_then(|v| v.to_str().ok()).expect("an id").to_string();
        assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        ids.push((id, message));
    }
    assert_ne!(ids[0].0, ids[1].0, "each request its own id");
    // Also a route that is not an action, and an error.
    let resp = s.client.get(s.url("/api/v1/nothing-here")).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.headers().contains_key("x-request-id"), "an error names its request too");
    let text = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    for (id, message) in &ids {
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(message)).collect();
        assert!(!lines.is_empty(), "the action's line is logged:\n{text}");
        for line in lines {
            assert!(line.contains(&format!("id={id}")), "the line carries its request's id {id}: {line}");
        }
    }
}
