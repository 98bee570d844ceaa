//! Shared helpers: a real server on a free loopback port with a temporary data directory, an
//! HTTP client, and packages built from the test extensions in `tests/extensions/`.
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use xif_server::{Config, RunningServer};

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// The database engine the suite runs on: `XIF_TEST_DATABASE` = `sqlite` (or unset) or `postgres`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The engine of this run (`XIF_TEST_DATABASE`); any other value stops the test, naming it.
pub fn engine() -> Engine {
    match std::env::var("XIF_TEST_DATABASE").as_deref() {
        Err(std::env::VarError::NotPresent) | Ok("" | "sqlite") => Engine::Sqlite,
        Ok("postgres") => Engine::Postgres,
        Ok(other) => panic!("XIF_TEST_DATABASE={other:?}: the suite runs on `sqlite` (the default) or `postgres`"),
        Err(e) => panic!("XIF_TEST_DATABASE: {e}"),
    }
}

/// The database URL of the data directory `dir`: on SQLite its `xif.db`; on PostgreSQL a
/// database of the test process's own server (crate xif-testpg), made for this directory the first
/// time it is asked for, so a restart on the same directory finds the same database.
pub fn database_url(dir: &Path) -> String {
    match engine() {
        Engine::Sqlite => format!("sqlite://{}", dir.join("xif.db").display()),
        Engine::Postgres => {
            static DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
            let mut databases = DATABASES.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, url)) = databases.iter().find(|(d, _)| d == dir) {
                return url.clone();
            }
            let hint = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let url = xif_testpg::database(&format!("xif{hint}"));
            databases.push((dir.to_path_buf(), url.clone()));
            url
        }
    }
}

/// The `--database URL` arguments for a `xif serve` on the data directory `dir`: none on SQLite
/// (its default is the directory's `xif.db`).
pub fn serve_database_args(dir: &Path) -> Vec<String> {
    match engine() {
        Engine::Sqlite => Vec::new(),
        Engine::Postgres => vec!["--database".into(), database_url(dir)],
    }
}

/// A test configuration: loopback port 0, cheap password hashing, short limits; on PostgreSQL,
/// the data directory's own database ([`database_url`]).
pub fn config(dir: &Path) -> Config {
    let mut c = Config::new(dir);
    if engine() == Engine::Postgres {
        c.database_url = Some(database_url(dir));
    }
    c.listen = "127.0.0.1:0".parse().expect("address");
    c.admin_password = Some(ADMIN_PASSWORD.into());
    c.insecure_fast_password_hashing = true;
    c.limits.call_time = Duration::from_secs(5);
    c.limits.call_memory = 64 << 20;
    c.limits.max_instances = 16;
    c.minutes_flush_interval = Duration::from_millis(200);
    c
}

/// A running server and a client for it.
pub struct TestServer {
    pub server: Option<RunningServer>,
    pub url: String,
    pub client: reqwest::Client,
    /// The administrator's token.
    pub admin: String,
    pub dir: Arc<tempfile::TempDir>,
}

impl TestServer {
    /// A fresh server in a new temporary data directory.
    pub async fn start() -> TestServer {
        let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
        TestServer::start_with(config(dir.path()), dir).await
    }

    /// A server with this configuration (its data directory must be `dir`).
    pub async fn start_with(config: Config, dir: Arc<tempfile::TempDir>) -> TestServer {
        let server = xif_server::start(config).await.expect("the server starts");
        let url = server.url();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let mut t = TestServer { server: Some(server), url, client, admin: String::new(), dir };
        t.admin = t.login("admin", ADMIN_PASSWORD).await;
        t
    }

    /// Stops (draining) and starts again on the same data directory.
    pub async fn restart(mut self) -> TestServer {
        let dir = self.dir.clone();
        self.stop().await;
        TestServer::start_with(config(dir.path()), dir).await
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Logs in; panics unless it works.
    pub async fn login(&self, user: &str, password: &str) -> String {
        let (status, body) = self.post(None, "/api/v1/login", json!({"user": user, "password": password})).await;
        assert_eq!(status, StatusCode::OK, "login as {user}: {body}");
        body["token"].as_str().expect("a token").to_string()
    }

    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> (StatusCode, Value, HeaderMap) {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body, headers)
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let (s, b, _) = self.send(self.client.get(self.url(path)), token).await;
        (s, b)
    }

    pub async fn delete(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let (s, b, _) = self.send(self.client.delete(self.url(path)), token).await;
        (s, b)
    }

    pub async fn post(&self, token: Option<&str>, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = self.send(self.client.post(self.url(path)).json(&body), token).await;
        (s, b)
    }

    pub async fn put(&self, token: Option<&str>, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = self.send(self.client.put(self.url(path)).json(&body), token).await;
        (s, b)
    }

    pub async fn post_raw(&self, token: Option<&str>, path: &str, body: Vec<u8>) -> (StatusCode, Value, HeaderMap) {
        self.send(self.client.post(self.url(path)).body(body), token).await
    }

    /// Uploads a package.
    pub async fn upload(&self, token: &str, name: &str, package: &[u8]) -> (StatusCode, Value) {
        let (s, b, _) =
            self.post_raw(Some(token), &format!("/api/v1/extensions/{name}/versions"), package.to_vec()).await;
        (s, b)
    }

    /// Publishes (JSON answer).
    pub async fn publish(&self, token: &str, name: &str, version: i64) -> (StatusCode, Value) {
        self.post(Some(token), &format!("/api/v1/extensions/{name}/versions/{version}/publish"), json!(null)).await
    }

    /// Publishes with consent to changes that break the active version's callers (JSON answer).
    pub async fn publish_allowing_breaking(&self, token: &str, name: &str, version: i64) -> (StatusCode, Value) {
        let path = format!("/api/v1/extensions/{name}/versions/{version}/publish?allow_breaking=true");
        self.post(Some(token), &path, json!(null)).await
    }

    /// Uploads and publishes as the administrator; returns the version. It consents to breaking
    /// changes: the tests that deploy one definition after another are about other things.
    pub async fn deploy(&self, name: &str, package: &[u8]) -> i64 {
        let (status, body) = self.upload(&self.admin, name, package).await;
        assert!(status.is_success(), "upload: {status} {body}");
        let version = body["version"].as_i64().expect("version");
        let (status, body) = self.publish_allowing_breaking(&self.admin, name, version).await;
        assert_eq!(status, StatusCode::OK, "publish: {body}");
        version
    }

    /// Calls an action; returns status, body and the answering version.
    pub async fn call(&self, token: &str, ext: &str, action: &str, input: Value) -> (StatusCode, Value, Option<i64>) {
        let (s, b, h) = self
            .send(
                self.client.post(self.url(&format!("/api/v1/extensions/{ext}/actions/{action}"))).json(&input),
                Some(token),
            )
            .await;
        let version = h.get("xif-version").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        (s, b, version)
    }

    /// Creates a user with these permissions and logs in as them.
    pub async fn user(&self, name: &str, permissions: &[&str]) -> String {
        let password = format!("{name}-password");
        let (status, body) = self
            .post(
                Some(&self.admin),
                "/api/v1/users",
                json!({"name": name, "password": password, "permissions": permissions}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        self.login(name, &password).await
    }
}

/// The files of a test extension, to build packages from.
#[derive(Clone)]
pub struct Fixture {
    pub definition: String,
    pub component: Vec<u8>,
    pub sources: Vec<(String, Vec<u8>)>,
    pub resources: Vec<(String, Vec<u8>)>,
}

impl Fixture {
    /// `tests/extensions/NAME` with its prebuilt component (`cargo xtask fixtures`).
    pub fn load(name: &str) -> Fixture {
        let dir = workspace().join("tests/extensions").join(name);
        let component_path = dir.join(".xif/build/component.wasm");
        let component = std::fs::read(&component_path).unwrap_or_else(|e| {
            panic!("{}: {e}\n  help: build the test extensions first: `cargo xtask fixtures`", component_path.display())
        });
        let definition = std::fs::read_to_string(dir.join("extension.toml")).expect("extension.toml");
        let mut sources = vec![("Cargo.toml".to_string(), std::fs::read(dir.join("Cargo.toml")).expect("Cargo.toml"))];
        collect(&dir, &dir.join("src"), &mut sources);
        let mut resources = Vec::new();
        if dir.join("resources").is_dir() {
            collect(&dir, &dir.join("resources"), &mut resources);
        }
        Fixture { definition, component, sources, resources }
    }

    /// Replaces (or adds) a resource.
    pub fn with_resource(mut self, path: &str, content: &str) -> Fixture {
        self.resources.retain(|(p, _)| p != path);
        self.resources.push((path.to_string(), content.as_bytes().to_vec()));
        self
    }

    /// The `.xif`.
    pub fn package(&self) -> Vec<u8> {
        let name = self.definition_name();
        let description = self.definition_description();
        xif_package::write(&xif_package::PackageInput {
            extension: &name,
            description: &description,
            toolchain: "rustc (tests)",
            definition: self.definition.as_bytes(),
            component: &self.component,
            sources: &self.sources,
            resources: &self.resources,
            stubs: &[],
        })
        .expect("the package writes")
        .bytes
    }

    fn definition_name(&self) -> String {
        let def = xif_model::parse(&self.definition).0.expect("the definition parses");
        def.name.text
    }

    /// The definition's description: the manifest must carry the same.
    fn definition_description(&self) -> String {
        let def = xif_model::parse(&self.definition).0.expect("the definition parses");
        def.description.map(|d| d.value).unwrap_or_default()
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read_dir").flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).expect("below root").to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read(&p).expect("read")));
        }
    }
}

/// ServerTest with `resources/version.txt` = `version`.
pub fn server_test(version: &str) -> Vec<u8> {
    Fixture::load("ServerTest").with_resource("resources/version.txt", &format!("{version}\n")).package()
}

/// The edit of ServerTest's extension.toml that [`server_test_changed`] makes: Hello gains an
/// optional input (compatible), Spin is gone (breaking). `(from, to)` pairs, applied in order.
pub const SERVER_TEST_CHANGES: [(&str, &str); 2] = [
    (
        r#"inputs = { Who = "Text", Times = { type = "Integer", default = 1 } }"#,
        r#"inputs = { Who = "Text", Times = { type = "Integer", default = 1 }, Loud = { type = "Boolean", default = false } }"#,
    ),
    ("[actions.Spin]\ndescription = \"Loops forever.\"\n\n", ""),
];

/// ServerTest with `resources/version.txt` = `version` and the definition edited by
/// [`SERVER_TEST_CHANGES`] (uploadable; its component still exports Spin, so not publishable).
pub fn server_test_changed(version: &str) -> Vec<u8> {
    let mut f = Fixture::load("ServerTest").with_resource("resources/version.txt", &format!("{version}\n"));
    f.definition = server_test_changed_definition();
    f.package()
}

/// ServerTest's extension.toml as [`server_test_changed`] writes it.
pub fn server_test_changed_definition() -> String {
    let mut def = Fixture::load("ServerTest").definition;
    for (from, to) in SERVER_TEST_CHANGES {
        assert!(def.contains(from), "ServerTest's extension.toml has {from:?}");
        def = def.replace(from, to);
    }
    def
}
