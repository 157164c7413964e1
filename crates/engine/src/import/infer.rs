//! CSV schema inference in one streaming pass (in parts read at once on every core):
//! every value narrows its column's candidate types (a type whose parser refuses it is
//! ruled out), read record by record without building arrays. The same pass counts rows and collects the distinct values of
//! columns with few of them, proposed as fixed domains. Memory stays bounded by the batch
//! size and the capped value sets, whatever the file's size.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use arrow::compute::kernels::cast_utils::{Parser, string_to_datetime};
use arrow::datatypes::{ArrowTimestampType, Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
use chrono::Utc;

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

impl ColumnState {
    /// Narrows the candidates by one value (`""` is no value, as arrow-csv reads it).
    fn add(&mut self, value: &str) {
        if value.is_empty() {
            self.nullable = true;
            return;
        }
        self.any_value = true;
        for (i, candidate) in CANDIDATES.iter().enumerate() {
            // A value that fits a stricter type fits this one too: no need to look while
            // the stricter one still holds (it was tested first).
            if self.alive[i] && !IMPLIED_BY[i].is_some_and(|j| self.alive[j]) {
                self.alive[i] = fits(*candidate, value);
            }
        }
        if let Some(set) = &mut self.distinct
            && !set.contains(value)
        {
            set.insert(value.to_owned());
            if set.len() > DOMAIN_MAX_VALUES {
                self.distinct = None;
            }
        }
    }
}

/// Whether `value` reads as `candidate`: exactly when arrow's strict cast of the text
/// (the import's own reading) accepts it, asked of arrow's parsers one value at a time
/// rather than of whole cast arrays.
fn fits(candidate: ColumnType, value: &str) -> bool {
    match candidate {
        ColumnType::Int64 => Int64Type::parse(value).is_some(),
        ColumnType::Float64 => Float64Type::parse(value).is_some(),
        // Only the words, not 0/1 or yes/no, which read better as numbers or text.
        ColumnType::Boolean => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        // The cast would also take a timestamp, dropping its time of day.
        ColumnType::Date => value.len() == 10 && value.as_bytes()[4] == b'-' && Date32Type::parse(value).is_some(),
        ColumnType::Timestamp => string_to_datetime(&Utc, value)
            .is_ok_and(|at| TimestampMicrosecondType::from_naive_datetime(at.naive_utc(), None).is_some()),
        _ => false,
    }
}

/// The records of a CSV text one at a time, split by csv-core configured as arrow-csv
/// configures it (so records, quoting and line numbers are the import's), without
/// building arrays of them.
struct Records {
    reader: csv_core::Reader,
    columns: usize,
    /// The current record's unquoted bytes and where each of its fields ends.
    data: Vec<u8>,
    ends: Vec<usize>,
    fields: usize,
    /// The current record's line number as arrow-csv counts it (one per record).
    line: usize,
    /// Whether the last record was ended by the end of the text, not by a line break.
    ended_by_the_text: bool,
}

impl Records {
    fn new(delimiter: u8, columns: usize) -> Self {
        Self {
            reader: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            columns,
            data: vec![0; 4096],
            ends: vec![0; columns + 1],
            fields: 0,
            line: 0,
            ended_by_the_text: false,
        }
    }

    /// Reads the next record; `false` at the end of the text. A record with another number
    /// of fields than the header fails with arrow-csv's message.
    fn next(&mut self, input: &mut impl BufRead) -> EngineResult<bool> {
        use csv_core::ReadRecordResult::*;
        let read_error = |e: std::io::Error| EngineError::internal(format!("cannot read the upload: {e}"));
        let (mut written, mut fields) = (0, 0);
        self.line += 1;
        loop {
            let chunk = input.fill_buf().map_err(read_error)?;
            let at_the_end = chunk.is_empty();
            let (result, read, out, ends) =
                self.reader.read_record(chunk, &mut self.data[written..], &mut self.ends[fields..]);
            input.consume(read);
            written += out;
            fields += ends;
            match result {
                InputEmpty => {}
                OutputFull => self.data.resize(self.data.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                End => return Ok(false),
                Record => {
                    self.ended_by_the_text = at_the_end;
                    break;
                }
            }
        }
        self.fields = fields;
        if fields != self.columns {
            return Err(csv_error(&format!(
                "incorrect number of fields for line {}, expected {} got {fields}",
                self.line, self.columns
            )));
        }
        Ok(true)
    }

    /// The fields of the record just read.
    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let ends = &self.ends[..self.fields];
        let starts = std::iter::once(0).chain(ends.iter().copied());
        starts.zip(ends).map(|(start, &end)| &self.data[start..end])
    }
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
    csv_error(text.trim_start_matches("Csv error: "))
}

fn csv_error(text: &str) -> EngineError {
    EngineError::invalid(Input::Rows, format!("the CSV cannot be read: {text}"))
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
    if let Some(starts) = line_starts(path, parts, min_bytes).ok().flatten() {
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
        // Every part but the last must have ended where a record does: then each started
        // at a record too (the first does, and each begins where the one before ended). A
        // part that ended inside a quoted value, or cannot be read, sends the file to one
        // pass, whose answer (or error, naming the line from the start) is then exact.
        if let Ok(tallies) = tallies.into_iter().collect::<EngineResult<Vec<_>>>()
            && tallies.iter().rev().skip(1).all(|t| t.ends_at_a_record)
        {
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

/// Where about `parts` equal parts of the file start: the first after the byte-order mark,
/// the others after the first line break past an equal share of the file. A line break
/// may lie inside a quoted value; the parts' reading tells (see `infer_in_parts`). `None`
/// when the file is too small to split.
fn line_starts(path: &Path, parts: usize, min_bytes: u64) -> std::io::Result<Option<Vec<u64>>> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let start = bom_length(path).map_err(|e| std::io::Error::other(e.to_string()))?;
    if parts < 2 || size < min_bytes.max(start + 1) {
        return Ok(None);
    }
    let mut starts = vec![start];
    let mut buffer = vec![0u8; 64 << 10];
    for i in 1..parts as u64 {
        let mut at = (start + (size - start) * i / parts as u64).max(*starts.last().expect("one start"));
        file.seek(SeekFrom::Start(at))?;
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                return Ok((starts.len() > 1).then_some(starts));
            }
            if let Some(k) = memchr::memchr(b'\n', &buffer[..n]) {
                at += k as u64 + 1;
                break;
            }
            at += n as u64;
        }
        if at >= size {
            break;
        }
        starts.push(at);
    }
    Ok((starts.len() > 1).then_some(starts))
}

/// What a pass has learnt of every column so far.
struct Tally {
    states: Vec<ColumnState>,
    length: u64,
    /// Whether the text ended where a record does (not inside a quoted value).
    ends_at_a_record: bool,
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
        let mut file = File::open(path).map_err(|e| EngineError::internal(format!("cannot open the upload: {e}")))?;
        file.seek(SeekFrom::Start(from)).map_err(|e| EngineError::internal(e.to_string()))?;
        let mut part = BufReader::with_capacity(1 << 20, file.take(to.map_or(u64::MAX, |to| to - from)));
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
            ends_at_a_record: true,
        };
        let mut records = Records::new(opts.delimiter, names.len());
        let mut skip_header = opts.has_header && first;
        while records.next(&mut part)? {
            if std::mem::take(&mut skip_header) {
                continue;
            }
            tally.length += 1;
            for (field, (state, value)) in tally.states.iter_mut().zip(records.fields()).enumerate() {
                let value = std::str::from_utf8(value).map_err(|_| {
                    let line = records.line;
                    csv_error(&format!("Encountered invalid UTF-8 data for line {line} and field {}", field + 1))
                })?;
                state.add(value);
            }
        }
        tally.ends_at_a_record = !records.ended_by_the_text;
        Ok(tally)
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
    fn parts_start_after_line_breaks() {
        let text = "a,b\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\n\"\n3,z\n4,w\n";
        let (_dir, path) = write(text);
        let starts = line_starts(&path, 4, 0).unwrap().unwrap();
        assert_eq!(starts[0], 0);
        assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
        assert!(starts[1..].iter().all(|&s| text.as_bytes()[s as usize - 1] == b'\n'), "{starts:?}");
        let (_dir, path) = write("\u{feff}a;b\n1;\"y\"\n2;z\n3;w\n4;v\n");
        assert_eq!(line_starts(&path, 2, 0).unwrap().unwrap()[0], 3, "after the byte-order mark");
        let (_dir, path) = write("a,b,c,d,e,f,g,h\n");
        assert_eq!(line_starts(&path, 2, 0).unwrap(), None, "no line break to split at");
    }

    /// A part that ends at a line break inside a quoted value says so, and the file is then
    /// read in one pass with the same answer.
    #[test]
    fn a_part_ending_inside_a_quoted_value_is_told_and_read_again_whole() {
        let text = "id,note\n1,\"one\ntwo\"\n2,x\n";
        let (_dir, path) = write(text);
        let names = ["id".to_owned(), "note".to_owned()];
        let inside = text.find("two").unwrap() as u64;
        let opts = CsvOptions::default();
        let head = Tally::of_part(&path, &opts, &names, 0, Some(inside), true).unwrap();
        assert!(!head.ends_at_a_record);
        let at_record = text.find("2,x").unwrap() as u64;
        assert!(Tally::of_part(&path, &opts, &names, 0, Some(at_record), true).unwrap().ends_at_a_record);
        // Quoted line breaks on most lines: many parts start inside values.
        let mut text = String::from("id,note,n\n");
        for i in 0..2000 {
            text.push_str(&format!("{i},\"a\n\"\"b\"\",\nc\",{}\n", i % 7));
        }
        let (_dir, path) = write(&text);
        let whole = infer_in_parts(&path, &opts, 1, 0).unwrap();
        assert_eq!(whole.length, 2000);
        for parts in [2, 3, 5, 8] {
            let split = infer_in_parts(&path, &opts, parts, 0).unwrap();
            assert_eq!((types(&split), split.length, &split.domains), (types(&whole), 2000, &whole.domains));
        }
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
            assert!(line_starts(&path, parts, 0).unwrap().unwrap().len() == parts);
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

    /// The candidate types accept exactly the texts arrow's strict cast accepts, which is
    /// what the import reads them with.
    #[test]
    fn candidates_accept_what_the_cast_accepts() {
        use arrow::array::StringArray;
        use arrow::compute::{CastOptions, cast_with_options};
        use arrow::datatypes::{DataType, TimeUnit};
        let strict = CastOptions { safe: false, ..Default::default() };
        let values = [
            "1",
            "-7",
            "+3",
            " 1",
            "1 ",
            "007",
            "9223372036854775807",
            "9223372036854775808",
            "1.5",
            "1.",
            ".5",
            "1e5",
            "-1E-3",
            "inf",
            "-Infinity",
            "NaN",
            "nan",
            "0x10",
            "1_000",
            "1,5",
            "true",
            "FALSE",
            "yes",
            "0",
            "2024-01-31",
            "2024-1-5",
            "2024-02-30",
            "2024-01-31T10:00:00Z",
            "2024-01-31 10:00:00",
            "2024-01-31T10:00",
            "2024-01-31T10:00:00+01:00",
            "2024-01-31T10:00:00.123456789Z",
            "99999-01-01",
            "+2024-01-31",
            "10:00:00",
            "2024/01/31",
            "1970-01-01T00:00:00",
            "abc",
            "∞",
        ];
        for candidate in CANDIDATES {
            let to = match candidate {
                ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                other => other.arrow(),
            };
            for value in values {
                let cast = cast_with_options(&StringArray::from(vec![value]), &to, &strict).is_ok();
                let expected = match candidate {
                    ColumnType::Boolean => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
                    ColumnType::Date => cast && value.len() == 10,
                    _ => cast,
                };
                assert_eq!(fits(candidate, value), expected, "{value:?} as {candidate}");
            }
        }
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
        assert_eq!(message, "the CSV cannot be read: incorrect number of fields for line 3, expected 2 got 1");
        assert_eq!(
            err("a,b\n1,\"2\n\"\n3,4,5\n").1,
            "the CSV cannot be read: incorrect number of fields for line 3, expected 2 got 3"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        std::fs::write(&path, b"a,b\n1,2\n3,x\xffy\n").unwrap();
        assert_eq!(
            infer_csv(&path, &CsvOptions::default()).unwrap_err().to_string(),
            "the CSV cannot be read: Encountered invalid UTF-8 data for line 3 and field 2"
        );
        assert_eq!(err("a,a\n1,2\n").1, "the header names `a` twice");
        let header_only = infer("a,b\n", CsvOptions::default()).unwrap();
        assert_eq!((header_only.length, header_only.columns[0].column_type), (0, ColumnType::String));
    }
}
