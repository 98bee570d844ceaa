//! Who is calling and what they may do: argon2id passwords, bearer tokens (kept only as a
//! SHA-256), the permissions of DESIGN.md, and the slowing down of failed logins.
//!
//! **Architecture Invariant:** the HTTP API is authorized by the `Authorization: Bearer` header
//! only; no cookie is ever read here.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine as _;
use xif_model::Definition;

use crate::config::{Backoff, IpNet, canonical};
use crate::db::now_ms;
use crate::error::AppError;
use crate::state::AppState;

/// A permission a user may be granted (the wire type: its names are those of DESIGN.md).
pub use xif_wire::Permission;

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

/// Hashes and checks passwords with argon2id, at most `max_checks` at a time (each takes about
/// 19 MiB and tens of milliseconds): more wait up to `wait` for a slot, then are refused as
/// [`Busy`].
pub struct Passwords {
    params: Params,
    /// A hash of a random password, checked when the user does not exist, so that an unknown
    /// name takes as long as a wrong password.
    dummy: String,
    slots: Arc<tokio::sync::Semaphore>,
    wait: Duration,
}

/// Every password-check slot stayed taken for the whole wait: the server is too busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl Passwords {
    /// OWASP's argon2id parameters (19 MiB, 2 passes), or, with `insecure_fast`, the cheapest;
    /// `max_checks` run at once (at least one), others wait up to `wait`.
    pub fn new(insecure_fast: bool, max_checks: usize, wait: Duration) -> Result<Passwords, String> {
        let params = if insecure_fast {
            Params::new(Params::MIN_M_COST, 1, 1, None)
        } else {
            Params::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, Params::DEFAULT_P_COST, None)
        }
        .map_err(|e| e.to_string())?;
        let dummy = hash_with(&params, &random_secret(16)?)?;
        let slots = Arc::new(tokio::sync::Semaphore::new(max_checks.max(1)));
        Ok(Passwords { params, dummy, slots, wait })
    }

    /// A slot to run one argon2 in: held until the blocking work ends, even when the request
    /// that asked is dropped.
    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Busy> {
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }

    /// The PHC string of a password (on the blocking pool: it takes tens of milliseconds).
    pub async fn hash(self: &Arc<Self>, password: String) -> Result<String, AppError> {
        let permit = self.slot().await.map_err(|Busy| {
            AppError::Unavailable("the server is busy checking passwords: try again in a few seconds".into())
        })?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            hash_with(&me.params, &password)
        })
        .await
        .map_err(AppError::internal)?
        .map_err(AppError::Internal)
    }

    /// Whether `password` matches `hash` (`None`: no such user; checked against a dummy).
    pub async fn verify(self: &Arc<Self>, password: String, hash: Option<String>) -> Result<bool, Busy> {
        let permit = self.slot().await?;
        let me = self.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let known = hash.is_some();
            let phc = hash.unwrap_or_else(|| me.dummy.clone());
            let ok = Argon2::default().verify_password(password.as_bytes(), phc.as_str()).is_ok();
            ok && known
        })
        .await
        .unwrap_or(false))
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
/// [`AuthCache::TTL`] anyway. Each clear starts a new generation, and a principal read from the
/// database before a clear is not cached after it (a lookup racing a revocation cannot bring
/// the revoked token back for a TTL).
#[derive(Default)]
pub struct AuthCache {
    map: Mutex<(u64, HashMap<String, Cached>)>,
}

/// A principal, its token's expiry (ms), when it was checked in the database, and whether it is
/// still fresh (not marked for a check by [`AuthCache::expire_all`]).
type Cached = (Arc<Principal>, i64, Instant, bool);

impl AuthCache {
    /// How long a cached principal is trusted.
    pub const TTL: Duration = Duration::from_secs(30);
    /// How long a principal checked once may still be trusted while the database cannot be
    /// reached (a node that lost the database keeps serving calls for this long).
    pub const STALE: Duration = Duration::from_secs(15 * 60);
    const MAX: usize = 10_000;

    fn lock(&self) -> MutexGuard<'_, (u64, HashMap<String, Cached>)> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, hash: &str) -> Option<Arc<Principal>> {
        let map = self.lock();
        let (p, expires_at, cached, fresh) = map.1.get(hash)?;
        (*fresh && cached.elapsed() < Self::TTL && *expires_at > now_ms()).then(|| p.clone())
    }

    /// The current generation: read it before looking a token up, give it to `put`.
    pub(crate) fn generation(&self) -> u64 {
        self.lock().0
    }

    pub(crate) fn put(&self, hash: String, p: Arc<Principal>, expires_at: i64, generation: u64) {
        let mut map = self.lock();
        if map.0 != generation {
            return;
        }
        if map.1.len() >= Self::MAX {
            map.1.retain(|_, (_, expires_at, cached, _)| cached.elapsed() < Self::STALE && *expires_at > now_ms());
            if map.1.len() >= Self::MAX {
                map.1.clear();
            }
        }
        map.1.insert(hash, (p, expires_at, Instant::now(), true));
    }

    /// Forgets one token (the database says it is no longer valid), so that an outage cannot
    /// bring it back through [`AuthCache::get_stale`].
    pub(crate) fn forget(&self, hash: &str) {
        self.lock().1.remove(hash);
    }

    /// A principal cached at most [`AuthCache::STALE`] ago whose token has not expired, however
    /// old its check: for when the database cannot be reached to check it again.
    pub(crate) fn get_stale(&self, hash: &str) -> Option<Arc<Principal>> {
        let map = self.lock();
        let (p, expires_at, cached, _) = map.1.get(hash)?;
        (cached.elapsed() < Self::STALE && *expires_at > now_ms()).then(|| p.clone())
    }

    /// Makes every cached principal be checked again on its next use, keeping it for
    /// [`AuthCache::get_stale`] (the periodic reconcile of several nodes).
    pub(crate) fn expire_all(&self) {
        let mut map = self.lock();
        for (_, _, _, fresh) in map.1.values_mut() {
            *fresh = false;
        }
    }

    /// Forgets everything (after any change to tokens, users or permissions).
    pub fn clear(&self) {
        let mut map = self.lock();
        map.0 = map.0.wrapping_add(1);
        map.1.clear();
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
        let token = bearer_token(&parts.headers)?;
        Ok(Auth(crate::ops::account::bearer(state, token).await?))
    }
}

/// The token of an `Authorization: Bearer <token>` header, or why there is none.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AppError> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        AppError::Unauthorized(
            "this needs a bearer token: send `Authorization: Bearer <token>` (from POST /api/v1/login or an API token)"
                .into(),
        )
    })?;
    header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::Unauthorized("the Authorization header is not `Bearer <token>`".into()))
}

/// The client address of a request: the TCP peer's, or, when the peer is a trusted proxy
/// ([`Config::trusted_proxies`](crate::Config)), the nearest address of `X-Forwarded-For` that is
/// not itself a trusted proxy (the header is read right to left: each proxy appends the address
/// it saw, and only the entries added by trusted proxies can be believed). An untrusted peer's
/// `X-Forwarded-For` is ignored.
pub fn client_ip(peer: SocketAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer.ip());
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            // Garbage: nothing left of it can be believed; the last trusted hop answers.
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

/// An address of `X-Forwarded-For`: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))?;
    Some(canonical(ip))
}

/// Counts failed logins per (user name, client address), per address and per name, and says
/// whether the next attempt may be checked (see [`Backoff`] for the policy).
///
/// An attempt is *reserved* ([`LoginThrottle::reserve`]) before its password is checked, so a
/// burst of parallel attempts cannot all pass the check before the first failure is counted:
/// a pair past its free failures is refused while one of its attempts is still in flight.
/// The counts are bounded: an entry idle for `forget_after` is forgotten, and when
/// `max_entries` are held the idle ones are swept and then the oldest tenth dropped, never
/// everyone's counts at once.
pub struct LoginThrottle {
    policy: Backoff,
    counts: Mutex<Counts>,
}

struct Counts {
    map: HashMap<String, Count>,
    last_sweep: Instant,
}

/// The count of one key.
#[derive(Clone, Copy, Debug)]
struct Count {
    /// Checked attempts that failed.
    failures: u32,
    /// Reserved attempts not yet checked.
    pending: u32,
    /// The last reservation or failure.
    last: Instant,
}

/// A reserved login attempt. Say how it ended ([`Attempt::failed`], [`Attempt::succeeded`],
/// [`Attempt::not_checked`]); dropped without a verdict (the request was abandoned while its
/// password was checked), it counts as a failure.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    pair: String,
    address: String,
    name: String,
    /// How long to wait before checking: the name is past its name-wide ceiling.
    pub delay: Duration,
    done: bool,
}

impl Attempt<'_> {
    /// The password was wrong (or the user unknown).
    pub fn failed(mut self) {
        self.done = true;
        self.throttle.finish(&self, Verdict::Failed);
    }

    /// The password was right: the pair's count starts again.
    pub fn succeeded(mut self) {
        self.done = true;
        self.throttle.finish(&self, Verdict::Succeeded);
    }

    /// The password could not be checked (server busy, database error): not counted.
    pub fn not_checked(mut self) {
        self.done = true;
        self.throttle.finish(&self, Verdict::NotChecked);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.throttle.finish(self, Verdict::Failed);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Failed,
    Succeeded,
    NotChecked,
}

/// The key of a user name: its case-insensitive key, or a digest of it when it is longer than
/// any user name can be (so a huge name costs no memory).
fn name_key(user: &str) -> String {
    let k = crate::db::key(user);
    if k.len() <= 64 { k } else { format!("#{}", xif_package::sha256_hex(k.as_bytes())) }
}

/// The key of an address: IPv4 as it is, IPv6 by its /64 (one host usually holds a whole /64).
fn address_key(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

impl LoginThrottle {
    /// A throttle with this policy.
    pub fn new(policy: Backoff) -> LoginThrottle {
        LoginThrottle { policy, counts: Mutex::new(Counts { map: HashMap::new(), last_sweep: Instant::now() }) }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_after(&self, failures: u32, free: u32) -> Duration {
        if failures < free {
            return Duration::ZERO;
        }
        let doublings = (failures - free).min(20);
        self.policy.first_wait.saturating_mul(1 << doublings).min(self.policy.max_wait)
    }

    /// How long a key with count `c` and `free` free failures must wait before its next attempt.
    fn wait(&self, c: &Count, free: u32, now: Instant) -> Duration {
        if c.failures.saturating_add(c.pending) < free {
            return Duration::ZERO;
        }
        if c.pending > 0 {
            // The verdict of an attempt in flight decides; until then, no more of them.
            return self.policy.first_wait.max(Duration::from_secs(1));
        }
        self.wait_after(c.failures, free).saturating_sub(now.saturating_duration_since(c.last))
    }

    fn stale(&self, c: &Count, now: Instant) -> bool {
        c.pending == 0 && now.saturating_duration_since(c.last) >= self.policy.forget_after
    }

    /// The keys an attempt to log in as `user` from `ip` is counted under: the pair, the address,
    /// the name.
    pub fn keys(user: &str, ip: IpAddr) -> [String; 3] {
        let name = name_key(user);
        let address = address_key(ip);
        [format!("p:{name}\n{address}"), format!("a:{address}"), format!("n:{name}")]
    }

    /// How long a count idle for is forgotten, in ms.
    pub fn forget_ms(&self) -> i64 {
        i64::try_from(self.policy.forget_after.as_millis()).unwrap_or(i64::MAX)
    }

    /// Reserves an attempt to log in as `user` from `ip`, or `Err(wait)` when this pair or this
    /// address must wait first (this node's counts only).
    #[cfg(test)]
    pub fn reserve(&self, user: &str, ip: IpAddr) -> Result<Attempt<'_>, Duration> {
        self.reserve_shared(user, ip, &HashMap::new())
    }

    /// [`LoginThrottle::reserve`], also counting the failures every node recorded in the
    /// database (`shared`: key → (failures, last ms), from `Db::login_failures`).
    pub fn reserve_shared(
        &self,
        user: &str,
        ip: IpAddr,
        shared: &HashMap<String, (u32, i64)>,
    ) -> Result<Attempt<'_>, Duration> {
        let now = Instant::now();
        let now_ms = now_ms();
        let [pair, address, name] = Self::keys(user, ip);
        let mut counts = self.lock();
        self.sweep(&mut counts, now);
        // A key's count: this node's, with the failures of every node when they are more.
        let count = |counts: &Counts, key: &String| -> Option<Count> {
            let local = counts.map.get(key).filter(|c| !self.stale(c, now)).copied();
            let Some(&(failures, last_ms)) = shared.get(key) else { return local };
            let ago = Duration::from_millis(u64::try_from(now_ms.saturating_sub(last_ms)).unwrap_or(0));
            let last = now.checked_sub(ago).unwrap_or(now);
            let mut c = local.unwrap_or(Count { failures: 0, pending: 0, last });
            if failures > c.failures {
                c.failures = failures;
                c.last = c.last.max(last);
            }
            Some(c).filter(|c| !self.stale(c, now))
        };
        let mut longest = Duration::ZERO;
        for (key, free) in [(&pair, self.policy.free_failures), (&address, self.policy.free_failures_per_address)] {
            if let Some(c) = count(&counts, key) {
                longest = longest.max(self.wait(&c, free, now));
            }
        }
        if !longest.is_zero() {
            return Err(longest);
        }
        let past_ceiling = count(&counts, &name).is_some_and(|c| c.failures >= self.policy.name_ceiling);
        for key in [&pair, &address, &name] {
            let c = counts.map.entry(key.clone()).or_insert(Count { failures: 0, pending: 0, last: now });
            if self.stale(c, now) {
                c.failures = 0;
            }
            c.pending = c.pending.saturating_add(1);
            c.last = now;
        }
        let delay = if past_ceiling { self.policy.name_delay } else { Duration::ZERO };
        Ok(Attempt { throttle: self, pair, address, name, delay, done: false })
    }

    fn finish(&self, attempt: &Attempt<'_>, verdict: Verdict) {
        let now = Instant::now();
        let mut counts = self.lock();
        for key in [&attempt.pair, &attempt.address, &attempt.name] {
            let Some(c) = counts.map.get_mut(key) else { continue };
            c.pending = c.pending.saturating_sub(1);
            match verdict {
                Verdict::Failed => {
                    c.failures = c.failures.saturating_add(1);
                    c.last = now;
                }
                Verdict::Succeeded if key == &attempt.pair => c.failures = 0,
                Verdict::Succeeded | Verdict::NotChecked => {}
            }
            if c.failures == 0 && c.pending == 0 && key == &attempt.pair {
                counts.map.remove(key);
            }
        }
    }

    /// Drops the idle entries now and then, and the oldest ones when the map is full.
    fn sweep(&self, counts: &mut Counts, now: Instant) {
        // A reservation adds up to three keys.
        let full = counts.map.len() + 3 > self.policy.max_entries.max(1);
        let due = now.saturating_duration_since(counts.last_sweep) >= self.policy.forget_after / 4;
        if !full && !due {
            return;
        }
        counts.last_sweep = now;
        counts.map.retain(|_, c| !self.stale(c, now));
        let max = self.policy.max_entries.max(1);
        if counts.map.len() < max - max / 10 {
            return;
        }
        // Still nearly full of recent counts: drop the oldest tenth of the idle ones.
        let mut idle: Vec<Instant> = counts.map.values().filter(|c| c.pending == 0).map(|c| c.last).collect();
        if idle.is_empty() {
            return;
        }
        let nth = (idle.len() / 10).min(idle.len() - 1);
        let (_, cutoff, _) = idle.select_nth_unstable(nth);
        let cutoff = *cutoff;
        counts.map.retain(|_, c| c.pending > 0 || c.last > cutoff);
    }

    /// How many counts are held (for tests of the bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().map.len()
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

    fn policy() -> Backoff {
        Backoff {
            free_failures: 2,
            free_failures_per_address: 10,
            first_wait: Duration::from_secs(1),
            max_wait: Duration::from_secs(3),
            ..Backoff::default()
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    #[test]
    fn throttle_doubles_then_resets() {
        let t = LoginThrottle::new(policy());
        assert_eq!(t.wait_after(1, 2), Duration::ZERO);
        assert_eq!(t.wait_after(2, 2), Duration::from_secs(1));
        assert_eq!(t.wait_after(3, 2), Duration::from_secs(2));
        assert_eq!(t.wait_after(9, 2), Duration::from_secs(3));
        let a = ip("127.0.0.1");
        t.reserve("Ada", a).expect("free").failed();
        t.reserve("ada", a).expect("free").failed();
        assert!(t.reserve("ADA", a).is_err(), "the pair waits");
        assert!(t.reserve("ada", ip("127.0.0.2")).is_ok(), "another address does not");
        assert!(t.reserve("bob", a).is_ok(), "another name from the same address does not");
    }

    /// Guards the reservation: attempts in flight count before their verdict, so a burst of
    /// parallel attempts gets no more checks than the free ones.
    #[test]
    fn attempts_in_flight_count_before_their_verdict() {
        let t = LoginThrottle::new(policy());
        let a = ip("10.0.0.1");
        let first = t.reserve("admin", a).expect("free");
        let second = t.reserve("admin", a).expect("free");
        assert!(t.reserve("admin", a).is_err(), "two in flight use the two free failures");
        second.succeeded();
        assert!(t.reserve("admin", a).is_ok_and(|x| {
            x.not_checked();
            true
        }));
        drop(first); // abandoned: counted as a failure
        let third = t.reserve("admin", a).expect("one failure of two");
        third.failed();
        assert!(t.reserve("admin", a).is_err());
    }

    /// Guards the name-wide ceiling: it delays, it never refuses another address.
    #[test]
    fn a_name_past_its_ceiling_is_delayed_not_refused() {
        let t = LoginThrottle::new(Backoff { name_ceiling: 3, free_failures_per_address: 100, ..policy() });
        for i in 0..3 {
            t.reserve("admin", ip(&format!("10.0.0.{i}"))).expect("free").failed();
        }
        let other = t.reserve("admin", ip("10.9.9.9")).expect("never refused");
        assert_eq!(other.delay, Backoff::default().name_delay);
        other.succeeded();
    }

    /// Guards the bound: a full map drops its oldest idle counts, not everyone's.
    #[test]
    fn the_map_is_bounded_without_forgetting_everyone() {
        let t = LoginThrottle::new(Backoff { max_entries: 100, free_failures_per_address: 10_000, ..policy() });
        let a = ip("10.0.0.1");
        t.reserve("victim", a).expect("free").failed();
        t.reserve("victim", a).expect("free").failed();
        for i in 0..500 {
            t.reserve(&format!("user{i}"), ip("10.0.0.2")).expect("free").failed();
            assert!(t.len() <= 100, "{} counts", t.len());
        }
        assert!(t.len() > 50, "not wiped: {}", t.len());
        let long = "x".repeat(100_000);
        t.reserve(&long, a).expect("free").failed();
    }

    #[test]
    fn the_client_address_comes_from_trusted_proxies_only() {
        let peer: SocketAddr = "10.0.0.5:4000".parse().expect("peer");
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 198.51.100.1".parse().expect("header"));
        assert_eq!(client_ip(peer, &h, &[]), ip("10.0.0.5"), "untrusted peer: header ignored");
        let proxy: IpNet = "10.0.0.0/8".parse().expect("net");
        assert_eq!(client_ip(peer, &h, &[proxy]), ip("198.51.100.1"), "the nearest untrusted hop");
        let both = [proxy, "198.51.100.0/24".parse().expect("net")];
        assert_eq!(client_ip(peer, &h, &both), ip("203.0.113.9"));
        h.insert("x-forwarded-for", "not an address".parse().expect("header"));
        assert_eq!(client_ip(peer, &h, &[proxy]), ip("10.0.0.5"));
        assert_eq!(client_ip(peer, &HeaderMap::new(), &[proxy]), ip("10.0.0.5"));
    }

    #[tokio::test]
    async fn passwords_verify() {
        let p = Arc::new(Passwords::new(true, 2, Duration::from_secs(5)).expect("params"));
        let h = p.hash("correct horse".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(p.verify("correct horse".into(), Some(h.clone())).await, Ok(true));
        assert_eq!(p.verify("wrong".into(), Some(h)).await, Ok(false));
        assert_eq!(p.verify("anything".into(), None).await, Ok(false));
    }
}
