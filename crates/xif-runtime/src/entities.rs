//! The `xif:host/entities` interface: an extension's own tables, reached through an
//! [`EntityStore`] that its host gives each call (the Platform Server's database; none for
//! `xif run`). Records cross the boundary as lists of `value`s in the order of the entity's
//! attributes in the calling version's definition; the store answers in the same order, so a
//! version sees exactly the attributes it knows.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Val};
use xif_model::definition::Record;
use xif_model::{Definition, Type, Value};

use crate::convert::{field_type, from_val, to_val};
use crate::host::CallState;

/// How a filter compares an attribute with its value.
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

impl Comparison {
    /// Reads the names used by WIT (`less-or-equal`) and by the HTTP API (`le`).
    pub fn parse(s: &str) -> Option<Comparison> {
        Some(match s {
            "equal" | "eq" => Comparison::Equal,
            "not-equal" | "ne" => Comparison::NotEqual,
            "less" | "lt" => Comparison::Less,
            "less-or-equal" | "le" => Comparison::LessOrEqual,
            "greater" | "gt" => Comparison::Greater,
            "greater-or-equal" | "ge" => Comparison::GreaterOrEqual,
            "contains" => Comparison::Contains,
            _ => return None,
        })
    }
}

/// One filter of a query: `attribute comparison value`.
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

/// A future an [`EntityStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// An extension's entities as its host keeps them. Each method is one transaction; records are
/// the values of the entity's attributes in the order of the definition the store was made for.
/// An `Err` is a message the extension's code sees (and may show its caller).
///
/// `deadline` is when the call's time is up: the store must stop its work there (the runtime
/// also stops waiting for it then), so that a call's time limit bounds its database work too.
pub trait EntityStore: Send + Sync {
    /// Stores a new record; answers it as stored (with its identifier when auto-numbered).
    fn create<'a>(&'a self, entity: &'a str, record: Vec<Value>, deadline: Instant) -> StoreFuture<'a, Vec<Value>>;
    /// The record with this identifier.
    fn get<'a>(&'a self, entity: &'a str, id: Value, deadline: Instant) -> StoreFuture<'a, Option<Vec<Value>>>;
    /// Replaces the record with the same identifier; false when there is none.
    fn update<'a>(&'a self, entity: &'a str, record: Vec<Value>, deadline: Instant) -> StoreFuture<'a, bool>;
    /// Deletes the record with this identifier; false when there was none.
    fn delete<'a>(&'a self, entity: &'a str, id: Value, deadline: Instant) -> StoreFuture<'a, bool>;
    /// The records that match, in order, one page.
    fn query<'a>(&'a self, entity: &'a str, query: Query, deadline: Instant) -> StoreFuture<'a, Vec<Vec<Value>>>;
}

/// What one `xif:host/entities` call works with (from the call's state).
pub(crate) struct HostCall {
    pub(crate) def: Arc<Definition>,
    pub(crate) store: Option<EntityAccess>,
    pub(crate) deadline: Instant,
    pub(crate) query_rows: u32,
}

/// The store of a call: shared by its host functions.
pub type EntityAccess = Arc<dyn EntityStore>;

/// The WIT case of `value` for a basic type.
fn case(ty: &Type) -> &'static str {
    match ty {
        Type::Text => "text",
        Type::Integer => "integer",
        Type::LongInteger => "long-integer",
        Type::Decimal => "decimal",
        Type::Boolean => "boolean",
        Type::Date => "date",
        Type::Time => "time",
        Type::DateTime => "date-time",
        _ => "binary-data",
    }
}

fn case_type(case: &str) -> Option<Type> {
    Some(match case {
        "text" => Type::Text,
        "integer" => Type::Integer,
        "long-integer" => Type::LongInteger,
        "decimal" => Type::Decimal,
        "boolean" => Type::Boolean,
        "date" => Type::Date,
        "time" => Type::Time,
        "date-time" => Type::DateTime,
        "binary-data" => Type::BinaryData,
        _ => return None,
    })
}

fn value_val(def: &Definition, ty: &Type, v: Value) -> Result<Val, String> {
    Ok(Val::Variant(case(ty).into(), Some(Box::new(to_val(def, ty, v)?))))
}

/// A `value` from the guest as a value of `want`: the case must be that type (a Long Integer
/// case is taken for an Integer within range, and text for a Decimal or Date, so filters can
/// be written simply).
fn val_value(def: &Definition, want: &Type, v: &Val, path: &str) -> Result<Value, String> {
    let Val::Variant(case, Some(payload)) = v else {
        return Err(format!("{path}: expected a value"));
    };
    let ty = case_type(case).ok_or_else(|| format!("{path}: unknown value case {case}"))?;
    let got = from_val(def, &ty, payload, path)?;
    coerce(want, got).map_err(|m| format!("{path}: {m}"))
}

/// A value as a value of `want`, when it is one or converts without loss.
pub fn coerce(want: &Type, v: Value) -> Result<Value, String> {
    use xif_model::value as mv;
    Ok(match (want, v) {
        (Type::Integer, Value::LongInteger(i)) => {
            Value::Integer(i32::try_from(i).map_err(|_| format!("{i} is outside the Integer range"))?)
        }
        (Type::LongInteger, Value::Integer(i)) => Value::LongInteger(i64::from(i)),
        (Type::Decimal, Value::Integer(i)) => Value::Decimal(i.into()),
        (Type::Decimal, Value::LongInteger(i)) => Value::Decimal(i.into()),
        (Type::Decimal, Value::Text(s)) => Value::Decimal(mv::parse_decimal(&s)?),
        (Type::Date, Value::Text(s)) => Value::Date(mv::parse_date(&s)?),
        (Type::Time, Value::Text(s)) => Value::Time(mv::parse_time(&s)?),
        (Type::DateTime, Value::Text(s)) => Value::DateTime(mv::parse_date_time(&s)?),
        (want, v) => {
            let same = matches!(
                (want, &v),
                (Type::Text, Value::Text(_))
                    | (Type::Integer, Value::Integer(_))
                    | (Type::LongInteger, Value::LongInteger(_))
                    | (Type::Decimal, Value::Decimal(_))
                    | (Type::Boolean, Value::Boolean(_))
                    | (Type::Date, Value::Date(_))
                    | (Type::Time, Value::Time(_))
                    | (Type::DateTime, Value::DateTime(_))
                    | (Type::BinaryData, Value::Binary(_))
            );
            if !same {
                return Err(format!("{v:?} is not a {}", want.display()));
            }
            v
        }
    })
}

/// The entity of the calling version's definition (exact name, else the one that matches
/// case-insensitively).
fn entity<'d>(def: &'d Definition, name: &str) -> Result<&'d Record, String> {
    def.entity(name).or_else(|| def.entities.iter().find(|e| e.name.text.eq_ignore_ascii_case(name))).ok_or_else(|| {
        let known: Vec<&str> = def.entities.iter().map(|e| e.name.text.as_str()).collect();
        format!(
            "extension {} has no entity {name}; its entities: {}",
            def.name.text,
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )
    })
}

fn record_in(def: &Definition, e: &Record, v: &Val) -> Result<Vec<Value>, String> {
    let Val::List(items) = v else { return Err("a record is a list of values".into()) };
    if items.len() != e.attributes.len() {
        return Err(format!(
            "a {} record has {} values (one per attribute), not {}",
            e.name.text,
            e.attributes.len(),
            items.len()
        ));
    }
    e.attributes
        .iter()
        .zip(items)
        .map(|(a, v)| val_value(def, &field_type(def, a)?, v, &format!("{}.{}", e.name.text, a.name.text)))
        .collect()
}

fn record_out(def: &Definition, e: &Record, values: Vec<Value>) -> Result<Val, String> {
    if values.len() != e.attributes.len() {
        return Err(format!("the store answered {} values for a {} record", values.len(), e.name.text));
    }
    Ok(Val::List(
        e.attributes
            .iter()
            .zip(values)
            .map(|(a, v)| value_val(def, &field_type(def, a)?, v))
            .collect::<Result<_, _>>()?,
    ))
}

fn id_in(def: &Definition, e: &Record, v: &Val) -> Result<Value, String> {
    let id = e.identifier().ok_or_else(|| format!("entity {} has no identifier", e.name.text))?;
    val_value(def, &field_type(def, id)?, v, &format!("{}.{}", e.name.text, id.name.text))
}

fn query_in(def: &Definition, e: &Record, params: &[Val], max_rows: u32) -> Result<Query, String> {
    let attr = |name: &str| {
        e.attributes
            .iter()
            .find(|a| a.name.text.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("entity {} has no attribute {name}", e.name.text))
    };
    let mut q = Query::default();
    if let Some(Val::List(filters)) = params.get(1) {
        for f in filters {
            let Val::Record(fields) = f else { return Err("a filter is a record".into()) };
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
            let (Some(Val::String(name)), Some(Val::Enum(cmp)), Some(value)) =
                (get("attribute"), get("comparison"), get("value"))
            else {
                return Err("a filter has an attribute, a comparison and a value".into());
            };
            let a = attr(name)?;
            let comparison = Comparison::parse(cmp).ok_or_else(|| format!("unknown comparison {cmp}"))?;
            let want = if comparison == Comparison::Contains { Type::Text } else { field_type(def, a)? };
            let value = val_value(def, &want, value, &format!("filter on {}", a.name.text))?;
            q.filters.push(Filter { attribute: a.name.text.clone(), comparison, value });
        }
    }
    if let Some(Val::List(orders)) = params.get(2) {
        for o in orders {
            let Val::Record(fields) = o else { return Err("an order is a record".into()) };
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
            let (Some(Val::String(name)), Some(Val::Bool(desc))) = (get("attribute"), get("descending")) else {
                return Err("an order has an attribute and descending".into());
            };
            q.order_by.push((attr(name)?.name.text.clone(), *desc));
        }
    }
    q.offset = match params.get(3) {
        Some(Val::U32(n)) => *n,
        _ => 0,
    };
    q.limit = match params.get(4) {
        Some(Val::U32(n)) => *n,
        _ => 100,
    };
    if q.limit > max_rows {
        return Err(format!(
            "a query may ask for at most {max_rows} records (the server's page size), not {}: page through them with offset",
            q.limit
        ));
    }
    Ok(q)
}

fn ok(v: Option<Val>) -> Val {
    Val::Result(Ok(v.map(Box::new)))
}

fn fail(message: String) -> Val {
    Val::Result(Err(Some(Box::new(Val::String(message)))))
}

/// Awaits the store's work until `deadline`.
async fn in_time(deadline: Instant, fut: StoreFuture<'_, Val>) -> Result<Val, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("the call's time limit ran out before this entity operation".to_string());
    }
    match tokio::time::timeout(left, fut).await {
        Ok(r) => r,
        Err(_) => Err("the call's time limit ran out during this entity operation".to_string()),
    }
}

/// Runs one `entities` function: `Ok` of the WIT result value (whose error case carries the
/// store's or the conversion's message). The store's work is bounded by the call's deadline.
async fn run(func: &str, call: HostCall, params: Vec<Val>) -> Val {
    let HostCall { def, store, deadline, query_rows } = call;
    let Some(store) = store else {
        return fail(
            "entities are kept by the Platform Server: publish the extension to use them (`xif run` has no database)"
                .into(),
        );
    };
    let result: Result<Val, String> = async {
        let Some(Val::String(name)) = params.first() else { return Err("the entity name is missing".into()) };
        let e = entity(&def, name)?;
        let arg = params.get(1).ok_or("an argument is missing")?;
        let def = &def;
        let store = &store;
        match func {
            "create" => {
                let record = record_in(def, e, arg)?;
                in_time(
                    deadline,
                    Box::pin(async move {
                        let stored = store.create(&e.name.text, record, deadline).await?;
                        record_out(def, e, stored)
                    }),
                )
                .await
            }
            "get" => {
                let id = id_in(def, e, arg)?;
                in_time(
                    deadline,
                    Box::pin(async move {
                        let found = store.get(&e.name.text, id, deadline).await?;
                        Ok(Val::Option(match found {
                            Some(r) => Some(Box::new(record_out(def, e, r)?)),
                            None => None,
                        }))
                    }),
                )
                .await
            }
            "update" => {
                let record = record_in(def, e, arg)?;
                in_time(
                    deadline,
                    Box::pin(async move { Ok(Val::Bool(store.update(&e.name.text, record, deadline).await?)) }),
                )
                .await
            }
            "delete" => {
                let id = id_in(def, e, arg)?;
                in_time(
                    deadline,
                    Box::pin(async move { Ok(Val::Bool(store.delete(&e.name.text, id, deadline).await?)) }),
                )
                .await
            }
            "query" => {
                let q = query_in(def, e, &params, query_rows)?;
                in_time(
                    deadline,
                    Box::pin(async move {
                        let rows = store.query(&e.name.text, q, deadline).await?;
                        Ok(Val::List(rows.into_iter().map(|r| record_out(def, e, r)).collect::<Result<_, _>>()?))
                    }),
                )
                .await
            }
            other => Err(format!("unknown function {other}")),
        }
    }
    .await;
    match result {
        Ok(v) => ok(Some(v)),
        Err(m) => fail(m),
    }
}

/// Adds `xif:host/entities` to the linker.
pub(crate) fn add_to_linker(linker: &mut Linker<CallState>, interface: &str) -> wasmtime::Result<()> {
    let mut instance = linker.instance(interface)?;
    for func in ["create", "get", "update", "delete", "query"] {
        instance.func_new_async(func, move |store: StoreContextMut<'_, CallState>, _ty, params, results| {
            let call = store.data().entities();
            let params = params.to_vec();
            Box::new(async move {
                let v = run(func, call, params).await;
                if let Some(slot) = results.first_mut() {
                    *slot = v;
                }
                Ok(())
            })
        })?;
    }
    Ok(())
}
