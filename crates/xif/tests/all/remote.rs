//! Shared by the tests that talk to a server: a real `xif serve` on a free loopback port with a
//! temporary data directory, and `xif` commands with a temporary HOME (never the user's config).
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::support::xif;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running `xif serve` and a temporary home for the client's config.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    addr: String,
    _data: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let mut child = xif()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env("XIF_INSECURE_FAST_PASSWORD_HASHING", "1")
            .env("XIF_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xif serve starts");
        let addr = crate::serve::listening_address(&mut child);
        let home = tempfile::tempdir().expect("tempdir");
        Server { child, url: format!("http://{addr}"), addr, _data: data, home }
    }

    /// `xif` with this server's temporary home and no inherited server variables or colours.
    pub fn xif(&self) -> Command {
        let mut c = xif();
        c.env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env_remove("XIF_SERVER")
            .env_remove("XIF_TOKEN")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        c
    }

    pub fn config_file(&self) -> PathBuf {
        self.home.path().join("config/xif/servers.json")
    }

    /// `xif login URL --user USER --password-stdin`.
    pub fn login(&self, user: &str, password: &str) -> Output {
        let mut child = self
            .xif()
            .args(["login", &self.url, "--user", user, "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xif login");
        writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write the password");
        child.wait_with_output().expect("xif login ends")
    }

    /// An administrator's token, straight from the API.
    pub fn admin_token(&self) -> String {
        let body = format!(r#"{{"user": "admin", "password": "{ADMIN_PASSWORD}"}}"#);
        let (status, v) = self.api("POST", "/api/v1/login", None, &body);
        assert_eq!(status, 200, "{v}");
        v["token"].as_str().expect("a token").to_string()
    }

    /// One HTTP request to the API; answers the status and the whole answer (head and body).
    fn raw(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, out)
    }

    /// One request with a byte body of `content_type`; answers the status and the body.
    pub fn request_bytes(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .expect("write");
        s.write_all(body).expect("write the body");
        let mut out = Vec::new();
        s.read_to_end(&mut out).expect("read");
        let out = String::from_utf8_lossy(&out).into_owned();
        let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
    }

    /// One HTTP request to the API; answers the status and the JSON body.
    pub fn api(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let (status, out) = self.raw(method, path, token, body);
        let text = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Calls an action over the API; answers the status and the answer's `X-Request-Id` (the
    /// call id of its log lines).
    pub fn call_with_id(&self, ext: &str, action: &str, token: &str, body: &str) -> (u16, String) {
        let (status, out) = self.raw("POST", &format!("/api/v1/extensions/{ext}/actions/{action}"), Some(token), body);
        let id = out
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id:").map(|v| v.trim().to_string()))
            .expect("an X-Request-Id");
        (status, id)
    }

    /// The extensions the server lists.
    pub fn extensions(&self) -> Vec<Value> {
        let (status, v) = self.api("GET", "/api/v1/extensions", Some(&self.admin_token()), "");
        assert_eq!(status, 200, "{v}");
        v.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every JSON line of stdout.
pub fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

/// The events of the six steps (not the server's stages), as (step, status).
pub fn step_events(lines: &[Value]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|v| v.get("step").is_some() && v.get("stage").is_none())
        .map(|v| (v["step"].as_str().unwrap_or("").to_string(), v["status"].as_str().unwrap_or("").to_string()))
        .collect()
}

pub fn summary(lines: &[Value]) -> Value {
    lines.iter().rev().find_map(|v| v.get("summary").cloned()).expect("a summary line")
}
