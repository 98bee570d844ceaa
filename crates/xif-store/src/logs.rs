//! The extension log store: every line an extension's calls log, kept per extension up to a
//! bound (the newest), written in batches by the server's log writer, read with filters.
//!
//! Lines are stored in chunks (table `extension_log_chunks`): one row holds up to
//! [`CHUNK_LINES`] consecutive lines of one extension as a JSON array, so a batch of thousands
//! of lines is a few rows, not thousands of rows and index entries. A line's id is its place in
//! its extension's sequence: a chunk holds ids `first_id ..= last_id`. Trimming deletes whole
//! chunks; each chunk also records `kept_from`, the oldest id still kept when it was written, and
//! reads hide lines older than the newest chunk's, so exactly the newest `keep` lines are seen.
use futures_util::TryStreamExt as _;
use sqlx::Row as _;

use crate::{Db, Error};

/// One stored line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    /// Its id: increasing, per extension, in the order lines were written (to follow from).
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

/// A line to write: what [`LogRow`] holds, borrowed, without an id.
#[derive(Clone, Copy, Debug)]
pub struct NewLogLine<'a> {
    /// The extension's id.
    pub extension_id: i64,
    /// The version whose call logged it.
    pub version: i64,
    /// The action called.
    pub action: &'a str,
    /// 0 trace … 4 error.
    pub level: i32,
    /// `host`, `stdout` or `stderr`.
    pub source: &'a str,
    /// When it was logged (ms since the epoch).
    pub at: i64,
    /// The call's id.
    pub call_id: &'a str,
    /// The text.
    pub message: &'a str,
}

impl LogRow {
    /// The line, to write again.
    pub fn to_new(&self) -> NewLogLine<'_> {
        NewLogLine {
            extension_id: self.extension_id,
            version: self.version,
            action: &self.action,
            level: self.level,
            source: &self.source,
            at: self.at,
            call_id: &self.call_id,
            message: &self.message,
        }
    }
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

/// Lines one chunk holds at most.
pub const CHUNK_LINES: usize = 256;
/// Chunks one INSERT statement writes (5 binds each).
const INSERT_CHUNKS: usize = 100;

/// One line as a chunk stores it: version, action, level, source, at, call id, message.
type Stored = (i64, String, i32, String, i64, String, String);
type StoredRef<'a> = (i64, &'a str, i32, &'a str, i64, &'a str, &'a str);

struct Chunk {
    extension_id: i64,
    first_id: i64,
    last_id: i64,
    kept_from: i64,
    lines: String,
}

impl Db {
    /// Writes a batch of lines (lines of one extension keep their order) in one transaction,
    /// then forgets, for each extension in it, every line beyond its newest `keep`.
    /// Returns how many lines it kept (none of an extension that no longer exists).
    pub async fn write_logs(&self, rows: &[NewLogLine<'_>], keep: u32) -> Result<usize, Error> {
        if rows.is_empty() {
            return Ok(0);
        }
        let keep = i64::from(keep.max(1));
        let mut extensions: Vec<i64> = rows.iter().map(|r| r.extension_id).collect();
        extensions.sort_unstable();
        extensions.dedup();
        let mut tx = self.begin().await?;
        // Writers of every node one after another: ids are then given out, and become visible,
        // in increasing order, so a follower that reads on from the last id it sent misses no
        // line committed later.
        self.lock_key(&mut tx, "logs", "").await?;
        // Lines of an extension deleted meanwhile (a call that ran on while it was deleted) are
        // not kept: nothing may read them, and another extension could be given its id.
        let mut existing = Vec::with_capacity(extensions.len());
        for &ext in &extensions {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM extensions WHERE id = $1")
                .bind(ext)
                .fetch_optional(&mut *tx)
                .await?;
            existing.extend(found);
        }
        let extensions = existing;
        let kept = rows.iter().filter(|r| extensions.contains(&r.extension_id)).count();
        let mut chunks = Vec::new();
        for &ext in &extensions {
            let last: Option<i64> =
                sqlx::query_scalar("SELECT MAX(last_id) FROM extension_log_chunks WHERE extension_id = $1")
                    .bind(ext)
                    .fetch_one(&mut *tx)
                    .await?;
            let mut next = last.unwrap_or(0) + 1;
            let mine: Vec<&NewLogLine<'_>> = rows.iter().filter(|r| r.extension_id == ext).collect();
            let newest = next + mine.len() as i64 - 1;
            let kept_from = (newest - keep + 1).max(1);
            for part in mine.chunks(CHUNK_LINES) {
                let lines: Vec<StoredRef<'_>> =
                    part.iter().map(|r| (r.version, r.action, r.level, r.source, r.at, r.call_id, r.message)).collect();
                let lines = serde_json::to_string(&lines)
                    .map_err(|e| Error::Damaged(format!("a log line could not be encoded: {e}")))?;
                let first_id = next;
                next += part.len() as i64;
                chunks.push(Chunk { extension_id: ext, first_id, last_id: next - 1, kept_from, lines });
            }
        }
        // Many chunks a statement: one round trip per 100 chunks.
        for part in chunks.chunks(INSERT_CHUNKS) {
            let mut sql = String::from(
                "INSERT INTO extension_log_chunks (extension_id, first_id, last_id, kept_from, lines) VALUES ",
            );
            for i in 0..part.len() {
                let b = i * 5;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5));
            }
            // Only placeholders are formatted in; every value is bound.
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for c in part {
                q = q.bind(c.extension_id).bind(c.first_id).bind(c.last_id).bind(c.kept_from).bind(c.lines.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        for &ext in &extensions {
            let kept_from = chunks.iter().rev().find(|c| c.extension_id == ext).map_or(1, |c| c.kept_from);
            sqlx::query("DELETE FROM extension_log_chunks WHERE extension_id = $1 AND last_id < $2")
                .bind(ext)
                .bind(kept_from)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(kept)
    }

    /// An extension's lines by `q`, oldest first.
    pub async fn read_logs(&self, extension_id: i64, q: &LogQuery) -> Result<Vec<LogRow>, Error> {
        Ok(self.read_logs_scanned(extension_id, q).await?.0)
    }

    /// [`Db::read_logs`], and the id up to which every line was looked at: a follower goes on
    /// after it, so lines its filter skipped are not read again (without `after`, the newest id
    /// there is; 0 when there is none).
    pub async fn read_logs_scanned(&self, extension_id: i64, q: &LogQuery) -> Result<(Vec<LogRow>, i64), Error> {
        let after = q.after.unwrap_or(0);
        if q.limit == 0 && q.after.is_some() {
            return Ok((Vec::new(), after));
        }
        let limit = q.limit as usize;
        let after = q.after.unwrap_or(0);
        let newest_first = q.after.is_none();
        // The bound the newest write left: older lines of a partly trimmed chunk are gone.
        let kept_from: Option<i64> = sqlx::query_scalar(
            "SELECT kept_from FROM extension_log_chunks WHERE extension_id = $1 ORDER BY last_id DESC LIMIT 1",
        )
        .bind(extension_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(kept_from) = kept_from else { return Ok((Vec::new(), after)) };
        let from = kept_from.max(after + 1);
        let sql = if newest_first {
            "SELECT first_id, lines FROM extension_log_chunks WHERE extension_id = $1 AND last_id >= $2 ORDER BY last_id DESC"
        } else {
            "SELECT first_id, lines FROM extension_log_chunks WHERE extension_id = $1 AND last_id >= $2 ORDER BY last_id ASC"
        };
        let mut chunks = sqlx::query(sql).bind(extension_id).bind(from).fetch(&self.pool);
        let mut out = Vec::new();
        let mut scanned = after;
        // Chunks are read one by one, until enough lines matched.
        while let Some(chunk) = chunks.try_next().await? {
            let first_id: i64 = chunk.try_get("first_id")?;
            let text: String = chunk.try_get("lines")?;
            let lines: Vec<Stored> = serde_json::from_str(&text).map_err(|e| {
                Error::Damaged(format!("extension {extension_id}'s log chunk from line {first_id}: {e}"))
            })?;
            scanned = scanned.max(first_id + lines.len() as i64 - 1);
            if limit == 0 {
                break;
            }
            let matching = lines.into_iter().enumerate().filter_map(|(i, l)| {
                let id = first_id + i as i64;
                let (version, action, level, source, at, call_id, message) = l;
                let keep = id >= from
                    && level >= q.min_level
                    && q.action.as_ref().is_none_or(|a| *a == action)
                    && q.call_id.as_ref().is_none_or(|c| *c == call_id);
                keep.then_some(LogRow { id, extension_id, version, action, level, source, at, call_id, message })
            });
            if newest_first {
                let mut these: Vec<LogRow> = matching.collect();
                these.reverse();
                out.extend(these);
            } else {
                out.extend(matching);
            }
            if out.len() >= limit {
                break;
            }
        }
        if !newest_first && out.len() >= limit {
            // The lines past the last one kept were not handed out: go on from it.
            out.truncate(limit);
            scanned = out.last().map_or(scanned, |l| l.id);
        }
        out.truncate(limit);
        if newest_first {
            out.reverse();
        }
        Ok((out, scanned))
    }

    /// Forgets an extension's lines (it was deleted).
    pub async fn delete_logs(&self, extension_id: i64) -> Result<(), Error> {
        sqlx::query("DELETE FROM extension_log_chunks WHERE extension_id = $1")
            .bind(extension_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
