//! SQL over the caller's tables, read-only.
//!
//! The session holds only the tables the caller may read, under `catalog.schema.table`
//! (its default catalog is empty); no `information_schema`, no URL tables. Every plan is
//! checked with DataFusion's `SQLOptions` (no DDL, no DML, no statements such as SET or
//! PREPARE) after planning and before execution, EXPLAIN ANALYZE included.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, SchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SQLOptions, SessionContext};
use lakeward_model::Ident;
use url::Url;

use crate::error::{EngineError, EngineResult, Input};
use crate::state::EngineState;
use crate::table::TimeTravel;

/// Table functions a user's SQL may call. Pinned by a test so that an upgrade of
/// DataFusion cannot quietly add one that reads files (`read_csv`, `read_parquet`, ...).
pub const ALLOWED_TABLE_FUNCTIONS: &[&str] = &["generate_series", "range"];

/// A table the caller may read, the name it has in SQL, and which state of it.
#[derive(Debug, Clone)]
pub struct SqlTable {
    pub catalog: Ident,
    pub schema: Ident,
    /// The table's name, or for time travel its name with `@v<version>` or `@<timestamp>`.
    pub name: String,
    pub location: Url,
    pub at: TimeTravel,
}

pub fn sql_options() -> SQLOptions {
    SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false)
}

/// A session that can see exactly `tables`: `ctx` must be fresh (see `Engine::session`),
/// since catalogs are registered into it. Nothing is opened here: a table opens when a
/// query names it (see [`NamedTables`]), so that planning costs the same in an
/// organisation of a thousand tables as in one of one.
pub(crate) fn register_tables(
    engine: &Arc<EngineState>,
    ctx: &SessionContext,
    tables: &[SqlTable],
) -> EngineResult<()> {
    // Only vetted table functions stay reachable.
    let registered: Vec<String> = ctx.state().table_functions().keys().cloned().collect();
    for name in registered {
        if !ALLOWED_TABLE_FUNCTIONS.contains(&name.as_str()) {
            ctx.deregister_udtf(&name);
        }
    }
    let mut schemas: BTreeMap<(&str, &str), Located> = BTreeMap::new();
    for t in tables {
        schemas
            .entry((t.catalog.as_str(), t.schema.as_str()))
            .or_default()
            .insert(t.name.clone(), (t.location.clone(), t.at));
    }
    for ((catalog_name, schema_name), tables) in schemas {
        let catalog = match ctx.catalog(catalog_name) {
            Some(c) => c,
            None => {
                let c: Arc<dyn CatalogProvider> = Arc::new(MemoryCatalogProvider::new());
                ctx.register_catalog(catalog_name, c.clone());
                c
            }
        };
        catalog.register_schema(schema_name, Arc::new(NamedTables { engine: engine.clone(), tables }))?;
    }
    Ok(())
}

/// Name in SQL (with `@v3` or `@<timestamp>` for an earlier state) to where the table is.
type Located = HashMap<String, (Url, TimeTravel)>;

/// A schema of a query's session: the names of the tables it holds, each opened (its
/// Delta log read, its scan prepared) only when planning asks for it by name.
struct NamedTables {
    engine: Arc<EngineState>,
    tables: Located,
}

impl std::fmt::Debug for NamedTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedTables").field("tables", &self.tables.keys().collect::<Vec<_>>()).finish()
    }
}

#[async_trait::async_trait]
impl SchemaProvider for NamedTables {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        let Some((location, at)) = self.tables.get(name) else { return Ok(None) };
        let opened = async {
            let delta = self.engine.open(location, *at).await?;
            crate::scan::provider(&delta).await
        };
        // The engine's own error travels through DataFusion and is taken out again in
        // `plan`, so that a storage failure stays one.
        opened.await.map(Some).map_err(|e| DataFusionError::External(Box::new(e)))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(name)
    }
}

/// The engine error a table provider returned inside `err`, if that is what failed.
fn opening_failure(err: DataFusionError) -> Result<EngineError, DataFusionError> {
    match err {
        DataFusionError::External(source) => match source.downcast::<EngineError>() {
            Ok(engine) => Ok(*engine),
            Err(source) => Err(DataFusionError::External(source)),
        },
        DataFusionError::Context(context, inner) => {
            opening_failure(*inner).map_err(|inner| DataFusionError::Context(context, Box::new(inner)))
        }
        other => Err(other),
    }
}

/// The tables a query names, each as written (one to three parts: `[catalog, schema,
/// table]` when whole), names of common table expressions left out; `None` when the text
/// is not one statement within the size limits (planning says what is wrong with it).
/// Lets a caller look up only the tables a query needs before it is planned.
pub fn named_tables(query: &str) -> Option<Vec<Vec<String>>> {
    check_size(query).ok()?;
    let state = datafusion::execution::SessionStateBuilder::new().build();
    let statement = state.sql_to_statement(query, &datafusion::config::Dialect::Generic).ok()?;
    let references = state.resolve_table_references(&statement).ok()?;
    Some(
        references
            .into_iter()
            .map(|r| match r {
                TableReference::Bare { table } => vec![table.to_string()],
                TableReference::Partial { schema, table } => vec![schema.to_string(), table.to_string()],
                TableReference::Full { catalog, schema, table } => {
                    vec![catalog.to_string(), schema.to_string(), table.to_string()]
                }
            })
            .collect(),
    )
}

/// The longest SQL text accepted.
pub const MAX_SQL_BYTES: usize = 256 * 1024;
/// How deeply parentheses may nest in SQL.
pub const MAX_SQL_NESTING: usize = 32;
/// How many operators (`+`, `=`, `AND`, `OR`, ...) one SQL statement may hold. A chain
/// of n operators is an expression n levels deep, which planning walks recursively.
pub const MAX_SQL_OPERATORS: usize = 1000;

/// Refuses SQL past the size limits before it is parsed into a tree: a chain of 40,000
/// terms or a `WHERE` of 20,000 `OR`s parses into an expression tens of thousands of
/// levels deep, and planning or even dropping it would overflow the thread's stack.
/// Counting needs only the tokens, which the tokenizer makes without recursion.
pub(crate) fn check_size(sql: &str) -> EngineResult<()> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if sql.len() > MAX_SQL_BYTES {
        return Err(EngineError::invalid(Input::Query, format!("a query is at most {MAX_SQL_BYTES} bytes long")));
    }
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| EngineError::invalid(Input::Query, format!("not valid SQL: {e}")))?;
    let (mut depth, mut operators) = (0usize, 0usize);
    for token in &tokens {
        match token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                depth += 1;
                if depth > MAX_SQL_NESTING {
                    return Err(EngineError::invalid(
                        "query",
                        format!("parentheses nest at most {MAX_SQL_NESTING} levels deep in a query"),
                    ));
                }
            }
            Token::RParen | Token::RBracket | Token::RBrace => depth = depth.saturating_sub(1),
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::DuckIntDiv
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Spaceship
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret => operators += 1,
            Token::Word(w)
                if matches!(
                    w.keyword,
                    Keyword::AND | Keyword::OR | Keyword::NOT | Keyword::BETWEEN | Keyword::WHEN
                ) =>
            {
                operators += 1
            }
            _ => {}
        }
        if operators > MAX_SQL_OPERATORS {
            return Err(EngineError::invalid(
                "query",
                format!("a query holds at most {MAX_SQL_OPERATORS} operators (use IN (...) for long lists of values)"),
            ));
        }
    }
    Ok(())
}

/// Plans one statement and checks it is a query. The error never names storage, and
/// speaks of the query as written, not of DataFusion's session.
pub(crate) async fn plan(ctx: &SessionContext, sql: &str) -> EngineResult<LogicalPlan> {
    let state = ctx.state();
    let statement = state
        .sql_to_statement(sql, &datafusion::config::Dialect::Generic)
        .map_err(|e| EngineError::invalid(Input::Query, parse_message(&e)))?;
    refuse_before_planning(&statement)?;
    // DataFusion names a missing table as it resolved it (`datafusion.public.customers`);
    // keep what the query wrote, to say it back.
    let defaults = &state.config_options().catalog;
    let written: Vec<(String, TableReference)> = state
        .resolve_table_references(&statement)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.clone().resolve(&defaults.default_catalog, &defaults.default_schema).to_string(), r))
        .collect();
    let plan = state.statement_to_plan(statement).await.map_err(|e| {
        let e = match opening_failure(e) {
            Ok(engine) => return engine,
            Err(e) => e,
        };
        let text = e.to_string();
        match written.iter().find(|(resolved, _)| text.contains(&format!("table '{resolved}' not found"))) {
            Some((_, table)) => EngineError::invalid(Input::Query, missing_table_message(ctx, table)),
            None => EngineError::from(e),
        }
    })?;
    sql_options().verify_plan(&plan).map_err(|e| EngineError::NotAllowed(forbidden_message(&e.to_string())))?;
    Ok(plan)
}

/// DataFusion's own statements that are never queries, refused before planning: planning
/// them can fail for reasons of their own (a COPY to a path without a file type), which
/// would hide that they are not allowed at all.
fn refuse_before_planning(statement: &datafusion::sql::parser::Statement) -> EngineResult<()> {
    use datafusion::sql::parser::Statement as S;
    match statement {
        S::CopyTo(_) => Err(EngineError::NotAllowed(forbidden_message("dml"))),
        S::CreateExternalTable(_) => Err(EngineError::NotAllowed(forbidden_message("ddl"))),
        S::Reset(_) => Err(EngineError::NotAllowed(forbidden_message("statement"))),
        S::Explain(explain) => refuse_before_planning(&explain.statement),
        S::Statement(statement) => refuse_sql_before_planning(statement),
    }
}

fn refuse_sql_before_planning(statement: &datafusion::sql::sqlparser::ast::Statement) -> EngineResult<()> {
    use datafusion::sql::sqlparser::ast::Statement as S;
    match statement {
        S::Insert(_) | S::Update(_) | S::Delete(_) | S::Merge(_) | S::Copy { .. } => {
            Err(EngineError::NotAllowed(forbidden_message("dml")))
        }
        S::Explain { statement, .. } => refuse_sql_before_planning(statement),
        // Everything else is planned, and the plan checked against `sql_options`.
        _ => Ok(()),
    }
}

/// A parse error as a plain sentence (DataFusion shows `SQL error: ParserError("...")`).
pub(crate) fn parse_message(e: &DataFusionError) -> String {
    use datafusion::sql::sqlparser::parser::ParserError as P;
    match e.find_root() {
        DataFusionError::SQL(parser, _) => match parser.as_ref() {
            P::TokenizerError(m) | P::ParserError(m) => format!("not valid SQL: {m}"),
            P::RecursionLimitExceeded => "not valid SQL: the query nests too deeply".to_owned(),
        },
        DataFusionError::NotImplemented(m) if m.contains("single SQL statement") => {
            "give one SQL statement; this query has several".to_owned()
        }
        DataFusionError::Plan(m) if m.contains("No SQL statements") => "give one SQL statement".to_owned(),
        other => crate::redact::paths(&other.message()),
    }
}

/// Names the missing table as written and says how tables are named: the session holds
/// only the caller's tables, so suggesting one of the same name reveals nothing.
fn missing_table_message(ctx: &SessionContext, table: &TableReference) -> String {
    let written = table.to_string();
    if table.catalog().is_some() {
        return format!("table `{written}` not found");
    }
    let same_name = ctx.catalog_names().into_iter().find_map(|c| {
        let catalog = ctx.catalog(&c)?;
        catalog.schema_names().into_iter().find_map(|s| {
            let found = catalog.schema(&s)?.table_exist(table.table());
            found.then(|| format!("{c}.{s}.{}", table.table()))
        })
    });
    match same_name {
        Some(full) => format!("table `{written}` not found; name tables as `catalog.schema.table`, e.g. `{full}`"),
        None => format!("table `{written}` not found; name tables as `catalog.schema.table`"),
    }
}

fn forbidden_message(raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let what = if lower.contains("ddl") {
        "DDL statements (CREATE, DROP, ALTER, ...)"
    } else if lower.contains("dml") {
        "statements that change data (INSERT, UPDATE, DELETE, COPY, ...)"
    } else {
        "session statements (SET, PREPARE, EXECUTE, ...)"
    };
    format!("Only queries are allowed here: {what} are refused")
}

/// The tables a plan reads, as `catalog.schema.table`.
pub(crate) fn tables_read(plan: &LogicalPlan) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            seen.insert(scan.table_name.to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    seen.into_iter().collect()
}

pub(crate) fn is_explain(plan: &LogicalPlan) -> bool {
    matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DataFusion's default table functions, as of the version in Cargo.lock. When an
    /// upgrade changes this list, decide for each new function whether it may read
    /// files or URLs before adding it to `ALLOWED_TABLE_FUNCTIONS`.
    #[test]
    fn named_tables_are_those_written_without_common_table_expressions() {
        let query = r#"WITH recent AS (SELECT * FROM main.crm."orders@v3") SELECT * FROM recent
            JOIN Main.CRM.Customers c ON true JOIN crm.people ON true JOIN lone ON true"#;
        let mut named = named_tables(query).unwrap();
        named.sort();
        assert_eq!(
            named,
            [vec!["crm", "people"], vec!["lone"], vec!["main", "crm", "customers"], vec!["main", "crm", "orders@v3"]]
        );
        assert_eq!(named_tables("SELECT 1").unwrap(), Vec::<Vec<String>>::new());
        assert_eq!(named_tables("SELEC nope"), None);
        assert_eq!(named_tables("SELECT 1; SELECT 2"), None);
    }

    #[tokio::test]
    async fn table_functions_are_pinned() {
        let engine = Arc::new(
            EngineState::new(&crate::EngineLimits {
                query_timeout: std::time::Duration::from_secs(5),
                memory_limit_bytes: 1 << 26,
            })
            .unwrap(),
        );
        let ctx = engine.session();
        let mut defaults: Vec<String> = ctx.state().table_functions().keys().cloned().collect();
        defaults.sort();
        assert_eq!(defaults, ["generate_series", "range"], "DataFusion's default table functions changed");
        register_tables(&engine, &ctx, &[]).unwrap();
        let mut allowed: Vec<String> = ctx.state().table_functions().keys().cloned().collect();
        allowed.sort();
        assert_eq!(allowed, ALLOWED_TABLE_FUNCTIONS);
    }
}
