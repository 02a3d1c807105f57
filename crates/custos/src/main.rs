//! The `custos` binary: command-line interface and wiring. Logic lives in the
//! modules (and crates) it calls.

mod auth;
mod clock;
mod commit;
mod config;
mod demo;
mod probe;
mod recording;
mod serve;
mod site;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use custos_store::Role;

#[derive(Parser)]
#[command(
    name = "custos",
    version,
    about = "Video-backed custody for archives and records rooms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Record every configured camera and serve the API.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run a complete demo site with two synthetic cameras.
    Demo {
        /// Where the demo keeps its config, clips and recordings.
        #[arg(long, default_value = "custos-demo")]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Check a configuration file and report every problem in it.
    CheckConfig { file: PathBuf },
    /// Camera tools.
    Camera {
        #[command(subcommand)]
        command: CameraCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TransportArg {
    Tcp,
    Udp,
}

#[derive(Subcommand)]
enum CameraCommand {
    /// Connect to a camera and report codec, resolution, frame rate, GOP and bitrate.
    Probe {
        /// rtsp://[user[:password]@]host[:port]/path or file:///path.mp4
        url: String,
        #[arg(long, value_enum, default_value = "tcp")]
        transport: TransportArg,
        /// Read the password from this environment variable instead of the URL.
        #[arg(long)]
        password_env: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        name: String,
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of standard input (required:
        /// passwords never go on the command line, where `ps` shows them).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List users.
    List {
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user and print it (shown only this once).
    Create {
        /// The user the token acts as.
        name: String,
        #[arg(long)]
        label: Option<String>,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Revoke a token by its id (the part after `cst_`, before the next `_`).
    Revoke {
        id: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List tokens (ids, owners, dates; never secrets).
    List {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CUSTOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,retina=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn load_config(path: &Path) -> anyhow::Result<config::Config> {
    config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            let config = load_config(&config)?;
            runtime()?.block_on(serve::serve(config))?;
        }
        Command::Demo { dir, listen } => run_demo(&dir, &listen)?,
        Command::CheckConfig { file } => match config::load(&file) {
            Ok(c) => {
                println!(
                    "{}: OK ({} camera{})",
                    file.display(),
                    c.cameras.len(),
                    if c.cameras.len() == 1 { "" } else { "s" }
                );
            }
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::FAILURE);
            }
        },
        Command::Camera {
            command:
                CameraCommand::Probe {
                    url,
                    transport,
                    password_env,
                    json,
                },
        } => {
            return probe_camera(&url, transport, password_env.as_deref(), json);
        }
        Command::User { command } => user_command(command)?,
        Command::Token { command } => token_command(command)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn probe_camera(
    url: &str,
    transport: TransportArg,
    password_env: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut url = url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    let mut credentials = None;
    if !url.username().is_empty() || password_env.is_some() {
        let user = percent_decode(url.username());
        let password = match password_env {
            Some(var) => std::env::var(var)
                .with_context(|| format!("environment variable {var} is not set"))?,
            None => url.password().map(percent_decode).unwrap_or_default(),
        };
        credentials = Some((user, password));
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    let transport = match transport {
        TransportArg::Tcp => config::Transport::Tcp,
        TransportArg::Udp => config::Transport::Udp,
    };
    let spec = serve::source_spec(&url, transport, credentials);
    match runtime()?.block_on(probe::probe(&spec)) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "probe failed: {} : {e}",
                custos_media::source::redact_url(&url)
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

fn user_command(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            config,
        } => {
            let config = load_config(&config)?;
            if !password_stdin {
                bail!("--password-stdin is required");
            }
            let password = auth::read_password_stdin()?;
            let hash = auth::hash_password(&password)?;
            let store = site_store(&config.data_dir)?;
            let user = store.create_user(&name, role, &hash, clock::now_ms())?;
            println!("created user {} with role {}", user.name, user.role);
        }
        UserCommand::List { config } => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            for u in store.list_users()? {
                println!(
                    "{}\t{}{}",
                    u.name,
                    u.role,
                    if u.disabled { "\tdisabled" } else { "" }
                );
            }
        }
    }
    Ok(())
}

fn token_command(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            name,
            label,
            config,
        } => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let user = store
                .user_by_name(&name)?
                .with_context(|| format!("no user named {name:?}"))?;
            let (id, token, digest) = auth::new_token();
            store.create_token(&id, user.id, label.as_deref(), &digest, clock::now_ms())?;
            eprintln!("token {id} for {} (shown once; store it now):", user.name);
            println!("{token}");
        }
        TokenCommand::Revoke { id, config } => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let t = store.revoke_token(&id, clock::now_ms())?;
            println!("revoked token {}", t.id);
        }
        TokenCommand::List { config } => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            for t in store.list_tokens(None)? {
                let user = store
                    .user_by_id(t.user_id)?
                    .map(|u| u.name)
                    .unwrap_or_default();
                let state = if t.revoked_ms.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    t.id,
                    user,
                    state,
                    t.label.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// The index of a site, for the admin commands (which may run beside `serve`).
fn site_store(data_dir: &Path) -> anyhow::Result<custos_store::Store> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    serve::open_store(data_dir)
}

fn run_demo(dir: &Path, listen: &str) -> anyhow::Result<()> {
    let config_path = demo::prepare(dir, listen)?;
    let config = load_config(&config_path)?;
    let store = site_store(&config.data_dir)?;
    let mut login = None;
    if store.user_by_name("admin")?.is_none() {
        let password = auth::random_password();
        store.create_user(
            "admin",
            Role::Admin,
            &auth::hash_password(&password)?,
            clock::now_ms(),
        )?;
        let admin = store
            .user_by_name("admin")?
            .context("admin user just created")?;
        let (id, token, digest) = auth::new_token();
        store.create_token(&id, admin.id, Some("demo"), &digest, clock::now_ms())?;
        login = Some((password, token));
    }
    drop(store);
    let url = format!("http://{}", config.server.listen);
    println!(
        "Custos demo site \"{}\" — {} cameras recording into {}",
        config.site,
        config.cameras.len(),
        config.data_dir.display()
    );
    println!("  URL:    {url}/api/v1/cameras");
    match login {
        Some((password, token)) => {
            println!("  login:  admin / {password}   (one-time: shown only now)");
            println!("  token:  {token}");
            println!("  try:    curl -H 'Authorization: Bearer {token}' {url}/api/v1/cameras");
        }
        None => println!(
            "  login:  the admin created on the first run; new token: custos token create admin --config {}",
            config_path.display()
        ),
    }
    println!("  config: {}   (stop with Ctrl-C)", config_path.display());
    runtime()?.block_on(serve::serve(config))
}
