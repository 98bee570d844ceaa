//! Entity records: `/api/v1/extensions/{name}/entities/{entity}`. A record itself is a JSON
//! object of its attributes by name, typed by the extension's definition (DESIGN.md's type
//! table), so it stays a `serde_json` object here.
use serde::{Deserialize, Serialize};

/// A page of records (`GET .../entities/{entity}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordPage {
    /// The entity.
    pub entity: String,
    /// Records skipped.
    pub offset: u32,
    /// Most records asked for.
    pub limit: u32,
    /// Whether more records follow this page.
    pub more: bool,
    /// The records, objects with the attributes by name.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub records: Vec<serde_json::Value>,
}
