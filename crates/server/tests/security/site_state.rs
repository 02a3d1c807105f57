//! What a request may have changed, read back from the site: log entries
//! in the outbox, every row of the index, the files and the settings.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use custos_ledger::entry::Entry;
use custos_store::pool::StorePool;
use custos_store::DB_FILE_NAME;

use crate::site::Site;
use crate::Error;

/// Log entries waiting in the outbox, of `kind`.
pub fn queued(store: &Arc<StorePool>, kind: &str) -> Result<Vec<Entry>, Error> {
    let store = store.lock_writer();
    let mut found = Vec::new();
    for row in store.outbox(100_000)? {
        let e = Entry::from_leaf_bytes(&row.leaf)?;
        if e.kind == kind {
            found.push(e);
        }
    }
    Ok(found)
}

/// Columns that only record use (a session's or token's last use).
const USE_COLUMNS: &[&str] = &["last_seen_ms", "last_used_ms"];

/// Every row of every table of the index, as text, by table; with
/// `ignore_use`, without the columns that only record use and without the
/// log outbox (which the caller checks on its own).
pub fn dump(data: &Path, ignore_use: bool) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let conn = rusqlite::Connection::open_with_flags(
        data.join(DB_FILE_NAME),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = BTreeMap::new();
    for table in tables {
        if ignore_use && table == "log_outbox" {
            continue;
        }
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
        let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    let v: rusqlite::types::Value = r.get(i)?;
                    cells.push(if ignore_use && USE_COLUMNS.contains(&name.as_str()) {
                        "-".to_owned()
                    } else {
                        format!("{name}={v:?}")
                    });
                }
                Ok(cells.join(" "))
            })?
            .collect::<Result<_, _>>()?;
        if ignore_use && table == "sqlite_sequence" {
            rows.retain(|r| !r.contains("\"log_outbox\""));
        }
        rows.sort();
        out.insert(table, rows);
    }
    Ok(out)
}

/// Every file under the data directory but the index, with its size.
pub fn files(data: &Path) -> Result<BTreeSet<(String, u64)>, Error> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![data.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path.strip_prefix(data)?.to_string_lossy().into_owned();
            if !name.starts_with(DB_FILE_NAME) {
                out.insert((name, entry.metadata()?.len()));
            }
        }
    }
    Ok(out)
}

/// Everything a request could change: the index, the files and the
/// settings (with the calls that reach out to cameras).
pub type SiteState = (
    BTreeMap<String, Vec<String>>,
    BTreeSet<(String, u64)>,
    Vec<String>,
);

pub fn state_of(site: &Site) -> Result<SiteState, Error> {
    Ok((
        dump(&site.data, false)?,
        files(&site.data)?,
        site.settings.calls(),
    ))
}
