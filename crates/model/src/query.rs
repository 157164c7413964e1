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

impl Filter {
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
