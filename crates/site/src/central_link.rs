//! The site's link to its central office once it is enrolled: reports of
//! its state (`central_report`) and the mirror of its log
//! (`central_mirror`), each on a thread of its own so a slow batch never
//! holds up a report.
//!
//! Enrolment itself happens on the witness thread (`uplink`); this waits
//! for it, so a site configured with `[central]` before the centre can be
//! reached starts reporting as soon as the enrolment goes through.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use custos_ledger::note::SigningKey;
use custos_store::Store;

use crate::cameras::CameraRegistry;
use crate::central_mirror::CentreNow;
use crate::central_mirror::Shipper;
use crate::central_report::{Reporter, ReporterSite};
use crate::central_wire::{stored_pins, Throttle};
use crate::uplink::{enrolment, CENTRAL};

/// How often the index is looked at for the enrolment.
const ENROLMENT_POLL: Duration = Duration::from_secs(1);

/// What the link needs.
pub struct CentralLink {
    /// Where the reporter runs and what it carries out.
    pub site: ReporterSite,
    /// The site's log.
    pub log_dir: PathBuf,
    /// The log key, which signs reports and batches as it signs checkpoints.
    pub key: SigningKey,
    /// The cameras' live states.
    pub cameras: Arc<CameraRegistry>,
    /// The cap on what reports and batches send, shared by both.
    pub throttle: Arc<Throttle>,
}

/// Waits for the enrolment, then reports and ships the log until `stop`.
pub fn run(link: CentralLink, stop: Arc<AtomicBool>) {
    let Some((central_url, tls_pins)) = wait_for_enrolment(&link.site.db_path, &stop) else {
        return;
    };
    let pins = match stored_pins(tls_pins.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("central office: {e}; nothing is sent to it");
            return;
        }
    };
    let parts = Reporter::new(&central_url, link.key.clone(), &pins, link.throttle.clone())
        .and_then(|r| {
            let s = Shipper::new(&central_url, link.key.clone(), &pins, link.throttle.clone())?;
            Ok((r, s))
        });
    let (reporter, shipper) = match parts {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("central office: {e}; nothing is sent to it");
            return;
        }
    };
    tracing::info!("central office: reporting to {central_url}");
    let mirror = {
        let db_path = link.site.db_path.clone();
        let log_dir = link.log_dir.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("central-mirror".into())
            .spawn(move || {
                let store = match Store::open(&db_path) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("central mirror: opening the index: {e}");
                        return;
                    }
                };
                // Only what the centre co-signed can be proven there; the
                // reporter may have pinned the centre's next certificate.
                let centre = move || match store.witness(CENTRAL) {
                    Ok(w) => w.and_then(|w| {
                        let pins = stored_pins(w.tls_fingerprint.as_deref())
                            .map_err(|e| tracing::error!("central mirror: {e}"))
                            .ok()?;
                        Some(CentreNow {
                            cosigned: w.cosigned_size,
                            pins,
                        })
                    }),
                    Err(e) => {
                        tracing::error!("central mirror: reading the co-signed size: {e}");
                        None
                    }
                };
                crate::central_mirror::run(log_dir, shipper, centre, stop);
            })
    };
    let mirror = match mirror {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::error!("central mirror: starting its thread: {e}");
            None
        }
    };
    crate::central_report::run(link.site, reporter, link.cameras, stop);
    if let Some(handle) = mirror {
        let _ = handle.join();
    }
}

/// The centre's URL and pinned TLS fingerprint once the site is enrolled;
/// `None` if stopped first.
fn wait_for_enrolment(
    db_path: &std::path::Path,
    stop: &AtomicBool,
) -> Option<(String, Option<String>)> {
    let store = match Store::open(db_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("central office: opening the index: {e}");
            return None;
        }
    };
    let mut logged = false;
    while !stop.load(Ordering::Relaxed) {
        match enrolment(&store) {
            Ok(Some(witness)) => {
                if let Some((url, _site)) = witness.central {
                    return Some((url, witness.tls_fingerprint));
                }
            }
            Ok(None) => {}
            Err(e) => {
                if !logged {
                    tracing::error!("central office: reading the enrolment: {e}");
                    logged = true;
                }
            }
        }
        std::thread::sleep(ENROLMENT_POLL);
    }
    None
}
