//! GraphQL's `where` and `order_by` arguments compiled to the row-query representation
//! the REST grammar produces (`lakeward_model::query`), so that both surfaces filter
//! through the same engine code. Values become text, as in a REST query string; the
//! engine casts them to the column's type and names those that do not fit.

use async_graphql::{Name, Value};
use lakeward_model::query::{CmpOp, Filter, IsValue, MAX_FILTER_DEPTH, OrderBy, depth_error};

use super::tables::Table;
use crate::error::{ApiError, ApiResult};

/// The operators of a `<Scalar>_comparison_exp`, and which apply to which columns.
pub const COMPARISONS: [(&str, CmpOp); 6] = [
    ("_eq", CmpOp::Eq),
    ("_neq", CmpOp::Neq),
    ("_gt", CmpOp::Gt),
    ("_gte", CmpOp::Gte),
    ("_lt", CmpOp::Lt),
    ("_lte", CmpOp::Lte),
];
pub const PATTERNS: [(&str, CmpOp); 2] = [("_like", CmpOp::Like), ("_ilike", CmpOp::Ilike)];

/// The values of the `order_by` enum: direction and where nulls go.
pub const ORDERINGS: [(&str, bool, Option<bool>); 6] = [
    ("asc", false, None),
    ("asc_nulls_first", false, Some(true)),
    ("asc_nulls_last", false, Some(false)),
    ("desc", true, None),
    ("desc_nulls_first", true, Some(true)),
    ("desc_nulls_last", true, Some(false)),
];

/// A `<table>_bool_exp` as a filter; `None` when it holds no condition (every row).
pub fn filter(value: &Value) -> ApiResult<Option<Filter>> {
    let filter = bool_exp(value, "where", 1)?;
    if let Some(f) = &filter {
        f.check_limits().map_err(|m| ApiError::invalid_field("where", m))?;
    }
    Ok(filter)
}

fn bool_exp(value: &Value, path: &str, depth: usize) -> ApiResult<Option<Filter>> {
    if depth > MAX_FILTER_DEPTH {
        return Err(ApiError::invalid_field("where", depth_error()));
    }
    let Value::Object(fields) = value else { return Ok(None) };
    let mut parts = Vec::new();
    for (name, inner) in fields {
        let here = format!("{path}.{name}");
        match name.as_str() {
            "_and" | "_or" => {
                let Value::List(items) = inner else { continue };
                let mut combined = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(f) = bool_exp(item, &format!("{here}[{i}]"), depth + 1)? {
                        combined.push(f);
                    }
                }
                match (name.as_str(), combined.len()) {
                    (_, 0) => {}
                    (_, 1) => parts.extend(combined),
                    ("_and", _) => parts.push(Filter::And(combined)),
                    _ => parts.push(Filter::Or(combined)),
                }
            }
            "_not" => {
                if let Some(f) = bool_exp(inner, &here, depth + 1)? {
                    parts.push(Filter::Not(Box::new(f)));
                }
            }
            column => parts.extend(comparison(column, inner, &here)?),
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Filter::And(parts)),
    })
}

/// The conditions of one column's `<Scalar>_comparison_exp`.
fn comparison(column: &str, value: &Value, path: &str) -> ApiResult<Vec<Filter>> {
    let Value::Object(ops) = value else { return Ok(Vec::new()) };
    let mut conditions = Vec::new();
    for (op, operand) in ops {
        if matches!(operand, Value::Null) {
            return Err(ApiError::invalid_field(
                format!("{path}.{op}"),
                "a comparison with null matches nothing: use _is_null",
            ));
        }
        let column = column.to_owned();
        let condition = match op.as_str() {
            "_in" | "_nin" => {
                let values = match operand {
                    Value::List(items) => items.iter().map(text).collect(),
                    single => vec![text(single)],
                };
                let is_in = Filter::In { column, values };
                if op == "_in" { is_in } else { Filter::Not(Box::new(is_in)) }
            }
            "_is_null" => {
                let is_null = Filter::Is { column, value: IsValue::Null };
                if matches!(operand, Value::Boolean(false)) { Filter::Not(Box::new(is_null)) } else { is_null }
            }
            name => {
                let Some((_, cmp)) = COMPARISONS.iter().chain(&PATTERNS).find(|(n, _)| *n == name) else { continue };
                Filter::Cmp { column, op: *cmp, value: text(operand) }
            }
        };
        conditions.push(condition);
    }
    Ok(conditions)
}

/// A GraphQL value as the text a REST query string would carry.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Enum(name) => name.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `order_by: [<table>_order_by!]`: each object's columns in order, objects in order.
pub fn order(value: Option<&Value>) -> Vec<OrderBy> {
    let items: Vec<&Value> = match value {
        Some(Value::List(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Vec::new(),
    };
    let mut order = Vec::new();
    for item in items {
        let Value::Object(columns) = item else { continue };
        for (column, direction) in columns {
            // An enum in the query text; a string when it came in a variable (validated
            // against the enum all the same).
            let direction = match direction {
                Value::Enum(name) => name.as_str(),
                Value::String(name) => name.as_str(),
                _ => continue,
            };
            if let Some((_, descending, nulls_first)) = ORDERINGS.iter().find(|(n, ..)| *n == direction) {
                order.push(OrderBy { column: column.to_string(), descending: *descending, nulls_first: *nulls_first });
            }
        }
    }
    order
}

/// The order a page of `table` is read in: the caller's, then the primary key (or every
/// column) so that equal rows keep one order from one page to the next.
pub fn stable_order(table: &Table, mut order: Vec<OrderBy>) -> Vec<OrderBy> {
    let tie_breakers: Vec<&str> = if table.primary_key.is_empty() {
        table
            .columns
            .iter()
            .filter(|c| c.scalar.ordered() || c.scalar == super::tables::Scalar::Boolean)
            .map(|c| c.name.as_str())
            .collect()
    } else {
        table.primary_key.iter().map(String::as_str).collect()
    };
    for column in tie_breakers {
        if !order.iter().any(|o| o.column == column) {
            order.push(OrderBy { column: column.to_owned(), descending: false, nulls_first: None });
        }
    }
    order
}

/// The equality filter on a primary key given as field arguments.
pub fn by_key(table: &Table, args: &[(Name, Value)]) -> Option<Filter> {
    let parts: Vec<Filter> = table
        .primary_key
        .iter()
        .filter_map(|k| {
            args.iter().find(|(n, _)| n.as_str() == k).map(|(_, v)| Filter::Cmp {
                column: k.clone(),
                op: CmpOp::Eq,
                value: text(v),
            })
        })
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(Filter::And(parts)),
    }
}
