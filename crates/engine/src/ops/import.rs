//! File imports and CSV inference (the streaming itself is `crate::import`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::protocol::SaveMode;
use tokio::sync::mpsc;
use url::Url;

use super::{Operation, Timeout};
use crate::commit::{self, Commit, replayed};
use crate::error::{EngineError, EngineResult};
use crate::import::infer::{self, CsvOptions, Inferred, InferredColumn};
use crate::import::{ImportFormat, ImportProgress, OnceStream, checked_stream, produce};
use crate::rules::Rules;
use crate::state::EngineState;
use crate::table::{self, TimeTravel};
use crate::write::{WriteOutcome, WriteRequest};
use crate::write::{encoding, writer_properties};

/// Infers a CSV file's columns, row count and candidate domains, in one pass.
pub struct InferCsv {
    pub path: PathBuf,
    pub options: CsvOptions,
}

impl Operation for InferCsv {
    type Output = Inferred;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, _state: Arc<EngineState>) -> EngineResult<Inferred> {
        tokio::task::spawn_blocking(move || infer::infer_csv(&self.path, &self.options))
            .await
            .map_err(|e| EngineError::internal(e.to_string()))?
    }
}

/// A Parquet file's or Arrow IPC stream's columns, from its footer or schema message.
pub struct FileColumns {
    pub path: PathBuf,
    pub format: ImportFormat,
}

impl Operation for FileColumns {
    type Output = Vec<InferredColumn>;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, _state: Arc<EngineState>) -> EngineResult<Vec<InferredColumn>> {
        tokio::task::spawn_blocking(move || crate::import::file_columns(&self.path, self.format))
            .await
            .map_err(|e| EngineError::internal(e.to_string()))?
    }
}

/// Imports a whole file into the table as one commit, or nothing.
pub struct Import {
    pub location: Url,
    pub path: PathBuf,
    pub format: ImportFormat,
    pub request: WriteRequest,
    pub progress: Arc<ImportProgress>,
}

impl Operation for Import {
    type Output = WriteOutcome;
    const TIMEOUT: Timeout = Timeout::None;

    async fn run(self, state: Arc<EngineState>) -> EngineResult<WriteOutcome> {
        commit::redo(&state, || self.attempt(&state)).await
    }
}

impl Import {
    async fn attempt(&self, state: &Arc<EngineState>) -> EngineResult<WriteOutcome> {
        let Self { location, path, format, request, progress } = self;
        let path = path.clone();
        let format = *format;
        let progress = progress.clone();
        let _guard = state.lock(location).await;
        progress.check()?;
        // A redone import (another writer committed first) reads the file again.
        progress.rows_read.store(0, Ordering::Relaxed);
        progress.rows_written.store(0, Ordering::Relaxed);
        progress.bytes_read.store(0, Ordering::Relaxed);
        let delta = state.open(location, TimeTravel::Latest).await?;
        if let Some(outcome) = replayed(&delta, request.idempotency_key.as_deref()).await? {
            return Ok(outcome);
        }
        let schema = table::arrow_schema(&delta)?;
        let rules = Arc::new(Rules::compile(state, location, &delta).await?);
        let keys = table::primary_key(&delta)?;
        let (tx, mut rx) = mpsc::channel::<EngineResult<RecordBatch>>(2);
        let producer = {
            let (schema, rules, keys, progress) = (schema.clone(), rules.clone(), keys.clone(), progress.clone());
            tokio::task::spawn_blocking(move || {
                let result = produce(&path, format, &schema, &rules, &keys, &tx, &progress);
                if let Err(e) = &result {
                    let _ = tx.blocking_send(Err(e.clone()));
                }
                result
            })
        };
        // The writer's properties are fixed before it starts: the first batch is judged for
        // its encodings, then goes to the writer ahead of the rest.
        let first = rx.recv().await;
        let properties = match &first {
            Some(Ok(batch)) => encoding::judged_by(batch),
            _ => writer_properties(),
        };
        // Why the stream failed, in our own terms (the writer wraps errors beyond use).
        let failure: Arc<Mutex<Option<EngineError>>> = Arc::default();
        let stream =
            checked_stream(state.clone(), delta.clone(), keys, first, rx, producer, progress.clone(), failure.clone());
        let plan = OnceStream::plan(schema.clone(), Box::pin(RecordBatchStreamAdapter::new(schema, stream)))?;
        let commit = Commit::prepare(state, location, &delta);
        let written = delta
            .clone()
            .write(Vec::new())
            .with_input_plan(plan)
            .with_save_mode(SaveMode::Append)
            .with_writer_properties(properties)
            .with_session_state(state.write_session())
            .with_commit_properties(commit.properties(&request.actor, request.idempotency_key.as_deref()))
            .await;
        if let Some(e) = failure.lock().expect("not poisoned").take() {
            return Err(e);
        }
        let version = Some(commit.landed_table(written).await?.version);
        let rows = progress.rows_written.load(Ordering::Relaxed);
        Ok(WriteOutcome { version, rows, returned: None, replayed: false })
    }
}
