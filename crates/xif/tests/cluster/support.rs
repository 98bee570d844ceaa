//! Nodes: real `xif serve` processes on one PostgreSQL database, each with its own data
//! directory (its compiled-code cache), the same secret key and administrator password.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

/// How long a test waits for something to propagate or heal.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a node may take to start or stop (several start at once on a loaded machine).
const START_WAIT: Duration = Duration::from_secs(30);
pub const PASSWORD: &str = "cluster-admin-password";
const SECRET_KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// A running `xif serve`.
pub struct Node {
    pub name: &'static str,
    pub url: String,
    pub data: PathBuf,
    log: PathBuf,
    child: Child,
}

/// How to start a node.
pub struct NodeOptions<'a> {
    pub env: Vec<(&'a str, &'a str)>,
    /// `--reconcile-ms`: long by default, so propagation in these tests comes from notifications.
    pub reconcile_ms: u64,
}

impl Default for NodeOptions<'_> {
    fn default() -> Self {
        NodeOptions { env: Vec::new(), reconcile_ms: 600_000 }
    }
}

impl Node {
    /// Starts `xif serve` on a free port with its data in `root/name`, and waits until it
    /// listens (or panics with its log).
    pub fn start(root: &Path, name: &'static str, database: &str, options: NodeOptions<'_>) -> Node {
        let mut child = Self::spawn(root, name, database, &options);
        let data = root.join(name);
        let log = root.join(format!("{name}.log"));
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find_map(|l| l.trim().strip_prefix("Listening on ")) {
                let url = line.split(' ').next().unwrap_or_default().to_string();
                return Node { name, url, data, log, child };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("node {name} ended ({status}) before listening:\n{text}");
            }
            if started.elapsed() > START_WAIT {
                let _ = child.kill();
                panic!("node {name} is not listening after {START_WAIT:?}:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `xif serve` on `database` expecting it to refuse to start: its exit code and log.
    pub fn refused(root: &Path, name: &'static str, database: &str) -> (Option<i32>, String) {
        let mut child = Self::spawn(root, name, database, &NodeOptions::default());
        let started = Instant::now();
        let log = root.join(format!("{name}.log"));
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return (status.code(), std::fs::read_to_string(&log).unwrap_or_default());
            }
            if started.elapsed() > START_WAIT {
                let _ = child.kill();
                panic!("node {name} did not stop:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, and waits until the node has drained and ended.
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let started = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) {
            assert!(started.elapsed() < START_WAIT, "node {} did not stop on SIGTERM:\n{}", self.name, self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: the process ends at once, wherever it is.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn spawn(root: &Path, name: &str, database: &str, options: &NodeOptions<'_>) -> Child {
        let data = root.join(name);
        std::fs::create_dir_all(&data).expect("data dir");
        let log = std::fs::File::create(root.join(format!("{name}.log"))).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xif"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(["--database", database, "--reconcile-ms", &options.reconcile_ms.to_string()])
            .env("XIF_INSECURE_FAST_PASSWORD_HASHING", "1")
            .env("XIF_ADMIN_PASSWORD", PASSWORD)
            .env("XIF_SECRET_KEY", SECRET_KEY)
            .env("XIF_LOG", "info,sqlx=warn,tower_http=warn")
            .env_remove("XIF_FAILPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in &options.env {
            cmd.env(k, v);
        }
        cmd.spawn().expect("xif serve starts")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` until it answers `Some`, for up to [`WAIT`]; panics with `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < WAIT, "not within {WAIT:?}: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An HTTP client of the nodes.
#[derive(Clone)]
pub struct Client(reqwest::Client);

/// An answer: status, JSON body (`null` when none), the `xif-version` header.
pub type Answer = (StatusCode, Value, Option<i64>);

impl Client {
    pub fn new() -> Client {
        Client(reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"))
    }

    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> Answer {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        match req.send().await {
            Ok(r) => {
                let status = r.status();
                let version = r.headers().get("xif-version").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
                let body =
                    r.bytes().await.map(|b| serde_json::from_slice(&b).unwrap_or(Value::Null)).unwrap_or_default();
                (status, body, version)
            }
            Err(e) => (StatusCode::BAD_GATEWAY, json!({"transport": e.to_string()}), None),
        }
    }

    pub async fn get(&self, node: &str, path: &str, token: Option<&str>) -> Answer {
        self.send(self.0.get(format!("{node}{path}")), token).await
    }

    pub async fn post(&self, node: &str, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(self.0.post(format!("{node}{path}")).json(&body), token).await
    }

    pub async fn put(&self, node: &str, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(self.0.put(format!("{node}{path}")).json(&body), token).await
    }

    pub async fn delete(&self, node: &str, path: &str, token: Option<&str>) -> Answer {
        self.send(self.0.delete(format!("{node}{path}")), token).await
    }

    /// Logs in as `admin`: a session token.
    pub async fn admin(&self, node: &str) -> String {
        let (status, body, _) =
            self.post(node, "/api/v1/login", None, json!({"user": "admin", "password": PASSWORD})).await;
        assert_eq!(status, StatusCode::OK, "login: {body}");
        body["token"].as_str().expect("a token").to_string()
    }

    /// Uploads a package: its version number.
    pub async fn upload(&self, node: &str, token: &str, name: &str, package: Vec<u8>) -> i64 {
        let req = self.0.post(format!("{node}/api/v1/extensions/{name}/versions")).body(package);
        let (status, body, _) = self.send(req, Some(token)).await;
        assert!(status.is_success(), "upload to {node}: {status} {body}");
        body["version"].as_i64().expect("a version number")
    }

    /// Publishes a version: the answer.
    pub async fn publish(&self, node: &str, token: &str, name: &str, version: i64) -> Answer {
        self.post(node, &format!("/api/v1/extensions/{name}/versions/{version}/publish"), Some(token), json!({})).await
    }

    /// Calls `Which` of ServerTest: the answer (its body's `Version` is the package's tag).
    pub async fn which(&self, node: &str, token: &str) -> Answer {
        self.post(node, "/api/v1/extensions/ServerTest/actions/Which", Some(token), json!({})).await
    }
}

/// ServerTest's package with `resources/version.txt` = `tag`: a version whose calls to `Which`
/// say `tag`.
pub fn server_test(tag: &str) -> Vec<u8> {
    let dir = workspace().join("tests/extensions/ServerTest");
    let component_path = dir.join(".xif/build/component.wasm");
    let component = std::fs::read(&component_path).unwrap_or_else(|e| {
        panic!("{}: {e}\n  help: build the test extensions first: `cargo xtask fixtures`", component_path.display())
    });
    let definition = std::fs::read_to_string(dir.join("extension.toml")).expect("extension.toml");
    let def = xif_model::parse(&definition).0.expect("the definition parses");
    let mut sources = vec![("Cargo.toml".to_string(), std::fs::read(dir.join("Cargo.toml")).expect("Cargo.toml"))];
    for entry in walk(&dir.join("src")) {
        let rel = entry.strip_prefix(&dir).expect("below").to_string_lossy().replace('\\', "/");
        sources.push((rel, std::fs::read(&entry).expect("read")));
    }
    let resources = vec![("resources/version.txt".to_string(), format!("{tag}\n").into_bytes())];
    xif_package::write(&xif_package::PackageInput {
        extension: &def.name.text,
        description: &def.description.map(|d| d.value).unwrap_or_default(),
        toolchain: "rustc (tests)",
        definition: definition.as_bytes(),
        component: &component,
        sources: &sources,
        resources: &resources,
        stubs: &[],
    })
    .expect("the package writes")
    .bytes
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read_dir").flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The workspace's root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
