//! What a verification reports: each problem with its cause, what is
//! proven and what is not.

use std::fmt;

use super::{
    CAMERA_STATE, ENTRIES_FILE, FORMAT, MANIFEST_FILE, PROOFS_FILE, SEGMENTS_DIR, SEGMENT_SEALED,
};
use crate::entry::EntryError;
use crate::merkle::ProofError;
use crate::note::NoteError;

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
    /// Witness keys were given, but the checkpoint carries no cosignature
    /// at all.
    NoCosignature {
        /// How many witness keys were given.
        given: usize,
    },
    /// A cosignature line of a given witness key does not verify (a forged
    /// or damaged line).
    BadCosignature {
        /// The witness key, `name+hexid`.
        witness: String,
        /// Why.
        error: NoteError,
    },
    /// Fewer of the given witnesses co-signed the checkpoint than required.
    WitnessQuorum {
        /// How many good cosignatures are required.
        required: usize,
        /// How many of the given keys have one.
        cosigned: usize,
        /// The given keys without one, `name+hexid`.
        missing: Vec<String>,
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
                "{file}: the manifest points at log entry {index}, a {kind} entry, not a {SEGMENT_SEALED} entry"
            ),
            Problem::BadSegmentEntry { index, field } => write!(
                f,
                "log entry {index} ({SEGMENT_SEALED}) lacks a valid {field:?} field"
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
            Problem::NoCosignature { given } => write!(
                f,
                "the bundle carries no witness co-signature: its checkpoint is signed by the site \
                 alone, but {given} witness key(s) were given with --witness"
            ),
            Problem::BadCosignature { witness, error } => write!(
                f,
                "the checkpoint's cosignature by witness {witness} does not verify: {error}"
            ),
            Problem::WitnessQuorum {
                required,
                cosigned,
                missing,
            } => write!(
                f,
                "the checkpoint is co-signed by {cosigned} of the witnesses given, {required} required; \
                 no good cosignature by {}",
                missing.join(", ")
            ),
            Problem::SpanNotCovered { from_ms, to_ms } => write!(
                f,
                "span not covered: no video from {} to {} ({} ms), and no {CAMERA_STATE} entry in the bundle says the camera was offline then",
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
pub(super) fn utc(ms: i64) -> String {
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
pub(super) fn positions(indices: impl IntoIterator<Item = u64>) -> String {
    indices
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
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
}
