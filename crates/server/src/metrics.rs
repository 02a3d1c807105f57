//! `GET /metrics`: the site's counters and gauges for Prometheus, in the
//! OpenMetrics text format (`prometheus-client`).
//!
//! Off unless the configuration turns it on. A scraper authenticates with
//! the site's metrics token (a secret of its own, from the environment, so
//! a monitoring system needs no user account) or with the API token or
//! session of an admin or auditor.
//!
//! Every counter is a total since the process started (Prometheus handles
//! restarts); per camera: pictures received, stored and dropped by reason,
//! bytes written, segments sealed, reconnects, analysis frames decoded,
//! analysed and dropped; for the site: unresolved alerts by kind, the log's
//! size and its checkpoint's age, the notification outbox, and disk use.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};

use crate::auth::{require_role, AuthUser};
use crate::error::ApiError;
use crate::roles::METRICS_READERS;
use crate::SharedState;
use custos_site::cameras::{CameraStatus, LiveState};

/// The content type of OpenMetrics text, which Prometheus reads.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How the metrics may be read: present only when they are turned on.
#[derive(Clone)]
pub struct MetricsAccess {
    /// SHA-256 of the metrics token, if one is set.
    token_sha256: Option<[u8; 32]>,
}

impl std::fmt::Debug for MetricsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAccess")
            .field("token", &self.token_sha256.map(|_| "***"))
            .finish()
    }
}

impl MetricsAccess {
    /// Metrics on, readable with `token` (if given) or by admins and auditors.
    pub fn new(token: Option<&str>) -> Self {
        MetricsAccess {
            token_sha256: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        }
    }

    /// True when `headers` carry the metrics token.
    fn token_matches(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(want) = &self.token_sha256 else {
            return false;
        };
        let Some(given) = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return false;
        };
        // Digests compared in constant time: the token is a secret.
        let got: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        got.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// `GET /metrics`: counters and gauges for Prometheus.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "OpenMetrics text: per camera pictures received, stored and \
            dropped by reason, bytes written, segments sealed, reconnects, analysis frames; for the \
            site open alerts by kind, log size, checkpoint age, notification outbox, disk use",
            content_type = "application/openmetrics-text", body = String),
        (status = 404, description = "Metrics are turned off in the configuration"),
    ),
)]
pub(crate) async fn metrics(
    State(state): State<SharedState>,
    request: Request,
) -> Result<Response, ApiError> {
    let by_token = state
        .metrics
        .as_ref()
        .is_some_and(|access| access.token_matches(request.headers()));
    if !by_token {
        // Roles first, as everywhere: a viewer learns nothing, not even
        // whether metrics are on.
        let (mut parts, _) = request.into_parts();
        let AuthUser { user, .. } = AuthUser::from_request_parts(&mut parts, &state).await?;
        require_role(&user, METRICS_READERS)?;
    }
    if state.metrics.is_none() {
        return Err(ApiError::not_found(
            "metrics are off: turn them on with metrics = true in [server]",
        ));
    }
    let text = render(&state).await?;
    Ok(([(CONTENT_TYPE, OPENMETRICS)], text).into_response())
}

type Labels = Vec<(String, String)>;

fn camera_label(c: &CameraStatus) -> Labels {
    vec![("camera".to_owned(), c.id.clone())]
}

fn counter_family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let family = Family::<Labels, Counter>::default();
    registry.register(name, help, family.clone());
    family
}

fn gauge_family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let family = Family::<Labels, Gauge>::default();
    registry.register(name, help, family.clone());
    family
}

/// The whole exposition, from the registry and the index as they are now.
async fn render(state: &SharedState) -> Result<String, ApiError> {
    let gauges = state
        .read("reading the site's gauges", |store| store.site_gauges())
        .await?;
    let mut r = Registry::default();

    let received = counter_family(
        &mut r,
        "custos_pictures_received",
        "Pictures received from the camera",
    );
    let stored = counter_family(
        &mut r,
        "custos_pictures_stored",
        "Pictures written to segment files",
    );
    let dropped = counter_family(
        &mut r,
        "custos_pictures_dropped",
        "Pictures not stored, by reason (awaiting_key_frame is expected after each connection)",
    );
    let bytes = counter_family(
        &mut r,
        "custos_bytes_written",
        "Bytes written to segment files",
    );
    let sealed = counter_family(&mut r, "custos_segments_sealed", "Segment files sealed");
    let reconnects = counter_family(
        &mut r,
        "custos_camera_reconnects",
        "Connections to the camera after the first",
    );
    let up = gauge_family(
        &mut r,
        "custos_camera_recording",
        "1 while the camera is recording, else 0",
    );
    let decoded = counter_family(
        &mut r,
        "custos_analysis_frames_decoded",
        "Pictures decoded for analysis",
    );
    let analysed = counter_family(
        &mut r,
        "custos_analysis_frames_analysed",
        "Pictures analysed",
    );
    let analysis_dropped = counter_family(
        &mut r,
        "custos_analysis_frames_dropped",
        "Frames analysis skipped because it fell behind (recording lost none)",
    );
    for c in state.cameras.list() {
        let l = camera_label(&c);
        let rec = &c.recording;
        received.get_or_create(&l).inc_by(rec.pictures_received);
        stored.get_or_create(&l).inc_by(rec.pictures_stored);
        let d = &rec.pictures_dropped;
        for (reason, n) in [
            ("awaiting_key_frame", d.awaiting_key_frame),
            ("clock_jump", d.clock_jump),
            ("write_error", d.write_error),
            ("lost_in_transit", d.lost_in_transit),
            ("frame_too_large", d.frame_too_large),
        ] {
            let mut labels = l.clone();
            labels.push(("reason".to_owned(), reason.to_owned()));
            dropped.get_or_create(&labels).inc_by(n);
        }
        bytes.get_or_create(&l).inc_by(rec.bytes_written);
        sealed.get_or_create(&l).inc_by(rec.segments_sealed);
        reconnects.get_or_create(&l).inc_by(rec.reconnects);
        up.get_or_create(&l).set(i64::from(
            c.state == LiveState::Recording && c.recording_error.is_none(),
        ));
        if let Some(a) = &c.analysis {
            decoded.get_or_create(&l).inc_by(a.frames_decoded);
            analysed.get_or_create(&l).inc_by(a.frames_analysed);
            analysis_dropped
                .get_or_create(&l)
                .inc_by(a.frames_dropped + a.frames_skipped);
        }
    }

    let alerts = gauge_family(
        &mut r,
        "custos_alerts_unresolved",
        "Alerts open or acknowledged, by kind",
    );
    for (kind, n) in &gauges.unresolved_alerts {
        alerts
            .get_or_create(&vec![("kind".to_owned(), kind.clone())])
            .set(*n);
    }
    let pending = Gauge::<i64>::default();
    pending.set(gauges.notifications_pending);
    r.register(
        "custos_notifications_pending",
        "Notifications waiting to be delivered",
        pending,
    );
    let failed = Gauge::<i64>::default();
    failed.set(gauges.notifications_failed);
    r.register(
        "custos_notifications_failed",
        "Notifications that failed for good",
        failed,
    );
    let outbox = Gauge::<i64>::default();
    outbox.set(gauges.log_outbox);
    r.register(
        "custos_log_outbox",
        "Log entries committed but not yet appended to the log",
        outbox,
    );
    if let Some((size, signed_ms)) = gauges.checkpoint {
        let entries = Gauge::<i64>::default();
        entries.set(i64::try_from(size).unwrap_or(i64::MAX));
        r.register(
            "custos_log_entries",
            "Entries in the log as of its latest checkpoint",
            entries,
        );
        let age = Gauge::<i64>::default();
        age.set((crate::now_ms() - signed_ms).max(0) / 1000);
        r.register(
            "custos_checkpoint_age_seconds",
            "Seconds since the latest checkpoint was signed",
            age,
        );
    }
    if let Some(disk) = custos_site::storage::disk_usage(&state.data_dir) {
        let used = Gauge::<i64>::default();
        used.set(i64::try_from(disk.used_bytes).unwrap_or(i64::MAX));
        r.register(
            "custos_disk_used_bytes",
            "Bytes used on the data disk",
            used,
        );
        let size = Gauge::<i64>::default();
        size.set(i64::try_from(disk.total_bytes).unwrap_or(i64::MAX));
        r.register(
            "custos_disk_size_bytes",
            "Bytes a non-root user can use on the data disk",
            size,
        );
    }

    let mut out = String::new();
    encode(&mut out, &r).map_err(|e| ApiError::internal("writing the metrics", &e))?;
    Ok(out)
}

/// Who may read the metrics, as the router's state holds it.
pub type Access = Option<Arc<MetricsAccess>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_compared_by_digest_and_never_shown() {
        let access = MetricsAccess::new(Some("s3cret-metrics-token"));
        let mut h = axum::http::HeaderMap::new();
        assert!(!access.token_matches(&h));
        h.insert(
            AUTHORIZATION,
            "Bearer s3cret-metrics-token".parse().expect("header"),
        );
        assert!(access.token_matches(&h));
        h.insert(
            AUTHORIZATION,
            "Bearer s3cret-metrics-tokeN".parse().expect("header"),
        );
        assert!(!access.token_matches(&h));
        assert!(!format!("{access:?}").contains("s3cret"));
        assert!(!MetricsAccess::new(None).token_matches(&h));
    }
}
