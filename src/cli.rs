//! The `switchboard` command line.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::app::{ensure_main_account, App};
use crate::config::{Config, LogFormat};
use crate::store::Store;

/// Switchboard: a self-hosted programmable-voice platform with a
/// Twilio-compatible REST API and TwiML, driving FreeSWITCH media nodes.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, propagate_version = true)]
pub struct Cli {
    /// A TOML configuration file (default: ./switchboard.toml when present).
    /// SWITCHBOARD_* environment variables override its keys.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: REST API, call router and media nodes.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Run the virtual switch: a FreeSWITCH emulator speaking real ESL, with
    /// scripted far ends (see crates/vswitch/README.md).
    Vswitch(VswitchArgs),
}

#[derive(Debug, clap::Args)]
struct VswitchArgs {
    /// Where the Event Socket listens.
    #[arg(long, default_value = "127.0.0.1:8021")]
    listen: std::net::SocketAddr,
    /// The ESL password (`auth <password>`).
    #[arg(long, default_value = "ClueCon", env = "SWITCHBOARD_VSWITCH_PASSWORD")]
    password: String,
    /// Time compression: 10 makes every ring, prompt and script step 10 times shorter.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// An XML dialplan to load instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    dialplan: Option<PathBuf>,
    #[command(subcommand)]
    action: Option<VswitchAction>,
}

#[derive(Debug, Subcommand)]
enum VswitchAction {
    /// Place an inbound call into a running virtual switch (over its ESL port),
    /// as a caller reaching a FreeSWITCH node would.
    Call {
        /// The caller's number.
        #[arg(long)]
        from: String,
        /// The number called.
        #[arg(long)]
        to: String,
        /// The caller's script, e.g. `dtmf=1@2s;hangup=30s`.
        #[arg(long)]
        script: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Create an account and print its AccountSid and AuthToken.
    Create {
        /// A human-readable name for the account.
        #[arg(long)]
        friendly_name: String,
        /// Make it a subaccount of this AccountSid.
        #[arg(long, value_name = "ACCOUNT_SID")]
        owner: Option<String>,
    },
}

/// Runs the command line; the error, if any, is for the user to read.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::webhook::install_tls_provider();
    if let Command::Vswitch(args) = cli.command {
        init_tracing(LogFormat::Text);
        return vswitch(args).await;
    }
    let config = Config::load(cli.config.as_deref())?;
    init_tracing(config.log_format);
    match cli.command {
        Command::Vswitch(_) => unreachable!("handled above"),
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            println!("migrations applied to {}", redact(&config.database_url));
            Ok(())
        }
        Command::Accounts(AccountsCommand::Create {
            friendly_name,
            owner,
        }) => {
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            if let Some(owner) = &owner {
                anyhow::ensure!(
                    store.account(owner).await?.is_some(),
                    "no account {owner} to own the new one"
                );
            }
            let account = store
                .create_account(&friendly_name, owner.as_deref())
                .await?;
            println!("AccountSid={}", account.sid);
            println!("AuthToken={}", account.auth_token);
            Ok(())
        }
    }
}

async fn vswitch(args: VswitchArgs) -> anyhow::Result<()> {
    match args.action {
        Some(VswitchAction::Call { from, to, script }) => {
            let config = esl::ClientConfig {
                reconnect: None,
                ..esl::ClientConfig::new(args.listen.to_string(), args.password)
            };
            let (client, _events) = esl::Client::connect(config).await?;
            let command = format!("vswitch_inbound {from} {to} {}", script.unwrap_or_default());
            let answer = client.api_ok(command.trim_end()).await?;
            println!("{}", answer.trim_end());
            Ok(())
        }
        None => {
            anyhow::ensure!(args.speed > 0.0, "--speed must be positive");
            let dialplan_xml = match &args.dialplan {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let listener = TcpListener::bind(args.listen)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
            let config = vswitch::Config {
                password: args.password,
                speed: args.speed,
                dialplan_xml,
                ..vswitch::Config::default()
            };
            tracing::info!(listen = %args.listen, speed = args.speed, "virtual switch serving ESL");
            vswitch::run(listener, config, shutdown_signal()?).await?;
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {} (SWITCHBOARD_LISTEN): {e}",
            config.listen
        )
    })?;
    let bound = listener.local_addr()?;
    let public_url = config.public_url_for(bound);
    let app = Arc::new(App::open(config, public_url).await?);
    if let Some(account) = ensure_main_account(&app.store, &app.config.data_dir).await? {
        // Printed once, on stdout only: secrets never go to the log.
        println!(
            "Created the main account (also saved to {}):",
            app.config.data_dir.join("credentials").display()
        );
        println!("AccountSid={}", account.sid);
        println!("AuthToken={}", account.auth_token);
    }
    let shutdown = shutdown_signal()?;
    tracing::info!(listen = %bound, public_url = %app.public_url, database = %redact(&app.config.database_url), "switchboard serving");
    crate::server::serve(listener, app.clone(), shutdown).await?;
    app.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Installs the SIGINT and SIGTERM handlers now; the future resolves on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = term.recv() => {},
        }
    })
}

/// A database URL without its password, for logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
