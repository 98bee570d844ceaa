//! `xif save`: packs the definition, the compiled component, a snapshot of the source and the
//! resources into one deterministic `.xif` (see `xif_package`).
use std::path::PathBuf;

use crate::compile::{self, Fingerprint};
use crate::fsutil;
use crate::project::{Project, ProjectError};

/// Largest resource file.
pub const MAX_RESOURCE_BYTES: u64 = 50 * 1024 * 1024;

/// Options for [`save`].
#[derive(Debug, Clone, Default)]
pub struct SaveOptions {
    /// Where to write the package (default: `<Name>.xif` in the extension folder).
    pub output: Option<PathBuf>,
}

/// What Save wrote.
#[derive(Debug, Clone)]
pub struct SaveReport {
    /// The package file.
    pub path: PathBuf,
    /// The package digest (SHA-256 of its manifest).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// How many entries it holds, manifest included.
    pub entries: usize,
    /// The package bytes.
    pub bytes: Vec<u8>,
}

/// Why Save failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The folder or definition is not right.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// There is no component, or it was built from other sources.
    #[error("{0}\n  help: run `xif compile` first")]
    NotCompiled(&'static str),
    /// A resource file is missing or too large.
    #[error("resource {path}: {why}")]
    Resource {
        /// The resource path as written.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// The package could not be written.
    #[error("packing failed: {0}")]
    Package(#[from] xif_package::WriteError),
}

/// Writes the extension's package.
pub fn save(project: &Project, opts: &SaveOptions) -> Result<SaveReport, SaveError> {
    let def = project.valid_definition()?;
    let component_path = project.component_path();
    let component =
        std::fs::read(&component_path).map_err(|_| SaveError::NotCompiled("the extension has not been compiled"))?;
    let fp = Fingerprint::read(&compile::fingerprint_path(project))
        .ok_or(SaveError::NotCompiled("the extension has not been compiled"))?;
    if fp.inputs != compile::inputs_digest(&project.dir)? {
        return Err(SaveError::NotCompiled("the source changed since the last compile"));
    }
    let mut sources = Vec::new();
    for (rel, path) in compile::build_inputs(&project.dir).map_err(ProjectError::io("reading", &project.dir))? {
        // The package reader refuses dot-folders and dot-files (`.git`, `.cargo`, … under src/
        // or wit/, a Finder's `.DS_Store`): they never feed the build, so they stay out.
        if rel == xif_model::DEFINITION_FILE || xif_package::planted_component(&rel).is_some() {
            continue;
        }
        sources.push((rel, std::fs::read(&path).map_err(ProjectError::io("reading", &path))?));
    }
    let mut resources = Vec::new();
    for r in &def.resources {
        let path = project.dir.join(&r.value);
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|e| SaveError::Resource { path: r.value.clone(), why: format!("cannot be read: {e}") })?;
        if !meta.is_file() {
            return Err(SaveError::Resource { path: r.value.clone(), why: "is not a regular file".into() });
        }
        if meta.len() > MAX_RESOURCE_BYTES {
            return Err(SaveError::Resource {
                path: r.value.clone(),
                why: format!("is {} bytes; the limit is {MAX_RESOURCE_BYTES}", meta.len()),
            });
        }
        let bytes =
            std::fs::read(&path).map_err(|e| SaveError::Resource { path: r.value.clone(), why: e.to_string() })?;
        resources.push((r.value.clone(), bytes));
    }
    let description = def.description.as_ref().map(|d| d.value.as_str()).unwrap_or("");
    // What is still a stub is listed, so the server can refuse it by name.
    let stubs: Vec<String> =
        crate::verify::stub_calls(project).into_iter().map(|(file, call)| call.action.unwrap_or(file)).collect();
    let written = xif_package::write(&xif_package::PackageInput {
        extension: &def.name.text,
        description,
        toolchain: &fp.toolchain,
        definition: project.source.as_bytes(),
        component: &component,
        sources: &sources,
        resources: &resources,
        stubs: &stubs,
    })?;
    let path = opts.output.clone().unwrap_or_else(|| project.default_package_path());
    fsutil::write_atomic(&path, &written.bytes).map_err(ProjectError::io("writing", &path))?;
    Ok(SaveReport {
        path,
        digest: written.digest,
        size: written.bytes.len() as u64,
        entries: written.manifest.entries.len() + 1,
        bytes: written.bytes,
    })
}
