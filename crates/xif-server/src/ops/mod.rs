//! The operations layer: every thing the server does for someone, as a plain async function
//! over the shared state, typed inputs and the calling [`Principal`], answering typed results or
//! an [`Error`] that carries no HTTP status (cargo's `ops` model).
//!
//! The front ends are adapters over it: the API (`crate::api`: extract → operation → JSON) and
//! the Service Center (`crate::console`: form → operation → page). So a permission check, a
//! message, a lock or a compensation is written once, here, and both front ends get it.
//!
//! - [`account`]: logging in (the login check), sessions, tokens, users, permissions,
//!   revocation, and the [`Principal`] of a token or a console session.
//! - [`extensions`]: upload, publish, rollback, delete, download, versions, the publish log,
//!   settings (validated here).
//! - [`rollout`]: gradual rollouts moved on, ended at 100%, aborted (by a user or the
//!   error-rate guard), and how they go.
//! - [`actions`]: calling an action (given its version by a rollout's split), and the record
//!   of a failed call.
//! - [`entities`]: the records of an extension's entities.
//! - [`logs`]: an extension's log lines (a page, or followed) and `/metrics`.
//!
//! **Architecture Invariant:** nothing under `ops/` imports axum or names an HTTP status; the
//! request and answer bodies it takes and returns are the wire types ([`wire`]).
pub(crate) mod account;
pub(crate) mod actions;
pub(crate) mod entities;
mod error;
pub(crate) mod extensions;
pub(crate) mod logs;
pub(crate) mod rollout;
pub(crate) mod wire;

pub use crate::auth::Principal;
pub(crate) use error::Class;
pub use error::Error;

/// An operation's answer.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Milliseconds since the epoch as RFC 3339 (`2026-05-01T10:00:00.000Z`).
pub(crate) fn time(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A size for people: `50 MiB`, or bytes.
pub(crate) fn size(n: u64) -> String {
    const MIB: u64 = 1 << 20;
    if n >= MIB && n.is_multiple_of(MIB) { format!("{} MiB", n / MIB) } else { format!("{n} bytes") }
}

#[cfg(test)]
mod tests;
