//! Footage escrow: which sealed segments are copied to the escrow bucket,
//! in what order, and how far the copying got (`segment_escrow`).
//!
//! A segment is wanted when footage that matters lies in it: the window of
//! a custody event on a camera that covers its location, or of an alert
//! about the camera (tampering, offline, activity after hours). Those go
//! first, oldest first; then every sealed segment of the cameras whose
//! footage is escrowed whole, oldest first.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::error::{Context, Result};
use crate::segments::Segment;
use crate::{Store, WriteTx};

/// Why a segment is escrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EscrowReason {
    /// It holds the footage window of a custody event.
    Custody,
    /// It holds footage around an alert about its camera.
    Alert,
    /// Its camera's footage is escrowed whole.
    All,
}

impl EscrowReason {
    /// The name in the log and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            EscrowReason::Custody => "custody",
            EscrowReason::Alert => "alert",
            EscrowReason::All => "all",
        }
    }
}

/// The alert kinds whose footage is escrowed first.
pub const ESCROWED_ALERT_KINDS: &[&str] = &[
    "tamper.covered",
    "tamper.defocused",
    "tamper.moved",
    "tamper.frozen",
    "camera.offline",
    "motion.after_hours",
    "custody.after_hours",
];

/// A segment's copy in the escrow bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentEscrow {
    /// The segment.
    pub segment_id: i64,
    /// Its full name in the bucket.
    pub object: String,
    /// What the store answered for it.
    pub etag: Option<String>,
    /// `verified`: read back from the bucket and its SHA-256 matched.
    pub state: String,
    /// When.
    pub at_ms: i64,
}

/// How far footage escrow is, for the API and reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EscrowBacklog {
    /// Wanted segments not yet in the bucket.
    pub pending_segments: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// Start of the oldest of them (Unix ms).
    pub oldest_pending_ms: Option<i64>,
    /// Segments in the bucket, verified.
    pub verified_segments: u64,
}

/// The alert kinds of [`ESCROWED_ALERT_KINDS`] as an SQL list.
fn alert_kinds() -> String {
    ESCROWED_ALERT_KINDS
        .iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `wanted(id, custody)`: every segment holding a window — of a custody
/// event on a camera covering its location, or of an escrowed alert about
/// its camera — `?1` before the moment to `?2` after it; `custody` is 1
/// when a custody event wants it. Driven by the events, each looking up
/// its camera's segments by time (`segments_camera_start`) no further back
/// than the longest segment spans (`?4`), so its cost follows the number
/// of events, not of segments. `CROSS JOIN` keeps SQLite to that order: on
/// its own it scanned every segment against the windows, 40 s a call for a
/// month of 16 cameras.
fn wanted_cte() -> String {
    format!(
        "windows(camera, from_ms, to_ms, custody) AS ( \
           SELECT json_extract(j.value, '$.camera'), c.at_ms - ?1, c.at_ms + ?2, 1 \
             FROM custody_events c, json_each(c.cameras) j \
           UNION ALL \
           SELECT a.camera, a.raised_ms - ?1, a.raised_ms + ?2, 0 FROM alerts a \
             WHERE a.camera IS NOT NULL AND a.kind IN ({kinds})), \
         wanted(id, custody) AS ( \
           SELECT s.id, MAX(w.custody) FROM windows w CROSS JOIN segments s \
             ON s.camera = w.camera AND s.start_ms >= w.from_ms - ?4 \
             AND s.start_ms <= w.to_ms AND s.end_ms >= w.from_ms \
           GROUP BY s.id)",
        kinds = alert_kinds()
    )
}

const NOT_ESCROWED: &str = "s.state = 'sealed' AND s.sha256 IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM segment_escrow e WHERE e.segment_id = s.id)";

impl Store {
    /// How long the longest segment is (ms), which bounds how far back a
    /// window's segments can start.
    fn longest_segment_ms(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(end_ms - start_ms), 0) FROM segments",
                [],
                |r| r.get(0),
            )
            .context(|| "measuring the longest segment".to_owned())
    }

    /// Up to `limit` segments to escrow next, each with why: those holding
    /// custody or alert windows (`before_ms` before the moment to
    /// `after_ms` after it), oldest first, then those of `all_cameras`,
    /// oldest first.
    pub fn escrow_next(
        &self,
        before_ms: i64,
        after_ms: i64,
        all_cameras: &[String],
        limit: usize,
    ) -> Result<Vec<(Segment, EscrowReason)>> {
        let what = || "choosing segments to escrow".to_owned();
        let columns = crate::segments::prefixed_columns("s");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "WITH {} SELECT {columns}, w.custody FROM wanted w JOIN segments s ON s.id = w.id \
             WHERE {NOT_ESCROWED} ORDER BY s.start_ms, s.id LIMIT ?3",
            wanted_cte()
        );
        let mut stmt = self.conn.prepare_cached(&sql).context(what)?;
        let mut out = stmt
            .query_map(
                params![before_ms, after_ms, limit, self.longest_segment_ms()?],
                |row| {
                    let segment = crate::segments::segment_from_row(row)?;
                    let custody: bool = row.get(crate::segments::COLUMN_COUNT)?;
                    let reason = if custody {
                        EscrowReason::Custody
                    } else {
                        EscrowReason::Alert
                    };
                    Ok((segment, reason))
                },
            )
            .context(what)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context(what)?;
        if out.len() as i64 >= limit || all_cameras.is_empty() {
            return Ok(out);
        }
        let cameras = serde_json::to_string(all_cameras).unwrap_or_else(|_| "[]".into());
        let sql = format!(
            "SELECT {columns} FROM segments s WHERE {NOT_ESCROWED} \
             AND s.camera IN (SELECT value FROM json_each(?1)) \
             ORDER BY s.start_ms, s.id LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql).context(what)?;
        let rest = stmt
            .query_map(
                params![cameras, limit - out.len() as i64],
                crate::segments::segment_from_row,
            )
            .context(what)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context(what)?;
        for segment in rest {
            if !out.iter().any(|(s, _)| s.id == segment.id) {
                out.push((segment, EscrowReason::All));
            }
        }
        Ok(out)
    }

    /// What footage escrow still has to do, as [`Store::escrow_next`] would
    /// choose it.
    pub fn escrow_backlog(
        &self,
        before_ms: i64,
        after_ms: i64,
        all_cameras: &[String],
    ) -> Result<EscrowBacklog> {
        let what = || "measuring the escrow backlog".to_owned();
        let cameras = serde_json::to_string(all_cameras).unwrap_or_else(|_| "[]".into());
        let sql = format!(
            "WITH {}, pending(id) AS ( \
               SELECT id FROM wanted \
               UNION SELECT s.id FROM segments s WHERE s.camera IN (SELECT value FROM json_each(?3))) \
             SELECT COUNT(*), COALESCE(SUM(s.bytes), 0), MIN(s.start_ms) \
             FROM pending p JOIN segments s ON s.id = p.id WHERE {NOT_ESCROWED}",
            wanted_cte()
        );
        let (pending, bytes, oldest): (i64, i64, Option<i64>) = self
            .conn
            .query_row(
                &sql,
                params![before_ms, after_ms, cameras, self.longest_segment_ms()?],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .context(what)?;
        let verified: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM segment_escrow WHERE state = 'verified'",
                [],
                |r| r.get(0),
            )
            .context(what)?;
        Ok(EscrowBacklog {
            pending_segments: pending.max(0) as u64,
            pending_bytes: bytes.max(0) as u64,
            oldest_pending_ms: oldest,
            verified_segments: verified.max(0) as u64,
        })
    }

    /// Those of `ids` that escrow still wants (as [`Store::escrow_next`]
    /// would choose them) and has not copied: retention keeps them when
    /// escrow is required, and says they went unescrowed otherwise.
    pub fn escrow_pending_among(
        &self,
        ids: &[i64],
        before_ms: i64,
        after_ms: i64,
        all_cameras: &[String],
    ) -> Result<Vec<i64>> {
        let what = || "finding segments escrow still wants".to_owned();
        let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
        let cameras = serde_json::to_string(all_cameras).unwrap_or_else(|_| "[]".into());
        // A few given segments: each looks up the events near it by time
        // (`custody_events_time`, `alerts_camera_raised`).
        let sql = format!(
            "SELECT s.id FROM segments s WHERE s.id IN (SELECT value FROM json_each(?4)) \
             AND {NOT_ESCROWED} AND ( \
               s.camera IN (SELECT value FROM json_each(?3)) \
               OR EXISTS (SELECT 1 FROM custody_events c, json_each(c.cameras) j \
                 WHERE c.at_ms BETWEEN s.start_ms - ?2 AND s.end_ms + ?1 \
                 AND json_extract(j.value, '$.camera') = s.camera) \
               OR EXISTS (SELECT 1 FROM alerts a WHERE a.camera = s.camera \
                 AND a.raised_ms BETWEEN s.start_ms - ?2 AND s.end_ms + ?1 \
                 AND a.kind IN ({})) ) \
             ORDER BY s.id",
            alert_kinds()
        );
        let mut stmt = self.conn.prepare_cached(&sql).context(what)?;
        let rows = stmt
            .query_map(params![before_ms, after_ms, cameras, ids], |r| r.get(0))
            .context(what)?;
        rows.collect::<rusqlite::Result<Vec<i64>>>().context(what)
    }

    /// The escrowed copy of segment `id`, if there is one.
    pub fn segment_escrow(&self, id: i64) -> Result<Option<SegmentEscrow>> {
        self.conn
            .query_row(
                "SELECT segment_id, object, etag, state, at_ms FROM segment_escrow \
                 WHERE segment_id = ?1",
                [id],
                |r| {
                    Ok(SegmentEscrow {
                        segment_id: r.get(0)?,
                        object: r.get(1)?,
                        etag: r.get(2)?,
                        state: r.get(3)?,
                        at_ms: r.get(4)?,
                    })
                },
            )
            .optional()
            .context(|| format!("reading the escrow of segment {id}"))
    }
}

/// A segment's upload in parts, under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscrowUpload {
    /// The object's name under the site's prefix.
    pub object: String,
    /// The store's id of the upload.
    pub upload_id: String,
    /// Bytes per part.
    pub part_size: u64,
    /// The stored parts' ETags, in order.
    pub parts: Vec<String>,
}

impl Store {
    /// The upload in parts of segment `segment_id` under way, if any.
    pub fn escrow_upload(&self, segment_id: i64) -> Result<Option<EscrowUpload>> {
        let what = || format!("reading the upload of segment {segment_id}");
        let row: Option<(String, String, i64, String)> = self
            .conn
            .query_row(
                "SELECT object, upload_id, part_size, parts FROM escrow_uploads \
                 WHERE segment_id = ?1",
                [segment_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .context(what)?;
        Ok(
            row.map(|(object, upload_id, part_size, parts)| EscrowUpload {
                object,
                upload_id,
                part_size: part_size.max(0) as u64,
                // A row this code wrote; unreadable, the upload starts over.
                parts: serde_json::from_str(&parts).unwrap_or_default(),
            }),
        )
    }
}

impl WriteTx<'_> {
    /// Remembers that segment `segment_id` is being uploaded in parts as
    /// `upload_id`, with no part stored yet.
    pub fn begin_escrow_upload(
        &mut self,
        segment_id: i64,
        object: &str,
        upload_id: &str,
        part_size: u64,
        now_ms: i64,
    ) -> Result<()> {
        self.write_in_tx(|c| {
            c.execute(
                "INSERT OR REPLACE INTO escrow_uploads \
                 (segment_id, object, upload_id, part_size, parts, started_ms) \
                 VALUES (?1, ?2, ?3, ?4, '[]', ?5)",
                params![segment_id, object, upload_id, part_size as i64, now_ms],
            )
        })
        .context(|| format!("recording the upload of segment {segment_id}"))?;
        Ok(())
    }

    /// Records the next part of segment `segment_id`'s upload as stored.
    pub fn escrow_part_stored(&mut self, segment_id: i64, etag: &str) -> Result<()> {
        self.write_in_tx(|c| {
            c.execute(
                "UPDATE escrow_uploads SET parts = json_insert(parts, '$[#]', ?2) \
                 WHERE segment_id = ?1",
                params![segment_id, etag],
            )
        })
        .context(|| format!("recording a part of segment {segment_id}"))?;
        Ok(())
    }

    /// Forgets segment `segment_id`'s upload in parts (finished or given up).
    pub fn end_escrow_upload(&mut self, segment_id: i64) -> Result<()> {
        self.write_in_tx(|c| {
            c.execute(
                "DELETE FROM escrow_uploads WHERE segment_id = ?1",
                [segment_id],
            )
        })
        .context(|| format!("forgetting the upload of segment {segment_id}"))?;
        Ok(())
    }

    /// Records that segment `segment_id` is in the bucket as `object`,
    /// read back and verified.
    pub fn record_segment_escrowed(
        &mut self,
        segment_id: i64,
        object: &str,
        etag: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        self.write_in_tx(|c| {
            c.execute(
                "INSERT INTO segment_escrow (segment_id, object, etag, state, at_ms) \
                 VALUES (?1, ?2, ?3, 'verified', ?4) \
                 ON CONFLICT (segment_id) DO UPDATE SET object = excluded.object, \
                   etag = excluded.etag, state = excluded.state, at_ms = excluded.at_ms",
                params![segment_id, object, etag, now_ms],
            )
        })
        .context(|| format!("recording the escrow of segment {segment_id}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use custos_custody::model::{Coverage, Item, ItemStatus, Location, LocationKind};

    use super::*;
    use crate::segments::{prefixed_columns, RecoveredSegment, COLUMNS, COLUMN_COUNT};
    use crate::{NewAlert, NewCustodyEvent, StoreError};

    const MINUTE: i64 = 60_000;

    fn segment(camera: &str, minute: i64) -> RecoveredSegment {
        RecoveredSegment {
            camera: camera.into(),
            path: format!("video/{camera}/{minute}.mp4"),
            start_ms: minute * MINUTE,
            end_ms: (minute + 1) * MINUTE,
            bytes: 1000 + minute as u64,
            frames: 900,
            sha256: format!("{minute:064x}"),
            codec: "avc1.640028".into(),
            width: None,
            height: None,
            sealed_ms: (minute + 1) * MINUTE,
        }
    }

    #[test]
    fn the_column_list_and_its_count_agree() {
        assert_eq!(COLUMNS.split(',').count(), COLUMN_COUNT);
        assert!(prefixed_columns("s").starts_with("s.id, s.camera, "));
    }

    #[test]
    fn custody_and_alert_windows_go_first_then_whole_cameras_oldest_first() {
        let s = Store::open_in_memory().expect("store");
        let mut segs: Vec<RecoveredSegment> = (0..10).map(|m| segment("stacks", m)).collect();
        segs.extend((0..10).map(|m| segment("door", m)));
        segs.extend((0..3).map(|m| segment("hall", m)));
        let ids = s.insert_sealed_segments(&segs).expect("segments");
        let id = |camera: &str, minute: i64| {
            let i = segs
                .iter()
                .position(|x| x.camera == camera && x.start_ms == minute * MINUTE)
                .expect("segment");
            ids[i]
        };
        let details = serde_json::json!({});
        s.write("register", |tx| -> std::result::Result<(), StoreError> {
            tx.insert_location(
                &Location {
                    code: "R1".into(),
                    name: "Reading room".into(),
                    kind: LocationKind::Room,
                    room: None,
                    coverage: vec![],
                    retired: false,
                },
                1,
            )?;
            tx.insert_item(
                &Item {
                    barcode: "B1".into(),
                    title: "Deeds".into(),
                    reference: String::new(),
                    classification: String::new(),
                    home_location: "R1".into(),
                    location: "R1".into(),
                    status: ItemStatus::InPlace,
                    holder: None,
                    due_ms: None,
                    disposed_reason: None,
                },
                1,
            )?;
            // A check-out at 7:10 seen by "stacks": its window, 6:40 to
            // 7:40, lies in minutes 6 and 7.
            tx.insert_custody_event(&NewCustodyEvent {
                barcode: "B1",
                action: "check_out",
                at_ms: 7 * MINUTE + 10_000,
                recorded_by: "ana",
                person: None,
                holder: None,
                location: Some("R1"),
                details: &details,
                cameras: &[Coverage {
                    camera: "stacks".into(),
                    zone: None,
                }],
            })?;
            // "door" covered at 4:59.5: the window reaches into minute 5.
            tx.raise_alert(
                &NewAlert {
                    kind: "tamper.covered",
                    subject_key: "event:1",
                    summary: "covered",
                    camera: Some("door"),
                    barcode: None,
                    details: &details,
                },
                5 * MINUTE - 500,
            )?;
            // Not an alert whose footage is escrowed.
            tx.raise_alert(
                &NewAlert {
                    kind: "item.overdue",
                    subject_key: "item:B1",
                    summary: "overdue",
                    camera: Some("door"),
                    barcode: Some("B1"),
                    details: &details,
                },
                9 * MINUTE,
            )?;
            Ok(())
        })
        .expect("write");

        let chosen = |s: &Store, all: &[String], limit| {
            s.escrow_next(30_000, 30_000, all, limit)
                .expect("next")
                .into_iter()
                .map(|(seg, why)| (seg.id, why))
                .collect::<Vec<_>>()
        };
        // Windows first, oldest first: door's minutes 4 and 5, stacks' 6
        // and 7.
        assert_eq!(
            chosen(&s, &[], 10),
            vec![
                (id("door", 4), EscrowReason::Alert),
                (id("door", 5), EscrowReason::Alert),
                (id("stacks", 6), EscrowReason::Custody),
                (id("stacks", 7), EscrowReason::Custody),
            ]
        );
        // Then every segment of the cameras escrowed whole, oldest first.
        let all = vec!["hall".to_owned()];
        let next = chosen(&s, &all, 6);
        assert_eq!(next.len(), 6);
        assert_eq!(next[4], (id("hall", 0), EscrowReason::All));
        assert_eq!(next[5], (id("hall", 1), EscrowReason::All));
        let backlog = s.escrow_backlog(30_000, 30_000, &all).expect("backlog");
        assert_eq!(backlog.pending_segments, 7);
        let among = [id("door", 3), id("door", 4), id("hall", 2), id("stacks", 9)];
        assert_eq!(
            s.escrow_pending_among(&among, 30_000, 30_000, &all)
                .expect("pending"),
            vec![id("door", 4), id("hall", 2)]
        );
        assert_eq!(
            s.escrow_pending_among(&among, 30_000, 30_000, &[])
                .expect("pending"),
            vec![id("door", 4)]
        );
        assert_eq!(backlog.oldest_pending_ms, Some(0));
        assert_eq!(backlog.verified_segments, 0);

        // Escrowed segments are not chosen again.
        s.write("escrowed", |tx| {
            tx.record_segment_escrowed(id("door", 4), "sites/a/video/door/4.mp4", Some("\"e\""), 1)
        })
        .expect("record");
        let next = chosen(&s, &[], 10);
        assert_eq!(next[0], (id("door", 5), EscrowReason::Alert));
        // An upload in parts is remembered part by part, and forgotten.
        s.write("upload", |tx| {
            tx.begin_escrow_upload(id("door", 5), "video/door/5.mp4", "u-1", 8 << 20, 2)?;
            tx.escrow_part_stored(id("door", 5), "\"p1\"")?;
            tx.escrow_part_stored(id("door", 5), "\"p2\"")
        })
        .expect("parts");
        let upload = s.escrow_upload(id("door", 5)).expect("read").expect("row");
        assert_eq!(upload.upload_id, "u-1");
        assert_eq!(upload.part_size, 8 << 20);
        assert_eq!(upload.parts, vec!["\"p1\"".to_owned(), "\"p2\"".to_owned()]);
        s.write("done", |tx| tx.end_escrow_upload(id("door", 5)))
            .expect("end");
        assert_eq!(s.escrow_upload(id("door", 5)).expect("read"), None);
        let copy = s.segment_escrow(id("door", 4)).expect("read").expect("row");
        assert_eq!(copy.state, "verified");
        assert_eq!(copy.etag.as_deref(), Some("\"e\""));
        assert_eq!(
            s.escrow_backlog(30_000, 30_000, &all)
                .expect("b")
                .verified_segments,
            1
        );
    }
}

#[cfg(test)]
mod scale {
    use super::*;
    use crate::segments::RecoveredSegment;

    /// Not a benchmark: shows by hand how the choice scales
    /// (`cargo test -p custos-store --release scale -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn a_month_of_sixteen_cameras() {
        let s = Store::open_in_memory().expect("store");
        let mut segs = Vec::new();
        for cam in 0..16 {
            for m in 0..(30 * 1440 / 4) {
                segs.push(RecoveredSegment {
                    camera: format!("c{cam}"),
                    path: format!("video/c{cam}/{m}.mp4"),
                    start_ms: m * 60_000,
                    end_ms: (m + 1) * 60_000,
                    bytes: 1,
                    frames: 1,
                    sha256: format!("{m:064x}"),
                    codec: "avc1".into(),
                    width: None,
                    height: None,
                    sealed_ms: 0,
                });
            }
        }
        s.insert_sealed_segments(&segs).expect("segments");
        let details = serde_json::json!({});
        s.write(
            "alerts",
            |tx| -> std::result::Result<(), crate::StoreError> {
                for i in 0..2000i64 {
                    tx.raise_alert(
                        &crate::NewAlert {
                            kind: "tamper.covered",
                            subject_key: &format!("event:{i}"),
                            summary: "s",
                            camera: Some(&format!("c{}", i % 16)),
                            barcode: None,
                            details: &details,
                        },
                        i * 300_000,
                    )?;
                }
                Ok(())
            },
        )
        .expect("alerts");
        let plan_sql = format!(
            "EXPLAIN QUERY PLAN WITH {} SELECT w.id FROM wanted w",
            wanted_cte()
        );
        let mut stmt = s.conn.prepare(&plan_sql).expect("plan");
        let rows = stmt
            .query_map(params![30_000, 30_000, 8, 60_000], |r| {
                r.get::<_, String>(3)
            })
            .expect("plan");
        for r in rows {
            println!("plan: {}", r.expect("row"));
        }
        let t = std::time::Instant::now();
        let next = s.escrow_next(30_000, 30_000, &[], 8).expect("next");
        println!(
            "{} segments: escrow_next {:?} ({} chosen)",
            segs.len(),
            t.elapsed(),
            next.len()
        );
        let t = std::time::Instant::now();
        let backlog = s
            .escrow_backlog(30_000, 30_000, &["c1".into()])
            .expect("backlog");
        println!("escrow_backlog {:?} ({backlog:?})", t.elapsed());
        let ids: Vec<i64> = (1..=64).collect();
        let t = std::time::Instant::now();
        let pending = s
            .escrow_pending_among(&ids, 30_000, 30_000, &[])
            .expect("pending");
        println!(
            "escrow_pending_among(64) {:?} ({} pending)",
            t.elapsed(),
            pending.len()
        );
    }
}
