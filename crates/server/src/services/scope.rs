//! A catalog or a schema, and the tables in it that a request selects: what work over many
//! tables (clones of schemas and catalogs, comparisons, statistics, search) runs over.

use futures::StreamExt as _;
use lakeward_engine::ops::table::Describe;
use lakeward_engine::{TableMetadata, TimeTravel};
use lakeward_meta::store::TableEntry;
use lakeward_model::Ident;
use regex::{Regex, RegexBuilder};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::table_access;

/// `catalog` or `catalog.schema`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub catalog: Ident,
    pub schema: Option<Ident>,
}

impl Scope {
    /// `None` unless `raw` is one or two valid identifiers joined by a dot.
    pub fn parse(raw: &str) -> Option<Scope> {
        let mut parts = raw.split('.').map(Ident::new);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Ok(catalog)), None, None) => Some(Scope { catalog, schema: None }),
            (Some(Ok(catalog)), Some(Ok(schema)), None) => Some(Scope { catalog, schema: Some(schema) }),
            _ => None,
        }
    }

    pub fn field(field: &str, raw: &str) -> ApiResult<Scope> {
        Scope::parse(raw).ok_or_else(|| {
            ApiError::invalid_field(
                field,
                "must be `catalog` or `catalog.schema`, each an identifier ([A-Za-z_][A-Za-z0-9_]*)",
            )
        })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{}.{schema}", self.catalog),
            None => write!(f, "{}", self.catalog),
        }
    }
}

/// Longest pattern accepted, and the most memory its compiled form may take: a request
/// cannot make the server build an enormous automaton.
const MAX_PATTERN_CHARS: usize = 1000;
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a user's regular expression (Rust `regex` syntax, unanchored), or answers 400
/// naming `field`.
pub fn pattern(field: &str, raw: &str) -> ApiResult<Regex> {
    if raw.chars().count() > MAX_PATTERN_CHARS {
        return Err(ApiError::invalid_field(field, format!("must be at most {MAX_PATTERN_CHARS} characters")));
    }
    RegexBuilder::new(raw)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| ApiError::invalid_field(field, format!("is not a valid regular expression: {e}")))
}

/// Which schemas and tables of a scope are selected: schemas by name (included ones only,
/// if any are named; never excluded ones), tables by regular expressions over their names.
#[derive(Debug, Default)]
pub struct TableFilter {
    include_schemas: Vec<Ident>,
    exclude_schemas: Vec<Ident>,
    include_tables: Option<Regex>,
    exclude_tables: Option<Regex>,
}

impl TableFilter {
    pub fn new(
        include_schemas: &[String],
        exclude_schemas: &[String],
        include_tables_regex: Option<&str>,
        exclude_tables_regex: Option<&str>,
    ) -> ApiResult<Self> {
        let idents = |field: &str, names: &[String]| -> ApiResult<Vec<Ident>> {
            names
                .iter()
                .map(|n| {
                    Ident::new(n).map_err(|_| ApiError::invalid_field(field, format!("`{n}` is not an identifier")))
                })
                .collect()
        };
        Ok(Self {
            include_schemas: idents("include_schemas", include_schemas)?,
            exclude_schemas: idents("exclude_schemas", exclude_schemas)?,
            include_tables: include_tables_regex.map(|p| pattern("include_tables_regex", p)).transpose()?,
            exclude_tables: exclude_tables_regex.map(|p| pattern("exclude_tables_regex", p)).transpose()?,
        })
    }

    pub fn keeps_schema(&self, schema: &Ident) -> bool {
        (self.include_schemas.is_empty() || self.include_schemas.contains(schema))
            && !self.exclude_schemas.contains(schema)
    }

    pub fn keeps(&self, schema: &Ident, table: &Ident) -> bool {
        self.keeps_schema(schema)
            && self.include_tables.as_ref().is_none_or(|r| r.is_match(table.as_str()))
            && !self.exclude_tables.as_ref().is_some_and(|r| r.is_match(table.as_str()))
    }

    /// Whether schema filters were given (they apply to catalogs only).
    pub fn names_schemas(&self) -> bool {
        !self.include_schemas.is_empty() || !self.exclude_schemas.is_empty()
    }
}

/// The scope's schemas the filter keeps, by name; 404 when the scope does not exist.
pub async fn schemas(state: &AppState, org_id: Uuid, scope: &Scope, filter: &TableFilter) -> ApiResult<Vec<Ident>> {
    if state.meta.get_catalog(org_id, &scope.catalog).await?.is_none()
        || scope.schema.is_some()
            && state.meta.get_schema(org_id, &scope.catalog, scope.schema.as_ref().unwrap()).await?.is_none()
    {
        return Err(table_access::not_found(state, org_id, &scope.catalog, scope.schema.as_ref(), None).await);
    }
    if let Some(schema) = &scope.schema {
        return Ok(vec![schema.clone()]);
    }
    let listed = state.meta.list_schemas(org_id, &scope.catalog).await?;
    let names = listed.into_iter().filter_map(|s| Ident::new(&s.name).ok());
    Ok(names.filter(|s| filter.keeps_schema(s)).collect())
}

/// The scope's tables the filter keeps, ordered by schema and name; 404 when the scope
/// does not exist.
pub async fn tables(state: &AppState, org_id: Uuid, scope: &Scope, filter: &TableFilter) -> ApiResult<Vec<TableEntry>> {
    schemas(state, org_id, scope, filter).await?;
    let (listed, _) = state.meta.list_tables(org_id, Some(&scope.catalog), scope.schema.as_ref(), i64::MAX, 0).await?;
    Ok(listed.into_iter().filter(|t| filter.keeps(&t.table.schema, &t.table.table)).collect())
}

const MAX_PARALLEL_TABLES: usize = 16;
const DEFAULT_PARALLEL_TABLES: usize = 4;

/// `parallel_tables` of work over many tables: 1 to 16, default 4.
pub fn parallel_tables(asked: Option<usize>) -> ApiResult<usize> {
    let parallel = asked.unwrap_or(DEFAULT_PARALLEL_TABLES);
    if !(1..=MAX_PARALLEL_TABLES).contains(&parallel) {
        return Err(ApiError::invalid_field("parallel_tables", format!("must be 1 to {MAX_PARALLEL_TABLES}")));
    }
    Ok(parallel)
}

/// Tables described at once (each is a read of its log).
const PARALLEL_DESCRIBES: usize = 8;

/// Each table's description from its log (no data read), in the order given; a table that
/// cannot be opened has its error.
pub async fn describe(state: &AppState, tables: Vec<TableEntry>) -> Vec<(TableEntry, ApiResult<TableMetadata>)> {
    let described = tables.into_iter().map(|entry| async move {
        let described = match url::Url::parse(&entry.location) {
            Ok(location) => {
                state.engine.run(Describe { location, at: TimeTravel::Latest }).await.map_err(ApiError::from)
            }
            Err(e) => Err(ApiError::internal(e)),
        };
        (entry, described)
    });
    futures::stream::iter(described).buffered(PARALLEL_DESCRIBES).collect().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Ident {
        Ident::new(s).unwrap()
    }

    #[test]
    fn scopes_are_one_or_two_identifiers() {
        assert_eq!(Scope::parse("prod"), Some(Scope { catalog: id("prod"), schema: None }));
        assert_eq!(Scope::parse("prod.sales").unwrap().to_string(), "prod.sales");
        for bad in ["", "prod.", ".sales", "a.b.c", "1x", "a b", "prod..x"] {
            assert_eq!(Scope::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn filters_select_schemas_by_name_and_tables_by_pattern() {
        let f = TableFilter::new(&["sales".into(), "hr".into()], &["hr".into()], Some("^ord"), Some("_tmp$")).unwrap();
        assert!(f.keeps(&id("sales"), &id("orders")));
        assert!(!f.keeps(&id("sales"), &id("orders_tmp")), "excluded by pattern");
        assert!(!f.keeps(&id("sales"), &id("customers")), "not included by pattern");
        assert!(!f.keeps(&id("hr"), &id("orders")), "excluded schema wins");
        assert!(!f.keeps(&id("ops"), &id("orders")), "not an included schema");
        let all = TableFilter::default();
        assert!(all.keeps(&id("any"), &id("thing")) && !all.names_schemas());
        let err = TableFilter::new(&[], &[], Some("("), None).unwrap_err();
        assert_eq!(err.details[0].field, "include_tables_regex");
        assert!(pattern("pattern", &"a".repeat(1001)).is_err());
        assert!(TableFilter::new(&["no-such thing".into()], &[], None, None).is_err());
    }
}
