//! The request-body limit of a group of routes. A body that announces more than the
//! limit (`Content-Length`) is refused with 413 at once, before any of it is read:
//! waiting for a body that will be refused anyway leaves a client that sent only the
//! headers without an answer until it gives up. Bodies of unknown length (chunked) are
//! cut off by axum's `DefaultBodyLimit` once they pass the limit as they stream.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;

/// `router`'s routes accept bodies of at most `max_bytes`.
pub fn limit<S: Clone + Send + Sync + 'static>(router: OpenApiRouter<S>, max_bytes: usize) -> OpenApiRouter<S> {
    router
        .layer(DefaultBodyLimit::max(max_bytes))
        .layer(middleware::from_fn_with_state(max_bytes as u64, refuse_announced_over))
}

/// The answer to a body over the limit, however it was found out.
pub fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body is larger than the configured limit")
}

async fn refuse_announced_over(State(max_bytes): State<u64>, req: Request, next: Next) -> Response {
    let announced = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max_bytes) {
        return too_large().into_response();
    }
    next.run(req).await
}
