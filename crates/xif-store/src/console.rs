//! The Service Center's SQL: browser sessions, the log of failed action calls, and the
//! read-only queries its pages need (one query per list, so a page stays fast with thousands of
//! versions). Through `sqlx::Any`, like `db`.
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::db::flag;
use crate::{Db, Error, key, now_ms};

/// The longest name kept in the log of failed calls (the model's longest legal name).
pub const MAX_NAME: usize = xif_model::names::MAX_NAME;
/// The longest user name kept there.
const MAX_USER: usize = 200;
/// The longest message kept there, in characters; longer ones are cut and marked.
pub const MAX_MESSAGE: usize = 2000;

/// `text` cut to `max` characters, marked with `…` when cut.
fn cut(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => std::borrow::Cow::Borrowed(text),
        Some((at, _)) => std::borrow::Cow::Owned(format!("{}…", &text[..at])),
    }
}

/// A valid session and its user.
#[derive(Clone, Debug)]
pub struct SessionRow {
    /// Session id.
    pub id: i64,
    /// The CSRF token of this session.
    pub csrf: String,
    /// A one-time message for the next page.
    pub flash: Option<String>,
    /// Expiry (ms).
    pub expires_at: i64,
    /// User id.
    pub user_id: i64,
    /// User name.
    pub name: String,
    /// Administrator.
    pub is_admin: bool,
}

/// An extension as the list shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ListedExtension {
    /// Name.
    pub name: String,
    /// The active version.
    pub active_version: Option<i64>,
    /// When it was activated (ms).
    pub activated_at: Option<i64>,
    /// Who published (or rolled back to) the active version.
    pub published_by: Option<String>,
    /// How many versions are stored.
    pub versions: i64,
    /// The active (else latest) version's description.
    pub description: Option<String>,
}

/// One failed action call.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ActionErrorRow {
    /// Extension.
    pub extension: String,
    /// The version that answered.
    pub version: i64,
    /// Action.
    pub action: String,
    /// Caller.
    pub user_name: String,
    /// When (ms).
    pub at: i64,
    /// The error kind (`action_failed`, `trap`...).
    pub kind: String,
    /// The message the caller saw.
    pub message: String,
}

/// One entry of the server-wide publish log.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RecentPublish {
    /// Extension.
    pub extension: String,
    /// Version.
    pub version: i64,
    /// `publish` or `rollback`.
    pub kind: String,
    /// Who.
    pub user_name: String,
    /// When (ms).
    pub started_at: i64,
    /// How long.
    pub ms: i64,
    /// `published` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub message: Option<String>,
}

/// A user and how many live API tokens they have.
#[derive(Clone, Debug)]
pub struct UserLine {
    /// Name.
    pub name: String,
    /// Administrator.
    pub is_admin: bool,
    /// Created (ms).
    pub created_at: i64,
    /// User id.
    pub id: i64,
    /// API tokens neither revoked nor expired.
    pub api_tokens: i64,
}

impl sqlx::FromRow<'_, AnyRow> for SessionRow {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(SessionRow {
            id: r.try_get("id")?,
            csrf: r.try_get("csrf")?,
            flash: r.try_get("flash")?,
            expires_at: r.try_get("expires_at")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            is_admin: flag(r, "is_admin")?,
        })
    }
}

impl sqlx::FromRow<'_, AnyRow> for UserLine {
    fn from_row(r: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(UserLine {
            name: r.try_get("name")?,
            is_admin: flag(r, "is_admin")?,
            created_at: r.try_get("created_at")?,
            id: r.try_get("id")?,
            api_tokens: r.try_get("api_tokens")?,
        })
    }
}

impl Db {
    /// Stores a new session.
    pub async fn console_create_session(
        &self,
        user_id: i64,
        token_hash: &str,
        csrf: &str,
        expires_at: i64,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO console_sessions (user_id, token_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user_id)
        .bind(token_hash)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session of a cookie's hash, if it is valid.
    pub async fn console_session(&self, token_hash: &str) -> Result<Option<SessionRow>, Error> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT s.id, s.csrf, s.flash, s.expires_at, u.id AS user_id, u.name,
                    CASE WHEN u.is_admin THEN 1 ELSE 0 END AS is_admin
             FROM console_sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends a session (logout), and any expired ones.
    pub async fn console_end_session(&self, id: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM console_sessions WHERE id = $1 OR expires_at <= $2")
            .bind(id)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets (or clears) a session's one-time message.
    pub async fn console_set_flash(&self, id: i64, flash: Option<&str>) -> Result<(), Error> {
        sqlx::query("UPDATE console_sessions SET flash = $1 WHERE id = $2")
            .bind(flash)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every extension whose name contains `search` (case-insensitively), by name.
    pub async fn console_extensions(&self, search: &str) -> Result<Vec<ListedExtension>, Error> {
        let escaped = key(search).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        Ok(sqlx::query_as::<_, ListedExtension>(
            "SELECT e.name, e.active_version, e.activated_at,
                (SELECT p.user_name FROM publishes p
                  WHERE p.extension_key = e.name_key AND p.version = e.active_version AND p.outcome = 'published'
                  ORDER BY p.id DESC LIMIT 1) AS published_by,
                (SELECT COUNT(*) FROM versions v WHERE v.extension_id = e.id) AS versions,
                COALESCE(
                  (SELECT v.description FROM versions v WHERE v.extension_id = e.id AND v.number = e.active_version),
                  (SELECT v.description FROM versions v WHERE v.extension_id = e.id ORDER BY v.number DESC LIMIT 1)
                ) AS description
             FROM extensions e
             WHERE e.name_key LIKE $1 ESCAPE '\\'
             ORDER BY e.name_key",
        )
        .bind(format!("%{escaped}%"))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records a failed action call, cut to size (names at most [`MAX_NAME`] characters, a
    /// message at most [`MAX_MESSAGE`]), then forgets the extension's failed calls beyond the
    /// newest `keep` and every one older than `max_age_ms`.
    #[allow(clippy::too_many_arguments, reason = "one row's columns and its bounds")]
    pub async fn console_record_action_error(
        &self,
        extension: &str,
        version: i64,
        action: &str,
        user: &str,
        kind: &str,
        message: &str,
        keep: u32,
        max_age_ms: i64,
    ) -> Result<(), Error> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO action_errors (extension, version, action, user_name, at, kind, message)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(cut(extension, MAX_NAME).into_owned())
        .bind(version)
        .bind(cut(action, MAX_NAME).into_owned())
        .bind(cut(user, MAX_USER).into_owned())
        .bind(now)
        .bind(cut(kind, MAX_NAME).into_owned())
        .bind(cut(message, MAX_MESSAGE).into_owned())
        .execute(&self.pool)
        .await?;
        sqlx::query(
            "DELETE FROM action_errors WHERE extension = $1 AND id <= (SELECT id FROM action_errors
               WHERE extension = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
        )
        .bind(cut(extension, MAX_NAME).into_owned())
        .bind(i64::from(keep))
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM action_errors WHERE at < $1")
            .bind(now.saturating_sub(max_age_ms))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The latest failed action calls, newest first.
    pub async fn console_action_errors(&self, limit: i64) -> Result<Vec<ActionErrorRow>, Error> {
        Ok(sqlx::query_as::<_, ActionErrorRow>(
            "SELECT extension, version, action, user_name, at, kind, message FROM action_errors ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The latest failed calls of one extension (by its name), newest first.
    pub async fn console_action_errors_of(&self, extension: &str, limit: i64) -> Result<Vec<ActionErrorRow>, Error> {
        Ok(sqlx::query_as::<_, ActionErrorRow>(
            "SELECT extension, version, action, user_name, at, kind, message FROM action_errors
             WHERE extension = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(extension)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The latest publishes and rollbacks of every extension, newest first.
    pub async fn console_recent_publishes(&self, limit: i64) -> Result<Vec<RecentPublish>, Error> {
        Ok(sqlx::query_as::<_, RecentPublish>(
            "SELECT extension, version, kind, user_name, started_at, ms, outcome, message
             FROM publishes ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every user with their permissions and live API tokens, by name.
    pub async fn console_users(&self) -> Result<Vec<UserLine>, Error> {
        Ok(sqlx::query_as::<_, UserLine>(
            "SELECT u.id, u.name, CASE WHEN u.is_admin THEN 1 ELSE 0 END AS is_admin, u.created_at,
                (SELECT COUNT(*) FROM tokens t WHERE t.user_id = u.id AND t.kind = 'api'
                  AND t.revoked_at IS NULL AND t.expires_at > $1) AS api_tokens
             FROM users u ORDER BY u.name_key",
        )
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every granted permission: (user id, permission name).
    pub async fn console_all_permissions(&self) -> Result<Vec<(i64, String)>, Error> {
        let rows = sqlx::query("SELECT user_id, permission FROM permissions").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// How many publishes are logged for an extension (for the page's summary).
    pub async fn console_publish_count(&self, name: &str) -> Result<i64, Error> {
        Ok(sqlx::query("SELECT COUNT(*) FROM publishes WHERE extension_key = $1")
            .bind(key(name))
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}
