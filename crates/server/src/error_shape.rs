//! Gives error responses produced outside our handlers (the router's 405, body limits,
//! panics) the same JSON shape as ours.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub async fn normalize_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Method not allowed on this resource",
        StatusCode::PAYLOAD_TOO_LARGE => "Request body is larger than the configured limit",
        StatusCode::NOT_FOUND => "Resource not found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported content type",
        StatusCode::INTERNAL_SERVER_ERROR => "An unexpected error occurred",
        other => other.canonical_reason().unwrap_or("Error"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut normalized = ApiError::new(status, message).into_response();
    if let Some(allow) = allow {
        normalized.headers_mut().insert(header::ALLOW, allow);
    }
    normalized
}

fn is_json(response: &Response) -> bool {
    response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// Unknown paths.
pub async fn not_found() -> ApiError {
    ApiError::not_found()
}
