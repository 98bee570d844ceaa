//! The Service Center: the web console served under `/` (server-rendered HTML, maud templates,
//! a stylesheet and a little plain JavaScript, all served by this module).
//!
//! Every page needs a browser session (`console_sessions`, cookie `xif_session`: HttpOnly,
//! SameSite=Strict, Secure with --tls-cert or an https --public-url); every form and script request carries the session's
//! CSRF token. The console does what the API does by calling the same operations
//! ([`crate::ops`]) with the session's user as the principal, so permission checks and messages
//! are the same; it never calls the API.
//!
//! **Architecture Invariant:** the session cookie authorizes these routes only. They are kept
//! out of the API's route list (and its OpenAPI document), and `auth::Auth` never reads a
//! cookie, so a cookie never authorizes the JSON API.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::auth::{Auth, client_ip, random_secret};
use crate::error::AppError;
use crate::http::{self, ApiPath};
use crate::ops;
use crate::ops::account::LoginRefused;
use crate::ops::wire::{CreateUser, SetSettings, UpdateUser};
use crate::publish;
use crate::state::AppState;

pub mod store;
mod views;

/// The session cookie.
pub const SESSION_COOKIE: &str = "xif_session";
/// The login form's CSRF cookie (before there is a session).
const LOGIN_COOKIE: &str = "xif_login";
/// The header scripts send the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The console's routes (merged into the server's router; not part of the API's route list).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/extensions") }))
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/extensions", get(extensions_page))
        .route("/extensions/{name}", get(extension_page))
        .route("/extensions/{name}/diff", get(compare_page))
        .route("/extensions/{name}/entities/{entity}", get(records_page))
        .route("/extensions/{name}/try", post(try_action))
        .route("/extensions/{name}/logs/follow", get(follow_logs))
        .route("/extensions/{name}/settings", post(set_settings))
        .route("/extensions/{name}/rollout", post(rollout_form))
        .route("/extensions/{name}/versions/{version}/publish", post(publish_form))
        .route("/extensions/{name}/versions/{version}/rollback", post(rollback_form))
        .route("/extensions/{name}/versions/{version}/publish/stream", post(publish_stream))
        .route("/extensions/{name}/versions/{version}/delete", post(delete_version))
        .route("/extensions/{name}/versions/{version}/download", get(download))
        .route("/upload", get(upload_page).post(upload))
        .route("/users", get(users_page).post(create_user))
        .route("/users/{user}/permissions", post(set_permissions))
        .route("/users/{user}/tokens/revoke", post(revoke_tokens))
        .route("/metrics-tokens", post(create_scrape_token))
        .route("/metrics-tokens/{id}/revoke", post(revoke_scrape_token))
        .route("/users/password", post(reset_password))
        .route("/log", get(log_page))
}

async fn css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        include_str!("assets/console.css"),
    )
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        include_str!("assets/console.js"),
    )
}

// ---- sessions, CSRF, errors ----

/// The logged-in user of a console request.
pub struct Session {
    /// Session id.
    pub id: i64,
    /// Its CSRF token.
    pub csrf: String,
    /// The one-time message to show (already cleared in the database).
    pub flash: Option<Flash>,
    /// The user, as the API's handlers take it.
    pub auth: Auth,
}

/// A one-time message: good news or an error.
pub struct Flash {
    /// An error (else a success).
    pub error: bool,
    /// The text.
    pub text: String,
}

impl Session {
    fn check_csrf(&self, given: Option<&str>) -> Result<(), ConsoleError> {
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(ConsoleError::Csrf),
        }
    }

    async fn flash(&self, state: &AppState, error: bool, text: &str) -> Result<(), ConsoleError> {
        Ok(ops::account::console_flash(state, self.id, error, text).await?)
    }

    fn admin(&self) -> bool {
        self.auth.admin
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of a cookie of the request.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether cookies are `Secure`: the server terminates TLS or was told its public URL is
/// `https://` (the trustworthy signals, `Config::serves_https`); a request a proxy marks
/// `X-Forwarded-Proto: https` too (it can only add the flag, never remove it).
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.config.serves_https()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; ApiPath=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Session, ConsoleError> {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
        let login = || ConsoleError::Login {
            next: if parts.method == axum::http::Method::GET { next.clone() } else { "/".into() },
        };
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(login)?;
        let row = ops::account::console_session(state, &token).await?.ok_or_else(login)?;
        let flash = row.flash.map(|f| match f.strip_prefix("error:") {
            Some(text) => Flash { error: true, text: text.to_string() },
            None => Flash { error: false, text: f.strip_prefix("ok:").unwrap_or(&f).to_string() },
        });
        Ok(Session { id: row.id, csrf: row.csrf, flash, auth: Auth(row.who) })
    }
}

/// Why a console request failed: a redirect to the login page, a refused CSRF token, or an
/// error page with the API's status and message.
#[derive(Debug)]
pub enum ConsoleError {
    /// No valid session: log in, then come back to `next`.
    Login {
        /// Where to go after logging in.
        next: String,
    },
    /// The form's CSRF token is missing or wrong.
    Csrf,
    /// The request failed as the API would have.
    App(AppError),
}

impl From<AppError> for ConsoleError {
    fn from(e: AppError) -> ConsoleError {
        ConsoleError::App(e)
    }
}

impl From<ops::Error> for ConsoleError {
    fn from(e: ops::Error) -> ConsoleError {
        ConsoleError::App(e.into())
    }
}

/// The message of a refused CSRF token.
pub const CSRF_MESSAGE: &str = "The form was refused: its security token (CSRF) is missing or does not match your session. \
     Reload the page and submit it again.";

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::Login { next } => {
                let next = if safe_next(&next) { next } else { "/".into() };
                Redirect::to(&format!("/login?next={}", percent_encode(&next))).into_response()
            }
            ConsoleError::Csrf => {
                (StatusCode::FORBIDDEN, Html(views::error_page("Refused", CSRF_MESSAGE).into_string())).into_response()
            }
            ConsoleError::App(e) => {
                let status = e.status();
                if status.is_server_error() {
                    tracing::error!(error = %e, "console request failed");
                }
                let title = status.canonical_reason().unwrap_or("Error");
                (status, Html(views::error_page(title, &e.public_message()).into_string())).into_response()
            }
        }
    }
}

/// Whether `next` is a path of this server, safe to redirect to after login: it starts with
/// one `/` (not `//` or `/\\`, which browsers read as another host), has no backslash, no
/// space or control character (browsers drop tabs and newlines, so `/<TAB>/evil.example` is
/// `//evil.example`), only ASCII (a `Location` header takes nothing else), and is not huge.
fn safe_next(next: &str) -> bool {
    let b = next.as_bytes();
    b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && b.len() <= 2048
        && b.iter().all(|c| c.is_ascii_graphic() && *c != b'\\')
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The fields of a submitted form (names may repeat: checkboxes).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

type Form = axum::Form<Fields>;

fn page(markup: maud::Markup) -> Response {
    Html(markup.into_string()).into_response()
}

// ---- login ----

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, ConsoleError> {
    login_form(&state, &headers, q.next.as_deref().unwrap_or("/extensions"), None, StatusCode::OK)
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let csrf = random_secret(24).map_err(AppError::Internal)?;
    let next = if safe_next(next) { next } else { "/extensions" };
    let mut response = (status, Html(views::login(&csrf, next, error).into_string())).into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &csrf, 3600, secure(state, headers)));
    Ok(response)
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    let next = form.get("next").unwrap_or("/extensions").to_string();
    let given = form.get("csrf").unwrap_or_default();
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ConsoleError::Csrf);
    }
    let user_name = form.get("user").unwrap_or_default().trim().to_string();
    let password = form.get("password").unwrap_or_default().to_string();
    // The same throttle, address and checks as `POST /api/v1/login`.
    let ip = client_ip(addr, &headers, &state.config.trusted_proxies);
    let session = match ops::account::console_login(&state, &user_name, password, ip).await {
        Ok(session) => session,
        Err(LoginRefused::Failed(e)) => return Err(e.into()),
        Err(LoginRefused::Wrong) => {
            return login_form(&state, &headers, &next, Some("Wrong user name or password."), StatusCode::UNAUTHORIZED);
        }
        Err(refused) => {
            let e = AppError::from(refused.into_error(&user_name));
            let mut text = e.public_message();
            if let Some(first) = text.get(..1) {
                text = format!("{}{}.", first.to_uppercase(), &text[1..]);
            }
            return login_form(&state, &headers, &next, Some(&text), e.status());
        }
    };
    let target = if safe_next(&next) { next } else { "/extensions".into() };
    let mut response = Redirect::to(&target).into_response();
    let secure = secure(&state, &headers);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &session.token, session.lifetime_ms / 1000, secure));
    headers.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", 0, secure));
    Ok(response)
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    ops::account::console_logout(&state, session.id).await?;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, secure(&state, &headers)));
    Ok(response)
}

// ---- extensions ----

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// The extension page's `?range=hour|day` (anything else: the hour).
#[derive(Deserialize)]
struct RangeQuery {
    range: Option<String>,
}

async fn extensions_page(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<SearchQuery>,
) -> Result<Response, ConsoleError> {
    let search = q.q.unwrap_or_default();
    let rows = state.db.console_extensions(search.trim()).await?;
    let list: Vec<views::ListItem> = rows
        .into_iter()
        .map(|r| {
            let live = state.registry.get(&r.name).filter(|l| Some(l.version) == r.active_version);
            let entities = live.map(|l| l.definition().entities.iter().map(|e| e.name.text.clone()).collect());
            views::ListItem { row: r, entities }
        })
        .collect();
    // The last hour's calls of every extension, summed over every node.
    let totals = state.db.call_totals(xif_store::now_ms() / 60_000 - 59).await?;
    Ok(page(views::extensions(&session, &list, &totals, search.trim())))
}

/// The definition the extension page shows: the active version's, else the latest upload's.
async fn page_definition(
    state: &AppState,
    ext: &crate::db::ExtensionRow,
    versions: &[crate::db::VersionRow],
) -> Result<Option<(i64, Arc<xif_model::Definition>)>, AppError> {
    if let Some(live) = state.registry.get(&ext.name).filter(|l| Some(l.version) == ext.active_version) {
        return Ok(Some((live.version, live.definition().clone())));
    }
    let Some(v) = versions.iter().find(|v| Some(v.number) == ext.active_version).or(versions.last()) else {
        return Ok(None);
    };
    let package = publish::stored_package(state, &v.digest, &format!("version {}", v.number)).await?;
    let (def, _) = publish::definition(&package)?;
    Ok(Some((v.number, Arc::new(def))))
}

/// What the "try an action" form showed.
pub struct TryResult {
    /// The action.
    pub action: String,
    /// The input as typed.
    pub input: String,
    /// The HTTP status of the call.
    pub status: u16,
    /// The answer (outputs or the error), pretty-printed JSON.
    pub output: String,
    /// Whether it failed.
    pub failed: bool,
}

async fn render_extension(
    state: &AppState,
    session: &Session,
    name: &str,
    tried: Option<TryResult>,
    notice: Option<Flash>,
    status: StatusCode,
    span: ops::logs::Span,
) -> Result<Response, ConsoleError> {
    let ext = state
        .db
        .extension(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("there is no extension named {name}")))?;
    let versions = state.db.versions(ext.id).await?;
    let log = state.db.publishes(&ext.name, 100_000).await?;
    let definition = page_definition(state, &ext, &versions).await?;
    let settings = match state.registry.get(&ext.name) {
        Some(live) if Some(live.version) == ext.active_version => {
            let stored = state.registry.settings(&ext.name);
            let mut values = (*stored.values).clone();
            // A secret that cannot be read still shows as set.
            for name in stored.unavailable.keys() {
                values.entry(name.clone()).or_default();
            }
            Some(values)
        }
        _ => None,
    };
    // Secret as the server decides it (stored, or declared by any version), not as the shown
    // definition alone says.
    let secret = match &definition {
        Some((_, def)) => publish::secret_names(state, ext.id, &ext.name, def).await?,
        None => Default::default(),
    };
    let activity = ops::logs::activity(state, ext.id, span).await?;
    // The messages its callers were answered with, as the server's log page shows them.
    let failures = state.db.console_action_errors_of(&ext.name, 5).await?;
    // The log only for those who may read it (administrators and who may publish it).
    let query = ops::wire::ExtensionLogQuery { limit: Some(50), ..Default::default() };
    let log_lines = match ops::logs::reader(state, &session.auth, &ext.name, &query).await {
        Ok(reader) => Some(reader.page().await?.lines),
        Err(ops::Error::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let mut by_version: HashMap<i64, Vec<crate::db::PublishRow>> = HashMap::new();
    for row in log {
        by_version.entry(row.version).or_default().push(row);
    }
    // Each version's API changes against the previous stored one; one that cannot be compared
    // says why instead of failing the page.
    let changes: HashMap<i64, Result<ops::wire::VersionDiff, String>> =
        ops::extensions::version_history(state, &session.auth, &ext.name)
            .await?
            .into_iter()
            .map(|(n, d)| (n, d.map_err(|e| AppError::from(e).public_message())))
            .collect();
    let rollout = match ops::rollout::status(state, &session.auth, &ext.name).await {
        Ok(r) => Some(r),
        Err(ops::Error::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let data = views::ExtensionData {
        rollout: rollout.as_ref(),
        ext: &ext,
        versions: &versions,
        log: &by_version,
        changes: &changes,
        definition: definition.as_ref().map(|(n, d)| (*n, &**d)),
        settings: settings.as_ref(),
        secret: &secret,
        tried: tried.as_ref(),
        notice: notice.as_ref().or(session.flash.as_ref()),
        activity: &activity,
        failures: &failures,
        log_lines: log_lines.as_deref(),
    };
    Ok((status, Html(views::extension(session, &data).into_string())).into_response())
}

async fn extension_page(
    State(state): State<AppState>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, ConsoleError> {
    let span = if q.range.as_deref() == Some("day") { ops::logs::Span::Day } else { ops::logs::Span::Hour };
    render_extension(&state, &session, &name, None, None, StatusCode::OK, span).await
}

/// The compare page's `?from=A&to=B`, as typed (checked by [`compare_page`]).
#[derive(Deserialize)]
struct CompareQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A version number given in the compare page's query: none when empty, else a number.
fn version_number(what: &str, given: Option<&str>) -> Result<Option<i64>, AppError> {
    match given.map(str::trim).filter(|g| !g.is_empty()) {
        None => Ok(None),
        Some(g) => g.parse::<i64>().map(Some).map_err(|_| AppError::BadRequest {
            kind: "bad_query",
            message: format!("“{g}” is not a version number: give {what} as a number, like ?from=1&to=2"),
            parameter: Some(what.to_string()),
        }),
    }
}

/// The API changes between any two versions (`?from=A&to=B`; without `to`, the latest version;
/// without `from`, the nearest lower one), through the same operation as the API's diff.
async fn compare_page(
    State(state): State<AppState>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    Query(q): Query<CompareQuery>,
) -> Result<Response, ConsoleError> {
    let from = version_number("from", q.from.as_deref())?;
    let to = version_number("to", q.to.as_deref())?;
    let versions = ops::extensions::list_versions(&state, &session.auth, &name).await?;
    let to = match to.or(versions.last().map(|v| v.version)) {
        Some(to) => to,
        None => return Err(AppError::NotFound(format!("extension {name} has no versions to compare")).into()),
    };
    let diff = ops::extensions::version_diff(&state, &session.auth, &name, to, from).await?;
    Ok(page(views::compare(&session, &versions, &diff)))
}

/// The live log of the extension page: server-sent events of `ExtensionLogLine`, from `after`
/// on, for those who may read the log (the same check as the API's).
async fn follow_logs(
    State(state): State<AppState>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    crate::http::ApiQuery(mut q): crate::http::ApiQuery<ops::wire::ExtensionLogQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ConsoleError> {
    q.follow = Some(true);
    q.after = crate::http::follow_after(q.after, &headers);
    let reader = ops::logs::reader(&state, &session.auth, &name, &q).await?;
    let Some(lines) = reader.follow()? else {
        return Err(
            AppError::Unavailable("this server keeps no extension logs (it runs with --observe off)".into()).into()
        );
    };
    Ok(http::log_events(lines))
}

/// An entity's records, through the record API's own handler (same paging, same reading rights).
async fn records_page(
    State(state): State<AppState>,
    session: Session,
    ApiPath((name, entity)): ApiPath<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    let params: Vec<(String, String)> = params.into_iter().filter(|(k, _)| k == "offset").collect();
    let records = ops::entities::list_records(&state, &session.auth, &name, &entity, &params).await?;
    Ok(page(views::records(&session, &name, &records)))
}

async fn try_action(
    State(state): State<AppState>,
    axum::Extension(id): axum::Extension<crate::http::RequestId>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let action = form.get("action").unwrap_or_default().to_string();
    let input = form.get("input").unwrap_or_default().to_string();
    let body = futures_util::stream::once(std::future::ready(Ok::<_, std::convert::Infallible>(input.clone())));
    // The call operation records a failure for the log, as for the API's calls.
    let response =
        match ops::actions::call(&state, &session.auth, &ops::actions::CallId(&id.0, true), &name, &action, None, body)
            .await
            .0
        {
            Ok(called) => axum::Json(called.outputs).into_response(),
            Err(e) => AppError::from(e).into_response(),
        };
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.map_err(AppError::internal)?;
    let output = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    let tried = TryResult { action, input, status: status.as_u16(), output, failed: !status.is_success() };
    render_extension(&state, &session, &name, Some(tried), None, StatusCode::OK, ops::logs::Span::Hour).await
}

/// The JSON value of a setting typed in a form: the type table takes numbers and booleans as
/// JSON, everything else (Decimal and dates included) as text.
fn setting_value(ty: &str, text: &str) -> serde_json::Value {
    match ty {
        "Integer" | "Boolean" => {
            serde_json::from_str(text.trim()).unwrap_or_else(|_| serde_json::Value::String(text.into()))
        }
        _ => serde_json::Value::String(text.into()),
    }
}

async fn set_settings(
    State(state): State<AppState>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let mut values = std::collections::BTreeMap::new();
    for s in ops::extensions::editable_settings(&state, &name).await? {
        let field = format!("setting.{}", s.name);
        let clear = form.get(&format!("clear.{}", s.name)).is_some();
        match form.get(&field) {
            _ if clear => {
                values.insert(s.name, serde_json::Value::Null);
            }
            // A secret left empty keeps its value.
            Some("") if s.secret => {}
            Some("") => {
                values.insert(s.name, serde_json::Value::Null);
            }
            Some(text) => {
                let value = setting_value(&s.ty, text);
                values.insert(s.name, value);
            }
            None => {}
        }
    }
    let done = ops::extensions::set_settings(&state, &session.auth, &name, &SetSettings { values })
        .await
        .map_err(AppError::from);
    let notice = match done {
        Ok(_) => Flash { error: false, text: "Settings saved. Calls that start now see the new values.".into() },
        Err(e) if e.status() == StatusCode::FORBIDDEN || e.status() == StatusCode::BAD_REQUEST => {
            let status = e.status();
            let notice = Flash { error: true, text: e.public_message() };
            return render_extension(&state, &session, &name, None, Some(notice), status, ops::logs::Span::Hour).await;
        }
        Err(e) => return Err(e.into()),
    };
    session.flash(&state, notice.error, &notice.text).await?;
    Ok(Redirect::to(&format!("/extensions/{}#settings", percent_encode(&name))).into_response())
}

async fn publish_form(
    state: State<AppState>,
    session: Session,
    path: ApiPath<(String, i64)>,
    form: Form,
) -> Result<Response, ConsoleError> {
    run_publish_form(state, session, path, form, publish::Kind::Publish).await
}

async fn rollback_form(
    state: State<AppState>,
    session: Session,
    path: ApiPath<(String, i64)>,
    form: Form,
) -> Result<Response, ConsoleError> {
    run_publish_form(state, session, path, form, publish::Kind::Rollback).await
}

async fn run_publish_form(
    State(state): State<AppState>,
    session: Session,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    axum::Form(form): Form,
    kind: publish::Kind,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let gradual = match form.get("gradual").map(|g| g.trim()).filter(|g| !g.is_empty()) {
        None => None,
        Some(g) => Some(publish::Gradual {
            percent: g.parse().map_err(|_| {
                ConsoleError::from(AppError::bad(
                    "bad_request",
                    format!("the gradual share {g:?} is not a whole number of percent (1 to 99)"),
                ))
            })?,
            per_caller: form.get("per_caller").is_some(),
            guard: form.get("no_guard").is_none(),
        }),
    };
    let options = publish::Options { force: false, allow_breaking: form.get("allow_breaking").is_some(), gradual };
    let who = session.auth.0.clone();
    let refused = match ops::extensions::publish(&state, who, name.clone(), number, kind, options, None).await {
        Ok(task) => match task.await {
            Ok(outcome) => outcome.error,
            Err(e) => {
                tracing::error!(error = %e, "the publish task failed");
                Some(AppError::internal(e))
            }
        },
        Err(e) => Some(AppError::from(e)),
    };
    let text = match &refused {
        None => match (kind, gradual) {
            (publish::Kind::Publish, Some(g)) => {
                format!("Version {number} of {name} is rolling out: it takes {}% of calls.", g.percent)
            }
            (publish::Kind::Publish, None) => format!("Published version {number} of {name}."),
            (publish::Kind::Rollback, _) => format!("Rolled back {name} to version {number}."),
            (publish::Kind::Rollout, _) => format!("Version {number} of {name} moved on."),
        },
        Some(e) => format!("Version {number} was not activated: {}", e.public_message()),
    };
    session.flash(&state, refused.is_some(), &text).await?;
    Ok(Redirect::to(&format!("/extensions/{}", percent_encode(&name))).into_response())
}

/// Moves the rollout on (`percent`, 100 activates) or aborts it (`abort`), through the same
/// operations as the API's.
async fn rollout_form(
    State(state): State<AppState>,
    session: Session,
    ApiPath(name): ApiPath<String>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    // The version the page showed: a change meant for it never moves another one.
    let meant = form.get("version").and_then(|v| v.trim().parse::<i64>().ok());
    let result = if form.get("abort").is_some() {
        ops::rollout::abort(&state, &session.auth, &name, meant).await
    } else {
        let given = form.get("percent").map(|p| p.trim()).unwrap_or_default();
        match given.parse::<u32>() {
            Ok(percent) => ops::rollout::set(&state, &session.auth, &name, percent, meant).await,
            Err(_) => Err(ops::Error::bad(
                "bad_request",
                format!("the share {given:?} is not a whole number of percent (1 to 100)"),
            )),
        }
    };
    let (failed, text) = match result {
        Ok(moved) => (false, format!("{}: {}.", moved.extension, moved.message)),
        Err(e) => (true, format!("The rollout did not change: {}", AppError::from(e).public_message())),
    };
    session.flash(&state, failed, &text).await?;
    Ok(Redirect::to(&format!("/extensions/{}#rollout", percent_encode(&name))).into_response())
}

/// Publishes with the stages streamed (server-sent events), for the upload page's script.
async fn publish_stream(
    State(state): State<AppState>,
    session: Session,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    crate::http::ApiQuery(q): crate::http::ApiQuery<xif_wire::PublishQuery>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    session.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    let mut sse = HeaderMap::new();
    sse.insert(header::ACCEPT, HeaderValue::from_static("text/event-stream"));
    // The upload page's checkbox: consent to changes that break the active version's callers.
    let options = publish::Options { force: false, ..publish::Options::from(&q) };
    let (who, kind) = (session.auth.0.clone(), publish::Kind::Publish);
    Ok(http::publish(&state, who, name, number, kind, options, &sse).await.into_response())
}

async fn delete_version(
    State(state): State<AppState>,
    session: Session,
    ApiPath((name, number)): ApiPath<(String, i64)>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    match ops::extensions::delete_version(&state, &session.auth, &name, number).await.map_err(AppError::from) {
        Ok(()) => session.flash(&state, false, &format!("Deleted version {number} of {name}.")).await?,
        Err(e) => session.flash(&state, true, &e.public_message()).await?,
    }
    Ok(Redirect::to(&format!("/extensions/{}", percent_encode(&name))).into_response())
}

async fn download(
    State(state): State<AppState>,
    session: Session,
    ApiPath((name, number)): ApiPath<(String, i64)>,
) -> Result<Response, ConsoleError> {
    Ok(http::download(ops::extensions::download(&state, &session.auth, &name, number).await?))
}

// ---- upload & publish ----

async fn upload_page(session: Session) -> Response {
    page(views::upload(&session))
}

/// The upload page's script sends the `.xif` here (CSRF in a header); the extension's name is
/// the package's. The answer is the API's JSON.
async fn upload(State(state): State<AppState>, session: Session, headers: HeaderMap, body: Body) -> Response {
    if session.check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())).is_err() {
        return (StatusCode::FORBIDDEN, axum::Json(serde_json::json!({"error": "csrf", "message": CSRF_MESSAGE})))
            .into_response();
    }
    // The API's upload of the extension the package names: permission first, then the body
    // streamed to a scratch file.
    let at_least = body.size_hint().lower();
    match ops::extensions::upload(&state, &session.auth, None, at_least, body.into_data_stream()).await {
        Ok(uploaded) => http::uploaded(uploaded),
        Err(e) => AppError::from(e).into_response(),
    }
}

// ---- users ----

async fn users_page(State(state): State<AppState>, session: Session) -> Result<Response, ConsoleError> {
    render_users(&state, &session, None, StatusCode::OK).await
}

async fn render_users(
    state: &AppState,
    session: &Session,
    notice: Option<Flash>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    render_users_with(state, session, notice, status, None).await
}

/// The users page; `fresh`: a scrape token just made, shown this once.
async fn render_users_with(
    state: &AppState,
    session: &Session,
    notice: Option<Flash>,
    status: StatusCode,
    fresh: Option<&ops::wire::NewToken>,
) -> Result<Response, ConsoleError> {
    session.auth.require_admin("list users")?;
    let users = state.db.console_users().await?;
    let mut granted: HashMap<i64, Vec<String>> = HashMap::new();
    for (user, permission) in state.db.console_all_permissions().await? {
        granted.entry(user).or_default().push(permission);
    }
    let scrape = ops::account::list_scrape_tokens(state, &session.auth).await?;
    let notice = notice.as_ref().or(session.flash.as_ref());
    let page = views::UsersPage { users: &users, granted: &granted, scrape: &scrape, fresh };
    Ok((status, Html(views::users(session, &page, notice).into_string())).into_response())
}

/// Makes a scrape token for `GET /metrics` (administrators only) and shows it this once.
async fn create_scrape_token(
    State(state): State<AppState>,
    session: Session,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let days = match form.get("days").map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => match d.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let text = format!("“{d}” is not a number of days: give a whole number from 1 to 3650.");
                return render_users(&state, &session, Some(Flash { error: true, text }), StatusCode::BAD_REQUEST)
                    .await;
            }
        },
    };
    let req = ops::wire::CreateToken { name: form.get("name").unwrap_or_default().to_string(), expires_in_days: days };
    match ops::account::create_scrape_token(&state, &session.auth, req).await.map_err(AppError::from) {
        Ok(made) => {
            let text = format!("Made scrape token {}: copy it now, it is not shown again.", made.name);
            render_users_with(&state, &session, Some(Flash { error: false, text }), StatusCode::CREATED, Some(&made))
                .await
        }
        Err(e) if e.status() == StatusCode::FORBIDDEN => Err(e.into()),
        Err(e) => {
            let status = e.status();
            render_users(&state, &session, Some(Flash { error: true, text: e.public_message() }), status).await
        }
    }
}

/// Revokes a scrape token (administrators only).
async fn revoke_scrape_token(
    State(state): State<AppState>,
    session: Session,
    ApiPath(id): ApiPath<i64>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    ops::account::revoke_scrape_token(&state, &session.auth, id).await?;
    session.flash(&state, false, &format!("Revoked scrape token {id}.")).await?;
    Ok(Redirect::to("/users#scrape-tokens").into_response())
}

async fn create_user(
    State(state): State<AppState>,
    session: Session,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let req = CreateUser {
        name: form.get("name").unwrap_or_default().trim().to_string(),
        password: form.get("password").unwrap_or_default().to_string(),
        admin: form.get("admin").is_some(),
        permissions: form.all("permission"),
    };
    let name = req.name.clone();
    match ops::account::create_user(&state, &session.auth, req).await.map_err(AppError::from) {
        Ok(_) => {
            session.flash(&state, false, &format!("Created user {name}.")).await?;
            Ok(Redirect::to("/users").into_response())
        }
        Err(e) if e.status() == StatusCode::FORBIDDEN => Err(e.into()),
        Err(e) => {
            let status = e.status();
            render_users(&state, &session, Some(Flash { error: true, text: e.public_message() }), status).await
        }
    }
}

async fn set_permissions(
    State(state): State<AppState>,
    session: Session,
    ApiPath(user): ApiPath<String>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let permissions = form.all("permission");
    let _user = ops::account::set_permissions(&state, &session.auth, &user, &permissions).await?;
    session.flash(&state, false, &format!("Saved the permissions of {user}.")).await?;
    Ok(Redirect::to("/users").into_response())
}

async fn revoke_tokens(
    State(state): State<AppState>,
    session: Session,
    ApiPath(user): ApiPath<String>,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    session.auth.require_admin("end other users' sessions and tokens")?;
    let ended = ops::account::revoke_all(&state, &session.auth, &user).await?;
    let (tokens, sessions) = (ended.revoked.tokens, ended.revoked.console_sessions);
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let text = format!(
        "Ended every session and token of {}: {tokens} token{}, {sessions} Service Center session{}.",
        ended.user,
        plural(tokens),
        plural(sessions)
    );
    if !ended.own {
        session.flash(&state, false, &text).await?;
    }
    Ok(Redirect::to("/users").into_response())
}

/// Sets a user's password (administrators only), through the same operation as the API: it
/// ends every session and token of the user.
async fn reset_password(
    State(state): State<AppState>,
    session: Session,
    axum::Form(form): Form,
) -> Result<Response, ConsoleError> {
    session.check_csrf(form.get("csrf"))?;
    let user = form.get("user").unwrap_or_default().to_string();
    let req = UpdateUser { password: Some(form.get("password").unwrap_or_default().to_string()), admin: None };
    match ops::account::update_user(&state, &session.auth, &user, req).await.map_err(AppError::from) {
        Ok(_) => {
            if session.auth.name != user {
                let text = format!("Set a new password for {user}; every session and token of theirs has ended.");
                session.flash(&state, false, &text).await?;
            }
            Ok(Redirect::to("/users").into_response())
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            let status = e.status();
            render_users(&state, &session, Some(Flash { error: true, text: e.public_message() }), status).await
        }
        Err(e) => Err(e.into()),
    }
}

// ---- the log ----

async fn log_page(State(state): State<AppState>, session: Session) -> Result<Response, ConsoleError> {
    let publishes = state.db.console_recent_publishes(100).await?;
    let errors = state.db.console_action_errors(100).await?;
    Ok(page(views::log(&session, &publishes, &errors)))
}
