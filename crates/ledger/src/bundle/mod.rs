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
//! checkpoint            the signed note (C2SP tlog-checkpoint) for that tree,
//!                       with any witness cosignatures (C2SP tlog-cosignature)
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
//!
//! The module is split as the format is: this file holds the format itself
//! (file names, limits, the JSON files' shapes, the writer's errors),
//! `write.rs` the [`BundleWriter`], `verify.rs` the verifier and
//! `report.rs` what it reports ([`Report`], [`Problem`]).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

// The kinds the verifier reads, named as the catalogue names them.
use crate::catalogue::kind::{CAMERA_STATE, RECORDING_LOSS, SEGMENT_DELETED, SEGMENT_SEALED};
use crate::entry::EntryError;
use crate::merkle::ProofError;
use crate::note::NoteError;

mod report;
mod verify;
mod write;

pub use report::{KeySource, Problem, Report};
pub use verify::{verify_bundle, verify_bundle_trusting, Trust};
pub use write::BundleWriter;

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
    #[error(
        "log entry {index} ({kind}) is not a {} entry with a sha256",
        SEGMENT_SEALED
    )]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names() {
        for good in ["1.mp4", "a-b_c.mp4"] {
            assert!(is_plain_name(good));
        }
        for bad in ["", ".", "..", ".hidden", "a/b", "a\\b", "a\nb"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }
}
