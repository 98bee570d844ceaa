//! The extension log store: every line an extension's calls log, kept per extension up to a
//! bound (the newest), written in batches by the server's log writer, read with filters.
use sqlx::Row as _;

use crate::{Db, Error};

/// One stored line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    /// Its id: increasing in the order lines were written (to follow from).
    pub id: i64,
    /// The extension's id.
    pub extension_id: i64,
    /// The version whose call logged it.
    pub version: i64,
    /// The action called.
    pub action: String,
    /// 0 trace, 1 debug, 2 info, 3 warn, 4 error.
    pub level: i32,
    /// `host`, `stdout` or `stderr`.
    pub source: String,
    /// When it was logged (ms since the epoch).
    pub at: i64,
    /// The call's id (its answer's request id).
    pub call_id: String,
    /// The text.
    pub message: String,
}

/// What to read.
#[derive(Clone, Debug, Default)]
pub struct LogQuery {
    /// Only lines after this id.
    pub after: Option<i64>,
    /// Only this action's.
    pub action: Option<String>,
    /// Only lines of at least this level.
    pub min_level: i32,
    /// Only this call's.
    pub call_id: Option<String>,
    /// At most this many: the newest of them when `after` is not given, else the oldest after it.
    pub limit: u32,
}

/// Lines one INSERT statement writes (8 binds each).
const INSERT_ROWS: usize = 100;

impl Db {
    /// Writes a batch of lines (their `id` is ignored) in one transaction, then forgets, for each
    /// extension in it, every line beyond its newest `keep`.
    pub async fn write_logs(&self, rows: &[LogRow], keep: u32) -> Result<(), Error> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        // Writers of every node one after another: ids then become visible in increasing order,
        // so a follower that reads on from the last id it sent misses no line committed later.
        self.lock_key(&mut tx, "logs", "").await?;
        // Many rows a statement: one round trip per 100 lines, not one per line.
        for chunk in rows.chunks(INSERT_ROWS) {
            let mut sql = String::from(
                "INSERT INTO extension_logs (extension_id, version, action, level, source, at, call_id, message) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 8;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8
                ));
            }
            // Only placeholders are formatted in; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r.extension_id)
                    .bind(r.version)
                    .bind(r.action.clone())
                    .bind(i64::from(r.level))
                    .bind(r.source.clone())
                    .bind(r.at)
                    .bind(r.call_id.clone())
                    .bind(r.message.clone());
            }
            q.execute(&mut *tx).await?;
        }
        let mut extensions: Vec<i64> = rows.iter().map(|r| r.extension_id).collect();
        extensions.sort_unstable();
        extensions.dedup();
        for ext in extensions {
            sqlx::query(
                "DELETE FROM extension_logs WHERE extension_id = $1 AND id <= (SELECT id FROM extension_logs
                   WHERE extension_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(ext)
            .bind(i64::from(keep))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An extension's lines by `q`, oldest first.
    pub async fn read_logs(&self, extension_id: i64, q: &LogQuery) -> Result<Vec<LogRow>, Error> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let newest_first = q.after.is_none();
        let sql = if newest_first {
            "SELECT id, extension_id, version, action, level, source, at, call_id, message FROM extension_logs
             WHERE extension_id = $1 AND id > $2 AND level >= $3 AND ($4 = '' OR action = $4) AND ($5 = '' OR call_id = $5)
             ORDER BY id DESC LIMIT $6"
        } else {
            "SELECT id, extension_id, version, action, level, source, at, call_id, message FROM extension_logs
             WHERE extension_id = $1 AND id > $2 AND level >= $3 AND ($4 = '' OR action = $4) AND ($5 = '' OR call_id = $5)
             ORDER BY id ASC LIMIT $6"
        };
        let rows = sqlx::query(sql)
            .bind(extension_id)
            .bind(q.after.unwrap_or(0))
            .bind(i64::from(q.min_level))
            .bind(q.action.clone().unwrap_or_default())
            .bind(q.call_id.clone().unwrap_or_default())
            .bind(i64::from(q.limit))
            .fetch_all(&self.pool)
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(LogRow {
                    id: r.try_get("id")?,
                    extension_id: r.try_get("extension_id")?,
                    version: r.try_get("version")?,
                    action: r.try_get("action")?,
                    level: i32::try_from(r.try_get::<i64, _>("level")?).unwrap_or(2),
                    source: r.try_get("source")?,
                    at: r.try_get("at")?,
                    call_id: r.try_get("call_id")?,
                    message: r.try_get("message")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        if newest_first {
            out.reverse();
        }
        Ok(out)
    }

    /// Forgets an extension's lines (it was deleted).
    pub async fn delete_logs(&self, extension_id: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM extension_logs WHERE extension_id = $1")
            .bind(extension_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
