//! The error body of every failure.
use serde::{Deserialize, Serialize};

/// The error body of every failure: `{"error": kind, "message": text}`, plus `parameter` for bad
/// input and `panic` / `location` for an action that trapped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// A machine-readable kind: `bad_input`, `forbidden`, `timeout`...
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// The input at fault, for bad input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The panic message of an action that trapped (`trap`), when it panicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
    /// Where the action panicked (`file:line:column`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl ErrorBody {
    /// An error of `kind` with `message`, and nothing else.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> ErrorBody {
        ErrorBody { error: kind.into(), message: message.into(), parameter: None, panic: None, location: None }
    }
}
