//! What a catalog holds: statistics (sizes, rows, files, the largest tables) and a search
//! of its table and column names. Both read only the tables' logs.

use axum::extract::{Path, State};
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::query::Query;
use crate::services::scope::{self, Scope, TableFilter};
use crate::state::SharedState;
use crate::table_access::ident_in_path;

pub fn router() -> OpenApiRouter<SharedState> {
    OpenApiRouter::new().routes(routes!(catalog_stats)).routes(routes!(catalog_search))
}

/// Comma-separated names, e.g. `sales,hr`.
fn names(raw: Option<&str>) -> Vec<String> {
    raw.map(|r| r.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
}

/// Authorizes reading the organisation's tables; the path's catalog and the schemas the
/// query's comma-separated lists select.
fn catalog_scope(
    principal: &Principal,
    catalog: &str,
    include_schemas: Option<&str>,
    exclude_schemas: Option<&str>,
) -> ApiResult<(Scope, TableFilter)> {
    authorize(principal, Action::TablesRead, &Resource::Table { org_id: principal.org_id })?;
    let scope = Scope { catalog: ident_in_path("catalog", catalog)?, schema: None };
    let filter = TableFilter::new(&names(include_schemas), &names(exclude_schemas), None, None)?;
    Ok((scope, filter))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Only these schemas (comma-separated).
    pub include_schemas: Option<String>,
    /// Not these schemas (comma-separated).
    pub exclude_schemas: Option<String>,
    /// How many of the largest tables to list (1 to 1,000, default 10).
    pub top: Option<usize>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Sizes {
    pub tables: u64,
    /// By the files' statistics.
    pub rows: u64,
    pub bytes: u64,
    pub files: u64,
    /// Files under 1 MiB (what optimize compacts).
    pub small_files: u64,
}

impl Sizes {
    fn add(&mut self, other: &Sizes) {
        self.tables += other.tables;
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.files += other.files;
        self.small_files += other.small_files;
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaStats {
    pub schema: String,
    #[serde(flatten)]
    pub sizes: Sizes,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableStats {
    /// `schema.table`.
    pub table: String,
    pub version: u64,
    pub rows: u64,
    pub bytes: u64,
    pub files: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unreadable {
    pub table: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogStats {
    pub catalog: String,
    /// The whole catalog (the schemas selected).
    #[serde(flatten)]
    pub sizes: Sizes,
    pub schemas: Vec<SchemaStats>,
    /// The largest tables by bytes.
    pub top_tables: Vec<TableStats>,
    /// Tables whose log could not be read (left out of the sums).
    pub unreadable: Vec<Unreadable>,
}

/// A catalog's sizes, row counts and file counts, per schema and in all, and its largest
/// tables, from the tables' logs (`tables:read`).
#[utoipa::path(get, path = "/v1/catalogs/{catalog}/stats", tag = "catalogs", security(("bearer" = [])),
    params(("catalog" = String, Path), StatsQuery), responses((status = 200, body = CatalogStats)))]
pub async fn catalog_stats(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(catalog): Path<String>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<axum::Json<CatalogStats>> {
    let top = query.top.unwrap_or(10);
    if !(1..=1000).contains(&top) {
        return Err(ApiError::invalid_field("top", "must be 1 to 1000"));
    }
    let (scope, filter) =
        catalog_scope(&principal, &catalog, query.include_schemas.as_deref(), query.exclude_schemas.as_deref())?;
    let schemas = scope::schemas(&state, principal.org_id, &scope, &filter).await?;
    let tables = scope::tables(&state, principal.org_id, &scope, &filter).await?;
    let mut stats = CatalogStats {
        catalog: scope.catalog.to_string(),
        sizes: Sizes::default(),
        schemas: schemas.iter().map(|s| SchemaStats { schema: s.to_string(), sizes: Sizes::default() }).collect(),
        top_tables: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut all = Vec::new();
    for (entry, described) in scope::describe(&state, tables).await {
        let name = format!("{}.{}", entry.table.schema, entry.table.table);
        let table = match described {
            Ok(table) => table,
            Err(e) => {
                stats.unreadable.push(Unreadable { table: name, message: e.message });
                continue;
            }
        };
        let sizes = Sizes {
            tables: 1,
            rows: table.num_rows,
            bytes: table.file_size,
            files: table.num_files,
            small_files: table.small_files,
        };
        stats.sizes.add(&sizes);
        if let Some(schema) = stats.schemas.iter_mut().find(|s| s.schema == entry.table.schema.as_str()) {
            schema.sizes.add(&sizes);
        }
        all.push(TableStats {
            table: name,
            version: table.version,
            rows: sizes.rows,
            bytes: sizes.bytes,
            files: sizes.files,
        });
    }
    all.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.table.cmp(&b.table)));
    all.truncate(top);
    stats.top_tables = all;
    Ok(axum::Json(stats))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// A regular expression (Rust `regex` syntax, unanchored; `(?i)` for any case),
    /// matched against table names and, with `search_columns`, column names.
    pub pattern: String,
    /// Also search column names (default false).
    #[serde(default)]
    pub search_columns: bool,
    pub include_schemas: Option<String>,
    pub exclude_schemas: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ColumnMatch {
    /// `schema.table`.
    pub table: String,
    pub column: String,
    #[serde(rename = "type")]
    pub column_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub catalog: String,
    pub pattern: String,
    /// Tables whose name matches, `schema.table`.
    pub tables: Vec<String>,
    /// Columns whose name matches (with `search_columns`).
    pub columns: Vec<ColumnMatch>,
}

/// Tables (and columns) of a catalog whose names match a regular expression (`tables:read`).
#[utoipa::path(get, path = "/v1/catalogs/{catalog}/search", tag = "catalogs", security(("bearer" = [])),
    params(("catalog" = String, Path), SearchQuery), responses((status = 200, body = SearchResponse)))]
pub async fn catalog_search(
    State(state): State<SharedState>,
    Auth(principal): Auth,
    Path(catalog): Path<String>,
    Query(query): Query<SearchQuery>,
) -> ApiResult<axum::Json<SearchResponse>> {
    let (scope, filter) =
        catalog_scope(&principal, &catalog, query.include_schemas.as_deref(), query.exclude_schemas.as_deref())?;
    let pattern = scope::pattern("pattern", &query.pattern)?;
    let tables = scope::tables(&state, principal.org_id, &scope, &filter).await?;
    let name = |entry: &lakeward_meta::store::TableEntry| format!("{}.{}", entry.table.schema, entry.table.table);
    let matching = tables.iter().filter(|t| pattern.is_match(t.table.table.as_str())).map(name).collect();
    let mut columns = Vec::new();
    if query.search_columns {
        for (entry, described) in scope::describe(&state, tables).await {
            // A table whose log cannot be read has no columns to show.
            let Ok(table) = described else { continue };
            columns.extend(table.columns.into_iter().filter(|c| pattern.is_match(&c.name)).map(|c| ColumnMatch {
                table: name(&entry),
                column: c.name,
                column_type: c.column_type,
            }));
        }
    }
    Ok(axum::Json(SearchResponse {
        catalog: scope.catalog.to_string(),
        pattern: query.pattern,
        tables: matching,
        columns,
    }))
}
