//! Evidence bundles: the format, the writer and the offline verifier.
//!
//! An evidence bundle is a directory that proves, with nothing but itself
//! (and, ideally, the site's public key obtained independently), that a set
//! of video files is byte for byte what a site logged in its signed log:
//!
//! ```text
//! segments/<name>.mp4   the original segment files, unchanged
//! entries.jsonl         one line per included log entry: index, leaf bytes, entry
//! proofs.json           the tree size and root, and one inclusion proof per entry
//! checkpoint            the signed note (C2SP tlog-checkpoint) for that tree
//! key.pub               the site's verifier key (C2SP signed-note)
//! manifest.json         what was exported: site, camera, span, reason, segments
//! ```
//!
//! Leaves are canonical entries ([`crate::entry`]), hashed into an RFC 9162
//! Merkle tree ([`crate::merkle`]) whose head is signed as a checkpoint
//! ([`crate::note`], <https://c2sp.org/tlog-checkpoint>,
//! <https://c2sp.org/signed-note>). The complete specification, enough to
//! write an independent verifier, is `docs/evidence-format.md`.
//!
//! [`BundleWriter`] writes a bundle; [`verify_bundle`] checks one and
//! returns a [`Report`] of what is proven, what is not, and every problem.
//! Bundles are hostile input: the verifier never panics on their content,
//! reads nothing outside the bundle directory and bounds what it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::entry::{Entry, EntryError};
use crate::merkle::{self, Hash, ProofError};
use crate::note::{self, NoteError, VerifierKey};

/// The value of `format` in `manifest.json`.
pub const FORMAT: &str = "custos-evidence/1";
/// The directory of segment files.
pub const SEGMENTS_DIR: &str = "segments";
/// The file of included log entries.
pub const ENTRIES_FILE: &str = "entries.jsonl";
/// The file of inclusion proofs.
pub const PROOFS_FILE: &str = "proofs.json";
/// The file of the signed checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint";
/// The file of the verifier key.
pub const KEY_FILE: &str = "key.pub";
/// The manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// A stretch without video longer than this (in ms) must be explained by a
/// `camera.state` entry saying the camera was offline.
pub const MAX_GAP_MS: i64 = 1000;

/// The largest JSON file (`entries.jsonl`, `proofs.json`, `manifest.json`)
/// the verifier reads.
pub const MAX_JSON_BYTES: u64 = 256 << 20;
/// The largest `key.pub` the verifier reads.
const MAX_KEY_BYTES: u64 = 4096;

/// The entry type of a sealed segment.
const SEGMENT_SEALED: &str = "segment.sealed";
/// The entry type of a camera state change.
const CAMERA_STATE: &str = "camera.state";
/// The entry type of pictures the recorder dropped (and why).
const RECORDING_LOSS: &str = "recording.loss";
/// Entry type of a deleted segment's tombstone.
const SEGMENT_DELETED: &str = "segment.deleted";

/// What the exporter says about an export: the fields of `manifest.json`
/// other than `format` and `segments`, which [`BundleWriter`] fills in.
///
/// None of these is signed: they are the exporter's statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The site's name (the log origin and key name).
    pub site: String,
    /// The camera whose segments the bundle holds.
    pub camera: String,
    /// Start of the exported span, ms since the Unix epoch.
    pub start_ms: i64,
    /// End of the exported span, ms since the Unix epoch.
    pub end_ms: i64,
    /// Why it was exported.
    pub reason: String,
    /// Who exported it.
    pub exported_by: String,
    /// When it was exported, ms since the Unix epoch.
    pub exported_ms: i64,
}

/// One segment of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSegment {
    /// The file, `segments/<name>`.
    pub file: String,
    /// The log index of its `segment.sealed` entry.
    pub index: u64,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
}

/// `manifest.json` as written.
#[derive(Debug, Serialize, Deserialize)]
struct ManifestFile {
    format: String,
    site: String,
    camera: String,
    start_ms: i64,
    end_ms: i64,
    reason: String,
    exported_by: String,
    exported_ms: i64,
    segments: Vec<ManifestSegment>,
}

/// `proofs.json` as written.
#[derive(Debug, Serialize, Deserialize)]
struct ProofsFile {
    tree_size: u64,
    root: String,
    inclusion: BTreeMap<String, Vec<String>>,
}

/// One line of `entries.jsonl`.
#[derive(Debug, Deserialize)]
struct EntryLine {
    index: u64,
    leaf: String,
    entry: Value,
}

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file system operation failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The output directory exists and is not empty.
    #[error("{} is not empty; an evidence bundle is written to a new or empty directory", .dir.display())]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// A leaf is not a canonical entry.
    #[error("log entry {index} is not a canonical entry: {error}")]
    NotCanonical {
        /// Its log index.
        index: u64,
        /// Why.
        error: EntryError,
    },
    /// A segment was given with an entry that is not a `segment.sealed`
    /// entry with a `sha256`.
    #[error("log entry {index} ({kind}) is not a segment.sealed entry with a sha256")]
    NotSegmentEntry {
        /// Its log index.
        index: u64,
        /// Its type.
        kind: String,
    },
    /// Two different leaves for one log index.
    #[error("log entry {index} was added twice with different bytes")]
    DuplicateIndex {
        /// The index.
        index: u64,
    },
    /// A segment file's name cannot be used in a bundle.
    #[error("segment file {} has no usable file name", .path.display())]
    BadFileName {
        /// The file.
        path: PathBuf,
    },
    /// The copied file is not what its entry logged.
    #[error(
        "segment file {} (log entry {index}) does not match its log entry: \
         the entry has SHA-256 {expected}, the file {actual}",
        .path.display()
    )]
    SegmentDiffers {
        /// The source file.
        path: PathBuf,
        /// The log index.
        index: u64,
        /// SHA-256 the entry records.
        expected: String,
        /// SHA-256 of the file.
        actual: String,
    },
    /// The checkpoint does not verify with the key.
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(NoteError),
    /// The manifest's site is not the checkpoint's origin.
    #[error("the manifest names site {site:?} but the checkpoint is for {origin:?}")]
    SiteMismatch {
        /// The manifest's site.
        site: String,
        /// The checkpoint's origin.
        origin: String,
    },
    /// A segment entry is of another camera than the manifest's.
    #[error("log entry {index} is a segment of camera {camera:?}, not of {expected:?}")]
    CameraMismatch {
        /// The log index.
        index: u64,
        /// The entry's camera.
        camera: String,
        /// The manifest's camera.
        expected: String,
    },
    /// An inclusion proof does not lead to the checkpoint's root.
    #[error("the inclusion proof of log entry {index} does not verify: {error}")]
    ProofFails {
        /// The log index.
        index: u64,
        /// Why.
        error: ProofError,
    },
}

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

/// SHA-256 of everything `reader` yields.
fn sha256_of(mut reader: impl Read) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(h.finalize().into()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether `name` can be a file name in `segments/`: non-empty, not hidden,
/// no path separator, no control character.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
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

/// Which key a checkpoint was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The bundle's own `key.pub`.
    BundleKey,
    /// The key given to the verifier (`--key`), obtained independently.
    GivenKey,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeySource::BundleKey => "key.pub",
            KeySource::GivenKey => "the key given with --key",
        })
    }
}

/// One thing wrong with a bundle: its cause and the thing it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file the format requires is absent.
    MissingFile {
        /// The bundle-relative name.
        file: String,
    },
    /// A bundle file cannot be read or is not in the format.
    Malformed {
        /// The bundle-relative name.
        file: String,
        /// What is wrong (with line numbers where they apply).
        detail: String,
    },
    /// `manifest.json` has another `format` than [`FORMAT`].
    UnknownFormat {
        /// The format found.
        found: String,
    },
    /// `key.pub` is not the key given to the verifier.
    KeyMismatch {
        /// The key in `key.pub`.
        bundle: String,
        /// The key given.
        given: String,
    },
    /// The checkpoint does not verify under a key.
    CheckpointRejected {
        /// Which key.
        by: KeySource,
        /// Why (a bad signature, no signature by the key, …).
        error: NoteError,
    },
    /// `proofs.json` states another tree than the signed checkpoint.
    CheckpointDisagrees {
        /// The signed size.
        checkpoint_size: u64,
        /// The signed root, hex.
        checkpoint_root: String,
        /// The size in `proofs.json`.
        proofs_size: u64,
        /// The root in `proofs.json`, hex.
        proofs_root: String,
    },
    /// The manifest's site is not the log the checkpoint is for.
    SiteMismatch {
        /// The manifest's site.
        manifest: String,
        /// The checkpoint's origin.
        origin: String,
    },
    /// A leaf is not a canonical entry.
    NotCanonical {
        /// Its log index.
        index: u64,
        /// Why.
        error: EntryError,
    },
    /// The `entry` shown on a line is not what its leaf decodes to.
    EntryDiffersFromLeaf {
        /// The log index.
        index: u64,
    },
    /// A line's index is not above the one before it.
    OutOfOrder {
        /// 1-based line number in `entries.jsonl`.
        line: usize,
        /// The index on that line.
        index: u64,
        /// The index on the line before.
        previous: u64,
    },
    /// Two lines carry the same index.
    Duplicate {
        /// 1-based line number of the second one.
        line: usize,
        /// The index.
        index: u64,
    },
    /// `proofs.json` has no proof for an included entry.
    NoProof {
        /// The log index.
        index: u64,
    },
    /// An inclusion proof is not made of base64 32-byte hashes.
    BadProof {
        /// The log index it is for.
        index: String,
        /// What is wrong.
        detail: String,
    },
    /// An inclusion proof does not lead to the signed root.
    InclusionFails {
        /// The log index.
        index: u64,
        /// Why.
        error: ProofError,
    },
    /// The manifest names a log index that `entries.jsonl` does not hold.
    EntryMissing {
        /// The segment file.
        file: String,
        /// The index the manifest names.
        index: u64,
    },
    /// The manifest names, for a segment, an entry that is not a
    /// `segment.sealed` entry.
    NotSegmentEntry {
        /// The segment file.
        file: String,
        /// The log index.
        index: u64,
        /// The entry's type.
        kind: String,
    },
    /// A `segment.sealed` entry lacks a field or has one of the wrong type.
    BadSegmentEntry {
        /// The log index.
        index: u64,
        /// The field.
        field: &'static str,
    },
    /// The manifest's SHA-256 of a file is not the one its entry records.
    ShaDisagrees {
        /// The segment file.
        file: String,
        /// The log index.
        index: u64,
        /// What the manifest says.
        manifest: String,
        /// What the log entry records.
        entry: String,
    },
    /// A segment's entry is of another camera than the manifest's.
    WrongCamera {
        /// The segment file.
        file: String,
        /// The log index.
        index: u64,
        /// The entry's camera.
        camera: String,
        /// The manifest's camera.
        expected: String,
    },
    /// A segment file the manifest lists is absent.
    SegmentMissing {
        /// The segment file.
        file: String,
        /// Its log index.
        index: u64,
    },
    /// A segment file's bytes are not the ones logged.
    SegmentAltered {
        /// The segment file.
        file: String,
        /// Its log index.
        index: u64,
        /// The SHA-256 its log entry records.
        expected: String,
        /// The SHA-256 of the file in the bundle.
        actual: String,
    },
    /// A path in the bundle is not a regular file.
    NotARegularFile {
        /// The bundle-relative name.
        file: String,
    },
    /// A manifest `file` is not `segments/<plain name>`.
    BadFileName {
        /// The name as written.
        file: String,
    },
    /// The manifest lists a file or a log index twice.
    DuplicateSegment {
        /// The file.
        file: String,
        /// The log index.
        index: u64,
    },
    /// A file in `segments/` that the manifest does not list.
    UnlistedFile {
        /// The bundle-relative name.
        file: String,
    },
    /// The manifest's span ends before it starts.
    BadSpan {
        /// The manifest's start.
        start_ms: i64,
        /// The manifest's end.
        end_ms: i64,
    },
    /// A stretch of the span with no video and no logged explanation.
    SpanNotCovered {
        /// Start of the stretch, ms since the Unix epoch.
        from_ms: i64,
        /// End of the stretch.
        to_ms: i64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingFile { file } => write!(f, "{file} is missing from the bundle"),
            Problem::Malformed { file, detail } => write!(f, "{file} is malformed: {detail}"),
            Problem::UnknownFormat { found } => write!(
                f,
                "{MANIFEST_FILE} declares format {found:?}; this verifier knows {FORMAT:?}"
            ),
            Problem::KeyMismatch { bundle, given } => write!(
                f,
                "key.pub differs from the key given with --key: key.pub is {bundle}, --key is {given}"
            ),
            Problem::CheckpointRejected { by, error } => {
                write!(f, "checkpoint not accepted under {by}: {error}")
            }
            Problem::CheckpointDisagrees {
                checkpoint_size,
                checkpoint_root,
                proofs_size,
                proofs_root,
            } => write!(
                f,
                "{PROOFS_FILE} states tree size {proofs_size} and root {proofs_root}, \
                 but the signed checkpoint has size {checkpoint_size} and root {checkpoint_root}"
            ),
            Problem::SiteMismatch { manifest, origin } => write!(
                f,
                "{MANIFEST_FILE} names site {manifest:?} but the checkpoint is the log of {origin:?}"
            ),
            Problem::NotCanonical { index, error } => {
                write!(f, "the leaf of log entry {index} is not a canonical entry: {error}")
            }
            Problem::EntryDiffersFromLeaf { index } => write!(
                f,
                "{ENTRIES_FILE}: the entry shown for log index {index} is not what its leaf bytes say"
            ),
            Problem::OutOfOrder {
                line,
                index,
                previous,
            } => write!(
                f,
                "{ENTRIES_FILE} line {line}: entries out of order (log index {index} comes after {previous})"
            ),
            Problem::Duplicate { line, index } => write!(
                f,
                "{ENTRIES_FILE} line {line}: log index {index} is duplicated"
            ),
            Problem::NoProof { index } => write!(
                f,
                "log entry {index} has no inclusion proof in {PROOFS_FILE}: its index is not in the proofs"
            ),
            Problem::BadProof { index, detail } => write!(
                f,
                "{PROOFS_FILE}: the inclusion proof for {index:?} is malformed: {detail}"
            ),
            Problem::InclusionFails { index, error } => write!(
                f,
                "inclusion proof fails for log entry {index}: {error}"
            ),
            Problem::EntryMissing { file, index } => write!(
                f,
                "{file}: its log entry {index} is missing from {ENTRIES_FILE}"
            ),
            Problem::NotSegmentEntry { file, index, kind } => write!(
                f,
                "{file}: the manifest points at log entry {index}, a {kind} entry, not a segment.sealed entry"
            ),
            Problem::BadSegmentEntry { index, field } => write!(
                f,
                "log entry {index} (segment.sealed) lacks a valid {field:?} field"
            ),
            Problem::ShaDisagrees {
                file,
                index,
                manifest,
                entry,
            } => write!(
                f,
                "{file}: the manifest sha256 {manifest} disagrees with log entry {index}, which records {entry}"
            ),
            Problem::WrongCamera {
                file,
                index,
                camera,
                expected,
            } => write!(
                f,
                "{file}: log entry {index} is a segment entry for another camera ({camera:?}, not {expected:?})"
            ),
            Problem::SegmentMissing { file, index } => write!(
                f,
                "{file} is missing (segment of log entry {index})"
            ),
            Problem::SegmentAltered {
                file,
                index,
                expected,
                actual,
            } => write!(
                f,
                "{file} was altered: log entry {index} records SHA-256 {expected}, the file has {actual}"
            ),
            Problem::NotARegularFile { file } => write!(f, "{file} is not a regular file"),
            Problem::BadFileName { file } => write!(
                f,
                "{MANIFEST_FILE} lists {file:?}, which is not a file name inside {SEGMENTS_DIR}/"
            ),
            Problem::DuplicateSegment { file, index } => write!(
                f,
                "{MANIFEST_FILE} lists {file} or log entry {index} more than once"
            ),
            Problem::UnlistedFile { file } => write!(
                f,
                "{file} is in the bundle but not listed in {MANIFEST_FILE}"
            ),
            Problem::BadSpan { start_ms, end_ms } => write!(
                f,
                "{MANIFEST_FILE}: the span ends ({end_ms}) before it starts ({start_ms})"
            ),
            Problem::SpanNotCovered { from_ms, to_ms } => write!(
                f,
                "span not covered: no video from {} to {} ({} ms), and no camera.state entry in the bundle says the camera was offline then",
                utc(*from_ms),
                utc(*to_ms),
                to_ms.saturating_sub(*from_ms)
            ),
        }
    }
}

/// The outcome of [`verify_bundle`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// What the bundle proves, in plain language (when there are problems:
    /// the checks that passed, which do not make the bundle valid).
    pub proven: Vec<String>,
    /// What a verification cannot prove, in plain language.
    pub not_proven: Vec<String>,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let item = |f: &mut fmt::Formatter<'_>, text: &str| {
            let mut lines = text.lines();
            if let Some(first) = lines.next() {
                writeln!(f, "  - {first}")?;
            }
            for line in lines {
                writeln!(f, "    {line}")?;
            }
            Ok(())
        };
        if self.ok() {
            writeln!(f, "VERIFIED: the evidence bundle checks out.")?;
            writeln!(f)?;
            writeln!(f, "What is proven:")?;
        } else {
            writeln!(
                f,
                "NOT VERIFIED: {} problem(s) found; do not rely on this bundle.",
                self.problems.len()
            )?;
            writeln!(f)?;
            writeln!(f, "Problems:")?;
            for p in &self.problems {
                item(f, &p.to_string())?;
            }
            writeln!(f)?;
            writeln!(f, "Checks that passed (they do not make the bundle valid):")?;
        }
        if self.proven.is_empty() {
            writeln!(f, "  (none)")?;
        }
        for p in &self.proven {
            item(f, p)?;
        }
        writeln!(f)?;
        writeln!(f, "What is not proven, even by a bundle that verifies:")?;
        for p in &self.not_proven {
            item(f, p)?;
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD hh:mm:ss.mmm UTC`.
fn utc(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03} UTC",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// A sequence of log positions as text: `3, 5, 8`.
fn positions(indices: impl IntoIterator<Item = u64>) -> String {
    indices
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// An entry of `entries.jsonl`, decoded and checked.
struct Included {
    entry: Entry,
    /// Whether its inclusion proof verified against the signed root.
    proven: bool,
}

/// A segment of the manifest whose file and entry both check out.
struct GoodSegment {
    file: String,
    index: u64,
    start_ms: i64,
    end_ms: i64,
}

/// The state of one verification.
struct Verifier<'a> {
    dir: &'a Path,
    problems: Vec<Problem>,
    proven: Vec<String>,
    not_proven: Vec<String>,
}

/// Checks the evidence bundle in `dir` and reports what it proves.
///
/// `extra_key` is the site's verifier key obtained independently of the
/// bundle (`--key`): the checkpoint must then be signed by it and `key.pub`
/// must be it. Without one, the bundle's own `key.pub` is used, which
/// proves only that the bundle is consistent with that key.
///
/// The algorithm is the one of `docs/evidence-format.md`, "Verification".
pub fn verify_bundle(dir: &Path, extra_key: Option<&VerifierKey>) -> Report {
    let mut v = Verifier {
        dir,
        problems: Vec::new(),
        proven: Vec::new(),
        not_proven: Vec::new(),
    };
    v.run(extra_key);
    Report {
        proven: v.proven,
        not_proven: v.not_proven,
        problems: v.problems,
    }
}

impl Verifier<'_> {
    fn problem(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// Reads bundle file `name` (at most `limit` bytes), reporting why not.
    fn read(&mut self, name: &str, limit: u64) -> Option<Vec<u8>> {
        let path = self.dir.join(name);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.problem(Problem::MissingFile {
                    file: name.to_owned(),
                });
                return None;
            }
            Err(e) => {
                self.problem(Problem::Malformed {
                    file: name.to_owned(),
                    detail: format!("cannot be read: {e}"),
                });
                return None;
            }
        };
        if !meta.is_file() {
            self.problem(Problem::NotARegularFile {
                file: name.to_owned(),
            });
            return None;
        }
        if meta.len() > limit {
            self.problem(Problem::Malformed {
                file: name.to_owned(),
                detail: format!("it is {} bytes, more than the {limit} accepted", meta.len()),
            });
            return None;
        }
        let mut bytes = Vec::new();
        let read = File::open(&path).and_then(|f| f.take(limit).read_to_end(&mut bytes));
        match read {
            Ok(_) => Some(bytes),
            Err(e) => {
                self.problem(Problem::Malformed {
                    file: name.to_owned(),
                    detail: format!("cannot be read: {e}"),
                });
                None
            }
        }
    }

    /// Reads a bundle file that must be UTF-8 text.
    fn read_text(&mut self, name: &str, limit: u64) -> Option<String> {
        let bytes = self.read(name, limit)?;
        match String::from_utf8(bytes) {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(Problem::Malformed {
                    file: name.to_owned(),
                    detail: format!("not UTF-8 text: {e}"),
                });
                None
            }
        }
    }

    fn malformed(&mut self, file: &str, detail: String) {
        self.problem(Problem::Malformed {
            file: file.to_owned(),
            detail,
        });
    }

    fn run(&mut self, extra_key: Option<&VerifierKey>) {
        // 1. The keys.
        let bundle_key = self.read_text(KEY_FILE, MAX_KEY_BYTES).and_then(|text| {
            let line = text.strip_suffix('\n').unwrap_or(&text);
            match VerifierKey::parse(line) {
                Ok(k) => Some(k),
                Err(e) => {
                    self.malformed(KEY_FILE, e.to_string());
                    None
                }
            }
        });
        if let (Some(b), Some(g)) = (&bundle_key, extra_key) {
            if b != g {
                self.problem(Problem::KeyMismatch {
                    bundle: b.to_string(),
                    given: g.to_string(),
                });
            }
        }

        // 2. The checkpoint, under key.pub and under --key.
        let note_text = self.read_text(CHECKPOINT_FILE, note::MAX_NOTE_BYTES as u64);
        let mut open = |by: KeySource, key: &VerifierKey| {
            let text = note_text.as_deref()?;
            match note::open_checkpoint_with_extensions(text, key) {
                Ok((cp, extensions)) => Some((cp, extensions, key.clone())),
                Err(error) => {
                    self.problems
                        .push(Problem::CheckpointRejected { by, error });
                    None
                }
            }
        };
        let under_bundle_key = bundle_key
            .as_ref()
            .and_then(|k| open(KeySource::BundleKey, k));
        // With --key, only a checkpoint that key signed is trusted (when it
        // equals key.pub, the check above was that check).
        let trusted = match extra_key {
            None => under_bundle_key,
            Some(g) if bundle_key.as_ref() == Some(g) => under_bundle_key,
            Some(g) => open(KeySource::GivenKey, g),
        };
        let trusted = trusted.map(|(cp, extensions, key)| {
            if !extensions.is_empty() {
                self.not_proven.push(format!(
                    "The checkpoint carries {} extension line(s), which this verifier does not interpret.",
                    extensions.len()
                ));
            }
            (cp, key)
        });

        // 3. proofs.json.
        let proofs = self.read_proofs();
        if let (Some((cp, _)), Some((size, root, _))) = (&trusted, &proofs) {
            if cp.size != *size || cp.root != *root {
                self.problem(Problem::CheckpointDisagrees {
                    checkpoint_size: cp.size,
                    checkpoint_root: hex::encode(cp.root),
                    proofs_size: *size,
                    proofs_root: hex::encode(root),
                });
            }
        }
        // Proofs are checked against the signed tree; without one, against
        // the tree proofs.json states, to locate further damage.
        let tree = match (&trusted, &proofs) {
            (Some((cp, _)), _) => Some((cp.size, cp.root)),
            (None, Some((size, root, _))) => Some((*size, *root)),
            (None, None) => None,
        };
        let empty = BTreeMap::new();
        let inclusion = proofs.as_ref().map_or(&empty, |(_, _, m)| m);

        // 4. entries.jsonl.
        let entries = self.read_entries(tree, inclusion);

        // 5. manifest.json and the segment files.
        let Some(manifest) = self.read_manifest() else {
            self.conclude(
                extra_key,
                trusted.as_ref().map(|(cp, k)| (cp, k)),
                &entries,
                None,
                &[],
            );
            return;
        };
        if let Some((cp, _)) = &trusted {
            if manifest.site != cp.origin {
                self.problem(Problem::SiteMismatch {
                    manifest: manifest.site.clone(),
                    origin: cp.origin.clone(),
                });
            }
        }
        let good = self.check_segments(&manifest, &entries);
        self.check_unlisted(&manifest);

        // 6. The span.
        let gaps = self.check_coverage(&manifest, &entries);
        self.conclude(
            extra_key,
            trusted.as_ref().map(|(cp, k)| (cp, k)),
            &entries,
            Some((&manifest, &good)),
            &gaps,
        );
    }

    /// Reads `proofs.json`: the stated size and root, and each proof
    /// (`None` for one already reported malformed).
    #[allow(clippy::type_complexity)]
    fn read_proofs(&mut self) -> Option<(u64, Hash, BTreeMap<u64, Option<Vec<Hash>>>)> {
        let bytes = self.read(PROOFS_FILE, MAX_JSON_BYTES)?;
        let file: ProofsFile = match serde_json::from_slice(&bytes) {
            Ok(f) => f,
            Err(e) => {
                self.malformed(PROOFS_FILE, e.to_string());
                return None;
            }
        };
        let decode = |s: &str| -> Option<Hash> {
            BASE64
                .decode(s)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
        };
        let Some(root) = decode(&file.root) else {
            self.malformed(
                PROOFS_FILE,
                format!("root {:?} is not the base64 of 32 bytes", file.root),
            );
            return None;
        };
        let mut inclusion = BTreeMap::new();
        for (key, hashes) in file.inclusion {
            let canonical =
                key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0'));
            let Some(index) = key.parse::<u64>().ok().filter(|_| canonical) else {
                self.problem(Problem::BadProof {
                    index: key,
                    detail: "the key is not a log index in decimal".to_owned(),
                });
                continue;
            };
            let decoded: Option<Vec<Hash>> = hashes.iter().map(|h| decode(h)).collect();
            if decoded.is_none() {
                self.problem(Problem::BadProof {
                    index: key,
                    detail: "a hash is not the base64 of 32 bytes".to_owned(),
                });
            }
            inclusion.insert(index, decoded);
        }
        Some((file.tree_size, root, inclusion))
    }

    /// Reads `entries.jsonl`, checking order, canonical form and inclusion.
    fn read_entries(
        &mut self,
        tree: Option<(u64, Hash)>,
        inclusion: &BTreeMap<u64, Option<Vec<Hash>>>,
    ) -> BTreeMap<u64, Included> {
        let mut entries = BTreeMap::new();
        let Some(text) = self.read_text(ENTRIES_FILE, MAX_JSON_BYTES) else {
            return entries;
        };
        let body = text.strip_suffix('\n').unwrap_or(&text);
        if body.is_empty() {
            return entries;
        }
        let mut previous: Option<u64> = None;
        let mut seen = BTreeSet::new();
        for (i, raw) in body.split('\n').enumerate() {
            let line_no = i + 1;
            let line: EntryLine = match serde_json::from_str(raw) {
                Ok(l) => l,
                Err(e) => {
                    self.malformed(ENTRIES_FILE, format!("line {line_no}: {e}"));
                    continue;
                }
            };
            let index = line.index;
            if !seen.insert(index) {
                self.problem(Problem::Duplicate {
                    line: line_no,
                    index,
                });
                continue;
            }
            if let Some(p) = previous.filter(|p| index < *p) {
                self.problem(Problem::OutOfOrder {
                    line: line_no,
                    index,
                    previous: p,
                });
            }
            previous = Some(previous.map_or(index, |p| p.max(index)));
            let Ok(leaf) = BASE64.decode(&line.leaf) else {
                self.malformed(
                    ENTRIES_FILE,
                    format!("line {line_no}: the leaf is not base64"),
                );
                continue;
            };
            let proven = match (tree, inclusion.get(&index)) {
                (_, None) => {
                    self.problem(Problem::NoProof { index });
                    false
                }
                (_, Some(None)) | (None, _) => false,
                (Some((size, root)), Some(Some(proof))) => {
                    match merkle::verify_inclusion(
                        &merkle::leaf_hash(&leaf),
                        index,
                        size,
                        proof,
                        &root,
                    ) {
                        Ok(()) => true,
                        Err(error) => {
                            self.problem(Problem::InclusionFails { index, error });
                            false
                        }
                    }
                }
            };
            let entry = match Entry::from_leaf_bytes(&leaf) {
                Ok(e) => e,
                Err(error) => {
                    self.problem(Problem::NotCanonical { index, error });
                    continue;
                }
            };
            let shown_matches =
                serde_json::from_slice::<Value>(&leaf).is_ok_and(|v| v == line.entry);
            if !shown_matches {
                self.problem(Problem::EntryDiffersFromLeaf { index });
            }
            entries.insert(index, Included { entry, proven });
        }
        entries
    }

    /// Reads `manifest.json` and checks its format and span.
    fn read_manifest(&mut self) -> Option<ManifestFile> {
        let bytes = self.read(MANIFEST_FILE, MAX_JSON_BYTES)?;
        let manifest: ManifestFile = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => {
                self.malformed(MANIFEST_FILE, e.to_string());
                return None;
            }
        };
        if manifest.format != FORMAT {
            self.problem(Problem::UnknownFormat {
                found: manifest.format.clone(),
            });
        }
        if manifest.end_ms < manifest.start_ms {
            self.problem(Problem::BadSpan {
                start_ms: manifest.start_ms,
                end_ms: manifest.end_ms,
            });
        }
        Some(manifest)
    }

    /// Checks each manifest segment against its entry and its file; returns
    /// those that check out entirely.
    fn check_segments(
        &mut self,
        manifest: &ManifestFile,
        entries: &BTreeMap<u64, Included>,
    ) -> Vec<GoodSegment> {
        let mut good = Vec::new();
        let mut files = BTreeSet::new();
        let mut indices = BTreeSet::new();
        for seg in &manifest.segments {
            let file = seg.file.clone();
            let index = seg.index;
            let Some(name) = file
                .strip_prefix(SEGMENTS_DIR)
                .and_then(|r| r.strip_prefix('/'))
                .filter(|n| is_plain_name(n))
            else {
                self.problem(Problem::BadFileName { file });
                continue;
            };
            if !files.insert(file.clone()) || !indices.insert(index) {
                self.problem(Problem::DuplicateSegment { file, index });
                continue;
            }
            let mut ok = true;
            // What the log says the file's hash is; the manifest's word
            // stands in only when the entry is absent (to name the damage).
            let mut expected = seg.sha256.clone();
            let mut span = None;
            match entries.get(&index) {
                None => {
                    self.problem(Problem::EntryMissing {
                        file: file.clone(),
                        index,
                    });
                    ok = false;
                }
                Some(inc) => {
                    let e = &inc.entry;
                    ok &= inc.proven;
                    if e.kind != SEGMENT_SEALED {
                        self.problem(Problem::NotSegmentEntry {
                            file: file.clone(),
                            index,
                            kind: e.kind.clone(),
                        });
                        ok = false;
                    } else {
                        match e.str_field("sha256") {
                            Some(sha) => {
                                if sha != seg.sha256 {
                                    self.problem(Problem::ShaDisagrees {
                                        file: file.clone(),
                                        index,
                                        manifest: seg.sha256.clone(),
                                        entry: sha.to_owned(),
                                    });
                                    ok = false;
                                }
                                expected = sha.to_owned();
                            }
                            None => {
                                self.problem(Problem::BadSegmentEntry {
                                    index,
                                    field: "sha256",
                                });
                                ok = false;
                            }
                        }
                        let camera = e.str_field("camera").unwrap_or_default();
                        if camera != manifest.camera {
                            self.problem(Problem::WrongCamera {
                                file: file.clone(),
                                index,
                                camera: camera.to_owned(),
                                expected: manifest.camera.clone(),
                            });
                            ok = false;
                        }
                        span = e.int_field("start_ms").zip(e.int_field("end_ms"));
                    }
                }
            }
            ok &= self.check_file(&file, name, index, &expected);
            if let (true, Some((start_ms, end_ms))) = (ok, span) {
                good.push(GoodSegment {
                    file,
                    index,
                    start_ms,
                    end_ms,
                });
            }
        }
        good
    }

    /// Hashes one segment file and compares it with the logged SHA-256.
    fn check_file(&mut self, file: &str, name: &str, index: u64, expected: &str) -> bool {
        let path = self.dir.join(SEGMENTS_DIR).join(name);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.problem(Problem::SegmentMissing {
                    file: file.to_owned(),
                    index,
                });
                return false;
            }
            Err(e) => {
                self.malformed(file, format!("cannot be read: {e}"));
                return false;
            }
            Ok(m) if !m.is_file() => {
                self.problem(Problem::NotARegularFile {
                    file: file.to_owned(),
                });
                return false;
            }
            Ok(_) => {}
        }
        match File::open(&path).and_then(sha256_of) {
            Ok(actual) => {
                let actual = hex::encode(actual);
                if actual != expected {
                    self.problem(Problem::SegmentAltered {
                        file: file.to_owned(),
                        index,
                        expected: expected.to_owned(),
                        actual,
                    });
                    return false;
                }
                true
            }
            Err(e) => {
                self.malformed(file, format!("cannot be read: {e}"));
                false
            }
        }
    }

    /// Reports files in `segments/` the manifest does not list.
    fn check_unlisted(&mut self, manifest: &ManifestFile) {
        let listed: BTreeSet<&str> = manifest.segments.iter().map(|s| s.file.as_str()).collect();
        let dir = self.dir.join(SEGMENTS_DIR);
        let Ok(read) = fs::read_dir(&dir) else {
            // No segments/ at all: each listed file is reported missing.
            return;
        };
        let mut unlisted: Vec<String> = read
            .flatten()
            .map(|e| format!("{SEGMENTS_DIR}/{}", e.file_name().to_string_lossy()))
            .filter(|f| !listed.contains(f.as_str()))
            .collect();
        unlisted.sort();
        for file in unlisted {
            self.problem(Problem::UnlistedFile { file });
        }
    }

    /// Checks that the segments cover the manifest's span, gaps aside that
    /// the bundle's tombstones, `recording.loss` and `camera.state` entries
    /// explain. Returns the explained gaps as (from, to, log index of the
    /// explaining entry).
    fn check_coverage(
        &mut self,
        manifest: &ManifestFile,
        entries: &BTreeMap<u64, Included>,
    ) -> Vec<(i64, i64, u64)> {
        let mut spans: Vec<(i64, i64)> = Vec::new();
        for seg in &manifest.segments {
            let Some(inc) = entries.get(&seg.index) else {
                continue;
            };
            if inc.entry.kind != SEGMENT_SEALED {
                continue;
            }
            match (
                inc.entry.int_field("start_ms"),
                inc.entry.int_field("end_ms"),
            ) {
                (Some(s), Some(e)) if s <= e => spans.push((s, e)),
                (Some(_), Some(_)) | (Some(_), None) => self.problem(Problem::BadSegmentEntry {
                    index: seg.index,
                    field: "end_ms",
                }),
                (None, _) => self.problem(Problem::BadSegmentEntry {
                    index: seg.index,
                    field: "start_ms",
                }),
            }
        }
        spans.sort_unstable();
        // The camera's logged state changes (proven entries only), by time.
        let mut states: Vec<(i64, u64, String)> = entries
            .iter()
            .filter(|(_, inc)| {
                inc.proven
                    && inc.entry.kind == CAMERA_STATE
                    && inc.entry.str_field("camera") == Some(manifest.camera.as_str())
            })
            .filter_map(|(index, inc)| {
                let at = inc.entry.int_field("at_ms").unwrap_or(inc.entry.time_ms);
                Some((at, *index, inc.entry.str_field("state")?.to_owned()))
            })
            .collect();
        states.sort();

        let mut gaps = Vec::new();
        let mut covered_to = manifest.start_ms;
        for (start, end) in spans {
            if start.saturating_sub(covered_to) > MAX_GAP_MS {
                gaps.push((covered_to, start));
            }
            covered_to = covered_to.max(end);
        }
        if manifest.end_ms.saturating_sub(covered_to) > MAX_GAP_MS {
            gaps.push((covered_to, manifest.end_ms));
        }
        // Segments whose bytes were deleted: a proven `segment.sealed` entry
        // of this camera whose path has a proven `segment.deleted` entry.
        let tombstones: BTreeMap<&str, u64> = entries
            .iter()
            .filter(|(_, inc)| {
                inc.proven
                    && inc.entry.kind == SEGMENT_DELETED
                    && inc.entry.str_field("camera") == Some(manifest.camera.as_str())
            })
            .filter_map(|(index, inc)| Some((inc.entry.str_field("path")?, *index)))
            .collect();
        let mut deleted: Vec<(i64, i64, u64)> = entries
            .values()
            .filter(|inc| {
                inc.proven
                    && inc.entry.kind == SEGMENT_SEALED
                    && inc.entry.str_field("camera") == Some(manifest.camera.as_str())
            })
            .filter_map(|inc| {
                let tombstone = tombstones.get(inc.entry.str_field("path")?)?;
                Some((
                    inc.entry.int_field("start_ms")?,
                    inc.entry.int_field("end_ms")?,
                    *tombstone,
                ))
            })
            .collect();
        deleted.sort_unstable();

        // Pictures the recorder logged as dropped: proven `recording.loss`
        // entries of this camera, as (first, last dropped, index).
        let mut losses: Vec<(i64, i64, u64)> = entries
            .iter()
            .filter(|(_, inc)| {
                inc.proven
                    && inc.entry.kind == RECORDING_LOSS
                    && inc.entry.str_field("camera") == Some(manifest.camera.as_str())
            })
            .filter_map(|(index, inc)| {
                let start = inc.entry.int_field("start_ms")?;
                let end = inc.entry.int_field("end_ms")?;
                (start <= end).then_some((start, end, *index))
            })
            .collect();
        losses.sort_unstable();

        let mut explained = Vec::new();
        for (from, to) in gaps {
            if let Some(index) = covered_by(&deleted, from, to) {
                explained.push((from, to, index));
                continue;
            }
            if let Some(index) = covered_by(&losses, from, to) {
                explained.push((from, to, index));
                continue;
            }
            match offline_during(&states, from, to) {
                Some(index) => explained.push((from, to, index)),
                None => self.problem(Problem::SpanNotCovered {
                    from_ms: from,
                    to_ms: to,
                }),
            }
        }
        explained
    }

    /// Writes what is proven and what is not.
    fn conclude(
        &mut self,
        extra_key: Option<&VerifierKey>,
        trusted: Option<(&note::Checkpoint, &VerifierKey)>,
        entries: &BTreeMap<u64, Included>,
        manifest: Option<(&ManifestFile, &[GoodSegment])>,
        gaps: &[(i64, i64, u64)],
    ) {
        let mut key_text = String::from("(no key)");
        if let Some((cp, key)) = trusted {
            key_text = format!("{} (key ID {})", key.name(), hex::encode(key.key_id()));
            self.proven.push(format!(
                "The checkpoint is signed by key {key_text}: the log of site {:?} had {} entries with root {}.",
                cp.origin,
                cp.size,
                hex::encode(cp.root)
            ));
            if extra_key.is_some() {
                self.proven.push(
                    "That key is the one given with --key, obtained independently of the bundle."
                        .to_owned(),
                );
            }
        }
        if let (Some((cp, _)), Some((m, good))) = (trusted, manifest) {
            if !good.is_empty() {
                let mut list = String::new();
                for g in good.iter() {
                    list.push_str(&format!(
                        "\n{} (log position {}): {} to {}",
                        g.file,
                        g.index,
                        utc(g.start_ms),
                        utc(g.end_ms)
                    ));
                }
                self.proven.push(format!(
                    "These {} file(s) are byte-for-byte what site {:?} logged as segments of camera {:?}, \
                     at log positions {}, all included in the log of size {} whose root was signed by key {key_text}:{list}",
                    good.len(),
                    cp.origin,
                    m.camera,
                    positions(good.iter().map(|g| g.index)),
                    cp.size,
                ));
            }
            let segment_indices: BTreeSet<u64> = m.segments.iter().map(|s| s.index).collect();
            let others: Vec<(u64, &Entry)> = entries
                .iter()
                .filter(|(i, inc)| inc.proven && !segment_indices.contains(i))
                .map(|(i, inc)| (*i, &inc.entry))
                .collect();
            if !others.is_empty() {
                let list: Vec<String> = others
                    .iter()
                    .map(|(i, e)| format!("{} at {i}", e.kind))
                    .collect();
                self.proven.push(format!(
                    "{} other log entr{} in the bundle {} included in the same log: {}.",
                    others.len(),
                    if others.len() == 1 { "y" } else { "ies" },
                    if others.len() == 1 { "is" } else { "are" },
                    list.join(", ")
                ));
            }
            if self.problems.is_empty() {
                self.proven.push(format!(
                    "Together they cover the exported span from {} to {} with no gap over {MAX_GAP_MS} ms{}.",
                    utc(m.start_ms),
                    utc(m.end_ms),
                    if gaps.is_empty() {
                        ""
                    } else {
                        " other than the ones below, which the log explains"
                    }
                ));
            }
            for (from, to, index) in gaps {
                let why = entries.get(index).map(|inc| &inc.entry);
                let text = match why {
                    Some(e) if e.kind == SEGMENT_DELETED => format!(
                        "log entry {index} (segment.deleted) says its recording was deleted by {:?}: {:?}",
                        e.str_field("by").unwrap_or("?"),
                        e.str_field("reason").unwrap_or("?")
                    ),
                    Some(e) if e.kind == RECORDING_LOSS => format!(
                        "log entry {index} (recording.loss) says the recorder dropped {} picture(s) then ({}): {:?}",
                        e.int_field("pictures").unwrap_or(0),
                        e.str_field("reason").unwrap_or("?"),
                        e.str_field("detail").unwrap_or("?")
                    ),
                    _ => format!(
                        "log entry {index} (camera.state) says camera {:?} was offline then",
                        m.camera
                    ),
                };
                self.proven.push(format!(
                    "There is no video from {} to {}; {text}.",
                    utc(*from),
                    utc(*to),
                ));
            }
        }

        self.not_proven.push(
            "What happened in front of the camera before recording: the log proves which bytes the site \
             recorded and when it logged them, not that the picture shows a real, unstaged scene or that \
             the camera's stream was not replaced before it reached the recorder."
                .to_owned(),
        );
        self.not_proven.push(
            "Whether the camera's clock (and the site's) was right: every time above is the site's own clock."
                .to_owned(),
        );
        self.not_proven.push(
            "Events never logged, and log entries the exporter left out of the bundle: only the entries \
             in entries.jsonl were checked."
                .to_owned(),
        );
        if extra_key.is_none() {
            self.not_proven.push(
                "That key.pub is the site's key: it came inside the bundle, and whoever rewrote a bundle \
                 could replace it. Compare it with a copy obtained independently (from the site's operator, \
                 `custos key show`, or a published copy), or verify again with --key."
                    .to_owned(),
            );
        }
        self.not_proven.push(
            "That the site's key was not stolen or misused: whoever holds it can sign any log."
                .to_owned(),
        );
        self.not_proven.push(
            "That the site showed everyone the same log: the bundle holds one checkpoint. Checkpoints of this \
             site obtained elsewhere, with consistency proofs (RFC 9162 §2.1.4), show whether the log was \
             ever forked or rewritten."
                .to_owned(),
        );
        self.not_proven.push(
            "The manifest's reason, exported_by and exported_ms: they are the exporter's statements, not signed."
                .to_owned(),
        );
    }
}

/// The log index of the entry of an interval that, with others, covers
/// `[from, to]` (to within [`MAX_GAP_MS`]); `deleted` holds `(start, end,
/// index)` sorted by start: deleted segments with their tombstones, or
/// recording losses.
fn covered_by(deleted: &[(i64, i64, u64)], from: i64, to: i64) -> Option<u64> {
    let mut covered_to = from;
    let mut first = None;
    for (start, end, index) in deleted {
        if *end <= covered_to {
            continue;
        }
        if start.saturating_sub(covered_to) > MAX_GAP_MS {
            break;
        }
        first.get_or_insert(*index);
        covered_to = *end;
        if to.saturating_sub(covered_to) <= MAX_GAP_MS {
            return first;
        }
    }
    None
}

/// The log index of a `camera.state` entry showing the camera offline at
/// some moment of `[from − MAX_GAP_MS, to]`: either an `offline` entry dated
/// in that interval, or, when the last state change dated before the
/// interval is `offline`, that one. `states` is sorted by time.
fn offline_during(states: &[(i64, u64, String)], from: i64, to: i64) -> Option<u64> {
    let lo = from.saturating_sub(MAX_GAP_MS);
    let within = states
        .iter()
        .find(|(at, _, state)| *at >= lo && *at <= to && state == "offline");
    if let Some((_, index, _)) = within {
        return Some(*index);
    }
    states
        .iter()
        .rev()
        .find(|(at, _, _)| *at < lo)
        .filter(|(_, _, state)| state == "offline")
        .map(|(_, index, _)| *index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(utc(1_767_225_600_000), "2026-01-01 00:00:00.000 UTC");
        assert_eq!(utc(951_782_400_000 + 1), "2000-02-29 00:00:00.001 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59.999 UTC");
        // No panic at the extremes.
        let _ = utc(i64::MIN);
        let _ = utc(i64::MAX);
    }

    #[test]
    fn plain_names() {
        for good in ["1.mp4", "a-b_c.mp4"] {
            assert!(is_plain_name(good));
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a\\b", "a\nb"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn offline_explains_only_what_it_covers() {
        let s = |at, i, st: &str| (at, i, st.to_owned());
        let states = vec![
            s(100, 1, "recording"),
            s(5_000, 2, "offline"),
            s(9_000, 3, "connecting"),
            s(9_500, 4, "recording"),
        ];
        // Offline dated inside the gap (or just before it).
        assert_eq!(offline_during(&states, 4_500, 9_600), Some(2));
        assert_eq!(offline_during(&states, 5_900, 9_600), Some(2));
        // The last change before the gap was offline.
        assert_eq!(offline_during(&states, 7_000, 8_000), Some(2));
        // Recording throughout.
        assert_eq!(offline_during(&states, 200, 3_000), None);
        assert_eq!(offline_during(&states, 11_000, 12_000), None);
        assert_eq!(offline_during(&[], 0, 10), None);
    }
}
