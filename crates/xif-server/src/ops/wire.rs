//! The request and answer bodies the operations take and return: `xif-wire`'s types, the same
//! ones the client reads.
pub(crate) use xif_wire::{
    ActionInfo, CreateToken, CreateUser, ExtensionDetail, ExtensionInfo, ExtensionLogLine, ExtensionLogPage,
    ExtensionLogQuery, FieldInfo, NewToken, PublishLogEntry, Published, RecordPage, Revoked, RolloutCounts,
    RolloutInfo, RolloutMoved, SetSettings, SettingInfo, TokenInfo, UpdateUser, Uploaded, UserInfo, VersionDiff,
    VersionInfo,
};
