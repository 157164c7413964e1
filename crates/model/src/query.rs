//! A row query as every surface describes it (REST's PostgREST grammar today, GraphQL
//! later): which columns, which rows, in what order, how many. Values stay text here; the
//! engine casts them to the column's type and refuses those that do not fit.

/// Comparison operators of the PostgREST grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    /// SQL LIKE; `*` is accepted for `%` as in PostgREST.
    Like,
    /// Case-insensitive LIKE.
    Ilike,
}

impl CmpOp {
    pub fn parse(raw: &str) -> Option<CmpOp> {
        Some(match raw {
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Neq,
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Gte,
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Lte,
            "like" => CmpOp::Like,
            "ilike" => CmpOp::Ilike,
            _ => return None,
        })
    }
}

/// Right-hand side of `is`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    Null,
    True,
    False,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Cmp { column: String, op: CmpOp, value: String },
    In { column: String, values: Vec<String> },
    Is { column: String, value: IsValue },
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
}

/// How deeply row filters may nest (`and(...)`, `or(...)`, `not`), on every surface.
/// Deeper inputs are refused before they are parsed further, planned or evaluated: an
/// input nested thousands of levels deep would overflow a thread's stack.
pub const MAX_FILTER_DEPTH: usize = 32;
/// How many conditions one row filter may hold, on every surface.
pub const MAX_FILTER_CONDITIONS: usize = 1000;

impl Filter {
    /// Whether the filter is within [`MAX_FILTER_DEPTH`] and [`MAX_FILTER_CONDITIONS`];
    /// the error says which limit it passed. Walks the filter without recursion.
    pub fn check_limits(&self) -> Result<(), String> {
        let mut pending = vec![(self, 1)];
        let mut conditions = 0;
        // `depth` counts the groups (and, or, not) around a filter, itself included.
        while let Some((filter, depth)) = pending.pop() {
            if depth > MAX_FILTER_DEPTH && !filter.is_condition() {
                return Err(depth_error());
            }
            match filter {
                Filter::Cmp { .. } | Filter::In { .. } | Filter::Is { .. } => {
                    conditions += 1;
                    if conditions > MAX_FILTER_CONDITIONS {
                        return Err(format!(
                            "a filter holds at most {MAX_FILTER_CONDITIONS} conditions (use in.(...) for long lists of values)"
                        ));
                    }
                }
                Filter::And(parts) | Filter::Or(parts) => pending.extend(parts.iter().map(|p| (p, depth + 1))),
                Filter::Not(inner) => pending.push((inner, depth + 1)),
            }
        }
        Ok(())
    }

    fn is_condition(&self) -> bool {
        matches!(self, Filter::Cmp { .. } | Filter::In { .. } | Filter::Is { .. })
    }

    /// Every column the filter mentions, for checking them against the table.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Filter::Cmp { column, .. } | Filter::In { column, .. } | Filter::Is { column, .. } => vec![column],
            Filter::And(parts) | Filter::Or(parts) => parts.iter().flat_map(Filter::columns).collect(),
            Filter::Not(inner) => inner.columns(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub column: String,
    pub descending: bool,
    /// `None`: the default (nulls last ascending, first descending, as in PostgreSQL).
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowQuery {
    /// `None` selects every column.
    pub select: Option<Vec<String>>,
    pub filter: Option<Filter>,
    pub order: Vec<OrderBy>,
    pub limit: Option<u64>,
    pub offset: u64,
}

/// The message for a filter nested deeper than [`MAX_FILTER_DEPTH`].
pub fn depth_error() -> String {
    format!("filters nest at most {MAX_FILTER_DEPTH} levels deep")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(i: usize) -> Filter {
        Filter::Cmp { column: "id".into(), op: CmpOp::Eq, value: i.to_string() }
    }

    /// A condition inside `depth` groups.
    fn nested(depth: usize) -> Filter {
        (0..depth).fold(cmp(0), |inner, _| Filter::And(vec![inner]))
    }

    #[test]
    fn filters_are_limited_in_depth_and_conditions() {
        assert_eq!(nested(MAX_FILTER_DEPTH).check_limits(), Ok(()));
        assert_eq!(nested(MAX_FILTER_DEPTH + 1).check_limits(), Err(depth_error()));
        assert_eq!(Filter::Or((0..MAX_FILTER_CONDITIONS).map(cmp).collect()).check_limits(), Ok(()));
        let wide = Filter::Or((0..=MAX_FILTER_CONDITIONS).map(cmp).collect()).check_limits();
        assert!(wide.unwrap_err().starts_with("a filter holds at most 1000 conditions"));
    }
}
