//! Opening a site's data directory: the one process that records into it
//! holds its lock, and a full disk does not stop the index from opening.

use std::path::Path;

use anyhow::Context;
use custos_store::Store;

use crate::data_dir::DataDir;

/// Opens the index, creating the data directory and taking the site lock.
pub fn site(data_dir: &Path) -> anyhow::Result<(Store, std::fs::File)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let lock = lock(data_dir)?;
    // Whatever filled the disk, the ballast's room lets SQLite open.
    match crate::disk::release_ballast(data_dir) {
        Ok(true) => tracing::debug!("released the disk reserve's ballast"),
        Ok(false) => {}
        Err(e) => tracing::warn!("removing the ballast file: {e}"),
    }
    let store = index(data_dir)?;
    Ok((store, lock))
}

/// Opens the index of the site at `data_dir` (the admin commands and each
/// of the site's threads open their own connection).
pub fn index(data_dir: &Path) -> anyhow::Result<Store> {
    let db = DataDir::new(data_dir).index();
    Store::open(&db)
        .with_context(|| format!("opening the index {}", db.display()))
        .map_err(|e| crate::disk::name_full_disk(e, data_dir))
}

/// One `serve` per data directory: two recorders writing the same files would
/// corrupt them. The lock is released when the process exits, however it exits.
fn lock(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let path = DataDir::new(data_dir).lock_file();
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        anyhow::bail!(
            "{} is in use by another custos process (lock {})",
            data_dir.display(),
            path.display()
        );
    }
    Ok(file)
}
