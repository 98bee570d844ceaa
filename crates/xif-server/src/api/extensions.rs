//! Extensions and their versions: upload, publish, rollback, download, delete, the publish
//! log, and settings.
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use xif_model::Definition;

use super::{ApiJson, ApiPath, ApiQuery, ErrorBody, time};
use crate::auth::{Auth, Permission, Principal, check_publish};
use crate::db::{ExtensionRow, NewVersion, VersionFacts, VersionRow, key};
use crate::error::AppError;
use crate::publish::{self, Kind, StepEvent, Summary};
use crate::registry::one_line;
use crate::state::AppState;

/// An extension, as listed.
#[derive(Serialize, ToSchema)]
pub struct ExtensionInfo {
    /// Name.
    pub name: String,
    /// The active version's description (or the latest upload's).
    pub description: String,
    /// The version serving calls.
    pub active_version: Option<i64>,
    /// The highest version number.
    pub latest_version: Option<i64>,
    /// How many versions are stored.
    pub versions: usize,
    /// When the active version was activated.
    pub activated_at: Option<String>,
    /// Where its actions are called: `POST {url}/actions/{action}`.
    pub url: String,
}

/// An extension, in detail.
#[derive(Serialize, ToSchema)]
pub struct ExtensionDetail {
    /// The summary.
    #[serde(flatten)]
    pub info: ExtensionInfo,
    /// The active version's actions, with their inputs and outputs (`name: type`).
    pub actions: Vec<ActionInfo>,
    /// Whether the active version is loaded and serving (false when it could not be loaded).
    pub serving: bool,
}

/// An action of the active version.
#[derive(Serialize, ToSchema)]
pub struct ActionInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Inputs: name and type, in order.
    pub inputs: Vec<FieldInfo>,
    /// Outputs: name and type, in order.
    pub outputs: Vec<FieldInfo>,
}

/// One input or output.
#[derive(Serialize, ToSchema)]
pub struct FieldInfo {
    /// Name.
    pub name: String,
    /// Type as written in extension.toml.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether it must be given.
    pub mandatory: bool,
}

/// A version.
#[derive(Serialize, ToSchema)]
pub struct VersionInfo {
    /// Number.
    pub version: i64,
    /// Package digest (SHA-256 of manifest.json).
    pub digest: String,
    /// Package size in bytes.
    pub size: i64,
    /// Description.
    pub description: String,
    /// The toolchain that built it.
    pub toolchain: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: String,
    /// Whether it serves calls.
    pub active: bool,
}

/// The answer to an upload.
#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    /// The extension.
    pub extension: String,
    /// The version number: new, or the existing one for a package uploaded before.
    pub version: i64,
    /// The package digest.
    pub digest: String,
    /// Whether this upload made a new version.
    pub created: bool,
}

/// A publish's answer (without `Accept: text/event-stream`).
#[derive(Serialize, ToSchema)]
pub struct Published {
    /// Every stage event.
    pub steps: Vec<StepEvent>,
    /// The outcome.
    pub summary: Summary,
}

/// One entry of the publish log.
#[derive(Serialize, ToSchema)]
pub struct PublishLogEntry {
    /// Id.
    pub id: i64,
    /// Version.
    pub version: i64,
    /// Digest.
    pub digest: String,
    /// `publish` or `rollback`.
    pub kind: String,
    /// Who.
    pub user: String,
    /// When it started.
    pub at: String,
    /// How long it took.
    pub ms: i64,
    /// `published` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub message: Option<String>,
    /// The stages, as streamed.
    #[schema(value_type = Vec<Object>)]
    pub stages: serde_json::Value,
    /// Warnings about the definition.
    pub warnings: Vec<String>,
}

/// A setting of the active version's definition.
#[derive(Serialize, ToSchema)]
pub struct SettingInfo {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Secret: its value is never shown.
    pub secret: bool,
    /// Whether an administrator set it (otherwise it reads as its default).
    pub set: bool,
    /// The value set (never for a secret).
    pub value: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Why a value that is set cannot be read (a secret sealed with another key: the server's
    /// log says more); the extension reads it as unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// `PUT /api/v1/extensions/{name}/settings`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSettings {
    /// Setting name → value (`null` unsets it).
    #[schema(value_type = Object)]
    pub values: BTreeMap<String, serde_json::Value>,
}

/// `?limit=` of the publish log.
#[derive(Deserialize)]
pub struct LogQuery {
    limit: Option<i64>,
}

async fn extension_row(state: &AppState, name: &str) -> Result<ExtensionRow, AppError> {
    state.db.extension(name).await?.ok_or_else(|| AppError::NotFound(format!("there is no extension named {name}")))
}

async fn version_row(state: &AppState, ext: &ExtensionRow, number: i64) -> Result<VersionRow, AppError> {
    state
        .db
        .version(ext.id, number)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("extension {} has no version {number}", ext.name)))
}

async fn info(state: &AppState, ext: &ExtensionRow) -> Result<ExtensionInfo, AppError> {
    let versions = state.db.versions(ext.id).await?;
    let description = ext
        .active_version
        .and_then(|n| versions.iter().find(|v| v.number == n))
        .or(versions.last())
        .map(|v| v.description.clone())
        .unwrap_or_default();
    Ok(ExtensionInfo {
        name: ext.name.clone(),
        description,
        active_version: ext.active_version,
        latest_version: versions.last().map(|v| v.number),
        versions: versions.len(),
        activated_at: ext.activated_at.map(time),
        url: format!("/api/v1/extensions/{}", ext.name),
    })
}

/// Who may change an extension (delete it or its versions, download its source): what
/// publishing its active version needs, or "Allow Extensions" when nothing is active.
fn check_manage(who: &Principal, name: &str, def: Option<&Definition>) -> Result<(), AppError> {
    match def {
        Some(def) => check_publish(who, def),
        None if who.has(Permission::ChangeAndDeployApplications) || who.has(Permission::AllowExtensions) => Ok(()),
        None => Err(AppError::Forbidden(format!(
            "missing permission \"{}\": changing extension {name} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            Permission::ChangeAndDeployApplications.name()
        ))),
    }
}

/// Who may delete an extension or one of its versions: what publishing it needs, judged on every
/// version (its stored facts) and on every entity table it has, so that a version without
/// entities never makes the tables (and records) of another deletable without "Allow Foreign
/// Entities". A version whose facts are unknown counts as exporting entities.
async fn check_delete(state: &AppState, who: &Principal, ext: &ExtensionRow) -> Result<(), AppError> {
    if who.has(Permission::ChangeAndDeployApplications) {
        return Ok(());
    }
    let mut entities: BTreeMap<String, String> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (number, facts) in state.db.all_version_facts(ext.id).await? {
        match facts {
            Some(f) => entities.extend(f.entities.into_iter().map(|e| (key(&e), e))),
            None => unknown.push(number),
        }
    }
    entities.extend(state.db.entity_names(&ext.name).await?.into_iter().map(|e| (key(&e), e)));
    let mut missing = Vec::new();
    if !who.has(Permission::AllowExtensions) {
        missing.push(format!(
            "missing permission \"{}\": changing extension {} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            ext.name,
            Permission::ChangeAndDeployApplications.name()
        ));
    }
    if (!entities.is_empty() || !unknown.is_empty()) && !who.has(Permission::AllowForeignEntities) {
        let mut what: Vec<String> = entities.into_values().collect();
        if !unknown.is_empty() {
            let list: Vec<String> = unknown.iter().map(i64::to_string).collect();
            what.push(format!("maybe more: the definition of version {} is not known", list.join(", ")));
        }
        missing.push(format!(
            "missing permission \"{}\": extension {} has entities ({})",
            Permission::AllowForeignEntities.name(),
            ext.name,
            what.join(", ")
        ));
    }
    if missing.is_empty() { Ok(()) } else { Err(AppError::Forbidden(missing.join("; "))) }
}

/// Every extension.
#[utoipa::path(get, path = "/api/v1/extensions", tag = "extensions",
    responses((status = 200, description = "Extensions, by name", body = Vec<ExtensionInfo>)))]
pub async fn list_extensions(State(state): State<AppState>, _auth: Auth) -> Result<Json<Vec<ExtensionInfo>>, AppError> {
    let mut out = Vec::new();
    for ext in state.db.extensions().await? {
        out.push(info(&state, &ext).await?);
    }
    Ok(Json(out))
}

/// One extension and the actions of its active version.
#[utoipa::path(get, path = "/api/v1/extensions/{name}", tag = "extensions",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "The extension", body = ExtensionDetail), (status = 404, body = ErrorBody)))]
pub async fn get_extension(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<ExtensionDetail>, AppError> {
    let ext = extension_row(&state, &name).await?;
    let live = state.registry.get(&ext.name).filter(|l| Some(l.version) == ext.active_version);
    let field = |f: &xif_model::Field| FieldInfo {
        name: f.name.text.clone(),
        ty: f.ty.value.clone(),
        mandatory: f.is_mandatory(),
    };
    let actions = live
        .as_ref()
        .map(|l| {
            l.definition()
                .actions
                .iter()
                .map(|a| ActionInfo {
                    name: a.name.text.clone(),
                    description: a.description.as_ref().map(|d| d.value.clone()),
                    inputs: a.inputs.iter().map(field).collect(),
                    outputs: a.outputs.iter().map(field).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(ExtensionDetail { info: info(&state, &ext).await?, actions, serving: live.is_some() }))
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
    // Looked up and judged before taking its lock, so unknown names and refused users never get
    // one; judged again under it (a publish may have added entities meanwhile).
    let ext = extension_row(&state, &name).await?;
    check_delete(&state, &auth, &ext).await?;
    let lock = state.registry.lock_for(&name);
    let _serialized = lock.lock().await;
    let ext = extension_row(&state, &name).await?;
    check_delete(&state, &auth, &ext).await?;
    let versions = state.db.versions(ext.id).await?;
    state.db.delete_extension(ext.id, &ext.name).await?;
    state.registry.remove(&ext.name);
    for v in versions {
        if !state.db.digest_in_use(&v.digest).await? {
            state.files.remove_package(&v.digest).await?;
        }
    }
    tracing::info!(by = %one_line(&auth.name), extension = %ext.name, "extension deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn version_info(v: VersionRow, active: Option<i64>) -> VersionInfo {
    VersionInfo {
        active: Some(v.number) == active,
        version: v.number,
        digest: v.digest,
        size: v.size,
        description: v.description,
        toolchain: v.toolchain,
        uploaded_by: v.uploaded_by,
        uploaded_at: time(v.uploaded_at),
    }
}

/// The versions of an extension, oldest first.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/versions", tag = "versions",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "Versions", body = Vec<VersionInfo>), (status = 404, body = ErrorBody)))]
pub async fn list_versions(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<VersionInfo>>, AppError> {
    let ext = extension_row(&state, &name).await?;
    let versions = state.db.versions(ext.id).await?;
    Ok(Json(versions.into_iter().map(|v| version_info(v, ext.active_version)).collect()))
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
) -> Result<(StatusCode, Json<Uploaded>), AppError> {
    upload_package(&state, &auth, Some(&name), body).await
}

/// [`upload`] of the extension the package names when `expected` is `None` (the Service
/// Center's upload page), else of `expected`, which the package must be.
pub async fn upload_package(
    state: &AppState,
    auth: &Principal,
    expected: Option<&str>,
    body: Body,
) -> Result<(StatusCode, Json<Uploaded>), AppError> {
    // Whoever may upload anything has one of these two: refuse the others before reading.
    if !auth.has(Permission::ChangeAndDeployApplications) && !auth.has(Permission::AllowExtensions) {
        let what = expected.map(|n| format!("extension {n}")).unwrap_or_else(|| "an extension".to_string());
        return Err(AppError::Forbidden(format!(
            "missing permission \"{}\": uploading {what} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            Permission::ChangeAndDeployApplications.name()
        )));
    }
    let scratch = receive(state, body).await?;
    let limits = publish::package_limits(state);
    let package = state
        .files
        .unpack(scratch.path(), limits)
        .await?
        .map_err(|e| AppError::bad("bad_package", format!("the package is refused: {e}")))?;
    let name = package.manifest.extension.clone();
    if let Some(expected) = expected
        && name != expected
    {
        return Err(AppError::bad(
            "bad_package",
            format!(
                "the package is extension {name}, but the URL names {expected}: upload it to /api/v1/extensions/{name}/versions"
            ),
        ));
    }
    let (def, _warnings) = publish::definition(&package)?;
    check_publish(auth, &def)?;
    let digest = package.digest.clone();
    let (description, toolchain) = (package.manifest.description.clone(), package.manifest.toolchain.clone());
    drop(package);

    let lock = state.registry.lock_for(&name);
    let _serialized = lock.lock().await;
    if let Some(ext) = state.db.extension(&name).await?
        && ext.name != name
    {
        return Err(AppError::Conflict(format!(
            "an extension named {} exists; names differ only in case: rename the extension",
            ext.name
        )));
    }
    let size = i64::try_from(scratch.len()).unwrap_or(i64::MAX);
    state.files.put_package_file(&digest, scratch).await?;
    let added = state
        .db
        .add_version(&NewVersion {
            extension: &name,
            digest: &digest,
            size,
            description: &description,
            toolchain: &toolchain,
            uploaded_by: &auth.name,
            facts: &VersionFacts::of(&def),
        })
        .await;
    let (version, created) = match added {
        Ok(v) => v,
        Err(e) => {
            // Nothing stored on failure: the file goes unless another version has it.
            if !state.db.digest_in_use(&digest).await.unwrap_or(true) {
                let _ = state.files.remove_package(&digest).await;
            }
            return Err(e.into());
        }
    };
    tracing::info!(by = %auth.name, extension = %name, version, created, "uploaded");
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Uploaded { extension: name, version, digest, created })))
}

/// Streams an upload's body into a scratch file, refusing it (413) as soon as it is larger than
/// the package limit: by its `Content-Length` before reading, else by the bytes received.
async fn receive(state: &AppState, body: Body) -> Result<crate::files::Scratch, AppError> {
    use axum::body::HttpBody as _;
    use futures_util::StreamExt as _;
    let limit = state.config.limits.package_bytes;
    let too_large = || AppError::TooLarge(format!("the package is larger than the limit of {}", super::size(limit)));
    if body.size_hint().lower() > limit {
        return Err(too_large());
    }
    let mut scratch = state.files.scratch().await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::bad("bad_request", format!("could not read the package: {e}")))?;
        if scratch.len() + chunk.len() as u64 > limit {
            return Err(too_large());
        }
        scratch.write(&chunk).await?;
    }
    scratch.finish().await?;
    Ok(scratch)
}

/// One version.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/versions/{version}", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number")),
    responses((status = 200, description = "The version", body = VersionInfo), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
) -> Result<Json<VersionInfo>, AppError> {
    let ext = extension_row(&state, &name).await?;
    let v = version_row(&state, &ext, number).await?;
    Ok(Json(version_info(v, ext.active_version)))
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
    let ext = extension_row(&state, &name).await?;
    check_delete(&state, &auth, &ext).await?;
    let lock = state.registry.lock_for(&name);
    let _serialized = lock.lock().await;
    let ext = extension_row(&state, &name).await?;
    let v = version_row(&state, &ext, number).await?;
    check_delete(&state, &auth, &ext).await?;
    if ext.active_version == Some(number) {
        return Err(AppError::Conflict(format!(
            "version {number} of {} is active: roll back to another version first, or delete the extension",
            ext.name
        )));
    }
    state.db.delete_version(ext.id, number).await?;
    if !state.db.digest_in_use(&v.digest).await? {
        state.files.remove_package(&v.digest).await?;
    }
    tracing::info!(by = %one_line(&auth.name), extension = %ext.name, version = number, "version deleted");
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
    let ext = extension_row(&state, &name).await?;
    check_manage(&auth, &ext.name, None)?;
    let v = version_row(&state, &ext, number).await?;
    let bytes = state.files.get_package(&v.digest).await?;
    let disposition = format!("attachment; filename=\"{}-{number}.xif\"", ext.name);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::ETAG, format!("\"{}\"", v.digest)),
        ],
        bytes,
    )
        .into_response())
}

/// Publishes a version: validate, permissions, compile (cached), contract, entities, activate.
/// With `Accept: text/event-stream`, the stages stream as server-sent events
/// (`{"step","status","ms","message"}`), then `{"summary": ...}`.
#[utoipa::path(post, path = "/api/v1/extensions/{name}/versions/{version}/publish", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("version" = i64, Path, description = "Version number"),
        ("force" = Option<bool>, Query, description = "Make entity schema changes that would otherwise be refused (`schema_refused`: narrowing, an incompatible type, a different identifier); no stored value is changed or dropped")),
    responses((status = 200, description = "Published (or, as `text/event-stream`, the stages then the summary)", body = Published),
        (status = 400, description = "Refused: bad definition or contract (names the import or export), or an entity change that would lose data (`schema_refused`, names each attribute and why)", body = ErrorBody),
        (status = 403, description = "A permission is missing; the message names it", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    ApiQuery(q): ApiQuery<PublishQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let options = publish::Options { force: q.force.unwrap_or(false) };
    run_publish(state, auth, name, number, Kind::Publish, options, &headers).await
}

/// The query of a publish.
#[derive(Deserialize, Default)]
pub struct PublishQuery {
    /// See [`publish::Options::force`].
    pub force: Option<bool>,
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
    run_publish(state, auth, name, number, Kind::Rollback, publish::Options::default(), &headers).await
}

async fn run_publish(
    state: AppState,
    auth: Auth,
    name: String,
    number: i64,
    kind: Kind,
    options: publish::Options,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    // Permissions before anything else: a refused user gets a plain 403 at once, with no lock
    // taken, no package read and no publish-log row.
    publish::authorize(&state, &auth, &name, number).await?;
    let sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    // The publish runs as its own task: a client that goes away does not stop it halfway.
    if !sse {
        let outcome = tokio::spawn(publish::run_with(state, auth.0, name, number, kind, None, options))
            .await
            .map_err(AppError::internal)?;
        return Ok(match outcome.error {
            None => Json(Published { steps: outcome.steps, summary: outcome.summary }).into_response(),
            Some(e) => {
                let mut body = e.body();
                body["steps"] = serde_json::to_value(&outcome.steps).unwrap_or_default();
                body["summary"] = serde_json::to_value(&outcome.summary).unwrap_or_default();
                (e.status(), Json(body)).into_response()
            }
        });
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(publish::run_with(state, auth.0, name, number, kind, Some(tx), options));
    enum Phase {
        Events(mpsc::UnboundedReceiver<StepEvent>, tokio::task::JoinHandle<publish::Outcome>),
        Done,
    }
    let stream = futures_util::stream::unfold(Phase::Events(rx, task), |phase| async move {
        match phase {
            Phase::Events(mut rx, task) => match rx.recv().await {
                Some(event) => {
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    Some((Ok::<_, Infallible>(Event::default().data(data)), Phase::Events(rx, task)))
                }
                None => {
                    let data = match task.await {
                        Ok(outcome) => serde_json::json!({ "summary": outcome.summary }),
                        Err(e) => {
                            tracing::error!(error = %e, "the publish task failed");
                            serde_json::json!({ "summary": { "outcome": "failed", "error": {"error": "internal", "message": "internal server error"} } })
                        }
                    };
                    Some((Ok(Event::default().data(data.to_string())), Phase::Done))
                }
            },
            Phase::Done => None,
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// The publish log of an extension, newest first (`?limit=`, default 50).
#[utoipa::path(get, path = "/api/v1/extensions/{name}/publishes", tag = "versions",
    params(("name" = String, Path, description = "Extension name"), ("limit" = Option<i64>, Query, description = "At most this many (default 50)")),
    responses((status = 200, description = "Log entries", body = Vec<PublishLogEntry>)))]
pub async fn publishes(
    State(state): State<AppState>,
    _auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> Result<Json<Vec<PublishLogEntry>>, AppError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let rows = state.db.publishes(&name, limit).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| PublishLogEntry {
                id: r.id,
                version: r.version,
                digest: r.digest,
                kind: r.kind,
                user: r.user_name,
                at: time(r.started_at),
                ms: r.ms,
                outcome: r.outcome,
                message: r.message,
                stages: serde_json::from_str(&r.stages).unwrap_or_default(),
                warnings: serde_json::from_str(&r.warnings).unwrap_or_default(),
            })
            .collect(),
    ))
}

fn live_definition(state: &AppState, name: &str) -> Result<std::sync::Arc<crate::registry::Live>, AppError> {
    state.registry.get(name).ok_or_else(|| {
        AppError::Conflict(format!("extension {name} has no active version: publish one first, then set its settings"))
    })
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
    _auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Vec<SettingInfo>>, AppError> {
    let ext = extension_row(&state, &name).await?;
    let live = live_definition(&state, &ext.name)?;
    let stored = state.registry.settings(&ext.name);
    let secret = publish::secret_names(&state, ext.id, &ext.name, live.definition()).await?;
    Ok(Json(
        live.definition()
            .settings
            .iter()
            .map(|s| {
                let name = &s.name.text;
                let value = stored.values.get(name);
                let unavailable = stored.unavailable.get(name).cloned();
                let is_secret = s.secret || secret.contains(name);
                SettingInfo {
                    name: name.clone(),
                    ty: s.ty.value.clone(),
                    secret: is_secret,
                    set: value.is_some() || unavailable.is_some(),
                    value: if is_secret { None } else { value.cloned() },
                    description: s.description.as_ref().map(|d| d.value.clone()),
                    unavailable,
                }
            })
            .collect(),
    ))
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
    auth.require_admin("set extension settings")?;
    let ext = extension_row(&state, &name).await?;
    let lock = state.registry.lock_for(&ext.name);
    let _serialized = lock.lock().await;
    let live = live_definition(&state, &ext.name)?;
    let def = live.definition();
    let secret = publish::secret_names(&state, ext.id, &ext.name, def).await?;
    let mut changes = Vec::new();
    for (setting, json) in &req.values {
        let field = def.settings.iter().find(|s| s.name.text == *setting).ok_or_else(|| AppError::BadRequest {
            kind: "bad_input",
            message: format!(
                "extension {} has no setting {setting}; its settings are {}",
                ext.name,
                if def.settings.is_empty() {
                    "none".to_string()
                } else {
                    def.settings.iter().map(|s| s.name.text.as_str()).collect::<Vec<_>>().join(", ")
                }
            ),
            parameter: Some(setting.clone()),
        })?;
        if json.is_null() {
            changes.push((setting.clone(), None));
            continue;
        }
        let text = match (&field.parsed, json) {
            (Some(ty), _) => {
                let value = xif_model::value::from_json(def, ty, json, setting, Some(field)).map_err(|e| {
                    AppError::BadRequest {
                        kind: "bad_input",
                        message: format!("bad value for setting {setting}: {}", e.message),
                        parameter: Some(setting.clone()),
                    }
                })?;
                match xif_model::value::to_json(&value) {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                }
            }
            (None, serde_json::Value::String(s)) => s.clone(),
            (None, other) => other.to_string(),
        };
        changes.push((setting.clone(), Some(text)));
    }
    // Secrets are sealed before they reach the database.
    let mut stored = Vec::with_capacity(changes.len());
    for (setting, value) in &changes {
        let value = match value {
            Some(v) if field_secret(def, setting) || secret.contains(setting) => {
                let context = crate::secrets::setting_context(&key(&ext.name), setting);
                Some((state.secrets.seal(&context, v).map_err(AppError::Internal)?, true))
            }
            Some(v) => Some((v.clone(), false)),
            None => None,
        };
        stored.push((setting.clone(), value));
    }
    state.db.set_settings(&ext.name, &stored, &auth.name).await?;
    let mut current = (*state.registry.settings(&ext.name)).clone();
    let mut values: HashMap<String, String> = (*current.values).clone();
    for ((k, v), (_, s)) in changes.into_iter().zip(stored) {
        current.unavailable.remove(&k);
        if let Some((_, true)) = s {
            current.secret.insert(k.clone());
        }
        match v {
            Some(v) => values.insert(k, v),
            None => values.remove(&k),
        };
    }
    current.values = std::sync::Arc::new(values);
    state.registry.set_settings(&ext.name, current);
    tracing::info!(by = %one_line(&auth.name), extension = %ext.name, "settings changed");
    get_settings(State(state), auth, ApiPath(name)).await
}

fn field_secret(def: &Definition, name: &str) -> bool {
    def.settings.iter().any(|s| s.name.text == name && s.secret)
}
