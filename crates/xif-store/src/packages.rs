//! Packages in the database (PostgreSQL, where the server's disk holds only its cache of
//! compiled code): one row per digest, however many versions share it. On SQLite the server
//! keeps packages as files in its data directory instead, and these are not called.
use sqlx::Row as _;

use crate::{Db, Error, now_ms};

impl Db {
    /// Whether packages are kept in the database (PostgreSQL) rather than as files.
    pub fn stores_packages(&self) -> bool {
        self.engine() == crate::Engine::Postgres
    }

    /// Stores a package's bytes under its digest (nothing when it is there already).
    pub async fn put_package(&self, digest: &str, bytes: &[u8]) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO packages (digest, size, bytes, stored_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(digest)
        .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        .bind(bytes)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A stored package's bytes.
    pub async fn package(&self, digest: &str) -> Result<Option<Vec<u8>>, Error> {
        let row =
            sqlx::query("SELECT bytes FROM packages WHERE digest = $1").bind(digest).fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Whether a package is stored.
    pub async fn has_package(&self, digest: &str) -> Result<bool, Error> {
        Ok(sqlx::query("SELECT 1 FROM packages WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Deletes a package no version uses any more (in one statement, so a version added
    /// meanwhile keeps it).
    pub async fn delete_package_if_unused(&self, digest: &str) -> Result<bool, Error> {
        let done = sqlx::query(
            "DELETE FROM packages WHERE digest = $1 AND NOT EXISTS (SELECT 1 FROM versions WHERE digest = $1)",
        )
        .bind(digest)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
