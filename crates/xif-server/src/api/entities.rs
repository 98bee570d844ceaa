//! The records of an extension's entities over HTTP: adapters over [`ops::entities`].
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json_;

use super::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::auth::Auth;
use crate::error::AppError;
use crate::ops;
use crate::state::AppState;

/// A page of records: the wire type, shared with the client.
pub use xif_wire::RecordPage;

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
    auth: Auth,
    ApiPath((name, entity)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<RecordPage>, AppError> {
    Ok(Json(ops::entities::list_records(&state, &auth, &name, &entity, &params).await?))
}

/// One record, by its identifier. Any authenticated caller may read.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/entities/{entity}/{id}", tag = "entities",
    params(("name" = String, Path, description = "Extension name"), ("entity" = String, Path, description = "Entity name"),
        ("id" = String, Path, description = "The record's identifier")),
    responses((status = 200, description = "The record", body = Object),
        (status = 404, description = "No such extension, entity or record", body = ErrorBody)))]
pub async fn get_record(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, entity, id)): ApiPath<(String, String, String)>,
) -> Result<Json<Json_>, AppError> {
    Ok(Json(ops::entities::get_record(&state, &auth, &name, &entity, &id).await?))
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
    let stored = ops::entities::create_record(&state, &auth, &name, &entity, &body).await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
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
    Ok(Json(ops::entities::update_record(&state, &auth, &name, &entity, &id, &body).await?))
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
    ops::entities::delete_record(&state, &auth, &name, &entity, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
