//! Gradual rollouts: a version published with `?gradual=N` takes N% of the calls while the
//! active version takes the rest (see [`crate::registry::Split`] for how each call is given its
//! version). This moves a rollout on, ends it at 100% (the version becomes the active one) or
//! aborts it (every new call goes to the active version again), by a user or by the error-rate
//! guard; and reads how it goes.
//!
//! Each change is written to the database with its publish-log entry in one transaction, under
//! the extension's lock on every node, then served here and announced to the other nodes
//! ([`crate::cluster`]), which serve the same split. Calls in flight finish on the version they
//! started on. Starting, moving and aborting need what publishing the rolling version needs.
use super::wire::{RolloutCounts, RolloutInfo, RolloutMoved};
use super::{Error, Principal, Result, time};
use crate::db::{ExtensionRow, NewPublish, Rollout, now_ms};
use crate::publish::{self, Gradual, Kind};
use crate::registry::one_line;
use crate::state::AppState;

/// The name the guard's entries in the publish log carry as their user.
pub const GUARD_USER: &str = "error-rate guard";

async fn running(state: &AppState, name: &str) -> Result<(ExtensionRow, Rollout)> {
    let ext = state
        .db
        .extension(name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("there is no extension named {name}")))?;
    match ext.rollout() {
        Some(r) => Ok((ext, r)),
        None => Err(Error::NotFound(format!(
            "no rollout of {} runs: start one with `xif publish --gradual PERCENT` (API: ?gradual=PERCENT on publish)",
            ext.name
        ))),
    }
}

/// How the rollout of an extension goes: its share, and each version's calls and failures since
/// the minute it began (every node's, as the charts count them). Anyone who may read the
/// extension may read it.
pub(crate) async fn status(state: &AppState, _who: &Principal, name: &str) -> Result<RolloutInfo> {
    let (ext, r) = running(state, name).await?;
    let active = ext.active_version.unwrap_or_default();
    let totals = state.db.version_call_totals(ext.id, r.started_at / 60_000).await?;
    let versions = [active, r.version]
        .into_iter()
        .map(|v| {
            let (calls, failures) =
                totals.iter().find(|(n, _, _)| *n == v).map_or((0, 0), |(_, calls, failed)| (*calls, *failed));
            RolloutCounts { version: v, calls, failures }
        })
        .collect();
    Ok(RolloutInfo {
        extension: ext.name,
        version: r.version,
        active_version: active,
        percent: r.percent,
        per_caller: r.per_caller,
        guard: r.guard,
        started_at: time(r.started_at),
        started_by: r.started_by,
        versions,
    })
}

/// Gives the rolling version `percent` (1 to 99) of the calls, or at 100 makes it the active
/// version. `meant`: the version the caller means (refused when another one rolls out by now).
pub(crate) async fn set(
    state: &AppState,
    who: &Principal,
    name: &str,
    percent: u32,
    meant: Option<i64>,
) -> Result<RolloutMoved> {
    if !(1..=100).contains(&percent) {
        return Err(Error::bad(
            "bad_request",
            format!(
                "a rollout's share is 1 to 100%, not {percent}%: abort it to give every call back to the active version"
            ),
        ));
    }
    let (ext, seen) = running(state, name).await?;
    refuse_another(&ext.name, &seen, meant)?;
    publish::authorize(state, who, &ext.name, seen.version).await?;
    let _serialized = state.lock_extension(&ext.name).await?;
    // What the permission was checked for is what changes: another rollout begun meanwhile
    // (even of the same version) is refused, not moved.
    let (ext, r) = running(state, &ext.name).await?;
    if (r.version, r.started_at) != (seen.version, seen.started_at) {
        return Err(Error::Conflict(format!(
            "the rollout of {} changed meanwhile: version {} rolls out now at {}%; look again (xif rollout {}) before moving it",
            ext.name, r.version, r.percent, ext.name
        )));
    }
    let active = ext.active_version.unwrap_or_default();
    let started = now_ms();
    let (message, outcome, changed) = if percent == 100 {
        let message = format!("version {} is active (was {active}): it takes every call", r.version);
        let log = entry(&ext, &r, &who.name, started, "published", &message);
        let changed = state.db.end_rollout(ext.id, r.version, true, &log).await?;
        (message, percent, changed)
    } else {
        let message = format!(
            "version {} takes {percent}% of calls (was {}%), version {active} the rest ({})",
            r.version,
            r.percent,
            Gradual::describe(r.per_caller, r.guard)
        );
        let log = entry(&ext, &r, &who.name, started, "rolling_out", &message);
        let changed = state.db.set_rollout_percent(ext.id, r.version, percent, &log).await?;
        (message, percent, changed)
    };
    if !changed {
        return Err(Error::Conflict(format!("the rollout of version {} of {} ended meanwhile", r.version, ext.name)));
    }
    served(state, &ext.name).await;
    tracing::info!(extension = %ext.name, version = r.version, percent, by = %one_line(&who.name), "rollout moved");
    let active_version = if percent == 100 { r.version } else { active };
    Ok(RolloutMoved { extension: ext.name, version: r.version, active_version, percent: outcome, message })
}

/// Aborts the rollout: every new call goes to the active version again (calls in flight finish
/// on theirs). `meant` as for [`set`].
pub(crate) async fn abort(state: &AppState, who: &Principal, name: &str, meant: Option<i64>) -> Result<RolloutMoved> {
    let (ext, r) = running(state, name).await?;
    refuse_another(&ext.name, &r, meant)?;
    publish::authorize(state, who, &ext.name, r.version).await?;
    let why = format!("aborted by {}", who.name);
    end(state, &ext.name, (r.version, r.started_at), &who.name, &why)
        .await?
        .ok_or_else(|| Error::Conflict(format!("the rollout of version {} of {} ended meanwhile", r.version, ext.name)))
}

/// Refuses a change meant for version `meant` when `r` is another version's rollout.
fn refuse_another(name: &str, r: &Rollout, meant: Option<i64>) -> Result<()> {
    match meant {
        Some(v) if v != r.version => Err(Error::Conflict(format!(
            "version {v} of {name} is not rolling out: version {} is, at {}%",
            r.version, r.percent
        ))),
        _ => Ok(()),
    }
}

/// The error-rate guard's abort of `split`'s rollout (a task of its own, started by the call
/// that tripped it): logged in the publish log with `why`; nothing when that rollout ended
/// meanwhile (a later rollout of the same version is another one). When the abort fails, the
/// guard may trip again.
pub(crate) async fn guard_abort(state: AppState, split: std::sync::Arc<crate::registry::Split>, why: String) {
    let (name, version) = (&split.live.name, split.live.version);
    tracing::warn!(extension = %name, version, "the error-rate guard aborts the rollout: {why}");
    let why = format!("aborted by the error-rate guard: {why}");
    if let Err(e) = end(&state, name, (version, split.started_at), GUARD_USER, &why).await {
        split.untrip();
        tracing::error!(extension = %name, version, error = %one_line(&e.to_string()), "the error-rate guard could not abort the rollout");
    }
}

/// Ends the rollout of `version` begun at `started_at` without activating it, under the
/// extension's lock; `None` when it is not running any more.
async fn end(
    state: &AppState,
    name: &str,
    (version, started_at): (i64, i64),
    by: &str,
    why: &str,
) -> Result<Option<RolloutMoved>> {
    let _serialized = state.lock_extension(name).await?;
    let (ext, r) = match running(state, name).await {
        Ok(found) if (found.1.version, found.1.started_at) == (version, started_at) => found,
        Ok(_) | Err(Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let active = ext.active_version.unwrap_or_default();
    let message = format!("{why}; every call goes to version {active} again");
    let log = entry(&ext, &r, by, now_ms(), "aborted", &message);
    if !state.db.end_rollout(ext.id, r.version, false, &log).await? {
        return Ok(None);
    }
    served(state, &ext.name).await;
    Ok(Some(RolloutMoved { extension: ext.name, version: r.version, active_version: active, percent: 0, message }))
}

/// The publish-log entry of a rollout change.
fn entry<'a>(
    ext: &'a ExtensionRow,
    r: &Rollout,
    by: &'a str,
    started: i64,
    outcome: &'a str,
    message: &'a str,
) -> NewPublish<'a> {
    NewPublish {
        extension: &ext.name,
        version: r.version,
        digest: "",
        kind: Kind::Rollout.as_str(),
        user_name: by,
        started_at: started,
        ms: now_ms().saturating_sub(started),
        outcome,
        message: Some(message),
        stages: "[]".into(),
        warnings: "[]".into(),
    }
}

/// Serves what the database now says (the caller holds the extension's lock) and tells the
/// other nodes. A failure to load is logged: the reconcile tries again.
async fn served(state: &AppState, name: &str) {
    if let Err(e) = crate::cluster::follow(state, name, "serves the rollout's change").await {
        tracing::error!(extension = %one_line(name), error = %one_line(&e.to_string()), "cannot serve the rollout's change");
    }
    crate::cluster::announce(state, crate::cluster::Change::Extension(name.to_string())).await;
}
