//! `xif serve`: the real binary starts, creates `admin` once, answers HTTP, stops on SIGTERM.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use crate::support::xif;

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// Starts `xif serve` on a free port; returns the child and its address once it listens.
fn serve(data: &std::path::Path) -> (Child, String) {
    let mut child = spawn_serve(data, &[]);
    let addr = listening_address(&mut child);
    (child, addr)
}

/// Spawns `xif serve` on a free port with `args` (stdout and stderr piped, the log at `info`).
fn spawn_serve(data: &std::path::Path, args: &[&str]) -> Child {
    xif()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env("XIF_INSECURE_FAST_PASSWORD_HASHING", "1")
        .env("XIF_LOG", "info")
        .env_remove("XIF_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xif serve starts")
}

/// Reads a started `xif serve`'s stderr (piped) up to its "Listening on" line and answers the
/// address; then keeps draining stderr so the server never blocks on a full pipe.
pub fn listening_address(child: &mut Child) -> String {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(stderr.read_line(&mut line).expect("read") > 0, "xif serve ended before listening");
        if let Some(rest) = line.trim().strip_prefix("Listening on http://") {
            break rest.split(' ').next().unwrap_or_default().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    addr
}

/// The lines a spawned `xif serve` writes to stderr before its "Listening on" line; then keeps
/// draining stderr so the server never blocks on a full pipe.
fn lines_before_listening(child: &mut Child) -> Vec<String> {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut before = Vec::new();
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).expect("read") > 0, "xif serve ended before listening: {before:?}");
        if line.contains("Listening on http://") {
            break;
        }
        before.push(line);
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    before
}

/// Stops the server with SIGTERM; returns whether it exited successfully, and its stdout.
fn stop(mut child: Child) -> (bool, String) {
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = child.wait().expect("wait");
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout.read_to_string(&mut out).expect("stdout");
    }
    (status.success(), out)
}

fn token(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
    v["token"].as_str().expect("a token").to_string()
}

#[test]
fn serve_creates_admin_once_and_stops_on_sigterm() {
    let data = tempfile::tempdir().expect("tempdir");
    let (child, addr) = serve(data.path());
    let (status, body) = http(&addr, "GET", "/api/v1/openapi.json", None, "");
    assert_eq!(status, 200, "{body}");
    let (ok, stdout) = stop(child);
    assert!(ok, "a clean exit on SIGTERM");
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("admin password: "))
        .unwrap_or_else(|| panic!("the generated password is printed: {stdout}"))
        .to_string();
    assert!(data.path().join("xif.db").is_file());

    // Second start: the same administrator, no new password printed.
    let (child, addr) = serve(data.path());
    let login = format!(r#"{{"user": "admin", "password": "{password}"}}"#);
    let (status, body) = http(&addr, "POST", "/api/v1/login", None, &login);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&addr, "GET", "/api/v1/me", Some(&token(&body)), "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""admin":true"#), "{body}");
    let (ok, stdout) = stop(child);
    assert!(ok);
    assert!(!stdout.contains("password"), "printed only once: {stdout}");
}

/// `--instance-reset` reaches the runtime (it logs the reset it applies before listening), and a
/// value it does not know is refused naming the ones it does.
#[test]
fn serve_resets_instances_as_told() {
    for (how, logged) in [("memset", "reset=memset"), ("decommit", "reset=decommit")] {
        let data = tempfile::tempdir().expect("tempdir");
        let mut child = spawn_serve(data.path(), &["--instance-reset", how]);
        let before = lines_before_listening(&mut child).join("");
        assert!(before.contains(logged), "--instance-reset {how} is logged as {logged}: {before}");
        let (ok, _) = stop(child);
        assert!(ok);
    }
    let out = xif().args(["serve", "--instance-reset", "sometimes"]).output().expect("xif runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in-place") && stderr.contains("memset") && stderr.contains("decommit"), "{stderr}");
}

/// `--log-format json`: every log line the server writes is one JSON object with its time,
/// level, target and fields (the start's line about the instance reset among them).
#[test]
fn serve_logs_json_lines_when_asked() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = spawn_serve(data.path(), &["--log-format", "json", "--instance-reset", "memset"]);
    let logged: Vec<serde_json::Value> = lines_before_listening(&mut child)
        .iter()
        // The status lines for people (the admin password notice) are not log lines.
        .filter(|line| line.trim_start().starts_with('{'))
        .map(|line| serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}")))
        .collect();
    assert!(!logged.is_empty(), "the server logged at start");
    for v in &logged {
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["target"].is_string(), "{v}");
    }
    let reset = logged
        .iter()
        .find(|v| v["fields"]["message"] == "call instances reset")
        .unwrap_or_else(|| panic!("the reset is logged: {logged:?}"));
    assert_eq!(
        (&reset["level"], &reset["target"]),
        (&serde_json::json!("INFO"), &serde_json::json!("xif_server::reset"))
    );
    assert_eq!(reset["fields"]["reset"], "memset", "{reset}");
    let (ok, _) = stop(child);
    assert!(ok);
}
