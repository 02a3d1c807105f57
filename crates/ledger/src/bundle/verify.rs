//! The offline verifier: the steps of `docs/evidence-format.md` §7, run
//! to the end even after a failure so the report locates all damage.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;

use super::report::{positions, utc};
use super::{
    is_plain_name, sha256_of, EntryLine, KeySource, ManifestFile, Problem, ProofsFile, Report,
    CAMERA_STATE, CHECKPOINT_FILE, ENTRIES_FILE, FORMAT, KEY_FILE, MANIFEST_FILE, MAX_GAP_MS,
    MAX_JSON_BYTES, MAX_KEY_BYTES, PROOFS_FILE, RECORDING_LOSS, SEGMENTS_DIR, SEGMENT_DELETED,
    SEGMENT_SEALED,
};
use crate::cosignature::CosignerKey;
use crate::entry::Entry;
use crate::merkle::{self, Hash};
use crate::note::{self, NoteError, VerifierKey};

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

/// What the verifier is given besides the bundle: keys obtained
/// independently of it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trust<'a> {
    /// The site's verifier key (`--key`).
    pub key: Option<&'a VerifierKey>,
    /// Witnesses whose cosignatures the checkpoint must carry (`--witness`).
    pub witnesses: &'a [CosignerKey],
    /// How many of `witnesses` must have co-signed it (`--witness-quorum`);
    /// `None`: all of them.
    pub witness_quorum: Option<usize>,
}

/// The state of one verification.
struct Verifier<'a> {
    dir: &'a Path,
    problems: Vec<Problem>,
    proven: Vec<String>,
    not_proven: Vec<String>,
    /// The checkpoint's signature lines other than the site's, `name+hexid`.
    cosignature_lines: Vec<String>,
    /// The given witnesses whose cosignature verified, with its time (s).
    cosigned: Vec<(String, u64)>,
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
    verify_bundle_trusting(
        dir,
        &Trust {
            key: extra_key,
            ..Trust::default()
        },
    )
}

/// Checks the evidence bundle in `dir` as [`verify_bundle`] does, and the
/// checkpoint's cosignatures by the witnesses `trust` names: each that
/// verifies is reported proven with its time; fewer than the quorum, a
/// cosignature line of a given witness that does not verify, or none at
/// all is a problem. Without witnesses, the report says whether the
/// checkpoint carries cosignatures (unchecked) or none.
pub fn verify_bundle_trusting(dir: &Path, trust: &Trust<'_>) -> Report {
    let mut v = Verifier {
        dir,
        problems: Vec::new(),
        proven: Vec::new(),
        not_proven: Vec::new(),
        cosignature_lines: Vec::new(),
        cosigned: Vec::new(),
    };
    v.run(trust);
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

    fn run(&mut self, trust: &Trust<'_>) {
        let extra_key = trust.key;
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
        // Cosignatures count only on a checkpoint the site's key signed.
        if let (Some(text), Some((_, key))) = (note_text.as_deref(), &trusted) {
            self.check_witnesses(text, key, trust);
        } else if !trust.witnesses.is_empty() {
            self.not_proven.push(
                "Whether the witnesses co-signed: the checkpoint itself is not accepted."
                    .to_owned(),
            );
        }

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

    /// Checks the cosignatures of `note`, whose site signature by `log_key`
    /// verified, against the witnesses of `trust`.
    fn check_witnesses(&mut self, note: &str, log_key: &VerifierKey, trust: &Trust<'_>) {
        let Ok((_, lines)) = note::split_note(note) else {
            return;
        };
        self.cosignature_lines = lines
            .iter()
            .filter(|l| !(l.name == log_key.name() && l.id == log_key.key_id()))
            .map(|l| l.short())
            .collect();
        if trust.witnesses.is_empty() {
            return;
        }
        if self.cosignature_lines.is_empty() {
            self.problem(Problem::NoCosignature {
                given: trust.witnesses.len(),
            });
            return;
        }
        let mut seen = BTreeSet::new();
        let mut missing = Vec::new();
        for witness in trust.witnesses {
            let short = witness.short();
            if !seen.insert(short.clone()) {
                continue;
            }
            match witness.verify(note) {
                Ok(time) => self.cosigned.push((short, time)),
                Err(NoteError::NoSignatureByKey { .. }) => missing.push(short),
                Err(error) => {
                    self.problem(Problem::BadCosignature {
                        witness: short.clone(),
                        error,
                    });
                    missing.push(short);
                }
            }
        }
        let required = trust.witness_quorum.unwrap_or(seen.len());
        if self.cosigned.len() < required {
            self.problem(Problem::WitnessQuorum {
                required,
                cosigned: self.cosigned.len(),
                missing,
            });
        } else if !missing.is_empty() {
            self.not_proven.push(format!(
                "A cosignature by {}: the quorum of {required} was met without it.",
                missing.join(", ")
            ));
        }
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
        if let Some((cp, _)) = trusted {
            for (witness, time) in &self.cosigned {
                let at = i64::try_from(*time)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1000);
                self.proven.push(format!(
                    "The checkpoint is co-signed by witness {witness} (a key given with --witness) at {}: \
                     the witness checked that the log of size {} extends, consistently, every earlier \
                     checkpoint of {:?} it co-signed.",
                    utc(at),
                    cp.size,
                    cp.origin
                ));
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
                        "log entry {index} ({SEGMENT_DELETED}) says its recording was deleted by {:?}: {:?}",
                        e.str_field("by").unwrap_or("?"),
                        e.str_field("reason").unwrap_or("?")
                    ),
                    Some(e) if e.kind == RECORDING_LOSS => format!(
                        "log entry {index} ({RECORDING_LOSS}) says the recorder dropped {} picture(s) then ({}): {:?}",
                        e.int_field("pictures").unwrap_or(0),
                        e.str_field("reason").unwrap_or("?"),
                        e.str_field("detail").unwrap_or("?")
                    ),
                    _ => format!(
                        "log entry {index} ({CAMERA_STATE}) says camera {:?} was offline then",
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
        let same_log = "That the site showed everyone the same log: the bundle holds one checkpoint. \
             Checkpoints of this site obtained elsewhere, with consistency proofs (RFC 9162 §2.1.4), show \
             whether the log was ever forked or rewritten.";
        if !self.cosigned.is_empty() {
            self.not_proven.push(
                "That the witnesses are honest and their keys were not stolen: a cosignature proves what \
                 the witness checked, no more."
                    .to_owned(),
            );
        } else if trusted.is_some() && self.cosignature_lines.is_empty() {
            self.not_proven.push(format!(
                "The bundle carries no witness co-signature: no one outside the site vouches for its \
                 checkpoint. {same_log}"
            ));
        } else if trusted.is_some() {
            self.not_proven.push(format!(
                "The checkpoint carries {} cosignature line(s) ({}), not checked: give each witness's key \
                 with --witness. {same_log}",
                self.cosignature_lines.len(),
                self.cosignature_lines.join(", ")
            ));
        } else {
            self.not_proven.push(same_log.to_owned());
        }
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
