//! Large request bodies go to disk, not memory: a stream of chunks is written to a
//! temporary file under `<data-dir>/tmp` (deleted when dropped), refusing anything over
//! the upload limit.

use axum::http::StatusCode;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "The upload is larger than the configured limit")
}

/// Writes `chunks` to a temporary file; a chunk error is answered as `on_error` says.
pub async fn spool<E>(
    state: &AppState,
    chunks: impl Stream<Item = Result<Bytes, E>>,
    on_error: impl Fn(E) -> ApiError,
) -> ApiResult<tempfile::TempPath> {
    let dir = state.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir).await.map_err(ApiError::internal)?;
    let (file, path) =
        tempfile::Builder::new().prefix("upload-").tempfile_in(&dir).map_err(ApiError::internal)?.into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let limit = state.config.limits.max_upload_bytes as u64;
    let mut written = 0u64;
    let mut chunks = std::pin::pin!(chunks);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(&on_error)?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(too_large());
        }
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    Ok(path)
}

/// A multipart body that could not be read: too large (413), or malformed (400).
pub fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    ApiError::invalid_field("body", format!("malformed multipart body: {}", e.body_text()))
}
