//! The `events` table: motion, tampering and offline periods seen on each
//! camera, with their snapshots.

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use crate::error::{Context, Result, StoreError};
use crate::WriteTx;
use crate::{validate, Store};

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Its id.
    pub id: i64,
    /// Camera id.
    pub camera: String,
    /// Kind, e.g. `motion` or `tamper.covered`.
    pub kind: String,
    /// Start, ms since the epoch.
    pub start_ms: i64,
    /// End; `None` while it lasts.
    pub end_ms: Option<i64>,
    /// Zones it touched.
    pub zones: Vec<String>,
    /// Strength of the evidence, 0..1.
    pub score: f64,
    /// Snapshot path relative to the data directory.
    pub snapshot: Option<String>,
    /// SHA-256 of the snapshot file.
    pub snapshot_sha256: Option<String>,
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this camera's.
    pub camera: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only events still going on at or after this time.
    pub start_ms: Option<i64>,
    /// Only events that started before this time.
    pub end_ms: Option<i64>,
    /// At most this many (newest first).
    pub limit: usize,
}

const COLUMNS: &str = "id, camera, kind, start_ms, end_ms, zones, score, snapshot, snapshot_sha256";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let zones: String = row.get(5)?;
    Ok(Event {
        id: row.get(0)?,
        camera: row.get(1)?,
        kind: row.get(2)?,
        start_ms: row.get(3)?,
        end_ms: row.get(4)?,
        // Written only by this module, as a JSON array of strings.
        zones: serde_json::from_str(&zones).unwrap_or_default(),
        score: row.get(6)?,
        snapshot: row.get(7)?,
        snapshot_sha256: row.get(8)?,
    })
}

/// Events selected by `tail` (`WHERE … ORDER BY … LIMIT …`).
pub(crate) fn query_events(
    conn: &rusqlite::Connection,
    tail: &str,
    params: impl rusqlite::Params,
    what: &str,
) -> Result<Vec<Event>> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM events {tail}"))
        .context(|| format!("preparing the query for {what}"))?;
    let rows = stmt
        .query_map(params, event_from_row)
        .context(|| what.to_owned())?;
    rows.collect::<rusqlite::Result<_>>()
        .context(|| what.to_owned())
}

impl Store {
    /// The open events of `camera` (of `kind`, if given).
    pub fn open_events(&self, camera: &str, kind: Option<&str>) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE camera = ?1 AND end_ms IS NULL \
                 AND (?2 IS NULL OR kind = ?2) ORDER BY id"
            ))
            .context(|| "preparing the open events query".to_owned())?;
        let rows = stmt
            .query_map(params![camera, kind], event_from_row)
            .context(|| format!("reading the open events of camera {camera:?}"))?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| format!("reading the open events of camera {camera:?}"))
    }

    /// Events matching `q`, newest first.
    pub fn events(&self, q: &EventQuery) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events \
                 WHERE (?1 IS NULL OR camera = ?1) AND (?2 IS NULL OR kind = ?2) \
                   AND (?3 IS NULL OR end_ms IS NULL OR end_ms >= ?3) \
                   AND (?4 IS NULL OR start_ms < ?4) \
                 ORDER BY start_ms DESC, id DESC LIMIT ?5"
            ))
            .context(|| "preparing the events query".to_owned())?;
        let rows = stmt
            .query_map(
                params![q.camera, q.kind, q.start_ms, q.end_ms, q.limit as i64],
                event_from_row,
            )
            .context(|| "listing events".to_owned())?;
        rows.collect::<rusqlite::Result<_>>()
            .context(|| "listing events".to_owned())
    }

    /// Event `id`, if it exists.
    pub fn event(&self, id: i64) -> Result<Option<Event>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM events WHERE id = ?1"),
                [id],
                event_from_row,
            )
            .optional()
            .context(|| format!("reading event {id}"))
    }
}

impl WriteTx<'_> {
    /// Records the start of an event (staged log entries commit with it).
    pub fn insert_event(
        &mut self,
        camera: &str,
        kind: &str,
        start_ms: i64,
        zones: &[String],
        score: f64,
    ) -> Result<i64> {
        validate::name("camera name", camera)?;
        validate::non_empty("event kind", kind)?;
        let zones = serde_json::to_string(zones)
            .map_err(|e| StoreError::InvalidArgument(format!("event zones: {e}")))?;
        self.write_in_tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO events (camera, kind, start_ms, zones, score) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .insert(params![camera, kind, start_ms, zones, score])
        })
        .context(|| format!("recording a {kind} event on camera {camera:?}"))
    }

    /// Records the end of event `id` with its final zones and score
    /// (staged log entries commit with it). [`NotFound`](crate::ErrorKind::NotFound)
    /// if there is no such open event.
    pub fn end_event(&mut self, id: i64, end_ms: i64, zones: &[String], score: f64) -> Result<()> {
        let zones = serde_json::to_string(zones)
            .map_err(|e| StoreError::InvalidArgument(format!("event zones: {e}")))?;
        let res = self.write_in_tx(|tx| {
            let n = tx.execute(
                "UPDATE events SET end_ms = MAX(start_ms, ?2), zones = ?3, score = MAX(score, ?4) \
                 WHERE id = ?1 AND end_ms IS NULL",
                params![id, end_ms, zones, score],
            )?;
            if n == 0 {
                return Err(rusqlite::Error::QueryReturnedNoRows);
            }
            Ok(())
        });
        match res {
            Err(rusqlite::Error::QueryReturnedNoRows) => {
                Err(StoreError::NotFound(format!("open event {id}")))
            }
            other => other.context(|| format!("ending event {id}")),
        }
    }

    /// Sets the snapshot of event `id`.
    pub fn set_event_snapshot(&mut self, id: i64, path: &str, sha256: &str) -> Result<()> {
        validate::relative_path(path)?;
        validate::sha256_hex("snapshot sha256", sha256)?;
        self.write_in_tx(|tx| {
            tx.execute(
                "UPDATE events SET snapshot = ?2, snapshot_sha256 = ?3 WHERE id = ?1",
                params![id, path, sha256],
            )
        })
        .context(|| format!("setting the snapshot of event {id}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{ErrorKind, EventQuery, Store};

    #[test]
    fn events_start_end_and_are_found_by_camera_kind_and_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Store::open(&dir.path().join("custos.db")).expect("open");
        let zones = vec!["desk".to_owned()];
        let a = s
            .insert_event("cam", "motion", 1000, &zones, 0.3)
            .expect("a");
        let b = s
            .insert_event("cam", "tamper.covered", 5000, &[], 0.9)
            .expect("b");
        let c = s.insert_event("door", "motion", 2000, &[], 0.5).expect("c");
        s.end_event(a, 3000, &zones, 0.6).expect("end a");
        assert_eq!(
            s.end_event(a, 4000, &zones, 0.6).expect_err("ended").kind(),
            ErrorKind::NotFound
        );
        let open: Vec<i64> = s
            .open_events("cam", None)
            .expect("open")
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(open, vec![b]);
        let e = s.event(a).expect("q").expect("a");
        assert_eq!(
            (e.end_ms, e.score, e.zones.clone()),
            (Some(3000), 0.6, zones)
        );
        let ids = |q: EventQuery| -> Vec<i64> {
            s.events(&EventQuery { limit: 100, ..q })
                .expect("q")
                .iter()
                .map(|e| e.id)
                .collect()
        };
        assert_eq!(ids(EventQuery::default()), vec![b, c, a]);
        assert_eq!(
            ids(EventQuery {
                camera: Some("cam".into()),
                ..Default::default()
            }),
            vec![b, a]
        );
        assert_eq!(
            ids(EventQuery {
                kind: Some("motion".into()),
                ..Default::default()
            }),
            vec![c, a]
        );
        // Overlapping [3500, 4500): a ended at 3000; c and b are still open.
        assert_eq!(
            ids(EventQuery {
                start_ms: Some(3500),
                end_ms: Some(4500),
                ..Default::default()
            }),
            vec![c]
        );
        s.set_event_snapshot(b, "snapshots/cam/1.jpg", &"ab".repeat(32))
            .expect("snap");
        assert_eq!(
            s.event(b).expect("q").expect("b").snapshot.as_deref(),
            Some("snapshots/cam/1.jpg")
        );
        assert!(s
            .set_event_snapshot(b, "../x.jpg", &"ab".repeat(32))
            .is_err());
    }
}
