//! Tests of the public store API against real SQLite files in a temporary
//! directory.

use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use custos_store::{
    CameraState, ErrorKind, NewSegment, RecoveredSegment, Role, SealedSegment, Segment,
    SegmentProgress, SegmentState, Store, StoreError, DB_FILE_NAME,
};
use tempfile::TempDir;

/// Test result: any error fails the test with its message.
type TestResult = Result<(), Box<dyn Error + Send + Sync>>;

/// A fresh data directory and the database path inside it.
fn temp_db() -> Result<(TempDir, PathBuf), Box<dyn Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(DB_FILE_NAME);
    Ok((dir, path))
}

/// The kind of the error in `r`, or `None` if it succeeded.
fn kind<T>(r: Result<T, StoreError>) -> Option<ErrorKind> {
    r.err().map(|e| e.kind())
}

/// A fake digest made of one repeated hex digit.
fn digest(c: char) -> String {
    c.to_string().repeat(64)
}

/// A new recording segment of `camera` starting at `start_ms`.
fn new_segment(camera: &str, start_ms: i64) -> NewSegment {
    NewSegment {
        camera: camera.to_owned(),
        path: format!("video/{camera}/{start_ms}.mp4"),
        start_ms,
        codec: "avc1.640028".to_owned(),
        width: Some(1920),
        height: Some(1080),
    }
}

/// Inserts a recording segment and seals it as `start_ms..end_ms`.
fn sealed(
    store: &Store,
    camera: &str,
    start_ms: i64,
    end_ms: i64,
    bytes: u64,
) -> Result<i64, StoreError> {
    let id = store.insert_recording_segment(&new_segment(camera, start_ms))?;
    store.seal_segments(&[SealedSegment {
        id,
        end_ms,
        bytes,
        frames: 10,
        sha256: digest('a'),
        sealed_ms: end_ms + 1,
        recovered: false,
    }])?;
    Ok(id)
}

/// The ids of `segments`, in order.
fn ids(segments: &[Segment]) -> Vec<i64> {
    segments.iter().map(|s| s.id).collect()
}

/// Fetches a segment that must exist.
fn get(store: &Store, id: i64) -> Result<Segment, Box<dyn Error + Send + Sync>> {
    store
        .segment(id)?
        .ok_or_else(|| format!("segment {id} vanished").into())
}

#[test]
fn migrations_apply_on_fresh_file_and_reopen_is_idempotent() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let version = store.schema_version()?;
    assert!(version >= 1, "fresh database at version {version}");
    let id = store.insert_recording_segment(&new_segment("stacks", 1_000))?;
    store.create_user("alice", Role::Admin, "$argon2id$x", 5)?;
    drop(store);

    // Reopening must not re-run migrations (CREATE TABLE would fail) and
    // must keep the data.
    for _ in 0..2 {
        let store = Store::open(&path)?;
        assert_eq!(store.schema_version()?, version);
        assert_eq!(get(&store, id)?.camera, "stacks");
        assert!(store.user_by_name("alice")?.is_some());
    }
    Ok(())
}

#[test]
fn open_names_the_file_on_failure() -> TestResult {
    let (dir, _) = temp_db()?;
    let path = dir.path().join("no-such-dir").join(DB_FILE_NAME);
    let err = Store::open(&path)
        .err()
        .ok_or("opened a file in a missing directory")?;
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    Ok(())
}

#[test]
fn two_connections_write_and_read_concurrently() -> TestResult {
    let (_dir, path) = temp_db()?;
    let writer = Store::open(&path)?;
    let id = writer.insert_recording_segment(&new_segment("stacks", 0))?;
    let reader = Store::open(&path)?;
    // The reader sees the writer's committed row at once.
    assert_eq!(get(&reader, id)?.state, SegmentState::Recording);

    const ROUNDS: u64 = 200;
    let done = Arc::new(AtomicBool::new(false));
    let writing = {
        let done = Arc::clone(&done);
        thread::spawn(move || -> Result<(), StoreError> {
            for i in 1..=ROUNDS {
                writer.apply_progress(&[SegmentProgress {
                    id,
                    end_ms: i as i64 * 100,
                    bytes: i * 1000,
                    frames: i,
                }])?;
                // Plain inserts between the progress transactions.
                writer.record_camera_state("stacks", i as i64, CameraState::Recording, None)?;
            }
            done.store(true, Ordering::SeqCst);
            Ok(())
        })
    };
    let reading = thread::spawn(move || -> Result<u64, Box<dyn Error + Send + Sync>> {
        let mut last = 0;
        let mut reads = 0;
        loop {
            let finished = done.load(Ordering::SeqCst);
            let seg = get(&reader, id)?;
            assert!(
                seg.bytes >= last,
                "bytes went backwards: {} < {last}",
                seg.bytes
            );
            assert_eq!(seg.bytes, seg.frames * 1000, "read a torn update");
            last = seg.bytes;
            reads += 1;
            // The reader may also write; the busy timeout serialises it.
            if reads % 20 == 0 {
                reader.record_camera_state("other", reads, CameraState::Offline, Some("test"))?;
            }
            if finished {
                return Ok(last);
            }
        }
    });
    writing.join().map_err(|_| "writer panicked")??;
    let last = reading.join().map_err(|_| "reader panicked")??;
    assert_eq!(last, ROUNDS * 1000);
    Ok(())
}

#[test]
fn progress_then_seal_lifecycle() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let a = store.insert_recording_segment(&new_segment("stacks", 1_000))?;
    let b = store.insert_recording_segment(&new_segment("lobby", 1_500))?;

    let fresh = get(&store, a)?;
    assert_eq!(fresh.state, SegmentState::Recording);
    assert_eq!((fresh.end_ms, fresh.bytes, fresh.frames), (1_000, 0, 0));
    assert_eq!(fresh.sha256, None);
    assert!(!fresh.hold && !fresh.recovered);
    assert_eq!((fresh.width, fresh.height), (Some(1920), Some(1080)));

    store.apply_progress(&[
        SegmentProgress {
            id: a,
            end_ms: 2_000,
            bytes: 500,
            frames: 30,
        },
        SegmentProgress {
            id: b,
            end_ms: 2_500,
            bytes: 700,
            frames: 40,
        },
    ])?;
    let seg = get(&store, a)?;
    assert_eq!((seg.end_ms, seg.bytes, seg.frames), (2_000, 500, 30));
    let seg = get(&store, b)?;
    assert_eq!((seg.end_ms, seg.bytes, seg.frames), (2_500, 700, 40));
    assert_eq!(store.camera_live_bytes("stacks")?, 500);

    store.seal_segments(&[SealedSegment {
        id: a,
        end_ms: 3_000,
        bytes: 900,
        frames: 60,
        sha256: digest('b'),
        sealed_ms: 3_100,
        recovered: true,
    }])?;
    let seg = get(&store, a)?;
    assert_eq!(seg.state, SegmentState::Sealed);
    assert_eq!((seg.end_ms, seg.bytes, seg.frames), (3_000, 900, 60));
    assert_eq!(seg.sha256.as_deref(), Some(digest('b').as_str()));
    assert_eq!(seg.sealed_ms, Some(3_100));
    assert!(seg.recovered);

    // A sealed segment takes no more progress.
    let late = SegmentProgress {
        id: a,
        end_ms: 4_000,
        bytes: 1,
        frames: 1,
    };
    assert_eq!(
        kind(store.apply_progress(&[late])),
        Some(ErrorKind::Conflict)
    );
    // Progress that runs backwards past the start is refused.
    let backwards = SegmentProgress {
        id: b,
        end_ms: 1_000,
        bytes: 1,
        frames: 1,
    };
    assert_eq!(
        kind(store.apply_progress(&[backwards])),
        Some(ErrorKind::InvalidArgument)
    );
    let unknown = SegmentProgress {
        id: 999,
        end_ms: 1,
        bytes: 1,
        frames: 1,
    };
    assert_eq!(
        kind(store.apply_progress(&[unknown])),
        Some(ErrorKind::NotFound)
    );

    assert_eq!(
        ids(&store.segments_in_state(SegmentState::Sealed)?),
        vec![a]
    );
    assert_eq!(
        ids(&store.segments_in_state(SegmentState::Recording)?),
        vec![b]
    );
    let live = store.all_live_segment_paths()?;
    assert_eq!(
        live,
        vec![
            (a, "video/stacks/1000.mp4".to_owned(), SegmentState::Sealed),
            (
                b,
                "video/lobby/1500.mp4".to_owned(),
                SegmentState::Recording
            ),
        ]
    );
    Ok(())
}

#[test]
fn seal_of_non_recording_row_is_refused_and_batch_rolls_back() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let done = sealed(&store, "stacks", 0, 100, 10)?;
    let open = store.insert_recording_segment(&new_segment("stacks", 100))?;

    let seal = |id| SealedSegment {
        id,
        end_ms: 200,
        bytes: 20,
        frames: 2,
        sha256: digest('c'),
        sealed_ms: 201,
        recovered: false,
    };
    let err = store
        .seal_segments(&[seal(open), seal(done)])
        .err()
        .ok_or("sealed a sealed segment")?;
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(
        err.to_string().contains(&format!("segment {done}")),
        "{err}"
    );
    // The whole batch rolled back: the recording row is untouched.
    assert_eq!(get(&store, open)?.state, SegmentState::Recording);
    assert_eq!(
        get(&store, done)?.sha256.as_deref(),
        Some(digest('a').as_str())
    );

    assert_eq!(
        kind(store.seal_segments(&[seal(12345)])),
        Some(ErrorKind::NotFound)
    );
    let mut bad = seal(open);
    bad.sha256 = "ABC".to_owned();
    assert_eq!(
        kind(store.seal_segments(&[bad])),
        Some(ErrorKind::InvalidArgument)
    );
    store.mark_missing(open)?;
    assert_eq!(
        kind(store.seal_segments(&[seal(open)])),
        Some(ErrorKind::Conflict)
    );
    Ok(())
}

#[test]
fn overlap_query_boundaries() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let a = sealed(&store, "stacks", 1_000, 2_000, 1)?;
    let b = sealed(&store, "stacks", 2_000, 3_000, 1)?;
    let rec = store.insert_recording_segment(&new_segment("stacks", 3_000))?;
    store.apply_progress(&[SegmentProgress {
        id: rec,
        end_ms: 3_500,
        bytes: 1,
        frames: 1,
    }])?;
    let other_camera = sealed(&store, "lobby", 1_000, 3_000, 1)?;
    let gone = sealed(&store, "stacks", 500, 4_000, 1)?;
    store.begin_delete(&[gone], "test", 0)?;
    assert_ne!(other_camera, a);

    let q = |s, e| -> Result<Vec<i64>, StoreError> {
        Ok(ids(&store.segments_overlapping("stacks", s, e)?))
    };
    // Spans that only touch a segment's edge do not overlap it.
    assert_eq!(q(0, 1_000)?, Vec::<i64>::new());
    assert_eq!(q(2_000, 3_000)?, vec![b]);
    assert_eq!(q(1_999, 2_001)?, vec![a, b]);
    assert_eq!(q(3_500, 9_000)?, Vec::<i64>::new());
    // The recording segment is included, ordered by start.
    assert_eq!(q(0, 9_000)?, vec![a, b, rec]);
    assert_eq!(q(3_499, 3_500)?, vec![rec]);
    // An instant inside a segment finds it.
    assert_eq!(q(1_500, 1_500)?, vec![a]);
    assert_eq!(
        kind(store.segments_overlapping("stacks", 10, 5)),
        Some(ErrorKind::InvalidArgument)
    );
    Ok(())
}

#[test]
fn retention_candidates_exclude_held_and_recording_oldest_first() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    // Inserted out of time order so ordering by id would be wrong.
    let newer = sealed(&store, "stacks", 3_000, 4_000, 30)?;
    let oldest = sealed(&store, "stacks", 1_000, 2_000, 10)?;
    let held = sealed(&store, "stacks", 2_000, 3_000, 20)?;
    let recording = store.insert_recording_segment(&new_segment("stacks", 0))?;
    let other = sealed(&store, "lobby", 0, 100, 5)?;
    assert_ne!(other, oldest);
    let after = store.set_hold(held, true)?;
    assert!(after.hold);

    assert_eq!(
        ids(&store.retention_candidates_by_age("stacks", 10_000)?),
        vec![oldest, newer]
    );
    // end_ms must be strictly older than the cut-off.
    assert_eq!(
        ids(&store.retention_candidates_by_age("stacks", 4_000)?),
        vec![oldest]
    );
    assert_eq!(
        ids(&store.retention_candidates_by_age("stacks", 2_000)?),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(&store.oldest_sealed_unheld("stacks", 10)?),
        vec![oldest, newer]
    );
    assert_eq!(ids(&store.oldest_sealed_unheld("stacks", 1)?), vec![oldest]);
    assert!(!ids(&store.oldest_sealed_unheld("stacks", 10)?).contains(&recording));

    // Held and recording bytes still count toward the quota.
    assert_eq!(store.camera_live_bytes("stacks")?, 60);
    let summary = store.camera_summary("stacks")?;
    assert_eq!(summary.segments, 4);
    assert_eq!(summary.first_start_ms, Some(0));
    assert_eq!(summary.last_end_ms, Some(4_000));
    let empty = store.camera_summary("nobody")?;
    assert_eq!(
        (empty.segments, empty.bytes, empty.first_start_ms),
        (0, 0, None)
    );

    store.set_hold(held, false)?;
    assert_eq!(
        ids(&store.retention_candidates_by_age("stacks", 10_000)?),
        vec![oldest, held, newer]
    );
    Ok(())
}

#[test]
fn begin_and_finish_delete() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let a = sealed(&store, "stacks", 0, 100, 10)?;
    let b = sealed(&store, "stacks", 100, 200, 20)?;
    let held = sealed(&store, "stacks", 200, 300, 30)?;
    let rec = store.insert_recording_segment(&new_segment("stacks", 300))?;
    store.set_hold(held, true)?;

    let marked = store.begin_delete(&[a, b, held, rec, 999], "age", 5_000)?;
    assert_eq!(ids(&marked), vec![a, b]);
    for seg in &marked {
        assert_eq!(seg.state, SegmentState::Deleting);
        assert_eq!(seg.delete_reason.as_deref(), Some("age"));
    }
    assert_eq!(get(&store, held)?.state, SegmentState::Sealed);
    // Deleting rows are not live for playback or quota, but recovery sees them.
    assert_eq!(store.camera_live_bytes("stacks")?, 30);
    assert!(store.segments_overlapping("stacks", 0, 200)?.is_empty());
    assert_eq!(store.segments_in_state(SegmentState::Deleting)?.len(), 2);
    assert!(store
        .all_live_segment_paths()?
        .iter()
        .any(|(id, _, s)| *id == a && *s == SegmentState::Deleting));
    // Too late for a hold; and marking again is a no-op.
    assert_eq!(kind(store.set_hold(a, true)), Some(ErrorKind::Conflict));
    assert!(store.begin_delete(&[a], "age", 5_001)?.is_empty());

    // Finishing a row that never began deleting fails the whole batch.
    assert_eq!(
        kind(store.finish_delete(&[a, held], 6_000)),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(get(&store, a)?.state, SegmentState::Deleting);
    assert_eq!(
        kind(store.finish_delete(&[999], 6_000)),
        Some(ErrorKind::NotFound)
    );

    store.finish_delete(&[a, b], 6_000)?;
    let seg = get(&store, a)?;
    assert_eq!(seg.state, SegmentState::Deleted);
    assert_eq!(seg.deleted_ms, Some(6_000));
    assert_eq!(seg.delete_reason.as_deref(), Some("age"));
    // Repeating (recovery after a crash) is harmless.
    store.finish_delete(&[a], 7_000)?;
    assert_eq!(get(&store, a)?.deleted_ms, Some(6_000));
    assert!(!store
        .all_live_segment_paths()?
        .iter()
        .any(|(id, _, _)| *id == a));
    assert_eq!(kind(store.mark_missing(a)), Some(ErrorKind::Conflict));
    assert_eq!(
        kind(store.begin_delete(&[held], " ", 0)),
        Some(ErrorKind::InvalidArgument)
    );
    Ok(())
}

#[test]
fn recovery_adopts_files_and_marks_missing() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let adopted = RecoveredSegment {
        camera: "stacks".to_owned(),
        path: "video/stacks/50.mp4".to_owned(),
        start_ms: 50,
        end_ms: 80,
        bytes: 5,
        frames: 3,
        sha256: digest('d'),
        codec: "hvc1.1.6.L93.B0".to_owned(),
        width: None,
        height: None,
        sealed_ms: 90,
    };
    let id = store.insert_sealed_segment(&adopted)?;
    let seg = get(&store, id)?;
    assert_eq!(seg.state, SegmentState::Sealed);
    assert!(seg.recovered);
    assert_eq!(seg.codec, "hvc1.1.6.L93.B0");
    assert_eq!(
        kind(store.insert_sealed_segment(&adopted)),
        Some(ErrorKind::AlreadyExists)
    );
    let dup = store
        .insert_recording_segment(&NewSegment {
            path: adopted.path.clone(),
            ..new_segment("stacks", 50)
        })
        .err()
        .ok_or("duplicate path accepted")?;
    assert_eq!(dup.kind(), ErrorKind::AlreadyExists);
    assert!(dup.to_string().contains("video/stacks/50.mp4"), "{dup}");
    let escape = NewSegment {
        path: "../etc/passwd".to_owned(),
        ..new_segment("stacks", 1)
    };
    assert_eq!(
        kind(store.insert_recording_segment(&escape)),
        Some(ErrorKind::InvalidArgument)
    );

    store.mark_missing(id)?;
    store.mark_missing(id)?;
    assert_eq!(get(&store, id)?.state, SegmentState::Missing);
    assert!(store.segments_overlapping("stacks", 0, 100)?.is_empty());
    assert_eq!(kind(store.mark_missing(999)), Some(ErrorKind::NotFound));
    Ok(())
}

#[test]
fn camera_state_log() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    store.record_camera_state("stacks", 100, CameraState::Connecting, None)?;
    store.record_camera_state("stacks", 200, CameraState::Recording, None)?;
    store.record_camera_state("stacks", 300, CameraState::Offline, Some("timeout"))?;
    store.record_camera_state("lobby", 250, CameraState::Recording, None)?;

    let states = |s, e| -> Result<Vec<(i64, CameraState)>, StoreError> {
        Ok(store
            .camera_states("stacks", s, e)?
            .into_iter()
            .map(|c| (c.at_ms, c.state))
            .collect())
    };
    // The state in force at the start comes first.
    assert_eq!(
        states(250, 400)?,
        vec![(200, CameraState::Recording), (300, CameraState::Offline)]
    );
    assert_eq!(states(0, 200)?, vec![(100, CameraState::Connecting)]);
    assert_eq!(states(0, 50)?, Vec::new());
    let all = store.camera_states("stacks", 0, 1_000)?;
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].detail.as_deref(), Some("timeout"));
    Ok(())
}

#[test]
fn duplicate_user_name_already_exists() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let alice = store.create_user("alice", Role::Archivist, "$argon2id$v=19$abc", 10)?;
    assert_eq!(alice.role, Role::Archivist);
    assert_eq!(alice.created_ms, 10);
    assert!(!alice.disabled);

    let err = store
        .create_user("alice", Role::Viewer, "$argon2id$x", 11)
        .err()
        .ok_or("duplicate user accepted")?;
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(err.to_string(), r#"user "alice" already exists"#);
    assert_eq!(
        kind(store.create_user("ALICE", Role::Viewer, "$argon2id$x", 11)),
        Some(ErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(store.create_user("bob", Role::Viewer, "plain", 11)),
        Some(ErrorKind::InvalidArgument)
    );
    assert_eq!(
        kind(store.create_user("", Role::Viewer, "$x", 11)),
        Some(ErrorKind::InvalidArgument)
    );

    let bob = store.create_user("bob", Role::Viewer, "$argon2id$y", 12)?;
    assert_eq!(store.user_by_name("Alice")?.map(|u| u.id), Some(alice.id));
    assert_eq!(
        store.user_by_id(bob.id)?.map(|u| u.name),
        Some("bob".to_owned())
    );
    assert_eq!(store.user_by_name("carol")?, None);
    let names: Vec<String> = store.list_users()?.into_iter().map(|u| u.name).collect();
    assert_eq!(names, vec!["alice", "bob"]);

    store.set_password_hash(bob.id, "$argon2id$z")?;
    store.set_user_role(bob.id, Role::Auditor)?;
    let bob = store.user_by_id(bob.id)?.ok_or("bob vanished")?;
    assert_eq!(
        (bob.password_hash.as_str(), bob.role),
        ("$argon2id$z", Role::Auditor)
    );
    assert_eq!(
        kind(store.set_password_hash(999, "$argon2id$z")),
        Some(ErrorKind::NotFound)
    );
    Ok(())
}

#[test]
fn token_lookup_ignores_revoked_tokens_and_disabled_users() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let alice = store.create_user("alice", Role::Admin, "$argon2id$a", 1)?;
    let bob = store.create_user("bob", Role::Viewer, "$argon2id$b", 1)?;
    store.create_token("a1b2c3d4", alice.id, Some("cli"), &digest('1'), 10)?;
    store.create_token("a1b2c3d5", alice.id, None, &digest('2'), 11)?;
    store.create_token("b0b0b0b0", bob.id, None, &digest('3'), 12)?;

    let (token, user) = store
        .user_for_token_hash(&digest('1'))?
        .ok_or("token not found")?;
    assert_eq!((token.id.as_str(), user.id), ("a1b2c3d4", alice.id));
    assert_eq!(token.label.as_deref(), Some("cli"));
    assert_eq!(store.user_for_token_hash(&digest('9'))?, None);

    store.touch_token("a1b2c3d4", 50)?;
    store.touch_token("a1b2c3d4", 40)?;
    let (token, _) = store
        .user_for_token_hash(&digest('1'))?
        .ok_or("token not found")?;
    assert_eq!(token.last_used_ms, Some(50));
    assert_eq!(
        kind(store.touch_token("nope", 1)),
        Some(ErrorKind::NotFound)
    );

    // Revoked tokens stop working; the other token of the user still works.
    let revoked = store.revoke_token("a1b2c3d4", 60)?;
    assert_eq!(revoked.revoked_ms, Some(60));
    assert_eq!(store.user_for_token_hash(&digest('1'))?, None);
    assert!(store.user_for_token_hash(&digest('2'))?.is_some());
    assert_eq!(
        kind(store.revoke_token("a1b2c3d4", 61)),
        Some(ErrorKind::Conflict)
    );
    assert_eq!(
        kind(store.revoke_token("nope", 61)),
        Some(ErrorKind::NotFound)
    );

    // Disabled users' tokens stop working until re-enabled.
    assert!(store.user_for_token_hash(&digest('3'))?.is_some());
    store.set_user_disabled(bob.id, true)?;
    assert_eq!(store.user_for_token_hash(&digest('3'))?, None);
    store.set_user_disabled(bob.id, false)?;
    assert!(store.user_for_token_hash(&digest('3'))?.is_some());

    // Listing includes revoked tokens, oldest first.
    let listed: Vec<String> = store
        .list_tokens(Some(alice.id))?
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec!["a1b2c3d4", "a1b2c3d5"]);
    assert_eq!(store.list_tokens(None)?.len(), 3);

    assert_eq!(
        kind(store.create_token("a1b2c3d4", bob.id, None, &digest('4'), 1)),
        Some(ErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(store.create_token("ffff0000", bob.id, None, &digest('3'), 1)),
        Some(ErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(store.create_token("ffff0001", 999, None, &digest('5'), 1)),
        Some(ErrorKind::NotFound)
    );
    assert_eq!(
        kind(store.create_token("bad id", bob.id, None, &digest('6'), 1)),
        Some(ErrorKind::InvalidArgument)
    );
    Ok(())
}

#[test]
fn role_parsing() -> TestResult {
    for role in Role::ALL {
        assert_eq!(role.to_string().parse::<Role>()?, role);
    }
    assert_eq!("Admin".parse::<Role>()?, Role::Admin);
    let err = "owner"
        .parse::<Role>()
        .err()
        .ok_or("parsed an unknown role")?;
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    let message = err.to_string();
    for name in ["\"owner\"", "admin", "auditor", "archivist", "viewer"] {
        assert!(message.contains(name), "{message:?} lacks {name}");
    }
    assert!("".parse::<Role>().is_err());
    Ok(())
}

fn person(staff_id: &str, badge: Option<&str>) -> custos_custody::model::Person {
    custos_custody::model::Person {
        staff_id: staff_id.into(),
        name: format!("Person {staff_id}"),
        role: custos_custody::model::PersonRole::Staff,
        badge: badge.map(str::to_owned),
        retired: false,
    }
}

#[test]
fn a_taken_staff_id_or_badge_is_named_plainly() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    store.write("adding people", |tx| {
        tx.insert_person(&person("p1", Some("B-1")), 1)?;
        tx.insert_person(&person("p2", None), 1)?;
        // People without a badge do not share one.
        tx.insert_person(&person("p3", None), 1)
    })?;

    let taken_badge = store
        .write("adding a person", |tx| {
            tx.insert_person(&person("p4", Some("B-1")), 2)
        })
        .err()
        .ok_or("a second person with badge B-1 was accepted")?;
    assert_eq!(taken_badge.kind(), ErrorKind::AlreadyExists);
    assert_eq!(
        taken_badge.to_string(),
        r#"a person with badge "B-1" already exists"#
    );

    let taken_id = store
        .write("adding a person", |tx| {
            tx.insert_person(&person("p1", Some("B-9")), 2)
        })
        .err()
        .ok_or("a second p1 was accepted")?;
    assert_eq!(taken_id.to_string(), r#"person "p1" already exists"#);

    let edited = store
        .write("editing a person", |tx| {
            tx.update_person(&person("p2", Some("B-1")), 3)
        })
        .err()
        .ok_or("p2 was given p1's badge")?;
    assert_eq!(
        edited.to_string(),
        r#"a person with badge "B-1" already exists"#
    );
    Ok(())
}
