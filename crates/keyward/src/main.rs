//! The `keyward` binary: `serve` runs the server on the embedded store or PostgreSQL;
//! `reset-password` sets the `elastic` user's password like `elasticsearch-reset-password`;
//! `migrate` brings the store's schema up to date; `config show` prints the effective settings;
//! `service-tokens` manages file service tokens like `elasticsearch-service-tokens`.

mod admin;
mod config;
mod data_dir;
mod service_tokens;
mod stores;
mod tls;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use keyward_http::{AppState, Audit, NodeInfo};
use keyward_service::{BootstrapPassword, SecurityService, SystemClock};
use keyward_store::{EmbeddedStore, EmbeddedStoreOptions};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::config::{Backend, Config, Settings};

/// mimalloc: per-thread free lists keep the request path's small allocations off glibc's
/// arena locks (measured in `bench/run`, P1). Built without transparent huge pages (the
/// workspace's `no_thp` feature): with them, mimalloc's 2 MiB-backed pages held freed memory in
/// huge units, so the idle process and one that had just served a large listing held several
/// times what they used (`bench/run`, listing).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about = "An Elasticsearch-compatible API key service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve(SettingsArgs),
    /// Resets a reserved user's password, like `elasticsearch-reset-password`.
    ResetPassword(ResetPasswordArgs),
    /// Brings the store's schema up to date (`serve` does it too) and says what it applied.
    Migrate(SettingsArgs),
    /// Configuration commands.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manages file service tokens (the `service_tokens` file in the config directory), like
    /// `elasticsearch-service-tokens`.
    ServiceTokens {
        #[command(subcommand)]
        command: ServiceTokensCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ServiceTokensCommand {
    /// Creates a token and prints its value once.
    Create {
        /// The service account, e.g. elastic/fleet-server.
        service_account_principal: String,
        /// The token name.
        token_name: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Deletes a token.
    Delete {
        /// The service account, e.g. elastic/fleet-server.
        service_account_principal: String,
        /// The token name.
        token_name: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Lists the tokens, of one service account or all.
    List {
        /// Only this service account's tokens.
        service_account_principal: Option<String>,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Prints the effective configuration.
    Show(SettingsArgs),
}

#[derive(Debug, Clone, Args)]
struct SettingsArgs {
    /// A YAML settings file (flat dotted names or nested, like elasticsearch.yml).
    #[arg(long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Sets a setting by its Elasticsearch name, e.g. -E http.port=9200.
    #[arg(short = 'E', value_name = "NAME=VALUE")]
    settings: Vec<String>,
}

#[derive(Debug, Args)]
struct ResetPasswordArgs {
    /// The user whose password to reset.
    #[arg(short = 'u', long = "username")]
    username: String,
    /// Prompt for the new password instead of generating one.
    #[arg(short = 'i', long = "interactive")]
    interactive: bool,
    /// Generate the new password (the default).
    #[arg(short = 'a', long = "auto", conflicts_with = "interactive")]
    auto: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'b', long = "batch")]
    batch: bool,
    /// Print only the new password.
    #[arg(short = 's', long = "silent")]
    silent: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

fn main() -> ExitCode {
    // Everything keyward creates (the data directory, the database and its journal, the lock
    // file, the admin socket) is for its own user only: no file is ever created readable by
    // others, not even for a moment before a chmod.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => load(&args).and_then(|config| serve(config, &args)),
        Command::ResetPassword(args) => reset_password(args),
        Command::Migrate(args) => load(&args).and_then(migrate),
        Command::Config {
            command: ConfigCommand::Show(args),
        } => Settings::load(args.config.as_deref(), &args.settings)
            .map(|settings| print!("{}", settings.show())),
        Command::ServiceTokens { command } => service_tokens_command(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn service_tokens_command(command: ServiceTokensCommand) -> anyhow::Result<()> {
    let path = |args: &SettingsArgs| -> anyhow::Result<PathBuf> {
        let config = load(args)?;
        Ok(service_tokens::file_path(
            args.config.as_deref(),
            &config.store.data_dir,
        ))
    };
    match command {
        ServiceTokensCommand::Create {
            service_account_principal,
            token_name,
            settings,
        } => {
            let line =
                service_tokens::create(&path(&settings)?, &service_account_principal, &token_name)?;
            println!("{line}");
        }
        ServiceTokensCommand::Delete {
            service_account_principal,
            token_name,
            settings,
        } => service_tokens::delete(&path(&settings)?, &service_account_principal, &token_name)?,
        ServiceTokensCommand::List {
            service_account_principal,
            settings,
        } => print!(
            "{}",
            service_tokens::list(&path(&settings)?, service_account_principal.as_deref())?
        ),
    }
    Ok(())
}

fn load(args: &SettingsArgs) -> anyhow::Result<Config> {
    let settings = Settings::load(args.config.as_deref(), &args.settings)?;
    Config::from_settings(&settings)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve(config: Config, args: &SettingsArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_filter)
        .with_context(|| format!("invalid log filter [{}]", config.log_filter))?;
    if config.log_json {
        // One object a line: timestamp, level, target, fields (the message among them) and
        // the spans it happened in, whose `request_id` ties a line to its request.
        tracing_subscriber::fmt()
            .json()
            .flatten_event(false)
            .with_current_span(true)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    runtime()?.block_on(run(config, args))
}

async fn run(config: Config, args: &SettingsArgs) -> anyhow::Result<()> {
    let opened = stores::open(&config, random_id).await?;
    let store = Arc::clone(&opened.store);
    let service =
        SecurityService::new(store.clone(), config.service.clone(), Arc::new(SystemClock));
    let bootstrap = match config::elastic_password() {
        Some(password) => BootstrapPassword::Given(password),
        None => BootstrapPassword::Generate,
    };
    if let Some(password) = service
        .bootstrap(bootstrap)
        .await
        .context("cannot create the elastic user")?
    {
        // Shown once, on stderr, as Elasticsearch does on its first start.
        eprintln!(
            "\nkeyward: the [elastic] superuser was created. Its password (change it with `keyward reset-password -u elastic`):\n\n  {}\n",
            password.as_str()
        );
    }
    let node = Arc::new(NodeInfo {
        node_name: config.service.node_name.clone(),
        node_id: opened.node_id.clone(),
        cluster_name: config.service.cluster_name.clone(),
        cluster_uuid: store.meta_init("cluster_uuid", &random_id()).await?,
    });
    let listener = bind(&config).await?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let tls = tls::prepare(&config.http.tls, &config.store.data_dir, &config.http.host)?;
    if let Some(generated) = tls.as_ref().and_then(|tls| tls.generated.as_ref()) {
        // Shown once, on the start that generated it, as Elasticsearch's first start does.
        eprintln!(
            "\nkeyward: TLS is enabled on the HTTP port with a generated certificate.\n\
             HTTP CA certificate SHA-256 fingerprint:\n\n  {}\n\n\
             CA certificate: {}\n",
            generated.fingerprint,
            generated.path.display()
        );
    }
    let reloader = tls.as_ref().map(tls::ServerTls::spawn_reloader);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let admin = admin::spawn(&config.store.data_dir, service.clone())?;
    let remover = service.spawn_remover();
    let (audit, audit_writer) = match config.audit.clone() {
        Some(mut audit_config) => {
            if audit_config.node_id.is_some() {
                audit_config.node_id = Some(node.node_id.clone());
            }
            let file = audit_config.file.path.clone();
            let (audit, writer) = Audit::start(audit_config)
                .with_context(|| format!("cannot open the audit log [{}]", file.display()))?;
            tracing::info!(file = %file.display(), "writing the audit log");
            (audit, Some(writer))
        }
        None => (Audit::disabled(), None),
    };
    let forward_auth = keyward_http::ForwardAuth::new(config.forward_auth.clone());
    let forward_auth_reloader =
        spawn_forward_auth_reloader(args.clone(), forward_auth.clone(), config.reload_interval);
    let service_tokens_reloader = service_tokens::spawn_reloader(
        service_tokens::file_path(args.config.as_deref(), &config.store.data_dir),
        service.clone(),
        config.reload_interval,
    )?;
    let state = AppState {
        service,
        node,
        limits: config.http.limits.clone(),
        audit,
        forward_auth,
    };
    // Listening for signals starts before the startup line: a supervisor that stops keyward as
    // soon as it reads the line still gets a clean shutdown, not the default action of SIGTERM.
    let shutdown = shutdown_signal();
    tracing::info!(%address, data = %config.store.data_dir.display(), "keyward started");
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "keyward listening on {scheme}://{address}")
            .context("cannot write to stdout")?;
        stdout.flush().context("cannot write to stdout")?;
    }
    keyward_http::serve(listener, state, tls.map(|tls| tls.config), shutdown)
        .await
        .context("the HTTP server failed")?;
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    if let Some(reloader) = forward_auth_reloader {
        reloader.abort();
    }
    service_tokens_reloader.abort();
    remover.abort();
    admin.abort();
    admin::remove_socket(&config.store.data_dir);
    // Whatever the audit queue still holds is written before the process ends.
    drop(audit_writer);
    tracing::info!("keyward stopped");
    Ok(())
}

/// Re-reads the `--config` file every `interval` and puts changed forward auth settings in
/// force; settings that do not parse are logged and the ones in use kept. Nothing to watch
/// without a file (`-E` flags cannot change while running).
fn spawn_forward_auth_reloader(
    args: SettingsArgs,
    forward_auth: keyward_http::ForwardAuth,
    interval: std::time::Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let file = args.config.clone()?;
    let initial = Settings::load(Some(&file), &args.settings)
        .map(|settings| config::forward_auth_settings(&settings))
        .unwrap_or_default();
    Some(tokio::spawn(async move {
        let mut in_force = initial;
        let mut last_error = String::new();
        loop {
            tokio::time::sleep(interval).await;
            let settings = match Settings::load(Some(&file), &args.settings) {
                Ok(settings) => settings,
                Err(err) => {
                    let err = format!("{err:#}");
                    if err != last_error {
                        tracing::warn!(error = %err, "cannot read the config file; the forward auth settings in use are kept");
                        last_error = err;
                    }
                    continue;
                }
            };
            let current = config::forward_auth_settings(&settings);
            if current == in_force {
                continue;
            }
            match config::forward_auth_config(&settings) {
                Ok(config) => {
                    forward_auth.replace(config);
                    tracing::info!(file = %file.display(), "reloaded the forward auth settings");
                    last_error.clear();
                }
                Err(err) => tracing::warn!(
                    error = %format!("{err:#}"),
                    "cannot reload the forward auth settings; the ones in use are kept"
                ),
            }
            in_force = current;
        }
    }))
}

async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let mut last_error = None;
    for port in config.http.ports.clone() {
        let address = format!("{}:{port}", config.http.host);
        let candidates: Vec<SocketAddr> = match tokio::net::lookup_host(&address).await {
            Ok(candidates) => candidates.collect(),
            Err(err) => {
                last_error = Some(anyhow::anyhow!("cannot resolve [{address}]: {err}"));
                continue;
            }
        };
        for candidate in candidates {
            match TcpListener::bind(candidate).await {
                Ok(listener) => return Ok(listener),
                Err(err) => last_error = Some(anyhow::anyhow!("cannot bind [{candidate}]: {err}")),
            }
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no port to bind in [http.port]")))
}

/// Installs the SIGINT and SIGTERM handlers now; the future completes on the first signal.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(err) => {
            tracing::warn!(error = %err, signal = name, "cannot listen for the signal");
            None
        }
    };
    let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
    async move {
        tokio::select! {
            () = next_signal(interrupt.as_mut()) => {}
            () = next_signal(terminate.as_mut()) => {}
        }
    }
}

/// The next signal on `stream`; never, without one.
async fn next_signal(stream: Option<&mut tokio::signal::unix::Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending().await,
    }
}

fn random_id() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    keyward_core::SecretSource::fill(&mut keyward_service::OsRandom, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn migrate(config: Config) -> anyhow::Result<()> {
    match &config.store.backend {
        Backend::Postgresql(postgresql) => {
            let options = stores::options(postgresql)?;
            let report = runtime()?
                .block_on(keyward_store_pg::migrate(&options))
                .with_context(|| {
                    format!(
                        "cannot migrate the PostgreSQL store [{}]",
                        config::redact_url(&postgresql.url)
                    )
                })?;
            if report.applied.is_empty() {
                println!("schema up to date at version {}", report.version);
            } else {
                let applied: Vec<String> = report.applied.iter().map(i32::to_string).collect();
                println!(
                    "applied migrations [{}]: schema at version {}",
                    applied.join(", "),
                    report.version
                );
            }
        }
        Backend::Embedded => {
            // Opening the embedded store migrates it; it refuses a directory a server holds.
            data_dir::prepare(&config.store.data_dir)?;
            EmbeddedStore::open(EmbeddedStoreOptions::new(config.store.data_dir.clone()))
                .with_context(|| {
                    format!(
                        "cannot open the data directory [{}]",
                        config.store.data_dir.display()
                    )
                })?;
            println!("schema up to date");
        }
    }
    Ok(())
}

fn reset_password(args: ResetPasswordArgs) -> anyhow::Result<()> {
    let config = load(&args.settings)?;
    let _ = args.auto;
    if !args.batch && !args.interactive {
        eprintln!(
            "This tool will reset the password of the [{}] user to an autogenerated value.\nThe password will be printed in the console.",
            args.username
        );
        if !confirm()? {
            anyhow::bail!("aborted");
        }
    }
    let password = if args.interactive {
        Some(prompt_password(&args.username)?)
    } else {
        None
    };
    let new_password = runtime()?.block_on(async {
        if let Backend::Postgresql(postgresql) = &config.store.backend {
            // The store is shared: change it there, and every running node hears of it.
            let service = SecurityService::new(
                Arc::new(stores::connect(postgresql).await?),
                config.service.clone(),
                Arc::new(SystemClock),
            );
            return service
                .reset_password(&args.username, password)
                .await
                .map_err(|err| anyhow::anyhow!("{err}"));
        }
        data_dir::prepare(&config.store.data_dir)?;
        match EmbeddedStore::open(EmbeddedStoreOptions::new(config.store.data_dir.clone())) {
            Ok(store) => {
                // No server holds the data directory: change it offline.
                let service = SecurityService::new(
                    Arc::new(store),
                    config.service.clone(),
                    Arc::new(SystemClock),
                );
                service
                    .reset_password(&args.username, password)
                    .await
                    .map_err(|err| anyhow::anyhow!("{err}"))
            }
            Err(keyward_store::Error::Locked { .. }) => {
                admin::request_reset(&config.store.data_dir, &args.username, password).await
            }
            Err(err) => Err(anyhow::anyhow!(err)).with_context(|| {
                format!(
                    "cannot open the data directory [{}]",
                    config.store.data_dir.display()
                )
            }),
        }
    })?;
    if args.silent {
        println!("{}", new_password.as_str());
    } else if args.interactive {
        println!(
            "Password for the [{}] user successfully reset.",
            args.username
        );
    } else {
        println!(
            "Password for the [{}] user successfully reset.\nNew value: {}",
            args.username,
            new_password.as_str()
        );
    }
    Ok(())
}

fn confirm() -> anyhow::Result<bool> {
    eprint!("Please confirm that you would like to continue [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the confirmation")?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn prompt_password(username: &str) -> anyhow::Result<Zeroizing<String>> {
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Enter password for [{username}]: "))
            .context("cannot read the password")?,
    );
    let second = Zeroizing::new(
        rpassword::prompt_password(format!("Re-enter password for [{username}]: "))
            .context("cannot read the password")?,
    );
    if first != second {
        anyhow::bail!("passwords do not match");
    }
    Ok(first)
}
