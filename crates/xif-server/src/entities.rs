//! Entity tables: provisioning and migrating them at publish, and the records of each extension's
//! own entities (the `xif:host/entities` store of its calls, and the HTTP record routes).
//!
//! - Where: one SQL table per entity, named `xe<id>_<generation>` after the row of
//!   `entity_tables` that describes it (its extension, its entity name and its schema as JSON,
//!   [`xif_model::schema::EntitySchema`]); columns are `c1`, `c2`… No user name reaches SQL.
//! - How values are stored (SQLite): Text as text, Integer and Long Integer as integers,
//!   Decimal as its canonical text (normalized, so every digit is kept and equal values are equal
//!   text), Boolean 0/1, Date `YYYY-MM-DD`, Time `HH:MM:SS`, Date Time `YYYY-MM-DDTHH:MM:SS.mmmZ`
//!   (fixed width, so text order is time order), Binary Data as a blob. Columns are `NOT NULL`
//!   with the attribute's default, so a record written by a version that does not know a newer
//!   attribute gets that attribute's default.
//! - Publish ([`provision`]): plans the change with [`xif_model::schema::plan`] (schemas only
//!   grow), refuses a change that would lose data unless forced, and applies the DDL inside the
//!   transaction that also activates the version, so a failed or interrupted publish leaves the
//!   old schema and data.
//! - Isolation: a [`Store`] is made for one extension's version and reaches only the tables of
//!   that extension's entities; entity names are looked up in its own definition.
//!
//! **Architecture Invariant:** besides `db.rs`, this is the only module that writes SQL; every
//! name in its SQL is an internal id.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Row as _;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};
use xif_model::schema::{self, EntitySchema, Step};
use xif_model::{Definition, Type, Value};
use xif_runtime::{Comparison, EntityStore, Query, StoreFuture};

use crate::db::{key, now_ms};
use crate::error::AppError;

/// The physical table of an entity row and generation.
pub fn table_name(id: i64, generation: u32) -> String {
    format!("xe{id}_{generation}")
}

/// The stored schemas of an extension's entities, with their row ids.
pub async fn load(conn: &mut SqliteConnection, extension: &str) -> Result<Vec<(i64, EntitySchema)>, AppError> {
    let rows = sqlx::query("SELECT id, schema FROM entity_tables WHERE extension_key = $1 ORDER BY id")
        .bind(key(extension))
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let text: String = r.try_get(1)?;
        let s: EntitySchema = serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("the stored schema of entity table {id} is damaged: {e}")))?;
        out.push((id, s));
    }
    Ok(out)
}

/// What [`provision`] did.
pub struct Provisioned {
    /// Every entity's schema after the change, with its row id.
    pub schemas: Vec<(i64, EntitySchema)>,
    /// The steps, in words.
    pub steps: Vec<String>,
    /// Changes made only because of `force`, in words.
    pub forced: Vec<String>,
}

/// A value as SQLite stores it.
#[derive(Clone, Debug)]
enum Sql {
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

fn encode(v: &Value) -> Sql {
    match v {
        Value::Text(s) => Sql::Text(s.clone()),
        Value::Integer(i) => Sql::Int(i64::from(*i)),
        Value::LongInteger(i) => Sql::Int(*i),
        Value::Decimal(d) => Sql::Text(d.normalize().to_string()),
        Value::Boolean(b) => Sql::Int(i64::from(*b)),
        Value::Date(d) => Sql::Text(d.format("%Y-%m-%d").to_string()),
        Value::Time(t) => Sql::Text(t.format("%H:%M:%S").to_string()),
        Value::DateTime(dt) => Sql::Text(dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        Value::Binary(b) => Sql::Blob(b.clone()),
        Value::Record(_) | Value::List(_) => Sql::Text(String::new()),
    }
}

fn decode(row: &SqliteRow, i: usize, ty: &Type) -> Result<Value, String> {
    use xif_model::value as mv;
    let text = || row.try_get::<String, _>(i).map_err(|e| e.to_string());
    let int = || row.try_get::<i64, _>(i).map_err(|e| e.to_string());
    Ok(match ty {
        Type::Text => Value::Text(text()?),
        Type::Integer => Value::Integer(i32::try_from(int()?).map_err(|_| "an Integer out of range".to_string())?),
        Type::LongInteger => Value::LongInteger(int()?),
        Type::Decimal => Value::Decimal(mv::parse_decimal(&text()?)?),
        Type::Boolean => Value::Boolean(int()? != 0),
        Type::Date => Value::Date(mv::parse_date(&text()?)?),
        Type::Time => Value::Time(mv::parse_time(&text()?)?),
        Type::DateTime => Value::DateTime(mv::parse_date_time(&text()?)?),
        Type::BinaryData => Value::Binary(row.try_get::<Vec<u8>, _>(i).map_err(|e| e.to_string())?),
        other => return Err(format!("{} is not stored in entities", other.display())),
    })
}

/// The SQL literal of a stored value (for `DEFAULT`).
fn literal(s: &Sql) -> String {
    match s {
        Sql::Int(i) => i.to_string(),
        Sql::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Sql::Blob(b) => format!("X'{}'", hex::encode(b)),
    }
}

fn affinity(ty: &Type) -> &'static str {
    match ty {
        Type::Integer | Type::LongInteger | Type::Boolean => "INTEGER",
        Type::BinaryData => "BLOB",
        _ => "TEXT",
    }
}

fn default_sql(a: &schema::AttributeSchema) -> Sql {
    let ty = a.basic_type();
    // The default was written by the model from a checked definition; a value that does not
    // read falls back to the type's default.
    let def = Definition {
        name: xif_model::Name { text: String::new(), span: 0..0 },
        description: None,
        structures: Vec::new(),
        actions: Vec::new(),
        settings: Vec::new(),
        entities: Vec::new(),
        resources: Vec::new(),
    };
    let v = xif_model::value::from_json(&def, &ty, &a.default, &a.name, None)
        .unwrap_or_else(|_| xif_model::value::default_of(&def, &ty));
    encode(&v)
}

fn column_sql(a: &schema::AttributeSchema) -> String {
    let ty = a.basic_type();
    if a.identifier {
        return match ty {
            Type::Integer | Type::LongInteger => format!("{} INTEGER PRIMARY KEY", a.column),
            _ => format!("{} TEXT PRIMARY KEY NOT NULL", a.column),
        };
    }
    format!("{} {} NOT NULL DEFAULT {}", a.column, affinity(&ty), literal(&default_sql(a)))
}

/// Plans and applies the schema change of a publish (or rollback) of `def` inside `tx`: refuses
/// (400 `schema_refused`, naming each attribute and why, at its line and column in `source`) a
/// change that would lose data unless `force`. Nothing is committed here.
pub async fn provision(
    tx: &mut SqliteConnection,
    def: &Definition,
    source: &str,
    rollback: bool,
    force: bool,
) -> Result<Provisioned, AppError> {
    let extension = &def.name.text;
    let current = load(tx, extension).await?;
    let schemas: Vec<EntitySchema> = current.iter().map(|(_, s)| s.clone()).collect();
    let plan = if rollback { schema::plan_rollback(&schemas, def) } else { schema::plan(&schemas, def, force) };
    let describe = |d: &xif_model::Diagnostic| match d.line_col(source) {
        Some((line, col)) => format!("extension.toml:{line}:{col}: error {}: {}", d.code, d.message),
        None => format!("extension.toml: error {}: {}", d.code, d.message),
    };
    if !plan.refused.is_empty() {
        let lines: Vec<String> = plan.refused.iter().map(describe).collect();
        let how = if rollback {
            "the stored records cannot be read by that version"
        } else {
            "publish with `force=true` to override (no stored value is changed or dropped)"
        };
        return Err(AppError::bad(
            "schema_refused",
            format!("the entity schema change would lose or corrupt data:\n{}\n{how}", lines.join("\n")),
        ));
    }
    let now = now_ms();
    let mut ids: HashMap<String, i64> = HashMap::new();
    for (id, s) in &current {
        ids.insert(key(&s.name), *id);
    }
    let mut out = Vec::new();
    // Rows first (a new entity gets its id), then the DDL, then the schemas.
    for s in &plan.entities {
        let id = match current.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(&s.name)) {
            Some((id, _)) => *id,
            None => {
                let row = sqlx::query(
                    "INSERT INTO entity_tables (extension_key, entity_key, schema, created_at, updated_at) VALUES ($1, $2, '{}', $3, $3) RETURNING id",
                )
                .bind(key(extension))
                .bind(key(&s.name))
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                row.try_get(0)?
            }
        };
        ids.insert(key(&s.name), id);
        out.push((id, s.clone()));
    }
    for step in &plan.steps {
        match step {
            Step::CreateTable { entity } => {
                let (id, s) = find(&out, entity)?;
                let columns: Vec<String> = s.attributes.iter().filter(|a| !a.retired).map(column_sql).collect();
                let sql = format!("CREATE TABLE {} ({})", table_name(id, s.generation), columns.join(", "));
                sqlx::query(audited(sql)).execute(&mut *tx).await?;
            }
            Step::AddColumn { entity, attribute } => {
                let (id, s) = find(&out, entity)?;
                let a = s
                    .attributes
                    .iter()
                    .rev()
                    .find(|a| !a.retired && a.name.eq_ignore_ascii_case(attribute))
                    .ok_or_else(|| AppError::Internal(format!("planned attribute {entity}.{attribute} is missing")))?;
                let sql = format!("ALTER TABLE {} ADD COLUMN {}", table_name(id, s.generation), column_sql(a));
                sqlx::query(audited(sql)).execute(&mut *tx).await?;
            }
            Step::Describe { .. } => {}
        }
    }
    for (id, s) in &out {
        let text = serde_json::to_string(s).map_err(AppError::internal)?;
        sqlx::query("UPDATE entity_tables SET entity_key = $1, schema = $2, updated_at = $3 WHERE id = $4")
            .bind(key(&s.name))
            .bind(text)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(Provisioned {
        schemas: out,
        steps: plan.steps.iter().map(Step::describe).collect(),
        forced: plan.forced.iter().map(describe).collect(),
    })
}

/// Drops every entity table of an extension, every generation of each, with its records, and
/// forgets their schemas, inside the caller's transaction (deleting the extension), so that an
/// extension created later under the same name starts with no tables and no records. Returns
/// the tables dropped.
pub async fn drop_tables(tx: &mut SqliteConnection, extension: &str) -> Result<Vec<String>, AppError> {
    let mut dropped = Vec::new();
    for (id, s) in load(tx, extension).await? {
        // Older generations are kept (unused) by forced publishes: all of them go.
        for generation in 0..=s.generation {
            let table = table_name(id, generation);
            sqlx::query(audited(format!("DROP TABLE IF EXISTS {table}"))).execute(&mut *tx).await?;
            dropped.push(table);
        }
    }
    sqlx::query("DELETE FROM entity_tables WHERE extension_key = $1").bind(key(extension)).execute(&mut *tx).await?;
    Ok(dropped)
}

/// The entities whose tables an extension has (names as last published).
pub async fn entity_names(conn: &mut SqliteConnection, extension: &str) -> Result<Vec<String>, AppError> {
    Ok(load(conn, extension).await?.into_iter().map(|(_, s)| s.name).collect())
}

fn find<'a>(out: &'a [(i64, EntitySchema)], entity: &str) -> Result<(i64, &'a EntitySchema), AppError> {
    out.iter()
        .find(|(_, s)| s.name == *entity)
        .map(|(id, s)| (*id, s))
        .ok_or_else(|| AppError::Internal(format!("planned entity {entity} is missing")))
}

/// Pauses the server here when the environment variable `XIF_FAILPOINT` is `NAME:pause` (a test
/// switch): writes `failpoint-NAME` into the data directory, then waits forever, so that a test
/// can kill the process at this exact point.
pub async fn failpoint(name: &str, data_dir: &std::path::Path) {
    let Ok(wanted) = std::env::var("XIF_FAILPOINT") else { return };
    if wanted != format!("{name}:pause") {
        return;
    }
    let marker = data_dir.join(format!("failpoint-{name}"));
    if let Err(e) = std::fs::write(&marker, std::process::id().to_string()) {
        tracing::error!(error = %e, "could not write the failpoint marker {}", marker.display());
    }
    tracing::warn!("failpoint {name}: paused (XIF_FAILPOINT)");
    std::future::pending::<()>().await;
}

/// How one attribute of the calling version's entity is stored.
#[derive(Clone, Debug)]
struct Column {
    /// The name in the calling version's definition.
    name: String,
    column: String,
    /// The calling version's type (resolved).
    ty: Type,
    /// The stored Text length (the widest published), when limited.
    max_chars: Option<i64>,
}

/// How one entity of the calling version is stored.
#[derive(Clone, Debug)]
struct Table {
    name: String,
    table: String,
    columns: Vec<Column>,
    /// Index of the identifier in `columns`.
    id: usize,
    auto_number: bool,
}

/// The records of one extension's entities, as one version of it sees them: the attributes of
/// its definition, in its order. Made at activation; cheap to share.
pub struct Store {
    pool: SqlitePool,
    extension: String,
    tables: Vec<Table>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("extension", &self.extension).finish_non_exhaustive()
    }
}

impl Store {
    /// The store of `def`'s entities, over the stored `schemas` of its extension.
    pub fn new(pool: SqlitePool, def: &Definition, schemas: &[(i64, EntitySchema)]) -> Result<Store, AppError> {
        let mut tables = Vec::new();
        for e in &def.entities {
            let (id, s) = schemas
                .iter()
                .find(|(_, s)| s.name.eq_ignore_ascii_case(&e.name.text))
                .ok_or_else(|| AppError::Internal(format!("entity {} has no table", e.name.text)))?;
            let mut columns = Vec::new();
            let mut idx = 0;
            for a in &e.attributes {
                let stored = s
                    .attribute(&a.name.text)
                    .or_else(|| s.attributes.iter().find(|x| !x.retired && x.name.eq_ignore_ascii_case(&a.name.text)));
                let stored = stored.ok_or_else(|| {
                    AppError::Internal(format!("attribute {}.{} has no column", e.name.text, a.name.text))
                })?;
                let ty = a.parsed.as_ref().and_then(|t| def.resolve(t)).unwrap_or(Type::Text);
                if a.identifier {
                    idx = columns.len();
                }
                let max_chars = if ty == Type::Text { stored.length } else { None };
                columns.push(Column { name: a.name.text.clone(), column: stored.column.clone(), ty, max_chars });
            }
            tables.push(Table {
                name: e.name.text.clone(),
                table: table_name(*id, s.generation),
                columns,
                id: idx,
                auto_number: e.identifier().is_some_and(|i| i.auto_number_on()),
            });
        }
        Ok(Store { pool, extension: def.name.text.clone(), tables })
    }

    fn table(&self, entity: &str) -> Result<&Table, String> {
        self.tables
            .iter()
            .find(|t| t.name == entity)
            .or_else(|| self.tables.iter().find(|t| t.name.eq_ignore_ascii_case(entity)))
            .ok_or_else(|| {
                let known: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
                format!(
                    "extension {} has no entity {entity}; its entities: {}",
                    self.extension,
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                )
            })
    }

    /// The entity names of this version, in definition order.
    pub fn entity_names(&self) -> Vec<&str> {
        self.tables.iter().map(|t| t.name.as_str()).collect()
    }

    fn check(t: &Table, values: &[Value]) -> Result<(), String> {
        if values.len() != t.columns.len() {
            return Err(format!("a {} record has {} values, not {}", t.name, t.columns.len(), values.len()));
        }
        for (c, v) in t.columns.iter().zip(values) {
            if let (Some(max), Value::Text(s)) = (c.max_chars, v) {
                let n = s.chars().count() as i64;
                if n > max {
                    return Err(format!(
                        "{}.{}: text of {n} characters is longer than the length {max}",
                        t.name, c.name
                    ));
                }
            }
        }
        Ok(())
    }

    fn select(t: &Table) -> String {
        let cols: Vec<&str> = t.columns.iter().map(|c| c.column.as_str()).collect();
        format!("SELECT {} FROM {}", cols.join(", "), t.table)
    }

    fn row(t: &Table, row: &SqliteRow) -> Result<Vec<Value>, String> {
        t.columns
            .iter()
            .enumerate()
            .map(|(i, c)| decode(row, i, &c.ty).map_err(|e| format!("{}.{}: {e}", t.name, c.name)))
            .collect()
    }

    /// Stores a new record.
    pub async fn create_record(&self, entity: &str, values: Vec<Value>) -> Result<Vec<Value>, String> {
        self.create_before(entity, values, record_route_deadline()).await
    }

    /// Stores a new record, stopping at `deadline`.
    pub async fn create_before(
        &self,
        entity: &str,
        mut values: Vec<Value>,
        deadline: Instant,
    ) -> Result<Vec<Value>, String> {
        let t = self.table(entity)?;
        Self::check(t, &values)?;
        let assign = t.auto_number && matches!(values[t.id], Value::Integer(0) | Value::LongInteger(0));
        let cols: Vec<(usize, &Column)> =
            t.columns.iter().enumerate().filter(|(i, _)| !(assign && *i == t.id)).collect();
        let names: Vec<&str> = cols.iter().map(|(_, c)| c.column.as_str()).collect();
        let binds: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let sql = format!("INSERT INTO {} ({}) VALUES ({})", t.table, names.join(", "), binds.join(", "));
        let mut q = sqlx::query(audited(sql));
        for (i, _) in &cols {
            q = bind(q, encode(&values[*i]));
        }
        let mut c = Timed::start(&self.pool, deadline).await?;
        let done = q.execute(c.conn()?).await;
        c.done().await;
        let done = done.map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                format!("a {} record with this {} exists already", t.name, t.columns[t.id].name)
            }
            other => timed_error(other, deadline),
        })?;
        if assign {
            let id = done.last_insert_rowid();
            values[t.id] = match t.columns[t.id].ty {
                Type::Integer => Value::Integer(i32::try_from(id).map_err(|_| "the identifier outgrew Integer")?),
                _ => Value::LongInteger(id),
            };
        }
        Ok(values)
    }

    /// The record with this identifier.
    pub async fn get_record(&self, entity: &str, id: Value) -> Result<Option<Vec<Value>>, String> {
        self.get_before(entity, id, record_route_deadline()).await
    }

    /// The record with this identifier, stopping at `deadline`.
    pub async fn get_before(&self, entity: &str, id: Value, deadline: Instant) -> Result<Option<Vec<Value>>, String> {
        let t = self.table(entity)?;
        let sql = format!("{} WHERE {} = $1", Self::select(t), t.columns[t.id].column);
        let mut c = Timed::start(&self.pool, deadline).await?;
        let row = bind(sqlx::query(audited(sql)), encode(&id)).fetch_optional(c.conn()?).await;
        c.done().await;
        let row = row.map_err(|e| timed_error(e, deadline))?;
        row.map(|r| Self::row(t, &r)).transpose()
    }

    /// Replaces the record with the same identifier.
    pub async fn update_record(&self, entity: &str, values: Vec<Value>) -> Result<bool, String> {
        self.update_before(entity, values, record_route_deadline()).await
    }

    /// Replaces the record with the same identifier, stopping at `deadline`.
    pub async fn update_before(&self, entity: &str, values: Vec<Value>, deadline: Instant) -> Result<bool, String> {
        let t = self.table(entity)?;
        Self::check(t, &values)?;
        let mut sets = Vec::new();
        let mut q_values = Vec::new();
        for (i, c) in t.columns.iter().enumerate().filter(|(i, _)| *i != t.id) {
            q_values.push(encode(&values[i]));
            sets.push(format!("{} = ${}", c.column, q_values.len()));
        }
        q_values.push(encode(&values[t.id]));
        let sql = format!(
            "UPDATE {} SET {} WHERE {} = ${}",
            t.table,
            sets.join(", "),
            t.columns[t.id].column,
            q_values.len()
        );
        let mut q = sqlx::query(audited(sql));
        for v in q_values {
            q = bind(q, v);
        }
        let mut c = Timed::start(&self.pool, deadline).await?;
        let done = q.execute(c.conn()?).await;
        c.done().await;
        Ok(done.map_err(|e| timed_error(e, deadline))?.rows_affected() > 0)
    }

    /// Deletes the record with this identifier.
    pub async fn delete_record(&self, entity: &str, id: Value) -> Result<bool, String> {
        self.delete_before(entity, id, record_route_deadline()).await
    }

    /// Deletes the record with this identifier, stopping at `deadline`.
    pub async fn delete_before(&self, entity: &str, id: Value, deadline: Instant) -> Result<bool, String> {
        let t = self.table(entity)?;
        let sql = format!("DELETE FROM {} WHERE {} = $1", t.table, t.columns[t.id].column);
        let mut c = Timed::start(&self.pool, deadline).await?;
        let done = bind(sqlx::query(audited(sql)), encode(&id)).execute(c.conn()?).await;
        c.done().await;
        Ok(done.map_err(|e| timed_error(e, deadline))?.rows_affected() > 0)
    }

    /// The records that match, one page. Decimals compare exactly for equality and by their
    /// numeric value (as REAL) for order.
    pub async fn query_records(&self, entity: &str, q: Query) -> Result<Vec<Vec<Value>>, String> {
        self.query_before(entity, q, record_route_deadline()).await
    }

    /// The records that match, one page, stopping at `deadline`.
    pub async fn query_before(&self, entity: &str, q: Query, deadline: Instant) -> Result<Vec<Vec<Value>>, String> {
        let t = self.table(entity)?;
        let col = |name: &str| {
            t.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("entity {} has no attribute {name}", t.name))
        };
        let mut wheres = Vec::new();
        let mut binds = Vec::new();
        for f in &q.filters {
            let c = col(&f.attribute)?;
            binds.push(encode(&f.value));
            let n = binds.len();
            let numeric = c.ty == Type::Decimal;
            let expr = |op: &str| {
                if numeric && op != "=" && op != "<>" {
                    format!("CAST({} AS REAL) {op} CAST(${n} AS REAL)", c.column)
                } else {
                    format!("{} {op} ${n}", c.column)
                }
            };
            wheres.push(match f.comparison {
                Comparison::Equal => expr("="),
                Comparison::NotEqual => expr("<>"),
                Comparison::Less => expr("<"),
                Comparison::LessOrEqual => expr("<="),
                Comparison::Greater => expr(">"),
                Comparison::GreaterOrEqual => expr(">="),
                Comparison::Contains => format!("instr({}, ${n}) > 0", c.column),
            });
        }
        let mut orders = Vec::new();
        for (name, desc) in &q.order_by {
            let c = col(name)?;
            let e = if c.ty == Type::Decimal { format!("CAST({} AS REAL)", c.column) } else { c.column.clone() };
            orders.push(format!("{e} {}", if *desc { "DESC" } else { "ASC" }));
        }
        orders.push(format!("{} ASC", t.columns[t.id].column));
        let mut sql = Self::select(t);
        if !wheres.is_empty() {
            sql.push_str(&format!(" WHERE {}", wheres.join(" AND ")));
        }
        sql.push_str(&format!(
            " ORDER BY {} LIMIT ${} OFFSET ${}",
            orders.join(", "),
            binds.len() + 1,
            binds.len() + 2
        ));
        let mut query = sqlx::query(audited(sql));
        for b in binds {
            query = bind(query, b);
        }
        let mut c = Timed::start(&self.pool, deadline).await?;
        let rows = query.bind(i64::from(q.limit)).bind(i64::from(q.offset)).fetch_all(c.conn()?).await;
        c.done().await;
        let rows = rows.map_err(|e| timed_error(e, deadline))?;
        rows.iter().map(|r| Self::row(t, r)).collect()
    }

    /// The attributes of `entity` in this version: (name, type) in order, and the identifier's index.
    pub fn attributes(&self, entity: &str) -> Result<(Vec<(String, Type)>, usize), String> {
        let t = self.table(entity)?;
        Ok((t.columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect(), t.id))
    }
}

/// SQL built here names only internal tables and columns (`xe<id>_<generation>`, `c<n>`) and
/// literals this module writes (defaults escaped by [`literal`]); every value from a user is a bind.
fn audited(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// How long a record route's database work may take.
pub const RECORD_ROUTE_TIME: Duration = Duration::from_secs(10);

fn record_route_deadline() -> Instant {
    Instant::now() + RECORD_ROUTE_TIME
}

/// The pool's usual wait for a lock (as `db.rs` opens it).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const TIME_UP: &str = "the call's time limit ran out during this entity operation";

/// The error of a statement that ran under a deadline: past it, SQLite was interrupted.
fn timed_error(e: sqlx::Error, deadline: Instant) -> String {
    if Instant::now() >= deadline {
        return TIME_UP.to_string();
    }
    store_error(e)
}

/// A pooled connection whose statements SQLite interrupts at a deadline (a progress handler,
/// checked every 1000 virtual machine instructions), so a call's time limit bounds the database
/// work it started even when the call has stopped waiting for it. Back in the pool without the
/// handler after [`Timed::done`]; closed, never reused, when dropped before.
struct Timed {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
}

impl Timed {
    async fn start(pool: &SqlitePool, deadline: Instant) -> Result<Timed, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TIME_UP.to_string());
        }
        let mut conn =
            tokio::time::timeout(left, pool.acquire()).await.map_err(|_| TIME_UP.to_string())?.map_err(store_error)?;
        // Closed unless `done` gives it back.
        let mut timed = Timed { conn: None };
        {
            let mut handle = conn.lock_handle().await.map_err(store_error)?;
            handle.set_progress_handler(1000, move || Instant::now() < deadline);
        }
        // SQLite's wait for a lock is not interrupted by the handler: bound it by the deadline too.
        let busy = format!("PRAGMA busy_timeout = {}", left.as_millis().max(1));
        timed.conn = Some(conn);
        sqlx::query(audited(busy)).execute(timed.conn()?).await.map_err(store_error)?;
        Ok(timed)
    }

    fn conn(&mut self) -> Result<&mut SqliteConnection, String> {
        self.conn.as_deref_mut().ok_or_else(|| "the entity store's connection is gone".to_string())
    }

    /// Removes the handler and gives the connection back to the pool.
    async fn done(mut self) {
        // Dropped half-way (the call stopped waiting), `self` closes the connection.
        let Some(conn) = self.conn.as_mut() else { return };
        let unhooked = match conn.lock_handle().await {
            Ok(mut handle) => {
                handle.remove_progress_handler();
                true
            }
            Err(_) => false,
        };
        let busy = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
        if unhooked && sqlx::query(audited(busy)).execute(&mut **conn).await.is_ok() {
            // Back to the pool as it came.
            drop(self.conn.take());
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_on_drop();
        }
    }
}

fn store_error(e: sqlx::Error) -> String {
    tracing::error!(error = %e, "entity store");
    "the server could not reach the entity's records (its log says why)".to_string()
}

type SqlQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

fn bind(q: SqlQuery<'_>, v: Sql) -> SqlQuery<'_> {
    match v {
        Sql::Int(i) => q.bind(i),
        Sql::Text(s) => q.bind(s),
        Sql::Blob(b) => q.bind(b),
    }
}

impl EntityStore for Store {
    fn create<'a>(&'a self, entity: &'a str, record: Vec<Value>, deadline: Instant) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(self.create_before(entity, record, deadline))
    }
    fn get<'a>(&'a self, entity: &'a str, id: Value, deadline: Instant) -> StoreFuture<'a, Option<Vec<Value>>> {
        Box::pin(self.get_before(entity, id, deadline))
    }
    fn update<'a>(&'a self, entity: &'a str, record: Vec<Value>, deadline: Instant) -> StoreFuture<'a, bool> {
        Box::pin(self.update_before(entity, record, deadline))
    }
    fn delete<'a>(&'a self, entity: &'a str, id: Value, deadline: Instant) -> StoreFuture<'a, bool> {
        Box::pin(self.delete_before(entity, id, deadline))
    }
    fn query<'a>(&'a self, entity: &'a str, query: Query, deadline: Instant) -> StoreFuture<'a, Vec<Vec<Value>>> {
        Box::pin(self.query_before(entity, query, deadline))
    }
}

/// The store of a version as the runtime takes it.
pub fn access(store: &Arc<Store>) -> xif_runtime::EntityAccess {
    store.clone()
}
