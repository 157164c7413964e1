//! Streaming record batches out as bytes in the format a client asked for. Each batch is
//! encoded and handed on as soon as it arrives, so memory stays bounded by a batch (a
//! row group for Parquet), never by the result.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::error::{EngineError, EngineResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Ndjson,
    Csv,
    ArrowStream,
    Parquet,
}

impl OutputFormat {
    /// The first acceptable media type in an `Accept` header; `None` if none is.
    pub fn from_accept(accept: &str) -> Option<OutputFormat> {
        for item in accept.split(',') {
            let essence = item.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            let format = match essence.as_str() {
                "application/json" | "*/*" | "application/*" | "" => OutputFormat::Json,
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => OutputFormat::Ndjson,
                "text/csv" => OutputFormat::Csv,
                "application/vnd.apache.arrow.stream" => OutputFormat::ArrowStream,
                "application/vnd.apache.parquet" | "application/parquet" => OutputFormat::Parquet,
                _ => continue,
            };
            return Some(format);
        }
        None
    }

    /// `csv`, `parquet`, `ndjson`, `arrow`, `json`.
    pub fn from_name(name: &str) -> Option<OutputFormat> {
        Some(match name {
            "json" => OutputFormat::Json,
            "ndjson" => OutputFormat::Ndjson,
            "csv" => OutputFormat::Csv,
            "arrow" => OutputFormat::ArrowStream,
            "parquet" => OutputFormat::Parquet,
            _ => return None,
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Json => "application/json",
            OutputFormat::Ndjson => "application/x-ndjson",
            OutputFormat::Csv => "text/csv; charset=utf-8",
            OutputFormat::ArrowStream => "application/vnd.apache.arrow.stream",
            OutputFormat::Parquet => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Csv => "csv",
            OutputFormat::ArrowStream => "arrows",
            OutputFormat::Parquet => "parquet",
        }
    }
}

pub const ACCEPTED_OUTPUT_TYPES: &str = "application/json, application/x-ndjson, text/csv, application/vnd.apache.arrow.stream, application/vnd.apache.parquet";

pub type ByteStream = BoxStream<'static, EngineResult<Bytes>>;

/// A `Write` whose contents are taken out after each batch.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn take(&self) -> Bytes {
        Bytes::from(std::mem::take(&mut *self.0.lock().expect("not poisoned")))
    }
}

enum Encoder {
    Json { first: bool },
    Ndjson,
    Csv(arrow::csv::Writer<Shared>),
    Arrow(Option<arrow::ipc::writer::StreamWriter<Shared>>),
    Parquet(Option<parquet::arrow::ArrowWriter<Shared>>),
}

/// Binary columns as base64 text, the form JSON and CSV bodies are written in (and the
/// form inserts accept).
fn binary_as_base64(batch: &RecordBatch) -> EngineResult<RecordBatch> {
    use arrow::array::{Array, AsArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use base64::Engine as _;
    let binary = |t: &DataType| matches!(t, DataType::Binary | DataType::LargeBinary | DataType::BinaryView);
    if !batch.schema().fields().iter().any(|f| binary(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let bytes: Option<Vec<Option<&[u8]>>> = match field.data_type() {
            DataType::Binary => Some(column.as_binary::<i32>().iter().collect()),
            DataType::LargeBinary => Some(column.as_binary::<i64>().iter().collect()),
            DataType::BinaryView => Some(column.as_binary_view().iter().collect()),
            _ => None,
        };
        match bytes {
            Some(values) => {
                let text: StringArray = values
                    .into_iter()
                    .map(|v| v.map(|b| base64::engine::general_purpose::STANDARD.encode(b)))
                    .collect();
                fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
                columns.push(Arc::new(text) as Arc<dyn Array>);
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

fn json_lines(batch: &RecordBatch) -> EngineResult<Vec<u8>> {
    let batch = binary_as_base64(batch)?;
    let mut out = Vec::new();
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::LineDelimited>(&mut out);
    writer.write(&batch)?;
    writer.finish()?;
    Ok(out)
}

impl Encoder {
    fn new(format: OutputFormat, schema: &arrow::datatypes::Schema, sink: &Shared) -> EngineResult<Self> {
        Ok(match format {
            OutputFormat::Json => Encoder::Json { first: true },
            OutputFormat::Ndjson => Encoder::Ndjson,
            OutputFormat::Csv => Encoder::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(sink.clone())),
            OutputFormat::ArrowStream => {
                Encoder::Arrow(Some(arrow::ipc::writer::StreamWriter::try_new(sink.clone(), schema)?))
            }
            OutputFormat::Parquet => {
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_max_row_group_row_count(Some(64 * 1024))
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer = parquet::arrow::ArrowWriter::try_new(sink.clone(), Arc::new(schema.clone()), Some(props))
                    .map_err(|e| EngineError::Internal(e.to_string()))?;
                Encoder::Parquet(Some(writer))
            }
        })
    }

    fn start(&self) -> Bytes {
        match self {
            Encoder::Json { .. } => Bytes::from_static(b"["),
            _ => Bytes::new(),
        }
    }

    fn batch(&mut self, batch: &RecordBatch, sink: &Shared) -> EngineResult<Bytes> {
        match self {
            Encoder::Json { first } => {
                let lines = json_lines(batch)?;
                let mut out = Vec::with_capacity(lines.len() + 8);
                for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    if !*first {
                        out.push(b',');
                    }
                    *first = false;
                    out.extend_from_slice(line);
                }
                return Ok(Bytes::from(out));
            }
            Encoder::Ndjson => return Ok(Bytes::from(json_lines(batch)?)),
            Encoder::Csv(w) => w.write(&binary_as_base64(batch)?)?,
            Encoder::Arrow(w) => w.as_mut().expect("open until finish").write(batch)?,
            Encoder::Parquet(w) => {
                let w = w.as_mut().expect("open until finish");
                w.write(batch).map_err(|e| EngineError::Internal(e.to_string()))?;
                // Hand on finished row groups; keep memory to about one row group.
                if w.in_progress_size() > 32 * 1024 * 1024 {
                    w.flush().map_err(|e| EngineError::Internal(e.to_string()))?;
                }
            }
        }
        Ok(sink.take())
    }

    fn finish(&mut self, sink: &Shared) -> EngineResult<Bytes> {
        match self {
            Encoder::Json { .. } => return Ok(Bytes::from_static(b"]")),
            Encoder::Ndjson | Encoder::Csv(_) => {}
            Encoder::Arrow(w) => {
                if let Some(mut w) = w.take() {
                    w.finish()?;
                }
            }
            Encoder::Parquet(w) => {
                if let Some(w) = w.take() {
                    w.close().map_err(|e| EngineError::Internal(e.to_string()))?;
                }
            }
        }
        Ok(sink.take())
    }
}

/// Encodes a stream of batches as `format`, batch by batch.
pub fn encode(stream: SendableRecordBatchStream, format: OutputFormat) -> EngineResult<ByteStream> {
    let schema = stream.schema();
    let sink = Shared::default();
    let encoder = Encoder::new(format, &schema, &sink)?;
    let head = encoder.start();
    let encoder = Arc::new(Mutex::new(encoder));
    let (body_encoder, body_sink) = (encoder.clone(), sink.clone());
    let body = stream.map_err(EngineError::from).and_then(move |batch| {
        let result = body_encoder.lock().expect("not poisoned").batch(&batch, &body_sink);
        futures::future::ready(result)
    });
    let tail = futures::stream::once(async move { encoder.lock().expect("not poisoned").finish(&sink) });
    Ok(futures::stream::once(async move { Ok(head) })
        .chain(body)
        .chain(tail)
        .filter(|chunk| futures::future::ready(!matches!(chunk, Ok(b) if b.is_empty())))
        .boxed())
}

/// Collects batches into JSON row objects (for `Prefer: return=representation`).
pub fn to_json_rows(batches: &[RecordBatch]) -> EngineResult<Vec<serde_json::Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        for line in json_lines(batch)?.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            rows.push(serde_json::from_slice(line).map_err(|e| EngineError::Internal(e.to_string()))?);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod binary_tests {
    use super::*;
    use arrow::array::{BinaryArray, BinaryViewArray};

    #[test]
    fn binary_values_are_written_as_base64_in_every_layout() {
        let plain = BinaryArray::from(vec![Some(b"hi".as_ref()), None, Some(b"".as_ref())]);
        let view = BinaryViewArray::from(vec![Some(b"\x00\xff".as_ref()), None, Some(b"hi".as_ref())]);
        let batch = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(plain) as arrow::array::ArrayRef),
            ("b", Arc::new(view) as arrow::array::ArrayRef),
        ])
        .unwrap();
        let rows = to_json_rows(&[batch]).unwrap();
        assert_eq!(
            rows,
            vec![
                serde_json::json!({ "a": "aGk=", "b": "AP8=" }),
                serde_json::json!({ "a": null, "b": null }),
                serde_json::json!({ "a": "", "b": "aGk=" }),
            ]
        );
    }
}
