//! Issue 12, action calls, against a spawned `xif serve` at DESIGN.md's default limits: the
//! server's own peak memory (`VmHWM` of its process) through a flood of large call bodies from a
//! user with no permissions.
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{workspace, xif};

const PASSWORD: &str = "hostile-calls-admin";

/// One HTTP/1.1 request with `body`, written from another thread while this one reads the
/// answer (the server may answer before it has read the body); returns the status and body.
fn request(addr: &str, method: &str, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else { return (0, String::new()) };
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut writer = s.try_clone().expect("clone the socket");
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&body));
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let _ = sending.join();
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:.300}"))
}

/// The package of a test extension, from its prebuilt component (`cargo xtask fixtures`).
fn package(name: &str) -> Vec<u8> {
    let dir = workspace().join("tests/extensions").join(name);
    let component = std::fs::read(dir.join(".xif/build/component.wasm"))
        .unwrap_or_else(|e| panic!("{name}: {e}; build the test extensions first: `cargo xtask fixtures`"));
    let definition = std::fs::read(dir.join("extension.toml")).expect("extension.toml");
    let mut sources = vec![("Cargo.toml".to_string(), std::fs::read(dir.join("Cargo.toml")).expect("Cargo.toml"))];
    collect(&dir, &dir.join("src"), &mut sources);
    let mut resources = Vec::new();
    if dir.join("resources").is_dir() {
        collect(&dir, &dir.join("resources"), &mut resources);
    }
    // The manifest carries the definition's own description (the server checks they agree).
    let text = String::from_utf8_lossy(&definition).into_owned();
    let description = xif_model::parse(&text).0.and_then(|d| d.description).map(|d| d.value).unwrap_or_default();
    xif_package::write(&xif_package::PackageInput {
        extension: name,
        description: &description,
        toolchain: "rustc (tests)",
        definition: &definition,
        component: &component,
        sources: &sources,
        resources: &resources,
        stubs: &[],
    })
    .expect("the package writes")
    .bytes
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

/// A field of /proc/PID/status in KiB (`VmHWM`, `VmRSS`).
fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Served {
    let mut child = xif()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("XIF_INSECURE_FAST_PASSWORD_HASHING", "1")
        .env("XIF_ADMIN_PASSWORD", PASSWORD)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("xif serve starts");
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
    Served { child, addr }
}

/// Sends `n` bodies at once to `path`; answers the statuses.
fn flood(addr: &str, token: &str, path: &str, body: &[u8], n: usize) -> Vec<u16> {
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (addr, token, path, body) = (addr.to_string(), token.to_string(), path.to_string(), body.to_vec());
            std::thread::spawn(move || request(&addr, "POST", &path, Some(&token), body).0)
        })
        .collect();
    threads.into_iter().map(|t| t.join().expect("a caller")).collect()
}

/// Guards the memory budget of call inputs (issue 12, item 1): 20 parallel 9 MB call bodies
/// from a user with no permissions raised the server's memory from 20 MB to 1.7–3.0 GB (a JSON
/// tree, then values, then component values, before a call slot was taken). Now bodies are
/// weighed before they are read, refused by their first bytes when they cannot be the action's
/// input, and the memory of their conversion is reserved, by the input's shape, before it is
/// built: the peak stays under 300 MB, and calls work after.
#[test]
fn a_flood_of_large_call_bodies_keeps_the_servers_memory_bounded() {
    let data = tempfile::tempdir().expect("tempdir");
    let server = serve(data.path());
    let addr = server.addr.clone();
    let pid = server.child.id();
    let (status, body) =
        request(&addr, "POST", "/api/v1/login", None, format!(r#"{{"user":"admin","password":"{PASSWORD}"}}"#).into());
    assert_eq!(status, 200, "{body}");
    let admin = json(&body)["token"].as_str().expect("token").to_string();
    for name in ["ServerTest", "AllTypes"] {
        let (status, body) =
            request(&addr, "POST", &format!("/api/v1/extensions/{name}/versions"), Some(&admin), package(name));
        assert!(status == 200 || status == 201, "upload {name}: {status} {body}");
        let version = json(&body)["version"].as_i64().expect("version");
        let path = format!("/api/v1/extensions/{name}/versions/{version}/publish");
        let (status, body) = request(&addr, "POST", &path, Some(&admin), b"null".to_vec());
        assert_eq!(status, 200, "publish {name}: {body}");
    }
    let user = r#"{"name":"nobody","password":"nobody-password","permissions":[]}"#;
    let (status, body) = request(&addr, "POST", "/api/v1/users", Some(&admin), user.into());
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        request(&addr, "POST", "/api/v1/login", None, br#"{"user":"nobody","password":"nobody-password"}"#.to_vec());
    assert_eq!(status, 200, "{body}");
    let nobody = json(&body)["token"].as_str().expect("token").to_string();
    let hello = "/api/v1/extensions/ServerTest/actions/Hello";
    let (status, body) = request(&addr, "POST", hello, Some(&nobody), br#"{"Who":"Ada"}"#.to_vec());
    assert_eq!(status, 200, "{body}");
    let idle = status_kib(pid, "VmHWM");

    // The issue's flood: 20 × 9 MB of `[0,0,…]`.
    let mut zeros = Vec::with_capacity(9 << 20);
    zeros.push(b'[');
    while zeros.len() < (9 << 20) - 2 {
        zeros.extend_from_slice(b"0,");
    }
    zeros.extend_from_slice(b"0]");
    let statuses = flood(&addr, &nobody, hello, &zeros, 20);
    let after_untyped = status_kib(pid, "VmHWM");

    // The worst input for a typed action: 9 MB of integers in a `List of List of Integer`.
    let mut nested = br#"{"Words":"","Int":0,"Long":0,"Dec":"0","Flag":false,"Day":"2024-01-01","At":"00:00:00","When":"2024-01-01T00:00:00Z","Data":"","Nested":[["#.to_vec();
    while nested.len() < (9 << 20) - 4 {
        nested.extend_from_slice(b"0,");
    }
    nested.extend_from_slice(b"0]]}");
    let typed = flood(&addr, &nobody, "/api/v1/extensions/AllTypes/actions/Compute", &nested, 20);
    let peak = status_kib(pid, "VmHWM");
    eprintln!(
        "VmHWM of xif serve: {} MiB idle, {} MiB after 20 × 9 MB `[0,…]`, {} MiB after 20 × 9 MB typed lists; statuses {statuses:?} then {typed:?}",
        idle / 1024,
        after_untyped / 1024,
        peak / 1024
    );
    assert!(statuses.iter().all(|s| [400, 503].contains(s)), "a body that is no object is refused: {statuses:?}");
    assert!(statuses.contains(&400), "{statuses:?}");
    assert!(typed.iter().all(|s| [413, 503].contains(s)), "an input too big to convert is refused: {typed:?}");
    assert!(peak < 300 << 10, "the server's peak memory was {} MiB", peak / 1024);

    // Normal calls still work.
    let (status, body) = request(&addr, "POST", hello, Some(&nobody), br#"{"Who":"Ada"}"#.to_vec());
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["Message"], "Hello, Ada!");
}
