//! The `Idempotency-Key` request header of writes (REST rows, GraphQL mutations): a retry
//! with the same key writes nothing again (the engine keeps the key in the table's log).

use axum::http::HeaderMap;

use crate::error::{ApiError, ApiResult};

pub fn key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map_err(|_| ApiError::invalid_field("Idempotency-Key", "must be printable ASCII"))?.trim();
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "must be 1 to 255 printable ASCII characters without spaces",
        ));
    }
    Ok(Some(key.to_owned()))
}
