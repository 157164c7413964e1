//! Which columns of a table are dictionary-encoded in Parquet.
//!
//! A dictionary pays for columns with few distinct values (countries, segments) and costs
//! for columns where nearly every value is new (ids, names, e-mail addresses, amounts):
//! the writer interns every value, only to write a dictionary as large as the data.
//! Rewriting one 110k-row file to delete a row spent about 45 % of its time there, and
//! a 5M-row import about a quarter. So each table's columns are judged once, from a
//! sample of its rows, and the ones with mostly distinct values are written plain by the
//! writes that rewrite files (update, delete, upsert); an import or a large insert judges
//! by its own first batch.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use deltalake::DeltaTable;
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use url::Url;

use super::writer_properties_builder;
use crate::error::EngineResult;
use crate::state::EngineState;
use crate::{read, table};

/// Rows sampled per table: one row group of the files we write.
const SAMPLE_ROWS: usize = 16 * 1024;
/// A column whose sampled non-null values are more than this share distinct is written
/// without a dictionary.
const MAX_DISTINCT_SHARE: f64 = 0.5;

#[derive(Default)]
pub(crate) struct Encodings {
    tables: Mutex<HashMap<String, Judgement>>,
}

struct Judgement {
    /// The columns judged; a schema change asks for a new judgement.
    columns: Vec<String>,
    /// Those written without a dictionary.
    plain: Vec<String>,
}

/// Writer properties for data like `sample`: the defaults when it is smaller than a
/// sample (too few rows to judge by, and a small file either way).
pub(crate) fn judged_by(sample: &RecordBatch) -> WriterProperties {
    if sample.num_rows() < SAMPLE_ROWS {
        return writer_properties_builder().build();
    }
    match mostly_distinct(sample) {
        Ok(plain) => without_dictionary(plain),
        Err(e) => {
            tracing::warn!(error = %e, "could not judge column encodings");
            writer_properties_builder().build()
        }
    }
}

/// Writer properties that write `plain` columns without a dictionary.
fn without_dictionary(plain: Vec<String>) -> WriterProperties {
    plain
        .into_iter()
        .fold(writer_properties_builder(), |b, c| b.set_column_dictionary_enabled(ColumnPath::from(c), false))
        .build()
}

/// The columns of `sample` (its first [`SAMPLE_ROWS`] rows) whose values are mostly
/// distinct. Booleans are never dictionary-encoded, so they are not judged.
fn mostly_distinct(sample: &RecordBatch) -> EngineResult<Vec<String>> {
    let sample = sample.slice(0, sample.num_rows().min(SAMPLE_ROWS));
    let mut plain = Vec::new();
    for (field, column) in sample.schema().fields().iter().zip(sample.columns()) {
        if field.data_type() != &DataType::Boolean
            && distinct_share(column)?.is_some_and(|share| share > MAX_DISTINCT_SHARE)
        {
            plain.push(field.name().clone());
        }
    }
    Ok(plain)
}

/// Distinct values over non-null values; `None` for a column of nulls.
fn distinct_share(array: &ArrayRef) -> EngineResult<Option<f64>> {
    let converter = RowConverter::new(vec![SortField::new(array.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(array))?;
    let mut seen = HashSet::new();
    let mut non_null = 0usize;
    for i in (0..array.len()).filter(|&i| array.is_valid(i)) {
        non_null += 1;
        seen.insert(rows.row(i));
    }
    Ok((non_null > 0).then(|| seen.len() as f64 / non_null as f64))
}

impl Encodings {
    /// Writer properties for rewriting files of `delta`. Tables smaller than the sample
    /// get the defaults: their files are small, and they have too few rows to judge by.
    pub async fn writer_properties(
        &self,
        engine: &EngineState,
        location: &Url,
        delta: &DeltaTable,
    ) -> WriterProperties {
        match self.plain_columns(engine, location, delta).await {
            Ok(plain) => without_dictionary(plain),
            Err(e) => {
                tracing::warn!(table = %location, error = %e, "could not judge column encodings");
                writer_properties_builder().build()
            }
        }
    }

    pub fn forget(&self, location: &Url) {
        self.tables.lock().expect("not poisoned").remove(location.as_str());
    }

    async fn plain_columns(
        &self,
        engine: &EngineState,
        location: &Url,
        delta: &DeltaTable,
    ) -> EngineResult<Vec<String>> {
        let columns: Vec<String> = table::arrow_schema(delta)?.fields().iter().map(|f| f.name().clone()).collect();
        if let Some(known) = self.tables.lock().expect("not poisoned").get(location.as_str())
            && known.columns == columns
        {
            return Ok(known.plain.clone());
        }
        let rows: u64 = delta.snapshot()?.log_data().iter().map(|f| f.num_records().unwrap_or(0) as u64).sum();
        if rows < SAMPLE_ROWS as u64 {
            return Ok(Vec::new());
        }
        let ctx = engine.session();
        read::register(&ctx, delta).await?;
        let sample = ctx.table(read::SELF).await?.limit(0, Some(SAMPLE_ROWS))?.collect().await?;
        let plain = match sample.first() {
            Some(first) => mostly_distinct(&arrow::compute::concat_batches(&first.schema(), &sample)?)?,
            None => Vec::new(),
        };
        self.tables
            .lock()
            .expect("not poisoned")
            .insert(location.to_string(), Judgement { columns, plain: plain.clone() });
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{BinaryArray, Float64Array, Int64Array, StringArray, StringViewArray};

    use super::*;

    #[test]
    fn distinct_share_counts_non_null_values() {
        let few: ArrayRef = Arc::new(StringArray::from(vec![Some("DE"), Some("FR"), Some("DE"), None, Some("DE")]));
        assert_eq!(distinct_share(&few).unwrap(), Some(0.5));
        let unique: ArrayRef = Arc::new(StringViewArray::from(vec!["a@x", "b@x", "c@x"]));
        assert_eq!(distinct_share(&unique).unwrap(), Some(1.0));
        let blobs: ArrayRef = Arc::new(BinaryArray::from(vec![Some(&b"\x00"[..]), None]));
        assert_eq!(distinct_share(&blobs).unwrap(), Some(1.0));
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(3)]));
        assert_eq!(distinct_share(&ids).unwrap(), Some(1.0));
        let amounts: ArrayRef = Arc::new(Float64Array::from(vec![2.5, 2.5, 2.5, 1.0]));
        assert_eq!(distinct_share(&amounts).unwrap(), Some(0.5));
        let nulls: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>, None]));
        assert_eq!(distinct_share(&nulls).unwrap(), None);
    }

    fn engine() -> crate::Engine {
        crate::Engine::new(crate::EngineLimits {
            query_timeout: std::time::Duration::from_secs(60),
            memory_limit_bytes: 1 << 30,
        })
        .unwrap()
    }

    fn actor() -> crate::commit::Actor {
        crate::commit::Actor { user_id: "u1".into(), user_name: "ada@example.com".into() }
    }

    /// A table `id int64, email string, country string` at `t` in `dir`.
    async fn create_table(engine: &crate::Engine, dir: &std::path::Path) -> url::Url {
        use lakeward_model::Ident;

        use crate::table::{ColumnSpec, TableSpec};
        use crate::types::ColumnType;

        let location = url::Url::from_directory_path(dir.join("t")).unwrap();
        let column = |name: &str, column_type| ColumnSpec {
            name: Ident::new(name).unwrap(),
            column_type,
            nullable: true,
            comment: None,
        };
        let spec = TableSpec {
            columns: vec![
                column("id", ColumnType::Int64),
                column("email", ColumnType::String),
                column("country", ColumnType::String),
            ],
            ..Default::default()
        };
        let op = crate::ops::table::CreateTable { location: location.clone(), name: "t".into(), spec, actor: actor() };
        engine.run(op).await.unwrap();
        location
    }

    /// `rows` rows for [`create_table`]'s table: unique ids and e-mails, three countries.
    fn csv(rows: usize) -> String {
        let mut csv = String::from("id,email,country\n");
        for i in 0..rows {
            csv.push_str(&format!("{i},user{i}@example.com,{}\n", ["DE", "FR", "IT"][i % 3]));
        }
        csv
    }

    /// Each column of the table's one data file, and whether its first row group has a
    /// dictionary.
    async fn dictionaries(location: &url::Url) -> Vec<(String, bool)> {
        let table = crate::table::open(&Default::default(), location, crate::table::TimeTravel::Latest).await.unwrap();
        let files: Vec<String> = table.snapshot().unwrap().log_data().iter().map(|f| f.path().to_string()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let file = std::fs::File::open(location.to_file_path().unwrap().join(&files[0])).unwrap();
        let reader = deltalake::parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let row_group = deltalake::parquet::file::reader::FileReader::metadata(&reader).row_group(0).clone();
        row_group.columns().iter().map(|c| (c.column_path().string(), c.dictionary_page_offset().is_some())).collect()
    }

    fn judged() -> Vec<(String, bool)> {
        vec![("id".to_owned(), false), ("email".to_owned(), false), ("country".to_owned(), true)]
    }

    /// After a delete rewrote a file, the unique columns are written plain and the
    /// repetitive one still with a dictionary.
    #[tokio::test]
    async fn rewrites_write_unique_columns_without_a_dictionary() {
        use lakeward_model::query::{CmpOp, Filter};

        use crate::ops::rows::{DeleteRows, Insert};
        use crate::write::WriteRequest;
        use crate::write::input::InputFormat;

        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        let location = create_table(&engine, dir.path()).await;
        let request = WriteRequest { actor: actor(), idempotency_key: None, return_rows: false };
        let insert = Insert {
            location: location.clone(),
            format: InputFormat::Csv,
            body: csv(20_000).into(),
            request: request.clone(),
        };
        engine.run(insert).await.unwrap();
        let filter = Filter::Cmp { column: "id".into(), op: CmpOp::Eq, value: "7".into() };
        let deleted =
            engine.run(DeleteRows { location: location.clone(), filter: Some(filter), request }).await.unwrap();
        assert_eq!(deleted.rows, 1);
        assert_eq!(dictionaries(&location).await, judged(), "the delete rewrote the one file");
    }

    /// Imports and inserts judge by their own (largest) batch; data too small to judge by
    /// keeps the defaults.
    #[tokio::test]
    async fn imports_and_inserts_write_unique_columns_without_a_dictionary() {
        use crate::import::ImportFormat;
        use crate::import::infer::CsvOptions;
        use crate::ops::import::Import;
        use crate::ops::rows::Insert;
        use crate::write::WriteRequest;
        use crate::write::input::InputFormat;

        let engine = engine();
        let request = WriteRequest { actor: actor(), idempotency_key: None, return_rows: false };
        for (rows, expected) in [
            (20_000, judged()),
            (100, vec![("id".to_owned(), true), ("email".to_owned(), true), ("country".to_owned(), true)]),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let location = create_table(&engine, dir.path()).await;
            let file = dir.path().join("upload.csv");
            std::fs::write(&file, csv(rows)).unwrap();
            let format = ImportFormat::Csv(CsvOptions::default());
            let import = Import {
                location: location.clone(),
                path: file,
                format,
                request: request.clone(),
                progress: Default::default(),
            };
            let imported = engine.run(import).await.unwrap();
            assert_eq!((imported.version, imported.rows), (Some(1), rows as u64));
            assert_eq!(dictionaries(&location).await, expected, "{rows} rows imported");

            let dir = tempfile::tempdir().unwrap();
            let location = create_table(&engine, dir.path()).await;
            let insert = Insert {
                location: location.clone(),
                format: InputFormat::Csv,
                body: csv(rows).into(),
                request: request.clone(),
            };
            let inserted = engine.run(insert).await.unwrap();
            assert_eq!((inserted.version, inserted.rows), (Some(1), rows as u64));
            assert_eq!(dictionaries(&location).await, expected, "{rows} rows inserted");
        }
    }
}
