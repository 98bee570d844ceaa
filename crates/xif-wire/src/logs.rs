//! An extension's log: `GET /api/v1/extensions/{name}/logs`, as one page or followed
//! (server-sent events, one [`ExtensionLogLine`] each, its `id` the line's).
use serde::{Deserialize, Serialize};

/// One line an extension's call logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionLogLine {
    /// Its id, increasing: send it back as `after` (or `Last-Event-ID`) to read on from it.
    pub id: i64,
    /// The version whose call logged it.
    pub version: i64,
    /// The action called.
    pub action: String,
    /// `trace`, `debug`, `info`, `warn` or `error` (stdout lines are `info`, stderr `warn`).
    pub level: String,
    /// `host` (the `xif:host/log` interface), `stdout` or `stderr`.
    pub source: String,
    /// When (RFC 3339, UTC, milliseconds).
    pub at: String,
    /// The call's id: the `X-Request-Id` of its answer.
    pub call_id: String,
    /// The text (at most 2048 bytes; a longer one is cut and ends in `…`).
    pub message: String,
}

/// `GET .../logs` without `follow`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionLogPage {
    /// Oldest first.
    pub lines: Vec<ExtensionLogLine>,
}

/// The query of `GET .../logs`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionLogQuery {
    /// Only lines after this id (without it: the newest `limit` lines).
    pub after: Option<i64>,
    /// Only this action's lines.
    pub action: Option<String>,
    /// Only lines of this level or above (`trace`, `debug`, `info`, `warn`, `error`).
    pub level: Option<String>,
    /// Only this call's lines (its `X-Request-Id`).
    pub call: Option<String>,
    /// At most this many lines (default 100, at most 1000); when following, how many of the
    /// newest are sent first (default 20).
    pub limit: Option<u32>,
    /// Keep the answer open and send each new line as a server-sent event.
    pub follow: Option<bool>,
}
