//! The `lakeward` binary: configuration, `lakeward serve`, offline `lakeward admin`
//! commands that act on the data directory directly, and the command-line client
//! (`lakeward login`, `sql`, `import`, ...) that talks to a running server.

pub mod admin;
pub mod client;
pub mod settings;

use clap::{Parser, Subcommand};

/// Lakeward: governed Delta Lake tables behind one API.
#[derive(Debug, Parser)]
#[command(name = "lakeward", version, about, long_about = None)]
pub struct Cli {
    /// The server's own settings (`serve`, `config`, `migrate`, `admin`); the client
    /// commands ignore them.
    #[command(flatten, next_help_heading = "Server options")]
    pub config: settings::ConfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (SIGTERM or Ctrl-C drains in-flight requests, then exits).
    Serve,
    /// Print the resolved configuration as JSON (the secret is never printed).
    Config,
    /// Apply the metadata database's pending migrations and exit (for deployments that
    /// start replicas with --migrate-on-start false).
    Migrate,
    /// Set up organisations, users and API keys offline, against the data directory.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// The client commands, against a running server.
    #[command(flatten)]
    Client(client::ClientCommand),
}
