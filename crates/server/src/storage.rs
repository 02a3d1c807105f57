//! `GET /api/v1/storage`: how full the data disk is and how far back each
//! camera's footage reaches, now and at the current write rate.

use std::path::Path;

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::auth::{require_role, AuthUser};
use crate::error::ApiError;
use crate::roles::STORAGE_READERS;
use crate::{now_ms, SharedState};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Space on the file system holding the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DiskUsage {
    /// Size of the file system as unprivileged users may fill it.
    pub total_bytes: u64,
    /// Bytes in use.
    pub used_bytes: u64,
    /// Bytes still free for unprivileged users.
    pub available_bytes: u64,
    /// `used / total`, in percent.
    pub used_percent: f64,
}

/// The usage of the file system holding `dir`, or `None` when the system
/// cannot tell (the path vanished, say).
pub fn disk_usage(dir: &Path) -> Option<DiskUsage> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: all-zero bytes are a valid `statvfs` (plain integers).
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable struct.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    // The field types differ between platforms (u32 on some 32-bit ones).
    #[allow(clippy::unnecessary_cast)]
    let (block, blocks, free, available) = (
        (st.f_frsize as u64).max(1),
        st.f_blocks as u64,
        st.f_bfree as u64,
        st.f_bavail as u64,
    );
    let used = blocks.saturating_sub(free) * block;
    let available = available * block;
    // Blocks reserved for root are neither: percent as `df` shows it.
    let total = used + available;
    (total > 0).then(|| DiskUsage {
        total_bytes: total,
        used_bytes: used,
        available_bytes: available,
        used_percent: used as f64 / total as f64 * 100.0,
    })
}

/// One camera's footage on disk.
#[derive(Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct CameraStorage {
    id: String,
    /// Bytes of kept (recording and sealed) segments.
    bytes: u64,
    segments: u64,
    /// Start of the oldest kept footage: how far back it reaches now.
    oldest_ms: Option<i64>,
    /// Bytes written per day, measured over the last day of recording
    /// (or less, for a camera recording for less than a day).
    bytes_per_day: Option<u64>,
    retain_days: Option<u32>,
    retain_bytes: Option<u64>,
    /// Days of footage kept once retention is in steady state: the tightest
    /// of the age limit, the size limit at the current rate, and (without
    /// limits) the days until the disk is full. `None` until there is a
    /// rate to project from.
    horizon_days: Option<f64>,
    /// What sets `horizon_days`: `retain_days`, `retain_bytes` or `disk`.
    horizon_set_by: Option<&'static str>,
}

/// `GET /api/v1/storage` body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Storage {
    /// `None` when the file system cannot be read.
    disk: Option<DiskUsage>,
    cameras: Vec<CameraStorage>,
}

/// `GET /api/v1/storage`.
#[utoipa::path(
    get,
    path = "/api/v1/storage",
    tag = "cameras",
    responses((status = 200, description = "The data disk's use and, per camera, what is kept and for how long", body = Storage)),
)]
pub(crate) async fn storage(
    State(state): State<SharedState>,
    AuthUser { user, .. }: AuthUser,
) -> Result<Json<Storage>, ApiError> {
    require_role(&user, STORAGE_READERS)?;
    let cameras = state.cameras.list();
    let data_dir = state.data_dir.clone();
    let now = now_ms();
    let (disk, rows) = state
        .with_store("summarising storage", move |store| {
            let disk = disk_usage(&data_dir);
            let mut rows = Vec::with_capacity(cameras.len());
            for cam in &cameras {
                let summary = store.camera_summary(&cam.id)?;
                let recent = store.camera_bytes_since(&cam.id, now - DAY_MS)?;
                rows.push((cam.clone(), summary, recent));
            }
            Ok((disk, rows))
        })
        .await?;
    let available = disk.map(|d| d.available_bytes);
    let rates: Vec<Option<u64>> = rows
        .iter()
        .map(|(_, summary, recent)| {
            let span_ms = (now - summary.first_start_ms?).clamp(60_000, DAY_MS);
            let rate = (*recent as f64 * DAY_MS as f64 / span_ms as f64) as u64;
            (rate > 0).then_some(rate)
        })
        .collect();
    // Without limits every camera grows until the disk is full; the free
    // space lasts as long for each of them.
    let total_rate: u64 = rates.iter().flatten().sum();
    let cameras = rows
        .into_iter()
        .zip(rates)
        .map(|((cam, summary, _), rate)| {
            let (horizon_days, horizon_set_by) = horizon(
                rate,
                cam.retain_days,
                cam.retain_bytes,
                summary.bytes,
                available,
                total_rate,
            );
            CameraStorage {
                id: cam.id,
                bytes: summary.bytes,
                segments: summary.segments,
                oldest_ms: summary.first_start_ms,
                bytes_per_day: rate,
                retain_days: cam.retain_days,
                retain_bytes: cam.retain_bytes,
                horizon_days,
                horizon_set_by,
            }
        })
        .collect();
    Ok(Json(Storage { disk, cameras }))
}

/// Days of footage kept in steady state, and which limit sets it.
fn horizon(
    rate_per_day: Option<u64>,
    retain_days: Option<u32>,
    retain_bytes: Option<u64>,
    kept_bytes: u64,
    available_bytes: Option<u64>,
    all_cameras_rate: u64,
) -> (Option<f64>, Option<&'static str>) {
    let mut best: Option<(f64, &'static str)> = retain_days.map(|d| (f64::from(d), "retain_days"));
    let mut consider = |days: f64, why: &'static str| {
        if best.is_none_or(|(b, _)| days < b) {
            best = Some((days, why));
        }
    };
    if let Some(rate) = rate_per_day.filter(|r| *r > 0) {
        if let Some(quota) = retain_bytes {
            consider(quota as f64 / rate as f64, "retain_bytes");
        }
        if let Some(free) = available_bytes.filter(|_| all_cameras_rate > 0) {
            let days_to_full = free as f64 / all_cameras_rate as f64;
            consider(kept_bytes as f64 / rate as f64 + days_to_full, "disk");
        }
    }
    match best {
        Some((days, why)) => (Some((days * 10.0).round() / 10.0), Some(why)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;

    #[test]
    fn the_tightest_limit_sets_the_horizon() {
        // 30 days allowed, but 10 GB at 1 GB a day lasts 10.
        assert_eq!(
            horizon(
                Some(GB),
                Some(30),
                Some(10 * GB),
                5 * GB,
                Some(1000 * GB),
                GB
            ),
            (Some(10.0), Some("retain_bytes"))
        );
        // 7 days allowed, the quota would last 10.
        assert_eq!(
            horizon(
                Some(GB),
                Some(7),
                Some(10 * GB),
                5 * GB,
                Some(1000 * GB),
                GB
            ),
            (Some(7.0), Some("retain_days"))
        );
    }

    #[test]
    fn without_limits_the_disk_sets_the_horizon() {
        // 4 GB kept at 1 GB a day, 20 GB free shared with a second camera
        // writing as much: 4 days kept + 10 more until full.
        assert_eq!(
            horizon(Some(GB), None, None, 4 * GB, Some(20 * GB), 2 * GB),
            (Some(14.0), Some("disk"))
        );
        // A full disk stops at what is kept.
        assert_eq!(
            horizon(Some(GB), None, None, 4 * GB, Some(0), 2 * GB),
            (Some(4.0), Some("disk"))
        );
    }

    #[test]
    fn no_rate_no_projection() {
        assert_eq!(horizon(None, None, Some(GB), 0, Some(GB), 0), (None, None));
        assert_eq!(
            horizon(None, Some(3), None, 0, Some(GB), 0),
            (Some(3.0), Some("retain_days"))
        );
    }

    #[test]
    fn the_data_disk_can_be_read() {
        let usage = disk_usage(Path::new("/")).expect("statvfs of /");
        assert!(usage.total_bytes > 0);
        assert!(usage.used_percent >= 0.0 && usage.used_percent <= 100.0);
        assert!(disk_usage(Path::new("/no/such/dir")).is_none());
    }
}
