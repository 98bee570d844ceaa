//! The wire protocol of the Platform Server's HTTP API (`/api/v1`): the request and response
//! body of every route, the publish events (the server-sent event stream) and the publish
//! summary, and the error body of every failure.
//!
//! The server answers with these types and the client reads them, so a field added, renamed or
//! retyped here changes both sides at once (or breaks the build of both). With the `openapi`
//! feature (the server's) every type also derives `utoipa::ToSchema`: the OpenAPI document's
//! schemas are these types.
//!
//! **Architecture Invariant:** no logic, no I/O and no dependency beyond serde (and utoipa behind
//! `openapi`): the JSON these types make is the contract, and a change to it is a change of the
//! API. Field names, optional fields and the spelling of enums are kept as the server sends them.
#![deny(missing_docs)]

mod account;
mod entities;
mod error;
mod extensions;
mod logs;
mod publish;
mod rollout;

pub use account::{
    CreateToken, CreateUser, LoginRequest, NewToken, Permission, Revoked, SetPermissions, TokenInfo, UpdateUser,
    UserInfo,
};
pub use entities::RecordPage;
pub use error::ErrorBody;
pub use extensions::{
    ActionInfo, ApiChangeInfo, DiffQuery, ExtensionDetail, ExtensionInfo, FieldInfo, Health, LogQuery, PublishLogEntry,
    SetSettings, SettingInfo, Uploaded, VersionDiff, VersionInfo,
};
pub use logs::{ExtensionLogLine, ExtensionLogPage, ExtensionLogQuery};
pub use publish::{
    PublishEvent, PublishFailed, PublishKind, PublishOutcome, PublishQuery, Published, Status, StepEvent, Summary,
};
pub use rollout::{RolloutAbortQuery, RolloutChange, RolloutCounts, RolloutInfo, RolloutMoved};
