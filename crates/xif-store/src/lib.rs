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
mod cluster;
mod console;
mod db;
mod dialect;
mod entities;
mod logs;
mod minutes;
mod packages;
mod scrape;
pub mod testing;

pub use cluster::{CHANNEL, ExtensionLock, Listener, Received};
pub use console::{ActionErrorRow, ListedExtension, MAX_MESSAGE, MAX_NAME, RecentPublish, SessionRow, UserLine};
pub use db::{
    Activation, Db, ExtensionRow, NewPublish, NewVersion, PublishRow, Rollout, StoredSetting, TokenOwner, TokenRow,
    UserRow, VersionFacts, VersionRow,
};
pub use entities::{Comparison, Filter, Provisioned, Query, RECORD_ROUTE_TIME, SchemaChange, Store, table_name};
pub use logs::{CHUNK_LINES, LogQuery, LogRow, NewLogLine};
pub use minutes::{CallDurations, CallMinute, CallTotals};

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
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// The database cannot be reached now (refused or lost connections, no free connection
    /// within the pool's wait): what was asked may not have been applied; try again once it is back.
    #[error("the database is unreachable ({0}): the change may not have been applied; try again once it is back")]
    Unreachable(String),
    /// The database's schema was migrated by a newer build than this one.
    #[error(
        "the database's schema is at migration {found} ({description:?}), which this build of xif does not know (it knows up to {known}): run the newer xif that migrated it on every node, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew {
        /// The unknown migration's version.
        found: i64,
        /// Its description.
        description: String,
        /// The newest migration this build knows.
        known: i64,
    },
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

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Error {
        if is_unreachable(&e) { Error::Unreachable(e.to_string()) } else { Error::Database(e) }
    }
}

/// Whether an error means the database cannot be reached (rather than that it refused a
/// statement): a connection refused, reset or lost, no connection free within the wait, or the
/// server shutting down or out of connections (SQLSTATE classes 08 and 53, and 57P01..57P03).
fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // 08: connection exceptions; 53: insufficient resources (too many connections...);
            // 57P01..03: the server shutting down or not yet accepting connections.
            db.code().is_some_and(|c| {
                c.starts_with("08") || c.starts_with("53") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
            })
        }
        _ => false,
    }
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
