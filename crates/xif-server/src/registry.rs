//! The extensions that serve calls: for each, its active version, loaded and ready. Activation
//! swaps one `Arc` under a short lock, so a call that already holds the old version finishes
//! on it while new calls get the new one.
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use xif_model::Definition;
use xif_runtime::{CallContext, Extension, LogLevel, LogLine};

use crate::db::key;

/// An active version, loaded.
pub struct Live {
    /// The extension's name.
    pub name: String,
    /// The version number.
    pub version: i64,
    /// The package digest.
    pub digest: String,
    /// The loaded component.
    pub extension: Extension,
    /// The context of its calls (resources, log); settings are filled in per call.
    context: CallContext,
    /// Its entities' records, as this version sees them (none when it has no entities).
    pub entities: Option<Arc<crate::entities::Store>>,
}

impl Live {
    /// Makes a live version: `resources` are the package's, the log goes to the server's log
    /// tagged with extension and version, `hook` is [`Config::call_log_hook`](crate::Config).
    pub fn new(
        name: &str,
        version: i64,
        digest: &str,
        extension: Extension,
        resources: Vec<(String, Vec<u8>)>,
        hook: Option<xif_runtime::LogHook>,
    ) -> Live {
        let mut context = CallContext::new(name, u32::try_from(version).unwrap_or(u32::MAX))
            .with_resources(resources.into_iter().collect())
            .with_log(log_line);
        context.log_hook = hook;
        Live { name: name.to_string(), version, digest: digest.to_string(), extension, context, entities: None }
    }

    /// Gives the version's calls (`xif:host/entities`) and the record routes its entity store.
    pub fn with_entities(mut self, store: crate::entities::Store) -> Live {
        let store = Arc::new(store);
        self.context.entities = Some(crate::entities::access(&store));
        self.entities = Some(store);
        self
    }

    /// Its definition.
    pub fn definition(&self) -> &Arc<Definition> {
        self.extension.definition()
    }
}

/// Sends a guest's log line to the server's log: the message is [`one_line`], so a guest cannot
/// forge a line of the server's log (or of another extension's) with a newline or a terminal
/// control sequence.
fn log_line(l: LogLine) {
    let (ext, v, src) = (l.extension.as_str(), l.version, format!("{:?}", l.source));
    let msg = one_line(&l.message);
    match l.level {
        LogLevel::Trace => {
            tracing::trace!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}")
        }
        LogLevel::Debug => {
            tracing::debug!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}")
        }
        LogLevel::Info => tracing::info!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}"),
        LogLevel::Warn => tracing::warn!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}"),
        LogLevel::Error => {
            tracing::error!(target: "xif::extension", extension = ext, version = v, source = src, "{msg}")
        }
    }
}

/// Text that came from outside (a guest's log line, a name from a request or a package) made
/// safe for one line of the server's log: control characters (newlines, carriage returns,
/// escape sequences...) are written as escapes (`\n`, `\u{1b}`), and a backslash as `\\`.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The settings of one extension as the server holds them.
#[derive(Clone, Debug, Default)]
pub struct ExtensionSettings {
    /// Name → value (secrets opened): what calls read.
    pub values: Arc<HashMap<String, String>>,
    /// The names whose value is stored as a secret (sealed; never shown).
    pub secret: HashSet<String>,
    /// The names whose stored value cannot be read (a secret sealed with another key), with why:
    /// calls read them as unavailable.
    pub unavailable: HashMap<String, String>,
}

/// The live extensions, by name (case-insensitively).
#[derive(Default)]
pub struct Registry {
    live: RwLock<HashMap<String, Arc<Live>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    settings: RwLock<HashMap<String, Arc<ExtensionSettings>>>,
}

impl Registry {
    /// The active version of an extension.
    pub fn get(&self, name: &str) -> Option<Arc<Live>> {
        self.live.read().unwrap_or_else(|p| p.into_inner()).get(&key(name)).cloned()
    }

    /// Activates a version; returns the one it replaces.
    pub fn activate(&self, live: Live) -> Option<Arc<Live>> {
        let k = key(&live.name);
        self.live.write().unwrap_or_else(|p| p.into_inner()).insert(k, Arc::new(live))
    }

    /// Stops serving an extension (calls in flight finish).
    pub fn remove(&self, name: &str) {
        self.live.write().unwrap_or_else(|p| p.into_inner()).remove(&key(name));
        self.settings.write().unwrap_or_else(|p| p.into_inner()).remove(&key(name));
    }

    /// The lock that serializes uploads, publishes and deletions of one extension.
    pub fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).entry(key(name)).or_default().clone()
    }

    /// Replaces the settings of an extension.
    pub fn set_settings(&self, name: &str, settings: ExtensionSettings) {
        self.settings.write().unwrap_or_else(|p| p.into_inner()).insert(key(name), Arc::new(settings));
    }

    /// The settings of an extension (none set: empty).
    pub fn settings(&self, name: &str) -> Arc<ExtensionSettings> {
        self.settings.read().unwrap_or_else(|p| p.into_inner()).get(&key(name)).cloned().unwrap_or_default()
    }

    /// The context of a call to `live`, with the extension's current settings.
    pub fn context(&self, live: &Live) -> CallContext {
        let mut ctx = live.context.clone();
        if let Some(s) = self.settings.read().unwrap_or_else(|p| p.into_inner()).get(&key(&live.name)) {
            ctx.settings = s.values.clone();
            if !s.unavailable.is_empty() {
                ctx.unavailable_settings = Arc::new(s.unavailable.keys().cloned().collect());
            }
        }
        ctx
    }

    /// How many extensions are live.
    pub fn len(&self) -> usize {
        self.live.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_escapes_control_characters() {
        assert_eq!(one_line("plain text"), "plain text");
        assert_eq!(one_line("a\nFAKE"), "a\\nFAKE");
        assert_eq!(one_line("a\r\u{1b}[2J\\"), "a\\r\\u{1b}[2J\\\\");
        assert!(!one_line("x\u{7}y\u{0}").chars().any(char::is_control));
    }
}
