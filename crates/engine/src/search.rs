//! Search: the rows whose string cells contain a term or come within a few typos of it,
//! best first.
//!
//! Each row gets the score of its best string cell (case-insensitive):
//! - a cell containing the term scores `1 + len(term) / len(cell)`, in (1, 2]: a cell that
//!   is exactly the term scores 2, one that merely contains it less the longer it is;
//! - otherwise a cell whose text, or some run of as many words as the term has, is within
//!   the term's typo bound scores `1 - edits / (len(term) + 1)`, in (0, 1). Edits are
//!   Damerau-Levenshtein (optimal string alignment: insert, delete, substitute, swap two
//!   neighbours, so `Aad` is one edit from `Ada`). The bound grows with the term: one edit
//!   for 3 to 6 characters, two for 7 to 10, three from 11; terms under three characters
//!   only match as substrings, since one typo in two letters matches nearly anything;
//! - other rows do not match.
//!
//! Rows are ordered by score, ties by the primary key (or every column, for a table
//! without one). The score is a UDF over the batch's string columns and the order a top-k
//! sort with the limit, so memory stays bounded by the limit whatever the table's size.

use std::sync::Arc;

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray, BooleanArray, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Schema};
use datafusion::common::{Result as DfResult, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use url::Url;

use crate::error::{EngineError, EngineResult};
use crate::output::{self, ByteStream, OutputFormat};
use crate::read::{self, column};
use crate::table::{self, TimeTravel};
use crate::types::ColumnType;

/// The rows found, encoded, and what the JSON answer says about them.
pub struct SearchOutput {
    pub body: ByteStream,
    /// The table's description.
    pub description: Option<String>,
    /// Name and type of each column.
    pub columns: Vec<(String, String)>,
    /// Rows in `body`.
    pub rows: u64,
    /// More rows matched than the limit let through.
    pub limit_reached: bool,
}

const SCORE: &str = "__lakeward_search_score";

pub(crate) async fn search(
    engine: &crate::state::EngineState,
    location: &Url,
    at: TimeTravel,
    term: &str,
    limit: u64,
    format: OutputFormat,
) -> EngineResult<SearchOutput> {
    if term.trim().is_empty() {
        return Err(EngineError::invalid("term", "must not be empty"));
    }
    let delta = engine.open(location, at).await?;
    let schema = table::arrow_schema(&delta)?;
    let strings: Vec<Expr> = schema
        .fields()
        .iter()
        .filter(|f| matches!(f.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
        .map(|f| column(f.name()))
        .collect();
    if strings.is_empty() {
        return Err(EngineError::invalid("term", "the table has no string columns to search"));
    }
    let ctx = engine.session();
    read::register(&ctx, &delta).await?;
    let score = ScalarUDF::new_from_impl(SearchScore::new(term)).call(strings);
    let keys = table::primary_key(&delta)?;
    let ties: Vec<&str> = if keys.is_empty() {
        schema.fields().iter().map(|f| f.name().as_str()).collect()
    } else {
        keys.iter().map(String::as_str).collect()
    };
    let mut order = vec![column(SCORE).sort(false, false)];
    order.extend(ties.iter().map(|c| column(c).sort(true, false)));
    let mut selected: Vec<Expr> = schema.fields().iter().map(|f| column(f.name())).collect();
    selected.push(score.alias(SCORE));
    // One row past the limit tells whether the limit cut the matches short. Rows that do
    // not match score 0 and sort last; they are dropped below rather than filtered in the
    // plan, where the filter would be pushed below the projection and score every row twice.
    let df = ctx.table(read::SELF).await?.select(selected)?.sort(order)?.limit(0, Some(limit as usize + 1))?;
    let scored_schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let mut found = Vec::with_capacity(batches.len());
    let mut rows = 0u64;
    let mut matched = 0u64;
    for batch in batches {
        let batch = matching(&batch)?;
        matched += batch.num_rows() as u64;
        let keep = (limit - rows).min(batch.num_rows() as u64) as usize;
        if keep > 0 {
            rows += keep as u64;
            found.push(batch.slice(0, keep));
        }
    }
    let output_schema = Arc::new(without_score(&scored_schema));
    let stream = RecordBatchStreamAdapter::new(output_schema, futures::stream::iter(found.into_iter().map(Ok)));
    let description = delta.snapshot()?.metadata().description().filter(|d| !d.is_empty()).map(str::to_owned);
    let columns = schema
        .fields()
        .iter()
        .map(|f| {
            let t = ColumnType::of_field(f).map(|t| t.to_string()).unwrap_or_else(|| f.data_type().to_string());
            (f.name().clone(), t)
        })
        .collect();
    Ok(SearchOutput {
        body: output::encode(Box::pin(stream), format)?,
        description,
        columns,
        rows,
        limit_reached: matched > limit,
    })
}

fn without_score(schema: &Schema) -> Schema {
    let fields: Vec<_> = schema.fields().iter().filter(|f| f.name() != SCORE).cloned().collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// The rows of a scored batch that match, without the score column.
fn matching(batch: &RecordBatch) -> EngineResult<RecordBatch> {
    let index = batch.schema().index_of(SCORE)?;
    let scores = batch.column(index).as_primitive::<arrow::datatypes::Float64Type>();
    let keep: BooleanArray = scores.iter().map(|s| Some(s.is_some_and(|s| s > 0.0))).collect();
    let mut batch = arrow::compute::filter_record_batch(batch, &keep)?;
    batch.remove_column(index);
    Ok(batch)
}

/// A search term, normalised once.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Term {
    /// Lowercased, for substring matches.
    text: String,
    /// Lowercased words joined by single spaces, for typo-tolerant matches.
    words: Vec<char>,
    word_count: usize,
    /// Edits a typo-tolerant match may need.
    max_edits: usize,
}

/// Lowercased alphanumeric runs.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase)
}

impl Term {
    fn new(raw: &str) -> Term {
        let words: Vec<String> = words(raw).collect();
        let joined: Vec<char> = words.join(" ").chars().collect();
        let max_edits = if joined.len() < 3 { 0 } else { ((joined.len() + 1) / 4).min(3) };
        Term { text: raw.trim().to_lowercase(), word_count: words.len(), max_edits, words: joined }
    }

    /// The cell's score (see the module's comment); 0 when it does not match.
    fn score(&self, cell: &str, scratch: &mut Scratch) -> f64 {
        let lower = cell.to_lowercase();
        if lower.contains(&self.text) {
            let cell_chars = lower.chars().count().max(1);
            return 1.0 + self.text.chars().count().min(cell_chars) as f64 / cell_chars as f64;
        }
        if self.max_edits == 0 {
            return 0.0;
        }
        let mut best = self.max_edits + 1;
        scratch.candidate.clear();
        scratch.candidate.extend(lower.chars());
        best = best.min(osa_distance(&self.words, &scratch.candidate, best - 1, &mut scratch.rows));
        let cell_words: Vec<String> = words(&lower).collect();
        for window in cell_words.windows(self.word_count) {
            if best == 0 {
                break;
            }
            scratch.candidate.clear();
            for (i, w) in window.iter().enumerate() {
                if i > 0 {
                    scratch.candidate.push(' ');
                }
                scratch.candidate.extend(w.chars());
            }
            best = best.min(osa_distance(&self.words, &scratch.candidate, best - 1, &mut scratch.rows));
        }
        if best > self.max_edits { 0.0 } else { 1.0 - best as f64 / (self.words.len() + 1) as f64 }
    }
}

/// Buffers reused across the cells of a batch.
#[derive(Default)]
struct Scratch {
    candidate: Vec<char>,
    rows: [Vec<usize>; 3],
}

/// Optimal-string-alignment distance between `a` and `b`, or `bound + 1` as soon as it is
/// known to exceed `bound` (most cells are far from the term, and are given up early).
fn osa_distance(a: &[char], b: &[char], bound: usize, rows: &mut [Vec<usize>; 3]) -> usize {
    if a.len().abs_diff(b.len()) > bound {
        return bound + 1;
    }
    let [before, previous, current] = rows;
    before.clear();
    before.resize(b.len() + 1, 0);
    previous.clear();
    previous.extend(0..=b.len());
    for i in 1..=a.len() {
        current.clear();
        current.push(i);
        let mut row_min = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current.push(d);
            row_min = row_min.min(d);
        }
        if row_min > bound {
            return bound + 1;
        }
        std::mem::swap(before, previous);
        std::mem::swap(previous, current);
    }
    previous[b.len()].min(bound + 1)
}

/// `lakeward_search_score(string columns...)`: the best cell score of each row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SearchScore {
    term: Term,
    signature: Signature,
}

impl SearchScore {
    fn new(term: &str) -> Self {
        Self { term: Term::new(term), signature: Signature::variadic_any(Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for SearchScore {
    fn name(&self) -> &str {
        "lakeward_search_score"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let mut best = vec![0.0f64; args.number_rows];
        let mut scratch = Scratch::default();
        for array in ColumnarValue::values_to_arrays(&args.args)? {
            match array.data_type() {
                DataType::Utf8 => self.best_of(array.as_string::<i32>(), &mut best, &mut scratch),
                DataType::LargeUtf8 => self.best_of(array.as_string::<i64>(), &mut best, &mut scratch),
                DataType::Utf8View => self.best_of(array.as_string_view(), &mut best, &mut scratch),
                other => return exec_err!("lakeward_search_score takes string columns, not {other}"),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(best)) as ArrayRef))
    }
}

impl SearchScore {
    fn best_of<'a, A: ArrayAccessor<Item = &'a str>>(&self, cells: A, best: &mut [f64], scratch: &mut Scratch) {
        for (row, best) in best.iter_mut().enumerate() {
            // A cell cannot beat a score of 2 (the whole cell is the term).
            if cells.is_valid(row) && *best < 2.0 {
                *best = best.max(self.term.score(cells.value(row), scratch));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(term: &str, cell: &str) -> f64 {
        Term::new(term).score(cell, &mut Scratch::default())
    }

    #[test]
    fn distances_count_swapped_neighbours_as_one_edit() {
        let d = |a: &str, b: &str| {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            osa_distance(&a, &b, 9, &mut Default::default())
        };
        assert_eq!(d("aad", "ada"), 1);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("lovelace", "lovelace"), 0);
        assert_eq!(d("ca", "abc"), 3, "optimal string alignment edits no substring twice");
        let (a, b): (Vec<char>, Vec<char>) = ("abcdef".chars().collect(), "uvwxyz".chars().collect());
        assert_eq!(osa_distance(&a, &b, 1, &mut Default::default()), 2, "given up past the bound");
    }

    #[test]
    fn substrings_rank_above_typos_and_closer_cells_above_longer_ones() {
        assert_eq!(score("Ada", "ada"), 2.0);
        assert_eq!(score("ada", "Adam"), 1.75);
        assert_eq!(score("Ada", "Ada Lovelace"), 1.25);
        assert_eq!(score("Aad", "Ada"), 0.75);
        assert_eq!(score("Aad", "Ada Lovelace"), 0.75, "one word of the cell");
        assert_eq!(score("Lovelase", "Ada Lovelace"), 1.0 - 1.0 / 9.0);
        assert_eq!(score("ada lovlace", "Lovelace, Ada / ADA LOVELACE"), 1.0 - 1.0 / 12.0, "a run of words");
        assert_eq!(score("Aad", "Bob"), 0.0);
        assert_eq!(score("Aad", "Dana"), 0.0, "two edits are too many for three letters");
        assert_eq!(score("ab", "ba"), 0.0, "short terms only match as substrings");
        assert_eq!(score("ab", "cabin"), 1.4);
    }

    #[test]
    fn the_typo_bound_grows_with_the_term() {
        let bound = |t: &str| Term::new(t).max_edits;
        assert_eq!(
            [bound("ab"), bound("abc"), bound("abcdef"), bound("abcdefg"), bound("abcdefghij")],
            [0, 1, 1, 2, 2]
        );
        assert_eq!([bound("abcdefghijk"), bound("abcdefghijklmnopqrstuvwxyz")], [3, 3]);
        assert_eq!(bound("a-b"), 1, "counted over the words, joined by one space");
    }
}
