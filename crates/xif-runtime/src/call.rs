//! What a call takes besides its input ([`CallContext`]), what it gives back ([`CallOutput`])
//! and how it can fail ([`CallError`]).
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use xif_model::value::ValueError;

/// Reads a packed resource by the path written in `extension.toml`.
pub type ResourceReader = Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;
/// Receives the log lines of a call.
pub type LogSink = Arc<dyn Fn(LogLine) + Send + Sync>;
/// Consulted for each `xif:host/log` line while the action runs; when it returns a future, the
/// action waits inside that host call until the future completes (the call's time limit still
/// applies). Lets a host hold a call at a known point, for example a test's latch.
pub type LogHook = Arc<dyn Fn(&LogLine) -> Option<Pin<Box<dyn Future<Output = ()> + Send>>> + Send + Sync>;

/// Everything a call needs from its caller besides the input: who is called (to tag the log),
/// the extension's resources and settings, and where its log goes.
#[derive(Clone)]
pub struct CallContext {
    /// The extension's name, copied into every [`LogLine`].
    pub extension: String,
    /// The extension's version on the server (0 for `xif run`), copied into every [`LogLine`].
    pub version: u32,
    /// `xif:host/resources.read`: a resource's content by its path, `None` when there is none.
    pub resources: ResourceReader,
    /// `xif:host/settings.get`: the values an administrator set. A setting that is not here
    /// reads as its default from the definition; a name the definition does not know reads as none.
    pub settings: Arc<HashMap<String, String>>,
    /// Where log lines go: the action's own `xif:host/log` calls while it runs, then its captured
    /// stdout and stderr, line by line, when it has finished.
    pub log: LogSink,
    /// Awaited after each `xif:host/log` line, when set (see [`LogHook`]); `None` by default.
    pub log_hook: Option<LogHook>,
    /// `xif:host/entities`: the extension's own tables; `None` (the default, as in `xif run`)
    /// makes every entity function answer that entities need the Platform Server.
    pub entities: Option<crate::entities::EntityAccess>,
    /// Settings that are set but cannot be read (on the server: a secret sealed with another
    /// key): `xif:host/settings.get` answers none for them, never their default.
    pub unavailable_settings: Arc<HashSet<String>>,
}

impl CallContext {
    /// A context with no resources, no settings set, and the log discarded.
    pub fn new(extension: impl Into<String>, version: u32) -> CallContext {
        CallContext {
            extension: extension.into(),
            version,
            resources: Arc::new(|_| None),
            settings: Arc::new(HashMap::new()),
            log: Arc::new(|_| {}),
            log_hook: None,
            entities: None,
            unavailable_settings: Arc::new(HashSet::new()),
        }
    }

    /// Serves resources from a map of path to content.
    pub fn with_resources(mut self, files: HashMap<String, Vec<u8>>) -> CallContext {
        let files = Arc::new(files);
        self.resources = Arc::new(move |path| files.get(path).cloned());
        self
    }

    /// Uses these setting values.
    pub fn with_settings(mut self, settings: HashMap<String, String>) -> CallContext {
        self.settings = Arc::new(settings);
        self
    }

    /// Sends log lines to `log`.
    pub fn with_log(mut self, log: impl Fn(LogLine) + Send + Sync + 'static) -> CallContext {
        self.log = Arc::new(log);
        self
    }

    /// Gives the call its extension's entity store.
    pub fn with_entities(mut self, store: crate::entities::EntityAccess) -> CallContext {
        self.entities = Some(store);
        self
    }

    /// Sets the hook awaited after each `xif:host/log` line.
    pub fn with_log_hook(mut self, hook: LogHook) -> CallContext {
        self.log_hook = Some(hook);
        self
    }

    pub(crate) fn log_line(&self, level: LogLevel, message: String, source: LogSource) -> LogLine {
        LogLine { level, message, source, extension: self.extension.clone(), version: self.version }
    }
}

impl fmt::Debug for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.settings.keys().collect();
        names.sort();
        f.debug_struct("CallContext")
            .field("extension", &self.extension)
            .field("version", &self.version)
            .field("settings", &names)
            .finish_non_exhaustive()
    }
}

/// How important a log line is (`enum level` of `xif:host/log`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Detailed.
    Debug,
    /// Normal; stdout lines.
    Info,
    /// Something to look at; stderr lines.
    Warn,
    /// Something went wrong.
    Error,
}

impl LogLevel {
    /// The level's name in lower case, as WIT spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogSource {
    /// A `xif:host/log.log` call.
    Host,
    /// A line the action printed to stdout.
    Stdout,
    /// A line the action printed to stderr (a panic's message is here).
    Stderr,
}

/// One line of an extension's log, tagged with the extension and version it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// How important it is.
    pub level: LogLevel,
    /// The text (one line for stdout and stderr; a host log message may span lines).
    pub message: String,
    /// Where it came from.
    pub source: LogSource,
    /// [`CallContext::extension`].
    pub extension: String,
    /// [`CallContext::version`].
    pub version: u32,
}

/// A successful call.
#[derive(Clone, Debug, PartialEq)]
pub struct CallOutput {
    /// The outputs, as a JSON object keyed by output name (`{}` for an action without outputs).
    pub json: serde_json::Value,
    /// What the action printed to stdout (at most [`crate::OUTPUT_CAPACITY`] bytes).
    pub stdout: String,
    /// What the action printed to stderr (at most [`crate::OUTPUT_CAPACITY`] bytes).
    pub stderr: String,
    /// How long the call took, from [`crate::Extension::call`] to its answer.
    pub elapsed: Duration,
}

/// Why a call failed. [`CallError::BadInput`] and [`CallError::UnknownAction`] are the caller's
/// fault; [`CallError::ActionFailed`] is the action's own answer; the others are the action
/// misbehaving (or, for [`CallError::Internal`], the runtime).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The extension has no action of that name.
    #[error("extension has no action `{name}`; its actions are {}", list(known))]
    UnknownAction {
        /// The name asked for.
        name: String,
        /// The actions it has.
        known: Vec<String>,
    },
    /// The input does not fit the action's inputs; the error names the input (an HTTP 400).
    #[error("bad input: {}", value_error(.0))]
    BadInput(ValueError),
    /// The action returned its `action-error`.
    #[error("{message}")]
    ActionFailed {
        /// The message the action gave.
        message: String,
    },
    /// The action trapped: a panic, an `unreachable`, an out-of-bounds access...
    #[error("{}", trap_text(message, panic.as_deref(), location.as_deref()))]
    Trap {
        /// What wasmtime says about the trap (`wasm trap: wasm `unreachable` instruction executed`).
        message: String,
        /// A Rust panic's message, read from the captured stderr.
        panic: Option<String>,
        /// Where the panic happened (`src/actions/greet.rs:12:5`), when it printed one.
        location: Option<String>,
        /// The WebAssembly backtrace (function names, when the module kept them).
        backtrace: Option<String>,
    },
    /// The call ran longer than its time limit and was stopped.
    #[error("the action did not finish within its time limit of {}", duration(*limit))]
    Timeout {
        /// The limit.
        limit: Duration,
    },
    /// The call's memory would have grown beyond its limit, and it was stopped.
    #[error("the action needed more memory than its limit of {}", bytes(*limit))]
    OutOfMemory {
        /// The limit in bytes.
        limit: usize,
    },
    /// The action returned a value that does not fit its outputs (a date that does not exist,
    /// a decimal that is not one...).
    #[error("the action returned an invalid output: {message}")]
    BadOutput {
        /// What is wrong, naming the output.
        message: String,
    },
    /// Every call slot stayed taken for as long as a call may wait for one.
    #[error("the server is busy: no call slot came free within {}; retry later", duration(*waited))]
    Busy {
        /// How long the call waited.
        waited: Duration,
    },
    /// The action's outputs are larger, as JSON, than the output limit.
    #[error("the action's output is larger than the limit of {} (as JSON)", bytes(*limit))]
    OutputTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The runtime failed (for example, instantiation failed for a reason other than a trap).
    #[error("internal error while running the action: {0}")]
    Internal(String),
}

fn list(names: &[String]) -> String {
    if names.is_empty() { "none".to_string() } else { names.join(", ") }
}

fn value_error(e: &ValueError) -> String {
    if e.path.is_empty() { e.message.clone() } else { e.to_string() }
}

fn trap_text(message: &str, panic: Option<&str>, location: Option<&str>) -> String {
    match (panic, location) {
        (Some(p), Some(l)) => format!("the action panicked at {l}: {p}"),
        (Some(p), None) => format!("the action panicked: {p}"),
        _ => format!("the action trapped: {message}"),
    }
}

pub(crate) fn duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) { format!("{} s", d.as_secs()) } else { format!("{} ms", d.as_millis()) }
}

pub(crate) fn bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    if n.is_multiple_of(MIB) { format!("{} MiB", n / MIB) } else { format!("{n} bytes") }
}

/// Reads a Rust panic out of captured stderr: std prints
/// `thread '…' panicked at src/lib.rs:12:5:\nthe message\nnote: run with …`.
/// Returns the message and the location.
pub(crate) fn panic_from_stderr(stderr: &str) -> Option<(String, Option<String>)> {
    let at = stderr.rfind("panicked at ")?;
    let rest = &stderr[at + "panicked at ".len()..];
    let (head, body) = rest.split_once('\n').unwrap_or((rest, ""));
    // Since Rust 1.73 the location ends the line with a `:`, the message on the next lines.
    let (location, message) = match head.strip_suffix(':') {
        Some(loc) => (Some(loc.to_string()), body),
        // Older form: `panicked at 'message', src/lib.rs:1:2`.
        None => (None, head),
    };
    let message: Vec<&str> = message.lines().take_while(|l| !l.starts_with("note: ")).collect();
    Some((message.join("\n").trim_end().to_string(), location))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_panic() {
        let stderr = "hello\n\nthread '<unnamed>' panicked at src/lib.rs:130:9:\nboom\nsecond line\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            panic_from_stderr(stderr),
            Some(("boom\nsecond line".to_string(), Some("src/lib.rs:130:9".to_string())))
        );
        assert_eq!(panic_from_stderr("no panic here"), None);
    }

    #[test]
    fn formats_limits() {
        assert_eq!(duration(Duration::from_secs(10)), "10 s");
        assert_eq!(duration(Duration::from_millis(500)), "500 ms");
        assert_eq!(bytes(256 << 20), "256 MiB");
        assert_eq!(bytes(1000), "1000 bytes");
    }
}
