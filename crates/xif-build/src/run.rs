//! `xif run`: calls an action of the compiled extension locally, in the sandbox the Platform
//! Server uses (`xif-runtime`), with the folder's resource files and the given settings.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use xif_runtime::{CallContext, CallError, CallOutput, Limits, Loadable, LogLine, Runtime, RuntimeError};

use crate::compile::{self, CompileError, CompileOptions, CompileReport};
use crate::project::{Project, ProjectError};

/// Options for [`run`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The action's name as defined.
    pub action: String,
    /// The input: a JSON object of the action's inputs.
    pub input: serde_json::Value,
    /// Setting values (others read as their defaults).
    pub settings: HashMap<String, String>,
    /// How to compile first, when the component is not current.
    pub compile: CompileOptions,
    /// The sandbox's limits.
    pub limits: Limits,
}

/// A finished call.
#[derive(Debug)]
pub struct RunReport {
    /// What Compile did first (usually: unchanged).
    pub compile: CompileReport,
    /// The action's answer, or why it failed.
    pub result: Result<CallOutput, CallError>,
    /// What the action logged (host log calls, stdout and stderr lines).
    pub log: Vec<LogLine>,
}

/// Why the call could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Compiling failed.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// A file could not be read.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The sandbox refused the component.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// No async executor could be started.
    #[error("could not start the executor: {0}")]
    Executor(std::io::Error),
}

/// Compiles when needed, then calls the action once.
pub fn run(project: &Project, opts: &RunOptions) -> Result<RunReport, RunError> {
    let compile = compile::compile(project, &opts.compile)?;
    let def = Arc::new(project.valid_definition()?.clone());
    let component = std::fs::read(&compile.component).map_err(ProjectError::io("reading", &compile.component))?;
    let mut resources = HashMap::new();
    for r in &def.resources {
        let path = project.dir.join(&r.value);
        resources.insert(r.value.clone(), std::fs::read(&path).map_err(ProjectError::io("reading", &path))?);
    }
    let runtime = Runtime::new(opts.limits)?;
    let extension = runtime.load(def.clone(), Loadable::Wasm(&component))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let ctx = CallContext::new(def.name.text.clone(), 0)
        .with_resources(resources)
        .with_settings(opts.settings.clone())
        .with_log(move |line| sink.lock().unwrap_or_else(|p| p.into_inner()).push(line));
    let executor = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(RunError::Executor)?;
    let result = executor.block_on(extension.call(&opts.action, &opts.input, ctx));
    let log = std::mem::take(&mut *log.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(RunReport { compile, result, log })
}
