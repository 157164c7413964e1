use clap::Parser;
use lakeward::{Cli, Command, admin, settings};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_env("LAKEWARD_LOG").unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let config = settings::resolve(&cli.config)?;
    match cli.command {
        Command::Serve => {
            tracing::info!(data_dir = %config.data_dir.display(), warehouse = %config.warehouse.root(), "starting");
            lakeward_server::serve_until(config, shutdown_signal()).await
        }
        Command::Config => {
            println!("{}", settings::describe(&config));
            Ok(())
        }
        Command::Admin(command) => admin::run(&config, command).await,
    }
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
