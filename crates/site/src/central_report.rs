//! The site's reports of its state to the central office: built from the
//! index, the camera registry and the disk, signed with the log key
//! (`custos_report`), sent on change and at least every minute.
//!
//! A report is the site's state now, not a history: after an outage the
//! next one tells the centre everything it needs, so nothing is queued.
//! The centre answers a report whose sequence number is not above the last
//! it holds with that number; the reporter continues above it, so a clock
//! stepped back, or a restart, never stops the reports.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_ledger::catalogue::{leaf, CentralTlsPinned};
use custos_ledger::note::SigningKey;
use custos_report::{AlertAction, CameraHealth, Health, ReportAnswer};
use custos_store::{AlertState, Store, StoreError};

use crate::cameras::CameraRegistry;
use crate::central_wire::{pins_text, post_note, report_agent, stored_pins, PostError, Throttle};
use crate::clock::now_ms;
use crate::storage::disk_usage;
use crate::uplink::CENTRAL;
use custos_media::tls_pin::Fingerprint;

/// How often the state is looked at for a change worth reporting at once.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// Why a report was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ReportFailure {
    /// The centre could not be reached or answered with a server error;
    /// the next report will try again.
    #[error("the central office at {url} cannot be reached: {reason}")]
    Unreachable {
        /// Where the report went.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The centre refused it.
    #[error("the central office refused the report ({status}): {reason}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The centre's words.
        reason: String,
    },
    /// The report could not be made.
    #[error("making the report: {0}")]
    Making(String),
}

/// The site's state as a report; `escrow_all_footage_of` is `[escrow]
/// all_footage_of` when the site escrows its footage.
pub fn health(
    store: &Store,
    cameras: &CameraRegistry,
    data_dir: &Path,
    escrow_all_footage_of: Option<&[String]>,
) -> Result<Health, ReportFailure> {
    let making = |e: &dyn std::fmt::Display| ReportFailure::Making(e.to_string());
    let gauges = store.site_gauges().map_err(|e| making(&e))?;
    let mut last_segment_ms = None;
    let mut oldest_segment_ms = None;
    let mut recorded_bytes = 0u64;
    let mut list = Vec::new();
    for camera in cameras.list() {
        let summary = store.camera_summary(&camera.id).map_err(|e| making(&e))?;
        recorded_bytes += summary.bytes;
        last_segment_ms = last_segment_ms.max(summary.last_end_ms);
        oldest_segment_ms = match (oldest_segment_ms, summary.first_start_ms) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
        let dropped = &camera.recording.pictures_dropped;
        list.push(CameraHealth {
            state: serde_json::to_value(camera.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            id: camera.id,
            name: camera.name,
            since_ms: camera.since_ms,
            tamper: camera.tamper,
            // Waiting for the first key frame after connecting is no loss.
            pictures_dropped: dropped.clock_jump
                + dropped.write_error
                + dropped.lost_in_transit
                + dropped.frame_too_large,
        });
    }
    Ok(Health {
        sent_ms: now_ms(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        cameras: list,
        open_alerts: gauges.unresolved_alerts,
        checkpoint: gauges.checkpoint,
        last_segment_ms,
        oldest_segment_ms,
        disk: disk_usage(data_dir).map(|d| (recorded_bytes, d.available_bytes)),
        actions_done: Vec::new(),
        escrow: match escrow_all_footage_of {
            None => None,
            Some(all) => {
                let b = store
                    .escrow_backlog(
                        custos_custody::footage::WINDOW_BEFORE_MS,
                        custos_custody::footage::WINDOW_AFTER_MS,
                        all,
                    )
                    .map_err(|e| making(&e))?;
                Some(custos_report::EscrowHealth {
                    pending_segments: b.pending_segments,
                    pending_bytes: b.pending_bytes,
                    oldest_pending_ms: b.oldest_pending_ms,
                })
            }
        },
    })
}

/// What in a report makes it worth sending before the minute is up.
fn digest(h: &Health) -> String {
    let mut d = String::new();
    for c in &h.cameras {
        d.push_str(&format!(
            "{}={}/{:?}/{};",
            c.id, c.state, c.tamper, c.pictures_dropped
        ));
    }
    d.push_str(&format!("{:?}", h.open_alerts));
    d
}

/// Sends reports to one central office.
pub struct Reporter {
    url: String,
    key: SigningKey,
    seq: u64,
    agent: ureq::Agent,
    /// The centre's certificates trusted (none: not pinned).
    pins: Vec<Fingerprint>,
    throttle: Arc<Throttle>,
}

impl Reporter {
    /// A reporter to the centre at `central_url`, signing with `key`,
    /// trusting the certificates `pins` (none: not pinned), sending within
    /// `throttle`.
    pub fn new(
        central_url: &str,
        key: SigningKey,
        pins: &[Fingerprint],
        throttle: Arc<Throttle>,
    ) -> Result<Reporter, String> {
        Ok(Reporter {
            url: format!("{}/api/v1/report", central_url.trim_end_matches('/')),
            key,
            seq: 0,
            agent: report_agent(pins)?,
            pins: pins.to_vec(),
            throttle,
        })
    }

    /// The centre's address.
    pub fn central_url(&self) -> &str {
        self.url.trim_end_matches("/api/v1/report")
    }

    /// The certificates trusted now.
    pub fn pins(&self) -> &[Fingerprint] {
        &self.pins
    }

    /// Trusts the certificates `pins` from now on.
    pub fn repin(&mut self, pins: &[Fingerprint]) -> Result<(), String> {
        self.agent = report_agent(pins)?;
        self.pins = pins.to_vec();
        Ok(())
    }

    /// Sends `health` and returns what the centre asks of the site; on a
    /// stale sequence number, sends once more above the centre's.
    pub fn send(&mut self, health: &Health) -> Result<ReportAnswer, ReportFailure> {
        let mut seq = self
            .seq
            .saturating_add(1)
            .max(u64::try_from(now_ms()).unwrap_or(0));
        for _ in 0..2 {
            let note = custos_report::sign(health, seq, &self.key)
                .map_err(|e| ReportFailure::Making(e.to_string()))?;
            match post_note(&self.agent, &self.url, &note, &self.throttle) {
                Ok(body) => {
                    self.seq = seq;
                    return serde_json::from_str(&body).map_err(|e| ReportFailure::Refused {
                        status: 200,
                        reason: format!("the answer is not a report answer: {e}"),
                    });
                }
                Err(PostError::Status(409, held)) => {
                    let held = held.parse::<u64>().map_err(|_| ReportFailure::Refused {
                        status: 409,
                        reason: "a stale sequence number, and no number held in the answer"
                            .to_owned(),
                    })?;
                    seq = held.saturating_add(1);
                }
                Err(e) => return Err(ReportFailure::from_post(&self.url, e)),
            }
        }
        Err(ReportFailure::Refused {
            status: 409,
            reason: "the sequence number stayed stale".to_owned(),
        })
    }
}

impl ReportFailure {
    /// A failed post to `url` in these terms: a server error or no answer
    /// is worth trying again; another status is the centre's refusal.
    pub fn from_post(url: &str, e: PostError) -> ReportFailure {
        match e {
            PostError::Status(status, reason) if status < 500 => {
                ReportFailure::Refused { status, reason }
            }
            PostError::Status(status, reason) => ReportFailure::Unreachable {
                url: url.to_owned(),
                reason: format!("HTTP {status}: {reason}"),
            },
            PostError::Transport(reason) => ReportFailure::Unreachable {
                url: url.to_owned(),
                reason,
            },
        }
    }
}

/// Carries out an alert change asked for at the centre, logged as the
/// person there. A change the alert cannot make (it is resolved already)
/// is done as far as the centre is concerned.
pub fn carry_out(
    store: &Store,
    action: &AlertAction,
    site: &str,
    destinations: &[String],
) -> Result<(), StoreError> {
    let state = AlertState::parse(&action.state).ok_or_else(|| {
        StoreError::InvalidArgument(format!(
            "the centre asked for alert state {:?}",
            action.state
        ))
    })?;
    let by = if action.by.starts_with("central:") {
        action.by.clone()
    } else {
        format!("central:{}", action.by)
    };
    let outcome = store.write("carrying out an alert change from the centre", |tx| {
        crate::alerts::change_in(
            tx,
            action.alert,
            state,
            &by,
            action.note.as_deref(),
            site,
            destinations,
            now_ms(),
        )
    });
    match outcome {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict(why) | StoreError::NotFound(why)) => {
            tracing::warn!(
                "central reports: the centre's change of alert {} was not made: {why}",
                action.alert
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Pins the certificates the centre's answer names, when they differ from
/// those pinned: the centre announces its next certificate this way, over
/// a connection that trusted only the current one.
fn follow_pins(store: &Store, reporter: &mut Reporter, answered: &[String]) {
    if answered.is_empty() {
        return;
    }
    let pins = match stored_pins(Some(&answered.join(","))) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("central reports: the centre named certificates that are not: {e}");
            return;
        }
    };
    if pins == reporter.pins() {
        return;
    }
    let (now, before) = (
        pins_text(&pins).unwrap_or_default(),
        pins_text(reporter.pins()).unwrap_or_default(),
    );
    let entry = match leaf(
        now_ms(),
        &CentralTlsPinned {
            url: reporter.central_url(),
            fingerprints: &now,
            previous: &before,
        },
    ) {
        Ok(entry) => entry,
        Err(e) => {
            tracing::error!("central reports: the pinning's log entry: {e}");
            return;
        }
    };
    if let Err(e) = store.set_witness_tls(CENTRAL, Some(&now), entry) {
        tracing::error!("central reports: pinning the centre's certificates: {e}");
        return;
    }
    match reporter.repin(&pins) {
        Ok(()) => tracing::info!(
            "central office: its certificates pinned now: {}",
            pins_text(&pins).unwrap_or_default()
        ),
        Err(e) => tracing::error!("central reports: {e}"),
    }
}

/// Where the reporter runs and what it needs to carry out the centre's
/// requests.
pub struct ReporterSite {
    /// The index.
    pub db_path: PathBuf,
    /// The data directory (for disk use).
    pub data_dir: PathBuf,
    /// The site's name, for alert notifications.
    pub site: String,
    /// Where alert changes are announced.
    pub alert_destinations: Vec<String>,
    /// A report goes at least this often, whether anything changed or not;
    /// it is also how soon a change asked for at the centre arrives.
    pub report_every: Duration,
    /// `[escrow] all_footage_of`, when the site escrows its footage: the
    /// report then says how much is left to copy.
    pub escrow_all_footage_of: Option<Vec<String>>,
}

/// Reports the site's state until `stop`: at once on a change of the
/// cameras' states or the open alerts, else every `report_every`; and
/// carries out the alert changes the centre answers with. A failure is
/// logged when it starts and when it ends, not on every try.
pub fn run(
    site: ReporterSite,
    mut reporter: Reporter,
    cameras: Arc<CameraRegistry>,
    stop: Arc<AtomicBool>,
) {
    let store = match Store::open(&site.db_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("central reports: opening the index: {e}");
            return;
        }
    };
    let mut last_sent: Option<(Instant, String)> = None;
    let mut failing: Option<String> = None;
    let mut done: Vec<i64> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match health(
            &store,
            &cameras,
            &site.data_dir,
            site.escrow_all_footage_of.as_deref(),
        ) {
            Ok(mut h) => {
                let d = digest(&h);
                let due = !done.is_empty()
                    || last_sent
                        .as_ref()
                        .is_none_or(|(at, sent)| at.elapsed() >= site.report_every || *sent != d);
                if due {
                    h.actions_done.clone_from(&done);
                    match reporter.send(&h) {
                        Ok(answer) => {
                            if failing.take().is_some() {
                                tracing::info!(
                                    "central reports: the central office takes reports again"
                                );
                            }
                            last_sent = Some((Instant::now(), d));
                            done.clear();
                            follow_pins(&store, &mut reporter, &answer.tls_fingerprints);
                            for action in &answer.actions {
                                match carry_out(&store, action, &site.site, &site.alert_destinations) {
                                    Ok(()) => done.push(action.id),
                                    Err(e) => tracing::error!(
                                        "central reports: carrying out the centre's change of alert {}: {e}",
                                        action.alert
                                    ),
                                }
                            }
                        }
                        Err(e) => {
                            let text = e.to_string();
                            if failing.as_deref() != Some(text.as_str()) {
                                tracing::warn!("central reports: {text}");
                            }
                            failing = Some(text);
                        }
                    }
                }
            }
            Err(e) => tracing::error!("central reports: {e}"),
        }
        // Done requests are reported back at once.
        let deadline = Instant::now()
            + if done.is_empty() {
                LOOK_EVERY
            } else {
                Duration::ZERO
            };
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
