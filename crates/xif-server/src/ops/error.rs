//! The error of an operation: what went wrong, in the domain's terms. It carries no HTTP status:
//! the front ends map it (the API and the Service Center through [`crate::error::AppError`]).
use xif_runtime::CallError;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input (or the package) is wrong; the text names what.
    #[error("{message}")]
    BadInput {
        /// A short machine-readable kind (`bad_package`, `bad_input`, ...).
        kind: &'static str,
        /// What is wrong.
        message: String,
        /// The input (or other field) at fault, when there is one.
        parameter: Option<String>,
    },
    /// The caller is not (or no longer) known.
    #[error("{0}")]
    Unauthenticated(String),
    /// A permission is missing; the text names it.
    #[error("{0}")]
    Forbidden(String),
    /// What was named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the state (deleting the active version...).
    #[error("{0}")]
    Conflict(String),
    /// Something is over its limit; the text says the limit.
    #[error("{0}")]
    TooLarge(String),
    /// Too many failed logins: the next attempt is checked after `retry_after` seconds.
    #[error("{message}")]
    Throttled {
        /// What happened.
        message: String,
        /// Seconds until the next attempt is checked.
        retry_after: u64,
    },
    /// The server cannot do this now (an extension failed to load, password checks are busy).
    #[error("{0}")]
    Unavailable(String),
    /// No room for this now (memory for a call's input, a call slot, a queue).
    #[error("{message}")]
    Busy {
        /// What is full, and what to do.
        message: String,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// A call that failed in the runtime.
    #[error(transparent)]
    Call(#[from] CallError),
    /// A bug or an environment failure; the detail is for the server's log only.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Bad input of kind `kind`, naming no parameter.
    pub fn bad(kind: &'static str, message: impl Into<String>) -> Error {
        Error::BadInput { kind, message: message.into(), parameter: None }
    }

    /// Bad input of kind `bad_input` naming `parameter`.
    pub fn bad_parameter(parameter: impl Into<String>, message: impl Into<String>) -> Error {
        Error::BadInput { kind: "bad_input", message: message.into(), parameter: Some(parameter.into()) }
    }

    /// The `error` of its answer, as a fixed string (the metrics' failure kind).
    pub fn kind(&self) -> &'static str {
        self.class().kind()
    }

    fn class(&self) -> Class<'_> {
        match self {
            Error::BadInput { kind, .. } => Class::BadInput(kind),
            Error::Unauthenticated(_) => Class::Unauthenticated,
            Error::Forbidden(_) => Class::Forbidden,
            Error::NotFound(_) => Class::NotFound,
            Error::Conflict(_) => Class::Conflict,
            Error::TooLarge(_) => Class::TooLarge,
            Error::Throttled { .. } => Class::Throttled,
            Error::Unavailable(_) => Class::Unavailable,
            Error::Busy { .. } => Class::Busy,
            Error::Call(e) => Class::Call(e),
            Error::Internal(_) => Class::Internal,
        }
    }

    /// An internal error.
    pub fn internal(e: impl std::fmt::Display) -> Error {
        Error::Internal(e.to_string())
    }
}

/// What an error is, without its text: the one place each kind of error is given the `error`
/// name of its answer, for [`Error`] and for [`crate::error::AppError`] alike (each maps its own
/// variants here, and the compiler checks that every variant is mapped).
#[derive(Clone, Copy)]
pub(crate) enum Class<'a> {
    BadInput(&'static str),
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    TooLarge,
    Throttled,
    Unavailable,
    Busy,
    Call(&'a xif_runtime::CallError),
    Internal,
}

impl Class<'_> {
    /// The `error` of the answer.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Class::BadInput(kind) => kind,
            Class::Unauthenticated => "unauthorized",
            Class::Forbidden => "forbidden",
            Class::NotFound => "not_found",
            Class::Conflict => "conflict",
            Class::TooLarge => "too_large",
            Class::Throttled => "too_many_attempts",
            Class::Unavailable => "unavailable",
            Class::Busy => "busy",
            Class::Call(e) => crate::error::call_kind(e),
            Class::Internal => "internal",
        }
    }
}
