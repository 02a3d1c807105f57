//! The audit trail, read from the site's log itself (not from the index),
//! so what it shows is what the signed log holds: its entries newest first,
//! filtered by category, user or camera, and the log checked against its
//! latest checkpoint.

use custos_ledger::catalogue::kind;
use custos_ledger::note::{open_checkpoint, VerifierKey};
use custos_ledger::storage::{LogStorage, StorageError};
use custos_store::StoredCheckpoint;
use serde::Serialize;
use serde_json::Value;

/// Entries looked at per listing at most (the newest first), so one
/// listing's work stays bounded however long the log is.
pub const MAX_SCANNED: u64 = 200_000;

/// Entry types of each audit category (`views`, `logins`, `changes`,
/// `custody`); `None` for a name that is none of them.
pub fn category(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "views" => &[
            kind::FOOTAGE_VIEWED,
            kind::FOOTAGE_EXPORTED,
            kind::EVIDENCE_DOWNLOADED,
        ],
        "logins" => &[kind::AUTH_LOGIN, kind::AUTH_LOGIN_FAILED, kind::AUTH_LOGOUT],
        "changes" => &[
            kind::CONFIG_LOADED,
            kind::CONFIG_CHANGED,
            kind::USER_CREATED,
            kind::USER_CHANGED,
            kind::TOKEN_CREATED,
            kind::TOKEN_REVOKED,
            kind::SEGMENT_DELETED,
            kind::SEGMENT_HELD,
            kind::SEGMENT_RELEASED,
            kind::REGISTER_LOCATION,
            kind::REGISTER_PERSON,
            kind::REGISTER_ITEM,
            kind::REGISTER_IMPORT,
            kind::ALERT_CHANGED,
        ],
        "custody" => &[
            kind::CUSTODY_EVENT,
            kind::INVENTORY_STARTED,
            kind::INVENTORY_CLOSED,
        ],
        _ => return None,
    })
}

/// Which entries a listing shows.
#[derive(Debug)]
pub struct AuditFilter {
    /// Only entries of these types ([`category`]); `None` for every entry.
    pub kinds: Option<&'static [&'static str]>,
    /// Only entries naming this user (`user` or `by`).
    pub user: Option<String>,
    /// Only entries about this camera.
    pub camera: Option<String>,
    /// Most entries listed.
    pub limit: usize,
}

/// One entry as the audit list shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Its index in the log.
    index: u64,
    /// The entry, decoded.
    entry: Value,
}

/// `GET /api/v1/audit` body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditList {
    /// Newest first.
    entries: Vec<AuditEntry>,
    /// The log's size when read.
    log_size: u64,
    /// True when older entries were not looked at (see `MAX_SCANNED`).
    truncated: bool,
}

/// The entries of `log` that `filter` lets through, newest first; at most
/// [`MAX_SCANNED`] entries are looked at.
pub fn entries(log: &LogStorage, filter: &AuditFilter) -> Result<AuditList, StorageError> {
    let size = log.size();
    let mut entries = Vec::new();
    let mut index = size;
    while index > 0 && entries.len() < filter.limit && size - index < MAX_SCANNED {
        index -= 1;
        let bytes = log.entry(index)?;
        let Ok(entry) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let kind = entry["type"].as_str().unwrap_or_default();
        if filter.kinds.is_some_and(|t| !t.contains(&kind)) {
            continue;
        }
        if let Some(u) = &filter.user {
            if entry["user"].as_str() != Some(u) && entry["by"].as_str() != Some(u) {
                continue;
            }
        }
        if let Some(c) = &filter.camera {
            if entry["camera"].as_str() != Some(c) {
                continue;
            }
        }
        entries.push(AuditEntry { index, entry });
    }
    Ok(AuditList {
        truncated: index > 0 && entries.len() < filter.limit,
        entries,
        log_size: size,
    })
}

/// `GET /api/v1/log` and `POST /api/v1/log/verify` body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogStatus {
    /// Entries in the log.
    size: u64,
    /// The latest signed checkpoint (C2SP signed note), if any.
    checkpoint: Option<String>,
    /// The tree size it commits to.
    checkpoint_size: Option<u64>,
    /// When it was signed.
    checkpoint_ms: Option<i64>,
    /// The key it verifies with.
    verifier_key: String,
    /// Set by a verification: what was checked and the outcome.
    verified: Option<Verification>,
}

/// The outcome of `POST /api/v1/log/verify`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Verification {
    ok: bool,
    /// What was found, in plain words.
    findings: Vec<String>,
}

/// The state of `log` and of its latest checkpoint `stored`; with `verify`,
/// the checkpoint's signature is checked with `verifier` and the log's
/// first entries against the root it signs.
pub fn log_status(
    log: &LogStorage,
    stored: Option<StoredCheckpoint>,
    verifier: &VerifierKey,
    verify: bool,
) -> LogStatus {
    let size = log.size();
    let verified = verify.then(|| {
        let mut findings = Vec::new();
        let mut ok = true;
        match &stored {
            None => findings.push("no checkpoint has been signed yet".to_owned()),
            Some(cp) => match open_checkpoint(&cp.note, verifier) {
                Err(e) => {
                    ok = false;
                    findings.push(format!("the latest checkpoint does not verify: {e}"));
                }
                Ok(c) => {
                    findings.push(format!(
                        "the latest checkpoint is signed by {} and commits to {} entries",
                        verifier.short(),
                        c.size
                    ));
                    if c.size > size {
                        ok = false;
                        findings.push(format!(
                            "the log holds only {size} entries: it was truncated"
                        ));
                    } else {
                        match log.root(c.size) {
                            Ok(root) if root == c.root => findings.push(format!(
                                "the log's first {} entries hash to the signed root",
                                c.size
                            )),
                            Ok(_) => {
                                ok = false;
                                findings.push(format!(
                                    "the log's first {} entries do not hash to the signed root: it was rewritten",
                                    c.size
                                ));
                            }
                            Err(e) => {
                                ok = false;
                                findings.push(format!("the log cannot be read: {e}"));
                            }
                        }
                    }
                }
            },
        }
        Verification { ok, findings }
    });
    LogStatus {
        size,
        checkpoint_size: stored.as_ref().map(|c| c.tree_size),
        checkpoint_ms: stored.as_ref().map(|c| c.created_ms),
        checkpoint: stored.map(|c| c.note),
        verifier_key: verifier.to_string(),
        verified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_change_is_under_changes_and_no_kind_is_in_two_categories() {
        let changes = category("changes").expect("changes");
        // The settings changed through the API, and the file loaded.
        assert!(changes.contains(&kind::CONFIG_CHANGED));
        assert!(changes.contains(&kind::CONFIG_LOADED));
        let mut seen = std::collections::BTreeSet::new();
        for name in ["views", "logins", "changes", "custody"] {
            for k in category(name).expect("a category") {
                assert!(seen.insert(*k), "{k} is in two categories");
            }
        }
        assert_eq!(category("everything"), None);
    }
}
