//! `lakeward tables`, `describe`, `history` and `rollback`.

use std::io::IsTerminal as _;

use anyhow::bail;
use clap::Args;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::output::{self, Table, print_answer};
use super::{Connection, Ctx, TableName};

#[derive(Debug, Args)]
pub struct TablesArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// Only this catalog's tables
    #[arg(long)]
    catalog: Option<String>,
    /// Only this schema's tables (with --catalog)
    #[arg(long, requires = "catalog")]
    schema: Option<String>,
    /// At most this many (1 to 1000)
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    /// Skip this many first
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

#[derive(Debug, Deserialize)]
struct TableList {
    tables: Vec<TableSummary>,
    total: u64,
    offset: u64,
}

#[derive(Debug, Deserialize)]
struct TableSummary {
    catalog: String,
    schema_name: String,
    table_name: String,
    created_at: String,
}

pub async fn list(ctx: &Ctx, args: TablesArgs) -> anyhow::Result<()> {
    let mut query: Vec<(&str, String)> = vec![("limit", args.limit.to_string()), ("offset", args.offset.to_string())];
    query.extend(args.catalog.map(|c| ("catalog", c)));
    query.extend(args.schema.map(|s| ("schema", s)));
    let request = ctx.api.get(&["v1", "tables"]).query(&query);
    if ctx.json {
        return print_answer(ctx.api.send(request).await?).await;
    }
    let list: TableList = ctx.api.json(request).await?;
    let mut table = Table::new(["table", "created_at"]);
    for t in &list.tables {
        table.push(vec![format!("{}.{}.{}", t.catalog, t.schema_name, t.table_name), t.created_at.clone()]);
    }
    table.print()?;
    let shown = list.tables.len() as u64;
    if shown < list.total {
        say!("({shown} of {} tables; --offset {} for more)", list.total, list.offset + shown)?;
    } else {
        say!("({})", output::count(list.tables.len(), "table", "tables"))?;
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The table, `catalog.schema.table`
    table: TableName,
    /// Describe the table as it was at this version
    #[arg(long)]
    version: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Description {
    description: Option<String>,
    version: u64,
    num_rows: u64,
    num_files: u64,
    file_size: u64,
    schema: Fields,
    primary_key: Vec<String>,
    partition_columns: Vec<String>,
    constraints: Vec<Constraint>,
}

#[derive(Debug, Deserialize)]
struct Fields {
    fields: Vec<Field>,
}

#[derive(Debug, Deserialize)]
struct Field {
    name: String,
    #[serde(rename = "type")]
    column_type: String,
    nullable: bool,
    comment: Option<String>,
    domain: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Constraint {
    name: String,
    expr: String,
}

pub async fn describe(ctx: &Ctx, args: DescribeArgs) -> anyhow::Result<()> {
    let mut request = ctx.api.get(&args.table.path(&[]));
    if let Some(version) = args.version {
        request = request.query(&[("version", version)]);
    }
    if ctx.json {
        return print_answer(ctx.api.send(request).await?).await;
    }
    let d: Description = ctx.api.json(request).await?;
    say!(
        "{}: version {}, {}, {}, {}",
        args.table,
        d.version,
        output::count(d.num_rows as usize, "row", "rows"),
        output::count(d.num_files as usize, "file", "files"),
        output::bytes(d.file_size)
    )?;
    if let Some(description) = &d.description {
        say!("{description}")?;
    }
    if !d.primary_key.is_empty() {
        say!("primary key: {}", d.primary_key.join(", "))?;
    }
    if !d.partition_columns.is_empty() {
        say!("partitioned by: {}", d.partition_columns.join(", "))?;
    }
    say!()?;
    let mut columns = Table::new(["column", "type", "nullable", "domain", "comment"]);
    for f in &d.schema.fields {
        let domain = f.domain.as_ref().map(domain_summary).unwrap_or_default();
        let nullable = if f.nullable { "yes" } else { "no" };
        columns.push(vec![
            f.name.clone(),
            f.column_type.clone(),
            nullable.into(),
            domain,
            f.comment.clone().unwrap_or_default(),
        ]);
    }
    columns.print()?;
    if !d.constraints.is_empty() {
        say!("\nconstraints:")?;
        for c in &d.constraints {
            say!("  {}: CHECK ({})", c.name, c.expr)?;
        }
    }
    Ok(())
}

/// A domain in a few words: its type and, for a fixed list, its values.
fn domain_summary(domain: &Value) -> String {
    let kind = domain.get("type").and_then(Value::as_str).unwrap_or("domain");
    match domain.get("allowed_values").and_then(Value::as_array) {
        Some(values) => {
            let values: Vec<&str> = values.iter().filter_map(|v| v.get("value").and_then(Value::as_str)).collect();
            format!("{kind}: {}", values.join(", "))
        }
        None => kind.to_owned(),
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The table, `catalog.schema.table`
    table: TableName,
    /// At most this many commits (1 to 1000)
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Commit {
    version: u64,
    timestamp: Option<i64>,
    user_name: Option<String>,
    operation: Option<String>,
}

pub async fn history(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<()> {
    let request = ctx.api.get(&args.table.path(&["history"])).query(&[("limit", args.limit)]);
    if ctx.json {
        return print_answer(ctx.api.send(request).await?).await;
    }
    let commits: Vec<Commit> = ctx.api.json(request).await?;
    let mut table = Table::new(["version", "timestamp", "operation", "user"]);
    for c in &commits {
        let at = c
            .timestamp
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        table.push(vec![
            c.version.to_string(),
            at,
            c.operation.clone().unwrap_or_default(),
            c.user_name.clone().unwrap_or_default(),
        ]);
    }
    table.print()?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The table, `catalog.schema.table`
    table: TableName,
    /// The version to return to
    version: u64,
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(long, short = 'y')]
    yes: bool,
}

#[derive(Debug, Deserialize)]
struct Rolledback {
    restored_version: u64,
    version: u64,
}

pub async fn rollback(ctx: &Ctx, args: RollbackArgs) -> anyhow::Result<()> {
    if !args.yes {
        // A script must say it means it: nobody is there to answer the question.
        if !std::io::stdin().is_terminal() {
            bail!("refusing to roll back {} without confirmation: stdin is not a terminal; add --yes", args.table);
        }
        let question = format!(
            "Roll {} back to version {}? The rollback is a new commit; later versions stay in the history. [y/N] ",
            args.table, args.version
        );
        if !confirm(&question)? {
            bail!("rollback not confirmed; nothing changed");
        }
    }
    let version = args.version.to_string();
    let request = ctx.api.request(Method::PUT, &args.table.path(&["rollback", &version]));
    if ctx.json {
        return print_answer(ctx.api.send(request).await?).await;
    }
    let done: Rolledback = ctx.api.json(request).await?;
    say!("Rolled {} back to version {}: new version {}", args.table, done.restored_version, done.version)?;
    Ok(())
}

fn confirm(question: &str) -> anyhow::Result<bool> {
    let term = console::Term::stderr();
    term.write_str(question)?;
    let answer = term.read_line()?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
