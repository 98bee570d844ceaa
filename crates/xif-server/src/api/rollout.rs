//! Gradual rollouts (`/api/v1/extensions/{name}/rollout`): the adapters over
//! [`ops::rollout`](crate::ops::rollout). A rollout starts with `?gradual=N` on publish.
use axum::Json;
use axum::extract::State;

use super::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::auth::Auth;
use crate::error::AppError;
use crate::ops;
use crate::state::AppState;
use xif_wire::{RolloutAbortQuery, RolloutChange, RolloutInfo, RolloutMoved};

/// How the running rollout goes: the rolling version's share, how it is chosen, and each
/// version's calls and failures since the minute it began (every node's, a few seconds behind).
#[utoipa::path(get, path = "/api/v1/extensions/{name}/rollout", tag = "versions",
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "The rollout", body = RolloutInfo),
        (status = 404, description = "No such extension, or no rollout runs", body = ErrorBody)))]
pub async fn get_rollout(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<RolloutInfo>, AppError> {
    Ok(Json(ops::rollout::status(&state, &auth, &name).await?))
}

/// Moves the running rollout on: the rolling version takes `percent` (1 to 99) of the calls; at
/// 100 it becomes the active version. Needs what publishing it needs; logged in the publish log.
#[utoipa::path(put, path = "/api/v1/extensions/{name}/rollout", tag = "versions", request_body = RolloutChange,
    params(("name" = String, Path, description = "Extension name")),
    responses((status = 200, description = "What changed", body = RolloutMoved),
        (status = 400, description = "A share outside 1 to 100", body = ErrorBody),
        (status = 403, description = "A permission is missing; the message names it", body = ErrorBody),
        (status = 404, description = "No such extension, or no rollout runs", body = ErrorBody),
        (status = 409, description = "The rollout ended or changed meanwhile, or another version than the one named rolls out", body = ErrorBody)))]
pub async fn set_rollout(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(change): ApiJson<RolloutChange>,
) -> Result<Json<RolloutMoved>, AppError> {
    Ok(Json(ops::rollout::set(&state, &auth, &name, change.percent, change.version).await?))
}

/// Aborts the running rollout: every new call goes to the active version again (calls in
/// flight finish on theirs). Needs what publishing the rolling version needs; logged.
#[utoipa::path(delete, path = "/api/v1/extensions/{name}/rollout", tag = "versions",
    params(("name" = String, Path, description = "Extension name"),
        ("version" = Option<i64>, Query, description = "The version the abort is meant for: refused (409) when another version rolls out by now")),
    responses((status = 200, description = "Aborted", body = RolloutMoved),
        (status = 403, description = "A permission is missing; the message names it", body = ErrorBody),
        (status = 404, description = "No such extension, or no rollout runs", body = ErrorBody),
        (status = 409, description = "The rollout ended or changed meanwhile, or another version than the one named rolls out", body = ErrorBody)))]
pub async fn abort_rollout(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(q): ApiQuery<RolloutAbortQuery>,
) -> Result<Json<RolloutMoved>, AppError> {
    Ok(Json(ops::rollout::abort(&state, &auth, &name, q.version).await?))
}
