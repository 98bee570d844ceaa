//! Calls per minute, for the Service Center's charts: each node adds what it counted since its
//! last flush to the minute's rows (`Db::add_call_minutes`), so the rows are the sum over every
//! node. A row per (extension, version, action, minute, outcome): outcome `""` holds every call
//! and their total duration, each failure kind (`action_failed`, `timeout`, …) its count.
use sqlx::Row as _;

use crate::{Db, Error};

/// What one minute of one action added up to (or, written, what to add).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallMinute {
    /// The extension's id.
    pub extension_id: i64,
    /// The version called.
    pub version: i64,
    /// The action.
    pub action: String,
    /// Minutes since the epoch.
    pub minute: i64,
    /// `""`: all calls; else a failure kind.
    pub outcome: String,
    /// How many calls.
    pub calls: i64,
    /// Their total duration in µs (on the `""` row).
    pub micros: i64,
}

/// How many calls of one minute of one action fell in one duration bucket (or, written, how
/// many to add).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallDurations {
    /// The extension's id.
    pub extension_id: i64,
    /// The version called.
    pub version: i64,
    /// The action.
    pub action: String,
    /// Minutes since the epoch.
    pub minute: i64,
    /// The bucket's index (the server's histogram bounds; the last is past them all).
    pub bucket: i64,
    /// How many calls.
    pub calls: i64,
}

/// Every extension's calls and failures over some minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallTotals {
    /// The extension's name.
    pub extension: String,
    /// Calls.
    pub calls: i64,
    /// Of which failed.
    pub failures: i64,
}

impl Db {
    /// Adds `rows` and `durations` to the stored minutes in one transaction, and forgets
    /// minutes before `keep_from` (every extension's).
    pub async fn add_call_minutes(
        &self,
        rows: &[CallMinute],
        durations: &[CallDurations],
        keep_from: i64,
    ) -> Result<(), Error> {
        let mut tx = self.begin().await?;
        for d in durations {
            sqlx::query(
                "INSERT INTO call_durations (extension_id, version, action, minute, bucket, calls)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (extension_id, version, action, minute, bucket)
                 DO UPDATE SET calls = call_durations.calls + excluded.calls",
            )
            .bind(d.extension_id)
            .bind(d.version)
            .bind(d.action.as_str())
            .bind(d.minute)
            .bind(d.bucket)
            .bind(d.calls)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM call_durations WHERE minute < $1").bind(keep_from).execute(&mut *tx).await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO call_minutes (extension_id, version, action, minute, outcome, calls, micros)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (extension_id, version, action, minute, outcome)
                 DO UPDATE SET calls = call_minutes.calls + excluded.calls, micros = call_minutes.micros + excluded.micros",
            )
            .bind(r.extension_id)
            .bind(r.version)
            .bind(r.action.clone())
            .bind(r.minute)
            .bind(r.outcome.clone())
            .bind(r.calls)
            .bind(r.micros)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM call_minutes WHERE minute < $1").bind(keep_from).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An extension's minutes from `since` on, summed over versions and actions: one row per
    /// (minute, outcome), oldest first (`version` 0, `action` empty).
    pub async fn call_minutes(&self, extension_id: i64, since: i64) -> Result<Vec<CallMinute>, Error> {
        let rows = sqlx::query(
            "SELECT minute, outcome, CAST(SUM(calls) AS BIGINT) AS calls, CAST(SUM(micros) AS BIGINT) AS micros
             FROM call_minutes WHERE extension_id = $1 AND minute >= $2
             GROUP BY minute, outcome ORDER BY minute, outcome",
        )
        .bind(extension_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CallMinute {
                    extension_id,
                    version: 0,
                    action: String::new(),
                    minute: r.try_get("minute")?,
                    outcome: r.try_get("outcome")?,
                    calls: r.try_get("calls")?,
                    micros: r.try_get("micros")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// An extension's calls and failures per version from minute `since` on, summed over every
    /// node and action: `(version, calls, failures)`, by version.
    pub async fn version_call_totals(&self, extension_id: i64, since: i64) -> Result<Vec<(i64, i64, i64)>, Error> {
        let rows = sqlx::query(
            "SELECT version,
                    CAST(SUM(CASE WHEN outcome = '' THEN calls ELSE 0 END) AS BIGINT) AS calls,
                    CAST(SUM(CASE WHEN outcome = '' THEN 0 ELSE calls END) AS BIGINT) AS failures
             FROM call_minutes WHERE extension_id = $1 AND minute >= $2
             GROUP BY version ORDER BY version",
        )
        .bind(extension_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("version")?, r.try_get("calls")?, r.try_get("failures")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// An extension's duration buckets from `since` on, summed over versions and actions: one
    /// row per (minute, bucket), oldest first (`version` 0, `action` empty).
    pub async fn call_durations(&self, extension_id: i64, since: i64) -> Result<Vec<CallDurations>, Error> {
        let rows = sqlx::query(
            "SELECT minute, bucket, CAST(SUM(calls) AS BIGINT) AS calls
             FROM call_durations WHERE extension_id = $1 AND minute >= $2
             GROUP BY minute, bucket ORDER BY minute, bucket",
        )
        .bind(extension_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CallDurations {
                    extension_id,
                    version: 0,
                    action: String::new(),
                    minute: r.try_get("minute")?,
                    bucket: r.try_get("bucket")?,
                    calls: r.try_get("calls")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Every extension's calls and failures from minute `since` on, the most called first.
    pub async fn call_totals(&self, since: i64) -> Result<Vec<CallTotals>, Error> {
        let rows = sqlx::query(
            "SELECT e.name AS extension,
                    CAST(SUM(CASE WHEN c.outcome = '' THEN c.calls ELSE 0 END) AS BIGINT) AS calls,
                    CAST(SUM(CASE WHEN c.outcome = '' THEN 0 ELSE c.calls END) AS BIGINT) AS failures
             FROM call_minutes c JOIN extensions e ON e.id = c.extension_id WHERE c.minute >= $1
             GROUP BY e.name ORDER BY calls DESC, e.name",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CallTotals {
                    extension: r.try_get("extension")?,
                    calls: r.try_get("calls")?,
                    failures: r.try_get("failures")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(Error::from)
    }

    /// Forgets an extension's minutes (it was deleted).
    pub async fn delete_call_minutes(&self, extension_id: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM call_minutes WHERE extension_id = $1").bind(extension_id).execute(&self.pool).await?;
        sqlx::query("DELETE FROM call_durations WHERE extension_id = $1")
            .bind(extension_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
