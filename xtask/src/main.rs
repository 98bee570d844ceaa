//! `cargo xtask`: automation cargo cannot express.
//!
//! - `cargo xtask fixtures` — builds `xif` and compiles every test extension under
//!   `tests/extensions/` and every example under `examples/` once, into one shared target folder (`target/xif-ext`), so the wasm
//!   standard library is built once and every test finds its component fresh.
//! - `cargo xtask test [CARGO TEST ARGS]` — `fixtures`, then the whole test suite on SQLite (with
//!   the ARGS), then the server's suite again on PostgreSQL (`XIF_TEST_DATABASE=postgres`, with
//!   the ARGS after `--`; the Chromium and CLI suites stay on SQLite), and the time of each pass.
//! - `cargo xtask fuzz [TARGET] [SECONDS]` — runs one fuzz target of `fuzz/` (`read_package`, the
//!   default, `parse_definition`, `json_value`) for SECONDS (60) with cargo-fuzz; `all` runs each
//!   in turn. `cargo xtask fuzz SECONDS` is the package reader's.
//! - `cargo xtask schemathesis [EXAMPLES]` — the suite's schemathesis test
//!   (crates/xif/tests/all/schemathesis.rs) with EXAMPLES (100) per operation.
//! - `cargo xtask soak [--minutes N]` — republishing under load with SIGKILLs for N minutes (2),
//!   then the hostile-client probes (`soak.rs`); PASS/FAIL per part.
//! - `cargo xtask bench` — times the studio steps on the example extension, then `bench-server`
//!   (docs/BENCHMARKS.md).
//! - `cargo xtask bench-server` — the Platform Server beside `../shared/floor/run.sh` and
//!   `wasmtime serve`, in one run: action calls over HTTP (wrk) with the server's CPU and page
//!   faults per call, a stubbed sandbox, each instance reset, a profile, the in-process call,
//!   memory with 100 extensions, publish times, on SQLite and on a private PostgreSQL
//!   (`bench_server.rs`).
//! - `cargo xtask bench-observe` — what `/metrics` and the extension log store cost: `Greet`
//!   under wrk with `--observe on` and `off` in turn (`bench_server.rs`).
//! - `cargo xtask bench-observe-switch` — the same cost in one server process under one load:
//!   connections alternating observed calls and calls the bench switch leaves unobserved
//!   (`XIF_BENCH_OBSERVE_SWITCH`, `bench_server.rs`).
//! - `cargo xtask bench-cluster` — three nodes on one private PostgreSQL: activation propagation
//!   (p50/p99 over 20 publishes) and call throughput with 1, 2 and 3 nodes (`cluster.rs`).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

mod bench_server;
mod cluster;
mod soak;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("fixtures") => fixtures(&root),
        Some("test") => test(&root, &args[1..]),
        Some("fuzz") => fuzz(&root, &args[1..]),
        Some("schemathesis") => schemathesis(&root, &args[1..]),
        Some("soak") => soak::soak(&root, &args[1..]),
        Some("bench") => bench(&root).and_then(|()| bench_server::bench_server(&root)),
        Some("bench-server") => bench_server::bench_server(&root),
        Some("bench-cluster") => cluster::bench_cluster(&root),
        Some("bench-observe-switch") => bench_server::bench_observe_switch(&root),
        Some("bench-observe") => bench_server::bench_observe(&root),
        _ => {
            eprintln!(
                "usage: cargo xtask fixtures | test [CARGO TEST ARGS] | fuzz [TARGET] [SECONDS] | schemathesis [EXAMPLES] | soak [--minutes N] | bench | bench-server | bench-observe | bench-observe-switch | bench-cluster"
            );
            std::process::exit(2)
        }
    }
}

/// `cargo xtask test [ARGS]`: the workspace on SQLite, then the server's suite on PostgreSQL (each
/// test on its own database of one private PostgreSQL per test binary, crate xif-testpg). Both
/// passes run even when the first fails, so one run shows both; it fails when either does.
fn test(root: &Path, args: &[String]) -> anyhow::Result<()> {
    fixtures(root)?;
    let harness_args = args.iter().position(|a| a == "--").map_or(&[][..], |i| &args[i + 1..]);
    let started = std::time::Instant::now();
    let sqlite = run(Command::new(cargo())
        .current_dir(root)
        .env_remove("XIF_TEST_DATABASE")
        .args(["test", "--workspace", "--locked"])
        .args(args));
    let sqlite_secs = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    // The server's test binary as the workspace build made it (`cargo test -p xif-server` would
    // unify features differently and build wasmtime and its dependents a second time).
    let postgres = server_suite_binary(root).and_then(|binary| {
        run(Command::new(binary)
            .current_dir(root.join("crates/xif-server"))
            .env("XIF_TEST_DATABASE", "postgres")
            .args(["--skip", "console_in_chromium"])
            .args(harness_args))
    });
    let postgres_secs = started.elapsed().as_secs_f64();
    let verdict = |r: &anyhow::Result<()>| if r.is_ok() { "passed" } else { "FAILED" };
    eprintln!(
        "xtask: the workspace on SQLite {} in {sqlite_secs:.0} s; the server's suite on PostgreSQL {} in {postgres_secs:.0} s",
        verdict(&sqlite),
        verdict(&postgres)
    );
    sqlite.and(postgres)
}

/// The path of crates/xif-server's `all` test binary of the workspace build (built if needed).
fn server_suite_binary(root: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args(["test", "--workspace", "--locked", "--no-run", "--message-format=json"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("building the tests")?;
    if !out.status.success() {
        bail!("building the tests failed");
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        let is_server = msg["manifest_path"].as_str().is_some_and(|m| m.ends_with("crates/xif-server/Cargo.toml"));
        if is_server
            && msg["target"]["name"] == "all"
            && let Some(exe) = msg["executable"].as_str()
        {
            return Ok(PathBuf::from(exe));
        }
    }
    bail!("cargo built no `all` test binary of crates/xif-server")
}

/// The fuzz targets of `fuzz/`, the first being the default.
const FUZZ_TARGETS: &[&str] = &["read_package", "parse_definition", "json_value"];

/// `cargo xtask fuzz [TARGET|all] [SECONDS]`: cargo-fuzz with the flags this toolchain needs
/// (`--sanitizer none`: Debian's rustc has no ASan runtime; `RUSTC_BOOTSTRAP=1` for its `-Z` flags).
fn fuzz(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let (target, secs) = match args {
        [] => (FUZZ_TARGETS[0], "60"),
        [one] if one.parse::<u64>().is_ok() => (FUZZ_TARGETS[0], one.as_str()),
        [target] => (target.as_str(), "60"),
        [target, secs, ..] => (target.as_str(), secs.as_str()),
    };
    if secs.parse::<u64>().is_err() {
        bail!("SECONDS must be a whole number, not {secs:?} (cargo xtask fuzz [TARGET] [SECONDS])");
    }
    let targets: Vec<&str> = match target {
        "all" => FUZZ_TARGETS.to_vec(),
        t if FUZZ_TARGETS.contains(&t) => vec![t],
        t => bail!("no fuzz target {t:?}; the targets are {} (or all)", FUZZ_TARGETS.join(", ")),
    };
    let has_cargo_fuzz = Command::new(cargo()).args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        bail!("cargo-fuzz is not installed: run `cargo install cargo-fuzz --locked` (a few minutes, once)");
    }
    for target in targets {
        eprintln!(
            "xtask: fuzzing {target} for {secs} s (corpus fuzz/corpus/{target}, crashes in fuzz/artifacts/{target})"
        );
        run(Command::new(cargo())
            .current_dir(root.join("fuzz"))
            .env("RUSTC_BOOTSTRAP", "1")
            .args(["fuzz", "run", target, "--sanitizer", "none", "--"])
            .arg(format!("-max_total_time={secs}")))?;
    }
    Ok(())
}

/// `cargo xtask schemathesis [EXAMPLES]`: the suite's schemathesis test, longer.
fn schemathesis(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let examples = args.first().map(String::as_str).unwrap_or("100");
    if examples.parse::<u32>().is_err() {
        bail!("EXAMPLES must be a whole number, not {examples:?}");
    }
    fixtures(root)?;
    run(Command::new(cargo()).current_dir(root).env("XIF_SCHEMATHESIS_EXAMPLES", examples).args([
        "test",
        "--locked",
        "-p",
        "xif",
        "--test",
        "all",
        "schemathesis",
        "--",
        "--nocapture",
    ]))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

/// The shared target folder of every test extension.
fn ext_target(root: &Path) -> PathBuf {
    root.join("target/xif-ext")
}

/// Builds `xif`, then compiles every extension folder (one with an `extension.toml`) of
/// `tests/extensions/` (the test extensions) and of `examples/` (the real extensions the docs
/// show, tested by crates/xif/tests/all/examples.rs), into the one shared target folder.
fn fixtures(root: &Path) -> anyhow::Result<()> {
    run(Command::new(cargo()).current_dir(root).args(["build", "--locked", "-p", "xif"]))?;
    let xif = root.join("target/debug/xif");
    for (folder, kind) in [("tests/extensions", "test extension"), ("examples", "example extension")] {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join(folder))
            .with_context(|| format!("reading {folder}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("extension.toml").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            eprintln!("xtask: compiling {kind} {}", dir.display());
            run(Command::new(&xif).arg("compile").arg("--path").arg(&dir).arg("--target-dir").arg(ext_target(root)))?;
        }
    }
    Ok(())
}

/// Runs `xif` with `args`, returning its wall time; fails when it fails.
fn timed(xif: &Path, dir: &Path, target: &Path, args: &[&str]) -> anyhow::Result<std::time::Duration> {
    let start = std::time::Instant::now();
    let out = Command::new(xif).args(args).arg("--path").arg(dir).env("XIF_TARGET_DIR", target).output()?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("xif {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(took)
}

fn median(mut v: Vec<std::time::Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// Times the studio steps on a fresh example extension, with a fresh target folder.
fn bench(root: &Path) -> anyhow::Result<()> {
    run(Command::new(cargo()).current_dir(root).args(["build", "--release", "--locked", "-p", "xif"]))?;
    let xif = root.join("target/release/xif");
    let scratch = root.join("target/bench");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let target = scratch.join("ext-target");
    run(Command::new(&xif).args(["new", "Greetings", "--path"]).arg(&scratch))?;
    let dir = scratch.join("Greetings");
    let cold = timed(&xif, &dir, &target, &["compile"])?;
    // Another folder, same target: the standard library and dependencies are reused.
    run(Command::new(&xif).args(["new", "Greetings2", "--path"]).arg(&scratch))?;
    let warm = timed(&xif, &scratch.join("Greetings2"), &target, &["compile"])?;
    let n = 20;
    let mut noop = Vec::new();
    let mut save = Vec::new();
    let mut runs = Vec::new();
    for _ in 0..n {
        noop.push(timed(&xif, &dir, &target, &["compile"])?);
        save.push(timed(&xif, &dir, &target, &["save"])?);
        runs.push(timed(&xif, &dir, &target, &["run", "Greet", r#"{"Who": {"Name": "Ada", "Age": 36}}"#])?);
    }
    println!("| step | time |");
    println!("|---|---|");
    println!("| cold compile (fresh target folder: std + deps + extension) | {:.1} s |", cold.as_secs_f64());
    println!("| compile of a new folder, shared target folder | {:.2} s |", warm.as_secs_f64());
    println!("| no-op compile (nothing changed), median of {n} | {:.0} ms |", median(noop));
    println!("| save, median of {n} | {:.0} ms |", median(save));
    println!("| `xif run Greet` (process: load, compile to native, call), median of {n} | {:.0} ms |", median(runs));
    Ok(())
}

/// The administrator password of the servers the benchmarks start.
const BENCH_PASSWORD: &str = "bench-admin-password";

/// Builds `xif` (release) and empties the scratch folder `name` of the target folder: the
/// binary and the folder.
fn release_xif(root: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    run(Command::new(cargo()).current_dir(root).args(["build", "--release", "--locked", "-p", "xif"]))?;
    let scratch = target.join(name);
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    Ok((target.join("release/xif"), scratch))
}

/// `xif compile` then `xif save` of the extension folder `dir` into `package`.
fn compile_and_save(xif: &Path, root: &Path, dir: &Path, package: &Path) -> anyhow::Result<()> {
    run(Command::new(xif).arg("compile").arg("--path").arg(dir).arg("--target-dir").arg(ext_target(root)))?;
    run(Command::new(xif).arg("save").arg("--path").arg(dir).arg("-o").arg(package))
}

/// Logs in to `base` as `admin` (password [`BENCH_PASSWORD`]): a token.
fn bench_login(base: &str) -> anyhow::Result<String> {
    let out = curl(&[
        "-sf",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &format!(r#"{{"user": "admin", "password": "{BENCH_PASSWORD}"}}"#),
        &format!("{base}/api/v1/login"),
    ])?;
    Ok(json_field(&out, "token")?.as_str().context("a token")?.to_string())
}

/// Uploads the package file to `base` with `auth` (an `authorization:` header) as extension
/// `name`: its version.
fn bench_upload(base: &str, auth: &str, package: &Path, name: &str) -> anyhow::Result<i64> {
    let out = curl(&[
        "-sf",
        "-X",
        "POST",
        "-H",
        auth,
        "--data-binary",
        &format!("@{}", package.display()),
        &format!("{base}/api/v1/extensions/{name}/versions"),
    ])?;
    json_field(&out, "version")?.as_i64().context("a version number")
}

/// Publishes version `version` of extension `name` on `base` with `auth`: the response's body.
fn bench_publish(base: &str, auth: &str, name: &str, version: i64) -> anyhow::Result<String> {
    curl(&["-sf", "-X", "POST", "-H", auth, &format!("{base}/api/v1/extensions/{name}/versions/{version}/publish")])
}

/// A wrk script that posts `input` to an action with `token`.
fn wrk_script(path: &Path, input: &str, token: &str) -> anyhow::Result<()> {
    std::fs::write(
        path,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{input}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ),
    )?;
    Ok(())
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn curl(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("curl").args(args).output().context("running curl")?;
    if !out.status.success() {
        bail!("curl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn json_field(text: &str, field: &str) -> anyhow::Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(text).with_context(|| format!("not JSON: {text}"))?;
    v.get(field).cloned().with_context(|| format!("no `{field}` in {text}"))
}

/// `call    70123.45 req/s  p50 1.20ms  p99 3.40ms` (the floor's summary line).
fn wrk_line(line: &str) -> (f64, String, String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let rps = words.get(1).and_then(|w| w.parse().ok()).unwrap_or(0.0);
    let after =
        |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1)).unwrap_or(&"?").to_string();
    (rps, after("p50"), after("p99"))
}

/// Requests/s, p50 and p99 from wrk's `--latency` output.
fn wrk_summary(out: &str) -> Option<(f64, String, String)> {
    let field = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.split_whitespace().next().unwrap_or("").to_string()))
    };
    Some((field("Requests/sec:")?.parse().ok()?, field("50%")?, field("99%")?))
}
