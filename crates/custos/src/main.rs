//! The `custos` binary: command-line interface and wiring. Logic lives in the
//! modules (and crates) it calls.

mod auth;
mod bench;
mod bench_catchup;
mod bench_central;
mod bench_escrow;
mod central_cli;
mod central_site;
mod config;
mod demo;
mod destinations;
mod probe;
mod register_cli;
mod serve;
mod site_settings;

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
    /// The central office: witnessing every site's log, enrolment, alerts.
    Central {
        #[command(subcommand)]
        command: central_cli::CentralCommand,
    },
    /// Run a complete demo site: two synthetic cameras (one covered for a
    /// while), a register, and custody actions during the first minutes.
    Demo {
        /// Where the demo keeps its config, clips and recordings.
        #[arg(long, default_value = "custos-demo")]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// The site's name (its log's origin).
        #[arg(long, default_value = "demo")]
        site: String,
        /// A central office to enrol with and report to.
        #[arg(long, requires = "enrol_code")]
        central: Option<String>,
        /// The one-time code `custos central site add` printed.
        #[arg(long, requires = "central")]
        enrol_code: Option<String>,
    },
    /// Run the live analysis (motion, tampering) over a video file, as fast
    /// as it decodes; print each event, then a summary.
    Analyze {
        /// Any file libavformat can open (MP4, MKV, AVI, …).
        file: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Use this camera's analysis settings (zones, masks, sensitivity)…
        #[arg(long, short, requires = "camera")]
        config: Option<PathBuf>,
        /// …from this configuration file.
        #[arg(long, requires = "config")]
        camera: Option<String>,
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
    /// Write an evidence bundle: the original segments of a span, their log
    /// entries, inclusion proofs and a signed checkpoint.
    Export {
        #[arg(long, short, required_unless_present = "from_escrow")]
        config: Option<PathBuf>,
        /// Build the bundle from the escrow bucket alone
        /// (`s3://BUCKET/PREFIX`, e.g. `s3://custos-evidence/sites/alpha`),
        /// with the credentials of the environment, as after the site's box
        /// is gone.
        #[arg(long, value_name = "S3_URL", conflicts_with = "config", requires_all = ["endpoint", "key"])]
        from_escrow: Option<String>,
        /// The bucket's S3 endpoint (with --from-escrow).
        #[arg(long, requires = "from_escrow")]
        endpoint: Option<String>,
        /// The region signed into requests (with --from-escrow).
        #[arg(long, default_value = "us-east-1", requires = "from_escrow")]
        region: String,
        /// The site's verifier key, obtained independently of the bucket
        /// (with --from-escrow).
        #[arg(long, requires = "from_escrow")]
        key: Option<String>,
        #[arg(long)]
        camera: String,
        #[arg(long)]
        start_ms: i64,
        #[arg(long)]
        end_ms: i64,
        /// A new (or empty) directory for the bundle.
        #[arg(long)]
        out: PathBuf,
        /// Why the footage is exported (kept in the bundle and the log).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Verify an evidence bundle offline (BUNDLE_DIR), or a whole site (--config).
    Verify {
        /// An evidence bundle directory.
        bundle: Option<PathBuf>,
        /// Verify the site of this configuration instead.
        #[arg(long, short, conflicts_with = "bundle")]
        config: Option<PathBuf>,
        /// A verifier key obtained independently of the bundle.
        #[arg(long)]
        key: Option<String>,
        /// A witness key (`name+hexid+base64`) whose cosignature the
        /// bundle's checkpoint must carry; repeat for several witnesses.
        #[arg(long = "witness", value_name = "KEY", conflicts_with = "config")]
        witnesses: Vec<String>,
        /// How many of the --witness keys must have co-signed (default: all).
        #[arg(long, value_name = "K", requires = "witnesses")]
        witness_quorum: Option<usize>,
        /// Verify the log a site published to its escrow bucket
        /// (`s3://BUCKET/PREFIX`) instead: signature, every entry and every
        /// hash tile, with the credentials of the environment. Needs --key
        /// and --endpoint.
        #[arg(long, value_name = "S3_URL", conflicts_with_all = ["bundle", "config"], requires_all = ["key", "endpoint"])]
        escrow: Option<String>,
        /// The bucket's S3 endpoint (with --escrow).
        #[arg(long, requires = "escrow")]
        endpoint: Option<String>,
        /// The region signed into requests (with --escrow).
        #[arg(long, default_value = "us-east-1", requires = "escrow")]
        region: String,
    },
    /// The site's log signing key.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Holds and deletions of recorded segments (each logged).
    Segment {
        #[command(subcommand)]
        command: SegmentCommand,
    },
    /// The custody register: locations, people, items, CSV import.
    Register {
        #[command(subcommand)]
        command: register_cli::RegisterCommand,
    },
    /// Record custody actions (check-out, check-in, transfer, …).
    Custody {
        #[command(subcommand)]
        command: register_cli::CustodyCommand,
    },
    /// Benchmarks of whole operations (results: docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum SegmentCommand {
    /// Keep a segment whatever retention says (e.g. under investigation).
    Hold {
        /// Segment id (as in the API's recordings list).
        id: i64,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Release a hold.
    Release {
        id: i64,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Delete a sealed segment's file now. Its log entry stays, and a
    /// tombstone with the reason and who asked is added.
    Delete {
        id: i64,
        #[arg(long, short)]
        config: PathBuf,
        /// Why (kept in the log).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Decode a camera sub stream alone, with analysis of every picture and
    /// with analysis at 5 fps, each on one thread, beside ffmpeg decoding it.
    Analysis {
        /// A video file (default: tests-data/sub-360p15.mp4, 640x360 H.264).
        #[arg(long, default_value = "tests-data/sub-360p15.mp4")]
        file: PathBuf,
    },
    /// Build a site of many cameras' sealed segments, then time
    /// `verify --config` on it beside `sha256sum` of the same files.
    VerifySite {
        #[arg(long, default_value_t = 16)]
        cameras: u32,
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long, default_value_t = 60)]
        segment_seconds: u32,
        /// Size of each segment file (the per-segment work does not depend
        /// on it; the hashing does).
        #[arg(long, default_value_t = 4096)]
        file_bytes: usize,
        /// Where to build the site (put it on the disk to measure).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Keep the site afterwards.
        #[arg(long)]
        keep: bool,
    },
    /// Simulate many sites (checkpoints every 10 s, reports every 30 s)
    /// against a `custos central serve` started here on the configured
    /// PostgreSQL: latency, throughput, CPU, and no update lost.
    Central {
        /// The centre's configuration (its database takes the sites).
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        sites: usize,
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        #[arg(long, default_value_t = 10)]
        checkpoint_every_s: u64,
        #[arg(long, default_value_t = 30)]
        report_every_s: u64,
        #[arg(long, default_value_t = 5)]
        entries_per_checkpoint: usize,
    },
    /// Footage escrow's upload path (create-only put; and SHA-256, put,
    /// read back) beside `s3cmd put` of the same files to the same
    /// S3-compatible store; optionally how closely a cap holds. The store's
    /// credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    Escrow {
        /// The store's S3 endpoint, e.g. http://127.0.0.1:8333.
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// The recording each file is a copy of.
        #[arg(long, default_value = "tests-data/bench-1080p15.mp4")]
        clip: PathBuf,
        #[arg(long, default_value_t = 8)]
        files: usize,
        /// Also send `--capped-bytes` under this cap (kbit/s) and report
        /// the rate reached.
        #[arg(long)]
        max_kbps: Option<u32>,
        #[arg(long, default_value_t = 1 << 20)]
        capped_bytes: usize,
    },
    /// A site cut off for days sends its backlog of log entries to a
    /// `custos central serve` started here, gzipped and under a cap:
    /// bytes per site-day and time against the cap's floor.
    CatchUp {
        /// The centre's configuration (its database takes the site).
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, default_value_t = 7)]
        days: u32,
        #[arg(long, default_value_t = 16)]
        cameras: u32,
        #[arg(long, default_value_t = 60)]
        segment_seconds: u32,
        #[arg(long, default_value_t = 40)]
        motion_per_day: u32,
        #[arg(long, default_value_t = 200)]
        custody_per_day: u32,
        /// The cap in kbit/s (none: as fast as it goes).
        #[arg(long)]
        max_kbps: Option<u32>,
    },
    /// Import an items.csv of many rows into a fresh register (validation,
    /// one transaction, a log entry per row) beside the sqlite3 shell's
    /// `.import` of the same file.
    Import {
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        /// Where to build the site.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Latency of API reads (`GET /api/v1/cameras`, `GET /api/v1/items`)
    /// polled while a real site imports an items.csv through the API.
    ApiLatency {
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        /// Where to build the site.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The `custos` binary whose `serve` is measured (default: this one).
        #[arg(long)]
        custos: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the public verifier key (C2SP signed-note form), creating the key
    /// on first use.
    Show {
        #[arg(long, short)]
        config: PathBuf,
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
        /// rtsp[s]://[user[:password]@]host[:port]/path, http[s]://… (MJPEG)
        /// or file:///path.mp4
        url: String,
        #[arg(long, value_enum, default_value = "tcp")]
        transport: TransportArg,
        /// Read the password from this environment variable instead of the URL.
        #[arg(long)]
        password_env: Option<String>,
        /// For rtsps:// and https://: the SHA-256 fingerprint of the camera's
        /// certificate, the one to trust.
        #[arg(long)]
        tls_fingerprint: Option<String>,
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
    // Memory: allocations of 64 KiB and more (key frames, fragments) are
    // mapped on their own and handed back when freed, instead of leaving
    // holes in the heap that glibc keeps (its default raises this threshold
    // as large blocks are freed); and one malloc arena for custos' few
    // threads, so the free space in the heap serves them all instead of
    // being kept per arena. With two arenas 3.5 MB less resident at 16
    // cameras than glibc's defaults; what one more saves is within the
    // spread between runs (docs/benchmarks.md, "Results of 2026-12-08").
    // SAFETY: mallopt only sets allocator parameters; no thread runs yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    // A command whose output goes into `head` or a closed pipe ends
    // quietly, as other command-line tools do, instead of panicking in
    // println! (help text included). The servers go back to ignoring
    // SIGPIPE, as Rust programs do: a client that disconnects must not end
    // them.
    // SAFETY: setting a signal's disposition is async-signal-safe, and this
    // runs before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    init_tracing();
    let cli = Cli::parse();
    let serving = matches!(
        cli.command,
        Command::Serve { .. }
            | Command::Demo { .. }
            | Command::Central {
                command: central_cli::CentralCommand::Serve { .. }
            }
    );
    if serving {
        // SAFETY: as above.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    }
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
        .with_ansi(colour_on_stderr())
        .init();
}

/// Whether log lines on stderr may carry colour codes: only for a person
/// at a terminal, not into a file, a pipe or the journal (where the codes
/// are noise), and not when NO_COLOR is set to anything (no-color.org) or
/// the terminal says it is dumb.
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    std::io::stderr().is_terminal() && !set("NO_COLOR") && !dumb
}

/// The escrow bucket at `url` (`s3://BUCKET/PREFIX`, given with `flag`),
/// with the credentials of the environment.
fn escrow_bucket(
    flag: &str,
    url: &str,
    endpoint: &str,
    region: &str,
) -> anyhow::Result<custos_escrow::bucket::Bucket> {
    let parsed = url::Url::parse(url).with_context(|| format!("{flag} {url}"))?;
    let bucket = match (parsed.scheme(), parsed.host_str()) {
        ("s3", Some(b)) if !b.is_empty() => b.to_owned(),
        _ => anyhow::bail!("{flag}: expected s3://BUCKET/PREFIX, found {url}"),
    };
    Ok(custos_escrow::bucket::Bucket::open(
        &custos_escrow::bucket::BucketConfig {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            bucket,
            region: region.to_owned(),
            prefix: parsed.path().trim_matches('/').to_owned(),
        },
    )?)
}

/// The `--witness` keys given.
fn witness_keys(given: &[String]) -> anyhow::Result<Vec<custos_ledger::cosignature::CosignerKey>> {
    given
        .iter()
        .map(|w| {
            custos_ledger::cosignature::CosignerKey::parse(w.trim())
                .map_err(|e| anyhow::anyhow!("--witness {:?}: {e}", w.trim()))
        })
        .collect()
}

/// `custos verify --escrow`: the log a site published, checked whole from
/// the bucket, trusting only the keys given.
fn verify_escrow_command(
    url: &str,
    endpoint: &str,
    region: &str,
    key: &str,
    witnesses: &[String],
    witness_quorum: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let bucket = escrow_bucket("--escrow", url, endpoint, region)?;
    let key = custos_ledger::note::VerifierKey::parse(key.trim())
        .map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let witnesses = witness_keys(witnesses)?;
    let quorum = witness_quorum.unwrap_or(witnesses.len());
    if quorum > witnesses.len() {
        bail!(
            "--witness-quorum {quorum}: expected from 1 to the {} witness key(s) given",
            witnesses.len()
        );
    }
    let report = match runtime()?.block_on(custos_escrow::read::verify_published_log(
        &bucket, &key, &witnesses,
    )) {
        Ok(r) => r,
        Err(e) => {
            println!("NOT VERIFIED: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    for (w, time) in &report.cosigned_by {
        println!("co-signed by {w} at {time} (Unix seconds)");
    }
    for (w, why) in &report.not_cosigned_by {
        println!("not co-signed by {w}: {why}");
    }
    if report.cosigned_by.len() < quorum {
        println!(
            "NOT VERIFIED: {} of the {} witnesses required co-signed the checkpoint",
            report.cosigned_by.len(),
            quorum
        );
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "VERIFIED: the log of {} in {url} has {} entries, every one read and hashed, and {} hash \
         tiles, all matching its checkpoint signed by {}",
        report.origin,
        report.size,
        report.tiles_checked,
        key.short()
    );
    Ok(ExitCode::SUCCESS)
}

/// `custos export --from-escrow`: the bundle of a span built from the
/// escrow bucket alone, trusting only the site's key given here.
#[allow(clippy::too_many_arguments)]
fn escrow_export(
    url: &str,
    endpoint: &str,
    region: &str,
    key: &str,
    camera: &str,
    start_ms: i64,
    end_ms: i64,
    reason: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let bucket = escrow_bucket("--from-escrow", url, endpoint, region)?;
    let key = custos_ledger::note::VerifierKey::parse(key.trim())
        .map_err(|e| anyhow::anyhow!("--key: {e}"))?;
    let by = auth::cli_actor();
    let request = custos_escrow::export::EscrowExport {
        camera,
        start_ms,
        end_ms,
        reason,
        by: &by,
        now_ms: custos_site::clock::now_ms(),
    };
    let summary = runtime()?
        .block_on(custos_escrow::export::export_from_escrow(
            &bucket, &key, &request, out,
        ))
        .with_context(|| {
            format!(
                "exporting camera {camera:?} from {url} into {}",
                out.display()
            )
        })?;
    println!(
        "wrote {}: {} segments, {} log entries, proven against the signed log of {} entries (from the escrow bucket)",
        out.display(),
        summary.segments,
        summary.entries,
        summary.tree_size
    );
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Serves the site of the file at `path`, starting again with the file as
/// it then is each time the settings API changed it.
fn serve_until_stopped(path: &Path) -> anyhow::Result<()> {
    let runtime = runtime()?;
    let settings = std::sync::Arc::new(site_settings::FileSettings::new(path));
    loop {
        let config = load_config(path)?;
        let outcome = runtime.block_on(serve::serve(config, Some(settings.clone())))?;
        if outcome == serve::Outcome::Stopped {
            return Ok(());
        }
    }
}

fn load_config(path: &Path) -> anyhow::Result<config::Config> {
    config::load(path).map_err(|e| anyhow::anyhow!("{e}"))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => serve_until_stopped(&config)?,
        Command::Central { command } => central_cli::run(command)?,
        Command::Demo {
            dir,
            listen,
            site,
            central,
            enrol_code,
        } => {
            let central = central.zip(enrol_code);
            run_demo(&dir, &listen, &site, central.as_ref())?
        }
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
                    tls_fingerprint,
                    json,
                },
        } => {
            return probe_camera(
                &url,
                transport,
                password_env.as_deref(),
                tls_fingerprint.as_deref(),
                json,
            );
        }
        Command::User { command } => user_command(command)?,
        Command::Token { command } => token_command(command)?,
        Command::Export {
            config,
            from_escrow: Some(url),
            endpoint,
            region,
            key,
            camera,
            start_ms,
            end_ms,
            out,
            reason,
        } => {
            let (Some(endpoint), Some(key)) = (endpoint, key) else {
                anyhow::bail!("--from-escrow needs --endpoint and --key");
            };
            let _ = config;
            escrow_export(
                &url, &endpoint, &region, &key, &camera, start_ms, end_ms, &reason, &out,
            )?;
        }
        Command::Export {
            config,
            camera,
            start_ms,
            end_ms,
            out,
            reason,
            ..
        } => {
            let Some(config) = config else {
                anyhow::bail!("export needs --config (or --from-escrow)");
            };
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let key = custos_site::sitelog::signing_key(&config.data_dir, &config.site)?;
            let user = auth::cli_actor();
            let req = custos_site::evidence::ExportRequest {
                site: &config.site,
                camera: &camera,
                start_ms,
                end_ms,
                reason: &reason,
                user: &user,
            };
            let summary = custos_site::evidence::export_bundle(
                &store,
                &config.data_dir,
                &custos_site::data_dir::DataDir::new(&config.data_dir).log(),
                &key.verifier(),
                &req,
                &out,
            )
            .with_context(|| format!("exporting camera {camera:?} into {}", out.display()))?;
            println!(
                "wrote {}: {} segments, {} log entries, proven against the signed log of {} entries",
                out.display(),
                summary.segments,
                summary.entries,
                summary.tree_size
            );
        }
        Command::Segment { command } => segment_command(command)?,
        Command::Register { command } => return register_cli::register_command(command),
        Command::Custody { command } => return register_cli::custody_command(command),
        Command::Analyze {
            file,
            json,
            config,
            camera,
        } => {
            let settings = match (config, camera) {
                (Some(config), Some(camera)) => {
                    let config = load_config(&config)?;
                    config
                        .cameras
                        .iter()
                        .find(|c| c.settings.id == camera)
                        .map(|c| c.settings.analysis.clone())
                        .with_context(|| format!("no camera {camera:?} in the configuration"))?
                }
                _ => custos_site::camera::AnalysisSettings::default(),
            };
            custos_site::analysis::analyze_file(&file, &settings, json)
                .with_context(|| format!("analysing {}", file.display()))?;
        }
        Command::Bench {
            command: BenchCommand::Analysis { file },
        } => bench::analysis(&file)?,
        Command::Bench {
            command: BenchCommand::Import { items, dir },
        } => bench::import(items, &dir)?,
        Command::Bench {
            command:
                BenchCommand::Central {
                    config,
                    sites,
                    seconds,
                    checkpoint_every_s,
                    report_every_s,
                    entries_per_checkpoint,
                },
        } => bench_central::central(bench_central::CentralBench {
            config,
            sites,
            seconds,
            checkpoint_every: std::time::Duration::from_secs(checkpoint_every_s.max(1)),
            report_every: std::time::Duration::from_secs(report_every_s.max(1)),
            entries_per_checkpoint,
        })?,
        Command::Bench {
            command:
                BenchCommand::Escrow {
                    endpoint,
                    bucket,
                    region,
                    clip,
                    files,
                    max_kbps,
                    capped_bytes,
                },
        } => bench_escrow::escrow(bench_escrow::EscrowBench {
            endpoint,
            bucket,
            region,
            clip,
            files,
            max_kbps,
            capped_bytes,
        })?,
        Command::Bench {
            command:
                BenchCommand::CatchUp {
                    config,
                    days,
                    cameras,
                    segment_seconds,
                    motion_per_day,
                    custody_per_day,
                    max_kbps,
                },
        } => bench_catchup::catch_up(bench_catchup::CatchUpBench {
            config,
            days,
            cameras,
            segment_seconds,
            motion_per_day,
            custody_per_day,
            max_kbps,
        })?,
        Command::Bench {
            command: BenchCommand::ApiLatency { items, dir, custos },
        } => {
            let custos = match custos {
                Some(path) => path,
                None => std::env::current_exe().context("finding this binary")?,
            };
            bench::api_latency(items, &dir, &custos)?
        }
        Command::Bench {
            command:
                BenchCommand::VerifySite {
                    cameras,
                    days,
                    segment_seconds,
                    file_bytes,
                    dir,
                    keep,
                },
        } => bench::verify_site(&bench::VerifySiteBench {
            cameras,
            days,
            segment_seconds,
            file_bytes,
            dir,
            keep,
        })?,
        Command::Verify {
            bundle,
            config,
            key,
            witnesses,
            witness_quorum,
            escrow: Some(url),
            endpoint,
            region,
        } => {
            let _ = (bundle, config);
            return verify_escrow_command(
                &url,
                endpoint.as_deref().unwrap_or_default(),
                &region,
                key.as_deref().unwrap_or_default(),
                &witnesses,
                witness_quorum,
            );
        }
        Command::Verify {
            bundle,
            config,
            key,
            witnesses,
            witness_quorum,
            ..
        } => return verify_command(bundle, config, key, &witnesses, witness_quorum),
        Command::Key {
            command: KeyCommand::Show { config },
        } => {
            let config = load_config(&config)?;
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("creating data directory {}", config.data_dir.display())
            })?;
            let key = custos_site::sitelog::signing_key(&config.data_dir, &config.site)?;
            println!("{}", key.verifier());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn probe_camera(
    url: &str,
    transport: TransportArg,
    password_env: Option<&str>,
    tls_fingerprint: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut url = url::Url::parse(url).with_context(|| format!("{url:?} is not a URL"))?;
    let mut credentials = None;
    if !url.username().is_empty() || password_env.is_some() {
        let (user, password) = custos_site::camera::url_credentials(&url).unwrap_or_default();
        let password = match password_env {
            Some(var) => std::env::var(var)
                .with_context(|| format!("environment variable {var} is not set"))?,
            None => password,
        };
        credentials = Some((user, password));
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    let transport = match transport {
        TransportArg::Tcp => custos_media::source::Transport::Tcp,
        TransportArg::Udp => custos_media::source::Transport::Udp,
    };
    let pin = match tls_fingerprint {
        Some(text) => Some(
            custos_media::tls_pin::Fingerprint::parse(text)
                .map_err(|e| anyhow::anyhow!("--tls-fingerprint: {e}"))?,
        ),
        None => None,
    };
    let spec = custos_media::source::SourceSpec {
        url: url.clone(),
        transport,
        credentials,
        tls_fingerprint: pin,
    };
    match runtime()?.block_on(probe::probe(&spec)) {
        Ok(report) => {
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{}", probe::describe(&report));
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

fn verify_command(
    bundle: Option<PathBuf>,
    config: Option<PathBuf>,
    key: Option<String>,
    witnesses: &[String],
    witness_quorum: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let key = key
        .map(|k| {
            custos_ledger::note::VerifierKey::parse(k.trim())
                .map_err(|e| anyhow::anyhow!("--key: {e}"))
        })
        .transpose()?;
    let witnesses = witness_keys(witnesses)?;
    if let Some(k) = witness_quorum {
        if k == 0 || k > witnesses.len() {
            bail!(
                "--witness-quorum {k}: expected from 1 to the {} witness key(s) given",
                witnesses.len()
            );
        }
    }
    let ok = match (bundle, config) {
        (Some(dir), None) => {
            let report = custos_ledger::bundle::verify_bundle_trusting(
                &dir,
                &custos_ledger::bundle::Trust {
                    key: key.as_ref(),
                    witnesses: &witnesses,
                    witness_quorum,
                },
            );
            println!("{report}");
            report.ok()
        }
        (None, Some(config)) => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let verifier = match key {
                Some(k) => k,
                None => {
                    custos_site::sitelog::signing_key(&config.data_dir, &config.site)?.verifier()
                }
            };
            let report = custos_site::integrity::verify_site(&store, &config.data_dir, &verifier)?;
            println!("{report}");
            report.ok()
        }
        _ => bail!("give an evidence bundle directory or --config FILE"),
    };
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn segment_command(command: SegmentCommand) -> anyhow::Result<()> {
    let actor = auth::cli_actor();
    let hold = matches!(command, SegmentCommand::Hold { .. });
    match command {
        SegmentCommand::Hold { id, config } | SegmentCommand::Release { id, config } => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let seg = custos_site::segments::set_hold_by(&store, id, hold, &actor)?;
            println!(
                "segment {} ({}) {}",
                seg.id,
                seg.path,
                if hold { "held" } else { "released" }
            );
        }
        SegmentCommand::Delete { id, config, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason must say why the footage is deleted");
            }
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let seg = custos_site::segments::delete_segment_by(
                &store,
                &config.data_dir,
                id,
                reason.trim(),
                &actor,
                custos_site::clock::now_ms(),
            )?;
            println!(
                "deleted segment {} ({}); its tombstone is in the log",
                seg.id, seg.path
            );
        }
    }
    Ok(())
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
            let hash = custos_webapp::credentials::hash_password(&password)?;
            let store = site_store(&config.data_dir)?;
            let new = custos_site::users::NewUser {
                name: &name,
                role,
                password_hash: &hash,
                rooms: None,
            };
            let user = custos_site::users::create_user(
                &store,
                &auth::cli_actor(),
                &new,
                custos_site::clock::now_ms(),
            )?;
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
            let custos_webapp::credentials::NewToken { id, token, .. } =
                custos_site::users::create_token(
                    &store,
                    &user,
                    label.as_deref(),
                    &auth::cli_actor(),
                    custos_site::clock::now_ms(),
                )?;
            eprintln!("token {id} for {} (shown once; store it now):", user.name);
            println!("{token}");
        }
        TokenCommand::Revoke { id, config } => {
            let config = load_config(&config)?;
            let store = site_store(&config.data_dir)?;
            let t = custos_site::users::revoke_token(
                &store,
                &id,
                &auth::cli_actor(),
                custos_site::clock::now_ms(),
            )?;
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
    custos_site::open::index(data_dir)
}

fn run_demo(
    dir: &Path,
    listen: &str,
    site: &str,
    central: Option<&(String, String)>,
) -> anyhow::Result<()> {
    let config_path = demo::prepare(dir, listen, site, central)?;
    let config = load_config(&config_path)?;
    let store = site_store(&config.data_dir)?;
    let mut login = None;
    if store.user_by_name(demo::DEMO_USER)?.is_none() {
        let password = auth::random_password();
        let hash = custos_webapp::credentials::hash_password(&password)?;
        let new = custos_site::users::NewUser {
            name: demo::DEMO_USER,
            role: Role::Admin,
            password_hash: &hash,
            rooms: None,
        };
        let admin = custos_site::users::create_user(
            &store,
            "custos demo",
            &new,
            custos_site::clock::now_ms(),
        )?;
        let token = custos_site::users::create_token(
            &store,
            &admin,
            Some("demo"),
            "custos demo",
            custos_site::clock::now_ms(),
        )?
        .token;
        login = Some((password, token));
    }
    let camera_exists = |c: &str| config.cameras.iter().any(|cam| cam.settings.id == c);
    let seeded = demo::seed_register(&store, &camera_exists)?;
    drop(store);
    let url = format!("http://{}", config.server.listen);
    // The web app first: it is what a newcomer opens.
    println!(
        "Custos demo site \"{}\" — open the web app: {url}/",
        config.site
    );
    match &login {
        Some((password, _)) => {
            println!("  login:  admin / {password}   (one-time: shown only now)")
        }
        None => println!("  login:  admin, with the password shown on the first run"),
    }
    println!("  API:    {url}/api/v1/cameras");
    match &login {
        Some((_, token)) => {
            println!("  token:  {token}");
            println!("  try:    curl -H 'Authorization: Bearer {token}' '{url}/api/v1/items?overdue=true'");
        }
        None => println!(
            "  token:  custos token create admin --config {}",
            config_path.display()
        ),
    }
    println!(
        "  site:   {} cameras recording into {}",
        config.cameras.len(),
        config.data_dir.display()
    );
    if seeded {
        println!(
            "  watch:  the register holds rooms (the basement is seen by no camera), people and items; \
             custody actions happen at the desk over the first 2 minutes; \
             the Stacks camera is covered for 15 s from 0:{:02}, and every 5 minutes after",
            demo::COVERED_FROM_S as u32
        );
    } else {
        println!(
            "  watch:  the register as earlier runs left it; \
             the Stacks camera is covered for 15 s from 0:{:02}, and every 5 minutes after",
            demo::COVERED_FROM_S as u32
        );
    }
    if let Some((url, _)) = central {
        println!("  centre: enrols with and reports to {url}");
    }
    println!("  config: {}   (stop with Ctrl-C)", config_path.display());
    let data_dir = config.data_dir.clone();
    drop(config);
    if seeded {
        demo::start_custody_script(data_dir)?;
    }
    serve_until_stopped(&config_path)
}
