//! Logging in, tokens, users and permissions: `/api/v1/login`, `/me`, `/tokens`, `/users`.
use serde::{Deserialize, Serialize};

/// A permission a user may be granted (their names are those of DESIGN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Permission {
    /// Upload and publish any extension.
    #[serde(rename = "Change & Deploy Applications")]
    ChangeAndDeployApplications,
    /// Upload and publish an extension that exports no entities.
    #[serde(rename = "Allow Extensions")]
    AllowExtensions,
    /// With "Allow Extensions": extensions that export entities; and writing entity records.
    #[serde(rename = "Allow Foreign Entities")]
    AllowForeignEntities,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 3] =
        [Permission::ChangeAndDeployApplications, Permission::AllowExtensions, Permission::AllowForeignEntities];

    /// Its name, as shown, stored and sent.
    pub fn name(self) -> &'static str {
        match self {
            Permission::ChangeAndDeployApplications => "Change & Deploy Applications",
            Permission::AllowExtensions => "Allow Extensions",
            Permission::AllowForeignEntities => "Allow Foreign Entities",
        }
    }

    /// The permission of a name (exactly as [`Permission::name`] spells it).
    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// `POST /api/v1/login`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

/// A user as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    /// Name.
    pub name: String,
    /// Administrator.
    pub admin: bool,
    /// Granted permissions (administrators hold all of them).
    pub permissions: Vec<Permission>,
    /// Creation time.
    pub created_at: String,
}

/// A new bearer token: shown once, never again (the answer to a login and to `POST /tokens`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    /// Its id (to revoke it).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working.
    pub expires_at: String,
    /// Whose it is.
    pub user: UserInfo,
}

/// `POST /api/v1/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A name to recognize it by (`ci-deploy`).
    pub name: String,
    /// Days until it expires (default 90, at most the server's maximum token lifetime,
    /// `xif serve --max-token-days`, 90 by default).
    pub expires_in_days: Option<u32>,
}

/// A token, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Owner.
    pub user: String,
    /// Creation.
    pub created_at: String,
    /// Expiry.
    pub expires_at: String,
    /// Revocation, when revoked.
    pub revoked_at: Option<String>,
}

/// `POST /api/v1/users`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Name: letters, digits, `.`, `_`, `-`, `@`; 1 to 64 characters.
    pub name: String,
    /// Password: at least 8 characters.
    pub password: String,
    /// Administrator (default false).
    #[serde(default)]
    pub admin: bool,
    /// Permissions to grant, by name (an unknown name is refused, naming the known ones).
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// `PATCH /api/v1/users/{user}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// A new password.
    pub password: Option<String>,
    /// Make or unmake an administrator.
    pub admin: Option<bool>,
}

/// `PUT /api/v1/users/{user}/permissions`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetPermissions {
    /// The permissions the user holds from now on, by name: "Change & Deploy Applications",
    /// "Allow Extensions", "Allow Foreign Entities".
    pub permissions: Vec<String>,
}

/// What `POST /api/v1/users/{user}/revoke` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revoked {
    /// API tokens and login session tokens revoked.
    pub tokens: u64,
    /// Service Center sessions ended.
    pub console_sessions: u64,
}
