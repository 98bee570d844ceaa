//! `cargo xtask bench-cluster`: three `xif serve` nodes (release) on one private PostgreSQL
//! (xif-testpg). It measures
//! - activation propagation: a publish answered by node A (committed) → the first call answered
//!   by the new version on B and on C, over 20 publishes alternating between two versions whose
//!   native code every node has cached (p50, p99, max of the 40 figures);
//! - call throughput of the example's `Greet` with 1, 2 and 3 nodes taking calls at once (one
//!   wrk per node, 32 connections in all, its requests/s summed; two wrk threads for one node).
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::{
    BENCH_PASSWORD, KillOnDrop, bench_login, bench_publish, bench_upload, compile_and_save, curl, release_xif, run,
    wrk_script, wrk_summary,
};

pub fn bench_cluster(root: &Path) -> anyhow::Result<()> {
    let (xif, scratch) = release_xif(root, "bench-cluster")?;

    // Two versions of the example: the second differs by a comment, so by its digest.
    run(Command::new(&xif).args(["new", "Greetings", "--path"]).arg(&scratch))?;
    let dir = scratch.join("Greetings");
    let mut packages = Vec::new();
    for n in 1..=2 {
        if n == 2 {
            let lib = dir.join("src/lib.rs");
            let text = std::fs::read_to_string(&lib)?;
            std::fs::write(&lib, format!("{text}\n// the second version\n"))?;
        }
        let package = scratch.join(format!("Greetings-{n}.xif"));
        compile_and_save(&xif, root, &dir, &package)?;
        packages.push(package);
    }

    let pg = xif_testpg::Postgres::start();
    let database = pg.database("bench_cluster");
    let mut nodes = Vec::new();
    for name in ["a", "b", "c"] {
        nodes.push(start_node(&xif, &scratch, name, &database)?);
    }
    let base: Vec<String> = nodes.iter().map(|n| n.1.clone()).collect();
    let token = bench_login(&base[0])?;
    let auth = format!("authorization: Bearer {token}");
    let versions: Vec<i64> =
        packages.iter().map(|p| bench_upload(&base[0], &auth, p, "Greetings")).collect::<anyhow::Result<_>>()?;
    let publish = |version: i64| bench_publish(&base[0], &auth, "Greetings", version).map(drop);
    // Every node compiles both versions once (not measured).
    for &v in &versions {
        publish(v)?;
        for node in &base[1..] {
            first_answer(node, &token, v, Duration::from_secs(60))?;
        }
    }

    let mut lags = Vec::new();
    for i in 0..20 {
        let v = versions[i % 2];
        publish(v)?;
        let committed = Instant::now();
        let lag: Vec<Duration> = std::thread::scope(|s| {
            let polls: Vec<_> = base[1..]
                .iter()
                .map(|node| s.spawn(|| first_answer(node, &token, v, Duration::from_secs(10)).map(|t| t - committed)))
                .collect();
            polls.into_iter().map(|h| h.join().expect("poller")).collect::<anyhow::Result<_>>()
        })?;
        lags.extend(lag);
    }
    lags.sort();
    let pct = |p: f64| lags[((lags.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;

    // Throughput: wrk on 1, 2, 3 nodes at once, 32 connections in all.
    let input = r#"{"Who": {"Name": "Ada", "Age": 36}}"#;
    let lua = scratch.join("greet.lua");
    wrk_script(&lua, input, &token)?;
    let secs = std::env::var("FLOOR_SECONDS").unwrap_or_else(|_| "8".into());
    let mut throughput = Vec::new();
    for k in 1..=3usize {
        let connections = 32 / k;
        // Two wrk threads in all when one node takes the calls (one thread alone is wrk's limit).
        let threads = if k == 1 { "-t2" } else { "-t1" };
        let children: Vec<_> = base[..k]
            .iter()
            .map(|node| {
                Command::new("wrk")
                    .args([threads, &format!("-c{connections}"), &format!("-d{secs}s"), "--latency", "-s"])
                    .arg(&lua)
                    .arg(format!("{node}/api/v1/extensions/Greetings/actions/Greet"))
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .context("running wrk (apt-get install wrk)")
            })
            .collect::<anyhow::Result<_>>()?;
        let mut total = 0.0;
        let mut p99s = Vec::new();
        for child in children {
            let out = child.wait_with_output()?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.contains("Non-2xx") {
                bail!("some calls failed:\n{text}");
            }
            let (rps, _, p99) = wrk_summary(&text).context("wrk's figures")?;
            total += rps;
            p99s.push(p99);
        }
        throughput.push((k, total, p99s.join(" / ")));
    }
    drop(nodes);

    println!();
    println!("| measure | figure | aim |");
    println!("|---|---|---|");
    println!(
        "| activation propagation, publish answered on A → first call answered by the new version on B and C (20 publishes, 40 figures) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms | < 1 s |",
        pct(0.5),
        pct(0.99),
        lags.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
    );
    for (k, rps, p99) in throughput {
        println!(
            "| `Greet` over HTTP, {k} node(s) taking calls (wrk -t{} -c{} each) | {rps:.0} req/s (p99 {p99}) | |",
            if k == 1 { 2 } else { 1 },
            32 / k
        );
    }
    Ok(())
}

/// `xif serve` node `name` on `database`: the process and its base URL, once it answers.
fn start_node(xif: &Path, scratch: &Path, name: &str, database: &str) -> anyhow::Result<(KillOnDrop, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(xif)
        .arg("serve")
        .arg("--data")
        .arg(scratch.join(format!("node-{name}")))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--database", database])
        .env("XIF_ADMIN_PASSWORD", BENCH_PASSWORD)
        .env("XIF_SECRET_KEY", "42".repeat(32))
        .env("XIF_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()?;
    let node = KillOnDrop(child);
    let started = Instant::now();
    while curl(&["-sf", &format!("{base}/api/v1/health")]).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("node {name} did not answer within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((node, base))
}

/// Calls `Greet` on `base` over one keep-alive connection until the `xif-version` header is
/// `version`: the moment that answer arrived.
fn first_answer(base: &str, token: &str, version: i64, within: Duration) -> anyhow::Result<Instant> {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let addr = base.trim_start_matches("http://");
    let body = r#"{"Who": {"Name": "Ada", "Age": 36}}"#;
    let request = format!(
        "POST /api/v1/extensions/Greetings/actions/Greet HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let started = Instant::now();
    let wanted = version.to_string();
    loop {
        writer.write_all(request.as_bytes())?;
        let (mut length, mut answered) = (0usize, None);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("{base} closed the connection");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("xif-version") {
                    answered = Some(v.trim().to_string());
                }
            }
        }
        let mut rest = vec![0; length];
        reader.read_exact(&mut rest)?;
        if answered.as_deref() == Some(wanted.as_str()) {
            return Ok(Instant::now());
        }
        if started.elapsed() > within {
            bail!("{base} still answers version {answered:?}, not {version}, after {within:?}");
        }
    }
}
