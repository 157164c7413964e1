//! How a data answer is given: the format the client accepts (`Accept`), and answers
//! streamed from the engine in it.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use lakeward_engine::{ACCEPTED_OUTPUT_TYPES, OutputFormat};

use crate::error::{ApiError, ApiResult};

/// The answer format `Accept` asks for (JSON when absent); 406 naming what is offered.
pub fn output_format(headers: &HeaderMap) -> ApiResult<OutputFormat> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else { return Ok(OutputFormat::Json) };
    OutputFormat::from_accept(accept).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            format!("Cannot answer in `{accept}`; offered: {ACCEPTED_OUTPUT_TYPES}"),
        )
    })
}

/// A streamed answer in `format`, with `extra` headers.
pub fn stream_response(format: OutputFormat, body: lakeward_engine::ByteStream, extra: HeaderMap) -> Response {
    let body = Body::from_stream(body.map(|chunk| chunk.map_err(|e| std::io::Error::other(e.to_string()))));
    let mut response = (StatusCode::OK, [(header::CONTENT_TYPE, format.content_type())], body).into_response();
    response.headers_mut().extend(extra);
    response
}
