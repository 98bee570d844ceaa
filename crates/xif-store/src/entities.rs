//! Entity tables: provisioning and migrating them at publish, and the records of each extension's
//! own entities (the server's `xif:host/entities` store and its HTTP record routes).
//!
//! - Where: one SQL table per entity, named `xe<id>_<generation>` after the row of
//!   `entity_tables` that describes it (its extension, its entity name and its schema as JSON,
//!   [`xif_model::schema::EntitySchema`]); columns are `c1`, `c2`… No user name reaches SQL.
//! - How values are stored: [`crate::dialect`] (per engine). Columns are `NOT NULL` with the
//!   attribute's default, so a record written by a version that does not know a newer attribute
//!   gets that attribute's default.
//! - Publish ([`Db::provision_and_activate`]): plans the change with
//!   [`xif_model::schema::plan`] (schemas only grow), refuses a change that would lose data
//!   unless forced, and applies the DDL inside the transaction that also activates the version,
//!   so a failed or interrupted publish leaves the old schema and data.
//! - Isolation: a [`Store`] is made for one extension's version and reaches only the tables of
//!   that extension's entities; entity names are looked up in its own definition.
//! - Deadlines: every record operation runs on a connection bounded by the caller's deadline
//!   (`Timed`): on SQLite a progress handler interrupts the statement and the busy timeout is cut
//!   to what is left; on PostgreSQL `statement_timeout` is set to what is left.
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use sqlx::Row as _;
use xif_model::schema::{self, EntitySchema, Step};
use xif_model::{Definition, Type, Value};

use crate::db::{Activation, BUSY_TIMEOUT, NewPublish, Tx, activate_as};
use crate::dialect::{Dialect, Sql, decimal, decode};
use crate::{Db, Engine, Error, key, now_ms};

/// The physical table of an entity row and generation.
pub fn table_name(id: i64, generation: u32) -> String {
    format!("xe{id}_{generation}")
}

/// What a publish's schema step did.
#[derive(Clone, Debug)]
pub struct Provisioned {
    /// Every entity's schema after the change, with its row id.
    pub schemas: Vec<(i64, EntitySchema)>,
    /// The steps, in words.
    pub steps: Vec<String>,
    /// Changes made only because of `force`, in words.
    pub forced: Vec<String>,
}

/// The schema change of one publish (or rollback).
#[derive(Clone, Copy, Debug)]
pub struct SchemaChange<'a> {
    /// The definition being published.
    pub def: &'a Definition,
    /// Its `extension.toml` text (refusals name lines and columns in it).
    pub source: &'a str,
    /// A rollback ([`xif_model::schema::plan_rollback`]) rather than a publish.
    pub rollback: bool,
    /// Apply a change that would otherwise be refused (`--force-schema`).
    pub force: bool,
}

async fn load(conn: &mut AnyConnection, extension: &str) -> Result<Vec<(i64, EntitySchema)>, Error> {
    let rows = sqlx::query("SELECT id, schema FROM entity_tables WHERE extension_key = $1 ORDER BY id")
        .bind(key(extension))
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let text: String = r.try_get(1)?;
        let s: EntitySchema = serde_json::from_str(&text)
            .map_err(|e| Error::Damaged(format!("the stored schema of entity table {id}: {e}")))?;
        out.push((id, s));
    }
    Ok(out)
}

fn default_sql(d: Dialect, a: &schema::AttributeSchema) -> Sql {
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
    d.encode(&v)
}

pub(crate) fn column_sql(d: Dialect, a: &schema::AttributeSchema) -> String {
    let ty = a.basic_type();
    if a.identifier {
        return d.identifier_column(&a.column, &ty, a.auto_number);
    }
    format!("{} {} NOT NULL DEFAULT {}", a.column, d.column_type(&ty), d.literal(&default_sql(d, a), &ty))
}

/// SQL built here names only internal tables and columns (`xe<id>_<generation>`, `c<n>`) and
/// literals this module writes (defaults escaped by [`Dialect::literal`]); every value from a
/// user is a bind.
fn audited(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

fn find<'a>(out: &'a [(i64, EntitySchema)], entity: &str) -> Result<(i64, &'a EntitySchema), Error> {
    out.iter()
        .find(|(_, s)| s.name == *entity)
        .map(|(id, s)| (*id, s))
        .ok_or_else(|| Error::Damaged(format!("planned entity {entity} is missing")))
}

impl Db {
    /// The stored schemas of an extension's entities, with their row ids.
    pub async fn entity_schemas(&self, extension: &str) -> Result<Vec<(i64, EntitySchema)>, Error> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, extension).await
    }

    /// The entities whose tables an extension has (names as last published).
    pub async fn entity_names(&self, extension: &str) -> Result<Vec<String>, Error> {
        Ok(self.entity_schemas(extension).await?.into_iter().map(|(_, s)| s.name).collect())
    }

    /// One publish's last step, in one transaction: locks the extension (PostgreSQL: its row,
    /// so publishes of one extension on every node run one after the other), applies the entity
    /// schema plan of `change` (refusing, [`Error::SchemaRefused`], a change that would lose
    /// data unless forced), runs `between` (the caller's events, its failpoint, its store for the
    /// new version; an error there rolls everything back), then makes `number` the active
    /// version with the log entry `between` returns, and commits.
    pub async fn provision_and_activate<'l, T, E, F>(
        &self,
        change: SchemaChange<'_>,
        extension_id: i64,
        number: i64,
        how: Activation<'_>,
        between: F,
    ) -> Result<T, E>
    where
        E: From<Error>,
        F: AsyncFnOnce(&Provisioned) -> Result<(T, NewPublish<'l>), E>,
    {
        let mut tx = self.begin().await.map_err(E::from)?;
        self.lock_extension(&mut tx, extension_id).await.map_err(E::from)?;
        let provisioned = self.provision(&mut tx, change).await.map_err(E::from)?;
        let (out, log) = between(&provisioned).await?;
        activate_as(&mut tx, extension_id, number, how, &log).await.map_err(E::from)?;
        tx.commit().await.map_err(|e| E::from(Error::from(e)))?;
        Ok(out)
    }

    async fn provision(&self, tx: &mut Tx, change: SchemaChange<'_>) -> Result<Provisioned, Error> {
        let d = self.dialect;
        let def = change.def;
        let extension = &def.name.text;
        let current = load(tx, extension).await?;
        let schemas: Vec<EntitySchema> = current.iter().map(|(_, s)| s.clone()).collect();
        let plan = if change.rollback {
            schema::plan_rollback(&schemas, def)
        } else {
            schema::plan(&schemas, def, change.force)
        };
        let describe = |diag: &xif_model::Diagnostic| match diag.line_col(change.source) {
            Some((line, col)) => format!("extension.toml:{line}:{col}: error {}: {}", diag.code, diag.message),
            None => format!("extension.toml: error {}: {}", diag.code, diag.message),
        };
        if !plan.refused.is_empty() {
            let lines: Vec<String> = plan.refused.iter().map(describe).collect();
            let how = if change.rollback {
                "the stored records cannot be read by that version"
            } else {
                "publish with `force=true` to override (no stored value is changed or dropped)"
            };
            return Err(Error::SchemaRefused(format!(
                "the entity schema change would lose or corrupt data:\n{}\n{how}",
                lines.join("\n")
            )));
        }
        let now = now_ms();
        let mut out = Vec::new();
        // Rows first (a new entity gets its id), then the DDL, then the schemas.
        for s in &plan.entities {
            let id = match current.iter().find(|(_, c)| c.name.eq_ignore_ascii_case(&s.name)) {
                Some((id, _)) => *id,
                None => sqlx::query(
                    "INSERT INTO entity_tables (extension_key, entity_key, schema, created_at, updated_at) VALUES ($1, $2, '{}', $3, $3) RETURNING id",
                )
                .bind(key(extension))
                .bind(key(&s.name))
                .bind(now)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?,
            };
            out.push((id, s.clone()));
        }
        for step in &plan.steps {
            match step {
                Step::CreateTable { entity } => {
                    let (id, s) = find(&out, entity)?;
                    let columns: Vec<String> =
                        s.attributes.iter().filter(|a| !a.retired).map(|a| column_sql(d, a)).collect();
                    let sql = format!("CREATE TABLE {} ({})", table_name(id, s.generation), columns.join(", "));
                    sqlx::query(audited(sql)).execute(&mut **tx).await?;
                }
                Step::AddColumn { entity, attribute } => {
                    let (id, s) = find(&out, entity)?;
                    let a = s
                        .attributes
                        .iter()
                        .rev()
                        .find(|a| !a.retired && a.name.eq_ignore_ascii_case(attribute))
                        .ok_or_else(|| Error::Damaged(format!("planned attribute {entity}.{attribute} is missing")))?;
                    let sql = format!("ALTER TABLE {} ADD COLUMN {}", table_name(id, s.generation), column_sql(d, a));
                    sqlx::query(audited(sql)).execute(&mut **tx).await?;
                }
                Step::Describe { .. } => {}
            }
        }
        for (id, s) in &out {
            let text = serde_json::to_string(s).map_err(|e| Error::Damaged(e.to_string()))?;
            sqlx::query("UPDATE entity_tables SET entity_key = $1, schema = $2, updated_at = $3 WHERE id = $4")
                .bind(key(&s.name))
                .bind(text)
                .bind(now)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(Provisioned {
            schemas: out,
            steps: plan.steps.iter().map(Step::describe).collect(),
            forced: plan.forced.iter().map(describe).collect(),
        })
    }

    /// The store of `def`'s entities, over the stored `schemas` of its extension.
    pub fn entity_store(&self, def: &Definition, schemas: &[(i64, EntitySchema)]) -> Result<Store, Error> {
        let mut tables = Vec::new();
        for e in &def.entities {
            let (id, s) = schemas
                .iter()
                .find(|(_, s)| s.name.eq_ignore_ascii_case(&e.name.text))
                .ok_or_else(|| Error::Damaged(format!("entity {} has no table", e.name.text)))?;
            let mut columns = Vec::new();
            let mut idx = 0;
            for a in &e.attributes {
                let stored = s
                    .attribute(&a.name.text)
                    .or_else(|| s.attributes.iter().find(|x| !x.retired && x.name.eq_ignore_ascii_case(&a.name.text)));
                let stored = stored.ok_or_else(|| {
                    Error::Damaged(format!("attribute {}.{} has no column", e.name.text, a.name.text))
                })?;
                let ty = a.parsed.as_ref().and_then(|t| def.resolve(t)).unwrap_or(Type::Text);
                if a.identifier {
                    idx = columns.len();
                }
                let max_chars = if ty == Type::Text { stored.length } else { None };
                columns.push(Column { name: a.name.text.clone(), column: stored.column.clone(), ty, max_chars });
            }
            // Decimal columns this version does not know get their default written in the
            // current encoding (a table made before it has the old text as its DEFAULT).
            let extras = if self.dialect.0 == Engine::Sqlite {
                s.attributes
                    .iter()
                    .filter(|x| !x.retired && x.basic_type() == Type::Decimal)
                    .filter(|x| !columns.iter().any(|c| c.column == x.column))
                    .map(|x| (x.column.clone(), default_sql(self.dialect, x)))
                    .collect()
            } else {
                Vec::new()
            };
            tables.push(Table {
                name: e.name.text.clone(),
                table: table_name(*id, s.generation),
                columns,
                extras,
                id: idx,
                auto_number: e.identifier().is_some_and(|i| i.auto_number_on()),
            });
        }
        Ok(Store { db: self.clone(), extension: def.name.text.clone(), tables })
    }
}

/// Drops every entity table of an extension, every generation of each, with its records, and
/// forgets their schemas, inside `tx` (deleting the extension), so that an extension created
/// later under the same name starts with no tables and no records. Returns the tables dropped.
pub(crate) async fn drop_tables(_db: &Db, tx: &mut Tx, extension: &str) -> Result<Vec<String>, Error> {
    let mut dropped = Vec::new();
    for (id, s) in load(tx, extension).await? {
        // Older generations are kept (unused) by forced publishes: all of them go.
        for generation in 0..=s.generation {
            let table = table_name(id, generation);
            sqlx::query(audited(format!("DROP TABLE IF EXISTS {table}"))).execute(&mut **tx).await?;
            dropped.push(table);
        }
    }
    sqlx::query("DELETE FROM entity_tables WHERE extension_key = $1").bind(key(extension)).execute(&mut **tx).await?;
    Ok(dropped)
}

/// Rewrites, once, the Decimal values an earlier server stored as canonical text into the
/// order-preserving form of [`crate::dialect::decimal`] (SQLite; a no-op when done), in one
/// transaction, so that ordering and comparison filters are exact on old records too.
pub(crate) async fn reencode_decimals(db: &Db) -> Result<(), Error> {
    let mut tx = db.begin().await?;
    let rows = sqlx::query("SELECT id, schema FROM entity_tables ORDER BY id").fetch_all(&mut *tx).await?;
    let mut changed = 0usize;
    for r in rows {
        let id: i64 = r.try_get(0)?;
        let text: String = r.try_get(1)?;
        let Ok(s) = serde_json::from_str::<EntitySchema>(&text) else { continue };
        let table = table_name(id, s.generation);
        for a in s.attributes.iter().filter(|a| !a.retired && a.basic_type() == Type::Decimal) {
            let old = sqlx::query(audited(format!(
                "SELECT DISTINCT {c} FROM {table} WHERE length({c}) <> 59 OR substr({c}, 1, 1) NOT IN ('p', 'n')",
                c = a.column
            )))
            .fetch_all(&mut *tx)
            .await?;
            for row in old {
                let value: String = row.try_get(0)?;
                let Ok(d) = xif_model::value::parse_decimal(&value) else { continue };
                sqlx::query(audited(format!("UPDATE {table} SET {c} = $1 WHERE {c} = $2", c = a.column)))
                    .bind(decimal::encode(&d))
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                changed += 1;
            }
        }
    }
    tx.commit().await?;
    if changed > 0 {
        tracing::info!(values = changed, "stored Decimal values re-encoded in their order-preserving form");
    }
    Ok(())
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
    /// Columns the version does not know, written with their default on insert.
    extras: Vec<(String, Sql)>,
    /// Index of the identifier in `columns`.
    id: usize,
    auto_number: bool,
}

/// How to compare in a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// `=`
    Equal,
    /// `<>`
    NotEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// Text contains the value (case-sensitive).
    Contains,
}

/// One filter of a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// The attribute's name.
    pub attribute: String,
    /// How to compare.
    pub comparison: Comparison,
    /// With what (of the attribute's type).
    pub value: Value,
}

/// A query: filters (all must hold), ordering, paging.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Query {
    /// Filters, all of which must hold.
    pub filters: Vec<Filter>,
    /// Attribute names to order by, with `true` for descending; the identifier breaks ties.
    pub order_by: Vec<(String, bool)>,
    /// Records to skip.
    pub offset: u32,
    /// Most records to return.
    pub limit: u32,
}

/// The records of one extension's entities, as one version of it sees them: the attributes of
/// its definition, in its order. Made at activation; cheap to share. Errors are messages for
/// the caller (the guest or the record route); the database's own error goes to the log.
pub struct Store {
    db: Db,
    extension: String,
    tables: Vec<Table>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("extension", &self.extension).finish_non_exhaustive()
    }
}

impl Store {
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

    fn select(&self, t: &Table) -> String {
        let cols: Vec<String> = t.columns.iter().map(|c| self.db.dialect.select(&c.column, &c.ty)).collect();
        format!("SELECT {} FROM {}", cols.join(", "), t.table)
    }

    fn types(t: &Table) -> Vec<(&str, &Type)> {
        t.columns.iter().map(|c| (c.name.as_str(), &c.ty)).collect()
    }

    /// Stores a new record, stopping at `deadline`; answers it with its assigned identifier.
    pub async fn create_before(
        &self,
        entity: &str,
        mut values: Vec<Value>,
        deadline: Instant,
    ) -> Result<Vec<Value>, String> {
        let d = self.db.dialect;
        let t = self.table(entity)?;
        Self::check(t, &values)?;
        let assign = t.auto_number && matches!(values[t.id], Value::Integer(0) | Value::LongInteger(0));
        let mut names = Vec::new();
        let mut places = Vec::new();
        let mut binds = Vec::new();
        for (i, c) in t.columns.iter().enumerate().filter(|(i, _)| !(assign && *i == t.id)) {
            binds.push(d.encode(&values[i]));
            names.push(c.column.clone());
            places.push(d.bind(binds.len(), &c.ty));
        }
        for (column, default) in &t.extras {
            binds.push(default.clone());
            names.push(column.clone());
            places.push(d.bind(binds.len(), &Type::Decimal));
        }
        let id_column = &t.columns[t.id].column;
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) RETURNING {id_column}",
            t.table,
            names.join(", "),
            places.join(", ")
        );
        let mut c = Timed::start(&self.db, deadline).await?;
        let done = c.insert(sql, binds).await;
        c.done().await;
        let id = done.map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                format!("a {} record with this {} exists already", t.name, t.columns[t.id].name)
            }
            other => timed_error(other, deadline),
        })?;
        if assign {
            let id = id.ok_or_else(|| "the database assigned no identifier".to_string())?;
            values[t.id] = match t.columns[t.id].ty {
                Type::Integer => Value::Integer(i32::try_from(id).map_err(|_| "the identifier outgrew Integer")?),
                _ => Value::LongInteger(id),
            };
        }
        Ok(values)
    }

    /// The record with this identifier, stopping at `deadline`.
    pub async fn get_before(&self, entity: &str, id: Value, deadline: Instant) -> Result<Option<Vec<Value>>, String> {
        let d = self.db.dialect;
        let t = self.table(entity)?;
        let key = &t.columns[t.id];
        let sql = format!("{} WHERE {} = {}", self.select(t), key.column, d.bind(1, &key.ty));
        let mut c = Timed::start(&self.db, deadline).await?;
        let rows = c.fetch(sql, vec![d.encode(&id)], &Self::types(t)).await;
        c.done().await;
        let rows = rows.map_err(|e| e.message(&t.name, deadline))?;
        Ok(rows.into_iter().next())
    }

    /// Replaces the record with the same identifier, stopping at `deadline`.
    pub async fn update_before(&self, entity: &str, values: Vec<Value>, deadline: Instant) -> Result<bool, String> {
        let d = self.db.dialect;
        let t = self.table(entity)?;
        Self::check(t, &values)?;
        let mut sets = Vec::new();
        let mut binds = Vec::new();
        for (i, c) in t.columns.iter().enumerate().filter(|(i, _)| *i != t.id) {
            binds.push(d.encode(&values[i]));
            sets.push(format!("{} = {}", c.column, d.bind(binds.len(), &c.ty)));
        }
        binds.push(d.encode(&values[t.id]));
        let key = &t.columns[t.id];
        let sql = format!(
            "UPDATE {} SET {} WHERE {} = {}",
            t.table,
            sets.join(", "),
            key.column,
            d.bind(binds.len(), &key.ty)
        );
        let mut c = Timed::start(&self.db, deadline).await?;
        let done = c.execute(sql, binds).await;
        c.done().await;
        Ok(done.map_err(|e| timed_error(e, deadline))? > 0)
    }

    /// Deletes the record with this identifier, stopping at `deadline`.
    pub async fn delete_before(&self, entity: &str, id: Value, deadline: Instant) -> Result<bool, String> {
        let d = self.db.dialect;
        let t = self.table(entity)?;
        let key = &t.columns[t.id];
        let sql = format!("DELETE FROM {} WHERE {} = {}", t.table, key.column, d.bind(1, &key.ty));
        let mut c = Timed::start(&self.db, deadline).await?;
        let done = c.execute(sql, vec![d.encode(&id)]).await;
        c.done().await;
        Ok(done.map_err(|e| timed_error(e, deadline))? > 0)
    }

    /// The records that match, one page, stopping at `deadline`. Every comparison and the
    /// order are exact for every type: a Decimal compares as a number on both engines
    /// (NUMERIC on PostgreSQL, the order-preserving text of [`crate::dialect`] on SQLite).
    pub async fn query_before(&self, entity: &str, q: Query, deadline: Instant) -> Result<Vec<Vec<Value>>, String> {
        let d = self.db.dialect;
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
            binds.push(d.encode(&f.value));
            let n = binds.len();
            let expr = |op: &str| format!("{} {op} {}", c.column, d.bind(n, &c.ty));
            wheres.push(match f.comparison {
                Comparison::Equal => expr("="),
                Comparison::NotEqual => expr("<>"),
                Comparison::Less => expr("<"),
                Comparison::LessOrEqual => expr("<="),
                Comparison::Greater => expr(">"),
                Comparison::GreaterOrEqual => expr(">="),
                Comparison::Contains => d.contains(&c.column, n),
            });
        }
        let mut orders = Vec::new();
        for (name, desc) in &q.order_by {
            let c = col(name)?;
            // Qualified: PostgreSQL would take a bare name for the SELECT list's column of that
            // name, which is a Decimal's text.
            orders.push(format!("{}.{} {}", t.table, c.column, if *desc { "DESC" } else { "ASC" }));
        }
        orders.push(format!("{}.{} ASC", t.table, t.columns[t.id].column));
        let mut sql = self.select(t);
        if !wheres.is_empty() {
            sql.push_str(&format!(" WHERE {}", wheres.join(" AND ")));
        }
        sql.push_str(&format!(
            " ORDER BY {} LIMIT ${} OFFSET ${}",
            orders.join(", "),
            binds.len() + 1,
            binds.len() + 2
        ));
        binds.push(Sql::Int(i64::from(q.limit)));
        binds.push(Sql::Int(i64::from(q.offset)));
        let mut c = Timed::start(&self.db, deadline).await?;
        let rows = c.fetch(sql, binds, &Self::types(t)).await;
        c.done().await;
        rows.map_err(|e| e.message(&t.name, deadline))
    }

    /// The attributes of `entity` in this version: (name, type) in order, and the identifier's index.
    pub fn attributes(&self, entity: &str) -> Result<(Vec<(String, Type)>, usize), String> {
        let t = self.table(entity)?;
        Ok((t.columns.iter().map(|c| (c.name.clone(), c.ty.clone())).collect(), t.id))
    }
}

/// How long a record route's database work may take.
pub const RECORD_ROUTE_TIME: Duration = Duration::from_secs(10);

const TIME_UP: &str = "the call's time limit ran out during this entity operation";

/// The error of a statement that ran under a deadline: past it, the database was interrupted.
fn timed_error(e: sqlx::Error, deadline: Instant) -> String {
    if Instant::now() >= deadline {
        return TIME_UP.to_string();
    }
    store_error(e)
}

fn store_error(e: sqlx::Error) -> String {
    tracing::error!(error = %e, "entity store");
    "the server could not reach the entity's records (its log says why)".to_string()
}

/// A failed read: the database's, or a stored value that does not read back.
enum Failure {
    Db(sqlx::Error),
    Decode(String),
}

impl Failure {
    fn message(self, entity: &str, deadline: Instant) -> String {
        match self {
            Failure::Db(e) => timed_error(e, deadline),
            Failure::Decode(m) => format!("{entity}.{m}"),
        }
    }
}

enum Conn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Any(sqlx::pool::PoolConnection<sqlx::Any>),
}

/// A pooled connection whose statements stop at a deadline: on SQLite a progress handler
/// (checked every 1000 virtual machine instructions) interrupts them and the busy timeout is
/// cut to what is left; on PostgreSQL `statement_timeout` is what is left. So a call's time
/// limit bounds the database work it started even when the call has stopped waiting for it.
/// Back in the pool as it came after [`Timed::done`]; closed, never reused, when dropped before.
struct Timed {
    conn: Option<Conn>,
}

macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in $binds {
            q = match b {
                Sql::Int(i) => q.bind(i),
                Sql::Bool(v) => q.bind(v),
                Sql::Text(s) => q.bind(s),
                Sql::Blob(b) => q.bind(b),
            };
        }
        q
    }};
}

fn decode_row<R>(row: &R, types: &[(&str, &Type)]) -> Result<Vec<Value>, Failure>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    types
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| decode(row, i, ty).map_err(|e| Failure::Decode(format!("{name}: {e}"))))
        .collect()
}

impl Timed {
    async fn start(db: &Db, deadline: Instant) -> Result<Timed, String> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TIME_UP.to_string());
        }
        let ms = left.as_millis().max(1);
        // Closed unless `done` gives it back.
        let mut timed = Timed { conn: None };
        match &db.sqlite {
            Some(pool) => {
                let mut conn = tokio::time::timeout(left, pool.acquire())
                    .await
                    .map_err(|_| TIME_UP.to_string())?
                    .map_err(store_error)?;
                {
                    let mut handle = conn.lock_handle().await.map_err(store_error)?;
                    handle.set_progress_handler(1000, move || Instant::now() < deadline);
                }
                timed.conn = Some(Conn::Sqlite(conn));
                // SQLite's wait for a lock is not interrupted by the handler: bound it too.
                timed.execute(format!("PRAGMA busy_timeout = {ms}"), Vec::new()).await.map_err(store_error)?;
            }
            None => {
                let conn = tokio::time::timeout(left, db.pool.acquire())
                    .await
                    .map_err(|_| TIME_UP.to_string())?
                    .map_err(store_error)?;
                timed.conn = Some(Conn::Any(conn));
                timed.execute(format!("SET statement_timeout = {ms}"), Vec::new()).await.map_err(store_error)?;
            }
        }
        Ok(timed)
    }

    fn gone() -> sqlx::Error {
        sqlx::Error::PoolClosed
    }

    async fn execute(&mut self, sql: String, binds: Vec<Sql>) -> Result<u64, sqlx::Error> {
        match self.conn.as_mut().ok_or_else(Self::gone)? {
            Conn::Sqlite(c) => Ok(bind_all!(sqlx::query(audited(sql)), binds).execute(&mut **c).await?.rows_affected()),
            Conn::Any(c) => Ok(bind_all!(sqlx::query(audited(sql)), binds).execute(&mut **c).await?.rows_affected()),
        }
    }

    /// An `INSERT ... RETURNING id`: the identifier, when it is an integer.
    async fn insert(&mut self, sql: String, binds: Vec<Sql>) -> Result<Option<i64>, sqlx::Error> {
        match self.conn.as_mut().ok_or_else(Self::gone)? {
            Conn::Sqlite(c) => {
                let row = bind_all!(sqlx::query(audited(sql)), binds).fetch_one(&mut **c).await?;
                Ok(row.try_get::<i64, _>(0).ok())
            }
            Conn::Any(c) => {
                let row = bind_all!(sqlx::query(audited(sql)), binds).fetch_one(&mut **c).await?;
                Ok(row.try_get::<i64, _>(0).ok())
            }
        }
    }

    async fn fetch(
        &mut self,
        sql: String,
        binds: Vec<Sql>,
        types: &[(&str, &Type)],
    ) -> Result<Vec<Vec<Value>>, Failure> {
        match self.conn.as_mut().ok_or_else(Self::gone).map_err(Failure::Db)? {
            Conn::Sqlite(c) => {
                let rows =
                    bind_all!(sqlx::query(audited(sql)), binds).fetch_all(&mut **c).await.map_err(Failure::Db)?;
                rows.iter().map(|r| decode_row(r, types)).collect()
            }
            Conn::Any(c) => {
                let rows =
                    bind_all!(sqlx::query(audited(sql)), binds).fetch_all(&mut **c).await.map_err(Failure::Db)?;
                rows.iter().map(|r| decode_row(r, types)).collect()
            }
        }
    }

    /// Removes the deadline and gives the connection back to the pool.
    async fn done(mut self) {
        // Dropped half-way (the call stopped waiting), `self` closes the connection.
        let reset = match self.conn.as_mut() {
            None => return,
            Some(Conn::Sqlite(conn)) => match conn.lock_handle().await {
                Ok(mut handle) => {
                    handle.remove_progress_handler();
                    Some(format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis()))
                }
                Err(_) => None,
            },
            Some(Conn::Any(_)) => Some("SET statement_timeout = 0".to_string()),
        };
        if let Some(sql) = reset
            && self.execute(sql, Vec::new()).await.is_ok()
        {
            // Back to the pool as it came.
            drop(self.conn.take());
        }
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        match self.conn.as_mut() {
            Some(Conn::Sqlite(c)) => c.close_on_drop(),
            Some(Conn::Any(c)) => c.close_on_drop(),
            None => {}
        }
    }
}
