//! An extension's log lines and `GET /metrics`: adapters over [`ops::logs`].
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};

use super::{ApiPath, ApiQuery, ErrorBody};
use crate::auth::Auth;
use crate::error::AppError;
use crate::ops;
use crate::state::AppState;

pub use xif_wire::{ExtensionLogPage, ExtensionLogQuery};

/// An extension's log: the lines its calls logged (host log, stdout, stderr), oldest first;
/// with `follow=true` (or `Accept: text/event-stream`) the answer stays open and sends each new
/// line as a server-sent event whose data is an `ExtensionLogLine` and whose id is the line's
/// (reconnect with `after`, or `Last-Event-ID`, to miss none). Readable by administrators and
/// by users who may publish the extension.
#[utoipa::path(get, path = "/api/v1/extensions/{name}/logs", tag = "extensions",
    params(("name" = String, Path, description = "Extension name"),
        ("after" = Option<i64>, Query, description = "Only lines after this id (without it: the newest `limit`)"),
        ("action" = Option<String>, Query, description = "Only this action's lines"),
        ("level" = Option<String>, Query, description = "Only lines of this level or above: trace, debug, info, warn, error"),
        ("call" = Option<String>, Query, description = "Only this call's lines (its X-Request-Id)"),
        ("limit" = Option<u32>, Query, description = "At most this many (default 100, at most 1000; following: the newest 20 first)"),
        ("follow" = Option<bool>, Query, description = "Send new lines as server-sent events, without end")),
    responses((status = 200, description = "The lines (or, following, a text/event-stream of ExtensionLogLine)", content(
            (ExtensionLogPage = "application/json"),
            (String = "text/event-stream"))),
        (status = 403, description = "Only administrators and users who may publish the extension read its log", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 503, description = "Following: this node follows 256 logs already, or this user 8 (`busy`, with `Retry-After`); or the server keeps no logs (`--observe off`)", body = ErrorBody)))]
pub async fn logs(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(name): ApiPath<String>,
    ApiQuery(mut q): ApiQuery<ExtensionLogQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    q.after = crate::http::follow_after(q.after, &headers);
    if sse {
        q.follow = Some(true);
    }
    let reader = ops::logs::reader(&state, &auth, &name, &q).await?;
    if !q.follow.unwrap_or(false) {
        return Ok(Json(reader.page().await?).into_response());
    }
    let Some(lines) = reader.follow()? else {
        return Err(AppError::Unavailable("this server keeps no extension logs (it runs with --observe off)".into()));
    };
    Ok(crate::http::log_events(lines))
}

/// This node's counts in the Prometheus text format: calls, failures by kind and durations per
/// extension, version and action; publishes, uploads, log lines; active versions, call slots in
/// use and queued calls. Authorized by an administrator's bearer token or the scrape token
/// (`xif serve --metrics-token-file`). Each node exports its own.
#[utoipa::path(get, path = "/metrics", tag = "server",
    responses((status = 200, description = "The Prometheus text format, version 0.0.4", body = String, content_type = "text/plain"),
        (status = 403, description = "Neither an administrator's token nor the scrape token", body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let token = crate::auth::bearer_token(&headers)?;
    let text = ops::logs::scrape(&state, token).await?;
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    Ok(response)
}
