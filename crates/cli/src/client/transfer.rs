//! `lakeward import` (a file uploaded from disk, then its job followed to the end) and
//! `lakeward export` (a table streamed to a file chunk by chunk).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use futures::StreamExt as _;
use reqwest::header::CONTENT_LENGTH;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use super::jobs::{self, JobView};
use super::output::{self, print_json};
use super::progress::{Progress, Unit};
use super::{Connection, Ctx, TableName, file_body};

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The file: CSV, Parquet (`.parquet`) or an Arrow IPC stream (`.arrows`)
    file: PathBuf,
    /// The table to import into, `catalog.schema.table`; created when it does not exist
    #[arg(long)]
    table: TableName,
    /// The file's format, when its extension does not say
    #[arg(long, value_parser = ["csv", "parquet", "arrow"])]
    format: Option<String>,
    /// CSV: the field delimiter (`\t` for tab)
    #[arg(long)]
    delimiter: Option<String>,
    /// CSV: the first line is data, not a header
    #[arg(long)]
    no_header: bool,
    /// A new table: its primary key, comma-separated (with the inferred schema)
    #[arg(long)]
    primary_key: Option<String>,
    /// A new table: its definition as JSON (as `POST /v1/tables/...` takes), instead of the inferred one
    #[arg(long, value_name = "FILE")]
    schema_file: Option<PathBuf>,
    /// A new table: give string columns with few distinct values the proposed domains
    #[arg(long)]
    apply_domains: bool,
    /// Start the import and print its job without following it
    #[arg(long)]
    no_wait: bool,
}

pub async fn import(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    let mut form = Form::new();
    let mut fields: Vec<(&str, String)> = Vec::new();
    fields.extend(args.format.clone().map(|f| ("format", f)));
    fields.extend(args.delimiter.clone().map(|d| ("delimiter", d)));
    if args.no_header {
        fields.push(("hasHeader", "false".into()));
    }
    fields.extend(args.primary_key.clone().map(|k| ("primaryKey", k)));
    if let Some(path) = &args.schema_file {
        let schema = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        fields.push(("schema", schema));
    }
    if args.apply_domains {
        fields.push(("applyDomains", "true".into()));
    }
    for (name, value) in fields {
        form = form.text(name, value);
    }
    let (body, len, upload) = file_body(&args.file).await?;
    // The server tells the format by the file's name, so the part keeps it.
    let file_name = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "upload".into());
    form = form.part("file", Part::stream_with_length(body, len).file_name(file_name));
    let request = ctx.api.post(&args.table.path(&["import"])).multipart(form);
    let started: JobView = match ctx.api.json(request).await {
        Ok(job) => job,
        Err(e) => {
            upload.abandon();
            return Err(e);
        }
    };
    upload.finish();
    let job = if args.no_wait { started.raw } else { jobs::succeeded(jobs::follow(&ctx.api, &started.id).await?)? };
    if ctx.json {
        return print_json(&job);
    }
    let job = JobView::from_value(job)?;
    if args.no_wait {
        say!("Import started: job {} (follow it with `lakeward jobs watch {}`)", job.id, job.id)?;
        return Ok(());
    }
    let rows = output::count(job.rows_written as usize, "row", "rows");
    let version = job.version.map(|v| format!(" (version {v})")).unwrap_or_default();
    say!("Imported {rows} into {}{version}", args.table)?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Parquet,
    Csv,
    Json,
    Ndjson,
    Arrow,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Arrow => "arrow",
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub conn: Connection,
    /// The table, `catalog.schema.table`
    table: TableName,
    /// The file's format
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    format: ExportFormat,
    /// The file to write (`-` for stdout); replaced only once the export is complete
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// Export the table as it was at this version
    #[arg(long)]
    version: Option<u64>,
}

/// Chunks are written through a buffer this large: the answer arrives in chunks of a few
/// KiB, and a write per chunk would cost a system call each.
const WRITE_BUFFER: usize = 1 << 20;

pub async fn export(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    let to_stdout = args.output.as_os_str() == "-";
    let mut query = vec![("format", args.format.name().to_owned())];
    query.extend(args.version.map(|v| ("version", v.to_string())));
    let response = ctx.api.send(ctx.api.get(&args.table.path(&["export"])).query(&query)).await?;
    let total = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let download = Progress::new("download", Unit::Bytes, total);
    let (target, mut out): (_, Box<dyn std::io::Write>) = if to_stdout {
        (None, Box::new(std::io::BufWriter::with_capacity(WRITE_BUFFER, std::io::stdout())))
    } else {
        let (partial, file) = Partial::create(&args.output)?;
        (Some(partial), Box::new(std::io::BufWriter::with_capacity(WRITE_BUFFER, file)))
    };
    let mut written: u64 = 0;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                download.abandon();
                // A stream that breaks off is an incomplete file: none is left behind.
                bail!("the export of {} broke off after {}: {e}", args.table, output::bytes(written));
            }
        };
        out.write_all(&chunk).context("cannot write the export")?;
        written += chunk.len() as u64;
        download.inc(chunk.len() as u64);
    }
    out.flush().context("cannot write the export")?;
    drop(out);
    if let Some(partial) = target {
        partial.complete()?;
    }
    download.finish();
    let file = if to_stdout { "stdout".to_owned() } else { args.output.display().to_string() };
    let summary =
        json!({ "table": args.table.to_string(), "format": args.format.name(), "file": file, "bytes": written });
    if ctx.json && !to_stdout {
        return print_json(&summary);
    }
    let line = format!("Exported {} to {file} ({}, {})", args.table, args.format.name(), output::bytes(written));
    // With the data on stdout, the summary goes to stderr.
    if to_stdout {
        eprintln!("{line}")
    } else {
        say!("{line}")?
    }
    Ok(())
}

/// The export written beside its target and renamed over it once complete, so a failed
/// export leaves no truncated file that looks like a whole one (or the old file intact).
struct Partial {
    temp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Partial {
    fn create(target: &Path) -> anyhow::Result<(Self, std::fs::File)> {
        let name = target.file_name().with_context(|| format!("{} is not a file name", target.display()))?;
        let temp = target.with_file_name(format!(".{}.part", name.to_string_lossy()));
        let file = std::fs::File::create(&temp).with_context(|| format!("cannot create {}", temp.display()))?;
        Ok((Self { temp, target: target.to_owned(), done: false }, file))
    }

    fn complete(mut self) -> anyhow::Result<()> {
        std::fs::rename(&self.temp, &self.target).with_context(|| format!("cannot write {}", self.target.display()))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incomplete_export_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.parquet");
        std::fs::write(&target, b"old").unwrap();
        let (partial, mut file) = Partial::create(&target).unwrap();
        file.write_all(b"half").unwrap();
        drop((partial, file));
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let (partial, mut file) = Partial::create(&target).unwrap();
        file.write_all(b"new").unwrap();
        drop(file);
        partial.complete().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
