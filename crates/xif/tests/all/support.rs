//! Shared helpers: run the binary, copy folders, read JSON output.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// `xif` with the shared test target folder (built once by `cargo xtask fixtures`).
pub fn xif() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xif"));
    c.env("XIF_TARGET_DIR", workspace().join("target/xif-ext"));
    c
}

/// Runs and returns the output, asserting the exit code.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run xif");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Runs and returns the output, asserting exit code `code`.
pub fn run_code(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().expect("run xif");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The last JSON line on stdout.
pub fn json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON in {text}"));
    serde_json::from_str(line).expect("valid JSON")
}

/// A new extension `name` in a fresh temporary folder.
pub fn new_extension(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    run_ok(xif().arg("new").arg(name).arg("--path").arg(tmp.path()));
    let dir = tmp.path().join(name);
    (tmp, dir)
}

/// Copies an extension folder without its build outputs.
pub fn copy_extension(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == ".xif" || name == "target" || name.ends_with(".xif") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().expect("type").is_dir() {
            copy_extension(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Sets every file's modification time below `dir` to `secs` after the epoch.
pub fn touch_all(dir: &Path, secs: u64) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        if entry.file_type().expect("type").is_dir() {
            touch_all(&path, secs);
        } else {
            let f = std::fs::File::options().write(true).open(&path).expect("open");
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)).expect("set mtime");
        }
    }
}

pub fn compile(dir: &Path) -> serde_json::Value {
    json(&run_ok(xif().arg("compile").arg("--json").arg("--path").arg(dir)))
}

pub fn save(dir: &Path) -> serde_json::Value {
    json(&run_ok(xif().arg("save").arg("--json").arg("--path").arg(dir)))
}
