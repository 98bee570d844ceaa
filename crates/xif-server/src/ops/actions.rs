//! Calling an action of an extension's active version (or, while a gradual rollout runs, of the
//! version its split gives the call: [`crate::registry::Split`]), and the record of a failed
//! call.
//!
//! A call is checked before it costs anything: a declared length over the body limit, the names
//! (at most [`MAX_NAME`](xif_model::names::MAX_NAME) characters, else a not-found that is not
//! recorded), then the extension and its action, before the body is read. The body is read
//! under the memory budget of call inputs ([`InputBudget`](crate::registry::InputBudget)),
//! weighed by its declared length (or as it arrives); its shape is scanned without building
//! anything ([`xif_model::value::input_shape`]), refusing a body that cannot be the action's
//! input, and the memory its conversion takes is reserved before it is built. Then the call
//! waits, bounded, for a slot of its extension's share ([`CallSlots`](crate::registry::CallSlots)).
//! Every wait ends in [`Error::Busy`].
//!
//! A call that fails (except for want of room) is recorded for the Service Center's log, here,
//! whichever front end made it.
use std::sync::Arc;

use futures_util::{Stream, StreamExt as _};
use xif_model::names::MAX_NAME;
use xif_model::value::ShapeError;
use xif_runtime::CallError;

use super::{Error, Principal, Result, size};
use crate::error::AppError;
use crate::registry::{Live, Picked, Refused, Reservation, Split};
use crate::state::AppState;

/// What is reserved for a body sent without a declared length before its first bytes arrive.
const FIRST_CHUNKED: u64 = 64 * 1024;

/// A call's answer.
pub(crate) struct Called {
    /// The outputs, by name.
    pub outputs: serde_json::Value,
}

/// Calls `action` of the active version of `name` with the JSON object the body holds (empty:
/// `{}`). `declared` is the body's length when the caller said it; `call_id` tags the call's
/// log lines (the request id its answer names). Any authenticated caller may call. Every call is
/// counted in [`crate::metrics`], under names the server defined.
///
/// It gives the version the call went to, when it reached one, also when it failed (bad
/// input, the action's error, a trap...), so that during a rollout a caller knows which version
/// refused it.
pub(crate) async fn call<B, E>(
    state: &AppState,
    who: &Principal,
    call: &CallId<'_>,
    name: &str,
    action: &str,
    declared: Option<u64>,
    body: impl Stream<Item = std::result::Result<B, E>>,
) -> (Result<Called>, Option<i64>)
where
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let started = std::time::Instant::now();
    let mut seen = None;
    let mut split = None;
    let result = run(state, who, call, name, action, declared, body, &mut seen, &mut split).await;
    let failed = result.as_ref().err().map(Error::kind);
    // A rollout counts each call of its two versions; its guard may abort it.
    if let Some((split, new)) = split
        && let Some(why) = split.record(new, failed)
    {
        tokio::spawn(super::rollout::guard_abort(state.clone(), split, why));
    }
    let version = seen.as_ref().map(|(live, _)| live.version);
    if !state.config.observe || !call.1 {
        return (result, version);
    }
    match &seen {
        Some((live, index)) => live.metrics.action(*index).record(started.elapsed(), failed),
        None => state.registry.metrics.unknown_call(started.elapsed(), failed),
    }
    (result, version)
}

/// The id a call's log lines carry (the request id of its answer), and whether the call is
/// observed (counted, its log lines kept): always, but for the benchmark's switch
/// (`Inner::bench_observe_switch`).
pub(crate) struct CallId<'a>(pub &'a str, pub bool);

/// [`call`], noting in `seen` the live version and action it reached (for the metrics).
#[allow(clippy::too_many_arguments)]
async fn run<B, E>(
    state: &AppState,
    who: &Principal,
    call: &CallId<'_>,
    name: &str,
    action: &str,
    declared: Option<u64>,
    body: impl Stream<Item = std::result::Result<B, E>>,
    seen: &mut Option<(Arc<Live>, Option<usize>)>,
    split: &mut Option<(Arc<Split>, bool)>,
) -> Result<Called>
where
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let limits = state.config.limits;
    // A body declared over the limit is refused before anything else.
    let limit = u64::try_from(limits.call_body_bytes).unwrap_or(u64::MAX);
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::TooLarge(format!("the call's input is larger than the limit of {}", size(limit))));
    }
    // A name longer than any legal name cannot exist: refused before anything else, unrecorded.
    for (what, text) in [("extension", name), ("action", action)] {
        if text.chars().count() > MAX_NAME {
            return Err(Error::NotFound(format!(
                "there is no {what} named {}: names are at most {MAX_NAME} characters",
                shortened(text)
            )));
        }
    }
    let live = live(state, name, &who.name).await?;
    *split = live.rollout;
    let live = live.live;
    *seen = Some((live.clone(), None));
    // The action, before the body is read.
    let index = match live.extension.action_index(action) {
        Ok(i) => i,
        Err(e) => return Err(failed(state, &live, action, who, e).await),
    };
    *seen = Some((live.clone(), Some(index)));
    let act = &live.definition().actions[index];

    let mut reservation = Reservation::default();
    let bytes = read_body(state, declared, body, &mut reservation).await?;
    let input = if bytes.iter().all(u8::is_ascii_whitespace) {
        (serde_json::json!({}), xif_runtime::InputMemory { converting: 0, kept: 0 })
    } else {
        let shape = match xif_model::value::input_shape(live.definition(), act, &bytes) {
            Ok(shape) => shape,
            Err(ShapeError::Json(e)) => return Err(bad_json(&e)),
            Err(ShapeError::Input(e)) => {
                return Err(failed(state, &live, action, who, CallError::BadInput(e)).await);
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
    let prepared = live.extension.prepare(action, &json);
    drop(json);
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return Err(failed(state, &live, action, who, e).await),
    };
    reservation.keep_input(memory.kept);

    let slots = state.registry.call_slots(&live.name, limits.calls_per_extension);
    let _slot = slots
        .enter(limits.call_queue_per_extension, limits.call_queue_wait)
        .await
        .map_err(|r| refused(r, &format!("a call slot of extension {}", live.name)))?;
    let mut ctx = state.registry.context(&live);
    if let Some(logs) = &state.logs
        && call.1
    {
        ctx.log = logs.sink(&live, &act.name.text, call.0, slots.log_queued.clone(), ctx.log);
    }
    let out = match live.extension.run(prepared, ctx).await {
        Ok(out) => out,
        Err(e) => return Err(failed(state, &live, action, who, e).await),
    };
    drop(reservation);
    Ok(Called { outputs: out.json })
}

/// The version of an extension that serves a call of `caller` (the active one, or while a
/// rollout runs the one its split chooses), or why there is none.
async fn live(state: &AppState, name: &str, caller: &str) -> Result<Picked> {
    if let Some(picked) = state.registry.pick(name, caller) {
        return Ok(picked);
    }
    Err(match state.db.extension(name).await? {
        None => Error::NotFound(format!("there is no extension named {name}")),
        Some(ext) if ext.active_version.is_none() => {
            Error::NotFound(format!("extension {} has no published version: publish one first", ext.name))
        }
        Some(ext) => Error::Unavailable(format!(
            "extension {} could not be loaded (the server's log says why); publish or roll back to a version",
            ext.name
        )),
    })
}

/// A failed call: kept for the Service Center's log (unless the server was only busy).
async fn failed(state: &AppState, live: &Live, action: &str, who: &Principal, e: CallError) -> Error {
    if !matches!(e, CallError::Busy { .. }) {
        // Recorded with the kind and text its caller is answered with.
        let answered = AppError::Call(e);
        record_failure(state, &live.name, live.version, action, &who.name, answered.kind(), &answered.public_message())
            .await;
        return answered.into();
    }
    Error::Call(e)
}

/// Records a failed action call for the Service Center's log (a failure to record is only
/// logged), keeping at most the configured number and age of them.
pub(crate) async fn record_failure(
    state: &AppState,
    extension: &str,
    version: i64,
    action: &str,
    user: &str,
    kind: &str,
    message: &str,
) {
    let limits = &state.config.limits;
    let max_age = i64::try_from(limits.failed_calls_max_age.as_millis()).unwrap_or(i64::MAX);
    let recorded = state
        .db
        .console_record_action_error(extension, version, action, user, kind, message, limits.failed_calls_kept, max_age)
        .await;
    if let Err(err) = recorded {
        tracing::warn!(error = %err, "could not record a failed action call");
    }
}

fn bad_json(e: &serde_json::Error) -> Error {
    Error::bad(
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
fn refused(r: Refused, what: &str) -> Error {
    match r {
        Refused::QueueFull { running, queue } => Error::Busy {
            message: format!(
                "the server is busy: {what} is not free, {running} calls run and {queue} wait already; retry later"
            ),
            retry_after: 1,
        },
        Refused::Waited(d) => Error::Busy {
            message: format!("the server is busy: no {what} came free within {} s; retry later", d.as_secs_f32()),
            retry_after: 1,
        },
        Refused::TooLarge { needed, budget } => Error::TooLarge(format!(
            "the call's input needs about {} of memory, more than the server's budget of {} for it ({what}); send a smaller input",
            size(needed),
            size(budget)
        )),
    }
}

/// Reads the call's body under the memory budget: its declared length is reserved before
/// anything is read (over the call body limit: refused at once); a body without one reserves as
/// it arrives, doubling.
async fn read_body<B: AsRef<[u8]>, E: std::fmt::Display>(
    state: &AppState,
    declared: Option<u64>,
    body: impl Stream<Item = std::result::Result<B, E>>,
    r: &mut Reservation,
) -> Result<Vec<u8>> {
    let limits = state.config.limits;
    let limit = u64::try_from(limits.call_body_bytes).unwrap_or(u64::MAX);
    let too_large = || Error::TooLarge(format!("the call's input is larger than the limit of {}", size(limit)));
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
    let mut stream = std::pin::pin!(body);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::bad("bad_request", format!("could not read the call's input: {e}")))?;
        let chunk = chunk.as_ref();
        let len = bytes.len() as u64 + chunk.len() as u64;
        if len > limit {
            return Err(too_large());
        }
        if len > r.body_bytes() {
            let more = (len - r.body_bytes()).max(r.body_bytes()).min(limit - r.body_bytes().min(limit)).max(1);
            state.call_memory.body(r, more, wait).await.map_err(busy)?;
        }
        bytes.extend_from_slice(chunk);
    }
    Ok(bytes)
}
