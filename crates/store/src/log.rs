//! The log outbox and checkpoints.
//!
//! Every fact that goes into the site's Merkle log is first written to
//! `log_outbox` in the same transaction as the fact itself; the log writer
//! then moves outbox rows, in order, into the log. A fact can therefore never
//! be committed without its entry, and an entry never without its fact.

use rusqlite::{params, OptionalExtension};

use crate::error::{Context, Result};
use crate::Store;

/// An entry waiting to be appended to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Outbox order.
    pub id: i64,
    /// Canonical entry bytes.
    pub leaf: Vec<u8>,
}

/// What the index keeps about one log entry, to find it without reading
/// the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEntry {
    /// Its index in the log.
    pub index: u64,
    /// Entry type.
    pub kind: String,
    /// The entry's time.
    pub time_ms: i64,
    /// Its `camera` field.
    pub camera: Option<String>,
    /// Its `path` field.
    pub path: Option<String>,
    /// Its `at_ms` field.
    pub at_ms: Option<i64>,
}

fn insert_indexed(tx: &rusqlite::Transaction<'_>, entries: &[IndexedEntry]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO log_entries (idx, kind, time_ms, camera, path, at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .context(|| "preparing the log entry index insert".to_owned())?;
    for e in entries {
        stmt.execute(params![
            e.index as i64,
            e.kind,
            e.time_ms,
            e.camera,
            e.path,
            e.at_ms
        ])
        .context(|| format!("indexing log entry {}", e.index))?;
    }
    Ok(())
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it commits to.
    pub tree_size: u64,
    /// The signed note.
    pub note: String,
    /// When it was signed.
    pub created_ms: i64,
}

impl Store {
    /// The oldest `limit` outbox entries, in order.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, leaf FROM log_outbox ORDER BY id LIMIT ?1")
            .context(|| "preparing the outbox query".to_owned())?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(OutboxEntry {
                    id: r.get(0)?,
                    leaf: r.get(1)?,
                })
            })
            .context(|| "reading the outbox".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "reading the outbox".to_owned())
    }

    /// Removes outbox entries up to and including `through_id`, which are now
    /// in the log, records that the log then holds `log_size` entries, and
    /// indexes `appended` (the entries just appended) in the same transaction.
    pub fn outbox_applied(
        &self,
        through_id: i64,
        log_size: u64,
        appended: &[IndexedEntry],
    ) -> Result<()> {
        let tx = self.write_tx("removing applied outbox entries")?;
        tx.execute("DELETE FROM log_outbox WHERE id <= ?1", [through_id])
            .context(|| "removing applied outbox entries".to_owned())?;
        insert_indexed(&tx, appended)?;
        tx.execute(
            "INSERT INTO log_state (id, applied_size) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET applied_size = excluded.applied_size",
            [log_size as i64],
        )
        .context(|| "recording the applied log size".to_owned())?;
        tx.commit()
            .context(|| "committing the outbox removal".to_owned())
    }

    /// Adds entries already in the log to the entry index (to fill it in for
    /// entries appended before the index existed). Entries already indexed
    /// are replaced.
    pub fn index_log_entries(&self, entries: &[IndexedEntry]) -> Result<()> {
        let tx = self.write_tx("indexing log entries")?;
        insert_indexed(&tx, entries)?;
        tx.commit()
            .context(|| "committing the log entry index".to_owned())
    }

    /// One more than the highest indexed log entry (0 when none is).
    pub fn log_indexed_size(&self) -> Result<u64> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(idx) FROM log_entries", [], |r| r.get(0))
            .context(|| "reading the size of the log entry index".to_owned())?;
        Ok(max.map_or(0, |m| m as u64 + 1))
    }

    /// The log index of the latest entry of `kind` about the file `path`.
    pub fn log_entry_for_path(&self, kind: &str, path: &str) -> Result<Option<u64>> {
        let idx: Option<i64> = self
            .conn
            .query_row(
                "SELECT MAX(idx) FROM log_entries WHERE path = ?1 AND kind = ?2",
                params![path, kind],
                |r| r.get(0),
            )
            .context(|| format!("looking up the {kind} entry of {path}"))?;
        Ok(idx.map(|i| i as u64))
    }

    /// A camera's entries of `kind` whose moment (`at_ms`, or the entry's
    /// time when it has none) lies in `[from_ms, to_ms]`, in log order.
    pub fn camera_log_entries(
        &self,
        camera: &str,
        kind: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<IndexedEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, kind, time_ms, camera, path, at_ms FROM log_entries \
                 WHERE camera = ?1 AND kind = ?2 AND COALESCE(at_ms, time_ms) BETWEEN ?3 AND ?4 \
                 ORDER BY idx",
            )
            .context(|| "preparing the log entry query".to_owned())?;
        let rows = stmt
            .query_map(params![camera, kind, from_ms, to_ms], |r| {
                Ok(IndexedEntry {
                    index: r.get::<_, i64>(0)? as u64,
                    kind: r.get(1)?,
                    time_ms: r.get(2)?,
                    camera: r.get(3)?,
                    path: r.get(4)?,
                    at_ms: r.get(5)?,
                })
            })
            .context(|| format!("reading the {kind} entries of camera {camera}"))?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| format!("reading the {kind} entries of camera {camera}"))
    }

    /// Log size recorded by the last [`Store::outbox_applied`] (0 if never).
    pub fn log_applied_size(&self) -> Result<u64> {
        let size: Option<i64> = self
            .conn
            .query_row("SELECT applied_size FROM log_state WHERE id = 1", [], |r| {
                r.get(0)
            })
            .optional()
            .context(|| "reading the applied log size".to_owned())?;
        Ok(size.unwrap_or(0) as u64)
    }

    /// Stores a signed checkpoint (ignoring a second one for the same size).
    pub fn insert_checkpoint(&self, tree_size: u64, note: &str, created_ms: i64) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO checkpoints (tree_size, note, created_ms) VALUES (?1, ?2, ?3)",
                params![tree_size as i64, note, created_ms],
            )
            .context(|| format!("storing the checkpoint for size {tree_size}"))?;
        Ok(())
    }

    /// Every checkpoint, smallest tree first.
    pub fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT tree_size, note, created_ms FROM checkpoints ORDER BY tree_size",
            )
            .context(|| "preparing the checkpoint query".to_owned())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredCheckpoint {
                    tree_size: r.get::<_, i64>(0)? as u64,
                    note: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            })
            .context(|| "reading checkpoints".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "reading checkpoints".to_owned())
    }

    /// The checkpoint with the largest tree, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>> {
        self.conn
            .query_row(
                "SELECT tree_size, note, created_ms FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
                [],
                |r| Ok(StoredCheckpoint { tree_size: r.get::<_, i64>(0)? as u64, note: r.get(1)?, created_ms: r.get(2)? }),
            )
            .optional()
            .context(|| "reading the latest checkpoint".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::IndexedEntry;
    use crate::{ErrorKind, NewSegment, SealedSegment, Store, StoreError};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("custos.db")).expect("open");
        (dir, s)
    }

    fn recording(s: &Store) -> i64 {
        s.insert_recording_segment(&NewSegment {
            camera: "cam".into(),
            path: "video/cam/1.mp4".into(),
            start_ms: 1000,
            codec: "avc1.42C01E".into(),
            width: None,
            height: None,
        })
        .expect("insert")
    }

    fn sealed(id: i64) -> SealedSegment {
        SealedSegment {
            id,
            end_ms: 2000,
            bytes: 10,
            frames: 1,
            sha256: "ab".repeat(32),
            sealed_ms: 2000,
            recovered: false,
        }
    }

    #[test]
    fn staged_entries_commit_with_the_fact_and_vanish_with_its_failure() {
        let (_d, s) = store();
        let id = recording(&s);
        s.write("t", |tx| {
            tx.log(b"sealed".to_vec());
            tx.seal_segments(&[sealed(id)])
        })
        .expect("seal");
        let out = s.outbox(10).expect("outbox");
        assert_eq!(
            out.iter().map(|e| e.leaf.clone()).collect::<Vec<_>>(),
            vec![b"sealed".to_vec()]
        );
        // Sealing twice is a conflict: neither the fact nor its entry lands.
        let e = s
            .write("t", |tx| {
                tx.log(b"again".to_vec());
                tx.seal_segments(&[sealed(id)])
            })
            .expect_err("conflict");
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert_eq!(s.outbox(10).expect("outbox").len(), 1);
        // And nothing stays staged for an unrelated later transaction.
        s.record_camera_state("cam", 5, crate::CameraState::Offline, None)
            .expect("state");
        assert_eq!(s.outbox(10).expect("outbox").len(), 1);
    }

    #[test]
    fn every_write_commits_its_staged_entries() {
        let (_d, s) = store();
        let n = |s: &Store| s.outbox(100).expect("outbox").len();
        s.write("t", |tx| {
            tx.log(b"state".to_vec());
            tx.record_camera_state("cam", 5, crate::CameraState::Offline, None)
        })
        .expect("state");
        assert_eq!(n(&s), 1);
        let user = s
            .write("t", |tx| {
                tx.log(b"user".to_vec());
                tx.create_user("ann", crate::Role::Admin, "$argon2id$x", 1)
            })
            .expect("user");
        assert_eq!(n(&s), 2);
        s.write("t", |tx| {
            tx.log(b"role".to_vec());
            tx.set_user_role(user.id, crate::Role::Viewer)
        })
        .expect("role");
        assert_eq!(n(&s), 3);
        // A change to no one is refused, and its entry is not committed.
        let e = s
            .write("t", |tx| {
                tx.log(b"ghost".to_vec());
                tx.set_user_disabled(999, true)
            })
            .expect_err("no such user");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(n(&s), 3);
        s.write("t", |tx| {
            tx.log(b"rec".to_vec());
            tx.insert_recording_segment(&NewSegment {
                camera: "cam".into(),
                path: "video/cam/1.mp4".into(),
                start_ms: 1000,
                codec: "avc1.42C01E".into(),
                width: None,
                height: None,
            })
        })
        .expect("recording");
        assert_eq!(n(&s), 4);
        s.write("t", |tx| {
            tx.log(b"adopted".to_vec());
            tx.insert_sealed_segment(&crate::RecoveredSegment {
                camera: "cam".into(),
                path: "video/cam/2.mp4".into(),
                start_ms: 3000,
                end_ms: 4000,
                bytes: 1,
                frames: 1,
                sha256: "cd".repeat(32),
                codec: "avc1.42C01E".into(),
                width: None,
                height: None,
                sealed_ms: 4000,
            })
        })
        .expect("adopt");
        assert_eq!(n(&s), 5);
        // Entries staged with no row at all still commit (facts that live
        // outside the index): nothing staged is ever dropped on success.
        s.write("t", |tx| {
            tx.log(b"alone".to_vec());
            Ok::<_, StoreError>(())
        })
        .expect("alone");
        assert_eq!(n(&s), 6);
    }

    /// A caller's own error type, as a domain rule's refusal.
    #[derive(Debug, PartialEq)]
    enum Refusal {
        Rule(&'static str),
        Store(ErrorKind),
    }

    impl From<StoreError> for Refusal {
        fn from(e: StoreError) -> Self {
            Refusal::Store(e.kind())
        }
    }

    #[test]
    fn a_refusal_from_inside_comes_out_typed_and_takes_the_rows_and_entries_with_it() {
        let (_d, s) = store();
        let e = s
            .write("t", |tx| -> Result<(), Refusal> {
                tx.log(b"user".to_vec());
                tx.create_user("bob", crate::Role::Viewer, "$argon2id$x", 1)?;
                Err(Refusal::Rule("no more users today"))
            })
            .expect_err("refused");
        assert_eq!(e, Refusal::Rule("no more users today"));
        assert!(s.user_by_name("bob").expect("lookup").is_none());
        assert!(s.outbox(10).expect("outbox").is_empty());
        // A store error converts to the caller's type through `From`.
        let e = s
            .write("t", |tx| -> Result<(), Refusal> {
                tx.set_user_disabled(999, true)?;
                Ok(())
            })
            .expect_err("no such user");
        assert_eq!(e, Refusal::Store(ErrorKind::NotFound));
    }

    #[test]
    fn a_failed_write_method_leaves_none_of_its_rows_when_the_caller_goes_on() {
        let (_d, s) = store();
        let seg = |path: &str| crate::RecoveredSegment {
            camera: "cam".into(),
            path: path.into(),
            start_ms: 3000,
            end_ms: 4000,
            bytes: 1,
            frames: 1,
            sha256: "cd".repeat(32),
            codec: "avc1.42C01E".into(),
            width: None,
            height: None,
            sealed_ms: 4000,
        };
        s.insert_sealed_segment(&seg("video/cam/a.mp4"))
            .expect("first");
        s.write("t", |tx| {
            // The second row is refused; the caller handles it and commits.
            let refused =
                tx.insert_sealed_segments(&[seg("video/cam/b.mp4"), seg("video/cam/a.mp4")]);
            assert_eq!(
                refused.expect_err("duplicate").kind(),
                ErrorKind::AlreadyExists
            );
            tx.log(b"kept".to_vec());
            Ok::<_, StoreError>(())
        })
        .expect("write");
        let paths: Vec<String> = s
            .all_live_segment_paths()
            .expect("paths")
            .into_iter()
            .map(|(_, p, _)| p)
            .collect();
        assert_eq!(paths, ["video/cam/a.mp4"], "b.mp4 went with the refusal");
        assert_eq!(s.outbox(10).expect("outbox").len(), 1);
    }

    #[test]
    fn a_write_inside_a_write_fails_instead_of_committing_part_of_it() {
        let (_d, s) = store();
        let e = s
            .write("outer", |tx| {
                tx.log(b"outer".to_vec());
                s.record_camera_state("cam", 5, crate::CameraState::Offline, None)
            })
            .expect_err("nested");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(s.outbox(10).expect("outbox").is_empty());
        assert!(s.camera_states("cam", 0, 10).expect("states").is_empty());
    }

    #[test]
    fn outbox_drains_in_order_and_remembers_the_applied_size() {
        let (_d, s) = store();
        s.enqueue_log(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
            .expect("enqueue");
        let out = s.outbox(2).expect("outbox");
        assert_eq!(
            out.iter().map(|e| e.leaf.as_slice()).collect::<Vec<_>>(),
            vec![&b"a"[..], &b"b"[..]]
        );
        assert_eq!(s.log_applied_size().expect("size"), 0);
        let appended = [
            indexed(0, "a", Some("cam"), None, None),
            indexed(1, "b", None, None, None),
        ];
        s.outbox_applied(out[1].id, 2, &appended).expect("applied");
        assert_eq!(s.log_applied_size().expect("size"), 2);
        assert_eq!(s.log_indexed_size().expect("indexed"), 2);
        let rest = s.outbox(10).expect("outbox");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].leaf, b"c");
    }

    fn indexed(
        index: u64,
        kind: &str,
        camera: Option<&str>,
        path: Option<&str>,
        at_ms: Option<i64>,
    ) -> IndexedEntry {
        IndexedEntry {
            index,
            kind: kind.into(),
            time_ms: 1000 + index as i64,
            camera: camera.map(Into::into),
            path: path.map(Into::into),
            at_ms,
        }
    }

    #[test]
    fn entry_index_finds_by_path_and_by_camera_and_moment() {
        let (_d, s) = store();
        assert_eq!(s.log_indexed_size().expect("empty"), 0);
        s.index_log_entries(&[
            indexed(0, "segment.sealed", Some("a"), Some("video/a/1.mp4"), None),
            indexed(1, "camera.state", Some("a"), None, Some(500)),
            indexed(2, "camera.state", Some("b"), None, Some(600)),
            indexed(3, "segment.deleted", Some("a"), Some("video/a/1.mp4"), None),
            indexed(4, "segment.sealed", Some("a"), Some("video/a/1.mp4"), None),
            // No at_ms: its own time (1005) counts.
            indexed(5, "camera.state", Some("a"), None, None),
        ])
        .expect("index");
        assert_eq!(s.log_indexed_size().expect("size"), 6);
        // The latest entry of the kind asked for.
        assert_eq!(
            s.log_entry_for_path("segment.sealed", "video/a/1.mp4")
                .expect("q"),
            Some(4)
        );
        assert_eq!(
            s.log_entry_for_path("segment.deleted", "video/a/1.mp4")
                .expect("q"),
            Some(3)
        );
        assert_eq!(
            s.log_entry_for_path("segment.sealed", "video/a/2.mp4")
                .expect("q"),
            None
        );
        let got: Vec<u64> = s
            .camera_log_entries("a", "camera.state", 0, 2000)
            .expect("q")
            .iter()
            .map(|e| e.index)
            .collect();
        assert_eq!(got, vec![1, 5]);
        let got: Vec<u64> = s
            .camera_log_entries("a", "camera.state", 501, 1004)
            .expect("q")
            .iter()
            .map(|e| e.index)
            .collect();
        assert!(got.is_empty(), "{got:?}");
        // Re-indexing an entry replaces it rather than failing.
        s.index_log_entries(&[indexed(1, "camera.state", Some("a"), None, Some(900))])
            .expect("replace");
        assert_eq!(
            s.camera_log_entries("a", "camera.state", 900, 900)
                .expect("q")
                .len(),
            1
        );
    }

    #[test]
    fn checkpoints_are_all_kept() {
        let (_d, s) = store();
        assert!(s.latest_checkpoint().expect("none").is_none());
        s.insert_checkpoint(3, "note 3", 1).expect("3");
        s.insert_checkpoint(7, "note 7", 2).expect("7");
        s.insert_checkpoint(7, "other", 3).expect("dup ignored");
        assert_eq!(s.checkpoints().expect("all").len(), 2);
        let latest = s.latest_checkpoint().expect("q").expect("some");
        assert_eq!((latest.tree_size, latest.note.as_str()), (7, "note 7"));
    }
}
