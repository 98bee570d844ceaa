//! `cargo xtask`: automation cargo cannot express.
//!
//! - `cargo xtask fixtures` — builds `xif` and compiles every test extension under
//!   `tests/extensions/` once, into one shared target folder (`target/xif-ext`), so the wasm
//!   standard library is built once and every test finds its component fresh.
//! - `cargo xtask test` — `fixtures`, then the whole test suite.
//! - `cargo xtask fuzz [SECONDS]` — runs the package-reader fuzz target (needs cargo-fuzz).
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
        _ => {
            eprintln!("usage: cargo xtask fixtures | test [CARGO TEST ARGS] | fuzz [SECONDS]");
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
