//! `cargo xtask bench-server`: the Platform Server beside the floor of this machine
//! (`../shared/floor/run.sh`) and beside its nearest peer, `wasmtime serve`, in one run:
//!
//! - the floor alone (its `/health` and `/call` routes, its in-process pooling figure);
//! - in-process (`crates/xif-server/examples/call_bench.rs`): the example's `Greet`, the
//!   RuntimeTest fixture's `Noop`, and the floor's trivial component on Xif's engine, with the
//!   minor page faults per call;
//! - over HTTP with wrk (2 threads, 32 connections, `FLOOR_SECONDS`, default 8): `Greet` on
//!   SQLite with each instance reset (`--instance-reset`), `Noop`, `Greet` on a build whose calls
//!   skip the sandbox (feature `stub-sandbox`: the HTTP path's own cost), `Greet` on PostgreSQL,
//!   and the peer: the same greeting as a `wasi:http` component (xtask/peer-greet, wasm32-wasip2)
//!   under `wasmtime serve` 48.0.8 with a fresh instance per request. For each: requests/s,
//!   p50/p99, and the server's CPU time and minor page faults per request (`/proc/PID/stat`);
//! - a CPU profile of the server under the `Greet` load and under the stub's (`perf record`, when
//!   perf is installed), its samples grouped by what they do;
//! - the server's memory (RSS) with 100 published extensions, each called once;
//! - publish times, cold and cached, on both engines.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::{
    BENCH_PASSWORD, KillOnDrop, bench_login, bench_publish, bench_upload, cargo, compile_and_save, curl, json_field,
    release_xif, run, wrk_line, wrk_script, wrk_summary,
};

/// The body every `Greet` call posts.
const GREET_INPUT: &str = r#"{"Who": {"Name": "Ada", "Age": 36}}"#;
/// The peer's `wasmtime` version: the wasmtime Xif is built on.
const PEER_WASMTIME: &str = "48.0.8";

pub fn bench_server(root: &Path) -> anyhow::Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    // The stub build first, copied aside; then the real one, which `target/release/xif` is again.
    run(Command::new(cargo()).current_dir(root).args([
        "build",
        "--release",
        "--locked",
        "-p",
        "xif",
        "--features",
        "xif-runtime/stub-sandbox",
    ]))?;
    let stub = target.join("release/xif-stub-sandbox");
    std::fs::copy(target.join("release/xif"), &stub).context("copying the stub build")?;
    let (xif, scratch) = release_xif(root, "bench-server")?;
    if std::fs::read(&xif)? == std::fs::read(&stub)? {
        bail!("cargo did not rebuild the real xif after the stub build");
    }
    run(Command::new(cargo()).current_dir(root).args([
        "build",
        "--release",
        "--locked",
        "-p",
        "xif-server",
        "--example",
        "call_bench",
    ]))?;
    let (wasmtime, peer_component) = peer(root, &target)?;

    // The packages: the example, and the RuntimeTest fixture (its `Noop`).
    run(Command::new(&xif).args(["new", "Greetings", "--path"]).arg(&scratch))?;
    let greetings = scratch.join("Greetings.xif");
    compile_and_save(&xif, root, &scratch.join("Greetings"), &greetings)?;
    let runtime_test = scratch.join("RuntimeTest.xif");
    compile_and_save(&xif, root, &root.join("tests/extensions/RuntimeTest"), &runtime_test)?;

    // The floor first, alone on the machine. It builds in its own target folder (its default).
    let floor = root.join("../shared/floor/run.sh");
    let out = Command::new("bash")
        .arg(&floor)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .with_context(|| format!("running {}", floor.display()))?;
    if !out.status.success() {
        bail!("{} failed: {}", floor.display(), String::from_utf8_lossy(&out.stderr));
    }
    let floor_out = String::from_utf8_lossy(&out.stdout).into_owned();
    let floor_pooling = floor_out
        .lines()
        .find_map(|l| l.strip_prefix("instantiate+call, pooling:"))
        .and_then(|r| r.trim().trim_end_matches("us").trim().parse::<f64>().ok())
        .context("the floor's pooling figure")?;
    let floor_call =
        floor_out.lines().find(|l| l.starts_with("call")).map(wrk_line).context("the floor's call route")?;
    let floor_health =
        floor_out.lines().find(|l| l.starts_with("health")).map(wrk_line).context("the floor's health route")?;

    // In-process: the runtime alone.
    let example = target.join("release/examples/call_bench");
    let greet_ip = call_bench(&example, &greetings, "Greet", GREET_INPUT)?;
    let noop_ip = call_bench(&example, &runtime_test, "Noop", "{}")?;

    // Over HTTP, on SQLite.
    let secs: u64 = std::env::var("FLOOR_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let profiling = Command::new("perf").arg("--version").output().is_ok_and(|o| o.status.success());
    if !profiling {
        eprintln!("bench-server: perf not found (apt-get install -y linux-perf): no profile this run");
    }
    let server = Server::start(&xif, &scratch.join("data-sqlite"), &[], None)?;
    let reset = server.reset.clone();
    let (cold, cached) = server.publish(&greetings, "Greetings")?;
    server.publish(&runtime_test, "RuntimeTest")?;
    let (greet_url, greet_lua) = server.action(&scratch, "Greetings", "Greet", GREET_INPUT)?;
    let greet = load(server.pid, &greet_url, &greet_lua, secs)?;
    let (noop_url, noop_lua) = server.action(&scratch, "RuntimeTest", "Noop", "{}")?;
    let noop = load(server.pid, &noop_url, &noop_lua, secs)?;
    let greet_profile =
        if profiling { Some(profile(server.pid, &greet_url, &greet_lua, secs, &scratch)?) } else { None };
    drop(server);

    // The other instance resets, one server each.
    let mut resets = Vec::new();
    for how in ["memset", "decommit"] {
        let server =
            Server::start(&xif, &scratch.join(format!("data-{how}")), &["--instance-reset".into(), how.into()], None)?;
        server.publish(&greetings, "Greetings")?;
        let (url, lua) = server.action(&scratch, "Greetings", "Greet", GREET_INPUT)?;
        resets.push((how, server.reset.clone(), load(server.pid, &url, &lua, secs)?));
    }

    // The stub: everything but the sandbox.
    let server = Server::start(&stub, &scratch.join("data-stub"), &[], None)?;
    server.publish(&greetings, "Greetings")?;
    let (url, lua) = server.action(&scratch, "Greetings", "Greet", GREET_INPUT)?;
    let stubbed = load(server.pid, &url, &lua, secs)?;
    let stub_profile = if profiling { Some(profile(server.pid, &url, &lua, secs, &scratch)?) } else { None };
    drop(server);

    // The peer.
    let peer = Peer::start(&wasmtime, &peer_component)?;
    let peer_lua = scratch.join("peer.lua");
    wrk_script(&peer_lua, GREET_INPUT, "none")?;
    let peer_load = load(peer.pid, &peer.url, &peer_lua, secs)?;
    drop(peer);

    // PostgreSQL (xif-testpg, as the tests use it; fsync off, so the figures are the server's).
    let pg = xif_testpg::Postgres::start();
    let url = pg.database("bench");
    let server = Server::start(&xif, &scratch.join("data-postgres"), &[], Some(&url))?;
    let (pg_cold, pg_cached) = server.publish(&greetings, "Greetings")?;
    let (url, lua) = server.action(&scratch, "Greetings", "Greet", GREET_INPUT)?;
    let pg_greet = load(server.pid, &url, &lua, secs)?;
    drop(server);

    // Memory with 100 extensions.
    let memory = hundred_extensions(&xif, &scratch, &greetings)?;

    println!();
    println!("Instances reset by: {reset} (the default, `--instance-reset in-place`)");
    println!();
    println!("| measure | xif | floor | ratio | aim |");
    println!("|---|---|---|---|---|");
    println!(
        "| action call over HTTP (`Greet`, bearer token, JSON typing), wrk -t2 -c32 | {:.0} req/s | {:.0} req/s (`/call`) | {:.2}× | ≥ 0.35× (issue 15), then 0.5×, 0.8× |",
        greet.rps,
        floor_call.0,
        greet.rps / floor_call.0
    );
    println!(
        "| latency p50 / p99 | {} / {} | {} / {} | | p99 < 5 ms |",
        greet.p50, greet.p99, floor_call.1, floor_call.2
    );
    println!(
        "| `wasmtime serve` {PEER_WASMTIME}, the same greeting as a `wasi:http` component, a fresh instance per request | {:.0} req/s, p99 {} | | Xif {:.2}× the peer | ≥ 2× |",
        peer_load.rps,
        peer_load.p99,
        greet.rps / peer_load.rps
    );
    println!(
        "| in-process instantiate + call (`Greet`, JSON in/out) | {:.2} µs | {floor_pooling:.2} µs (pooling, trivial `add`) | {:.2}× | ≤ 8× (issue 15), aim 4× |",
        greet_ip.us,
        greet_ip.us / floor_pooling
    );
    println!(
        "| minor page faults per call, in-process / over HTTP | {:.2} / {:.2} | | | |",
        greet_ip.faults, greet.faults
    );
    println!("| publish, cold (compile to native), server-side | {cold} ms | | | < 300 ms |");
    println!("| publish again (native code cached), server-side, median of 5 | {cached} ms | | | < 30 ms |");
    println!();
    println!(
        "Where a call's time goes: server CPU per request (`/proc/PID/stat` over the wrk run), each over HTTP at 32 connections:"
    );
    println!();
    println!("| set-up | req/s | p50 / p99 | server CPU per request | minor faults per request |");
    println!("|---|---|---|---|---|");
    let row = |name: &str, l: &Load| {
        println!("| {name} | {:.0} | {} / {} | {:.1} µs | {:.2} |", l.rps, l.p50, l.p99, l.cpu_us, l.faults);
    };
    println!(
        "| floor `/health` (axum, no component) | {:.0} | {} / {} | | |",
        floor_health.0, floor_health.1, floor_health.2
    );
    println!(
        "| floor `/call` (axum + instantiate and call of the trivial component) | {:.0} | {} / {} | | |",
        floor_call.0, floor_call.1, floor_call.2
    );
    row(
        "Xif, sandbox stubbed (feature `stub-sandbox`): accept, HTTP, routing, token, body, JSON shape and typing, slots, response",
        &stubbed,
    );
    row("Xif, `Noop` of the RuntimeTest fixture (a no-op action of a real extension)", &noop);
    row(&format!("Xif, `Greet` (reset: {reset})"), &greet);
    for (how, in_effect, l) in &resets {
        row(&format!("Xif, `Greet`, `--instance-reset {how}` ({in_effect})"), l);
    }
    row("Xif, `Greet`, on PostgreSQL", &pg_greet);
    row(&format!("`wasmtime serve` {PEER_WASMTIME}, fresh instance per request"), &peer_load);
    println!();
    println!("| share of one `Greet` call | server CPU |");
    println!("|---|---|");
    println!("| the HTTP path without the sandbox (the stub) | {:.1} µs |", stubbed.cpu_us);
    println!("| the sandbox for a no-op action (`Noop` − stub) | {:.1} µs |", noop.cpu_us - stubbed.cpu_us);
    println!("| `Greet`'s own work beyond a no-op (`Greet` − `Noop`) | {:.1} µs |", greet.cpu_us - noop.cpu_us);
    println!("| in all (`Greet`) | {:.1} µs |", greet.cpu_us);
    println!();
    println!("| in-process, one call on one thread | time | minor faults |");
    println!("|---|---|---|");
    println!(
        "| the floor: trivial `add` component, its own engine and a store holding nothing | {floor_pooling:.2} µs | |"
    );
    println!(
        "| the same component on Xif's engine (pool, epochs), a store holding nothing | {:.2} µs | |",
        greet_ip.floor_bare
    );
    println!(
        "| the same, in a call's store (WASI context, limiter, epoch callback, async) | {:.2} µs | |",
        greet_ip.floor_store
    );
    println!(
        "| `Noop` of the RuntimeTest fixture (Rust, preview 1 adapter: 4 core instances) | {:.2} µs | {:.2} |",
        noop_ip.us, noop_ip.faults
    );
    println!(
        "| `Greet` of the example (JSON typing of a structure, a resource read, a host log line) | {:.2} µs | {:.2} |",
        greet_ip.us, greet_ip.faults
    );
    for (name, p) in [("`Greet`", &greet_profile), ("the stub", &stub_profile)] {
        if let Some(p) = p {
            println!();
            println!(
                "Profile of the server under the {name} load (`perf record -e cpu-clock`, {} samples), by what the code does:",
                p.samples
            );
            println!();
            println!("| part | share of the server's CPU | per request |");
            println!("|---|---|---|");
            let per_request = if name == "`Greet`" { greet.cpu_us } else { stubbed.cpu_us };
            for (part, share) in &p.parts {
                println!("| {part} | {:.1}% | {:.1} µs |", share, share / 100.0 * per_request);
            }
        }
    }
    println!();
    println!("Memory (RSS) of one server with 100 published extensions (each a renamed copy of the example):");
    println!();
    println!("| state | RSS | per extension |");
    println!("|---|---|---|");
    println!("| started, nothing published | {:.1} MiB | |", memory.started);
    println!(
        "| 100 extensions published (native code loaded) | {:.1} MiB | {:.0} KiB |",
        memory.published,
        (memory.published - memory.started) * 1024.0 / 100.0
    );
    println!(
        "| each called once, in turn (an instance slot each, reset in place) | {:.1} MiB | {:.0} KiB |",
        memory.called,
        (memory.called - memory.published) * 1024.0 / 100.0
    );
    println!("| each called 10 more times, 32 callers at once | {:.1} MiB | |", memory.loaded);
    println!(
        "| an instance slot used by a `Greet` call and kept for the next (in-process: 64 calls held until all run at once, RSS growth / 64) | {:.0} KiB per slot, at most {:.1} MiB for the default 64 slots | |",
        greet_ip.slot_kib,
        greet_ip.slot_kib * 64.0 / 1024.0
    );
    println!();
    println!("| on each storage engine | SQLite | PostgreSQL |");
    println!("|---|---|---|");
    println!("| action call over HTTP, wrk -t2 -c32 | {:.0} req/s | {:.0} req/s |", greet.rps, pg_greet.rps);
    println!("| latency p50 / p99 | {} / {} | {} / {} |", greet.p50, greet.p99, pg_greet.p50, pg_greet.p99);
    println!("| publish, cold, server-side | {cold} ms | {pg_cold} ms |");
    println!("| publish again, cached, median of 5 | {cached} ms | {pg_cached} ms |");
    println!();
    println!("floor output:\n{floor_out}");
    Ok(())
}

/// What `call_bench` printed.
struct InProcess {
    us: f64,
    faults: f64,
    floor_bare: f64,
    floor_store: f64,
    /// RSS per instance slot after 64 calls ran at once, KiB.
    slot_kib: f64,
}

fn call_bench(example: &Path, package: &Path, action: &str, input: &str) -> anyhow::Result<InProcess> {
    let out = Command::new(example).arg(package).args([action, input]).output()?;
    if !out.status.success() {
        bail!("call_bench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let figure = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            // Without its unit (`us`, `KiB`).
            .and_then(|r| r.trim().trim_end_matches(char::is_alphabetic).trim().parse::<f64>().ok())
            .with_context(|| format!("call_bench's `{prefix}` in:\n{text}"))
    };
    Ok(InProcess {
        us: figure("instantiate+call:")?,
        faults: figure("minor faults per call:")?,
        floor_bare: figure("floor component, bare store:")?,
        floor_store: figure("floor component, call store:")?,
        slot_kib: figure("resident per instance slot:")?,
    })
}

/// `wasmtime` 48.0.8 (installed under target/peer when missing, with only what `serve` needs)
/// and the peer's component (xtask/peer-greet, built for wasm32-wasip2).
fn peer(root: &Path, target: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let bin = target.join("peer/bin/wasmtime");
    let version =
        Command::new(&bin).arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if !version.is_some_and(|v| v.contains(PEER_WASMTIME)) {
        run(Command::new(cargo())
            .args(["install", "wasmtime-cli", "--version", PEER_WASMTIME, "--locked"])
            .args([
                "--no-default-features",
                "--features",
                "run,serve,component-model-async,cranelift,pooling-allocator,parallel-compilation,cache",
                "--root",
            ])
            .arg(target.join("peer"))
            .arg("--target-dir")
            .arg(target.join("peer-build")))?;
    }
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if !sysroot.join("lib/rustlib/wasm32-wasip2").exists() {
        run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))?;
    }
    let peer_target = target.join("peer-greet");
    run(Command::new(cargo())
        .current_dir(root.join("xtask/peer-greet"))
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&peer_target))?;
    Ok((bin, peer_target.join("wasm32-wasip2/release/peer_greet.wasm")))
}

/// A `xif serve` of the benchmark, logged in as its administrator.
struct Server {
    _child: KillOnDrop,
    pid: u32,
    base: String,
    token: String,
    /// How its instances are reset (from its start log line).
    reset: String,
}

impl Server {
    fn start(xif: &Path, data: &Path, args: &[String], database: Option<&str>) -> anyhow::Result<Server> {
        Server::start_with_env(xif, data, args, database, &[])
    }

    /// [`Server::start`] with more environment variables.
    fn start_with_env(
        xif: &Path,
        data: &Path,
        args: &[String],
        database: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        std::fs::create_dir_all(data)?;
        let log = data.with_extension("log");
        let child = Command::new(xif)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .args(database.map(|url| vec!["--database".to_string(), url.to_string()]).unwrap_or_default())
            .env("XIF_ADMIN_PASSWORD", BENCH_PASSWORD)
            // Warnings only, as a production server would log calls, and the line that says how
            // instances are reset.
            .env("XIF_LOG", "warn,xif_server::reset=info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let pid = child.id();
        let child = KillOnDrop(child);
        let started = Instant::now();
        while curl(&["-sf", &format!("{base}/api/v1/health")]).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                bail!("the server did not answer within 20 s: {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let reset = text
            .lines()
            .find(|l| l.contains("call instances reset"))
            .and_then(|l| l.split("reset=").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("?")
            .trim_matches('"')
            .to_string();
        let token = bench_login(&base)?;
        Ok(Server { _child: child, pid, base, token, reset })
    }

    /// The URL of `action` of `extension`, and a wrk script (in `scratch`) that posts `input` to
    /// it with this server's token.
    fn action(&self, scratch: &Path, extension: &str, action: &str, input: &str) -> anyhow::Result<(String, PathBuf)> {
        let lua = scratch.join(format!("{}-{action}.lua", self.pid));
        wrk_script(&lua, input, &self.token)?;
        Ok((format!("{}/api/v1/extensions/{extension}/actions/{action}", self.base), lua))
    }

    /// Uploads `package` as extension `name` and publishes it: the cold publish's server-side
    /// time, then the median of 5 more (native code cached), in ms.
    fn publish(&self, package: &Path, name: &str) -> anyhow::Result<(u64, u64)> {
        let auth = format!("authorization: Bearer {}", self.token);
        let version = bench_upload(&self.base, &auth, package, name)?;
        let publish_ms = || -> anyhow::Result<u64> {
            let out = bench_publish(&self.base, &auth, name, version)?;
            json_field(&out, "summary")?["ms"].as_u64().context("summary.ms")
        };
        let cold = publish_ms()?;
        let mut cached: Vec<u64> = (0..5).map(|_| publish_ms()).collect::<anyhow::Result<_>>()?;
        cached.sort_unstable();
        Ok((cold, cached[cached.len() / 2]))
    }
}

/// `wasmtime serve` of the peer's component, a fresh instance per request.
struct Peer {
    _child: KillOnDrop,
    pid: u32,
    url: String,
}

impl Peer {
    fn start(wasmtime: &Path, component: &Path) -> anyhow::Result<Peer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(wasmtime)
            .args(["serve", "-S", "cli", "--max-instance-reuse-count", "1", "--addr", &format!("127.0.0.1:{port}")])
            .arg(component)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wasmtime serve")?;
        let pid = child.id();
        let child = KillOnDrop(child);
        let url = format!("http://127.0.0.1:{port}/");
        let started = Instant::now();
        loop {
            let out = curl(&["-sf", "-X", "POST", "-d", GREET_INPUT, &url]);
            match out {
                Ok(text) if text.contains("Hello, dear Ada! 36 years young.") => break,
                Ok(text) => bail!("the peer answered {text}"),
                Err(_) if started.elapsed() < Duration::from_secs(30) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(e.context("wasmtime serve did not answer within 30 s")),
            }
        }
        Ok(Peer { _child: child, pid, url })
    }
}

/// One wrk run against a server process, and what the process spent on it.
struct Load {
    rps: f64,
    p50: String,
    p99: String,
    /// The process's CPU time (user + system) per request, µs.
    cpu_us: f64,
    /// The process's minor page faults per request.
    faults: f64,
}

fn load(pid: u32, url: &str, lua: &Path, secs: u64) -> anyhow::Result<Load> {
    load_with(pid, url, lua, secs, 2, 32)
}

/// [`load`] with `threads` wrk threads and `conns` connections.
fn load_with(pid: u32, url: &str, lua: &Path, secs: u64, threads: u32, conns: u32) -> anyhow::Result<Load> {
    let before = ProcStat::read(pid)?;
    let out = Command::new("wrk")
        .args([format!("-t{threads}"), format!("-c{conns}"), format!("-d{secs}s"), "--latency".into(), "-s".into()])
        .arg(lua)
        .arg(url)
        .output()
        .context("running wrk (apt-get install wrk)")?;
    let after = ProcStat::read(pid)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.contains("Non-2xx") || !out.status.success() {
        bail!("some calls to {url} failed:\n{text}");
    }
    let (rps, p50, p99) = wrk_summary(&text).context("wrk's figures")?;
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.trim().to_string()))
        .and_then(|n| n.parse().ok())
        .context("wrk's request count")?;
    Ok(Load {
        rps,
        p50,
        p99,
        cpu_us: (after.cpu_ticks - before.cpu_ticks) as f64 * 1e6 / CLOCK_TICKS / requests,
        faults: (after.minor_faults - before.minor_faults) as f64 / requests,
    })
}

/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS: f64 = 100.0;

/// A process's counters from `/proc/PID/stat`.
struct ProcStat {
    minor_faults: u64,
    cpu_ticks: u64,
}

impl ProcStat {
    fn read(pid: u32) -> anyhow::Result<ProcStat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // After the command name in parentheses: field 3 (state) is index 0.
        let fields: Vec<&str> = stat.rsplit_once(')').context("/proc/PID/stat")?.1.split_whitespace().collect();
        let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).context("/proc/PID/stat is short");
        Ok(ProcStat { minor_faults: field(10)?, cpu_ticks: field(14)? + field(15)? })
    }
}

/// `VmRSS` of a process, MiB.
fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("VmRSS")?;
    Ok(kib / 1024.0)
}

/// A CPU profile of `pid` while wrk loads `url`: the share of its samples by part.
struct Profile {
    samples: u64,
    parts: Vec<(&'static str, f64)>,
}

fn profile(pid: u32, url: &str, lua: &Path, secs: u64, scratch: &Path) -> anyhow::Result<Profile> {
    let data = scratch.join(format!("perf-{pid}.data"));
    let mut wrk = Command::new("wrk")
        .args(["-t2", "-c32", &format!("-d{}s", secs + 1), "-s"])
        .arg(lua)
        .arg(url)
        .stdout(Stdio::null())
        .spawn()
        .context("running wrk")?;
    std::thread::sleep(Duration::from_millis(500));
    let recorded = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "1999", "-q", "-o"])
        .arg(&data)
        .args(["-p", &pid.to_string(), "--", "sleep", &secs.saturating_sub(1).max(1).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = wrk.wait();
    if !recorded.is_ok_and(|s| s.success()) {
        bail!("perf record failed");
    }
    let report = Command::new("perf")
        .args(["report", "--no-children", "--sort", "dso,sym", "--stdio", "-q", "-F", "overhead,sample,dso,sym", "-i"])
        .arg(&data)
        .output()
        .context("perf report")?;
    let text = String::from_utf8_lossy(&report.stdout).into_owned();
    let mut parts: Vec<(&'static str, f64)> = Vec::new();
    let mut samples = 0;
    for line in text.lines() {
        // `    12.34%   567  xif   [.] hyper::proto::h1::role::parse_headers` (the library may be
        // several words: `[JIT] tid 123`).
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(mark) = words.iter().position(|w| *w == "[.]" || *w == "[k]") else { continue };
        if mark < 3 {
            continue;
        }
        let Ok(share) = words[0].trim_end_matches('%').parse::<f64>() else { continue };
        samples += words[1].parse::<u64>().unwrap_or(0);
        let dso = words[2..mark].join(" ");
        let sym = words[mark + 1..].join(" ");
        let part = classify(&dso, words[mark] == "[k]", &sym);
        match parts.iter_mut().find(|(p, _)| *p == part) {
            Some((_, s)) => *s += share,
            None => parts.push((part, share)),
        }
    }
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(Profile { samples, parts })
}

/// What a sampled function does, by its library and name.
fn classify(dso: &str, kernel: bool, sym: &str) -> &'static str {
    let has = |needles: &[&str]| needles.iter().any(|n| sym.contains(n));
    if kernel {
        if has(&[
            "page_fault",
            "do_anonymous_page",
            "handle_mm_fault",
            "clear_page",
            "madvise",
            "zap_",
            "flush_tlb",
            "tlb",
        ]) {
            return "kernel: page faults, madvise, TLB";
        }
        if has(&["tcp", "ip_", "sock", "skb", "net_", "__dev_queue", "loopback", "epoll", "inet"]) {
            return "kernel: TCP on loopback, epoll";
        }
        if has(&[
            "futex",
            "schedule",
            "switch_to",
            "task_switch",
            "wake",
            "enqueue",
            "dequeue",
            "spin_unlock_irq",
            "irqentry_exit",
        ]) {
            return "kernel: scheduling, wake-ups, futexes";
        }
        return "kernel: other (syscall entry, timers, …)";
    }
    if dso.starts_with("[unknown]") || dso.starts_with("[anon") || dso.starts_with("memfd") || dso.starts_with("//anon")
    {
        return "guest code (compiled WebAssembly), trampolines";
    }
    if dso.starts_with("libc") || dso.starts_with("ld-linux") || dso.starts_with("[vdso]") {
        return "libc (malloc, free, memcpy, memset), vDSO clock";
    }
    if has(&["wasmtime_wasi", "WasiCtx"]) {
        return "WASI context (wasmtime-wasi)";
    }
    if has(&["wasmtime", "cranelift", "pulley"]) {
        return "wasmtime: instantiate, call, reset";
    }
    if has(&["hyper", "httparse", "http::", "h2::"]) {
        return "HTTP: hyper (parse, write)";
    }
    if has(&["axum", "tower", "matchit"]) {
        return "routing: axum, tower";
    }
    if has(&["tokio", "mio"]) {
        return "async runtime: tokio";
    }
    if has(&["sha2", "auth", "Principal", "bearer"]) {
        return "auth: token hash and cache";
    }
    if has(&["serde_json", "serde::"]) {
        return "JSON: serde_json";
    }
    if has(&["xif_model"]) {
        return "typing: xif-model (input shape, values)";
    }
    if has(&["tracing"]) {
        return "tracing";
    }
    if has(&["xif_runtime"]) {
        return "xif-runtime: the call around the instance";
    }
    if has(&["xif_server"]) {
        return "xif-server: the call's checks, budget, slots";
    }
    if has(&["alloc::", "core::", "std::", "hashbrown"]) {
        return "std: collections, strings, formatting";
    }
    "other"
}

/// RSS of a server through 100 extensions, MiB.
struct Memory {
    started: f64,
    published: f64,
    called: f64,
    loaded: f64,
}

/// One server, 100 renamed copies of the example uploaded and published, then each called once.
fn hundred_extensions(xif: &Path, scratch: &Path, greetings: &Path) -> anyhow::Result<Memory> {
    let bytes = std::fs::read(greetings)?;
    let package = xif_package::read(&bytes, &xif_package::Limits::default())?;
    let definition = String::from_utf8(package.definition.clone())?;
    let server = Server::start(xif, &scratch.join("data-hundred"), &[], None)?;
    // Settled: the first requests have been served.
    let started = rss_mib(server.pid)?;
    let auth = format!("authorization: Bearer {}", server.token);
    let dir = scratch.join("hundred");
    std::fs::create_dir_all(&dir)?;
    let names: Vec<String> = (1..=100).map(|n| format!("Greetings{n:03}")).collect();
    for name in &names {
        let renamed = definition.replacen("name = \"Greetings\"", &format!("name = \"{name}\""), 1);
        let written = xif_package::write(&xif_package::PackageInput {
            extension: name,
            description: &package.manifest.description,
            toolchain: &package.manifest.toolchain,
            definition: renamed.as_bytes(),
            component: &package.component,
            sources: &package.sources,
            resources: &package.resources,
            stubs: &[],
        })?;
        let file = dir.join(format!("{name}.xif"));
        std::fs::write(&file, &written.bytes)?;
        let version = bench_upload(&server.base, &auth, &file, name)?;
        bench_publish(&server.base, &auth, name, version)?;
    }
    let published = rss_mib(server.pid)?;
    let call = |name: &str| -> anyhow::Result<()> {
        let out = curl(&[
            "-sf",
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            GREET_INPUT,
            &format!("{}/api/v1/extensions/{name}/actions/Greet", server.base),
        ])?;
        if !out.contains("Hello, dear Ada!") {
            bail!("{name} answered {out}");
        }
        Ok(())
    };
    for name in &names {
        call(name)?;
    }
    let called = rss_mib(server.pid)?;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..32)
            .map(|w| {
                let names = &names;
                let call = &call;
                s.spawn(move || -> anyhow::Result<()> {
                    for i in 0..(names.len() * 10 / 32) {
                        call(&names[(w * 7 + i) % names.len()])?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| w.join().expect("caller"))
    })?;
    let loaded = rss_mib(server.pid)?;
    Ok(Memory { started, published, called, loaded })
}

/// `cargo xtask bench-observe`: what counting calls and keeping their log lines costs. The
/// example's `Greet` (which logs one line per call) under wrk, on servers started with `--observe
/// on` and `--observe off`, both loaded at the same time, `BENCH_ROUNDS` rounds (default 5;
/// `FLOOR_SECONDS` per round, default 8), a
/// fresh data directory per server; the medians of requests/s and of the server's CPU time per
/// request, and the log lines written and dropped under the load.
pub fn bench_observe(root: &Path) -> anyhow::Result<()> {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(5);
    let (xif, scratch) = release_xif(root, "bench-observe")?;
    run(Command::new(&xif).args(["new", "Greetings", "--path"]).arg(&scratch))?;
    let greetings = scratch.join("Greetings.xif");
    compile_and_save(&xif, root, &scratch.join("Greetings"), &greetings)?;
    let secs: u64 = std::env::var("FLOOR_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let mut runs: [Vec<Load>; 2] = [Vec::new(), Vec::new()];
    let mut lines = (0.0, 0.0);
    for round in 0..rounds {
        // Both servers at once, each under its own wrk (one thread, 16 connections): whatever
        // else the machine does during the round weighs on both alike.
        let mut servers = Vec::new();
        for mode in ["on", "off"] {
            let data = scratch.join(format!("data-{mode}-{round}"));
            let server = Server::start(&xif, &data, &["--observe".into(), mode.into()], None)?;
            server.publish(&greetings, "Greetings")?;
            let (url, lua) = server.action(&scratch, "Greetings", "Greet", GREET_INPUT)?;
            // A short warm-up: the native code loaded, the connections made.
            load(server.pid, &url, &lua, 1)?;
            servers.push((server, url, lua));
        }
        let loads: Vec<anyhow::Result<Load>> = std::thread::scope(|s| {
            let running: Vec<_> = servers
                .iter()
                .map(|(server, url, lua)| s.spawn(move || load_with(server.pid, url, lua, secs, 1, 16)))
                .collect();
            running
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("wrk's thread panicked"))))
                .collect()
        });
        for (i, l) in loads.into_iter().enumerate() {
            let l = l?;
            let (server, _, _) = &servers[i];
            eprintln!(
                "bench-observe: round {round}, --observe {}: {:.0} req/s, {:.1} µs CPU/request",
                ["on", "off"][i],
                l.rps,
                l.cpu_us
            );
            if i == 0 {
                let text = curl(&[
                    "-sf",
                    "-H",
                    &format!("authorization: Bearer {}", server.token),
                    &format!("{}/metrics", server.base),
                ])?;
                let sample = |name: &str| -> f64 {
                    text.lines()
                        .find_map(|l| l.strip_prefix(name).and_then(|r| r.trim().parse().ok()))
                        .unwrap_or(f64::NAN)
                };
                lines = (sample("xif_log_lines_written_total "), sample("xif_log_lines_dropped_total "));
                let calls = greetings_calls(&text);
                if calls < l.rps * secs as f64 * 0.9 {
                    bail!("/metrics counted {calls} calls of Greet, fewer than wrk made");
                }
            }
            runs[i].push(l);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let rps = |i: usize| median(&mut runs[i].iter().map(|l| l.rps).collect());
    let cpu = |i: usize| median(&mut runs[i].iter().map(|l| l.cpu_us).collect());
    let (on, off) = (rps(0), rps(1));
    let (cpu_on, cpu_off) = (cpu(0), cpu(1));
    println!();
    println!(
        "| `Greet` over HTTP, both servers at once, wrk -t1 -c16 each, {secs} s × {rounds} | `--observe on` | `--observe off` | cost |"
    );
    println!("|---|---|---|---|");
    println!("| requests/s (median) | {on:.0} | {off:.0} | {:.1}% |", (off - on) / off * 100.0);
    println!(
        "| server CPU per request (median) | {cpu_on:.1} µs | {cpu_off:.1} µs | {:.1}% |",
        (cpu_on - cpu_off) / cpu_off * 100.0
    );
    // Each round's two runs were at the same time: their difference is the cost with the
    // machine's drift left out.
    let paired = |f: fn(&Load) -> f64, sign: f64| {
        let mut d: Vec<f64> =
            (0..rounds).map(|r| sign * (f(&runs[1][r]) - f(&runs[0][r])) / f(&runs[1][r]) * 100.0).collect();
        let m = median(&mut d);
        (m, d[0], d[d.len() - 1])
    };
    let (m, lo, hi) = paired(|l| l.rps, 1.0);
    println!("| requests/s, median of the rounds' own differences (range) | | | {m:.1}% ({lo:.1}% … {hi:.1}%) |");
    let (m, lo, hi) = paired(|l| l.cpu_us, -1.0);
    println!("| CPU per request, median of the rounds' own differences (range) | | | {m:.1}% ({lo:.1}% … {hi:.1}%) |");
    println!(
        "| p50 / p99 (last round) | {} / {} | {} / {} | |",
        runs[0][rounds - 1].p50,
        runs[0][rounds - 1].p99,
        runs[1][rounds - 1].p50,
        runs[1][rounds - 1].p99
    );
    println!("| log lines written / dropped (last `on` round) | {:.0} / {:.0} | — | |", lines.0, lines.1);
    Ok(())
}

/// The calls of Greetings that a `/metrics` text counted, over its actions.
fn greetings_calls(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("xif_action_calls_total{extension=\"Greetings\""))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// `cargo xtask bench-observe-switch`: the cost of metrics and log capture measured in one
/// server process under one load. The server runs with `XIF_BENCH_OBSERVE_SWITCH=1`, under which
/// a call with `xif-bench-observe: off` is neither counted nor its log kept; each of
/// `BENCH_CONNECTIONS` (default 4) keep-alive connections alternates calls with and without it, so
/// both kinds see the same machine from one microsecond to the next (a shared VM's speed drifts by
/// tens of percent from one second to the next, and between server starts). Each call's time is
/// taken at the client; `BENCH_CALLS` (default 20,000) of each kind per connection. `/metrics`
/// must have counted exactly the observed calls.
pub fn bench_observe_switch(root: &Path) -> anyhow::Result<()> {
    let env_num =
        |k: &str, d: usize| std::env::var(k).ok().and_then(|s| s.parse().ok()).filter(|&n| n > 0).unwrap_or(d);
    let (calls, conns) = (env_num("BENCH_CALLS", 20_000), env_num("BENCH_CONNECTIONS", 4));
    let (xif, scratch) = release_xif(root, "bench-observe-switch")?;
    run(Command::new(&xif).args(["new", "Greetings", "--path"]).arg(&scratch))?;
    let greetings = scratch.join("Greetings.xif");
    compile_and_save(&xif, root, &scratch.join("Greetings"), &greetings)?;
    let env = [("XIF_BENCH_OBSERVE_SWITCH", "1")];
    let server = Server::start_with_env(&xif, &scratch.join("data"), &["--observe".into(), "on".into()], None, &env)?;
    server.publish(&greetings, "Greetings")?;
    let addr = server.base.trim_start_matches("http://").to_string();
    let request = |observe: bool| {
        format!(
            "POST /api/v1/extensions/Greetings/actions/Greet HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{GREET_INPUT}",
            server.token,
            GREET_INPUT.len(),
            if observe { "" } else { "xif-bench-observe: off\r\n" }
        )
        .into_bytes()
    };
    let (on_req, off_req) = (request(true), request(false));
    let counted = || -> anyhow::Result<f64> {
        let auth = format!("authorization: Bearer {}", server.token);
        Ok(greetings_calls(&curl(&["-sf", "-H", &auth, &format!("{}/metrics", server.base)])?))
    };
    // A warm-up of both kinds.
    caller(&addr, &on_req, &off_req, 1000)?;
    let before = counted()?;
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Vec<u64>, Vec<u64>)>> = std::thread::scope(|s| {
        let running: Vec<_> = (0..conns).map(|_| s.spawn(|| caller(&addr, &on_req, &off_req, calls))).collect();
        running.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a caller panicked")))).collect()
    });
    let took = started.elapsed();
    let (mut on, mut off) = (Vec::new(), Vec::new());
    // Blocks of 500 + 500 consecutive calls of one connection: each block's own cost, as a check
    // of how much the figure moves.
    let mut blocks = Vec::new();
    for r in results {
        let (a, b) = r?;
        for (x, y) in a.chunks(500).zip(b.chunks(500)) {
            let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len() as f64;
            blocks.push((mean(x) - mean(y)) / mean(y) * 100.0);
        }
        on.extend(a);
        off.extend(b);
    }
    let observed = counted()? - before;
    if observed != on.len() as f64 {
        bail!("/metrics counted {observed} calls, not the {} observed ones: the switch does not work", on.len());
    }
    let stats = |v: &mut Vec<u64>| {
        v.sort_unstable();
        let kept = &v[..v.len() * 99 / 100];
        let mean = kept.iter().sum::<u64>() as f64 / kept.len() as f64 / 1000.0;
        (mean, v[v.len() / 2] as f64 / 1000.0, v[v.len() * 99 / 100] as f64 / 1000.0)
    };
    let ((mean_on, p50_on, p99_on), (mean_off, p50_off, p99_off)) = (stats(&mut on), stats(&mut off));
    blocks.sort_by(f64::total_cmp);
    let q = |f: usize| blocks[(blocks.len() * f / 4).min(blocks.len() - 1)];
    println!();
    println!(
        "| `Greet` over HTTP, one server, {conns} connections alternating observed and unobserved calls, {} of each ({:.0} s) | observed | not observed | cost |",
        on.len(),
        took.as_secs_f64()
    );
    println!("|---|---|---|---|");
    println!(
        "| time per call, mean of the fastest 99% | {mean_on:.1} µs | {mean_off:.1} µs | **{:.1}%** |",
        (mean_on - mean_off) / mean_off * 100.0
    );
    println!(
        "| p50 / p99 | {p50_on:.1} / {p99_on:.1} µs | {p50_off:.1} / {p99_off:.1} µs | {:.1}% (p50) |",
        (p50_on - p50_off) / p50_off * 100.0
    );
    println!(
        "| blocks of 500 + 500 calls: median cost (middle half) | | | {:.1}% ({:.1}% … {:.1}%) |",
        q(2),
        q(1),
        q(3)
    );
    println!("| calls counted by /metrics | {observed:.0} | 0 | |");
    Ok(())
}

/// One keep-alive connection to `addr` making `n` calls of each request, alternating: the
/// nanoseconds of each `on` and each `off` call, from sending to the whole answer read.
fn caller(addr: &str, on: &[u8], off: &[u8], n: usize) -> anyhow::Result<(Vec<u64>, Vec<u64>)> {
    use std::io::{BufRead, Read, Write};
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = std::io::BufReader::new(stream);
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut line = String::new();
    let mut body = Vec::new();
    for i in 0..2 * n {
        let observe = i % 2 == 0;
        let start = Instant::now();
        writer.write_all(if observe { on } else { off })?;
        line.clear();
        reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            bail!("a call failed: {line}");
        }
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if observe { a.push(took) } else { b.push(took) }
    }
    Ok((a, b))
}
