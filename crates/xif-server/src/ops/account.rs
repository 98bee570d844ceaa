//! Logging in, sessions, tokens, users and permissions; the [`Principal`] of a credential.
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::wire::{CreateToken, CreateUser, NewToken, Revoked, TokenInfo, UpdateUser, UserInfo};
use super::{Error, Result, time};
use crate::auth::{Busy, Permission, Principal, TokenKind, new_token, random_secret, token_hash};
use crate::db::{UserRow, now_ms};
use crate::state::AppState;

/// The caller whose credential is this user's: their permissions are read now. `token_id` is 0
/// for a console session (it is not a token).
pub(crate) async fn principal(
    state: &AppState,
    user_id: i64,
    name: String,
    admin: bool,
    token_id: i64,
    token_kind: TokenKind,
) -> Result<Principal> {
    let permissions = state.db.permissions(user_id).await?;
    Ok(Principal {
        user_id,
        name,
        admin,
        permissions: permissions.iter().filter_map(|p| Permission::from_name(p)).collect(),
        token_id,
        token_kind,
    })
}

/// The caller holding this bearer token, or why it is refused (cached for
/// [`AuthCache::TTL`](crate::auth::AuthCache::TTL); every revocation clears the cache).
pub(crate) async fn bearer(state: &AppState, token: &str) -> Result<Arc<Principal>> {
    let hash = token_hash(token);
    if let Some(p) = state.auth_cache.get(&hash) {
        return Ok(p);
    }
    // The database is known to be gone: a token checked lately serves at once, without waiting
    // for the database to answer.
    if state.database_lost.load(std::sync::atomic::Ordering::SeqCst)
        && let Some(p) = state.auth_cache.get_stale(&hash)
    {
        return Ok(p);
    }
    let generation = state.auth_cache.generation();
    let owner = match state.db.token_owner(&hash, now_ms()).await {
        Ok(owner) => owner,
        // The database is gone: a token checked lately still serves calls (to loaded versions).
        Err(e @ crate::db::Error::Unreachable(_)) => {
            return state.auth_cache.get_stale(&hash).ok_or_else(|| crate::error::AppError::from(e).into());
        }
        Err(e) => return Err(e.into()),
    };
    let Some(owner) = owner else {
        state.auth_cache.forget(&hash);
        return Err(Error::Unauthenticated(
            "the token is not valid: it is unknown, expired or revoked (log in again)".into(),
        ));
    };
    let kind = if owner.kind == "api" { TokenKind::Api } else { TokenKind::Session };
    let p = match principal(state, owner.user_id, owner.name, owner.is_admin, owner.token_id, kind).await {
        Ok(p) => Arc::new(p),
        Err(e @ Error::Unavailable(_)) => return state.auth_cache.get_stale(&hash).ok_or(e),
        Err(e) => return Err(e),
    };
    state.auth_cache.put(hash, p.clone(), owner.expires_at, generation);
    Ok(p)
}

/// Why [`check_login`] refused.
#[derive(Debug)]
pub(crate) enum LoginRefused {
    /// This (name, address) pair or this address must wait this long.
    Throttled(Duration),
    /// Every password-check slot stayed busy.
    Busy,
    /// Wrong name or password.
    Wrong,
    /// The check itself failed (database).
    Failed(Error),
}

impl LoginRefused {
    /// As an operation's error (the console shows the same texts on its form).
    pub(crate) fn into_error(self, user: &str) -> Error {
        match self {
            LoginRefused::Throttled(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Error::Throttled {
                    message: format!("too many failed logins for {user} from this address: try again in {secs} s"),
                    retry_after: secs,
                }
            }
            LoginRefused::Busy => {
                Error::Unavailable("the server is busy checking other passwords: try again in a few seconds".into())
            }
            LoginRefused::Wrong => Error::Unauthenticated("wrong user name or password".into()),
            LoginRefused::Failed(e) => e,
        }
    }
}

/// The login check, for the API and the Service Center alike: reserves the attempt in the
/// throttle first (per user name and client address), then checks the password (in a bounded
/// number of argon2 slots), then records the verdict. Answers the user when the password is right.
pub(crate) async fn check_login(
    state: &AppState,
    user: &str,
    password: String,
    ip: IpAddr,
) -> Result<UserRow, LoginRefused> {
    // Every node's failures (PostgreSQL), so that N nodes allow no more attempts than one.
    let keys = crate::auth::LoginThrottle::keys(user, ip);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let forget = state.throttle.forget_ms();
    let shared = state.db.login_failures(&keys, now_ms(), forget).await.map_err(|e| LoginRefused::Failed(e.into()))?;
    let attempt = state.throttle.reserve_shared(user, ip, &shared).map_err(LoginRefused::Throttled)?;
    // Counted as failed from now until the verdict: an attempt abandoned half-way stays counted.
    let counted = state.db.count_login(&keys, 1, &[], now_ms(), forget).await;
    if let Err(e) = counted {
        attempt.not_checked();
        return Err(LoginRefused::Failed(e.into()));
    }
    // Takes back the count of an attempt not held against anyone, or clears the pair's.
    let uncount = async |reset_pair: bool| {
        let reset: &[&str] = if reset_pair { &keys[..1] } else { &[] };
        let undo = if reset_pair { &keys[1..] } else { &keys[..] };
        if let Err(e) = state.db.count_login(undo, -1, reset, now_ms(), forget).await {
            tracing::warn!(error = %crate::registry::one_line(&e.to_string()), "could not update the shared login count");
        }
    };
    if !attempt.delay.is_zero() {
        tokio::time::sleep(attempt.delay).await;
    }
    let row = match state.db.user(user).await {
        Ok(row) => row,
        Err(e) => {
            attempt.not_checked();
            uncount(false).await;
            return Err(LoginRefused::Failed(e.into()));
        }
    };
    match state.passwords.verify(password, row.as_ref().map(|u| u.password_hash.clone())).await {
        Err(Busy) => {
            attempt.not_checked();
            uncount(false).await;
            Err(LoginRefused::Busy)
        }
        Ok(true) => {
            attempt.succeeded();
            uncount(true).await;
            row.ok_or(LoginRefused::Wrong)
        }
        Ok(false) => {
            attempt.failed();
            Err(LoginRefused::Wrong)
        }
    }
}

/// Logs in for the API: the login check, then a session token (`login from ADDRESS`).
pub(crate) async fn login(state: &AppState, user: &str, password: String, ip: IpAddr) -> Result<NewToken> {
    let row = match check_login(state, user, password, ip).await {
        Ok(row) => row,
        Err(refused) => {
            if matches!(refused, LoginRefused::Wrong) {
                tracing::warn!(user = %user, %ip, "failed login");
            }
            return Err(refused.into_error(user));
        }
    };
    let lifetime = state.config.session_lifetime;
    issue(state, &row, &format!("login from {ip}"), TokenKind::Session, lifetime).await
}

/// A new Service Center session: its cookie's secret (shown once) and its lifetime in
/// milliseconds (its CSRF token is read with the session).
pub(crate) struct NewSession {
    /// The cookie's value.
    pub token: String,
    /// How long it lasts, in milliseconds.
    pub lifetime_ms: i64,
}

/// Logs in for the Service Center: the same login check, then a console session.
pub(crate) async fn console_login(
    state: &AppState,
    user: &str,
    password: String,
    ip: IpAddr,
) -> Result<NewSession, LoginRefused> {
    let row = match check_login(state, user, password, ip).await {
        Ok(row) => row,
        Err(refused) => {
            if matches!(refused, LoginRefused::Wrong) {
                tracing::warn!(user = %user, %ip, "failed console login");
            }
            return Err(refused);
        }
    };
    let failed = |e: Error| LoginRefused::Failed(e);
    let token = random_secret(32).map_err(Error::Internal).map_err(failed)?;
    let csrf = random_secret(24).map_err(Error::Internal).map_err(failed)?;
    let lifetime_ms = i64::try_from(state.config.session_lifetime.as_millis()).unwrap_or(i64::MAX);
    state
        .db
        .console_create_session(row.id, &token_hash(&token), &csrf, now_ms().saturating_add(lifetime_ms))
        .await
        .map_err(|e| failed(e.into()))?;
    tracing::info!(user = %row.name, %ip, "console login");
    Ok(NewSession { token, lifetime_ms })
}

/// A console session and its caller, read from the cookie's secret.
pub(crate) struct ConsoleSession {
    /// Session id.
    pub id: i64,
    /// Its CSRF token.
    pub csrf: String,
    /// The one-time message stored for it (cleared as it is read).
    pub flash: Option<String>,
    /// The user.
    pub who: Arc<Principal>,
}

/// The console session of this cookie secret, when it is valid.
pub(crate) async fn console_session(state: &AppState, token: &str) -> Result<Option<ConsoleSession>> {
    let Some(row) = state.db.console_session(&token_hash(token)).await? else {
        return Ok(None);
    };
    // Not a token: the operations that revoke "the caller's token" do not apply to it.
    let who = principal(state, row.user_id, row.name, row.is_admin, 0, TokenKind::Session).await?;
    if row.flash.is_some() {
        state.db.console_set_flash(row.id, None).await?;
    }
    Ok(Some(ConsoleSession { id: row.id, csrf: row.csrf, flash: row.flash, who: Arc::new(who) }))
}

/// Ends a console session.
pub(crate) async fn console_logout(state: &AppState, session_id: i64) -> Result<()> {
    state.db.console_end_session(session_id).await?;
    Ok(())
}

/// Logs out: revokes the caller's token.
pub(crate) async fn logout(state: &AppState, who: &Principal) -> Result<()> {
    revoke(state, who.token_id).await
}

/// Revokes one token, at once (the cache of principals is cleared).
async fn revoke(state: &AppState, token_id: i64) -> Result<()> {
    state.db.revoke_token(token_id).await?;
    crate::cluster::auth_changed(state).await;
    Ok(())
}

/// Ends every credential of a user: API tokens, login session tokens, console sessions.
async fn revoke_everything(state: &AppState, user_id: i64) -> Result<(u64, u64)> {
    let ended = state.db.revoke_all(user_id).await?;
    crate::cluster::auth_changed(state).await;
    Ok(ended)
}

async fn user_info(state: &AppState, u: &UserRow) -> Result<UserInfo> {
    let permissions = state.db.permissions(u.id).await?.iter().filter_map(|p| Permission::from_name(p)).collect();
    Ok(UserInfo { name: u.name.clone(), admin: u.is_admin, permissions, created_at: time(u.created_at) })
}

fn check_user_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad_parameter(
            "name",
            format!("invalid user name {name:?}: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"),
        ))
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::bad_parameter("password", "the password is too short: use at least 8 characters"));
    }
    Ok(())
}

fn parse_permissions(names: &[String]) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for n in names {
        let p = Permission::from_name(n).ok_or_else(|| {
            Error::bad_parameter(
                "permissions",
                format!(
                    "unknown permission {n:?}; the permissions are {}",
                    Permission::ALL.map(|p| format!("\"{}\"", p.name())).join(", ")
                ),
            )
        })?;
        if !out.contains(&p.name()) {
            out.push(p.name());
        }
    }
    Ok(out)
}

async fn issue(state: &AppState, user: &UserRow, name: &str, kind: TokenKind, lifetime: Duration) -> Result<NewToken> {
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

async fn own_row(state: &AppState, who: &Principal) -> Result<UserRow> {
    state.db.user(&who.name).await?.ok_or_else(|| Error::Unauthenticated("the user no longer exists".into()))
}

/// The caller, as a user.
pub(crate) async fn me(state: &AppState, who: &Principal) -> Result<UserInfo> {
    let user = own_row(state, who).await?;
    user_info(state, &user).await
}

/// The caller's API tokens (an administrator's list has everyone's).
pub(crate) async fn list_tokens(state: &AppState, who: &Principal) -> Result<Vec<TokenInfo>> {
    let owner = if who.admin { None } else { Some(who.user_id) };
    let tokens = state.db.tokens(owner, TokenKind::Api.as_str()).await?;
    Ok(tokens.into_iter().map(token_info).collect())
}

/// A stored token as the API lists it (never its secret).
fn token_info(t: crate::db::TokenRow) -> TokenInfo {
    TokenInfo {
        id: t.id,
        name: t.name,
        user: t.user_name,
        created_at: time(t.created_at),
        expires_at: time(t.expires_at),
        revoked_at: t.revoked_at.map(time),
    }
}

/// Creates a named API token for the caller; the token is in this answer only.
pub(crate) async fn create_token(state: &AppState, who: &Principal, req: CreateToken) -> Result<NewToken> {
    let name = token_name(&req)?;
    let max_days = max_token_days(state);
    let days = req.expires_in_days.unwrap_or(90.min(max_days));
    if days == 0 || days > max_days {
        return Err(Error::bad_parameter(
            "expires_in_days",
            format!("expires_in_days must be from 1 to {max_days} (this server's maximum token lifetime), not {days}"),
        ));
    }
    let user = own_row(state, who).await?;
    let token = issue(state, &user, name, TokenKind::Api, Duration::from_secs(u64::from(days) * 86_400)).await?;
    tracing::info!(user = %user.name, token = token.id, "API token created");
    Ok(token)
}

/// A new token's name, trimmed: 1 to 100 characters.
fn token_name(req: &CreateToken) -> Result<&str> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::bad_parameter("name", "a token needs a name of 1 to 100 characters"));
    }
    Ok(name)
}

/// The longest lifetime of a new API token, in whole days (at least 1).
fn max_token_days(state: &AppState) -> u32 {
    u32::try_from(state.config.max_token_lifetime.as_secs() / 86_400).unwrap_or(u32::MAX).max(1)
}

/// Revokes a token, at once: the caller's own, or anyone's for an administrator.
pub(crate) async fn revoke_token(state: &AppState, who: &Principal, id: i64) -> Result<()> {
    match state.db.token(id).await? {
        Some((owner, _)) if owner == who.user_id || who.admin => {
            revoke(state, id).await?;
            tracing::info!(by = %who.name, token = id, "token revoked");
            Ok(())
        }
        _ => Err(Error::NotFound(format!("you have no token {id}"))),
    }
}

/// Every scrape token (administrators only): tokens that read `GET /metrics` and nothing else.
pub(crate) async fn list_scrape_tokens(state: &AppState, who: &Principal) -> Result<Vec<TokenInfo>> {
    who.require_admin("list the metrics scrape tokens")?;
    Ok(state.db.scrape_tokens().await?.into_iter().map(token_info).collect())
}

/// Creates a scrape token (administrators only): it reads `GET /metrics` until it expires, is
/// revoked, or its maker stops being an administrator; every other route refuses it. The token
/// is in this answer only.
pub(crate) async fn create_scrape_token(state: &AppState, who: &Principal, req: CreateToken) -> Result<NewToken> {
    who.require_admin("create a metrics scrape token")?;
    let name = token_name(&req)?;
    // A scraper runs unattended: up to a year, whatever the API tokens' maximum.
    let days = req.expires_in_days.unwrap_or(365);
    if days == 0 || days > 3650 {
        return Err(Error::bad_parameter(
            "expires_in_days",
            format!("expires_in_days must be from 1 to 3650 for a scrape token, not {days}"),
        ));
    }
    let user = own_row(state, who).await?;
    let token = new_token()?;
    let expires_at = now_ms().saturating_add(i64::from(days) * 86_400_000);
    let id = state.db.insert_scrape_token(user.id, name, &token_hash(&token), expires_at).await?;
    tracing::info!(user = %user.name, token = id, "metrics scrape token created");
    Ok(NewToken {
        id,
        name: name.to_string(),
        token,
        expires_at: time(expires_at),
        user: user_info(state, &user).await?,
    })
}

/// Revokes a scrape token, at once (administrators only).
pub(crate) async fn revoke_scrape_token(state: &AppState, who: &Principal, id: i64) -> Result<()> {
    who.require_admin("revoke a metrics scrape token")?;
    if !state.db.revoke_scrape_token(id).await? {
        return Err(Error::NotFound(format!("there is no live scrape token {id}")));
    }
    tracing::info!(by = %who.name, token = id, "metrics scrape token revoked");
    Ok(())
}

/// Whether `token` is a live scrape token.
pub(crate) async fn is_scrape_token(state: &AppState, token: &str) -> Result<bool> {
    Ok(state.db.scrape_token_valid(&token_hash(token), now_ms()).await?)
}

/// Every user (administrators only).
pub(crate) async fn list_users(state: &AppState, who: &Principal) -> Result<Vec<UserInfo>> {
    who.require_admin("list users")?;
    let mut out = Vec::new();
    for u in state.db.users().await? {
        out.push(user_info(state, &u).await?);
    }
    Ok(out)
}

/// Creates a user (administrators only).
pub(crate) async fn create_user(state: &AppState, who: &Principal, req: CreateUser) -> Result<UserInfo> {
    who.require_admin("create users")?;
    check_user_name(&req.name)?;
    check_password(&req.password)?;
    let permissions = parse_permissions(&req.permissions)?;
    let hash = state.passwords.hash(req.password).await?;
    let id = state.db.create_user(&req.name, &hash, req.admin).await?;
    state.db.set_permissions(id, &permissions).await?;
    tracing::info!(by = %who.name, user = %req.name, "user created");
    let user = state.db.user(&req.name).await?.ok_or_else(|| Error::internal("the new user vanished"))?;
    user_info(state, &user).await
}

async fn target_user(state: &AppState, name: &str) -> Result<UserRow> {
    state.db.user(name).await?.ok_or_else(|| Error::NotFound(format!("there is no user named {name}")))
}

/// Changes a user's password or administrator flag (administrators only). A new password
/// ends every credential of the user.
pub(crate) async fn update_user(state: &AppState, who: &Principal, name: &str, req: UpdateUser) -> Result<UserInfo> {
    who.require_admin("change users")?;
    let user = target_user(state, name).await?;
    if req.admin == Some(false) && user.id == who.user_id {
        return Err(Error::Conflict("you cannot remove your own administrator flag".into()));
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
        let (tokens, sessions) = revoke_everything(state, user.id).await?;
        tracing::info!(by = %who.name, user = %user.name, tokens, console_sessions = sessions, "password reset");
    }
    crate::cluster::auth_changed(state).await;
    let user = target_user(state, name).await?;
    user_info(state, &user).await
}

/// Deletes a user and their tokens (administrators only; not yourself).
pub(crate) async fn delete_user(state: &AppState, who: &Principal, name: &str) -> Result<()> {
    who.require_admin("delete users")?;
    let user = target_user(state, name).await?;
    if user.id == who.user_id {
        return Err(Error::Conflict("you cannot delete yourself".into()));
    }
    state.db.delete_user(user.id).await?;
    crate::cluster::auth_changed(state).await;
    Ok(())
}

/// Sets the permissions a user holds (administrators only).
pub(crate) async fn set_permissions(
    state: &AppState,
    who: &Principal,
    name: &str,
    permissions: &[String],
) -> Result<UserInfo> {
    who.require_admin("grant permissions")?;
    let user = target_user(state, name).await?;
    let permissions = parse_permissions(permissions)?;
    state.db.set_permissions(user.id, &permissions).await?;
    crate::cluster::auth_changed(state).await;
    tracing::info!(by = %who.name, user = %user.name, ?permissions, "permissions set");
    user_info(state, &user).await
}

/// What [`revoke_all`] ended, and whose.
pub(crate) struct RevokedAll {
    /// The user's name as stored.
    pub user: String,
    /// Whether it was the caller's own.
    pub own: bool,
    /// The counts.
    pub revoked: Revoked,
}

/// Ends every credential of a user at once: yourself, or anyone for an administrator.
pub(crate) async fn revoke_all(state: &AppState, who: &Principal, name: &str) -> Result<RevokedAll> {
    let user = target_user(state, name).await?;
    if user.id != who.user_id {
        who.require_admin("end another user's sessions and tokens")?;
    }
    let (tokens, console_sessions) = revoke_everything(state, user.id).await?;
    tracing::info!(by = %who.name, user = %user.name, tokens, console_sessions, "every credential revoked");
    Ok(RevokedAll { own: user.id == who.user_id, user: user.name, revoked: Revoked { tokens, console_sessions } })
}

/// Records a one-time message for a console session (`error:` or `ok:` before the text).
pub(crate) async fn console_flash(state: &AppState, session_id: i64, error: bool, text: &str) -> Result<()> {
    let stored = format!("{}{text}", if error { "error:" } else { "ok:" });
    state.db.console_set_flash(session_id, Some(&stored)).await?;
    Ok(())
}
