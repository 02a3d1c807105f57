//! `custos central …`: the central office's commands.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use custos_central::config::CentralConfig;
use custos_central::{alerts, db, http, now_ms, register, reports, sites, witness};
use deadpool_postgres::Pool;

use crate::auth::cli_actor;

#[derive(Subcommand)]
pub enum CentralCommand {
    /// Serve the central office: the witness for every site's log and
    /// enrolment, on PostgreSQL.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Sites: add one (prints its one-time enrolment code), list them,
    /// resume co-signing after a refusal, rotate a site's key.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// The centre's alerts about sites (open ones unless --all).
    Alerts {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        all: bool,
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an alert.
    Ack {
        id: i64,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Resolve an alert.
    Resolve {
        id: i64,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        note: String,
    },
    /// What administrators and auditors did at the centre, and enrolments.
    Audit {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Where an item is: its latest custody event at every site (with
    /// --history, every event).
    Where {
        barcode: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        history: bool,
        #[arg(long)]
        json: bool,
    },
    /// What a person handled at any site (took, held or recorded).
    Handled {
        person: String,
        #[arg(long, short)]
        config: PathBuf,
        /// How many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Custody events no camera recorded, by site.
    NoFootage {
        #[arg(long, short)]
        config: PathBuf,
        /// How many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Each notification destination: messages waiting, the last error,
    /// messages that failed for good.
    Notifications {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// The people who use the centre's web app: add, list, disable,
    /// enable, unlock, a new password.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// On a site: enrol it with the central office of its `[central]`
    /// table now (`custos serve` also enrols at start).
    Enrol {
        /// The site's configuration file.
        #[arg(long, short)]
        config: PathBuf,
        /// Enrol again although enrolled, with a re-enrolment code the
        /// centre gave (`site reenrol`), pinning its certificate and
        /// witness key afresh. Run it with `custos serve` stopped.
        #[arg(long)]
        again: bool,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (at least 12
    /// characters).
    Add {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        /// admin, auditor or viewer.
        #[arg(long)]
        role: String,
        /// Only the sites of this region (auditors and viewers).
        #[arg(long)]
        region: Option<String>,
        /// Read the password from standard input (required: it never goes
        /// on a command line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every user, their role, region and state.
    List {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Stop a user signing in (their sessions end).
    Disable {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Let a disabled user sign in again.
    Enable {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Give a user a new password, read from standard input (their
    /// sessions end).
    Password {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        password_stdin: bool,
    },
    /// End the lock repeated failed sign-ins put on a user.
    Unlock {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum SiteCommand {
    /// Create a site and print its one-time enrolment code.
    Add {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Every site with its witness state.
    List {
        #[arg(long, short)]
        config: PathBuf,
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// The checkpoints the witness refused for a site, kept as evidence.
    Refusals {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// The latest checkpoint co-signed for a site, with the cosignature.
    Checkpoint {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// An auditor resumes co-signing a site suspended after a refusal.
    Resume {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        reason: String,
        /// Witness the site's current log afresh, from its next checkpoint
        /// (the earlier history and the refusals stay as evidence).
        #[arg(long)]
        accept_new_history: bool,
    },
    /// Acknowledge or resolve one of a site's own alerts from the centre:
    /// the site does it at its next report, and its log says so.
    Alert {
        name: String,
        /// The alert's number at the site.
        alert: i64,
        #[arg(long, short)]
        config: PathBuf,
        /// `acknowledged` or `resolved`.
        #[arg(long)]
        to: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// How long a site may stay silent before `site.silent` is raised.
    SilenceLimit {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        /// Minutes (at least one; the default is five).
        #[arg(long)]
        minutes: u32,
    },
    /// Where a site is: its region (which limits the central users who
    /// see it) and its coordinates on the map. What is not given is
    /// cleared.
    Place {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        region: Option<String>,
        /// Degrees north (negative south).
        #[arg(long, allow_hyphen_values = true)]
        latitude: Option<f64>,
        /// Degrees east (negative west).
        #[arg(long, allow_hyphen_values = true)]
        longitude: Option<f64>,
    },
    /// Let an enrolled site enrol again, with a one-time code: a new box
    /// with its new log key (the rotation is logged here and in the new
    /// log, and the site is witnessed afresh), or the same site to pin the
    /// centre afresh after missing a change of its certificate.
    Reenrol {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        reason: String,
    },
    /// Replace a site's pinned log key at once (logged here only; `reenrol`
    /// has the site log it too).
    RotateKey {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        /// The new verifier key (`name+id+key`).
        #[arg(long)]
        key: String,
        #[arg(long)]
        reason: String,
    },
}

fn load(path: &Path) -> anyhow::Result<CentralConfig> {
    CentralConfig::load(path).map_err(|e| anyhow!("{e}"))
}

async fn pool(config: &CentralConfig) -> anyhow::Result<Pool> {
    db::connect(&config.database.url, config.database.pool_size)
        .await
        .context("opening the central database")
}

/// A size in MB or GB, as a person reads it.
fn bytes(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.1} GB", n as f64 / 1e9)
    } else {
        format!("{:.1} MB", n as f64 / 1e6)
    }
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// The fingerprint of the first certificate in a PEM file.
fn certificate_fingerprint(path: &Path) -> anyhow::Result<custos_media::tls_pin::Fingerprint> {
    let leaf = custos_server::tls::leaf_certificate(path)?;
    Ok(custos_media::tls_pin::Fingerprint::of(&leaf))
}

/// `custos central serve`: over HTTPS when `[tls]` says so.
async fn serve(path: &Path) -> anyhow::Result<()> {
    let config = load(path)?;
    let destinations = central_destinations(path)?;
    let mut pins = Vec::new();
    let tls = match &config.tls {
        Some(files) => {
            let server = custos_server::tls::server_config(&files.cert_file, &files.key_file)?;
            let pin = certificate_fingerprint(&files.cert_file)?;
            pins.push(pin.to_string());
            if let Some(next) = &files.next_cert_file {
                let next_pin = certificate_fingerprint(next)?;
                println!("next TLS certificate, announced to sites: {next_pin}");
                pins.push(next_pin.to_string());
            }
            Some((server, pin))
        }
        None => None,
    };
    let central = http::open(&config, pins)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let local = listener
        .local_addr()
        .with_context(|| format!("listening on {}", config.listen))?;
    let witness_key = central.witness.verifier().to_string();
    let shutdown = crate::serve::wait_for_signal();
    match tls {
        Some((server, pin)) => {
            println!("central office listening on https://{local}");
            println!("TLS certificate fingerprint: {pin}");
            println!("witness key: {witness_key}");
            let listener = custos_server::tls::TlsListener::new(listener, server)?;
            http::serve(central, listener, destinations, shutdown).await
        }
        None => {
            println!("central office listening on http://{local}");
            println!("witness key: {witness_key}");
            http::serve(central, listener, destinations, shutdown).await
        }
    }
    .map_err(|e| anyhow!("{e}"))
}

/// The `[[notify]]` tables of `central.toml`, checked as a site's are, with
/// their secrets read from the environment now.
fn central_destinations(
    path: &Path,
) -> anyhow::Result<std::collections::BTreeMap<String, custos_notify::Destination>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let tables = crate::config::notify_tables(&text, &path.display().to_string())?;
    tables
        .iter()
        .map(|n| Ok((n.name.clone(), crate::destinations::destination(n)?)))
        .collect()
}

/// The most rows a register question prints.
const LIST_LIMIT: i64 = 1000;

fn days_ago(days: u32) -> i64 {
    now_ms() - i64::from(days) * 86_400_000
}

/// Custody rows, one a line (or one JSON document).
fn print_custody(rows: &[register::CustodyRow], json: bool, none: &str) -> anyhow::Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "events": rows }))?
        );
        return Ok(());
    }
    if rows.is_empty() {
        println!("{none}");
    }
    for r in rows {
        let mut line = format!(
            "{} {} {} {} by {}",
            r.site,
            when(r.at_ms),
            r.barcode,
            r.action,
            r.by
        );
        if let Some(p) = &r.person {
            line.push_str(&format!(", person {p}"));
        }
        if let Some(h) = &r.holder {
            line.push_str(&format!(", held by {h}"));
        }
        if let Some(l) = &r.location {
            line.push_str(&format!(", at {l}"));
        }
        if r.no_footage {
            line.push_str(", NO FOOTAGE");
        }
        line.push_str(&format!(" [log entry {}]", r.log_index));
        println!("{line}");
    }
    Ok(())
}

/// Runs a `custos central` command.
pub fn run(command: CentralCommand) -> anyhow::Result<()> {
    // A site's command: blocking HTTP and the site's index, no PostgreSQL.
    if let CentralCommand::Enrol { config, again } = &command {
        return crate::central_site::enrol_command(config, *again);
    }
    let runtime = crate::runtime()?;
    runtime.block_on(run_async(command))
}

async fn run_async(command: CentralCommand) -> anyhow::Result<()> {
    let actor = cli_actor();
    match command {
        CentralCommand::Enrol { config, again } => {
            crate::central_site::enrol_command(&config, again)?
        }
        CentralCommand::Serve { config: path } => serve(&path).await?,
        CentralCommand::Site { command } => site_command(command, &actor).await?,
        CentralCommand::User { command } => user_command(command, &actor).await?,
        CentralCommand::Alerts { config, all, json } => {
            let pool = pool(&load(&config)?).await?;
            let list = alerts::list(&pool, !all).await?;
            let site_alerts = alerts::site_alerts(&pool, !all).await?;
            if json {
                let doc = serde_json::json!({ "centre": list, "sites": site_alerts });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(());
            }
            println!("the centre's alerts about sites:");
            if list.is_empty() {
                println!("  none{}", if all { "" } else { " open" });
            }
            for a in &list {
                let state = match (&a.resolved, &a.acknowledged) {
                    (Some((_, by)), _) => format!("resolved by {by}"),
                    (None, Some((_, by))) => format!("acknowledged by {by}"),
                    (None, None) => "open".to_owned(),
                };
                println!(
                    "  #{} {} {} ×{} since {} ({state}): {}",
                    a.id,
                    a.site,
                    a.kind,
                    a.occurrences,
                    when(a.raised_ms),
                    a.detail
                );
            }
            println!("the sites' own alerts (from their logs):");
            if site_alerts.is_empty() {
                println!("  none{}", if all { "" } else { " unresolved" });
            }
            for a in &site_alerts {
                let pending = a
                    .pending
                    .as_ref()
                    .map(|p| format!(", asked: {p}"))
                    .unwrap_or_default();
                println!(
                    "  {} alert {} {} since {} ({}{pending}): {} [log entry {}]",
                    a.site,
                    a.alert,
                    a.kind,
                    when(a.raised_ms),
                    a.state,
                    a.summary,
                    a.log_index
                );
            }
        }
        CentralCommand::Ack { id, config, note } => {
            let pool = pool(&load(&config)?).await?;
            alerts::settle(&pool, id, &actor, false, &note).await?;
            println!("alert {id} acknowledged");
        }
        CentralCommand::Resolve { id, config, note } => {
            if note.trim().is_empty() {
                bail!("--note must say how the alert was resolved");
            }
            let pool = pool(&load(&config)?).await?;
            alerts::settle(&pool, id, &actor, true, &note).await?;
            println!("alert {id} resolved");
        }
        CentralCommand::Where {
            barcode,
            config,
            history,
            json,
        } => {
            let pool = pool(&load(&config)?).await?;
            let rows = if history {
                register::item_history(&pool, &barcode, LIST_LIMIT).await?
            } else {
                register::where_is(&pool, &barcode).await?
            };
            let items = register::register_items(&pool, &barcode).await?;
            if json {
                let doc = serde_json::json!({ "items": items, "events": rows });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(());
            }
            if items.is_empty() {
                println!("no site's register has {barcode}");
            }
            for i in &items {
                let whereabouts = match (&i.holder, &i.location) {
                    (Some(h), _) => format!("held by {}", i.holder_name.as_deref().unwrap_or(h)),
                    (None, Some(l)) => format!("at {}", i.location_name.as_deref().unwrap_or(l)),
                    (None, None) => "nowhere recorded".to_owned(),
                };
                println!(
                    "{} register: {} \"{}\", {}, {whereabouts} [log entry {}]",
                    i.site,
                    i.barcode,
                    i.title,
                    i.status.as_deref().unwrap_or("?"),
                    i.log_index
                );
            }
            print_custody(
                &rows,
                false,
                &format!("no site has a custody event of {barcode}"),
            )?;
        }
        CentralCommand::Handled {
            person,
            config,
            days,
            json,
        } => {
            let pool = pool(&load(&config)?).await?;
            let rows = register::handled_by(&pool, &person, days_ago(days), LIST_LIMIT).await?;
            print_custody(
                &rows,
                json,
                &format!("{person} handled nothing at any site in the last {days} days"),
            )?;
        }
        CentralCommand::NoFootage { config, days, json } => {
            let pool = pool(&load(&config)?).await?;
            let rows = register::without_footage(&pool, days_ago(days)).await?;
            print_custody(
                &rows,
                json,
                &format!("every custody event of the last {days} days has footage"),
            )?;
        }
        CentralCommand::Notifications { config } => {
            let pool = pool(&load(&config)?).await?;
            let states = custos_central::notify::state(&pool).await?;
            if states.is_empty() {
                println!("no destination has been served yet ([[notify]] in the configuration)");
            }
            for s in states {
                println!(
                    "{}: {} waiting, {} failed for good{}",
                    s.destination,
                    s.waiting,
                    s.failed,
                    s.last_error
                        .map(|e| format!("; last error (attempt {}): {e}", s.attempts))
                        .unwrap_or_default()
                );
            }
        }
        CentralCommand::Audit { config } => {
            let pool = pool(&load(&config)?).await?;
            for line in sites::audit_trail(&pool).await? {
                println!(
                    "{} {} {} {}: {}",
                    when(line.at_ms),
                    line.actor,
                    line.action,
                    line.site.as_deref().unwrap_or("-"),
                    line.detail
                );
            }
        }
    }
    Ok(())
}

async fn user_command(command: UserCommand, actor: &str) -> anyhow::Result<()> {
    use custos_central::users::{self, Role};
    match command {
        UserCommand::Add {
            name,
            config,
            role,
            region,
            password_stdin,
        } => {
            let role = Role::parse(&role)?;
            if !password_stdin {
                bail!("--password-stdin is required: a password never goes on a command line");
            }
            let password = crate::auth::read_password_stdin()?;
            let hash = custos_webapp::credentials::hash_password(&password)?;
            let pool = pool(&load(&config)?).await?;
            users::add(&pool, &name, role, region.as_deref(), &hash, actor).await?;
            let scope = region.map_or_else(|| "every site".to_owned(), |r| format!("region {r}"));
            println!("central user {name} added as {} ({scope})", role.as_str());
        }
        UserCommand::List { config } => {
            let pool = pool(&load(&config)?).await?;
            let now = now_ms();
            for u in users::list(&pool).await? {
                let state = if u.disabled {
                    "disabled".to_owned()
                } else if let Some(until) = u.locked_until_ms.filter(|&t| t > now) {
                    format!("locked until {}", when(until))
                } else {
                    "may sign in".to_owned()
                };
                println!(
                    "{} {} {} ({state})",
                    u.name,
                    u.role.as_str(),
                    u.region.as_deref().unwrap_or("every site")
                );
            }
        }
        UserCommand::Disable { name, config } => {
            let pool = pool(&load(&config)?).await?;
            users::change(&pool, &name, Some(true), false, actor).await?;
            println!("{name} is disabled; their sessions have ended");
        }
        UserCommand::Enable { name, config } => {
            let pool = pool(&load(&config)?).await?;
            users::change(&pool, &name, Some(false), false, actor).await?;
            println!("{name} may sign in again");
        }
        UserCommand::Password {
            name,
            config,
            password_stdin,
        } => {
            if !password_stdin {
                bail!("--password-stdin is required: a password never goes on a command line");
            }
            let password = crate::auth::read_password_stdin()?;
            let hash = custos_webapp::credentials::hash_password(&password)?;
            let pool = pool(&load(&config)?).await?;
            users::set_password(&pool, &name, &hash, actor).await?;
            println!("{name} has a new password; their sessions have ended");
        }
        UserCommand::Unlock { name, config } => {
            let pool = pool(&load(&config)?).await?;
            users::change(&pool, &name, None, true, actor).await?;
            println!("{name} is unlocked");
        }
    }
    Ok(())
}

async fn site_command(command: SiteCommand, actor: &str) -> anyhow::Result<()> {
    match command {
        SiteCommand::Add { name, config } => {
            let config = load(&config)?;
            let pool = pool(&config).await?;
            let site = sites::add(&pool, &name, actor).await?;
            println!("site {} added", site.name);
            println!(
                "enrolment code (valid until {}, shown once):",
                when(site.expires_ms)
            );
            println!("{}", site.code);
            println!(
                "on the site, put in its config:\n[central]\nurl = \"{}\"\nenrol_code = \"{}\"",
                config.public_url, site.code
            );
            if let Some(files) = &config.tls {
                println!(
                    "tls_fingerprint = \"{}\"",
                    certificate_fingerprint(&files.cert_file)?
                );
            }
        }
        SiteCommand::List { config, json } => {
            let pool = pool(&load(&config)?).await?;
            let list = sites::list(&pool).await?;
            let reports = reports::last_reports(&pool).await?;
            if json {
                let doc = serde_json::json!({ "sites": list, "reports": reports });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(());
            }
            for s in &list {
                let enrolled = s.enrolled_ms.map_or_else(
                    || "not enrolled".to_owned(),
                    |t| format!("enrolled {}", when(t)),
                );
                let cosigned = s.cosigned.map_or_else(
                    || "nothing co-signed yet".to_owned(),
                    |(size, at)| format!("co-signed size {size} at {}", when(at)),
                );
                let suspended = s
                    .suspended
                    .as_ref()
                    .map(|(at, why)| format!("; SUSPENDED since {}: {why}", when(*at)))
                    .unwrap_or_default();
                println!(
                    "{}: {enrolled}; {cosigned}; mirror {} entries; {} refusal(s){suspended}",
                    s.name, s.mirrored, s.refusals
                );
                if let Some(r) = reports.iter().find(|r| r.site == s.name) {
                    let cameras: Vec<String> = r
                        .health
                        .cameras
                        .iter()
                        .map(|c| match &c.tamper {
                            Some(t) => format!("{} {} ({t})", c.id, c.state),
                            None => format!("{} {}", c.id, c.state),
                        })
                        .collect();
                    println!(
                        "  reported {} s ago (version {}): {}",
                        (now_ms() - r.received_ms) / 1000,
                        r.health.version,
                        if cameras.is_empty() {
                            "no cameras".to_owned()
                        } else {
                            cameras.join(", ")
                        }
                    );
                    let h = &r.health;
                    let mut kept = Vec::new();
                    if let (Some(oldest), Some(last)) = (h.oldest_segment_ms, h.last_segment_ms) {
                        kept.push(format!("footage from {} to {}", when(oldest), when(last)));
                    }
                    if let Some((used, free)) = h.disk {
                        kept.push(format!(
                            "{} of recordings, {} free",
                            bytes(used),
                            bytes(free)
                        ));
                    }
                    let open: i64 = h.open_alerts.iter().map(|(_, n)| n).sum();
                    kept.push(format!("{open} unresolved alert(s)"));
                    println!("  {}", kept.join("; "));
                }
            }
        }
        SiteCommand::Alert {
            name,
            alert,
            config,
            to,
            note,
        } => {
            let pool = pool(&load(&config)?).await?;
            alerts::request_site_alert_change(
                &pool,
                &name,
                alert,
                &to,
                &format!("central:{actor}"),
                note.as_deref(),
            )
            .await?;
            println!("site {name} will mark its alert {alert} {to} at its next report");
        }
        SiteCommand::SilenceLimit {
            name,
            config,
            minutes,
        } => {
            let pool = pool(&load(&config)?).await?;
            reports::set_silent_limit(&pool, &name, i64::from(minutes) * 60_000, actor).await?;
            println!("site {name} may stay silent {minutes} minute(s)");
        }
        SiteCommand::Refusals { name, config } => {
            let pool = pool(&load(&config)?).await?;
            for r in witness::refusals(&pool, &name).await? {
                println!(
                    "== {} status {}: {}",
                    when(r.received_ms),
                    r.status,
                    r.reason
                );
                println!("{}", r.request);
            }
        }
        SiteCommand::Checkpoint { name, config } => {
            let pool = pool(&load(&config)?).await?;
            match witness::latest_cosigned(&pool, &name).await? {
                Some(note) => print!("{note}"),
                None => bail!("nothing has been co-signed for site {name:?}"),
            }
        }
        SiteCommand::Resume {
            name,
            config,
            reason,
            accept_new_history,
        } => {
            let pool = pool(&load(&config)?).await?;
            sites::resume(&pool, &name, actor, &reason, accept_new_history).await?;
            println!("co-signing of site {name} resumed");
        }
        SiteCommand::Place {
            name,
            config,
            region,
            latitude,
            longitude,
        } => {
            let pool = pool(&load(&config)?).await?;
            let place = sites::Place {
                region,
                latitude,
                longitude,
            };
            sites::place(&pool, &name, &place, actor).await?;
            println!("site {name} placed");
        }
        SiteCommand::Reenrol {
            name,
            config,
            reason,
        } => {
            let config = load(&config)?;
            let pool = pool(&config).await?;
            let code = sites::rekey(&pool, &name, actor, &reason).await?;
            println!(
                "re-enrolment code for site {name} (valid until {}, shown once):",
                when(code.expires_ms)
            );
            println!("{}", code.code);
            if let Some(files) = &config.tls {
                println!(
                    "tls_fingerprint = \"{}\"",
                    certificate_fingerprint(&files.cert_file)?
                );
            }
            println!(
                "the site keeps its pinned key until it enrols with this code: a new box, put it \
                 in [central] enrol_code and start it; the same site, put it there and run \
                 `custos central enrol --again --config SITE.toml`"
            );
        }
        SiteCommand::RotateKey {
            name,
            config,
            key,
            reason,
        } => {
            let key = custos_ledger::note::VerifierKey::parse(key.trim())
                .map_err(|e| anyhow!("--key: {e}"))?;
            let pool = pool(&load(&config)?).await?;
            sites::rotate_key(&pool, &name, &key, actor, &reason).await?;
            println!("site {name} now signs with {key}");
        }
    }
    Ok(())
}
