//! The one error shape every response uses:
//! `{"statusCode":400,"error":"Bad Request","message":"...","details":[{"field":"...","message":"..."}]}`
//! plus `requiredScope` on 403 and `retryAfter` (with a `Retry-After` header) on 429.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lakeward_meta::MetaError;
use lakeward_meta::access::{Denied, Role, Scope};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[schema(example = 400)]
    pub status_code: u16,
    #[schema(example = "Bad Request")]
    pub error: String,
    #[schema(example = "Validation failed")]
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<FieldError>,
    /// On 403: the scope the action needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<String>,
    /// On 429: seconds to wait before retrying (also in the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// On a refused rule change: how many existing rows would violate it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violating_rows: Option<u64>,
    /// On a refused storage connection: every check with `ok`, `skipped` and the store's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub checks: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Vec<FieldError>,
    pub required_scope: Option<String>,
    pub retry_after: Option<u64>,
    pub violating_rows: Option<u64>,
    /// A storage connection's checks, when they refused it (boxed: errors stay small).
    pub checks: Option<Box<serde_json::Value>>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Vec::new(),
            required_scope: None,
            retry_after: None,
            violating_rows: None,
            checks: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 400 naming the field at fault.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            details: vec![FieldError { field: field.into(), message: message.clone() }],
            ..Self::bad_request("Validation failed")
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// A 403 naming the scope the caller lacks, and which roles hold it: for a user that
    /// is the role they lack; for an API key whose creator holds it, the key's scopes.
    pub fn forbidden(required_scope: Scope) -> Self {
        let held_by = match required_scope.min_role() {
            Role::Viewer => "every role",
            Role::Editor => "editors, builders and admins",
            Role::Builder => "builders and admins",
            Role::Admin => "admins",
        };
        let message = format!("Insufficient permissions: requires `{required_scope}`, held by {held_by}");
        Self { required_scope: Some(required_scope.to_string()), ..Self::new(StatusCode::FORBIDDEN, message) }
    }

    /// A 404 that reveals nothing: for ids and for whatever another organisation may own.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Resource not found")
    }

    /// A 404 saying what is missing (`table `main.crm.x``): only for names in the
    /// caller's own organisation's namespace, which is all they can address.
    pub fn missing(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        // Never tell a client to retry after 0 seconds: it would retry at once, and fail.
        let secs = retry_after_secs.max(1);
        Self { retry_after: Some(secs), ..Self::new(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded") }
    }

    /// Logs the cause and answers a message that reveals nothing about it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "An unexpected error occurred")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message.clone(),
            details: self.details.clone(),
            required_scope: self.required_scope.clone(),
            retry_after: self.retry_after,
            violating_rows: self.violating_rows,
            checks: self.checks.as_deref().cloned(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<MetaError> for ApiError {
    fn from(err: MetaError) -> Self {
        match err {
            MetaError::NotFound => ApiError::not_found(),
            MetaError::Conflict(message) => ApiError::conflict(message),
            MetaError::LastAdmin => ApiError::conflict("An organisation must keep at least one active admin"),
            MetaError::Db(e) => ApiError::internal(e),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::NotFound => ApiError::not_found(),
            Denied::Forbidden { required_scope } => ApiError::forbidden(required_scope),
        }
    }
}

/// How the REST API names an engine operation's inputs in `details[].field`.
#[derive(Debug, Clone, Copy)]
pub struct FieldNames {
    /// The rows or file data given.
    pub rows: &'static str,
    /// The column the operation names.
    pub column: &'static str,
}

impl FieldNames {
    /// Row writes: the rows are the request body.
    pub const REST: FieldNames = FieldNames { rows: "body", column: "column" };
    /// Imports: the data is the multipart `file` part.
    pub const IMPORT: FieldNames = FieldNames { rows: "file", ..FieldNames::REST };

    fn field(&self, input: lakeward_engine::Input) -> String {
        use lakeward_engine::Input;
        match input {
            Input::Rows => self.rows.to_owned(),
            Input::Query => "query".to_owned(),
            Input::Filter => "filter".to_owned(),
            Input::Resolution => "Prefer".to_owned(),
            Input::Request => "body".to_owned(),
            Input::Column => self.column.to_owned(),
            Input::Parameter(name) => name,
        }
    }
}

impl From<lakeward_engine::EngineError> for ApiError {
    fn from(err: lakeward_engine::EngineError) -> Self {
        ApiError::engine(err, FieldNames::REST)
    }
}

impl ApiError {
    /// An engine error in the error shape, its inputs named as `names` says.
    pub fn engine(err: lakeward_engine::EngineError, names: FieldNames) -> Self {
        use lakeward_engine::EngineError as E;
        match err {
            E::Invalid { input, message } => ApiError::invalid_field(names.field(input), message),
            E::Rows(rows) => {
                let shown = rows.errors.len();
                let message = if rows.total > shown {
                    format!("{} value(s) do not fit the table; the first {shown} are listed", rows.total)
                } else {
                    format!("{} value(s) do not fit the table", rows.total)
                };
                Self {
                    details: rows
                        .errors
                        .into_iter()
                        .map(|e| FieldError {
                            field: match e.column {
                                Some(c) => format!("rows[{}].{c}", e.row),
                                None => format!("rows[{}]", e.row),
                            },
                            message: e.message,
                        })
                        .collect(),
                    ..ApiError::bad_request(message)
                }
            }
            E::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, message),
            E::Conflict(message) => ApiError::conflict(message),
            e @ E::Concurrent => ApiError::conflict(e.to_string()),
            E::Violated { message, rows } => Self { violating_rows: Some(rows), ..ApiError::conflict(message) },
            E::NotAllowed(message) => ApiError::bad_request(message),
            E::Denied(message) => ApiError::new(StatusCode::FORBIDDEN, message),
            e @ E::Timeout(_) => ApiError::new(StatusCode::REQUEST_TIMEOUT, e.to_string()),
            e @ E::ResourcesExhausted(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            // Only jobs are cancelled, and a cancelled job records no error; should one reach
            // a response, the operation ended because someone stopped it.
            e @ E::Cancelled => ApiError::conflict(e.to_string()),
            E::Storage(cause) => ApiError::internal(format!("storage: {cause}")),
            e @ E::Internal { .. } => ApiError::internal(error_chain(&e)),
        }
    }
}

/// An error and its causes, for the log.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
