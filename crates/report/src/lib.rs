//! What a site reports to its central office, and how it is signed.
//!
//! A report is a signed note (<https://c2sp.org/signed-note>) signed by the
//! site's log key, which the centre pinned at enrolment, so no other key
//! and no one in between can speak for the site:
//!
//! ```text
//! custos-report/v1
//! <log origin>
//! <sequence number>
//! <the report, JSON on one line>
//!
//! — <origin> <signature>
//! ```
//!
//! The centre accepts a report only with a sequence number above the last
//! it accepted from the site (a replayed report is refused), and answers a
//! stale one with the number it holds, so a site whose clock stepped back
//! continues above it. The JSON is the site's state now; unknown fields are
//! ignored, so either side can be upgraded first.

pub mod entries;
pub mod wire;

use custos_ledger::note::{open_note, sign_note, NoteError, SigningKey, VerifierKey};
use serde::{Deserialize, Serialize};

/// The first line of a report note.
pub const HEADER: &str = "custos-report/v1";

/// A site's state, as it reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Health {
    /// When the site sent the report, by its clock (ms since the epoch);
    /// the centre compares it with its own to find a wrong clock.
    pub sent_ms: i64,
    /// The software version.
    #[serde(default)]
    pub version: String,
    /// Every camera.
    #[serde(default)]
    pub cameras: Vec<CameraHealth>,
    /// Unresolved alerts by kind.
    #[serde(default)]
    pub open_alerts: Vec<(String, i64)>,
    /// The log's latest checkpoint: its size and when it was signed.
    #[serde(default)]
    pub checkpoint: Option<(u64, i64)>,
    /// When the newest recorded segment ends, if any (ms).
    #[serde(default)]
    pub last_segment_ms: Option<i64>,
    /// The oldest footage still kept (ms): the retention horizon.
    #[serde(default)]
    pub oldest_segment_ms: Option<i64>,
    /// Bytes used by recordings, and bytes free on their disk.
    #[serde(default)]
    pub disk: Option<(u64, u64)>,
    /// The centre's requests (acknowledge or resolve an alert) the site has
    /// carried out, by the centre's number, since its previous report.
    #[serde(default)]
    pub actions_done: Vec<i64>,
    /// Footage the site's escrow has still to copy off site, when it
    /// escrows.
    #[serde(default)]
    pub escrow: Option<EscrowHealth>,
}

/// The backlog of a site's footage escrow.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowHealth {
    /// Segments escrow wants and has not copied.
    pub pending_segments: u64,
    /// Their bytes.
    pub pending_bytes: u64,
    /// When the oldest of them starts (ms).
    pub oldest_pending_ms: Option<i64>,
}

/// What the centre asks of a site in its answer to a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportAnswer {
    /// Alert changes made at the centre, to carry out on the site.
    #[serde(default)]
    pub actions: Vec<AlertAction>,
    /// The fingerprints of the certificates the centre serves HTTPS with,
    /// now and next (empty when it does not): what the site pins, so a
    /// new certificate is trusted before the centre changes to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_fingerprints: Vec<String>,
}

/// An alert change a person made at the centre.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertAction {
    /// The centre's number of the request; reported back in
    /// [`Health::actions_done`] once carried out.
    pub id: i64,
    /// The site's alert.
    pub alert: i64,
    /// `acknowledged` or `resolved`.
    pub state: String,
    /// Who, at the centre.
    pub by: String,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// One camera's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraHealth {
    /// Its id at the site.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// `recording`, `connecting`, `offline`, …
    pub state: String,
    /// Since when (ms).
    #[serde(default)]
    pub since_ms: i64,
    /// The tampering analysis sees now, if any (`tamper.covered`, …).
    #[serde(default)]
    pub tamper: Option<String>,
    /// Pictures dropped since the recorder started.
    #[serde(default)]
    pub pictures_dropped: u64,
}

/// Why a report is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The text is not a report note.
    #[error("not a custos report, line {line}: {reason}")]
    Malformed {
        /// The line of the note.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The signature is missing or wrong.
    #[error("the report's signature: {0}")]
    Signature(#[from] NoteError),
    /// The JSON does not parse.
    #[error("the report's JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The origin and sequence number of a report note, read before its
/// signature is checked (the origin says which key to check it with).
pub fn peek(note: &str) -> Result<(&str, u64), ReportError> {
    peek_head(
        note,
        HEADER,
        "the first line is custos-report/v1",
        "the third line is the sequence number",
    )
}

/// The origin and number of a note whose first three lines are `header`,
/// the log origin and a number, as the centre's notes all begin.
pub(crate) fn peek_head<'n>(
    note: &'n str,
    header: &str,
    header_reason: &'static str,
    number_reason: &'static str,
) -> Result<(&'n str, u64), ReportError> {
    let mut lines = note.split('\n');
    if lines.next() != Some(header) {
        return Err(ReportError::Malformed {
            line: 1,
            reason: header_reason,
        });
    }
    let origin = lines
        .next()
        .filter(|o| !o.is_empty())
        .ok_or(ReportError::Malformed {
            line: 2,
            reason: "the second line is the log origin",
        })?;
    let number =
        lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(ReportError::Malformed {
                line: 3,
                reason: number_reason,
            })?;
    Ok((origin, number))
}

/// Signs `health` as report number `seq` with the site's log key.
pub fn sign(health: &Health, seq: u64, key: &SigningKey) -> Result<String, ReportError> {
    let json = serde_json::to_string(health)?;
    let text = format!("{HEADER}\n{}\n{seq}\n{json}\n", key.verifier().name());
    Ok(sign_note(&text, key)?)
}

/// Checks a report note with the site's key and returns its sequence
/// number and content.
pub fn open(note: &str, key: &VerifierKey) -> Result<(u64, Health), ReportError> {
    let (origin, seq) = peek(note)?;
    if origin != key.name() {
        return Err(ReportError::Malformed {
            line: 2,
            reason: "the origin is not the key's name",
        });
    }
    let text = open_note(note, key)?;
    let json = text.split('\n').nth(3).ok_or(ReportError::Malformed {
        line: 4,
        reason: "the fourth line is the report's JSON",
    })?;
    if text.split('\n').nth(4) != Some("") || text.split('\n').count() != 5 {
        return Err(ReportError::Malformed {
            line: 5,
            reason: "the report's JSON is the last line",
        });
    }
    Ok((seq, serde_json::from_str(json)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_seed("archive-7.example/log", &[7; 32]).expect("key")
    }

    fn health() -> Health {
        Health {
            sent_ms: 1_796_540_000_000,
            version: "0.1.0".into(),
            cameras: vec![CameraHealth {
                id: "stacks".into(),
                name: "Stacks\nwith a newline".into(),
                state: "recording".into(),
                since_ms: 5,
                tamper: Some("tamper.covered".into()),
                pictures_dropped: 3,
            }],
            open_alerts: vec![("tamper.covered".into(), 1)],
            checkpoint: Some((42, 1_796_539_990_000)),
            last_segment_ms: Some(1_796_539_999_000),
            oldest_segment_ms: None,
            disk: Some((1 << 30, 5 << 30)),
            actions_done: vec![4],
            escrow: Some(EscrowHealth {
                pending_segments: 3,
                pending_bytes: 9_000_000,
                oldest_pending_ms: Some(1_796_539_000_000),
            }),
        }
    }

    #[test]
    fn a_report_round_trips_and_only_the_site_key_opens_it() {
        let note = sign(&health(), 17, &key()).expect("sign");
        assert_eq!(peek(&note).expect("peek"), ("archive-7.example/log", 17));
        assert_eq!(
            open(&note, &key().verifier()).expect("open"),
            (17, health())
        );
        let other = SigningKey::from_seed("archive-7.example/log", &[8; 32]).expect("key");
        assert!(matches!(
            open(&note, &other.verifier()),
            Err(ReportError::Signature(_))
        ));
    }

    #[test]
    fn a_changed_report_or_sequence_number_no_longer_verifies() {
        let note = sign(&health(), 17, &key()).expect("sign");
        let replayed = note.replacen("\n17\n", "\n18\n", 1);
        assert!(open(&replayed, &key().verifier()).is_err());
        let edited = note.replacen("recording", "offline__", 1);
        assert!(open(&edited, &key().verifier()).is_err());
        assert!(peek("hello\n").is_err());
        assert!(peek("custos-report/v1\norigin\nnot-a-number\n").is_err());
    }

    #[test]
    fn unknown_fields_from_a_newer_site_are_ignored() {
        let text =
            r#"{"sent_ms":1,"cameras":[{"id":"a","state":"offline","lens":"wide"}],"future":true}"#;
        let h: Health = serde_json::from_str(text).expect("parse");
        assert_eq!(h.cameras[0].state, "offline");
    }
}
