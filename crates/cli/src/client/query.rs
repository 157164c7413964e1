//! `lakeward sql` and `lakeward rows get|insert`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE};
use serde::Deserialize;

use super::output::{self, Row, Table, copy_to_stdout, print_answer, print_json};
use super::{Connection, Ctx, TableName, file_body, read_stdin};

/// How rows are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table
    Table,
    /// CSV with a header, as the server writes it
    Csv,
    /// A JSON array of row objects
    Json,
    /// One JSON object a line, as the server writes it
    Ndjson,
}

impl Format {
    /// The answer asked of the server: JSON for what the client renders itself, else the
    /// format printed, copied through as it streams.
    fn accept(self) -> &'static str {
        match self {
            Format::Table | Format::Json => "application/json",
            Format::Csv => "text/csv",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The query (`-` reads it from stdin)
    query: String,
    /// How to print the rows (`--json` prints the server's whole answer instead)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Deserialize)]
struct SqlAnswer {
    columns: Vec<Column>,
    rows: Vec<Row>,
}

#[derive(Debug, Deserialize)]
struct Column {
    name: String,
}

pub async fn sql(ctx: &Ctx, args: SqlArgs) -> anyhow::Result<()> {
    let query = if args.query == "-" { read_stdin()? } else { args.query };
    let format = if ctx.json { Format::Json } else { args.format };
    let request =
        ctx.api.post(&["v1", "sql"]).header(ACCEPT, format.accept()).json(&serde_json::json!({ "query": query }));
    let response = ctx.api.send(request).await?;
    if ctx.json {
        return print_answer(response).await;
    }
    match format {
        Format::Csv | Format::Ndjson => copy_to_stdout(response).await,
        Format::Json | Format::Table => {
            let bytes = response.bytes().await.context("the answer broke off")?;
            let answer: SqlAnswer = serde_json::from_slice(&bytes).context("the answer is not the JSON expected")?;
            if format == Format::Json {
                return print_json(&answer.rows);
            }
            let columns: Vec<String> = answer.columns.into_iter().map(|c| c.name).collect();
            Table::of_rows(&columns, &answer.rows).print()?;
            say!("({})", output::count(answer.rows.len(), "row", "rows"))?;
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct RowsArgs {
    #[command(flatten)]
    pub conn: Connection,
    #[command(subcommand)]
    command: RowsCommand,
}

#[derive(Debug, Subcommand)]
enum RowsCommand {
    /// Read rows through the PostgREST grammar.
    Get(GetArgs),
    /// Insert the rows of a file (JSON, NDJSON, CSV or Arrow IPC), as one commit.
    Insert(InsertArgs),
}

#[derive(Debug, Args)]
struct GetArgs {
    /// The table, `catalog.schema.table`
    table: TableName,
    /// A filter, `column=operator.value` (`id=eq.1`, `age=gte.18`, `name=like.A*`,
    /// `id=in.(1,2)`, `note=is.null`, `country=not.eq.DE`), or `or=(a.eq.1,b.eq.2)`;
    /// repeat for more (all must hold)
    #[arg(long = "filter", short = 'f', value_name = "COLUMN=OP.VALUE")]
    filters: Vec<String>,
    /// Columns to return, comma-separated
    #[arg(long)]
    select: Option<String>,
    /// Sort order: `name.desc.nullslast,id`
    #[arg(long)]
    order: Option<String>,
    /// At most this many rows
    #[arg(long)]
    limit: Option<u64>,
    /// Skip this many rows first
    #[arg(long)]
    offset: Option<u64>,
    /// Read the table as it was at this version
    #[arg(long)]
    version: Option<u64>,
    /// How to print the rows (`--json` prints the server's JSON answer)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Args)]
struct InsertArgs {
    /// The table, `catalog.schema.table`
    table: TableName,
    /// The rows: `.json` (an array of objects), `.ndjson`/`.jsonl`, `.csv` (with a header)
    /// or `.arrow`/`.arrows` (an Arrow IPC stream)
    #[arg(long)]
    file: PathBuf,
    /// The file's format, when its extension does not say
    #[arg(long, value_parser = ["json", "ndjson", "csv", "arrow"])]
    format: Option<String>,
    /// Update rows whose primary key exists instead of refusing them (an upsert)
    #[arg(long)]
    upsert: bool,
    /// Makes a retry with the same key write nothing twice
    #[arg(long)]
    idempotency_key: Option<String>,
}

pub async fn rows(ctx: &Ctx, args: RowsArgs) -> anyhow::Result<()> {
    match args.command {
        RowsCommand::Get(get) => read(ctx, get).await,
        RowsCommand::Insert(insert) => write(ctx, insert).await,
    }
}

/// The query string of a read: each filter is one `column=operator.value` parameter.
fn read_query(args: &GetArgs) -> anyhow::Result<Vec<(String, String)>> {
    let mut query = Vec::new();
    for filter in &args.filters {
        let Some((column, condition)) = filter.split_once('=').filter(|(c, v)| !c.is_empty() && !v.is_empty()) else {
            bail!("`--filter {filter}` is not a filter: give column=operator.value, e.g. id=eq.1");
        };
        query.push((column.trim().to_owned(), condition.to_owned()));
    }
    let named = [
        ("select", args.select.clone()),
        ("order", args.order.clone()),
        ("limit", args.limit.map(|n| n.to_string())),
        ("offset", args.offset.map(|n| n.to_string())),
        ("version", args.version.map(|n| n.to_string())),
    ];
    query.extend(named.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))));
    Ok(query)
}

async fn read(ctx: &Ctx, args: GetArgs) -> anyhow::Result<()> {
    let format = if ctx.json { Format::Json } else { args.format };
    let query = read_query(&args)?;
    let request = ctx.api.get(&args.table.path(&["rows"])).query(&query).header(ACCEPT, format.accept());
    let response = ctx.api.send(request).await?;
    if ctx.json {
        return print_answer(response).await;
    }
    match format {
        Format::Csv | Format::Ndjson => copy_to_stdout(response).await,
        Format::Json | Format::Table => {
            let bytes = response.bytes().await.context("the answer broke off")?;
            let rows: Vec<Row> = serde_json::from_slice(&bytes).context("the answer is not the JSON expected")?;
            if format == Format::Json {
                return print_json(&rows);
            }
            // The columns asked for, else those of the first row, in the answer's order.
            let columns: Vec<String> = match (&args.select, rows.first()) {
                (Some(select), _) => select.split(',').map(|c| c.trim().to_owned()).collect(),
                (None, Some(first)) => first.keys().cloned().collect(),
                (None, None) => Vec::new(),
            };
            if !columns.is_empty() {
                Table::of_rows(&columns, &rows).print()?;
            }
            say!("({})", output::count(rows.len(), "row", "rows"))?;
            Ok(())
        }
    }
}

/// The `Content-Type` of a rows file, by its format or extension.
fn content_type(file: &std::path::Path, format: Option<&str>) -> anyhow::Result<&'static str> {
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let named = format.unwrap_or(extension.as_str());
    Ok(match named {
        "json" => "application/json",
        "ndjson" | "jsonl" => "application/x-ndjson",
        "csv" => "text/csv",
        "arrow" | "arrows" => "application/vnd.apache.arrow.stream",
        "parquet" => bail!(
            "rows are inserted from JSON, NDJSON, CSV or Arrow IPC; import a Parquet file with `lakeward import {} --table <catalog.schema.table>`",
            file.display()
        ),
        _ => bail!(
            "cannot tell the format of {} from its extension: give --format json, ndjson, csv or arrow",
            file.display()
        ),
    })
}

#[derive(Debug, Deserialize)]
struct WriteSummary {
    version: Option<u64>,
    rows: u64,
    replayed: bool,
}

async fn write(ctx: &Ctx, args: InsertArgs) -> anyhow::Result<()> {
    let content_type = content_type(&args.file, args.format.as_deref())?;
    let (body, len, progress) = file_body(&args.file).await?;
    let mut request = ctx
        .api
        .post(&args.table.path(&["rows"]))
        .header(CONTENT_TYPE, content_type)
        // Known up front, so the server can spool a large body straight to disk.
        .header(CONTENT_LENGTH, len)
        .body(body);
    if args.upsert {
        request = request.header("prefer", "resolution=merge-duplicates");
    }
    if let Some(key) = &args.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let response = match ctx.api.send(request).await {
        Ok(response) => response,
        Err(e) => {
            progress.abandon();
            return Err(e);
        }
    };
    progress.finish();
    if ctx.json {
        return print_answer(response).await;
    }
    let bytes = response.bytes().await.context("the answer broke off")?;
    let summary: WriteSummary = serde_json::from_slice(&bytes).context("the answer is not the JSON expected")?;
    let rows = output::count(summary.rows as usize, "row", "rows");
    let version = summary.version.map(|v| format!(" (version {v})")).unwrap_or_default();
    if summary.replayed {
        say!("Already written with this idempotency key: {rows} in {}{version}; nothing written again", args.table)?;
    } else {
        let verb = if args.upsert { "Upserted" } else { "Inserted" };
        say!("{verb} {rows} into {}{version}", args.table)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        get: GetArgs,
    }

    #[test]
    fn filters_become_one_parameter_each() {
        let probe = Probe::parse_from([
            "x",
            "main.crm.people",
            "-f",
            "id=gte.2",
            "--filter",
            "or=(a.eq.1,b.eq.2)",
            "--limit",
            "5",
            "--order",
            "id.desc",
        ]);
        let query = read_query(&probe.get).unwrap();
        let expected = [("id", "gte.2"), ("or", "(a.eq.1,b.eq.2)"), ("order", "id.desc"), ("limit", "5")];
        assert_eq!(query, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        let bad = Probe::parse_from(["x", "main.crm.people", "-f", "id"]);
        assert_eq!(
            read_query(&bad.get).unwrap_err().to_string(),
            "`--filter id` is not a filter: give column=operator.value, e.g. id=eq.1"
        );
    }

    #[test]
    fn a_rows_file_is_sent_as_its_extension_says() {
        let path = std::path::Path::new;
        assert_eq!(content_type(path("a.CSV"), None).unwrap(), "text/csv");
        assert_eq!(content_type(path("a.jsonl"), None).unwrap(), "application/x-ndjson");
        assert_eq!(content_type(path("a.txt"), Some("json")).unwrap(), "application/json");
        assert!(content_type(path("a.parquet"), None).unwrap_err().to_string().contains("lakeward import a.parquet"));
        assert!(content_type(path("rows"), None).is_err());
    }
}
