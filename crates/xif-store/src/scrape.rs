//! Scrape tokens: what reads `GET /metrics` and nothing else, made by administrators, kept in a
//! table of their own (`scrape_tokens`) that no check of an API token reads.
use sqlx::Row as _;

use crate::{Db, Error, TokenRow, now_ms};

impl Db {
    /// Stores a new scrape token's digest, made by the user `created_by`; answers its id.
    pub async fn insert_scrape_token(
        &self,
        created_by: i64,
        name: &str,
        token_hash: &str,
        expires_at: i64,
    ) -> Result<i64, Error> {
        let row = sqlx::query(
            "INSERT INTO scrape_tokens (name, token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
        )
        .bind(name)
        .bind(token_hash)
        .bind(created_by)
        .bind(now_ms())
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Whether a scrape token (by digest) reads `/metrics` at `now`: neither expired nor
    /// revoked, and its maker still an administrator.
    pub async fn scrape_token_valid(&self, token_hash: &str, now: i64) -> Result<bool, Error> {
        let row = sqlx::query(
            "SELECT s.id FROM scrape_tokens s JOIN users u ON u.id = s.created_by
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.is_admin",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Every scrape token (kind `scrape`, `user_name` its maker), newest first.
    pub async fn scrape_tokens(&self) -> Result<Vec<TokenRow>, Error> {
        Ok(sqlx::query_as::<_, TokenRow>(
            "SELECT s.id, u.name AS user_name, s.name, 'scrape' AS kind, s.created_at, s.expires_at, s.revoked_at
             FROM scrape_tokens s JOIN users u ON u.id = s.created_by ORDER BY s.id DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes a scrape token; false when there is none with this id (or it was revoked).
    pub async fn revoke_scrape_token(&self, id: i64) -> Result<bool, Error> {
        let done = sqlx::query("UPDATE scrape_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
