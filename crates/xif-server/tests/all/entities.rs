//! Entities: tables provisioned and migrated at publish without losing data, records through
//! actions (`xif:host/entities`) and through the HTTP routes, isolation between extensions, and
//! a server killed inside the schema step.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ADMIN_PASSWORD, Fixture, TestServer, serve_database_args, workspace};

/// The largest Decimal and the smallest positive one: exact to the last digit.
const BIG: &str = "79228162514264337593543950335";
const TINY: &str = "0.0000000000000000000000000001";

fn records(body: &Value) -> Vec<Value> {
    body["records"].as_array().cloned().unwrap_or_default()
}

async fn list(s: &TestServer, token: &str, ext: &str, query: &str) -> Vec<Value> {
    let (status, body) = s.get(Some(token), &format!("/api/v1/extensions/{ext}/entities/Visit{query}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    records(&body)
}

async fn sign(s: &TestServer, ext: &str, who: &str, amount: &str) -> i64 {
    let (status, body, _) = s.call(&s.admin, ext, "Sign", json!({"Who": who, "Amount": amount})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["VisitId"].as_i64().expect("VisitId")
}

fn entities_step(body: &Value) -> String {
    body["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|e| e["step"] == "entities" && e["status"] != "started"))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Version 2's definition with `Who` narrowed to 50 characters (the same component: lengths do
/// not change the WIT).
fn narrowed() -> Vec<u8> {
    let mut f = Fixture::load("GuestBookV2");
    f.definition =
        f.definition.replace("Who = { type = \"Text\", length = 200 }", "Who = { type = \"Text\", length = 50 }");
    assert!(f.definition.contains("length = 50"));
    f.package()
}

#[tokio::test]
async fn records_survive_growth_refusal_and_rollback() {
    let s = TestServer::start().await;
    let (status, body) = s.upload(&s.admin, "GuestBook", &Fixture::load("GuestBook").package()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.publish(&s.admin, "GuestBook", 1).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(entities_step(&body), "Visit: new table");

    // Records written through an action and through the API.
    assert_eq!(sign(&s, "GuestBook", "Ada", BIG).await, 1);
    assert_eq!(sign(&s, "GuestBook", "Bob", TINY).await, 2);
    let (status, created) = s
        .post(
            Some(&s.admin),
            "/api/v1/extensions/GuestBook/entities/Visit",
            json!({"Who": "Cy", "Amount": "-12.345", "At": "2026-01-02T03:04:05.678+01:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["Id"], 3);
    assert_eq!(created["At"], "2026-01-02T02:04:05.678Z");
    let v1_records = list(&s, &s.admin, "GuestBook", "").await;
    assert_eq!(
        v1_records,
        [
            json!({"Id": 1, "Who": "Ada", "Amount": BIG, "At": "2026-11-28T06:00:00.250Z"}),
            json!({"Id": 2, "Who": "Bob", "Amount": TINY, "At": "2026-11-28T06:00:00.250Z"}),
            json!({"Id": 3, "Who": "Cy", "Amount": "-12.345", "At": "2026-01-02T02:04:05.678Z"}),
        ]
    );
    // The action reads them back too (query with a filter through the host interface).
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Visits", json!({"Who": "Bob"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Visits"], json!([v1_records[1]]));

    // Version 2 adds Email (default "nobody@example.com") and widens Who from 100 to 200.
    let (status, body) = s.upload(&s.admin, "GuestBook", &Fixture::load("GuestBookV2").package()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.publish(&s.admin, "GuestBook", 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let step = entities_step(&body);
    assert!(step.contains("Visit: added Email") && step.contains("Who widened: length 100 → length 200"), "{step}");
    let v2_records = list(&s, &s.admin, "GuestBook", "").await;
    let expected: Vec<Value> = v1_records
        .iter()
        .map(|r| {
            json!({"Id": r["Id"], "Who": r["Who"], "Email": "nobody@example.com", "Amount": r["Amount"], "At": r["At"]})
        })
        .collect();
    assert_eq!(v2_records, expected, "every earlier record, unchanged, with the new attribute at its default");
    // The widened length is in force: 150 characters fit now (version 1 refused them).
    let long = "L".repeat(150);
    assert_eq!(sign(&s, "GuestBook", &long, "1.50").await, 4);
    let (status, four) = s.get(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit/4").await;
    assert_eq!(status, StatusCode::OK, "{four}");
    assert_eq!(four["Email"], format!("{}@example.com", long.to_lowercase()));
    assert_eq!(four["Amount"], "1.5");
    let before_refusal = list(&s, &s.admin, "GuestBook", "").await;

    // Narrowing Who is refused at publish, naming the attribute, where and why; nothing changes.
    let (status, body) = s.upload(&s.admin, "GuestBook", &narrowed()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"], 3);
    let (status, body) = s.publish(&s.admin, "GuestBook", 3).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "schema_refused");
    let m = body["message"].as_str().unwrap_or_default();
    assert!(
        m.contains("extension.toml:8:33: error E100: attribute Who of entity Visit cannot narrow: it would narrow from length 200 to length 50"),
        "{m}"
    );
    assert!(m.contains("force=true"), "{m}");
    let (_, ext) = s.get(Some(&s.admin), "/api/v1/extensions/GuestBook").await;
    assert_eq!(ext["active_version"], 2, "{ext}");
    assert_eq!(list(&s, &s.admin, "GuestBook", "").await, before_refusal, "no record touched");

    // Rolling back to version 1 keeps every record; version 1 sees the attributes it knows.
    let (status, body) = s.post(Some(&s.admin), "/api/v1/extensions/GuestBook/versions/1/rollback", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen_by_v1 = list(&s, &s.admin, "GuestBook", "").await;
    let expected: Vec<Value> = before_refusal
        .iter()
        .map(|r| json!({"Id": r["Id"], "Who": r["Who"], "Amount": r["Amount"], "At": r["At"]}))
        .collect();
    assert_eq!(seen_by_v1, expected);
    // Version 1's code writes a record (the schema stays version 2's: Email gets its default).
    assert_eq!(sign(&s, "GuestBook", "Dee", "2").await, 5);
    let (status, body) = s.publish(&s.admin, "GuestBook", 2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut all = before_refusal.clone();
    all.push(
        json!({"Id": 5, "Who": "Dee", "Email": "nobody@example.com", "Amount": "2", "At": "2026-11-28T06:00:00.250Z"}),
    );
    assert_eq!(list(&s, &s.admin, "GuestBook", "").await, all, "every record, Email values kept across the rollback");

    // Paging, ordering and filters over HTTP.
    let page = list(&s, &s.admin, "GuestBook", "?order=-Id&limit=2&offset=1").await;
    assert_eq!(page.iter().map(|r| r["Id"].as_i64().unwrap_or(0)).collect::<Vec<_>>(), [4, 3]);
    let page = list(&s, &s.admin, "GuestBook", &format!("?Amount={BIG}")).await;
    assert_eq!(page, [all[0].clone()]);
    let page = list(&s, &s.admin, "GuestBook", "?Amount.lt=0").await;
    assert_eq!(page, [all[2].clone()]);
    let page = list(&s, &s.admin, "GuestBook", "?Who.contains=e&order=Who").await;
    assert_eq!(page.iter().map(|r| r["Who"].clone()).collect::<Vec<_>>(), [json!("Dee")]);
    let (status, body) = s.get(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit?Nope=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap_or_default().contains("has no attribute Nope"), "{body}");

    // Update and delete over HTTP, and through the action.
    let (status, body) = s
        .put(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit/5", json!({"Who": "Dee Dee", "Amount": TINY}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["Who"], "Dee Dee");
    assert_eq!(body["Amount"], TINY);
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Rename", json!({"Id": 5, "Who": "D"})).await;
    assert_eq!((status, body["Found"].clone()), (StatusCode::OK, json!(true)), "{body}");
    let (_, five) = s.get(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit/5").await;
    assert_eq!(five["Who"], "D");
    assert_eq!(five["Amount"], TINY);
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit/5").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s.get(Some(&s.admin), "/api/v1/extensions/GuestBook/entities/Visit/5").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Rename", json!({"Id": 4, "Who": ""})).await;
    assert_eq!((status, body["Found"].clone()), (StatusCode::OK, json!(true)), "{body}");
    assert_eq!(list(&s, &s.admin, "GuestBook", "").await.len(), 3);

    // After a restart the records and the schema are read again from the database.
    let s = s.restart().await;
    assert_eq!(list(&s, &s.admin, "GuestBook", "").await, all[..3].to_vec());

    // A forced narrowing is made without touching stored values.
    let (status, body) =
        s.post(Some(&s.admin), "/api/v1/extensions/GuestBook/versions/3/publish?force=true", json!(null)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(entities_step(&body).contains("forced"), "{body}");
    assert_eq!(list(&s, &s.admin, "GuestBook", "").await, all[..3].to_vec());
}

#[tokio::test]
async fn an_extension_reaches_only_its_own_records() {
    let s = TestServer::start().await;
    s.deploy("GuestBook", &Fixture::load("GuestBook").package()).await;
    // "Other": the same code and an entity of the same name, in another extension.
    let mut other = Fixture::load("GuestBook");
    other.definition = other.definition.replace("name = \"GuestBook\"", "name = \"Other\"");
    s.deploy("Other", &other.package()).await;
    sign(&s, "GuestBook", "Ada", "1").await;
    sign(&s, "GuestBook", "Bob", "2").await;
    let a_records = list(&s, &s.admin, "GuestBook", "").await;
    assert_eq!(a_records.len(), 2);

    // B's code: its own Visit is empty; no name reaches A's table.
    let (status, body, _) = s.call(&s.admin, "Other", "Visits", json!({})).await;
    assert_eq!((status, body["Visits"].clone()), (StatusCode::OK, json!([])), "{body}");
    let (_, body, _) = s.call(&s.admin, "Other", "Probe", json!({"Entity": "Visit"})).await;
    assert_eq!(body, json!({"Count": 0, "Error": ""}));
    for name in ["GuestBook", "GuestBook.Visit", "xe1_0", "Visit; DROP TABLE xe1_0", "entity_tables"] {
        let (status, body, _) = s.call(&s.admin, "Other", "Probe", json!({"Entity": name})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["Count"], -1, "{name}: {body}");
        assert!(body["Error"].as_str().unwrap_or_default().contains("extension Other has no entity"), "{name}: {body}");
    }
    let (_, body, _) = s.call(&s.admin, "GuestBook", "Probe", json!({"Entity": "Visit"})).await;
    assert_eq!(body, json!({"Count": 2, "Error": ""}));
    // B's code writes and changes only its own records.
    assert_eq!(sign(&s, "Other", "Eve", "3").await, 1);
    let (_, body, _) = s.call(&s.admin, "Other", "Rename", json!({"Id": 2, "Who": "Mallory"})).await;
    assert_eq!(body["Found"], false, "{body}");
    let (_, body, _) = s.call(&s.admin, "Other", "Rename", json!({"Id": 1, "Who": ""})).await;
    assert_eq!(body["Found"], true, "{body}");

    // B's routes: only B's records.
    assert_eq!(list(&s, &s.admin, "Other", "").await, Vec::<Value>::new());
    let (status, _) = s.get(Some(&s.admin), "/api/v1/extensions/Other/entities/Visit/2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.put(Some(&s.admin), "/api/v1/extensions/Other/entities/Visit/2", json!({"Who": "X"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.delete(Some(&s.admin), "/api/v1/extensions/Other/entities/Visit/2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(list(&s, &s.admin, "GuestBook", "").await, a_records, "A's records untouched");

    // Reading needs only a login; writing needs "Allow Foreign Entities".
    let reader = s.user("reader", &[]).await;
    assert_eq!(list(&s, &reader, "GuestBook", "").await, a_records);
    let (status, body) =
        s.post(Some(&reader), "/api/v1/extensions/GuestBook/entities/Visit", json!({"Who": "Zed"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "missing permission \"Allow Foreign Entities\": writing records of GuestBook.Visit needs it (or an administrator)"
    );
    let (status, _) = s.delete(Some(&reader), "/api/v1/extensions/GuestBook/entities/Visit/1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = s.get(None, "/api/v1/extensions/GuestBook/entities/Visit").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let writer = s.user("writer", &["Allow Foreign Entities"]).await;
    let (status, body) =
        s.post(Some(&writer), "/api/v1/extensions/GuestBook/entities/Visit", json!({"Who": "Zed"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"Id": 3, "Who": "Zed", "Amount": "0", "At": "1900-01-01T00:00:00Z"}));
    let (status, body) =
        s.post(Some(&writer), "/api/v1/extensions/GuestBook/entities/Visit", json!({"Who": "Z", "Amount": 1.5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["parameter"], "Amount", "{body}");
}

// ---- the failpoint test: the real `xif serve`, killed inside the schema step ----

/// The `xif` binary `cargo xtask fixtures` builds.
fn xif_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"));
    let bin = target.join("debug/xif");
    assert!(bin.is_file(), "{} is missing\n  help: build it first: `cargo xtask fixtures`", bin.display());
    bin
}

struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(data: &Path, failpoint: Option<&str>) -> Serve {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("addr").port();
    let mut cmd = Command::new(xif_binary());
    cmd.arg("serve")
        .arg("--data")
        .arg(data)
        .args(serve_database_args(data))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("XIF_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("XIF_INSECURE_FAST_PASSWORD_HASHING", "1")
        .env("XIF_LOG", "warn")
        .env_remove("XIF_FAILPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(f) = failpoint {
        cmd.env("XIF_FAILPOINT", f);
    }
    let child = cmd.spawn().expect("xif serve starts");
    let s = Serve { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if client.get(format!("{}/api/v1/health", s.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return s;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "xif serve did not answer in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(url: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/login"))
        .json(&json!({"user": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    r["token"].as_str().expect("token").to_string()
}

async fn req(method: reqwest::Method, url: String, token: &str, body: Option<Vec<u8>>) -> (StatusCode, Value) {
    let mut r = reqwest::Client::new().request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.body(b);
    }
    let resp = r.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The columns of the entity table, read from the database file itself.
async fn columns(data: &Path) -> Vec<String> {
    let url = crate::support::database_url(data);
    let mut pool = xif_store::testing::Probe::connect(&url).await.expect("the database opens");
    let rows = pool.columns("xe1_0").await.expect("columns");
    let schema = pool
        .rows("SELECT schema FROM entity_tables WHERE id = 1", &[])
        .await
        .expect("schema row")
        .first()
        .and_then(|r| r[0].clone())
        .expect("text");
    pool.close().await.expect("close");
    let attrs: Vec<String> = serde_json::from_str::<Value>(&schema).expect("json")["attributes"]
        .as_array()
        .expect("attributes")
        .iter()
        .map(|a| a["column"].as_str().unwrap_or_default().to_string())
        .collect();
    let cols: Vec<String> = rows;
    assert_eq!(cols, attrs, "the table's columns match its recorded schema");
    cols
}

#[tokio::test]
async fn a_server_killed_inside_the_schema_step_keeps_the_old_version_and_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    {
        let s = serve(&data, None).await;
        let token = login(&s.url).await;
        let v1 = Fixture::load("GuestBook").package();
        let (status, body) =
            req(reqwest::Method::POST, format!("{}/api/v1/extensions/GuestBook/versions", s.url), &token, Some(v1))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = req(
            reqwest::Method::POST,
            format!("{}/api/v1/extensions/GuestBook/versions/1/publish", s.url),
            &token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = req(
            reqwest::Method::POST,
            format!("{}/api/v1/extensions/GuestBook/actions/Sign", s.url),
            &token,
            Some(json!({"Who": "Ada", "Amount": BIG}).to_string().into_bytes()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(columns(&data).await, ["c1", "c2", "c3", "c4"]);

    // Publishing version 2 pauses inside the schema step (its ALTER TABLE done, not committed);
    // the process is killed there.
    let marker = data.join("failpoint-publish.schema");
    {
        let mut s = serve(&data, Some("publish.schema:pause")).await;
        let token = login(&s.url).await;
        let v2 = Fixture::load("GuestBookV2").package();
        let (status, body) =
            req(reqwest::Method::POST, format!("{}/api/v1/extensions/GuestBook/versions", s.url), &token, Some(v2))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let url = format!("{}/api/v1/extensions/GuestBook/versions/2/publish", s.url);
        let publishing = tokio::spawn(async move { req(reqwest::Method::POST, url, &token, None).await });
        let started = Instant::now();
        while !marker.is_file() {
            assert!(started.elapsed() < Duration::from_secs(60), "the failpoint was not reached");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        s.child.kill().expect("SIGKILL");
        s.child.wait().expect("wait");
        let _ = publishing.await;
    }

    // After restart: exactly the old version, with the old schema, and every record.
    std::fs::remove_file(&marker).expect("marker");
    assert_eq!(columns(&data).await, ["c1", "c2", "c3", "c4"]);
    let s = serve(&data, None).await;
    let token = login(&s.url).await;
    let (_, ext) = req(reqwest::Method::GET, format!("{}/api/v1/extensions/GuestBook", s.url), &token, None).await;
    assert_eq!(ext["active_version"], 1, "{ext}");
    let (_, page) =
        req(reqwest::Method::GET, format!("{}/api/v1/extensions/GuestBook/entities/Visit", s.url), &token, None).await;
    assert_eq!(records(&page), [json!({"Id": 1, "Who": "Ada", "Amount": BIG, "At": "2026-11-28T06:00:00.250Z"})]);
    // Publishing version 2 again works (the interrupted change left nothing behind).
    let (status, body) =
        req(reqwest::Method::POST, format!("{}/api/v1/extensions/GuestBook/versions/2/publish", s.url), &token, None)
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    drop(s);
    assert_eq!(columns(&data).await, ["c1", "c2", "c3", "c4", "c5"]);
}

#[tokio::test]
async fn the_example_keeps_a_guest_book() {
    let s = TestServer::start().await;
    s.deploy("Greetings", &Fixture::load("Greetings").package()).await;
    for who in ["Ada", "Grace"] {
        let (status, body, _) = s.call(&s.admin, "Greetings", "SignGuestBook", json!({"Who": who})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body, _) = s.call(&s.admin, "Greetings", "GuestBook", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let visits = body["Visits"].as_array().expect("Visits");
    let names: Vec<&str> = visits.iter().map(|v| v["Who"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["Grace", "Ada"], "newest first");
    let at = visits[0]["At"].as_str().unwrap_or_default();
    assert!(at.starts_with("20") && at.ends_with('Z'), "the time of signing: {at}");
    assert_eq!(list(&s, &s.admin, "Greetings", "").await.len(), 2);
    let (status, body, _) = s.call(&s.admin, "Greetings", "SignGuestBook", json!({"Who": "  "})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, out, _) = s.call(&s.admin, "Greetings", "Greet", json!({"Who": {"Name": "Ada"}})).await;
    assert_eq!(out["Message"], "Hello, dear Ada!");
}

/// Issue 13: Decimal ordering and `<`/`>` filters are exact, on every engine: values that differ
/// only in their 28th significant digit are ordered and filtered as numbers (before, SQLite
/// compared them as REAL, which holds about 16 digits).
#[tokio::test]
async fn decimal_order_and_comparisons_are_exact_to_the_28th_digit() {
    let s = TestServer::start().await;
    s.deploy("GuestBook", &Fixture::load("GuestBook").package()).await;
    // Ascending order, written shuffled.
    let ascending = [
        "-1.000000000000000000000000002",
        "-1.000000000000000000000000001",
        "-0.000000000000000000000000001",
        "0",
        "1.000000000000000000000000001",
        "1.000000000000000000000000002",
        "1.000000000000000000000000003",
        "9.999999999999999999999999999",
        "10",
        BIG,
    ];
    for i in [5, 0, 9, 2, 7, 4, 1, 8, 3, 6] {
        let (status, body) = s
            .post(
                Some(&s.admin),
                "/api/v1/extensions/GuestBook/entities/Visit",
                json!({"Who": format!("v{i}"), "Amount": ascending[i]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let amounts = |records: Vec<Value>| -> Vec<String> {
        records.iter().map(|r| r["Amount"].as_str().unwrap_or_default().to_string()).collect()
    };
    let all = amounts(list(&s, &s.admin, "GuestBook", "?order=Amount").await);
    assert_eq!(all, ascending, "ascending, exactly");
    let mut descending = ascending.to_vec();
    descending.reverse();
    assert_eq!(amounts(list(&s, &s.admin, "GuestBook", "?order=-Amount").await), descending);
    let above = amounts(list(&s, &s.admin, "GuestBook", "?Amount.gt=1.000000000000000000000000001&order=Amount").await);
    assert_eq!(above, ascending[5..], "strictly greater, by the last digit");
    let below = amounts(list(&s, &s.admin, "GuestBook", "?Amount.lt=1.000000000000000000000000002&order=Amount").await);
    assert_eq!(below, ascending[..5]);
    let between = amounts(
        list(
            &s,
            &s.admin,
            "GuestBook",
            "?Amount.gt=-1.000000000000000000000000002&Amount.lt=-0.000000000000000000000000001&order=Amount",
        )
        .await,
    );
    assert_eq!(between, ["-1.000000000000000000000000001"]);
    let equal = amounts(list(&s, &s.admin, "GuestBook", "?Amount=1.0000000000000000000000000020").await);
    assert_eq!(equal, ["1.000000000000000000000000002"], "equal values are equal whatever their trailing zeros");
}
