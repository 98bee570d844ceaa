//! `cargo xtask`: automation cargo cannot express.
//!
//! - `cargo xtask fixtures` — builds `xif` and compiles every test extension under
//!   `tests/extensions/` once, into one shared target folder (`target/xif-ext`), so the wasm
//!   standard library is built once and every test finds its component fresh.
//! - `cargo xtask test` — `fixtures`, then the whole test suite.
//! - `cargo xtask fuzz [SECONDS]` — runs the package-reader fuzz target (needs cargo-fuzz).
//! - `cargo xtask bench` — times the studio steps on the example extension (docs/BENCHMARKS.md).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = root();
    match args.first().map(String::as_str) {
        Some("fixtures") => fixtures(&root),
        Some("test") => {
            fixtures(&root)?;
            run(Command::new(cargo()).current_dir(&root).args(["test", "--workspace", "--locked"]).args(&args[1..]))
        }
        Some("fuzz") => {
            let secs = args.get(1).map(String::as_str).unwrap_or("60");
            run(Command::new(cargo())
                .current_dir(root.join("fuzz"))
                .env("RUSTC_BOOTSTRAP", "1")
                .args(["fuzz", "run", "read_package", "--sanitizer", "none", "--"])
                .arg(format!("-max_total_time={secs}")))
        }
        Some("bench") => bench(&root),
        _ => {
            eprintln!("usage: cargo xtask fixtures | test [CARGO TEST ARGS] | fuzz [SECONDS] | bench");
            std::process::exit(2)
        }
    }
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

fn fixtures(root: &Path) -> anyhow::Result<()> {
    run(Command::new(cargo()).current_dir(root).args(["build", "--locked", "-p", "xif"]))?;
    let xif = root.join("target/debug/xif");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("tests/extensions"))
        .context("reading tests/extensions")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("extension.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        eprintln!("xtask: compiling test extension {}", dir.display());
        run(Command::new(&xif).arg("compile").arg("--path").arg(&dir).arg("--target-dir").arg(ext_target(root)))?;
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
