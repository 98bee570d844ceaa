//! Moving and keeping a server's state (`xif admin backup|restore|import`): plain operations over
//! paths and database URLs, for the command line's thin adapters.
//!
//! - [`backup`] writes a consistent copy of a server's state into a new folder while the server
//!   runs. On SQLite: `VACUUM INTO` (an online backup: one read transaction, so one moment of the
//!   database), then the packages that copy refers to (package files are written before the
//!   version that names them and never change, so every one is there), then `secret.key`. On
//!   PostgreSQL: `pg_dump --format=custom` (one snapshot; the packages are in the database), then
//!   `secret.key`.
//! - [`restore`] brings a backup back into an empty data directory (and, for PostgreSQL, an empty
//!   database, with `pg_restore`).
//!
//! Sealed secret settings are copied as they are: the server that reads them needs the same
//! secret key. The backup holds `secret.key` when the data directory has one; a key given by
//! `--secret-key-file` or `XIF_SECRET_KEY` must be kept by whoever keeps the backup.
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection as _;

/// The name of a backup's description file.
const MANIFEST: &str = "backup.json";
/// The SQLite database in a data directory and in a backup.
const SQLITE_FILE: &str = "xif.db";
/// The PostgreSQL dump in a backup.
const PG_DUMP_FILE: &str = "database.pgdump";
/// The packages folder of a data directory and of a backup (SQLite).
const PACKAGES: &str = "packages";
/// The secret key file of a data directory and of a backup.
const SECRET_KEY: &str = "secret.key";

/// What can go wrong in an administrative operation. It says what to do where it can.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A database refused or failed a statement, or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The operation was refused: the target is not empty, the backup is of another engine...
    #[error("{0}")]
    Refused(String),
    /// The store could not be opened (the target's migrations).
    #[error("{0}")]
    Store(#[from] crate::Error),
    /// An external tool (`pg_dump`, `pg_restore`) is missing or failed.
    #[error("{0}")]
    Tool(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AdminError + '_ {
    move |source| AdminError::Io { path: path.to_path_buf(), source }
}

/// Where the state of a server is.
#[derive(Clone, Debug)]
pub struct Source {
    /// Its data directory (`secret.key`; on SQLite also `xif.db` and `packages/`).
    pub data_dir: PathBuf,
    /// Its database URL; `None` is the data directory's `xif.db`.
    pub database_url: Option<String>,
    /// The folder of `pg_dump` and `pg_restore` (default: on `PATH`, else the newest
    /// `/usr/lib/postgresql/*/bin`).
    pub pg_bin: Option<PathBuf>,
}

/// What [`backup`] wrote.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BackupReport {
    /// The backup's format (1).
    pub format: u32,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// When it was made, in milliseconds since the Unix epoch.
    pub made_at: i64,
    /// How many package files it holds (SQLite; on PostgreSQL they are in the dump).
    pub packages: usize,
    /// Whether it holds the data directory's `secret.key`.
    pub secret_key: bool,
}

/// Which engine a database URL names (`None`: the data directory's SQLite database).
fn engine_of(url: Option<&str>) -> Result<crate::Engine, AdminError> {
    match url {
        None => Ok(crate::Engine::Sqlite),
        Some(u) if u.starts_with("sqlite:") => Ok(crate::Engine::Sqlite),
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => Ok(crate::Engine::Postgres),
        Some(u) => Err(AdminError::Refused(format!(
            "the database URL {u:?} is not supported: use `sqlite:PATH` or `postgres://USER@HOST/DATABASE`"
        ))),
    }
}

/// The SQLite database file of a data directory and URL.
fn sqlite_path(data_dir: &Path, url: Option<&str>) -> PathBuf {
    match url.and_then(|u| u.strip_prefix("sqlite:")) {
        Some(rest) => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            PathBuf::from(path.split('?').next().unwrap_or(path))
        }
        None => data_dir.join(SQLITE_FILE),
    }
}

/// Makes `dir` (and its parents) unless it exists; refuses one that holds anything.
fn empty_folder(dir: &Path, what: &str) -> Result<(), AdminError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
    if let Some(entry) = entries.next() {
        let entry = entry.map_err(io(dir))?;
        return Err(AdminError::Refused(format!(
            "{what} {} is not empty (it holds {:?}): give a new or empty folder",
            dir.display(),
            entry.file_name()
        )));
    }
    Ok(())
}

/// Copies a file, keeping it private (mode 0600) when `private`.
fn copy_file(from: &Path, to: &Path, private: bool) -> Result<(), AdminError> {
    std::fs::copy(from, to).map_err(io(from))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(io(to))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

async fn sqlite_connect(path: &Path, read_only: bool) -> Result<sqlx::SqliteConnection, AdminError> {
    if !path.is_file() {
        return Err(AdminError::Refused(format!("there is no SQLite database at {}", path.display())));
    }
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(10));
    Ok(sqlx::SqliteConnection::connect_with(&options).await?)
}

/// Writes a consistent copy of a server's state into `out` (a new or empty folder) while the
/// server may be running. See the module documentation.
pub async fn backup(source: &Source, out: &Path) -> Result<BackupReport, AdminError> {
    let engine = engine_of(source.database_url.as_deref())?;
    empty_folder(out, "the backup folder")?;
    let mut report = BackupReport {
        format: 1,
        engine: match engine {
            crate::Engine::Sqlite => "sqlite",
            crate::Engine::Postgres => "postgres",
        }
        .into(),
        made_at: crate::now_ms(),
        packages: 0,
        secret_key: false,
    };
    match engine {
        crate::Engine::Sqlite => {
            let db = sqlite_path(&source.data_dir, source.database_url.as_deref());
            let copy = out.join(SQLITE_FILE);
            let mut conn = sqlite_connect(&db, false).await?;
            sqlx::query("VACUUM INTO $1").bind(copy.to_string_lossy().into_owned()).execute(&mut conn).await?;
            conn.close().await?;
            // The packages the copy refers to, from the copy itself.
            let mut conn = sqlite_connect(&copy, true).await?;
            let digests: Vec<(String,)> =
                sqlx::query_as("SELECT DISTINCT digest FROM versions ORDER BY digest").fetch_all(&mut conn).await?;
            conn.close().await?;
            let packages = out.join(PACKAGES);
            std::fs::create_dir_all(&packages).map_err(io(&packages))?;
            for (digest,) in &digests {
                if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(AdminError::Refused(format!("the database names a package {digest:?}: not a digest")));
                }
                let name = format!("{digest}.xif");
                copy_file(&source.data_dir.join(PACKAGES).join(&name), &packages.join(&name), false)?;
            }
            report.packages = digests.len();
        }
        crate::Engine::Postgres => {
            let url = source.database_url.as_deref().unwrap_or_default();
            let dump = out.join(PG_DUMP_FILE);
            let mut cmd = Command::new(pg_tool(source.pg_bin.as_deref(), "pg_dump")?);
            cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&dump)
                .arg("--dbname")
                .arg(url);
            run_tool(cmd)?;
        }
    }
    let key = source.data_dir.join(SECRET_KEY);
    if key.is_file() {
        copy_file(&key, &out.join(SECRET_KEY), true)?;
        report.secret_key = true;
    }
    let manifest = out.join(MANIFEST);
    let text = serde_json::to_string_pretty(&report).map_err(|e| AdminError::Refused(e.to_string()))?;
    std::fs::write(&manifest, text + "\n").map_err(io(&manifest))?;
    Ok(report)
}

/// Brings the backup in `from` back: into the empty (or new) data directory `target.data_dir`,
/// and for a PostgreSQL backup into the empty database `target.database_url`. Returns what the
/// backup said of itself.
pub async fn restore(from: &Path, target: &Source) -> Result<BackupReport, AdminError> {
    let manifest = from.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest).map_err(io(&manifest))?;
    let report: BackupReport = serde_json::from_str(&text)
        .map_err(|e| AdminError::Refused(format!("{}: not a backup's description: {e}", manifest.display())))?;
    if report.format != 1 {
        return Err(AdminError::Refused(format!(
            "{}: backup format {} is newer than this xif reads (1)",
            manifest.display(),
            report.format
        )));
    }
    let engine = engine_of(target.database_url.as_deref())?;
    match (report.engine.as_str(), engine) {
        ("sqlite", crate::Engine::Sqlite) => {
            empty_folder(&target.data_dir, "the data directory")?;
            let db = sqlite_path(&target.data_dir, target.database_url.as_deref());
            if db.exists() {
                return Err(AdminError::Refused(format!("{} exists: restore into a new database", db.display())));
            }
            if let Some(parent) = db.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            copy_file(&from.join(SQLITE_FILE), &db, false)?;
            let (src, dst) = (from.join(PACKAGES), target.data_dir.join(PACKAGES));
            std::fs::create_dir_all(&dst).map_err(io(&dst))?;
            for entry in std::fs::read_dir(&src).map_err(io(&src))? {
                let entry = entry.map_err(io(&src))?;
                copy_file(&entry.path(), &dst.join(entry.file_name()), false)?;
            }
        }
        ("postgres", crate::Engine::Postgres) => {
            let url = target.database_url.as_deref().unwrap_or_default();
            refuse_non_empty_postgres(url).await?;
            empty_folder(&target.data_dir, "the data directory")?;
            let mut cmd = Command::new(pg_tool(target.pg_bin.as_deref(), "pg_restore")?);
            cmd.args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname"])
                .arg(url)
                .arg(from.join(PG_DUMP_FILE));
            run_tool(cmd)?;
        }
        ("sqlite", crate::Engine::Postgres) => {
            return Err(AdminError::Refused(
                "this is a backup of an SQLite server: restore it into a data directory (no --database), then move it \
                 to PostgreSQL with `xif admin import`"
                    .into(),
            ));
        }
        ("postgres", _) => {
            return Err(AdminError::Refused(
                "this is a backup of a PostgreSQL server: give the empty database to restore it into (--database postgres://…)"
                    .into(),
            ));
        }
        (other, _) => return Err(AdminError::Refused(format!("{}: unknown engine {other:?}", manifest.display()))),
    }
    if report.secret_key {
        copy_file(&from.join(SECRET_KEY), &target.data_dir.join(SECRET_KEY), true)?;
    }
    Ok(report)
}

/// Refuses a PostgreSQL database that has any table in its schema, naming them.
async fn refuse_non_empty_postgres(url: &str) -> Result<(), AdminError> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await?;
    conn.close().await?;
    if !tables.is_empty() {
        let names: Vec<&str> = tables.iter().map(|(t,)| t.as_str()).collect();
        return Err(AdminError::Refused(format!(
            "the database is not empty: it has the tables {}; give a new, empty database",
            names.join(", ")
        )));
    }
    Ok(())
}

/// `pg_dump` or `pg_restore`: in `bin` when given, else on `PATH`, else in the newest
/// `/usr/lib/postgresql/*/bin`.
fn pg_tool(bin: Option<&Path>, tool: &str) -> Result<PathBuf, AdminError> {
    if let Some(bin) = bin {
        let path = bin.join(tool);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(AdminError::Tool(format!("there is no {tool} in {}", bin.display())))
        };
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(tool)).find(|p| p.is_file()))
        .unwrap_or_default();
    if let Some(path) = on_path {
        return Ok(path);
    }
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let path = e.path().join("bin").join(tool);
            path.is_file().then_some((version, path))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).ok_or_else(|| {
        AdminError::Tool(format!(
            "{tool} (PostgreSQL's client tools) is not installed: install Debian's `postgresql-client`, or give its folder with --pg-bin"
        ))
    })
}

/// Runs a tool to its end (blocking: these are the command line's operations). Its errors name
/// the program, not its arguments (a database URL may hold a password).
fn run_tool(mut cmd: Command) -> Result<(), AdminError> {
    let out =
        cmd.output().map_err(|e| AdminError::Tool(format!("running {}: {e}", cmd.get_program().to_string_lossy())))?;
    if !out.status.success() {
        return Err(AdminError::Tool(format!(
            "{} failed ({}): {}",
            cmd.get_program().to_string_lossy(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// What [`import`] copied.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    /// Each table copied and how many rows.
    pub tables: Vec<(String, u64)>,
    /// How many packages went into the database.
    pub packages: usize,
    /// How many entity tables (with their records) were copied.
    pub entity_tables: usize,
}

impl ImportReport {
    /// One line: what was copied.
    pub fn summary(&self) -> String {
        let rows = |name: &str| self.tables.iter().find(|(t, _)| t == name).map_or(0, |(_, n)| *n);
        format!(
            "{} users, {} tokens, {} extensions with {} versions and {} packages, {} settings, {} publish log entries, \
             {} entity tables with {} records",
            rows("users"),
            rows("tokens"),
            rows("extensions"),
            rows("versions"),
            self.packages,
            rows("settings"),
            rows("publishes"),
            self.entity_tables,
            self.tables.iter().filter(|(t, _)| is_entity_table(t)).map(|(_, n)| n).sum::<u64>(),
        )
    }
}

/// The server's own tables in the order their references need; any other table of the source
/// (a newer migration's) follows, by name.
const STATE_TABLES: &[&str] = &[
    "users",
    "permissions",
    "tokens",
    "extensions",
    "versions",
    "publishes",
    "settings",
    "console_sessions",
    "action_errors",
    "entity_tables",
];

/// Entity record tables are `xe<id>_<generation>`.
fn is_entity_table(name: &str) -> bool {
    name.strip_prefix("xe").is_some_and(|rest| {
        let mut parts = rest.split('_');
        let digits = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
    })
}

/// Refuses a PostgreSQL database that holds any row (beyond its migrations' own bookkeeping),
/// naming the tables that do. A database migrated but empty is accepted (an import that failed
/// leaves one).
async fn refuse_postgres_with_rows(url: &str) -> Result<(), AdminError> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await?;
    let mut full = Vec::new();
    for (t,) in tables {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", quote(&t))))
            .fetch_one(&mut conn)
            .await?;
        if n > 0 {
            full.push(format!("{t} ({n} rows)"));
        }
    }
    conn.close().await?;
    if !full.is_empty() {
        return Err(AdminError::Refused(format!(
            "the database is not empty: {}; import into a new, empty database",
            full.join(", ")
        )));
    }
    Ok(())
}

/// A quoted SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value read from SQLite, as it is stored.
enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn read_cell(row: &sqlx::sqlite::SqliteRow, i: usize) -> Result<Cell, AdminError> {
    use sqlx::{Row as _, TypeInfo as _, ValueRef as _};
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let kind = raw.type_info().name().to_ascii_uppercase();
    Ok(match kind.as_str() {
        "INTEGER" | "BOOLEAN" | "INT8" | "BIGINT" => Cell::Integer(row.try_get(i)?),
        "REAL" => Cell::Real(row.try_get(i)?),
        "BLOB" => Cell::Blob(row.try_get(i)?),
        _ => Cell::Text(row.try_get(i)?),
    })
}

/// Copies every row of `table` from SQLite into the same-named PostgreSQL table, column by name,
/// each value cast to the target column's type (`numeric`, `bytea`, `boolean`, `bigint`...).
async fn copy_table(
    src: &mut sqlx::SqliteConnection,
    dst: &mut sqlx::PgConnection,
    table: &str,
) -> Result<u64, AdminError> {
    let source_columns: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(&mut *src).await?;
    let target: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_identity::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *dst)
    .await?;
    if target.is_empty() {
        return Err(AdminError::Refused(format!(
            "the SQLite database has a table {table} that the PostgreSQL schema lacks: this xif does not know it (a newer server's?)"
        )));
    }
    let mut columns = Vec::new();
    for (name,) in &source_columns {
        let Some((_, ty, _)) = target.iter().find(|(t, _, _)| t == name) else {
            return Err(AdminError::Refused(format!(
                "the SQLite table {table} has a column {name} that the PostgreSQL schema lacks"
            )));
        };
        columns.push((name.clone(), ty.clone()));
    }
    let identity = target.iter().filter(|(_, _, id)| id == "YES").map(|(c, _, _)| c.clone()).collect::<Vec<_>>();
    let names: Vec<String> = columns.iter().map(|(c, _)| quote(c)).collect();
    let binds: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, ty))| if ty == "bytea" { format!("${}", i + 1) } else { format!("CAST(${} AS {ty})", i + 1) })
        .collect();
    let insert = format!(
        "INSERT INTO {} ({}) {}VALUES ({})",
        quote(table),
        names.join(", "),
        if identity.is_empty() { "" } else { "OVERRIDING SYSTEM VALUE " },
        binds.join(", ")
    );
    let select = format!("SELECT {} FROM {}", names.join(", "), quote(table));
    let rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch_all(&mut *src).await?;
    for row in &rows {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
        for (i, (name, ty)) in columns.iter().enumerate() {
            let cell = read_cell(row, i)?;
            q = match (ty.as_str(), cell) {
                ("bytea", Cell::Null) => q.bind(None::<Vec<u8>>),
                ("bytea", Cell::Blob(b)) => q.bind(b),
                ("bytea", Cell::Text(t)) => q.bind(t.into_bytes()),
                ("bytea", _) => {
                    return Err(AdminError::Refused(format!("{table}.{name}: a number where bytes belong")));
                }
                (_, Cell::Null) => q.bind(None::<String>),
                // SQLite keeps Decimals in an order-preserving fixed-width text.
                ("numeric", Cell::Text(t)) => q.bind(
                    crate::dialect::decimal::decode(&t)
                        .map_err(|e| AdminError::Refused(format!("{table}.{name}: {e}")))?
                        .normalize()
                        .to_string(),
                ),
                (_, Cell::Integer(n)) => q.bind(n.to_string()),
                (_, Cell::Real(x)) => q.bind(x.to_string()),
                (_, Cell::Text(t)) => q.bind(t),
                (_, Cell::Blob(b)) => q
                    .bind(String::from_utf8(b).map_err(|_| {
                        AdminError::Refused(format!("{table}.{name}: bytes where text belongs ({ty})"))
                    })?),
            };
        }
        q.execute(&mut *dst).await?;
    }
    // Explicit ids were inserted: the identity sequences continue after the largest.
    for column in identity {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            // `setval(max, true)`: the next is max + 1 (computed by the sequence, so a table
            // that holds the largest Long Integer does not overflow here); an empty table starts at 1.
            "SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(COALESCE(MAX({c}), 1), 1), MAX({c}) IS NOT NULL) FROM {t}",
            c = quote(&column),
            t = quote(table)
        )))
        .bind(quote(table))
        .bind(&column)
        .execute(&mut *dst)
        .await?;
    }
    Ok(rows.len() as u64)
}

/// Copies the SQLite data directory `from` (its `xif.db` and `packages/`; the server must not be
/// running on it) into the PostgreSQL database `to`, which must hold no rows: every state table,
/// the packages (into the database), the entity tables and their records, in one transaction,
/// then the identity sequences continue after the largest id copied. Secret settings are copied
/// sealed: the server on PostgreSQL needs the same secret key.
pub async fn import(from: &Path, to: &str) -> Result<ImportReport, AdminError> {
    if engine_of(Some(to))? != crate::Engine::Postgres {
        return Err(AdminError::Refused(format!(
            "import moves an SQLite data directory into PostgreSQL: give --database postgres://…, not {to:?}"
        )));
    }
    let mut src = sqlite_connect(&from.join(SQLITE_FILE), true).await?;
    refuse_postgres_with_rows(to).await?;
    migrate_postgres(to).await?;
    let mut dst = sqlx::PgConnection::connect(to).await?;
    let mut report = ImportReport::default();
    sqlx::query("BEGIN").execute(&mut dst).await?;
    let copied = copy_everything(&mut src, &mut dst, from, &mut report).await;
    match copied {
        Ok(()) => {
            sqlx::query("COMMIT").execute(&mut dst).await?;
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut dst).await;
            return Err(e);
        }
    }
    dst.close().await?;
    src.close().await?;
    Ok(report)
}

async fn copy_everything(
    src: &mut sqlx::SqliteConnection,
    dst: &mut sqlx::PgConnection,
    from: &Path,
    report: &mut ImportReport,
) -> Result<(), AdminError> {
    let mut tables: Vec<String> = sqlx::query_as::<_, (String,)>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *src)
    .await?
    .into_iter()
    .map(|(t,)| t)
    .collect();
    // The state tables in the order their references need, then any other, then the entity
    // tables (after `entity_tables`, which describes them).
    tables.sort_by_key(|t| {
        (is_entity_table(t), STATE_TABLES.iter().position(|s| s == t).unwrap_or(STATE_TABLES.len()), t.clone())
    });
    for table in &tables {
        if is_entity_table(table) {
            create_entity_table(src, dst, table).await?;
            report.entity_tables += 1;
        }
        let n = copy_table(src, dst, table).await?;
        report.tables.push((table.clone(), n));
    }
    // The packages, from their files into the database (once per digest).
    let digests: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT digest FROM versions ORDER BY digest").fetch_all(&mut *src).await?;
    for (digest,) in digests {
        if !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AdminError::Refused(format!("the database names a package {digest:?}: not a digest")));
        }
        let path = from.join(PACKAGES).join(format!("{digest}.xif"));
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        sqlx::query(
            "INSERT INTO packages (digest, size, bytes, stored_at) VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING",
        )
        .bind(&digest)
        .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        .bind(bytes)
        .bind(crate::now_ms())
        .execute(&mut *dst)
        .await?;
        report.packages += 1;
    }
    Ok(())
}

/// Applies the server's PostgreSQL migrations to `url`.
async fn migrate_postgres(url: &str) -> Result<(), AdminError> {
    let db = crate::Db::open(url).await?;
    db.close().await;
    Ok(())
}

/// Creates the PostgreSQL table of an entity table copied from SQLite, from the schema
/// `entity_tables` records for it: each of the SQLite table's columns as a publish would have
/// made it on PostgreSQL (retired columns included, so every stored value has its place).
async fn create_entity_table(
    src: &mut sqlx::SqliteConnection,
    dst: &mut sqlx::PgConnection,
    table: &str,
) -> Result<(), AdminError> {
    let id: i64 = table
        .strip_prefix("xe")
        .and_then(|rest| rest.split('_').next())
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| AdminError::Refused(format!("{table} is not an entity table's name")))?;
    let schema: Option<(String,)> =
        sqlx::query_as("SELECT schema FROM entity_tables WHERE id = $1").bind(id).fetch_optional(&mut *src).await?;
    let Some((schema,)) = schema else {
        return Err(AdminError::Refused(format!("the entity table {table} has no schema in entity_tables")));
    };
    let schema: xif_model::schema::EntitySchema = serde_json::from_str(&schema)
        .map_err(|e| AdminError::Refused(format!("the stored schema of entity table {id} is damaged: {e}")))?;
    let present: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(&mut *src).await?;
    let dialect = crate::dialect::Dialect(crate::Engine::Postgres);
    let mut columns = Vec::new();
    for (column,) in &present {
        let attribute = schema.attributes.iter().find(|a| a.column == *column).ok_or_else(|| {
            AdminError::Refused(format!("the entity table {table} has a column {column} its schema does not describe"))
        })?;
        columns.push(crate::entities::column_sql(dialect, attribute));
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE TABLE {} ({})", quote(table), columns.join(", "))))
        .execute(&mut *dst)
        .await?;
    Ok(())
}
