//! The server's state in SQL, through `sqlx::Any` (one pool, SQLite or PostgreSQL by the URL).
//!
//! Queries are plain strings with `$N` binds (no compile-time macros). What differs between the
//! engines is in [`crate::dialect`] and in the per-engine migrations. Write transactions begin
//! with `BEGIN IMMEDIATE` on SQLite ([`Db::begin`]), so SQLite takes its write lock at once
//! (waiting up to the busy timeout) instead of failing with `SQLITE_BUSY_SNAPSHOT` when a read
//! inside it meets a write committed by another connection. On PostgreSQL, every read-then-write
//! step locks what it reads in the database (`SELECT ... FOR UPDATE` on the extension's row, or a
//! transaction-scoped advisory lock), so several nodes on one database stay correct.
//!
//! Booleans are read as `CASE WHEN x THEN 1 ELSE 0 END` (the Any driver reads neither a SQLite
//! `BOOLEAN` column nor decodes an integer as `bool`), see [`flag`].
use std::collections::{HashMap, HashSet};
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Row as _;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use crate::dialect::Dialect;
use crate::{Engine, Error, key, now_ms};

/// The migrations of `crates/xif-store/migrations/sqlite` (unchanged from the server's own,
/// so an existing data directory's checksums still match), embedded.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
/// The migrations of `crates/xif-store/migrations/postgres`, embedded.
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a statement waits for a lock (SQLite's busy timeout).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The connections of a node to PostgreSQL (plus one that listens for other nodes' changes).
const POSTGRES_CONNECTIONS: u32 = 16;

/// How long a statement waits for a free connection (PostgreSQL).
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A write transaction (internal: no transaction type leaves this crate).
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A boolean column read as `CASE WHEN col THEN 1 ELSE 0 END AS name`.
pub(crate) fn flag(row: &AnyRow, name: &str) -> Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(name)? != 0)
}

/// The database.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: AnyPool,
    /// On SQLite, a second pool of native connections for entity records, whose statements
    /// are interrupted at a call's deadline (`entities::Timed`).
    pub(crate) sqlite: Option<SqlitePool>,
    pub(crate) dialect: Dialect,
    url: String,
    /// The connections [`Db::extension_lock`] may hold at once (half the pool), so that the
    /// holders always find one left for their work.
    pub(crate) lock_slots: std::sync::Arc<tokio::sync::Semaphore>,
}

/// A user.
#[derive(Clone, Debug)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Name as given.
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Administrator.
    pub is_admin: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

/// The user a valid token belongs to.
#[derive(Clone, Debug)]
pub struct TokenOwner {
    /// Token id.
    pub token_id: i64,
    /// `session` or `api`.
    pub kind: String,
    /// Expiry (ms).
    pub expires_at: i64,
    /// User id.
    pub user_id: i64,
    /// User name.
    pub name: String,
    /// Administrator.
    pub is_admin: bool,
}

impl sqlx::FromRow<'_, AnyRow> for UserRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(UserRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            password_hash: r.try_get("password_hash")?,
            is_admin: flag(r, "is_admin")?,
            created_at: r.try_get("created_at")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for TokenOwner {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(TokenOwner {
            token_id: r.try_get("token_id")?,
            kind: r.try_get("kind")?,
            expires_at: r.try_get("expires_at")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            is_admin: flag(r, "is_admin")?,
        })
    }
}

/// A token, without its secret.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// Owner's name.
    pub user_name: String,
    /// Its name.
    pub name: String,
    /// `session` or `api`.
    pub kind: String,
    /// Creation (ms).
    pub created_at: i64,
    /// Expiry (ms).
    pub expires_at: i64,
    /// Revocation (ms).
    pub revoked_at: Option<i64>,
}

/// An extension.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExtensionRow {
    /// Id.
    pub id: i64,
    /// Name as uploaded.
    pub name: String,
    /// The active version's number.
    pub active_version: Option<i64>,
    /// Creation (ms).
    pub created_at: i64,
    /// Last activation (ms).
    pub activated_at: Option<i64>,
    /// The version being rolled out, when a gradual rollout runs ([`ExtensionRow::rollout`]).
    pub rollout_version: Option<i64>,
    /// Its share of calls, 1 to 99.
    pub rollout_percent: Option<i64>,
    /// 1: chosen per caller rather than per call.
    pub rollout_per_caller: i64,
    /// 1: the error-rate guard may abort it.
    pub rollout_guard: i64,
    /// When it began (ms).
    pub rollout_started_at: Option<i64>,
    /// Who began it.
    pub rollout_started_by: Option<String>,
}

/// A gradual rollout in the database: `version` takes `percent` of the calls, the active version
/// the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollout {
    /// The version rolling out.
    pub version: i64,
    /// Its share of calls, 1 to 99.
    pub percent: u32,
    /// Chosen per caller (the same caller always gets the same version) rather than per call.
    pub per_caller: bool,
    /// The error-rate guard may abort it.
    pub guard: bool,
    /// When it began (ms).
    pub started_at: i64,
    /// Who began it.
    pub started_by: String,
}

impl ExtensionRow {
    /// The rollout that runs, if any.
    pub fn rollout(&self) -> Option<Rollout> {
        let version = self.rollout_version?;
        Some(Rollout {
            version,
            percent: u32::try_from(self.rollout_percent.unwrap_or(0).clamp(0, 100)).unwrap_or(0),
            per_caller: self.rollout_per_caller != 0,
            guard: self.rollout_guard != 0,
            started_at: self.rollout_started_at.unwrap_or(0),
            started_by: self.rollout_started_by.clone().unwrap_or_default(),
        })
    }
}

/// The columns of [`ExtensionRow`] (a macro, so that queries stay `&'static str`).
macro_rules! extension_columns {
    () => {
        "id, name, active_version, created_at, activated_at, rollout_version, rollout_percent, rollout_per_caller, \
         rollout_guard, rollout_started_at, rollout_started_by"
    };
}

/// What ending a rollout clears.
macro_rules! rollout_cleared {
    () => {
        "rollout_version = NULL, rollout_percent = NULL, rollout_per_caller = 0, rollout_guard = 0, \
         rollout_started_at = NULL, rollout_started_by = NULL"
    };
}

/// A version of an extension.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VersionRow {
    /// Number, 1, 2, 3...
    pub number: i64,
    /// Package digest.
    pub digest: String,
    /// Package size in bytes.
    pub size: i64,
    /// The extension's description in this version.
    pub description: String,
    /// The toolchain that built it.
    pub toolchain: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When (ms).
    pub uploaded_at: i64,
}

/// What an upload stores about a version.
#[derive(Clone, Debug)]
pub struct NewVersion<'a> {
    /// Extension name.
    pub extension: &'a str,
    /// Package digest.
    pub digest: &'a str,
    /// Package size.
    pub size: i64,
    /// Description.
    pub description: &'a str,
    /// Toolchain.
    pub toolchain: &'a str,
    /// Uploader.
    pub uploaded_by: &'a str,
    /// What publishing it needs, from its definition ([`VersionFacts::of`]).
    pub facts: &'a VersionFacts,
}

/// What the server keeps about a version's definition so that a permission check or a setting's
/// secrecy needs no package read: stored per version (`versions.facts`, migration 0004).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VersionFacts {
    /// The entities it exports, as named in its definition.
    pub entities: Vec<String>,
    /// The settings it declares `secret = true`.
    pub secret_settings: Vec<String>,
}

impl VersionFacts {
    /// The facts of a definition.
    pub fn of(def: &xif_model::Definition) -> VersionFacts {
        VersionFacts {
            entities: def.entities.iter().map(|e| e.name.text.clone()).collect(),
            secret_settings: def.settings.iter().filter(|s| s.secret).map(|s| s.name.text.clone()).collect(),
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    fn from_json(text: Option<String>) -> Option<VersionFacts> {
        text.and_then(|t| serde_json::from_str(&t).ok())
    }
}

/// A setting as stored: the value is sealed (`crate::secrets`) when `secret`.
#[derive(Clone, Debug)]
pub struct StoredSetting {
    /// The extension's key (its name in lower case).
    pub extension_key: String,
    /// The setting's name.
    pub name: String,
    /// The value, or the sealed value of a secret.
    pub value: String,
    /// Set as a secret.
    pub secret: bool,
}

/// A row of `SELECT extension_key, name, value, secret-as-0/1 FROM settings`.
fn setting_row(r: &AnyRow) -> Result<StoredSetting, sqlx::Error> {
    Ok(StoredSetting {
        extension_key: r.try_get(0)?,
        name: r.try_get(1)?,
        value: r.try_get(2)?,
        secret: r.try_get::<i64, _>(3)? != 0,
    })
}

/// One entry of the publish log.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PublishRow {
    /// Id.
    pub id: i64,
    /// Extension name.
    pub extension: String,
    /// Version number.
    pub version: i64,
    /// Package digest.
    pub digest: String,
    /// `publish` or `rollback`.
    pub kind: String,
    /// Who.
    pub user_name: String,
    /// When it started (ms).
    pub started_at: i64,
    /// How long it took.
    pub ms: i64,
    /// `published` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub message: Option<String>,
    /// JSON array of stages.
    pub stages: String,
    /// JSON array of warnings.
    pub warnings: String,
}

/// The owner of a token chosen by `$cond` (on `$1`), while it is neither expired nor revoked
/// (at `$2`).
macro_rules! token_owner_sql {
    ($cond:literal) => {
        concat!(
            "SELECT t.id AS token_id, t.kind, t.expires_at, u.id AS user_id, u.name,
                    CASE WHEN u.is_admin THEN 1 ELSE 0 END AS is_admin
             FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE ",
            $cond,
            " AND t.revoked_at IS NULL AND t.expires_at > $2"
        )
    };
}

impl Db {
    /// Opens (creating, for SQLite) the database named by `url` and applies the migrations:
    /// `sqlite:PATH` (WAL, synchronous NORMAL, foreign keys, secure delete, a 10 s busy
    /// timeout) or `postgres://...` / `postgresql://...`.
    pub async fn open(url: &str) -> Result<Db, Error> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of_url(url).ok_or_else(|| {
            Error::Unsupported(format!(
                "the database URL {url:?} is not supported: use `sqlite:PATH` or `postgres://USER@HOST/DATABASE`"
            ))
        })?;
        match engine {
            Engine::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    // Deleted and overwritten content is zeroed, so a secret that was once stored
                    // in plain text (before it was sealed) does not linger in free pages.
                    .pragma("secure_delete", "ON")
                    .busy_timeout(BUSY_TIMEOUT);
                // The native pool creates the file and sets WAL (which persists in the file).
                let sqlite = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            use sqlx::Executor as _;
                            conn.execute(
                                "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON; \
                                 PRAGMA busy_timeout = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?;
                crate::cluster::check_schema(&pool, engine, &SQLITE_MIGRATOR).await?;
                SQLITE_MIGRATOR.run(&pool).await?;
                let db = Db {
                    pool,
                    sqlite: Some(sqlite),
                    dialect: Dialect(engine),
                    url: url.to_string(),
                    lock_slots: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
                };
                crate::entities::reencode_decimals(&db).await?;
                Ok(db)
            }
            Engine::Postgres => {
                // A bounded wait for a connection: with the database gone, a write answers
                // "unreachable" within seconds instead of hanging.
                let pool = AnyPoolOptions::new()
                    .max_connections(POSTGRES_CONNECTIONS)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect(url)
                    .await?;
                crate::cluster::check_schema(&pool, engine, &POSTGRES_MIGRATOR).await?;
                // The migrator holds an advisory lock while it runs: nodes that start together
                // apply the migrations one at a time.
                POSTGRES_MIGRATOR.run(&pool).await?;
                let lock_slots = std::sync::Arc::new(tokio::sync::Semaphore::new(POSTGRES_CONNECTIONS as usize / 2));
                Ok(Db { pool, sqlite: None, dialect: Dialect(engine), url: url.to_string(), lock_slots })
            }
        }
    }

    /// The engine behind this database.
    pub fn engine(&self) -> Engine {
        self.dialect.0
    }

    /// The URL it was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(p) = &self.sqlite {
            p.close().await;
        }
    }

    // ---- users ----

    /// How many users there are.
    pub async fn user_count(&self) -> Result<i64, Error> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Creates a user; a 409 when the name is taken.
    pub async fn create_user(&self, name: &str, password_hash: &str, is_admin: bool) -> Result<i64, Error> {
        let row = sqlx::query(
            "INSERT INTO users (name, name_key, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name_key) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(key(name))
        .bind(password_hash)
        .bind(is_admin)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(row.try_get(0)?),
            None => Err(Error::Conflict(format!("a user named {name} already exists"))),
        }
    }

    /// A user by name (case-insensitively).
    pub async fn user(&self, name: &str) -> Result<Option<UserRow>, Error> {
        Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, name, password_hash, CASE WHEN is_admin THEN 1 ELSE 0 END AS is_admin, created_at FROM users WHERE name_key = $1",
        )
        .bind(key(name))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<UserRow>, Error> {
        Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, name, password_hash, CASE WHEN is_admin THEN 1 ELSE 0 END AS is_admin, created_at FROM users ORDER BY name_key",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes a user (and, by cascade, their tokens and permissions).
    pub async fn delete_user(&self, id: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Changes a user's password hash and administrator flag.
    pub async fn update_user(&self, id: i64, password_hash: Option<&str>, is_admin: Option<bool>) -> Result<(), Error> {
        if let Some(hash) = password_hash {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        if let Some(admin) = is_admin {
            sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
                .bind(admin)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// A user's permissions, by name.
    pub async fn permissions(&self, user_id: i64) -> Result<Vec<String>, Error> {
        let rows = sqlx::query("SELECT permission FROM permissions WHERE user_id = $1 ORDER BY permission")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?)
    }

    /// Replaces a user's permissions.
    pub async fn set_permissions(&self, user_id: i64, permissions: &[&str]) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM permissions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        let now = now_ms();
        for p in permissions {
            sqlx::query("INSERT INTO permissions (user_id, permission, granted_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(*p)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- tokens ----

    /// Stores a token's hash; returns its id.
    pub async fn insert_token(
        &self,
        user_id: i64,
        name: &str,
        kind: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<i64, Error> {
        let row = sqlx::query(
            "INSERT INTO tokens (user_id, name, kind, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(kind)
        .bind(token_hash)
        .bind(now_ms())
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The owner of a token that is neither expired nor revoked.
    pub async fn token_owner(&self, token_hash: &str, now: i64) -> Result<Option<TokenOwner>, Error> {
        Ok(sqlx::query_as::<_, TokenOwner>(token_owner_sql!("t.token_hash = $1"))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// [`Db::token_owner`] by the token's id: its owner while it is neither expired nor revoked
    /// (for a long answer, such as a followed log, that checks its caller again as it goes).
    pub async fn token_owner_by_id(&self, token_id: i64, now: i64) -> Result<Option<TokenOwner>, Error> {
        Ok(sqlx::query_as::<_, TokenOwner>(token_owner_sql!("t.id = $1"))
            .bind(token_id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Tokens of a user (`None`: of everyone), newest first; `kind` filters.
    pub async fn tokens(&self, user_id: Option<i64>, kind: &str) -> Result<Vec<TokenRow>, Error> {
        Ok(sqlx::query_as::<_, TokenRow>(
            "SELECT t.id, u.name AS user_name, t.name, t.kind, t.created_at, t.expires_at, t.revoked_at
             FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE ($1 IS NULL OR t.user_id = $1) AND t.kind = $2 ORDER BY t.id DESC",
        )
        .bind(user_id)
        .bind(kind)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A token by id: its owner's id, and whether it is already revoked.
    pub async fn token(&self, id: i64) -> Result<Option<(i64, bool)>, Error> {
        let row = sqlx::query("SELECT user_id, revoked_at FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some((r.try_get(0)?, r.try_get::<Option<i64>, _>(1)?.is_some()))),
            None => Ok(None),
        }
    }

    /// Revokes a token.
    pub async fn revoke_token(&self, id: i64) -> Result<(), Error> {
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends every credential of a user, in one transaction: revokes their tokens (API and
    /// login sessions) and deletes their Service Center sessions. Answers how many of each.
    pub async fn revoke_all(&self, user_id: i64) -> Result<(u64, u64), Error> {
        let mut tx = self.begin().await?;
        let tokens = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let sessions = sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((tokens, sessions))
    }

    // ---- extensions and versions ----

    /// An extension by name (case-insensitively).
    pub async fn extension(&self, name: &str) -> Result<Option<ExtensionRow>, Error> {
        Ok(sqlx::query_as::<_, ExtensionRow>(concat!(
            "SELECT ",
            extension_columns!(),
            " FROM extensions WHERE name_key = $1"
        ))
        .bind(key(name))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every extension, by name.
    pub async fn extensions(&self) -> Result<Vec<ExtensionRow>, Error> {
        Ok(sqlx::query_as::<_, ExtensionRow>(concat!(
            "SELECT ",
            extension_columns!(),
            " FROM extensions ORDER BY name_key"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The versions of an extension, oldest first.
    pub async fn versions(&self, extension_id: i64) -> Result<Vec<VersionRow>, Error> {
        Ok(sqlx::query_as::<_, VersionRow>(
            "SELECT number, digest, size, description, toolchain, uploaded_by, uploaded_at
             FROM versions WHERE extension_id = $1 ORDER BY number",
        )
        .bind(extension_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// One version.
    pub async fn version(&self, extension_id: i64, number: i64) -> Result<Option<VersionRow>, Error> {
        Ok(sqlx::query_as::<_, VersionRow>(
            "SELECT number, digest, size, description, toolchain, uploaded_by, uploaded_at
             FROM versions WHERE extension_id = $1 AND number = $2",
        )
        .bind(extension_id)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records an uploaded package: creates the extension when new, and gives the package the
    /// next number, or answers the existing number when the extension has this digest already.
    /// Returns the number and whether it is new.
    pub async fn add_version(&self, v: &NewVersion<'_>) -> Result<(i64, bool), Error> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        // Two uploads of one extension (on any node) give their numbers one after the other.
        self.lock_key(&mut tx, "extension", v.extension).await?;
        sqlx::query(
            "INSERT INTO extensions (name, name_key, last_version, created_at) VALUES ($1, $2, 0, $3)
             ON CONFLICT (name_key) DO NOTHING",
        )
        .bind(v.extension)
        .bind(key(v.extension))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let ext_id: i64 = sqlx::query("SELECT id FROM extensions WHERE name_key = $1")
            .bind(key(v.extension))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if let Some(row) = sqlx::query("SELECT number FROM versions WHERE extension_id = $1 AND digest = $2")
            .bind(ext_id)
            .bind(v.digest)
            .fetch_optional(&mut *tx)
            .await?
        {
            let number: i64 = row.try_get(0)?;
            tx.commit().await?;
            return Ok((number, false));
        }
        let number: i64 =
            sqlx::query("UPDATE extensions SET last_version = last_version + 1 WHERE id = $1 RETURNING last_version")
                .bind(ext_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
        sqlx::query(
            "INSERT INTO versions (extension_id, number, digest, size, description, toolchain, uploaded_by, uploaded_at, facts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(ext_id)
        .bind(number)
        .bind(v.digest)
        .bind(v.size)
        .bind(v.description)
        .bind(v.toolchain)
        .bind(v.uploaded_by)
        .bind(now)
        .bind(v.facts.to_json())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((number, true))
    }

    /// Makes `number` the active version and logs the publish, in one transaction.
    pub async fn activate(&self, extension_id: i64, number: i64, log: &NewPublish<'_>) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        self.lock_extension(&mut tx, extension_id).await?;
        activate_in(&mut tx, extension_id, number, log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the share of a running rollout of `version` and logs it, in one transaction.
    /// Returns false (and changes nothing) when no rollout of `version` runs.
    pub async fn set_rollout_percent(
        &self,
        extension_id: i64,
        version: i64,
        percent: u32,
        log: &NewPublish<'_>,
    ) -> Result<bool, Error> {
        let change = sqlx::query("UPDATE extensions SET rollout_percent = $1 WHERE id = $2 AND rollout_version = $3")
            .bind(i64::from(percent))
            .bind(extension_id)
            .bind(version);
        self.change_rollout(extension_id, change, log).await
    }

    /// Ends a running rollout of `version`: `activate` makes it the active version (100%), else
    /// all calls return to the active one (an abort). Logs it, in one transaction. Returns false
    /// (and changes nothing) when no rollout of `version` runs (another node or the guard ended
    /// it first).
    pub async fn end_rollout(
        &self,
        extension_id: i64,
        version: i64,
        activate: bool,
        log: &NewPublish<'_>,
    ) -> Result<bool, Error> {
        let change = if activate {
            sqlx::query(concat!(
                "UPDATE extensions SET active_version = rollout_version, activated_at = $1, ",
                rollout_cleared!(),
                " WHERE id = $2 AND rollout_version = $3"
            ))
            .bind(now_ms())
            .bind(extension_id)
            .bind(version)
        } else {
            sqlx::query(concat!(
                "UPDATE extensions SET ",
                rollout_cleared!(),
                " WHERE id = $1 AND rollout_version = $2"
            ))
            .bind(extension_id)
            .bind(version)
        };
        self.change_rollout(extension_id, change, log).await
    }

    /// Runs `change` under the extension's lock and, when it changed the rollout's row, writes
    /// `log`, in one transaction; false when it changed nothing.
    async fn change_rollout(
        &self,
        extension_id: i64,
        change: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        log: &NewPublish<'_>,
    ) -> Result<bool, Error> {
        let mut tx = self.begin().await?;
        self.lock_extension(&mut tx, extension_id).await?;
        if change.execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(false);
        }
        insert_publish(&mut tx, log).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A write transaction (for a publish's schema changes and activation together, and every
    /// other write of more than one statement). On SQLite `BEGIN IMMEDIATE`, so it holds the
    /// write lock from its first statement on and a read inside it can never be overtaken by
    /// another connection's commit (`SQLITE_BUSY_SNAPSHOT`); other writers wait up to the busy
    /// timeout. On PostgreSQL a plain `BEGIN`: what a step reads and then writes, it locks
    /// ([`Db::lock_extension`], [`Db::lock_key`]).
    pub(crate) async fn begin(&self) -> Result<Tx, Error> {
        Ok(match self.dialect.0 {
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        })
    }

    /// Locks an extension's row until the end of `tx` (PostgreSQL; SQLite's write lock is
    /// already held): publishes, deletions and uploads of one extension are serialized by the
    /// database, across every node.
    pub(crate) async fn lock_extension(&self, tx: &mut Tx, extension_id: i64) -> Result<(), Error> {
        if self.dialect.0 == Engine::Postgres {
            sqlx::query("SELECT id FROM extensions WHERE id = $1 FOR UPDATE")
                .bind(extension_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Takes a transaction-scoped advisory lock on a name (PostgreSQL; nothing on SQLite, whose
    /// `BEGIN IMMEDIATE` already serializes writers), for steps with no row to lock yet.
    pub(crate) async fn lock_key(&self, tx: &mut Tx, what: &str, name: &str) -> Result<(), Error> {
        if self.dialect.0 == Engine::Postgres {
            sqlx::query("SELECT CAST(pg_advisory_xact_lock(hashtextextended($1, 0)) AS TEXT)")
                .bind(format!("{what}:{}", key(name)))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Deletes one version (never the active one: the caller checks under the extension's lock).
    pub async fn delete_version(&self, extension_id: i64, number: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM versions WHERE extension_id = $1 AND number = $2")
            .bind(extension_id)
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether any version of any extension is this package.
    pub async fn digest_in_use(&self, digest: &str) -> Result<bool, Error> {
        Ok(sqlx::query("SELECT 1 FROM versions WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// The stored facts of one version (`None` when not known yet: uploaded before migration 0004
    /// and not filled in since).
    pub async fn version_facts(&self, extension_id: i64, number: i64) -> Result<Option<VersionFacts>, Error> {
        let row = sqlx::query("SELECT facts FROM versions WHERE extension_id = $1 AND number = $2")
            .bind(extension_id)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => VersionFacts::from_json(r.try_get(0)?),
            None => None,
        })
    }

    /// The stored facts of every version of an extension, oldest first (`None` where unknown).
    pub async fn all_version_facts(&self, extension_id: i64) -> Result<Vec<(i64, Option<VersionFacts>)>, Error> {
        let rows = sqlx::query("SELECT number, facts FROM versions WHERE extension_id = $1 ORDER BY number")
            .bind(extension_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| Ok((r.try_get(0)?, VersionFacts::from_json(r.try_get(1)?)))).collect()
    }

    /// Versions whose facts are unknown: (extension id, extension name, number, digest).
    pub async fn versions_without_facts(&self) -> Result<Vec<(i64, String, i64, String)>, Error> {
        let rows = sqlx::query(
            "SELECT v.extension_id, e.name, v.number, v.digest FROM versions v JOIN extensions e ON e.id = v.extension_id
             WHERE v.facts IS NULL ORDER BY v.extension_id, v.number",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).collect()
    }

    /// Records the facts of a version.
    pub async fn set_version_facts(&self, extension_id: i64, number: i64, facts: &VersionFacts) -> Result<(), Error> {
        sqlx::query("UPDATE versions SET facts = $1 WHERE extension_id = $2 AND number = $3")
            .bind(facts.to_json())
            .bind(extension_id)
            .bind(number)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every setting name any stored version of any extension declares secret: extension key →
    /// names.
    pub async fn secret_setting_names(&self) -> Result<HashMap<String, HashSet<String>>, Error> {
        let rows = sqlx::query("SELECT e.name_key, v.facts FROM versions v JOIN extensions e ON e.id = v.extension_id")
            .fetch_all(&self.pool)
            .await?;
        let mut out: HashMap<String, HashSet<String>> = HashMap::new();
        for r in rows {
            let ext: String = r.try_get(0)?;
            if let Some(facts) = VersionFacts::from_json(r.try_get(1)?) {
                out.entry(ext).or_default().extend(facts.secret_settings);
            }
        }
        Ok(out)
    }

    /// Deletes an extension, its versions, its settings and its entity tables with their
    /// records, in one transaction (the publish log stays), so that an extension created later
    /// under the same name starts with no records.
    pub async fn delete_extension(&self, extension_id: i64, name: &str) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        self.lock_key(&mut tx, "extension", name).await?;
        self.lock_extension(&mut tx, extension_id).await?;
        sqlx::query("DELETE FROM settings WHERE extension_key = $1").bind(key(name)).execute(&mut *tx).await?;
        crate::entities::drop_tables(self, &mut tx, name).await?;
        sqlx::query("DELETE FROM versions WHERE extension_id = $1").bind(extension_id).execute(&mut *tx).await?;
        // After the log writers' lock: a batch that found the extension commits before this
        // deletes its lines, and a later one no longer finds it.
        self.lock_key(&mut tx, "logs", "").await?;
        sqlx::query("DELETE FROM extension_log_chunks WHERE extension_id = $1")
            .bind(extension_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM call_minutes WHERE extension_id = $1").bind(extension_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM extensions WHERE id = $1").bind(extension_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- publish log ----

    /// Logs a publish that did not activate anything.
    pub async fn log_publish(&self, log: &NewPublish<'_>) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        insert_publish(&mut tx, log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The publish log of an extension, newest first.
    pub async fn publishes(&self, name: &str, limit: i64) -> Result<Vec<PublishRow>, Error> {
        Ok(sqlx::query_as::<_, PublishRow>(
            "SELECT id, extension, version, digest, kind, user_name, started_at, ms, outcome, message, stages, warnings
             FROM publishes WHERE extension_key = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(key(name))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    // ---- settings ----

    /// Every setting of every extension, as stored (secrets sealed).
    pub async fn all_settings(&self) -> Result<Vec<StoredSetting>, Error> {
        let rows = sqlx::query("SELECT extension_key, name, value, CASE WHEN secret THEN 1 ELSE 0 END AS secret FROM settings ORDER BY extension_key, name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(setting_row(r)?)).collect()
    }

    /// The stored settings of one extension (by name, any case).
    pub async fn settings_of(&self, extension: &str) -> Result<Vec<StoredSetting>, Error> {
        let rows = sqlx::query("SELECT extension_key, name, value, CASE WHEN secret THEN 1 ELSE 0 END AS secret FROM settings WHERE extension_key = $1 ORDER BY name")
            .bind(key(extension))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(setting_row(r)?)).collect()
    }

    /// The names of an extension's settings stored as secrets.
    pub async fn secret_settings_of(&self, extension: &str) -> Result<HashSet<String>, Error> {
        let rows = sqlx::query("SELECT name FROM settings WHERE extension_key = $1 AND secret = TRUE")
            .bind(key(extension))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Replaces a plain-text value by its sealed form and marks it secret (the start-up step that
    /// seals values set before secrets were sealed), unless it changed meanwhile.
    pub async fn seal_setting(&self, extension_key: &str, name: &str, plain: &str, sealed: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE settings SET value = $1, secret = TRUE WHERE extension_key = $2 AND name = $3 AND value = $4 AND secret = FALSE",
        )
        .bind(sealed)
        .bind(extension_key)
        .bind(name)
        .bind(plain)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sets (or, with `None`, unsets) settings of an extension, in one transaction: each value
    /// with whether it is a (sealed) secret. A row once secret stays secret.
    pub async fn set_settings(
        &self,
        extension: &str,
        values: &[(String, Option<(String, bool)>)],
        by: &str,
    ) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        for (name, value) in values {
            match value {
                Some((v, secret)) => {
                    sqlx::query(
                        "INSERT INTO settings (extension_key, name, value, updated_by, updated_at, secret)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (extension_key, name)
                         DO UPDATE SET value = $3, updated_by = $4, updated_at = $5, secret = (settings.secret OR $6)",
                    )
                    .bind(key(extension))
                    .bind(name)
                    .bind(v)
                    .bind(by)
                    .bind(now)
                    .bind(*secret)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM settings WHERE extension_key = $1 AND name = $2")
                        .bind(key(extension))
                        .bind(name)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A publish log entry to write.
#[derive(Clone, Debug)]
pub struct NewPublish<'a> {
    /// Extension name.
    pub extension: &'a str,
    /// Version.
    pub version: i64,
    /// Digest.
    pub digest: &'a str,
    /// `publish` or `rollback`.
    pub kind: &'a str,
    /// Who.
    pub user_name: &'a str,
    /// Start (ms).
    pub started_at: i64,
    /// Duration.
    pub ms: i64,
    /// `published` or `failed`.
    pub outcome: &'a str,
    /// Why it failed.
    pub message: Option<&'a str>,
    /// JSON array.
    pub stages: String,
    /// JSON array.
    pub warnings: String,
}

/// What a publish makes of its version: the active one, or the one rolling out beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation<'a> {
    /// It serves every new call.
    Activate,
    /// It takes `percent` of the calls (chosen per call, or `per_caller`); `guard` lets the
    /// error-rate guard abort it; `by` began it.
    Rollout {
        /// Its share, 1 to 99.
        percent: u32,
        /// Chosen per caller.
        per_caller: bool,
        /// The error-rate guard may abort it.
        guard: bool,
        /// Who began it.
        by: &'a str,
        /// When it began (ms since the epoch): with the version, what tells this rollout from
        /// another of the same version.
        started_at: i64,
    },
}

/// Makes `number` the active version (or starts its rollout) and logs the publish, inside `tx`.
pub(crate) async fn activate_as(
    tx: &mut Tx,
    extension_id: i64,
    number: i64,
    how: Activation<'_>,
    log: &NewPublish<'_>,
) -> Result<(), Error> {
    let Activation::Rollout { percent, per_caller, guard, by, started_at } = how else {
        return activate_in(tx, extension_id, number, log).await;
    };
    sqlx::query(
        "UPDATE extensions SET rollout_version = $1, rollout_percent = $2, rollout_per_caller = $3, rollout_guard = $4,
                rollout_started_at = $5, rollout_started_by = $6
         WHERE id = $7",
    )
    .bind(number)
    .bind(i64::from(percent))
    .bind(i64::from(per_caller))
    .bind(i64::from(guard))
    .bind(started_at)
    .bind(by)
    .bind(extension_id)
    .execute(&mut **tx)
    .await?;
    insert_publish(tx, log).await
}

/// Makes `number` the active version and logs the publish, inside `tx`.
pub(crate) async fn activate_in(
    tx: &mut Tx,
    extension_id: i64,
    number: i64,
    log: &NewPublish<'_>,
) -> Result<(), Error> {
    sqlx::query("UPDATE extensions SET active_version = $1, activated_at = $2 WHERE id = $3")
        .bind(number)
        .bind(now_ms())
        .bind(extension_id)
        .execute(&mut **tx)
        .await?;
    insert_publish(tx, log).await
}

async fn insert_publish(tx: &mut Tx, log: &NewPublish<'_>) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO publishes (extension, extension_key, version, digest, kind, user_name, started_at, ms, outcome,
                                message, stages, warnings)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(log.extension)
    .bind(key(log.extension))
    .bind(log.version)
    .bind(log.digest)
    .bind(log.kind)
    .bind(log.user_name)
    .bind(log.started_at)
    .bind(log.ms)
    .bind(log.outcome)
    .bind(log.message)
    .bind(&log.stages)
    .bind(&log.warnings)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
