//! What several nodes on one PostgreSQL share beyond the tables: a lock per extension that is
//! held across nodes for the whole of a publish, upload or deletion ([`Db::extension_lock`]);
//! change notifications (`LISTEN`/`NOTIFY` on [`CHANNEL`]: [`Db::notify`], [`Db::listen`]); the
//! database's reachability ([`Db::ping`]); and the schema check that keeps a node off a database
//! migrated by a newer build ([`check_schema`]).
//!
//! On SQLite (one node, one file) the lock is the caller's own in-process lock, nothing is
//! notified and there is nothing to listen to.
use sqlx::Row as _;
use sqlx::pool::PoolConnection;

use crate::{Db, Engine, Error, key};

/// The notification channel every node listens on.
pub const CHANNEL: &str = "xif_changes";

/// The longest payload sent (PostgreSQL's own limit is 8000 bytes).
const MAX_PAYLOAD: usize = 7000;

/// A lock on one extension held across every node until dropped (PostgreSQL: a session-level
/// advisory lock on a connection of its own; released with the connection if the node dies).
/// On SQLite it holds nothing.
#[must_use = "the lock is released when dropped"]
pub struct ExtensionLock {
    conn: Option<PoolConnection<sqlx::Any>>,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::fmt::Debug for ExtensionLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionLock").field("held_in_database", &self.conn.is_some()).finish()
    }
}

impl Drop for ExtensionLock {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let slot = self._slot.take();
        match tokio::runtime::Handle::try_current() {
            // Unlock, then give the connection back (and the slot); a connection that cannot
            // unlock is closed, which releases the lock too.
            Ok(handle) => {
                handle.spawn(async move {
                    match sqlx::query("SELECT pg_advisory_unlock_all()").execute(&mut *conn).await {
                        Ok(_) => drop(conn),
                        Err(_) => {
                            let _ = conn.close().await;
                        }
                    }
                    drop(slot);
                });
            }
            // No runtime (a teardown): the connection leaves the pool and closes, and the
            // lock with it.
            Err(_) => drop(conn.detach()),
        }
    }
}

/// A notification received by [`Listener::recv`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// A payload sent with [`Db::notify`].
    Message(String),
    /// The connection was lost: make a new listener ([`Db::listen`]) and read the state again,
    /// as notifications sent meanwhile are lost.
    Lost,
}

/// Listens on [`CHANNEL`] (PostgreSQL).
pub struct Listener {
    inner: sqlx::postgres::PgListener,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Listener {
    /// The next notification, or [`Received::Lost`] as soon as the connection is lost (it is
    /// not made again here: an error means the same).
    pub async fn recv(&mut self) -> Result<Received, Error> {
        match self.inner.try_recv().await {
            Ok(Some(n)) => Ok(Received::Message(n.payload().to_string())),
            Ok(None) => Ok(Received::Lost),
            Err(e) => Err(e.into()),
        }
    }
}

impl Db {
    /// Takes the lock that serializes uploads, publishes, rollbacks, settings changes and
    /// deletions of one extension across every node on this database, waiting for it. Take the
    /// node's own lock first, so that a node waits in the database once per extension.
    pub async fn extension_lock(&self, name: &str) -> Result<ExtensionLock, Error> {
        if self.engine() != Engine::Postgres {
            return Ok(ExtensionLock { conn: None, _slot: None });
        }
        // At most half the pool waits for or holds these locks; the rest stays for the work.
        let slot = self.lock_slots.clone().acquire_owned().await.map_err(|_| Error::Unreachable("closed".into()))?;
        let pool = self.pool.clone();
        let lock_name = format!("xif.extension-lock:{}", key(name));
        // In a task of its own: a caller that gives up while waiting (a client gone) drops the
        // handle, and the task still ends with an `ExtensionLock` whose drop unlocks; the
        // connection never goes back to the pool holding the lock.
        tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            sqlx::query("SELECT CAST(pg_advisory_lock(hashtextextended($1, 0)) AS TEXT)")
                .bind(lock_name)
                .execute(&mut *conn)
                .await?;
            Ok(ExtensionLock { conn: Some(conn), _slot: Some(slot) })
        })
        .await
        .map_err(|e| Error::Unreachable(format!("the task taking the lock failed: {e}")))?
    }

    /// Tells every node listening (including this one) `payload`, after any transaction of this
    /// database has committed (PostgreSQL; nothing on SQLite). Payloads over 7000 bytes are
    /// refused.
    pub async fn notify(&self, payload: &str) -> Result<(), Error> {
        if self.engine() != Engine::Postgres {
            return Ok(());
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::Conflict(format!("a notification of {} bytes is over {MAX_PAYLOAD}", payload.len())));
        }
        sqlx::query("SELECT CAST(pg_notify($1, $2) AS TEXT)").bind(CHANNEL).bind(payload).execute(&self.pool).await?;
        Ok(())
    }

    /// Starts listening on [`CHANNEL`] on a connection of its own (PostgreSQL); `None` on
    /// SQLite.
    pub async fn listen(&self) -> Result<Option<Listener>, Error> {
        if self.engine() != Engine::Postgres {
            return Ok(None);
        }
        // A pool of its one connection that gives up within 2 s (sqlx's own listener pool waits
        // 30 s), so that a lost database is noticed and retried at once.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy(self.url())?;
        let mut inner = sqlx::postgres::PgListener::connect_with(&pool).await?;
        inner.eager_reconnect(false);
        inner.ignore_pool_close_event(true);
        inner.listen(CHANNEL).await?;
        Ok(Some(Listener { inner }))
    }

    /// Whether the database answers now (`SELECT 1`).
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl Db {
    /// The failed-login counts of `keys` not idle for `forget_ms` (PostgreSQL: shared by the
    /// nodes; empty on SQLite, whose one node counts in memory): key → (failures, last ms).
    pub async fn login_failures(
        &self,
        keys: &[&str],
        now_ms: i64,
        forget_ms: i64,
    ) -> Result<std::collections::HashMap<String, (u32, i64)>, Error> {
        let mut out = std::collections::HashMap::new();
        if self.engine() != Engine::Postgres {
            return Ok(out);
        }
        if keys.is_empty() {
            return Ok(out);
        }
        // One round trip for all the keys: `key IN ($2, $3, ...)`.
        let placeholders: Vec<String> = (0..keys.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT key, failures, last_at FROM login_failures WHERE last_at >= $1 AND key IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now_ms.saturating_sub(forget_ms));
        for key in keys {
            query = query.bind(*key);
        }
        for row in query.fetch_all(&self.pool).await? {
            let failures: i64 = row.try_get(1)?;
            out.insert(row.try_get(0)?, (u32::try_from(failures).unwrap_or(u32::MAX), row.try_get(2)?));
        }
        Ok(out)
    }

    /// Adds `delta` (+1 when an attempt starts, −1 when it is not held against anyone) to the
    /// counts of `keys`, a count idle for `forget_ms` starting again from zero; `reset` keys are
    /// deleted (a right password clears its pair). Old counts are deleted on the way. Nothing
    /// on SQLite.
    pub async fn count_login(
        &self,
        keys: &[&str],
        delta: i64,
        reset: &[&str],
        now_ms: i64,
        forget_ms: i64,
    ) -> Result<(), Error> {
        if self.engine() != Engine::Postgres {
            return Ok(());
        }
        let stale = now_ms.saturating_sub(forget_ms);
        let mut tx = self.pool.begin().await?;
        for key in keys {
            sqlx::query(
                "INSERT INTO login_failures (key, failures, last_at) VALUES ($1, GREATEST($2, 0), $3)
                 ON CONFLICT (key) DO UPDATE SET
                   failures = GREATEST(CASE WHEN login_failures.last_at < $4 THEN 0 ELSE login_failures.failures END + $2, 0),
                   last_at = $3",
            )
            .bind(*key)
            .bind(delta)
            .bind(now_ms)
            .bind(stale)
            .execute(&mut *tx)
            .await?;
        }
        for key in reset {
            sqlx::query("DELETE FROM login_failures WHERE key = $1").bind(*key).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM login_failures WHERE last_at < $1").bind(stale).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Refuses a database whose schema a newer build has migrated past what `known` (this build's
/// migrations) holds: run before the migrations, so that an old node neither starts on nor
/// changes a schema it does not know.
pub(crate) async fn check_schema(
    pool: &sqlx::AnyPool,
    engine: Engine,
    known: &sqlx::migrate::Migrator,
) -> Result<(), Error> {
    let exists = match engine {
        Engine::Postgres => {
            "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()"
        }
        Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    };
    let n: i64 = sqlx::query(exists).fetch_one(pool).await?.try_get(0)?;
    if n == 0 {
        return Ok(());
    }
    let rows =
        sqlx::query("SELECT version, description FROM _sqlx_migrations ORDER BY version").fetch_all(pool).await?;
    let newest_known = known.iter().map(|m| m.version).max().unwrap_or(0);
    for row in rows {
        let version: i64 = row.try_get(0)?;
        let description: String = row.try_get(1)?;
        if !known.iter().any(|m| m.version == version) {
            return Err(Error::SchemaTooNew { found: version, description, known: newest_known });
        }
    }
    Ok(())
}
