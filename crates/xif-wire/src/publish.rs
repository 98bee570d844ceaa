//! Publishing and rolling back (`POST .../versions/{n}/publish`, `.../rollback`): the stage
//! events, streamed as server-sent events (each event's data one [`PublishEvent`]), and the
//! summary that ends them.
use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;

/// How a stage is going (DESIGN.md's event schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It began.
    Started,
    /// It ended well.
    Finished,
    /// It failed; the publish stops.
    Failed,
    /// It had nothing to do.
    Skipped,
    /// Its result was already there (native code from the cache).
    Unchanged,
}

impl Status {
    /// Its spelling on the wire: `started`, `finished`, `failed`, `skipped`, `unchanged`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Started => "started",
            Status::Finished => "finished",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unchanged => "unchanged",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One progress event of a stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepEvent {
    /// `validate`, `permissions`, `compile`, `contract`, `entities` or `activate`.
    pub step: String,
    /// How it is going.
    pub status: Status,
    /// Milliseconds the stage took (0 when it starts).
    pub ms: u64,
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Publish, or rollback (re-activating an older version; logged as such).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PublishKind {
    /// `POST .../versions/{n}/publish`.
    Publish,
    /// `POST .../versions/{n}/rollback`.
    Rollback,
    /// A gradual rollout moved on, reached 100% or was aborted (`PUT`/`DELETE .../rollout`, or
    /// the error-rate guard).
    Rollout,
}

impl PublishKind {
    /// Its spelling on the wire and in the publish log: `publish` or `rollback`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishKind::Publish => "publish",
            PublishKind::Rollback => "rollback",
            PublishKind::Rollout => "rollout",
        }
    }
}

/// How a publish or rollback ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PublishOutcome {
    /// The version is active.
    Published,
    /// Nothing changed; `error` says why.
    Failed,
    /// The version takes a share of the calls beside the active one (`?gradual=N`).
    RollingOut,
    /// A rollout ended without the version becoming active.
    Aborted,
}

impl PublishOutcome {
    /// Its spelling on the wire and in the publish log: `published` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            PublishOutcome::Published => "published",
            PublishOutcome::Failed => "failed",
            PublishOutcome::RollingOut => "rolling_out",
            PublishOutcome::Aborted => "aborted",
        }
    }
}

/// The outcome of a publish or rollback: the last event (`{"summary": ...}`), and the log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// The extension.
    pub extension: String,
    /// The version published.
    pub version: i64,
    /// Its package digest (empty when the version was not found).
    pub digest: String,
    /// Publish or rollback.
    pub kind: PublishKind,
    /// Published or failed.
    pub outcome: PublishOutcome,
    /// Where its actions are called.
    pub url: String,
    /// Total milliseconds.
    pub ms: u64,
    /// Verify's warnings about the definition.
    pub warnings: Vec<String>,
    /// The error, when it failed: `{"error": kind, "message": text}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Summary {
    /// The failure message, when it failed.
    pub fn error_message(&self) -> Option<String> {
        match self.outcome {
            PublishOutcome::Published | PublishOutcome::RollingOut | PublishOutcome::Aborted => None,
            PublishOutcome::Failed => Some(
                self.error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| "the publish failed (the server gave no reason)".to_string()),
            ),
        }
    }
}

/// The data of one server-sent event of a publish stream: a stage event, then, last, the
/// summary (`{"summary": ...}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum PublishEvent {
    /// The last event: how it ended.
    Summary {
        /// The summary.
        summary: Summary,
    },
    /// A stage started or ended.
    Step(StepEvent),
}

/// A publish's answer without `Accept: text/event-stream` (and a rollback's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Published {
    /// Every stage event.
    pub steps: Vec<StepEvent>,
    /// The outcome.
    pub summary: Summary,
}

/// A publish's (or rollback's) answer without `Accept: text/event-stream` when a stage refused
/// it: the error body, with the stages run and the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishFailed {
    /// What refused it.
    #[serde(flatten)]
    pub error: ErrorBody,
    /// The stage events, up to the one that failed (none when the request itself was refused,
    /// e.g. a bad `?force=`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepEvent>,
    /// The outcome (`failed`), when a publish ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// The query of a publish (`?force=true`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishQuery {
    /// Make entity schema changes that would otherwise be refused (narrowing, an incompatible
    /// type, a different identifier); no stored value is changed or dropped by them.
    pub force: Option<bool>,
    /// Publish a version whose changes break the active version's callers (an action, input or
    /// output removed, an input made mandatory, a type changed); each is listed either way.
    pub allow_breaking: Option<bool>,
    /// Roll the version out gradually: it takes this share of the calls (1 to 99) while the
    /// active version keeps the rest; `PUT .../rollout` moves it on.
    pub gradual: Option<u32>,
    /// With `gradual`: choose per caller (the same caller keeps its version) rather than per call.
    pub per_caller: Option<bool>,
    /// With `gradual`: the error-rate guard aborts the rollout when the new version fails
    /// clearly more often than the active one (default true).
    pub guard: Option<bool>,
}
