//! An extension folder on disk: its definition, parsed, and where everything lives.
use std::path::{Path, PathBuf};

use xif_model::{Definition, Diagnostic};

/// Where xif keeps its build outputs inside the extension folder.
pub const BUILD_DIR: &str = ".xif/build";

/// An extension folder whose `extension.toml` could be read and parsed.
#[derive(Debug, Clone)]
pub struct Project {
    /// The extension folder (absolute).
    pub dir: PathBuf,
    /// The text of `extension.toml`.
    pub source: String,
    /// The parsed definition (`None` when its shape could not be read).
    pub definition: Option<Definition>,
    /// What parsing found.
    pub parse_diagnostics: Vec<Diagnostic>,
}

/// The folder is not an extension, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No `extension.toml` in the folder.
    #[error(
        "no extension.toml in {0}\n  help: run this in an extension folder, pass `--path DIR`, or create one with `xif new NAME`"
    )]
    NotAnExtension(PathBuf),
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The definition has errors (see the diagnostics).
    #[error("extension.toml has {0}; run `xif verify` to see them")]
    Invalid(String),
}

impl ProjectError {
    pub(crate) fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ProjectError + 'a {
        move |source| ProjectError::Io { action, path: path.to_path_buf(), source }
    }
}

impl Project {
    /// Reads and parses the extension in `dir`.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let dir = std::path::absolute(dir).map_err(ProjectError::io("reading", dir))?;
        let file = dir.join(xif_model::DEFINITION_FILE);
        let source = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ProjectError::NotAnExtension(dir)),
            Err(e) => return Err(ProjectError::Io { action: "reading", path: file, source: e }),
        };
        let (definition, parse_diagnostics) = xif_model::parse(&source);
        Ok(Project { dir, source, definition, parse_diagnostics })
    }

    /// The definition when it has no errors at all (parse and Verify's definition rules).
    pub fn valid_definition(&self) -> Result<&Definition, ProjectError> {
        let mut diags = self.parse_diagnostics.clone();
        if let Some(def) = &self.definition {
            diags.extend(xif_model::verify::verify(def));
        }
        match &self.definition {
            Some(def) if !diags.iter().any(|d| d.is_error()) => Ok(def),
            _ => Err(ProjectError::Invalid(xif_model::diag::count_line(&diags))),
        }
    }

    /// The extension's name as written (empty when unreadable).
    pub fn name(&self) -> &str {
        self.definition.as_ref().map(|d| d.name.text.as_str()).unwrap_or("")
    }

    /// The Cargo package name of the extension crate.
    pub fn crate_name(name: &str) -> String {
        format!("xif-ext-{}", xif_model::names::wit(name))
    }

    /// The folder for build outputs.
    pub fn build_dir(&self) -> PathBuf {
        self.dir.join(BUILD_DIR)
    }

    /// The compiled component, once `compile` has run.
    pub fn component_path(&self) -> PathBuf {
        self.build_dir().join("component.wasm")
    }

    /// Where `save` writes the package by default: `<Name>.xif` in the extension folder.
    pub fn default_package_path(&self) -> PathBuf {
        self.dir.join(format!("{}.xif", self.name()))
    }

    /// The path of an action's implementation file, relative to the folder.
    pub fn action_file(action: &xif_model::Action) -> String {
        action.source_file()
    }

    /// Diagnostics as JSON objects (severity, code, message, file, line, column, help), as
    /// `xif verify --json` prints them and `xif publish --json` sends them in its events.
    pub fn diagnostics_json(&self, diags: &[Diagnostic]) -> Vec<serde_json::Value> {
        diags
            .iter()
            .map(|d| {
                let (line, column) = if d.file == xif_model::DEFINITION_FILE {
                    d.line_col(&self.source).unwrap_or((0, 0))
                } else {
                    std::fs::read_to_string(self.dir.join(&d.file))
                        .ok()
                        .and_then(|src| d.line_col(&src))
                        .unwrap_or((0, 0))
                };
                serde_json::json!({
                    "severity": if d.is_error() { "error" } else { "warning" },
                    "code": d.code, "message": d.message, "file": d.file,
                    "line": line, "column": column, "help": d.help,
                })
            })
            .collect()
    }

    /// Renders diagnostics with excerpts of the files they point into.
    pub fn render(&self, diags: &[Diagnostic]) -> String {
        xif_model::diag::render(diags, &|file| {
            if file == xif_model::DEFINITION_FILE {
                Some(self.source.clone())
            } else {
                std::fs::read_to_string(self.dir.join(file)).ok()
            }
        })
    }
}
