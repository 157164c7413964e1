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
    /// Distinct values while there are few; `None` once there are too many. Looked up
    /// once per value of such a column, so hashed with a fast hash.
    distinct: Option<ValueSet>,
}

type ValueSet = HashSet<String, foldhash::fast::RandomState>;

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

/// Files smaller than this are read in one part (threads would cost more than they save).
const PARALLEL_FROM_BYTES: u64 = 16 << 20;

/// The columns of the CSV file at `path`, read in as many parts at once as there are cores.
pub fn infer_csv(path: &Path, opts: &CsvOptions) -> EngineResult<Inferred> {
    let parts = std::thread::available_parallelism().map_or(1, |n| n.get());
    infer_in_parts(path, opts, parts, PARALLEL_FROM_BYTES)
}

fn infer_in_parts(path: &Path, opts: &CsvOptions, parts: usize, min_bytes: u64) -> EngineResult<Inferred> {
    let names = csv_header(path, opts)?;
    if let Some(starts) = record_starts(path, opts.delimiter, parts, min_bytes).ok().flatten() {
        let ends = starts.iter().skip(1).map(|&end| Some(end)).chain([None]);
        let parts: Vec<(u64, Option<u64>)> = starts.iter().copied().zip(ends).collect();
        let tallies: Vec<EngineResult<Tally>> = std::thread::scope(|scope| {
            let running: Vec<_> = parts
                .iter()
                .enumerate()
                .map(|(i, &(from, to))| {
                    let names = &names;
                    scope.spawn(move || Tally::of_part(path, opts, names, from, to, i == 0))
                })
                .collect();
            running
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|_| Err(EngineError::internal("inference failed"))))
                .collect()
        });
        // A part that cannot be read is read again in one pass, whose error names the line
        // from the start of the file.
        if let Ok(tallies) = tallies.into_iter().collect::<EngineResult<Vec<_>>>() {
            let whole = tallies.into_iter().reduce(Tally::merge).expect("at least one part");
            return Ok(whole.finish(names));
        }
    }
    let start = bom_length(path)?;
    Ok(Tally::of_part(path, opts, &names, start, None, true)?.finish(names))
}

fn bom_length(path: &Path) -> EngineResult<u64> {
    let mut reader = open_csv(path)?;
    reader.stream_position().map_err(|e| EngineError::internal(e.to_string()))
}

/// Where about `parts` equal parts of the file start, each at the start of a record: the
/// first after the byte-order mark, the others after a line end outside quotes. `None`
/// when the file is too small to split, or when its quoting is not RFC 4180's (a quote that
/// opens a value anywhere but at its start): then record ends cannot be told from quote
/// parity, and the file is read in one part.
fn record_starts(path: &Path, delimiter: u8, parts: usize, min_bytes: u64) -> std::io::Result<Option<Vec<u64>>> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let start = bom_length(path).map_err(|e| std::io::Error::other(e.to_string()))?;
    if parts < 2 || size < min_bytes.max(start + 1) {
        return Ok(None);
    }
    let targets: Vec<u64> = (1..parts as u64).map(|i| start + (size - start) * i / parts as u64).collect();
    let mut starts = vec![start];
    file.seek(SeekFrom::Start(start))?;
    let mut buffer = vec![0u8; 4 << 20];
    let (mut offset, mut before_chunk, mut in_quotes, mut last_close) = (start, b'\n', false, None::<u64>);
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(None);
        }
        let chunk = &buffer[..n];
        for k in memchr::memchr2_iter(b'"', b'\n', chunk) {
            let at = offset + k as u64;
            if chunk[k] == b'"' {
                if in_quotes {
                    in_quotes = false;
                    last_close = Some(at);
                } else {
                    let before = if k > 0 { chunk[k - 1] } else { before_chunk };
                    // `""` inside a quoted value closes and opens it again.
                    let escaped = last_close == Some(at.wrapping_sub(1));
                    if !(escaped || before == delimiter || before == b'\n' || before == b'\r') {
                        return Ok(None);
                    }
                    in_quotes = true;
                }
            } else if !in_quotes && at + 1 >= targets[starts.len() - 1] {
                starts.push(at + 1);
                if starts.len() == parts {
                    // A part of nothing (the file ends at this line end) is no part.
                    starts.retain(|&s| s < size);
                    return Ok(Some(starts));
                }
            }
        }
        before_chunk = chunk[n - 1];
        offset += n as u64;
    }
}

/// What a pass has learnt of every column so far.
struct Tally {
    states: Vec<ColumnState>,
    length: u64,
}

impl Tally {
    /// The tally of the records from byte `from` to `to` (the file's end if `None`);
    /// `first` when the part holds the header.
    fn of_part(
        path: &Path,
        opts: &CsvOptions,
        names: &[String],
        from: u64,
        to: Option<u64>,
        first: bool,
    ) -> EngineResult<Self> {
        let schema =
            Arc::new(Schema::new(names.iter().map(|n| Field::new(n, DataType::Utf8, true)).collect::<Vec<_>>()));
        let mut file = File::open(path).map_err(|e| EngineError::internal(format!("cannot open the upload: {e}")))?;
        file.seek(SeekFrom::Start(from)).map_err(|e| EngineError::internal(e.to_string()))?;
        let part = BufReader::with_capacity(1 << 20, file.take(to.map_or(u64::MAX, |to| to - from)));
        let reader = arrow::csv::ReaderBuilder::new(schema)
            .with_header(opts.has_header && first)
            .with_delimiter(opts.delimiter)
            .with_batch_size(64 * 1024)
            .build(part)
            .map_err(csv_read_error)?;
        let mut tally = Tally {
            states: names
                .iter()
                .map(|_| ColumnState {
                    alive: [true; CANDIDATES.len()],
                    nullable: false,
                    any_value: false,
                    distinct: Some(ValueSet::default()),
                })
                .collect(),
            length: 0,
        };
        for batch in reader {
            tally.add(&batch.map_err(csv_read_error)?);
        }
        Ok(tally)
    }

    fn add(&mut self, batch: &arrow::record_batch::RecordBatch) {
        let strict = CastOptions { safe: false, ..Default::default() };
        self.length += batch.num_rows() as u64;
        for (state, column) in self.states.iter_mut().zip(batch.columns()) {
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

    /// The tally of two parts read apart. A candidate type skipped in a part (a stricter
    /// one held) was held by every value there, so candidates merge by "and".
    fn merge(mut self, other: Tally) -> Tally {
        self.length += other.length;
        for (mine, theirs) in self.states.iter_mut().zip(other.states) {
            for (a, b) in mine.alive.iter_mut().zip(theirs.alive) {
                *a &= b;
            }
            mine.nullable |= theirs.nullable;
            mine.any_value |= theirs.any_value;
            mine.distinct = match (mine.distinct.take(), theirs.distinct) {
                (Some(mut a), Some(b)) => {
                    a.extend(b);
                    (a.len() <= DOMAIN_MAX_VALUES).then_some(a)
                }
                _ => None,
            };
        }
        self
    }

    fn finish(self, names: Vec<String>) -> Inferred {
        let length = self.length;
        let mut columns = Vec::with_capacity(names.len());
        let mut domains = BTreeMap::new();
        for (name, state) in names.into_iter().zip(self.states) {
            let column_type = if state.any_value {
                CANDIDATES
                    .iter()
                    .zip(state.alive)
                    .find(|(_, alive)| *alive)
                    .map(|(t, _)| *t)
                    .unwrap_or(ColumnType::String)
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
        Inferred { columns, length, domains }
    }
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

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn parts_start_at_records_outside_quotes() {
        let text = "a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\n\"\n3,z\n4,w\n";
        let (_dir, path) = write(text);
        let starts = record_starts(&path, b',', 4, 0).unwrap().unwrap();
        let records: Vec<&str> = starts.iter().map(|&s| &text[s as usize..]).collect();
        // Every part starts where a record does: never inside the quoted line breaks.
        for record in &records[1..] {
            assert!(["2,", "3,", "4,"].iter().any(|r| record.starts_with(r)), "{record:?}");
        }
        assert_eq!(starts[0], 0);
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    }

    #[test]
    fn quotes_that_do_not_open_a_value_leave_the_file_in_one_part() {
        let (_dir, path) = write("a,b\n1,x\"y\n2,\"z\"\n3,w\n4,v\n");
        assert_eq!(record_starts(&path, b',', 2, 0).unwrap(), None);
        let (_dir, path) = write("\u{feff}a;b\n1;\"y\"\n2;z\n3;w\n4;v\n");
        assert_eq!(record_starts(&path, b';', 2, 0).unwrap().unwrap()[0], 3, "after the byte-order mark");
    }

    #[test]
    fn parts_read_apart_infer_what_one_pass_infers() {
        let mut text = String::from("id,price,flag,day,code,note\n");
        for i in 0..3000 {
            let price = if i == 2500 { "n/a".to_owned() } else { format!("{}.5", i) };
            let flag = if i % 2 == 0 { "true" } else { "false" };
            let code = ["A", "B", "C"][i % 3];
            let note = if i == 10 {
                "\"two\nlines, \"\"quoted\"\"\"".to_owned()
            } else if i == 1500 {
                String::new()
            } else {
                format!("n{i}")
            };
            text.push_str(&format!("{i},{price},{flag},2024-01-{:02},{code},{note}\n", i % 28 + 1));
        }
        let (_dir, path) = write(&text);
        let whole = infer_in_parts(&path, &CsvOptions::default(), 1, 0).unwrap();
        for parts in [2, 3, 7] {
            assert!(record_starts(&path, b',', parts, 0).unwrap().unwrap().len() == parts);
            let split = infer_in_parts(&path, &CsvOptions::default(), parts, 0).unwrap();
            assert_eq!(types(&split), types(&whole), "{parts} parts");
            assert_eq!((split.length, &split.domains), (whole.length, &whole.domains), "{parts} parts");
        }
        assert_eq!(whole.length, 3000);
        let s = |a: &str, b: &str, c: bool| (a.to_owned(), b.to_owned(), c);
        assert_eq!(
            types(&whole),
            [
                s("id", "int64", false),
                s("price", "string", false),
                s("flag", "boolean", false),
                s("day", "date", false),
                s("code", "string", false),
                s("note", "string", true)
            ]
        );
        assert_eq!(whole.domains["code"], ["A", "B", "C"]);
    }

    #[test]
    fn a_part_that_cannot_be_read_is_reported_from_the_whole_file() {
        let mut text = String::from("a,b\n");
        for i in 0..400 {
            text.push_str(&format!("{i},x\n"));
        }
        text.push_str("401,x,extra\n");
        let (_dir, path) = write(&text);
        let split = infer_in_parts(&path, &CsvOptions::default(), 2, 0).unwrap_err().to_string();
        let whole = infer_in_parts(&path, &CsvOptions::default(), 1, 0).unwrap_err().to_string();
        assert_eq!(split, whole);
        assert!(whole.contains("line 402") || whole.contains("402"), "{whole}");
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
