//! Extensions and their versions: upload, publish, rollback, download, delete, the publish
//! log, and settings: adapters over [`ops::extensions`].
use axum::Json;
use axum::body::{Body, HttpBody as _};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::auth::Auth;
use crate::error::AppError;
use crate::publish::{self, Kind};
use crate::state::AppState;
use crate::{http, ops};

/// The bodies of these routes: the wire types, shared with the client.
pub use xif_wire::{
    DiffQuery, ExtensionDetail, ExtensionInfo, LogQuery, PublishFailed, PublishLogEntry, PublishQuery, Published,
    SetSettings, SettingInfo, Uploaded, VersionDiff, VersionInfo,
};

/// Every extension.
#[utoipa::path(get, path = "/api/v1/extensions", tag = "extensions",
    responses((status = 200, description = "Extensions, by name", body = Vec<ExtensionInfo>)))]
pub async fn list_extensions(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<ExtensionInfo>>, AppError> {
    Ok(Json(ops::extensions::list_extensions(&state, &auth).await?))
}

/// One extension and the actions of its active version.
#[utoipa::path(get, path = "/api/v1/extensions/{name}", tag = "extensions",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "The extension", body = ExtensionDetail), (status = 404, body = ErrorBody)))]
pub async fn get_extension(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ExtensionDetail>, AppError> {
    Ok(Json(ops::extensions::get_extension(&state, &auth, &name).await?))
}

/// Deletes an extension: every version, its settings, its entity tables and their records (in
/// one transaction); calls in flight finish. The publish log is kept. Needs what publishing any
/// of its versions needs, and "Allow Foreign Entities" when it has entity tables.
#[utoipa::path(delete, path = "/api/v1/extensions/{name}", tag = "extensions",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_extension(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    ops::extensions::delete_extension(&state, &auth, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The versions of an extension, oldest first.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/versions", tag = "versions",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "Versions", body = Vec<VersionInfo>), (status = 404, body = ErrorBody)))]
pub async fn list_versions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<VersionInfo>>, AppError> {
    Ok(Json(ops::extensions::list_versions(&state, &auth, &name).await?))
}

/// Uploads a `.xif` (the request body, at most the package limit): checked by the hardened
/// reader and the definition's Verify, stored by digest, numbered. A package the extension
/// already has answers its existing number. Needs what publishing it needs.
///
/// A caller who may upload nothing (neither "Change & Deploy Applications" nor "Allow
/// Extensions") is refused before the body is read; otherwise the body streams into a scratch
/// file (refused once past the package limit) and the package is read from there, at most
/// `Config::max_unpacks` at a time.
#[utoipa::path(post, path = "/api/v1/extensions/{name}/versions", tag = "versions",
    params(("name" = String, Path, description = "Extension name; must be the package's")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The .xif package"),
    responses((status = 201, description = "A new version", body = Uploaded),
        (status = 200, description = "The package was uploaded before", body = Uploaded),
        (status = 400, description = "The package is refused; the message names the problem", body = ErrorBody),
        (status = 403, description = "A permission is missing; the message names it", body = ErrorBody),
        (status = 413, description = "Larger than the package limit", body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    body: Body,
) -> Result<Response, AppError> {
    let at_least = body.size_hint().lower();
    let uploaded = ops::extensions::upload(&state, &auth, Some(&name), at_least, body.into_data_stream()).await?;
    Ok(http::uploaded(uploaded))
}

/// One version.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/versions/{version}", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number")),
    responses((status = 200, description = "The version", body = VersionInfo), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
) -> Result<Json<VersionInfo>, AppError> {
    Ok(Json(ops::extensions::get_version(&state, &auth, &name, number).await?))
}

/// What changed for callers from version `from` to this version: every change of the actions,
/// their inputs and outputs and the structures callers send or read, each compatible or
/// breaking, with its place in the `extension.toml` of the version it is in (the older one for
/// what was removed). Without `from`, the nearest lower version number that exists (none:
/// `from` is null and there are no changes).
#[utoipa::path(get, path = "/api/v1/extensions/{name}/versions/{version}/diff", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number"),
        ("from" = Option<i64>, Query, description = "The version to compare with (default: the nearest lower version number that exists); any stored version, the same one gives no changes")),
    responses((status = 200, description = "The changes", body = VersionDiff),
        (status = 400, description = "`from` is not a version number", body = ErrorBody),
        (status = 404, description = "No such extension, version or `from` version", body = ErrorBody),
        (status = 503, description = "A stored package cannot be read; the message names the version", body = ErrorBody)))]
pub async fn version_diff(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<DiffQuery>,
) -> Result<Json<VersionDiff>, AppError> {
    Ok(Json(ops::extensions::version_diff(&state, &auth, &name, number, q.from).await?))
}

/// Deletes a version that is not active. Needs what deleting the extension needs (judged on
/// every version and entity table, not on the active version alone).
#[utoipa::path(delete, path = "/api/v1/extensions/{name}/versions/{version}", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "It is the active version", body = ErrorBody)))]
pub async fn delete_version(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
) -> Result<StatusCode, AppError> {
    ops::extensions::delete_version(&state, &auth, &name, number).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Downloads a version's `.xif`, byte for byte as uploaded. Needs "Allow Extensions" or
/// "Change & Deploy Applications" (the package holds the source).
#[utoipa::path(get, path = "/api/v1/extensions/{name}/versions/{version}/package", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number")),
    responses((status = 200, description = "The package", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
) -> Result<Response, AppError> {
    Ok(http::download(ops::extensions::download(&state, &auth, &name, number).await?))
}

/// Publishes a version: validate, permissions, compile (cached), contract, entities, activate.
/// With `Accept: text/event-stream`, the stages stream as server-sent events
/// (`{"step","status","ms","message"}`), then `{"summary": ...}`.
#[utoipa::path(post, path = "/api/v1/extensions/{name}/versions/{version}/publish", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number"),
        ("force" = Option<bool>, Query, description = "Make entity schema changes that would otherwise be refused (`schema_refused`: narrowing, an incompatible type, a different identifier); no stored value is changed or dropped"),
        ("allow_breaking" = Option<bool>, Query, description = "Publish changes that break the active version's callers (`breaking_change`: an action, input or output removed, an input made mandatory, a type changed); each change is listed either way"),
        ("gradual" = Option<u32>, Query, description = "Roll the version out gradually: it takes this share of calls (1 to 99) and the active version the rest, and stays active (the summary's outcome is `rolling_out`); `PUT .../rollout` moves it on, `DELETE .../rollout` aborts it. Refused when the entity tables would change"),
        ("per_caller" = Option<bool>, Query, description = "With `gradual`: choose the version per caller (a stable hash of the caller's name: the same caller keeps its version as the share grows) rather than per call"),
        ("guard" = Option<bool>, Query, description = "With `gradual` (default true): the error-rate guard aborts the rollout when the new version fails clearly more often than the active one")),
    responses((status = 200, description = "Published (or, as `text/event-stream`, the stages then the summary)", body = Published),
        (status = 400, description = "Refused: bad definition or contract (names the import or export), or an entity change that would lose data (`schema_refused`, names each attribute and why); with the stages and the summary", body = PublishFailed),
        (status = 403, description = "A permission is missing; the message names it", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A rollout runs: move it to 100% or abort it first", body = PublishFailed)))]
pub async fn publish(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<PublishQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let options = publish::Options::from(&q);
    http::publish(&state, auth.0, name, number, Kind::Publish, options, &headers).await
}

/// Rolls back: re-activates an existing version (no new number), through the same stages as a
/// publish; logged as a rollback.
#[utoipa::path(post, path = "/api/v1/extensions/{name}/versions/{version}/rollback", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number")),
    responses((status = 200, description = "Active again", body = Published), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn rollback(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    http::publish(&state, auth.0, name, number, Kind::Rollback, publish::Options::default(), &headers).await
}

/// The publish log of an extension, newest first (`?limit=`, default 50).
#[utoipa::path(get, path = "/api/v1/extensions/{name}/publishes", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("limit" = Option<i64>, Query, description = "At most this many (default 50)")),
    responses((status = 200, description = "Log entries", body = Vec<PublishLogEntry>)))]
pub async fn publishes(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Vec<PublishLogEntry>>, AppError> {
    Ok(Json(ops::extensions::publishes(&state, &auth, &name, q.limit).await?))
}

/// The settings of the active version's definition; secrets show whether they are set, never
/// their value. A setting is secret when the definition says so, or when it was stored as a
/// secret or declared secret by any stored version: a package cannot make a secret visible.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/settings", tag = "settings",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "Settings", body = Vec<SettingInfo>), (status = 404, body = ErrorBody),
        (status = 409, description = "No active version", body = ErrorBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<SettingInfo>>, AppError> {
    Ok(Json(ops::extensions::get_settings(&state, &auth, &name).await?))
}

/// Sets settings (administrators only): each value is checked against the setting's type;
/// `null` unsets. Calls that start afterwards see the new values.
#[utoipa::path(put, path = "/api/v1/extensions/{name}/settings", tag = "settings", request_body = SetSettings,
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "The settings now", body = Vec<SettingInfo>),
        (status = 400, description = "Unknown setting or bad value; names it", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<SetSettings>,
) -> Result<Json<Vec<SettingInfo>>, AppError> {
    Ok(Json(ops::extensions::set_settings(&state, &auth, &name, &req).await?))
}
