//! Ships the site's log to the central office's mirror of it, in order and
//! in signed batches (`custos_report::entries`), never beyond the latest
//! checkpoint the centre co-signed, so the centre can prove every batch.
//!
//! The log itself is the outbox: nothing is queued elsewhere. The centre
//! says how far its mirror goes (its answer to every batch, and 409 with
//! its size to a batch that does not start there), so after an outage of
//! either side, or a restart, shipping resumes exactly where it stopped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use custos_ledger::note::SigningKey;
use custos_ledger::storage::LogStorage;
use custos_report::entries::MAX_BATCH_BYTES;

use crate::central_report::ReportFailure;
use crate::central_wire::{mirror_agent, post_note, PostError, Throttle};
use custos_media::tls_pin::Fingerprint;

/// How often the log is looked at for entries to ship.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// Ships one site's log to one centre.
pub struct Shipper {
    url: String,
    key: SigningKey,
    agent: ureq::Agent,
    /// The centre's certificates trusted (none: not pinned).
    pins: Vec<Fingerprint>,
    throttle: Arc<Throttle>,
    /// The centre's mirror size, once known.
    mirrored: Option<u64>,
}

impl Shipper {
    /// A shipper to the centre at `central_url`, signing with `key`,
    /// trusting the certificates `pins` (none: not pinned), sending within
    /// `throttle`.
    pub fn new(
        central_url: &str,
        key: SigningKey,
        pins: &[Fingerprint],
        throttle: Arc<Throttle>,
    ) -> Result<Shipper, String> {
        Ok(Shipper {
            url: format!("{}/api/v1/entries", central_url.trim_end_matches('/')),
            key,
            agent: mirror_agent(pins)?,
            pins: pins.to_vec(),
            throttle,
            mirrored: None,
        })
    }

    /// Trusts the certificates `pins` from now on, if they are others.
    pub fn repin(&mut self, pins: &[Fingerprint]) -> Result<(), String> {
        if pins != self.pins {
            self.agent = mirror_agent(pins)?;
            self.pins = pins.to_vec();
        }
        Ok(())
    }

    /// How far the centre's mirror goes, as last heard.
    pub fn mirrored(&self) -> Option<u64> {
        self.mirrored
    }

    /// Sends the entries of `log` from the centre's mirror size up to
    /// `limit` (the largest size the centre co-signed); returns the
    /// mirror's size after.
    pub fn ship(&mut self, log: &LogStorage, limit: u64) -> Result<u64, ReportFailure> {
        let limit = limit.min(log.size());
        loop {
            let from = self.mirrored.unwrap_or(0);
            if self.mirrored.is_some() && from >= limit {
                return Ok(from);
            }
            let mut leaves = Vec::new();
            let mut bytes = 0;
            let mut index = from;
            // Even a probe for the mirror's size carries one entry: a batch
            // is never empty.
            while index < limit.max(from + 1)
                && index < log.size()
                && (leaves.is_empty() || bytes < MAX_BATCH_BYTES)
            {
                let leaf = log.entry(index).map_err(|e| {
                    ReportFailure::Making(format!("reading log entry {index}: {e}"))
                })?;
                bytes += leaf.len();
                leaves.push(leaf);
                index += 1;
            }
            if leaves.is_empty() {
                return Ok(from);
            }
            let note = custos_report::entries::sign(from, &leaves, &self.key)
                .map_err(|e| ReportFailure::Making(e.to_string()))?;
            match post_note(&self.agent, &self.url, &note, &self.throttle) {
                Ok(answer) => {
                    self.mirrored = Some(self.size_in(&answer, 200)?);
                }
                Err(PostError::Status(409, answer)) => {
                    let held = self.size_in(&answer, 409)?;
                    if held > log.size() {
                        return Err(ReportFailure::Refused {
                            status: 409,
                            reason: format!(
                                "the centre mirrors {held} entries of this site's log, which has only {}: the log here is not the one the centre saw",
                                log.size()
                            ),
                        });
                    }
                    self.mirrored = Some(held);
                }
                Err(PostError::Status(400, _)) if self.mirrored.is_none() => {
                    // A probe beyond what is co-signed: nothing to ship yet.
                    return Ok(0);
                }
                Err(e) => return Err(ReportFailure::from_post(&self.url, e)),
            }
        }
    }

    fn size_in(&self, body: &str, status: u16) -> Result<u64, ReportFailure> {
        body.trim()
            .parse::<u64>()
            .map_err(|_| ReportFailure::Refused {
                status,
                reason: format!(
                    "the centre's answer holds no mirror size: {:?}",
                    body.chars().take(200).collect::<String>()
                ),
            })
    }
}

/// What the index says of the centre now: the size it co-signed, and
/// the certificates pinned for it.
pub struct CentreNow {
    /// The largest size co-signed (0: none yet).
    pub cosigned: u64,
    /// The certificates trusted.
    pub pins: Vec<Fingerprint>,
}

/// Ships the log in `log_dir` until `stop`, up to what `centre` says the
/// centre co-signed, trusting the certificates it says are pinned. A
/// failure is logged when it starts and ends.
pub fn run(
    log_dir: PathBuf,
    mut shipper: Shipper,
    centre: impl Fn() -> Option<CentreNow>,
    stop: Arc<AtomicBool>,
) {
    let log = match LogStorage::open_read_only(&log_dir) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("central mirror: opening the log: {e}");
            return;
        }
    };
    let mut failing: Option<String> = None;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = log.refresh_size() {
            tracing::error!("central mirror: reading the log's size: {e}");
        } else if let Some(now) = centre().filter(|c| c.cosigned > 0) {
            if let Err(e) = shipper.repin(&now.pins) {
                tracing::error!("central mirror: {e}");
            }
            match shipper.ship(&log, now.cosigned) {
                Ok(_) => {
                    if failing.take().is_some() {
                        tracing::info!("central mirror: the central office takes the log again");
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    if failing.as_deref() != Some(text.as_str()) {
                        tracing::warn!("central mirror: {text}");
                    }
                    failing = Some(text);
                }
            }
        }
        let deadline = Instant::now() + LOOK_EVERY;
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
