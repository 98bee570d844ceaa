//! The shared state of every request: a cheap `Clone` of one `Arc` (axum's state shape).
use std::sync::Arc;

use crate::auth::{AuthCache, LoginThrottle, Passwords};
use crate::config::Config;
use crate::db::Db;
use crate::files::Files;
use crate::registry::Registry;

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
    /// The memory budget of call inputs in flight.
    pub call_memory: crate::registry::InputBudget,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
