use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use lakeward::{Cli, Command, admin, client, settings};
use tracing_subscriber::EnvFilter;

/// The log filter unless `LAKEWARD_LOG` gives one: Lakeward's crates at `info`, every
/// dependency at `warn`. At `info`, delta-rs and its kernel log every snapshot and file
/// they touch, with full storage URIs: nine lines in ten, and paths that are never shown.
/// The kernel's snapshot builder is off: besides that `info` line it only logs, at
/// `error`, each error it returns (`#[instrument(err)]`), which its caller handles or
/// Lakeward reports; creating a table probes for an existing one, so every creation
/// logged a false "No files in log segment" error.
/// (tower-http's request spans and events are at `debug`, so requests add no line either;
/// only its 5xx failures, at `error`, pass.)
const DEFAULT_LOG_FILTER: &str = "warn,buoyant_kernel::snapshot::builder=off,\
    lakeward=info,lakeward_server=info,lakeward_engine=info,lakeward_meta=info,lakeward_model=info";

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("LAKEWARD_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)))
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal: logs piped to journald, docker or a file stay plain.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        // The client needs no server configuration: resolving it would create a data
        // directory wherever the client is run.
        Command::Client(command) => Ok(client::run(command).await),
        command => {
            server_command(&cli.config, command).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn server_command(args: &settings::ConfigArgs, command: Command) -> anyhow::Result<()> {
    let config = settings::resolve(args)?;
    match command {
        Command::Serve => {
            return_freed_memory();
            tracing::info!(data_dir = %config.data_dir.display(), warehouse = %config.warehouse.root(), "starting");
            lakeward_server::serve_until(config, shutdown_signal()).await
        }
        Command::Config => {
            println!("{}", settings::describe(&config));
            Ok(())
        }
        Command::Migrate => {
            let meta = lakeward_meta::MetaStore::open(&config.database_url).await?;
            let (before, known) = meta.migration_status().await?;
            meta.migrate().await?;
            println!("metadata migrations: {known} applied ({} new)", known - before.len());
            Ok(())
        }
        Command::Admin(command) => admin::run(&config, command).await,
        Command::Client(_) => unreachable!("client commands are run without the server's configuration"),
    }
}

/// glibc keeps memory freed by other threads in their arenas, so after a large import or
/// query the server's resident memory stayed at its peak (the baseline, not the export
/// itself, broke the export-memory goal). Every two seconds the free pages go back to the
/// system; a call takes well under a millisecond.
fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::thread::spawn(|| {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(2));
            // SAFETY: malloc_trim only releases free memory; it has no preconditions.
            unsafe { libc::malloc_trim(0) };
        }
    });
}

/// SIGTERM (from a service manager) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
