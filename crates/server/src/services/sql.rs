//! Read-only SQL over the tables of the caller's organisation, for every surface (REST's
//! `POST /v1/sql`, Flight SQL): which tables a query's session holds, earlier states
//! included when the query names them (`catalog.schema."table@v3"`,
//! `catalog.schema."table@2026-01-31T12:00:00Z"`).

use lakeward_engine::{SqlTable, TimeTravel, named_tables};
use lakeward_meta::access::Principal;
use lakeward_meta::store::TableEntry;
use lakeward_model::{Ident, TableRef};
use url::Url;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::table_access;

/// The tables a session for `query` holds: those it names, each in the state it names
/// (the latest, `"t@v3"` or `"t@<RFC 3339>"`). A name that is no table of the principal's
/// organisation is left out, for planning to report as written. (Callers have authorized
/// `tables:query`.)
pub async fn tables_for(state: &AppState, principal: &Principal, query: &str) -> ApiResult<Vec<SqlTable>> {
    if query.trim().is_empty() {
        return Err(ApiError::invalid_field("query", "query is required"));
    }
    // A name of one or two parts never resolves (the session has no default catalog),
    // and text that does not parse fails planning: both are errors, whose message may
    // suggest the caller's tables of that name, so they get every table.
    let whole: Option<Vec<Vec<String>>> = named_tables(query).filter(|names| names.iter().all(|n| n.len() == 3));
    let Some(mut names) = whole else { return every_table(state, principal).await };
    names.sort();
    names.dedup();
    let mut tables: Vec<SqlTable> = Vec::with_capacity(names.len());
    for name in names {
        let [catalog, schema, written] = name.as_slice() else { continue };
        let (table, at) = match written.split_once('@') {
            Some((table, at)) => match time_travel(at) {
                Some(at) => (table, at),
                None => continue,
            },
            None => (written.as_str(), TimeTravel::Latest),
        };
        let (Ok(catalog), Ok(schema), Ok(table)) = (Ident::new(catalog), Ident::new(schema), Ident::new(table)) else {
            continue;
        };
        let table = TableRef { catalog, schema, table };
        let Some(entry) = state.meta.get_table(principal.org_id, &table).await? else { continue };
        tables.push(SqlTable { name: written.clone(), at, ..sql_table(&entry)? });
    }
    Ok(tables)
}

async fn every_table(state: &AppState, principal: &Principal) -> ApiResult<Vec<SqlTable>> {
    let entries = state.meta.all_tables(principal.org_id).await?;
    entries.iter().map(sql_table).collect()
}

fn sql_table(entry: &TableEntry) -> ApiResult<SqlTable> {
    Ok(SqlTable {
        catalog: entry.table.catalog.clone(),
        schema: entry.table.schema.clone(),
        name: entry.table.table.to_string(),
        location: Url::parse(&entry.location).map_err(ApiError::internal)?,
        at: TimeTravel::Latest,
    })
}

/// `v3` or an RFC 3339 timestamp, as written after `@` in a table's name.
fn time_travel(at: &str) -> Option<TimeTravel> {
    let version = at.strip_prefix('v').and_then(|v| v.parse().ok());
    let timestamp = if version.is_some() { None } else { Some(at) };
    table_access::time_travel(version, timestamp).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_time_travel_suffixes() {
        assert_eq!(time_travel("v3"), Some(TimeTravel::Version(3)));
        assert!(matches!(time_travel("2026-01-01T00:00:00Z"), Some(TimeTravel::AsOf(_))));
        assert_eq!(time_travel("b"), None);
        assert_eq!(time_travel("vx"), None);
    }
}
