//! Imports of whole files (CSV, Parquet) as one Delta commit, streamed: a reader thread
//! parses the file in batches, casts them to the table's types and checks every rule
//! (NOT NULL, domains, CHECK constraints), and the batches flow through a bounded channel
//! into delta-rs' writer, which writes data files as they come and commits once at the
//! end. Memory stays bounded by a few batches (plus the primary-key column when the table
//! has one), whatever the file's size.
//!
//! Nothing is committed unless every row passes: a refused row stops the flow to the
//! writer (the rest of the file is still read, to count every fault), and the stream
//! ends in an error, so the writer never commits. Data files it had already written are
//! not part of any version; `VACUUM` removes them.
//!
//! An import can be cancelled ([`ImportProgress::cancel`]): the flag is checked on every
//! batch, by the reader and by the stream into the writer, and once more when the stream
//! ends, which is the last moment before delta-rs commits. A cancelled import ends in
//! [`EngineError::Cancelled`] and commits nothing; a cancel that arrives after that point
//! is too late, and the import commits as if it had not been asked.

pub mod infer;

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::datasource::provider_as_source;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use deltalake::DeltaTable;
use tokio::sync::mpsc;

use self::infer::{CsvOptions, InferredColumn, csv_header, csv_read_error, open_csv};
use crate::error::{EngineError, EngineResult, Input};
use crate::row_errors::RowErrors;
use crate::rules::Rules;
use crate::state::EngineState;
use crate::types::ColumnType;
use crate::write::input::{conform, csv_error, csv_schema, typed_csv_batch};

#[derive(Debug, Clone, Copy)]
pub enum ImportFormat {
    Csv(CsvOptions),
    Parquet,
    /// An Arrow IPC stream (`application/vnd.apache.arrow.stream`).
    ArrowStream,
}

/// Rows read from the file, rows handed to the writer and bytes read of the file so far;
/// and whether the import was asked to stop.
#[derive(Debug, Default)]
pub struct ImportProgress {
    pub rows_read: AtomicU64,
    pub rows_written: AtomicU64,
    /// Bytes of the file read so far (CSV: read ahead of parsing by up to a buffer; Parquet:
    /// the column chunks and footer fetched).
    pub bytes_read: AtomicU64,
    cancelled: AtomicBool,
}

impl ImportProgress {
    /// Asks the import to stop: it ends in [`EngineError::Cancelled`] and commits nothing,
    /// unless it has already passed the point of committing.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub(crate) fn check(&self) -> EngineResult<()> {
        if self.is_cancelled() { Err(EngineError::Cancelled) } else { Ok(()) }
    }
}

/// A reader that counts the bytes read through it into [`ImportProgress::bytes_read`].
struct Counted<R> {
    inner: R,
    progress: Arc<ImportProgress>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The CSV upload, past any byte-order mark (counted as read), its reads counted.
fn counted_csv(path: &Path, progress: &Arc<ImportProgress>) -> EngineResult<std::io::BufReader<Counted<File>>> {
    let mut file = open_csv(path)?.into_inner();
    let skipped = file.stream_position().map_err(|e| EngineError::internal(e.to_string()))?;
    progress.bytes_read.fetch_add(skipped, Ordering::Relaxed);
    Ok(std::io::BufReader::with_capacity(1 << 20, Counted { inner: file, progress: progress.clone() }))
}

/// The Parquet upload, its reads counted (at most the file's size: the footer may be
/// fetched twice).
struct CountedFile {
    file: File,
    len: u64,
    progress: Arc<ImportProgress>,
}

impl CountedFile {
    fn count(&self, n: u64) {
        let len = self.len;
        let _ = self.progress.bytes_read.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some((b + n).min(len)));
    }
}

impl parquet::file::reader::Length for CountedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl parquet::file::reader::ChunkReader for CountedFile {
    type T = std::io::BufReader<Counted<File>>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let mut file = self.file.try_clone()?;
        file.seek(std::io::SeekFrom::Start(start))?;
        Ok(std::io::BufReader::new(Counted { inner: file, progress: self.progress.clone() }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let bytes = self.file.get_bytes(start, length)?;
        self.count(bytes.len() as u64);
        Ok(bytes)
    }
}

const BATCH_ROWS: usize = 64 * 1024;

/// The columns of a Parquet file or Arrow IPC stream, as Lakeward types (CSV columns are
/// inferred: see [`infer`]).
pub fn file_columns(path: &Path, format: ImportFormat) -> EngineResult<Vec<InferredColumn>> {
    let schema = match format {
        ImportFormat::Parquet => parquet_reader(open_upload(path)?)?.schema().clone(),
        ImportFormat::ArrowStream => arrow_reader(std::io::BufReader::new(open_upload(path)?))?.schema(),
        ImportFormat::Csv(_) => return Err(EngineError::internal("CSV columns are inferred")),
    };
    schema
        .fields()
        .iter()
        .map(|f| {
            let column_type = ColumnType::of_field(f).ok_or_else(|| {
                EngineError::invalid(
                    "file",
                    format!("column `{}` has a type Lakeward does not store: {}", f.name(), f.data_type()),
                )
            })?;
            Ok(InferredColumn { name: f.name().clone(), column_type, nullable: f.is_nullable() })
        })
        .collect()
}

fn open_upload(path: &Path) -> EngineResult<File> {
    File::open(path).map_err(|e| EngineError::internal(format!("cannot open the upload: {e}")))
}

fn arrow_reader<R: Read>(reader: R) -> EngineResult<arrow::ipc::reader::StreamReader<R>> {
    arrow::ipc::reader::StreamReader::try_new(reader, None).map_err(not_arrow)
}

fn not_arrow(e: arrow::error::ArrowError) -> EngineError {
    EngineError::invalid(Input::Rows, format!("not an Arrow IPC stream: {e}"))
}

/// A file's columns that the table does not have, as row faults.
fn unknown_columns(file: &Schema, table: &SchemaRef) -> EngineResult<()> {
    let mut errors = RowErrors::default();
    for f in file.fields() {
        if table.field_with_name(f.name()).is_err() {
            errors.push(0, Some(f.name()), format!("unknown column `{}`", f.name()));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(EngineError::Rows(errors)) }
}

fn parquet_reader<R: parquet::file::reader::ChunkReader + 'static>(
    reader: R,
) -> EngineResult<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<R>> {
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader)
        .map_err(|e| EngineError::invalid(Input::Rows, format!("not a readable Parquet file: {e}")))
}

/// The file's batches: CSV as text (typed by the caller, which counts the faults),
/// Parquet and Arrow cast to the table's columns. Bytes read are counted in `progress`.
fn batches(
    path: &Path,
    format: ImportFormat,
    schema: &SchemaRef,
    progress: &Arc<ImportProgress>,
) -> EngineResult<Box<dyn Iterator<Item = EngineResult<RecordBatch>> + Send>> {
    let schema = schema.clone();
    Ok(match format {
        ImportFormat::Csv(opts) => {
            let header = csv_header(path, &opts)?;
            let reader = arrow::csv::ReaderBuilder::new(csv_schema(&header, &schema)?)
                .with_header(opts.has_header)
                .with_delimiter(opts.delimiter)
                .with_batch_size(BATCH_ROWS)
                .build(counted_csv(path, progress)?)
                .map_err(csv_read_error)?;
            // Text batches: `produce` types them, reporting every value that does not fit.
            Box::new(reader.map(move |b| b.map_err(|e| csv_error(&e.to_string(), &header, opts.has_header))))
        }
        ImportFormat::Parquet => {
            let file = open_upload(path)?;
            let len = file.metadata().map_err(|e| EngineError::internal(e.to_string()))?.len();
            let builder = parquet_reader(CountedFile { file, len, progress: progress.clone() })?;
            unknown_columns(builder.schema(), &schema)?;
            let reader = builder
                .with_batch_size(BATCH_ROWS)
                .build()
                .map_err(|e| EngineError::invalid(Input::Rows, format!("not a readable Parquet file: {e}")))?;
            Box::new(reader.map(move |b| {
                let b =
                    b.map_err(|e| EngineError::invalid(Input::Rows, format!("cannot read the Parquet file: {e}")))?;
                conform(&b, &schema)
            }))
        }
        ImportFormat::ArrowStream => {
            let counted = Counted { inner: open_upload(path)?, progress: progress.clone() };
            let reader = arrow_reader(std::io::BufReader::with_capacity(1 << 20, counted))?;
            unknown_columns(&reader.schema(), &schema)?;
            Box::new(reader.map(move |b| conform(&b.map_err(not_arrow)?, &schema)))
        }
    })
}

/// Reads and checks the whole file, sending acceptable batches on; returns the key
/// columns of every row (for the primary-key check at the end).
pub(crate) fn produce(
    path: &Path,
    format: ImportFormat,
    schema: &SchemaRef,
    rules: &Rules,
    keys: &[String],
    tx: &mpsc::Sender<EngineResult<RecordBatch>>,
    progress: &Arc<ImportProgress>,
) -> EngineResult<Vec<RecordBatch>> {
    let mut errors = RowErrors::default();
    let mut offset = 0usize;
    let mut key_batches = Vec::new();
    for batch in batches(path, format, schema, progress)? {
        progress.check()?;
        let before = errors.total;
        let batch = match format {
            ImportFormat::Csv(_) => typed_csv_batch(&batch?, schema, offset, &mut errors)?,
            ImportFormat::Parquet | ImportFormat::ArrowStream => batch?,
        };
        let n = batch.num_rows();
        progress.rows_read.fetch_add(n as u64, Ordering::Relaxed);
        // Values that did not even convert are reported once, as such.
        if errors.total == before {
            rules.check(&batch, offset, &mut errors)?;
        }
        offset += n;
        if !errors.is_empty() || n == 0 {
            // Keep reading to count every fault, but send nothing more.
            continue;
        }
        if !keys.is_empty() {
            let indices: Vec<usize> = keys.iter().map(|k| schema.index_of(k)).collect::<Result<_, _>>()?;
            key_batches.push(batch.project(&indices)?);
        }
        let sealed = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())?;
        if tx.blocking_send(Ok(sealed)).is_err() {
            // The writer stopped reading: it failed, or the import was cancelled.
            progress.check()?;
            return Err(EngineError::internal("the import's writer stopped"));
        }
    }
    progress.check()?;
    if !errors.is_empty() {
        return Err(EngineError::Rows(errors));
    }
    Ok(key_batches)
}

/// A stream handed to the writer exactly once (delta-rs plans the write over it).
pub(crate) struct OnceStream {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl OnceStream {
    /// A plan that scans `stream` (of batches of exactly `schema`) once.
    pub(crate) fn plan(
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    ) -> EngineResult<datafusion::logical_expr::LogicalPlan> {
        let source = OnceStream { schema: schema.clone(), stream: Mutex::new(Some(stream)) };
        let provider = StreamingTable::try_new(schema, vec![Arc::new(source)])?;
        Ok(LogicalPlanBuilder::scan("source", provider_as_source(Arc::new(provider)), None)?.build()?)
    }
}

impl std::fmt::Debug for OnceStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnceStream")
    }
}

impl PartitionStream for OnceStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        self.stream.lock().expect("not poisoned").take().unwrap_or_else(|| {
            let again = futures::stream::once(async {
                Err(DataFusionError::Execution("the import stream can be read only once".into()))
            });
            Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), again))
        })
    }
}

/// The producer's batches for the writer (`first`, already received, then the rest);
/// at their end, the primary-key check. Any failure (or a cancel) is kept in `failure`
/// and ends the stream in an error, so the writer never commits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn checked_stream(
    state: Arc<EngineState>,
    delta: DeltaTable,
    keys: Vec<String>,
    first: Option<EngineResult<RecordBatch>>,
    rx: mpsc::Receiver<EngineResult<RecordBatch>>,
    producer: tokio::task::JoinHandle<EngineResult<Vec<RecordBatch>>>,
    progress: Arc<ImportProgress>,
    failure: Arc<Mutex<Option<EngineError>>>,
) -> impl futures::Stream<Item = datafusion::error::Result<RecordBatch>> + Send + 'static {
    struct State {
        engine: Arc<EngineState>,
        delta: DeltaTable,
        keys: Vec<String>,
        first: Option<EngineResult<RecordBatch>>,
        rx: mpsc::Receiver<EngineResult<RecordBatch>>,
        producer: Option<tokio::task::JoinHandle<EngineResult<Vec<RecordBatch>>>>,
        progress: Arc<ImportProgress>,
        failure: Arc<Mutex<Option<EngineError>>>,
    }
    let refused = |state: &State, e: EngineError| {
        *state.failure.lock().expect("not poisoned") = Some(e);
        DataFusionError::Execution("the import was refused".into())
    };
    let state = State { engine: state, delta, keys, first, rx, producer: Some(producer), progress, failure };
    futures::stream::unfold(Some(state), move |state| async move {
        let mut state = state?;
        let next = match state.first.take() {
            Some(first) => Some(first),
            None => state.rx.recv().await,
        };
        if let Err(e) = state.progress.check() {
            return Some((Err(refused(&state, e)), None));
        }
        match next {
            Some(Ok(batch)) => {
                state.progress.rows_written.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
                Some((Ok(batch), Some(state)))
            }
            Some(Err(e)) => {
                let err = refused(&state, e);
                Some((Err(err), None))
            }
            None => {
                let producer = state.producer.take()?;
                let key_batches = match producer.await {
                    Ok(Ok(k)) => k,
                    Ok(Err(e)) => return Some((Err(refused(&state, e)), None)),
                    Err(e) => return Some((Err(refused(&state, EngineError::internal(e.to_string()))), None)),
                };
                if !state.keys.is_empty() && !key_batches.is_empty() {
                    let checked =
                        crate::write::check_keys_unique(&state.engine, &state.delta, &key_batches, &state.keys, false)
                            .await;
                    if let Err(e) = checked {
                        return Some((Err(refused(&state, e)), None));
                    }
                }
                // The last moment to stop: once the stream ends, the writer commits.
                if let Err(e) = state.progress.check() {
                    return Some((Err(refused(&state, e)), None));
                }
                None
            }
        }
    })
}
