//! The data directory's layout: every place in it, named once.
//!
//! ```text
//! <data_dir>/custos.db            the index (custos_store::DB_FILE_NAME)
//!            custos.lock          held by the one process serving the site
//!            reserve.ballast      room kept for a restart on a full disk
//!            log/                 the Merkle log (custos_ledger::storage)
//!            keys/log.key         the log's signing key
//!            video/<camera>/      segment files
//!            snapshots/<camera>/  event snapshots
//!            quarantine/          files recovery found and did not index
//!            exports/             evidence bundles made through the API
//! ```
//!
//! The crates below this one (store, media, ledger) take paths as
//! arguments; the binary and the server ask this type for them.

use std::path::{Component, Path, PathBuf};

/// The site's data directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite index.
    pub fn index(&self) -> PathBuf {
        self.root.join(custos_store::DB_FILE_NAME)
    }

    /// The lock file that keeps a second process from serving the site.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("custos.lock")
    }

    /// The ballast file: room freed so a site restarts on a full disk.
    pub fn ballast(&self) -> PathBuf {
        self.root.join("reserve.ballast")
    }

    /// The Merkle log's directory.
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }

    /// The directory of the site's keys.
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The log's signing key.
    pub fn signing_key(&self) -> PathBuf {
        self.keys().join("log.key")
    }

    /// Every camera's segment files, one directory per camera.
    pub fn video(&self) -> PathBuf {
        self.root.join("video")
    }

    /// Camera `camera`'s segment files.
    pub fn camera_video(&self, camera: &str) -> PathBuf {
        self.video().join(camera)
    }

    /// Where recovery moves files it found but cannot index.
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    /// The snapshot of event `event` of `camera`, relative to the data
    /// directory, as the index stores it.
    pub fn snapshot(camera: &str, event: i64) -> String {
        format!("snapshots/{camera}/{event}.jpg")
    }

    /// Evidence bundles made through the API.
    pub fn exports(&self) -> PathBuf {
        self.root.join("exports")
    }

    /// The file at `relative`, a path the index holds, when it stays inside
    /// the data directory (only plain names: no root, `.` or `..`). The
    /// store accepts no other; this checks again because handing out a file
    /// outside the data directory would be far worse than refusing one.
    pub fn resolve(&self, relative: &str) -> Option<PathBuf> {
        let path = Path::new(relative);
        let inside = path.components().all(|c| matches!(c, Component::Normal(_)));
        (!relative.is_empty() && inside).then(|| self.root.join(path))
    }

    /// `path` relative to the data directory, as the index stores it
    /// (`path` itself when it is not under it).
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_resolve_only_inside() {
        let d = DataDir::new("/srv/custos");
        assert_eq!(
            d.resolve("video/cam/1.mp4"),
            Some(PathBuf::from("/srv/custos/video/cam/1.mp4"))
        );
        for bad in ["", "/etc/passwd", "../x", "video/../../x", "./x"] {
            assert_eq!(d.resolve(bad), None, "{bad}");
        }
        assert_eq!(
            d.relative(&d.camera_video("cam").join("1.mp4")),
            "video/cam/1.mp4"
        );
        assert_eq!(
            d.resolve(&DataDir::snapshot("cam", 7)),
            Some(d.root().join("snapshots/cam/7.jpg"))
        );
    }
}
