//! The site's side of witnessing: enrolment with the central office, and
//! sending each new checkpoint to the witnesses to be co-signed.
//!
//! A witness (<https://c2sp.org/tlog-witness>) co-signs a checkpoint only
//! if it extends, consistently, the last one it co-signed for the site; a
//! site whose history was rewritten cannot get a cosignature for it. The
//! central office's witness is pinned when the site enrols (its key comes
//! back with the enrolment; the enrolment is logged, `central.enrolled`);
//! other witnesses are pinned in the configuration. From then on only
//! cosignatures by a pinned key are kept, each checked before it is.
//!
//! One thread ([`run`]) does it all and never holds up recording: a witness
//! that cannot be reached is retried with backoff and nothing is lost (the
//! next checkpoint is sent when it answers); a refusal is logged
//! (`witness.refused`) and retried slowly.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use custos_ledger::catalogue::{leaf, CentralEnrolled, KeyRotation, LeafError, WitnessRefused};
use custos_ledger::cosignature::CosignerKey;
use custos_ledger::note::VerifierKey;
use custos_ledger::storage::LogStorage;
use custos_ledger::witness::add_checkpoint_body;
use custos_media::tls_pin::Fingerprint;
use custos_store::{
    Cosignature, NewWitness, PinnedBy, Store, StoreError, StoredCheckpoint, Witness,
};
use serde::{Deserialize, Serialize};

use crate::backoff::Backoff;
use crate::central_wire::{agent, stored_pins};
use crate::clock::now_ms;

/// The site's name for the central office's witness.
pub const CENTRAL: &str = "central";

/// How long one request to the centre or a witness may take (also the
/// longest a stopping site waits for the thread).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a refusal, or a state that needs a person, the same
/// witness is asked again.
const SLOW_RETRY: Duration = Duration::from_secs(600);
/// The most of an answer read: a cosignature line is about 150 bytes.
const MAX_ANSWER_BYTES: u64 = 64 << 10;
/// How much of a refusal's reason is kept.
const REASON_CHARS: usize = 300;

/// The central office to enrol with (`[central]`).
#[derive(Clone)]
pub struct CentralOffice {
    /// Its base URL; enrolment is `POST {url}/api/v1/enrol`.
    pub url: String,
    /// The one-time enrolment code: a secret, needed only until enrolled.
    pub enrol_code: Option<String>,
    /// A report of the site's state goes at least this often.
    pub report_seconds: u32,
    /// The most reports and log batches may send, in kbit/s.
    pub max_kbps: Option<u32>,
    /// The centre's TLS certificate, as its administrator gave it with the
    /// code: enrolment over HTTPS trusts only it (else the usual
    /// authorities, and the fingerprint the centre answers is pinned).
    pub tls_fingerprint: Option<Fingerprint>,
}

/// How often a report goes when `[central]` does not say.
pub const DEFAULT_REPORT_SECONDS: u32 = 60;

impl fmt::Debug for CentralOffice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CentralOffice")
            .field("url", &self.url)
            .field("enrol_code", &self.enrol_code.as_ref().map(|_| "***"))
            .field("report_seconds", &self.report_seconds)
            .field("max_kbps", &self.max_kbps)
            .field("tls_fingerprint", &self.tls_fingerprint)
            .finish()
    }
}

/// A witness given in the configuration (`[[witness]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredWitness {
    /// The site's name for it.
    pub name: String,
    /// The URL prefix `add-checkpoint` is sent under.
    pub url: String,
    /// Its key.
    pub key: CosignerKey,
}

impl ConfiguredWitness {
    /// As the index pins it.
    pub fn pinned(&self) -> NewWitness {
        NewWitness {
            name: self.name.clone(),
            key: self.key.to_string(),
            url: self.url.clone(),
            pinned_by: PinnedBy::Config,
            central: None,
            tls_fingerprint: None,
        }
    }
}

/// Why enrolment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// No enrolment code is configured and the site is not enrolled.
    #[error(
        "the site is not enrolled with the central office at {url} and [central] has no \
         enrol_code: add the code the central office gave (it is needed only until the site \
         is enrolled)"
    )]
    NoCode {
        /// The centre.
        url: String,
    },
    /// The centre refused (a bad or used code, another key enrolled).
    #[error("the central office at {url} refused the enrolment (HTTP {status}): {message}")]
    Refused {
        /// The centre.
        url: String,
        /// Its status.
        status: u16,
        /// Its reason.
        message: String,
    },
    /// The centre could not be reached or failed (worth retrying).
    #[error("the central office at {url} did not answer the enrolment: {cause}")]
    Unreachable {
        /// The centre.
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The centre's answer is not what the protocol says.
    #[error("the central office at {url} answered the enrolment with {detail}")]
    BadAnswer {
        /// The centre.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The site is enrolled already, with another centre or witness.
    #[error("the site is already enrolled with {enrolled}, witness key {key}; not with {url}")]
    OtherCentre {
        /// The centre configured now.
        url: String,
        /// The one enrolled with.
        enrolled: String,
        /// The pinned witness key.
        key: String,
    },
    /// The entry could not be encoded.
    #[error("encoding the enrolment's log entry: {0}")]
    Encode(#[from] LeafError),
    /// The index failed.
    #[error("site index: {0}")]
    Store(#[from] StoreError),
}

impl EnrolError {
    /// Whether trying again later may succeed without a change of settings.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            EnrolError::Unreachable { .. } | EnrolError::BadAnswer { .. } | EnrolError::Store(_)
        )
    }
}

/// The enrolment as pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The site's name at the centre.
    pub site: String,
    /// The central witness's key.
    pub witness_key: String,
    /// Where checkpoints are sent to be co-signed.
    pub witness_url: String,
    /// False when the site was enrolled before this call.
    pub new: bool,
}

#[derive(Serialize)]
struct EnrolRequest<'a> {
    code: &'a str,
    log_key: &'a str,
}

#[derive(Deserialize)]
struct EnrolAnswer {
    site: String,
    witness_key: String,
    witness_url: String,
    /// The centre's own TLS certificate, when it serves HTTPS itself.
    #[serde(default)]
    tls_fingerprint: Option<String>,
    /// When the centre knew this site by another log key.
    #[serde(default)]
    rotation: Option<Rotation>,
}

/// The key this log's replaces at the centre, who allowed it and why.
#[derive(Deserialize)]
struct Rotation {
    replaces_key: String,
    rotated_by: String,
    reason: String,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
}

/// `base` and `path` joined with exactly one slash.
fn join(base: &str, path: &str) -> String {
    format!("{}/{path}", base.trim_end_matches('/'))
}

/// At most `max` bytes of `response`'s body, as text.
fn read_body(response: ureq::Response, max: u64) -> String {
    let mut bytes = Vec::new();
    // What was read before a failure is still worth showing.
    let _ = response.into_reader().take(max).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// One line of at most [`REASON_CHARS`] characters.
fn one_line(text: &str) -> String {
    let flat: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// A transport failure in words: its kind and causes.
fn transport_cause(t: &ureq::Transport) -> String {
    let mut cause = t.kind().to_string();
    if let Some(message) = t.message() {
        cause.push_str(": ");
        cause.push_str(message);
    }
    let mut source = std::error::Error::source(t);
    while let Some(err) = source {
        cause.push_str(": ");
        cause.push_str(&err.to_string());
        source = err.source();
    }
    cause
}

/// The enrolment pinned in the index, if the site is enrolled.
pub fn enrolment(store: &Store) -> Result<Option<Witness>, StoreError> {
    Ok(store
        .witness(CENTRAL)?
        .filter(|w| w.pinned_by == PinnedBy::Central))
}

/// Enrols the site whose log key is `log_key` with `central`, unless it is
/// enrolled already, and pins the witness key the centre answers with,
/// logging `central.enrolled` in the same transaction. The code is sent to
/// the centre and nowhere else.
pub fn enrol(
    store: &Store,
    central: &CentralOffice,
    log_key: &VerifierKey,
    timeout: Duration,
) -> Result<Enrolment, EnrolError> {
    enrol_with(store, central, log_key, timeout, false)
}

/// Enrols again although enrolled, with the re-enrolment code in
/// `central` (the centre's `site reenrol`): the witness key and the
/// certificate are pinned afresh and `central.enrolled` logged again. For a
/// site that missed a change of the centre's certificate.
pub fn enrol_again(
    store: &Store,
    central: &CentralOffice,
    log_key: &VerifierKey,
    timeout: Duration,
) -> Result<Enrolment, EnrolError> {
    enrol_with(store, central, log_key, timeout, true)
}

fn enrol_with(
    store: &Store,
    central: &CentralOffice,
    log_key: &VerifierKey,
    timeout: Duration,
    again: bool,
) -> Result<Enrolment, EnrolError> {
    let url = central.url.trim_end_matches('/').to_owned();
    if let Some(w) = enrolment(store)?.filter(|_| !again) {
        let (enrolled, site) = w.central.clone().unwrap_or_default();
        if enrolled.trim_end_matches('/') != url {
            return Err(EnrolError::OtherCentre {
                url,
                enrolled,
                key: w.key,
            });
        }
        return Ok(Enrolment {
            site,
            witness_key: w.key,
            witness_url: w.url,
            new: false,
        });
    }
    let Some(code) = central.enrol_code.as_deref() else {
        return Err(EnrolError::NoCode { url });
    };
    let request = EnrolRequest {
        code,
        log_key: &log_key.to_string(),
    };
    // The configured pin holds for HTTPS; plain HTTP has no certificate.
    let pin = central
        .tls_fingerprint
        .filter(|_| url.starts_with("https://"));
    let enrol_agent =
        agent(timeout, timeout, pin.as_slice()).map_err(|cause| EnrolError::Unreachable {
            url: url.clone(),
            cause,
        })?;
    let answer = match enrol_agent
        .post(&join(&url, "api/v1/enrol"))
        .send_json(&request)
    {
        Ok(response) if response.status() == 200 => read_body(response, MAX_ANSWER_BYTES),
        Ok(response) => {
            return Err(EnrolError::BadAnswer {
                url,
                detail: format!("HTTP {}, not 200", response.status()),
            })
        }
        Err(ureq::Error::Status(status, response)) => {
            let body = read_body(response, MAX_ANSWER_BYTES);
            let message = serde_json::from_str::<ErrorAnswer>(&body)
                .map(|e| e.error)
                .unwrap_or(body);
            let message = one_line(&message);
            if status >= 500 {
                return Err(EnrolError::Unreachable {
                    url,
                    cause: format!("HTTP {status}: {message}"),
                });
            }
            return Err(EnrolError::Refused {
                url,
                status,
                message,
            });
        }
        Err(ureq::Error::Transport(t)) => {
            return Err(EnrolError::Unreachable {
                url,
                cause: transport_cause(&t),
            })
        }
    };
    let bad = |detail: String| EnrolError::BadAnswer {
        url: url.clone(),
        detail,
    };
    let answer: EnrolAnswer = serde_json::from_str(&answer)
        .map_err(|e| bad(format!("JSON that is not an enrolment: {e}")))?;
    let answered_pin = answer
        .tls_fingerprint
        .as_deref()
        .map(|t| {
            Fingerprint::parse(t)
                .map_err(|e| bad(format!("a TLS fingerprint that is not one: {e}")))
        })
        .transpose()?;
    // What was checked in the handshake wins over what the centre says of
    // itself (behind a proxy the two differ); over plain HTTP nothing is.
    let tls_pin = if url.starts_with("https://") {
        pin.or(answered_pin)
    } else {
        None
    };
    let key = CosignerKey::parse(answer.witness_key.trim())
        .map_err(|e| bad(format!("a witness key that is not one: {e}")))?;
    let witness_url = url::Url::parse(&answer.witness_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            bad(format!(
                "a witness URL that is not an absolute http(s) URL: {:?}",
                one_line(&answer.witness_url)
            ))
        })?;
    let witness_url = witness_url.as_str().trim_end_matches('/').to_owned();
    if answer.site.trim().is_empty() {
        return Err(bad("no site name".to_owned()));
    }
    let witness_key = key.to_string();
    let entry = leaf(
        now_ms(),
        &CentralEnrolled {
            url: &url,
            site: &answer.site,
            witness_key: &witness_key,
            witness_url: &witness_url,
            rotation: answer.rotation.as_ref().map(|r| KeyRotation {
                replaces_key: &r.replaces_key,
                rotated_by: &r.rotated_by,
                reason: &r.reason,
            }),
        },
    )?;
    store.write("pinning the central witness", |tx| {
        tx.pin_witness(
            &NewWitness {
                name: CENTRAL.to_owned(),
                key: witness_key.clone(),
                url: witness_url.clone(),
                pinned_by: PinnedBy::Central,
                central: Some((url.clone(), answer.site.clone())),
                tls_fingerprint: tls_pin.map(|p| p.to_string()),
            },
            now_ms(),
        )?;
        tx.log(entry);
        Ok::<_, EnrolError>(())
    })?;
    if let Some(r) = &answer.rotation {
        tracing::warn!(target: "custos::audit", site = %answer.site, replaces = %r.replaces_key,
            by = %r.rotated_by, reason = %r.reason,
            "enrolled again with a new log key, allowed at the central office");
    }
    Ok(Enrolment {
        site: answer.site,
        witness_key,
        witness_url,
        new: true,
    })
}

/// What the site knows of one witness, for the API and health checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WitnessStatus {
    /// `central`, or the `[[witness]]` name.
    pub name: String,
    /// The pinned key, `name+hexid`.
    pub key: String,
    /// Where checkpoints are sent.
    pub url: String,
    /// `central` (enrolment) or `config`.
    pub pinned_by: String,
    /// The largest checkpoint it co-signed (0: none yet).
    pub cosigned_size: u64,
    /// When it last co-signed, ms since the Unix epoch.
    pub last_success_ms: Option<i64>,
    /// What went wrong last, if the last attempt failed.
    pub last_error: Option<String>,
    /// The HTTP status of its last refusal, while it refuses.
    pub refused: Option<u16>,
}

/// The witnesses' state as the submitter last saw it, shared with readers.
#[derive(Debug, Clone, Default)]
pub struct WitnessBoard {
    inner: Arc<Mutex<BoardState>>,
}

#[derive(Debug, Default)]
struct BoardState {
    witnesses: BTreeMap<String, WitnessStatus>,
    enrolment_error: Option<String>,
}

impl WitnessBoard {
    /// Every witness, by name.
    pub fn snapshot(&self) -> Vec<WitnessStatus> {
        self.with(|b| b.witnesses.values().cloned().collect())
    }

    /// Why the site is not enrolled yet, while it is not.
    pub fn enrolment_error(&self) -> Option<String> {
        self.with(|b| b.enrolment_error.clone())
    }

    fn with<T>(&self, f: impl FnOnce(&mut BoardState) -> T) -> T {
        // A reader that panicked leaves the board as it was: still usable.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut WitnessStatus)) {
        self.with(|b| {
            if let Some(s) = b.witnesses.get_mut(name) {
                f(s);
            }
        });
    }
}

/// What the submitter is given.
#[derive(Debug, Clone)]
pub struct Uplink {
    /// The site's index.
    pub db_path: PathBuf,
    /// The site's log.
    pub log_dir: PathBuf,
    /// The site's log key (sent at enrolment).
    pub log_key: VerifierKey,
    /// The central office, when configured.
    pub central: Option<CentralOffice>,
    /// How long one request may take.
    pub timeout: Duration,
    /// How often the index is looked at for new checkpoints.
    pub poll: Duration,
    /// Shared state for readers.
    pub board: WitnessBoard,
    /// The cap on what the site sends over its uplink, shared with the
    /// reports and the mirror: checkpoints to witnesses count too.
    pub throttle: std::sync::Arc<crate::central_wire::Throttle>,
}

/// One witness as the submitter keeps it between attempts.
struct Peer {
    row: Witness,
    key: CosignerKey,
    /// Trusting only the pinned certificate, when one is.
    agent: ureq::Agent,
    /// The size the witness holds as co-signed last, as far as the site
    /// knows (the `old` of the next request).
    known_size: u64,
    next_at: Instant,
    backoff: Backoff,
    /// The refusal last logged, so a witness that keeps refusing is logged
    /// once, not at every retry.
    logged_refusal: Option<(u16, u64)>,
    /// The witness size last said to be beyond the log.
    logged_behind: Option<u64>,
}

/// What one attempt came to.
enum Answer {
    Cosigned { lines: String, timestamp: u64 },
    Conflict(u64),
    Refused { status: u16, reason: String },
    Failed(String),
}

/// Enrols if needed and sends new checkpoints to the witnesses until
/// `stop` is set.
pub fn run(uplink: Uplink, stop: Arc<AtomicBool>) {
    let store = match Store::open(&uplink.db_path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("witnesses: opening the index: {e}");
            return;
        }
    };
    let mut submitter = Submitter {
        uplink,
        store,
        storage: None,
        peers: BTreeMap::new(),
        enrol_at: Some(Instant::now()),
        enrol_backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(300), 0.25),
    };
    while !stop.load(Ordering::Relaxed) {
        submitter.tick();
        std::thread::sleep(submitter.uplink.poll);
    }
}

struct Submitter {
    uplink: Uplink,
    store: Store,
    storage: Option<LogStorage>,
    peers: BTreeMap<String, Peer>,
    /// When to try enrolling next; `None`: enrolled, not configured, or
    /// refused for good.
    enrol_at: Option<Instant>,
    enrol_backoff: Backoff,
}

impl Submitter {
    fn tick(&mut self) {
        self.enrol_if_due();
        if let Err(e) = self.refresh_peers() {
            tracing::error!("witnesses: reading the pinned witnesses: {e}");
            return;
        }
        let latest = match self.store.latest_checkpoint() {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("witnesses: reading the latest checkpoint: {e}");
                return;
            }
        };
        let names: Vec<String> = self.peers.keys().cloned().collect();
        for name in names {
            self.serve_peer(&name, &latest);
        }
    }

    fn enrol_if_due(&mut self) {
        let Some(central) = self.uplink.central.clone() else {
            return;
        };
        if self.enrol_at.is_none_or(|at| Instant::now() < at) {
            return;
        }
        let board = self.uplink.board.clone();
        match enrol(
            &self.store,
            &central,
            &self.uplink.log_key,
            self.uplink.timeout,
        ) {
            Ok(e) => {
                if e.new {
                    tracing::info!(centre = %central.url, site = %e.site, witness_key = %e.witness_key, "enrolled with the central office");
                }
                self.enrol_at = None;
                board.with(|b| b.enrolment_error = None);
            }
            Err(e) if e.is_transient() => {
                let delay = self.enrol_backoff.next_delay(&mut rand::thread_rng());
                tracing::warn!(
                    "enrolment: {e}; trying again in {} s",
                    delay.as_secs().max(1)
                );
                self.enrol_at = Some(Instant::now() + delay);
                board.with(|b| b.enrolment_error = Some(e.to_string()));
            }
            Err(e) => {
                tracing::error!("enrolment: {e}");
                self.enrol_at = None;
                board.with(|b| b.enrolment_error = Some(e.to_string()));
            }
        }
    }

    /// Brings the peers in line with the witnesses pinned in the index.
    fn refresh_peers(&mut self) -> Result<(), StoreError> {
        let rows = self.store.witnesses()?;
        self.peers
            .retain(|name, _| rows.iter().any(|r| &r.name == name));
        let board = self.uplink.board.clone();
        board.with(|b| {
            b.witnesses
                .retain(|name, _| rows.iter().any(|r| &r.name == name))
        });
        for row in rows {
            if self.peers.get(&row.name).is_some_and(|p| {
                p.row.key == row.key
                    && p.row.url == row.url
                    && p.row.tls_fingerprint == row.tls_fingerprint
            }) {
                if let Some(p) = self.peers.get_mut(&row.name) {
                    p.row.cosigned_size = row.cosigned_size;
                }
                continue;
            }
            let key = match CosignerKey::parse(&row.key) {
                Ok(k) => k,
                Err(e) => {
                    tracing::error!(witness = %row.name, "the pinned witness key does not parse: {e}");
                    continue;
                }
            };
            let timeout = self.uplink.timeout;
            let agent = match stored_pins(row.tls_fingerprint.as_deref())
                .and_then(|pins| agent(timeout, timeout, &pins))
            {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(witness = %row.name, "{e}");
                    continue;
                }
            };
            let status = WitnessStatus {
                name: row.name.clone(),
                key: key.short(),
                url: row.url.clone(),
                pinned_by: match row.pinned_by {
                    PinnedBy::Central => "central",
                    PinnedBy::Config => "config",
                }
                .to_owned(),
                cosigned_size: row.cosigned_size,
                last_success_ms: None,
                last_error: None,
                refused: None,
            };
            board.with(|b| b.witnesses.insert(row.name.clone(), status));
            self.peers.insert(
                row.name.clone(),
                Peer {
                    known_size: row.cosigned_size,
                    key,
                    agent,
                    row,
                    next_at: Instant::now(),
                    backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(300), 0.25),
                    logged_refusal: None,
                    logged_behind: None,
                },
            );
        }
        Ok(())
    }

    /// The log, opened read-only beside its writer, at its current size.
    fn storage(&mut self) -> Result<&LogStorage, String> {
        if self.storage.is_none() {
            let s = LogStorage::open_read_only(&self.uplink.log_dir)
                .map_err(|e| format!("opening the log: {e}"))?;
            self.storage = Some(s);
        }
        let s = self
            .storage
            .as_ref()
            .ok_or_else(|| "the log is not open".to_owned())?;
        s.refresh_size()
            .map_err(|e| format!("reading the log's size: {e}"))?;
        Ok(s)
    }

    fn serve_peer(&mut self, name: &str, latest: &StoredCheckpoint) {
        // A 409 is answered at once with the size the witness named; a
        // second one in a row waits for the backoff.
        for _ in 0..2 {
            let Some(peer) = self.peers.get(name) else {
                return;
            };
            if latest.tree_size <= peer.row.cosigned_size || Instant::now() < peer.next_at {
                return;
            }
            let known_size = peer.known_size;
            if known_size > latest.tree_size {
                let log_size = self.storage().map(|s| s.size()).unwrap_or(u64::MAX);
                if known_size > log_size {
                    self.behind(name, known_size, log_size);
                }
                // A checkpoint past the witness's size is coming: wait for it.
                return;
            }
            match self.attempt(name, latest) {
                Answer::Cosigned { lines, timestamp } => {
                    self.cosigned(name, latest, lines, timestamp);
                    return;
                }
                Answer::Conflict(size) => {
                    let log_size = self.storage().map(|s| s.size()).unwrap_or(u64::MAX);
                    if size > log_size {
                        if let Some(p) = self.peers.get_mut(name) {
                            p.known_size = size;
                        }
                        self.behind(name, size, log_size);
                        return;
                    }
                    tracing::info!(witness = %name, size, "the witness holds another size as co-signed last; sending again from it");
                    if let Some(p) = self.peers.get_mut(name) {
                        p.known_size = size;
                    }
                }
                Answer::Refused { status, reason } => {
                    self.refused(name, latest.tree_size, status, &reason);
                    return;
                }
                Answer::Failed(text) => {
                    self.fail(name, text);
                    return;
                }
            }
        }
        if let Some(p) = self.peers.get_mut(name) {
            let delay = p.backoff.next_delay(&mut rand::thread_rng());
            p.next_at = Instant::now() + delay;
        }
    }

    /// Sends `checkpoint` to witness `name`.
    fn attempt(&mut self, name: &str, checkpoint: &StoredCheckpoint) -> Answer {
        let Some(peer) = self.peers.get(name) else {
            return Answer::Failed("the witness is no longer pinned".to_owned());
        };
        let old = peer.known_size;
        let (url, key) = (join(&peer.row.url, "add-checkpoint"), peer.key.clone());
        let witness_agent = peer.agent.clone();
        let proof = if old == 0 || old == checkpoint.tree_size {
            Vec::new()
        } else {
            let storage = match self.storage() {
                Ok(s) => s,
                Err(e) => return Answer::Failed(e),
            };
            match storage.consistency_proof(old, checkpoint.tree_size) {
                Ok(p) => p,
                Err(e) => {
                    return Answer::Failed(format!(
                        "the consistency proof from {old} to {}: {e}",
                        checkpoint.tree_size
                    ))
                }
            }
        };
        let body = add_checkpoint_body(old, &proof, &checkpoint.note);
        // A few KiB at most: paced as one piece, before it goes.
        self.uplink.throttle.take(body.len());
        let result = witness_agent
            .post(&url)
            .set("Content-Type", "text/plain; charset=utf-8")
            .send_string(&body);
        match result {
            Ok(response) if response.status() == 200 => {
                let answer = read_body(response, MAX_ANSWER_BYTES);
                check_cosignature(&checkpoint.note, &answer, &key)
            }
            Ok(response) => Answer::Failed(format!(
                "the witness answered HTTP {}, not 200",
                response.status()
            )),
            Err(ureq::Error::Status(409, response)) => {
                let text = read_body(response, MAX_ANSWER_BYTES);
                match text.trim().parse::<u64>() {
                    Ok(size) if size != old => Answer::Conflict(size),
                    Ok(_) => Answer::Failed(format!(
                        "the witness answered 409 naming the size sent, {old}"
                    )),
                    Err(_) => Answer::Failed(format!(
                        "the witness answered 409 without a size: {}",
                        one_line(&text)
                    )),
                }
            }
            Err(ureq::Error::Status(status, response)) if (400..500).contains(&status) => {
                Answer::Refused {
                    status,
                    reason: one_line(&read_body(response, MAX_ANSWER_BYTES)),
                }
            }
            Err(ureq::Error::Status(status, response)) => Answer::Failed(format!(
                "HTTP {status}: {}",
                one_line(&read_body(response, MAX_ANSWER_BYTES))
            )),
            Err(ureq::Error::Transport(t)) => Answer::Failed(transport_cause(&t)),
        }
    }

    fn cosigned(&mut self, name: &str, checkpoint: &StoredCheckpoint, lines: String, ts: u64) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        let kept = self.store.record_cosignature(
            name,
            &Cosignature {
                tree_size: checkpoint.tree_size,
                witness_key: peer.key.short(),
                line: lines,
                timestamp: ts,
                received_ms: now_ms(),
            },
        );
        if let Err(e) = kept {
            let text = format!("keeping the cosignature: {e}");
            self.fail(name, text);
            return;
        }
        peer.known_size = checkpoint.tree_size;
        peer.row.cosigned_size = checkpoint.tree_size;
        peer.backoff.reset();
        peer.logged_refusal = None;
        peer.next_at = Instant::now();
        tracing::debug!(witness = %name, size = checkpoint.tree_size, "checkpoint co-signed");
        self.uplink.board.update(name, |s| {
            s.cosigned_size = checkpoint.tree_size;
            s.last_success_ms = Some(now_ms());
            s.last_error = None;
            s.refused = None;
        });
    }

    /// The witness co-signed more of this site's log than the log holds: it
    /// was cut back or put back to an older copy. Said once per size; the
    /// next checkpoint past that size goes to the witness as any other, and
    /// the witness judges whether it extends what it co-signed.
    fn behind(&mut self, name: &str, witness_size: u64, log_size: u64) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        let text = format!(
            "witness {name} has co-signed a checkpoint of this site of size {witness_size}, but \
             the log holds only {log_size} entries: the log was cut back or replaced"
        );
        if peer.logged_behind != Some(witness_size) {
            tracing::error!(witness = %name, "{text}");
            peer.logged_behind = Some(witness_size);
        }
        self.uplink
            .board
            .update(name, |s| s.last_error = Some(text));
    }

    /// A failure (the witness unreachable, an answer not understood):
    /// retried with backoff.
    fn fail(&mut self, name: &str, text: String) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        let delay = peer.backoff.next_delay(&mut rand::thread_rng());
        tracing::warn!(witness = %name, "sending the checkpoint to be co-signed: {text}; trying again in {} s", delay.as_secs().max(1));
        peer.next_at = Instant::now() + delay;
        self.uplink
            .board
            .update(name, |s| s.last_error = Some(text));
    }

    /// A refusal: logged (once while it lasts) and retried slowly.
    fn refused(&mut self, name: &str, tree_size: u64, status: u16, reason: &str) {
        let Some(peer) = self.peers.get_mut(name) else {
            return;
        };
        peer.next_at = Instant::now() + SLOW_RETRY;
        if status == 422 {
            tracing::error!(
                witness = %name,
                size = tree_size,
                "WITNESS REFUSED: witness {name} holds this site's log to be INCONSISTENT with the \
                 checkpoints it co-signed before (HTTP 422: {reason}); the log's history may have \
                 been rewritten or forked, and the witness raises an alarm"
            );
        } else {
            tracing::error!(witness = %name, size = tree_size, "witness {name} refused to co-sign the checkpoint (HTTP {status}): {reason}");
        }
        let text = format!("refused with HTTP {status}: {reason}");
        if peer.logged_refusal.map(|(s, _)| s) != Some(status) {
            let logged = leaf(
                now_ms(),
                &WitnessRefused {
                    witness: name,
                    tree_size,
                    status,
                    reason,
                },
            )
            .map_err(|e| e.to_string())
            .and_then(|l| self.store.enqueue_log(vec![l]).map_err(|e| e.to_string()));
            match logged {
                Ok(()) => peer.logged_refusal = Some((status, tree_size)),
                Err(e) => tracing::error!(witness = %name, "logging the refusal: {e}"),
            }
        }
        self.uplink.board.update(name, |s| {
            s.last_error = Some(text);
            s.refused = Some(status);
        });
    }
}

/// The lines of `answer` that are `key`'s cosignature of `note`, with the
/// latest time among them.
fn check_cosignature(note: &str, answer: &str, key: &CosignerKey) -> Answer {
    let mut lines = String::new();
    let mut latest = None;
    for line in answer.lines().filter(|l| !l.trim().is_empty()) {
        let line = format!("{line}\n");
        if let Ok(ts) = key.verify(&format!("{note}{line}")) {
            lines.push_str(&line);
            latest = latest.max(Some(ts));
        }
    }
    match latest {
        Some(timestamp) => Answer::Cosigned { lines, timestamp },
        None => Answer::Failed(format!(
            "the witness's answer holds no cosignature by its pinned key {}: {}",
            key.short(),
            one_line(answer)
        )),
    }
}

/// The checkpoint note `note` with the cosignatures kept for its size
/// appended (signature lines of other keys, which a reader of the note
/// alone ignores).
pub fn with_cosignatures(
    store: &Store,
    checkpoint: &StoredCheckpoint,
) -> Result<String, StoreError> {
    let mut note = checkpoint.note.clone();
    for c in store.cosignatures(checkpoint.tree_size)? {
        note.push_str(&c.line);
    }
    Ok(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_ledger::cosignature::CosigningKey;
    use custos_ledger::note::{sign_note, SigningKey};

    #[test]
    fn only_lines_of_the_pinned_key_that_verify_are_kept() {
        let log = SigningKey::from_seed("site.example/log", &[1; 32]).expect("key");
        let note = sign_note("site.example/log\n3\nAAAA\n", &log).expect("note");
        let witness = CosigningKey::from_seed("w.example", &[2; 32]).expect("key");
        let other = CosigningKey::from_seed("w.example", &[3; 32]).expect("key");
        let good = witness.cosign(&note, 100).expect("line");
        let foreign = other.cosign(&note, 200).expect("line");
        match check_cosignature(&note, &format!("{foreign}{good}"), &witness.verifier()) {
            Answer::Cosigned { lines, timestamp } => {
                assert_eq!((lines, timestamp), (good.clone(), 100));
            }
            _ => panic!("the good line was not found"),
        }
        assert!(matches!(
            check_cosignature(&note, &foreign, &witness.verifier()),
            Answer::Failed(_)
        ));
        assert!(matches!(
            check_cosignature(&note, "not a line\n", &witness.verifier()),
            Answer::Failed(_)
        ));
    }

    #[test]
    fn the_enrolment_code_is_not_shown_and_reasons_are_one_short_line() {
        let central = CentralOffice {
            url: "https://central.example".into(),
            enrol_code: Some("s3cret-code".into()),
            report_seconds: DEFAULT_REPORT_SECONDS,
            max_kbps: None,
            tls_fingerprint: None,
        };
        assert!(!format!("{central:?}").contains("s3cret"));
        assert_eq!(one_line(" a\nb\r\n"), "a b");
        assert_eq!(one_line(&"x".repeat(400)).chars().count(), REASON_CHARS + 1);
        assert_eq!(
            join("http://h/w/", "add-checkpoint"),
            "http://h/w/add-checkpoint"
        );
    }
}
