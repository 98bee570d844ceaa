//! Logging in, tokens, users and permissions.
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};

use super::{ApiJson, ApiPath, ErrorBody, time};
use crate::auth::{Auth, LoginRefused, Permission, TokenKind, check_login, client_ip, new_token, token_hash};
use crate::db::{UserRow, now_ms};
use crate::error::AppError;
use crate::state::AppState;

/// The bodies of these routes: the wire types, shared with the client.
pub use xif_wire::{
    CreateToken, CreateUser, LoginRequest, NewToken, Revoked, SetPermissions, TokenInfo, UpdateUser, UserInfo,
};

async fn user_info(state: &AppState, u: &UserRow) -> Result<UserInfo, AppError> {
    let permissions = state.db.permissions(u.id).await?.iter().filter_map(|p| Permission::from_name(p)).collect();
    Ok(UserInfo { name: u.name.clone(), admin: u.is_admin, permissions, created_at: time(u.created_at) })
}

fn check_user_name(name: &str) -> Result<(), AppError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest {
            kind: "bad_input",
            message: format!("invalid user name {name:?}: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"),
            parameter: Some("name".into()),
        })
    }
}

fn check_password(password: &str) -> Result<(), AppError> {
    if password.chars().count() < 8 {
        return Err(AppError::BadRequest {
            kind: "bad_input",
            message: "the password is too short: use at least 8 characters".into(),
            parameter: Some("password".into()),
        });
    }
    Ok(())
}

fn parse_permissions(names: &[String]) -> Result<Vec<&'static str>, AppError> {
    let mut out = Vec::new();
    for n in names {
        let p = Permission::from_name(n).ok_or_else(|| AppError::BadRequest {
            kind: "bad_input",
            message: format!(
                "unknown permission {n:?}; the permissions are {}",
                Permission::ALL.map(|p| format!("\"{}\"", p.name())).join(", ")
            ),
            parameter: Some("permissions".into()),
        })?;
        if !out.contains(&p.name()) {
            out.push(p.name());
        }
    }
    Ok(out)
}

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
    let user = match check_login(&state, &req.user, req.password, ip).await {
        Ok(user) => user,
        Err(refused) => {
            if matches!(refused, LoginRefused::Wrong) {
                tracing::warn!(user = %req.user, %ip, "failed login");
            }
            return Err(refused.into_app_error(&req.user));
        }
    };
    let lifetime = state.config.session_lifetime;
    issue(&state, &user, &format!("login from {ip}"), TokenKind::Session, lifetime).await.map(Json)
}

async fn issue(
    state: &AppState,
    user: &UserRow,
    name: &str,
    kind: TokenKind,
    lifetime: Duration,
) -> Result<NewToken, AppError> {
    let token = new_token()?;
    let expires_at = now_ms().saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
    let id = state.db.insert_token(user.id, name, kind.as_str(), &token_hash(&token), expires_at).await?;
    Ok(NewToken {
        id,
        name: name.to_string(),
        token,
        expires_at: time(expires_at),
        user: user_info(state, user).await?,
    })
}

/// Logs out: revokes the token of this request.
#[utoipa::path(post, path = "/api/v1/logout", tag = "account",
    responses((status = 204, description = "The token no longer works")))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, AppError> {
    state.db.revoke_token(auth.token_id).await?;
    state.auth_cache.clear();
    Ok(StatusCode::NO_CONTENT)
}

/// Who the token belongs to.
#[utoipa::path(get, path = "/api/v1/me", tag = "account",
    responses((status = 200, description = "The caller", body = UserInfo)))]
pub async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<UserInfo>, AppError> {
    let user =
        state.db.user(&auth.name).await?.ok_or_else(|| AppError::Unauthorized("the user no longer exists".into()))?;
    Ok(Json(user_info(&state, &user).await?))
}

/// The caller's API tokens (an administrator's list has everyone's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "account",
    responses((status = 200, description = "API tokens, newest first", body = Vec<TokenInfo>)))]
pub async fn list_tokens(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<TokenInfo>>, AppError> {
    let owner = if auth.admin { None } else { Some(auth.user_id) };
    let tokens = state.db.tokens(owner, TokenKind::Api.as_str()).await?;
    Ok(Json(
        tokens
            .into_iter()
            .map(|t| TokenInfo {
                id: t.id,
                name: t.name,
                user: t.user_name,
                created_at: time(t.created_at),
                expires_at: time(t.expires_at),
                revoked_at: t.revoked_at.map(time),
            })
            .collect(),
    ))
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
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest {
            kind: "bad_input",
            message: "a token needs a name of 1 to 100 characters".into(),
            parameter: Some("name".into()),
        });
    }
    let max_days = max_token_days(&state);
    let days = req.expires_in_days.unwrap_or(90.min(max_days));
    if days == 0 || days > max_days {
        return Err(AppError::BadRequest {
            kind: "bad_input",
            message: format!(
                "expires_in_days must be from 1 to {max_days} (this server's maximum token lifetime), not {days}"
            ),
            parameter: Some("expires_in_days".into()),
        });
    }
    let user =
        state.db.user(&auth.name).await?.ok_or_else(|| AppError::Unauthorized("the user no longer exists".into()))?;
    let token = issue(&state, &user, name, TokenKind::Api, Duration::from_secs(u64::from(days) * 86_400)).await?;
    tracing::info!(user = %user.name, token = token.id, "API token created");
    Ok((StatusCode::CREATED, Json(token)))
}

/// The longest lifetime of a new API token, in whole days (at least 1).
fn max_token_days(state: &AppState) -> u32 {
    u32::try_from(state.config.max_token_lifetime.as_secs() / 86_400).unwrap_or(u32::MAX).max(1)
}

/// Revokes a token, at once. Your own, or anyone's for an administrator.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "account", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such token of yours", body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    match state.db.token(id).await? {
        Some((owner, _)) if owner == auth.user_id || auth.admin => {
            state.db.revoke_token(id).await?;
            state.auth_cache.clear();
            tracing::info!(by = %auth.name, token = id, "token revoked");
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(AppError::NotFound(format!("you have no token {id}"))),
    }
}

/// Every user (administrators only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    responses((status = 200, description = "Users", body = Vec<UserInfo>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>, auth: Auth) -> Result<Json<Vec<UserInfo>>, AppError> {
    auth.require_admin("list users")?;
    let mut out = Vec::new();
    for u in state.db.users().await? {
        out.push(user_info(&state, &u).await?);
    }
    Ok(Json(out))
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
    auth.require_admin("create users")?;
    check_user_name(&req.name)?;
    check_password(&req.password)?;
    let permissions = parse_permissions(&req.permissions)?;
    let hash = state.passwords.hash(req.password).await?;
    let id = state.db.create_user(&req.name, &hash, req.admin).await?;
    state.db.set_permissions(id, &permissions).await?;
    tracing::info!(by = %auth.name, user = %req.name, "user created");
    let user = state.db.user(&req.name).await?.ok_or_else(|| AppError::internal("the new user vanished"))?;
    Ok((StatusCode::CREATED, Json(user_info(&state, &user).await?)))
}

async fn target_user(state: &AppState, name: &str) -> Result<UserRow, AppError> {
    state.db.user(name).await?.ok_or_else(|| AppError::NotFound(format!("there is no user named {name}")))
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
    auth.require_admin("change users")?;
    let user = target_user(&state, &name).await?;
    if req.admin == Some(false) && user.id == auth.user_id {
        return Err(AppError::Conflict("you cannot remove your own administrator flag".into()));
    }
    let hash = match req.password {
        Some(p) => {
            check_password(&p)?;
            Some(state.passwords.hash(p).await?)
        }
        None => None,
    };
    let reset = hash.is_some();
    state.db.update_user(user.id, hash.as_deref(), req.admin).await?;
    if reset {
        // A new password ends every session and token of the user (DESIGN.md, Permissions).
        let (tokens, sessions) = state.db.revoke_all(user.id).await?;
        tracing::info!(by = %auth.name, user = %user.name, tokens, console_sessions = sessions, "password reset");
    }
    state.auth_cache.clear();
    let user = target_user(&state, &name).await?;
    Ok(Json(user_info(&state, &user).await?))
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
    auth.require_admin("delete users")?;
    let user = target_user(&state, &name).await?;
    if user.id == auth.user_id {
        return Err(AppError::Conflict("you cannot delete yourself".into()));
    }
    state.db.delete_user(user.id).await?;
    state.auth_cache.clear();
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
    auth.require_admin("grant permissions")?;
    let user = target_user(&state, &name).await?;
    let permissions = parse_permissions(&req.permissions)?;
    state.db.set_permissions(user.id, &permissions).await?;
    state.auth_cache.clear();
    tracing::info!(by = %auth.name, user = %user.name, ?permissions, "permissions set");
    Ok(Json(user_info(&state, &user).await?))
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
    let user = target_user(&state, &name).await?;
    if user.id != auth.user_id {
        auth.require_admin("end another user's sessions and tokens")?;
    }
    let (tokens, console_sessions) = state.db.revoke_all(user.id).await?;
    state.auth_cache.clear();
    tracing::info!(by = %auth.name, user = %user.name, tokens, console_sessions, "every credential revoked");
    Ok(Json(Revoked { tokens, console_sessions }))
}
