//! Gradual rollouts (`/api/v1/extensions/{name}/rollout`): a published version takes a share of
//! the calls while the active version keeps the rest, until it reaches 100% (and becomes the
//! active version) or is aborted.
use serde::{Deserialize, Serialize};

/// A rollout that runs (`GET .../rollout`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutInfo {
    /// The extension.
    pub extension: String,
    /// The version rolling out.
    pub version: i64,
    /// The active version, which takes the other calls.
    pub active_version: i64,
    /// The rolling version's share of calls, 1 to 99.
    pub percent: u32,
    /// Chosen per caller (a caller keeps its version) rather than per call.
    pub per_caller: bool,
    /// The error-rate guard may abort it.
    pub guard: bool,
    /// When it began (RFC 3339).
    pub started_at: String,
    /// Who began it.
    pub started_by: String,
    /// Calls and failures of each of the two versions since the minute it began, summed over
    /// every node (as the charts count them: a few seconds behind).
    pub versions: Vec<RolloutCounts>,
}

/// One version's calls during a rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutCounts {
    /// The version.
    pub version: i64,
    /// Its calls.
    pub calls: i64,
    /// Of which failed.
    pub failures: i64,
}

/// A change of a rollout (`PUT .../rollout`): its new share; 100 makes the version active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutChange {
    /// 1 to 100.
    pub percent: u32,
    /// The version the change is meant for: when another version rolls out by now, the change
    /// is refused (409) rather than made to it. Absent: whatever version rolls out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// `?version=` of an abort (`DELETE .../rollout`): the version it is meant for; when another
/// version rolls out by now, the abort is refused (409). Absent: whatever version rolls out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutAbortQuery {
    /// The version meant.
    pub version: Option<i64>,
}

/// What a change or an abort of a rollout did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RolloutMoved {
    /// The extension.
    pub extension: String,
    /// The version that was rolling out.
    pub version: i64,
    /// The version active now.
    pub active_version: i64,
    /// Its share now: 100 when it became the active version, 0 when aborted.
    pub percent: u32,
    /// What happened, in words (also in the publish log).
    pub message: String,
}
