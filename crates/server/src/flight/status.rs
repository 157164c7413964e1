//! The one error shape, as gRPC statuses: the REST status mapped to the code Flight
//! clients act on, the message kept (with the field details in it), and the REST body (with `requiredScope` and the
//! per-row details) in the status details for clients that want all of it.

use axum::http::StatusCode;
use tonic::{Code, Status};

use crate::error::ApiError;

pub fn status(e: ApiError) -> Status {
    let code = match e.status {
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::CONFLICT => Code::FailedPrecondition,
        StatusCode::REQUEST_TIMEOUT => Code::DeadlineExceeded,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE => {
            Code::ResourceExhausted
        }
        s if s.is_client_error() => Code::InvalidArgument,
        _ => Code::Internal,
    };
    let mut message = e.message.clone();
    // gRPC clients mostly show the message alone: say what the details say in it.
    if !e.details.is_empty() {
        let details: Vec<String> = e.details.iter().map(|d| format!("{}: {}", d.field, d.message)).collect();
        message = format!("{message}: {}", details.join("; "));
    }
    if let Some(scope) = &e.required_scope {
        message = format!("{message} (requires the scope {scope})");
    }
    let body = serde_json::to_vec(&e.body()).unwrap_or_default();
    Status::with_details(code, message, body.into())
}
