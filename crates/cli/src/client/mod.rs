//! The command-line client: `lakeward login`, `tables`, `sql`, `rows`, `import`,
//! `export`, `history`, `rollback`, `jobs`, ... against a running server's REST API. It
//! holds no table logic: every command is one or a few requests, rendered.
//!
//! Errors print the server's message (`error: ...`, the status and `details`) on stderr
//! and exit 1; with `--json`, stdout gets the server's JSON answer and stderr the error
//! as JSON.

/// `println!` that answers the write's error instead of panicking: stdout may be a pipe
/// whose reader has gone (`lakeward sql ... | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

mod auth;
mod http;
mod jobs;
mod output;
mod profile;
mod progress;
mod query;
mod tables;
mod transfer;

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use http::{Api, ServerError, Unreachable};
use profile::{Credential, Profiles};

/// Where the client connects, as whom, and how it answers; on every client command.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connection options")]
pub struct Connection {
    /// The stored profile to use (`lakeward login --profile NAME` stores one)
    #[arg(long, env = "LAKEWARD_PROFILE", default_value = "default", global = true)]
    pub profile: String,
    /// The server's URL, instead of the profile's (`http://127.0.0.1:8080`)
    #[arg(long, env = "LAKEWARD_SERVER", global = true)]
    pub server: Option<String>,
    /// A bearer credential (session token or API key), instead of the profile's
    #[arg(long, env = "LAKEWARD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Machine-readable output: the server's JSON answer on stdout, errors as JSON on stderr
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Sign in to a server and store the credential in a profile (file mode 0600).
    Login(auth::LoginArgs),
    /// End the profile's session on the server and remove the profile.
    Logout(auth::LogoutArgs),
    /// List the organisation's tables.
    Tables(tables::TablesArgs),
    /// Describe a table: columns, key, constraints, size.
    Describe(tables::DescribeArgs),
    /// Run a read-only SQL query.
    Sql(query::SqlArgs),
    /// Read rows with filters, or insert rows from a file.
    Rows(query::RowsArgs),
    /// Import a CSV, Parquet or Arrow file into a table, as a job, with progress.
    Import(transfer::ImportArgs),
    /// Export a table to a file, streamed, with progress.
    Export(transfer::ExportArgs),
    /// A table's commits, newest first.
    History(tables::HistoryArgs),
    /// Roll a table back to an earlier version (as a new commit).
    Rollback(tables::RollbackArgs),
    /// List jobs; watch or cancel one.
    Jobs(jobs::JobsArgs),
}

impl ClientCommand {
    fn connection(&self) -> &Connection {
        match self {
            Self::Login(a) => &a.conn,
            Self::Logout(a) => &a.conn,
            Self::Tables(a) => &a.conn,
            Self::Describe(a) => &a.conn,
            Self::Sql(a) => &a.conn,
            Self::Rows(a) => &a.conn,
            Self::Import(a) => &a.conn,
            Self::Export(a) => &a.conn,
            Self::History(a) => &a.conn,
            Self::Rollback(a) => &a.conn,
            Self::Jobs(a) => &a.conn,
        }
    }
}

/// Runs a client command; the exit code says whether it succeeded.
pub async fn run(command: ClientCommand) -> ExitCode {
    let conn = command.connection().clone();
    let login = matches!(command, ClientCommand::Login(_));
    match dispatch(command).await {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout has gone (`| head`): it has all it wanted.
        Err(error) if broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // A 401 on a stored session most likely means it expired (except when logging in).
            let session = !login && conn.token.is_none() && stored_session(&conn.profile);
            report(&error, conn.json, session);
            ExitCode::FAILURE
        }
    }
}

fn broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
}

fn stored_session(profile: &str) -> bool {
    let profiles = profile::config_dir().and_then(|dir| Profiles::load(&dir));
    profiles.is_ok_and(|p| p.get(profile).is_some_and(|p| p.credential == Credential::Session))
}

async fn dispatch(command: ClientCommand) -> anyhow::Result<()> {
    let config_dir = profile::config_dir()?;
    match command {
        ClientCommand::Login(args) => auth::login(&config_dir, args).await,
        ClientCommand::Logout(args) => auth::logout(&config_dir, args).await,
        ClientCommand::Tables(args) => tables::list(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Describe(args) => tables::describe(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::History(args) => tables::history(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Rollback(args) => tables::rollback(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Sql(args) => query::sql(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Rows(args) => query::rows(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Import(args) => transfer::import(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Export(args) => transfer::export(&Ctx::new(&config_dir, &args.conn)?, args).await,
        ClientCommand::Jobs(args) => jobs::run(&Ctx::new(&config_dir, &args.conn)?, args).await,
    }
}

/// What a command needs: the API client, signed in, and the output mode.
pub struct Ctx {
    pub api: Api,
    pub json: bool,
}

impl Ctx {
    /// The server and credential: flags (or their environment variables) first, then the
    /// profile.
    fn new(config_dir: &std::path::Path, conn: &Connection) -> anyhow::Result<Self> {
        let profiles = Profiles::load(config_dir)?;
        let stored = profiles.get(&conn.profile);
        let server = conn.server.clone().or_else(|| stored.map(|p| p.server.clone()));
        let token = conn.token.clone().or_else(|| stored.map(|p| p.token.clone()));
        let login = format!("lakeward login{}", profile_flag(&conn.profile));
        let (server, token) = match (server, token) {
            (Some(server), Some(token)) => (server, token),
            (None, None) => bail!("not logged in: run `{login} --server URL` first, or give --server and --token"),
            (None, Some(_)) => bail!("no server to talk to: give --server URL"),
            (Some(server), None) => bail!("not logged in to {server}: run `{login}` first, or give --token"),
        };
        Ok(Self { api: Api::new(&server, Some(token))?, json: conn.json })
    }
}

fn profile_flag(name: &str) -> String {
    if name == "default" { String::new() } else { format!(" --profile {name}") }
}

/// A table named `catalog.schema.table`.
#[derive(Debug, Clone)]
pub struct TableName {
    pub catalog: String,
    pub schema: String,
    pub table: String,
}

impl std::str::FromStr for TableName {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.split('.').collect::<Vec<_>>().as_slice() {
            [c, s, t] if !c.is_empty() && !s.is_empty() && !t.is_empty() => {
                Ok(Self { catalog: (*c).to_owned(), schema: (*s).to_owned(), table: (*t).to_owned() })
            }
            _ => Err(format!("`{raw}` is not a table name: give catalog.schema.table")),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.catalog, self.schema, self.table)
    }
}

impl TableName {
    /// `/v1/tables/{c}/{s}/{t}` and `tail`, as path segments.
    pub fn path<'a>(&'a self, tail: &[&'a str]) -> Vec<&'a str> {
        let mut segments = vec!["v1", "tables", self.catalog.as_str(), self.schema.as_str(), self.table.as_str()];
        segments.extend_from_slice(tail);
        segments
    }
}

/// A job that ended without succeeding, with the error it recorded.
#[derive(Debug)]
pub struct JobFailed {
    pub job: Value,
}

impl std::fmt::Display for JobFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.job["kind"].as_str().unwrap_or("job");
        match self.job["status"].as_str() {
            Some("cancelled") => write!(f, "the {kind} was cancelled"),
            status => {
                let message = self.job["error"]["message"].as_str().unwrap_or("no error was recorded");
                write!(f, "the {kind} {}: {message}", status.unwrap_or("failed"))
            }
        }
    }
}

impl std::error::Error for JobFailed {}

/// Prints an error as the user asked: text with the server's message, or JSON.
fn report(error: &anyhow::Error, json: bool, session: bool) {
    if let Some(e) = error.downcast_ref::<ServerError>() {
        if json {
            let body =
                e.body.clone().unwrap_or_else(|| json!({ "statusCode": e.status.as_u16(), "message": e.message }));
            eprintln!("{body}");
            return;
        }
        eprintln!("error: {e}");
        for (field, message) in &e.details {
            eprintln!("  {field}: {message}");
        }
        if e.status == reqwest::StatusCode::UNAUTHORIZED && session {
            eprintln!(
                "hint: the stored session may have expired (sessions last an hour by default); run `lakeward login` again"
            );
        }
    } else if let Some(e) = error.downcast_ref::<JobFailed>() {
        if json {
            eprintln!("{}", e.job);
            return;
        }
        eprintln!("error: {e}");
        let details = e.job["error"]["details"].as_array().cloned().unwrap_or_default();
        for d in details {
            eprintln!("  {}: {}", d["field"].as_str().unwrap_or_default(), d["message"].as_str().unwrap_or_default());
        }
    } else if json {
        let mut body = json!({ "message": format!("{error:#}") });
        if let Some(e) = error.downcast_ref::<Unreachable>() {
            body["url"] = json!(e.url);
        }
        eprintln!("{body}");
    } else {
        eprintln!("error: {error:#}");
    }
}

/// Reads stdin whole (a password or a query piped in).
fn read_stdin() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).context("cannot read stdin")?;
    Ok(text)
}

/// A file streamed from disk as a request body, with its length (so the server knows the
/// size before the first byte) and an `upload` progress counting what has been read.
async fn file_body(path: &std::path::Path) -> anyhow::Result<(reqwest::Body, u64, progress::Progress)> {
    use futures::TryStreamExt as _;
    let file = tokio::fs::File::open(path).await.with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata().await.with_context(|| format!("cannot read {}", path.display()))?.len();
    let progress = progress::Progress::new("upload", progress::Unit::Bytes, Some(len));
    let counted = progress.clone();
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
        .inspect_ok(move |chunk| counted.inc(chunk.len() as u64));
    Ok((reqwest::Body::wrap_stream(chunks), len, progress))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_have_three_parts() {
        let name: TableName = "main.crm.people".parse().unwrap();
        assert_eq!(name.path(&["rows"]), ["v1", "tables", "main", "crm", "people", "rows"]);
        assert_eq!(name.to_string(), "main.crm.people");
        for bad in ["main.crm", "a.b.c.d", "a..c", ""] {
            let err = bad.parse::<TableName>().unwrap_err();
            assert_eq!(err, format!("`{bad}` is not a table name: give catalog.schema.table"));
        }
    }

    #[test]
    fn a_failed_job_says_what_failed_and_why() {
        let job = json!({ "kind": "import", "status": "failed", "error": { "message": "Row 3: id is null" } });
        assert_eq!(JobFailed { job }.to_string(), "the import failed: Row 3: id is null");
        let job = json!({ "kind": "import", "status": "cancelled" });
        assert_eq!(JobFailed { job }.to_string(), "the import was cancelled");
    }
}
