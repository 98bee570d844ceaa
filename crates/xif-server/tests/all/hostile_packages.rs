//! Hostile packages and components against the real server (issue 12, packages): uploads
//! refused before their body is read, bombs and planted files refused by the reader, manifests
//! that disagree with their definition, and components that loop, recurse, hog memory, trap,
//! return huge outputs, import what is not granted or reach for another extension's entities.
//! The corpus table is in docs/RELIABILITY.md, `## Packages`.
use std::io::{Cursor, Write as _};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::*;

fn message(body: &Value) -> String {
    body["message"].as_str().unwrap_or_default().to_string()
}

fn tmp_is_empty(s: &TestServer) -> bool {
    std::fs::read_dir(s.dir.path().join("tmp")).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// Sends the headers of an upload announcing `length` bytes and then only `sent` bytes; answers
/// the status line and body of the response, which must come within 10 s.
async fn partial_upload(s: &TestServer, token: &str, length: u64, sent: usize) -> (u16, Value) {
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/extensions/ServerTest/versions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("headers");
    stream.write_all(&vec![0u8; sent]).await.expect("part of the body");
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        // Up to the end of the JSON body (the connection may stay open).
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if out.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server answered within 10 s (got {:?})", String::from_utf8_lossy(&out));
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

/// Guards: a user with neither "Change & Deploy Applications" nor "Allow Extensions" gets the
/// 403, naming the permission, before the server reads the body (40 MB announced, 64 KiB
/// sent). Before, the body was read whole and unpacked first, so no answer came.
#[tokio::test]
async fn upload_without_permission_is_refused_before_the_body_is_read() {
    let s = TestServer::start().await;
    let nobody = s.user("nobody", &[]).await;
    let (status, body) = partial_upload(&s, &nobody, 40_000_000, 64 << 10).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        message(&body),
        "missing permission \"Allow Extensions\": uploading extension ServerTest needs it (or \"Change & Deploy Applications\")"
    );
    // A user with only "Allow Foreign Entities" may not upload either.
    let foreign = s.user("foreign", &["Allow Foreign Entities"]).await;
    let (status, _) = s.upload(&foreign, "ServerTest", &server_test("1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(tmp_is_empty(&s));
}

/// Guards: an upload whose `Content-Length` is over the package limit is refused (413) before
/// its body is read; one that grows past it while streaming is cut off there.
#[tokio::test]
async fn upload_over_the_limit_is_refused_before_it_is_read() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.package_bytes = 1 << 20;
    let s = TestServer::start_with(c, dir).await;
    let (status, body) = partial_upload(&s, &s.admin, 60_000_000, 1024).await;
    assert_eq!(status, 413, "{body}");
    assert!(message(&body).contains("larger than the limit of 1 MiB"), "{body}");
    // Chunked (no length announced): cut off at the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(vec![0u8; 64 << 10])).collect();
    let resp = s
        .client
        .post(s.url("/api/v1/extensions/ServerTest/versions"))
        .bearer_auth(&s.admin)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    assert!(tmp_is_empty(&s), "the scratch file is removed");
}

/// Guards: the upload streams to a scratch file under the data directory and is stored from
/// there; refused packages leave no scratch file behind.
#[tokio::test]
async fn uploads_go_through_a_scratch_file_and_leave_nothing_behind() {
    let s = TestServer::start().await;
    let (status, body) = s.upload(&s.admin, "ServerTest", &server_test("1")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let digest = body["digest"].as_str().expect("digest");
    if crate::support::engine() == crate::support::Engine::Postgres {
        // On PostgreSQL the packages live in the database.
        let mut db = xif_store::testing::Probe::connect(&crate::support::database_url(s.dir.path())).await.expect("db");
        let rows = db.rows("SELECT digest FROM packages WHERE digest = $1", &[digest]).await.expect("packages");
        assert_eq!(rows.len(), 1, "the package is stored");
        db.close().await.expect("close");
    } else {
        assert!(s.dir.path().join(format!("packages/{digest}.xif")).is_file());
    }
    let (status, _) = s.upload(&s.admin, "ServerTest", b"not a zip").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(tmp_is_empty(&s));
}

/// A package of `entries` (path, bytes) with a true manifest for `name`, `description`.
fn package_of(name: &str, description: &str, entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    package_listing_stubs(name, description, entries, &[])
}

/// [`package_of`] whose manifest lists `stubs`.
fn package_listing_stubs(name: &str, description: &str, entries: &[(String, Vec<u8>)], stubs: &[&str]) -> Vec<u8> {
    let manifest = xif_package::Manifest {
        format: xif_package::FORMAT_VERSION,
        extension: name.to_string(),
        description: description.to_string(),
        toolchain: "rustc (tests)".to_string(),
        stubs: stubs.iter().map(|s| s.to_string()).collect(),
        entries: entries
            .iter()
            .map(|(path, data)| xif_package::ManifestEntry {
                path: path.clone(),
                size: data.len() as u64,
                sha256: xif_package::sha256_hex(data),
                kind: xif_package::EntryKind::of_path(path).expect("a valid path"),
            })
            .collect(),
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("json");
    manifest_bytes.push(b'\n');
    let options = zip::write::SimpleFileOptions::DEFAULT
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("manifest.json", options).expect("start");
    zip.write_all(&manifest_bytes).expect("write");
    for (path, data) in entries {
        zip.start_file(path.as_str(), options).expect("start");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// ServerTest's entries as a package stores them, plus `extra`.
fn server_test_entries(extra: &[(&str, &[u8])]) -> (String, Vec<(String, Vec<u8>)>) {
    let f = Fixture::load("ServerTest").with_resource("resources/version.txt", "1\n");
    let description =
        xif_model::parse(&f.definition).0.and_then(|d| d.description.map(|d| d.value)).unwrap_or_default();
    let mut entries = vec![
        ("extension.toml".to_string(), f.definition.clone().into_bytes()),
        ("component.wasm".to_string(), f.component),
    ];
    entries.extend(f.sources.iter().map(|(p, d)| (format!("source/{p}"), d.clone())));
    entries.extend(f.resources.iter().map(|(p, d)| (format!("resources/{p}"), d.clone())));
    entries.extend(extra.iter().map(|(p, d)| (p.to_string(), d.to_vec())));
    (description, entries)
}

/// Guards: a zip bomb (four entries of 40 MiB zeros, true headers and manifest, ~160 KB) from
/// a user who may upload is refused by the compression ratio, naming it, before inflating.
#[tokio::test]
async fn zip_bomb_upload_is_refused() {
    let s = TestServer::start().await;
    let (description, mut entries) = server_test_entries(&[]);
    let zeros = vec![0u8; 40 << 20];
    for i in 0..4 {
        entries.push((format!("resources/bomb{i}.bin"), zeros.clone()));
    }
    let bomb = package_of("ServerTest", &description, &entries);
    drop(entries);
    let (status, body) = s.upload(&s.admin, "ServerTest", &bomb).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("zip bomb") && message(&body).contains("resources/bomb"), "{body}");
    assert!(tmp_is_empty(&s));
}

/// Guards: a source snapshot planting `.git/config` (or `.cargo/config.toml`, or `.GIT.`) is
/// refused at upload, naming the entry.
#[tokio::test]
async fn planted_dot_folders_are_refused_at_upload() {
    let s = TestServer::start().await;
    for path in
        ["source/.git/config", "source/.cargo/config.toml", "source/.GIT./config", "resources/.vscode/tasks.json"]
    {
        let (description, entries) = server_test_entries(&[(path, b"[core]\n\tfsmonitor = \"touch pwned\"\n")]);
        let (status, body) = s.upload(&s.admin, "ServerTest", &package_of("ServerTest", &description, &entries)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(message(&body).contains(path), "{path}: {body}");
    }
}

/// Guards: the manifest's description must be the definition's, and its extension name too;
/// the refusal names both values. Before, any description was stored and listed.
#[tokio::test]
async fn manifest_must_agree_with_the_definition() {
    let s = TestServer::start().await;
    let (description, entries) = server_test_entries(&[]);
    let (status, body) =
        s.upload(&s.admin, "ServerTest", &package_of("ServerTest", "Totally harmless", &entries)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("Totally harmless") && message(&body).contains(&description), "{body}");
    let (status, body) = s.upload(&s.admin, "Other", &package_of("Other", &description, &entries)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("Other") && message(&body).contains("ServerTest"), "{body}");
    // A description over 255 characters is refused by the reader.
    let (status, body) = s.upload(&s.admin, "ServerTest", &package_of("ServerTest", &"d".repeat(300), &entries)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("description") && message(&body).contains("255"), "{body}");
    // The true one uploads.
    let (status, body) = s.upload(&s.admin, "ServerTest", &package_of("ServerTest", &description, &entries)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Guards: a package whose actions are still stubs is refused at upload and nothing is stored,
/// whether its manifest says so or only its source snapshot shows it (a manifest that lies).
#[tokio::test]
async fn stubbed_actions_are_refused_by_the_manifest_and_by_the_source() {
    let s = TestServer::start().await;
    let stub: &[u8] =
        b"pub fn ping() -> Result<(), ActionError> {\n    Err(ActionError::not_implemented(\"Ping\"))\n}\n";
    let (description, entries) = server_test_entries(&[("source/src/ping.rs", stub)]);
    let (status, body) = s.upload(&s.admin, "ServerTest", &package_of("ServerTest", &description, &entries)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "stubbed_actions", "{body}");
    assert!(
        message(&body).contains("1 action is still the stub")
            && message(&body).contains("Ping (src/ping.rs:2:9 calls ActionError::not_implemented)"),
        "{body}"
    );
    let (description, entries) = server_test_entries(&[]);
    let listed = package_listing_stubs("ServerTest", &description, &entries, &["Echo", "Ping"]);
    let (status, body) = s.upload(&s.admin, "ServerTest", &listed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("2 actions are still the stubs") && message(&body).contains("Echo, Ping"),
        "{body}"
    );
    let (status, body) = s.get(Some(&s.admin), "/api/v1/extensions").await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!([])));
    // Without stubs it uploads; the file of an action that is gone is not compiled, so its stub
    // does not count.
    let (description, entries) = server_test_entries(&[("source/src/actions/gone.rs", stub)]);
    let (status, body) = s.upload(&s.admin, "ServerTest", &package_of("ServerTest", &description, &entries)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Guards: a package whose digests lie (an entry changed after the manifest was written) is
/// refused, naming the entry.
#[tokio::test]
async fn digest_lie_is_refused() {
    let s = TestServer::start().await;
    let (status, body) = s.upload(&s.admin, "ServerTest", &package_with_lying_digest()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("resources/resources/version.txt") && message(&body).contains("SHA-256"), "{body}");
}

/// ServerTest whose manifest gives `resources/version.txt` the digest of other content.
fn package_with_lying_digest() -> Vec<u8> {
    let (description, entries) = server_test_entries(&[]);
    let mut manifest_entries = Vec::new();
    for (path, data) in &entries {
        let sha = if path == "resources/resources/version.txt" {
            xif_package::sha256_hex(b"2\n")
        } else {
            xif_package::sha256_hex(data)
        };
        manifest_entries.push(xif_package::ManifestEntry {
            path: path.clone(),
            size: data.len() as u64,
            sha256: sha,
            kind: xif_package::EntryKind::of_path(path).expect("kind"),
        });
    }
    let manifest = xif_package::Manifest {
        format: xif_package::FORMAT_VERSION,
        extension: "ServerTest".into(),
        description,
        toolchain: "rustc (tests)".into(),
        stubs: Vec::new(),
        entries: manifest_entries,
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("json");
    manifest_bytes.push(b'\n');
    let options = zip::write::SimpleFileOptions::DEFAULT.unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("manifest.json", options).expect("start");
    zip.write_all(&manifest_bytes).expect("write");
    for (path, data) in &entries {
        zip.start_file(path.as_str(), options).expect("start");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// Guards: a component that is not valid WebAssembly is refused at upload, naming the entry.
#[tokio::test]
async fn invalid_component_is_refused() {
    let s = TestServer::start().await;
    let (description, mut entries) = server_test_entries(&[]);
    entries[1].1 = b"\0asm\x0d\0\x01\0garbage".to_vec();
    let (status, body) = s.upload(&s.admin, "ServerTest", &package_of("ServerTest", &description, &entries)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("component.wasm"), "{body}");
}

/// Guards: an action that loops forever is stopped at the call time limit (504), one that
/// allocates without end at the memory limit (500 out_of_memory), one that panics traps (500
/// trap with its message); the server serves afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runaway_components_are_stopped() {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let mut c = config(dir.path());
    c.limits.call_time = Duration::from_secs(2);
    let s = TestServer::start_with(c, dir).await;
    s.deploy("ServerTest", &server_test("1")).await;
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Spin", json!({})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::GATEWAY_TIMEOUT, Some("timeout")), "{body}");
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Hog", json!({})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("out_of_memory")), "{body}");
    let (status, body, _) = s.call(&s.admin, "ServerTest", "Crash", json!({"Message": "trap here"})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("trap")), "{body}");
    assert!(message(&body).contains("trap here"), "{body}");
    let (status, _, _) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

/// HostileTest (tests/extensions/HostileTest) deployed.
async fn hostile(s: &TestServer) {
    s.deploy("HostileTest", &Fixture::load("HostileTest").package()).await;
}

/// Guards: unbounded recursion overflows the guest's stack and traps (500), without harm to
/// the server.
#[tokio::test]
async fn deep_recursion_traps() {
    let s = TestServer::start().await;
    hostile(&s).await;
    let (status, body, _) = s.call(&s.admin, "HostileTest", "Recurse", json!({})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["error"], "trap", "{body}");
    // Rust's shadow stack lives in linear memory: it runs out below address 0 (an out of
    // bounds access) before wasmtime's own stack limit (a stack overflow); either is a trap.
    let m = message(&body);
    assert!(m.contains("out of bounds memory access") || m.contains("stack overflow"), "{body}");
    let (status, body, _) = s.call(&s.admin, "HostileTest", "Huge", json!({"Mebibytes": 1})).await;
    assert_eq!(status, StatusCode::OK, "the server serves afterwards: {body}");
}

/// Guards: a huge output is bounded by the call's memory limit: 8 MiB comes back whole, 100 MiB
/// (over the tests' 64 MiB limit) is stopped as out of memory; a list of a million items is
/// answered, ten million stopped the same way.
#[tokio::test]
async fn huge_outputs_are_bounded_by_the_memory_limit() {
    let s = TestServer::start().await;
    hostile(&s).await;
    let (status, body, _) = s.call(&s.admin, "HostileTest", "Huge", json!({"Mebibytes": 8})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Text"].as_str().map(str::len), Some(8 << 20));
    let (status, body, _) = s.call(&s.admin, "HostileTest", "Huge", json!({"Mebibytes": 100})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("out_of_memory")), "{body}");
    let (status, body, _) = s.call(&s.admin, "HostileTest", "ManyItems", json!({"Count": 1_000_000})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["Items"].as_array().map(Vec::len), Some(1_000_000));
    let (status, body, _) = s.call(&s.admin, "HostileTest", "ManyItems", json!({"Count": 10_000_000})).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("out_of_memory")), "{body}");
}

/// Guards: a component importing a function that is not granted (here a made-up network
/// interface) uploads but is refused at publish, naming the import; nothing is activated.
#[tokio::test]
async fn ungranted_import_is_refused_at_publish() {
    let s = TestServer::start().await;
    let mut f = Fixture::load("ServerTest");
    f.component = wat::parse_str(
        r#"(component (import "wasi:sockets/tcp@0.3.0" (instance (export "connect" (func (param "to" string))))))"#,
    )
    .expect("valid component text");
    let (status, body) = s.upload(&s.admin, "ServerTest", &f.package()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.publish(&s.admin, "ServerTest", 1).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("`wasi:sockets/tcp@0.3.0`"), "{body}");
    let (status, _, _) = s.call(&s.admin, "ServerTest", "Which", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing was activated");
}

/// Guards: extension B cannot reach A's entity records through the host's entities
/// interface, by A's entity name or by a table name.
#[tokio::test]
async fn another_extensions_entities_are_out_of_reach() {
    let s = TestServer::start().await;
    s.deploy("GuestBook", &Fixture::load("GuestBook").package()).await;
    let (status, body, _) = s.call(&s.admin, "GuestBook", "Sign", json!({"Who": "Ada"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut other = Fixture::load("GuestBook");
    other.definition = other.definition.replace("name = \"GuestBook\"", "name = \"Intruder\"");
    s.deploy("Intruder", &other.package()).await;
    let (_, body, _) = s.call(&s.admin, "Intruder", "Probe", json!({"Entity": "Visit"})).await;
    assert_eq!(body, json!({"Count": 0, "Error": ""}), "its own, empty Visit");
    for name in ["GuestBook.Visit", "xe1_0", "xe1_1", "entity_tables", "users"] {
        let (_, body, _) = s.call(&s.admin, "Intruder", "Probe", json!({"Entity": name})).await;
        assert_eq!(body["Count"], -1, "{name}: {body}");
    }
    let (_, body, _) = s.call(&s.admin, "GuestBook", "Probe", json!({"Entity": "Visit"})).await;
    assert_eq!(body, json!({"Count": 1, "Error": ""}));
}
