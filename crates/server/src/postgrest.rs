//! The PostgREST query grammar for row reads and filtered writes:
//! `?select=a,b&age=gte.18&name=not.like.A*&or=(a.eq.1,and(b.gt.2,c.is.null))&order=name.desc.nullslast&limit=10&offset=20`.
//! Parsing only; columns and values are checked against the table by the engine.

use lakeward_model::query::{CmpOp, Filter, IsValue, MAX_FILTER_DEPTH, OrderBy, RowQuery, depth_error};

/// Query parameters that are not column filters.
pub const RESERVED: &[&str] = &[
    "select", "order", "limit", "offset", "or", "and", "not.or", "not.and", "version", "as_of", "format", "confirm",
    "all",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarError {
    /// The parameter at fault (`select`, `order`, a column name, ...).
    pub param: String,
    pub message: String,
}

fn err(param: &str, message: impl Into<String>) -> GrammarError {
    GrammarError { param: param.to_owned(), message: message.into() }
}

/// Parses decoded `(name, value)` pairs into a row query. Parameters in `RESERVED` other
/// than the grammar's own are left to the caller.
pub fn parse(pairs: &[(String, String)]) -> Result<RowQuery, GrammarError> {
    let mut query = RowQuery::default();
    let mut filters = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "select" => {
                let columns: Vec<String> = value.split(',').map(|c| c.trim().to_owned()).collect();
                if columns.iter().any(String::is_empty) {
                    return Err(err("select", "empty column name"));
                }
                if columns != ["*"] {
                    query.select = Some(columns);
                }
            }
            "order" => query.order = parse_order(value)?,
            "limit" => query.limit = Some(value.parse().map_err(|_| err("limit", "must be a non-negative integer"))?),
            "offset" => query.offset = value.parse().map_err(|_| err("offset", "must be a non-negative integer"))?,
            "or" | "and" | "not.or" | "not.and" => {
                let negated = name.starts_with("not.");
                let is_or = name.ends_with("or");
                let inner = value
                    .strip_prefix('(')
                    .and_then(|v| v.strip_suffix(')'))
                    .ok_or_else(|| err(name, "expected a parenthesised list, e.g. (a.eq.1,b.gt.2)"))?;
                let parts = split_top_level(inner).into_iter().map(|p| parse_logic_item(name, p, 2)).collect::<Result<
                    Vec<_>,
                    _,
                >>(
                )?;
                let combined = if is_or { Filter::Or(parts) } else { Filter::And(parts) };
                filters.push(if negated { Filter::Not(Box::new(combined)) } else { combined });
            }
            n if RESERVED.contains(&n) => {}
            column => filters.push(parse_condition(column, value)?),
        }
    }
    query.filter = match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Filter::And(filters)),
    };
    if let Some(filter) = &query.filter {
        filter.check_limits().map_err(|m| err("filter", m))?;
    }
    Ok(query)
}

/// `op.value` or `not.op.value` for `column`.
fn parse_condition(column: &str, raw: &str) -> Result<Filter, GrammarError> {
    let (negated, rest) = match raw.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (op, value) = rest
        .split_once('.')
        .ok_or_else(|| err(column, format!("expected `operator.value`, e.g. eq.5; got `{raw}`")))?;
    let filter = match op {
        "in" => Filter::In { column: column.to_owned(), values: parse_list(column, value)? },
        "is" => Filter::Is {
            column: column.to_owned(),
            value: match value {
                "null" => IsValue::Null,
                "true" => IsValue::True,
                "false" => IsValue::False,
                other => return Err(err(column, format!("`is` takes null, true or false, not `{other}`"))),
            },
        },
        op => {
            let op = CmpOp::parse(op).ok_or_else(|| {
                err(column, format!("unknown operator `{op}` (eq, neq, gt, gte, lt, lte, like, ilike, in, is)"))
            })?;
            let value = match op {
                CmpOp::Like | CmpOp::Ilike => value.replace('*', "%"),
                _ => unquote(value),
            };
            Filter::Cmp { column: column.to_owned(), op, value }
        }
    };
    Ok(if negated { Filter::Not(Box::new(filter)) } else { filter })
}

/// An item inside `or=(...)`: `col.op.value`, `col.not.op.value`, or nested `and(...)`/`or(...)`/`not.and(...)`,
/// `depth` levels deep (the parameter's own list is level 1). Refused past
/// [`MAX_FILTER_DEPTH`] before going deeper: the parser recurses once per level.
fn parse_logic_item(param: &str, item: &str, depth: usize) -> Result<Filter, GrammarError> {
    for (prefix, is_or, negated) in
        [("or(", true, false), ("and(", false, false), ("not.or(", true, true), ("not.and(", false, true)]
    {
        if let Some(inner) = item.strip_prefix(prefix).and_then(|i| i.strip_suffix(')')) {
            if depth > MAX_FILTER_DEPTH {
                return Err(err(param, depth_error()));
            }
            let parts = split_top_level(inner)
                .into_iter()
                .map(|p| parse_logic_item(param, p, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            let combined = if is_or { Filter::Or(parts) } else { Filter::And(parts) };
            return Ok(if negated { Filter::Not(Box::new(combined)) } else { combined });
        }
    }
    let (column, condition) =
        item.split_once('.').ok_or_else(|| err(param, format!("expected `column.operator.value`, got `{item}`")))?;
    parse_condition(column, condition)
}

/// `(a,b,"c,d")` into its items.
fn parse_list(column: &str, raw: &str) -> Result<Vec<String>, GrammarError> {
    let inner = raw
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| err(column, "`in` takes a parenthesised list, e.g. in.(1,2,3)"))?;
    if inner.is_empty() {
        return Ok(Vec::new());
    }
    Ok(split_top_level(inner).into_iter().map(unquote).collect())
}

fn unquote(raw: &str) -> String {
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => raw.to_owned(),
    }
}

/// Splits on commas that are outside parentheses and double quotes.
fn split_top_level(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut escaped = false;
    for (i, c) in raw.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&raw[start..]);
    parts
}

fn parse_order(raw: &str) -> Result<Vec<OrderBy>, GrammarError> {
    raw.split(',')
        .map(|term| {
            let mut parts = term.trim().split('.');
            let column = parts.next().filter(|c| !c.is_empty()).ok_or_else(|| err("order", "empty column name"))?;
            let mut order = OrderBy { column: column.to_owned(), descending: false, nulls_first: None };
            for modifier in parts {
                match modifier {
                    "asc" => order.descending = false,
                    "desc" => order.descending = true,
                    "nullsfirst" => order.nulls_first = Some(true),
                    "nullslast" => order.nulls_first = Some(false),
                    other => {
                        return Err(err(
                            "order",
                            format!("unknown modifier `{other}` (asc, desc, nullsfirst, nullslast)"),
                        ));
                    }
                }
            }
            Ok(order)
        })
        .collect()
}

/// `Range: 0-24` (with `Range-Unit: items`) as (offset, limit).
pub fn parse_range(raw: &str) -> Result<(u64, Option<u64>), GrammarError> {
    let bad = || err("Range", "expected `first-last` or `first-`, e.g. 0-24");
    let (first, last) = raw.trim().split_once('-').ok_or_else(bad)?;
    let first: u64 = first.trim().parse().map_err(|_| bad())?;
    if last.trim().is_empty() {
        return Ok((first, None));
    }
    let last: u64 = last.trim().parse().map_err(|_| bad())?;
    if last < first {
        return Err(err("Range", "the last item comes before the first"));
    }
    Ok((first, Some(last - first + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(params: &[(&str, &str)]) -> Result<RowQuery, GrammarError> {
        parse(&params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>())
    }

    fn cmp(column: &str, op: CmpOp, value: &str) -> Filter {
        Filter::Cmp { column: column.into(), op, value: value.into() }
    }

    #[test]
    fn select_order_limit_offset() {
        let query =
            q(&[("select", "id, name"), ("order", "name.desc.nullsfirst,id"), ("limit", "10"), ("offset", "5")])
                .unwrap();
        assert_eq!(query.select, Some(vec!["id".into(), "name".into()]));
        assert_eq!(
            query.order,
            vec![
                OrderBy { column: "name".into(), descending: true, nulls_first: Some(true) },
                OrderBy { column: "id".into(), descending: false, nulls_first: None }
            ]
        );
        assert_eq!((query.limit, query.offset, query.filter), (Some(10), 5, None));
        assert_eq!(q(&[("select", "*")]).unwrap().select, None);
    }

    #[test]
    fn column_filters_combine_with_and() {
        let query =
            q(&[("age", "gte.18"), ("name", "not.like.A*"), ("country", "in.(DE,\"A,T\")"), ("email", "is.null")])
                .unwrap();
        assert_eq!(
            query.filter.unwrap(),
            Filter::And(vec![
                cmp("age", CmpOp::Gte, "18"),
                Filter::Not(Box::new(cmp("name", CmpOp::Like, "A%"))),
                Filter::In { column: "country".into(), values: vec!["DE".into(), "A,T".into()] },
                Filter::Is { column: "email".into(), value: IsValue::Null },
            ])
        );
        // Values may contain dots.
        assert_eq!(q(&[("price", "eq.1.5")]).unwrap().filter.unwrap(), cmp("price", CmpOp::Eq, "1.5"));
    }

    #[test]
    fn nested_logic() {
        let query = q(&[("or", "(a.eq.1,and(b.gt.2,c.not.is.null))"), ("not.and", "(d.lt.0,e.eq.x)")]).unwrap();
        assert_eq!(
            query.filter.unwrap(),
            Filter::And(vec![
                Filter::Or(vec![
                    cmp("a", CmpOp::Eq, "1"),
                    Filter::And(vec![
                        cmp("b", CmpOp::Gt, "2"),
                        Filter::Not(Box::new(Filter::Is { column: "c".into(), value: IsValue::Null }))
                    ]),
                ]),
                Filter::Not(Box::new(Filter::And(vec![cmp("d", CmpOp::Lt, "0"), cmp("e", CmpOp::Eq, "x")]))),
            ])
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        assert_eq!(q(&[("age", "between.1")]).unwrap_err().param, "age");
        assert_eq!(q(&[("age", "18")]).unwrap_err().param, "age");
        assert_eq!(q(&[("email", "is.maybe")]).unwrap_err().param, "email");
        assert_eq!(q(&[("id", "in.1,2")]).unwrap_err().param, "id");
        assert_eq!(q(&[("limit", "-1")]).unwrap_err().param, "limit");
        assert_eq!(q(&[("order", "name.sideways")]).unwrap_err().param, "order");
        assert_eq!(q(&[("or", "a.eq.1")]).unwrap_err().param, "or");
        assert_eq!(q(&[("select", "a,,b")]).unwrap_err().param, "select");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0-24").unwrap(), (0, Some(25)));
        assert_eq!(parse_range("10-").unwrap(), (10, None));
        assert!(parse_range("5-1").is_err());
        assert!(parse_range("a-b").is_err());
    }
}
