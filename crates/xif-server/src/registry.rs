//! The extensions that serve calls: for each, its active version, loaded and ready. Activation
//! swaps one `Arc` under a short lock, so a call that already holds the old version finishes
//! on it while new calls get the new one.
use std::collections::HashMap;
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

fn log_line(l: LogLine) {
    let (ext, v, src, msg) = (l.extension.as_str(), l.version, format!("{:?}", l.source), l.message.as_str());
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

type Settings = Arc<HashMap<String, String>>;

/// The live extensions, by name (case-insensitively).
#[derive(Default)]
pub struct Registry {
    live: RwLock<HashMap<String, Arc<Live>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    settings: RwLock<HashMap<String, Settings>>,
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
    pub fn set_settings(&self, name: &str, values: HashMap<String, String>) {
        self.settings.write().unwrap_or_else(|p| p.into_inner()).insert(key(name), Arc::new(values));
    }

    /// The context of a call to `live`, with the extension's current settings.
    pub fn context(&self, live: &Live) -> CallContext {
        let mut ctx = live.context.clone();
        if let Some(s) = self.settings.read().unwrap_or_else(|p| p.into_inner()).get(&key(&live.name)) {
            ctx.settings = s.clone();
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
