//! Who is calling and what they may do: argon2id passwords, bearer tokens (kept only as a
//! SHA-256), the permissions of DESIGN.md, and the slowing down of failed logins.
//!
//! **Architecture Invariant:** the HTTP API is authorized by the `Authorization: Bearer` header
//! only; no cookie is ever read here.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use xif_model::Definition;

use crate::config::Backoff;
use crate::db::now_ms;
use crate::error::AppError;
use crate::state::AppState;

/// A permission a user may be granted (their names are those of DESIGN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Permission {
    /// Upload and publish any extension.
    #[serde(rename = "Change & Deploy Applications")]
    ChangeAndDeployApplications,
    /// Upload and publish an extension that exports no entities.
    #[serde(rename = "Allow Extensions")]
    AllowExtensions,
    /// With "Allow Extensions": extensions that export entities; and writing entity records.
    #[serde(rename = "Allow Foreign Entities")]
    AllowForeignEntities,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 3] =
        [Permission::ChangeAndDeployApplications, Permission::AllowExtensions, Permission::AllowForeignEntities];

    /// Its name, as shown and stored.
    pub fn name(self) -> &'static str {
        match self {
            Permission::ChangeAndDeployApplications => "Change & Deploy Applications",
            Permission::AllowExtensions => "Allow Extensions",
            Permission::AllowForeignEntities => "Allow Foreign Entities",
        }
    }

    /// The permission of a name (exactly as [`Permission::name`] spells it).
    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `session` (from a login) or `api` (named, for CI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// Made by `POST /api/v1/login`.
    Session,
    /// Made by `POST /api/v1/tokens`.
    Api,
}

impl TokenKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "session",
            TokenKind::Api => "api",
        }
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// User id.
    pub user_id: i64,
    /// User name.
    pub name: String,
    /// Administrator: manages users, permissions and settings, and holds every permission.
    pub admin: bool,
    /// Granted permissions.
    pub permissions: Vec<Permission>,
    /// The token used.
    pub token_id: i64,
    /// Its kind.
    pub token_kind: TokenKind,
}

impl Principal {
    /// Whether the caller holds `p` (administrators hold them all).
    pub fn has(&self, p: Permission) -> bool {
        self.admin || self.permissions.contains(&p)
    }

    /// A 403 unless the caller is an administrator.
    pub fn require_admin(&self, what: &str) -> Result<(), AppError> {
        if self.admin {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("only an administrator may {what} (you are logged in as {})", self.name)))
        }
    }
}

/// Checks that `who` may upload or publish the extension `def` (DESIGN.md, Permissions):
/// "Change & Deploy Applications" allows any; otherwise "Allow Extensions" is needed, and
/// "Allow Foreign Entities" too when the extension exports entities. The 403 names each
/// missing permission.
pub fn check_publish(who: &Principal, def: &Definition) -> Result<(), AppError> {
    if who.has(Permission::ChangeAndDeployApplications) {
        return Ok(());
    }
    let name = &def.name.text;
    let mut missing = Vec::new();
    if !who.has(Permission::AllowExtensions) {
        missing.push(format!(
            "missing permission \"{}\": publishing extension {name} needs it (or \"{}\")",
            Permission::AllowExtensions.name(),
            Permission::ChangeAndDeployApplications.name()
        ));
    }
    if !def.entities.is_empty() && !who.has(Permission::AllowForeignEntities) {
        let entities: Vec<&str> = def.entities.iter().map(|e| e.name.text.as_str()).collect();
        missing.push(format!(
            "missing permission \"{}\": extension {name} exports entities ({})",
            Permission::AllowForeignEntities.name(),
            entities.join(", ")
        ));
    }
    if missing.is_empty() { Ok(()) } else { Err(AppError::Forbidden(missing.join("; "))) }
}

/// Hashes and checks passwords with argon2id.
pub struct Passwords {
    params: Params,
    /// A hash of a random password, checked when the user does not exist, so that an unknown
    /// name takes as long as a wrong password.
    dummy: String,
}

impl Passwords {
    /// OWASP's argon2id parameters (19 MiB, 2 passes), or, with `insecure_fast`, the cheapest.
    pub fn new(insecure_fast: bool) -> Result<Passwords, String> {
        let params = if insecure_fast {
            Params::new(Params::MIN_M_COST, 1, 1, None)
        } else {
            Params::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST, None)
        }
        .map_err(|e| e.to_string())?;
        let dummy = hash_with(&params, &random_secret(16)?)?;
        Ok(Passwords { params, dummy })
    }

    /// The PHC string of a password (on the blocking pool: it takes tens of milliseconds).
    pub async fn hash(self: &Arc<Self>, password: String) -> Result<String, AppError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || hash_with(&me.params, &password))
            .await
            .map_err(AppError::internal)?
            .map_err(AppError::Internal)
    }

    /// Whether `password` matches `hash` (`None`: no such user; checked against a dummy).
    pub async fn verify(self: &Arc<Self>, password: String, hash: Option<String>) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let known = hash.is_some();
            let phc = hash.unwrap_or_else(|| me.dummy.clone());
            let ok = Argon2::default().verify_password(password.as_bytes(), phc.as_str()).is_ok();
            ok && known
        })
        .await
        .unwrap_or(false)
    }
}

fn hash_with(params: &Params, password: &str) -> Result<String, String> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing a password: {e}"))
}

/// `n` random bytes as URL-safe base64.
pub fn random_secret(n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the system: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// A new bearer token: `xif_` and 32 random bytes.
pub fn new_token() -> Result<String, AppError> {
    Ok(format!("xif_{}", random_secret(32).map_err(AppError::Internal)?))
}

/// What is stored of a token: its SHA-256 (a token has 256 bits of entropy, so a fast hash is
/// enough; a stolen database gives no usable token).
pub fn token_hash(token: &str) -> String {
    xif_package::sha256_hex(token.as_bytes())
}

/// Principals by token hash, so a call costs no database query. Cleared whenever a token,
/// user or permission changes (revocation takes effect at once); entries expire after
/// [`AuthCache::TTL`] anyway.
#[derive(Default)]
pub struct AuthCache {
    map: Mutex<HashMap<String, Cached>>,
}

/// A principal, its token's expiry (ms), and when it was cached.
type Cached = (Arc<Principal>, i64, Instant);

impl AuthCache {
    /// How long a cached principal is trusted.
    pub const TTL: Duration = Duration::from_secs(30);
    const MAX: usize = 10_000;

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, hash: &str) -> Option<Arc<Principal>> {
        let map = self.lock();
        let (p, expires_at, cached) = map.get(hash)?;
        (cached.elapsed() < Self::TTL && *expires_at > now_ms()).then(|| p.clone())
    }

    fn put(&self, hash: String, p: Arc<Principal>, expires_at: i64) {
        let mut map = self.lock();
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(hash, (p, expires_at, Instant::now()));
    }

    /// Forgets everything (after any change to tokens, users or permissions).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The authenticated caller, taken from `Authorization: Bearer <token>`.
#[derive(Clone, Debug)]
pub struct Auth(pub Arc<Principal>);

impl std::ops::Deref for Auth {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, AppError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            AppError::Unauthorized(
                "this needs a bearer token: send `Authorization: Bearer <token>` (from POST /api/v1/login or an API token)"
                    .into(),
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::Unauthorized("the Authorization header is not `Bearer <token>`".into()))?;
        let hash = token_hash(token);
        if let Some(p) = state.auth_cache.get(&hash) {
            return Ok(Auth(p));
        }
        let owner = state.db.token_owner(&hash, now_ms()).await?.ok_or_else(|| {
            AppError::Unauthorized("the token is not valid: it is unknown, expired or revoked (log in again)".into())
        })?;
        let permissions = state.db.permissions(owner.user_id).await?;
        let principal = Arc::new(Principal {
            user_id: owner.user_id,
            name: owner.name,
            admin: owner.is_admin,
            permissions: permissions.iter().filter_map(|p| Permission::from_name(p)).collect(),
            token_id: owner.token_id,
            token_kind: if owner.kind == "api" { TokenKind::Api } else { TokenKind::Session },
        });
        state.auth_cache.put(hash, principal.clone(), owner.expires_at);
        Ok(Auth(principal))
    }
}

/// Counts failed logins per user name and per address, and says how long to wait.
pub struct LoginThrottle {
    policy: Backoff,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// A throttle with this policy.
    pub fn new(policy: Backoff) -> LoginThrottle {
        LoginThrottle { policy, failures: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keys(user: &str, addr: Option<IpAddr>) -> Vec<(String, u32)> {
        let mut keys = vec![(format!("user:{}", crate::db::key(user)), 0)];
        if let Some(ip) = addr {
            keys.push((format!("ip:{ip}"), 1));
        }
        keys
    }

    fn wait_after(&self, failures: u32, free: u32) -> Duration {
        if failures < free {
            return Duration::ZERO;
        }
        let doublings = (failures - free).min(20);
        self.policy.first_wait.saturating_mul(1 << doublings).min(self.policy.max_wait)
    }

    /// `Err(wait)` when the next attempt for this user or from this address must wait.
    pub fn check(&self, user: &str, addr: Option<IpAddr>) -> Result<(), Duration> {
        let map = self.lock();
        let mut longest = Duration::ZERO;
        for (key, which) in Self::keys(user, addr) {
            if let Some((count, last)) = map.get(&key) {
                let free = if which == 0 { self.policy.free_failures } else { self.policy.free_failures_per_address };
                let wait = self.wait_after(*count, free).saturating_sub(last.elapsed());
                longest = longest.max(wait);
            }
        }
        if longest.is_zero() { Ok(()) } else { Err(longest) }
    }

    /// Records a failed attempt.
    pub fn failed(&self, user: &str, addr: Option<IpAddr>) {
        let mut map = self.lock();
        if map.len() > 100_000 {
            map.clear();
        }
        for (key, _) in Self::keys(user, addr) {
            let entry = map.entry(key).or_insert((0, Instant::now()));
            entry.0 = entry.0.saturating_add(1);
            entry.1 = Instant::now();
        }
    }

    /// Records a successful login: the user's count starts again.
    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&format!("user:{}", crate::db::key(user)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(perms: &[Permission]) -> Principal {
        Principal {
            user_id: 1,
            name: "dev".into(),
            admin: false,
            permissions: perms.to_vec(),
            token_id: 1,
            token_kind: TokenKind::Api,
        }
    }

    fn def(toml: &str) -> Definition {
        xif_model::parse(toml).0.expect("parses")
    }

    #[test]
    fn publish_permissions_follow_the_design() {
        let plain = def("[extension]\nname = \"Greetings\"\n");
        let with_entities = def(
            "[extension]\nname = \"Greetings\"\n[entities.Visit]\nId = { type = \"Long Integer\", identifier = true }\n",
        );
        let cda = principal(&[Permission::ChangeAndDeployApplications]);
        let ae = principal(&[Permission::AllowExtensions]);
        let both = principal(&[Permission::AllowExtensions, Permission::AllowForeignEntities]);
        let none = principal(&[]);
        assert!(check_publish(&cda, &plain).is_ok());
        assert!(check_publish(&cda, &with_entities).is_ok());
        assert!(check_publish(&ae, &plain).is_ok());
        assert!(check_publish(&both, &with_entities).is_ok());
        let e = check_publish(&ae, &with_entities).expect_err("refused").to_string();
        assert_eq!(e, "missing permission \"Allow Foreign Entities\": extension Greetings exports entities (Visit)");
        let e = check_publish(&none, &with_entities).expect_err("refused").to_string();
        assert!(e.contains("missing permission \"Allow Extensions\""), "{e}");
        assert!(e.contains("missing permission \"Allow Foreign Entities\""), "{e}");
        let e = check_publish(&none, &plain).expect_err("refused").to_string();
        assert!(e.starts_with("missing permission \"Allow Extensions\""), "{e}");
    }

    #[test]
    fn throttle_doubles_then_resets() {
        let t = LoginThrottle::new(Backoff {
            free_failures: 2,
            free_failures_per_address: 10,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(3),
        });
        assert_eq!(t.wait_after(1, 2), Duration::ZERO);
        assert_eq!(t.wait_after(2, 2), Duration::from_secs(1));
        assert_eq!(t.wait_after(3, 2), Duration::from_secs(2));
        assert_eq!(t.wait_after(9, 2), Duration::from_secs(3));
        t.failed("Ada", None);
        assert!(t.check("ada", None).is_ok());
        t.failed("Ada", None);
        assert!(t.check("ada", None).is_err());
        t.succeeded("ADA");
        assert!(t.check("ada", None).is_ok());
    }

    #[tokio::test]
    async fn passwords_verify() {
        let p = Arc::new(Passwords::new(true).expect("params"));
        let h = p.hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(p.verify("correct horse".into(), Some(h.clone())).await);
        assert!(!p.verify("wrong".into(), Some(h)).await);
        assert!(!p.verify("anything".into(), None).await);
    }
}
