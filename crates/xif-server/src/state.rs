//! The shared state of every request: a cheap `Clone` of one `Arc` (axum's state shape).
use std::sync::Arc;

use crate::auth::{AuthCache, LoginThrottle, Passwords};
use crate::config::Config;
use crate::db::Db;
use crate::files::Files;
use crate::registry::Registry;

/// One extension's lock, this node's and the database's (see [`Inner::lock_extension`]).
pub struct ExtensionGuard {
    _database: crate::db::ExtensionLock,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

/// What every handler reaches.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// The parts of the state.
pub struct Inner {
    /// How the server was started.
    pub config: Config,
    /// The database.
    pub db: Db,
    /// Packages and the native code cache.
    pub files: Files,
    /// The sandbox.
    pub runtime: xif_runtime::Runtime,
    /// The active version of each extension, per-extension locks, settings.
    pub registry: Registry,
    /// Principals by token hash.
    pub auth_cache: AuthCache,
    /// Failed logins.
    pub throttle: LoginThrottle,
    /// Password hashing.
    pub passwords: Arc<Passwords>,
    /// The key that seals secret settings at rest.
    pub secrets: crate::secrets::Secrets,
    /// This node's name among the nodes on one database (random, new at each start).
    pub node: String,
    /// Set while this node's connection that listens for the other nodes is lost (the database
    /// is unreachable): tokens checked lately are then trusted without asking the database.
    pub database_lost: std::sync::atomic::AtomicBool,
    /// The memory budget of call inputs in flight.
    pub call_memory: crate::registry::InputBudget,
    /// The extension log store's front (none with `Config::observe` off).
    pub logs: Option<crate::logs::Logs>,
    /// The benchmark's switch (`XIF_BENCH_OBSERVE_SWITCH=1` at start, `cargo xtask
    /// bench-observe-switch`): a call with the header `xif-bench-observe: off` is then neither
    /// counted nor its log lines kept, so that one server process, under one load, measures both
    /// (on a shared machine the speed drifts more from one second to the next than the cost).
    pub bench_observe_switch: bool,
    /// Set when the server begins to stop: answers without end (followed logs) end then, so
    /// that the drain of requests in flight does not wait for them.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Set once the server has stopped serving (no call runs any more): the log writer writes
    /// what is queued and the minute flusher its last counts, then they end, before the database
    /// closes.
    pub closing: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    /// Takes the lock that serializes uploads, publishes, rollbacks, settings changes and
    /// deletions of one extension: this node's first (so a node waits in the database once per
    /// extension), then the database's, held across every node until the guard is dropped.
    pub async fn lock_extension(&self, name: &str) -> Result<ExtensionGuard, crate::error::AppError> {
        let _local = self.registry.lock_for(name).lock_owned().await;
        let _database = self.db.extension_lock(name).await?;
        Ok(ExtensionGuard { _database, _local })
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
