//! Which rows a read returns, and the `Content-Range` that describes them.
//!
//! As in PostgREST, the `Range` header and the `limit`/`offset` parameters each name a
//! span of row positions (`Range: 5-9` is rows 5 to 9; `offset=3&limit=4` is rows 3 to 6),
//! and a read returns the rows in both: `Range: 0-9` with `limit=5` is rows 0-4, with
//! `offset=5` rows 5-9. Spans that have no row in common answer 416, except `limit=0`,
//! which asks for no rows and gets none.

use axum::http::StatusCode;

use crate::error::{ApiError, ApiResult};

/// Rows `offset..offset + limit` of a result (`limit` `None`: to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub offset: u64,
    pub limit: Option<u64>,
}

impl Span {
    /// One past the last row, `None` when the span runs to the end.
    fn end(self) -> Option<u64> {
        self.limit.map(|l| self.offset.saturating_add(l))
    }
}

/// The rows both the query's `offset`/`limit` and the `Range` header (if any) ask for.
pub fn intersect(query: Span, header: Option<Span>) -> ApiResult<Span> {
    let Some(header) = header else { return Ok(query) };
    if query.limit == Some(0) {
        return Ok(query);
    }
    let offset = query.offset.max(header.offset);
    let end = match (query.end(), header.end()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match end {
        Some(end) if end <= offset => Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "The Range header and limit/offset have no row in common",
        )),
        end => Ok(Span { offset, limit: end.map(|e| e - offset) }),
    }
}

/// `first-last/total` for the rows returned, as PostgREST writes it (`*/total` when there
/// are none, `*` for a total not counted); `None` when the number of rows is not known
/// before they are sent (an unbounded read without `Prefer: count=exact` streams).
pub fn content_range(span: Span, returned: Option<u64>, total: Option<u64>) -> Option<String> {
    let total_text = total.map(|t| t.to_string()).unwrap_or_else(|| "*".to_owned());
    let returned = match (returned, total) {
        (Some(r), _) => r,
        (None, Some(t)) => t.saturating_sub(span.offset).min(span.limit.unwrap_or(u64::MAX)),
        (None, None) => return None,
    };
    Some(if returned == 0 {
        format!("*/{total_text}")
    } else {
        format!("{}-{}/{total_text}", span.offset, span.offset + returned - 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(offset: u64, limit: Option<u64>) -> Span {
        Span { offset, limit }
    }

    #[test]
    fn the_range_header_and_the_query_meet() {
        let all = span(0, None);
        assert_eq!(intersect(span(3, Some(4)), None).unwrap(), span(3, Some(4)));
        assert_eq!(intersect(all, Some(span(5, Some(5)))).unwrap(), span(5, Some(5)));
        assert_eq!(intersect(span(0, Some(5)), Some(span(0, Some(10)))).unwrap(), span(0, Some(5)));
        assert_eq!(intersect(span(5, None), Some(span(0, Some(10)))).unwrap(), span(5, Some(5)));
        assert_eq!(intersect(span(2, Some(5)), Some(span(4, None))).unwrap(), span(4, Some(3)));
        assert_eq!(intersect(span(0, Some(0)), Some(span(0, Some(10)))).unwrap(), span(0, Some(0)));
        let err = intersect(span(10, None), Some(span(0, Some(5)))).unwrap_err();
        assert_eq!(err.status, StatusCode::RANGE_NOT_SATISFIABLE);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range(span(0, Some(25)), Some(25), Some(100)).as_deref(), Some("0-24/100"));
        assert_eq!(content_range(span(10, Some(20)), Some(5), None).as_deref(), Some("10-14/*"));
        assert_eq!(content_range(span(0, Some(5)), Some(0), Some(0)).as_deref(), Some("*/0"));
        assert_eq!(content_range(span(5, None), None, Some(8)).as_deref(), Some("5-7/8"));
        assert_eq!(content_range(span(2, Some(200_000)), None, Some(300_000)).as_deref(), Some("2-200001/300000"));
        assert_eq!(content_range(span(9, None), None, Some(8)).as_deref(), Some("*/8"));
        assert_eq!(content_range(span(0, None), None, None), None);
    }
}
