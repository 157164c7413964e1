//! CSV schema inference in one streaming pass: every column is read as text in batches,
//! and each batch narrows the column's candidate types (a vectorized cast that fails
//! rules a type out). The same pass counts rows and collects the distinct values of
//! columns with few of them, proposed as fixed domains. Memory stays bounded by the batch
//! size and the capped value sets, whatever the file's size.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::error::{EngineError, EngineResult, Input};
use crate::types::ColumnType;

/// Columns with at most this many distinct values are proposed as fixed domains...
pub const DOMAIN_MAX_VALUES: usize = 50;

#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    pub has_header: bool,
    pub delimiter: u8,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self { has_header: true, delimiter: b',' }
    }
}

#[derive(Debug, Clone)]
pub struct InferredColumn {
    pub name: String,
    pub column_type: ColumnType,
    /// Whether any row had no value.
    pub nullable: bool,
}

#[derive(Debug, Clone)]
pub struct Inferred {
    pub columns: Vec<InferredColumn>,
    /// Data rows (the header not counted).
    pub length: u64,
    /// String columns with few distinct values -> those values, sorted.
    pub domains: BTreeMap<String, Vec<String>>,
}

/// Candidate types, most specific first.
const CANDIDATES: [ColumnType; 5] =
    [ColumnType::Int64, ColumnType::Float64, ColumnType::Boolean, ColumnType::Date, ColumnType::Timestamp];

/// `IMPLIED_BY[i] == Some(j)`: every value of candidate `j` is also one of candidate `i`
/// (an int64 text is a float64 text; a date is a timestamp at midnight).
const IMPLIED_BY: [Option<usize>; CANDIDATES.len()] = [None, Some(0), None, None, Some(3)];

struct ColumnState {
    alive: [bool; CANDIDATES.len()],
    nullable: bool,
    any_value: bool,
    /// Distinct values while there are few; `None` once there are too many.
    distinct: Option<HashSet<String>>,
}

/// The file, positioned after a UTF-8 byte-order mark if it has one.
pub(crate) fn open_csv(path: &Path) -> EngineResult<BufReader<File>> {
    let mut file = File::open(path).map_err(|e| EngineError::internal(format!("cannot open the upload: {e}")))?;
    let mut bom = [0u8; 3];
    let n = file.read(&mut bom).map_err(|e| EngineError::internal(e.to_string()))?;
    let skip = if n == 3 && bom == *b"\xEF\xBB\xBF" { 3 } else { 0 };
    file.seek(SeekFrom::Start(skip)).map_err(|e| EngineError::internal(e.to_string()))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// The column names: the header's, or `column_1`, `column_2`, ... without one.
pub(crate) fn csv_header(path: &Path, opts: &CsvOptions) -> EngineResult<Vec<String>> {
    let (schema, _) = arrow::csv::reader::Format::default()
        .with_header(opts.has_header)
        .with_delimiter(opts.delimiter)
        .infer_schema(open_csv(path)?, Some(1))
        .map_err(|e| EngineError::invalid(Input::Rows, format!("cannot read the CSV header: {e}")))?;
    if schema.fields().is_empty() {
        return Err(EngineError::invalid(Input::Rows, "the file is empty"));
    }
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().trim().to_owned()).collect();
    let mut seen = HashSet::new();
    for name in &names {
        if name.is_empty() {
            return Err(EngineError::invalid(Input::Rows, "the header has an empty column name"));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(EngineError::invalid(Input::Rows, format!("the header names `{name}` twice")));
        }
    }
    Ok(names)
}

/// Turns arrow-csv's parse errors into a 400 naming the line.
pub(crate) fn csv_read_error(e: arrow::error::ArrowError) -> EngineError {
    let text = e.to_string();
    let text = text.split(". Row data").next().unwrap_or(&text).trim_start_matches("Parser error: ");
    let text = text.trim_start_matches("Csv error: ");
    EngineError::invalid(Input::Rows, format!("the CSV cannot be read: {text}"))
}

fn cast_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        other => other.arrow(),
    }
}

pub fn infer_csv(path: &Path, opts: &CsvOptions) -> EngineResult<Inferred> {
    let names = csv_header(path, opts)?;
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));
    let reader = arrow::csv::ReaderBuilder::new(schema)
        .with_header(opts.has_header)
        .with_delimiter(opts.delimiter)
        .with_batch_size(64 * 1024)
        .build(open_csv(path)?)
        .map_err(csv_read_error)?;
    let mut states: Vec<ColumnState> = names
        .iter()
        .map(|_| ColumnState {
            alive: [true; CANDIDATES.len()],
            nullable: false,
            any_value: false,
            distinct: Some(HashSet::new()),
        })
        .collect();
    let strict = CastOptions { safe: false, ..Default::default() };
    let mut length = 0u64;
    for batch in reader {
        let batch = batch.map_err(csv_read_error)?;
        length += batch.num_rows() as u64;
        for (state, column) in states.iter_mut().zip(batch.columns()) {
            let strings = column.as_string::<i32>();
            if strings.null_count() > 0 {
                state.nullable = true;
            }
            if strings.null_count() == strings.len() {
                continue;
            }
            state.any_value = true;
            for (i, candidate) in CANDIDATES.iter().enumerate() {
                // A value that fits a stricter type fits this one too: no need to look
                // while the stricter one still holds (it was tested first).
                if !state.alive[i] || IMPLIED_BY[i].is_some_and(|j| state.alive[j]) {
                    continue;
                }
                let fits = match candidate {
                    // Only the words, not 0/1 or yes/no, which read better as numbers or text.
                    ColumnType::Boolean => strings
                        .iter()
                        .flatten()
                        .all(|v| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false")),
                    // The cast would also take a timestamp, dropping its time of day.
                    ColumnType::Date => {
                        strings.iter().flatten().all(|v| v.len() == 10 && v.as_bytes()[4] == b'-')
                            && cast_with_options(column, &cast_type(*candidate), &strict).is_ok()
                    }
                    t => cast_with_options(column, &cast_type(*t), &strict).is_ok(),
                };
                state.alive[i] = fits;
            }
            if let Some(set) = &mut state.distinct {
                for v in strings.iter().flatten() {
                    if !set.contains(v) {
                        set.insert(v.to_owned());
                        if set.len() > DOMAIN_MAX_VALUES {
                            state.distinct = None;
                            break;
                        }
                    }
                }
            }
        }
    }
    let mut columns = Vec::with_capacity(names.len());
    let mut domains = BTreeMap::new();
    for (name, state) in names.into_iter().zip(states) {
        let column_type = if state.any_value {
            CANDIDATES.iter().zip(state.alive).find(|(_, alive)| *alive).map(|(t, _)| *t).unwrap_or(ColumnType::String)
        } else {
            ColumnType::String
        };
        if column_type == ColumnType::String
            && let Some(set) = state.distinct
            && !set.is_empty()
            && (set.len() as u64) * 2 <= length
        {
            let mut values: Vec<String> = set.into_iter().collect();
            values.sort();
            domains.insert(name.clone(), values);
        }
        columns.push(InferredColumn { name, column_type, nullable: state.nullable || !state.any_value });
    }
    Ok(Inferred { columns, length, domains })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(text: &str, opts: CsvOptions) -> EngineResult<Inferred> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, text).unwrap();
        infer_csv(&path, &opts)
    }

    fn types(i: &Inferred) -> Vec<(String, String, bool)> {
        i.columns.iter().map(|c| (c.name.clone(), c.column_type.to_string(), c.nullable)).collect()
    }

    #[test]
    fn types_narrow_over_every_row() {
        let text = "\u{feff}id,price,ok,day,at,code,mixed,empty\n\
                    1,1.5,true,2024-01-31,2024-01-31T10:00:00Z,A,1,\n\
                    2,2,FALSE,2024-02-01,2024-02-01 11:30:00,B,x,\n\
                    3,,true,2024-02-02,2024-02-02T00:00:00+01:00,A,2,\n\
                    4,4.25,false,2024-02-03,2024-02-03T00:00:00Z,A,3,\n";
        let i = infer(text, CsvOptions::default()).unwrap();
        let s = |a: &str, b: &str, c: bool| (a.to_owned(), b.to_owned(), c);
        assert_eq!(
            types(&i),
            [
                s("id", "int64", false),
                s("price", "float64", true),
                s("ok", "boolean", false),
                s("day", "date", false),
                s("at", "timestamp", false),
                s("code", "string", false),
                s("mixed", "string", false),
                s("empty", "string", true),
            ]
        );
        assert_eq!(i.length, 4);
        assert_eq!(i.domains, BTreeMap::from([("code".to_owned(), vec!["A".to_owned(), "B".to_owned()])]));
    }

    #[test]
    fn quoted_delimiters_and_newlines_stay_in_their_value() {
        let text = "name;note\n\"Smith; John\";\"line one\nline two\"\n\"O\"\"Brien\";x\n";
        let i = infer(text, CsvOptions { has_header: true, delimiter: b';' }).unwrap();
        assert_eq!(i.length, 2);
        assert_eq!(i.columns.len(), 2);
        let i = infer("1,a\n2,b\n", CsvOptions { has_header: false, delimiter: b',' }).unwrap();
        assert_eq!(types(&i)[0].0, "column_1");
        assert_eq!(i.length, 2);
    }

    #[test]
    fn unreadable_files_get_clear_errors() {
        let err = |text: &str| match infer(text, CsvOptions::default()).unwrap_err() {
            EngineError::Invalid { input, message } => (input, message),
            other => panic!("{other:?}"),
        };
        assert_eq!(err(""), (crate::error::Input::Rows, "the file is empty".to_owned()));
        let (field, message) = err("a,b\n1,2\n3\n");
        assert_eq!(field, crate::error::Input::Rows);
        assert!(message.contains("line") && message.contains("expected 2"), "{message}");
        assert_eq!(err("a,a\n1,2\n").1, "the header names `a` twice");
        let header_only = infer("a,b\n", CsvOptions::default()).unwrap();
        assert_eq!((header_only.length, header_only.columns[0].column_type), (0, ColumnType::String));
    }
}
