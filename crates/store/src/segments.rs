//! The `segments` table: one row per MP4 segment file, and its custody life
//! cycle.
//!
//! ```text
//! recording ──seal──▶ sealed ──begin_delete──▶ deleting ──finish_delete──▶ deleted
//!     │                  │
//!     └──mark_missing────┴──▶ missing
//! ```
//!
//! Deletion is crash-safe: retention marks rows `deleting`, unlinks the
//! files, then marks them `deleted`; recovery finishes any `deleting` rows.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};
use serde::Serialize;

use crate::error::{is_unique_violation, Context, Result, StoreError};
use crate::WriteTx;
use crate::{validate, Store};

/// Where a segment is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SegmentState {
    /// The recorder is still appending to the file.
    Recording,
    /// The file is complete and its SHA-256 recorded.
    Sealed,
    /// Deletion has begun; the file may or may not still exist.
    Deleting,
    /// The file was deleted; the row stays as the custody record.
    Deleted,
    /// The file was expected but not found on disk.
    Missing,
}

impl SegmentState {
    /// Every state, in life-cycle order.
    pub const ALL: [SegmentState; 5] = [
        SegmentState::Recording,
        SegmentState::Sealed,
        SegmentState::Deleting,
        SegmentState::Deleted,
        SegmentState::Missing,
    ];

    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SegmentState::Recording => "recording",
            SegmentState::Sealed => "sealed",
            SegmentState::Deleting => "deleting",
            SegmentState::Deleted => "deleted",
            SegmentState::Missing => "missing",
        }
    }
}

impl fmt::Display for SegmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SegmentState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        SegmentState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "unknown segment state {s:?} (expected one of recording, sealed, \
                     deleting, deleted, missing)"
                ))
            })
    }
}

impl ToSql for SegmentState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SegmentState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        text.parse().map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// One segment row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Row id.
    pub id: i64,
    /// Camera name.
    pub camera: String,
    /// File path relative to the data directory.
    pub path: String,
    /// Wall-clock ms since the Unix epoch of the first frame.
    pub start_ms: i64,
    /// End of the last frame (equal to `start_ms` while empty).
    pub end_ms: i64,
    /// File size in bytes.
    pub bytes: u64,
    /// Number of frames.
    pub frames: u64,
    /// Lower-hex SHA-256 of the file, set when sealed.
    pub sha256: Option<String>,
    /// Life-cycle state.
    pub state: SegmentState,
    /// Evidence hold: retention never deletes a held segment.
    pub hold: bool,
    /// RFC 6381 codec string, e.g. `avc1.640028`.
    pub codec: String,
    /// Picture width in pixels, when known.
    pub width: Option<u32>,
    /// Picture height in pixels, when known.
    pub height: Option<u32>,
    /// True when the segment was sealed by crash recovery.
    pub recovered: bool,
    /// When the segment was sealed.
    pub sealed_ms: Option<i64>,
    /// When deletion began (while `deleting`), then when it was confirmed
    /// (once `deleted`).
    pub deleted_ms: Option<i64>,
    /// Why the segment was deleted.
    pub delete_reason: Option<String>,
}

/// A segment the recorder has just started writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSegment {
    /// Camera name.
    pub camera: String,
    /// File path relative to the data directory.
    pub path: String,
    /// Wall-clock ms of the first frame.
    pub start_ms: i64,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Picture width in pixels, when known.
    pub width: Option<u32>,
    /// Picture height in pixels, when known.
    pub height: Option<u32>,
}

/// Progress of a recording segment, for the periodic group commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentProgress {
    /// Row id of the recording segment.
    pub id: i64,
    /// End of the last frame written so far.
    pub end_ms: i64,
    /// File size so far.
    pub bytes: u64,
    /// Frames written so far.
    pub frames: u64,
}

/// Final figures of a segment being sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSegment {
    /// Row id of the recording segment.
    pub id: i64,
    /// End of the last frame.
    pub end_ms: i64,
    /// Final file size.
    pub bytes: u64,
    /// Final frame count.
    pub frames: u64,
    /// Lower-hex SHA-256 of the file.
    pub sha256: String,
    /// When it was sealed.
    pub sealed_ms: i64,
    /// True when crash recovery (not the recorder) is sealing it.
    pub recovered: bool,
}

/// A complete segment file found by crash recovery that had no row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredSegment {
    /// Camera name.
    pub camera: String,
    /// File path relative to the data directory.
    pub path: String,
    /// Wall-clock ms of the first frame.
    pub start_ms: i64,
    /// End of the last frame.
    pub end_ms: i64,
    /// File size.
    pub bytes: u64,
    /// Frame count.
    pub frames: u64,
    /// Lower-hex SHA-256 of the file.
    pub sha256: String,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Picture width in pixels, when known.
    pub width: Option<u32>,
    /// Picture height in pixels, when known.
    pub height: Option<u32>,
    /// When recovery sealed it.
    pub sealed_ms: i64,
}

/// Totals over a camera's live (recording and sealed) segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CameraSummary {
    /// Number of live segments.
    pub segments: u64,
    /// Sum of their sizes.
    pub bytes: u64,
    /// Start of the oldest, if any.
    pub first_start_ms: Option<i64>,
    /// Latest end, if any.
    pub last_end_ms: Option<i64>,
}

/// Columns in the order [`segment_from_row`] reads them.
pub(crate) const COLUMNS: &str =
    "id, camera, path, start_ms, end_ms, bytes, frames, sha256, state, hold, \
                       codec, width, height, recovered, sealed_ms, deleted_ms, delete_reason";

/// How many columns [`COLUMNS`] selects.
pub(crate) const COLUMN_COUNT: usize = 17;

/// [`COLUMNS`] with each column qualified by `alias`, for joins.
pub(crate) fn prefixed_columns(alias: &str) -> String {
    COLUMNS
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds a [`Segment`] from a row selected with [`COLUMNS`].
pub(crate) fn segment_from_row(row: &Row<'_>) -> rusqlite::Result<Segment> {
    Ok(Segment {
        id: row.get(0)?,
        camera: row.get(1)?,
        path: row.get(2)?,
        start_ms: row.get(3)?,
        end_ms: row.get(4)?,
        bytes: row.get(5)?,
        frames: row.get(6)?,
        sha256: row.get(7)?,
        state: row.get(8)?,
        hold: row.get(9)?,
        codec: row.get(10)?,
        width: row.get(11)?,
        height: row.get(12)?,
        recovered: row.get(13)?,
        sealed_ms: row.get(14)?,
        deleted_ms: row.get(15)?,
        delete_reason: row.get(16)?,
    })
}

/// State and start of one segment, for explaining why an update matched no
/// row. `None` when there is no such row.
fn state_of(tx: &Connection, id: i64) -> Result<Option<(SegmentState, i64)>> {
    tx.prepare_cached("SELECT state, start_ms FROM segments WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .context(|| format!("reading the state of segment {id}"))
}

/// Explains why an update of a `recording` segment to end at `end_ms`
/// matched nothing.
fn not_updatable(tx: &Connection, id: i64, end_ms: i64, action: &str) -> Result<StoreError> {
    Ok(match state_of(tx, id)? {
        None => StoreError::NotFound(format!("segment {id}")),
        Some((state, _)) if state != SegmentState::Recording => StoreError::Conflict(format!(
            "segment {id} is {state}, not recording; cannot {action} it"
        )),
        Some((_, start_ms)) => StoreError::InvalidArgument(format!(
            "segment {id} would end ({end_ms}) before it starts ({start_ms})"
        )),
    })
}

impl Store {
    /// Runs a query returning segments.
    fn query_segments(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        what: impl Fn() -> String,
    ) -> Result<Vec<Segment>> {
        let mut stmt = self.conn.prepare_cached(sql).context(&what)?;
        let rows = stmt.query_map(params, segment_from_row).context(&what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context(&what)
    }

    /// All segments in `state`, ordered by start time.
    pub fn segments_in_state(&self, state: SegmentState) -> Result<Vec<Segment>> {
        self.query_segments(
            &format!("SELECT {COLUMNS} FROM segments WHERE state = ?1 ORDER BY start_ms, id"),
            [state],
            || format!("listing {state} segments"),
        )
    }

    /// `(id, path, state)` of every segment whose file should exist
    /// (`recording`, `sealed` or `deleting`), by id; recovery compares them
    /// with the files on disk.
    pub fn all_live_segment_paths(&self) -> Result<Vec<(i64, String, SegmentState)>> {
        let what = || "listing live segment paths".to_owned();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, path, state FROM segments \
                 WHERE state IN ('recording', 'sealed', 'deleting') ORDER BY id",
            )
            .context(what)?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .context(what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context(what)
    }

    /// One segment by id, or `None`.
    pub fn segment(&self, id: i64) -> Result<Option<Segment>> {
        self.conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM segments WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row([id], segment_from_row).optional())
            .context(|| format!("reading segment {id}"))
    }

    /// The `recording` and `sealed` segments of `camera` overlapping the span
    /// `start_ms..end_ms` (`segment.start_ms < end_ms` and
    /// `segment.end_ms > start_ms`, so spans that only touch are excluded),
    /// ordered by start time.
    pub fn segments_overlapping(
        &self,
        camera: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Segment>> {
        validate::range(start_ms, end_ms)?;
        self.query_segments(
            &format!(
                "SELECT {COLUMNS} FROM segments \
                 WHERE camera = ?1 AND start_ms < ?3 AND end_ms > ?2 \
                   AND state IN ('recording', 'sealed') \
                 ORDER BY start_ms, id"
            ),
            params![camera, start_ms, end_ms],
            || format!("finding segments of camera {camera:?} in {start_ms}..{end_ms}"),
        )
    }

    /// The `sealed` segment of `camera` that ends last at or before `at_ms`,
    /// if any: a span export needs it when the span's first key frame
    /// opens an open GOP whose leading pictures reference the GOP before.
    pub fn segment_ending_at_or_before(&self, camera: &str, at_ms: i64) -> Result<Option<Segment>> {
        let mut found = self.query_segments(
            &format!(
                "SELECT {COLUMNS} FROM segments \
                 WHERE camera = ?1 AND end_ms <= ?2 AND state = 'sealed' \
                 ORDER BY end_ms DESC, id DESC LIMIT 1"
            ),
            params![camera, at_ms],
            || format!("finding the segment of camera {camera:?} before {at_ms}"),
        )?;
        Ok(found.pop())
    }

    /// Segments of `camera` overlapping `start_ms..end_ms` whose bytes were
    /// deleted (their rows stay, with the reason), by start time.
    pub fn deleted_segments_overlapping(
        &self,
        camera: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Segment>> {
        validate::range(start_ms, end_ms)?;
        self.query_segments(
            &format!(
                "SELECT {COLUMNS} FROM segments \
                 WHERE camera = ?1 AND start_ms < ?3 AND end_ms > ?2 AND state = 'deleted' \
                 ORDER BY start_ms, id"
            ),
            params![camera, start_ms, end_ms],
            || format!("finding deleted segments of camera {camera:?} in {start_ms}..{end_ms}"),
        )
    }

    /// Sealed, unheld segments of `camera` that ended before
    /// `older_than_ms`, oldest first: what age-based retention may delete.
    pub fn retention_candidates_by_age(
        &self,
        camera: &str,
        older_than_ms: i64,
    ) -> Result<Vec<Segment>> {
        self.query_segments(
            &format!(
                "SELECT {COLUMNS} FROM segments \
                 WHERE camera = ?1 AND state = 'sealed' AND hold = 0 AND end_ms < ?2 \
                 ORDER BY start_ms, id"
            ),
            params![camera, older_than_ms],
            || format!("finding segments of camera {camera:?} older than {older_than_ms}"),
        )
    }

    /// Total bytes of `camera`'s `recording` and `sealed` segments, for
    /// quota-based retention.
    pub fn camera_live_bytes(&self, camera: &str) -> Result<u64> {
        Ok(self.camera_summary(camera)?.bytes)
    }

    /// Bytes of `camera`'s live segments that started at or after
    /// `since_ms`: its recent write rate, for the retention horizon.
    pub fn camera_bytes_since(&self, camera: &str, since_ms: i64) -> Result<u64> {
        self.conn
            .prepare_cached(
                "SELECT COALESCE(SUM(bytes), 0) FROM segments \
                 WHERE camera = ?1 AND start_ms >= ?2 AND state IN ('recording', 'sealed')",
            )
            .and_then(|mut stmt| stmt.query_row(params![camera, since_ms], |row| row.get(0)))
            .context(|| format!("adding up camera {camera:?}'s bytes since {since_ms}"))
    }

    /// Up to `limit` sealed, unheld segments of `camera`, oldest first: what
    /// quota-based retention deletes first.
    pub fn oldest_sealed_unheld(&self, camera: &str, limit: usize) -> Result<Vec<Segment>> {
        self.query_segments(
            &format!(
                "SELECT {COLUMNS} FROM segments \
                 WHERE camera = ?1 AND state = 'sealed' AND hold = 0 \
                 ORDER BY start_ms, id LIMIT ?2"
            ),
            params![camera, limit],
            || format!("finding the oldest segments of camera {camera:?}"),
        )
    }

    /// The oldest sealed, unheld segments of every camera, oldest first: what
    /// goes when the disk is full.
    pub fn oldest_sealed_unheld_any(&self, limit: usize) -> Result<Vec<Segment>> {
        self.query_segments(
            &format!(
                "SELECT {COLUMNS} FROM segments WHERE state = 'sealed' AND hold = 0 \
                 ORDER BY start_ms, id LIMIT ?1"
            ),
            params![limit],
            || "finding the oldest segments of every camera".to_owned(),
        )
    }

    /// Count, total bytes and time span of `camera`'s live (`recording` and
    /// `sealed`) segments.
    pub fn camera_summary(&self, camera: &str) -> Result<CameraSummary> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(bytes), 0), MIN(start_ms), MAX(end_ms) \
                 FROM segments WHERE camera = ?1 AND state IN ('recording', 'sealed')",
            )
            .and_then(|mut stmt| {
                stmt.query_row([camera], |row| {
                    Ok(CameraSummary {
                        segments: row.get(0)?,
                        bytes: row.get(1)?,
                        first_start_ms: row.get(2)?,
                        last_end_ms: row.get(3)?,
                    })
                })
            })
            .context(|| format!("summarising camera {camera:?}"))
    }
}

impl WriteTx<'_> {
    /// Adds a row for a segment the recorder has started writing: state
    /// `recording`, no bytes or frames, `end_ms = start_ms`. Returns its id.
    ///
    /// [`AlreadyExists`](crate::ErrorKind::AlreadyExists) if the path is
    /// already recorded.
    pub fn insert_recording_segment(&mut self, new: &NewSegment) -> Result<i64> {
        validate::name("camera name", &new.camera)?;
        validate::relative_path(&new.path)?;
        validate::non_empty("codec", &new.codec)?;
        let sql = "INSERT INTO segments \
                   (camera, path, start_ms, end_ms, bytes, frames, state, codec, width, height) \
                   VALUES (?1, ?2, ?3, ?3, 0, 0, 'recording', ?4, ?5, ?6)";
        let res = self.write_in_tx(|tx| {
            tx.prepare_cached(sql).and_then(|mut stmt| {
                stmt.insert(params![
                    new.camera,
                    new.path,
                    new.start_ms,
                    new.codec,
                    new.width,
                    new.height
                ])
            })
        });
        match res {
            Ok(id) => Ok(id),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(format!(
                "segment path {:?}",
                new.path
            ))),
            Err(e) => Err(e).context(|| format!("inserting segment {:?}", new.path)),
        }
    }

    /// Removes the row of a `recording` segment that never held a frame:
    /// the recorder removed its file when the first write to it failed.
    /// Rows with frames, or in any other state, are never removed.
    pub fn discard_empty_recording_segment(&mut self, id: i64) -> Result<()> {
        let removed = self
            .write_in_tx(|tx| {
                tx.execute(
                    "DELETE FROM segments WHERE id = ?1 AND state = 'recording' AND frames = 0",
                    [id],
                )
            })
            .context(|| format!("discarding empty segment {id}"))?;
        if removed == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(format!(
                "segment {id} is not an empty recording segment; it was kept"
            )))
        }
    }

    /// Records the progress of many recording segments in one transaction
    /// (the group commit, about once a second for all cameras).
    ///
    /// All or nothing: if any id is unknown
    /// ([`NotFound`](crate::ErrorKind::NotFound)), not `recording`
    /// ([`Conflict`](crate::ErrorKind::Conflict)) or would end before it
    /// starts ([`InvalidArgument`](crate::ErrorKind::InvalidArgument)),
    /// nothing is written.
    pub fn apply_progress(&mut self, progress: &[SegmentProgress]) -> Result<()> {
        if progress.is_empty() {
            return Ok(());
        }
        let tx = self.savepoint("segment progress")?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE segments SET end_ms = ?2, bytes = ?3, frames = ?4 \
                     WHERE id = ?1 AND state = 'recording' AND start_ms <= ?2",
                )
                .context(|| "preparing the progress update".to_owned())?;
            for p in progress {
                let changed = stmt
                    .execute(params![p.id, p.end_ms, p.bytes, p.frames])
                    .context(|| format!("updating progress of segment {}", p.id))?;
                if changed == 0 {
                    return Err(not_updatable(&tx, p.id, p.end_ms, "update progress of")?);
                }
            }
        }
        tx.commit()
            .context(|| format!("committing progress of {} segments", progress.len()))
    }

    /// Seals many recording segments in one transaction: final figures,
    /// SHA-256, `sealed_ms`, the recovered flag, state `sealed`.
    ///
    /// All or nothing, with the same errors as [`Store::apply_progress`];
    /// sealing a row that is not `recording` is a
    /// [`Conflict`](crate::ErrorKind::Conflict).
    pub fn seal_segments(&mut self, sealed: &[SealedSegment]) -> Result<()> {
        for s in sealed {
            validate::sha256_hex(&format!("sha256 of segment {}", s.id), &s.sha256)?;
        }
        if sealed.is_empty() {
            return Ok(());
        }
        let tx = self.savepoint("sealing segments")?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE segments SET end_ms = ?2, bytes = ?3, frames = ?4, sha256 = ?5, \
                     state = 'sealed', sealed_ms = ?6, recovered = ?7 \
                     WHERE id = ?1 AND state = 'recording' AND start_ms <= ?2",
                )
                .context(|| "preparing the seal update".to_owned())?;
            for s in sealed {
                let changed = stmt
                    .execute(params![
                        s.id,
                        s.end_ms,
                        s.bytes,
                        s.frames,
                        s.sha256,
                        s.sealed_ms,
                        s.recovered
                    ])
                    .context(|| format!("sealing segment {}", s.id))?;
                if changed == 0 {
                    return Err(not_updatable(&tx, s.id, s.end_ms, "seal")?);
                }
            }
        }
        tx.commit()
            .context(|| format!("committing the seal of {} segments", sealed.len()))?;
        tracing::debug!(count = sealed.len(), "sealed segments");
        Ok(())
    }

    /// Adopts a complete file that crash recovery found without a row: state
    /// `sealed`, `recovered = 1`. Returns its id.
    ///
    /// [`AlreadyExists`](crate::ErrorKind::AlreadyExists) if the path is
    /// already recorded.
    pub fn insert_sealed_segment(&mut self, seg: &RecoveredSegment) -> Result<i64> {
        let ids = self.insert_sealed_segments(std::slice::from_ref(seg))?;
        tracing::info!(id = ids[0], path = %seg.path, "adopted recovered segment");
        Ok(ids[0])
    }

    /// Adopts many complete files in one transaction (all or nothing), as
    /// [`Store::insert_sealed_segment`] does one. Returns their ids in order.
    pub fn insert_sealed_segments(&mut self, segs: &[RecoveredSegment]) -> Result<Vec<i64>> {
        for seg in segs {
            validate::name("camera name", &seg.camera)?;
            validate::relative_path(&seg.path)?;
            validate::non_empty("codec", &seg.codec)?;
            validate::range(seg.start_ms, seg.end_ms)?;
            validate::sha256_hex(&format!("sha256 of {:?}", seg.path), &seg.sha256)?;
        }
        let sql = "INSERT INTO segments \
                   (camera, path, start_ms, end_ms, bytes, frames, sha256, state, codec, \
                    width, height, recovered, sealed_ms) \
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'sealed', ?8, ?9, ?10, 1, ?11)";
        // The path of the row being inserted, to name it if it is refused.
        let mut current = "";
        let res = self.write_in_tx(|tx| {
            let mut stmt = tx.prepare_cached(sql)?;
            let mut ids = Vec::with_capacity(segs.len());
            for seg in segs {
                current = &seg.path;
                ids.push(stmt.insert(params![
                    seg.camera,
                    seg.path,
                    seg.start_ms,
                    seg.end_ms,
                    seg.bytes,
                    seg.frames,
                    seg.sha256,
                    seg.codec,
                    seg.width,
                    seg.height,
                    seg.sealed_ms
                ])?);
            }
            Ok(ids)
        });
        match res {
            Ok(ids) => Ok(ids),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists(format!(
                "segment path {current:?}"
            ))),
            Err(e) => Err(e).context(|| format!("inserting recovered segment {current:?}")),
        }
    }

    /// Marks a `recording` or `sealed` segment whose file is gone as
    /// `missing`. Marking a `missing` segment again does nothing.
    ///
    /// [`Conflict`](crate::ErrorKind::Conflict) for `deleting` (finish the
    /// deletion instead) and `deleted` rows.
    pub fn mark_missing(&mut self, id: i64) -> Result<()> {
        let tx = self.savepoint("marking a segment missing")?;
        match state_of(&tx, id)? {
            None => return Err(StoreError::NotFound(format!("segment {id}"))),
            Some((SegmentState::Missing, _)) => return Ok(()),
            Some((state @ (SegmentState::Deleting | SegmentState::Deleted), _)) => {
                return Err(StoreError::Conflict(format!(
                    "segment {id} is {state}; cannot mark it missing"
                )))
            }
            Some((SegmentState::Recording | SegmentState::Sealed, _)) => {}
        }
        tx.execute("UPDATE segments SET state = 'missing' WHERE id = ?1", [id])
            .context(|| format!("marking segment {id} missing"))?;
        tx.commit()
            .context(|| format!("committing segment {id} as missing"))?;
        tracing::warn!(id, "segment marked missing");
        Ok(())
    }

    /// Starts deleting segments: in one transaction, marks those of `ids`
    /// that are `sealed` and not held as `deleting` with `reason`, recording
    /// `now_ms` as the time deletion began. Returns the rows actually marked
    /// (others, e.g. held meanwhile, are skipped); only their files may be
    /// unlinked, after which call [`Store::finish_delete`].
    pub fn begin_delete(&mut self, ids: &[i64], reason: &str, now_ms: i64) -> Result<Vec<Segment>> {
        validate::non_empty("delete reason", reason)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.savepoint("beginning deletion")?;
        let mut marked = Vec::with_capacity(ids.len());
        {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "UPDATE segments SET state = 'deleting', delete_reason = ?2, deleted_ms = ?3 \
                     WHERE id = ?1 AND state = 'sealed' AND hold = 0 \
                     RETURNING {COLUMNS}"
                ))
                .context(|| "preparing the delete mark".to_owned())?;
            for &id in ids {
                let row = stmt
                    .query_row(params![id, reason, now_ms], segment_from_row)
                    .optional()
                    .context(|| format!("marking segment {id} for deletion"))?;
                marked.extend(row);
            }
        }
        tx.commit()
            .context(|| format!("committing deletion marks for {} segments", marked.len()))?;
        tracing::debug!(
            requested = ids.len(),
            marked = marked.len(),
            reason,
            "began deletion"
        );
        Ok(marked)
    }

    /// Finishes deleting segments whose files are gone: in one transaction,
    /// marks `deleting` rows `deleted` with `deleted_ms = now_ms`. Rows
    /// already `deleted` are left alone.
    ///
    /// All or nothing: [`NotFound`](crate::ErrorKind::NotFound) for an
    /// unknown id, [`Conflict`](crate::ErrorKind::Conflict) for a row in any
    /// other state.
    pub fn finish_delete(&mut self, ids: &[i64], now_ms: i64) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let tx = self.savepoint("finishing deletion")?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE segments SET state = 'deleted', deleted_ms = ?2 \
                     WHERE id = ?1 AND state = 'deleting'",
                )
                .context(|| "preparing the deleted mark".to_owned())?;
            for &id in ids {
                let changed = stmt
                    .execute(params![id, now_ms])
                    .context(|| format!("marking segment {id} deleted"))?;
                if changed == 0 {
                    match state_of(&tx, id)? {
                        None => return Err(StoreError::NotFound(format!("segment {id}"))),
                        Some((SegmentState::Deleted, _)) => {}
                        Some((state, _)) => {
                            return Err(StoreError::Conflict(format!(
                                "segment {id} is {state}, not deleting; cannot finish deleting it"
                            )))
                        }
                    }
                }
            }
        }
        tx.commit()
            .context(|| format!("committing deletion of {} segments", ids.len()))
    }

    /// Sets or clears the evidence hold of a segment and returns the updated
    /// row.
    ///
    /// Placing a hold on a `deleting` or `deleted` segment is a
    /// [`Conflict`](crate::ErrorKind::Conflict): it is too late. Races with
    /// [`Store::begin_delete`] are safe: whichever commits first wins.
    pub fn set_hold(&mut self, id: i64, hold: bool) -> Result<Segment> {
        // No row changed is an error, so that the caller's transaction does
        // not commit a log entry for a hold that was not placed.
        let res = self.write_in_tx(|tx| {
            tx.prepare_cached(&format!(
                "UPDATE segments SET hold = ?2 \
                 WHERE id = ?1 AND (?2 = 0 OR state NOT IN ('deleting', 'deleted')) \
                 RETURNING {COLUMNS}"
            ))
            .and_then(|mut stmt| stmt.query_row(params![id, hold], segment_from_row))
        });
        let row = match res {
            Ok(seg) => Some(seg),
            Err(rusqlite::Error::QueryReturnedNoRows) => None,
            Err(e) => return Err(e).context(|| format!("setting the hold of segment {id}")),
        };
        match row {
            Some(seg) => {
                tracing::info!(id, hold, "segment hold changed");
                Ok(seg)
            }
            None => match state_of(self.conn(), id)? {
                None => Err(StoreError::NotFound(format!("segment {id}"))),
                Some((state, _)) => Err(StoreError::Conflict(format!(
                    "segment {id} is {state}; cannot place a hold on it"
                ))),
            },
        }
    }
}
