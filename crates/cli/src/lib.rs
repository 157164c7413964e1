//! The `lakeward` binary: configuration, `lakeward serve`, and offline `lakeward admin`
//! commands that act on the data directory directly.

pub mod admin;
pub mod settings;

use clap::{Parser, Subcommand};

/// Lakeward: governed Delta Lake tables behind one API.
#[derive(Debug, Parser)]
#[command(name = "lakeward", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
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
}
