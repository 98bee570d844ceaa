//! `cargo xtask soak [--minutes N]`: the Platform Server under bounded load on loopback while
//! it is republished and SIGKILLed at random points of upload and publish, then hostile-client
//! probes, each on a fresh server. Every part prints PASS or FAIL with its figure; the command
//! exits non-zero when any fails. Only 127.0.0.1, bounded loops, and it stops by itself.
//! docs/RELIABILITY.md ("Soak") records the figures.
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// Wrong-password attempts that may reach argon2 (answered 401, not 429) from one address.
const MAX_PASSWORD_CHECKS_PER_ADDRESS: u64 = 5;
/// Wrong-password attempts sent, 10 at a time.
const LOGIN_FLOOD: usize = 100;
/// The server's peak resident memory (VmHWM) after the large call bodies.
const MAX_PEAK_RSS_MB: u64 = 300;
/// Call bodies of 9 MB (under the 10 MB call limit), all at once.
const BIG_BODIES: usize = 20;
const BIG_BODY_BYTES: usize = 9 * 1024 * 1024;
/// Connections that send their headers a line every 2 s and never finish them.
const SLOW_CONNECTIONS: usize = 200;
/// By when the server must have closed every slow connection.
const SLOW_DEADLINE: Duration = Duration::from_secs(60);
/// Failed calls with long action names, and how much they may grow the database.
const FAILED_CALLS: usize = 2_000;
const LONG_NAME: usize = 4_000;
const MAX_DB_GROWTH_BYTES: u64 = 1024 * 1024;
/// Concurrent callers of the load while republishing.
const LOAD_THREADS: usize = 4;
const PASSWORD: &str = "soak-admin-password";

pub fn soak(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let minutes: u64 = match args {
        [] => 2,
        [flag, n] if flag == "--minutes" => n.parse().context("--minutes takes a whole number")?,
        _ => bail!("usage: cargo xtask soak [--minutes N]"),
    };
    let xif = match std::env::var_os("XIF_SOAK_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => {
            crate::run(Command::new(crate::cargo()).current_dir(root).args([
                "build",
                "--release",
                "--locked",
                "-p",
                "xif",
            ]))?;
            root.join("target/release/xif")
        }
    };
    let scratch = root.join("target/soak");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    crate::run(Command::new(&xif).args(["new", "Greetings", "--path"]).arg(&scratch))?;
    let dir = scratch.join("Greetings");
    crate::run(
        Command::new(&xif).arg("compile").arg("--path").arg(&dir).arg("--target-dir").arg(crate::ext_target(root)),
    )?;
    let soak = Soak { xif, scratch, dir };

    let results: Vec<(&str, anyhow::Result<String>)> = vec![
        ("republish under load with SIGKILLs", soak.republish(Duration::from_secs(minutes * 60))),
        ("wrong-password flood", soak.login_flood()),
        ("9 MB call bodies", soak.big_bodies()),
        ("slow-header connections", soak.slow_headers()),
        ("failed calls with long action names", soak.db_growth()),
        ("open redirect through next=", soak.open_redirect()),
    ];
    println!();
    let mut failed = 0;
    for (name, result) in &results {
        match result {
            Ok(figure) => println!("PASS  {name}: {figure}"),
            Err(e) => {
                failed += 1;
                println!("FAIL  {name}: {e:#}");
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} soak parts failed", results.len());
    }
    Ok(())
}

struct Soak {
    xif: PathBuf,
    scratch: PathBuf,
    dir: PathBuf,
}

/// A running `xif serve` (SIGKILLed when dropped).
struct Server {
    child: Child,
    addr: String,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then waits up to 20 s for the clean exit (which checkpoints the database).
    fn stop(mut self) -> anyhow::Result<()> {
        crate::run(Command::new("kill").args(["-TERM", &self.pid().to_string()]))?;
        let start = Instant::now();
        while self.child.try_wait()?.is_none() {
            if start.elapsed() > Duration::from_secs(20) {
                bail!("the server did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Soak {
    /// Starts a server on `data` at `addr` (a free loopback port) and waits for its health.
    fn start(&self, data: &Path, addr: &str) -> anyhow::Result<Server> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.scratch.join("server.log"))?;
        let child = Command::new(&self.xif)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", addr])
            .env("XIF_ADMIN_PASSWORD", PASSWORD)
            .env("XIF_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let server = Server { child, addr: addr.to_string(), data: data.to_path_buf() };
        let start = Instant::now();
        while !matches!(http(&server.addr, "GET", "/api/v1/health", None, "", b""), Ok((200, _, _))) {
            if start.elapsed() > Duration::from_secs(30) {
                bail!("the server did not answer within 30 s (see {})", self.scratch.join("server.log").display());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// A fresh server with Greetings published; answers it and the admin's token.
    fn fresh(&self, name: &str) -> anyhow::Result<(Server, String)> {
        let data = self.scratch.join(name);
        let server = self.start(&data, &format!("127.0.0.1:{}", free_port()?))?;
        let token = login(&server.addr)?;
        let package = self.package(0)?;
        upload(&server.addr, &token, &package, None)?;
        publish(&server.addr, &token, 1)?;
        Ok((server, token))
    }

    /// The package of round `n`: the greeting resource says `Hello<n>`.
    fn package(&self, n: u64) -> anyhow::Result<Vec<u8>> {
        std::fs::write(self.dir.join("resources/greeting.txt"), format!("Hello{n}\n"))?;
        let out = self.scratch.join(format!("round-{n}.xif"));
        let o = Command::new(&self.xif).arg("save").arg("--path").arg(&self.dir).arg("-o").arg(&out).output()?;
        if !o.status.success() {
            bail!("xif save failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(std::fs::read(&out)?)
    }

    /// Republishes a new version per round under load; a third of the rounds are SIGKILLed
    /// during the upload, a third during the publish, at a random point. After each restart the
    /// active version is the old or the new one, it answers calls as that version, and
    /// `packages/` holds exactly the stored versions' files (no scratch left in `tmp/`).
    fn republish(&self, duration: Duration) -> anyhow::Result<String> {
        let data = self.scratch.join("republish");
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut server = self.start(&data, &addr)?;
        let token = login(&addr)?;
        upload(&addr, &token, &self.package(0)?, None)?;
        publish(&addr, &token, 1)?;
        let (mut active, mut word) = (1i64, "Hello0".to_string());

        let stop = Arc::new(AtomicBool::new(false));
        let (ok, server_errors, refused) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut load = Vec::new();
        for _ in 0..LOAD_THREADS {
            let (stop, ok, errs, refused, addr, token) =
                (stop.clone(), ok.clone(), server_errors.clone(), refused.clone(), addr.clone(), token.clone());
            load.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http(
                        &addr,
                        "POST",
                        "/api/v1/extensions/Greetings/actions/Greet",
                        Some(&token),
                        "application/json",
                        br#"{"Who": {"Name": "Ada"}}"#,
                    ) {
                        Ok((200, _, _)) => ok.fetch_add(1, Ordering::Relaxed),
                        Ok((s, _, _)) if s >= 500 => errs.fetch_add(1, Ordering::Relaxed),
                        Ok(_) | Err(_) => refused.fetch_add(1, Ordering::Relaxed),
                    };
                    // Bounded: at most ~200 calls/s per thread.
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
        }
        let mut rng = Rng::new();
        let (mut rounds, mut kills) = (0u64, 0u64);
        let start = Instant::now();
        let outcome = (|| -> anyhow::Result<()> {
            while start.elapsed() < duration {
                rounds += 1;
                let package = self.package(rounds)?;
                let new_word = format!("Hello{rounds}");
                let mode = rng.below(3);
                let mut next_version = None;
                if mode == 0 {
                    // SIGKILL during the upload, after a random number of its chunks.
                    let at = rng.below(16) as usize;
                    let pid = server.pid();
                    let _ = upload(&addr, &token, &package, Some((at, pid)));
                } else {
                    let v = upload(&addr, &token, &package, None)?;
                    next_version = Some(v);
                    if mode == 1 {
                        let (a, t) = (addr.clone(), token.clone());
                        let publisher = std::thread::spawn(move || publish(&a, &t, v));
                        std::thread::sleep(Duration::from_millis(rng.below(400)));
                        let _ = Command::new("kill").args(["-KILL", &server.pid().to_string()]).status();
                        let _ = publisher.join();
                    } else {
                        publish(&addr, &token, v)?;
                        active = v;
                        word = new_word.clone();
                    }
                }
                if mode < 2 {
                    kills += 1;
                    server.kill();
                    server = self.start(&data, &addr)?;
                    let now = active_version(&addr, &token)?;
                    if now == active {
                    } else if Some(now) == next_version {
                        active = now;
                        word = new_word.clone();
                    } else {
                        bail!(
                            "round {rounds}: after the restart version {now} is active, neither the old {active} nor the new {next_version:?}"
                        );
                    }
                    check_packages(&data, &addr, &token)?;
                }
                let (status, _, body) = http(
                    &addr,
                    "POST",
                    "/api/v1/extensions/Greetings/actions/Greet",
                    Some(&token),
                    "application/json",
                    br#"{"Who": {"Name": "Ada"}}"#,
                )?;
                if status != 200 || !body.contains(&word) {
                    bail!("round {rounds}: version {active} should greet with {word}, it answered {status} {body}");
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        for t in load {
            let _ = t.join();
        }
        outcome?;
        let (ok, errs, refused) =
            (ok.load(Ordering::Relaxed), server_errors.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
        let figure = format!(
            "{rounds} rounds in {:.0} s, {kills} SIGKILLs + restarts, each serving the old or new version with no stray file; load: {ok} calls answered 200, {errs} 5xx, {refused} refused or cut while the server was down",
            start.elapsed().as_secs_f64()
        );
        if errs > 0 {
            bail!("{figure}");
        }
        Ok(figure)
    }

    /// Wrong passwords for admin, 10 at a time from 127.0.0.1: how many reach argon2 (401)
    /// and how many the throttle answers first (429).
    fn login_flood(&self) -> anyhow::Result<String> {
        let (server, _token) = self.fresh("flood")?;
        let (checked, throttled, other) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let (addr, c, t, o) = (server.addr.clone(), checked.clone(), throttled.clone(), other.clone());
                std::thread::spawn(move || {
                    for _ in 0..LOGIN_FLOOD / 10 {
                        match http(
                            &addr,
                            "POST",
                            "/api/v1/login",
                            None,
                            "application/json",
                            br#"{"user": "admin", "password": "wrong"}"#,
                        ) {
                            Ok((401, _, _)) => c.fetch_add(1, Ordering::Relaxed),
                            Ok((429, _, _)) => t.fetch_add(1, Ordering::Relaxed),
                            _ => o.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
        let (c, t, o) =
            (checked.load(Ordering::Relaxed), throttled.load(Ordering::Relaxed), other.load(Ordering::Relaxed));
        let figure = format!(
            "{LOGIN_FLOOD} wrong passwords from 127.0.0.1: {c} answered 401 (reached argon2), {t} answered 429, {o} other; bound ≤ {MAX_PASSWORD_CHECKS_PER_ADDRESS}"
        );
        if c > MAX_PASSWORD_CHECKS_PER_ADDRESS || o > 0 {
            bail!("{figure}");
        }
        Ok(figure)
    }

    /// 20 call bodies of 9 MB at once: the server's peak resident memory (VmHWM) after.
    fn big_bodies(&self) -> anyhow::Result<String> {
        let (server, token) = self.fresh("bodies")?;
        let before = vm_hwm_mb(server.pid())?;
        let mut body = br#"{"Who": {"Name": ""#.to_vec();
        body.resize(BIG_BODY_BYTES - 4, b'a');
        body.extend_from_slice(br#""}}"#);
        let body = Arc::new(body);
        let threads: Vec<_> = (0..BIG_BODIES)
            .map(|_| {
                let (addr, token, body) = (server.addr.clone(), token.clone(), body.clone());
                std::thread::spawn(move || {
                    http(
                        &addr,
                        "POST",
                        "/api/v1/extensions/Greetings/actions/Greet",
                        Some(&token),
                        "application/json",
                        &body,
                    )
                    .map(|r| r.0)
                    .unwrap_or(0)
                })
            })
            .collect();
        let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap_or(0)).collect();
        let peak = vm_hwm_mb(server.pid())?;
        let mut counts = std::collections::BTreeMap::new();
        for s in statuses {
            *counts.entry(s).or_insert(0) += 1;
        }
        let figure = format!(
            "{BIG_BODIES} × 9 MB call bodies: VmHWM {before} MB before, {peak} MB after (bound < {MAX_PEAK_RSS_MB} MB); statuses {counts:?}"
        );
        if peak >= MAX_PEAK_RSS_MB || counts.keys().any(|s| *s >= 500) {
            bail!("{figure}");
        }
        Ok(figure)
    }

    /// 200 connections that trickle a header line every 2 s and never end their headers: the
    /// server must close each of them (and keep answering others meanwhile).
    fn slow_headers(&self) -> anyhow::Result<String> {
        let (server, _token) = self.fresh("slow")?;
        let start = Instant::now();
        let threads: Vec<_> = (0..SLOW_CONNECTIONS)
            .map(|_| {
                let addr = server.addr.clone();
                std::thread::spawn(move || -> Option<Duration> {
                    let start = Instant::now();
                    let mut s = TcpStream::connect(&addr).ok()?;
                    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                    if s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: soak\r\n").is_err() {
                        return Some(start.elapsed());
                    }
                    let mut buf = [0u8; 512];
                    while start.elapsed() < SLOW_DEADLINE {
                        match s.read(&mut buf) {
                            Ok(_) => return Some(start.elapsed()), // closed, or an error answer then close
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => return Some(start.elapsed()),
                        }
                        if s.write_all(b"X-Slow: 1\r\n").is_err() {
                            return Some(start.elapsed());
                        }
                    }
                    None
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(3));
        let others = matches!(http(&server.addr, "GET", "/api/v1/health", None, "", b""), Ok((200, _, _)));
        let closed: Vec<Duration> = threads.into_iter().filter_map(|t| t.join().ok().flatten()).collect();
        let slowest = closed.iter().max().map(|d| format!("{:.1} s", d.as_secs_f64())).unwrap_or_else(|| "-".into());
        let figure = format!(
            "{SLOW_CONNECTIONS} slow-header connections: {} closed by the server within {} s (the last after {slowest}); another client {} meanwhile; took {:.0} s",
            closed.len(),
            SLOW_DEADLINE.as_secs(),
            if others { "was answered" } else { "was NOT answered" },
            start.elapsed().as_secs_f64()
        );
        if closed.len() < SLOW_CONNECTIONS || !others {
            bail!("{figure}");
        }
        Ok(figure)
    }

    /// 2,000 failed calls with 4,000-character action names: how much the database grows,
    /// measured after a clean stop (which checkpoints the WAL).
    fn db_growth(&self) -> anyhow::Result<String> {
        let (server, token) = self.fresh("db")?;
        let (addr, data) = (server.addr.clone(), server.data.clone());
        server.stop()?;
        let before = db_bytes(&data)?;
        let server = self.start(&data, &addr)?;
        let name = "A".repeat(LONG_NAME);
        let path = format!("/api/v1/extensions/Greetings/actions/{name}");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (addr, token, path) = (addr.clone(), token.clone(), path.clone());
                std::thread::spawn(move || {
                    let mut statuses = std::collections::BTreeMap::new();
                    for _ in 0..FAILED_CALLS / 4 {
                        let s = http(&addr, "POST", &path, Some(&token), "application/json", b"{}")
                            .map(|r| r.0)
                            .unwrap_or(0);
                        *statuses.entry(s).or_insert(0u64) += 1;
                    }
                    statuses
                })
            })
            .collect();
        let mut statuses = std::collections::BTreeMap::new();
        for t in threads {
            for (s, n) in t.join().unwrap_or_default() {
                *statuses.entry(s).or_insert(0) += n;
            }
        }
        server.stop()?;
        let after = db_bytes(&data)?;
        let growth = after.saturating_sub(before);
        let figure = format!(
            "{FAILED_CALLS} failed calls with {LONG_NAME}-character action names (statuses {statuses:?}): the database grew {} KiB ({before} → {after} bytes after a clean stop; bound < {} KiB)",
            growth / 1024,
            MAX_DB_GROWTH_BYTES / 1024
        );
        if growth >= MAX_DB_GROWTH_BYTES || statuses.keys().any(|s| *s >= 500 || *s == 0) {
            bail!("{figure}");
        }
        Ok(figure)
    }

    /// The Service Center's login with `next=` pointing away: the redirect after a good login
    /// must stay on this server (a browser ignores tabs and newlines inside a URL).
    fn open_redirect(&self) -> anyhow::Result<String> {
        let (server, _token) = self.fresh("redirect")?;
        let nexts = [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example/",
            "/%09/evil.example/",
            "javascript:alert(1)",
            "/extensions",
        ];
        let mut bad = Vec::new();
        for next in nexts {
            let (_, headers, _) =
                http(&server.addr, "GET", &format!("/login?next={}", urlencode(next)), None, "", b"")?;
            let csrf = header_values(&headers, "set-cookie")
                .into_iter()
                .find_map(|c| c.strip_prefix("xif_login=").map(|v| v.split(';').next().unwrap_or("").to_string()))
                .context("the login page sets no xif_login cookie")?;
            let form = format!(
                "csrf={}&next={}&user=admin&password={}",
                urlencode(&csrf),
                urlencode(next),
                urlencode(PASSWORD)
            );
            let cookie = format!("xif_login={csrf}");
            let (status, headers, body) = http_with(
                &server.addr,
                "POST",
                "/login",
                &[("Cookie", &cookie)],
                "application/x-www-form-urlencoded",
                form.as_bytes(),
            )?;
            let location = header_values(&headers, "location").into_iter().next().unwrap_or_default();
            let seen: String = location.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
            let local = seen.starts_with('/') && !seen.starts_with("//") && !seen.starts_with("/\\");
            if !(300..400).contains(&status) || !local {
                bad.push(format!(
                    "next={next:?} → {status} Location {location:?} {}",
                    body.chars().take(80).collect::<String>()
                ));
            }
        }
        let figure = format!("{} next= values tried, {} redirected off the server", nexts.len(), bad.len());
        if !bad.is_empty() {
            bail!("{figure}: {}", bad.join("; "));
        }
        Ok(figure)
    }
}

fn free_port() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port().to_string())
}

/// One HTTP/1.1 request (`Connection: close`); answers the status, the raw headers and the body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<(u16, String, String)> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("Authorization", a)]).unwrap_or_default();
    http_with(addr, method, path, &headers, content_type, body)
}

fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> anyhow::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !content_type.is_empty() {
        head += &format!("Content-Type: {content_type}\r\n");
    }
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes())?;
    // A refused body (413) may close the connection early: read the answer anyway.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).context("no HTTP answer")?;
    Ok((status, head.to_string(), body.to_string()))
}

fn header_values(head: &str, name: &str) -> Vec<String> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn login(addr: &str) -> anyhow::Result<String> {
    let body = format!(r#"{{"user": "admin", "password": "{PASSWORD}"}}"#);
    let (status, _, text) = http(addr, "POST", "/api/v1/login", None, "application/json", body.as_bytes())?;
    if status != 200 {
        bail!("login: {status} {text}");
    }
    Ok(crate::json_field(&text, "token")?.as_str().context("a token")?.to_string())
}

/// Uploads in 16 chunks, 20 ms apart; with `kill = Some((chunk, pid))`, SIGKILLs the server
/// after that many chunks. Answers the version number.
fn upload(addr: &str, token: &str, package: &[u8], kill: Option<(usize, u32)>) -> anyhow::Result<i64> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "POST /api/v1/extensions/Greetings/versions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        package.len()
    )?;
    for (i, chunk) in package.chunks(package.len().div_ceil(16).max(1)).enumerate() {
        if let Some((at, pid)) = kill
            && i == at
        {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            bail!("killed during the upload");
        }
        s.write_all(chunk)?;
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    crate::json_field(body, "version")?.as_i64().with_context(|| format!("upload: {out}"))
}

fn publish(addr: &str, token: &str, version: i64) -> anyhow::Result<()> {
    let (status, _, body) =
        http(addr, "POST", &format!("/api/v1/extensions/Greetings/versions/{version}/publish"), Some(token), "", b"")?;
    if status != 200 {
        bail!("publish {version}: {status} {body}");
    }
    Ok(())
}

fn active_version(addr: &str, token: &str) -> anyhow::Result<i64> {
    let (status, _, body) = http(addr, "GET", "/api/v1/extensions/Greetings", Some(token), "", b"")?;
    if status != 200 {
        bail!("GET Greetings: {status} {body}");
    }
    crate::json_field(&body, "active_version")?.as_i64().context("an active version")
}

/// `packages/` holds exactly one `<digest>.xif` per stored version, and `tmp/` is empty.
fn check_packages(data: &Path, addr: &str, token: &str) -> anyhow::Result<()> {
    let (_, _, body) = http(addr, "GET", "/api/v1/extensions/Greetings/versions", Some(token), "", b"")?;
    let versions: serde_json::Value = serde_json::from_str(&body)?;
    let mut stored: Vec<String> = versions
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["digest"].as_str().map(|d| format!("{d}.xif")))
        .collect();
    stored.sort();
    stored.dedup();
    let mut files: Vec<String> = std::fs::read_dir(data.join("packages"))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    files.sort();
    if files != stored {
        bail!("packages/ holds {files:?}, the stored versions are {stored:?}");
    }
    let tmp: Vec<_> = std::fs::read_dir(data.join("tmp"))?.filter_map(|e| e.ok().map(|e| e.file_name())).collect();
    if !tmp.is_empty() {
        bail!("tmp/ keeps scratch files after the restart: {tmp:?}");
    }
    Ok(())
}

fn vm_hwm_mb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmHWM")?;
    Ok(kb / 1024)
}

/// The database files' total size (`xif.db`, and a WAL if one is left).
fn db_bytes(data: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(data)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with("xif.db") {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// xorshift, seeded from the clock: random enough for kill points.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        println!("soak: random seed {seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
