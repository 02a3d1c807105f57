//! How the site's notes reach the central office: gzipped, and paced so
//! that everything the link sends stays under `[central] max_kbps` — a
//! village uplink of 256 kbit/s that has been down for a week carries the
//! backlog without taking the whole link.

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use custos_media::tls_pin::Fingerprint;

/// At most this much is written between two looks at the pace, so the
/// rate holds over a fraction of a second, not only over a whole batch.
const CHUNK: usize = 4 * 1024;

/// A cap on the bytes per second sent to the centre, shared by everything
/// that sends there, and a count of what was sent.
#[derive(Debug, Default)]
pub struct Throttle {
    /// Bytes per second; `None`: no cap.
    rate: Option<f64>,
    /// When the bytes sent so far will have had their time at the rate.
    free_at: Mutex<Option<Instant>>,
    sent: AtomicU64,
}

impl Throttle {
    /// A cap of `max_kbps` kilobits (1000 bits) per second, or none.
    pub fn new(max_kbps: Option<u32>) -> Throttle {
        Throttle {
            rate: max_kbps.map(|k| f64::from(k) * 1000.0 / 8.0),
            free_at: Mutex::new(None),
            sent: AtomicU64::new(0),
        }
    }

    /// Waits until `bytes` more may be sent, and counts them.
    pub fn take(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
        let Some(rate) = self.rate else {
            return;
        };
        let wait = {
            let mut free_at = self.free_at.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            // Idle time does not build up a burst: pacing starts afresh.
            let start = free_at.filter(|t| *t > now).unwrap_or(now);
            let after = start + Duration::from_secs_f64(bytes as f64 / rate);
            *free_at = Some(after);
            start.saturating_duration_since(now)
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    /// Bytes sent so far (bodies, compressed, without HTTP headers).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// A body read out in chunks at the throttle's pace.
struct Paced<'a> {
    body: Cursor<Vec<u8>>,
    throttle: &'a Throttle,
}

impl Read for Paced<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.body.get_ref().len() - self.body.position() as usize;
        let n = buf.len().min(CHUNK).min(left);
        if n == 0 {
            return Ok(0);
        }
        self.throttle.take(n);
        self.body.read(&mut buf[..n])
    }
}

/// How a post of a note failed.
#[derive(Debug)]
pub enum PostError {
    /// The centre answered with this status and body.
    Status(u16, String),
    /// It could not be reached, or the answer could not be read.
    Transport(String),
}

/// Posts `note` to `url`, gzipped and paced by `throttle`; the answer's
/// body when the status is 2xx.
pub fn post_note(
    agent: &ureq::Agent,
    url: &str,
    note: &str,
    throttle: &Throttle,
) -> Result<String, PostError> {
    let body = custos_report::wire::compress(note);
    let length = body.len().to_string();
    let sent = agent
        .post(url)
        .set("Content-Type", "text/plain; charset=utf-8")
        .set("Content-Encoding", custos_report::wire::GZIP)
        // A length, not chunks: the centre knows at once how much comes.
        .set("Content-Length", &length)
        .send(Paced {
            body: Cursor::new(body),
            throttle,
        });
    match sent {
        Ok(answer) => answer
            .into_string()
            .map_err(|e| PostError::Transport(format!("reading the answer: {e}"))),
        Err(ureq::Error::Status(status, answer)) => Err(PostError::Status(
            status,
            answer.into_string().unwrap_or_default().trim().to_owned(),
        )),
        Err(e) => Err(PostError::Transport(e.to_string())),
    }
}

/// An agent for the centre or a witness: connecting may take `connect`, a
/// whole exchange `whole` (a paced batch on a slow link takes a while).
/// With `tls_pins`, HTTPS trusts only the certificates of those
/// fingerprints.
pub fn agent(
    connect: Duration,
    whole: Duration,
    tls_pins: &[Fingerprint],
) -> Result<ureq::Agent, String> {
    let mut builder = ureq::AgentBuilder::new()
        .timeout_connect(connect)
        .timeout(whole)
        // A redirect would send the site's notes somewhere not configured.
        .redirects(0)
        .user_agent(concat!("custos/", env!("CARGO_PKG_VERSION")));
    if !tls_pins.is_empty() {
        let config = custos_media::tls_pin::client_config_any(tls_pins)
            .map_err(|e| format!("pinning the TLS certificate: {e}"))?;
        builder = builder.tls_config(config);
    }
    Ok(builder.build())
}

/// How long connecting to the centre may take.
const CONNECT: Duration = Duration::from_secs(10);

/// The agent reports go with.
pub fn report_agent(tls_pins: &[Fingerprint]) -> Result<ureq::Agent, String> {
    agent(CONNECT, Duration::from_secs(60), tls_pins)
}

/// The agent log batches go with: a full batch at 16 kbit/s takes about
/// two minutes.
pub fn mirror_agent(tls_pins: &[Fingerprint]) -> Result<ureq::Agent, String> {
    agent(CONNECT, Duration::from_secs(300), tls_pins)
}

/// The pinned fingerprints as the index keeps them: one, or more while the
/// centre rolls its certificate over, separated by commas.
pub fn stored_pins(text: Option<&str>) -> Result<Vec<Fingerprint>, String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            Fingerprint::parse(t).map_err(|e| format!("the pinned TLS fingerprint {t:?}: {e}"))
        })
        .collect()
}

/// Fingerprints as the index keeps them.
pub fn pins_text(pins: &[Fingerprint]) -> Option<String> {
    let text: Vec<String> = pins.iter().map(ToString::to_string).collect();
    (!text.is_empty()).then(|| text.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_throttle_paces_what_is_taken_and_counts_it() {
        // 80 kbit/s = 10,000 bytes/s: 25,000 bytes take about 2.5 s, of
        // which the first chunk goes at once.
        let throttle = Throttle::new(Some(80));
        let started = Instant::now();
        for _ in 0..5 {
            throttle.take(5_000);
        }
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1_900), "{took:?}");
        assert!(took < Duration::from_secs(6), "{took:?}");
        assert_eq!(throttle.sent(), 25_000);
    }

    #[test]
    fn pins_are_kept_as_text_and_read_back() {
        let a = Fingerprint::of(b"a");
        let b = Fingerprint::of(b"b");
        let text = pins_text(&[a, b]).expect("text");
        assert_eq!(stored_pins(Some(&text)), Ok(vec![a, b]));
        assert_eq!(stored_pins(None), Ok(vec![]));
        assert_eq!(pins_text(&[]), None);
        assert!(stored_pins(Some("AB:CD")).is_err());
    }

    #[test]
    fn no_cap_never_waits() {
        let throttle = Throttle::new(None);
        let started = Instant::now();
        throttle.take(100 << 20);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(throttle.sent(), 100 << 20);
    }
}
