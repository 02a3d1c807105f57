//! Importing a register file: every row checked, all or nothing.

use custos_custody::model::{Item, Location, Person};
use custos_ledger::catalogue::{leaf, RegisterImport};
use custos_store::{Store, StoreError};
use serde::Serialize;

use super::{encoding, item_entry, location_entry, person_entry, RegisterError, Result};

/// Which register file is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    /// `locations.csv`.
    Locations,
    /// `people.csv`.
    People,
    /// `items.csv`.
    Items,
}

impl ImportKind {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Locations => "locations",
            ImportKind::People => "people",
            ImportKind::Items => "items",
        }
    }

    /// Guesses the kind from a file name (`items.csv`, `2026-people.csv`).
    pub fn from_file_name(name: &str) -> Option<ImportKind> {
        let lower = name.to_ascii_lowercase();
        [ImportKind::Locations, ImportKind::People, ImportKind::Items]
            .into_iter()
            .find(|k| lower.contains(k.as_str()))
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// What was imported.
    pub kind: ImportKind,
    /// Rows added.
    pub rows: usize,
    /// SHA-256 of the file, as logged.
    pub sha256: String,
}

/// Why an import added nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Rows were bad; every one is listed with its line and column.
    #[error("{} bad row(s); nothing was imported", .0.len())]
    Rows(Vec<custos_custody::csv_import::RowError>),
    /// Something else went wrong.
    #[error(transparent)]
    Register(#[from] RegisterError),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Register(RegisterError::Store(e))
    }
}

/// Imports a CSV file of `kind`: every row or none. Each row added is
/// logged as its own register entry, and the file as a whole as a
/// `register.import` entry with its SHA-256. `progress(done, total)` is
/// called as rows are written.
pub fn import(
    store: &Store,
    by: &str,
    kind: ImportKind,
    bytes: &[u8],
    camera_exists: &dyn Fn(&str) -> bool,
    now_ms: i64,
    progress: &mut dyn FnMut(u64, u64),
) -> std::result::Result<ImportSummary, ImportError> {
    use custos_custody::csv_import;
    use sha2::Digest;
    use std::collections::{HashMap, HashSet};

    let sha256 = hex::encode(sha2::Sha256::digest(bytes));
    let locations: HashSet<String> = store.locations()?.into_iter().map(|l| l.code).collect();
    let people = store.people()?;
    let staff: HashSet<&str> = people.iter().map(|p| p.staff_id.as_str()).collect();
    let badges: HashMap<&str, &str> = people
        .iter()
        .filter_map(|p| Some((p.badge.as_deref()?, p.staff_id.as_str())))
        .collect();
    enum Rows {
        Locations(Vec<Location>),
        People(Vec<Person>),
        Items(Vec<Item>),
    }
    let rows = match kind {
        ImportKind::Locations => {
            let parsed =
                csv_import::parse_locations(bytes, &|c: &str| locations.contains(c), &|c: &str| {
                    camera_exists(c)
                })
                .map_err(ImportError::Rows)?;
            Rows::Locations(parsed)
        }
        ImportKind::People => Rows::People(
            csv_import::parse_people(bytes, &|s: &str| staff.contains(s), &|b: &str| {
                badges.get(b).map(|s| (*s).to_owned())
            })
            .map_err(ImportError::Rows)?,
        ),
        ImportKind::Items => {
            let barcodes = store.all_barcodes()?;
            Rows::Items(
                csv_import::parse_items(
                    bytes,
                    &|c: &str| locations.contains(c),
                    &|b: &str| barcodes.contains(b),
                    &|s: &str| staff.contains(s),
                )
                .map_err(ImportError::Rows)?,
            )
        }
    };
    let total = match &rows {
        Rows::Locations(v) => v.len(),
        Rows::People(v) => v.len(),
        Rows::Items(v) => v.len(),
    };
    let step = (total / 100).max(1);
    store.write("importing the register", |tx| -> Result<_> {
        let tick = |n: usize, progress: &mut dyn FnMut(u64, u64)| {
            if n.is_multiple_of(step) || n == total {
                progress(n as u64, total as u64);
            }
        };
        match &rows {
            Rows::Locations(v) => {
                // Rooms before what they contain: a row may name a room
                // defined further down the same file.
                let mut ordered: Vec<&Location> = v.iter().filter(|l| l.room.is_none()).collect();
                ordered.extend(v.iter().filter(|l| l.room.is_some()));
                for (n, l) in ordered.into_iter().enumerate() {
                    tx.insert_location(l, now_ms)?;
                    tx.log(location_entry(l, "imported", by, now_ms)?);
                    tick(n + 1, progress);
                }
            }
            Rows::People(v) => {
                for (n, p) in v.iter().enumerate() {
                    tx.insert_person(p, now_ms)?;
                    tx.log(person_entry(p, "imported", by, now_ms)?);
                    tick(n + 1, progress);
                }
            }
            Rows::Items(v) => {
                for (n, i) in v.iter().enumerate() {
                    tx.insert_item(i, now_ms)?;
                    tx.log(item_entry(i, "imported", by, now_ms)?);
                    tick(n + 1, progress);
                }
            }
        }
        tx.log(
            leaf(
                now_ms,
                &RegisterImport {
                    by,
                    kind: kind.as_str(),
                    rows: total as u64,
                    sha256: &sha256,
                },
            )
            .map_err(encoding)?,
        );
        Ok(())
    })?;
    Ok(ImportSummary {
        kind,
        rows: total,
        sha256,
    })
}
