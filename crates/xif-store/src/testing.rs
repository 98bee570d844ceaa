//! Support for tests that inspect or alter a server's database from outside the server (a
//! second connection, as an operator's tool would): plain SQL on one connection of its own.
//! Not for the server's own use.
use sqlx::AnyConnection;
use sqlx::Connection as _;
use sqlx::Row as _;

use crate::{Engine, Error};

/// One connection to a database, for tests.
pub struct Probe {
    conn: AnyConnection,
    engine: Engine,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("engine", &self.engine).finish_non_exhaustive()
    }
}

impl Probe {
    /// Connects to the database at `url` (`sqlite:...` or `postgres://...`).
    pub async fn connect(url: &str) -> Result<Probe, Error> {
        sqlx::any::install_default_drivers();
        let engine = Engine::of_url(url)
            .ok_or_else(|| Error::Unsupported(format!("the database URL {url:?} is not supported")))?;
        Ok(Probe { conn: AnyConnection::connect(url).await?, engine })
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Runs statements (no binds); answers the rows changed by the last.
    pub async fn execute(&mut self, sql: &str) -> Result<u64, Error> {
        Ok(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut self.conn).await?.rows_affected())
    }

    /// Runs one statement with text binds (`$1`, `$2`...); answers the rows changed.
    pub async fn execute_with(&mut self, sql: &str, binds: &[&str]) -> Result<u64, Error> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for b in binds {
            q = q.bind(b.to_string());
        }
        Ok(q.execute(&mut self.conn).await?.rows_affected())
    }

    /// The rows of a query with text binds, every column read as text (integers are written in
    /// decimal; NULL is `None`). Cast other types to TEXT in the query.
    pub async fn rows(&mut self, sql: &str, binds: &[&str]) -> Result<Vec<Vec<Option<String>>>, Error> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
        for b in binds {
            q = q.bind(b.to_string());
        }
        let rows = q.fetch_all(&mut self.conn).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut line = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                let text = match r.try_get::<Option<String>, _>(i) {
                    Ok(t) => t,
                    Err(_) => r.try_get::<Option<i64>, _>(i)?.map(|n| n.to_string()),
                };
                line.push(text);
            }
            out.push(line);
        }
        Ok(out)
    }

    /// The first column of the first row of a query, as an integer.
    pub async fn count(&mut self, sql: &str) -> Result<i64, Error> {
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut self.conn).await?.try_get(0)?)
    }

    /// The names of the entity tables (`xe...`) that exist, sorted.
    pub async fn entity_tables(&mut self) -> Result<Vec<String>, Error> {
        let sql = match self.engine {
            Engine::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'xe%' ORDER BY name",
            Engine::Postgres => {
                "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'xe%' ORDER BY tablename"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&mut self.conn).await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    /// The columns of a table, in order.
    pub async fn columns(&mut self, table: &str) -> Result<Vec<String>, Error> {
        let rows = match self.engine {
            Engine::Sqlite => {
                sqlx::query("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(&mut self.conn).await?
            }
            Engine::Postgres => {
                sqlx::query(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(table)
                .fetch_all(&mut self.conn)
                .await?
            }
        };
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    /// Closes the connection.
    pub async fn close(self) -> Result<(), Error> {
        Ok(self.conn.close().await?)
    }
}

/// Runs `first`, awaits `between`, then runs `then`, all inside one write transaction of `db`
/// as the server begins them (`BEGIN IMMEDIATE` on SQLite), and commits.
pub async fn in_write_transaction(
    db: &crate::Db,
    first: &str,
    between: impl std::future::Future<Output = ()>,
    then: &str,
) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(first.to_string())).execute(&mut *tx).await?;
    between.await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(then.to_string())).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
