//! Logging in, tokens, users and permissions: adapters over [`ops::account`].
use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};

use super::{ApiJson, ApiPath, ErrorBody};
use crate::auth::{Auth, client_ip};
use crate::error::AppError;
use crate::ops;
use crate::state::AppState;

/// The bodies of these routes: the wire types, shared with the client.
pub use xif_wire::{
    CreateToken, CreateUser, LoginRequest, NewToken, Revoked, SetPermissions, TokenInfo, UpdateUser, UserInfo,
};

/// Logs in: answers a session token. Failures are counted per (user name, client address)
/// before the password is checked: past a few, that pair's next attempt waits (429 with
/// `Retry-After`); other addresses are at most slowed down. At most a few password checks run
/// at once; a login that finds none free within seconds gets a 503.
#[utoipa::path(post, path = "/api/v1/login", tag = "account", security(()), request_body = LoginRequest,
    responses((status = 200, description = "Logged in", body = NewToken),
        (status = 401, description = "Wrong user name or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; wait", body = ErrorBody),
        (status = 503, description = "Every password check slot is busy; try again", body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<NewToken>, AppError> {
    let ip = client_ip(addr, &headers, &state.config.trusted_proxies);
    Ok(Json(ops::account::login(&state, &req.user, req.password, ip).await?))
}

/// Logs out: revokes the token of this request.
#[utoipa::path(post, path = "/api/v1/logout", tag = "account",
    responses((status = 204, description = "The token no longer works")))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, AppError> {
    ops::account::logout(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, description = "The caller", body = UserInfo)))]
pub async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<UserInfo>, AppError> {
    Ok(Json(ops::account::me(&state, &auth).await?))
}

/// The caller's API tokens (an administrator's list has everyone's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "account",
    responses((status = 200, description = "API tokens, newest first", body = Vec<TokenInfo>)))]
pub async fn list_tokens(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<TokenInfo>>, AppError> {
    Ok(Json(ops::account::list_tokens(&state, &auth).await?))
}

/// Creates a named API token for the caller (for CI); the token is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "account", request_body = CreateToken,
    responses((status = 201, description = "The new token", body = NewToken),
        (status = 400, description = "Bad name or expiry", body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), AppError> {
    Ok((StatusCode::CREATED, Json(ops::account::create_token(&state, &auth, req).await?)))
}

/// Revokes a token, at once. Your own, or anyone's for an administrator.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "account", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such token of yours", body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    ops::account::revoke_token(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every metrics scrape token (administrators only).
#[utoipa::path(get, path = "/api/v1/metrics/tokens", tag = "server",
    responses((status = 200, description = "Scrape tokens, newest first", body = Vec<TokenInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_scrape_tokens(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<TokenInfo>>, AppError> {
    Ok(Json(ops::account::list_scrape_tokens(&state, &auth).await?))
}

/// Creates a token that reads `GET /metrics` and nothing else (administrators only; default
/// expiry 365 days, at most 3650). The token is in this answer only; it stops working when it
/// is revoked or its maker is no longer an administrator.
#[utoipa::path(post, path = "/api/v1/metrics/tokens", tag = "server", request_body = CreateToken,
    responses((status = 201, description = "The new scrape token", body = NewToken),
        (status = 400, description = "Bad name or expiry", body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_scrape_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateToken>,
) -> Result<(StatusCode, Json<NewToken>), AppError> {
    Ok((StatusCode::CREATED, Json(ops::account::create_scrape_token(&state, &auth, req).await?)))
}

/// Revokes a scrape token, at once (administrators only).
#[utoipa::path(delete, path = "/api/v1/metrics/tokens/{id}", tag = "server", params(("id" = i64, Path, description = "Scrape token id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, description = "No such live scrape token", body = ErrorBody)))]
pub async fn revoke_scrape_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    ops::account::revoke_scrape_token(&state, &auth, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every user (administrators only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, description = "Users", body = Vec<UserInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<UserInfo>>, AppError> {
    Ok(Json(ops::account::list_users(&state, &auth).await?))
}

/// Creates a user (administrators only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserInfo), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<UserInfo>), AppError> {
    Ok((StatusCode::CREATED, Json(ops::account::create_user(&state, &auth, req).await?)))
}

/// Changes a user's password or administrator flag (administrators only). A new password
/// ends every credential of the user: API tokens, login sessions, Service Center sessions.
#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "users", request_body = UpdateUser,
    params(("user" = String, Path, description = "User name")),
    responses((status = 200, description = "Updated", body = UserInfo), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "You cannot remove your own administrator flag", body = ErrorBody)))]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateUser>,
) -> Result<Json<UserInfo>, AppError> {
    Ok(Json(ops::account::update_user(&state, &auth, &name, req).await?))
}

/// Deletes a user and their tokens (administrators only; not yourself).
#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path, description = "User name")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    ops::account::delete_user(&state, &auth, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets the permissions a user holds (administrators only).
#[utoipa::path(put, path = "/api/v1/users/{user}/permissions", tag = "users", request_body = SetPermissions,
    params(("user" = String, Path, description = "User name")),
    responses((status = 200, description = "The user now", body = UserInfo), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_permissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<SetPermissions>,
) -> Result<Json<UserInfo>, AppError> {
    Ok(Json(ops::account::set_permissions(&state, &auth, &name, &req.permissions).await?))
}

/// Ends every credential of a user at once: API tokens, login session tokens and Service
/// Center sessions (the token of this request too, when it is theirs). Yourself, or anyone for
/// an administrator.
#[utoipa::path(post, path = "/api/v1/users/{user}/revoke", tag = "users",
    params(("user" = String, Path, description = "User name")),
    responses((status = 200, description = "What was ended", body = Revoked), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn revoke_all(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<Revoked>, AppError> {
    Ok(Json(ops::account::revoke_all(&state, &auth, &name).await?.revoked))
}
