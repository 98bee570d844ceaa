//! The HTTP API under `/api/v1`: the router, the OpenAPI document, and the extractors that turn
//! axum's rejections into JSON errors.
//!
//! Every route is added through [`Routes::add`], which also records it, so a test can check that
//! the OpenAPI document lists every route the router serves.
use std::sync::OnceLock;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::response::IntoResponse as _;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;

use crate::http::RequestId;
pub(crate) use crate::http::{ApiJson, ApiPath, ApiQuery};

use crate::error::AppError;
use crate::state::AppState;

pub mod account;
pub mod actions;
pub mod entities;
pub mod extensions;
pub mod logs;
pub mod rollout;

/// The router being built, and the (method, path) of each route added.
pub struct Routes {
    router: Router<AppState>,
    served: Vec<(Method, &'static str)>,
}

impl Routes {
    fn add(mut self, method: Method, path: &'static str, handler: MethodRouter<AppState>) -> Routes {
        self.served.push((method, path));
        self.router = self.router.route(path, handler);
        self
    }
}

fn routes() -> Routes {
    use account as a;
    use extensions as e;
    Routes { router: Router::new(), served: Vec::new() }
        .add(Method::GET, "/api/v1/openapi.json", get(openapi_json))
        .add(Method::GET, "/api/v1/health", get(health))
        .add(Method::GET, "/api/v1/ready", get(ready))
        .add(Method::GET, "/metrics", get(logs::metrics))
        .add(Method::POST, "/api/v1/login", post(a::login))
        .add(Method::POST, "/api/v1/logout", post(a::logout))
        .add(Method::GET, "/api/v1/me", get(a::me))
        .add(Method::GET, "/api/v1/tokens", get(a::list_tokens))
        .add(Method::POST, "/api/v1/tokens", post(a::create_token))
        .add(Method::DELETE, "/api/v1/tokens/{id}", delete(a::revoke_token))
        .add(Method::GET, "/api/v1/metrics/tokens", get(a::list_scrape_tokens))
        .add(Method::POST, "/api/v1/metrics/tokens", post(a::create_scrape_token))
        .add(Method::DELETE, "/api/v1/metrics/tokens/{id}", delete(a::revoke_scrape_token))
        .add(Method::GET, "/api/v1/users", get(a::list_users))
        .add(Method::POST, "/api/v1/users", post(a::create_user))
        .add(Method::PATCH, "/api/v1/users/{user}", patch(a::update_user))
        .add(Method::DELETE, "/api/v1/users/{user}", delete(a::delete_user))
        .add(Method::PUT, "/api/v1/users/{user}/permissions", put(a::set_permissions))
        .add(Method::POST, "/api/v1/users/{user}/revoke", post(a::revoke_all))
        .add(Method::GET, "/api/v1/extensions", get(e::list_extensions))
        .add(Method::GET, "/api/v1/extensions/{name}", get(e::get_extension))
        .add(Method::DELETE, "/api/v1/extensions/{name}", delete(e::delete_extension))
        .add(Method::GET, "/api/v1/extensions/{name}/versions", get(e::list_versions))
        .add(Method::POST, "/api/v1/extensions/{name}/versions", post(e::upload))
        .add(Method::GET, "/api/v1/extensions/{name}/versions/{version}", get(e::get_version))
        .add(Method::DELETE, "/api/v1/extensions/{name}/versions/{version}", delete(e::delete_version))
        .add(Method::GET, "/api/v1/extensions/{name}/versions/{version}/package", get(e::download))
        .add(Method::GET, "/api/v1/extensions/{name}/versions/{version}/diff", get(e::version_diff))
        .add(Method::POST, "/api/v1/extensions/{name}/versions/{version}/publish", post(e::publish))
        .add(Method::POST, "/api/v1/extensions/{name}/versions/{version}/rollback", post(e::rollback))
        .add(Method::GET, "/api/v1/extensions/{name}/publishes", get(e::publishes))
        .add(Method::GET, "/api/v1/extensions/{name}/rollout", get(rollout::get_rollout))
        .add(Method::PUT, "/api/v1/extensions/{name}/rollout", put(rollout::set_rollout))
        .add(Method::DELETE, "/api/v1/extensions/{name}/rollout", delete(rollout::abort_rollout))
        .add(Method::GET, "/api/v1/extensions/{name}/logs", get(logs::logs))
        .add(Method::GET, "/api/v1/extensions/{name}/settings", get(e::get_settings))
        .add(Method::PUT, "/api/v1/extensions/{name}/settings", put(e::set_settings))
        .add(Method::POST, "/api/v1/extensions/{name}/actions/{action}", post(actions::call))
        .add(Method::GET, "/api/v1/extensions/{name}/entities/{entity}", get(entities::list_records))
        .add(Method::POST, "/api/v1/extensions/{name}/entities/{entity}", post(entities::create_record))
        .add(Method::GET, "/api/v1/extensions/{name}/entities/{entity}/{id}", get(entities::get_record))
        .add(Method::PUT, "/api/v1/extensions/{name}/entities/{entity}/{id}", put(entities::update_record))
        .add(Method::DELETE, "/api/v1/extensions/{name}/entities/{entity}/{id}", delete(entities::delete_record))
}

/// The application: every route, a JSON 404 for the rest, and request tracing with the
/// matched path in the span.
pub fn router(state: AppState) -> Router {
    let app = routes()
        .router
        // The Service Center's pages: not API routes (not in the OpenAPI document), authorized
        // by their own session cookie, which the API never reads.
        .merge(crate::console::routes())
        .fallback(not_found)
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let path = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("-");
            let id = req.extensions().get::<RequestId>().map_or("-", |id| id.0.as_str());
            tracing::info_span!("request", id = %id, method = %req.method(), path)
        }))
        .with_state(state);
    // Outside the routes: axum adds a 405's `Allow` header as the answer leaves a route, after
    // any layer of the routes ran.
    Router::new().fallback_service(app).layer(axum::middleware::from_fn(harden))
}

/// Every (method, path) the router serves, in the order they were added.
pub fn served_routes() -> Vec<(String, String)> {
    routes().served.into_iter().map(|(m, p)| (m.to_string(), p.to_string())).collect()
}

/// The Service Center's pages: its own script and stylesheet only, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The response header that names a request; every log line of the request carries the same id
/// (`request{id=…}`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Every response: an `X-Request-Id` (also in the request's log span); `X-Content-Type-Options:
/// nosniff`; HTML pages also a Content-Security-Policy and `X-Frame-Options: DENY`; the router's
/// bodiless 405 becomes the JSON error shape, naming the methods the path takes.
async fn harden(mut req: Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let id = RequestId::next();
    let id_header = HeaderValue::from_str(&id.0).ok();
    req.extensions_mut().insert(id);
    let mut response = next.run(req).await;
    if let Some(v) = id_header {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::CONTENT_TYPE) {
        let allowed = response.headers().get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let message = if allowed.is_empty() {
            format!("{path} does not take {method}")
        } else {
            format!("{path} does not take {method}; it takes {allowed}")
        };
        let body = ErrorBody::new("method_not_allowed", message);
        let mut json = (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
        if let Some(v) = response.headers().get(header::ALLOW) {
            json.headers_mut().insert(header::ALLOW, v.clone());
        }
        response = json;
    }
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

async fn not_found(method: Method, uri: axum::http::Uri) -> AppError {
    AppError::NotFound(format!("no route for {method} {} (see GET /api/v1/openapi.json)", uri.path()))
}

/// The OpenAPI document of the API.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Xif Platform Server", description = "Upload, publish and call Xif extensions."),
    paths(
        openapi_json,
        health,
        ready,
        account::login,
        account::logout,
        account::me,
        account::list_tokens,
        account::create_token,
        account::revoke_token,
        account::list_users,
        account::create_user,
        account::update_user,
        account::delete_user,
        account::set_permissions,
        account::revoke_all,
        extensions::list_extensions,
        extensions::get_extension,
        extensions::delete_extension,
        extensions::list_versions,
        extensions::upload,
        extensions::get_version,
        extensions::delete_version,
        extensions::download,
        extensions::version_diff,
        extensions::publish,
        extensions::rollback,
        extensions::publishes,
        rollout::get_rollout,
        rollout::set_rollout,
        rollout::abort_rollout,
        logs::logs,
        logs::metrics,
        account::list_scrape_tokens,
        account::create_scrape_token,
        account::revoke_scrape_token,
        extensions::get_settings,
        extensions::set_settings,
        actions::call,
        entities::list_records,
        entities::create_record,
        entities::get_record,
        entities::update_record,
        entities::delete_record,
    ),
    // The data of each server-sent event of a publish stream (not a response body of its own).
    components(schemas(xif_wire::PublishEvent)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        document_common_errors(openapi);
    }
}

/// The answers every operation may give besides its own, added to each operation that lacks
/// them (found by schemathesis, see docs/RELIABILITY.md): 401 where a bearer token is needed
/// (`security(())` marks the operations that need none), and 400 where the URL, the query or a
/// JSON body can be malformed ([`ApiPath`], [`ApiQuery`], [`ApiJson`] answer it).
fn document_common_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder, schema::Ref};
    let error = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build(),
        )
    };
    for item in openapi.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            let public = op.security.as_ref().is_some_and(|s| s.iter().all(|r| r == &Default::default()));
            if !public {
                op.responses.responses.entry("401".into()).or_insert_with(|| error("No valid bearer token"));
            }
            let has_input = op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            if has_input {
                op.responses.responses.entry("400".into()).or_insert_with(|| error("A malformed URL, query or body"));
            }
        }
    }
}

/// The OpenAPI document, as JSON.
pub fn openapi() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
}

/// The error body of every failure: the wire type, shared with the client.
pub use xif_wire::ErrorBody;

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server", security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> axum::Json<&'static serde_json::Value> {
    axum::Json(openapi())
}

/// Whether the server is up.
#[utoipa::path(get, path = "/api/v1/health", tag = "server", security(()),
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = xif_wire::Health)))]
pub async fn health() -> axum::Json<xif_wire::Health> {
    axum::Json(xif_wire::Health { status: "ok".into() })
}

/// Whether this node can serve every request now: its database answers. A load balancer sends
/// writes only to ready nodes; a node that is not ready still answers calls to the versions it
/// has loaded.
#[utoipa::path(get, path = "/api/v1/ready", tag = "server", security(()),
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`", body = xif_wire::Health),
        (status = 503, description = "Not ready; the message names the cause (the database is unreachable)", body = xif_wire::ErrorBody),
    ))]
pub async fn ready(State(state): State<AppState>) -> Result<axum::Json<xif_wire::Health>, AppError> {
    crate::cluster::ready(&state).await?;
    Ok(axum::Json(xif_wire::Health { status: "ready".into() }))
}
