//! Errors: [`ServerError`] when the server cannot start, [`AppError`] for one request.
//!
//! `AppError` is axum's error shape: user errors keep their status and text; an internal error
//! becomes a 500 with a generic message, and its detail is logged once, here.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use xif_runtime::CallError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory could not be prepared.
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: std::path::PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open the database {url}: {message}")]
    Database {
        /// The URL (without a password).
        url: String,
        /// What failed.
        message: String,
    },
    /// The configuration cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The sandbox could not start.
    #[error(transparent)]
    Runtime(#[from] xif_runtime::RuntimeError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// What failed.
        source: std::io::Error,
    },
    /// Something else failed while starting.
    #[error("{0}")]
    Internal(String),
    /// A TLS certificate or key file cannot be used.
    #[error(
        "cannot use the TLS file {path}: {why}\n  help: --tls-cert takes the PEM certificate chain (the server's certificate first), --tls-key its PEM private key"
    )]
    Tls {
        /// The file at fault.
        path: std::path::PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// The error of one request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request or the package is wrong; the text names what.
    #[error("{message}")]
    BadRequest {
        /// A short machine-readable kind (`bad_package`, `bad_input`, ...).
        kind: &'static str,
        /// What is wrong.
        message: String,
        /// The input (or other field) at fault, when there is one.
        parameter: Option<String>,
    },
    /// 401: no valid bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a permission is missing; the text names it.
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the state (deleting the active version...).
    #[error("{0}")]
    Conflict(String),
    /// 413: a body over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// 429: too many failed logins; try again after the given seconds.
    #[error("{message}")]
    TooManyAttempts {
        /// What happened.
        message: String,
        /// Seconds until the next attempt is checked.
        retry_after: u64,
    },
    /// 503: the server is not able to serve this now (shutting down, extension failed to load).
    #[error("{0}")]
    Unavailable(String),
    /// 503 `busy`: the server has no room for this call now (memory for its input, a call
    /// slot, its extension's queue); sent with `Retry-After`.
    #[error("{message}")]
    Busy {
        /// What is full, and what to do.
        message: String,
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// A call that failed; its status depends on why (see [`call_status`]).
    #[error(transparent)]
    Call(#[from] CallError),
    /// 500: a bug or an environment failure. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// A 400 of kind `kind`.
    pub fn bad(kind: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest { kind, message: message.into(), parameter: None }
    }

    /// A 500 whose detail is logged.
    pub fn internal(e: impl std::fmt::Display) -> AppError {
        AppError::Internal(e.to_string())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) | AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Call(e) => call_status(e),
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable kind sent as `error`.
    pub fn kind(&self) -> &'static str {
        use crate::ops::Class;
        match self {
            AppError::BadRequest { kind, .. } => Class::BadInput(kind),
            AppError::Unauthorized(_) => Class::Unauthenticated,
            AppError::Forbidden(_) => Class::Forbidden,
            AppError::NotFound(_) => Class::NotFound,
            AppError::Conflict(_) => Class::Conflict,
            AppError::TooLarge(_) => Class::TooLarge,
            AppError::TooManyAttempts { .. } => Class::Throttled,
            AppError::Unavailable(_) => Class::Unavailable,
            AppError::Busy { .. } => Class::Busy,
            AppError::Call(e) => Class::Call(e),
            AppError::Internal(_) => Class::Internal,
        }
        .kind()
    }

    /// The text sent to the client: the error itself, except for internal errors.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) | AppError::Call(CallError::Internal(_)) => {
                "internal server error (the server's log has the details)".to_string()
            }
            other => other.to_string(),
        }
    }

    /// The JSON body: `{"error": kind, "message": text}`, plus `parameter` for bad input.
    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(self.error_body()).unwrap_or_default()
    }

    /// The error body (the wire type): kind and message, plus `parameter` for bad input and
    /// `panic` / `location` for an action that trapped.
    pub fn error_body(&self) -> xif_wire::ErrorBody {
        let mut body = xif_wire::ErrorBody::new(self.kind(), self.public_message());
        body.parameter = match self {
            AppError::BadRequest { parameter, .. } => parameter.clone(),
            AppError::Call(CallError::BadInput(e)) if !e.path.is_empty() => Some(e.path.clone()),
            _ => None,
        };
        if let AppError::Call(CallError::Trap { panic, location, .. }) = self {
            body.panic.clone_from(panic);
            body.location.clone_from(location);
        }
        body
    }

    /// Logs an internal error once (called when the response is made).
    fn log(&self) {
        match self {
            AppError::Internal(detail) => tracing::error!(error = %detail, "internal error"),
            AppError::Call(CallError::Internal(detail)) => tracing::error!(error = %detail, "runtime error in a call"),
            _ => {}
        }
    }
}

/// The status of a failed call: the caller's fault is a 4xx, the action's answer a 422, the
/// action misbehaving a 500 (with its message: it is the extension's error, not the server's),
/// a timeout a 504.
pub fn call_status(e: &CallError) -> StatusCode {
    match e {
        CallError::UnknownAction { .. } => StatusCode::NOT_FOUND,
        CallError::BadInput(_) => StatusCode::BAD_REQUEST,
        CallError::ActionFailed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        CallError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        CallError::Trap { .. }
        | CallError::OutOfMemory { .. }
        | CallError::BadOutput { .. }
        | CallError::OutputTooLarge { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        CallError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        CallError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The `error` kind of a failed call.
pub fn call_kind(e: &CallError) -> &'static str {
    match e {
        CallError::UnknownAction { .. } => "unknown_action",
        CallError::BadInput(_) => "bad_input",
        CallError::ActionFailed { .. } => "action_failed",
        CallError::Trap { .. } => "trap",
        CallError::Timeout { .. } => "timeout",
        CallError::OutOfMemory { .. } => "out_of_memory",
        CallError::BadOutput { .. } => "bad_output",
        CallError::OutputTooLarge { .. } => "output_too_large",
        CallError::Busy { .. } => "busy",
        CallError::Internal(_) => "internal",
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        match &self {
            AppError::Unauthorized(_) => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::TooManyAttempts { retry_after, .. } | AppError::Busy { retry_after, .. } => {
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::Call(CallError::Busy { .. }) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<xif_store::Error> for AppError {
    fn from(e: xif_store::Error) -> AppError {
        match e {
            xif_store::Error::Conflict(message) => AppError::Conflict(message),
            xif_store::Error::SchemaRefused(message) => AppError::bad("schema_refused", message),
            e @ xif_store::Error::Unreachable(_) => AppError::Unavailable(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> AppError {
        AppError::Internal(format!("file system: {e}"))
    }
}

/// An operation's error as the front ends answer it (the mapping to a status is here, not in
/// the operations).
impl From<crate::ops::Error> for AppError {
    fn from(e: crate::ops::Error) -> AppError {
        use crate::ops::Error as E;
        match e {
            E::BadInput { kind, message, parameter } => AppError::BadRequest { kind, message, parameter },
            E::Unauthenticated(m) => AppError::Unauthorized(m),
            E::Forbidden(m) => AppError::Forbidden(m),
            E::NotFound(m) => AppError::NotFound(m),
            E::Conflict(m) => AppError::Conflict(m),
            E::TooLarge(m) => AppError::TooLarge(m),
            E::Throttled { message, retry_after } => AppError::TooManyAttempts { message, retry_after },
            E::Unavailable(m) => AppError::Unavailable(m),
            E::Busy { message, retry_after } => AppError::Busy { message, retry_after },
            E::Call(e) => AppError::Call(e),
            E::Internal(m) => AppError::Internal(m),
        }
    }
}

/// The errors of the parts the operations use (storage, publish) as an operation's error.
impl From<AppError> for crate::ops::Error {
    fn from(e: AppError) -> crate::ops::Error {
        use crate::ops::Error as E;
        match e {
            AppError::BadRequest { kind, message, parameter } => E::BadInput { kind, message, parameter },
            AppError::Unauthorized(m) => E::Unauthenticated(m),
            AppError::Forbidden(m) => E::Forbidden(m),
            AppError::NotFound(m) => E::NotFound(m),
            AppError::Conflict(m) => E::Conflict(m),
            AppError::TooLarge(m) => E::TooLarge(m),
            AppError::TooManyAttempts { message, retry_after } => E::Throttled { message, retry_after },
            AppError::Unavailable(m) => E::Unavailable(m),
            AppError::Busy { message, retry_after } => E::Busy { message, retry_after },
            AppError::Call(e) => E::Call(e),
            AppError::Internal(m) => E::Internal(m),
        }
    }
}

impl From<std::io::Error> for crate::ops::Error {
    fn from(e: std::io::Error) -> crate::ops::Error {
        AppError::from(e).into()
    }
}

impl From<xif_store::Error> for crate::ops::Error {
    fn from(e: xif_store::Error) -> crate::ops::Error {
        AppError::from(e).into()
    }
}
