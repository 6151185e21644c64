//! The `gatehouse` binary: parse the command line and settings, start telemetry, run.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;
use gatehouse::config::{Cli, Command, OperatorAction};
use gatehouse::startup::{self, Database};

/// mimalloc: a page's many short-lived allocations cost a sixth of the server's time in the
/// system allocator (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,actix_server=warn".into());
    if cli.settings.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    if let Err(message) = cli.settings.validate() {
        eprintln!("gatehouse: {message}");
        return ExitCode::from(2);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    let command = cli.command.unwrap_or(Command::Serve);
    let serving = matches!(command, Command::Serve);
    let database = Database::open(&settings)?;
    let outcome = (|| -> anyhow::Result<()> {
        let pool = startup::connect_and_migrate(
            &database.url,
            database.migration_url.as_ref(),
            settings.database_pool_size,
            Default::default(),
        )?;
        match command {
            Command::Migrate => {
                println!("Migrations applied.");
                Ok(())
            }
            Command::Operator { action } => {
                let (email, grant) = match action {
                    OperatorAction::Grant { email } => (email, true),
                    OperatorAction::Revoke { email } => (email, false),
                };
                let mut conn = pool.get()?;
                use gatehouse::db::users::{OperatorChange, set_operator};
                match set_operator(&mut conn, &email, grant)? {
                    OperatorChange::Done => {
                        println!(
                            "{email} is {} a platform operator.",
                            if grant { "now" } else { "no longer" }
                        );
                        Ok(())
                    }
                    OperatorChange::NoAccount => anyhow::bail!("no account has the email {email}"),
                    OperatorChange::Unverified => anyhow::bail!(
                        "{email} has not verified its address: anyone can sign up with an \
                         address, so operators are granted only to verified accounts"
                    ),
                }
            }
            Command::Serve => {
                let key = startup::session_key(&settings)?;
                let listener = TcpListener::bind(&settings.bind)
                    .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
                let url = settings.base_url.clone();
                let mailbox = settings.is_local() && settings.smtp_url.is_none();
                actix_web::rt::System::new().block_on(async move {
                    let (server, outbox) = startup::serve(settings, pool, key, listener)?;
                    println!("Gatehouse is running: open {url}");
                    if mailbox {
                        println!("Emails are kept in the local mailbox: {url}/dev/mailbox");
                    }
                    // SIGTERM/SIGINT: stop accepting, finish requests in flight (up to 30 s),
                    // then the email being sent.
                    server.await?;
                    outbox
                        .finish_sending(std::time::Duration::from_secs(30))
                        .await;
                    Ok(())
                })
            }
        }
    })();
    // Ctrl-C / SIGTERM end the server above; the embedded cluster stops with us.
    let closed = database.close(serving);
    outcome.and(closed)
}
