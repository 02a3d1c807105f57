//! Keeping a full disk from stopping the site or hiding its losses.
//!
//! - Video never takes the last of the disk: the recorder keeps
//!   [`DiskPolicy::reserve`] bytes free (`media::segment::check_room`), so
//!   the index and the log can still record that recording is failing, and
//!   why.
//! - When free space falls below one and a half times the reserve, the
//!   oldest footage that is not held is deleted (with a tombstone in the log
//!   saying why) until twice the reserve is free, unless
//!   `delete_oldest_when_full = false`.
//! - A ballast file of our own (`reserve.ballast`) holds a few MB of the
//!   disk. Whatever else fills the disk, a site restarted on it first
//!   removes the ballast, so SQLite has room to open the index and
//!   retention can free space; the ballast is put back once there is room.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use custos_media::segment::available_bytes;
use custos_store::Store;
use tokio::sync::watch;

use crate::clock::now_ms;
use crate::data_dir::DataDir;
use crate::segments::{enforce_retention, RetentionRule};

/// How the site treats its disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskPolicy {
    /// Bytes video never takes.
    pub reserve: u64,
    /// Delete the oldest unheld footage when the disk is full.
    pub delete_oldest_when_full: bool,
    /// What footage escrow asks of deletions, when the site escrows.
    pub escrow: Option<crate::segments::EscrowRetention>,
}

/// The reserve for a file system of `total` bytes when none is configured:
/// 2 % of it, at least 8 MB (a tiny disk still keeps room for the index),
/// at most 1 GB.
pub fn default_reserve(total: u64) -> u64 {
    (total / 50).clamp(8 << 20, 1 << 30)
}

/// The policy for `data_dir`: the configured reserve, or the default for
/// its file system.
pub fn policy(
    data_dir: &Path,
    configured: Option<u64>,
    delete_oldest_when_full: bool,
) -> DiskPolicy {
    let reserve = configured.unwrap_or_else(|| {
        crate::storage::disk_usage(data_dir).map_or(8 << 20, |d| default_reserve(d.total_bytes))
    });
    DiskPolicy {
        reserve,
        delete_oldest_when_full,
        escrow: None,
    }
}

fn ballast_path(data_dir: &Path) -> PathBuf {
    DataDir::new(data_dir).ballast()
}

/// The ballast's size for a reserve: half of it, at most 16 MB.
fn ballast_size(reserve: u64) -> u64 {
    (reserve / 2).min(16 << 20)
}

/// Removes the ballast (before the index is opened): whatever filled the
/// disk, SQLite then has room. Returns true if there was one.
pub fn release_ballast(data_dir: &Path) -> io::Result<bool> {
    match std::fs::remove_file(ballast_path(data_dir)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Puts the ballast back when the disk has room for it and the reserve:
/// its blocks are allocated for real (not a sparse file).
pub fn restore_ballast(data_dir: &Path, policy: &DiskPolicy) -> io::Result<bool> {
    let path = ballast_path(data_dir);
    let size = ballast_size(policy.reserve);
    if size == 0 || path.exists() {
        return Ok(false);
    }
    let free = available_bytes(data_dir).unwrap_or(0);
    if free < policy.reserve.saturating_mul(2).saturating_add(size) {
        return Ok(false);
    }
    let file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(&path)?;
    use std::os::fd::AsRawFd;
    // SAFETY: posix_fallocate on a descriptor we own; no memory involved.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
    if rc != 0 {
        drop(file);
        let _ = std::fs::remove_file(&path);
        return Err(io::Error::from_raw_os_error(rc));
    }
    file.sync_all()?;
    Ok(true)
}

/// Deletes the oldest unheld footage of every camera when the disk has
/// less than one and a half times the reserve free, until it has twice the
/// reserve (before the recorder, which stops at the reserve, has to).
/// Returns the ids deleted.
pub fn make_room(
    store: &Store,
    data_dir: &Path,
    policy: &DiskPolicy,
    now_ms: i64,
) -> anyhow::Result<Vec<i64>> {
    let mut deleted = Vec::new();
    let Some(mut free) = available_bytes(data_dir) else {
        return Ok(deleted);
    };
    if !policy.delete_oldest_when_full || free >= policy.reserve.saturating_mul(3) / 2 {
        return Ok(deleted);
    }
    let target = policy.reserve.saturating_mul(2);
    let reason = format!(
        "retention: the disk was full ({:.1} MB free); the oldest footage made room for recording",
        free as f64 / 1e6
    );
    while free < target {
        let batch = store.oldest_sealed_unheld_any(16)?;
        if batch.is_empty() {
            // Recording says it is failing, and why; this is the reason
            // nothing more can be done here.
            tracing::debug!(
                free,
                reserve = policy.reserve,
                "the disk is nearly full and no unheld footage is left to delete"
            );
            break;
        }
        let mut ids = Vec::new();
        let mut freed = 0;
        for s in &batch {
            if free + freed >= target {
                break;
            }
            freed += s.bytes;
            ids.push(s.id);
        }
        let done = crate::segments::delete_for_retention(
            store,
            data_dir,
            &ids,
            &reason,
            policy.escrow.as_ref(),
            now_ms,
        )?;
        if done.is_empty() {
            break;
        }
        deleted.extend(done);
        free = available_bytes(data_dir).unwrap_or(free + freed);
    }
    if !deleted.is_empty() {
        tracing::warn!(
            segments = deleted.len(),
            free,
            "the disk was full: deleted the oldest footage"
        );
    }
    Ok(deleted)
}

/// `err` with its cause named when the disk holding `dir` is (nearly)
/// full: SQLite says "disk I/O error" or "database or disk is full".
pub fn name_full_disk(err: anyhow::Error, dir: &Path) -> anyhow::Error {
    match available_bytes(dir) {
        Some(free) if free < 1 << 20 => err.context(format!(
            "the disk holding {} is full ({free} bytes free); `custos serve` frees its reserve \
             and deletes the oldest footage at start, or free space by hand",
            dir.display()
        )),
        _ => err,
    }
}

/// How often the disk's free space is looked at between retention runs: a
/// full disk loses pictures every second until room is made.
const DISK_CHECK: Duration = Duration::from_secs(5);

/// Enforces the retention rules every `interval` and keeps room on the
/// disk every few seconds, until `shutdown` changes.
pub async fn run_retention(
    store: Store,
    data_dir: std::path::PathBuf,
    rules: Vec<RetentionRule>,
    disk: crate::disk::DiskPolicy,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let store = Arc::new(Mutex::new(store));
    let mut next_rules = tokio::time::Instant::now();
    loop {
        let run_rules = tokio::time::Instant::now() >= next_rules;
        if run_rules {
            next_rules += interval;
        }
        let (store2, dir, rules2, disk2) =
            (store.clone(), data_dir.clone(), rules.clone(), disk.clone());
        let result = tokio::task::spawn_blocking(move || {
            let store = store2.lock().unwrap_or_else(|e| e.into_inner());
            let mut deleted = 0;
            if run_rules {
                for rule in &rules2 {
                    match enforce_retention(&store, &dir, rule, now_ms()) {
                        Ok(ids) => deleted += ids.len(),
                        Err(e) => tracing::error!(camera = %rule.camera, "retention: {e:#}"),
                    }
                }
            }
            match crate::disk::make_room(&store, &dir, &disk2, now_ms()) {
                Ok(ids) => deleted += ids.len(),
                Err(e) => tracing::error!("making room on a full disk: {e:#}"),
            }
            if let Err(e) = crate::disk::restore_ballast(&dir, &disk2) {
                tracing::debug!("ballast not restored yet: {e}");
            }
            deleted
        })
        .await;
        if let Ok(n) = result {
            if n > 0 {
                tracing::info!(segments = n, "retention deleted old segments");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(DISK_CHECK.min(interval)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_scales_with_the_disk_within_bounds() {
        assert_eq!(default_reserve(64 << 20), 8 << 20);
        assert_eq!(default_reserve(10 << 30), (10u64 << 30) / 50);
        assert_eq!(default_reserve(4 << 40), 1 << 30);
    }

    #[test]
    fn the_ballast_is_allocated_released_and_restored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let policy = DiskPolicy {
            reserve: 2 << 20,
            delete_oldest_when_full: true,
            escrow: None,
        };
        assert!(restore_ballast(dir.path(), &policy).expect("restore"));
        let meta = std::fs::metadata(ballast_path(dir.path())).expect("ballast");
        assert_eq!(meta.len(), 1 << 20);
        use std::os::unix::fs::MetadataExt;
        assert!(meta.blocks() * 512 >= 1 << 20, "allocated, not sparse");
        assert!(
            !restore_ballast(dir.path(), &policy).expect("again"),
            "kept as is"
        );
        assert!(release_ballast(dir.path()).expect("release"));
        assert!(!release_ballast(dir.path()).expect("none left"));
    }
}
