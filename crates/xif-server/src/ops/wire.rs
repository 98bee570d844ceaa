//! The request and answer bodies the operations take and return: the API's wire types, named
//! here once (when they move to their own crate, only this file changes).
pub(crate) use crate::api::account::{CreateToken, CreateUser, NewToken, Revoked, TokenInfo, UpdateUser, UserInfo};
pub(crate) use crate::api::entities::RecordPage;
pub(crate) use crate::api::extensions::{
    ActionInfo, ExtensionDetail, ExtensionInfo, FieldInfo, PublishLogEntry, Published, SetSettings, SettingInfo,
    Uploaded, VersionInfo,
};
