//! Issue 13: `xif admin` (crate xif-store's `admin` module). A backup of a running server,
//! restored into a fresh data directory (and database), gives a server that finds everything;
//! an SQLite data directory imported into PostgreSQL gives one that finds everything identical,
//! and its tokens still work. Everything is compared through the HTTP API.
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::support::{Engine, Fixture, TestServer, config, database_url, engine, server_test};

/// The largest Decimal (28 digits), its negative, and the smallest step.
const DECIMALS: [&str; 3] =
    ["79228162514264337593543950335", "-79228162514264337593543950335", "0.0000000000000000000000000001"];

/// What a server holds, as its API shows it: three extensions with several versions each,
/// entity records at the boundaries, settings, users; and the credentials to check after.
struct Made {
    /// A user's API token.
    api_token: String,
}

/// Fills a server: GuestBook (2 versions, the schema grown by the second) with records whose
/// Long Integer ids and Decimals are at the boundaries, Greetings (2 versions, records),
/// ServerTest (3 versions, a plain and a secret setting), a user with permissions and an API token.
async fn fill(s: &TestServer) -> Made {
    s.deploy("GuestBook", &Fixture::load("GuestBook").package()).await;
    let records = [
        json!({"Id": 9223372036854775807_i64, "Who": "largest", "Amount": DECIMALS[0], "At": "2026-12-02T01:02:03.456Z"}),
        json!({"Id": -9223372036854775807_i64, "Who": "smallest", "Amount": DECIMALS[1]}),
        json!({"Who": "tiny", "Amount": DECIMALS[2], "At": "1900-01-01T00:00:00Z"}),
        json!({"Who": "plain"}),
    ];
    for r in records {
        let (status, body) = s.post(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit", r).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    s.deploy("GuestBook", &Fixture::load("GuestBookV2").package()).await;
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Sign", json!({"Who": "after v2", "Amount": "12.50"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    s.deploy("Greetings", &Fixture::load("Greetings").package()).await;
    let v2 = Fixture::load("Greetings").with_resource("resources/greeting.txt", "Good day\n");
    s.deploy("Greetings", &v2.package()).await;
    for who in ["Ada", "Bo"] {
        let (status, body, _) = s.call(&s.admin, "Greetings", "SignGuestBook", json!({"Who": who})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    for v in ["1", "2", "3"] {
        s.deploy("ServerTest", &server_test(v)).await;
    }
    // Version 2 active again: a rollback in the publish log.
    let (status, body) = s.post(Some(&s.admin), "/api/v1/extensions/ServerTest/versions/2/rollback", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s
        .put(
            Some(&s.admin),
            "/api/v1/extensions/ServerTest/settings",
            json!({"values": {"ApiKey": "the-secret-api-key", "Greeting": "Howdy"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let dev = s.user("dev", &["Allow Extensions"]).await;
    let (status, body) =
        s.post(Some(&dev), "/api/v1/tokens", json!({"name": "ci-deploy", "expires_in_days": 30})).await;
    assert!(status.is_success(), "{status} {body}");
    let api_token = body["token"].as_str().expect("the token").to_string();
    Made { api_token }
}

/// Everything the API shows of the server's state (minus the caller's own fresh session).
async fn snapshot(s: &TestServer) -> Value {
    let get = |path: String| async move {
        let (status, body) = s.get(Some(&s.admin), &path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    };
    let mut all = Map::new();
    all.insert("users".into(), get("/api/v1/users".into()).await);
    let extensions = get("/api/v1/extensions".into()).await;
    all.insert("extensions".into(), extensions.clone());
    let names: Vec<String> = extensions
        .as_array()
        .or_else(|| extensions["extensions"].as_array())
        .expect("a list of extensions")
        .iter()
        .map(|e| e["name"].as_str().expect("a name").to_string())
        .collect();
    assert_eq!(names.len(), 3, "{extensions}");
    for name in names {
        for part in ["", "/versions", "/publishes", "/settings"] {
            all.insert(format!("{name}{part}"), get(format!("/api/v1/extensions/{name}{part}")).await);
        }
        if name != "ServerTest" {
            all.insert(
                format!("{name} records"),
                get(format!("/api/v1/extensions/{name}/entities/Visit?order=Id&limit=100")).await,
            );
        }
    }
    let tokens = get("/api/v1/tokens".into()).await;
    let api: Vec<Value> = tokens
        .as_array()
        .or_else(|| tokens["tokens"].as_array())
        .expect("a list of tokens")
        .iter()
        .filter(|t| t["kind"] != "session")
        .cloned()
        .collect();
    all.insert("api tokens".into(), Value::Array(api));
    Value::Object(all)
}

/// What only a working server can do with the state: the secret setting decrypts, the user's
/// password and API token still work, the records' boundaries came through.
async fn check_works(s: &TestServer, made: &Made) {
    let (status, out, _) = s.call(&s.admin, "ServerTest", "GetSetting", json!({"Name": "ApiKey"})).await;
    assert_eq!((status, &out["Value"]), (StatusCode::OK, &json!("the-secret-api-key")), "{out}");
    let dev = s.login("dev", "dev-password").await;
    let (status, me) = s.get(Some(&dev), "/api/v1/me").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, out, version) = s.call(&made.api_token, "ServerTest", "Hello", json!({"Who": "Ada"})).await;
    assert_eq!(status, StatusCode::OK, "the API token works: {out}");
    assert_eq!(version, Some(2), "the rolled-back-to version answers");
    let (status, body) = s.get(Some(&made.api_token), "/api/v1/extensions/GuestBook/entities/Visit?order=Id").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let records = body["records"].as_array().expect("records");
    assert_eq!(records.first().map(|r| r["Id"].clone()), Some(json!(-9223372036854775807_i64)), "{body}");
    assert_eq!(records.last().map(|r| r["Id"].clone()), Some(json!(9223372036854775807_i64)), "{body}");
    let amounts: Vec<&str> = records.iter().filter_map(|r| r["Amount"].as_str()).collect();
    for d in DECIMALS {
        assert!(amounts.contains(&d), "{d} came through exactly: {amounts:?}");
    }
    // New work goes on: a new user, a new record.
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/extensions/Greetings/entities/Visit", json!({"Who": "new"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    s.user("newcomer", &[]).await;
}

fn assert_same(before: &Value, after: &Value) {
    let (b, a) = (before.as_object().expect("object"), after.as_object().expect("object"));
    for (key, value) in b {
        assert_eq!(Some(value), a.get(key), "{key} differs");
    }
    assert_eq!(b.len(), a.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_of_a_running_server_restores_into_a_fresh_one() {
    let s = TestServer::start().await;
    let made = fill(&s).await;
    let before = snapshot(&s).await;

    let out = tempfile::tempdir().expect("tempdir");
    let backup = out.path().join("backup");
    let source = xif_store::admin::Source {
        data_dir: s.dir.path().to_path_buf(),
        database_url: (engine() == Engine::Postgres).then(|| database_url(s.dir.path())),
        pg_bin: (engine() == Engine::Postgres).then(xif_testpg::bin_dir),
    };
    // While it runs.
    let report = xif_store::admin::backup(&source, &backup).await.expect("the backup");
    assert!(report.secret_key, "the secret key is in the backup");
    let mut s = s;
    s.stop().await;

    let fresh = Arc::new(tempfile::tempdir().expect("tempdir"));
    let target = xif_store::admin::Source {
        data_dir: fresh.path().to_path_buf(),
        database_url: (engine() == Engine::Postgres).then(|| database_url(fresh.path())),
        pg_bin: (engine() == Engine::Postgres).then(xif_testpg::bin_dir),
    };
    xif_store::admin::restore(&backup, &target).await.expect("the restore");
    let again = xif_store::admin::restore(&backup, &target).await.expect_err("not twice into the same place");
    assert!(again.to_string().contains("not empty"), "{again}");

    let r = TestServer::start_with(config(fresh.path()), fresh.clone()).await;
    assert_same(&before, &snapshot(&r).await);
    check_works(&r, &made).await;
}

/// The import reads an SQLite data directory whatever engine this run is on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sqlite_data_directory_imports_into_postgresql_identical() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.database_url = None;
    let mut s = TestServer::start_with(c, dir.clone()).await;
    let made = fill(&s).await;
    let before = snapshot(&s).await;
    s.stop().await;

    let url = xif_testpg::database("import");
    let report = xif_store::admin::import(dir.path(), &url).await.expect("the import");
    assert_eq!(report.packages, 7, "every version's package: {report:?}");
    let again = xif_store::admin::import(dir.path(), &url).await.expect_err("not into a database with rows");
    assert!(again.to_string().contains("not empty") && again.to_string().contains("users"), "{again}");

    // A new server on PostgreSQL, with the old one's secret key.
    let fresh = Arc::new(tempfile::tempdir().expect("tempdir"));
    std::fs::copy(dir.path().join("secret.key"), fresh.path().join("secret.key")).expect("the key");
    let mut c = config(fresh.path());
    c.database_url = Some(url);
    let r = TestServer::start_with(c, fresh.clone()).await;
    assert_same(&before, &snapshot(&r).await);
    check_works(&r, &made).await;
}
