//! Row inserts: which write path a request takes. An upsert merges on the primary key; a
//! large CSV (or one of unknown length) streams from disk into one commit, so memory stays
//! flat whatever its size; everything else joins the table's group commit.

use axum::body::{Body, Bytes};
use lakeward_engine::{CsvOptions, ImportFormat, InputFormat, WriteOutcome, WriteRequest, ops};
use lakeward_meta::EventKind;
use lakeward_meta::access::Principal;
use lakeward_model::TableRef;
use serde_json::json;
use url::Url;

use crate::audit_log::{self, Actor, Event};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// CSV and Arrow bodies larger than this (or of unknown length) are streamed through a file
/// instead of being held in memory; smaller ones join the table's group commit.
const STREAM_ABOVE_BYTES: u64 = 1 << 20;

/// How an insert's rows come and are to be written.
pub struct InsertWith {
    pub format: InputFormat,
    /// Rows whose primary key exists replace it (callers have authorized updates too).
    pub merge_duplicates: bool,
    /// The body's announced length.
    pub length: Option<u64>,
}

/// Writes the rows of `body` into the table at `location`; answers the outcome and the
/// event to audit it as.
pub async fn insert(
    state: &AppState,
    location: &Url,
    how: InsertWith,
    body: Body,
    request: WriteRequest,
) -> ApiResult<(WriteOutcome, EventKind)> {
    let location = location.clone();
    let large = how.length.is_none_or(|n| n > STREAM_ABOVE_BYTES);
    if how.merge_duplicates {
        let body = buffered(state, body).await?;
        let op = ops::rows::Upsert { location, format: how.format, body, request };
        return Ok((state.engine.run(op).await?, EventKind::RowsUpserted));
    }
    let streamed = match how.format {
        InputFormat::Csv => Some(ImportFormat::Csv(CsvOptions::default())),
        InputFormat::ArrowStream => Some(ImportFormat::ArrowStream),
        InputFormat::Json | InputFormat::Ndjson => None,
    };
    if let Some(format) = streamed.filter(|_| large && !request.return_rows) {
        let file =
            crate::upload::spool(state, body.into_data_stream(), |e| ApiError::bad_request(e.to_string())).await?;
        let op =
            ops::import::Import { location, path: file.to_path_buf(), format, request, progress: Default::default() };
        return Ok((state.engine.run(op).await?, EventKind::RowBatchInserted));
    }
    let body = buffered(state, body).await?;
    let op = ops::rows::Insert { location, format: how.format, body, request };
    Ok((state.engine.run(op).await?, EventKind::RowBatchInserted))
}

/// Records a write in the audit trail (and so for webhooks), unless it wrote nothing:
/// a replayed idempotent request, or one that committed no version.
pub async fn audit_write(
    state: &AppState,
    request: &RequestMeta,
    principal: &Principal,
    table: &TableRef,
    action: EventKind,
    outcome: &WriteOutcome,
) -> ApiResult<()> {
    if outcome.replayed || outcome.version.is_none() {
        return Ok(());
    }
    audit_log::record(
        state,
        request,
        Actor::Principal(principal),
        Event::new(principal.org_id, action)
            .target("table", table)
            .details(json!({ "version": outcome.version, "rows": outcome.rows })),
    )
    .await
}

/// The whole body in memory, within the upload limit.
async fn buffered(state: &AppState, body: Body) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, state.config.limits.max_upload_bytes).await.map_err(|_| crate::upload::too_large())
}
