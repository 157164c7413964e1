//! What the generated fields do: each resolver authorizes through the one authorization
//! function and calls the engine operation (or service) REST calls for the same thing.
//! Rows travel as the JSON objects the engine renders for REST, so values look the same on
//! both surfaces.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::dynamic::{FieldValue, ResolverContext};
use async_graphql::{Error, ErrorExtensions, Name, SelectionField, Value};
use axum::body::Body;
use base64::Engine as _;
use lakeward_engine::ops::rows::{Aggregate, AggregateFn, DeleteRows, FindRows, FoundRows, UpdateRows};
use lakeward_engine::{InputFormat, TimeTravel, WriteOutcome, WriteRequest};
use lakeward_meta::EventKind;
use lakeward_meta::access::{Action, Principal, Resource, authorize};
use lakeward_model::query::{CmpOp, Filter, RowQuery};

use super::filter;
use super::schema::Tables;
use super::tables::{Scalar, Table};
use crate::auth::RequestMeta;
use crate::error::{ApiError, ApiResult};
use crate::services;
use crate::state::SharedState;
use crate::table_access;

/// The most rows one list (a list field, a page of a connection, the related rows of one
/// request's relation field) holds; more is an error asking for paging, never a silent cut.
pub const MAX_LIST_ROWS: u64 = 10_000;

type Result<T> = std::result::Result<T, Error>;
/// A row as the engine renders it in JSON.
pub type Row = Arc<serde_json::Map<String, serde_json::Value>>;

/// One GraphQL request: who asks, from where, and how many engine reads it took.
pub struct Call {
    pub state: SharedState,
    pub principal: Principal,
    pub meta: RequestMeta,
    pub idempotency_key: Option<String>,
    pub engine_reads: AtomicU64,
}

impl Call {
    fn authorize(&self, action: Action) -> ApiResult<()> {
        Ok(authorize(&self.principal, action, &Resource::Table { org_id: self.principal.org_id })?)
    }

    async fn find(&self, table: &Table, at: TimeTravel, query: RowQuery, count: bool) -> ApiResult<FoundRows> {
        self.engine_reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.state.engine.run(FindRows { location: table.location.clone(), at, query, count }).await?)
    }
}

/// The one error shape as a GraphQL error: the message, and in `extensions` a stable
/// `code`, the REST `status`, and `details` / `requiredScope` when the REST body has them.
pub fn gql_error(e: ApiError) -> Error {
    let body = e.body();
    Error::new(e.message.clone()).extend_with(|_, ext| {
        ext.set("code", code(e.status));
        ext.set("status", e.status.as_u16());
        if !body.details.is_empty() {
            let details = serde_json::to_value(&body.details).unwrap_or_default();
            ext.set("details", Value::from_json(details).unwrap_or(Value::Null));
        }
        if let Some(scope) = &body.required_scope {
            ext.set("requiredScope", scope.as_str());
        }
        if let Some(rows) = body.violating_rows {
            ext.set("violatingRows", rows);
        }
    })
}

/// `extensions.code` for a REST status.
pub fn code(status: axum::http::StatusCode) -> &'static str {
    use axum::http::StatusCode as S;
    match status {
        S::BAD_REQUEST => "BAD_USER_INPUT",
        S::UNAUTHORIZED => "UNAUTHENTICATED",
        S::FORBIDDEN => "FORBIDDEN",
        S::NOT_FOUND => "NOT_FOUND",
        S::REQUEST_TIMEOUT => "TIMEOUT",
        S::CONFLICT => "CONFLICT",
        S::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        S::UNPROCESSABLE_ENTITY => "RESOURCES_EXHAUSTED",
        S::TOO_MANY_REQUESTS => "RATE_LIMITED",
        _ => "INTERNAL_SERVER_ERROR",
    }
}

fn call<'a>(ctx: &ResolverContext<'a>) -> Result<&'a Arc<Call>> {
    ctx.ctx.data::<Arc<Call>>()
}

fn arg<'a>(ctx: &'a ResolverContext<'_>, name: &str) -> Option<&'a Value> {
    ctx.args.get(name).map(|v| v.as_value()).filter(|v| !matches!(v, Value::Null))
}

fn count_arg(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<u64>> {
    match arg(ctx, name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) => Ok(Some(n)),
            None => Err(gql_error(ApiError::invalid_field(name, "must be a non-negative integer"))),
        },
        Some(_) => Err(gql_error(ApiError::invalid_field(name, "must be a non-negative integer"))),
    }
}

fn time_travel(ctx: &ResolverContext<'_>) -> Result<TimeTravel> {
    let version = count_arg(ctx, "version")?;
    let as_of = match arg(ctx, "as_of") {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    table_access::time_travel(version, as_of).map_err(gql_error)
}

fn where_arg(ctx: &ResolverContext<'_>) -> Result<Option<Filter>> {
    match arg(ctx, "where") {
        Some(value) => filter::filter(value).map_err(gql_error),
        None => Ok(None),
    }
}

/// The columns a selection needs: those it selects and those its relations join on;
/// `None` (every column) when it selects only `__typename`.
fn needed_columns(table: &Table, selection: SelectionField<'_>) -> Option<Vec<String>> {
    let mut columns: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !columns.iter().any(|c| c == name) {
            columns.push(name.to_owned());
        }
    };
    for field in selection.selection_set() {
        let name = field.name();
        if table.column(name).is_some() {
            add(name);
        } else if let Some(relation) = table.relations.iter().find(|r| r.field == name) {
            relation.pairs.iter().for_each(|(here, _)| add(here));
        }
    }
    (!columns.is_empty()).then_some(columns)
}

fn rows_value<'a>(rows: Vec<Row>) -> FieldValue<'a> {
    FieldValue::list(rows.into_iter().map(FieldValue::owned_any))
}

fn into_rows(found: Vec<serde_json::Map<String, serde_json::Value>>) -> Vec<Row> {
    found.into_iter().map(Arc::new).collect()
}

fn too_many(what: &str) -> Error {
    gql_error(ApiError::bad_request(format!(
        "{what} holds more than {MAX_LIST_ROWS} rows: page with limit and offset, or the connection's first and after"
    )))
}

#[derive(Debug, Clone, Copy)]
pub enum ReadKind {
    List,
    ByKey,
    Aggregate,
    Connection,
}

pub async fn read<'a>(ctx: &ResolverContext<'a>, table: &Arc<Table>, kind: ReadKind) -> Result<Option<FieldValue<'a>>> {
    let call = call(ctx)?;
    call.authorize(Action::TablesRead).map_err(gql_error)?;
    let at = time_travel(ctx)?;
    match kind {
        ReadKind::List => {
            let limit = count_arg(ctx, "limit")?;
            if limit.is_some_and(|l| l > MAX_LIST_ROWS) {
                return Err(gql_error(ApiError::invalid_field("limit", format!("must be at most {MAX_LIST_ROWS}"))));
            }
            let query = RowQuery {
                select: needed_columns(table, ctx.ctx.field()),
                filter: where_arg(ctx)?,
                order: filter::order(arg(ctx, "order_by")),
                limit: Some(limit.unwrap_or(MAX_LIST_ROWS + 1)),
                offset: count_arg(ctx, "offset")?.unwrap_or(0),
            };
            let found = call.find(table, at, query, false).await.map_err(gql_error)?;
            if found.rows.len() as u64 > MAX_LIST_ROWS {
                return Err(too_many("the list"));
            }
            Ok(Some(rows_value(into_rows(found.rows))))
        }
        ReadKind::ByKey => {
            let args: Vec<(Name, Value)> = ctx.args.iter().map(|(n, v)| (n.clone(), v.as_value().clone())).collect();
            let query = RowQuery {
                select: needed_columns(table, ctx.ctx.field()),
                filter: filter::by_key(table, &args),
                limit: Some(1),
                ..RowQuery::default()
            };
            let found = call.find(table, at, query, false).await.map_err(gql_error)?;
            Ok(found.rows.into_iter().next().map(|row| FieldValue::owned_any(Arc::new(row))))
        }
        ReadKind::Aggregate => Ok(Some(FieldValue::owned_any(AggregateOf { filter: where_arg(ctx)?, at }))),
        ReadKind::Connection => connection(ctx, call, table, at).await.map(Some),
    }
}

/// What a `<table>_aggregate` field asked for, computed by its `aggregate` field.
struct AggregateOf {
    filter: Option<Filter>,
    at: TimeTravel,
}

/// The aggregates computed, by `count` and `<function>.<column>`.
#[derive(Clone)]
struct Aggregated(Arc<serde_json::Map<String, serde_json::Value>>);

/// `aggregate { count min { a } … }`: every function selected, in one engine read.
pub async fn aggregate<'a>(ctx: &ResolverContext<'a>, table: &Table) -> Result<Option<FieldValue<'a>>> {
    let call = call(ctx)?;
    let of = ctx.parent_value.try_downcast_ref::<AggregateOf>()?;
    let mut functions = Vec::new();
    for field in ctx.ctx.field().selection_set() {
        let function = match field.name() {
            "count" => {
                functions.push((AggregateFn::Count, None));
                continue;
            }
            "min" => AggregateFn::Min,
            "max" => AggregateFn::Max,
            "sum" => AggregateFn::Sum,
            "avg" => AggregateFn::Avg,
            _ => continue,
        };
        for column in field.selection_set().filter(|c| table.column(c.name()).is_some()) {
            let wanted = (function, Some(column.name().to_owned()));
            if !functions.contains(&wanted) {
                functions.push(wanted);
            }
        }
    }
    if functions.is_empty() {
        return Ok(Some(FieldValue::owned_any(Aggregated(Arc::default()))));
    }
    call.engine_reads.fetch_add(1, Ordering::Relaxed);
    let op = Aggregate { location: table.location.clone(), at: of.at, filter: of.filter.clone(), functions };
    let values = call.state.engine.run(op).await.map_err(|e| gql_error(e.into()))?;
    Ok(Some(FieldValue::owned_any(Aggregated(Arc::new(values)))))
}

pub fn aggregate_count<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    aggregate_value(ctx, "count")
}

pub fn aggregate_value<'a>(ctx: &ResolverContext<'a>, key: &str) -> Result<Option<FieldValue<'a>>> {
    let values = ctx.parent_value.try_downcast_ref::<Aggregated>()?;
    Ok(values.0.get(key).cloned().and_then(|v| Value::from_json(v).ok()).map(FieldValue::value))
}

/// Fields that only group others (`min`, `pageInfo`) hand their parent on.
pub fn pass_through<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    if let Some(values) = ctx.parent_value.downcast_ref::<Aggregated>() {
        return Ok(Some(FieldValue::owned_any(values.clone())));
    }
    Ok(Some(FieldValue::owned_any(ctx.parent_value.try_downcast_ref::<Page>()?.clone())))
}

/// A page of a connection.
#[derive(Clone)]
struct Page(Arc<PageData>);

struct PageData {
    rows: Vec<Row>,
    /// The position of the first row among all matching rows.
    start: u64,
    version: u64,
    has_next: bool,
    has_previous: bool,
    total: Option<u64>,
}

struct Edge {
    row: Row,
    cursor: String,
}

/// A cursor: the version the paging reads and a row's position in it, opaque to clients.
fn cursor(version: u64, position: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("lw:{version}:{position}"))
}

fn parse_cursor(name: &str, raw: &str) -> Result<(u64, u64)> {
    let bad = || gql_error(ApiError::invalid_field(name, "not a cursor of this API"));
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let mut parts = text.strip_prefix("lw:").ok_or_else(bad)?.split(':');
    let version = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let position = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    Ok((version, position))
}

async fn connection<'a>(
    ctx: &ResolverContext<'a>,
    call: &Call,
    table: &Table,
    mut at: TimeTravel,
) -> Result<FieldValue<'a>> {
    let first = count_arg(ctx, "first")?;
    let last = count_arg(ctx, "last")?;
    for (name, n) in [("first", first), ("last", last)] {
        if n.is_some_and(|n| n > MAX_LIST_ROWS) {
            return Err(gql_error(ApiError::invalid_field(name, format!("must be at most {MAX_LIST_ROWS}"))));
        }
    }
    if first.is_some() && last.is_some() {
        return Err(gql_error(ApiError::invalid_field("last", "give first or last, not both")));
    }
    let mut cursor_at = |name: &str| -> Result<Option<u64>> {
        let Some(Value::String(raw)) = arg(ctx, name) else { return Ok(None) };
        let (version, position) = parse_cursor(name, raw)?;
        match at {
            TimeTravel::Latest => at = TimeTravel::Version(version),
            TimeTravel::Version(v) if v == version => {}
            _ => {
                return Err(gql_error(ApiError::invalid_field(
                    name,
                    "the cursor is of another version than the one asked for",
                )));
            }
        }
        Ok(Some(position))
    };
    let after = cursor_at("after")?;
    let before = cursor_at("before")?;
    let selection = ctx.ctx.field();
    let wants_total = selection.selection_set().any(|f| f.name() == "totalCount");
    let order = filter::stable_order(table, filter::order(arg(ctx, "order_by")));
    let filter = where_arg(ctx)?;
    // The window of positions [start, end) the page covers.
    let start_bound = after.map_or(0, |a| a + 1);
    let mut total = None;
    let (start, limit) = match (last, before) {
        (Some(n), Some(b)) => (b.saturating_sub(n).max(start_bound), b.min(n).min(b.saturating_sub(start_bound))),
        (Some(n), None) => {
            let counted = call
                .find(table, at, RowQuery { filter: filter.clone(), limit: Some(0), ..RowQuery::default() }, true)
                .await
                .map_err(gql_error)?;
            at = TimeTravel::Version(counted.version);
            let matching = counted.total.unwrap_or(0);
            total = Some(matching);
            let start = matching.saturating_sub(n).max(start_bound);
            (start, matching - start)
        }
        (None, before) => {
            let n = first.unwrap_or(MAX_LIST_ROWS);
            match before {
                Some(b) => (start_bound, n.min(b.saturating_sub(start_bound))),
                None => (start_bound, n),
            }
        }
    };
    let node_columns = selection
        .selection_set()
        .filter(|f| f.name() == "edges")
        .flat_map(|edges| edges.selection_set().filter(|f| f.name() == "node").collect::<Vec<_>>())
        .next()
        .and_then(|node| needed_columns(table, node));
    // Projected reads keep the ordering columns, so equal rows sort the same way.
    let select = node_columns.map(|mut columns| {
        for o in &order {
            if !columns.contains(&o.column) {
                columns.push(o.column.clone());
            }
        }
        columns
    });
    let query = RowQuery { select, filter, order, limit: Some(limit + 1), offset: start };
    let found = call.find(table, at, query, wants_total && total.is_none()).await.map_err(gql_error)?;
    let mut rows = into_rows(found.rows);
    let has_next = rows.len() as u64 > limit || before.is_some_and(|b| start + limit < b);
    if first.is_none() && last.is_none() && has_next && before.is_none() {
        return Err(too_many("the page"));
    }
    rows.truncate(limit as usize);
    let page = PageData {
        rows,
        start,
        version: found.version,
        has_next,
        has_previous: start > 0,
        total: total.or(found.total),
    };
    Ok(FieldValue::owned_any(Page(Arc::new(page))))
}

pub fn connection_edges<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    let page = &ctx.parent_value.try_downcast_ref::<Page>()?.0;
    let edges = page.rows.iter().enumerate().map(|(i, row)| {
        FieldValue::owned_any(Edge { row: row.clone(), cursor: cursor(page.version, page.start + i as u64) })
    });
    Ok(Some(FieldValue::list(edges)))
}

pub fn connection_total<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    let page = &ctx.parent_value.try_downcast_ref::<Page>()?.0;
    Ok(Some(FieldValue::value(page.total.unwrap_or(0))))
}

pub fn page_info_field<'a>(ctx: &ResolverContext<'a>, name: &str) -> Result<FieldValue<'a>> {
    let page = &ctx.parent_value.try_downcast_ref::<Page>()?.0;
    let last = page.start + page.rows.len() as u64;
    Ok(match name {
        "hasNextPage" => FieldValue::value(page.has_next),
        "hasPreviousPage" => FieldValue::value(page.has_previous),
        "startCursor" if !page.rows.is_empty() => FieldValue::value(cursor(page.version, page.start)),
        "endCursor" if !page.rows.is_empty() => FieldValue::value(cursor(page.version, last - 1)),
        _ => FieldValue::NULL,
    })
}

pub fn edge_cursor<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    Ok(Some(FieldValue::value(ctx.parent_value.try_downcast_ref::<Edge>()?.cursor.clone())))
}

pub fn edge_node<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    Ok(Some(FieldValue::owned_any(ctx.parent_value.try_downcast_ref::<Edge>()?.row.clone())))
}

/// A column of a row.
pub fn column<'a>(ctx: &ResolverContext<'a>, name: &str) -> Result<Option<FieldValue<'a>>> {
    let row = ctx.parent_value.try_downcast_ref::<Row>()?;
    Ok(match row.get(name) {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(FieldValue::value(Value::from_json(value.clone())?)),
    })
}

/// A value as text, the same way on both sides of a relation.
fn json_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The related rows one row's relation field asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelationKey {
    target: usize,
    columns: Vec<String>,
    values: Vec<String>,
}

/// Loads the related rows of every row of a request together: one engine read per
/// related table and set of join columns, however many rows ask.
pub struct RelationLoader {
    pub call: Arc<Call>,
    pub tables: Tables,
}

impl Loader<RelationKey> for RelationLoader {
    type Value = Vec<Row>;
    type Error = Error;

    async fn load(&self, keys: &[RelationKey]) -> Result<HashMap<RelationKey, Vec<Row>>> {
        self.call.authorize(Action::TablesRead).map_err(gql_error)?;
        let mut groups: HashMap<(usize, Vec<String>), Vec<&RelationKey>> = HashMap::new();
        for key in keys {
            groups.entry((key.target, key.columns.clone())).or_default().push(key);
        }
        let mut found = HashMap::new();
        for ((target, columns), keys) in groups {
            let table = &self.tables[target];
            let filter = if let [column] = columns.as_slice() {
                Filter::In { column: column.clone(), values: keys.iter().map(|k| k.values[0].clone()).collect() }
            } else {
                Filter::Or(
                    keys.iter()
                        .map(|k| {
                            Filter::And(
                                columns
                                    .iter()
                                    .zip(&k.values)
                                    .map(|(c, v)| Filter::Cmp { column: c.clone(), op: CmpOp::Eq, value: v.clone() })
                                    .collect(),
                            )
                        })
                        .collect(),
                )
            };
            // In primary-key order, so that a reverse list reads the same every time.
            let query = RowQuery {
                filter: Some(filter),
                order: filter::stable_order(table, Vec::new()),
                limit: Some(MAX_LIST_ROWS + 1),
                ..RowQuery::default()
            };
            let rows = self.call.find(table, TimeTravel::Latest, query, false).await.map_err(gql_error)?.rows;
            if rows.len() as u64 > MAX_LIST_ROWS {
                return Err(too_many("a relation field"));
            }
            for row in into_rows(rows) {
                let values: Option<Vec<String>> = columns.iter().map(|c| row.get(c).and_then(json_text)).collect();
                let Some(values) = values else { continue };
                let key = RelationKey { target, columns: columns.clone(), values };
                found.entry(key).or_insert_with(Vec::new).push(row);
            }
        }
        Ok(found)
    }
}

/// A relation field of a row: the row it names, or the rows naming it.
pub async fn relation<'a>(
    ctx: &ResolverContext<'a>,
    tables: &Tables,
    source: usize,
    index: usize,
) -> Result<Option<FieldValue<'a>>> {
    let relation = &tables[source].relations[index];
    let row = ctx.parent_value.try_downcast_ref::<Row>()?;
    let values: Option<Vec<String>> =
        relation.pairs.iter().map(|(here, _)| row.get(here).and_then(json_text)).collect();
    let rows = match values {
        None => Vec::new(),
        Some(values) => {
            let columns = relation.pairs.iter().map(|(_, there)| there.clone()).collect();
            let key = RelationKey { target: relation.target, columns, values };
            let loader = ctx.ctx.data::<DataLoader<RelationLoader>>()?;
            loader.load_one(key).await?.unwrap_or_default()
        }
    };
    Ok(if relation.many { Some(rows_value(rows)) } else { rows.into_iter().next().map(FieldValue::owned_any) })
}

#[derive(Debug, Clone, Copy)]
pub enum WriteKind {
    Insert,
    Update,
    Delete,
}

/// What a mutation answers.
struct Written {
    affected: u64,
    returning: Vec<Row>,
}

pub async fn write<'a>(ctx: &ResolverContext<'a>, table: &Table, kind: WriteKind) -> Result<Option<FieldValue<'a>>> {
    let call = call(ctx)?;
    let wants_rows = ctx.ctx.field().selection_set().any(|f| f.name() == "returning");
    let outcome = governed_write(ctx, call, table, kind, wants_rows).await.map_err(gql_error)?;
    let returning = outcome
        .returned
        .unwrap_or_default()
        .iter()
        .filter_map(|raw| returned_row(table, raw.get()))
        .map(Arc::new)
        .collect();
    Ok(Some(FieldValue::owned_any(Written { affected: outcome.rows, returning })))
}

/// A written row as a read answers it: decimals as text with their digits (`9.90`), which
/// a `serde_json` number would round to a float.
fn returned_row(table: &Table, raw: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let fields: std::collections::BTreeMap<String, &serde_json::value::RawValue> = serde_json::from_str(raw).ok()?;
    fields
        .into_iter()
        .map(|(name, value)| {
            let decimal = table.columns.iter().any(|c| c.name == name && c.scalar == Scalar::Decimal);
            let value = match value.get() {
                text if decimal && text != "null" => serde_json::Value::String(text.to_owned()),
                text => serde_json::from_str(text).ok()?,
            };
            Some((name, value))
        })
        .collect()
}

async fn governed_write(
    ctx: &ResolverContext<'_>,
    call: &Call,
    table: &Table,
    kind: WriteKind,
    return_rows: bool,
) -> ApiResult<WriteOutcome> {
    let state = &call.state;
    let principal = &call.principal;
    let action = match kind {
        WriteKind::Insert => Action::RowsInsert,
        WriteKind::Update => Action::RowsUpdate,
        WriteKind::Delete => Action::RowsDelete,
    };
    table_access::authorize_on_table(state, principal, action, &table.entry.table).await?;
    let upsert = matches!(kind, WriteKind::Insert) && arg(ctx, "on_conflict").is_some();
    if upsert {
        table_access::authorize_on_table(state, principal, Action::RowsUpdate, &table.entry.table).await?;
    }
    table_access::refuse_read_only(state, principal, &table.entry).await?;
    let filter = || match arg(ctx, "where") {
        Some(value) => filter::filter(value),
        None => Ok(None),
    };
    let request = WriteRequest {
        actor: table_access::actor(state, principal).await?,
        idempotency_key: call.idempotency_key.clone(),
        return_rows,
    };
    let location = table.location.clone();
    let (outcome, event) = match kind {
        WriteKind::Insert => {
            let objects = arg(ctx, "objects")
                .cloned()
                .unwrap_or(Value::List(Vec::new()))
                .into_json()
                .map_err(ApiError::internal)?;
            let body = serde_json::to_vec(&objects).map_err(ApiError::internal)?;
            let how = services::rows::InsertWith {
                format: InputFormat::Json,
                merge_duplicates: upsert,
                length: Some(body.len() as u64),
            };
            services::rows::insert(state, &location, how, Body::from(body), request).await?
        }
        WriteKind::Update => {
            let set = match arg(ctx, "_set").cloned().map(Value::into_json) {
                Some(Ok(serde_json::Value::Object(set))) => set,
                _ => serde_json::Map::new(),
            };
            let op = UpdateRows { location, filter: filter()?, set, request };
            (state.engine.run(op).await?, EventKind::RowsUpdated)
        }
        WriteKind::Delete => {
            let op = DeleteRows { location, filter: filter()?, request };
            (state.engine.run(op).await?, EventKind::RowsDeleted)
        }
    };
    services::rows::audit_write(state, &call.meta, principal, &table.entry.table, event, &outcome).await?;
    Ok(outcome)
}

pub fn affected_rows<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    Ok(Some(FieldValue::value(ctx.parent_value.try_downcast_ref::<Written>()?.affected)))
}

pub fn returning<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>> {
    Ok(Some(rows_value(ctx.parent_value.try_downcast_ref::<Written>()?.returning.clone())))
}
