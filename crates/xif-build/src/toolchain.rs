//! Finding a Rust toolchain that can build for `wasm32-wasip1`.
//!
//! In order: `XIF_RUSTC`/`XIF_CARGO` when set; a rustup toolchain with the `wasm32-wasip1` target
//! installed; a toolchain whose sysroot has the target's standard library; a toolchain with the
//! library source (Debian's `rust-web-src`) and wasi-libc, used through `-Zbuild-std`.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compilation target of every extension.
pub const TARGET: &str = "wasm32-wasip1";
/// Where Debian's wasi-libc puts its libraries.
pub const WASI_LIBC: &str = "/usr/lib/wasm32-wasi";

/// How the standard library for the target is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StdSource {
    /// The target's prebuilt standard library is installed (rustup target or sysroot).
    Prebuilt,
    /// The standard library is built from source with `-Zbuild-std`, linking wasi-libc from this folder.
    BuildStd {
        /// The wasi-libc folder.
        wasi_libc: PathBuf,
    },
}

/// A toolchain that can build extensions.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The cargo to run.
    pub cargo: PathBuf,
    /// The rustc cargo should use.
    pub rustc: PathBuf,
    /// `rustc --version` output, e.g. `rustc 1.96.0 (ac68faa20 2026-05-25)`; it goes into the package.
    pub version: String,
    /// The sysroot of that rustc.
    pub sysroot: PathBuf,
    /// How the target's standard library is provided.
    pub std: StdSource,
}

/// No toolchain can build for the target.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Rust toolchain here can build for {TARGET}\n{tried}\n  help: with rustup, run `rustup target add {TARGET}`; on Debian 12 without rustup targets, run\n        `apt-get install rustc-web cargo-web rust-web-src lld-22 wasi-libc`\n        (or run `scripts/setup.sh` from the Xif repository, which does this)"
)]
pub struct NoToolchain {
    /// What was looked at, one line each.
    pub tried: String,
}

fn run(cmd: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).env_remove("RUSTC").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn describe(rustc: &Path, cargo: &Path) -> Option<(String, PathBuf)> {
    let version = run(rustc, &["--version"])?;
    let sysroot = PathBuf::from(run(rustc, &["--print", "sysroot"])?);
    cargo.exists().then_some(())?;
    Some((version, sysroot))
}

fn has_prebuilt(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib").join(TARGET).join("lib").is_dir()
}

fn has_source(sysroot: &Path) -> bool {
    sysroot.join("lib/rustlib/src/rust/library/std/Cargo.toml").is_file()
}

/// Finds a toolchain, or says exactly what to install.
pub fn find() -> Result<Toolchain, NoToolchain> {
    let mut tried = Vec::new();
    let mut candidates: Vec<(PathBuf, PathBuf)> = Vec::new();
    if let (Ok(rustc), Ok(cargo)) = (std::env::var("XIF_RUSTC"), std::env::var("XIF_CARGO")) {
        candidates.push((rustc.into(), cargo.into()));
    }
    // rustup's toolchain (through its proxies on PATH), then the system's.
    candidates.push(("rustc".into(), which("cargo").unwrap_or_else(|| "cargo".into())));
    candidates.push(("/usr/bin/rustc".into(), "/usr/bin/cargo".into()));
    for (rustc, cargo) in candidates {
        let Some((version, sysroot)) = describe(&rustc, &cargo) else {
            tried.push(format!("  - {}: not found", rustc.display()));
            continue;
        };
        if has_prebuilt(&sysroot) {
            return Ok(Toolchain { cargo, rustc: resolve(&rustc), version, sysroot, std: StdSource::Prebuilt });
        }
        let wasi_libc = PathBuf::from(WASI_LIBC);
        if has_source(&sysroot) && wasi_libc.join("libc.a").is_file() {
            return Ok(Toolchain {
                cargo,
                rustc: resolve(&rustc),
                version,
                sysroot,
                std: StdSource::BuildStd { wasi_libc },
            });
        }
        tried.push(format!(
            "  - {} ({version}): no {TARGET} standard library{}",
            rustc.display(),
            if has_source(&sysroot) { ", and no wasi-libc in /usr/lib/wasm32-wasi" } else { " and no library source" }
        ));
    }
    Err(NoToolchain { tried: tried.join("\n") })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()))
}

fn resolve(rustc: &Path) -> PathBuf {
    if rustc.components().count() > 1 {
        rustc.to_path_buf()
    } else {
        which(&rustc.to_string_lossy()).unwrap_or_else(|| rustc.to_path_buf())
    }
}
