//! Calling an action of an extension's active version.
//!
//! A call is checked before it costs anything: a declared `Content-Length` over the body limit
//! (413), the names in the URL (at most
//! [`MAX_NAME`](xif_model::names::MAX_NAME) characters, else a 404 that is not recorded), then
//! the extension and its action, before the body is read. The body is read under the memory
//! budget of call inputs ([`InputBudget`](crate::registry::InputBudget)), weighed by its
//! `Content-Length` (or as it arrives); its shape is scanned without building anything
//! ([`xif_model::value::input_shape`]), refusing a body that cannot be the action's input, and
//! the memory its conversion takes is reserved before it is built. Then the call waits, bounded,
//! for a slot of its extension's share ([`CallSlots`](crate::registry::CallSlots)). Every wait
//! ends in a 503 `busy` with `Retry-After`.
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use xif_model::names::MAX_NAME;
use xif_model::value::ShapeError;
use xif_runtime::CallError;

use super::{ApiPath, ErrorBody, size};
use crate::auth::Auth;
use crate::error::AppError;
use crate::registry::{Live, Refused, Reservation};
use crate::state::AppState;

/// The response header that says which version answered.
pub const VERSION_HEADER: &str = "xif-version";

/// What is reserved for a body sent without `Content-Length` before its first bytes arrive.
const FIRST_CHUNKED: u64 = 64 * 1024;

/// Calls an action: the body is a JSON object of its inputs (empty: `{}`), the answer a JSON
/// object of its outputs, typed by the definition (DESIGN.md's type table). Any authenticated
/// user or API token may call. The call runs in a fresh sandbox instance with the call time and
/// memory limits; the `xif-version` header says which version answered.
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
    auth: Auth,
    ApiPath((name, action)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let limits = state.config.limits;
    // A body declared over the limit is refused before anything else (the listener then reads
    // and discards what is sent, for a bounded time, so the client reads this answer).
    let limit = u64::try_from(limits.call_body_bytes).unwrap_or(u64::MAX);
    if declared_length(&headers).is_some_and(|n| n > limit) {
        return Err(AppError::TooLarge(format!("the call's input is larger than the limit of {}", size(limit))));
    }
    // A name longer than any legal name cannot exist: refused before anything else, unrecorded.
    for (what, text) in [("extension", &name), ("action", &action)] {
        if text.chars().count() > MAX_NAME {
            return Err(AppError::NotFound(format!(
                "there is no {what} named {}: names are at most {MAX_NAME} characters",
                shortened(text)
            )));
        }
    }
    let live = live(&state, &name).await?;
    // The action, before the body is read.
    let act = match live.extension.action(&action) {
        Ok(a) => a,
        Err(e) => return Err(failed(&state, &live, &action, &auth, e).await),
    };

    let mut reservation = Reservation::default();
    let bytes = read_body(&state, &headers, body, &mut reservation).await?;
    let input = if bytes.iter().all(u8::is_ascii_whitespace) {
        (serde_json::json!({}), xif_runtime::InputMemory { converting: 0, kept: 0 })
    } else {
        let shape = match xif_model::value::input_shape(live.definition(), act, &bytes) {
            Ok(shape) => shape,
            Err(ShapeError::Json(e)) => return Err(bad_json(&e)),
            Err(ShapeError::Input(e)) => {
                return Err(failed(&state, &live, &action, &auth, CallError::BadInput(e)).await);
            }
        };
        let memory = xif_runtime::input_memory(&shape);
        state
            .call_memory
            .input(&mut reservation, memory.converting, limits.call_queue_wait)
            .await
            .map_err(|r| refused(r, "memory to convert the call's input"))?;
        let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad_json(&e))?;
        (json, memory)
    };
    drop(bytes);
    reservation.release_body();
    let (json, memory) = input;
    let prepared = live.extension.prepare(&action, &json);
    drop(json);
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return Err(failed(&state, &live, &action, &auth, e).await),
    };
    reservation.keep_input(memory.kept);

    let slots = state.registry.call_slots(&live.name, limits.calls_per_extension);
    let _slot = slots
        .enter(limits.call_queue_per_extension, limits.call_queue_wait)
        .await
        .map_err(|r| refused(r, &format!("a call slot of extension {}", live.name)))?;
    let ctx = state.registry.context(&live);
    let out = match live.extension.run(prepared, ctx).await {
        Ok(out) => out,
        Err(e) => return Err(failed(&state, &live, &action, &auth, e).await),
    };
    drop(reservation);
    let mut response = Json(out.json).into_response();
    if let Ok(v) = HeaderValue::from_str(&live.version.to_string()) {
        response.headers_mut().insert(VERSION_HEADER, v);
    }
    Ok(response)
}

/// The active version of an extension, or why there is none.
async fn live(state: &AppState, name: &str) -> Result<Arc<Live>, AppError> {
    if let Some(live) = state.registry.get(name) {
        return Ok(live);
    }
    Err(match state.db.extension(name).await? {
        None => AppError::NotFound(format!("there is no extension named {name}")),
        Some(ext) if ext.active_version.is_none() => {
            AppError::NotFound(format!("extension {} has no published version: publish one first", ext.name))
        }
        Some(ext) => AppError::Unavailable(format!(
            "extension {} could not be loaded (the server's log says why); publish or roll back to a version",
            ext.name
        )),
    })
}

/// A failed call: kept for the Service Center's log (unless the server was only busy).
async fn failed(state: &AppState, live: &Live, action: &str, auth: &Auth, e: CallError) -> AppError {
    let e = AppError::from(e);
    if !matches!(e, AppError::Call(CallError::Busy { .. })) {
        crate::console::record_action_error(state, &live.name, live.version, action, &auth.name, &e).await;
    }
    e
}

fn bad_json(e: &serde_json::Error) -> AppError {
    AppError::bad(
        "bad_json",
        format!(
            "the request body is not valid JSON: {e}; send the inputs as an object, for example {{\"Who\": \"Ada\"}}"
        ),
    )
}

/// The first characters of a long name, for messages.
fn shortened(text: &str) -> String {
    let mut s: String = text.chars().take(MAX_NAME).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// A refusal of the budget or the slots as the caller sees it.
fn refused(r: Refused, what: &str) -> AppError {
    match r {
        Refused::QueueFull { running, queue } => AppError::Busy {
            message: format!(
                "the server is busy: {what} is not free, {running} calls run and {queue} wait already; retry later"
            ),
            retry_after: 1,
        },
        Refused::Waited(d) => AppError::Busy {
            message: format!("the server is busy: no {what} came free within {} s; retry later", d.as_secs_f32()),
            retry_after: 1,
        },
        Refused::TooLarge { needed, budget } => AppError::TooLarge(format!(
            "the call's input needs about {} of memory, more than the server's budget of {} for it ({what}); send a smaller input",
            size(needed),
            size(budget)
        )),
    }
}

/// Reads the call's body under the memory budget: its `Content-Length` is reserved before
/// anything is read (over the call body limit: a 413 at once); a body without one reserves as
/// it arrives, doubling.
async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    r: &mut Reservation,
) -> Result<Vec<u8>, AppError> {
    let limits = state.config.limits;
    let limit = u64::try_from(limits.call_body_bytes).unwrap_or(u64::MAX);
    let too_large = || AppError::TooLarge(format!("the call's input is larger than the limit of {}", size(limit)));
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let wait = limits.call_queue_wait;
    let busy = |e| refused(e, "memory to read the call's body");
    let first = declared.unwrap_or(FIRST_CHUNKED).min(limit);
    if first > 0 {
        state.call_memory.body(r, first, wait).await.map_err(busy)?;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(declared.unwrap_or(0)).unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| AppError::bad("bad_request", format!("could not read the call's input: {e}")))?;
        let len = bytes.len() as u64 + chunk.len() as u64;
        if len > limit {
            return Err(too_large());
        }
        if len > r.body_bytes() {
            let more = (len - r.body_bytes()).max(r.body_bytes()).min(limit - r.body_bytes().min(limit)).max(1);
            state.call_memory.body(r, more, wait).await.map_err(busy)?;
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The request's `Content-Length`, when it has a readable one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok())
}
