//! Streaming record batches out as bytes in the format a client asked for. Each batch is
//! encoded and handed on as soon as it arrives, so memory stays bounded by a batch (a
//! row group for Parquet), never by the result.

mod json;
mod standard_types;

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

pub(crate) use self::json::json_rows;
use self::json::{binary_as_base64, decimals_as_text, json_lines};
use self::standard_types::standard_batch;
pub(crate) use self::standard_types::standard_schema;
use crate::error::{EngineError, EngineResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Json,
    Ndjson,
    Csv,
    /// `view_types` keeps DataFusion's `Utf8View` / `BinaryView` columns; otherwise they are
    /// sent as `Utf8` / `Binary`, which every Arrow reader knows.
    ArrowStream {
        view_types: bool,
    },
    Parquet {
        view_types: bool,
    },
}

impl OutputFormat {
    /// The first acceptable media type in an `Accept` header; `None` if none is. Arrow and
    /// Parquet take the parameter `view_types=true` (`application/vnd.apache.arrow.stream;
    /// view_types=true`).
    pub fn from_accept(accept: &str) -> Option<OutputFormat> {
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let view_types = parts.any(|p| {
                p.split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("view_types")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("true")
                })
            });
            let format = match essence.as_str() {
                "application/json" | "*/*" | "application/*" | "" => OutputFormat::Json,
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => OutputFormat::Ndjson,
                "text/csv" => OutputFormat::Csv,
                "application/vnd.apache.arrow.stream" => OutputFormat::ArrowStream { view_types },
                "application/vnd.apache.parquet" | "application/parquet" => OutputFormat::Parquet { view_types },
                _ => continue,
            };
            return Some(format);
        }
        None
    }

    /// `csv`, `parquet`, `ndjson`, `arrow`, `json` (Arrow and Parquet in standard types).
    pub fn from_name(name: &str) -> Option<OutputFormat> {
        Some(match name {
            "json" => OutputFormat::Json,
            "ndjson" => OutputFormat::Ndjson,
            "csv" => OutputFormat::Csv,
            "arrow" => OutputFormat::ArrowStream { view_types: false },
            "parquet" => OutputFormat::Parquet { view_types: false },
            _ => return None,
        })
    }

    /// The same format, keeping view types if `view_types` (Arrow and Parquet only).
    pub fn with_view_types(self, view_types: bool) -> OutputFormat {
        match self {
            OutputFormat::ArrowStream { .. } => OutputFormat::ArrowStream { view_types },
            OutputFormat::Parquet { .. } => OutputFormat::Parquet { view_types },
            other => other,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Json => "application/json",
            OutputFormat::Ndjson => "application/x-ndjson",
            OutputFormat::Csv => "text/csv; charset=utf-8",
            OutputFormat::ArrowStream { .. } => "application/vnd.apache.arrow.stream",
            OutputFormat::Parquet { .. } => "application/vnd.apache.parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Json => "json",
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Csv => "csv",
            OutputFormat::ArrowStream { .. } => "arrows",
            OutputFormat::Parquet { .. } => "parquet",
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
    Json {
        first: bool,
    },
    Ndjson,
    Csv(arrow::csv::Writer<Shared>),
    /// `standard`: view types are cast to their standard forms.
    Arrow {
        writer: Option<arrow::ipc::writer::StreamWriter<Shared>>,
        standard: bool,
    },
    Parquet {
        writer: Option<parquet::arrow::ArrowWriter<Shared>>,
        standard: bool,
    },
}

impl Encoder {
    fn new(format: OutputFormat, schema: &arrow::datatypes::Schema, sink: &Shared) -> EngineResult<Self> {
        Ok(match format {
            OutputFormat::Json => Encoder::Json { first: true },
            OutputFormat::Ndjson => Encoder::Ndjson,
            OutputFormat::Csv => Encoder::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(sink.clone())),
            OutputFormat::ArrowStream { view_types } => {
                let schema = if view_types { Arc::new(schema.clone()) } else { standard_schema(schema) };
                let writer = arrow::ipc::writer::StreamWriter::try_new(sink.clone(), &schema)?;
                Encoder::Arrow { writer: Some(writer), standard: !view_types }
            }
            OutputFormat::Parquet { view_types } => {
                let schema = if view_types { Arc::new(schema.clone()) } else { standard_schema(schema) };
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_max_row_group_row_count(Some(64 * 1024))
                    .set_compression(parquet::basic::Compression::SNAPPY)
                    .build();
                let writer = parquet::arrow::ArrowWriter::try_new(sink.clone(), schema, Some(props))
                    .map_err(|e| EngineError::internal(e.to_string()))?;
                Encoder::Parquet { writer: Some(writer), standard: !view_types }
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
            Encoder::Arrow { writer, standard } => {
                let batch = if *standard { standard_batch(batch)? } else { batch.clone() };
                writer.as_mut().expect("open until finish").write(&batch)?
            }
            Encoder::Parquet { writer, standard } => {
                let batch = if *standard { standard_batch(batch)? } else { batch.clone() };
                let w = writer.as_mut().expect("open until finish");
                w.write(&batch).map_err(|e| EngineError::internal(e.to_string()))?;
                // Hand on finished row groups; keep memory to about one row group.
                if w.in_progress_size() > 32 * 1024 * 1024 {
                    w.flush().map_err(|e| EngineError::internal(e.to_string()))?;
                }
            }
        }
        Ok(sink.take())
    }

    fn finish(&mut self, sink: &Shared) -> EngineResult<Bytes> {
        match self {
            Encoder::Json { .. } => return Ok(Bytes::from_static(b"]")),
            Encoder::Ndjson | Encoder::Csv(_) => {}
            Encoder::Arrow { writer, .. } => {
                if let Some(mut w) = writer.take() {
                    w.finish()?;
                }
            }
            Encoder::Parquet { writer, .. } => {
                if let Some(w) = writer.take() {
                    w.close().map_err(|e| EngineError::internal(e.to_string()))?;
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

/// Collects batches into JSON row objects (to name rows in a message, or for a surface
/// that shapes rows itself). Decimals are text holding their exact digits (`"3.00"`): a
/// `serde_json` number is a float and would round them.
pub fn to_json_rows(batches: &[RecordBatch]) -> EngineResult<Vec<serde_json::Value>> {
    let mut rows = Vec::new();
    for batch in batches {
        for line in json_lines(&decimals_as_text(batch)?)?.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            rows.push(serde_json::from_slice(line).map_err(|e| EngineError::internal(e.to_string()))?);
        }
    }
    Ok(rows)
}
