//! The records of an extension's entities over HTTP, as its active version sees them (the
//! attributes of its definition, with the JSON forms of actions). Any authenticated caller may
//! read; writing needs "Allow Foreign Entities" (administrators hold every permission).
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json_};
use xif_model::{Definition, Type, Value};

use super::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::auth::{Auth, Permission};
use crate::entities::Store;
use crate::error::AppError;
use crate::registry::Live;
use crate::state::AppState;

/// Most records one page returns.
pub const MAX_PAGE: u32 = 1000;

/// A page of records: the wire type, shared with the client.
pub use xif_wire::RecordPage;

fn live(state: &AppState, name: &str) -> Result<Arc<Live>, AppError> {
    state.registry.get(name).ok_or_else(|| {
        AppError::NotFound(format!("extension {name} has no active version (or does not exist): publish one first"))
    })
}

fn store<'a>(live: &'a Live, entity: &str) -> Result<&'a Arc<Store>, AppError> {
    live.entities.as_ref().filter(|s| s.entity_names().iter().any(|e| e.eq_ignore_ascii_case(entity))).ok_or_else(
        || {
            let known = live.entities.as_ref().map(|s| s.entity_names().join(", ")).unwrap_or_default();
            AppError::NotFound(format!(
                "extension {} (version {}) has no entity {entity}; its entities: {}",
                live.name,
                live.version,
                if known.is_empty() { "none" } else { &known }
            ))
        },
    )
}

fn entity_name(def: &Definition, entity: &str) -> String {
    def.entities
        .iter()
        .find(|e| e.name.text.eq_ignore_ascii_case(entity))
        .map(|e| e.name.text.clone())
        .unwrap_or_else(|| entity.to_string())
}

fn may_write(auth: &Auth, live: &Live, entity: &str) -> Result<(), AppError> {
    if auth.0.has(Permission::AllowForeignEntities) {
        return Ok(());
    }
    Err(AppError::Forbidden(format!(
        "missing permission \"{}\": writing records of {}.{entity} needs it (or an administrator)",
        Permission::AllowForeignEntities.name(),
        live.name
    )))
}

fn to_json(names: &[(String, Type)], values: Vec<Value>) -> Json_ {
    Json_::Object(names.iter().zip(values).map(|(n, v)| (n.0.clone(), xif_model::value::to_json(&v))).collect())
}

/// A value of `ty` written as URL text (a path's identifier, a filter).
fn from_text(ty: &Type, text: &str, what: &str) -> Result<Value, AppError> {
    let bad = |m: String| AppError::BadRequest {
        kind: "bad_input",
        message: format!("{what}: {m}"),
        parameter: Some(what.to_string()),
    };
    match ty {
        Type::Text => Ok(Value::Text(text.to_string())),
        Type::Integer => text.parse().map(Value::Integer).map_err(|_| bad(format!("{text:?} is not an Integer"))),
        Type::LongInteger => {
            text.parse().map(Value::LongInteger).map_err(|_| bad(format!("{text:?} is not a Long Integer")))
        }
        Type::Boolean => match text {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(bad(format!("{text:?} is not true or false"))),
        },
        Type::BinaryData => Err(bad("Binary Data cannot be compared".into())),
        other => xif_runtime::coerce(other, Value::Text(text.to_string())).map_err(bad),
    }
}

fn store_error(m: String) -> AppError {
    AppError::bad("bad_input", m)
}

/// Lists records: `offset` (default 0), `limit` (default 100, at most 1000), `order` (attribute
/// names separated by commas, `-` before a name for descending; the identifier breaks ties), and
/// filters: `Attribute=value` (equal) or `Attribute.op=value` with op `eq`, `ne`, `lt`, `le`,
/// `gt`, `ge` or `contains`; all filters must hold. Any authenticated caller may read.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/entities/{entity}", tag = "entities",
    params(("name" = String, Path, description = "Extension name"), ("entity" = String, Path, description = "Entity name"),
        ("offset" = Option<u32>, Query, description = "Records to skip"),
        ("limit" = Option<u32>, Query, description = "Most records (default 100, at most 1000)"),
        ("order" = Option<String>, Query, description = "`Attr,-Other`: order by, `-` for descending")),
    responses((status = 200, description = "One page of records", body = RecordPage),
        (status = 400, description = "A bad filter, order or paging value", body = ErrorBody),
        (status = 404, description = "No such extension, active version or entity", body = ErrorBody)))]
pub async fn list_records(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath((name, entity)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<RecordPage>, AppError> {
    let live = live(&state, &name)?;
    let store = store(&live, &entity)?;
    let entity = entity_name(live.definition(), &entity);
    let (attrs, _) = store.attributes(&entity).map_err(AppError::NotFound)?;
    let attr = |n: &str| {
        attrs.iter().find(|(a, _)| a.eq_ignore_ascii_case(n)).ok_or_else(|| AppError::BadRequest {
            kind: "bad_input",
            message: format!(
                "entity {entity} has no attribute {n}; its attributes: {}",
                attrs.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>().join(", ")
            ),
            parameter: Some(n.to_string()),
        })
    };
    let mut q = xif_runtime::Query { limit: 100, ..Default::default() };
    for (k, v) in &params {
        match k.as_str() {
            "offset" => {
                q.offset =
                    v.parse().map_err(|_| AppError::bad("bad_input", format!("offset {v:?} is not a whole number")))?
            }
            "limit" => {
                let n: u32 =
                    v.parse().map_err(|_| AppError::bad("bad_input", format!("limit {v:?} is not a whole number")))?;
                if n == 0 || n > MAX_PAGE {
                    return Err(AppError::bad("bad_input", format!("limit is from 1 to {MAX_PAGE}, not {n}")));
                }
                q.limit = n;
            }
            "order" => {
                for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (desc, n) = match part.strip_prefix('-') {
                        Some(n) => (true, n),
                        None => (false, part),
                    };
                    q.order_by.push((attr(n)?.0.clone(), desc));
                }
            }
            filter => {
                let (n, op) = filter.split_once('.').unwrap_or((filter, "eq"));
                let (a, ty) = attr(n)?;
                let comparison = xif_runtime::Comparison::parse(op).ok_or_else(|| {
                    AppError::bad(
                        "bad_input",
                        format!("unknown comparison `{op}` in `{filter}`; use eq, ne, lt, le, gt, ge or contains"),
                    )
                })?;
                let ty = if comparison == xif_runtime::Comparison::Contains { &Type::Text } else { ty };
                let value = from_text(ty, v, filter)?;
                q.filters.push(xif_runtime::Filter { attribute: a.clone(), comparison, value });
            }
        }
    }
    let (offset, limit) = (q.offset, q.limit);
    q.limit += 1;
    let mut rows = store.query_records(&entity, q).await.map_err(store_error)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok(Json(RecordPage {
        entity,
        offset,
        limit,
        more,
        records: rows.into_iter().map(|r| to_json(&attrs, r)).collect(),
    }))
}

/// One record, by its identifier. Any authenticated caller may read.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/entities/{entity}/{id}", tag = "entities",
    params(("name" = String, Path, description = "Extension name"), ("entity" = String, Path, description = "Entity name"),
        ("id" = String, Path, description = "The record's identifier")),
    responses((status = 200, description = "The record", body = Object),
        (status = 404, description = "No such extension, entity or record", body = ErrorBody)))]
pub async fn get_record(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath((name, entity, id)): ApiPath<(String, String, String)>,
) -> Result<Json<Json_>, AppError> {
    let live = live(&state, &name)?;
    let store = store(&live, &entity)?;
    let entity = entity_name(live.definition(), &entity);
    let (attrs, idx) = store.attributes(&entity).map_err(AppError::NotFound)?;
    let key = from_text(&attrs[idx].1, &id, &attrs[idx].0)?;
    match store.get_record(&entity, key).await.map_err(store_error)? {
        Some(r) => Ok(Json(to_json(&attrs, r))),
        None => Err(AppError::NotFound(format!("{}.{entity} has no record with {} {id}", live.name, attrs[idx].0))),
    }
}

/// The values of a record from a JSON object (missing optional attributes take their defaults).
fn record_from(live: &Live, entity: &str, body: &Json_, id: Option<Value>) -> Result<Vec<Value>, AppError> {
    let def = live.definition();
    let e = def.entity(entity).ok_or_else(|| AppError::NotFound(format!("no entity {entity}")))?;
    let Json_::Object(obj) = body else {
        return Err(AppError::bad("bad_input", format!("a {entity} record is a JSON object of its attributes")));
    };
    let mut obj: Map<String, Json_> = obj.clone();
    if let (Some(id), Some(idf)) = (&id, e.identifier()) {
        if let Some(v) = obj.get(&idf.name.text).filter(|v| !v.is_null()) {
            let ty = idf.parsed.as_ref().and_then(|t| def.resolve(t)).unwrap_or(Type::Text);
            let same = xif_model::value::from_json(def, &ty, v, &idf.name.text, None).is_ok_and(|b| b == *id);
            if !same {
                return Err(AppError::bad(
                    "bad_input",
                    format!("the body's {} {v} differs from the URL's identifier", idf.name.text),
                ));
            }
        }
        obj.insert(idf.name.text.clone(), xif_model::value::to_json(id));
    }
    // An attribute with a written default may be left out, even when mandatory.
    for a in e.attributes.iter().filter(|a| a.default.is_some()) {
        if obj.get(&a.name.text).is_none_or(Json_::is_null) {
            obj.insert(a.name.text.clone(), xif_model::value::to_json(&xif_model::value::field_default(def, a)));
        }
    }
    let fields = xif_model::value::fields_from_json(def, &e.attributes, &obj, "").map_err(|e| {
        AppError::BadRequest { kind: "bad_input", message: e.to_string(), parameter: Some(e.path.clone()) }
    })?;
    Ok(fields.into_iter().map(|(_, v)| v).collect())
}

/// Creates a record from a JSON object of its attributes (the identifier may be left out when
/// the server numbers it; other optional attributes take their defaults). Needs "Allow Foreign
/// Entities".
#[utoipa::path(post, path = "/api/v1/extensions/{name}/entities/{entity}", tag = "entities",
    params(("name" = String, Path, description = "Extension name"), ("entity" = String, Path, description = "Entity name")),
    request_body(content = Object, description = "The record's attributes, by name"),
    responses((status = 201, description = "The record as stored", body = Object),
        (status = 400, description = "Bad input: `parameter` names it", body = ErrorBody),
        (status = 403, description = "Missing \"Allow Foreign Entities\"", body = ErrorBody),
        (status = 404, description = "No such extension or entity", body = ErrorBody)))]
pub async fn create_record(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, entity)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Json_>,
) -> Result<Response, AppError> {
    let live = live(&state, &name)?;
    let store = store(&live, &entity)?;
    let entity = entity_name(live.definition(), &entity);
    may_write(&auth, &live, &entity)?;
    let values = record_from(&live, &entity, &body, None)?;
    let (attrs, _) = store.attributes(&entity).map_err(AppError::NotFound)?;
    let stored = store.create_record(&entity, values).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(to_json(&attrs, stored))).into_response())
}

/// Replaces the record with this identifier by a JSON object of its attributes (missing optional
/// attributes take their defaults). Needs "Allow Foreign Entities".
#[utoipa::path(put, path = "/api/v1/extensions/{name}/entities/{entity}/{id}", tag = "entities",
    params(("name" = String, Path, description = "Extension name"), ("entity" = String, Path, description = "Entity name"),
        ("id" = String, Path, description = "The record's identifier")),
    request_body(content = Object, description = "The record's attributes, by name"),
    responses((status = 200, description = "The record as stored", body = Object),
        (status = 400, description = "Bad input: `parameter` names it", body = ErrorBody),
        (status = 403, description = "Missing \"Allow Foreign Entities\"", body = ErrorBody),
        (status = 404, description = "No such extension, entity or record", body = ErrorBody)))]
pub async fn update_record(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, entity, id)): ApiPath<(String, String, String)>,
    ApiJson(body): ApiJson<Json_>,
) -> Result<Json<Json_>, AppError> {
    let live = live(&state, &name)?;
    let store = store(&live, &entity)?;
    let entity = entity_name(live.definition(), &entity);
    may_write(&auth, &live, &entity)?;
    let (attrs, idx) = store.attributes(&entity).map_err(AppError::NotFound)?;
    let key = from_text(&attrs[idx].1, &id, &attrs[idx].0)?;
    let values = record_from(&live, &entity, &body, Some(key))?;
    if !store.update_record(&entity, values.clone()).await.map_err(store_error)? {
        return Err(AppError::NotFound(format!("{}.{entity} has no record with {} {id}", live.name, attrs[idx].0)));
    }
    Ok(Json(to_json(&attrs, values)))
}

/// Deletes the record with this identifier. Needs "Allow Foreign Entities".
#[utoipa::path(delete, path = "/api/v1/extensions/{name}/entities/{entity}/{id}", tag = "entities",
    params(("name" = String, Path, description = "Extension name"), ("entity" = String, Path, description = "Entity name"),
        ("id" = String, Path, description = "The record's identifier")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Missing \"Allow Foreign Entities\"", body = ErrorBody),
        (status = 404, description = "No such extension, entity or record", body = ErrorBody)))]
pub async fn delete_record(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, entity, id)): ApiPath<(String, String, String)>,
) -> Result<StatusCode, AppError> {
    let live = live(&state, &name)?;
    let store = store(&live, &entity)?;
    let entity = entity_name(live.definition(), &entity);
    may_write(&auth, &live, &entity)?;
    let (attrs, idx) = store.attributes(&entity).map_err(AppError::NotFound)?;
    let key = from_text(&attrs[idx].1, &id, &attrs[idx].0)?;
    if !store.delete_record(&entity, key).await.map_err(store_error)? {
        return Err(AppError::NotFound(format!("{}.{entity} has no record with {} {id}", live.name, attrs[idx].0)));
    }
    Ok(StatusCode::NO_CONTENT)
}
