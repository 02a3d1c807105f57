//! Evidence bundles written by `BundleWriter` from a real log and verified
//! offline: the good bundle verifies, and each kind of tampering fails with
//! its own named cause.

use std::fs;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use custos_ledger::bundle::{
    verify_bundle, verify_bundle_trusting, BundleError, BundleWriter, KeySource, Manifest, Problem,
    Report, Trust,
};
use custos_ledger::catalogue::{
    self, AuthLogin, CameraState, ConfigLoaded, Fact, FootageViewed, RecordingLoss, SealedSegment,
    SegmentDeleted, SegmentSealed,
};
use custos_ledger::cosignature::{CosignerKey, CosigningKey};
use custos_ledger::entry::Entry;
use custos_ledger::merkle::{self, MemoryTree};
use custos_ledger::note::{sign_checkpoint, Checkpoint, NoteError, SigningKey};
use sha2::{Digest, Sha256};

const SITE: &str = "archive.example/reading-room";
const T0: i64 = 1_767_225_600_000;

/// How the recorded span looks.
#[derive(Clone, Copy, PartialEq)]
enum Span {
    /// Three back-to-back segments.
    Continuous,
    /// A 3 s hole between the second and third segment, nothing said.
    Gap,
    /// The same hole, with the camera logged offline in it.
    ExplainedGap,
    /// The same hole, where a segment was recorded and later deleted (its
    /// sealed entry and its tombstone are in the bundle, its file is not).
    DeletedGap,
    /// The same hole, where the recorder logged the pictures it dropped
    /// (two `recording.loss` entries that together cover it).
    LossGap,
}

struct Fixture {
    _tmp: tempfile::TempDir,
    site: PathBuf,
    bundle: PathBuf,
    key: SigningKey,
    /// (log index, leaf, file) of every segment in the bundle.
    segments: Vec<(u64, Vec<u8>, PathBuf)>,
    tree: MemoryTree,
    leaves: Vec<Vec<u8>>,
}

fn leaf(time_ms: i64, fact: &dyn Fact) -> Vec<u8> {
    catalogue::leaf(time_ms, fact).expect("canonical")
}

/// A site log with segments of camera `gate` among other facts, and a
/// bundle of the span `[T0, T0 + 6 s]` (or longer with a gap).
fn fixture(span: Span) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let site = tmp.path().join("site");
    fs::create_dir_all(site.join("video/gate")).expect("mkdir");
    let key = SigningKey::generate(SITE).expect("key");

    let mut leaves = vec![
        leaf(
            T0 - 60_000,
            &ConfigLoaded {
                sha256: &"0".repeat(64),
                cameras: None,
            },
        ),
        leaf(
            T0 - 10,
            &CameraState {
                camera: "gate",
                at_ms: T0 - 20,
                state: "recording",
                detail: None,
            },
        ),
    ];
    let mut segments = Vec::new();
    let hole = if span == Span::Continuous { 0 } else { 3_000 };
    let starts = [T0, T0 + 2_000, T0 + 4_000 + hole];
    for (n, start) in starts.into_iter().enumerate() {
        if n == 2 && span == Span::DeletedGap {
            let rel = format!("video/gate/{}.mp4", T0 + 4_000);
            let sha = "2".repeat(64);
            leaves.push(leaf(
                T0 + 7_010,
                &SegmentSealed {
                    segment: SealedSegment {
                        camera: "gate",
                        path: &rel,
                        start_ms: T0 + 4_000,
                        end_ms: start,
                        bytes: 9,
                        frames: 30,
                        sha256: &sha,
                    },
                    recovered: None,
                },
            ));
            leaves.push(leaf(
                T0 + 90_000,
                &SegmentDeleted {
                    camera: "gate",
                    path: &rel,
                    sha256: Some(&sha),
                    reason: "privacy request 7",
                    by: "cli:ann",
                },
            ));
        }
        if n == 2 && span == Span::LossGap {
            for (from, to) in [(T0 + 4_050, T0 + 5_500), (T0 + 5_600, start - 60)] {
                leaves.push(leaf(
                    to + 5,
                    &RecordingLoss {
                        camera: "gate",
                        reason: "write_error",
                        pictures: 14,
                        start_ms: from,
                        end_ms: to,
                        detail: "writing video/gate/x.mp4: No space left on device (os error 28)",
                    },
                ));
            }
        }
        if n == 2 && span == Span::ExplainedGap {
            leaves.push(leaf(
                T0 + 4_100,
                &CameraState {
                    camera: "gate",
                    at_ms: T0 + 4_050,
                    state: "offline",
                    detail: Some("connection reset"),
                },
            ));
            leaves.push(leaf(
                start - 50,
                &CameraState {
                    camera: "gate",
                    at_ms: start - 60,
                    state: "recording",
                    detail: None,
                },
            ));
        }
        // Another camera's segment and other facts in between.
        leaves.push(leaf(
            start + 1,
            &SegmentSealed {
                segment: SealedSegment {
                    camera: "door",
                    path: &format!("video/door/{start}.mp4"),
                    start_ms: start,
                    end_ms: start + 2_000,
                    bytes: 3,
                    frames: 20,
                    sha256: &"1".repeat(64),
                },
                recovered: None,
            },
        ));
        let content = format!("fake mp4 segment {n} of gate: {}", "x".repeat(100 * n));
        let rel = format!("video/gate/{start}.mp4");
        fs::write(site.join(&rel), &content).expect("write segment");
        let sha = hex::encode(Sha256::digest(content.as_bytes()));
        leaves.push(leaf(
            start + 2_010,
            &SegmentSealed {
                segment: SealedSegment {
                    camera: "gate",
                    path: &rel,
                    start_ms: start,
                    end_ms: start + 2_000,
                    bytes: content.len() as u64,
                    frames: 20,
                    sha256: &sha,
                },
                recovered: None,
            },
        ));
        segments.push((
            leaves.len() as u64 - 1,
            leaves.last().cloned().expect("leaf"),
            site.join(&rel),
        ));
        leaves.push(leaf(
            start + 3_000,
            &FootageViewed {
                user: "ann",
                camera: "gate",
                start_ms: T0,
                end_ms: start,
                ..FootageViewed::default()
            },
        ));
    }
    leaves.push(leaf(
        T0 + 20_000,
        &AuthLogin {
            user: "ann",
            source: "127.0.0.1",
            session: "0a1b2c3d4e5f",
        },
    ));
    let tree = MemoryTree::from_leaf_hashes(
        &leaves
            .iter()
            .map(|l| merkle::leaf_hash(l))
            .collect::<Vec<_>>(),
    );
    let bundle = tmp.path().join("bundle");
    let f = Fixture {
        _tmp: tmp,
        site,
        bundle,
        key,
        segments,
        tree,
        leaves,
    };
    let end = T0 + 6_000 + hole;
    f.write(&f.bundle, end);
    f
}

impl Fixture {
    fn size(&self) -> u64 {
        self.tree.len()
    }

    fn proof(&self, index: u64) -> Vec<merkle::Hash> {
        merkle::inclusion_proof(&self.tree, index, self.size()).expect("proof")
    }

    fn note(&self) -> String {
        sign_checkpoint(
            &Checkpoint {
                origin: SITE.into(),
                size: self.size(),
                root: self.tree.root(),
            },
            &self.key,
        )
    }

    fn manifest(&self, end_ms: i64) -> Manifest {
        Manifest {
            site: SITE.into(),
            camera: "gate".into(),
            start_ms: T0,
            end_ms,
            reason: "incident 42".into(),
            exported_by: "ann".into(),
            exported_ms: T0 + 86_400_000,
        }
    }

    /// Writes the bundle as the exporter does: segments first, then the
    /// camera's state changes and deleted segments' entries (indices
    /// interleaved with the segments').
    fn write(&self, dir: &Path, end_ms: i64) {
        let mut w = BundleWriter::create(dir).expect("create");
        for (index, leaf, file) in &self.segments {
            w.add_segment(file, *index, leaf, &self.proof(*index))
                .expect("add segment");
        }
        for (i, l) in self.leaves.iter().enumerate() {
            let e = Entry::from_leaf_bytes(l).expect("canonical");
            let deleted_segment = e.kind == "segment.deleted"
                || (e.kind == "segment.sealed"
                    && !self.segments.iter().any(|(index, _, _)| *index == i as u64)
                    && e.str_field("camera") == Some("gate"));
            if e.kind == "camera.state" || e.kind == "recording.loss" || deleted_segment {
                w.add_entry(i as u64, l, &self.proof(i as u64))
                    .expect("add entry");
            }
        }
        w.finish(&self.manifest(end_ms), &self.note(), &self.key.verifier())
            .expect("finish");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.bundle.join(name)
    }

    fn first_segment_file(&self) -> PathBuf {
        let mut files: Vec<PathBuf> = fs::read_dir(self.path("segments"))
            .expect("segments")
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        files.remove(0)
    }

    fn verify(&self) -> Report {
        verify_bundle(&self.bundle, None)
    }

    fn edit_json(&self, name: &str, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut v: serde_json::Value =
            serde_json::from_slice(&fs::read(self.path(name)).expect("read")).expect("json");
        edit(&mut v);
        fs::write(
            self.path(name),
            serde_json::to_vec_pretty(&v).expect("json"),
        )
        .expect("write");
    }

    fn entry_lines(&self) -> Vec<String> {
        fs::read_to_string(self.path("entries.jsonl"))
            .expect("read")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn write_entry_lines(&self, lines: &[String]) {
        fs::write(self.path("entries.jsonl"), lines.join("\n") + "\n").expect("write");
    }
}

/// The report failed, and (one of) its problems satisfies `want`.
fn fails_with(report: &Report, what: &str, want: impl Fn(&Problem) -> bool) {
    assert!(!report.ok(), "{what}: not caught:\n{report}");
    assert!(
        report.problems.iter().any(want),
        "{what}: wrong cause:\n{report}"
    );
    // The plain-language report says it failed.
    assert!(report.to_string().starts_with("NOT VERIFIED"), "{report}");
}

#[test]
fn a_good_bundle_verifies_and_says_what_it_proves() {
    let f = fixture(Span::Continuous);
    for name in [
        "segments",
        "entries.jsonl",
        "proofs.json",
        "checkpoint",
        "key.pub",
        "manifest.json",
    ] {
        assert!(f.path(name).exists(), "{name}");
    }
    let report = f.verify();
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(text.starts_with("VERIFIED"), "{text}");
    let indices: Vec<String> = f.segments.iter().map(|s| s.0.to_string()).collect();
    assert!(
        text.contains(&format!(
            "These 3 file(s) are byte-for-byte what site \"{SITE}\" logged as segments of camera \"gate\", at log positions {}",
            indices.join(", ")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("log of size {}", f.size())),
        "{text}"
    );
    assert!(text.contains("segments/1767225600000.mp4"), "{text}");
    assert!(text.contains("2026-01-01 00:00:00.000 UTC"), "{text}");
    assert!(text.contains("camera.state at 1"), "{text}");
    for caveat in [
        "in front of the camera",
        "clock",
        "never logged",
        "key.pub is the site's key",
        "stolen",
    ] {
        assert!(text.contains(caveat), "{caveat}: {text}");
    }
    // With the key obtained independently, the same, minus one caveat.
    let report = verify_bundle(&f.bundle, Some(&f.key.verifier()));
    assert!(report.ok(), "{report}");
    assert!(report.to_string().contains("given with --key"));
    assert!(!report.to_string().contains("key.pub is the site's key"));

    // The files are what the writer was given, and the manifest lists them.
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(f.path("manifest.json")).expect("read")).expect("json");
    assert_eq!(m["format"], "custos-evidence/1");
    assert_eq!(m["segments"].as_array().map(Vec::len), Some(3));
    for (seg, (index, _, file)) in m["segments"]
        .as_array()
        .expect("array")
        .iter()
        .zip(&f.segments)
    {
        assert_eq!(seg["index"], *index);
        let name = file.file_name().and_then(|n| n.to_str()).expect("name");
        assert_eq!(seg["file"], format!("segments/{name}"));
        assert_eq!(
            fs::read(f.path(&format!("segments/{name}"))).expect("copy"),
            fs::read(file).expect("original")
        );
    }
    assert_eq!(
        fs::read_to_string(f.path("key.pub")).expect("key"),
        format!("{}\n", f.key.verifier())
    );
    assert_eq!(
        fs::read_to_string(f.path("checkpoint")).expect("cp"),
        f.note()
    );
    // Lines are in log order and show the decoded entry.
    let lines = f.entry_lines();
    let mut last = None;
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let index = v["index"].as_u64().expect("index");
        assert!(last < Some(index));
        last = Some(index);
        let leaf = BASE64
            .decode(v["leaf"].as_str().expect("leaf"))
            .expect("b64");
        assert_eq!(leaf, f.leaves[index as usize]);
        assert_eq!(
            v["entry"],
            serde_json::from_slice::<serde_json::Value>(&leaf).expect("json")
        );
    }
    assert_eq!(lines.len(), 4);
}

#[test]
fn one_changed_byte_of_a_segment_is_caught() {
    let f = fixture(Span::Continuous);
    let file = f.first_segment_file();
    let mut bytes = fs::read(&file).expect("read");
    bytes[3] ^= 1;
    let actual = hex::encode(Sha256::digest(&bytes));
    fs::write(&file, bytes).expect("write");
    let report = f.verify();
    fails_with(&report, "altered", |p| {
        matches!(p, Problem::SegmentAltered { file, actual: a, .. }
            if file == "segments/1767225600000.mp4" && *a == actual)
    });
    assert!(report.to_string().contains("altered"));
    assert_eq!(report.problems.len(), 1, "{report}");
}

#[test]
fn a_deleted_segment_is_caught() {
    let f = fixture(Span::Continuous);
    fs::remove_file(f.first_segment_file()).expect("rm");
    let report = f.verify();
    fails_with(&report, "missing", |p| {
        matches!(p, Problem::SegmentMissing { file, index }
            if file == "segments/1767225600000.mp4" && *index == f.segments[0].0)
    });
    assert!(report.to_string().contains("missing"));
}

#[test]
fn reordered_entry_lines_are_caught() {
    let f = fixture(Span::Continuous);
    let mut lines = f.entry_lines();
    lines.swap(0, 1);
    f.write_entry_lines(&lines);
    let report = f.verify();
    fails_with(&report, "order", |p| {
        matches!(p, Problem::OutOfOrder { line: 2, .. })
    });
    assert!(report.to_string().contains("out of order"));
}

#[test]
fn duplicated_entry_lines_are_caught() {
    let f = fixture(Span::Continuous);
    let mut lines = f.entry_lines();
    lines.insert(1, lines[1].clone());
    f.write_entry_lines(&lines);
    fails_with(&f.verify(), "duplicate", |p| {
        matches!(p, Problem::Duplicate { line: 3, .. })
    });
}

#[test]
fn a_removed_entry_line_is_caught() {
    let f = fixture(Span::Continuous);
    let removed = f.segments[1].0;
    let lines: Vec<String> = f
        .entry_lines()
        .into_iter()
        .filter(|l| !l.starts_with(&format!("{{\"index\":{removed},")))
        .collect();
    assert_eq!(lines.len(), 3);
    f.write_entry_lines(&lines);
    fails_with(
        &f.verify(),
        "entry missing",
        |p| matches!(p, Problem::EntryMissing { index, .. } if *index == removed),
    );
}

#[test]
fn a_changed_proof_hash_is_caught() {
    let f = fixture(Span::Continuous);
    let index = f.segments[2].0;
    f.edit_json("proofs.json", |v| {
        let h = &mut v["inclusion"][index.to_string()][0];
        let mut raw = BASE64.decode(h.as_str().expect("hash")).expect("b64");
        raw[0] ^= 0x80;
        *h = BASE64.encode(raw).into();
    });
    fails_with(
        &f.verify(),
        "proof",
        |p| matches!(p, Problem::InclusionFails { index: i, .. } if *i == index),
    );
}

#[test]
fn a_proof_removed_is_caught() {
    let f = fixture(Span::Continuous);
    let index = f.segments[0].0;
    f.edit_json("proofs.json", |v| {
        v["inclusion"]
            .as_object_mut()
            .expect("object")
            .remove(&index.to_string());
    });
    fails_with(
        &f.verify(),
        "no proof",
        |p| matches!(p, Problem::NoProof { index: i } if *i == index),
    );
}

#[test]
fn another_key_pub_is_caught() {
    let f = fixture(Span::Continuous);
    let other = SigningKey::generate(SITE).expect("key");
    fs::write(f.path("key.pub"), format!("{}\n", other.verifier())).expect("write");
    fails_with(&f.verify(), "key.pub", |p| {
        matches!(
            p,
            Problem::CheckpointRejected {
                by: KeySource::BundleKey,
                error: NoteError::NoSignatureByKey { .. }
            }
        )
    });
}

#[test]
fn an_edited_checkpoint_size_is_caught() {
    let f = fixture(Span::Continuous);
    let note = f.note();
    let edited = note.replacen(
        &format!("\n{}\n", f.size()),
        &format!("\n{}\n", f.size() + 1),
        1,
    );
    assert_ne!(note, edited);
    fs::write(f.path("checkpoint"), edited).expect("write");
    fails_with(&f.verify(), "checkpoint", |p| {
        matches!(
            p,
            Problem::CheckpointRejected {
                by: KeySource::BundleKey,
                error: NoteError::BadSignature { .. }
            }
        )
    });
}

#[test]
fn a_different_given_key_is_caught() {
    let f = fixture(Span::Continuous);
    let other = SigningKey::generate(SITE).expect("key").verifier();
    let report = verify_bundle(&f.bundle, Some(&other));
    fails_with(&report, "--key", |p| {
        matches!(p, Problem::KeyMismatch { .. })
    });
    fails_with(&report, "--key", |p| {
        matches!(
            p,
            Problem::CheckpointRejected {
                by: KeySource::GivenKey,
                error: NoteError::NoSignatureByKey { .. }
            }
        )
    });
    // Nothing about the segments is claimed as proven under a rejected key.
    assert!(
        !report.proven.iter().any(|p| p.contains("byte-for-byte")),
        "{report}"
    );
}

#[test]
fn a_bundle_re_signed_by_another_key_fails_only_with_the_real_key() {
    // A forger who rewrites everything, key.pub included, makes a bundle
    // that is consistent with itself: only the independently obtained key
    // tells.
    let f = fixture(Span::Continuous);
    let forger = SigningKey::generate(SITE).expect("key");
    let note = sign_checkpoint(
        &Checkpoint {
            origin: SITE.into(),
            size: f.size(),
            root: f.tree.root(),
        },
        &forger,
    );
    fs::write(f.path("checkpoint"), note).expect("write");
    fs::write(f.path("key.pub"), format!("{}\n", forger.verifier())).expect("write");
    assert!(f.verify().ok());
    let report = verify_bundle(&f.bundle, Some(&f.key.verifier()));
    fails_with(&report, "forged", |p| {
        matches!(p, Problem::KeyMismatch { .. })
    });
    fails_with(&report, "forged", |p| {
        matches!(
            p,
            Problem::CheckpointRejected {
                by: KeySource::GivenKey,
                ..
            }
        )
    });
}

#[test]
fn proofs_json_disagreeing_with_the_checkpoint_is_caught() {
    let f = fixture(Span::Continuous);
    f.edit_json("proofs.json", |v| v["tree_size"] = (f.size() + 5).into());
    let report = f.verify();
    fails_with(&report, "proofs.json", |p| {
        matches!(p, Problem::CheckpointDisagrees { proofs_size, checkpoint_size, .. }
            if *proofs_size == f.size() + 5 && *checkpoint_size == f.size())
    });
}

#[test]
fn an_edited_manifest_sha256_is_caught() {
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| {
        v["segments"][1]["sha256"] = "00".repeat(32).into();
    });
    let index = f.segments[1].0;
    let report = f.verify();
    fails_with(&report, "manifest sha256", |p| {
        matches!(p, Problem::ShaDisagrees { index: i, manifest, .. }
            if *i == index && *manifest == "00".repeat(32))
    });
    // The file itself still matches its entry.
    assert!(!report
        .problems
        .iter()
        .any(|p| matches!(p, Problem::SegmentAltered { .. })));
}

#[test]
fn a_manifest_for_another_camera_is_caught() {
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| v["camera"] = "door".into());
    fails_with(
        &f.verify(),
        "camera",
        |p| matches!(p, Problem::WrongCamera { camera, expected, .. } if camera == "gate" && expected == "door"),
    );
}

#[test]
fn an_unexplained_gap_is_caught_and_an_explained_one_is_not() {
    let f = fixture(Span::Gap);
    let report = f.verify();
    fails_with(&report, "gap", |p| {
        matches!(p, Problem::SpanNotCovered { from_ms, to_ms }
            if *from_ms == T0 + 4_000 && *to_ms == T0 + 7_000)
    });
    assert!(report.to_string().contains("span not covered"));
    assert_eq!(report.problems.len(), 1, "{report}");

    let f = fixture(Span::ExplainedGap);
    let report = f.verify();
    assert!(report.ok(), "{report}");
    assert!(
        report
            .to_string()
            .contains("says camera \"gate\" was offline then"),
        "{report}"
    );
}

#[test]
fn a_gap_where_a_segment_was_deleted_is_explained_by_its_tombstone() {
    let f = fixture(Span::DeletedGap);
    let report = f.verify();
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(
        text.contains("(segment.deleted) says its recording was deleted by \"cli:ann\": \"privacy request 7\""),
        "{text}"
    );
    // Without the tombstone, the sealed entry alone explains nothing.
    let lines: Vec<String> = f
        .entry_lines()
        .into_iter()
        .filter(|l| !l.contains("segment.deleted"))
        .collect();
    f.write_entry_lines(&lines);
    let report = f.verify();
    fails_with(&report, "gap", |p| {
        matches!(p, Problem::SpanNotCovered { .. })
    });
}

#[test]
fn a_gap_where_the_recorder_dropped_pictures_is_explained_by_its_loss_entries() {
    let f = fixture(Span::LossGap);
    let report = f.verify();
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(
        text.contains(
            "(recording.loss) says the recorder dropped 14 picture(s) then (write_error)"
        ),
        "{text}"
    );
    // One of the two alone leaves part of the hole unexplained.
    let mut dropped_one = false;
    let lines: Vec<String> = f
        .entry_lines()
        .into_iter()
        .filter(|l| {
            let drop = !dropped_one && l.contains("recording.loss");
            dropped_one |= drop;
            !drop
        })
        .collect();
    f.write_entry_lines(&lines);
    let report = f.verify();
    fails_with(&report, "gap", |p| {
        matches!(p, Problem::SpanNotCovered { .. })
    });
}

#[test]
fn a_span_longer_than_the_video_is_caught() {
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| {
        v["end_ms"] = (T0 + 6_000 + 1_001).into()
    });
    fails_with(
        &f.verify(),
        "end",
        |p| matches!(p, Problem::SpanNotCovered { from_ms, .. } if *from_ms == T0 + 6_000),
    );
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| v["start_ms"] = (T0 - 1_001).into());
    fails_with(
        &f.verify(),
        "start",
        |p| matches!(p, Problem::SpanNotCovered { to_ms, .. } if *to_ms == T0),
    );
    // Within the tolerance: fine.
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| {
        v["end_ms"] = (T0 + 6_000 + 1_000).into()
    });
    assert!(f.verify().ok());
}

#[test]
fn an_unlisted_file_is_caught() {
    let f = fixture(Span::Continuous);
    fs::write(f.path("segments/extra.mp4"), "planted").expect("write");
    fails_with(
        &f.verify(),
        "unlisted",
        |p| matches!(p, Problem::UnlistedFile { file } if file == "segments/extra.mp4"),
    );
}

#[test]
fn a_non_canonical_leaf_is_caught() {
    let f = fixture(Span::Continuous);
    let mut lines = f.entry_lines();
    let mut v: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
    let leaf = BASE64
        .decode(v["leaf"].as_str().expect("leaf"))
        .expect("b64");
    let spaced = String::from_utf8(leaf)
        .expect("utf-8")
        .replacen(',', ", ", 1);
    v["leaf"] = BASE64.encode(spaced).into();
    lines[0] = serde_json::to_string(&v).expect("json");
    f.write_entry_lines(&lines);
    let index = v["index"].as_u64().expect("index");
    let report = f.verify();
    fails_with(
        &report,
        "canonical",
        |p| matches!(p, Problem::NotCanonical { index: i, .. } if *i == index),
    );
    // Its leaf hash changed too, so its proof fails.
    fails_with(
        &report,
        "canonical",
        |p| matches!(p, Problem::InclusionFails { index: i, .. } if *i == index),
    );
}

#[test]
fn an_entry_shown_differently_from_its_leaf_is_caught() {
    let f = fixture(Span::Continuous);
    let mut lines = f.entry_lines();
    let mut v: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    v["entry"]["camera"] = "elsewhere".into();
    lines[1] = serde_json::to_string(&v).expect("json");
    f.write_entry_lines(&lines);
    fails_with(&f.verify(), "shown entry", |p| {
        matches!(p, Problem::EntryDiffersFromLeaf { .. })
    });
}

#[test]
fn hostile_bundles_are_reported_not_panicked_on() {
    // Nothing at all.
    let tmp = tempfile::tempdir().expect("tempdir");
    let report = verify_bundle(tmp.path(), None);
    for file in [
        "key.pub",
        "checkpoint",
        "proofs.json",
        "entries.jsonl",
        "manifest.json",
    ] {
        assert!(
            report
                .problems
                .contains(&Problem::MissingFile { file: file.into() }),
            "{file}: {report}"
        );
    }
    assert!(!verify_bundle(&tmp.path().join("nope"), None).ok());

    // Paths that leave the bundle.
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| {
        v["segments"][0]["file"] = "segments/../key.pub".into();
        v["segments"][1]["file"] = "/etc/passwd".into();
    });
    let report = f.verify();
    fails_with(
        &report,
        "path",
        |p| matches!(p, Problem::BadFileName { file } if file == "segments/../key.pub"),
    );
    fails_with(
        &report,
        "path",
        |p| matches!(p, Problem::BadFileName { file } if file == "/etc/passwd"),
    );

    // Garbage in every file.
    let f = fixture(Span::Continuous);
    for (name, junk) in [
        ("entries.jsonl", &b"{\"index\":1}\nnot json\n\xff\n"[..]),
        ("proofs.json", b"{\"tree_size\":-1}"),
        ("manifest.json", b"[]"),
        ("checkpoint", b"\xff\xfe"),
        ("key.pub", b"PRIVATE+KEY+x+00000000+AA=="),
    ] {
        fs::write(f.path(name), junk).expect("write");
    }
    let report = f.verify();
    assert!(!report.ok());
    assert!(report
        .problems
        .iter()
        .any(|p| matches!(p, Problem::Malformed { file, .. } if file == "entries.jsonl")));
    let _ = report.to_string();

    // A directory where a segment should be, and a symlink out.
    let f = fixture(Span::Continuous);
    let seg = f.first_segment_file();
    fs::remove_file(&seg).expect("rm");
    fs::create_dir(&seg).expect("mkdir");
    fails_with(&f.verify(), "dir", |p| {
        matches!(p, Problem::NotARegularFile { .. })
    });
    let f = fixture(Span::Continuous);
    let seg = f.first_segment_file();
    fs::remove_file(&seg).expect("rm");
    std::os::unix::fs::symlink(&f.segments[0].2, &seg).expect("symlink");
    fails_with(&f.verify(), "symlink", |p| {
        matches!(p, Problem::NotARegularFile { .. })
    });
    // A format from the future.
    let f = fixture(Span::Continuous);
    f.edit_json("manifest.json", |v| {
        v["format"] = "custos-evidence/2".into()
    });
    fails_with(&f.verify(), "format", |p| {
        matches!(p, Problem::UnknownFormat { .. })
    });
}

#[test]
fn the_writer_refuses_what_would_not_verify() {
    let f = fixture(Span::Continuous);
    let out = f.site.join("out");

    // A non-empty directory.
    fs::create_dir_all(&out).expect("mkdir");
    fs::write(out.join("x"), "x").expect("write");
    assert!(matches!(
        BundleWriter::create(&out),
        Err(BundleError::NotEmpty { .. })
    ));
    fs::remove_file(out.join("x")).expect("rm");

    let mut w = BundleWriter::create(&out).expect("empty dir is fine");
    let (index, leaf, file) = &f.segments[0];
    // A file that is not what its entry logged.
    let altered = f.site.join("altered.mp4");
    fs::write(&altered, "not the logged bytes").expect("write");
    assert!(matches!(
        w.add_segment(&altered, *index, leaf, &f.proof(*index)),
        Err(BundleError::SegmentDiffers { .. })
    ));
    // An entry that is not a segment.
    assert!(matches!(
        w.add_segment(file, 0, &f.leaves[0], &f.proof(0)),
        Err(BundleError::NotSegmentEntry { .. })
    ));
    // A leaf that is not canonical.
    assert!(matches!(
        w.add_entry(0, b"{}", &f.proof(0)),
        Err(BundleError::NotCanonical { .. })
    ));
    w.add_segment(file, *index, leaf, &f.proof(*index))
        .expect("good segment");
    // Another leaf for the same index.
    assert!(matches!(
        w.add_entry(*index, &f.leaves[0], &f.proof(0)),
        Err(BundleError::DuplicateIndex { .. })
    ));
    // A wrong proof.
    w.add_entry(1, &f.leaves[1], &f.proof(2)).expect("added");
    assert!(matches!(
        w.finish(&f.manifest(T0 + 2_000), &f.note(), &f.key.verifier()),
        Err(BundleError::ProofFails { index: 1, .. })
    ));

    // A checkpoint by another key.
    let out2 = f.site.join("out2");
    let mut w = BundleWriter::create(&out2).expect("create");
    w.add_segment(file, *index, leaf, &f.proof(*index))
        .expect("good segment");
    let other = SigningKey::generate(SITE).expect("key");
    assert!(matches!(
        w.finish(&f.manifest(T0 + 2_000), &f.note(), &other.verifier()),
        Err(BundleError::Checkpoint(_))
    ));
}
/// The worked example of `docs/evidence-format.md` §9: the same inputs give
/// the same bundle, byte for byte, and it verifies.
#[test]
fn the_worked_example_of_the_spec() {
    const EXAMPLE_KEY: &str = "example-site+d03078e7+AWDfBWRRQoCitmBlHKd6KBciOuXWiXXPoVFbEU0oyehS";
    const EXAMPLE_ENTRIES: &str = concat!(
        r#"{"index":0,"leaf":"eyJhdF9tcyI6MTc2NzIyNTU5OTk5MCwiY2FtZXJhIjoiZ2F0ZSIsImRldGFpbCI6bnVsbCwic3RhdGUiOiJyZWNvcmRpbmciLCJ0aW1lX21zIjoxNzY3MjI1NjAwMDAwLCJ0eXBlIjoiY2FtZXJhLnN0YXRlIn0=","entry":{"at_ms":1767225599990,"camera":"gate","detail":null,"state":"recording","time_ms":1767225600000,"type":"camera.state"}}"#,
        "\n",
        r#"{"index":1,"leaf":"eyJieXRlcyI6NSwiY2FtZXJhIjoiZ2F0ZSIsImVuZF9tcyI6MTc2NzIyNTYwMjAwMCwiZnJhbWVzIjoyMCwicGF0aCI6InZpZGVvL2dhdGUvMTc2NzIyNTYwMDAwMC5tcDQiLCJzaGEyNTYiOiIyY2YyNGRiYTVmYjBhMzBlMjZlODNiMmFjNWI5ZTI5ZTFiMTYxZTVjMWZhNzQyNWU3MzA0MzM2MjkzOGI5ODI0Iiwic3RhcnRfbXMiOjE3NjcyMjU2MDAwMDAsInRpbWVfbXMiOjE3NjcyMjU2MDIwMTAsInR5cGUiOiJzZWdtZW50LnNlYWxlZCJ9","entry":{"bytes":5,"camera":"gate","end_ms":1767225602000,"frames":20,"path":"video/gate/1767225600000.mp4","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","start_ms":1767225600000,"time_ms":1767225602010,"type":"segment.sealed"}}"#,
        "\n"
    );
    const EXAMPLE_PROOFS: &str = r#"{
  "tree_size": 2,
  "root": "N7PrOuWg9t0wupGDTEu/5BvZZYNvk0yjFFVi2H2vusw=",
  "inclusion": {
    "0": [
      "Lt+rieR7E8QWUHyjrHqJgZ2P1d8uNr+0C+OVCz5CGpI="
    ],
    "1": [
      "Y7yvcqIGz5MAFG/yW0fRiUzhCn86TDdb8JjDxyScczg="
    ]
  }
}
"#;
    const EXAMPLE_MANIFEST: &str = r#"{
  "format": "custos-evidence/1",
  "site": "example-site",
  "camera": "gate",
  "start_ms": 1767225600000,
  "end_ms": 1767225602000,
  "reason": "incident 42",
  "exported_by": "ann",
  "exported_ms": 1767229200000,
  "segments": [
    {
      "file": "segments/1767225600000.mp4",
      "index": 1,
      "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    }
  ]
}
"#;
    let seed: [u8; 32] = Sha256::digest(b"custos evidence-format example key").into();
    let key = SigningKey::from_seed("example-site", &seed).expect("key");
    let tmp = tempfile::tempdir().expect("tempdir");
    let seg = tmp.path().join("1767225600000.mp4");
    fs::write(&seg, "hello").expect("write");
    let sha = hex::encode(Sha256::digest(b"hello"));
    let l0 = leaf(
        1_767_225_600_000,
        &CameraState {
            camera: "gate",
            at_ms: 1_767_225_599_990,
            state: "recording",
            detail: None,
        },
    );
    let l1 = leaf(
        1_767_225_602_010,
        &SegmentSealed {
            segment: SealedSegment {
                camera: "gate",
                path: "video/gate/1767225600000.mp4",
                start_ms: 1_767_225_600_000,
                end_ms: 1_767_225_602_000,
                bytes: 5,
                frames: 20,
                sha256: &sha,
            },
            recovered: None,
        },
    );
    let tree = MemoryTree::from_leaf_hashes(&[merkle::leaf_hash(&l0), merkle::leaf_hash(&l1)]);
    let note = sign_checkpoint(
        &Checkpoint {
            origin: "example-site".into(),
            size: 2,
            root: tree.root(),
        },
        &key,
    );
    let out = tmp.path().join("bundle");
    let mut w = BundleWriter::create(&out).expect("create");
    let proof = |i| merkle::inclusion_proof(&tree, i, 2).expect("proof");
    w.add_segment(&seg, 1, &l1, &proof(1)).expect("segment");
    w.add_entry(0, &l0, &proof(0)).expect("entry");
    w.finish(
        &Manifest {
            site: "example-site".into(),
            camera: "gate".into(),
            start_ms: 1_767_225_600_000,
            end_ms: 1_767_225_602_000,
            reason: "incident 42".into(),
            exported_by: "ann".into(),
            exported_ms: 1_767_229_200_000,
        },
        &note,
        &key.verifier(),
    )
    .expect("finish");
    let read = |name: &str| fs::read_to_string(out.join(name)).expect("read");
    assert_eq!(read("entries.jsonl"), EXAMPLE_ENTRIES);
    assert_eq!(read("proofs.json"), EXAMPLE_PROOFS);
    assert_eq!(read("manifest.json"), EXAMPLE_MANIFEST);
    assert_eq!(read("key.pub"), format!("{EXAMPLE_KEY}\n"));
    let given = custos_ledger::note::VerifierKey::parse(EXAMPLE_KEY).expect("key");
    let report = verify_bundle(&out, Some(&given));
    assert!(report.ok(), "{report}");
}

fn witness(name: &str, seed: u8) -> CosigningKey {
    CosigningKey::from_seed(name, &[seed; 32]).expect("witness key")
}

fn trusting(f: &Fixture, witnesses: &[CosignerKey], quorum: Option<usize>) -> Report {
    verify_bundle_trusting(
        &f.bundle,
        &Trust {
            key: Some(&f.key.verifier()),
            witnesses,
            witness_quorum: quorum,
        },
    )
}

/// Appends `witness`'s cosignature line, made at `time`, to the bundle's
/// checkpoint.
fn cosign(f: &Fixture, witness: &CosigningKey, time: u64) {
    let path = f.path("checkpoint");
    let note = fs::read_to_string(&path).expect("checkpoint");
    let line = witness.cosign(&note, time).expect("cosign");
    fs::write(&path, format!("{note}{line}")).expect("write checkpoint");
}

#[test]
fn witness_cosignatures_are_checked_against_the_keys_given() {
    let f = fixture(Span::Continuous);
    let central = witness("central.example/witness", 1);
    let other = witness("audit.example/witness", 2);

    // No cosignature: said plainly, and a failure once a witness is asked for.
    let report = verify_bundle(&f.bundle, Some(&f.key.verifier()));
    assert!(report.ok(), "{report}");
    assert!(
        report
            .to_string()
            .contains("The bundle carries no witness co-signature"),
        "{report}"
    );
    let report = trusting(&f, &[central.verifier()], None);
    assert_eq!(report.problems, [Problem::NoCosignature { given: 1 }]);
    assert!(report.to_string().contains("no witness co-signature"));

    // Co-signed by the central witness: proven, with its time; the site's
    // own verification is unchanged (other keys' lines are ignored).
    cosign(&f, &central, 1_767_225_700);
    let report = trusting(&f, &[central.verifier()], None);
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(
        text.contains("co-signed by witness central.example/witness+")
            && text.contains("at 2026-01-01 00:01:40.000 UTC"),
        "{text}"
    );
    assert!(f.verify().ok());
    let unchecked = f.verify().to_string();
    assert!(
        unchecked.contains("1 cosignature line(s) (central.example/witness+"),
        "{unchecked}"
    );

    // A key the checkpoint has no cosignature by: the quorum (all) fails;
    // a quorum of one is met, and the missing one is named as not proven.
    let both = [central.verifier(), other.verifier()];
    let report = trusting(&f, &both, None);
    assert_eq!(
        report.problems,
        [Problem::WitnessQuorum {
            required: 2,
            cosigned: 1,
            missing: vec![other.verifier().short()],
        }]
    );
    let report = trusting(&f, &both, Some(1));
    assert!(report.ok(), "{report}");
    assert!(
        report
            .not_proven
            .iter()
            .any(|n| n.contains(&other.verifier().short())),
        "{report}"
    );
    cosign(&f, &other, 1_767_225_800);
    assert!(trusting(&f, &both, None).ok());

    // The wrong key under the witness's name: not its cosignature.
    let impostor = witness("central.example/witness", 9);
    let report = trusting(&f, &[impostor.verifier()], None);
    assert!(
        matches!(
            &report.problems[..],
            [Problem::WitnessQuorum { cosigned: 0, .. }]
        ),
        "{report}"
    );

    // A cosignature line altered after the fact fails as a bad signature.
    let path = f.path("checkpoint");
    let note = fs::read_to_string(&path).expect("checkpoint");
    let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
    let last = lines.len() - 1;
    let (head, b64) = lines[last].rsplit_once(' ').expect("line");
    let mut raw = BASE64.decode(b64).expect("base64");
    raw[20] ^= 1;
    lines[last] = format!("{head} {}", BASE64.encode(&raw));
    fs::write(&path, format!("{}\n", lines.join("\n"))).expect("write");
    let report = trusting(&f, &both, Some(1));
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::BadCosignature { witness, .. } if *witness == other.verifier().short())),
        "{report}"
    );
}
