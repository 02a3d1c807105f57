//! Writing a bundle: segment files, entries with their proofs, the
//! checkpoint, the key and, last, the manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::Serialize;

use super::{
    is_plain_name, sha256_of, BundleError, Manifest, ManifestFile, ManifestSegment, ProofsFile,
    CHECKPOINT_FILE, ENTRIES_FILE, FORMAT, KEY_FILE, MANIFEST_FILE, PROOFS_FILE, SEGMENTS_DIR,
    SEGMENT_SEALED,
};
use crate::entry::Entry;
use crate::merkle::{self, Hash};
use crate::note::{self, VerifierKey};

/// Writes an evidence bundle.
///
/// Create it on a new or empty directory, add each segment file and each
/// other entry worth including (tombstones, camera state changes in the
/// span), then [`finish`](BundleWriter::finish) it with the manifest and
/// the checkpoint every proof is against. `manifest.json` is written last:
/// a bundle without one is incomplete.
#[derive(Debug)]
pub struct BundleWriter {
    dir: PathBuf,
    segments: Vec<ManifestSegment>,
    names: BTreeSet<String>,
    entries: BTreeMap<u64, (Vec<u8>, Vec<Hash>)>,
}

/// Wraps an I/O error with what was done and where.
fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BundleError {
    let path = path.to_owned();
    move |source| BundleError::Io {
        action,
        path,
        source,
    }
}

/// Creates `path` (which must not exist), writes `bytes` and fsyncs it.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_err("creating", path))?;
    f.write_all(bytes).map_err(io_err("writing", path))?;
    f.sync_all().map_err(io_err("syncing", path))
}

/// Fsyncs a directory, so the names created in it are durable.
fn sync_dir(path: &Path) -> Result<(), BundleError> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io_err("syncing the directory", path))
}

impl BundleWriter {
    /// Starts a bundle in `dir`, which must not exist or be empty.
    pub fn create(dir: &Path) -> Result<BundleWriter, BundleError> {
        match fs::read_dir(dir) {
            Ok(mut it) => {
                if it.next().is_some() {
                    return Err(BundleError::NotEmpty {
                        dir: dir.to_owned(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
            }
            Err(e) => return Err(io_err("reading", dir)(e)),
        }
        let segments = dir.join(SEGMENTS_DIR);
        fs::create_dir(&segments).map_err(io_err("creating", &segments))?;
        Ok(BundleWriter {
            dir: dir.to_owned(),
            segments: Vec::new(),
            names: BTreeSet::new(),
            entries: BTreeMap::new(),
        })
    }

    /// Copies segment file `file` into the bundle with its `segment.sealed`
    /// entry (log index `index`, leaf bytes `leaf`) and the entry's
    /// inclusion proof. The copy is fsynced, and its SHA-256 must be the one
    /// the entry records.
    pub fn add_segment(
        &mut self,
        file: &Path,
        index: u64,
        leaf: &[u8],
        proof: &[Hash],
    ) -> Result<(), BundleError> {
        let entry = Entry::from_leaf_bytes(leaf)
            .map_err(|error| BundleError::NotCanonical { index, error })?;
        let expected = match (entry.kind.as_str(), entry.str_field("sha256")) {
            (SEGMENT_SEALED, Some(sha)) => sha.to_owned(),
            _ => {
                return Err(BundleError::NotSegmentEntry {
                    index,
                    kind: entry.kind,
                })
            }
        };
        self.check_new_entry(index, leaf)?;
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_plain_name(n))
            .ok_or_else(|| BundleError::BadFileName {
                path: file.to_owned(),
            })?;
        // Two cameras' directories never meet in one bundle, but one name
        // could recur (a file recovered twice): the log index tells them
        // apart.
        let name = if self.names.contains(name) {
            format!("{index}-{name}")
        } else {
            name.to_owned()
        };
        let dest = self.dir.join(SEGMENTS_DIR).join(&name);
        fs::copy(file, &dest).map_err(io_err("copying to the bundle", file))?;
        let copy = File::open(&dest).map_err(io_err("opening", &dest))?;
        copy.sync_all().map_err(io_err("syncing", &dest))?;
        let actual = hex::encode(sha256_of(&copy).map_err(io_err("reading", &dest))?);
        if actual != expected {
            let _ = fs::remove_file(&dest);
            return Err(BundleError::SegmentDiffers {
                path: file.to_owned(),
                index,
                expected,
                actual,
            });
        }
        self.names.insert(name.clone());
        self.segments.push(ManifestSegment {
            file: format!("{SEGMENTS_DIR}/{name}"),
            index,
            sha256: actual,
        });
        self.entries.insert(index, (leaf.to_vec(), proof.to_vec()));
        Ok(())
    }

    /// Includes another log entry (a tombstone, a camera state change, …)
    /// with its inclusion proof. Adding the same leaf again is harmless.
    pub fn add_entry(
        &mut self,
        index: u64,
        leaf: &[u8],
        proof: &[Hash],
    ) -> Result<(), BundleError> {
        Entry::from_leaf_bytes(leaf).map_err(|error| BundleError::NotCanonical { index, error })?;
        self.check_new_entry(index, leaf)?;
        self.entries.insert(index, (leaf.to_vec(), proof.to_vec()));
        Ok(())
    }

    /// Refuses a second, different leaf for one index.
    fn check_new_entry(&self, index: u64, leaf: &[u8]) -> Result<(), BundleError> {
        match self.entries.get(&index) {
            Some((old, _)) if old != leaf => Err(BundleError::DuplicateIndex { index }),
            _ => Ok(()),
        }
    }

    /// Checks every proof against the checkpoint, then writes
    /// `entries.jsonl`, `proofs.json`, `checkpoint`, `key.pub` and lastly
    /// `manifest.json`, and fsyncs the bundle's directories.
    pub fn finish(
        self,
        manifest: &Manifest,
        checkpoint_note: &str,
        key: &VerifierKey,
    ) -> Result<(), BundleError> {
        let checkpoint =
            note::open_checkpoint(checkpoint_note, key).map_err(BundleError::Checkpoint)?;
        if manifest.site != checkpoint.origin {
            return Err(BundleError::SiteMismatch {
                site: manifest.site.clone(),
                origin: checkpoint.origin,
            });
        }
        for (index, (leaf, proof)) in &self.entries {
            merkle::verify_inclusion(
                &merkle::leaf_hash(leaf),
                *index,
                checkpoint.size,
                proof,
                &checkpoint.root,
            )
            .map_err(|error| BundleError::ProofFails {
                index: *index,
                error,
            })?;
        }
        for seg in &self.segments {
            let camera = self
                .entries
                .get(&seg.index)
                .and_then(|(leaf, _)| Entry::from_leaf_bytes(leaf).ok())
                .and_then(|e| e.str_field("camera").map(str::to_owned))
                .unwrap_or_default();
            if camera != manifest.camera {
                return Err(BundleError::CameraMismatch {
                    index: seg.index,
                    camera,
                    expected: manifest.camera.clone(),
                });
            }
        }

        let mut lines = String::new();
        for (index, (leaf, _)) in &self.entries {
            // The leaf is canonical JSON (checked when added), so it is the
            // decoded entry written out exactly.
            let text = String::from_utf8_lossy(leaf);
            lines.push_str(&format!(
                "{{\"index\":{index},\"leaf\":\"{}\",\"entry\":{text}}}\n",
                BASE64.encode(leaf)
            ));
        }
        let proofs = ProofsFile {
            tree_size: checkpoint.size,
            root: BASE64.encode(checkpoint.root),
            inclusion: self
                .entries
                .iter()
                .map(|(index, (_, proof))| {
                    (
                        index.to_string(),
                        proof.iter().map(|h| BASE64.encode(h)).collect(),
                    )
                })
                .collect(),
        };
        let mut segments = self.segments.clone();
        segments.sort_by_key(|s| s.index);
        let manifest_file = ManifestFile {
            format: FORMAT.to_owned(),
            site: manifest.site.clone(),
            camera: manifest.camera.clone(),
            start_ms: manifest.start_ms,
            end_ms: manifest.end_ms,
            reason: manifest.reason.clone(),
            exported_by: manifest.exported_by.clone(),
            exported_ms: manifest.exported_ms,
            segments,
        };
        let dir = &self.dir;
        write_new(&dir.join(ENTRIES_FILE), lines.as_bytes())?;
        let proofs_path = dir.join(PROOFS_FILE);
        write_new(&proofs_path, &pretty(&proofs, &proofs_path)?)?;
        write_new(&dir.join(CHECKPOINT_FILE), checkpoint_note.as_bytes())?;
        write_new(&dir.join(KEY_FILE), format!("{key}\n").as_bytes())?;
        sync_dir(&dir.join(SEGMENTS_DIR))?;
        let manifest_path = dir.join(MANIFEST_FILE);
        write_new(&manifest_path, &pretty(&manifest_file, &manifest_path)?)?;
        sync_dir(dir)
    }
}

/// `value` as pretty JSON with a final newline.
fn pretty<T: Serialize>(value: &T, path: &Path) -> Result<Vec<u8>, BundleError> {
    let mut v = serde_json::to_vec_pretty(value).map_err(|e| BundleError::Io {
        action: "encoding",
        path: path.to_owned(),
        source: io::Error::other(e),
    })?;
    v.push(b'\n');
    Ok(v)
}
