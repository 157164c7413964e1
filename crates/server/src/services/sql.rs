//! Read-only SQL over the tables of the caller's organisation, for every surface (REST's
//! `POST /v1/sql`, Flight SQL): which tables a query's session holds, earlier states
//! included when the query names them (`catalog.schema."table@v3"`,
//! `catalog.schema."table@2026-01-31T12:00:00Z"`).

use lakeward_engine::{SqlTable, TimeTravel};
use lakeward_meta::access::Principal;
use url::Url;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The tables a session for `query` holds: every table of the principal's organisation,
/// and each earlier state the query names. (Callers have authorized `tables:query`.)
pub async fn tables_for(state: &AppState, principal: &Principal, query: &str) -> ApiResult<Vec<SqlTable>> {
    if query.trim().is_empty() {
        return Err(ApiError::invalid_field("query", "query is required"));
    }
    let entries = state.meta.all_tables(principal.org_id).await?;
    let travels = time_travel_names(query);
    let mut tables = Vec::with_capacity(entries.len());
    for entry in &entries {
        let location = Url::parse(&entry.location).map_err(ApiError::internal)?;
        let base = SqlTable {
            catalog: entry.table.catalog.clone(),
            schema: entry.table.schema.clone(),
            name: entry.table.table.to_string(),
            location,
            at: TimeTravel::Latest,
        };
        for (name, _, at) in travels.iter().filter(|(_, b, _)| b == entry.table.table.as_str()) {
            tables.push(SqlTable { name: name.clone(), at: *at, ..base.clone() });
        }
        tables.push(base);
    }
    Ok(tables)
}

/// `"name@v3"` or `"name@<RFC 3339>"` quoted identifiers in the query.
fn time_travel_names(query: &str) -> Vec<(String, String, TimeTravel)> {
    let mut found = Vec::new();
    for (i, quoted) in query.split('"').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let Some((base, at)) = quoted.split_once('@') else { continue };
        let travel = if let Some(v) = at.strip_prefix('v').and_then(|v| v.parse().ok()) {
            TimeTravel::Version(v)
        } else if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
            TimeTravel::AsOf(t.with_timezone(&chrono::Utc))
        } else {
            continue;
        };
        found.push((quoted.to_owned(), base.to_owned(), travel));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_time_travel_names() {
        let found =
            time_travel_names(r#"SELECT * FROM a.b."t@v3" JOIN a.b."u@2026-01-01T00:00:00Z" ON 1=1 WHERE x = "plain""#);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].0.as_str(), found[0].1.as_str(), found[0].2), ("t@v3", "t", TimeTravel::Version(3)));
        assert_eq!(found[1].1, "u");
        assert!(time_travel_names(r#"SELECT "a@b" FROM x"#).is_empty());
    }
}
