//! `xif compile`: builds the extension crate for `wasm32-wasip1` and turns the module into a
//! component with the WASI preview 1 reactor adapter, in-process. Skipped when nothing that feeds
//! it changed (a fingerprint of the inputs and the toolchain). Reproducible across folders: the
//! extension folder, cargo home, target folder and library source are remapped to fixed paths.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::project::{Project, ProjectError};
use crate::toolchain::{self, NoToolchain, StdSource, Toolchain};
use crate::update_source::{self, UpdateError, UpdateReport};

/// Options for [`compile`].
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Cargo's target folder (default: `target` in the extension folder). Sharing one between
    /// extensions builds the standard library once.
    pub target_dir: Option<PathBuf>,
    /// Build even when the fingerprint says nothing changed.
    pub force: bool,
    /// Let cargo print to this process's stderr as it goes (a terminal), instead of capturing it.
    pub stream_output: bool,
    /// An executable that runs [`run_as_rustc_wrapper`] when started with the wrapper variable
    /// set (the `xif` binary does). With it, the folder-specific path remapping is passed to rustc
    /// outside `RUSTFLAGS`, so that building another folder does not rebuild the standard library
    /// and every dependency in a shared target folder. Without it, the flags go into `RUSTFLAGS`.
    pub rustc_wrapper: Option<PathBuf>,
}

/// The variable that holds the extra rustc flags (separated by U+001F) for the wrapper.
pub const WRAPPER_FLAGS_VAR: &str = "__XIF_RUSTC_WRAPPER_FLAGS";

/// When this process was started by cargo as a `RUSTC_WRAPPER` for [`compile`], runs rustc with
/// the extra flags and returns its exit code; otherwise returns `None` at once.
pub fn run_as_rustc_wrapper() -> Option<i32> {
    let flags = std::env::var(WRAPPER_FLAGS_VAR).ok()?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let rest: Vec<std::ffi::OsString> = args.collect();
    let mut cmd = Command::new(rustc);
    cmd.args(&rest).env_remove(WRAPPER_FLAGS_VAR);
    // Version and print queries take no remapping.
    let query = rest.iter().any(|a| a == "-vV" || a == "-V" || a == "--version");
    if !query {
        cmd.args(flags.split('\u{1f}').filter(|f| !f.is_empty()));
    }
    Some(match cmd.status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("xif: could not run rustc: {e}");
            1
        }
    })
}

/// Whether the build ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileStatus {
    /// Built (inputs changed, or first build).
    Built,
    /// Nothing that feeds the build changed; the existing component is current.
    Unchanged,
}

/// What Compile did.
#[derive(Debug, Clone)]
pub struct CompileReport {
    /// Built or skipped.
    pub status: CompileStatus,
    /// The component file.
    pub component: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The toolchain's version line.
    pub toolchain: String,
    /// What Update Source Code did first.
    pub update: UpdateReport,
    /// Milliseconds spent.
    pub ms: u128,
}

/// Why Compile failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The definition or folder is not right, or generated source could not be updated.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// A file could not be read or written.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// No toolchain can build for the target.
    #[error(transparent)]
    NoToolchain(#[from] NoToolchain),
    /// cargo could not be started.
    #[error("could not run {cargo}: {source}")]
    Spawn {
        /// The cargo binary.
        cargo: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The compiler reported errors; `output` is what it printed (empty when it streamed).
    #[error("the extension's code does not compile{}", if output.is_empty() { " (see the compiler's messages above)".to_string() } else { format!(":\n{output}") })]
    Compiler {
        /// The compiler's output.
        output: String,
    },
    /// The module could not be made a component.
    #[error("making the component failed: {0}")]
    Componentize(String),
    /// `Cargo.toml` is unreadable or has no package name.
    #[error("Cargo.toml: {0}")]
    Manifest(String),
}

/// Whether [`compile`] with the toolchain `tc` will first build the standard library from
/// source: `tc` has no prebuilt one for the target and none was built yet in the target folder
/// (about a minute more).
pub fn builds_std_first(project: &Project, opts: &CompileOptions, tc: &Toolchain) -> bool {
    if !matches!(tc.std, StdSource::BuildStd { .. }) {
        return false;
    }
    let deps = target_dir(project, opts).join(toolchain::TARGET).join("release").join("deps");
    let built = std::fs::read_dir(&deps).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libstd-") && name.ends_with(".rlib")
        })
    });
    !built
}

/// The folder cargo builds in: `opts.target_dir`, else the extension's `target/`.
fn target_dir(project: &Project, opts: &CompileOptions) -> PathBuf {
    opts.target_dir.clone().unwrap_or_else(|| project.dir.join("target"))
}

/// Builds the component, unless it is current.
pub fn compile(project: &Project, opts: &CompileOptions) -> Result<CompileReport, CompileError> {
    compile_with(project, opts, toolchain::find())
}

/// [`compile`] with the toolchain already looked for ([`toolchain::find`]): the source is
/// updated first, then a missing toolchain is the error.
pub fn compile_with(
    project: &Project,
    opts: &CompileOptions,
    tc: Result<Toolchain, NoToolchain>,
) -> Result<CompileReport, CompileError> {
    let start = Instant::now();
    let update = update_source::update_source(project)?;
    let tc = tc?;
    let out = project.component_path();
    let fp_path = fingerprint_path(project);
    let fp = Fingerprint {
        inputs: inputs_digest(&project.dir)?,
        toolchain: tc.version.clone(),
        std: format!("{:?}", tc.std),
    };
    if !opts.force && out.is_file() && Fingerprint::read(&fp_path).is_some_and(|old| old == fp) {
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        return Ok(CompileReport {
            status: CompileStatus::Unchanged,
            component: out,
            size,
            toolchain: tc.version,
            update,
            ms: start.elapsed().as_millis(),
        });
    }
    let module = cargo_build(project, &tc, &target_dir(project, opts), opts)?;
    let component = componentize(&module)?;
    fsutil::write_atomic(&out, &component).map_err(ProjectError::io("writing", &out))?;
    // Fingerprint after the build: cargo may have written Cargo.lock.
    let fp = Fingerprint { inputs: inputs_digest(&project.dir)?, ..fp };
    let json = serde_json::to_vec_pretty(&fp).unwrap_or_default();
    fsutil::write_atomic(&fp_path, &json).map_err(ProjectError::io("writing", &fp_path))?;
    Ok(CompileReport {
        status: CompileStatus::Built,
        component: out,
        size: component.len() as u64,
        toolchain: tc.version,
        update,
        ms: start.elapsed().as_millis(),
    })
}

/// The files whose content feeds the build, relative to the folder, sorted.
pub fn build_inputs(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for f in [xif_model::DEFINITION_FILE, "Cargo.toml", "Cargo.lock", "build.rs"] {
        let p = dir.join(f);
        if p.is_file() {
            files.push((f.to_string(), p));
        }
    }
    files.extend(fsutil::walk(dir, &dir.join("src"))?);
    files.extend(fsutil::walk(dir, &dir.join("wit"))?);
    files.sort();
    Ok(files)
}

/// What the last build was made from: the digest of its input files and the toolchain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// SHA-256 over the paths and contents of [`build_inputs`].
    pub inputs: String,
    /// The toolchain's version line.
    pub toolchain: String,
    /// How the standard library was provided.
    pub std: String,
}

impl Fingerprint {
    /// The fingerprint of the last build, if there is one.
    pub fn read(path: &Path) -> Option<Fingerprint> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }
}

/// The path of the fingerprint of the last build.
pub fn fingerprint_path(project: &Project) -> PathBuf {
    project.build_dir().join("fingerprint.json")
}

/// SHA-256 over the paths and contents of the files that feed the build.
pub fn inputs_digest(dir: &Path) -> Result<String, ProjectError> {
    let mut h = Sha256::new();
    h.update(b"xif-compile-1\0");
    let inputs = build_inputs(dir).map_err(ProjectError::io("reading", dir))?;
    for (rel, path) in inputs {
        let bytes = std::fs::read(&path).map_err(ProjectError::io("reading", &path))?;
        h.update(rel.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

/// The library name cargo gives the module: `[lib] name`, else the package name with `_`.
fn lib_name(dir: &Path) -> Result<String, CompileError> {
    let path = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| CompileError::Manifest(e.to_string()))?;
    let doc: toml::Table = toml::from_str(&text).map_err(|e| CompileError::Manifest(e.to_string()))?;
    let lib = doc.get("lib").and_then(|l| l.get("name")).and_then(|n| n.as_str());
    let pkg = doc.get("package").and_then(|p| p.get("name")).and_then(|n| n.as_str());
    lib.or(pkg).map(|n| n.replace('-', "_")).ok_or_else(|| CompileError::Manifest("no [package] name".into()))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
}

fn cargo_build(
    project: &Project,
    tc: &Toolchain,
    target_dir: &Path,
    opts: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let stream = opts.stream_output;
    let lib = lib_name(&project.dir)?;
    std::fs::create_dir_all(target_dir).map_err(ProjectError::io("creating", target_dir))?;
    let target_dir = std::path::absolute(target_dir).map_err(ProjectError::io("reading", target_dir))?;
    // Folder-specific flags: through the wrapper when there is one (see CompileOptions).
    let folder_flags = vec![format!("--remap-path-prefix={}=/xif/extension", project.dir.display())];
    let mut flags = vec![
        format!("--remap-path-prefix={}=/xif/target", target_dir.display()),
        format!("--remap-path-prefix={}=/rust/lib", tc.sysroot.join("lib/rustlib/src/rust").display()),
    ];
    if let Some(home) = cargo_home() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    let mut cmd = Command::new(&tc.cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(toolchain::TARGET)
        .arg("--manifest-path")
        .arg(project.dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTC", &tc.rustc)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .current_dir(&project.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if let StdSource::BuildStd { wasi_libc } = &tc.std {
        cmd.arg("-Zbuild-std=std,panic_abort").env("RUSTC_BOOTSTRAP", "1");
        flags.push("-L".into());
        flags.push(wasi_libc.display().to_string());
    }
    match &opts.rustc_wrapper {
        Some(wrapper) => {
            cmd.env("RUSTC_WRAPPER", wrapper).env(WRAPPER_FLAGS_VAR, folder_flags.join("\u{1f}"));
        }
        None => flags.extend(folder_flags),
    }
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
    let output = if stream {
        cmd.stderr(Stdio::inherit());
        let status = cmd.status().map_err(|source| CompileError::Spawn { cargo: tc.cargo.clone(), source })?;
        (status, String::new())
    } else {
        let out = cmd
            .stderr(Stdio::piped())
            .output()
            .map_err(|source| CompileError::Spawn { cargo: tc.cargo.clone(), source })?;
        (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    if !output.0.success() {
        return Err(CompileError::Compiler { output: output.1 });
    }
    let module = target_dir.join(toolchain::TARGET).join("release").join(format!("{lib}.wasm"));
    std::fs::read(&module)
        .map_err(|e| CompileError::Project(ProjectError::Io { action: "reading", path: module, source: e }))
}

/// Turns a core module built against the extension world into a component, with the WASI
/// preview 1 reactor adapter.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, CompileError> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|e| {
            e.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .map(|e| e.validate(true))
        .and_then(|mut e| e.encode())
        .map_err(|e| CompileError::Componentize(format!("{e:#}")))
}
