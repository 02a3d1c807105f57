//! The `camera_states` table: a log of camera state changes, which explains
//! gaps in the footage; and `recording_losses`: pictures the recorder
//! dropped, with the reason, which explain the rest.

use std::fmt;
use std::str::FromStr;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Row, ToSql};
use serde::Serialize;

use crate::error::{Context, Result, StoreError};
use crate::WriteTx;
use crate::{validate, Store};

/// What a camera's recorder is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    /// Trying to (re)connect to the camera.
    Connecting,
    /// Receiving and recording video.
    Recording,
    /// Not reachable (or disabled); nothing is being recorded.
    Offline,
}

impl CameraState {
    /// Every state.
    pub const ALL: [CameraState; 3] = [
        CameraState::Connecting,
        CameraState::Recording,
        CameraState::Offline,
    ];

    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Connecting => "connecting",
            CameraState::Recording => "recording",
            CameraState::Offline => "offline",
        }
    }
}

impl fmt::Display for CameraState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CameraState {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        CameraState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| {
                StoreError::InvalidArgument(format!(
                    "unknown camera state {s:?} (expected one of connecting, recording, offline)"
                ))
            })
    }
}

impl ToSql for CameraState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for CameraState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// One logged camera state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameraStateChange {
    /// Row id; orders changes within the same millisecond.
    pub id: i64,
    /// Camera name.
    pub camera: String,
    /// When the camera entered the state (wall-clock ms since the epoch).
    pub at_ms: i64,
    /// The state entered.
    pub state: CameraState,
    /// Free-form reason, e.g. the connection error.
    pub detail: Option<String>,
}

/// Builds a [`CameraStateChange`] from `id, camera, at_ms, state, detail`.
fn change_from_row(row: &Row<'_>) -> rusqlite::Result<CameraStateChange> {
    Ok(CameraStateChange {
        id: row.get(0)?,
        camera: row.get(1)?,
        at_ms: row.get(2)?,
        state: row.get(3)?,
        detail: row.get(4)?,
    })
}

/// Pictures of a camera the recorder dropped, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordingLossRow {
    /// Row id (0 before it is stored).
    pub id: i64,
    /// The camera's id.
    pub camera: String,
    /// `clock_jump`, `write_error`, `lost_in_transit` or `frame_too_large`.
    pub reason: String,
    /// How many pictures.
    pub pictures: i64,
    /// When the first dropped picture arrived.
    pub start_ms: i64,
    /// When the last dropped picture arrived.
    pub end_ms: i64,
    /// What went wrong.
    pub detail: String,
}

fn loss_from_row(r: &Row<'_>) -> rusqlite::Result<RecordingLossRow> {
    Ok(RecordingLossRow {
        id: r.get(0)?,
        camera: r.get(1)?,
        reason: r.get(2)?,
        pictures: r.get(3)?,
        start_ms: r.get(4)?,
        end_ms: r.get(5)?,
        detail: r.get(6)?,
    })
}

impl Store {
    /// Losses stored after row `after_id`, oldest first (for the rules).
    pub fn losses_after(&self, after_id: i64, limit: usize) -> Result<Vec<RecordingLossRow>> {
        let what = || "listing recording losses".to_owned();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, camera, reason, pictures, start_ms, end_ms, detail \
                 FROM recording_losses WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .context(what)?;
        let rows = stmt
            .query_map(params![after_id, limit as i64], loss_from_row)
            .context(what)?;
        rows.collect::<rusqlite::Result<_>>().context(what)
    }

    /// Losses of `camera` overlapping `start_ms..end_ms`, by start.
    pub fn losses_overlapping(
        &self,
        camera: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<RecordingLossRow>> {
        validate::range(start_ms, end_ms)?;
        let what = || format!("listing losses of camera {camera:?} in {start_ms}..{end_ms}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, camera, reason, pictures, start_ms, end_ms, detail \
                 FROM recording_losses WHERE camera = ?1 AND start_ms < ?3 AND end_ms >= ?2 \
                 ORDER BY start_ms, id",
            )
            .context(what)?;
        let rows = stmt
            .query_map(params![camera, start_ms, end_ms], loss_from_row)
            .context(what)?;
        rows.collect::<rusqlite::Result<_>>().context(what)
    }

    /// The state changes of `camera` needed to draw `start_ms..end_ms`: the
    /// last change before `start_ms` (the state in force at the start), if
    /// any, followed by every change with `start_ms <= at_ms < end_ms`, in
    /// time order.
    pub fn camera_states(
        &self,
        camera: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<CameraStateChange>> {
        validate::range(start_ms, end_ms)?;
        let what = || format!("reading states of camera {camera:?} in {start_ms}..{end_ms}");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT * FROM ( \
                     SELECT id, camera, at_ms, state, detail FROM camera_states \
                     WHERE camera = ?1 AND at_ms < ?2 ORDER BY at_ms DESC, id DESC LIMIT 1) \
                 UNION ALL \
                 SELECT id, camera, at_ms, state, detail FROM camera_states \
                 WHERE camera = ?1 AND at_ms >= ?2 AND at_ms < ?3 \
                 ORDER BY at_ms, id",
            )
            .context(what)?;
        let rows = stmt
            .query_map(params![camera, start_ms, end_ms], change_from_row)
            .context(what)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().context(what)
    }
}

impl WriteTx<'_> {
    /// Stores a loss of pictures (the caller logs it in the same
    /// transaction, with [`WriteTx::log`]). Returns the row id.
    pub fn record_loss(&mut self, loss: &RecordingLossRow) -> Result<i64> {
        validate::name("camera name", &loss.camera)?;
        self.write_in_tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO recording_losses (camera, reason, pictures, start_ms, end_ms, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| {
                stmt.insert(params![
                    loss.camera,
                    loss.reason,
                    loss.pictures,
                    loss.start_ms,
                    loss.end_ms,
                    loss.detail
                ])
            })
        })
        .context(|| format!("recording a loss of pictures of camera {:?}", loss.camera))
    }

    /// Logs that `camera` entered `state` at `at_ms`. Returns the row id.
    pub fn record_camera_state(
        &mut self,
        camera: &str,
        at_ms: i64,
        state: CameraState,
        detail: Option<&str>,
    ) -> Result<i64> {
        validate::name("camera name", camera)?;
        self.write_in_tx(|tx| {
            tx.prepare_cached(
                "INSERT INTO camera_states (camera, at_ms, state, detail) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| stmt.insert(params![camera, at_ms, state, detail]))
        })
        .context(|| format!("logging camera {camera:?} as {state}"))
    }
}
