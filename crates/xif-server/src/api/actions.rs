//! Calling an action of an extension's active version.
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::{ApiPath, ErrorBody, read_body};
use crate::auth::Auth;
use crate::error::AppError;
use crate::state::AppState;

/// The response header that says which version answered.
pub const VERSION_HEADER: &str = "xif-version";

/// Calls an action: the body is a JSON object of its inputs (empty: `{}`), the answer a JSON
/// object of its outputs, typed by the definition (DESIGN.md's type table). Any authenticated
/// user or API token may call. The call runs in a fresh sandbox instance with the call time and
/// memory limits; the `xif-version` header says which version answered.
#[utoipa::path(post, path = "/api/v1/extensions/{name}/actions/{action}", tag = "actions",
    params(("name" = String, Path, description = "Extension name"), ("action" = String, Path, description = "Action name")),
    request_body(content = Object, description = "The inputs, by name"),
    responses((status = 200, description = "The outputs, by name", body = Object),
        (status = 400, description = "Bad input: `parameter` names it", body = ErrorBody),
        (status = 404, description = "No such extension, active version or action", body = ErrorBody),
        (status = 413, description = "Body over the call limit", body = ErrorBody),
        (status = 422, description = "The action returned its error (`action_failed`)", body = ErrorBody),
        (status = 500, description = "The action trapped (`trap`, with `panic`) or ran out of memory (`out_of_memory`)", body = ErrorBody),
        (status = 503, description = "The active version could not be loaded", body = ErrorBody),
        (status = 504, description = "The action ran past its time limit (`timeout`)", body = ErrorBody)))]
pub async fn call(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((name, action)): ApiPath<(String, String)>,
    body: Body,
) -> Result<Response, AppError> {
    let limit = u64::try_from(state.config.limits.call_body_bytes).unwrap_or(u64::MAX);
    let bytes = read_body(body, limit, "the call's input").await?;
    let input = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            AppError::bad("bad_json", format!("the request body is not valid JSON: {e}; send the inputs as an object, for example {{\"Who\": \"Ada\"}}"))
        })?
    };
    let Some(live) = state.registry.get(&name) else {
        return Err(match state.db.extension(&name).await? {
            None => AppError::NotFound(format!("there is no extension named {name}")),
            Some(ext) if ext.active_version.is_none() => {
                AppError::NotFound(format!("extension {} has no published version: publish one first", ext.name))
            }
            Some(ext) => AppError::Unavailable(format!(
                "extension {} could not be loaded (the server's log says why); publish or roll back to a version",
                ext.name
            )),
        });
    };
    let ctx = state.registry.context(&live);
    let out = match live.extension.call(&action, &input, ctx).await {
        Ok(out) => out,
        Err(e) => {
            // Failed calls are kept for the Service Center's log.
            let e = AppError::from(e);
            crate::console::record_action_error(&state, &live.name, live.version, &action, &auth.name, &e).await;
            return Err(e);
        }
    };
    let mut response = Json(out.json).into_response();
    if let Ok(v) = HeaderValue::from_str(&live.version.to_string()) {
        response.headers_mut().insert(VERSION_HEADER, v);
    }
    Ok(response)
}
