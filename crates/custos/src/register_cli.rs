//! `custos register …` and `custos custody …`: the register and custody
//! actions from the command line, through the same operations as the API
//! (each change checked and logged; the actor is the local user).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use custos_custody::actions::Action;
use custos_custody::model::{
    Coverage, Item, ItemStatus, Location, LocationKind, Person, PersonRole,
};
use custos_site::register::{self, ImportError, ImportKind};
use custos_store::{CustodyQuery, ItemQuery, Store};

use crate::auth::cli_actor;
use crate::config::Config;
use custos_site::clock::now_ms;

#[derive(Subcommand)]
pub enum RegisterCommand {
    /// Import locations.csv, people.csv or items.csv: every row or none;
    /// every bad row is reported with its line and column.
    Import {
        #[arg(long, short)]
        config: PathBuf,
        /// The CSV file.
        file: PathBuf,
        /// What the file holds (default: from its name).
        #[arg(long, value_parser = ["locations", "people", "items"])]
        kind: Option<String>,
    },
    /// Add a location.
    AddLocation {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// room, shelf, reading_table or other.
        #[arg(long, default_value = "room")]
        kind: String,
        /// The room that contains it.
        #[arg(long)]
        room: Option<String>,
        /// Cameras that see it: `cam1;cam2:zone`.
        #[arg(long, default_value = "")]
        coverage: String,
    },
    /// Retire a location (it keeps its history; no item can go there).
    RetireLocation {
        #[arg(long, short)]
        config: PathBuf,
        code: String,
    },
    /// Change an item's title, reference or classification.
    EditItem {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        reference: Option<String>,
        #[arg(long)]
        classification: Option<String>,
    },
    /// Add a person.
    AddPerson {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        staff_id: String,
        #[arg(long)]
        name: String,
        /// staff, researcher, contractor or other.
        #[arg(long, default_value = "staff")]
        role: String,
        #[arg(long)]
        badge: Option<String>,
    },
    /// Retire a person (they keep their history; they can take nothing more).
    RetirePerson {
        #[arg(long, short)]
        config: PathBuf,
        staff_id: String,
    },
    /// Add an item, in place at its home location.
    AddItem {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        barcode: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        reference: String,
        #[arg(long, default_value = "")]
        classification: String,
        /// Location code where it belongs.
        #[arg(long)]
        home: String,
    },
    /// An item with its chain of custody and footage.
    Show {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
    },
    /// Items matching words in barcode, title or reference.
    Search {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(default_value = "")]
        words: String,
        /// in_place, out or disposed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Subcommand)]
pub enum CustodyCommand {
    /// Check an item out to a person until a due time.
    CheckOut {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        /// Staff id of the person taking it.
        #[arg(long)]
        to: String,
        /// Due back, RFC 3339 (`2026-12-01T17:00:00+01:00`).
        #[arg(long)]
        due: String,
    },
    /// Check an item back in (at its home, or at --location).
    CheckIn {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        location: Option<String>,
    },
    /// Hand an item that is out to another person.
    Transfer {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        to: String,
    },
    /// A person consults an item in the reading room.
    View {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        location: String,
    },
    /// A copy of an item is made.
    Copy {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        by: String,
    },
    /// Move an item for good to a new home location.
    Move {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        to_location: String,
    },
    /// Dispose of an item (it stays in the register, with the reason).
    Dispose {
        #[arg(long, short)]
        config: PathBuf,
        barcode: String,
        #[arg(long)]
        reason: String,
    },
}

fn open(config: &Path) -> anyhow::Result<(Config, Store)> {
    let config = crate::config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = crate::site_store(&config.data_dir)?;
    Ok((config, store))
}

fn camera_checker(config: &Config) -> impl Fn(&str) -> bool + '_ {
    move |c: &str| config.cameras.iter().any(|cam| cam.settings.id == c)
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn register_command(command: RegisterCommand) -> anyhow::Result<ExitCode> {
    let by = cli_actor();
    match command {
        RegisterCommand::Import { config, file, kind } => {
            let (config, store) = open(&config)?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = match kind.as_deref() {
                Some("locations") => ImportKind::Locations,
                Some("people") => ImportKind::People,
                Some("items") => ImportKind::Items,
                _ => ImportKind::from_file_name(&name).with_context(|| {
                    format!(
                        "{}: say what it holds with --kind locations|people|items",
                        file.display()
                    )
                })?,
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {pos}/{len} rows {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message(format!("importing {}", kind.as_str()));
            let started = std::time::Instant::now();
            let exists = camera_checker(&config);
            let result = register::import(
                &store,
                &by,
                kind,
                &bytes,
                &exists,
                now_ms(),
                &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            );
            bar.finish_and_clear();
            match result {
                Ok(summary) => {
                    println!(
                        "{}: imported {} {} in {:.2} s (SHA-256 {}, logged)",
                        file.display(),
                        summary.rows,
                        kind.as_str(),
                        started.elapsed().as_secs_f64(),
                        summary.sha256
                    );
                }
                Err(ImportError::Rows(rows)) => {
                    for r in &rows {
                        eprintln!("{}: {r}", file.display());
                    }
                    eprintln!(
                        "{}: {} bad row(s); nothing was imported",
                        file.display(),
                        rows.len()
                    );
                    return Ok(ExitCode::FAILURE);
                }
                Err(ImportError::Register(e)) => {
                    return Err(anyhow::anyhow!("{}: {e}", file.display()));
                }
            }
        }
        RegisterCommand::AddLocation {
            config,
            code,
            name,
            kind,
            room,
            coverage,
        } => {
            let (config, store) = open(&config)?;
            let kind: LocationKind = kind.parse().map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
            let coverage = coverage
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| Coverage::parse(c).map_err(|e| anyhow::anyhow!("--coverage: {e}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let l = Location {
                code,
                name,
                kind,
                room,
                coverage,
                retired: false,
            };
            register::create_location(&store, &by, &l, &camera_checker(&config), now_ms())?;
            println!("added location {}", l.code);
        }
        RegisterCommand::RetireLocation { config, code } => {
            let (config, store) = open(&config)?;
            let mut l = store
                .location(&code)?
                .with_context(|| format!("no location {code:?}"))?;
            l.retired = true;
            register::update_location(&store, &by, &l, &camera_checker(&config), now_ms())?;
            println!("retired location {code}");
        }
        RegisterCommand::EditItem {
            config,
            barcode,
            title,
            reference,
            classification,
        } => {
            let (_, store) = open(&config)?;
            let edit = register::ItemEdit {
                title,
                reference,
                classification,
            };
            let item = register::edit_item(&store, &by, &barcode, &edit, now_ms())?;
            print_json(&item)?;
        }
        RegisterCommand::AddPerson {
            config,
            staff_id,
            name,
            role,
            badge,
        } => {
            let (_, store) = open(&config)?;
            let role: PersonRole = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let p = Person {
                staff_id,
                name,
                role,
                badge,
                retired: false,
            };
            register::create_person(&store, &by, &p, now_ms())?;
            println!("added person {}", p.staff_id);
        }
        RegisterCommand::RetirePerson { config, staff_id } => {
            let (_, store) = open(&config)?;
            let mut p = store
                .person(&staff_id)?
                .with_context(|| format!("no person {staff_id:?}"))?;
            p.retired = true;
            register::update_person(&store, &by, &p, now_ms())?;
            println!("retired {staff_id}");
        }
        RegisterCommand::AddItem {
            config,
            barcode,
            title,
            reference,
            classification,
            home,
        } => {
            let (_, store) = open(&config)?;
            let i = Item {
                barcode,
                title,
                reference,
                classification,
                location: home.clone(),
                home_location: home,
                status: ItemStatus::InPlace,
                holder: None,
                due_ms: None,
                disposed_reason: None,
            };
            register::create_item(&store, &by, &i, now_ms())?;
            println!("added item {}", i.barcode);
        }
        RegisterCommand::Show { config, barcode } => {
            let (_, store) = open(&config)?;
            let item = store
                .item(&barcode)?
                .with_context(|| format!("no item {barcode:?}"))?;
            let events = store.custody_events(&CustodyQuery {
                barcode: Some(barcode),
                limit: 100_000,
                oldest_first: true,
                ..Default::default()
            })?;
            let custody = register::with_footage(&store, events, now_ms())?;
            print_json(&serde_json::json!({ "item": item, "custody": custody }))?;
        }
        RegisterCommand::Search {
            config,
            words,
            status,
            limit,
        } => {
            let (_, store) = open(&config)?;
            let status = status
                .as_deref()
                .map(str::parse::<ItemStatus>)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--status: {e}"))?;
            let items = store.items(&ItemQuery {
                text: (!words.trim().is_empty()).then_some(words),
                status,
                limit,
                ..Default::default()
            })?;
            print_json(&serde_json::json!({ "items": items }))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses an RFC 3339 time into ms since the epoch.
fn rfc3339_ms(what: &str, text: &str) -> anyhow::Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|e| anyhow::anyhow!("{what}: {text:?} is not an RFC 3339 time ({e})"))
}

pub fn custody_command(command: CustodyCommand) -> anyhow::Result<ExitCode> {
    let (config, barcode, action) = match command {
        CustodyCommand::CheckOut {
            config,
            barcode,
            to,
            due,
        } => (
            config,
            barcode,
            Action::CheckOut {
                to,
                due_ms: rfc3339_ms("--due", &due)?,
            },
        ),
        CustodyCommand::CheckIn {
            config,
            barcode,
            location,
        } => (config, barcode, Action::CheckIn { location }),
        CustodyCommand::Transfer {
            config,
            barcode,
            to,
        } => (config, barcode, Action::Transfer { to }),
        CustodyCommand::View {
            config,
            barcode,
            by,
            location,
        } => (config, barcode, Action::View { by, location }),
        CustodyCommand::Copy {
            config,
            barcode,
            by,
        } => (config, barcode, Action::Copy { by }),
        CustodyCommand::Move {
            config,
            barcode,
            to_location,
        } => (config, barcode, Action::Move { to_location }),
        CustodyCommand::Dispose {
            config,
            barcode,
            reason,
        } => (config, barcode, Action::Disposal { reason }),
    };
    let (_, store) = open(&config)?;
    let now = now_ms();
    match register::record_custody(&store, &cli_actor(), &barcode, &action, now, now) {
        Ok(recorded) => {
            print_json(&recorded)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(register::RegisterError::Refused(reason)) => {
            eprintln!("refused: {reason}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
