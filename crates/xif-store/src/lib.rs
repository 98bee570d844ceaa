//! The Platform Server's storage, on SQLite or PostgreSQL: users, tokens, extensions, versions,
//! settings, the publish log, console sessions, packages (on PostgreSQL) and entity tables.
//!
//! **Architecture Invariant:** this is the only crate that depends on sqlx and the only one that
//! writes SQL. Queries go through `sqlx::Any`, so most statements are written once; what differs
//! between the engines lives in per-engine migrations (`migrations/sqlite`, `migrations/postgres`)
//! and in the dialect module. No pool, connection or transaction type leaves this crate: a step of
//! several statements is one method.
#![deny(missing_docs)]

pub mod admin;
mod console;
mod db;
mod dialect;
mod entities;
mod packages;
pub mod testing;

pub use console::{ActionErrorRow, ListedExtension, MAX_MESSAGE, MAX_NAME, RecentPublish, SessionRow, UserLine};
pub use db::{
    Db, ExtensionRow, NewPublish, NewVersion, PublishRow, StoredSetting, TokenOwner, TokenRow, UserRow, VersionFacts,
    VersionRow,
};
pub use entities::{Comparison, Filter, Provisioned, Query, RECORD_ROUTE_TIME, SchemaChange, Store, table_name};

/// The database engine behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// SQLite, a file in the data directory (the default).
    Sqlite,
    /// PostgreSQL, a server shared by every node.
    Postgres,
}

impl Engine {
    /// The engine a database URL names: `sqlite:...`, or `postgres://` / `postgresql://`.
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }
}

/// What can go wrong in storage. It names what failed; it never carries an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed a statement, or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The migrations could not be applied.
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The request conflicts with what is stored (a version number taken, a name in use...).
    #[error("{0}")]
    Conflict(String),
    /// A publish's entity schema change would lose or corrupt data (each line names an
    /// attribute, at its place in the definition, and why).
    #[error("{0}")]
    SchemaRefused(String),
    /// The database URL names no engine this server speaks.
    #[error("{0}")]
    Unsupported(String),
    /// Something stored cannot be read back (a damaged schema, an unknown kind...).
    #[error("stored data is damaged: {0}")]
    Damaged(String),
}

/// The key of an extension or user name: names are unique regardless of case.
pub fn key(name: &str) -> String {
    name.to_lowercase()
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
