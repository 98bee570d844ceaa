//! Extensions, their versions, uploads, the publish log and settings:
//! `/api/v1/extensions/...`; and the server's health.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::publish::StepEvent;

/// `GET /api/v1/health`: `{"status": "ok"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// An extension, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionInfo {
    /// Name.
    pub name: String,
    /// The active version's description (or the latest upload's).
    pub description: String,
    /// The version serving calls.
    pub active_version: Option<i64>,
    /// The highest version number.
    pub latest_version: Option<i64>,
    /// How many versions are stored.
    pub versions: usize,
    /// When the active version was activated.
    pub activated_at: Option<String>,
    /// Where its actions are called: `POST {url}/actions/{action}`.
    pub url: String,
    /// While a gradual rollout runs: the version rolling out...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_out: Option<i64>,
    /// ...and its share of calls, 1 to 99.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percent: Option<u32>,
}

/// An extension, in detail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExtensionDetail {
    /// The summary.
    #[serde(flatten)]
    pub info: ExtensionInfo,
    /// The active version's actions, with their inputs and outputs (`name: type`).
    pub actions: Vec<ActionInfo>,
    /// Whether the active version is loaded and serving (false when it could not be loaded).
    pub serving: bool,
}

/// An action of the active version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionInfo {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Inputs: name and type, in order.
    pub inputs: Vec<FieldInfo>,
    /// Outputs: name and type, in order.
    pub outputs: Vec<FieldInfo>,
}

/// One input or output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldInfo {
    /// Name.
    pub name: String,
    /// Type as written in extension.toml.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether it must be given.
    pub mandatory: bool,
}

/// A version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionInfo {
    /// Number.
    pub version: i64,
    /// Package digest (SHA-256 of manifest.json).
    pub digest: String,
    /// Package size in bytes.
    pub size: i64,
    /// Description.
    pub description: String,
    /// The toolchain that built it.
    pub toolchain: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: String,
    /// Whether it is the active version.
    pub active: bool,
    /// Its share of calls while it is rolling out (1 to 99).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percent: Option<u32>,
}

/// The answer to an upload (`POST .../versions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Uploaded {
    /// The extension.
    pub extension: String,
    /// The version number: new, or the existing one for a package uploaded before.
    pub version: i64,
    /// The package digest.
    pub digest: String,
    /// Whether this upload made a new version.
    pub created: bool,
}

/// One entry of the publish log (`GET .../publishes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishLogEntry {
    /// Id.
    pub id: i64,
    /// Version.
    pub version: i64,
    /// Digest.
    pub digest: String,
    /// `publish` or `rollback`.
    pub kind: String,
    /// Who.
    pub user: String,
    /// When it started.
    pub at: String,
    /// How long it took.
    pub ms: i64,
    /// `published` or `failed`.
    pub outcome: String,
    /// Why it failed.
    pub message: Option<String>,
    /// The stages, as streamed.
    pub stages: Vec<StepEvent>,
    /// Warnings about the definition.
    pub warnings: Vec<String>,
}

/// `?limit=` of the publish log.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LogQuery {
    /// At most this many entries (default 50, at most 1000).
    pub limit: Option<i64>,
}

/// A setting of the active version's definition (`GET .../settings`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingInfo {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Secret: its value is never shown.
    pub secret: bool,
    /// Whether an administrator set it (otherwise it reads as its default).
    pub set: bool,
    /// The value set (never for a secret).
    pub value: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Why a value that is set cannot be read (a secret sealed with another key: the server's
    /// log says more); the extension reads it as unavailable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// `PUT /api/v1/extensions/{name}/settings`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetSettings {
    /// Setting name → value (`null` unsets it).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub values: BTreeMap<String, serde_json::Value>,
}

/// `?from=` of a version's API diff: the version to compare with (default: the nearest lower
/// version number that exists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffQuery {
    /// The older version (any stored one; the same version gives no changes).
    pub from: Option<i64>,
}

/// What changed for callers from one version of an extension to another
/// (`GET /api/v1/extensions/{name}/versions/{version}/diff`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionDiff {
    /// The extension.
    pub extension: String,
    /// The version compared with; `null` when `to` has no lower version (then no changes).
    pub from: Option<i64>,
    /// The version whose changes these are.
    pub to: i64,
    /// Every change, in the order of `to`'s actions (removals after), then structures.
    pub changes: Vec<ApiChangeInfo>,
    /// How many of them break callers written for `from`.
    pub breaking: usize,
}

/// One change of an extension's callable surface: its actions, their inputs and outputs, and
/// the structures callers send or read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiChangeInfo {
    /// What changed, in snake_case: `action_removed`, `optional_input_added`,
    /// `input_made_mandatory`, `type_changed`, `description_changed`, ...
    pub kind: String,
    /// Whether callers written for the older version can break.
    pub breaking: bool,
    /// The change, in one sentence: `input Who of action Greet is now mandatory`.
    pub message: String,
    /// What a caller would see: `calls without Who are refused (400 bad_input)`.
    pub caller: String,
    /// The version whose `extension.toml` the place is in: the older one for what was removed,
    /// else the newer one.
    pub version: i64,
    /// The line of the place (from 1), when it has one.
    pub line: Option<usize>,
    /// The column of the place (from 1), when it has one.
    pub column: Option<usize>,
    /// The place, written out: `extension.toml of version 2:14:1`.
    pub place: String,
}
