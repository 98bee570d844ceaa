//! Calling an action of an extension's active version: the adapter over
//! [`ops::actions::call`](crate::ops::actions::call), which checks, budgets, runs and records
//! the call. The declared `Content-Length` is passed on, so a body over the limit is refused
//! (413) before it is read.
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{ApiPath, ErrorBody};
use crate::auth::Auth;
use crate::error::AppError;
use crate::ops;
use crate::state::AppState;

/// The benchmark's request header (`off`), honoured only with `XIF_BENCH_OBSERVE_SWITCH=1`.
const BENCH_OBSERVE_HEADER: &str = "xif-bench-observe";

/// The response header that says which version answered.
pub const VERSION_HEADER: &str = "xif-version";

/// Calls an action: the body is a JSON object of its inputs (empty: `{}`), the answer a JSON
/// object of its outputs, typed by the definition (DESIGN.md's type table). Any authenticated
/// user or API token may call. The call runs in a fresh sandbox instance with the call time and
/// memory limits; the `xif-version` header says which version answered (also with an error
/// that version gave: bad input, the action's error, a trap, a timeout).
#[utoipa::path(post, path = "/api/v1/extensions/{name}/actions/{action}", tag = "actions",
    params(("name" = String, Path, description = "Extension name"), ("action" = String, Path, description = "Action name")),
    request_body(content = Object, description = "The inputs, by name"),
    responses((status = 200, description = "The outputs, by name", body = Object),
        (status = 400, description = "Bad input: `parameter` names it", body = ErrorBody),
        (status = 404, description = "No such extension, active version or action (names are at most 50 characters)", body = ErrorBody),
        (status = 413, description = "Body over the call limit, or an input that needs more memory than the server's budget for call inputs (`too_large`)", body = ErrorBody),
        (status = 422, description = "The action returned its error (`action_failed`)", body = ErrorBody),
        (status = 500, description = "The action trapped (`trap`, with `panic`), ran out of memory (`out_of_memory`) or returned more than the output limit (`output_too_large`)", body = ErrorBody),
        (status = 503, description = "The active version could not be loaded (`unavailable`), or the server has no room for the call now (`busy`: memory for call inputs, the extension's share of call slots or its queue is full); retry after `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying (with `busy`)"))),
        (status = 504, description = "The action ran past its time limit (`timeout`)", body = ErrorBody)))]
pub async fn call(
    State(state): State<AppState>,
    axum::Extension(id): axum::Extension<crate::http::RequestId>,
    auth: Auth,
    ApiPath((name, action)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    // Only with the benchmark's switch on may a caller turn observing off for its call.
    let observed = !(state.bench_observe_switch && headers.get(BENCH_OBSERVE_HEADER).is_some_and(|v| v == "off"));
    let (called, version) = ops::actions::call(
        &state,
        &auth,
        &ops::actions::CallId(&id.0, observed),
        &name,
        &action,
        declared,
        body.into_data_stream(),
    )
    .await;
    let mut response = match called {
        Ok(called) => Json(called.outputs).into_response(),
        Err(e) => AppError::from(e).into_response(),
    };
    if let Some(v) = version.and_then(|v| HeaderValue::from_str(&v.to_string()).ok()) {
        response.headers_mut().insert(VERSION_HEADER, v);
    }
    Ok(response)
}
