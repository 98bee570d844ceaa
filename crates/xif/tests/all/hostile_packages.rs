//! Hostile uploads against a SPAWNED `xif serve` at its default limits (issue 12, packages):
//! the server's peak memory (`VmHWM` from /proc/PID/status) through ten parallel zip bombs, a
//! refusal before the body is read, ten large uploads at once; and `xif download` refusing a
//! package that plants `.git/config` in the folder.
use std::io::{Cursor, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{run_code, stderr, xif};

const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// The server's peak memory must stay under this through the floods.
const PEAK_LIMIT_KIB: u64 = 300 * 1024;

/// A spawned `xif serve` with default limits.
struct Serve {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl Serve {
    fn start() -> Serve {
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
        Serve { child, addr, _data: data }
    }

    /// `VmHWM` (peak resident memory) of the server process, in KiB.
    fn peak_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// One request with a complete body; answers the status and the JSON body.
    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let ctype = if path.ends_with("/versions") { "application/octet-stream" } else { "application/json" };
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )
        .expect("write headers");
        // The server may answer (and close) before the whole body is sent.
        let _ = s.write_all(body);
        response(&mut s)
    }

    fn token(&self, user: &str, password: &str) -> String {
        let body = json!({"user": user, "password": password}).to_string();
        let (status, v) = self.request("POST", "/api/v1/login", None, body.as_bytes());
        assert_eq!(status, 200, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    /// Creates a user with these permissions; answers their token.
    fn user(&self, admin: &str, name: &str, permissions: &[&str]) -> String {
        let password = format!("{name}-password");
        let body = json!({"name": name, "password": password, "permissions": permissions}).to_string();
        let (status, v) = self.request("POST", "/api/v1/users", Some(admin), body.as_bytes());
        assert_eq!(status, 201, "{v}");
        self.token(name, &password)
    }

    /// `count` uploads of `package` at once as `token`; answers each (status, body).
    fn flood(&self, token: &str, name: &str, package: &[u8], count: usize) -> Vec<(u16, Value)> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .map(|_| {
                    scope.spawn(|| {
                        self.request("POST", &format!("/api/v1/extensions/{name}/versions"), Some(token), package)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("upload thread")).collect()
        })
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads an HTTP/1.1 response to its end; answers the status and the JSON body.
fn response(s: &mut TcpStream) -> (u16, Value) {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let text = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The smallest valid component: the binary header of `(component)`.
const EMPTY_COMPONENT: &[u8] = &[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// A zip of (name, bytes, compressed?) entries, with the manifest of `xif_package` first; the
/// manifest lists every entry truly, so only the limits can refuse it.
fn package(name: &str, entries: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let manifest = xif_package::Manifest {
        format: xif_package::FORMAT_VERSION,
        extension: name.to_string(),
        description: String::new(),
        toolchain: "rustc (tests)".to_string(),
        stubs: Vec::new(),
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
    let method = if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
    let options = SimpleFileOptions::DEFAULT.compression_method(method).unix_permissions(0o644);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("manifest.json", options).expect("start");
    zip.write_all(&manifest_bytes).expect("write");
    for (path, data) in entries {
        zip.start_file(path.as_str(), options).expect("start");
        zip.write_all(data).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

/// A definition and component, and `resources` listed in the definition.
fn entries(name: &str, resources: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let files: Vec<String> = resources.iter().map(|(p, _)| format!("{p:?}")).collect();
    let definition = format!("[extension]\nname = \"{name}\"\n\n[resources]\nfiles = [{}]\n", files.join(", "));
    let mut all = vec![
        ("extension.toml".to_string(), definition.into_bytes()),
        ("component.wasm".to_string(), EMPTY_COMPONENT.to_vec()),
    ];
    all.extend(resources.iter().map(|(p, d)| (format!("resources/{p}"), d.clone())));
    all
}

/// The zip bomb of the issue: ~200 KB that inflates to 196 MiB, four entries of 49 MiB zeros,
/// each under the old entry limit (50 MiB) and together under the old total (200 MiB), the
/// manifest true. The deflated entry is made once and copied.
fn bomb() -> Vec<u8> {
    const SIZE: usize = 49 << 20;
    let zeros = vec![0u8; SIZE];
    let names: Vec<String> = (0..4).map(|i| format!("resources/zeros{i}.bin")).collect();
    let resources: Vec<(String, Vec<u8>)> = names.iter().map(|n| (n.clone(), Vec::new())).collect();
    let listed = entries("Bomb", &resources);
    // The manifest with the true sizes and digests of the zero entries.
    let sha = xif_package::sha256_hex(&zeros);
    let manifest = xif_package::Manifest {
        format: xif_package::FORMAT_VERSION,
        extension: "Bomb".to_string(),
        description: String::new(),
        toolchain: "rustc (tests)".to_string(),
        stubs: Vec::new(),
        entries: listed
            .iter()
            .map(|(path, data)| {
                let zero = path.contains("zeros");
                xif_package::ManifestEntry {
                    path: path.clone(),
                    size: if zero { SIZE as u64 } else { data.len() as u64 },
                    sha256: if zero { sha.clone() } else { xif_package::sha256_hex(data) },
                    kind: xif_package::EntryKind::of_path(path).expect("a valid path"),
                }
            })
            .collect(),
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("json");
    manifest_bytes.push(b'\n');
    let options = zip::write::SimpleFileOptions::DEFAULT
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let mut one = zip::ZipWriter::new(Cursor::new(Vec::new()));
    one.start_file("x", options).expect("start");
    one.write_all(&zeros).expect("write");
    let one = one.finish().expect("finish").into_inner();
    let mut source = zip::ZipArchive::new(Cursor::new(one)).expect("reads");
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("manifest.json", options).expect("start");
    zip.write_all(&manifest_bytes).expect("write");
    for (path, data) in listed.iter().filter(|(p, _)| !p.contains("zeros")) {
        zip.start_file(path.as_str(), options).expect("start");
        zip.write_all(data).expect("write");
    }
    for name in &names {
        zip.raw_copy_file_rename(source.by_index(0).expect("entry"), format!("resources/{name}")).expect("copy");
    }
    zip.finish().expect("finish").into_inner()
}

/// Guards (issue 12.1): a user with neither "Change & Deploy Applications" nor "Allow
/// Extensions" is refused (403, naming the permission) BEFORE the server reads the body: the
/// request announces 40 MB and sends 64 KiB, and the 403 comes back. Before, the server read
/// (and unpacked) the body first, so this request waited for the rest and never got an answer.
#[test]
fn an_upload_without_permission_is_refused_before_the_body_is_read() {
    let server = Serve::start();
    let admin = server.token("admin", ADMIN_PASSWORD);
    let nobody = server.user(&admin, "nobody", &[]);
    let mut s = TcpStream::connect(&server.addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        s,
        "POST /api/v1/extensions/Big/versions HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {nobody}\r\nContent-Length: 40000000\r\n\r\n",
        server.addr
    )
    .expect("headers");
    s.write_all(&vec![0u8; 64 << 10]).expect("part of the body");
    let (status, body) = response(&mut s);
    assert_eq!(status, 403, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("missing permission \"Allow Extensions\""), "{message}");
}

/// Guards (issue 12.1): the server's peak memory stays under 300 MB through ten parallel zip
/// bombs (~200 KB each, 196 MiB inflated) from a user without permission — each gets its 403
/// without being unpacked — and then ten from a user with "Allow Extensions" — each refused
/// (400) by the reader's compression ratio limit from the declared sizes, before inflating.
/// Before: 2.1 GB peak (each bomb unpacked whole before the permission check).
#[test]
fn ten_parallel_zip_bombs_keep_the_server_under_300_mb() {
    let server = Serve::start();
    let admin = server.token("admin", ADMIN_PASSWORD);
    let nobody = server.user(&admin, "nobody", &[]);
    let dev = server.user(&admin, "dev", &["Allow Extensions"]);
    let bomb = bomb();
    assert!(bomb.len() < 400_000, "a small bomb: {} bytes", bomb.len());
    let start = server.peak_kib();

    for (status, body) in server.flood(&nobody, "Bomb", &bomb, 10) {
        assert_eq!(status, 403, "{body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("Allow Extensions"), "{body}");
    }
    let after_refused = server.peak_kib();
    for (status, body) in server.flood(&dev, "Bomb", &bomb, 10) {
        assert_eq!(status, 400, "{body}");
        assert!(body["message"].as_str().unwrap_or_default().contains("zip bomb"), "{body}");
    }
    let after_bombs = server.peak_kib();
    eprintln!(
        "VmHWM: {start} KiB at start, {after_refused} KiB after 10 bombs without permission, \
         {after_bombs} KiB after 10 bombs with permission ({} bytes each)",
        bomb.len()
    );
    assert!(after_bombs < PEAK_LIMIT_KIB, "peak {after_bombs} KiB");
    // The refused uploads left no scratch file behind.
    let tmp: Vec<_> = std::fs::read_dir(server._data.path().join("tmp")).expect("tmp").collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// Guards (issue 12.1): ten parallel uploads of a valid 40 MB package (incompressible, so as
/// large inflated) by a user who may upload stream to scratch files and are unpacked at most
/// two at a time: the server stays under 300 MB. Before, each body was held whole in memory,
/// then unpacked beside it, all ten at once (~800 MB).
#[test]
fn ten_parallel_large_uploads_keep_the_server_under_300_mb() {
    let server = Serve::start();
    let admin = server.token("admin", ADMIN_PASSWORD);
    let dev = server.user(&admin, "dev", &["Allow Extensions"]);
    let mut noise = vec![0u8; 40 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let big = package("Big", &entries("Big", &[("noise.bin".to_string(), noise)]), false);
    let results = server.flood(&dev, "Big", &big, 10);
    for (status, body) in &results {
        assert!(*status == 201 || *status == 200, "{status} {body}");
        assert_eq!(body["version"], 1, "one version for one package: {body}");
    }
    let peak = server.peak_kib();
    eprintln!("VmHWM: {peak} KiB after 10 parallel uploads of {} bytes", big.len());
    assert!(peak < PEAK_LIMIT_KIB, "peak {peak} KiB");
}

/// A fake server for `xif download`: answers the versions list and the package `bytes`.
fn fake_server(extension: &'static str, bytes: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split(' ').nth(1).unwrap_or_default().to_string();
            let (ctype, body) = if path.ends_with("/package") {
                ("application/octet-stream", bytes.clone())
            } else if path == format!("/api/v1/extensions/{extension}/versions") {
                let list = json!([{"version": 1, "digest": "d".repeat(64), "size": bytes.len(), "active": true,
                    "description": "", "toolchain": "rustc", "uploaded_by": "admin", "uploaded_at": "2026-12-02T00:00:00Z"}]);
                ("application/json", list.to_string().into_bytes())
            } else {
                ("application/json", b"{\"error\":\"not_found\",\"message\":\"no\"}".to_vec())
            };
            let status =
                if ctype == "application/json" && body.starts_with(b"{\"error\"") { "404 Not Found" } else { "200 OK" };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}")
}

/// Guards (issue 12.2): `xif download` of a package whose source snapshot holds `.git/config`
/// with `core.fsmonitor` set (the next `git status` in the folder would run it) is refused,
/// naming the path, and writes nothing: the folder is not created. Before, the reader passed it
/// and the folder got `.git/config`.
#[test]
fn download_refuses_a_package_that_plants_git_config() {
    let config = b"[core]\n\tfsmonitor = \"touch pwned\"\n".to_vec();
    let mut files = entries("Planted", &[]);
    files.push(("source/.git/config".to_string(), config.clone()));
    files.push(("source/src/lib.rs".to_string(), b"// lib\n".to_vec()));
    let planted = package("Planted", &files, true);
    // `xif inspect` refuses it too.
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("Planted.xif");
    std::fs::write(&file, &planted).expect("write");
    let out = run_code(xif().arg("inspect").arg(&file), 1);
    assert!(stderr(&out).contains("source/.git/config"), "{}", stderr(&out));

    let url = fake_server("Planted", planted);
    let into = tmp.path().join("into");
    let out = run_code(
        xif()
            .env("HOME", tmp.path())
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("XIF_SERVER", &url)
            .env("XIF_TOKEN", "x")
            .stdin(Stdio::null())
            .args(["download", "Planted", "--version", "1", "--path"])
            .arg(&into),
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("source/.git/config") && err.contains(".git"), "{err}");
    assert!(!into.exists(), "nothing is written: {:?}", std::fs::read_dir(&into).map(|d| d.count()));
    // Same for `.GIT.` (what Windows takes for `.git`).
    let mut files = entries("Planted", &[]);
    files.push(("source/.GIT./config".to_string(), config));
    let url = fake_server("Planted", package("Planted", &files, true));
    let out = run_code(
        xif()
            .env("HOME", tmp.path())
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("XIF_SERVER", &url)
            .env("XIF_TOKEN", "x")
            .stdin(Stdio::null())
            .args(["download", "Planted", "--version", "1", "--path"])
            .arg(&into),
        1,
    );
    assert!(stderr(&out).contains("source/.GIT./config"), "{}", stderr(&out));
    assert!(!into.exists());
}

/// Guards (issue 12.3): `xif download` stops reading a package larger than its limit (64 MiB)
/// with a clear error, writing nothing. Before, it read any size whole.
#[test]
fn download_refuses_a_package_over_the_client_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = fake_server("Huge", vec![0u8; (64 << 20) + 1]);
    let into = tmp.path().join("into");
    let out = run_code(
        xif()
            .env("HOME", tmp.path())
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .env("XIF_SERVER", &url)
            .env("XIF_TOKEN", "x")
            .stdin(Stdio::null())
            .args(["download", "Huge", "--version", "1", "--path"])
            .arg(&into),
        1,
    );
    assert!(stderr(&out).contains("larger than the limit of 67108864 bytes"), "{}", stderr(&out));
    assert!(!into.exists());
}
