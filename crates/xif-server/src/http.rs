//! The HTTP forms of operations' answers that both front ends send as they are (the API, and
//! the Service Center's script requests): an upload's answer, a package download, and a
//! publish's answer (JSON, or its stages as server-sent events); and the extractors whose
//! refusals are the JSON error shape ([`ApiJson`], [`ApiQuery`], [`ApiPath`]).
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::error::AppError;
use crate::ops::wire::{Published, Uploaded};
use crate::ops::{self, Principal};
use crate::publish::{self, Kind, StepEvent};
use crate::state::AppState;

/// An upload's answer: 201 for a new version, 200 for a package uploaded before.
pub(crate) fn uploaded(u: Uploaded) -> Response {
    let status = if u.created { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(u)).into_response()
}

/// A package, as an attachment named `NAME-N.xif` with its digest as the `ETag`.
pub(crate) fn download(d: ops::extensions::Download) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", d.file_name);
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::ETAG, format!("\"{}\"", d.digest)),
        ],
        d.bytes,
    )
        .into_response()
}

/// Runs [`ops::extensions::publish`] and answers it: with `Accept: text/event-stream`, the stages
/// as server-sent events (`{"step","status","ms","message"}`) then `{"summary": ...}`; else one
/// JSON answer with every stage and the summary (and, on failure, the error's status and body).
pub(crate) async fn publish(
    state: &AppState,
    who: Arc<Principal>,
    name: String,
    number: i64,
    kind: Kind,
    options: publish::Options,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let sse =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/event-stream"));
    if !sse {
        let task = ops::extensions::publish(state, who, name, number, kind, options, None).await?;
        let outcome = task.await.map_err(AppError::internal)?;
        return Ok(match outcome.error {
            None => Json(Published { steps: outcome.steps, summary: outcome.summary }).into_response(),
            Some(e) => {
                let body = xif_wire::PublishFailed {
                    error: e.error_body(),
                    steps: outcome.steps,
                    summary: Some(outcome.summary),
                };
                (e.status(), Json(body)).into_response()
            }
        });
    }
    let (tx, rx) = mpsc::unbounded_channel();
    // What the stream ends with if the publish task itself is lost (a panic): a whole summary.
    let lost = xif_wire::Summary {
        url: format!("/api/v1/extensions/{name}"),
        extension: name.clone(),
        version: number,
        digest: String::new(),
        kind,
        outcome: xif_wire::PublishOutcome::Failed,
        ms: 0,
        warnings: Vec::new(),
        error: Some(xif_wire::ErrorBody::new("internal", "internal server error")),
    };
    let task = ops::extensions::publish(state, who, name, number, kind, options, Some(tx)).await?;
    enum Phase {
        Events(mpsc::UnboundedReceiver<StepEvent>, tokio::task::JoinHandle<publish::Outcome>),
        Done,
    }
    let stream = futures_util::stream::unfold(Phase::Events(rx, task), move |phase| {
        let lost = lost.clone();
        async move {
            match phase {
                Phase::Events(mut rx, task) => match rx.recv().await {
                    Some(event) => {
                        let data = serde_json::to_string(&xif_wire::PublishEvent::Step(event)).unwrap_or_default();
                        Some((Ok::<_, Infallible>(Event::default().data(data)), Phase::Events(rx, task)))
                    }
                    None => {
                        let summary = match task.await {
                            Ok(outcome) => outcome.summary,
                            Err(e) => {
                                tracing::error!(error = %e, "the publish task failed");
                                lost
                            }
                        };
                        let data =
                            serde_json::to_string(&xif_wire::PublishEvent::Summary { summary }).unwrap_or_default();
                        Some((Ok(Event::default().data(data)), Phase::Done))
                    }
                },
                Phase::Done => None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// `axum::Json`, with a JSON error naming the problem when the body is not the expected JSON.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<ApiJson<T>, AppError> {
        // Every JSON body of this API is an object: serde would also read a struct from an
        // array (`[null, null]`), which the document does not allow (found by schemathesis).
        match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) if !v.is_object() => {
                Err(AppError::bad("bad_request", "the request body is not what this takes: send a JSON object"))
            }
            Ok(axum::Json(v)) => serde_json::from_value(v)
                .map(ApiJson)
                .map_err(|e| AppError::bad("bad_request", format!("the request body is not what this takes: {e}"))),
            Err(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(AppError::TooLarge(r.body_text())),
            Err(r) => {
                Err(AppError::bad("bad_request", format!("the request body is not what this takes: {}", r.body_text())))
            }
        }
    }
}

/// `axum::extract::Query`, with a JSON error naming the bad query (axum's own is plain text).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiQuery<T>, AppError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(AppError::bad("bad_query", format!("invalid query: {}", r.body_text()))),
        }
    }
}

/// `axum::extract::Path`, with a JSON error naming the bad part of the URL.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApiPath<T>, AppError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(AppError::bad("bad_url", format!("invalid URL: {}", r.body_text()))),
        }
    }
}

/// A request's id: 16 hex digits, unique in this process (a counter through a bijective mix,
/// from a random start), so the lines of one failed call can be found in the log.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) String);

impl RequestId {
    pub(crate) fn next() -> RequestId {
        static START: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| {
            let mut bytes = [0u8; 8];
            // A fixed start when the system has no randomness: ids stay unique, only guessable.
            let _ = getrandom::fill(&mut bytes);
            u64::from_le_bytes(bytes)
        });
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = START.wrapping_add(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        // splitmix64's finalizer: a bijection, so distinct counters give distinct ids.
        let mut z = n;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        RequestId(format!("{:016x}", z ^ (z >> 31)))
    }
}

/// Where a followed log goes on from: the later of `after` and the `Last-Event-ID` a
/// reconnecting browser or `xif logs` sends (the last line it had), so a reconnect neither
/// repeats lines nor, with an `after` fixed in the address, starts over.
pub(crate) fn follow_after(after: Option<i64>, headers: &axum::http::HeaderMap) -> Option<i64> {
    let last = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    after.max(last)
}

/// An extension's log lines as server-sent events (the data an `ExtensionLogLine`, the id the
/// line's, so a reconnect with `Last-Event-ID` misses none): the API's follow and the console's.
pub(crate) fn log_events(
    lines: impl futures_util::Stream<Item = ops::wire::ExtensionLogLine> + Send + 'static,
) -> Response {
    use futures_util::StreamExt as _;
    let events = lines.map(|l| {
        let data = serde_json::to_string(&l).unwrap_or_default();
        Ok::<_, Infallible>(Event::default().id(l.id.to_string()).data(data))
    });
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}
